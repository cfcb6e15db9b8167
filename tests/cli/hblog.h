/* hblog.h - reading the log that leader-heartbeat children write, and
 * checking it: no two children's lifetimes overlap, and terms grow.
 *
 * A child's lifetime is judged from its start line to its last line (a
 * beat or its stop), which is conservative for the "no overlap" check in
 * the sense that it is what the child itself proved it was running. */
#ifndef LEADER_TEST_HBLOG_H
#define LEADER_TEST_HBLOG_H

#include <stddef.h>
#include <sys/types.h>

typedef struct hb_child {
    pid_t pid;
    char id[128];
    unsigned long long term;
    long long start_us, last_us; /* CLOCK_BOOTTIME, microseconds */
    int stopped;                 /* wrote its stop line */
} hb_child;

typedef struct hb_log {
    hb_child *children; /* in order of start */
    size_t n;
} hb_log;

/* Reads path (a missing file is an empty log). 0, or -1 on a malformed
 * line (message in err). */
int hb_read(const char *path, hb_log *log, char *err, size_t errlen);
void hb_free(hb_log *log);

/* 0 if the children never overlap and terms grow (a term may repeat only
 * for the same id, for a restart within one leadership), else -1 with the
 * first violation in err. */
int hb_check(const hb_log *log, char *err, size_t errlen);

/* The latest child started by id (NULL: none). */
const hb_child *hb_last_of(const hb_log *log, const char *id);

/* Time in microseconds on the log's clock (CLOCK_BOOTTIME). */
long long hb_now_us(void);

#endif
