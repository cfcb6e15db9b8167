/* SPDX-License-Identifier: BSD-3-Clause */
/* leader_int.h - the public API's internal structures, shared by leader.c
 * (handles), client.c (the loop: thread or caller-driven) and query.c (the
 * blocking query connection).
 *
 * Locking: a client's lock guards the fields marked "lock" of the client
 * and of its handles. Fields marked "loop" belong to whoever runs the loop
 * (the client's thread, or the caller of leader_process) and are touched
 * by nobody else. io_lock guards the I/O layer (the client's io), which
 * other threads reach only to add a handle; the loop holds it while it
 * steps the elections, and never while a callback runs: the turn's events
 * are queued and dispatched once io_lock is released. The lease fields
 * are atomics for lock-free readers.
 */
#ifndef LEADER_INT_H
#define LEADER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "io/lio_mux.h"
#include "leader.h"
#include "util/lu_url.h"

#define REQ_START   1u
#define REQ_STOP    2u
#define REQ_FREE    4u
#define REQ_OBSERVE 8u
#define REQ_TERM    16u /* a new term for the current leadership */

/* A handle's lease word: the lease deadline (ms on lu_now_ms()'s clock, 0
 * when not leading) in the low LP_LEASE_BITS bits, and above them a count
 * of the stops asked for, modulo 2^(64 - LP_LEASE_BITS). A stop bumps the
 * count and clears the deadline in one atomic step; the loop publishes a
 * deadline only under the count it saw when it last took the handle's
 * requests, so no publish can bring back a leadership stopped since. */
#define LP_LEASE_BITS   42 /* 139 years of uptime in ms */
#define LP_LEASE_MASK   ((UINT64_C(1) << LP_LEASE_BITS) - 1)
#define LP_LEASE_END(w) ((int64_t) (LP_LEASE_MASK & (w)))
#define LP_LEASE_GEN(w) ((w) >> LP_LEASE_BITS)

/* An event of a loop turn, waiting for io_lock to be released. Its strings
 * are in the client's text buffer. Kind 0 marks where the handle's stops
 * settled: term then holds the count of stops settled. */
#define LP_NO_TEXT ((size_t) -1)

struct lp_event {
    leader *l;
    int kind; /* LC_EV_..., or 0 */
    int error;
    uint64_t term;
    size_t holder; /* offset in text, or LP_NO_TEXT */
    size_t message;
};

struct leader_client {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* stops settled, handles released */
    struct lu_url url;
    int event_loop; /* the caller drives the loop; no thread */

    /* lock */
    leader *pending; /* handles with requests, linked by next_pending */
    size_t handles;  /* handles still attached */
    int thread_started;
    int exiting;       /* the thread is asked to end */
    int free_deferred; /* leader_client_free from the thread: it frees */
    pthread_t thread;

    /* loop */
    leader *closing;         /* handles being freed, linked by next_closing */
    leader *deferred;        /* freed from a callback, linked by next_deferred:
                              * their memory goes once they are released */
    int dispatching;         /* inside a turn (callbacks included) */
    struct lp_event *events; /* the turn's events, in order */
    size_t nevents, events_cap;
    char *text; /* their strings */
    size_t text_len, text_cap;

    /* io_lock (recursive) */
    pthread_mutex_t io_lock;
    struct lio_mux io;

    pthread_mutex_t query_lock; /* the blocking query connection */
    redisContext *query;
    char query_err[256];   /* the last query's failure, for leader_errmsg */
    long query_timeout_ms; /* the shortest asked for by its handles */
};

struct leader {
    leader_client *client;
    int owns_client; /* made by leader_new: freed with the handle */
    char *key;
    char *id;               /* 1..LC_ID_MAX bytes */
    struct lio_names names; /* its Redis names */
    long ttl_ms, wait_ms;

    /* lock */
    leader_callback cb;
    void *userdata;
    int active;        /* between elect (or observe) and stop */
    unsigned requests; /* REQ_... for the loop */
    int queued;        /* in the client's pending list */
    leader *next_pending;
    uint64_t stops_asked; /* stop requests made, */
    uint64_t stops_taken; /* taken by the loop, */
    uint64_t stops_done;  /* and settled there */
    int released;         /* the loop has let go of the handle (free) */
    int free_deferred;    /* leader_free from a callback of its client */

    /* loop */
    struct lio_slot *election;
    int closing; /* being freed: only REVOKED is delivered now */
    leader *next_closing;
    leader *next_deferred;
    uint64_t lease_gen;    /* LP_LEASE_GEN of the lease word at the last
                            * take of requests */
    uint64_t stops_seen;   /* stops_taken, as of the last take */
    uint64_t stops_queued; /* the settled count last queued */

    _Atomic uint64_t lease; /* LP_LEASE_... */
    _Atomic uint64_t term;
};

/* client.c: the loop */

/* A client over url, with its loop run by a thread of its own (started
 * with the first request) or by the caller (event_loop). NULL with a
 * reason in err. */
leader_client *lp_client_create(const struct lu_url *url, int event_loop,
                                char *err, size_t errlen);

/* Frees the client; from its own thread, once the callback returns. Its
 * handles must be gone. */
void lp_client_destroy(leader_client *c);

/* Adds l's election to the client. 0 or a LEADER_E... code. */
int lp_client_attach(leader_client *c, leader *l, const char *key_hex,
                     uint64_t seed);

/* Hands a REQ_... to the loop. START and OBSERVE are refused with
 * LEADER_ESTATE while the handle is active, STOP when it is not, TERM
 * unless it holds a lease now. */
int lp_request(leader *l, unsigned request);

/* Waits (bounded, on CLOCK_MONOTONIC) for the stops asked so far to settle
 * and their events to be dispatched, unless called from the loop itself. */
void lp_wait_stop(leader *l);

/* 1 while the calling thread runs a callback of the library (any handle's,
 * any client's). */
int lp_in_callback(void);

/* Detaches and frees the handle once its election has stopped; from a
 * callback of its client, once the loop has released it after the turn. */
void lp_release(leader *l);

/* query.c: the blocking query connection */
int lp_is_leader(leader *l);
int lp_current(leader *l, leader_info *info);
int lp_release_term(leader *l, uint64_t term);
/* Closes the query connection and frees the client's TLS context (the
 * last thing of the client to use it). */
void lp_query_close(leader_client *c);

#endif
