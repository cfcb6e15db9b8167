/* SPDX-License-Identifier: BSD-3-Clause */
/* test_batch.c - renewals in batches against a real redis-server: many
 * elections led by one leader_client renew through the batch renewal
 * script (docs/protocol.md, Renewal in batches), and what goes wrong with one
 * election's keys inside a batch is that election's alone:
 *
 * - they keep leading past several ttls, with far fewer script calls than
 *   renewals (INFO commandstats: the EVALSHA calls against the PEXPIREs
 *   that run inside them, one per renewal);
 * - a holder key taken by someone else (SET key other) revokes its
 *   election (LEADER_ELOST), and no other;
 * - a counter of the wrong type gives its election LEADER_EWRONGTYPE, and
 *   no other an error;
 * - SCRIPT FLUSH: the batch that meets NOSCRIPT goes again as EVAL, and
 *   nobody's lease is lost;
 * - elections started at once on a new connection meet no NOSCRIPT: the
 *   first call of each script goes as EVAL, the calls after as EVALSHA.
 *
 * Each test also checks that its window ran batches (several PEXPIREs a
 * script call), so that it fails where renewals go one by one. */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define TTL  1000
#define WAIT 100
#define NMAX 200

/* What one election went through. */
struct rec {
    int elected, revoked, errors;
    int revoked_error, last_error;
};

/* One client in event-loop mode, its elections and their records. */
struct bench {
    rfx_server *s;
    leader_client *c;
    leader *h[NMAX];
    struct rec r[NMAX];
    int n;
};

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct rec *r = userdata;

    (void) l;
    if (ev->type == LEADER_EVENT_ELECTED) {
        r->elected++;
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        r->revoked++;
        r->revoked_error = ev->error;
    } else if (ev->type == LEADER_EVENT_ERROR) {
        r->errors++;
        r->last_error = ev->error;
    }
}

/* Runs the client's loop for ms. */
static void run(struct bench *b, long ms)
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end) {
        struct pollfd pfd = {leader_client_fd(b->c), POLLIN, 0};
        int t = leader_client_timeout_ms(b->c);
        long left = (long) (end - now_ms());
        poll(&pfd, 1, t < 0 || t > left ? (int) left : t);
        leader_client_process(b->c);
    }
}

static int leading(struct bench *b)
{
    int k = 0;

    for (int i = 0; i < b->n; i++)
        k += leader_has_lease(b->h[i]);
    return k;
}

/* n elections on one client, each led here. */
static void start(struct bench *b, int n)
{
    leader_client_options co;
    char key[32];

    memset(b, 0, sizeof *b);
    b->s = start_redis(NULL);
    leader_client_options_init(&co);
    co.url = rfx_url(b->s);
    co.event_loop = 1;
    b->c = leader_client_new(&co, NULL, 0);
    ASSERT_NOT_NULL(b->c);
    b->n = n;
    for (int i = 0; i < n; i++) {
        leader_options o;
        leader_options_init(&o);
        snprintf(key, sizeof key, "batch-%d", i);
        o.key = key;
        o.ttl_ms = TTL;
        o.wait_ms = WAIT;
        b->h[i] = leader_client_add(b->c, &o, NULL, 0);
        ASSERT_NOT_NULL(b->h[i]);
        leader_on(b->h[i], on_event, &b->r[i]);
        ASSERT_OK(leader_elect(b->h[i]));
    }
    for (int i = 0; i < 50 && leading(b) < n; i++)
        run(b, 100);
    ASSERT_EQ(leading(b), n);
}

static void stop(struct bench *b)
{
    for (int i = 0; i < b->n; i++)
        leader_free(b->h[i]);
    leader_client_free(b->c);
    rfx_free(b->s);
}

/* Calls of command name since the last CONFIG RESETSTAT (INFO
 * commandstats counts the commands a script runs inside too); field is
 * "calls" or "failed_calls". */
static long long calls(struct bench *b, const char *name, const char *field)
{
    char *info = rfx_command(b->s, "INFO commandstats"), want[64];
    const char *p;
    long long v = 0;

    ASSERT_NOT_NULL(info);
    snprintf(want, sizeof want, "cmdstat_%s:", name);
    p = strstr(info, want);
    if (p != NULL) {
        const char *f;
        char key[32];
        snprintf(key, sizeof key, "%s=", field);
        f = strstr(p, key);
        if (f != NULL && (f == p + strlen(want) || f[-1] == ','))
            v = atoll(f + strlen(key));
    }
    free(info);
    return v;
}

/* Whether the window since the last CONFIG RESETSTAT ran batches: at
 * least one script call in several renewed more than one election (a
 * plain RENEW runs one PEXPIRE). */
static int batched(struct bench *b)
{
    long long scripts =
        calls(b, "evalsha", "calls") + calls(b, "eval", "calls");
    long long pexpire = calls(b, "pexpire", "calls");

    fprintf(stderr, "%lld script calls, %lld PEXPIRE\n", scripts, pexpire);
    return scripts > 0 && pexpire >= 2 * scripts;
}

static void reset_stats(struct bench *b)
{
    free(rfx_command(b->s, "CONFIG RESETSTAT"));
}

/* Every election but skip led through the window: no REVOKED, no ERROR. */
static void others_kept_leading(struct bench *b, int skip)
{
    for (int i = 0; i < b->n; i++) {
        if (i == skip)
            continue;
        if (b->r[i].revoked != 0 || b->r[i].errors != 0 ||
            !leader_has_lease(b->h[i]))
            FAIL("election %d: %d REVOKED, %d ERROR (last %d), leading %d", i,
                 b->r[i].revoked, b->r[i].errors, b->r[i].last_error,
                 leader_has_lease(b->h[i]));
    }
}

TEST(many_elections_renew_in_batches_past_several_ttls)
{
    struct bench b;
    long long evalsha, eval, pexpire;

    start(&b, NMAX);
    reset_stats(&b);
    run(&b, 4 * TTL);
    others_kept_leading(&b, -1);
    evalsha = calls(&b, "evalsha", "calls");
    eval = calls(&b, "eval", "calls");
    pexpire = calls(&b, "pexpire", "calls");
    fprintf(stderr,
            "%d elections, %d ms: %lld EVALSHA, %lld EVAL, %lld PEXPIRE\n", b.n,
            4 * TTL, evalsha, eval, pexpire);
    /* Renewed every ttl/3: about 12 times each in 4 ttls. */
    ASSERT_GE(pexpire, 8LL * b.n);
    /* Script calls per second far fewer than elections: batches of many. */
    ASSERT_LE((evalsha + eval) * 1000 / (4 * TTL), b.n / 10);
    ASSERT_LE((evalsha + eval) * 10, pexpire);
    stop(&b);
}

TEST(a_key_taken_inside_a_batch_revokes_that_election_alone)
{
    struct bench b;
    const int victim = 7;
    char *r;

    start(&b, 40);
    run(&b, TTL); /* the renewals line up in batches */
    reset_stats(&b);
    r = rfx_command(b.s, "SET %s other", leader_key(b.h[victim]));
    ASSERT_NOT_NULL(r);
    free(r);
    run(&b, 2 * TTL);
    ASSERT(batched(&b));
    ASSERT_EQ(b.r[victim].revoked, 1);
    ASSERT_EQ(b.r[victim].revoked_error, LEADER_ELOST);
    ASSERT_EQ(leader_has_lease(b.h[victim]), 0);
    others_kept_leading(&b, victim);
    stop(&b);
}

TEST(a_key_of_the_wrong_type_inside_a_batch_is_that_elections_error_alone)
{
    struct bench b;
    const int victim = 11;
    char counter[96], *r;

    start(&b, 40);
    run(&b, TTL);
    reset_stats(&b);
    snprintf(counter, sizeof counter, "{%s}:term", leader_key(b.h[victim]));
    free(rfx_command(b.s, "DEL %s", counter));
    r = rfx_command(b.s, "HSET %s field value", counter);
    ASSERT_NOT_NULL(r);
    free(r);
    run(&b, TTL + TTL / 2);
    ASSERT(batched(&b));
    ASSERT_GE(b.r[victim].errors, 1);
    ASSERT_EQ(b.r[victim].last_error, LEADER_EWRONGTYPE);
    ASSERT_EQ(leader_has_lease(b.h[victim]), 0); /* its lease ran out */
    others_kept_leading(&b, victim);
    stop(&b);
}

TEST(noscript_inside_a_batch_sends_it_again_and_keeps_every_lease)
{
    struct bench b;
    char *r;

    start(&b, 40);
    run(&b, TTL);
    r = rfx_command(b.s, "SCRIPT FLUSH");
    ASSERT_NOT_NULL(r);
    free(r);
    reset_stats(&b);
    run(&b, 3 * TTL);
    ASSERT_GE(calls(&b, "evalsha", "failed_calls"), 1); /* NOSCRIPT */
    ASSERT_GE(calls(&b, "eval", "calls"), 1);
    ASSERT(batched(&b));
    others_kept_leading(&b, -1);
    stop(&b);
}

/* Without the first call as EVAL, each of the n acquires sent before the
 * first reply came back NOSCRIPT (n failed EVALSHAs) and went again. */
TEST(elections_started_at_once_on_a_new_connection_meet_no_noscript)
{
    struct bench b;
    long long failed, eval;

    start(&b, NMAX); /* a new server: its statistics start empty */
    run(&b, TTL);    /* renewals, batched and alone */
    failed = calls(&b, "evalsha", "failed_calls");
    eval = calls(&b, "eval", "calls");
    fprintf(stderr, "%d elections: %lld EVALSHA failed, %lld EVAL\n", b.n,
            failed, eval);
    ASSERT_EQ(failed, 0);
    ASSERT_LE(eval, 4); /* acquire, renew, the batch, release: once each */
    ASSERT_GE(calls(&b, "evalsha", "calls"), b.n);
    stop(&b);
}
