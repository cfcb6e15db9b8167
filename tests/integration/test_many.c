/* SPDX-License-Identifier: BSD-3-Clause */
/* test_many.c - 1,000 elections among 3 processes, each process one client
 * (one connection) driven by its own event loop, through kill -9 of a
 * process and a restart of Redis. Every process publishes the lease
 * deadline of each of its elections into a shared table after every loop
 * turn; the test samples the table and asserts that no key ever has two
 * valid leases, and that after the faults every key has its leader. */
#define _GNU_SOURCE

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define PROCS 3
#define KEYS  1000
#define TTL   1000

/* Shared between the processes: each one's lease deadlines, by key. */
struct table {
    int64_t deadline[PROCS][KEYS];
};

static void publish(struct table *t, int proc, leader **h)
{
    for (int i = 0; i < KEYS; i++)
        __atomic_store_n(&t->deadline[proc][i], leader_lease_deadline(h[i]),
                         __ATOMIC_SEQ_CST);
}

/* A process with one client and KEYS elections; runs until killed. */
static _Noreturn void campaign(const char *url, struct table *t, int proc)
{
    leader_client_options co;
    leader_client *c;
    leader **h = calloc(KEYS, sizeof *h);
    leader_options o;
    char key[32];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    leader_client_options_init(&co);
    co.url = url;
    co.event_loop = 1;
    c = leader_client_new(&co, NULL, 0);
    if (c == NULL || h == NULL)
        _exit(2);
    for (int i = 0; i < KEYS; i++) {
        leader_options_init(&o);
        snprintf(key, sizeof key, "key-%d", i);
        o.key = key;
        o.ttl_ms = TTL;
        o.wait_ms = 300;
        h[i] = leader_client_add(c, &o, NULL, 0);
        if (h[i] == NULL || leader_elect(h[i]) != 0)
            _exit(3);
    }
    for (;;) {
        struct pollfd pfd = {leader_client_fd(c), POLLIN, 0};
        poll(&pfd, 1, leader_client_timeout_ms(c));
        leader_client_process(c);
        publish(t, proc, h);
    }
}

static pid_t spawn(const char *url, struct table *t, int proc)
{
    pid_t pid = fork();

    ASSERT_GE(pid, 0);
    if (pid == 0)
        campaign(url, t, proc);
    return pid;
}

/* Checks the table now: no key with two valid leases. Returns how many
 * keys have a leader. */
static int sample(struct table *t)
{
    int64_t now = leader_clock_ms();
    int led = 0;

    for (int i = 0; i < KEYS; i++) {
        int holders = 0;
        for (int p = 0; p < PROCS; p++)
            holders +=
                __atomic_load_n(&t->deadline[p][i], __ATOMIC_SEQ_CST) > now;
        if (holders > 1)
            FAIL("key-%d has %d leaders at once", i, holders);
        led += holders;
    }
    return led;
}

/* Samples for ms; returns the number of keys led at the end. */
static int watch(struct table *t, long ms)
{
    int64_t end = now_ms() + ms;
    int led;

    do {
        led = sample(t);
        sleep_ms(5);
    } while (now_ms() < end);
    return led;
}

static void kill_proc(pid_t pid)
{
    int status;

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

TEST(thousand_elections_three_processes_one_leader_per_key)
{
    rfx_options persist = {.persist = 1};
    rfx_server *s;
    struct table *t;
    pid_t pid[PROCS];
    int led = 0;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(&persist);
    ASSERT_NOT_NULL(s);
    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(t != MAP_FAILED);
    memset(t, 0, sizeof *t);
    for (int p = 0; p < PROCS; p++)
        pid[p] = spawn(rfx_url(s), t, p);
    for (int i = 0; i < 100 && led < KEYS; i++)
        led = watch(t, 50);
    ASSERT_EQ(led, KEYS);
    /* A process dies: its keys go to the others once they expire. */
    kill_proc(pid[0]);
    pid[0] = spawn(rfx_url(s), t, 0);
    led = watch(t, 2 * TTL + 1000);
    ASSERT_EQ(led, KEYS);
    /* Redis restarts, keeping its data. */
    ASSERT_OK(rfx_restart(s, NULL));
    led = watch(t, 2 * TTL + 1500);
    ASSERT_EQ(led, KEYS);
    /* Another process dies. */
    kill_proc(pid[1]);
    led = watch(t, 2 * TTL + 1000);
    ASSERT_EQ(led, KEYS);
    for (int p = 0; p < PROCS; p++)
        kill_proc(pid[p]);
    munmap(t, sizeof *t);
    rfx_free(s);
}
