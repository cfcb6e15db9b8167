/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_signals.h - keeping the library's writes from killing the process
 * with SIGPIPE, without touching the application's signal dispositions.
 *
 * hiredis writes with send(..., 0): a write to a connection the server has
 * closed raises SIGPIPE, whose default action ends the process. SIGPIPE
 * from a write is sent to the writing thread, so blocking it in that
 * thread turns it into EPIPE, and the pending signal is then consumed. */
#ifndef LU_SIGNALS_H
#define LU_SIGNALS_H

#include <signal.h>

struct lu_sigpipe {
    sigset_t old;
    int was_pending; /* SIGPIPE was pending before: leave it to its owner */
};

/* Blocks SIGPIPE in the calling thread for a stretch of writes. */
void lu_sigpipe_block(struct lu_sigpipe *s);

/* Consumes a SIGPIPE the writes raised and restores the thread's mask. */
void lu_sigpipe_restore(struct lu_sigpipe *s);

/* Blocks every blockable signal in the calling thread and stores the old
 * mask in old: for creating a library thread that never takes the
 * application's signals. */
void lu_block_all_signals(sigset_t *old);

#endif
