/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_core.c - the election state machine (see lc_core.h).
 *
 * One command is awaited at a time; a newer command supersedes the older
 * one, whose reply is then dropped by its sequence number. Leases are
 * counted from the send time of the command that won or renewed them, and
 * a leader steps down when its local deadline passes, whatever Redis says
 * afterwards. A lost reply never counts as an answer: a lost acquire is
 * resolved by acquiring again (the script's holder-is-us path grants a new
 * term), a lost renewal by renewing again while the lease lasts.
 *
 * A leader asked for a new term (NEW_TERM) sends acquire instead of its
 * next renewal; the holder-is-us path extends the key and raises the
 * counter in one step, so the key never lapses. Until a reply grants or
 * refuses the new term the leader keeps asking with acquire, never with a
 * renewal of the old term, which a lost but applied acquire has ended.
 *
 * Terms: the floor passed to acquire (max_term) rises only with terms read
 * from Redis' counter, in any reply that carries one. Notifications are
 * hints that anyone who may PUBLISH can forge: they make a follower try
 * sooner and a leader renew sooner, and feed CHANGED reports, but never
 * raise the floor, never by themselves end a leadership, and never keep a
 * candidate from being elected (DESIGN.md section 3).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/lc_core_int.h"
#include "leader.h"

#define BACKOFF_BASE 20 /* ms: first reconnect or retry after an error */

/* LC_BREAK_* switches exist only for tests: tests/sim builds the core with
 * one safety rule broken to show that the simulator catches it, and
 * bench/sentinel counts the overlaps a failover gives without each of the
 * failover rules. The library is never built with any of them. */

lc_time lc_lease_length(lc_time ttl)
{
#ifdef LC_BREAK_NO_DRIFT
    return ttl;
#else
    /* The margin for clock-rate differences between us and Redis. */
    return ttl - (ttl / 100 + 2);
#endif
}

/* When the lease of a command sent at sent_at begins. */
static lc_time lease_start(const struct lc_core *c)
{
#ifdef LC_BREAK_LEASE_FROM_REPLY
    return c->now;
#else
    return c->sent_at;
#endif
}

static lc_time min_time(lc_time a, lc_time b)
{
    return a < b ? a : b;
}

static lc_time clamp_time(lc_time v, lc_time lo, lc_time hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

size_t lc_core_size(void)
{
    return sizeof(struct lc_core);
}

/* What follows from the ttl is worked out when needed, not kept in each
 * core. */
static lc_time renew_every(const struct lc_core *c)
{
    return c->ttl / 3;
}

static lc_time backoff_cap(const struct lc_core *c)
{
    return clamp_time(c->ttl / 6, 10, 1000);
}

int lc_init(struct lc_core *c, const struct lc_config *cfg)
{
    size_t idlen = cfg->id != NULL ? strlen(cfg->id) : 0;

    if (idlen == 0 || idlen > LC_ID_MAX || cfg->ttl < 10 || cfg->wait < 0 ||
        cfg->connect_timeout < 0 || cfg->cmd_timeout < 0 ||
        cfg->cmd_timeout > cfg->ttl / 3)
        return -1;
    memset(c, 0, sizeof *c);
    c->id = cfg->id;
    c->ttl = cfg->ttl;
    c->wait = cfg->wait;
    c->cmd_timeout =
        cfg->cmd_timeout ? cfg->cmd_timeout : clamp_time(cfg->ttl / 3, 5, 2000);
    c->connect_timeout = cfg->connect_timeout
                             ? cfg->connect_timeout
                             : clamp_time(cfg->ttl / 3, 5, 2000);
    c->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL;
    /* From the seed, not drawn from rng: the draws stay as they were. */
    c->hash_key = (c->rng ^ 0x6a09e667f3bcc909ULL) * 0xff51afd7ed558ccdULL;
    c->state = LC_IDLE;
    c->conn = LC_DOWN;
    return 0;
}

uint64_t lc_random(uint64_t *rng)
{
    /* xorshift64*: enough for jitter, and reproducible under a seed. */
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    return *rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t next_random(struct lc_core *c)
{
    return lc_random(&c->rng);
}

lc_time lc_backoff(uint64_t *rng, unsigned attempt, lc_time cap)
{
    lc_time d = BACKOFF_BASE;

    for (unsigned i = 1; i < attempt && d < cap; i++)
        d *= 2;
    d = min_time(d, cap);
    return d / 2 + (lc_time) (lc_random(rng) % (uint64_t) (d / 2 + 1));
}

/* Capped exponential backoff with jitter over the upper half. */
static lc_time backoff(struct lc_core *c, unsigned attempt)
{
    return lc_backoff(&c->rng, attempt, backoff_cap(c));
}

/* ---- outputs ---- */

__attribute__((format(printf, 5, 6))) static struct lc_event *
push_event(struct lc_core *c, enum lc_event_kind kind, uint64_t term, int error,
           const char *fmt, ...)
{
    struct lc_output *o = c->out;
    struct lc_event *ev;
    va_list ap;

    /* One step emits at most three events. */
    assert(o->nevents < LC_MAX_EVENTS);
    if (o->nevents == LC_MAX_EVENTS)
        return NULL;
    ev = &o->events[o->nevents];
    va_start(ap, fmt);
    vsnprintf(o->msg[o->nevents], LC_MSG_MAX, fmt, ap);
    va_end(ap);
    o->nevents++;
    ev->kind = kind;
    ev->term = term;
    ev->error = error;
    ev->holder = NULL;
    ev->message = o->msg[o->nevents - 1];
    return ev;
}

/* Reports an error once per streak of the same error. The detail need not
 * end in NUL; without one, the code's description stands in. */
static void report_error(struct lc_core *c, int error, const char *what,
                         const char *detail, size_t len)
{
    char acl[LC_MSG_MAX];

    if (error == c->last_error)
        return;
    c->last_error = error;
    /* A permission missing from an ACL user: say which. */
    if (error == LEADER_EAUTH &&
        lc_describe_acl(what, detail, detail != NULL ? len : 0, acl,
                        sizeof acl)) {
        detail = acl;
        len = strlen(acl);
    }
    if (detail == NULL || len == 0) {
        detail = leader_strerror(error);
        len = strlen(detail);
    }
    push_event(c, LC_EV_ERROR, c->term, error, "%s: %.*s", what,
               (int) (len < LC_MSG_MAX ? len : LC_MSG_MAX), detail);
}

/* A reply that is an error (rc from its decoder): reported once per
 * streak, with the server's text when there is one. Returns when the next
 * attempt may go, backed off. */
static lc_time reply_failed(struct lc_core *c, int rc, const char *what,
                            const struct lc_value *v)
{
    const char *text = v != NULL && v->type == LC_VAL_ERR ? v->str : NULL;

    report_error(c, rc, what, text, text != NULL ? v->len : 0);
    return c->now + backoff(c, ++c->failures);
}

/* A reply, or a fresh start: any streak of errors is over. */
static void end_error_streak(struct lc_core *c)
{
    c->failures = 0;
    c->last_error = 0;
}

static void send_cmd(struct lc_core *c, enum lc_cmd_kind kind, uint64_t term)
{
    struct lc_output *o = c->out;
    struct lc_cmd *cmd;

    /* One command is awaited at a time; a step sends at most a release
     * and an acquire. */
    assert(o->ncmds < LC_MAX_CMDS);
    if (o->ncmds == LC_MAX_CMDS)
        return; /* unreachable; the reply timeout would resolve it */
    cmd = &o->cmds[o->ncmds++];
    cmd->kind = kind;
    cmd->seq = ++c->seq;
    cmd->term = term;
    c->inflight = kind;
    c->sent_at = c->now;
    /* A leader whose lease runs out first steps down then (run_timers),
     * and waits on for the reply as a follower: a link is given up only
     * for a command that waited its whole timeout (see on_progress). */
    c->inflight_end = c->now + c->cmd_timeout;
}

/* A connection answers in order: while it answers other commands, the
 * one awaited is behind them in its queue, and giving up on it would
 * only drop the queue for every election that shares the connection (the
 * commands of thousands of elections started at once take Redis seconds).
 * A leader's lease does not bound that wait: the leader steps down at its
 * deadline all the same (run_timers), and waits on as a follower, which
 * takes the late reply as news of nothing (on_renew_reply). Closing the
 * link there would take every other election's connection, and their
 * leases, on a server that is slow, not gone; their reconnection would
 * only add to its queue. */
static void on_progress(struct lc_core *c)
{
    lc_time end = c->now + c->cmd_timeout;

    if (!c->inflight || c->conn != LC_UP)
        return;
    if (end > c->inflight_end)
        c->inflight_end = end;
}

/* ---- state changes ---- */

static void become_follower(struct lc_core *c, lc_time retry_at)
{
    c->state = LC_FOLLOWER;
    c->term = 0;
    c->lease_end = 0;
    c->term_pending = 0;
    c->confirm = 0;
    c->retry_at = retry_at;
    c->probe_next = 0;
}

/* holder: who leads now, when known (it may be filled in later in the same
 * step: the event points at it), else NULL. */
static void step_down(struct lc_core *c, int error, const char *why,
                      const char *holder)
{
    struct lc_event *ev =
        push_event(c, LC_EV_REVOKED, c->term, error, "%s", why);

    if (ev != NULL)
        ev->holder = holder;
    become_follower(c, c->now);
}

/* When to renew a lease sent at sent_at. Renewals that follow a burst
 * (many elections won at once, or every leader renewing after a
 * reconnect) land at a random point of a window half an interval long,
 * so that the renewals of many elections on one connection spread out
 * instead of queueing behind each other; the others keep the rhythm.
 * The window is the second half of the interval, or starts now if that
 * has begun: acquires sent together but answered over seconds (Redis
 * working through them in turn) would otherwise mostly find their point
 * past and renew at once, together, and so on every interval after. It
 * ends two intervals after the send at the latest, so that the renewal
 * still has an interval of the lease to be answered in. */
static lc_time next_renewal(struct lc_core *c)
{
    lc_time half = renew_every(c) / 2, lo, hi;

    if (!c->spread_renewal)
        return c->sent_at + renew_every(c);
    c->spread_renewal = 0;
    lo = c->sent_at + renew_every(c) - half;
    if (lo <= c->now)
        lo = c->now + 1;
    hi = min_time(lo + half, c->sent_at + 2 * renew_every(c));
    if (hi <= lo)
        return lo;
    return lo + (lc_time) (next_random(c) % (uint64_t) (hi - lo + 1));
}

static void emit_elected(struct lc_core *c, uint64_t term)
{
    struct lc_event *ev =
        push_event(c, LC_EV_ELECTED, term, 0, "elected with term %llu",
                   (unsigned long long) term);

    if (ev != NULL)
        ev->holder = c->id;
}

static void become_leader(struct lc_core *c, uint64_t term)
{
    c->state = LC_LEADER;
    c->term = term;
    c->term_pending = 0;
    c->confirm = 0;
    c->lease_end = lease_start(c) + lc_lease_length(c->ttl);
    c->spread_renewal = 1;
    c->renew_at = next_renewal(c);
    emit_elected(c, term);
}

static void become_idle(struct lc_core *c)
{
    c->state = LC_IDLE;
    c->term = 0;
    c->lease_end = 0;
    c->term_pending = 0;
    c->confirm = 0;
    c->inflight = 0;
}

/* ---- who leads: CHANGED events ---- */

static int same_id(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

/* FNV-1a over the bytes, from a per-core key, then mixed: ids come from
 * anyone who can write to Redis, and the key keeps a collision from being
 * chosen in advance. */
static uint64_t id_hash(const struct lc_core *c, const char *id, size_t len)
{
    uint64_t h = c->hash_key ^ len;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) id[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* Whether the id of len bytes is the holder last reported. */
static int seen_is(const struct lc_core *c, const char *id, size_t len)
{
    return c->seen_len == len &&
           (len == 0 || c->seen_hash == id_hash(c, id, len));
}

/* The id, NUL-terminated, in the step's output next to event ev: the
 * event's holder, good as long as the output. */
static const char *event_holder(struct lc_core *c, const struct lc_event *ev,
                                const char *id, size_t len)
{
    char *buf = c->out->holder[ev - c->out->events];

    memcpy(buf, id, len);
    buf[len] = '\0';
    return buf;
}

/* Reports who leads (id of len bytes; len 0: nobody) when it differs from
 * the last report; from_reply says whether Redis said so in a reply to
 * command c->reply_seq, or a notification did. term 0 means "not known"; a
 * known term older than the last one reported is stale news and ignored,
 * unless that last term came from a notification and this report from a
 * reply to a command sent after it arrived: Redis, read later, wins over a
 * hint anyone may have published (a forged "elected <huge term>" must not
 * silence every later report). */
static int report_leader(struct lc_core *c, const char *id, size_t len,
                         uint64_t term, const char *cause, int from_reply)
{
    struct lc_event *ev;
    int overrules = from_reply && c->seen_hint && c->reply_seq > c->hint_seq;

    if (len > LC_ID_MAX)
        len = LC_ID_MAX;
    if (term != 0 && term < c->seen_term && !overrules)
        return 0;
    /* No term at all (the counter did not exist yet, as Redis saw it),
     * from a command sent before the last hint arrived: older news than
     * that hint, such as a read from before the first election. */
    if (from_reply && term == 0 && c->seen_hint && c->reply_seq <= c->hint_seq)
        return 0;
    /* A holder of the very term whose release was heard, from a command
     * sent before that: the reply predates the release (it travelled on
     * the other connection). A released term never leads again. */
    if (from_reply && len > 0 && term != 0 && term == c->seen_term &&
        c->seen_hint && c->seen_len == 0 && !overrules)
        return 0;
    if (from_reply && term != 0 && term == c->seen_term)
        c->seen_hint = 0; /* confirmed */
    if (c->seen_known && seen_is(c, id, len) &&
        (len == 0 || term == 0 || term == c->seen_term))
        return 0;
    c->seen_known = 1;
    c->seen_len = (uint8_t) len;
    c->seen_hash = id_hash(c, id, len);
    c->seen_self = len > 0 && same_id(c->id, id, len);
    if (term != 0) {
        c->seen_term = term;
        c->seen_hint = !from_reply;
        c->hint_seq = c->seq;
    }
    ev = push_event(c, LC_EV_CHANGED, term ? term : c->seen_term, 0, "%s",
                    cause);
    if (ev != NULL)
        ev->holder = len > 0 ? event_holder(c, ev, id, len) : NULL;
    return 1;
}

/* Nobody holds the key now, as a reply says: say why, as far as this core
 * can tell. */
static void report_nobody(struct lc_core *c, uint64_t term)
{
    const char *cause = "no leader";

    if (c->seen_known && c->seen_len != 0 && c->seen_expiry != 0)
        cause = c->now >= c->seen_expiry ? "expired" : "released";
    report_leader(c, "", 0, term, cause, 1);
}

/* A term read from Redis' counter in a reply: the floor for the next. */
static void raise_floor(struct lc_core *c, uint64_t term)
{
    if (term > c->max_term)
        c->max_term = term;
}

/* A reply to command c->reply_seq showed that the key is this
 * leadership's. It settles a doubt raised before that command was sent;
 * returns when to renew next: at once while a later doubt stands. */
static lc_time after_confirmation(struct lc_core *c)
{
    if (c->confirm && c->reply_seq > c->confirm_seq)
        c->confirm = 0;
    return c->confirm ? c->now : next_renewal(c);
}

/* A holder was read with pttl ms left (-1: no expiry). */
static void note_expiry(struct lc_core *c, long long pttl)
{
    c->seen_expiry = pttl >= 0 ? c->now + pttl : LC_NEVER;
}

/* The leader's new term is granted: the old leadership ends (REVOKED) and
 * the new one begins (ELECTED) in this step, with no gap in the lease. The
 * new term's lease counts from the acquire's send time; the key was ours
 * all along, so the old deadline stands if it is later. */
static void take_new_term(struct lc_core *c, uint64_t term)
{
    struct lc_event *ev;
#ifdef LC_BREAK_NEW_TERM_FROM_REPLY
    lc_time start = c->now;
#else
    lc_time start = lease_start(c);
#endif

    ev = push_event(c, LC_EV_REVOKED, c->term, 0, "superseded by term %llu",
                    (unsigned long long) term);
    if (ev != NULL)
        ev->holder = c->id;
    c->term = term;
    c->term_pending = 0;
    if (start + lc_lease_length(c->ttl) > c->lease_end)
        c->lease_end = start + lc_lease_length(c->ttl);
    c->renew_at = after_confirmation(c);
    emit_elected(c, term);
    report_leader(c, c->id, strlen(c->id), term, "elected", 1);
    c->seen_expiry = c->lease_end;
}

/* ---- inputs ---- */

static void forget_leader(struct lc_core *c)
{
    c->seen_known = 0;
    c->seen_len = 0;
    c->seen_self = 0;
    c->seen_expiry = 0;
}

static void on_observe(struct lc_core *c)
{
    if (c->state != LC_IDLE)
        return;
    forget_leader(c);
    c->state = LC_OBSERVER;
    end_error_streak(c);
    c->read_at = c->now;
}

static void on_start(struct lc_core *c)
{
    if (c->state == LC_FOLLOWER || c->state == LC_LEADER)
        return;
    if (c->state == LC_OBSERVER)
        c->state = LC_IDLE;
    if (c->state == LC_IDLE)
        forget_leader(c);
    if (c->state == LC_IDLE)
        c->inflight = 0;
    end_error_streak(c);
    c->retry_after_reply = 0;
    /* During RELEASING the release stays in flight, so the first acquire
     * goes out after its reply. */
    become_follower(c, c->now);
}

static void on_stop(struct lc_core *c)
{
    switch (c->state) {
    case LC_LEADER:
        push_event(c, LC_EV_REVOKED, c->term, 0, "stopped");
        c->state = LC_RELEASING;
        c->term_pending = 0;
        c->inflight_end = c->now + c->cmd_timeout;
        /* An acquire for a new term in flight may be granted, and then
         * only a release of that term deletes the key: wait for its
         * reply (on_acquire_reply releases what it says). */
        if (c->conn == LC_UP && c->inflight != LC_CMD_ACQUIRE)
            send_cmd(c, LC_CMD_RELEASE, c->term);
        break;
    case LC_FOLLOWER:
        if (c->inflight == LC_CMD_ACQUIRE && c->conn == LC_UP) {
            /* It may win: wait, and release what it wins. */
            c->state = LC_RELEASING;
            c->term = 0;
        } else {
            become_idle(c);
        }
        break;
    case LC_OBSERVER:
        become_idle(c);
        break;
    case LC_RELEASING:
    case LC_IDLE:
        break;
    }
}

/* The application's health. An unhealthy leader steps down at once and
 * releases its key (after the reply of an acquire in flight, which may
 * grant a new term: on_acquire_won hands that back), so that a healthy
 * candidate takes over within a round trip; an unhealthy follower stays a
 * follower, listening, and sends nothing until it is healthy again. */
static void on_health(struct lc_core *c, int healthy)
{
    uint64_t term = c->term;

    if (healthy == !c->benched)
        return;
    c->benched = !healthy;
    if (healthy) {
        if (c->state == LC_FOLLOWER) {
            c->retry_at = c->now;
            c->probe_next = 0;
        }
        return;
    }
    if (c->state != LC_LEADER)
        return;
    push_event(c, LC_EV_REVOKED, term, LEADER_EUNHEALTHY,
               "the application reported itself unhealthy");
    become_follower(c, c->now);
    if (c->conn == LC_UP && c->inflight != LC_CMD_ACQUIRE)
        send_cmd(c, LC_CMD_RELEASE, term);
}

/* A new term for the current leadership: the next command is an acquire
 * (holder-is-us), at once or after the command in flight. Followers and
 * the others have no leadership to renew and ignore it. */
static void on_new_term(struct lc_core *c)
{
    if (c->state != LC_LEADER || c->term_pending)
        return; /* one pending request stands for any number */
    c->term_pending = 1;
    c->retry_at = c->now;
}

static void on_connected(struct lc_core *c, int fresh)
{
    if (c->conn != LC_CONNECTING)
        return;
    if (fresh) {
#ifndef LC_BREAK_FRESH_KEEPS_LEADER
        if (c->state == LC_LEADER)
            step_down(c, LEADER_ECONN,
                      "the Redis master changed (a failover): stepping down "
                      "at once",
                      NULL);
#endif
#ifndef LC_BREAK_FRESH_ACQUIRES
        c->fresh_until = c->now + c->ttl;
#endif
    }
    c->conn = LC_UP;
    c->inflight = 0;
    c->spread_renewal = 1; /* every leader on the connection renews now */
    if (c->state == LC_FOLLOWER)
        c->retry_at = c->now;
    else if (c->state == LC_LEADER)
        c->renew_at = c->retry_at = c->now;
    else if (c->state == LC_OBSERVER)
        c->read_at = c->now;
    else if (c->state == LC_RELEASING && c->term != 0)
        send_cmd(c, LC_CMD_RELEASE, c->term);
    else if (c->state == LC_RELEASING)
        become_idle(c);
}

static void lose_connection(struct lc_core *c, int error, const char *text,
                            size_t len)
{
    enum lc_cmd_kind lost = c->inflight;

#ifdef LC_BREAK_NEW_TERM_LOST_AS_WON
    /* Broken on purpose (tests/sim): a lost new-term acquire taken as won,
     * with a term guessed from the floor. */
    if (c->state == LC_LEADER && lost == LC_CMD_ACQUIRE)
        take_new_term(c, ++c->max_term);
#endif
    /* The first loss reconnects at once; more without a reply in between
     * back off, so a server that drops every connection is not hammered. */
    c->conn_failures++;
    c->inflight = 0;
    c->probe_next = 0;
    c->conn = LC_DOWN;
    c->connect_at = c->now;
    if (c->conn_failures > 1)
        c->connect_at += backoff(c, c->conn_failures - 1);
    if (c->state == LC_RELEASING)
        become_idle(c); /* the key expires by itself */
    else if (c->state == LC_FOLLOWER && lost == LC_CMD_ACQUIRE)
        c->retry_at = c->now; /* resolve: acquire again once connected */
    if (c->state != LC_IDLE)
        report_error(c, error, "connection lost", text, len);
}

static void on_conn_failed(struct lc_core *c, int error, const char *text,
                           size_t len)
{
    if (c->conn == LC_CONNECTING)
        lose_connection(c, error, text, len);
}

/* Gives back a key won with a term this core cannot lead with. The
 * release's reply is not awaited; the next acquire goes out at retry_at. */
static void hand_back(struct lc_core *c, uint64_t term, lc_time retry_at)
{
    send_cmd(c, LC_CMD_RELEASE, term);
    c->inflight = 0;
    c->retry_at = retry_at;
}

static void on_acquire_won(struct lc_core *c, uint64_t term)
{
    if (term <= c->max_term && c->state != LC_RELEASING) {
        /* A term we may have used before: never lead with it. The script
         * prevents this (the floor is max_term); a server that breaks it
         * gets no leader. A failure like an error reply: the streak goes
         * on and the backoff grows. */
        report_error(c, LEADER_EPROTO, "acquire", "term went backwards", 19);
        hand_back(c, term, c->now + backoff(c, ++c->failures));
        return;
    }
    end_error_streak(c);
    raise_floor(c, term);
    if (c->state == LC_RELEASING) {
        c->term = term;
        send_cmd(c, LC_CMD_RELEASE, term);
        return;
    }
    if (c->now >= c->sent_at + lc_lease_length(c->ttl) || c->benched) {
        /* The reply took longer than the lease, or the application is
         * unhealthy: hand the key back. */
        hand_back(c, term, c->now);
        return;
    }
    if (c->seen_known && c->seen_len != 0 && !c->seen_self)
        report_leader(c, "", 0, 0, "expired", 1);
    become_leader(c, term);
    report_leader(c, c->id, strlen(c->id), term, "elected", 1);
    c->seen_expiry = c->lease_end;
}

static void on_acquire_lost(struct lc_core *c,
                            const struct lc_acquire_result *r)
{
    lc_time wait = c->wait;

    /* The counter as the script read it: every later term must be above
     * it, whether or not this candidate ever saw the holder's election
     * (one that joined after it still keeps terms growing). */
    raise_floor(c, r->holder_term);
    if (c->state == LC_RELEASING) {
        become_idle(c);
        return;
    }
    report_leader(c, r->holder, r->holder_len, r->holder_term, "elected", 1);
    note_expiry(c, r->pttl);
    if (r->pttl >= 0 && r->pttl < wait)
        wait = r->pttl;
    if (c->retry_after_reply)
        wait = 0;
    c->retry_at = c->now + wait;
    /* Alive past the next try: until it nears its end, a PTTL will do. */
    c->probe_next = !c->retry_after_reply && r->pttl > wait;
}

/* A follower's look between tries: while the holder's key lives past the
 * next wait, PTTL is all a follower asks of Redis (one plain command per
 * wait, as node-leader's SET NX); once the key is gone or about to go, or
 * a notification came meanwhile, it tries to acquire. */
static void on_probe_reply(struct lc_core *c, const struct lc_value *v)
{
    long long pttl = 0;
    int rc = lc_decode_pttl(v, &pttl);
    int notified = c->retry_after_reply;

    c->retry_after_reply = 0;
    if (c->state != LC_FOLLOWER)
        return;
    if (rc != 0) {
        c->retry_at = reply_failed(c, rc, "probe", v);
        return;
    }
    end_error_streak(c);
    if (pttl >= 0)
        note_expiry(c, pttl);
    else if (pttl == -2)
        report_nobody(c, 0);
    c->probe_next = !notified && pttl > c->wait;
    if (c->probe_next)
        c->retry_at = c->now + c->wait;
    else
        c->retry_at = c->now + (!notified && pttl > 0 ? pttl : 0);
}

/* The reply to a leader's acquire for a new term (rc from its decoder). */
static void on_new_term_reply(struct lc_core *c, int rc,
                              const struct lc_value *v,
                              const struct lc_acquire_result *r)
{
    if (rc != 0) {
        /* Not granted: ask again after a backoff. The lease deadline
         * stands; run_timers steps down at it if nothing succeeds. */
        c->retry_at = reply_failed(c, rc, "new term", v);
        return;
    }
    if (!r->won) {
        end_error_streak(c);
        step_down(c, LEADER_ELOST, "new term refused: the key is not ours",
                  NULL);
        on_acquire_lost(c, r);
        return;
    }
    if (r->term <= c->max_term) {
        /* A term that may have been used: never lead with it, and not
         * with the old one either, which the counter has left behind. The
         * error streak goes on. */
        step_down(c, LEADER_EPROTO, "new term refused: term went backwards",
                  NULL);
        hand_back(c, r->term, c->now + backoff(c, ++c->failures));
        return;
    }
    end_error_streak(c);
    raise_floor(c, r->term);
    if (c->now >= c->sent_at + lc_lease_length(c->ttl)) {
        /* Answered after the lease it would have given: the old lease
         * is over too (it came from an earlier send). */
        step_down(c, LEADER_ELEASE, "new term granted after its lease ran out",
                  NULL);
        hand_back(c, r->term, c->now);
        return;
    }
    take_new_term(c, r->term);
}

static void on_acquire_reply(struct lc_core *c, const struct lc_value *v)
{
    struct lc_acquire_result r;
    int rc = lc_decode_acquire(v, &r);

    if (c->state == LC_LEADER) {
        on_new_term_reply(c, rc, v, &r);
        return;
    }
    if (rc != 0) {
        if (c->state == LC_RELEASING && c->term != 0)
            send_cmd(c, LC_CMD_RELEASE, c->term); /* a leader's stop */
        else if (c->state == LC_RELEASING)
            become_idle(c);
        else
            c->retry_at = reply_failed(c, rc, "acquire", v);
        return;
    }
    if (r.won) {
        on_acquire_won(c, r.term); /* ends the error streak, or not */
    } else {
        end_error_streak(c);
        on_acquire_lost(c, &r);
    }
    /* LC_BREAK_NOTIFY_SPIN (tests/sim) leaves this out: one notification
     * during an acquire then makes a follower acquire again at once,
     * forever. */
#ifndef LC_BREAK_NOTIFY_SPIN
    c->retry_after_reply = 0;
#endif
}

static void on_renew_reply(struct lc_core *c, const struct lc_value *v)
{
    int renewed = 0;
    int rc = lc_decode_flag(v, &renewed);

    if (c->state != LC_LEADER)
        return; /* a late reply after stepping down: acquire resolves it */
    c->out->renewal.rtt = c->now - c->sent_at;
    if (rc != 0) {
        c->out->renewal.outcome = LC_RENEW_FAILED;
        c->renew_at = reply_failed(c, rc, "renew", v);
        return;
    }
    end_error_streak(c);
    if (!renewed) {
        c->out->renewal.outcome = LC_RENEW_REFUSED;
        step_down(c, LEADER_ELOST, "renewal refused: the key is not ours",
                  NULL);
        return;
    }
    c->out->renewal.outcome = LC_RENEW_CONFIRMED;
    c->out->renewal.slack = c->lease_end - c->now;
    if (lease_start(c) + lc_lease_length(c->ttl) > c->lease_end)
        c->lease_end = lease_start(c) + lc_lease_length(c->ttl);
    c->renew_at = after_confirmation(c);
}

static void on_release_reply(struct lc_core *c)
{
    /* No CHANGED: a stopped candidate reports nothing more. */
    if (c->state == LC_RELEASING)
        become_idle(c);
}

static lc_time poll_interval(const struct lc_core *c)
{
    return c->wait > 10 ? c->wait : 10;
}

static void on_read_reply(struct lc_core *c, const struct lc_value *v)
{
    struct lc_read_result r;
    int rc = lc_decode_read(v, &r);

    if (c->state != LC_OBSERVER)
        return;
    if (rc != 0) {
        c->read_at = reply_failed(c, rc, "read", v);
        return;
    }
    end_error_streak(c);
    raise_floor(c, r.term); /* for a campaign that may follow */
    if (r.holder == NULL) {
        report_nobody(c, r.term);
        c->read_at = c->now + poll_interval(c);
        return;
    }
    report_leader(c, r.holder, r.holder_len, r.term, "elected", 1);
    note_expiry(c, r.pttl);
    /* Look again just after the key would expire: a crashed holder is
     * seen at once, not a poll interval later. */
    c->read_at =
        min_time(c->now + poll_interval(c),
                 c->seen_expiry == LC_NEVER ? LC_NEVER : c->seen_expiry + 1);
}

static void on_reply(struct lc_core *c, uint64_t seq, const struct lc_value *v)
{
    enum lc_cmd_kind kind = c->inflight;

    if (kind == 0 || seq != c->seq)
        return; /* superseded or from a dropped connection */
    c->reply_seq = seq;
    c->inflight = 0;
    c->conn_failures = 0;
    if (kind == LC_CMD_ACQUIRE)
        on_acquire_reply(c, v);
    else if (kind == LC_CMD_RENEW)
        on_renew_reply(c, v);
    else if (kind == LC_CMD_READ)
        on_read_reply(c, v);
    else if (kind == LC_CMD_PROBE)
        on_probe_reply(c, v);
    else
        on_release_reply(c);
}

/* A leader is told that another candidate was elected, or that its own
 * leadership was released. Anyone who may PUBLISH can say so; when it is
 * true, Redis lost the key (a restart without its data, a FLUSHALL, a
 * failover) and the counter no longer holds this leadership's term. Only
 * Redis can tell which: the leader renews at once (after the command in
 * flight), and a refused renewal ends the leadership. A forged message
 * costs one renewal, and the leader goes on. */
static void leader_notified(struct lc_core *c, const struct lc_notify *n,
                            int ours)
{
    if (n->kind == LC_NOTIFY_ELECTED ? ours : !ours || n->term != c->term)
        return; /* a new term of ours, or nothing about this leadership */
    c->confirm = 1;
    c->confirm_seq = c->seq;
    if (!c->term_pending && c->renew_at > c->now)
        c->renew_at = c->now;
}

static void on_notify(struct lc_core *c, const char *text, size_t len)
{
    struct lc_notify n;
    int ours;

    if (c->state == LC_IDLE || c->state == LC_RELEASING ||
        lc_parse_notify(text, len, &n) != 0)
        return; /* a stopped core reports nothing */
    ours = same_id(c->id, n.id, n.id_len);
#ifdef LC_BREAK_NOTIFY_FLOOR
    /* Broken on purpose (tests/sim): a notified term taken as a floor. */
    if (n.term > c->max_term && !ours)
        c->max_term = n.term;
#endif
    if (c->state == LC_LEADER) {
#ifdef LC_BREAK_NOTIFY_STEPDOWN
        /* Broken on purpose (tests/sim): a leader that steps down on a
         * notification alone. */
        if (n.kind == LC_NOTIFY_ELECTED && !ours && n.term > c->term)
            step_down(c, LEADER_ELOST, "another candidate was elected", NULL);
        else
#endif
        {
            /* No CHANGED either: the leader's reports come from Redis. */
            leader_notified(c, &n, ours);
            return;
        }
    }
    if (c->state == LC_FOLLOWER && !ours) {
        c->retry_at = c->now;
        c->probe_next = 0;
        if (c->inflight == LC_CMD_ACQUIRE || c->inflight == LC_CMD_PROBE)
            c->retry_after_reply = 1;
    }
    /* The terms of notifications feed CHANGED reports only. Our own
     * elections are known from their replies; the notification of one may
     * come first (it travels on the other connection), and reporting it
     * would put CHANGED before the ELECTED it follows. */
    if (ours && n.kind == LC_NOTIFY_ELECTED && c->state == LC_FOLLOWER)
        return;
    if (n.kind == LC_NOTIFY_RELEASED) {
        if (seen_is(c, n.id, n.id_len) || n.term >= c->seen_term)
            report_leader(c, "", 0, n.term, "released", 0);
    } else if (report_leader(c, n.id, n.id_len, n.term, "elected", 0)) {
        /* Its expiry is not known until read; gone before then (a read
         * racing a stop) means it was released, not that it expired. */
        c->seen_expiry = LC_NEVER;
        if (c->state == LC_OBSERVER)
            c->read_at = c->now; /* learn when its key expires */
    }
}

/* ---- timers ---- */

static void follower_try(struct lc_core *c)
{
    int probe = c->probe_next;

    c->probe_next = 0;
    if (probe)
        send_cmd(c, LC_CMD_PROBE, 0);
    else
        send_cmd(c, LC_CMD_ACQUIRE, c->max_term);
}

static int wants_connection(const struct lc_core *c)
{
    return c->state != LC_IDLE;
}

/* early: how long before its next renewal is due a leader renews now
 * (lc_input.early). Not while its renewals fail: the backoff stands. */
static void run_timers(struct lc_core *c, lc_time early)
{
#ifndef LC_BREAK_NO_STEPDOWN
    if (c->state == LC_LEADER && c->now >= c->lease_end)
#else
    if (0)
#endif
        step_down(c, c->conn == LC_UP ? LEADER_ELEASE : LEADER_ECONN,
                  c->conn == LC_UP
                      ? "lease ran out without a confirmed renewal"
                      : "lease ran out while disconnected from Redis",
                  NULL);
    if (c->state == LC_RELEASING && c->now >= c->inflight_end &&
        (c->conn != LC_UP || c->inflight))
        become_idle(c); /* give up: the key expires by itself */
    if (c->inflight && c->now >= c->inflight_end) {
        if (c->inflight == LC_CMD_RENEW) {
            c->out->renewal.outcome = LC_RENEW_LATE;
            c->out->renewal.rtt = c->now - c->sent_at;
        }
        c->out->actions |= LC_ACT_DISCONNECT;
        lose_connection(c, LEADER_ETIMEDOUT, NULL, 0);
    }
    if (c->conn == LC_CONNECTING && c->now >= c->connect_end) {
        c->out->actions |= LC_ACT_DISCONNECT;
        on_conn_failed(c, LEADER_ETIMEDOUT, NULL, 0);
    }
    if (!wants_connection(c) && c->conn != LC_DOWN) {
        c->out->actions |= LC_ACT_DISCONNECT;
        c->conn = LC_DOWN;
        c->inflight = 0;
    }
    if (wants_connection(c) && c->conn == LC_DOWN && c->now >= c->connect_at) {
        c->out->actions |= LC_ACT_CONNECT;
        c->conn = LC_CONNECTING;
        c->connect_end = c->now + c->connect_timeout;
    }
    if (c->conn != LC_UP || c->inflight)
        return;
    if (c->state == LC_FOLLOWER && !c->benched && c->now >= c->retry_at &&
        c->now >= c->fresh_until)
        follower_try(c);
    else if (c->state == LC_LEADER && c->term_pending) {
        if (c->now >= c->retry_at)
            send_cmd(c, LC_CMD_ACQUIRE, c->max_term);
    } else if (c->state == LC_LEADER &&
               c->now + (c->failures == 0 ? early : 0) >= c->renew_at) {
        /* Sent late (the process or its loop stalled): the renewals of
         * every election that fell due meanwhile go out together, and
         * would stay together from then on, so the next is spread as
         * after a burst. */
        if (c->now - c->renew_at > renew_every(c) / 64)
            c->spread_renewal = 1;
        send_cmd(c, LC_CMD_RENEW, c->term);
    } else if (c->state == LC_OBSERVER && c->now >= c->read_at)
        send_cmd(c, LC_CMD_READ, 0);
}

lc_time lc_deadline(const struct lc_core *c)
{
    lc_time d = LC_NEVER;

#ifndef LC_BREAK_NO_STEPDOWN
    if (c->state == LC_LEADER)
        d = min_time(d, c->lease_end);
#endif
    if (c->state == LC_RELEASING)
        d = min_time(d, c->inflight_end);
    if (c->inflight)
        return min_time(d, c->inflight_end);
    if (c->state == LC_IDLE)
        return d;
    if (c->conn == LC_DOWN)
        return min_time(d, c->connect_at);
    if (c->conn == LC_CONNECTING)
        return min_time(d, c->connect_end);
    if (c->state == LC_FOLLOWER && !c->benched)
        d = min_time(d, c->retry_at > c->fresh_until ? c->retry_at
                                                     : c->fresh_until);
    else if (c->state == LC_LEADER)
        d = min_time(d, c->term_pending ? c->retry_at : c->renew_at);
    else if (c->state == LC_OBSERVER)
        d = min_time(d, c->read_at);
    return d;
}

static int listening(const struct lc_core *c)
{
    return c->state == LC_FOLLOWER || c->state == LC_LEADER ||
           c->state == LC_OBSERVER;
}

/* The step's report: the core as it is now, and what moved since the
 * last report. */
static void report(struct lc_core *c, struct lc_output *o)
{
    struct lc_status *now = &o->status, *was = &c->status;

    now->state = c->state;
    now->lease_end = lc_lease_end(c);
    now->term = lc_term(c);
    now->listening = listening(c);
    now->attached = c->conn != LC_DOWN;
    now->connected = c->conn == LC_UP;
    o->changed = (now->state != was->state ? LC_CHG_STATE : 0u) |
                 (now->lease_end != was->lease_end ? LC_CHG_LEASE : 0u) |
                 (now->term != was->term ? LC_CHG_TERM : 0u) |
                 (now->listening != was->listening ? LC_CHG_LISTEN : 0u) |
                 (now->attached != was->attached ? LC_CHG_CONN : 0u) |
                 (now->connected != was->connected ? LC_CHG_UP : 0u);
    *was = *now;
}

const struct lc_output *lc_step(struct lc_core *c, const struct lc_input *in,
                                struct lc_output *out)
{
    struct lc_output *o = out;

    assert(c != NULL && in != NULL && out != NULL);
    assert(in->kind != LC_IN_REPLY || in->value != NULL);
    c->out = out;
    o->actions = 0;
    o->ncmds = 0;
    o->nevents = 0;
    memset(&o->renewal, 0, sizeof o->renewal);
    if (in->now > c->now)
        c->now = in->now;
    switch (in->kind) {
    case LC_IN_START:
        on_start(c);
        break;
    case LC_IN_STOP:
        on_stop(c);
        break;
    case LC_IN_CONNECTED:
        on_connected(c, in->fresh);
        break;
    case LC_IN_CONN_FAILED:
        on_conn_failed(c, in->error, in->text, in->len);
        break;
    case LC_IN_PROGRESS:
        on_progress(c);
        break;
    case LC_IN_CONN_LOST:
        if (c->conn != LC_DOWN)
            lose_connection(c, in->error, in->text, in->len);
        break;
    case LC_IN_REPLY:
        on_reply(c, in->seq, in->value);
        break;
    case LC_IN_NOTIFY:
        on_notify(c, in->text, in->len);
        break;
    case LC_IN_SUBSCRIBED:
        c->sub_error = 0;
        if (c->state == LC_FOLLOWER) {
            c->retry_at = c->now;
            c->probe_next = 0;
        } else if (c->state == LC_OBSERVER)
            c->read_at = c->now;
        break;
    case LC_IN_OBSERVE:
        on_observe(c);
        break;
    case LC_IN_NEW_TERM:
        on_new_term(c);
        break;
    case LC_IN_UNHEALTHY:
    case LC_IN_HEALTHY:
        on_health(c, in->kind == LC_IN_HEALTHY);
        break;
    case LC_IN_SUB_REFUSED:
        /* Once until a subscription succeeds: replies to commands in
         * between do not make the next refusal news. (Said once with the
         * commands' streak when they fail the same way.) */
        if (in->error != c->sub_error) {
            c->sub_error = in->error;
            report_error(c, in->error, "subscribe", in->text, in->len);
        }
        break;
    case LC_IN_TICK:
        break;
    }
    run_timers(c, in->kind == LC_IN_TICK && in->early > 0 ? in->early : 0);
    o->deadline = lc_deadline(c);
    report(c, o);
    return o;
}

int lc_has_lease(const struct lc_core *c, lc_time now)
{
    return c->state == LC_LEADER && now < c->lease_end;
}

int lc_busy(const struct lc_core *c)
{
    return c->state != LC_IDLE;
}

enum lc_state lc_state(const struct lc_core *c)
{
    return c->state;
}

lc_time lc_lease_end(const struct lc_core *c)
{
    return c->state == LC_LEADER ? c->lease_end : 0;
}

uint64_t lc_term(const struct lc_core *c)
{
    return c->state == LC_LEADER || c->state == LC_RELEASING ? c->term : 0;
}

int lc_releasing(const struct lc_core *c)
{
    return c->state == LC_RELEASING || c->inflight == LC_CMD_RELEASE;
}

enum lc_conn lc_conn_state(const struct lc_core *c)
{
    return c->conn;
}

uint64_t lc_last_seq(const struct lc_core *c)
{
    return c->seq;
}

enum lc_cmd_kind lc_awaiting(const struct lc_core *c)
{
    return c->inflight;
}

const char *lc_id(const struct lc_core *c)
{
    return c->id;
}

lc_time lc_ttl(const struct lc_core *c)
{
    return c->ttl;
}

lc_time lc_cmd_timeout(const struct lc_core *c)
{
    return c->cmd_timeout;
}

lc_time lc_sent_at(const struct lc_core *c)
{
    return c->sent_at;
}

lc_time lc_connect_timeout(const struct lc_core *c)
{
    return c->connect_timeout;
}

lc_time lc_backoff_cap(const struct lc_core *c)
{
    return backoff_cap(c);
}
