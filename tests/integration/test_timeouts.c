/* SPDX-License-Identifier: BSD-3-Clause */
/* test_timeouts.c - the connect_timeout_ms and command_timeout_ms options:
 * refused out of their bounds, and honoured in place of the defaults (a
 * third of the ttl, up to 2 s) by the election, the observer and the
 * queries, against a server that accepts connections and stays silent. */
#include <stdio.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

static leader *make(const char *url, long ttl, long connect_ms, long cmd_ms,
                    char *err, size_t errlen)
{
    leader_options o;

    leader_options_init(&o);
    o.url = url;
    o.key = "timeouts";
    o.ttl_ms = ttl;
    o.connect_timeout_ms = connect_ms;
    o.command_timeout_ms = cmd_ms;
    return leader_new(&o, err, errlen);
}

static void expect_refused(long ttl, long connect_ms, long cmd_ms,
                           const char *says)
{
    char err[256] = "";
    leader *l =
        make("redis://127.0.0.1:1", ttl, connect_ms, cmd_ms, err, sizeof err);

    ASSERT_NULL(l);
    ASSERT(strstr(err, says) != NULL);
}

TEST(timeouts_out_of_bounds_are_refused_with_the_option_named)
{
    char err[256];
    leader *l;

    expect_refused(3000, -1, 0, "connect_timeout_ms must be from 1 to 60000");
    expect_refused(3000, 60001, 0, "connect_timeout_ms");
    expect_refused(3000, 0, -5, "command_timeout_ms must be from 1 to");
    /* A third of the ttl at most: a lost renewal can be sent again. */
    expect_refused(3000, 0, 1001, "ttl_ms/3 = 1000");
    l = make("redis://127.0.0.1:1", 3000, 60000, 1000, err, sizeof err);
    ASSERT_NOT_NULL(l);
    leader_free(l);
}

TEST(a_client_handle_takes_its_own_timeouts)
{
    leader_client_options co;
    leader_options o;
    leader_client *c;
    char err[256] = "";
    leader *l;

    leader_client_options_init(&co);
    co.url = "redis://127.0.0.1:1";
    c = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(c);
    leader_options_init(&o);
    o.ttl_ms = 600;
    o.command_timeout_ms = 201;
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT(strstr(err, "command_timeout_ms") != NULL);
    o.command_timeout_ms = 200;
    l = leader_client_add(c, &o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    leader_free(l);
    leader_client_free(c);
}

/* A proxy that accepts connections and passes nothing: every opening
 * hangs at its first command. */
static rfx_server *silent_server(proxy_ctl *p, char *url, size_t len)
{
    rfx_server *s = start_redis(NULL);

    ASSERT_OK(proxy_start(p, rfx_port(s), 0));
    ASSERT_OK(proxy_blackhole(p));
    snprintf(url, len, "redis://127.0.0.1:%d", p->port);
    return s;
}

/* The time from elect to the first ERROR, which must be a timeout. */
static int64_t first_error_after(const char *url, long connect_ms)
{
    struct world w;
    leader_options o;
    struct logged e;
    int64_t t0;

    world_init(&w);
    leader_options_init(&o);
    o.url = url;
    o.key = "timeouts";
    o.ttl_ms = 30000; /* default timeouts: 2 s */
    o.connect_timeout_ms = connect_ms;
    world_add_opts(&w, &o);
    t0 = now_ms();
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ERROR, 1, 5000), 1);
    ASSERT_GE(world_last(&w, 0, LEADER_EVENT_ERROR, &e), 0);
    ASSERT_EQ(e.error, LEADER_ETIMEDOUT);
    world_free(&w);
    return e.at_ms - t0;
}

TEST(connect_timeout_bounds_the_opening_in_place_of_the_default)
{
    proxy_ctl p;
    char url[64];
    rfx_server *s = silent_server(&p, url, sizeof url);
    int64_t asked = first_error_after(url, 150);
    int64_t dflt = first_error_after(url, 0);

    ASSERT_GE(asked, 150);
    ASSERT_LT(asked, 1000);
    ASSERT_GE(dflt, 2000);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(command_timeout_bounds_a_renewal_in_place_of_the_default)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    leader_options o;
    struct logged el, e;
    proxy_ctl p;
    char url[64];

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    world_init(&w);
    leader_options_init(&o);
    o.url = url;
    o.key = "timeouts";
    o.ttl_ms = 6000; /* a renewal at 2 s; by default it may take 2 s */
    o.command_timeout_ms = 100;
    world_add_opts(&w, &o);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 3000), 1);
    ASSERT_OK(proxy_blackhole(&p));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ERROR, 1, 5000), 1);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &el);
    world_last(&w, 0, LEADER_EVENT_ERROR, &e);
    ASSERT_EQ(e.error, LEADER_ETIMEDOUT);
    /* The renewal went out at most ttl/3 after the acquire's send. */
    ASSERT_LT(e.at_ms - el.at_ms, 2000 + 900);
    /* The lease is kept to its deadline all the same. */
    ASSERT_EQ(leader_has_lease(w.c[0].l), 1);
    world_free(&w);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(queries_take_both_timeouts)
{
    proxy_ctl p;
    char url[64], err[256];
    rfx_server *s = start_redis(NULL);
    leader *l;
    int64_t t0;
    int rc;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    l = make(url, 30000, 150, 150, err, sizeof err);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_is_leader(l), 0); /* connected, and kept */
    ASSERT_OK(proxy_blackhole(&p));
    /* The kept connection's GET times out, then one reopening does. */
    t0 = now_ms();
    rc = leader_is_leader(l);
    if (rc != LEADER_ETIMEDOUT)
        fprintf(stderr, "leader_is_leader: %d, %s\n", rc, leader_errmsg(l));
    ASSERT_EQ(rc, LEADER_ETIMEDOUT);
    ASSERT_GE(now_ms() - t0, 150);
    ASSERT_LT(now_ms() - t0, 1000); /* by default: 4 s */
    leader_free(l);
    proxy_stop(&p);
    rfx_free(s);
}
