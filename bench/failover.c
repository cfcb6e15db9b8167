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
 * Usage: bench-failover [RUNS [TTL_MS [WAIT_MS]]]  (default 25 2000 200) */
#define _POSIX_C_SOURCE 200809L

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

static leader *candidate(const char *url, const char *key, long ttl, long wait)
{
    leader_options o;
    leader *l;

    leader_options_init(&o);
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

static leader *observer(const char *url, const char *key, long ttl, long wait)
{
    leader *o = candidate(url, key, ttl, wait);

    leader_on(o, on_observer_event, NULL);
    leader_observe(o);
    return o;
}

/* Times from leader_stop() to the follower's ELECTED and to an
 * observer's CHANGED naming the new leader. */
static void handover_once(const char *url, const char *key, long ttl, long wait,
                          double *elect, double *seen)
{
    leader *obs = observer(url, key, ttl, wait);
    leader *a = candidate(url, key, ttl, wait);
    leader *b = candidate(url, key, ttl, wait);
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
static pid_t child_leader(const char *url, const char *key, long ttl)
{
    int fds[2];
    pid_t pid;
    char b;

    if (pipe(fds) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        leader *l = candidate(url, key, ttl, 100);
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
static void failover_once(rfx_server *s, const char *key, long ttl, long wait,
                          double *total, double *beyond, double *seen)
{
    pid_t pid = child_leader(rfx_url(s), key, ttl);
    leader *obs = observer(rfx_url(s), key, ttl, wait);
    leader *b = candidate(rfx_url(s), key, ttl, wait);
    char *pttl;
    double killed, expiry;
    int status;

    leader_elect(b);
    sleep_ms(50);
    mark_reset(&any_change);
    pttl = rfx_command(s, "PTTL %s", leader_key(b));
    killed = now_ms();
    kill(pid, SIGKILL);
    expiry = killed + (pttl != NULL ? atof(pttl) : 0);
    free(pttl);
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
static double memory_per_candidate(const char *url, long ttl)
{
    int fds[2];
    double kib = -1;
    pid_t pid;

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
        l[0] = candidate(url, "mem-warm", ttl, 200);
        leader_elect(l[0]);
        while (!leader_has_lease(l[0]))
            sleep_ms(1);
        leader_free(l[0]);
        before = rss_kib();
        for (int i = 0; i < MEM_CANDIDATES; i++) {
            snprintf(key, sizeof key, "mem-%d", i);
            l[i] = candidate(url, key, ttl, 200);
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

/* Handover and failover on s, reported under title. */
static void measure(rfx_server *s, const char *title, int runs, long ttl,
                    long wait)
{
    double *v[5];
    char key[32];

    for (int k = 0; k < 5; k++)
        if ((v[k] = calloc((size_t) runs, sizeof(double))) == NULL)
            exit(1);
    printf("%s\n", title);
    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "handover-%d", i);
        handover_once(rfx_url(s), key, ttl, wait, &v[0][i], &v[1][i]);
    }
    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "failover-%d", i);
        failover_once(s, key, ttl, wait, &v[2][i], &v[3][i], &v[4][i]);
    }
    report("handover after leader_stop", v[0], runs);
    report("  an observer sees the new leader", v[1], runs);
    report("failover after kill -9", v[2], runs);
    report("  elected, beyond the key's expiry", v[3], runs);
    report("  observer sees it, beyond expiry", v[4], runs);
    for (int k = 0; k < 5; k++)
        free(v[k]);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 25;
    long ttl = argc > 2 ? atol(argv[2]) : 2000;
    long wait = argc > 3 ? atol(argv[3]) : 200;
    rfx_options tls_opts = {.tls = RFX_TLS};
    rfx_server *s, *t;
    double tcp_kib, tls_kib;

    if (runs < 1 || ttl < 10 || wait < 0 || rfx_server_path() == NULL) {
        fprintf(stderr, "usage: bench-failover [RUNS [TTL [WAIT]]] "
                        "(needs redis-server)\n");
        return 2;
    }
    s = rfx_start(NULL);
    t = rfx_start(&tls_opts);
    if (s == NULL || t == NULL)
        return 1;
    tls_ca = rfx_tls_file(t, "ca.crt");
    printf("libleader %s, ttl %ld ms, wait %ld ms, %d runs each\n",
           leader_version(), ttl, wait, runs);
    measure(s, "plain TCP (redis://):", runs, ttl, wait);
    measure(t, "TLS (rediss://, certificate verified):", runs, ttl, wait);
    tcp_kib = memory_per_candidate(rfx_url(s), ttl);
    tls_kib = memory_per_candidate(rfx_url(t), ttl);
    printf("memory per leading candidate (its own client: thread, command "
           "and notification connections)\n");
    printf("%-34s %8.1f KiB\n", "  plain TCP", tcp_kib);
    printf("%-34s %8.1f KiB  (TLS adds %.1f KiB)\n", "  TLS", tls_kib,
           tls_kib - tcp_kib);
    rfx_free(t);
    rfx_free(s);
    return 0;
}
