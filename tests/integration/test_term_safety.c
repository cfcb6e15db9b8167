/* SPDX-License-Identifier: BSD-3-Clause */
/* test_term_safety.c - terms across a loss of Redis' data, and elections
 * under hostile notifications and hand-set counters, against a real
 * redis-server:
 *
 * - a restart without persistence and a FLUSHALL lose the counter; the
 *   next term is still above every term granted before, for a candidate
 *   that joined after the last election and for one that joined after the
 *   loss (the empty counter starts from the server's clock);
 * - a forged PUBLISH on the election channel neither ends a leadership nor
 *   keeps anyone from being elected, raises no term, and costs a handful
 *   of commands, not a busy loop;
 * - a counter at LEADER_TERM_MAX, or set by hand to something that is not
 *   a term, stops elections with one LEADER_ETERM error per candidate and
 *   a bounded rate of retries. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define TTL  1000
#define WAIT 100

/* The wall clock in ms since the epoch, as the server's TIME reads it. */
static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void term_key(const char *holder, char *buf, size_t len)
{
    snprintf(buf, len, "{%s}:term", holder);
}

/* Runs a command that must answer want exactly. */
static void expect_reply(rfx_server *s, const char *want, const char *fmt,
                         const char *arg1, const char *arg2)
{
    char *r = rfx_command(s, fmt, arg1, arg2);

    if (r == NULL || strcmp(r, want) != 0) {
        fprintf(stderr, "\"%s\" %s %s: \"%s\", want \"%s\"\n", fmt, arg1,
                arg2 ? arg2 : "", r ? r : "(unreachable)", want);
        free(r);
        FAIL("unexpected reply");
    }
    free(r);
}

static unsigned long long get_number(rfx_server *s, const char *key)
{
    char *r = rfx_command(s, "GET %s", key);
    unsigned long long v;

    ASSERT_NOT_NULL(r);
    v = strtoull(r, NULL, 10);
    free(r);
    return v;
}

/* Commands the candidates sent since the last CONFIG RESETSTAT: scripts
 * (EVALSHA, EVAL) and a follower's PTTL. INFO commandstats also counts the
 * commands a script runs inside, which are not round trips. */
static long long commands_run(rfx_server *s)
{
    static const char *const names[] = {
        "cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_pttl:"};
    char *r = rfx_command(s, "INFO commandstats");
    long long total = 0;

    ASSERT_NOT_NULL(r);
    if (getenv("SHOW_STATS"))
        fprintf(stderr, "%s\n", r);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *p = strstr(r, names[i]);
        if (p != NULL)
            total += atoll(p + strlen(names[i]) + strlen("calls="));
    }
    free(r);
    return total;
}

static void reset_stats(rfx_server *s)
{
    char *r = rfx_command(s, "CONFIG RESETSTAT");

    ASSERT_NOT_NULL(r);
    free(r);
}

static void publish(rfx_server *s, const char *holder_key, const char *msg)
{
    char channel[128], *r;

    snprintf(channel, sizeof channel, "%s:events", holder_key);
    r = rfx_command(s, "PUBLISH %s %s", channel, msg);
    ASSERT_NOT_NULL(r);
    free(r);
}

/* The term of cand's last ELECTED, 0 if none. */
static uint64_t last_elected(struct world *w, int cand)
{
    struct logged e;

    return world_last(w, cand, LEADER_EVENT_ELECTED, &e) >= 0 ? e.term : 0;
}

/* Waits until one of the candidates from..to-1 is elected; returns it. */
static int wait_any_elected(struct world *w, int from, int to, long ms)
{
    int64_t end = now_ms() + ms;

    do {
        for (int i = from; i < to; i++)
            if (world_count(w, i, LEADER_EVENT_ELECTED) > 0)
                return i;
        sleep_ms(5);
    } while (now_ms() < end);
    world_dump(w);
    FAIL("nobody elected within %ld ms", ms);
}

/* A term seeded from the server's clock: within a minute of the wall
 * clock in ms (the server runs on this machine). */
static void expect_clock_term(uint64_t term)
{
    int64_t wall = wall_ms();

    if ((int64_t) term < wall - 60000 || (int64_t) term > wall + 60000)
        FAIL("term %llu is not near the clock (%lld ms)",
             (unsigned long long) term, (long long) wall);
}

/* ---- item: terms across a loss of the counter ---- */

TEST(terms_grow_across_a_restart_without_persistence)
{
    rfx_server *s = start_redis(NULL); /* --save "" --appendonly no */
    struct world w;
    struct logged seen;
    char tkey[128];
    pid_t a;
    int first, second;
    uint64_t t1, t2;

    world_init(&w);
    world_add(&w, rfx_url(s), "loss", TTL, WAIT); /* B */
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    expect_reply(s, "OK", "SET %s %s", tkey, "41");
    /* A wins term 42 in a process of its own. */
    a = spawn_leader(rfx_url(s), "loss", TTL, "cand-a");
    ASSERT_EQ(get_number(s, tkey), 42);
    /* B joins after that election and follows A. */
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_CHANGED, 1, 3000), 1);
    world_last(&w, 0, LEADER_EVENT_CHANGED, &seen);
    ASSERT_STR_EQ(seen.leader_id, "cand-a");
    ASSERT_EQ(seen.term, 42);
    /* A dies; Redis restarts without its data. */
    ASSERT_OK(kill(a, SIGKILL));
    ASSERT_EQ(waitpid(a, NULL, 0), a);
    ASSERT_OK(rfx_restart(s, NULL));
    /* C joins after the loss: it never saw any term. */
    world_add(&w, rfx_url(s), "loss", TTL, WAIT);
    ASSERT_OK(leader_elect(w.c[1].l));
    first = wait_any_elected(&w, 0, 2, 10000);
    t1 = last_elected(&w, first);
    fprintf(stderr, "after the restart: term %llu (cand %d), was 42\n",
            (unsigned long long) t1, first);
    ASSERT_GT(t1, 42);
    expect_clock_term(t1);
    ASSERT_EQ(get_number(s, tkey), t1);
    /* And the next one grows from there. */
    ASSERT_OK(leader_stop(w.c[first].l));
    second = 1 - first;
    ASSERT_EQ(world_wait(&w, second, LEADER_EVENT_ELECTED, 1, 5000), 1);
    t2 = last_elected(&w, second);
    ASSERT_EQ(t2, t1 + 1);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

TEST(terms_grow_across_a_flushall)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    struct logged ev, rev;
    char tkey[128];
    char *r;

    world_init(&w);
    /* A: the leader, renewing every second; B: joined after its election;
     * C: joins after the FLUSHALL. */
    world_add(&w, rfx_url(s), "flush", 3000, WAIT);
    world_add(&w, rfx_url(s), "flush", 3000, WAIT);
    world_add(&w, rfx_url(s), "flush", 3000, WAIT);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    expect_reply(s, "OK", "SET %s %s", tkey, "41");
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_EQ(last_elected(&w, 0), 42);
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_CHANGED, 1, 3000), 1);
    r = rfx_command(s, "FLUSHALL");
    ASSERT_STR_EQ(r, "OK");
    free(r);
    ASSERT_OK(leader_elect(w.c[2].l));
    /* Redis lost the key, so mutual exclusion is gone until A hears of
     * it (docs/protocol.md, Safety); the term order is not. */
    ASSERT_EQ(world_wait(&w, -1, LEADER_EVENT_ELECTED, 2, 5000), 2);
    world_last(&w, -1, LEADER_EVENT_ELECTED, &ev);
    fprintf(stderr, "after FLUSHALL: cand %d elected with term %llu, was 42\n",
            ev.cand, (unsigned long long) ev.term);
    ASSERT_GT(ev.term, 42);
    expect_clock_term(ev.term);
    ASSERT_EQ(get_number(s, tkey), ev.term);
    /* A learns of it from the notification and a refused renewal, well
     * before its next renewal (up to a second away) would tell it. */
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_REVOKED, 1, 3000), 1);
    world_last(&w, 0, LEADER_EVENT_REVOKED, &rev);
    ASSERT_EQ(rev.error, LEADER_ELOST);
    if (ev.cand != 0) {
        fprintf(stderr, "old leader revoked %lld ms after the new election\n",
                (long long) (rev.at_ms - ev.at_ms));
        ASSERT_LT(rev.at_ms - ev.at_ms, 500);
    }
    world_free(&w);
    rfx_free(s);
}

TEST(an_existing_counter_counts_up_by_one)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    char tkey[128];

    world_init(&w);
    world_add(&w, rfx_url(s), "incr", TTL, WAIT);
    world_add(&w, rfx_url(s), "incr", TTL, WAIT);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    expect_clock_term(last_elected(&w, 0)); /* a new election */
    ASSERT_OK(leader_stop(w.c[0].l));
    /* A counter from before seeding: a new candidate counts on from it. */
    expect_reply(s, "OK", "SET %s %s", tkey, "41");
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_EQ(last_elected(&w, 1), 42);
    ASSERT_OK(leader_new_term(w.c[1].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 2, 5000), 2);
    ASSERT_EQ(last_elected(&w, 1), 43);
    ASSERT_EQ(get_number(s, tkey), 43);
    world_free(&w);
    rfx_free(s);
}

/* ---- item: forged notifications ---- */

TEST(forged_notifications_neither_stall_nor_loop)
{
    static const char *forged[] = {
        "elected 9007199254740993 mallory", /* 2^53 + 1 */
        "elected 8999999999999999 mallory", /* in range, huge */
        "elected 1 mallory",
        "released 8999999999999999 mallory",
        "elected x mallory",
        "elected 18446744073709551616 mallory",
        "",
    };
    rfx_server *s = start_redis(NULL);
    struct world w;
    char tkey[128], msg[300];
    uint64_t term;
    long long cmds;
    int errors = 0;

    world_init(&w);
    world_add(&w, rfx_url(s), "forged", TTL, WAIT);
    world_add(&w, rfx_url(s), "forged", TTL, WAIT);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_CHANGED, 1, 3000), 1);
    term = last_elected(&w, 0);
    reset_stats(s);
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        publish(s, leader_key(w.c[0].l), forged[i]);
    /* Also in the leader's and the follower's names. */
    snprintf(msg, sizeof msg, "released %llu %s", (unsigned long long) term,
             leader_id(w.c[0].l));
    publish(s, leader_key(w.c[0].l), msg);
    snprintf(msg, sizeof msg, "elected 8999999999999999 %s",
             leader_id(w.c[1].l));
    publish(s, leader_key(w.c[0].l), msg);
    sleep_ms(1000);
    cmds = commands_run(s);
    fprintf(stderr, "1 s after %zu forged messages: %lld commands\n",
            sizeof forged / sizeof forged[0] + 2, cmds);
    /* A leader renews every ttl/3 plus once per message that doubts it;
     * a follower probes every wait plus once per message. */
    ASSERT_LT(cmds, 60);
    ASSERT_EQ(world_count(&w, 0, LEADER_EVENT_REVOKED), 0);
    ASSERT_EQ(leader_has_lease(w.c[0].l), 1);
    ASSERT_EQ(leader_term(w.c[0].l), term);
    for (int i = 0; i < 2; i++)
        errors += world_count(&w, i, LEADER_EVENT_ERROR);
    ASSERT_EQ(errors, 0);
    /* No term was raised by a forged one: the next is the counter's next,
     * and the follower is elected at once. */
    ASSERT_OK(leader_stop(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ELECTED, 1, 2000), 1);
    ASSERT_EQ(last_elected(&w, 1), term + 1);
    ASSERT_EQ(get_number(s, tkey), term + 1);
    for (int i = 0; i < 2; i++)
        errors += world_count(&w, i, LEADER_EVENT_ERROR);
    ASSERT_EQ(errors, 0);
    world_check_log(&w);
    world_free(&w);
    rfx_free(s);
}

/* ---- item: the maximum term and counters set by hand ---- */

/* Fails unless cand's ERROR events are exactly one LEADER_ETERM. */
static void expect_one_eterm(struct world *w, int cand)
{
    struct logged e;

    if (world_count(w, cand, LEADER_EVENT_ERROR) != 1) {
        world_dump(w);
        FAIL("cand %d: %d ERROR events, want 1", cand,
             world_count(w, cand, LEADER_EVENT_ERROR));
    }
    world_last(w, cand, LEADER_EVENT_ERROR, &e);
    ASSERT_EQ(e.error, LEADER_ETERM);
    ASSERT_NOT_NULL(strstr(e.message, "9000000000000000"));
}

TEST(a_counter_at_the_maximum_stops_elections_with_a_clear_error)
{
    rfx_server *s = start_redis(NULL);
    struct world w;
    leader_info info;
    char tkey[128];
    long long cmds;

    world_init(&w);
    world_add(&w, rfx_url(s), "max", TTL, WAIT);
    world_add(&w, rfx_url(s), "max", TTL, WAIT);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    expect_reply(s, "OK", "SET %s %s", tkey, "8999999999999999");
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    ASSERT(last_elected(&w, 0) == LEADER_TERM_MAX); /* the last term */
    ASSERT_OK(leader_elect(w.c[1].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_CHANGED, 1, 3000), 1);
    ASSERT_OK(leader_stop(w.c[0].l)); /* the release still works */
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 1, LEADER_EVENT_ERROR, 1, 3000), 1);
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ERROR, 1, 3000), 1);
    reset_stats(s);
    sleep_ms(2000);
    cmds = commands_run(s);
    fprintf(stderr, "2 s at the maximum term: %lld commands\n", cmds);
    /* Each retries after a backoff capped at ttl/6 (166 ms). */
    ASSERT_LT(cmds, 80);
    expect_one_eterm(&w, 0);
    expect_one_eterm(&w, 1);
    ASSERT_EQ(world_count(&w, -1, LEADER_EVENT_ELECTED), 1);
    ASSERT_EQ(leader_current(w.c[1].l, &info), 0); /* nobody leads */
    ASSERT(info.term == LEADER_TERM_MAX);
    /* An operator's reset (the counter deleted) lets a candidate that
     * never saw the maximum in: its term starts from the clock again. The
     * old ones keep the maximum as their floor, and their error. */
    world_add(&w, rfx_url(s), "max", TTL, WAIT);
    expect_reply(s, "1", "DEL %s", tkey, NULL);
    ASSERT_OK(leader_elect(w.c[2].l));
    ASSERT_EQ(world_wait(&w, 2, LEADER_EVENT_ELECTED, 1, 5000), 1);
    expect_clock_term(last_elected(&w, 2));
    world_free(&w);
    rfx_free(s);
}

TEST(a_counter_set_by_hand_to_no_term_is_a_clear_error)
{
    static const char *values[] = {"9007199254740993", "-5", "abc", "1e3"};
    rfx_server *s = start_redis(NULL);
    struct world w;
    char tkey[128];
    long long cmds;

    world_init(&w);
    world_add(&w, rfx_url(s), "garbage", TTL, WAIT);
    term_key(leader_key(w.c[0].l), tkey, sizeof tkey);
    expect_reply(s, "OK", "SET %s %s", tkey, values[0]);
    ASSERT_OK(leader_elect(w.c[0].l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ERROR, 1, 3000), 1);
    reset_stats(s);
    for (size_t i = 1; i < sizeof values / sizeof values[0]; i++) {
        expect_reply(s, "OK", "SET %s %s", tkey, values[i]);
        sleep_ms(500);
    }
    cmds = commands_run(s);
    fprintf(stderr, "1.5 s with a counter set by hand: %lld commands\n", cmds);
    ASSERT_LT(cmds, 40);
    expect_one_eterm(&w, 0); /* one streak of one error */
    expect_reply(s, "(nil)", "GET %s", leader_key(w.c[0].l), NULL);
    /* Fixed by hand: elected at once, above the value set. */
    expect_reply(s, "OK", "SET %s %s", tkey, "1000");
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 3000), 1);
    ASSERT_EQ(last_elected(&w, 0), 1001);
    world_free(&w);
    rfx_free(s);
}
