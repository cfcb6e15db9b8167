/* SPDX-License-Identifier: BSD-3-Clause */
/* test_reply.c - decoding of script replies, error replies and
 * notifications, including replies of the wrong shape. */
#include <string.h>

#include <stdlib.h>

#include "core/lc_reply.h"
#include "harness.h"
#include "io/lio_proto.h"
#include "leader.h"

static struct lc_value i_(long long v)
{
    struct lc_value x = {.type = LC_VAL_INT, .integer = v};
    return x;
}

static struct lc_value s_(const char *s)
{
    struct lc_value x = {.type = LC_VAL_STR, .str = s, .len = strlen(s)};
    return x;
}

static struct lc_value arr(struct lc_value *el, size_t n)
{
    struct lc_value x = {.type = LC_VAL_ARRAY, .elem = el, .n = n};
    return x;
}

TEST(acquire_won)
{
    struct lc_value el[2] = {i_(1), i_(42)};
    struct lc_value v = arr(el, 2);
    struct lc_acquire_result r;

    ASSERT_OK(lc_decode_acquire(&v, &r));
    ASSERT_EQ(r.won, 1);
    ASSERT_EQ(r.term, 42);
}

TEST(acquire_lost_names_the_holder_and_its_pttl)
{
    struct lc_value el[3] = {i_(0), s_("other-id"), i_(1234)};
    struct lc_value v = arr(el, 3);
    struct lc_acquire_result r;

    ASSERT_OK(lc_decode_acquire(&v, &r));
    ASSERT_EQ(r.won, 0);
    ASSERT_EQ(r.holder_len, 8);
    ASSERT_EQ(memcmp(r.holder, "other-id", 8), 0);
    ASSERT_EQ(r.pttl, 1234);
}

TEST(acquire_won_up_to_the_maximum_term_only)
{
    struct lc_value at_max[2] = {i_(1), i_((long long) LEADER_TERM_MAX)};
    struct lc_value above[2] = {i_(1), i_((long long) LEADER_TERM_MAX + 1)};
    struct lc_value big[2] = {i_(1), s_("9007199254740993")};
    struct lc_value v;
    struct lc_acquire_result r;

    v = arr(at_max, 2);
    ASSERT_OK(lc_decode_acquire(&v, &r));
    ASSERT(r.term == LEADER_TERM_MAX);
    v = arr(above, 2);
    ASSERT_EQ(lc_decode_acquire(&v, &r), LEADER_EPROTO);
    v = arr(big, 2);
    ASSERT_EQ(lc_decode_acquire(&v, &r), LEADER_EPROTO);
}

TEST(scripts_and_header_agree_on_the_maximum_term)
{
    ASSERT(strtoull(LIO_TERM_MAX, NULL, 10) == LEADER_TERM_MAX);
    ASSERT(LEADER_TERM_MAX < (UINT64_C(1) << 53));
}

TEST(counter_in_a_lost_or_read_reply_is_a_term_or_unknown)
{
    static const struct {
        const char *text;
        uint64_t term;
    } cases[] = {
        {"42", 42},
        {"9000000000000000", LEADER_TERM_MAX},
        {"9000000000000001", 0}, /* above the maximum: set by hand */
        {"9007199254740993", 0},
        {"18446744073709551616", 0},
        {"0", 0},
        {"-5", 0},
        {"abc", 0},
        {"", 0},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_value lost[4] = {i_(0), s_("h"), i_(5), s_(cases[i].text)};
        struct lc_value rd[3] = {s_("h"), i_(5), s_(cases[i].text)};
        struct lc_value v = arr(lost, 4);
        struct lc_acquire_result r;
        struct lc_read_result rr;

        ASSERT_OK(lc_decode_acquire(&v, &r)); /* still followable */
        if (r.holder_term != cases[i].term)
            FAIL("lost, \"%s\": %llu", cases[i].text,
                 (unsigned long long) r.holder_term);
        v = arr(rd, 3);
        ASSERT_OK(lc_decode_read(&v, &rr));
        if (rr.term != cases[i].term)
            FAIL("read, \"%s\": %llu", cases[i].text,
                 (unsigned long long) rr.term);
    }
}

TEST(acquire_replies_of_the_wrong_shape_are_protocol_errors)
{
    struct lc_value won_zero[2] = {i_(1), i_(0)};
    struct lc_value won_str[2] = {i_(1), s_("x")};
    struct lc_value won_extra[3] = {i_(1), i_(2), i_(3)};
    struct lc_value lost_short[2] = {i_(0), s_("h")};
    struct lc_value lost_empty[3] = {i_(0), s_(""), i_(5)};
    struct lc_value lost_pttl[3] = {i_(0), s_("h"), s_("5")};
    struct lc_value lost_neg[3] = {i_(0), s_("h"), i_(-9)};
    struct lc_value flag2[2] = {i_(2), i_(1)};
    struct lc_value cases[] = {
        arr(won_zero, 2),   arr(won_str, 2),
        arr(won_extra, 3),  arr(lost_short, 2),
        arr(lost_empty, 3), arr(lost_pttl, 3),
        arr(lost_neg, 3),   arr(flag2, 2),
        arr(NULL, 0),       i_(1),
        s_("OK"),
    };
    struct lc_acquire_result r;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (lc_decode_acquire(&cases[i], &r) != LEADER_EPROTO)
            FAIL("case %zu was accepted", i);
    ASSERT_EQ(lc_decode_acquire(NULL, &r), LEADER_EPROTO);
}

TEST(error_replies_are_classified)
{
    struct {
        const char *text;
        int code;
    } cases[] = {
        {"NOAUTH Authentication required.", LEADER_EAUTH},
        {"WRONGPASS invalid username-password pair", LEADER_EAUTH},
        {"NOPERM this user has no permissions", LEADER_EAUTH},
        {"WRONGTYPE Operation against a key holding the wrong kind",
         LEADER_EWRONGTYPE},
        {"ERR Error running script (call to f_1): @user_script:1: "
         "WRONGTYPE Operation against a key",
         LEADER_EWRONGTYPE},
        {"READONLY You can't write against a read only replica.",
         LEADER_EREADONLY},
        {"ERR unknown command", LEADER_EREDIS},
        {"LOADING Redis is loading the dataset in memory", LEADER_EREDIS},
        {"LEADERTERM the term counter {leader:x}:term is at "
         "9000000000000000 or holds no term",
         LEADER_ETERM},
        {"ERR The user executing the script can't run this command or "
         "subcommand script: 61636018f4e6, on @user_script:1.",
         LEADER_EAUTH},
        /* Redis 7.2 and Valkey 8. */
        {"ERR ACL failure in script: User app has no permissions to run "
         "the 'get' command script: ef7f6f5487051f28, on @user_script:9.",
         LEADER_EAUTH},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_value v = {.type = LC_VAL_ERR,
                             .str = cases[i].text,
                             .len = strlen(cases[i].text)};
        struct lc_acquire_result r;
        int flag;
        ASSERT_EQ(lc_decode_acquire(&v, &r), cases[i].code);
        ASSERT_EQ(lc_decode_flag(&v, &flag), cases[i].code);
    }
}

TEST(acl_refusals_name_what_is_missing)
{
    struct {
        const char *what, *text, *words;
    } cases[] = {
        {"acquire",
         "NOPERM this user has no permissions to run the "
         "'evalsha' command",
         "lacks +evalsha"},
        {"connection lost",
         "NOPERM this user has no permissions to run "
         "the 'select' command or its subcommand",
         "lacks +select"},
        {"renew",
         "ERR The user executing the script can't run this "
         "command or subcommand script: abc, on @user_script:1.",
         "one of +get +pexpire, which the renew script runs"},
        {"acquire",
         "NOPERM this user has no permissions to access one of "
         "the keys used as arguments",
         "~{leader:*}:term"},
        {"acquire",
         "ERR The user executing the script can't access at "
         "least one of the keys mentioned in the command",
         "~leader:*"},
        {"subscribe",
         "NOPERM this user has no permissions to access one "
         "of the channels used as arguments",
         "&leader:*"},
        {"acquire",
         "ERR The user executing the script can't publish to "
         "the channel mentioned in the command",
         "&leader:*"},
        /* Redis 7.2 and Valkey 8: the same words in and out of scripts. */
        {"read",
         "ERR ACL failure in script: User app has no permissions to run "
         "the 'get' command script: ef7f6f54, on @user_script:9.",
         "lacks +get, which the read script runs"},
        {"read",
         "ERR ACL failure in script: No permissions to access a key "
         "script: ef7f6f54, on @user_script:3.",
         "~{leader:*}:term"},
        {"acquire",
         "ERR ACL failure in script: No permissions to access a channel "
         "script: ef7f6f54, on @user_script:20.",
         "&leader:*"},
        {"renew",
         "NOPERM User app has no permissions to access the 'leader:x' key",
         "~leader:*"},
        {"subscribe",
         "NOPERM User app has no permissions to access the 'leader:x' "
         "channel",
         "&leader:*"},
    };
    char out[160];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_EQ(lc_describe_acl(cases[i].what, cases[i].text,
                                  strlen(cases[i].text), out, sizeof out),
                  1);
        if (strstr(out, cases[i].words) == NULL)
            FAIL("case %zu: \"%s\" lacks \"%s\"", i, out, cases[i].words);
    }
    ASSERT_EQ(
        lc_describe_acl("acquire", "WRONGPASS invalid", 17, out, sizeof out),
        0);
    ASSERT_EQ(lc_describe_acl("acquire", NULL, 0, out, sizeof out), 0);
    /* A command name is taken up to its quote, never past the text. */
    {
        static const char cut[] = "NOPERM no permissions to run the 'get";
        ASSERT_EQ(lc_describe_acl("x", cut, sizeof cut - 1, out, sizeof out),
                  1);
    }
    ASSERT_NOT_NULL(strstr(out, "+get"));
}

TEST(flag_replies)
{
    struct lc_value one = i_(1), zero = i_(0), two = i_(2), str = s_("1");
    int flag = -1;

    ASSERT_OK(lc_decode_flag(&one, &flag));
    ASSERT_EQ(flag, 1);
    ASSERT_OK(lc_decode_flag(&zero, &flag));
    ASSERT_EQ(flag, 0);
    ASSERT_EQ(lc_decode_flag(&two, &flag), LEADER_EPROTO);
    ASSERT_EQ(lc_decode_flag(&str, &flag), LEADER_EPROTO);
    ASSERT_EQ(lc_decode_flag(NULL, &flag), LEADER_EPROTO);
}

TEST(notifications_parse)
{
    struct lc_notify n;
    const char *e = "elected 9000000000000000 abc-def";
    const char *r = "released 3 x";

    ASSERT_OK(lc_parse_notify(e, strlen(e), &n));
    ASSERT_EQ(n.kind, LC_NOTIFY_ELECTED);
    ASSERT(n.term == LEADER_TERM_MAX);
    ASSERT_EQ(n.id_len, 7);
    ASSERT_EQ(memcmp(n.id, "abc-def", 7), 0);
    ASSERT_OK(lc_parse_notify(r, strlen(r), &n));
    ASSERT_EQ(n.kind, LC_NOTIFY_RELEASED);
    ASSERT_EQ(n.term, 3);
}

TEST(bad_notifications_are_refused)
{
    static const char *bad[] = {
        "",
        "elected",
        "elected ",
        "elected 5",
        "elected 5 ",
        "elected x id",
        "elected -5 id",
        "elected 18446744073709551616 id",
        "elected 18446744073709551615 id", /* terms end at the maximum */
        "elected 9007199254740993 mallory",
        "elected 9000000000000001 id",
        "released 0 id", /* terms start at 1 */
        "elected  5 id",
        "chosen 5 id",
        "ELECTED 5 id",
    };
    struct lc_notify n;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lc_parse_notify(bad[i], strlen(bad[i]), &n) != LEADER_EPROTO)
            FAIL("\"%s\" was accepted", bad[i]);
    ASSERT_EQ(lc_parse_notify(NULL, 0, &n), LEADER_EPROTO);
}

TEST(strerror_covers_every_code)
{
    for (int code = LEADER_OK; code >= LEADER_EUNHEALTHY; code--)
        ASSERT(strcmp(leader_strerror(code), "unknown error") != 0);
    ASSERT_STR_EQ(leader_strerror(-999), "unknown error");
    ASSERT_STR_EQ(leader_strerror(5), "unknown error");
}
