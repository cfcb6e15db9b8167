/* SPDX-License-Identifier: BSD-3-Clause */
/* cli_util.h - helpers for the CLI tests: running `leader` and
 * leader-heartbeat as real processes, waiting on them with bounds, and
 * reading their output. Paths of the programs come from the build
 * (LEADER_BIN, HEARTBEAT_BIN). */
#ifndef LEADER_TEST_CLI_UTIL_H
#define LEADER_TEST_CLI_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "hblog.h"

struct rfx_server;

/* A private redis-server (persist: with appendonly, password: or NULL) on
 * a port below the kernel's ephemeral range: while the server restarts,
 * a client reconnecting in a loop to a port in that range can be handed
 * the very same port as its own source port (a TCP self-connect) and keep
 * it, so the server could not come back. Skips the test without a
 * redis-server. */
struct rfx_server *cli_start_redis(int persist, const char *password);

/* Starts the term counter of the election "cli-test" at 0, so that its
 * terms are 1, 2, ... (a new election's first term is the server's clock
 * in ms, plus one). */
void cli_counter_from_zero(struct rfx_server *s);

/* A growing argv. */
typedef struct cli_args {
    const char *v[64];
    int n;
} cli_args;

/* Appends the NULL-terminated strings. */
void args_add(cli_args *a, ...);

/* A scratch directory for one test, removed by cli_tmp_free. */
typedef struct cli_tmp {
    char dir[256];
    char hb[300]; /* dir/hb.log: the heartbeat log */
} cli_tmp;

void cli_tmp_init(cli_tmp *t);
void cli_tmp_free(cli_tmp *t);
/* dir/name into out. */
void cli_path(const cli_tmp *t, const char *name, char *out, size_t len);

/* Starts argv (argv[0] is the program path) with stdout and stderr
 * appended to out_path (NULL: inherit); env entries "NAME=value" are set,
 * NULL-terminated (env may be NULL). The process dies with the test
 * (PR_SET_PDEATHSIG). Returns its pid. */
pid_t cli_spawn(const char *const argv[], const char *out_path,
                const char *const env[]);

/* A `leader run` candidate: --redis url --key k --id id, then opts (a
 * space-separated string of further options, may be ""), then
 * `-- leader-heartbeat HB [hb_opts]`. Its output goes to dir/<id>.log. */
pid_t cli_candidate(const cli_tmp *t, const char *url, const char *id,
                    const char *opts, const char *hb_opts);

/* The same, with env entries as cli_spawn() takes them. */
pid_t cli_candidate_env(const cli_tmp *t, const char *url, const char *id,
                        const char *opts, const char *hb_opts,
                        const char *const env[]);

/* Waits up to timeout_ms for a child of ours; returns its exit code
 * (128+N for signal N), or -1 on timeout. */
int cli_wait(pid_t pid, int timeout_ms);

/* SIGTERM, then SIGKILL after 5 s; reaps. Returns the exit code. */
int cli_stop(pid_t pid);

/* Runs argv to completion (bounded by timeout_ms) with stdout and stderr
 * captured into the buffers (NUL-terminated, truncated). Returns the
 * exit code, -1 on timeout (the process is killed). */
int cli_capture(const char *const argv[], char *out, size_t outlen, char *err,
                size_t errlen, int timeout_ms);

/* 1 while pid exists and is not a zombie (works for any process). */
int cli_alive(pid_t pid);

/* Polls every 5 ms until pid is dead or a zombie; returns the time it
 * was first seen dead (hb_now_us()), or -1 after timeout_ms. */
long long cli_wait_dead(pid_t pid, int timeout_ms);

/* Waits until the heartbeat log has a child started by id after
 * after_us; returns its pid (start time in *start_us if not NULL), or -1
 * after timeout_ms. */
pid_t cli_wait_child(const cli_tmp *t, const char *id, long long after_us,
                     int timeout_ms, long long *start_us);

/* Reads the heartbeat log and asserts (harness) that it is consistent:
 * no overlap, terms grow. Returns the number of children. */
size_t cli_check_log(const cli_tmp *t);

/* Reads a whole file into a malloc'd string ("" if missing). */
char *cli_read_file(const char *path);

/* 1 if the file contains needle. */
int cli_file_has(const char *path, const char *needle);

/* The pids listed in /proc/PID/task/PID/children (up to max); -1 when the
 * kernel does not provide the list. */
int cli_children_of(pid_t pid, pid_t *out, int max);

void cli_sleep_ms(long ms);

#endif
