/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy_ctl.h - starting and steering leader-proxy from C tests. */
#ifndef LEADER_TEST_PROXY_CTL_H
#define LEADER_TEST_PROXY_CTL_H

#include <sys/types.h>

typedef struct proxy_ctl {
    pid_t pid;
    int port; /* where clients connect */
} proxy_ctl;

/* Starts `leader-proxy [--delay delay_ms] 0 target_port` (the binary is
 * LEADER_PROXY_PATH, set by the build) and waits for its "PORT PID" line.
 * Returns 0, or -1 after printing why. */
int proxy_start(proxy_ctl *p, int target_port, long delay_ms);

/* SIGUSR1: stop forwarding, keep connections. */
int proxy_blackhole(const proxy_ctl *p);
/* SIGUSR2: close every connection now, then pass. */
int proxy_reset(const proxy_ctl *p);
/* SIGHUP: pass again. */
int proxy_heal(const proxy_ctl *p);
/* SIGRTMIN: the connections open now pass nothing any more, for good (a
 * heal does not revive them); new ones pass. */
int proxy_freeze(const proxy_ctl *p);

/* SIGTERM and wait (SIGKILL after 2 s). */
void proxy_stop(proxy_ctl *p);

#endif
