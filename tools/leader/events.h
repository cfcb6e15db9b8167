/* SPDX-License-Identifier: BSD-3-Clause */
/* events.h - the library's events, carried from its thread to the main
 * thread through a pipe. The callback does nothing else: one write of a
 * fixed-size record (smaller than PIPE_BUF, so it is atomic), copying the
 * message, which is valid only during the callback. */
#ifndef LEADER_CLI_EVENTS_H
#define LEADER_CLI_EVENTS_H

#include <stdint.h>

#include <leader.h>

struct ev_record {
    int type;  /* leader_event_type */
    int error; /* LEADER_E... */
    uint64_t term;
    char message[240];
    char leader_id[256]; /* "" when the event names nobody */
};

/* From the callback: writes ev to the pipe (non-blocking). */
void events_send(int fd, const leader_event *ev);

/* From the main thread: reads one record. Returns 1, 0 when the pipe is
 * empty, -1 on error. */
int events_recv(int fd, struct ev_record *rec);

#endif
