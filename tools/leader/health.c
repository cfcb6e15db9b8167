/* SPDX-License-Identifier: BSD-3-Clause */
/* health.c - see health.h. The check is started with posix_spawn (the
 * supervisor has the library's thread running, and spawning leaves no
 * window between fork and exec), in a process group of its own so that a
 * timeout kills whatever it started; its standard input and output are
 * /dev/null, its standard error is ours. */
#define _GNU_SOURCE
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"

#define HOLD_CAP_MS 300000 /* 5 minutes */

extern char **environ;

void health_init(struct health *h, const char *cmd, long interval_ms,
                 long timeout_ms, int failures_max, int64_t now)
{
    memset(h, 0, sizeof *h);
    h->cmd = cmd;
    h->interval_ms = interval_ms;
    h->timeout_ms = timeout_ms;
    h->failures_max = failures_max;
    h->next_ms = now; /* the first check at once */
}

static pid_t spawn_check(const char *cmd)
{
    static const int reset[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                                SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
    char *argv[] = {"/bin/sh", "-c", (char *) cmd, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    pid_t pid = 0;
    int rc;

    sigemptyset(&none);
    sigemptyset(&dfl);
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaddset(&dfl, reset[i]);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        log_error("health: cannot start /bin/sh: %s", strerror(rc));
        return 0;
    }
    return pid;
}

static enum health_change failed(struct health *h);

enum health_change health_tick(struct health *h, int64_t now)
{
    if (h->cmd == NULL)
        return HEALTH_SAME;
    if (h->pid > 0 && !h->timed_out && now >= h->started_ms + h->timeout_ms) {
        /* Reaped as killed: a failure. */
        kill(-h->pid, SIGKILL);
        kill(h->pid, SIGKILL);
        h->timed_out = 1;
        return HEALTH_SAME;
    }
    if (h->pid == 0 && now >= h->next_ms) {
        h->pid = spawn_check(h->cmd);
        h->started_ms = now;
        h->timed_out = 0;
        h->next_ms = now + h->interval_ms;
        if (h->pid == 0) /* tried again at the next interval */
            return failed(h);
    }
    return HEALTH_SAME;
}

void health_stop(struct health *h)
{
    if (h->pid > 0) {
        kill(-h->pid, SIGKILL);
        kill(h->pid, SIGKILL);
    }
    h->cmd = NULL;
}

int64_t health_next(const struct health *h)
{
    if (h->cmd == NULL)
        return INT64_MAX;
    if (h->pid > 0)
        return h->timed_out ? INT64_MAX : h->started_ms + h->timeout_ms;
    return h->next_ms;
}

int64_t health_hold_ms(const struct health *h)
{
    int64_t hold = 0;

    if (h->spells > 1) {
        hold = h->interval_ms;
        for (int i = 2; i < h->spells && hold < HOLD_CAP_MS; i++)
            hold *= 2;
    }
    return hold < HOLD_CAP_MS ? hold : HOLD_CAP_MS;
}

static enum health_change passed(struct health *h, int64_t now)
{
    h->fails = 0;
    if (!h->unhealthy) {
        /* Spells are forgotten after a long healthy stretch. */
        if (h->spells > 0 &&
            now - h->healthy_since >= 4 * (health_hold_ms(h) + h->interval_ms))
            h->spells = 0;
        return HEALTH_SAME;
    }
    if (h->passing_since == 0)
        h->passing_since = now;
    if (now - h->passing_since < health_hold_ms(h))
        return HEALTH_SAME;
    h->unhealthy = 0;
    h->passing_since = 0;
    h->healthy_since = now;
    return HEALTH_GOOD;
}

static enum health_change failed(struct health *h)
{
    h->passing_since = 0;
    if (h->unhealthy || ++h->fails < h->failures_max)
        return HEALTH_SAME;
    h->unhealthy = 1;
    h->spells++;
    return HEALTH_BAD;
}

enum health_change health_reaped(struct health *h, pid_t pid, int status,
                                 int64_t now)
{
    if (h->pid <= 0 || pid != h->pid)
        return HEALTH_SAME;
    h->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return passed(h, now);
    if (h->timed_out)
        log_event(LOG_NORMAL, "health_failed", 0, "timeout",
                  "health: the check did not end within --health-timeout "
                  "(%ld ms)",
                  h->timeout_ms);
    else
        log_event(LOG_VERBOSE, "health_failed", 0, NULL,
                  "health: the check failed (status %d)",
                  WIFEXITED(status) ? WEXITSTATUS(status)
                                    : 128 + WTERMSIG(status));
    return failed(h);
}
