/* SPDX-License-Identifier: BSD-3-Clause */
/* opts.h - the options of the leader command: one table serves run,
 * status and watch. Durations take units (500ms, 10s, 2m, 1h; a bare
 * number is milliseconds), some options have environment defaults
 * (LEADER_KEY, LEADER_TTL, LEADER_WAIT, LEADER_TLS_...; a flag wins), and
 * every value is checked in full: a mistake is one line on stderr and
 * exit 2. */
#ifndef LEADER_CLI_OPTS_H
#define LEADER_CLI_OPTS_H

#define CMD_RUN    1u
#define CMD_STATUS 2u
#define CMD_WATCH  4u

#include <stddef.h>

#define MS_MAX              86400000L /* one day, the library's limit */
#define CONNECT_TIMEOUT_MAX 60000L    /* the library's limit */
#define SERVERS_MAX         7 /* the library's most servers of a quorum */

struct cli_opts {
    const char *url; /* NULL: $LEADER_REDIS_URL or the default; the last
                      * --redis */
    /* Every --redis, NULL-terminated when there are several (quorum
     * mode: leader_options.urls, and url is NULL then). */
    const char *urls[SERVERS_MAX + 1];
    size_t nurls; /* how many times --redis was given */
    const char *key;
    const char *id;
    long ttl_ms, wait_ms, grace_ms;
    long timeout_ms;        /* run: give up unless elected within it; -1 none */
    long max_hold_ms;       /* run: hand the leadership on after it; -1 none */
    const char *health_cmd; /* run: sh -c CMD says whether fit to lead */
    long health_interval_ms, health_timeout_ms; /* timeout -1: interval */
    long health_failures;                       /* in a row: unhealthy */
    const char *metrics_listen; /* run: ADDR:PORT to serve /metrics on */
    int grace_set;
    int once, no_wait, quiet, verbose, json;
    const char *log_format; /* run: "text" (NULL) or "json" */
    int log_json;           /* log_format is "json" */
    /* TLS, for rediss:// URLs (leader_options' tls_ fields) */
    const char *tls_ca_cert, *tls_ca_dir, *tls_cert, *tls_key;
    const char *tls_server_name;
    int tls_insecure;
    /* The password, apart from the URL: --redis-password-file's first
     * line, else $LEADER_REDIS_PASSWORD; NULL: the URL's, if any. */
    const char *password_file;
    const char *password;
    char password_buf[512];
    /* 0: the library's defaults, from the ttl */
    long connect_timeout_ms, command_timeout_ms;
    char **cmd; /* run: CMD and its arguments, NULL-terminated */
};

/* Reads a password file as ssh reads a private key: a regular file of
 * ours (or root's) that group and others cannot access; its first line,
 * without the line end, into out. 0, or -1 with the reason in err. */
int read_password_file(const char *path, char *out, size_t len, char *err,
                       size_t errlen);

/* Parses argv (argv[0] is the subcommand's name) for one of CMD_RUN,
 * CMD_STATUS, CMD_WATCH, after filling in the defaults. Returns 0, 1 after
 * --help (printed), or -1 after a usage error (printed). */
int cli_parse(unsigned cmd, int argc, char **argv, struct cli_opts *o);

struct leader_options;

/* Copies the connection options (URL or URLs, and TLS) into lo. */
void cli_connection_options(const struct cli_opts *o,
                            struct leader_options *lo);

/* Parses a duration: digits, then nothing (milliseconds) or one of ms, s,
 * m, h. Returns 0 and the milliseconds in *ms (LONG_MAX when too large to
 * hold), or -1. */
int parse_duration(const char *text, long *ms);

#endif
