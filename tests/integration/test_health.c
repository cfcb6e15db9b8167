/* SPDX-License-Identifier: BSD-3-Clause */
/* test_health.c - the notification connection is health-checked. One that
 * dies silently (the proxy freezes it: no close, no reset, nothing passes
 * any more) is found by its unanswered PING, replaced and subscribed
 * again, so a watcher still hears the next release at once. */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"
#include "tape.h"

static leader *handle(const char *url, const char *key, long ttl, long wait,
                      struct tape *t)
{
    leader *l = new_handle(url, key, NULL, ttl, wait, 0);

    leader_on(l, tape_record, t);
    return l;
}

/* How many connections are subscribed to the election's channel. */
static long subscribers(rfx_server *s, const leader *l)
{
    char *r = rfx_command(s, "PUBSUB NUMSUB %s:events", leader_key(l));
    const char *sp = r != NULL ? strrchr(r, ' ') : NULL;
    long n = sp != NULL ? strtol(sp + 1, NULL, 10) : -1;

    free(r);
    return n;
}

static int wait_subscribers(rfx_server *s, const leader *l, long want, long ms)
{
    int64_t end = leader_clock_ms() + ms;

    while (subscribers(s, l) != want)
        if (leader_clock_ms() > end)
            return 0;
        else
            sleep_ms(20);
    return 1;
}

TEST(watcher_hears_a_release_after_its_notifications_die_silently)
{
    rfx_server *s = start_redis(NULL);
    struct tape t;
    struct tape_entry e;
    proxy_ctl p;
    leader *l, *o;
    char url[64];
    int64_t t0;
    int changes;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    tape_init(&t);
    /* The leader talks to Redis directly; its lease is long, so that only
     * a notification tells the watcher of a release in time. */
    l = handle(rfx_url(s), "health", 30000, 1000, &t);
    ASSERT_OK(leader_elect(l));
    ASSERT(
        tape_wait(&t, l, LEADER_EVENT_ELECTED, leader_clock_ms() + 5000, NULL));
    /* The watcher goes through the proxy and reads only every minute; its
     * ttl of 3000 sets its health check: a PING every second, answered
     * within one. */
    o = handle(url, "health", 3000, 60000, &t);
    ASSERT_OK(leader_observe(o));
    ASSERT(
        tape_wait(&t, o, LEADER_EVENT_CHANGED, leader_clock_ms() + 5000, NULL));
    ASSERT(wait_subscribers(s, l, 2, 5000));

    /* Both of the watcher's connections die without a word. Redis still
     * counts the frozen subscription: a third subscriber means the
     * watcher subscribed again on a new connection. */
    ASSERT_OK(proxy_freeze(&p));
    if (!wait_subscribers(s, l, 3, 5000))
        FAIL("the watcher did not subscribe again within 5 s (%ld)",
             subscribers(s, l));

    changes = tape_count(&t, o, LEADER_EVENT_CHANGED);
    t0 = leader_clock_ms();
    ASSERT_OK(leader_stop(l));
    while (tape_count(&t, o, LEADER_EVENT_CHANGED) == changes &&
           leader_clock_ms() < t0 + 2000)
        sleep_ms(5);
    ASSERT_EQ(tape_count(&t, o, LEADER_EVENT_CHANGED), changes + 1);
    pthread_mutex_lock(&t.lock);
    for (int i = 0; i < t.n; i++)
        if (t.e[i].l == o && t.e[i].type == LEADER_EVENT_CHANGED)
            e = t.e[i];
    pthread_mutex_unlock(&t.lock);
    ASSERT_EQ(e.has_leader, 0);
    ASSERT_STR_EQ(e.message, "released");
    ASSERT_LT(e.at - t0, 500);

    leader_free(o);
    leader_free(l);
    tape_destroy(&t);
    proxy_stop(&p);
    rfx_free(s);
}
