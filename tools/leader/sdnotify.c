/* SPDX-License-Identifier: BSD-3-Clause */
/* sdnotify.c - see sdnotify.h. The messages go through libsystemd's
 * sd_notify(), which reads NOTIFY_SOCKET itself. The child inherits
 * NOTIFY_SOCKET; with systemd's default NotifyAccess=main its messages are
 * ignored, and WATCHDOG_PID tells it that the watchdog is not its own. */
#include "sdnotify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef LEADER_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static int64_t ping_every_ms; /* 0: no watchdog */
static int64_t next_ping = INT64_MAX;

static int enabled(void)
{
#ifdef LEADER_HAVE_SYSTEMD
    const char *sock = getenv("NOTIFY_SOCKET");
    return sock != NULL && sock[0] != '\0';
#else
    return 0;
#endif
}

static void send_state(const char *head, const char *fmt, va_list ap)
{
    char status[256], msg[320];

    if (!enabled())
        return;
    vsnprintf(status, sizeof status, fmt, ap);
    snprintf(msg, sizeof msg, "%sSTATUS=%s", head, status);
#ifdef LEADER_HAVE_SYSTEMD
    (void) sd_notify(0, msg); /* systemd gone: nothing to tell */
#endif
}

void sdn_setup(int64_t now)
{
#ifdef LEADER_HAVE_SYSTEMD
    uint64_t usec = 0;

    if (enabled() && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        /* Twice per interval, as systemd advises. */
        ping_every_ms = (int64_t) (usec / 2000);
        if (ping_every_ms < 1)
            ping_every_ms = 1;
        next_ping = now;
    }
#else
    (void) now;
#endif
}

void sdn_ready(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_state("READY=1\n", fmt, ap);
    va_end(ap);
}

void sdn_status(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_state("", fmt, ap);
    va_end(ap);
}

void sdn_stopping(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_state("STOPPING=1\n", fmt, ap);
    va_end(ap);
}

void sdn_watchdog(int64_t now)
{
    if (ping_every_ms == 0 || now < next_ping)
        return;
#ifdef LEADER_HAVE_SYSTEMD
    (void) sd_notify(0, "WATCHDOG=1");
#endif
    next_ping = now + ping_every_ms;
}

int64_t sdn_next_ping(void)
{
    return next_ping;
}
