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
    m->nodes[m->n].lineage = 1;
    return (int) m->n++;
}

/* Node to now serves slot: promoted, if it replicated the slot's master. */
static void take_slot(struct lio_cmap *m, unsigned slot, int to)
{
    int was = m->owner[slot] - 1;

    if (was >= 0 && was != to && m->nodes[to].master == was) {
        m->nodes[to].lineage = m->next_lineage++;
        m->nodes[to].master = -1;
    }
    m->owner[slot] = (uint16_t) (to + 1);
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

    /* Promotions are judged against the previous map's replicas, so the
     * slots move first; replicas are recorded afterwards. */
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
        /* Slots no range names are unknown now. */
        unsigned char seen[LIO_CLUSTER_SLOTS] = {0};
        for (int i = 0; i < n; i++)
            memset(seen + ranges[i].start, 1,
                   ranges[i].end - ranges[i].start + 1);
        for (unsigned s = 0; s < LIO_CLUSTER_SLOTS; s++)
            if (!seen[s])
                owner[s] = 0;
    }
    for (size_t i = 0; i < m->n; i++)
        m->nodes[i].master = -1;
    for (int i = 0; i < n; i++) {
        int master = lio_cmap_node(m, &ranges[i].master, from);
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
