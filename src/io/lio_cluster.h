/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_cluster.h - what Redis Cluster says, parsed: a key's hash slot, the
 * MOVED and ASK redirections, and the reply to CLUSTER SLOTS. Replies come
 * from the network; anything that is not exactly the expected shape is
 * refused, never half-used: a host is 0..LU_URL_HOST_MAX bytes without
 * spaces or control characters, a port is 1..65535 in plain digits, a slot
 * is 0..16383. */
#ifndef LIO_CLUSTER_H
#define LIO_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "util/lu_url.h"

#define LIO_CLUSTER_SLOTS 16384
/* Replicas kept per range of a CLUSTER SLOTS reply; more are ignored. */
#define LIO_CLUSTER_REPLICAS_MAX 8

/* The hash slot of a key: CRC16 (XMODEM) of the key, or of the part
 * between the first '{' and the next '}' when that part is not empty,
 * modulo 16384. */
unsigned lio_cluster_key_slot(const char *key, size_t len);

/* A node's address. An empty host means "the node that answered": a
 * server sends "", "?" or (in CLUSTER SLOTS) nil when it does not know how
 * the node is reached. */
struct lio_cluster_node {
    char host[LU_URL_HOST_MAX + 1];
    int port;
};

struct lio_cluster_redirect {
    int ask; /* 1: ASK (this command only), 0: MOVED (the slot moved) */
    unsigned slot;
    struct lio_cluster_node to;
};

/* An error reply's text (without the leading '-'), "MOVED <slot>
 * <host>:<port>" or "ASK <slot> <host>:<port>": 1 with out set, else 0.
 * The port follows the last ':', so an IPv6 host needs no brackets. */
int lio_cluster_redirect(const char *text, size_t len,
                         struct lio_cluster_redirect *out);

struct lio_cluster_range {
    unsigned start, end; /* inclusive */
    struct lio_cluster_node master;
    int nreplicas;
    struct lio_cluster_node replicas[LIO_CLUSTER_REPLICAS_MAX];
};

/* A CLUSTER SLOTS reply: its ranges, in order, into out, which has room
 * for cap (r->elements is always enough). Each node entry is [host, port,
 * ...]; what follows the port (node id, extra networking metadata) is
 * ignored, and so are replicas past LIO_CLUSTER_REPLICAS_MAX, though they
 * must be well-formed too. Returns the number of ranges (0 when no slot
 * is assigned), or -1 when the reply is not that shape, a range is empty,
 * backwards or out of 0..16383, two ranges overlap, or cap is too small;
 * out may then have been written to, and means nothing. */
int lio_cluster_slots(const redisReply *r, struct lio_cluster_range *out,
                      size_t cap);

#endif
