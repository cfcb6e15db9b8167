/* SPDX-License-Identifier: BSD-3-Clause */
/* failover.c - how fast a new leader takes over, on a private
 * redis-server:
 *   handover: leader_stop() of the leader -> the follower's ELECTED;
 *   failover: kill -9 of the leader's process -> the follower's ELECTED,
 *             and how far that is beyond the moment the key expired;
 * and for both, when an observer (leader_observe) learns of the change.
 * Each on plain TCP and again over TLS (rediss://, verified against the
 * fixture's throwaway CA); then the memory a candidate takes (its
 * connections, buffers and thread), on TCP and on TLS, as the growth of
 * the resident set over 20 candidates of one process.
 * Prints median, p95 and max over the runs. Not a test: figures only.
 *
 * With --quorum: the same handover and failover on one server and on
 * quorums of 3 and 5 independent servers side by side, with what Redis
 * runs for them (commands per acquire and release, and per second for a
 * leader and an idle follower, summed over the servers).
 *
 * With --quorum-acquire: one candidate's uncontended acquire (leader_elect()
 * to ELECTED) and release (leader_stop() until it returns) on a quorum of 5
 * servers, with the Redis commands of an acquire and release: once on
 * connections that stay open, once with a handle that opens its own at
 * every leader_elect(). Then, on the same servers, the command after "--"
 * (bench/peers/redlock.js: the npm package redlock doing the same), run
 * with RUNS TTL_MS and the servers' ports appended; all in one table.
 *
 * Usage: bench-failover [--quorum] [RUNS [TTL_MS [WAIT_MS]]]
 * (default 25 2000 200)
 *        bench-failover --quorum-acquire [RUNS [TTL_MS]] [-- CMD [ARGS...]]
 * (default 1000 1000) */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leader.h"
#include "redis_fixture.h"

/* A moment something happened, for the main thread to wait for. */
struct mark {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    double at; /* ms, CLOCK_MONOTONIC; 0 until it happens */
};

#define MARK_INIT                                                              \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0                 \
    }

static struct mark elected = MARK_INIT;    /* a candidate's ELECTED */
static struct mark new_leader = MARK_INIT; /* observer: CHANGED, a leader */
static struct mark any_change = MARK_INIT; /* observer: any CHANGED */
static const char *tls_ca;                 /* the TLS server's CA, for
                                            * rediss:// URLs */

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void mark_set(struct mark *m)
{
    pthread_mutex_lock(&m->lock);
    m->at = now_ms();
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static void mark_reset(struct mark *m)
{
    pthread_mutex_lock(&m->lock);
    m->at = 0;
    pthread_mutex_unlock(&m->lock);
}

/* Waits up to 30 s for the mark; returns its time (or -1) and resets it. */
static double mark_wait(struct mark *m)
{
    double t = -1;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&m->lock);
    while (m->at == 0)
        if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) != 0)
            break;
    if (m->at != 0)
        t = m->at;
    m->at = 0;
    pthread_mutex_unlock(&m->lock);
    return t;
}

static void on_candidate_event(leader *l, const leader_event *ev, void *ud)
{
    (void) l;
    (void) ud;
    if (ev->type == LEADER_EVENT_ELECTED)
        mark_set(&elected);
}

static void on_observer_event(leader *l, const leader_event *ev, void *ud)
{
    (void) l;
    (void) ud;
    if (ev->type != LEADER_EVENT_CHANGED)
        return;
    mark_set(&any_change);
    if (ev->leader_id != NULL)
        mark_set(&new_leader);
}

static double wait_elected(void)
{
    return mark_wait(&elected);
}

/* The servers an election runs on: one, or a quorum. */
#define MAX_SERVERS 5
struct target {
    int n;
    rfx_server *s[MAX_SERVERS];
    const char *urls[MAX_SERVERS + 1];
};

static void target_of(struct target *t, rfx_server *s)
{
    memset(t, 0, sizeof *t);
    t->n = 1;
    t->s[0] = s;
    t->urls[0] = rfx_url(s);
}

static leader *candidate(const struct target *t, const char *key, long ttl,
                         long wait)
{
    const char *url = t->urls[0];
    leader_options o;
    leader *l;

    leader_options_init(&o);
    if (t->n > 1)
        o.urls = t->urls;
    else
        o.url = url;
    o.key = key;
    o.ttl_ms = ttl;
    o.wait_ms = wait;
    if (strncmp(url, "rediss://", 9) == 0)
        o.tls_ca_cert = tls_ca;
    l = leader_new(&o, NULL, 0);
    if (l == NULL) {
        fprintf(stderr, "leader_new failed\n");
        exit(1);
    }
    leader_on(l, on_candidate_event, NULL);
    return l;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static leader *observer(const struct target *t, const char *key, long ttl,
                        long wait)
{
    leader *o = candidate(t, key, ttl, wait);

    leader_on(o, on_observer_event, NULL);
    leader_observe(o);
    return o;
}

/* Times from leader_stop() to the follower's ELECTED and to an
 * observer's CHANGED naming the new leader. */
static void handover_once(const struct target *t, const char *key, long ttl,
                          long wait, double *elect, double *seen)
{
    leader *obs = observer(t, key, ttl, wait);
    leader *a = candidate(t, key, ttl, wait);
    leader *b = candidate(t, key, ttl, wait);
    double t0;

    leader_elect(a);
    if (wait_elected() < 0)
        exit(1);
    leader_elect(b);
    sleep_ms(50);
    mark_reset(&new_leader);
    t0 = now_ms();
    leader_stop(a);
    *elect = wait_elected() - t0;
    *seen = mark_wait(&new_leader) - t0;
    leader_free(a);
    leader_free(b);
    leader_free(obs);
}

/* A leader in a child process; returns its pid once it leads. */
static pid_t child_leader(const struct target *t, const char *key, long ttl)
{
    int fds[2];
    pid_t pid;
    char b;

    if (pipe(fds) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        leader *l = candidate(t, key, ttl, 100);
        leader_elect(l);
        while (!leader_has_lease(l))
            sleep_ms(1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    if (read(fds[0], &b, 1) != 1)
        exit(1);
    close(fds[0]);
    close(fds[1]);
    return pid;
}

/* Times from kill -9 of the leader to the follower's ELECTED, and how far
 * beyond the key's expiry the follower was elected and an observer saw the
 * leader gone. */
/* How long until the key no longer holds on a majority of t's servers
 * (on one server: its PTTL), in ms. */
static double majority_expiry(const struct target *t, const char *key)
{
    double left[MAX_SERVERS];

    for (int i = 0; i < t->n; i++) {
        char *pttl = rfx_command(t->s[i], "PTTL %s", key);
        left[i] = pttl != NULL ? atof(pttl) : 0;
        free(pttl);
    }
    /* The (n - q + 1)-th smallest: once it passes, fewer than q hold. */
    for (int i = 1; i < t->n; i++)
        for (int j = i; j > 0 && left[j - 1] > left[j]; j--) {
            double x = left[j];
            left[j] = left[j - 1];
            left[j - 1] = x;
        }
    return left[t->n - (t->n / 2 + 1)];
}

static void failover_once(const struct target *t, const char *key, long ttl,
                          long wait, double *total, double *beyond,
                          double *seen)
{
    pid_t pid = child_leader(t, key, ttl);
    leader *obs = observer(t, key, ttl, wait);
    leader *b = candidate(t, key, ttl, wait);
    double killed, expiry, left;
    int status;

    leader_elect(b);
    sleep_ms(50);
    mark_reset(&any_change);
    left = majority_expiry(t, leader_key(b));
    killed = now_ms();
    kill(pid, SIGKILL);
    expiry = killed + left;
    waitpid(pid, &status, 0);
    *total = wait_elected() - killed;
    *beyond = *total + killed - expiry;
    /* The observer learns of the crash when it sees the key gone, or the
     * follower elected if that came first. */
    *seen = mark_wait(&any_change) - expiry;
    leader_free(b);
    leader_free(obs);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t) n, sizeof *v, cmp);
    printf("%-34s median %8.2f ms   p95 %8.2f ms   max %8.2f ms  (n=%d)\n",
           what, v[n / 2], v[(n * 95 + 99) / 100 - 1], v[n - 1], n);
}

/* Resident set size of this process, in KiB. */
static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kib;
}

#define MEM_CANDIDATES 20

/* KiB per leading candidate (each a handle with a client of its own: a
 * thread, a command and a notification connection), measured in a child
 * so that nothing of earlier runs counts. */
static double memory_per_candidate(rfx_server *s, long ttl)
{
    struct target t;
    int fds[2];
    double kib = -1;
    pid_t pid;

    target_of(&t, s);
    if (pipe(fds) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        leader *l[MEM_CANDIDATES];
        char key[32];
        long before, after;
        int held;

        /* Once first, so that what every candidate shares (OpenSSL's
         * tables, the first thread's arena) is not counted per one. */
        l[0] = candidate(&t, "mem-warm", ttl, 200);
        leader_elect(l[0]);
        while (!leader_has_lease(l[0]))
            sleep_ms(1);
        leader_free(l[0]);
        before = rss_kib();
        for (int i = 0; i < MEM_CANDIDATES; i++) {
            snprintf(key, sizeof key, "mem-%d", i);
            l[i] = candidate(&t, key, ttl, 200);
            leader_elect(l[i]);
        }
        do {
            sleep_ms(5);
            held = 0;
            for (int i = 0; i < MEM_CANDIDATES; i++)
                held += leader_has_lease(l[i]);
        } while (held < MEM_CANDIDATES);
        sleep_ms(2 * ttl); /* a few renewals */
        after = rss_kib();
        kib = (double) (after - before) / MEM_CANDIDATES;
        if (write(fds[1], &kib, sizeof kib) != (ssize_t) sizeof kib)
            _exit(1);
        _exit(0); /* the keys expire */
    }
    close(fds[1]);
    if (read(fds[0], &kib, sizeof kib) != (ssize_t) sizeof kib)
        kib = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return kib;
}

/* Handover and failover on t: medians and p95s into fig (handover,
 * observer, failover, beyond expiry, observer beyond expiry). */
static void measure_target(const struct target *t, int runs, long ttl,
                           long wait, double *v[5])
{
    char key[32];

    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "handover-%d", i);
        handover_once(t, key, ttl, wait, &v[0][i], &v[1][i]);
    }
    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "failover-%d", i);
        failover_once(t, key, ttl, wait, &v[2][i], &v[3][i], &v[4][i]);
    }
}

/* Handover and failover on s, reported under title. */
static void measure(rfx_server *s, const char *title, int runs, long ttl,
                    long wait)
{
    struct target t;
    double *v[5];

    target_of(&t, s);
    for (int k = 0; k < 5; k++)
        if ((v[k] = calloc((size_t) runs, sizeof(double))) == NULL)
            exit(1);
    printf("%s\n", title);
    measure_target(&t, runs, ttl, wait, v);
    report("handover after leader_stop", v[0], runs);
    report("  an observer sees the new leader", v[1], runs);
    report("failover after kill -9", v[2], runs);
    report("  elected, beyond the key's expiry", v[3], runs);
    report("  observer sees it, beyond expiry", v[4], runs);
    for (int k = 0; k < 5; k++)
        free(v[k]);
}

/* ---- quorum mode, side by side with one server ---- */

/* Commands every server of t has run since its last CONFIG RESETSTAT:
 * the calls of INFO commandstats, those that scripts run included. Only
 * the field right after the command's name: rejected_calls= and
 * failed_calls= further on are not commands of their own. */
static long commands_run(const struct target *t)
{
    long calls = 0;

    for (int i = 0; i < t->n; i++) {
        char *info = rfx_command(t->s[i], "INFO commandstats");
        for (const char *p = info; p != NULL && (p = strstr(p, ":calls="));
             p += 7)
            calls += atol(p + 7);
        free(info);
    }
    return calls;
}

static void reset_stats(const struct target *t)
{
    for (int i = 0; i < t->n; i++)
        free(rfx_command(t->s[i], "CONFIG RESETSTAT"));
}

#define CYCLES 20

/* Commands per acquire and release by one candidate alone, and per
 * second for one leader and one idle follower, each over every server.
 * The count's own RESETSTAT is taken out: Redis counts it once it has
 * run, after the reset, and an INFO does not count itself in its reply. */
static void redis_load(const struct target *t, long ttl, double *per_cycle,
                       double *per_second)
{
    leader *l = candidate(t, "load", ttl, 1000);
    leader *f;

    /* The first election waits out the servers' youth: not counted. */
    leader_elect(l);
    if (wait_elected() < 0)
        exit(1);
    leader_stop(l);
    sleep_ms(100);
    reset_stats(t);
    for (int i = 0; i < CYCLES; i++) {
        leader_elect(l);
        if (wait_elected() < 0)
            exit(1);
        leader_stop(l);
        while (leader_has_lease(l))
            sleep_ms(1);
        sleep_ms(20);
    }
    *per_cycle = (double) (commands_run(t) - t->n) / CYCLES;
    leader_elect(l);
    if (wait_elected() < 0)
        exit(1);
    f = candidate(t, "load", ttl, 1000);
    leader_elect(f);
    sleep_ms(ttl);
    reset_stats(t);
    sleep_ms(3000);
    *per_second = (double) (commands_run(t) - t->n) / 3.0;
    leader_free(f);
    leader_free(l);
}

static double median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof *v, cmp);
    return v[n / 2];
}

static double p95(double *v, int n)
{
    qsort(v, (size_t) n, sizeof *v, cmp);
    return v[(n * 95 + 99) / 100 - 1];
}

static void wait_old(const struct target *t, long ttl);

static int quorum_main(int runs, long ttl, long wait)
{
    static const int sizes[] = {1, 3, 5};

    printf("libleader %s, quorum mode, ttl %ld ms, wait %ld ms, %d runs "
           "each, ms\n",
           leader_version(), ttl, wait, runs);
    printf("%-8s %22s %22s %22s %11s %11s\n", "servers", "handover median/p95",
           "failover median/p95", "beyond expiry med/p95", "cmds/cycle",
           "cmds/s");
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        struct target t;
        double *v[5], cycle, second;

        memset(&t, 0, sizeof t);
        t.n = sizes[k];
        for (int i = 0; i < t.n; i++)
            if ((t.s[i] = rfx_start(NULL)) == NULL)
                return 1;
            else
                t.urls[i] = rfx_url(t.s[i]);
        for (int i = 0; i < 5; i++)
            if ((v[i] = calloc((size_t) runs, sizeof(double))) == NULL)
                return 1;
        /* Counted on servers past their youth: each cycle's handle
         * connects anew, and would find young servers waiting. */
        wait_old(&t, ttl);
        redis_load(&t, ttl, &cycle, &second);
        measure_target(&t, runs, ttl, wait, v);
        printf("%-8d %10.2f / %-9.2f %10.2f / %-9.2f %10.2f / %-9.2f %11.1f "
               "%11.1f\n",
               t.n, median(v[0], runs), p95(v[0], runs), median(v[2], runs),
               p95(v[2], runs), median(v[3], runs), p95(v[3], runs), cycle,
               second);
        fflush(stdout);
        for (int i = 0; i < 5; i++)
            free(v[i]);
        for (int i = 0; i < t.n; i++)
            rfx_free(t.s[i]);
    }
    printf("cmds/cycle: Redis commands (scripts' own calls included) for one "
           "acquire and release, over every server;\ncmds/s: for one leader "
           "and one idle follower, over every server\n");
    return 0;
}

/* ---- uncontended acquire and release, next to node-redlock ---- */

#define ACQUIRE_SERVERS 5

/* Candidate l alone on t, runs times: leader_elect() to its ELECTED (acq)
 * and leader_stop() until it returns (rel), ms. Returns the Redis commands
 * per acquire and release, over every server. */
static double acquire_release(const struct target *t, leader *l, int runs,
                              double *acq, double *rel)
{
    long base, overhead, before;
    double t0;

    /* The first election waits out the servers' youth (docs/protocol.md,
     * "Servers that restarted") and loads the scripts: not counted. */
    leader_elect(l);
    if (wait_elected() < 0)
        exit(1);
    leader_stop(l);
    sleep_ms(20);
    /* What the counting itself runs (an INFO per server), measured. */
    base = commands_run(t);
    overhead = commands_run(t) - base;
    before = commands_run(t);
    for (int i = 0; i < runs; i++) {
        t0 = now_ms();
        leader_elect(l);
        acq[i] = wait_elected() - t0;
        if (acq[i] < 0)
            exit(1);
        /* As the work a leadership is taken for would; it also lets the
         * commits that came after the majority's arrive. */
        sleep_ms(1);
        t0 = now_ms();
        leader_stop(l);
        rel[i] = now_ms() - t0;
        sleep_ms(1); /* the same for the release */
    }
    sleep_ms(20); /* the last release's slower servers */
    return (double) (commands_run(t) - before - overhead) / runs;
}

/* Figures of one kind of candidate: medians and p95s of acquire, release
 * and their sum, and commands per acquire and release. */
struct acquire_fig {
    double m[6];
    double cmds;
};

static void acquire_figures(const struct target *t, leader *l, int runs,
                            struct acquire_fig *f)
{
    double *v[3];

    for (int k = 0; k < 3; k++)
        if ((v[k] = calloc((size_t) runs, sizeof(double))) == NULL)
            exit(1);
    f->cmds = acquire_release(t, l, runs, v[0], v[1]);
    for (int i = 0; i < runs; i++)
        v[2][i] = v[0][i] + v[1][i];
    for (int k = 0; k < 3; k++) {
        f->m[2 * k] = median(v[k], runs);
        f->m[2 * k + 1] = p95(v[k], runs);
        free(v[k]);
    }
}

/* Waits until no new connection finds a server of t young: a client reads
 * a server's uptime in whole seconds s and takes it as up since at most
 * s - 1 s, young until that plus ttl and the drift margin
 * (docs/protocol.md, "Servers that restarted"). Servers in use are older;
 * a handle that connects at every leader_elect() would otherwise wait for
 * them in its first seconds. */
static void wait_old(const struct target *t, long ttl)
{
    long need = (ttl + 999) / 1000 + 2;

    for (int i = 0; i < t->n; i++)
        for (;;) {
            char *info = rfx_command(t->s[i], "INFO server");
            const char *up =
                info != NULL ? strstr(info, "uptime_in_seconds:") : NULL;
            long s = up != NULL ? atol(up + 18) : -1;

            free(info);
            if (s < 0)
                exit(1);
            if (s >= need)
                break;
            sleep_ms(100);
        }
}

/* A candidate on a client whose connections stay open between its
 * campaigns, as redlock's clients do: a handle that stops closes its
 * client's connections once no other handle of the client is active, so
 * an observer of a key nobody uses stays active beside it. Its wait is
 * long, so that it reads nothing while the candidate runs. */
static leader *open_candidate(const struct target *t, long ttl,
                              leader_client **client, leader **keeper)
{
    leader_client_options co;
    leader_options o;
    leader *l;

    leader_client_options_init(&co);
    co.urls = t->urls;
    if ((*client = leader_client_new(&co, NULL, 0)) == NULL)
        exit(1);
    leader_options_init(&o);
    o.key = "bench-keep-open";
    o.ttl_ms = 60000;
    o.wait_ms = 60000;
    if ((*keeper = leader_client_add(*client, &o, NULL, 0)) == NULL ||
        leader_observe(*keeper) != 0)
        exit(1);
    o.key = "bench-acquire-open";
    o.ttl_ms = ttl;
    o.wait_ms = 1000;
    if ((l = leader_client_add(*client, &o, NULL, 0)) == NULL)
        exit(1);
    leader_on(l, on_candidate_event, NULL);
    return l;
}

/* The value of " name=" in line, or NULL. */
static const char *field(const char *line, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = line; (p = strchr(p, ' ')) != NULL; p++)
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=')
            return p + 2 + n;
    return NULL;
}

/* A peer's result: the line bench/peers/redlock.js prints. */
struct peer_result {
    char name[64];
    int failed;
    double acq[2], rel[2], cyc[2]; /* median, p95 */
    double cmds;
};

static int parse_peer(const char *line, struct peer_result *r)
{
    const char *v[6] = {field(line, "version"), field(line, "failed"),
                        field(line, "acquire"), field(line, "release"),
                        field(line, "cycle"),   field(line, "cmds")};
    char version[32];

    for (int i = 0; i < 6; i++)
        if (v[i] == NULL)
            return -1;
    if (sscanf(v[0], "%31s", version) != 1 ||
        sscanf(v[1], "%d", &r->failed) != 1 ||
        sscanf(v[2], "%lf/%lf", &r->acq[0], &r->acq[1]) != 2 ||
        sscanf(v[3], "%lf/%lf", &r->rel[0], &r->rel[1]) != 2 ||
        sscanf(v[4], "%lf/%lf", &r->cyc[0], &r->cyc[1]) != 2 ||
        sscanf(v[5], "%lf", &r->cmds) != 1)
        return -1;
    snprintf(r->name, sizeof r->name, "node-redlock %s (%d servers)", version,
             ACQUIRE_SERVERS);
    return 0;
}

/* Runs cmd with RUNS TTL_MS and t's ports appended, and reads its result
 * line (it starts with "node-redlock "). Its stderr passes through. */
static int run_peer(char **cmd, int ncmd, const struct target *t, int runs,
                    long ttl, struct peer_result *r)
{
    char nums[2 + MAX_SERVERS][24], buf[4096], rest[512], *line;
    char *argv[64];
    size_t len = 0;
    ssize_t got;
    int fds[2], status, argc = 0;
    pid_t pid;

    if (ncmd + 2 + t->n >= (int) (sizeof argv / sizeof *argv))
        return -1;
    for (int i = 0; i < ncmd; i++)
        argv[argc++] = cmd[i];
    snprintf(nums[0], sizeof nums[0], "%d", runs);
    snprintf(nums[1], sizeof nums[1], "%ld", ttl);
    for (int i = 0; i < t->n; i++)
        snprintf(nums[2 + i], sizeof nums[2 + i], "%d", rfx_port(t->s[i]));
    for (int i = 0; i < 2 + t->n; i++)
        argv[argc++] = nums[i];
    argv[argc] = NULL;
    fflush(stdout);
    if (pipe(fds) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "bench-failover: cannot run %s\n", argv[0]);
        _exit(127);
    }
    close(fds[1]);
    /* To its end, so that it never blocks on a full pipe; what does not
     * fit in buf is not needed (the result is one short line). */
    for (;;) {
        if (len < sizeof buf - 1)
            got = read(fds[0], buf + len, sizeof buf - 1 - len);
        else
            got = read(fds[0], rest, sizeof rest);
        if (got == 0 || (got < 0 && errno != EINTR))
            break;
        if (got > 0 && len < sizeof buf - 1)
            len += (size_t) got;
    }
    buf[len] = '\0';
    close(fds[0]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-failover: %s failed\n", argv[0]);
        return -1;
    }
    line = strstr(buf, "node-redlock ");
    if (line == NULL || parse_peer(line, r) != 0) {
        fprintf(stderr, "bench-failover: no result from %s: %s\n", argv[0],
                buf);
        return -1;
    }
    return 0;
}

static void acquire_row(const char *name, const double m[6], double cmds,
                        const char *gives)
{
    printf("%-42s %6.3f %6.3f  %6.3f %6.3f  %6.3f %6.3f  %6.1f   %s\n", name,
           m[0], m[1], m[2], m[3], m[4], m[5], cmds, gives);
}

static int quorum_acquire_main(int runs, long ttl, char **cmd, int ncmd)
{
    struct acquire_fig own, kept;
    struct peer_result peer;
    struct target t;
    leader_client *client;
    leader *l, *keeper;
    int rc = 0;

    memset(&t, 0, sizeof t);
    t.n = ACQUIRE_SERVERS;
    for (int i = 0; i < t.n; i++)
        if ((t.s[i] = rfx_start(NULL)) == NULL)
            return 1;
        else
            t.urls[i] = rfx_url(t.s[i]);
    l = open_candidate(&t, ttl, &client, &keeper);
    acquire_figures(&t, l, runs, &kept);
    leader_free(l);
    leader_free(keeper);
    leader_client_free(client);
    /* A handle of its own: leader_elect() opens its connections to every
     * server, leader_stop() closes them. */
    wait_old(&t, ttl);
    l = candidate(&t, "bench-acquire", ttl, 1000);
    acquire_figures(&t, l, runs, &own);
    leader_free(l);
    if (ncmd > 0 && run_peer(cmd, ncmd, &t, runs, ttl, &peer) != 0)
        rc = 1;

    printf("uncontended acquire and release on the same %d servers, one "
           "after the other,\n%d rounds each, ttl %ld ms, libleader %s; ms\n",
           t.n, runs, ttl, leader_version());
    printf("%-42s %13s  %13s  %13s  %6s\n", "", "acquire", "release",
           "acq+release", "Redis");
    printf("%-42s %6s %6s  %6s %6s  %6s %6s  %6s   %s\n", "", "median", "p95",
           "median", "p95", "median", "p95", "cmds", "gives");
    acquire_row("libleader quorum (5 servers)", kept.m, kept.cmds,
                "a term that only grows");
    acquire_row("libleader quorum, connecting (5 servers)", own.m, own.cmds,
                "the same");
    if (ncmd > 0 && rc == 0) {
        double pm[6] = {peer.acq[0], peer.acq[1], peer.rel[0],
                        peer.rel[1], peer.cyc[0], peer.cyc[1]};
        acquire_row(peer.name, pm, peer.cmds, "no fencing token");
        if (peer.failed > 0)
            printf("node-redlock: %d of %d acquires failed (left out of the "
                   "times, counted in the commands)\n",
                   peer.failed, runs);
    }
    printf(
        "connecting: a handle of its own, whose leader_elect() opens its "
        "connections (one to each\nserver and one to each for notifications) "
        "and whose leader_stop() closes them; the\nother rows' "
        "connections were open before the first acquire. Redis cmds: "
        "per acquire and release,\nover every server, a script's own "
        "call and each redis.call in it included\n");
    for (int i = 0; i < t.n; i++)
        rfx_free(t.s[i]);
    return rc;
}

int main(int argc, char **argv)
{
    int quorum = argc > 1 && strcmp(argv[1], "--quorum") == 0;
    int acquire = argc > 1 && strcmp(argv[1], "--quorum-acquire") == 0;
    int runs, at = quorum ? 2 : 1;
    long ttl, wait;
    rfx_options tls_opts = {.tls = RFX_TLS};
    rfx_server *s, *t;
    double tcp_kib, tls_kib;

    if (acquire) {
        int dash = 2;

        while (dash < argc && strcmp(argv[dash], "--") != 0)
            dash++;
        runs = dash > 2 ? atoi(argv[2]) : 1000;
        ttl = dash > 3 ? atol(argv[3]) : 1000;
        if (runs < 1 || ttl < 10 || dash > 4 || rfx_server_path() == NULL) {
            fprintf(stderr, "usage: bench-failover --quorum-acquire [RUNS "
                            "[TTL]] [-- CMD [ARGS...]] (needs "
                            "redis-server)\n");
            return 2;
        }
        return quorum_acquire_main(runs, ttl, argv + dash + 1,
                                   dash < argc ? argc - dash - 1 : 0);
    }
    runs = argc > at ? atoi(argv[at]) : 25;
    ttl = argc > at + 1 ? atol(argv[at + 1]) : 2000;
    wait = argc > at + 2 ? atol(argv[at + 2]) : 200;
    if (runs < 1 || ttl < 10 || wait < 0 || rfx_server_path() == NULL) {
        fprintf(stderr, "usage: bench-failover [--quorum] [RUNS [TTL [WAIT]]] "
                        "(needs redis-server)\n");
        return 2;
    }
    if (quorum)
        return quorum_main(runs, ttl, wait);
    s = rfx_start(NULL);
    t = rfx_start(&tls_opts);
    if (s == NULL || t == NULL)
        return 1;
    tls_ca = rfx_tls_file(t, "ca.crt");
    printf("libleader %s, ttl %ld ms, wait %ld ms, %d runs each\n",
           leader_version(), ttl, wait, runs);
    measure(s, "plain TCP (redis://):", runs, ttl, wait);
    measure(t, "TLS (rediss://, certificate verified):", runs, ttl, wait);
    tcp_kib = memory_per_candidate(s, ttl);
    tls_kib = memory_per_candidate(t, ttl);
    printf("memory per leading candidate (its own client: thread, command "
           "and notification connections)\n");
    printf("%-34s %8.1f KiB\n", "  plain TCP", tcp_kib);
    printf("%-34s %8.1f KiB  (TLS adds %.1f KiB)\n", "  TLS", tls_kib,
           tls_kib - tcp_kib);
    rfx_free(t);
    rfx_free(s);
    return 0;
}
