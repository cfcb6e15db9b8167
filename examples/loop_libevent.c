/* SPDX-License-Identifier: BSD-3-Clause */
/* loop_libevent.c - libleader inside a libevent loop, with no thread of
 * its own: one persistent read event on leader_fd() and one timer
 * following leader_timeout_ms(), both calling leader_process(). The
 * candidate is elected, stops, sees its REVOKED and exits 0 (1 after 10 s
 * without).
 *
 * Usage: loop_libevent [REDIS_URL] */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "leader.h"

struct app {
    leader *l;
    struct event_base *base;
    struct event *readable, *timer;
    int revoked;
};

/* Runs libleader, then re-arms the timer for its next deadline. */
static void process(struct app *a)
{
    int ms;

    leader_process(a->l);
    if (a->revoked) {
        event_base_loopbreak(a->base);
        return;
    }
    ms = leader_timeout_ms(a->l);
    if (ms >= 0) {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(a->timer, &tv);
    } else {
        evtimer_del(a->timer);
    }
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    process(arg);
}

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct app *a = userdata;

    if (ev->type == LEADER_EVENT_ELECTED) {
        printf("elected with term %llu\n", (unsigned long long) ev->term);
        leader_stop(l); /* carried out by the next leader_process() */
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        printf("revoked: %s\n", ev->message);
        a->revoked = 1;
    } else if (ev->type == LEADER_EVENT_ERROR) {
        fprintf(stderr, "error: %s\n", ev->message);
    }
}

int main(int argc, char **argv)
{
    struct app a = {0};
    struct timeval ten = {10, 0};
    leader_options o;
    char err[256];
    int ok;

    leader_options_init(&o);
    o.url = argc > 1 ? argv[1] : NULL;
    o.key = "loop-libevent";
    o.event_loop = 1;
    a.l = leader_new(&o, err, sizeof err);
    if (a.l == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    leader_on(a.l, on_event, &a);
    a.base = event_base_new();
    a.readable =
        event_new(a.base, leader_fd(a.l), EV_READ | EV_PERSIST, on_ready, &a);
    a.timer = evtimer_new(a.base, on_ready, &a);
    event_add(a.readable, NULL);
    leader_elect(a.l);
    process(&a);
    event_base_loopexit(a.base, &ten);
    event_base_dispatch(a.base);
    ok = a.revoked && leader_has_lease(a.l) == 0;
    if (!ok)
        fprintf(stderr, "no election within 10 s\n");
    event_free(a.readable);
    event_free(a.timer);
    event_base_free(a.base);
    leader_free(a.l); /* runs the loop until the release is confirmed */
    return ok ? 0 : 1;
}
