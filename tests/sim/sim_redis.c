/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_redis.c - the simulated Redis: the holder key with a TTL on Redis'
 * own clock, the term counter, and the scripts of src/io/lio_proto.c
 * (acquire, renew, release, read), each applied atomically when its
 * command arrives. sim_world.c parses each command's argument vector and
 * calls the script it names here.
 * Acquire computes terms as the script does: exactly, up to
 * LEADER_TERM_MAX, refusing a floor or a counter out of range before it
 * writes anything, and starting a missing counter from the server's clock.
 *
 * In quorum mode each server runs the five quorum scripts (QSCRIPT_* of
 * lio_proto.c) on its own copy: the holder key, the counter and the run
 * key, which names the run (the server's life between two restarts) that
 * last wrote the counter.
 *
 * The breakage switches (enum sim_redis_break) change one rule each, so a
 * test can show that the simulator notices when the server side of the
 * protocol is wrong.
 */
#include "leader.h"
#include "sim.h"

void sim_redis_init(struct sim_redis *r, enum sim_redis_break brk)
{
    r->up = 1;
    r->holder = -1;
    r->expire_ms = 0;
    r->counter = 0;
    r->wall_offset_ms = 0;
    r->epoch = 0;
    r->scripts_loaded = 0;
    r->brk = brk;
    r->counter_run = -1;
    r->qloaded = 0;
    r->batch_loaded = 0;
}

/* Redis treats a key as gone once its expiry time is reached; taking the
 * earlier of the two possible readings is the harder case for the core. */
int sim_redis_holder(struct sim_redis *r, int64_t now_ms)
{
    if (r->holder >= 0 && now_ms >= r->expire_ms)
        r->holder = -1;
    return r->holder;
}

int64_t sim_redis_pttl(struct sim_redis *r, int64_t now_ms)
{
    return sim_redis_holder(r, now_ms) >= 0 ? r->expire_ms - now_ms : -2;
}

void sim_redis_acquire(struct sim_redis *r, int64_t now_ms, int id, int64_t ttl,
                       uint64_t floor, struct sim_script *out)
{
    int h = sim_redis_holder(r, now_ms);
    uint64_t t;

    out->pub = SIM_PUB_NONE;
    if (h >= 0 && h != id) {
        out->kind = SIM_SR_LOST;
        out->holder = h;
        out->pttl = r->expire_ms - now_ms;
        out->term = r->counter;
        return;
    }
    if (floor >= LEADER_TERM_MAX || r->counter >= LEADER_TERM_MAX) {
        out->kind = SIM_SR_TERM_ERROR; /* before any write */
        return;
    }
    if (r->counter > 0)
        t = r->counter;
    else if (r->brk == SIM_RB_NO_SEED)
        t = 0; /* broken: a lost counter starts again from the floor */
    else
        t = (uint64_t) (now_ms + r->wall_offset_ms); /* TIME, in ms */
    t = t + 1 > floor ? t + 1 : floor + 1;
    if (h == id) {
        r->expire_ms = now_ms + ttl;
        if (r->brk == SIM_RB_ACQUIRE_OLD_TERM && r->counter > 0) {
            /* Broken: "we already hold it", so hand back the old term. */
            out->kind = SIM_SR_WON;
            out->term = r->counter;
            out->pub = SIM_PUB_ELECTED;
            out->pub_term = r->counter;
            return;
        }
    } else {
        r->holder = id;
        r->expire_ms = now_ms + ttl;
    }
    r->counter = t;
    out->kind = SIM_SR_WON;
    out->term = t;
    out->pub = SIM_PUB_ELECTED;
    out->pub_term = t;
}

int sim_redis_renew_check(struct sim_redis *r, int64_t now_ms, int id,
                          uint64_t term)
{
    return sim_redis_holder(r, now_ms) == id &&
           (r->brk == SIM_RB_RENEW_ID_ONLY || r->counter == term);
}

void sim_redis_pexpire(struct sim_redis *r, int64_t now_ms, int64_t ttl)
{
    if (sim_redis_holder(r, now_ms) >= 0)
        r->expire_ms = now_ms + ttl;
}

void sim_redis_renew(struct sim_redis *r, int64_t now_ms, int id, uint64_t term,
                     int64_t ttl, struct sim_script *out)
{
    out->kind = SIM_SR_FLAG;
    out->pub = SIM_PUB_NONE;
    out->flag = sim_redis_renew_check(r, now_ms, id, term);
    if (out->flag)
        r->expire_ms = now_ms + ttl;
}

void sim_redis_release(struct sim_redis *r, int64_t now_ms, int id,
                       uint64_t term, struct sim_script *out)
{
    out->kind = SIM_SR_FLAG;
    out->pub = SIM_PUB_NONE;
    out->flag = sim_redis_holder(r, now_ms) == id &&
                (r->brk == SIM_RB_RELEASE_ID_ONLY || r->counter == term);
    if (out->flag) {
        r->holder = -1;
        out->pub = SIM_PUB_RELEASED;
        out->pub_term = term;
    }
}

void sim_redis_read(struct sim_redis *r, int64_t now_ms, struct sim_script *out)
{
    out->kind = SIM_SR_READ;
    out->pub = SIM_PUB_NONE;
    out->holder = sim_redis_holder(r, now_ms);
    out->pttl = sim_redis_pttl(r, now_ms);
    out->term = r->counter;
}

/* ---- quorum mode: the scripts as their Lua runs them ---- */

/* Q_COUNTER: the counter if the run key equals ARGV's run, else false
 * (0). */
static uint64_t q_counter(const struct sim_redis *r, int run)
{
    return r->counter_run == run && run >= 0 ? r->counter : 0;
}

void sim_redis_qgrant(struct sim_redis *r, int64_t now_ms, int64_t wall_ms,
                      int id, int64_t ttl, int run, struct sim_script *out)
{
    uint64_t c = q_counter(r, run);
    int h = sim_redis_holder(r, now_ms);

    out->pub = SIM_PUB_NONE;
    out->term = c;
    if (h >= 0 && h != id) {
        out->kind = SIM_SR_LOST;
        out->holder = h;
        out->pttl = r->expire_ms - now_ms;
        return;
    }
    /* PEXPIRE our own key, or SET it: either way it is ours for ttl. */
    r->holder = id;
    r->expire_ms = now_ms + ttl;
    out->kind = SIM_SR_QGRANT;
    out->pttl = wall_ms; /* TIME, in ms */
}

void sim_redis_qcommit(struct sim_redis *r, int64_t now_ms, int id,
                       uint64_t term, int run, struct sim_script *out)
{
    uint64_t c = q_counter(r, run);

    out->kind = SIM_SR_FLAG;
    out->pub = SIM_PUB_NONE;
    out->flag = sim_redis_holder(r, now_ms) == id && !(c != 0 && c > term);
    if (!out->flag)
        return;
    r->counter = term; /* raised, or set again: never lowered */
    r->counter_run = run;
}

void sim_redis_qrenew(struct sim_redis *r, int64_t now_ms, int id,
                      uint64_t term, int64_t ttl, int run,
                      struct sim_script *out)
{
    uint64_t c = q_counter(r, run);
    int h = sim_redis_holder(r, now_ms);

    out->kind = SIM_SR_FLAG;
    out->pub = SIM_PUB_NONE;
    out->flag = !(h >= 0 && h != id) && !(c != 0 && c > term);
    if (!out->flag)
        return;
    if (c != term) { /* behind, or missing, or another run's */
        r->counter = term;
        r->counter_run = run;
    }
    /* A free key is taken back: PEXPIRE ours, or SET it. */
    r->holder = id;
    r->expire_ms = now_ms + ttl;
}

void sim_redis_qrelease(struct sim_redis *r, int64_t now_ms, int id,
                        uint64_t term, int run, struct sim_script *out)
{
    uint64_t c = q_counter(r, run);

    out->kind = SIM_SR_FLAG;
    out->pub = SIM_PUB_NONE;
    out->flag = sim_redis_holder(r, now_ms) == id && !(c != 0 && c > term);
    if (!out->flag)
        return;
    r->holder = -1;
}

void sim_redis_qread(struct sim_redis *r, int64_t now_ms, int run,
                     struct sim_script *out)
{
    out->kind = SIM_SR_READ;
    out->pub = SIM_PUB_NONE;
    out->holder = sim_redis_holder(r, now_ms);
    out->pttl = sim_redis_pttl(r, now_ms);
    out->term = q_counter(r, run);
}

void sim_redis_script_flush(struct sim_redis *r)
{
    r->scripts_loaded = 0;
    r->qloaded = 0;
    r->batch_loaded = 0;
}

void sim_redis_restart(struct sim_redis *r, int lose_data)
{
    sim_redis_script_flush(r);
    if (lose_data)
        sim_redis_flush(r);
}

void sim_redis_flush(struct sim_redis *r)
{
    r->holder = -1;
    r->counter = 0;
    r->counter_run = -1;
}

const char *sim_redis_break_name(enum sim_redis_break b)
{
    switch (b) {
    case SIM_RB_NONE:
        return "none";
    case SIM_RB_RENEW_NONATOMIC:
        return "renew-nonatomic";
    case SIM_RB_RENEW_ID_ONLY:
        return "renew-id-only";
    case SIM_RB_RELEASE_ID_ONLY:
        return "release-id-only";
    case SIM_RB_ACQUIRE_OLD_TERM:
        return "acquire-old-term";
    case SIM_RB_NO_SEED:
        return "no-seed";
    }
    return "?";
}
