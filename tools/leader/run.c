/* SPDX-License-Identifier: BSD-3-Clause */
/* run.c - `leader run`: parses the options, sets up the watchdog, the
 * pipes, the signal handlers and the election, runs the supervisor and
 * tears everything down again. */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "cli.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "sdnotify.h"
#include "tree.h"

static int sig_fd = -1; /* write end of the self-pipe, for the handler */

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char) sig;

    if (write(sig_fd, &b, 1) < 0) {
        /* Full pipe: the loop has a byte to wake on already. */
    }
    errno = saved;
}

/* --metrics-listen: a build that can serve it, and an address. */
static int check_metrics(struct run *r)
{
    char err[300];

    if (r->o.metrics_listen == NULL)
        return 0;
    if (!metrics_available()) {
        usage_error("run", "--metrics-listen: this build of leader has no "
                           "libmicrohttpd (rebuild with libmicrohttpd-dev "
                           "installed)");
        return -1;
    }
    if (metrics_parse_addr(r->o.metrics_listen, &r->metrics_sa,
                           &r->metrics_salen, err, sizeof err) != 0) {
        usage_error("run", "--metrics-listen: %s", err);
        return -1;
    }
    return 0;
}

/* The checks that involve more than one option. Returns 0, or -1 after a
 * usage error. */
static int check_run(struct cli_opts *o)
{
    if (o->quiet && o->verbose) {
        usage_error("run", "-q and -v exclude each other");
        return -1;
    }
    if (o->log_format != NULL && strcmp(o->log_format, "json") != 0 &&
        strcmp(o->log_format, "text") != 0) {
        usage_error("run", "--log-format: '%s' is neither text nor json",
                    o->log_format);
        return -1;
    }
    o->log_json = o->log_format != NULL && strcmp(o->log_format, "json") == 0;
    if (o->health_cmd != NULL && o->health_cmd[0] == '\0') {
        usage_error("run", "--health-cmd is empty");
        return -1;
    }
    if (o->health_timeout_ms < 0)
        o->health_timeout_ms = o->health_interval_ms;
    if (o->health_timeout_ms > o->health_interval_ms) {
        usage_error("run",
                    "--health-timeout (%ld) must be at most "
                    "--health-interval (%ld): one check at a time",
                    o->health_timeout_ms, o->health_interval_ms);
        return -1;
    }
    if (!o->grace_set)
        o->grace_ms = o->ttl_ms / 3;
    if (o->grace_ms >= o->ttl_ms) {
        usage_error("run", "--grace (%ld) must be less than --ttl (%ld)",
                    o->grace_ms, o->ttl_ms);
        return -1;
    }
    /* Renewals go out every ttl/3 and extend the lease to ttl from their
     * send time, so a renewal on time leaves about 2/3 ttl: a grace near
     * that would call every renewal late and end every child. */
    if (o->grace_ms > o->ttl_ms / 2) {
        usage_error("run",
                    "--grace (%ld) must be at most half of --ttl (%ld): "
                    "renewals come every ttl/3, and a longer grace would "
                    "end the child before a renewal is late",
                    o->grace_ms, o->ttl_ms);
        return -1;
    }
    if (o->command_timeout_ms > o->ttl_ms / 3) {
        usage_error("run",
                    "--command-timeout (%ld) must be at most a third of "
                    "--ttl (%ld): a renewal that is lost must be sent "
                    "again while the lease lasts",
                    o->command_timeout_ms, o->ttl_ms);
        return -1;
    }
    return 0;
}

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    events_send(((struct run *) userdata)->ev_pipe[1], ev);
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
        return -1;
    return 0;
}

static int install_handlers(struct run *r)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    struct sigaction sa;

    sig_fd = r->sig_pipe[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) == -1)
            return -1;
    /* Writes to a closed stderr must not kill the supervisor (the child
     * gets the default back before exec). */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Creates the election handle; a bad option is bad usage. */
static int make_leader(struct run *r)
{
    leader_options lo;
    char err[256];

    leader_options_init(&lo);
    cli_connection_options(&r->o, &lo);
    lo.key = r->o.key;
    lo.id = r->o.id;
    lo.ttl_ms = r->o.ttl_ms;
    lo.wait_ms = r->o.wait_ms;
    r->l = leader_new(&lo, err, sizeof err);
    if (r->l == NULL)
        return usage_error("run", "%s", err);
    return 0;
}

static int resolve_cmd(struct run *r)
{
    r->path = child_resolve(r->o.cmd[0]);
    if (r->path != NULL)
        return 0;
    if (errno == ENOENT) {
        fprintf(stderr, "leader run: %s: command not found\n", r->o.cmd[0]);
        return EXIT_NOTFOUND;
    }
    if (errno == EACCES) {
        fprintf(stderr, "leader run: %s: permission denied\n", r->o.cmd[0]);
        return EXIT_NOEXEC;
    }
    fprintf(stderr, "leader run: %s: %s\n", r->o.cmd[0], strerror(errno));
    return 1;
}

/* What the watchdog starts children with, and releases with after our
 * death. */
static void fill_spec(struct run *r)
{
    struct wd_spec *s = &r->spec;

    s->path = r->path;
    s->argv = r->o.cmd;
    s->id = leader_id(r->l);
    s->key = r->o.key;
    s->redis_key = leader_key(r->l);
    s->margin_ms = r->o.grace_ms;
    leader_options_init(&s->release);
    cli_connection_options(&r->o, &s->release);
    s->release.key = r->o.key;
    s->release.id = leader_id(r->l);
    s->release.ttl_ms = r->o.ttl_ms;
    s->release.wait_ms = r->o.wait_ms;
}

/* Starts serving --metrics-listen; a port in use or an address not of
 * this host is bad usage, before campaigning. */
static int serve_metrics(struct run *r)
{
    char err[300];

    if (r->o.metrics_listen == NULL)
        return 0;
    r->metrics = metrics_start(&r->metrics_sa, r->metrics_salen, r->l, r->o.key,
                               err, sizeof err);
    if (r->metrics != NULL)
        return 0;
    fprintf(stderr, "leader run: --metrics-listen %s: %s\n",
            r->o.metrics_listen, err);
    return EXIT_USAGE;
}

static int setup(struct run *r)
{
    char url[DISPLAY_URL_MAX];
    int rc;

    if ((rc = resolve_cmd(r)) != 0)
        return rc;
    if ((rc = make_leader(r)) != 0)
        return rc;
    fill_spec(r);
    /* Orphans of the child's tree come to us if the watchdog dies. */
    if (make_pipe(r->ev_pipe) || make_pipe(r->sig_pipe) ||
        install_handlers(r) || tree_adopt_orphans() ||
        watchdog_start(&r->wd, &r->spec)) {
        log_error("cannot set up: %s", strerror(errno));
        return 1;
    }
    /* After the watchdog's fork: it must not hold the listening socket. */
    if ((rc = serve_metrics(r)) != 0)
        return rc;
    display_url(&r->o, url, sizeof url);
    log_set_format(r->o.log_json ? LOG_JSON : LOG_TEXT, r->o.key,
                   leader_id(r->l));
    log_event(LOG_NORMAL, "campaigning", 0, NULL,
              "campaigning for '%s' on %s as %s (ttl %ld ms, wait %ld ms, "
              "grace %ld ms)",
              r->o.key, url, leader_id(r->l), r->o.ttl_ms, r->o.wait_ms,
              r->o.grace_ms);
    leader_on(r->l, on_event, r);
    r->started_ms = leader_clock_ms();
    if ((rc = leader_elect(r->l)) != 0) {
        log_error("cannot campaign: %s", leader_strerror(rc));
        return 1;
    }
    health_init(&r->health, r->o.health_cmd, r->o.health_interval_ms,
                r->o.health_timeout_ms, (int) r->o.health_failures,
                r->started_ms);
    sdn_setup(r->started_ms);
    sdn_ready("campaigning for '%s' as %s", r->o.key, leader_id(r->l));
    return 0;
}

static void close_pipe(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    fds[0] = fds[1] = -1;
}

static void teardown(struct run *r)
{
    metrics_stop(r->metrics); /* it reads r->l */
    r->metrics = NULL;
    leader_free(r->l); /* stops and releases, if still campaigning */
    r->l = NULL;
    watchdog_stop(&r->wd);
    signal(SIGCHLD, SIG_DFL);
    close_pipe(r->ev_pipe);
    close_pipe(r->sig_pipe);
    sig_fd = -1;
    free(r->path);
}

int cmd_run(int argc, char **argv)
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.ev_pipe[0] = r.ev_pipe[1] = r.sig_pipe[0] = r.sig_pipe[1] = -1;
    r.wd.req_fd = r.wd.report_fd = -1;
    rc = cli_parse(CMD_RUN, argc, argv, &r.o);
    if (rc == 0 && (check_run(&r.o) != 0 || check_metrics(&r) != 0))
        rc = -1;
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    log_setup(r.o.quiet     ? LOG_QUIET
              : r.o.verbose ? LOG_VERBOSE
                            : LOG_NORMAL,
              "leader run");
    rc = setup(&r);
    if (rc == 0)
        rc = supervise(&r);
    teardown(&r);
    return rc;
}
