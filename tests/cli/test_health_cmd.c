/* SPDX-License-Identifier: BSD-3-Clause */
/* test_health_cmd.c - `leader run --health-cmd`: a check that starts
 * failing hands the leadership over within milliseconds of the child's
 * end; one that hangs past --health-timeout counts as failed; a flapping
 * check is held off with a growing hold instead of bouncing the
 * leadership. Every test checks the heartbeat log: no overlap, terms
 * grow. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");

    ASSERT_NOT_NULL(f);
    fclose(f);
}

/* Candidate "a" of cli-test with --health-cmd cmd and the options in
 * opts (NULL-terminated; values may hold spaces), its output in log_path,
 * its child a leader-heartbeat. */
static pid_t health_candidate(const cli_tmp *t, const char *url,
                              const char *log_path, const char *cmd,
                              const char *const opts[])
{
    cli_args a = {{0}, 0};

    args_add(&a, LEADER_BIN, "run", "--redis", url, "--key", "cli-test", "--id",
             "a", "--ttl", "10s", "--health-cmd", cmd, (const char *) NULL);
    for (int i = 0; opts[i] != NULL; i++)
        args_add(&a, opts[i], (const char *) NULL);
    args_add(&a, "--", HEARTBEAT_BIN, t->hb, (const char *) NULL);
    return cli_spawn(a.v, log_path, NULL);
}

TEST(failing_check_hands_over_in_milliseconds)
{
    rfx_server *s = cli_start_redis(0, NULL);
    char bad[320], cmd[400], log_a[320];
    long long a_end, b_start;
    pid_t a, b;
    hb_log log;
    char err[256];
    cli_tmp t;

    cli_tmp_init(&t);
    cli_path(&t, "a-is-bad", bad, sizeof bad);
    cli_path(&t, "a.log", log_a, sizeof log_a);
    snprintf(cmd, sizeof cmd, "test ! -e %s", bad);
    {
        const char *const opts[] = {
            "--wait", "5s", "--health-interval", "100ms", "--health-failures",
            "2",      NULL};
        a = health_candidate(&t, rfx_url(s), log_a, cmd, opts);
    }
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    b = cli_candidate(&t, rfx_url(s), "b", "--ttl 10s --wait 5s", "");
    cli_sleep_ms(300);
    touch(bad);
    ASSERT_GT(cli_wait_child(&t, "b", 0, 3000, &b_start), 0);
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    a_end = hb_last_of(&log, "a")->last_us;
    hb_free(&log);
    fprintf(stderr, "unhealthy a's child end -> b's child start: %lld us\n",
            b_start - a_end);
    ASSERT_LT(b_start - a_end, 1000 * 1000); /* not a ttl of 10 s */
    ASSERT(cli_alive(a));
    ASSERT(cli_file_has(log_a, "failed checks in a row"));
    /* Healthy again, a campaigns: it leads once b is gone. */
    unlink(bad);
    cli_stop(b);
    ASSERT_GT(cli_wait_child(&t, "a", b_start, 3000, NULL), 0);
    cli_stop(a);
    ASSERT_EQ(cli_check_log(&t), 3);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(hanging_check_fails_at_its_timeout)
{
    rfx_server *s = cli_start_redis(0, NULL);
    char hang[320], cmd[400], log_a[320];
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    cli_path(&t, "hang", hang, sizeof hang);
    cli_path(&t, "a.log", log_a, sizeof log_a);
    snprintf(cmd, sizeof cmd, "if [ -e %s ]; then sleep 30; fi", hang);
    {
        const char *const opts[] = {"--health-interval",
                                    "200ms",
                                    "--health-timeout",
                                    "100ms",
                                    "--health-failures",
                                    "1",
                                    NULL};
        a = health_candidate(&t, rfx_url(s), log_a, cmd, opts);
    }
    ASSERT_GT(cli_wait_child(&t, "a", 0, 5000, NULL), 0);
    touch(hang);
    for (int i = 0; i < 200 && !cli_file_has(log_a, "revoked"); i++)
        cli_sleep_ms(10);
    ASSERT(cli_file_has(log_a, "did not end within --health-timeout"));
    ASSERT(cli_file_has(log_a, "revoked"));
    cli_stop(a);
    ASSERT_EQ(cli_check_log(&t), 1);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* A check that passes and fails in turn: after the first unhealthy spell
 * a pass must last a hold that grows, so the leadership stops bouncing. */
TEST(flapping_check_is_held_off)
{
    rfx_server *s = cli_start_redis(0, NULL);
    char count[320], stable[320], cmd[1200], log_a[320];
    hb_log log;
    char err[256];
    size_t led;
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    cli_path(&t, "count", count, sizeof count);
    cli_path(&t, "stable", stable, sizeof stable);
    cli_path(&t, "a.log", log_a, sizeof log_a);
    snprintf(cmd, sizeof cmd,
             "[ -e %s ] && exit 0; n=$(cat %s 2>/dev/null || echo 0); "
             "echo $((n + 1)) > %s; [ $((n %% 2)) = 0 ]",
             stable, count, count);
    {
        const char *const opts[] = {
            "--wait", "50ms", "--health-interval", "50ms", "--health-failures",
            "1",      NULL};
        a = health_candidate(&t, rfx_url(s), log_a, cmd, opts);
    }
    cli_sleep_ms(2000); /* about 40 checks, 20 of them failing */
    ASSERT_OK(hb_read(t.hb, &log, err, sizeof err));
    led = log.n;
    hb_free(&log);
    fprintf(stderr, "leaderships in 2 s of a flapping check: %zu\n", led);
    ASSERT_GE(led, 1);
    ASSERT_LE(led, 3); /* without a hold: about 20 */
    touch(stable);     /* it settles: a leads again after the hold */
    ASSERT_GT(cli_wait_child(&t, "a", hb_now_us() - 1, 5000, NULL), 0);
    cli_stop(a);
    cli_check_log(&t);
    cli_tmp_free(&t);
    rfx_free(s);
}
