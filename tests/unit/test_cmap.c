/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cmap.c - the slot map's lineages (lio_cmap.c): a resharding's
 * target takes the lineage of the slot's keys, a node that takes a slot
 * over without being known to serve any gets a new one, whether the map
 * knew it as a replica, did not know it, or had it serving before it lost
 * a slot; and the other slots it takes in the same map do not undo that. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io/lio_cmap.h"

#define K 2633 /* a slot followed through the tests */

static struct lio_cluster_node addr(int i)
{
    struct lio_cluster_node n;

    snprintf(n.host, sizeof n.host, "10.0.0.%d", i);
    n.port = 6379;
    return n;
}

/* A map with node 1 serving 0..99 and K, with node 2 its replica, and
 * node 3 serving 100..199. */
static void first_map(struct lio_cmap *m)
{
    struct lio_cluster_range r[3];

    memset(r, 0, sizeof r);
    r[0] = (struct lio_cluster_range){0, 99, addr(1), 1, {addr(2)}};
    r[1] = (struct lio_cluster_range){K, K, addr(1), 1, {addr(2)}};
    r[2] = (struct lio_cluster_range){100, 199, addr(3), 0, {{"", 0}}};
    ASSERT_OK(lio_cmap_init(m, "10.0.0.1", 6379));
    ASSERT_EQ(lio_cmap_apply(m, r, 3, 0), 0);
}

static int node(struct lio_cmap *m, int i)
{
    struct lio_cluster_node a = addr(i);

    return lio_cmap_node(m, &a, 0);
}

static uint64_t lineage(struct lio_cmap *m, int i)
{
    return m->nodes[node(m, i)].lineage;
}

static void moved(struct lio_cmap *m, unsigned slot, int to, int from)
{
    struct lio_cluster_redirect r = {0, slot, addr(to)};

    ASSERT_EQ(lio_cmap_redirect(m, &r, node(m, from)), node(m, to));
}

TEST(the_cluster_as_first_found_is_one_lineage)
{
    struct lio_cmap m;

    first_map(&m);
    ASSERT_EQ(lio_cmap_owner(&m, K), node(&m, 1));
    ASSERT_EQ(lineage(&m, 1), 1);
    ASSERT_EQ(lineage(&m, 3), 1);
    lio_cmap_free(&m);
}

TEST(a_reshardings_target_takes_the_keys_lineage)
{
    struct lio_cmap m;

    first_map(&m);
    moved(&m, K, 3, 1); /* node 3 serves slots: a resharding */
    ASSERT_EQ(lio_cmap_owner(&m, K), node(&m, 3));
    ASSERT_EQ(lineage(&m, 3), lineage(&m, 1));
    lio_cmap_free(&m);
}

TEST(a_replica_taking_a_slot_over_was_promoted)
{
    struct lio_cmap m;
    uint64_t before;

    first_map(&m);
    before = lineage(&m, 1);
    moved(&m, K, 2, 1);
    ASSERT_NE(lineage(&m, 2), before);
    /* Then the keys go on by resharding to node 3: they bring the new
     * lineage along. */
    moved(&m, K, 3, 2);
    ASSERT_EQ(lineage(&m, 3), lineage(&m, 2));
    ASSERT_NE(lineage(&m, 3), before);
    lio_cmap_free(&m);
}

TEST(a_node_the_map_did_not_know_was_promoted)
{
    struct lio_cmap m;

    first_map(&m);
    moved(&m, K, 9, 1);
    ASSERT_NE(lineage(&m, 9), lineage(&m, 1));
    lio_cmap_free(&m);
}

/* A master that lost a slot may have been demoted: taking one again
 * before a map shows it serving is a promotion, not a resharding (it may
 * have been failed over to and back while the map did not look). */
TEST(a_master_that_lost_a_slot_is_not_taken_for_serving)
{
    struct lio_cmap m;
    uint64_t first;

    first_map(&m);
    first = lineage(&m, 1);
    moved(&m, K, 2, 1);
    moved(&m, K, 1, 2);
    ASSERT_NE(lineage(&m, 1), first);
    ASSERT_NE(lineage(&m, 1), lineage(&m, 2));
    lio_cmap_free(&m);
}

/* A map whose first range for a node makes it serving must not let a later
 * range of the same map pass it for a resharding's target. */
TEST(one_map_promotes_once_whatever_the_order_of_its_ranges)
{
    struct lio_cmap m;
    struct lio_cluster_range r[3];
    uint64_t old;

    first_map(&m);
    old = lineage(&m, 1);
    memset(r, 0, sizeof r);
    r[0] = (struct lio_cluster_range){0, 99, addr(2), 1, {addr(1)}};
    r[1] = (struct lio_cluster_range){K, K, addr(2), 1, {addr(1)}};
    r[2] = (struct lio_cluster_range){100, 199, addr(3), 0, {{"", 0}}};
    ASSERT_EQ(lio_cmap_apply(&m, r, 3, 0), 0);
    ASSERT_EQ(lio_cmap_owner(&m, K), node(&m, 2));
    ASSERT_NE(lineage(&m, 2), old);
    /* Seen serving now: the keys it holds go on with that lineage. */
    moved(&m, K, 3, 2);
    ASSERT_EQ(lineage(&m, 3), lineage(&m, 2));
    lio_cmap_free(&m);
}

/* Slots that the map knew no one to serve: whoever serves them is the
 * cluster as first found, until it takes a slot from a node. */
TEST(a_slot_nobody_was_known_to_serve)
{
    struct lio_cmap m;

    ASSERT_OK(lio_cmap_init(&m, "10.0.0.1", 6379));
    moved(&m, K, 4, 0);
    ASSERT_EQ(lineage(&m, 4), 1);
    moved(&m, K, 5, 4);
    ASSERT_NE(lineage(&m, 5), 1);
    lio_cmap_free(&m);
}

TEST(slots_left_out_of_a_map_are_unknown)
{
    struct lio_cmap m;
    struct lio_cluster_range r = {100, 199, addr(3), 0, {{"", 0}}};

    first_map(&m);
    ASSERT_EQ(lio_cmap_apply(&m, &r, 1, 0), 0);
    ASSERT_EQ(lio_cmap_owner(&m, K), -1);
    ASSERT_EQ(lio_cmap_owner(&m, 0), -1);
    ASSERT_EQ(lio_cmap_owner(&m, 99), -1);
    ASSERT_EQ(lio_cmap_owner(&m, 100), node(&m, 3));
    ASSERT_EQ(lio_cmap_owner(&m, 199), node(&m, 3));
    ASSERT_EQ(lio_cmap_owner(&m, 200), -1);
    ASSERT_EQ(lio_cmap_owner(&m, LIO_CLUSTER_SLOTS - 1), -1);
    lio_cmap_free(&m);
}
