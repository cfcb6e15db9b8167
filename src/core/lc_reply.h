/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_reply.h - Redis replies as the core sees them, and their decoding.
 *
 * The driver turns each hiredis reply into an lc_value tree that borrows
 * the reply's memory; the functions here decide what the reply means. They
 * check every type and length, since a reply may be cut off, come from a
 * different server version, or be hostile.
 */
#ifndef LC_REPLY_H
#define LC_REPLY_H

#include <stddef.h>
#include <stdint.h>

enum lc_value_type {
    LC_VAL_NIL = 1,
    LC_VAL_INT,
    LC_VAL_STR, /* bulk or status string */
    LC_VAL_ERR, /* error reply: str holds its text */
    LC_VAL_ARRAY,
    LC_VAL_OTHER /* anything else (double, map, ...): never expected */
};

struct lc_value {
    enum lc_value_type type;
    long long integer;
    const char *str;
    size_t len;
    const struct lc_value *elem;
    size_t n;
};

/* The meaning of an acquire script reply. */
struct lc_acquire_result {
    int won; /* 1: elected with term; 0: holder leads */
    uint64_t term;
    const char *holder; /* borrowed from the value; not NUL-terminated */
    size_t holder_len;
    long long pttl;       /* holder's remaining ms; -1 no expiry */
    uint64_t holder_term; /* the election's counter when the holder was
                           * read; 0 when the reply does not say or the
                           * counter holds no valid term */
};

/* The meaning of a read script reply: {holder or nil, pttl, term or nil}. */
struct lc_read_result {
    const char *holder; /* NULL when nobody holds the key */
    size_t holder_len;
    long long pttl;
    uint64_t term; /* the counter; 0: none, or no valid term */
};

/* Each returns 0, or a negative LEADER_E... code: the classified error for
 * an error reply, LEADER_EPROTO for a reply of the wrong shape. */
int lc_decode_acquire(const struct lc_value *v, struct lc_acquire_result *r);
int lc_decode_flag(const struct lc_value *v, int *flag);
/* PTTL's reply: the key's ms left, -1 (no expiry) or -2 (no key). */
int lc_decode_pttl(const struct lc_value *v, long long *pttl);
int lc_decode_read(const struct lc_value *v, struct lc_read_result *r);

/* LEADER_E... code for the text of an error reply. */
int lc_classify_error(const char *text, size_t len);

/* An ACL refusal (NOPERM, or a script's "The user executing the script
 * can't ..." in Redis 7.0, "ACL failure in script: ..." in Redis 7.2 and
 * Valkey) reworded to name what the Redis user lacks, in the terms of
 * docs/redis-acl.rules: the command's rule, the key or channel pattern, or
 * for a script (what: "acquire", "new term", "renew", "release", "read")
 * the rules of the commands it runs. Returns 1 with the message in out
 * (NUL-terminated, at most cap bytes), or 0 if text is no such refusal. */
int lc_describe_acl(const char *what, const char *text, size_t len, char *out,
                    size_t cap);

enum lc_notify_kind { LC_NOTIFY_ELECTED = 1, LC_NOTIFY_RELEASED };

struct lc_notify {
    enum lc_notify_kind kind;
    uint64_t term;
    const char *id; /* borrowed, not NUL-terminated */
    size_t id_len;
};

/* Parses "elected <term> <id>" or "released <term> <id>", with a term of
 * 1 .. LEADER_TERM_MAX. Returns 0 or LEADER_EPROTO. Anyone who may PUBLISH
 * can send one: the content is a hint, never a fact about the counter. */
int lc_parse_notify(const char *text, size_t len, struct lc_notify *n);

#endif /* LC_REPLY_H */
