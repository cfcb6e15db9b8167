/* SPDX-License-Identifier: BSD-3-Clause */
/* runner.c - the thread that runs a client's loop in thread mode: it
 * turns the loop (loop.c) whenever the mux's descriptor is readable or its
 * deadline comes, until the client is freed. Built on the same calls that
 * an application's event loop makes, as c-ares builds its event thread on
 * its loop API.
 */
#include "util/fmacros.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>

#include "leader_int.h"
#include "util/lu_signals.h"

/* The client whose loop this thread runs; NULL on the application's
 * threads. Read by the thread itself only, so it needs no lock, unlike
 * c->thread, which pthread_create() may write after the thread starts. */
static _Thread_local const leader_client *running;

int lp_on_loop(const leader_client *c)
{
    return c->event_loop || running == c;
}

static void *client_thread(void *arg)
{
    leader_client *c = arg;
    struct pollfd pfd = {.fd = lio_mux_fd(&c->io), .events = POLLIN};
    enum lp_client_phase phase;

    running = c;
    for (;;) {
        int timeout;
        lp_loop_turn(c);
        lp_loop_finish_deferred(c);
        timeout = lp_loop_timeout(c);
        lp_lock(c);
        phase = c->phase;
        lp_unlock(c);
        if (phase != LP_CLIENT_RUNNING)
            break;
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
            break; /* cannot happen with a valid descriptor */
    }
    running = NULL;
    if (phase == LP_CLIENT_DEFERRED) {
        /* Freed from its own loop: nobody will join this thread. */
        pthread_detach(pthread_self());
        lp_client_free_now(c);
    }
    return NULL;
}

/* The thread starts with every signal blocked: the application's signals
 * go to its own threads, and SIGPIPE from a write to a closed connection
 * becomes EPIPE (it stays pending on this thread, harmlessly). */
int lp_runner_start(leader_client *c)
{
    sigset_t old;
    int rc;

    assert(lp_lock_held(c) && !c->event_loop);
    assert(c->phase == LP_CLIENT_IDLE);
    lu_block_all_signals(&old);
    rc = pthread_create(&c->thread, NULL, client_thread, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return LEADER_ECONN;
    lp_set_client_phase(c, LP_CLIENT_RUNNING);
    return 0;
}

void lp_runner_join(leader_client *c)
{
    assert(!lp_lock_held(c) && !lp_on_loop(c));
    lio_mux_wake(&c->io);
    pthread_join(c->thread, NULL);
}
