/* SPDX-License-Identifier: BSD-3-Clause */
/* test_status.c - `leader status`: exit 0 with a leader, 1 with none, 3
 * when Redis cannot be reached, its --json output, and a Redis Cluster
 * reached through any node. */
#define _GNU_SOURCE
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

static int status(const char *url, int json, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    const char *argv[] = {LEADER_BIN,
                          "status",
                          "--redis",
                          url,
                          "--key",
                          "cli-test",
                          json ? "--json" : NULL,
                          NULL};

    return cli_capture(argv, out, outlen, err, errlen, 10000);
}

TEST(nobody_leads_exit_1)
{
    rfx_server *s = start_redis();
    char out[1024], err[1024];

    ASSERT_EQ(status(rfx_url(s), 0, out, sizeof out, err, sizeof err), 1);
    ASSERT(strstr(out, "id: (nobody leads)") != NULL);
    ASSERT(strstr(out, "term: 0") != NULL);
    ASSERT_EQ(status(rfx_url(s), 1, out, sizeof out, err, sizeof err), 1);
    ASSERT_STR_EQ(out, "{\"key\":\"cli-test\",\"id\":null,\"term\":0,"
                       "\"lease_left_ms\":null,\"lease_slack_ms\":null,"
                       "\"holder_age_ms\":null}\n");
    rfx_free(s);
}

TEST(someone_leads_exit_0_and_json)
{
    rfx_server *s = start_redis();
    char out[1024], err[1024], expect[128];
    long long left = -1, slack = -1;
    cli_tmp t;
    pid_t a;

    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(s), "node-a", "--ttl 5000", "");
    ASSERT_GT(cli_wait_child(&t, "node-a", 0, 5000, NULL), 0);
    ASSERT_EQ(status(rfx_url(s), 0, out, sizeof out, err, sizeof err), 0);
    ASSERT(strstr(out, "id: node-a\n") != NULL);
    ASSERT(strstr(out, "term: 1\n") != NULL);
    ASSERT_EQ(status(rfx_url(s), 1, out, sizeof out, err, sizeof err), 0);
    snprintf(expect, sizeof expect,
             "{\"key\":\"cli-test\",\"id\":\"node-a\",\"term\":1,"
             "\"lease_left_ms\":");
    ASSERT_EQ(strncmp(out, expect, strlen(expect)), 0);
    ASSERT_EQ(sscanf(out + strlen(expect), "%lld,\"lease_slack_ms\":%lld,",
                     &left, &slack),
              2);
    ASSERT_GT(left, 0);
    ASSERT_LE(left, 5000);
    ASSERT_LE(slack, left); /* the same ttl, read once */
    ASSERT_GE(slack, left);
    ASSERT(strstr(out, ",\"holder_age_ms\":null}\n") != NULL);
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_EQ(status(rfx_url(s), 0, out, sizeof out, err, sizeof err), 1);
    ASSERT(strstr(out, "term: 1\n") != NULL);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(unreachable_exit_3)
{
    rfx_server *s = start_redis();
    char out[1024], err[1024], url[64];

    snprintf(url, sizeof url, "%s", rfx_url(s));
    ASSERT_OK(rfx_stop(s)); /* nothing listens on the port now */
    ASSERT_EQ(status(url, 0, out, sizeof out, err, sizeof err), 3);
    ASSERT_STR_EQ(out, "");
    ASSERT(strstr(err, "leader status: redis://127.0.0.1:") != NULL);
    ASSERT_EQ(status(url, 1, out, sizeof out, err, sizeof err), 3);
    rfx_free(s);
}

/* A Redis Cluster through the URL of any node: whichever master serves the
 * key, status and run follow the cluster's redirections to it. */
TEST(cluster_through_any_node)
{
    rfx_cluster_options co = {.masters = 3};
    rfx_cluster *c;
    char out[1024], err[1024], url[96];
    cli_tmp t;
    pid_t a;

    RFX_SKIP_IF_UNAVAILABLE();
    c = rfx_cluster_start(&co);
    ASSERT_NOT_NULL(c);
    cli_tmp_init(&t);
    a = cli_candidate(&t, rfx_url(rfx_cluster_node(c, 1)), "node-a",
                      "--ttl 5000", "");
    ASSERT_GT(cli_wait_child(&t, "node-a", 0, 5000, NULL), 0);
    for (int i = 0; i < rfx_cluster_nodes(c); i++) {
        const char *u = rfx_url(rfx_cluster_node(c, i));
        ASSERT_EQ(status(u, 0, out, sizeof out, err, sizeof err), 0);
        ASSERT(strstr(out, "id: node-a\n") != NULL);
    }
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_EQ(status(rfx_cluster_url(c), 0, out, sizeof out, err, sizeof err),
              1);
    /* A cluster has no database but 0: a clear error. */
    snprintf(url, sizeof url, "%s/1", rfx_cluster_url(c));
    ASSERT_EQ(status(url, 0, out, sizeof out, err, sizeof err), 3);
    ASSERT(strstr(err, "SELECT") != NULL);
    cli_tmp_free(&t);
    rfx_cluster_free(c);
}
