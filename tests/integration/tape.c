/* SPDX-License-Identifier: BSD-3-Clause */
/* tape.c - see tape.h. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tape.h"

void tape_init(struct tape *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
}

void tape_destroy(struct tape *t)
{
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

void tape_record(leader *l, const leader_event *ev, void *userdata)
{
    struct tape *t = userdata;
    int64_t at = leader_clock_ms();

    pthread_mutex_lock(&t->lock);
    if (t->n < TAPE_MAX) {
        struct tape_entry *e = &t->e[t->n++];
        e->l = l;
        e->type = ev->type;
        e->error = ev->error;
        e->at = at;
        e->has_leader = ev->leader_id != NULL;
        snprintf(e->message, sizeof e->message, "%s", ev->message);
    }
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static int find_locked(struct tape *t, const leader *l, leader_event_type type,
                       struct tape_entry *out)
{
    for (int i = 0; i < t->n; i++)
        if ((l == NULL || t->e[i].l == l) && t->e[i].type == type) {
            if (out != NULL)
                *out = t->e[i];
            return 1;
        }
    return 0;
}

int tape_wait(struct tape *t, const leader *l, leader_event_type type,
              int64_t until_ms, struct tape_entry *out)
{
    int found;

    pthread_mutex_lock(&t->lock);
    while (!(found = find_locked(t, l, type, out)) &&
           leader_clock_ms() < until_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000L; /* short waits: the bound is on the
                                     * library's clock, not this one */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

int tape_count(struct tape *t, const leader *l, leader_event_type type)
{
    int n = 0;

    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n; i++)
        n += (l == NULL || t->e[i].l == l) && t->e[i].type == type;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void tape_dump(struct tape *t)
{
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n; i++)
        fprintf(stderr, "  %lld %p type %d error %d: %s\n",
                (long long) t->e[i].at, (const void *) t->e[i].l,
                (int) t->e[i].type, t->e[i].error, t->e[i].message);
    pthread_mutex_unlock(&t->lock);
}
