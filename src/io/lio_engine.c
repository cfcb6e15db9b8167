/* lio_engine.c - see lio_engine.h.
 *
 * hiredis callbacks only queue records; the queue is drained after hiredis
 * returns, feeding the core one input at a time and carrying out each
 * output at once. This keeps the core, the connections and the caller's
 * callbacks out of hiredis' reentrancy rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/lio_engine.h"
#include "io/lio_scripts.h"
#include "leader.h"
#include "util/lu_ids.h"

enum record_kind { REC_READY = 1, REC_FAILED, REC_REPLY };

struct lio_record {
    enum record_kind kind;
    struct lio_conn *conn;
    uint64_t gen;
    int was_ready;
    int error;
    uint64_t tag;
    redisReply *reply;
    char text[LC_MSG_MAX];
};

/* ---- recording, inside hiredis callbacks ---- */

static struct lio_record *new_record(struct lio_engine *e, struct lio_conn *c,
                                     enum record_kind kind)
{
    struct lio_record *r;

    if (e->queued == e->queue_cap) {
        size_t cap = e->queue_cap ? e->queue_cap * 2 : 16;
        r = realloc(e->queue, cap * sizeof *r);
        if (r == NULL) {
            e->dropped = 1;
            return NULL;
        }
        e->queue = r;
        e->queue_cap = cap;
    }
    r = &e->queue[e->queued++];
    memset(r, 0, offsetof(struct lio_record, text));
    r->text[0] = '\0';
    r->kind = kind;
    r->conn = c;
    r->gen = c->gen;
    return r;
}

static void record_ready(void *owner, struct lio_conn *c)
{
    new_record(owner, c, REC_READY);
}

static void record_failed(void *owner, struct lio_conn *c, int was_ready,
                          int error, const char *text)
{
    struct lio_record *r = new_record(owner, c, REC_FAILED);

    if (r == NULL)
        return;
    r->was_ready = was_ready;
    r->error = error;
    snprintf(r->text, sizeof r->text, "%s", text != NULL ? text : "");
}

static void record_reply(void *owner, struct lio_conn *c, uint64_t tag,
                         redisReply *reply)
{
    struct lio_record *r = new_record(owner, c, REC_REPLY);

    if (r == NULL) {
        freeReplyObject(reply);
        return;
    }
    r->tag = tag;
    r->reply = reply;
}

static const struct lio_conn_handler handler = {record_ready, record_failed,
                                                record_reply};

/* ---- carrying out the core's outputs ---- */

/* The script of each command kind, indexed by enum lc_cmd_kind. */
static const char *const script_body[] = {
    NULL, LIO_SCRIPT_ACQUIRE, LIO_SCRIPT_RENEW, LIO_SCRIPT_RELEASE,
    LIO_SCRIPT_READ};

/* The arguments after KEYS: what each script takes as ARGV. */
static int script_args(const struct lio_engine *e, const struct lc_cmd *cmd,
                       const char *term, const char **argv)
{
    switch (cmd->kind) {
    case LC_CMD_ACQUIRE:
        argv[0] = e->core.id, argv[1] = e->ttl_text, argv[2] = term;
        return 3;
    case LC_CMD_RENEW:
        argv[0] = e->core.id, argv[1] = term, argv[2] = e->ttl_text;
        return 3;
    case LC_CMD_RELEASE:
        argv[0] = e->core.id, argv[1] = term;
        return 2;
    case LC_CMD_READ:
        return 0;
    }
    return 0;
}

static void send_script(struct lio_engine *e, const struct lc_cmd *cmd,
                        int eval)
{
    const char *argv[8];
    size_t lens[8];
    char term[24];
    int argc = 0;

    snprintf(term, sizeof term, "%llu", (unsigned long long) cmd->term);
    argv[argc++] = eval ? "EVAL" : "EVALSHA";
    argv[argc++] = eval ? script_body[cmd->kind] : e->sha[cmd->kind];
    argv[argc++] = "2";
    argv[argc++] = e->holder_key;
    argv[argc++] = e->term_key;
    argc += script_args(e, cmd, term, argv + argc);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    /* A failed send shows up as the connection's failure or as the
     * core's reply timeout; either resolves the command. */
    (void) lio_conn_send(&e->cmd, cmd->seq, argc, argv, lens);
}

static void apply(struct lio_engine *e, const struct lc_output *o)
{
    if (o->actions & LC_ACT_DISCONNECT)
        lio_conn_close(&e->cmd);
    if (o->actions & LC_ACT_CONNECT)
        (void) lio_conn_open(&e->cmd, &e->url, (long) e->core.cmd_timeout);
    for (int i = 0; i < o->ncmds; i++) {
        e->last_cmd = o->cmds[i];
        send_script(e, &o->cmds[i], 0);
    }
    for (int i = 0; i < o->nevents; i++)
        e->emit(e->owner, &o->events[i]);
}

static void step(struct lio_engine *e, struct lc_input *in)
{
    in->now = e->now;
    apply(e, lc_step(&e->core, in));
}

/* ---- the notification connection ---- */

static int wants_sub(const struct lio_engine *e)
{
    return e->core.state == LC_FOLLOWER || e->core.state == LC_LEADER ||
           e->core.state == LC_OBSERVER;
}

static lc_time sub_backoff(struct lio_engine *e)
{
    lc_time cap = e->core.backoff_cap, d = 20;

    for (unsigned i = 1; i < e->sub_failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    e->rng = e->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return d / 2 + (lc_time) ((e->rng >> 33) % (uint64_t) (d / 2 + 1));
}

static void manage_sub(struct lio_engine *e)
{
    if (!wants_sub(e)) {
        lio_conn_close(&e->sub);
        e->sub_failures = 0;
        e->sub_retry_at = 0;
    } else if (e->sub.ac == NULL && e->now >= e->sub_retry_at) {
        (void) lio_conn_open(&e->sub, &e->url, (long) e->core.cmd_timeout);
    }
}

static void on_sub_record(struct lio_engine *e, struct lio_record *r)
{
    struct lc_input in = {0};
    const redisReply *m = r->reply;

    if (r->kind == REC_READY) {
        if (lio_conn_subscribe(&e->sub, 0, e->channel) != 0)
            lio_conn_close(&e->sub);
        return;
    }
    if (r->kind == REC_FAILED) {
        e->sub_failures++;
        e->sub_retry_at = e->now + sub_backoff(e);
        return;
    }
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
        m->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(m->element[0]->str, "subscribe") == 0) {
        e->sub_failures = 0;
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

/* ---- the command connection ---- */

static int is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_cmd_record(struct lio_engine *e, struct lio_record *r)
{
    struct lc_input in = {0};
    struct lc_value v, elems[LIO_MAX_ELEMS];

    if (r->kind == REC_READY) {
        in.kind = LC_IN_CONNECTED;
    } else if (r->kind == REC_FAILED) {
        in.kind = r->was_ready ? LC_IN_CONN_LOST : LC_IN_CONN_FAILED;
        in.error = r->error;
        in.text = r->text;
        in.len = strlen(r->text);
    } else if (is_noscript(r->reply) && r->tag == e->last_cmd.seq &&
               e->core.inflight && e->core.seq == r->tag) {
        /* The script cache was empty (new server, SCRIPT FLUSH): send
         * the body. The lease still counts from the first send. */
        send_script(e, &e->last_cmd, 1);
        return;
    } else {
        lio_reply_to_value(r->reply, &v, elems);
        in.kind = LC_IN_REPLY;
        in.seq = r->tag;
        in.value = &v;
    }
    step(e, &in);
}

static void drain(struct lio_engine *e)
{
    /* Records may be added while draining (an open that fails at once). */
    for (size_t i = 0; i < e->queued; i++) {
        struct lio_record r = e->queue[i];
        int current = r.gen == r.conn->gen;

        if (current && r.conn == &e->cmd)
            on_cmd_record(e, &r);
        else if (current)
            on_sub_record(e, &r);
        if (r.reply != NULL)
            freeReplyObject(r.reply);
    }
    e->queued = 0;
    if (e->dropped) {
        struct lc_input in = {.kind = LC_IN_CONN_LOST,
                              .error = LEADER_ENOMEM,
                              .text = "out of memory",
                              .len = 13};
        e->dropped = 0;
        lio_conn_close(&e->cmd);
        lio_conn_close(&e->sub);
        step(e, &in);
    }
}

/* ---- the public face ---- */

static int make_names(struct lio_engine *e, const struct lio_engine_config *c)
{
    snprintf(e->holder_key, sizeof e->holder_key, "leader:%s", c->key_hex);
    snprintf(e->term_key, sizeof e->term_key, "{leader:%s}:term", c->key_hex);
    snprintf(e->channel, sizeof e->channel, "leader:%s:events", c->key_hex);
    snprintf(e->ttl_text, sizeof e->ttl_text, "%ld", c->ttl_ms);
    for (int k = LC_CMD_ACQUIRE; k <= LC_CMD_READ; k++)
        if (lu_sha1_hex(script_body[k], strlen(script_body[k]), e->sha[k]) !=
            0)
            return LEADER_ENOMEM;
    return 0;
}

int lio_engine_init(struct lio_engine *e, const struct lio_engine_config *cfg,
                    lio_emit_fn emit, void *owner)
{
    struct lc_config cc = {cfg->id, cfg->ttl_ms, cfg->wait_ms, cfg->seed};

    memset(e, 0, sizeof *e);
    if (lc_init(&e->core, &cc) != 0)
        return LEADER_EINVAL;
    e->url = *cfg->url;
    e->rng = cfg->seed | 1;
    e->emit = emit;
    e->owner = owner;
    lio_conn_init(&e->cmd, &handler, e);
    lio_conn_init(&e->sub, &handler, e);
    return make_names(e, cfg);
}

void lio_engine_free(struct lio_engine *e)
{
    lio_conn_close(&e->cmd);
    lio_conn_close(&e->sub);
    for (size_t i = 0; i < e->queued; i++)
        if (e->queue[i].reply != NULL)
            freeReplyObject(e->queue[i].reply);
    free(e->queue);
    e->queue = NULL;
    e->queued = e->queue_cap = 0;
}

void lio_engine_input(struct lio_engine *e, enum lc_input_kind kind,
                      lc_time now)
{
    struct lc_input in = {.kind = kind};

    if (now > e->now)
        e->now = now;
    step(e, &in);
    drain(e);
    manage_sub(e);
    drain(e);
}

int lio_engine_pollfds(const struct lio_engine *e, struct pollfd *pfd)
{
    const struct lio_conn *conns[2] = {&e->cmd, &e->sub};
    int n = 0;

    for (int i = 0; i < 2; i++) {
        int fd = lio_conn_fd(conns[i]);
        if (fd < 0)
            continue;
        pfd[n].fd = fd;
        pfd[n].events =
            (short) ((conns[i]->want & LIO_WANT_READ ? POLLIN : 0) |
                     (conns[i]->want & LIO_WANT_WRITE ? POLLOUT : 0));
        pfd[n].revents = 0;
        n++;
    }
    return n;
}

void lio_engine_handle(struct lio_engine *e, const struct pollfd *pfd, int n,
                       lc_time now)
{
    if (now > e->now)
        e->now = now;
    for (int i = 0; i < n; i++) {
        struct lio_conn *c = pfd[i].fd == lio_conn_fd(&e->cmd)   ? &e->cmd
                             : pfd[i].fd == lio_conn_fd(&e->sub) ? &e->sub
                                                                 : NULL;
        if (c != NULL && pfd[i].revents)
            lio_conn_handle(c, pfd[i].revents);
        drain(e);
    }
    if (e->now >= lc_deadline(&e->core))
        lio_engine_input(e, LC_IN_TICK, e->now);
    manage_sub(e);
    drain(e);
}

lc_time lio_engine_deadline(const struct lio_engine *e)
{
    lc_time d = lc_deadline(&e->core);

    if (wants_sub(e) && e->sub.ac == NULL && e->sub_retry_at < d)
        d = e->sub_retry_at;
    return d;
}
