/* SPDX-License-Identifier: BSD-3-Clause */
/* test_metrics.c - `leader run --metrics-listen ADDR:PORT`: scraped with
 * curl, the text is valid exposition format (checked by promtext.c, and
 * by promtool when it is installed), carries the key and id labels, and
 * counts what happens (elected, renewals, their round trips); other paths
 * are 404; only the address given is bound; a port in use or a bad
 * address is exit 2; the child inherits no listening socket. A build
 * without libmicrohttpd refuses the option with exit 2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_util.h"
#include "harness.h"
#include "promtext.h"
#include "redis_fixture.h"

#define KEY "met\"rics\\1" /* escaping must survive the round trip */
#define ID  "m1"

/* A port nobody listens on now, on 127.0.0.1. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT(fd >= 0);
    ASSERT_OK(bind(fd, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(getsockname(fd, (struct sockaddr *) &a, &len));
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static char curl_bin[512]; /* found in $PATH by need_curl() */

static void need_curl(void)
{
    const char *path = getenv("PATH");

    for (const char *p = path != NULL ? path : ""; *p != '\0';) {
        size_t n = strcspn(p, ":");
        snprintf(curl_bin, sizeof curl_bin, "%.*s/curl", (int) n, p);
        if (access(curl_bin, X_OK) == 0)
            return;
        p += n + (p[n] == ':');
    }
    SKIP("no curl (apt-get install curl)");
}

static void need_metrics_build(void)
{
#ifndef LEADER_HAVE_MICROHTTPD
    SKIP("leader is built without libmicrohttpd");
#endif
}

/* curl's exit code for url; the body in out. extra: one more curl
 * argument, or NULL. */
static int curl(const char *url, const char *extra, char *out, size_t len)
{
    static char err[4096];
    const char *argv[] = {curl_bin, "-sS", "--max-time", "5", url, extra, NULL};

    return cli_capture(argv, out, len, err, sizeof err, 10000);
}

static int http_status(const char *url, const char *method)
{
    char out[64], u[128];
    const char *argv[] = {
        curl_bin, "-s",   "-o",         "/dev/null", "-w", "%{http_code}",
        "-X",     method, "--max-time", "5",         u,    NULL};
    char err[512];

    snprintf(u, sizeof u, "%s", url);
    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000), 0);
    return atoi(out);
}

/* Scrapes and parses; fails the test on text that is not the format. */
static void scrape(int port, struct prom_text *p)
{
    static char body[1 << 17];
    char url[64], err[256];

    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    ASSERT_EQ(curl(url, NULL, body, sizeof body), 0);
    if (prom_parse(body, p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\nnot the exposition format: %s\n", body, err);
        ASSERT(0);
    }
}

static double value(const struct prom_text *p, const char *name,
                    const char *label)
{
    const char *const labels[] = {"key=" KEY, "id=" ID, label, NULL};
    double v = -1;

    if (prom_value(p, name, labels, &v) != 0) {
        fprintf(stderr, "no sample %s %s\n", name, label ? label : "");
        ASSERT(0);
    }
    return v;
}

static pid_t spawn_run(const cli_tmp *t, const char *url, int port,
                       const char *log)
{
    char listen[64];
    cli_args a = {{0}, 0};

    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    args_add(&a, LEADER_BIN, "run", "--redis", url, "--key", KEY, "--id", ID,
             "--ttl", "900ms", "--metrics-listen", listen, "--", HEARTBEAT_BIN,
             t->hb, (const char *) NULL);
    return cli_spawn(a.v, log, NULL);
}

/* Scrapes until leader_is_leader is 1 (5 s at most), from before leader
 * run listens. */
static void wait_leading(int port, struct prom_text *p)
{
    char url[64], out[64];

    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    for (int i = 0; i < 100 && curl(url, "-I", out, sizeof out) != 0; i++)
        cli_sleep_ms(50);
    for (int i = 0; i < 100; i++) {
        scrape(port, p);
        if (value(p, "leader_is_leader", NULL) == 1)
            return;
        cli_sleep_ms(50);
    }
    ASSERT(0);
}

/* promtool, when installed, must agree. */
static void promtool_check(int port)
{
    char cmd[256];

    if (system("promtool --version >/dev/null 2>&1") != 0)
        return;
    snprintf(cmd, sizeof cmd,
             "curl -s http://127.0.0.1:%d/metrics | promtool check metrics",
             port);
    ASSERT_EQ(system(cmd), 0);
}

TEST(metrics_are_served_and_count_the_election)
{
    static struct prom_text p;
    rfx_server *s;
    cli_tmp t;
    char log[300], url[96];
    int port;
    pid_t pid;
    double sent, confirmed, count;

    need_metrics_build();
    need_curl();
    s = cli_start_redis(0, NULL);
    cli_tmp_init(&t);
    cli_path(&t, "run.log", log, sizeof log);
    port = free_port();
    pid = spawn_run(&t, rfx_url(s), port, log);
    wait_leading(port, &p);
    for (int i = 0; i < p.n; i++) {
        ASSERT_STR_EQ(prom_label(&p.samples[i], "key"), KEY);
        ASSERT_STR_EQ(prom_label(&p.samples[i], "id"), ID);
    }
    ASSERT_EQ(value(&p, "leader_elections_total", NULL), 1);
    ASSERT_GT(value(&p, "leader_term", NULL), 0);
    /* Seconds: compared in ms (the harness compares integers). */
    ASSERT_GT(1000 * value(&p, "leader_lease_remaining_seconds", NULL), 0);
    ASSERT_EQ(value(&p, "leader_revocations_total", "cause=stop"), 0);
    sent = value(&p, "leader_renewals_sent_total", NULL);
    confirmed = value(&p, "leader_renewals_total", "result=confirmed");
    count = value(&p, "leader_renew_duration_seconds_count", NULL);

    cli_sleep_ms(1000); /* renewals every 300 ms */
    scrape(port, &p);
    ASSERT_GE(value(&p, "leader_renewals_sent_total", NULL), sent + 2);
    ASSERT_GE(value(&p, "leader_renewals_total", "result=confirmed"),
              confirmed + 2);
    ASSERT_GE(value(&p, "leader_renew_duration_seconds_count", NULL),
              count + 2);
    ASSERT_GT(1000 * value(&p, "leader_lease_slack_seconds", NULL), 0);
    ASSERT_EQ(value(&p, "leader_renew_duration_seconds_bucket", "le=+Inf"),
              value(&p, "leader_renew_duration_seconds_count", NULL));
    ASSERT_EQ(value(&p, "leader_errors_total", "code=ECONN"), 0);
    promtool_check(port);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    ASSERT_EQ(http_status(url, "GET"), 404);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metricsx", port);
    ASSERT_EQ(http_status(url, "GET"), 404);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    ASSERT_EQ(http_status(url, "POST"), 405);
    ASSERT_EQ(cli_stop(pid), 0);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(only_the_address_given_is_bound)
{
    static struct prom_text p;
    rfx_server *s;
    cli_tmp t;
    char log[300], url[96], out[256];
    int port;
    pid_t pid;

    need_metrics_build();
    need_curl();
    s = cli_start_redis(0, NULL);
    cli_tmp_init(&t);
    cli_path(&t, "run.log", log, sizeof log);
    port = free_port();
    pid = spawn_run(&t, rfx_url(s), port, log);
    wait_leading(port, &p);
    /* Linux routes all of 127/8 to lo: 127.0.0.2 would reach a socket
     * bound to every address. */
    snprintf(url, sizeof url, "http://127.0.0.2:%d/metrics", port);
    ASSERT_EQ(curl(url, NULL, out, sizeof out), 7); /* connection refused */
    ASSERT_EQ(cli_stop(pid), 0);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(port_in_use_is_exit_2_with_a_reason)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char listen_on[64], out[1024], err[1024];
    const char *argv[] = {LEADER_BIN,
                          "run",
                          "--redis",
                          "redis://127.0.0.1:1",
                          "--metrics-listen",
                          listen_on,
                          "--",
                          "true",
                          NULL};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof a;

    need_metrics_build();
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(bind(fd, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(listen(fd, 1));
    ASSERT_OK(getsockname(fd, (struct sockaddr *) &a, &len));
    snprintf(listen_on, sizeof listen_on, "127.0.0.1:%d", ntohs(a.sin_port));
    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000), 2);
    fprintf(stderr, "%s", err);
    ASSERT_NOT_NULL(strstr(err, "--metrics-listen"));
    ASSERT_NOT_NULL(strstr(err, "in use"));
    close(fd);
}

TEST(bad_addresses_are_exit_2_with_a_reason)
{
    static const char *const bad[] = {
        "9100",           /* no address */
        "127.0.0.1",      /* no port */
        "127.0.0.1:port", /* not a number */
        "127.0.0.1:70000",
        "[::1:9100",
        "192.0.2.1:9100", /* not an address of this host */
        NULL};

    need_metrics_build();
    for (int i = 0; bad[i] != NULL; i++) {
        char out[1024], err[1024];
        const char *argv[] = {LEADER_BIN,
                              "run",
                              "--redis",
                              "redis://127.0.0.1:1",
                              "--metrics-listen",
                              bad[i],
                              "--",
                              "true",
                              NULL};
        ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000),
                  2);
        fprintf(stderr, "%s: %s", bad[i], err);
        ASSERT_NOT_NULL(strstr(err, "--metrics-listen"));
    }
}

TEST(child_does_not_inherit_the_listening_socket)
{
    rfx_server *s;
    char out[8192], err[8192], listen_on[64];
    int others = 0, lines = 0;
    const char *argv[] = {
        LEADER_BIN, "run",  "--redis",          NULL,      "--key", "fds",
        "--ttl",    "2000", "--metrics-listen", listen_on, "--",    FDLIST_BIN,
        NULL};

    need_metrics_build();
    s = cli_start_redis(0, NULL);
    argv[3] = rfx_url(s);
    snprintf(listen_on, sizeof listen_on, "127.0.0.1:%d", free_port());
    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000), 0);
    for (char *line = strtok(out, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        lines++;
        if (atoi(line) > 2) {
            fprintf(stderr, "the child holds: %s\n", line);
            others++;
        }
    }
    ASSERT_GE(lines, 1);
    ASSERT_EQ(others, 0);
    rfx_free(s);
}

TEST(build_without_libmicrohttpd_refuses_the_option)
{
#ifdef LEADER_HAVE_MICROHTTPD
    SKIP("leader is built with libmicrohttpd");
#else
    char out[1024], err[1024];
    const char *argv[] = {LEADER_BIN,
                          "run",
                          "--redis",
                          "redis://127.0.0.1:1",
                          "--metrics-listen",
                          "127.0.0.1:9100",
                          "--",
                          "true",
                          NULL};

    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000), 2);
    ASSERT_NOT_NULL(strstr(err, "libmicrohttpd"));
#endif
}

/* The checker above is only worth what it refuses. */
TEST(the_format_checker_refuses_broken_text)
{
    static struct prom_text p;
    static const char *const bad[] = {
        "a_total 1", /* no newline at the end */
        "# TYPE a_total counter\na_total{x=\"1} 1\n",
        "# TYPE a_total counter\na_total{x=\"\\q\"} 1\n",
        "# TYPE a_total counter\na_total one\n",
        "# TYPE a counter\na 1\n", /* a counter not in _total */
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        "a 1\n# TYPE a gauge\n",
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"2\"} 1\n",
        "# TYPE a gauge\na 1\na 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\nh_count 3\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "9a 1\n",
        NULL};
    const char *good = "# HELP h x\n# TYPE h histogram\n"
                       "h_bucket{k=\"a\\\"b\\\\c\\n\",le=\"0.5\"} 1\n"
                       "h_bucket{k=\"a\\\"b\\\\c\\n\",le=\"+Inf\"} 2\n"
                       "h_sum{k=\"a\\\"b\\\\c\\n\"} 1.5\n"
                       "h_count{k=\"a\\\"b\\\\c\\n\"} 2\n"
                       "# TYPE up gauge\nup 1\n";
    char err[256];

    for (int i = 0; bad[i] != NULL; i++) {
        if (prom_parse(bad[i], &p, err, sizeof err) == 0) {
            fprintf(stderr, "accepted:\n%s", bad[i]);
            ASSERT(0);
        }
        fprintf(stderr, "refused (%s)\n", err);
    }
    if (prom_parse(good, &p, err, sizeof err) != 0) {
        fprintf(stderr, "refused: %s\n", err);
        ASSERT(0);
    }
    ASSERT_EQ(p.n, 5);
    ASSERT_STR_EQ(prom_label(&p.samples[0], "k"), "a\"b\\c\n");
}
