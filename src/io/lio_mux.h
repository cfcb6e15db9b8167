/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_mux.h - the transport of the library: a session's command and
 * notification links as two hiredis connections, polled through one
 * epoll descriptor that the caller's loop waits on.
 *
 * The session (lio_session.h) holds every policy: the elections, the
 * routing of replies, the subscriptions and the links' timing. The mux
 * carries it out on hiredis and hands what happens back to the session
 * once hiredis has returned.
 *
 * The caller waits until lio_mux_fd() is readable or lio_mux_deadline()
 * passes, then calls lio_mux_process(). Every call takes the caller's
 * "now" (lu_now_ms(), read once per loop turn). lio_mux_fd() also becomes
 * readable by itself at lio_mux_deadline(), on the library's clock
 * (CLOCK_BOOTTIME, which counts suspend): a poll() timeout runs on
 * CLOCK_MONOTONIC, which stops while the machine sleeps, and would wake
 * the caller late after a resume. Events reach each election's owner
 * through its emit function, never from inside a hiredis callback. One
 * thread at a time; lio_mux_wake() is the one function another thread may
 * call.
 *
 * Nothing here blocks: host names are looked up without blocking, every
 * opening has a deadline, and TCP sockets have keepalive probes.
 */
#ifndef LIO_MUX_H
#define LIO_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_core.h"
#include "io/lio_cmap.h"
#include "io/lio_conn.h"
#include "io/lio_proto.h"
#include "io/lio_session.h"
#include "util/lu_url.h"

struct lio_record;
struct lio_mux_node;

/* Which socket an epoll registration is for, and as what. */
struct lio_reg {
    int fd;
    uint64_t gen;
    unsigned events;
};

struct lio_mux {
    struct lu_url url;
    struct lio_conn cmd, sub;
    /* For a sentinel URL: a subscription to +switch-master on one
     * sentinel, while the command link is wanted, so that a failover ends
     * the links to the old master at once (its leaders step down when
     * they reach the new one) instead of when the old master is
     * reconfigured, seconds later. */
    struct lio_conn watch;
    struct lu_url watch_url;
    int watch_i;            /* the sentinel watched, or tried next */
    lc_time watch_retry_at; /* after a failure */
    /* Redis Cluster, from the first redirection (MOVED, ASK) on: the slot
     * map, a command link per master that elections route to (the URL's
     * server is cmd), and a connection that asks a node for the map
     * again after a redirection or a failure. */
    int cluster;
    struct lio_cmap map;
    struct lio_mux_node **nodes; /* by map index; [0] unused */
    size_t nodes_cap;
    struct lio_conn probe;
    struct lu_url probe_url, sub_url;
    int probe_i;        /* the node asked, or asked next */
    lc_time probe_due;  /* its reply, once asked (0: not asked) */
    int refresh_wanted; /* the map is to be asked for */
    lc_time refresh_at; /* ... not before */
    int not_cluster;    /* the URL's server said it is no cluster node */
    int sub_pick;       /* the node the notification link opens to */
    /* Quorum mode: the servers, [0] being url; nq is 1 otherwise. */
    struct lu_url *qurls;
    size_t nq;
    struct lio_record *queue;
    size_t queued, queue_cap;
    int dropped; /* a record could not be queued */

    struct lio_session session;
    lc_time now;

    int epfd, evfd;        /* what the caller polls; its wake-up */
    int tfd;               /* a timer at the next deadline, in epfd */
    lc_time tfd_armed;     /* ... armed at this time (LC_NEVER: disarmed) */
    struct lio_reg reg[4]; /* in epfd: cmd, sub, watch, probe */
};

/* Returns 0, or LEADER_ENOMEM / LEADER_ECONN (no epoll, eventfd or
 * timerfd). url is copied. A Redis Cluster is found out by the slot map
 * the URL's server gives when asked (a single server refuses once), or by
 * its first redirection. */
int lio_mux_init(struct lio_mux *c, const struct lu_url *url, uint64_t seed);

/* The most servers of a quorum election (docs/protocol.md, Quorum). */
#define LIO_QUORUM_MAX 7

/* As lio_mux_init(), over n independent servers: n == 1 is
 * lio_mux_init(urls), an odd n from 3 to LIO_QUORUM_MAX a quorum of them,
 * each elected on a majority. LEADER_EINVAL for any other n, or for a
 * Sentinel or Cluster URL among several. The urls are copied. */
int lio_mux_init_servers(struct lio_mux *c, const struct lu_url *urls, size_t n,
                         uint64_t seed);

/* Closes everything and frees every election still in the mux. */
void lio_mux_free(struct lio_mux *c);

/* Adds an election, IDLE. NULL on failure (LEADER_EINVAL config or out of
 * memory, in *rc). */
struct lio_slot *lio_mux_add(struct lio_mux *c,
                             const struct lio_slot_config *cfg,
                             lio_emit_fn emit, void *owner, int *rc);

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
