/* lio_engine.h - drives one election: the core, its command connection and
 * its notification connection, over a loop the caller runs.
 *
 * The caller polls the descriptors from lio_engine_pollfds() until the
 * time from lio_engine_deadline(), then calls lio_engine_handle(). Every
 * call takes the caller's "now" (read once per loop turn). Events reach
 * the caller through the emit function, outside any hiredis callback.
 */
#ifndef LIO_ENGINE_H
#define LIO_ENGINE_H

#include <poll.h>
#include <stdint.h>

#include "core/lc_core.h"
#include "io/lio_conn.h"
#include "util/lu_url.h"

#define LIO_KEY_MAX 64 /* "{leader:" + 40 hex + "}:term" and the rest */

struct lio_record;

typedef void (*lio_emit_fn)(void *owner, const struct lc_event *ev);

struct lio_engine {
    struct lc_core core;
    struct lu_url url;
    char holder_key[LIO_KEY_MAX], term_key[LIO_KEY_MAX], channel[LIO_KEY_MAX];
    char ttl_text[24];
    char sha[LC_CMD_READ + 1][41]; /* of each command's script */
    struct lio_conn cmd, sub;
    struct lc_cmd last_cmd; /* the command awaited, for EVAL fallback */
    struct lio_record *queue;
    size_t queued, queue_cap;
    int dropped; /* a record could not be queued */
    lc_time now;
    lc_time sub_retry_at;
    unsigned sub_failures;
    uint64_t rng;
    lio_emit_fn emit;
    void *owner;
};

struct lio_engine_config {
    const struct lu_url *url;
    const char *id;
    const char *key_hex; /* sha1hex of the election name */
    long ttl_ms, wait_ms;
    uint64_t seed;
};

/* Returns 0, or LEADER_EINVAL / LEADER_ENOMEM. */
int lio_engine_init(struct lio_engine *e, const struct lio_engine_config *cfg,
                    lio_emit_fn emit, void *owner);

/* Closes the connections (no release: stop first). */
void lio_engine_free(struct lio_engine *e);

/* Feeds START, STOP or TICK. */
void lio_engine_input(struct lio_engine *e, enum lc_input_kind kind,
                      lc_time now);

/* Fills up to two pollfds; returns how many. */
int lio_engine_pollfds(const struct lio_engine *e, struct pollfd *pfd);

/* Processes poll() results and then any deadline that has passed. */
void lio_engine_handle(struct lio_engine *e, const struct pollfd *pfd, int n,
                       lc_time now);

/* The next time lio_engine_handle() must run, LC_NEVER for none. */
lc_time lio_engine_deadline(const struct lio_engine *e);

#endif
