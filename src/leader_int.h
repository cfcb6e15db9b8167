/* SPDX-License-Identifier: BSD-3-Clause */
/* leader_int.h - the public API's internal structures and the rules they
 * live by, shared by leader.c (the calls of a handle), client.c (the
 * lifecycle of clients and handles), loop.c (the loop turn), runner.c (the
 * thread that runs the loop) and query.c (the blocking query connection).
 * Their internal names start with lp_ ("leader, public side").
 *
 * Errors
 * ------
 * - A function that can fail returns 0 or a negative LEADER_E... code; one
 *   that answers a question returns 1, 0 or a negative code. No -1 with
 *   errno: errno (or a pthread_* result) is turned into a code where the
 *   call fails, and goes no further.
 * - A function that cannot fail returns void.
 * - A constructor returns the object, or NULL with the code in *rc
 *   (lio_mux_add()). The ones behind leader_new() and leader_client_new()
 *   take the caller's err, errlen instead and write the reason there.
 * - Text is written once, by the function that knows the reason, into the
 *   caller's err buffer; lower layers return codes, never text, unless
 *   their contract says they write err (lu_url_parse(),
 *   lp_client_create()). leader_strerror() names a code.
 * - A NULL from the application is LEADER_EINVAL at the public entry. A
 *   broken precondition inside the library (a lock not held, a phase that
 *   cannot be, an internal pointer NULL) is a bug of ours, so it is an
 *   assert(), not an error code.
 *
 * Locking
 * -------
 * - lock (lp_lock()) guards the fields marked "lock" of a client and of
 *   its handles. It is held briefly and never across I/O or a callback.
 * - io_lock (lp_io_lock(), recursive) guards the client's mux. Other
 *   threads take it only to add a handle; the loop holds it while it steps
 *   the elections, and not while callbacks run: a turn's events are
 *   queued and dispatched once it is released. When io_lock and lock are
 *   both held, io_lock is taken first.
 * - Fields marked "loop" belong to whoever runs the loop (the client's
 *   thread, or the caller of leader_process()) and nobody else touches
 *   them.
 * - The lease words are atomics, for lock-free readers.
 * Functions that need a lock assert() it with lp_lock_held() or
 * lp_io_lock_held(); callbacks run with assert(!lp_lock_held()).
 *
 * Phases of a handle (l->phase, lock)
 * -----------------------------------
 *
 *   from                    to        when
 *   IDLE                    ACTIVE    leader_elect(), leader_observe()
 *   ACTIVE                  STOPPING  leader_stop()
 *   STOPPING                ACTIVE    leader_elect(), leader_observe() (the
 *                                     stop is carried out first)
 *   STOPPING                IDLE      the loop: every stop asked is settled
 *   IDLE, ACTIVE, STOPPING  FREEING   leader_free()
 *   FREEING                 CLOSING   the loop takes the free: it stops the
 *                                     election; only REVOKED is delivered
 *   CLOSING                 RELEASED  the loop detaches the election; the
 *                                     handle's memory may go
 *
 * ACTIVE means campaigning or observing, and only that. lp_set_phase()
 * asserts each change against this table.
 *
 * Phases of a client (c->phase, lock)
 * -----------------------------------
 *
 *   from           to        when
 *   IDLE           RUNNING   the first request in thread mode: the thread
 *                            that runs the loop starts
 *   IDLE, RUNNING  EXITING   leader_client_free() (or the owning handle's
 *                            leader_free()) from outside the loop: a
 *                            thread is woken and joined, then all is freed
 *   IDLE, RUNNING  DEFERRED  the same from the loop itself (a callback, or
 *                            the deferred free of the owning handle): the
 *                            loop frees the client once the turn is over
 *
 * An event-loop client stays IDLE until it is freed.
 */
#ifndef LEADER_INT_H
#define LEADER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "io/lio_mux.h"
#include "leader.h"
#include "util/lu_url.h"

enum lp_phase {
    LP_IDLE,
    LP_ACTIVE,
    LP_STOPPING,
    LP_FREEING,
    LP_CLOSING,
    LP_RELEASED
};

enum lp_client_phase {
    LP_CLIENT_IDLE,
    LP_CLIENT_RUNNING,
    LP_CLIENT_EXITING,
    LP_CLIENT_DEFERRED
};

/* What a handle's mailbox can hold for the loop. */
#define REQ_START   1u
#define REQ_STOP    2u
#define REQ_FREE    4u
#define REQ_OBSERVE 8u
#define REQ_TERM    16u /* a new term for the current leadership */
#define REQ_HEALTH  32u /* the application's health changed */

/* A handle's requests to its loop. Every stop and the free bump the
 * generation; the loop notes which generation it took, and settles a
 * generation once its stops are over (no release pending), which is what
 * leader_stop() waits for. */
struct lp_mailbox {
    /* lock */
    unsigned requests; /* REQ_..., not yet taken */
    uint64_t gen;      /* stops and the free posted */
    uint64_t settled;  /* the generation whose stops are over */
    int queued;        /* in the client's list of mailboxes to take */
    leader *next;      /* ... linked here */

    /* loop */
    uint64_t taken;    /* gen at the last take */
    uint64_t settling; /* the settlement last queued for dispatch */
};

/* A handle's lease word: the lease deadline (ms on lu_now_ms()'s clock, 0
 * when not leading) in the low LP_LEASE_BITS bits, and above them the
 * mailbox generation, modulo 2^(64 - LP_LEASE_BITS). A stop bumps the
 * generation and clears the deadline in one atomic store; the loop
 * publishes a deadline only under the generation it last took, so no
 * publish can bring back a leadership stopped since. */
#define LP_LEASE_BITS   42 /* 139 years of uptime in ms */
#define LP_LEASE_MASK   ((UINT64_C(1) << LP_LEASE_BITS) - 1)
#define LP_LEASE_END(w) ((int64_t) (LP_LEASE_MASK & (w)))
#define LP_LEASE_GEN(w) ((w) >> LP_LEASE_BITS)
#define LP_LEASE_WORD(gen, end)                                                \
    ((uint64_t) (gen) << LP_LEASE_BITS | ((uint64_t) (end) &LP_LEASE_MASK))

/* An event of a loop turn, waiting for io_lock to be released. Its strings
 * are in the client's text buffer. Kind 0 marks where the handle's stops
 * settled: term then holds the generation settled. */
#define LP_NO_TEXT ((size_t) -1)

struct lp_event {
    leader *l;
    int kind; /* LC_EV_..., or 0 */
    int error;
    uint64_t term;
    size_t holder; /* offset in text, or LP_NO_TEXT */
    size_t message;
};

/* A handle's counters (leader_stats()). The loop is their one writer
 * and bumps them as the steps of the handle's core report the facts;
 * readers on any thread load them, relaxed: each word is exact, the set
 * is not a snapshot, and no lock is taken on either side. */
struct lp_errors {
    _Atomic uint64_t n[LEADER_STATS_ERRORS];
};

struct lp_stats {
    _Atomic int64_t leading_since;
    _Atomic uint64_t elections_won;
    _Atomic uint64_t revoked_stop, revoked_new_term, revoked_lost,
        revoked_lease, revoked_conn, revoked_unhealthy, revoked_other;
    _Atomic uint64_t renewals_sent, renewals_confirmed, renewals_late,
        renewals_refused, renewals_failed;
    _Atomic uint64_t renew_rtt[LEADER_STATS_BUCKETS];
    _Atomic uint64_t renew_rtt_count, renew_rtt_sum_ms;
    _Atomic int64_t lease_slack, lease_slack_min;
    _Atomic uint64_t reconnects;
    /* Counted by error code, in a block allocated at the first ERROR:
     * most handles never see one, and with many elections per process the
     * block would be a third of a handle. */
    _Atomic(struct lp_errors *) errors;
    /* loop */
    int conn_lost; /* the connection broke while campaigning or observing,
                    * and is not back yet */
};

struct leader_client {
    pthread_mutex_t lock;
    _Atomic uintptr_t lock_owner; /* for lp_lock_held() */
    pthread_cond_t cond;          /* stops settled, handles released */
    /* Its servers: one, or in quorum mode an odd 3..LIO_QUORUM_MAX. Each
     * owns its TLS context (lp_query_close() frees them). */
    struct lu_url urls[LIO_QUORUM_MAX];
    size_t nurls;
    int event_loop; /* the caller drives the loop; no thread */

    /* lock */
    enum lp_client_phase phase;
    leader *mail; /* handles with requests, by mailbox.next */
    pthread_t thread;

    /* loop */
    leader *closing;         /* CLOSING handles, by next_closing */
    leader *deferred;        /* freed from a callback, by next_deferred:
                              * their memory goes once they are RELEASED */
    struct lp_event *events; /* the turn's events, in order */
    size_t nevents, events_cap;
    char *text; /* their strings */
    size_t text_len, text_cap;

    /* io_lock */
    pthread_mutex_t io_lock;
    _Atomic uintptr_t io_owner; /* for lp_io_lock_held() */
    unsigned io_depth;          /* its recursion, kept by its holder */
    struct lio_mux io;

    pthread_mutex_t query_lock;          /* the blocking query connections */
    redisContext *query[LIO_QUORUM_MAX]; /* one per server, opened lazily */
    char query_err[256]; /* the last query's failure (one server's) */
    /* Quorum mode: the last query's failure over all its servers, for
     * leader_errmsg (a server's own detail is in query_err meanwhile). */
    char quorum_err[1024];
    /* lock: the shortest asked for by its handles */
    long query_connect_ms, query_command_ms;
};

struct leader {
    leader_client *client;
    char *key;
    char *id;               /* 1..LC_ID_MAX bytes */
    struct lio_names names; /* its Redis names */
    long ttl_ms, wait_ms;
    long connect_timeout_ms, command_timeout_ms; /* 0: from ttl_ms */

    /* lock */
    leader_callback cb;
    void *userdata;
    struct lp_mailbox mail; /* and its loop marks */
    enum lp_phase phase;
    int unhealthy; /* as leader_set_healthy() last said */

    /* loop */
    struct lio_slot *election;
    leader *next_closing;
    leader *next_deferred;

    _Atomic uint64_t lease; /* LP_LEASE_... */
    _Atomic uint64_t term;
    struct lp_stats stats;

    int owns_client; /* made by leader_new: freed with the handle */
};

/* ---- client.c: locks, phases, requests, stop and free ---- */

void lp_lock(leader_client *c);
void lp_unlock(leader_client *c);
void lp_io_lock(leader_client *c);
void lp_io_unlock(leader_client *c);

/* 1 if the calling thread holds the lock. For assert(). */
int lp_lock_held(const leader_client *c);
int lp_io_lock_held(const leader_client *c);

/* Waits on the client's condition with lock held, until deadline (on
 * CLOCK_MONOTONIC; NULL for none). 0, or LEADER_ETIMEDOUT. */
int lp_wait(leader_client *c, const struct timespec *deadline);

/* Moves l to phase to, which the table above must allow. With lock. */
void lp_set_phase(leader *l, enum lp_phase to);
void lp_set_client_phase(leader_client *c, enum lp_client_phase to);

/* Records the application's health and posts it to the loop when it
 * changed. 0 or LEADER_ESTATE (the handle is being freed). */
int lp_set_health(leader *l, int healthy);

/* l's phase, read under lock. */
enum lp_phase lp_phase_of(leader *l);

/* A client over the n servers of urls (1, or a quorum), with its loop run
 * by a thread of its own (started with the first request) or by the
 * caller (event_loop). The urls are copied, with the ownership of their
 * TLS contexts. NULL with a reason in err. */
leader_client *lp_client_create(const struct lu_url *urls, size_t n,
                                int event_loop, char *err, size_t errlen);

/* 1 if this build's transport accepts a quorum of servers (an election
 * over several URLs), 0 while it refuses them: for tests that need one. */
int lp_quorum_available(void);

/* The message leader_new() and leader_client_new() give while the
 * transport refuses a quorum, for whoever must recognise it. */
#define LP_QUORUM_UNAVAILABLE "quorum mode is not available in this libleader"

/* Frees the client; from its own loop (a callback), once the turn is over.
 * Its handles must be gone. */
void lp_client_destroy(leader_client *c);

/* Frees everything of the client now: no thread may run its loop any more
 * (joined, or the caller is that thread, about to end). */
void lp_client_free_now(leader_client *c);

/* Posts a REQ_... to l's mailbox and wakes the loop. 0, or LEADER_ESTATE
 * when l's phase does not allow it (START and OBSERVE need IDLE or
 * STOPPING, STOP needs ACTIVE, TERM needs ACTIVE and a lease, FREE anything
 * before FREEING), or LEADER_ECONN when the thread cannot start. */
int lp_request(leader *l, unsigned request);

/* Waits (bounded, on CLOCK_MONOTONIC) until the stops asked so far are
 * settled and their events dispatched, unless called from the loop. */
void lp_wait_stop(leader *l);

/* How long a stop waits for its release to be confirmed. */
long lp_stop_wait_ms(const leader *l);

/* After a FREE request: frees the handle once RELEASED; from a callback of
 * its client, the loop finishes that after the turn. */
void lp_release(leader *l);

/* The memory of a RELEASED handle. */
void lp_handle_free(leader *l);

/* ---- loop.c: the loop turn ---- */

/* Adds l's election to the client's mux. 0 or a LEADER_E... code. */
int lp_client_attach(leader_client *c, leader *l, const char *key_hex,
                     uint64_t seed);

/* One turn: take the requests, process the mux, dispatch the events,
 * reap the handles freed. On the loop, with no lock held. */
void lp_loop_turn(leader_client *c);

/* Milliseconds until the loop must turn again: -1 none, 0 now. */
int lp_loop_timeout(leader_client *c);

/* Frees the memory of handles freed from callbacks, once RELEASED; in
 * event-loop mode turns the loop until they are (bounded). On the loop,
 * outside a callback. */
void lp_loop_finish_deferred(leader_client *c);

/* Event loop: turns the loop until l is RELEASED, bounded. */
void lp_loop_run_until_released(leader *l);

/* 1 while the calling thread runs a callback of client c, or of any
 * client for NULL. */
int lp_in_callback(const leader_client *c);

/* ---- stats.c: the counters ---- */

/* Starts l's counters at zero. */
void lp_stats_init(struct lp_stats *st);
/* Frees what the counters allocated, once the loop is done with them. */
void lp_stats_free(struct lp_stats *st);

/* Counts what one step of l's core reports: each event (ev), and once
 * per step (ev NULL) its renewal, commands and connection. On the loop. */
void lp_stats_count(leader *l, const struct lc_event *ev,
                    const struct lc_output *step);

/* ---- runner.c: the thread ---- */

/* Starts the client's thread; with lock held, from phase IDLE. 0 or
 * LEADER_ECONN. */
int lp_runner_start(leader_client *c);

/* Wakes the client's thread and waits for it to end; the phase must
 * already ask it to. */
void lp_runner_join(leader_client *c);

/* 1 when called from the code that runs c's loop: its thread, or in
 * event-loop mode the caller (who must not call from elsewhere). */
int lp_on_loop(const leader_client *c);

/* ---- query.c: the blocking query connection ---- */
int lp_is_leader(leader *l);
int lp_current(leader *l, leader_info *info);
int lp_release_term(leader *l, uint64_t term);
/* Closes the query connections and frees the TLS contexts of the
 * client's servers (the last thing of the client to use them). */
void lp_query_close(leader_client *c);

#endif
