/* SPDX-License-Identifier: BSD-3-Clause */
/* test_core.c - the election core, transition by transition, with a fake
 * clock: every test feeds explicit times and checks the exact commands,
 * events, actions and deadlines that come out.
 *
 * With ttl 3000: drift 32, lease length 2968, renew every 1000, command
 * timeout 1000, backoff cap 500. */
#include <string.h>

#include "core/lc_core.h"
#include "harness.h"
#include "leader.h"

/* The core's memory: lc_core_size() bytes, aligned for any type. */
static union {
    max_align_t align;
    unsigned char bytes[2048];
} core_mem;
#define core (*(struct lc_core *) core_mem.bytes)
static struct lc_output outbuf;
static const struct lc_output *out;

static void setup(lc_time ttl, lc_time wait)
{
    struct lc_config cfg = {"me", ttl, wait, 42, 0, 0};
    ASSERT(lc_core_size() <= sizeof core_mem.bytes);
    ASSERT_OK(lc_init(&core, &cfg));
}

static const struct lc_output *feed(enum lc_input_kind kind, lc_time now)
{
    struct lc_input in = {.kind = kind, .now = now};
    return out = lc_step(&core, &in, &outbuf);
}

static const struct lc_output *reply(lc_time now, uint64_t seq,
                                     const struct lc_value *v)
{
    struct lc_input in = {
        .kind = LC_IN_REPLY, .now = now, .seq = seq, .value = v};
    return out = lc_step(&core, &in, &outbuf);
}

static const struct lc_output *reply_int(lc_time now, uint64_t seq, int v)
{
    struct lc_value val = {.type = LC_VAL_INT, .integer = v};
    return reply(now, seq, &val);
}

static const struct lc_output *reply_won(lc_time now, uint64_t seq,
                                         long long term)
{
    struct lc_value el[2] = {{.type = LC_VAL_INT, .integer = 1},
                             {.type = LC_VAL_INT, .integer = term}};
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = el, .n = 2};
    return reply(now, seq, &v);
}

static const struct lc_output *reply_lost(lc_time now, uint64_t seq,
                                          const char *holder, long long pttl)
{
    struct lc_value el[3] = {
        {.type = LC_VAL_INT, .integer = 0},
        {.type = LC_VAL_STR, .str = holder, .len = strlen(holder)},
        {.type = LC_VAL_INT, .integer = pttl}};
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = el, .n = 3};
    return reply(now, seq, &v);
}

static const struct lc_output *reply_err(lc_time now, uint64_t seq,
                                         const char *text)
{
    struct lc_value v = {.type = LC_VAL_ERR, .str = text, .len = strlen(text)};
    return reply(now, seq, &v);
}

static const struct lc_output *notify(lc_time now, const char *text)
{
    struct lc_input in = {
        .kind = LC_IN_NOTIFY, .now = now, .text = text, .len = strlen(text)};
    return out = lc_step(&core, &in, &outbuf);
}

static const struct lc_output *conn_event(enum lc_input_kind kind, lc_time now,
                                          int error)
{
    struct lc_input in = {
        .kind = kind, .now = now, .error = error, .text = "boom", .len = 4};
    return out = lc_step(&core, &in, &outbuf);
}

static void expect_cmd(enum lc_cmd_kind kind, uint64_t seq, uint64_t term)
{
    ASSERT_EQ(out->ncmds, 1);
    ASSERT_EQ(out->cmds[0].kind, kind);
    ASSERT_EQ(out->cmds[0].seq, seq);
    ASSERT_EQ(out->cmds[0].term, term);
}

static void expect_event(int i, enum lc_event_kind kind, uint64_t term,
                         int error)
{
    ASSERT_GT(out->nevents, i);
    ASSERT_EQ(out->events[i].kind, kind);
    ASSERT_EQ(out->events[i].term, term);
    ASSERT_EQ(out->events[i].error, error);
    ASSERT_NOT_NULL(out->events[i].message);
}

/* START at 1000, connected at 1005, acquire seq 1 won with term 7 at 1050:
 * leader with lease until 1005 + 2968. */
static void elect(void)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1005);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    reply_won(1050, 1, 7);
}

TEST(init_rejects_bad_config)
{
    struct lc_config empty = {"", 3000, 1000, 1, 0, 0};
    struct lc_config short_ttl = {"me", 5, 1000, 1, 0, 0};
    struct lc_config neg_wait = {"me", 3000, -1, 1, 0, 0};
    char id[300];

    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    struct lc_config long_id = {id, 3000, 1000, 1, 0, 0};
    ASSERT_EQ(lc_init(&core, &empty), -1);
    ASSERT_EQ(lc_init(&core, &short_ttl), -1);
    ASSERT_EQ(lc_init(&core, &neg_wait), -1);
    ASSERT_EQ(lc_init(&core, &long_id), -1);
}

TEST(init_rejects_timeouts_out_of_bounds)
{
    struct lc_config neg_connect = {"me", 3000, 1000, 1, -1, 0};
    struct lc_config neg_cmd = {"me", 3000, 1000, 1, 0, -1};
    struct lc_config long_cmd = {"me", 3000, 1000, 1, 0, 1001};
    struct lc_config third = {"me", 3000, 1000, 1, 60000, 1000};

    ASSERT_EQ(lc_init(&core, &neg_connect), -1);
    ASSERT_EQ(lc_init(&core, &neg_cmd), -1);
    /* Past ttl/3, a renewal that is lost could not be sent again in
     * the lease. */
    ASSERT_EQ(lc_init(&core, &long_cmd), -1);
    ASSERT_OK(lc_init(&core, &third));
}

TEST(timeout_options_bound_the_connect_and_each_command)
{
    struct lc_config cfg = {"me", 30000, 1000, 1, 700, 100};

    ASSERT_OK(lc_init(&core, &cfg));
    ASSERT_EQ(lc_connect_timeout(&core), 700);
    ASSERT_EQ(lc_cmd_timeout(&core), 100);
    feed(LC_IN_START, 1000);
    ASSERT_EQ(out->deadline, 1700); /* not the default's 2 s */
    feed(LC_IN_CONNECTED, 1005);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    ASSERT_EQ(out->deadline, 1105);
    feed(LC_IN_TICK, 1105);
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
    ASSERT_EQ(out->events[0].error, LEADER_ETIMEDOUT);
}

TEST(idle_core_wants_nothing)
{
    setup(3000, 1000);
    feed(LC_IN_TICK, 1000);
    ASSERT_EQ(out->actions, 0);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->deadline, LC_NEVER);
    ASSERT_EQ(lc_busy(&core), 0);
}

TEST(start_connects_with_a_connect_deadline)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 2000);
    ASSERT_EQ(lc_busy(&core), 1);
}

static const struct lc_output *connected_fresh(lc_time now)
{
    struct lc_input in = {.kind = LC_IN_CONNECTED, .now = now, .fresh = 1};
    return out = lc_step(&core, &in, &outbuf);
}

TEST(a_leader_on_a_fresh_server_steps_down_and_nobody_acquires_for_a_ttl)
{
    elect(); /* term 7, lease from 1005 */
    feed(LC_IN_CONN_LOST, 1500);
    feed(LC_IN_TICK, 1500);
    ASSERT_EQ(lc_has_lease(&core, 1600), 1);
    connected_fresh(1600);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ECONN);
    ASSERT_EQ(lc_has_lease(&core, 1600), 0);
    ASSERT_EQ(out->ncmds, 0); /* no acquire on the new master yet */
    ASSERT_EQ(out->deadline, 1600 + 3000);
    feed(LC_IN_TICK, 4599);
    ASSERT_EQ(out->ncmds, 0);
    feed(LC_IN_TICK, 4600);
    ASSERT_EQ(out->ncmds, 1);
    ASSERT_EQ(out->cmds[0].kind, LC_CMD_ACQUIRE);
}

TEST(a_follower_on_a_fresh_server_waits_a_ttl_whatever_it_hears)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    connected_fresh(1005);
    ASSERT_EQ(out->ncmds, 0);
    notify(1100, "released 5 other");
    ASSERT_EQ(out->ncmds, 0);
    feed(LC_IN_TICK, 4005);
    ASSERT_EQ(out->ncmds, 1);
    ASSERT_EQ(out->cmds[0].kind, LC_CMD_ACQUIRE);
}

TEST(connected_follower_acquires_at_once)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1005);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    ASSERT_EQ(out->deadline, 2005); /* the reply timeout */
}

TEST(won_acquire_elects_with_lease_from_send_time)
{
    elect();
    expect_event(0, LC_EV_ELECTED, 7, 0);
    ASSERT_STR_EQ(out->events[0].holder, "me");
    ASSERT_EQ(out->ncmds, 0);
    /* The first renewal: in the second half of send + ttl/3, so that
     * elections won together do not renew together. */
    ASSERT_GE(out->deadline, 1505);
    ASSERT_LE(out->deadline, 2005);
    ASSERT_EQ(lc_has_lease(&core, 1005 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, 1005 + 2968), 0);
}

TEST(renews_every_third_of_ttl_and_extends_from_its_send_time)
{
    lc_time due;

    elect();
    due = out->deadline; /* the first renewal, spread */
    feed(LC_IN_TICK, due);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    ASSERT_EQ(out->deadline, due + 1000); /* reply timeout, before the lease */
    reply_int(due + 395, 2, 1);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->deadline, due + 1000); /* next renewal: ttl/3 on */
    ASSERT_EQ(lc_has_lease(&core, due + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, due + 2968), 0);
}

static const struct lc_output *tick_early(lc_time now, lc_time early)
{
    struct lc_input in = {.kind = LC_IN_TICK, .now = now, .early = early};
    return out = lc_step(&core, &in, &outbuf);
}

TEST(tick_with_early_renews_a_renewal_due_within_it)
{
    lc_time due;

    elect();
    due = out->deadline;
    feed(LC_IN_TICK, due);
    reply_int(due + 5, 2, 1);
    ASSERT_EQ(out->deadline, due + 1000);
    tick_early(due + 695, 300); /* due + 1000: not within 300 ms */
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, due + 1000);
    tick_early(due + 700, 300); /* within: renews now, the lease from now */
    expect_cmd(LC_CMD_RENEW, 3, 7);
    reply_int(due + 705, 3, 1);
    ASSERT_EQ(lc_has_lease(&core, due + 700 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, due + 700 + 2968), 0);
    ASSERT_EQ(out->deadline, due + 1700); /* and keeps the rhythm */
    feed(LC_IN_TICK, due + 1695); /* a plain tick renews only when due */
    ASSERT_EQ(out->ncmds, 0);
}

TEST(tick_with_early_leaves_a_failing_renewal_to_its_backoff)
{
    elect();
    feed(LC_IN_TICK, 2005);
    reply_err(2010, 2, "ERR busy");
    ASSERT_GT(out->deadline, 2010);
    tick_early(2011, 1000);
    ASSERT_EQ(out->ncmds, 0);
    feed(LC_IN_TICK, out->deadline);
    expect_cmd(LC_CMD_RENEW, 3, 7);
}

TEST(tick_with_early_is_nothing_to_a_follower)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1001, 1, "other", 2500);
    ASSERT_EQ(out->ncmds, 0);
    tick_early(1002, 900);
    ASSERT_EQ(out->ncmds, 0);
}

TEST(refused_renewal_revokes_and_campaigns_again)
{
    elect();
    feed(LC_IN_TICK, 2005);
    reply_int(2010, 2, 0);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELOST);
    ASSERT_EQ(out->nevents, 1);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7); /* floor: the term we had */
    ASSERT_EQ(lc_has_lease(&core, 2010), 0);
}

TEST(steps_down_at_the_deadline_when_renewals_go_unanswered)
{
    elect();
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    /* No reply: at the timeout the connection is dropped and reopened. */
    feed(LC_IN_TICK, 3005);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT | LC_ACT_CONNECT);
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
    ASSERT_EQ(out->events[0].error, LEADER_ETIMEDOUT);
    ASSERT_EQ(out->deadline, 3973); /* the lease ends before the connect */
    feed(LC_IN_TICK, 3972);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 3972), 1);
    feed(LC_IN_TICK, 3973);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ECONN);
    ASSERT_EQ(lc_has_lease(&core, 3973), 0);
}

TEST(steps_down_at_the_deadline_while_connected_but_unanswered)
{
    elect();
    feed(LC_IN_TICK, 2005);
    feed(LC_IN_TICK, 3005); /* renew timed out */
    feed(LC_IN_CONNECTED, 3010);
    expect_cmd(LC_CMD_RENEW, 3, 7);
    ASSERT_EQ(out->deadline, 3973); /* the reply timeout is the lease */
    feed(LC_IN_TICK, 3973);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    /* A late confirmation revives nothing: acquire resolves it. */
    reply_int(3990, 3, 1);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 3990), 0);
}

TEST(follower_retries_at_the_holders_expiry_when_sooner_than_wait)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1010, 1, "other", 300);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 1310);
    feed(LC_IN_TICK, 1310);
    expect_cmd(LC_CMD_ACQUIRE, 2, 0);
    reply_lost(1320, 2, "other", 5000);
    ASSERT_EQ(out->deadline, 2320); /* wait */
    feed(LC_IN_TICK, 2320);
    expect_cmd(LC_CMD_PROBE, 3, 0); /* the key lives on: a PTTL will do */
    reply_int(2330, 3, 400);
    ASSERT_EQ(out->deadline, 2730); /* its expiry, sooner than wait */
    feed(LC_IN_TICK, 2730);
    expect_cmd(LC_CMD_ACQUIRE, 4, 0);
    reply_lost(2740, 4, "other", -1); /* no expiry at all: wait */
    ASSERT_EQ(out->deadline, 3740);
    feed(LC_IN_TICK, 3740);
    expect_cmd(LC_CMD_ACQUIRE, 5, 0); /* no end to wait for: acquire */
    ASSERT_EQ(out->nevents, 0);
}

/* A follower that lost to "other" (key alive for 2.9 s) and, a wait later,
 * has just sent PTTL (seq 2) at 2010. */
static void probing_follower(void)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1010, 1, "other", 2900);
    feed(LC_IN_TICK, 2010);
    expect_cmd(LC_CMD_PROBE, 2, 0);
}

TEST(follower_between_tries_asks_only_pttl)
{
    probing_follower();
    reply_int(2011, 2, 2500); /* renewed meanwhile */
    ASSERT_EQ(out->deadline, 3011);
    feed(LC_IN_TICK, 3011);
    expect_cmd(LC_CMD_PROBE, 3, 0);
    reply_int(3012, 3, -2); /* gone (a bare DEL): acquire at once */
    expect_cmd(LC_CMD_ACQUIRE, 4, 0);
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].kind, LC_EV_CHANGED);
    ASSERT(out->events[0].holder == NULL);
    ASSERT_STR_EQ(out->events[0].message, "released");
    reply_won(3013, 4, 9);
    expect_event(0, LC_EV_ELECTED, 9, 0);
}

TEST(follower_probe_errors_back_off_then_acquire)
{
    probing_follower();
    reply_err(2011, 2, "ERR something");
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
    ASSERT(out->deadline > 2011 && out->deadline <= 2011 + 1000);
    feed(LC_IN_TICK, out->deadline);
    expect_cmd(LC_CMD_ACQUIRE, 3, 0); /* after an error: a full try */
    reply_int(3000, 2, 5);            /* a stale reply is ignored */
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->ncmds, 0);
}

TEST(notification_during_a_probe_acquires_after_its_reply)
{
    probing_follower();
    notify(2011, "released 4 other");
    ASSERT_EQ(out->ncmds, 0);         /* one command at a time */
    reply_int(2012, 2, 1800);         /* read before the release */
    expect_cmd(LC_CMD_ACQUIRE, 3, 0); /* a notified term is no floor */
}

TEST(stop_during_a_probe_goes_idle)
{
    probing_follower();
    feed(LC_IN_STOP, 2011);
    ASSERT(!lc_busy(&core));
    reply_int(2012, 2, -2);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->nevents, 0);
}

TEST(release_notification_triggers_an_acquire_at_once)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1010, 1, "other", 2900);
    ASSERT_EQ(out->deadline, 2010);
    notify(1500, "released 4 other");
    expect_cmd(LC_CMD_ACQUIRE, 2, 0); /* a hint: the term is no floor */
}

TEST(notification_during_an_acquire_retries_after_its_reply)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    notify(1001, "released 4 other");
    ASSERT_EQ(out->ncmds, 0); /* one command at a time */
    reply_lost(1002, 1, "other", 2900);
    expect_cmd(LC_CMD_ACQUIRE, 2, 0);
}

TEST(malformed_notification_is_ignored)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1010, 1, "other", 2900);
    notify(1500, "elected x other");
    ASSERT_EQ(out->ncmds, 0);
    notify(1500, "hello");
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 2010);
}

TEST(leader_told_of_another_election_renews_and_steps_down_if_refused)
{
    elect();
    notify(1200, "elected 8 other");
    ASSERT_EQ(out->nevents, 0);     /* a hint: Redis has to say so */
    expect_cmd(LC_CMD_RENEW, 2, 7); /* at once, not at 2005 */
    ASSERT_EQ(lc_has_lease(&core, 1200), 1);
    reply_int(1201, 2, 0); /* true: Redis lost our key */
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELOST);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7); /* the floor is our own term */
}

TEST(leader_told_of_a_forged_election_renews_once_and_leads_on)
{
    elect();
    notify(1100, "elected 8999999999999999 mallory");
    ASSERT_EQ(out->nevents, 0);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    notify(1101, "elected 9 mallory"); /* while it is in flight */
    ASSERT_EQ(out->ncmds, 0);
    reply_int(1102, 2, 1); /* sent before the second one: not enough */
    ASSERT_EQ(out->nevents, 0);
    expect_cmd(LC_CMD_RENEW, 3, 7);
    reply_int(1103, 3, 1);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 1102 + 1000); /* back to the rhythm */
    ASSERT_EQ(lc_has_lease(&core, 1102 + 2968 - 1), 1);
    notify(1104, "released 5 me"); /* not this leadership: nothing */
    notify(1105, "released 9 other");
    notify(1106, "elected 12 me");
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 1102 + 1000);
    notify(1107, "released 7 me"); /* this one: ask Redis */
    expect_cmd(LC_CMD_RENEW, 4, 7);
    reply_int(1108, 4, 1);
    /* The forged terms raised no floor. */
    feed(LC_IN_STOP, 1200);
    reply_int(1201, 5, 1);
    feed(LC_IN_START, 1300);
    feed(LC_IN_CONNECTED, 1301);
    expect_cmd(LC_CMD_ACQUIRE, 6, 7);
}

TEST(leader_confirming_after_an_error_backs_off)
{
    elect();
    notify(1100, "elected 9 mallory");
    expect_cmd(LC_CMD_RENEW, 2, 7);
    reply_err(1101, 2, "ERR busy");
    ASSERT_EQ(out->ncmds, 0); /* not at once: the error backs off */
    ASSERT_GT(out->deadline, 1101);
    feed(LC_IN_TICK, out->deadline);
    expect_cmd(LC_CMD_RENEW, 3, 7);
}

TEST(stop_as_leader_revokes_then_releases_its_term)
{
    elect();
    feed(LC_IN_STOP, 1500);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    expect_cmd(LC_CMD_RELEASE, 2, 7);
    ASSERT_EQ(lc_has_lease(&core, 1500), 0);
    ASSERT_EQ(lc_busy(&core), 1);
    reply_int(1502, 2, 1);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT);
    ASSERT_EQ(out->nevents, 0); /* a stopped candidate reports no more */
    ASSERT_EQ(lc_busy(&core), 0);
    ASSERT_EQ(out->deadline, LC_NEVER);
}

TEST(own_election_notified_before_its_reply_reports_changed_after_elected)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1005);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    notify(1006, "elected 7 me"); /* the other connection was faster */
    ASSERT_EQ(out->nevents, 0);
    reply_won(1008, 1, 7);
    ASSERT_EQ(out->nevents, 2);
    expect_event(0, LC_EV_ELECTED, 7, 0);
    expect_event(1, LC_EV_CHANGED, 7, 0);
    ASSERT_STR_EQ(out->events[1].holder, "me");
}

/* ---- health ---- */

TEST(unhealthy_leader_revokes_releases_and_stays_a_listening_follower)
{
    elect();
    feed(LC_IN_UNHEALTHY, 1500);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_EUNHEALTHY);
    expect_cmd(LC_CMD_RELEASE, 2, 7);
    ASSERT_EQ(lc_has_lease(&core, 1500), 0);
    ASSERT_EQ(out->status.state, LC_FOLLOWER);
    ASSERT(out->status.listening);
    ASSERT(out->changed & LC_CHG_STATE);
    reply_int(1502, 2, 1);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->actions, 0); /* keeps its connection */
    /* A release is heard, yet it does not campaign. */
    notify(1600, "released 7 me");
    ASSERT_EQ(out->ncmds, 0);
    feed(LC_IN_TICK, 60000);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->nevents, 0);
}

TEST(healthy_again_campaigns_at_once)
{
    elect();
    feed(LC_IN_UNHEALTHY, 1500);
    reply_int(1502, 2, 1);
    feed(LC_IN_HEALTHY, 1700);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7); /* the floor: its own last term */
    reply_won(1710, 3, 8);
    expect_event(0, LC_EV_ELECTED, 8, 0);
}

TEST(unhealthy_candidate_does_not_campaign_from_the_start)
{
    setup(3000, 1000);
    feed(LC_IN_UNHEALTHY, 999);
    ASSERT_EQ(out->nevents, 0);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1005);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, LC_NEVER);
    feed(LC_IN_STOP, 1100);
    feed(LC_IN_START, 1200); /* health outlives a stop */
    feed(LC_IN_CONNECTED, 1205);
    ASSERT_EQ(out->ncmds, 0);
    feed(LC_IN_HEALTHY, 1300);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
}

TEST(unhealthy_during_an_acquire_hands_back_what_it_wins)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1005);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    feed(LC_IN_UNHEALTHY, 1006);
    ASSERT_EQ(out->nevents, 0);
    reply_won(1010, 1, 5);
    ASSERT_EQ(out->nevents, 0); /* never ELECTED */
    expect_cmd(LC_CMD_RELEASE, 2, 5);
    ASSERT_EQ(lc_has_lease(&core, 1010), 0);
}

TEST(unhealthy_leader_with_a_new_term_in_flight_releases_it_on_reply)
{
    elect();
    feed(LC_IN_NEW_TERM, 1100);
    expect_cmd(LC_CMD_ACQUIRE, 2, 7);
    feed(LC_IN_UNHEALTHY, 1101);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_EUNHEALTHY);
    ASSERT_EQ(out->ncmds, 0); /* the acquire may grant a new term */
    reply_won(1105, 2, 8);
    ASSERT_EQ(out->nevents, 0);
    expect_cmd(LC_CMD_RELEASE, 3, 8);
}

TEST(health_reports_change_nothing_when_repeated)
{
    elect();
    feed(LC_IN_HEALTHY, 1100);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->changed, 0);
    feed(LC_IN_UNHEALTHY, 1200);
    ASSERT_EQ(out->nevents, 1);
    feed(LC_IN_UNHEALTHY, 1201);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->ncmds, 0);
}

/* ---- the step's status report ---- */

TEST(status_reports_the_lease_and_what_changed)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    ASSERT_EQ(out->changed, LC_CHG_STATE | LC_CHG_LISTEN | LC_CHG_CONN);
    ASSERT_EQ(out->status.state, LC_FOLLOWER);
    ASSERT(out->status.attached);
    feed(LC_IN_CONNECTED, 1005);
    ASSERT_EQ(out->changed, LC_CHG_UP);
    ASSERT(out->status.connected);
    reply_won(1050, 1, 7);
    ASSERT_EQ(out->changed, LC_CHG_STATE | LC_CHG_LEASE | LC_CHG_TERM);
    ASSERT_EQ(out->status.lease_end, 1005 + 2968);
    ASSERT_EQ(out->status.term, 7);
    feed(LC_IN_TICK, 2005); /* the renewal goes out; nothing moves */
    ASSERT_EQ(out->changed, 0);
    reply_int(2010, 2, 1);
    ASSERT_EQ(out->changed, LC_CHG_LEASE);
    ASSERT_EQ(out->status.lease_end, 2005 + 2968);
}

/* ---- the renewal report, for the driver's counters ---- */

TEST(confirmed_renewal_reports_round_trip_and_slack)
{
    elect(); /* lease until 3973 */
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
    reply_int(2030, 2, 1);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_CONFIRMED);
    ASSERT_EQ(out->renewal.rtt, 25);
    ASSERT_EQ(out->renewal.slack, 3973 - 2030);
    ASSERT_EQ(out->status.lease_end, 2005 + 2968);
    feed(LC_IN_TICK, 2031); /* reported once, by its own step */
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
}

TEST(failed_and_refused_renewals_are_reported)
{
    elect();
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    reply_err(2010, 2, "ERR something");
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_FAILED);
    ASSERT_EQ(out->renewal.rtt, 5);
    feed(LC_IN_TICK, 2600); /* after the backoff, at most ttl/6 */
    expect_cmd(LC_CMD_RENEW, 3, 7);
    reply_int(2620, 3, 0);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_REFUSED);
    ASSERT_EQ(out->renewal.rtt, 20);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELOST);
}

TEST(unanswered_renewal_is_reported_late_at_its_timeout)
{
    elect();
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    feed(LC_IN_TICK, 3004);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
    feed(LC_IN_TICK, 3005); /* the timeout: ttl/3 */
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_LATE);
    ASSERT_EQ(out->renewal.rtt, 1000);
    ASSERT(out->actions & LC_ACT_DISCONNECT);
    ASSERT_EQ(out->changed & LC_CHG_UP, LC_CHG_UP);
    ASSERT(!out->status.connected);
}

/* The connection answered other commands since the renewal was sent: the
 * renewal is queued behind them. It is waited for past its timeout, but
 * never past the lease, and its reply extends the lease from its send. */
TEST(a_renewal_queued_behind_others_is_waited_for_within_the_lease)
{
    elect();
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    feed(LC_IN_PROGRESS, 3004);
    ASSERT_EQ(out->deadline, 1005 + 2968); /* the lease's end, not 4004 */
    feed(LC_IN_TICK, 3005);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
    ASSERT(!(out->actions & LC_ACT_DISCONNECT));
    ASSERT(out->status.connected);
    reply_int(3500, 2, 1);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_CONFIRMED);
    ASSERT_EQ(lc_has_lease(&core, 2005 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, 2005 + 2968), 0);
}

/* The leader steps down at its deadline, but the link that keeps
 * answering is kept: closing it would take every other election's
 * connection with it. The late reply, a success, is news of nothing; the
 * follower then acquires, for a new term. */
TEST(a_renewal_queued_past_the_lease_ends_it_at_the_deadline)
{
    elect();
    feed(LC_IN_TICK, 2005);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    feed(LC_IN_PROGRESS, 3004);
    feed(LC_IN_PROGRESS, 3900); /* never past the lease */
    ASSERT_EQ(out->deadline, 1005 + 2968);
    feed(LC_IN_TICK, 1005 + 2968);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    ASSERT(!(out->actions & LC_ACT_DISCONNECT));
    ASSERT(out->status.connected);
    ASSERT_EQ(out->ncmds, 0); /* the renewal's reply comes first */
    ASSERT_EQ(lc_has_lease(&core, 1005 + 2968), 0);
    ASSERT_EQ(out->deadline, 4900); /* waited for as a follower's */
    reply_int(4100, 2, 1);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_NONE);
    ASSERT_EQ(lc_has_lease(&core, 4100), 0);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7);
}

/* A renewal sent late, on a link that stays silent: the leader steps
 * down at its deadline, and gives the link up at the renewal's own
 * timeout, not before (the link may be answering others). */
TEST(a_late_renewal_on_a_silent_link_ends_the_lease_then_the_link)
{
    elect();
    feed(LC_IN_TICK, 3900);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    ASSERT_EQ(out->deadline, 1005 + 2968);
    feed(LC_IN_TICK, 1005 + 2968);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    ASSERT(!(out->actions & LC_ACT_DISCONNECT));
    ASSERT_EQ(out->deadline, 4900);
    feed(LC_IN_TICK, 4899);
    ASSERT(out->status.connected);
    feed(LC_IN_TICK, 4900);
    ASSERT(out->actions & LC_ACT_DISCONNECT);
    ASSERT(!out->status.connected);
    ASSERT_EQ(out->renewal.outcome, LC_RENEW_LATE);
}

TEST(stop_during_an_acquire_releases_what_it_wins_silently)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    feed(LC_IN_STOP, 1001);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(lc_busy(&core), 1);
    reply_won(1002, 1, 3);
    ASSERT_EQ(out->nevents, 0);
    expect_cmd(LC_CMD_RELEASE, 2, 3);
    reply_int(1003, 2, 1);
    ASSERT_EQ(lc_busy(&core), 0);
}

TEST(stop_gives_up_on_a_release_without_answer)
{
    elect();
    feed(LC_IN_STOP, 1500);
    ASSERT_EQ(out->deadline, 2500);
    feed(LC_IN_TICK, 2500);
    ASSERT_EQ(lc_busy(&core), 0);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT);
    ASSERT_EQ(out->nevents, 0); /* REVOKED came once, at the stop */
}

TEST(lost_acquire_reply_is_resolved_by_acquiring_again)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    conn_event(LC_IN_CONN_LOST, 1001, LEADER_ECONN);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT); /* first loss: at once */
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].error, LEADER_ECONN);
    reply_won(1002, 1, 5); /* from the dead connection: ignored */
    ASSERT_EQ(out->nevents, 0);
    feed(LC_IN_CONNECTED, 1003);
    expect_cmd(LC_CMD_ACQUIRE, 2, 0);
    reply_won(1004, 2, 6);
    expect_event(0, LC_EV_ELECTED, 6, 0);
}

TEST(stale_and_superseded_replies_are_dropped)
{
    elect();
    reply_won(1100, 1, 9); /* seq 1 was answered already */
    ASSERT_EQ(out->nevents, 0);
    reply_int(1100, 99, 0);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 1100), 1);
}

TEST(error_replies_back_off_and_report_once)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_err(1001, 1, "WRONGTYPE Operation against a key");
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
    ASSERT_EQ(out->events[0].error, LEADER_EWRONGTYPE);
    ASSERT_NOT_NULL(strstr(out->events[0].message, "WRONGTYPE"));
    ASSERT_GE(out->deadline, 1001 + 10);
    ASSERT_LE(out->deadline, 1001 + 20);
    feed(LC_IN_TICK, out->deadline);
    expect_cmd(LC_CMD_ACQUIRE, 2, 0);
    reply_err(1100, 2, "WRONGTYPE Operation against a key");
    ASSERT_EQ(out->nevents, 0); /* the same streak */
    ASSERT_GE(out->deadline, 1100 + 20);
    ASSERT_LE(out->deadline, 1100 + 40);
}

TEST(connect_failures_back_off_up_to_the_cap)
{
    lc_time now = 1000;

    setup(3000, 1000);
    feed(LC_IN_START, now);
    conn_event(LC_IN_CONN_FAILED, now, LEADER_ECONN);
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT); /* the first retry: at once */
    for (int i = 0; i < 10; i++) {
        conn_event(LC_IN_CONN_FAILED, now, LEADER_ECONN);
        ASSERT_EQ(out->nevents, 0); /* reported once per streak */
        ASSERT_EQ(out->actions, 0);
        ASSERT_GT(out->deadline, now);
        ASSERT_LE(out->deadline, now + 500);
        now = out->deadline;
        feed(LC_IN_TICK, now);
        ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    }
}

TEST(connect_timeout_counts_as_a_failure)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_TICK, 2000);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT | LC_ACT_CONNECT);
    ASSERT_EQ(out->events[0].error, LEADER_ETIMEDOUT);
}

/* A lost acquire whose reply names the counter (the acquire script's
 * fourth element). */
static const struct lc_output *reply_lost_term(lc_time now, uint64_t seq,
                                               const char *holder,
                                               long long pttl, const char *t)
{
    struct lc_value el[4] = {
        {.type = LC_VAL_INT, .integer = 0},
        {.type = LC_VAL_STR, .str = holder, .len = strlen(holder)},
        {.type = LC_VAL_INT, .integer = pttl},
        {.type = LC_VAL_STR, .str = t, .len = strlen(t)}};
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = el, .n = 4};
    return reply(now, seq, &v);
}

TEST(won_term_not_above_a_seen_term_is_refused)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(1001, 1, "other", 2000, "10");
    notify(1002, "released 10 other");
    expect_cmd(LC_CMD_ACQUIRE, 2, 10);
    reply_won(1003, 2, 10); /* a server that ignores the floor */
    ASSERT_EQ(out->nevents, 1);
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
    ASSERT_EQ(out->events[0].error, LEADER_EPROTO);
    ASSERT_EQ(out->cmds[0].kind, LC_CMD_RELEASE);
    ASSERT_EQ(lc_has_lease(&core, 1003), 0);
}

TEST(a_win_answered_after_the_lease_is_handed_back)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    /* Sent at 1000: the lease would have ended at 3968. */
    reply_won(3968, 1, 2);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->ncmds, 2);
    ASSERT_EQ(out->cmds[0].kind, LC_CMD_RELEASE);
    ASSERT_EQ(out->cmds[0].term, 2);
    ASSERT_EQ(out->cmds[1].kind, LC_CMD_ACQUIRE);
}

TEST(time_never_goes_backwards)
{
    elect(); /* now is 1050 */
    feed(LC_IN_STOP, 900);
    reply_int(800, 2, 1);
    feed(LC_IN_START, 800);
    feed(LC_IN_CONNECTED, 700);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7);
    reply_won(700, 3, 8);
    /* The acquire counts as sent at 1050, the latest time seen. */
    ASSERT_EQ(lc_has_lease(&core, 1050 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, 1050 + 2968), 0);
}

TEST(revoked_exactly_once_per_elected)
{
    elect();
    feed(LC_IN_TICK, 3973 + 10); /* lease over without renewal */
    ASSERT_EQ(out->events[0].kind, LC_EV_REVOKED);
    feed(LC_IN_STOP, 4000);
    for (int i = 0; i < out->nevents; i++)
        ASSERT_NE(out->events[i].kind, LC_EV_REVOKED);
}

TEST(start_after_stop_campaigns_with_the_old_term_as_floor)
{
    elect();
    feed(LC_IN_STOP, 1500);
    reply_int(1501, 2, 1);
    feed(LC_IN_START, 1600);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    feed(LC_IN_CONNECTED, 1601);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7);
}

TEST(lease_length_keeps_the_drift_margin)
{
    ASSERT_EQ(lc_lease_length(10000), 10000 - 102);
    ASSERT_EQ(lc_lease_length(3000), 2968);
    ASSERT_EQ(lc_lease_length(10), 10 - 2);
}

/* ---- who leads: CHANGED events, and observers ---- */

static const struct lc_output *reply_read(lc_time now, uint64_t seq,
                                          const char *holder, long long pttl,
                                          const char *term)
{
    struct lc_value el[3] = {{.type = LC_VAL_NIL},
                             {.type = LC_VAL_INT, .integer = pttl},
                             {.type = LC_VAL_NIL}};
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = el, .n = 3};

    if (holder != NULL) {
        el[0].type = LC_VAL_STR;
        el[0].str = holder;
        el[0].len = strlen(holder);
    }
    if (term != NULL) {
        el[2].type = LC_VAL_STR;
        el[2].str = term;
        el[2].len = strlen(term);
    }
    return reply(now, seq, &v);
}

static void expect_changed(int i, const char *holder, uint64_t term,
                           const char *cause)
{
    expect_event(i, LC_EV_CHANGED, term, 0);
    ASSERT_STR_EQ(out->events[i].holder, holder);
    ASSERT_STR_EQ(out->events[i].message, cause);
}

TEST(elected_candidate_reports_itself_as_leader)
{
    elect();
    ASSERT_EQ(out->nevents, 2);
    expect_event(0, LC_EV_ELECTED, 7, 0);
    expect_changed(1, "me", 7, "elected");
    notify(1060, "elected 7 me"); /* our own notification: no news */
    ASSERT_EQ(out->nevents, 0);
}

TEST(follower_reports_the_holder_and_its_term)
{
    struct lc_value el[4] = {{.type = LC_VAL_INT, .integer = 0},
                             {.type = LC_VAL_STR, .str = "other", .len = 5},
                             {.type = LC_VAL_INT, .integer = 900},
                             {.type = LC_VAL_STR, .str = "12", .len = 2}};
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = el, .n = 4};

    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply(1001, 1, &v);
    ASSERT_EQ(out->nevents, 1);
    expect_changed(0, "other", 12, "elected");
    ASSERT_EQ(out->deadline, 1901);
    feed(LC_IN_TICK, 1901);
    reply(1902, 2, &v); /* the same holder and term: nothing new */
    ASSERT_EQ(out->nevents, 0);
}

TEST(notifications_report_elections_and_releases)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1001, 1, "a", 2000);
    notify(1100, "released 3 a");
    expect_changed(0, NULL, 3, "released");
    notify(1101, "elected 4 b");
    ASSERT_EQ(out->nevents, 1);
    expect_changed(0, "b", 4, "elected");
    notify(1102, "elected 2 old"); /* stale: an older term */
    ASSERT_EQ(out->nevents, 0);
    notify(1103, "released 2 old");
    ASSERT_EQ(out->nevents, 0);
}

TEST(winning_after_a_crash_reports_the_expiry_first)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1001, 1, "crashed", 500);
    feed(LC_IN_TICK, 1501);
    reply_won(1502, 2, 9);
    ASSERT_EQ(out->nevents, 3);
    expect_changed(0, NULL, 0, "expired");
    expect_event(1, LC_EV_ELECTED, 9, 0);
    expect_changed(2, "me", 9, "elected");
}

TEST(observer_reads_and_never_campaigns)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    feed(LC_IN_CONNECTED, 1001);
    expect_cmd(LC_CMD_READ, 1, 0);
    reply_read(1002, 1, NULL, -2, NULL);
    expect_changed(0, NULL, 0, "no leader");
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 2002); /* poll every wait */
    feed(LC_IN_TICK, 2002);
    expect_cmd(LC_CMD_READ, 2, 0);
    reply_read(2003, 2, "x", 400, "5");
    expect_changed(0, "x", 5, "elected");
    ASSERT_EQ(out->deadline, 2404); /* just after its key would expire */
    feed(LC_IN_TICK, 2404);
    expect_cmd(LC_CMD_READ, 3, 0);
    reply_read(2405, 3, NULL, -2, "5");
    expect_changed(0, NULL, 5, "expired");
    ASSERT_EQ(lc_has_lease(&core, 2405), 0);
    ASSERT_EQ(lc_busy(&core), 1);
}

TEST(observer_sees_a_bare_delete_as_a_release_within_wait)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_read(1001, 1, "node", 10000, NULL);
    expect_changed(0, "node", 0, "elected");
    ASSERT_EQ(out->deadline, 2001);
    feed(LC_IN_TICK, 2001);
    reply_read(2002, 2, NULL, -2, NULL); /* DEL'd long before expiry */
    expect_changed(0, NULL, 0, "released");
}

TEST(observer_rereads_after_a_gap_and_on_notifications)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_read(1001, 1, "x", 2500, "5");
    conn_event(LC_IN_CONN_LOST, 1100, LEADER_ECONN);
    feed(LC_IN_CONNECTED, 1101);
    expect_cmd(LC_CMD_READ, 2, 0); /* after any gap: read again */
    reply_read(1102, 2, "x", 2400, "5");
    ASSERT_EQ(out->nevents, 0); /* nothing changed meanwhile */
    notify(1200, "elected 6 y");
    expect_changed(0, "y", 6, "elected");
    expect_cmd(LC_CMD_READ, 3, 0); /* to learn when y's key expires */
    reply_read(1201, 3, "y", 2999, "6");
    ASSERT_EQ(out->nevents, 0);
    feed(LC_IN_STOP, 1300);
    ASSERT_EQ(lc_busy(&core), 0);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT);
}

TEST(observer_read_racing_a_stop_reports_a_release)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_read(1001, 1, NULL, -2, "4");
    expect_changed(0, NULL, 4, "no leader");
    notify(1100, "elected 5 y");
    expect_changed(0, "y", 5, "elected");
    expect_cmd(LC_CMD_READ, 2, 0);
    /* y stopped before the read got there: its release is on its way. */
    reply_read(1102, 2, NULL, -2, "5");
    expect_changed(0, NULL, 5, "released");
    notify(1103, "released 5 y");
    ASSERT_EQ(out->nevents, 0);
}

/* A read sent before a release was heard, answered after it: its holder
 * is that released leadership, which never comes back with the same term.
 * Only a read sent after the release (Redis asked later) may say it still
 * holds: then the release was forged. */
TEST(observer_read_answered_after_a_release_is_stale)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_read(1001, 1, NULL, -2, "4");
    notify(1100, "elected 5 y");
    expect_changed(0, "y", 5, "elected");
    expect_cmd(LC_CMD_READ, 2, 0); /* in flight... */
    notify(1101, "released 5 y");  /* ...when y releases */
    expect_changed(0, NULL, 5, "released");
    reply_read(1102, 2, "y", 1900, "5"); /* read before the release */
    ASSERT_EQ(out->nevents, 0);
    feed(LC_IN_TICK, 2102);
    expect_cmd(LC_CMD_READ, 3, 0);
    reply_read(2103, 3, "y", 900, "5"); /* asked after: y holds after all */
    expect_changed(0, "y", 5, "elected");
}

/* A read sent before the first election of a key was heard of, answered
 * after: it found neither a holder nor a counter, which is older news than
 * the notification, not a release. */
TEST(observer_read_from_before_a_first_election_is_stale)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_read(1001, 1, NULL, -2, NULL);
    expect_changed(0, NULL, 0, "no leader");
    feed(LC_IN_SUBSCRIBED, 1002);
    expect_cmd(LC_CMD_READ, 2, 0); /* in flight... */
    notify(1003, "elected 5 y");   /* ...when y's first win is heard */
    expect_changed(0, "y", 5, "elected");
    reply_read(1004, 2, NULL, -2, NULL); /* read before the win */
    ASSERT_EQ(out->nevents, 0);
}

TEST(observer_reports_read_errors_and_backs_off)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_err(1001, 1, "NOAUTH Authentication required.");
    expect_event(0, LC_EV_ERROR, 0, LEADER_EAUTH);
    ASSERT_GE(out->deadline, 1011);
    ASSERT_LE(out->deadline, 1021);
}

/* A core of ttl 3000 and the given seed, its acquire sent at 1000 and won
 * (term 7) at answered. */
static void elect_seeded(uint64_t seed, lc_time answered)
{
    struct lc_config cfg = {"me", 3000, 1000, seed, 0, 0};

    ASSERT_OK(lc_init(&core, &cfg));
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_won(answered, 1, 7);
}

/* 1 if v[i] is none of v[0..i). */
static int is_new(const lc_time *v, int i)
{
    for (int j = 0; j < i; j++)
        if (v[j] == v[i])
            return 0;
    return 1;
}

TEST(renewals_after_a_burst_spread_then_keep_their_rhythm)
{
    lc_time first[8];
    int distinct = 0;

    for (int i = 0; i < 8; i++) {
        elect_seeded((uint64_t) i + 1, 1001);
        first[i] = out->deadline;
        ASSERT_GE(first[i], 1500);
        ASSERT_LE(first[i], 2000);
        distinct += i > 0 && is_new(first, i);
        feed(LC_IN_TICK, first[i]);
        reply_int(first[i] + 1, 2, 1);
        ASSERT_EQ(out->deadline, first[i] + 1000); /* then every ttl/3 */
    }
    ASSERT_GE(distinct, 5);
}

TEST(elections_answered_late_spread_their_first_renewals_from_now)
{
    lc_time first[8];
    int distinct = 0;

    /* Acquires sent together at 1000 and answered at 1900, as when Redis
     * works through many at once: a renewal point in the second half of
     * the first interval (1500..2000) is mostly past, and all those would
     * renew at once, together. */
    for (int i = 0; i < 8; i++) {
        elect_seeded((uint64_t) i + 1, 1900);
        ASSERT_EQ(out->ncmds, 0);
        first[i] = out->deadline;
        ASSERT_GT(first[i], 1900);
        ASSERT_LE(first[i], 2401);
        distinct += i > 0 && is_new(first, i);
    }
    ASSERT_GE(distinct, 5);
}

TEST(an_election_answered_two_intervals_late_renews_next)
{
    struct lc_config cfg = {"me", 3000, 1000, 1, 0, 0};

    ASSERT_OK(lc_init(&core, &cfg));
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    feed(LC_IN_PROGRESS, 1999); /* queued behind others: waited for */
    reply_won(2999, 1, 7);
    expect_event(0, LC_EV_ELECTED, 7, 0);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 3000); /* an interval of the lease is left */
    feed(LC_IN_TICK, 3000);
    expect_cmd(LC_CMD_RENEW, 2, 7);
}

TEST(a_renewal_sent_late_spreads_the_next_one)
{
    lc_time next[8];
    int distinct = 0;

    /* The renewal due at renew_at goes out 200 ms late (a stall): with it
     * go every other election's that fell due meanwhile, so the next one
     * is drawn from the second half of the interval, not kept in step. */
    for (int i = 0; i < 8; i++) {
        lc_time due;
        elect_seeded((uint64_t) i + 1, 1001);
        due = out->deadline;
        feed(LC_IN_TICK, due);
        reply_int(due + 1, 2, 1);
        ASSERT_EQ(out->deadline, due + 1000); /* on time: in step */
        feed(LC_IN_TICK, due + 1000 + 200);
        expect_cmd(LC_CMD_RENEW, 3, 7);
        reply_int(due + 1201, 3, 1);
        next[i] = out->deadline - (due + 1200); /* from the late send */
        ASSERT_GE(next[i], 500);
        ASSERT_LE(next[i], 1000);
        distinct += i > 0 && is_new(next, i);
    }
    ASSERT_GE(distinct, 5);
}

TEST(own_election_notified_before_its_reply_still_elects)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    notify(1001, "elected 6 me"); /* the reply is still on its way */
    ASSERT_EQ(out->ncmds, 0);
    reply_won(1002, 1, 6);
    expect_event(0, LC_EV_ELECTED, 6, 0);
    ASSERT_EQ(lc_has_lease(&core, 1002), 1);
}

/* ---- a new term for the current leadership ---- */

/* elect(), then a new term asked for at 1100: acquire seq 2 with the
 * highest term seen (7) as its floor. */
static void ask_new_term(void)
{
    elect();
    feed(LC_IN_NEW_TERM, 1100);
    expect_cmd(LC_CMD_ACQUIRE, 2, 7);
    ASSERT_EQ(out->nevents, 0);
}

TEST(new_term_request_sends_acquire_with_the_floor)
{
    ask_new_term();
    ASSERT_EQ(out->deadline, 2100); /* the reply timeout */
    ASSERT_EQ(lc_has_lease(&core, 1100), 1);
    feed(LC_IN_NEW_TERM, 1101); /* asked again: one request stands */
    ASSERT_EQ(out->ncmds, 0);
}

TEST(granted_new_term_revokes_the_old_then_elects_the_new)
{
    ask_new_term();
    reply_won(1400, 2, 9);
    ASSERT_EQ(out->nevents, 3);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    ASSERT_STR_EQ(out->events[0].message, "superseded by term 9");
    expect_event(1, LC_EV_ELECTED, 9, 0);
    ASSERT_STR_EQ(out->events[1].holder, "me");
    expect_changed(2, "me", 9, "elected");
    ASSERT_EQ(out->ncmds, 0);
    /* The lease counts from the send time (1100), not the reply (1400). */
    ASSERT_EQ(lc_has_lease(&core, 1100 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, 1100 + 2968), 0);
    ASSERT_EQ(out->deadline, 2100); /* renewal: send time + ttl/3 */
    feed(LC_IN_TICK, 2100);
    expect_cmd(LC_CMD_RENEW, 3, 9);
    reply_int(2101, 3, 1);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 2100 + 2968 - 1), 1);
    feed(LC_IN_STOP, 2200); /* one REVOKED for the new term, no more */
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 9, 0);
    expect_cmd(LC_CMD_RELEASE, 4, 9);
}

TEST(new_term_refused_by_another_holder_revokes_once)
{
    ask_new_term();
    reply_lost(1101, 2, "other", 2500);
    ASSERT_EQ(out->nevents, 2);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELOST);
    expect_changed(1, "other", 7, "elected");
    ASSERT_EQ(lc_has_lease(&core, 1101), 0);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->deadline, 2101); /* a follower now: try after wait */
    feed(LC_IN_TICK, 2101);
    expect_cmd(LC_CMD_PROBE, 3, 0);
    feed(LC_IN_STOP, 2102);
    ASSERT_EQ(out->nevents, 0);
}

TEST(new_term_error_is_retried_then_steps_down_at_the_deadline)
{
    lc_time now;
    uint64_t seq = 3;

    ask_new_term();
    reply_err(1101, 2, "ERR boom");
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_ERROR, 7, LEADER_EREDIS);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_GE(out->deadline, 1101 + 10); /* the first backoff */
    ASSERT_LE(out->deadline, 1101 + 20);
    ASSERT_EQ(lc_has_lease(&core, 1101), 1);
    for (now = out->deadline; now < 3973; now = out->deadline) {
        feed(LC_IN_TICK, now);
        expect_cmd(LC_CMD_ACQUIRE, seq, 7); /* never a renewal */
        reply_err(now + 1, seq++, "ERR boom");
        ASSERT_EQ(out->nevents, 0); /* the same streak */
        ASSERT_LE(out->deadline, 3973);
    }
    ASSERT_GT(seq, 5); /* backed off, not given up */
    ASSERT_EQ(now, 3973);
    ASSERT_EQ(lc_has_lease(&core, 3972), 1);
    feed(LC_IN_TICK, 3973);
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    ASSERT_EQ(lc_has_lease(&core, 3973), 0);
}

TEST(new_term_reply_lost_acquires_again_after_reconnect)
{
    ask_new_term();
    conn_event(LC_IN_CONN_LOST, 1150, LEADER_ECONN);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_ERROR, 7, LEADER_ECONN);
    reply_won(1151, 2, 9); /* from the dead connection: not an answer */
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 1151), 1);
    feed(LC_IN_CONNECTED, 1160);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7); /* not a renewal of term 7 */
    reply_won(1170, 3, 10);
    ASSERT_EQ(out->nevents, 3);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    expect_event(1, LC_EV_ELECTED, 10, 0);
    ASSERT_EQ(lc_has_lease(&core, 1160 + 2968 - 1), 1);
    ASSERT_EQ(lc_has_lease(&core, 1160 + 2968), 0);
}

TEST(new_term_reply_timeout_acquires_again_after_reconnect)
{
    lc_time t;

    ask_new_term();
    feed(LC_IN_TICK, 2100);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT | LC_ACT_CONNECT);
    expect_event(0, LC_EV_ERROR, 7, LEADER_ETIMEDOUT);
    feed(LC_IN_CONNECTED, 2110);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7);
    ASSERT_EQ(out->deadline, 3110);
    /* Unanswered again: a second loss reconnects after a backoff, and
     * at the deadline the leader steps down. */
    feed(LC_IN_TICK, 3110);
    ASSERT_EQ(out->actions, LC_ACT_DISCONNECT);
    t = out->deadline;
    ASSERT_LE(t, 3110 + 500);
    feed(LC_IN_TICK, t);
    ASSERT_EQ(out->actions, LC_ACT_CONNECT);
    feed(LC_IN_CONNECTED, t + 1);
    expect_cmd(LC_CMD_ACQUIRE, 4, 7);
    ASSERT_EQ(out->deadline, 3973);
    feed(LC_IN_TICK, 3973);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
}

TEST(new_term_asked_during_a_renewal_goes_after_its_reply)
{
    lc_time t;

    elect();
    t = out->deadline;
    feed(LC_IN_TICK, t);
    expect_cmd(LC_CMD_RENEW, 2, 7);
    feed(LC_IN_NEW_TERM, t + 1);
    ASSERT_EQ(out->ncmds, 0); /* one command at a time */
    reply_int(t + 2, 2, 1);
    expect_cmd(LC_CMD_ACQUIRE, 3, 7);
    reply_won(t + 3, 3, 8);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    expect_event(1, LC_EV_ELECTED, 8, 0);
}

TEST(stop_while_a_new_term_is_in_flight_releases_the_granted_term)
{
    ask_new_term();
    feed(LC_IN_STOP, 1110);
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    ASSERT_EQ(out->ncmds, 0); /* the release waits for the acquire */
    ASSERT_EQ(lc_has_lease(&core, 1110), 0);
    ASSERT_EQ(lc_busy(&core), 1);
    reply_won(1120, 2, 9);
    ASSERT_EQ(out->nevents, 0); /* stopped: no ELECTED */
    expect_cmd(LC_CMD_RELEASE, 3, 9);
    reply_int(1121, 3, 1);
    ASSERT_EQ(lc_busy(&core), 0);
}

TEST(stop_while_a_new_term_fails_releases_the_old_term)
{
    ask_new_term();
    feed(LC_IN_STOP, 1110);
    reply_err(1120, 2, "ERR boom");
    ASSERT_EQ(out->nevents, 0);
    expect_cmd(LC_CMD_RELEASE, 3, 7);
    reply_int(1121, 3, 1);
    ASSERT_EQ(lc_busy(&core), 0);
}

TEST(stop_while_a_new_term_backs_off_releases_at_once)
{
    ask_new_term();
    reply_err(1101, 2, "ERR boom");
    feed(LC_IN_STOP, 1102);
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 7, 0);
    expect_cmd(LC_CMD_RELEASE, 3, 7);
    feed(LC_IN_TICK, 1200); /* the retry time passes: nothing more */
    ASSERT_EQ(out->ncmds, 0);
}

TEST(new_term_request_is_ignored_unless_leading)
{
    setup(3000, 1000);
    feed(LC_IN_NEW_TERM, 1000); /* idle */
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->actions, 0);
    ASSERT_EQ(out->deadline, LC_NEVER);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost(1010, 1, "other", 2900); /* a follower */
    ASSERT_EQ(out->deadline, 2010);
    feed(LC_IN_NEW_TERM, 1100);
    ASSERT_EQ(out->ncmds, 0);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(out->deadline, 2010);
    feed(LC_IN_TICK, 2010);
    expect_cmd(LC_CMD_PROBE, 2, 0); /* as if never asked */

    elect();
    feed(LC_IN_TICK, 3973); /* the lease ran out: a follower again */
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    feed(LC_IN_NEW_TERM, 3974);
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 3974), 0);
}

TEST(new_term_not_above_the_floor_steps_down_and_hands_back)
{
    ask_new_term();
    reply_won(1101, 2, 7);
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_EPROTO);
    expect_cmd(LC_CMD_RELEASE, 3, 7);
    ASSERT_EQ(lc_has_lease(&core, 1101), 0);
    ASSERT_GT(out->deadline, 1101); /* the next acquire backs off */
}

TEST(new_term_granted_after_its_lease_steps_down_and_hands_back)
{
    ask_new_term();
    reply_won(1100 + 2968, 2, 9); /* sent at 1100 */
    ASSERT_EQ(out->nevents, 1);
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELEASE);
    ASSERT_EQ(out->ncmds, 2);
    ASSERT_EQ(out->cmds[0].kind, LC_CMD_RELEASE);
    ASSERT_EQ(out->cmds[0].term, 9);
    ASSERT_EQ(out->cmds[1].kind, LC_CMD_ACQUIRE);
    ASSERT_EQ(out->cmds[1].term, 9);
}

TEST(own_notification_of_the_new_term_keeps_the_leader)
{
    ask_new_term();
    notify(1101, "elected 9 me"); /* before the reply */
    ASSERT_EQ(out->nevents, 0);
    ASSERT_EQ(lc_has_lease(&core, 1101), 1);
    reply_won(1102, 2, 9); /* the notified term is no floor */
    expect_event(0, LC_EV_REVOKED, 7, 0);
    expect_event(1, LC_EV_ELECTED, 9, 0);
    notify(1103, "elected 9 me"); /* after it: no news either */
    ASSERT_EQ(out->nevents, 0);
}

/* ---- terms: floors from replies only, notifications as hints ---- */

TEST(refused_wins_back_off_more_each_time_and_report_once)
{
    lc_time prev_wait = 0, now = 1001;

    setup(60000, 1000); /* backoff cap 1000 */
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(now, 1, "other", 0, "10"); /* expired: try now */
    for (uint64_t seq = 2, i = 0; i < 8; i++) {
        lc_time wait;

        now++;
        expect_cmd(LC_CMD_ACQUIRE, seq, 10);
        reply_won(now, seq, 10); /* every win not above the floor */
        ASSERT_EQ(lc_has_lease(&core, now), 0);
        ASSERT_EQ(out->nevents, i == 0 ? 1 : 0); /* one ERROR a streak */
        ASSERT_EQ(out->cmds[0].kind, LC_CMD_RELEASE);
        wait = out->deadline - now;
        /* 20, 40, 80, ... ms (jitter over the upper half), up to 1 s. */
        ASSERT_GE(wait, (i < 6 ? 20 << i : 1000) / 2);
        ASSERT_GE(wait * 2 + 1, prev_wait);
        prev_wait = wait;
        seq += 2; /* the release took a seq */
        feed(LC_IN_TICK, out->deadline);
    }
    ASSERT_GE(prev_wait, 500);
}

TEST(lost_acquire_raises_the_floor_to_the_counter)
{
    /* Joined after the holder's election, which it never saw. */
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(1001, 1, "other", 500, "42");
    feed(LC_IN_TICK, 1501);
    expect_cmd(LC_CMD_ACQUIRE, 2, 42);
    reply_won(1502, 2, 42); /* a counter gone back (a lost and */
    ASSERT_EQ(lc_has_lease(&core, 1502), 0); /* stale one): refused */
    ASSERT_EQ(out->events[0].kind, LC_EV_ERROR);
}

TEST(counter_out_of_range_in_a_lost_reply_is_no_floor)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(1001, 1, "other", 500, "42");
    feed(LC_IN_TICK, 1501);
    /* Set by hand above the maximum: followed, but no floor. */
    reply_lost_term(1502, 2, "other", 400, "9007199254740993");
    ASSERT_EQ(out->nevents, 0);
    feed(LC_IN_TICK, 1902);
    expect_cmd(LC_CMD_ACQUIRE, 3, 42);
}

TEST(new_term_refused_by_a_holder_raises_the_floor)
{
    elect();
    feed(LC_IN_NEW_TERM, 1100);
    expect_cmd(LC_CMD_ACQUIRE, 2, 7);
    reply_lost_term(1101, 2, "other", 2000, "30");
    expect_event(0, LC_EV_REVOKED, 7, LEADER_ELOST);
    feed(LC_IN_TICK, out->deadline);
    expect_cmd(LC_CMD_PROBE, 3, 0);
    reply_int(1102 + 1000, 3, -2);
    expect_cmd(LC_CMD_ACQUIRE, 4, 30);
}

TEST(observer_read_raises_the_floor_for_a_later_campaign)
{
    setup(3000, 1000);
    feed(LC_IN_OBSERVE, 1000);
    feed(LC_IN_CONNECTED, 1000);
    expect_cmd(LC_CMD_READ, 1, 0);
    reply_read(1001, 1, "other", 2000, "77");
    feed(LC_IN_STOP, 1002);
    feed(LC_IN_START, 1003);
    feed(LC_IN_CONNECTED, 1004);
    expect_cmd(LC_CMD_ACQUIRE, 2, 77);
}

TEST(notified_terms_raise_no_floor)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(1001, 1, "other", 2000, "10");
    notify(1002, "elected 8999999999999999 mallory");
    expect_cmd(LC_CMD_ACQUIRE, 2, 10); /* sooner, with its own floor */
    notify(1003, "elected 8999999999999998 mallory");
    reply_won(1004, 2, 11); /* granted by Redis: never refused */
    ASSERT_EQ(out->nevents, 3);
    expect_changed(0, NULL, 8999999999999999ULL, "expired"); /* the hint's */
    expect_event(1, LC_EV_ELECTED, 11, 0);
    expect_changed(2, "me", 11, "elected"); /* Redis overrules the hint */
    ASSERT_EQ(lc_has_lease(&core, 1004), 1);
}

TEST(forged_terms_do_not_silence_later_reports)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    reply_lost_term(1001, 1, "a", 2000, "10");
    expect_changed(0, "a", 10, "elected");
    notify(1002, "elected 8999999999999999 mallory");
    expect_changed(0, "mallory", 8999999999999999ULL, "elected");
    expect_cmd(LC_CMD_ACQUIRE, 2, 10);
    /* Redis, asked after the hint, says otherwise: that wins. */
    reply_lost_term(1003, 2, "a", 1900, "10");
    expect_changed(0, "a", 10, "elected");
    notify(1004, "elected 9 old"); /* an older term is stale again */
    ASSERT_EQ(out->nevents, 0);
}

TEST(a_reply_sent_before_a_notification_does_not_overrule_it)
{
    setup(3000, 1000);
    feed(LC_IN_START, 1000);
    feed(LC_IN_CONNECTED, 1000);
    expect_cmd(LC_CMD_ACQUIRE, 1, 0);
    notify(1001, "elected 12 b"); /* while acquire 1 is in flight */
    expect_changed(0, "b", 12, "elected");
    reply_lost_term(1002, 1, "a", 100, "11"); /* read before it */
    ASSERT_EQ(out->nevents, 0);
}
