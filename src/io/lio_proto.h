/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_proto.h - the protocol on Redis in one place (DESIGN.md section 3):
 * the names of an election's keys and channel, the Lua scripts that make
 * every write atomic, the argument vectors of every command the library
 * sends, and the timing of the connections that carry them.
 *
 * Nothing here talks to Redis or includes hiredis: the session layer, the
 * blocking query connection and the simulator all build their commands
 * here, so the simulator reads the very argument vectors the library sends.
 *
 * Terms are integers from 1 to LEADER_TERM_MAX (leader.h), below 2^53, so
 * the doubles of Redis' Lua hold every one exactly and term + 1 is exact.
 * The scripts never do arithmetic on anything they have not checked to be
 * in that range: a floor or a counter outside it is refused with an error
 * reply (LEADERTERM ...), before anything is written. Renew and release
 * compare terms as strings, which is exact for any value.
 */
#ifndef LIO_PROTO_H
#define LIO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/lc_core.h"

/* LEADER_TERM_MAX as the scripts spell it (a unit test checks they agree). */
#define LIO_TERM_MAX "9000000000000000"

/* ---- names ---- */

#define LIO_KEY_MAX    64 /* "{leader:" + 40 hex + "}:term" and the rest */
#define LIO_HOLDER_MAX 48 /* "leader:" + 40 hex digits + NUL */

/* The Redis names of an election. Only the holder key is kept: the term
 * counter and the channel are derived from it when needed, which saves
 * memory when a process hosts many elections. */
struct lio_names {
    char holder_key[LIO_HOLDER_MAX];
};

/* Fills names for the election whose name hashes to key_hex. */
void lio_names_make(struct lio_names *names, const char *key_hex);

/* The term counter's key and the notification channel, into buf. */
const char *lio_term_key(const struct lio_names *n, char buf[LIO_KEY_MAX]);
const char *lio_channel(const struct lio_names *n, char buf[LIO_KEY_MAX]);

/* ---- scripts ---- */

/* The Lua body of the script that carries out a command of kind: ACQUIRE,
 * RENEW, RELEASE or READ. NULL for PROBE, which is a plain PTTL. KEYS[1] is
 * the holder key, KEYS[2] the term counter. */
const char *lio_script_body(enum lc_cmd_kind kind);

/* The SHA1 hex digests of the scripts, for EVALSHA. */
struct lio_shas {
    char hex[4][41];
};

/* 0, or -1 when out of memory. */
int lio_shas_init(struct lio_shas *s);

/* The digest of kind's script ("" for PROBE). */
const char *lio_sha_of(const struct lio_shas *s, enum lc_cmd_kind kind);

/* The command kind whose script text (EVAL) or digest (EVALSHA) is
 * text[0..len), or 0 for none. For the simulated server. */
enum lc_cmd_kind lio_script_named(const struct lio_shas *s, const char *text,
                                  size_t len, int is_sha);

/* ---- argument vectors ---- */

#define LIO_ARGV_MAX 8

/* A command ready to send. The strings point into the vector itself, into
 * the names, the id and the text given to the builder, all of which must
 * outlive the send. */
struct lio_argv {
    int argc;
    const char *argv[LIO_ARGV_MAX];
    size_t lens[LIO_ARGV_MAX];
    char term[24];
    char term_key[LIO_KEY_MAX];
};

/* EVALSHA sha 2 holder term_key ARGV..., or EVAL body ... when sha is
 * NULL. The ARGV of each script:
 *   ACQUIRE  id, ttl, floor term  -> {1, term} | {0, holder, pttl, counter}
 *   RENEW    id, term, ttl        -> 1 extended | 0 not this leadership
 *   RELEASE  id, term             -> 1 deleted | 0 not this leadership
 *   READ     (none)               -> {holder or nil, pttl, counter or nil}
 * ttl_text is the ttl in ms as text; id and ttl_text may be NULL when the
 * script does not take them. */
void lio_argv_script(struct lio_argv *a, enum lc_cmd_kind kind, uint64_t term,
                     const struct lio_names *n, const char *id,
                     const char *ttl_text, const char *sha);

/* A follower's look between tries: PTTL holder. */
void lio_argv_probe(struct lio_argv *a, const struct lio_names *n);

/* ---- timing of the connections ---- */

/* With t the shortest ttl among a connection's elections (3 s with none):
 *   - the notification connection gets a PING every t/3, between 0.5 and
 *     5 s, whose reply is due within t/3, between 0.25 and 2 s; opening it
 *     has as long;
 *   - every TCP connection gets keepalive probes after t/3 of silence
 *     (between 1 and 15 s), every third of that; three unanswered ones end
 *     it. */
struct lio_timing {
    lc_time ping_every;
    lc_time sub_timeout;
    int keepalive_s;
};

void lio_timing_for(lc_time shortest_ttl, struct lio_timing *t);

#endif
