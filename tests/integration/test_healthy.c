/* SPDX-License-Identifier: BSD-3-Clause */
/* test_healthy.c - health-gated leadership (leader_set_healthy) against a
 * real redis-server: an unhealthy leader gives the leadership up at once
 * (REVOKED with LEADER_EUNHEALTHY, key released, the next candidate
 * elected within milliseconds), an unhealthy candidate does not campaign,
 * and a healthy one campaigns again. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define TTL  10000 /* long: only a release can hand over quickly */
#define WAIT 5000

TEST(unhealthy_leader_hands_over_in_milliseconds)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a, *b;
    struct logged ev;
    int64_t t0, t1;

    world_init(&w);
    a = world_add(&w, rfx_url(s), "healthy", TTL, WAIT);
    ASSERT_OK(leader_elect(a->l));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_ELECTED, 1, 5000), 1);
    b = world_add(&w, rfx_url(s), "healthy", TTL, WAIT);
    ASSERT_OK(leader_elect(b->l));
    sleep_ms(100); /* b follows */
    t0 = now_ms();
    ASSERT_OK(leader_set_healthy(a->l, 0));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_REVOKED, 1, 5000), 1);
    ASSERT_GE(world_last(&w, a->index, LEADER_EVENT_REVOKED, &ev), 0);
    ASSERT_EQ(ev.error, LEADER_EUNHEALTHY);
    ASSERT_EQ(leader_has_lease(a->l), 0);
    ASSERT_EQ(world_wait(&w, b->index, LEADER_EVENT_ELECTED, 1, 5000), 1);
    t1 = now_ms();
    fprintf(stderr, "unhealthy -> next elected: %lld ms\n",
            (long long) (t1 - t0));
    ASSERT_LT(t1 - t0, WAIT / 2); /* a release, not an expiry or a wait */
    /* a does not campaign while unhealthy, even with the key free. */
    ASSERT_OK(leader_stop(b->l));
    sleep_ms(300);
    ASSERT_EQ(world_count(&w, a->index, LEADER_EVENT_ELECTED), 1);
    ASSERT_EQ(leader_is_leader(a->l), 0);
    /* Healthy again: it campaigns at once. */
    ASSERT_OK(leader_set_healthy(a->l, 1));
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_ELECTED, 2, 2000), 2);
    ASSERT_EQ(leader_is_leader(a->l), 1);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(unhealthy_from_the_start_never_campaigns_and_outlives_a_stop)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a;

    world_init(&w);
    a = world_add(&w, rfx_url(s), "healthy", TTL, 50);
    ASSERT_OK(leader_set_healthy(a->l, 0));
    ASSERT_OK(leader_set_healthy(a->l, 0)); /* the same value: nothing */
    ASSERT_OK(leader_elect(a->l));
    sleep_ms(300);
    ASSERT_EQ(world_count(&w, a->index, LEADER_EVENT_ELECTED), 0);
    ASSERT_OK(leader_stop(a->l));
    ASSERT_OK(leader_elect(a->l));
    sleep_ms(200);
    ASSERT_EQ(world_count(&w, a->index, LEADER_EVENT_ELECTED), 0);
    ASSERT_OK(leader_set_healthy(a->l, 7)); /* any non-zero is healthy */
    ASSERT_EQ(world_wait(&w, a->index, LEADER_EVENT_ELECTED, 1, 2000), 1);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

/* Event-loop mode: the change is carried out by the caller's loop. */
TEST(unhealthy_in_event_loop_mode)
{
    rfx_server *s = start_redis(NULL);
    leader *a = new_handle(rfx_url(s), "healthy", "a", TTL, WAIT, 1);
    leader *b = new_handle(rfx_url(s), "healthy", "b", TTL, WAIT, 1);

    ASSERT_OK(leader_elect(a));
    run_loops(a, a, 2000, NULL, 0);
    ASSERT(leader_has_lease(a));
    ASSERT_OK(leader_elect(b));
    run_loops(a, b, 200, NULL, 0);
    ASSERT(!leader_has_lease(b));
    ASSERT_OK(leader_set_healthy(a, 0));
    run_loops(a, b, 500, NULL, 0);
    ASSERT(!leader_has_lease(a));
    ASSERT(leader_has_lease(b));
    leader_free(a);
    leader_free(b);
    rfx_free(s);
}

TEST(bad_calls)
{
    ASSERT_EQ(leader_set_healthy(NULL, 1), LEADER_EINVAL);
    ASSERT_NOT_NULL(strstr(leader_strerror(LEADER_EUNHEALTHY), "unhealthy"));
}
