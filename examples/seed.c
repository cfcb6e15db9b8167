/* SPDX-License-Identifier: BSD-3-Clause */
/* seed.c - node-leader's README scenario in C: two candidates of one
 * election; the first is elected, checks with Redis that it leads, does
 * its task and stops; the second takes over at once.
 *
 * Usage: seed [REDIS_URL]   (default $LEADER_REDIS_URL or the local one)
 * Exit status 0 when the scenario ran as described. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leader.h"

struct candidate {
    const char *name;
    leader *l;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int elected, revoked;
    uint64_t term;
};

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct candidate *c = userdata;

    pthread_mutex_lock(&c->lock);
    switch (ev->type) {
    case LEADER_EVENT_ELECTED:
        printf("%s got elected (term %llu)\n", c->name,
               (unsigned long long) ev->term);
        c->elected++;
        c->term = ev->term;
        break;
    case LEADER_EVENT_REVOKED:
        printf("%s got revoked (%s)\n", c->name, ev->message);
        c->revoked++;
        break;
    case LEADER_EVENT_ERROR:
        fprintf(stderr, "%s error: %s\n", c->name, ev->message);
        break;
    default: /* who leads changed, and kinds added later */
        break;
    }
    fflush(stdout);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    (void) l;
}

/* Waits up to ms for *counter to reach at least want. */
static int wait_for(struct candidate *c, int *counter, int want, long ms)
{
    struct timespec ts;
    int ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (*counter < want)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
            break;
    ok = *counter >= want;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Reads a counter under the candidate's lock. */
static int get(struct candidate *c, const int *counter)
{
    int v;

    pthread_mutex_lock(&c->lock);
    v = *counter;
    pthread_mutex_unlock(&c->lock);
    return v;
}

static int make(struct candidate *c, const char *name, const char *url)
{
    leader_options opts;
    char err[256];

    memset(c, 0, sizeof *c);
    c->name = name;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    leader_options_init(&opts);
    opts.url = url;
    opts.key = "some_key";
    opts.ttl_ms = 20000;
    opts.wait_ms = 2000;
    c->l = leader_new(&opts, err, sizeof err);
    if (c->l == NULL) {
        fprintf(stderr, "%s: %s\n", name, err);
        return -1;
    }
    printf("%s id: %s\nlock key: %s\n", name, leader_id(c->l),
           leader_key(c->l));
    leader_on(c->l, on_event, c);
    return 0;
}

static void destroy(struct candidate *c)
{
    leader_free(c->l);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

static int scenario(struct candidate *one, struct candidate *two)
{
    int is;

    printf("candidate1 try to get elected as leader...\n");
    if (leader_elect(one->l) != 0 || !wait_for(one, &one->elected, 1, 5000))
        return fprintf(stderr, "candidate1 was not elected\n"), -1;
    is = leader_is_leader(one->l);
    printf("candidate1 is %sthe Leader!\n", is == 1 ? "" : "not ");
    if (is != 1)
        return -1;
    printf("candidate2 try to get elected as leader...\n");
    if (leader_elect(two->l) != 0)
        return -1;
    /* performing some task */
    printf("candidate1 stop trying to be a leader...\n");
    if (leader_stop(one->l) != 0 || get(one, &one->revoked) != 1)
        return fprintf(stderr, "candidate1 was not revoked\n"), -1;
    if (!wait_for(two, &two->elected, 1, 5000))
        return fprintf(stderr, "candidate2 did not take over\n"), -1;
    if (two->term <= one->term || leader_is_leader(two->l) != 1 ||
        leader_is_leader(one->l) != 0)
        return fprintf(stderr, "terms or holder are wrong\n"), -1;
    return leader_stop(two->l) == 0 && get(two, &two->revoked) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct candidate one, two;
    const char *url = argc > 1 ? argv[1] : NULL;
    int rc;

    if (make(&one, "candidate1", url) != 0)
        return 1;
    if (make(&two, "candidate2", url) != 0) {
        destroy(&one);
        return 1;
    }
    rc = scenario(&one, &two);
    destroy(&one);
    destroy(&two);
    printf("%s\n", rc == 0 ? "scenario complete" : "scenario FAILED");
    return rc == 0 ? 0 : 1;
}
