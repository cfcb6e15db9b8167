/* SPDX-License-Identifier: BSD-3-Clause */
/* candidate.c - one candidate as a process: campaigns for an election and
 * prints every event with the wall-clock time in milliseconds, until
 * SIGTERM or SIGINT, when it stops (releasing the key if it leads).
 *
 * Usage: candidate NAME [URL [KEY [TTL_MS [WAIT_MS]]]]
 * Output lines: "<unix-ms> <NAME> ELECTED term=<n>" (also REVOKED, ERROR).
 * Used by `make demo`. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "leader.h"

static const char *name;

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    static const char *kinds[] = {"?", "ELECTED", "REVOKED", "ERROR",
                                  "CHANGED"};

    (void) l;
    (void) userdata;
    if (ev->type < LEADER_EVENT_ELECTED || ev->type > LEADER_EVENT_CHANGED)
        return;
    printf("%lld %s %s term=%llu (%s)\n", wall_ms(), name, kinds[ev->type],
           (unsigned long long) ev->term, ev->message);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    leader_options o;
    leader *l;
    char err[256];
    sigset_t set;
    int sig;

    if (argc < 2) {
        fprintf(stderr, "usage: candidate NAME [URL [KEY [TTL [WAIT]]]]\n");
        return 2;
    }
    name = argv[1];
    leader_options_init(&o);
    o.url = argc > 2 ? argv[2] : NULL;
    o.key = argc > 3 ? argv[3] : "demo";
    o.ttl_ms = argc > 4 ? atol(argv[4]) : 2000;
    o.wait_ms = argc > 5 ? atol(argv[5]) : 1000;
    o.id = name;
    /* Block the signals before the library's thread starts, so that only
     * sigwait() below receives them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    l = leader_new(&o, err, sizeof err);
    if (l == NULL) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 2;
    }
    leader_on(l, on_event, NULL);
    if (leader_elect(l) != 0) {
        leader_free(l);
        return 1;
    }
    sigwait(&set, &sig);
    leader_free(l);
    return 0;
}
