/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_cmap.h - a Redis Cluster as one client sees it: which node serves
 * each hash slot, the nodes it has heard of, and which of them became a
 * master by a failover.
 *
 * Elections move between masters in two ways that look alike on the wire
 * (a MOVED, a new slot map) and differ in what the new master holds. A
 * resharding moves a slot's keys with MIGRATE, each key whole with its
 * TTL: the holder key and the term counter arrive as they were. A
 * failover promotes a replica, which may lack the last writes. The map
 * tells them apart: a node that takes over slots from the master it
 * replicated in the previous map was promoted, and gets a new lineage.
 * The transport reports a node's lineage as the server behind its link,
 * so an election that arrives at a promoted master is fresh there
 * (lc_input.fresh): its leader steps down and it waits a ttl before it
 * acquires.
 *
 * Pure: fed with what servers say, no I/O, no clock. Node 0 is the server
 * of the URL.
 */
#ifndef LIO_CMAP_H
#define LIO_CMAP_H

#include <stddef.h>
#include <stdint.h>

#include "io/lio_cluster.h"

#define LIO_CMAP_NODES_MAX 256

struct lio_cmap_node {
    struct lio_cluster_node addr;
    int master;       /* the node it replicated in the last map, -1: none */
    uint64_t lineage; /* 1, or a new value each time it is promoted */
};

struct lio_cmap {
    uint16_t *owner; /* by slot: node index + 1, 0 when unknown */
    struct lio_cmap_node *nodes;
    size_t n, cap;
    uint64_t next_lineage;
};

/* Node 0 is host:port. 0, or -1 when out of memory. */
int lio_cmap_init(struct lio_cmap *m, const char *host, int port);
void lio_cmap_free(struct lio_cmap *m);

/* The index of the node at addr, added when new (an empty host is
 * from's). -1 when the map is full or out of memory. */
int lio_cmap_node(struct lio_cmap *m, const struct lio_cluster_node *addr,
                  int from);

/* A redirection that came from node from: the index of the node to send
 * to (-1 as lio_cmap_node). A MOVED also moves the slot there. */
int lio_cmap_redirect(struct lio_cmap *m, const struct lio_cluster_redirect *r,
                      int from);

/* A whole map (a CLUSTER SLOTS reply, parsed) asked of node from. Slots
 * it leaves out become unknown. 0, or -1 when a node could not be added
 * (what could be is applied). */
int lio_cmap_apply(struct lio_cmap *m, const struct lio_cluster_range *ranges,
                   int n, int from);

/* The node serving slot, -1 when unknown. */
int lio_cmap_owner(const struct lio_cmap *m, unsigned slot);

#endif
