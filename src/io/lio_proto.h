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
#include "core/lc_quorum.h"

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
/* Quorum mode: the run id of the server that wrote the term counter. */
const char *lio_run_key(const struct lio_names *n, char buf[LIO_KEY_MAX]);

/* ---- scripts ---- */

/* The Lua body of the script that carries out a command of kind: ACQUIRE,
 * RENEW, RELEASE or READ. NULL for PROBE, which is a plain PTTL. KEYS[1] is
 * the holder key, KEYS[2] the term counter. */
const char *lio_script_body(enum lc_cmd_kind kind);

/* The SHA1 hex digests of the scripts, for EVALSHA. */
struct lio_shas {
    char hex[4][41];
    char qhex[5][41]; /* the quorum scripts' */
    char bhex[41];    /* the batch renewal's */
};

/* 0, or -1 when out of memory. */
int lio_shas_init(struct lio_shas *s);

/* The digest of kind's script ("" for PROBE). */
const char *lio_sha_of(const struct lio_shas *s, enum lc_cmd_kind kind);

/* The command kind whose script text (EVAL) or digest (EVALSHA) is
 * text[0..len), or 0 for none. For the simulated server. */
enum lc_cmd_kind lio_script_named(const struct lio_shas *s, const char *text,
                                  size_t len, int is_sha);

/* Quorum mode (lc_quorum.h): the Lua body of the script for wire (NULL
 * for PROBE, a plain PTTL), its digest, and the wire whose body or digest
 * text[0..len) is (LC_QW_NONE for none). KEYS[1] is the holder key,
 * KEYS[2] the term counter, KEYS[3] the run id that wrote the counter. */
const char *lio_qscript_body(enum lc_qwire wire);
const char *lio_qsha_of(const struct lio_shas *s, enum lc_qwire wire);
enum lc_qwire lio_qscript_named(const struct lio_shas *s, const char *text,
                                size_t len, int is_sha);

/* The batch renewal: the renewals of several elections of one server in
 * one script call (docs/protocol.md, Renewal in batches). For each election, in
 * order, it makes exactly the check of RENEW on that election's keys
 * (GET holder == id, GET counter == term, then PEXPIRE), with the same
 * commands, and answers what RENEW would: an array with 1, 0 or the
 * election's own error reply (a key of the wrong type) per election.
 * Atomic as a whole. Not for a Redis Cluster: the keys of different
 * elections are in different slots. */
const char *lio_batch_body(void);
const char *lio_batch_sha(const struct lio_shas *s);

/* 1 if text[0..len) is the batch renewal's body (EVAL) or digest
 * (EVALSHA), else 0. For the simulated server. */
int lio_batch_named(const struct lio_shas *s, const char *text, size_t len,
                    int is_sha);

/* ---- argument vectors ---- */

#define LIO_ARGV_MAX 10

/* A command ready to send. The strings point into the vector itself, into
 * the names, the id and the text given to the builder, all of which must
 * outlive the send. */
struct lio_argv {
    int argc;
    const char *argv[LIO_ARGV_MAX];
    size_t lens[LIO_ARGV_MAX];
    char term[24];
    char term_key[LIO_KEY_MAX];
    char run_key[LIO_KEY_MAX];
    char text[LC_ID_MAX + 32]; /* a notification's text */
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

/* The most elections in one batch renewal. A batch's script runs
 * atomically, so it holds up every other client while it runs: 256
 * renewals take Redis about 0.2 ms. */
#define LIO_BATCH_MAX 256

/* One election of a batch renewal: RENEW's arguments. */
struct lio_batch_item {
    const struct lio_names *names;
    const char *id;
    uint64_t term;
    const char *ttl_text;
};

/* A batch renewal ready to send; as struct lio_argv, the strings point
 * into it and into the items' names, ids and ttl texts. About 40 kB:
 * one per session, made when first needed. */
struct lio_batch_argv {
    int argc;
    const char *argv[3 + 5 * LIO_BATCH_MAX];
    size_t lens[3 + 5 * LIO_BATCH_MAX];
    char nkeys[8];
    char terms[LIO_BATCH_MAX][24];
    char term_keys[LIO_BATCH_MAX][LIO_KEY_MAX];
};

/* EVALSHA sha 2n holder_1 term_key_1 ... holder_n term_key_n id_1 term_1
 * ttl_1 ... id_n term_n ttl_n, or EVAL body ... when sha is NULL; n is 1
 * to LIO_BATCH_MAX. Its reply: an array of n, each what RENEW answers. */
void lio_argv_batch(struct lio_batch_argv *a, const struct lio_batch_item *it,
                    size_t n, const char *sha);

/* Quorum mode: EVALSHA sha 3 holder term_key run_key ARGV..., or EVAL
 * body ... when sha is NULL. run is the server's run id, last of ARGV:
 *   GRANT    id, ttl             -> {1, counter|nil, clock ms}
 *                                   | {0, holder, pttl, counter|nil}
 *   COMMIT   id, term            -> 1 | 0
 *   RENEW    id, term, ttl       -> 1 | 0
 *   RELEASE  id, term            -> 1 | 0
 *   READ     (none)              -> {holder|nil, pttl, counter|nil}
 * where a counter is given only if this run of the server wrote it. */
void lio_argv_qscript(struct lio_argv *a, enum lc_qwire wire, uint64_t term,
                      const struct lio_names *n, const char *id,
                      const char *ttl_text, const char *run, const char *sha);

/* Quorum mode: PUBLISH channel "elected|released <term> <id>", sent to
 * every server by the client; the scripts publish nothing. "elected" once
 * a majority committed the term: one server's commit is not yet a win,
 * and an observer told of it would then read the term before it back from
 * a majority. "released" with a leader's release, after its script on each
 * link. */
void lio_argv_notify(struct lio_argv *a, const struct lio_names *n,
                     enum lc_notify_kind kind, uint64_t term, const char *id);

/* INFO server: asked on every connection to a server of a quorum. */
void lio_argv_info(struct lio_argv *a);

/* What quorum mode reads of INFO server. */
struct lio_server_info {
    char run_id[48];
    long long uptime_s;
};

/* 0, or -1 when the text lacks run_id or uptime_in_seconds. */
int lio_parse_info(const char *text, size_t len, struct lio_server_info *si);

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
