/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sentinel.c - the parsers of what sentinels say: the master's
 * address, "unknown master", a +switch-master of ours or of another master,
 * and every malformed form refused. */
#include <string.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "io/lio_sentinel.h"

/* A reply parsed from RESP text; the caller frees it. */
static redisReply *parse(const char *resp)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    ASSERT_NOT_NULL(reader);
    ASSERT_EQ(redisReaderFeed(reader, resp, strlen(resp)), REDIS_OK);
    ASSERT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
    ASSERT_NOT_NULL(reply);
    redisReaderFree(reader);
    return reply;
}

static int addr(const char *resp, char *host, int *port)
{
    redisReply *r = parse(resp);
    int found = lio_sentinel_master_addr(r, host, port);

    freeReplyObject(r);
    return found;
}

TEST(master_addresses)
{
    char host[LU_URL_HOST_MAX + 1];
    int port = 0;

    ASSERT_EQ(addr("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", host, &port), 1);
    ASSERT_STR_EQ(host, "127.0.0.1");
    ASSERT_EQ(port, 6380);
    ASSERT_EQ(addr("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n", host, &port), 1);
    ASSERT_STR_EQ(host, "::1");
    ASSERT_EQ(addr("*-1\r\n", host, &port), 0);
    ASSERT_EQ(addr("$-1\r\n", host, &port), 0);
}

TEST(malformed_master_addresses_are_refused)
{
    static const char *bad[] = {
        "-ERR No such master\r\n",
        "*0\r\n",
        "*1\r\n$1\r\na\r\n",
        "*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n",
        "*2\r\n$0\r\n\r\n$4\r\n6380\r\n",
        "*2\r\n$3\r\na b\r\n$4\r\n6380\r\n",
        "*2\r\n$1\r\na\r\n$6\r\n6380ab\r\n",
        "*2\r\n$1\r\na\r\n$1\r\n0\r\n",
        "*2\r\n$1\r\na\r\n$5\r\n65536\r\n",
        "*2\r\n$1\r\na\r\n$2\r\n-1\r\n",
        "*2\r\n$1\r\na\r\n$0\r\n\r\n",
        "*2\r\n$1\r\na\r\n:6380\r\n",
        "*2\r\n:1\r\n$4\r\n6380\r\n",
    };
    char host[LU_URL_HOST_MAX + 1];
    int port;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (addr(bad[i], host, &port) != -1)
            FAIL("reply %zu taken", i);
}

static struct lu_url_node from;

static int sw(const char *msg, char *host, int *port)
{
    return lio_sentinel_switch(msg, strlen(msg), "mymaster", &from, host, port);
}

TEST(switch_master_messages)
{
    char host[LU_URL_HOST_MAX + 1];
    int port = 0;

    ASSERT_EQ(sw("mymaster 127.0.0.1 6379 10.0.0.2 6380", host, &port), 1);
    ASSERT_STR_EQ(host, "10.0.0.2");
    ASSERT_EQ(port, 6380);
    ASSERT_STR_EQ(from.host, "127.0.0.1");
    ASSERT_EQ(from.port, 6379);
    ASSERT_EQ(sw("mymaster 127.0.0.1 x 10.0.0.2 6380", host, &port), 1);
    ASSERT_EQ(from.port, 0); /* the old address unusable: nothing avoided */
    ASSERT_EQ(sw("other 127.0.0.1 6379 10.0.0.2 6380", host, &port), 0);
    ASSERT_EQ(sw("mymasterx 127.0.0.1 6379 10.0.0.2 6380", host, &port), 0);
    ASSERT_EQ(sw("mymaste 127.0.0.1 6379 10.0.0.2 6380", host, &port), 0);
    ASSERT_EQ(sw("mymaster 127.0.0.1 6379 10.0.0.2", host, &port), 0);
    ASSERT_EQ(sw("mymaster 127.0.0.1 6379 10.0.0.2 6380 x", host, &port), 0);
    ASSERT_EQ(sw("mymaster 127.0.0.1 6379 10.0.0.2 0", host, &port), 0);
    ASSERT_EQ(sw("mymaster 127.0.0.1 6379 10.0.0.2 6380x", host, &port), 0);
    ASSERT_EQ(sw("", host, &port), 0);
}

static int role_master(const char *resp, size_t len)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;
    int is;

    ASSERT_NOT_NULL(reader);
    ASSERT_EQ(redisReaderFeed(reader, resp, len), REDIS_OK);
    ASSERT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
    ASSERT_NOT_NULL(reply);
    redisReaderFree(reader);
    is = lio_sentinel_role_master(reply);
    freeReplyObject(reply);
    return is;
}

#define ROLE(resp) role_master(resp, sizeof resp - 1)

TEST(role_of_a_master_and_of_anything_else)
{
    ASSERT_EQ(ROLE("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"), 1);
    ASSERT_EQ(ROLE("*1\r\n+master\r\n"), 1);
    ASSERT_EQ(ROLE("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n"
                   "$9\r\nconnected\r\n:1\r\n"),
              0);
    ASSERT_EQ(ROLE("*1\r\n$7\r\nmasters\r\n"), 0);
    ASSERT_EQ(ROLE("*1\r\n$7\r\nmaster\0\r\n"), 0);
    ASSERT_EQ(ROLE("*1\r\n$5\r\nmaste\r\n"), 0);
    ASSERT_EQ(ROLE("*1\r\n:6\r\n"), 0);
    ASSERT_EQ(ROLE("*0\r\n"), 0);
    ASSERT_EQ(ROLE("$6\r\nmaster\r\n"), 0);
    ASSERT_EQ(ROLE("-ERR unknown command 'ROLE'\r\n"), 0);
    ASSERT_EQ(lio_sentinel_role_master(NULL), 0);
}
