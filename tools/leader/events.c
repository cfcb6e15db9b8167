/* SPDX-License-Identifier: BSD-3-Clause */
/* events.c - see events.h. */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void events_send(int fd, const leader_event *ev)
{
    struct ev_record rec;

    memset(&rec, 0, sizeof rec);
    rec.type = (int) ev->type;
    rec.error = ev->error;
    rec.term = ev->term;
    snprintf(rec.message, sizeof rec.message, "%s",
             ev->message != NULL ? ev->message : "");
    snprintf(rec.leader_id, sizeof rec.leader_id, "%s",
             ev->leader_id != NULL ? ev->leader_id : "");
    /* A full pipe loses the record; the supervisor also checks the lease
     * itself on every tick, so a lost REVOKED is still noticed. */
    if (write(fd, &rec, sizeof rec) < 0)
        return;
}

int events_recv(int fd, struct ev_record *rec)
{
    ssize_t n;

    do
        n = read(fd, rec, sizeof *rec);
    while (n == -1 && errno == EINTR);
    if (n == (ssize_t) sizeof *rec)
        return 1;
    if (n == -1 && errno == EAGAIN)
        return 0;
    return -1;
}
