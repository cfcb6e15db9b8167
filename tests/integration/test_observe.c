/* SPDX-License-Identifier: BSD-3-Clause */
/* test_observe.c - watching who leads: leader_observe() and the CHANGED
 * events that candidates and observers get, against a real redis-server,
 * across stops, crashes, bare deletes, restarts and reconnects. */
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

/* Waits for cand's n-th CHANGED event and returns it in *e. */
static void wait_changed(struct world *w, int cand, int n, long ms,
                         struct logged *e)
{
    int seen = 0;

    if (world_wait(w, cand, LEADER_EVENT_CHANGED, n, ms) < n) {
        world_dump(w);
        FAIL("candidate %d: no CHANGED #%d", cand, n);
    }
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n; i++)
        if (w->log[i].cand == cand && w->log[i].type == LEADER_EVENT_CHANGED &&
            ++seen == n)
            *e = w->log[i];
    pthread_mutex_unlock(&w->lock);
}

static void expect_changed(struct world *w, int cand, int n, long ms,
                           const char *id, const char *cause)
{
    struct logged e;

    wait_changed(w, cand, n, ms, &e);
    if (strcmp(e.leader_id, id) != 0 || strcmp(e.message, cause) != 0)
        world_dump(w);
    if (strcmp(e.leader_id, id) != 0 || strcmp(e.message, cause) != 0)
        FAIL("CHANGED #%d: leader \"%s\" (%s), expected \"%s\" (%s)", n,
             e.leader_id, e.message, id, cause);
}

TEST(observer_follows_stops_and_handovers)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *o, *a, *b;

    world_init(&w);
    o = world_add(&w, rfx_url(s), "obs", 2000, 500);
    a = world_add(&w, rfx_url(s), "obs", 2000, 500);
    b = world_add(&w, rfx_url(s), "obs", 2000, 500);
    ASSERT_OK(leader_observe(o->l));
    expect_changed(&w, 0, 1, 3000, "", "no leader");
    ASSERT_OK(leader_elect(a->l));
    expect_changed(&w, 0, 2, 3000, leader_id(a->l), "elected");
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 1, 3000), 1);
    ASSERT_OK(leader_elect(b->l));
    ASSERT_OK(leader_stop(a->l));
    /* released, then b takes over at once */
    expect_changed(&w, 0, 3, 3000, "", "released");
    expect_changed(&w, 0, 4, 3000, leader_id(b->l), "elected");
    /* candidates hear it too */
    expect_changed(&w, 1, 1, 3000, leader_id(a->l), "elected");
    /* a stopped candidate no longer reports */
    sleep_ms(100);
    ASSERT_EQ(world_count(&w, 1, LEADER_EVENT_CHANGED), 1);
    {
        struct logged last;
        world_last(&w, 2, LEADER_EVENT_CHANGED, &last);
        ASSERT_STR_EQ(last.leader_id, leader_id(b->l));
    }
    /* an observer never campaigns */
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 0);
    ASSERT_EQ(leader_elect(o->l), LEADER_ESTATE);
    ASSERT_EQ(leader_observe(o->l), LEADER_ESTATE);
    ASSERT_OK(leader_stop(o->l));
    ASSERT_OK(leader_elect(o->l)); /* a stopped observer may campaign */
    world_free(&w);
    rfx_free(s);
}

TEST(observer_sees_a_crash_at_the_key_expiry)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    char *r;
    long long pttl;
    int64_t t0;
    pid_t pid;
    int status;

    world_init(&w);
    world_add(&w, rfx_url(s), "crash", 1000, 10000);
    pid = spawn_leader(rfx_url(s), "crash", 1000, "doomed");
    ASSERT_OK(leader_observe(w.c[0].l));
    expect_changed(&w, 0, 1, 3000, "doomed", "elected");
    r = rfx_command(s, "PTTL %s", leader_key(w.c[0].l));
    ASSERT_NOT_NULL(r);
    pttl = atoll(r);
    free(r);
    t0 = now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    wait_changed(&w, 0, 2, 5000, &e);
    ASSERT_STR_EQ(e.leader_id, "");
    ASSERT_STR_EQ(e.message, "expired");
    fprintf(stderr, "crash seen %lld ms after the key's expiry\n",
            (long long) (e.at_ms - (t0 + pttl)));
    /* At the expiry, not a wait (10 s) later. */
    ASSERT_LT(e.at_ms - (t0 + pttl), 500);
    world_free(&w);
    rfx_free(s);
}

TEST(bare_delete_of_a_node_leader_key_is_seen_within_wait)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    char *r;
    int64_t t0;

    world_init(&w);
    world_add(&w, rfx_url(s), "node", 5000, 300);
    r = rfx_command(s, "SET %s node-id PX 60000", leader_key(w.c[0].l));
    free(r);
    ASSERT_OK(leader_observe(w.c[0].l));
    expect_changed(&w, 0, 1, 3000, "node-id", "elected");
    t0 = now_ms();
    r = rfx_command(s, "DEL %s", leader_key(w.c[0].l)); /* no PUBLISH */
    free(r);
    wait_changed(&w, 0, 2, 3000, &e);
    ASSERT_STR_EQ(e.leader_id, "");
    ASSERT_STR_EQ(e.message, "released");
    ASSERT_LE(e.at_ms - t0, 300 + 200);
    world_free(&w);
    rfx_free(s);
}

TEST(observer_reconnects_and_reports_what_it_missed)
{
    rfx_options persist = {.persist = 1};
    rfx_server *s = start_redis(&persist);
    struct world w;
    struct cand *o;
    char *r;

    world_init(&w);
    o = world_add(&w, rfx_url(s), "gap", 3000, 200);
    r = rfx_command(s, "SET %s first PX 60000", leader_key(o->l));
    free(r);
    ASSERT_OK(leader_observe(o->l));
    expect_changed(&w, 0, 1, 3000, "first", "elected");
    /* A restart that keeps the data: a gap, but no change to report. */
    ASSERT_OK(rfx_restart(s, NULL));
    sleep_ms(800);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_CHANGED), 1);
    ASSERT_GE(world_count(&w, 0, LEADER_EVENT_ERROR), 1);
    /* While the server is down the holder changes: after the gap the
     * observer reports the state it finds. */
    ASSERT_OK(rfx_stop(s));
    ASSERT_OK(rfx_restart(s, NULL));
    r = rfx_command(s, "SET %s second PX 60000", leader_key(o->l));
    free(r);
    expect_changed(&w, 0, 2, 3000, "second", "elected");
    world_free(&w);
    rfx_free(s);
}

TEST(observers_agree_with_the_candidates)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    char elected[16][64];
    uint64_t terms[16];
    int nelected = 0;

    world_init(&w);
    for (int i = 0; i < 6; i++)
        world_add(&w, rfx_url(s), "many", 1500, 200);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(leader_observe(w.c[i].l));
    for (int i = 3; i < 6; i++)
        ASSERT_OK(leader_elect(w.c[i].l));
    for (int round = 0; round < 6; round++) {
        int who = world_wait_leader(&w, 5000);
        ASSERT_GE(who, 3);
        sleep_ms(100);
        ASSERT_OK(leader_stop(w.c[who].l));
        ASSERT_OK(leader_elect(w.c[who].l));
    }
    ASSERT_GE(world_wait_leader(&w, 5000), 3);
    sleep_ms(300);
    world_check_log(&w);
    /* The candidates' elections, in order... */
    pthread_mutex_lock(&w.lock);
    for (int i = 0; i < w.n && nelected < 16; i++)
        if (w.log[i].type == LEADER_EVENT_ELECTED) {
            snprintf(elected[nelected], 64, "%s",
                     leader_id(w.c[w.log[i].cand].l));
            terms[nelected++] = w.log[i].term;
        }
    /* ...each observer saw, in the same order. (It may see more: a
     * candidate stopped while its acquire was in flight releases what it
     * won without ever leading, but the election was announced.) */
    for (int obs = 0; obs < 3; obs++) {
        int k = 0;
        for (int i = 0; i < w.n && k < nelected; i++) {
            const struct logged *e = &w.log[i];
            if (e->cand == obs && e->type == LEADER_EVENT_CHANGED &&
                e->term == terms[k] && strcmp(e->leader_id, elected[k]) == 0)
                k++;
        }
        if (k != nelected) {
            pthread_mutex_unlock(&w.lock);
            world_dump(&w);
            FAIL("observer %d missed election #%d (%s, term %llu)", obs, k + 1,
                 elected[k], (unsigned long long) terms[k]);
        }
    }
    pthread_mutex_unlock(&w.lock);
    world_free(&w);
    rfx_free(s);
}
