/* SPDX-License-Identifier: BSD-3-Clause */
/* watchdog.c - see watchdog.h. The watchdog is one single-threaded loop
 * over its request pipe, a CLOCK_BOOTTIME timer for the deadline and a
 * signalfd for SIGCHLD. It never waits on the supervisor: its reports go
 * into a non-blocking pipe. */
#define _GNU_SOURCE
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "tree.h"

#define DYING_POLL_MS 1 /* how often a dying tree is swept again */

int64_t wd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the watchdog process ---- */

struct keeper {
    const struct wd_spec *spec;
    struct wd_page *page;
    int req, report, sig; /* request pipe, report pipe, signalfd */
    pid_t child;          /* the direct child, 0: none */
    int child_status;     /* its wait status, once reaped */
    int child_reaped;
    int dying;       /* the tree is being killed: sweep until it is gone */
    int by_deadline; /* it was killed at the deadline */
    int orphaned;    /* the supervisor died */
    int bye;         /* the supervisor said bye */
};

static void report(struct keeper *k, int type, int pid, int code, int err)
{
    struct wd_msg m = {type, pid, code, err, 0};

    /* Non-blocking: a frozen supervisor must not stall the watchdog. Its
     * pipe holds far more reports than one child can cause. */
    if (write(k->report, &m, sizeof m) < 0)
        return;
}

/* Signals the child's tree: its group while the child is unreaped (the
 * zombie pins the group id), and every child of ours, which includes
 * every orphan of the tree. */
static void signal_tree(struct keeper *k, int sig)
{
    if (k->child != 0 && !k->child_reaped)
        kill(-k->child, sig);
    tree_signal_children(sig);
}

static void kill_tree(struct keeper *k)
{
    signal_tree(k, SIGKILL);
    k->dying = 1;
}

static void on_exit_of(pid_t pid, int status, void *arg)
{
    struct keeper *k = arg;

    if (pid != k->child)
        return; /* an orphan of the tree */
    k->child_reaped = 1;
    k->child_status = status;
}

/* Reaps what has ended. When the child ends, the rest of its tree goes
 * with it, and the exit is reported once nothing of the tree is left. */
static void reap(struct keeper *k)
{
    siginfo_t info;
    int none_left;

    /* Kill the group while the exited child still pins its id. Whatever
     * else is left of the tree hangs from our children now (the child's
     * own children came to us before it became a zombie), so the sweep
     * below finds it, and a child that leaves nothing behind is reported
     * at once, without listing our children in /proc. */
    memset(&info, 0, sizeof info);
    if (k->child != 0 && !k->child_reaped &&
        waitid(P_PID, (id_t) k->child, &info, WEXITED | WNOHANG | WNOWAIT) ==
            0 &&
        info.si_pid == k->child) {
        kill(-k->child, SIGKILL);
        k->dying = 1;
    }
    none_left = tree_reap(on_exit_of, k);
    if (k->child_reaped && !none_left && !k->dying)
        kill_tree(k);
    if (k->dying && !none_left)
        tree_signal_children(SIGKILL);
    if (!none_left)
        return;
    k->dying = 0;
    if (k->child != 0 && k->child_reaped)
        report(k, WD_EXITED, k->child, k->child_status, k->by_deadline);
    if (k->child != 0 && k->child_reaped) {
        k->child = 0;
        k->child_reaped = 0;
        k->by_deadline = 0;
    }
}

static void spawn(struct keeper *k, uint64_t term)
{
    const struct wd_spec *s = k->spec;
    struct child_env env = {s->id, s->key, s->redis_key, term};
    enum spawn_result res;
    pid_t pid;
    int err;

    if (k->child != 0) {
        report(k, WD_FAILED, 0, SPAWN_FAILED, EBUSY);
        return;
    }
    res =
        child_spawn(s->path, s->argv, &env, k->page, s->margin_ms, &pid, &err);
    if (res == SPAWN_OK) {
        k->child = pid;
        report(k, WD_STARTED, pid, 0, 0);
        return;
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
            ;
    }
    report(k, WD_FAILED, 0, res, err);
}

static void take_request(struct keeper *k, const struct wd_msg *m)
{
    switch (m->type) {
    case WD_SPAWN:
        spawn(k, m->term);
        break;
    case WD_SIGNAL:
        if (k->child != 0)
            signal_tree(k, m->code);
        if (k->child != 0 && m->code == SIGKILL)
            k->dying = 1;
        break;
    case WD_BYE:
        k->bye = 1;
        break;
    default: /* WD_POKE: the page is read on every turn */
        break;
    }
}

static void read_requests(struct keeper *k)
{
    struct wd_msg m;
    ssize_t n;

    while ((n = read(k->req, &m, sizeof m)) == (ssize_t) sizeof m)
        take_request(k, &m);
    if (n == 0) {
        /* Closed: by the supervisor's exit, or by its death. */
        if (!k->bye)
            k->orphaned = 1;
        k->req = -1;
    }
}

/* After the supervisor's death, with the tree gone: release the
 * leadership the page names, on a connection of our own. Nothing of that
 * leadership can act any more; the script checks (id, term), so a newer
 * leadership is never touched. */
static void release_after_death(struct keeper *k)
{
    uint64_t term = atomic_load(&k->page->term);
    char err[256];
    leader *l;
    int rc;

    if (term == 0)
        return;
    l = leader_new(&k->spec->release, err, sizeof err);
    if (l == NULL) {
        log_error("watchdog: cannot release term %llu: %s",
                  (unsigned long long) term, err);
        return;
    }
    rc = leader_release_term(l, term);
    if (rc == 1)
        log_event(LOG_NORMAL, "watchdog_released", term, "leader run died",
                  "watchdog: leader run died; its child's tree is gone; "
                  "released term %llu",
                  (unsigned long long) term);
    else if (rc == 0)
        log_info("watchdog: leader run died; term %llu was no longer held",
                 (unsigned long long) term);
    else
        log_error("watchdog: leader run died; cannot release term %llu (%s): "
                  "the key expires by itself",
                  (unsigned long long) term, leader_strerror(rc));
    leader_free(l);
}

static _Noreturn void leave(struct keeper *k)
{
    /* Nothing of the tree may outlive us; SIGKILL cannot be refused, so
     * only a process stuck in the kernel delays this. */
    int gone = tree_kill_all(k->spec->release.ttl_ms);

    if (k->orphaned && gone)
        release_after_death(k);
    _exit(0);
}

/* Kills the tree if the deadline has passed; returns the milliseconds to
 * wait for the next thing due (-1: nothing). */
static int check_deadline(struct keeper *k)
{
    int64_t deadline = atomic_load(&k->page->deadline_ms), left;

    if (k->dying)
        return DYING_POLL_MS;
    if (k->child == 0 || k->child_reaped || deadline <= 0)
        return -1;
    left = deadline - wd_now_ms();
    if (left > 0)
        return left > INT_MAX ? INT_MAX : (int) left;
    k->by_deadline = 1;
    kill_tree(k);
    return DYING_POLL_MS;
}

/* Everything the watchdog holds that it did not open for itself (the
 * library's descriptors, the supervisor's pipes) is closed, so that no
 * child inherits it: everything but 0-2 and keep. */
static void close_others(const int *keep, int n)
{
    int lo = 3;

    for (;;) {
        int next = INT_MAX;
        for (int i = 0; i < n; i++)
            if (keep[i] >= lo && keep[i] < next)
                next = keep[i];
        if (next > lo)
            close_range((unsigned) lo,
                        next == INT_MAX ? ~0U : (unsigned) next - 1, 0);
        if (next == INT_MAX)
            return;
        lo = next + 1;
    }
}

static int watch_sigchld(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void drain(int fd)
{
    char buf[512];

    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* The watchdog's whole life. */
static _Noreturn void watchdog_main(struct keeper *k)
{
    static const int ignored[] = {SIGINT,  SIGHUP,  SIGTERM, SIGQUIT,
                                  SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE};
    int keep[2] = {k->req, k->report};

    /* Out of the supervisor's group: a signal to `leader run`'s job (job
     * control's SIGSTOP, a terminal's SIGINT) does not reach us. */
    setpgid(0, 0);
    prctl(PR_SET_NAME, "leader-watchdog");
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        signal(ignored[i], SIG_IGN);
    close_others(keep, 2);
    if (tree_adopt_orphans() == -1 || (k->sig = watch_sigchld()) == -1)
        _exit(1);
    for (;;) {
        struct pollfd fds[2] = {{k->sig, POLLIN, 0}, {k->req, POLLIN, 0}};
        int timeout = check_deadline(k);

        if ((k->orphaned || k->bye) && k->child == 0)
            leave(k);
        if (k->orphaned && k->child != 0 && !k->dying)
            kill_tree(k);
        if (k->orphaned || k->bye)
            timeout = DYING_POLL_MS;
        if (poll(fds, k->req >= 0 ? 2 : 1, timeout) == -1 && errno != EINTR)
            _exit(1);
        drain(k->sig);
        if (k->req >= 0)
            read_requests(k);
        reap(k);
    }
}

/* ---- the supervisor's side ---- */

int watchdog_start(struct watchdog *w, const struct wd_spec *spec)
{
    int req[2], rep[2];
    struct keeper k;

    w->page = mmap(NULL, sizeof *w->page, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w->page == MAP_FAILED) {
        w->page = NULL;
        return -1;
    }
    atomic_init(&w->page->deadline_ms, 0);
    atomic_init(&w->page->term, 0);
    if (pipe2(req, O_CLOEXEC) == -1)
        return -1;
    if (pipe2(rep, O_CLOEXEC | O_NONBLOCK) == -1) {
        close(req[0]);
        close(req[1]);
        return -1;
    }
    w->pid = fork();
    if (w->pid == 0) {
        memset(&k, 0, sizeof k);
        k.spec = spec;
        k.page = w->page;
        k.req = req[0];
        k.report = rep[1];
        fcntl(k.req, F_SETFL, O_NONBLOCK);
        watchdog_main(&k);
    }
    close(req[0]);
    close(rep[1]);
    if (w->pid == -1) {
        int e = errno;
        close(req[1]);
        close(rep[0]);
        errno = e;
        return -1;
    }
    w->req_fd = req[1];
    w->report_fd = rep[0];
    return 0;
}

int watchdog_send(const struct watchdog *w, int type, int code, uint64_t term)
{
    struct wd_msg m = {type, 0, code, 0, term};
    ssize_t n;

    if (w->req_fd < 0)
        return -1;
    do
        n = write(w->req_fd, &m, sizeof m);
    while (n == -1 && errno == EINTR);
    return n == (ssize_t) sizeof m ? 0 : -1;
}

void watchdog_set_deadline(const struct watchdog *w, int64_t deadline_ms)
{
    atomic_store(&w->page->deadline_ms, deadline_ms);
    watchdog_send(w, WD_POKE, 0, 0);
}

int watchdog_spawn(const struct watchdog *w, uint64_t term, int64_t deadline_ms)
{
    atomic_store(&w->page->deadline_ms, deadline_ms);
    return watchdog_send(w, WD_SPAWN, 0, term);
}

void watchdog_set_term(const struct watchdog *w, uint64_t term)
{
    atomic_store(&w->page->term, term);
}

int watchdog_recv(const struct watchdog *w, struct wd_msg *m)
{
    ssize_t n;

    do
        n = read(w->report_fd, m, sizeof *m);
    while (n == -1 && errno == EINTR);
    if (n == (ssize_t) sizeof *m)
        return 1;
    if (n == -1 && errno == EAGAIN)
        return 0;
    return -1;
}

void watchdog_stop(struct watchdog *w)
{
    if (w->page == NULL)
        return;
    if (w->req_fd >= 0) {
        watchdog_send(w, WD_BYE, 0, 0);
        close(w->req_fd);
    }
    w->req_fd = -1;
    if (w->report_fd >= 0)
        close(w->report_fd);
    w->report_fd = -1;
    if (w->pid > 0) {
        /* It exits once the tree is gone; SIGKILL if it does not within
         * two seconds (then we are its subreaper's parent: the caller
         * sweeps what is left). */
        for (int i = 0; i < 200; i++) {
            pid_t r = waitpid(w->pid, NULL, WNOHANG);
            if (r == w->pid || (r == -1 && errno == ECHILD))
                break;
            if (i == 199) {
                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
    w->pid = 0;
    munmap(w->page, sizeof *w->page);
    w->page = NULL;
}
