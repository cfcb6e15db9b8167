/* SPDX-License-Identifier: BSD-3-Clause */
/* chaos.c - leader-chaos, the chaos harness: real `leader run` candidates
 * on a real Redis under a seeded random schedule of faults, judged
 * afterwards by chaos_check.c from what their children recorded.
 *
 *   leader-chaos [--seed N] [--seconds S] [--candidates N] [--ttl MS]
 *                [--beat MS] [--faults KIND,...] [--tree | --single]
 *                [--naive] [--expect-violation] [--keep] [--tls]
 *                [--servers 1|3|5] [--leader PATH]
 *
 * It starts a redis-server with appendfsync always (the Redis fixture), one
 * leader-proxy per candidate in front of it, and N candidates, each through
 * its own proxy, each running a child that writes leader-heartbeat lines
 * into one shared log: with --tree (the default) a process tree
 * (tree_child.sh: a shell that starts a heartbeat in the background and
 * execs or waits), with --single one leader-heartbeat. Then, until S
 * seconds have passed: a quiet period, one fault, its end, and a bounded
 * wait for a leader to be back. The faults (chaos_check.h's kinds):
 *
 *   kill9          kill -9 a candidate (the leader 2 times in 3), restart it
 *                  with the same id or a new one
 *   sigterm        SIGTERM a candidate (the leader 2 times in 3), restart it
 *   blackhole      the leader's proxy stops forwarding for 2-3 x ttl
 *   reset          the leader's proxy closes its connections every 100 ms
 *                  for 2-3 x ttl
 *   sigstop        SIGSTOP the leader's `leader run` (not its watchdog or
 *                  child) for 2-3 x ttl, then SIGCONT
 *   sigstop-group  SIGSTOP the leader's `leader run`'s whole process group
 *                  (what job control does on Ctrl-Z) for 2-3 x ttl, then
 *                  SIGCONT
 *   kill9-new-leader  kill -9 the leader, then the next one as soon as its
 *                  child beats (long before its first renewal), restarting
 *                  both: a term must be on a majority before it is used
 *   redis-restart  restart Redis cleanly (SIGTERM, start, PING)
 *   redis-kill9    kill -9 Redis and restart it
 *   redis-pause    SIGSTOP Redis for ttl/2 to 4 ttl/5, then SIGCONT: the
 *                  leader's renewal comes late (past the renew-late point)
 *                  but succeeds
 *
 * --servers 3 or 5 is quorum mode: N independent servers, a proxy for each
 * candidate and server (candidates x servers), and every candidate runs
 * `leader run` with one --redis per server. The redis-* kinds give way to
 * (a minority is 1 to floor(N/2) servers, drawn at random):
 *
 *   server-kill9    kill -9 a minority, down for 2-3 x ttl, restarted with
 *                   their data (appendfsync always)
 *   server-restart  a minority stopped cleanly and started again at once
 *   server-empty    a minority killed and started again at once without
 *                   their data (the append-only files deleted)
 *   server-pause    SIGSTOP a minority for 2-3 x ttl, then SIGCONT
 *   link-blackhole  one candidate's proxy to one server (the leader's, 2
 *   link-reset      times in 3) blackholed, or reset every 100 ms, for 2-3
 *                   x ttl
 *   majority-loss   floor(N/2)+1 servers, each killed or frozen, for 3-4 x
 *                   ttl: no leader may be left once a lease has passed
 *   majority-empty  floor(N/2)+1 servers killed and started again at once
 *                   without their data: only the young-server rule keeps
 *                   them from granting a second lease
 *
 * and blackhole and reset cut the candidate off from every server.
 *
 * --tls runs Redis on TLS only (the fixture's throwaway CA and
 * certificates) and the candidates over rediss:// with the CA in
 * LEADER_TLS_CA_CERT: the proxies forward the TLS bytes, so every fault
 * hits TLS sessions (a blackhole in the middle of a handshake, resets
 * mid-record).
 *
 * --leader PATH runs that `leader` instead of the one built with the suite
 * (tests/chaos/CMakeLists.txt builds some with one rule broken, to show
 * that the checker catches each).
 *
 * --naive runs naive_candidate.sh instead of `leader run` (a SET NX +
 * GET-then-PEXPIRE script with no lease deadline; in quorum mode
 * naive_quorum.sh, the same on each server, elected on a majority with no
 * young-server rule and no term commit); with
 * --expect-violation the run passes only if the checker finds a split brain
 * or a term violation, and it ends as soon as one shows up in the log.
 *
 * The harness is a child subreaper (PR_SET_CHILD_SUBREAPER): a process
 * whose parent dies (a candidate's watchdog or a grandchild, when its
 * `leader run` is killed) is reparented to it, and it reaps such processes
 * and judges them: one still alive 500 ms (2 s for a leader-watchdog) after
 * the `leader run` it descends from died is an orphan. Every candidate
 * carries CHAOS_CANDIDATE=TAG:PID in its environment, which all its
 * descendants inherit: that is how a process is traced to its `leader
 * run`, and how the end finds leftovers wherever they were reparented.
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
#define MAX_SERVERS    5
#define ELECTION_KEY   "chaos"
/* How long a process of a candidate may outlive the `leader run` it
 * descends from: a watchdog has time to kill the tree and release the key;
 * anything else must be gone almost at once (the slack is for a loaded
 * machine). At the end, after the SIGKILL of every candidate, heartbeats
 * get END_BOUND_MS. */
#define ORPHAN_BOUND_MS   500
#define WATCHDOG_BOUND_MS 2000
#define END_BOUND_MS      300
#define WATCHDOG_NAME     "leader-watchdog"
#define MAX_ADOPTED       256
#define MAX_ORPHANS       256

/* One candidate slot: a process, its id and its proxies, one to each
 * server (so that one link can be cut). A restarted candidate keeps its
 * slot and proxies. */
struct cand {
    pid_t pid; /* `leader run` or the naive script; 0 when not running */
    char id[64];
    int restarts, spawns;
    proxy_ctl proxy[MAX_SERVERS];
};

static struct {
    unsigned long long seed;
    long seconds, ttl, beat;
    int n, naive, expect_violation, keep, single;
    unsigned kinds; /* bit per enum chaos_kind; 0 until chosen */
    int tls;
    int servers; /* 1, or a quorum of 3 or 5 */
} opt = {0, 60, 1000, 5, 3, 0, 0, 0, 0, 0, 0, 1};

/* --tls: "LEADER_TLS_CA_CERT=<the server's CA>" for the candidates. */
static char tls_ca_env[4200];

/* Every candidate process started, and when the harness reaped it (0:
 * not yet), to judge its descendants after its death. */
struct spawned {
    pid_t pid;
    long long died_us;
};

/* A process reparented to the harness (its parent died). */
struct adoptee {
    pid_t pid;
    pid_t cand; /* the `leader run` it descends from; 0: unknown */
    char name[16];
    int reported;
};

static struct cand cands[MAX_CANDIDATES];
/* The `leader` the candidates run (--leader). */
static const char *leader_bin = LEADER_BIN;
/* The servers; in single-server mode only the first. */
static rfx_server *servers[MAX_SERVERS];
#define redis (servers[0])
static FILE *fault_log;
static char dir[256], hb_path[300], fault_path[300], self_exe[4096];
static long long t0_us; /* when the schedule began */
static volatile sig_atomic_t interrupted;
static uint64_t rng;
/* This run's tag in the candidates' CHAOS_CANDIDATE=TAG:PID. */
static char run_tag[64];
static struct spawned *spawns;
static size_t n_spawns;
static struct adoptee adopted[MAX_ADOPTED];
static volatile sig_atomic_t n_adopted;
static pid_t orphans[MAX_ORPHANS]; /* already recorded */
static int n_orphans;

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
    for (int i = 0; i < n_adopted; i++)
        kill(adopted[i].pid, SIGKILL);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(2);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* Reads /proc/PID/stat: the state and comm (spaces made '_', for the fault
 * log). 0, or -1 when there is no such process. */
static int proc_stat(pid_t pid, char *state, char comm[16])
{
    char path[64], buf[512], *lp, *rp;
    size_t len;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* comm may hold spaces and parentheses: it ends at the last ')'. */
    lp = strchr(buf, '(');
    rp = strrchr(buf, ')');
    if (lp == NULL || rp == NULL || rp < lp ||
        sscanf(rp + 1, " %c", state) != 1)
        return -1;
    if (comm != NULL) {
        size_t n = (size_t) (rp - lp - 1);

        if (n > 15)
            n = 15;
        memcpy(comm, lp + 1, n);
        comm[n] = '\0';
        for (char *q = comm; *q; q++)
            if (*q == ' ' || *q == '\n' || *q == '\t')
                *q = '_';
    }
    return 0;
}

/* 1 while pid is a process that has not exited (a zombie is dead: it only
 * waits for its parent to reap it). */
static int proc_alive(pid_t pid, char comm[16])
{
    char state = 0;

    return proc_stat(pid, &state, comm) == 0 && state != 'Z' && state != 'X';
}

/* The `leader run` whose CHAOS_CANDIDATE=TAG:PID pid carries (inherited
 * from it), or 0: not one of this run's, or unreadable (a zombie has no
 * environment left). */
static pid_t marker_of(pid_t pid)
{
    char path[64], prefix[96], *entry = NULL;
    size_t cap = 0, plen;
    pid_t cand = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/environ", (int) pid);
    snprintf(prefix, sizeof prefix, "CHAOS_CANDIDATE=%s:", run_tag);
    plen = strlen(prefix);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (cand == 0 && getdelim(&entry, &cap, '\0', f) > 0)
        if (strncmp(entry, prefix, plen) == 0)
            cand = (pid_t) atol(entry + plen);
    free(entry);
    fclose(f);
    return cand;
}

static void record_spawn(pid_t pid)
{
    struct spawned *grown = realloc(spawns, (n_spawns + 1) * sizeof *grown);

    if (grown == NULL)
        return;
    spawns = grown;
    spawns[n_spawns].pid = pid;
    spawns[n_spawns++].died_us = 0;
}

/* When candidate process pid was reaped: 0 while it runs, -1 unknown. */
static long long died_at(pid_t pid)
{
    for (size_t i = n_spawns; i-- > 0;)
        if (spawns[i].pid == pid)
            return spawns[i].died_us;
    return -1;
}

/* Records process pid as an orphan (once) and kills it, so that the rest
 * of the run is judged without it. */
static void orphan(pid_t pid, const char *name)
{
    for (int i = 0; i < n_orphans; i++)
        if (orphans[i] == pid)
            return;
    if (n_orphans < MAX_ORPHANS)
        orphans[n_orphans++] = pid;
    event("orphan", "%d %s", (int) pid, name);
    say("ORPHAN: %s %d outlived its candidate: SIGKILL", name, (int) pid);
    kill(pid, SIGKILL);
}

/* 1 for a process the harness started itself (a candidate, a proxy,
 * Redis): those it reaps where it started them. */
static int own_child(pid_t pid)
{
    for (int j = 0; j < opt.servers; j++)
        if (servers[j] != NULL && rfx_pid(servers[j]) == pid)
            return 1;
    for (int i = 0; i < opt.n; i++) {
        if (cands[i].pid == pid)
            return 1;
        for (int j = 0; j < opt.servers; j++)
            if (cands[i].proxy[j].pid == pid)
                return 1;
    }
    return 0;
}

/* The harness' children, from /proc/self/task/TID/children (the harness
 * has one thread), else from a scan of /proc. */
static int list_children(pid_t *pids, int max)
{
    char path[64];
    int n = 0, p;
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int) getpid());
    f = fopen(path, "r");
    if (f != NULL) {
        while (n < max && fscanf(f, "%d", &p) == 1)
            pids[n++] = (pid_t) p;
        fclose(f);
        return n;
    }
    DIR *d = opendir("/proc");
    struct dirent *e;

    while (d != NULL && n < max && (e = readdir(d)) != NULL) {
        char buf[512], *rp;
        int ppid = 0;

        if (atol(e->d_name) <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", atol(e->d_name));
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof buf, f) != NULL &&
            (rp = strrchr(buf, ')')) != NULL &&
            sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == getpid())
            pids[n++] = (pid_t) atol(e->d_name);
        fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Finds the processes reparented to the harness since the last call
 * (adopt lines), reaps the dead ones (gone lines), and records as an
 * orphan (and kills) any still alive ORPHAN_BOUND_MS (WATCHDOG_BOUND_MS for
 * a watchdog) after the `leader run` it descends from was reaped. */
static void scan_adopted(void)
{
    pid_t kids[512];
    int nk = list_children(kids, 512);
    long long now = hb_now_us();

    for (int i = 0; i < nk; i++) {
        struct adoptee *a;
        char state = 0;
        int known = own_child(kids[i]);

        for (int j = 0; j < n_adopted && !known; j++)
            known = adopted[j].pid == kids[i];
        if (known || n_adopted == MAX_ADOPTED)
            continue;
        a = &adopted[n_adopted];
        memset(a, 0, sizeof *a);
        a->pid = kids[i];
        if (proc_stat(a->pid, &state, a->name) != 0)
            snprintf(a->name, sizeof a->name, "?");
        a->cand = marker_of(a->pid);
        n_adopted++;
        event("adopt", "%d %s %d", (int) a->pid, a->name, (int) a->cand);
    }
    for (int i = 0; i < n_adopted;) {
        struct adoptee *a = &adopted[i];
        pid_t r = waitpid(a->pid, NULL, WNOHANG);
        long bound = strcmp(a->name, WATCHDOG_NAME) == 0 ? WATCHDOG_BOUND_MS
                                                         : ORPHAN_BOUND_MS;
        long long died;

        if (r == a->pid || (r == -1 && errno == ECHILD)) {
            event("gone", "%d", (int) a->pid);
            adopted[i] = adopted[n_adopted - 1];
            n_adopted--;
            continue;
        }
        if (!a->reported && a->cand > 0 && (died = died_at(a->cand)) > 0 &&
            now > died + bound * 1000LL) {
            a->reported = 1;
            orphan(a->pid, a->name);
        }
        i++;
    }
}

/* Sleeps ms unless interrupted; restarts candidates that exit on their own
 * meanwhile (their child ended, say), so that N keep campaigning, and
 * looks after the processes reparented to the harness. */
static void reap(void);

static void nap(long ms)
{
    long long end = hb_now_us() + ms * 1000LL;

    while (!interrupted) {
        long long left = end - hb_now_us();
        struct timespec t;

        reap();
        scan_adopted();
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
    char url[MAX_SERVERS][64], port[16], ports[MAX_SERVERS * 8], ttl[16],
        beat[16], pause[32], out[400];
    /* The tree's shape alternates over slots and restarts (not drawn from
     * the seed: how often a slot is spawned depends on timing). */
    static const char *const shapes[] = {"exec", "wait", "escape"};
    const char *shape = shapes[(i + c->spawns++) % 3];
    pid_t parent = getpid(), pid;

    ports[0] = '\0';
    for (int j = 0; j < opt.servers; j++) {
        size_t len = strlen(ports);

        snprintf(url[j], sizeof url[j], "%s://127.0.0.1:%d",
                 opt.tls ? "rediss" : "redis", c->proxy[j].port);
        snprintf(ports + len, sizeof ports - len, "%s%d", j ? " " : "",
                 c->proxy[j].port);
    }
    snprintf(port, sizeof port, "%d", c->proxy[0].port);
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
        const char *naive[] = {
            "/bin/sh", NAIVE_SCRIPT,    port,          ELECTION_KEY, c->id,
            ttl,       pause,           HEARTBEAT_BIN, hb_path,      beat,
            self_exe,  "--exec-pdeath", NULL};
        const char *naive_q[] = {"/bin/sh", NAIVE_QUORUM_SCRIPT,
                                 ports,     ELECTION_KEY,
                                 c->id,     ttl,
                                 pause,     HEARTBEAT_BIN,
                                 hb_path,   beat,
                                 self_exe,  "--exec-pdeath",
                                 NULL};
        /* `leader run` with one --redis per server, then the child. */
        const char *argv[40];
        int a = 0;
        char mark[128];
        int fd;

        argv[a++] = leader_bin;
        argv[a++] = "run";
        for (int j = 0; j < opt.servers; j++) {
            argv[a++] = "--redis";
            argv[a++] = url[j];
        }
        argv[a++] = "--key", argv[a++] = ELECTION_KEY;
        argv[a++] = "--ttl", argv[a++] = ttl;
        argv[a++] = "--wait", argv[a++] = ttl;
        argv[a++] = "--id", argv[a++] = c->id;
        argv[a++] = "--";
        if (opt.single) {
            argv[a++] = HEARTBEAT_BIN, argv[a++] = hb_path;
            argv[a++] = "--interval", argv[a++] = beat;
        } else {
            argv[a++] = "/bin/sh", argv[a++] = TREE_SCRIPT;
            argv[a++] = shape, argv[a++] = HEARTBEAT_BIN;
            argv[a++] = hb_path, argv[a++] = beat;
        }
        argv[a] = NULL;
        if (opt.naive)
            memcpy(argv, opt.servers > 1 ? naive_q : naive,
                   (opt.servers > 1 ? sizeof naive_q : sizeof naive));

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
        /* Inherited by everything it starts: see the top of this file.
         * (The harness has one thread: putenv after fork is safe.) */
        snprintf(mark, sizeof mark, "CHAOS_CANDIDATE=%s:%d", run_tag,
                 (int) getpid());
        putenv(mark);
        if (opt.tls)
            putenv(tls_ca_env);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    setpgid(pid, pid);
    c->pid = pid;
    record_spawn(pid);
    event("spawn", "%d %s %d", i, c->id, (int) pid);
}

/* Records the end of candidate i's process (already reaped). */
static void died(int i, int status, int expected)
{
    struct cand *c = &cands[i];

    for (size_t j = n_spawns; j-- > 0;)
        if (spawns[j].pid == c->pid) {
            spawns[j].died_us = hb_now_us();
            break;
        }
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

/* The slot of a candidate whose child started beating after since_us (a
 * new leader), waiting up to timeout_ms; -1 if none did. */
static int new_leader_since(long long since_us, long timeout_ms)
{
    long long end = hb_now_us() + timeout_ms * 1000LL;

    while (!interrupted && hb_now_us() < end) {
        char err[512];
        hb_log log;
        int slot = -1;

        if (hb_read(hb_path, &log, err, sizeof err) == 0) {
            for (size_t i = 0; i < log.n && slot < 0; i++)
                if (log.children[i].start_us > since_us &&
                    !log.children[i].stopped)
                    for (int c = 0; c < opt.n; c++)
                        if (strcmp(cands[c].id, log.children[i].id) == 0)
                            slot = c;
            hb_free(&log);
        }
        if (slot >= 0)
            return slot;
        nap(opt.beat);
    }
    return -1;
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

/* kill9-new-leader: kill -9 candidate s, then the leader elected after it
 * as soon as its child beats, before its first renewal can have raised
 * anything on the servers; the term the next one gets must still be
 * higher. */
static void kill_new_leader(int s)
{
    long long since = hb_now_us();
    int next;

    say("kill9 %s (pid %d), then the next leader", cands[s].id,
        (int) cands[s].pid);
    kill_and_restart(s, SIGKILL);
    next = new_leader_since(since, 10000 + 10 * opt.ttl);
    if (next < 0)
        return;
    say("kill9 %s (pid %d), leader since a moment", cands[next].id,
        (int) cands[next].pid);
    kill_and_restart(next, SIGKILL);
}

/* Quorum mode: takes server j down (killed with SIGKILL, stopped cleanly,
 * or frozen with SIGSTOP) and records it. 0, or -1. */
enum down_how { DOWN_KILL, DOWN_STOP, DOWN_FREEZE };

static int server_down(int j, enum down_how how)
{
    int rc = how == DOWN_KILL   ? rfx_kill(servers[j])
             : how == DOWN_STOP ? rfx_stop(servers[j])
                                : rfx_pause(servers[j]);

    event("server", "%d down", j);
    return rc;
}

/* Removes what a server keeps of its data (the append-only files, and an
 * RDB snapshot if one was ever written), so that it starts empty: a disk
 * lost, or a server moved to a fresh machine. */
static void wipe_data(int j)
{
    static const char *const files[] = {"appendonlydir", "appendonly.aof",
                                        "dump.rdb"};
    char path[4200];

    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        snprintf(path, sizeof path, "%s/%s", rfx_dir(servers[j]), files[f]);
        rfx_rmtree(path);
    }
}

/* Brings server j back after server_down: SIGCONT for a frozen one (it
 * counts again at once), else a start on the same port, with its data or,
 * with empty, without. 0, or -1 when it would not come back. */
static int server_up(int j, enum down_how how, int empty)
{
    int rc;

    if (how == DOWN_FREEZE) {
        rc = rfx_resume(servers[j]);
        event("server", "%d up", j);
        return rc;
    }
    if (empty)
        wipe_data(j);
    rc = rfx_restart(servers[j], NULL);
    event("server", "%d restarted", j);
    if (rc != 0)
        fprintf(stderr, "leader-chaos: server %d did not restart\n", j);
    return rc;
}

/* The server faults of quorum mode (see the top of this file): cnt
 * servers from perm down for a while or restarted at once, a minority
 * (or, for majority-loss, a majority). */
static int inject_servers(int k, long dur, const int *perm, uint64_t draw)
{
    const char *name = chaos_kind_name(k);
    enum down_how how[MAX_SERVERS];
    char target[64] = "";
    int cnt, rc = 0;

    if (k == CK_MAJORITY_LOSS) {
        cnt = opt.servers / 2 + 1;
        /* Longer than a lease, so that the leader's deadline falls inside
         * and the checker sees the time with no leader. */
        dur += opt.ttl;
    } else if (k == CK_MAJORITY_EMPTY) {
        cnt = opt.servers / 2 + 1;
    } else {
        cnt = 1 + (int) (draw % (uint64_t) (opt.servers / 2));
    }
    draw /= (uint64_t) opt.servers;
    for (int x = 0; x < cnt; x++) {
        size_t len = strlen(target);

        how[x] = k == CK_SERVER_RESTART ? DOWN_STOP
                 : k == CK_SERVER_PAUSE ? DOWN_FREEZE
                 : k != CK_MAJORITY_LOSS
                     ? DOWN_KILL
                     : ((draw >> x) & 1 ? DOWN_FREEZE : DOWN_KILL);
        snprintf(
            target + len, sizeof target - len, "%ss%d%s", x ? "+" : "", perm[x],
            k == CK_MAJORITY_LOSS && how[x] == DOWN_FREEZE ? ":frozen" : "");
    }
    event("fault", "%s %s", name, target);
    if (k == CK_SERVER_KILL9 || k == CK_SERVER_PAUSE || k == CK_MAJORITY_LOSS)
        say("%s %s for %ld ms", name, target, dur);
    else
        say("%s %s", name, target);
    for (int x = 0; x < cnt; x++)
        if (server_down(perm[x], how[x]) != 0)
            rc = -1;
    if (k == CK_SERVER_KILL9 || k == CK_SERVER_PAUSE || k == CK_MAJORITY_LOSS)
        nap(dur);
    for (int x = 0; x < cnt; x++)
        if (server_up(perm[x], how[x],
                      k == CK_SERVER_EMPTY || k == CK_MAJORITY_EMPTY) != 0)
            rc = -1;
    event("heal", "%s %s", name, target);
    return rc;
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
    /* Quorum mode: which servers (a shuffle), how many and how. */
    int perm[MAX_SERVERS];
    uint64_t draw = 0;

    for (int j = 0; j < opt.servers; j++)
        perm[j] = j;
    if (opt.servers > 1) {
        for (int j = opt.servers - 1; j > 0; j--) {
            int x = (int) (rnd() % (uint64_t) (j + 1)), t = perm[j];

            perm[j] = perm[x];
            perm[x] = t;
        }
        draw = rnd();
    }
    if (s < 0 || ((k == CK_KILL9 || k == CK_SIGTERM || k == CK_LINK_BLACKHOLE ||
                   k == CK_LINK_RESET) &&
                  aim % 3 == 0))
        s = (int) (other % (uint64_t) opt.n);
    if (k >= CK_SERVER_KILL9 && k != CK_LINK_BLACKHOLE && k != CK_LINK_RESET)
        return inject_servers(k, dur, perm, draw);
    if (k == CK_LINK_BLACKHOLE || k == CK_LINK_RESET) {
        /* One candidate cut off from one server: it may lead on the
         * others. */
        proxy_ctl *link = &cands[s].proxy[perm[0]];
        char target[96];

        snprintf(target, sizeof target, "%s/s%d", cands[s].id, perm[0]);
        event("fault", "%s %s", name, target);
        say("%s %s for %ld ms", name, target, dur);
        if (k == CK_LINK_BLACKHOLE) {
            proxy_blackhole(link);
            nap(dur);
            proxy_heal(link);
        } else {
            for (end = hb_now_us() + dur * 1000LL;
                 !interrupted && hb_now_us() < end;) {
                proxy_reset(link);
                nap(80); /* plus proxy_reset's own 20 ms */
            }
        }
        event("heal", "%s %s", name, target);
        return 0;
    }
    if (k == CK_REDIS_PAUSE) {
        /* Long enough that the leader's renewal is still unanswered at its
         * renew-late point (ttl - drift - grace after the last confirmed
         * one, the grace being ttl/3), short enough that it is answered
         * before the key expires: its child is ended for a lease that is
         * then renewed. */
        long pause = rnd_range(opt.ttl / 2, opt.ttl * 4 / 5);

        event("fault", "%s redis", name);
        say("%s for %ld ms", name, pause);
        rc = rfx_pause(redis);
        nap(pause);
        if (rfx_resume(redis) != 0)
            rc = -1;
        event("heal", "%s redis", name);
        if (rc != 0)
            fprintf(stderr, "leader-chaos: Redis did not pause or resume\n");
        return rc;
    }
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
    case CK_KILL9_NEW_LEADER:
        kill_new_leader(s);
        break;
    case CK_BLACKHOLE:
        say("%s %s for %ld ms", name, cands[s].id, dur);
        for (int j = 0; j < opt.servers; j++)
            proxy_blackhole(&cands[s].proxy[j]);
        nap(dur);
        for (int j = 0; j < opt.servers; j++)
            proxy_heal(&cands[s].proxy[j]);
        break;
    case CK_RESET:
        say("%s %s every 100 ms for %ld ms", name, cands[s].id, dur);
        for (end = hb_now_us() + dur * 1000LL;
             !interrupted && hb_now_us() < end;) {
            for (int j = 0; j < opt.servers; j++)
                proxy_reset(&cands[s].proxy[j]);
            nap(80); /* plus proxy_reset's own 20 ms each */
        }
        break;
    case CK_SIGSTOP:
        say("%s %s (pid %d) for %ld ms", name, cands[s].id, (int) cands[s].pid,
            dur);
        kill(cands[s].pid, SIGSTOP);
        nap(dur);
        kill(cands[s].pid, SIGCONT);
        break;
    case CK_SIGSTOP_GROUP: {
        /* Every candidate leads a group of its own (spawn): this stops
         * `leader run` and whatever it left in its group, never the
         * harness. */
        pid_t pgid = getpgid(cands[s].pid);

        if (pgid <= 1 || pgid == getpgrp()) {
            say("%s %s: no group of its own (%d), skipped", name, cands[s].id,
                (int) pgid);
            break;
        }
        say("%s %s (group %d) for %ld ms", name, cands[s].id, (int) pgid, dur);
        kill(-pgid, SIGSTOP);
        nap(dur);
        kill(-pgid, SIGCONT);
        break;
    }
    }
    event("heal", "%s %s", name, cands[s].id);
    return 0;
}

/* For a stall: what Redis holds for the election, to tell a stuck key from
 * candidates that do not campaign. */
static void dump_redis(void)
{
    for (int j = 0; j < opt.servers; j++) {
        char *keys = rfx_command(servers[j], "KEYS *leader:*"), *save = NULL;

        if (keys == NULL) {
            say("server %d does not answer", j);
            continue;
        }
        for (char *k = strtok_r(keys, " ", &save); k != NULL;
             k = strtok_r(NULL, " ", &save)) {
            /* The counter is a string too; PTTL -1: no expiry. */
            char *v = rfx_command(servers[j], "GET %s", k);
            char *p = rfx_command(servers[j], "PTTL %s", k);

            say("server %d: %s = %s (pttl %s)", j, k, v ? v : "?", p ? p : "?");
            free(v);
            free(p);
        }
        free(keys);
    }
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

/* The next kind: the enabled kinds are dealt in a shuffled round, so that
 * every kind comes once in each round (a short run still injects each
 * one). */
static int pick_kind(void)
{
    static int bag[CK_NKINDS], left;

    if (left == 0) {
        for (int k = 0; k < CK_NKINDS; k++)
            if (opt.kinds & (1u << k))
                bag[left++] = k;
        for (int j = left - 1; j > 0; j--) {
            int x = (int) (rnd() % (uint64_t) (j + 1)), t = bag[j];

            bag[j] = bag[x];
            bag[x] = t;
        }
    }
    return bag[--left];
}

/* 1 while pid is a live leader-heartbeat writing to this run's log (not a
 * zombie, not a reused pid of another program or of another suite's
 * heartbeat). */
static int heartbeat_alive(pid_t pid)
{
    char path[64], comm[16] = "", *arg = NULL;
    size_t cap = 0;
    int ours = 0;
    FILE *f;

    if (!proc_alive(pid, comm) || strcmp(comm, "leader-heartbea") != 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    /* argv[1] is the log. */
    if (getdelim(&arg, &cap, '\0', f) > 0 && getdelim(&arg, &cap, '\0', f) > 0)
        ours = strcmp(arg, hb_path) == 0;
    free(arg);
    fclose(f);
    return ours;
}

/* Records as orphans the live processes that carry this run's
 * CHAOS_CANDIDATE, wherever they were reparented, and the live processes
 * adopted by the harness that are named leader-* (whatever their
 * environment), except watchdogs unless final. Returns how many watchdogs
 * were spared. Only once every candidate is dead (they carry it too). */
static int sweep_descendants(int final)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int spared = 0;

    for (int i = 0; i < n_adopted; i++) {
        char comm[16];

        if (adopted[i].reported || !proc_alive(adopted[i].pid, comm) ||
            strncmp(comm, "leader-", 7) != 0)
            continue;
        if (!final && strcmp(comm, WATCHDOG_NAME) == 0)
            spared++;
        else
            orphan(adopted[i].pid, comm);
    }

    while (d != NULL && (e = readdir(d)) != NULL) {
        pid_t pid = (pid_t) atol(e->d_name);
        char comm[16];

        if (pid <= 0 || pid == getpid() || !proc_alive(pid, comm) ||
            marker_of(pid) == 0)
            continue;
        if (!final && strcmp(comm, WATCHDOG_NAME) == 0) {
            /* Counted once even when it is also an adoptee above. */
            int seen = 0;

            for (int i = 0; i < n_adopted; i++)
                seen |= adopted[i].pid == pid;
            spared += !seen;
        } else {
            orphan(pid, comm);
        }
    }
    if (d != NULL)
        closedir(d);
    return spared;
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

/* Sleeps ms while looking after adopted processes (nap() without the
 * candidates' restarts, and not cut short by an interruption: the end must
 * be judged whole). */
static void settle(long ms)
{
    for (long long end = hb_now_us() + ms * 1000LL; hb_now_us() < end;) {
        scan_adopted();
        sleep_ms(10);
    }
    scan_adopted();
}

/* The end: SIGKILL every candidate (`leader run` only: what it started
 * must die with it), then look for survivors. END_BOUND_MS later: every
 * process of the log's children still alive, every other live process of
 * a candidate (by its CHAOS_CANDIDATE, wherever it was reparented) but
 * watchdogs; WATCHDOG_BOUND_MS later, watchdogs too; then anything left in
 * a candidate's process group. Survivors are recorded as orphans and
 * killed. */
static void stop_candidates(void)
{
    pid_t groups[MAX_CANDIDATES];
    long long killed;
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
    killed = hb_now_us();
    settle(END_BOUND_MS);
    if (hb_read(hb_path, &log, err, sizeof err) == 0) {
        for (size_t j = 0; j < log.nprocs; j++)
            if (heartbeat_alive(log.procs[j].pid))
                orphan(log.procs[j].pid, "leader-heartbea");
        hb_free(&log);
    }
    while (sweep_descendants(0) > 0 &&
           hb_now_us() - killed < WATCHDOG_BOUND_MS * 1000LL)
        settle(20);
    sweep_descendants(1);
    for (int i = 0; i < opt.n; i++)
        if (groups[i] > 0 && group_alive(groups[i])) {
            event("orphan", "%d group", (int) -groups[i]);
            kill(-groups[i], SIGKILL);
        }
    /* Reap what the kills left to the harness. */
    for (int i = 0; i < 50 && n_adopted > 0; i++)
        settle(10);
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
            "                    [--beat MS] [--faults KIND,...] "
            "[--tree | --single]\n"
            "                    [--naive] [--expect-violation] [--keep] "
            "[--tls] [--servers 1|3|5]\n"
            "                    [--leader PATH]\n"
            "kinds: kill9 sigterm blackhole reset sigstop sigstop-group\n"
            "       kill9-new-leader\n"
            "       with one server: redis-restart redis-kill9 redis-pause\n"
            "       with 3 or 5: server-kill9 server-restart server-empty\n"
            "       server-pause link-blackhole link-reset majority-loss\n"
            "       majority-empty\n");
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
        else if (strcmp(a, "--tls") == 0)
            opt.tls = 1;
        else if (strcmp(a, "--tree") == 0)
            opt.single = 0;
        else if (strcmp(a, "--single") == 0)
            opt.single = 1;
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
        else if (strcmp(a, "--servers") == 0)
            opt.servers = atoi(v);
        else if (strcmp(a, "--leader") == 0)
            leader_bin = v;
        else if (strcmp(a, "--faults") != 0 || parse_kinds(v) != 0)
            usage();
    }
    if (opt.naive && opt.tls) /* the naive script speaks plain TCP */
        usage();
    /* Quorum mode: 3 or 5 servers, over plain TCP (each TLS server of the
     * fixture has a CA of its own, and the candidates trust one). */
    if ((opt.servers != 1 && opt.servers != 3 && opt.servers != 5) ||
        (opt.servers > 1 && opt.tls))
        usage();
    if (opt.kinds == 0)
        opt.kinds = opt.servers > 1 ? CK_QUORUM_KINDS : CK_SINGLE_KINDS;
    if (opt.kinds & ~(opt.servers > 1 ? CK_QUORUM_KINDS : CK_SINGLE_KINDS)) {
        fprintf(stderr, "leader-chaos: %s\n",
                opt.servers > 1 ? "the redis-* kinds need one server: use "
                                  "the server-* kinds"
                                : "the server, link and majority kinds "
                                  "need --servers 3 or 5");
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
    rfx_options ro = {.persist = 1, .tls = opt.tls ? RFX_TLS : 0};
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
    snprintf(run_tag, sizeof run_tag, "%d.%.20s", (int) getpid(),
             strrchr(dir, '.') + 1);
    snprintf(hb_path, sizeof hb_path, "%s/hb.log", dir);
    snprintf(fault_path, sizeof fault_path, "%s/faults.log", dir);
    snprintf(proxy_log, sizeof proxy_log, "%s/proxies.log", dir);
    fault_log = fopen(fault_path, "w");
    if (fault_log == NULL)
        return 2;
    for (int j = 0; j < opt.servers; j++)
        if ((servers[j] = rfx_start(&ro)) == NULL)
            return 2;
    if (opt.tls)
        snprintf(tls_ca_env, sizeof tls_ca_env, "LEADER_TLS_CA_CERT=%s",
                 rfx_tls_file(redis, "ca.crt"));
    for (int i = 0; i < opt.n; i++) {
        snprintf(cands[i].id, sizeof cands[i].id, "c%d", i);
        for (int j = 0; j < opt.servers; j++) {
            /* The proxies log every mode change on stderr: into a file. */
            int saved = dup(STDERR_FILENO),
                fd = open(proxy_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                          0644);
            if (fd != -1)
                dup2(fd, STDERR_FILENO);
            rc = proxy_start(&cands[i].proxy[j], rfx_port(servers[j]), 0);
            if (saved != -1)
                dup2(saved, STDERR_FILENO);
            if (fd != -1)
                close(fd);
            if (saved != -1)
                close(saved);
            if (rc != 0)
                return 2;
        }
    }
    for (int i = 0; i < opt.n; i++)
        spawn(i);
    return 0;
}

static void teardown(void)
{
    for (int i = 0; i < opt.n; i++)
        for (int j = 0; j < opt.servers; j++)
            if (cands[i].proxy[j].pid > 0)
                proxy_stop(&cands[i].proxy[j]);
    for (int j = 0; j < opt.servers; j++) {
        if (servers[j] != NULL)
            rfx_free(servers[j]);
        servers[j] = NULL;
    }
}

static void print_replay(void)
{
    printf("replay: leader-chaos --seed %llu --seconds %ld --candidates %d "
           "--servers %d --ttl %ld --beat %ld%s%s%s%s",
           opt.seed, opt.seconds, opt.n, opt.servers, opt.ttl, opt.beat,
           opt.single && !opt.naive ? " --single" : "",
           opt.naive ? " --naive" : "",
           opt.expect_violation ? " --expect-violation" : "",
           opt.tls ? " --tls" : "");
    if (strcmp(leader_bin, LEADER_BIN) != 0)
        printf(" --leader %s", leader_bin);
    if (opt.kinds != (opt.servers > 1 ? CK_QUORUM_KINDS : CK_SINGLE_KINDS)) {
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
    /* Orphans come to us, to be reaped and judged (scan_adopted). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("leader-chaos: PR_SET_CHILD_SUBREAPER");
        return 2;
    }
    printf("leader-chaos: seed %llu, %d %s candidates (%s children), %d "
           "server%s, ttl %ld ms, %ld s\n",
           opt.seed, opt.n, opt.naive ? "naive" : "`leader run`",
           opt.naive || opt.single ? "single-process" : "process-tree",
           opt.servers, opt.servers > 1 ? "s (quorum)" : "", opt.ttl,
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
        /* The candidates' doing, not the harness': what the servers hold
         * tells a stuck key from candidates that do not campaign. */
        fprintf(stderr,
                "leader-chaos: no leader came up in %ld ms (see the "
                "candidates' .out logs)\n",
                10000 + 5 * opt.ttl);
        dump_redis();
        failed = 1;
    }
    t0_us = hb_now_us();
    event("begin", "%llu %d %ld %d %d", opt.seed, opt.n, opt.ttl, opt.naive,
          opt.servers);
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
    free(spawns);
    spawns = NULL;
    n_spawns = 0;
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
            printf("leader-chaos: the checker caught the %s candidates, "
                   "as expected\n",
                   opt.naive ? "naive" : "broken");
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
