/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sdnotify.c - `leader run` as a systemd Type=notify service: a
 * datagram socket of the test stands in for systemd's NOTIFY_SOCKET and
 * receives READY=1, the STATUS= lines of who leads, WATCHDOG=1 pings when
 * WATCHDOG_USEC is set, and STOPPING=1. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

/* systemd's end of the conversation. */
struct notify_sock {
    int fd;
    char path[300];
    char env[320]; /* NOTIFY_SOCKET=path */
};

static void notify_open(struct notify_sock *n, const cli_tmp *t,
                        const char *name)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};

    cli_path(t, name, n->path, sizeof n->path);
    ASSERT_LT(strlen(n->path), sizeof a.sun_path);
    strcpy(a.sun_path, n->path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(n->fd, 0);
    ASSERT_OK(bind(n->fd, (struct sockaddr *) &a, sizeof a));
    snprintf(n->env, sizeof n->env, "NOTIFY_SOCKET=%s", n->path);
}

static void notify_close(struct notify_sock *n)
{
    close(n->fd);
    unlink(n->path);
}

/* Reads messages until one contains want; 1 if it came within ms. Counts
 * the WATCHDOG=1 pings seen on the way in *pings (may be NULL). */
static int await_msg(struct notify_sock *n, const char *want, int ms,
                     int *pings)
{
    long long end = hb_now_us() + ms * 1000LL;

    for (;;) {
        long long left = (end - hb_now_us()) / 1000;
        struct pollfd p = {n->fd, POLLIN, 0};
        char buf[512];
        ssize_t got;

        if (left <= 0 || poll(&p, 1, (int) left) <= 0)
            return 0;
        got = recv(n->fd, buf, sizeof buf - 1, 0);
        if (got <= 0)
            continue;
        buf[got] = '\0';
        if (pings != NULL && strcmp(buf, "WATCHDOG=1") == 0)
            ++*pings;
        if (strstr(buf, want) != NULL)
            return 1;
    }
}

/* Throws away what is waiting in the socket. */
static void drain(struct notify_sock *n)
{
    char buf[512];

    while (recv(n->fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static void need_systemd(void)
{
#ifndef LEADER_HAVE_SYSTEMD
    SKIP("leader was built without libsystemd");
#endif
}

TEST(ready_status_and_stopping_reach_systemd)
{
    rfx_server *s;
    struct notify_sock na, nb;
    char status[64];
    pid_t a, b;
    cli_tmp t;

    need_systemd();
    s = cli_start_redis(0, NULL);
    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    notify_open(&na, &t, "a.sock");
    notify_open(&nb, &t, "b.sock");
    {
        const char *env_a[] = {na.env, NULL}, *env_b[] = {nb.env, NULL};
        a = cli_candidate_env(&t, rfx_url(s), "a", "--ttl 1000 --wait 5000", "",
                              env_a);
        ASSERT(await_msg(&na, "READY=1\nSTATUS=campaigning for 'cli-test' as a",
                         5000, NULL));
        ASSERT(await_msg(&na, "STATUS=leader, term 1", 5000, NULL));
        ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
        b = cli_candidate_env(&t, rfx_url(s), "b", "--ttl 1000 --wait 5000", "",
                              env_b);
    }
    ASSERT(await_msg(&nb, "READY=1", 5000, NULL));
    ASSERT(await_msg(&nb, "STATUS=follower, leader is a (term 1)", 5000, NULL));
    ASSERT_OK(kill(a, SIGTERM));
    ASSERT(
        await_msg(&na, "STOPPING=1\nSTATUS=exiting with status 0", 5000, NULL));
    ASSERT_EQ(cli_wait(a, 5000), 0);
    snprintf(status, sizeof status, "STATUS=leader, term 2");
    ASSERT(await_msg(&nb, status, 5000, NULL));
    ASSERT_GT(cli_wait_child(&t, "b", 0, 5000, NULL), 0);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    notify_close(&na);
    notify_close(&nb);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(watchdog_pings_twice_per_interval_only_when_asked)
{
    rfx_server *s;
    struct notify_sock n, quiet;
    int pings = 0, none = 0;
    pid_t a, b;
    cli_tmp t;

    need_systemd();
    s = cli_start_redis(0, NULL);
    cli_tmp_init(&t);
    notify_open(&n, &t, "n.sock");
    notify_open(&quiet, &t, "quiet.sock");
    {
        /* WatchdogSec=200ms: a ping every 100 ms. */
        const char *env[] = {n.env, "WATCHDOG_USEC=200000", NULL};
        const char *env_quiet[] = {quiet.env, NULL};
        /* A ttl that outlasts the SIGSTOP below: a keeps its child. */
        a = cli_candidate_env(&t, rfx_url(s), "a", "--ttl 10s --wait 5s", "",
                              env);
        ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0); /* a leads */
        b = cli_candidate_env(&t, rfx_url(s), "b", "--ttl 10s --wait 5s", "",
                              env_quiet);
    }
    ASSERT(await_msg(&n, "READY=1", 5000, NULL));
    ASSERT(await_msg(&quiet, "READY=1", 5000, NULL));
    /* About 10 pings in a second; a loop stuck for 200 ms would miss. */
    ASSERT(!await_msg(&n, "no such message", 1000, &pings));
    ASSERT_GE(pings, 5);
    ASSERT_LE(pings, 14);
    ASSERT(!await_msg(&quiet, "WATCHDOG=1", 500, &none));
    ASSERT_EQ(none, 0);
    /* A stopped supervisor stops pinging: systemd would restart it. */
    ASSERT_OK(kill(a, SIGSTOP));
    cli_sleep_ms(50); /* a ping on its way may still come */
    drain(&n);
    pings = 0;
    ASSERT(!await_msg(&n, "no such message", 500, &pings));
    ASSERT_EQ(pings, 0);
    ASSERT_OK(kill(a, SIGCONT));
    ASSERT(await_msg(&n, "WATCHDOG=1", 1000, NULL));
    /* A follower told to stop exits 128 + SIGTERM; the leader, with its
     * child's status. */
    ASSERT_EQ(cli_stop(b), 143);
    ASSERT_EQ(cli_stop(a), 0);
    notify_close(&n);
    notify_close(&quiet);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(without_notify_socket_nothing_is_sent_and_the_run_works)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a;
    cli_tmp t;

    cli_tmp_init(&t);
    {
        /* A path nobody listens on: sending must not hurt. */
        const char *env[] = {"NOTIFY_SOCKET=/nonexistent/notify.sock",
                             "WATCHDOG_USEC=100000", NULL};
        a = cli_candidate_env(&t, rfx_url(s), "a", "--ttl 1000 --wait 5000", "",
                              env);
    }
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    cli_sleep_ms(300);
    ASSERT(cli_alive(a));
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}
