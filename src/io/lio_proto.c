/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_proto.c - see lio_proto.h. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "io/lio_proto.h"
#include "util/lu_sha1.h"

/* ARGV: id, ttl, floor. {1, term} when elected, else {0, holder, pttl,
 * counter} (the counter as GET reads it, nil if missing).
 *
 * The new term is one above the counter (INCR), raised above the floor if
 * it is not. A holder that already is this id gets a new term all the
 * same. A missing counter (a new election, or one whose counter Redis
 * lost) starts from the server's clock: the new term is one above the
 * larger of the floor and TIME in milliseconds since the Unix epoch, above
 * every term an older counter can have reached (docs/protocol.md, Safety,
 * says exactly when). TIME is not deterministic, so the script asks for
 * effects replication first: the default since Redis 5 and the only mode
 * since 7 (redis.replicate_commands() is a no-op there), needed on 3.2 and
 * 4; it comes before any write, as Redis requires. */
#define SCRIPT_ACQUIRE                                                         \
    "local max = " LIO_TERM_MAX "\n"                                           \
    "local function term(s)\n"                                                 \
    "  if s == '0' then return 0 end\n"                                        \
    "  if type(s) ~= 'string' or #s > 16 or\n"                                 \
    "     not string.find(s, '^[1-9]%d*$') then return nil end\n"              \
    "  local n = tonumber(s)\n"                                                \
    "  if n <= max then return n end\n"                                        \
    "end\n"                                                                    \
    "local h = redis.call('GET', KEYS[1])\n"                                   \
    "if h and h ~= ARGV[1] then\n"                                             \
    "  return {0, h, redis.call('PTTL', KEYS[1]), redis.call('GET', "          \
    "KEYS[2])}\n"                                                              \
    "end\n"                                                                    \
    "local floor = term(ARGV[3])\n"                                            \
    "if not floor or floor >= max then\n"                                      \
    "  return redis.error_reply('LEADERTERM the floor is not a term below "    \
    "' .. '" LIO_TERM_MAX "')\n"                                               \
    "end\n"                                                                    \
    "local c = redis.call('GET', KEYS[2])\n"                                   \
    "local t\n"                                                                \
    "if c then\n"                                                              \
    "  t = term(c)\n"                                                          \
    "  if not t or t >= max then\n"                                            \
    "    return redis.error_reply('LEADERTERM the term counter ' .. KEYS[2] "  \
    "..\n"                                                                     \
    "      ' is at " LIO_TERM_MAX " or holds no term')\n"                      \
    "  end\n"                                                                  \
    "else\n"                                                                   \
    "  if redis.replicate_commands then redis.replicate_commands() end\n"      \
    "  local now = redis.call('TIME')\n"                                       \
    "  t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)\n"    \
    "  if t >= max then\n"                                                     \
    "    return redis.error_reply('LEADERTERM the server clock is past "       \
    "the last term')\n"                                                        \
    "  end\n"                                                                  \
    "end\n"                                                                    \
    "local n = t + 1\n"                                                        \
    "if n <= floor then n = floor + 1 end\n"                                   \
    "if h then\n"                                                              \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                              \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"                   \
    "end\n"                                                                    \
    "if c and n == t + 1 then\n"                                               \
    "  redis.call('INCR', KEYS[2])\n"                                          \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[2], string.format('%d', n))\n"                   \
    "end\n"                                                                    \
    "redis.call('PUBLISH', KEYS[1] .. ':events',\n"                            \
    "  'elected ' .. string.format('%d', n) .. ' ' .. ARGV[1])\n"              \
    "return {1, n}\n"

/* ARGV: id, term, ttl. 1 if extended, 0 if the key is not this
 * leadership's any more. */
#define SCRIPT_RENEW                                                           \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   redis.call('GET', KEYS[2]) == ARGV[2] then\n"                          \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"                              \
    "  return 1\n"                                                             \
    "end\n"                                                                    \
    "return 0\n"

/* KEYS: holder and counter of each election; ARGV: id, term and ttl of
 * each. For each election, in order, RENEW's own check and answer: GET
 * the holder, and if it is the id GET the counter, and if that is the
 * term PEXPIRE the holder: 1 if extended, 0 if the key is not this
 * leadership's. A command that fails (a key of another type) is that
 * election's error alone (redis.pcall), where RENEW would have failed as a
 * whole. The same commands as RENEW, so the same ACL rules; an MGET of
 * every key first saved Redis no more than the noise of a measurement. */
#define SCRIPT_BATCH_RENEW                                                     \
    "local function failed(x)\n"                                               \
    "  return type(x) == 'table' and x.err ~= nil\n"                           \
    "end\n"                                                                    \
    "local r = {}\n"                                                           \
    "for i = 1, #KEYS / 2 do\n"                                                \
    "  local h, id, t = KEYS[2 * i - 1], ARGV[3 * i - 2], ARGV[3 * i - 1]\n"   \
    "  local g, c = redis.pcall('GET', h), nil\n"                              \
    "  if g == id then c = redis.pcall('GET', KEYS[2 * i]) end\n"              \
    "  if failed(g) or failed(c) then\n"                                       \
    "    r[i] = failed(g) and g or c\n"                                        \
    "  elseif g ~= id or c ~= t then\n"                                        \
    "    r[i] = 0\n"                                                           \
    "  else\n"                                                                 \
    "    local e = redis.pcall('PEXPIRE', h, ARGV[3 * i])\n"                   \
    "    r[i] = failed(e) and e or 1\n"                                        \
    "  end\n"                                                                  \
    "end\n"                                                                    \
    "return r\n"

/* ARGV: id, term. 1 if deleted, 0 if the key is not this leadership's. */
#define SCRIPT_RELEASE                                                         \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   redis.call('GET', KEYS[2]) == ARGV[2] then\n"                          \
    "  redis.call('DEL', KEYS[1])\n"                                           \
    "  redis.call('PUBLISH', KEYS[1] .. ':events',\n"                          \
    "    'released ' .. ARGV[2] .. ' ' .. ARGV[1])\n"                          \
    "  return 1\n"                                                             \
    "end\n"                                                                    \
    "return 0\n"

/* No ARGV. {holder or nil, pttl, term or nil}: who leads, read at one
 * instant. */
#define SCRIPT_READ                                                            \
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]),\n"       \
    "        redis.call('GET', KEYS[2])}\n"

/* ---- quorum mode: the scripts each of the N servers runs ----
 *
 * KEYS[3] holds the run id of the server that last wrote the counter: a
 * counter is read only by the run that wrote it (the client passes the
 * run id it read with INFO on the connection, which no restart survives),
 * so a server that restarted empty or from an older copy of its data is
 * never a source of a term (docs/protocol.md, Quorum). Terms are compared
 * as canonical decimal strings: longer is larger, then byte order. */

/* The counter if this run wrote it, else false. */
#define Q_COUNTER(run)                                                         \
    "local c = false\n"                                                        \
    "if redis.call('GET', KEYS[3]) == " run " then\n"                          \
    "  c = redis.call('GET', KEYS[2])\n"                                       \
    "end\n"

/* a > b, for canonical decimal strings. */
#define Q_ABOVE                                                                \
    "local function above(a, b)\n"                                             \
    "  return #a > #b or (#a == #b and a > b)\n"                               \
    "end\n"

/* ARGV: id, ttl, run. {1, counter or nil, server clock in ms} when the key
 * is (now) ours, else {0, holder, pttl, counter or nil}. No term is taken
 * here: the client commits one to a majority in a second step. */
#define QSCRIPT_GRANT                                                          \
    Q_COUNTER("ARGV[3]")                                                       \
    "local h = redis.call('GET', KEYS[1])\n"                                   \
    "if h and h ~= ARGV[1] then\n"                                             \
    "  return {0, h, redis.call('PTTL', KEYS[1]), c}\n"                        \
    "end\n"                                                                    \
    "if redis.replicate_commands then redis.replicate_commands() end\n"        \
    "local now = redis.call('TIME')\n"                                         \
    "if h then\n"                                                              \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                              \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"                   \
    "end\n"                                                                    \
    "return {1, c, tonumber(now[1]) * 1000 +\n"                                \
    "  math.floor(tonumber(now[2]) / 1000)}\n"

/* ARGV: id, term, run. 1 if the key is ours and the counter is now the
 * term (raised, never lowered), else 0. No notification: the client
 * publishes the term once a majority committed it (lio_argv_notify). */
#define QSCRIPT_COMMIT                                                         \
    Q_ABOVE Q_COUNTER(                                                         \
        "ARGV[3]") "if redis.call('GET', KEYS[1]) ~= ARGV[1] or\n"             \
                   "   (c and above(c, ARGV[2])) then\n"                       \
                   "  return 0\n"                                              \
                   "end\n"                                                     \
                   "redis.call('SET', KEYS[2], ARGV[2])\n"                     \
                   "redis.call('SET', KEYS[3], ARGV[3])\n"                     \
                   "return 1\n"

/* ARGV: id, term, ttl, run. 1 if extended: the key is ours, or nobody's
 * (a server the acquire did not reach, or that lost the key: it is taken
 * back), and no later term was committed here. A counter behind the term
 * (or of another run) is raised to it, so a server that came back empty
 * stops lagging. */
#define QSCRIPT_RENEW                                                          \
    Q_ABOVE Q_COUNTER(                                                         \
        "ARGV[4]") "local h = redis.call('GET', KEYS[1])\n"                    \
                   "if (h and h ~= ARGV[1]) or (c and above(c, ARGV[2])) "     \
                   "then\n"                                                    \
                   "  return 0\n"                                              \
                   "end\n"                                                     \
                   "if c ~= ARGV[2] then\n"                                    \
                   "  redis.call('SET', KEYS[2], ARGV[2])\n"                   \
                   "  redis.call('SET', KEYS[3], ARGV[4])\n"                   \
                   "end\n"                                                     \
                   "if h then\n"                                               \
                   "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"               \
                   "else\n"                                                    \
                   "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])\n"    \
                   "end\n"                                                     \
                   "return 1\n"

/* ARGV: id, term, run. 1 if deleted: the key is ours and no later term
 * was committed here. No notification: a leader's release is told to every
 * server by the client (lio_argv_notify), and the release of a lost
 * acquire's grants is told to nobody (followers woken by each one would
 * take the free server again, lose again and release again). */
#define QSCRIPT_RELEASE                                                        \
    Q_ABOVE Q_COUNTER(                                                         \
        "ARGV[3]") "if redis.call('GET', KEYS[1]) ~= ARGV[1] or\n"             \
                   "   (c and above(c, ARGV[2])) then\n"                       \
                   "  return 0\n"                                              \
                   "end\n"                                                     \
                   "redis.call('DEL', KEYS[1])\n"                              \
                   "return 1\n"

/* ARGV: run. {holder or nil, pttl, counter or nil}. */
#define QSCRIPT_READ                                                           \
    Q_COUNTER("ARGV[1]")                                                       \
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), c}\n"

static const struct {
    enum lc_qwire wire;
    const char *body;
} qscripts[] = {
    {LC_QW_GRANT, QSCRIPT_GRANT}, {LC_QW_COMMIT, QSCRIPT_COMMIT},
    {LC_QW_RENEW, QSCRIPT_RENEW}, {LC_QW_RELEASE, QSCRIPT_RELEASE},
    {LC_QW_READ, QSCRIPT_READ},
};

#define NQSCRIPTS (sizeof qscripts / sizeof qscripts[0])

_Static_assert(NQSCRIPTS == sizeof((struct lio_shas *) 0)->qhex /
                                sizeof((struct lio_shas *) 0)->qhex[0],
               "one digest per quorum script");

static int qscript_index(enum lc_qwire wire)
{
    for (size_t i = 0; i < NQSCRIPTS; i++)
        if (qscripts[i].wire == wire)
            return (int) i;
    return -1;
}

const char *lio_qscript_body(enum lc_qwire wire)
{
    int i = qscript_index(wire);

    return i < 0 ? NULL : qscripts[i].body;
}

enum lc_qwire lio_qscript_named(const struct lio_shas *s, const char *text,
                                size_t len, int is_sha)
{
    for (size_t i = 0; i < NQSCRIPTS; i++) {
        const char *t = is_sha ? s->qhex[i] : qscripts[i].body;
        if (strlen(t) == len && memcmp(t, text, len) == 0)
            return qscripts[i].wire;
    }
    return LC_QW_NONE;
}

/* Keyed by command kind, in no particular order: lookups search it. */
static const struct {
    enum lc_cmd_kind kind;
    const char *body;
} scripts[] = {
    {LC_CMD_ACQUIRE, SCRIPT_ACQUIRE},
    {LC_CMD_RENEW, SCRIPT_RENEW},
    {LC_CMD_RELEASE, SCRIPT_RELEASE},
    {LC_CMD_READ, SCRIPT_READ},
};

#define NSCRIPTS (sizeof scripts / sizeof scripts[0])

_Static_assert(NSCRIPTS == sizeof((struct lio_shas *) 0)->hex /
                               sizeof((struct lio_shas *) 0)->hex[0],
               "one digest per script");

static int script_index(enum lc_cmd_kind kind)
{
    for (size_t i = 0; i < NSCRIPTS; i++)
        if (scripts[i].kind == kind)
            return (int) i;
    return -1;
}

const char *lio_script_body(enum lc_cmd_kind kind)
{
    int i = script_index(kind);

    return i < 0 ? NULL : scripts[i].body;
}

const char *lio_batch_body(void)
{
    return SCRIPT_BATCH_RENEW;
}

const char *lio_batch_sha(const struct lio_shas *s)
{
    return s->bhex;
}

int lio_batch_named(const struct lio_shas *s, const char *text, size_t len,
                    int is_sha)
{
    const char *t = is_sha ? s->bhex : SCRIPT_BATCH_RENEW;

    return strlen(t) == len && memcmp(t, text, len) == 0;
}

int lio_shas_init(struct lio_shas *s)
{
    if (lu_sha1_hex(SCRIPT_BATCH_RENEW, strlen(SCRIPT_BATCH_RENEW), s->bhex))
        return -1;
    for (size_t i = 0; i < NSCRIPTS; i++)
        if (lu_sha1_hex(scripts[i].body, strlen(scripts[i].body), s->hex[i]))
            return -1;
    for (size_t i = 0; i < NQSCRIPTS; i++)
        if (lu_sha1_hex(qscripts[i].body, strlen(qscripts[i].body), s->qhex[i]))
            return -1;
    return 0;
}

const char *lio_sha_of(const struct lio_shas *s, enum lc_cmd_kind kind)
{
    int i = script_index(kind);

    return i < 0 ? "" : s->hex[i];
}

enum lc_cmd_kind lio_script_named(const struct lio_shas *s, const char *text,
                                  size_t len, int is_sha)
{
    for (size_t i = 0; i < NSCRIPTS; i++) {
        const char *t = is_sha ? s->hex[i] : scripts[i].body;
        if (strlen(t) == len && memcmp(t, text, len) == 0)
            return scripts[i].kind;
    }
    return 0;
}

/* ---- names ---- */

void lio_names_make(struct lio_names *n, const char *key_hex)
{
    snprintf(n->holder_key, sizeof n->holder_key, "leader:%s", key_hex);
}

/* "{" holder "}" suffix into buf, without snprintf: every command of a
 * script builds a term key. */
static const char *derive(const struct lio_names *n, int braces,
                          const char *suffix, char buf[LIO_KEY_MAX])
{
    size_t h = strlen(n->holder_key), x = strlen(suffix), at = 0;

    assert(h + x + 3 <= LIO_KEY_MAX);
    if (braces)
        buf[at++] = '{';
    memcpy(buf + at, n->holder_key, h);
    at += h;
    if (braces)
        buf[at++] = '}';
    memcpy(buf + at, suffix, x + 1);
    return buf;
}

const char *lio_term_key(const struct lio_names *n, char buf[LIO_KEY_MAX])
{
    return derive(n, 1, ":term", buf);
}

const char *lio_channel(const struct lio_names *n, char buf[LIO_KEY_MAX])
{
    return derive(n, 0, ":events", buf);
}

const char *lio_run_key(const struct lio_names *n, char buf[LIO_KEY_MAX])
{
    return derive(n, 1, ":run", buf);
}

/* ---- argument vectors ---- */

/* term in decimal into out (at least 21 bytes), without snprintf. */
static void format_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;

    do
        tmp[n++] = (char) ('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void push(struct lio_argv *a, const char *s)
{
    assert(a->argc < LIO_ARGV_MAX);
    a->argv[a->argc] = s;
    a->lens[a->argc] = strlen(s);
    a->argc++;
}

void lio_argv_script(struct lio_argv *a, enum lc_cmd_kind kind, uint64_t term,
                     const struct lio_names *n, const char *id,
                     const char *ttl_text, const char *sha)
{
    assert(lio_script_body(kind) != NULL);
    a->argc = 0;
    format_u64(term, a->term);
    push(a, sha != NULL ? "EVALSHA" : "EVAL");
    push(a, sha != NULL ? sha : lio_script_body(kind));
    push(a, "2");
    push(a, n->holder_key);
    push(a, lio_term_key(n, a->term_key));
    switch (kind) {
    case LC_CMD_ACQUIRE:
        push(a, id);
        push(a, ttl_text);
        push(a, a->term);
        break;
    case LC_CMD_RENEW:
        push(a, id);
        push(a, a->term);
        push(a, ttl_text);
        break;
    case LC_CMD_RELEASE:
        push(a, id);
        push(a, a->term);
        break;
    case LC_CMD_READ:
    case LC_CMD_PROBE:
        break;
    }
}

void lio_argv_batch(struct lio_batch_argv *a, const struct lio_batch_item *it,
                    size_t n, const char *sha)
{
    size_t k = 3, v = 3 + 2 * n;

    assert(n >= 1 && n <= LIO_BATCH_MAX);
    a->argc = (int) (3 + 5 * n);
    a->argv[0] = sha != NULL ? "EVALSHA" : "EVAL";
    a->argv[1] = sha != NULL ? sha : SCRIPT_BATCH_RENEW;
    format_u64(2 * n, a->nkeys);
    a->argv[2] = a->nkeys;
    for (size_t i = 0; i < n; i++) {
        format_u64(it[i].term, a->terms[i]);
        a->argv[k++] = it[i].names->holder_key;
        a->argv[k++] = lio_term_key(it[i].names, a->term_keys[i]);
        a->argv[v++] = it[i].id;
        a->argv[v++] = a->terms[i];
        a->argv[v++] = it[i].ttl_text;
    }
    for (int i = 0; i < a->argc; i++)
        a->lens[i] = strlen(a->argv[i]);
}

void lio_argv_notify(struct lio_argv *a, const struct lio_names *n,
                     enum lc_notify_kind kind, uint64_t term, const char *id)
{
    const char *verb = kind == LC_NOTIFY_ELECTED ? "elected " : "released ";
    size_t vl = strlen(verb), tl, il = strlen(id);

    assert(il <= LC_ID_MAX);
    format_u64(term, a->term);
    tl = strlen(a->term);
    memcpy(a->text, verb, vl);
    memcpy(a->text + vl, a->term, tl);
    a->text[vl + tl] = ' ';
    memcpy(a->text + vl + tl + 1, id, il + 1);
    a->argc = 0;
    push(a, "PUBLISH");
    push(a, lio_channel(n, a->term_key));
    push(a, a->text);
}

const char *lio_qsha_of(const struct lio_shas *s, enum lc_qwire wire)
{
    int i = qscript_index(wire);

    return i < 0 ? "" : s->qhex[i];
}

void lio_argv_qscript(struct lio_argv *a, enum lc_qwire wire, uint64_t term,
                      const struct lio_names *n, const char *id,
                      const char *ttl_text, const char *run, const char *sha)
{
    assert(lio_qscript_body(wire) != NULL);
    a->argc = 0;
    format_u64(term, a->term);
    push(a, sha != NULL ? "EVALSHA" : "EVAL");
    push(a, sha != NULL ? sha : lio_qscript_body(wire));
    push(a, "3");
    push(a, n->holder_key);
    push(a, lio_term_key(n, a->term_key));
    push(a, lio_run_key(n, a->run_key));
    switch (wire) {
    case LC_QW_GRANT:
        push(a, id);
        push(a, ttl_text);
        break;
    case LC_QW_RENEW:
        push(a, id);
        push(a, a->term);
        push(a, ttl_text);
        break;
    case LC_QW_COMMIT:
    case LC_QW_RELEASE:
        push(a, id);
        push(a, a->term);
        break;
    default:
        break;
    }
    push(a, run);
}

void lio_argv_info(struct lio_argv *a)
{
    a->argc = 0;
    push(a, "INFO");
    push(a, "server");
}

/* The value of "field:" on a line of an INFO reply, into out; 0 or -1. */
static int info_field(const char *text, size_t len, const char *field,
                      char *out, size_t cap)
{
    size_t f = strlen(field);

    for (size_t at = 0; at < len;) {
        const char *line = text + at;
        const char *end = memchr(line, '\n', len - at);
        size_t n = end != NULL ? (size_t) (end - line) : len - at;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n > f && memcmp(line, field, f) == 0 && line[f] == ':') {
            size_t v = n - f - 1;
            if (v == 0 || v >= cap)
                return -1;
            memcpy(out, line + f + 1, v);
            out[v] = '\0';
            return 0;
        }
        at += (end != NULL ? (size_t) (end - line) + 1 : len - at);
    }
    return -1;
}

int lio_parse_info(const char *text, size_t len, struct lio_server_info *si)
{
    char up[24];
    long long secs = 0;

    if (text == NULL ||
        info_field(text, len, "run_id", si->run_id, sizeof si->run_id) != 0 ||
        info_field(text, len, "uptime_in_seconds", up, sizeof up) != 0)
        return -1;
    for (const char *p = up; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || secs > 1000000000000LL)
            return -1;
        secs = secs * 10 + (*p - '0');
    }
    for (const char *p = si->run_id; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    si->uptime_s = secs;
    return 0;
}

void lio_argv_probe(struct lio_argv *a, const struct lio_names *n)
{
    a->argc = 0;
    push(a, "PTTL");
    push(a, n->holder_key);
}

/* ---- timing ---- */

static lc_time clamp(lc_time v, lc_time lo, lc_time hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void lio_timing_for(lc_time shortest_ttl, struct lio_timing *t)
{
    t->ping_every = clamp(shortest_ttl / 3, 500, 5000);
    t->sub_timeout = clamp(shortest_ttl / 3, 250, 2000);
    t->keepalive_s = (int) clamp(shortest_ttl / 3000, 1, 15);
}
