/* SPDX-License-Identifier: BSD-3-Clause */
/* loop_libuv.c - libleader inside a libuv loop, with no thread of its own:
 * one uv_poll_t watches leader_fd(), one uv_timer_t follows
 * leader_timeout_ms(), and both call leader_process(). The candidate is
 * elected, stops, sees its REVOKED and exits 0 (1 after 10 s without).
 *
 * Usage: loop_libuv [REDIS_URL] */
#define _GNU_SOURCE /* uv.h needs POSIX threads' types */

#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "leader.h"

struct app {
    leader *l;
    uv_poll_t poll;
    uv_timer_t timer, give_up;
    int done, revoked;
};

static void process(struct app *a);

static void on_timer(uv_timer_t *t)
{
    process(t->data);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void) status;
    (void) events;
    process(p->data);
}

/* Runs libleader, then re-arms the timer for its next deadline. */
static void process(struct app *a)
{
    int ms;

    if (a->done)
        return;
    leader_process(a->l);
    ms = leader_timeout_ms(a->l);
    if (ms >= 0)
        uv_timer_start(&a->timer, on_timer, (uint64_t) ms, 0);
    else
        uv_timer_stop(&a->timer);
}

static void finish(struct app *a)
{
    a->done = 1;
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->timer);
    uv_timer_stop(&a->give_up);
    uv_close((uv_handle_t *) &a->poll, NULL);
    uv_close((uv_handle_t *) &a->timer, NULL);
    uv_close((uv_handle_t *) &a->give_up, NULL);
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
        finish(a);
    } else if (ev->type == LEADER_EVENT_ERROR) {
        fprintf(stderr, "error: %s\n", ev->message);
    }
}

static void on_give_up(uv_timer_t *t)
{
    struct app *a = t->data;

    fprintf(stderr, "no election within 10 s\n");
    finish(a);
}

int main(int argc, char **argv)
{
    struct app a = {0};
    leader_options o;
    char err[256];
    int ok;

    leader_options_init(&o);
    o.url = argc > 1 ? argv[1] : NULL;
    o.key = "loop-libuv";
    o.event_loop = 1;
    a.l = leader_new(&o, err, sizeof err);
    if (a.l == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    leader_on(a.l, on_event, &a);
    uv_poll_init(uv_default_loop(), &a.poll, leader_fd(a.l));
    uv_timer_init(uv_default_loop(), &a.timer);
    uv_timer_init(uv_default_loop(), &a.give_up);
    a.poll.data = a.timer.data = a.give_up.data = &a;
    uv_poll_start(&a.poll, UV_READABLE, on_readable);
    uv_timer_start(&a.give_up, on_give_up, 10000, 0);
    leader_elect(a.l);
    process(&a);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    ok = a.revoked && leader_has_lease(a.l) == 0;
    leader_free(a.l); /* runs the loop until the release is confirmed */
    uv_loop_close(uv_default_loop());
    return ok ? 0 : 1;
}
