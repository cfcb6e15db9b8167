/* SPDX-License-Identifier: BSD-3-Clause */
/* watch.c - `leader watch`: one line per change of leader, until
 * interrupted. It observes the election (leader_observe) and prints each
 * CHANGED event as it comes: the time, what happened, the leader's id and
 * the term; --json prints one JSON object per line instead. Errors go to
 * stderr, and watching goes on through them. Exit 0 on SIGINT, SIGTERM or
 * SIGHUP, 2 on bad usage. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <leader.h>

#include "cli.h"
#include "opts.h"
#include "log.h"

static void print_change(const leader_event *ev, int json)
{
    char stamp[40];

    format_time(stamp, sizeof stamp);
    if (!json) {
        printf("%s %-9s %s term %" PRIu64 "\n", stamp, ev->message,
               ev->leader_id != NULL ? ev->leader_id : "-", ev->term);
    } else {
        printf("{\"time\":\"%s\",\"event\":", stamp);
        json_string(ev->message);
        fputs(",\"id\":", stdout);
        if (ev->leader_id != NULL)
            json_string(ev->leader_id);
        else
            fputs("null", stdout);
        printf(",\"term\":%" PRIu64 "}\n", ev->term);
    }
    fflush(stdout);
}

/* Runs on the library's thread; the main thread only waits for signals. */
static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    const struct cli_opts *o = userdata;

    (void) l;
    if (ev->type == LEADER_EVENT_CHANGED)
        print_change(ev, o->json);
    else if (ev->type == LEADER_EVENT_ERROR)
        log_error("%s", ev->message);
}

int cmd_watch(int argc, char **argv)
{
    struct cli_opts o;
    leader_options lo;
    leader *l;
    char err[256];
    sigset_t set;
    int rc, sig;

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
    l = leader_new(&lo, err, sizeof err);
    if (l == NULL)
        return usage_error("watch", "%s", err);
    leader_on(l, on_event, &o);
    rc = leader_observe(l);
    if (rc != 0) {
        log_error("%s", leader_strerror(rc));
        leader_free(l);
        return 1;
    }
    sigwait(&set, &sig);
    leader_free(l);
    return 0;
}
