/* supervisor.c - the main thread of `leader run`: one poll() loop over the
 * library's event pipe and the signal self-pipe, with a timeout set by the
 * next thing due (a lease check, the renew-late point, a SIGKILL).
 *
 * The child never runs past the lease:
 * - on REVOKED (any cause) its group gets SIGTERM, and SIGKILL at
 *   min(now + grace, the last known deadline);
 * - when the deadline comes within --grace with no renewal moving it
 *   ("renew late"), SIGTERM, and SIGKILL at the deadline;
 * - in any case SIGKILL at the deadline, here and in the watchdog.
 * Only the main thread forks, signals and reaps; the library's thread only
 * writes event records to the pipe. */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cli.h"
#include "events.h"
#include "log.h"

static void finish(struct run *r, int code);

static const char *revoke_reason(int error)
{
    switch (error) {
    case 0:
        return "stopped";
    case LEADER_ELOST:
        return "another candidate holds the key (renewal refused)";
    case LEADER_ELEASE:
        return "the lease ran out without a confirmed renewal";
    case LEADER_ECONN:
        return "the connection to Redis was lost";
    default:
        return leader_strerror(error);
    }
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGHUP:
        return "SIGHUP";
    case SIGKILL:
        return "SIGKILL";
    default:
        return "a signal";
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Sends sig to the child's group and schedules its SIGKILL, never later
 * than the deadline. An end already under way keeps its cause. */
static void end_child(struct run *r, enum end_cause cause, int sig,
                      int64_t kill_at)
{
    struct child_state *c = &r->child;

    if (c->pid == 0)
        return;
    kill_at = min64(kill_at, c->deadline_ms);
    if (c->ending != END_NONE) {
        c->kill_at_ms = min64(c->kill_at_ms, kill_at);
        return;
    }
    c->ending = cause;
    c->kill_at_ms = kill_at;
    kill(-c->pid, sig);
    log_info("sent %s to the child's group %d (SIGKILL in %" PRId64 " ms)",
             signame(sig), (int) c->pid, kill_at - leader_clock_ms());
}

static void kill_child(struct run *r, const char *why)
{
    struct child_state *c = &r->child;

    kill(-c->pid, SIGKILL);
    c->killed = 1;
    log_info("sent SIGKILL to the child's group %d: %s", (int) c->pid, why);
}

/* Reaps pid, first clearing it from the watchdog's page: its group id can
 * be reused only once it is reaped. Any process left in its group is
 * killed while the zombie still pins the id. */
static int reap(struct run *r, pid_t pid)
{
    int pgid = (int) pid, status = 0;

    kill(-pid, SIGKILL);
    atomic_compare_exchange_strong(&r->wd.page->pgid, &pgid, 0);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    return status;
}

static int status_code(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void log_child_exit(pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        log_info("child %d was killed by signal %d (%s)", (int) pid,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        log_info("child %d exited with status %d", (int) pid,
                 status_code(status));
}

static void child_exited(struct run *r, int status)
{
    enum end_cause cause = r->child.ending;
    int code = status_code(status);

    log_child_exit(r->child.pid, status);
    /* Killed by the watchdog while we were frozen: the lease ran out, the
     * REVOKED event may still be on its way. */
    if (cause == END_NONE &&
        atomic_load(&r->wd.page->kills) != r->child.wd_kills) {
        log_info("the watchdog killed the child at the lease deadline");
        cause = END_REVOKED;
    }
    memset(&r->child, 0, sizeof r->child);
    if (r->stop_sig != 0 || cause == END_NONE)
        finish(r, code); /* told to stop, or it ended by itself */
    else if (r->o.once)
        finish(r, EXIT_LOST);
    /* else: campaign on; a new child starts on the next election */
}

static void check_children(struct run *r)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    /* WNOWAIT: the zombie keeps the group id pinned until reap(). */
    if (r->child.pid != 0 &&
        waitid(P_PID, (id_t) r->child.pid, &info,
               WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == r->child.pid)
        child_exited(r, reap(r, r->child.pid));
    if (!r->done && r->wd.pid > 0 &&
        waitpid(r->wd.pid, NULL, WNOHANG) == r->wd.pid) {
        r->wd.pid = 0;
        log_error("the watchdog exited: stopping, since the child can no "
                  "longer be guarded");
        finish(r, 1);
    }
}

static void on_stop_signal(struct run *r, int sig)
{
    int64_t now = leader_clock_ms();

    if (r->stop_sig != 0) {
        if (r->child.pid != 0 && !r->child.killed)
            kill_child(r, "told to stop twice");
        return;
    }
    r->stop_sig = sig;
    log_info("got %s: stopping", signame(sig));
    if (r->child.pid == 0) {
        finish(r, 128 + sig);
        return;
    }
    end_child(r, END_SIGNAL, sig, now + r->o.grace_ms);
}

static void drain_signals(struct run *r)
{
    unsigned char buf[64];
    ssize_t n;

    while ((n = read(r->sig_pipe[0], buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n && !r->done; i++) {
            if (buf[i] == SIGCHLD)
                check_children(r);
            else
                on_stop_signal(r, buf[i]);
        }
}

static void on_elected(struct run *r, const struct ev_record *e)
{
    int64_t d = leader_lease_deadline(r->l);

    r->leading = 1;
    r->term = e->term;
    if (d > 0)
        r->deadline_ms = d;
    log_info("elected, term %" PRIu64 " (lease %" PRId64 " ms)", e->term,
             d > 0 ? d - leader_clock_ms() : 0);
}

static void on_revoked(struct run *r, const struct ev_record *e)
{
    log_info("revoked, term %" PRIu64 ": %s", e->term, revoke_reason(e->error));
    if (e->term == r->term)
        r->leading = 0;
    if (r->child.pid != 0 && r->child.term == e->term)
        end_child(r, END_REVOKED, SIGTERM, leader_clock_ms() + r->o.grace_ms);
    else if (r->o.once && r->child.pid == 0 && r->stop_sig == 0)
        finish(r, EXIT_LOST);
}

static void drain_events(struct run *r)
{
    struct ev_record e;

    while (!r->done && events_recv(r->ev_pipe[0], &e) == 1) {
        if (e.type == LEADER_EVENT_ELECTED && r->stop_sig == 0)
            on_elected(r, &e);
        else if (e.type == LEADER_EVENT_REVOKED)
            on_revoked(r, &e);
        else if (e.type == LEADER_EVENT_ERROR)
            log_error("redis: %s", e.message);
    }
}

/* Reads the lease and publishes a later deadline to the child's entry and
 * the watchdog. The term is read on both sides of the deadline so that a
 * deadline of a newer leadership is never credited to an older child. */
static void follow_lease(struct run *r, int64_t now)
{
    uint64_t t1 = leader_term(r->l);
    int64_t d = leader_lease_deadline(r->l);
    uint64_t t2 = leader_term(r->l);
    struct child_state *c = &r->child;

    if (t1 != r->term || t2 != t1 || d <= r->deadline_ms)
        return;
    log_debug("renewed, term %" PRIu64 ", lease %" PRId64 " ms", t1, d - now);
    r->deadline_ms = d;
    if (c->pid != 0 && c->term == t1 && c->ending == END_NONE) {
        c->deadline_ms = d;
        atomic_store(&r->wd.page->deadline_ms, d);
    }
}

static void spawn(struct run *r, int64_t now)
{
    struct child_env env = {leader_id(r->l), r->o.key, leader_key(r->l),
                            r->term};
    enum spawn_result res;
    pid_t pid = 0;
    unsigned kills;
    int err;

    if (r->deadline_ms - now <= r->o.grace_ms)
        return; /* too close to the end: wait for a renewal or REVOKED */
    kills = atomic_load(&r->wd.page->kills);
    atomic_store(&r->wd.page->deadline_ms, r->deadline_ms);
    res = child_spawn(r->o.path, r->o.cmd, &env, &r->wd, r->o.grace_ms, &pid,
                      &err);
    if (res == SPAWN_OK) {
        r->child.pid = pid;
        r->child.term = r->term;
        r->child.deadline_ms = r->deadline_ms;
        r->child.wd_kills = kills;
        log_info("child %d started: %s (term %" PRIu64 ")", (int) pid,
                 r->o.cmd[0], r->term);
        return;
    }
    if (pid > 0)
        reap(r, pid);
    if (res == SPAWN_LATE) {
        log_info("the lease is too close to its end to start the command");
    } else if (res == SPAWN_NOEXEC) {
        log_error("cannot execute %s: %s", r->o.path, strerror(err));
        finish(r, err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
    } else {
        log_error("cannot start %s: %s", r->o.path, strerror(err));
        finish(r, 1);
    }
}

/* Everything that is due by the clock. */
static void tick(struct run *r)
{
    int64_t now = leader_clock_ms();
    struct child_state *c = &r->child;

    if (r->leading)
        follow_lease(r, now);
    if (c->pid != 0 && c->ending == END_NONE &&
        c->deadline_ms - now <= r->o.grace_ms) {
        log_info("renew late: the lease ends in %" PRId64
                 " ms with no renewal confirmed",
                 c->deadline_ms - now);
        end_child(r, END_LATE, SIGTERM, c->deadline_ms);
    }
    if (c->pid != 0 && !c->killed &&
        ((c->ending != END_NONE && now >= c->kill_at_ms) ||
         now >= c->deadline_ms))
        kill_child(r, now >= c->deadline_ms ? "the lease deadline"
                                            : "the grace period is over");
    if (r->leading && c->pid == 0 && r->stop_sig == 0 && !r->done)
        spawn(r, now);
}

/* Milliseconds until the next thing due, -1 for none. */
static int next_timeout(const struct run *r)
{
    const struct child_state *c = &r->child;
    int64_t now = leader_clock_ms(), next = INT64_MAX;
    long step = r->o.ttl_ms / 10;

    if (r->leading)
        next = now + (step < 1 ? 1 : step > 1000 ? 1000 : step);
    if (c->pid != 0 && c->ending == END_NONE)
        next = min64(next, c->deadline_ms - r->o.grace_ms);
    if (c->pid != 0 && !c->killed)
        next =
            min64(next, c->ending != END_NONE ? c->kill_at_ms : c->deadline_ms);
    if (next == INT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT_MAX ? INT_MAX : (int) (next - now);
}

/* Ends the run with code: the child's group is killed if it still runs
 * (it has had its grace when we get here), then leadership is released. */
static void finish(struct run *r, int code)
{
    int rc;

    r->done = 1;
    r->exit_code = code;
    if (r->child.pid != 0) {
        log_child_exit(r->child.pid, reap(r, r->child.pid));
        memset(&r->child, 0, sizeof r->child);
    }
    rc = leader_stop(r->l);
    if (rc == 0 && r->leading)
        log_info("released the leadership");
    r->leading = 0;
    log_info("exiting with status %d", code);
}

int supervise(struct run *r)
{
    while (!r->done) {
        struct pollfd fds[2] = {{r->ev_pipe[0], POLLIN, 0},
                                {r->sig_pipe[0], POLLIN, 0}};

        if (poll(fds, 2, next_timeout(r)) == -1 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            finish(r, 1);
            break;
        }
        drain_signals(r);
        if (!r->done)
            drain_events(r);
        if (!r->done)
            tick(r);
    }
    return r->exit_code;
}
