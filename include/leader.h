/* SPDX-License-Identifier: BSD-3-Clause */
/* leader.h - the public interface of libleader: leader election on Redis.
 *
 * Several copies of a service create a leader handle on the same election
 * key; at most one of them is ELECTED at a time. The leader holds a lease in
 * Redis that it renews every ttl/3; when it cannot renew, it steps down at
 * the lease deadline by its own clock, before anyone else can be elected.
 * Every leadership carries a term (a fencing token) that only grows, also
 * across a loss of Redis' data within the limits docs/protocol.md states
 * (Safety): a lost counter is started again from the server's clock.
 *
 * Conventions:
 * - Functions that can fail return 0 or a negative LEADER_E... code;
 *   leader_strerror() explains a code. Boolean queries return 1, 0 or a
 *   negative code. errno never carries an answer.
 * - leader_new() copies every string it is given. Strings returned by
 *   getters belong to the handle and stay valid until leader_free().
 * - Event payloads belong to the library and are valid only during the
 *   callback.
 * - Every function may be called from any thread. Callbacks run on the
 *   handle's own thread with no library lock held and may call any function
 *   of this header except the queries that wait for Redis (leader_is_leader,
 *   leader_current, leader_release_term): from inside a callback, of any
 *   handle, those return LEADER_ESTATE at once, since a round trip there
 *   would hold up the loop running the callback, and with it the lease
 *   deadlines of its handles. leader_free() of a handle of the client whose
 *   callback is running is deferred until the callback returns.
 * - Every descriptor the library opens (sockets, epoll, eventfd) is
 *   close-on-exec: a program the application executes inherits none.
 */
#ifndef LEADER_H
#define LEADER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEADER_VERSION_MAJOR 0
#define LEADER_VERSION_MINOR 1
#define LEADER_VERSION_PATCH 0
#define LEADER_VERSION_HEX                                                     \
    ((LEADER_VERSION_MAJOR << 16) | (LEADER_VERSION_MINOR << 8) |              \
     LEADER_VERSION_PATCH)

#if defined(__GNUC__) || defined(__clang__)
#define LEADER_API __attribute__((visibility("default")))
#else
#define LEADER_API
#endif

/* Error codes. 0 is success; every failure is negative. */
enum leader_error {
    LEADER_OK = 0,
    LEADER_EINVAL = -1,     /* an argument or option is invalid */
    LEADER_ENOMEM = -2,     /* out of memory */
    LEADER_EURL = -3,       /* the Redis URL is malformed */
    LEADER_ENOTSUP = -4,    /* a feature this build does not support */
    LEADER_ECONN = -5,      /* cannot connect, or the connection was lost */
    LEADER_ETIMEDOUT = -6,  /* Redis did not answer in time */
    LEADER_EAUTH = -7,      /* authentication failed (NOAUTH, WRONGPASS), or
                             * the ACL user lacks a permission (NOPERM) */
    LEADER_EWRONGTYPE = -8, /* the election key holds a non-string value */
    LEADER_EREADONLY = -9,  /* the server is a read-only replica */
    LEADER_EPROTO = -10,    /* Redis sent a reply the library cannot use */
    LEADER_EREDIS = -11,    /* Redis answered with another error */
    LEADER_ESTATE = -12,    /* the call is not allowed in this state */
    LEADER_ELOST = -13,     /* leadership was taken over or refused */
    LEADER_ELEASE = -14,    /* the lease ran out without a confirmed renewal */
    LEADER_ETERM = -15,     /* the term counter in Redis is at LEADER_TERM_MAX
                             * or holds no valid term: no new term can be
                             * granted (see LEADER_TERM_MAX) */
    LEADER_ETLS = -16,      /* TLS failed: the server's certificate was
                             * refused (unknown CA, expired, another host's),
                             * the handshake failed or timed out, or the
                             * server does not speak TLS */
    LEADER_EUNHEALTHY = -17 /* the application reported itself unhealthy:
                             * leadership given up, no campaigning */
};

/* The largest term (fencing token) libleader grants: 9 * 10^15, below 2^53,
 * so a term is exact as a double too (Lua in Redis, JavaScript). Terms are
 * computed exactly up to it. An election whose counter reaches it grants no
 * more terms: acquiring fails with LEADER_ETERM until an operator resets the
 * election, which only a counter set by hand can make necessary (a counter
 * seeded from the clock and counting a thousand terms a second reaches it
 * in about 285,000 years). */
#define LEADER_TERM_MAX UINT64_C(9000000000000000)

/* The opaque election handle. */
typedef struct leader leader;

typedef enum leader_event_type {
    LEADER_EVENT_ELECTED = 1, /* this candidate is now the leader */
    LEADER_EVENT_REVOKED,     /* this candidate is no longer the leader */
    LEADER_EVENT_ERROR,       /* something failed; the library keeps trying */
    LEADER_EVENT_CHANGED      /* who leads changed: leader_id (NULL for
                               * nobody), term, and in message the cause:
                               * "elected", "released", "expired" (the
                               * holder's lease ran out unreleased) or
                               * "no leader" */
} leader_event_type;

/* Versioned structures. leader_options, leader_client_options,
 * leader_info and leader_stats belong to the caller, leader_event to the
 * library, and each begins with struct_size, the size of the structure as its
 * owner was compiled. Later versions only append fields, so a program and a
 * library of different versions each use the fields both know:
 * - options: leader_options_init() (a macro) passes the caller's size;
 *   the library reads the fields within it and takes the defaults for
 *   later ones. Fields it does not know must be left zero (as init leaves
 *   them), or leader_new() refuses them: an option a library cannot honour
 *   is never ignored silently.
 * - leader_info, leader_stats: leader_current() and leader_stats() (macros)
 *   pass the caller's size; the library writes no byte beyond it.
 * - leader_event: the library's size; LEADER_EVENT_HAS(ev, field) tells
 *   whether a field newer than the first version is there. */
#define LEADER_EVENT_HAS(ev, field)                                            \
    ((ev)->struct_size >= offsetof(leader_event, field) + sizeof((ev)->field))

/* An event. The structure and the strings it points to are valid only
 * during the callback. */
typedef struct leader_event {
    size_t struct_size; /* the library's sizeof (leader_event) */
    leader_event_type type;
    uint64_t term;         /* fencing token of the leadership concerned */
    const char *leader_id; /* who leads now, when known, else NULL */
    int error;             /* LEADER_E... for ERROR and for REVOKED's cause
                            * (0 when REVOKED follows leader_stop or free) */
    const char *message;   /* human-readable detail, never NULL */
} leader_event;

typedef void (*leader_callback)(leader *l, const leader_event *ev,
                                void *userdata);

/* Options for leader_new(). Always fill with leader_options_init() first:
 * more fields may follow in later versions. */
typedef struct leader_options {
    size_t struct_size; /* set by leader_options_init() */
    const char *url;    /* redis://[[user]:password@]host[:port][/db],
                         * rediss://... (TLS, see the tls_ fields),
                         * unix:///path/to/redis.sock[?db=N], or
                         * redis-sentinel://[[user]:password@]host[:port]
                         * [,host[:port]...][/db]#master-name (also
                         * rediss-sentinel://); NULL means
                         * $LEADER_REDIS_URL, else redis://127.0.0.1:6379 */
    const char *key;    /* election name, default "default" */
    const char *id;     /* this candidate's id (1-255 bytes, no spaces);
                         * NULL means a random UUIDv4 */
    long ttl_ms;        /* lease length, default 10000 (10 ms .. 1 day) */
    long wait_ms;       /* longest pause between two tries to be elected,
                         * default 1000 (0 .. 1 day) */
    int event_loop;     /* 0: the handle runs on a thread of its own; 1: no
                         * thread: the caller drives it with leader_fd(),
                         * leader_timeout_ms() and leader_process() */

    /* TLS, for rediss:// URLs (set with another scheme: refused). The
     * server's certificate is verified unless tls_insecure is set: it must
     * chain to a CA of tls_ca_cert or tls_ca_dir (neither: the system's CA
     * store) and name the URL's host (an IP address: an IP entry), or
     * tls_server_name when set. Files are PEM and are read by
     * leader_new(): one missing or unreadable fails it (a key with a
     * passphrase is not supported). Never a fallback to plain TCP. As
     * redis-cli's --cacert, --cacertdir, --cert, --key, --sni, --insecure. */
    const char *tls_ca_cert;     /* trusted CA certificates (a file) */
    const char *tls_ca_dir;      /* trusted CAs, a c_rehash'ed directory */
    const char *tls_cert;        /* client certificate (chain) */
    const char *tls_key;         /* its private key; NULL: in tls_cert */
    const char *tls_server_name; /* SNI, and the name the certificate must
                                  * have; NULL: the URL's host */
    int tls_insecure;            /* 1: accept any certificate (testing) */
    const char *password;        /* NULL: the URL's, if any; else the
                                  * password to log in with (with the URL's
                                  * user, if it names one), so that it need
                                  * not be written into a URL */

    /* Timeouts, in ms; 0 takes the default, ttl_ms/3 between 5 ms and
     * 2 s (for leader_is_leader() and the other queries: between 100 ms
     * and 2 s). See docs/api.md, "Timeouts and keepalive". */
    long connect_timeout_ms; /* opening a connection: lookup, connect, TLS
                              * handshake, AUTH, SELECT (and a PING but on
                              * the query connection), as one bound
                              * (1 .. 60000) */
    long command_timeout_ms; /* each command's reply (1 .. ttl_ms/3, so
                              * that a leader can retry a lost renewal
                              * before its lease ends) */

    /* Quorum mode: a NULL-terminated list of URLs of independent servers,
     * instead of url (setting both is refused). One URL is the same as
     * url; 3, 5 or 7 (an odd number, at most 7) elect on a majority of
     * them, each server holding its own copy of the election (the
     * protocol is in docs/protocol.md, "Quorum"). Any other count is
     * refused, and so is a redis-sentinel:// URL among several. Each URL
     * takes the same forms as url; the password and the tls_ options
     * apply to each (the tls_ options to each rediss:// one). NULL: url.
     * $LEADER_REDIS_URL may also hold several URLs, separated by spaces. */
    const char *const *urls;
} leader_options;

/* Fills the size bytes of opts with the defaults and records size in
 * opts->struct_size. Call it through leader_options_init(), which passes
 * the size this program was compiled with. */
LEADER_API void leader_options_init_size(leader_options *opts, size_t size);
#define leader_options_init(opts)                                              \
    leader_options_init_size((opts), sizeof(leader_options))

/* Creates a handle. Does no I/O: connecting starts with leader_elect() or
 * the first query. On failure returns NULL and, if err is not NULL, writes
 * a NUL-terminated reason of at most errlen bytes to err. The caller owns
 * the handle and frees it with leader_free(). */
LEADER_API leader *leader_new(const leader_options *opts, char *err,
                              size_t errlen);

/* This candidate's id. Owned by the handle. */
LEADER_API const char *leader_id(const leader *l);

/* The Redis key of the election: "leader:" + sha1hex(key), as node-leader
 * names it. Owned by the handle. */
LEADER_API const char *leader_key(const leader *l);

/* Sets the callback that receives every event (NULL for none). userdata is
 * passed back unchanged. May be called at any time; takes effect for the
 * next event. */
LEADER_API void leader_on(leader *l, leader_callback cb, void *userdata);

/* Starts campaigning on the handle's own thread and returns at once.
 * Returns 0, LEADER_ESTATE if already campaigning, LEADER_ENOMEM, or
 * LEADER_ECONN if the thread cannot be started. */
LEADER_API int leader_elect(leader *l);

/* Watches who leads without campaigning, on the handle's own thread, and
 * returns at once. Every change comes as a LEADER_EVENT_CHANGED event; the
 * first reading always does, even "no leader". Changes are seen through
 * the election's notifications, a read timed at the holder's expiry (a
 * crashed leader is seen as soon as its key expires) and a read every
 * wait_ms (peers that do not publish, such as node-leader). After a
 * reconnect it reads again. Stop with leader_stop(). Returns 0,
 * LEADER_ESTATE if already campaigning or observing, or LEADER_ECONN if
 * the thread cannot be started. */
LEADER_API int leader_observe(leader *l);

/* Asks Redis whether this candidate holds the election key (GET == id),
 * in one round trip on a connection of its own; blocks the caller until
 * the answer (a reconnect included, each step bounded by the query
 * timeout). Returns 1, 0, or a negative code (LEADER_ECONN,
 * LEADER_ETIMEDOUT, LEADER_EAUTH, LEADER_EWRONGTYPE, LEADER_EPROTO,
 * LEADER_EREDIS), and LEADER_ESTATE when called from inside a callback.
 *
 * In quorum mode (urls) it asks the servers in turn, each on a connection
 * of its own with the same bounds, until the answer is decided: 1 if a
 * majority of them hold this id, 0 if a majority answered and not a
 * majority holds it; an error when fewer than a majority answer at all
 * (the servers' failures in leader_errmsg()). The same holds for
 * leader_current() and leader_release_term() below. */
LEADER_API int leader_is_leader(leader *l);

/* 1 while this candidate's local lease is valid, else 0. No I/O, no lock:
 * it compares the lease deadline with the clock. */
LEADER_API int leader_has_lease(const leader *l);

/* The local lease deadline on leader_clock_ms()'s clock, or 0 when this
 * candidate does not lead. No I/O, no lock. The deadline moves later with
 * every confirmed renewal; at it the leader steps down. */
LEADER_API int64_t leader_lease_deadline(const leader *l);

/* The library's clock in milliseconds: CLOCK_BOOTTIME on Linux (it counts
 * time suspended), the same in every process of the machine. */
LEADER_API int64_t leader_clock_ms(void);

/* Who leads an election, as leader_current() reads it from Redis. */
typedef struct leader_info {
    size_t struct_size;      /* set by the library: the bytes it wrote */
    char id[256];            /* the holder's id, "" when nobody leads */
    uint64_t term;           /* the election's latest term (0: none yet) */
    long long lease_left_ms; /* the holder key's remaining ttl; -1 if it has
                              * none (not set by libleader) */
} leader_info;

/* Reads who leads this handle's election, in one round trip on the query
 * connection (as leader_is_leader). Fills info and returns 1 if someone
 * leads, 0 if nobody does, or a negative code as leader_is_leader
 * (LEADER_ESTATE from inside a callback).
 *
 * In quorum mode it reads every server: someone leads only if a majority
 * of the servers hold the same id; term is then the highest counter among
 * the servers that hold it (a server's counter may lag), and
 * lease_left_ms how long a majority of them still hold it. When nobody
 * leads, term is the highest counter of the servers that answered. */
LEADER_API int leader_current_size(leader *l, leader_info *info, size_t size);
#define leader_current(l, info)                                                \
    leader_current_size((l), (info), sizeof(leader_info))

/* ---- Statistics, for operators ----
 *
 * leader_stats() copies a handle's counters into a leader_stats that the
 * caller owns (nothing in it points anywhere). The loop of the handle
 * keeps them as it runs, counting the facts as the election's state
 * machine reports them, and publishes each as an atomic word: reading them
 * takes no lock and does no I/O, from any thread (callbacks included),
 * while the handle lives. Each field is exact, but they are read one by one
 * while the loop may be counting: two fields may be a few events apart.
 * Counters start at 0 with leader_new() and only grow (they survive
 * leader_stop() and leader_elect()). Times are milliseconds: durations, or
 * points on leader_clock_ms()'s clock. */

/* errors[]: one counter per error code, at index -code. */
#define LEADER_STATS_ERRORS 32
/* renew_rtt[]: bucket i < LEADER_STATS_BUCKETS - 1 counts round trips of
 * at most 2^i ms (1, 2, 4, ... 32768 ms), not those of the buckets below
 * it; the last bucket counts the longer ones. */
#define LEADER_STATS_BUCKETS 17

typedef struct leader_stats {
    size_t struct_size; /* set by the library: the bytes it wrote */

    /* Now. */
    int leading;               /* 1 while this handle holds a lease
                                * (leader_has_lease()), else 0 */
    uint64_t term;             /* leader_term(): 0 when not leading */
    int64_t lease_deadline_ms; /* leader_lease_deadline(): 0 when not
                                * leading */
    int64_t leading_since_ms;  /* when the current term was won (its
                                * ELECTED event, on leader_clock_ms()'s
                                * clock); 0 when not leading */

    /* Elections: ELECTED events, a new term of leader_new_term() too. */
    uint64_t elections_won;

    /* Revocations (REVOKED events), by cause. */
    uint64_t revoked_stop;      /* leader_stop() or leader_free() (error 0) */
    uint64_t revoked_new_term;  /* superseded by a new term of its own
                                 * (leader_new_term(); error 0) */
    uint64_t revoked_lost;      /* LEADER_ELOST: another holds the key */
    uint64_t revoked_lease;     /* LEADER_ELEASE: no renewal confirmed by
                                 * the deadline */
    uint64_t revoked_conn;      /* LEADER_ECONN: the deadline came while
                                 * disconnected */
    uint64_t revoked_unhealthy; /* LEADER_EUNHEALTHY */
    uint64_t revoked_other;     /* any other code (LEADER_EPROTO) */

    /* Renewals of the lease. Each renewal sent counts in at most one of
     * confirmed, refused, failed and late; one whose connection broke
     * before its reply counts in none. */
    uint64_t renewals_sent;
    uint64_t renewals_confirmed; /* the lease was extended */
    uint64_t renewals_refused;   /* the key was not ours (REVOKED follows) */
    uint64_t renewals_failed;    /* Redis answered with an error */
    uint64_t renewals_late;      /* no reply within the command timeout
                                  * (ttl/3, and never past the lease
                                  * deadline), the connection answering
                                  * nothing else meanwhile: given up as
                                  * lost, the connection dropped and
                                  * opened again; the lease runs on the
                                  * last confirmed renewal */

    /* The round trip of every answered renewal (confirmed, refused or
     * failed; reply time - send time, on the millisecond clock, so within
     * 1 ms): a histogram. */
    uint64_t renew_rtt[LEADER_STATS_BUCKETS];
    uint64_t renew_rtt_count;  /* the sum of the buckets */
    uint64_t renew_rtt_sum_ms; /* the sum of the round trips */

    /* Lease slack: at a confirmed renewal, the lease deadline it extended
     * minus the time of the confirmation: how close the lease came to
     * running out. Below 0 if the reply was handled after that deadline
     * (the process was held up): the renewal still counts, since its
     * lease runs from its send. 0 until a renewal is confirmed. */
    int64_t lease_slack_ms;     /* at the last confirmed renewal */
    int64_t lease_slack_min_ms; /* the smallest so far */

    /* The connection to Redis. */
    uint64_t reconnects; /* the connection was ready again after it broke
                          * or failed while campaigning or observing */

    /* ERROR events by code: errors[-code] (errors[0]: a code outside the
     * table). The library reports a streak of the same error once, so
     * each counts a streak, not each failed attempt. The table is
     * allocated at a handle's first ERROR: if memory runs out then, that
     * error, and each after it until the table can be allocated, goes
     * uncounted. */
    uint64_t errors[LEADER_STATS_ERRORS];
} leader_stats;

/* Fills the caller's leader_stats with l's counters, writing at most size
 * bytes (a program built against an older header gets the fields it
 * knows), and sets struct_size to the bytes written. Call it through
 * leader_stats(), which passes this program's sizeof (leader_stats). No
 * lock, no I/O. Returns 0, or LEADER_EINVAL (l or stats NULL, or size
 * smaller than the first version of the structure). */
LEADER_API int leader_stats_size(const leader *l, leader_stats *stats,
                                 size_t size);
#define leader_stats(l, stats)                                                 \
    leader_stats_size((l), (stats), sizeof(leader_stats))

/* The term (fencing token) of the current leadership, 0 if not leader. */
LEADER_API uint64_t leader_term(const leader *l);

/* Asks for a new term (fencing token) for the current leadership without
 * letting go of the key: for work restarted within one leadership (a new
 * child, a reopened writer) that must carry a token greater than anything
 * before it. The handle's loop sends the election's acquire script, which
 * finds the key held by this id, extends it and raises the term counter in
 * one atomic step. Returns once the request is handed to the loop (thread
 * or event-loop mode, as leader_stop() does): 0, LEADER_EINVAL for NULL,
 * or LEADER_ESTATE unless the handle holds a lease at the time of the call
 * (a follower, an observer, a stopped or freed handle).
 *
 * Outcome, through the callback:
 * - granted: REVOKED (term T, error 0, message "superseded by term T2")
 *   and then ELECTED (term T2 > T), back to back; the lease never lapses.
 *   The new lease counts from when the request was sent to Redis, like
 *   every lease. leader_term() already returns T2 while that REVOKED runs.
 * - the key is someone else's: REVOKED (term T, LEADER_ELOST).
 * - Redis answers with an error: it asks again with backoff, and steps
 *   down at the lease deadline if nothing succeeds (REVOKED, LEADER_ELEASE
 *   or LEADER_ECONN), as with failed renewals. While a new term is asked
 *   for, the leader does not renew the old one: a lost reply may have
 *   granted the new term already, so after a reconnect it asks again.
 * - a granted term not above every term read from Redis (a server that
 *   ignores the floor): REVOKED (LEADER_EPROTO) and the key is released;
 *   the handle campaigns on, backing off.
 * - the counter is at LEADER_TERM_MAX or holds no term: ERROR
 *   (LEADER_ETERM), asked again with backoff as any error.
 * Requests made before the new term is granted are served by it. A
 * request that finds the handle no longer leading (it lost the lease
 * between the call and the loop) is dropped: its REVOKED says so. A stop
 * wins over a pending request; the key is then released under whichever
 * term Redis holds. */
LEADER_API int leader_new_term(leader *l);

/* Tells the handle whether the application is fit to lead: health-gated
 * leadership. Handles start healthy. While unhealthy:
 * - a leader gives the leadership up at once: REVOKED with
 *   LEADER_EUNHEALTHY, then the key is released, so that a healthy
 *   candidate takes over within a round trip;
 * - a candidate does not campaign: it stays elected-for (leader_elect()
 *   holds), listens and reports CHANGED, and sends no acquire.
 * Healthy again, a candidate campaigns at once. The health outlives
 * leader_stop() and leader_elect(); an observer is not affected.
 * Callable from any thread, callbacks included: it records the value and
 * wakes the loop, which acts on it in its next turn (leader_has_lease()
 * turns false when the REVOKED is delivered). Calling it with the value
 * it already has does nothing. Returns 0, LEADER_EINVAL (l is NULL) or
 * LEADER_ESTATE (l is being freed). */
LEADER_API int leader_set_healthy(leader *l, int healthy);

/* Releases the election key if it still holds leadership (id, term) of
 * this handle's id, in one round trip on the query connection (as
 * leader_is_leader(), bounded by its timeout): the release script that
 * leader_stop() uses, which deletes the key and publishes "released" only
 * if the holder is this id and the term counter still equals term.
 * Returns 1 if it deleted the key, 0 if the key was not that leadership's
 * (another candidate holds it, the same id holds a newer term, or nobody
 * does), or a negative code: LEADER_ECONN, LEADER_ETIMEDOUT, LEADER_EAUTH,
 * LEADER_EWRONGTYPE, LEADER_EREADONLY, LEADER_EPROTO, LEADER_EREDIS. Also
 * LEADER_EINVAL for NULL or term 0, and LEADER_ESTATE while this handle is
 * campaigning or observing (a live candidate ends its own leadership with
 * leader_stop()) or when called from inside a callback.
 *
 * In quorum mode it runs the release script on every server: it succeeds
 * when a majority of them answered (released, or did not hold that
 * leadership), returning 1 if it deleted the key on any server, else 0;
 * an error when fewer than a majority answered.
 *
 * Only for a leadership in which nothing can act any more: its process and
 * everything that process started are known to be dead (a supervisor's
 * watchdog, after the tree is confirmed gone, lets the next candidate in at
 * once instead of after the key expires). The (id, term) check makes it
 * safe against a newer leadership of the same id and against any other
 * candidate. Works on a fresh handle (leader_new() with the dead one's
 * options and id) that never campaigns. */
LEADER_API int leader_release_term(leader *l, uint64_t term);

/* Stops campaigning. If leader, emits REVOKED (error 0) before returning
 * and deletes the key atomically, only if it still is this leadership's.
 * The REVOKED callback returns before the release is sent, so no other
 * candidate can be elected while it stops the application's work.
 * Waits for Redis at most about ttl/3 (never longer than 5 s; on the
 * monotonic clock). Returns 0, or LEADER_ESTATE if not campaigning. When
 * called from the handle's own callback it does not wait for Redis.
 * Whatever the loop is doing, leader_has_lease(), leader_term() and
 * leader_lease_deadline() return 0 from the call on, and the stopped
 * leadership never shows there again (a leader_elect() that follows gives
 * a new leadership, with a new term). */
LEADER_API int leader_stop(leader *l);

/* Stops if needed and frees the handle. NULL is allowed. If leading, the
 * callback gets REVOKED (error 0); from then on it gets nothing more, so
 * the return from that REVOKED is the last use of userdata. Called from a
 * callback of the handle's client, the free happens after the callback
 * returns (and that REVOKED comes after it too): in thread mode on the
 * client's thread, in event-loop mode before the leader_process() call
 * that ran the callback returns (it then runs the loop until the key is
 * released, bounded as leader_stop() waits). */
LEADER_API void leader_free(leader *l);

/* ---- Event loops: no threads ----
 *
 * With options.event_loop set, a handle starts no thread: the caller polls
 * leader_fd() for reading until leader_timeout_ms() passes, then calls
 * leader_process(), which does the I/O, runs the timers and calls the
 * callback. leader_elect(), leader_observe(), leader_new_term() and
 * leader_stop() only hand a request to the next leader_process()
 * (leader_stop() does not wait, but the lease ends at once for
 * leader_has_lease()); leader_free() runs the loop itself until the key is
 * released, bounded as leader_stop() waits (from a callback: after the
 * callback returns, inside the same leader_process()).
 * All calls must come from the one thread that runs the loop, except the
 * lock-free leader_has_lease(), leader_lease_deadline(), leader_term() and
 * leader_stats().
 */

/* The descriptor to poll for reading: stable for the handle's life (an
 * epoll set of the connections, a wake-up and a timer). It also becomes
 * readable by itself when leader_timeout_ms() runs out, on the clock of
 * leader_clock_ms(), which counts suspend. -1 in thread mode. */
LEADER_API int leader_fd(const leader *l);

/* Milliseconds until leader_process() must run anyway: -1 none, 0 now. -1
 * in thread mode. */
LEADER_API int leader_timeout_ms(leader *l);

/* Does what is due: I/O, timers, requests, callbacks (which run inside).
 * Returns 0, LEADER_EINVAL, or LEADER_ESTATE in thread mode or when called
 * from inside a callback. */
LEADER_API int leader_process(leader *l);

/* ---- Many elections over one connection ----
 *
 * A client is one Redis connection (and one for notifications; in quorum
 * mode one of each per server) shared by any number of handles, each with its
 * own key, callback and term; their renewals are pipelined, and on one server
 * those that fall due together go in one script call (docs/protocol.md, Renewal
 * in batches). Handles are made with leader_client_add() and used with every
 * function above; leader_free() detaches one. The client runs one thread for
 * all its handles, or with event_loop none: then the caller drives it with
 * leader_client_fd(), leader_client_timeout_ms() and leader_client_process()
 * (leader_fd() and friends on any of its handles do the same). */
typedef struct leader_client leader_client;

typedef struct leader_client_options {
    size_t struct_size; /* set by leader_client_options_init() */
    const char *url;    /* as leader_options.url */
    int event_loop;     /* as leader_options.event_loop */
    /* as leader_options' tls_ fields */
    const char *tls_ca_cert;
    const char *tls_ca_dir;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_server_name;
    int tls_insecure;
    const char *password;    /* as leader_options.password */
    const char *const *urls; /* as leader_options.urls */
} leader_client_options;

/* As leader_options_init_size(), for leader_client_options. */
LEADER_API void leader_client_options_init_size(leader_client_options *opts,
                                                size_t size);
#define leader_client_options_init(opts)                                       \
    leader_client_options_init_size((opts), sizeof(leader_client_options))

/* Creates a client. No I/O until a handle campaigns. NULL with a reason in
 * err on failure. The caller frees it with leader_client_free(). */
LEADER_API leader_client *leader_client_new(const leader_client_options *opts,
                                            char *err, size_t errlen);

/* Adds a handle to the client, as leader_new() does (opts->url,
 * opts->urls, opts->event_loop, the tls_ options and the password are the
 * client's: they must be NULL and 0). The handle
 * is freed with leader_free(), before the client. */
LEADER_API leader *leader_client_add(leader_client *c,
                                     const leader_options *opts, char *err,
                                     size_t errlen);

/* Frees the client. Its handles must have been freed. */
LEADER_API void leader_client_free(leader_client *c);

LEADER_API int leader_client_fd(const leader_client *c);
LEADER_API int leader_client_timeout_ms(leader_client *c);
LEADER_API int leader_client_process(leader_client *c);

/* Copies url to out (at most len bytes, NUL-terminated) with its password,
 * if it has one, replaced by "***": for messages and logs. Several URLs
 * separated by spaces are each redacted, and written separated by one
 * space. url NULL means the URL a handle would use: $LEADER_REDIS_URL
 * (one URL or several), else redis://127.0.0.1:6379. */
LEADER_API void leader_url_redact(const char *url, char *out, size_t len);

/* The detail of the last failure of a query that waits for Redis
 * (leader_is_leader, leader_current, leader_release_term) on l's client,
 * such as the TLS check that failed or the server's error text; "" when
 * the last one succeeded. Owned by the client; valid until its next query
 * (from any thread), so read it on the thread that made the query, right
 * after it. Never shows a password. "" for NULL. In quorum mode, when
 * fewer than a majority of the servers answered: how many failed, and
 * each one's address and failure. */
LEADER_API const char *leader_errmsg(const leader *l);

/* A static description of a LEADER_E... code. */
LEADER_API const char *leader_strerror(int code);

/* The library's version, "MAJOR.MINOR.PATCH". */
LEADER_API const char *leader_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LEADER_H */
