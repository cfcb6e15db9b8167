/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_mux.c - see lio_mux.h.
 *
 * hiredis callbacks only queue records; the queue is drained after hiredis
 * returns, handing each record to the session, which feeds one core one
 * input at a time. This keeps the session, the cores and the owners'
 * callbacks out of hiredis' reentrancy rules.
 */
#include "util/fmacros.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "io/lio_cluster.h"
#include "io/lio_mux.h"
#include "io/lio_sentinel.h"
#include "leader.h"
#include "util/lu_clock.h"

/* Epoll data: which descriptor woke us. Connections are numbered as
 * conn_at() counts them. */
enum {
    EP_CMD = LIO_LINK_CMD,
    EP_SUB = LIO_LINK_SUB,
    EP_WATCH,
    EP_PROBE,
    EP_NODE, /* node k of the map: EP_NODE + k - 1 */
    EP_WAKE = 0xfffffffe,
    EP_TIMER = 0xffffffff
};

/* A cluster master's command link. */
struct lio_mux_node {
    struct lio_conn conn; /* first: a record's conn finds its node */
    struct lu_url url;
    struct lio_reg reg;
};

#define SLOTS_TAG 2
/* How often the slot map is asked for at most, and how soon again when
 * the node asked fails. */
#define REFRESH_MIN_MS   200
#define PROBE_TIMEOUT_MS 2000

#define WATCH_TAG         1
#define WATCH_TIMEOUT_MS  2000
#define WATCH_RETRY_MS    500
#define WATCH_KEEPALIVE_S 5
/* How long an old master is passed over: the sentinels demote it within
 * seconds of the switch, and from then on ROLE refuses it anyway. */
#define AVOID_MS 60000

enum record_kind { REC_READY = 1, REC_FAILED, REC_REPLY };

struct lio_record {
    enum record_kind kind;
    struct lio_conn *conn;
    uint64_t conn_gen;
    int error;
    uint64_t tag;
    redisReply *reply;
    char text[LC_MSG_MAX];
};

/* ---- recording, inside hiredis callbacks ---- */

static struct lio_record *new_record(struct lio_mux *c, struct lio_conn *conn,
                                     enum record_kind kind)
{
    struct lio_record *r;

    if (c->queued == c->queue_cap) {
        size_t cap = c->queue_cap ? c->queue_cap * 2 : 64;
        r = realloc(c->queue, cap * sizeof *r);
        if (r == NULL) {
            c->dropped = 1;
            return NULL;
        }
        c->queue = r;
        c->queue_cap = cap;
    }
    r = &c->queue[c->queued++];
    memset(r, 0, offsetof(struct lio_record, text));
    r->text[0] = '\0';
    r->kind = kind;
    r->conn = conn;
    r->conn_gen = conn->gen;
    return r;
}

static void record_ready(void *owner, struct lio_conn *conn)
{
    new_record(owner, conn, REC_READY);
}

static void record_failed(void *owner, struct lio_conn *conn, int was_ready,
                          int error, const char *text)
{
    struct lio_record *r = new_record(owner, conn, REC_FAILED);

    if (r == NULL)
        return;
    (void) was_ready; /* failing to open and breaking are one to the
                       * session: the link is down */
    r->error = error;
    snprintf(r->text, sizeof r->text, "%s", text != NULL ? text : "");
}

static void record_reply(void *owner, struct lio_conn *conn, uint64_t tag,
                         redisReply *reply)
{
    struct lio_record *r = new_record(owner, conn, REC_REPLY);

    if (r == NULL) {
        freeReplyObject(reply);
        return;
    }
    r->tag = tag;
    r->reply = reply;
}

static const struct lio_conn_handler handler = {record_ready, record_failed,
                                                record_reply};

/* ---- the transport the session drives ---- */

/* ---- a Redis Cluster's nodes ---- */

static enum lio_link link_of_node(int i)
{
    return i == 0 ? LIO_LINK_CMD : (enum lio_link)(LIO_LINK_NODE + i - 1);
}

static int node_of_link(enum lio_link link)
{
    return link == LIO_LINK_CMD ? 0 : (int) link - LIO_LINK_NODE + 1;
}

/* The URL of map node i: the URL's, at the node's address; in quorum
 * mode, server i's, and for i >= nq server i - nq + 1's notification link
 * (lio_sub_link). */
static void node_url(const struct lio_mux *c, int i, struct lu_url *u)
{
    const struct lio_cluster_node *a;

    if (c->nq > 1) {
        *u = c->qurls[(size_t) i < c->nq ? (size_t) i : (size_t) i - c->nq + 1];
        return;
    }
    a = &c->map.nodes[i].addr;
    *u = c->url;
    u->kind = LU_URL_TCP;
    u->path[0] = '\0';
    memcpy(u->host, a->host, sizeof u->host);
    u->port = a->port;
}

/* Node i's link, made on first use; NULL out of memory. */
static struct lio_mux_node *node_at(struct lio_mux *c, int i)
{
    if ((size_t) i >= c->nodes_cap) {
        size_t cap = c->nodes_cap ? c->nodes_cap : 8;
        struct lio_mux_node **p;
        while (cap <= (size_t) i)
            cap *= 2;
        p = realloc(c->nodes, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        memset(p + c->nodes_cap, 0, (cap - c->nodes_cap) * sizeof *p);
        c->nodes = p;
        c->nodes_cap = cap;
    }
    if (c->nodes[i] == NULL) {
        struct lio_mux_node *n = calloc(1, sizeof *n);
        if (n == NULL)
            return NULL;
        lio_conn_init(&n->conn, &handler, c);
        node_url(c, i, &n->url);
        n->reg.fd = -1;
        c->nodes[i] = n;
    }
    return c->nodes[i];
}

/* The connection of a link; NULL for a node never used. */
static struct lio_conn *conn_of(struct lio_mux *c, enum lio_link link)
{
    int i;

    if (link == LIO_LINK_CMD)
        return &c->cmd;
    if (link == LIO_LINK_SUB)
        return &c->sub;
    i = node_of_link(link);
    return (size_t) i < c->nodes_cap && c->nodes[i] != NULL ? &c->nodes[i]->conn
                                                            : NULL;
}

/* Where the notification link opens: the URL's server (in quorum mode
 * server 0's, each other server having its own), or in a cluster any node
 * (every node hears every PUBLISH), a next one after each failure. */
static const struct lu_url *sub_target(struct lio_mux *c)
{
    if (c->nq > 1)
        return &c->qurls[0];
    if (!c->cluster || c->map.n == 0)
        return &c->url;
    node_url(c, (int) ((size_t) c->sub_pick % c->map.n), &c->sub_url);
    return &c->sub_url;
}

static void t_open(void *ctx, enum lio_link link,
                   const struct lio_link_params *p, lc_time now)
{
    struct lio_mux *c = ctx;
    struct lio_conn_params cp = {p->timeout_ms, p->keepalive_s};
    struct lio_mux_node *n;

    /* A failure, at once or later, comes back as a record. */
    if (link == LIO_LINK_CMD)
        (void) lio_conn_open(&c->cmd, &c->url, &cp, now);
    else if (link == LIO_LINK_SUB)
        (void) lio_conn_open(&c->sub, sub_target(c), &cp, now);
    else if ((n = node_at(c, node_of_link(link))) != NULL)
        (void) lio_conn_open(&n->conn, &n->url, &cp, now);
}

static void t_close(void *ctx, enum lio_link link)
{
    struct lio_conn *conn = conn_of(ctx, link);

    if (conn != NULL)
        lio_conn_close(conn);
}

static enum lio_link_state t_state(void *ctx, enum lio_link link)
{
    const struct lio_conn *conn = conn_of(ctx, link);

    return conn == NULL             ? LIO_LINK_DOWN
           : conn->ready            ? LIO_LINK_READY
           : lio_conn_is_open(conn) ? LIO_LINK_OPENING
                                    : LIO_LINK_DOWN;
}

static int t_send(void *ctx, enum lio_link link, uint64_t tag, int argc,
                  const char **argv, const size_t *lens)
{
    struct lio_conn *conn = conn_of(ctx, link);

    return conn != NULL && lio_conn_send(conn, tag, argc, argv, lens) == 0 ? 0
                                                                           : -1;
}

static enum lio_link t_route(void *ctx, const char *key)
{
    struct lio_mux *c = ctx;
    int i;

    if (!c->cluster)
        return LIO_LINK_CMD;
    i = lio_cmap_owner(&c->map, lio_cluster_key_slot(key, strlen(key)));
    return i > 0 && node_at(c, i) != NULL ? link_of_node(i) : LIO_LINK_CMD;
}

/* The map is to be asked for again, soon. */
static void want_refresh(struct lio_mux *c)
{
    c->refresh_wanted = 1;
}

/* The first redirection: this is a cluster, and the URL's server is its
 * node 0. */
static int become_cluster(struct lio_mux *c)
{
    if (c->cluster)
        return 0;
    if (c->nq > 1 || c->url.sentinel || c->url.kind != LU_URL_TCP ||
        lio_cmap_init(&c->map, c->url.host, c->url.port) != 0)
        return -1;
    c->cluster = 1;
    return 0;
}

static int t_redirect(void *ctx, enum lio_link from, const char *text,
                      size_t len, int *ask)
{
    struct lio_mux *c = ctx;
    struct lio_cluster_redirect r;
    int to;

    if (!lio_cluster_redirect(text, len, &r) || become_cluster(c) != 0)
        return -1;
    to = lio_cmap_redirect(&c->map, &r, node_of_link(from));
    if (to < 0 || (to > 0 && node_at(c, to) == NULL))
        return -1;
    if (!r.ask)
        want_refresh(c);
    *ask = r.ask;
    return (int) link_of_node(to);
}

/* One server that is no Cluster node: the URL's server refused CLUSTER
 * SLOTS, or it is reached through a sentinel or a Unix socket, which
 * become_cluster() never takes for a Cluster. Not a quorum's servers. */
static int t_batchable(void *ctx, enum lio_link link)
{
    const struct lio_mux *c = ctx;

    return link == LIO_LINK_CMD && c->nq == 1 && !c->cluster &&
           (c->not_cluster || c->url.sentinel || c->url.kind != LU_URL_TCP);
}

static int t_subscribe(void *ctx, enum lio_link link, uint64_t tag,
                       const char *channel, int on)
{
    struct lio_conn *conn = conn_of(ctx, link);
    const char *argv[2] = {"UNSUBSCRIBE", channel};
    size_t lens[2] = {11, strlen(channel)};

    if (conn == NULL)
        return -1;
    if (on)
        return lio_conn_subscribe(conn, tag, channel) == 0 ? 0 : -1;
    return lio_conn_send(conn, tag, 2, argv, lens) == 0 ? 0 : -1;
}

/* ---- handing the records to the session ---- */

static void on_map(struct lio_mux *c, enum lio_link link, const redisReply *m);

static void deliver_reply(struct lio_mux *c, enum lio_link link,
                          const struct lio_record *r)
{
    const redisReply *m = r->reply;
    struct lc_value v, elems[LIO_MAX_ELEMS];
    int sub = lio_session_sub_index(&c->session, link) >= 0;

    if (!sub && r->tag == LIO_TRANSPORT_TAG) {
        on_map(c, link, m);
        return;
    }

    if (!sub || r->tag == LIO_PING_TAG) {
        lio_reply_to_value(m, &v, elems);
        lio_session_reply(&c->session, link, r->tag, &v, c->now);
        return;
    }
    /* A push on the notification link: ["subscribe", channel, count] or
     * ["message", channel, payload]. */
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
        m->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(m->element[0]->str, "subscribe") == 0)
        lio_session_subscribed(&c->session, link, r->tag, c->now);
    else if (strcmp(m->element[0]->str, "message") == 0 &&
             m->element[2]->type == REDIS_REPLY_STRING)
        lio_session_message(&c->session, r->tag, m->element[2]->str,
                            m->element[2]->len, c->now);
}

/* ---- the sentinels' +switch-master ---- */

/* Whether the command link is on, or opening to, host:port. */
static int cmd_is_on(const struct lio_mux *c, const char *host, int port)
{
    return c->cmd.url != NULL && !c->cmd.url->sentinel &&
           c->cmd.url->port == port && strcmp(c->cmd.url->host, host) == 0;
}

/* Passes over the old master for a while, unless the switch is back to
 * it. */
static void avoid(struct lio_conn *conn, const struct lu_url_node *from,
                  const char *to_host, int to_port, lc_time now)
{
    if (conn->avoid_until > now && conn->avoid.port == to_port &&
        strcmp(conn->avoid.host, to_host) == 0)
        conn->avoid_until = 0; /* failed back to it */
    if (from->port > 0 &&
        !(from->port == to_port && strcmp(from->host, to_host) == 0)) {
        conn->avoid = *from;
        conn->avoid_until = now + AVOID_MS;
    }
}

/* "<name> <old-ip> <old-port> <new-ip> <new-port>": when it names our
 * master and another address than the command link's, both links end
 * (their elections are told), and reopening asks the sentinels again. */
static void on_switch(struct lio_mux *c, const char *msg, size_t len)
{
    char ip[LU_URL_HOST_MAX + 1], text[LC_MSG_MAX];
    struct lu_url_node from;
    int port;

    if (!lio_sentinel_switch(msg, len, c->url.master_name, &from, ip, &port))
        return;
    /* Whether or not a link is open now: the old master may come back
     * and still take writes until the sentinels demote it, and a sentinel
     * that has not caught up would name it. */
    avoid(&c->cmd, &from, ip, port, c->now);
    avoid(&c->sub, &from, ip, port, c->now);
    if (!lio_conn_is_open(&c->cmd) || cmd_is_on(c, ip, port))
        return;
    snprintf(text, sizeof text,
             "the sentinels switched master \"%.40s\" to %.60s:%d",
             c->url.master_name, ip, port);
    lio_conn_close(&c->cmd);
    lio_conn_close(&c->sub);
    lio_session_failed(&c->session, LIO_LINK_SUB, LEADER_ECONN, text, c->now);
    lio_session_failed(&c->session, LIO_LINK_CMD, LEADER_ECONN, text, c->now);
}

static void deliver_watch(struct lio_mux *c, const struct lio_record *r)
{
    const redisReply *m = r->reply;

    if (r->kind == REC_READY) {
        if (lio_conn_subscribe(&c->watch, WATCH_TAG, "+switch-master") != 0)
            lio_conn_close(&c->watch);
    } else if (r->kind == REC_FAILED) {
        c->watch_i = (c->watch_i + 1) % c->url.nsentinels;
        c->watch_retry_at = c->now + WATCH_RETRY_MS;
    } else if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
               m->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(m->element[0]->str, "message") == 0 &&
               m->element[2]->type == REDIS_REPLY_STRING) {
        on_switch(c, m->element[2]->str, m->element[2]->len);
    }
}

/* Whether some election wants the command link (it may be down between
 * two tries): the watch is held as long. */
static int watch_wanted(const struct lio_mux *c)
{
#ifdef LIO_BREAK_NO_SWITCH_WATCH
    return 0; /* broken on purpose: docs/benchmarks.md, Sentinel */
#endif
    return c->url.sentinel && c->session.attached > 0;
}

/* Holds the watch while the command link is wanted. */
static void manage_watch(struct lio_mux *c)
{
    const struct lu_url_node *n;
    struct lio_conn_params p = {WATCH_TIMEOUT_MS, WATCH_KEEPALIVE_S};

    if (!watch_wanted(c)) {
        lio_conn_close(&c->watch);
        return;
    }
    if (lio_conn_is_open(&c->watch) || c->now < c->watch_retry_at)
        return;
    n = &c->url.sentinels[c->watch_i];
    c->watch_url = c->url;
    c->watch_url.sentinel = 0;
    c->watch_url.has_user = c->watch_url.has_password = 0;
    c->watch_url.db = 0;
    memcpy(c->watch_url.host, n->host, sizeof c->watch_url.host);
    c->watch_url.port = n->port;
    (void) lio_conn_open(&c->watch, &c->watch_url, &p, c->now);
}

/* ---- asking a cluster node for the slot map ---- */

/* Applies a CLUSTER SLOTS reply from node from, making this a cluster
 * client if it was not one; 0, or -1 when the reply is no map. */
static int apply_map(struct lio_mux *c, int from, const redisReply *m)
{
    struct lio_cluster_range *ranges;
    int n;

    if (m->type != REDIS_REPLY_ARRAY)
        return -1;
    ranges = calloc(m->elements ? m->elements : 1, sizeof *ranges);
    n = ranges != NULL ? lio_cluster_slots(m, ranges, m->elements) : -1;
    if (n >= 0 && become_cluster(c) == 0)
        (void) lio_cmap_apply(&c->map, ranges, n, from);
    free(ranges);
    return n >= 0 && c->cluster ? 0 : -1;
}

/* The URL's server is asked for the map as soon as a command link to it
 * is ready, ahead of the elections' commands: a client knows from its
 * first reply on which master a slot was, so a replica promoted over that
 * master later is a new server to its elections, not a resharding's
 * target. A single server refuses the question once (cluster support
 * disabled, or an ACL without CLUSTER SLOTS), and is not asked again. */
static void ask_map(struct lio_mux *c)
{
    static const char *argv[2] = {"CLUSTER", "SLOTS"};
    static const size_t lens[2] = {7, 5};

    if (!c->url.sentinel && c->url.kind == LU_URL_TCP && !c->not_cluster)
        (void) lio_conn_send(&c->cmd, LIO_TRANSPORT_TAG, 2, argv, lens);
}

static void on_map(struct lio_mux *c, enum lio_link link, const redisReply *m)
{
    if (apply_map(c, node_of_link(link), m) == 0)
        return;
    if (c->cluster)
        want_refresh(c);
    else
        c->not_cluster = 1; /* an error, or no map: a single server */
}

static void deliver_probe(struct lio_mux *c, const struct lio_record *r)
{
    static const char *argv[2] = {"CLUSTER", "SLOTS"};
    static const size_t lens[2] = {7, 5};
    const redisReply *m = r->reply;

    if (r->kind == REC_READY) {
        if (lio_conn_send(&c->probe, SLOTS_TAG, 2, argv, lens) != 0)
            lio_conn_close(&c->probe);
        else
            c->probe_due = c->now + PROBE_TIMEOUT_MS;
        return;
    }
    c->probe_due = 0;
    if (r->kind == REC_REPLY && apply_map(c, c->probe_i, m) == 0)
        c->refresh_wanted = 0;
    /* An answer, or a failure: the next asks another node. */
    lio_conn_close(&c->probe);
    if (c->refresh_wanted)
        c->probe_i = (int) ((size_t) (c->probe_i + 1) % c->map.n);
}

/* Asks for the map while it is wanted, one node at a time. */
static void manage_probe(struct lio_mux *c)
{
    struct lio_conn_params p = {PROBE_TIMEOUT_MS, 0};

    if (c->probe_due != 0 && c->now >= c->probe_due) {
        /* Asked, and no answer in time: a silently broken connection
         * would otherwise hold the map as it is for good. */
        c->probe_due = 0;
        lio_conn_close(&c->probe);
        c->probe_i = (int) ((size_t) (c->probe_i + 1) % c->map.n);
    }

    if (!c->cluster || !c->refresh_wanted || lio_conn_is_open(&c->probe) ||
        c->now < c->refresh_at)
        return;
    c->refresh_at = c->now + REFRESH_MIN_MS;
    node_url(c, (int) ((size_t) c->probe_i % c->map.n), &c->probe_url);
    (void) lio_conn_open(&c->probe, &c->probe_url, &p, c->now);
}

/* The link a record's connection carries. */
static enum lio_link link_of_conn(const struct lio_mux *c,
                                  const struct lio_conn *conn)
{
    size_t i;

    if (conn == &c->cmd)
        return LIO_LINK_CMD;
    if (conn == &c->sub)
        return LIO_LINK_SUB;
    for (i = 1; i < c->nodes_cap; i++)
        if (c->nodes[i] != NULL && &c->nodes[i]->conn == conn)
            break;
    return link_of_node((int) i);
}

/* Who answers on a command link, as the session tells servers apart: in a
 * cluster the node's lineage (a new one after a failover promoted it). */
static uint64_t server_of(const struct lio_mux *c, enum lio_link link,
                          const struct lio_conn *conn)
{
    if (lio_session_sub_index(&c->session, link) >= 0)
        return 0;
    if (c->url.sentinel)
        return lio_conn_server(conn);
    /* The URL's server is node 0 of a cluster, lineage 1, from the first
     * connection on: an election that first reached it before anyone
     * knew it was a cluster knows it as that, and a replica promoted over
     * it is another server. */
    return c->cluster ? c->map.nodes[node_of_link(link)].lineage : 1;
}

static void deliver(struct lio_mux *c, const struct lio_record *r)
{
    enum lio_link link;

    if (r->conn_gen != r->conn->gen)
        return; /* news of a connection closed since */
    if (r->conn == &c->watch) {
        deliver_watch(c, r);
        return;
    }
    if (r->conn == &c->probe) {
        deliver_probe(c, r);
        return;
    }
    link = link_of_conn(c, r->conn);
    if (r->kind == REC_READY) {
        if (link == LIO_LINK_CMD)
            ask_map(c);
        lio_session_ready(&c->session, link, server_of(c, link, r->conn),
                          c->now);
    } else if (r->kind == REC_FAILED) {
        if (c->cluster && link == LIO_LINK_SUB)
            c->sub_pick++; /* any node hears what is published */
        else if (c->cluster)
            want_refresh(c); /* a master may have failed over */
        lio_session_failed(&c->session, link, r->error, r->text, c->now);
    } else {
        deliver_reply(c, link, r);
    }
}

/* ---- every connection ---- */

/* Connection i, as epoll data numbers them, with its registration; NULL
 * for a number with no connection. */
static struct lio_conn *conn_at(struct lio_mux *c, size_t i,
                                struct lio_reg **reg)
{
    struct lio_conn *fixed[EP_NODE] = {&c->cmd, &c->sub, &c->watch, &c->probe};
    size_t k = i - EP_NODE + 1;

    if (i < EP_NODE) {
        *reg = &c->reg[i];
        return fixed[i];
    }
    if (k >= c->nodes_cap || c->nodes[k] == NULL)
        return NULL;
    *reg = &c->nodes[k]->reg;
    return &c->nodes[k]->conn;
}

static size_t conn_count(const struct lio_mux *c)
{
    return EP_NODE + (c->nodes_cap ? c->nodes_cap - 1 : 0);
}

static void close_all(struct lio_mux *c)
{
    struct lio_reg *reg;

    for (size_t i = 0; i < conn_count(c); i++) {
        struct lio_conn *conn = conn_at(c, i, &reg);
        if (conn != NULL)
            lio_conn_close(conn);
    }
}

static void drain(struct lio_mux *c)
{
    for (;;) {
        /* Records may be added while draining (an open that fails at
         * once). */
        for (size_t i = 0; i < c->queued; i++) {
            struct lio_record r = c->queue[i];

            deliver(c, &r);
            if (r.reply != NULL)
                freeReplyObject(r.reply);
        }
        c->queued = 0;
        if (!c->dropped)
            return;
        /* A record was lost: nothing that was in flight can be trusted. */
        c->dropped = 0;
        close_all(c);
        lio_session_failed(&c->session, LIO_LINK_SUB, LEADER_ENOMEM,
                           "out of memory", c->now);
        lio_session_failed(&c->session, LIO_LINK_CMD, LEADER_ENOMEM,
                           "out of memory", c->now);
        for (size_t i = 1; i < c->nodes_cap; i++)
            if (c->nodes[i] != NULL)
                lio_session_failed(&c->session, link_of_node((int) i),
                                   LEADER_ENOMEM, "out of memory", c->now);
    }
}

/* Writes what the turn queued right away: most writes complete at once, so
 * a command costs no extra wake-up for writability and no epoll_ctl to
 * ask for it and take it back. What does not fit waits for EPOLLOUT. */
static void flush_writes(struct lio_mux *c)
{
    struct lio_reg *reg;

    for (size_t i = 0; i < conn_count(c); i++) {
        struct lio_conn *conn = conn_at(c, i, &reg);
        if (conn != NULL && conn->ready && (conn->want & LIO_WANT_WRITE))
            lio_conn_handle(conn, POLLOUT, c->now);
    }
    drain(c);
}

/* ---- the descriptor the caller polls ---- */

static unsigned epoll_events(const struct lio_conn *conn)
{
    return (conn->want & LIO_WANT_READ ? EPOLLIN : 0u) |
           (conn->want & LIO_WANT_WRITE ? EPOLLOUT : 0u);
}

/* Keeps epfd watching each connection's socket for what hiredis wants. */
static void sync_epoll(struct lio_mux *c)
{
    for (size_t i = 0; i < conn_count(c); i++) {
        struct lio_reg *reg;
        struct lio_conn *conn = conn_at(c, i, &reg);
        int fd = conn != NULL ? lio_conn_fd(conn) : -1;
        unsigned ev = fd >= 0 ? epoll_events(conn) : 0;
        struct epoll_event e = {.events = ev, .data.u32 = (uint32_t) i};
        int same;

        if (conn == NULL)
            continue;
        same = fd == reg->fd && conn->gen == reg->gen;
        if (same && ev == reg->events)
            continue;
        /* A closed socket leaves the set by itself (never DEL its number:
         * another socket may have it now), and a new connection may have
         * the old number: anything but a MOD of the same connection is a
         * fresh ADD. */
        if (fd >= 0 &&
            (!same || epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &e) != 0))
            epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &e);
        reg->fd = fd;
        reg->gen = conn->gen;
        reg->events = ev;
    }
}

static short poll_bits(uint32_t ev)
{
    return (
        short) ((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
                (ev & EPOLLERR ? POLLERR : 0) | (ev & EPOLLHUP ? POLLHUP : 0));
}

static void drain_wake(int fd)
{
    uint64_t n;
    ssize_t got = read(fd, &n, sizeof n);
    (void) got; /* nothing pending is fine too */
}

/* Arms the timer at the next deadline, so that epfd becomes readable then
 * on the library's clock, whoever polls it and for however long. */
static void arm_timer(struct lio_mux *c)
{
    lc_time d = lio_mux_deadline(c);
    struct itimerspec its;

    if (d == c->tfd_armed)
        return;
    memset(&its, 0, sizeof its); /* all zero: disarmed */
    if (d != LC_NEVER) {
        lc_time at = d > 0 ? d : 1;
        its.it_value.tv_sec = (time_t) (at / 1000);
        its.it_value.tv_nsec = (long) (at % 1000) * 1000000L;
    }
    if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        c->tfd_armed = d;
}

/* The end of every entry point: what was queued goes out, and the caller
 * is woken for what comes next. */
static void settle(struct lio_mux *c)
{
    manage_watch(c);
    manage_probe(c);
    flush_writes(c);
    sync_epoll(c);
    arm_timer(c);
}

/* ---- the public face ---- */

int lio_mux_init(struct lio_mux *c, const struct lu_url *url, uint64_t seed)
{
    struct epoll_event wake = {.events = EPOLLIN, .data.u32 = EP_WAKE};
    struct epoll_event timer = {.events = EPOLLIN, .data.u32 = EP_TIMER};
    const struct lio_transport t = {t_open,  t_close,     t_state,
                                    t_send,  t_subscribe, c,
                                    t_route, t_redirect,  t_batchable};

    memset(c, 0, sizeof *c);
    c->url = *url;
    c->nq = 1;
    for (int i = 0; i < EP_NODE; i++)
        c->reg[i].fd = -1;
    c->tfd_armed = LC_NEVER;
    lio_conn_init(&c->cmd, &handler, c);
    lio_conn_init(&c->sub, &handler, c);
    lio_conn_init(&c->watch, &handler, c);
    lio_conn_init(&c->probe, &handler, c);
    if (lio_session_init(&c->session, &t, seed) != 0)
        return LEADER_ENOMEM;
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->tfd = timerfd_create(LU_CLOCK_ID, TFD_CLOEXEC | TFD_NONBLOCK);
    if (c->epfd < 0 || c->evfd < 0 || c->tfd < 0 ||
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->evfd, &wake) != 0 ||
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->tfd, &timer) != 0) {
        if (c->epfd >= 0)
            close(c->epfd);
        if (c->evfd >= 0)
            close(c->evfd);
        if (c->tfd >= 0)
            close(c->tfd);
        lio_session_free(&c->session);
        return LEADER_ECONN;
    }
    return 0;
}

int lio_mux_init_servers(struct lio_mux *c, const struct lu_url *urls, size_t n,
                         uint64_t seed)
{
    int rc;

    if (n == 1)
        return lio_mux_init(c, urls, seed);
    if (n < 3 || n > LIO_QUORUM_MAX || n % 2 == 0)
        return LEADER_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (urls[i].sentinel)
            return LEADER_EINVAL;
    rc = lio_mux_init(c, urls, seed);
    if (rc != 0)
        return rc;
    c->qurls = malloc(n * sizeof *c->qurls);
    if (c->qurls == NULL) {
        lio_mux_free(c);
        return LEADER_ENOMEM;
    }
    memcpy(c->qurls, urls, n * sizeof *c->qurls);
    c->nq = n;
    c->not_cluster = 1;
    rc = lio_session_set_quorum(&c->session, (unsigned) n);
    if (rc != 0)
        lio_mux_free(c);
    return rc;
}

void lio_mux_free(struct lio_mux *c)
{
    close_all(c);
    for (size_t i = 0; i < c->nodes_cap; i++)
        free(c->nodes[i]);
    free(c->nodes);
    lio_cmap_free(&c->map);
    for (size_t i = 0; i < c->queued; i++)
        if (c->queue[i].reply != NULL)
            freeReplyObject(c->queue[i].reply);
    lio_session_free(&c->session);
    free(c->queue);
    free(c->qurls);
    close(c->epfd);
    close(c->evfd);
    close(c->tfd);
    memset(c, 0, sizeof *c);
}

struct lio_slot *lio_mux_add(struct lio_mux *c,
                             const struct lio_slot_config *cfg,
                             lio_emit_fn emit, void *owner, int *rc)
{
    return lio_session_add(&c->session, cfg, emit, owner, rc);
}

void lio_mux_remove(struct lio_mux *c, struct lio_slot *e)
{
    lio_session_remove(&c->session, e, c->now);
    drain(c);
    sync_epoll(c);
    arm_timer(c);
}

void lio_mux_input(struct lio_mux *c, struct lio_slot *e,
                   enum lc_input_kind kind, lc_time now)
{
    if (now > c->now)
        c->now = now;
    lio_session_input(&c->session, e, kind, c->now);
    drain(c);
    /* No settle(): nothing is written before lio_mux_process(), so that
     * the caller can deliver this step's events first (a stop's REVOKED
     * before its release can reach Redis). */
}

int lio_mux_fd(const struct lio_mux *c)
{
    return c->epfd;
}

static void handle(struct lio_mux *c, uint32_t which, short revents)
{
    struct lio_reg *reg;
    struct lio_conn *conn = conn_at(c, which, &reg);

    if (conn != NULL)
        lio_conn_handle(conn, revents, c->now);
}

static void tick_all(struct lio_mux *c)
{
    struct lio_reg *reg;

    for (size_t i = 0; i < conn_count(c); i++) {
        struct lio_conn *conn = conn_at(c, i, &reg);
        if (conn != NULL)
            lio_conn_tick(conn, c->now);
    }
}

void lio_mux_process(struct lio_mux *c, lc_time now)
{
    struct epoll_event ev[8];
    int n;

    if (now > c->now)
        c->now = now;
    n = epoll_wait(c->epfd, ev, 8, 0);
    for (int i = 0; i < n; i++) {
        uint32_t which = ev[i].data.u32;
        if (which == EP_WAKE)
            drain_wake(c->evfd);
        else if (which == EP_TIMER)
            drain_wake(c->tfd); /* the deadlines run below */
        else
            handle(c, which, poll_bits(ev[i].events));
        drain(c);
    }
    tick_all(c);
    drain(c);
    lio_session_process(&c->session, c->now);
    drain(c);
    settle(c);
}

static lc_time earlier(lc_time a, lc_time b)
{
    return a < b ? a : b;
}

lc_time lio_mux_deadline(const struct lio_mux *c)
{
    struct lio_mux *m = (struct lio_mux *) c; /* conn_at() reads only */
    lc_time d = lio_session_deadline(&c->session);
    struct lio_reg *reg;

    for (size_t i = 0; i < conn_count(c); i++) {
        const struct lio_conn *conn = conn_at(m, i, &reg);
        if (conn != NULL)
            d = earlier(d, lio_conn_deadline(conn));
    }
    if (watch_wanted(c) && !lio_conn_is_open(&c->watch))
        d = earlier(d, c->watch_retry_at);
    if (c->cluster && c->refresh_wanted && !lio_conn_is_open(&c->probe))
        d = earlier(d, c->refresh_at);
    if (c->probe_due != 0)
        d = earlier(d, c->probe_due);
    return d;
}

void lio_mux_wake(struct lio_mux *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->evfd, &one, sizeof one);
    (void) n; /* a full counter already wakes the poller */
}
