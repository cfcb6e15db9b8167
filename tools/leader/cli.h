/* SPDX-License-Identifier: BSD-3-Clause */
/* cli.h - what the files of the leader command share: the subcommands,
 * their usage texts, usage errors and messages (options: opts.h). */
#ifndef LEADER_CLI_H
#define LEADER_CLI_H

#include <stddef.h>

/* Exit statuses of the leader command itself (a child's status passes
 * through unchanged). */
#define EXIT_USAGE    2   /* bad usage */
#define EXIT_REDIS    3   /* status: Redis unreachable or error */
#define EXIT_LOST     75  /* run --once: leadership lost (EX_TEMPFAIL) */
#define EXIT_NOEXEC   126 /* run: CMD found but cannot be executed */
#define EXIT_NOTFOUND 127 /* run: CMD not found */

#define DEFAULT_URL "redis://127.0.0.1:6379"

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_watch(int argc, char **argv);

void usage_main(void);
void usage_run(void);
void usage_status(void);
void usage_watch(void);

/* Prints s to stdout as a JSON string, quoted and escaped. */
void json_string(const char *s);

/* Prints "leader CMD: REASON (see 'leader CMD --help')" on stderr as one
 * line and returns EXIT_USAGE. cmd is "run", "status" or NULL. */
int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct cli_opts;

/* The URL that will be used (the option, $LEADER_REDIS_URL or the default)
 * with any password replaced by "***", for messages; the URLs of a quorum
 * each so, separated by spaces. */
void display_url(const struct cli_opts *o, char *out, size_t len);

/* Enough for display_url() of a quorum's URLs. */
#define DISPLAY_URL_MAX 4096

#endif
