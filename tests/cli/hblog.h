/* SPDX-License-Identifier: BSD-3-Clause */
/* hblog.h - reading the log that leader-heartbeat children write, and
 * checking it: no two children's lifetimes overlap, and terms grow.
 *
 * A child is the process tree that `leader run` started for one election:
 * one leader-heartbeat process when the log has no GROUP field (the CLI
 * tests), or every heartbeat that wrote the same GROUP, id and term (the
 * chaos suite's script children, whose members pass the script's pid).
 * A child's lifetime is judged from the first start line of any of its
 * processes to the last line (a beat or a stop) of any of them, which is
 * conservative for the "no overlap" check in the sense that it is what
 * the child itself proved it was running: a grandchild left beating after
 * the rest of its tree was stopped keeps its child alive. */
#ifndef LEADER_TEST_HBLOG_H
#define LEADER_TEST_HBLOG_H

#include <stddef.h>
#include <sys/types.h>

typedef struct hb_child {
    /* A process: its pid. A child: its GROUP (the pid of its one process
     * when the log has no GROUP field). */
    pid_t pid;
    pid_t group; /* the GROUP field, or the pid when there is none */
    char id[128];
    unsigned long long term;
    long long start_us, last_us; /* CLOCK_BOOTTIME, microseconds */
    /* A process: it wrote its stop line. A child: all its processes did. */
    int stopped;
    int members;    /* a child: its processes; a process: 1 */
    int nstopped;   /* a child: how many of them wrote a stop line */
    pid_t last_pid; /* the process that wrote the child's last line */
    size_t child;   /* a process: its child's index in hb_log.children */
} hb_child;

typedef struct hb_log {
    hb_child *children; /* the children (process trees), in order of start */
    size_t n;
    hb_child *procs; /* every process, in order of start */
    size_t nprocs;
} hb_log;

/* Reads path (a missing file is an empty log). 0, or -1 on a malformed
 * line (message in err). */
int hb_read(const char *path, hb_log *log, char *err, size_t errlen);
void hb_free(hb_log *log);

/* 0 if the children never overlap and each child's term is strictly
 * greater than the term of the child started before it, else -1 with the
 * first violation in err. No exception for the same id: a `leader run`
 * that starts a second child in one leadership must take a new term
 * first, or two children it ran would share one fencing token. */
int hb_check(const hb_log *log, char *err, size_t errlen);

/* The latest child started by id (NULL: none). */
const hb_child *hb_last_of(const hb_log *log, const char *id);

/* Time in microseconds on the log's clock (CLOCK_BOOTTIME). */
long long hb_now_us(void);

#endif
