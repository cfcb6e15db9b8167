/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_quorum.h - what the replies of several independent servers mean
 * together, in quorum mode (docs/protocol.md, Quorum).
 *
 * The core asks for one command as if it had one server. An lc_qop turns
 * it into a round of commands to N servers (two rounds for an acquire:
 * grant and read, then commit the term), counts the replies that may be
 * counted, and hands back the one reply the core understands. The caller
 * sends and receives; nothing here does I/O, reads a clock or allocates.
 *
 * Counting rules:
 *   - a reply counts only from an eligible server (one that has been up
 *     long enough that no lease it lost in a restart can still be valid:
 *     lc_q_eligible) and, for a lease, only if it came before the lease
 *     it would give ends (send time + ttl - drift);
 *   - a term is read from a majority of valid counters: a server without
 *     one (restarted empty, or from an older copy of its data) is left
 *     out, never read as 0; with fewer than a majority valid, the term is
 *     seeded above the servers' clocks, as a single server's is;
 *   - an acquire is won when a majority grants, and then a majority
 *     takes the new term (raise-only) before the core hears of it.
 */
#ifndef LC_QUORUM_H
#define LC_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_core.h"
#include "core/lc_reply.h"

#define LC_QUORUM_MAX 7

/* What each server is sent, as the scripts of lio_proto.h name them. */
enum lc_qwire {
    LC_QW_NONE = 0,
    LC_QW_GRANT,   /* acquire, first round: take the key, read the counter */
    LC_QW_COMMIT,  /* acquire, second round: raise the counter to the term */
    LC_QW_RENEW,   /* extend the key, raise a lagging counter */
    LC_QW_RELEASE, /* delete the key */
    LC_QW_READ,    /* holder, pttl, counter */
    LC_QW_PROBE    /* PTTL of the key */
};

/* Where a server stands in the op's current round. */
enum lc_qstate {
    LC_QS_IDLE = 0, /* not asked in this round */
    LC_QS_WAITING,
    LC_QS_YES,  /* granted, confirmed, or answered (read) */
    LC_QS_NO,   /* refused: the key is someone else's */
    LC_QS_FAIL, /* an error, a lost link, too young, or too late */
};

/* What the caller does after feeding the op. */
enum lc_qnext {
    LC_QN_WAIT = 0, /* more replies are needed */
    LC_QN_COMMIT,   /* send the commit (lc_qop_wire, lc_qop_term) to the
                     * servers in lc_qop_targets, then wait */
    LC_QN_DONE      /* lc_qop_result() is the core's reply; the servers in
                     * lc_qop_release_set() are to be released */
};

struct lc_qop {
    struct lc_cmd cmd; /* the core's command */
    lc_time sent;      /* the first round's send time */
    lc_time ttl;
    uint8_t n, q;
    uint8_t round; /* 0: none, 1, 2 (an acquire's commit) */
    uint8_t done;  /* the result is ready */
    uint8_t st[LC_QUORUM_MAX];
    unsigned targets;     /* servers asked in this round (bits) */
    unsigned granted;     /* servers that gave this acquire the key */
    unsigned late;        /* asked in the first round, answering after
                           * the second began */
    uint64_t floor;       /* the term must be above it */
    uint64_t counter_max; /* the highest valid counter read */
    unsigned nvalid;      /* valid counters read from eligible servers */
    uint64_t seed_max;    /* the highest server clock seen, in ms */
    uint64_t term;        /* an acquire's new term, once read */
    long long busy[LC_QUORUM_MAX]; /* a refusal's pttl, or a read's */
    uint8_t error_from_server;     /* error_text is a server's error reply */
    char error_text[LC_MSG_MAX];
    uint8_t holder_len[LC_QUORUM_MAX];
    char holder[LC_QUORUM_MAX][LC_ID_MAX + 1]; /* as each server said */
    /* The result, pointing into the op. */
    struct lc_value out;
    struct lc_value out_elem[4];
    char out_term[24];
};

/* The smallest majority of n. */
unsigned lc_q_majority(unsigned n);

/* The latest time a server can have restarted, given the
 * uptime_in_seconds it reported at now. Redis counts uptime as the
 * difference of two whole wall-clock seconds, so a server up 300 ms may
 * already say 1: the bound is a second later than the uptime says. */
lc_time lc_q_restart_bound(lc_time now, long long uptime_s);

/* Whether a server whose restart happened at or before restart_bound (the
 * time its uptime was read, less the uptime in whole seconds) may count at
 * now for an election of this ttl: once every lease it could have granted
 * before the restart has ended, ttl plus the drift after it. A server whose
 * uptime is not known yet (restart_bound LC_NEVER) never counts. */
int lc_q_eligible(lc_time restart_bound, lc_time ttl, lc_time now);

/* Starts an op for the core's command cmd over n servers (odd, 3 ..
 * LC_QUORUM_MAX), sent at now. floor is the least the new term of an
 * acquire must exceed besides cmd's own floor (the highest term an
 * earlier op of this election computed, which a late release of that op
 * must never match). The first round goes to every server: the caller
 * sends lc_qop_wire() to each, and reports each server that it cannot
 * send to with lc_qop_fail(). */
void lc_qop_begin(struct lc_qop *op, const struct lc_cmd *cmd, unsigned n,
                  lc_time ttl, uint64_t floor, lc_time now);

/* The command the current round sends. */
enum lc_qwire lc_qop_wire(const struct lc_qop *op);

/* The term the current round's commands carry: the core's for a renew or
 * release, the new term for a commit. */
uint64_t lc_qop_term(const struct lc_qop *op);

/* The servers asked in the current round (bit i: server i). */
unsigned lc_qop_targets(const struct lc_qop *op);

/* Feeds server i's reply, received at now; eligible as lc_q_eligible()
 * says for that server at now. */
enum lc_qnext lc_qop_reply(struct lc_qop *op, unsigned i,
                           const struct lc_value *v, int eligible, lc_time now);

/* Server i will not answer: its link failed, or its command could not be
 * sent. error and text say why (text may be NULL). */
enum lc_qnext lc_qop_fail(struct lc_qop *op, unsigned i, int error,
                          const char *text, lc_time now);

/* Whether v is a grant (the first round's "the key is now yours"): one
 * that comes after its op was decided, or for an op given up, holds a key
 * nobody will release unless the caller does. */
int lc_q_is_grant(const struct lc_value *v);

/* Once DONE: the reply for the core (valid while the op is). */
const struct lc_value *lc_qop_result(const struct lc_qop *op);

/* The term the op computed (an acquire, once read) or named (a read that
 * is done), else 0: the floor of the election's later ops, so that its
 * terms, and what its reads report, never go back. */
uint64_t lc_qop_named(const struct lc_qop *op);

/* Whether the op is an acquire that won: its term (lc_qop_term) is
 * committed on a majority, to be announced to every server. */
int lc_qop_won(const struct lc_qop *op);

/* The servers that hold the key for this op and must be released, with
 * lc_qop_term() as the term: an acquire that did not win, or one given
 * up before its end (call it then too). 0 for any other op. */
unsigned lc_qop_release_set(const struct lc_qop *op);

#endif /* LC_QUORUM_H */
