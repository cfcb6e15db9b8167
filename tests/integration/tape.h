/* SPDX-License-Identifier: BSD-3-Clause */
/* tape.h - events recorded with the library's clock (leader_clock_ms(),
 * CLOCK_BOOTTIME), for tests that hold an event to a deadline the library
 * states on that clock (leader_lease_deadline()). */
#ifndef LEADER_TEST_TAPE_H
#define LEADER_TEST_TAPE_H

#include <pthread.h>
#include <stdint.h>

#include "leader.h"

#define TAPE_MAX 256

struct tape_entry {
    const leader *l;
    leader_event_type type;
    int error;
    int64_t at; /* leader_clock_ms() in the callback */
    int has_leader;
    char message[160];
};

struct tape {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tape_entry e[TAPE_MAX];
    int n;
};

void tape_init(struct tape *t);
void tape_destroy(struct tape *t);

/* The callback to give leader_on() with the tape as userdata. */
void tape_record(leader *l, const leader_event *ev, void *userdata);

/* Waits until l (any handle if NULL) has an event of type, at most until
 * the library's clock reads until_ms; copies it to out (if not NULL).
 * Returns 1 if found, else 0. */
int tape_wait(struct tape *t, const leader *l, leader_event_type type,
              int64_t until_ms, struct tape_entry *out);

/* How many events of type l (any if NULL) has. */
int tape_count(struct tape *t, const leader *l, leader_event_type type);

/* Prints the tape to stderr. */
void tape_dump(struct tape *t);

#endif
