/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_url.c - see lu_url.h. Strict: anything not in the grammar is an
 * error with a reason, so a typo never connects somewhere unexpected. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "leader.h"
#include "util/lu_url.h"

__attribute__((format(printf, 4, 5))) static int
fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into out[cap]. Returns 0 or -1. */
static int decode_cred(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char) s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || n + 1 >= cap)
            return -1;
        out[n++] = (char) c;
    }
    out[n] = '\0';
    return 0;
}

/* Parses a decimal in [s, s+len) within [lo, hi]. Returns 0 or -1. */
static int parse_int(const char *s, size_t len, long lo, long hi, int *out)
{
    long v = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int) v;
    return 0;
}

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int v6_char_ok(char c)
{
    return hexval(c) >= 0 || c == ':' || c == '.' || c == '%';
}

static int parse_userinfo(const char *s, size_t len, struct lu_url *u,
                          char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', len);

    if (colon == NULL) {
        /* A user alone: its password must come apart from the URL (the
         * public layer checks that one does). */
        if (len == 0 || decode_cred(s, len, u->user, sizeof u->user) != 0)
            return fail(err, errlen, LEADER_EURL,
                        "bad user encoding (or too long)");
        u->has_user = 1;
        return 0;
    }
    if (decode_cred(s, (size_t) (colon - s), u->user, sizeof u->user) != 0 ||
        decode_cred(colon + 1, len - (size_t) (colon - s) - 1, u->password,
                    sizeof u->password) != 0)
        return fail(err, errlen, LEADER_EURL,
                    "bad user or password encoding (or too long)");
    u->has_user = colon > s;
    u->has_password = 1;
    return 0;
}

static int parse_port(const char *s, size_t len, struct lu_url *u, char *err,
                      size_t errlen)
{
    if (parse_int(s, len, 1, 65535, &u->port) != 0)
        return fail(err, errlen, LEADER_EURL,
                    "port must be a number from 1 to 65535");
    return 0;
}

static int parse_hostport(const char *s, size_t len, struct lu_url *u,
                          char *err, size_t errlen)
{
    const char *end = s + len, *h = s, *hend, *colon;

    if (len > 0 && *s == '[') {
        hend = memchr(s, ']', len);
        if (hend == NULL)
            return fail(err, errlen, LEADER_EURL, "unclosed [ in host");
        h = s + 1;
        for (const char *p = h; p < hend; p++)
            if (!v6_char_ok(*p))
                return fail(err, errlen, LEADER_EURL, "bad IPv6 address");
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return fail(err, errlen, LEADER_EURL, "junk after ]");
    } else {
        colon = memchr(s, ':', len);
        hend = colon != NULL ? colon : end;
        for (const char *p = h; p < hend; p++)
            if (!host_char_ok(*p))
                return fail(err, errlen, LEADER_EURL,
                            "bad character in host name");
    }
    if (hend == h)
        return fail(err, errlen, LEADER_EURL, "missing host");
    if ((size_t) (hend - h) > LU_URL_HOST_MAX)
        return fail(err, errlen, LEADER_EURL, "host name too long");
    memcpy(u->host, h, (size_t) (hend - h));
    u->host[hend - h] = '\0';
    u->port = 6379;
    if (colon != NULL)
        return parse_port(colon + 1, (size_t) (end - colon - 1), u, err,
                          errlen);
    return 0;
}

static int parse_db(const char *s, size_t len, struct lu_url *u, char *err,
                    size_t errlen)
{
    if (len > 0 && parse_int(s, len, 0, 2147483647L, &u->db) != 0)
        return fail(err, errlen, LEADER_EURL,
                    "database must be a number, as in /0");
    return 0;
}

static int parse_tcp(const char *s, struct lu_url *u, char *err, size_t errlen)
{
    size_t len = strlen(s), auth_len = strcspn(s, "/?#");
    const char *at = NULL;
    int rc;

    for (size_t i = 0; i < auth_len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at != NULL) {
        rc = parse_userinfo(s, (size_t) (at - s), u, err, errlen);
        if (rc != 0)
            return rc;
    }
    rc = at != NULL ? parse_hostport(at + 1, auth_len - (size_t) (at - s) - 1,
                                     u, err, errlen)
                    : parse_hostport(s, auth_len, u, err, errlen);
    if (rc != 0 || auth_len == len)
        return rc;
    if (s[auth_len] != '/')
        return fail(err, errlen, LEADER_EURL,
                    "query and fragment are not supported in redis:// URLs");
    return parse_db(s + auth_len + 1, len - auth_len - 1, u, err, errlen);
}

/* The master's name, after '#': printable, no spaces. */
static int parse_master_name(const char *s, struct lu_url *u, char *err,
                             size_t errlen)
{
    size_t n = strlen(s);

    if (n == 0)
        return fail(err, errlen, LEADER_EURL,
                    "a sentinel URL ends with #master-name");
    if (n > LU_URL_NAME_MAX)
        return fail(err, errlen, LEADER_EURL, "master name too long");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
            return fail(err, errlen, LEADER_EURL,
                        "bad character in the master name");
    memcpy(u->master_name, s, n + 1);
    return 0;
}

/* Whether host[:port] in [s, s+len) gives a port. */
static int gives_port(const char *s, size_t len)
{
    const char *close = len > 0 && *s == '[' ? memchr(s, ']', len) : NULL;

    if (close != NULL)
        return close + 1 < s + len && close[1] == ':';
    return memchr(s, ':', len) != NULL;
}

/* The end of one host[:port] in [s, end): a comma outside [IPv6]. */
static const char *node_end(const char *s, const char *end)
{
    int inside = 0;

    for (; s < end && (inside || *s != ','); s++)
        if (*s == '[' || *s == ']')
            inside = *s == '[';
    return s;
}

/* host[:port] pairs separated by commas, in [s, s+len). */
static int parse_sentinels(const char *s, size_t len, struct lu_url *u,
                           char *err, size_t errlen)
{
    const char *end = s + len;
    struct lu_url one;
    int rc;

    while (1) {
        const char *next = node_end(s, end);
        struct lu_url_node *n = &u->sentinels[u->nsentinels];

        if (u->nsentinels == LU_URL_SENTINELS_MAX)
            return fail(err, errlen, LEADER_EURL,
                        "at most %d sentinels in a URL", LU_URL_SENTINELS_MAX);
        memset(&one, 0, sizeof one);
        rc = parse_hostport(s, (size_t) (next - s), &one, err, errlen);
        if (rc != 0)
            return rc;
        memcpy(n->host, one.host, sizeof n->host);
        n->port = gives_port(s, (size_t) (next - s)) ? one.port : 26379;
        u->nsentinels++;
        if (next == end)
            break;
        s = next + 1;
    }
    memcpy(u->host, u->sentinels[0].host, sizeof u->host);
    u->port = u->sentinels[0].port;
    return 0;
}

static int parse_sentinel(const char *s, struct lu_url *u, char *err,
                          size_t errlen)
{
    size_t auth_len = strcspn(s, "/?#");
    const char *at = NULL, *hash = strchr(s, '#');
    int rc;

    u->sentinel = 1;
    for (size_t i = 0; i < auth_len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at != NULL) {
        rc = parse_userinfo(s, (size_t) (at - s), u, err, errlen);
        if (rc != 0)
            return rc;
    }
    rc = parse_sentinels(at != NULL ? at + 1 : s,
                         at != NULL ? auth_len - (size_t) (at - s) - 1
                                    : auth_len,
                         u, err, errlen);
    if (rc != 0)
        return rc;
    if (s[auth_len] == '?' || hash == NULL)
        return fail(err, errlen, LEADER_EURL,
                    "a sentinel URL ends with #master-name (no query)");
    if (s[auth_len] == '/') {
        rc = parse_db(s + auth_len + 1, (size_t) (hash - s) - auth_len - 1, u,
                      err, errlen);
        if (rc != 0)
            return rc;
    }
    return parse_master_name(hash + 1, u, err, errlen);
}

static int parse_unix(const char *s, struct lu_url *u, char *err, size_t errlen)
{
    const char *q = strchr(s, '?');
    size_t plen = q != NULL ? (size_t) (q - s) : strlen(s);

    if (plen == 0 || *s != '/')
        return fail(err, errlen, LEADER_EURL,
                    "unix URLs need an absolute path: unix:///path");
    if (plen > LU_URL_PATH_MAX)
        return fail(err, errlen, LEADER_EURL, "socket path too long");
    memcpy(u->path, s, plen);
    u->path[plen] = '\0';
    if (q == NULL)
        return 0;
    if (strncmp(q, "?db=", 4) != 0 ||
        parse_int(q + 4, strlen(q + 4), 0, 2147483647L, &u->db) != 0)
        return fail(err, errlen, LEADER_EURL,
                    "the only unix URL parameter is ?db=N");
    return 0;
}

int lu_url_parse(const char *url, struct lu_url *u, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        enum lu_url_kind kind;
        int tls;
        int (*parse)(const char *, struct lu_url *, char *, size_t);
    } schemes[] = {
        {"redis://", LU_URL_TCP, 0, parse_tcp},
        {"rediss://", LU_URL_TCP, 1, parse_tcp},
        {"unix://", LU_URL_UNIX, 0, parse_unix},
        {"redis-sentinel://", LU_URL_TCP, 0, parse_sentinel},
        {"rediss-sentinel://", LU_URL_TCP, 1, parse_sentinel},
    };

    memset(u, 0, sizeof *u);
    if (url == NULL || *url == '\0')
        return fail(err, errlen, LEADER_EURL, "empty URL");
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncmp(url, schemes[i].prefix, n) == 0) {
            u->kind = schemes[i].kind;
            u->tls = schemes[i].tls;
            return schemes[i].parse(url + n, u, err, errlen);
        }
    }
    return fail(err, errlen, LEADER_EURL,
                "unknown scheme: use redis://, rediss://, unix://, "
                "redis-sentinel:// or rediss-sentinel://");
}

void lu_url_redact(const char *url, char *out, size_t outlen)
{
    const char *start, *at = NULL, *colon;
    size_t auth_len;

    if (outlen == 0)
        return;
    start = url != NULL ? strstr(url, "://") : NULL;
    if (start == NULL) {
        snprintf(out, outlen, "%s", url != NULL ? url : "");
        return;
    }
    start += 3;
    auth_len = strcspn(start, "/?#");
    for (size_t i = 0; i < auth_len; i++)
        if (start[i] == '@')
            at = start + i;
    colon = at != NULL ? memchr(start, ':', (size_t) (at - start)) : NULL;
    if (colon == NULL) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s***%s", (int) (colon + 1 - url), url, at);
}
