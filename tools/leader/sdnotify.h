/* SPDX-License-Identifier: BSD-3-Clause */
/* sdnotify.h - what `leader run` tells systemd when it runs as a
 * Type=notify service (NOTIFY_SOCKET set): READY=1 once it campaigns, a
 * STATUS= line for every change of who leads, WATCHDOG=1 pings while
 * WatchdogSec= is set, and STOPPING=1 on the way out. Without
 * NOTIFY_SOCKET, or in a build without libsystemd, every call does
 * nothing. */
#ifndef LEADER_CLI_SDNOTIFY_H
#define LEADER_CLI_SDNOTIFY_H

#include <stdint.h>

/* Reads the watchdog interval; now is leader_clock_ms(). */
void sdn_setup(int64_t now);

/* READY=1 with a status line. */
void sdn_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new status line ("leader, term 7", "follower, leader is b"). */
void sdn_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STOPPING=1 with a status line. */
void sdn_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* WATCHDOG=1 if one is due at now. The pings come from the supervisor's
 * loop, so they stop when it is stuck. */
void sdn_watchdog(int64_t now);

/* When the next ping is due, INT64_MAX for never. */
int64_t sdn_next_ping(void);

#endif
