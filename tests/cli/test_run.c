/* SPDX-License-Identifier: BSD-3-Clause */
/* test_run.c - `leader run` with real redis-servers and real processes:
 * handover, failover, a frozen supervisor, a blackholed or reset
 * connection, Redis restarts, several candidates, signals, --once. Every
 * child is a leader-heartbeat, and every test ends by checking the shared
 * heartbeat log: no two children overlap, and terms grow. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <leader.h>

#include "cli_util.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

#define TTL   1000 /* ms, for every candidate unless a test says more */
#define SLACK 250  /* ms allowed past a deadline for scheduling (ASan) */

/* The usual candidate: ttl 1000 ms, wait 5000 ms, heartbeat every 5 ms. */
static pid_t candidate(const cli_tmp *t, const char *url, const char *id)
{
    return cli_candidate(t, url, id, "--ttl 1000 --wait 5000", "");
}

/* Starts a and waits for its child, then b, which then follows. */
static pid_t leader_and_follower(const cli_tmp *t, const char *url_a,
                                 const char *url_b, pid_t *b, pid_t *a_child)
{
    pid_t a = candidate(t, url_a, "a");

    *a_child = cli_wait_child(t, "a", 0, 5000, NULL);
    ASSERT_GT(*a_child, 0);
    *b = candidate(t, url_b, "b");
    cli_sleep_ms(300); /* b has tried once and follows */
    ASSERT(cli_alive(*b));
    return a;
}

TEST(handover_after_child_exits)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long a_end, b_start;
    pid_t a, b, b_child;
    char stop[320];
    cli_tmp t;
    hb_log log;
    char err[256];

    cli_tmp_init(&t);
    cli_path(&t, "stop-a", stop, sizeof stop);
    char hb_opts[400];
    snprintf(hb_opts, sizeof hb_opts, "--exit-on %s --exit-code 7", stop);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 1000 --wait 5000", hb_opts);
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    b = candidate(&t, rfx_url(s), "b");
    cli_sleep_ms(300);
    fclose(fopen(stop, "w")); /* a's child exits by itself */
    ASSERT_EQ(cli_wait(a, 3000), 7);
    b_child = cli_wait_child(&t, "b", 0, 3000, &b_start);
    ASSERT_GT(b_child, 0);
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    a_end = hb_last_of(&log, "a")->last_us;
    ASSERT(hb_last_of(&log, "a")->stopped);
    hb_free(&log);
    /* Released at once: well under --wait (5000) and ttl (1000). */
    fprintf(stderr, "handover: %lld us\n", b_start - a_end);
    ASSERT_LT(b_start - a_end, 1000 * 1000);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT(!cli_alive(b_child));
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(failover_after_kill9_takes_the_child_down)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a, b, a_child, kids[8];
    int nkids;
    long long killed;
    cli_tmp t;

    cli_tmp_init(&t);
    a = leader_and_follower(&t, rfx_url(s), rfx_url(s), &b, &a_child);
    nkids = cli_children_of(a, kids, 8);
    killed = hb_now_us();
    kill(a, SIGKILL);
    ASSERT_EQ(cli_wait(a, 2000), 137);
    /* The watchdog kills the child, releases and exits. */
    ASSERT_GT(cli_wait_dead(a_child, 1000), 0);
    for (int i = 0; i < nkids; i++)
        ASSERT_GT(cli_wait_dead(kids[i], 1000), 0);
    ASSERT_GT(cli_wait_child(&t, "b", killed, TTL + 2000, NULL), 0);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(sigstop_watchdog_kills_child_by_the_deadline)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a, b, a_child, b_child;
    long long stopped, dead;
    char alog[320];
    cli_tmp t;

    cli_tmp_init(&t);
    a = leader_and_follower(&t, rfx_url(s), rfx_url(s), &b, &a_child);
    stopped = hb_now_us();
    kill(a, SIGSTOP);
    /* The last renewal was sent before the stop: the deadline is at most
     * TTL later. The watchdog, not the frozen supervisor, kills. */
    dead = cli_wait_dead(a_child, TTL + SLACK);
    ASSERT_GT(dead, 0);
    ASSERT_LE(dead - stopped, (long long) (TTL + SLACK) * 1000);
    b_child = cli_wait_child(&t, "b", 0, TTL + 3000, NULL);
    ASSERT_GT(b_child, 0);
    kill(a, SIGCONT);
    cli_path(&t, "a.log", alog, sizeof alog);
    for (int i = 0; i < 200 && !cli_file_has(alog, "revoked"); i++)
        cli_sleep_ms(10);
    if (!cli_file_has(alog, "revoked")) {
        char *text = cli_read_file(alog);
        fprintf(stderr, "--- a.log ---\n%s", text);
        free(text);
        FAIL("a did not log its revocation");
    }
    ASSERT(cli_alive(a)); /* campaigns again, as a follower */
    ASSERT(cli_alive(b_child));
    ASSERT_EQ(cli_stop(a), 143);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* a talks to Redis through the proxy, b directly; fault() breaks a's
 * connection; a's child must be gone by the deadline and b takes over. */
static void proxy_fault_test(int (*fault)(const proxy_ctl *), int must_lose)
{
    rfx_server *s = cli_start_redis(0, NULL);
    proxy_ctl p;
    char url[64];
    pid_t a, b, a_child;
    long long broken, dead;
    cli_tmp t;

    cli_tmp_init(&t);
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    a = leader_and_follower(&t, url, rfx_url(s), &b, &a_child);
    broken = hb_now_us();
    ASSERT_OK(fault(&p));
    if (must_lose) {
        dead = cli_wait_dead(a_child, TTL + SLACK);
        ASSERT_GT(dead, 0);
        ASSERT_LE(dead - broken, (long long) (TTL + SLACK) * 1000);
        ASSERT_GT(cli_wait_child(&t, "b", 0, TTL + 3000, NULL), 0);
        /* Renewal late: SIGTERM went out before the deadline. */
        char alog[320];
        cli_path(&t, "a.log", alog, sizeof alog);
        ASSERT(cli_file_has(alog, "renew late"));
    } else {
        cli_sleep_ms(TTL + 500);
    }
    ASSERT_OK(proxy_heal(&p));
    cli_sleep_ms(200);
    ASSERT(cli_alive(a) && cli_alive(b));
    ASSERT_EQ(cli_stop(a), must_lose ? 143 : 0);
    ASSERT_EQ(cli_stop(b), must_lose ? 0 : 143);
    cli_check_log(&t);
    proxy_stop(&p);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(proxy_blackhole_child_killed_by_deadline)
{
    proxy_fault_test(proxy_blackhole, 1);
}

TEST(proxy_reset_no_overlap)
{
    /* A reset is healed at once: a reconnects and renews within its lease,
     * so it normally keeps leading; either way no overlap is allowed. */
    rfx_server *s = cli_start_redis(0, NULL);
    proxy_ctl p;
    char url[64];
    pid_t a, b, a_child;
    cli_tmp t;

    cli_tmp_init(&t);
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    a = leader_and_follower(&t, url, rfx_url(s), &b, &a_child);
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(proxy_reset(&p));
        cli_sleep_ms(250);
    }
    ASSERT(cli_alive(a) && cli_alive(b));
    cli_stop(a);
    cli_stop(b);
    ASSERT_GE(cli_check_log(&t), 1);
    proxy_stop(&p);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(redis_restarts_no_overlap)
{
    rfx_server *s = cli_start_redis(1, NULL);
    pid_t a, b, a_child;
    long long t0;
    cli_tmp t;
    hb_log log;
    char err[256];

    cli_tmp_init(&t);
    a = leader_and_follower(&t, rfx_url(s), rfx_url(s), &b, &a_child);
    ASSERT_OK(rfx_restart(s, NULL)); /* clean restart, data kept */
    cli_sleep_ms(TTL + 500);
    ASSERT_OK(rfx_kill(s)); /* crash; appendfsync always keeps the key */
    ASSERT_OK(rfx_restart(s, NULL));
    cli_sleep_ms(TTL + 500);
    /* Someone leads again: a child is beating. */
    t0 = hb_now_us();
    cli_sleep_ms(200);
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    ASSERT_GT(log.n, 0);
    int beating = 0;
    for (size_t i = 0; i < log.n; i++)
        beating |= log.children[i].last_us > t0;
    hb_free(&log);
    ASSERT(beating);
    cli_stop(a);
    cli_stop(b);
    cli_check_log(&t);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* n candidates; `rounds` times the current leader is disturbed (its child
 * exits, it gets SIGTERM, or kill -9) and replaced by a new process with
 * the same id. */
static void random_stops(int n, int rounds)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t cand[8];
    char ids[8][32], stop[8][320], hb_opts[8][400];
    unsigned seed = (unsigned) harness_seed();
    long long since = 0;
    cli_tmp t;

    cli_tmp_init(&t);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "c%d", i);
        snprintf(stop[i], sizeof stop[i], "%s/stop-%d", t.dir, i);
        snprintf(hb_opts[i], sizeof hb_opts[i], "--exit-on %.300s", stop[i]);
        cand[i] = cli_candidate(&t, rfx_url(s), ids[i], "--ttl 800 --wait 2000",
                                hb_opts[i]);
    }
    for (int r = 0; r < rounds; r++) {
        hb_log log;
        char err[256];
        int who = -1, action = (int) (rand_r(&seed) % 3);
        pid_t child = -1;

        /* The leader is whoever started a child last. */
        for (int k = 0; k < 500 && who < 0; k++) {
            ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
            if (log.n > 0 && log.children[log.n - 1].start_us > since) {
                child = log.children[log.n - 1].pid;
                for (int i = 0; i < n; i++)
                    if (!strcmp(ids[i], log.children[log.n - 1].id))
                        who = i;
            }
            hb_free(&log);
            if (who < 0)
                cli_sleep_ms(10);
        }
        ASSERT_GE(who, 0);
        since = hb_now_us();
        fprintf(stderr, "round %d: leader %s, %s\n", r, ids[who],
                action == 0   ? "its child exits"
                : action == 1 ? "SIGTERM"
                              : "kill -9");
        if (action == 0) {
            fclose(fopen(stop[who], "w"));
            ASSERT_EQ(cli_wait(cand[who], 3000), 0);
            unlink(stop[who]);
        } else if (action == 1) {
            ASSERT_EQ(cli_stop(cand[who]), 0); /* the child's status */
        } else {
            kill(cand[who], SIGKILL);
            ASSERT_EQ(cli_wait(cand[who], 3000), 137);
        }
        ASSERT_GT(cli_wait_dead(child, 1000), 0);
        /* A new id: the old one would take the key over at once (same
         * holder), which is not a failover. */
        snprintf(ids[who], sizeof ids[who], "c%d.%d", who, r + 1);
        cand[who] = cli_candidate(&t, rfx_url(s), ids[who],
                                  "--ttl 800 --wait 2000", hb_opts[who]);
    }
    for (int i = 0; i < n; i++)
        cli_stop(cand[i]);
    ASSERT_GE(cli_check_log(&t), (size_t) rounds);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(two_candidates_random_stops)
{
    random_stops(2, 6);
}

TEST(five_candidates_random_stops)
{
    random_stops(5, 8);
}

TEST(sigterm_forwarded_child_status_key_released)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a, a_child;
    long long t0, took;
    cli_tmp t;
    char out[512], err[512];
    const char *st[] = {LEADER_BIN, "status",   "--redis", rfx_url(s),
                        "--key",    "cli-test", NULL};

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a",
                      "--ttl 3000 --wait 5000 --grace 1500",
                      "--linger 300 --exit-code 5");
    a_child = cli_wait_child(&t, "a", 0, 5000, NULL);
    ASSERT_GT(a_child, 0);
    ASSERT_EQ(cli_capture(st, out, sizeof out, err, sizeof err, 5000), 0);
    t0 = hb_now_us();
    kill(a, SIGTERM);
    ASSERT_EQ(cli_wait(a, 3000), 5); /* the child's status */
    took = (hb_now_us() - t0) / 1000;
    ASSERT_GE(took, 300); /* it had its linger */
    ASSERT_LT(took, 1500);
    ASSERT(!cli_alive(a_child));
    /* Released: nobody leads, at once. */
    ASSERT_EQ(cli_capture(st, out, sizeof out, err, sizeof err, 5000), 1);
    cli_check_log(&t);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(sigterm_ignored_child_killed_after_grace)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a, a_child;
    long long t0, took;
    cli_tmp t;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 3000 --grace 500",
                      "--ignore-term");
    a_child = cli_wait_child(&t, "a", 0, 5000, NULL);
    ASSERT_GT(a_child, 0);
    t0 = hb_now_us();
    kill(a, SIGINT);
    ASSERT_EQ(cli_wait(a, 3000), 128 + SIGKILL);
    took = (hb_now_us() - t0) / 1000;
    ASSERT_GE(took, 450);
    ASSERT_LT(took, 1500);
    ASSERT(!cli_alive(a_child));
    cli_check_log(&t);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(once_exits_75_when_leadership_is_lost)
{
    rfx_server *s = cli_start_redis(0, NULL);
    leader_options o;
    leader *l;
    char *reply;
    pid_t a, a_child;
    cli_tmp t;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 1000 --once", "");
    a_child = cli_wait_child(&t, "a", 0, 5000, NULL);
    ASSERT_GT(a_child, 0);
    /* Raise the term counter: the next renewal is refused (ELOST). */
    leader_options_init(&o);
    o.key = "cli-test";
    o.url = rfx_url(s);
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    reply = rfx_command(s, "INCR {%s}:term", leader_key(l));
    ASSERT_NOT_NULL(reply);
    free(reply);
    leader_free(l);
    ASSERT_EQ(cli_wait(a, TTL + 2000), 75);
    ASSERT(!cli_alive(a_child));
    cli_check_log(&t);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(password_never_printed)
{
    rfx_server *s = cli_start_redis(0, "s3cretPw");
    char url[128], bad[128], alog[320], blog[320], envurl[160];
    char out[2048], err[2048];
    pid_t a, b;
    cli_tmp t;
    const char *env[] = {envurl, NULL};

    cli_tmp_init(&t);
    snprintf(bad, sizeof bad, "redis://:wr0ngPw@127.0.0.1:%d", rfx_port(s));
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 1000 -v", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    b = cli_candidate(&t, bad, "b", "--ttl 1000 -v", ""); /* EAUTH */
    ASSERT_OK(rfx_restart(s, NULL)); /* connection errors for a */
    cli_sleep_ms(TTL);
    cli_stop(a);
    ASSERT_EQ(cli_stop(b), 143); /* never elected */
    cli_path(&t, "a.log", alog, sizeof alog);
    cli_path(&t, "b.log", blog, sizeof blog);
    ASSERT(cli_file_has(blog, "redis:")); /* it did log its errors */
    ASSERT(cli_file_has(alog, "***"));    /* and the URL, redacted */
    ASSERT(!cli_file_has(alog, "s3cretPw"));
    ASSERT(!cli_file_has(blog, "wr0ngPw"));
    {
        const char *st[] = {LEADER_BIN, "status", "--redis", bad, NULL};
        ASSERT_EQ(cli_capture(st, out, sizeof out, err, sizeof err, 5000), 3);
        ASSERT(strstr(err, "wr0ngPw") == NULL &&
               strstr(out, "wr0ngPw") == NULL);
        ASSERT(strstr(err, "***") != NULL);
    }
    {
        snprintf(url, sizeof url, "redis://:s3cretPw@127.0.0.1:notaport");
        const char *run[] = {LEADER_BIN, "run",  "--redis", url,
                             "--",       "true", NULL};
        ASSERT_EQ(cli_capture(run, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT(strstr(err, "s3cretPw") == NULL);
    }
    {
        /* From the environment, as recommended: a status that works. */
        snprintf(envurl, sizeof envurl, "LEADER_REDIS_URL=%s", rfx_url(s));
        const char *st[] = {LEADER_BIN, "status", "--key", "cli-test", NULL};
        char path[320];
        cli_path(&t, "status.out", path, sizeof path);
        ASSERT_EQ(cli_wait(cli_spawn(st, path, env), 5000), 1);
        ASSERT(!cli_file_has(path, "s3cretPw"));
    }
    cli_tmp_free(&t);
    rfx_free(s);
}

/* --timeout: a candidate not elected within it exits 75 and never starts
 * its command; once elected, the timeout no longer applies. Durations take
 * units. */
TEST(timeout_exits_75_unless_elected_in_time)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long t0, took;
    pid_t a, b;
    cli_tmp t;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 2s --timeout 300ms", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    t0 = hb_now_us();
    b = cli_candidate(&t, rfx_url(s), "b", "--ttl 2s --wait 1s --timeout 400",
                      "");
    ASSERT_EQ(cli_wait(b, 3000), 75);
    took = (hb_now_us() - t0) / 1000;
    ASSERT_GE(took, 400);
    ASSERT_LT(took, 2000);
    cli_sleep_ms(300); /* a is past its own --timeout: it leads on */
    ASSERT(cli_alive(a));
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_EQ(cli_check_log(&t), 1); /* b never started its command */
    cli_tmp_free(&t);
    rfx_free(s);
}

/* -n: try once, as flock -n does: exit 75 at once if another candidate
 * leads, else lead as usual. */
TEST(no_wait_exits_75_if_another_leads)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long t0, took;
    pid_t a, b;
    cli_tmp t;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "-n --ttl 5s", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0); /* free: leads */
    t0 = hb_now_us();
    b = cli_candidate(&t, rfx_url(s), "b", "--no-wait --ttl 5s --wait 5s", "");
    ASSERT_EQ(cli_wait(b, 3000), 75);
    took = (hb_now_us() - t0) / 1000;
    ASSERT_LT(took, 1000); /* not a wait of 5 s */
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* --max-hold: each leader hands on after 300 ms and rests one --wait, so
 * the leadership goes round; the log shows no overlap and growing terms. */
TEST(max_hold_rotates_the_leadership_among_three)
{
    rfx_server *s = cli_start_redis(0, NULL);
    static const char *const ids[] = {"a", "b", "c"};
    pid_t p[3];
    hb_log log;
    char err[256];
    cli_tmp t;
    size_t n;

    cli_tmp_init(&t);
    for (int i = 0; i < 3; i++)
        p[i] = cli_candidate(&t, rfx_url(s), ids[i],
                             "--ttl 2s --wait 200ms --max-hold 300ms", "");
    /* Who takes the next turn is whoever tries first: wait (bounded)
     * until each has had one. */
    for (int waited = 0;; waited += 200) {
        int all = 1;
        cli_sleep_ms(200);
        if (waited >= 20000)
            break;
        if (hb_read(t.hb, &log, err, sizeof err) != 0)
            continue; /* a line being written */
        for (int i = 0; i < 3; i++)
            all &= hb_last_of(&log, ids[i]) != NULL;
        n = log.n;
        hb_free(&log);
        if (all && n >= 5)
            break;
    }
    for (int i = 0; i < 3; i++)
        ASSERT(cli_alive(p[i]));
    for (int i = 0; i < 3; i++)
        cli_stop(p[i]);
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    for (int i = 0; i < 3; i++)
        if (hb_last_of(&log, ids[i]) == NULL)
            FAIL("%s never led in 20 s of 300 ms turns", ids[i]);
    /* A turn: 300 ms, plus the child's stop and the handover. */
    ASSERT_GE(log.n, 5);
    hb_free(&log);
    n = cli_check_log(&t);
    ASSERT_GE(n, 5);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(max_hold_with_once_exits_75)
{
    rfx_server *s = cli_start_redis(0, NULL);
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a",
                      "--ttl 2s --wait 200ms --max-hold 200ms --once", "");
    ASSERT_EQ(cli_wait(a, 5000), 75);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}
