/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c - the loop behind the public API: requests from any thread, the
 * loop turn, event dispatch, and the thread that runs the loop when the
 * caller does not.
 *
 * A client (one Redis connection shared by its handles) is driven either
 * by a thread of its own, started with the first request, or by the caller
 * through leader_process(). Both run the same turn: take the handles'
 * requests and let the I/O layer process what is ready, with io_lock held;
 * then, with no library lock held, run the callbacks for the events the
 * turn queued; then release the handles being freed. A leader_free() from
 * a callback is finished after the turn: by the thread, or in event-loop
 * mode before leader_process() returns.
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

static uint64_t lease_word(uint64_t gen, int64_t end)
{
    return gen << LP_LEASE_BITS | ((uint64_t) end & LP_LEASE_MASK);
}

/* Publishes l's lease as its core has it, unless a stop was asked for
 * since the loop last took l's requests: that stop cleared the lease, and
 * what the core still holds is the stopped leadership. */
static void publish_lease(leader *l)
{
    const struct lc_core *c = lio_mux_core(l->election);
    int leading = lc_state(c) == LC_LEADER;
    uint64_t cur = atomic_load(&l->lease), want;

    want = lease_word(l->lease_gen, lc_lease_end(c));
    do {
        if (LP_LEASE_GEN(cur) != l->lease_gen)
            return;
        /* Even when the deadline stays (a new term sent in the same
         * millisecond as the last renewal). */
        atomic_store(&l->term, leading ? lc_term(c) : 0);
    } while (cur != want &&
             !atomic_compare_exchange_weak(&l->lease, &cur, want));
}

/* A stop or free: the lease ends now for leader_has_lease(), and no
 * publish of the leadership being stopped can bring it back. With the
 * client's lock held. */
static void end_lease(leader *l)
{
    uint64_t cur = atomic_load(&l->lease), want;

    do
        want = lease_word(
            (LP_LEASE_GEN(cur) + 1) & (UINT64_MAX >> LP_LEASE_BITS), 0);
    while (!atomic_compare_exchange_weak(&l->lease, &cur, want));
}

/* ---- events: queued during the turn, dispatched after it ---- */

static _Thread_local int callback_depth;

int lp_in_callback(void)
{
    return callback_depth > 0;
}

static void lock_io(leader_client *c)
{
    pthread_mutex_lock(&c->io_lock);
}

static void unlock_io(leader_client *c)
{
    pthread_mutex_unlock(&c->io_lock);
}

/* Settles l's stops up to count: leader_stop() calls waiting for them
 * return. */
static void settle_stops(leader *l, uint64_t count)
{
    leader_client *c = l->client;

    pthread_mutex_lock(&c->lock);
    if (l->stops_done < count) {
        l->stops_done = count;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Runs l's callback with an event, or settles l's stops up to term (kind
 * 0). */
static void deliver(leader *l, int kind, int error, uint64_t term,
                    const char *holder, const char *message)
{
    leader_event ev = {sizeof ev, (leader_event_type) kind, term, holder, error,
                       message};
    leader_callback cb;
    void *userdata;

    if (kind == 0) {
        settle_stops(l, term);
        return;
    }
    pthread_mutex_lock(&l->client->lock);
    cb = l->cb;
    userdata = l->userdata;
    pthread_mutex_unlock(&l->client->lock);
    /* While freeing, REVOKED is the one event still due: the owner may
     * take it as the last call of the callback. */
    if (cb == NULL || (l->closing && ev.type != LEADER_EVENT_REVOKED))
        return;
    callback_depth++;
    cb(l, &ev, userdata);
    callback_depth--;
}

/* Runs the queued events, in order. Callbacks add none (they reach the
 * loop through requests only), so the queue stays put meanwhile. */
static void dispatch_events(leader_client *c)
{
    for (size_t i = 0; i < c->nevents; i++) {
        const struct lp_event *e = &c->events[i];
        deliver(e->l, e->kind, e->error, e->term,
                e->holder == LP_NO_TEXT ? NULL : c->text + e->holder,
                e->kind == 0 ? "" : c->text + e->message);
    }
    c->nevents = 0;
    c->text_len = 0;
    /* After a burst (thousands of elections won at once), give the memory
     * back. */
    if (c->events_cap > 1024) {
        free(c->events);
        c->events = NULL;
        c->events_cap = 0;
    }
    if (c->text_cap > 65536) {
        free(c->text);
        c->text = NULL;
        c->text_cap = 0;
    }
}

static size_t add_text(leader_client *c, const char *s)
{
    size_t n = strlen(s) + 1, at = c->text_len;

    if (at + n > c->text_cap) {
        size_t cap = c->text_cap ? c->text_cap : 4096;
        char *t;
        while (cap < at + n)
            cap *= 2;
        t = realloc(c->text, cap);
        if (t == NULL)
            return LP_NO_TEXT;
        c->text = t;
        c->text_cap = cap;
    }
    memcpy(c->text + at, s, n);
    c->text_len += n;
    return at;
}

/* Queues an event of l (ev), or the settlement of its stops up to count
 * (ev NULL). Out of memory, it runs the queue and then this event at once
 * instead: in order, but with io_lock held (it is recursive, so those
 * callbacks may still add handles). */
static void queue_event(leader *l, const struct lc_event *ev, uint64_t count)
{
    leader_client *c = l->client;
    struct lp_event e = {l, 0, 0, count, LP_NO_TEXT, LP_NO_TEXT};
    size_t mark = c->text_len;

    if (ev != NULL) {
        e.kind = (int) ev->kind;
        e.error = ev->error;
        e.term = ev->term;
    }
    if (c->nevents == c->events_cap) {
        size_t cap = c->events_cap ? c->events_cap * 2 : 64;
        struct lp_event *grown = realloc(c->events, cap * sizeof *grown);
        if (grown != NULL) {
            c->events = grown;
            c->events_cap = cap;
        }
    }
    if (c->nevents < c->events_cap) {
        if (ev != NULL)
            e.message = add_text(c, ev->message);
        if (ev != NULL && ev->holder != NULL && e.message != LP_NO_TEXT)
            e.holder = add_text(c, ev->holder);
        if (ev == NULL || (e.message != LP_NO_TEXT &&
                           (ev->holder == NULL || e.holder != LP_NO_TEXT))) {
            c->events[c->nevents++] = e;
            return;
        }
        c->text_len = mark;
    }
    dispatch_events(c);
    deliver(l, e.kind, e.error, e.term, ev != NULL ? ev->holder : NULL,
            ev != NULL ? ev->message : "");
}

/* A stop is over once no release is pending, even if a later elect has
 * the handle campaigning again. */
/* The I/O layer's call after every step of l's core (ev NULL) and for
 * every event. */
static void on_election(void *owner, const struct lc_event *ev)
{
    leader *l = owner;

    publish_lease(l);
    if (ev != NULL) {
        queue_event(l, ev, 0);
    } else if (l->stops_queued != l->stops_seen &&
               !lc_releasing(lio_mux_core(l->election))) {
        l->stops_queued = l->stops_seen;
        queue_event(l, NULL, l->stops_seen);
    }
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
        l->stops_seen = l->stops_taken;
        l->lease_gen = LP_LEASE_GEN(atomic_load(&l->lease));
        pthread_mutex_unlock(&c->lock);
        if ((req & REQ_FREE) && !l->closing) {
            l->closing = 1;
            l->next_closing = c->closing;
            c->closing = l;
        }
        if (req & (REQ_STOP | REQ_FREE))
            lio_mux_input(&c->io, l->election, LC_IN_STOP, now);
        if ((req & REQ_START) && !l->closing)
            lio_mux_input(&c->io, l->election, LC_IN_START, now);
        if ((req & REQ_OBSERVE) && !l->closing)
            lio_mux_input(&c->io, l->election, LC_IN_OBSERVE, now);
        if ((req & REQ_TERM) && !l->closing)
            lio_mux_input(&c->io, l->election, LC_IN_NEW_TERM, now);
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
 * themselves). With io_lock held. */
static void reap_closing(leader_client *c, int force)
{
    leader **p = &c->closing;

    while (*p != NULL) {
        leader *l = *p;
        if (!force && lc_busy(lio_mux_core(l->election))) {
            p = &l->next_closing;
            continue;
        }
        *p = l->next_closing;
        lio_mux_remove(&c->io, l->election);
        l->election = NULL;
        pthread_mutex_lock(&c->lock);
        l->released = 1;
        l->stops_done = l->stops_taken; /* nothing more can come */
        c->handles--;
        if (l->free_deferred && l->owns_client)
            c->free_deferred = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
}

/* One turn of the loop: the handles' requests, the I/O and the timers
 * with io_lock held, then the turn's callbacks without it, then the
 * handles being freed. */
static void loop_turn(leader_client *c)
{
    lc_time now = lu_now_ms();

    c->dispatching = 1;
    lock_io(c);
    take_requests(c, now);
    unlock_io(c);
    /* A stop's REVOKED reaches the application before its release can
     * reach Redis: taking the requests only queues commands, and nothing
     * is written before the processing below. So the application has
     * stopped acting before anyone else can be elected. */
    dispatch_events(c);
    lock_io(c);
    lio_mux_process(&c->io, now);
    unlock_io(c);
    dispatch_events(c);
    lock_io(c);
    reap_closing(c, 0);
    unlock_io(c);
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
    lc_time d, now;

    lock_io(c);
    d = lio_mux_deadline(&c->io);
    unlock_io(c);
    now = lu_now_ms();
    if (has_requests(c) || d <= now)
        return 0;
    if (d == LC_NEVER)
        return -1;
    return d - now > 60000 ? 60000 : (int) (d - now);
}

/* How long a stop waits for the release to be confirmed. */
static long lp_stop_wait_ms(const leader *l)
{
    long ms = l->ttl_ms / 3 + 100;
    return ms > 5000 ? 5000 : ms;
}

/* Event loop: turns the loop here until l is released, bounded. */
static void run_until_released(leader *l)
{
    leader_client *c = l->client;
    struct pollfd pfd = {.fd = lio_mux_fd(&c->io), .events = POLLIN};
    lc_time end = lu_now_ms() + lp_stop_wait_ms(l) + 100;

    for (;;) {
        int timeout;
        loop_turn(c);
        if (l->released || lu_now_ms() >= end)
            break;
        timeout = loop_timeout(c);
        if (timeout < 0 || timeout > end - lu_now_ms())
            timeout = (int) (end - lu_now_ms());
        poll(&pfd, 1, timeout > 0 ? timeout : 0);
    }
    if (!l->released) {
        lock_io(c);
        reap_closing(c, 1); /* no answer in time */
        unlock_io(c);
    }
}

/* Completes the leader_free() calls made from callbacks: the memory of
 * each handle goes once the loop has released it. In event-loop mode the
 * loop is turned here until they are released (bounded, as leader_free()
 * is), since the caller may never call leader_process() for them again. */
static void finish_deferred(leader_client *c)
{
    leader **p = &c->deferred, *l;

    if (c->event_loop) {
        while ((l = c->deferred) != NULL) {
            c->deferred = l->next_deferred;
            if (!l->released)
                run_until_released(l); /* may defer more frees */
            free_handle_memory(l);
        }
        return;
    }
    while ((l = *p) != NULL) {
        if (l->released) {
            *p = l->next_deferred;
            free_handle_memory(l);
        } else {
            p = &l->next_deferred;
        }
    }
}

static int client_free_deferred(leader_client *c)
{
    int deferred;

    pthread_mutex_lock(&c->lock);
    deferred = c->free_deferred;
    pthread_mutex_unlock(&c->lock);
    return deferred;
}

/* ---- the thread ---- */

static void *client_thread(void *arg)
{
    leader_client *c = arg;
    struct pollfd pfd = {.fd = lio_mux_fd(&c->io), .events = POLLIN};
    int exiting, deferred, timeout;

    for (;;) {
        loop_turn(c);
        finish_deferred(c);
        timeout = loop_timeout(c);
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

/* ---- the internal interface ---- */

leader_client *lp_client_create(const struct lu_url *url, int event_loop,
                                char *err, size_t errlen)
{
    leader_client *c = calloc(1, sizeof *c);
    pthread_mutexattr_t mattr;
    pthread_condattr_t attr;
    uint64_t seed = 0;

    if (c == NULL || lu_random(&seed, sizeof seed) != 0 ||
        lio_mux_init(&c->io, url, seed) != 0) {
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
    pthread_mutexattr_init(&mattr);
    pthread_mutexattr_settype(&mattr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->io_lock, &mattr);
    pthread_mutexattr_destroy(&mattr);
    pthread_mutex_init(&c->query_lock, NULL);
    /* Stops wait on it with a bound: a step of the wall clock must not
     * stretch or cut that bound. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

void lp_client_destroy(leader_client *c)
{
    int started;
    leader *l;

    pthread_mutex_lock(&c->lock);
    c->exiting = 1;
    started = c->thread_started;
    if ((started && on_loop(c)) || (c->event_loop && c->dispatching)) {
        /* From a callback: the loop frees it once the callback returns. */
        c->free_deferred = 1;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    pthread_mutex_unlock(&c->lock);
    if (started) {
        lio_mux_wake(&c->io);
        pthread_join(c->thread, NULL);
    }
    if (c->event_loop)
        finish_deferred(c);
    while ((l = c->deferred) != NULL) {
        /* Thread mode: freed from a callback, and still releasing when the
         * thread ended. */
        c->deferred = l->next_deferred;
        free_handle_memory(l);
    }
    lio_mux_free(&c->io);
    lp_query_close(c);
    free(c->events);
    free(c->text);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->query_lock);
    pthread_mutex_destroy(&c->io_lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int lp_client_attach(leader_client *c, leader *l, const char *key_hex,
                     uint64_t seed)
{
    struct lio_slot_config cfg = {l->id, &l->names, l->ttl_ms, l->wait_ms,
                                  seed};
    int rc;

    lio_names_make(&l->names, key_hex);
    lock_io(c);
    l->election = lio_mux_add(&c->io, &cfg, on_election, l, &rc);
    unlock_io(c);
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
            l->active = 1;
        } else if (request & (REQ_STOP | REQ_FREE)) {
            /* It supersedes what it follows, a new term included. */
            end_lease(l);
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
        lio_mux_wake(&c->io);
    return rc;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
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

void lp_release(leader *l)
{
    leader_client *c = l->client;

    if (on_loop(c) && c->dispatching) {
        /* From a callback of its client: done after the turn. */
        pthread_mutex_lock(&c->lock);
        l->free_deferred = 1;
        pthread_mutex_unlock(&c->lock);
        l->next_deferred = c->deferred;
        c->deferred = l;
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
    return c != NULL && c->event_loop ? lio_mux_fd(&c->io) : -1;
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
    /* leader_free() from the turn's callbacks, and the client itself if
     * that freed its owner or leader_client_free() was called there. */
    finish_deferred(c);
    if (client_free_deferred(c))
        lp_client_destroy(c);
    return 0;
}
