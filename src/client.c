/* client.c - the loop behind the public API: requests from any thread, the
 * loop turn, event dispatch, and the thread that runs the loop when the
 * caller does not.
 *
 * A client (one Redis connection shared by its handles) is driven either
 * by a thread of its own, started with the first request, or by the caller
 * through leader_process(). Both run the same turn: take the handles'
 * requests, let the I/O layer process what is ready, release the handles
 * being freed. Callbacks run inside that turn, with no library lock held
 * but io_lock, which only other threads wanting the loop's state take.
 */
#include "util/fmacros.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader_int.h"
#include "util/lu_clock.h"
#include "util/lu_ids.h"
#include "util/lu_signals.h"

/* ---- lease state, published for lock-free readers ---- */

static void publish_lease(leader *l)
{
    const struct lc_core *c = &l->election->core;
    int leading = c->state == LC_LEADER && !atomic_load(&l->stopped);

    atomic_store(&l->lease_end, leading ? c->lease_end : 0);
    atomic_store(&l->term, leading ? c->term : 0);
}

/* ---- events ---- */

/* A stop is over once no release is pending, even if a later elect has
 * the handle campaigning again. */
static int stop_settled(const struct lc_core *c)
{
    return c->state != LC_RELEASING && c->inflight != LC_CMD_RELEASE;
}

static void settle_stops(leader *l)
{
    leader_client *c = l->client;

    pthread_mutex_lock(&c->lock);
    if (l->stops_done != l->stops_taken) {
        l->stops_done = l->stops_taken;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

static void dispatch(leader *l, const struct lc_event *ev)
{
    leader_event pub = {(leader_event_type) ev->kind, ev->term, ev->holder,
                        ev->error, ev->message};
    leader_callback cb;
    void *userdata;

    /* While freeing, REVOKED is the one event still due: the owner may
     * take it as the last call of the callback. */
    if (l->closing && ev->kind != LC_EV_REVOKED)
        return;
    pthread_mutex_lock(&l->client->lock);
    cb = l->cb;
    userdata = l->userdata;
    pthread_mutex_unlock(&l->client->lock);
    if (cb != NULL)
        cb(l, &pub, userdata);
}

/* The I/O layer's call after every step of l's core (ev NULL) and for
 * every event. */
static void on_election(void *owner, const struct lc_event *ev)
{
    leader *l = owner;

    publish_lease(l);
    if (ev != NULL)
        dispatch(l, ev);
    else if (stop_settled(&l->election->core))
        settle_stops(l);
}

/* ---- requests ---- */

static void take_requests(leader_client *c, lc_time now)
{
    leader *list, *l;

    pthread_mutex_lock(&c->lock);
    list = c->pending;
    c->pending = NULL;
    for (l = list; l != NULL; l = l->next_pending)
        l->queued = 0;
    pthread_mutex_unlock(&c->lock);
    while ((l = list) != NULL) {
        unsigned req;
        pthread_mutex_lock(&c->lock);
        list = l->next_pending;
        req = l->requests;
        l->requests = 0;
        l->stops_taken = l->stops_asked;
        pthread_mutex_unlock(&c->lock);
        if ((req & REQ_FREE) && !l->closing) {
            l->closing = 1;
            l->next_closing = c->closing;
            c->closing = l;
        }
        if (req & (REQ_STOP | REQ_FREE))
            lio_client_input(&c->io, l->election, LC_IN_STOP, now);
        if ((req & REQ_START) && !l->closing)
            lio_client_input(&c->io, l->election, LC_IN_START, now);
        if ((req & REQ_OBSERVE) && !l->closing)
            lio_client_input(&c->io, l->election, LC_IN_OBSERVE, now);
        if ((req & REQ_TERM) && !l->closing)
            lio_client_input(&c->io, l->election, LC_IN_NEW_TERM, now);
    }
}

static void free_handle_memory(leader *l)
{
    free(l->key);
    free(l->id);
    free(l);
}

/* Detaches the handles being freed whose election has stopped (all of
 * them with force: the keys of those still releasing expire by
 * themselves). */
static void reap_closing(leader_client *c, int force)
{
    leader **p = &c->closing;

    while (*p != NULL) {
        leader *l = *p;
        int deferred;
        if (!force && lc_busy(&l->election->core)) {
            p = &l->next_closing;
            continue;
        }
        *p = l->next_closing;
        lio_client_remove(&c->io, l->election);
        l->election = NULL;
        pthread_mutex_lock(&c->lock);
        l->released = 1;
        c->handles--;
        deferred = l->free_deferred;
        if (deferred && l->owns_client)
            c->free_deferred = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        if (deferred)
            free_handle_memory(l);
    }
}

/* One turn of the loop, with io_lock held. */
static void loop_turn(leader_client *c)
{
    lc_time now = lu_now_ms();

    c->dispatching = 1;
    take_requests(c, now);
    lio_client_process(&c->io, now);
    reap_closing(c, 0);
    c->dispatching = 0;
}

static int has_requests(leader_client *c)
{
    int pending;

    pthread_mutex_lock(&c->lock);
    pending = c->pending != NULL;
    pthread_mutex_unlock(&c->lock);
    return pending;
}

/* Milliseconds until the loop must turn again: -1 none, 0 now. */
static int loop_timeout(leader_client *c)
{
    lc_time d = lio_client_deadline(&c->io), now = lu_now_ms();

    if (has_requests(c) || d <= now)
        return 0;
    if (d == LC_NEVER)
        return -1;
    return d - now > 60000 ? 60000 : (int) (d - now);
}

/* ---- the thread ---- */

static void *client_thread(void *arg)
{
    leader_client *c = arg;
    struct pollfd pfd = {.fd = lio_client_fd(&c->io), .events = POLLIN};
    int exiting, deferred, timeout;

    for (;;) {
        pthread_mutex_lock(&c->io_lock);
        loop_turn(c);
        timeout = loop_timeout(c);
        pthread_mutex_unlock(&c->io_lock);
        pthread_mutex_lock(&c->lock);
        exiting = c->exiting || c->free_deferred;
        deferred = c->free_deferred;
        pthread_mutex_unlock(&c->lock);
        if (exiting)
            break;
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
            break; /* cannot happen with a valid descriptor */
    }
    if (deferred) {
        pthread_detach(pthread_self());
        c->thread_started = 0;
        lp_client_destroy(c);
    }
    return NULL;
}

/* The thread starts with every signal blocked: the application's signals
 * go to its own threads, and SIGPIPE from a write to a closed connection
 * becomes EPIPE (it stays pending on this thread, harmlessly). */
static int start_thread(leader_client *c)
{
    sigset_t old;
    int rc;

    lu_block_all_signals(&old);
    rc = pthread_create(&c->thread, NULL, client_thread, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* 1 when called from the code that runs the loop: the client's thread, or
 * (event loop) the caller, who must not call from elsewhere. */
static int on_loop(const leader_client *c)
{
    if (c->event_loop)
        return 1;
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

/* How long a stop waits for the release to be confirmed. */
static long lp_stop_wait_ms(const leader *l)
{
    long ms = l->ttl_ms / 3 + 100;
    return ms > 5000 ? 5000 : ms;
}

/* ---- the internal interface ---- */

leader_client *lp_client_create(const struct lu_url *url, int event_loop,
                                char *err, size_t errlen)
{
    leader_client *c = calloc(1, sizeof *c);
    uint64_t seed = 0;

    if (c == NULL || lu_random(&seed, sizeof seed) != 0 ||
        lio_client_init(&c->io, url, seed) != 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "cannot set up the connection (memory, "
                     "randomness, epoll or eventfd)");
        free(c);
        return NULL;
    }
    c->url = *url;
    c->event_loop = event_loop;
    c->query_timeout_ms = 2000;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->io_lock, NULL);
    pthread_mutex_init(&c->query_lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

void lp_client_destroy(leader_client *c)
{
    int started;

    pthread_mutex_lock(&c->lock);
    c->exiting = 1;
    started = c->thread_started;
    pthread_mutex_unlock(&c->lock);
    if (started && !on_loop(c)) {
        lio_client_wake(&c->io);
        pthread_join(c->thread, NULL);
    } else if (started) {
        /* From a callback on its own thread: the thread frees it. */
        pthread_mutex_lock(&c->lock);
        c->free_deferred = 1;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    lio_client_free(&c->io);
    lp_query_close(c);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->query_lock);
    pthread_mutex_destroy(&c->io_lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int lp_client_attach(leader_client *c, leader *l, const char *key_hex,
                     uint64_t seed)
{
    struct lio_election_config cfg = {l->id, &l->names, l->ttl_ms, l->wait_ms,
                                      seed};
    int rc, own = on_loop(c);

    lio_names_make(&l->names, key_hex);
    if (!own)
        pthread_mutex_lock(&c->io_lock);
    l->election = lio_client_add(&c->io, &cfg, on_election, l, &rc);
    if (!own)
        pthread_mutex_unlock(&c->io_lock);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    c->handles++;
    if (l->ttl_ms / 3 < c->query_timeout_ms)
        c->query_timeout_ms = l->ttl_ms / 3 < 100 ? 100 : l->ttl_ms / 3;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int refuse(const leader *l, unsigned request)
{
    if (l->requests & REQ_FREE)
        return LEADER_ESTATE;
    if (request & (REQ_START | REQ_OBSERVE))
        return l->active ? LEADER_ESTATE : 0;
    if (request & REQ_STOP)
        return l->active ? 0 : LEADER_ESTATE;
    if (request & REQ_TERM)
        return l->active && leader_has_lease(l) ? 0 : LEADER_ESTATE;
    return 0;
}

int lp_request(leader *l, unsigned request)
{
    leader_client *c = l->client;
    int rc;

    pthread_mutex_lock(&c->lock);
    rc = refuse(l, request);
    if (rc == 0 && !c->event_loop && !c->thread_started) {
        if (start_thread(c) != 0)
            rc = LEADER_ECONN;
        else
            c->thread_started = 1;
    }
    if (rc == 0) {
        if (request & (REQ_START | REQ_OBSERVE)) {
            /* A stop still pending is carried out first. */
            atomic_store(&l->stopped, 0);
            l->active = 1;
        } else if (request & (REQ_STOP | REQ_FREE)) {
            /* It supersedes what it follows, a new term included. */
            atomic_store(&l->stopped, 1);
            atomic_store(&l->lease_end, 0);
            l->requests &= ~(REQ_START | REQ_OBSERVE | REQ_TERM);
            l->stops_asked++;
            l->active = 0;
        }
        l->requests |= request;
        if (!l->queued) {
            l->queued = 1;
            l->next_pending = c->pending;
            c->pending = l;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        lio_client_wake(&c->io);
    return rc;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void lp_wait_stop(leader *l)
{
    leader_client *c = l->client;
    struct timespec ts;
    uint64_t ticket;

    if (on_loop(c))
        return; /* the loop carries it out after the callback */
    deadline_in(&ts, lp_stop_wait_ms(l));
    pthread_mutex_lock(&c->lock);
    ticket = l->stops_asked;
    while (l->stops_done < ticket)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->lock);
}

/* Event loop: turns the loop here until l is released, bounded. */
static void run_until_released(leader *l)
{
    leader_client *c = l->client;
    struct pollfd pfd = {.fd = lio_client_fd(&c->io), .events = POLLIN};
    lc_time end = lu_now_ms() + lp_stop_wait_ms(l) + 100;

    while (!l->released && lu_now_ms() < end) {
        int timeout;
        loop_turn(c);
        if (l->released)
            break;
        timeout = loop_timeout(c);
        if (timeout < 0 || timeout > end - lu_now_ms())
            timeout = (int) (end - lu_now_ms());
        poll(&pfd, 1, timeout > 0 ? timeout : 0);
    }
    if (!l->released)
        reap_closing(c, 1); /* no answer in time */
}

void lp_release(leader *l)
{
    leader_client *c = l->client;
    int own = on_loop(c);

    if (own && c->dispatching) {
        /* From the handle's own callback: done after it returns. */
        pthread_mutex_lock(&c->lock);
        l->free_deferred = 1;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (c->event_loop) {
        run_until_released(l);
    } else {
        pthread_mutex_lock(&c->lock);
        while (!l->released)
            pthread_cond_wait(&c->cond, &c->lock);
        pthread_mutex_unlock(&c->lock);
    }
    if (l->owns_client)
        lp_client_destroy(c);
    free_handle_memory(l);
}

/* ---- the event-loop API ---- */

int leader_client_fd(const leader_client *c)
{
    return c != NULL && c->event_loop ? lio_client_fd(&c->io) : -1;
}

int leader_client_timeout_ms(leader_client *c)
{
    if (c == NULL || !c->event_loop)
        return -1;
    return loop_timeout(c);
}

int leader_client_process(leader_client *c)
{
    if (c == NULL)
        return LEADER_EINVAL;
    if (!c->event_loop || c->dispatching)
        return LEADER_ESTATE;
    loop_turn(c);
    return 0;
}
