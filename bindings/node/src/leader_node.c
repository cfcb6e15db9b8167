/* SPDX-License-Identifier: BSD-3-Clause */
/* leader_node.c - the native part of libleader's Node.js binding: an N-API
 * addon in C that runs a libleader handle in event-loop mode on Node's own
 * libuv loop, with no thread of its own.
 *
 * Each Handle owns one event-loop handle. A uv_poll_t watches leader_fd()
 * and a uv_timer_t follows leader_timeout_ms(); either runs
 * leader_process() inside a callback scope, so the library's callback (and
 * through it the JavaScript emit function) runs on the main thread, and
 * promise jobs queued by listeners run when the scope closes. The queries
 * that wait for Redis (isLeader, current) go through a second handle of
 * the same election and id in thread mode that never campaigns, called
 * from N-API async work on libuv's thread pool: an event-loop handle may
 * only be called from its loop's thread, where a round trip would stall
 * the loop.
 *
 * While a handle campaigns or observes, or a query is in flight, the emit
 * function (a closure over the JavaScript Leader) is held by a strong
 * reference and the uv handles are active, so the Leader and the process
 * stay alive; once libleader has nothing scheduled after a stop (REVOKED
 * delivered, the key released), both are let go and the process can exit.
 */
#define _GNU_SOURCE /* uv.h needs POSIX threads' types */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#include "leader.h"

#define ERRLEN 512

/* Fails the current N-API function: throws (unless an exception is already
 * pending) and returns NULL. */
#define CHECK(env, call)                                                       \
    do {                                                                       \
        if ((call) != napi_ok) {                                               \
            throw_last(env);                                                   \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

/* One Handle. Freed when both uv handles are closed and the JavaScript
 * object is gone or closed. */
struct nl_handle {
    napi_env env;
    leader *l; /* the event-loop handle; NULL once closed */
    leader *q; /* the query handle (thread mode), made on first query */
    leader_options opts;
    char *url, *key, *password, *tls_ca_cert, *tls_ca_dir, *tls_cert, *tls_key,
        *tls_server_name;
    napi_ref emit;           /* strong while pinned, else weak */
    napi_async_context actx; /* for the callback scopes of events */
    uv_poll_t poll;
    uv_timer_t timer;
    int uv_open;      /* uv handles not yet closed */
    int running;      /* campaigning or observing, or a stop not settled */
    int queries;      /* async queries in flight */
    int pinned;       /* emit holds a strong reference */
    int in_pump;      /* inside a turn (pump()) */
    int closed;       /* close() or the finalizer ran */
    int wrapper_gone; /* the JavaScript object was finalized */
};

/* One isLeader() or current() in flight. */
struct nl_query {
    struct nl_handle *h;
    napi_async_work work;
    napi_deferred deferred;
    int what; /* 0: is_leader, 1: current */
    int rc;
    leader_info info;
    char detail[256];
};

static const char *const error_names[] = {
    "LEADER_OK",        "LEADER_EINVAL",  "LEADER_ENOMEM",
    "LEADER_EURL",      "LEADER_ENOTSUP", "LEADER_ECONN",
    "LEADER_ETIMEDOUT", "LEADER_EAUTH",   "LEADER_EWRONGTYPE",
    "LEADER_EREADONLY", "LEADER_EPROTO",  "LEADER_EREDIS",
    "LEADER_ESTATE",    "LEADER_ELOST",   "LEADER_ELEASE",
    "LEADER_ETERM",     "LEADER_ETLS",    "LEADER_EUNHEALTHY"};

#define N_ERRORS ((int) (sizeof error_names / sizeof error_names[0]))

static const char *error_name(int code)
{
    if (code <= 0 && -code < N_ERRORS)
        return error_names[-code];
    return "LEADER_EUNKNOWN";
}

/* Throws an Error for the last failed N-API call, unless one is pending. */
static void throw_last(napi_env env)
{
    const napi_extended_error_info *info = NULL;
    bool pending = false;

    napi_is_exception_pending(env, &pending);
    if (pending)
        return;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, NULL,
                     info != NULL && info->error_message != NULL
                         ? info->error_message
                         : "N-API call failed");
}

/* An Error with code set to the name of a LEADER_E... code and errno to the
 * code itself. */
static napi_value make_error(napi_env env, int code, const char *message)
{
    napi_value msg, err, v;

    if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) !=
            napi_ok ||
        napi_create_error(env, NULL, msg, &err) != napi_ok)
        return NULL;
    if (napi_create_string_utf8(env, error_name(code), NAPI_AUTO_LENGTH, &v) ==
        napi_ok)
        napi_set_named_property(env, err, "code", v);
    if (napi_create_int32(env, code, &v) == napi_ok)
        napi_set_named_property(env, err, "errno", v);
    return err;
}

static void throw_code(napi_env env, int code, const char *message)
{
    napi_value err = make_error(env, code, message);

    if (err != NULL)
        napi_throw(env, err);
}

/* ---- pinning: what keeps the Leader and the loop alive ---- */

/* The handle has work: a campaign, an observation, a stop settling or a
 * query. Holds the emit function strongly. */
static void pin_update(struct nl_handle *h)
{
    int want = !h->closed && (h->running || h->queries > 0);
    uint32_t count;

    if (h->emit == NULL || want == h->pinned)
        return;
    if (want)
        napi_reference_ref(h->env, h->emit, &count);
    else
        napi_reference_unref(h->env, h->emit, &count);
    h->pinned = want;
}

/* ---- the loop ---- */

static void pump(struct nl_handle *h);
static void release_js(struct nl_handle *h);

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void) status;
    (void) events;
    pump(p->data);
}

static void free_handle(struct nl_handle *h)
{
    free(h->url);
    free(h->key);
    free(h->password);
    free(h->tls_ca_cert);
    free(h->tls_ca_dir);
    free(h->tls_cert);
    free(h->tls_key);
    free(h->tls_server_name);
    free(h);
}

/* Frees the structure once nothing refers to it any more. */
static void maybe_free(struct nl_handle *h)
{
    if (h->uv_open == 0 && h->wrapper_gone && h->queries == 0 && !h->in_pump &&
        h->l == NULL && h->q == NULL)
        free_handle(h);
}

static void on_uv_closed(uv_handle_t *u)
{
    struct nl_handle *h = u->data;

    h->uv_open--;
    maybe_free(h);
}

/* Arms the poll and the timer after a turn, or lets them go when libleader
 * has nothing scheduled and the handle is not running. */
static void arm(struct nl_handle *h)
{
    int ms;

    if (h->l == NULL)
        return;
    ms = leader_timeout_ms(h->l);
    if (ms >= 0)
        uv_timer_start(&h->timer, on_timer, (uint64_t) ms, 0);
    else
        uv_timer_stop(&h->timer);
}

/* A request was handed to libleader (elect, stop, ...): run a turn soon,
 * from the loop, not from inside the caller. */
static void kick(struct nl_handle *h)
{
    if (h->l == NULL)
        return;
    if (!uv_is_active((uv_handle_t *) &h->poll))
        uv_poll_start(&h->poll, UV_READABLE, on_poll);
    uv_timer_start(&h->timer, on_timer, 0, 0);
}

/* Calls emit(type, term, leaderId, error, message) in the current scope.
 * An exception thrown by a listener goes to 'uncaughtException', as one
 * thrown from any other callback of the loop would. */
static void call_emit(struct nl_handle *h, const char *type, uint64_t term,
                      const char *leader_id, int error, const char *message)
{
    napi_env env = h->env;
    napi_handle_scope scope;
    napi_value fn, recv, argv[5], result, exc;
    bool pending = false;

    if (h->emit == NULL || napi_open_handle_scope(env, &scope) != napi_ok)
        return;
    if (napi_get_reference_value(env, h->emit, &fn) != napi_ok || fn == NULL)
        goto out;
    napi_get_undefined(env, &recv);
    napi_create_string_utf8(env, type, NAPI_AUTO_LENGTH, &argv[0]);
    napi_create_double(env, (double) term, &argv[1]);
    if (leader_id != NULL)
        napi_create_string_utf8(env, leader_id, NAPI_AUTO_LENGTH, &argv[2]);
    else
        napi_get_null(env, &argv[2]);
    napi_create_int32(env, error, &argv[3]);
    napi_create_string_utf8(env, message != NULL ? message : "",
                            NAPI_AUTO_LENGTH, &argv[4]);
    if (napi_call_function(env, recv, fn, 5, argv, &result) != napi_ok) {
        napi_is_exception_pending(env, &pending);
        if (pending && napi_get_and_clear_last_exception(env, &exc) == napi_ok)
            napi_fatal_exception(env, exc);
    }
out:
    napi_close_handle_scope(env, scope);
}

static const char *event_type_name(leader_event_type t)
{
    switch (t) {
    case LEADER_EVENT_ELECTED:
        return "elected";
    case LEADER_EVENT_REVOKED:
        return "revoked";
    case LEADER_EVENT_ERROR:
        return "error";
    case LEADER_EVENT_CHANGED:
        return "changed";
    }
    return "unknown";
}

/* libleader's callback: runs inside leader_process(), on the main thread,
 * within the callback scope pump() opened. */
static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct nl_handle *h = userdata;

    (void) l;
    call_emit(h, event_type_name(ev->type), ev->term, ev->leader_id, ev->error,
              ev->message);
}

/* One turn: leader_process() in a callback scope, then re-arming, and the
 * "idle" notice once a stop has settled. */
static void pump(struct nl_handle *h)
{
    napi_env env = h->env;
    napi_handle_scope hs;
    napi_callback_scope cs;
    napi_value resource;
    int rc, settled = 0;

    if (h->l == NULL || h->in_pump)
        return;
    if (napi_open_handle_scope(env, &hs) != napi_ok)
        return;
    napi_create_object(env, &resource);
    if (napi_open_callback_scope(env, resource, h->actx, &cs) != napi_ok) {
        napi_close_handle_scope(env, hs);
        return;
    }
    /* Until the end of the turn, promise jobs included: the async context
     * stays and the structure is not freed, whatever a listener does. */
    h->in_pump = 1;
    rc = leader_process(h->l);
    if (rc < 0 && rc != LEADER_ESTATE)
        fprintf(stderr, "libleader: leader_process: %s\n", leader_strerror(rc));
    if (h->l != NULL) {
        arm(h);
        if (h->running == 1 && leader_timeout_ms(h->l) < 0) {
            /* Stopped and nothing scheduled: the stop has settled. */
            h->running = 0;
            uv_poll_stop(&h->poll);
            uv_timer_stop(&h->timer);
            settled = 1;
        }
    }
    if (settled)
        call_emit(h, "idle", 0, NULL, 0, "");
    pin_update(h);
    napi_close_callback_scope(env, cs); /* runs the promise jobs */
    napi_close_handle_scope(env, hs);
    h->in_pump = 0;
    if (h->closed) {
        release_js(h); /* closed during the turn */
        maybe_free(h);
    }
}

/* ---- construction ---- */

static struct nl_handle *unwrap(napi_env env, napi_callback_info info,
                                size_t *argc, napi_value *argv)
{
    napi_value self;
    void *p = NULL;

    if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok ||
        napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
        throw_last(env);
        return NULL;
    }
    return p;
}

/* The property name of obj in *v: 1 when it is of type want (any type
 * when want is napi_undefined), 0 when undefined or null, -1 with a
 * TypeError thrown when of another type (typename says which it must be),
 * or on an N-API failure. */
static int get_property(napi_env env, napi_value obj, const char *name,
                        napi_valuetype want, const char *type_name,
                        napi_value *v)
{
    napi_valuetype t;
    char msg[128];

    if (napi_get_named_property(env, obj, name, v) != napi_ok ||
        napi_typeof(env, *v, &t) != napi_ok)
        return -1;
    if (t == napi_undefined || t == napi_null)
        return 0;
    if (want != napi_undefined && t != want) {
        snprintf(msg, sizeof msg, "%s must be %s", name, type_name);
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return -1;
    }
    return 1;
}

/* Reads the string property name of obj into a malloc'ed copy: *out stays
 * NULL when the property is undefined or null. Returns -1 (with an
 * exception thrown) when it is another type. */
static int get_string(napi_env env, napi_value obj, const char *name,
                      char **out)
{
    napi_value v;
    size_t len;
    char msg[128];
    int rc = get_property(env, obj, name, napi_string, "a string", &v);

    *out = NULL;
    if (rc <= 0)
        return rc;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
        return -1;
    *out = malloc(len + 1);
    if (*out == NULL) {
        throw_code(env, LEADER_ENOMEM, "out of memory");
        return -1;
    }
    napi_get_value_string_utf8(env, v, *out, len + 1, &len);
    if (strlen(*out) != len) {
        snprintf(msg, sizeof msg, "%s must not contain NUL characters", name);
        throw_code(env, LEADER_EINVAL, msg);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* Reads an integer property (undefined or null: keeps *out). The range is
 * libleader's to check. */
static int get_long(napi_env env, napi_value obj, const char *name, long *out)
{
    napi_value v;
    int64_t n;
    int rc = get_property(env, obj, name, napi_number, "a number", &v);

    if (rc <= 0)
        return rc;
    if (napi_get_value_int64(env, v, &n) != napi_ok)
        return -1;
    *out = (long) n;
    return 0;
}

static int get_bool(napi_env env, napi_value obj, const char *name, int *out)
{
    napi_value v;
    bool b;
    int rc = get_property(env, obj, name, napi_undefined, NULL, &v);

    if (rc <= 0)
        return rc;
    if (napi_coerce_to_bool(env, v, &v) != napi_ok ||
        napi_get_value_bool(env, v, &b) != napi_ok)
        return -1;
    *out = b ? 1 : 0;
    return 0;
}

static void on_wrapper_finalized(napi_env env, void *data, void *hint);
static void close_handle(struct nl_handle *h);

/* new Handle(options, emit): options as leader_options, in JavaScript
 * names; emit(type, term, leaderId, error, message) receives the events. */
static napi_value handle_new(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], self, name;
    napi_valuetype t0, t1;
    struct nl_handle *h;
    char err[ERRLEN] = "", *id = NULL;
    leader_options *o;
    uv_loop_t *loop;

    CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
    if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok ||
        napi_typeof(env, argv[1], &t1) != napi_ok || t0 != napi_object ||
        t1 != napi_function) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                              "Handle(options, emit): an object and a "
                              "function");
        return NULL;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        throw_code(env, LEADER_ENOMEM, "out of memory");
        return NULL;
    }
    h->env = env;
    o = &h->opts;
    leader_options_init(o);
    if (get_string(env, argv[0], "url", &h->url) ||
        get_string(env, argv[0], "key", &h->key) ||
        get_string(env, argv[0], "id", &id) ||
        get_string(env, argv[0], "password", &h->password) ||
        get_string(env, argv[0], "tlsCaCert", &h->tls_ca_cert) ||
        get_string(env, argv[0], "tlsCaDir", &h->tls_ca_dir) ||
        get_string(env, argv[0], "tlsCert", &h->tls_cert) ||
        get_string(env, argv[0], "tlsKey", &h->tls_key) ||
        get_string(env, argv[0], "tlsServerName", &h->tls_server_name) ||
        get_bool(env, argv[0], "tlsInsecure", &o->tls_insecure) ||
        get_long(env, argv[0], "ttl", &o->ttl_ms) ||
        get_long(env, argv[0], "wait", &o->wait_ms) ||
        get_long(env, argv[0], "connectTimeout", &o->connect_timeout_ms) ||
        get_long(env, argv[0], "commandTimeout", &o->command_timeout_ms))
        goto fail;
    o->url = h->url;
    if (h->key != NULL)
        o->key = h->key;
    o->id = id;
    o->password = h->password;
    o->tls_ca_cert = h->tls_ca_cert;
    o->tls_ca_dir = h->tls_ca_dir;
    o->tls_cert = h->tls_cert;
    o->tls_key = h->tls_key;
    o->tls_server_name = h->tls_server_name;
    o->event_loop = 1;
    h->l = leader_new(o, err, sizeof err);
    free(id);
    id = NULL;
    if (h->l == NULL) {
        throw_code(env, LEADER_EINVAL, err);
        goto fail;
    }
    /* The query handle gets this handle's id, whatever made it. */
    o->id = NULL;
    leader_on(h->l, on_event, h);

    if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
        uv_poll_init(loop, &h->poll, leader_fd(h->l)) != 0) {
        throw_code(env, LEADER_ECONN, "cannot watch the handle's descriptor");
        goto fail_leader;
    }
    uv_timer_init(loop, &h->timer);
    h->poll.data = h->timer.data = h;
    h->uv_open = 2;
    if (napi_create_reference(env, argv[1], 0, &h->emit) != napi_ok ||
        napi_create_string_utf8(env, "libleader", NAPI_AUTO_LENGTH, &name) !=
            napi_ok ||
        napi_async_init(env, self, name, &h->actx) != napi_ok ||
        napi_wrap(env, self, h, on_wrapper_finalized, NULL, NULL) != napi_ok) {
        throw_last(env);
        h->wrapper_gone = 1;
        close_handle(h);
        maybe_free(h);
        return NULL;
    }
    return self;

fail_leader:
    leader_free(h->l);
    h->l = NULL;
fail:
    free(id);
    free_handle(h);
    return NULL;
}

/* Lets go of the JavaScript side of a closed handle: its async context
 * (not while a turn runs in a scope of it) and the emit function (once no
 * query needs it). */
static void release_js(struct nl_handle *h)
{
    if (h->actx != NULL && !h->in_pump) {
        napi_async_destroy(h->env, h->actx);
        h->actx = NULL;
    }
    pin_update(h);
    if (h->emit != NULL && !h->pinned) {
        napi_delete_reference(h->env, h->emit);
        h->emit = NULL;
    }
}

/* Closes the handle: the uv handles, the library handles (the query handle
 * once no query uses it). Idempotent. */
static void close_handle(struct nl_handle *h)
{
    leader *l = h->l;

    if (h->closed)
        return;
    h->closed = 1;
    h->running = 0;
    if (h->uv_open == 2) {
        /* Out of the loop's epoll set before leader_free() closes the
         * descriptor. */
        uv_close((uv_handle_t *) &h->poll, on_uv_closed);
        uv_close((uv_handle_t *) &h->timer, on_uv_closed);
    }
    h->l = NULL;
    if (l != NULL)
        leader_free(l); /* from inside a callback: deferred by libleader */
    if (h->q != NULL && h->queries == 0) {
        leader_free(h->q);
        h->q = NULL;
    }
    if (!h->in_pump)
        release_js(h);
}

static void on_wrapper_finalized(napi_env env, void *data, void *hint)
{
    struct nl_handle *h = data;

    (void) env;
    (void) hint;
    h->wrapper_gone = 1;
    close_handle(h);
    maybe_free(h);
}

/* ---- methods ---- */

static napi_value ret_int(napi_env env, int v)
{
    napi_value r;

    CHECK(env, napi_create_int32(env, v, &r));
    return r;
}

static napi_value ret_string(napi_env env, const char *s)
{
    napi_value r;

    if (s == NULL) {
        CHECK(env, napi_get_null(env, &r));
        return r;
    }
    CHECK(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r));
    return r;
}

static int check_open(napi_env env, struct nl_handle *h)
{
    if (h->l != NULL)
        return 0;
    throw_code(env, LEADER_ESTATE, "the leader is closed");
    return -1;
}

static napi_value m_id(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);

    if (h == NULL || check_open(env, h))
        return NULL;
    return ret_string(env, leader_id(h->l));
}

static napi_value m_key(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);

    if (h == NULL || check_open(env, h))
        return NULL;
    return ret_string(env, leader_key(h->l));
}

/* elect() and observe(): 0 or LEADER_ESTATE (already running), without
 * throwing; the JavaScript side decides. */
static napi_value start(napi_env env, napi_callback_info info, int observe)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    int rc;

    if (h == NULL || check_open(env, h))
        return NULL;
    rc = observe ? leader_observe(h->l) : leader_elect(h->l);
    if (rc == 0) {
        h->running = 2;
        pin_update(h);
        kick(h);
    } else if (rc != LEADER_ESTATE) {
        throw_code(env, rc, leader_strerror(rc));
        return NULL;
    }
    return ret_int(env, rc);
}

static napi_value m_elect(napi_env env, napi_callback_info info)
{
    return start(env, info, 0);
}

static napi_value m_observe(napi_env env, napi_callback_info info)
{
    return start(env, info, 1);
}

/* stop(): 0 when a stop is under way ("idle" follows once it has settled),
 * LEADER_ESTATE when there was nothing to stop. */
static napi_value m_stop(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    int rc;

    if (h == NULL)
        return NULL;
    if (h->l == NULL)
        return ret_int(env, LEADER_ESTATE);
    rc = leader_stop(h->l);
    if (rc == 0) {
        h->running = 1; /* settling */
        kick(h);
    }
    return ret_int(env, rc);
}

static napi_value m_close(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);

    if (h == NULL)
        return NULL;
    close_handle(h);
    return ret_int(env, 0);
}

static napi_value m_has_lease(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    napi_value r;

    if (h == NULL)
        return NULL;
    CHECK(env,
          napi_get_boolean(env, h->l != NULL && leader_has_lease(h->l), &r));
    return r;
}

static napi_value m_term(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    napi_value r;

    if (h == NULL)
        return NULL;
    CHECK(env, napi_create_double(
                   env, h->l != NULL ? (double) leader_term(h->l) : 0, &r));
    return r;
}

/* The milliseconds left on the local lease, 0 when none. */
static napi_value m_lease_left(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    int64_t deadline, left = 0;
    napi_value r;

    if (h == NULL)
        return NULL;
    deadline = h->l != NULL ? leader_lease_deadline(h->l) : 0;
    if (deadline > 0) {
        left = deadline - leader_clock_ms();
        if (left < 0)
            left = 0;
    }
    CHECK(env, napi_create_int64(env, left, &r));
    return r;
}

static napi_value m_new_term(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    int rc;

    if (h == NULL || check_open(env, h))
        return NULL;
    rc = leader_new_term(h->l);
    if (rc == 0)
        kick(h);
    return ret_int(env, rc);
}

static napi_value m_set_healthy(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    struct nl_handle *h = unwrap(env, info, &argc, argv);
    bool b = true;
    napi_value v;
    int rc;

    if (h == NULL || check_open(env, h))
        return NULL;
    if (argc >= 1 && napi_coerce_to_bool(env, argv[0], &v) == napi_ok)
        napi_get_value_bool(env, v, &b);
    rc = leader_set_healthy(h->l, b ? 1 : 0);
    if (rc == 0)
        kick(h);
    return ret_int(env, rc);
}

/* ---- queries on the thread pool ---- */

static void query_execute(napi_env env, void *data)
{
    struct nl_query *qr = data;
    const char *detail;

    (void) env;
    if (qr->what == 0)
        qr->rc = leader_is_leader(qr->h->q);
    else
        qr->rc = leader_current(qr->h->q, &qr->info);
    if (qr->rc < 0) {
        detail = leader_errmsg(qr->h->q);
        snprintf(qr->detail, sizeof qr->detail, "%s%s%s",
                 leader_strerror(qr->rc), *detail != '\0' ? ": " : "", detail);
    }
}

static void query_complete(napi_env env, napi_status status, void *data)
{
    struct nl_query *qr = data;
    struct nl_handle *h = qr->h;
    napi_value v, f;

    if (status != napi_ok) {
        v = make_error(env, LEADER_ESTATE, "the query was cancelled");
        napi_reject_deferred(env, qr->deferred, v);
    } else if (qr->rc < 0) {
        v = make_error(env, qr->rc, qr->detail);
        napi_reject_deferred(env, qr->deferred, v);
    } else if (qr->what == 0) {
        napi_get_boolean(env, qr->rc == 1, &v);
        napi_resolve_deferred(env, qr->deferred, v);
    } else if (qr->rc == 0) {
        napi_get_null(env, &v);
        napi_resolve_deferred(env, qr->deferred, v);
    } else {
        napi_create_object(env, &v);
        napi_create_string_utf8(env, qr->info.id, NAPI_AUTO_LENGTH, &f);
        napi_set_named_property(env, v, "id", f);
        napi_create_double(env, (double) qr->info.term, &f);
        napi_set_named_property(env, v, "term", f);
        napi_create_int64(env, qr->info.lease_left_ms, &f);
        napi_set_named_property(env, v, "leaseLeft", f);
        napi_resolve_deferred(env, qr->deferred, v);
    }
    napi_delete_async_work(env, qr->work);
    free(qr);
    h->queries--;
    if (h->closed && h->queries == 0 && h->q != NULL) {
        leader_free(h->q);
        h->q = NULL;
    }
    if (h->closed)
        release_js(h);
    else
        pin_update(h);
    maybe_free(h);
}

/* isLeader() and current(): a promise, settled from the thread pool. */
static napi_value start_query(napi_env env, napi_callback_info info, int what)
{
    size_t argc = 0;
    struct nl_handle *h = unwrap(env, info, &argc, NULL);
    struct nl_query *qr;
    napi_value promise, name;
    char err[ERRLEN] = "";

    if (h == NULL || check_open(env, h))
        return NULL;
    if (h->q == NULL) {
        h->opts.event_loop = 0;
        h->opts.id = leader_id(h->l);
        h->q = leader_new(&h->opts, err, sizeof err);
        h->opts.id = NULL;
        if (h->q == NULL) {
            throw_code(env, LEADER_EINVAL, err);
            return NULL;
        }
    }
    qr = calloc(1, sizeof *qr);
    if (qr == NULL) {
        throw_code(env, LEADER_ENOMEM, "out of memory");
        return NULL;
    }
    qr->h = h;
    qr->what = what;
    if (napi_create_promise(env, &qr->deferred, &promise) != napi_ok ||
        napi_create_string_utf8(
            env, what ? "libleader.current" : "libleader.isLeader",
            NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_async_work(env, NULL, name, query_execute, query_complete,
                               qr, &qr->work) != napi_ok) {
        free(qr);
        throw_last(env);
        return NULL;
    }
    if (napi_queue_async_work(env, qr->work) != napi_ok) {
        napi_delete_async_work(env, qr->work);
        free(qr);
        throw_last(env);
        return NULL;
    }
    h->queries++;
    pin_update(h);
    return promise;
}

static napi_value m_is_leader(napi_env env, napi_callback_info info)
{
    return start_query(env, info, 0);
}

static napi_value m_current(napi_env env, napi_callback_info info)
{
    return start_query(env, info, 1);
}

/* ---- module functions ---- */

static napi_value f_strerror(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    int32_t code = 0;

    CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc >= 1)
        napi_get_value_int32(env, argv[0], &code);
    return ret_string(env, leader_strerror(code));
}

static napi_value f_version(napi_env env, napi_callback_info info)
{
    (void) info;
    return ret_string(env, leader_version());
}

static napi_value f_redact(napi_env env, napi_callback_info info)
{
    size_t argc = 1, len;
    napi_value argv[1];
    char url[1024], out[1100];

    CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_string_utf8(env, argv[0], url, sizeof url,
                                               &len) != napi_ok) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                              "redact(url): a string");
        return NULL;
    }
    leader_url_redact(url, out, sizeof out);
    return ret_string(env, out);
}

static napi_value init(napi_env env, napi_value exports)
{
    napi_property_descriptor methods[] = {
        {"id", NULL, m_id, NULL, NULL, NULL, napi_default, NULL},
        {"key", NULL, m_key, NULL, NULL, NULL, napi_default, NULL},
        {"elect", NULL, m_elect, NULL, NULL, NULL, napi_default, NULL},
        {"observe", NULL, m_observe, NULL, NULL, NULL, napi_default, NULL},
        {"stop", NULL, m_stop, NULL, NULL, NULL, napi_default, NULL},
        {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
        {"hasLease", NULL, m_has_lease, NULL, NULL, NULL, napi_default, NULL},
        {"term", NULL, m_term, NULL, NULL, NULL, napi_default, NULL},
        {"leaseLeft", NULL, m_lease_left, NULL, NULL, NULL, napi_default, NULL},
        {"newTerm", NULL, m_new_term, NULL, NULL, NULL, napi_default, NULL},
        {"setHealthy", NULL, m_set_healthy, NULL, NULL, NULL, napi_default,
         NULL},
        {"isLeader", NULL, m_is_leader, NULL, NULL, NULL, napi_default, NULL},
        {"current", NULL, m_current, NULL, NULL, NULL, napi_default, NULL},
    };
    napi_value cls, codes, v, fn;
    int i;

    CHECK(env,
          napi_define_class(env, "Handle", NAPI_AUTO_LENGTH, handle_new, NULL,
                            sizeof methods / sizeof methods[0], methods, &cls));
    CHECK(env, napi_set_named_property(env, exports, "Handle", cls));
    CHECK(env, napi_create_object(env, &codes));
    for (i = 1; i < N_ERRORS; i++) {
        CHECK(env, napi_create_int32(env, -i, &v));
        CHECK(env, napi_set_named_property(env, codes, error_names[i], v));
    }
    CHECK(env, napi_set_named_property(env, exports, "codes", codes));
    CHECK(env, napi_create_function(env, "strerror", NAPI_AUTO_LENGTH,
                                    f_strerror, NULL, &fn));
    CHECK(env, napi_set_named_property(env, exports, "strerror", fn));
    CHECK(env, napi_create_function(env, "version", NAPI_AUTO_LENGTH, f_version,
                                    NULL, &fn));
    CHECK(env, napi_set_named_property(env, exports, "version", fn));
    CHECK(env, napi_create_function(env, "redact", NAPI_AUTO_LENGTH, f_redact,
                                    NULL, &fn));
    CHECK(env, napi_set_named_property(env, exports, "redact", fn));
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
