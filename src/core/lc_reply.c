/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_reply.c - decoding of script replies, error replies and notifications.
 *
 * Nothing here trusts its input: every length is checked, numbers are
 * parsed without strtoull's leniency (no sign, no spaces, no overflow).
 */
#include <stdio.h>
#include <string.h>

#include "core/lc_reply.h"
#include "leader.h"

/* Parses a decimal uint64 that must fill [s, s+len) exactly. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char) s[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Finds needle in the first len bytes of s (which need not end in NUL). */
static int contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return 1;
    return 0;
}

int lc_classify_error(const char *text, size_t len)
{
    /* Scripts wrap errors differently across Redis versions: 7.x keeps
     * the code as prefix, older ones embed it in "ERR Error running
     * script ...: WRONGTYPE ...". Look for the code anywhere. */
    static const struct {
        const char *code;
        int error;
    } codes[] = {
        {"NOAUTH", LEADER_EAUTH},
        {"WRONGPASS", LEADER_EAUTH},
        {"NOPERM", LEADER_EAUTH},
        {"WRONGTYPE", LEADER_EWRONGTYPE},
        {"READONLY", LEADER_EREADONLY},
        {"LEADERTERM", LEADER_ETERM},
        /* A command run by a script refused for lack of an ACL
         * permission: the code is ERR, only the words tell. Redis 7.0's
         * words, then those of Redis 7.2 and Valkey. */
        {"The user executing the script can't", LEADER_EAUTH},
        {"ACL failure in script", LEADER_EAUTH},
    };

    if (text == NULL)
        return LEADER_EREDIS;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (has_prefix(text, len, codes[i].code) ||
            contains(text, len, codes[i].code))
            return codes[i].error;
    return LEADER_EREDIS;
}

/* The rules of the commands each script runs (src/io/lio_scripts.h). */
static const char *script_rules(const char *what)
{
    static const struct {
        const char *what;
        const char *rules;
    } scripts[] = {
        {"acquire", "+get +set +pexpire +pttl +incr +time +publish"},
        {"new term", "+get +set +pexpire +pttl +incr +time +publish"},
        {"renew", "+get +pexpire"},
        {"release", "+get +del +publish"},
        {"read", "+get +pttl"},
    };

    for (size_t i = 0; what != NULL && i < sizeof scripts / sizeof *scripts;
         i++)
        if (strcmp(what, scripts[i].what) == 0)
            return scripts[i].rules;
    return "+get +set +pexpire +pttl +incr +time +publish +del";
}

/* What an ACL refusal says is out of reach: 1 a key, 2 a channel, 0
 * neither (a command, or no refusal). */
static int refused_target(const char *text, size_t len)
{
    /* Redis 7.0's words (NOPERM, then a script's), then those of Redis 7.2
     * and Valkey, the same in and out of scripts. */
    static const char *const keys[] = {"permissions to access one of the keys",
                                       "can't access at least one of the keys",
                                       "permissions to access a key"};
    static const char *const channels[] = {
        "permissions to access one of the channels",
        "can't publish to the channel", "permissions to access a channel"};

    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (contains(text, len, keys[i]))
            return 1;
        if (contains(text, len, channels[i]))
            return 2;
    }
    /* Redis 7.2 and Valkey naming it: "User u has no permissions to access
     * the 'leader:x' key" (or "... channel"). */
    if (contains(text, len, "permissions to access the '")) {
        if (contains(text, len, "' key"))
            return 1;
        if (contains(text, len, "' channel"))
            return 2;
    }
    return 0;
}

int lc_describe_acl(const char *what, const char *text, size_t len, char *out,
                    size_t cap)
{
    static const char run[] = "no permissions to run the '";
    const char *p;

    if (text == NULL || cap == 0)
        return 0;
    switch (refused_target(text, len)) {
    case 1:
        snprintf(out, cap,
                 "the Redis user lacks the key patterns ~leader:* "
                 "~{leader:*}:term (docs/redis-acl.rules)");
        return 1;
    case 2:
        snprintf(out, cap,
                 "the Redis user lacks the channel pattern &leader:* "
                 "(docs/redis-acl.rules)");
        return 1;
    }
    for (size_t i = 0; i + sizeof run - 1 <= len; i++) {
        size_t n = 0;

        if (memcmp(text + i, run, sizeof run - 1) != 0)
            continue;
        p = text + i + sizeof run - 1;
        while (p + n < text + len && p[n] != '\'' && n < 32)
            n++;
        /* Redis 7.2 and Valkey name the command a script ran, too. */
        if (contains(text, len, "ACL failure in script"))
            snprintf(out, cap,
                     "the Redis user lacks +%.*s, which the %s script runs "
                     "(docs/redis-acl.rules)",
                     (int) n, p, what != NULL ? what : "election's");
        else
            snprintf(out, cap,
                     "the Redis user lacks +%.*s: Redis refused the '%.*s' "
                     "command (docs/redis-acl.rules)",
                     (int) n, p, (int) n, p);
        return 1;
    }
    if (contains(text, len, "The user executing the script can't")) {
        snprintf(out, cap,
                 "the Redis user lacks one of %s, which the %s script runs "
                 "(docs/redis-acl.rules)",
                 script_rules(what), what != NULL ? what : "election's");
        return 1;
    }
    return 0;
}

static int error_of(const struct lc_value *v)
{
    if (v == NULL)
        return LEADER_EPROTO;
    if (v->type == LC_VAL_ERR)
        return lc_classify_error(v->str, v->len);
    return LEADER_EPROTO;
}

/* An integer element, also accepted as a decimal string. */
static int int_of(const struct lc_value *v, long long *out)
{
    uint64_t u;

    if (v->type == LC_VAL_INT) {
        *out = v->integer;
        return 0;
    }
    if (v->type == LC_VAL_STR && v->str != NULL &&
        parse_u64(v->str, v->len, &u) == 0 && u <= INT64_MAX) {
        *out = (long long) u;
        return 0;
    }
    return -1;
}

/* A term the script granted: 1 .. LEADER_TERM_MAX, nothing else. A term
 * above the maximum would be a floor no script could count past. */
static int decode_won(const struct lc_value *v, struct lc_acquire_result *r)
{
    long long term;

    if (v->n != 2 || int_of(&v->elem[1], &term) != 0 || term <= 0 ||
        (uint64_t) term > LEADER_TERM_MAX)
        return LEADER_EPROTO;
    r->won = 1;
    r->term = (uint64_t) term;
    return 0;
}

/* The counter as a GET of it reads: a term (1 .. LEADER_TERM_MAX), or 0
 * for "not known" when the key is missing or holds anything else (a
 * value set by hand). It is Redis' own counter, so a valid one is a floor;
 * an invalid one is no reason to stop following the holder (acquire
 * reports it, LEADER_ETERM, when the key is free). */
static uint64_t counter_of(const struct lc_value *v)
{
    long long t;

    if (v->type == LC_VAL_NIL || int_of(v, &t) != 0 || t <= 0 ||
        (uint64_t) t > LEADER_TERM_MAX)
        return 0;
    return (uint64_t) t;
}

static int holder_ok(const struct lc_value *h)
{
    return h->type == LC_VAL_STR && h->str != NULL && h->len > 0 &&
           h->len <= 255;
}

static int decode_lost(const struct lc_value *v, struct lc_acquire_result *r)
{
    const struct lc_value *h = &v->elem[1], *pttl = &v->elem[2];

    if (v->n != 3 && v->n != 4)
        return LEADER_EPROTO;
    if (!holder_ok(h) || pttl->type != LC_VAL_INT || pttl->integer < -2)
        return LEADER_EPROTO;
    if (v->n == 4)
        r->holder_term = counter_of(&v->elem[3]);
    r->won = 0;
    r->holder = h->str;
    r->holder_len = h->len;
    r->pttl = pttl->integer;
    return 0;
}

int lc_decode_acquire(const struct lc_value *v, struct lc_acquire_result *r)
{
    long long flag;

    memset(r, 0, sizeof *r);
    if (v == NULL || v->type != LC_VAL_ARRAY)
        return error_of(v);
    if (v->n < 2 || v->elem == NULL || int_of(&v->elem[0], &flag) != 0)
        return LEADER_EPROTO;
    if (flag == 1)
        return decode_won(v, r);
    if (flag == 0)
        return decode_lost(v, r);
    return LEADER_EPROTO;
}

int lc_decode_flag(const struct lc_value *v, int *flag)
{
    if (v == NULL || v->type != LC_VAL_INT)
        return error_of(v);
    if (v->integer != 0 && v->integer != 1)
        return LEADER_EPROTO;
    *flag = (int) v->integer;
    return 0;
}

int lc_decode_pttl(const struct lc_value *v, long long *pttl)
{
    if (v == NULL || v->type != LC_VAL_INT)
        return error_of(v);
    if (v->integer < -2)
        return LEADER_EPROTO;
    *pttl = v->integer;
    return 0;
}

int lc_decode_read(const struct lc_value *v, struct lc_read_result *r)
{
    const struct lc_value *h;

    memset(r, 0, sizeof *r);
    if (v == NULL || v->type != LC_VAL_ARRAY)
        return error_of(v);
    if (v->n != 3 || v->elem == NULL)
        return LEADER_EPROTO;
    h = &v->elem[0];
    if ((h->type != LC_VAL_NIL && !holder_ok(h)) ||
        v->elem[1].type != LC_VAL_INT || v->elem[1].integer < -2)
        return LEADER_EPROTO;
    r->term = counter_of(&v->elem[2]);
    if (h->type == LC_VAL_STR) {
        r->holder = h->str;
        r->holder_len = h->len;
    }
    r->pttl = v->elem[1].integer;
    return 0;
}

int lc_parse_notify(const char *text, size_t len, struct lc_notify *n)
{
    const char *p, *end, *sp;

    if (text == NULL)
        return LEADER_EPROTO;
    if (has_prefix(text, len, "elected ")) {
        n->kind = LC_NOTIFY_ELECTED;
        p = text + 8;
    } else if (has_prefix(text, len, "released ")) {
        n->kind = LC_NOTIFY_RELEASED;
        p = text + 9;
    } else {
        return LEADER_EPROTO;
    }
    end = text + len;
    sp = memchr(p, ' ', (size_t) (end - p));
    if (sp == NULL || parse_u64(p, (size_t) (sp - p), &n->term) != 0 ||
        n->term == 0 || n->term > LEADER_TERM_MAX)
        return LEADER_EPROTO; /* no script publishes such a term */
    n->id = sp + 1;
    n->id_len = (size_t) (end - n->id);
    if (n->id_len == 0 || n->id_len > 255)
        return LEADER_EPROTO;
    return 0;
}
