/* watchdog.h - the separate process that kills the child's process group
 * at the lease deadline, even when `leader run` itself is frozen.
 *
 * `leader run` and the watchdog share one anonymous MAP_SHARED page that
 * holds the lease deadline and the child's process group. The supervisor
 * writes the deadline (before it forks a child, and later with every
 * renewal it sees); the child writes its own process group id into the
 * page before it execs. The watchdog sleeps on a CLOCK_BOOTTIME timerfd
 * until the deadline, re-reads the page when it wakes (a renewal moves the
 * deadline later) and, at or after the deadline, SIGKILLs the group. A
 * frozen supervisor publishes no renewals, so the watchdog acts on the
 * last deadline it published: never later than the real one.
 *
 * Anyone who changes the page pokes the watchdog through a pipe, so that
 * it re-reads the page at once. */
#ifndef LEADER_CLI_WATCHDOG_H
#define LEADER_CLI_WATCHDOG_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct wd_page {
    atomic_llong deadline_ms; /* on leader_clock_ms()'s clock; 0: none */
    atomic_int pgid;          /* the child's process group; 0: none */
    atomic_uint kills;        /* how many groups the watchdog has killed */
};

struct watchdog {
    struct wd_page *page;
    pid_t pid;
    int poke_fd; /* write end of the pipe the watchdog listens on */
};

/* Maps the page and forks the watchdog. Call before any thread exists
 * (before leader_elect()). Returns 0, or -1 with errno set. */
int watchdog_start(struct watchdog *w);

/* Makes the watchdog re-read the page. Async-signal-safe: the child calls
 * it between fork and exec. */
void watchdog_poke(const struct watchdog *w);

/* Ends the watchdog (closing its pipe), waits for it and unmaps the page. */
void watchdog_stop(struct watchdog *w);

/* The current time on the lease clock in milliseconds, async-signal-safe
 * (leader_clock_ms()'s clock: CLOCK_BOOTTIME). */
int64_t wd_now_ms(void);

#endif
