/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_mux.c - see lio_mux.h.
 *
 * hiredis callbacks only queue records; the queue is drained after hiredis
 * returns, feeding one core one input at a time and carrying out each
 * output at once. This keeps the cores, the connections and the owners'
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
#include "io/lio_scripts.h"
#include "leader.h"
#include "util/lu_clock.h"
#include "util/lu_ids.h"

#define NO_POS   SIZE_MAX
#define SEQ_MASK 0xffffffffULL

/* Epoll data: which descriptor woke us. */
enum { EP_CMD = 0, EP_SUB = 1, EP_WAKE = 2, EP_TIMER = 3 };

/* The tag of the health check's PING on the notification connection. */
#define PING_TAG UINT64_MAX

enum record_kind { REC_READY = 1, REC_FAILED, REC_REPLY };

struct lio_record {
    enum record_kind kind;
    struct lio_conn *conn;
    uint64_t conn_gen;
    struct lio_slot *target; /* READY for one election only, or NULL */
    int was_ready;
    int error;
    uint64_t tag;
    redisReply *reply;
    char text[LC_MSG_MAX];
};

/* ---- tags: which election a reply belongs to ---- */

static uint64_t make_tag(const struct lio_slot *e, uint64_t seq)
{
    return (uint64_t) e->slot << 40 | (uint64_t) e->gen << 32 |
           (seq & SEQ_MASK);
}

/* The election a tag names, if it still exists. */
static struct lio_slot *tag_election(const struct lio_mux *c,
                                         uint64_t tag)
{
    size_t slot = (size_t) (tag >> 40);

    if (slot >= c->nslots || c->slots[slot] == NULL ||
        c->gens[slot] != (uint8_t) (tag >> 32))
        return NULL;
    return c->slots[slot];
}

/* The full sequence number of a tag, as the core counts. */
static uint64_t tag_seq(const struct lio_slot *e, uint64_t tag)
{
    uint64_t seq = (e->core.seq & ~SEQ_MASK) | (tag & SEQ_MASK);
    return seq > e->core.seq ? seq - (SEQ_MASK + 1) : seq;
}

/* ---- recording, inside hiredis callbacks ---- */

static struct lio_record *
new_record(struct lio_mux *c, struct lio_conn *conn, enum record_kind kind)
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
    r->was_ready = was_ready;
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

/* ---- the deadline heap ---- */

static void heap_swap(struct lio_mux *c, size_t i, size_t j)
{
    struct lio_slot *t = c->heap[i];

    c->heap[i] = c->heap[j];
    c->heap[j] = t;
    c->heap[i]->heap_pos = i;
    c->heap[j]->heap_pos = j;
}

static void heap_fix(struct lio_mux *c, size_t i)
{
    while (i > 0 && c->heap[(i - 1) / 2]->deadline > c->heap[i]->deadline) {
        heap_swap(c, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->heap_n && c->heap[l]->deadline < c->heap[m]->deadline)
            m = l;
        if (r < c->heap_n && c->heap[r]->deadline < c->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(c, i, m);
        i = m;
    }
}

static void heap_remove(struct lio_mux *c, struct lio_slot *e)
{
    size_t i = e->heap_pos;

    if (i == NO_POS)
        return;
    heap_swap(c, i, --c->heap_n);
    e->heap_pos = NO_POS;
    if (i < c->heap_n)
        heap_fix(c, i);
}

/* ---- carrying out a core's outputs ---- */

static const char *const script_body[] = {NULL, LIO_SCRIPT_ACQUIRE,
                                          LIO_SCRIPT_RENEW, LIO_SCRIPT_RELEASE,
                                          LIO_SCRIPT_READ};

/* The ARGV of each script. */
static int script_args(const struct lio_slot *e, const struct lc_cmd *cmd,
                       const char *term, const char **argv)
{
    switch (cmd->kind) {
    case LC_CMD_ACQUIRE:
        argv[0] = e->core.id;
        argv[1] = e->ttl_text;
        argv[2] = term;
        return 3;
    case LC_CMD_RENEW:
        argv[0] = e->core.id;
        argv[1] = term;
        argv[2] = e->ttl_text;
        return 3;
    case LC_CMD_RELEASE:
        argv[0] = e->core.id;
        argv[1] = term;
        return 2;
    case LC_CMD_READ:
    case LC_CMD_PROBE: /* not a script: send_probe() */
        return 0;
    }
    return 0;
}

static void send_script(struct lio_slot *e, const struct lc_cmd *cmd,
                        int eval)
{
    struct lio_mux *c = e->client;
    const char *argv[8];
    size_t lens[8];
    char term[24], term_key[LIO_KEY_MAX];
    int argc = 0;

    snprintf(term, sizeof term, "%llu", (unsigned long long) cmd->term);
    argv[argc++] = eval ? "EVAL" : "EVALSHA";
    argv[argc++] = eval ? script_body[cmd->kind] : c->sha[cmd->kind];
    argv[argc++] = "2";
    argv[argc++] = e->names->holder_key;
    argv[argc++] = lio_term_key(e->names, term_key);
    argc += script_args(e, cmd, term, argv + argc);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    /* A failed send shows up as the connection's failure or as the
     * core's reply timeout; either resolves the command. */
    (void) lio_conn_send(&c->cmd, make_tag(e, cmd->seq), argc, argv, lens);
}

/* A follower's look between tries: a plain PTTL, no script. */
static void send_probe(struct lio_slot *e, const struct lc_cmd *cmd)
{
    const char *argv[2] = {"PTTL", e->names->holder_key};
    size_t lens[2] = {4, strlen(e->names->holder_key)};

    (void) lio_conn_send(&e->client->cmd, make_tag(e, cmd->seq), 2, argv, lens);
}

static int wants_sub(const struct lio_slot *e)
{
    return e->core.state == LC_FOLLOWER || e->core.state == LC_LEADER ||
           e->core.state == LC_OBSERVER;
}

static void subscribe(struct lio_slot *e)
{
    char channel[LIO_KEY_MAX];

    if (e->client->sub.ready && !e->subscribed &&
        lio_conn_subscribe(&e->client->sub, make_tag(e, 0),
                           lio_channel(e->names, channel)) == 0)
        e->subscribed = 1;
}

/* ---- timing of the connections (see lio_mux.h) ---- */

static lc_time clamp(lc_time v, lc_time lo, lc_time hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The shortest lease among the client's elections, 3 s with none. */
static lc_time shortest_ttl(const struct lio_mux *c)
{
    lc_time t = LC_NEVER;

    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i] != NULL && c->slots[i]->core.ttl < t)
            t = c->slots[i]->core.ttl;
    return t == LC_NEVER ? 3000 : t;
}

static lc_time sub_ping_every(const struct lio_mux *c)
{
    return clamp(shortest_ttl(c) / 3, 500, 5000);
}

/* How long the PING's reply, and the opening of the connection, may
 * take. */
static lc_time sub_timeout(const struct lio_mux *c)
{
    return clamp(shortest_ttl(c) / 3, 250, 2000);
}

static int keepalive_s(const struct lio_mux *c)
{
    return (int) clamp(shortest_ttl(c) / 3000, 1, 15);
}

/* Asks for the shared connection on behalf of e. */
static void connect_for(struct lio_mux *c, struct lio_slot *e)
{
    struct lio_record *r;

    if (!lio_conn_is_open(&c->cmd)) {
        /* The core gives up at its connect deadline, cmd_timeout from
         * now: the opening, lookup included, has exactly that long. */
        struct lio_conn_params p = {(long) e->core.cmd_timeout, keepalive_s(c)};
        (void) lio_conn_open(&c->cmd, &c->url, &p, c->now);
    } else if (c->cmd.ready) {
        r = new_record(c, &c->cmd, REC_READY);
        if (r != NULL)
            r->target = e;
    }
}

/* Carries out a step's output: the events go out first, before the
 * connection it may ask for is started and its commands are sent, so that
 * nothing delays a REVOKED (opening a connection never blocks, but an
 * event is owed as soon as the core decides it). */
static void apply(struct lio_slot *e, const struct lc_output *o)
{
    struct lio_mux *c = e->client;

    if ((o->actions & LC_ACT_DISCONNECT) && lc_busy(&e->core) &&
        lio_conn_is_open(&c->cmd)) {
        /* A command timed out: the connection is stuck for everyone. */
        lio_conn_close(&c->cmd);
        c->breaker = e;
        c->broken_error = LEADER_ETIMEDOUT;
    }
    for (int i = 0; i < o->nevents; i++)
        e->emit(e->owner, &o->events[i]);
    if (o->actions & LC_ACT_CONNECT)
        connect_for(c, e);
    for (int i = 0; i < o->ncmds; i++) {
        e->last_cmd = o->cmds[i];
        if (o->cmds[i].kind == LC_CMD_PROBE)
            send_probe(e, &o->cmds[i]);
        else
            send_script(e, &o->cmds[i], 0);
    }
}

/* Steps one election and keeps the client's books on it. */
static void step(struct lio_slot *e, struct lc_input *in)
{
    struct lio_mux *c = e->client;
    int was_attached = e->core.conn != LC_DOWN;
    int attached;

    in->now = c->now;
    apply(e, lc_step(&e->core, in, &c->out));
    attached = e->core.conn != LC_DOWN;
    c->attached += (size_t) attached - (size_t) was_attached;
    if (wants_sub(e) != e->active) {
        e->active = !e->active;
        c->active += e->active ? 1 : (size_t) -1;
    }
    if (e->active)
        subscribe(e);
    e->deadline = lc_deadline(&e->core);
    heap_fix(c, e->heap_pos);
    e->emit(e->owner, NULL); /* the state may have moved: tell the owner */
}

static void step_kind(struct lio_slot *e, enum lc_input_kind kind,
                      int error, const char *text)
{
    struct lc_input in = {.kind = kind,
                          .error = error,
                          .text = text,
                          .len = text != NULL ? strlen(text) : 0};
    step(e, &in);
}

/* ---- the shared command connection ---- */

/* Tells every election on the connection that it is gone. */
static void fail_all(struct lio_mux *c, const struct lio_slot *except,
                     int error, const char *text)
{
    for (size_t i = 0; i < c->nslots; i++) {
        struct lio_slot *e = c->slots[i];
        if (e == NULL || e == except)
            continue;
        if (e->core.conn == LC_CONNECTING)
            step_kind(e, LC_IN_CONN_FAILED, error, text);
        else if (e->core.conn == LC_UP)
            step_kind(e, LC_IN_CONN_LOST, error, text);
    }
}

static void ready_all(struct lio_mux *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        struct lio_slot *e = c->slots[i];
        if (e != NULL && e->core.conn == LC_CONNECTING)
            step_kind(e, LC_IN_CONNECTED, 0, NULL);
    }
}

static int is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_cmd_reply(struct lio_mux *c, const struct lio_record *r)
{
    struct lio_slot *e = tag_election(c, r->tag);
    struct lc_input in = {.kind = LC_IN_REPLY};
    struct lc_value v, elems[LIO_MAX_ELEMS];

    if (e == NULL)
        return;
    in.seq = tag_seq(e, r->tag);
    if (is_noscript(r->reply) && in.seq == e->last_cmd.seq &&
        e->core.inflight && e->core.seq == in.seq) {
        /* The script cache was empty (new server, SCRIPT FLUSH): send
         * the body. The lease still counts from the first send. */
        send_script(e, &e->last_cmd, 1);
        return;
    }
    lio_reply_to_value(r->reply, &v, elems);
    in.value = &v;
    step(e, &in);
}

static void on_cmd_record(struct lio_mux *c, const struct lio_record *r)
{
    if (r->kind == REC_READY && r->target != NULL) {
        if (r->target->core.conn == LC_CONNECTING)
            step_kind(r->target, LC_IN_CONNECTED, 0, NULL);
    } else if (r->kind == REC_READY) {
        ready_all(c);
    } else if (r->kind == REC_FAILED) {
        fail_all(c, NULL, r->error, r->text);
    } else {
        on_cmd_reply(c, r);
    }
}

/* ---- the shared notification connection ---- */

static void unsubscribed_all(struct lio_mux *c)
{
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i] != NULL)
            c->slots[i]->subscribed = 0;
    c->sub_ping_at = LC_NEVER;
    c->sub_pong_by = LC_NEVER;
}

/* The connection failed or was given up: open another after a backoff
 * (short the first time: a silently dead connection is replaced at once,
 * and the elections catch up on what they missed once subscribed). */
static void sub_failed(struct lio_mux *c)
{
    unsubscribed_all(c);
    c->sub_failures++;
    c->sub_retry_at = c->now + lc_backoff(&c->rng, c->sub_failures, 1000);
}

static void manage_sub(struct lio_mux *c)
{
    if (c->active == 0) {
        if (lio_conn_is_open(&c->sub)) {
            lio_conn_close(&c->sub);
            unsubscribed_all(c);
        }
        c->sub_failures = 0;
        c->sub_retry_at = 0;
    } else if (!lio_conn_is_open(&c->sub) && c->now >= c->sub_retry_at) {
        struct lio_conn_params p = {(long) sub_timeout(c), keepalive_s(c)};
        (void) lio_conn_open(&c->sub, &c->url, &p, c->now);
    }
}

/* The health check: a PING every sub_ping_every(), its reply due within
 * sub_timeout(). A connection that does not answer in time is closed and
 * replaced, however quiet the network is about it. */
static void check_sub(struct lio_mux *c)
{
    static const char *ping = "PING";
    static const size_t ping_len = 4;

    if (!c->sub.ready)
        return;
    if (c->sub_pong_by != LC_NEVER) {
        if (c->now >= c->sub_pong_by) {
            lio_conn_close(&c->sub);
            sub_failed(c);
        }
    } else if (c->now >= c->sub_ping_at) {
        if (lio_conn_send(&c->sub, PING_TAG, 1, &ping, &ping_len) == 0) {
            c->sub_pong_by = c->now + sub_timeout(c);
        } else {
            lio_conn_close(&c->sub);
            sub_failed(c);
        }
    }
}

static void on_sub_message(struct lio_mux *c, const struct lio_record *r)
{
    struct lio_slot *e = tag_election(c, r->tag);
    const redisReply *m = r->reply;
    struct lc_input in = {0};

    if (e == NULL || m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
        m->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(m->element[0]->str, "subscribe") == 0) {
        c->sub_failures = 0;
        in.kind = LC_IN_SUBSCRIBED;
    } else if (strcmp(m->element[0]->str, "message") == 0 &&
               m->element[2]->type == REDIS_REPLY_STRING) {
        in.kind = LC_IN_NOTIFY;
        in.text = m->element[2]->str;
        in.len = m->element[2]->len;
    } else {
        return;
    }
    step(e, &in);
}

/* The notification connection was refused for lack of a permission: the
 * elections go on without notifications, and each says why (once). */
static void sub_refused(struct lio_mux *c, const struct lio_record *r)
{
    struct lc_input in = {0};

    in.kind = LC_IN_SUB_REFUSED;
    in.error = r->error;
    in.text = r->text;
    in.len = strlen(r->text);
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i] != NULL && c->slots[i]->active)
            step(c->slots[i], &in);
}

static void on_sub_record(struct lio_mux *c, const struct lio_record *r)
{
    if (r->kind == REC_READY) {
        c->sub_ping_at = c->now + sub_ping_every(c);
        c->sub_pong_by = LC_NEVER;
        for (size_t i = 0; i < c->nslots; i++)
            if (c->slots[i] != NULL && c->slots[i]->active)
                subscribe(c->slots[i]);
    } else if (r->kind == REC_FAILED) {
        if (r->error == LEADER_EAUTH) /* an ACL refused SUBSCRIBE */
            sub_refused(c, r);
        sub_failed(c);
    } else if (r->tag == PING_TAG) {
        /* Answered ("pong" while subscribed, PONG otherwise). */
        c->sub_pong_by = LC_NEVER;
        c->sub_ping_at = c->now + sub_ping_every(c);
    } else {
        on_sub_message(c, r);
    }
}

/* ---- draining the records ---- */

static void drain(struct lio_mux *c)
{
    /* Records may be added while draining (an open that fails at once, a
     * connection for an election that is already up). */
    for (size_t i = 0; i < c->queued; i++) {
        struct lio_record r = c->queue[i];

        if (r.conn_gen == r.conn->gen && r.conn == &c->cmd)
            on_cmd_record(c, &r);
        else if (r.conn_gen == r.conn->gen)
            on_sub_record(c, &r);
        if (r.reply != NULL)
            freeReplyObject(r.reply);
        if (c->breaker != NULL) {
            const struct lio_slot *by = c->breaker;
            c->breaker = NULL;
            fail_all(c, by, c->broken_error, NULL);
        }
    }
    c->queued = 0;
    if (c->dropped) {
        c->dropped = 0;
        lio_conn_close(&c->cmd);
        lio_conn_close(&c->sub);
        sub_failed(c);
        fail_all(c, NULL, LEADER_ENOMEM, "out of memory");
    }
    if (c->attached == 0 && lio_conn_is_open(&c->cmd))
        lio_conn_close(&c->cmd);
}

/* Writes what the turn queued right away: most writes complete at once, so
 * a command costs no extra wake-up for writability and no epoll_ctl to
 * ask for it and take it back. What does not fit waits for EPOLLOUT. */
static void flush_writes(struct lio_mux *c)
{
    struct lio_conn *conns[2] = {&c->cmd, &c->sub};

    for (int i = 0; i < 2; i++)
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
    struct lio_conn *conns[2] = {&c->cmd, &c->sub};

    for (int i = 0; i < 2; i++) {
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
    flush_writes(c);
    sync_epoll(c);
    arm_timer(c);
}

/* ---- the public face ---- */

int lio_mux_init(struct lio_mux *c, const struct lu_url *url,
                    uint64_t seed)
{
    struct epoll_event wake = {.events = EPOLLIN, .data.u32 = EP_WAKE};
    struct epoll_event timer = {.events = EPOLLIN, .data.u32 = EP_TIMER};

    memset(c, 0, sizeof *c);
    c->url = *url;
    c->rng = seed | 1;
    c->reg_fd[0] = c->reg_fd[1] = -1;
    c->sub_ping_at = LC_NEVER;
    c->sub_pong_by = LC_NEVER;
    c->tfd_armed = LC_NEVER;
    lio_conn_init(&c->cmd, &handler, c);
    lio_conn_init(&c->sub, &handler, c);
    for (int k = LC_CMD_ACQUIRE; k <= LC_CMD_READ; k++)
        if (lu_sha1_hex(script_body[k], strlen(script_body[k]), c->sha[k]))
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
        return LEADER_ECONN;
    }
    return 0;
}

void lio_mux_free(struct lio_mux *c)
{
    lio_conn_close(&c->cmd);
    lio_conn_close(&c->sub);
    for (size_t i = 0; i < c->queued; i++)
        if (c->queue[i].reply != NULL)
            freeReplyObject(c->queue[i].reply);
    for (size_t i = 0; i < c->nslots; i++)
        free(c->slots[i]);
    free(c->queue);
    free(c->slots);
    free(c->gens);
    free(c->heap);
    close(c->epfd);
    close(c->evfd);
    close(c->tfd);
    memset(c, 0, sizeof *c);
}

/* A free slot for a new election, growing the tables if needed. */
static int take_slot(struct lio_mux *c, uint32_t *slot)
{
    size_t n = c->nslots ? c->nslots * 2 : 4;
    struct lio_slot **slots, **heap;
    uint8_t *gens;

    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i] == NULL) {
            *slot = (uint32_t) i;
            return 0;
        }
    if (n > (1u << 24))
        return -1; /* the tag has 24 bits for the slot */
    slots = realloc(c->slots, n * sizeof *slots);
    if (slots != NULL)
        c->slots = slots;
    gens = slots != NULL ? realloc(c->gens, n) : NULL;
    if (gens != NULL)
        c->gens = gens;
    heap = gens != NULL ? realloc(c->heap, n * sizeof *heap) : NULL;
    if (heap == NULL)
        return -1;
    c->heap = heap;
    memset(c->slots + c->nslots, 0, (n - c->nslots) * sizeof *slots);
    memset(c->gens + c->nslots, 0, n - c->nslots);
    *slot = (uint32_t) c->nslots;
    c->nslots = n;
    return 0;
}

void lio_names_make(struct lio_names *n, const char *key_hex)
{
    snprintf(n->holder_key, sizeof n->holder_key, "leader:%s", key_hex);
}

const char *lio_term_key(const struct lio_names *n, char buf[LIO_KEY_MAX])
{
    snprintf(buf, LIO_KEY_MAX, "{%s}:term", n->holder_key);
    return buf;
}

const char *lio_channel(const struct lio_names *n, char buf[LIO_KEY_MAX])
{
    snprintf(buf, LIO_KEY_MAX, "%s:events", n->holder_key);
    return buf;
}

struct lio_slot *lio_mux_add(struct lio_mux *c,
                                    const struct lio_slot_config *cfg,
                                    lio_emit_fn emit, void *owner, int *rc)
{
    struct lc_config cc = {cfg->id, cfg->ttl_ms, cfg->wait_ms, cfg->seed};
    struct lio_slot *e = calloc(1, sizeof *e);
    uint32_t slot;

    *rc = LEADER_ENOMEM;
    if (e == NULL)
        return NULL;
    if (lc_init(&e->core, &cc) != 0) {
        free(e);
        *rc = LEADER_EINVAL;
        return NULL;
    }
    if (take_slot(c, &slot) != 0) {
        free(e);
        return NULL;
    }
    e->names = cfg->names;
    snprintf(e->ttl_text, sizeof e->ttl_text, "%ld", cfg->ttl_ms);
    e->client = c;
    e->slot = slot;
    e->gen = c->gens[slot];
    e->emit = emit;
    e->owner = owner;
    e->deadline = LC_NEVER;
    c->slots[slot] = e;
    e->heap_pos = c->heap_n;
    c->heap[c->heap_n++] = e;
    *rc = 0;
    return e;
}

const struct lc_core *lio_mux_core(const struct lio_slot *e)
{
    return &e->core;
}

void lio_mux_remove(struct lio_mux *c, struct lio_slot *e)
{
    if (e->subscribed && c->sub.ready) {
        char channel[LIO_KEY_MAX];
        const char *argv[2] = {"UNSUBSCRIBE", lio_channel(e->names, channel)};
        size_t lens[2] = {11, strlen(channel)};
        (void) lio_conn_send(&c->sub, make_tag(e, 0), 2, argv, lens);
    }
    if (e->core.conn != LC_DOWN)
        c->attached--;
    if (e->active)
        c->active--;
    heap_remove(c, e);
    c->slots[e->slot] = NULL;
    c->gens[e->slot]++;
    free(e);
    if (c->attached == 0)
        lio_conn_close(&c->cmd);
    manage_sub(c);
    sync_epoll(c);
    arm_timer(c);
}

void lio_mux_input(struct lio_mux *c, struct lio_slot *e,
                      enum lc_input_kind kind, lc_time now)
{
    if (now > c->now)
        c->now = now;
    step_kind(e, kind, 0, NULL);
    drain(c);
    manage_sub(c);
    drain(c);
    /* No settle(): nothing is written before lio_mux_process(), so that
     * the caller can deliver this step's events first (a stop's REVOKED
     * before its release can reach Redis). */
}

int lio_mux_fd(const struct lio_mux *c)
{
    return c->epfd;
}

/* Ticks every election whose deadline has come, each once. */
static void run_deadlines(struct lio_mux *c)
{
    size_t n = c->heap_n;

    while (n-- > 0 && c->heap_n > 0 && c->heap[0]->deadline <= c->now) {
        step_kind(c->heap[0], LC_IN_TICK, 0, NULL);
        drain(c);
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
            lio_conn_handle(which == EP_CMD ? &c->cmd : &c->sub,
                            poll_bits(ev[i].events), c->now);
        drain(c);
    }
    lio_conn_tick(&c->cmd, c->now);
    lio_conn_tick(&c->sub, c->now);
    drain(c);
    run_deadlines(c);
    check_sub(c);
    manage_sub(c);
    drain(c);
    settle(c);
}

static lc_time earlier(lc_time a, lc_time b)
{
    return a < b ? a : b;
}

lc_time lio_mux_deadline(const struct lio_mux *c)
{
    lc_time d = c->heap_n > 0 ? c->heap[0]->deadline : LC_NEVER;

    if (c->active > 0 && !lio_conn_is_open(&c->sub))
        d = earlier(d, c->sub_retry_at);
    d = earlier(d, lio_conn_deadline(&c->cmd));
    d = earlier(d, lio_conn_deadline(&c->sub));
    if (c->sub.ready)
        d = earlier(d, c->sub_pong_by != LC_NEVER ? c->sub_pong_by
                                                  : c->sub_ping_at);
    return d;
}

void lio_mux_wake(struct lio_mux *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->evfd, &one, sizeof one);
    (void) n; /* a full counter already wakes the poller */
}
