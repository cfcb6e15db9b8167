/* SPDX-License-Identifier: BSD-3-Clause */
/* test_clock.c - deadlines are kept on the boot clock even when poll()
 * timeouts run late. poll() and epoll_wait() time out on CLOCK_MONOTONIC,
 * which stops while the machine is suspended; the lease deadlines are on
 * CLOCK_BOOTTIME, which does not. After a resume every timeout handed to
 * poll() before the suspend ends late by the time slept, so a loop that
 * relies on its poll() timeout steps down late.
 *
 * The test makes the clocks' gap without suspending: this program defines
 * poll() itself, in front of the C library's, and while lag_ms is set it
 * waits lag_ms longer than asked, as a poll() begun before a suspend of
 * lag_ms would. The library's loop thread and the event-loop test's own
 * loop both go through it. The client's descriptor becomes readable at the
 * deadline on the boot clock by itself (a CLOCK_BOOTTIME timer in its
 * epoll set), so REVOKED comes on time all the same. */
#define _GNU_SOURCE

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "candidates.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"
#include "tape.h"

static atomic_long lag_ms;       /* added to every poll() timeout */
static atomic_long lagged_polls; /* polls that were made to run late */

/* The poll() of this program and of the library linked into it. */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    long lag = atomic_load(&lag_ms);
    struct timespec ts;

    if (timeout < 0)
        return ppoll(fds, n, NULL, NULL);
    if (lag > 0)
        atomic_fetch_add(&lagged_polls, 1);
    ts.tv_sec = (timeout + lag) / 1000;
    ts.tv_nsec = (timeout + lag) % 1000 * 1000000L;
    return ppoll(fds, n, &ts, NULL);
}

/* Longer than the lease: the last wait that starts before the lease
 * deadline cannot end by it, however the waits fall. */
#define LAG_MS 5000

static leader *candidate(const char *url, int event_loop, struct tape *t)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.url = url;
    o.key = "clock";
    o.ttl_ms = 3000;
    o.event_loop = event_loop;
    l = leader_new(&o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_new: %s", err);
    leader_on(l, tape_record, t);
    return l;
}

/* REVOKED must come at the lease deadline d, within a few ms. */
static void expect_revoked_at(struct tape *t, int64_t d)
{
    struct tape_entry e;

    ASSERT(tape_wait(t, NULL, LEADER_EVENT_REVOKED, 0, &e));
    if (e.at < d || e.at > d + 100) {
        tape_dump(t);
        FAIL("REVOKED at %lld, the lease deadline was %lld (%+lld ms)",
             (long long) e.at, (long long) d, (long long) (e.at - d));
    }
}

TEST(thread_steps_down_on_the_boot_clock_when_polls_run_late)
{
    rfx_server *s = start_redis(NULL);
    struct tape t;
    proxy_ctl p;
    leader *l;
    char url[64];
    int64_t d;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    tape_init(&t);
    l = candidate(url, 0, &t);
    ASSERT_OK(leader_elect(l));
    ASSERT(
        tape_wait(&t, l, LEADER_EVENT_ELECTED, leader_clock_ms() + 5000, NULL));

    /* From now on every wait of the library's thread ends LAG_MS late,
     * and no renewal is answered: only the boot clock ends the lease. */
    atomic_store(&lag_ms, LAG_MS);
    ASSERT_OK(proxy_blackhole(&p));
    sleep_ms(50);
    d = leader_lease_deadline(l);
    ASSERT_GT(d, 0);
    if (!tape_wait(&t, l, LEADER_EVENT_REVOKED, d + LAG_MS + 2000, NULL)) {
        tape_dump(&t);
        FAIL("no REVOKED");
    }
    expect_revoked_at(&t, d);
    ASSERT_GT(atomic_load(&lagged_polls), 0); /* the thread did poll */
    atomic_store(&lag_ms, 0);
    ASSERT_OK(proxy_heal(&p));
    leader_free(l);
    tape_destroy(&t);
    proxy_stop(&p);
    rfx_free(s);
}

/* One turn of an application's loop: poll the descriptor for as long as
 * the library says, then let it work. */
static void turn(leader *l)
{
    struct pollfd pfd = {leader_fd(l), POLLIN, 0};

    poll(&pfd, 1, leader_timeout_ms(l));
    ASSERT_OK(leader_process(l));
}

TEST(event_loop_descriptor_wakes_on_the_boot_clock_when_polls_run_late)
{
    rfx_server *s = start_redis(NULL);
    struct tape t;
    proxy_ctl p;
    leader *l;
    char url[64];
    int64_t d, end;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    tape_init(&t);
    l = candidate(url, 1, &t);
    ASSERT_OK(leader_elect(l));
    end = leader_clock_ms() + 5000;
    while (tape_count(&t, l, LEADER_EVENT_ELECTED) == 0 &&
           leader_clock_ms() < end)
        turn(l);
    ASSERT_EQ(tape_count(&t, l, LEADER_EVENT_ELECTED), 1);

    atomic_store(&lag_ms, LAG_MS);
    ASSERT_OK(proxy_blackhole(&p));
    /* The deadline as the turn that steps down starts (a renewal answered
     * before the blackhole may still move it in an earlier turn). */
    end = leader_clock_ms() + 3000 + LAG_MS + 2000;
    d = 0;
    while (tape_count(&t, l, LEADER_EVENT_REVOKED) == 0 &&
           leader_clock_ms() < end) {
        d = leader_lease_deadline(l);
        ASSERT_GT(d, 0);
        turn(l);
    }
    expect_revoked_at(&t, d);
    ASSERT_GT(atomic_load(&lagged_polls), 0);
    atomic_store(&lag_ms, 0);
    ASSERT_OK(proxy_heal(&p));
    leader_free(l);
    tape_destroy(&t);
    proxy_stop(&p);
    rfx_free(s);
}
