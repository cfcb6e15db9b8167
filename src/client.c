/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c - the lifecycle of clients and handles: their locks, their
 * phases (the tables are in leader_int.h), the mailbox through which any
 * thread hands requests to the loop, and how a stop is waited for and a
 * handle or a client is freed.
 *
 * The loop itself is in loop.c, and the thread that runs it in thread
 * mode in runner.c.
 */
#include "util/fmacros.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader_int.h"
#include "util/lu_clock.h"
#include "util/lu_ids.h"

/* ---- locks, with their holder recorded for assert() ---- */

/* Its address tells the threads apart: unique while the thread lives,
 * and, unlike a pthread_t, it fits in an atomic word that other threads
 * may read while the holder changes it. */
static _Thread_local char thread_token;

static uintptr_t self(void)
{
    return (uintptr_t) &thread_token;
}

void lp_lock(leader_client *c)
{
    pthread_mutex_lock(&c->lock);
    atomic_store_explicit(&c->lock_owner, self(), memory_order_relaxed);
}

void lp_unlock(leader_client *c)
{
    assert(lp_lock_held(c));
    atomic_store_explicit(&c->lock_owner, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
}

int lp_lock_held(const leader_client *c)
{
    return atomic_load_explicit(&c->lock_owner, memory_order_relaxed) == self();
}

void lp_io_lock(leader_client *c)
{
    pthread_mutex_lock(&c->io_lock);
    if (c->io_depth++ == 0)
        atomic_store_explicit(&c->io_owner, self(), memory_order_relaxed);
}

void lp_io_unlock(leader_client *c)
{
    assert(lp_io_lock_held(c) && c->io_depth > 0);
    if (--c->io_depth == 0)
        atomic_store_explicit(&c->io_owner, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->io_lock);
}

int lp_io_lock_held(const leader_client *c)
{
    return atomic_load_explicit(&c->io_owner, memory_order_relaxed) == self();
}

int lp_wait(leader_client *c, const struct timespec *deadline)
{
    int rc;

    assert(lp_lock_held(c));
    atomic_store_explicit(&c->lock_owner, 0, memory_order_relaxed);
    rc = deadline != NULL ? pthread_cond_timedwait(&c->cond, &c->lock, deadline)
                          : pthread_cond_wait(&c->cond, &c->lock);
    atomic_store_explicit(&c->lock_owner, self(), memory_order_relaxed);
    return rc == ETIMEDOUT ? LEADER_ETIMEDOUT : 0;
}

/* ---- phases ---- */

#define TO(p) (1u << (p))

#ifndef NDEBUG
/* The tables of leader_int.h: the phases each phase may move to. */
static const unsigned handle_moves[] = {
    [LP_IDLE] = TO(LP_ACTIVE) | TO(LP_FREEING),
    [LP_ACTIVE] = TO(LP_STOPPING) | TO(LP_FREEING),
    [LP_STOPPING] = TO(LP_ACTIVE) | TO(LP_IDLE) | TO(LP_FREEING),
    [LP_FREEING] = TO(LP_CLOSING),
    [LP_CLOSING] = TO(LP_RELEASED),
    [LP_RELEASED] = 0,
};

static const unsigned client_moves[] = {
    [LP_CLIENT_IDLE] =
        TO(LP_CLIENT_RUNNING) | TO(LP_CLIENT_EXITING) | TO(LP_CLIENT_DEFERRED),
    [LP_CLIENT_RUNNING] = TO(LP_CLIENT_EXITING) | TO(LP_CLIENT_DEFERRED),
    [LP_CLIENT_EXITING] = 0,
    [LP_CLIENT_DEFERRED] = 0,
};
#endif

void lp_set_phase(leader *l, enum lp_phase to)
{
    assert(lp_lock_held(l->client));
    assert(handle_moves[l->phase] & TO(to));
    l->phase = to;
}

void lp_set_client_phase(leader_client *c, enum lp_client_phase to)
{
    assert(lp_lock_held(c));
    assert(client_moves[c->phase] & TO(to));
    c->phase = to;
}

enum lp_phase lp_phase_of(leader *l)
{
    enum lp_phase p;

    lp_lock(l->client);
    p = l->phase;
    lp_unlock(l->client);
    return p;
}

/* ---- clients ---- */

leader_client *lp_client_create(const struct lu_url *urls, size_t n,
                                int event_loop, char *err, size_t errlen)
{
    leader_client *c = calloc(1, sizeof *c);
    pthread_mutexattr_t mattr;
    pthread_condattr_t attr;
    uint64_t seed = 0;
    int rc = LEADER_ENOMEM;

    assert(urls != NULL && n >= 1 && n <= LIO_QUORUM_MAX);
    if (c == NULL || lu_random(&seed, sizeof seed) != 0 ||
        (rc = lio_mux_init_servers(&c->io, urls, n, seed)) != 0) {
        if (err != NULL && errlen > 0) {
            /* The options were checked already: a refusal of several
             * servers here is the transport's, not the caller's. */
            if (n > 1 && rc == LEADER_EINVAL)
                snprintf(err, errlen,
                         LP_QUORUM_UNAVAILABLE
                         " yet: an election over %zu servers is refused",
                         n);
            else
                snprintf(err, errlen,
                         "cannot set up the connection (memory, "
                         "randomness, epoll or eventfd)");
        }
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        c->urls[i] = urls[i];
    c->nurls = n;
    c->event_loop = event_loop;
    c->phase = LP_CLIENT_IDLE;
    c->query_connect_ms = c->query_command_ms = 2000;
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

int lp_quorum_available(void)
{
    struct lu_url urls[3];
    struct lio_mux *m = calloc(1, sizeof *m);
    int rc;

    if (m == NULL)
        return 0;
    /* No I/O: a mux connects only once an election campaigns. */
    memset(urls, 0, sizeof urls);
    for (int i = 0; i < 3; i++) {
        urls[i].kind = LU_URL_TCP;
        snprintf(urls[i].host, sizeof urls[i].host, "127.0.0.1");
        urls[i].port = 6379 + i;
    }
    rc = lio_mux_init_servers(m, urls, 3, 1);
    if (rc == 0)
        lio_mux_free(m);
    free(m);
    return rc == 0;
}

void lp_client_destroy(leader_client *c)
{
    enum lp_client_phase was;

    assert(!lp_lock_held(c));
    lp_lock(c);
    was = c->phase;
    if (lp_in_callback(c)) {
        lp_set_client_phase(c, LP_CLIENT_DEFERRED);
        lp_unlock(c);
        return;
    }
    lp_set_client_phase(c, LP_CLIENT_EXITING);
    lp_unlock(c);
    if (was == LP_CLIENT_RUNNING)
        lp_runner_join(c);
    if (c->event_loop)
        lp_loop_finish_deferred(c);
    lp_client_free_now(c);
}

void lp_client_free_now(leader_client *c)
{
    leader *l;

    while ((l = c->deferred) != NULL) {
        /* Freed from a callback, and still releasing when the loop ended:
         * their keys expire by themselves. */
        c->deferred = l->next_deferred;
        lp_handle_free(l);
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

/* ---- requests ---- */

/* A stop or the free: the lease ends now for leader_has_lease(), and no
 * publish of the leadership being stopped can bring it back (its
 * generation is gone). */
static void end_lease(leader *l)
{
    assert(lp_lock_held(l->client));
    l->mail.gen++;
    atomic_store(&l->lease, LP_LEASE_WORD(l->mail.gen, 0));
}

/* 0 if l's phase allows request, else LEADER_ESTATE. With lock. */
static int refuse(const leader *l, unsigned request)
{
    assert(lp_lock_held(l->client));
    switch (request) {
    case REQ_START:
    case REQ_OBSERVE:
        return l->phase == LP_IDLE || l->phase == LP_STOPPING ? 0
                                                              : LEADER_ESTATE;
    case REQ_STOP:
        return l->phase == LP_ACTIVE ? 0 : LEADER_ESTATE;
    case REQ_TERM:
        return l->phase == LP_ACTIVE && leader_has_lease(l) ? 0 : LEADER_ESTATE;
    case REQ_FREE:
    case REQ_HEALTH:
        return l->phase < LP_FREEING ? 0 : LEADER_ESTATE;
    default:
        assert(!"a request of one kind");
        return LEADER_EINVAL;
    }
}

int lp_request(leader *l, unsigned request)
{
    leader_client *c = l->client;
    int rc;

    assert(!lp_lock_held(c));
    lp_lock(c);
    rc = refuse(l, request);
    if (rc == 0 && !c->event_loop && c->phase == LP_CLIENT_IDLE)
        rc = lp_runner_start(c);
    if (rc == 0) {
        switch (request) {
        case REQ_START:
        case REQ_OBSERVE:
            /* A stop still in the mailbox is carried out first. */
            lp_set_phase(l, LP_ACTIVE);
            break;
        case REQ_STOP:
        case REQ_FREE:
            /* It supersedes what it follows, a new term included. */
            end_lease(l);
            l->mail.requests &= ~(REQ_START | REQ_OBSERVE | REQ_TERM);
            lp_set_phase(l, request == REQ_STOP ? LP_STOPPING : LP_FREEING);
            break;
        default:
            break;
        }
        l->mail.requests |= request;
        if (!l->mail.queued) {
            l->mail.queued = 1;
            l->mail.next = c->mail;
            c->mail = l;
        }
    }
    lp_unlock(c);
    if (rc == 0)
        lio_mux_wake(&c->io);
    return rc;
}

int lp_set_health(leader *l, int healthy)
{
    leader_client *c = l->client;
    int changed;

    assert(!lp_lock_held(c));
    lp_lock(c);
    changed = l->unhealthy != !healthy;
    l->unhealthy = !healthy;
    lp_unlock(c);
    /* The loop reads the latest value when it takes the request, so a
     * change made between here and there is not lost. */
    return changed ? lp_request(l, REQ_HEALTH) : 0;
}

long lp_stop_wait_ms(const leader *l)
{
    long ms = l->ttl_ms / 3 + 100;
    return ms > 5000 ? 5000 : ms;
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

    assert(!lp_lock_held(c));
    if (lp_on_loop(c))
        return; /* the loop carries it out after the callback */
    deadline_in(&ts, lp_stop_wait_ms(l));
    lp_lock(c);
    ticket = l->mail.gen;
    while (l->mail.settled < ticket)
        if (lp_wait(c, &ts) == LEADER_ETIMEDOUT)
            break;
    lp_unlock(c);
}

void lp_handle_free(leader *l)
{
    lp_stats_free(&l->stats);
    free(l->key);
    free(l->id);
    free(l);
}

void lp_release(leader *l)
{
    leader_client *c = l->client;

    assert(!lp_lock_held(c) && lp_phase_of(l) >= LP_FREEING);
    if (lp_in_callback(c)) {
        /* From a callback of its client: finished after the turn, by the
         * loop, which owns the deferred list. */
        l->next_deferred = c->deferred;
        c->deferred = l;
        return;
    }
    if (c->event_loop) {
        lp_loop_run_until_released(l);
    } else {
        lp_lock(c);
        while (l->phase != LP_RELEASED)
            lp_wait(c, NULL);
        lp_unlock(c);
    }
    if (l->owns_client)
        lp_client_destroy(c);
    lp_handle_free(l);
}
