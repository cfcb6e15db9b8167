/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_mux.h - any number of elections over one Redis connection (plus
 * one for notifications), driven by the caller's loop.
 *
 * Each election has its own core, which believes it has a connection of
 * its own: the client maps the cores' connect and disconnect requests onto
 * the shared connection, routes every reply to its election by the
 * command's tag, and subscribes each active election's channel on the
 * notification connection. Commands of all elections are pipelined.
 *
 * The caller waits until lio_mux_fd() is readable or
 * lio_mux_deadline() passes, then calls lio_mux_process(). Every
 * call takes the caller's "now" (lu_now_ms(), read once per loop turn).
 * lio_mux_fd() also becomes readable by itself at lio_mux_deadline(),
 * on the library's clock (CLOCK_BOOTTIME, which counts suspend): a poll()
 * timeout runs on CLOCK_MONOTONIC, which stops while the machine sleeps,
 * and would wake the caller late after a resume. Events reach each
 * election's owner through its emit function, never from inside a hiredis
 * callback; a step's events go out before any connection it asks for is
 * started. One thread at a time; lio_mux_wake() is the one function
 * another thread may call.
 *
 * Nothing here blocks: host names are looked up without blocking, every
 * opening has a deadline (the core's connect deadline for the command
 * connection), and TCP sockets have keepalive probes. The notification
 * connection is checked with a PING, answered on a subscribed connection
 * too; one not answered in time is replaced and subscribed again. With t
 * the shortest ttl among the client's elections:
 *   - PING every t/3, between 0.5 and 5 s; the reply is due within t/3,
 *     between 0.25 and 2 s; opening the connection has as long;
 *   - TCP keepalive probes after t/3 of silence (between 1 and 15 s),
 *     every third of that; three unanswered ones end the connection.
 */
#ifndef LIO_MUX_H
#define LIO_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_core.h"
#include "io/lio_conn.h"
#include "util/lu_url.h"

#define LIO_KEY_MAX 64 /* "{leader:" + 40 hex + "}:term" and the rest */

struct lio_mux;
struct lio_record;

/* Called with each event of an election, and with NULL after every step
 * of its core (its lease or state may have moved). */
typedef void (*lio_emit_fn)(void *owner, const struct lc_event *ev);

/* The Redis names of an election. Only the holder key is kept: the term
 * counter and the channel are derived from it when needed, which saves
 * memory when a process hosts many elections. */
#define LIO_HOLDER_MAX 48 /* "leader:" + 40 hex digits + NUL */

struct lio_names {
    char holder_key[LIO_HOLDER_MAX];
};

/* Fills names for the election whose name hashes to key_hex. */
void lio_names_make(struct lio_names *names, const char *key_hex);

/* The term counter's key and the notification channel, into buf. */
const char *lio_term_key(const struct lio_names *n, char buf[LIO_KEY_MAX]);
const char *lio_channel(const struct lio_names *n, char buf[LIO_KEY_MAX]);

struct lio_slot_config {
    const char *id;                /* borrowed for the election's life */
    const struct lio_names *names; /* borrowed for the election's life */
    long ttl_ms, wait_ms;
    uint64_t seed;
};

struct lio_slot {
    struct lc_core core;
    const struct lio_names *names;
    char ttl_text[24];
    struct lio_mux *client;
    uint32_t slot;
    uint8_t gen;
    size_t heap_pos;        /* in the client's deadline heap */
    lc_time deadline;       /* lc_deadline() as last seen */
    int subscribed;         /* its channel, on the current sub connection */
    int active;             /* counted in the client's active elections */
    struct lc_cmd last_cmd; /* the command awaited, for EVAL fallback */
    lio_emit_fn emit;
    void *owner;
};

struct lio_mux {
    struct lu_url url;
    struct lio_conn cmd, sub;
    struct lio_record *queue;
    size_t queued, queue_cap;
    int dropped; /* a record could not be queued */

    struct lio_slot **slots; /* by slot; NULL when free */
    uint8_t *gens;               /* bumped when a slot is freed */
    size_t nslots;
    struct lio_slot **heap; /* min-heap on deadline */
    size_t heap_n;
    size_t attached; /* elections whose core wants the connection */
    size_t active;   /* elections that want notifications */

    struct lc_output out;         /* every core's step writes here */
    struct lio_slot *breaker; /* dropped the shared connection */
    int broken_error;

    lc_time now;
    lc_time sub_retry_at;
    unsigned sub_failures;
    lc_time sub_ping_at; /* next health check of the sub connection */
    lc_time sub_pong_by; /* its PING's reply is due, LC_NEVER for none */
    uint64_t rng;
    char sha[LC_CMD_READ + 1][41]; /* of each command's script */

    int epfd, evfd;      /* what the caller polls; its wake-up */
    int tfd;             /* a timer at the next deadline, in epfd */
    lc_time tfd_armed;   /* ... armed at this time (LC_NEVER: disarmed) */
    int reg_fd[2];       /* sockets registered in epfd: cmd, sub */
    uint64_t reg_gen[2]; /* ... of which opening of the connection */
    unsigned reg_events[2];
};

/* Returns 0, or LEADER_ENOMEM / LEADER_ECONN (no epoll, eventfd or
 * timerfd). url is copied. */
int lio_mux_init(struct lio_mux *c, const struct lu_url *url,
                    uint64_t seed);

/* Closes everything and frees every election still in the client. */
void lio_mux_free(struct lio_mux *c);

/* Adds an election, IDLE. NULL on failure (LEADER_EINVAL config or out of
 * memory, in *rc). */
struct lio_slot *lio_mux_add(struct lio_mux *c,
                                    const struct lio_slot_config *cfg,
                                    lio_emit_fn emit, void *owner, int *rc);

/* The election's core, for its getters (lc_state(), lc_lease_end(), ...). */
const struct lc_core *lio_mux_core(const struct lio_slot *e);

/* Removes and frees an election (stop it first to release its key). */
void lio_mux_remove(struct lio_mux *c, struct lio_slot *e);

/* Feeds START, STOP, OBSERVE, NEW_TERM or TICK to one election. The
 * commands it asks for are queued, not written: the next
 * lio_mux_process() writes them, so the caller can deliver the step's
 * events in between (a stop's REVOKED reaches the application before the
 * release can reach Redis). */
void lio_mux_input(struct lio_mux *c, struct lio_slot *e,
                      enum lc_input_kind kind, lc_time now);

/* The descriptor to poll for reading: readable when lio_mux_process()
 * has I/O to handle, when lio_mux_deadline() has come (on the library's
 * clock) or when lio_mux_wake() was called. Stable. */
int lio_mux_fd(const struct lio_mux *c);

/* Handles whatever is ready and every deadline that has passed. */
void lio_mux_process(struct lio_mux *c, lc_time now);

/* The next time lio_mux_process() must run, LC_NEVER for none. */
lc_time lio_mux_deadline(const struct lio_mux *c);

/* Makes lio_mux_fd() readable. Safe from any thread. */
void lio_mux_wake(struct lio_mux *c);

#endif
