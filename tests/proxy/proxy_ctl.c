/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy_ctl.c - see proxy_ctl.h. The mode signals are asynchronous: after
 * each one we wait a little, so the proxy has acted on it before the test
 * goes on (it handles signals at the top of its loop, within
 * microseconds; 20 ms is ample). */
#define _GNU_SOURCE
#include "proxy_ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void settle(void)
{
    struct timespec t = {0, 20 * 1000000L};

    nanosleep(&t, NULL);
}

int proxy_start(proxy_ctl *p, int target_port, long delay_ms)
{
    char target[16], delay[24], line[64];
    int fds[2], port, pid;
    ssize_t n;

    snprintf(target, sizeof target, "%d", target_port);
    snprintf(delay, sizeof delay, "%ld", delay_ms);
    if (pipe(fds) == -1)
        return -1;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (delay_ms > 0)
            execl(LEADER_PROXY_PATH, "leader-proxy", "--delay", delay, "0",
                  target, (char *) NULL);
        else
            execl(LEADER_PROXY_PATH, "leader-proxy", "0", target,
                  (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    n = p->pid > 0 ? read(fds[0], line, sizeof line - 1) : -1;
    close(fds[0]);
    if (n <= 0 || (line[n] = '\0', sscanf(line, "%d %d", &port, &pid)) != 2) {
        fprintf(stderr, "proxy_start: leader-proxy did not start\n");
        if (p->pid > 0)
            proxy_stop(p);
        return -1;
    }
    p->port = port;
    return 0;
}

static int send_sig(const proxy_ctl *p, int sig)
{
    if (kill(p->pid, sig) == -1)
        return -1;
    settle();
    return 0;
}

int proxy_blackhole(const proxy_ctl *p)
{
    return send_sig(p, SIGUSR1);
}

int proxy_reset(const proxy_ctl *p)
{
    return send_sig(p, SIGUSR2);
}

int proxy_heal(const proxy_ctl *p)
{
    return send_sig(p, SIGHUP);
}

int proxy_freeze(const proxy_ctl *p)
{
    return send_sig(p, SIGRTMIN);
}

void proxy_stop(proxy_ctl *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        settle();
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}
