/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_world.c - one seeded run of the simulator: processes, network,
 * faults, the driver that feeds the core, and the invariants.
 *
 * True time is in microseconds and only moves forward through a priority
 * queue of events. Each candidate process has its own clock (an offset and
 * a rate off by up to 1 %), and the core only ever sees that clock, in
 * milliseconds, exactly as the real driver (src/io/lio_engine.c) would read
 * CLOCK_BOOTTIME. The driver part below mirrors lio_engine.c: it carries
 * out DISCONNECT, CONNECT and commands in that order, resends a command as
 * EVAL on NOSCRIPT, and keeps the notification connection up while the
 * core is campaigning.
 *
 * Network rules: each connection is FIFO per direction. A lost message
 * breaks its connection (all in flight is lost, as with TCP), and the
 * client may or may not be told. A connection the client closes still
 * delivers the commands already written (Redis reads them before the FIN),
 * but its replies are never read: this is how a late command from an
 * earlier leadership, or an earlier incarnation of a process, reaches
 * Redis. A partition either drops everything (and breaks connections) or
 * holds everything until it heals (TCP retransmitting).
 *
 * All faults end before the quiet tail of a run; from then on the network
 * is fast and lossless, and liveness is checked. A hostile publisher, when
 * a run has one, goes on to the end: notifications are hints, and no
 * forged one may keep a leader from being elected or end its leadership.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/lc_core_int.h" /* reads core fields until it runs the session layer */
#include "leader.h"
#include "sim.h"

#define US_PER_MS   1000
#define RATE_ONE    1000000 /* rate of a perfect clock, in ppm units */
#define TRACE_LINES 60
#define TRACE_WIDTH 400  /* fits the longest line: body, ids, numbers */
#define MAX_SPINS   1000 /* steps at one instant before it is a busy loop */

/* ---- events ---- */

enum ev_type {
    EV_TO_REDIS = 1, /* a message arrives at Redis */
    EV_TO_CLIENT,    /* a message arrives at a candidate */
    EV_REDIS_STEP,   /* second half of a non-atomic renew */
    EV_BREAK,        /* a connection breaks in the network */
    EV_FAULT
};

enum msg_kind {
    M_SYN = 1,   /* connect attempt */
    M_ACK,       /* connection accepted */
    M_REFUSED,   /* connection refused */
    M_RESET,     /* the connection was reset */
    M_CMD,       /* a script call */
    M_REPLY,     /* its reply */
    M_SUBSCRIBE, /* SUBSCRIBE to the channel */
    M_SUBSCRIBED,
    M_MESSAGE /* a notification */
};

enum reply_kind { R_SCRIPT = 1, R_NOSCRIPT, R_ERROR };

enum fault {
    F_CRASH = 0,
    F_PAUSE,
    F_PARTITION,
    F_REDIS,
    F_DROP,
    F_STOP,
    F_NTYPES, /* the above recur at random; the rest are scheduled */
    F_RESTART,
    F_RESUME,
    F_HEAL,
    F_REDIS_UP,
    F_START,
    F_QUIET,
    F_LIVE,
    F_NEW_TERM,  /* the application asks its leader for a new term */
    F_FLUSH,     /* FLUSHALL */
    F_LATE_JOIN, /* a follower restarts (joins late), then ... */
    F_LOSE,      /* ... Redis loses its data */
    F_HOSTILE    /* a forged notification */
};

struct msg {
    enum msg_kind kind;
    struct lc_cmd cmd;
    int eval;
    int forged; /* M_MESSAGE: 0 genuine, else 1 + the form of a forgery
                 * (its term in res.pub_term, its id in res.holder) */
    enum reply_kind rkind;
    struct sim_script res;
    unsigned epoch; /* Redis' epoch when the script ran */
};

struct event {
    int64_t t;
    uint64_t seq;
    enum ev_type type;
    int conn;
    int cand;
    enum fault fault;
    unsigned serial;
    int flag;
    struct msg m;
};

struct conn {
    int cand;
    int sub;
    int accepted;      /* Redis took it */
    int ready;         /* the client saw it open */
    int client_closed; /* the client closed it: replies go unread */
    int broken;        /* broken in the network or by Redis */
    int subscribed;
    int64_t last_to_redis, last_to_client; /* FIFO per direction */
};

struct cand {
    char id[32];
    int alive, paused, started;
    unsigned crash_serial, pause_serial, part_serial, stop_serial;
    int64_t offset_ms;
    int64_t rate; /* RATE_ONE +- up to 1 % */
    struct lc_core core;
    int cmd_conn, sub_conn;
    struct lc_cmd last_cmd;
    int64_t tick_at; /* true time of the next wake-up */
    int64_t spin_at;
    int spins;
    lc_time sub_retry_at;
    unsigned sub_failures;
    struct event *deferred; /* arrived while paused */
    size_t ndeferred, capdeferred;
    int partitioned, part_hold;
    int64_t heal_at;
    /* invariant bookkeeping */
    int app_leader; /* between ELECTED and REVOKED */
    uint64_t app_term;
    uint64_t last_term; /* of this incarnation's last ELECTED */
    unsigned lease_epoch;
    int64_t started_at;       /* true time this incarnation started */
    uint64_t cmds_after_live; /* commands Redis ran once settled */
};

struct world {
    const struct sim_options *opt;
    struct lc_output step_out; /* every core's step writes here */
    uint64_t seed, rng;
    int64_t now, t_end, t_quiet, t_live, t_noslow;
    int k;
    lc_time ttl, wait, bound;
    struct sim_redis redis;
    unsigned redis_serial;
    struct cand cand[SIM_MAX_CAND];
    struct conn *conns;
    size_t nconns, capconns;
    struct event *heap;
    size_t nheap, capheap;
    uint64_t seq;
    /* network and fault parameters of this run */
    int64_t dmin_us, dmax_us, slow_max_us, quiet_max_us, jitter_us;
    double p_slow, p_break, p_err, p_cfail, p_chang, p_lose_data;
    int64_t mean_us[F_NTYPES];
    /* New-term requests draw from a stream of their own, so that a run
     * without them is the run this seed gave before they existed. */
    uint64_t term_rng;
    int64_t new_term_mean_us; /* 0: none in this run */
    /* Data loss beyond restarts (FLUSHALL, and losses right after a
     * follower joined late) and a hostile publisher, each from a stream of
     * its own too. */
    uint64_t loss_rng, hostile_rng;
    int64_t flush_mean_us, hostile_mean_us; /* 0: none in this run */
    int64_t redis_wall;   /* the server's TIME at true time 0, in ms */
    int late_joins;       /* such losses still to come */
    uint64_t max_granted; /* (2b) highest term granted, in any epoch */
    int64_t last_elected_at;
    uint64_t hostile_after_live;
    int quiet;
    int live_leader;
    int64_t stable_since; /* last ELECTED */
    uint64_t last_term;   /* of the last ELECTED in the current epoch */
    /* outcome */
    struct sim_result *res;
    uint64_t steps;
    /* trace */
    int trace;
    FILE *out;
    char ring[TRACE_LINES][TRACE_WIDTH];
    unsigned ring_next, ring_count;
};

/* ---- randomness: splitmix64 streams (the run's, and new terms') ---- */

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(struct world *w)
{
    return splitmix(&w->rng);
}

/* Uniform in [0, n]. */
static int64_t rnd_upto(struct world *w, int64_t n)
{
    return n <= 0 ? 0 : (int64_t) (rnd(w) % (uint64_t) (n + 1));
}

static int64_t rnd_range(struct world *w, int64_t lo, int64_t hi)
{
    return lo + rnd_upto(w, hi - lo);
}

static double rnd_unit(struct world *w)
{
    return (double) (rnd(w) >> 11) / 9007199254740992.0;
}

static int chance(struct world *w, double p)
{
    return p > 0 && rnd_unit(w) < p;
}

/* ---- clocks ---- */

static lc_time local_at(const struct cand *c, int64_t t_us)
{
    return c->offset_ms + (t_us * c->rate) / ((int64_t) RATE_ONE * US_PER_MS);
}

/* The first true instant at which the candidate's clock reads local. */
static int64_t true_at(const struct cand *c, lc_time local)
{
    int64_t x = local - c->offset_ms;

    if (x <= 0)
        return 0;
    return (x * RATE_ONE * US_PER_MS + c->rate - 1) / c->rate;
}

static int64_t redis_ms(const struct world *w)
{
    return w->now / US_PER_MS;
}

/* ---- trace ---- */

static void tracef(struct world *w, int ci, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tracef(struct world *w, int ci, const char *fmt, ...)
{
    char body[160], who[8], *line;
    struct sim_redis redis;
    va_list ap;
    int h;

    if (!w->trace)
        return;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    line = w->ring[w->ring_next];
    redis = w->redis; /* a copy: tracing must not touch the run */
    h = sim_redis_holder(&redis, redis_ms(w));
    snprintf(who, sizeof who, ci >= 0 ? "c%d" : "--", ci);
    snprintf(line, TRACE_WIDTH,
             "%10.3f %-3s %13lld | %-72s | redis %s key=%s pttl=%lld "
             "term=%llu ep=%u",
             (double) w->now / 1e6, who,
             ci >= 0 ? (long long) local_at(&w->cand[ci], w->now) : 0LL, body,
             w->redis.up ? "up" : "DOWN", h >= 0 ? w->cand[h].id : "-",
             (long long) sim_redis_pttl(&redis, redis_ms(w)),
             (unsigned long long) w->redis.counter, w->redis.epoch);
    if (w->trace == 2)
        fprintf(w->out, "%s\n", line);
    w->ring_next = (w->ring_next + 1) % TRACE_LINES;
    if (w->ring_count < TRACE_LINES)
        w->ring_count++;
}

static void dump_trace(struct world *w)
{
    unsigned first = (w->ring_next + TRACE_LINES - w->ring_count) % TRACE_LINES;

    if (w->trace != 1)
        return;
    fprintf(w->out,
            "  last %u steps (true s, candidate, its clock ms | what | "
            "Redis after):\n",
            w->ring_count);
    for (unsigned i = 0; i < w->ring_count; i++)
        fprintf(w->out, "  %s\n", w->ring[(first + i) % TRACE_LINES]);
}

static void fail(struct world *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct world *w, const char *kind, const char *fmt, ...)
{
    va_list ap;

    if (w->res->failed)
        return;
    w->res->failed = 1;
    w->res->kind = kind;
    va_start(ap, fmt);
    vsnprintf(w->res->what, sizeof w->res->what, fmt, ap);
    va_end(ap);
    tracef(w, -1, "VIOLATION (%s): %s", kind, w->res->what);
}

/* ---- the event queue: a binary heap on (time, insertion order) ---- */

static int ev_before(const struct event *a, const struct event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void *grow(void *p, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(p, n * size);

    if (q == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        exit(2);
    }
    *cap = n;
    return q;
}

static void sift_down(struct world *w, size_t i)
{
    struct event *h = w->heap;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct event tmp;
        if (l < w->nheap && ev_before(&h[l], &h[m]))
            m = l;
        if (r < w->nheap && ev_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* Inserts ev, keeping its seq (its place among events of equal time). */
static void push_seq(struct world *w, const struct event *ev)
{
    size_t i;

    if (w->nheap == w->capheap)
        w->heap = grow(w->heap, &w->capheap, sizeof *w->heap);
    i = w->nheap++;
    while (i > 0 && ev_before(ev, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = *ev;
}

static void push(struct world *w, struct event *ev)
{
    ev->seq = w->seq++;
    push_seq(w, ev);
}

static void pop(struct world *w, struct event *ev)
{
    *ev = w->heap[0];
    w->heap[0] = w->heap[--w->nheap];
    sift_down(w, 0);
}

static void heapify(struct world *w)
{
    for (size_t i = w->nheap / 2; i-- > 0;)
        sift_down(w, i);
}

static void push_fault(struct world *w, int64_t t, enum fault f, int ci,
                       unsigned serial)
{
    struct event ev;

    memset(&ev, 0, sizeof ev);
    ev.t = t;
    ev.type = EV_FAULT;
    ev.fault = f;
    ev.cand = ci;
    ev.serial = serial;
    ev.conn = -1;
    push(w, &ev);
}

/* ---- the network ---- */

static int new_conn(struct world *w, int ci, int sub)
{
    struct conn *cn;

    if (w->nconns == w->capconns)
        w->conns = grow(w->conns, &w->capconns, sizeof *w->conns);
    cn = &w->conns[w->nconns];
    memset(cn, 0, sizeof *cn);
    cn->cand = ci;
    cn->sub = sub;
    return (int) w->nconns++;
}

static int64_t net_delay(struct world *w)
{
    int64_t d;

    if (w->quiet) {
        /* Liveness needs round trips well inside the command timeout. */
        int64_t hi =
            w->dmax_us < w->quiet_max_us ? w->dmax_us : w->quiet_max_us;
        return rnd_range(w, w->dmin_us < hi ? w->dmin_us : hi, hi);
    }
    d = rnd_range(w, w->dmin_us, w->dmax_us);

    if (w->now < w->t_noslow && chance(w, w->p_slow))
        d += rnd_upto(w, w->slow_max_us);
    return d;
}

/* Sends m over connection ci one way. A partition that holds traffic
 * delays it until it heals; the FIFO rule keeps order on the connection. */
static void net_send(struct world *w, int ci, int to_redis, const struct msg *m)
{
    struct conn *cn = &w->conns[ci];
    struct cand *c = &w->cand[cn->cand];
    int64_t *last = to_redis ? &cn->last_to_redis : &cn->last_to_client;
    int64_t base = w->now;
    struct event ev;

    if (c->partitioned && c->part_hold && c->heal_at > base)
        base = c->heal_at;
    memset(&ev, 0, sizeof ev);
    ev.t = base + net_delay(w);
    if (ev.t < *last)
        ev.t = *last;
    *last = ev.t;
    ev.type = to_redis ? EV_TO_REDIS : EV_TO_CLIENT;
    ev.conn = ci;
    ev.cand = cn->cand;
    ev.m = *m;
    push(w, &ev);
    if (!w->quiet && m->kind != M_RESET && chance(w, w->p_break)) {
        /* The message is lost: the connection breaks on its way. */
        struct event b;
        memset(&b, 0, sizeof b);
        b.t = w->now + rnd_upto(w, ev.t - w->now);
        b.type = EV_BREAK;
        b.conn = ci;
        b.cand = cn->cand;
        b.flag = chance(w, 0.6); /* the client is told (a reset) */
        push(w, &b);
    }
}

static void send_simple(struct world *w, int ci, int to_redis,
                        enum msg_kind kind)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    net_send(w, ci, to_redis, &m);
}

/* Breaks a connection; with notify, the client learns of it by a reset. */
static void break_conn(struct world *w, int ci, int notify)
{
    struct conn *cn = &w->conns[ci];

    if (cn->broken || cn->client_closed)
        return;
    cn->broken = 1;
    w->res->n.breaks++;
    tracef(w, cn->cand, "net: %s conn #%d breaks%s", cn->sub ? "sub" : "cmd",
           ci, notify ? " (reset)" : " (silently)");
    if (notify) {
        send_simple(w, ci, 0, M_RESET);
    } else if (cn->sub) {
        /* Nothing to send on it, so only TCP keepalive finds out. */
        struct event ev;
        memset(&ev, 0, sizeof ev);
        ev.t = w->now + rnd_range(w, 1000, 20000) * US_PER_MS;
        ev.type = EV_TO_CLIENT;
        ev.conn = ci;
        ev.cand = cn->cand;
        ev.flag = 1; /* found out locally: no partition stops it */
        ev.m.kind = M_RESET;
        push(w, &ev);
    }
}

static void close_conn(struct world *w, int *ci)
{
    if (*ci >= 0)
        w->conns[*ci].client_closed = 1;
    *ci = -1;
}

/* ---- invariants ---- */

static int holds_lease(struct world *w, int i)
{
    struct cand *c = &w->cand[i];

    return c->alive && lc_has_lease(&c->core, local_at(c, w->now));
}

/* (1) At most one candidate holds a valid local lease, each judged by its
 * own clock, paused or not. Leases only begin at steps, so checking after
 * every step covers every instant. Leases granted before Redis lost its
 * data are outside the guarantee and only compared among themselves. */
static void check_mutex(struct world *w)
{
    for (int i = 0; i < w->k; i++) {
        if (!holds_lease(w, i))
            continue;
        for (int j = i + 1; j < w->k; j++) {
            if (holds_lease(w, j) &&
                w->cand[i].lease_epoch == w->cand[j].lease_epoch) {
                fail(w, "safety",
                     "two leaders: %s (term %llu, lease to %lld) and %s "
                     "(term %llu, lease to %lld) both hold a lease",
                     w->cand[i].id, (unsigned long long) w->cand[i].core.term,
                     (long long) w->cand[i].core.lease_end, w->cand[j].id,
                     (unsigned long long) w->cand[j].core.term,
                     (long long) w->cand[j].core.lease_end);
                return;
            }
        }
    }
}

/* (2b) Every term Redis grants is above every term granted before it, in
 * any epoch: across restarts without data and FLUSHALLs too. A missing
 * counter starts at max(floor, TIME in ms) + 1, which is above every
 * earlier term exactly when the highest of them is at most max(floor,
 * TIME): when the lost counter never ran ahead of the server's clock
 * (docs/protocol.md, Safety). The sim's clock never goes back; should a
 * run grant terms faster than one per ms on average and so break that
 * proviso, the history before is forgiven and counted. */
static void check_grant(struct world *w, int ci, int missing, uint64_t floor,
                        int64_t wall, uint64_t term)
{
    if (missing) {
        w->res->n.seeded++;
        if (w->max_granted > floor && (int64_t) w->max_granted > wall) {
            w->res->n.pace_exceeded++;
            w->max_granted = 0;
        }
    }
    if (term <= w->max_granted)
        fail(w, "safety",
             "%s: Redis granted term %llu after it had granted %llu%s",
             w->cand[ci].id, (unsigned long long) term,
             (unsigned long long) w->max_granted,
             missing ? " (a new counter)" : "");
    else
        w->max_granted = term;
}

static void on_elected(struct world *w, int ci, const struct lc_event *ev,
                       unsigned epoch)
{
    struct cand *c = &w->cand[ci];
    int h = sim_redis_holder(&w->redis, redis_ms(w));

    if (c->app_leader) /* (3) */
        fail(w, "events", "%s: ELECTED (term %llu) twice without REVOKED",
             c->id, (unsigned long long) ev->term);
    if (ev->term <= c->last_term) /* (2), per incarnation */
        fail(w, "safety", "%s: ELECTED with term %llu after its term %llu",
             c->id, (unsigned long long) ev->term,
             (unsigned long long) c->last_term);
    if (epoch == w->redis.epoch) {
        if (ev->term <= w->last_term) /* (2), globally */
            fail(w, "safety",
                 "%s: ELECTED with term %llu after term %llu was elected",
                 c->id, (unsigned long long) ev->term,
                 (unsigned long long) w->last_term);
        if (h != ci) /* (5) */
            fail(w, "safety", "%s: ELECTED while the key holds %s", c->id,
                 h >= 0 ? w->cand[h].id : "nothing");
        w->last_term = ev->term;
    }
    if (w->live_leader >= 0)
        fail(w, "liveness", "%s: ELECTED after faults stopped and %s led",
             c->id, w->live_leader >= 0 ? w->cand[w->live_leader].id : "?");
    w->res->n.elected++;
    w->stable_since = w->now;
    w->last_elected_at = w->now;
    c->app_leader = 1;
    c->app_term = ev->term;
    c->last_term = ev->term;
    c->lease_epoch = epoch;
}

static void on_revoked(struct world *w, int ci, const struct lc_event *ev)
{
    struct cand *c = &w->cand[ci];

    if (!c->app_leader) /* (3) */
        fail(w, "events", "%s: REVOKED (term %llu) without ELECTED", c->id,
             (unsigned long long) ev->term);
    else if (ev->term != c->app_term)
        fail(w, "events", "%s: REVOKED term %llu, but ELECTED was term %llu",
             c->id, (unsigned long long) ev->term,
             (unsigned long long) c->app_term);
    if (w->live_leader >= 0)
        fail(w, "liveness", "%s: REVOKED (%s) after faults stopped", c->id,
             ev->message);
    if (ev->error == LEADER_ELEASE || ev->error == LEADER_ECONN)
        w->res->n.lease_expired++;
    else if (ev->error == LEADER_ELOST)
        w->res->n.lost++;
    c->app_leader = 0;
}

/* ---- the driver: what lio_engine.c does with the core's outputs ---- */

static const char *cmd_name(enum lc_cmd_kind k)
{
    return k == LC_CMD_ACQUIRE   ? "ACQUIRE"
           : k == LC_CMD_RENEW   ? "RENEW"
           : k == LC_CMD_PROBE   ? "PROBE"
           : k == LC_CMD_RELEASE ? "RELEASE"
                                 : "READ";
}

static void send_cmd(struct world *w, int ci, const struct lc_cmd *cmd,
                     int eval)
{
    struct cand *c = &w->cand[ci];
    struct msg m;

    if (c->cmd_conn < 0 || !w->conns[c->cmd_conn].ready) {
        /* lio_conn_send fails; the core's reply timeout resolves it. */
        tracef(w, ci, "driver: %s seq %llu sent with no open connection",
               cmd_name(cmd->kind), (unsigned long long) cmd->seq);
        return;
    }
    memset(&m, 0, sizeof m);
    m.kind = M_CMD;
    m.cmd = *cmd;
    m.eval = eval;
    net_send(w, c->cmd_conn, 1, &m);
}

static int wants_sub(const struct cand *c)
{
    return c->core.state == LC_FOLLOWER || c->core.state == LC_LEADER;
}

static lc_time sub_backoff(struct world *w, struct cand *c)
{
    lc_time cap = c->core.backoff_cap, d = 20;

    for (unsigned i = 1; i < c->sub_failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    return d / 2 + rnd_upto(w, d / 2);
}

static void manage_sub(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    if (!wants_sub(c)) {
        close_conn(w, &c->sub_conn);
        c->sub_failures = 0;
        c->sub_retry_at = 0;
    } else if (c->sub_conn < 0 && local_at(c, w->now) >= c->sub_retry_at) {
        c->sub_conn = new_conn(w, ci, 1);
        send_simple(w, c->sub_conn, 1, M_SYN);
    }
}

static void set_tick(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];
    lc_time d = lc_deadline(&c->core);

    if (wants_sub(c) && c->sub_conn < 0 && c->sub_retry_at < d)
        d = c->sub_retry_at;
    if (d == LC_NEVER) {
        c->tick_at = SIM_NEVER;
        return;
    }
    c->tick_at = true_at(c, d);
    /* poll() wakes up a little late, now and then by milliseconds. */
    c->tick_at += chance(w, 0.02) ? rnd_upto(w, w->jitter_us)
                                  : rnd_upto(w, w->jitter_us / 25);
    if (c->tick_at < w->now)
        c->tick_at = w->now;
}

static const char *in_name(enum lc_input_kind k)
{
    static const char *names[] = {"?",          "START",     "STOP",
                                  "TICK",       "CONNECTED", "CONN_FAILED",
                                  "CONN_LOST",  "REPLY",     "NOTIFY",
                                  "SUBSCRIBED", "OBSERVE",   "NEW_TERM"};
    return (unsigned) k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static void trace_input(struct world *w, int ci, const struct lc_input *in)
{
    const struct lc_value *v = in->value;

    if (!w->trace)
        return;
    if (in->kind == LC_IN_REPLY && v->type == LC_VAL_ARRAY && v->n == 2)
        tracef(w, ci, "in  REPLY seq %llu: won term %lld",
               (unsigned long long) in->seq, v->elem[1].integer);
    else if (in->kind == LC_IN_REPLY && v->type == LC_VAL_ARRAY)
        tracef(w, ci, "in  REPLY seq %llu: lost, holder %.*s pttl %lld",
               (unsigned long long) in->seq, (int) v->elem[1].len,
               v->elem[1].str, v->elem[2].integer);
    else if (in->kind == LC_IN_REPLY && v->type == LC_VAL_INT)
        tracef(w, ci, "in  REPLY seq %llu: %lld", (unsigned long long) in->seq,
               v->integer);
    else if (in->kind == LC_IN_REPLY)
        tracef(w, ci, "in  REPLY seq %llu: error %.*s",
               (unsigned long long) in->seq, (int) v->len, v->str);
    else if (in->kind == LC_IN_NOTIFY)
        tracef(w, ci, "in  NOTIFY \"%.*s\"", (int) in->len, in->text);
    else
        tracef(w, ci, "in  %s", in_name(in->kind));
}

static void trace_output(struct world *w, int ci, const struct lc_output *o)
{
    struct cand *c = &w->cand[ci];

    if (!w->trace)
        return;
    if (o->actions & LC_ACT_DISCONNECT)
        tracef(w, ci, "out DISCONNECT");
    if (o->actions & LC_ACT_CONNECT)
        tracef(w, ci, "out CONNECT");
    for (int i = 0; i < o->ncmds; i++)
        tracef(w, ci, "out %s seq %llu term %llu", cmd_name(o->cmds[i].kind),
               (unsigned long long) o->cmds[i].seq,
               (unsigned long long) o->cmds[i].term);
    for (int i = 0; i < o->nevents; i++)
        tracef(w, ci, "out %s term %llu: %s",
               o->events[i].kind == LC_EV_ELECTED   ? "ELECTED"
               : o->events[i].kind == LC_EV_REVOKED ? "REVOKED"
               : o->events[i].kind == LC_EV_CHANGED ? "CHANGED"
                                                    : "ERROR",
               (unsigned long long) o->events[i].term, o->events[i].message);
    if (o->nevents > 0 && c->core.state == LC_LEADER)
        tracef(w, ci, "    (lease to %lld, renew at %lld)",
               (long long) c->core.lease_end, (long long) c->core.renew_at);
}

/* Feeds one input and carries out the output; then the invariants. */
static void feed(struct world *w, int ci, struct lc_input *in, unsigned epoch)
{
    struct cand *c = &w->cand[ci];
    const struct lc_output *o;
    lc_time old_end = c->core.lease_end;
    int elected = 0;

    in->now = local_at(c, w->now);
    trace_input(w, ci, in);
    o = lc_step(&c->core, in, &w->step_out);
    w->steps++;
    trace_output(w, ci, o);
    if (o->actions & LC_ACT_DISCONNECT)
        close_conn(w, &c->cmd_conn);
    if (o->actions & LC_ACT_CONNECT) {
        close_conn(w, &c->cmd_conn);
        c->cmd_conn = new_conn(w, ci, 0);
        send_simple(w, c->cmd_conn, 1, M_SYN);
    }
    for (int i = 0; i < o->ncmds; i++) {
        c->last_cmd = o->cmds[i];
        send_cmd(w, ci, &o->cmds[i], 0);
    }
    for (int i = 0; i < o->nevents; i++) {
        if (o->events[i].kind == LC_EV_ELECTED) {
            on_elected(w, ci, &o->events[i], epoch);
            if (i > 0 && o->events[i - 1].kind == LC_EV_REVOKED)
                w->res->n.new_terms++; /* a leader's new term */
            elected = 1;
        } else if (o->events[i].kind == LC_EV_REVOKED) {
            on_revoked(w, ci, &o->events[i]);
        }
    }
    if (!elected && in->kind == LC_IN_REPLY && c->core.state == LC_LEADER &&
        c->core.lease_end > old_end)
        c->lease_epoch = epoch; /* the renewal now backs the lease */
    /* (1b) The application is told of the loss by the deadline: a leader
     * in its own eyes must hold the lease at every step it takes. */
    if (c->app_leader && !lc_has_lease(&c->core, in->now))
        fail(w, "safety",
             "%s still leads (term %llu) at %lld, past its lease deadline "
             "%lld",
             c->id, (unsigned long long) c->app_term, (long long) in->now,
             (long long) c->core.lease_end);
    manage_sub(w, ci);
    set_tick(w, ci);
    check_mutex(w);
}

static void feed_simple(struct world *w, int ci, enum lc_input_kind kind,
                        int error)
{
    struct lc_input in;

    memset(&in, 0, sizeof in);
    in.kind = kind;
    in.error = error;
    if (error != 0) {
        in.text = leader_strerror(error);
        in.len = strlen(in.text);
    }
    feed(w, ci, &in, w->redis.epoch);
}

/* ---- processes ---- */

static void proc_start(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];
    struct lc_config cfg;

    cfg.id = c->id;
    cfg.ttl = w->ttl;
    cfg.wait = w->wait;
    cfg.seed = rnd(w) | 1;
    c->alive = 1;
    c->paused = 0;
    c->started = 1;
    c->ndeferred = 0;
    c->cmd_conn = c->sub_conn = -1;
    c->sub_retry_at = 0;
    c->sub_failures = 0;
    c->app_leader = 0;
    c->last_term = 0;
    c->spins = 0;
    c->started_at = w->now;
    if (lc_init(&c->core, &cfg) != 0) {
        fail(w, "setup", "lc_init refused ttl %lld wait %lld",
             (long long) w->ttl, (long long) w->wait);
        return;
    }
    tracef(w, ci, "process starts (fresh core)");
    feed_simple(w, ci, LC_IN_START, 0);
}

static void proc_crash(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    tracef(w, ci, "process crashes%s", c->app_leader ? " while leader" : "");
    w->res->n.crashes++;
    c->alive = 0;
    c->paused = 0;
    c->crash_serial++;
    c->ndeferred = 0;
    c->tick_at = SIM_NEVER;
    /* The kernel closes its sockets: what was written still arrives. */
    close_conn(w, &c->cmd_conn);
    close_conn(w, &c->sub_conn);
    c->app_leader = 0; /* a dead process expects no REVOKED */
}

static void proc_resume(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    c->paused = 0;
    tracef(w, ci, "process resumes (%zu inputs waiting)", c->ndeferred);
    /* What arrived during the pause is read now, in arrival order. */
    for (size_t i = 0; i < c->ndeferred; i++) {
        c->deferred[i].t = w->now;
        push_seq(w, &c->deferred[i]); /* ahead of later arrivals */
    }
    c->ndeferred = 0;
}

/* ---- Redis ---- */

static void publish(struct world *w, const struct sim_script *s, int id)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = M_MESSAGE;
    m.res = *s;
    m.res.holder = id;
    for (int j = 0; j < w->k; j++) {
        int sc = w->cand[j].sub_conn;
        if (sc >= 0 && w->conns[sc].subscribed && !w->conns[sc].broken &&
            !w->conns[sc].client_closed)
            net_send(w, sc, 0, &m);
    }
}

static void reply(struct world *w, int ci, const struct msg *cmd,
                  enum reply_kind rk, const struct sim_script *s)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = M_REPLY;
    m.cmd = cmd->cmd;
    m.rkind = rk;
    if (s != NULL)
        m.res = *s;
    m.epoch = w->redis.epoch;
    if (!w->conns[ci].client_closed)
        net_send(w, ci, 0, &m);
}

static void redis_cmd(struct world *w, int ci, const struct msg *m)
{
    struct conn *cn = &w->conns[ci];
    int id = cn->cand;
    int64_t now = redis_ms(w);
    struct sim_script s;
    const struct lc_cmd *cmd = &m->cmd;

    if (!w->redis.scripts_loaded && !m->eval && cmd->kind != LC_CMD_PROBE) {
        tracef(w, id, "redis: %s seq %llu -> NOSCRIPT", cmd_name(cmd->kind),
               (unsigned long long) cmd->seq);
        reply(w, ci, m, R_NOSCRIPT, NULL);
        return;
    }
    if (cmd->kind != LC_CMD_PROBE)
        w->redis.scripts_loaded = 1;
    if (cn->client_closed)
        w->res->n.late_cmds++;
    if (w->now >= w->t_live)
        w->cand[id].cmds_after_live++;
    if (!w->quiet && chance(w, w->p_err)) {
        tracef(w, id, "redis: %s seq %llu -> error", cmd_name(cmd->kind),
               (unsigned long long) cmd->seq);
        reply(w, ci, m, R_ERROR, NULL);
        return;
    }
    if (cmd->kind == LC_CMD_PROBE) {
        /* A plain PTTL of the holder key. */
        s.kind = SIM_SR_FLAG;
        s.pub = SIM_PUB_NONE;
        s.flag = (int) sim_redis_pttl(&w->redis, now);
    } else if (cmd->kind == LC_CMD_ACQUIRE) {
        int missing = w->redis.counter == 0;
        sim_redis_acquire(&w->redis, now, id, w->ttl, cmd->term, &s);
        if (s.kind == SIM_SR_WON)
            check_grant(w, id, missing, cmd->term,
                        now + w->redis.wall_offset_ms, s.term);
    } else if (cmd->kind == LC_CMD_RENEW &&
               w->redis.brk == SIM_RB_RENEW_NONATOMIC) {
        s.kind = SIM_SR_FLAG;
        s.pub = SIM_PUB_NONE;
        s.flag = sim_redis_renew_check(&w->redis, now, id, cmd->term);
        if (s.flag) {
            /* Broken: the client saw its id in a GET and counts the
             * renewal as done; its PEXPIRE lands a round trip later, or
             * never if the connection breaks first. */
            struct event ev;
            memset(&ev, 0, sizeof ev);
            ev.t = w->now + net_delay(w) + net_delay(w);
            ev.type = EV_REDIS_STEP;
            ev.conn = ci;
            ev.cand = id;
            ev.m = *m;
            push(w, &ev);
        }
    } else if (cmd->kind == LC_CMD_RENEW) {
        sim_redis_renew(&w->redis, now, id, cmd->term, w->ttl, &s);
    } else {
        sim_redis_release(&w->redis, now, id, cmd->term, &s);
    }
    tracef(w, id, "redis: %s seq %llu term %llu%s -> %s %llu",
           cmd_name(cmd->kind), (unsigned long long) cmd->seq,
           (unsigned long long) cmd->term,
           cn->client_closed ? " (closed conn)" : "",
           s.kind == SIM_SR_WON          ? "won"
           : s.kind == SIM_SR_LOST       ? "lost"
           : s.kind == SIM_SR_TERM_ERROR ? "LEADERTERM"
                                         : "flag",
           (unsigned long long) (s.kind == SIM_SR_WON    ? s.term
                                 : s.kind == SIM_SR_LOST ? (uint64_t) s.pttl
                                                         : (uint64_t) s.flag));
    reply(w, ci, m, R_SCRIPT, &s);
    if (s.pub != SIM_PUB_NONE)
        publish(w, &s, id);
}

static void on_redis(struct world *w, struct event *ev)
{
    struct conn *cn = &w->conns[ev->conn];
    struct cand *c = &w->cand[cn->cand];

    if (cn->broken)
        return;
    if (c->partitioned && !c->part_hold) {
        cn->broken = 1; /* dropped on the way: the connection is gone */
        return;
    }
    if (!w->redis.up) {
        if (ev->m.kind == M_SYN)
            send_simple(w, ev->conn, 0, M_REFUSED);
        return;
    }
    switch (ev->m.kind) {
    case M_SYN:
        if (cn->client_closed)
            break;
        if (!w->quiet && chance(w, w->p_chang))
            break; /* the attempt hangs: the client times out */
        if (!w->quiet && chance(w, w->p_cfail)) {
            send_simple(w, ev->conn, 0, M_REFUSED);
            break;
        }
        cn->accepted = 1;
        send_simple(w, ev->conn, 0, M_ACK);
        break;
    case M_CMD:
        redis_cmd(w, ev->conn, &ev->m);
        break;
    case M_SUBSCRIBE:
        cn->subscribed = 1;
        send_simple(w, ev->conn, 0, M_SUBSCRIBED);
        break;
    default:
        break;
    }
}

static void on_redis_step(struct world *w, struct event *ev)
{
    if (!w->redis.up || w->conns[ev->conn].broken ||
        w->conns[ev->conn].client_closed)
        return; /* the client never sent its PEXPIRE */
    sim_redis_pexpire(&w->redis, redis_ms(w), w->ttl);
    tracef(w, ev->cand,
           "redis: late PEXPIRE of RENEW seq %llu (whoever "
           "holds the key)",
           (unsigned long long) ev->m.cmd.seq);
}

/* ---- the client side of the network ---- */

static void feed_reply(struct world *w, int ci, const struct msg *m)
{
    struct cand *c = &w->cand[ci];
    struct lc_value v, el[4];
    struct lc_input in;
    char counter[24];
    static const char noscript[] = "NOSCRIPT No matching script.";
    static const char err[] = "ERR simulated failure";
    static const char term_err[] = "LEADERTERM the term counter is at "
                                   "9000000000000000 or holds no term";

    if (m->rkind == R_NOSCRIPT && m->cmd.seq == c->last_cmd.seq &&
        c->core.inflight && c->core.seq == m->cmd.seq) {
        w->res->n.noscript++;
        tracef(w, ci, "driver: NOSCRIPT, %s seq %llu resent as EVAL",
               cmd_name(m->cmd.kind), (unsigned long long) m->cmd.seq);
        send_cmd(w, ci, &c->last_cmd, 1);
        return;
    }
    memset(&v, 0, sizeof v);
    memset(el, 0, sizeof el);
    if (m->rkind != R_SCRIPT || m->res.kind == SIM_SR_TERM_ERROR) {
        v.type = LC_VAL_ERR;
        v.str = m->rkind == R_NOSCRIPT ? noscript
                : m->rkind == R_ERROR  ? err
                                       : term_err;
        v.len = strlen(v.str);
    } else if (m->res.kind == SIM_SR_WON) {
        v.type = LC_VAL_ARRAY;
        v.elem = el;
        v.n = 2;
        el[0].type = el[1].type = LC_VAL_INT;
        el[0].integer = 1;
        el[1].integer = (long long) m->res.term;
    } else if (m->res.kind == SIM_SR_LOST) {
        v.type = LC_VAL_ARRAY;
        v.elem = el;
        v.n = 4;
        el[0].type = el[2].type = LC_VAL_INT;
        el[1].type = LC_VAL_STR;
        el[1].str = w->cand[m->res.holder].id;
        el[1].len = strlen(el[1].str);
        el[2].integer = m->res.pttl;
        el[3].type = LC_VAL_NIL; /* GET of the counter: a bulk string */
        if (m->res.term > 0) {
            el[3].type = LC_VAL_STR;
            el[3].str = counter;
            el[3].len = (size_t) snprintf(counter, sizeof counter, "%llu",
                                          (unsigned long long) m->res.term);
        }
    } else {
        v.type = LC_VAL_INT;
        v.integer = m->res.flag;
    }
    memset(&in, 0, sizeof in);
    in.kind = LC_IN_REPLY;
    in.seq = m->cmd.seq;
    in.value = &v;
    feed(w, ci, &in, m->epoch);
}

/* The text of a forged notification: well formed (an election or a
 * release, with any term, in anyone's name) or not. */
static int forged_text(struct world *w, const struct msg *m, char *text,
                       size_t size)
{
    unsigned long long t = (unsigned long long) m->res.pub_term;
    const char *id = m->res.holder >= 0 ? w->cand[m->res.holder].id : "mallory";
    char longid[300];
    int n;

    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    switch ((m->forged - 1) % 11) {
    case 0:
    case 2:
        n = snprintf(text, size, "elected %llu %s", t, id);
        break;
    case 1:
    case 3:
        n = snprintf(text, size, "released %llu %s", t, id);
        break;
    case 4:
        n = snprintf(text, size, "elected %llu", t);
        break;
    case 5:
        n = snprintf(text, size, "elected x %s", id);
        break;
    case 6:
        n = snprintf(text, size, "released -%llu %s", t, id);
        break;
    case 7:
        n = snprintf(text, size, "elected %llu  %s", t, id);
        break;
    case 8:
        n = 0;
        break;
    case 9: /* an id too long to be one */
        n = snprintf(text, size, "elected %llu %s%s", t, id, longid);
        break;
    default:
        n = snprintf(text, size, "\x01\xff%llu %s", t, id);
        break;
    }
    return n < 0 ? 0 : (size_t) n >= size ? (int) size - 1 : n;
}

static void feed_notify(struct world *w, int ci, const struct msg *m)
{
    char text[400];
    struct lc_input in;
    int n;

    if (m->forged)
        n = forged_text(w, m, text, sizeof text);
    else
        n = snprintf(text, sizeof text, "%s %llu %s",
                     m->res.pub == SIM_PUB_ELECTED ? "elected" : "released",
                     (unsigned long long) m->res.pub_term,
                     w->cand[m->res.holder].id);
    memset(&in, 0, sizeof in);
    in.kind = LC_IN_NOTIFY;
    in.text = text;
    in.len = (size_t) n;
    feed(w, ci, &in, w->redis.epoch);
}

static void sub_failed(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    c->sub_conn = -1;
    c->sub_failures++;
    c->sub_retry_at = local_at(c, w->now) + sub_backoff(w, c);
    tracef(w, ci, "driver: notification connection failed, retry at %lld",
           (long long) c->sub_retry_at);
    set_tick(w, ci);
}

static void on_client(struct world *w, struct event *ev)
{
    struct conn *cn = &w->conns[ev->conn];
    int ci = cn->cand;
    struct cand *c = &w->cand[ci];
    int is_cmd = ev->conn == c->cmd_conn, is_sub = ev->conn == c->sub_conn;

    if (!c->alive || cn->client_closed)
        return;
    if (cn->broken && ev->m.kind != M_RESET)
        return;
    if (c->partitioned && !c->part_hold && !ev->flag) {
        cn->broken = 1;
        return;
    }
    if (c->paused) {
        if (c->ndeferred == c->capdeferred)
            c->deferred =
                grow(c->deferred, &c->capdeferred, sizeof *c->deferred);
        c->deferred[c->ndeferred++] = *ev;
        return;
    }
    if (!is_cmd && !is_sub)
        return;
    switch (ev->m.kind) {
    case M_ACK:
        cn->ready = 1;
        if (is_cmd) {
            feed_simple(w, ci, LC_IN_CONNECTED, 0);
        } else {
            struct msg m;
            memset(&m, 0, sizeof m);
            m.kind = M_SUBSCRIBE;
            net_send(w, ev->conn, 1, &m);
        }
        break;
    case M_REFUSED:
    case M_RESET:
        if (is_cmd) {
            c->cmd_conn = -1;
            feed_simple(w, ci, cn->ready ? LC_IN_CONN_LOST : LC_IN_CONN_FAILED,
                        LEADER_ECONN);
        } else {
            sub_failed(w, ci);
        }
        break;
    case M_REPLY:
        if (is_cmd)
            feed_reply(w, ci, &ev->m);
        break;
    case M_SUBSCRIBED:
        if (is_sub) {
            c->sub_failures = 0;
            feed_simple(w, ci, LC_IN_SUBSCRIBED, 0);
        }
        break;
    case M_MESSAGE:
        if (is_sub)
            feed_notify(w, ci, &ev->m);
        break;
    default:
        break;
    }
}

/* ---- faults ---- */

static void schedule_fault(struct world *w, enum fault f)
{
    int64_t t;

    if (w->mean_us[f] <= 0)
        return;
    t = w->now + rnd_range(w, 1, 2 * w->mean_us[f]);
    if (t < w->t_quiet)
        push_fault(w, t, f, -1, 0);
}

/* A fault's end, never later than the quiet tail. */
static int64_t until(struct world *w, int64_t dur_ms)
{
    int64_t t = w->now + dur_ms * US_PER_MS + rnd_upto(w, US_PER_MS);

    return t < w->t_quiet ? t : w->t_quiet;
}

static int pick(struct world *w, int need_alive)
{
    int ci = (int) rnd_upto(w, w->k - 1);

    if (need_alive && (!w->cand[ci].alive || w->cand[ci].paused))
        return -1;
    return ci;
}

static void partition(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];
    int64_t d;

    for (int i = 0; i < w->k; i++)
        if (w->cand[i].partitioned)
            return; /* one at a time */
    c->partitioned = 1;
    w->res->n.partitions++;
    c->part_hold = chance(w, 0.5);
    c->heal_at = until(w, rnd_range(w, w->ttl / 4, 3 * w->ttl));
    c->part_serial++;
    push_fault(w, c->heal_at, F_HEAL, ci, c->part_serial);
    tracef(w, ci, "net: partitioned until %.3f, %s", (double) c->heal_at / 1e6,
           c->part_hold ? "traffic held" : "traffic dropped");
    if (!c->part_hold) {
        for (size_t i = 0; i < w->nconns; i++)
            if (w->conns[i].cand == ci)
                break_conn(w, (int) i, 0);
        return;
    }
    /* Everything in flight waits out the partition; shifting it all by
     * the same amount keeps the order on each connection. */
    d = c->heal_at - w->now;
    for (size_t i = 0; i < w->nheap; i++) {
        struct event *ev = &w->heap[i];
        struct conn *cn;
        if ((ev->type != EV_TO_REDIS && ev->type != EV_TO_CLIENT) ||
            ev->cand != ci)
            continue;
        ev->t += d;
        cn = &w->conns[ev->conn];
        if (ev->type == EV_TO_REDIS && ev->t > cn->last_to_redis)
            cn->last_to_redis = ev->t;
        if (ev->type == EV_TO_CLIENT && ev->t > cn->last_to_client)
            cn->last_to_client = ev->t;
    }
    heapify(w);
}

/* Redis has just lost its data (the epoch is bumped). */
static void data_lost(struct world *w)
{
    w->res->n.data_losses++;
    w->last_term = 0;
    for (int i = 0; i < w->k; i++) {
        if (w->cand[i].alive && w->cand[i].started_at > w->last_elected_at) {
            w->res->n.late_joiner_losses++; /* it never saw that term */
            break;
        }
    }
}

/* A restart, losing the data by chance (or if lose), and up again later. */
static void redis_down(struct world *w, int lose)
{
    if (!w->redis.up)
        return;
    lose = lose || chance(w, w->p_lose_data);
    w->redis.up = 0;
    sim_redis_restart(&w->redis, lose);
    w->res->n.redis_restarts++;
    if (lose)
        data_lost(w);
    tracef(w, -1, "redis: restarts%s", lose ? ", LOSING ITS DATA" : "");
    for (size_t i = 0; i < w->nconns; i++)
        if (w->conns[i].accepted)
            break_conn(w, (int) i, 1);
    w->redis_serial++;
    push_fault(w, until(w, rnd_range(w, 0, 2 * w->ttl)), F_REDIS_UP, -1,
               w->redis_serial);
}

static void drop_conn(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];
    int conn = chance(w, 0.7) ? c->cmd_conn : c->sub_conn;

    if (conn >= 0)
        break_conn(w, conn, chance(w, 0.6));
}

static void app_stop(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    if (!c->started)
        return;
    tracef(w, ci, "app: stop");
    w->res->n.stops++;
    c->started = 0;
    c->stop_serial++;
    feed_simple(w, ci, LC_IN_STOP, 0);
    /* Often back at once, while its release may still be on its way. */
    push_fault(
        w, until(w, rnd_range(w, 0, chance(w, 0.5) ? w->ttl / 3 : 2 * w->ttl)),
        F_START, ci, c->stop_serial);
}

static void app_start(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    if (!c->alive || c->started)
        return;
    if (c->paused) { /* the application is frozen too: a bit later */
        push_fault(w, w->now + US_PER_MS, F_START, ci, c->stop_serial);
        return;
    }
    tracef(w, ci, "app: start");
    c->started = 1;
    feed_simple(w, ci, LC_IN_START, 0);
}

/* The next new-term request, before the quiet tail like every fault. */
static void schedule_new_term(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) (splitmix(&w->term_rng) %
                           (uint64_t) (2 * w->new_term_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_NEW_TERM, -1, 0);
}

/* The application asks for a new term, as leader_new_term() would: of its
 * leader mostly (the API refuses it to a handle without a lease, but a
 * lease may end between the call and the loop), now and then of anyone. */
static void app_new_term(struct world *w)
{
    int ci = (int) (splitmix(&w->term_rng) % (uint64_t) w->k);

    for (int i = 0; i < w->k; i++)
        if (w->cand[i].app_leader && splitmix(&w->term_rng) % 10 < 9)
            ci = i;
    if (w->cand[ci].alive && !w->cand[ci].paused) {
        tracef(w, ci, "app: new term");
        w->res->n.new_terms_asked += (uint64_t) w->cand[ci].app_leader;
        feed_simple(w, ci, LC_IN_NEW_TERM, 0);
    }
    schedule_new_term(w);
}

/* ---- data loss and hostile notifications (streams of their own) ---- */

static uint64_t loss_rnd(struct world *w, uint64_t n)
{
    return n == 0 ? 0 : splitmix(&w->loss_rng) % n;
}

static void schedule_flush(struct world *w)
{
    int64_t t =
        w->now + 1 + (int64_t) loss_rnd(w, (uint64_t) (2 * w->flush_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_FLUSH, -1, 0);
}

static void redis_flush(struct world *w)
{
    if (!w->redis.up)
        return;
    sim_redis_flush(&w->redis);
    w->res->n.flushes++;
    data_lost(w);
    tracef(w, -1, "redis: FLUSHALL, LOSING ITS DATA");
}

static void schedule_late_join(struct world *w)
{
    int64_t span = w->t_quiet - w->now - 3 * w->ttl * US_PER_MS;

    if (w->late_joins <= 0 || span <= 0)
        return;
    w->late_joins--;
    push_fault(w, w->now + 1 + (int64_t) loss_rnd(w, (uint64_t) span / 2),
               F_LATE_JOIN, -1, 0);
}

/* A follower restarts, so it never saw the last election (and sometimes
 * the leader dies too); a little later Redis loses its data. */
static void late_join(struct world *w)
{
    int ci = (int) loss_rnd(w, (uint64_t) w->k);
    struct cand *c = &w->cand[ci];
    int64_t d;

    if (c->alive && !c->paused && !c->app_leader) {
        tracef(w, ci,
               "scenario: a follower joins late, then Redis loses "
               "its data");
        proc_crash(w, ci);
        proc_start(w, ci);
        for (int i = 0; i < w->k; i++) {
            struct cand *l = &w->cand[i];
            if (l->app_leader && !l->paused && loss_rnd(w, 2) == 0) {
                proc_crash(w, i); /* kill -9 */
                push_fault(
                    w, until(w, (int64_t) loss_rnd(w, (uint64_t) (3 * w->ttl))),
                    F_RESTART, i, l->crash_serial);
            }
        }
        d = (int64_t) loss_rnd(w, (uint64_t) (w->wait + w->ttl)) + 1;
        push_fault(w, until(w, d), F_LOSE, -1, 0);
    }
    schedule_late_join(w);
}

static void lose_data(struct world *w)
{
    if (loss_rnd(w, 2) == 0 || !w->redis.up)
        redis_down(w, 1);
    else
        redis_flush(w);
}

static void schedule_hostile(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) (splitmix(&w->hostile_rng) %
                           (uint64_t) (2 * w->hostile_mean_us));

    if (t < w->t_end)
        push_fault(w, t, F_HOSTILE, -1, 0);
}

/* A term for a forgery: the largest there is, just below it, above it
 * (2^53 + 1 among others), none, tiny, or around the counter. */
static uint64_t forged_term(struct world *w)
{
    uint64_t c = w->redis.counter, r = splitmix(&w->hostile_rng);

    switch (r % 11) {
    case 0:
        return LEADER_TERM_MAX;
    case 1:
        return LEADER_TERM_MAX - 1 - (r >> 8) % 1000;
    case 2:
        return (UINT64_C(1) << 53) + 1;
    case 3:
        return UINT64_MAX;
    case 4:
        return 0;
    case 5:
        return 1 + (r >> 8) % 100;
    case 6:
        return c > 0 ? c - 1 : 0;
    case 7:
        return c;
    case 8:
        return c + 1;
    default:
        return c + 1 + (r >> 8) % 1000000;
    }
}

/* Anyone who may PUBLISH sends a notification of its own making to every
 * subscriber: mostly well formed, in the name of a candidate or not. */
static void hostile_publish(struct world *w)
{
    uint64_t r = splitmix(&w->hostile_rng);
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = M_MESSAGE;
    m.forged = 1 + (int) (r % 16 < 10 ? r % 4 : 4 + r % 7);
    m.res.pub_term = forged_term(w);
    m.res.holder = (int) ((r >> 16) % (uint64_t) (w->k + 2)) - 2;
    if (m.res.holder < -1)
        m.res.holder = -1;
    w->res->n.forged++;
    if (w->now >= w->t_live)
        w->hostile_after_live++;
    for (int j = 0; j < w->k; j++) {
        int sc = w->cand[j].sub_conn;
        if (sc >= 0 && w->conns[sc].subscribed && !w->conns[sc].broken &&
            !w->conns[sc].client_closed)
            net_send(w, sc, 0, &m);
    }
    schedule_hostile(w);
}

static void quiet(struct world *w)
{
    tracef(w, -1, "faults stop; leader expected by %.3f",
           (double) w->t_live / 1e6);
    w->quiet = 1;
    if (!w->redis.up)
        w->redis.up = 1;
    for (int i = 0; i < w->k; i++) {
        struct cand *c = &w->cand[i];
        c->partitioned = 0;
        if (c->paused)
            proc_resume(w, i);
        if (!c->alive)
            proc_start(w, i);
        else if (!c->started)
            app_start(w, i);
    }
}

static void check_live(struct world *w)
{
    int n = 0, who = -1;

    for (int i = 0; i < w->k; i++) {
        if (w->cand[i].app_leader && holds_lease(w, i)) {
            n++;
            who = i;
        }
    }
    if (n != 1) {
        w->live_leader = -2;
        fail(w, "liveness",
             "%d leaders %.3f s after faults stopped (ttl %lld, wait %lld, "
             "bound %lld ms)",
             n, (double) (w->t_live - w->t_quiet) / 1e6, (long long) w->ttl,
             (long long) w->wait, (long long) w->bound);
        return;
    }
    w->live_leader = who;
    w->res->live_ratio = w->stable_since > w->t_quiet
                             ? (double) (w->stable_since - w->t_quiet) /
                                   US_PER_MS / (double) w->bound
                             : 0;
    tracef(w, who, "liveness: leads, and must until the end");
}

static void on_fault(struct world *w, const struct event *ev)
{
    int ci = ev->cand;
    struct cand *c = ci >= 0 ? &w->cand[ci] : NULL;

    switch (ev->fault) {
    case F_CRASH:
        ci = pick(w, 0);
        if (w->cand[ci].alive) {
            proc_crash(w, ci);
            push_fault(w, until(w, rnd_range(w, 0, 3 * w->ttl + 1000)),
                       F_RESTART, ci, w->cand[ci].crash_serial);
        }
        break;
    case F_PAUSE:
        ci = pick(w, 1);
        if (ci >= 0) {
            int64_t r = rnd_upto(w, 9), d;
            d = r < 5   ? rnd_range(w, 0, w->ttl / 2)
                : r < 9 ? rnd_range(w, w->ttl / 2, 2 * w->ttl)
                        : rnd_range(w, 2 * w->ttl, 5 * w->ttl);
            w->cand[ci].paused = 1;
            w->res->n.pauses++;
            w->cand[ci].pause_serial++;
            push_fault(w, until(w, d), F_RESUME, ci, w->cand[ci].pause_serial);
            tracef(w, ci, "process paused for %lld ms", (long long) d);
        }
        break;
    case F_PARTITION:
        partition(w, pick(w, 0));
        break;
    case F_REDIS:
        redis_down(w, 0);
        break;
    case F_DROP:
        drop_conn(w, pick(w, 0));
        break;
    case F_STOP:
        /* Mostly the leader: stopping it exercises the release paths. */
        ci = pick(w, 1);
        for (int i = 0; i < w->k; i++)
            if (w->cand[i].app_leader && !w->cand[i].paused && chance(w, 0.7))
                ci = i;
        if (ci >= 0)
            app_stop(w, ci);
        break;
    case F_RESTART:
        if (!c->alive && ev->serial == c->crash_serial)
            proc_start(w, ci);
        break;
    case F_RESUME:
        if (c->paused && ev->serial == c->pause_serial)
            proc_resume(w, ci);
        break;
    case F_HEAL:
        if (c->partitioned && ev->serial == c->part_serial) {
            c->partitioned = 0;
            tracef(w, ci, "net: partition heals");
        }
        break;
    case F_REDIS_UP:
        if (!w->redis.up && ev->serial == w->redis_serial) {
            w->redis.up = 1;
            tracef(w, -1, "redis: up again");
        }
        break;
    case F_START:
        if (ev->serial == c->stop_serial)
            app_start(w, ci);
        break;
    case F_QUIET:
        quiet(w);
        break;
    case F_LIVE:
        check_live(w);
        break;
    case F_NEW_TERM:
        app_new_term(w);
        break;
    case F_FLUSH:
        redis_flush(w);
        schedule_flush(w);
        break;
    case F_LATE_JOIN:
        late_join(w);
        break;
    case F_LOSE:
        lose_data(w);
        break;
    case F_HOSTILE:
        hostile_publish(w);
        break;
    case F_NTYPES:
        break;
    }
    if (ev->fault < F_NTYPES)
        schedule_fault(w, ev->fault);
}

/* ---- one run ---- */

static void choose_params(struct world *w, uint64_t seed)
{
    static const int ks[] = {2, 3, 5};
    const struct sim_options *o = w->opt;
    int64_t r;

    w->seed = seed;
    w->rng = seed * 0x2545f4914f6cdd1dULL + 0x632be59bd9b4e019ULL;
    w->k = o->candidates > 0 ? o->candidates : ks[rnd_upto(w, 2)];
    if (w->k > SIM_MAX_CAND)
        w->k = SIM_MAX_CAND;
    /* ttl: 200 ms .. 10 s, mostly short so that a run sees many terms. */
    r = rnd_upto(w, 9);
    w->ttl = r < 5   ? rnd_range(w, 200, 1000)
             : r < 8 ? rnd_range(w, 1000, 3000)
                     : rnd_range(w, 3000, 10000);
    if (o->ttl >= 0)
        w->ttl = o->ttl;
    r = rnd_upto(w, 9);
    w->wait = r == 0  ? 0
              : r < 7 ? rnd_range(w, 50, 1000)
                      : rnd_range(w, 1000, 2000);
    if (o->wait >= 0)
        w->wait = o->wait;

    w->dmin_us = rnd_range(w, 50, 1000);
    w->dmax_us = w->dmin_us + rnd_range(w, 0, chance(w, 0.3) ? 20000 : 4000);
    w->p_slow = chance(w, 0.7) ? rnd_unit(w) * 0.03 : 0;
    w->slow_max_us = rnd_range(w, w->ttl / 10, 2 * w->ttl) * US_PER_MS;
    w->p_break = chance(w, 0.6) ? rnd_unit(w) * 0.01 : 0;
    w->p_err = chance(w, 0.3) ? rnd_unit(w) * 0.01 : 0;
    w->p_cfail = chance(w, 0.5) ? rnd_unit(w) * 0.1 : 0;
    w->p_chang = chance(w, 0.4) ? rnd_unit(w) * 0.05 : 0;
    w->p_lose_data = chance(w, 0.2) ? rnd_unit(w) : 0;
    for (int f = 0; f < F_NTYPES; f++)
        w->mean_us[f] =
            chance(w, 0.7)
                ? rnd_range(w, 2 * w->ttl, 40 * w->ttl + 5000) * US_PER_MS
                : 0;

    /* Liveness: a leader by ttl + wait + a small bound after the faults
     * stop (the old key's expiry, a follower's wait, a hung connect or
     * command, a reconnect backoff, and clock-rate slack). */
    {
        struct lc_core probe;
        struct lc_config cfg = {"probe", w->ttl, w->wait, 1};
        lc_init(&probe, &cfg);
        w->bound = w->ttl + w->wait + 2 * probe.cmd_timeout +
                   2 * probe.backoff_cap + (w->ttl + w->wait) / 50 + 100;
        w->quiet_max_us = probe.cmd_timeout * US_PER_MS / 6;
        w->jitter_us = w->quiet_max_us < 5000 ? w->quiet_max_us : 5000;
    }
    w->t_end = (int64_t) o->minutes * 60 * 1000000;
    r = 2 * w->bound * US_PER_MS + 5000000;
    if (r < w->t_end / 5)
        r = w->t_end / 5;
    w->t_quiet = w->t_end - r;
    w->t_live = w->t_quiet + w->bound * US_PER_MS;
    w->t_noslow = w->t_quiet - w->slow_max_us;

    /* The server's clock: what TIME reads, in ms since the epoch. */
    w->loss_rng = seed ^ 0x6c6f73732d646174ULL;
    w->redis_wall =
        1600000000000LL + (int64_t) (splitmix(&w->loss_rng) % 400000000000ULL);
    /* FLUSHALL in 20 % of the runs, every 5 .. 60 ttl on average; a
     * follower joining late just before a data loss, 1 to 3 times, in
     * 30 %. */
    if (splitmix(&w->loss_rng) % 10 < 2)
        w->flush_mean_us =
            (int64_t) (5 + splitmix(&w->loss_rng) % 56) * w->ttl * US_PER_MS;
    if (splitmix(&w->loss_rng) % 10 < 3)
        w->late_joins = 1 + (int) (splitmix(&w->loss_rng) % 3);
    /* Forged notifications in half of the runs, every ttl/10 .. 5 ttl on
     * average, to the end of the run. */
    w->hostile_rng = seed ^ 0x686f7374696c6521ULL;
    if (splitmix(&w->hostile_rng) % 2 == 0)
        w->hostile_mean_us =
            (w->ttl / 10 +
             (int64_t) (splitmix(&w->hostile_rng) % (uint64_t) (5 * w->ttl))) *
                US_PER_MS +
            1;

    /* New terms in 70 % of the runs, every ttl/4 .. 4 ttl on average. */
    w->term_rng = seed ^ 0x6e65772d7465726dULL;
    if (splitmix(&w->term_rng) % 10 < 7) {
        uint64_t span = (uint64_t) (4 * w->ttl - w->ttl / 4 + 1);
        w->new_term_mean_us =
            (w->ttl / 4 + (int64_t) (splitmix(&w->term_rng) % span)) *
            US_PER_MS;
    }
}

static void world_init(struct world *w, const struct sim_options *o,
                       uint64_t seed)
{
    choose_params(w, seed);
    sim_redis_init(&w->redis, o->redis_break);
    w->redis.wall_offset_ms = w->redis_wall;
    w->live_leader = -1;
    for (int i = 0; i < w->k; i++) {
        struct cand *c = &w->cand[i];
        snprintf(c->id, sizeof c->id, "cand%d-%08llx", i,
                 (unsigned long long) (rnd(w) & 0xffffffff));
        c->rate = RATE_ONE + rnd_range(w, -10000, 10000);
        c->offset_ms = rnd_range(w, 1000, 1000000000);
        c->tick_at = SIM_NEVER;
        c->cmd_conn = c->sub_conn = -1;
        /* Processes come up at different times in the first second. */
        push_fault(w, rnd_upto(w, 1000000), F_RESTART, i, 0);
    }
    for (int f = 0; f < F_NTYPES; f++)
        schedule_fault(w, (enum fault) f);
    push_fault(w, w->t_quiet, F_QUIET, -1, 0);
    push_fault(w, w->t_live, F_LIVE, -1, 0);
    if (w->new_term_mean_us > 0)
        schedule_new_term(w);
    if (w->flush_mean_us > 0)
        schedule_flush(w);
    schedule_late_join(w);
    if (w->hostile_mean_us > 0)
        schedule_hostile(w);
}

static void world_free(struct world *w)
{
    free(w->conns);
    free(w->heap);
    for (int i = 0; i < SIM_MAX_CAND; i++)
        free(w->cand[i].deferred);
}

static void tick(struct world *w, int ci)
{
    struct cand *c = &w->cand[ci];

    if (c->spin_at == w->now) {
        if (++c->spins > MAX_SPINS) {
            fail(w, "liveness", "%s: busy loop, deadline %lld never passes",
                 c->id, (long long) lc_deadline(&c->core));
            return;
        }
    } else {
        c->spin_at = w->now;
        c->spins = 0;
    }
    c->tick_at = SIM_NEVER;
    if (local_at(c, w->now) >= lc_deadline(&c->core)) {
        feed_simple(w, ci, LC_IN_TICK, 0);
    } else {
        manage_sub(w, ci);
        set_tick(w, ci);
    }
}

/* (6) No busy loop: once a leader is settled, each candidate sends about
 * one command per renewal (ttl/3) or per try (min(wait, ttl/2), no faster
 * than a round trip), plus at most one per forged notification. A core
 * that retries at once on every failure, or on every hint, exceeds it. */
static void check_load(struct world *w)
{
    double span_ms = (double) (w->t_end - w->t_live) / US_PER_MS;
    double rtt_ms =
        2.0 *
        (double) (w->dmin_us < w->quiet_max_us ? w->dmin_us : w->quiet_max_us) /
        US_PER_MS;
    double period = (double) (w->wait < w->ttl / 2 ? w->wait : w->ttl / 2);
    double allowed;

    if (period < rtt_ms)
        period = rtt_ms;
    if (period < 0.05)
        period = 0.05;
    allowed = 1.25 * (span_ms / period + 3 * span_ms / (double) w->ttl) +
              2.0 * (double) w->hostile_after_live + 20;
    for (int i = 0; i < w->k; i++)
        if ((double) w->cand[i].cmds_after_live / allowed > w->res->load_ratio)
            w->res->load_ratio = (double) w->cand[i].cmds_after_live / allowed;
    for (int i = 0; i < w->k; i++)
        if ((double) w->cand[i].cmds_after_live > allowed)
            fail(w, "load",
                 "%s sent %llu commands in the last %.1f s (ttl %lld, wait "
                 "%lld, %llu forged notifications): at most %.0f expected",
                 w->cand[i].id, (unsigned long long) w->cand[i].cmds_after_live,
                 span_ms / 1000, (long long) w->ttl, (long long) w->wait,
                 (unsigned long long) w->hostile_after_live, allowed);
}

int sim_run(const struct sim_options *opt, uint64_t seed,
            struct sim_result *res, FILE *out)
{
    struct world *w = calloc(1, sizeof *w);
    struct event ev;

    if (w == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        exit(2);
    }
    memset(res, 0, sizeof *res);
    w->opt = opt;
    w->res = res;
    w->trace = opt->trace;
    w->out = out;
    world_init(w, opt, seed);
    tracef(w, -1,
           "seed %llu: %d candidates, ttl %lld, wait %lld, delay "
           "%lld..%lld us, slow %.3f, break %.4f",
           (unsigned long long) seed, w->k, (long long) w->ttl,
           (long long) w->wait, (long long) w->dmin_us, (long long) w->dmax_us,
           w->p_slow, w->p_break);
    while (!res->failed) {
        int ci = -1;
        int64_t t = w->nheap > 0 ? w->heap[0].t : SIM_NEVER;

        for (int i = 0; i < w->k; i++) {
            struct cand *c = &w->cand[i];
            if (c->alive && !c->paused && c->tick_at < t) {
                t = c->tick_at;
                ci = i;
            }
        }
        if (t > w->t_end)
            break;
        if (t > w->now) /* a paused process' overdue tick runs now */
            w->now = t;
        if (ci >= 0) {
            tick(w, ci);
            continue;
        }
        pop(w, &ev);
        switch (ev.type) {
        case EV_TO_REDIS:
            on_redis(w, &ev);
            break;
        case EV_TO_CLIENT:
            on_client(w, &ev);
            break;
        case EV_REDIS_STEP:
            on_redis_step(w, &ev);
            break;
        case EV_BREAK:
            break_conn(w, ev.conn, ev.flag);
            break;
        case EV_FAULT:
            on_fault(w, &ev);
            break;
        }
    }
    if (!res->failed && w->live_leader >= 0 &&
        !w->cand[w->live_leader].app_leader)
        fail(w, "liveness", "%s no longer leads at the end",
             w->cand[w->live_leader].id);
    if (!res->failed && w->live_leader >= 0)
        check_load(w);
    res->virtual_s = (double) (res->failed ? w->now : w->t_end) / 1e6;
    res->steps = w->steps;
    if (res->failed)
        dump_trace(w);
    world_free(w);
    free(w);
    return res->failed;
}
