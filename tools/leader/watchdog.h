/* SPDX-License-Identifier: BSD-3-Clause */
/* watchdog.h - the process that owns `leader run`'s child: it starts the
 * child, guards the child's whole process tree against the lease deadline,
 * and outlives the supervisor.
 *
 * The process tree:
 *
 *   leader run (supervisor, subreaper)      the user's process
 *   `- leader-watchdog (own process group, subreaper)
 *      `- CMD (own process group) `- everything CMD starts
 *
 * The watchdog is forked before the library starts its thread, puts itself
 * in a process group of its own (no signal for `leader run`'s job, such as
 * job control's SIGSTOP of the group, reaches it) and becomes a child
 * subreaper, so every descendant of CMD that loses its parent (a
 * double fork, setsid) is re-parented to the watchdog instead of init. It
 * therefore can name every process of the tree: its own children. Killing
 * the tree is "SIGKILL the child's group, then every child of the
 * watchdog, until it has none left", and "none left" is a confirmation.
 *
 * The supervisor and the watchdog share one page (the lease deadline and
 * the term of the leadership the supervisor holds) and two pipes of
 * fixed-size messages: requests one way (spawn, signal, bye), reports the
 * other (started, failed, exited). The watchdog
 * - SIGKILLs the tree at the deadline on the page, whatever the supervisor
 *   is doing (a frozen supervisor publishes no renewal, so the page's
 *   deadline is never later than the lease's);
 * - when the child exits, kills what is left of its tree and reports the
 *   exit only once the tree is gone, so a next child never overlaps it;
 * - when the supervisor dies (its request pipe closes without a bye) kills
 *   the tree, waits until it is gone, and then, if the page names a term,
 *   releases the key with (id, term) on a connection of its own: the
 *   leadership's processes are all dead, so the next candidate may be
 *   elected at once instead of after the key expires.
 * A supervisor that is only stopped closes no pipe: the watchdog then acts
 * at the deadline and never releases. */
#ifndef LEADER_CLI_WATCHDOG_H
#define LEADER_CLI_WATCHDOG_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <leader.h>

struct wd_page {
    atomic_llong deadline_ms; /* on leader_clock_ms()'s clock; 0: none */
    atomic_ullong term;       /* the leadership held, 0: none */
};

/* What the watchdog needs to start children and to release, fixed when it
 * starts. Everything is copied into the watchdog by fork. */
struct wd_spec {
    const char *path;  /* CMD resolved */
    char *const *argv; /* CMD and its arguments */
    const char *id;    /* LEADER_ID */
    const char *key;   /* LEADER_KEY */
    const char *redis_key;
    int64_t margin_ms;      /* a child does not exec this close to the
                             * deadline */
    leader_options release; /* for the release after the supervisor's
                             * death: url, key, id, ttl, wait */
};

enum wd_msg_type {
    /* supervisor -> watchdog */
    WD_SPAWN = 1, /* start CMD with LEADER_TERM = term */
    WD_SIGNAL,    /* send code to the child's tree */
    WD_POKE,      /* the page changed */
    WD_BYE,       /* the supervisor ends cleanly: no release */
    /* watchdog -> supervisor */
    WD_STARTED, /* pid: the child runs */
    WD_FAILED,  /* code: enum spawn_result, err: errno */
    WD_EXITED   /* pid ended with wait status code; its tree is gone;
                 * err: 1 if the watchdog killed it at the deadline */
};

struct wd_msg {
    int type; /* enum wd_msg_type */
    int pid;
    int code;
    int err;
    uint64_t term;
};

struct watchdog {
    struct wd_page *page;
    pid_t pid;
    int req_fd;    /* write end of the requests */
    int report_fd; /* read end of the reports (non-blocking) */
};

/* Maps the page and forks the watchdog. Call before any thread exists
 * (before leader_elect()). Returns 0, or -1 with errno set. */
int watchdog_start(struct watchdog *w, const struct wd_spec *spec);

/* Sends one request. 0, or -1 if the watchdog is gone. */
int watchdog_send(const struct watchdog *w, int type, int code, uint64_t term);

/* Publishes the lease deadline that guards the child's tree (0: none) and
 * pokes the watchdog. */
void watchdog_set_deadline(const struct watchdog *w, int64_t deadline_ms);

/* Publishes the deadline and asks for a child with LEADER_TERM = term, in
 * one message (the request wakes the watchdog; a poke first would cost a
 * second wake-up on the way to the child's start). 0, or -1 if the
 * watchdog is gone. */
int watchdog_spawn(const struct watchdog *w, uint64_t term,
                   int64_t deadline_ms);

/* Publishes the term of the leadership held (0: none), which the watchdog
 * releases if the supervisor dies. */
void watchdog_set_term(const struct watchdog *w, uint64_t term);

/* Reads one report: 1, 0 when there is none yet, -1 when the watchdog has
 * gone (EOF). */
int watchdog_recv(const struct watchdog *w, struct wd_msg *m);

/* Says bye, closes the pipes, waits for the watchdog (it kills what is
 * left of the tree first) and unmaps the page. */
void watchdog_stop(struct watchdog *w);

/* The current time on the lease clock in milliseconds, async-signal-safe
 * (leader_clock_ms()'s clock: CLOCK_BOOTTIME). */
int64_t wd_now_ms(void);

#endif
