/* SPDX-License-Identifier: BSD-3-Clause */
/* child.h - starting CMD, from the watchdog, as a child in its own process
 * group that does not exec once the lease is too close to its end. */
#ifndef LEADER_CLI_CHILD_H
#define LEADER_CLI_CHILD_H

#include <stdint.h>
#include <sys/types.h>

#include "watchdog.h"

/* What the child's environment gets on top of ours. */
struct child_env {
    const char *id;        /* LEADER_ID */
    const char *key;       /* LEADER_KEY: the election's name */
    const char *redis_key; /* LEADER_REDIS_KEY: leader_key() */
    uint64_t term;         /* LEADER_TERM: the fencing token */
};

enum spawn_result {
    SPAWN_OK = 0,
    SPAWN_LATE,   /* the child found the deadline too close and gave up */
    SPAWN_NOEXEC, /* exec failed (err holds errno) */
    SPAWN_FAILED  /* clone, pipe or memory failed (err holds errno) */
};

/* Finds CMD like execvp would (a name without '/' is searched in $PATH).
 * Returns a malloc'd path, or NULL with errno set (ENOENT: not found). */
char *child_resolve(const char *cmd);

/* Starts path with argv in a new process group, as a clone that shares
 * the caller's memory until it execs (child.c says why); called by the
 * watchdog, which is the child's parent and guards it from the start.
 * The child, before it execs: takes PR_SET_PDEATHSIG = SIGKILL, gives up
 * (SPAWN_LATE) if now >= the page's deadline - margin_ms, and restores the
 * default signal dispositions and mask. A child not yet seen to exec by
 * the deadline is killed (SPAWN_LATE). *pid is the child whenever it was
 * started (0 if not): the caller reaps it. */
enum spawn_result child_spawn(const char *path, char *const argv[],
                              const struct child_env *env,
                              const struct wd_page *page, int64_t margin_ms,
                              pid_t *pid, int *err);

#endif
