/* SPDX-License-Identifier: BSD-3-Clause */
/* leader.c - the public API of a handle: options, construction, and the
 * calls that post requests to the loop (client.c) or query Redis
 * (query.c).
 *
 * A handle made by leader_new() has a client of its own; one made by
 * leader_client_add() shares its client's connection and loop.
 */
#include "util/fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/lio_tls.h"
#include "leader_int.h"
#include "util/lu_clock.h"
#include "util/lu_ids.h"
#include "util/lu_url.h"

#define TTL_MAX             86400000L /* one day */
#define WAIT_MAX            86400000L
#define CONNECT_TIMEOUT_MAX 60000L /* a minute */

/* ---- options ---- */

/* The first version's sizes: the smallest a caller's structure may be. */
#define OPTIONS_V1_SIZE (offsetof(leader_options, event_loop) + sizeof(int))
#define CLIENT_OPTIONS_V1_SIZE                                                 \
    (offsetof(leader_client_options, event_loop) + sizeof(int))
#define INFO_V1_SIZE (offsetof(leader_info, lease_left_ms) + sizeof(long long))

void leader_options_init_size(leader_options *opts, size_t size)
{
    leader_options d;

    if (opts == NULL || size < OPTIONS_V1_SIZE)
        return;
    memset(&d, 0, sizeof d);
    d.struct_size = size;
    d.key = "default";
    d.ttl_ms = 10000;
    d.wait_ms = 1000;
    /* The caller's structure may be smaller (older) or larger (newer):
     * only its own size is written, and newer fields are left zero. */
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
}

void leader_client_options_init_size(leader_client_options *opts, size_t size)
{
    if (opts == NULL || size < CLIENT_OPTIONS_V1_SIZE)
        return;
    memset(opts, 0, size);
    opts->struct_size = size;
}

/* Writes the reason for code rc to the caller's err, and returns rc. */
__attribute__((format(printf, 4, 5))) static int
fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Takes the caller's versioned structure (its struct_size first) into
 * ours, which holds the defaults: the fields it has replace them. Bytes
 * beyond the fields this library knows must be zero: a newer option that
 * is set cannot be honoured here, and is refused rather than ignored. */
static int adopt(void *ours, size_t our_size, const void *theirs,
                 size_t min_size, const char *what, char *err, size_t errlen)
{
    const unsigned char *t = theirs;
    size_t size = *(const size_t *) theirs;

    if (size < min_size || size > 65536)
        return fail(LEADER_EINVAL, err, errlen,
                    "%s was not filled in with %s_init() first (struct_size "
                    "%zu)",
                    what, what, size);
    for (size_t i = our_size; i < size; i++)
        if (t[i] != 0)
            return fail(LEADER_EINVAL, err, errlen,
                        "%s sets an option this libleader (%s) does not "
                        "know: it needs a newer one",
                        what, leader_version());
    memcpy(ours, theirs, size < our_size ? size : our_size);
    *(size_t *) ours = our_size;
    return 0;
}

static int check_id(const char *id, char *err, size_t errlen)
{
    size_t n = strlen(id);

    if (n == 0 || n > LC_ID_MAX)
        return fail(LEADER_EINVAL, err, errlen, "id must be 1 to %d bytes",
                    LC_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) id[i] <= ' ' || id[i] == 0x7f)
            return fail(LEADER_EINVAL, err, errlen,
                        "id must not contain spaces or control characters");
    return 0;
}

static int check_options(const leader_options *o, char *err, size_t errlen)
{
    if (o == NULL)
        return fail(LEADER_EINVAL, err, errlen, "options must not be NULL");
    if (o->key == NULL || *o->key == '\0')
        return fail(LEADER_EINVAL, err, errlen,
                    "key must be a non-empty string");
    if (o->ttl_ms < 10 || o->ttl_ms > TTL_MAX)
        return fail(LEADER_EINVAL, err, errlen,
                    "ttl_ms must be from 10 to %ld, not %ld", TTL_MAX,
                    o->ttl_ms);
    if (o->wait_ms < 0 || o->wait_ms > WAIT_MAX)
        return fail(LEADER_EINVAL, err, errlen,
                    "wait_ms must be from 0 to %ld, not %ld", WAIT_MAX,
                    o->wait_ms);
    if (o->connect_timeout_ms < 0 ||
        o->connect_timeout_ms > CONNECT_TIMEOUT_MAX)
        return fail(LEADER_EINVAL, err, errlen,
                    "connect_timeout_ms must be from 1 to %ld (0: the "
                    "default), not %ld",
                    CONNECT_TIMEOUT_MAX, o->connect_timeout_ms);
    if (o->command_timeout_ms < 0 || o->command_timeout_ms > o->ttl_ms / 3)
        return fail(LEADER_EINVAL, err, errlen,
                    "command_timeout_ms must be from 1 to ttl_ms/3 = %ld (0: "
                    "the default), not %ld",
                    o->ttl_ms / 3, o->command_timeout_ms);
    return o->id != NULL ? check_id(o->id, err, errlen) : 0;
}

static const char *effective_url(const leader_options *o)
{
    const char *env;

    if (o->url != NULL)
        return o->url;
    env = getenv("LEADER_REDIS_URL");
    return env != NULL && *env ? env : "redis://127.0.0.1:6379";
}

/* ---- TLS ---- */

/* The tls_ fields of leader_options or leader_client_options. */
#define TLS_OPTIONS_OF(t, o)                                                   \
    do {                                                                       \
        (t)->ca_cert = (o)->tls_ca_cert;                                       \
        (t)->ca_dir = (o)->tls_ca_dir;                                         \
        (t)->cert = (o)->tls_cert;                                             \
        (t)->key = (o)->tls_key;                                               \
        (t)->server_name = (o)->tls_server_name;                               \
        (t)->insecure = (o)->tls_insecure;                                     \
    } while (0)

static int tls_set(const struct lio_tls_options *t)
{
    return t->ca_cert != NULL || t->ca_dir != NULL || t->cert != NULL ||
           t->key != NULL || t->server_name != NULL || t->insecure;
}

/* Loads the TLS options of a rediss:// URL into url->tls_ctx (owned by
 * the client made next). A file that cannot be used fails here, at
 * construction, not as a loop of failed connections. 0, or a LEADER_E...
 * code with err. */
static int make_tls(struct lu_url *url, const struct lio_tls_options *t,
                    char *err, size_t errlen)
{
    int code = 0;

    url->tls_ctx = NULL;
    if (!url->tls) {
        if (tls_set(t))
            return fail(LEADER_EINVAL, err, errlen,
                        "the tls_ options need a rediss:// URL (never "
                        "ignored)");
        return 0;
    }
    url->tls_ctx = lio_tls_new(t, &code, err, errlen);
    if (url->tls_ctx != NULL)
        return 0;
    return code < 0 ? code : LEADER_ETLS;
}

/* A password given apart from the URL replaces the URL's. */
static int take_password(struct lu_url *url, const char *password, char *err,
                         size_t errlen)
{
    size_t n;

    if (password == NULL) {
        if (url->has_user && !url->has_password)
            return fail(LEADER_EINVAL, err, errlen,
                        "the URL names user %s but no password: give it in "
                        "the URL or in the password option",
                        url->user);
        return 0;
    }
    n = strlen(password);
    if (n == 0 || n >= sizeof url->password)
        return fail(LEADER_EINVAL, err, errlen,
                    "password must be 1 to %zu bytes",
                    sizeof url->password - 1);
    memcpy(url->password, password, n + 1);
    url->has_password = 1;
    return 0;
}

static leader_client *create_client(struct lu_url *url,
                                    const struct lio_tls_options *t,
                                    const char *password, int event_loop,
                                    char *err, size_t errlen)
{
    leader_client *c;

    if (take_password(url, password, err, errlen) != 0 ||
        make_tls(url, t, err, errlen) != 0)
        return NULL;
    c = lp_client_create(url, event_loop, err, errlen);
    if (c == NULL)
        lio_tls_free(url->tls_ctx);
    return c;
}

/* ---- construction ---- */

static int fill_identity(leader *l, const leader_options *opts, char *key_hex,
                         char *err, size_t errlen)
{
    char uuid[37];

    if (opts->id == NULL && lu_uuid4(uuid) != 0)
        return fail(LEADER_ENOTSUP, err, errlen,
                    "no randomness available for an id");
    l->key = strdup(opts->key);
    l->id = strdup(opts->id != NULL ? opts->id : uuid);
    if (l->key == NULL || l->id == NULL)
        return fail(LEADER_ENOMEM, err, errlen, "out of memory");
    if (lu_sha1_hex(opts->key, strlen(opts->key), key_hex) != 0)
        return fail(LEADER_ENOTSUP, err, errlen, "SHA-1 is unavailable");
    l->ttl_ms = opts->ttl_ms;
    l->wait_ms = opts->wait_ms;
    l->connect_timeout_ms = opts->connect_timeout_ms;
    l->command_timeout_ms = opts->command_timeout_ms;
    return 0;
}

/* A handle on client c (attached to it), or NULL with err. */
static leader *make_handle(leader_client *c, const leader_options *opts,
                           char *err, size_t errlen)
{
    leader *l = calloc(1, sizeof *l);
    char key_hex[41];
    uint64_t seed;
    int rc;

    if (l == NULL) {
        fail(LEADER_ENOMEM, err, errlen, "out of memory");
        return NULL;
    }
    l->client = c;
    lp_stats_init(&l->stats);
    rc = fill_identity(l, opts, key_hex, err, errlen);
    if (rc == 0 && lu_random(&seed, sizeof seed) != 0)
        rc = fail(LEADER_ENOTSUP, err, errlen, "no randomness available");
    if (rc == 0) {
        rc = lp_client_attach(c, l, key_hex, seed);
        if (rc != 0)
            fail(rc, err, errlen, "cannot add the election: %s",
                 leader_strerror(rc));
    }
    if (rc != 0) {
        free(l->key);
        free(l->id);
        free(l);
        return NULL;
    }
    return l;
}

/* The caller's options, with defaults for what its version lacks, in o.
 * 0, or a LEADER_E... code with err. */
static int take_options(const leader_options *opts, leader_options *o,
                        char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        *err = '\0';
    if (opts == NULL)
        return fail(LEADER_EINVAL, err, errlen, "options must not be NULL");
    leader_options_init(o);
    return adopt(o, sizeof *o, opts, OPTIONS_V1_SIZE, "leader_options", err,
                 errlen);
}

leader *leader_new(const leader_options *caller, char *err, size_t errlen)
{
    const leader_options *opts;
    leader_options o;
    struct lio_tls_options t;
    struct lu_url url;
    leader_client *c;
    leader *l;

    if (take_options(caller, &o, err, errlen) != 0)
        return NULL;
    opts = &o;
    TLS_OPTIONS_OF(&t, opts);
    if (check_options(opts, err, errlen) != 0 ||
        lu_url_parse(effective_url(opts), &url, err, errlen) != 0)
        return NULL;
    c = create_client(&url, &t, opts->password, opts->event_loop != 0, err,
                      errlen);
    if (c == NULL)
        return NULL;
    l = make_handle(c, opts, err, errlen);
    if (l == NULL) {
        lp_client_destroy(c);
        return NULL;
    }
    l->owns_client = 1;
    return l;
}

leader_client *leader_client_new(const leader_client_options *caller, char *err,
                                 size_t errlen)
{
    const leader_client_options *opts;
    leader_client_options co;
    leader_options o;
    struct lio_tls_options t;
    struct lu_url url;

    if (err != NULL && errlen > 0)
        *err = '\0';
    if (caller == NULL) {
        fail(LEADER_EINVAL, err, errlen, "options must not be NULL");
        return NULL;
    }
    leader_client_options_init(&co);
    if (adopt(&co, sizeof co, caller, CLIENT_OPTIONS_V1_SIZE,
              "leader_client_options", err, errlen) != 0)
        return NULL;
    opts = &co;
    leader_options_init(&o);
    o.url = opts->url;
    if (lu_url_parse(effective_url(&o), &url, err, errlen) != 0)
        return NULL;
    TLS_OPTIONS_OF(&t, opts);
    return create_client(&url, &t, opts->password, opts->event_loop != 0, err,
                         errlen);
}

leader *leader_client_add(leader_client *c, const leader_options *caller,
                          char *err, size_t errlen)
{
    const leader_options *opts;
    leader_options o;
    struct lio_tls_options t;

    if (take_options(caller, &o, err, errlen) != 0)
        return NULL;
    opts = &o;
    if (c == NULL) {
        fail(LEADER_EINVAL, err, errlen, "client must not be NULL");
        return NULL;
    }
    if (check_options(opts, err, errlen) != 0)
        return NULL;
    if (opts->url != NULL || opts->event_loop) {
        fail(LEADER_EINVAL, err, errlen,
             "url and event_loop are the client's: leave them "
             "NULL and 0");
        return NULL;
    }
    TLS_OPTIONS_OF(&t, opts);
    if (tls_set(&t) || opts->password != NULL) {
        fail(LEADER_EINVAL, err, errlen,
             "the tls_ options and the password are the client's: leave "
             "them NULL and 0");
        return NULL;
    }
    return make_handle(c, opts, err, errlen);
}

void leader_client_free(leader_client *c)
{
    if (c != NULL)
        lp_client_destroy(c);
}

/* ---- getters ---- */

const char *leader_id(const leader *l)
{
    return l != NULL ? l->id : NULL;
}

const char *leader_key(const leader *l)
{
    return l != NULL ? l->names.holder_key : NULL;
}

const char *leader_version(void)
{
#define LEADER_STR2(x) #x
#define LEADER_STR(x)  LEADER_STR2(x)
    return LEADER_STR(LEADER_VERSION_MAJOR) "." LEADER_STR(
        LEADER_VERSION_MINOR) "." LEADER_STR(LEADER_VERSION_PATCH);
}

void leader_on(leader *l, leader_callback cb, void *userdata)
{
    if (l == NULL)
        return;
    lp_lock(l->client);
    l->cb = cb;
    l->userdata = userdata;
    lp_unlock(l->client);
}

/* ---- the lease, lock-free ---- */

int64_t leader_lease_deadline(const leader *l)
{
    int64_t end;

    if (l == NULL)
        return 0;
    end = LP_LEASE_END(atomic_load(&((leader *) l)->lease));
    return end != 0 && lu_now_ms_ceil() < end ? end : 0;
}

int leader_has_lease(const leader *l)
{
    return leader_lease_deadline(l) != 0;
}

uint64_t leader_term(const leader *l)
{
    if (l == NULL || !leader_has_lease(l))
        return 0;
    return atomic_load(&((leader *) l)->term);
}

int64_t leader_clock_ms(void)
{
    return lu_now_ms();
}

/* ---- campaigning ---- */

int leader_elect(leader *l)
{
    return l != NULL ? lp_request(l, REQ_START) : LEADER_EINVAL;
}

int leader_observe(leader *l)
{
    return l != NULL ? lp_request(l, REQ_OBSERVE) : LEADER_EINVAL;
}

int leader_stop(leader *l)
{
    int rc;

    if (l == NULL)
        return LEADER_EINVAL;
    rc = lp_request(l, REQ_STOP);
    if (rc == 0)
        lp_wait_stop(l);
    return rc;
}

int leader_new_term(leader *l)
{
    return l != NULL ? lp_request(l, REQ_TERM) : LEADER_EINVAL;
}

int leader_set_healthy(leader *l, int healthy)
{
    return l != NULL ? lp_set_health(l, healthy != 0) : LEADER_EINVAL;
}

void leader_free(leader *l)
{
    if (l == NULL)
        return;
    if (lp_request(l, REQ_FREE) == 0)
        lp_release(l);
}

/* The queries block on a round trip; from a callback that would hold up
 * the loop running it, and with it every lease deadline of that loop. */

int leader_is_leader(leader *l)
{
    if (l == NULL)
        return LEADER_EINVAL;
    return lp_in_callback(NULL) ? LEADER_ESTATE : lp_is_leader(l);
}

int leader_current_size(leader *l, leader_info *info, size_t size)
{
    leader_info full;
    int rc;

    if (l == NULL || info == NULL || size < INFO_V1_SIZE)
        return LEADER_EINVAL;
    if (lp_in_callback(NULL))
        return LEADER_ESTATE;
    rc = lp_current(l, &full);
    /* Never a byte beyond the caller's structure. */
    full.struct_size = size < sizeof full ? size : sizeof full;
    memcpy(info, &full, full.struct_size);
    return rc;
}

int leader_release_term(leader *l, uint64_t term)
{
    enum lp_phase phase;

    if (l == NULL || term == 0)
        return LEADER_EINVAL;
    if (lp_in_callback(NULL))
        return LEADER_ESTATE;
    phase = lp_phase_of(l);
    if (phase == LP_ACTIVE || phase >= LP_FREEING)
        return LEADER_ESTATE; /* its own leadership ends with leader_stop */
    return lp_release_term(l, term);
}

const char *leader_errmsg(const leader *l)
{
    return l != NULL ? l->client->query_err : "";
}

void leader_url_redact(const char *url, char *out, size_t len)
{
    leader_options o;

    if (out == NULL || len == 0)
        return;
    leader_options_init(&o);
    o.url = url;
    lu_url_redact(effective_url(&o), out, len);
}

/* ---- the event-loop API of a handle: its client's ---- */

int leader_fd(const leader *l)
{
    return l != NULL ? leader_client_fd(l->client) : -1;
}

int leader_timeout_ms(leader *l)
{
    return l != NULL ? leader_client_timeout_ms(l->client) : -1;
}

int leader_process(leader *l)
{
    return l != NULL ? leader_client_process(l->client) : LEADER_EINVAL;
}
