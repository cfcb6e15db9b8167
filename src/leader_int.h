/* leader_int.h - the public API's internal structures, shared by leader.c
 * (handles), client.c (the loop: thread or caller-driven) and query.c (the
 * blocking query connection).
 *
 * Locking: a client's lock guards the fields marked "lock" of the client
 * and of its handles. Fields marked "loop" belong to whoever runs the loop
 * (the client's thread, or the caller of leader_process) and are touched
 * by nobody else; other threads that must reach the loop's state (adding
 * a handle) take io_lock, which the loop holds while it works. The lease
 * fields are atomics for lock-free readers.
 */
#ifndef LEADER_INT_H
#define LEADER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "io/lio_client.h"
#include "leader.h"
#include "util/lu_url.h"

#define REQ_START   1u
#define REQ_STOP    2u
#define REQ_FREE    4u
#define REQ_OBSERVE 8u
#define REQ_TERM    16u /* a new term for the current leadership */

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
    struct lio_client io;
    leader *closing; /* handles being freed, linked by next_closing */

    pthread_mutex_t io_lock; /* io, taken by the loop around its work */
    int dispatching;         /* loop: inside lio_client_process */

    pthread_mutex_t query_lock; /* the blocking query connection */
    redisContext *query;
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
    int free_deferred;    /* leader_free from its own callback */

    /* loop */
    struct lio_election *election;
    int closing; /* being freed: only REVOKED is delivered now */
    leader *next_closing;

    _Atomic int64_t lease_end; /* 0 when not leader */
    _Atomic uint64_t term;
    _Atomic int stopped; /* stop or free asked: no lease from now on */
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

/* Waits (bounded) for the stops asked so far to settle, unless called from
 * the loop itself. */
void lp_wait_stop(leader *l);

/* Detaches and frees the handle once its election has stopped; from the
 * loop's own thread, after the callback returns. */
void lp_release(leader *l);

/* query.c: the blocking query connection */
int lp_is_leader(leader *l);
int lp_current(leader *l, leader_info *info);
int lp_release_term(leader *l, uint64_t term);
void lp_query_close(leader_client *c);

#endif
