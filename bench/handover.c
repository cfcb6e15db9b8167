/* SPDX-License-Identifier: BSD-3-Clause */
/* handover.c - bench-handover: how long `leader run` takes to hand over,
 * from the moment the leader's child exits by itself to the moment the
 * next leader's child starts, on a private redis-server. One election,
 * two `leader run` processes at a time: the leader, and a follower started
 * for the round. Once the follower listens on the election's channel
 * (PUBSUB NUMSUB), the leader's child is told to exit (SIGUSR1) at a
 * random moment within one wait; the follower's child starts; the old
 * `leader run` exits and the follower is the leader of the next round.
 * One round at a time, so that nothing else runs on the machine's cores.
 *
 * The children stamp CLOCK_MONOTONIC themselves (bench-stamp and
 * bench-peer --child speak the same lines), so the figure includes what
 * the child does before its stamp: for bench-stamp, built static, that is
 * next to nothing, and the figure is `leader run`'s own.
 *
 * Usage: bench-handover [--quick] [-n RUNS] [--ttl MS] [--wait MS]
 *                       [--out DIR] LEADER -- CHILD [ARG...]
 *                       [-- CHILD [ARG...]]...
 * Each CHILD gets RUNS rounds (default 200, --quick 50) after 3 that are
 * not counted, and a line of median, p95, p99 and max. With --out, the
 * samples go to DIR/run-handover-K.dat (K counts the children from 1;
 * sorted, with their cumulative fraction, for plots), and the goal (median
 * <= 2 ms, p95 <= 5 ms, judged on the first child) to
 * DIR/run-handover-goal.md as a row of docs/benchmarks.md's table. Not a
 * test: figures only. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_fixture.h"

#define WARMUP   3
#define MAXKINDS 8

static struct {
    const char *leader, *out;
    long runs, ttl, wait;
    char **child[MAXKINDS]; /* NULL-terminated argv each */
    int kinds;
} cfg = {NULL, NULL, 0, 2000, 200, {NULL}, 0};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench-handover: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* One `leader run`, and what its child said (ms; 0: not yet). */
struct cand {
    pid_t pid;
    int out; /* our end of its stdout, -1 once closed */
    double started, exiting;
    pid_t child;
    char buf[512];
    size_t len;
};

static struct cand *cands[2];

static void cand_start(struct cand *c, const char *url, const char *key,
                       char **child)
{
    char num[2][24];
    char *argv[64];
    int fds[2], a = 0;

    memset(c, 0, sizeof *c);
    snprintf(num[0], sizeof num[0], "%ld", cfg.ttl);
    snprintf(num[1], sizeof num[1], "%ld", cfg.wait);
    argv[a++] = (char *) cfg.leader;
    argv[a++] = "run";
    argv[a++] = "-q";
    argv[a++] = "--redis";
    argv[a++] = (char *) url;
    argv[a++] = "--key";
    argv[a++] = (char *) key;
    argv[a++] = "--ttl";
    argv[a++] = num[0];
    argv[a++] = "--wait";
    argv[a++] = num[1];
    argv[a++] = "--";
    for (int i = 0; child[i] != NULL && a < 63; i++)
        argv[a++] = child[i];
    argv[a] = NULL;
    if (pipe2(fds, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    c->pid = fork();
    if (c->pid < 0)
        die("fork: %s", strerror(errno));
    if (c->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        setpgid(0, 0); /* its own group: cleanup reaches its children */
        execv(argv[0], argv);
        fprintf(stderr, "bench-handover: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    c->out = fds[0];
}

static void parse_line(struct cand *c, const char *line)
{
    long long ns;
    long pid;

    if (sscanf(line, "started 0 %lld %ld", &ns, &pid) == 2 && c->started == 0) {
        c->started = ns / 1e6;
        c->child = (pid_t) pid;
    } else if (sscanf(line, "exiting 0 %lld", &ns) == 1 && c->exiting == 0) {
        c->exiting = ns / 1e6;
    }
}

static void cand_read(struct cand *c)
{
    ssize_t r = read(c->out, c->buf + c->len, sizeof c->buf - 1 - c->len);
    char *line, *nl;

    if (r <= 0) {
        close(c->out);
        c->out = -1;
        return;
    }
    c->len += (size_t) r;
    c->buf[c->len] = '\0';
    line = c->buf;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        parse_line(c, line);
        line = nl + 1;
    }
    c->len -= (size_t) (line - c->buf);
    memmove(c->buf, line, c->len);
    if (c->len == sizeof c->buf - 1)
        c->len = 0; /* a line too long to be ours */
}

/* Waits up to ms milliseconds for what the candidates say, and reads it. */
static void pump_once(double ms)
{
    struct pollfd fds[2];
    struct cand *who[2];
    int n = 0;

    for (int k = 0; k < 2; k++)
        if (cands[k] != NULL && cands[k]->out >= 0) {
            fds[n].fd = cands[k]->out;
            fds[n].events = POLLIN;
            who[n++] = cands[k];
        }
    if (poll(fds, (nfds_t) n, ms > 0 ? (int) (ms + 0.999) : 0) <= 0)
        return;
    for (int k = 0; k < n; k++)
        if (fds[k].revents != 0)
            cand_read(who[k]);
}

/* Reads what the candidates say for ms milliseconds. */
static void pump(double ms)
{
    double end = now_ms() + ms;

    while (now_ms() < end)
        pump_once(end - now_ms());
}

/* Pumps until *when is set or timeout ms pass; returns *when != 0. */
static int pump_until(const double *when, double timeout)
{
    double end = now_ms() + timeout;

    while (*when == 0 && now_ms() < end)
        pump_once(end - now_ms());
    return *when != 0;
}

static void cand_end(struct cand *c)
{
    if (c->pid > 0) {
        if (c->child > 0)
            kill(c->child, SIGKILL);
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
    if (c->out >= 0)
        close(c->out);
    c->out = -1;
}

static void end_all(void)
{
    for (int k = 0; k < 2; k++)
        if (cands[k] != NULL)
            cand_end(cands[k]);
}

/* Subscribers of the election's channel: the leader's and the
 * follower's. */
static long listeners(redisContext *rc, const char *channel)
{
    redisReply *rep = redisCommand(rc, "PUBSUB NUMSUB %s", channel);
    long n = -1;

    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER)
        n = (long) rep->element[1]->integer;
    freeReplyObject(rep);
    return n;
}

/* The election's notification channel, named as the candidates name it;
 * the SHA-1 is asked of Redis, so this program needs none of its own. */
static void channel_of(redisContext *rc, const char *key, char *out, size_t len)
{
    redisReply *rep =
        redisCommand(rc, "EVAL %s 0 %s", "return redis.sha1hex(ARGV[1])", key);

    if (rep == NULL || rep->type != REDIS_REPLY_STRING)
        die("cannot hash the key: %s", rep != NULL ? rep->str : rc->errstr);
    snprintf(out, len, "leader:%s:events", rep->str);
    freeReplyObject(rep);
}

static double jitter(double range)
{
    return range * (rand() / (RAND_MAX + 1.0));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted v. */
static double pct(const double *v, long n, int p)
{
    long i = (n * p + 99) / 100 - 1;

    return v[i < 0 ? 0 : i];
}

/* RUNS handovers (after the warm-up ones) with child; fills v, returns
 * how many were measured. */
static long measure(rfx_server *s, redisContext *rc, int kind, double *v,
                    long *lost)
{
    struct cand pair[2], *lead = &pair[0], *next = &pair[1];
    char key[64], channel[128];
    long n = 0;

    snprintf(key, sizeof key, "handover-%d-%ld", kind, (long) getpid());
    channel_of(rc, key, channel, sizeof channel);
    cands[0] = lead;
    cands[1] = NULL;
    cand_start(lead, rfx_url(s), key, cfg.child[kind]);
    if (!pump_until(&lead->started, 10000.0 + cfg.ttl))
        die("the first leader's child did not start");
    for (long round = 0; round < cfg.runs + WARMUP; round++) {
        struct cand *t;
        double until = now_ms() + 10000;

        cands[1] = next;
        cand_start(next, rfx_url(s), key, cfg.child[kind]);
        while (listeners(rc, channel) < 2 && now_ms() < until)
            pump(1);
        /* At any phase of the follower's tries. */
        pump(10 + jitter(cfg.wait));
        kill(lead->child, SIGUSR1);
        if (!pump_until(&next->started, 5000.0 + cfg.ttl + cfg.wait) ||
            !pump_until(&lead->exiting, 1000)) {
            (*lost)++;
            fprintf(stderr, "bench-handover: round %ld: no handover\n", round);
        } else if (round >= WARMUP) {
            v[n++] = next->started - lead->exiting;
        }
        /* The old `leader run` has released and exits. */
        while (waitpid(lead->pid, NULL, 0) == -1 && errno == EINTR)
            ;
        lead->pid = 0;
        cand_end(lead);
        t = lead;
        lead = next;
        next = t;
        cands[0] = lead;
        cands[1] = NULL;
        if (lead->started == 0)
            die("no leader to go on with");
    }
    cand_end(lead);
    cands[0] = NULL;
    return n;
}

static void write_samples(int kind, const double *v, long n)
{
    char path[4096];
    FILE *f;

    if (cfg.out == NULL)
        return;
    snprintf(path, sizeof path, "%s/run-handover-%d.dat", cfg.out, kind + 1);
    if ((f = fopen(path, "w")) == NULL)
        die("%s: %s", path, strerror(errno));
    for (long i = 0; i < n; i++)
        fprintf(f, "%.4f %.4f\n", v[i], (i + 1.0) / n);
    fclose(f);
}

static void write_goal(const double *v, long n, double median)
{
    char path[4096];
    FILE *f;
    double p95 = n > 0 ? pct(v, n, 95) : 0;

    if (cfg.out == NULL)
        return;
    snprintf(path, sizeof path, "%s/run-handover-goal.md", cfg.out);
    if ((f = fopen(path, "w")) == NULL)
        die("%s: %s", path, strerror(errno));
    fprintf(f,
            "| `leader run` handover, ttl %ld ms, wait %ld ms: median <= 2 "
            "ms, p95 <= 5 ms (bench-handover, static child) | %.2f ms, p95 "
            "%.2f ms (n = %ld) | %s |\n",
            cfg.ttl, cfg.wait, median, p95, n,
            n > 0 && median <= 2 && p95 <= 5 ? "yes" : "no");
    fclose(f);
}

static void label_of(int kind, char *buf, size_t len)
{
    char **argv = cfg.child[kind];
    char *copy = strdup(argv[0]);
    size_t at;

    if (copy == NULL)
        die("out of memory");
    at = (size_t) snprintf(buf, len, "%s", basename(copy));
    free(copy);
    for (int i = 1; argv[i] != NULL && at < len; i++)
        at += (size_t) snprintf(buf + at, len - at, " %s", argv[i]);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-handover [--quick] [-n RUNS] [--ttl MS] "
                    "[--wait MS] [--out DIR] LEADER -- CHILD [ARG...] "
                    "[-- CHILD [ARG...]]...\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int quick = 0, a = 1;

    for (; a < argc && argv[a][0] == '-'; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;

        if (strcmp(argv[a], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[a], "-n") == 0 && v != NULL)
            cfg.runs = atol(argv[++a]);
        else if (strcmp(argv[a], "--ttl") == 0 && v != NULL)
            cfg.ttl = atol(argv[++a]);
        else if (strcmp(argv[a], "--wait") == 0 && v != NULL)
            cfg.wait = atol(argv[++a]);
        else if (strcmp(argv[a], "--out") == 0 && v != NULL)
            cfg.out = argv[++a];
        else
            usage();
    }
    if (a >= argc)
        usage();
    cfg.leader = argv[a++];
    while (a < argc && strcmp(argv[a], "--") == 0) {
        argv[a++] = NULL; /* ends the previous child's argv */
        if (a >= argc || strcmp(argv[a], "--") == 0 || cfg.kinds == MAXKINDS)
            usage();
        cfg.child[cfg.kinds++] = &argv[a];
        while (a < argc && strcmp(argv[a], "--") != 0)
            a++;
    }
    if (a != argc || cfg.kinds == 0 || cfg.ttl <= 0 || cfg.wait <= 0)
        usage();
    if (cfg.runs <= 0)
        cfg.runs = quick ? 50 : 200;
}

static void on_signal(int sig)
{
    end_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    double *v;
    rfx_server *s;
    redisContext *rc;

    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(end_all);
    srand((unsigned) getpid());
    if ((v = calloc((size_t) cfg.runs, sizeof *v)) == NULL)
        die("out of memory");
    if ((s = rfx_start(NULL)) == NULL || (rc = rfx_connect(s)) == NULL)
        die("cannot start redis-server");
    printf("leader run handover, ttl %ld ms, wait %ld ms, %ld runs per "
           "child (after %d not counted)\n",
           cfg.ttl, cfg.wait, cfg.runs, WARMUP);
    printf("ms from the old child's exit to the new child's start\n");
    printf("%-40s %8s %8s %8s %8s %5s\n", "child", "median", "p95", "p99",
           "max", "n");
    fflush(stdout);
    for (int k = 0; k < cfg.kinds; k++) {
        char label[256];
        long lost = 0, n = measure(s, rc, k, v, &lost);

        double median;

        label_of(k, label, sizeof label);
        qsort(v, (size_t) n, sizeof *v, cmp_double);
        median = n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        write_samples(k, v, n);
        if (k == 0)
            write_goal(v, n, median);
        if (n == 0) {
            printf("%-40s %8s %8s %8s %8s %5d\n", label, "-", "-", "-", "-", 0);
            continue;
        }
        printf("%-40s %8.2f %8.2f %8.2f %8.2f %5ld", label, median,
               pct(v, n, 95), pct(v, n, 99), v[n - 1], n);
        if (lost > 0)
            printf("  (%ld rounds without a handover)", lost);
        printf("\n");
        fflush(stdout);
    }
    redisFree(rc);
    rfx_free(s);
    free(v);
    return 0;
}
