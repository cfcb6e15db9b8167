/* failover.c - how fast a new leader takes over, on a private
 * redis-server:
 *   handover: leader_stop() of the leader -> the follower's ELECTED;
 *   failover: kill -9 of the leader's process -> the follower's ELECTED,
 *             and how far that is beyond the moment the key expired.
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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static double elected_at; /* ms, CLOCK_MONOTONIC; 0 until ELECTED */

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    (void) l;
    (void) userdata;
    if (ev->type != LEADER_EVENT_ELECTED)
        return;
    pthread_mutex_lock(&lock);
    elected_at = now_ms();
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

/* Waits up to 30 s for an ELECTED; returns its time or -1. */
static double wait_elected(void)
{
    double t = -1;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&lock);
    while (elected_at == 0)
        if (pthread_cond_timedwait(&cond, &lock, &ts) != 0)
            break;
    if (elected_at != 0)
        t = elected_at;
    elected_at = 0;
    pthread_mutex_unlock(&lock);
    return t;
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
    l = leader_new(&o, NULL, 0);
    if (l == NULL) {
        fprintf(stderr, "leader_new failed\n");
        exit(1);
    }
    leader_on(l, on_event, NULL);
    return l;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double handover_once(const char *url, const char *key, long ttl,
                            long wait)
{
    leader *a = candidate(url, key, ttl, wait);
    leader *b = candidate(url, key, ttl, wait);
    double t0, t1;

    leader_elect(a);
    if (wait_elected() < 0)
        exit(1);
    leader_elect(b);
    sleep_ms(50);
    t0 = now_ms();
    leader_stop(a);
    t1 = wait_elected();
    leader_free(a);
    leader_free(b);
    return t1 < 0 ? -1 : t1 - t0;
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

static void failover_once(rfx_server *s, const char *key, long ttl, long wait,
                          double *total, double *beyond)
{
    pid_t pid = child_leader(rfx_url(s), key, ttl);
    leader *b = candidate(rfx_url(s), key, ttl, wait);
    char *pttl;
    double killed, expiry, t;
    int status;

    leader_elect(b);
    sleep_ms(50);
    pttl = rfx_command(s, "PTTL %s", leader_key(b));
    killed = now_ms();
    kill(pid, SIGKILL);
    expiry = killed + (pttl != NULL ? atof(pttl) : 0);
    free(pttl);
    waitpid(pid, &status, 0);
    t = wait_elected();
    leader_free(b);
    *total = t - killed;
    *beyond = t - expiry;
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

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 25;
    long ttl = argc > 2 ? atol(argv[2]) : 2000;
    long wait = argc > 3 ? atol(argv[3]) : 200;
    rfx_server *s;
    double *h, *f, *o;
    char key[32];

    if (runs < 1 || ttl < 10 || wait < 0 || rfx_server_path() == NULL) {
        fprintf(stderr, "usage: bench-failover [RUNS [TTL [WAIT]]] "
                        "(needs redis-server)\n");
        return 2;
    }
    s = rfx_start(NULL);
    h = calloc((size_t) runs, sizeof *h);
    f = calloc((size_t) runs, sizeof *f);
    o = calloc((size_t) runs, sizeof *o);
    if (s == NULL || h == NULL || f == NULL || o == NULL)
        return 1;
    printf("libleader %s, ttl %ld ms, wait %ld ms, %d runs each\n",
           leader_version(), ttl, wait, runs);
    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "handover-%d", i);
        h[i] = handover_once(rfx_url(s), key, ttl, wait);
    }
    for (int i = 0; i < runs; i++) {
        snprintf(key, sizeof key, "failover-%d", i);
        failover_once(s, key, ttl, wait, &f[i], &o[i]);
    }
    report("handover after leader_stop", h, runs);
    report("failover after kill -9", f, runs);
    report("failover beyond the key's expiry", o, runs);
    free(h);
    free(f);
    free(o);
    rfx_free(s);
    return 0;
}
