/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_conn.h - one hiredis async connection, driven by the caller's loop.
 *
 * hiredis is given a private event adapter that only records which of
 * read and write it wants; the caller polls the socket and hands readiness
 * back with lio_conn_handle(). Opening queues AUTH, SELECT and a PING, so
 * "ready" means the server accepted us and answers commands.
 *
 * Nothing here blocks. A host name is first looked up without blocking
 * (lio_resolve.h; numeric addresses and unix sockets skip that), then
 * hiredis connects to the numeric address; the name stays in the URL for
 * whatever needs it later (TLS's server name). One deadline bounds the
 * whole opening (lookup, connect and setup commands): the caller runs
 * lio_conn_tick() by lio_conn_deadline(), and past it the opening fails
 * with LEADER_ETIMEDOUT. TCP sockets get keepalive probes.
 *
 * A sentinel URL first asks the sentinels, in turn, for the master's
 * address (SENTINEL get-master-addr-by-name), each within its share of
 * the deadline, then opens the master as it would any URL, with ROLE among
 * the setup commands. A master that cannot be opened or is not a master
 * (that sentinel's view is behind a failover) sends the opening on to
 * the next sentinel; the one whose master answered is asked first the
 * next time.
 *
 * A rediss:// URL starts TLS (lio_tls.h) once the socket is connected,
 * before the setup commands: hiredis advances the handshake within its
 * non-blocking reads and writes, and the same deadline bounds it (past it,
 * LEADER_ETLS, "handshake timeout"). A failure before "ready" on such a
 * connection is worded by what TLS found (LEADER_ETLS).
 *
 * The handler's functions run inside hiredis callbacks: they must only
 * record what happened (the engine queues it and acts afterwards), never
 * open, close or send on a connection.
 */
#ifndef LIO_CONN_H
#define LIO_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "core/lc_core.h"
#include "io/lio_proto.h"
#include "io/lio_resolve.h"
#include "io/lio_tls.h"
#include "util/lu_url.h"

struct lio_conn;

struct lio_conn_handler {
    /* The setup commands succeeded. */
    void (*ready)(void *owner, struct lio_conn *c);
    /* The connection failed (was_ready 0) or broke (was_ready 1). It is
     * already closed; error is a LEADER_E... code. */
    void (*failed)(void *owner, struct lio_conn *c, int was_ready, int error,
                   const char *text);
    /* A reply to the command sent with tag. The callee owns the reply and
     * frees it with freeReplyObject(). */
    void (*reply)(void *owner, struct lio_conn *c, uint64_t tag,
                  redisReply *reply);
};

enum lio_conn_stage { LIO_STAGE_SERVER, LIO_STAGE_SENTINEL };

struct lio_conn {
    redisAsyncContext *ac;       /* NULL when closed or still resolving */
    struct lio_lookup *lookup;   /* while the host name is looked up */
    const struct lu_url *url;    /* what is opened: origin, or target */
    const struct lu_url *origin; /* borrowed while open */
    /* A sentinel URL: the sentinel asked, then the master found. */
    struct lu_url target;
    enum lio_conn_stage stage;
    int sentinel_i;         /* the sentinel asked now (or whose master is
                             * being opened) */
    int sentinel_first;     /* the one whose master answered last time */
    int asked;              /* sentinels asked in this opening */
    lc_time stage_deadline; /* this sentinel's share of the time */
    lc_time now;            /* the caller's clock at its last call */
    char why[200];          /* the last sentinel's failure */
    /* A master the sentinels failed over from (+switch-master): a sentinel
     * that still names it has not caught up, and is passed over until
     * avoid_until. Set by the owner; kept across openings. */
    struct lu_url_node avoid;
    lc_time avoid_until;
    char addr[LIO_ADDR_MAX]; /* the numeric address, "" for unix */
    unsigned want;           /* LIO_WANT_... bits */
    int ready;
    int keepalive_s;
    long timeout_ms;    /* the opening's, for messages */
    SSL *ssl;           /* rediss://: the session, owned by ac */
    lc_time deadline;   /* opening: give up at this time */
    lc_time lookup_due; /* the resolver's next timer */
    uint64_t gen;       /* counts opens and descriptor changes: tells old
                         * news from new */
    void *owner;
    const struct lio_conn_handler *handler;
};

/* How to open a connection. */
struct lio_conn_params {
    long timeout_ms; /* for the whole opening, lookup included */
    int keepalive_s; /* TCP keepalive idle time (probes every third of it,
                      * three of them); 0 for none */
};

#define LIO_WANT_READ  1u
#define LIO_WANT_WRITE 2u

void lio_conn_init(struct lio_conn *c, const struct lio_conn_handler *h,
                   void *owner);

/* Starts connecting at now (the caller's clock); url is borrowed until
 * the connection is closed. A failure, immediate or later, is reported
 * through the handler; the return value is 0 or LEADER_ENOMEM. */
int lio_conn_open(struct lio_conn *c, const struct lu_url *url,
                  const struct lio_conn_params *p, lc_time now);

/* 1 while opening or open, 0 when closed. */
int lio_conn_is_open(const struct lio_conn *c);

/* Closes at once (a lookup in progress is cancelled). Nothing more is
 * reported for this connection. */
void lio_conn_close(struct lio_conn *c);

/* The descriptor to poll for lio_conn_want(), or -1 when closed: the
 * resolver's while looking the host up, then the socket. It may change
 * with every open and while opening; gen changes with it. */
int lio_conn_fd(const struct lio_conn *c);

/* Hands poll() results for lio_conn_fd() over (to the resolver or to
 * hiredis). now is the caller's clock. */
void lio_conn_handle(struct lio_conn *c, short revents, lc_time now);

/* When lio_conn_tick() must run next, LC_NEVER for never. */
lc_time lio_conn_deadline(const struct lio_conn *c);

/* Runs what is due at now: the resolver's timers, the opening deadline. */
void lio_conn_tick(struct lio_conn *c, lc_time now);

/* Who answers on a ready connection, as far as it matters: for a sentinel
 * URL, the master's address as a number (a failover changes it), never
 * 0; else 0. */
uint64_t lio_conn_server(const struct lio_conn *c);

/* Sends a command; its reply goes to handler->reply with tag. Returns 0,
 * or LEADER_ECONN if the connection is closed or closing. */
int lio_conn_send(struct lio_conn *c, uint64_t tag, int argc, const char **argv,
                  const size_t *lens);

/* Subscribes to channel; every message and the confirmation go to
 * handler->reply with tag. */
int lio_conn_subscribe(struct lio_conn *c, uint64_t tag, const char *channel);

/* The setup commands for a URL (AUTH, SELECT), shared with the blocking
 * query connection. Calls fn for each; stops at the first non-zero. */
int lio_for_each_setup(const struct lu_url *url,
                       int (*fn)(void *arg, int argc, const char **argv,
                                 const size_t *lens),
                       void *arg);

/* The widest reply: a batch renewal's, one element per election. */
#define LIO_MAX_ELEMS LIO_BATCH_MAX

struct lc_value;

/* Converts a reply into the core's view of it, one level deep (deeper
 * arrays become LC_VAL_OTHER). v and elems borrow the reply's memory. */
void lio_reply_to_value(const redisReply *r, struct lc_value *v,
                        struct lc_value elems[LIO_MAX_ELEMS]);

/* Caps what a reply may announce: our replies have a handful of elements,
 * and a hostile or broken server announcing billions would otherwise make
 * hiredis allocate gigabytes before reading any. Applied to every reader the
 * library uses. */
#define LIO_READER_MAX_ELEMENTS 1024
void lio_limit_reader(redisReader *reader);

/* Maps a hiredis context error (REDIS_ERR_...) to a LEADER_E... code. */
int lio_error_of_context(int redis_err);

#endif
