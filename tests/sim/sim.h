/* SPDX-License-Identifier: BSD-3-Clause */
/* sim.h - the deterministic simulator of the election core and the
 * session layer (tests/sim).
 *
 * The real core and session layer (src/core, src/io/lio_session.c and
 * src/io/lio_proto.c, linked as the leader_session library) run against a
 * simulated Redis, network and set of processes, all driven by seeded
 * PRNGs and one virtual clock, so that any run can be replayed exactly
 * from its seed. This header joins the simulated Redis (sim_redis.c), the
 * world that runs one seeded scenario (sim_world.c) and the command line
 * (sim_main.c).
 */
#ifndef SIM_H
#define SIM_H

#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_CAND 8
#define SIM_MAX_OBS  2 /* observers, in the runs that have them */
#define SIM_NEVER    INT64_MAX
/* A Redis Cluster, in the runs that model one: two or three shards, each a
 * master and perhaps a replica. */
#define SIM_MAX_SHARDS 3
#define SIM_MAX_NODES  (2 * SIM_MAX_SHARDS)
/* Quorum mode: up to this many independent servers (lio_session_set_quorum
 * takes 3 .. 7; the simulated transport has links for SIM_MAX_NODES). */
#define SIM_MAX_SERVERS 5
/* Bystanders (sim_world.c): elections of keys of their own, one to this
 * many in each process of the runs that have them, so that renewals of
 * several elections share a process' command link and go in batches. */
#define SIM_MAX_BY 4
/* The most renewals in one batch the simulated Redis accepts: a process
 * has one leader of the election and its bystanders. */
#define SIM_BATCH_MAX 16

/* Deliberate breakages of the Redis side, to show that the simulator
 * notices a protocol that is wrong on the server. The core's own breakages
 * are compile-time switches of src/core (LC_BREAK_*). */
enum sim_redis_break {
    SIM_RB_NONE = 0,
    SIM_RB_RENEW_NONATOMIC,  /* renew: GET, then PEXPIRE later, unchecked */
    SIM_RB_RENEW_ID_ONLY,    /* renew compares the id, not the term */
    SIM_RB_RELEASE_ID_ONLY,  /* release compares the id, not the term */
    SIM_RB_ACQUIRE_OLD_TERM, /* holder-is-us acquire keeps the old term */
    SIM_RB_NO_SEED /* a missing counter starts from 0, not the clock */
};

/* The part of a Redis server the protocol touches: the holder key with its
 * expiry on Redis' own clock, the term counter, the server's wall clock
 * (what TIME reads: its own clock plus an offset, in ms since the epoch),
 * and whether the script cache is loaded. Holders are ids, numbered by the
 * world (sim_world.c parses them out of each command); -1 is "no key". */
struct sim_redis {
    int up;
    int holder;
    int64_t expire_ms;
    uint64_t counter; /* 0: the counter key does not exist */
    int64_t wall_offset_ms;
    /* The history its keys belong to, as the world numbers them: a new
     * one each time the data is lost (sim_world.c sets it). */
    unsigned epoch;
    int scripts_loaded;
    enum sim_redis_break brk;
    /* Quorum mode: the run that wrote the counter (the run key, as the
     * world numbers run ids; -1: no run key), and which quorum scripts the
     * cache holds (bit by enum lc_qwire). */
    int counter_run;
    unsigned qloaded;
    int batch_loaded; /* the batch renewal's script is cached */
};

enum sim_script_kind {
    SIM_SR_WON = 1,
    SIM_SR_LOST,
    SIM_SR_FLAG,
    SIM_SR_TERM_ERROR, /* LEADERTERM: floor or counter out of range */
    SIM_SR_READ,       /* READ: holder, pttl and the counter (term) */
    SIM_SR_QGRANT      /* quorum GRANT won: {1, counter or nil, clock} with
                        * the clock in pttl */
};
enum sim_pub_kind { SIM_PUB_NONE = 0, SIM_PUB_ELECTED, SIM_PUB_RELEASED };

/* What one script did: its reply and what it published. */
struct sim_script {
    enum sim_script_kind kind;
    int holder;
    int flag;
    enum sim_pub_kind pub;
    uint64_t term; /* WON: the term; LOST, READ: the counter (0: missing) */
    int64_t pttl;
    uint64_t pub_term;
};

void sim_redis_init(struct sim_redis *r, enum sim_redis_break brk);
/* The holder at now_ms (expired keys count as absent), or -1. */
int sim_redis_holder(struct sim_redis *r, int64_t now_ms);
int64_t sim_redis_pttl(struct sim_redis *r, int64_t now_ms);
void sim_redis_acquire(struct sim_redis *r, int64_t now_ms, int id, int64_t ttl,
                       uint64_t floor, struct sim_script *out);
void sim_redis_renew(struct sim_redis *r, int64_t now_ms, int id, uint64_t term,
                     int64_t ttl, struct sim_script *out);
void sim_redis_release(struct sim_redis *r, int64_t now_ms, int id,
                       uint64_t term, struct sim_script *out);
/* READ: {holder or nil, pttl, counter or nil}, at one instant. */
void sim_redis_read(struct sim_redis *r, int64_t now_ms,
                    struct sim_script *out);
/* The two halves of the non-atomic renew (SIM_RB_RENEW_NONATOMIC). */
int sim_redis_renew_check(struct sim_redis *r, int64_t now_ms, int id,
                          uint64_t term);
void sim_redis_pexpire(struct sim_redis *r, int64_t now_ms, int64_t ttl);
/* The quorum scripts of lio_proto.c (QSCRIPT_*), as their Lua does:
 * run is the run id in ARGV, as the world numbers them; a counter counts
 * only when the run key equals it; terms are canonical decimals, so
 * comparing them as numbers is comparing them as the scripts do. wall_ms
 * is what TIME reads. */
void sim_redis_qgrant(struct sim_redis *r, int64_t now_ms, int64_t wall_ms,
                      int id, int64_t ttl, int run, struct sim_script *out);
void sim_redis_qcommit(struct sim_redis *r, int64_t now_ms, int id,
                       uint64_t term, int run, struct sim_script *out);
void sim_redis_qrenew(struct sim_redis *r, int64_t now_ms, int id,
                      uint64_t term, int64_t ttl, int run,
                      struct sim_script *out);
void sim_redis_qrelease(struct sim_redis *r, int64_t now_ms, int id,
                        uint64_t term, int run, struct sim_script *out);
void sim_redis_qread(struct sim_redis *r, int64_t now_ms, int run,
                     struct sim_script *out);
/* A restart: the script cache is always lost, the data only if asked. */
void sim_redis_restart(struct sim_redis *r, int lose_data);
/* SCRIPT FLUSH: the script cache emptied, the data kept. */
void sim_redis_script_flush(struct sim_redis *r);
/* FLUSHALL: the data is gone, the server and its scripts stay. The caller
 * gives the data its new epoch. */
void sim_redis_flush(struct sim_redis *r);

struct sim_options {
    int candidates; /* 0: 2, 3 or 5, chosen by the seed */
    int minutes;    /* virtual minutes per run */
    long ttl, wait; /* < 0: chosen by the seed */
    int cluster;    /* < 0: a Redis Cluster in 30 % of the runs; 0 never,
                     * 1 always */
    int servers;    /* independent servers: 1 (no quorum), 3 or 5; 0: 3 or
                     * 5 by the seed */
    enum sim_redis_break redis_break;
    int trace;      /* 0 off, 1 keep the last lines, 2 print every line */
    int bystanders; /* < 0: in 40 % of the runs on one server; 0 never,
                     * 1 in every run on one server */
};

struct sim_result {
    int failed;
    const char *kind; /* which invariant: "safety", "liveness", ... */
    char what[512];
    double virtual_s;
    uint64_t steps;
    /* What the run went through, to show the faults were real. */
    struct {
        uint64_t elected, lease_expired, lost, crashes, pauses, partitions,
            redis_restarts, data_losses, breaks, stops, late_cmds, noscript,
            new_terms_asked, new_terms, flushes, late_joiner_losses, seeded,
            forged, pace_exceeded, script_flushes;
        /* the session layer */
        uint64_t fanouts, pings, sub_opens, changed, recreated, grouped,
            observed, stale_sends;
        /* the Redis Cluster */
        uint64_t clusters, reshards, failovers, lossy, rollbacks, moved, ask,
            tryagain, maps, fresh_held, late_failover;
        /* quorum mode */
        uint64_t quorums, qrestarts, qempty, qsnap, qpauses, qcuts, infos,
            commits, seed_below;
        /* renewals in batches */
        uint64_t by_runs, bystanders, batches, batched, batch_noscript,
            element_errors, by_elected;
    } n;
    double live_ratio; /* time to a stable leader / the liveness bound */
    double load_ratio; /* busiest candidate's commands once settled / the
                        * bound of invariant 6 */
};

/* Runs one seeded scenario; returns 0 if every invariant held, else 1 with
 * res filled (and, with tracing on, the trace tail printed to out). */
int sim_run(const struct sim_options *opt, uint64_t seed,
            struct sim_result *res, FILE *out);

const char *sim_redis_break_name(enum sim_redis_break b);

#endif /* SIM_H */
