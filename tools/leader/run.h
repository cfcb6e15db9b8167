/* SPDX-License-Identifier: BSD-3-Clause */
/* run.h - `leader run`: the options and the supervisor's state, shared by
 * run.c (options, setup, teardown) and supervisor.c (the event loop). */
#ifndef LEADER_CLI_RUN_H
#define LEADER_CLI_RUN_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <leader.h>

#include "health.h"
#include "metrics.h"
#include "opts.h"
#include "watchdog.h"

/* Why the child is being ended. */
enum end_cause {
    END_NONE = 0,
    END_REVOKED, /* leadership lost */
    END_LATE,    /* renewal late: the lease is within --grace of its end */
    END_SIGNAL,  /* leader run was told to stop */
    END_ROTATE   /* --max-hold: the leadership is handed on */
};

struct child_state {
    pid_t pid;             /* 0: no child (or not started yet) */
    int starting;          /* asked the watchdog to start it */
    uint64_t term;         /* the leadership it runs under */
    int64_t deadline_ms;   /* last known lease deadline for it */
    enum end_cause ending; /* END_NONE while it runs normally */
    int64_t kill_at_ms;    /* SIGKILL time once ending */
    int killed;            /* SIGKILL sent */
};

struct run {
    struct cli_opts o;
    char *path; /* o.cmd[0] resolved in $PATH (malloc'd) */
    leader *l;
    struct watchdog wd;
    struct wd_spec spec; /* what the watchdog starts children with */
    int ev_pipe[2];      /* events from the library's thread */
    int sig_pipe[2];     /* signals from the handler */
    int leading;
    uint64_t term;
    int64_t deadline_ms; /* of the current or last leadership */
    struct child_state child;
    uint64_t last_child_term; /* LEADER_TERM of the latest child */
    int term_asked;           /* a new term is on its way */
    int stop_sig;             /* the signal that asked us to stop, 0 if none */
    int elected_once;         /* --timeout and -n apply until then */
    int64_t started_ms;       /* when campaigning began */
    int64_t led_since_ms;     /* when the current term was won */
    int64_t rest_until_ms;    /* --max-hold: campaign again then; 0 none */
    struct health health;     /* --health-cmd */
    struct sockaddr_storage metrics_sa; /* --metrics-listen */
    socklen_t metrics_salen;
    struct metrics *metrics; /* serving, or NULL */
    int done;
    int exit_code;
};

/* The supervisor's loop: runs until r->done, then returns the exit code.
 * r is set up (handle, watchdog, pipes, handlers) and campaigning. */
int supervise(struct run *r);

#endif
