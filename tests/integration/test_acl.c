/* SPDX-License-Identifier: BSD-3-Clause */
/* test_acl.c - a least-privilege Redis user: with exactly the rules of
 * docs/redis-acl.rules everything works (campaign, handover, observe,
 * queries, a database, many elections per connection); with any one rule
 * removed, the error names what is missing (LEADER_EAUTH), once. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define MAX_RULES 40

static char rules_text[1024];
static char *rules[MAX_RULES];
static int nrules;

/* The rules, word by word, from the file operators use. */
static void load_rules(void)
{
    FILE *f = fopen(LEADER_SOURCE_DIR "/docs/redis-acl.rules", "r");
    char *save = NULL;

    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(rules_text, sizeof rules_text, f));
    fclose(f);
    nrules = 0;
    for (char *w = strtok_r(rules_text, " \n", &save); w != NULL;
         w = strtok_r(NULL, " \n", &save)) {
        ASSERT_LT(nrules, MAX_RULES);
        rules[nrules++] = w;
    }
}

/* (Re)creates user "app" with password "pw" and the rules, but for the
 * one named skip (NULL: all of them). */
static void set_user(rfx_server *s, const char *skip)
{
    const char *argv[MAX_RULES + 6];
    redisContext *c = rfx_connect(s);
    redisReply *r;
    int n = 0;

    ASSERT_NOT_NULL(c);
    argv[n++] = "ACL";
    argv[n++] = "SETUSER";
    argv[n++] = "app";
    argv[n++] = "reset";
    argv[n++] = "on";
    argv[n++] = ">pw";
    for (int i = 0; i < nrules; i++)
        if (skip == NULL || strcmp(rules[i], skip) != 0)
            argv[n++] = rules[i];
    r = redisCommandArgv(c, n, argv, NULL);
    ASSERT_NOT_NULL(r);
    if (r->type == REDIS_REPLY_ERROR)
        FAIL("ACL SETUSER: %s", r->str);
    freeReplyObject(r);
    redisFree(c);
}

static void app_url(const rfx_server *s, int db, char *out, size_t len)
{
    snprintf(out, len, "redis://app:pw@127.0.0.1:%d/%d", rfx_port(s), db);
}

TEST(exactly_the_documented_rules_are_enough)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    leader_info info;
    leader_client_options co;
    leader_client *client;
    leader_options o;
    leader *many[4];
    char url[128], err[256];
    int first;

    load_rules();
    set_user(s, NULL);
    app_url(s, 1, url, sizeof url); /* SELECT too */
    world_init(&w);
    world_add(&w, url, "acl-all", 600, 100);
    world_add(&w, url, "acl-all", 600, 100);
    world_add(&w, url, "acl-all", 600, 100);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_OK(leader_observe(w.c[2].l));
    first = world_wait_leader(&w, 5000);
    ASSERT_GE(first, 0);
    ASSERT_EQ(leader_is_leader(w.c[first].l), 1);
    ASSERT_EQ(leader_current(w.c[2].l, &info), 1);
    ASSERT_STR_EQ(info.id, leader_id(w.c[first].l));
    ASSERT_OK(leader_new_term(w.c[first].l));
    sleep_ms(300); /* renewals under the narrow user */
    ASSERT_OK(leader_stop(w.c[first].l));
    ASSERT_EQ(world_wait_leader(&w, 3000), 1 - first);
    ASSERT(world_wait(&w, 2, LEADER_EVENT_CHANGED, 3, 3000) >= 3);
    ASSERT_EQ(world_count(&w, -1, LEADER_EVENT_ERROR), 0);
    world_check_log(&w);
    world_free(&w);

    /* A dead leadership released by (id, term). */
    {
        leader *l = new_handle(url, "acl-release", "dead-one", 600, 100, 0);
        ASSERT_EQ(leader_release_term(l, 7), 0);
        leader_free(l);
    }

    /* Many elections on one connection. */
    leader_client_options_init(&co);
    co.url = url;
    client = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(client);
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "acl-many-%d", i);
        leader_options_init(&o);
        o.key = key;
        o.ttl_ms = 600;
        many[i] = leader_client_add(client, &o, err, sizeof err);
        ASSERT_NOT_NULL(many[i]);
        ASSERT_OK(leader_elect(many[i]));
    }
    for (int i = 0; i < 300; i++) {
        int held = 0;
        for (int k = 0; k < 4; k++)
            held += leader_has_lease(many[k]);
        if (held == 4)
            break;
        sleep_ms(10);
    }
    for (int k = 0; k < 4; k++) {
        ASSERT_EQ(leader_has_lease(many[k]), 1);
        leader_free(many[k]);
    }
    leader_client_free(client);
    rfx_free(s);
}

/* The rule removed, and words the error must have. */
static const struct {
    const char *rule;
    const char *words;
} missing[] = {
    {"+ping", "+ping"},
    {"+select", "+select"},
    {"+get", "+get"},
    {"+pttl", "+pttl"},
    {"+eval", "+eval"},
    {"+evalsha", "+evalsha"},
    {"+subscribe", "+subscribe"},
    {"+set", "+set"},
    {"+incr", "+incr"},
    {"+pexpire", "+pexpire"},
    {"+publish", "+publish"},
    {"+time", "+time"},
    {"+del", "+del"},
    {"~leader:*", "~leader:*"},
    {"~{leader:*}:term", "~{leader:*}:term"},
    {"&leader:*", "&leader:*"},
};

/* An ERROR event of cand 0 with LEADER_EAUTH and words, and only one. */
static int has_error(struct world *w, const char *words)
{
    int found = 0;

    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n; i++)
        if (w->log[i].type == LEADER_EVENT_ERROR &&
            w->log[i].error == LEADER_EAUTH &&
            strstr(w->log[i].message, words) != NULL)
            found++;
    pthread_mutex_unlock(&w->lock);
    return found;
}

TEST(each_rule_removed_is_named)
{
    rfx_server *s = start_redis(NULL);
    char url[128], key[64], *r;

    load_rules();
    app_url(s, 1, url, sizeof url);
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        struct world w;
        leader *l;
        int found = 0;

        set_user(s, missing[i].rule);
        /* EVALSHA must not find a script an earlier case loaded. */
        free(rfx_command(s, "SCRIPT FLUSH"));
        snprintf(key, sizeof key, "acl-missing-%zu", i);
        world_init(&w);
        world_add(&w, url, key, 300, 50);
        l = w.c[0].l;
        if (strcmp(missing[i].rule, "+pttl") == 0) {
            /* PTTL runs when someone else holds the key. */
            redisContext *c = rfx_connect(s);
            redisReply *rr = redisCommand(c, "SELECT 1");
            freeReplyObject(rr);
            rr = redisCommand(c, "SET %s someone-else PX 60000", leader_key(l));
            freeReplyObject(rr);
            redisFree(c);
        }
        if (strcmp(missing[i].rule, "+incr") == 0) {
            /* INCR runs on a counter that exists (else it is seeded from
             * TIME). */
            redisContext *c = rfx_connect(s);
            redisReply *rr = redisCommand(c, "SELECT 1");
            freeReplyObject(rr);
            rr = redisCommand(c, "SET {%s}:term 5", leader_key(l));
            freeReplyObject(rr);
            redisFree(c);
        }
        if (strcmp(missing[i].rule, "+del") == 0) {
            /* DEL runs only in a release of a leadership that holds the
             * key. */
            redisContext *c = rfx_connect(s);
            redisReply *rr = redisCommand(c, "SELECT 1");
            int rc;

            freeReplyObject(rr);
            rr = redisCommand(c, "SET %s %s PX 60000", leader_key(l),
                              leader_id(l));
            freeReplyObject(rr);
            rr = redisCommand(c, "SET {%s}:term 3", leader_key(l));
            freeReplyObject(rr);
            redisFree(c);
            rc = leader_release_term(l, 3);
            ASSERT_EQ(rc, LEADER_EAUTH);
            if (strstr(leader_errmsg(l), missing[i].words) == NULL)
                FAIL("without %s: \"%s\"", missing[i].rule, leader_errmsg(l));
            world_free(&w);
            continue;
        }
        ASSERT_OK(leader_elect(l));
        for (int t = 0; t < 300 && !found; t++) {
            found = has_error(&w, missing[i].words);
            sleep_ms(10);
        }
        if (!found) {
            world_dump(&w);
            FAIL("without %s: no ERROR naming \"%s\"", missing[i].rule,
                 missing[i].words);
        }
        /* Tries go on with backoff; the report is not repeated within a
         * streak. (Without +pexpire each acquire succeeds and each renew
         * fails: a new streak per leadership.) */
        sleep_ms(400);
        ASSERT_LE(has_error(&w, missing[i].words),
                  1 + world_count(&w, 0, LEADER_EVENT_ELECTED));
        fprintf(stderr, "# without %s: ok\n", missing[i].rule);
        world_free(&w);
    }
    r = rfx_command(s, "ACL DELUSER app");
    free(r);
    rfx_free(s);
}

TEST(queries_name_the_missing_rule)
{
    rfx_server *s = start_redis(NULL);
    char url[128];
    leader_info info;
    leader *l;

    load_rules();
    app_url(s, 0, url, sizeof url);
    set_user(s, "+get");
    l = new_handle(url, "acl-query", NULL, 600, 100, 0);
    ASSERT_EQ(leader_is_leader(l), LEADER_EAUTH);
    ASSERT_NOT_NULL(strstr(leader_errmsg(l), "+get"));
    ASSERT_EQ(leader_current(l, &info), LEADER_EAUTH);
    ASSERT_NOT_NULL(strstr(leader_errmsg(l), "read script"));
    leader_free(l);
    set_user(s, "~{leader:*}:term");
    l = new_handle(url, "acl-query", NULL, 600, 100, 0);
    ASSERT_EQ(leader_current(l, &info), LEADER_EAUTH);
    ASSERT_NOT_NULL(strstr(leader_errmsg(l), "~{leader:*}:term"));
    leader_free(l);
    rfx_free(s);
}

TEST(password_given_apart_from_the_url)
{
    rfx_server *s = start_redis(NULL);
    leader_client_options co;
    leader_client *c;
    leader_options o;
    leader_info info;
    char url[128], err[256];
    leader *l;

    load_rules();
    set_user(s, NULL);
    snprintf(url, sizeof url, "redis://app@127.0.0.1:%d", rfx_port(s));
    leader_options_init(&o);
    o.url = url;
    ASSERT_NULL(leader_new(&o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "no password"));
    o.password = "";
    ASSERT_NULL(leader_new(&o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "password"));
    o.password = "pw";
    l = leader_new(&o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_current(l, &info), 0);
    leader_free(l);
    /* It replaces the URL's; a wrong one is refused by the server. */
    snprintf(url, sizeof url, "redis://app:wrong@127.0.0.1:%d", rfx_port(s));
    l = leader_new(&o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_current(l, &info), 0);
    leader_free(l);
    o.password = "not-pw";
    l = leader_new(&o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_current(l, &info), LEADER_EAUTH);
    ASSERT_NOT_NULL(strstr(leader_errmsg(l), "WRONGPASS"));
    ASSERT_NULL(strstr(leader_errmsg(l), "not-pw"));
    leader_free(l);
    /* A client's, not a handle's. */
    leader_client_options_init(&co);
    co.url = url;
    co.password = "pw";
    c = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(c);
    leader_options_init(&o);
    o.password = "pw";
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "client's"));
    leader_client_free(c);
    rfx_free(s);
}
