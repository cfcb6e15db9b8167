/* SPDX-License-Identifier: BSD-3-Clause */
/* test_proxy.c - leader-proxy against a real redis-server: it forwards,
 * blackholes (keeping connections and accepting new ones), resets, heals,
 * freezes the open connections and delays. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redisContext *connect_via(const proxy_ctl *p, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);

    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->err, 0);
    redisSetTimeout(c, tv);
    return c;
}

/* 1 if PING answers PONG, else 0. */
static int ping(redisContext *c)
{
    redisReply *r = redisCommand(c, "PING");
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
             strcmp(r->str, "PONG") == 0;

    if (r != NULL)
        freeReplyObject(r);
    return ok;
}

static rfx_server *start_redis(void)
{
    rfx_server *s;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(NULL);
    ASSERT_NOT_NULL(s);
    return s;
}

TEST(forwards_both_ways)
{
    rfx_server *s = start_redis();
    proxy_ctl p;
    redisContext *c;
    redisReply *r;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    c = connect_via(&p, 1000);
    r = redisCommand(c, "SET k %s", "through the proxy");
    ASSERT_NOT_NULL(r);
    freeReplyObject(r);
    r = redisCommand(c, "GET k");
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(r->str, "through the proxy");
    freeReplyObject(r);
    redisFree(c);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(blackhole_keeps_connections_and_heal_passes)
{
    rfx_server *s = start_redis();
    proxy_ctl p;
    redisContext *old, *fresh, *after;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    old = connect_via(&p, 300);
    ASSERT(ping(old));
    ASSERT_OK(proxy_blackhole(&p));
    ASSERT(!ping(old));           /* times out: nothing comes back */
    fresh = connect_via(&p, 300); /* still accepted */
    ASSERT(!ping(fresh));
    ASSERT_OK(proxy_heal(&p));
    after = connect_via(&p, 1000);
    ASSERT(ping(after));
    redisFree(old);
    redisFree(fresh);
    redisFree(after);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(reset_closes_connections_then_passes)
{
    rfx_server *s = start_redis();
    proxy_ctl p;
    redisContext *c, *again;
    long long t0;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    c = connect_via(&p, 2000);
    ASSERT(ping(c));
    ASSERT_OK(proxy_reset(&p));
    t0 = mono_ms();
    ASSERT(!ping(c)); /* the connection is closed: fails at once */
    ASSERT_LT(mono_ms() - t0, 1000);
    again = connect_via(&p, 1000);
    ASSERT(ping(again));
    redisFree(c);
    redisFree(again);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(freeze_stops_open_connections_for_good)
{
    rfx_server *s = start_redis();
    proxy_ctl p;
    redisContext *old, *fresh;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    old = connect_via(&p, 300);
    ASSERT(ping(old));
    ASSERT_OK(proxy_freeze(&p));
    ASSERT(!ping(old)); /* times out: nothing comes back */
    fresh = connect_via(&p, 1000);
    ASSERT(ping(fresh)); /* a new connection passes */
    ASSERT_OK(proxy_heal(&p));
    redisFree(old);
    old = NULL;
    ASSERT(ping(fresh));
    /* A connection frozen before the heal stays frozen after it. */
    old = connect_via(&p, 300);
    ASSERT(ping(old));
    ASSERT_OK(proxy_freeze(&p));
    ASSERT_OK(proxy_heal(&p));
    ASSERT(!ping(old));
    redisFree(old);
    redisFree(fresh);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(delay_holds_each_direction)
{
    rfx_server *s = start_redis();
    proxy_ctl p;
    redisContext *c;
    long long t0, took;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 100));
    c = connect_via(&p, 2000);
    t0 = mono_ms();
    ASSERT(ping(c));
    took = mono_ms() - t0;
    ASSERT_GE(took, 190); /* 100 ms there and 100 ms back */
    ASSERT_LT(took, 1500);
    redisFree(c);
    proxy_stop(&p);
    rfx_free(s);
}
