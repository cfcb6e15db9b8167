/* SPDX-License-Identifier: BSD-3-Clause */
/* tree.h - ending a process tree that is re-parented to us.
 *
 * With PR_SET_CHILD_SUBREAPER, every descendant whose parent dies becomes a
 * child of ours instead of init's. So "signal every child, reap, repeat
 * until none is left" reaches a whole tree, however it forked or whatever
 * session or group it moved to, and "no child left" confirms that nothing
 * of it still runs. */
#ifndef LEADER_CLI_TREE_H
#define LEADER_CLI_TREE_H

#include <sys/types.h>

/* Makes this process a child subreaper. 0, or -1 with errno. */
int tree_adopt_orphans(void);

/* Sends sig to every child of this process. Returns how many were
 * signalled. */
int tree_signal_children(int sig);

/* Reaps every child that has ended, without blocking, calling
 * on_exit(pid, status, arg) for each (on_exit may be NULL). Returns 1 when
 * no child is left, else 0. */
int tree_reap(void (*on_exit)(pid_t pid, int status, void *arg), void *arg);

/* SIGKILLs every child and reaps, repeating until none is left or
 * timeout_ms passes. 1 when none is left, else 0. */
int tree_kill_all(long timeout_ms);

#endif
