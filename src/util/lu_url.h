/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_url.h - Redis URLs:
 *   redis://[[user]:password@]host[:port][/db]    (host may be [IPv6])
 *   redis://user@host[:port][/db]   (the password given apart)
 *   rediss://...                                 (the same, over TLS)
 *   unix:///path/to/redis.sock[?db=N]
 *   redis-sentinel://[[user]:password@]host[:port][,host[:port]...][/db]#name
 *   rediss-sentinel://...                        (the same, over TLS)
 * A rediss:// URL is TCP with tls set; it is never downgraded to plain
 * text. A sentinel URL is TCP with sentinel set: the sentinels (default
 * port 26379) are asked for the address of the master called name, and
 * the credentials, db and TLS apply to that master (and TLS to the
 * sentinels too). host and port hold the first sentinel until then. */
#ifndef LU_URL_H
#define LU_URL_H

#include <stddef.h>

#define LU_URL_HOST_MAX      255
#define LU_URL_PATH_MAX      107 /* sun_path holds 108 bytes with the NUL */
#define LU_URL_CRED_MAX      511
#define LU_URL_SENTINELS_MAX 8
#define LU_URL_NAME_MAX      255

enum lu_url_kind { LU_URL_TCP = 1, LU_URL_UNIX };

struct lio_tls;

struct lu_url_node {
    char host[LU_URL_HOST_MAX + 1];
    int port;
};

struct lu_url {
    enum lu_url_kind kind;
    int tls; /* rediss:// */
    /* Not parsed: the client's TLS context for a rediss:// URL, set by
     * the public layer after parsing. The client's own copy of the URL
     * owns it (query.c frees it with the client); every other copy (the
     * loop's) borrows it. */
    struct lio_tls *tls_ctx;
    char host[LU_URL_HOST_MAX + 1];
    int port;
    char path[LU_URL_PATH_MAX + 1];
    int has_user, has_password;
    char user[LU_URL_CRED_MAX + 1];
    char password[LU_URL_CRED_MAX + 1];
    int db;
    /* redis-sentinel:// and rediss-sentinel:// */
    int sentinel;
    int nsentinels;
    struct lu_url_node sentinels[LU_URL_SENTINELS_MAX];
    char master_name[LU_URL_NAME_MAX + 1];
};

/* Parses url into u. Returns 0 or LEADER_EURL (malformed), with a reason
 * in err (which never shows the password). */
int lu_url_parse(const char *url, struct lu_url *u, char *err, size_t errlen);

/* Copies url to out with the password replaced by "***", for messages. */
void lu_url_redact(const char *url, char *out, size_t outlen);

#endif
