/* SPDX-License-Identifier: BSD-3-Clause */
/* test_quorum.c - quorum mode over real, independent redis-servers, seen
 * from the transport (src/io/lio_mux.c) down: a leader is elected on a
 * majority with a term committed to a majority; it keeps leading while a
 * minority is down and steps down when a majority is; a server that
 * restarted empty counts for nothing until every lease it lost is over;
 * terms grow across leaders and lost counters. */
#define _GNU_SOURCE

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "io/lio_mux.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"
#include "util/lu_clock.h"
#include "util/lu_url.h"

#define KEY_HEX "00112233445566778899aabbccddeeff00112233"
#define HOLDER  "leader:" KEY_HEX
#define COUNTER "{leader:" KEY_HEX "}:term"
#define RUNKEY  "{leader:" KEY_HEX "}:run"
#define NMAX    5

struct qcand {
    struct lio_mux mux;
    struct lio_names names;
    struct lio_slot *e;
    char id[16];
    int leading;
    uint64_t term;
    int64_t elected_at, revoked_at;
    int elections, revocations;
};

static void on_event(void *owner, const struct lc_event *ev,
                     const struct lc_output *step)
{
    struct qcand *c = owner;

    (void) step;
    if (ev == NULL)
        return;
    if (ev->kind == LC_EV_ELECTED) {
        ASSERT(!c->leading);
        c->leading = 1;
        c->term = ev->term;
        c->elected_at = lu_now_ms();
        c->elections++;
    } else if (ev->kind == LC_EV_REVOKED) {
        c->leading = 0;
        c->revoked_at = lu_now_ms();
        c->revocations++;
    }
}

struct quorum {
    rfx_server *s[NMAX];
    int n;
    struct lu_url urls[NMAX];
    proxy_ctl proxy[NMAX]; /* pid 0: server i is reached directly */
};

static void quorum_start(struct quorum *q, int n)
{
    char err[128];

    memset(q, 0, sizeof *q);
    q->n = n;
    for (int i = 0; i < n; i++)
        q->s[i] = start_redis(NULL);
    for (int i = 0; i < n; i++)
        if (lu_url_parse(rfx_url(q->s[i]), &q->urls[i], err, sizeof err) != 0)
            FAIL("%s: %s", rfx_url(q->s[i]), err);
}

static void quorum_free(struct quorum *q)
{
    for (int i = 0; i < q->n; i++) {
        if (q->proxy[i].pid > 0)
            proxy_stop(&q->proxy[i]);
        rfx_free(q->s[i]);
    }
}

/* Server i is reached through a proxy that delays each message by
 * delay_ms. */
static void quorum_proxy(struct quorum *q, int i, long delay_ms)
{
    char url[64], err[128];

    ASSERT_OK(proxy_start(&q->proxy[i], rfx_port(q->s[i]), delay_ms));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", q->proxy[i].port);
    if (lu_url_parse(url, &q->urls[i], err, sizeof err) != 0)
        FAIL("%s: %s", url, err);
}

static void cand_start_wait(struct qcand *c, struct quorum *q, const char *id,
                            long ttl, long wait)
{
    struct lio_slot_config cfg = {c->id, &c->names, ttl, wait, 7, 0, 0};
    int rc;

    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    ASSERT_OK(lio_mux_init_servers(&c->mux, q->urls, (size_t) q->n, 9));
    lio_names_make(&c->names, KEY_HEX);
    c->e = lio_mux_add(&c->mux, &cfg, on_event, c, &rc);
    ASSERT_NOT_NULL(c->e);
    lio_mux_input(&c->mux, c->e, LC_IN_START, lu_now_ms());
}

static void cand_start(struct qcand *c, struct quorum *q, const char *id,
                       long ttl)
{
    cand_start_wait(c, q, id, ttl, 100);
}

/* Runs every candidate's loop for ms, or until until() holds; returns
 * whether it did. At no moment do two candidates lead. */
static int run(struct qcand **c, int n, long ms,
               int (*until)(struct qcand **, int))
{
    int64_t end = lu_now_ms() + ms;

    while (lu_now_ms() < end) {
        struct pollfd p[4];
        int64_t now = lu_now_ms();
        long wait = end - now;
        int leaders = 0;

        for (int i = 0; i < n; i++) {
            lc_time d = lio_mux_deadline(&c[i]->mux);
            p[i] = (struct pollfd){lio_mux_fd(&c[i]->mux), POLLIN, 0};
            if (d != LC_NEVER && d - now < wait)
                wait = d - now;
        }
        poll(p, (nfds_t) n, wait > 0 ? (int) (wait < 20 ? wait : 20) : 0);
        for (int i = 0; i < n; i++) {
            lio_mux_process(&c[i]->mux, lu_now_ms());
            leaders += c[i]->leading;
        }
        ASSERT_LE(leaders, 1);
        if (until != NULL && until(c, n))
            return 1;
    }
    return 0;
}

static int someone_leads(struct qcand **c, int n)
{
    for (int i = 0; i < n; i++)
        if (c[i]->leading)
            return 1;
    return 0;
}

static int nobody_leads(struct qcand **c, int n)
{
    return !someone_leads(c, n);
}

static struct quorum *watched;

/* Every server of the watched quorum holds the leader's key. */
static int held_everywhere(struct qcand **c, int n)
{
    int held = 0;

    (void) n;
    for (int i = 0; i < watched->n; i++) {
        char *h = rfx_command(watched->s[i], "GET %s", HOLDER);
        held += h != NULL && strcmp(h, c[0]->id) == 0;
        free(h);
    }
    return held == watched->n;
}

/* A second leadership: B's first, or A's second. */
static int elected_again(struct qcand **c, int n)
{
    return c[0]->elections > 1 || (n > 1 && c[1]->elections > 0);
}

static struct qcand *leader_of(struct qcand **c, int n)
{
    for (int i = 0; i < n; i++)
        if (c[i]->leading)
            return c[i];
    return NULL;
}

/* What server s holds for the election: the counter as the run that
 * wrote it, "" when that is not the server's current run. */
static void server_term(rfx_server *s, char *out, size_t cap)
{
    char *run = rfx_command(s, "GET %s", RUNKEY);
    char *info = rfx_command(s, "INFO server");
    char *counter = rfx_command(s, "GET %s", COUNTER);
    const char *at = info != NULL ? strstr(info, "run_id:") : NULL;

    out[0] = '\0';
    if (run != NULL && at != NULL && counter != NULL &&
        strncmp(at + 7, run, strlen(run)) == 0)
        snprintf(out, cap, "%s", counter);
    free(run);
    free(info);
    free(counter);
}

TEST(elected_on_a_majority_with_the_term_committed_to_a_majority)
{
    struct quorum q;
    struct qcand a, b, *c[2] = {&a, &b};
    struct qcand *l;
    char want[24], got[24];
    int holding = 0;

    quorum_start(&q, 3);
    cand_start(&a, &q, "cand-a", 2000);
    cand_start(&b, &q, "cand-b", 2000);
    ASSERT(run(c, 2, 5000, someone_leads));
    l = leader_of(c, 2);
    run(c, 2, 300, NULL); /* the other one tries, and follows */
    ASSERT_EQ(leader_of(c, 2), l);
    snprintf(want, sizeof want, "%llu", (unsigned long long) l->term);
    for (int i = 0; i < q.n; i++) {
        char *h = rfx_command(q.s[i], "GET %s", HOLDER);
        server_term(q.s[i], got, sizeof got);
        holding += h != NULL && strcmp(h, l->id) == 0 && strcmp(got, want) == 0;
        free(h);
    }
    ASSERT_GE(holding, 2);
    /* The first term of an election is seeded from the servers' clocks,
     * as a single server's is: above any term an earlier counter reached. */
    ASSERT_GT(l->term, 1700000000000ULL);
    lio_mux_free(&a.mux);
    lio_mux_free(&b.mux);
    quorum_free(&q);
}

TEST(a_leader_keeps_leading_while_a_minority_is_down)
{
    struct quorum q;
    struct qcand a, *c[1] = {&a};

    quorum_start(&q, 5);
    watched = &q;
    /* A ttl long enough that the fixture's blocking calls, while nobody
     * runs the loop, do not cost the lease by themselves. */
    cand_start(&a, &q, "cand-a", 2000);
    ASSERT(run(c, 1, 5000, someone_leads));
    /* The acquire may have reached only a majority; the renewals take the
     * key on every server that is free. */
    ASSERT(run(c, 1, 2000, held_everywhere));
    ASSERT_OK(rfx_kill(q.s[0]));
    ASSERT_OK(rfx_pause(q.s[3])); /* frozen: its replies never come */
    /* Renewed every ttl/3 on the three left: three leases long. */
    run(c, 1, 6000, NULL);
    ASSERT_EQ(a.leading, 1);
    ASSERT_EQ(a.revocations, 0);
    ASSERT_EQ(a.elections, 1);
    ASSERT_OK(rfx_resume(q.s[3]));
    lio_mux_free(&a.mux);
    quorum_free(&q);
}

TEST(a_leader_steps_down_at_its_deadline_when_a_majority_is_down)
{
    struct quorum q;
    struct qcand a, *c[1] = {&a};
    int64_t killed;

    quorum_start(&q, 3);
    cand_start(&a, &q, "cand-a", 900);
    ASSERT(run(c, 1, 5000, someone_leads));
    ASSERT_OK(rfx_kill(q.s[1]));
    ASSERT_OK(rfx_kill(q.s[2]));
    killed = lu_now_ms();
    ASSERT(run(c, 1, 3000, nobody_leads));
    /* By its own clock, within the lease of its last renewal. */
    ASSERT_LE(a.revoked_at - killed, 900);
    lio_mux_free(&a.mux);
    quorum_free(&q);
}

/* The case the young-server rule is for. A leads on {0, 1} while server 2
 * is down; then server 0 restarts empty and server 2 comes back empty. B
 * gets both of their grants at once, and A's renewals get only server 1.
 * Counting those grants would elect B while A's lease still runs: every
 * election must wait until each lease the two restarted servers lost is
 * over, and A steps down before then. */
TEST(a_server_that_restarted_empty_counts_for_nothing_while_young)
{
    struct quorum q;
    struct qcand a, b, *c[2] = {&a, &b};
    struct qcand *next;
    int64_t restarted;
    uint64_t old_term;

    quorum_start(&q, 3);
    ASSERT_OK(rfx_kill(q.s[2]));
    cand_start(&a, &q, "cand-a", 1500);
    ASSERT(run(c, 1, 5000, someone_leads));
    cand_start(&b, &q, "cand-b", 1500);
    run(c, 2, 300, NULL);
    ASSERT_EQ(a.leading, 1);
    old_term = a.term;
    ASSERT_OK(rfx_restart(q.s[0], NULL));
    ASSERT_OK(rfx_restart(q.s[2], NULL));
    restarted = lu_now_ms();
    ASSERT(run(c, 2, 8000, elected_again));
    next = b.elections > 0 ? &b : &a;
    ASSERT_EQ(a.revocations, 1);
    ASSERT_GE(next->elected_at, a.revoked_at);
    ASSERT_GE(next->elected_at - restarted, 1500);
    /* Two of the three counters were lost: the term is seeded, and still
     * above the one before. */
    ASSERT_GT(next->term, old_term);
    lio_mux_free(&a.mux);
    lio_mux_free(&b.mux);
    quorum_free(&q);
}

/* ---- through the public API ---- */

static void urls_of(struct quorum *q, const char *urls[NMAX + 1])
{
    for (int i = 0; i < q->n; i++)
        urls[i] = rfx_url(q->s[i]);
    urls[q->n] = NULL;
}

static struct cand *add_quorum_cand(struct world *w, const char *const *urls,
                                    const char *key, long ttl)
{
    leader_options o;

    leader_options_init(&o);
    o.urls = urls;
    o.key = key;
    o.ttl_ms = ttl;
    o.wait_ms = ttl;
    return world_add_opts(w, &o);
}

/* Three handles over three servers: one leads; its stop releases on every
 * server, and another is elected at once, not a ttl later, with a higher
 * term. */
TEST(handles_hand_over_on_stop_through_the_public_api)
{
    struct quorum q;
    struct world w;
    const char *urls[NMAX + 1];
    struct logged first, second;
    int l, next;
    int64_t stopped;

    quorum_start(&q, 3);
    urls_of(&q, urls);
    world_init(&w);
    for (int i = 0; i < 3; i++)
        add_quorum_cand(&w, urls, "quorum-api", 5000);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(leader_elect(w.c[i].l));
    l = world_wait_leader(&w, 10000);
    ASSERT_GE(l, 0);
    ASSERT_EQ(leader_is_leader(w.c[l].l), 1);
    ASSERT_EQ(leader_is_leader(w.c[(l + 1) % 3].l), 0);
    world_last(&w, l, LEADER_EVENT_ELECTED, &first);
    stopped = now_ms();
    ASSERT_OK(leader_stop(w.c[l].l));
    ASSERT_EQ(world_wait(&w, -1, LEADER_EVENT_ELECTED, 2, 4000), 2);
    ASSERT_GE(world_last(&w, -1, LEADER_EVENT_ELECTED, &second), 0);
    next = second.cand;
    ASSERT_NE(next, l);
    /* Well under the ttl of 5 s that a key left behind would cost. */
    ASSERT_LT(second.at_ms - stopped, 2500);
    ASSERT_GT(second.term, first.term);
    world_check_log(&w);
    world_free(&w);
    quorum_free(&q);
}

/* Many elections over one client, one pipeline per server: each is led,
 * and all keep leading while one of three servers is down. */
TEST(a_client_leads_many_elections_over_a_quorum)
{
    enum { N = 40 };
    struct quorum q;
    const char *urls[NMAX + 1];
    leader_client_options co;
    leader_client *client;
    leader *h[N];
    char err[256];
    int64_t end;
    int leading;

    quorum_start(&q, 3);
    urls_of(&q, urls);
    leader_client_options_init(&co);
    co.urls = urls;
    client = leader_client_new(&co, err, sizeof err);
    if (client == NULL)
        FAIL("leader_client_new: %s", err);
    for (int i = 0; i < N; i++) {
        leader_options o;
        char key[32];
        leader_options_init(&o);
        snprintf(key, sizeof key, "many-%d", i);
        o.key = key;
        o.ttl_ms = 3000;
        h[i] = leader_client_add(client, &o, err, sizeof err);
        if (h[i] == NULL)
            FAIL("leader_client_add: %s", err);
        ASSERT_OK(leader_elect(h[i]));
    }
    end = now_ms() + 10000;
    do {
        leading = 0;
        for (int i = 0; i < N; i++)
            leading += leader_has_lease(h[i]) == 1;
        if (leading < N)
            sleep_ms(20);
    } while (leading < N && now_ms() < end);
    ASSERT_EQ(leading, N);
    sleep_ms(500); /* the renewals take the key on every server */
    ASSERT_OK(rfx_kill(q.s[1]));
    sleep_ms(4000); /* more than a ttl */
    leading = 0;
    for (int i = 0; i < N; i++)
        leading += leader_has_lease(h[i]) == 1;
    ASSERT_EQ(leading, N);
    for (int i = 0; i < N; i++)
        leader_free(h[i]);
    leader_client_free(client);
    quorum_free(&q);
}

/* ---- bad servers: a clear error, never a false ELECTED ---- */

/* A free loopback port: bound, then closed. */
static int closed_port(void)
{
    rfx_server *s = start_redis(NULL);
    int port = rfx_port(s);

    rfx_free(s);
    return port;
}

static struct logged wait_error(struct world *w, struct cand *c)
{
    struct logged e;

    ASSERT_GE(world_wait(w, c->index, LEADER_EVENT_ERROR, 1, 8000), 1);
    world_last(w, c->index, LEADER_EVENT_ERROR, &e);
    return e;
}

/* Whether c reports an error of code within ms. */
static int saw_error(struct world *w, struct cand *c, int code, long ms)
{
    int64_t end = now_ms() + ms;

    for (int k = 1; now_ms() < end; k++) {
        struct logged e;
        if (world_wait(w, c->index, LEADER_EVENT_ERROR, k, end - now_ms()) < k)
            return 0;
        world_last(w, c->index, LEADER_EVENT_ERROR, &e);
        if (e.error == code)
            return 1;
    }
    return 0;
}

TEST(a_majority_unreachable_is_an_error_and_no_election)
{
    struct quorum q;
    struct world w;
    char u1[64], u2[64];
    const char *urls[4];
    struct logged e;
    struct cand *c;

    quorum_start(&q, 1);
    snprintf(u1, sizeof u1, "redis://127.0.0.1:%d", closed_port());
    snprintf(u2, sizeof u2, "redis://127.0.0.1:%d", closed_port());
    urls[0] = rfx_url(q.s[0]);
    urls[1] = u1;
    urls[2] = u2;
    urls[3] = NULL;
    world_init(&w);
    c = add_quorum_cand(&w, urls, "quorum-unreachable", 1000);
    ASSERT_OK(leader_elect(c->l));
    e = wait_error(&w, c);
    ASSERT_EQ(e.error, LEADER_ECONN);
    sleep_ms(1500);
    ASSERT_EQ(world_count(&w, c->index, LEADER_EVENT_ELECTED), 0);
    world_free(&w);
    quorum_free(&q);
}

TEST(a_key_of_the_wrong_type_on_a_majority_is_reported)
{
    struct quorum q;
    struct world w;
    const char *urls[NMAX + 1];
    struct cand *c;

    quorum_start(&q, 3);
    urls_of(&q, urls);
    world_init(&w);
    c = add_quorum_cand(&w, urls, "quorum-wrongtype", 1000);
    /* A list where the holder key should be, on two of three. */
    for (int i = 0; i < 2; i++) {
        char *r = rfx_command(q.s[i], "LPUSH %s x", leader_key(c->l));
        free(r);
    }
    ASSERT_OK(leader_elect(c->l));
    /* Reported as what it is, whatever else a loaded machine reports
     * first (a connect that took too long). */
    ASSERT(saw_error(&w, c, LEADER_EWRONGTYPE, 8000));
    sleep_ms(500);
    ASSERT_EQ(world_count(&w, c->index, LEADER_EVENT_ELECTED), 0);
    world_free(&w);
    quorum_free(&q);
}

/* A server where INFO is not allowed cannot tell its age: it counts for
 * nothing, and the error names the permission it lacks. */
TEST(a_server_that_refuses_info_counts_for_nothing)
{
    struct quorum q;
    struct world w;
    const char *urls[NMAX + 1];
    struct logged e;
    struct cand *c;

    quorum_start(&q, 3);
    urls_of(&q, urls);
    for (int i = 0; i < 2; i++)
        free(rfx_command(q.s[i], "ACL SETUSER default -info"));
    world_init(&w);
    c = add_quorum_cand(&w, urls, "quorum-noinfo", 1000);
    ASSERT_OK(leader_elect(c->l));
    e = wait_error(&w, c);
    ASSERT_EQ(e.error, LEADER_EAUTH);
    ASSERT(strstr(e.message, "+info") != NULL);
    sleep_ms(1500);
    ASSERT_EQ(world_count(&w, c->index, LEADER_EVENT_ELECTED), 0);
    world_free(&w);
    quorum_free(&q);
}

/* A grant that comes back after its acquire was decided lost holds a key
 * nobody else releases: the same candidate's next tries would extend it
 * ("the key is ours"), and candidates could each keep a few servers, none
 * a majority. Here servers 0 and 1 hold another's key and server 2 is
 * frozen: a notification makes A acquire, 0 and 1 refuse, and server 2's
 * grant only comes once it thaws. It must be released at once. */
TEST(a_grant_after_a_lost_acquire_is_released)
{
    struct quorum q;
    struct qcand a, *c[1] = {&a};
    char *h;

    quorum_start(&q, 3);
    for (int i = 0; i < 2; i++)
        free(rfx_command(q.s[i], "SET %s other PX 30000", HOLDER));
    cand_start(&a, &q, "cand-a", 1000);
    run(c, 1, 1500, NULL); /* connected to all three, following */
    ASSERT_EQ(a.leading, 0);
    ASSERT_OK(rfx_pause(q.s[2]));
    /* The notification link is on server 0, the first of the list. */
    free(rfx_command(q.s[0], "PUBLISH %s:events %s", HOLDER,
                     "released 5 other"));
    run(c, 1, 300, NULL);
    ASSERT_OK(rfx_resume(q.s[2]));
    run(c, 1, 300, NULL);
    h = rfx_command(q.s[2], "GET %s", HOLDER);
    ASSERT_NOT_NULL(h);
    ASSERT_STR_EQ(h, "(nil)");
    free(h);
    ASSERT_EQ(a.leading, 0);
    lio_mux_free(&a.mux);
    quorum_free(&q);
}

/* The first "elected" message on sub, "" on none within a second each.
 * Releases come before it: on servers still young, the first acquires
 * count for nothing and give their grants back. */
static void next_elected(redisContext *sub, char *out, size_t cap)
{
    for (int i = 0; i < 20; i++) {
        redisReply *r = NULL;
        int got = redisGetReply(sub, (void **) &r) == REDIS_OK && r != NULL &&
                  r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                  r->element[2]->type == REDIS_REPLY_STRING;

        out[0] = '\0';
        if (got)
            snprintf(out, cap, "%s", r->element[2]->str);
        freeReplyObject(r);
        if (!got || strncmp(out, "elected ", 8) == 0)
            return;
    }
}

TEST(a_won_term_is_told_on_every_server)
{
    struct quorum q;
    struct qcand a, *c[1] = {&a};
    redisContext *sub[3];
    struct timeval second = {1, 0};
    char want[64], got[64];

    quorum_start(&q, 3);
    /* Server 2 is held by someone else: the term is neither granted nor
     * committed there, yet its subscribers hear of it. */
    free(rfx_command(q.s[2], "SET %s other PX 30000", HOLDER));
    for (int i = 0; i < 3; i++) {
        sub[i] = rfx_connect(q.s[i]);
        ASSERT_NOT_NULL(sub[i]);
        redisSetTimeout(sub[i], second);
        freeReplyObject(redisCommand(sub[i], "SUBSCRIBE %s:events", HOLDER));
    }
    cand_start(&a, &q, "cand-a", 2000);
    ASSERT(run(c, 1, 5000, someone_leads));
    snprintf(want, sizeof want, "elected %llu cand-a",
             (unsigned long long) a.term);
    for (int i = 0; i < 3; i++) {
        next_elected(sub[i], got, sizeof got);
        ASSERT_STR_EQ(got, want);
        redisFree(sub[i]);
    }
    lio_mux_free(&a.mux);
    quorum_free(&q);
}

static struct qcand *watched_b;

static int b_waits_long(struct qcand **c, int n)
{
    (void) c;
    (void) n;
    return lc_deadline(lio_slot_core(watched_b->e)) - lu_now_ms() > 1000;
}

/* Server 0 frozen: its notification link hears nothing and it answers no
 * probe, yet the follower hears the leader's release from the others and
 * takes over at once: not when the key would have expired, nor after its
 * probe to server 0 timed out. */
TEST(a_release_is_heard_from_every_server)
{
    struct quorum q;
    struct qcand a, b, *c[2] = {&a, &b};
    int64_t stopped;

    quorum_start(&q, 3);
    cand_start(&a, &q, "cand-a", 2000);
    ASSERT(run(c, 1, 5000, someone_leads));
    /* b tries every 1.5 s, or when the key's holder lets it go. */
    cand_start_wait(&b, &q, "cand-b", 2000, 1500);
    /* b follows, subscribed on every server, which are no longer young
     * to it (up to a second after it asked their uptime). */
    run(c, 2, 2500, NULL);
    ASSERT_EQ(b.leading, 0);
    /* Right after one of b's tries: its next is a second or more away. */
    watched_b = &b;
    ASSERT(run(c, 2, 3000, b_waits_long));
    ASSERT_OK(rfx_pause(q.s[0]));
    lio_mux_input(&a.mux, a.e, LC_IN_STOP, lu_now_ms());
    stopped = lu_now_ms();
    /* The key would expire between 1.3 and 2 s after the stop (a renews
     * every ttl/3); b probes only then without a notification. */
    ASSERT(run(c, 2, 1000, someone_leads));
    ASSERT_EQ(b.leading, 1);
    ASSERT_LT(b.elected_at - stopped, 300);
    ASSERT_GT(b.term, a.term);
    ASSERT_OK(rfx_resume(q.s[0]));
    lio_mux_free(&a.mux);
    lio_mux_free(&b.mux);
    quorum_free(&q);
}

static struct qcand *watched_info;

/* INFO asked on server 2, not answered yet. */
static int info_asked(struct qcand **c, int n)
{
    (void) c;
    (void) n;
    return watched_info->mux.session.qs[2].info_due != 0;
}

/* Server 2's connection dies silently once INFO is on its way (a proxy
 * that passes nothing more on it, without closing it), while servers 0
 * and 1 elect the candidate. INFO's deadline gives the connection up and
 * a new one makes server 2 usable: the leader then keeps leading when
 * server 1 dies. Without the deadline server 2 would wait for the reply
 * for good, and the leader would step down with server 1. */
TEST(a_server_whose_info_never_answers_is_asked_again)
{
    struct quorum q;
    struct qcand a, *c[1] = {&a};

    quorum_start(&q, 3);
    quorum_proxy(&q, 2, 100);
    cand_start(&a, &q, "cand-a", 2000);
    watched_info = &a;
    ASSERT(run(c, 1, 3000, info_asked));
    ASSERT_OK(proxy_freeze(&q.proxy[2]));
    ASSERT(run(c, 1, 5000, someone_leads));
    run(c, 1, 3000, NULL); /* server 2 asked again, its key taken */
    ASSERT_OK(rfx_kill(q.s[1]));
    run(c, 1, 3000, NULL);
    ASSERT_EQ(a.leading, 1);
    ASSERT_EQ(a.revocations, 0);
    lio_mux_free(&a.mux);
    quorum_free(&q);
}
