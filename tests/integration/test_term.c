/* SPDX-License-Identifier: BSD-3-Clause */
/* test_term.c - a new term within one leadership (leader_new_term) and the
 * release of a dead leadership by (id, term) (leader_release_term), against
 * a real redis-server: the key never lapses, terms grow, the counter in
 * Redis agrees, and a release touches only the leadership it names. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

/* The term counter key of the election whose holder key is holder. */
static void term_key(const char *holder, char *buf, size_t len)
{
    snprintf(buf, len, "{%s}:term", holder);
}

/* GET of a key, as a number (0 for nil). */
static unsigned long long get_number(rfx_server *s, const char *key)
{
    char *r = rfx_command(s, "GET %s", key);
    unsigned long long v;

    ASSERT_NOT_NULL(r);
    v = strtoull(r, NULL, 10);
    free(r);
    return v;
}

/* Fails unless GET of key replies want ("(nil)" for none). */
static void expect_get(rfx_server *s, const char *key, const char *want)
{
    char *r = rfx_command(s, "GET %s", key);

    if (r == NULL || strcmp(r, want) != 0) {
        fprintf(stderr, "GET %s: \"%s\", want \"%s\"\n", key,
                r ? r : "(unreachable)", want);
        free(r);
        FAIL("unexpected holder");
    }
    free(r);
}

static long long pttl_of(redisContext *ctx, const char *key)
{
    redisReply *r = redisCommand(ctx, "PTTL %s", key);
    long long v;

    ASSERT_NOT_NULL(r);
    ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The log entries of cand, in order, copied out (at most max). */
static int cand_log(struct world *w, int cand, struct logged *out, int max)
{
    int n = 0;

    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n && n < max; i++)
        if (w->log[i].cand == cand && w->log[i].type != LEADER_EVENT_CHANGED)
            out[n++] = w->log[i];
    pthread_mutex_unlock(&w->lock);
    return n;
}

TEST(new_term_keeps_the_key_and_raises_the_term)
{
    rfx_server *s = start_redis(NULL);
    redisContext *ctx = rfx_connect(s);
    struct world w;
    struct logged log[32];
    char tkey[128], want[64];
    long long min_pttl = -100;
    uint64_t term;
    int n;

    ASSERT_NOT_NULL(ctx);
    world_init(&w);
    /* A follower that would take the key within milliseconds of a gap. */
    world_add(&w, rfx_url(s), "newterm", 1500, 20);
    world_add(&w, rfx_url(s), "newterm", 1500, 20);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_elect(w.c[1].l));
    sleep_ms(100);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    for (int round = 1; round <= 5; round++) {
        uint64_t before = leader_term(w.c[0].l);
        int64_t end = now_ms() + 5000;
        ASSERT_GT(before, 0);
        ASSERT_OK(leader_new_term(w.c[0].l));
        /* Watch the key until the new term is there: it never lapses. */
        while (world_count(&w, 0, LEADER_EVENT_ELECTED) < round + 1) {
            long long p = pttl_of(ctx, leader_key(w.c[0].l));
            ASSERT_GT(p, 0);
            ASSERT_LT(now_ms(), end);
            if (min_pttl < 0 || p < min_pttl)
                min_pttl = p;
        }
        ASSERT_GT(leader_term(w.c[0].l), before);
        ASSERT_EQ(leader_has_lease(w.c[0].l), 1);
        sleep_ms(round * 150); /* renewals of the new term go on */
    }
    n = cand_log(&w, 0, log, 32);
    ASSERT_EQ(n, 11); /* ELECTED, then (REVOKED, ELECTED) five times */
    for (int i = 1; i < n; i += 2) {
        ASSERT_EQ(log[i].type, LEADER_EVENT_REVOKED);
        ASSERT_EQ(log[i].term, log[i - 1].term);
        ASSERT_EQ(log[i].error, 0);
        snprintf(want, sizeof want, "superseded by term %llu",
                 (unsigned long long) log[i + 1].term);
        ASSERT_STR_EQ(log[i].message, want);
        ASSERT_EQ(log[i + 1].type, LEADER_EVENT_ELECTED);
        ASSERT_GT(log[i + 1].term, log[i].term);
        ASSERT_LT(log[i + 1].at_ms - log[i].at_ms, 50); /* back to back */
    }
    term = log[n - 1].term;
    ASSERT_EQ(leader_term(w.c[0].l), term);
    ASSERT_EQ(get_number(s, tkey), term);
    expect_get(s, leader_key(w.c[0].l), leader_id(w.c[0].l));
    ASSERT_EQ(leader_is_leader(w.c[0].l), 1);
    ASSERT_EQ(world_count(&w, 1, LEADER_EVENT_ELECTED), 0);
    fprintf(stderr, "lowest PTTL seen during new terms: %lld ms\n", min_pttl);
    world_check_log(&w);
    redisFree(ctx);
    world_free(&w);
    rfx_free(s);
}

/* Asks for a new term from inside the callback of the first ELECTED, as a
 * supervisor that starts its work there might. */
static int hook_rc = 1;

static void new_term_on_first_election(struct cand *c, const leader_event *ev)
{
    if (ev->type == LEADER_EVENT_ELECTED && hook_rc == 1)
        hook_rc = leader_new_term(c->l);
}

TEST(new_term_from_the_callback)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged log[8];

    world_init(&w);
    w.hook = new_term_on_first_election;
    world_add(&w, rfx_url(s), "fromcb", 2000, 100);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2, 5000), 2);
    ASSERT_OK(hook_rc);
    ASSERT_EQ(cand_log(&w, 0, log, 8), 3);
    ASSERT_EQ(log[1].type, LEADER_EVENT_REVOKED);
    ASSERT_GT(log[2].term, log[0].term);
    ASSERT_EQ(leader_term(w.c[0].l), log[2].term);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(new_term_is_refused_unless_leading)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a, *b, *obs;

    ASSERT_EQ(leader_new_term(NULL), LEADER_EINVAL);
    world_init(&w);
    a = world_add(&w, rfx_url(s), "refuse", 2000, 100);
    b = world_add(&w, rfx_url(s), "refuse", 2000, 100);
    obs = world_add(&w, rfx_url(s), "refuse", 2000, 100);
    ASSERT_EQ(leader_new_term(a->l), LEADER_ESTATE); /* not campaigning */
    ASSERT_OK(leader_elect(a->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_elect(b->l));
    ASSERT_OK(leader_observe(obs->l));
    ASSERT_GE(world_wait(&w, 2, LEADER_EVENT_CHANGED, 1, 5000), 1);
    sleep_ms(100);
    ASSERT_EQ(leader_new_term(b->l), LEADER_ESTATE);   /* a follower */
    ASSERT_EQ(leader_new_term(obs->l), LEADER_ESTATE); /* an observer */
    ASSERT_OK(leader_stop(a->l));
    ASSERT_EQ(leader_new_term(a->l), LEADER_ESTATE); /* stopped */
    sleep_ms(200);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 1);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 1);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(stop_right_after_a_new_term_releases_the_key)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    int granted = 0;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "stoprace", 2000, 100);
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(leader_elect(c->l));
        ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2 * i + 1, 5000),
                  2 * i + 1);
        ASSERT_OK(leader_new_term(c->l));
        if (i % 2 == 1) /* let the acquire leave, or not */
            sleep_ms(i % 4 == 1 ? 0 : 1);
        ASSERT_OK(leader_stop(c->l));
        /* Whichever term Redis holds, the stop deleted the key. */
        expect_get(s, leader_key(c->l), "(nil)");
        /* A granted new term adds one ELECTED before the stop. */
        if (world_count(&w, 0, LEADER_EVENT_ELECTED) == 2 * i + 2) {
            granted++;
            continue;
        }
        ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 2 * i + 1);
        ASSERT_OK(leader_elect(c->l));
        ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2 * i + 2, 5000),
                  2 * i + 2);
        ASSERT_OK(leader_stop(c->l));
    }
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED),
              world_count(&w, 0, LEADER_EVENT_REVOKED));
    fprintf(stderr, "%d of 20 new terms granted before the stop\n", granted);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

/* ---- the event-loop API ---- */

struct loop_log {
    int elected, revoked;
    uint64_t term[8];
    int order_ok; /* each REVOKED names the term of the ELECTED before */
};

static void on_loop_event(leader *l, const leader_event *ev, void *userdata)
{
    struct loop_log *log = userdata;

    (void) l;
    if (ev->type == LEADER_EVENT_ELECTED && log->elected < 8) {
        log->term[log->elected++] = ev->term;
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        if (log->elected == 0 || ev->term != log->term[log->elected - 1] ||
            log->revoked != log->elected - 1)
            log->order_ok = 0;
        log->revoked++;
    }
}

TEST(new_term_in_event_loop_mode)
{
    rfx_server *s = start_redis(NULL);
    struct loop_log la = {.order_ok = 1}, lb = {.order_ok = 1};
    leader *a = new_handle(rfx_url(s), "loopterm", NULL, 1000, 20, 1);
    leader *b = new_handle(rfx_url(s), "loopterm", NULL, 1000, 20, 1);
    char tkey[128];

    leader_on(a, on_loop_event, &la);
    leader_on(b, on_loop_event, &lb);
    ASSERT_OK(leader_elect(a));
    run_loops(a, b, 3000, &la.elected, 1);
    ASSERT_EQ(la.elected, 1);
    ASSERT_EQ(leader_new_term(b), LEADER_ESTATE); /* not campaigning */
    ASSERT_OK(leader_elect(b));
    run_loops(a, b, 200, NULL, 0);
    ASSERT_EQ(leader_new_term(b), LEADER_ESTATE); /* a follower */
    ASSERT_OK(leader_new_term(a));
    ASSERT_EQ(la.revoked, 0); /* nothing happens outside process */
    run_loops(a, b, 3000, &la.elected, 2);
    ASSERT_EQ(la.elected, 2);
    ASSERT_EQ(la.revoked, 1);
    ASSERT_EQ(la.order_ok, 1);
    ASSERT_GT(la.term[1], la.term[0]);
    ASSERT_EQ(leader_term(a), la.term[1]);
    run_loops(a, b, 1000, NULL, 0); /* renewals of the new term */
    ASSERT_EQ(leader_has_lease(a), 1);
    ASSERT_EQ(lb.elected, 0);
    term_key(leader_key(a), tkey, sizeof tkey);
    ASSERT_EQ(get_number(s, tkey), la.term[1]);
    leader_free(a); /* releases: b takes over */
    ASSERT_EQ(la.revoked, 2);
    run_loops(b, b, 3000, &lb.elected, 1);
    ASSERT_EQ(lb.elected, 1);
    ASSERT_GT(lb.term[0], la.term[1]);
    leader_free(b);
    rfx_free(s);
}

/* ---- releasing a dead leadership ---- */

TEST(release_term_lets_a_follower_in_at_once)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    leader *h;
    char tkey[128];
    unsigned long long term;
    int64_t t0, t_free;
    pid_t pid;
    int status;

    /* A leader with a 10 s lease in a process that then dies. */
    pid = spawn_leader(rfx_url(s), "dead", 10000, "dead-one");
    world_init(&w);
    world_add(&w, rfx_url(s), "dead", 10000, 5000);
    ASSERT_OK(leader_elect(w.c[0].l));
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    term = get_number(s, tkey);
    ASSERT_GT(term, 0);
    sleep_ms(200);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 0);
    ASSERT_OK(kill(pid, SIGKILL));
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    expect_get(s, leader_key(w.c[0].l), "dead-one"); /* the key lives on */

    /* A fresh handle with the dead one's options and id. */
    h = new_handle(rfx_url(s), "dead", "dead-one", 10000, 5000, 0);
    t0 = now_ms();
    ASSERT_EQ(leader_release_term(h, term + 1), 0); /* not its term */
    expect_get(s, leader_key(h), "dead-one");
    ASSERT_EQ(leader_release_term(h, term), 1);
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 2000), 1);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &e);
    fprintf(stderr, "elected %lld ms after the release\n",
            (long long) (e.at_ms - t0));
    ASSERT_LT(e.at_ms - t0, 1000); /* not after the 10 s ttl */
    ASSERT_GT(e.term, term);
    ASSERT_EQ(leader_release_term(h, term), 0); /* done already */
    t_free = now_ms();
    leader_free(h); /* never campaigned: no wait, no leak */
    ASSERT_LT(now_ms() - t_free, 500);
    ASSERT_EQ(leader_is_leader(w.c[0].l), 1);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(release_term_touches_only_the_leadership_it_names)
{
    rfx_server *s = start_redis(NULL);
    leader *l = new_handle(rfx_url(s), "names", "live-one", 3000, 100, 0);
    leader *same = new_handle(rfx_url(s), "names", "live-one", 3000, 100, 0);
    leader *other = new_handle(rfx_url(s), "names", "someone", 3000, 100, 0);
    uint64_t term;

    ASSERT_EQ(leader_release_term(same, 5), 0); /* nobody holds it */
    ASSERT_OK(leader_elect(l));
    for (int i = 0; i < 500 && !leader_has_lease(l); i++)
        sleep_ms(10);
    term = leader_term(l);
    ASSERT_GT(term, 0);
    ASSERT_EQ(leader_release_term(other, term), 0);    /* another id */
    ASSERT_EQ(leader_release_term(same, term + 1), 0); /* a newer term */
    if (term > 1)
        ASSERT_EQ(leader_release_term(same, term - 1), 0); /* an older one */
    expect_get(s, leader_key(l), "live-one");
    ASSERT_EQ(leader_is_leader(l), 1);
    sleep_ms(1200); /* renewals are still accepted */
    ASSERT_EQ(leader_has_lease(l), 1);
    ASSERT_EQ(leader_term(l), term);
    leader_free(other);
    leader_free(same);
    leader_free(l);
    rfx_free(s);
}

TEST(release_term_argument_and_state_errors)
{
    rfx_server *s = start_redis(NULL);
    leader *l = new_handle(rfx_url(s), "states", "me", 2000, 100, 0);
    leader *loop = new_handle(rfx_url(s), "states", "me", 2000, 100, 1);

    ASSERT_EQ(leader_release_term(NULL, 1), LEADER_EINVAL);
    ASSERT_EQ(leader_release_term(l, 0), LEADER_EINVAL);
    ASSERT_OK(leader_elect(l));
    ASSERT_EQ(leader_release_term(l, 1), LEADER_ESTATE); /* campaigning */
    for (int i = 0; i < 500 && !leader_has_lease(l); i++)
        sleep_ms(10);
    ASSERT_EQ(leader_release_term(l, leader_term(l)), LEADER_ESTATE);
    ASSERT_OK(leader_stop(l));
    ASSERT_EQ(leader_release_term(l, 1), 0); /* released by the stop */
    ASSERT_OK(leader_observe(l));
    ASSERT_EQ(leader_release_term(l, 1), LEADER_ESTATE); /* observing */
    ASSERT_OK(leader_stop(l));
    /* An event-loop handle queries without its loop running. */
    ASSERT_EQ(leader_release_term(loop, 1), 0);
    leader_free(loop);
    leader_free(l);
    rfx_free(s);
}

TEST(release_term_with_no_server_fails_cleanly)
{
    leader *l = new_handle("redis://127.0.0.1:1", "nobody", "x", 2000, 100, 0);
    leader *loop =
        new_handle("redis://127.0.0.1:1", "nobody", "x", 2000, 100, 1);
    int64_t t0 = now_ms();

    ASSERT_EQ(leader_release_term(l, 3), LEADER_ECONN);
    ASSERT_EQ(leader_release_term(l, 3), LEADER_ECONN); /* and again */
    ASSERT_EQ(leader_release_term(loop, 3), LEADER_ECONN);
    leader_free(loop);
    leader_free(l);
    ASSERT_LT(now_ms() - t0, 2000);
}
