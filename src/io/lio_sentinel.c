/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_sentinel.c - see lio_sentinel.h. */
#include <string.h>

#include "io/lio_sentinel.h"

static int host_ok(const char *s, size_t len)
{
    if (len == 0 || len > LU_URL_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return 1;
}

static int port_of(const char *s, size_t len, int *port)
{
    long v = 0;

    if (len == 0 || len > 5)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return 0;
    *port = (int) v;
    return 1;
}

static void copy_host(char host[LU_URL_HOST_MAX + 1], const char *s, size_t len)
{
    memcpy(host, s, len);
    host[len] = '\0';
}

int lio_sentinel_master_addr(const redisReply *r,
                             char host[LU_URL_HOST_MAX + 1], int *port)
{
    const redisReply *h, *p;

    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return -1;
    h = r->element[0];
    p = r->element[1];
    if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING ||
        !host_ok(h->str, h->len) || !port_of(p->str, p->len, port))
        return -1;
    copy_host(host, h->str, h->len);
    return 1;
}

/* The next space-separated word of [*s, end), or 0 at the end. */
static int word(const char **s, const char *end, const char **w, size_t *len)
{
    const char *p = *s;

    while (p < end && *p == ' ')
        p++;
    *w = p;
    while (p < end && *p != ' ')
        p++;
    *len = (size_t) (p - *w);
    *s = p;
    return *len > 0;
}

int lio_sentinel_switch(const char *msg, size_t len, const char *name,
                        struct lu_url_node *from,
                        char host[LU_URL_HOST_MAX + 1], int *port)
{
    const char *s = msg, *end = msg + len, *w[5], *rest;
    size_t n[5], extra;

    for (int i = 0; i < 5; i++)
        if (!word(&s, end, &w[i], &n[i]))
            return 0;
    if (word(&s, end, &rest, &extra)) /* a sixth word */
        return 0;
    if (n[0] != strlen(name) || memcmp(w[0], name, n[0]) != 0 ||
        !host_ok(w[3], n[3]) || !port_of(w[4], n[4], port))
        return 0;
    copy_host(host, w[3], n[3]);
    from->port = 0;
    if (host_ok(w[1], n[1]) && port_of(w[2], n[2], &from->port))
        copy_host(from->host, w[1], n[1]);
    else
        from->port = 0;
    return 1;
}

int lio_sentinel_role_master(const redisReply *r)
{
    const redisReply *first;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return 0;
    first = r->element[0];
    return (first->type == REDIS_REPLY_STRING ||
            first->type == REDIS_REPLY_STATUS) &&
           first->len == 6 && memcmp(first->str, "master", 6) == 0;
}
