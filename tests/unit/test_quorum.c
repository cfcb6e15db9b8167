/* SPDX-License-Identifier: BSD-3-Clause */
/* test_quorum.c - the counting of quorum mode: which replies count, the
 * term read from a majority and committed before a win, the young-server
 * rule, and the one reply the core gets. */
#include <string.h>

#include "core/lc_quorum.h"
#include "harness.h"
#include "leader.h"

#define TTL 3000

static struct lc_value i_(long long v)
{
    struct lc_value x = {.type = LC_VAL_INT, .integer = v};
    return x;
}

static struct lc_value s_(const char *s)
{
    struct lc_value x = {.type = LC_VAL_STR, .str = s, .len = strlen(s)};
    return x;
}

static struct lc_value nil_(void)
{
    struct lc_value x = {.type = LC_VAL_NIL};
    return x;
}

/* Replies built in place: each lives in its own slot of a static pool so
 * that several stay valid at once. */
static struct lc_value pool[32][4];
static unsigned pool_next;

static struct lc_value arr3(struct lc_value a, struct lc_value b,
                            struct lc_value c)
{
    struct lc_value *el = pool[pool_next++ % 32];
    el[0] = a;
    el[1] = b;
    el[2] = c;
    return (struct lc_value){.type = LC_VAL_ARRAY, .elem = el, .n = 3};
}

static struct lc_value grant(struct lc_value counter, long long clock_ms)
{
    return arr3(i_(1), counter, i_(clock_ms));
}

static struct lc_value refuse(const char *holder, long long pttl,
                              struct lc_value counter)
{
    struct lc_value *el = pool[pool_next++ % 32];
    el[0] = i_(0);
    el[1] = s_(holder);
    el[2] = i_(pttl);
    el[3] = counter;
    return (struct lc_value){.type = LC_VAL_ARRAY, .elem = el, .n = 4};
}

static struct lc_value err_(const char *text)
{
    return (struct lc_value){
        .type = LC_VAL_ERR, .str = text, .len = strlen(text)};
}

static void begin(struct lc_qop *op, enum lc_cmd_kind kind, uint64_t term,
                  unsigned n)
{
    struct lc_cmd cmd = {kind, 7, term};
    lc_qop_begin(op, &cmd, n, TTL, 0, 1000);
}

static struct lc_acquire_result decoded(const struct lc_qop *op)
{
    struct lc_acquire_result r;
    ASSERT_OK(lc_decode_acquire(lc_qop_result(op), &r));
    return r;
}

TEST(majorities)
{
    ASSERT_EQ(lc_q_majority(3), 2);
    ASSERT_EQ(lc_q_majority(5), 3);
    ASSERT_EQ(lc_q_majority(7), 4);
}

TEST(a_server_counts_once_every_lease_it_lost_in_a_restart_is_over)
{
    lc_time drift = TTL - lc_lease_length(TTL);

    /* Restarted at or before 10000: any lease it granted before ends by
     * 10000 + TTL on its clock, plus the drift on ours. */
    ASSERT_EQ(lc_q_eligible(10000, TTL, 10000), 0);
    ASSERT_EQ(lc_q_eligible(10000, TTL, 10000 + TTL), 0);
    ASSERT_EQ(lc_q_eligible(10000, TTL, 10000 + TTL + drift - 1), 0);
    ASSERT_EQ(lc_q_eligible(10000, TTL, 10000 + TTL + drift), 1);
    ASSERT_EQ(lc_q_eligible(LC_NEVER, TTL, LC_NEVER - 1), 0);
}

/* uptime_in_seconds is floor(now) - floor(start) in wall-clock seconds:
 * "1" may come 1 ms after the start. */
TEST(an_uptime_of_whole_seconds_bounds_the_restart_a_second_late)
{
    ASSERT_EQ(lc_q_restart_bound(50000, 0), 50000);
    ASSERT_EQ(lc_q_restart_bound(50000, 1), 50000);
    ASSERT_EQ(lc_q_restart_bound(50000, 2), 49000);
    ASSERT_EQ(lc_q_restart_bound(50000, 30), 21000);
}

TEST(won_with_a_term_read_from_a_majority_and_committed_to_one)
{
    struct lc_qop op;
    struct lc_acquire_result r;

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    ASSERT_EQ(lc_qop_wire(&op), LC_QW_GRANT);
    ASSERT_EQ(lc_qop_targets(&op), 7);
    struct lc_value g0 = grant(s_("5"), 1700000000000);
    ASSERT_EQ(lc_qop_reply(&op, 0, &g0, 1, 1001), LC_QN_WAIT);
    struct lc_value g1 = grant(s_("1"), 1700000000000);
    ASSERT_EQ(lc_qop_reply(&op, 1, &g1, 1, 1002), LC_QN_COMMIT);
    /* The commit goes to the servers that granted, with max + 1. */
    ASSERT_EQ(lc_qop_wire(&op), LC_QW_COMMIT);
    ASSERT_EQ(lc_qop_term(&op), 6);
    ASSERT_EQ(lc_qop_targets(&op), 3);
    struct lc_value yes = i_(1);
    ASSERT_EQ(lc_qop_reply(&op, 0, &yes, 1, 1003), LC_QN_WAIT);
    /* A late first-round reply from server 2 changes nothing now. */
    struct lc_value g2 = grant(s_("1"), 1700000000000);
    ASSERT_EQ(lc_qop_reply(&op, 2, &g2, 1, 1003), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 1, &yes, 1, 1004), LC_QN_DONE);
    r = decoded(&op);
    ASSERT_EQ(r.won, 1);
    ASSERT_EQ(r.term, 6);
    ASSERT_EQ(lc_qop_release_set(&op), 0);
}

/* The case that a maximum over the grants alone gets wrong: counters
 * A=5, B=1, C=1; a leader on {A,B} takes 6 and commits it to A and B, so
 * a later one on {B,C} reads 6 from B and takes 7, not 2. */
TEST(a_later_leader_reads_the_term_an_earlier_one_committed)
{
    const char *counter[3] = {"5", "1", "1"};
    struct lc_qop op;
    struct lc_value yes = i_(1);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    struct lc_value a = grant(s_(counter[0]), 1), b = grant(s_(counter[1]), 1);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_COMMIT);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1002);
    ASSERT_EQ(lc_qop_reply(&op, 1, &yes, 1, 1002), LC_QN_DONE);
    ASSERT_EQ(decoded(&op).term, 6);
    counter[0] = counter[1] = "6"; /* what the commit wrote */

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    struct lc_value b2 = grant(s_(counter[1]), 1),
                    c2 = grant(s_(counter[2]), 1);
    struct lc_value gone = err_("ERR connection refused");
    (void) lc_qop_reply(&op, 0, &gone, 1, 1001);
    (void) lc_qop_reply(&op, 1, &b2, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c2, 1, 1001), LC_QN_COMMIT);
    ASSERT_EQ(lc_qop_term(&op), 7);
}

TEST(a_missing_counter_is_never_read_as_zero)
{
    struct lc_qop op;

    /* Server 0 restarted empty: its counter is missing. With only one
     * valid counter of three, the term is seeded above the clocks. */
    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    struct lc_value a = grant(nil_(), 1700000000000),
                    b = grant(s_("9"), 1700000000005);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    /* A majority granted, but one more counter may still come: wait. */
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_WAIT);
    struct lc_value c = grant(nil_(), 1700000000003);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1002), LC_QN_COMMIT);
    ASSERT_EQ(lc_qop_term(&op), 1700000000006);

    /* Two valid counters of three are a majority: read, not seeded. */
    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    struct lc_value d = grant(s_("4"), 1700000000000);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    (void) lc_qop_reply(&op, 1, &b, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &d, 1, 1002), LC_QN_COMMIT);
    ASSERT_EQ(lc_qop_term(&op), 10);
}

TEST(the_term_is_above_both_floors)
{
    struct lc_qop op;
    struct lc_cmd cmd = {LC_CMD_ACQUIRE, 1, 20};
    struct lc_value a = grant(s_("3"), 1), b = grant(s_("3"), 1);

    lc_qop_begin(&op, &cmd, 3, TTL, 30, 1000);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_COMMIT);
    ASSERT_EQ(lc_qop_term(&op), 31);
}

TEST(a_young_server_grants_but_does_not_count)
{
    struct lc_qop op;
    struct lc_value a = grant(s_("3"), 1), b = grant(s_("3"), 1),
                    c = grant(s_("3"), 1);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 0, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 0, 1001), LC_QN_DONE);
    /* Not won, and every grant, counted or not, is released. */
    ASSERT_EQ(lc_qop_result(&op)->type, LC_VAL_ERR);
    ASSERT_EQ(lc_qop_release_set(&op), 7);
    ASSERT_EQ(lc_qop_term(&op), 0); /* the floor: below any later term */
}

TEST(a_grant_after_the_lease_it_would_give_does_not_count)
{
    struct lc_qop op;
    struct lc_value a = grant(s_("3"), 1), b = grant(s_("3"), 1),
                    c = err_("ERR boom");

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    (void) lc_qop_reply(&op, 2, &c, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1000 + lc_lease_length(TTL)),
              LC_QN_DONE);
    ASSERT_EQ(lc_qop_result(&op)->type, LC_VAL_ERR);
    ASSERT_EQ(lc_qop_release_set(&op), 3);
}

TEST(a_commit_after_the_lease_does_not_count)
{
    struct lc_qop op;
    struct lc_value a = grant(s_("3"), 1), b = grant(s_("3"), 1), yes = i_(1);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_COMMIT);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1002);
    ASSERT_EQ(lc_qop_reply(&op, 1, &yes, 1, 1000 + lc_lease_length(TTL)),
              LC_QN_DONE);
    ASSERT_EQ(lc_qop_result(&op)->type, LC_VAL_ERR);
    ASSERT_EQ(lc_qop_release_set(&op), 3);
    ASSERT_EQ(lc_qop_term(&op), 4); /* the release carries the new term */
}

TEST(a_commit_refused_by_a_majority_loses)
{
    struct lc_qop op;
    struct lc_value a = grant(s_("3"), 1), b = grant(s_("3"), 1),
                    c = grant(s_("3"), 1), no = i_(0);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_COMMIT);
    ASSERT_EQ(lc_qop_targets(&op), 3);
    /* Server 2's grant comes after the commit went out: not counted, but
     * released with the rest. */
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1001), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 0, &no, 1, 1002), LC_QN_DONE);
    ASSERT_EQ(lc_qop_result(&op)->type, LC_VAL_ERR);
    ASSERT_EQ(lc_qop_release_set(&op), 7);
}

/* A grant after the op was decided: not counted, and the caller is told
 * it holds a key (lc_q_is_grant), which it releases. */
TEST(a_grant_after_a_lost_acquire_is_known_as_one)
{
    struct lc_qop op;
    struct lc_value a = refuse("other", 900, s_("8")),
                    b = refuse("other", 400, s_("8")), c = grant(s_("8"), 1);
    struct lc_value renewed = i_(1), read = arr3(s_("x"), i_(5), nil_());

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_DONE);
    ASSERT_EQ(lc_qop_release_set(&op), 0); /* nothing granted yet */
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1002), LC_QN_DONE);
    ASSERT_EQ(lc_q_is_grant(&c), 1);
    ASSERT_EQ(lc_q_is_grant(&a), 0);
    ASSERT_EQ(lc_q_is_grant(&renewed), 0);
    ASSERT_EQ(lc_q_is_grant(&read), 0);
}

TEST(refused_by_a_majority_names_the_holder_and_when_a_majority_frees)
{
    struct lc_qop op;
    struct lc_value a = refuse("other", 900, s_("8")),
                    b = refuse("other", 400, s_("8")), c = grant(s_("8"), 1);
    struct lc_acquire_result r;

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 2, &c, 1, 1001);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_DONE);
    r = decoded(&op);
    ASSERT_EQ(r.won, 0);
    ASSERT_EQ(r.holder_len, 5);
    ASSERT_EQ(memcmp(r.holder, "other", 5), 0);
    /* Our own grant is released: free at once; a majority is free once
     * the shorter of the two others ends. */
    ASSERT_EQ(r.pttl, 400);
    ASSERT_EQ(r.holder_term, 8);
    ASSERT_EQ(lc_qop_release_set(&op), 4);
}

TEST(the_first_error_reaches_the_core)
{
    struct lc_qop op;
    struct lc_value e = err_("WRONGTYPE Operation against a key");
    struct lc_acquire_result r;

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &e, 1, 1001);
    ASSERT_EQ(lc_qop_fail(&op, 1, LEADER_ECONN, "connection refused", 1001),
              LC_QN_DONE);
    ASSERT_EQ(lc_decode_acquire(lc_qop_result(&op), &r), LEADER_EWRONGTYPE);
}

TEST(a_wrong_reply_counts_as_a_failure)
{
    struct lc_qop op;
    struct lc_value junk[3] = {s_("1"), arr3(i_(2), nil_(), nil_()),
                               arr3(i_(1), s_("x"), nil_())};

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    for (unsigned i = 0; i < 2; i++)
        ASSERT_EQ(lc_qop_reply(&op, i, &junk[i], 1, 1001),
                  i == 0 ? LC_QN_WAIT : LC_QN_DONE);
    ASSERT_EQ(lc_qop_result(&op)->type, LC_VAL_ERR);
    /* A reply to a server that was never asked, or twice, is ignored. */
    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    ASSERT_EQ(lc_qop_reply(&op, 9, &junk[2], 1, 1001), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 0, &junk[2], 1, 1001), LC_QN_WAIT);
    struct lc_value g = grant(s_("2"), 1);
    ASSERT_EQ(lc_qop_reply(&op, 0, &g, 1, 1001), LC_QN_WAIT);
}

TEST(renew_needs_a_majority_in_the_lease)
{
    struct lc_qop op;
    struct lc_value yes = i_(1), no = i_(0);
    int flag = -1;

    begin(&op, LC_CMD_RENEW, 5, 5);
    ASSERT_EQ(lc_qop_wire(&op), LC_QW_RENEW);
    ASSERT_EQ(lc_qop_term(&op), 5);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1001);
    (void) lc_qop_reply(&op, 1, &no, 1, 1001);  /* restarted empty */
    (void) lc_qop_reply(&op, 2, &yes, 0, 1001); /* young */
    ASSERT_EQ(lc_qop_reply(&op, 3, &yes, 1, 1002), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 4, &yes, 1, 1003), LC_QN_DONE);
    ASSERT_OK(lc_decode_flag(lc_qop_result(&op), &flag));
    ASSERT_EQ(flag, 1);

    /* Refused by enough that no majority can confirm: lost. */
    begin(&op, LC_CMD_RENEW, 5, 3);
    (void) lc_qop_reply(&op, 0, &no, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &no, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_flag(lc_qop_result(&op), &flag));
    ASSERT_EQ(flag, 0);

    /* One refusal, one failure: not known; an error, renewed again. */
    begin(&op, LC_CMD_RENEW, 5, 3);
    (void) lc_qop_reply(&op, 0, &no, 1, 1001);
    ASSERT_EQ(lc_qop_fail(&op, 1, LEADER_ECONN, NULL, 1001), LC_QN_DONE);
    ASSERT_NE(lc_decode_flag(lc_qop_result(&op), &flag), 0);

    /* Confirmed too late for the lease it would give. */
    begin(&op, LC_CMD_RENEW, 5, 3);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1001);
    (void) lc_qop_reply(&op, 1, &yes, 1, 1000 + lc_lease_length(TTL));
    ASSERT_EQ(lc_qop_reply(&op, 2, &no, 1, 1000 + TTL), LC_QN_DONE);
    ASSERT_NE(lc_decode_flag(lc_qop_result(&op), &flag), 0);
}

TEST(release_ends_once_a_majority_answered)
{
    struct lc_qop op;
    struct lc_value yes = i_(1), no = i_(0);
    int flag = -1;

    begin(&op, LC_CMD_RELEASE, 5, 3);
    ASSERT_EQ(lc_qop_wire(&op), LC_QW_RELEASE);
    ASSERT_EQ(lc_qop_reply(&op, 0, &yes, 0, 1001), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 1, &no, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_flag(lc_qop_result(&op), &flag));
    ASSERT_EQ(flag, 1);
    ASSERT_EQ(lc_qop_release_set(&op), 0);
}

TEST(read_names_the_holder_of_a_majority)
{
    struct lc_qop op;
    struct lc_value a = arr3(s_("L"), i_(2000), s_("12")),
                    b = arr3(s_("L"), i_(1500), s_("11")),
                    c = arr3(s_("M"), i_(100), nil_());
    struct lc_read_result r;

    begin(&op, LC_CMD_READ, 0, 3);
    (void) lc_qop_reply(&op, 2, &c, 1, 1001);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_read(lc_qop_result(&op), &r));
    ASSERT_EQ(r.holder_len, 1);
    ASSERT_EQ(r.holder[0], 'L');
    ASSERT_EQ(r.pttl, 1500); /* until fewer than a majority hold it */
    ASSERT_EQ(r.term, 12);

    /* One valid counter of three: no term, rather than one that may be
     * behind the last committed. */
    struct lc_value e = arr3(s_("L"), i_(1500), nil_());
    begin(&op, LC_CMD_READ, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    (void) lc_qop_reply(&op, 1, &e, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_read(lc_qop_result(&op), &r));
    ASSERT_EQ(r.term, 0);

    /* Split: nobody leads. */
    struct lc_value d = arr3(nil_(), i_(-2), nil_());
    begin(&op, LC_CMD_READ, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    (void) lc_qop_reply(&op, 1, &c, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &d, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_read(lc_qop_result(&op), &r));
    ASSERT_EQ(r.holder == NULL, 1);

    /* Too few answers: an error, not "nobody". */
    begin(&op, LC_CMD_READ, 0, 3);
    (void) lc_qop_reply(&op, 0, &d, 1, 1001);
    (void) lc_qop_fail(&op, 1, LEADER_ECONN, NULL, 1001);
    ASSERT_EQ(lc_qop_fail(&op, 2, LEADER_ECONN, NULL, 1001), LC_QN_DONE);
    ASSERT_NE(lc_decode_read(lc_qop_result(&op), &r), 0);
}

/* {A: 13, B: 12, C down} is a term 13 committed on A and C with B behind,
 * or a commit of 13 that reached only A: once a read named 13, a later
 * one that finds only 12 still says 13 (the floor it is given). */
TEST(a_read_never_names_a_term_below_its_floor)
{
    struct lc_cmd cmd = {LC_CMD_READ, 7, 0};
    struct lc_qop op;
    struct lc_value a = arr3(s_("L"), i_(2000), s_("13")),
                    b = arr3(s_("L"), i_(1500), s_("12"));
    struct lc_read_result r;

    lc_qop_begin(&op, &cmd, 3, TTL, 0, 1000);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_DONE);
    ASSERT_EQ(lc_qop_named(&op), 13);

    lc_qop_begin(&op, &cmd, 3, TTL, 13, 1000);
    (void) lc_qop_reply(&op, 1, &b, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_WAIT);
    ASSERT_EQ(lc_qop_reply(&op, 2, &b, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_read(lc_qop_result(&op), &r));
    ASSERT_EQ(r.term, 13);
    ASSERT_EQ(lc_qop_named(&op), 13);
    ASSERT_EQ(lc_qop_won(&op), 0);
}

TEST(only_an_acquire_that_won_is_announced)
{
    struct lc_qop op;
    struct lc_value g = grant(s_("5"), 1700000000000), yes = i_(1), no = i_(0);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &g, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &g, 1, 1001), LC_QN_COMMIT);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1002);
    ASSERT_EQ(lc_qop_won(&op), 0); /* one commit is not a win */
    ASSERT_EQ(lc_qop_reply(&op, 1, &yes, 1, 1002), LC_QN_DONE);
    ASSERT_EQ(lc_qop_won(&op), 1);

    begin(&op, LC_CMD_ACQUIRE, 0, 3);
    (void) lc_qop_reply(&op, 0, &g, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &g, 1, 1001), LC_QN_COMMIT);
    (void) lc_qop_reply(&op, 0, &yes, 1, 1002);
    ASSERT_EQ(lc_qop_reply(&op, 1, &no, 1, 1002), LC_QN_DONE);
    ASSERT_EQ(lc_qop_won(&op), 0);
}

TEST(probe_says_when_a_majority_is_free)
{
    struct lc_qop op;
    struct lc_value a = i_(-2), b = i_(700), c = i_(300);
    long long pttl = 0;

    begin(&op, LC_CMD_PROBE, 0, 3);
    ASSERT_EQ(lc_qop_wire(&op), LC_QW_PROBE);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_pttl(lc_qop_result(&op), &pttl));
    ASSERT_EQ(pttl, 300);
    ASSERT_EQ(lc_qop_reply(&op, 1, &b, 1, 1001), LC_QN_DONE); /* too late */
    ASSERT_OK(lc_decode_pttl(lc_qop_result(&op), &pttl));
    ASSERT_EQ(pttl, 300);

    /* The first majority decides: a frozen server's reply is not
     * waited for, and the others' busy time is the latest a majority can
     * be free. */
    begin(&op, LC_CMD_PROBE, 0, 3);
    (void) lc_qop_reply(&op, 1, &b, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 2, &c, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_pttl(lc_qop_result(&op), &pttl));
    ASSERT_EQ(pttl, 700);

    begin(&op, LC_CMD_PROBE, 0, 3);
    (void) lc_qop_reply(&op, 0, &a, 1, 1001);
    ASSERT_EQ(lc_qop_reply(&op, 1, &a, 1, 1001), LC_QN_DONE);
    ASSERT_OK(lc_decode_pttl(lc_qop_result(&op), &pttl));
    ASSERT_EQ(pttl, -2);
}
