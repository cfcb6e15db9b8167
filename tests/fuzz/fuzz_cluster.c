/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_cluster.c - what a hostile or broken cluster node may send: a
 * MOVED or ASK error text, or a CLUSTER SLOTS reply (bytes through
 * hiredis' reader). A parse that succeeds must give slots in 0..16383,
 * hosts that are empty or can be opened, ports in 1..65535, and ranges
 * that do not overlap; a refused redirection must leave its output
 * untouched; nothing may crash.
 *
 * The first byte picks which; the rest is what the node sent. */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "io/lio_cluster.h"
#include "io/lio_conn.h"

/* Enough for the replies worth looking at; a longer one must be refused
 * for want of room, which is checked too. */
#define RANGES_CAP 64

static void check_node(const struct lio_cluster_node *n)
{
    const char *nul = memchr(n->host, '\0', sizeof n->host);
    size_t len;

    if (nul == NULL)
        fuzz_fail("host not terminated");
    len = (size_t) (nul - n->host);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) n->host[i] <= ' ' || n->host[i] == 0x7f)
            fuzz_fail("host with a space or control character");
    if (len == 1 && n->host[0] == '?')
        fuzz_fail("\"?\" kept as a host");
    if (n->port < 1 || n->port > 65535)
        fuzz_fail("port out of range");
}

static void redirect(const uint8_t *data, size_t size)
{
    struct lio_cluster_redirect r, again, before;
    char text[LU_URL_HOST_MAX + 32];
    const char *kind;
    size_t len;

    memset(&r, 0xa5, sizeof r);
    before = r;
    if (!lio_cluster_redirect((const char *) data, size, &r)) {
        if (memcmp(&r, &before, sizeof r) != 0)
            fuzz_fail("a refused redirection written out");
        return;
    }
    if (r.slot >= LIO_CLUSTER_SLOTS)
        fuzz_fail("slot out of range");
    if (r.ask != 0 && r.ask != 1)
        fuzz_fail("neither MOVED nor ASK");
    kind = r.ask ? "ASK " : "MOVED ";
    if (size < strlen(kind) || memcmp(data, kind, strlen(kind)) != 0)
        fuzz_fail("the kind does not match the text");
    check_node(&r.to);
    /* Written back in the server's form, it must read the same. */
    len = (size_t) snprintf(text, sizeof text, "%s %u %s:%d",
                            r.ask ? "ASK" : "MOVED", r.slot, r.to.host,
                            r.to.port);
    if (len >= sizeof text || !lio_cluster_redirect(text, len, &again) ||
        again.ask != r.ask || again.slot != r.slot ||
        again.to.port != r.to.port || strcmp(again.to.host, r.to.host) != 0)
        fuzz_fail("a redirection that does not read back the same");
}

static void check_ranges(const struct lio_cluster_range *ranges, int n)
{
    unsigned char taken[LIO_CLUSTER_SLOTS / 8] = {0};

    for (int i = 0; i < n; i++) {
        const struct lio_cluster_range *g = &ranges[i];
        if (g->start > g->end || g->end >= LIO_CLUSTER_SLOTS)
            fuzz_fail("range out of bounds or backwards");
        for (unsigned s = g->start; s <= g->end; s++) {
            if (taken[s / 8] & (1u << (s % 8)))
                fuzz_fail("ranges overlap");
            taken[s / 8] |= (unsigned char) (1u << (s % 8));
        }
        check_node(&g->master);
        if (g->nreplicas < 0 || g->nreplicas > LIO_CLUSTER_REPLICAS_MAX)
            fuzz_fail("replica count out of range");
        for (int j = 0; j < g->nreplicas; j++)
            check_node(&g->replicas[j]);
    }
}

static void slots(const uint8_t *data, size_t size)
{
    static struct lio_cluster_range ranges[RANGES_CAP];
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    if (reader == NULL)
        return;
    lio_limit_reader(reader);
    if (redisReaderFeed(reader, (const char *) data, size) == REDIS_OK &&
        redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
        const redisReply *r = reply;
        int n = lio_cluster_slots(r, ranges, RANGES_CAP);

        if (n >= 0) {
            if (r->type != REDIS_REPLY_ARRAY || (size_t) n != r->elements)
                fuzz_fail("a count that is not the reply's");
            check_ranges(ranges, n);
            /* One range less room than needed: refused. */
            if (n > 0 && lio_cluster_slots(r, ranges, (size_t) n - 1) != -1)
                fuzz_fail("ranges written past the room given");
        } else if (n != -1) {
            fuzz_fail("neither a count nor -1");
        }
        freeReplyObject(reply);
    }
    redisReaderFree(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        slots(data + 1, size - 1);
    else
        redirect(data + 1, size - 1);
    return 0;
}
