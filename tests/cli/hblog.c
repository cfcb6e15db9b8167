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

static hb_child *find(hb_log *log, pid_t pid)
{
    for (size_t i = log->n; i-- > 0;)
        if (log->children[i].pid == pid)
            return &log->children[i];
    return NULL;
}

static int add_child(hb_log *log, pid_t pid, const char *id,
                     unsigned long long term, long long us)
{
    hb_child *c = realloc(log->children, (log->n + 1) * sizeof *c);

    if (c == NULL)
        return -1;
    log->children = c;
    c = &log->children[log->n++];
    memset(c, 0, sizeof *c);
    c->pid = pid;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->term = term;
    c->start_us = c->last_us = us;
    return 0;
}

/* Applies one line; -1 if malformed. */
static int apply(hb_log *log, const char *line)
{
    char what[16], id[128];
    unsigned long long term;
    long long us, frac;
    int pid;
    hb_child *c;

    if (sscanf(line, "%15s %llu %127s %lld.%3lld %d", what, &term, id, &us,
               &frac, &pid) != 6)
        return -1;
    us = us * 1000 + frac; /* the log has ms with 3 decimals */
    if (strcmp(what, "start") == 0)
        return add_child(log, pid, id, term, us);
    c = find(log, pid);
    if (c == NULL)
        return -1;
    if (us > c->last_us)
        c->last_us = us;
    if (strcmp(what, "stop") == 0)
        c->stopped = 1;
    else if (strcmp(what, "beat") != 0)
        return -1;
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
    log->children = NULL;
    log->n = 0;
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
                     "before child %d (%s, term %llu) was last seen at %lld us",
                     (int) c->pid, c->id, c->term, c->start_us,
                     (int) latest->pid, latest->id, latest->term,
                     latest->last_us);
            return -1;
        }
        if (p != NULL && !(c->term > p->term ||
                           (c->term == p->term && !strcmp(c->id, p->id)))) {
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
