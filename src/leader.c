/* leader.c - the public API: options, the handle's thread, event dispatch
 * and the blocking query connection.
 *
 * Each campaigning handle has one thread that runs the engine over poll()
 * plus a wake pipe. Other threads talk to it through requests under the
 * handle's lock; the thread answers stop requests through a condition
 * variable. Callbacks run on that thread with no lock held. The lease
 * deadline and term are published through atomics so leader_has_lease()
 * and leader_term() need no lock.
 */
#include "util/fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/lio_engine.h"
#include "leader.h"
#include "util/lu_clock.h"
#include "util/lu_ids.h"
#include "util/lu_signals.h"
#include "util/lu_socket.h"
#include "util/lu_url.h"

#define TTL_MAX  86400000L /* one day */
#define WAIT_MAX 86400000L

#define REQ_START   1u
#define REQ_STOP    2u
#define REQ_FREE    4u
#define REQ_OBSERVE 8u

struct leader {
    char *url_text;
    struct lu_url url;
    char *key;
    char id[LC_ID_MAX + 1];
    char holder_key[LIO_KEY_MAX];
    char key_hex[41];
    long ttl_ms, wait_ms;

    pthread_mutex_t lock; /* guards everything below up to the atomics */
    pthread_cond_t cond;
    leader_callback cb;
    void *userdata;
    int campaigning;      /* between elect (or observe) and stop */
    unsigned requests;    /* REQ_... for the thread */
    uint64_t stops_asked; /* stop requests made ... */
    uint64_t stops_done;  /* ... and finished by the thread */
    int thread_started;
    int free_deferred; /* leader_free() came from inside a callback */
    pthread_t thread;
    int wake[2];

    _Atomic int64_t lease_end; /* 0 when not leader */
    _Atomic uint64_t term;

    pthread_mutex_t query_lock; /* the blocking query connection */
    redisContext *query;

    struct lio_engine engine; /* the thread's alone */
    int closing; /* the thread's: freeing, only REVOKED is delivered now */
};

/* ---- options ---- */

void leader_options_init(leader_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->key = "default";
    opts->ttl_ms = 10000;
    opts->wait_ms = 1000;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
                                                      const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int check_id(const char *id, char *err, size_t errlen)
{
    size_t n = strlen(id);

    if (n == 0 || n > LC_ID_MAX)
        return fail(err, errlen, "id must be 1 to %d bytes", LC_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) id[i] <= ' ' || id[i] == 0x7f)
            return fail(err, errlen,
                        "id must not contain spaces or control characters");
    return 0;
}

static int check_options(const leader_options *o, char *err, size_t errlen)
{
    if (o == NULL)
        return fail(err, errlen, "options must not be NULL");
    if (o->key == NULL || *o->key == '\0')
        return fail(err, errlen, "key must be a non-empty string");
    if (o->ttl_ms < 10 || o->ttl_ms > TTL_MAX)
        return fail(err, errlen, "ttl_ms must be from 10 to %ld, not %ld",
                    TTL_MAX, o->ttl_ms);
    if (o->wait_ms < 0 || o->wait_ms > WAIT_MAX)
        return fail(err, errlen, "wait_ms must be from 0 to %ld, not %ld",
                    WAIT_MAX, o->wait_ms);
    if (o->id != NULL && check_id(o->id, err, errlen) != 0)
        return -1;
    return 0;
}

static const char *effective_url(const leader_options *o)
{
    const char *env;

    if (o->url != NULL)
        return o->url;
    env = getenv("LEADER_REDIS_URL");
    return env != NULL && *env ? env : "redis://127.0.0.1:6379";
}

/* ---- construction ---- */

static int init_sync(leader *l)
{
    if (pthread_mutex_init(&l->lock, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&l->query_lock, NULL) != 0) {
        pthread_mutex_destroy(&l->lock);
        return -1;
    }
    if (pthread_cond_init(&l->cond, NULL) != 0) {
        pthread_mutex_destroy(&l->query_lock);
        pthread_mutex_destroy(&l->lock);
        return -1;
    }
    if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->query_lock);
        pthread_mutex_destroy(&l->lock);
        return -1;
    }
    return 0;
}

static void destroy_sync(leader *l)
{
    close(l->wake[0]);
    close(l->wake[1]);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->query_lock);
    pthread_mutex_destroy(&l->lock);
}

static void free_strings(leader *l)
{
    free(l->url_text);
    free(l->key);
    free(l);
}

static void on_engine_event(void *owner, const struct lc_event *ev);

static int init_engine(leader *l, char *err, size_t errlen)
{
    struct lio_engine_config cfg = {&l->url,   l->id,      l->key_hex,
                                    l->ttl_ms, l->wait_ms, 0};

    if (lu_random(&cfg.seed, sizeof cfg.seed) != 0)
        return fail(err, errlen, "no randomness available");
    if (lio_engine_init(&l->engine, &cfg, on_engine_event, l) != 0)
        return fail(err, errlen, "cannot set up the election");
    return 0;
}

static int fill_identity(leader *l, const leader_options *opts, char *err,
                         size_t errlen)
{
    const char *url = effective_url(opts);
    int rc;

    rc = lu_url_parse(url, &l->url, err, errlen);
    if (rc != 0)
        return -1;
    l->url_text = strdup(url);
    l->key = strdup(opts->key);
    if (l->url_text == NULL || l->key == NULL)
        return fail(err, errlen, "out of memory");
    if (opts->id != NULL)
        snprintf(l->id, sizeof l->id, "%s", opts->id);
    else if (lu_uuid4(l->id) != 0)
        return fail(err, errlen, "no randomness available for an id");
    if (lu_sha1_hex(opts->key, strlen(opts->key), l->key_hex) != 0)
        return fail(err, errlen, "SHA-1 is unavailable");
    snprintf(l->holder_key, sizeof l->holder_key, "leader:%s", l->key_hex);
    l->ttl_ms = opts->ttl_ms;
    l->wait_ms = opts->wait_ms;
    return 0;
}

leader *leader_new(const leader_options *opts, char *err, size_t errlen)
{
    leader *l;

    if (err != NULL && errlen > 0)
        *err = '\0';
    if (check_options(opts, err, errlen) != 0)
        return NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    if (fill_identity(l, opts, err, errlen) != 0 ||
        init_engine(l, err, errlen) != 0) {
        free_strings(l);
        return NULL;
    }
    if (init_sync(l) != 0) {
        fail(err, errlen, "cannot create the handle's lock or pipe");
        lio_engine_free(&l->engine);
        free_strings(l);
        return NULL;
    }
    return l;
}

const char *leader_id(const leader *l)
{
    return l != NULL ? l->id : NULL;
}

const char *leader_key(const leader *l)
{
    return l != NULL ? l->holder_key : NULL;
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
    pthread_mutex_lock(&l->lock);
    l->cb = cb;
    l->userdata = userdata;
    pthread_mutex_unlock(&l->lock);
}

/* ---- lease state, published for lock-free readers ---- */

static void publish_lease(leader *l)
{
    const struct lc_core *c = &l->engine.core;
    int leading = c->state == LC_LEADER;

    atomic_store(&l->lease_end, leading ? c->lease_end : 0);
    atomic_store(&l->term, leading ? c->term : 0);
}

int leader_has_lease(const leader *l)
{
    int64_t end;

    if (l == NULL)
        return 0;
    end = atomic_load(&((leader *) l)->lease_end);
    return end != 0 && lu_now_ms_ceil() < end;
}

int64_t leader_lease_deadline(const leader *l)
{
    int64_t end;

    if (l == NULL)
        return 0;
    end = atomic_load(&((leader *) l)->lease_end);
    return end != 0 && lu_now_ms_ceil() < end ? end : 0;
}

int64_t leader_clock_ms(void)
{
    return lu_now_ms();
}

uint64_t leader_term(const leader *l)
{
    if (l == NULL || !leader_has_lease(l))
        return 0;
    return atomic_load(&((leader *) l)->term);
}

/* ---- the thread ---- */

static void on_engine_event(void *owner, const struct lc_event *ev)
{
    leader *l = owner;
    leader_event pub = {(leader_event_type) ev->kind, ev->term, ev->holder,
                        ev->error, ev->message};
    leader_callback cb;
    void *userdata;

    publish_lease(l);
    /* While freeing, REVOKED is the one event still due: the owner may
     * take it as the last call of the callback. */
    if (l->closing && ev->kind != LC_EV_REVOKED)
        return;
    pthread_mutex_lock(&l->lock);
    cb = l->cb;
    userdata = l->userdata;
    pthread_mutex_unlock(&l->lock);
    if (cb != NULL)
        cb(l, &pub, userdata);
}

static void wake_thread(leader *l)
{
    char b = 1;
    ssize_t n = write(l->wake[1], &b, 1);
    (void) n; /* a full pipe already wakes the thread */
}

static void drain_wake(leader *l)
{
    char buf[64];
    while (read(l->wake[0], buf, sizeof buf) > 0)
        ;
}

/* Takes the pending requests and feeds them to the engine. Returns the
 * requests taken. */
static unsigned take_requests(leader *l)
{
    unsigned req;
    lc_time now = lu_now_ms();

    pthread_mutex_lock(&l->lock);
    req = l->requests;
    l->requests = 0;
    pthread_mutex_unlock(&l->lock);
    l->closing |= (req & REQ_FREE) != 0;
    if (req & (REQ_STOP | REQ_FREE))
        lio_engine_input(&l->engine, LC_IN_STOP, now);
    if ((req & REQ_START) && !(req & REQ_FREE))
        lio_engine_input(&l->engine, LC_IN_START, now);
    if ((req & REQ_OBSERVE) && !(req & REQ_FREE))
        lio_engine_input(&l->engine, LC_IN_OBSERVE, now);
    return req;
}

static int poll_timeout(const leader *l, lc_time now)
{
    lc_time d = lio_engine_deadline(&l->engine);

    if (d == LC_NEVER)
        return -1;
    if (d <= now)
        return 0;
    return d - now > 60000 ? 60000 : (int) (d - now);
}

/* One turn of the loop: wait for I/O, a deadline or a request. */
static void run_once(leader *l)
{
    struct pollfd pfd[3];
    int n = lio_engine_pollfds(&l->engine, pfd + 1);

    pfd[0].fd = l->wake[0];
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (poll(pfd, (nfds_t) n + 1, poll_timeout(l, lu_now_ms())) < 0 &&
        errno != EINTR)
        return;
    if (pfd[0].revents)
        drain_wake(l);
    lio_engine_handle(&l->engine, pfd + 1, n, lu_now_ms());
    publish_lease(l);
}

/* A stop is over once no release is pending, even if a later elect has
 * the handle campaigning again. */
static int stop_settled(const struct lc_core *c)
{
    return c->state != LC_RELEASING && c->inflight != LC_CMD_RELEASE;
}

static void finish_stops(leader *l)
{
    pthread_mutex_lock(&l->lock);
    if (l->stops_done != l->stops_asked) {
        l->stops_done = l->stops_asked;
        pthread_cond_broadcast(&l->cond);
    }
    pthread_mutex_unlock(&l->lock);
}

static void free_handle(leader *l);

static void *thread_main(void *arg)
{
    leader *l = arg;
    int exiting = 0, deferred = 0;

    for (;;) {
        unsigned req = take_requests(l);
        exiting |= (req & REQ_FREE) != 0;
        if (stop_settled(&l->engine.core))
            finish_stops(l);
        if (exiting && !lc_busy(&l->engine.core))
            break;
        run_once(l);
    }
    finish_stops(l);
    lio_engine_free(&l->engine);
    publish_lease(l);
    pthread_mutex_lock(&l->lock);
    deferred = l->free_deferred;
    pthread_mutex_unlock(&l->lock);
    if (deferred) {
        pthread_detach(pthread_self());
        free_handle(l);
    }
    return NULL;
}

static int on_own_thread(const leader *l)
{
    return l->thread_started && pthread_equal(pthread_self(), l->thread);
}

/* The thread starts with every signal blocked: the application's signals
 * go to its own threads, and SIGPIPE from a write to a closed connection
 * becomes EPIPE (it stays pending on this thread, harmlessly). */
static int start_thread(leader *l)
{
    sigset_t old;
    int rc;

    lu_block_all_signals(&old);
    rc = pthread_create(&l->thread, NULL, thread_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Hands a START or OBSERVE request to the thread, starting it first. */
static int activate(leader *l, unsigned request)
{
    int rc = 0;

    if (l == NULL)
        return LEADER_EINVAL;
    pthread_mutex_lock(&l->lock);
    if (l->campaigning || (l->requests & REQ_FREE)) {
        rc = LEADER_ESTATE;
    } else if (!l->thread_started && start_thread(l) != 0) {
        rc = LEADER_ECONN;
    } else {
        l->thread_started = 1;
        l->campaigning = 1;
        l->requests |= request;
    }
    pthread_mutex_unlock(&l->lock);
    if (rc == 0)
        wake_thread(l);
    return rc;
}

int leader_elect(leader *l)
{
    return activate(l, REQ_START);
}

int leader_observe(leader *l)
{
    return activate(l, REQ_OBSERVE);
}

/* How long leader_stop() waits for the release to be confirmed. */
static long stop_wait_ms(const leader *l)
{
    long ms = l->ttl_ms / 3 + 100;
    return ms > 5000 ? 5000 : ms;
}

static void wait_stop_done(leader *l, uint64_t ticket)
{
    struct timespec ts;
    long ms = stop_wait_ms(l);

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (l->stops_done < ticket)
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
}

int leader_stop(leader *l)
{
    uint64_t ticket;
    int own;

    if (l == NULL)
        return LEADER_EINVAL;
    pthread_mutex_lock(&l->lock);
    if (!l->campaigning) {
        pthread_mutex_unlock(&l->lock);
        return LEADER_ESTATE;
    }
    l->campaigning = 0;
    l->requests |= REQ_STOP;
    l->requests &= ~(REQ_START | REQ_OBSERVE);
    ticket = ++l->stops_asked;
    own = on_own_thread(l);
    pthread_mutex_unlock(&l->lock);
    wake_thread(l);
    if (own)
        return 0; /* the thread carries it out after the callback */
    pthread_mutex_lock(&l->lock);
    wait_stop_done(l, ticket);
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void free_handle(leader *l)
{
    if (l->query != NULL)
        redisFree(l->query);
    destroy_sync(l);
    free_strings(l);
}

void leader_free(leader *l)
{
    int started, own;

    if (l == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->requests |= REQ_FREE;
    l->campaigning = 0;
    started = l->thread_started;
    own = on_own_thread(l);
    l->free_deferred = own;
    pthread_mutex_unlock(&l->lock);
    if (!started) {
        lio_engine_free(&l->engine);
        free_handle(l);
        return;
    }
    wake_thread(l);
    if (own)
        return; /* the thread frees the handle when the callback returns */
    pthread_join(l->thread, NULL);
    free_handle(l);
}

/* ---- the blocking query connection ---- */

static long query_timeout_ms(const leader *l)
{
    long ms = l->ttl_ms / 3;
    return ms < 100 ? 100 : ms > 2000 ? 2000 : ms;
}

static int reply_error(redisContext *c, redisReply *r)
{
    if (r == NULL)
        return lio_error_of_context(c->err);
    if (r->type == REDIS_REPLY_ERROR)
        return lc_classify_error(r->str, r->len);
    return 0;
}

static int run_setup(void *arg, int argc, const char **argv, const size_t *lens)
{
    redisContext *c = arg;
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    int rc = reply_error(c, r);

    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static int query_connect(leader *l)
{
    long ms = query_timeout_ms(l);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    redisOptions o;
    redisContext *c;
    int rc;

    memset(&o, 0, sizeof o);
    if (l->url.kind == LU_URL_UNIX) {
        REDIS_OPTIONS_SET_UNIX(&o, l->url.path);
    } else {
        REDIS_OPTIONS_SET_TCP(&o, l->url.host, l->url.port);
    }
    o.connect_timeout = &tv;
    o.command_timeout = &tv;
    c = redisConnectWithOptions(&o);
    if (c == NULL)
        return LEADER_ENOMEM;
    lio_limit_reader(c->reader);
    rc = c->err ? lio_error_of_context(c->err)
         : lu_is_self_connected(c->fd)
             ? LEADER_ECONN
             : lio_for_each_setup(&l->url, run_setup, c);
    if (rc != 0) {
        redisFree(c);
        return rc;
    }
    l->query = c;
    return 0;
}

/* GET of the holder key: 1 if it is our id, 0 if not, or an error. A
 * transport error leaves l->query NULL so the next call reconnects. */
static int query_holder(leader *l)
{
    const char *argv[2] = {"GET", l->holder_key};
    size_t lens[2] = {3, strlen(l->holder_key)};
    redisReply *r = redisCommandArgv(l->query, 2, argv, lens);
    int rc = reply_error(l->query, r);

    if (r == NULL) {
        redisFree(l->query);
        l->query = NULL;
        return rc;
    }
    if (rc == 0 && r->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (rc == 0 && r->type == REDIS_REPLY_STRING)
        rc = r->len == strlen(l->id) && memcmp(r->str, l->id, r->len) == 0;
    else if (rc == 0)
        rc = LEADER_EPROTO;
    freeReplyObject(r);
    return rc;
}

/* Runs fn on the query connection, connecting first if needed. */
static int run_query(leader *l, int (*fn)(leader *, void *), void *arg)
{
    struct lu_sigpipe sp;
    int rc, reused;

    pthread_mutex_lock(&l->query_lock);
    lu_sigpipe_block(&sp);
    reused = l->query != NULL;
    rc = reused ? 0 : query_connect(l);
    if (rc == 0)
        rc = fn(l, arg);
    if (rc < 0 && reused && l->query == NULL) {
        /* The kept connection had gone stale (a server restart): one
         * fresh try before reporting. */
        rc = query_connect(l);
        if (rc == 0)
            rc = fn(l, arg);
    }
    lu_sigpipe_restore(&sp);
    pthread_mutex_unlock(&l->query_lock);
    return rc;
}

static int holder_is_us(leader *l, void *arg)
{
    (void) arg;
    return query_holder(l);
}

int leader_is_leader(leader *l)
{
    if (l == NULL)
        return LEADER_EINVAL;
    return run_query(l, holder_is_us, NULL);
}

/* Reads holder, its pttl and the term in one script, so the three belong
 * to one instant. */
#define CURRENT_SCRIPT                                                         \
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]),"         \
    " redis.call('GET', KEYS[2])}"

static int decode_current(const redisReply *r, leader_info *info)
{
    const redisReply *id, *pttl, *term;
    char *end;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return LEADER_EPROTO;
    id = r->element[0];
    pttl = r->element[1];
    term = r->elements > 2 ? r->element[2] : NULL;
    if (pttl->type != REDIS_REPLY_INTEGER ||
        (id->type != REDIS_REPLY_STRING && id->type != REDIS_REPLY_NIL) ||
        (id->type == REDIS_REPLY_STRING && id->len >= sizeof info->id))
        return LEADER_EPROTO;
    if (term != NULL && term->type == REDIS_REPLY_STRING) {
        info->term = strtoull(term->str, &end, 10);
        if (*end != '\0')
            return LEADER_EPROTO;
    }
    if (id->type == REDIS_REPLY_NIL)
        return 0;
    memcpy(info->id, id->str, id->len);
    info->id[id->len] = '\0';
    info->lease_left_ms = pttl->integer;
    return 1;
}

static int read_current(leader *l, void *arg)
{
    const char *argv[5] = {"EVAL", CURRENT_SCRIPT, "2", l->holder_key,
                           l->engine.term_key};
    size_t lens[5];
    redisReply *r;
    int rc;

    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    r = redisCommandArgv(l->query, 5, argv, lens);
    rc = reply_error(l->query, r);
    if (r == NULL) {
        redisFree(l->query);
        l->query = NULL;
        return rc;
    }
    if (rc == 0)
        rc = decode_current(r, arg);
    freeReplyObject(r);
    return rc;
}

int leader_current(leader *l, leader_info *info)
{
    if (l == NULL || info == NULL)
        return LEADER_EINVAL;
    memset(info, 0, sizeof *info);
    info->lease_left_ms = -1;
    return run_query(l, read_current, info);
}
