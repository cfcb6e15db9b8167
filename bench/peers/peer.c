/* SPDX-License-Identifier: BSD-3-Clause */
/* peer.c - the libleader side of bench-peers: a process holding candidates
 * that the driver commands over stdin and that reports each event, stamped
 * with CLOCK_MONOTONIC, on stdout. It speaks the same line protocol as
 * host.js does for the Node.js peers, so the driver treats all alike.
 *
 * Usage:
 *   bench-peer [--client] URL TTL_MS WAIT_MS KEY...
 *       one candidate per KEY (a key may repeat); each its own handle
 *       (leader_new), or with --client all on one leader_client;
 *   bench-peer --child
 *       a command for `leader run` to start: prints "started 0 NS PID",
 *       and on SIGUSR1 "exiting 0 NS" and exits 0.
 *
 * stdin:  "elect I", "elect-all", "stop I"; EOF or "quit" exits at once.
 * stdout: "ready", "elected I NS", "revoked I NS", "stopping I NS",
 *         "stopped I NS", "error I MESSAGE". */
#define _GNU_SOURCE

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leader.h"

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One write per line: lines from several threads never interleave. */
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int) sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    if (write(STDOUT_FILENO, line, (size_t) n) != n)
        _exit(1); /* the driver is gone */
}

static void on_event(leader *l, const leader_event *ev, void *ud)
{
    long long t = now_ns();
    long i = (long) (intptr_t) ud;

    (void) l;
    if (ev->type == LEADER_EVENT_ELECTED)
        say("elected %ld %lld", i, t);
    else if (ev->type == LEADER_EVENT_REVOKED)
        say("revoked %ld %lld", i, t);
    else if (ev->type == LEADER_EVENT_ERROR)
        say("error %ld %s", i, ev->message);
}

static void on_usr1(int sig)
{
    char line[64];
    int n;

    (void) sig;
    n = snprintf(line, sizeof line, "exiting 0 %lld\n", now_ns());
    if (write(STDOUT_FILENO, line, (size_t) n) < 0)
        _exit(1);
    _exit(0);
}

static _Noreturn void child_main(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    say("started 0 %lld %ld", now_ns(), (long) getpid());
    for (;;)
        pause();
}

static leader *make(leader_client *c, const char *url, long ttl, long wait,
                    const char *key, long i)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.key = key;
    o.ttl_ms = ttl;
    o.wait_ms = wait;
    if (c == NULL)
        o.url = url;
    l = c != NULL ? leader_client_add(c, &o, err, sizeof err)
                  : leader_new(&o, err, sizeof err);
    if (l == NULL) {
        fprintf(stderr, "bench-peer: %s\n", err);
        exit(1);
    }
    leader_on(l, on_event, (void *) (intptr_t) i);
    return l;
}

static void run_command(char *cmd, leader **cands, long n)
{
    long i;

    if (strcmp(cmd, "quit") == 0)
        _exit(0);
    if (strcmp(cmd, "elect-all") == 0) {
        for (i = 0; i < n; i++)
            leader_elect(cands[i]);
        return;
    }
    if (sscanf(cmd, "elect %ld", &i) == 1 && i >= 0 && i < n) {
        leader_elect(cands[i]);
    } else if (sscanf(cmd, "stop %ld", &i) == 1 && i >= 0 && i < n) {
        say("stopping %ld %lld", i, now_ns());
        leader_stop(cands[i]);
        say("stopped %ld %lld", i, now_ns());
    } else {
        fprintf(stderr, "bench-peer: unknown command: %s\n", cmd);
    }
}

int main(int argc, char **argv)
{
    leader_client *client = NULL;
    leader **cands;
    char line[256];
    long n, ttl, wait;
    int a = 1;

    if (argc == 2 && strcmp(argv[1], "--child") == 0)
        child_main();
    if (argc > 1 && strcmp(argv[1], "--client") == 0)
        a++;
    if (argc - a < 4) {
        fprintf(stderr, "usage: bench-peer [--client] URL TTL WAIT KEY...\n"
                        "       bench-peer --child\n");
        return 2;
    }
    ttl = atol(argv[a + 1]);
    wait = atol(argv[a + 2]);
    n = argc - a - 3;
    if (a == 2) {
        leader_client_options co;
        char err[256];

        leader_client_options_init(&co);
        co.url = argv[a];
        if ((client = leader_client_new(&co, err, sizeof err)) == NULL) {
            fprintf(stderr, "bench-peer: %s\n", err);
            return 1;
        }
    }
    if ((cands = calloc((size_t) n, sizeof *cands)) == NULL)
        return 1;
    for (long i = 0; i < n; i++)
        cands[i] = make(client, argv[a], ttl, wait, argv[a + 3 + i], i);
    say("ready");
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        run_command(line, cands, n);
    }
    /* EOF: the driver is done with us; leave as a crash would. */
    _exit(0);
}
