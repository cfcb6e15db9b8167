/* SPDX-License-Identifier: BSD-3-Clause */
/* log.h - the leader command's log: one line per state change on stderr,
 * each prefixed with the UTC time (ISO-8601, milliseconds) and the pid, so
 * that the logs of several candidates can be merged and compared. */
#ifndef LEADER_CLI_LOG_H
#define LEADER_CLI_LOG_H

enum log_level {
    LOG_QUIET = 0,  /* -q: errors only */
    LOG_NORMAL = 1, /* state changes */
    LOG_VERBOSE = 2 /* -v: also every renewal */
};

#include <stddef.h>

/* Formats the wall-clock time as "2025-01-31T12:00:00.123Z" into buf. */
void format_time(char *buf, size_t len);

/* Sets the level and the name printed after the time ("leader run"). */
void log_setup(enum log_level level, const char *name);

/* An error: always printed. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A state change: printed unless -q. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A renewal: printed with -v only. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
