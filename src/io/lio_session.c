/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_session.c - see lio_session.h.
 *
 * Every entry point feeds cores one input at a time and carries out each
 * output at once, then settles what the step left owed: a command link
 * broken by one election's timeout is failed for every other one, and an
 * election that asked for a link that was already up is told CONNECTED.
 * Those come after the step rather than inside it, so that no core is
 * stepped while another step is being carried out. Settling also sends
 * the renewals the step collected, in batches (see "renewals in
 * batches").
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/lio_session.h"
#include "leader.h"

#define NO_POS   UINT32_MAX
#define SEQ_MASK 0xffffffffULL

/* LIO_BREAK_* switches exist only for tests/sim, which builds this file
 * with one rule of the session broken to show that the simulator catches
 * it. The library is never built with any of them. */

/* ---- tags: which election a reply belongs to ---- */

static uint64_t make_tag(const struct lio_slot *e, uint64_t seq)
{
    return (uint64_t) e->index << 40 | (uint64_t) e->gen << 32 |
           (seq & SEQ_MASK);
}

/* The election a tag names, if it still exists. */
static struct lio_slot *tag_slot(const struct lio_session *s, uint64_t tag)
{
    size_t i = (size_t) (tag >> 40);

    if (tag == LIO_PING_TAG || tag == LIO_TRANSPORT_TAG ||
        tag == LIO_INFO_TAG || i >= s->nslots || s->slots[i] == NULL)
        return NULL;
#ifndef LIO_BREAK_STALE_TAG
    if (s->gens[i] != (uint8_t) (tag >> 32))
        return NULL;
#endif
    return s->slots[i];
}

/* The full sequence number of a tag, as the core counts. */
static uint64_t tag_seq(const struct lio_slot *e, uint64_t tag)
{
    uint64_t last = lc_last_seq(e->core);
    uint64_t seq = (last & ~SEQ_MASK) | (tag & SEQ_MASK);

    return seq > last ? seq - (SEQ_MASK + 1) : seq;
}

/* ---- the deadline heap ---- */

/* The heap holds each deadline next to its slot, so that a sift compares
 * within one array and touches a slot only to tell it where it moved: with
 * many elections the slots are all over memory. */
static void heap_put(struct lio_session *s, size_t i, struct lio_heap_ent x)
{
    s->heap[i] = x;
    x.slot->heap_pos = (uint32_t) i;
}

/* Moves the entry at i up or down to where its deadline belongs. */
static void heap_fix(struct lio_session *s, size_t i)
{
    struct lio_heap_ent x = s->heap[i];

    while (i > 0 && s->heap[(i - 1) / 2].deadline > x.deadline) {
        heap_put(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (size_t c = 2 * i + 1; c < s->heap_n; c = 2 * i + 1) {
        if (c + 1 < s->heap_n && s->heap[c + 1].deadline < s->heap[c].deadline)
            c++;
        if (s->heap[c].deadline >= x.deadline)
            break;
        heap_put(s, i, s->heap[c]);
        i = c;
    }
    heap_put(s, i, x);
}

/* Gives e's entry its new deadline. */
static void heap_update(struct lio_session *s, struct lio_slot *e)
{
    s->heap[e->heap_pos].deadline = e->deadline;
    heap_fix(s, e->heap_pos);
}

static void heap_remove(struct lio_session *s, struct lio_slot *e)
{
    size_t i = e->heap_pos;

    if (i == NO_POS)
        return;
    e->heap_pos = NO_POS;
    if (i == --s->heap_n)
        return;
    s->heap[i] = s->heap[s->heap_n];
    heap_fix(s, i);
}

/* ---- the links ---- */

static int quorum(const struct lio_session *s);
static int cmd_ready(const struct lio_session *s, const struct lio_slot *e);
static void q_open_links(struct lio_session *s);
static void q_send_cmd(struct lio_slot *e, const struct lc_cmd *cmd);
static void q_timed_out(struct lio_slot *e);
static void q_settle(struct lio_session *s);
static void q_close_unused(struct lio_session *s);
static lc_time q_deadline(const struct lio_session *s);
static void q_abandon(struct lio_slot *e);
static void q_on_ready(struct lio_session *s, unsigned i);
static void q_server_down(struct lio_session *s, unsigned i, int error,
                          const char *text);
static void q_on_reply(struct lio_session *s, unsigned i, uint64_t tag,
                       const struct lc_value *v);
static int link_server(const struct lio_session *s, enum lio_link link);
static void drop_batches(struct lio_session *s, enum lio_link link);
static int batching(const struct lio_session *s, const struct lio_slot *e);
static int queue_renewal(struct lio_session *s, uint64_t tag);
static int is_batch_tag(uint64_t tag);
static void on_batch_reply(struct lio_session *s, enum lio_link link,
                           uint64_t tag, const struct lc_value *v);

static enum lio_link_state link_state(const struct lio_session *s,
                                      enum lio_link link)
{
    return s->t.state(s->t.ctx, link);
}

static void link_close(struct lio_session *s, enum lio_link link)
{
    if (link_state(s, link) != LIO_LINK_DOWN)
        s->t.close(s->t.ctx, link);
    drop_batches(s, link); /* their replies will never come */
}

static int is_cmd_link(const struct lio_session *s, enum lio_link link)
{
    return lio_session_sub_index(s, link) < 0;
}

/* The book of a command link, made on first use. NULL only when out of
 * memory. */
static struct lio_link_book *book(struct lio_session *s, enum lio_link link)
{
    size_t n = (size_t) link + 1;

    if (n > s->nbooks) {
        struct lio_link_book *b = realloc(s->books, n * sizeof *b);
        if (b == NULL)
            return NULL;
        memset(b + s->nbooks, 0, (n - s->nbooks) * sizeof *b);
        s->books = b;
        s->nbooks = n;
    }
    return &s->books[link];
}

/* The command link for an election about to use one. */
static enum lio_link route(struct lio_session *s, const struct lio_slot *e)
{
    enum lio_link link = s->t.route != NULL
                             ? s->t.route(s->t.ctx, e->names->holder_key)
                             : LIO_LINK_CMD;

    /* Without memory for its book, the election stays on the first link,
     * whose book always exists (lio_session_init). */
    return book(s, link) != NULL ? link : LIO_LINK_CMD;
}

/* Moves an election's hold from its link to another. */
static void hold(struct lio_session *s, struct lio_slot *e, enum lio_link to)
{
    s->books[e->link].attached--;
    e->link = to;
    s->books[to].attached++;
}

/* Counts e's ttl in (1) or out (-1) of the shortest. A pass over every
 * election is made only when the last one with the shortest goes: timing()
 * is asked for on paths taken once per election (a reconnect of them all). */
static void count_ttl(struct lio_session *s, const struct lio_slot *e, int in)
{
    lc_time t = lc_ttl(e->core);

    if (in > 0 && (s->ttl_min_count == 0 || t < s->ttl_min)) {
        s->ttl_min = t;
        s->ttl_min_count = 1;
    } else if (in > 0 && t == s->ttl_min) {
        s->ttl_min_count++;
    } else if (in < 0 && t == s->ttl_min && s->ttl_min_count > 0 &&
               --s->ttl_min_count == 0) {
        for (size_t i = 0; i < s->nslots; i++)
            if (s->slots[i] != NULL && s->slots[i] != e)
                count_ttl(s, s->slots[i], 1);
    }
}

/* The shortest lease among the session's elections, 3 s with none. */
static lc_time shortest_ttl(const struct lio_session *s)
{
    return s->ttl_min_count > 0 ? s->ttl_min : 3000;
}

static struct lio_timing timing(const struct lio_session *s)
{
    struct lio_timing t;

    lio_timing_for(shortest_ttl(s), &t);
    return t;
}

/* ---- carrying out a core's outputs ---- */

/* Before each sending of a command redirected by ASK (its EVAL after a
 * NOSCRIPT too). Its reply has the PING tag, which names no election on a
 * command link. */
static void send_asking(struct lio_slot *e)
{
    static const char *asking = "ASKING";
    static const size_t asking_len = 6;
    struct lio_session *s = e->session;

    if (e->asking)
        (void) s->t.send(s->t.ctx, e->link, LIO_PING_TAG, 1, &asking,
                         &asking_len);
}

/* ---- the first call of a script on a link goes as EVAL ----
 *
 * EVAL loads its body into the server's script cache, so every call after
 * it on the same link can be EVALSHA: Redis runs a link's commands in
 * order. Sent as EVALSHA from the start, every call made before the first
 * reply came back would meet NOSCRIPT and go again; when elections start
 * by the thousand on a new link, that is thousands of round trips, and the
 * renewals wait behind them. A script flushed later (SCRIPT FLUSH) still
 * meets NOSCRIPT and goes again as EVAL, as before. */
#define SCRIPT_BIT_BATCH  8 /* the command kinds' bits are below */
#define SCRIPT_BIT_QUORUM 9 /* and up: the quorum wires' */

/* 1 if script bit goes as EVAL on link now: its first call since the link
 * was last ready. Without memory for the link's book, EVALSHA. */
static int first_call(struct lio_session *s, enum lio_link link, unsigned bit)
{
    struct lio_link_book *b = book(s, link);

    if (b == NULL || (b->scripts & 1u << bit))
        return 0;
    b->scripts |= 1u << bit;
    return 1;
}

static void send_script(struct lio_slot *e, const struct lc_cmd *cmd, int eval)
{
    struct lio_session *s = e->session;
    struct lio_argv a;

    if (first_call(s, e->link, (unsigned) cmd->kind))
        eval = 1;
    lio_argv_script(&a, cmd->kind, cmd->term, e->names, lc_id(e->core),
                    e->ttl_text, eval ? NULL : lio_sha_of(&s->shas, cmd->kind));
    /* A failed send shows up as the link's failure or as the core's reply
     * timeout; either resolves the command. */
    send_asking(e);
    (void) s->t.send(s->t.ctx, e->link, make_tag(e, cmd->seq), a.argc, a.argv,
                     a.lens);
}

static void send_probe(struct lio_slot *e, const struct lc_cmd *cmd)
{
    struct lio_session *s = e->session;
    struct lio_argv a;

    lio_argv_probe(&a, e->names);
    send_asking(e);
    (void) s->t.send(s->t.ctx, e->link, make_tag(e, cmd->seq), a.argc, a.argv,
                     a.lens);
}

/* The command awaited, again (the same tag: its lease still counts from
 * the first send). */
static void resend(struct lio_slot *e)
{
    if (e->last_cmd.kind == LC_CMD_PROBE)
        send_probe(e, &e->last_cmd);
    else
        send_script(e, &e->last_cmd, 0);
}

static void send_cmd(struct lio_slot *e, const struct lc_cmd *cmd)
{
    e->last_cmd = *cmd;
    if (quorum(e->session)) {
        q_send_cmd(e, cmd);
        return;
    }
    e->hops = 0;
    e->asking = 0;
    e->resend_at = 0;
    if (cmd->kind == LC_CMD_PROBE)
        send_probe(e, cmd);
    else if (cmd->kind != LC_CMD_RENEW || !batching(e->session, e) ||
             queue_renewal(e->session, make_tag(e, cmd->seq)) != 0)
        send_script(e, cmd, 0);
}

/* The notification links: one per server in quorum mode, else one. */
static unsigned nsubs(const struct lio_session *s)
{
    return quorum(s) ? s->nservers : 1;
}

static enum lio_link sub_link(const struct lio_session *s, unsigned i)
{
    return lio_sub_link(nsubs(s), i);
}

/* Subscribes e's channel on every ready notification link it is not yet
 * subscribed on. Called after every step of a listening election, so the
 * channel's name is made only when there is a link to send it on. */
static void subscribe(struct lio_slot *e)
{
    struct lio_session *s = e->session;
    char buf[LIO_KEY_MAX];
    const char *channel = NULL;

    for (unsigned i = 0; i < nsubs(s); i++) {
        if ((e->subscribed & 1u << i) ||
            link_state(s, sub_link(s, i)) != LIO_LINK_READY)
            continue;
        if (channel == NULL)
            channel = lio_channel(e->names, buf);
        if (s->t.subscribe(s->t.ctx, sub_link(s, i), make_tag(e, 0), channel,
                           1) == 0)
            e->subscribed |= 1u << i;
    }
}

/* ---- what is owed once a step is over (struct lio_due) ---- */

static void due_add(struct lio_due *d, uint32_t index)
{
    d->count++;
    if (d->n == d->cap) {
        size_t n = d->cap != 0 ? 2 * d->cap : 64;
        uint32_t *p = realloc(d->idx, n * sizeof *p);
        if (p == NULL) {
            d->scan = 1;
            return;
        }
        d->idx = p;
        d->cap = n;
    }
    d->idx[d->n++] = index;
}

/* How many places due_at() has, and the slot at place i (NULL: none). */
static size_t due_len(const struct lio_session *s, const struct lio_due *d)
{
    return d->scan ? s->nslots : d->n;
}

static struct lio_slot *due_at(const struct lio_session *s,
                               const struct lio_due *d, size_t i)
{
    return s->slots[d->scan ? i : d->idx[i]];
}

/* After a visit: empties the list once nothing is owed. */
static void due_done(struct lio_due *d)
{
    if (d->count == 0) {
        d->n = 0;
        d->scan = 0;
    }
}

static void owe_ready(struct lio_session *s, struct lio_slot *e)
{
    if (e->ready_owed)
        return;
    e->ready_owed = 1;
    due_add(&s->owed, e->index);
}

/* Asks for the command link on behalf of e. */
static void connect_for(struct lio_session *s, struct lio_slot *e)
{
    enum lio_link_state st = link_state(s, e->link);

    if (quorum(s)) {
        q_open_links(s);
        if (cmd_ready(s, e))
            owe_ready(s, e);
    } else if (st == LIO_LINK_DOWN) {
        /* The core gives up at its connect deadline, connect_timeout
         * from now: the opening, lookup included, has exactly that long. */
        struct lio_link_params p = {(long) lc_connect_timeout(e->core),
                                    timing(s).keepalive_s};
        s->t.open(s->t.ctx, e->link, &p, s->now);
    } else if (st == LIO_LINK_READY) {
        owe_ready(s, e);
    }
}

/* Carries out a step's output: the events go out first, before the link
 * it may ask for is opened and its commands are sent, so that nothing
 * delays a REVOKED (opening a link never blocks, but an event is owed as
 * soon as the core decides it). */
static void apply(struct lio_slot *e, const struct lc_output *o)
{
    struct lio_session *s = e->session;

    if ((o->actions & LC_ACT_DISCONNECT) && lc_busy(e->core) && quorum(s)) {
        q_timed_out(e);
    } else if ((o->actions & LC_ACT_DISCONNECT) && lc_busy(e->core) &&
               link_state(s, e->link) != LIO_LINK_DOWN) {
        /* A command timed out: the link is stuck for everyone. */
        link_close(s, e->link);
#ifndef LIO_BREAK_NO_TIMEOUT_FANOUT
        s->breaker = e;
#endif
    }
    for (int i = 0; i < o->nevents; i++)
        e->emit(e->owner, &o->events[i], o);
    if (o->actions & LC_ACT_CONNECT)
        connect_for(s, e);
    for (int i = 0; i < o->ncmds; i++)
        send_cmd(e, &o->cmds[i]);
}

/* Whether e awaits a reply on a link that has answered other commands
 * since e's was sent, the last time within e's command timeout: commands
 * sent before e's, so e's is queued behind them. A link that went silent
 * right after the send is given up on at the timeout, as always (not in
 * quorum mode either: each server's op has its own timeout). */
static int answering(const struct lio_session *s, const struct lio_slot *e)
{
    lc_time at;

    if (quorum(s) || !lc_awaiting(e->core) || lc_conn_state(e->core) != LC_UP ||
        (size_t) e->link >= s->nbooks)
        return 0;
    at = s->books[e->link].answered;
    return at > lc_sent_at(e->core) && s->now - at < lc_cmd_timeout(e->core);
}

/* Steps one election and keeps the session's books on it. */
static void step(struct lio_slot *e, struct lc_input *in)
{
    struct lio_session *s = e->session;
    const struct lc_output *o;

    /* Whatever wakes an election whose command timed out while queued
     * (its deadline, a notification of its own win that the other link
     * brought before the reply, a batch's reply), the core hears first
     * that the link keeps answering, so that it waits on. */
    if (in->kind != LC_IN_PROGRESS && e->deadline <= s->now &&
        answering(s, e)) {
        struct lc_input progress = {.kind = LC_IN_PROGRESS};
        step(e, &progress);
    }
    in->now = s->now;
    o = lc_step(e->core, in, &s->out);
    /* The books first: the owner's emit may not step, but the report is
     * read before anything else runs. */
    if (o->changed & LC_CHG_CONN) {
        if (o->status.attached) {
            e->link = route(s, e);
            s->books[e->link].attached++;
            s->attached++;
        } else {
            s->books[e->link].attached--;
            s->attached--;
            e->moving = e->asking = 0;
            e->resend_at = 0;
        }
    }
    if (o->changed & LC_CHG_LISTEN) {
        e->listening = o->status.listening;
        s->listeners += e->listening ? 1 : (size_t) -1;
    }
    e->deadline = o->deadline;
    if (e->resend_at != 0 && e->resend_at < e->deadline)
        e->deadline = e->resend_at;
    apply(e, o);
    if (e->listening)
        subscribe(e);
    heap_update(s, e);
    e->emit(e->owner, NULL, o); /* the state may have moved: tell the owner */
}

static void step_kind(struct lio_slot *e, enum lc_input_kind kind, int error,
                      const char *text)
{
    struct lc_input in = {.kind = kind,
                          .error = error,
                          .text = text,
                          .len = text != NULL ? strlen(text) : 0};
    step(e, &in);
}

/* ---- the command link ---- */

/* Tells every election on a command link but one that it is gone. */
static void fail_all(struct lio_session *s, enum lio_link link,
                     const struct lio_slot *except, int error, const char *text)
{
    for (size_t i = 0; i < s->nslots; i++) {
        struct lio_slot *e = s->slots[i];
        if (e == NULL || e == except || e->link != link)
            continue;
        if (lc_conn_state(e->core) == LC_CONNECTING)
            step_kind(e, LC_IN_CONN_FAILED, error, text);
        else if (lc_conn_state(e->core) == LC_UP)
            step_kind(e, LC_IN_CONN_LOST, error, text);
    }
}

/* CONNECTED, fresh when the election reached another server before. */
static void connected(struct lio_slot *e)
{
    uint64_t now_on = e->session->books[e->link].server;
    struct lc_input in = {.kind = LC_IN_CONNECTED,
                          .fresh = e->server != 0 && now_on != 0 &&
                                   e->server != now_on};

    if (now_on != 0)
        e->server = now_on;
    step(e, &in);
}

/* Whether an election moved to another server by a redirection has
 * reached one it did not use before (a replica promoted by a failover,
 * as the transport tells servers apart): then it is told that its
 * connection is lost, and reconnecting tells it that it is fresh. */
static int moved_to_fresh(struct lio_slot *e)
{
    uint64_t now_on = e->session->books[e->link].server;

    if (now_on == 0)
        return 0;
#ifndef LIO_BREAK_REDIRECT_NOT_FRESH
    if (e->server == 0 || e->server == now_on) {
#else
    /* Broken on purpose (tests/sim): a redirection is never to a new
     * master. */
    {
#endif
        e->server = now_on;
        return 0;
    }
    step_kind(e, LC_IN_CONN_LOST, LEADER_ECONN,
              "the key's slot moved to a new master");
    return 1;
}

/* A redirected command reaches its new link, ready. */
static void arrive(struct lio_slot *e)
{
    e->moving = 0;
    if (!moved_to_fresh(e))
        resend(e);
}

static void ready_all(struct lio_session *s, enum lio_link link)
{
    for (size_t i = 0; i < s->nslots; i++) {
        struct lio_slot *e = s->slots[i];
        if (e == NULL || e->link != link)
            continue;
        if (lc_conn_state(e->core) == LC_CONNECTING)
            connected(e);
        else if (e->moving)
            arrive(e);
    }
}

/* At most this many redirections per command: a cluster that sends it
 * around in circles leaves it to the core's timeout. */
#define MAX_HOPS 5
/* TRYAGAIN: the slot's keys are split between two nodes while being
 * migrated, for a moment. */
#define TRYAGAIN_MS 10

/* Sends e's command on another link, as a redirection says. */
static void redirect(struct lio_slot *e, enum lio_link to, int ask)
{
    struct lio_session *s = e->session;
    enum lio_link_state st;

    if (book(s, to) == NULL)
        return; /* the command's timeout resolves it */
    hold(s, e, to);
    e->asking = ask;
    st = link_state(s, to);
    if (st == LIO_LINK_READY) {
        arrive(e);
        return;
    }
    e->moving = 1;
    if (st == LIO_LINK_DOWN) {
        struct lio_link_params p = {(long) lc_connect_timeout(e->core),
                                    timing(s).keepalive_s};
        s->t.open(s->t.ctx, to, &p, s->now);
    }
}

static int is_error(const struct lc_value *v, const char *prefix)
{
    size_t n = strlen(prefix);

    return v->type == LC_VAL_ERR && v->len >= n &&
           memcmp(v->str, prefix, n) == 0;
}

/* A MOVED, ASK or TRYAGAIN for e's command, handled here (1) or not. */
static int rerouted(struct lio_slot *e, enum lio_link link,
                    const struct lc_value *v)
{
    struct lio_session *s = e->session;
    int ask = 0, to;

    if (s->t.redirect == NULL || v->type != LC_VAL_ERR || e->hops >= MAX_HOPS)
        return 0;
    if (is_error(v, "TRYAGAIN")) {
        e->hops++;
        e->resend_at = s->now + TRYAGAIN_MS;
        if (e->resend_at < e->deadline) {
            e->deadline = e->resend_at;
            heap_update(s, e);
        }
        return 1;
    }
    to = s->t.redirect(s->t.ctx, link, v->str, v->len, &ask);
    if (to < 0)
        return 0;
    e->hops++;
    redirect(e, (enum lio_link) to, ask);
    return 1;
}

static void on_cmd_reply(struct lio_session *s, enum lio_link link,
                         uint64_t tag, const struct lc_value *v)
{
    struct lio_slot *e = tag_slot(s, tag);
    struct lc_input in = {.kind = LC_IN_REPLY, .value = v};
    int awaited;

    if (is_batch_tag(tag)) {
        on_batch_reply(s, link, tag, v);
        return;
    }
    if (e == NULL)
        return;
    in.seq = tag_seq(e, tag);
    awaited = in.seq == e->last_cmd.seq && lc_awaiting(e->core) &&
              lc_last_seq(e->core) == in.seq;
    /* The server did not run the command: it goes again, elsewhere or
     * later, its lease still counted from the first send. */
    if (awaited && rerouted(e, link, v))
        return;
#ifndef LIO_BREAK_NOSCRIPT_TO_CORE
    if (awaited && is_error(v, "NOSCRIPT")) {
        /* The script cache was empty (new server, SCRIPT FLUSH): send
         * the body. The lease still counts from the first send. */
        send_script(e, &e->last_cmd, 1);
        return;
    }
#endif
    step(e, &in);
}

/* ---- renewals in batches ----
 *
 * On one server (not in quorum mode, nor where the transport says a link
 * may reach a Redis Cluster), the RENEWs that the cores ask for during
 * one entry point are collected, by tag, and sent when it settles: those
 * of one link in script calls of at most batch_max renewals
 * (lio_argv_batch), a lone one as the plain renew script. Redis then runs
 * one script call for many renewals instead of one each.
 *
 * A batch's tag has BATCH_INDEX in the place of a slot index (no slot has
 * it) and a serial number; its record here holds the tags of its
 * renewals, in the order of its keys. Its reply is handed to each renewal
 * as if it were the reply to its own command, through on_cmd_reply():
 * the slot's generation and the command's sequence number decide, as for
 * any reply, whether it still counts, so a reply never reaches an
 * election freed since, nor a command other than the one it answers. An
 * error reply is each renewal's error; NOSCRIPT sends the batch again as
 * EVAL (the leases still count from the first send); a lost link is each
 * renewal's, as always. A record goes when its reply comes, or with its
 * link (replies on a closed link are never delivered).
 *
 * Renewals fall due at different moments (elections won at different
 * times, the core spreading renewals out after a burst), so when some
 * renewals go out on a link, the leaders there whose renewal falls due
 * within their slack (ttl/12, a quarter of the time between renewals)
 * renew with them, up to filling the last batch (lc_input.early). Having
 * sent together, they fall due together from then on. */

#define BATCH_INDEX 0xffffffu /* in a batch's tag; take_index() skips it */
/* A batch's serial numbers stay below the special tags' (LIO_PING_TAG ...),
 * which have BATCH_INDEX's bits too. */
#define BATCH_SERIALS ((1ull << 40) - 16)
#define EARLY_DIV     12 /* a renewal may go ttl / EARLY_DIV early */

struct lio_batch {
    uint64_t tag;
    enum lio_link link;
    int eval; /* sent as EVAL */
    size_t n;
    uint64_t tags[]; /* its renewals' */
};

static int is_batch_tag(uint64_t tag)
{
    return tag >> 40 == BATCH_INDEX &&
           (tag & ((1ull << 40) - 1)) < BATCH_SERIALS;
}

int lio_session_set_batch(struct lio_session *s, size_t n)
{
    if (n < 1 || n > LIO_BATCH_MAX)
        return LEADER_EINVAL;
    s->batch_max = n;
    return 0;
}

/* Whether e's renewals go in batches. */
static int batching(const struct lio_session *s, const struct lio_slot *e)
{
    return s->batch_max > 1 && !s->no_batch && s->t.batchable != NULL &&
           s->t.batchable(s->t.ctx, e->link);
}

/* Collects a RENEW to send when the entry point settles: 0, or -1 when out
 * of memory (then it goes alone, at once). */
static int queue_renewal(struct lio_session *s, uint64_t tag)
{
    if (s->npending == s->cappending) {
        size_t n = s->cappending != 0 ? 2 * s->cappending : 64;
        uint64_t *p = realloc(s->pending, n * sizeof *p);
        if (p == NULL)
            return -1;
        s->pending = p;
        s->cappending = n;
    }
    s->pending[s->npending++] = tag;
    return 0;
}

/* The election of a renewal's tag, if its core still awaits that very
 * renewal, else NULL (freed, or its command was lost with its link). */
static struct lio_slot *renewing(const struct lio_session *s, uint64_t tag)
{
    struct lio_slot *e = tag_slot(s, tag);
    uint64_t seq;

    if (e == NULL)
        return NULL;
    seq = tag_seq(e, tag);
    return lc_awaiting(e->core) == LC_CMD_RENEW &&
                   lc_last_seq(e->core) == seq && e->last_cmd.seq == seq
               ? e
               : NULL;
}

/* ---- the records of batches in flight: a queue from bhead on, as
 * replies come in the order of sending on a link ---- */

static int batch_record(struct lio_session *s, struct lio_batch *b)
{
    if (s->nbatches == s->capbatches && s->bhead > 0) {
        memmove(s->batches, s->batches + s->bhead,
                (s->nbatches - s->bhead) * sizeof *s->batches);
        s->nbatches -= s->bhead;
        s->bhead = 0;
    }
    if (s->nbatches == s->capbatches) {
        size_t n = s->capbatches != 0 ? 2 * s->capbatches : 16;
        struct lio_batch **p = realloc(s->batches, n * sizeof *p);
        if (p == NULL)
            return -1;
        s->batches = p;
        s->capbatches = n;
    }
    s->batches[s->nbatches++] = b;
    return 0;
}

/* The record of tag, taken out of the books; NULL if there is none. */
static struct lio_batch *batch_take(struct lio_session *s, uint64_t tag)
{
    for (size_t i = s->bhead; i < s->nbatches; i++) {
        struct lio_batch *b = s->batches[i];
        if (b->tag != tag)
            continue;
        if (i == s->bhead) {
            s->bhead++;
        } else {
            memmove(&s->batches[i], &s->batches[i + 1],
                    (s->nbatches - i - 1) * sizeof *s->batches);
            s->nbatches--;
        }
        if (s->bhead == s->nbatches)
            s->bhead = s->nbatches = 0;
        return b;
    }
    return NULL;
}

static void drop_batches(struct lio_session *s, enum lio_link link)
{
    size_t keep = 0;

    for (size_t i = s->bhead; i < s->nbatches; i++) {
        if (s->batches[i]->link == link)
            free(s->batches[i]);
        else
            s->batches[keep++] = s->batches[i];
    }
    s->bhead = 0;
    s->nbatches = keep;
}

/* ---- sending ---- */

/* Sends the renewals of m[0..n), all on link, as one script call (its
 * body with eval); one alone as the plain renew script. Without memory for
 * the batch, each goes alone. */
static void send_group(struct lio_session *s, enum lio_link link,
                       struct lio_slot **m, size_t n, int eval)
{
    struct lio_batch_item it[LIO_BATCH_MAX];
    struct lio_batch *b = NULL;

    assert(n <= LIO_BATCH_MAX);
    if (n >= 2 && s->bargv == NULL)
        s->bargv = malloc(sizeof *s->bargv);
    if (n >= 2 && s->bargv != NULL)
        b = malloc(sizeof *b + n * sizeof b->tags[0]);
    if (b != NULL && batch_record(s, b) != 0) {
        free(b);
        b = NULL;
    }
    if (b == NULL) {
        for (size_t i = 0; i < n; i++)
            send_script(m[i], &m[i]->last_cmd, eval);
        return;
    }
    if (first_call(s, link, SCRIPT_BIT_BATCH))
        eval = 1;
    s->batch_serial = (s->batch_serial + 1) % BATCH_SERIALS;
    b->tag = (uint64_t) BATCH_INDEX << 40 | s->batch_serial;
    b->link = link;
    b->eval = eval;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        struct lio_slot *e = m[i];
        it[i].names = e->names;
        it[i].id = lc_id(e->core);
        it[i].term = e->last_cmd.term;
        it[i].ttl_text = e->ttl_text;
        b->tags[i] = make_tag(e, e->last_cmd.seq);
    }
    lio_argv_batch(s->bargv, it, n, eval ? NULL : lio_batch_sha(&s->shas));
    /* A failed send shows up as the link's failure or as the renewals'
     * timeouts, as for one renewal. */
    if (s->t.send(s->t.ctx, link, b->tag, s->bargv->argc, s->bargv->argv,
                  s->bargv->lens) != 0) {
        s->nbatches--; /* the last recorded */
        if (s->bhead == s->nbatches)
            s->bhead = s->nbatches = 0;
        free(b);
    }
}

/* Tiny min-heap of positions in the deadline heap, by their deadline: the
 * frontier of a best-first walk of it. */
static void frontier_push(const struct lio_session *s, size_t *f, size_t *n,
                          size_t at)
{
    size_t i = (*n)++;

    f[i] = at;
    while (i > 0 && s->heap[f[(i - 1) / 2]].deadline > s->heap[f[i]].deadline) {
        size_t t = f[i];
        f[i] = f[(i - 1) / 2];
        f[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static size_t frontier_pop(const struct lio_session *s, size_t *f, size_t *n)
{
    size_t top = f[0], i = 0;

    f[0] = f[--*n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i, t;
        if (l < *n && s->heap[f[l]].deadline < s->heap[f[m]].deadline)
            m = l;
        if (r < *n && s->heap[f[r]].deadline < s->heap[f[m]].deadline)
            m = r;
        if (m == i)
            return top;
        t = f[i];
        f[i] = f[m];
        f[m] = t;
        i = m;
    }
}

/* Whether e, on link, would renew now if offered its slack: a leader up
 * and idle whose deadline (its next renewal) is near. */
static int renews_soon(const struct lio_session *s, const struct lio_slot *e,
                       enum lio_link link)
{
    return e->link == link && e->deadline > s->now &&
           e->deadline <= s->now + lc_ttl(e->core) / EARLY_DIV &&
           lc_state(e->core) == LC_LEADER && lc_conn_state(e->core) == LC_UP &&
           lc_awaiting(e->core) == 0 && !e->moving && e->resend_at == 0;
}

/* Up to need leaders on link whose renewal falls due within their slack,
 * nearest first, renew now. The deadline heap is walked best first from
 * its root, so only the elections due soonest are looked at. */
static void pull_early(struct lio_session *s, enum lio_link link, size_t need)
{
    size_t cap = 4 * need + 64, nf = 0, npick = 0, seen = 0;
    size_t *f = malloc((cap + 2) * sizeof *f);
    struct lio_slot **pick = malloc(need * sizeof *pick);

    if (f != NULL && pick != NULL && s->heap_n > 0)
        f[nf++] = 0;
    while (nf > 0 && npick < need && seen++ < cap) {
        size_t at = frontier_pop(s, f, &nf);
        struct lio_slot *e = s->heap[at].slot;
        if (e->deadline > s->now + s->early_max)
            break; /* so is every one left */
        if (renews_soon(s, e, link))
            pick[npick++] = e;
        for (size_t c = 2 * at + 1; c <= 2 * at + 2 && c < s->heap_n; c++)
            frontier_push(s, f, &nf, c);
    }
    /* Stepped after the walk: a step moves its election in the heap. */
    for (size_t i = 0; i < npick; i++) {
        struct lc_input in = {.kind = LC_IN_TICK,
                              .early = lc_ttl(pick[i]->core) / EARLY_DIV};
        step(pick[i], &in);
    }
    free(f);
    free(pick);
}

/* Fills up the last batch of each link with renewals due soon. */
static void align_renewals(struct lio_session *s)
{
    enum lio_link links[4];
    size_t count[4], nlinks = 0;

    for (size_t i = 0; i < s->npending; i++) {
        const struct lio_slot *e = renewing(s, s->pending[i]);
        size_t k = 0;
        if (e == NULL)
            continue;
        while (k < nlinks && links[k] != e->link)
            k++;
        if (k == nlinks && nlinks == 4)
            continue; /* more links than a single server has */
        if (k == nlinks) {
            links[nlinks] = e->link;
            count[nlinks++] = 0;
        }
        count[k]++;
    }
    for (size_t k = 0; k < nlinks; k++)
        if (count[k] % s->batch_max != 0)
            pull_early(s, links[k], s->batch_max - count[k] % s->batch_max);
}

/* Sends the renewals collected, one link at a time. */
static void flush_renewals(struct lio_session *s)
{
    struct lio_slot *m[LIO_BATCH_MAX];

    align_renewals(s);
    while (s->npending > 0) {
        size_t n = 0, keep = 0;
        enum lio_link link = LIO_LINK_CMD;
        for (size_t i = 0; i < s->npending; i++) {
            struct lio_slot *e = renewing(s, s->pending[i]);
            if (e == NULL)
                continue; /* its command was lost since */
            if (n > 0 && e->link != link) {
                s->pending[keep++] = s->pending[i]; /* the next round */
                continue;
            }
            link = e->link;
            m[n++] = e;
            if (n == s->batch_max) {
                send_group(s, link, m, n, 0);
                n = 0;
            }
        }
        s->npending = keep;
        send_group(s, link, m, n, 0);
    }
}

/* ---- replies ---- */

static void on_batch_reply(struct lio_session *s, enum lio_link link,
                           uint64_t tag, const struct lc_value *v)
{
    struct lio_batch *b = batch_take(s, tag);
    struct lio_slot *m[LIO_BATCH_MAX];
    size_t n = 0;

    if (b == NULL)
        return;
    if (is_error(v, "CROSSSLOT") || (is_error(v, "NOSCRIPT") && !b->eval)) {
        /* The script cache was empty (a new server, SCRIPT FLUSH), or the
         * server is a Cluster node after all (the keys are in many
         * slots): the renewals still awaited go again, as EVAL of the
         * batch's body, or each alone from now on. Their leases still
         * count from the first send. */
        if (is_error(v, "CROSSSLOT"))
            s->no_batch = 1;
        for (size_t i = 0; i < b->n; i++) {
            struct lio_slot *e = renewing(s, b->tags[i]);
            if (e != NULL && e->link == link)
                m[n++] = e;
        }
        if (s->no_batch)
            for (size_t i = 0; i < n; i++)
                send_script(m[i], &m[i]->last_cmd, 0);
        else
            send_group(s, link, m, n, 1);
        free(b);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct lc_value *r = v;
        if (v->type == LC_VAL_ARRAY && v->n == b->n)
#ifndef LIO_BREAK_BATCH_MISROUTE
            r = &v->elem[i];
#else
            /* Broken on purpose (tests/sim): each result goes to the
             * renewal after the one it is for. */
            r = &v->elem[(i + b->n - 1) % b->n];
#endif
        on_cmd_reply(s, link, b->tags[i], r);
    }
    free(b);
}

/* ---- quorum mode ----
 *
 * The core asks for one command; its op (lc_quorum.h) says what each
 * server is sent and what the replies mean together. Each server's link
 * is opened for the session as a whole, asked INFO server once it is
 * ready (its run id and how long it has been up), and reopened after a
 * backoff when it fails; a core is CONNECTED while a majority of servers
 * are usable. One server's failure is a failed reply in every op that
 * waits on it, never a lost connection. */

static int quorum(const struct lio_session *s)
{
    return s->nservers > 1;
}

enum lio_link lio_server_link(unsigned i)
{
    return i == 0 ? LIO_LINK_CMD : (enum lio_link)(LIO_LINK_NODE + i - 1);
}

enum lio_link lio_sub_link(unsigned n, unsigned i)
{
    return i == 0 ? LIO_LINK_SUB : (enum lio_link)(LIO_LINK_NODE + n - 2 + i);
}

int lio_session_sub_index(const struct lio_session *s, enum lio_link link)
{
    for (unsigned i = 0; i < nsubs(s); i++)
        if (sub_link(s, i) == link)
            return (int) i;
    return -1;
}

/* The server on link, or -1. */
static int link_server(const struct lio_session *s, enum lio_link link)
{
    unsigned i = link == LIO_LINK_CMD    ? 0
                 : link >= LIO_LINK_NODE ? (unsigned) link - LIO_LINK_NODE + 1
                                         : UINT32_MAX;

    return i < s->nservers ? (int) i : -1;
}

static unsigned usable_servers(const struct lio_session *s)
{
    unsigned k = 0;

    for (unsigned i = 0; i < s->nservers; i++)
        k += s->qs[i].usable != 0;
    return k;
}

/* Whether an election's commands can go out: in quorum mode, to a
 * majority of usable servers. */
static int cmd_ready(const struct lio_session *s, const struct lio_slot *e)
{
    if (quorum(s))
        return usable_servers(s) >= lc_q_majority(s->nservers);
    return link_state(s, e->link) == LIO_LINK_READY;
}

static void q_open_links(struct lio_session *s)
{
    struct lio_link_params p = {(long) timing(s).sub_timeout,
                                timing(s).keepalive_s};

    for (unsigned i = 0; i < s->nservers; i++)
        if (link_state(s, lio_server_link(i)) == LIO_LINK_DOWN &&
            s->now >= s->qs[i].retry_at)
            s->t.open(s->t.ctx, lio_server_link(i), &p, s->now);
}

/* Sends wire to server i for e's op: 0, or -1 when it cannot go. */
static int q_send_one(struct lio_slot *e, unsigned i, enum lc_qwire wire,
                      uint64_t term, uint64_t tag, int eval)
{
    struct lio_session *s = e->session;
    struct lio_argv a;

    if (!s->qs[i].usable)
        return -1;
    if (wire == LC_QW_PROBE)
        lio_argv_probe(&a, e->names);
    else if (first_call(s, lio_server_link(i), SCRIPT_BIT_QUORUM + wire))
        eval = 1;
    if (wire != LC_QW_PROBE)
        lio_argv_qscript(&a, wire, term, e->names, lc_id(e->core), e->ttl_text,
                         s->qs[i].run_id,
                         eval ? NULL : lio_qsha_of(&s->shas, wire));
    return s->t.send(s->t.ctx, lio_server_link(i), tag, a.argc, a.argv, a.lens);
}

/* Sends the op's current round; what the op says after the servers that
 * cannot be reached are counted as failed. */
static enum lc_qnext q_round(struct lio_slot *e)
{
    struct lc_qop *op = e->qop;
    unsigned targets = lc_qop_targets(op);
    enum lc_qnext next = LC_QN_WAIT;

    for (unsigned i = 0; i < op->n && !op->done; i++)
        if ((targets & 1u << i) &&
            q_send_one(e, i, lc_qop_wire(op), lc_qop_term(op),
                       make_tag(e, op->cmd.seq), 0) != 0)
            next = lc_qop_fail(op, i, LEADER_ECONN, "server not connected",
                               e->session->now);
    return op->done ? LC_QN_DONE : next;
}

/* Releases what an acquire that did not win holds, at once: nobody waits
 * a ttl for it. The replies are not awaited (the key expires anyway), so
 * the script goes as EVAL: the server may never have cached it.
 * Not a leader's acquire for a new term: its grants extended the key of
 * the leadership that goes on when the new term is not had (the core
 * keeps its lease to the deadline), and releasing them would free the key
 * under a lease still held (a release of the new term deletes it where
 * the counter is still at the old one). The core's own release, when it
 * steps down, or the expiry frees them. */
static void q_release_grants(struct lio_slot *e)
{
    unsigned set = e->qkeep ? 0 : lc_qop_release_set(e->qop);

    for (unsigned i = 0; i < e->qop->n; i++)
        if (set & 1u << i)
            (void) q_send_one(e, i, LC_QW_RELEASE, lc_qop_term(e->qop),
                              LIO_PING_TAG, 1);
}

/* A won term, or a leader's release, told to every server's subscribers
 * (replies not awaited). A win only once won: a commit that reached some
 * servers is not yet one. */
static void q_announce(struct lio_slot *e, enum lc_notify_kind kind)
{
    struct lio_session *s = e->session;
    struct lio_argv a;

    lio_argv_notify(&a, e->names, kind, lc_qop_term(e->qop), lc_id(e->core));
    for (unsigned i = 0; i < e->qop->n; i++)
        if (s->qs[i].usable)
            (void) s->t.send(s->t.ctx, lio_server_link(i), LIO_PING_TAG, a.argc,
                             a.argv, a.lens);
}

/* Carries the op on after it was fed: 1 when its result is for the core. */
static int q_next(struct lio_slot *e, enum lc_qnext next)
{
    struct lc_qop *op = e->qop;

    while (next == LC_QN_COMMIT) {
        if (lc_qop_named(op) > e->qfloor)
            e->qfloor = lc_qop_named(op);
#ifdef LIO_BREAK_Q_EARLY_ANNOUNCE
        /* Broken on purpose (tests/sim): the term told before it is won. */
        q_announce(e, LC_NOTIFY_ELECTED);
#endif
        next = q_round(e);
    }
    if (next != LC_QN_DONE)
        return 0;
    if (lc_qop_named(op) > e->qfloor)
        e->qfloor = lc_qop_named(op);
#ifndef LIO_BREAK_Q_EARLY_ANNOUNCE
    if (lc_qop_won(op))
        q_announce(e, LC_NOTIFY_ELECTED);
#endif
    q_release_grants(e);
    return 1;
}

/* The op's result to its core, if the core still awaits it. */
static void q_deliver(struct lio_slot *e)
{
    struct lc_input in = {.kind = LC_IN_REPLY,
                          .seq = e->qop->cmd.seq,
                          .value = lc_qop_result(e->qop)};

    if (lc_awaiting(e->core) && lc_last_seq(e->core) == in.seq)
        step(e, &in);
}

/* An acquire given up before its end: its grants go back. */
static void q_abandon(struct lio_slot *e)
{
    if (e->qop->round > 0 && !e->qop->done) {
        q_release_grants(e);
        e->qop->done = 1;
    }
}

static void q_send_cmd(struct lio_slot *e, const struct lc_cmd *cmd)
{
    struct lio_session *s = e->session;
    enum lc_qnext next;

    q_abandon(e);
    e->qkeep = cmd->kind == LC_CMD_ACQUIRE && lc_state(e->core) == LC_LEADER;
    lc_qop_begin(e->qop, cmd, s->nservers, lc_ttl(e->core), e->qfloor, s->now);
    next = q_round(e);
    if (cmd->kind == LC_CMD_RELEASE)
        q_announce(e, LC_NOTIFY_RELEASED); /* each after its server's script */
    if (q_next(e, next) && !e->qowed) {
        /* Inside the core's step: the result waits for settle(). */
        e->qowed = 1;
        due_add(&s->qowed, e->index);
    }
}

/* Feeds server i's news to every op that waits on it. */
static void q_fail_ops(struct lio_session *s, unsigned i, int error,
                       const char *text)
{
    for (size_t k = 0; k < s->nslots; k++) {
        struct lio_slot *e = s->slots[k];
        if (e != NULL && e->qop != NULL && e->qop->round > 0 && !e->qop->done &&
            q_next(e, lc_qop_fail(e->qop, i, error, text, s->now)))
            q_deliver(e);
    }
}

/* Too few servers left to reach a majority: the elections still waiting
 * for one hear why now, rather than at their connect deadline. */
static void q_fail_connecting(struct lio_session *s, int error,
                              const char *text)
{
    unsigned alive = 0;

    for (unsigned i = 0; i < s->nservers; i++)
        alive += s->qs[i].usable ||
                 link_state(s, lio_server_link(i)) != LIO_LINK_DOWN;
    if (alive >= lc_q_majority(s->nservers))
        return;
    for (size_t k = 0; k < s->nslots; k++) {
        struct lio_slot *e = s->slots[k];
        if (e != NULL && lc_conn_state(e->core) == LC_CONNECTING)
            step_kind(e, LC_IN_CONN_FAILED, error, text);
    }
}

/* Server i's link is down (failed, or closed by the session). */
static void q_server_down(struct lio_session *s, unsigned i, int error,
                          const char *text)
{
    struct lio_qserver *q = &s->qs[i];

    q->usable = 0;
    q->info_due = 0;
    q->failures++;
    q->retry_at = s->now + lc_backoff(&s->rng, q->failures, 1000);
    q_fail_ops(s, i, error, text);
    q_fail_connecting(s, error, text);
}

static void q_on_info(struct lio_session *s, unsigned i,
                      const struct lc_value *v)
{
    struct lio_server_info si;
    struct lio_qserver *q = &s->qs[i];
    char why[LC_MSG_MAX];

    if (v->type != LC_VAL_STR || lio_parse_info(v->str, v->len, &si) != 0) {
        snprintf(
            why, sizeof why, "INFO server: %.*s",
            v->type == LC_VAL_ERR ? (int) (v->len < 120 ? v->len : 120) : 38,
            v->type == LC_VAL_ERR ? v->str : "no run_id or uptime_in_seconds");
        link_close(s, lio_server_link(i));
        q_server_down(s, i,
                      v->type == LC_VAL_ERR ? lc_classify_error(v->str, v->len)
                                            : LEADER_EPROTO,
                      why);
        return;
    }
    q->usable = 1;
    q->info_due = 0;
    q->failures = 0;
    q->restart_bound = lc_q_restart_bound(s->now, si.uptime_s);
    memcpy(q->run_id, si.run_id, sizeof q->run_id);
    if (usable_servers(s) < lc_q_majority(s->nservers))
        return;
    for (size_t k = 0; k < s->nslots; k++) {
        struct lio_slot *e = s->slots[k];
        if (e != NULL && lc_conn_state(e->core) == LC_CONNECTING)
            connected(e);
    }
}

static void q_on_ready(struct lio_session *s, unsigned i)
{
    struct lio_argv a;

    lio_argv_info(&a);
    s->qs[i].usable = 0;
    /* A link that broke silently would otherwise keep the server unusable
     * until TCP keepalive finds out. */
    s->qs[i].info_due = s->now + timing(s).sub_timeout;
    if (s->t.send(s->t.ctx, lio_server_link(i), LIO_INFO_TAG, a.argc, a.argv,
                  a.lens) != 0) {
        link_close(s, lio_server_link(i));
        q_server_down(s, i, LEADER_ECONN, "INFO server could not be sent");
    }
}

/* A grant for an acquire already decided or given up: the key it holds
 * on server i would stay there, extended by each next try of the same
 * candidate ("the key is ours"), and candidates could each keep a few
 * servers for good, none a majority. Released at once, with a term not
 * below any this election computed (never one a later attempt commits).
 * Not while leading: there it extends the leadership's own key. */
static void q_release_late(struct lio_slot *e, unsigned i,
                           const struct lc_value *v)
{
    uint64_t term = e->qfloor > e->qop->floor ? e->qfloor : e->qop->floor;

    if (lc_q_is_grant(v) && lc_state(e->core) != LC_LEADER && !e->qkeep)
        (void) q_send_one(e, i, LC_QW_RELEASE, term, LIO_PING_TAG, 1);
}

static void q_on_reply(struct lio_session *s, unsigned i, uint64_t tag,
                       const struct lc_value *v)
{
    struct lio_slot *e = tag_slot(s, tag);
    struct lc_qop *op;

    if (tag == LIO_INFO_TAG) {
        q_on_info(s, i, v);
        return;
    }
    if (e == NULL || e->qop == NULL)
        return;
    op = e->qop;
    if (op->round == 0 || op->done ||
        (tag & SEQ_MASK) != (op->cmd.seq & SEQ_MASK)) {
        q_release_late(e, i, v);
        return;
    }
    if (is_error(v, "NOSCRIPT") && op->st[i] == LC_QS_WAITING &&
        !(op->late & 1u << i) &&
        q_send_one(e, i, lc_qop_wire(op), lc_qop_term(op), tag, 1) == 0)
        return; /* the body goes; the lease still counts from the send */
    if (q_next(e, lc_qop_reply(op, i, v,
                               lc_q_eligible(s->qs[i].restart_bound,
                                             lc_ttl(e->core), s->now),
                               s->now)))
        q_deliver(e);
}

/* A core's command timed out: the servers it still waits on are stuck
 * for everyone. Their links are closed after the step (settle). */
static void q_timed_out(struct lio_slot *e)
{
    struct lc_qop *op = e->qop;

    if (op->round == 0 || op->done)
        return;
    for (unsigned i = 0; i < op->n; i++)
        if (op->st[i] == LC_QS_WAITING || (op->late & 1u << i))
            e->session->qstuck |= 1u << i;
}

/* What settle() owes in quorum mode: the stuck links closed, the results
 * that came inside a step delivered. */
static void q_settle(struct lio_session *s)
{
    while (s->qstuck != 0) {
        unsigned i = (unsigned) __builtin_ctz(s->qstuck);
        s->qstuck &= s->qstuck - 1;
        link_close(s, lio_server_link(i));
        q_server_down(s, i, LEADER_ETIMEDOUT, "the server did not answer");
    }
    for (size_t k = 0; k < due_len(s, &s->qowed) && s->qowed.count > 0; k++) {
        struct lio_slot *e = due_at(s, &s->qowed, k);
        if (e == NULL || !e->qowed)
            continue;
        e->qowed = 0;
        s->qowed.count--;
        q_deliver(e);
    }
    due_done(&s->qowed);
}

/* No election holds the servers any more: every link closes. */
static void q_close_unused(struct lio_session *s)
{
    if (s->books[LIO_LINK_CMD].attached != 0)
        return;
    for (unsigned i = 0; i < s->nservers; i++) {
        link_close(s, lio_server_link(i));
        s->qs[i].usable = 0;
        s->qs[i].info_due = 0;
    }
}

/* INFO asked and not answered in time: the link is given up. */
static void q_check_info(struct lio_session *s)
{
    for (unsigned i = 0; i < s->nservers; i++)
        if (s->qs[i].info_due != 0 && s->now >= s->qs[i].info_due) {
            link_close(s, lio_server_link(i));
            q_server_down(s, i, LEADER_ETIMEDOUT,
                          "INFO server was not answered in time");
        }
}

static lc_time q_deadline(const struct lio_session *s)
{
    lc_time d = LC_NEVER;

    if (!quorum(s) || s->books[LIO_LINK_CMD].attached == 0)
        return d;
    for (unsigned i = 0; i < s->nservers; i++) {
        if (link_state(s, lio_server_link(i)) == LIO_LINK_DOWN &&
            s->qs[i].retry_at < d)
            d = s->qs[i].retry_at;
        if (s->qs[i].info_due != 0 && s->qs[i].info_due < d)
            d = s->qs[i].info_due;
    }
    return d;
}

int lio_session_set_quorum(struct lio_session *s, unsigned n)
{
    if (n < 3 || n > LC_QUORUM_MAX || n % 2 == 0 || s->nslots != 0)
        return LEADER_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (book(s, lio_server_link(i)) == NULL)
            return LEADER_ENOMEM;
        s->qs[i].restart_bound = LC_NEVER;
    }
    s->nservers = n;
    return 0;
}

/* ---- the notification links ---- */

static void unsubscribed_all(struct lio_session *s, unsigned k)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i] != NULL)
            s->slots[i]->subscribed &= ~(1u << k);
    s->subs[k].ping_at = LC_NEVER;
    s->subs[k].pong_by = LC_NEVER;
}

/* Link k failed or was given up: open another after a backoff (short
 * the first time: a silently dead link is replaced at once, and the
 * elections catch up on what they missed once subscribed). */
static void sub_failed(struct lio_session *s, unsigned k)
{
    unsubscribed_all(s, k);
    s->subs[k].failures++;
    s->subs[k].retry_at =
        s->now + lc_backoff(&s->rng, s->subs[k].failures, 1000);
}

static void manage_sub(struct lio_session *s)
{
    for (unsigned k = 0; k < nsubs(s); k++) {
        enum lio_link link = sub_link(s, k);

        if (s->listeners == 0) {
            if (link_state(s, link) != LIO_LINK_DOWN) {
                link_close(s, link);
                unsubscribed_all(s, k);
            }
            s->subs[k].failures = 0;
            s->subs[k].retry_at = 0;
        } else if (link_state(s, link) == LIO_LINK_DOWN &&
                   s->now >= s->subs[k].retry_at) {
            struct lio_timing t = timing(s);
            struct lio_link_params p = {(long) t.sub_timeout, t.keepalive_s};
            s->t.open(s->t.ctx, link, &p, s->now);
        }
    }
}

/* The health check of link k: a PING every ping_every, its reply due
 * within sub_timeout. A link that does not answer in time is closed and
 * replaced, however quiet the network is about it. */
static void check_one_sub(struct lio_session *s, unsigned k)
{
    static const char *ping = "PING";
    static const size_t ping_len = 4;
    enum lio_link link = sub_link(s, k);
    struct lio_sub *b = &s->subs[k];

    if (link_state(s, link) != LIO_LINK_READY)
        return;
    if (b->pong_by != LC_NEVER) {
        if (s->now >= b->pong_by) {
#ifdef LIO_BREAK_NO_SUB_HEALTH
            /* Broken on purpose (tests/sim): an unanswered PING is
             * forgotten, and a silently dead link is kept. */
            b->pong_by = LC_NEVER;
            b->ping_at = s->now + timing(s).ping_every;
            return;
#endif
            link_close(s, link);
            sub_failed(s, k);
        }
    } else if (s->now >= b->ping_at) {
        if (s->t.send(s->t.ctx, link, LIO_PING_TAG, 1, &ping, &ping_len) == 0) {
            b->pong_by = s->now + timing(s).sub_timeout;
        } else {
            link_close(s, link);
            sub_failed(s, k);
        }
    }
}

static void check_sub(struct lio_session *s)
{
    for (unsigned k = 0; k < nsubs(s); k++)
        check_one_sub(s, k);
}

/* ---- after every entry point ---- */

/* What a step left owed, until nothing is: the other elections on a link
 * that one of them broke, CONNECTED for those that asked for a link that
 * was up, the renewals collected. An unused command link is closed. (The
 * notification link follows the elections only in input, process and remove:
 * reopening it here could lose the report of its failure still waiting in the
 * transport.) */
static void settle(struct lio_session *s)
{
    for (;;) {
        if (s->qstuck != 0 || s->qowed.count != 0) {
            q_settle(s);
            continue;
        }
        if (s->breaker != NULL) {
            const struct lio_slot *by = s->breaker;
            s->breaker = NULL;
            fail_all(s, by->link, by, LEADER_ETIMEDOUT, NULL);
            continue;
        }
        if (s->owed.count == 0 && s->npending > 0 && !s->holding) {
            flush_renewals(s); /* may step (alignment) */
            continue;
        }
        if (s->owed.count == 0)
            break;
        for (size_t i = 0; i < due_len(s, &s->owed) && s->owed.count > 0; i++) {
            struct lio_slot *e = due_at(s, &s->owed, i);
            if (e == NULL || !e->ready_owed)
                continue;
            e->ready_owed = 0;
            s->owed.count--;
            if (lc_conn_state(e->core) == LC_CONNECTING && cmd_ready(s, e))
                connected(e);
        }
        due_done(&s->owed);
    }
    if (quorum(s)) {
        q_close_unused(s);
        return;
    }
    for (size_t i = 0; i < s->nbooks; i++)
        if (is_cmd_link(s, (enum lio_link) i) && s->books[i].attached == 0)
            link_close(s, (enum lio_link) i);
}

static void advance(struct lio_session *s, lc_time now)
{
    if (now > s->now)
        s->now = now;
}

/* ---- the public face ---- */

int lio_session_init(struct lio_session *s, const struct lio_transport *t,
                     uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->t = *t;
    s->rng = seed | 1;
    for (unsigned k = 0; k < LC_QUORUM_MAX; k++)
        s->subs[k].ping_at = s->subs[k].pong_by = LC_NEVER;
    s->batch_max = LIO_BATCH_DEFAULT;
    if (book(s, LIO_LINK_CMD) == NULL)
        return LEADER_ENOMEM;
    if (lio_shas_init(&s->shas) != 0) {
        free(s->books);
        return LEADER_ENOMEM;
    }
    return 0;
}

void lio_session_free(struct lio_session *s)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i] != NULL) {
            free(s->slots[i]->qop);
            free(s->slots[i]);
        }
    for (size_t i = s->bhead; i < s->nbatches; i++)
        free(s->batches[i]);
    free(s->batches);
    free(s->pending);
    free(s->bargv);
    free(s->slots);
    free(s->gens);
    free(s->heap);
    free(s->owed.idx);
    free(s->qowed.idx);
    free(s->books);
    memset(s, 0, sizeof *s);
}

/* A free slot for a new election, growing the tables if needed. */
static int take_index(struct lio_session *s, uint32_t *index)
{
    size_t n = s->nslots ? s->nslots * 2 : 4;
    struct lio_slot **slots;
    struct lio_heap_ent *heap;
    uint8_t *gens;

    for (size_t i = s->free_from; i < s->nslots; i++)
        if (s->slots[i] == NULL && i != BATCH_INDEX) {
            *index = (uint32_t) i;
            s->free_from = i + 1;
            return 0;
        }
    if (n > (1u << 24))
        return -1; /* the tag has 24 bits for the slot */
    slots = realloc(s->slots, n * sizeof *slots);
    if (slots != NULL)
        s->slots = slots;
    gens = slots != NULL ? realloc(s->gens, n) : NULL;
    if (gens != NULL)
        s->gens = gens;
    heap = gens != NULL ? realloc(s->heap, n * sizeof *heap) : NULL;
    if (heap == NULL)
        return -1;
    s->heap = heap;
    memset(s->slots + s->nslots, 0, (n - s->nslots) * sizeof *slots);
    memset(s->gens + s->nslots, 0, n - s->nslots);
    *index = (uint32_t) s->nslots;
    s->free_from = s->nslots + 1;
    s->nslots = n;
    return 0;
}

struct lio_slot *lio_session_add(struct lio_session *s,
                                 const struct lio_slot_config *cfg,
                                 lio_emit_fn emit, void *owner, int *rc)
{
    struct lc_config cc = {cfg->id,
                           cfg->ttl_ms,
                           cfg->wait_ms,
                           cfg->seed,
                           cfg->connect_timeout_ms,
                           cfg->command_timeout_ms};
    /* The core follows the slot in one allocation, aligned for any type. */
    size_t core_at = (sizeof(struct lio_slot) + _Alignof(max_align_t) - 1) /
                     _Alignof(max_align_t) * _Alignof(max_align_t);
    struct lio_slot *e = calloc(1, core_at + lc_core_size());
    uint32_t index;

    assert(emit != NULL && cfg->names != NULL);
    *rc = LEADER_ENOMEM;
    if (e == NULL)
        return NULL;
    e->core = (struct lc_core *) ((char *) e + core_at);
    if (lc_init(e->core, &cc) != 0) {
        free(e);
        *rc = LEADER_EINVAL;
        return NULL;
    }
    if (quorum(s) && (e->qop = calloc(1, sizeof *e->qop)) == NULL) {
        free(e);
        return NULL;
    }
    if (take_index(s, &index) != 0) {
        free(e->qop);
        free(e);
        return NULL;
    }
    e->names = cfg->names;
    snprintf(e->ttl_text, sizeof e->ttl_text, "%ld", cfg->ttl_ms);
    e->session = s;
    e->index = index;
    e->gen = s->gens[index];
    e->emit = emit;
    e->owner = owner;
    e->deadline = LC_NEVER;
    if (lc_ttl(e->core) / EARLY_DIV > s->early_max)
        s->early_max = lc_ttl(e->core) / EARLY_DIV;
    s->slots[index] = e;
    count_ttl(s, e, 1);
    heap_put(s, s->heap_n++, (struct lio_heap_ent){LC_NEVER, e});
    *rc = 0;
    return e;
}

const struct lc_core *lio_slot_core(const struct lio_slot *e)
{
    return e->core;
}

void lio_session_remove(struct lio_session *s, struct lio_slot *e, lc_time now)
{
    assert(e->session == s && s->slots[e->index] == e);
    advance(s, now);
    for (unsigned k = 0; k < nsubs(s); k++) {
        char channel[LIO_KEY_MAX];
        if ((e->subscribed & 1u << k) &&
            link_state(s, sub_link(s, k)) == LIO_LINK_READY)
            (void) s->t.subscribe(s->t.ctx, sub_link(s, k), make_tag(e, 0),
                                  lio_channel(e->names, channel), 0);
    }
    if (lc_conn_state(e->core) != LC_DOWN) {
        s->books[e->link].attached--;
        s->attached--;
    }
    if (e->listening)
        s->listeners--;
    if (e->ready_owed)
        s->owed.count--;
    if (e->qowed)
        s->qowed.count--;
    if (s->breaker == e)
        s->breaker = NULL;
    if (e->qop != NULL)
        q_abandon(e);
    heap_remove(s, e);
    count_ttl(s, e, -1);
    s->slots[e->index] = NULL;
    if (e->index < s->free_from)
        s->free_from = e->index;
    s->gens[e->index]++;
    free(e->qop);
    free(e);
    settle(s);
    manage_sub(s);
}

void lio_session_input(struct lio_session *s, struct lio_slot *e,
                       enum lc_input_kind kind, lc_time now)
{
    assert(e->session == s);
    advance(s, now);
    step_kind(e, kind, 0, NULL);
    settle(s);
    manage_sub(s);
}

/* Ticks every election whose deadline has come, each once. The renewals
 * they ask for are sent together, by the settle() after. */
static void run_deadlines(struct lio_session *s)
{
    size_t n = s->heap_n;

    s->holding = 1;
    while (n-- > 0 && s->heap_n > 0 && s->heap[0].deadline <= s->now) {
        struct lio_slot *e = s->heap[0].slot;
        if (e->resend_at != 0 && e->resend_at <= s->now) {
            e->resend_at = 0;
            if (lc_awaiting(e->core) && lc_last_seq(e->core) == e->last_cmd.seq)
                resend(e);
        }
        step_kind(e, LC_IN_TICK, 0, NULL);
        settle(s);
    }
    s->holding = 0;
}

void lio_session_process(struct lio_session *s, lc_time now)
{
    advance(s, now);
    run_deadlines(s);
    if (quorum(s))
        q_check_info(s);
    if (quorum(s) && s->books[LIO_LINK_CMD].attached > 0)
        q_open_links(s);
    check_sub(s);
    manage_sub(s);
    settle(s);
}

static lc_time earlier(lc_time a, lc_time b)
{
    return a < b ? a : b;
}

lc_time lio_session_deadline(const struct lio_session *s)
{
    lc_time d = s->heap_n > 0 ? s->heap[0].deadline : LC_NEVER;

    for (unsigned k = 0; k < nsubs(s); k++) {
        const struct lio_sub *b = &s->subs[k];
        enum lio_link_state st = link_state(s, sub_link(s, k));

        if (s->listeners > 0 && st == LIO_LINK_DOWN)
            d = earlier(d, b->retry_at);
        if (st == LIO_LINK_READY)
            d = earlier(d, b->pong_by != LC_NEVER ? b->pong_by : b->ping_at);
    }
    return earlier(d, q_deadline(s));
}

/* ---- what the transport reports ---- */

void lio_session_ready(struct lio_session *s, enum lio_link link,
                       uint64_t server, lc_time now)
{
    advance(s, now);
    if (is_cmd_link(s, link) && (size_t) link < s->nbooks) {
        /* A new connection, maybe to a new server. */
        s->books[link].scripts = 0;
        s->books[link].answered = 0;
    }
    if (is_cmd_link(s, link) && link_server(s, link) >= 0 && quorum(s)) {
        q_on_ready(s, (unsigned) link_server(s, link));
    } else if (is_cmd_link(s, link)) {
        if (book(s, link) == NULL)
            return; /* no election can be on it */
        s->books[link].server = server;
        ready_all(s, link);
    } else {
        unsigned k = (unsigned) lio_session_sub_index(s, link);
        s->subs[k].ping_at = s->now + timing(s).ping_every;
        s->subs[k].pong_by = LC_NEVER;
        for (size_t i = 0; i < s->nslots; i++)
            if (s->slots[i] != NULL && s->slots[i]->listening)
                subscribe(s->slots[i]);
    }
    settle(s);
}

/* The notification link was refused for lack of a permission (an ACL
 * without the channel or SUBSCRIBE): the elections go on without
 * notifications, and each says why, once. */
static void sub_refused(struct lio_session *s, int error, const char *text)
{
    struct lc_input in = {.kind = LC_IN_SUB_REFUSED,
                          .error = error,
                          .text = text,
                          .len = text != NULL ? strlen(text) : 0};

    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i] != NULL && s->slots[i]->listening)
            step(s->slots[i], &in);
}

void lio_session_failed(struct lio_session *s, enum lio_link link, int error,
                        const char *text, lc_time now)
{
    advance(s, now);
    if (is_cmd_link(s, link) && link_server(s, link) >= 0 && quorum(s)) {
        q_server_down(s, (unsigned) link_server(s, link), error, text);
    } else if (is_cmd_link(s, link)) {
        drop_batches(s, link);
        fail_all(s, link, NULL, error, text);
    } else {
        if (error == LEADER_EAUTH)
            sub_refused(s, error, text);
        sub_failed(s, (unsigned) lio_session_sub_index(s, link));
    }
    settle(s);
}

void lio_session_reply(struct lio_session *s, enum lio_link link, uint64_t tag,
                       const struct lc_value *v, lc_time now)
{
    advance(s, now);
    if (is_cmd_link(s, link) && link_server(s, link) >= 0 && quorum(s)) {
        q_on_reply(s, (unsigned) link_server(s, link), tag, v);
    } else if (is_cmd_link(s, link)) {
        if ((size_t) link < s->nbooks)
            s->books[link].answered = s->now;
        on_cmd_reply(s, link, tag, v);
    } else if (tag == LIO_PING_TAG) {
        /* Answered ("pong" while subscribed, PONG otherwise). */
        struct lio_sub *b = &s->subs[lio_session_sub_index(s, link)];
        b->pong_by = LC_NEVER;
        b->ping_at = s->now + timing(s).ping_every;
    }
    settle(s);
}

void lio_session_subscribed(struct lio_session *s, enum lio_link link,
                            uint64_t tag, lc_time now)
{
    struct lio_slot *e = tag_slot(s, tag);
    struct lc_input in = {.kind = LC_IN_SUBSCRIBED};
    int k = lio_session_sub_index(s, link);

    advance(s, now);
    if (k >= 0)
        s->subs[k].failures = 0;
    if (e != NULL)
        step(e, &in);
    settle(s);
}

void lio_session_message(struct lio_session *s, uint64_t tag, const char *text,
                         size_t len, lc_time now)
{
    struct lio_slot *e = tag_slot(s, tag);
    struct lc_input in = {.kind = LC_IN_NOTIFY, .text = text, .len = len};

    advance(s, now);
    if (e != NULL)
        step(e, &in);
    settle(s);
}
