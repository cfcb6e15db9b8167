/* SPDX-License-Identifier: BSD-3-Clause */
/* test_quorum_query.c - leader_is_leader(), leader_current() and
 * leader_release_term() in quorum mode, against three real servers whose
 * holder keys and term counters the test writes by hand (names as in
 * docs/protocol.md): each answer must be the majority's, also with a
 * server stopped, and an error when no majority answers.
 *
 * The handle is made with options.urls once the transport accepts a
 * quorum. Until then (lp_quorum_available() 0) the queries alone are
 * tested: a one-server handle whose client is given the other servers'
 * URLs, which only the query connections read (it never campaigns). */
#include "util/fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leader_int.h"
#include "redis_fixture.h"

#define N 3

struct quorum {
    rfx_server *s[N];
    leader *l;
    char holder[64];  /* leader:<sha1hex> */
    char counter[80]; /* {leader:<sha1hex>}:term */
};

static void start(struct quorum *q, const char *id)
{
    const char *urls[N + 1];
    leader_options o;
    char err[512];

    RFX_SKIP_IF_UNAVAILABLE();
    memset(q, 0, sizeof *q);
    for (int i = 0; i < N; i++) {
        q->s[i] = rfx_start(NULL);
        ASSERT_NOT_NULL(q->s[i]);
        urls[i] = rfx_url(q->s[i]);
    }
    urls[N] = NULL;
    leader_options_init(&o);
    o.key = "quorum-query";
    o.id = id;
    if (lp_quorum_available()) {
        o.urls = urls;
        q->l = leader_new(&o, err, sizeof err);
        if (q->l == NULL)
            FAIL("leader_new over %d servers: %s", N, err);
    } else {
        o.url = urls[0];
        q->l = leader_new(&o, err, sizeof err);
        if (q->l == NULL)
            FAIL("leader_new: %s", err);
        for (int i = 1; i < N; i++)
            ASSERT_OK(
                lu_url_parse(urls[i], &q->l->client->urls[i], err, sizeof err));
        q->l->client->nurls = N;
    }
    snprintf(q->holder, sizeof q->holder, "%s", leader_key(q->l));
    snprintf(q->counter, sizeof q->counter, "{%s}:term", q->holder);
}

static void finish(struct quorum *q)
{
    leader_free(q->l);
    for (int i = 0; i < N; i++)
        rfx_free(q->s[i]);
}

static void expect_reply(char *r, const char *want)
{
    if (r == NULL || strcmp(r, want) != 0)
        FAIL("Redis answered \"%s\", wanted \"%s\"", r ? r : "(none)", want);
    free(r);
}

/* Server i: holder id (NULL: none) with ttl_ms, and counter term (0:
 * none). */
static void set(struct quorum *q, int i, const char *id, long ttl_ms,
                unsigned long long term)
{
    if (id != NULL)
        expect_reply(
            rfx_command(q->s[i], "SET %s %s PX %ld", q->holder, id, ttl_ms),
            "OK");
    else
        free(rfx_command(q->s[i], "DEL %s", q->holder));
    if (term != 0)
        expect_reply(rfx_command(q->s[i], "SET %s %llu", q->counter, term),
                     "OK");
    else
        free(rfx_command(q->s[i], "DEL %s", q->counter));
}

TEST(is_leader_takes_a_majority)
{
    struct quorum q;

    start(&q, "me");
    ASSERT_EQ(leader_is_leader(q.l), 0); /* nobody anywhere */
    set(&q, 0, "me", 60000, 5);
    ASSERT_EQ(leader_is_leader(q.l), 0); /* one of three */
    set(&q, 2, "me", 60000, 5);
    ASSERT_EQ(leader_is_leader(q.l), 1); /* two of three */
    set(&q, 1, "other", 60000, 6);
    ASSERT_EQ(leader_is_leader(q.l), 1);
    set(&q, 0, "other", 60000, 6);
    ASSERT_EQ(leader_is_leader(q.l), 0); /* the other has two */
    ASSERT_STR_EQ(leader_errmsg(q.l), "");
    finish(&q);
}

TEST(current_reports_a_holder_of_a_majority_with_their_highest_term)
{
    struct quorum q;
    leader_info info;

    start(&q, "me");
    set(&q, 0, "a", 60000, 5);
    set(&q, 1, "a", 30000, 7);
    set(&q, 2, "b", 60000, 9);
    ASSERT_EQ(leader_current(q.l, &info), 1);
    ASSERT_STR_EQ(info.id, "a");
    ASSERT_EQ(info.term, 7); /* not b's 9: b holds no majority */
    /* Held by a majority until the shorter of the two runs out. */
    ASSERT_GT(info.lease_left_ms, 25000);
    ASSERT_LE(info.lease_left_ms, 30000);

    set(&q, 1, "c", 60000, 8);
    ASSERT_EQ(leader_current(q.l, &info), 0); /* a, c, b: nobody */
    ASSERT_STR_EQ(info.id, "");
    ASSERT_EQ(info.term, 9); /* the highest counter */
    ASSERT_EQ(info.lease_left_ms, -1);

    set(&q, 0, NULL, 0, 0);
    set(&q, 1, NULL, 0, 4);
    set(&q, 2, NULL, 0, 0);
    ASSERT_EQ(leader_current(q.l, &info), 0);
    ASSERT_EQ(info.term, 4);
    finish(&q);
}

TEST(a_stale_counter_does_not_lower_the_term)
{
    struct quorum q;
    leader_info info;

    start(&q, "me");
    set(&q, 0, "a", 60000, 12);
    set(&q, 1, "a", 60000, 11); /* behind the commit */
    set(&q, 2, "a", 60000, 0);  /* lost its counter */
    ASSERT_EQ(leader_current(q.l, &info), 1);
    ASSERT_STR_EQ(info.id, "a");
    ASSERT_EQ(info.term, 12);
    finish(&q);
}

TEST(one_server_down_leaves_a_majority)
{
    struct quorum q;
    leader_info info;

    start(&q, "me");
    for (int i = 0; i < N; i++)
        set(&q, i, "me", 60000, 3);
    ASSERT_OK(rfx_stop(q.s[0])); /* the first asked */
    ASSERT_EQ(leader_is_leader(q.l), 1);
    ASSERT_EQ(leader_current(q.l, &info), 1);
    ASSERT_STR_EQ(info.id, "me");
    ASSERT_EQ(info.term, 3);
    ASSERT_STR_EQ(leader_errmsg(q.l), "");
    set(&q, 2, "other", 60000, 4);
    ASSERT_EQ(leader_is_leader(q.l), 0); /* me on 1, other on 2: no majority */
    ASSERT_EQ(leader_current(q.l, &info), 0);
    ASSERT_EQ(info.term, 4);
    finish(&q);
}

TEST(fewer_than_a_majority_answering_is_an_error)
{
    struct quorum q;
    leader_info info;
    const char *msg;
    int rc;

    start(&q, "me");
    for (int i = 0; i < N; i++)
        set(&q, i, "me", 60000, 3);
    ASSERT_EQ(leader_is_leader(q.l), 1); /* the connections are open */
    ASSERT_OK(rfx_stop(q.s[1]));
    ASSERT_OK(rfx_stop(q.s[2]));
    rc = leader_is_leader(q.l);
    ASSERT(rc == LEADER_ECONN || rc == LEADER_ETIMEDOUT);
    msg = leader_errmsg(q.l);
    if (strstr(msg, "2 of 3 servers did not answer (a majority is 2)") == NULL)
        FAIL("leader_errmsg: \"%s\"", msg);
    {
        char where[64];

        snprintf(where, sizeof where, "127.0.0.1:%d", rfx_port(q.s[2]));
        if (strstr(msg, where) == NULL)
            FAIL("leader_errmsg \"%s\" does not name %s", msg, where);
    }
    rc = leader_current(q.l, &info);
    ASSERT(rc == LEADER_ECONN || rc == LEADER_ETIMEDOUT);
    /* It still releases where it can: the failure is the answer's. */
    rc = leader_release_term(q.l, 3);
    ASSERT(rc == LEADER_ECONN || rc == LEADER_ETIMEDOUT);
    expect_reply(rfx_command(q.s[0], "EXISTS %s", q.holder), "0");
    /* Back: answers again. */
    ASSERT_OK(rfx_restart(q.s[1], NULL));
    set(&q, 0, "me", 60000, 3);
    set(&q, 1, "me", 60000, 3);
    ASSERT_EQ(leader_is_leader(q.l), 1);
    ASSERT_STR_EQ(leader_errmsg(q.l), "");
    finish(&q);
}

TEST(release_term_runs_on_every_server_and_needs_a_majority)
{
    struct quorum q;
    char *r;

    start(&q, "me");
    for (int i = 0; i < N; i++)
        set(&q, i, "me", 60000, 8);
    ASSERT_EQ(leader_release_term(q.l, 7), 0); /* not that leadership */
    ASSERT_EQ(leader_release_term(q.l, 8), 1);
    for (int i = 0; i < N; i++) {
        r = rfx_command(q.s[i], "EXISTS %s", q.holder);
        expect_reply(r, "0");
    }
    ASSERT_EQ(leader_release_term(q.l, 8), 0); /* already gone */

    /* Per server as a single server would: only where (id, term) holds. */
    set(&q, 0, "me", 60000, 9);
    set(&q, 1, "me", 60000, 10);
    set(&q, 2, "other", 60000, 9);
    ASSERT_EQ(leader_release_term(q.l, 9), 1);
    expect_reply(rfx_command(q.s[0], "EXISTS %s", q.holder), "0");
    expect_reply(rfx_command(q.s[1], "GET %s", q.holder), "me");
    expect_reply(rfx_command(q.s[2], "GET %s", q.holder), "other");

    /* One server down: the other two are a majority. */
    set(&q, 0, "me", 60000, 11);
    set(&q, 1, "me", 60000, 11);
    ASSERT_OK(rfx_stop(q.s[2]));
    ASSERT_EQ(leader_release_term(q.l, 11), 1);
    expect_reply(rfx_command(q.s[0], "EXISTS %s", q.holder), "0");
    expect_reply(rfx_command(q.s[1], "EXISTS %s", q.holder), "0");
    finish(&q);
}
