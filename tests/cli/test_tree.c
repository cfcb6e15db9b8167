/* SPDX-License-Identifier: BSD-3-Clause */
/* test_tree.c - `leader run` guards the child's whole process tree, with
 * real processes and a real redis-server: grandchildren (plain, and
 * escaped with setsid from a double fork) die with a killed `leader run`;
 * the watchdog then releases, so failover takes milliseconds, not ttl; it
 * never releases for a frozen `leader run` nor when Redis cannot be
 * reached; a STOP of `leader run`'s whole process group does not freeze
 * the watchdog; every child gets a term above the previous child's; a
 * --grace that would call every renewal late is refused. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

#define SLACK 250 /* ms allowed past a deadline for scheduling (ASan) */

/* `setsid leader run ... -- /bin/sh -c SCRIPT`: a candidate that leads a
 * process group (and session) of its own, so that its whole group can be
 * signalled as a shell's job control does, running a shell script. */
static pid_t script_candidate(const cli_tmp *t, const char *url, const char *id,
                              const char *opts, const char *script)
{
    char out[320], o[256];
    cli_args a = {{0}, 0};

    snprintf(o, sizeof o, "%s", opts);
    snprintf(out, sizeof out, "%s/%s.log", t->dir, id);
    args_add(&a, "/usr/bin/setsid", LEADER_BIN, "run", "--redis", url, "--key",
             "cli-test", "--id", id, (const char *) NULL);
    for (char *w = strtok(o, " "); w != NULL; w = strtok(NULL, " "))
        args_add(&a, w, (const char *) NULL);
    args_add(&a, "--", "/bin/sh", "-c", script, (const char *) NULL);
    return cli_spawn(a.v, out, NULL);
}

/* The script of a child that is a tree: two grandchildren beat into
 * gc.log, one in the background as `cmd &` leaves it, one escaped from
 * the group and session by setsid in a double fork; the child itself
 * beats into the shared log. */
static void tree_script(const cli_tmp *t, char *out, size_t len)
{
    snprintf(out, len,
             "%s %s/gc.log --interval 5 & "
             "( setsid %s %s/gc.log --interval 5 & ) ; "
             "exec %s %s --interval 5",
             HEARTBEAT_BIN, t->dir, HEARTBEAT_BIN, t->dir, HEARTBEAT_BIN,
             t->hb);
}

/* Asserts that every process of gc.log is dead and beat last before
 * before_us. Returns how many there were. */
static size_t check_grandchildren(const cli_tmp *t, long long before_us)
{
    char path[320], err[256];
    hb_log log;
    size_t n;

    cli_path(t, "gc.log", path, sizeof path);
    ASSERT_OK(hb_read(path, &log, err, sizeof err));
    for (size_t i = 0; i < log.n; i++) {
        if (cli_alive(log.children[i].pid))
            FAIL("grandchild %d is still alive", (int) log.children[i].pid);
        if (log.children[i].last_us >= before_us)
            FAIL("grandchild %d beat at %lld us, after %lld us",
                 (int) log.children[i].pid, log.children[i].last_us, before_us);
    }
    n = log.n;
    hb_free(&log);
    return n;
}

/* Waits until the grandchildren of gc.log have both started. */
static void await_grandchildren(const cli_tmp *t)
{
    char path[320], err[256];
    hb_log log = {0};

    cli_path(t, "gc.log", path, sizeof path);
    for (int i = 0; i < 500; i++) {
        ASSERT_OK(hb_read(path, &log, err, sizeof err));
        if (log.n >= 2)
            break;
        hb_free(&log);
        cli_sleep_ms(10);
    }
    ASSERT_EQ(log.n, 2);
    hb_free(&log);
}

static void print_log(const cli_tmp *t, const char *name)
{
    char path[320], *text;

    cli_path(t, name, path, sizeof path);
    text = cli_read_file(path);
    fprintf(stderr, "--- %s ---\n%s", name, text);
    free(text);
}

static void await_log_line(const cli_tmp *t, const char *name,
                           const char *needle, int timeout_ms)
{
    char path[320];

    cli_path(t, name, path, sizeof path);
    for (int i = 0; i < timeout_ms / 10 && !cli_file_has(path, needle); i++)
        cli_sleep_ms(10);
    if (!cli_file_has(path, needle)) {
        print_log(t, name);
        FAIL("%s has no \"%s\"", name, needle);
    }
}

/* a, a tree-child candidate leading its own process group, then b, a
 * plain candidate that follows; both with the given ttl option. Returns a
 * (its child in *a_child). */
static pid_t tree_leader_and_follower(const cli_tmp *t, const char *url,
                                      const char *ttl_opt, pid_t *b,
                                      pid_t *a_child)
{
    char script[2048];
    pid_t a;

    tree_script(t, script, sizeof script);
    a = script_candidate(t, url, "a", ttl_opt, script);
    *a_child = cli_wait_child(t, "a", 0, 5000, NULL);
    ASSERT_GT(*a_child, 0);
    await_grandchildren(t);
    *b = cli_candidate(t, url, "b", ttl_opt, "");
    cli_sleep_ms(300); /* b has tried once and follows */
    return a;
}

/* kill -9 of the leading `leader run`, at the default ttl of 10 s: every
 * process of the child's tree dies, grandchildren included, and the next
 * candidate's child starts within milliseconds, because the watchdog
 * releases once the tree is gone. */
TEST(kill9_takes_the_tree_down_and_fails_over_at_once)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long killed, b_start;
    pid_t a, b, a_child, b_child;
    cli_tmp t;

    cli_tmp_init(&t);
    a = tree_leader_and_follower(&t, rfx_url(s), "--ttl 10000", &b, &a_child);
    killed = hb_now_us();
    kill(a, SIGKILL);
    ASSERT_EQ(cli_wait(a, 2000), 137);
    b_child = cli_wait_child(&t, "b", killed, 5000, &b_start);
    ASSERT_GT(b_child, 0);
    fprintf(stderr, "next child started %lld ms after the kill\n",
            (b_start - killed) / 1000);
    ASSERT_LT(b_start - killed, 1000 * 1000); /* ttl is 10 s */
    ASSERT_EQ(check_grandchildren(&t, b_start), 2);
    await_log_line(&t, "a.log", "released term 1", 2000);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* Job control stops `leader run`'s whole process group (Ctrl-Z, kill
 * -STOP -PGID). The watchdog is not in it: it kills the child's tree by
 * the deadline, and does not release (a frozen process is not dead), so
 * the next candidate waits for the key to expire. */
TEST(group_sigstop_child_tree_killed_by_the_deadline)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long stopped, b_start;
    pid_t a, b, a_child;
    cli_tmp t;

    cli_tmp_init(&t);
    a = tree_leader_and_follower(&t, rfx_url(s), "--ttl 1000", &b, &a_child);
    stopped = hb_now_us();
    ASSERT_OK(kill(-a, SIGSTOP));
    /* The last renewal was sent before the stop: the deadline is at most
     * a ttl later. */
    ASSERT_GT(cli_wait_dead(a_child, 1000 + SLACK), 0);
    ASSERT_GT(cli_wait_child(&t, "b", stopped, 5000, &b_start), 0);
    /* Not released: the key had at least 2/3 ttl left at the stop. */
    ASSERT_GT(b_start - stopped, 500 * 1000);
    ASSERT_EQ(check_grandchildren(&t, stopped + (1000 + SLACK) * 1000), 2);
    ASSERT_EQ(check_grandchildren(&t, b_start), 2);
    ASSERT_OK(kill(-a, SIGCONT));
    await_log_line(&t, "a.log", "revoked", 3000);
    ASSERT(cli_alive(a)); /* a follower again */
    ASSERT_EQ(cli_stop(a), 143);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* The leader's `leader run` dies while its Redis cannot be reached: the
 * watchdog's release fails, and the key is left to expire. */
TEST(no_release_when_redis_is_unreachable_at_death)
{
    rfx_server *s = cli_start_redis(0, NULL);
    long long killed, b_start, pttl;
    proxy_ctl p;
    char url[64], *reply, key[80];
    pid_t a, b;
    cli_tmp t;

    cli_tmp_init(&t);
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    a = cli_candidate(&t, url, "a", "--ttl 2000", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    b = cli_candidate(&t, rfx_url(s), "b", "--ttl 2000", "");
    cli_sleep_ms(300);
    ASSERT_OK(proxy_blackhole(&p));
    killed = hb_now_us();
    kill(a, SIGKILL);
    ASSERT_EQ(cli_wait(a, 2000), 137);
    /* sha1("cli-test") names the key. */
    reply = rfx_command(s, "EVAL %s 0", "return redis.sha1hex('cli-test')");
    ASSERT_NOT_NULL(reply);
    snprintf(key, sizeof key, "leader:%s", reply);
    free(reply);
    reply = rfx_command(s, "PTTL %s", key);
    ASSERT_NOT_NULL(reply);
    pttl = atoll(reply);
    free(reply);
    ASSERT_GT(pttl, 0);
    ASSERT_GT(cli_wait_child(&t, "b", killed, 5000, &b_start), 0);
    /* b was elected when the key expired, not sooner. */
    ASSERT_GE(b_start - killed, (pttl - 50) * 1000);
    await_log_line(&t, "a.log", "cannot release term 1", 3000);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    proxy_stop(&p);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* Counts the lines of name that contain needle. */
static int count_lines(const cli_tmp *t, const char *name, const char *needle)
{
    char path[320], *text, *p;
    int n = 0;

    cli_path(t, name, path, sizeof path);
    text = cli_read_file(path);
    for (p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

/* Redis stalls while one candidate leads: its renewal is late, so its
 * child is ended before the deadline; then the renewal goes through and
 * the leadership goes on. The next child must not reuse the ended child's
 * LEADER_TERM: it gets a new term first. */
TEST(second_child_in_one_leadership_gets_a_new_term)
{
    rfx_server *s = cli_start_redis(0, NULL);
    char err[256];
    hb_log log;
    pid_t a;
    cli_tmp t;
    int renewals;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 3000 --grace 1000 -v", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    /* Just after a renewal (seen within 300 ms): the deadline is 2.7 to
     * 3 s away, the renew-late point 1.7 to 2 s. A 2.3 s stall ends the
     * child and leaves the lease to the renewal that waits for Redis. */
    renewals = count_lines(&t, "a.log", "renewed");
    for (int i = 0; i < 400 && count_lines(&t, "a.log", "renewed") == renewals;
         i++)
        cli_sleep_ms(5);
    ASSERT_OK(rfx_pause(s));
    cli_sleep_ms(2300);
    ASSERT_OK(rfx_resume(s));
    ASSERT_GT(cli_wait_child(&t, "a", hb_now_us() - 100 * 1000, 5000, NULL), 0);
    ASSERT_EQ(cli_stop(a), 0);
    if (count_lines(&t, "a.log", "renew late") != 1 ||
        count_lines(&t, "a.log", "taking a new term") != 1) {
        print_log(&t, "a.log");
        FAIL("the child was not ended by a late renewal and restarted in "
             "the same leadership with a new term");
    }
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    ASSERT_EQ(log.n, 2);
    ASSERT_GT(log.children[1].term, log.children[0].term);
    hb_free(&log);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* --grace at half the ttl: renewals on time (every ttl/3) never look
 * late, so the one child runs on. */
TEST(grace_of_half_the_ttl_keeps_the_child)
{
    rfx_server *s = cli_start_redis(0, NULL);
    pid_t a;
    cli_tmp t;

    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "a", "--ttl 600 --grace 300", "");
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    cli_sleep_ms(3000);        /* 15 renewals */
    ASSERT_EQ(cli_stop(a), 0); /* the child's status */
    if (count_lines(&t, "a.log", "renew late") != 0)
        print_log(&t, "a.log");
    ASSERT_EQ(count_lines(&t, "a.log", "renew late"), 0);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* The watchdog is killed: `leader run`, to which the tree's orphans now
 * come, kills what is left of the tree, releases and exits 1. */
TEST(killed_watchdog_takes_the_tree_down)
{
    rfx_server *s = cli_start_redis(0, NULL);
    char script[2048], out[512], err[512];
    const char *st[] = {LEADER_BIN, "status",   "--redis", rfx_url(s),
                        "--key",    "cli-test", NULL};
    pid_t a, a_child, kids[8];
    cli_tmp t;
    int n;

    cli_tmp_init(&t);
    tree_script(&t, script, sizeof script);
    a = script_candidate(&t, rfx_url(s), "a", "--ttl 10000", script);
    a_child = cli_wait_child(&t, "a", 0, 5000, NULL);
    ASSERT_GT(a_child, 0);
    await_grandchildren(&t);
    n = cli_children_of(a, kids, 8);
    if (n < 0)
        SKIP("the kernel lists no children in /proc");
    ASSERT_EQ(n, 1); /* the watchdog */
    kill(kids[0], SIGKILL);
    ASSERT_EQ(cli_wait(a, 3000), 1);
    ASSERT(!cli_alive(a_child));
    ASSERT_EQ(check_grandchildren(&t, hb_now_us()), 2);
    await_log_line(&t, "a.log", "the watchdog exited", 100);
    /* Released: nobody leads. */
    ASSERT_EQ(cli_capture(st, out, sizeof out, err, sizeof err, 5000), 1);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}
