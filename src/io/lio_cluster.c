/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_cluster.c - see lio_cluster.h. */
#include <string.h>

#include "io/lio_cluster.h"

/* Bit by bit rather than by table: keys are short, and a slot is computed
 * once per key name, not per byte of traffic. */
static unsigned crc16(const unsigned char *s, size_t len)
{
    unsigned crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned) s[i] << 8;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }
    return crc;
}

unsigned lio_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close = NULL;

    if (open != NULL)
        close = memchr(open + 1, '}', (size_t) (key + len - open - 1));
    /* "{}" tags nothing: the whole key is hashed, as the server does. */
    if (close != NULL && close > open + 1) {
        key = open + 1;
        len = (size_t) (close - key);
    }
    return crc16((const unsigned char *) key, len) & (LIO_CLUSTER_SLOTS - 1);
}

/* A host as a server sends it: "" and "?" (address unknown) both become
 * the empty host; anything else must be a name that can be opened. */
static int host_of(const char *s, size_t len, char host[LU_URL_HOST_MAX + 1])
{
    if (len == 1 && s[0] == '?')
        len = 0;
    if (len > LU_URL_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    memcpy(host, s, len);
    host[len] = '\0';
    return 1;
}

/* Up to 5 plain digits, at most max: no sign, no space, no suffix. */
static int number_of(const char *s, size_t len, long max, long *v)
{
    long n = 0;

    if (len == 0 || len > 5)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        n = n * 10 + (s[i] - '0');
    }
    if (n > max)
        return 0;
    *v = n;
    return 1;
}

int lio_cluster_redirect(const char *text, size_t len,
                         struct lio_cluster_redirect *out)
{
    const char *p = text, *end = text + len, *space, *colon = NULL;
    struct lio_cluster_redirect r;
    long slot, port;

    if (len >= 6 && memcmp(p, "MOVED ", 6) == 0) {
        r.ask = 0;
        p += 6;
    } else if (len >= 4 && memcmp(p, "ASK ", 4) == 0) {
        r.ask = 1;
        p += 4;
    } else {
        return 0;
    }
    space = memchr(p, ' ', (size_t) (end - p));
    if (space == NULL ||
        !number_of(p, (size_t) (space - p), LIO_CLUSTER_SLOTS - 1, &slot))
        return 0;
    /* The last ':' so that an IPv6 host keeps its own colons. */
    for (const char *c = space + 1; c < end; c++)
        if (*c == ':')
            colon = c;
    if (colon == NULL ||
        !number_of(colon + 1, (size_t) (end - colon - 1), 65535, &port) ||
        port < 1 ||
        !host_of(space + 1, (size_t) (colon - space - 1), r.to.host))
        return 0;
    r.slot = (unsigned) slot;
    r.to.port = (int) port;
    *out = r;
    return 1;
}

/* [host, port, ...] into n; what follows the port varies with the server's
 * version and is not needed to reach the node. */
static int node_of(const redisReply *e, struct lio_cluster_node *n)
{
    const redisReply *h, *p;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
        return 0;
    h = e->element[0];
    p = e->element[1];
    if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535)
        return 0;
    /* Nil is what Redis 7 sends with cluster-preferred-endpoint-type
     * unknown-endpoint: the unknown host, as "?" is. */
    if (h->type == REDIS_REPLY_NIL)
        n->host[0] = '\0';
    else if (h->type != REDIS_REPLY_STRING || !host_of(h->str, h->len, n->host))
        return 0;
    n->port = (int) p->integer;
    return 1;
}

static int slot_of(const redisReply *e, unsigned *slot)
{
    if (e->type != REDIS_REPLY_INTEGER || e->integer < 0 ||
        e->integer >= LIO_CLUSTER_SLOTS)
        return 0;
    *slot = (unsigned) e->integer;
    return 1;
}

/* Marks [start, end] in the bitmap of taken slots; 0 if one already was.
 * Every slot is marked at most once per reply, so a whole reply costs at
 * most 16384 steps whatever its ranges. */
static int take(unsigned char taken[LIO_CLUSTER_SLOTS / 8], unsigned start,
                unsigned end)
{
    for (unsigned s = start; s <= end; s++) {
        unsigned char bit = (unsigned char) (1u << (s % 8));
        if (taken[s / 8] & bit)
            return 0;
        taken[s / 8] |= bit;
    }
    return 1;
}

static int range_of(const redisReply *e, struct lio_cluster_range *out,
                    unsigned char taken[LIO_CLUSTER_SLOTS / 8])
{
    struct lio_cluster_node spare;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        !slot_of(e->element[0], &out->start) ||
        !slot_of(e->element[1], &out->end) || out->start > out->end ||
        !take(taken, out->start, out->end) ||
        !node_of(e->element[2], &out->master))
        return 0;
    out->nreplicas = 0;
    for (size_t i = 3; i < e->elements; i++) {
        /* Replicas past the kept ones are still checked: a reply with a
         * broken entry is broken as a whole. */
        struct lio_cluster_node *n = out->nreplicas < LIO_CLUSTER_REPLICAS_MAX
                                         ? &out->replicas[out->nreplicas]
                                         : &spare;
        if (!node_of(e->element[i], n))
            return 0;
        if (n != &spare)
            out->nreplicas++;
    }
    return 1;
}

int lio_cluster_slots(const redisReply *r, struct lio_cluster_range *out,
                      size_t cap)
{
    unsigned char taken[LIO_CLUSTER_SLOTS / 8];

    if (r->type != REDIS_REPLY_ARRAY || r->elements > cap)
        return -1;
    memset(taken, 0, sizeof taken);
    for (size_t i = 0; i < r->elements; i++)
        if (!range_of(r->element[i], &out[i], taken))
            return -1;
    return (int) r->elements;
}
