/* SPDX-License-Identifier: BSD-3-Clause */
/* test_proto.c - the protocol module: the names of an election's keys and
 * channel, the argument vectors of every command in the documented order,
 * terms in decimal at their limits, and naming a script back from its
 * digest or body. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io/lio_proto.h"
#include "leader.h"
#include "util/lu_sha1.h"

#define HEX  "0123456789abcdef0123456789abcdef01234567"
#define HEX2 "fedcba9876543210fedcba9876543210fedcba98"

static void expect_argv(const struct lio_argv *a, int argc, ...)
{
    va_list ap;

    ASSERT_EQ(a->argc, argc);
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        const char *want = va_arg(ap, const char *);
        if (want != NULL)
            ASSERT_STR_EQ(a->argv[i], want);
        ASSERT_EQ(a->lens[i], strlen(a->argv[i]));
    }
    va_end(ap);
}

TEST(names_are_derived_from_the_holder_key)
{
    struct lio_names n;
    char buf[LIO_KEY_MAX];

    lio_names_make(&n, HEX);
    ASSERT_STR_EQ(n.holder_key, "leader:" HEX);
    ASSERT_STR_EQ(lio_term_key(&n, buf), "{leader:" HEX "}:term");
    ASSERT_STR_EQ(lio_channel(&n, buf), "leader:" HEX ":events");
}

TEST(script_calls_carry_their_arguments_in_order)
{
    struct lio_names n;
    struct lio_shas shas;
    struct lio_argv a;

    lio_names_make(&n, HEX);
    ASSERT_OK(lio_shas_init(&shas));
    lio_argv_script(&a, LC_CMD_ACQUIRE, 0, &n, "me", "3000",
                    lio_sha_of(&shas, LC_CMD_ACQUIRE));
    expect_argv(&a, 8, "EVALSHA", lio_sha_of(&shas, LC_CMD_ACQUIRE), "2",
                "leader:" HEX, "{leader:" HEX "}:term", "me", "3000", "0");
    lio_argv_script(&a, LC_CMD_RENEW, LEADER_TERM_MAX, &n, "me", "3000",
                    lio_sha_of(&shas, LC_CMD_RENEW));
    expect_argv(&a, 8, "EVALSHA", NULL, "2", NULL, NULL, "me", LIO_TERM_MAX,
                "3000");
    lio_argv_script(&a, LC_CMD_RELEASE, UINT64_MAX, &n, "me", NULL, NULL);
    expect_argv(&a, 7, "EVAL", lio_script_body(LC_CMD_RELEASE), "2", NULL, NULL,
                "me", "18446744073709551615");
    lio_argv_script(&a, LC_CMD_READ, 0, &n, NULL, NULL, NULL);
    expect_argv(&a, 5, "EVAL", lio_script_body(LC_CMD_READ), "2", "leader:" HEX,
                "{leader:" HEX "}:term");
    lio_argv_probe(&a, &n);
    expect_argv(&a, 2, "PTTL", "leader:" HEX);
}

TEST(scripts_are_named_back_by_digest_or_body)
{
    static const enum lc_cmd_kind kinds[] = {LC_CMD_ACQUIRE, LC_CMD_RENEW,
                                             LC_CMD_RELEASE, LC_CMD_READ};
    struct lio_shas shas;

    ASSERT_OK(lio_shas_init(&shas));
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const char *body = lio_script_body(kinds[i]);
        const char *sha = lio_sha_of(&shas, kinds[i]);
        char hex[41];

        ASSERT_NOT_NULL(body);
        ASSERT_OK(lu_sha1_hex(body, strlen(body), hex));
        ASSERT_STR_EQ(sha, hex);
        ASSERT_EQ(lio_script_named(&shas, sha, 40, 1), kinds[i]);
        ASSERT_EQ(lio_script_named(&shas, body, strlen(body), 0), kinds[i]);
        ASSERT_EQ(lio_script_named(&shas, sha, 39, 1), 0);
        ASSERT_EQ(lio_script_named(&shas, body, strlen(body), 1), 0);
    }
    ASSERT_NULL(lio_script_body(LC_CMD_PROBE));
    ASSERT_STR_EQ(lio_sha_of(&shas, LC_CMD_PROBE), "");
}

TEST(batch_renewal_lists_every_key_then_every_argument)
{
    struct lio_names n[2];
    struct lio_shas shas;
    struct lio_batch_item it[2];
    static struct lio_batch_argv a;
    char hex[41];

    lio_names_make(&n[0], HEX);
    lio_names_make(&n[1], HEX2);
    ASSERT_OK(lio_shas_init(&shas));
    it[0] = (struct lio_batch_item){&n[0], "me", 7, "3000"};
    it[1] = (struct lio_batch_item){&n[1], "you", LEADER_TERM_MAX, "500"};
    lio_argv_batch(&a, it, 2, lio_batch_sha(&shas));
    ASSERT_EQ(a.argc, 13);
    ASSERT_STR_EQ(a.argv[0], "EVALSHA");
    ASSERT_STR_EQ(a.argv[1], lio_batch_sha(&shas));
    ASSERT_STR_EQ(a.argv[2], "4");
    ASSERT_STR_EQ(a.argv[3], "leader:" HEX);
    ASSERT_STR_EQ(a.argv[4], "{leader:" HEX "}:term");
    ASSERT_STR_EQ(a.argv[5], "leader:" HEX2);
    ASSERT_STR_EQ(a.argv[6], "{leader:" HEX2 "}:term");
    ASSERT_STR_EQ(a.argv[7], "me");
    ASSERT_STR_EQ(a.argv[8], "7");
    ASSERT_STR_EQ(a.argv[9], "3000");
    ASSERT_STR_EQ(a.argv[10], "you");
    ASSERT_STR_EQ(a.argv[11], LIO_TERM_MAX);
    ASSERT_STR_EQ(a.argv[12], "500");
    for (int i = 0; i < a.argc; i++)
        ASSERT_EQ(a.lens[i], strlen(a.argv[i]));
    lio_argv_batch(&a, it, 1, NULL);
    ASSERT_EQ(a.argc, 8);
    ASSERT_STR_EQ(a.argv[0], "EVAL");
    ASSERT_STR_EQ(a.argv[1], lio_batch_body());
    ASSERT_STR_EQ(a.argv[2], "2");
    ASSERT_OK(lu_sha1_hex(lio_batch_body(), strlen(lio_batch_body()), hex));
    ASSERT_STR_EQ(lio_batch_sha(&shas), hex);
    ASSERT_EQ(lio_batch_named(&shas, hex, 40, 1), 1);
    ASSERT_EQ(
        lio_batch_named(&shas, lio_batch_body(), strlen(lio_batch_body()), 0),
        1);
    ASSERT_EQ(lio_batch_named(&shas, lio_sha_of(&shas, LC_CMD_RENEW), 40, 1),
              0);
    ASSERT_EQ(lio_script_named(&shas, hex, 40, 1), 0);
}

TEST(timing_follows_the_shortest_ttl_within_bounds)
{
    struct lio_timing t;

    lio_timing_for(3000, &t);
    ASSERT_EQ(t.ping_every, 1000);
    ASSERT_EQ(t.sub_timeout, 1000);
    ASSERT_EQ(t.keepalive_s, 1);
    lio_timing_for(200, &t);
    ASSERT_EQ(t.ping_every, 500);
    ASSERT_EQ(t.sub_timeout, 250);
    ASSERT_EQ(t.keepalive_s, 1);
    lio_timing_for(600000, &t);
    ASSERT_EQ(t.ping_every, 5000);
    ASSERT_EQ(t.sub_timeout, 2000);
    ASSERT_EQ(t.keepalive_s, 15);
}
