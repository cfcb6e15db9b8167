/* lio_conn.c - see lio_conn.h. */
#include "util/fmacros.h"

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

    c->ac = NULL; /* hiredis frees the context itself */
    c->ready = 0;
    c->want = 0;
    c->handler->failed(c->owner, c, was_ready, error, text);
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
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct lio_conn *c = current(ac);

    if (c != NULL)
        report_failure(c, lio_error_of_context(ac->err),
                       ac->errstr[0] ? ac->errstr : "connection closed");
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
}

static redisAsyncContext *connect_async(const struct lu_url *url,
                                        long timeout_ms)
{
    redisOptions o;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    memset(&o, 0, sizeof o);
    if (url->kind == LU_URL_UNIX) {
        REDIS_OPTIONS_SET_UNIX(&o, url->path);
    } else {
        REDIS_OPTIONS_SET_TCP(&o, url->host, url->port);
    }
    /* The core times commands itself; this bounds only the connect. */
    o.connect_timeout = &tv;
    o.options |= REDIS_OPT_NOAUTOFREEREPLIES;
#ifdef REDIS_OPT_SET_SOCK_CLOEXEC
    o.options |= REDIS_OPT_SET_SOCK_CLOEXEC; /* atomic, where hiredis can */
#endif
    return redisAsyncConnectWithOptions(&o);
}

int lio_conn_open(struct lio_conn *c, const struct lu_url *url, long timeout_ms)
{
    redisAsyncContext *ac;
    static const char *ping = "PING";
    static const size_t ping_len = 4;

    lio_conn_close(c);
    c->gen++;
    ac = connect_async(url, timeout_ms);
    if (ac == NULL)
        return LEADER_ENOMEM;
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
        c->handler->failed(c->owner, c, 0, error, text);
        return 0;
    }
    c->ac = ac;
    lio_limit_reader(ac->c.reader);
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
    if (lio_for_each_setup(url, queue_setup, ac) != REDIS_OK ||
        redisAsyncCommandArgv(ac, on_setup_reply, (void *) 1, 1, &ping,
                              &ping_len) != REDIS_OK) {
        lio_conn_close(c);
        c->handler->failed(c->owner, c, 0, LEADER_ENOMEM, "out of memory");
    }
    return 0;
}

void lio_conn_close(struct lio_conn *c)
{
    redisAsyncContext *ac = c->ac;

    c->ac = NULL;
    c->ready = 0;
    if (ac != NULL)
        redisAsyncFree(ac); /* its callbacks now find it stale */
    c->want = 0;
}

int lio_conn_fd(const struct lio_conn *c)
{
    return c->ac != NULL ? c->ac->c.fd : -1;
}

void lio_conn_handle(struct lio_conn *c, short revents)
{
    redisAsyncContext *ac = c->ac;

    if (ac == NULL)
        return;
    if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
        if (c->want & LIO_WANT_WRITE && !(ac->c.flags & REDIS_CONNECTED))
            redisAsyncHandleWrite(ac); /* completes or fails the connect */
        else
            redisAsyncHandleRead(ac);
    }
    if (c->ac == ac && (revents & POLLOUT))
        redisAsyncHandleWrite(ac);
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
