/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cluster.c - elections on a Redis Cluster reached through the URL of
 * any one node: keys on every shard, 3,000 elections over one client, a
 * live resharding, CLUSTER FAILOVER and kill -9 of a master. Candidates
 * are processes with one client each; every process publishes the lease
 * deadline of each of its elections into a shared table after every loop
 * turn, and the test samples the table: never two valid leases on a key,
 * and every key led again after each fault. */
#define _GNU_SOURCE

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#define PROCS    3
#define KEYS_MAX 3000

/* Shared between the processes: each one's lease deadlines, by key. */
struct table {
    int64_t deadline[PROCS][KEYS_MAX];
    long errors[PROCS]; /* ERROR events */
    char last_error[PROCS][160];
};

struct run {
    rfx_cluster *cluster;
    struct table *t;
    pid_t pid[PROCS];
    int procs, keys;
    long ttl;
    /* Per key: who led at the last sample (-1: nobody), and how often a
     * key was seen without a leader after it had one. */
    int holder[KEYS_MAX];
    int lapses;
};

static void publish(struct table *t, int proc, leader **h, int keys)
{
    for (int i = 0; i < keys; i++)
        __atomic_store_n(&t->deadline[proc][i], leader_lease_deadline(h[i]),
                         __ATOMIC_SEQ_CST);
}

struct proc {
    struct table *t;
    int index;
};

static void on_event(leader *l, const leader_event *ev, void *arg)
{
    struct proc *p = arg;

    (void) l;
    if (ev->type != LEADER_EVENT_ERROR)
        return;
    snprintf(p->t->last_error[p->index], sizeof p->t->last_error[p->index],
             "%s", ev->message != NULL ? ev->message : "");
    __atomic_add_fetch(&p->t->errors[p->index], 1, __ATOMIC_SEQ_CST);
}

/* A process with one client and keys elections; runs until killed. */
static _Noreturn void campaign(const char *url, struct run *r, int proc)
{
    leader_client_options co;
    leader_client *c;
    leader **h = calloc((size_t) r->keys, sizeof *h);
    leader_options o;
    char key[32];
    static struct proc self;

    self.t = r->t;
    self.index = proc;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    leader_client_options_init(&co);
    co.url = url;
    co.event_loop = 1;
    c = leader_client_new(&co, NULL, 0);
    if (c == NULL || h == NULL)
        _exit(2);
    for (int i = 0; i < r->keys; i++) {
        leader_options_init(&o);
        snprintf(key, sizeof key, "key-%d", i);
        o.key = key;
        o.ttl_ms = r->ttl;
        o.wait_ms = 300;
        h[i] = leader_client_add(c, &o, NULL, 0);
        if (h[i] == NULL)
            _exit(3);
        leader_on(h[i], on_event, &self);
        if (leader_elect(h[i]) != 0)
            _exit(3);
    }
    for (;;) {
        struct pollfd pfd = {leader_client_fd(c), POLLIN, 0};
        poll(&pfd, 1, leader_client_timeout_ms(c));
        leader_client_process(c);
        publish(r->t, proc, h, r->keys);
    }
}

static void start_run(struct run *r, const rfx_cluster_options *co, int procs,
                      int keys, long ttl)
{
    memset(r, 0, sizeof *r);
    RFX_SKIP_IF_UNAVAILABLE();
    r->cluster = rfx_cluster_start(co);
    ASSERT_NOT_NULL(r->cluster);
    r->t = mmap(NULL, sizeof *r->t, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(r->t != MAP_FAILED);
    memset(r->t, 0, sizeof *r->t);
    r->procs = procs;
    r->keys = keys;
    r->ttl = ttl;
    for (int i = 0; i < keys; i++)
        r->holder[i] = -1;
    for (int p = 0; p < procs; p++) {
        r->pid[p] = fork();
        ASSERT_GE(r->pid[p], 0);
        if (r->pid[p] == 0)
            campaign(rfx_cluster_url(r->cluster), r, p);
    }
}

static void end_run(struct run *r)
{
    int status;

    for (int p = 0; p < r->procs; p++) {
        kill(r->pid[p], SIGKILL);
        waitpid(r->pid[p], &status, 0);
    }
    munmap(r->t, sizeof *r->t);
    rfx_cluster_free(r->cluster);
}

/* Checks the table now: no key with two valid leases. Returns how many
 * keys have a leader. */
static int sample(struct run *r)
{
    int64_t now = leader_clock_ms();
    int led = 0;

    for (int i = 0; i < r->keys; i++) {
        int holders = 0, by = -1;
        for (int p = 0; p < r->procs; p++)
            if (__atomic_load_n(&r->t->deadline[p][i], __ATOMIC_SEQ_CST) >
                now) {
                holders++;
                by = p;
            }
        if (holders > 1)
            FAIL("key-%d has %d leaders at once", i, holders);
        if (by < 0 && r->holder[i] >= 0)
            r->lapses++;
        r->holder[i] = by;
        led += holders;
    }
    return led;
}

/* Samples for ms; returns the number of keys led at the end. */
static int watch(struct run *r, long ms)
{
    int64_t end = now_ms() + ms;
    int led;

    do {
        led = sample(r);
        sleep_ms(5);
    } while (now_ms() < end);
    return led;
}

/* Samples until every key is led, for at most ms. */
static int wait_all_led(struct run *r, long ms)
{
    int64_t end = now_ms() + ms;
    int led;

    do {
        led = watch(r, 50);
    } while (led < r->keys && now_ms() < end);
    return led;
}

/* Whether a child runs yet, without reaping it. */
static int still_running(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
}

/* The node that serves the election called key. */
static rfx_server *node_of_key(rfx_cluster *c, const char *key)
{
    leader_options o;
    leader *l;
    char *slot;
    rfx_server *s;

    leader_options_init(&o);
    o.url = rfx_cluster_url(c);
    o.key = key;
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    slot = rfx_command(rfx_cluster_node(c, 0), "CLUSTER KEYSLOT %s",
                       leader_key(l));
    ASSERT_NOT_NULL(slot);
    s = rfx_cluster_master_of(c, (unsigned) atoi(slot));
    free(slot);
    leader_free(l);
    return s;
}

/* How many keys a node holds. */
static long keys_on(rfx_server *s)
{
    char *n = rfx_command(s, "DBSIZE");
    long v = n != NULL ? atol(n) : -1;

    free(n);
    return v;
}

TEST(elections_on_every_shard_through_one_node)
{
    rfx_cluster_options co = {.masters = 3};
    rfx_cluster *c;
    static struct world w[3];
    const char *keys[3] = {NULL, NULL, NULL};
    static char names[3][16];
    rfx_server *owner[3] = {NULL, NULL, NULL};
    int found = 0;

    RFX_SKIP_IF_UNAVAILABLE();
    c = rfx_cluster_start(&co);
    ASSERT_NOT_NULL(c);
    /* One key per master. */
    for (int i = 0; i < 100 && found < 3; i++) {
        char key[16];
        rfx_server *s;
        int seen = 0;
        snprintf(key, sizeof key, "shard-%d", i);
        s = node_of_key(c, key);
        for (int j = 0; j < found; j++)
            seen |= owner[j] == s;
        if (!seen) {
            snprintf(names[found], sizeof names[found], "%s", key);
            keys[found] = names[found];
            owner[found++] = s;
        }
    }
    ASSERT_EQ(found, 3);
    for (int k = 0; k < 3; k++) {
        world_init(&w[k]);
        for (int i = 0; i < 2; i++)
            ASSERT_OK(leader_elect(
                world_add(&w[k], rfx_cluster_url(c), keys[k], 3000, 300)->l));
    }
    for (int k = 0; k < 3; k++) {
        leader_info info;
        leader *a = w[k].c[0].l, *b = w[k].c[1].l;
        char *held;
        int64_t end = now_ms() + 10000;

        while (leader_has_lease(a) + leader_has_lease(b) != 1 && now_ms() < end)
            sleep_ms(20);
        ASSERT_EQ(leader_has_lease(a) + leader_has_lease(b), 1);
        if (leader_has_lease(b)) {
            leader *t = a;
            a = b;
            b = t;
        }
        /* The key is on its own master, and queries find it there. */
        held = rfx_command(owner[k], "GET %s", leader_key(a));
        ASSERT_NOT_NULL(held);
        ASSERT_STR_EQ(held, leader_id(a));
        free(held);
        ASSERT_EQ(leader_is_leader(a), 1);
        ASSERT_EQ(leader_is_leader(b), 0);
        ASSERT_OK(leader_current(b, &info) < 0 ? -1 : 0);
        ASSERT_STR_EQ(info.id, leader_id(a));
        ASSERT(info.term >= 1);
    }
    /* A handover on each shard: the leader stops, the other takes over. */
    for (int k = 0; k < 3; k++) {
        int lead = leader_has_lease(w[k].c[0].l) ? 0 : 1;
        ASSERT_OK(leader_stop(w[k].c[lead].l));
        ASSERT(world_wait(&w[k], 1 - lead, LEADER_EVENT_ELECTED, 1, 5000) >= 1);
        world_check_log(&w[k]);
        world_free(&w[k]);
    }
    rfx_cluster_free(c);
}

/* User "app" with password "pw" on every node: the rules of
 * docs/redis-acl.rules, with what docs/redis-acl.md adds for a cluster;
 * the default user is turned off. */
static void set_cluster_user(rfx_cluster *c)
{
    char text[1024], *save = NULL;
    const char *argv[64];
    int n = 0;
    FILE *f = fopen(LEADER_SOURCE_DIR "/docs/redis-acl.rules", "r");

    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(text, sizeof text, f));
    fclose(f);
    argv[n++] = "ACL";
    argv[n++] = "SETUSER";
    argv[n++] = "app";
    argv[n++] = "on";
    argv[n++] = ">pw";
    for (char *w = strtok_r(text, " \n", &save); w != NULL && n < 60;
         w = strtok_r(NULL, " \n", &save))
        argv[n++] = w;
    argv[n++] = "+asking";
    argv[n++] = "+cluster|slots";
    for (int i = 0; i < rfx_cluster_nodes(c); i++) {
        redisContext *ctx = rfx_connect(rfx_cluster_node(c, i));
        redisReply *r;
        ASSERT_NOT_NULL(ctx);
        r = redisCommandArgv(ctx, n, argv, NULL);
        ASSERT_NOT_NULL(r);
        ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
        /* Without a password, nobody gets in: a node reached without
         * the URL's credentials would refuse the election. */
        r = redisCommand(ctx, "ACL SETUSER default off");
        ASSERT_NOT_NULL(r);
        ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
        redisFree(ctx);
    }
}

TEST(least_privilege_user_on_every_node)
{
    rfx_cluster_options co = {.masters = 3};
    struct world w;
    rfx_cluster *c;
    char url[128];
    int lead;

    RFX_SKIP_IF_UNAVAILABLE();
    c = rfx_cluster_start(&co);
    ASSERT_NOT_NULL(c);
    set_cluster_user(c);
    /* The URL's credentials are every node's: the election is on
     * another master than the URL's for some of these keys. */
    snprintf(url, sizeof url, "redis://app:pw@127.0.0.1:%d",
             rfx_port(rfx_cluster_node(c, 0)));
    for (int k = 0; k < 4; k++) {
        char key[16];
        snprintf(key, sizeof key, "acl-%d", k);
        world_init(&w);
        for (int i = 0; i < 2; i++)
            ASSERT_OK(leader_elect(world_add(&w, url, key, 3000, 300)->l));
        lead = world_wait_leader(&w, 10000);
        ASSERT_GE(lead, 0);
        ASSERT_EQ(leader_is_leader(w.c[lead].l), 1);
        ASSERT_OK(leader_stop(w.c[lead].l));
        ASSERT(world_wait(&w, 1 - lead, LEADER_EVENT_ELECTED, 1, 5000) >= 1);
        world_check_log(&w);
        world_free(&w);
    }
    rfx_cluster_free(c);
}

/* The index of node s in the cluster. */
static int index_of(rfx_cluster *c, rfx_server *s)
{
    for (int i = 0; i < rfx_cluster_nodes(c); i++)
        if (rfx_cluster_node(c, i) == s)
            return i;
    FAIL("not a node of the cluster");
    return -1;
}

/* Runs a command on a node; fails the test on an error reply. */
static void on_node(rfx_server *s, const char *fmt, const char *a,
                    const char *b, const char *d)
{
    char *r = rfx_command(s, fmt, a, b, d);

    ASSERT_NOT_NULL(r);
    if (strncmp(r, "(error)", 7) == 0)
        FAIL("%s: %s", fmt, r);
    free(r);
}

/* Whether any candidate of w logged an ERROR event. */
static int any_error(struct world *w)
{
    struct logged e;

    if (world_last(w, -1, LEADER_EVENT_ERROR, &e) < 0)
        return 0;
    fprintf(stderr, "error event of candidate %d: %s\n", e.cand, e.message);
    return 1;
}

/* Holds a slot half-migrated, its keys already on the new master, for two
 * ttl: the old master answers ASK, and the leader renews through it; then
 * the slot moves (MOVED). The leader leads throughout, without an error. */
TEST(leader_renews_through_ask_and_moved)
{
    rfx_cluster_options co = {.masters = 3};
    rfx_cluster *c;
    struct world w;
    rfx_server *src, *dst;
    char *slot, term_key[128], port[16];
    int lead, si, di;
    int64_t end;

    RFX_SKIP_IF_UNAVAILABLE();
    c = rfx_cluster_start(&co);
    ASSERT_NOT_NULL(c);
    world_init(&w);
    for (int i = 0; i < 2; i++)
        ASSERT_OK(leader_elect(
            world_add(&w, rfx_cluster_url(c), "asked", 3000, 300)->l));
    lead = world_wait_leader(&w, 10000);
    ASSERT_GE(lead, 0);
    slot = rfx_command(rfx_cluster_node(c, 0), "CLUSTER KEYSLOT %s",
                       leader_key(w.c[lead].l));
    ASSERT_NOT_NULL(slot);
    src = rfx_cluster_master_of(c, (unsigned) atoi(slot));
    ASSERT_NOT_NULL(src);
    si = index_of(c, src);
    di = (si + 1) % 3;
    dst = rfx_cluster_node(c, di);
    snprintf(term_key, sizeof term_key, "{%s}:term", leader_key(w.c[lead].l));
    snprintf(port, sizeof port, "%d", rfx_port(dst));
    on_node(dst, "CLUSTER SETSLOT %s IMPORTING %s", slot,
            rfx_cluster_node_id(c, si), NULL);
    on_node(src, "CLUSTER SETSLOT %s MIGRATING %s", slot,
            rfx_cluster_node_id(c, di), NULL);
    {
        char *r = rfx_command(src, "MIGRATE 127.0.0.1 %s %s 0 5000 KEYS %s %s",
                              port, "", leader_key(w.c[lead].l), term_key);
        ASSERT_NOT_NULL(r);
        ASSERT_STR_EQ(r, "OK");
        free(r);
    }
    end = now_ms() + 6000;
    while (now_ms() < end) {
        ASSERT_EQ(leader_has_lease(w.c[lead].l), 1);
        ASSERT_EQ(leader_has_lease(w.c[1 - lead].l), 0);
        sleep_ms(20);
    }
    ASSERT_EQ(leader_is_leader(w.c[lead].l), 1);
    for (int i = 0; i < 3; i++)
        on_node(rfx_cluster_node(c, i), "CLUSTER SETSLOT %s NODE %s", slot,
                rfx_cluster_node_id(c, di), NULL);
    end = now_ms() + 4000;
    while (now_ms() < end) {
        ASSERT_EQ(leader_has_lease(w.c[lead].l), 1);
        sleep_ms(20);
    }
    ASSERT_EQ(any_error(&w), 0);
    ASSERT_EQ(world_count(&w, -1, LEADER_EVENT_ELECTED), 1);
    free(slot);
    world_check_log(&w);
    world_free(&w);
    rfx_cluster_free(c);
}

TEST(three_thousand_elections_over_one_client)
{
    rfx_cluster_options co = {.masters = 3};
    struct run r;
    long total = 0;

    start_run(&r, &co, 1, 3000, 10000);
    ASSERT_EQ(wait_all_led(&r, 30000), 3000);
    /* Spread over the masters: every one holds its share of the holder
     * keys and term counters. */
    for (int i = 0; i < rfx_cluster_nodes(r.cluster); i++) {
        long n = keys_on(rfx_cluster_node(r.cluster, i));
        ASSERT(n > 500);
        total += n;
    }
    ASSERT_EQ(total, 6000);
    end_run(&r);
}

TEST(live_resharding_keeps_every_leader)
{
    rfx_cluster_options co = {.masters = 3};
    struct run r;
    pid_t pid;
    long before;

    start_run(&r, &co, PROCS, 1000, 3000);
    ASSERT_EQ(wait_all_led(&r, 30000), 1000);
    before = keys_on(rfx_cluster_node(r.cluster, 1));
    r.lapses = 0;
    for (int p = 0; p < PROCS; p++)
        r.t->errors[p] = 0;
    pid = rfx_cluster_reshard_start(r.cluster, rfx_cluster_node(r.cluster, 0),
                                    rfx_cluster_node(r.cluster, 1), 2000);
    ASSERT_GE(pid, 0);
    while (still_running(pid))
        watch(&r, 100);
    ASSERT_OK(rfx_cluster_reshard_wait(r.cluster, pid));
    ASSERT_EQ(watch(&r, 2 * r.ttl), 1000);
    /* Keys did move, no election was without its leader meanwhile, and
     * none saw an error: ASK, MOVED and TRYAGAIN are followed. */
    ASSERT(keys_on(rfx_cluster_node(r.cluster, 1)) > before);
    ASSERT_EQ(r.lapses, 0);
    for (int p = 0; p < PROCS; p++)
        if (r.t->errors[p] != 0)
            FAIL("process %d: %ld errors, the last: %s", p, r.t->errors[p],
                 r.t->last_error[p]);
    end_run(&r);
}

/* A master of a 3+3 cluster goes, by CLUSTER FAILOVER (kill 0) or kill
 * -9: never two leaders, and every key led again once the replica has
 * taken over. */
static void failover_case(int kill_it)
{
    rfx_cluster_options co = {.masters = 3, .replicas = 1};
    struct run r;
    rfx_server *master, *replica = NULL;

    start_run(&r, &co, 2, 300, 2000);
    ASSERT_EQ(wait_all_led(&r, 30000), 300);
    master = rfx_cluster_node(r.cluster, 0);
    ASSERT_OK(rfx_cluster_replica_of(r.cluster, master, &replica));
    if (kill_it) {
        ASSERT_OK(rfx_kill(master));
    } else {
        ASSERT_OK(rfx_cluster_failover(r.cluster, replica));
    }
    /* The leases on that master run out, the replica takes over (after
     * the node timeout for a kill), and a ttl later its keys have leaders
     * again. */
    watch(&r, 2 * r.ttl + 2000);
    ASSERT_EQ(wait_all_led(&r, 20000), 300);
    ASSERT_EQ(watch(&r, r.ttl), 300);
    end_run(&r);
}

TEST(cluster_failover_of_a_master)
{
    failover_case(0);
}

TEST(kill_9_of_a_master)
{
    failover_case(1);
}
