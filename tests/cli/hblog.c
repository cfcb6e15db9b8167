/* SPDX-License-Identifier: BSD-3-Clause */
/* hblog.c - see hblog.h. */
#define _GNU_SOURCE
#include "hblog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long hb_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The latest process with this pid (pids are reused, the latest is the
 * one that writes now). */
static hb_child *find_proc(hb_log *log, pid_t pid)
{
    for (size_t i = log->nprocs; i-- > 0;)
        if (log->procs[i].pid == pid)
            return &log->procs[i];
    return NULL;
}

/* The child a new process joins: the latest one with its group, id and
 * term (all three: its members inherit the id and term, and a group id
 * reused by a later child comes with another term). */
static long find_child(const hb_log *log, pid_t group, const char *id,
                       unsigned long long term)
{
    for (size_t i = log->n; i-- > 0;) {
        const hb_child *c = &log->children[i];

        if (c->group == group && c->term == term && strcmp(c->id, id) == 0)
            return (long) i;
    }
    return -1;
}

static int append(hb_child **v, size_t *n, const hb_child *c)
{
    hb_child *grown = realloc(*v, (*n + 1) * sizeof *grown);

    if (grown == NULL)
        return -1;
    *v = grown;
    grown[(*n)++] = *c;
    return 0;
}

static int add_proc(hb_log *log, pid_t pid, pid_t group, const char *id,
                    unsigned long long term, long long us)
{
    hb_child p;
    long ci = find_child(log, group, id, term);

    memset(&p, 0, sizeof p);
    p.pid = p.last_pid = pid;
    p.group = group;
    snprintf(p.id, sizeof p.id, "%s", id);
    p.term = term;
    p.start_us = p.last_us = us;
    p.members = 1;
    if (ci < 0) {
        hb_child c = p;

        c.pid = group;
        if (append(&log->children, &log->n, &c) != 0)
            return -1;
        ci = (long) log->n - 1;
    } else {
        hb_child *c = &log->children[ci];

        c->members++;
        c->stopped = 0;
        if (us < c->start_us)
            c->start_us = us;
        if (us > c->last_us) {
            c->last_us = us;
            c->last_pid = pid;
        }
    }
    p.child = (size_t) ci;
    return append(&log->procs, &log->nprocs, &p);
}

/* Applies one line; -1 if malformed. */
static int apply(hb_log *log, const char *line)
{
    char what[16], id[128];
    unsigned long long term;
    long long us, frac;
    int pid, group = 0, n;
    hb_child *p, *c;

    n = sscanf(line, "%15s %llu %127s %lld.%3lld %d %d", what, &term, id, &us,
               &frac, &pid, &group);
    if (n != 6 && (n != 7 || group <= 0))
        return -1;
    if (n == 6)
        group = pid;
    us = us * 1000 + frac; /* the log has ms with 3 decimals */
    if (strcmp(what, "start") == 0)
        return add_proc(log, pid, group, id, term, us);
    p = find_proc(log, pid);
    if (p == NULL || p->group != group)
        return -1;
    c = &log->children[p->child];
    if (us > p->last_us)
        p->last_us = us;
    if (us > c->last_us) {
        c->last_us = us;
        c->last_pid = pid;
    }
    if (strcmp(what, "stop") == 0) {
        if (!p->stopped)
            c->nstopped++;
        p->stopped = 1;
        c->stopped = c->nstopped == c->members;
    } else if (strcmp(what, "beat") != 0) {
        return -1;
    }
    return 0;
}

int hb_read(const char *path, hb_log *log, char *err, size_t errlen)
{
    char line[512];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    memset(log, 0, sizeof *log);
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        /* The last line may be half-written while a child writes it. */
        if (strchr(line, '\n') == NULL)
            break;
        if (apply(log, line) != 0) {
            snprintf(err, errlen, "%s:%d: bad line: %s", path, lineno, line);
            fclose(f);
            hb_free(log);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

void hb_free(hb_log *log)
{
    free(log->children);
    free(log->procs);
    memset(log, 0, sizeof *log);
}

int hb_check(const hb_log *log, char *err, size_t errlen)
{
    const hb_child *latest = NULL; /* the child that ended last so far */

    for (size_t i = 0; i < log->n; i++) {
        const hb_child *c = &log->children[i];
        const hb_child *p = i > 0 ? &log->children[i - 1] : NULL;

        if (latest != NULL && c->start_us <= latest->last_us) {
            snprintf(err, errlen,
                     "overlap: child %d (%s, term %llu) started at %lld us, "
                     "before child %d (%s, term %llu) was last seen at %lld "
                     "us (process %d)",
                     (int) c->pid, c->id, c->term, c->start_us,
                     (int) latest->pid, latest->id, latest->term,
                     latest->last_us, (int) latest->last_pid);
            return -1;
        }
        if (p != NULL && c->term <= p->term) {
            snprintf(err, errlen,
                     "terms do not grow: child %d (%s) has term %llu after "
                     "child %d (%s) with term %llu",
                     (int) c->pid, c->id, c->term, (int) p->pid, p->id,
                     p->term);
            return -1;
        }
        if (latest == NULL || c->last_us > latest->last_us)
            latest = c;
    }
    return 0;
}

const hb_child *hb_last_of(const hb_log *log, const char *id)
{
    for (size_t i = log->n; i-- > 0;)
        if (strcmp(log->children[i].id, id) == 0)
            return &log->children[i];
    return NULL;
}
