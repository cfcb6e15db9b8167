/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_signals.c - see lu_signals.h. */
#include "util/fmacros.h"

#include <pthread.h>
#include <time.h>

#include "util/lu_signals.h"

void lu_sigpipe_block(struct lu_sigpipe *s)
{
    sigset_t pipe_only, pending;

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    s->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &s->old);
}

void lu_sigpipe_restore(struct lu_sigpipe *s)
{
    sigset_t pipe_only, pending;
    struct timespec zero = {0, 0};

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    if (!s->was_pending && sigismember(&pending, SIGPIPE))
        sigtimedwait(&pipe_only, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

void lu_block_all_signals(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
}
