/* SPDX-License-Identifier: BSD-3-Clause */
/* test_errors.c - bad input and hostile conditions: each gives a clear
 * error (return code or ERROR event) and never a crash, a false ELECTED or
 * a leak. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

/* leader_new must fail, with a message containing want. */
static void expect_refused(const leader_options *o, const char *want)
{
    char err[256] = "";
    leader *l = leader_new(o, err, sizeof err);

    if (l != NULL) {
        leader_free(l);
        FAIL("options accepted, expected \"%s\"", want);
    }
    if (strstr(err, want) == NULL)
        FAIL("message \"%s\" does not mention \"%s\"", err, want);
}

TEST(bad_options_are_refused_with_a_reason)
{
    leader_options o;
    char id[300];

    expect_refused(NULL, "NULL");
    leader_options_init(&o);
    o.ttl_ms = 0;
    expect_refused(&o, "ttl_ms");
    o.ttl_ms = -5;
    expect_refused(&o, "ttl_ms");
    o.ttl_ms = 86400001;
    expect_refused(&o, "ttl_ms");
    leader_options_init(&o);
    o.wait_ms = -1;
    expect_refused(&o, "wait_ms");
    leader_options_init(&o);
    o.key = "";
    expect_refused(&o, "key");
    o.key = NULL;
    expect_refused(&o, "key");
    leader_options_init(&o);
    memset(id, 'i', 256);
    id[256] = '\0';
    o.id = id;
    expect_refused(&o, "id");
    o.id = "has space";
    expect_refused(&o, "id");
    o.id = "";
    expect_refused(&o, "id");
}

TEST(bad_urls_are_refused_with_a_reason)
{
    leader_options o;

    leader_options_init(&o);
    o.url = "redis://localhost:0";
    expect_refused(&o, "port");
    o.url = "redis://localhost:70000";
    expect_refused(&o, "port");
    o.url = "redis://:secret@localhost:abc";
    expect_refused(&o, "port");
    o.url = "http://localhost";
    expect_refused(&o, "scheme");
    o.url = "redis//localhost";
    expect_refused(&o, "scheme");
    o.url = "rediss://localhost:abc";
    expect_refused(&o, "port");
    o.url = "";
    expect_refused(&o, "empty");
}

TEST(null_err_buffer_is_allowed)
{
    leader_options o;

    leader_options_init(&o);
    o.ttl_ms = 0;
    ASSERT_NULL(leader_new(&o, NULL, 0));
    ASSERT_NULL(leader_new(NULL, NULL, 0));
}

TEST(url_comes_from_the_environment_by_default)
{
    leader_options o;
    leader *l;

    leader_options_init(&o);
    setenv("LEADER_REDIS_URL", "bogus://x", 1);
    expect_refused(&o, "scheme");
    setenv("LEADER_REDIS_URL", "redis://127.0.0.1:1", 1);
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    ASSERT_EQ(leader_is_leader(l), LEADER_ECONN); /* nobody on port 1 */
    leader_free(l);
    unsetenv("LEADER_REDIS_URL");
}

TEST(api_state_errors)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;

    ASSERT_EQ(leader_elect(NULL), LEADER_EINVAL);
    ASSERT_EQ(leader_stop(NULL), LEADER_EINVAL);
    ASSERT_EQ(leader_is_leader(NULL), LEADER_EINVAL);
    ASSERT_EQ(leader_has_lease(NULL), 0);
    leader_free(NULL);
    world_init(&w);
    c = world_add(&w, rfx_url(s), "state", 2000, 100);
    ASSERT_EQ(leader_stop(c->l), LEADER_ESTATE);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(leader_elect(c->l), LEADER_ESTATE);
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_stop(c->l));
    ASSERT_EQ(leader_stop(c->l), LEADER_ESTATE);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2, 5000), 2);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

/* Elects c and expects an ERROR event with code, and no ELECTED. */
static void expect_error_event(struct world *w, struct cand *c, int code)
{
    struct logged e;

    ASSERT_OK(leader_elect(c->l));
    ASSERT_GE(world_wait(w, c->index, LEADER_EVENT_ERROR, 1, 5000), 1);
    world_last(w, c->index, LEADER_EVENT_ERROR, &e);
    if (e.error != code)
        FAIL("ERROR event %d (%s), expected %d", e.error, e.message, code);
    sleep_ms(300);
    ASSERT_EQ(world_count(w, c->index, LEADER_EVENT_ELECTED), 0);
    ASSERT_EQ(leader_has_lease(c->l), 0);
    ASSERT_OK(leader_stop(c->l));
}

TEST(refused_connection_is_reported)
{
    struct world w;
    struct cand *c;
    int64_t t0;

    world_init(&w);
    c = world_add(&w, "redis://127.0.0.1:1", "refused", 2000, 100);
    ASSERT_EQ(leader_is_leader(c->l), LEADER_ECONN);
    expect_error_event(&w, c, LEADER_ECONN);
    t0 = now_ms();
    world_free(&w);
    ASSERT_LT(now_ms() - t0, 2000); /* free does not hang */
}

TEST(wrong_password_is_reported)
{
    rfx_options o = {.password = "right"};
    rfx_server *s = start_redis(&o);
    struct world w;
    char url[128];
    struct cand *bad, *none, *good;

    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", rfx_port(s));
    world_init(&w);
    bad = world_add(&w, url, "auth", 2000, 100);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rfx_port(s));
    none = world_add(&w, url, "auth", 2000, 100);
    snprintf(url, sizeof url, "redis://:right@127.0.0.1:%d", rfx_port(s));
    good = world_add(&w, url, "auth", 2000, 100);
    ASSERT_EQ(leader_is_leader(bad->l), LEADER_EAUTH);
    ASSERT_EQ(leader_is_leader(none->l), LEADER_EAUTH);
    ASSERT_EQ(leader_is_leader(good->l), 0);
    expect_error_event(&w, bad, LEADER_EAUTH);
    expect_error_event(&w, none, LEADER_EAUTH);
    ASSERT_OK(leader_elect(good->l));
    ASSERT_EQ(world_wait(&w, good->index, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(key_of_the_wrong_type_is_reported_then_recovered)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char *r;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "wrongtype", 2000, 100);
    r = rfx_command(s, "RPUSH %s x", leader_key(c->l));
    free(r);
    ASSERT_EQ(leader_is_leader(c->l), LEADER_EWRONGTYPE);
    expect_error_event(&w, c, LEADER_EWRONGTYPE);
    r = rfx_command(s, "DEL %s", leader_key(c->l));
    free(r);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(read_only_replica_is_reported)
{
    rfx_server *primary = start_redis(NULL);
    char port[16];
    const char *args[] = {"--replicaof", "127.0.0.1", port, NULL};
    rfx_options o = {.extra_args = args};
    rfx_server *replica;
    struct world w;
    struct cand *c;

    snprintf(port, sizeof port, "%d", rfx_port(primary));
    replica = start_redis(&o);
    world_init(&w);
    c = world_add(&w, rfx_url(replica), "readonly", 2000, 100);
    expect_error_event(&w, c, LEADER_EREADONLY);
    world_free(&w);
    rfx_free(replica);
    rfx_free(primary);
}

/* ---- a fake server that answers badly ---- */

struct fake {
    int listener;
    int port;
    const char *answer; /* sent to everything after the setup PING */
    int close_after;    /* close the connection after answering */
    pthread_t thread;
};

static void *fake_main(void *arg)
{
    struct fake *f = arg;

    for (int conns = 0; conns < 50; conns++) {
        char buf[4096];
        int fd = accept(f->listener, NULL, NULL);
        if (fd < 0)
            break;
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            if (n <= 0)
                break;
            buf[n] = '\0';
            /* A single server's answer to the client's CLUSTER SLOTS, and
             * the forged answer to whatever came with it. */
            if (strstr(buf, "CLUSTER") != NULL) {
                static const char no[] =
                    "-ERR This instance has cluster support disabled\r\n";
                if (write(fd, no, sizeof no - 1) != sizeof no - 1)
                    break;
                if (strstr(buf, "EVAL") == NULL)
                    continue;
            }
            if (strstr(buf, "PING") != NULL && strstr(buf, "EVAL") == NULL) {
                if (write(fd, "+PONG\r\n", 7) != 7)
                    break;
                continue;
            }
            if (write(fd, f->answer, strlen(f->answer)) < 0 || f->close_after)
                break;
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake *f, const char *answer, int close_after)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listener = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(f->listener, 0);
    ASSERT_OK(bind(f->listener, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(listen(f->listener, 8));
    ASSERT_OK(getsockname(f->listener, (struct sockaddr *) &a, &len));
    f->port = ntohs(a.sin_port);
    f->answer = answer;
    f->close_after = close_after;
    ASSERT_OK(pthread_create(&f->thread, NULL, fake_main, f));
}

static void fake_stop(struct fake *f)
{
    shutdown(f->listener, SHUT_RDWR);
    close(f->listener);
    pthread_join(f->thread, NULL);
}

static void expect_fake_error(const char *answer, int close_after, int code)
{
    struct fake f;
    struct world w;
    struct cand *c;
    char url[64];

    fake_start(&f, answer, close_after);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", f.port);
    world_init(&w);
    c = world_add(&w, url, "fake", 2000, 100);
    expect_error_event(&w, c, code);
    world_free(&w);
    fake_stop(&f);
}

TEST(reply_cut_off_midway_is_a_connection_error)
{
    expect_fake_error("*3\r\n:0\r\n$5\r\nab", 1, LEADER_ECONN);
}

TEST(reply_of_the_wrong_shape_is_a_protocol_error)
{
    expect_fake_error("+OK\r\n", 0, LEADER_EPROTO);
}

TEST(reply_with_term_zero_is_a_protocol_error)
{
    expect_fake_error("*2\r\n:1\r\n:0\r\n", 0, LEADER_EPROTO);
}

TEST(huge_announced_array_is_a_protocol_error)
{
    /* Found by the fuzzer: without a cap hiredis allocates 2.4 GB. */
    expect_fake_error("*310000095\r\n", 0, LEADER_EPROTO);
}

TEST(garbage_bytes_are_a_protocol_error)
{
    expect_fake_error("!!!! not resp\r\n", 1, LEADER_EPROTO);
}

/* ---- callbacks that call the API ---- */

static int seen_is_leader = -9, seen_current = -9, seen_lease = -9;
static uint64_t seen_term;

/* The lock-free getters and leader_stop() are fine in a callback; the
 * queries that wait for Redis are refused (they would hold up the loop). */
static void stop_from_callback(struct cand *c, const leader_event *ev)
{
    leader_info info;

    if (ev->type != LEADER_EVENT_ELECTED)
        return;
    seen_is_leader = leader_is_leader(c->l);
    seen_current = leader_current(c->l, &info);
    seen_lease = leader_has_lease(c->l);
    seen_term = leader_term(c->l) == ev->term ? ev->term : 0;
    ASSERT_OK(leader_stop(c->l));
}

TEST(callback_may_stop_but_not_query)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;

    world_init(&w);
    w.hook = stop_from_callback;
    c = world_add(&w, rfx_url(s), "cbstop", 2000, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_REVOKED, 1, 5000), 1);
    ASSERT_EQ(seen_is_leader, LEADER_ESTATE);
    ASSERT_EQ(seen_current, LEADER_ESTATE);
    ASSERT_EQ(seen_lease, 1);
    ASSERT_GT(seen_term, 0);
    sleep_ms(200);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 1);
    ASSERT_EQ(leader_is_leader(c->l), 0); /* released */
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

static void free_from_callback(struct cand *c, const leader_event *ev)
{
    if (ev->type == LEADER_EVENT_ELECTED)
        leader_free(c->l); /* deferred until this callback returns */
}

TEST(free_from_own_callback_is_deferred)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char key[64];
    char *r;

    world_init(&w);
    w.hook = free_from_callback;
    c = world_add(&w, rfx_url(s), "cbfree", 2000, 100);
    snprintf(key, sizeof key, "%s", leader_key(c->l));
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_REVOKED, 1, 5000), 1);
    w.ncand = 0; /* the handle frees itself */
    for (int i = 0; i < 100; i++) {
        r = rfx_command(s, "EXISTS %s", key);
        int gone = r != NULL && strcmp(r, "0") == 0;
        free(r);
        if (gone)
            break;
        sleep_ms(10);
    }
    r = rfx_command(s, "EXISTS %s", key);
    ASSERT_STR_EQ(r, "0");
    free(r);
    /* The REVOKED was the handle's last callback, so the world can go; the
     * detached thread is given time to finish before the leak check. */
    sleep_ms(100);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_CHANGED), 1);
    world_free(&w);
    rfx_free(s);
}

/* ---- every function from many threads at once ---- */

struct hammer {
    leader *l;
    int kind;
    int failures;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    leader_info info;
    int64_t end = now_ms() + 1500;

    while (now_ms() < end) {
        int rc = 0;
        switch (h->kind) {
        case 0:
            rc = leader_elect(h->l);
            rc = rc == LEADER_ESTATE ? 0 : rc;
            break;
        case 1:
            rc = leader_stop(h->l);
            rc = rc == LEADER_ESTATE ? 0 : rc;
            sleep_ms(20);
            break;
        case 2:
            rc = leader_is_leader(h->l) < 0;
            rc |= leader_current(h->l, &info) < 0;
            break;
        default:
            /* Lock-free readers: they race with the thread by design. */
            (void) leader_has_lease(h->l);
            (void) leader_term(h->l);
            (void) leader_lease_deadline(h->l);
            leader_on(h->l, NULL, NULL);
            break;
        }
        h->failures += rc != 0;
    }
    return NULL;
}

TEST(every_function_from_many_threads)
{
    rfx_server *s = start_redis(NULL);
    leader_options o;
    pthread_t t[8];
    struct hammer h[8];
    leader *l;

    leader_options_init(&o);
    o.url = rfx_url(s);
    o.key = "threads";
    o.ttl_ms = 500;
    o.wait_ms = 10;
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    for (int i = 0; i < 8; i++) {
        h[i].l = l;
        h[i].kind = i % 4;
        h[i].failures = 0;
        ASSERT_OK(pthread_create(&t[i], NULL, hammer_main, &h[i]));
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(h[i].failures, 0);
    }
    leader_free(l);
    rfx_free(s);
}
