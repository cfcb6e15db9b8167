/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_conn.c - see lio_conn.h. */
#include "util/fmacros.h"

#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "core/lc_reply.h"
#include "io/lio_conn.h"
#include "io/lio_sentinel.h"
#include "leader.h"
#include "util/lu_socket.h"

/* ---- the event adapter: record interest, nothing else ---- */

static void add_read(void *p)
{
    ((struct lio_conn *) p)->want |= LIO_WANT_READ;
}

static void del_read(void *p)
{
    ((struct lio_conn *) p)->want &= ~LIO_WANT_READ;
}

static void add_write(void *p)
{
    ((struct lio_conn *) p)->want |= LIO_WANT_WRITE;
}

static void del_write(void *p)
{
    ((struct lio_conn *) p)->want &= ~LIO_WANT_WRITE;
}

static void cleanup(void *p)
{
    ((struct lio_conn *) p)->want = 0;
}

/* Lets go of a context that hiredis frees later (after the callback that
 * runs now, say): its hooks would otherwise clear the interest of the
 * connection opened in its place. */
static void detach(redisAsyncContext *ac)
{
    ac->ev.addRead = ac->ev.delRead = NULL;
    ac->ev.addWrite = ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
    ac->ev.data = NULL;
}

/* ---- hiredis callbacks ---- */

/* The connection ac belongs to, or NULL if it is no longer current. */
static struct lio_conn *current(const redisAsyncContext *ac)
{
    struct lio_conn *c = ac->data;
    return c != NULL && c->ac == ac ? c : NULL;
}

int lio_error_of_context(int redis_err)
{
    switch (redis_err) {
    case REDIS_ERR_TIMEOUT:
        return LEADER_ETIMEDOUT;
    case REDIS_ERR_OOM:
        return LEADER_ENOMEM;
    case REDIS_ERR_PROTOCOL:
        return LEADER_EPROTO;
    default:
        return LEADER_ECONN;
    }
}

static void next_sentinel(struct lio_conn *c, const char *text);
static int goes_on(const struct lio_conn *c);

static void report_failure(struct lio_conn *c, int error, const char *text)
{
    int was_ready = c->ready;
    char tls_text[256];

    if (c->ac != NULL)
        detach(c->ac);
    if (goes_on(c)) {
        c->ssl = NULL;
        c->ac = NULL; /* hiredis frees the context itself */
        c->want = 0;
        next_sentinel(c, text);
        return;
    }
    /* While hiredis tears the context down its session is still there:
     * ask it what went wrong in TLS, if anything. */
    if (c->ssl != NULL && !was_ready &&
        lio_tls_explain(c->ssl, text, tls_text, sizeof tls_text) != 0) {
        error = LEADER_ETLS;
        text = tls_text;
    }
    c->ssl = NULL;
    c->ac = NULL; /* hiredis frees the context itself */
    c->ready = 0;
    c->want = 0;
    c->handler->failed(c->owner, c, was_ready, error, text);
}

/* Starts TLS on a connected socket: from here hiredis reads and writes
 * through the session, which completes the handshake on the way. 0, or
 * -1 after reporting the failure. */
static int start_tls(struct lio_conn *c, redisAsyncContext *ac)
{
    char text[256];
    int code = LEADER_ETLS;

    if (c->url->tls_ctx == NULL) {
        report_failure(c, LEADER_ETLS, "TLS: no TLS context for rediss://");
        return -1;
    }
    c->ssl = lio_tls_start(c->url->tls_ctx, &ac->c, c->url->host, c->timeout_ms,
                           &code, text, sizeof text);
    if (c->ssl == NULL) {
        report_failure(c, code, text);
        return -1;
    }
    return 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct lio_conn *c = current(ac);

    if (c == NULL)
        return;
    if (status != REDIS_OK) {
        report_failure(c, lio_error_of_context(ac->err),
                       ac->errstr[0] ? ac->errstr : "connect failed");
    } else if (lu_is_self_connected(ac->c.fd)) {
        report_failure(c, LEADER_ECONN, "nobody listens on that port");
        /* hiredis frees it once this callback returns */
        redisAsyncFree((redisAsyncContext *) ac);
    } else if (c->url->tls && start_tls(c, (redisAsyncContext *) ac) != 0) {
        redisAsyncFree((redisAsyncContext *) ac);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct lio_conn *c = current(ac);
    int error;

    if (c == NULL)
        return;
    error = lio_error_of_context(ac->err);
    /* An error reply hiredis had no callback for (one to SUBSCRIBE, or a
     * refusal the server sends unasked) ends the connection with the
     * server's text: classify it as a reply. */
    if (ac->err == REDIS_ERR_OTHER && ac->errstr[0] != '\0' &&
        lc_classify_error(ac->errstr, strlen(ac->errstr)) != LEADER_EREDIS)
        error = lc_classify_error(ac->errstr, strlen(ac->errstr));
    report_failure(c, error, ac->errstr[0] ? ac->errstr : "connection closed");
}

static int is_readonly(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 &&
           strncmp(r->str, "READONLY", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct lio_conn *c = current(ac);
    redisReply *reply = r;
    uint64_t tag = (uint64_t) (uintptr_t) privdata;

    if (c == NULL || reply == NULL) {
        /* Stale, or the connection is going away: the disconnect
         * callback reports that. */
        if (reply != NULL)
            freeReplyObject(reply);
        return;
    }
    if (c->origin->sentinel && is_readonly(reply)) {
        /* The master became a replica (a failover): nothing written here
         * counts any more. The connection ends, so that the next one asks
         * the sentinels again. (On a plain URL it is the server the user
         * named: its refusal is reported as it is.) */
        freeReplyObject(reply);
        detach(ac);
        c->ac = NULL;
        c->ssl = NULL;
        c->ready = 0;
        c->want = 0;
        c->handler->failed(c->owner, c, 1, LEADER_EREADONLY,
                           "the master became a replica (READONLY): asking "
                           "the sentinels again");
        redisAsyncFree(ac); /* deferred by hiredis until we return */
        return;
    }
    c->handler->reply(c->owner, c, tag, reply);
}

enum { SETUP_STEP, SETUP_LAST, SETUP_ROLE };

/* The opening failed on a setup reply: the socket closes from the next
 * loop turn. */
static void setup_failed(struct lio_conn *c, redisAsyncContext *ac, int error,
                         const char *text)
{
    detach(ac);
    c->ac = NULL;
    c->ssl = NULL;
    c->ready = 0;
    if (goes_on(c))
        next_sentinel(c, text);
    else
        c->handler->failed(c->owner, c, 0, error, text);
    redisAsyncFree(ac); /* deferred by hiredis until we return */
}

/* The last setup reply (to PING) makes the connection ready; an error in
 * any of them fails it, and so does a ROLE that is not a master's. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct lio_conn *c = current(ac);
    redisReply *reply = r;
    int step = (int) (uintptr_t) privdata;
    char text[LU_URL_HOST_MAX + 160];

    if (c != NULL && reply != NULL) {
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(text, sizeof text, "%s", reply->str);
            setup_failed(c, ac, lc_classify_error(reply->str, reply->len),
                         text);
        } else if (step == SETUP_ROLE && !lio_sentinel_role_master(reply)) {
            snprintf(text, sizeof text,
                     "%s:%d is not a master: the sentinels have not caught "
                     "up with a failover yet",
                     c->url->host, c->url->port);
            setup_failed(c, ac, LEADER_ECONN, text);
        } else if (step == SETUP_LAST) {
            c->ready = 1;
            c->sentinel_first = c->sentinel_i;
            c->handler->ready(c->owner, c);
        }
    }
    if (reply != NULL)
        freeReplyObject(reply);
}

/* ---- replies as the core sees them ---- */

static void to_value(const redisReply *r, struct lc_value *v)
{
    memset(v, 0, sizeof *v);
    switch (r->type) {
    case REDIS_REPLY_NIL:
        v->type = LC_VAL_NIL;
        break;
    case REDIS_REPLY_INTEGER:
        v->type = LC_VAL_INT;
        v->integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        v->type = LC_VAL_STR;
        v->str = r->str;
        v->len = r->len;
        break;
    case REDIS_REPLY_ERROR:
        v->type = LC_VAL_ERR;
        v->str = r->str;
        v->len = r->len;
        break;
    default:
        v->type = LC_VAL_OTHER;
    }
}

void lio_reply_to_value(const redisReply *r, struct lc_value *v,
                        struct lc_value elems[LIO_MAX_ELEMS])
{
    if (r->type != REDIS_REPLY_ARRAY) {
        to_value(r, v);
        return;
    }
    memset(v, 0, sizeof *v);
    v->type = r->elements <= LIO_MAX_ELEMS ? LC_VAL_ARRAY : LC_VAL_OTHER;
    if (v->type == LC_VAL_OTHER)
        return;
    for (size_t i = 0; i < r->elements; i++)
        to_value(r->element[i], &elems[i]);
    v->elem = elems;
    v->n = r->elements;
}

void lio_limit_reader(redisReader *reader)
{
    if (reader != NULL)
        reader->maxelements = LIO_READER_MAX_ELEMENTS;
}

/* ---- setup ---- */

int lio_for_each_setup(const struct lu_url *url,
                       int (*fn)(void *arg, int argc, const char **argv,
                                 const size_t *lens),
                       void *arg)
{
    const char *argv[3];
    size_t lens[3];
    char db[16];
    int argc = 0, rc;

    if (url->has_password) {
        argv[argc++] = "AUTH";
        if (url->has_user)
            argv[argc++] = url->user;
        argv[argc++] = url->password;
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        rc = fn(arg, argc, argv, lens);
        if (rc != 0)
            return rc;
    }
    if (url->db != 0) {
        snprintf(db, sizeof db, "%d", url->db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        return fn(arg, 2, argv, lens);
    }
    return 0;
}

static int queue_setup(void *arg, int argc, const char **argv,
                       const size_t *lens)
{
    redisAsyncContext *ac = arg;
    return redisAsyncCommandArgv(ac, on_setup_reply, NULL, argc, argv, lens);
}

void lio_conn_init(struct lio_conn *c, const struct lio_conn_handler *h,
                   void *owner)
{
    memset(c, 0, sizeof *c);
    c->handler = h;
    c->owner = owner;
    c->deadline = LC_NEVER;
    c->lookup_due = LC_NEVER;
}

/* Ends an opening that failed; the handler hears why (or, while asking a
 * sentinel, the next one is asked). */
static void fail_open(struct lio_conn *c, int error, const char *text)
{
    if (goes_on(c)) {
        next_sentinel(c, text);
        return;
    }
    lio_conn_close(c);
    c->handler->failed(c->owner, c, 0, error, text);
}

static redisAsyncContext *connect_async(const struct lio_conn *c)
{
    redisOptions o;

    memset(&o, 0, sizeof o);
    if (c->url->kind == LU_URL_UNIX) {
        REDIS_OPTIONS_SET_UNIX(&o, c->url->path);
    } else {
        /* A numeric address: hiredis' getaddrinfo() only parses it. */
        REDIS_OPTIONS_SET_TCP(&o, c->addr, c->url->port);
    }
    /* No connect_timeout: hiredis would need a timer hook for it. The
     * opening's deadline (lio_conn_tick) bounds connect and setup. */
    o.options |= REDIS_OPT_NOAUTOFREEREPLIES;
#ifdef REDIS_OPT_SET_SOCK_CLOEXEC
    o.options |= REDIS_OPT_SET_SOCK_CLOEXEC; /* atomic, where hiredis can */
#endif
    return redisAsyncConnectWithOptions(&o);
}

static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *privdata);

/* Queues what opening asks: the master's address of a sentinel; else the
 * setup commands (with ROLE for a master found through sentinels) and a
 * PING. 0 or -1. */
static int queue_opening(struct lio_conn *c, redisAsyncContext *ac)
{
    static const char *ping = "PING", *role = "ROLE";
    static const size_t ping_len = 4, role_len = 4;
    const char *ask[3] = {"SENTINEL", "get-master-addr-by-name",
                          c->origin->master_name};
    size_t ask_lens[3] = {8, 23, strlen(c->origin->master_name)};

    if (c->stage == LIO_STAGE_SENTINEL)
        return redisAsyncCommandArgv(ac, on_sentinel_reply, NULL, 3, ask,
                                     ask_lens);
    if (lio_for_each_setup(c->url, queue_setup, ac) != REDIS_OK)
        return -1;
    if (c->origin->sentinel &&
        redisAsyncCommandArgv(ac, on_setup_reply, (void *) SETUP_ROLE, 1, &role,
                              &role_len) != REDIS_OK)
        return -1;
    return redisAsyncCommandArgv(ac, on_setup_reply, (void *) SETUP_LAST, 1,
                                 &ping, &ping_len);
}

/* Starts hiredis on the address (the URL's own, or the one looked up). */
static void start_connect(struct lio_conn *c)
{
    redisAsyncContext *ac;

    c->gen++; /* a new descriptor */
    ac = connect_async(c);
    if (ac == NULL) {
        fail_open(c, LEADER_ENOMEM, "out of memory");
        return;
    }
    /* hiredis 1.2 makes the socket without SOCK_CLOEXEC: set it before the
     * connect completes, so no program that the application executes
     * holds our Redis session. (Only an exec in another thread between
     * hiredis' socket() and this call still gets it.) */
    if (ac->c.fd != REDIS_INVALID_FD)
        (void) lu_set_cloexec(ac->c.fd);
    if (ac->err) {
        char text[160];
        int error = lio_error_of_context(ac->err);
        snprintf(text, sizeof text, "%s", ac->errstr);
        redisAsyncFree(ac);
        fail_open(c, error, text);
        return;
    }
    c->ac = ac;
    lio_limit_reader(ac->c.reader);
    if (c->url->kind == LU_URL_TCP && c->keepalive_s > 0)
        lu_set_keepalive(ac->c.fd, c->keepalive_s);
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    /* hiredis asked for write readiness before the hooks existed. */
    c->want = LIO_WANT_WRITE;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (queue_opening(c, ac) != 0)
        fail_open(c, LEADER_ENOMEM, "out of memory");
}

/* Connects once the lookup is done; notes its next timer otherwise. */
static void after_lookup(struct lio_conn *c, int done, lc_time now)
{
    char text[160];
    long ms;
    int error;

    if (!done) {
        ms = lio_lookup_timeout_ms(c->lookup);
        c->lookup_due = ms < 0 ? LC_NEVER : now + ms;
        return;
    }
    error = lio_lookup_result(c->lookup, c->addr, sizeof c->addr, text,
                              sizeof text);
    lio_lookup_free(c->lookup);
    c->lookup = NULL;
    c->lookup_due = LC_NEVER;
    if (error != 0)
        fail_open(c, error, text);
    else
        start_connect(c);
}

/* Each try of a DNS server gets a third of the opening's time, so that a
 * lost datagram is asked again while there is time to use the answer. */
static long try_ms(long timeout_ms)
{
    long ms = timeout_ms / 3;
    return ms < 50 ? 50 : ms;
}

/* Opens c->url: at once for a numeric host or a unix socket, else after
 * looking the name up. */
static void open_url(struct lio_conn *c, long timeout_ms)
{
    const struct lu_url *url = c->url;
    const char *direct;
    char text[160];
    int error;

    c->addr[0] = '\0';
    direct = url->kind == LU_URL_TCP ? lio_direct_address(url->host) : "";
    if (direct != NULL) {
        size_t n = strlen(direct);
        if (n < sizeof c->addr) { /* a numeric host always fits */
            memcpy(c->addr, direct, n);
            c->addr[n] = '\0';
        }
        start_connect(c);
        return;
    }
    c->lookup = lio_lookup_start(url->host, try_ms(timeout_ms), &error, text,
                                 sizeof text);
    if (c->lookup == NULL) {
        fail_open(c, error, text);
        return;
    }
    c->want = LIO_WANT_READ;
    after_lookup(c, lio_lookup_process(c->lookup), c->now);
}

/* Asks the next sentinel, within its share of what is left. */
static void ask_sentinel(struct lio_conn *c)
{
    int n = c->origin->nsentinels;
    const struct lu_url_node *node;
    lc_time left = c->deadline - c->now;
    lc_time share = left / (n - c->asked);

    c->sentinel_i = (c->sentinel_first + c->asked) % n;
    node = &c->origin->sentinels[c->sentinel_i];
    c->target = *c->origin;
    c->target.sentinel = 0;
    c->target.has_user = c->target.has_password = 0;
    c->target.db = 0;
    memcpy(c->target.host, node->host, sizeof c->target.host);
    c->target.port = node->port;
    c->url = &c->target;
    c->stage = LIO_STAGE_SENTINEL;
    c->stage_deadline = c->now + (share > 1 ? share : 1);
    open_url(c, (long) (c->stage_deadline - c->now));
}

/* The sentinel asked, or the master it named, failed with text: on to the
 * next sentinel while there is one and time is left. */
static void next_sentinel(struct lio_conn *c, const char *text)
{
    const struct lu_url_node *n = &c->origin->sentinels[c->sentinel_i];
    lc_time deadline = c->deadline;
    char all[sizeof c->why + LU_URL_NAME_MAX + 80];

    if (c->stage == LIO_STAGE_SENTINEL)
        snprintf(c->why, sizeof c->why, "sentinel %.60s:%d: %.100s", n->host,
                 n->port, text);
    else
        snprintf(c->why, sizeof c->why,
                 "master %.40s:%d, named by %.40s:%d: %.80s", c->url->host,
                 c->url->port, n->host, n->port, text);
    lio_conn_close(c);
    c->deadline = deadline;
    if (++c->asked < c->origin->nsentinels && c->now < deadline) {
        ask_sentinel(c);
        return;
    }
    snprintf(all, sizeof all,
             "no sentinel gave the address of a master \"%s\" that "
             "answers (last: %s)",
             c->origin->master_name, c->why);
    c->handler->failed(c->owner, c, 0, LEADER_ECONN, all);
}

/* Whether a failure of the opening should go to the next sentinel. */
static int goes_on(const struct lio_conn *c)
{
    return c->origin != NULL && c->origin->sentinel && !c->ready &&
           (c->stage == LIO_STAGE_SENTINEL ||
            c->asked + 1 < c->origin->nsentinels);
}

/* The master's address, or why not: the master is opened next. */
static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct lio_conn *c = current(ac);
    redisReply *reply = r;
    char host[LU_URL_HOST_MAX + 1];
    int port = 0, found;

    (void) privdata;
    if (c == NULL || reply == NULL) {
        if (reply != NULL)
            freeReplyObject(reply);
        return;
    }
    found = lio_sentinel_master_addr(reply, host, &port);
    if (found > 0 && c->now < c->avoid_until && port == c->avoid.port &&
        strcmp(host, c->avoid.host) == 0) {
        next_sentinel(c, "names the master the sentinels failed over from");
    } else if (found > 0) {
        c->target = *c->origin;
        c->target.sentinel = 0;
        memcpy(c->target.host, host, sizeof c->target.host);
        c->target.port = port;
        c->url = &c->target;
        c->stage = LIO_STAGE_SERVER;
        c->ac = NULL;
        detach(ac);
        redisAsyncFree(ac); /* deferred by hiredis until we return */
        open_url(c, (long) (c->deadline - c->now));
    } else if (found == 0) {
        next_sentinel(c, "knows no master of that name");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        next_sentinel(c, reply->str);
    } else {
        next_sentinel(c,
                      "unexpected reply to SENTINEL get-master-addr-by-name");
    }
    freeReplyObject(reply);
}

int lio_conn_open(struct lio_conn *c, const struct lu_url *url,
                  const struct lio_conn_params *p, lc_time now)
{
    lio_conn_close(c);
    c->gen++;
    c->origin = c->url = url;
    c->stage = LIO_STAGE_SERVER;
    c->now = now;
    c->keepalive_s = p->keepalive_s;
    c->timeout_ms = p->timeout_ms;
    c->deadline = now + (p->timeout_ms > 0 ? p->timeout_ms : 0);
    if (url->sentinel) {
        c->asked = 0;
        c->why[0] = '\0';
        if (c->sentinel_first >= url->nsentinels)
            c->sentinel_first = 0;
        ask_sentinel(c);
    } else {
        open_url(c, p->timeout_ms);
    }
    return 0;
}

int lio_conn_is_open(const struct lio_conn *c)
{
    return c->ac != NULL || c->lookup != NULL;
}

void lio_conn_close(struct lio_conn *c)
{
    redisAsyncContext *ac = c->ac;

    c->ac = NULL;
    c->ssl = NULL;
    c->ready = 0;
    c->stage = LIO_STAGE_SERVER;
    if (ac != NULL) {
        detach(ac);
        redisAsyncFree(ac); /* its callbacks now find it stale */
    }
    lio_lookup_free(c->lookup);
    c->lookup = NULL;
    c->want = 0;
    c->deadline = LC_NEVER;
    c->lookup_due = LC_NEVER;
}

int lio_conn_fd(const struct lio_conn *c)
{
    if (c->ac != NULL)
        return c->ac->c.fd;
    return c->lookup != NULL ? lio_lookup_fd(c->lookup) : -1;
}

void lio_conn_handle(struct lio_conn *c, short revents, lc_time now)
{
    redisAsyncContext *ac = c->ac;

    c->now = now;
    if (c->lookup != NULL) {
        after_lookup(c, lio_lookup_process(c->lookup), now);
        return;
    }
    if (ac == NULL)
        return;
    /* What OpenSSL queues from here on is this connection's news. */
    if (c->url->tls)
        ERR_clear_error();
    if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
        if (c->want & LIO_WANT_WRITE && !(ac->c.flags & REDIS_CONNECTED))
            redisAsyncHandleWrite(ac); /* completes or fails the connect */
        else
            redisAsyncHandleRead(ac);
    }
    if (c->ac == ac && (revents & POLLOUT))
        redisAsyncHandleWrite(ac);
}

lc_time lio_conn_deadline(const struct lio_conn *c)
{
    if (!lio_conn_is_open(c) || c->ready)
        return LC_NEVER;
    lc_time d = c->lookup_due < c->deadline ? c->lookup_due : c->deadline;

    if (c->stage == LIO_STAGE_SENTINEL && c->stage_deadline < d)
        d = c->stage_deadline;
    return d;
}

void lio_conn_tick(struct lio_conn *c, lc_time now)
{
    char text[LU_URL_HOST_MAX + 64];

    c->now = now;
    if (c->lookup != NULL && now >= c->lookup_due)
        after_lookup(c, lio_lookup_process(c->lookup), now);
    if (c->stage == LIO_STAGE_SENTINEL && lio_conn_is_open(c) &&
        now >= c->stage_deadline && now < c->deadline) {
        next_sentinel(c, "timed out");
        return;
    }
    if (!lio_conn_is_open(c) || c->ready || now < c->deadline)
        return;
    if (c->lookup != NULL)
        snprintf(text, sizeof text, "timed out looking up %s", c->url->host);
    else if (lio_tls_timed_out(c->ssl, c->timeout_ms, text, sizeof text)) {
        fail_open(c, LEADER_ETLS, text);
        return;
    } else
        snprintf(text, sizeof text, "timed out connecting");
    fail_open(c, LEADER_ETIMEDOUT, text);
}

uint64_t lio_conn_server(const struct lio_conn *c)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

    if (c->origin == NULL || !c->origin->sentinel)
        return 0;
    for (const char *p = c->url->host; *p != '\0'; p++)
        h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
    h = (h ^ (uint64_t) c->url->port) * 0x100000001b3ULL;
    return h != 0 ? h : 1;
}

int lio_conn_send(struct lio_conn *c, uint64_t tag, int argc, const char **argv,
                  const size_t *lens)
{
    if (c->ac == NULL ||
        redisAsyncCommandArgv(c->ac, on_reply, (void *) (uintptr_t) tag, argc,
                              argv, lens) != REDIS_OK)
        return LEADER_ECONN;
    return 0;
}

int lio_conn_subscribe(struct lio_conn *c, uint64_t tag, const char *channel)
{
    const char *argv[2] = {"SUBSCRIBE", channel};
    size_t lens[2] = {9, strlen(channel)};

    return lio_conn_send(c, tag, 2, argv, lens);
}
