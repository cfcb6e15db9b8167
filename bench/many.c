/* SPDX-License-Identifier: BSD-3-Clause */
/* many.c - many elections in one process over one connection: a client
 * (event-loop mode) holding N elections, all led by this process, on a
 * private redis-server. Prints, for each N: how long it took to win them
 * all, then over a steady window the process' CPU (share of one core) and
 * RSS, Redis' CPU, the renewals per second, and the renewal round trip
 * (median, p99, max) measured on a sample of the elections: from a
 * renewal's send time (its new deadline less the lease length) to the
 * loop turn that saw the deadline move. Not a test: figures only.
 *
 * Usage: bench-many [SECONDS [N...]]   (default 20 s, N = 10000) */
#define _GNU_SOURCE

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "leader.h"
#include "redis_fixture.h"

#define TTL    10000L
#define SAMPLE 500

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

/* Redis' own CPU seconds, from INFO cpu. */
static double redis_cpu(rfx_server *s)
{
    char *info = rfx_command(s, "INFO cpu");
    double user = 0, sys = 0;
    char *p;

    if (info == NULL)
        return 0;
    if ((p = strstr(info, "used_cpu_user:")) != NULL)
        user = atof(p + 14);
    if ((p = strstr(info, "used_cpu_sys:")) != NULL)
        sys = atof(p + 13);
    free(info);
    return user + sys;
}

/* One loop turn: wait for the client, then process. */
static void turn(leader_client *c)
{
    struct pollfd pfd = {leader_client_fd(c), POLLIN, 0};
    int t = leader_client_timeout_ms(c);

    poll(&pfd, 1, t < 0 || t > 100 ? 100 : t);
    leader_client_process(c);
}

static int count_leading(leader **h, int n)
{
    int k = 0;

    for (int i = 0; i < n; i++)
        k += leader_has_lease(h[i]);
    return k;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Runs the steady window, recording renewal round trips of the sample. */
static size_t steady(leader_client *c, leader **h, int n, double seconds,
                     double *rtt, size_t cap)
{
    int64_t last[SAMPLE];
    long long lease = TTL - (TTL / 100 + 2);
    int k = n < SAMPLE ? n : SAMPLE;
    double end = wall_seconds() + seconds;
    size_t got = 0;

    for (int i = 0; i < k; i++)
        last[i] = leader_lease_deadline(h[i * (n / k)]);
    while (wall_seconds() < end) {
        int64_t now;
        turn(c);
        now = leader_clock_ms();
        for (int i = 0; i < k && got < cap; i++) {
            int64_t d = leader_lease_deadline(h[i * (n / k)]);
            if (d > last[i] && last[i] != 0)
                rtt[got++] = (double) (now - (d - lease));
            last[i] = d;
        }
    }
    return got;
}

static int run(rfx_server *s, int n, double seconds)
{
    leader_client_options co;
    leader_options o;
    leader_client *c;
    leader **h = calloc((size_t) n, sizeof *h);
    double *rtt = calloc(100000, sizeof *rtt);
    double t0, cpu0, rcpu0, wall;
    char key[32];
    size_t got;
    int led = 0;

    leader_client_options_init(&co);
    co.url = rfx_url(s);
    co.event_loop = 1;
    c = leader_client_new(&co, NULL, 0);
    if (c == NULL || h == NULL || rtt == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        leader_options_init(&o);
        snprintf(key, sizeof key, "bench-%d-%d", n, i);
        o.key = key;
        o.ttl_ms = TTL;
        h[i] = leader_client_add(c, &o, NULL, 0);
        if (h[i] == NULL || leader_elect(h[i]) != 0)
            return -1;
    }
    t0 = wall_seconds();
    while (led < n && wall_seconds() < t0 + 60) {
        turn(c);
        led = count_leading(h, n);
    }
    printf("%7d elections: all elected in %.2f s (%d led)\n", n,
           wall_seconds() - t0, led);
    cpu0 = cpu_seconds();
    rcpu0 = redis_cpu(s);
    t0 = wall_seconds();
    got = steady(c, h, n, seconds, rtt, 100000);
    wall = wall_seconds() - t0;
    qsort(rtt, got, sizeof *rtt, cmp);
    printf("         CPU %.1f %% of a core, RSS %.1f MB, Redis CPU %.1f %%, "
           "%.0f renewals/s\n",
           100 * (cpu_seconds() - cpu0) / wall, rss_kb() / 1024.0,
           100 * (redis_cpu(s) - rcpu0) / wall, n / (TTL / 3000.0));
    if (got > 0)
        printf("         renewal round trip: median %.0f ms, p99 %.0f ms, "
               "max %.0f ms (%zu renewals sampled)\n",
               rtt[got / 2], rtt[got * 99 / 100], rtt[got - 1], got);
    printf("         still leading at the end: %d of %d\n", count_leading(h, n),
           n);
    for (int i = 0; i < n; i++)
        leader_free(h[i]);
    leader_client_free(c);
    free(h);
    free(rtt);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 20;
    rfx_server *s;
    int rc = 0;

    if (seconds <= 0 || rfx_server_path() == NULL) {
        fprintf(stderr, "usage: bench-many [SECONDS [N...]] (needs "
                        "redis-server)\n");
        return 2;
    }
    s = rfx_start(NULL);
    if (s == NULL)
        return 1;
    printf("libleader %s: N elections on one connection, ttl %ld ms, "
           "%.0f s windows\n",
           leader_version(), TTL, seconds);
    if (argc <= 2)
        rc = run(s, 10000, seconds);
    for (int i = 2; i < argc && rc == 0; i++)
        rc = run(s, atoi(argv[i]), seconds);
    rfx_free(s);
    return rc == 0 ? 0 : 1;
}
