/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c - see log.h. Each line is formatted in full and written with one
 * write(), so that lines from several processes sharing a file do not
 * interleave. The time is wall-clock time: it is for people reading the
 * log, never for deciding anything. */
#define _GNU_SOURCE
#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_NORMAL;
static const char *prog = "leader";
static enum log_format format = LOG_TEXT;
static const char *log_key = "", *log_id = "";

void log_setup(enum log_level lvl, const char *name)
{
    level = lvl;
    prog = name;
}

void format_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int) (ts.tv_nsec / 1000000L) % 1000);
}

void log_set_format(enum log_format f, const char *key, const char *id)
{
    format = f;
    log_key = key != NULL ? key : "";
    log_id = id != NULL ? id : "";
}

/* Appends s as a JSON string (quoted, escaped) at line[*n], within cap. */
static void put_json(char *line, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    if (*n + 2 >= cap)
        return;
    line[(*n)++] = '"';
    for (; *s != '\0' && *n + 8 < cap; s++) {
        unsigned char ch = (unsigned char) *s;
        if (ch == '"' || ch == '\\') {
            line[(*n)++] = '\\';
            line[(*n)++] = (char) ch;
        } else if (ch < 0x20) {
            memcpy(line + *n, "\\u00", 4);
            *n += 4;
            line[(*n)++] = hex[ch >> 4];
            line[(*n)++] = hex[ch & 15];
        } else {
            line[(*n)++] = (char) ch;
        }
    }
    line[(*n)++] = '"';
}

static void put_text(char *line, size_t cap, size_t *n, const char *s)
{
    int m = snprintf(line + *n, cap - *n, "%s", s);

    if (m > 0)
        *n += (size_t) m < cap - *n ? (size_t) m : cap - *n - 1;
}

static void write_line(char *line, size_t n)
{
    line[n++] = '\n';
    /* A failed write to stderr has nowhere to be reported. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

static void emit_json(enum log_level lvl, const char *event, uint64_t term,
                      const char *cause, const char *msg)
{
    static const char *const names[] = {"error", "info", "debug"};
    char line[2048], stamp[40], num[48];
    size_t n = 0, cap = sizeof line - 2; /* room for '}' and '\n' */

    format_time(stamp, sizeof stamp);
    put_text(line, cap, &n, "{\"time\":");
    put_json(line, cap, &n, stamp);
    put_text(line, cap, &n, ",\"level\":");
    put_json(line, cap, &n, names[lvl]);
    put_text(line, cap, &n, ",\"event\":");
    put_json(line, cap, &n, event);
    put_text(line, cap, &n, ",\"key\":");
    put_json(line, cap, &n, log_key);
    put_text(line, cap, &n, ",\"id\":");
    put_json(line, cap, &n, log_id);
    snprintf(num, sizeof num, ",\"pid\":%d,\"term\":", (int) getpid());
    put_text(line, cap, &n, num);
    if (term != 0) {
        snprintf(num, sizeof num, "%" PRIu64, term);
        put_text(line, cap, &n, num);
    } else {
        put_text(line, cap, &n, "null");
    }
    put_text(line, cap, &n, ",\"cause\":");
    if (cause != NULL)
        put_json(line, cap, &n, cause);
    else
        put_text(line, cap, &n, "null");
    put_text(line, cap, &n, ",\"msg\":");
    put_json(line, cap, &n, msg);
    line[n++] = '}';
    write_line(line, n);
}

/* A text line: the time, the program and pid, then msg. */
static void log_text(const char *msg)
{
    char line[1024], stamp[40];
    size_t n = 0, cap = sizeof line - 1; /* room for the newline */
    int m;

    format_time(stamp, sizeof stamp);
    m = snprintf(line, cap, "%s %s[%d]: ", stamp, prog, (int) getpid());
    if (m < 0 || (size_t) m >= cap)
        return;
    n = (size_t) m;
    put_text(line, cap, &n, msg); /* truncated if need be */
    write_line(line, n);
}

static void emit(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void emit(enum log_level lvl, const char *fmt, va_list ap)
{
    char msg[1024];

    if (lvl > level)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (format == LOG_JSON)
        emit_json(lvl, lvl == LOG_QUIET ? "error" : "log", 0, NULL, msg);
    else
        log_text(msg);
}

void log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(LOG_QUIET, fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(LOG_NORMAL, fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(LOG_VERBOSE, fmt, ap);
    va_end(ap);
}

void log_event(enum log_level lvl, const char *event, uint64_t term,
               const char *cause, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (lvl > level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (format == LOG_JSON) {
        emit_json(lvl, event, term, cause, msg);
        return;
    }
    log_text(msg);
}
