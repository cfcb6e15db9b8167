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
 * tells them apart by lineage, the history of a node's data as the map can
 * know it: 1 for the cluster as first found. A node that takes over a slot
 * from another while it was not known to serve any (a replica in the
 * previous map, a node the map had not heard of, or one that has lost a
 * slot since) may have been promoted, and gets a new lineage. A master
 * the map knows to be serving is a resharding's target when it takes a
 * slot: the slot's keys arrive with their history, whose lineage it
 * takes.
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

/* Whether a node serves slots, as the map knows. */
enum lio_cmap_serving {
    LIO_CMAP_IDLE = 0, /* not known to: a replica, unknown, or it lost a slot */
    LIO_CMAP_SERVING,  /* a master in the last map, not seen to lose a slot */
    LIO_CMAP_PROMOTED, /* took a slot over from a node since the last map */
    LIO_CMAP_FOUND     /* since the last map, served only slots that the map
                        * knew no one to serve */
};

struct lio_cmap_node {
    struct lio_cluster_node addr;
    int master;                    /* the node it replicated in the last
                                    * map, -1: none */
    enum lio_cmap_serving serving; /* as the map knows */
    uint64_t lineage;              /* see above; 0 never */
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
