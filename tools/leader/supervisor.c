/* SPDX-License-Identifier: BSD-3-Clause */
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
 * The child is the watchdog's (watchdog.h): the supervisor asks it to start
 * the child and to signal the child's tree, and learns of the exit from its
 * reports. Every child gets a term above the previous child's: a second
 * child in one leadership first takes a new term (leader_new_term()). The
 * library's thread only writes event records to the pipe. */
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
#include "sdnotify.h"
#include "tree.h"

static void finish(struct run *r, int code);
static void rest(struct run *r);

static const char *revoke_reason(const struct ev_record *e)
{
    switch (e->error) {
    case 0:
        return e->message[0] != '\0' ? e->message : "stopped";
    case LEADER_ELOST:
        return "another candidate holds the key (renewal refused)";
    case LEADER_ELEASE:
        return "the lease ran out without a confirmed renewal";
    case LEADER_ECONN:
        return "the connection to Redis was lost";
    default:
        return leader_strerror(e->error);
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

static int has_child(const struct child_state *c)
{
    return c->pid != 0 || c->starting;
}

static void tell_watchdog(struct run *r, int sig)
{
    if (watchdog_send(&r->wd, WD_SIGNAL, sig, 0) != 0)
        log_error("cannot reach the watchdog: %s", strerror(errno));
}

/* Sends sig to the child's tree and schedules its SIGKILL, never later
 * than the deadline. An end already under way keeps its cause. */
static void end_child(struct run *r, enum end_cause cause, int sig,
                      int64_t kill_at)
{
    struct child_state *c = &r->child;

    if (!has_child(c))
        return;
    kill_at = min64(kill_at, c->deadline_ms);
    if (c->ending != END_NONE) {
        c->kill_at_ms = min64(c->kill_at_ms, kill_at);
        return;
    }
    c->ending = cause;
    c->kill_at_ms = kill_at;
    tell_watchdog(r, sig);
    log_event(LOG_NORMAL, "child_signaled", c->term, signame(sig),
              "sent %s to the child's tree %d (SIGKILL in %" PRId64 " ms)",
              signame(sig), (int) c->pid, kill_at - leader_clock_ms());
}

static void kill_child(struct run *r, const char *why)
{
    struct child_state *c = &r->child;

    tell_watchdog(r, SIGKILL);
    c->killed = 1;
    log_event(LOG_NORMAL, "child_killed", c->term, why,
              "sent SIGKILL to the child's tree %d: %s", (int) c->pid, why);
}

static int status_code(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void log_child_exit(pid_t pid, uint64_t term, int status)
{
    if (WIFSIGNALED(status))
        log_event(LOG_NORMAL, "child_exited", term, strsignal(WTERMSIG(status)),
                  "child %d was killed by signal %d (%s)", (int) pid,
                  WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        log_event(LOG_NORMAL, "child_exited", term, NULL,
                  "child %d exited with status %d", (int) pid,
                  status_code(status));
}

/* The child has exited and its whole tree is gone (the watchdog reports
 * nothing sooner). */
static void child_exited(struct run *r, int status, int by_deadline)
{
    enum end_cause cause = r->child.ending;
    int code = status_code(status);

    log_child_exit(r->child.pid, r->child.term, status);
    /* Killed by the watchdog while we were frozen: the lease ran out, the
     * REVOKED event may still be on its way. */
    if (cause == END_NONE && by_deadline) {
        log_event(LOG_NORMAL, "child_killed", r->child.term, "lease deadline",
                  "the watchdog killed the child at the lease deadline");
        cause = END_REVOKED;
    }
    memset(&r->child, 0, sizeof r->child);
    if (r->stop_sig != 0 || cause == END_NONE)
        finish(r, code); /* told to stop, or it ended by itself */
    else if (r->o.once)
        finish(r, EXIT_LOST);
    else if (cause == END_ROTATE)
        rest(r);
    /* else: campaign on; a new child starts with a new term */
}

/* The health check said the host is unfit to lead, or fit again. */
static void on_health(struct run *r, enum health_change change)
{
    if (change == HEALTH_BAD) {
        log_event(LOG_NORMAL, "unhealthy", r->term, "--health-cmd",
                  "health: %d failed checks in a row: giving the leadership "
                  "up, not campaigning",
                  r->health.failures_max);
        sdn_status("follower, unhealthy");
        leader_set_healthy(r->l, 0);
    } else if (change == HEALTH_GOOD) {
        log_event(LOG_NORMAL, "healthy", 0, "--health-cmd",
                  "health: the check passes again: campaigning");
        sdn_status("campaigning");
        leader_set_healthy(r->l, 1);
    }
}

static void on_reaped(pid_t pid, int status, void *arg)
{
    struct run *r = arg;

    if (pid == r->wd.pid)
        r->wd.pid = 0;
    else
        on_health(r, health_reaped(&r->health, pid, status, leader_clock_ms()));
}

/* SIGCHLD: our children are the watchdog and, once it is gone, the
 * orphans of the child's tree (we are their subreaper). */
static void check_children(struct run *r)
{
    tree_reap(on_reaped, r);
    if (r->done || r->wd.pid != 0)
        return;
    log_error("the watchdog exited: stopping, since the child can no "
              "longer be guarded");
    if (!tree_kill_all(1000))
        log_error("some of the child's processes would not die");
    if (has_child(&r->child))
        log_info("the child's tree was killed");
    memset(&r->child, 0, sizeof r->child);
    finish(r, 1);
}

static void on_stop_signal(struct run *r, int sig)
{
    int64_t now = leader_clock_ms();

    if (r->stop_sig != 0) {
        if (has_child(&r->child) && !r->child.killed)
            kill_child(r, "told to stop twice");
        return;
    }
    r->stop_sig = sig;
    log_event(LOG_NORMAL, "signal", r->term, signame(sig), "got %s: stopping",
              signame(sig));
    if (!has_child(&r->child)) {
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
    r->elected_once = 1;
    r->led_since_ms = leader_clock_ms();
    r->term = e->term;
    r->term_asked = 0;
    watchdog_set_term(&r->wd, e->term);
    if (d > 0)
        r->deadline_ms = d;
    log_event(LOG_NORMAL, "elected", e->term, NULL,
              "elected, term %" PRIu64 " (lease %" PRId64 " ms)", e->term,
              d > 0 ? d - leader_clock_ms() : 0);
    sdn_status("leader, term %" PRIu64, e->term);
}

static void on_revoked(struct run *r, const struct ev_record *e)
{
    struct child_state *c = &r->child;

    log_event(LOG_NORMAL, "revoked", e->term, revoke_reason(e),
              "revoked, term %" PRIu64 ": %s", e->term, revoke_reason(e));
    sdn_status("follower, leadership lost: %s", revoke_reason(e));
    r->term_asked = 0;
    if (e->term == r->term) {
        r->leading = 0;
        watchdog_set_term(&r->wd, 0);
    }
    if (has_child(c) && c->term == e->term)
        end_child(r, END_REVOKED, SIGTERM, leader_clock_ms() + r->o.grace_ms);
    else if (r->o.once && !has_child(c) && r->stop_sig == 0)
        finish(r, EXIT_LOST);
}

/* Who leads, for systemd; and -n: another candidate leads at the first
 * look, so give up. */
static void on_changed(struct run *r, const struct ev_record *e)
{
    if (e->leader_id[0] == '\0')
        sdn_status("follower, nobody leads");
    else if (strcmp(e->leader_id, leader_id(r->l)) != 0)
        sdn_status("follower, leader is %s (term %" PRIu64 ")", e->leader_id,
                   e->term);
    if (!r->o.no_wait || r->elected_once || r->stop_sig != 0 ||
        e->leader_id[0] == '\0' || strcmp(e->leader_id, leader_id(r->l)) == 0)
        return;
    log_event(LOG_NORMAL, "gave_up", e->term, "--no-wait",
              "%s leads (term %" PRIu64 "): giving up (--no-wait)",
              e->leader_id, e->term);
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
        else if (e.type == LEADER_EVENT_CHANGED)
            on_changed(r, &e);
        else if (e.type == LEADER_EVENT_ERROR)
            log_event(LOG_QUIET, "redis_error", e.term,
                      leader_strerror(e.error), "redis: %s", e.message);
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
    log_event(LOG_VERBOSE, "renewed", t1, NULL,
              "renewed, term %" PRIu64 ", lease %" PRId64 " ms", t1, d - now);
    r->deadline_ms = d;
    if (has_child(c) && c->term == t1 && c->ending == END_NONE) {
        c->deadline_ms = d;
        watchdog_set_deadline(&r->wd, d);
    }
}

/* A second child in one leadership needs a term of its own: the library
 * takes one without letting the key go, as REVOKED then ELECTED. */
static void ask_new_term(struct run *r)
{
    int rc;

    if (r->term_asked)
        return;
    r->term_asked = 1;
    log_event(LOG_NORMAL, "new_term", r->last_child_term, NULL,
              "taking a new term: term %" PRIu64 " was the last child's",
              r->last_child_term);
    if ((rc = leader_new_term(r->l)) != 0)
        log_info("no new term: %s", leader_strerror(rc));
}

static void spawn(struct run *r, int64_t now)
{
    struct child_state *c = &r->child;

    if (r->deadline_ms - now <= r->o.grace_ms)
        return; /* too close to the end: wait for a renewal or REVOKED */
    if (r->term <= r->last_child_term) {
        ask_new_term(r);
        return;
    }
    if (watchdog_spawn(&r->wd, r->term, r->deadline_ms) != 0) {
        log_error("cannot reach the watchdog: %s", strerror(errno));
        finish(r, 1);
        return;
    }
    c->starting = 1;
    c->term = r->term;
    c->deadline_ms = r->deadline_ms;
    r->last_child_term = r->term;
}

static void on_spawn_failed(struct run *r, int res, int err)
{
    if (res == SPAWN_LATE) {
        log_info("the lease is too close to its end to start the command");
    } else if (res == SPAWN_NOEXEC) {
        log_error("cannot execute %s: %s", r->path, strerror(err));
        finish(r, err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
    } else {
        log_error("cannot start %s: %s", r->path, strerror(err));
        finish(r, 1);
    }
}

/* One report of the watchdog about the child. */
static void on_report(struct run *r, const struct wd_msg *m)
{
    struct child_state *c = &r->child;

    if (m->type == WD_STARTED) {
        c->pid = m->pid;
        c->starting = 0;
        log_event(LOG_NORMAL, "child_started", c->term, NULL,
                  "child %d started: %s (term %" PRIu64 ")", m->pid,
                  r->o.cmd[0], c->term);
    } else if (m->type == WD_FAILED) {
        memset(c, 0, sizeof *c);
        if (!r->done)
            on_spawn_failed(r, m->code, m->err);
    } else if (m->type == WD_EXITED && !r->done) {
        child_exited(r, m->code, m->err);
    } else if (m->type == WD_EXITED) {
        log_child_exit(m->pid, c->term, m->code);
        memset(c, 0, sizeof *c);
    }
}

static void drain_reports(struct run *r)
{
    struct wd_msg m;

    while (watchdog_recv(&r->wd, &m) == 1)
        on_report(r, &m);
}

/* --max-hold: when the child is to be ended and the leadership handed on
 * (INT64_MAX: never). */
static int64_t rotate_at(const struct run *r)
{
    if (r->o.max_hold_ms < 0 || !r->leading || !has_child(&r->child) ||
        r->child.ending != END_NONE)
        return INT64_MAX;
    return r->led_since_ms + r->o.max_hold_ms;
}

/* The child of a leadership held for --max-hold is gone: release, and
 * stay out for one --wait so that another candidate takes over. */
static void rest(struct run *r)
{
    int rc = leader_stop(r->l);

    if (rc != 0 && rc != LEADER_ESTATE)
        log_error("cannot stop campaigning: %s", leader_strerror(rc));
    r->leading = 0;
    watchdog_set_term(&r->wd, 0);
    r->rest_until_ms = leader_clock_ms() + r->o.wait_ms;
    log_event(LOG_NORMAL, "resting", r->term, "--max-hold",
              "released the leadership after --max-hold; campaigning again "
              "in %ld ms",
              r->o.wait_ms);
    sdn_status("follower, resting after --max-hold");
}

/* When --timeout gives up, if it still may (INT64_MAX: never). */
static int64_t give_up_at(const struct run *r)
{
    if (r->o.timeout_ms < 0 || r->elected_once || r->stop_sig != 0)
        return INT64_MAX;
    return r->started_ms + r->o.timeout_ms;
}

/* Everything that is due by the clock. */
static void tick(struct run *r)
{
    int64_t now = leader_clock_ms();
    struct child_state *c = &r->child;

    sdn_watchdog(now);
    on_health(r, health_tick(&r->health, now));
    if (now >= give_up_at(r)) {
        log_event(LOG_NORMAL, "gave_up", 0, "--timeout",
                  "not elected within --timeout (%ld ms): giving up",
                  r->o.timeout_ms);
        finish(r, EXIT_LOST);
        return;
    }

    if (r->rest_until_ms != 0 && now >= r->rest_until_ms && !r->done) {
        int rc = leader_elect(r->l);
        r->rest_until_ms = 0;
        if (rc != 0) {
            log_error("cannot campaign: %s", leader_strerror(rc));
            finish(r, 1);
            return;
        }
        log_event(LOG_NORMAL, "campaigning", 0, NULL, "campaigning again");
        sdn_status("campaigning");
    }
    if (now >= rotate_at(r)) {
        log_event(LOG_NORMAL, "max_hold", r->term, "--max-hold",
                  "held the leadership for --max-hold (%ld ms): handing it on",
                  r->o.max_hold_ms);
        end_child(r, END_ROTATE, SIGTERM, now + r->o.grace_ms);
    }
    if (r->leading)
        follow_lease(r, now);
    if (has_child(c) && c->ending == END_NONE &&
        c->deadline_ms - now <= r->o.grace_ms) {
        log_event(LOG_NORMAL, "renew_late", c->term, NULL,
                  "renew late: the lease ends in %" PRId64
                  " ms with no renewal confirmed",
                  c->deadline_ms - now);
        end_child(r, END_LATE, SIGTERM, c->deadline_ms);
    }
    if (has_child(c) && !c->killed &&
        ((c->ending != END_NONE && now >= c->kill_at_ms) ||
         now >= c->deadline_ms))
        kill_child(r, now >= c->deadline_ms ? "the lease deadline"
                                            : "the grace period is over");
    if (r->leading && !has_child(c) && r->stop_sig == 0 && !r->done)
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
    next = min64(next, give_up_at(r));
    next = min64(next, rotate_at(r));
    if (r->rest_until_ms != 0)
        next = min64(next, r->rest_until_ms);
    next = min64(next, sdn_next_ping());
    next = min64(next, health_next(&r->health));
    if (has_child(c) && c->ending == END_NONE)
        next = min64(next, c->deadline_ms - r->o.grace_ms);
    if (has_child(c) && !c->killed)
        next =
            min64(next, c->ending != END_NONE ? c->kill_at_ms : c->deadline_ms);
    if (next == INT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT_MAX ? INT_MAX : (int) (next - now);
}

/* Waits (bounded) for the watchdog to report the end of the child's tree
 * after a SIGKILL. */
static void await_child_end(struct run *r, long timeout_ms)
{
    int64_t end = leader_clock_ms() + timeout_ms;

    while (has_child(&r->child) && leader_clock_ms() < end) {
        struct pollfd pfd = {r->wd.report_fd, POLLIN, 0};
        struct wd_msg m;
        int got;

        poll(&pfd, 1, 10);
        while ((got = watchdog_recv(&r->wd, &m)) == 1)
            on_report(r, &m);
        if (got < 0)
            break; /* the watchdog is gone: our sweep follows */
    }
}

/* Ends the run with code: the child's tree is killed if it still runs (it
 * has had its grace when we get here), then leadership is released. */
static void finish(struct run *r, int code)
{
    int rc;

    r->done = 1;
    r->exit_code = code;
    health_stop(&r->health);
    if (has_child(&r->child) && r->wd.pid > 0) {
        tell_watchdog(r, SIGKILL);
        await_child_end(r, 2000);
    }
    memset(&r->child, 0, sizeof r->child);
    rc = leader_stop(r->l);
    if (rc == 0 && r->leading)
        log_event(LOG_NORMAL, "released", r->term, NULL,
                  "released the leadership");
    r->leading = 0;
    watchdog_set_term(&r->wd, 0);
    log_event(LOG_NORMAL, "exiting", 0, NULL, "exiting with status %d", code);
    sdn_stopping("exiting with status %d", code);
}

int supervise(struct run *r)
{
    while (!r->done) {
        struct pollfd fds[3] = {{r->ev_pipe[0], POLLIN, 0},
                                {r->sig_pipe[0], POLLIN, 0},
                                {r->wd.report_fd, POLLIN, 0}};

        if (poll(fds, 3, next_timeout(r)) == -1 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            finish(r, 1);
            break;
        }
        drain_signals(r);
        if (!r->done)
            drain_reports(r);
        if (!r->done)
            drain_events(r);
        if (!r->done)
            tick(r);
    }
    return r->exit_code;
}
