/* SPDX-License-Identifier: BSD-3-Clause */
/* chaos_check.h - the chaos suite's checker: it judges a run from what the
 * leader-heartbeat children recorded (read with hblog.h) and from the
 * harness' own log of the faults it injected, and prints a summary.
 *
 * The fault log has one event per line, times on CLOCK_BOOTTIME in
 * milliseconds with three decimals (the clock of the heartbeat log):
 *
 *   begin MS SEED CANDIDATES TTL NAIVE [SERVERS]
 *                                        the schedule starts (SERVERS: 1
 *                                        when absent)
 *   spawn MS SLOT ID PID                 a candidate was started
 *   died MS SLOT ID PID                  ...and was reaped (or killed) here
 *   fault MS KIND TARGET                 a fault was injected
 *   heal MS KIND TARGET                  ...and lifted
 *   stall MS KIND TARGET                 no leader came back in time
 *   adopt MS PID NAME CAND               a process was reparented to the
 *                                        harness (a subreaper): its parent
 *                                        died; CAND is the pid of the
 *                                        `leader run` it descends from (0:
 *                                        unknown, or not a candidate's)
 *   gone MS PID                          ...and was reaped
 *   orphan MS PID [NAME]                 a process of a candidate outlived
 *                                        it (-PGID: its group was not
 *                                        empty); NAME is its comm
 *   server MS IDX STATE                  quorum mode: server IDX went
 *                                        down (killed or frozen), came
 *                                        back up (resumed: it counts at
 *                                        once) or restarted (it counts for
 *                                        nothing until its young period,
 *                                        ttl + 2 s, is over)
 *   end MS                               the schedule ended
 *
 * What it judges, and how, is in README.md next to this file. */
#ifndef LEADER_TEST_CHAOS_CHECK_H
#define LEADER_TEST_CHAOS_CHECK_H

#include <stdio.h>

/* The fault kinds, in the order of the summary table. */
enum chaos_kind {
    CK_KILL9,
    CK_SIGTERM,
    CK_BLACKHOLE,
    CK_RESET,
    CK_SIGSTOP,
    CK_SIGSTOP_GROUP,
    CK_KILL9_NEW_LEADER,
    CK_REDIS_RESTART,
    CK_REDIS_KILL9,
    CK_REDIS_PAUSE,
    /* Quorum mode only (--servers 3 or 5). */
    CK_SERVER_KILL9,
    CK_SERVER_RESTART,
    CK_SERVER_EMPTY,
    CK_SERVER_PAUSE,
    CK_LINK_BLACKHOLE,
    CK_LINK_RESET,
    CK_MAJORITY_LOSS,
    CK_MAJORITY_EMPTY,
    CK_NKINDS
};

/* The kinds of single-server mode (every kind before CK_SERVER_KILL9) and
 * of quorum mode (the candidate kinds and the server and link kinds), as
 * bit sets. */
#define CK_SINGLE_KINDS ((1u << CK_SERVER_KILL9) - 1)
#define CK_QUORUM_KINDS                                                        \
    (((1u << CK_NKINDS) - 1) &                                                 \
     ~((1u << CK_REDIS_RESTART) | (1u << CK_REDIS_KILL9) |                     \
       (1u << CK_REDIS_PAUSE)))

/* "kill9", "sigterm", ...; NULL for an unknown kind. */
const char *chaos_kind_name(int kind);
/* The kind named name, or -1. */
int chaos_kind_parse(const char *name);

typedef struct chaos_result {
    unsigned long long seed;
    int split_brains;
    int term_violations;
    int orphans;
    int stalls;
    int faults;
    /* Quorum mode: children alive while a majority of the servers had
     * been down for longer than a lease. */
    int majority_leaders;
    int servers;
    /* The share of the time with a leader, over the whole run, and
     * (quorum mode) over the time when at most a minority of the servers
     * were down or young; and how long that time was. */
    double availability, quorum_availability;
    double quorum_up_s;
} chaos_result;

/* Reads both logs, prints the findings and the summary table to out and
 * fills res. Returns 0 when the logs were read (whatever they show), -1
 * when they could not be (message on stderr). */
int chaos_check(const char *hb_path, const char *fault_path, FILE *out,
                chaos_result *res);

/* The exit status a run's result deserves: 1 on a split brain, a term
 * violation, an orphan, a stall or a leader during a majority loss, else
 * 0. */
int chaos_verdict(const chaos_result *res);

#endif
