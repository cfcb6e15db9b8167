/* SPDX-License-Identifier: BSD-3-Clause */
/* many.c - many elections in one process over one connection: a client
 * (event-loop mode) holding N elections, all led by this process, on a
 * private redis-server. Prints, for each N: how long it took to win them
 * all, then over a steady window the process' CPU (share of one core) and
 * RSS, what Redis ran (commands per second, INFO commandstats, the
 * commands scripts run inside counted too) and its CPU, both also per
 * 1000 led elections, the renewals per second, and the renewal round trip
 * (median, p99, max) measured on a sample of the elections: from a
 * renewal's send time (its new deadline less the lease length) to the
 * loop turn that saw the deadline move. The window opens one renewal
 * interval (ttl/3) after the last election was won, so that it holds no
 * first renewal: those may queue behind the start's acquires. Not a test:
 * figures only.
 *
 * With --node-leader HOST_JS, node-leader's protocol holds the same N
 * elections on the same server right after, in one Node.js process on one
 * client (bench/peers/host.js, which needs Node.js and its npm packages,
 * bench/package.json), measured the same way; a table of both ends the
 * output. With --cluster M the server is a Redis Cluster of M masters
 * reached through one node's URL, and Redis' CPU is given per master.
 * With --ceiling the N are tried in turn until one is not all led or its
 * renewal round trip p99 reaches 50 ms: the last N before is the largest
 * held.
 *
 * Usage: bench-many [--cluster M | --node-leader HOST_JS] [--ceiling]
 *                   [SECONDS [N...]]   (default 20 s, N = 10000) */
#define _GNU_SOURCE

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leader.h"
#include "redis_fixture.h"

#define TTL       10000L
#define WAIT      1000L
#define SAMPLE    500
#define P99_LIMIT 50.0
#define NODES_MAX 8
#define ROWS_MAX  64

/* Where the elections are held: one server, or a cluster's masters. */
struct target {
    rfx_server *one;
    rfx_cluster *cluster;
    const char *url;
    int nodes;
    rfx_server *node[NODES_MAX];
};

/* What one N measured, for --ceiling. */
struct figures {
    int all_led;
    double p99;
};

/* What Redis ran for one candidate kind at one N, for the closing table. */
struct row {
    int n;
    const char *who;
    double cmds, cpu; /* per second; CPU in % of a core */
};

static struct row rows[ROWS_MAX];
static int nrows;

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

static void cpu_all(const struct target *t, double *cpu)
{
    for (int i = 0; i < t->nodes; i++)
        cpu[i] = redis_cpu(t->node[i]);
}

/* The commands Redis ran so far, from INFO commandstats: every command's
 * calls, a script's own and those it runs inside, less our INFO. */
static double redis_calls(const struct target *t)
{
    double sum = 0;

    for (int i = 0; i < t->nodes; i++) {
        char *info = rfx_command(t->node[i], "INFO commandstats"), name[64];
        double calls;
        for (const char *p = info; p != NULL && (p = strstr(p, "cmdstat_"));
             p++)
            if (sscanf(p, "cmdstat_%63[^:]:calls=%lf", name, &calls) == 2 &&
                strcmp(name, "info") != 0)
                sum += calls;
        free(info);
    }
    return sum;
}

/* Prints what Redis ran over a window, in all and per 1000 elections, and
 * keeps it for the table. */
static void report_redis(const char *who, int n, double cmds, double cpu)
{
    printf("         Redis: %.0f commands/s, CPU %.2f %%; per 1000 led "
           "elections: %.1f commands/s, CPU %.3f %%\n",
           cmds, cpu, cmds * 1000 / n, cpu * 1000 / n);
    if (nrows < ROWS_MAX)
        rows[nrows++] = (struct row){n, who, cmds, cpu};
}

/* One loop turn: wait for the client, then process. */
static void turn(leader_client *c)
{
    struct pollfd pfd = {leader_client_fd(c), POLLIN, 0};
    int t = leader_client_timeout_ms(c);

    poll(&pfd, 1, t < 0 || t > 100 ? 100 : t);
    leader_client_process(c);
}

/* How bunched the renewals are: the largest share of the elections whose
 * lease deadlines (so their renewals) fall within one 100 ms step of the
 * next ttl. Spread evenly over a renewal interval (ttl/3), each step holds
 * 100 / (ttl/3) of them, 3 % at ttl 10 s. */
static double busiest_step(leader **h, int n)
{
    enum { STEP = 100, STEPS = TTL / STEP };
    static int bins[STEPS];
    int64_t now = leader_clock_ms();
    int most = 0;

    memset(bins, 0, sizeof bins);
    for (int i = 0; i < n; i++) {
        int64_t d = leader_lease_deadline(h[i]) - now;
        if (d >= 0 && d < TTL && ++bins[d / STEP] > most)
            most = bins[d / STEP];
    }
    return n > 0 ? 100.0 * most / n : 0;
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

/* What went wrong over the whole run, from every handle's counters: a
 * renewal given up unanswered drops the connection that all the
 * elections share. */
static void print_trouble(leader **h, int n)
{
    uint64_t late = 0, reconnects = 0, lost = 0;

    for (int i = 0; i < n; i++) {
        leader_stats st;
        if (leader_stats(h[i], &st) != 0)
            continue;
        late += st.renewals_late;
        reconnects += st.reconnects;
        lost += st.revoked_lease + st.revoked_conn + st.revoked_lost;
    }
    printf("; %llu renewals unanswered, %llu reconnects, %llu leaderships "
           "lost\n",
           (unsigned long long) late, (unsigned long long) reconnects,
           (unsigned long long) lost);
}

static int run(const struct target *tg, int n, double seconds,
               struct figures *fig)
{
    leader_client_options co;
    leader_options o;
    leader_client *c;
    leader **h = calloc((size_t) n, sizeof *h);
    double *rtt = calloc(100000, sizeof *rtt);
    double t0, cpu0, rcpu0[NODES_MAX], rcpu1[NODES_MAX], wall, total = 0;
    double calls0, calls1;
    char key[32];
    size_t got;
    int led = 0;

    leader_client_options_init(&co);
    co.url = tg->url;
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
    /* Counted every 100 ms, not every turn: a pass over every handle
     * costs more than the turn itself, and past 300,000 elections it kept
     * the loop from reading replies in time. */
    t0 = wall_seconds();
    for (double counted = t0; led < n && wall_seconds() < t0 + 60;) {
        turn(c);
        if (wall_seconds() >= counted + 0.1) {
            led = count_leading(h, n);
            counted = wall_seconds();
        }
    }
    printf("%7d elections: all elected in %.2f s (%d led)\n", n,
           wall_seconds() - t0, led);
    fig->all_led = led == n;
    /* The first renewals are sent while Redis may still work through the
     * start's acquires: the window opens one renewal interval later. */
    steady(c, h, n, TTL / 3000.0, rtt, 0);
    cpu0 = cpu_seconds();
    calls0 = redis_calls(tg);
    cpu_all(tg, rcpu0);
    t0 = wall_seconds();
    got = steady(c, h, n, seconds, rtt, 100000);
    wall = wall_seconds() - t0;
    cpu_all(tg, rcpu1);
    calls1 = redis_calls(tg);
    qsort(rtt, got, sizeof *rtt, cmp);
    for (int i = 0; i < tg->nodes; i++)
        total += rcpu1[i] - rcpu0[i];
    printf("         CPU %.1f %% of a core, RSS %.1f MB, Redis CPU %.1f %%, "
           "%.0f renewals/s\n",
           100 * (cpu_seconds() - cpu0) / wall, rss_kb() / 1024.0,
           100 * total / wall, n / (TTL / 3000.0));
    report_redis("libleader", n, (calls1 - calls0) / wall, 100 * total / wall);
    if (tg->nodes > 1) {
        printf("         Redis CPU per master:");
        for (int i = 0; i < tg->nodes; i++)
            printf(" %.1f %%", 100 * (rcpu1[i] - rcpu0[i]) / wall);
        printf("\n");
    }
    fig->p99 = got > 0 ? rtt[got * 99 / 100] : 1e9;
    if (got > 0)
        printf("         renewal round trip: median %.0f ms, p99 %.0f ms, "
               "max %.0f ms (%zu renewals sampled)\n",
               rtt[got / 2], rtt[got * 99 / 100], rtt[got - 1], got);
    printf("         lease deadlines in the busiest 100 ms: %.1f %% of the "
           "elections (%.0f %% when evenly spread)\n",
           busiest_step(h, n), 100.0 * 100 / (TTL / 3));
    led = count_leading(h, n);
    fig->all_led = fig->all_led && led == n;
    printf("         still leading at the end: %d of %d", led, n);
    print_trouble(h, n);
    /* Stopped all first, so that their releases go out together: each
     * leader_free() waits for its own, one round trip each in turn. */
    for (int i = 0; i < n; i++)
        leader_stop(h[i]);
    for (int i = 0; i < n; i++)
        leader_free(h[i]);
    leader_client_free(c);
    free(h);
    free(rtt);
    return 0;
}

/* ---- node-leader's protocol beside it ---- */

/* A Node.js process of bench/peers/host.js and its line protocol. */
struct peer {
    pid_t pid;
    int in, out; /* its stdin, its stdout */
    char buf[65536];
    size_t len;
    int elected, revoked, errors, ready;
};

static int peer_start(struct peer *p, const char *host_js, const char *url,
                      int n)
{
    char ttl[24], wait[24], count[24], prefix[32];
    int to[2], from[2];

    memset(p, 0, sizeof *p);
    snprintf(ttl, sizeof ttl, "%ld", TTL);
    snprintf(wait, sizeof wait, "%ld", WAIT);
    snprintf(count, sizeof count, "%d", n);
    snprintf(prefix, sizeof prefix, "many-node-%d", n);
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
        return -1;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        char *argv[] = {
            "node", (char *) host_js, "node-leader", (char *) url, ttl,
            wait,   "--range",        prefix,        count,        NULL};
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(to[0], 0);
        dup2(from[1], 1);
        execvp("node", argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p->in = to[1];
    p->out = from[0];
    return 0;
}

/* Reads what the peer said within ms, counting its events. */
static void peer_pump(struct peer *p, int ms)
{
    struct pollfd pfd = {p->out, POLLIN, 0};
    ssize_t r;
    char *nl;

    if (poll(&pfd, 1, ms) <= 0)
        return;
    r = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
    if (r <= 0)
        return;
    p->len += (size_t) r;
    p->buf[p->len] = '\0';
    while ((nl = strchr(p->buf, '\n')) != NULL) {
        *nl = '\0';
        p->ready += strcmp(p->buf, "ready") == 0;
        p->elected += strncmp(p->buf, "elected ", 8) == 0;
        p->revoked += strncmp(p->buf, "revoked ", 8) == 0;
        p->errors += strncmp(p->buf, "error ", 6) == 0;
        p->len -= (size_t) (nl + 1 - p->buf);
        memmove(p->buf, nl + 1, p->len + 1);
    }
}

static void peer_until(struct peer *p, const int *count, int want,
                       double seconds)
{
    double end = wall_seconds() + seconds;

    while (*count < want && wall_seconds() < end)
        peer_pump(p, 100);
}

static void peer_stop(struct peer *p)
{
    int status;

    if (write(p->in, "quit\n", 5) != 5)
        kill(p->pid, SIGKILL);
    close(p->in);
    close(p->out);
    waitpid(p->pid, &status, 0);
}

/* node-leader's protocol (bench/peers/node-leader.js) holding n
 * elections on one client of one Node.js process, on tg, measured as
 * run() measures libleader. */
static int node_run(const struct target *tg, const char *host_js, int n,
                    double seconds)
{
    struct peer p;
    double t0, won, rcpu0[NODES_MAX], rcpu1[NODES_MAX], calls0, calls1, wall;

    if (peer_start(&p, host_js, tg->url, n) != 0)
        return -1;
    peer_until(&p, &p.ready, 1, 60);
    if (!p.ready) {
        fprintf(stderr, "bench-many: %s did not start\n", host_js);
        peer_stop(&p);
        return -1;
    }
    t0 = wall_seconds();
    if (write(p.in, "elect-all\n", 10) != 10) {
        peer_stop(&p);
        return -1;
    }
    peer_until(&p, &p.elected, n, 120);
    won = wall_seconds() - t0;
    printf("%7d node-leader elections: all elected in %.2f s (%d led)\n", n,
           won, p.elected);
    t0 = wall_seconds();
    while (wall_seconds() < t0 + 1)
        peer_pump(&p, 100);
    calls0 = redis_calls(tg);
    cpu_all(tg, rcpu0);
    t0 = wall_seconds();
    while (wall_seconds() < t0 + seconds)
        peer_pump(&p, 100);
    wall = wall_seconds() - t0;
    cpu_all(tg, rcpu1);
    calls1 = redis_calls(tg);
    report_redis("node-leader", n, (calls1 - calls0) / wall,
                 100 * (rcpu1[0] - rcpu0[0]) / wall);
    printf("         still leading at the end: %d of %d (%d errors)\n",
           p.elected - p.revoked, n, p.errors);
    peer_stop(&p);
    return 0;
}

/* The closing table: per N, libleader's next to node-leader's. */
static void print_table(void)
{
    printf("\n| elections | candidate | Redis commands/s | Redis CPU, %% | "
           "per 1000 elections: commands/s | per 1000 elections: Redis "
           "CPU, %% |\n|---:|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < nrows; i++)
        printf("| %d | %s | %.0f | %.2f | %.1f | %.3f |\n", rows[i].n,
               rows[i].who, rows[i].cmds, rows[i].cpu,
               rows[i].cmds * 1000 / rows[i].n, rows[i].cpu * 1000 / rows[i].n);
}

static int start_target(struct target *t, int masters)
{
    memset(t, 0, sizeof *t);
    if (masters == 0) {
        t->one = rfx_start(NULL);
        if (t->one == NULL)
            return -1;
        t->url = rfx_url(t->one);
        t->nodes = 1;
        t->node[0] = t->one;
        return 0;
    }
    {
        rfx_cluster_options co = {.masters = masters};
        t->cluster = rfx_cluster_start(&co);
    }
    if (t->cluster == NULL)
        return -1;
    t->url = rfx_cluster_url(t->cluster);
    t->nodes = rfx_cluster_nodes(t->cluster);
    for (int i = 0; i < t->nodes; i++)
        t->node[i] = rfx_cluster_node(t->cluster, i);
    return 0;
}

static void stop_target(struct target *t)
{
    if (t->cluster != NULL)
        rfx_cluster_free(t->cluster);
    else
        rfx_free(t->one);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-many [--cluster M | --node-leader HOST_JS] "
                    "[--ceiling] [SECONDS [N...]] (needs redis-server)\n");
    return 2;
}

int main(int argc, char **argv)
{
    int masters = 0, ceiling = 0, rc = 0, held = 0, i = 1;
    const char *host_js = NULL;
    double seconds;
    struct target t;
    struct figures fig;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc)
            masters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ceiling") == 0)
            ceiling = 1;
        else if (strcmp(argv[i], "--node-leader") == 0 && i + 1 < argc)
            host_js = argv[++i];
        else
            return usage();
    }
    seconds = i < argc ? atof(argv[i++]) : 20;
    if (seconds <= 0 || masters < 0 || masters > NODES_MAX ||
        (host_js != NULL && masters > 0) || rfx_server_path() == NULL)
        return usage();
    if (start_target(&t, masters) != 0)
        return 1;
    if (masters > 0)
        printf("libleader %s: N elections on one client, a Redis Cluster of "
               "%d masters, ttl %ld ms, %.0f s windows from ttl/3 after the "
               "last win\n",
               leader_version(), masters, TTL, seconds);
    else
        printf("libleader %s: N elections on one connection, ttl %ld ms, "
               "%.0f s windows from ttl/3 after the last win\n",
               leader_version(), TTL, seconds);
    if (i >= argc) {
        rc = run(&t, 10000, seconds, &fig);
        if (rc == 0 && host_js != NULL)
            rc = node_run(&t, host_js, 10000, seconds);
    }
    for (; i < argc && rc == 0; i++) {
        int n = atoi(argv[i]);
        rc = run(&t, n, seconds, &fig);
        if (rc == 0 && host_js != NULL)
            rc = node_run(&t, host_js, n, seconds);
        if (!ceiling)
            continue;
        if (!fig.all_led || fig.p99 >= P99_LIMIT)
            break;
        held = n;
    }
    if (ceiling && rc == 0)
        printf("largest N held with renewal p99 < %.0f ms: %d\n", P99_LIMIT,
               held);
    if (rc == 0)
        print_table();
    stop_target(&t);
    return rc == 0 ? 0 : 1;
}
