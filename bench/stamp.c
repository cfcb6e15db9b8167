/* SPDX-License-Identifier: BSD-3-Clause */
/* stamp.c - bench-stamp, the smallest child `leader run` can start: the
 * handover benchmarks time `leader run` from the old child's exit to the
 * new child's start, and a child that first loads shared libraries or an
 * interpreter would add its own start-up to that figure. Its first act is
 * to read CLOCK_MONOTONIC; only then does it print.
 *
 * Built twice: bench-stamp is linked statically (nothing runs between
 * exec and main but libc's own start), bench-stamp-dyn dynamically against
 * libc alone (the dynamic loader first, as for most commands).
 *
 * stdout: "started 0 NS PID" at once; on SIGUSR1, "exiting 0 NS" and exit
 * status 0 (the protocol of bench-peer --child). */
#define _GNU_SOURCE

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(const struct timespec *ts)
{
    return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void say(const char *line, int n)
{
    if (n <= 0 || write(STDOUT_FILENO, line, (size_t) n) != n)
        _exit(1); /* the driver is gone */
}

static void on_usr1(int sig)
{
    struct timespec ts;
    char line[64];

    (void) sig;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    say(line, snprintf(line, sizeof line, "exiting 0 %lld\n", ns_of(&ts)));
    _exit(0);
}

int main(void)
{
    struct timespec start;
    struct sigaction sa;
    char line[64];

    clock_gettime(CLOCK_MONOTONIC, &start);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    say(line, snprintf(line, sizeof line, "started 0 %lld %ld\n", ns_of(&start),
                       (long) getpid()));
    for (;;)
        pause();
}
