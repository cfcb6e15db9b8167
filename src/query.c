/* SPDX-License-Identifier: BSD-3-Clause */
/* query.c - the blocking query connection of a client, for
 * leader_is_leader(), leader_current() and leader_release_term(): one round
 * trip each, from any thread (callbacks included), on a connection of its
 * own that is opened on first use and kept.
 *
 * In quorum mode the client has one such connection per server, and a
 * query asks the servers in turn and counts their answers: what a
 * majority of them says is the answer. */
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
    const struct lu_url *home; /* the client's URL of this server: its TLS
                                * context, its sentinels */
    const struct lu_url *url;  /* what is opened: home, or the sentinel
                                * asked, or the master found */
    int64_t end;               /* of the opening, on lu_now_ms()'s clock */
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

    ssl = lio_tls_start(s->home->tls_ctx, c, s->url->host, left_of(s), &code,
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
    if (s->url->tls && s->home->tls_ctx == NULL) {
        note(cl, "TLS: no TLS context for rediss://");
        return LEADER_ETLS;
    }
    return s->url->tls ? start_tls(s) : 0;
}

/* Asks one sentinel (s->url) for the master's address, into master. */
static int ask_sentinel(struct setup *s, struct lu_url *master)
{
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name",
                           s->home->master_name};
    size_t lens[3] = {8, 23, strlen(s->home->master_name)};
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
        *master = *s->home;
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
    if (rc == 0 && s->home->sentinel)
        rc = check_master(s);
    return rc;
}

/* The sentinels in turn, each within its share of the time left, until
 * one names a master that answers as one; it is open in s->c. */
static int open_through_sentinels(struct setup *s, struct lu_url *master)
{
    const struct lu_url *u = s->home;
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

/* Opens the query connection to the client's server i, or to a cluster
 * node (to not NULL). */
static int query_connect_to(leader *l, size_t i, const struct lu_url *to)
{
    leader_client *cl = l->client;
    struct setup setup = {cl, NULL, &cl->urls[i],
                          to != NULL ? to : &cl->urls[i], 0};
    struct lu_url master;
    long ms, cmd_ms;
    int rc;

    pthread_mutex_lock(&l->client->lock);
    ms = l->client->query_connect_ms;
    cmd_ms = l->client->query_command_ms;
    pthread_mutex_unlock(&l->client->lock);
    setup.end = lu_now_ms() + ms;
    rc = cl->urls[i].sentinel && to == NULL
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
    l->client->query[i] = setup.c;
    return 0;
}

static int query_connect(leader *l, size_t i)
{
    return query_connect_to(l, i, NULL);
}

/* At most this many redirections per query. */
#define MAX_HOPS 5

/* In a Redis Cluster, a MOVED or ASK reply: the query connection is
 * opened again to the node it names (an empty host is the URL's). 1 when
 * the command is to be sent again there, after ASKING when *ask. */
static int follow_redirect(leader *l, size_t i, const redisReply *r, int *ask)
{
    leader_client *cl = l->client;
    struct lio_cluster_redirect to;
    struct lu_url u;
    redisContext *old = cl->query[i];

    if (r->type != REDIS_REPLY_ERROR || cl->urls[i].sentinel ||
        !lio_cluster_redirect(r->str, r->len, &to))
        return 0;
    u = cl->urls[i];
    u.kind = LU_URL_TCP;
    if (to.to.host[0] != '\0')
        memcpy(u.host, to.to.host, sizeof u.host);
    u.port = to.to.port;
    cl->query[i] = NULL;
    if (query_connect_to(l, i, &u) != 0) {
        cl->query[i] = old;
        return 0;
    }
    redisFree(old);
    *ask = to.ask;
    return 1;
}

/* Runs one command on the query connection, following a cluster's
 * redirections; the reply, or NULL after the connection failed (and was
 * closed). */
static redisReply *query_command(leader *l, size_t i, int argc,
                                 const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(l->client->query[i], argc, argv, lens);
    int ask = 0;

    for (int hop = 0; r != NULL && hop < MAX_HOPS; hop++) {
        if (!follow_redirect(l, i, r, &ask))
            break;
        freeReplyObject(r);
        if (ask) {
            r = redisCommand(l->client->query[i], "ASKING");
            if (r == NULL)
                break;
            freeReplyObject(r);
        }
        r = redisCommandArgv(l->client->query[i], argc, argv, lens);
    }
    return r;
}

/* GET of the holder key on server i: 1 if it is our id, 0 if not, or an
 * error. A transport error leaves l->client->query[i] NULL so the next
 * call reconnects. */
static int query_holder(leader *l, size_t i)
{
    const char *argv[2] = {"GET", l->names.holder_key};
    size_t lens[2] = {3, strlen(l->names.holder_key)};
    redisReply *r = query_command(l, i, 2, argv, lens);
    int rc = reply_error(l->client, l->client->query[i], r);

    if (r == NULL) {
        redisFree(l->client->query[i]);
        l->client->query[i] = NULL;
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

typedef int (*query_fn)(leader *l, size_t i, void *arg);

/* Runs fn on the query connection to server i, connecting first if
 * needed; a failure's detail is left in query_err. With query_lock. */
static int query_server(leader *l, size_t i, query_fn fn, void *arg)
{
    int rc, reused;

    l->client->query_err[0] = '\0';
    reused = l->client->query[i] != NULL;
    rc = reused ? 0 : query_connect(l, i);
    if (rc == 0)
        rc = fn(l, i, arg);
    if (rc < 0 && reused && l->client->query[i] == NULL) {
        /* The kept connection had gone stale (a server restart): one
         * fresh try before reporting. */
        l->client->query_err[0] = '\0';
        rc = query_connect(l, i);
        if (rc == 0)
            rc = fn(l, i, arg);
    }
    if (rc < 0 && l->client->query_err[0] == '\0')
        note(l->client, leader_strerror(rc));
    else if (rc >= 0)
        l->client->query_err[0] = '\0';
    return rc;
}

/* Runs fn on the one server's query connection. */
static int run_query(leader *l, query_fn fn, void *arg)
{
    struct lu_sigpipe sp;
    int rc;

    pthread_mutex_lock(&l->client->query_lock);
    lu_sigpipe_block(&sp);
    rc = query_server(l, 0, fn, arg);
    lu_sigpipe_restore(&sp);
    pthread_mutex_unlock(&l->client->query_lock);
    return rc;
}

/* ---- quorum mode: the servers' answers counted ---- */

/* A quorum query's answers so far: rc[i] is server i's (1, 0, or a
 * negative code), or ASKED_NOT while it was not asked. */
#define ASKED_NOT 1000

struct tally {
    size_t n, majority;
    int rc[LIO_QUORUM_MAX];
};

/* Decides a query once enough is known, before every server is asked: a
 * return of 1 stops the round. NULL: every server is asked. */
typedef int (*decided_fn)(const struct tally *t);

/* Where server i is, for messages: never its URL, which may hold a
 * password. */
static void server_name(const struct lu_url *u, char *out, size_t len)
{
    if (u->kind == LU_URL_UNIX)
        snprintf(out, len, "%s", u->path);
    else if (strchr(u->host, ':') != NULL)
        snprintf(out, len, "[%s]:%d", u->host, u->port);
    else
        snprintf(out, len, "%s:%d", u->host, u->port);
}

/* The code of a quorum query that fewer than a majority answered: the
 * servers' own code when they all failed alike (all refused the login,
 * all timed out), else LEADER_ECONN. quorum_err lists them. */
static int no_majority(leader_client *cl, const struct tally *t,
                       const char (*why)[sizeof cl->query_err])
{
    size_t failed = 0, used;
    int code = 0;

    for (size_t i = 0; i < t->n; i++) {
        if (t->rc[i] >= 0 || t->rc[i] == ASKED_NOT)
            continue;
        failed++;
        code = code == 0 || code == t->rc[i] ? t->rc[i] : LEADER_ECONN;
    }
    snprintf(cl->quorum_err, sizeof cl->quorum_err,
             "%zu of %zu servers did not answer (a majority is %zu)", failed,
             t->n, t->majority);
    for (size_t i = 0; i < t->n; i++) {
        char where[LU_URL_HOST_MAX + 16];

        if (t->rc[i] >= 0 || t->rc[i] == ASKED_NOT)
            continue;
        used = strlen(cl->quorum_err);
        server_name(&cl->urls[i], where, sizeof where);
        snprintf(cl->quorum_err + used, sizeof cl->quorum_err - used,
                 "; %.80s: %.120s", where, why[i]);
    }
    return code != 0 ? code : LEADER_ECONN;
}

/* Runs fn on each server in turn (args[i] its argument, stride bytes
 * apart), until decided says the answer is known; the answers in t. 0
 * when a majority answered, else a negative code with quorum_err. */
static int run_quorum(leader *l, query_fn fn, void *args, size_t stride,
                      decided_fn decided, struct tally *t)
{
    leader_client *cl = l->client;
    char why[LIO_QUORUM_MAX][sizeof cl->query_err];
    struct lu_sigpipe sp;
    size_t answered = 0;
    int rc = 0;

    t->n = cl->nurls;
    t->majority = t->n / 2 + 1;
    for (size_t i = 0; i < t->n; i++) {
        t->rc[i] = ASKED_NOT;
        why[i][0] = '\0';
    }
    pthread_mutex_lock(&cl->query_lock);
    cl->quorum_err[0] = '\0';
    lu_sigpipe_block(&sp);
    for (size_t i = 0; i < t->n; i++) {
        t->rc[i] = query_server(l, i, fn, (char *) args + i * stride);
        if (t->rc[i] >= 0)
            answered++;
        else
            memcpy(why[i], cl->query_err, sizeof why[i]);
        if (decided != NULL && decided(t))
            break;
    }
    if (answered < t->majority)
        rc = no_majority(cl, t, (const char(*)[sizeof cl->query_err]) why);
    cl->query_err[0] = '\0';
    lu_sigpipe_restore(&sp);
    pthread_mutex_unlock(&cl->query_lock);
    return rc;
}

static size_t count_of(const struct tally *t, int value)
{
    size_t k = 0;

    for (size_t i = 0; i < t->n; i++)
        k += t->rc[i] == value;
    return k;
}

/* leader_is_leader: decided once a majority says yes, or says no (then
 * yes cannot reach one). */
static int holder_decided(const struct tally *t)
{
    return count_of(t, 1) >= t->majority || count_of(t, 0) >= t->majority;
}

static int holder_is_us(leader *l, size_t i, void *arg)
{
    (void) arg;
    return query_holder(l, i);
}

int lp_is_leader(leader *l)
{
    struct tally t;
    int rc;

    if (l->client->nurls == 1)
        return run_query(l, holder_is_us, NULL);
    rc = run_quorum(l, holder_is_us, NULL, 0, holder_decided, &t);
    if (rc < 0)
        return rc;
    return count_of(&t, 1) >= t.majority;
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
static redisReply *query_argv(leader *l, size_t i, struct lio_argv *a,
                              const char *what, int *rc)
{
    redisReply *r = query_command(l, i, a->argc, a->argv, a->lens);

    *rc = reply_error_of(l->client, l->client->query[i], r, what);
    if (r == NULL) {
        redisFree(l->client->query[i]);
        l->client->query[i] = NULL;
    }
    return r;
}

static int read_current(leader *l, size_t i, void *arg)
{
    struct lio_argv a;
    redisReply *r;
    int rc;

    lio_argv_script(&a, LC_CMD_READ, 0, &l->names, NULL, NULL, NULL);
    r = query_argv(l, i, &a, "read", &rc);
    if (r == NULL)
        return rc;
    if (rc == 0)
        rc = decode_current(r, arg);
    freeReplyObject(r);
    return rc;
}

static void info_init(leader_info *info)
{
    memset(info, 0, sizeof *info);
    info->lease_left_ms = -1;
}

/* How long at least `majority` of the k servers that hold the key keep
 * it: the majority-th longest of their ttls (-1, none, is the longest). */
static long long majority_ttl(long long *ttl, size_t k, size_t majority)
{
    for (size_t a = 1; a < k; a++)
        for (size_t b = a; b > 0; b--) {
            long long x = ttl[b - 1], y = ttl[b];
            int longer = y == -1 ? x != -1 : x != -1 && y > x;

            if (!longer)
                break;
            ttl[b - 1] = y;
            ttl[b] = x;
        }
    return ttl[majority - 1];
}

/* Someone leads only if a majority holds the same id; its term is the
 * highest counter among those servers (one may lag behind a commit). */
static int combine_current(const struct tally *t, const leader_info *each,
                           leader_info *info)
{
    for (size_t i = 0; i < t->n; i++) {
        long long ttl[LIO_QUORUM_MAX];
        uint64_t term = 0;
        size_t k = 0;

        if (t->rc[i] != 1)
            continue;
        for (size_t j = 0; j < t->n; j++) {
            if (t->rc[j] != 1 || strcmp(each[j].id, each[i].id) != 0)
                continue;
            ttl[k++] = each[j].lease_left_ms;
            if (each[j].term > term)
                term = each[j].term;
        }
        if (k < t->majority)
            continue;
        memcpy(info->id, each[i].id, sizeof info->id);
        info->term = term;
        info->lease_left_ms = majority_ttl(ttl, k, t->majority);
        return 1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->rc[i] >= 0 && each[i].term > info->term)
            info->term = each[i].term;
    return 0;
}

int lp_current(leader *l, leader_info *info)
{
    leader_info each[LIO_QUORUM_MAX];
    struct tally t;
    int rc;

    info_init(info);
    if (l->client->nurls == 1)
        return run_query(l, read_current, info);
    for (size_t i = 0; i < l->client->nurls; i++)
        info_init(&each[i]);
    rc = run_quorum(l, read_current, each, sizeof each[0], NULL, &t);
    return rc < 0 ? rc : combine_current(&t, each, info);
}

/* The release script with (id, term): 1 if it deleted the key, 0 if the
 * key was not that leadership's. */
static int release_term(leader *l, size_t i, void *arg)
{
    struct lio_argv a;
    struct lc_value v, elems[LIO_MAX_ELEMS];
    redisReply *r;
    int rc, flag;

    lio_argv_script(&a, LC_CMD_RELEASE, *(const uint64_t *) arg, &l->names,
                    l->id, NULL, NULL);
    r = query_argv(l, i, &a, "release", &rc);
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
    uint64_t terms[LIO_QUORUM_MAX];
    struct tally t;
    int rc;

    if (l->client->nurls == 1)
        return run_query(l, release_term, &term);
    /* On every server, each as a single server would be: where it is not
     * released, it runs out with its ttl. */
    for (size_t i = 0; i < l->client->nurls; i++)
        terms[i] = term;
    rc = run_quorum(l, release_term, terms, sizeof terms[0], NULL, &t);
    return rc < 0 ? rc : count_of(&t, 1) > 0;
}

void lp_query_close(leader_client *c)
{
    for (size_t i = 0; i < c->nurls; i++) {
        if (c->query[i] != NULL)
            redisFree(c->query[i]);
        c->query[i] = NULL;
        /* The last user of the server's TLS context: the loop's
         * connections are gone by now. */
        lio_tls_free(c->urls[i].tls_ctx);
        c->urls[i].tls_ctx = NULL;
    }
}
