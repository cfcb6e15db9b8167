/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_sentinel.h - what Redis Sentinel says, parsed: the reply to SENTINEL
 * get-master-addr-by-name, a +switch-master message, and the ROLE of the
 * server a sentinel named. Both come from the
 * network; anything that is not exactly the expected shape is refused,
 * never half-used: a host is 1..LU_URL_HOST_MAX bytes without spaces or
 * control characters, a port is 1..65535 in plain digits. */
#ifndef LIO_SENTINEL_H
#define LIO_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "util/lu_url.h"

/* The master's address from a get-master-addr-by-name reply: 1 with host
 * and port set, 0 for nil (the sentinel knows no master of that name), -1
 * for anything else. */
int lio_sentinel_master_addr(const redisReply *r,
                             char host[LU_URL_HOST_MAX + 1], int *port);

/* A ROLE reply of a master: ["master", offset, replicas], the first
 * element a string or status of exactly "master". 1 or 0. */
int lio_sentinel_role_master(const redisReply *r);

/* A +switch-master message, "<name> <old-ip> <old-port> <new-ip>
 * <new-port>": 1 with the new address in host and port when it is one and
 * names the master called name, else 0. The old address goes to from
 * (port 0 when it is not a valid one). */
int lio_sentinel_switch(const char *msg, size_t len, const char *name,
                        struct lu_url_node *from,
                        char host[LU_URL_HOST_MAX + 1], int *port);

#endif
