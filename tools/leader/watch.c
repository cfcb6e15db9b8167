/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.c - `leader watch`: one line per change of leader, until
 * interrupted. It observes the election (leader_observe); the library's
 * thread hands each CHANGED event, stamped, through a pipe to the main
 * thread, which prints it: the time, what happened, the leader's id and
 * the term; --json prints one JSON object per line instead, with the
 * holder's lease slack (its key's ttl, read from Redis right after the
 * change: a query the callback may not make) and its age as this watcher
 * saw it. Errors go to stderr, and watching goes on through them. Exit 0
 * on SIGINT, SIGTERM or SIGHUP, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <leader.h>

#include "cli.h"
#include "log.h"
#include "opts.h"

/* A CHANGED event as the callback saw it; smaller than PIPE_BUF, so that
 * each write is whole. */
struct change {
    char stamp[40];
    int64_t at_ms; /* leader_clock_ms() when it came */
    uint64_t term;
    int has_id;
    char id[256];
    char what[48];
};

struct watch {
    const struct cli_opts *o;
    int pipe[2];
    int lines;          /* printed so far */
    uint64_t seen_term; /* the term whose election this watcher saw */
    int64_t seen_at_ms; /* ... when */
    int seen_known;     /* seen_* hold an election seen as it happened */
};

/* Runs on the library's thread; the main thread prints. */
static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct watch *w = userdata;
    struct change c;

    (void) l;
    if (ev->type == LEADER_EVENT_ERROR) {
        log_error("%s", ev->message);
        return;
    }
    if (ev->type != LEADER_EVENT_CHANGED)
        return;
    memset(&c, 0, sizeof c);
    format_time(c.stamp, sizeof c.stamp);
    c.at_ms = leader_clock_ms();
    c.term = ev->term;
    c.has_id = ev->leader_id != NULL;
    snprintf(c.id, sizeof c.id, "%s", c.has_id ? ev->leader_id : "");
    snprintf(c.what, sizeof c.what, "%s", ev->message);
    if (write(w->pipe[1], &c, sizeof c) != (ssize_t) sizeof c)
        log_error("cannot pass a change on: %s", strerror(errno));
}

/* The holder's key ttl, if the holder read from Redis now is still the
 * one of c; -1 when not known. */
static long long slack_of(leader *l, const struct change *c)
{
    leader_info info;

    if (!c->has_id || leader_current(l, &info) != 1)
        return -1;
    if (strcmp(info.id, c->id) != 0 || info.term != c->term)
        return -1;
    return info.lease_left_ms;
}

/* How long the holder concerned (the new one, or for released and
 * expired the one that left) had led at the change: -1 unless this
 * watcher saw its election happen. */
static long long age_of(struct watch *w, const struct change *c)
{
    if (c->has_id && strcmp(c->what, "elected") == 0) {
        /* The first line is the state found: its election is unseen. */
        w->seen_known = w->lines > 0;
        w->seen_term = c->term;
        w->seen_at_ms = c->at_ms;
        return w->seen_known ? 0 : -1;
    }
    if (w->seen_known && w->seen_term == c->term)
        return c->at_ms - w->seen_at_ms;
    return -1;
}

static void json_number(long long v)
{
    if (v < 0)
        fputs("null", stdout);
    else
        printf("%lld", v);
}

static void print_change(struct watch *w, leader *l, const struct change *c)
{
    long long age = age_of(w, c);

    if (!w->o->json) {
        printf("%s %-9s %s term %" PRIu64 "\n", c->stamp, c->what,
               c->has_id ? c->id : "-", c->term);
    } else {
        long long slack = slack_of(l, c);
        printf("{\"time\":\"%s\",\"event\":", c->stamp);
        json_string(c->what);
        fputs(",\"id\":", stdout);
        if (c->has_id)
            json_string(c->id);
        else
            fputs("null", stdout);
        printf(",\"term\":%" PRIu64 ",\"lease_slack_ms\":", c->term);
        json_number(slack);
        fputs(",\"holder_age_ms\":", stdout);
        json_number(age);
        fputs("}\n", stdout);
    }
    fflush(stdout);
    w->lines++;
}

/* Prints the changes as they come, until a signal in set. */
static void run(struct watch *w, leader *l, const sigset_t *set)
{
    int sfd = signalfd(-1, set, SFD_CLOEXEC);
    struct pollfd p[2] = {{.fd = w->pipe[0], .events = POLLIN},
                          {.fd = sfd, .events = POLLIN}};
    struct change c;

    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return;
    }
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if ((p[0].revents & POLLIN) &&
            read(w->pipe[0], &c, sizeof c) == (ssize_t) sizeof c)
            print_change(w, l, &c);
    }
    close(sfd);
}

int cmd_watch(int argc, char **argv)
{
    struct cli_opts o;
    struct watch w;
    leader_options lo;
    leader *l;
    char err[256];
    sigset_t set;
    int rc;

    rc = cli_parse(CMD_WATCH, argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    log_setup(LOG_NORMAL, "leader watch");
    leader_options_init(&lo);
    cli_connection_options(&o, &lo);
    lo.key = o.key;
    lo.wait_ms = o.wait_ms;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    memset(&w, 0, sizeof w);
    w.o = &o;
    /* A full pipe drops a change (said on stderr) rather than hold up the
     * library's thread, which leader_free() waits for. */
    if (pipe2(w.pipe, O_CLOEXEC) != 0 ||
        fcntl(w.pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        log_error("pipe: %s", strerror(errno));
        return 1;
    }
    l = leader_new(&lo, err, sizeof err);
    if (l == NULL)
        return usage_error("watch", "%s", err);
    leader_on(l, on_event, &w);
    rc = leader_observe(l);
    if (rc != 0) {
        log_error("%s", leader_strerror(rc));
        leader_free(l);
        return 1;
    }
    run(&w, l, &set);
    leader_free(l);
    close(w.pipe[0]);
    close(w.pipe[1]);
    return 0;
}
