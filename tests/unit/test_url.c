/* SPDX-License-Identifier: BSD-3-Clause */
/* test_url.c - the Redis URL parser: every form of the grammar, and the
 * mistakes users make, each with its error code. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leader.h"
#include "util/lu_url.h"

static struct lu_url u;
static char err[256];

static int parse(const char *url)
{
    err[0] = '\0';
    return lu_url_parse(url, &u, err, sizeof err);
}

TEST(host_only_gets_the_default_port)
{
    ASSERT_OK(parse("redis://localhost"));
    ASSERT_EQ(u.kind, LU_URL_TCP);
    ASSERT_STR_EQ(u.host, "localhost");
    ASSERT_EQ(u.port, 6379);
    ASSERT_EQ(u.db, 0);
    ASSERT_EQ(u.has_password, 0);
}

TEST(full_url)
{
    ASSERT_OK(parse("redis://alice:s3cret@10.0.0.7:6380/5"));
    ASSERT_STR_EQ(u.host, "10.0.0.7");
    ASSERT_EQ(u.port, 6380);
    ASSERT_EQ(u.db, 5);
    ASSERT_EQ(u.has_user, 1);
    ASSERT_STR_EQ(u.user, "alice");
    ASSERT_STR_EQ(u.password, "s3cret");
}

TEST(password_without_user_and_percent_encoding)
{
    ASSERT_OK(parse("redis://:p%40ss%3Aw@h:1/"));
    ASSERT_EQ(u.has_user, 0);
    ASSERT_EQ(u.has_password, 1);
    ASSERT_STR_EQ(u.password, "p@ss:w");
    ASSERT_EQ(u.port, 1);
    ASSERT_EQ(u.db, 0);
}

TEST(ipv6_in_brackets)
{
    ASSERT_OK(parse("redis://[::1]:7000"));
    ASSERT_STR_EQ(u.host, "::1");
    ASSERT_EQ(u.port, 7000);
    ASSERT_OK(parse("redis://[::1]"));
    ASSERT_EQ(u.port, 6379);
}

TEST(unix_socket_with_db)
{
    ASSERT_OK(parse("unix:///tmp/redis.sock?db=3"));
    ASSERT_EQ(u.kind, LU_URL_UNIX);
    ASSERT_STR_EQ(u.path, "/tmp/redis.sock");
    ASSERT_EQ(u.db, 3);
    ASSERT_OK(parse("unix:///run/r.sock"));
    ASSERT_EQ(u.db, 0);
}

TEST(a_user_alone_waits_for_a_password_given_apart)
{
    ASSERT_OK(parse("redis://app@cache.example:6380/1"));
    ASSERT_EQ(u.has_user, 1);
    ASSERT_EQ(u.has_password, 0);
    ASSERT_STR_EQ(u.user, "app");
    ASSERT_EQ(parse("redis://@host"), LEADER_EURL);
}

TEST(rediss_is_tcp_with_tls)
{
    ASSERT_OK(parse("rediss://u:p%40ss@cache.example:6380/2"));
    ASSERT_EQ(u.kind, LU_URL_TCP);
    ASSERT_EQ(u.tls, 1);
    ASSERT_STR_EQ(u.host, "cache.example");
    ASSERT_EQ(u.port, 6380);
    ASSERT_STR_EQ(u.password, "p@ss");
    ASSERT_EQ(u.db, 2);
    ASSERT_OK(parse("redis://cache.example:6380"));
    ASSERT_EQ(u.tls, 0);
    ASSERT_EQ(parse("rediss://"), LEADER_EURL);
    ASSERT_EQ(parse("rediss:///tmp/x.sock"), LEADER_EURL);
}

TEST(rediss_password_is_redacted)
{
    char out[128];

    lu_url_redact("rediss://app:s3cret@h:6380/1", out, sizeof out);
    ASSERT_STR_EQ(out, "rediss://app:***@h:6380/1");
}

TEST(sentinel_urls)
{
    ASSERT_OK(parse("redis-sentinel://s1,s2:26380,[::1]:7,10.0.0.1#mymaster"));
    ASSERT_EQ(u.kind, LU_URL_TCP);
    ASSERT_EQ(u.sentinel, 1);
    ASSERT_EQ(u.tls, 0);
    ASSERT_EQ(u.nsentinels, 4);
    ASSERT_STR_EQ(u.sentinels[0].host, "s1");
    ASSERT_EQ(u.sentinels[0].port, 26379);
    ASSERT_STR_EQ(u.sentinels[1].host, "s2");
    ASSERT_EQ(u.sentinels[1].port, 26380);
    ASSERT_STR_EQ(u.sentinels[2].host, "::1");
    ASSERT_EQ(u.sentinels[2].port, 7);
    ASSERT_STR_EQ(u.sentinels[3].host, "10.0.0.1");
    ASSERT_EQ(u.sentinels[3].port, 26379);
    ASSERT_STR_EQ(u.master_name, "mymaster");
    ASSERT_STR_EQ(u.host, "s1"); /* until the sentinels answer */
    ASSERT_EQ(u.db, 0);
    ASSERT_EQ(u.has_password, 0);

    ASSERT_OK(parse("rediss-sentinel://app:pw%40x@[::1],h:1/3#m-1"));
    ASSERT_EQ(u.tls, 1);
    ASSERT_EQ(u.sentinel, 1);
    ASSERT_EQ(u.nsentinels, 2);
    ASSERT_STR_EQ(u.sentinels[0].host, "::1");
    ASSERT_EQ(u.sentinels[0].port, 26379);
    ASSERT_STR_EQ(u.user, "app");
    ASSERT_STR_EQ(u.password, "pw@x");
    ASSERT_EQ(u.db, 3);
    ASSERT_STR_EQ(u.master_name, "m-1");

    ASSERT_OK(parse("redis://h"));
    ASSERT_EQ(u.sentinel, 0);
}

TEST(malformed_urls_are_refused_with_a_reason)
{
    static const char *bad[] = {
        "",
        "localhost:6379",
        "http://localhost",
        "redis://",
        "redis://:6379",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:99999999999",
        "redis://host:abc",
        "redis://host:",
        "redis://host:-1",
        "redis://ho st",
        "redis://host/x",
        "redis://host/1/2",
        "redis://host?db=1",
        "redis://host#frag",
        "redis://:bad%zz@host",
        "redis://:bad%4@host",
        "redis://[::1",
        "redis://[::1]x",
        "redis://[zz]:1",
        "unix://relative.sock",
        "unix://",
        "unix:///s.sock?db=",
        "unix:///s.sock?foo=1",
        "redis-sentinel://h",
        "redis-sentinel://h#",
        "redis-sentinel://h/0",
        "redis-sentinel://h?x=1#m",
        "redis-sentinel://h,#m",
        "redis-sentinel://,h#m",
        "redis-sentinel://h:0#m",
        "redis-sentinel://h/x#m",
        "redis-sentinel://h#m m",
        "redis-sentinel://a,b,c,d,e,f,g,h,i#m",
        "redis-sentinel://[::1#m",
        "redis-sentinels://h#m",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i]);
        if (rc != LEADER_EURL)
            FAIL("\"%s\" gave %d, expected LEADER_EURL", bad[i], rc);
        if (err[0] == '\0')
            FAIL("\"%s\" gave no reason", bad[i]);
    }
    ASSERT_EQ(lu_url_parse(NULL, &u, err, sizeof err), LEADER_EURL);
}

TEST(errors_never_show_the_password)
{
    ASSERT_EQ(parse("redis://:hunter2@host:70000"), LEADER_EURL);
    ASSERT_NULL(strstr(err, "hunter2"));
}

TEST(long_socket_path_is_refused)
{
    char url[300] = "unix:///";
    memset(url + 8, 'a', 200);
    url[208] = '\0';
    ASSERT_EQ(parse(url), LEADER_EURL);
}

TEST(redact_hides_only_the_password)
{
    char out[128];

    lu_url_redact("redis://alice:s3cret@h:1/2", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://alice:***@h:1/2");
    lu_url_redact("redis://:pw@h", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://:***@h");
    lu_url_redact("redis://h:1", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://h:1");
    lu_url_redact("unix:///tmp/s", out, sizeof out);
    ASSERT_STR_EQ(out, "unix:///tmp/s");
    lu_url_redact("redis://a:b:c@h", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://a:***@h");
}

/* The public form: the URL a handle would use when given NULL, and a
 * buffer too small for the whole URL still ends in NUL. */
TEST(public_redact_defaults_like_a_handle)
{
    char out[128], tiny[8];

    setenv("LEADER_REDIS_URL", "redis://u:hunter2@example:7000/3", 1);
    leader_url_redact(NULL, out, sizeof out);
    ASSERT_STR_EQ(out, "redis://u:***@example:7000/3");
    unsetenv("LEADER_REDIS_URL");
    leader_url_redact(NULL, out, sizeof out);
    ASSERT_STR_EQ(out, "redis://127.0.0.1:6379");
    leader_url_redact("redis://:pw@h", out, sizeof out);
    ASSERT_STR_EQ(out, "redis://:***@h");
    leader_url_redact("redis://:pw@h", tiny, sizeof tiny);
    ASSERT_STR_EQ(tiny, "redis:/");
    leader_url_redact("redis://:pw@h", out, 0); /* nothing written */
    leader_url_redact("redis://:pw@h", NULL, 10);
}
