/* SPDX-License-Identifier: BSD-3-Clause */
/* test_tls.c - rediss://: elections, handover and failover over TLS
 * against redis-server's own TLS port (with and without client
 * certificates), and every way TLS can fail, each with its own message:
 * an unknown CA, an expired certificate, another host's certificate, a
 * missing or refused client certificate, a plain-TCP server, a server that
 * never answers the handshake (while a leader still steps down on time),
 * and files that cannot be used (refused by leader_new). */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

static rfx_server *start_tls(int mode, int expired)
{
    rfx_options o;

    memset(&o, 0, sizeof o);
    o.tls = mode;
    o.tls_expired = expired;
    return start_redis(&o);
}

/* Options for s, trusting its CA. */
static void tls_options(leader_options *o, const rfx_server *s, const char *key)
{
    static char ca[4][512];
    static int next;
    char *slot = ca[next++ % 4];

    leader_options_init(o);
    o->url = rfx_url(s);
    o->key = key;
    o->ttl_ms = 1000;
    o->wait_ms = 200;
    snprintf(slot, 512, "%s", rfx_tls_file(s, "ca.crt"));
    o->tls_ca_cert = slot;
}

static char *file_of(const rfx_server *s, const char *name)
{
    char *p = strdup(rfx_tls_file(s, name));

    ASSERT_NOT_NULL(p);
    return p;
}

/* Waits for an ERROR event of cand 0 and checks its code and words. */
static void expect_error(struct world *w, int code, const char *words)
{
    struct logged ev;

    if (world_wait(w, 0, LEADER_EVENT_ERROR, 1, 5000) < 1) {
        world_dump(w);
        FAIL("no ERROR event (expected \"%s\")", words);
    }
    ASSERT(world_last(w, 0, LEADER_EVENT_ERROR, &ev) >= 0);
    fprintf(stderr, "# event: %d %s\n", ev.error, ev.message);
    if (ev.error != code || strstr(ev.message, words) == NULL)
        FAIL("ERROR %d \"%s\", expected %d with \"%s\"", ev.error, ev.message,
             code, words);
    ASSERT_EQ(world_count(w, 0, LEADER_EVENT_ELECTED), 0);
}

/* A candidate with o must fail with code and words, both in the loop (an
 * ERROR event) and in a query (its code and leader_errmsg). */
static void expect_failure(leader_options *o, int code, const char *words)
{
    struct world w;
    leader_info info;
    int rc;

    world_init(&w);
    world_add_opts(&w, o);
    rc = leader_current(w.c[0].l, &info);
    fprintf(stderr, "# query: %d %s\n", rc, leader_errmsg(w.c[0].l));
    if (rc != code || strstr(leader_errmsg(w.c[0].l), words) == NULL)
        FAIL("query: %d \"%s\", expected %d with \"%s\"", rc,
             leader_errmsg(w.c[0].l), code, words);
    ASSERT_OK(leader_elect(w.c[0].l));
    expect_error(&w, code, words);
    world_free(&w);
}

TEST(election_handover_and_failover_over_tls)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    struct world w;
    leader_options o;
    leader_info info;
    int first, second;
    int64_t t0;

    world_init(&w);
    for (int i = 0; i < 2; i++) {
        tls_options(&o, s, "tls-election");
        world_add_opts(&w, &o);
        ASSERT_OK(leader_elect(w.c[i].l));
    }
    first = world_wait_leader(&w, 5000);
    ASSERT_GE(first, 0);
    ASSERT_EQ(leader_current(w.c[1 - first].l, &info), 1);
    ASSERT_STR_EQ(info.id, leader_id(w.c[first].l));
    ASSERT_EQ(leader_is_leader(w.c[first].l), 1);
    ASSERT_STR_EQ(leader_errmsg(w.c[first].l), "");
    /* Handover: a stop releases; the other is elected at once. */
    t0 = now_ms();
    ASSERT_OK(leader_stop(w.c[first].l));
    second = world_wait_leader(&w, 3000);
    ASSERT_EQ(second, 1 - first);
    ASSERT_LT(now_ms() - t0, 500);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(failover_over_tls_after_kill)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    struct world w;
    leader_options o;
    pid_t pid;

    tls_options(&o, s, "tls-failover");
    pid = spawn_leader_opts(&o); /* returns once it leads */
    world_init(&w);
    tls_options(&o, s, "tls-failover");
    world_add_opts(&w, &o);
    ASSERT_OK(leader_elect(w.c[0].l));
    sleep_ms(200);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* The dead leader's key expires within its ttl (1 s). */
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 3000), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(client_certificate_is_sent_when_required)
{
    rfx_server *s = start_tls(RFX_TLS_CLIENT_CERT, 0);
    char *cert = file_of(s, "client.crt"), *key = file_of(s, "client.key");
    char *rogue = file_of(s, "rogue.crt"), *rogue_key = file_of(s, "rogue.key");
    struct world w;
    leader_options o;
    leader_info info;

    world_init(&w);
    tls_options(&o, s, "tls-client-cert");
    o.tls_cert = cert;
    o.tls_key = key;
    world_add_opts(&w, &o);
    ASSERT_EQ(leader_current(w.c[0].l, &info), 0);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait_leader(&w, 5000), 0);
    world_free(&w);

    tls_options(&o, s, "tls-client-cert");
    expect_failure(&o, LEADER_ETLS, "client certificate");
    o.tls_cert = rogue;
    o.tls_key = rogue_key;
    expect_failure(&o, LEADER_ETLS, "refused our client certificate");
    free(cert);
    free(key);
    free(rogue);
    free(rogue_key);
    rfx_free(s);
}

TEST(unknown_ca_is_named)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    char *other = file_of(s, "other-ca.crt");
    leader_options o;

    tls_options(&o, s, "tls-unknown-ca");
    o.tls_ca_cert = other;
    expect_failure(&o, LEADER_ETLS, "unknown CA");
    /* Without a CA file: the system's store, which does not know it. */
    tls_options(&o, s, "tls-unknown-ca");
    o.tls_ca_cert = NULL;
    expect_failure(&o, LEADER_ETLS, "unknown CA");
    free(other);
    rfx_free(s);
}

TEST(ca_directory_and_insecure_work)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    char *dir = file_of(s, "ca-dir"), *other = file_of(s, "other-ca.crt");
    struct world w;
    leader_options o;
    leader_info info;

    world_init(&w);
    tls_options(&o, s, "tls-ca-dir");
    o.tls_ca_cert = NULL;
    o.tls_ca_dir = dir;
    world_add_opts(&w, &o);
    ASSERT_EQ(leader_current(w.c[0].l, &info), 0);
    /* insecure: any certificate, any name. */
    tls_options(&o, s, "tls-ca-dir");
    o.tls_ca_cert = other;
    o.tls_server_name = "not-this-one.example";
    o.tls_insecure = 1;
    world_add_opts(&w, &o);
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_EQ(world_wait_leader(&w, 5000), 1);
    world_free(&w);
    free(dir);
    free(other);
    rfx_free(s);
}

TEST(expired_certificate_is_named)
{
    rfx_server *s = start_tls(RFX_TLS, 1);
    leader_options o;

    tls_options(&o, s, "tls-expired");
    expect_failure(&o, LEADER_ETLS, "expired");
    rfx_free(s);
}

TEST(host_name_mismatch_is_named)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    struct world w;
    leader_options o;
    leader_info info;
    char url[64];

    tls_options(&o, s, "tls-host");
    o.tls_server_name = "redis.example";
    expect_failure(&o, LEADER_ETLS, "host-name mismatch");
    /* The certificate's own name, by URL and by tls_server_name. */
    snprintf(url, sizeof url, "rediss://localhost:%d", rfx_port(s));
    world_init(&w);
    tls_options(&o, s, "tls-host");
    o.url = url;
    world_add_opts(&w, &o);
    ASSERT_EQ(leader_current(w.c[0].l, &info), 0);
    tls_options(&o, s, "tls-host");
    o.tls_server_name = "localhost";
    world_add_opts(&w, &o);
    ASSERT_EQ(leader_current(w.c[1].l, &info), 0);
    world_free(&w);
    rfx_free(s);
}

TEST(plain_tcp_server_behind_rediss_is_named)
{
    rfx_server *tls = start_tls(RFX_TLS, 0);
    rfx_server *plain = start_redis(NULL);
    leader_options o;
    char url[64];

    snprintf(url, sizeof url, "rediss://127.0.0.1:%d", rfx_port(plain));
    tls_options(&o, tls, "tls-plain");
    o.url = url;
    /* Redis waits for a line that a ClientHello seldom holds: silence,
     * then the handshake's deadline; or a plain-text error. Both say so. */
    expect_failure(&o, LEADER_ETLS, "plain-TCP server behind rediss://");
    rfx_free(plain);
    rfx_free(tls);
}

/* A listening socket nobody accepts from: TCP connects (the kernel's
 * backlog), the handshake gets no answer. */
static int silent_listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ASSERT(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(bind(fd, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(listen(fd, 16));
    ASSERT_OK(getsockname(fd, (struct sockaddr *) &a, &len));
    *port = ntohs(a.sin_port);
    return fd;
}

TEST(silent_server_is_a_handshake_timeout)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    leader_options o;
    char url[64];
    int port, fd = silent_listener(&port);
    int64_t t0;

    snprintf(url, sizeof url, "rediss://127.0.0.1:%d", port);
    tls_options(&o, s, "tls-silent");
    o.url = url;
    t0 = now_ms();
    expect_failure(&o, LEADER_ETLS, "handshake timeout");
    /* The query's timeout (ttl/3) and the loop's command timeout bound
     * both, far below the 5 s the test allows. */
    ASSERT_LT(now_ms() - t0, 2500);
    close(fd);
    rfx_free(s);
}

/* A leader whose connection is cut and whose reconnect lands in a
 * handshake that never ends steps down at its lease deadline all the
 * same: the handshake never holds the loop. */
TEST(leader_steps_down_on_time_while_a_handshake_hangs)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    struct world w;
    leader_options o;
    proxy_ctl p;
    char url[64];
    struct logged ev;
    int64_t deadline, t_cut, left;

    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    snprintf(url, sizeof url, "rediss://127.0.0.1:%d", p.port);
    world_init(&w);
    tls_options(&o, s, "tls-hang");
    o.url = url;
    world_add_opts(&w, &o);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait_leader(&w, 5000), 0);
    /* Nothing passes any more, on the open connections and on new ones:
     * renewals time out, the reconnect's handshake hangs. */
    ASSERT_OK(proxy_blackhole(&p));
    t_cut = now_ms();
    deadline = leader_lease_deadline(w.c[0].l);
    ASSERT_GT(deadline, 0);
    left = deadline - leader_clock_ms();
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_REVOKED, 1, 3000), 1);
    ASSERT(world_last(&w, 0, LEADER_EVENT_REVOKED, &ev) >= 0);
    /* At the deadline it had at the cut (a reply already on its way may
     * have moved it a little later), not after a handshake timeout. */
    if (ev.at_ms > t_cut + left + 150)
        FAIL("REVOKED %lld ms after the cut, the lease had %lld ms left",
             (long long) (ev.at_ms - t_cut), (long long) left);
    ASSERT_EQ(leader_has_lease(w.c[0].l), 0);
    world_free(&w);
    proxy_stop(&p);
    rfx_free(s);
}

TEST(unusable_files_are_refused_at_construction)
{
    rfx_server *s = start_tls(RFX_TLS, 0);
    char *cert = file_of(s, "client.crt"), *key = file_of(s, "client.key");
    char *rogue_key = file_of(s, "rogue.key"), *dir = file_of(s, "ca-dir");
    leader_options o;
    leader_client_options co;
    leader_client *c;
    char err[256];
    struct {
        const char **field;
        const char *value;
        const char *words;
    } cases[] = {
        {&o.tls_ca_cert, "/nonexistent/ca.pem", "No such file"},
        {&o.tls_ca_cert, "/", "not a regular file"},
        {&o.tls_ca_cert, key, "no CA certificate"},
        {&o.tls_ca_dir, "/nonexistent", "No such file"},
        {&o.tls_ca_dir, cert, "not a directory"},
        {&o.tls_cert, "/nonexistent/c.pem", "No such file"},
        {&o.tls_cert, key, "no certificate"},
        {&o.tls_key, rogue_key, "tls_key is set without tls_cert"},
        {&o.tls_server_name, "", "tls_server_name"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tls_options(&o, s, "tls-files");
        *cases[i].field = cases[i].value;
        err[0] = '\0';
        if (leader_new(&o, err, sizeof err) != NULL)
            FAIL("case %zu accepted", i);
        if (strstr(err, cases[i].words) == NULL)
            FAIL("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].words);
    }
    /* A key that is not the certificate's. */
    tls_options(&o, s, "tls-files");
    o.tls_cert = cert;
    o.tls_key = rogue_key;
    ASSERT_NULL(leader_new(&o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "does not belong"));
    /* TLS options with a plain URL are refused, never ignored. */
    tls_options(&o, s, "tls-files");
    o.url = "redis://127.0.0.1:6379";
    ASSERT_NULL(leader_new(&o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "rediss://"));
    /* The same through a client, and none on a client's handle. */
    leader_client_options_init(&co);
    co.url = rfx_url(s);
    co.tls_ca_cert = "/nonexistent/ca.pem";
    ASSERT_NULL(leader_client_new(&co, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "No such file"));
    co.tls_ca_cert = dir; /* a directory given as the file */
    ASSERT_NULL(leader_client_new(&co, err, sizeof err));
    co.tls_ca_cert = NULL;
    co.tls_ca_dir = dir;
    c = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(c);
    leader_options_init(&o);
    o.tls_insecure = 1;
    ASSERT_NULL(leader_client_add(c, &o, err, sizeof err));
    ASSERT_NOT_NULL(strstr(err, "client's"));
    leader_client_free(c);
    free(cert);
    free(key);
    free(rogue_key);
    free(dir);
    rfx_free(s);
}

TEST(many_elections_on_one_tls_client_in_event_loop_mode)
{
    rfx_server *s = start_tls(RFX_TLS_CLIENT_CERT, 0);
    char *ca = file_of(s, "ca.crt"), *cert = file_of(s, "client.crt");
    char *key = file_of(s, "client.key");
    leader_client_options co;
    leader_options o;
    leader_client *c;
    leader *l[3];
    char err[256];
    int64_t end;
    int held = 0;

    leader_client_options_init(&co);
    co.url = rfx_url(s);
    co.event_loop = 1;
    co.tls_ca_cert = ca;
    co.tls_cert = cert;
    co.tls_key = key;
    c = leader_client_new(&co, err, sizeof err);
    if (c == NULL)
        FAIL("leader_client_new: %s", err);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "tls-many-%d", i);
        leader_options_init(&o);
        o.key = name;
        o.ttl_ms = 1000;
        l[i] = leader_client_add(c, &o, err, sizeof err);
        if (l[i] == NULL)
            FAIL("leader_client_add: %s", err);
        ASSERT_OK(leader_elect(l[i]));
    }
    end = now_ms() + 5000;
    while (held < 3 && now_ms() < end) {
        run_loops(l[0], l[0], 20, NULL, 0);
        held = leader_has_lease(l[0]) + leader_has_lease(l[1]) +
               leader_has_lease(l[2]);
    }
    ASSERT_EQ(held, 3);
    for (int i = 0; i < 3; i++)
        leader_free(l[i]);
    leader_client_free(c);
    free(ca);
    free(cert);
    free(key);
    rfx_free(s);
}
