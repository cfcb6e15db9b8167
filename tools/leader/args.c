/* SPDX-License-Identifier: BSD-3-Clause */
/* args.c - what the subcommands share besides their options: usage
 * errors, URLs for messages, JSON strings. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leader.h>

#include "opts.h"

int usage_error(const char *cmd, const char *fmt, ...)
{
    char reason[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (cmd != NULL)
        fprintf(stderr, "leader %s: %s (see 'leader %s --help')\n", cmd, reason,
                cmd);
    else
        fprintf(stderr, "leader: %s (see 'leader --help')\n", reason);
    return EXIT_USAGE;
}

void display_url(const struct cli_opts *o, char *out, size_t len)
{
    char list[DISPLAY_URL_MAX];
    size_t used = 0;

    if (o->nurls <= 1) {
        leader_url_redact(o->url, out, len);
        return;
    }
    /* The library redacts each URL of a space-separated list. */
    list[0] = '\0';
    for (size_t i = 0; i < o->nurls && used < sizeof list; i++)
        used += (size_t) snprintf(list + used, sizeof list - used, "%s%s",
                                  i > 0 ? " " : "", o->urls[i]);
    leader_url_redact(list, out, len);
}

/* Prints s as a JSON string. */
void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}
