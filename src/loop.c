/* SPDX-License-Identifier: BSD-3-Clause */
/* loop.c - the loop turn behind the public API, and the event-loop API
 * that lets the caller run it.
 *
 * A turn takes the handles' requests from their mailboxes and lets the mux
 * process what is ready, with io_lock held; then, with no library lock
 * held, it runs the callbacks for the events the turn queued; then it
 * releases the handles being freed. The same turn runs on a client's
 * thread (runner.c) or inside leader_process(). A leader_free() from a
 * callback is finished after the turn: by the thread, or in event-loop
 * mode before leader_process() returns.
 */
#include "util/fmacros.h"

#include <assert.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "leader_int.h"
#include "util/lu_clock.h"

/* ---- the lease, published for lock-free readers ---- */

/* Publishes l's lease as its core has it, unless a stop was asked for
 * since the loop last took l's requests: that stop cleared the lease, and
 * what the core still holds is the stopped leadership. */
static void publish_lease(leader *l)
{
    const struct lc_core *core = lio_slot_core(l->election);
    int leading = lc_state(core) == LC_LEADER;
    uint64_t gen = LP_LEASE_GEN(LP_LEASE_WORD(l->mail.taken, 0));
    uint64_t cur = atomic_load(&l->lease), want;

    assert(lp_io_lock_held(l->client));
    want = LP_LEASE_WORD(l->mail.taken, lc_lease_end(core));
    do {
        if (LP_LEASE_GEN(cur) != gen)
            return;
        /* Even when the deadline stays (a new term sent in the same
         * millisecond as the last renewal). */
        atomic_store(&l->term, leading ? lc_term(core) : 0);
    } while (cur != want &&
             !atomic_compare_exchange_weak(&l->lease, &cur, want));
}

/* ---- callbacks ---- */

/* The callbacks running on this thread, innermost first: the one "in
 * callback" record. A callback of one event-loop client may free a handle
 * of another, which then runs that client's loop, so they nest. */
struct lp_frame {
    const leader_client *c;
    struct lp_frame *up;
};

static _Thread_local struct lp_frame *frames;

int lp_in_callback(const leader_client *c)
{
    for (const struct lp_frame *f = frames; f != NULL; f = f->up)
        if (c == NULL || f->c == c)
            return 1;
    return 0;
}

/* The stops of l are over up to generation gen: leader_stop() calls
 * waiting for them return. */
static void settle(leader *l, uint64_t gen)
{
    leader_client *c = l->client;

    lp_lock(c);
    if (l->mail.settled < gen) {
        l->mail.settled = gen;
        if (l->phase == LP_STOPPING && l->mail.settled == l->mail.gen)
            lp_set_phase(l, LP_IDLE);
        pthread_cond_broadcast(&c->cond);
    }
    lp_unlock(c);
}

/* Runs l's callback with an event, or settles l's stops (kind 0). */
static void deliver(leader *l, const struct lp_event *e, const char *holder,
                    const char *message)
{
    leader_event ev = {sizeof ev, (leader_event_type) e->kind,
                       e->term,   holder,
                       e->error,  message};
    leader_client *c = l->client;
    struct lp_frame frame = {c, frames};
    leader_callback cb;
    void *userdata;
    enum lp_phase phase;

    assert(!lp_lock_held(c));
    if (e->kind == 0) {
        settle(l, e->term);
        return;
    }
    lp_lock(c);
    cb = l->cb;
    userdata = l->userdata;
    phase = l->phase;
    lp_unlock(c);
    /* While freeing, REVOKED is the one event still due: the owner may
     * take it as the last call of the callback. */
    if (cb == NULL || (phase >= LP_CLOSING && ev.type != LEADER_EVENT_REVOKED))
        return;
    frames = &frame;
    cb(l, &ev, userdata);
    frames = frame.up;
}

/* Runs the queued events, in order. Callbacks add none (they reach the
 * loop through mailboxes only), so the queue stays put meanwhile. */
static void dispatch_events(leader_client *c)
{
    assert(!lp_lock_held(c));
    for (size_t i = 0; i < c->nevents; i++) {
        const struct lp_event *e = &c->events[i];
        deliver(e->l, e, e->holder == LP_NO_TEXT ? NULL : c->text + e->holder,
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

/* Queues an event of l (ev), or the settlement of its stops up to
 * generation gen (ev NULL). Out of memory, it runs the queue and then this
 * event at once instead: in order, but with io_lock held (it is recursive,
 * so those callbacks may still add handles). */
static void queue_event(leader *l, const struct lc_event *ev, uint64_t gen)
{
    leader_client *c = l->client;
    struct lp_event e = {l, 0, 0, gen, LP_NO_TEXT, LP_NO_TEXT};
    size_t mark = c->text_len;

    assert(lp_io_lock_held(c));
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
    deliver(l, &e, ev != NULL ? ev->holder : NULL,
            ev != NULL ? ev->message : "");
}

/* The mux's call after every step of l's core (ev NULL) and for every
 * event; both are counted for leader_stats(). A stop is over once no release is
 * pending, even if a later elect has the handle campaigning again. */
static void on_election(void *owner, const struct lc_event *ev,
                        const struct lc_output *step)
{
    leader *l = owner;

    assert(lp_io_lock_held(l->client));
    publish_lease(l);
    lp_stats_count(l, ev, step);
    if (ev != NULL) {
        queue_event(l, ev, 0);
    } else if (l->mail.settling != l->mail.taken &&
               !lc_releasing(lio_slot_core(l->election))) {
        l->mail.settling = l->mail.taken;
        queue_event(l, NULL, l->mail.taken);
    }
}

static long shorter(long a, long b)
{
    return a < b ? a : b;
}

int lp_client_attach(leader_client *c, leader *l, const char *key_hex,
                     uint64_t seed)
{
    struct lio_slot_config cfg = {l->id,
                                  &l->names,
                                  l->ttl_ms,
                                  l->wait_ms,
                                  seed,
                                  l->connect_timeout_ms,
                                  l->command_timeout_ms};
    long query_default = l->ttl_ms / 3 < 100    ? 100
                         : l->ttl_ms / 3 > 2000 ? 2000
                                                : l->ttl_ms / 3;
    int rc;

    assert(!lp_lock_held(c) && l->phase == LP_IDLE);
    lio_names_make(&l->names, key_hex);
    lp_io_lock(c);
    l->election = lio_mux_add(&c->io, &cfg, on_election, l, &rc);
    lp_io_unlock(c);
    if (rc != 0)
        return rc;
    lp_lock(c);
    c->query_connect_ms =
        shorter(c->query_connect_ms,
                l->connect_timeout_ms ? l->connect_timeout_ms : query_default);
    c->query_command_ms =
        shorter(c->query_command_ms,
                l->command_timeout_ms ? l->command_timeout_ms : query_default);
    lp_unlock(c);
    return 0;
}

/* ---- the turn ---- */

/* Empties the mailboxes into the elections' cores. */
static void take_requests(leader_client *c, lc_time now)
{
    leader *list, *l;

    assert(lp_io_lock_held(c) && !lp_lock_held(c));
    lp_lock(c);
    list = c->mail;
    c->mail = NULL;
    for (l = list; l != NULL; l = l->mail.next)
        l->mail.queued = 0;
    lp_unlock(c);
    while ((l = list) != NULL) {
        unsigned req;
        int unhealthy;
        lp_lock(c);
        list = l->mail.next;
        unhealthy = l->unhealthy;
        req = l->mail.requests;
        l->mail.requests = 0;
        l->mail.taken = l->mail.gen;
        if (req & REQ_FREE) {
            /* A free supersedes every request but a stop. */
            assert(!(req & (REQ_START | REQ_OBSERVE | REQ_TERM)));
            lp_set_phase(l, LP_CLOSING);
        }
        lp_unlock(c);
        if (req & REQ_FREE) {
            l->next_closing = c->closing;
            c->closing = l;
        }
        /* Health first: an unhealthy candidate starts without campaigning,
         * and a leader that is both unhealthy and stopped says why. */
        if (req & REQ_HEALTH)
            lio_mux_input(&c->io, l->election,
                          unhealthy ? LC_IN_UNHEALTHY : LC_IN_HEALTHY, now);
        if (req & (REQ_STOP | REQ_FREE))
            lio_mux_input(&c->io, l->election, LC_IN_STOP, now);
        if (req & REQ_START)
            lio_mux_input(&c->io, l->election, LC_IN_START, now);
        if (req & REQ_OBSERVE)
            lio_mux_input(&c->io, l->election, LC_IN_OBSERVE, now);
        if (req & REQ_TERM)
            lio_mux_input(&c->io, l->election, LC_IN_NEW_TERM, now);
    }
}

/* Detaches the CLOSING handles whose election has stopped (all of them
 * with force: the keys of those still releasing expire by themselves). */
static void reap_closing(leader_client *c, int force)
{
    leader **p = &c->closing;

    assert(lp_io_lock_held(c) && !lp_lock_held(c));
    while (*p != NULL) {
        leader *l = *p;
        if (!force && lc_busy(lio_slot_core(l->election))) {
            p = &l->next_closing;
            continue;
        }
        *p = l->next_closing;
        lio_mux_remove(&c->io, l->election);
        l->election = NULL;
        lp_lock(c);
        lp_set_phase(l, LP_RELEASED);
        l->mail.settled = l->mail.taken; /* nothing more can come */
        pthread_cond_broadcast(&c->cond);
        lp_unlock(c);
        /* From here a thread in lp_release() may free l. */
    }
}

void lp_loop_turn(leader_client *c)
{
    lc_time now = lu_now_ms();

    assert(lp_on_loop(c) && !lp_lock_held(c) && !lp_io_lock_held(c));
    lp_io_lock(c);
    take_requests(c, now);
    lp_io_unlock(c);
    /* A stop's REVOKED reaches the application before its release can
     * reach Redis: taking the requests only queues commands, and nothing
     * is written before the processing below. So the application has
     * stopped acting before anyone else can be elected. */
    dispatch_events(c);
    lp_io_lock(c);
    lio_mux_process(&c->io, now);
    lp_io_unlock(c);
    dispatch_events(c);
    lp_io_lock(c);
    reap_closing(c, 0);
    lp_io_unlock(c);
}

static int has_requests(leader_client *c)
{
    int pending;

    lp_lock(c);
    pending = c->mail != NULL;
    lp_unlock(c);
    return pending;
}

int lp_loop_timeout(leader_client *c)
{
    lc_time d, now;

    assert(!lp_lock_held(c));
    lp_io_lock(c);
    d = lio_mux_deadline(&c->io);
    lp_io_unlock(c);
    now = lu_now_ms();
    if (has_requests(c) || d <= now)
        return 0;
    if (d == LC_NEVER)
        return -1;
    return d - now > 60000 ? 60000 : (int) (d - now);
}

void lp_loop_run_until_released(leader *l)
{
    leader_client *c = l->client;
    struct pollfd pfd = {.fd = lio_mux_fd(&c->io), .events = POLLIN};
    lc_time end = lu_now_ms() + lp_stop_wait_ms(l) + 100;
    int released;

    assert(c->event_loop && lp_phase_of(l) >= LP_FREEING);
    for (;;) {
        int timeout;
        lp_loop_turn(c);
        released = lp_phase_of(l) == LP_RELEASED;
        if (released || lu_now_ms() >= end)
            break;
        timeout = lp_loop_timeout(c);
        if (timeout < 0 || timeout > end - lu_now_ms())
            timeout = (int) (end - lu_now_ms());
        poll(&pfd, 1, timeout > 0 ? timeout : 0);
    }
    if (!released) {
        lp_io_lock(c);
        reap_closing(c, 1); /* no answer in time */
        lp_io_unlock(c);
    }
}

void lp_loop_finish_deferred(leader_client *c)
{
    leader **p = &c->deferred, *l;
    int owner_gone = 0;

    assert(lp_on_loop(c) && !lp_in_callback(c));
    if (c->event_loop) {
        /* The caller may never call leader_process() for them again. */
        while ((l = c->deferred) != NULL) {
            c->deferred = l->next_deferred;
            if (lp_phase_of(l) != LP_RELEASED)
                lp_loop_run_until_released(l); /* may defer more frees */
            owner_gone |= l->owns_client;
            lp_handle_free(l);
        }
    } else {
        while ((l = *p) != NULL) {
            if (lp_phase_of(l) == LP_RELEASED) {
                *p = l->next_deferred;
                owner_gone |= l->owns_client;
                lp_handle_free(l);
            } else {
                p = &l->next_deferred;
            }
        }
    }
    if (owner_gone) {
        /* The client goes with the handle that owned it, after this
         * turn. */
        lp_lock(c);
        if (c->phase == LP_CLIENT_IDLE || c->phase == LP_CLIENT_RUNNING)
            lp_set_client_phase(c, LP_CLIENT_DEFERRED);
        lp_unlock(c);
    }
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
    return lp_loop_timeout(c);
}

int leader_client_process(leader_client *c)
{
    enum lp_client_phase phase;

    if (c == NULL)
        return LEADER_EINVAL;
    if (!c->event_loop || lp_in_callback(c))
        return LEADER_ESTATE;
    lp_loop_turn(c);
    /* leader_free() from the turn's callbacks, and the client itself if
     * that freed its owner or leader_client_free() was called there. */
    lp_loop_finish_deferred(c);
    lp_lock(c);
    phase = c->phase;
    lp_unlock(c);
    if (phase == LP_CLIENT_DEFERRED)
        lp_client_free_now(c);
    return 0;
}
