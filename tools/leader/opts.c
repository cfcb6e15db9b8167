/* SPDX-License-Identifier: BSD-3-Clause */
/* opts.c - see opts.h. */
#define _GNU_SOURCE
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leader.h>

#include "cli.h"

enum opt_kind { OPT_STRING, OPT_DURATION, OPT_COUNT, OPT_FLAG };

struct opt_spec {
    const char *name;  /* --long */
    const char *alias; /* -x, or NULL */
    enum opt_kind kind;
    unsigned cmds;   /* CMD_... where it applies */
    size_t offset;   /* of its field in struct cli_opts */
    long min, max;   /* durations */
    const char *env; /* environment default, or NULL */
};

#define ALL_CMDS  (CMD_RUN | CMD_STATUS | CMD_WATCH)
#define AT(field) offsetof(struct cli_opts, field)

static const struct opt_spec specs[] = {
    {"--redis", NULL, OPT_STRING, ALL_CMDS, AT(url), 0, 0, NULL},
    {"--key", NULL, OPT_STRING, ALL_CMDS, AT(key), 0, 0, "LEADER_KEY"},
    {"--id", NULL, OPT_STRING, CMD_RUN, AT(id), 0, 0, NULL},
    {"--ttl", NULL, OPT_DURATION, CMD_RUN, AT(ttl_ms), 10, MS_MAX,
     "LEADER_TTL"},
    {"--wait", NULL, OPT_DURATION, CMD_RUN | CMD_WATCH, AT(wait_ms), 0, MS_MAX,
     "LEADER_WAIT"},
    {"--grace", NULL, OPT_DURATION, CMD_RUN, AT(grace_ms), 0, MS_MAX, NULL},
    {"--timeout", NULL, OPT_DURATION, CMD_RUN, AT(timeout_ms), 1, MS_MAX, NULL},
    {"--max-hold", NULL, OPT_DURATION, CMD_RUN, AT(max_hold_ms), 1, MS_MAX,
     NULL},
    {"--health-cmd", NULL, OPT_STRING, CMD_RUN, AT(health_cmd), 0, 0, NULL},
    {"--health-interval", NULL, OPT_DURATION, CMD_RUN, AT(health_interval_ms),
     10, MS_MAX, NULL},
    {"--health-timeout", NULL, OPT_DURATION, CMD_RUN, AT(health_timeout_ms), 1,
     MS_MAX, NULL},
    {"--health-failures", NULL, OPT_COUNT, CMD_RUN, AT(health_failures), 1,
     1000, NULL},
    {"--metrics-listen", NULL, OPT_STRING, CMD_RUN, AT(metrics_listen), 0, 0,
     NULL},
    {"--once", NULL, OPT_FLAG, CMD_RUN, AT(once), 0, 0, NULL},
    {"--no-wait", "-n", OPT_FLAG, CMD_RUN, AT(no_wait), 0, 0, NULL},
    {"--quiet", "-q", OPT_FLAG, CMD_RUN, AT(quiet), 0, 0, NULL},
    {"--verbose", "-v", OPT_FLAG, CMD_RUN, AT(verbose), 0, 0, NULL},
    {"--json", NULL, OPT_FLAG, CMD_STATUS | CMD_WATCH, AT(json), 0, 0, NULL},
    {"--log-format", NULL, OPT_STRING, CMD_RUN, AT(log_format), 0, 0, NULL},
    {"--tls-ca-cert", NULL, OPT_STRING, ALL_CMDS, AT(tls_ca_cert), 0, 0,
     "LEADER_TLS_CA_CERT"},
    {"--tls-ca-dir", NULL, OPT_STRING, ALL_CMDS, AT(tls_ca_dir), 0, 0,
     "LEADER_TLS_CA_DIR"},
    {"--tls-cert", NULL, OPT_STRING, ALL_CMDS, AT(tls_cert), 0, 0,
     "LEADER_TLS_CERT"},
    {"--tls-key", NULL, OPT_STRING, ALL_CMDS, AT(tls_key), 0, 0,
     "LEADER_TLS_KEY"},
    {"--tls-server-name", NULL, OPT_STRING, ALL_CMDS, AT(tls_server_name), 0, 0,
     "LEADER_TLS_SERVER_NAME"},
    {"--tls-insecure", NULL, OPT_FLAG, ALL_CMDS, AT(tls_insecure), 0, 0,
     "LEADER_TLS_INSECURE"},
    {"--redis-password-file", NULL, OPT_STRING, ALL_CMDS, AT(password_file), 0,
     0, NULL},
    {"--connect-timeout", NULL, OPT_DURATION, ALL_CMDS, AT(connect_timeout_ms),
     1, CONNECT_TIMEOUT_MAX, "LEADER_CONNECT_TIMEOUT"},
    {"--command-timeout", NULL, OPT_DURATION, ALL_CMDS, AT(command_timeout_ms),
     1, CONNECT_TIMEOUT_MAX, "LEADER_COMMAND_TIMEOUT"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const char *cmd_name(unsigned cmd)
{
    return cmd == CMD_RUN ? "run" : cmd == CMD_STATUS ? "status" : "watch";
}

int parse_duration(const char *text, long *ms)
{
    static const struct {
        const char *unit;
        long ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    long long v;

    /* strtoll accepts leading blanks and signs; a duration does not. */
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        /* Too large is a duration all the same: the range check says so. */
        if (errno == ERANGE || v > LONG_MAX / units[i].ms)
            *ms = LONG_MAX;
        else
            *ms = (long) v * units[i].ms;
        return 0;
    }
    return -1;
}

/* Stores text as the option's value; where names the source in messages
 * (the option or the environment variable). */
static int take_value(unsigned cmd, const struct opt_spec *s, const char *where,
                      const char *text, struct cli_opts *o)
{
    char *field = (char *) o + s->offset;
    long ms;

    if (s->kind == OPT_STRING) {
        *(const char **) (void *) field = text;
        /* --redis again: one more server; the count is checked once all
         * are known. */
        if (s->offset == AT(url) && o->nurls++ < SERVERS_MAX)
            o->urls[o->nurls - 1] = text;
        return 0;
    }
    if (s->kind == OPT_COUNT) {
        /* Digits only: no sign, no blank, no unit. */
        if (text[0] < '0' || text[0] > '9' ||
            strspn(text, "0123456789") != strlen(text)) {
            usage_error(cmd_name(cmd), "%s: '%s' is not a whole number", where,
                        text);
            return -1;
        }
        errno = 0;
        ms = strtol(text, NULL, 10);
        if (errno == ERANGE || ms < s->min || ms > s->max) {
            usage_error(cmd_name(cmd), "%s: %s is out of range (%ld..%ld)",
                        where, text, s->min, s->max);
            return -1;
        }
        *(long *) (void *) field = ms;
        return 0;
    }
    if (s->kind == OPT_FLAG) { /* only from the environment */
        if (strcmp(text, "1") == 0 || strcmp(text, "yes") == 0 ||
            strcmp(text, "true") == 0)
            *(int *) (void *) field = 1;
        else if (strcmp(text, "0") == 0 || strcmp(text, "no") == 0 ||
                 strcmp(text, "false") == 0)
            *(int *) (void *) field = 0;
        else {
            usage_error(cmd_name(cmd),
                        "%s: '%s' is not a switch (1, yes, true, 0, no or "
                        "false)",
                        where, text);
            return -1;
        }
        return 0;
    }
    if (parse_duration(text, &ms) != 0) {
        usage_error(cmd_name(cmd),
                    "%s: '%s' is not a duration (milliseconds, or a number "
                    "with ms, s, m or h)",
                    where, text);
        return -1;
    }
    if (ms < s->min || ms > s->max) {
        usage_error(cmd_name(cmd), "%s: %s is out of range (%ldms..%ldms)",
                    where, text, s->min, s->max);
        return -1;
    }
    *(long *) (void *) field = ms;
    if (s->offset == AT(grace_ms))
        o->grace_set = 1;
    return 0;
}

static void set_defaults(struct cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->key = "default";
    o->ttl_ms = 10000;
    o->wait_ms = 1000;
    o->timeout_ms = -1;
    o->max_hold_ms = -1;
    o->health_interval_ms = 10000;
    o->health_timeout_ms = -1; /* the interval */
    o->health_failures = 3;
}

static int take_environment(unsigned cmd, struct cli_opts *o)
{
    for (size_t i = 0; i < NSPECS; i++) {
        const char *v = specs[i].env != NULL ? getenv(specs[i].env) : NULL;
        if ((specs[i].cmds & cmd) && v != NULL && v[0] != '\0' &&
            take_value(cmd, &specs[i], specs[i].env, v, o) != 0)
            return -1;
    }
    return 0;
}

/* Matches argv[*i] against one option: as "--name VALUE", "--name=VALUE",
 * or a flag. Returns 1 taken, 0 not this option, -1 usage error. */
static int match(unsigned cmd, const struct opt_spec *s, int argc, char **argv,
                 int *i, struct cli_opts *o)
{
    const char *arg = argv[*i];
    size_t n = strlen(s->name);

    if (s->kind == OPT_FLAG) {
        if (strcmp(arg, s->name) != 0 &&
            (s->alias == NULL || strcmp(arg, s->alias) != 0))
            return 0;
        *(int *) (void *) ((char *) o + s->offset) = 1;
        return 1;
    }
    if (strncmp(arg, s->name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    if (arg[n] == '=')
        return take_value(cmd, s, s->name, arg + n + 1, o) ? -1 : 1;
    if (*i + 1 >= argc) {
        usage_error(cmd_name(cmd), "option %s needs a value", s->name);
        return -1;
    }
    return take_value(cmd, s, s->name, argv[++*i], o) ? -1 : 1;
}

static int take_option(unsigned cmd, int argc, char **argv, int *i,
                       struct cli_opts *o)
{
    for (size_t k = 0; k < NSPECS; k++) {
        int m;
        if (!(specs[k].cmds & cmd))
            continue;
        if ((m = match(cmd, &specs[k], argc, argv, i, o)) != 0)
            return m;
    }
    return 0;
}

static void print_usage(unsigned cmd)
{
    if (cmd == CMD_RUN)
        usage_run();
    else if (cmd == CMD_STATUS)
        usage_status();
    else
        usage_watch();
}

/* What follows the options: CMD for run, nothing for the others. */
static int take_rest(unsigned cmd, int argc, char **argv, int i,
                     struct cli_opts *o)
{
    if (cmd != CMD_RUN) {
        if (i < argc) {
            usage_error(cmd_name(cmd), "unexpected argument '%s'", argv[i]);
            return -1;
        }
        return 0;
    }
    if (i >= argc) {
        usage_error("run", "no command to run after --");
        return -1;
    }
    o->cmd = argv + i;
    return 0;
}

int read_password_file(const char *path, char *out, size_t len, char *err,
                       size_t errlen)
{
    char buf[1024];
    struct stat st;
    ssize_t n;
    size_t line;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s: permissions %04o are too open: a password file must "
                 "not be accessible by group or others (chmod 600 %s)",
                 path, (unsigned) (st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(err, errlen, "%s: owned by uid %u, neither you nor root", path,
                 (unsigned) st.st_uid);
        close(fd);
        return -1;
    }
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    line = strcspn(buf, "\n");
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    if (line == 0 || line >= len || memchr(buf, '\0', line) != NULL) {
        snprintf(err, errlen,
                 "%s: the first line must hold the password (1 to %zu "
                 "bytes)",
                 path, len - 1);
        memset(buf, 0, sizeof buf);
        return -1;
    }
    memcpy(out, buf, line);
    out[line] = '\0';
    memset(buf, 0, sizeof buf);
    return 0;
}

/* The password apart from the URL: the file wins over the environment. */
static int take_password(unsigned cmd, struct cli_opts *o)
{
    const char *env = getenv("LEADER_REDIS_PASSWORD");
    char err[PATH_MAX + 256];

    if (o->password_file != NULL) {
        if (read_password_file(o->password_file, o->password_buf,
                               sizeof o->password_buf, err, sizeof err) != 0) {
            usage_error(cmd_name(cmd), "--redis-password-file %s", err);
            return -1;
        }
        o->password = o->password_buf;
    } else if (env != NULL && *env != '\0') {
        o->password = env;
    }
    return 0;
}

/* Several --redis: a quorum of servers, so an odd number, 3 to
 * SERVERS_MAX, as the library has it. */
static int take_servers(unsigned cmd, struct cli_opts *o)
{
    if (o->nurls <= 1)
        return 0;
    if (o->nurls % 2 == 0 || o->nurls > SERVERS_MAX) {
        usage_error(cmd_name(cmd),
                    "--redis given %zu times: quorum mode needs an odd "
                    "number of servers, 3 to %d: got %zu",
                    o->nurls, SERVERS_MAX, o->nurls);
        return -1;
    }
    o->urls[o->nurls] = NULL;
    o->url = NULL;
    return 0;
}

void cli_connection_options(const struct cli_opts *o, leader_options *lo)
{
    lo->url = o->url;
    lo->urls = o->nurls > 1 ? o->urls : NULL;
    lo->password = o->password;
    lo->tls_ca_cert = o->tls_ca_cert;
    lo->tls_ca_dir = o->tls_ca_dir;
    lo->tls_cert = o->tls_cert;
    lo->tls_key = o->tls_key;
    lo->tls_server_name = o->tls_server_name;
    lo->tls_insecure = o->tls_insecure;
    lo->connect_timeout_ms = o->connect_timeout_ms;
    lo->command_timeout_ms = o->command_timeout_ms;
    /* status and watch hold no lease: their ttl only paces timeouts, and
     * must leave room for the command timeout asked for (run sets its
     * own ttl after this, and checks the two against each other). */
    if (o->command_timeout_ms > lo->ttl_ms / 3)
        lo->ttl_ms = 3 * o->command_timeout_ms;
}

int cli_parse(unsigned cmd, int argc, char **argv, struct cli_opts *o)
{
    int i, m;

    set_defaults(o);
    if (take_environment(cmd, o) != 0)
        return -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 && cmd == CMD_RUN) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(cmd);
            return 1;
        }
        if ((m = take_option(cmd, argc, argv, &i, o)) < 0)
            return -1;
        if (m > 0)
            continue;
        if (a[0] == '-') {
            usage_error(cmd_name(cmd), "unknown option '%s'", a);
            return -1;
        }
        break; /* run: CMD starts here */
    }
    if (take_rest(cmd, argc, argv, i, o) != 0 || take_servers(cmd, o) != 0)
        return -1;
    return take_password(cmd, o);
}
