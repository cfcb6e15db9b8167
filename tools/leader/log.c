/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c - see log.h. Each line is formatted in full and written with one
 * write(), so that lines from several processes sharing a file do not
 * interleave. The time is wall-clock time: it is for people reading the
 * log, never for deciding anything. */
#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_NORMAL;
static const char *prog = "leader";

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

static void emit(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void emit(const char *fmt, va_list ap)
{
    char line[1024], stamp[40];
    int n, m;

    format_time(stamp, sizeof stamp);
    n = snprintf(line, sizeof line, "%s %s[%d]: ", stamp, prog, (int) getpid());
    if (n < 0 || (size_t) n >= sizeof line)
        return;
    m = vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    /* A failed write to stderr has nowhere to be reported. */
    if (write(STDERR_FILENO, line, (size_t) n) < 0)
        return;
}

void log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    if (level < LOG_NORMAL)
        return;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (level < LOG_VERBOSE)
        return;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}
