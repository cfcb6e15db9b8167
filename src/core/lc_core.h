/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_core.h - the election state machine, free of I/O, clocks and threads.
 *
 * The core is fed inputs (the time, "connected", a reply to a command it
 * asked for, a notification, "connection lost", start, stop) and answers
 * with outputs: commands to send, events to emit, connection actions and
 * the absolute time at which it next wants a TICK. The driver reads the
 * clock; the core only compares the times it is given. The same code runs
 * under the library's driver and under the simulator in tests/sim.
 *
 * Protocol and timing rules: DESIGN.md sections 3 and 4.
 */
#ifndef LC_CORE_H
#define LC_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_reply.h"

/* Milliseconds on the driver's monotonic clock. */
typedef int64_t lc_time;
#define LC_NEVER INT64_MAX

#define LC_ID_MAX 255

enum lc_cmd_kind {
    LC_CMD_ACQUIRE = 1, /* term: highest term seen, the new term's floor */
    LC_CMD_RENEW,       /* term: the leadership to extend */
    LC_CMD_RELEASE,     /* term: the leadership to end */
    LC_CMD_READ,        /* read holder, its pttl and the term (observers) */
    LC_CMD_PROBE        /* PTTL of the holder key: a follower's look
                         * between tries while the key is known to live */
};

struct lc_cmd {
    enum lc_cmd_kind kind;
    uint64_t seq; /* the reply must carry it back */
    uint64_t term;
};

enum lc_event_kind {
    LC_EV_ELECTED = 1,
    LC_EV_REVOKED,
    LC_EV_ERROR,
    LC_EV_CHANGED /* who leads changed: holder (NULL: nobody) and term */
};

struct lc_event {
    enum lc_event_kind kind;
    uint64_t term;
    int error;          /* LEADER_E... or 0 */
    const char *holder; /* who leads, when known, else NULL */
    const char *message;
};

enum lc_state { LC_IDLE, LC_FOLLOWER, LC_LEADER, LC_RELEASING, LC_OBSERVER };
enum lc_conn { LC_DOWN, LC_CONNECTING, LC_UP };

enum lc_action {
    LC_ACT_CONNECT = 1,   /* open the connection, then feed CONNECTED or
                           * CONN_FAILED */
    LC_ACT_DISCONNECT = 2 /* drop the connection; replies still in flight
                           * on it must not be fed any more */
};

#define LC_MAX_CMDS   2
#define LC_MAX_EVENTS 8
#define LC_MSG_MAX    160

/* What one step asks of the driver. The caller provides it to lc_step()
 * (one buffer may serve any number of cores stepped one at a time); the
 * strings events point to belong to the core. Valid until the next step.
 * Actions come first: a DISCONNECT applies to the connection that existed
 * before the step, and commands go to the connection that exists (or is being
 * opened) after it. */
/* What a step changed, in lc_output.changed. */
#define LC_CHG_STATE  1u  /* status.state */
#define LC_CHG_LEASE  2u  /* lease_end (a new lease, a renewal, the end) */
#define LC_CHG_TERM   4u  /* term */
#define LC_CHG_LISTEN 8u  /* listening */
#define LC_CHG_CONN   16u /* attached */
#define LC_CHG_UP     32u /* connected */

/* What the driver and the application follow of a core. */
struct lc_status {
    lc_time lease_end; /* as lc_lease_end() */
    uint64_t term;     /* as lc_term() */
    enum lc_state state;
    uint8_t listening; /* wants notifications: a follower, leader or
                        * observer */
    uint8_t attached;  /* wants a connection: CONNECTING or UP */
    uint8_t connected; /* the connection is UP */
};

/* How the reply to a renewal came out, in lc_output.renewal: the facts
 * the core alone knows (the send time, the deadline the renewal was to
 * extend), for the driver to count. */
enum lc_renew_outcome {
    LC_RENEW_NONE = 0,  /* the step handled no reply to a renewal */
    LC_RENEW_CONFIRMED, /* Redis extended the lease */
    LC_RENEW_REFUSED,   /* the key is not ours: the leader steps down */
    LC_RENEW_FAILED,    /* an error reply: renewed again after a backoff */
    LC_RENEW_LATE       /* no reply within the command's timeout: given up
                         * as lost (the connection is dropped) */
};

struct lc_renewal {
    enum lc_renew_outcome outcome;
    lc_time rtt;   /* reply time (LATE: give-up time) - send time */
    lc_time slack; /* CONFIRMED: the lease deadline as it stood before
                    * this renewal, minus the reply time: how much margin
                    * was left */
};

struct lc_output {
    unsigned actions; /* LC_ACT_... bits */
    /* The core as the step left it, and what of it changed since the
     * step before (LC_CHG_... bits), as raft's Ready reports it. */
    struct lc_status status;
    unsigned changed;
    int ncmds;
    struct lc_cmd cmds[LC_MAX_CMDS];
    int nevents;
    struct lc_event events[LC_MAX_EVENTS];
    lc_time deadline;          /* feed a TICK at this time, LC_NEVER for none */
    struct lc_renewal renewal; /* a renewal's reply handled in this step */
    char msg[LC_MAX_EVENTS][LC_MSG_MAX];
    char holder[LC_MAX_EVENTS][LC_ID_MAX + 1]; /* the events' holders */
};

enum lc_input_kind {
    LC_IN_START = 1,   /* begin campaigning */
    LC_IN_STOP,        /* stop; release the key if leader */
    LC_IN_TICK,        /* a deadline was reached (or any time passed) */
    LC_IN_CONNECTED,   /* the connection is ready for commands */
    LC_IN_CONN_FAILED, /* a connect attempt failed: error, text */
    LC_IN_CONN_LOST,   /* the connection broke: error, text */
    LC_IN_REPLY,       /* the reply to command seq: value */
    LC_IN_NOTIFY,      /* a message on the election channel: text, len */
    LC_IN_SUBSCRIBED,  /* (re)subscribed to the channel: catch up */
    LC_IN_OBSERVE,     /* watch who leads without campaigning */
    LC_IN_NEW_TERM,    /* leader: take a new term, keeping the key */
    LC_IN_SUB_REFUSED, /* the server refused to subscribe to the channel
                        * (error, text): the election goes on without
                        * notifications; only reported */
    LC_IN_UNHEALTHY,   /* the application is not fit to lead: a leader
                        * gives the leadership up (REVOKED, released), and
                        * no candidate campaigns until HEALTHY */
    LC_IN_HEALTHY,     /* fit to lead again: campaign at once */
    LC_IN_PROGRESS     /* the connection answered other commands within
                        * the command timeout: the one awaited is queued
                        * behind them, not lost; wait on for it (a
                        * leader still steps down at its deadline) */
};

/* One input. Everything it points to is borrowed for the step only. */
struct lc_input {
    enum lc_input_kind kind;
    lc_time now; /* the driver's clock; a value older than an earlier
                  * input's is taken as that earlier value */
    uint64_t seq;
    const struct lc_value *value;
    int error;
    const char *text;
    size_t len;
    /* CONNECTED: to another server than this core used before (the
     * sentinels named a new master). A leader steps down at once, and no
     * one acquires there for one ttl: a lease of the old master that did
     * not reach the new one runs out first (docs/protocol.md, Sentinel). */
    int fresh;
    /* TICK: a leader whose next renewal falls due within this many ms
     * renews now (0: only when due). The session offers it to line up
     * the renewals of many elections on one connection, which then go to
     * Redis in one script call. Renewing early is always safe: a lease
     * counts from its renewal's send. Ignored by every other input and
     * state, and while renewals fail (the retry's backoff stands). */
    lc_time early;
};

struct lc_config {
    const char *id; /* borrowed for the core's life; 1..LC_ID_MAX bytes */
    lc_time ttl;    /* lease length in ms, > 0 */
    lc_time wait;   /* longest pause between tries, >= 0 */
    uint64_t seed;  /* for backoff jitter */
    /* 0 for the default, ttl/3 between 5 ms and 2 s; else the bound on
     * opening a connection (> 0), and on each command's reply (1 ..
     * ttl/3, so that a lost renewal can be sent again in the lease) */
    lc_time connect_timeout, cmd_timeout;
};

/* The core. Its fields are private (lc_core_int.h); a caller provides
 * lc_core_size() bytes, aligned for any type, and reads the core through
 * the getters below and the reports of each step's output. */
struct lc_core;

/* The size of a core, for the caller to provide its memory. */
size_t lc_core_size(void);

/* Prepares a core in the IDLE state in c, lc_core_size() bytes. The
 * config must be valid (the public API validates options); returns 0, or
 * -1 if it is not. */
int lc_init(struct lc_core *c, const struct lc_config *cfg);

/* Feeds one input and writes what to do into out, which it returns. */
const struct lc_output *lc_step(struct lc_core *c, const struct lc_input *in,
                                struct lc_output *out);

/* The next time the core wants a TICK (LC_NEVER for none). */
lc_time lc_deadline(const struct lc_core *c);

/* Local lease: 1 if leader with a lease valid at now. */
int lc_has_lease(const struct lc_core *c, lc_time now);

/* 1 while campaigning or releasing (the driver keeps running). */
int lc_busy(const struct lc_core *c);

enum lc_state lc_state(const struct lc_core *c);

/* LEADER: the local lease deadline; 0 in any other state. */
lc_time lc_lease_end(const struct lc_core *c);

/* LEADER or RELEASING: the leadership's term; 0 otherwise. */
uint64_t lc_term(const struct lc_core *c);

/* 1 while a release is owed or awaited: a stop has not settled yet. */
int lc_releasing(const struct lc_core *c);

/* What the core believes of its connection: DOWN, CONNECTING or UP. */
enum lc_conn lc_conn_state(const struct lc_core *c);

/* The seq of the last command asked for, and the kind of the one whose
 * reply is awaited (0 for none). */
uint64_t lc_last_seq(const struct lc_core *c);
enum lc_cmd_kind lc_awaiting(const struct lc_core *c);

/* The config's id, ttl, and the time a command (or an opening) may take. */
const char *lc_id(const struct lc_core *c);
lc_time lc_ttl(const struct lc_core *c);
lc_time lc_cmd_timeout(const struct lc_core *c);
/* When the command awaited was sent (lc_awaiting()). */
lc_time lc_sent_at(const struct lc_core *c);
lc_time lc_connect_timeout(const struct lc_core *c);

/* The longest wait before a reconnect or a retry after an error. */
lc_time lc_backoff_cap(const struct lc_core *c);

/* A pseudo-random number from the state *rng (never 0), for jitter. */
uint64_t lc_random(uint64_t *rng);

/* Capped exponential backoff with jitter over the upper half: the wait
 * before attempt number attempt (1, 2, ...), from 20 ms up to cap. */
lc_time lc_backoff(uint64_t *rng, unsigned attempt, lc_time cap);

/* ttl - drift: how long a lease lasts from its command's send time. */
lc_time lc_lease_length(lc_time ttl);

#endif /* LC_CORE_H */
