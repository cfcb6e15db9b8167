/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_cmap.c - see lio_cmap.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/lio_cmap.h"

int lio_cmap_init(struct lio_cmap *m, const char *host, int port)
{
    struct lio_cluster_node seed;

    memset(m, 0, sizeof *m);
    m->next_lineage = 2;
    m->owner = calloc(LIO_CLUSTER_SLOTS, sizeof *m->owner);
    snprintf(seed.host, sizeof seed.host, "%s", host);
    seed.port = port;
    if (m->owner == NULL || lio_cmap_node(m, &seed, 0) != 0) {
        lio_cmap_free(m);
        return -1;
    }
    return 0;
}

void lio_cmap_free(struct lio_cmap *m)
{
    free(m->owner);
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

static int same(const struct lio_cluster_node *a,
                const struct lio_cluster_node *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

int lio_cmap_node(struct lio_cmap *m, const struct lio_cluster_node *addr,
                  int from)
{
    struct lio_cluster_node a = *addr;

    if (a.host[0] == '\0' && (size_t) from < m->n)
        memcpy(a.host, m->nodes[from].addr.host, sizeof a.host);
    for (size_t i = 0; i < m->n; i++)
        if (same(&m->nodes[i].addr, &a))
            return (int) i;
    if (m->n == LIO_CMAP_NODES_MAX)
        return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct lio_cmap_node *p = realloc(m->nodes, cap * sizeof *p);
        if (p == NULL)
            return -1;
        m->nodes = p;
        m->cap = cap;
    }
    m->nodes[m->n].addr = a;
    m->nodes[m->n].master = -1;
    m->nodes[m->n].serving = LIO_CMAP_IDLE;
    m->nodes[m->n].lineage = 1;
    return (int) m->n++;
}

/* Node to now serves slot. A master the map knew to be serving is a
 * resharding's target: the slot's keys arrive whole, with their history,
 * which is the lineage it takes (the one it had may be another: what it
 * held before is not what it holds now). Another node that takes the
 * slot over from a node may be a replica promoted by a failover, whether
 * or not the map knew it as that node's replica (the last map may have
 * left it out, or come from a node behind): a new lineage, which no other
 * slot it takes before the next map changes. One that serves a slot the
 * map knew no one to serve is taken for the cluster as first found, until
 * it takes a slot from a node. The node that lost the slot may have been
 * demoted: it is not taken for serving until a map says so again. */
static void take_slot(struct lio_cmap *m, unsigned slot, int to)
{
    struct lio_cmap_node *n = &m->nodes[to];
    int was = m->owner[slot] - 1;

    m->owner[slot] = (uint16_t) (to + 1);
    if (was == to)
        return;
    if (was >= 0)
        m->nodes[was].serving = LIO_CMAP_IDLE;
    if (n->serving == LIO_CMAP_SERVING && was >= 0) {
        n->lineage = m->nodes[was].lineage;
    } else if ((n->serving == LIO_CMAP_IDLE || n->serving == LIO_CMAP_FOUND) &&
               was >= 0) {
#ifndef LIO_BREAK_NO_PROMOTION
        n->lineage = m->next_lineage++;
#endif
        n->serving = LIO_CMAP_PROMOTED;
        n->master = -1;
    } else if (n->serving == LIO_CMAP_IDLE) {
        n->lineage = 1;
        n->serving = LIO_CMAP_FOUND;
        n->master = -1;
    }
}

int lio_cmap_redirect(struct lio_cmap *m, const struct lio_cluster_redirect *r,
                      int from)
{
    int to = lio_cmap_node(m, &r->to, from);

    if (to >= 0 && !r->ask && r->slot < LIO_CLUSTER_SLOTS)
        take_slot(m, r->slot, to);
    return to;
}

int lio_cmap_apply(struct lio_cmap *m, const struct lio_cluster_range *ranges,
                   int n, int from)
{
    uint16_t *owner = m->owner;
    int rc = 0;

    /* Promotions are judged against the previous map's masters, so the
     * slots move first; masters and replicas are recorded afterwards. */
    for (int i = 0; i < n; i++) {
        int to = lio_cmap_node(m, &ranges[i].master, from);
        if (to < 0) {
            rc = -1;
            continue;
        }
        for (unsigned s = ranges[i].start; s <= ranges[i].end; s++)
            take_slot(m, s, to);
    }
    {
        /* Slots no range names are unknown now. A bit per slot, and whole
         * words of slots cleared at once: a map that leaves most slots out
         * costs little. */
        uint64_t seen[LIO_CLUSTER_SLOTS / 64] = {0};
        for (int i = 0; i < n; i++)
            for (unsigned s = ranges[i].start; s <= ranges[i].end; s++)
                seen[s / 64] |= UINT64_C(1) << (s % 64);
        for (unsigned w = 0; w < LIO_CLUSTER_SLOTS / 64; w++) {
            if (seen[w] == 0)
                memset(owner + 64 * w, 0, 64 * sizeof *owner);
            else if (seen[w] != UINT64_MAX)
                for (unsigned b = 0; b < 64; b++)
                    if (!(seen[w] >> b & 1))
                        owner[64 * w + b] = 0;
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        m->nodes[i].master = -1;
        m->nodes[i].serving = LIO_CMAP_IDLE;
    }
    for (int i = 0; i < n; i++) {
        int master = lio_cmap_node(m, &ranges[i].master, from);
        if (master >= 0)
            m->nodes[master].serving = LIO_CMAP_SERVING;
        for (int j = 0; master >= 0 && j < ranges[i].nreplicas; j++) {
            int r = lio_cmap_node(m, &ranges[i].replicas[j], from);
            if (r < 0)
                rc = -1;
            else if (r != master)
                m->nodes[r].master = master;
        }
    }
    return rc;
}

int lio_cmap_owner(const struct lio_cmap *m, unsigned slot)
{
    return m->owner != NULL && slot < LIO_CLUSTER_SLOTS
               ? (int) m->owner[slot] - 1
               : -1;
}
