/* SPDX-License-Identifier: BSD-3-Clause */
/* candidates.c - see candidates.h. */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

rfx_server *start_redis(const rfx_options *o)
{
    rfx_server *s;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(o);
    if (s == NULL)
        FAIL("redis-server did not start");
    return s;
}

pid_t spawn_leader_opts(const leader_options *o)
{
    int fds[2];
    pid_t pid;
    char b;

    ASSERT_OK(pipe(fds));
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        leader *l = leader_new(o, NULL, 0);
        if (l == NULL || leader_elect(l) != 0)
            _exit(2);
        for (int i = 0; i < 500 && !leader_has_lease(l); i++)
            sleep_ms(10);
        if (write(fds[1], "x", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(fds[1]);
    ASSERT_EQ(read(fds[0], &b, 1), 1);
    close(fds[0]);
    return pid;
}

pid_t spawn_leader(const char *url, const char *key, long ttl, const char *id)
{
    leader_options o;

    leader_options_init(&o);
    o.url = url;
    o.key = key;
    o.ttl_ms = ttl;
    o.id = id;
    return spawn_leader_opts(&o);
}

int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void on_event(leader *l, const leader_event *ev, void *userdata)
{
    struct cand *c = userdata;
    struct world *w = c->w;

    (void) l;
    pthread_mutex_lock(&w->lock);
    if (w->n < LOG_MAX) {
        struct logged *e = &w->log[w->n++];
        e->cand = c->index;
        e->type = ev->type;
        e->term = ev->term;
        e->error = ev->error;
        e->at_ms = now_ms();
        snprintf(e->message, sizeof e->message, "%s", ev->message);
        snprintf(e->leader_id, sizeof e->leader_id, "%s",
                 ev->leader_id != NULL ? ev->leader_id : "");
    }
    /* The hook runs under the lock too, so that a test which saw the last
     * event may free the world: the library touches nothing of it after. */
    if (w->hook != NULL)
        w->hook(c, ev);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

void world_free(struct world *w)
{
    for (int i = 0; i < w->ncand; i++)
        leader_free(w->c[i].l);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

struct cand *world_add_opts(struct world *w, const leader_options *o)
{
    char err[256];
    struct cand *c;

    ASSERT_LT(w->ncand, CAND_MAX);
    c = &w->c[w->ncand];
    c->l = leader_new(o, err, sizeof err);
    if (c->l == NULL)
        FAIL("leader_new: %s", err);
    c->w = w;
    c->index = w->ncand++;
    leader_on(c->l, on_event, c);
    return c;
}

struct cand *world_add(struct world *w, const char *url, const char *key,
                       long ttl_ms, long wait_ms)
{
    leader_options o;

    leader_options_init(&o);
    o.url = url;
    o.key = key;
    o.ttl_ms = ttl_ms;
    o.wait_ms = wait_ms;
    return world_add_opts(w, &o);
}

static int count_locked(struct world *w, int cand, leader_event_type type)
{
    int n = 0;

    for (int i = 0; i < w->n; i++)
        if (w->log[i].type == type && (cand < 0 || w->log[i].cand == cand))
            n++;
    return n;
}

int world_count(struct world *w, int cand, leader_event_type type)
{
    int n;

    pthread_mutex_lock(&w->lock);
    n = count_locked(w, cand, type);
    pthread_mutex_unlock(&w->lock);
    return n;
}

int world_wait(struct world *w, int cand, leader_event_type type, int want,
               long ms)
{
    struct timespec ts;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while ((n = count_locked(w, cand, type)) < want)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0) {
            n = count_locked(w, cand, type);
            break;
        }
    pthread_mutex_unlock(&w->lock);
    return n;
}

int world_last(struct world *w, int cand, leader_event_type type,
               struct logged *out)
{
    int found = -1;

    pthread_mutex_lock(&w->lock);
    for (int i = w->n - 1; i >= 0 && found < 0; i--)
        if (w->log[i].type == type && (cand < 0 || w->log[i].cand == cand))
            found = i;
    if (found >= 0 && out != NULL)
        *out = w->log[found];
    pthread_mutex_unlock(&w->lock);
    return found;
}

int world_wait_leader(struct world *w, long ms)
{
    int64_t end = now_ms() + ms;

    do {
        int holders = 0, who = -1;
        for (int i = 0; i < w->ncand; i++)
            if (leader_has_lease(w->c[i].l)) {
                holders++;
                who = i;
            }
        if (holders > 1)
            world_dump(w);
        ASSERT_LE(holders, 1);
        if (holders == 1)
            return who;
        sleep_ms(5);
    } while (now_ms() < end);
    return -1;
}

static void dump_log(struct world *w)
{
    static const char *names[] = {"?", "ELECTED", "REVOKED", "ERROR",
                                  "CHANGED"};

    for (int i = 0; i < w->n; i++)
        fprintf(stderr, "  %6lld ms  cand %d  %-7s term %llu  err %d  %s  %s\n",
                (long long) (w->log[i].at_ms - w->log[0].at_ms), w->log[i].cand,
                names[w->log[i].type], (unsigned long long) w->log[i].term,
                w->log[i].error, w->log[i].message, w->log[i].leader_id);
}

void world_check_log(struct world *w)
{
    int open = -1;
    uint64_t last_term = 0, open_term = 0;
    const char *problem = NULL;

    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n && problem == NULL; i++) {
        const struct logged *e = &w->log[i];
        if (e->type == LEADER_EVENT_ELECTED) {
            if (open >= 0)
                problem = "ELECTED while another leadership is open";
            else if (e->term <= last_term)
                problem = "term did not grow";
            open = e->cand;
            open_term = last_term = e->term;
        } else if (e->type == LEADER_EVENT_REVOKED) {
            if (open != e->cand || e->term != open_term)
                problem = "REVOKED without a matching ELECTED";
            open = -1;
        }
    }
    if (problem != NULL)
        dump_log(w);
    pthread_mutex_unlock(&w->lock);
    if (problem != NULL)
        FAIL("event log: %s", problem);
}

void world_dump(struct world *w)
{
    pthread_mutex_lock(&w->lock);
    dump_log(w);
    pthread_mutex_unlock(&w->lock);
}

void run_loops(leader *a, leader *b, long ms, const int *until, int want)
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end && (until == NULL || *until < want)) {
        struct pollfd pfd[2] = {{leader_fd(a), POLLIN, 0},
                                {leader_fd(b), POLLIN, 0}};
        int ta = leader_timeout_ms(a), tb = leader_timeout_ms(b);
        int t = ta < 0 ? tb : tb < 0 ? ta : ta < tb ? ta : tb;
        long left = (long) (end - now_ms());

        if (t < 0 || t > left)
            t = (int) (left > 0 ? left : 0);
        ASSERT_GE(poll(pfd, 2, t), 0);
        ASSERT_OK(leader_process(a));
        ASSERT_OK(leader_process(b));
    }
}

leader *new_handle(const char *url, const char *key, const char *id, long ttl,
                   long wait, int event_loop)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.url = url;
    o.key = key;
    o.id = id;
    o.ttl_ms = ttl;
    o.wait_ms = wait;
    o.event_loop = event_loop;
    l = leader_new(&o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_new: %s", err);
    return l;
}
