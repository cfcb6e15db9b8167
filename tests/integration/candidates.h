/* SPDX-License-Identifier: BSD-3-Clause */
/* candidates.h - candidates for integration tests: leader handles whose
 * events go to one shared, ordered log, with waits on that log and the
 * checks every test wants (one leader at a time, growing terms). */
#ifndef LEADER_TEST_CANDIDATES_H
#define LEADER_TEST_CANDIDATES_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "leader.h"

#define LOG_MAX  4096
#define CAND_MAX 8

struct logged {
    int cand;
    leader_event_type type;
    uint64_t term;
    int error;
    int64_t at_ms; /* the test's monotonic clock */
    char message[160];
    char leader_id[256]; /* ev->leader_id, "" when NULL */
};

struct cand {
    struct world *w;
    int index;
    leader *l;
};

struct world {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct logged log[LOG_MAX];
    int n;
    struct cand c[CAND_MAX];
    int ncand;
    /* Optional hook, run in the callback after logging (no lock held). */
    void (*hook)(struct cand *c, const leader_event *ev);
};

struct rfx_server;
struct rfx_options;

/* A private redis-server: skips the test when there is none, fails it
 * when it cannot start. */
struct rfx_server *start_redis(const struct rfx_options *o);

/* A leader in a child process (id NULL: random), to be killed -9 by the
 * test; returns once it holds a lease. */
pid_t spawn_leader(const char *url, const char *key, long ttl, const char *id);

/* The same with every option given. */
pid_t spawn_leader_opts(const leader_options *o);

int64_t now_ms(void);
void sleep_ms(long ms);

/* A handle, not campaigning yet (id NULL: random); fails the test if
 * leader_new refuses the options. */
leader *new_handle(const char *url, const char *key, const char *id, long ttl,
                   long wait, int event_loop);

/* Event-loop mode: runs both handles' loops with poll() for ms, or until
 * *until (if not NULL) reaches want. a and b may be the same handle. */
void run_loops(leader *a, leader *b, long ms, const int *until, int want);

void world_init(struct world *w);
/* Frees every candidate (leader_free) and the world's lock. */
void world_free(struct world *w);

/* Adds a candidate (or an observer: it is up to the test to call
 * leader_elect or leader_observe); fails the test if leader_new fails. */
struct cand *world_add(struct world *w, const char *url, const char *key,
                       long ttl_ms, long wait_ms);

/* The same with every option given (TLS, ...). */
struct cand *world_add_opts(struct world *w, const leader_options *o);

/* Waits up to ms for the count of events of type (for cand, or any cand
 * if -1) to reach want. Returns the count reached. */
int world_wait(struct world *w, int cand, leader_event_type type, int want,
               long ms);
int world_count(struct world *w, int cand, leader_event_type type);

/* The index of the last logged event of type for cand (or any: -1), -1 if
 * none; and a copy of it. */
int world_last(struct world *w, int cand, leader_event_type type,
               struct logged *out);

/* Waits until exactly one candidate holds a lease; returns its index or
 * -1 after ms. */
int world_wait_leader(struct world *w, long ms);

/* Fails the test unless, in log order, no ELECTED comes while another
 * candidate's leadership is open, every REVOKED closes one, and terms of
 * successive ELECTED events strictly grow. */
void world_check_log(struct world *w);

/* Prints the event log to stderr, for a failing test. */
void world_dump(struct world *w);

#endif
