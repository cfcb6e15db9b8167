/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_quorum.c - see lc_quorum.h.
 *
 * Each reply moves one server's state; decide() then looks at the counts
 * alone, so the order the replies come in changes nothing but when the op
 * ends.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/lc_quorum.h"
#include "leader.h"

unsigned lc_q_majority(unsigned n)
{
    return n / 2 + 1;
}

lc_time lc_q_restart_bound(lc_time now, long long uptime_s)
{
#ifdef LC_BREAK_Q_UPTIME_EXACT
    /* Broken on purpose (tests/sim): the uptime taken as exact. */
    return now - (lc_time) uptime_s * 1000;
#endif
    return now - (lc_time) (uptime_s > 0 ? uptime_s - 1 : 0) * 1000;
}

int lc_q_eligible(lc_time restart_bound, lc_time ttl, lc_time now)
{
    lc_time drift = ttl - lc_lease_length(ttl);

#ifdef LC_BREAK_Q_COUNT_YOUNG
    /* Broken on purpose (tests/sim): a restarted server counts at once. */
    (void) drift;
    (void) now;
    return restart_bound != LC_NEVER;
#endif
    return restart_bound != LC_NEVER && now >= restart_bound + ttl + drift;
}

static unsigned count(const struct lc_qop *op, enum lc_qstate s)
{
    unsigned k = 0;

    for (unsigned i = 0; i < op->n; i++)
        k += op->st[i] == s;
    return k;
}

/* Starts a round to the servers in targets. */
static void start_round(struct lc_qop *op, unsigned targets)
{
    op->late = 0;
    for (unsigned i = 0; i < op->n; i++)
        if (op->st[i] == LC_QS_WAITING)
            op->late |= 1u << i;
    op->round++;
    op->targets = targets;
    for (unsigned i = 0; i < op->n; i++)
        op->st[i] = targets & 1u << i ? LC_QS_WAITING : LC_QS_IDLE;
}

void lc_qop_begin(struct lc_qop *op, const struct lc_cmd *cmd, unsigned n,
                  lc_time ttl, uint64_t floor, lc_time now)
{
    memset(op, 0, offsetof(struct lc_qop, holder));
    op->cmd = *cmd;
    op->n = (uint8_t) n;
    op->q = (uint8_t) lc_q_majority(n);
    op->ttl = ttl;
    op->sent = now;
    op->floor = floor > cmd->term ? floor : cmd->term;
    start_round(op, (1u << n) - 1);
}

enum lc_qwire lc_qop_wire(const struct lc_qop *op)
{
    switch (op->cmd.kind) {
    case LC_CMD_ACQUIRE:
        return op->round == 2 ? LC_QW_COMMIT : LC_QW_GRANT;
    case LC_CMD_RENEW:
        return LC_QW_RENEW;
    case LC_CMD_RELEASE:
        return LC_QW_RELEASE;
    case LC_CMD_READ:
        return LC_QW_READ;
    case LC_CMD_PROBE:
        return LC_QW_PROBE;
    }
    return LC_QW_NONE;
}

uint64_t lc_qop_term(const struct lc_qop *op)
{
    if (op->cmd.kind != LC_CMD_ACQUIRE)
        return op->cmd.term;
    /* An acquire's release before its term was read: no commit of it can
     * have happened, and the floor is below every later op's term. */
    return op->term != 0 ? op->term : op->floor;
}

unsigned lc_qop_targets(const struct lc_qop *op)
{
    return op->targets;
}

/* Whether a lease counted from the op's send is still running at now. */
static int in_lease(const struct lc_qop *op, lc_time now)
{
    return now < op->sent + lc_lease_length(op->ttl);
}

/* ---- the result ---- */

static void result_int(struct lc_qop *op, long long v)
{
    op->out = (struct lc_value){.type = LC_VAL_INT, .integer = v};
    op->done = 1;
}

static void result_error(struct lc_qop *op, const char *why)
{
    char text[LC_MSG_MAX];

    /* The first server's own error stays in the text: its code (NOAUTH,
     * WRONGTYPE, ...) is what the core classifies. */
    snprintf(text, sizeof text, "%.50s (%u yes, %u no of %u)%s%.70s", why,
             count(op, LC_QS_YES), count(op, LC_QS_NO), op->n,
             op->error_text[0] ? ": " : "", op->error_text);
    memcpy(op->error_text, text, sizeof text);
    op->out = (struct lc_value){.type = LC_VAL_ERR,
                                .str = op->error_text,
                                .len = strlen(op->error_text)};
    op->done = 1;
}

static void set_str(struct lc_value *v, const char *s, size_t len)
{
    *v = (struct lc_value){.type = LC_VAL_STR, .str = s, .len = len};
}

static void set_counter(struct lc_qop *op, struct lc_value *v)
{
    if (op->nvalid == 0) {
        *v = (struct lc_value){.type = LC_VAL_NIL};
        return;
    }
    snprintf(op->out_term, sizeof op->out_term, "%llu",
             (unsigned long long) op->counter_max);
    set_str(v, op->out_term, strlen(op->out_term));
}

/* The k-th smallest (1-based) of the n times t; the callers put LLONG_MAX
 * for a server that gave no time. */
static long long kth_smallest(const long long *t, unsigned n, unsigned k)
{
    long long v[LC_QUORUM_MAX];

    memcpy(v, t, n * sizeof *v);
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            long long x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return v[k - 1];
}

/* The holder most servers named among those in state s, or -1. */
static int common_holder(const struct lc_qop *op, enum lc_qstate s,
                         unsigned *votes)
{
    int best = -1;

    *votes = 0;
    for (unsigned i = 0; i < op->n; i++) {
        unsigned v = 0;
        if (op->st[i] != s || op->holder_len[i] == 0)
            continue;
        for (unsigned j = 0; j < op->n; j++)
            v += op->st[j] == s && op->holder_len[j] == op->holder_len[i] &&
                 memcmp(op->holder[j], op->holder[i], op->holder_len[i]) == 0;
        if (v > *votes) {
            *votes = v;
            best = (int) i;
        }
    }
    return best;
}

/* An acquire that did not win: {0, holder, pttl, counter} when a server
 * named a holder, else the failure. The pttl is how long until a
 * majority could be free: the q-th smallest wait, counting our own grants
 * as free (they are released) and a server that did not say as never. */
static void result_refused(struct lc_qop *op, const char *why)
{
    long long wait[LC_QUORUM_MAX];
    unsigned votes;
    int h = common_holder(op, LC_QS_NO, &votes);
    long long pttl;

    if (h < 0) {
        result_error(op, why);
        return;
    }
    for (unsigned i = 0; i < op->n; i++)
        wait[i] = op->granted & 1u << i                       ? 0
                  : op->st[i] == LC_QS_NO && op->busy[i] >= 0 ? op->busy[i]
                                                              : LLONG_MAX;
    pttl = kth_smallest(wait, op->n, op->q);
    op->out_elem[0] = (struct lc_value){.type = LC_VAL_INT, .integer = 0};
    set_str(&op->out_elem[1], op->holder[h], op->holder_len[h]);
    op->out_elem[2] = (struct lc_value){
        .type = LC_VAL_INT, .integer = pttl == LLONG_MAX ? -1 : pttl};
    set_counter(op, &op->out_elem[3]);
    op->out =
        (struct lc_value){.type = LC_VAL_ARRAY, .elem = op->out_elem, .n = 4};
    op->done = 1;
}

static void result_won(struct lc_qop *op)
{
    op->out_elem[0] = (struct lc_value){.type = LC_VAL_INT, .integer = 1};
    op->out_elem[1] =
        (struct lc_value){.type = LC_VAL_INT, .integer = (long long) op->term};
    op->out =
        (struct lc_value){.type = LC_VAL_ARRAY, .elem = op->out_elem, .n = 2};
    op->done = 1;
}

/* {holder or nil, pttl, counter or nil}: the holder a majority names,
 * with how long a majority still holds it. */
static void result_read(struct lc_qop *op)
{
    unsigned votes;
    int h = common_holder(op, LC_QS_YES, &votes);

    if (h >= 0 && votes >= op->q) {
        long long left[LC_QUORUM_MAX];
        for (unsigned i = 0; i < op->n; i++) {
            int same =
                op->st[i] == LC_QS_YES &&
                op->holder_len[i] == op->holder_len[h] &&
                memcmp(op->holder[i], op->holder[h], op->holder_len[h]) == 0;
            /* Negated: the q-th largest time is the q-th smallest of
             * these. */
            left[i] = !same             ? LLONG_MAX
                      : op->busy[i] < 0 ? LLONG_MIN + 1
                                        : -op->busy[i];
        }
        long long k = kth_smallest(left, op->n, op->q);
        set_str(&op->out_elem[0], op->holder[h], op->holder_len[h]);
        op->out_elem[1] = (struct lc_value){
            .type = LC_VAL_INT, .integer = k == LLONG_MIN + 1 ? -1 : -k};
    } else {
        op->out_elem[0] = (struct lc_value){.type = LC_VAL_NIL};
        op->out_elem[1] = (struct lc_value){.type = LC_VAL_INT, .integer = -2};
    }
    /* A term only from a majority of valid counters: fewer may all be of
     * servers that lost the last one, and an observer would see the term
     * go back. Nor below a term this election read before (the floor): a
     * committed term stands on fewer than a majority while a server that
     * restarted, or lagged, is not yet raised by a renewal, and what was
     * read once stays true. */
    if (op->nvalid >= op->q) {
        if (op->floor > op->counter_max)
            op->counter_max = op->floor;
        set_counter(op, &op->out_elem[2]);
    } else
        op->out_elem[2] = (struct lc_value){.type = LC_VAL_NIL};
    op->out =
        (struct lc_value){.type = LC_VAL_ARRAY, .elem = op->out_elem, .n = 3};
    op->done = 1;
}

/* A probe: how long until a majority of the servers has no key. */
static void result_probe(struct lc_qop *op)
{
    long long wait[LC_QUORUM_MAX];
    long long k;

    for (unsigned i = 0; i < op->n; i++)
        wait[i] = op->st[i] != LC_QS_YES ? LLONG_MAX
                  : op->busy[i] == -2    ? 0
                  : op->busy[i] < 0      ? LLONG_MAX - 1
                                         : op->busy[i];
    k = kth_smallest(wait, op->n, op->q);
    if (k == LLONG_MAX)
        result_error(op, "quorum: too few servers answered");
    else
        result_int(op, k == 0 ? -2 : k == LLONG_MAX - 1 ? -1 : k);
}

/* ---- deciding ---- */

/* The new term: one above the floor and every valid counter read, or,
 * with fewer than a majority of valid counters, above the servers'
 * clocks too (docs/protocol.md, Quorum). 0 past LEADER_TERM_MAX. */
static uint64_t new_term(const struct lc_qop *op)
{
    uint64_t t = op->floor;

    if (op->counter_max > t)
        t = op->counter_max;
    if (op->nvalid < op->q && op->seed_max > t)
        t = op->seed_max;
    return t + 1 > LEADER_TERM_MAX ? 0 : t + 1;
}

static enum lc_qnext decide_grant(struct lc_qop *op)
{
    unsigned yes = count(op, LC_QS_YES), wait = count(op, LC_QS_WAITING);

    if (yes + wait < op->q) {
        result_refused(op, "quorum: no majority granted the key");
        return LC_QN_DONE;
    }
    /* A majority granted: wait for a majority of valid counters while
     * more may come, so that the term is read, not seeded. */
    if (yes < op->q || (op->nvalid < op->q && wait > 0))
        return LC_QN_WAIT;
#ifdef LC_BREAK_Q_NO_COMMIT
    /* Broken on purpose (tests/sim): won on the grants, the term read
     * from their counters and the floor alone, never committed. */
    op->term = (op->counter_max > op->floor ? op->counter_max : op->floor) + 1;
    result_won(op);
    return LC_QN_DONE;
#endif
    op->term = new_term(op);
    if (op->term == 0) {
        snprintf(op->error_text, sizeof op->error_text,
                 "LEADERTERM the term counters are at %llu",
                 (unsigned long long) LEADER_TERM_MAX);
        result_error(op, "quorum");
        return LC_QN_DONE;
    }
    start_round(op, op->granted);
    return LC_QN_COMMIT;
}

static enum lc_qnext decide_commit(struct lc_qop *op)
{
    unsigned yes = count(op, LC_QS_YES), wait = count(op, LC_QS_WAITING);

    if (yes >= op->q) {
        result_won(op);
        return LC_QN_DONE;
    }
    if (yes + wait < op->q) {
        result_error(op, "quorum: the new term was not taken by a majority");
        return LC_QN_DONE;
    }
    return LC_QN_WAIT;
}

static enum lc_qnext decide(struct lc_qop *op)
{
    unsigned yes = count(op, LC_QS_YES), no = count(op, LC_QS_NO),
             wait = count(op, LC_QS_WAITING);

    if (op->done)
        return LC_QN_DONE;
    switch (op->cmd.kind) {
    case LC_CMD_ACQUIRE:
        return op->round == 2 ? decide_commit(op) : decide_grant(op);
    case LC_CMD_RENEW:
        if (yes >= op->q)
            result_int(op, 1);
        else if (no + op->q > op->n)
            result_int(op, 0); /* a majority can no longer confirm */
        else if (yes + wait < op->q)
            result_error(op, "quorum: no majority renewed the lease");
        break;
    case LC_CMD_RELEASE:
        if (wait > 0 && yes + no < op->q)
            break;
        if (yes > 0 || no > 0)
            result_int(op, yes > 0);
        else
            result_error(op, "quorum: no server released the key");
        break;
    case LC_CMD_READ: {
        unsigned votes;
        int h = common_holder(op, LC_QS_YES, &votes);
        if (wait == 0 || (h >= 0 && votes >= op->q)) {
            if (yes < op->q && !(h >= 0 && votes >= op->q))
                result_error(op, "quorum: too few servers answered");
            else
                result_read(op);
        }
        break;
    }
    case LC_CMD_PROBE:
        /* From the first majority: when it is free is the latest a
         * majority can be, and a server that does not answer (frozen, cut
         * off) holds up no follower's try until its timeout. */
        if (wait == 0 || yes >= op->q)
            result_probe(op);
        break;
    }
    return op->done ? LC_QN_DONE : LC_QN_WAIT;
}

/* ---- feeding ---- */

/* Parses a counter or server clock as the scripts send it: a string of
 * digits below LEADER_TERM_MAX, or an integer. 0 when it is neither. */
static uint64_t number_of(const struct lc_value *v)
{
    uint64_t n = 0;

    if (v->type == LC_VAL_INT)
        return v->integer > 0 && (uint64_t) v->integer <= LEADER_TERM_MAX
                   ? (uint64_t) v->integer
                   : 0;
    if (v->type != LC_VAL_STR || v->len == 0 || v->len > 16)
        return 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned d = (unsigned char) v->str[i] - '0';
        if (d > 9)
            return 0;
        n = n * 10 + d;
    }
    return n <= LEADER_TERM_MAX ? n : 0;
}

static void note_counter(struct lc_qop *op, const struct lc_value *v)
{
    uint64_t c = number_of(v);

    if (c == 0) {
#ifdef LC_BREAK_Q_NIL_AS_ZERO
        /* Broken on purpose (tests/sim): a missing counter read as 0. */
        op->nvalid++;
#endif
        return; /* missing or not from this server's run: left out */
    }
    op->nvalid++;
    if (c > op->counter_max)
        op->counter_max = c;
}

static void note_holder(struct lc_qop *op, unsigned i, const struct lc_value *h)
{
    size_t len = h->type == LC_VAL_STR && h->len <= LC_ID_MAX ? h->len : 0;

    if (len > 0)
        memcpy(op->holder[i], h->str, len);
    op->holder_len[i] = (uint8_t) len;
}

/* Keeps the first failure's text, a server's own error reply before any
 * failure to reach one: its code is what the core classifies. */
static void note_error(struct lc_qop *op, const char *text, size_t len,
                       int from_server)
{
    if (text == NULL ||
        (op->error_text[0] != '\0' && (op->error_from_server || !from_server)))
        return;
    if (len >= sizeof op->error_text / 2)
        len = sizeof op->error_text / 2 - 1;
    memcpy(op->error_text, text, len);
    op->error_text[len] = '\0';
    op->error_from_server = (uint8_t) from_server;
}

static int is_int(const struct lc_value *v, long long *out)
{
    if (v->type != LC_VAL_INT)
        return 0;
    *out = v->integer;
    return 1;
}

/* A first-round reply to an acquire: {1, counter, clock} or {0, holder,
 * pttl, counter}. The state it leaves server i in. */
static enum lc_qstate on_grant(struct lc_qop *op, unsigned i,
                               const struct lc_value *v, int eligible,
                               lc_time now)
{
    long long flag, pttl;

    if (v->type != LC_VAL_ARRAY || v->n < 3 || !is_int(&v->elem[0], &flag))
        return LC_QS_FAIL;
    if (flag == 1 && v->n == 3) {
        op->granted |= 1u << i; /* ours to release, counted or not */
        if (!eligible || !in_lease(op, now))
            return LC_QS_FAIL;
        note_counter(op, &v->elem[1]);
        if (number_of(&v->elem[2]) > op->seed_max)
            op->seed_max = number_of(&v->elem[2]);
        return LC_QS_YES;
    }
    if (flag != 0 || v->n != 4 || v->elem[1].type != LC_VAL_STR ||
        !is_int(&v->elem[2], &pttl))
        return LC_QS_FAIL;
    if (!eligible)
        return LC_QS_FAIL;
    note_holder(op, i, &v->elem[1]);
    op->busy[i] = pttl;
    note_counter(op, &v->elem[3]);
    return LC_QS_NO;
}

/* 1 / 0 replies (commit, renew, release). */
static enum lc_qstate on_flag(struct lc_qop *op, const struct lc_value *v,
                              int eligible, lc_time now, int leased)
{
    long long flag;

    if (!is_int(v, &flag) || (flag != 0 && flag != 1) || !eligible)
        return LC_QS_FAIL;
    if (flag == 0)
        return LC_QS_NO;
    return !leased || in_lease(op, now) ? LC_QS_YES : LC_QS_FAIL;
}

static enum lc_qstate on_read(struct lc_qop *op, unsigned i,
                              const struct lc_value *v, int eligible)
{
    long long pttl;

    if (!eligible || v->type != LC_VAL_ARRAY || v->n != 3 ||
        !is_int(&v->elem[1], &pttl))
        return LC_QS_FAIL;
    note_holder(op, i, &v->elem[0]);
    op->busy[i] = pttl;
    note_counter(op, &v->elem[2]);
    return LC_QS_YES;
}

static enum lc_qstate on_probe(struct lc_qop *op, unsigned i,
                               const struct lc_value *v, int eligible)
{
    long long pttl;

    if (!eligible || !is_int(v, &pttl) || pttl < -2)
        return LC_QS_FAIL;
    op->busy[i] = pttl;
    return LC_QS_YES;
}

/* A first-round reply that comes after the commit went out: not
 * counted, but a grant is still ours to release. */
static void on_late_grant(struct lc_qop *op, unsigned i,
                          const struct lc_value *v)
{
    op->late &= ~(1u << i);
    if (lc_q_is_grant(v))
        op->granted |= 1u << i;
}

enum lc_qnext lc_qop_reply(struct lc_qop *op, unsigned i,
                           const struct lc_value *v, int eligible, lc_time now)
{
    enum lc_qstate s = LC_QS_FAIL;

    if (i < op->n && op->late & 1u << i) {
        on_late_grant(op, i, v);
        return op->done ? LC_QN_DONE : LC_QN_WAIT;
    }

    if (op->done || i >= op->n || op->st[i] != LC_QS_WAITING)
        return op->done ? LC_QN_DONE : LC_QN_WAIT;
    if (v->type == LC_VAL_ERR) {
        note_error(op, v->str, v->len, 1);
    } else {
        switch (lc_qop_wire(op)) {
        case LC_QW_GRANT:
            s = on_grant(op, i, v, eligible, now);
            break;
        case LC_QW_COMMIT:
        case LC_QW_RENEW:
            s = on_flag(op, v, eligible, now, 1);
            break;
        case LC_QW_RELEASE:
            s = on_flag(op, v, 1, now, 0);
            break;
        case LC_QW_READ:
            s = on_read(op, i, v, eligible);
            break;
        case LC_QW_PROBE:
            s = on_probe(op, i, v, eligible);
            break;
        case LC_QW_NONE:
            break;
        }
    }
    op->st[i] = (uint8_t) s;
    return decide(op);
}

enum lc_qnext lc_qop_fail(struct lc_qop *op, unsigned i, int error,
                          const char *text, lc_time now)
{
    (void) now;
    (void) error;
    if (i < op->n)
        op->late &= ~(1u << i);
    if (op->done || i >= op->n || op->st[i] != LC_QS_WAITING)
        return op->done ? LC_QN_DONE : LC_QN_WAIT;
    note_error(op, text, text != NULL ? strlen(text) : 0, 0);
    op->st[i] = LC_QS_FAIL;
    return decide(op);
}

int lc_q_is_grant(const struct lc_value *v)
{
    long long flag;

    return v->type == LC_VAL_ARRAY && v->n == 3 && is_int(&v->elem[0], &flag) &&
           flag == 1;
}

const struct lc_value *lc_qop_result(const struct lc_qop *op)
{
    return op->done ? &op->out : NULL;
}

uint64_t lc_qop_named(const struct lc_qop *op)
{
    if (op->cmd.kind == LC_CMD_ACQUIRE)
        return op->term;
    return op->cmd.kind == LC_CMD_READ && op->done && op->nvalid >= op->q
               ? op->counter_max
               : 0;
}

int lc_qop_won(const struct lc_qop *op)
{
    return op->cmd.kind == LC_CMD_ACQUIRE && op->done &&
           op->out.type == LC_VAL_ARRAY && op->out.n == 2;
}

unsigned lc_qop_release_set(const struct lc_qop *op)
{
    return op->cmd.kind == LC_CMD_ACQUIRE && !lc_qop_won(op) ? op->granted : 0;
}
