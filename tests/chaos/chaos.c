/* chaos.c - leader-chaos, the chaos harness: real `leader run` candidates
 * on a real Redis under a seeded random schedule of faults, judged
 * afterwards by chaos_check.c from what their children recorded.
 *
 *   leader-chaos [--seed N] [--seconds S] [--candidates N] [--ttl MS]
 *                [--beat MS] [--faults KIND,...] [--naive]
 *                [--expect-violation] [--keep]
 *
 * It starts a redis-server with appendfsync always (the Redis fixture), one
 * leader-proxy per candidate in front of it, and N candidates, each through
 * its own proxy, each running leader-heartbeat into one shared log. Then,
 * until S seconds have passed: a quiet period, one fault, its end, and a
 * bounded wait for a leader to be back. The faults (chaos_check.h's kinds):
 *
 *   kill9          kill -9 a candidate (the leader 2 times in 3), restart it
 *                  with the same id or a new one
 *   sigterm        SIGTERM a candidate (the leader 2 times in 3), restart it
 *   blackhole      the leader's proxy stops forwarding for 2-3 x ttl
 *   reset          the leader's proxy closes its connections every 100 ms
 *                  for 2-3 x ttl
 *   sigstop        SIGSTOP the leader's `leader run` (not its watchdog or
 *                  child) for 2-3 x ttl, then SIGCONT
 *   redis-restart  restart Redis cleanly (SIGTERM, start, PING)
 *   redis-kill9    kill -9 Redis and restart it
 *
 * --naive runs naive_candidate.sh instead of `leader run` (a SET NX +
 * GET-then-PEXPIRE script with no lease deadline); with
 * --expect-violation the run passes only if the checker finds a split brain
 * or a term violation, and it ends as soon as one shows up in the log.
 *
 * Every process it starts dies with it (PR_SET_PDEATHSIG) and is killed at
 * the end or on SIGINT/SIGTERM/SIGHUP; SIGALRM at S + 120 s is a last
 * resort. Exit: 0 clean, 1 a finding (see chaos_verdict), 2 harness error
 * or interrupted, 77 skipped (no redis-server, or no redis-cli for
 * --naive). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaos_check.h"
#include "hblog.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

#define MAX_CANDIDATES 16
#define ELECTION_KEY   "chaos"

/* One candidate slot: a process, its id and its proxy. A restarted
 * candidate keeps its slot and proxy. */
struct cand {
    pid_t pid; /* `leader run` or the naive script; 0 when not running */
    char id[64];
    int restarts;
    proxy_ctl proxy;
};

static struct {
    unsigned long long seed;
    long seconds, ttl, beat;
    int n, naive, expect_violation, keep;
    unsigned kinds; /* bit per enum chaos_kind */
} opt = {0, 60, 1000, 5, 3, 0, 0, 0, (1u << CK_NKINDS) - 1};

static struct cand cands[MAX_CANDIDATES];
static rfx_server *redis;
static FILE *fault_log;
static char dir[256], hb_path[300], fault_path[300], self_exe[4096];
static long long t0_us; /* when the schedule began */
static volatile sig_atomic_t interrupted;
static uint64_t rng;

/* splitmix64: the schedule depends on the seed alone. */
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static long rnd_range(long lo, long hi)
{
    return lo + (long) (rnd() % (uint64_t) (hi - lo + 1));
}

/* One line of the fault log (format in chaos_check.h), flushed at once so
 * that a crash of the harness leaves what happened so far. */
static void event(const char *what, const char *fmt, ...)
{
    long long us = hb_now_us();
    va_list ap;

    fprintf(fault_log, "%s %lld.%03lld ", what, us / 1000, us % 1000);
    va_start(ap, fmt);
    vfprintf(fault_log, fmt, ap);
    va_end(ap);
    fputc('\n', fault_log);
    fflush(fault_log);
}

/* What the harness does, for whoever watches it. */
static void say(const char *fmt, ...)
{
    va_list ap;

    printf("[%8.3f s] ", t0_us ? (double) (hb_now_us() - t0_us) / 1e6 : 0.0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void on_stop_signal(int sig)
{
    (void) sig;
    interrupted = 1;
}

/* The last resort when the schedule overran its bound: kill what we can
 * with async-signal-safe calls and go; the proxies and Redis die with us
 * (PR_SET_PDEATHSIG). */
static void on_alarm(int sig)
{
    static const char msg[] = "leader-chaos: overran its time bound, "
                              "killing everything\n";

    (void) sig;
    for (int i = 0; i < opt.n; i++)
        if (cands[i].pid > 0)
            kill(-cands[i].pid, SIGKILL);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(2);
}

/* Sleeps ms unless interrupted; restarts candidates that exit on their own
 * meanwhile (their child ended, say), so that N keep campaigning. */
static void reap(void);

static void nap(long ms)
{
    long long end = hb_now_us() + ms * 1000LL;

    while (!interrupted) {
        long long left = end - hb_now_us();
        struct timespec t;

        reap();
        if (left <= 0)
            break;
        if (left > 20000)
            left = 20000;
        t.tv_sec = 0;
        t.tv_nsec = (long) left * 1000;
        nanosleep(&t, NULL);
    }
}

static void spawn(int i)
{
    struct cand *c = &cands[i];
    char url[64], port[16], ttl[16], beat[16], pause[32], out[400];
    pid_t parent = getpid(), pid;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", c->proxy.port);
    snprintf(port, sizeof port, "%d", c->proxy.port);
    snprintf(ttl, sizeof ttl, "%ld", opt.ttl);
    snprintf(beat, sizeof beat, "%ld", opt.beat);
    snprintf(pause, sizeof pause, "%.3f", (double) opt.ttl / 3000.0);
    snprintf(out, sizeof out, "%s/%s.out", dir, c->id);
    pid = fork();
    if (pid == -1) {
        perror("leader-chaos: fork");
        return;
    }
    if (pid == 0) {
        const char *real[] = {
            LEADER_BIN,   "run",   "--redis", url,           "--key",
            ELECTION_KEY, "--ttl", ttl,       "--wait",      ttl,
            "--id",       c->id,   "--",      HEARTBEAT_BIN, hb_path,
            "--interval", beat,    NULL};
        const char *naive[] = {
            "/bin/sh", NAIVE_SCRIPT,    port,          ELECTION_KEY, c->id,
            ttl,       pause,           HEARTBEAT_BIN, hb_path,      beat,
            self_exe,  "--exec-pdeath", NULL};
        int fd;

        /* A group of its own, so that the end can check it is empty; and
         * it dies with us. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd != -1) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execv(opt.naive ? naive[0] : real[0],
              (char *const *) (opt.naive ? naive : real));
        _exit(127);
    }
    setpgid(pid, pid);
    c->pid = pid;
    event("spawn", "%d %s %d", i, c->id, (int) pid);
}

/* Records the end of candidate i's process (already reaped). */
static void died(int i, int status, int expected)
{
    struct cand *c = &cands[i];

    event("died", "%d %s %d", i, c->id, (int) c->pid);
    if (!expected)
        say("%s (pid %d) exited on its own, status %d: restarting it", c->id,
            (int) c->pid,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    c->pid = 0;
}

static void reap(void)
{
    for (int i = 0; i < opt.n; i++) {
        int status;

        if (cands[i].pid > 0 &&
            waitpid(cands[i].pid, &status, WNOHANG) == cands[i].pid) {
            died(i, status, 0);
            spawn(i);
        }
    }
}

/* Gives slot i a new id (a new candidate) or keeps it (the same candidate
 * back after a crash), at random. */
static void maybe_new_id(int i)
{
    if (rnd() % 2) {
        cands[i].restarts++;
        snprintf(cands[i].id, sizeof cands[i].id, "c%d.%d", i,
                 cands[i].restarts);
    }
}

/* The slot whose child ran last, if that child is still beating (its last
 * line is recent and not a stop), else -1. */
static int leader_slot(void)
{
    const hb_child *last = NULL;
    char err[512];
    hb_log log;
    int slot = -1;

    if (hb_read(hb_path, &log, err, sizeof err) != 0)
        return -1;
    for (size_t i = 0; i < log.n; i++)
        if (last == NULL || log.children[i].last_us > last->last_us)
            last = &log.children[i];
    if (last != NULL && !last->stopped &&
        last->last_us > hb_now_us() - 200000 - opt.beat * 2000)
        for (int i = 0; i < opt.n; i++)
            if (strcmp(cands[i].id, last->id) == 0)
                slot = i;
    hb_free(&log);
    return slot;
}

static long long log_size(void)
{
    struct stat st;

    return stat(hb_path, &st) == 0 ? (long long) st.st_size : 0;
}

/* Waits until a child is beating again, at least 100 ms after the fault
 * ended (so that a child dying of the fault does not count): the log grows
 * across three windows of two beats each, which a child on its way out
 * (a last beat and a stop line) cannot do. Returns 0, or -1 after
 * timeout_ms. The checker judges from the log; this only paces the
 * schedule. */
static int wait_for_leader(long timeout_ms)
{
    long long end = hb_now_us() + timeout_ms * 1000LL;
    long window = 2 * opt.beat + 20;

    nap(100);
    while (!interrupted && hb_now_us() < end) {
        long long s0 = log_size(), s1, s2, s3;

        nap(window);
        s1 = log_size();
        nap(window);
        s2 = log_size();
        nap(window);
        s3 = log_size();
        if (s1 > s0 && s2 > s1 && s3 > s2)
            return 0;
    }
    return interrupted ? 0 : -1;
}

/* Kills (SIGKILL, or SIGTERM with a bounded wait for `leader run` to stop
 * its child and release) candidate i and starts it again. */
static void kill_and_restart(int i, int sig)
{
    struct cand *c = &cands[i];
    long long end = hb_now_us() + (5000 + opt.ttl) * 1000LL;
    int status = 0;
    pid_t pid = c->pid;

    kill(pid, sig);
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (hb_now_us() > end) {
            say("%s (pid %d) ignored SIGTERM for %ld ms: SIGKILL", c->id,
                (int) pid, 5000 + opt.ttl);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec t = {0, 5000000L};
        nanosleep(&t, NULL);
    }
    died(i, status, 1);
    maybe_new_id(i);
    spawn(i);
}

/* Injects one fault of kind k and lifts it. Returns 0, or -1 when the
 * harness itself failed (Redis would not restart). */
static int inject(int k)
{
    long dur = rnd_range(2 * opt.ttl, 3 * opt.ttl);
    int s = leader_slot(), rc = 0;
    const char *name = chaos_kind_name(k);
    long long end;

    /* Process faults hit a follower one time in three; the others always
     * aim at the leader (at a random candidate if none leads now). Both
     * draws are made every time, so that the schedule of kinds and
     * durations depends on the seed alone. */
    uint64_t aim = rnd(), other = rnd();

    if (s < 0 || ((k == CK_KILL9 || k == CK_SIGTERM) && aim % 3 == 0))
        s = (int) (other % (uint64_t) opt.n);
    if (k == CK_REDIS_RESTART || k == CK_REDIS_KILL9) {
        event("fault", "%s redis", name);
        say("%s", name);
        if (k == CK_REDIS_KILL9)
            rfx_kill(redis);
        rc = rfx_restart(redis, NULL);
        event("heal", "%s redis", name);
        if (rc != 0)
            fprintf(stderr, "leader-chaos: Redis did not restart\n");
        return rc;
    }
    event("fault", "%s %s", name, cands[s].id);
    switch (k) {
    case CK_KILL9:
    case CK_SIGTERM:
        say("%s %s (pid %d)", name, cands[s].id, (int) cands[s].pid);
        kill_and_restart(s, k == CK_KILL9 ? SIGKILL : SIGTERM);
        break;
    case CK_BLACKHOLE:
        say("%s %s for %ld ms", name, cands[s].id, dur);
        proxy_blackhole(&cands[s].proxy);
        nap(dur);
        proxy_heal(&cands[s].proxy);
        break;
    case CK_RESET:
        say("%s %s every 100 ms for %ld ms", name, cands[s].id, dur);
        for (end = hb_now_us() + dur * 1000LL;
             !interrupted && hb_now_us() < end;) {
            proxy_reset(&cands[s].proxy);
            nap(80); /* plus proxy_reset's own 20 ms */
        }
        break;
    case CK_SIGSTOP:
        say("%s %s (pid %d) for %ld ms", name, cands[s].id, (int) cands[s].pid,
            dur);
        kill(cands[s].pid, SIGSTOP);
        nap(dur);
        kill(cands[s].pid, SIGCONT);
        break;
    }
    event("heal", "%s %s", name, cands[s].id);
    return 0;
}

/* For a stall: what Redis holds for the election, to tell a stuck key from
 * candidates that do not campaign. */
static void dump_redis(void)
{
    char *keys = rfx_command(redis, "KEYS leader:*"), *save = NULL;

    if (keys == NULL) {
        say("Redis does not answer");
        return;
    }
    for (char *k = strtok_r(keys, " ", &save); k != NULL;
         k = strtok_r(NULL, " ", &save)) {
        char *v = rfx_command(redis, "GET %s", k);
        char *p = rfx_command(redis, "PTTL %s", k);

        say("redis: %s = %s (pttl %s)", k, v ? v : "?", p ? p : "?");
        free(v);
        free(p);
    }
    free(keys);
}

/* The kinds enabled, in a list like "sigstop,blackhole". */
static int parse_kinds(const char *list)
{
    char buf[256], *save = NULL;

    snprintf(buf, sizeof buf, "%s", list);
    opt.kinds = 0;
    for (char *w = strtok_r(buf, ",", &save); w != NULL;
         w = strtok_r(NULL, ",", &save)) {
        int k = chaos_kind_parse(w);
        if (k < 0)
            return -1;
        opt.kinds |= 1u << k;
    }
    return opt.kinds ? 0 : -1;
}

static int pick_kind(void)
{
    int enabled[CK_NKINDS], n = 0;

    for (int k = 0; k < CK_NKINDS; k++)
        if (opt.kinds & (1u << k))
            enabled[n++] = k;
    return enabled[rnd() % (uint64_t) n];
}

/* 1 while pid is a live leader-heartbeat (not a zombie, not a reused pid
 * of another program). */
static int heartbeat_alive(pid_t pid)
{
    char path[64], comm[64] = "", state = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%*d (%63[^)]) %c", comm, &state) != 2)
        state = 0;
    fclose(f);
    return state != 0 && state != 'Z' &&
           strncmp(comm, "leader-heartbea", 15) == 0;
}

/* 1 while process group pgid has a member that is not a zombie (a zombie
 * is dead; it only waits for its new parent to reap it). */
static int group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;

    if (d == NULL)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        char path[300], state = 0;
        int pgrp = 0;
        FILE *f;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        /* comm may hold spaces and parentheses: skip to the last ')'. */
        if (fgets(path, sizeof path, f) != NULL && strrchr(path, ')'))
            sscanf(strrchr(path, ')') + 1, " %c %*d %d", &state, &pgrp);
        fclose(f);
        found = pgrp == (int) pgid && state != 'Z' && state != 0;
    }
    closedir(d);
    return found;
}

/* The end: SIGKILL every candidate (their children must die with them),
 * then look for survivors: children from the log still alive, anything
 * left in a candidate's process group (a watchdog, say). Survivors are
 * recorded as orphans and killed. */
static void stop_candidates(void)
{
    pid_t groups[MAX_CANDIDATES];
    char err[512];
    hb_log log;

    for (int i = 0; i < opt.n; i++) {
        groups[i] = cands[i].pid;
        if (cands[i].pid > 0) {
            kill(cands[i].pid, SIGKILL);
            waitpid(cands[i].pid, NULL, 0);
            died(i, 0, 1);
        }
    }
    nap(300);
    if (hb_read(hb_path, &log, err, sizeof err) == 0) {
        for (size_t j = 0; j < log.n; j++)
            if (heartbeat_alive(log.children[j].pid)) {
                event("orphan", "%d", (int) log.children[j].pid);
                kill(log.children[j].pid, SIGKILL);
            }
        hb_free(&log);
    }
    for (int i = 0; i < opt.n; i++)
        if (groups[i] > 0 && group_alive(groups[i])) {
            event("orphan", "%d", (int) -groups[i]);
            kill(-groups[i], SIGKILL);
        }
}

/* 1 when the log already shows a split brain or a term violation (for
 * --expect-violation, which may stop there). */
static int violation_seen(void)
{
    char err[512];
    hb_log log;
    int bad;

    if (hb_read(hb_path, &log, err, sizeof err) != 0)
        return 0;
    bad = hb_check(&log, err, sizeof err) != 0;
    if (bad)
        say("violation in the log: %s", err);
    hb_free(&log);
    return bad;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: leader-chaos [--seed N] [--seconds S] [--candidates N] "
            "[--ttl MS]\n"
            "                    [--beat MS] [--faults KIND,...] [--naive]\n"
            "                    [--expect-violation] [--keep]\n"
            "kinds: kill9 sigterm blackhole reset sigstop redis-restart "
            "redis-kill9\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int seeded = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--naive") == 0)
            opt.naive = 1;
        else if (strcmp(a, "--expect-violation") == 0)
            opt.expect_violation = 1;
        else if (strcmp(a, "--keep") == 0)
            opt.keep = 1;
        else if (v == NULL)
            usage();
        else if (i++, strcmp(a, "--seed") == 0)
            opt.seed = strtoull(v, NULL, 10), seeded = 1;
        else if (strcmp(a, "--seconds") == 0)
            opt.seconds = atol(v);
        else if (strcmp(a, "--candidates") == 0)
            opt.n = atoi(v);
        else if (strcmp(a, "--ttl") == 0)
            opt.ttl = atol(v);
        else if (strcmp(a, "--beat") == 0)
            opt.beat = atol(v);
        else if (strcmp(a, "--faults") != 0 || parse_kinds(v) != 0)
            usage();
    }
    if (opt.n < 2 || opt.n > MAX_CANDIDATES || opt.ttl < 100 ||
        opt.seconds < 1 || opt.seconds > 86400 || opt.beat < 1 ||
        opt.beat > opt.ttl / 4)
        usage();
    if (!seeded)
        opt.seed = (unsigned long long) hb_now_us() ^
                   ((unsigned long long) getpid() << 32);
    rng = opt.seed;
}

/* Starts Redis, the proxies and the candidates. 0, 77 to skip, 2 on
 * failure. */
static int setup(void)
{
    rfx_options ro = {.persist = 1};
    const char *tmp = getenv("TMPDIR");
    char proxy_log[300];
    int rc;

    if (rfx_server_path() == NULL) {
        fprintf(stderr, "leader-chaos: no redis-server, skipping\n");
        return 77;
    }
    if (opt.naive && system("redis-cli --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "leader-chaos: no redis-cli for --naive, skipping\n");
        return 77;
    }
    snprintf(dir, sizeof dir, "%s/leader-chaos.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("leader-chaos: mkdtemp");
        return 2;
    }
    snprintf(hb_path, sizeof hb_path, "%s/hb.log", dir);
    snprintf(fault_path, sizeof fault_path, "%s/faults.log", dir);
    snprintf(proxy_log, sizeof proxy_log, "%s/proxies.log", dir);
    fault_log = fopen(fault_path, "w");
    redis = rfx_start(&ro);
    if (fault_log == NULL || redis == NULL)
        return 2;
    for (int i = 0; i < opt.n; i++) {
        snprintf(cands[i].id, sizeof cands[i].id, "c%d", i);
        /* The proxies log every mode change on stderr: into a file. */
        int saved = dup(STDERR_FILENO),
            fd = open(proxy_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
        if (fd != -1)
            dup2(fd, STDERR_FILENO);
        rc = proxy_start(&cands[i].proxy, rfx_port(redis), 0);
        if (saved != -1)
            dup2(saved, STDERR_FILENO);
        if (fd != -1)
            close(fd);
        if (saved != -1)
            close(saved);
        if (rc != 0)
            return 2;
    }
    for (int i = 0; i < opt.n; i++)
        spawn(i);
    return 0;
}

static void teardown(void)
{
    for (int i = 0; i < opt.n; i++)
        if (cands[i].proxy.pid > 0)
            proxy_stop(&cands[i].proxy);
    if (redis != NULL)
        rfx_free(redis);
    redis = NULL;
}

static void print_replay(void)
{
    printf("replay: leader-chaos --seed %llu --seconds %ld --candidates %d "
           "--ttl %ld --beat %ld%s%s",
           opt.seed, opt.seconds, opt.n, opt.ttl, opt.beat,
           opt.naive ? " --naive" : "",
           opt.expect_violation ? " --expect-violation" : "");
    if (opt.kinds != (1u << CK_NKINDS) - 1) {
        const char *sep = " --faults ";
        for (int k = 0; k < CK_NKINDS; k++)
            if (opt.kinds & (1u << k)) {
                printf("%s%s", sep, chaos_kind_name(k));
                sep = ",";
            }
    }
    printf("\n");
}

/* leader-chaos --exec-pdeath PPID CMD...: runs CMD so that it dies with
 * PPID (the naive script's child, which the script alone would leave
 * behind when killed). */
static int exec_pdeath(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t) atol(argv[2]))
        return 0;
    execv(argv[3], argv + 3);
    return 127;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    chaos_result res;
    int rc, verdict, failed = 0;
    ssize_t len;

    if (argc > 1 && strcmp(argv[1], "--exec-pdeath") == 0)
        return exec_pdeath(argc, argv);
    parse_args(argc, argv);
    len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (len <= 0)
        return 2;
    self_exe[len] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGALRM, on_alarm);
    alarm((unsigned) opt.seconds + 120);
    printf("leader-chaos: seed %llu, %d %s candidates, ttl %ld ms, %ld s\n",
           opt.seed, opt.n, opt.naive ? "naive" : "`leader run`", opt.ttl,
           opt.seconds);
    rc = setup();
    if (rc != 0) {
        teardown();
        if (dir[0] && rc == 77)
            rfx_rmtree(dir);
        else if (dir[0])
            printf("leader-chaos: setup failed; files in %s\n", dir);
        return rc;
    }
    printf("leader-chaos: files in %s\n", dir);
    if (wait_for_leader(10000 + 5 * opt.ttl) != 0) {
        fprintf(stderr, "leader-chaos: no leader came up\n");
        failed = 1;
    }
    t0_us = hb_now_us();
    event("begin", "%llu %d %ld %d", opt.seed, opt.n, opt.ttl, opt.naive);
    while (!failed && !interrupted &&
           hb_now_us() - t0_us < opt.seconds * 1000000LL) {
        int k;

        nap(rnd_range(opt.ttl, 4 * opt.ttl));
        if (interrupted)
            break;
        k = pick_kind();
        if (inject(k) != 0) {
            failed = 1;
            break;
        }
        /* A leader must be back within a few leases of the fault's end:
         * after the key expires (ttl) and a follower's next try (wait). */
        if (wait_for_leader(10000 + 10 * opt.ttl) != 0) {
            event("stall", "%s -", chaos_kind_name(k));
            say("STALL: no leader %ld ms after %s", 10000 + 10 * opt.ttl,
                chaos_kind_name(k));
            dump_redis();
        }
        if (opt.expect_violation && violation_seen())
            break;
    }
    event("end", "-");
    stop_candidates();
    teardown();
    fclose(fault_log);
    fault_log = NULL;
    alarm(0);

    if (chaos_check(hb_path, fault_path, stdout, &res) != 0)
        failed = 1;
    print_replay();
    verdict = chaos_verdict(&res);
    if (failed || interrupted) {
        printf("leader-chaos: %s; files kept in %s\n",
               interrupted ? "interrupted" : "harness failure", dir);
        return 2;
    }
    if (opt.expect_violation) {
        if (res.split_brains + res.term_violations > 0) {
            printf("leader-chaos: the checker caught the naive candidates, "
                   "as expected\n");
            verdict = 0;
        } else {
            printf("leader-chaos: EXPECTED a split brain or a term "
                   "violation, the checker found none\n");
            verdict = 1;
        }
    }
    if (verdict != 0 || opt.keep)
        printf("leader-chaos: %s; files kept in %s\n",
               verdict ? "FAILED" : "passed", dir);
    else
        rfx_rmtree(dir);
    return verdict;
}
