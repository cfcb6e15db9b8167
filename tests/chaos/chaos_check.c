/* SPDX-License-Identifier: BSD-3-Clause */
/* chaos_check.c - the chaos suite's checker (see chaos_check.h): split
 * brains, term order, orphans and availability from the heartbeat log,
 * recovery times from the harness' fault log. The heartbeat log is read
 * with hblog.h, the one parser of that format; a "child" here is what
 * hblog.h calls one: every process of the tree `leader run` started for
 * one election (the heartbeats that share a GROUP, id and term). */
#define _GNU_SOURCE
#include "chaos_check.h"

#include <stdlib.h>
#include <string.h>

#include "hblog.h"

/* A process of a child seen beating this long after its `leader run` died
 * is an orphan: whatever guards the tree (PR_SET_PDEATHSIG, a watchdog)
 * kills it within milliseconds, so the slack only covers a loaded machine
 * (sanitizer builds, two suites at once). */
#define ORPHAN_SLACK_US 500000LL
/* Findings printed in full; the rest are only counted. */
#define MAX_PRINTED 10

static const char *const kind_names[CK_NKINDS] = {
    "kill9",         "sigterm",        "blackhole",        "reset",
    "sigstop",       "sigstop-group",  "kill9-new-leader", "redis-restart",
    "redis-kill9",   "redis-pause",    "server-kill9",     "server-restart",
    "server-empty",  "server-pause",   "link-blackhole",   "link-reset",
    "majority-loss", "majority-empty",
};

const char *chaos_kind_name(int kind)
{
    return kind >= 0 && kind < CK_NKINDS ? kind_names[kind] : NULL;
}

int chaos_kind_parse(const char *name)
{
    for (int k = 0; k < CK_NKINDS; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

/* One line of the fault log that matters to the checks. */
struct event {
    char what[16];
    long long us;
    int kind;     /* fault, heal, stall */
    char id[128]; /* spawn, died: the candidate's id; adopt, orphan: comm */
    int slot, pid;
    int cand; /* adopt: the `leader run` it descends from, 0: unknown */
};

struct flog {
    struct event *ev;
    size_t n;
    unsigned long long seed;
    int candidates, ttl, naive, servers;
    long long begin_us, end_us;
};

/* "123.456" milliseconds to microseconds. */
static long long ms_to_us(const char *s)
{
    long long ms = 0, frac = 0;

    sscanf(s, "%lld.%3lld", &ms, &frac);
    return ms * 1000 + frac;
}

static int flog_read(const char *path, struct flog *f)
{
    char line[512], what[16], ms[32], a[128], b[128], c[32];
    FILE *in = fopen(path, "r");
    int lineno = 0;

    memset(f, 0, sizeof *f);
    if (in == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof line, in) != NULL) {
        struct event e;
        int n;

        lineno++;
        memset(&e, 0, sizeof e);
        e.kind = -1;
        a[0] = b[0] = c[0] = '\0';
        n = sscanf(line, "%15s %31s %127s %127s %31s", what, ms, a, b, c);
        if (n < 2)
            goto bad;
        snprintf(e.what, sizeof e.what, "%s", what);
        e.us = ms_to_us(ms);
        if (strcmp(what, "begin") == 0) {
            n = sscanf(line, "begin %*s %llu %d %d %d %d", &f->seed,
                       &f->candidates, &f->ttl, &f->naive, &f->servers);
            if (n < 4)
                goto bad;
            if (n == 4) /* a log of single-server days */
                f->servers = 1;
            f->begin_us = e.us;
            continue;
        }
        if (strcmp(what, "end") == 0) {
            f->end_us = e.us;
            continue;
        }
        if (strcmp(what, "spawn") == 0 || strcmp(what, "died") == 0) {
            if (n != 5)
                goto bad;
            e.slot = atoi(a);
            snprintf(e.id, sizeof e.id, "%s", b);
            e.pid = atoi(c);
        } else if (strcmp(what, "fault") == 0 || strcmp(what, "heal") == 0 ||
                   strcmp(what, "stall") == 0) {
            if (n != 4 || (e.kind = chaos_kind_parse(a)) < 0)
                goto bad;
            snprintf(e.id, sizeof e.id, "%s", b);
        } else if (strcmp(what, "orphan") == 0) {
            if (n != 3 && n != 4)
                goto bad;
            e.pid = atoi(a);
            snprintf(e.id, sizeof e.id, "%s", n == 4 ? b : "?");
        } else if (strcmp(what, "adopt") == 0) {
            if (n != 5)
                goto bad;
            e.pid = atoi(a);
            snprintf(e.id, sizeof e.id, "%s", b);
            e.cand = atoi(c);
        } else if (strcmp(what, "server") == 0) {
            if (n != 4 || (strcmp(b, "down") != 0 && strcmp(b, "up") != 0 &&
                           strcmp(b, "restarted") != 0))
                goto bad;
            e.slot = atoi(a);
            snprintf(e.id, sizeof e.id, "%s", b);
        } else if (strcmp(what, "gone") == 0) {
            if (n != 3)
                goto bad;
            e.pid = atoi(a);
        } else {
            goto bad;
        }
        struct event *grown = realloc(f->ev, (f->n + 1) * sizeof *grown);
        if (grown == NULL)
            goto bad;
        f->ev = grown;
        f->ev[f->n++] = e;
    }
    fclose(in);
    if (f->end_us == 0) {
        fprintf(stderr, "%s: no end line (the run did not finish)\n", path);
        free(f->ev);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "%s:%d: bad line: %s", path, lineno, line);
    fclose(in);
    free(f->ev);
    return -1;
}

static double ms(long long us)
{
    return (double) us / 1000.0;
}

/* Two children alive at the same instant, judged from the first start
 * line to the last line any process of each wrote (what it proved it was
 * running). The children are in order of start, so each is compared with
 * the one of all earlier children that was seen last. */
static int count_split_brains(const hb_log *log, FILE *out)
{
    const hb_child *latest = NULL;
    int found = 0;

    for (size_t i = 0; i < log->n; i++) {
        const hb_child *c = &log->children[i];

        if (latest != NULL && c->start_us <= latest->last_us) {
            if (found++ < MAX_PRINTED)
                fprintf(out,
                        "SPLIT BRAIN: child %d (id %s, term %llu) started at "
                        "%.3f ms while child %d (id %s, term %llu) was alive "
                        "until %.3f ms (last line by process %d; %.3f ms of "
                        "overlap)\n",
                        (int) c->pid, c->id, c->term, ms(c->start_us),
                        (int) latest->pid, latest->id, latest->term,
                        ms(latest->last_us), (int) latest->last_pid,
                        ms(latest->last_us - c->start_us));
        }
        if (latest == NULL || c->last_us > latest->last_us)
            latest = c;
    }
    return found;
}

/* Every leadership takes a new term from the counter (INCR, persisted with
 * appendfsync always), and a second child in one leadership first takes a
 * new one (DESIGN §4), so successive children (process trees, whatever
 * their ids) must have strictly growing terms: a repeat means two children
 * shared a fencing token, even two of one `leader run`. */
static int count_term_violations(const hb_log *log, FILE *out)
{
    int found = 0;

    for (size_t i = 1; i < log->n; i++) {
        const hb_child *p = &log->children[i - 1], *c = &log->children[i];

        if (c->term <= p->term && found++ < MAX_PRINTED)
            fprintf(out,
                    "TERM VIOLATION: child %d (id %s) started at %.3f ms with "
                    "term %llu after child %d (id %s) with term %llu\n",
                    (int) c->pid, c->id, ms(c->start_us), c->term, (int) p->pid,
                    p->id, p->term);
    }
    return found;
}

static int pid_listed(const int *pids, int n, int pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return 1;
    return 0;
}

/* A process of a candidate still alive after the candidate died: found by
 * the harness (orphan lines: alive at the end, or adopted by the harness
 * and not gone within its bound), or in the log (it beat well after the
 * `leader run` that started its child was reaped). A child belongs to the
 * candidate of its id that was running when the child started; every
 * process of the child is judged, grandchildren included. Counted once per
 * process. */
static int count_orphans(const hb_log *log, const struct flog *f, FILE *out)
{
    int *pids = calloc(log->nprocs + f->n + 1, sizeof *pids), n = 0;

    if (pids == NULL)
        return 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct event *d = &f->ev[i];
        long long spawned = 0;

        if (strcmp(d->what, "orphan") == 0) {
            if (!pid_listed(pids, n, d->pid)) {
                pids[n++] = d->pid;
                if (d->pid < 0)
                    fprintf(out,
                            "ORPHAN: candidate group %d still had live "
                            "processes at the end\n",
                            -d->pid);
                else
                    fprintf(out,
                            "ORPHAN: process %d (%s) outlived its candidate "
                            "(found alive at %.3f ms)\n",
                            d->pid, d->id, ms(d->us));
            }
            continue;
        }
        if (strcmp(d->what, "died") != 0)
            continue;
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->ev[j].what, "spawn") == 0 && f->ev[j].pid == d->pid)
                spawned = f->ev[j].us;
        for (size_t j = 0; j < log->nprocs; j++) {
            const hb_child *p = &log->procs[j], *c = &log->children[p->child];

            if (strcmp(c->id, d->id) != 0 || c->start_us < spawned ||
                c->start_us > d->us || p->last_us <= d->us + ORPHAN_SLACK_US ||
                pid_listed(pids, n, (int) p->pid))
                continue;
            pids[n++] = (int) p->pid;
            fprintf(out,
                    "ORPHAN: process %d of child %d (id %s, term %llu) beat "
                    "until %.3f ms, its leader run %d died at %.3f ms\n",
                    (int) p->pid, (int) c->pid, c->id, c->term, ms(p->last_us),
                    d->pid, ms(d->us));
        }
    }
    free(pids);
    return n;
}

/* What the harness adopted (processes whose parent died), and for the
 * watchdogs among them the longest time from the death of their `leader
 * run` to their own end: how long a watchdog outlives its supervisor. */
static void adoption_summary(const struct flog *f, FILE *out)
{
    int adopted = 0, watchdogs = 0;
    long long worst = -1;

    for (size_t i = 0; i < f->n; i++) {
        const struct event *a = &f->ev[i];
        long long died = 0, gone = 0;

        if (strcmp(a->what, "adopt") != 0)
            continue;
        adopted++;
        if (strcmp(a->id, "leader-watchdog") != 0)
            continue;
        watchdogs++;
        for (size_t j = 0; j < f->n; j++) {
            if (strcmp(f->ev[j].what, "died") == 0 && a->cand > 0 &&
                f->ev[j].pid == a->cand)
                died = f->ev[j].us;
            if (j > i && gone == 0 && strcmp(f->ev[j].what, "gone") == 0 &&
                f->ev[j].pid == a->pid)
                gone = f->ev[j].us;
        }
        if (died > 0 && gone > died && gone - died > worst)
            worst = gone - died;
    }
    fprintf(out, "adopted          %d (%d watchdogs", adopted, watchdogs);
    if (worst >= 0)
        fprintf(out, ", the last gone %.1f ms after its leader run died",
                ms(worst));
    fprintf(out, ")\n");
}

/* The share of [begin, end] during which some child was running. */
static double availability(const hb_log *log, const struct flog *f)
{
    long long covered = 0, reach = f->begin_us;

    if (f->end_us <= f->begin_us)
        return 0;
    /* In order of start: add what each child covers beyond the reach of
     * the earlier ones. */
    for (size_t i = 0; i < log->n; i++) {
        long long s = log->children[i].start_us, e = log->children[i].last_us;

        if (e > f->end_us)
            e = f->end_us;
        if (s < reach)
            s = reach;
        if (e > s) {
            covered += e - s;
            reach = e;
        }
    }
    return (double) covered / (double) (f->end_us - f->begin_us);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;

    return (x > y) - (x < y);
}

/* Recovery of one fault injected at t, the next fault (or the end) at
 * bound: -1 when the child that led at t lived on through it (the fault did
 * not interrupt the leadership), else the time from t to the start of the
 * next child (bound - t if none started: no recovery at all). */
static long long recovery_us(const hb_log *log, long long t, long long bound)
{
    const hb_child *led = NULL;

    for (size_t i = 0; i < log->n; i++)
        if (log->children[i].start_us <= t && log->children[i].last_us >= t)
            led = &log->children[i];
    /* The next fault comes after a quiet period of at least a ttl, so a
     * child seen within 100 ms of it was never interrupted. */
    if (led != NULL && led->last_us + 100000 >= bound)
        return -1;
    for (size_t i = 0; i < log->n; i++)
        if (log->children[i].start_us > t && log->children[i].start_us < bound)
            return log->children[i].start_us - t;
    return bound - t;
}

static void recovery_table(const hb_log *log, const struct flog *f, FILE *out,
                           chaos_result *res)
{
    long long *rec = calloc(f->n + 1, sizeof *rec);
    int stalls[CK_NKINDS] = {0};

    fprintf(out, "%-16s %7s %10s %12s %12s %7s\n", "fault", "count",
            "disrupted", "median ms", "worst ms", "stalls");
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->ev[i].what, "stall") == 0)
            stalls[f->ev[i].kind]++;
    for (int k = 0; k < CK_NKINDS && rec != NULL; k++) {
        int count = 0, n = 0;

        /* Only the kinds of the run's mode. */
        if (!((f->servers > 1 ? CK_QUORUM_KINDS : CK_SINGLE_KINDS) & (1u << k)))
            continue;

        for (size_t i = 0; i < f->n; i++) {
            long long bound = f->end_us, r;

            if (strcmp(f->ev[i].what, "fault") != 0 || f->ev[i].kind != k)
                continue;
            count++;
            for (size_t j = i + 1; j < f->n; j++)
                if (strcmp(f->ev[j].what, "fault") == 0) {
                    bound = f->ev[j].us;
                    break;
                }
            r = recovery_us(log, f->ev[i].us, bound);
            if (r >= 0)
                rec[n++] = r;
        }
        res->faults += count;
        qsort(rec, (size_t) n, sizeof *rec, cmp_ll);
        if (n > 0)
            fprintf(out, "%-16s %7d %10d %12.1f %12.1f %7d\n",
                    chaos_kind_name(k), count, n,
                    n % 2 ? ms(rec[n / 2])
                          : (ms(rec[n / 2 - 1]) + ms(rec[n / 2])) / 2,
                    ms(rec[n - 1]), stalls[k]);
        else
            fprintf(out, "%-16s %7d %10d %12s %12s %7d\n", chaos_kind_name(k),
                    count, 0, "-", "-", stalls[k]);
        res->stalls += stalls[k];
    }
    free(rec);
}

/* ---- Quorum mode: when the servers could elect ------------------------
 * Time is cut into intervals [a, b) in microseconds; a list of them is
 * sorted and disjoint. */
struct span {
    long long a, b;
};

struct spans {
    struct span *v;
    size_t n;
};

/* How long a restarted server counts for nothing: the library's rule is
 * ttl + drift + up to 2 s (its uptime is whole wall-clock seconds); ttl +
 * 2 s is close enough for a figure, and for the majority check the young
 * time is not counted at all. */
#define YOUNG_SLACK_US 2000000LL
/* A child seen alive this long past the lease of a leader whose majority
 * went down is judged: the lease ends ttl after its last renewal was sent,
 * at the latest when the majority went down; the slack covers a SIGKILL
 * delivered late on a loaded machine, never a lease. */
#define MAJORITY_SLACK_US 300000LL

static int spans_add(struct spans *s, long long a, long long b)
{
    struct span *grown;

    if (b <= a)
        return 0;
    grown = realloc(s->v, (s->n + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    s->v = grown;
    s->v[s->n].a = a;
    s->v[s->n++].b = b;
    return 0;
}

static int cmp_span(const void *x, const void *y)
{
    const struct span *p = x, *q = y;

    return (p->a > q->a) - (p->a < q->a);
}

/* Sorts and merges overlapping or touching spans. */
static void spans_merge(struct spans *s)
{
    size_t w = 0;

    if (s->n == 0)
        return; /* s->v may still be NULL, which qsort must not be given */
    qsort(s->v, s->n, sizeof *s->v, cmp_span);
    for (size_t i = 0; i < s->n; i++) {
        if (w > 0 && s->v[i].a <= s->v[w - 1].b) {
            if (s->v[i].b > s->v[w - 1].b)
                s->v[w - 1].b = s->v[i].b;
        } else {
            s->v[w++] = s->v[i];
        }
    }
    s->n = w;
}

static long long spans_len(const struct spans *s)
{
    long long len = 0;

    for (size_t i = 0; i < s->n; i++)
        len += s->v[i].b - s->v[i].a;
    return len;
}

/* The length of the intersection of two merged lists. */
static long long spans_overlap(const struct spans *x, const struct spans *y)
{
    long long len = 0;

    for (size_t i = 0, j = 0; i < x->n && j < y->n;) {
        long long a = x->v[i].a > y->v[j].a ? x->v[i].a : y->v[j].a;
        long long b = x->v[i].b < y->v[j].b ? x->v[i].b : y->v[j].b;

        if (b > a)
            len += b - a;
        if (x->v[i].b < y->v[j].b)
            i++;
        else
            j++;
    }
    return len;
}

/* The spans in which more than half of the servers counted for nothing:
 * down (killed or frozen) and, with young_us > 0, for young_us after a
 * restart. Each server's own spans are merged first, so that a server is
 * counted once at a time. */
static int majority_out(const struct flog *f, long long young_us,
                        struct spans *out)
{
    struct {
        long long at;
        int d;
    } *edge = NULL;
    size_t ne = 0;
    int rc = 0, down = 0;
    long long from = 0;

    memset(out, 0, sizeof *out);
    for (int srv = 0; srv < f->servers && rc == 0; srv++) {
        struct spans mine = {0};
        long long open = -1;

        for (size_t i = 0; i < f->n && rc == 0; i++) {
            const struct event *e = &f->ev[i];

            if (strcmp(e->what, "server") != 0 || e->slot != srv)
                continue;
            if (strcmp(e->id, "down") == 0) {
                if (open < 0)
                    open = e->us;
            } else {
                long long b =
                    e->us + (strcmp(e->id, "restarted") == 0 ? young_us : 0);

                rc = spans_add(&mine, open < 0 ? e->us : open, b);
                open = -1;
            }
        }
        if (open >= 0 && rc == 0)
            rc = spans_add(&mine, open, f->end_us);
        spans_merge(&mine);
        for (size_t i = 0; i < mine.n && rc == 0; i++) {
            void *grown = realloc(edge, (ne + 2) * sizeof *edge);

            if (grown == NULL) {
                rc = -1;
                break;
            }
            edge = grown;
            edge[ne].at = mine.v[i].a, edge[ne++].d = 1;
            edge[ne].at = mine.v[i].b, edge[ne++].d = -1;
        }
        free(mine.v);
    }
    /* In time order, ends before starts at the same instant. */
    for (size_t i = 1; i < ne; i++)
        for (size_t j = i; j > 0 && (edge[j - 1].at > edge[j].at ||
                                     (edge[j - 1].at == edge[j].at &&
                                      edge[j - 1].d > edge[j].d));
             j--) {
            long long at = edge[j].at;
            int d = edge[j].d;

            edge[j] = edge[j - 1];
            edge[j - 1].at = at, edge[j - 1].d = d;
        }
    for (size_t i = 0; i < ne && rc == 0; i++) {
        int was = 2 * down > f->servers;

        down += edge[i].d;
        if (!was && 2 * down > f->servers)
            from = edge[i].at;
        else if (was && 2 * down <= f->servers)
            rc = spans_add(out, from, edge[i].at);
    }
    free(edge);
    return rc;
}

/* Children alive while a majority of the servers had been down for more
 * than a lease: no renewal can have been confirmed since the majority went
 * down, so every lease has ended ttl later, and no acquire can be won. */
static int count_majority_leaders(const hb_log *log, const struct flog *f,
                                  FILE *out)
{
    struct spans lost;
    int found = 0;

    if (f->servers < 3 || majority_out(f, 0, &lost) != 0)
        return 0;
    for (size_t w = 0; w < lost.n; w++) {
        long long from = lost.v[w].a + f->ttl * 1000LL + MAJORITY_SLACK_US;

        for (size_t i = 0; i < log->n; i++) {
            const hb_child *c = &log->children[i];

            if (from >= lost.v[w].b || c->start_us > lost.v[w].b ||
                c->last_us < from)
                continue;
            if (found++ < MAX_PRINTED)
                fprintf(out,
                        "LEADER WITHOUT A MAJORITY: child %d (id %s, term "
                        "%llu) alive from %.3f to %.3f ms while a majority "
                        "of the servers was down from %.3f to %.3f ms\n",
                        (int) c->pid, c->id, c->term, ms(c->start_us),
                        ms(c->last_us), ms(lost.v[w].a), ms(lost.v[w].b));
        }
    }
    free(lost.v);
    return found;
}

/* The share of the time during which at most a minority of the servers
 * counted for nothing (down, frozen or young) that some child was
 * running; *up_s is how long that time was. */
static double quorum_availability(const hb_log *log, const struct flog *f,
                                  double *up_s)
{
    struct spans bad, led = {0}, span = {0};
    long long up, covered;

    *up_s = 0;
    if (majority_out(f, f->ttl * 1000LL + YOUNG_SLACK_US, &bad) != 0)
        return 0;
    for (size_t i = 0; i < log->n; i++) {
        long long a = log->children[i].start_us, b = log->children[i].last_us;

        spans_add(&led, a < f->begin_us ? f->begin_us : a,
                  b > f->end_us ? f->end_us : b);
    }
    spans_merge(&led);
    spans_add(&span, f->begin_us, f->end_us);
    up = spans_len(&span) - spans_overlap(&span, &bad);
    covered = spans_len(&led) - spans_overlap(&led, &bad);
    free(bad.v);
    free(led.v);
    free(span.v);
    *up_s = (double) up / 1e6;
    return up > 0 ? (double) covered / (double) up : 0;
}

int chaos_check(const char *hb_path, const char *fault_path, FILE *out,
                chaos_result *res)
{
    char err[512];
    struct flog f;
    hb_log log;

    memset(res, 0, sizeof *res);
    if (flog_read(fault_path, &f) != 0)
        return -1;
    if (hb_read(hb_path, &log, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(f.ev);
        return -1;
    }
    res->seed = f.seed;
    res->split_brains = count_split_brains(&log, out);
    res->term_violations = count_term_violations(&log, out);
    res->orphans = count_orphans(&log, &f, out);
    res->majority_leaders = count_majority_leaders(&log, &f, out);
    res->servers = f.servers;

    fprintf(out,
            "\nchaos summary: seed %llu, %d %s candidates, %d server%s, ttl "
            "%d ms, %.1f s of faults, %zu children (%zu processes)\n",
            f.seed, f.candidates, f.naive ? "naive" : "`leader run`", f.servers,
            f.servers > 1 ? "s" : "", f.ttl, ms(f.end_us - f.begin_us) / 1000,
            log.n, log.nprocs);
    recovery_table(&log, &f, out, res);
    fprintf(out, "%-16s %7d\n", "total", res->faults);
    fprintf(out, "split brains     %d\n", res->split_brains);
    fprintf(out, "term violations  %d\n", res->term_violations);
    fprintf(out, "orphans          %d\n", res->orphans);
    fprintf(out, "stalls           %d\n", res->stalls);
    adoption_summary(&f, out);
    res->availability = availability(&log, &f);
    fprintf(out, "availability     %.2f %%\n", 100 * res->availability);
    if (f.servers > 1) {
        res->quorum_availability =
            quorum_availability(&log, &f, &res->quorum_up_s);
        fprintf(out, "leaderless with a majority lost  %d children alive\n",
                res->majority_leaders);
        fprintf(out,
                "availability with a quorum up    %.2f %% of %.1f s (at most "
                "%d of %d servers down or young)\n",
                100 * res->quorum_availability, res->quorum_up_s, f.servers / 2,
                f.servers);
    }
    hb_free(&log);
    free(f.ev);
    return 0;
}

int chaos_verdict(const chaos_result *res)
{
    return res->split_brains || res->term_violations || res->orphans ||
                   res->stalls || res->majority_leaders
               ? 1
               : 0;
}
