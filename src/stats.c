/* SPDX-License-Identifier: BSD-3-Clause */
/* stats.c - a handle's counters for operators: counted on the loop from
 * what each step of the handle's core reports (its events, its renewal,
 * its commands, its connection), and read lock-free by leader_stats().
 *
 * The loop is the only writer, so a counter is bumped with a relaxed load
 * and store, not a read-modify-write: no locked instruction on the loop,
 * and readers on other threads still see whole words (C11 atomics).
 */
#include "util/fmacros.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "leader_int.h"
#include "util/lu_clock.h"

/* The first version of leader_stats: the smallest a caller may pass. */
#define STATS_V1_SIZE                                                          \
    (offsetof(leader_stats, errors) + sizeof(((leader_stats *) 0)->errors))

static void add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
        memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static int64_t get_signed(const _Atomic int64_t *value)
{
    return atomic_load_explicit(value, memory_order_relaxed);
}

static void set_signed(_Atomic int64_t *value, int64_t v)
{
    atomic_store_explicit(value, v, memory_order_relaxed);
}

void lp_stats_init(struct lp_stats *st)
{
    memset(st, 0, sizeof *st);
}

void lp_stats_free(struct lp_stats *st)
{
    free(atomic_load_explicit(&st->errors, memory_order_relaxed));
}

/* The block is published with a release store, so that a reader that sees
 * it sees it zeroed. Out of memory, the error goes uncounted: a counter
 * is no reason to fail an election. */
static void count_error(struct lp_stats *st, int code)
{
    struct lp_errors *e =
        atomic_load_explicit(&st->errors, memory_order_relaxed);

    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL)
            return;
        atomic_store_explicit(&st->errors, e, memory_order_release);
    }
    add(&e->n[code > 0 && code < LEADER_STATS_ERRORS ? code : 0], 1);
}

/* The bucket of a round trip of rtt ms: the first whose bound 2^i holds
 * it. */
static unsigned rtt_bucket(lc_time rtt)
{
    unsigned i = 0;

    while (i < LEADER_STATS_BUCKETS - 1 && rtt > ((lc_time) 1 << i))
        i++;
    return i;
}

static void count_renewal(struct lp_stats *st, const struct lc_renewal *r)
{
    int64_t least;

    if (r->outcome == LC_RENEW_NONE)
        return;
    if (r->outcome == LC_RENEW_LATE) {
        add(&st->renewals_late, 1); /* no reply: not a round trip */
        return;
    }
    add(&st->renew_rtt[rtt_bucket(r->rtt)], 1);
    add(&st->renew_rtt_sum_ms, (uint64_t) (r->rtt > 0 ? r->rtt : 0));
    add(&st->renew_rtt_count, 1);
    if (r->outcome == LC_RENEW_REFUSED) {
        add(&st->renewals_refused, 1);
        return;
    }
    if (r->outcome == LC_RENEW_FAILED) {
        add(&st->renewals_failed, 1);
        return;
    }
    add(&st->renewals_confirmed, 1);
    set_signed(&st->lease_slack, r->slack);
    least = get_signed(&st->lease_slack_min);
    if (get(&st->renewals_confirmed) == 1 || r->slack < least)
        set_signed(&st->lease_slack_min, r->slack);
}

/* A connection that comes back after breaking is a reconnect; one opened
 * to start campaigning again after a stop is not. */
static void count_connection(struct lp_stats *st, const struct lc_output *o)
{
    if ((o->changed & LC_CHG_STATE) && o->status.state == LC_IDLE)
        st->conn_lost = 0;
    if (!(o->changed & LC_CHG_UP))
        return;
    if (o->status.connected && st->conn_lost) {
        st->conn_lost = 0;
        add(&st->reconnects, 1);
    } else if (!o->status.connected && o->status.state != LC_IDLE) {
        st->conn_lost = 1;
    }
}

static void count_revoked(struct lp_stats *st, const struct lc_event *ev,
                          const struct lc_output *o)
{
    switch (ev->error) {
    case 0:
        /* A new term revokes the old one and leads on; a stop does not. */
        add(o->status.state == LC_LEADER ? &st->revoked_new_term
                                         : &st->revoked_stop,
            1);
        break;
    case LEADER_ELOST:
        add(&st->revoked_lost, 1);
        break;
    case LEADER_ELEASE:
        add(&st->revoked_lease, 1);
        break;
    case LEADER_ECONN:
        add(&st->revoked_conn, 1);
        break;
    case LEADER_EUNHEALTHY:
        add(&st->revoked_unhealthy, 1);
        break;
    default:
        add(&st->revoked_other, 1);
    }
    set_signed(&st->leading_since, 0);
}

static void count_event(struct lp_stats *st, const struct lc_event *ev,
                        const struct lc_output *o)
{
    int code = -ev->error;

    switch (ev->kind) {
    case LC_EV_ELECTED:
        add(&st->elections_won, 1);
        set_signed(&st->leading_since, lu_now_ms());
        break;
    case LC_EV_REVOKED:
        count_revoked(st, ev, o);
        break;
    case LC_EV_ERROR:
        count_error(st, code);
        break;
    case LC_EV_CHANGED:
        break;
    }
}

void lp_stats_count(leader *l, const struct lc_event *ev,
                    const struct lc_output *step)
{
    struct lp_stats *st = &l->stats;

    assert(lp_io_lock_held(l->client));
    if (ev != NULL) {
        count_event(st, ev, step);
        return;
    }
    for (int i = 0; i < step->ncmds; i++)
        if (step->cmds[i].kind == LC_CMD_RENEW)
            add(&st->renewals_sent, 1);
    count_renewal(st, &step->renewal);
    count_connection(st, step);
}

int leader_stats_size(const leader *l, leader_stats *stats, size_t size)
{
    const struct lp_stats *st;
    const struct lp_errors *e;
    leader_stats s;

    if (l == NULL || stats == NULL || size < STATS_V1_SIZE)
        return LEADER_EINVAL;
    st = &l->stats;
    memset(&s, 0, sizeof s);
    s.leading = leader_has_lease(l);
    s.term = leader_term(l);
    s.lease_deadline_ms = leader_lease_deadline(l);
    s.leading_since_ms = s.term != 0 ? get_signed(&st->leading_since) : 0;
    s.elections_won = get(&st->elections_won);
    s.revoked_stop = get(&st->revoked_stop);
    s.revoked_new_term = get(&st->revoked_new_term);
    s.revoked_lost = get(&st->revoked_lost);
    s.revoked_lease = get(&st->revoked_lease);
    s.revoked_conn = get(&st->revoked_conn);
    s.revoked_unhealthy = get(&st->revoked_unhealthy);
    s.revoked_other = get(&st->revoked_other);
    s.renewals_sent = get(&st->renewals_sent);
    s.renewals_confirmed = get(&st->renewals_confirmed);
    s.renewals_late = get(&st->renewals_late);
    s.renewals_refused = get(&st->renewals_refused);
    s.renewals_failed = get(&st->renewals_failed);
    for (int i = 0; i < LEADER_STATS_BUCKETS; i++)
        s.renew_rtt[i] = get(&st->renew_rtt[i]);
    s.renew_rtt_count = get(&st->renew_rtt_count);
    s.renew_rtt_sum_ms = get(&st->renew_rtt_sum_ms);
    s.lease_slack_ms = get_signed(&st->lease_slack);
    s.lease_slack_min_ms = get_signed(&st->lease_slack_min);
    s.reconnects = get(&st->reconnects);
    e = atomic_load_explicit(&st->errors, memory_order_acquire);
    for (int i = 0; e != NULL && i < LEADER_STATS_ERRORS; i++)
        s.errors[i] = get(&e->n[i]);
    /* Never a byte beyond the caller's structure. */
    s.struct_size = size < sizeof s ? size : sizeof s;
    memcpy(stats, &s, s.struct_size);
    return 0;
}
