/* SPDX-License-Identifier: BSD-3-Clause */
/* health.h - `leader run --health-cmd`: the command that says whether this
 * host is fit to lead. It runs every --health-interval, in a process group
 * of its own, and is killed past --health-timeout (a failure). After
 * --health-failures failures in a row the host is unhealthy: the caller
 * gives the leadership up (leader_set_healthy(l, 0)). It is healthy again
 * after the command passes for a hold that doubles with every unhealthy
 * spell in a short time (from 0, capped at 5 minutes), so that a flapping
 * check does not bounce the leadership. */
#ifndef LEADER_CLI_HEALTH_H
#define LEADER_CLI_HEALTH_H

#include <stdint.h>
#include <sys/types.h>

struct health {
    const char *cmd; /* NULL: no health check */
    long interval_ms, timeout_ms;
    int failures_max;

    pid_t pid;          /* the check running, 0 for none */
    int64_t started_ms; /* ... since */
    int timed_out;      /* ... and killed for running too long */
    int64_t next_ms;    /* the next check */
    int fails;          /* failures in a row */
    int unhealthy;
    int spells;            /* unhealthy spells not yet forgotten */
    int64_t passing_since; /* unhealthy: the first pass of a streak, or 0 */
    int64_t healthy_since; /* healthy again since (to forget spells) */
};

/* What a step of the check decided. */
enum health_change { HEALTH_SAME = 0, HEALTH_BAD, HEALTH_GOOD };

void health_init(struct health *h, const char *cmd, long interval_ms,
                 long timeout_ms, int failures_max, int64_t now);

/* Starts a check when one is due, kills one past its timeout. A check
 * that cannot be started is a failure: returns what changed. */
enum health_change health_tick(struct health *h, int64_t now);

/* When health_tick() must run next (INT64_MAX: never). */
int64_t health_next(const struct health *h);

/* pid was reaped with status: if it is the check, counts its result.
 * Returns what changed. */
enum health_change health_reaped(struct health *h, pid_t pid, int status,
                                 int64_t now);

/* Kills a check still running (leader run is ending). */
void health_stop(struct health *h);

/* The hold before healthy again, for the log. */
int64_t health_hold_ms(const struct health *h);

#endif
