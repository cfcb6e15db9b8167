/* SPDX-License-Identifier: BSD-3-Clause */
/* test_wallclock.c - bounds the library waits on do not move with the
 * wall clock. The machine's clock is left alone: this program defines its
 * own clock_gettime(), which the library's calls reach (the executable's
 * definition comes first in symbol lookup), and which adds an offset to
 * CLOCK_REALTIME while a test asks for it: as if the wall clock had been
 * stepped. Every other clock reads as usual. */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

static _Atomic long long realtime_offset_s;

/* Default visibility (the build hides symbols by default) and exported
 * (CMakeLists.txt), so that the library's calls bind to it. */
__attribute__((visibility("default"))) int clock_gettime(clockid_t id,
                                                         struct timespec *ts)
{
    long rc = syscall(SYS_clock_gettime, id, ts);

    if (rc == 0 && id == CLOCK_REALTIME)
        ts->tv_sec += (time_t) atomic_load(&realtime_offset_s);
    return (int) rc;
}

struct slow_revoke {
    _Atomic int revoked_done;
};

static void on_revoked_sleep(leader *l, const leader_event *ev, void *ud)
{
    struct slow_revoke *sr = ud;

    (void) l;
    if (ev->type != LEADER_EVENT_REVOKED)
        return;
    sleep_ms(300);
    atomic_store(&sr->revoked_done, 1);
}

/* leader_stop() returns once its REVOKED has been delivered, within its
 * bound (ttl/3 + 100 ms here): a wall clock an hour ahead of what the
 * stop's deadline was computed from must not cut that wait short. */
TEST(stop_waits_for_its_revoked_whatever_the_wall_clock)
{
    rfx_server *s = start_redis(NULL);
    struct slow_revoke sr;
    leader_options o;
    leader *l;
    int64_t t0, took;
    int done;

    atomic_init(&sr.revoked_done, 0);
    leader_options_init(&o);
    o.url = rfx_url(s);
    o.key = "wallclock";
    o.ttl_ms = 3000; /* the stop waits up to 1100 ms */
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    leader_on(l, on_revoked_sleep, &sr);
    ASSERT_OK(leader_elect(l));
    for (int i = 0; i < 300 && !leader_has_lease(l); i++)
        sleep_ms(10);
    ASSERT_EQ(leader_has_lease(l), 1);
    atomic_store(&realtime_offset_s, -3600);
    t0 = now_ms();
    ASSERT_OK(leader_stop(l));
    took = now_ms() - t0;
    done = atomic_load(&sr.revoked_done);
    atomic_store(&realtime_offset_s, 0);
    fprintf(stderr, "leader_stop took %lld ms, REVOKED %s\n", (long long) took,
            done ? "delivered" : "not yet delivered");
    ASSERT_EQ(done, 1);
    ASSERT_GE(took, 250);
    ASSERT_LT(took, 1100 + 500);
    leader_free(l);
    rfx_free(s);
}

/* The hook is what every library's clock_gettime() binds to (the global
 * scope finds it first), and it shifts the wall clock only. */
TEST(the_hook_shifts_only_the_wall_clock)
{
    void *bound = dlsym(RTLD_DEFAULT, "clock_gettime");
    int (*call)(clockid_t, struct timespec *) = clock_gettime;
    struct timespec a, b, ma, mb;

    ASSERT(bound == (void *) call);
    call(CLOCK_REALTIME, &a);
    call(CLOCK_MONOTONIC, &ma);
    atomic_store(&realtime_offset_s, 3600);
    call(CLOCK_REALTIME, &b);
    call(CLOCK_MONOTONIC, &mb);
    atomic_store(&realtime_offset_s, 0);
    ASSERT_GE(b.tv_sec - a.tv_sec, 3599);
    ASSERT_LE(mb.tv_sec - ma.tv_sec, 1);
}
