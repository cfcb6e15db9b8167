/* SPDX-License-Identifier: BSD-3-Clause */
/* test_resolve.c - host names are looked up without blocking the thread
 * that owns the timers. With a DNS server that never answers, a leader
 * whose connection breaks still steps down at its lease deadline, every
 * other election on its client keeps its own deadline, and freeing does
 * not wait for the resolver; a name that cannot be resolved fails at the
 * connect deadline with a reason; names that resolve (from /etc/hosts)
 * work.
 *
 * The resolver is made private with a mount namespace (the tests run as
 * root; they skip where that is not allowed): /etc/resolv.conf names a DNS
 * server on a loopback address, a UDP socket of the test that reads every
 * query and never answers, and /etc/hosts is a file the test rewrites. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"
#include "tape.h"

/* A name no real resolver knows (.invalid is reserved for that). */
#define NAME "redis.libleader-test.invalid"

struct private_resolver {
    char dir[64];
    char hosts[96];
    int dns_fd;
    pthread_t reader;
    atomic_int queries; /* DNS queries received (and never answered) */
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w"); /* truncates: the same file, new text */

    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fputs(text, f) >= 0, 1);
    ASSERT_OK(fclose(f));
}

static void *read_queries(void *arg)
{
    struct private_resolver *r = arg;
    char buf[1500];

    for (;;) {
        ssize_t n = recv(r->dns_fd, buf, sizeof buf, 0);
        if (n < 0 && errno != EINTR)
            return NULL;
        if (n > 0)
            atomic_fetch_add(&r->queries, 1); /* and no answer, ever */
    }
}

/* Gives this process a private resolver configuration (see the top). Call
 * it first, while the process has one thread: a mount namespace is per
 * thread, and threads made later share their creator's. */
static void private_resolver(struct private_resolver *r, const char *hosts)
{
    struct sockaddr_in a;
    char conf[128], resolv[96];
    unsigned pid = (unsigned) getpid();

    memset(r, 0, sizeof *r);
    /* An address of the loopback net of our own, so that tests running at
     * the same time do not share a server. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr =
        htonl(0x7f000000u | ((pid % 250 + 1) << 8) | (pid / 250 % 250 + 2));
    r->dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(r->dns_fd, 0);
    if (bind(r->dns_fd, (struct sockaddr *) &a, sizeof a) != 0) {
        close(r->dns_fd);
        SKIP("cannot bind a DNS server on port 53: %s", strerror(errno));
    }
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        close(r->dns_fd);
        SKIP("no private mount namespace: %s", strerror(errno));
    }
    snprintf(r->dir, sizeof r->dir, "/tmp/leader-test-resolv.XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(r->dir));
    snprintf(resolv, sizeof resolv, "%s/resolv.conf", r->dir);
    snprintf(r->hosts, sizeof r->hosts, "%s/hosts", r->dir);
    snprintf(conf, sizeof conf, "nameserver %s\n", inet_ntoa(a.sin_addr));
    write_file(resolv, conf);
    write_file(r->hosts, hosts);
    if (mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0 ||
        mount(r->hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) {
        close(r->dns_fd);
        SKIP("cannot bind-mount over /etc: %s", strerror(errno));
    }
    ASSERT_OK(pthread_create(&r->reader, NULL, read_queries, r));
    pthread_detach(r->reader);
}

/* The mounts go with the process; the files stay on /tmp: remove them. */
static void private_resolver_done(struct private_resolver *r)
{
    char path[128];

    umount("/etc/resolv.conf");
    umount("/etc/hosts");
    snprintf(path, sizeof path, "%s/resolv.conf", r->dir);
    unlink(path);
    unlink(r->hosts);
    rmdir(r->dir);
}

static leader *add(leader_client *c, struct tape *t, const char *key, long ttl,
                   long wait)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.url = NULL;
    o.key = key;
    o.ttl_ms = ttl;
    o.wait_ms = wait;
    l = leader_client_add(c, &o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_client_add: %s", err);
    leader_on(l, tape_record, t);
    return l;
}

static leader_client *client_for(const char *url)
{
    leader_client_options o;
    char err[256];
    leader_client *c;

    leader_client_options_init(&o);
    o.url = url;
    c = leader_client_new(&o, err, sizeof err);
    if (c == NULL)
        FAIL("leader_client_new: %s", err);
    return c;
}

/* REVOKED must come at the lease deadline d, within a few ms. */
static void expect_revoked_at(struct tape *t, const leader *l, int64_t d)
{
    struct tape_entry e;

    if (!tape_wait(t, l, LEADER_EVENT_REVOKED, d + 3000, &e)) {
        tape_dump(t);
        FAIL("no REVOKED within 3 s of the lease deadline %lld", (long long) d);
    }
    if (e.at < d || e.at > d + 100) {
        tape_dump(t);
        FAIL("REVOKED at %lld, the lease deadline was %lld (%+lld ms)",
             (long long) e.at, (long long) d, (long long) (e.at - d));
    }
    ASSERT_EQ(e.error, LEADER_ECONN); /* ran out while disconnected */
}

TEST(revoked_at_the_deadline_while_dns_never_answers)
{
    struct private_resolver r;
    struct tape t;
    rfx_server *s;
    proxy_ctl p;
    leader_client *c;
    leader *a, *b;
    char url[128];
    int64_t da, db, t0;

    private_resolver(&r, "127.0.0.1 localhost\n127.0.0.1 " NAME "\n");
    s = start_redis(NULL);
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    tape_init(&t);
    snprintf(url, sizeof url, "redis://" NAME ":%d", p.port);
    c = client_for(url);
    a = add(c, &t, "resolve-a", 3000, 1000);
    b = add(c, &t, "resolve-b", 3000, 1000);
    ASSERT_OK(leader_elect(a));
    ASSERT_OK(leader_elect(b));
    ASSERT(
        tape_wait(&t, a, LEADER_EVENT_ELECTED, leader_clock_ms() + 5000, NULL));
    ASSERT(
        tape_wait(&t, b, LEADER_EVENT_ELECTED, leader_clock_ms() + 5000, NULL));

    /* The name is gone from /etc/hosts, the DNS server never answers, and
     * the connections break: every reconnect starts with a lookup that
     * hangs. */
    write_file(r.hosts, "127.0.0.1 localhost\n");
    ASSERT_OK(proxy_reset(&p));
    sleep_ms(50); /* no renewal can be confirmed from here on */
    da = leader_lease_deadline(a);
    db = leader_lease_deadline(b);
    ASSERT_GT(da, 0);
    ASSERT_GT(db, 0);
    expect_revoked_at(&t, a, da);
    expect_revoked_at(&t, b, db);
    ASSERT_GT(atomic_load(&r.queries), 0); /* the resolver was asked */

    t0 = leader_clock_ms();
    leader_free(a);
    leader_free(b);
    leader_client_free(c);
    ASSERT_LT(leader_clock_ms() - t0, 1500);
    proxy_stop(&p);
    rfx_free(s);
    tape_destroy(&t);
    private_resolver_done(&r);
}

TEST(name_that_never_resolves_fails_at_the_connect_deadline)
{
    struct private_resolver r;
    struct tape t;
    struct tape_entry e;
    leader_client *c;
    leader *a;
    int64_t t0;

    private_resolver(&r, "127.0.0.1 localhost\n");
    tape_init(&t);
    c = client_for("redis://" NAME ":6379");
    a = add(c, &t, "resolve-never", 3000, 1000);
    t0 = leader_clock_ms();
    ASSERT_OK(leader_elect(a));
    /* ttl 3000: the connect deadline is ttl/3 after the try. */
    if (!tape_wait(&t, a, LEADER_EVENT_ERROR, t0 + 3000, &e)) {
        tape_dump(&t);
        FAIL("no ERROR within 3 s");
    }
    ASSERT_GE(e.at - t0, 1000);
    ASSERT_LT(e.at - t0, 1300);
    ASSERT_EQ(e.error, LEADER_ETIMEDOUT);
    if (strstr(e.message, NAME) == NULL)
        FAIL("the ERROR does not name the host: %s", e.message);
    ASSERT_GT(atomic_load(&r.queries), 0);
    t0 = leader_clock_ms();
    leader_free(a);
    leader_client_free(c);
    ASSERT_LT(leader_clock_ms() - t0, 1500);
    tape_destroy(&t);
    private_resolver_done(&r);
}

TEST(localhost_resolves)
{
    rfx_server *s = start_redis(NULL);
    struct tape t;
    leader_options o;
    leader *l;
    char url[128], err[256];

    tape_init(&t);
    snprintf(url, sizeof url, "redis://localhost:%d", rfx_port(s));
    leader_options_init(&o);
    o.url = url;
    o.key = "resolve-localhost";
    o.ttl_ms = 3000;
    l = leader_new(&o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_new: %s", err);
    leader_on(l, tape_record, &t);
    ASSERT_OK(leader_elect(l));
    ASSERT(
        tape_wait(&t, l, LEADER_EVENT_ELECTED, leader_clock_ms() + 5000, NULL));
    ASSERT_EQ(leader_is_leader(l), 1);
    leader_free(l);
    ASSERT_EQ(tape_count(&t, NULL, LEADER_EVENT_ERROR), 0);
    tape_destroy(&t);
    rfx_free(s);
}

/* "localhost" is the loopback whatever /etc/hosts says (RFC 6761), and is
 * never asked of DNS: here /etc/hosts lacks it and the DNS server never
 * answers, as on a minimal system. The candidate and its query connection
 * reach Redis at once, and no query goes to the DNS server. */
TEST(localhost_is_the_loopback_without_etc_hosts)
{
    rfx_server *s = start_redis(NULL);
    struct private_resolver r;
    struct tape t;
    leader_client *c;
    leader *a;
    char url[128];

    private_resolver(&r, "# no localhost here\n");
    tape_init(&t);
    snprintf(url, sizeof url, "redis://localhost:%d", rfx_port(s));
    c = client_for(url);
    a = add(c, &t, "resolve-loopback", 3000, 1000);
    ASSERT_OK(leader_elect(a));
    if (!tape_wait(&t, a, LEADER_EVENT_ELECTED, leader_clock_ms() + 2000,
                   NULL)) {
        tape_dump(&t);
        FAIL("not elected through localhost within 2 s");
    }
    ASSERT_EQ(leader_is_leader(a), 1);
    ASSERT_EQ(atomic_load(&r.queries), 0);
    leader_free(a);
    leader_client_free(c);
    tape_destroy(&t);
    private_resolver_done(&r);
    rfx_free(s);
}
