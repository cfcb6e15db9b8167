/* SPDX-License-Identifier: BSD-3-Clause */
/* test_loop.c - the event-loop API (no threads) driven by a hand-written
 * poll() loop, and clients that host many elections on one connection. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

struct loop_log {
    int elected, revoked, changed;
    uint64_t term;
    int process_in_callback; /* what leader_process said from inside */
};

static void on_loop_event(leader *l, const leader_event *ev, void *userdata)
{
    struct loop_log *log = userdata;

    if (ev->type == LEADER_EVENT_ELECTED) {
        log->elected++;
        log->term = ev->term;
        log->process_in_callback = leader_process(l);
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        log->revoked++;
    } else if (ev->type == LEADER_EVENT_CHANGED) {
        log->changed++;
    }
}

static leader *loop_handle(const char *url, const char *key,
                           struct loop_log *log)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.url = url;
    o.key = key;
    o.ttl_ms = 1000;
    o.wait_ms = 5000;
    o.event_loop = 1;
    l = leader_new(&o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_new: %s", err);
    memset(log, 0, sizeof *log);
    leader_on(l, on_loop_event, log);
    return l;
}

TEST(poll_loop_elects_hands_over_and_frees)
{
    rfx_server *s = start_redis(NULL);
    struct loop_log la, lb;
    leader *a = loop_handle(rfx_url(s), "loop", &la);
    leader *b = loop_handle(rfx_url(s), "loop", &lb);
    int fd = leader_fd(a);
    int64_t t0;

    ASSERT_GE(fd, 0);
    ASSERT_NE(fd, leader_fd(b));
    ASSERT_EQ(leader_timeout_ms(a), -1); /* nothing to do yet */
    ASSERT_OK(leader_elect(a));
    ASSERT_EQ(leader_timeout_ms(a), 0); /* a request waits */
    ASSERT_EQ(la.elected, 0);           /* nothing runs outside process */
    run_loops(a, b, 3000, &la.elected, 1);
    ASSERT_EQ(la.elected, 1);
    ASSERT_EQ(la.process_in_callback, LEADER_ESTATE);
    ASSERT_EQ(leader_has_lease(a), 1);
    ASSERT_EQ(leader_is_leader(a), 1);
    ASSERT_OK(leader_elect(b));
    run_loops(a, b, 200, NULL, 0);
    ASSERT_EQ(lb.elected, 0);
    run_loops(a, b, 1500, NULL, 0); /* renewals keep a leading */
    ASSERT_EQ(leader_has_lease(a), 1);
    ASSERT_EQ(la.revoked, 0);
    t0 = now_ms();
    ASSERT_OK(leader_stop(a));
    ASSERT_EQ(leader_has_lease(a), 0); /* at once, before any process */
    ASSERT_EQ(la.revoked, 0);
    run_loops(a, b, 3000, &lb.elected, 1);
    ASSERT_EQ(la.revoked, 1);
    ASSERT_EQ(lb.elected, 1);
    ASSERT_LT(now_ms() - t0, 1000); /* by notification, not after wait */
    ASSERT_GT(lb.term, la.term);
    ASSERT_EQ(fd, leader_fd(a)); /* stable */
    leader_free(b);              /* runs the loop itself to release */
    ASSERT_EQ(lb.revoked, 1);
    ASSERT_EQ(leader_is_leader(a), 0);
    leader_free(a);
    rfx_free(s);
}

TEST(thread_mode_has_no_loop_api)
{
    leader_options o;
    leader *l;

    leader_options_init(&o);
    o.url = "redis://127.0.0.1:1";
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_fd(l), -1);
    ASSERT_EQ(leader_timeout_ms(l), -1);
    ASSERT_EQ(leader_process(l), LEADER_ESTATE);
    ASSERT_EQ(leader_process(NULL), LEADER_EINVAL);
    ASSERT_EQ(leader_fd(NULL), -1);
    leader_free(l);
}

/* ---- many elections on one client ---- */

struct many {
    int elected, revoked;
};

static void on_many(leader *l, const leader_event *ev, void *userdata)
{
    struct many *m = userdata;

    (void) l;
    if (ev->type == LEADER_EVENT_ELECTED)
        __atomic_fetch_add(&m->elected, 1, __ATOMIC_SEQ_CST);
    else if (ev->type == LEADER_EVENT_REVOKED)
        __atomic_fetch_add(&m->revoked, 1, __ATOMIC_SEQ_CST);
}

static leader **add_many(leader_client *c, int n, const char *prefix, long ttl,
                         struct many *m)
{
    leader **h = calloc((size_t) n, sizeof *h);
    leader_options o;
    char key[64], err[256];

    ASSERT_NOT_NULL(h);
    for (int i = 0; i < n; i++) {
        leader_options_init(&o);
        snprintf(key, sizeof key, "%s-%d", prefix, i);
        o.key = key;
        o.ttl_ms = ttl;
        o.wait_ms = 200;
        h[i] = leader_client_add(c, &o, err, sizeof err);
        if (h[i] == NULL)
            FAIL("leader_client_add: %s", err);
        leader_on(h[i], on_many, m);
    }
    return h;
}

static int count_leading(leader **h, int n)
{
    int k = 0;

    for (int i = 0; i < n; i++)
        k += leader_has_lease(h[i]);
    return k;
}

TEST(one_client_two_hundred_elections_two_clients_compete)
{
    rfx_server *s = start_redis(NULL);
    leader_client_options co;
    leader_client *c1, *c2;
    struct many m1 = {0, 0}, m2 = {0, 0};
    leader **h1, **h2;
    const int n = 200;
    char err[256];

    leader_client_options_init(&co);
    co.url = rfx_url(s);
    c1 = leader_client_new(&co, err, sizeof err);
    c2 = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(c1);
    ASSERT_NOT_NULL(c2);
    h1 = add_many(c1, n, "many", 1000, &m1);
    h2 = add_many(c2, n, "many", 1000, &m2);
    for (int i = 0; i < n; i++)
        ASSERT_OK(leader_elect(h1[i]));
    for (int i = 0; i < 200 && count_leading(h1, n) < n; i++)
        sleep_ms(10);
    ASSERT_EQ(count_leading(h1, n), n); /* all on one connection */
    for (int i = 0; i < n; i++)
        ASSERT_OK(leader_elect(h2[i]));
    /* Renewals of 200 leases keep them all, well past the ttl. */
    for (int round = 0; round < 15; round++) {
        sleep_ms(100);
        ASSERT_EQ(count_leading(h1, n), n);
        ASSERT_EQ(count_leading(h2, n), 0);
    }
    /* Stop half of them: the other client takes exactly those. */
    for (int i = 0; i < n; i += 2)
        ASSERT_OK(leader_stop(h1[i]));
    for (int i = 0; i < 200 && count_leading(h2, n) < n / 2; i++)
        sleep_ms(10);
    ASSERT_EQ(count_leading(h2, n), n / 2);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(leader_has_lease(h1[i]) + leader_has_lease(h2[i]), 1);
    ASSERT_EQ(__atomic_load_n(&m1.revoked, __ATOMIC_SEQ_CST), n / 2);
    for (int i = 0; i < n; i++) {
        leader_free(h1[i]);
        leader_free(h2[i]);
    }
    ASSERT_EQ(__atomic_load_n(&m1.elected, __ATOMIC_SEQ_CST),
              __atomic_load_n(&m1.revoked, __ATOMIC_SEQ_CST));
    ASSERT_EQ(__atomic_load_n(&m2.elected, __ATOMIC_SEQ_CST),
              __atomic_load_n(&m2.revoked, __ATOMIC_SEQ_CST));
    free(h1);
    free(h2);
    leader_client_free(c1);
    leader_client_free(c2);
    rfx_free(s);
}

TEST(client_options_are_checked)
{
    leader_client_options co;
    leader_options o;
    leader_client *c;
    char err[256];

    ASSERT_NULL(leader_client_new(NULL, err, sizeof err));
    leader_client_options_init(&co);
    co.url = "ftp://x";
    ASSERT_NULL(leader_client_new(&co, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "scheme"));
    co.url = "redis://127.0.0.1:1";
    c = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(c);
    leader_options_init(&o);
    o.url = "redis://elsewhere";
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "client's"));
    leader_options_init(&o);
    o.ttl_ms = 1;
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT_NULL(leader_client_add(NULL, &o, err, sizeof err));
    ASSERT_EQ(leader_client_fd(c), -1); /* thread mode */
    leader_client_free(c);
    leader_client_free(NULL);
}
