/* args.c - strict option parsing shared by the subcommands: every value is
 * checked in full, and every mistake is one line on stderr and exit 2. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/lu_url.h"

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

int opt_value(char **argv, int argc, int *i, const char *cmd, const char *name,
              const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        usage_error(cmd, "option %s needs a value", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int parse_ms(const char *cmd, const char *name, const char *text, long min,
             long max, long *out)
{
    char *end;
    long long v;

    /* strtoll accepts leading blanks and signs; a number of ms does not. */
    if (text[0] < '0' || text[0] > '9') {
        usage_error(cmd, "%s: '%s' is not a number of milliseconds", name,
                    text);
        return -1;
    }
    errno = 0;
    v = strtoll(text, &end, 10);
    if (*end != '\0') {
        usage_error(cmd, "%s: '%s' is not a number of milliseconds", name,
                    text);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        usage_error(cmd, "%s: %s is out of range (%ld..%ld)", name, text, min,
                    max);
        return -1;
    }
    *out = (long) v;
    return 0;
}

void display_url(const char *url, char *out, size_t len)
{
    if (url == NULL)
        url = getenv("LEADER_REDIS_URL");
    if (url == NULL || url[0] == '\0')
        url = DEFAULT_URL;
    lu_url_redact(url, out, len);
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
