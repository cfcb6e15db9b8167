/* SPDX-License-Identifier: BSD-3-Clause */
/* hbcheck.c - leader-hbcheck LOG: checks a leader-heartbeat log from a
 * shell script or the benchmark (no overlap, terms grow strictly) and
 * prints one line per child (a process tree when the log has GROUP
 * fields). Exit 0 ok, 1 violation, 2 unreadable. */
#include <stdio.h>

#include "hblog.h"

int main(int argc, char **argv)
{
    char err[512];
    hb_log log;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: leader-hbcheck LOG\n");
        return 2;
    }
    if (hb_read(argv[1], &log, err, sizeof err) != 0) {
        fprintf(stderr, "leader-hbcheck: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < log.n; i++) {
        const hb_child *c = &log.children[i];

        printf("child %d id %s term %llu from %lld to %lld us%s", (int) c->pid,
               c->id, c->term, c->start_us, c->last_us,
               c->stopped ? " (stopped)" : "");
        if (c->members > 1)
            printf(" (%d processes, the last line by %d)", c->members,
                   (int) c->last_pid);
        putchar('\n');
    }
    rc = hb_check(&log, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "leader-hbcheck: %s\n", err);
    hb_free(&log);
    return rc == 0 ? 0 : 1;
}
