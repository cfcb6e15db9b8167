/* SPDX-License-Identifier: BSD-3-Clause */
/* test_io.c - the connection layer (src/io) seen from inside: numeric
 * hosts and unix sockets skip the resolver while a host name keeps its
 * name beside the address it resolved to; every opening, the notification
 * connection's included, gives up at its deadline even when the network
 * never answers (a SYN that is dropped, a server that accepts and stays
 * silent); both connections have TCP keepalive. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "io/lio_mux.h"
#include "io/lio_conn.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"
#include "util/lu_clock.h"
#include "util/lu_url.h"

/* ---- a bare connection and what its handler heard ---- */

struct heard {
    int ready, failed, error;
    char text[160];
};

static void on_ready(void *owner, struct lio_conn *c)
{
    ((struct heard *) owner)->ready++;
}

static void on_failed(void *owner, struct lio_conn *c, int was_ready, int error,
                      const char *text)
{
    struct heard *h = owner;

    h->failed++;
    h->error = error;
    snprintf(h->text, sizeof h->text, "%s", text != NULL ? text : "");
}

static void on_reply(void *owner, struct lio_conn *c, uint64_t tag,
                     redisReply *reply)
{
    freeReplyObject(reply);
}

static const struct lio_conn_handler handler = {on_ready, on_failed, on_reply};

static void parse(const char *text, struct lu_url *u)
{
    char err[128];

    if (lu_url_parse(text, u, err, sizeof err) != 0)
        FAIL("%s: %s", text, err);
}

/* Drives c until it is ready or has failed, or until ms have passed. */
static void run_conn(struct lio_conn *c, const struct heard *h, long ms)
{
    int64_t end = lu_now_ms() + ms;

    while (h->ready == 0 && h->failed == 0 && lu_now_ms() < end) {
        struct pollfd p = {lio_conn_fd(c), 0, 0};
        lc_time d = lio_conn_deadline(c);
        int64_t now = lu_now_ms();
        long wait = d == LC_NEVER || d > end ? end - now : d - now;

        p.events = (short) ((c->want & LIO_WANT_READ ? POLLIN : 0) |
                            (c->want & LIO_WANT_WRITE ? POLLOUT : 0));
        poll(&p, p.fd >= 0 ? 1 : 0, wait > 0 ? (int) wait : 0);
        if (p.revents != 0)
            lio_conn_handle(c, p.revents, lu_now_ms());
        lio_conn_tick(c, lu_now_ms());
    }
}

/* Opens a connection to url, runs it to ready or failure (at most
 * limit_ms), and reports how long that took. */
static int64_t open_and_run(struct lio_conn *c, struct heard *h,
                            const struct lu_url *u, long timeout_ms,
                            long limit_ms)
{
    struct lio_conn_params p = {timeout_ms, 1};
    int64_t t0 = lu_now_ms();

    memset(h, 0, sizeof *h);
    lio_conn_init(c, &handler, h);
    ASSERT_OK(lio_conn_open(c, u, &p, t0));
    run_conn(c, h, limit_ms);
    return lu_now_ms() - t0;
}

TEST(numeric_hosts_and_unix_sockets_skip_the_resolver)
{
    rfx_server *s = start_redis(NULL);
    struct lu_url u;
    struct lio_conn c;
    struct heard h;
    char url[160];

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rfx_port(s));
    parse(url, &u);
    memset(&h, 0, sizeof h);
    lio_conn_init(&c, &handler, &h);
    ASSERT_OK(
        lio_conn_open(&c, &u, &(struct lio_conn_params){1000, 1}, lu_now_ms()));
    ASSERT_NULL(c.lookup); /* straight to hiredis */
    ASSERT_NOT_NULL(c.ac);
    ASSERT_STR_EQ(c.addr, "127.0.0.1");
    run_conn(&c, &h, 2000);
    ASSERT_EQ(h.ready, 1);
    lio_conn_close(&c);

    parse(rfx_unix_url(s), &u);
    memset(&h, 0, sizeof h);
    ASSERT_OK(
        lio_conn_open(&c, &u, &(struct lio_conn_params){1000, 1}, lu_now_ms()));
    ASSERT_NULL(c.lookup);
    ASSERT_NOT_NULL(c.ac);
    run_conn(&c, &h, 2000);
    ASSERT_EQ(h.ready, 1);
    lio_conn_close(&c);
    rfx_free(s);
}

TEST(host_name_connects_to_its_address_and_keeps_the_name)
{
    rfx_server *s = start_redis(NULL);
    struct lu_url u;
    struct lio_conn c;
    struct heard h;
    char url[160];

    /* localhost is in /etc/hosts (and c-ares knows it even without). */
    snprintf(url, sizeof url, "redis://localhost:%d", rfx_port(s));
    parse(url, &u);
    open_and_run(&c, &h, &u, 2000, 3000);
    if (h.failed)
        FAIL("localhost did not connect: %s", h.text);
    ASSERT_EQ(h.ready, 1);
    ASSERT_STR_EQ(c.addr, "127.0.0.1");
    ASSERT_STR_EQ(c.url->host, "localhost"); /* for TLS's server name */
    lio_conn_close(&c);
    rfx_free(s);
}

/* ---- a network that never answers ---- */

/* A listening socket whose accept queue is full: the kernel drops every
 * further SYN, and a connect waits through its SYN retries (about two
 * minutes) unless something gives up first. Returns the listener (the
 * filler connection in *filler), or skips when the kernel answers
 * anyway. */
static int syn_blackhole(int *port, int *filler)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int probe;
    struct pollfd p;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_GE(l, 0);
    ASSERT_OK(bind(l, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(listen(l, 0));
    ASSERT_OK(getsockname(l, (struct sockaddr *) &a, &len));
    *port = ntohs(a.sin_port);
    *filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(*filler, (struct sockaddr *) &a, sizeof a);
    sleep_ms(50);
    probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(probe, (struct sockaddr *) &a, sizeof a);
    p = (struct pollfd){probe, POLLOUT, 0};
    if (poll(&p, 1, 300) != 0) {
        close(probe);
        close(*filler);
        close(l);
        SKIP("the kernel answers SYNs to a full accept queue here");
    }
    close(probe);
    return l;
}

TEST(connect_into_a_syn_blackhole_gives_up_at_its_deadline)
{
    struct lu_url u;
    struct lio_conn c;
    struct heard h;
    char url[64];
    int port, filler, l = syn_blackhole(&port, &filler);
    int64_t took;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    parse(url, &u);
    took = open_and_run(&c, &h, &u, 300, 3000);
    ASSERT_EQ(h.failed, 1);
    ASSERT_EQ(h.error, LEADER_ETIMEDOUT);
    ASSERT_GE(took, 300);
    ASSERT_LT(took, 450);
    lio_conn_close(&c);
    close(filler);
    close(l);
}

/* ---- the client's notification connection ---- */

static void ignore_events(void *owner, const struct lc_event *ev,
                          const struct lc_output *step)
{
}

struct one_election {
    struct lio_mux client;
    struct lio_names names;
    struct lio_slot *e;
};

/* A client over url with one election (ttl 3000: its notification
 * connection may take 1000 ms to open), campaigning from now on. */
static void start_election(struct one_election *o, const char *url)
{
    struct lu_url u;
    struct lio_slot_config cfg = {"io-test", &o->names, 3000, 1000, 7, 0, 0};
    int rc;

    parse(url, &u);
    ASSERT_OK(lio_mux_init(&o->client, &u, 1));
    lio_names_make(&o->names, "0123456789abcdef0123456789abcdef01234567");
    o->e = lio_mux_add(&o->client, &cfg, ignore_events, NULL, &rc);
    ASSERT_NOT_NULL(o->e);
    lio_mux_input(&o->client, o->e, LC_IN_START, lu_now_ms());
}

/* Runs the client's loop for at most ms, or until until(o) holds; returns
 * the time it held at, or -1. */
static int64_t run_client(struct one_election *o, long ms,
                          int (*until)(const struct one_election *))
{
    int64_t end = lu_now_ms() + ms;

    while (lu_now_ms() < end) {
        struct pollfd p = {lio_mux_fd(&o->client), POLLIN, 0};
        lc_time d = lio_mux_deadline(&o->client);
        int64_t now = lu_now_ms();
        long wait = d == LC_NEVER || d > end ? end - now : d - now;

        poll(&p, 1, wait > 0 ? (int) wait : 0);
        lio_mux_process(&o->client, lu_now_ms());
        if (until != NULL && until(o))
            return lu_now_ms();
    }
    return -1;
}

static int sub_gave_up(const struct one_election *o)
{
    return o->client.session.subs[0].failures > 0;
}

TEST(notification_connect_into_a_syn_blackhole_gives_up_in_time)
{
    struct one_election o;
    char url[64];
    int port, filler, l = syn_blackhole(&port, &filler);
    int64_t t0, at;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    t0 = lu_now_ms();
    start_election(&o, url);
    ASSERT(lio_conn_is_open(&o.client.sub)); /* a follower listens */
    at = run_client(&o, 3000, sub_gave_up);
    ASSERT_GE(at, 0); /* without a deadline: never, for minutes */
    ASSERT_GE(at - t0, 1000);
    ASSERT_LT(at - t0, 1300);
    lio_mux_free(&o.client);
    close(filler);
    close(l);
}

TEST(notification_connect_to_a_silent_server_gives_up_in_time)
{
    rfx_server *s = start_redis(NULL);
    struct one_election o;
    proxy_ctl p;
    char url[64];
    int64_t t0, at;

    /* The proxy accepts connections but passes nothing: the TCP connect
     * succeeds and the setup commands are never answered. */
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    ASSERT_OK(proxy_blackhole(&p));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    t0 = lu_now_ms();
    start_election(&o, url);
    at = run_client(&o, 3000, sub_gave_up);
    ASSERT_GE(at, 0);
    ASSERT_GE(at - t0, 1000);
    ASSERT_LT(at - t0, 1300);
    lio_mux_free(&o.client);
    proxy_stop(&p);
    rfx_free(s);
}

static int both_ready(const struct one_election *o)
{
    return o->client.cmd.ready && o->client.sub.ready;
}

static void expect_keepalive(int fd, int idle_s)
{
    int on = 0, idle = 0;
    socklen_t len = sizeof on;

    ASSERT_GE(fd, 0);
    ASSERT_OK(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len));
    ASSERT_EQ(on, 1);
    len = sizeof idle;
    ASSERT_OK(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len));
    ASSERT_EQ(idle, idle_s);
}

TEST(both_connections_have_tcp_keepalive)
{
    rfx_server *s = start_redis(NULL);
    struct one_election o;

    start_election(&o, rfx_url(s));
    ASSERT_GE(run_client(&o, 3000, both_ready), 0);
    /* ttl 3000: keepalive after 1 s of silence (ttl/3, at least 1 s). */
    expect_keepalive(lio_conn_fd(&o.client.cmd), 1);
    expect_keepalive(lio_conn_fd(&o.client.sub), 1);
    lio_mux_free(&o.client);
    rfx_free(s);
}

/* The query connection, kept between queries, has keepalive too. Found
 * by its peer: a handle that never campaigns has no other connection. */
TEST(query_connection_has_tcp_keepalive)
{
    rfx_server *s = start_redis(NULL);
    leader *l = new_handle(rfx_url(s), "keepalive", NULL, 3000, 100, 0);
    leader_info info;
    int found = 0;

    ASSERT_EQ(leader_current(l, &info), 0);
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;

        if (getpeername(fd, (struct sockaddr *) &peer, &len) != 0 ||
            peer.sin_family != AF_INET || ntohs(peer.sin_port) != rfx_port(s))
            continue;
        expect_keepalive(fd, 15);
        found++;
    }
    ASSERT_EQ(found, 1);
    leader_free(l);
    rfx_free(s);
}
