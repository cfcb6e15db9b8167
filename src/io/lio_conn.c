/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_conn.c - see lio_conn.h. */
#include "util/fmacros.h"

#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "core/lc_reply.h"
#include "io/lio_conn.h"
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

static void report_failure(struct lio_conn *c, int error, const char *text)
{
    int was_ready = c->ready;
    char tls_text[256];

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
    c->handler->reply(c->owner, c, tag, reply);
}

/* The last setup reply (to PING) makes the connection ready; an error in
 * any of them fails it, closing the socket from the next loop turn. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct lio_conn *c = current(ac);
    redisReply *reply = r;
    int last = privdata != NULL;

    if (c != NULL && reply != NULL) {
        if (reply->type == REDIS_REPLY_ERROR) {
            char text[160];
            snprintf(text, sizeof text, "%s", reply->str);
            c->ac = NULL;
            c->ssl = NULL;
            c->ready = 0;
            c->handler->failed(c->owner, c, 0,
                               lc_classify_error(reply->str, reply->len), text);
            redisAsyncFree(ac); /* deferred by hiredis until we return */
        } else if (last) {
            c->ready = 1;
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

/* Ends an opening that failed; the handler hears why. */
static void fail_open(struct lio_conn *c, int error, const char *text)
{
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

/* Starts hiredis on the address (the URL's own, or the one looked up). */
static void start_connect(struct lio_conn *c)
{
    redisAsyncContext *ac;
    static const char *ping = "PING";
    static const size_t ping_len = 4;

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
    if (lio_for_each_setup(c->url, queue_setup, ac) != REDIS_OK ||
        redisAsyncCommandArgv(ac, on_setup_reply, (void *) 1, 1, &ping,
                              &ping_len) != REDIS_OK)
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

int lio_conn_open(struct lio_conn *c, const struct lu_url *url,
                  const struct lio_conn_params *p, lc_time now)
{
    const char *direct;
    char text[160];
    int error;

    lio_conn_close(c);
    c->gen++;
    c->url = url;
    c->keepalive_s = p->keepalive_s;
    c->timeout_ms = p->timeout_ms;
    c->deadline = now + (p->timeout_ms > 0 ? p->timeout_ms : 0);
    c->addr[0] = '\0';
    direct = url->kind == LU_URL_TCP ? lio_direct_address(url->host) : "";
    if (direct != NULL) {
        size_t n = strlen(direct);
        if (n < sizeof c->addr) { /* a numeric host always fits */
            memcpy(c->addr, direct, n);
            c->addr[n] = '\0';
        }
        start_connect(c);
        return 0;
    }
    c->lookup = lio_lookup_start(url->host, try_ms(p->timeout_ms), &error, text,
                                 sizeof text);
    if (c->lookup == NULL) {
        fail_open(c, error, text);
        return 0;
    }
    c->want = LIO_WANT_READ;
    after_lookup(c, lio_lookup_process(c->lookup), now);
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
    if (ac != NULL)
        redisAsyncFree(ac); /* its callbacks now find it stale */
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
    return c->lookup_due < c->deadline ? c->lookup_due : c->deadline;
}

void lio_conn_tick(struct lio_conn *c, lc_time now)
{
    char text[LU_URL_HOST_MAX + 64];

    if (c->lookup != NULL && now >= c->lookup_due)
        after_lookup(c, lio_lookup_process(c->lookup), now);
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
