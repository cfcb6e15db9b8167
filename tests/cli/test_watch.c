/* SPDX-License-Identifier: BSD-3-Clause */
/* test_watch.c - `leader watch`: one line per change of leader, in text
 * and JSON, through elections, a clean stop, a crash and a node-leader
 * style bare DEL; and its bad usages. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

static rfx_server *start_redis(void)
{
    rfx_server *s;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(NULL);
    ASSERT_NOT_NULL(s);
    return s;
}

static pid_t start_watch(const cli_tmp *t, const char *url, int json,
                         char *out_path, size_t len)
{
    const char *argv[] = {LEADER_BIN, "watch", "--redis",
                          url,        "--key", "cli-test",
                          "--wait",   "200",   json ? "--json" : NULL,
                          NULL};

    cli_path(t, json ? "watch.json" : "watch.txt", out_path, len);
    return cli_spawn(argv, out_path, NULL);
}

/* Waits until the file has at least n lines; returns them (malloc'd). */
static char *wait_lines(const char *path, int n, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        char *text = cli_read_file(path);
        int lines = 0;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        if (lines >= n || waited >= timeout_ms)
            return text;
        free(text);
        cli_sleep_ms(10);
    }
}

/* The n-th line (from 1) of text, without the time: the first word of a
 * text line, the "time" member of a JSON one. */
static void line_after_time(const char *text, int n, char *out, size_t len)
{
    const char *p = text, *sp, *end;

    for (int i = 1; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    if (p == NULL || *p == '\0') {
        snprintf(out, len, "(no line %d)", n);
        return;
    }
    end = strchr(p, '\n');
    sp = *p == '{' ? strstr(p, ",\"event\"") : strchr(p, ' ');
    if (sp == NULL || (end != NULL && sp > end))
        sp = p;
    else
        sp++;
    snprintf(out, len, "%.*s",
             (int) ((end != NULL ? end : sp + strlen(sp)) - sp), sp);
}

static void expect_line(const char *text, int n, const char *want)
{
    char got[512];

    line_after_time(text, n, got, sizeof got);
    if (strcmp(got, want) != 0)
        FAIL("line %d: \"%s\", expected \"%s\"\n%s", n, got, want, text);
}

TEST(watch_prints_each_change_of_leader)
{
    rfx_server *s = start_redis();
    char path[320], *text;
    cli_tmp t;
    pid_t w, a, b;

    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    w = start_watch(&t, rfx_url(s), 0, path, sizeof path);
    free(wait_lines(path, 1, 5000));
    a = cli_candidate(&t, rfx_url(s), "cand-a", "--ttl 1000", "");
    ASSERT_GT(cli_wait_child(&t, "cand-a", 0, 5000, NULL), 0);
    free(wait_lines(path, 2, 5000));
    ASSERT_EQ(cli_stop(a), 0); /* a clean stop: released */
    free(wait_lines(path, 3, 5000));
    b = cli_candidate(&t, rfx_url(s), "cand-b", "--ttl 1000", "");
    ASSERT_GT(cli_wait_child(&t, "cand-b", 0, 5000, NULL), 0);
    free(wait_lines(path, 4, 5000));
    /* Frozen: no renewal and no release (the watchdog releases only
     * after a death), so the key expires. */
    kill(b, SIGSTOP);
    text = wait_lines(path, 5, 5000);
    expect_line(text, 1, "no leader - term 0");
    expect_line(text, 2, "elected   cand-a term 1");
    expect_line(text, 3, "released  - term 1");
    expect_line(text, 4, "elected   cand-b term 2");
    expect_line(text, 5, "expired   - term 2");
    free(text);
    ASSERT_EQ(cli_stop(w), 0);
    kill(b, SIGKILL);
    cli_wait(b, 5000);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(watch_json_and_a_bare_delete)
{
    rfx_server *s = start_redis();
    char path[320], key[80], *text, *r;
    cli_tmp t;
    pid_t w;

    cli_tmp_init(&t);
    /* sha1("cli-test") names the key, as node-leader does */
    r = rfx_command(s, "EVAL %s 0", "return redis.sha1hex('cli-test')");
    ASSERT_NOT_NULL(r);
    snprintf(key, sizeof key, "leader:%s", r);
    free(r);
    r = rfx_command(s, "SET %s node-x PX 60000", key);
    free(r);
    w = start_watch(&t, rfx_url(s), 1, path, sizeof path);
    free(wait_lines(path, 1, 5000));
    r = rfx_command(s, "DEL %s", key); /* no notification */
    free(r);
    text = wait_lines(path, 2, 3000);
    /* node-x was leading before: its age is unknown; its slack is its
     * key's ttl, read after the change. */
    ASSERT_NOT_NULL(strstr(text, "\"event\":\"elected\",\"id\":\"node-x\","
                                 "\"term\":0,\"lease_slack_ms\":"));
    ASSERT_NOT_NULL(strstr(text, ",\"holder_age_ms\":null}\n"));
    expect_line(text, 2,
                "\"event\":\"released\",\"id\":null,\"term\":0,"
                "\"lease_slack_ms\":null,\"holder_age_ms\":null}");
    ASSERT_EQ(strncmp(text, "{\"time\":\"", 9), 0);
    free(text);
    ASSERT_EQ(cli_stop(w), 0);
    cli_tmp_free(&t);
    rfx_free(s);
}

/* The number after "name": in line n of text; -2 for null, -3 absent. */
static long long json_field(const char *text, int n, const char *name)
{
    char want[64], line[1024];
    const char *at;

    line_after_time(text, n, line, sizeof line);
    snprintf(want, sizeof want, "\"%s\":", name);
    at = strstr(line, want);
    if (at == NULL)
        return -3;
    at += strlen(want);
    return strncmp(at, "null", 4) == 0 ? -2 : atoll(at);
}

TEST(watch_json_has_lease_slack_and_holder_age)
{
    rfx_server *s = start_redis();
    char path[320], *text;
    cli_tmp t;
    pid_t w, a;

    cli_tmp_init(&t);
    w = start_watch(&t, rfx_url(s), 1, path, sizeof path);
    free(wait_lines(path, 1, 5000));
    a = cli_candidate(&t, rfx_url(s), "cand-a", "--ttl 3000", "");
    ASSERT_GT(cli_wait_child(&t, "cand-a", 0, 5000, NULL), 0);
    free(wait_lines(path, 2, 5000));
    cli_sleep_ms(500);
    ASSERT_EQ(cli_stop(a), 0);
    text = wait_lines(path, 3, 5000);
    fprintf(stderr, "%s", text);
    /* Nobody led at start: no slack, no age. */
    ASSERT_EQ(json_field(text, 1, "lease_slack_ms"), -2);
    ASSERT_EQ(json_field(text, 1, "holder_age_ms"), -2);
    /* Elected as we watched: age 0, the new key's ttl left. */
    ASSERT_GT(json_field(text, 2, "lease_slack_ms"), 0);
    ASSERT_LE(json_field(text, 2, "lease_slack_ms"), 3000);
    ASSERT_EQ(json_field(text, 2, "holder_age_ms"), 0);
    /* Released: how long it led; nobody's slack. */
    ASSERT_EQ(json_field(text, 3, "lease_slack_ms"), -2);
    ASSERT_GE(json_field(text, 3, "holder_age_ms"), 400);
    ASSERT_LT(json_field(text, 3, "holder_age_ms"), 5000);
    free(text);
    ASSERT_EQ(cli_stop(w), 0);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(watch_bad_usage_exits_2)
{
    static const char *const bad[][4] = {
        {"--bogus", NULL},      {"--wait", "abc", NULL},
        {"--wait", "-1", NULL}, {"--key", NULL},
        {"extra", NULL},        {"--redis", "http://x", NULL},
    };
    char out[512], err[512];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[6] = {LEADER_BIN,
                               "watch",
                               bad[i][0],
                               bad[i][1],
                               bad[i][1] != NULL ? bad[i][2] : NULL,
                               NULL};
        ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT(strstr(err, "leader watch: ") == err);
        ASSERT(strstr(err, "--help") != NULL);
        ASSERT_EQ(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
    }
}
