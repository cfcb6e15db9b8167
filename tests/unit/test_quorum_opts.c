/* SPDX-License-Identifier: BSD-3-Clause */
/* test_quorum_opts.c - the options of quorum mode as leader_new(),
 * leader_client_new() and leader_client_add() check them: how many URLs,
 * url and urls together, a sentinel among several, $LEADER_REDIS_URL with
 * several URLs, the password of each, and the redaction of a list. No
 * Redis: construction does no I/O. While the transport refuses a quorum
 * (lp_quorum_available() 0), three URLs must be refused with its message;
 * once it accepts them, they must make a client of three servers. */
#include "util/fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leader_int.h"

#define U1 "redis://127.0.0.1:7001"
#define U2 "redis://127.0.0.1:7002"
#define U3 "redis://127.0.0.1:7003"

static leader *make(const char *url, const char *const *urls,
                    const char *password, char *err, size_t errlen)
{
    leader_options o;

    leader_options_init(&o);
    o.url = url;
    o.urls = urls;
    o.password = password;
    return leader_new(&o, err, errlen);
}

/* leader_new() must refuse, with want in its reason. */
static void refused(const char *url, const char *const *urls, const char *want)
{
    char err[512];
    leader *l = make(url, urls, NULL, err, sizeof err);

    if (l != NULL) {
        leader_free(l);
        FAIL("accepted; wanted a refusal with \"%s\"", want);
    }
    if (strstr(err, want) == NULL)
        FAIL("refused with \"%s\"; wanted \"%s\"", err, want);
}

/* Three servers: a client of three once the transport takes them, else
 * the transport's refusal, recognisable. */
static leader *three_or_refused(const char *url, const char *const *urls,
                                const char *password)
{
    char err[512];
    leader *l = make(url, urls, password, err, sizeof err);

    if (lp_quorum_available()) {
        if (l == NULL)
            FAIL("three URLs refused: %s", err);
        ASSERT_EQ(l->client->nurls, 3);
        return l;
    }
    ASSERT_NULL(l);
    if (strstr(err, LP_QUORUM_UNAVAILABLE) == NULL)
        FAIL("refused with \"%s\"; wanted \"%s\"", err, LP_QUORUM_UNAVAILABLE);
    return NULL;
}

TEST(urls_count_must_be_one_or_odd_three_to_seven)
{
    const char *none[] = {NULL};
    const char *two[] = {U1, U2, NULL};
    const char *four[] = {U1, U2, U3, U1, NULL};
    const char *eight[] = {U1, U2, U3, U1, U2, U3, U1, U2, NULL};
    const char *nine[] = {U1, U2, U3, U1, U2, U3, U1, U2, U3, NULL};

    refused(NULL, none, "urls holds no URL");
    refused(NULL, two,
            "quorum mode needs an odd number of servers, 3 to 7: got 2");
    refused(NULL, four,
            "quorum mode needs an odd number of servers, 3 to 7: got 4");
    refused(NULL, eight,
            "quorum mode needs an odd number of servers, 3 to 7: got 8");
    refused(NULL, nine,
            "quorum mode needs an odd number of servers, 3 to 7: got 9");
}

TEST(one_url_in_urls_is_url)
{
    const char *one[] = {"redis://127.0.0.1:7001/2", NULL};
    char err[256];
    leader *l = make(NULL, one, NULL, err, sizeof err);

    if (l == NULL)
        FAIL("refused: %s", err);
    ASSERT_EQ(l->client->nurls, 1);
    ASSERT_EQ(l->client->urls[0].port, 7001);
    ASSERT_EQ(l->client->urls[0].db, 2);
    leader_free(l);
}

TEST(url_and_urls_are_exclusive)
{
    const char *one[] = {U1, NULL};

    refused(U2, one, "url and urls are exclusive");
}

TEST(a_bad_url_of_a_list_is_named_by_its_place)
{
    const char *bad[] = {U1, "http://127.0.0.1", U3, NULL};
    const char *port[] = {U1, U2, "redis://127.0.0.1:99999", NULL};

    refused(NULL, bad, "URL 2 of 3: ");
    refused(NULL, port, "URL 3 of 3: ");
}

TEST(a_sentinel_url_among_several_is_refused)
{
    const char *list[] = {U1, "redis-sentinel://127.0.0.1:26379#mymaster", U3,
                          NULL};
    const char *one[] = {"redis-sentinel://127.0.0.1:26379#mymaster", NULL};
    char err[256];
    leader *l;

    refused(NULL, list,
            "URL 2 of 3 is a Sentinel URL: quorum mode over sentinels is not "
            "supported");
    /* Alone, it is today's Sentinel URL. */
    l = make(NULL, one, NULL, err, sizeof err);
    if (l == NULL)
        FAIL("one sentinel URL refused: %s", err);
    ASSERT(l->client->urls[0].sentinel);
    leader_free(l);
}

TEST(tls_options_need_a_rediss_url_in_the_list)
{
    const char *list[] = {U1, U2, U3, NULL};
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.urls = list;
    o.tls_insecure = 1;
    l = leader_new(&o, err, sizeof err);
    ASSERT_NULL(l);
    ASSERT(strstr(err, "the tls_ options need a rediss:// URL") != NULL);
}

TEST(three_urls_make_a_client_of_three_servers_each_with_the_password)
{
    const char *list[] = {U1, "unix:///tmp/leader-test.sock",
                          "redis://alice@127.0.0.1:7003", NULL};
    leader *l = three_or_refused(NULL, list, "s3cret");

    if (l == NULL)
        SKIP("%s (the refusal is checked)", LP_QUORUM_UNAVAILABLE);
    ASSERT_EQ(l->client->urls[1].kind, LU_URL_UNIX);
    for (int i = 0; i < 3; i++) {
        ASSERT(l->client->urls[i].has_password);
        ASSERT_STR_EQ(l->client->urls[i].password, "s3cret");
    }
    ASSERT_STR_EQ(l->client->urls[2].user, "alice");
    leader_free(l);
}

TEST(five_and_seven_urls_are_a_quorum_too)
{
    const char *five[] = {U1, U2, U3, U1, U2, NULL};
    const char *seven[] = {U1, U2, U3, U1, U2, U3, U1, NULL};
    char err[512];

    for (int k = 0; k < 2; k++) {
        leader *l = make(NULL, k == 0 ? five : seven, NULL, err, sizeof err);

        if (!lp_quorum_available()) {
            ASSERT_NULL(l);
            ASSERT(strstr(err, LP_QUORUM_UNAVAILABLE) != NULL);
            continue;
        }
        if (l == NULL)
            FAIL("refused: %s", err);
        ASSERT_EQ(l->client->nurls, k == 0 ? 5 : 7);
        leader_free(l);
    }
}

TEST(env_with_one_url_is_that_url)
{
    char err[256];
    leader *l;

    setenv("LEADER_REDIS_URL", "redis://127.0.0.1:7009/3", 1);
    l = make(NULL, NULL, NULL, err, sizeof err);
    if (l == NULL)
        FAIL("refused: %s", err);
    ASSERT_EQ(l->client->nurls, 1);
    ASSERT_EQ(l->client->urls[0].port, 7009);
    ASSERT_EQ(l->client->urls[0].db, 3);
    leader_free(l);
}

TEST(env_of_only_spaces_is_the_default)
{
    char err[256];
    leader *l;

    setenv("LEADER_REDIS_URL", "   ", 1);
    l = make(NULL, NULL, NULL, err, sizeof err);
    if (l == NULL)
        FAIL("refused: %s", err);
    ASSERT_EQ(l->client->nurls, 1);
    ASSERT_EQ(l->client->urls[0].port, 6379);
    leader_free(l);
}

TEST(env_with_an_even_count_is_refused)
{
    setenv("LEADER_REDIS_URL", U1 " " U2, 1);
    refused(NULL, NULL,
            "LEADER_REDIS_URL: quorum mode needs an odd number of servers, 3 "
            "to 7: got 2");
    setenv("LEADER_REDIS_URL", U1 "  " U2 "\t" U3 " " U1 " ", 1);
    refused(NULL, NULL, "got 4");
    setenv("LEADER_REDIS_URL", U1 " http://x " U3, 1);
    refused(NULL, NULL, "URL 2 of 3: ");
}

TEST(env_with_three_urls_is_a_quorum)
{
    leader *l;

    setenv("LEADER_REDIS_URL", " " U1 " " U2 "  " U3 "\n", 1);
    l = three_or_refused(NULL, NULL, NULL);
    if (l == NULL)
        SKIP("%s (the refusal is checked)", LP_QUORUM_UNAVAILABLE);
    ASSERT_EQ(l->client->urls[0].port, 7001);
    ASSERT_EQ(l->client->urls[1].port, 7002);
    ASSERT_EQ(l->client->urls[2].port, 7003);
    leader_free(l);
}

TEST(url_option_wins_over_env_list)
{
    char err[256];
    leader *l;

    setenv("LEADER_REDIS_URL", U1 " " U2, 1);
    l = make(U3, NULL, NULL, err, sizeof err);
    if (l == NULL)
        FAIL("refused: %s", err);
    ASSERT_EQ(l->client->nurls, 1);
    ASSERT_EQ(l->client->urls[0].port, 7003);
    leader_free(l);
}

TEST(client_options_take_urls_and_handles_leave_them)
{
    const char *four[] = {U1, U2, U3, U1, NULL};
    const char *one[] = {U1, NULL};
    leader_client_options co;
    leader_options o;
    leader_client *c;
    char err[256];

    leader_client_options_init(&co);
    co.urls = four;
    ASSERT_NULL(leader_client_new(&co, err, sizeof err));
    ASSERT(strstr(err, "odd number of servers, 3 to 7: got 4") != NULL);
    co.url = U1;
    co.urls = one;
    ASSERT_NULL(leader_client_new(&co, err, sizeof err));
    ASSERT(strstr(err, "url and urls are exclusive") != NULL);
    co.url = NULL;
    c = leader_client_new(&co, err, sizeof err);
    if (c == NULL)
        FAIL("one URL in urls refused: %s", err);
    leader_options_init(&o);
    o.urls = one;
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT(strstr(err, "urls is the client's") != NULL);
    leader_client_free(c);
}

TEST(redaction_hides_every_password_of_a_list)
{
    char out[512];

    leader_url_redact("redis://:a@127.0.0.1:1 redis://u:b@127.0.0.1:2  "
                      "unix:///x.sock rediss://:c@h:3/1",
                      out, sizeof out);
    ASSERT_STR_EQ(out, "redis://:***@127.0.0.1:1 redis://u:***@127.0.0.1:2 "
                       "unix:///x.sock rediss://:***@h:3/1");
    setenv("LEADER_REDIS_URL", "redis://:p@h:1 redis://:q@h:2 redis://:r@h:3",
           1);
    leader_url_redact(NULL, out, sizeof out);
    ASSERT_STR_EQ(out, "redis://:***@h:1 redis://:***@h:2 redis://:***@h:3");
    /* One URL: as before. */
    leader_url_redact("redis://:a@127.0.0.1:1", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://:***@127.0.0.1:1");
    /* A short buffer: cut, never a password. */
    leader_url_redact("redis://:a@h:1 redis://:secret@h:2", out, 24);
    ASSERT(strstr(out, "secret") == NULL);
    ASSERT_EQ(strlen(out), 23);
}
