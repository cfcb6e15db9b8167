/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sentinel.c - what a hostile or broken sentinel may send: the reply
 * to SENTINEL get-master-addr-by-name (bytes through hiredis' reader) or a
 * +switch-master message. A parse that succeeds must give a host that can
 * be opened (1..255 bytes, no spaces or control characters) and a port in
 * 1..65535; nothing may crash.
 *
 * The first byte picks which; the rest is what the sentinel sent. */
#include <stddef.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "io/lio_conn.h"
#include "io/lio_sentinel.h"

static void check_address(const char *host, int port)
{
    size_t n = strlen(host);

    if (n == 0 || n > LU_URL_HOST_MAX)
        fuzz_fail("host of a bad length");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) host[i] <= ' ' || host[i] == 0x7f)
            fuzz_fail("host with a space or control character");
    if (port < 1 || port > 65535)
        fuzz_fail("port out of range");
}

static void master_addr(const uint8_t *data, size_t size)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;
    char host[LU_URL_HOST_MAX + 1];
    int port = 0;

    if (reader == NULL)
        return;
    lio_limit_reader(reader);
    if (redisReaderFeed(reader, (const char *) data, size) == REDIS_OK &&
        redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
        const redisReply *r = reply;
        int found = lio_sentinel_master_addr(reply, host, &port);
        /* The same bytes as a ROLE reply. */
        if (lio_sentinel_role_master(r) &&
            (r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
             r->element[0]->len != 6 ||
             memcmp(r->element[0]->str, "master", 6) != 0))
            fuzz_fail("a ROLE reply taken for a master's");
        if (found > 0)
            check_address(host, port);
        else if (found == 0 && ((redisReply *) reply)->type != REDIS_REPLY_NIL)
            fuzz_fail("\"unknown master\" for a reply that is not nil");
        freeReplyObject(reply);
    }
    redisReaderFree(reader);
}

static void switch_master(const uint8_t *data, size_t size)
{
    char host[LU_URL_HOST_MAX + 1];
    struct lu_url_node from;
    int port = 0;

    if (lio_sentinel_switch((const char *) data, size, "mymaster", &from, host,
                            &port)) {
        if (size < 8 || memcmp(data, "mymaster", 8) != 0)
            fuzz_fail("a switch of another master taken as ours");
        check_address(host, port);
        if (from.port != 0)
            check_address(from.host, from.port);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        master_addr(data + 1, size - 1);
    else
        switch_master(data + 1, size - 1);
    return 0;
}
