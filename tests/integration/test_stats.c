/* SPDX-License-Identifier: BSD-3-Clause */
/* test_stats.c - leader_stats() against a real redis-server: what an
 * operator reads after an election, renewals, a stop, a refused renewal,
 * a new term, unhealthiness, a frozen and a restarted Redis; and how the
 * call treats bad arguments and structures of other sizes. */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define TTL  600 /* a renewal every 200 ms */
#define WAIT 200

static leader_stats stats_of(const leader *l)
{
    leader_stats st;

    memset(&st, 0xa5, sizeof st);
    ASSERT_OK(leader_stats(l, &st));
    ASSERT_EQ(st.struct_size, sizeof st);
    return st;
}

/* Waits up to ms for the counter at offset off of l's stats to reach
 * want; returns the value reached. */
static uint64_t wait_counter(const leader *l, size_t off, uint64_t want,
                             long ms)
{
    int64_t end = now_ms() + ms;
    uint64_t v;

    for (;;) {
        leader_stats st = stats_of(l);
        memcpy(&v, (const char *) &st + off, sizeof v);
        if (v >= want || now_ms() > end)
            return v;
        sleep_ms(10);
    }
}

#define WAIT_COUNTER(l, field, want, ms)                                       \
    wait_counter((l), offsetof(leader_stats, field), (want), (ms))

static uint64_t bucket_sum(const leader_stats *st)
{
    uint64_t n = 0;

    for (int i = 0; i < LEADER_STATS_BUCKETS; i++)
        n += st->renew_rtt[i];
    return n;
}

static struct cand *elected(struct world *w, rfx_server *s, const char *key)
{
    struct cand *a = world_add(w, rfx_url(s), key, TTL, WAIT);

    ASSERT_OK(leader_elect(a->l));
    ASSERT_EQ(world_wait(w, a->index, LEADER_EVENT_ELECTED, 1, 5000), 1);
    return a;
}

TEST(fresh_handle_has_zero_counters)
{
    struct world w;
    struct cand *a;
    leader_stats st;

    world_init(&w);
    a = world_add(&w, "redis://127.0.0.1:1", "stats", TTL, WAIT);
    st = stats_of(a->l);
    ASSERT_EQ(st.leading, 0);
    ASSERT_EQ(st.term, 0);
    ASSERT_EQ(st.elections_won, 0);
    ASSERT_EQ(st.renewals_sent, 0);
    ASSERT_EQ(st.renew_rtt_count, 0);
    ASSERT_EQ(bucket_sum(&st), 0);
    ASSERT_EQ(st.lease_slack_ms, 0);
    ASSERT_EQ(st.lease_slack_min_ms, 0);
    ASSERT_EQ(st.reconnects, 0);
    for (int i = 0; i < LEADER_STATS_ERRORS; i++)
        ASSERT_EQ(st.errors[i], 0);
    world_free(&w);
}

TEST(election_renewals_and_stop_are_counted)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;
    leader_stats st;

    world_init(&w);
    a = elected(&w, s, "stats");
    st = stats_of(a->l);
    ASSERT_EQ(st.elections_won, 1);
    ASSERT_EQ(st.leading, 1);
    ASSERT_NE(st.term, 0);
    ASSERT_EQ(st.term, leader_term(a->l));
    ASSERT_EQ(st.lease_deadline_ms, leader_lease_deadline(a->l));
    ASSERT_GT(st.leading_since_ms, 0);
    ASSERT_LE(st.leading_since_ms, leader_clock_ms());

    /* A few renewals: each sent, confirmed, timed, with its slack. */
    ASSERT_GE(WAIT_COUNTER(a->l, renewals_confirmed, 3, 3000), 3);
    st = stats_of(a->l);
    ASSERT_GE(st.renewals_sent, st.renewals_confirmed);
    ASSERT_GE(st.renew_rtt_count, st.renewals_confirmed);
    ASSERT_EQ(bucket_sum(&st), st.renew_rtt_count);
    ASSERT_LT(st.renew_rtt_sum_ms, st.renew_rtt_count * (TTL / 3));
    ASSERT_GT(st.lease_slack_ms, 0);
    ASSERT_LT(st.lease_slack_ms, TTL);
    ASSERT_GT(st.lease_slack_min_ms, 0);
    ASSERT_LE(st.lease_slack_min_ms, st.lease_slack_ms);
    ASSERT_EQ(st.renewals_late, 0);
    ASSERT_EQ(st.renewals_refused + st.renewals_failed, 0);

    ASSERT_OK(leader_stop(a->l));
    st = stats_of(a->l);
    ASSERT_EQ(st.revoked_stop, 1);
    ASSERT_EQ(st.revoked_lost + st.revoked_lease + st.revoked_conn +
                  st.revoked_new_term + st.revoked_unhealthy + st.revoked_other,
              0);
    ASSERT_EQ(st.leading, 0);
    ASSERT_EQ(st.term, 0);
    ASSERT_EQ(st.leading_since_ms, 0);
    ASSERT_EQ(st.elections_won, 1); /* counters outlive a stop */
    ASSERT_EQ(st.reconnects, 0);    /* nothing broke */
    world_free(&w);
    rfx_free(s);
}

TEST(refused_renewal_counts_as_lost)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;
    leader_stats st;
    char *r;

    world_init(&w);
    a = elected(&w, s, "stats");
    r = rfx_command(s, "SET %s someone-else", leader_key(a->l));
    ASSERT_NOT_NULL(r);
    free(r);
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_REVOKED, 1, 3000), 1);
    st = stats_of(a->l);
    ASSERT_EQ(st.renewals_refused, 1);
    ASSERT_EQ(st.revoked_lost, 1);
    ASSERT_EQ(st.revoked_stop, 0);
    ASSERT_EQ(st.leading, 0);
    world_free(&w);
    rfx_free(s);
}

TEST(new_term_and_unhealthy_are_counted_by_cause)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;
    leader_stats st;
    uint64_t first;

    world_init(&w);
    a = elected(&w, s, "stats");
    first = leader_term(a->l);
    ASSERT_OK(leader_new_term(a->l));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_ELECTED, 2, 3000), 2);
    st = stats_of(a->l);
    ASSERT_EQ(st.elections_won, 2);
    ASSERT_EQ(st.revoked_new_term, 1);
    ASSERT_EQ(st.revoked_stop, 0);
    ASSERT_GT(st.term, first);
    ASSERT_EQ(st.term, leader_term(a->l));

    ASSERT_OK(leader_set_healthy(a->l, 0));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_REVOKED, 2, 3000), 2);
    st = stats_of(a->l);
    ASSERT_EQ(st.revoked_unhealthy, 1);
    ASSERT_EQ(st.revoked_new_term, 1);
    ASSERT_EQ(st.leading, 0);
    world_free(&w);
    rfx_free(s);
}

/* A frozen server: the renewal in flight gets no reply within ttl/3, is
 * given up as late, and the lease runs out (LEADER_ELEASE or
 * LEADER_ECONN, whichever the connection was when the deadline came). */
TEST(frozen_redis_makes_a_late_renewal_and_a_lease_revocation)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;
    leader_stats st;

    world_init(&w);
    a = elected(&w, s, "stats");
    ASSERT_OK(rfx_pause(s));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_REVOKED, 1, 3000), 1);
    ASSERT_OK(rfx_resume(s));
    st = stats_of(a->l);
    ASSERT_GE(st.renewals_late, 1);
    ASSERT_EQ(st.revoked_lease + st.revoked_conn, 1);
    ASSERT_GE(st.errors[-LEADER_ETIMEDOUT], 1);
    /* Late renewals have no round trip. */
    ASSERT_EQ(st.renew_rtt_count,
              st.renewals_confirmed + st.renewals_refused + st.renewals_failed);
    world_free(&w);
    rfx_free(s);
}

TEST(redis_restart_counts_a_reconnect_and_an_error)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;
    leader_stats st;

    world_init(&w);
    a = world_add(&w, rfx_url(s), "stats", 3000, WAIT);
    ASSERT_OK(leader_elect(a->l));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_EQ(stats_of(a->l).reconnects, 0);
    ASSERT_OK(rfx_kill(s));
    ASSERT_GE(world_wait(&w, a->index, LEADER_EVENT_ERROR, 1, 3000), 1);
    ASSERT_OK(rfx_restart(s, NULL));
    ASSERT_GE(WAIT_COUNTER(a->l, reconnects, 1, 5000), 1);
    st = stats_of(a->l);
    ASSERT_GE(st.errors[-LEADER_ECONN], 1);
    world_free(&w);
    rfx_free(s);
}

TEST(bad_arguments_are_einval)
{
    struct world w;
    struct cand *a;
    leader_stats st;

    world_init(&w);
    a = world_add(&w, "redis://127.0.0.1:1", "stats", TTL, WAIT);
    ASSERT_EQ(leader_stats(NULL, &st), LEADER_EINVAL);
    ASSERT_EQ(leader_stats(a->l, NULL), LEADER_EINVAL);
    ASSERT_EQ(leader_stats_size(a->l, &st, 0), LEADER_EINVAL);
    ASSERT_EQ(leader_stats_size(a->l, &st, sizeof st - 1), LEADER_EINVAL);
    world_free(&w);
}

/* A newer program's larger structure gets the library's fields and its
 * tail untouched; the library never writes past the size it is given. */
TEST(writes_no_byte_beyond_the_callers_size)
{
    struct world w;
    struct cand *a;
    unsigned char buf[sizeof(leader_stats) + 64];
    leader_stats st;

    world_init(&w);
    a = world_add(&w, "redis://127.0.0.1:1", "stats", TTL, WAIT);
    memset(buf, 0xa5, sizeof buf);
    ASSERT_OK(
        leader_stats_size(a->l, (leader_stats *) (void *) buf, sizeof buf));
    memcpy(&st, buf, sizeof st);
    ASSERT_EQ(st.struct_size, sizeof st);
    for (size_t i = sizeof st; i < sizeof buf; i++)
        ASSERT_EQ(buf[i], 0xa5);
    memset(buf, 0xa5, sizeof buf);
    ASSERT_OK(
        leader_stats_size(a->l, (leader_stats *) (void *) buf, sizeof st));
    for (size_t i = sizeof st; i < sizeof buf; i++)
        ASSERT_EQ(buf[i], 0xa5);
    world_free(&w);
}
