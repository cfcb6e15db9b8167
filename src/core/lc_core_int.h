/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_core_int.h - the core's fields, private to src/core/: everything
 * else reads a core through the getters and step reports of lc_core.h. */
#ifndef LC_CORE_INT_H
#define LC_CORE_INT_H

#include "core/lc_core.h"

struct lc_core {
    const char *id; /* the config's, borrowed */
    lc_time ttl, wait, cmd_timeout, connect_timeout;
    lc_time fresh_until; /* no acquire before this: a new server */
    uint64_t rng;
    lc_time now;

    /* The fields below are grouped by size, not by topic: a process may
     * hold a core for each of a million elections. */
    lc_time connect_at;   /* DOWN: when to connect next */
    lc_time connect_end;  /* CONNECTING: give up then */
    uint64_t seq;         /* of the last command sent */
    lc_time sent_at;      /* send time of the command in flight */
    lc_time inflight_end; /* reply timeout of that command */
    lc_time retry_at;     /* FOLLOWER: next acquire; LEADER: next acquire
                           * of a new term, while term_pending */
    uint64_t term;        /* LEADER / RELEASING: our leadership's term */
    uint64_t max_term;    /* highest term seen in a reply (Redis' own
                           * counter, never a notification): the floor for
                           * the next one */
    lc_time lease_end;    /* LEADER: local lease deadline */
    lc_time renew_at;     /* LEADER: next renewal */
    uint64_t confirm_seq; /* only a command sent after this seq confirms */

    /* Who leads, as last reported in a CHANGED event. Its id is kept as a
     * length and a keyed hash, not as its bytes (one core per election,
     * ids of up to LC_ID_MAX bytes): the bytes go out in the event. The
     * hash only spares a report that repeats the last one; nothing the
     * core decides rests on it. */
    uint64_t seen_hash; /* of the holder's id, keyed with hash_key */
    uint64_t hash_key;
    uint64_t seen_term;
    uint64_t hint_seq;   /* seen_term came from a notification that
                          * arrived after command hint_seq (seen_hint) */
    uint64_t reply_seq;  /* seq of the reply this step handles */
    lc_time seen_expiry; /* when the holder's key runs out, if known */
    lc_time read_at;     /* OBSERVER: next read */

    struct lc_output *out;   /* the step's, while it runs */
    struct lc_status status; /* as last reported */

    enum lc_state state;
    enum lc_conn conn;
    enum lc_cmd_kind inflight; /* 0 when no reply is awaited */
    unsigned conn_failures;
    unsigned failures; /* error replies in a row, for backoff */
    int last_error;    /* last ERROR emitted, to report a streak once */
    int sub_error;     /* the same for refusals to subscribe, until a
                        * subscription succeeds */

    uint8_t retry_after_reply; /* a notification came while acquiring */
    uint8_t probe_next;        /* FOLLOWER: the next try is a PROBE */
    uint8_t spread_renewal;    /* the next renewal is to be spread out */
    uint8_t term_pending;      /* LEADER: a new term is asked for; acquire,
                                * not renew, until a reply grants or
                                * refuses it */
    uint8_t confirm;           /* LEADER: a notification said another
                                * leads; renew now to hear it from Redis */
    uint8_t benched;           /* the application is unhealthy: do not
                                * campaign (kept across STOP and START) */
    uint8_t seen_known;        /* something was reported */
    uint8_t seen_len;          /* 0 for nobody */
    uint8_t seen_self;         /* the holder is this core's id */
    uint8_t seen_hint;         /* see hint_seq */
};

#endif
