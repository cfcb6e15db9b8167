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

/* ---- servers: one URL, or a quorum of them ---- */

#define DEFAULT_URL "redis://127.0.0.1:6379"
#define URL_SPACE   " \t\n" /* between the URLs of $LEADER_REDIS_URL */

/* The servers of a client, parsed; large (a few kB a URL): on the heap. */
struct servers {
    struct lu_url url[LIO_QUORUM_MAX];
    size_t n;
};

/* What url names when the caller leaves it NULL: $LEADER_REDIS_URL (one
 * URL, or several separated by spaces), else the default. */
static const char *url_text(const char *url)
{
    const char *env;

    if (url != NULL)
        return url;
    env = getenv("LEADER_REDIS_URL");
    if (env == NULL || env[strspn(env, URL_SPACE)] == '\0')
        return DEFAULT_URL;
    return env;
}

/* A count of servers must be 1 or an odd number a majority of which
 * survives the loss of one: 3 to LIO_QUORUM_MAX. where names the source
 * in the message ("" for urls). */
static int check_count(size_t n, const char *where, char *err, size_t errlen)
{
    if (n == 1 || (n % 2 == 1 && n >= 3 && n <= LIO_QUORUM_MAX))
        return 0;
    if (n == 0)
        return fail(LEADER_EINVAL, err, errlen,
                    "urls holds no URL: give one, or an odd number of "
                    "servers, 3 to %d, for quorum mode",
                    LIO_QUORUM_MAX);
    return fail(LEADER_EINVAL, err, errlen,
                "%squorum mode needs an odd number of servers, 3 to %d: got "
                "%zu",
                where, LIO_QUORUM_MAX, n);
}

/* Parses URL i of n into s; with several, a failure names which. */
static int parse_server(const char *text, size_t i, size_t n, struct servers *s,
                        char *err, size_t errlen)
{
    struct lu_url *u = &s->url[i];
    char why[256];
    int rc;

    if (n == 1)
        return lu_url_parse(text, u, err, errlen);
    rc = lu_url_parse(text, u, why, sizeof why);
    if (rc != 0)
        return fail(rc, err, errlen, "URL %zu of %zu: %s", i + 1, n, why);
    if (u->sentinel)
        return fail(LEADER_EINVAL, err, errlen,
                    "URL %zu of %zu is a Sentinel URL: quorum mode over "
                    "sentinels is not supported (give each server's "
                    "redis://, rediss:// or unix:// URL)",
                    i + 1, n);
    return 0;
}

/* The URLs of $LEADER_REDIS_URL (or the default), split at spaces. */
static int parse_env_servers(const char *text, struct servers *s, char *err,
                             size_t errlen)
{
    const char *word[LIO_QUORUM_MAX];
    char *copy, *tok, *save = NULL;
    size_t n = 0;
    int rc;

    if (strpbrk(text, URL_SPACE) == NULL) {
        s->n = 1;
        return parse_server(text, 0, 1, s, err, errlen);
    }
    copy = strdup(text);
    if (copy == NULL)
        return fail(LEADER_ENOMEM, err, errlen, "out of memory");
    for (tok = strtok_r(copy, URL_SPACE, &save); tok != NULL;
         tok = strtok_r(NULL, URL_SPACE, &save)) {
        if (n < LIO_QUORUM_MAX)
            word[n] = tok;
        n++;
    }
    rc = check_count(n, "LEADER_REDIS_URL: ", err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = parse_server(word[i], i, n, s, err, errlen);
    s->n = n;
    free(copy);
    return rc;
}

/* Takes the servers of url or urls (never both) into s. 0, or a
 * LEADER_E... code with err. */
static int take_servers(const char *url, const char *const *urls,
                        struct servers *s, char *err, size_t errlen)
{
    size_t n = 0;
    int rc;

    if (url != NULL && urls != NULL)
        return fail(LEADER_EINVAL, err, errlen,
                    "url and urls are exclusive: set one of them (urls for "
                    "several servers)");
    if (urls == NULL)
        return parse_env_servers(url_text(url), s, err, errlen);
    while (urls[n] != NULL)
        n++;
    rc = check_count(n, "", err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = parse_server(urls[i], i, n, s, err, errlen);
    s->n = n;
    return rc;
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

static void free_tls(struct servers *s)
{
    for (size_t i = 0; i < s->n; i++) {
        lio_tls_free(s->url[i].tls_ctx);
        s->url[i].tls_ctx = NULL;
    }
}

/* Loads the TLS options into the tls_ctx of each rediss:// URL (owned by
 * the client made next). A file that cannot be used fails here, at
 * construction, not as a loop of failed connections. 0, or a LEADER_E...
 * code with err. */
static int make_tls(struct servers *s, const struct lio_tls_options *t,
                    char *err, size_t errlen)
{
    int code = 0, any = 0;

    for (size_t i = 0; i < s->n; i++) {
        s->url[i].tls_ctx = NULL;
        any |= s->url[i].tls;
    }
    if (!any) {
        if (tls_set(t))
            return fail(LEADER_EINVAL, err, errlen,
                        "the tls_ options need a rediss:// URL (never "
                        "ignored)");
        return 0;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->url[i].tls)
            continue;
        s->url[i].tls_ctx = lio_tls_new(t, &code, err, errlen);
        if (s->url[i].tls_ctx == NULL) {
            free_tls(s);
            return code < 0 ? code : LEADER_ETLS;
        }
    }
    return 0;
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

static leader_client *create_client(struct servers *s,
                                    const struct lio_tls_options *t,
                                    const char *password, int event_loop,
                                    char *err, size_t errlen)
{
    leader_client *c;

    for (size_t i = 0; i < s->n; i++)
        if (take_password(&s->url[i], password, err, errlen) != 0)
            return NULL;
    if (make_tls(s, t, err, errlen) != 0)
        return NULL;
    c = lp_client_create(s->url, s->n, event_loop, err, errlen);
    if (c == NULL)
        free_tls(s);
    return c;
}

/* The client of the caller's connection options, NULL with err. */
static leader_client *client_of(const char *url, const char *const *urls,
                                const struct lio_tls_options *t,
                                const char *password, int event_loop, char *err,
                                size_t errlen)
{
    struct servers *s = calloc(1, sizeof *s);
    leader_client *c = NULL;

    if (s == NULL) {
        fail(LEADER_ENOMEM, err, errlen, "out of memory");
        return NULL;
    }
    if (take_servers(url, urls, s, err, errlen) == 0)
        c = create_client(s, t, password, event_loop, err, errlen);
    free(s);
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
    leader_client *c;
    leader *l;

    if (take_options(caller, &o, err, errlen) != 0)
        return NULL;
    opts = &o;
    TLS_OPTIONS_OF(&t, opts);
    if (check_options(opts, err, errlen) != 0)
        return NULL;
    c = client_of(opts->url, opts->urls, &t, opts->password,
                  opts->event_loop != 0, err, errlen);
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
    struct lio_tls_options t;

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
    TLS_OPTIONS_OF(&t, opts);
    return client_of(opts->url, opts->urls, &t, opts->password,
                     opts->event_loop != 0, err, errlen);
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
    if (opts->urls != NULL) {
        fail(LEADER_EINVAL, err, errlen, "urls is the client's: leave it NULL");
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
    if (l == NULL)
        return "";
    return l->client->nurls > 1 ? l->client->quorum_err : l->client->query_err;
}

void leader_url_redact(const char *url, char *out, size_t len)
{
    const char *text, *p;
    size_t used = 0;

    if (out == NULL || len == 0)
        return;
    text = url_text(url);
    if (strpbrk(text, URL_SPACE) == NULL) {
        lu_url_redact(text, out, len);
        return;
    }
    /* Each URL on its own: one redaction over the whole list would hide
     * the first password only. */
    *out = '\0';
    for (p = text + strspn(text, URL_SPACE); *p != '\0' && used + 1 < len;
         p += strspn(p, URL_SPACE)) {
        size_t n = strcspn(p, URL_SPACE);
        char *one = strndup(p, n);

        if (one == NULL)
            break;
        if (used > 0)
            out[used++] = ' ';
        out[used] = '\0';
        lu_url_redact(one, out + used, len - used);
        used += strlen(out + used);
        free(one);
        p += n;
    }
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
