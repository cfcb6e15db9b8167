/* SPDX-License-Identifier: BSD-3-Clause */
/* test_spawn.c - child_spawn(), the way `leader run`'s watchdog starts the
 * child (a clone that shares the watchdog's memory until it execs; a fork
 * in sanitizer builds), on its own with real processes: a child whose
 * deadline, less the margin, has passed never execs; a child runs in a
 * process group of its own with the LEADER_* variables, the default signal
 * dispositions and an empty signal mask although its parent ignores and
 * blocks signals as the watchdog does; it dies with its parent; an exec
 * that fails is reported with its errno; and many starts in a row leave
 * the parent's memory as it was. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cli_util.h"
#include "harness.h"
#include "watchdog.h"

static struct wd_page page;

static const struct child_env env = {"spawn-id", "spawn-key", "leader:spawn",
                                     42};

/* A page whose deadline is in_ms from now. */
static const struct wd_page *deadline_in(int64_t in_ms)
{
    atomic_store(&page.deadline_ms, wd_now_ms() + in_ms);
    atomic_store(&page.term, 42);
    return &page;
}

/* Exit code of pid (128+N for signal N), reaped. */
static int reap(pid_t pid)
{
    int status;

    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Starts argv with stdout into path; returns what child_spawn did. */
static enum spawn_result spawn_into(const char *path, char *const argv[],
                                    const struct wd_page *pg, int64_t margin,
                                    pid_t *pid, int *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int saved = dup(STDOUT_FILENO);
    enum spawn_result res;

    ASSERT(fd >= 0 && saved >= 0);
    ASSERT_EQ(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    res = child_spawn(argv[0], argv, &env, pg, margin, pid, err);
    ASSERT_EQ(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(fd);
    return res;
}

static void read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    ASSERT(f != NULL);
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The deadline less the margin has passed (or is about to): the child
 * gives up before exec, so the command never runs. */
TEST(late_child_never_execs)
{
    static const int64_t ahead[] = {-1000, 0, 50, 99};
    cli_tmp t;
    char marker[320], script[400];
    char *argv[] = {"/bin/sh", "-c", script, NULL};

    cli_tmp_init(&t);
    cli_path(&t, "ran", marker, sizeof marker);
    snprintf(script, sizeof script, "echo ran > %s", marker);
    for (size_t i = 0; i < sizeof ahead / sizeof ahead[0]; i++) {
        pid_t pid;
        int err, code;

        /* Margin 100 ms: deadline - margin is in the past for each. */
        ASSERT_EQ(child_spawn(argv[0], argv, &env, deadline_in(ahead[i]), 100,
                              &pid, &err),
                  SPAWN_LATE);
        ASSERT(pid > 0);
        /* 127: it gave up by itself. With the deadline itself past, the
         * parent also kills it (SIGKILL), which a forked child (sanitizer
         * builds) may get first. */
        code = reap(pid);
        ASSERT(code == 127 || (ahead[i] <= 0 && code == 128 + SIGKILL));
        ASSERT(access(marker, F_OK) != 0);
    }
    /* The same command, in time, runs. */
    {
        pid_t pid;
        int err;

        ASSERT_EQ(child_spawn(argv[0], argv, &env, deadline_in(10000), 100,
                              &pid, &err),
                  SPAWN_OK);
        ASSERT_EQ(reap(pid), 0);
        ASSERT(access(marker, F_OK) == 0);
    }
    cli_tmp_free(&t);
}

/* The parent ignores and blocks signals as the watchdog does; the command
 * gets the defaults, LEADER_TERM and the rest, and a group of its own. */
TEST(child_gets_defaults_env_and_its_own_group)
{
    static const int ignored[] = {SIGINT, SIGHUP, SIGTERM, SIGPIPE, SIGTSTP};
    char *status_argv[] = {"/bin/cat", "/proc/self/status", NULL};
    char *env_argv[] = {"/usr/bin/env", NULL};
    char *sleep_argv[] = {"/bin/sleep", "30", NULL};
    char path[320], buf[8192];
    sigset_t block;
    cli_tmp t;
    pid_t pid;
    int err;

    cli_tmp_init(&t);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        signal(ignored[i], SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);

    cli_path(&t, "status", path, sizeof path);
    ASSERT_EQ(
        spawn_into(path, status_argv, deadline_in(10000), 100, &pid, &err),
        SPAWN_OK);
    ASSERT_EQ(reap(pid), 0);
    read_file(path, buf, sizeof buf);
    ASSERT(strstr(buf, "\nSigBlk:\t0000000000000000\n") != NULL);
    {
        /* Only what the watchdog ignores is reset: a signal ignored by
         * whoever started the test stays so, as it would for any exec. */
        const char *ign = strstr(buf, "\nSigIgn:\t");
        unsigned long long mask;
        ASSERT_NOT_NULL(ign);
        mask = strtoull(ign + 9, NULL, 16);
        for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
            if (mask & (1ULL << (ignored[i] - 1)))
                FAIL("signal %d still ignored in the child (SigIgn %llx)",
                     ignored[i], mask);
    }

    cli_path(&t, "env", path, sizeof path);
    ASSERT_EQ(spawn_into(path, env_argv, deadline_in(10000), 100, &pid, &err),
              SPAWN_OK);
    ASSERT_EQ(reap(pid), 0);
    read_file(path, buf, sizeof buf);
    ASSERT(strstr(buf, "LEADER_TERM=42\n") != NULL);
    ASSERT(strstr(buf, "LEADER_ID=spawn-id\n") != NULL);
    ASSERT(strstr(buf, "LEADER_KEY=spawn-key\n") != NULL);
    ASSERT(strstr(buf, "LEADER_REDIS_KEY=leader:spawn\n") != NULL);

    ASSERT_EQ(child_spawn(sleep_argv[0], sleep_argv, &env, deadline_in(10000),
                          100, &pid, &err),
              SPAWN_OK);
    ASSERT_EQ(getpgid(pid), pid);
    ASSERT(pid != getpgrp());
    kill(pid, SIGKILL);
    ASSERT_EQ(reap(pid), 128 + SIGKILL);
    cli_tmp_free(&t);
}

/* Armed before exec: when its parent (the watchdog) dies, the command is
 * killed. We adopt it as subreaper to see how it ended. */
TEST(child_dies_with_its_parent)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    int fds[2];
    pid_t parent, child = 0;

    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    ASSERT_EQ(pipe(fds), 0);
    parent = fork();
    ASSERT(parent >= 0);
    if (parent == 0) {
        pid_t pid;
        int err;

        if (child_spawn(argv[0], argv, &env, deadline_in(10000), 100, &pid,
                        &err) != SPAWN_OK ||
            write(fds[1], &pid, sizeof pid) != (ssize_t) sizeof pid)
            _exit(1);
        _exit(0);
    }
    ASSERT_EQ(read(fds[0], &child, sizeof child), (ssize_t) sizeof child);
    ASSERT_EQ(reap(parent), 0);
    /* Re-parented to us, and killed by its parent-death signal. */
    ASSERT_EQ(reap(child), 128 + SIGKILL);
    close(fds[0]);
    close(fds[1]);
}

/* An exec that fails is reported, with the errno the child saw. */
TEST(failed_exec_reports_errno)
{
    cli_tmp t;
    char path[320];
    char *argv[] = {path, NULL};
    pid_t pid;
    int err, fd;

    cli_tmp_init(&t);
    cli_path(&t, "not-executable", path, sizeof path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    close(fd);
    ASSERT_EQ(
        child_spawn(path, argv, &env, deadline_in(10000), 100, &pid, &err),
        SPAWN_NOEXEC);
    ASSERT_EQ(err, EACCES);
    ASSERT(pid > 0);
    ASSERT_EQ(reap(pid), 127);
    cli_tmp_free(&t);
}

/* Starts in a row: each child exits 0, and the parent's stack and heap
 * around the starts are untouched. */
TEST(many_starts_leave_the_parent_intact)
{
    char *argv[] = {"/bin/true", NULL};
    volatile unsigned char guard[256];
    unsigned char *heap = malloc(4096);

    ASSERT(heap != NULL);
    memset((void *) guard, 0xa5, sizeof guard);
    memset(heap, 0x5a, 4096);
    for (int i = 0; i < 200; i++) {
        pid_t pid;
        int err;

        ASSERT_EQ(child_spawn(argv[0], argv, &env, deadline_in(10000), 100,
                              &pid, &err),
                  SPAWN_OK);
        ASSERT_EQ(reap(pid), 0);
    }
    for (size_t i = 0; i < sizeof guard; i++)
        ASSERT_EQ(guard[i], 0xa5);
    for (size_t i = 0; i < 4096; i++)
        ASSERT_EQ(heap[i], 0x5a);
    free(heap);
}
