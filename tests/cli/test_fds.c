/* SPDX-License-Identifier: BSD-3-Clause */
/* test_fds.c - what `leader run`'s child inherits: its standard streams
 * only. The supervisor holds Redis connections, an epoll set and an
 * eventfd while it starts the child; none of them may reach the child
 * (the library sets close-on-exec on all of them, and the watchdog that
 * forks the child closes whatever else it inherited). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

TEST(run_child_holds_only_its_standard_streams)
{
    rfx_server *s;
    char out[8192], err[8192];
    int others = 0, lines = 0;
    const char *argv[] = {LEADER_BIN, "run",      "--redis", NULL,
                          "--key",    "fds",      "--ttl",   "2000",
                          "--",       FDLIST_BIN, NULL};

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(NULL);
    ASSERT_NOT_NULL(s);
    argv[3] = rfx_url(s);
    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 10000), 0);
    for (char *line = strtok(out, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        lines++;
        if (atoi(line) > 2) {
            fprintf(stderr, "the child holds: %s\n", line);
            others++;
        }
    }
    ASSERT_GE(lines, 1);
    ASSERT_EQ(others, 0);
    rfx_free(s);
}
