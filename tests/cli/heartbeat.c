/* SPDX-License-Identifier: BSD-3-Clause */
/* heartbeat.c - leader-heartbeat, the child the CLI tests run under
 * `leader run`: it appends its life to a shared log, one line per write()
 * with O_APPEND, so that the lines of several children interleave whole:
 *
 *   start TERM ID MS PID [GROUP]    when it starts
 *   beat TERM ID MS PID [GROUP]     every --interval ms
 *   stop TERM ID MS PID [GROUP]     when it ends of its own accord or on
 *                                   SIGTERM
 *
 * TERM and ID come from LEADER_TERM and LEADER_ID; MS is CLOCK_BOOTTIME in
 * milliseconds, with three decimals (the library's clock, comparable across
 * processes). GROUP is written only with --group: several heartbeats of one
 * child's process tree (a script that starts some in the background) pass
 * the same GROUP (the script's own pid, $$), and the log's readers judge
 * them as one child (hblog.h).
 *
 *   leader-heartbeat LOG [--interval MS] [--exit-on FILE] [--exit-code N]
 *                        [--linger MS] [--ignore-term] [--group G]
 *
 * --exit-on FILE ends it (status --exit-code, default 0) once FILE exists;
 * SIGTERM ends it after --linger ms (still beating), with --exit-code;
 * --ignore-term makes it ignore SIGTERM, SIGINT and SIGHUP, so only
 * SIGKILL ends it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;
static int log_fd;
static const char *term_env, *id_env;
static long group; /* 0: no GROUP field */

static long long boot_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long boot_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record(const char *what)
{
    long long us = boot_us();
    char line[512], tail[32] = "";
    int n;

    if (group > 0)
        snprintf(tail, sizeof tail, " %ld", group);
    n = snprintf(line, sizeof line, "%s %s %s %lld.%03lld %d%s\n", what,
                 term_env, id_env, us / 1000, us % 1000, (int) getpid(), tail);

    if (n > 0 && write(log_fd, line, (size_t) n) < 0)
        _exit(111);
}

static void on_term(int sig)
{
    got_term = 1;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&t, NULL); /* a signal cuts it short: that is fine */
}

int main(int argc, char **argv)
{
    long interval = 5, linger = 0;
    const char *exit_on = NULL;
    int code = 0, ignore_term = 0;
    long long term_at = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: leader-heartbeat LOG [options]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc)
            interval = atol(argv[++i]);
        else if (strcmp(argv[i], "--exit-on") == 0 && i + 1 < argc)
            exit_on = argv[++i];
        else if (strcmp(argv[i], "--exit-code") == 0 && i + 1 < argc)
            code = atoi(argv[++i]);
        else if (strcmp(argv[i], "--linger") == 0 && i + 1 < argc)
            linger = atol(argv[++i]);
        else if (strcmp(argv[i], "--ignore-term") == 0)
            ignore_term = 1;
        else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc &&
                 atol(argv[i + 1]) > 0)
            group = atol(argv[++i]);
        else {
            fprintf(stderr, "leader-heartbeat: bad option %s\n", argv[i]);
            return 2;
        }
    }
    term_env = getenv("LEADER_TERM") ? getenv("LEADER_TERM") : "?";
    id_env = getenv("LEADER_ID") ? getenv("LEADER_ID") : "?";
    log_fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd == -1) {
        fprintf(stderr, "leader-heartbeat: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    signal(SIGTERM, ignore_term ? SIG_IGN : on_term);
    if (ignore_term) {
        signal(SIGINT, SIG_IGN); /* leader run forwards what it got */
        signal(SIGHUP, SIG_IGN);
    }
    record("start");
    /* Bounded: a child nobody stops ends after ten minutes. */
    for (long long end = boot_ms() + 600000; boot_ms() < end;) {
        sleep_ms(interval);
        record("beat");
        if (got_term && term_at == 0)
            term_at = boot_ms();
        if ((term_at && boot_ms() - term_at >= linger) ||
            (exit_on && access(exit_on, F_OK) == 0))
            break;
    }
    record("stop");
    return code;
}
