/* SPDX-License-Identifier: BSD-3-Clause */
/* tree.c - see tree.h. Children are listed from /proc: the kernel's
 * per-thread lists (/proc/self/task/TID/children) when it has them, else a
 * scan of every process's parent. */
#define _GNU_SOURCE
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int tree_adopt_orphans(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Signals every pid in a whitespace-separated list; returns how many. */
static int signal_list(FILE *f, int sig)
{
    long pid;
    int n = 0;

    while (fscanf(f, "%ld", &pid) == 1)
        if (pid > 0 && kill((pid_t) pid, sig) == 0)
            n++;
    return n;
}

/* Through the kernel's children lists; -1 when it keeps none. */
static int signal_by_task_lists(int sig)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    char path[300];
    int n = 0, found = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        if ((f = fopen(path, "re")) == NULL)
            continue;
        found = 1;
        n += signal_list(f, sig);
        fclose(f);
    }
    closedir(d);
    return found ? n : -1;
}

/* The parent of pid from /proc/PID/stat, or -1. The name in parentheses
 * may hold anything, so the fields are read after its last ')'. */
static pid_t parent_of(const char *pid)
{
    char path[300], buf[512], *p;
    FILE *f;
    size_t len;
    int ppid;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
        return -1;
    return (pid_t) ppid;
}

static int signal_by_scan(int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t self = getpid();
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
            parent_of(e->d_name) == self &&
            kill((pid_t) atol(e->d_name), sig) == 0)
            n++;
    closedir(d);
    return n;
}

int tree_signal_children(int sig)
{
    int n = signal_by_task_lists(sig);

    return n >= 0 ? n : signal_by_scan(sig);
}

int tree_reap(void (*on_exit)(pid_t pid, int status, void *arg), void *arg)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);

        if (pid > 0) {
            if (on_exit != NULL)
                on_exit(pid, status, arg);
            continue;
        }
        if (pid == -1 && errno == EINTR)
            continue;
        return pid == -1 && errno == ECHILD;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int tree_kill_all(long timeout_ms)
{
    for (long waited = 0;; waited++) {
        tree_signal_children(SIGKILL);
        if (tree_reap(NULL, NULL))
            return 1;
        if (waited >= timeout_ms)
            return 0;
        sleep_ms(1);
    }
}
