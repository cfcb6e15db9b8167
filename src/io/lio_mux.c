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

#include "io/lio_mux.h"
#include "io/lio_sentinel.h"
#include "leader.h"
#include "util/lu_clock.h"

/* Epoll data: which descriptor woke us. */
enum {
    EP_CMD = LIO_LINK_CMD,
    EP_SUB = LIO_LINK_SUB,
    EP_WATCH,
    EP_WAKE,
    EP_TIMER
};

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

static struct lio_conn *conn_of(struct lio_mux *c, enum lio_link link)
{
    return link == LIO_LINK_CMD ? &c->cmd : &c->sub;
}

static void t_open(void *ctx, enum lio_link link,
                   const struct lio_link_params *p, lc_time now)
{
    struct lio_mux *c = ctx;
    struct lio_conn_params cp = {p->timeout_ms, p->keepalive_s};

    /* A failure, at once or later, comes back as a record. */
    (void) lio_conn_open(conn_of(c, link), &c->url, &cp, now);
}

static void t_close(void *ctx, enum lio_link link)
{
    lio_conn_close(conn_of(ctx, link));
}

static enum lio_link_state t_state(void *ctx, enum lio_link link)
{
    const struct lio_conn *conn = conn_of(ctx, link);

    return conn->ready              ? LIO_LINK_READY
           : lio_conn_is_open(conn) ? LIO_LINK_OPENING
                                    : LIO_LINK_DOWN;
}

static int t_send(void *ctx, enum lio_link link, uint64_t tag, int argc,
                  const char **argv, const size_t *lens)
{
    return lio_conn_send(conn_of(ctx, link), tag, argc, argv, lens) == 0 ? 0
                                                                         : -1;
}

static int t_subscribe(void *ctx, uint64_t tag, const char *channel, int on)
{
    struct lio_mux *c = ctx;
    const char *argv[2] = {"UNSUBSCRIBE", channel};
    size_t lens[2] = {11, strlen(channel)};

    if (on)
        return lio_conn_subscribe(&c->sub, tag, channel) == 0 ? 0 : -1;
    return lio_conn_send(&c->sub, tag, 2, argv, lens) == 0 ? 0 : -1;
}

/* ---- handing the records to the session ---- */

static void deliver_reply(struct lio_mux *c, enum lio_link link,
                          const struct lio_record *r)
{
    const redisReply *m = r->reply;
    struct lc_value v, elems[LIO_MAX_ELEMS];

    if (link == LIO_LINK_CMD || r->tag == LIO_PING_TAG) {
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
        lio_session_subscribed(&c->session, r->tag, c->now);
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

static void deliver(struct lio_mux *c, const struct lio_record *r)
{
    enum lio_link link = r->conn == &c->cmd ? LIO_LINK_CMD : LIO_LINK_SUB;

    if (r->conn_gen != r->conn->gen)
        return; /* news of a connection closed since */
    if (r->conn == &c->watch) {
        deliver_watch(c, r);
        return;
    }
    if (r->kind == REC_READY)
        lio_session_ready(&c->session, link, lio_conn_server(r->conn), c->now);
    else if (r->kind == REC_FAILED)
        lio_session_failed(&c->session, link, r->error, r->text, c->now);
    else
        deliver_reply(c, link, r);
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
        lio_conn_close(&c->cmd);
        lio_conn_close(&c->sub);
        lio_conn_close(&c->watch);
        lio_session_failed(&c->session, LIO_LINK_SUB, LEADER_ENOMEM,
                           "out of memory", c->now);
        lio_session_failed(&c->session, LIO_LINK_CMD, LEADER_ENOMEM,
                           "out of memory", c->now);
    }
}

/* Writes what the turn queued right away: most writes complete at once, so
 * a command costs no extra wake-up for writability and no epoll_ctl to
 * ask for it and take it back. What does not fit waits for EPOLLOUT. */
static void flush_writes(struct lio_mux *c)
{
    struct lio_conn *conns[3] = {&c->cmd, &c->sub, &c->watch};

    for (int i = 0; i < 3; i++)
        if (conns[i]->ready && (conns[i]->want & LIO_WANT_WRITE))
            lio_conn_handle(conns[i], POLLOUT, c->now);
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
    struct lio_conn *conns[3] = {&c->cmd, &c->sub, &c->watch};

    for (int i = 0; i < 3; i++) {
        int fd = lio_conn_fd(conns[i]);
        unsigned ev = fd >= 0 ? epoll_events(conns[i]) : 0;
        struct epoll_event e = {.events = ev, .data.u32 = (uint32_t) i};

        int same = fd == c->reg_fd[i] && conns[i]->gen == c->reg_gen[i];

        if (same && ev == c->reg_events[i])
            continue;
        /* A closed socket leaves the set by itself (never DEL its number:
         * another socket may have it now), and a new connection may have
         * the old number: anything but a MOD of the same connection is a
         * fresh ADD. */
        if (fd >= 0 &&
            (!same || epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &e) != 0))
            epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &e);
        c->reg_fd[i] = fd;
        c->reg_gen[i] = conns[i]->gen;
        c->reg_events[i] = ev;
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
    flush_writes(c);
    sync_epoll(c);
    arm_timer(c);
}

/* ---- the public face ---- */

int lio_mux_init(struct lio_mux *c, const struct lu_url *url, uint64_t seed)
{
    struct epoll_event wake = {.events = EPOLLIN, .data.u32 = EP_WAKE};
    struct epoll_event timer = {.events = EPOLLIN, .data.u32 = EP_TIMER};
    const struct lio_transport t = {t_open, t_close,     t_state,
                                    t_send, t_subscribe, c};

    memset(c, 0, sizeof *c);
    c->url = *url;
    c->reg_fd[0] = c->reg_fd[1] = c->reg_fd[2] = -1;
    c->tfd_armed = LC_NEVER;
    lio_conn_init(&c->cmd, &handler, c);
    lio_conn_init(&c->sub, &handler, c);
    lio_conn_init(&c->watch, &handler, c);
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

void lio_mux_free(struct lio_mux *c)
{
    lio_conn_close(&c->cmd);
    lio_conn_close(&c->sub);
    lio_conn_close(&c->watch);
    for (size_t i = 0; i < c->queued; i++)
        if (c->queue[i].reply != NULL)
            freeReplyObject(c->queue[i].reply);
    lio_session_free(&c->session);
    free(c->queue);
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
            lio_conn_handle(which == EP_CMD   ? &c->cmd
                            : which == EP_SUB ? &c->sub
                                              : &c->watch,
                            poll_bits(ev[i].events), c->now);
        drain(c);
    }
    lio_conn_tick(&c->cmd, c->now);
    lio_conn_tick(&c->sub, c->now);
    lio_conn_tick(&c->watch, c->now);
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
    lc_time d = lio_session_deadline(&c->session);

    d = earlier(d, lio_conn_deadline(&c->cmd));
    d = earlier(d, lio_conn_deadline(&c->watch));
    if (watch_wanted(c) && !lio_conn_is_open(&c->watch))
        d = earlier(d, c->watch_retry_at);
    return earlier(d, lio_conn_deadline(&c->sub));
}

void lio_mux_wake(struct lio_mux *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->evfd, &one, sizeof one);
    (void) n; /* a full counter already wakes the poller */
}
