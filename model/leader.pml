/* SPDX-License-Identifier: BSD-3-Clause */
/* leader.pml - the single-server election protocol of docs/protocol.md as
 * a Promela model, checked with spin (model/check.sh, `make model`).
 *
 * Time is a global counter that a clock process advances at any moment,
 * so every interleaving of steps, message delays and timeouts up to TMAX
 * is explored. The server runs each script atomically, and its clock may
 * run fast: a key can expire up to D early. Messages can be delayed (they
 * sit in FIFO channels while time passes) or lost (up to LOSSES of them),
 * and a candidate may give up on a command at any moment (a timeout), its
 * late reply then dropped by sequence number. A leader may stop, and then
 * campaigns again.
 *
 * Checked in every reachable state:
 *   - mutual exclusion: no two candidates hold a valid local lease;
 *   - terms grow: every ELECTED term is above every earlier one.
 * Each BREAK_* switch below breaks one rule of the protocol; check.sh
 * shows that spin finds a violation for each.
 */

#ifndef N
#define N 2 /* candidates */
#endif
#ifndef TMAX
#define TMAX 14 /* the clock stops here: a bounded horizon */
#endif
#define TTL 4
#ifdef BREAK_NO_DRIFT
#define MARGIN 0
#else
#define MARGIN 1 /* the lease a candidate counts: TTL - MARGIN */
#endif
#define D 1 /* how early the server's clock may expire a key */
#ifndef LOSSES
#define LOSSES 1
#endif
#ifndef STOPS
#define STOPS 1
#endif

mtype = { ACQ, RENEW, REL, WON, LOST, FLAG };

#define NONE     0
#define FOLLOWER 1
#define LEADER   2

byte now;

/* The server: the holder key (0: none) with its expiry, the counter. */
byte holder;
byte expire_at;
byte counter;
byte losses;
#ifdef BREAK_RELEASE_NONATOMIC
byte del_pending[N]; /* a release that checked, and deletes later */
#endif

chan req[N] = [2] of { mtype, byte, byte, byte }; /* kind, seq, term, floor */
chan rep[N] = [2] of { mtype, byte, byte };       /* kind, seq, value */

/* What each candidate believes. */
byte state[N];
byte term[N];
byte lease_end[N];
byte max_term[N];
byte last_elected; /* the highest term any candidate was elected with */

#ifdef BREAK_NO_STEPDOWN
#define VALID(i) (state[i] == LEADER)
#else
#define VALID(i) (state[i] == LEADER && now < lease_end[i])
#endif

/* Mutual exclusion. Leases only start or grow where a candidate steps;
 * time passing can only end them. So checking it at every step that starts
 * or extends a lease checks it in every state. */
#if N == 2
#define MUTEX (!(VALID(0) && VALID(1)))
#elif N == 3
#define MUTEX (!(VALID(0) && VALID(1)) && !(VALID(0) && VALID(2)) && \
               !(VALID(1) && VALID(2)))
#endif

/* The key may go when its time is up on the server's fast clock. */
inline expire()
{
    if
    :: holder != 0 && now >= expire_at -> holder = 0
    :: holder != 0 && now + D >= expire_at && now < expire_at -> holder = 0
    :: holder == 0 || now < expire_at -> skip
    fi
}

inline script_acquire(i, seq, floor)
{
    expire();
    if
    :: holder != 0 && holder != i + 1 ->
        rep[i]!LOST, seq, counter
    :: else ->
#ifndef BREAK_ACQUIRE_OLD_TERM
        counter = (counter > floor -> counter : floor) + 1;
#else
        if
        :: holder == 0 -> counter = (counter > floor -> counter : floor) + 1
        :: else -> skip /* holder-is-us keeps the old term */
        fi;
#endif
        holder = i + 1;
        expire_at = now + TTL;
        rep[i]!WON, seq, counter
    fi
}

inline script_renew(i, seq, t)
{
    expire();
#ifndef BREAK_RENEW_ID_ONLY
    if
    :: holder == i + 1 && counter == t -> expire_at = now + TTL;
        rep[i]!FLAG, seq, 1
    :: else -> rep[i]!FLAG, seq, 0
    fi
#else
    if
    :: holder == i + 1 -> expire_at = now + TTL; rep[i]!FLAG, seq, 1
    :: else -> rep[i]!FLAG, seq, 0
    fi
#endif
}

inline script_release(i, seq, t)
{
    expire();
#if defined(BREAK_RELEASE_ID_ONLY)
    if
    :: holder == i + 1 -> holder = 0; rep[i]!FLAG, seq, 1
    :: else -> rep[i]!FLAG, seq, 0
    fi
#elif defined(BREAK_RELEASE_NONATOMIC)
    if
    :: holder == i + 1 && counter == t -> del_pending[i] = 1;
        rep[i]!FLAG, seq, 1
    :: else -> rep[i]!FLAG, seq, 0
    fi
#else
    if
    :: holder == i + 1 && counter == t -> holder = 0; rep[i]!FLAG, seq, 1
    :: else -> rep[i]!FLAG, seq, 0
    fi
#endif
}

/* A tick also lets every candidate try again (tried[]), as the real ones
 * wait between tries. */
bit tried[N];

active proctype Clock()
{
    byte k;

    do
    :: atomic { now < TMAX -> now++;
        k = 0;
        do
        :: k < N -> tried[k] = 0; k++
        :: else -> k = 0; break
        od }
    od
}

/* Takes a command off one candidate's connection and runs it, or loses
 * it (or, by the same token, its reply). */
proctype Server(byte i)
{
    mtype kind;
    byte seq, t, floor;

    do
    :: atomic {
        nempty(req[i]) && nfull(rep[i]) -> req[i]?kind, seq, t, floor;
        if
        :: losses < LOSSES -> losses++ /* lost on the way */
        :: kind == ACQ -> script_acquire(i, seq, floor)
        :: kind == RENEW -> script_renew(i, seq, t)
        :: kind == REL -> script_release(i, seq, t)
        fi;
        kind = 0; seq = 0; t = 0; floor = 0 /* no state of its own */
    }
#ifdef BREAK_RELEASE_NONATOMIC
    :: atomic { del_pending[i] -> holder = 0; del_pending[i] = 0 }
#endif
    od
}

/* Sequence numbers count modulo 8: a candidate has at most five commands
 * or replies in its channels (two each way, one being run), so a reply's
 * number still names one command. A follower tries, and a leader renews,
 * at most once per tick (tried[]). */
#define NEXT(seq) seq = (seq + 1) % 8

proctype Cand(byte i)
{
    byte seq, sent, inflight, stops;
    mtype kind;
    byte s, v;

    state[i] = FOLLOWER;
    do
    /* a follower tries */
    :: atomic { state[i] == FOLLOWER && inflight == NONE && !tried[i] &&
        nfull(req[i]) ->
        NEXT(seq); sent = now; tried[i] = 1; inflight = ACQ;
        req[i]!ACQ, seq, 0, max_term[i] }
    /* a leader renews while its lease lasts */
    :: atomic { state[i] == LEADER && inflight == NONE && now < lease_end[i] &&
        !tried[i] && nfull(req[i]) ->
        NEXT(seq); sent = now; tried[i] = 1; inflight = RENEW;
        req[i]!RENEW, seq, term[i], 0 }
#ifndef BREAK_NO_STEPDOWN
    /* the deadline passes: step down by its own clock */
    :: atomic { state[i] == LEADER && now >= lease_end[i] ->
        state[i] = FOLLOWER; inflight = NONE }
#endif
    /* the application stops: REVOKED, then the release */
    :: atomic { state[i] == LEADER && stops < STOPS && nfull(req[i]) ->
        stops++; state[i] = FOLLOWER;
        NEXT(seq); sent = now; inflight = REL; req[i]!REL, seq, term[i], 0 }
    /* a timeout: the command's reply is given up on */
    :: atomic { inflight != NONE ->
#ifdef BREAK_LOST_ACQUIRE_AS_WON
        if
        :: inflight == ACQ && state[i] == FOLLOWER && max_term[i] < 250 ->
            /* treated as won, with a guess at the term */
            term[i] = max_term[i] + 1;
            assert(term[i] > last_elected);
            last_elected = term[i];
            state[i] = LEADER; lease_end[i] = sent + TTL - MARGIN;
            assert(MUTEX)
        :: else -> skip
        fi;
#endif
        inflight = NONE; sent = 0 }
    /* a reply */
    :: atomic { rep[i]?kind, s, v ->
        if
        :: s != seq || inflight == NONE -> skip /* late: its command was
                                                 * given up on */
        :: else ->
            if
            :: kind == WON && inflight == ACQ ->
                inflight = NONE;
                if
                :: v <= max_term[i] || state[i] != FOLLOWER ||
                   now >= sent + TTL - MARGIN ->
                    /* a term that may have been used, or too late: hand
                     * it back */
                    max_term[i] = (v > max_term[i] -> v : max_term[i]);
                    if
                    :: nfull(req[i]) -> NEXT(seq); inflight = REL;
                        req[i]!REL, seq, v, 0
                    :: full(req[i]) -> skip
                    fi
                :: else ->
                    max_term[i] = v;
                    assert(v > last_elected); /* terms grow */
                    last_elected = v;
                    term[i] = v;
                    state[i] = LEADER;
#ifdef BREAK_LEASE_FROM_REPLY
                    lease_end[i] = now + TTL - MARGIN;
#else
                    lease_end[i] = sent + TTL - MARGIN;
#endif
                    assert(MUTEX)
                fi
            :: kind == LOST && inflight == ACQ ->
                inflight = NONE;
                max_term[i] = (v > max_term[i] -> v : max_term[i])
            :: kind == FLAG && inflight == RENEW ->
                inflight = NONE;
                if
                :: state[i] == LEADER && v == 1 ->
                    lease_end[i] = (sent + TTL - MARGIN > lease_end[i] ->
                                    sent + TTL - MARGIN : lease_end[i]);
                    assert(MUTEX)
                :: state[i] == LEADER && v == 0 -> state[i] = FOLLOWER
                :: else -> skip
                fi
            :: kind == FLAG && inflight == REL -> inflight = NONE
            :: else -> inflight = NONE
            fi
        fi;
        if
        :: inflight == NONE -> sent = 0
        :: else -> skip
        fi;
        kind = 0; s = 0; v = 0 }
    od
}

init
{
    byte i;

    atomic {
        i = 0;
        do
        :: i < N -> run Server(i); run Cand(i); i++
        :: else -> break
        od
    }
}
