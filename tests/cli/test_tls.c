/* SPDX-License-Identifier: BSD-3-Clause */
/* test_tls.c - the leader command over rediss://: the --tls-... flags and
 * their LEADER_TLS_... environment defaults for status, run and watch;
 * status exits 3 with the TLS check that failed; run reports a TLS error
 * once and keeps trying; a file that cannot be used is bad usage (2). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "harness.h"
#include "hblog.h"
#include "redis_fixture.h"

static rfx_server *start_tls(int mode)
{
    rfx_options o;
    rfx_server *s;

    RFX_SKIP_IF_UNAVAILABLE();
    memset(&o, 0, sizeof o);
    o.tls = mode;
    s = rfx_start(&o);
    ASSERT_NOT_NULL(s);
    return s;
}

static char *file_of(const rfx_server *s, const char *name)
{
    char *p = strdup(rfx_tls_file(s, name));

    ASSERT_NOT_NULL(p);
    return p;
}

/* leader status with up to four more arguments (NULL ends them). */
static int status(const rfx_server *s, const char *a, const char *b,
                  const char *c, const char *d, char *err, size_t errlen)
{
    char out[1024];
    const char *argv[] = {LEADER_BIN, "status",   "--redis", rfx_url(s),
                          "--key",    "cli-test", a,         b,
                          c,          d,          NULL};

    return cli_capture(argv, out, sizeof out, err, errlen, 10000);
}

TEST(status_over_tls_with_flags_and_environment)
{
    rfx_server *s = start_tls(RFX_TLS);
    char *ca = file_of(s, "ca.crt"), *dir = file_of(s, "ca-dir");
    char err[1024];

    ASSERT_EQ(status(s, "--tls-ca-cert", ca, NULL, NULL, err, sizeof err), 1);
    ASSERT_EQ(status(s, "--tls-ca-dir", dir, NULL, NULL, err, sizeof err), 1);
    ASSERT_EQ(status(s, "--tls-ca-cert", ca, "--tls-server-name", "localhost",
                     err, sizeof err),
              1);
    setenv("LEADER_TLS_CA_CERT", ca, 1);
    ASSERT_EQ(status(s, NULL, NULL, NULL, NULL, err, sizeof err), 1);
    unsetenv("LEADER_TLS_CA_CERT");
    setenv("LEADER_TLS_INSECURE", "1", 1);
    ASSERT_EQ(status(s, NULL, NULL, NULL, NULL, err, sizeof err), 1);
    unsetenv("LEADER_TLS_INSECURE");
    free(ca);
    free(dir);
    rfx_free(s);
}

TEST(status_exits_3_with_the_tls_failure)
{
    rfx_server *s = start_tls(RFX_TLS);
    char *other = file_of(s, "other-ca.crt"), *ca = file_of(s, "ca.crt");
    char err[1024];

    ASSERT_EQ(status(s, "--tls-ca-cert", other, NULL, NULL, err, sizeof err),
              3);
    ASSERT_NOT_NULL(strstr(err, "unknown CA"));
    ASSERT_EQ(status(s, "--tls-ca-cert", ca, "--tls-server-name",
                     "redis.example", err, sizeof err),
              3);
    ASSERT_NOT_NULL(strstr(err, "host-name mismatch"));
    /* The environment's CA, and --tls-insecure over a CA that does not
     * know the server. */
    setenv("LEADER_TLS_CA_CERT", other, 1);
    ASSERT_EQ(status(s, NULL, NULL, NULL, NULL, err, sizeof err), 3);
    ASSERT_NOT_NULL(strstr(err, "unknown CA"));
    ASSERT_EQ(status(s, "--tls-insecure", NULL, NULL, NULL, err, sizeof err),
              1);
    unsetenv("LEADER_TLS_CA_CERT");
    free(other);
    free(ca);
    rfx_free(s);
}

TEST(unusable_tls_options_are_bad_usage)
{
    rfx_server *s = start_tls(RFX_TLS);
    char *key = file_of(s, "client.key"), *ca = file_of(s, "ca.crt");
    char err[1024];

    ASSERT_EQ(status(s, "--tls-ca-cert", "/nonexistent/ca.pem", NULL, NULL, err,
                     sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "/nonexistent/ca.pem"));
    ASSERT_EQ(status(s, "--tls-ca-cert", key, NULL, NULL, err, sizeof err), 2);
    ASSERT_NOT_NULL(strstr(err, "no CA certificate"));
    ASSERT_EQ(status(s, "--tls-ca-cert", ca, "--tls-cert", "/nonexistent/c",
                     err, sizeof err),
              2);
    ASSERT_EQ(status(s, "--tls-ca-cert", NULL, NULL, NULL, err, sizeof err), 2);
    ASSERT_NOT_NULL(strstr(err, "needs a value"));
    setenv("LEADER_TLS_INSECURE", "maybe", 1);
    ASSERT_EQ(status(s, NULL, NULL, NULL, NULL, err, sizeof err), 2);
    ASSERT_NOT_NULL(strstr(err, "LEADER_TLS_INSECURE"));
    unsetenv("LEADER_TLS_INSECURE");
    /* TLS options with a plain URL: refused, never ignored. */
    {
        const char *argv[] = {
            LEADER_BIN,      "status", "--redis", "redis://127.0.0.1:1",
            "--tls-ca-cert", ca,       NULL};
        char out[256];
        ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000),
                  2);
        ASSERT_NOT_NULL(strstr(err, "rediss://"));
    }
    /* run: the same check before anything starts. */
    {
        const char *argv[] = {LEADER_BIN, "run",          "--redis",
                              rfx_url(s), "--tls-ca-dir", "/nonexistent",
                              "--",       "true",         NULL};
        char out[256];
        ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000),
                  2);
        ASSERT_NOT_NULL(strstr(err, "tls_ca_dir"));
    }
    free(key);
    free(ca);
    rfx_free(s);
}

TEST(run_over_tls_with_a_client_certificate)
{
    rfx_server *s = start_tls(RFX_TLS_CLIENT_CERT);
    char *ca = file_of(s, "ca.crt"), *cert = file_of(s, "client.crt");
    char *key = file_of(s, "client.key");
    char opts[2048], err[1024];
    cli_tmp t;
    pid_t a, b;

    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    snprintf(opts, sizeof opts,
             "--ttl 2000 --tls-ca-cert %s --tls-cert %s "
             "--tls-key %s",
             ca, cert, key);
    a = cli_candidate(&t, rfx_url(s), "tls-a", opts, "");
    ASSERT_GT(cli_wait_child(&t, "tls-a", 0, 5000, NULL), 0);
    b = cli_candidate(&t, rfx_url(s), "tls-b", opts, "");
    setenv("LEADER_TLS_KEY", key, 1);
    if (status(s, "--tls-ca-cert", ca, "--tls-cert", cert, err, sizeof err) !=
        0)
        FAIL("status: %s", err);
    unsetenv("LEADER_TLS_KEY");
    /* Handover: a stops and releases, b runs its child. */
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_GT(cli_wait_child(&t, "tls-b", 0, 3000, NULL), 0);
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    free(ca);
    free(cert);
    free(key);
    rfx_free(s);
}

/* How many times needle is in the file. */
static int count_in(const char *path, const char *needle)
{
    char *text = cli_read_file(path);
    int n = 0;

    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL;
         p++)
        n++;
    free(text);
    return n;
}

TEST(run_reports_a_tls_failure_once_and_keeps_trying)
{
    rfx_server *s = start_tls(RFX_TLS);
    char *other = file_of(s, "other-ca.crt");
    char opts[1024], log[512];
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    snprintf(opts, sizeof opts, "--ttl 300 --wait 100 --tls-ca-cert %s", other);
    a = cli_candidate(&t, rfx_url(s), "tls-bad", opts, "");
    cli_path(&t, "tls-bad.log", log, sizeof log);
    for (int i = 0; i < 100 && count_in(log, "unknown CA") == 0; i++)
        cli_sleep_ms(20);
    /* Many tries later: still running, still one report. */
    cli_sleep_ms(1500);
    ASSERT(cli_alive(a));
    ASSERT_EQ(count_in(log, "unknown CA"), 1);
    /* Never elected: it ends as stopped by the signal. */
    ASSERT_EQ(cli_stop(a), 128 + SIGTERM);
    cli_tmp_free(&t);
    free(other);
    rfx_free(s);
}

TEST(watch_over_tls)
{
    rfx_server *s = start_tls(RFX_TLS);
    char *ca = file_of(s, "ca.crt");
    char out[512];
    cli_tmp t;
    pid_t w;
    const char *env[] = {NULL, NULL};
    char var[600];

    cli_tmp_init(&t);
    cli_path(&t, "watch.log", out, sizeof out);
    snprintf(var, sizeof var, "LEADER_TLS_CA_CERT=%s", ca);
    env[0] = var;
    {
        const char *argv[] = {LEADER_BIN, "watch",    "--redis", rfx_url(s),
                              "--key",    "cli-test", NULL};
        w = cli_spawn(argv, out, env);
    }
    for (int i = 0; i < 150 && !cli_file_has(out, "no leader"); i++)
        cli_sleep_ms(20);
    ASSERT(cli_file_has(out, "no leader"));
    ASSERT_EQ(cli_stop(w), 0);
    cli_tmp_free(&t);
    free(ca);
    rfx_free(s);
}

/* kill -9 of a leader over TLS: its watchdog releases over TLS too (the
 * same options), so the next candidate takes over at once, not at the
 * key's expiry. */
TEST(kill9_failover_over_tls_is_immediate)
{
    rfx_server *s = start_tls(RFX_TLS_CLIENT_CERT);
    char *ca = file_of(s, "ca.crt"), *cert = file_of(s, "client.crt");
    char *key = file_of(s, "client.key");
    char opts[2048];
    long long killed, b_start;
    cli_tmp t;
    pid_t a, b;

    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    snprintf(opts, sizeof opts,
             "--ttl 10000 --tls-ca-cert %s --tls-cert %s --tls-key %s", ca,
             cert, key);
    a = cli_candidate(&t, rfx_url(s), "tls-a", opts, "");
    ASSERT_GT(cli_wait_child(&t, "tls-a", 0, 5000, NULL), 0);
    b = cli_candidate(&t, rfx_url(s), "tls-b", opts, "");
    cli_sleep_ms(200);
    killed = hb_now_us();
    kill(a, SIGKILL);
    ASSERT_EQ(cli_wait(a, 2000), 137);
    ASSERT_GT(cli_wait_child(&t, "tls-b", killed, 5000, &b_start), 0);
    ASSERT_LT(b_start - killed, 1000 * 1000); /* ttl is 10 s */
    ASSERT_EQ(cli_stop(b), 0);
    ASSERT_EQ(cli_check_log(&t), 2);
    cli_tmp_free(&t);
    free(ca);
    free(cert);
    free(key);
    rfx_free(s);
}
