/* SPDX-License-Identifier: BSD-3-Clause */
/* test_callbacks.c - what a callback may do, and what the loop does while
 * callbacks run: no library lock is held (an application lock taken in a
 * callback cannot deadlock with the library), blocking queries are refused
 * at once so that REVOKED keeps its deadline, leader_stop() ends the lease
 * for good even while the loop is held up by a slow callback, and a handle
 * freed from a callback still gets its REVOKED and releases its key. */
#define _GNU_SOURCE

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

/* ---- small synchronisation helpers ---- */

struct flags {
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void flags_init(struct flags *f)
{
    pthread_condattr_t a;

    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &a);
    pthread_condattr_destroy(&a);
}

static void flags_free(struct flags *f)
{
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
}

static void flag_set(struct flags *f, int *flag)
{
    pthread_mutex_lock(&f->lock);
    *flag = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Waits up to ms for *flag; returns it. */
static int flag_wait(struct flags *f, const int *flag, long ms)
{
    struct timespec ts;
    int v;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->lock);
    while (!*flag)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
            break;
    v = *flag;
    pthread_mutex_unlock(&f->lock);
    return v;
}

/* ---- item: no library lock while callbacks run ---- */

/* The application's own mutex M, taken by an ELECTED callback, while
 * another thread holds M and adds a handle to the same client. */
struct app {
    struct flags f;
    pthread_mutex_t m;
    leader_client *client;
    leader *added;
    int in_callback, holding_m, callback_done, adder_done;
};

static void on_elected_take_m(leader *l, const leader_event *ev, void *ud)
{
    struct app *a = ud;

    (void) l;
    if (ev->type != LEADER_EVENT_ELECTED)
        return;
    flag_set(&a->f, &a->in_callback);
    if (!flag_wait(&a->f, &a->holding_m, 5000))
        return;
    sleep_ms(100); /* the adder is inside leader_client_add() by now */
    pthread_mutex_lock(&a->m);
    pthread_mutex_unlock(&a->m);
    flag_set(&a->f, &a->callback_done);
}

static void *adder_main(void *arg)
{
    struct app *a = arg;
    leader_options o;
    char err[256];

    if (!flag_wait(&a->f, &a->in_callback, 10000))
        return NULL;
    pthread_mutex_lock(&a->m);
    flag_set(&a->f, &a->holding_m);
    leader_options_init(&o);
    o.key = "added-under-m";
    a->added = leader_client_add(a->client, &o, err, sizeof err);
    pthread_mutex_unlock(&a->m);
    flag_set(&a->f, &a->adder_done);
    return NULL;
}

TEST(client_add_under_app_mutex_while_callback_takes_it)
{
    rfx_server *s = start_redis(NULL);
    leader_client_options co;
    struct app a;
    pthread_t t;
    leader *h;
    char err[256];
    leader_options o;

    memset(&a, 0, sizeof a);
    flags_init(&a.f);
    pthread_mutex_init(&a.m, NULL);
    leader_client_options_init(&co);
    co.url = rfx_url(s);
    a.client = leader_client_new(&co, err, sizeof err);
    ASSERT_NOT_NULL(a.client);
    leader_options_init(&o);
    o.key = "takes-m";
    o.ttl_ms = 2000;
    h = leader_client_add(a.client, &o, err, sizeof err);
    ASSERT_NOT_NULL(h);
    leader_on(h, on_elected_take_m, &a);
    ASSERT_OK(pthread_create(&t, NULL, adder_main, &a));
    ASSERT_OK(leader_elect(h));
    /* Bounded: with a library lock held around the callback, both threads
     * hang for good; the test then fails here instead of hanging. */
    if (!flag_wait(&a.f, &a.adder_done, 5000) ||
        !flag_wait(&a.f, &a.callback_done, 1000))
        FAIL("deadlock: the callback waits for the application's mutex, "
             "whose holder waits in leader_client_add() (in_callback %d, "
             "holding_m %d, adder_done %d, callback_done %d)",
             a.in_callback, a.holding_m, a.adder_done, a.callback_done);
    pthread_join(t, NULL);
    ASSERT_NOT_NULL(a.added);
    /* The handle added from the other thread works. */
    ASSERT_OK(leader_elect(a.added));
    for (int i = 0; i < 300 && !leader_has_lease(a.added); i++)
        sleep_ms(10);
    ASSERT_EQ(leader_has_lease(a.added), 1);
    leader_free(a.added);
    leader_free(h);
    leader_client_free(a.client);
    pthread_mutex_destroy(&a.m);
    flags_free(&a.f);
    rfx_free(s);
}

/* A callback adds a handle to its own client (the loop's own thread). */
struct self_add {
    leader_client *client;
    leader *added;
};

static void on_elected_add(leader *l, const leader_event *ev, void *ud)
{
    struct self_add *sa = ud;
    leader_options o;
    leader *added;

    (void) l;
    if (ev->type != LEADER_EVENT_ELECTED ||
        __atomic_load_n(&sa->added, __ATOMIC_SEQ_CST) != NULL)
        return;
    leader_options_init(&o);
    o.key = "added-from-callback";
    added = leader_client_add(sa->client, &o, NULL, 0);
    if (added != NULL)
        leader_elect(added);
    __atomic_store_n(&sa->added, added, __ATOMIC_SEQ_CST);
}

TEST(client_add_from_a_callback_of_the_same_client)
{
    rfx_server *s = start_redis(NULL);
    leader_client_options co;
    struct self_add sa = {NULL, NULL};
    leader_options o;
    leader *h, *added = NULL;

    leader_client_options_init(&co);
    co.url = rfx_url(s);
    sa.client = leader_client_new(&co, NULL, 0);
    ASSERT_NOT_NULL(sa.client);
    leader_options_init(&o);
    o.key = "adds";
    h = leader_client_add(sa.client, &o, NULL, 0);
    ASSERT_NOT_NULL(h);
    leader_on(h, on_elected_add, &sa);
    ASSERT_OK(leader_elect(h));
    for (int i = 0; i < 300; i++) {
        added = __atomic_load_n(&sa.added, __ATOMIC_SEQ_CST);
        if (added != NULL && leader_has_lease(added))
            break;
        sleep_ms(10);
    }
    ASSERT_NOT_NULL(added);
    ASSERT_EQ(leader_has_lease(added), 1);
    leader_free(added);
    leader_free(h);
    leader_client_free(sa.client);
    rfx_free(s);
}

/* ---- item: blocking queries from a callback ---- */

struct queried {
    leader *other; /* a handle of another client */
    int done;
    int is_leader, current, release, other_is_leader;
    int64_t took_ms;
};

static void query_all(leader *l, struct queried *q)
{
    leader_info info;
    int64_t t0 = now_ms();

    q->is_leader = leader_is_leader(l);
    q->current = leader_current(l, &info);
    q->release = leader_release_term(l, 1);
    q->other_is_leader = q->other != NULL ? leader_is_leader(q->other) : 0;
    q->took_ms = now_ms() - t0;
    __atomic_store_n(&q->done, 1, __ATOMIC_SEQ_CST); /* publishes the rest */
}

static void on_elected_query(leader *l, const leader_event *ev, void *ud)
{
    struct queried *q = ud;

    if (ev->type == LEADER_EVENT_ELECTED &&
        !__atomic_load_n(&q->done, __ATOMIC_SEQ_CST))
        query_all(l, q);
}

TEST(queries_from_a_callback_are_refused_at_once)
{
    rfx_server *s = start_redis(NULL);
    struct queried q;
    leader *l, *other;
    leader_info info;

    memset(&q, 0, sizeof q);
    other = new_handle(rfx_url(s), "other", NULL, 2000, 100, 0);
    q.other = other;
    l = new_handle(rfx_url(s), "queried", NULL, 2000, 100, 0);
    leader_on(l, on_elected_query, &q);
    ASSERT_OK(leader_elect(l));
    for (int i = 0; i < 300 && !__atomic_load_n(&q.done, __ATOMIC_SEQ_CST); i++)
        sleep_ms(10);
    ASSERT_EQ(__atomic_load_n(&q.done, __ATOMIC_SEQ_CST), 1);
    ASSERT_EQ(q.is_leader, LEADER_ESTATE);
    ASSERT_EQ(q.current, LEADER_ESTATE);
    ASSERT_EQ(q.release, LEADER_ESTATE);
    ASSERT_EQ(q.other_is_leader, LEADER_ESTATE); /* any handle's */
    ASSERT_LT(q.took_ms, 50);
    /* Outside callbacks they work as before. */
    ASSERT_EQ(leader_is_leader(l), 1);
    ASSERT_EQ(leader_current(l, &info), 1);
    ASSERT_STR_EQ(info.id, leader_id(l));
    ASSERT_EQ(leader_is_leader(other), 0);
    leader_free(l);
    leader_free(other);
    rfx_free(s);
}

TEST(queries_from_a_callback_in_event_loop_mode_are_refused)
{
    rfx_server *s = start_redis(NULL);
    struct queried q;
    leader *l;
    int64_t end;

    memset(&q, 0, sizeof q);
    l = new_handle(rfx_url(s), "queried-loop", NULL, 2000, 100, 1);
    leader_on(l, on_elected_query, &q);
    ASSERT_OK(leader_elect(l));
    end = now_ms() + 3000;
    while (!q.done && now_ms() < end) {
        struct pollfd p = {leader_fd(l), POLLIN, 0};
        int t = leader_timeout_ms(l);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        ASSERT_OK(leader_process(l));
    }
    ASSERT_EQ(q.done, 1);
    ASSERT_EQ(q.is_leader, LEADER_ESTATE);
    ASSERT_EQ(q.current, LEADER_ESTATE);
    ASSERT_EQ(q.release, LEADER_ESTATE);
    ASSERT_LT(q.took_ms, 50);
    /* The loop's own thread, outside leader_process(): allowed. */
    ASSERT_EQ(leader_is_leader(l), 1);
    leader_free(l);
    rfx_free(s);
}

/* Redis freezes under a leader whose callback, on the ERROR that a
 * renewal timing out brings, asks Redis who leads: blocking there would
 * hold the loop for several query timeouts, past the lease deadline. */
struct frozen {
    struct flags f;
    int errors_seen, revoked;
    int is_leader, current;
    int64_t deadline_at_error; /* leader_clock_ms() */
    int64_t revoked_at;        /* leader_clock_ms() */
    int revoked_error;
};

static void on_frozen_event(leader *l, const leader_event *ev, void *ud)
{
    struct frozen *fz = ud;
    leader_info info;

    if (ev->type == LEADER_EVENT_ERROR && fz->errors_seen++ == 0) {
        fz->deadline_at_error = leader_lease_deadline(l);
        fz->is_leader = leader_is_leader(l);
        fz->current = leader_current(l, &info);
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        fz->revoked_at = leader_clock_ms();
        fz->revoked_error = ev->error;
        flag_set(&fz->f, &fz->revoked);
    }
}

TEST(revoked_by_the_deadline_while_a_callback_queries)
{
    rfx_server *s = start_redis(NULL);
    struct frozen fz;
    leader *l;
    int64_t deadline;

    memset(&fz, 0, sizeof fz);
    flags_init(&fz.f);
    l = new_handle(rfx_url(s), "frozen", NULL, 1500, 100, 0);
    leader_on(l, on_frozen_event, &fz);
    ASSERT_OK(leader_elect(l));
    for (int i = 0; i < 300 && !leader_has_lease(l); i++)
        sleep_ms(10);
    ASSERT_EQ(leader_has_lease(l), 1);
    ASSERT_EQ(leader_is_leader(l), 1); /* the query connection is open */
    ASSERT_OK(rfx_pause(s));
    sleep_ms(50); /* a renewal answered just before is taken in */
    deadline = leader_lease_deadline(l);
    ASSERT_GT(deadline, 0);
    ASSERT(flag_wait(&fz.f, &fz.revoked, 5000));
    ASSERT_OK(rfx_resume(s));
    fprintf(stderr,
            "deadline %lld, error seen with deadline %lld, revoked at "
            "%lld (%+lld ms)\n",
            (long long) deadline, (long long) fz.deadline_at_error,
            (long long) fz.revoked_at, (long long) (fz.revoked_at - deadline));
    ASSERT_GE(fz.errors_seen, 1);
    ASSERT_EQ(fz.deadline_at_error, deadline); /* no renewal in between */
    /* At the deadline, by its own clock; the cause is the lease running
     * out, or the connection the timed-out renewal dropped. */
    ASSERT(fz.revoked_error == LEADER_ELEASE ||
           fz.revoked_error == LEADER_ECONN);
    ASSERT_LE(fz.revoked_at, deadline + 100);
    ASSERT_EQ(fz.is_leader, LEADER_ESTATE);
    ASSERT_EQ(fz.current, LEADER_ESTATE);
    leader_free(l);
    flags_free(&fz.f);
    rfx_free(s);
}

/* ---- item: leader_stop() ends the lease for good ---- */

/* The first ELECTED callback holds the loop longer than leader_stop()
 * waits; meanwhile another thread stops the handle and elects it again.
 * The stopped leadership must not come back when the loop goes on. */
struct slow {
    struct flags f;
    int in_callback, changed_seen;
    long sleep_ms;
    uint64_t first_term;
};

static void on_elected_sleep(leader *l, const leader_event *ev, void *ud)
{
    struct slow *sl = ud;

    (void) l;
    if (ev->type == LEADER_EVENT_ELECTED && sl->first_term == 0) {
        sl->first_term = ev->term;
        flag_set(&sl->f, &sl->in_callback);
        sleep_ms(sl->sleep_ms);
    } else if (ev->type == LEADER_EVENT_CHANGED && !sl->changed_seen) {
        /* The CHANGED that follows the first ELECTED: held too, so that a
         * lease wrongly brought back meanwhile is seen. */
        sl->changed_seen = 1;
        sleep_ms(200);
    }
}

TEST(stop_then_elect_during_a_slow_callback_keeps_the_old_lease_gone)
{
    rfx_server *s = start_redis(NULL);

    for (int round = 0; round < 3; round++) {
        struct slow sl;
        leader *l;
        int64_t end;
        uint64_t old;
        int relapsed = 0;

        memset(&sl, 0, sizeof sl);
        flags_init(&sl.f);
        sl.sleep_ms = 500; /* leader_stop() waits ttl/3 + 100 = 300 ms */
        l = new_handle(rfx_url(s), "slowcb", NULL, 600, 50, 0);
        leader_on(l, on_elected_sleep, &sl);
        ASSERT_OK(leader_elect(l));
        ASSERT(flag_wait(&sl.f, &sl.in_callback, 5000));
        old = sl.first_term;
        ASSERT_OK(leader_stop(l)); /* gives up waiting: the loop is held */
        ASSERT_EQ(leader_has_lease(l), 0);
        ASSERT_EQ(leader_term(l), 0);
        ASSERT_OK(leader_elect(l));
        /* Until the callback returns and well after: the lease of term
         * `old` must never be seen again. */
        end = now_ms() + 1000;
        while (now_ms() < end && !relapsed) {
            relapsed = leader_term(l) == old;
            sleep_ms(1);
        }
        ASSERT_EQ(relapsed, 0);
        leader_free(l);
        flags_free(&sl.f);
    }
    rfx_free(s);
}

/* Every event's callback sleeps a little, so that the loop is often busy
 * when another thread stops the handle: right after leader_stop() returns
 * the lease is gone, every time. */
static void on_any_sleep(leader *l, const leader_event *ev, void *ud)
{
    (void) l;
    (void) ev;
    (void) ud;
    sleep_ms(2);
}

TEST(lease_is_gone_when_stop_returns)
{
    rfx_server *s = start_redis(NULL);
    leader *l = new_handle(rfx_url(s), "stopgone", NULL, 600, 0, 0);
    int rounds = 0;
    int64_t end = now_ms() + 4000;

    leader_on(l, on_any_sleep, NULL);
    while (now_ms() < end && rounds < 200) {
        ASSERT_OK(leader_elect(l));
        for (int i = 0; i < 300 && !leader_has_lease(l); i++)
            sleep_ms(1);
        ASSERT_EQ(leader_has_lease(l), 1);
        ASSERT_OK(leader_stop(l));
        ASSERT_EQ(leader_has_lease(l), 0);
        ASSERT_EQ(leader_term(l), 0);
        ASSERT_EQ(leader_lease_deadline(l), 0);
        rounds++;
    }
    ASSERT_GE(rounds, 20);
    leader_free(l);
    rfx_free(s);
}

/* ---- a stop's REVOKED comes before its release ---- */

static leader *follower;
static _Atomic int follower_led_meanwhile, handler_ran, armed, elections[2];

/* a's callback: an application that stops its job on REVOKED. It must be
 * done before anyone else can lead, that is, before the key is released;
 * the follower's lease is read lock-free while it works. */
static void on_a(leader *l, const leader_event *ev, void *userdata)
{
    (void) l;
    (void) userdata;
    if (ev->type == LEADER_EVENT_ELECTED)
        elections[0]++;
    if (!armed || ev->type != LEADER_EVENT_REVOKED)
        return;
    for (int i = 0; i < 40; i++) {
        if (leader_has_lease(follower))
            follower_led_meanwhile = 1;
        sleep_ms(5);
    }
    handler_ran = 1;
}

static void on_b(leader *l, const leader_event *ev, void *userdata)
{
    (void) l;
    (void) userdata;
    if (ev->type == LEADER_EVENT_ELECTED)
        elections[1]++;
}

static void wait_count(_Atomic int *n, int want)
{
    for (int i = 0; i < 500 && *n < want; i++)
        sleep_ms(10);
    ASSERT_EQ(*n, want);
}

/* The application's REVOKED handler for a stop runs to its end before the
 * release reaches Redis, so that no other candidate leads while the old
 * leader's job still runs: the loop delivers a stop's events before it
 * writes anything to the connection. */
TEST(stop_revoked_handler_ends_before_the_release)
{
    rfx_server *s = start_redis(NULL);
    leader *a = new_handle(rfx_url(s), "revoked-first", NULL, 2000, 50, 0),
           *b = new_handle(rfx_url(s), "revoked-first", NULL, 2000, 50, 0);

    follower = b;
    leader_on(a, on_a, NULL);
    leader_on(b, on_b, NULL);
    /* A first stop loads the release script, so that the second one goes
     * out at once (EVALSHA), not after a NOSCRIPT round trip. */
    ASSERT_OK(leader_elect(a));
    wait_count(&elections[0], 1);
    ASSERT_OK(leader_stop(a));
    ASSERT_OK(leader_elect(a));
    wait_count(&elections[0], 2);
    ASSERT_OK(leader_elect(b));
    sleep_ms(100); /* b follows, subscribed */
    armed = 1;
    ASSERT_OK(leader_stop(a));
    wait_count(&elections[1], 1);
    ASSERT(handler_ran);
    if (follower_led_meanwhile)
        FAIL("b led while a's REVOKED handler (for its stop) still ran");
    leader_free(a);
    leader_free(b);
    rfx_free(s);
}

/* ---- item: the end of a handle, seen from callbacks ---- */

/* Event-loop mode, leader_free() of a handle from its own ELECTED
 * callback: the free waits for the callback to return, its REVOKED comes
 * after that, and the key is released before the leader_process() that ran
 * the callback returns. */
struct self_free {
    int elected, returned, revoked, revoked_after_return, revoked_error;
};

static void on_event_free_self(leader *l, const leader_event *ev, void *ud)
{
    struct self_free *sf = ud;

    if (ev->type == LEADER_EVENT_ELECTED) {
        sf->elected++;
        leader_free(l);
        sf->returned = 1;
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        sf->revoked++;
        sf->revoked_after_return = sf->returned;
        sf->revoked_error = ev->error;
    }
}

TEST(free_from_own_callback_in_event_loop_mode_ends_inside_process)
{
    rfx_server *s = start_redis(NULL);
    struct self_free sf;
    char key[64];
    int64_t end;
    leader *l;
    char *r;

    memset(&sf, 0, sizeof sf);
    l = new_handle(rfx_url(s), "self-free-loop", NULL, 10000, 100, 1);
    snprintf(key, sizeof key, "%s", leader_key(l));
    leader_on(l, on_event_free_self, &sf);
    ASSERT_OK(leader_elect(l));
    end = now_ms() + 5000;
    while (!sf.elected && now_ms() < end) {
        struct pollfd p = {leader_fd(l), POLLIN, 0};
        int t = leader_timeout_ms(l);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        ASSERT_OK(leader_process(l)); /* the last one frees l */
    }
    ASSERT_EQ(sf.elected, 1);
    ASSERT_EQ(sf.revoked, 1);
    ASSERT_EQ(sf.revoked_after_return, 1);
    ASSERT_EQ(sf.revoked_error, 0);
    r = rfx_command(s, "EXISTS %s", key);
    ASSERT_STR_EQ(r, "0"); /* released, not left to expire */
    free(r);
    rfx_free(s);
}

/* Event-loop mode, a callback of one client frees a leading handle of
 * another client run by the same thread: leader_free() runs that client's
 * loop from inside the callback, so the two nest. The freed handle's
 * REVOKED comes there, still inside a callback (its queries are refused),
 * and its key is released when leader_free() returns. */
struct nested {
    leader *victim;
    int victim_elected, victim_revoked, revoked_inside, query_inside;
    int in_outer, freed;
};

static void on_victim_event(leader *l, const leader_event *ev, void *ud)
{
    struct nested *n = ud;

    if (ev->type == LEADER_EVENT_ELECTED) {
        n->victim_elected++;
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        n->victim_revoked++;
        n->revoked_inside = n->in_outer;
        n->query_inside = leader_is_leader(l);
    }
}

static void on_outer_event(leader *l, const leader_event *ev, void *ud)
{
    struct nested *n = ud;

    (void) l;
    if (ev->type != LEADER_EVENT_ELECTED || n->freed)
        return;
    n->in_outer = 1;
    leader_free(n->victim);
    n->in_outer = 0;
    n->freed = 1;
}

TEST(free_of_another_clients_handle_from_a_callback_nests_its_loop)
{
    rfx_server *s = start_redis(NULL);
    struct nested n;
    char key[64];
    leader *outer;
    char *r;

    memset(&n, 0, sizeof n);
    n.victim = new_handle(rfx_url(s), "nested-victim", NULL, 10000, 100, 1);
    snprintf(key, sizeof key, "%s", leader_key(n.victim));
    leader_on(n.victim, on_victim_event, &n);
    ASSERT_OK(leader_elect(n.victim));
    run_loops(n.victim, n.victim, 5000, &n.victim_elected, 1);
    ASSERT_EQ(n.victim_elected, 1);
    outer = new_handle(rfx_url(s), "nested-outer", NULL, 10000, 100, 1);
    leader_on(outer, on_outer_event, &n);
    ASSERT_OK(leader_elect(outer));
    run_loops(outer, outer, 5000, &n.freed, 1);
    ASSERT_EQ(n.freed, 1);
    ASSERT_EQ(n.victim_revoked, 1);
    ASSERT_EQ(n.revoked_inside, 1);
    ASSERT_EQ(n.query_inside, LEADER_ESTATE);
    r = rfx_command(s, "EXISTS %s", key);
    ASSERT_STR_EQ(r, "0");
    free(r);
    /* Outside every callback, the queries work again. */
    ASSERT_EQ(leader_is_leader(outer), 1);
    leader_free(outer);
    rfx_free(s);
}
