/* SPDX-License-Identifier: BSD-3-Clause */
/* consumer.c - a program that uses an installed libleader the way an
 * application does: only <leader.h> and the library, found through
 * pkg-config or CMake. It campaigns alone in an election of its own, waits
 * to be elected, checks its lease and term, stops, and prints
 *
 *   consumer: libleader VERSION, elected with term N
 *
 * Usage: consumer [REDIS_URL]   (default $REDIS_URL, as redis-fixture sets
 * it). Exit status 0 once elected, 1 otherwise (within 10 s). */
#define _POSIX_C_SOURCE 200809L

#include <leader.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int elected;
static atomic_int revoked;

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    (void) l;
    (void) userdata;
    if (ev->type == LEADER_EVENT_ELECTED)
        atomic_store(&elected, 1);
    else if (ev->type == LEADER_EVENT_REVOKED)
        atomic_store(&revoked, 1);
    else if (ev->type == LEADER_EVENT_ERROR)
        fprintf(stderr, "consumer: %s\n", ev->message);
}

int main(int argc, char **argv)
{
    char version[32], key[64], err[256];
    const char *url = argc > 1 ? argv[1] : getenv("REDIS_URL");
    struct timespec tick = {0, 10 * 1000 * 1000};
    leader_options o;
    leader *l;
    uint64_t term = 0;
    int i, rc;

    /* The header and the library must be the same release. */
    snprintf(version, sizeof version, "%d.%d.%d", LEADER_VERSION_MAJOR,
             LEADER_VERSION_MINOR, LEADER_VERSION_PATCH);
    if (strcmp(version, leader_version()) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", version,
                leader_version());
        return 1;
    }
    if (url == NULL) {
        fprintf(stderr, "usage: consumer REDIS_URL\n");
        return 1;
    }

    snprintf(key, sizeof key, "consumer-%ld", (long) getpid());
    leader_options_init(&o);
    o.url = url;
    o.key = key;
    o.ttl_ms = 2000;
    l = leader_new(&o, err, sizeof err);
    if (l == NULL) {
        fprintf(stderr, "consumer: leader_new: %s\n", err);
        return 1;
    }
    leader_on(l, on_event, NULL);
    rc = leader_elect(l);
    if (rc != 0) {
        fprintf(stderr, "consumer: leader_elect: %s\n", leader_strerror(rc));
        leader_free(l);
        return 1;
    }
    for (i = 0; i < 1000 && !atomic_load(&elected); i++)
        nanosleep(&tick, NULL);
    if (atomic_load(&elected) && leader_has_lease(l))
        term = leader_term(l);
    rc = leader_is_leader(l);
    leader_stop(l);
    leader_free(l);

    if (term == 0 || rc != 1 || !atomic_load(&revoked)) {
        fprintf(stderr,
                "consumer: not elected (elected %d, term %llu, "
                "is_leader %d, revoked %d)\n",
                atomic_load(&elected), (unsigned long long) term, rc,
                atomic_load(&revoked));
        return 1;
    }
    printf("consumer: libleader %s, elected with term %llu\n", leader_version(),
           (unsigned long long) term);
    return 0;
}
