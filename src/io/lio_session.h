/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_session.h - the session layer: any number of elections over one
 * command link and one notification link, whatever carries them.
 *
 * Each election has its own core, which believes it has a connection of
 * its own. The session is the policy between those cores and the links:
 *   - the order of actions: a step's events go out first, then the link
 *     it asks for is opened, then its commands are sent;
 *   - every election's commands are pipelined on the one command link,
 *     each with a tag (slot, slot generation, sequence) that routes its
 *     reply back to its election and tells a stale reply from a fresh one;
 *   - the NOSCRIPT -> EVAL fallback, with the lease still counted from the
 *     first send;
 *   - on one server (neither quorum mode nor a link that may reach a Redis
 *     Cluster), the renewals that the cores ask for during one call are
 *     sent together, in script calls of at most batch_max elections
 *     (lio_argv_batch), with leaders whose renewal falls due soon renewing
 *     early to fill them; each batch's answer reaches each election as its
 *     own reply, by its own tag;
 *   - a command that times out breaks the link for every election: each
 *     is told that its commands in flight are lost;
 *   - the notification link (in quorum mode one per server) is held while
 *     an election listens (a follower, leader or observer), each listening
 *     election's channel is subscribed on it, it is checked with a PING,
 *     and it is reopened with a backoff when it fails;
 *   - the links are opened with the timing of lio_proto.h.
 *
 * The links are behind a small transport interface (struct
 * lio_transport): the hiredis + epoll transport of lio_mux.c in the
 * library, a simulated network in tests/sim. The transport reports back
 * with lio_session_ready(), _failed(), _reply(), _subscribed() and
 * _message(), never from inside one of its own calls from the session.
 *
 * One thread at a time. Every entry point takes the caller's "now".
 * Nothing here blocks or reads a clock.
 */
#ifndef LIO_SESSION_H
#define LIO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_core.h"
#include "io/lio_proto.h"

/* The notification link, and the command links: LIO_LINK_CMD to the
 * server of the URL, and, in a Redis Cluster, LIO_LINK_NODE + i to the
 * other masters that the transport routes elections to. */
enum lio_link { LIO_LINK_CMD = 0, LIO_LINK_SUB = 1, LIO_LINK_NODE = 2 };
enum lio_link_state { LIO_LINK_DOWN = 0, LIO_LINK_OPENING, LIO_LINK_READY };

/* The tag of the notification link's health-check PING. */
#define LIO_PING_TAG UINT64_MAX
/* A tag no election has: the transport's own commands on a command link,
 * whose replies it keeps. */
#define LIO_TRANSPORT_TAG (UINT64_MAX - 1)
/* Quorum mode: the INFO server the session asks on each server's link. */
#define LIO_INFO_TAG (UINT64_MAX - 2)

/* How to open a link. */
struct lio_link_params {
    long timeout_ms; /* for the whole opening, lookup and setup included */
    int keepalive_s; /* TCP keepalive idle time; 0 for none */
};

/* What the session asks of whatever carries its links. None of these may
 * call back into the session: outcomes are reported later. */
struct lio_transport {
    /* Starts opening a link that is down. Its outcome comes back as
     * lio_session_ready() or lio_session_failed(). */
    void (*open)(void *ctx, enum lio_link link, const struct lio_link_params *p,
                 lc_time now);
    /* Closes a link at once; nothing more is reported for it, and replies
     * still in flight on it are never delivered. */
    void (*close)(void *ctx, enum lio_link link);
    enum lio_link_state (*state)(void *ctx, enum lio_link link);
    /* Sends a command on a ready link; its reply comes back with tag. 0,
     * or -1 (the link's failure, or a timeout, resolves the command). */
    int (*send)(void *ctx, enum lio_link link, uint64_t tag, int argc,
                const char **argv, const size_t *lens);
    /* SUBSCRIBE (on) or UNSUBSCRIBE (off) channel on a notification link;
     * the confirmation and every message come back with tag. */
    int (*subscribe)(void *ctx, enum lio_link link, uint64_t tag,
                     const char *channel, int on);
    void *ctx;
    /* For a Redis Cluster, NULL for one server. route: the command link
     * for an election whose holder key is key. redirect: for an error
     * reply that came on link from, the link to send the command on
     * instead (MOVED: the slot moved; ASK, with *ask set: this command
     * only, after ASKING), or -1 when the error is no redirection. */
    enum lio_link (*route)(void *ctx, const char *key);
    int (*redirect)(void *ctx, enum lio_link from, const char *text, size_t len,
                    int *ask);
    /* Whether the renewals of several elections may go out in one script
     * call on link (lio_argv_batch): the link reaches one server that is
     * not, and cannot turn out to be, a Redis Cluster node, whose slots
     * would refuse keys of many elections. NULL: never. */
    int (*batchable)(void *ctx, enum lio_link link);
};

/* Called with each event of an election, and with NULL after every step
 * of its core (its lease or state may have moved). step is the output of
 * the step that made the event, or that just ended: its status and its
 * report (changed bits, the renewal, the commands sent) are the owner's to
 * read, for the call only. */
typedef void (*lio_emit_fn)(void *owner, const struct lc_event *ev,
                            const struct lc_output *step);

struct lio_slot_config {
    const char *id;                /* borrowed for the election's life */
    const struct lio_names *names; /* borrowed for the election's life */
    long ttl_ms, wait_ms;
    uint64_t seed;
    long connect_timeout_ms, command_timeout_ms; /* 0: from ttl_ms */
};

/* One election in a session. */
struct lio_slot {
    /* Grouped by size: a session may hold a slot for each of a million
     * elections. */
    struct lc_core *core; /* in the slot's own allocation, after it */
    const struct lio_names *names;
    struct lio_session *session;
    lio_emit_fn emit;
    void *owner;
    lc_time deadline;       /* lc_deadline() as last seen */
    struct lc_cmd last_cmd; /* the command awaited, for the EVAL fallback */
    uint64_t server;        /* the server its core last reached, 0: none yet */
    lc_time resend_at;      /* a redirected command waits to be sent again
                             * until then (TRYAGAIN), 0: not waiting */
    struct lc_qop *qop;     /* quorum mode: the command awaited, as a round
                             * over the servers */
    uint64_t qfloor;        /* the highest term an op of this election read */
    char ttl_text[24];
    uint32_t index;
    uint32_t heap_pos;   /* in the session's deadline heap */
    unsigned subscribed; /* its channel, on each notification link (bit i:
                          * server i's in quorum mode) */
    enum lio_link link;  /* its command link, while its core has one */
    unsigned hops;       /* redirections of the command awaited */
    uint8_t gen;
    uint8_t listening;  /* wants notifications: counted in listeners */
    uint8_t ready_owed; /* CONNECTED is owed once this step is over */
    uint8_t moving;     /* a redirected command is sent again once link is
                         * ready */
    uint8_t asking;     /* ... after ASKING */
    uint8_t qowed;      /* the op's result is owed to the core */
    uint8_t qkeep;      /* the op is a leader's acquire for a new term: its
                         * grants extend the key its lease stands on */
};

/* The slots owed something once a step is over (CONNECTED, a quorum op's
 * result), listed by index so that settling visits those alone, not every
 * slot: elections added one by one to a ready link would otherwise each
 * cost a pass over all the others. A flag on the slot says whether it is
 * still owed; an index may be listed twice, or stay listed after its slot
 * went. When the list cannot grow, every slot is visited instead. */
struct lio_due {
    uint32_t *idx;
    size_t n, cap;
    size_t count; /* slots flagged */
    int scan;     /* the list could not grow: visit every slot */
};

/* An entry of the session's deadline heap: a slot and its deadline. */
struct lio_heap_ent {
    lc_time deadline;
    struct lio_slot *slot;
};

/* Quorum mode: what the session knows of one server. */
struct lio_qserver {
    int usable;            /* its link is ready and INFO was read on it */
    lc_time restart_bound; /* its restart was at or before this time */
    char run_id[48];
    lc_time retry_at; /* reopen its link not before */
    lc_time info_due; /* INFO's reply, once asked; 0: not waiting */
    unsigned failures;
};

/* A notification link: one, or in quorum mode one per server, each
 * checked with a PING and reopened after a backoff. */
struct lio_sub {
    lc_time retry_at;
    unsigned failures;
    lc_time ping_at; /* next health check */
    lc_time pong_by; /* its PING's reply is due, LC_NEVER for none */
};

/* What the session keeps per command link. */
struct lio_link_book {
    size_t attached;  /* elections whose core holds the link */
    uint64_t server;  /* behind the link, when ready */
    unsigned scripts; /* sent on it since it was last ready (bits) */
    lc_time answered; /* when a reply last came on it */
};

struct lio_session {
    struct lio_transport t;
    struct lio_slot **slots; /* by index; NULL when free */
    uint8_t *gens;           /* bumped when a slot is freed */
    size_t nslots;
    struct lio_heap_ent *heap; /* min-heap on deadline */
    size_t heap_n;
    size_t attached;     /* elections whose core wants a command link */
    size_t listeners;    /* elections that want notifications */
    struct lio_due owed; /* elections with ready_owed set */

    struct lc_output out;     /* every core's step writes here */
    struct lio_slot *breaker; /* broke the command link */
    lc_time now;
    struct lio_sub subs[LC_QUORUM_MAX]; /* by server (lio_sub_link) */
    uint64_t rng;
    struct lio_shas shas;
    struct lio_link_book *books; /* by link; notification links' unused */
    size_t nbooks;
    /* Quorum mode (docs/protocol.md, Quorum): nservers independent
     * servers, server i on the command link lio_server_link(i); 1 for one
     * server. */
    unsigned nservers;
    struct lio_qserver qs[LC_QUORUM_MAX];
    unsigned qstuck;      /* servers whose links a timeout found stuck */
    struct lio_due qowed; /* elections with qowed set */
    /* Renewals in batches (docs/protocol.md, Renewal in batches): the RENEWs
     * that the cores ask for during one entry point, by tag, are sent when it
     * settles, those of one link together, at most batch_max a script
     * call; then each batch awaits its reply here. */
    uint64_t *pending;
    size_t npending, cappending;
    int holding; /* collect, do not send yet (deadlines being run) */
    struct lio_batch **batches; /* awaited: from bhead to nbatches */
    size_t bhead, nbatches, capbatches;
    uint64_t batch_serial;
    size_t batch_max;
    int no_batch;                 /* a server refused one: never again */
    struct lio_batch_argv *bargv; /* made on first use */
    lc_time early_max;            /* the longest slack of any election */
    /* The shortest ttl of any election (the links' timing follows it) and
     * how many have it; 0 of them: to be found again. */
    lc_time ttl_min;
    size_t ttl_min_count;
    size_t free_from; /* no slot below it is free */
};

/* Returns 0, or LEADER_ENOMEM. The transport is copied. */
int lio_session_init(struct lio_session *s, const struct lio_transport *t,
                     uint64_t seed);

/* Makes the session elect on a majority of n independent servers (odd, 3
 * .. LC_QUORUM_MAX), server i on link lio_server_link(i), before any
 * election is added. LEADER_EINVAL for another n. */
int lio_session_set_quorum(struct lio_session *s, unsigned n);

/* The most renewals sent in one script call, 1 (none batched) to
 * LIO_BATCH_MAX; LIO_BATCH_DEFAULT until set. LEADER_EINVAL for another
 * n. */
#define LIO_BATCH_DEFAULT 128
int lio_session_set_batch(struct lio_session *s, size_t n);

/* The command link of server i in quorum mode. */
enum lio_link lio_server_link(unsigned i);

/* The notification link of server i of n (n = 1: the one server's,
 * LIO_LINK_SUB). In quorum mode each server has its own: what one server
 * publishes, the others do not hear. Server 0's is LIO_LINK_SUB, server
 * i's comes after the command links, LIO_LINK_NODE + n - 2 + i. */
enum lio_link lio_sub_link(unsigned n, unsigned i);

/* Which server's notification link link is, or -1 for a command link. */
int lio_session_sub_index(const struct lio_session *s, enum lio_link link);

/* Frees every election still in the session; closes nothing (the
 * transport's owner does). */
void lio_session_free(struct lio_session *s);

/* Adds an election, IDLE. NULL on failure (LEADER_EINVAL config or out of
 * memory, in *rc). */
struct lio_slot *lio_session_add(struct lio_session *s,
                                 const struct lio_slot_config *cfg,
                                 lio_emit_fn emit, void *owner, int *rc);

/* Removes and frees an election (stop it first to release its key). */
void lio_session_remove(struct lio_session *s, struct lio_slot *e, lc_time now);

/* Feeds START, STOP, OBSERVE, NEW_TERM or TICK to one election. */
void lio_session_input(struct lio_session *s, struct lio_slot *e,
                       enum lc_input_kind kind, lc_time now);

/* Runs every deadline that has passed: the elections' ticks, the
 * notification link's health check and reopening. */
void lio_session_process(struct lio_session *s, lc_time now);

/* The next time lio_session_process() must run, LC_NEVER for none. */
lc_time lio_session_deadline(const struct lio_session *s);

/* The election's core, for its getters (lc_state(), lc_lease_end(), ...). */
const struct lc_core *lio_slot_core(const struct lio_slot *e);

/* ---- what the transport reports ---- */

/* The link is ready, to server: who answers there, as the transport
 * tells servers apart (0: it does not). An election that used one server
 * and now reaches another is told it is fresh (lc_input.fresh). */
void lio_session_ready(struct lio_session *s, enum lio_link link,
                       uint64_t server, lc_time now);
/* The link failed to open, or broke; it is already down. */
void lio_session_failed(struct lio_session *s, enum lio_link link, int error,
                        const char *text, lc_time now);
/* A reply to the command sent with tag. v is borrowed for the call. */
void lio_session_reply(struct lio_session *s, enum lio_link link, uint64_t tag,
                       const struct lc_value *v, lc_time now);
/* The subscription made with tag on link is in place. */
void lio_session_subscribed(struct lio_session *s, enum lio_link link,
                            uint64_t tag, lc_time now);
/* A message on the channel subscribed with tag. */
void lio_session_message(struct lio_session *s, uint64_t tag, const char *text,
                         size_t len, lc_time now);

#endif
