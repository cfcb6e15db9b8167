/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cluster_replies.c - the Cluster parsers against a real server in cluster
 * mode (one node, no peers): our hash slots agree with CLUSTER KEYSLOT for
 * keys with and without hash tags, binary ones too, and what CLUSTER SLOTS
 * answers over RESP2 and RESP3 parses to the slots the node was given. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io/lio_cluster.h"
#include "io/lio_proto.h"
#include "redis_fixture.h"
#include "util/lu_sha1.h"

static rfx_server *start_cluster_node(void)
{
    static const char *const args[] = {"--cluster-enabled", "yes", NULL};
    rfx_options opts = {.extra_args = args};
    rfx_server *s;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(&opts);
    ASSERT_NOT_NULL(s);
    return s;
}

static unsigned server_slot(redisContext *c, const char *key, size_t len)
{
    redisReply *r = redisCommand(c, "CLUSTER KEYSLOT %b", key, len);
    unsigned v;

    ASSERT_NOT_NULL(r);
    if (r->type != REDIS_REPLY_INTEGER)
        FAIL("CLUSTER KEYSLOT: reply type %d (%s)", r->type,
             r->type == REDIS_REPLY_ERROR ? r->str : "");
    v = (unsigned) r->integer;
    freeReplyObject(r);
    return v;
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(key_slots_agree_with_the_server)
{
    static const char *names[] = {"default", "jobs", "{x}"};
    /* Braces often, so that tags of every shape come up. */
    static const char alphabet[] = "{}{}ab:\0\xff";
    rfx_server *s = start_cluster_node();
    redisContext *c = rfx_connect(s);
    uint64_t x = harness_seed() | 1;
    char key[24];

    ASSERT_NOT_NULL(c);
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t) (next(&x) % sizeof key);
        unsigned ours, theirs;

        for (size_t j = 0; j < len; j++)
            key[j] =
                next(&x) % 4 == 0 ? (char) next(&x) : alphabet[next(&x) % 10];
        ours = lio_cluster_key_slot(key, len);
        theirs = server_slot(c, key, len);
        if (ours != theirs)
            FAIL("key %d (%zu bytes): slot %u, the server's %u", i, len, ours,
                 theirs);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct lio_names n;
        char hex[41], buf[LIO_KEY_MAX];
        const char *term;

        ASSERT_OK(lu_sha1_hex(names[i], strlen(names[i]), hex));
        lio_names_make(&n, hex);
        term = lio_term_key(&n, buf);
        ASSERT_EQ(server_slot(c, term, strlen(term)),
                  server_slot(c, n.holder_key, strlen(n.holder_key)));
        ASSERT_EQ(lio_cluster_key_slot(term, strlen(term)),
                  server_slot(c, term, strlen(term)));
    }
    redisFree(c);
    rfx_free(s);
}

static int slots_of(redisContext *c, struct lio_cluster_range *out, size_t cap)
{
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    int n;

    ASSERT_NOT_NULL(r);
    n = lio_cluster_slots(r, out, cap);
    freeReplyObject(r);
    return n;
}

/* Redis sends the ranges sorted; the parser keeps the reply's order. */
static void expect_given_slots(redisContext *c, int port)
{
    struct lio_cluster_range got[4];
    static const unsigned want[][2] = {{0, 2}, {100, 100}, {16383, 16383}};

    ASSERT_EQ(slots_of(c, got, 4), 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(got[i].start, want[i][0]);
        ASSERT_EQ(got[i].end, want[i][1]);
        ASSERT_EQ(got[i].master.port, port);
        ASSERT_EQ(got[i].nreplicas, 0);
        /* A lone node does not know its own address yet. */
        if (got[i].master.host[0] != '\0' &&
            strcmp(got[i].master.host, "127.0.0.1") != 0)
            FAIL("host \"%s\"", got[i].master.host);
    }
}

static void command_ok(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);

    ASSERT_NOT_NULL(r);
    if (r->type == REDIS_REPLY_ERROR)
        FAIL("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

TEST(the_servers_slots_reply_parses)
{
    rfx_server *s = start_cluster_node();
    redisContext *c = rfx_connect(s);
    struct lio_cluster_range got[1];
    redisReply *r;

    ASSERT_NOT_NULL(c);
    ASSERT_EQ(slots_of(c, got, 1), 0); /* nothing assigned yet */
    command_ok(c, "CLUSTER ADDSLOTS 0 1 2 100 16383");
    expect_given_slots(c, rfx_port(s));
    command_ok(c, "HELLO 3");
    expect_given_slots(c, rfx_port(s));
    /* Redis 7: the node's host as nil. */
    r = redisCommand(c, "CONFIG SET cluster-preferred-endpoint-type "
                        "unknown-endpoint");
    ASSERT_NOT_NULL(r);
    if (r->type != REDIS_REPLY_ERROR) {
        struct lio_cluster_range all[3];
        ASSERT_EQ(slots_of(c, all, 3), 3);
        ASSERT_STR_EQ(all[0].master.host, "");
        ASSERT_EQ(all[0].master.port, rfx_port(s));
    }
    freeReplyObject(r);
    redisFree(c);
    rfx_free(s);
}
