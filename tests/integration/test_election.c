/* SPDX-License-Identifier: BSD-3-Clause */
/* test_election.c - elections against a real redis-server: exclusivity,
 * terms, renewals, handover, failover, lease deadlines, restarts, and the
 * node-leader wire format. */
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

/* The reply to a command, as rfx_command() renders it, compared. */
static void expect_reply(rfx_server *s, const char *want, const char *fmt,
                         const char *arg)
{
    char *got = rfx_command(s, fmt, arg);

    if (got == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "%s %s: got \"%s\", want \"%s\"\n", fmt, arg,
                got ? got : "(unreachable)", want);
        free(got);
        FAIL("unexpected reply");
    }
    free(got);
}

static long long reply_number(rfx_server *s, const char *fmt, const char *arg)
{
    char *got = rfx_command(s, fmt, arg);
    long long v;

    ASSERT_NOT_NULL(got);
    v = atoll(got);
    free(got);
    return v;
}

TEST(one_leader_among_five_and_terms_grow)
{
    rfx_server *s = start_redis(NULL);
    struct world w;

    world_init(&w);
    for (int i = 0; i < 5; i++)
        world_add(&w, rfx_url(s), "five", 2000, 200);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(leader_elect(w.c[i].l));
    for (int round = 0; round < 8; round++) {
        int who = world_wait_leader(&w, 5000);
        ASSERT_GE(who, 0);
        sleep_ms(50); /* give a second leader every chance to appear */
        ASSERT_EQ(world_wait_leader(&w, 0), who);
        ASSERT_EQ(leader_is_leader(w.c[who].l), 1);
        ASSERT_OK(leader_stop(w.c[who].l));
        ASSERT_EQ(leader_has_lease(w.c[who].l), 0);
        ASSERT_OK(leader_elect(w.c[who].l));
    }
    ASSERT_EQ(world_wait(&w, -1, LEADER_EVENT_ELECTED, 9, 5000), 9);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(wire_format_is_node_leaders)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    struct cand *c;
    long long pttl;
    char term[32];

    world_init(&w);
    c = world_add(&w, rfx_url(s), "some_key", 5000, 1000);
    /* sha1("some_key") */
    ASSERT_STR_EQ(leader_key(c->l),
                  "leader:53def077a4264bd3183d4eb21b1f56f883e1b572");
    ASSERT_EQ(strlen(leader_id(c->l)), 36);
    ASSERT_EQ(leader_id(c->l)[14], '4'); /* UUIDv4 */
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    expect_reply(s, leader_id(c->l), "GET %s", leader_key(c->l));
    expect_reply(s, "string", "TYPE %s", leader_key(c->l));
    pttl = reply_number(s, "PTTL %s", leader_key(c->l));
    ASSERT_GT(pttl, 0);
    ASSERT_LE(pttl, 5000);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &e);
    snprintf(term, sizeof term, "%llu", (unsigned long long) e.term);
    expect_reply(s, term, "GET %s",
                 "{leader:53def077a4264bd3183d4eb21b1f56f883e1b572}:term");
    ASSERT_EQ(leader_term(c->l), e.term);
    world_free(&w);
    rfx_free(s);
}

TEST(waits_for_a_node_leader_holder_until_its_key_expires)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char *r;
    int64_t t0;
    struct logged e;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "shared", 3000, 10000);
    /* A node-leader candidate holds the key: SET NX PX, no term. */
    r = rfx_command(s, "SET %s node-candidate NX PX 800", leader_key(c->l));
    ASSERT_STR_EQ(r, "OK");
    free(r);
    t0 = now_ms();
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &e);
    /* Not before the key expired, and long before wait (10 s): the
     * follower retries at the holder's pttl. */
    ASSERT_GE(e.at_ms - t0, 700);
    ASSERT_LT(e.at_ms - t0, 3000);
    world_free(&w);
    rfx_free(s);
}

TEST(renewals_keep_a_short_lease_alive)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "renew", 300, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    for (int i = 0; i < 20; i++) {
        sleep_ms(100);
        ASSERT_EQ(leader_has_lease(c->l), 1);
    }
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 0);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 1);
    ASSERT_EQ(leader_is_leader(c->l), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(script_flush_does_not_interrupt_leadership)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char *r;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "flush", 600, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    for (int i = 0; i < 5; i++) {
        r = rfx_command(s, "SCRIPT FLUSH");
        ASSERT_STR_EQ(r, "OK");
        free(r);
        sleep_ms(300);
    }
    ASSERT_EQ(leader_has_lease(c->l), 1);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 0);
    world_free(&w);
    rfx_free(s);
}

/* Candidate 0 elected, then candidate 1 campaigning for a while: a
 * follower. */
static void leader_then_follower(struct world *w, const char *url,
                                 const char *key, long ttl, long wait)
{
    world_add(w, url, key, ttl, wait);
    world_add(w, url, key, ttl, wait);
    ASSERT_OK(leader_elect(w->c[0].l));
    ASSERT_EQ(world_wait(w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_elect(w->c[1].l));
    sleep_ms(300);
}

TEST(clean_stop_hands_over_by_notification)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    int64_t t0;

    world_init(&w);
    leader_then_follower(&w, rfx_url(s), "handover", 5000, 10000);
    /* candidate 1 is a follower waiting up to 5 s */
    t0 = now_ms();
    ASSERT_OK(leader_stop(w.c[0].l));
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 1);
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_last(&w, 1, LEADER_EVENT_ELECTED, &e);
    fprintf(stderr, "handover took %lld ms\n", (long long) (e.at_ms - t0));
    /* Far below the holder's remaining ttl and wait: the released
     * notification did it. */
    ASSERT_LT(e.at_ms - t0, 1000);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

/* The calls Redis counted for one command, from INFO commandstats. */
static long long command_calls(rfx_server *s, const char *name)
{
    char *info = rfx_command(s, "INFO commandstats"), field[64], *p;
    long long n = 0;

    ASSERT_NOT_NULL(info);
    snprintf(field, sizeof field, "cmdstat_%s:calls=", name);
    if ((p = strstr(info, field)) != NULL)
        n = atoll(p + strlen(field));
    free(info);
    return n;
}

TEST(idle_follower_asks_only_pttl_between_tries)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    char *r;
    long long pttl, scripts;

    world_init(&w);
    leader_then_follower(&w, rfx_url(s), "probe", 30000, 100);
    r = rfx_command(s, "CONFIG RESETSTAT");
    free(r);
    sleep_ms(1000);
    pttl = command_calls(s, "pttl");
    scripts = command_calls(s, "evalsha") + command_calls(s, "eval");
    /* One PTTL per wait (100 ms); the leader renews every 10 s (not in
     * this second, or once), so the follower ran no script at all. */
    fprintf(stderr, "in 1 s: %lld PTTL, %lld scripts\n", pttl, scripts);
    ASSERT_GE(pttl, 7);
    ASSERT_LE(pttl, 11);
    ASSERT_LE(scripts, 1);
    ASSERT_EQ(world_count(&w, 1, LEADER_EVENT_ELECTED), 0);
    world_free(&w);
    rfx_free(s);
}

TEST(follower_takes_over_after_a_bare_del_within_wait)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    int64_t t0;
    char *r;

    world_init(&w);
    leader_then_follower(&w, rfx_url(s), "bare-del", 30000, 100);
    t0 = now_ms();
    r = rfx_command(s, "DEL %s", leader_key(w.c[0].l)); /* no PUBLISH */
    ASSERT_STR_EQ(r, "1");
    free(r);
    /* The next PTTL (within wait) finds no key and acquires; the old
     * leader's renewal is seconds away. */
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_last(&w, 1, LEADER_EVENT_ELECTED, &e);
    fprintf(stderr, "taken over %lld ms after the DEL\n",
            (long long) (e.at_ms - t0));
    ASSERT_LT(e.at_ms - t0, 1000);
    world_free(&w);
    rfx_free(s);
}

TEST(crashed_leader_is_replaced_at_its_key_expiry)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged e;
    int status;
    pid_t pid;
    int64_t killed;

    pid = spawn_leader(rfx_url(s), "crash", 1000, NULL);
    world_init(&w);
    world_add(&w, rfx_url(s), "crash", 1000, 10000);
    ASSERT_OK(leader_elect(w.c[0].l));
    sleep_ms(300);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_ELECTED), 0);
    kill(pid, SIGKILL);
    killed = now_ms();
    waitpid(pid, &status, 0);
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &e);
    fprintf(stderr, "failover %lld ms after the kill (ttl 1000)\n",
            (long long) (e.at_ms - killed));
    /* At the key's expiry (at most ttl after the kill), not after wait. */
    ASSERT_LT(e.at_ms - killed, 1000 + 500);
    ASSERT_GE(e.term, 2);
    world_free(&w);
    rfx_free(s);
}

TEST(frozen_redis_makes_the_leader_step_down_by_its_deadline)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    struct logged e;
    int64_t paused;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "freeze", 1000, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(rfx_pause(s));
    paused = now_ms();
    /* Every lease was won or renewed by a command sent before the pause,
     * so by paused + ttl it is over by the candidate's own clock. */
    sleep_ms(1000);
    ASSERT_EQ(leader_has_lease(c->l), 0);
    ASSERT_EQ(leader_term(c->l), 0);
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_REVOKED, 1, 2000), 1);
    world_last(&w, 0, LEADER_EVENT_REVOKED, &e);
    ASSERT(e.error == LEADER_ELEASE || e.error == LEADER_ECONN);
    ASSERT_LE(e.at_ms - paused, 1000 + 100);
    ASSERT_OK(rfx_resume(s));
    /* Once Redis answers again, the candidate is elected again. */
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2, 5000), 2);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(restart_that_loses_data_still_gives_a_higher_term)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    struct logged first, second;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "restart", 1500, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_stop(c->l));
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 2, 5000), 2);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &first);
    ASSERT_OK(rfx_restart(s, NULL)); /* no persistence: key and term gone */
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 3, 8000), 3);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &second);
    ASSERT_GT(second.term, first.term);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 2);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(restart_that_keeps_data_keeps_the_leadership)
{
    rfx_options o = {.persist = 1};
    rfx_server *s = start_redis(&o);
    struct world w;
    struct cand *c;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "persist", 4000, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(rfx_restart(s, NULL));
    sleep_ms(3000); /* more than one renewal interval after the restart */
    ASSERT_EQ(leader_has_lease(c->l), 1);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 0);
    ASSERT_GE(world_count(&w, 0, LEADER_EVENT_ERROR), 1);
    ASSERT_EQ(leader_is_leader(c->l), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(free_while_leader_revokes_and_releases)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char key[64];
    leader *l;

    world_init(&w);
    c = world_add(&w, rfx_url(s), "free", 5000, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    snprintf(key, sizeof key, "%s", leader_key(c->l));
    l = c->l;
    w.ncand = 0; /* freed here, not by world_free */
    leader_free(l);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 1);
    expect_reply(s, "(nil)", "GET %s", key);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(unix_socket_url_works)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;

    world_init(&w);
    c = world_add(&w, rfx_unix_url(s), "unix", 2000, 100);
    ASSERT_EQ(leader_is_leader(c->l), 0);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_EQ(leader_is_leader(c->l), 1);
    world_free(&w);
    rfx_free(s);
}

TEST(database_number_is_honoured)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *c;
    char url[128];
    char *r;

    snprintf(url, sizeof url, "%s/3", rfx_url(s));
    world_init(&w);
    c = world_add(&w, url, "db", 2000, 100);
    ASSERT_OK(leader_elect(c->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    expect_reply(s, "(nil)", "GET %s", leader_key(c->l)); /* not in db 0 */
    r = rfx_command(s, "EVAL %s 0",
                    "redis.call('SELECT', 3) return "
                    "redis.call('DBSIZE')");
    ASSERT_STR_EQ(r, "2"); /* holder and term */
    free(r);
    world_free(&w);
    rfx_free(s);
}

TEST(current_reports_holder_term_and_lease_left)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct cand *a, *b;
    struct logged e;
    leader_info info;
    int64_t deadline;
    char *r;

    world_init(&w);
    a = world_add(&w, rfx_url(s), "current", 3000, 100);
    b = world_add(&w, rfx_url(s), "current", 3000, 100);
    ASSERT_EQ(leader_current(b->l, &info), 0);
    ASSERT_STR_EQ(info.id, "");
    ASSERT_EQ(info.term, 0);
    ASSERT_EQ(leader_lease_deadline(a->l), 0);
    ASSERT_OK(leader_elect(a->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_last(&w, 0, LEADER_EVENT_ELECTED, &e);
    ASSERT_EQ(leader_current(b->l, &info), 1);
    ASSERT_STR_EQ(info.id, leader_id(a->l));
    ASSERT_EQ(info.term, e.term);
    ASSERT_GT(info.lease_left_ms, 0);
    ASSERT_LE(info.lease_left_ms, 3000);
    /* The local deadline comes before the key's expiry. */
    deadline = leader_lease_deadline(a->l);
    ASSERT_GT(deadline, leader_clock_ms());
    ASSERT_LE(deadline, leader_clock_ms() + 3000);
    ASSERT_OK(leader_stop(a->l));
    ASSERT_EQ(leader_lease_deadline(a->l), 0);
    ASSERT_EQ(leader_current(b->l, &info), 0);
    ASSERT_EQ(info.term, e.term); /* the term stays after a release */
    r = rfx_command(s, "RPUSH %s x", leader_key(b->l));
    free(r);
    ASSERT_EQ(leader_current(b->l, &info), LEADER_EWRONGTYPE);
    ASSERT_EQ(leader_current(NULL, &info), LEADER_EINVAL);
    ASSERT_EQ(leader_current(b->l, NULL), LEADER_EINVAL);
    world_free(&w);
    rfx_free(s);
}
