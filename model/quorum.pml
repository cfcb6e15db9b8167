/* SPDX-License-Identifier: BSD-3-Clause */
/* quorum.pml - the quorum election protocol (NS independent servers, a
 * majority of them needed for everything) as a Promela model, checked with
 * spin by model/check.sh next to leader.pml, the single-server one.
 *
 * Time is one global counter that a clock process advances at any moment.
 * Candidates count their leases on it; a server may expire a key up to D
 * early, which stands for the bounded rate drift between its clock and a
 * candidate's. A server runs each script atomically, may restart at any
 * moment (losing its data, or keeping it under a new run), and runs a
 * command after any delay, or never. A reply is lost or read at once.
 *
 * Checked in every reachable state:
 *   - mutual exclusion: no two candidates hold a valid local lease;
 *   - terms grow: every ELECTED term is above every earlier one.
 * Each BREAK_* switch breaks one rule; check.sh shows spin finds each.
 */

#define NC 2 /* candidates */
#define NS 3 /* servers */
#define Q 2  /* NS / 2 + 1 */

#ifndef TMAX
#define TMAX 8 /* the clock stops here: a bounded horizon */
#endif
#define TTL 3
#define M 1 /* the drift margin: a lease counts TTL - M */
#define D 1 /* how early a server's clock may expire a key */
#ifndef RESTARTS
#define RESTARTS 1
#endif
/* What each candidate may do within the horizon. Any of it may happen at
 * any tick: the clock may tick before any step. */
#ifndef ATTEMPTS
#define ATTEMPTS 2 /* acquires */
#endif
#ifndef RENEWALS
#define RENEWALS 2
#endif
#ifndef STOPS
#define STOPS 1
#endif

/* A candidate learns an upper bound R of a server's restart time when it
 * connects (uptime rounded down). A larger R only delays the moment the
 * server counts again, so the model takes the smallest, the restart time
 * itself: the worst case. */
#ifdef BREAK_COUNT_YOUNG
#define YOUNG 0
#else
#define YOUNG (TTL + M)
#endif

/* Commands. A release gets no reply: nobody waits for it. */
#define ACQ    1
#define COMMIT 2
#define RENEW  3
#define REL    4

/* What a candidate is doing. */
#define IDLE   0
#define PHASE1 1 /* acquire sent, gathering grants and counters */
#define PHASE2 2 /* its term sent to the servers that granted */
#define LEADER 3

#define K(c, s) ((c) * NS + (s))
#define MAX(a, b) ((a) > (b) -> (a) : (b))

byte now;

/* The servers. A counter's tag matters only through "is it the current
 * run", so one bit, cvalid, stands for the pair. counter 0 is the missing
 * counter (terms start at 1). */
byte holder[NS]; /* candidate + 1, or 0 */
byte expire_at[NS];
byte counter[NS];
bit cvalid[NS];
byte young_until[NS]; /* the server counts for the candidates from then */
byte restarts;

/* The network: one connection per candidate and server, with room for one
 * command on its way. A command sent while the previous one is still on
 * its way replaces it (the previous one is lost, which the protocol must
 * survive anyway); what runs, runs in the order it was sent. A command runs
 * within the tick it was sent in or the next one, or is lost: the code's
 * commands time out well within a lease, and a later run would only add
 * to the depth of the search. A command left over from an
 * earlier phase (rq_cur 0) still runs, but its reply would be dropped. */
byte rq_kind[NC * NS]; /* 0: nothing on its way */
bit rq_cur[NC * NS];
byte rq_term[NC * NS];
bit rq_old[NC * NS]; /* a tick has passed since it was sent */

/* The candidates. */
byte phase[NC];
byte sent[NC];      /* when the current phase or renewal was sent */
byte granted[NC];   /* the servers that granted, as a mask */
byte ngrant[NC];    /* grants that count */
byte nvalid[NC];    /* counters that count */
byte maxc[NC];      /* their maximum */
byte nconf[NC];     /* confirmations that count */
bit renewing[NC];
byte term[NC];
byte lease_end[NC];
byte floor[NC];     /* the highest term it has seen */
byte last_elected;  /* the highest term anyone was elected with */
byte top;           /* the highest term anyone has taken */

/* A tick lets each candidate start one more attempt or renewal: the real
 * ones wait between tries. */
bit tried[NC];

#define VALID(i) (phase[i] == LEADER && now < lease_end[i])
/* Leases start or grow only where a candidate reads a reply, and time
 * only ends them: checking there checks every state. */
#define MUTEX (!(VALID(0) && VALID(1)))
/* a reply read now counts: in time, from a server old enough */
#define COUNTS(c, s) (now < sent[c] + TTL - M && now >= young_until[s])

/* The key goes when its time is up on the server's clock; the clock may
 * take it up to D earlier, at a tick (early). */
inline expire(s)
{
    if
    :: holder[s] != 0 && now >= expire_at[s] -> holder[s] = 0
    :: else -> skip
    fi
}
#define EARLY(s) (holder[s] != 0 && now + 1 + D >= expire_at[s])

/* Writing a term or releasing: ours, and no later term in this run. */
#define MAY_WRITE(c, s, t) \
    (holder[s] == c + 1 && (!cvalid[s] || counter[s] <= t))
/* A renewal also takes the key where it is free (a server the acquire did
 * not reach, or one that came back empty). */
#define MAY_RENEW(c, s, t) \
    ((holder[s] == c + 1 || holder[s] == 0) && (!cvalid[s] || counter[s] <= t))
#define MAY(c, s, k) \
    (rq_kind[k] == RENEW -> MAY_RENEW(c, s, rq_term[k]) \
                         : MAY_WRITE(c, s, rq_term[k]))

inline forget(c)
{
    granted[c] = 0; ngrant[c] = 0; nvalid[c] = 0; maxc[c] = 0; nconf[c] = 0
}

inline elected(c)
{
    assert(term[c] > last_elected); /* terms grow */
    last_elected = term[c];
    phase[c] = LEADER;
    lease_end[c] = sent[c] + TTL - M;
    assert(MUTEX)
}

/* Candidate c reads the reply to its acquire from server s: ok, and the
 * counter as the server reports it (0 when missing or of another run). */
inline read_grant(c, s, ok, cnt)
{
    if
    :: ok -> granted[c] = granted[c] | (1 << s) /* released if need be */
    :: else -> skip
    fi;
    floor[c] = MAX(floor[c], cnt);
    if
    :: COUNTS(c, s) ->
        if
        :: ok -> ngrant[c]++
        :: else -> skip
        fi;
#if defined(BREAK_NIL_AS_ZERO)
        nvalid[c]++;
        maxc[c] = MAX(maxc[c], cnt)
#elif defined(BREAK_NO_WRITE_PHASE)
        if
        :: ok -> maxc[c] = MAX(maxc[c], cnt)
        :: else -> skip
        fi
#else
        if
        :: cnt != 0 -> nvalid[c]++; maxc[c] = MAX(maxc[c], cnt)
        :: else -> skip
        fi
#endif
    :: else -> skip
    fi
}

/* A confirmation of phase 2 (elected at the q-th) or of a renewal (the
 * lease grows at the q-th). */
inline read_confirm(c, s)
{
    if
    :: COUNTS(c, s) && (phase[c] == PHASE2 || renewing[c]) ->
        nconf[c]++;
        if
        :: nconf[c] == Q && phase[c] == PHASE2 -> elected(c); forget(c)
        :: nconf[c] == Q && phase[c] == LEADER ->
            lease_end[c] = MAX(lease_end[c], sent[c] + TTL - M);
            assert(MUTEX);
            renewing[c] = 0; nconf[c] = 0
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* One command of candidate c reaches server s and runs there; its reply,
 * if it has one that is still wanted, is lost or read (lose). An acquire's
 * reply, grant or refusal, carries the counter of this run (cnt). */
inline serve(c, s, lose)
{
    expire(s);
    k = K(c, s);
    lose = lose || !rq_cur[k];
    cnt = (cvalid[s] -> counter[s] : 0);
    if
    :: rq_kind[k] == ACQ && (holder[s] == 0 || holder[s] == c + 1) ->
        holder[s] = c + 1; expire_at[s] = now + TTL;
        if
        :: !lose -> read_grant(c, s, 1, cnt)
        :: else -> skip
        fi
    :: rq_kind[k] == ACQ && holder[s] != 0 && holder[s] != c + 1 ->
        if
        :: !lose -> read_grant(c, s, 0, cnt)
        :: else -> skip
        fi
    :: (rq_kind[k] == COMMIT || rq_kind[k] == RENEW) && MAY(c, s, k) ->
        counter[s] = rq_term[k]; cvalid[s] = 1;
        if
        :: rq_kind[k] == RENEW -> holder[s] = c + 1; expire_at[s] = now + TTL
        :: else -> skip
        fi;
        if
        :: !lose -> read_confirm(c, s)
        :: else -> skip
        fi
    :: (rq_kind[k] == COMMIT || rq_kind[k] == RENEW) && !MAY(c, s, k) -> skip /* a refusal counts for nothing */
    :: rq_kind[k] == REL && MAY_WRITE(c, s, rq_term[k]) -> holder[s] = 0
    :: rq_kind[k] == REL && !MAY_WRITE(c, s, rq_term[k]) -> skip
    fi;
    rq_kind[k] = 0; rq_cur[k] = 0; rq_term[k] = 0; rq_old[k] = 0;
    k = 0; lose = 0; cnt = 0
}

/* Its connections drop: what was on them is gone. */
inline restart(s, keep)
{
    restarts++;
    if
    :: !keep -> holder[s] = 0; expire_at[s] = 0; counter[s] = 0
    :: else -> skip
    fi;
    cvalid[s] = 0;
    young_until[s] = now + YOUNG;
    rq_kind[K(0, s)] = 0; rq_cur[K(0, s)] = 0; rq_term[K(0, s)] = 0;
    rq_old[K(0, s)] = 0; rq_old[K(1, s)] = 0;
    rq_kind[K(1, s)] = 0; rq_cur[K(1, s)] = 0; rq_term[K(1, s)] = 0
}

/* Commands a tick old are lost now; the others age. */
inline age()
{
    k = 0;
    do
    :: k < NC * NS ->
        if
        :: rq_old[k] -> rq_kind[k] = 0; rq_cur[k] = 0; rq_term[k] = 0;
            rq_old[k] = 0
        :: !rq_old[k] && rq_kind[k] != 0 -> rq_old[k] = 1
        :: else -> skip
        fi;
        k++
    :: else -> break
    od;
    k = 0
}

/* A tick; early is the mask of servers whose key goes early at it. */
#define TICK(early)                                                      \
    :: d_step { now < TMAX &&                                            \
                (!(early & 1) || EARLY(0)) && (!(early & 2) || EARLY(1)) && \
                (!(early & 4) || EARLY(2)) ->                            \
        if :: early & 1 -> holder[0] = 0 :: else -> skip fi;             \
        if :: early & 2 -> holder[1] = 0 :: else -> skip fi;             \
        if :: early & 4 -> holder[2] = 0 :: else -> skip fi;             \
        now++; tried[0] = 0; tried[1] = 0; age() }

active proctype Clock()
{
    byte k;

    do
    TICK(0)
    TICK(1)
    TICK(2)
    TICK(3)
    TICK(4)
    TICK(5)
    TICK(6)
    TICK(7)
    od
}

#define SERVE(c, s)                                                    \
    :: d_step { rq_kind[K(c, s)] != 0 ->                                 \
        lose = 0; serve(c, s, lose) }                      \
    :: d_step { rq_cur[K(c, s)] ->                                       \
        lose = 1; serve(c, s, lose) }
#ifdef RESTART_KEEPS_DATA
#define RESTART(s)                                           \
    :: d_step { restarts < RESTARTS -> restart(s, 0) }       \
    :: d_step { restarts < RESTARTS -> restart(s, 1) }
#else
#define RESTART(s) :: d_step { restarts < RESTARTS -> restart(s, 0) }
#endif

active proctype Servers()
{
    byte k, cnt;
    bit lose;

    do
    SERVE(0, 0)
    SERVE(0, 1)
    SERVE(0, 2)
    SERVE(1, 0)
    SERVE(1, 1)
    SERVE(1, 2)
    RESTART(0)
    RESTART(1)
    RESTART(2)
    od
}

#define ALL 7
/* a reply to the current command may still come */
#define WAITING(c) (rq_cur[K(c, 0)] || rq_cur[K(c, 1)] || rq_cur[K(c, 2)])

/* Candidate i sends a command to the servers in mask; what is left of its
 * earlier ones is no longer wanted. */
inline send(kind, mask, t)
{
    s = 0;
    do
    :: s < NS ->
        if
        :: mask & (1 << s) ->
            rq_kind[K(i, s)] = kind; rq_cur[K(i, s)] = (kind != REL);
            rq_term[K(i, s)] = t; rq_old[K(i, s)] = 0
        :: else -> rq_cur[K(i, s)] = 0
        fi;
        s++
    :: else -> break
    od;
    s = 0
}

proctype Cand(byte i)
{
    byte s, t, attempts, renewals, stops;

    do
    :: d_step { phase[i] == IDLE && !tried[i] && attempts < ATTEMPTS ->
        attempts++; tried[i] = 1; sent[i] = now; phase[i] = PHASE1;
        send(ACQ, ALL, 0) }

    /* phase 1 done: q grants, so the term is read, then written */
    :: d_step { phase[i] == PHASE1 && ngrant[i] >= Q &&
        now < sent[i] + TTL - M ->
#ifdef BREAK_NO_WRITE_PHASE
        term[i] = MAX(floor[i], maxc[i]) + 1;
        top = MAX(top, term[i]);
        floor[i] = term[i];
        elected(i);
        forget(i)
#else
        if
        :: nvalid[i] >= Q -> term[i] = MAX(floor[i], maxc[i]) + 1
        /* the seed: assumed above every term ever taken (the code takes
         * the server's clock in ms; terms grow far slower than that) */
        :: else -> term[i] = top + 1
        fi;
        top = MAX(top, term[i]);
        floor[i] = MAX(floor[i], term[i]);
        phase[i] = PHASE2;
        send(COMMIT, granted[i], term[i]);
        forget(i)
#endif
    }

    /* giving up an attempt, when no reply is to come or its deadline has
     * passed: every grant is released */
    :: d_step { (phase[i] == PHASE1 || phase[i] == PHASE2) &&
        (now >= sent[i] + TTL - M || !WAITING(i)) ->
        t = (phase[i] == PHASE2 -> term[i] : floor[i]);
        phase[i] = IDLE;
        send(REL, ALL, t);
        forget(i); t = 0 }

    /* a leader renews while its lease lasts */
    :: d_step { phase[i] == LEADER && now < lease_end[i] && !tried[i] &&
        renewals < RENEWALS ->
        renewals++; tried[i] = 1; sent[i] = now; renewing[i] = 1; nconf[i] = 0;
        send(RENEW, ALL, term[i]) }
    /* the deadline passes: step down by its own clock, and release */
    :: d_step { phase[i] == LEADER && now >= lease_end[i] ->
        phase[i] = IDLE; renewing[i] = 0; send(REL, ALL, term[i]);
        forget(i) }
    /* the application stops */
    :: d_step { phase[i] == LEADER && stops < STOPS ->
        stops++; phase[i] = IDLE; renewing[i] = 0;
        send(REL, ALL, term[i]); forget(i) }
    od
}

/* The run starts on fresh servers, or after a history: a leader, long
 * gone, was elected with term PAST and wrote it to servers 0 and 1;
 * server 0 has since restarted (long enough ago to count) and lost it, and
 * nobody told the candidates. */
#define PAST 3

init
{
    atomic {
        if
        :: counter[1] = PAST; cvalid[1] = 1; last_elected = PAST; top = PAST
        :: skip
        fi;
        run Cand(0); run Cand(1)
    }
}
