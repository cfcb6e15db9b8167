/* SPDX-License-Identifier: BSD-3-Clause */
/* log.h - the leader command's log: one line per state change on stderr,
 * each prefixed with the UTC time (ISO-8601, milliseconds) and the pid, so
 * that the logs of several candidates can be merged and compared. With
 * --log-format json each line is one JSON object instead:
 *
 *   {"time":"2025-01-31T12:00:00.123Z","level":"info","event":"elected",
 *    "key":"nightly","id":"a","pid":4242,"term":7,"cause":null,
 *    "msg":"elected, term 7 (lease 9968 ms)"}
 *
 * time, level (error, info, debug), event, key, id, pid, term and cause
 * are always there; term and cause are null when the line has none. */
#ifndef LEADER_CLI_LOG_H
#define LEADER_CLI_LOG_H

enum log_level {
    LOG_QUIET = 0,  /* -q: errors only */
    LOG_NORMAL = 1, /* state changes */
    LOG_VERBOSE = 2 /* -v: also every renewal */
};

#include <stddef.h>
#include <stdint.h>

enum log_format { LOG_TEXT = 0, LOG_JSON };

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

/* The format, and the election's key and id that JSON lines carry (both
 * borrowed for the process's life). */
void log_set_format(enum log_format format, const char *key, const char *id);

/* A line about event (a short name: "elected", "revoked", ...) at level
 * (LOG_QUIET: an error), with the term it concerns (0: none) and its
 * cause (NULL: none). */
void log_event(enum log_level lvl, const char *event, uint64_t term,
               const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
