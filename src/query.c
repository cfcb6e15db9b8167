/* SPDX-License-Identifier: BSD-3-Clause */
/* query.c - the blocking query connection of a client, for
 * leader_is_leader(), leader_current() and leader_release_term(): one round
 * trip each, from any thread (callbacks included), on a connection of its
 * own that is opened on first use and kept. */
#include "util/fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "core/lc_reply.h"
#include "io/lio_cluster.h"
#include "io/lio_conn.h"
#include "io/lio_resolve.h"
#include "io/lio_sentinel.h"
#include "io/lio_proto.h"
#include "leader_int.h"
#include "util/lu_clock.h"
#include "util/lu_signals.h"
#include "util/lu_socket.h"

#define QUERY_KEEPALIVE_S 15 /* idle seconds before the first probe */

/* The detail of a failure, for leader_errmsg(): the client's, under
 * query_lock. */
static void note(leader_client *cl, const char *text)
{
    snprintf(cl->query_err, sizeof cl->query_err, "%s", text);
}

/* what names the script run, for an ACL refusal's message (NULL for a
 * plain command: Redis names it). */
static int reply_error_of(leader_client *cl, redisContext *c, redisReply *r,
                          const char *what)
{
    int rc, e = errno;

    if (r == NULL) {
        /* On a blocking socket, hiredis reports a read or write that ran
         * into SO_RCVTIMEO or SO_SNDTIMEO as an I/O error of EAGAIN. */
        if (c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK)) {
            note(cl, "no reply within the command timeout");
            return LEADER_ETIMEDOUT;
        }
        note(cl, c->errstr[0] ? c->errstr : "connection lost");
        return lio_error_of_context(c->err);
    }
    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    rc = lc_classify_error(r->str, r->len);
    if (rc != LEADER_EAUTH ||
        !lc_describe_acl(what, r->str, r->len, cl->query_err,
                         sizeof cl->query_err))
        note(cl, r->str);
    return rc;
}

static int reply_error(leader_client *cl, redisContext *c, redisReply *r)
{
    return reply_error_of(cl, c, r, NULL);
}

struct setup {
    leader_client *cl;
    redisContext *c;
    const struct lu_url *url; /* what is opened: the client's, or the
                               * sentinel asked, or the master found */
    int64_t end;              /* of the opening, on lu_now_ms()'s clock */
};

static struct timeval timeval_of(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* What is left of the opening's time, at least 1 ms: the whole opening
 * has one bound, not each of its steps. */
static long left_of(const struct setup *s)
{
    int64_t left = s->end - lu_now_ms();
    return left > 0 ? (long) left : 1;
}

static int run_setup(void *arg, int argc, const char **argv, const size_t *lens)
{
    struct setup *s = arg;
    redisReply *r;

    if (redisSetTimeout(s->c, timeval_of(left_of(s))) != REDIS_OK)
        return LEADER_ECONN;
    r = redisCommandArgv(s->c, argc, argv, lens);
    int rc = reply_error(s->cl, s->c, r);

    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

/* TLS on the connected socket, then a PING: with TLS 1.3 a server that
 * refuses our certificate says so only at the first read, and that must
 * be worded as TLS's failure, not as the query's. */
static int start_tls(const struct setup *s)
{
    leader_client *cl = s->cl;
    redisContext *c = s->c;
    static const char *ping = "PING";
    static const size_t ping_len = 4;
    char text[256];
    int code = LEADER_ETLS;
    SSL *ssl;
    redisReply *r;

    ssl = lio_tls_start(cl->url.tls_ctx, c, s->url->host, left_of(s), &code,
                        text, sizeof text);
    if (ssl == NULL) {
        note(cl, text);
        return code;
    }
    ERR_clear_error();
    if (redisSetTimeout(c, timeval_of(left_of(s))) != REDIS_OK)
        return LEADER_ECONN;
    r = redisCommandArgv(c, 1, &ping, &ping_len);
    if (r != NULL) {
        code = reply_error(cl, c, r);
        freeReplyObject(r);
        return code;
    }
    code = lio_tls_explain(ssl, c->errstr, text, sizeof text);
    if (code == 0)
        return reply_error(cl, c, NULL);
    note(cl, text);
    return code;
}

/* Connects to s->url within s->end, with TLS when the URL asks for it;
 * the context in s->c (freed by the caller, also on failure). */
static int open_blocking(struct setup *s)
{
    leader_client *cl = s->cl;
    struct timeval tv = timeval_of(left_of(s));
    redisOptions o;
    redisContext *c;

    memset(&o, 0, sizeof o);
    if (s->url->kind == LU_URL_UNIX) {
        REDIS_OPTIONS_SET_UNIX(&o, s->url->path);
    } else {
        const char *direct = lio_direct_address(s->url->host);
        REDIS_OPTIONS_SET_TCP(&o, direct != NULL ? direct : s->url->host,
                              s->url->port);
    }
    o.connect_timeout = &tv;
    o.command_timeout = &tv;
#ifdef REDIS_OPT_SET_SOCK_CLOEXEC
    o.options |= REDIS_OPT_SET_SOCK_CLOEXEC;
#endif
    s->c = c = redisConnectWithOptions(&o);
    if (c == NULL) {
        note(cl, "out of memory");
        return LEADER_ENOMEM;
    }
    /* As for the loop's connections (lio_conn.c): hiredis 1.2 cannot make
     * the socket close-on-exec itself, so it becomes so once connected (an
     * exec in another thread during this blocking connect can still
     * inherit it). */
    if (c->fd != REDIS_INVALID_FD)
        (void) lu_set_cloexec(c->fd);
    lio_limit_reader(c->reader);
    /* Kept between queries: keepalive finds a peer that vanished (or a
     * flow a load balancer dropped) while it idles, as on the loop's
     * connections; each query is bounded by its timeout anyway. */
    if (s->url->kind == LU_URL_TCP && c->fd != REDIS_INVALID_FD)
        (void) lu_set_keepalive(c->fd, QUERY_KEEPALIVE_S);
    if (c->err) {
        note(cl, c->errstr);
        return lio_error_of_context(c->err);
    }
    if (lu_is_self_connected(c->fd)) {
        note(cl, "nobody listens on that port");
        return LEADER_ECONN;
    }
    if (s->url->tls && cl->url.tls_ctx == NULL) {
        note(cl, "TLS: no TLS context for rediss://");
        return LEADER_ETLS;
    }
    return s->url->tls ? start_tls(s) : 0;
}

/* Asks one sentinel (s->url) for the master's address, into master. */
static int ask_sentinel(struct setup *s, struct lu_url *master)
{
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name",
                           s->cl->url.master_name};
    size_t lens[3] = {8, 23, strlen(s->cl->url.master_name)};
    redisReply *r;
    char host[LU_URL_HOST_MAX + 1];
    int rc = open_blocking(s), port = 0, found;

    if (rc != 0)
        return rc;
    r = redisCommandArgv(s->c, 3, argv, lens);
    rc = reply_error(s->cl, s->c, r);
    if (rc != 0 || r == NULL) {
        if (r != NULL)
            freeReplyObject(r);
        return rc != 0 ? rc : LEADER_ECONN;
    }
    found = lio_sentinel_master_addr(r, host, &port);
    if (found > 0) {
        *master = s->cl->url;
        master->sentinel = 0;
        memcpy(master->host, host, sizeof master->host);
        master->port = port;
    } else {
        note(s->cl,
             found == 0
                 ? "knows no master of that name"
                 : "unexpected reply to SENTINEL get-master-addr-by-name");
        rc = LEADER_ECONN;
    }
    freeReplyObject(r);
    return rc;
}

/* ROLE of a master found through sentinels. */
static int check_master(struct setup *s)
{
    static const char *role = "ROLE";
    static const size_t role_len = 4;
    redisReply *r = redisCommandArgv(s->c, 1, &role, &role_len);
    int rc = reply_error(s->cl, s->c, r);

    if (rc == 0 && !lio_sentinel_role_master(r)) {
        note(s->cl, "not a master: the sentinels have not caught up with a "
                    "failover yet");
        rc = LEADER_ECONN;
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

/* Opens s->url (the master, or the one server of a plain URL) and logs
 * in; a master found through sentinels must say it is one. */
static int open_server(struct setup *s)
{
    int rc = open_blocking(s);

    if (rc == 0)
        rc = lio_for_each_setup(s->url, run_setup, s);
    if (rc == 0 && s->cl->url.sentinel)
        rc = check_master(s);
    return rc;
}

/* The sentinels in turn, each within its share of the time left, until
 * one names a master that answers as one; it is open in s->c. */
static int open_through_sentinels(struct setup *s, struct lu_url *master)
{
    const struct lu_url *u = &s->cl->url;
    int64_t end = s->end;
    char why[sizeof s->cl->query_err];
    int rc = LEADER_ECONN;

    for (int i = 0; i < u->nsentinels; i++) {
        struct lu_url one = *u;
        int64_t left = end - lu_now_ms();
        const char *stage = "sentinel";
        const char *by = "";

        if (left <= 0)
            break;
        one.sentinel = one.has_user = one.has_password = 0;
        one.db = 0;
        memcpy(one.host, u->sentinels[i].host, sizeof one.host);
        one.port = u->sentinels[i].port;
        s->url = &one;
        s->end = lu_now_ms() + left / (u->nsentinels - i);
        rc = ask_sentinel(s, master);
        redisFree(s->c);
        s->c = NULL;
        if (rc == 0) {
            stage = "the master named by";
            by = "";
            s->url = master;
            rc = open_server(s);
            if (rc == 0)
                break;
            redisFree(s->c);
            s->c = NULL;
        }
        snprintf(why, sizeof why, "%s", s->cl->query_err);
        snprintf(s->cl->query_err, sizeof s->cl->query_err,
                 "no sentinel gave the address of a master \"%.40s\" that "
                 "answers (last: %s%s %.40s:%d: %.80s)",
                 u->master_name, stage, by, one.host, one.port, why);
    }
    s->end = end;
    return rc;
}

/* Opens the query connection to the client's URL, or to a cluster node
 * (to not NULL). */
static int query_connect_to(leader *l, const struct lu_url *to)
{
    leader_client *cl = l->client;
    struct setup setup = {cl, NULL, to != NULL ? to : &cl->url, 0};
    struct lu_url master;
    long ms, cmd_ms;
    int rc;

    pthread_mutex_lock(&l->client->lock);
    ms = l->client->query_connect_ms;
    cmd_ms = l->client->query_command_ms;
    pthread_mutex_unlock(&l->client->lock);
    setup.end = lu_now_ms() + ms;
    rc = cl->url.sentinel && to == NULL
             ? open_through_sentinels(&setup, &master)
             : open_server(&setup);
    if (rc == 0) {
        /* The opening ran under the connect timeout; what follows are
         * commands. */
        if (redisSetTimeout(setup.c, timeval_of(cmd_ms)) != REDIS_OK)
            rc = LEADER_ECONN;
    }
    if (rc != 0) {
        redisFree(setup.c);
        return rc;
    }
    l->client->query = setup.c;
    return 0;
}

static int query_connect(leader *l)
{
    return query_connect_to(l, NULL);
}

/* At most this many redirections per query. */
#define MAX_HOPS 5

/* In a Redis Cluster, a MOVED or ASK reply: the query connection is
 * opened again to the node it names (an empty host is the URL's). 1 when
 * the command is to be sent again there, after ASKING when *ask. */
static int follow_redirect(leader *l, const redisReply *r, int *ask)
{
    leader_client *cl = l->client;
    struct lio_cluster_redirect to;
    struct lu_url u;
    redisContext *old = cl->query;

    if (r->type != REDIS_REPLY_ERROR || cl->url.sentinel ||
        !lio_cluster_redirect(r->str, r->len, &to))
        return 0;
    u = cl->url;
    u.kind = LU_URL_TCP;
    if (to.to.host[0] != '\0')
        memcpy(u.host, to.to.host, sizeof u.host);
    u.port = to.to.port;
    cl->query = NULL;
    if (query_connect_to(l, &u) != 0) {
        cl->query = old;
        return 0;
    }
    redisFree(old);
    *ask = to.ask;
    return 1;
}

/* Runs one command on the query connection, following a cluster's
 * redirections; the reply, or NULL after the connection failed (and was
 * closed). */
static redisReply *query_command(leader *l, int argc, const char **argv,
                                 const size_t *lens)
{
    redisReply *r = redisCommandArgv(l->client->query, argc, argv, lens);
    int ask = 0;

    for (int hop = 0; r != NULL && hop < MAX_HOPS; hop++) {
        if (!follow_redirect(l, r, &ask))
            break;
        freeReplyObject(r);
        if (ask) {
            r = redisCommand(l->client->query, "ASKING");
            if (r == NULL)
                break;
            freeReplyObject(r);
        }
        r = redisCommandArgv(l->client->query, argc, argv, lens);
    }
    return r;
}

/* GET of the holder key: 1 if it is our id, 0 if not, or an error. A
 * transport error leaves l->client->query NULL so the next call reconnects. */
static int query_holder(leader *l)
{
    const char *argv[2] = {"GET", l->names.holder_key};
    size_t lens[2] = {3, strlen(l->names.holder_key)};
    redisReply *r = query_command(l, 2, argv, lens);
    int rc = reply_error(l->client, l->client->query, r);

    if (r == NULL) {
        redisFree(l->client->query);
        l->client->query = NULL;
        return rc;
    }
    if (rc == 0 && r->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (rc == 0 && r->type == REDIS_REPLY_STRING)
        rc = r->len == strlen(l->id) && memcmp(r->str, l->id, r->len) == 0;
    else if (rc == 0) {
        note(l->client, "unexpected reply to GET");
        rc = LEADER_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

/* Runs fn on the query connection, connecting first if needed. */
static int run_query(leader *l, int (*fn)(leader *, void *), void *arg)
{
    struct lu_sigpipe sp;
    int rc, reused;

    pthread_mutex_lock(&l->client->query_lock);
    l->client->query_err[0] = '\0';
    lu_sigpipe_block(&sp);
    reused = l->client->query != NULL;
    rc = reused ? 0 : query_connect(l);
    if (rc == 0)
        rc = fn(l, arg);
    if (rc < 0 && reused && l->client->query == NULL) {
        /* The kept connection had gone stale (a server restart): one
         * fresh try before reporting. */
        l->client->query_err[0] = '\0';
        rc = query_connect(l);
        if (rc == 0)
            rc = fn(l, arg);
    }
    if (rc < 0 && l->client->query_err[0] == '\0')
        note(l->client, leader_strerror(rc));
    else if (rc >= 0)
        l->client->query_err[0] = '\0';
    lu_sigpipe_restore(&sp);
    pthread_mutex_unlock(&l->client->query_lock);
    return rc;
}

static int holder_is_us(leader *l, void *arg)
{
    (void) arg;
    return query_holder(l);
}

int lp_is_leader(leader *l)
{
    return run_query(l, holder_is_us, NULL);
}

/* Decodes the read script's reply as the core does. */
static int decode_current(const redisReply *r, leader_info *info)
{
    struct lc_value v, elems[LIO_MAX_ELEMS];
    struct lc_read_result rr;
    int rc;

    lio_reply_to_value(r, &v, elems);
    rc = lc_decode_read(&v, &rr);
    if (rc != 0)
        return rc;
    info->term = rr.term;
    if (rr.holder == NULL)
        return 0;
    if (rr.holder_len >= sizeof info->id)
        return LEADER_EPROTO;
    memcpy(info->id, rr.holder, rr.holder_len);
    info->id[rr.holder_len] = '\0';
    info->lease_left_ms = rr.pttl;
    return 1;
}

/* Sends a; the reply, or NULL after closing a connection that failed.
 * what names the script for a refusal's message (NULL: none). */
static redisReply *query_argv(leader *l, struct lio_argv *a, const char *what,
                              int *rc)
{
    redisReply *r = query_command(l, a->argc, a->argv, a->lens);

    *rc = reply_error_of(l->client, l->client->query, r, what);
    if (r == NULL) {
        redisFree(l->client->query);
        l->client->query = NULL;
    }
    return r;
}

static int read_current(leader *l, void *arg)
{
    struct lio_argv a;
    redisReply *r;
    int rc;

    lio_argv_script(&a, LC_CMD_READ, 0, &l->names, NULL, NULL, NULL);
    r = query_argv(l, &a, "read", &rc);
    if (r == NULL)
        return rc;
    if (rc == 0)
        rc = decode_current(r, arg);
    freeReplyObject(r);
    return rc;
}

int lp_current(leader *l, leader_info *info)
{
    memset(info, 0, sizeof *info);
    info->lease_left_ms = -1;
    return run_query(l, read_current, info);
}

/* The release script with (id, term): 1 if it deleted the key, 0 if the
 * key was not that leadership's. */
static int release_term(leader *l, void *arg)
{
    struct lio_argv a;
    struct lc_value v, elems[LIO_MAX_ELEMS];
    redisReply *r;
    int rc, flag;

    lio_argv_script(&a, LC_CMD_RELEASE, *(const uint64_t *) arg, &l->names,
                    l->id, NULL, NULL);
    r = query_argv(l, &a, "release", &rc);
    if (r == NULL)
        return rc;
    lio_reply_to_value(r, &v, elems);
    if (rc == 0)
        rc = lc_decode_flag(&v, &flag) == 0 ? flag : LEADER_EPROTO;
    freeReplyObject(r);
    return rc;
}

int lp_release_term(leader *l, uint64_t term)
{
    return run_query(l, release_term, &term);
}

void lp_query_close(leader_client *c)
{
    if (c->query != NULL)
        redisFree(c->query);
    c->query = NULL;
    /* The last user of the client's TLS context: the loop's connections
     * are gone by now. */
    lio_tls_free(c->url.tls_ctx);
    c->url.tls_ctx = NULL;
}
