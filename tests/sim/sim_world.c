/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_world.c - one seeded run of the simulator: processes, each with the
 * real session layer (src/io/lio_session.c) over a simulated transport,
 * the network, Redis, faults, and the invariants.
 *
 * True time is in microseconds and only moves forward through a priority
 * queue of events. Each process has its own clock (an offset and a rate
 * off by up to 1 %), and its session only ever sees that clock, in
 * milliseconds, exactly as lio_mux.c reads CLOCK_BOOTTIME. A process hosts
 * one to three candidates (and, in some runs, observers) in one session:
 * one command link and one notification link, which are connections of
 * the simulated network. The session drives the links only through
 * struct lio_transport, implemented here; what the network brings back is
 * reported to it later, from the event loop, never from inside one of its
 * own calls (as lio_mux.c does).
 *
 * Redis sees the argument vectors the session built (lio_proto.c): it
 * parses each one, names its script by digest or body with
 * lio_script_named(), answers NOSCRIPT to an EVALSHA while its script
 * cache is empty, and answers with the values the library decodes.
 *
 * Network rules: each connection is FIFO per direction. A lost message
 * breaks its connection (all in flight is lost, as with TCP), and the
 * client may or may not be told. A connection the client closes still
 * delivers the commands already written (Redis reads them before the FIN),
 * but its replies are never read: this is how a late command from an
 * earlier leadership, or an earlier incarnation of a process, reaches
 * Redis. A partition either drops everything (and breaks connections) or
 * holds everything until it heals (TCP retransmitting).
 *
 * All faults end before the quiet tail of a run; from then on the network
 * is fast and lossless, and liveness is checked. A hostile publisher, when
 * a run has one, goes on to the end: notifications are hints, and no
 * forged one may keep a leader from being elected or end its leadership.
 *
 * In some runs Redis is a Cluster: two or three shards, each a master and
 * perhaps a lagging replica, and the election's slot on one master at a
 * time. Reshardings move it (ASK, TRYAGAIN, then MOVED), failovers promote
 * a replica with what it had replicated. The transport then routes and
 * follows redirections as lio_mux.c does, with the library's own slot map
 * (lio_cmap.c) and parsers (lio_cluster.c).
 *
 * In quorum runs (--servers 3 or 5) there are N independent servers, each
 * with its own clock (rate off by up to 0.5 %, so that a process and a
 * server are never more than 1 % apart, the bound the drift margin is
 * for), its own copy of the keys, a run id that changes on every restart
 * and an uptime counted as Redis counts it. The session is in quorum mode
 * (lio_session_set_quorum): server i on its command link
 * lio_server_link(i), the notification link on one server, the next after
 * each failure. Servers crash and restart with their data, empty, or from
 * an older snapshot, and freeze (SIGSTOP); a process can be cut off from
 * any set of them.
 *
 * In some runs on one server, each process also hosts bystanders: one to
 * SIM_MAX_BY elections of keys of their own, alone on them, so that the
 * session has the renewals of several leaders to send in batches (one
 * script call for several elections' keys, lio_argv_batch), the
 * election's with theirs. Redis runs a batch's renewals in order, each as
 * RENEW would, and may answer any of them with an error of its own (a key
 * of the wrong type). Bystanders are held to their own invariant (1c): a
 * lease never outlives its key in Redis.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/lc_core.h"
#include "io/lio_cluster.h"
#include "io/lio_cmap.h"
#include "io/lio_proto.h"
#include "io/lio_session.h"
#include "leader.h"
#include "sim.h"

#define US_PER_MS   1000
#define RATE_ONE    1000000 /* rate of a perfect clock, in ppm units */
#define TRACE_LINES 60
#define TRACE_WIDTH 400  /* fits the longest line: body, ids, numbers */
#define MAX_SPINS   1000 /* wake-ups at one instant before it is a busy loop */
#define MAX_ELECT   (SIM_MAX_CAND + SIM_MAX_OBS)
#define MAX_TAGS    8 /* subscriptions on one notification link */
#define MAX_BY      (MAX_ELECT * SIM_MAX_BY) /* bystanders in a run */
#define ID_MAX      48
/* lio_session.c's cap on the wait before it opens the notification link
 * again (the policy the simulator holds it to). */
#define SUB_BACKOFF_CAP 1000
/* The session's links: the command link, the notification link, and in a
 * Cluster a command link per other node of the map (LIO_LINK_NODE + i);
 * in quorum mode a command and a notification link per server. */
#define MAX_LINKS                                                              \
    (LIO_LINK_NODE + (SIM_MAX_NODES > 2 * SIM_MAX_SERVERS                      \
                          ? SIM_MAX_NODES                                      \
                          : 2 * SIM_MAX_SERVERS))
/* What lio_mux.c waits between two askings of the slot map, and how long
 * it gives the opening of the connection that asks. */
#define REFRESH_MIN_MS   200
#define PROBE_TIMEOUT_MS 2000
/* Ranges in a CLUSTER SLOTS reply: each shard's own, and the election's
 * slot. */
#define SLOTS_CAP (SIM_MAX_SHARDS + 1)

/* ---- events ---- */

enum ev_type {
    EV_TO_REDIS = 1, /* a message arrives at Redis */
    EV_TO_CLIENT,    /* a message arrives at a process */
    EV_REDIS_STEP,   /* second half of a non-atomic renew */
    EV_BREAK,        /* a connection breaks in the network */
    EV_FAULT,
    EV_REPL,  /* a master's write reaches its replica */
    EV_GOSSIP /* a node learns the slot map of a later version */
};

enum msg_kind {
    M_SYN = 1,   /* connect attempt */
    M_ACK,       /* connection accepted */
    M_REFUSED,   /* connection refused */
    M_RESET,     /* the connection was reset */
    M_CMD,       /* a command (script, PTTL, PING) */
    M_REPLY,     /* its reply */
    M_SUBSCRIBE, /* SUBSCRIBE to the channel */
    M_UNSUBSCRIBE,
    M_SUBSCRIBED,
    M_MESSAGE /* a notification */
};

enum reply_kind {
    R_SCRIPT = 1,
    R_NOSCRIPT,
    R_ERROR,
    R_PONG,
    R_OK,       /* ASKING */
    R_MOVED,    /* to the node in res.holder */
    R_ASK,      /* to the node in res.holder */
    R_TRYAGAIN, /* the slot's keys are split between two nodes */
    R_SLOTS,    /* CLUSTER SLOTS: the map version in res.term, the nodes
                 * down in res.flag */
    R_INFO,     /* INFO server: the run in res.holder, the uptime in
                 * seconds in res.pttl */
    R_BATCH     /* a batch of renewals: its members' results, at w->bmem +
                 * res.pttl, res.flag of them */
};

enum fault {
    F_CRASH = 0,
    F_PAUSE,
    F_PARTITION,
    F_REDIS,
    F_DROP,
    F_STOP,
    F_NTYPES, /* the above recur at random; the rest are scheduled */
    F_RESTART,
    F_RESUME,
    F_HEAL,
    F_REDIS_UP,
    F_START,
    F_QUIET,
    F_LIVE,
    F_NEW_TERM,    /* the application asks its leader for a new term */
    F_FLUSH,       /* FLUSHALL */
    F_LATE_JOIN,   /* a follower restarts (joins late), then ... */
    F_LOSE,        /* ... Redis loses its data */
    F_HOSTILE,     /* a forged notification */
    F_RECREATE,    /* an election is freed and made again, with a new id */
    F_RESHARD,     /* the election's slot starts moving to another master */
    F_MIGRATE,     /* ... a key of it moves, or the slot does */
    F_FAILOVER,    /* a replica is promoted */
    F_QFAULT,      /* quorum mode: servers restart or freeze */
    F_SNAPSHOT,    /* ... a server writes a snapshot of its data */
    F_SCRIPT_FLUSH /* SCRIPT FLUSH on every server */
};

/* A command as Redis parsed it from its argument vector (CLUSTER SLOTS
 * comes only from the transport's own connection that asks for the map). */
enum cmd_type {
    C_SCRIPT = 1,
    C_PTTL,
    C_PING,
    C_ASKING,
    C_SLOTS,
    C_INFO,
    C_PUBLISH, /* quorum mode: a won term announced */
    C_BATCH    /* renewals of several elections in one script call */
};

struct cmd {
    enum cmd_type type;
    enum lc_cmd_kind kind; /* C_SCRIPT: the script; C_PTTL: PROBE */
    int eval;              /* EVAL (the body), not EVALSHA */
    int ident;             /* the id in ARGV, numbered; -1 for none */
    uint64_t term;         /* acquire's floor, renew's or release's term */
    int64_t ttl;
    enum lc_qwire qwire; /* quorum mode: the script (kind is 0) */
    int run;             /* ... the run id in ARGV, numbered */
    int released;        /* C_PUBLISH: "released", else "elected" */
    int key;             /* whose keys: 0 the election's, 1 + b bystander
                          * b's */
    int bstart, bn;      /* C_BATCH: its members, at w->bmem + bstart */
};

/* One renewal of a batch, as Redis parsed it, and its result. */
struct bmember {
    int key, ident;
    uint64_t term;
    int64_t ttl;
    int res; /* 1 extended, 0 refused, -1 its own error */
};

/* Small: the event queue moves these around by value. */
struct msg {
    enum msg_kind kind;
    enum reply_kind rkind;
    int forged;      /* M_MESSAGE: 0 genuine, else 1 + the form of a
                      * forgery (its term in res.pub_term, its id in
                      * res.holder) */
    unsigned epoch;  /* M_REPLY: Redis' epoch when the command ran */
    int asker;       /* M_REPLY: the id (number) in the command, -1 */
    unsigned tenure; /* M_REPLY: the term of office of the node that ran
                      * it (its promotions) */
    uint64_t tag;    /* the session's, carried back with the reply */
    union {
        struct cmd cmd;        /* M_CMD */
        struct sim_script res; /* M_REPLY, M_MESSAGE */
    };
};

struct event {
    int64_t t;
    uint64_t seq;
    enum ev_type type;
    int conn;
    int who; /* a process, or an election (F_START, F_RECREATE) */
    enum fault fault;
    unsigned serial;
    int flag;
    struct msg m;
};

/* An event's place in the queue. */
struct key {
    int64_t t;
    uint64_t seq;
    uint32_t ev; /* in the pool */
};

struct conn {
    int proc;
    int sub;
    int link;          /* the lio_link it carries; -1: it asks for the map */
    int node;          /* the Redis server it goes to */
    int asking;        /* Redis: ASKING came, for the next command */
    int accepted;      /* Redis took it */
    int64_t opened_at; /* true time the client opened it */
    int ready;         /* the client saw it open */
    int client_closed; /* the client closed it: replies go unread */
    int broken;        /* broken in the network or by Redis */
    int subscribed;    /* Redis: the channel is subscribed on it */
    int ntags;         /* client: the subscriptions confirmed on it */
    uint64_t tags[MAX_TAGS];
    int64_t last_to_redis, last_to_client; /* FIFO per direction */
    lc_time replied; /* the client's clock when it last read a reply on
                      * it (command links), 0: none yet */
};

struct world;

/* A process: a clock, a session and its links. */
struct proc {
    struct world *w;
    int index;
    int alive, paused;
    unsigned crash_serial, pause_serial, part_serial;
    int64_t offset_ms;
    int64_t rate;     /* RATE_ONE +- up to 1 % */
    int64_t clock_at; /* true time of the clock's cached reading, or -1 */
    lc_time clock;
    struct lio_session s;
    int has_session;
    int nlinks;                       /* 2, or MAX_LINKS in a Cluster */
    int link[MAX_LINKS];              /* connection of each lio_link, -1 */
    lc_time open_deadline[MAX_LINKS]; /* the transport's opening timeout */
    int url_node;                     /* the server of its URL */
    /* The transport in a Cluster, as lio_mux.c keeps it: a Cluster from
     * the first redirection on, with a slot map, asked for again after a
     * MOVED or a command link's failure, one node at a time. */
    int cluster;
    struct lio_cmap map;
    int probe; /* the connection that asks for the map, -1 */
    lc_time probe_deadline, refresh_at;
    int refresh_wanted, probe_i, sub_pick;
    int64_t tick_at;  /* true time of the next wake-up */
    lc_time tick_for; /* the deadline it is for */
    int64_t spin_at;
    int spins;
    struct event *deferred; /* arrived while paused */
    size_t ndeferred, capdeferred;
    int partitioned, part_hold;
    unsigned part_mask; /* the servers it is cut off from (all: ~0u) */
    int64_t heal_at;
    int members[MAX_ELECT];
    int nmembers;
    int by[SIM_MAX_BY]; /* its bystanders */
    int nby;
    lc_time sub_heard;        /* the notification link opened or answered */
    int64_t forged_at;        /* a forged notification last reached it */
    lc_time sub_down_at;      /* it is down while elections listen, or -1 */
    int64_t started_at;       /* true time this incarnation started */
    uint64_t cmds_after_live; /* commands Redis ran once settled */
};

/* An election: a candidate, or an observer. */
struct elect {
    struct world *w;
    int index;
    int proc;
    int observer;
    int ident;       /* its id's number (Redis names holders by it) */
    char id[ID_MAX]; /* the text of that id, which its core borrows */
    struct lio_slot *slot;
    /* Its core's answers from Redis (replies to scripts that ran, or
     * errors): when the first came (true time, SIM_NEVER: none yet), and
     * the node that sent the last, in which of its terms of office. A
     * lease it won or renewed at the same node in a later term is marked
     * with that epoch (aba_epoch): see comparable(). */
    int64_t answered_at;
    int last_node;
    unsigned last_tenure;
    int aba;
    unsigned aba_epoch;
    int started;
    unsigned stop_serial;
    uint64_t seed; /* for its next core */
    /* invariant bookkeeping */
    int app_leader; /* between ELECTED and REVOKED */
    uint64_t app_term;
    uint64_t last_term; /* of this incarnation's last ELECTED */
    unsigned lease_epoch;
    lc_time seen_lease_end;
    int revoked_now; /* REVOKED in this step (a new term follows) */
    int up_conn;     /* the connection it went UP on (or moved to), -1 */
    int up_link;     /* ... the link that connection carries */
    /* what it last reported of who leads (CHANGED) */
    int rep_ident; /* -1 nobody, -2 not an id of this run */
    uint64_t rep_term;
    uint64_t rep_max; /* highest genuine term reported in rep_epoch */
    unsigned rep_epoch;
    int64_t rep_at; /* true time of that report */
    /* Its last report names a term above the counter that a failover to
     * a replica lacking writes took back: its core takes no lower term
     * from Redis, and (9) does not hold it until it reports again. */
    int rolled_back;
    int64_t wrong_since; /* after the liveness check: reports someone
                          * else than the stable leader since then */
};

struct ident {
    char id[ID_MAX];
};

/* A bystander: an election of a key of its own, alone on it, in a
 * process beside the election's candidates. Its keys are key 1 + its
 * index at the server. */
struct bystander {
    struct world *w;
    int index, proc, ident;
    char id[ID_MAX];
    struct lio_names names;
    char term_key[LIO_KEY_MAX], channel[LIO_KEY_MAX];
    struct lio_slot *slot;
    uint64_t seed;
    int app_leader;
    uint64_t app_term;
    unsigned lease_epoch; /* of the reply that last backed its lease */
    lc_time seen_lease_end;
};

struct grant {
    uint64_t term;
    int ident;
    unsigned servers; /* quorum mode: the servers that committed it */
};

/* A Redis server: one node of a Cluster, or the one server. */
struct node {
    struct sim_redis r; /* its copy of the election's keys */
    int shard;
    unsigned serial;      /* its restarts (F_REDIS_UP) */
    unsigned view;        /* the version of the slot map it knows */
    unsigned tenure;      /* its promotions by failover */
    int64_t tenure_at;    /* the last one (true time), 0 */
    unsigned repl_serial; /* the replication stream it applies */
    int64_t repl_last;    /* that stream is FIFO */
    char host[24];
    int port;
    char addr[32]; /* host:port, as MOVED and ASK name it */
    char id[16];   /* its node id, as CLUSTER SLOTS names it */
    /* Quorum mode: its clock (ms = true time * rate + clock_off), what
     * TIME adds to it, its run (numbered: w->runs), the wall time it
     * started at, a freeze, and its last snapshot. */
    int64_t rate, clock_off, wall_off, start_wall, paused_until;
    int run;
    unsigned pause_serial;
    int has_snap;
    struct sim_redis snap;
    struct sim_redis by[MAX_BY]; /* the bystanders' keys */
};

/* A version of the Cluster's slot map: which shard serves the election's
 * slot, and each shard's master and replica (-1: none). */
struct topo {
    int owner;
    int master[SIM_MAX_SHARDS], replica[SIM_MAX_SHARDS];
};

/* Where an epoch of the election's data began: at t, by a loss of the
 * data (a restart without it, FLUSHALL) or by a failover that promoted a
 * replica lacking writes. last_loss: the latest epoch up to this one that
 * began with a loss, which no rule bridges. */
struct epoch_info {
    int64_t t;
    unsigned last_loss;
    /* A failover's: the node promoted (-1 for a loss), and bits by
     * process: whose slot map had the slot on the old master and did not
     * take that node for a serving master then (foreseen); whose map named
     * it the slot's master while it was (witnessed). */
    int promoted;
    unsigned foreseen, witnessed;
};

struct world {
    const struct sim_options *opt;
    uint64_t seed, rng;
    int64_t now, t_end, t_quiet, t_live, t_noslow;
    int k, nobs, nelect, nproc;
    lc_time ttl, wait, bound;
    lc_time connect_opt, cmd_opt; /* the timeout options; 0: defaults */
    struct node node[SIM_MAX_NODES];
    int nnodes;
    int owner;      /* the node serving the election's slot */
    unsigned epoch; /* of the election's data now */
    struct epoch_info *eps;
    size_t neps, capeps;
    struct lio_names names;
    char channel[LIO_KEY_MAX], term_key[LIO_KEY_MAX], run_key[LIO_KEY_MAX];
    const struct lio_shas *shas; /* Redis' script cache knows these */
    struct elect el[MAX_ELECT];
    struct proc proc[MAX_ELECT];
    int64_t ticks[MAX_ELECT]; /* each process' tick_at, if it can run */
    struct ident *idents;
    size_t nidents, capidents;
    struct grant *grants; /* this epoch's, in order */
    size_t ngrants, capgrants;
    struct grant *commits; /* quorum mode: each (term, id) committed */
    size_t ncommits, capcommits;
    struct conn *conns;
    size_t nconns, capconns;
    struct key *heap;
    size_t nheap, capheap;
    struct event *pool; /* the events in the queue, and free ones */
    uint32_t *free_ix;
    size_t cappool, nfree;
    uint64_t seq;
    /* network and fault parameters of this run */
    int64_t dmin_us, dmax_us, slow_max_us, quiet_max_us, jitter_us;
    double p_slow, p_break, p_err, p_cfail, p_chang, p_lose_data;
    int64_t mean_us[F_NTYPES];
    /* New-term requests draw from a stream of their own, so that a run
     * without them is the run this seed gave before they existed. */
    uint64_t term_rng;
    int64_t new_term_mean_us; /* 0: none in this run */
    /* Data loss beyond restarts (FLUSHALL, and losses right after a
     * follower joined late) and a hostile publisher, each from a stream of
     * its own too. */
    uint64_t loss_rng, hostile_rng;
    int64_t flush_mean_us, hostile_mean_us; /* 0: none in this run */
    /* SCRIPT FLUSH: a stream of its own as well. */
    uint64_t sflush_rng;
    int64_t sflush_mean_us; /* 0: none in this run */
    /* The shape of the processes (several elections in one, observers,
     * elections made again) and the sessions' seeds: a stream of its own. */
    uint64_t shape_rng;
    int64_t recreate_mean_us; /* 0: none in this run */
    /* The Redis Cluster, in the runs that have one: its shape and faults
     * draw from a stream of their own. */
    int cluster, nshards;
    uint64_t cluster_rng;
    unsigned kslot;    /* the election's hash slot */
    struct topo *topo; /* every version of the map; the last is now */
    size_t ntopo, captopo;
    int mig_to;    /* the node the slot is moving to, -1 */
    int mig_moved; /* 1: the holder key moved there, 2: the counter */
    int mig_first; /* which of the two moves first */
    unsigned mig_serial;
    int64_t lag_max_us, gossip_max_us, reshard_mean_us, failover_mean_us;
    struct lio_timing sub_timing; /* the notification link's, by ttl */
    int64_t redis_wall;           /* the server's TIME at true time 0, in ms */
    int late_joins;               /* such losses still to come */
    uint64_t max_granted;         /* (2b) highest term granted, in any epoch */
    int64_t last_elected_at;
    uint64_t hostile_after_live;
    int quiet;
    int live_leader;
    int64_t stable_since;     /* last ELECTED */
    uint64_t last_term;       /* of the last ELECTED in the current epoch */
    unsigned cur_epoch;       /* the epoch of what the session is handling */
    int in_reply;             /* a command reply is being handed over */
    const struct msg *answer; /* ... and it is an answer (see elect) */
    int answer_node;          /* ... from this node */
    /* Quorum mode: the servers, their run ids (index in the last 8 hex
     * digits), the faults' own stream, and INFO's reply text. */
    /* Bystanders (a stream of their own), the session's batch size in
     * their runs (0: the default), the batches' members as Redis parsed
     * them, and the reply values of one batch. */
    struct bystander by[MAX_BY];
    int nby;
    uint64_t by_rng;
    size_t batch_max;
    struct bmember *bmem;
    size_t nbmem, capbmem;
    struct lc_value bvals[SIM_BATCH_MAX];
    int nservers;
    char (*runs)[41];
    size_t nruns, capruns;
    uint64_t q_rng;
    int64_t qfault_mean_us, snap_mean_us;
    char info[160];
    /* outcome */
    struct sim_result *res;
    uint64_t steps;
    /* trace */
    int trace;
    FILE *out;
    char ring[TRACE_LINES][TRACE_WIDTH];
    unsigned ring_next, ring_count;
};

/* ---- randomness: splitmix64 streams ---- */

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(struct world *w)
{
    return splitmix(&w->rng);
}

/* Uniform in [0, n]. */
static int64_t rnd_upto(struct world *w, int64_t n)
{
    return n <= 0 ? 0 : (int64_t) (rnd(w) % (uint64_t) (n + 1));
}

static int64_t rnd_range(struct world *w, int64_t lo, int64_t hi)
{
    return lo + rnd_upto(w, hi - lo);
}

static double rnd_unit(struct world *w)
{
    return (double) (rnd(w) >> 11) / 9007199254740992.0;
}

static int chance(struct world *w, double p)
{
    return p > 0 && rnd_unit(w) < p;
}

/* From the shape stream: uniform in [0, n). */
static uint64_t shape_rnd(struct world *w, uint64_t n)
{
    return n == 0 ? 0 : splitmix(&w->shape_rng) % n;
}

/* From the quorum's stream: uniform in [0, n). */
static uint64_t q_rnd(struct world *w, uint64_t n)
{
    return n == 0 ? 0 : splitmix(&w->q_rng) % n;
}

/* From the Cluster stream: uniform in [0, n). */
static uint64_t cl_rnd(struct world *w, uint64_t n)
{
    return n == 0 ? 0 : splitmix(&w->cluster_rng) % n;
}

/* ---- where the election's keys are ---- */

static const struct topo *topo_now(const struct world *w)
{
    return &w->topo[w->ntopo - 1];
}

/* The holder key and the counter are at the node serving the slot; while
 * the slot moves, each is at the node it moves to once it has moved. */
static struct sim_redis *holder_redis(struct world *w)
{
    return &w->node[w->mig_to >= 0 && (w->mig_moved & 1) ? w->mig_to : w->owner]
                .r;
}

static struct sim_redis *counter_redis(struct world *w)
{
    return &w->node[w->mig_to >= 0 && (w->mig_moved & 2) ? w->mig_to : w->owner]
                .r;
}

/* ---- clocks ---- */

static lc_time local_at(const struct proc *p, int64_t t_us)
{
    return p->offset_ms + (t_us * p->rate) / ((int64_t) RATE_ONE * US_PER_MS);
}

/* The process' clock now; cached, since every call into a session and
 * every check reads it. */
static lc_time local_now(struct proc *p)
{
    if (p->clock_at != p->w->now || p->clock_at < 0) {
        p->clock_at = p->w->now;
        p->clock = local_at(p, p->w->now);
    }
    return p->clock;
}

/* The first true instant at which the process' clock reads local. */
static int64_t true_at(const struct proc *p, lc_time local)
{
    int64_t x = local - p->offset_ms;

    if (x <= 0)
        return 0;
    return (x * RATE_ONE * US_PER_MS + p->rate - 1) / p->rate;
}

static int64_t redis_ms(const struct world *w)
{
    return w->now / US_PER_MS;
}

/* Server x's clock in ms: its keys expire by it, and TIME and the uptime
 * read it (plus wall_off). In quorum mode each server's runs at a rate of
 * its own; else true time, as before. */
static int64_t node_ms(const struct world *w, int x)
{
    const struct node *n = &w->node[x];

    if (w->nservers <= 1)
        return redis_ms(w);
    return n->clock_off + (w->now * n->rate) / ((int64_t) RATE_ONE * US_PER_MS);
}

/* Whether traffic between p and server x is cut off now. */
static int cut_off(const struct proc *p, int x)
{
    return p->partitioned &&
           (p->part_mask == ~0u || (x >= 0 && (p->part_mask >> x & 1)));
}

/* ---- run ids (quorum mode) ---- */

static void *grow(void *p, size_t *cap, size_t size);

/* A new run id for a server's new life: 40 random hex digits, the last 8
 * of them its number, so that a command's ARGV names it at once. */
static int new_run(struct world *w)
{
    static const char hex[] = "0123456789abcdef";
    char *id;
    size_t n = w->nruns;

    if (w->nruns == w->capruns)
        w->runs = grow(w->runs, &w->capruns, sizeof *w->runs);
    id = w->runs[w->nruns++];
    for (int i = 0; i < 32; i++)
        id[i] = hex[splitmix(&w->q_rng) & 15];
    for (int i = 39; i >= 32; i--, n >>= 4)
        id[i] = hex[n & 15];
    id[40] = '\0';
    return (int) w->nruns - 1;
}

/* The number of a run id, -1 if it names no run of this world. */
static int run_of(const struct world *w, const char *a, size_t len)
{
    size_t n = 0;

    if (len != 40)
        return -1;
    for (size_t i = 32; i < 40; i++) {
        int d = a[i] >= '0' && a[i] <= '9'   ? a[i] - '0'
                : a[i] >= 'a' && a[i] <= 'f' ? a[i] - 'a' + 10
                                             : -1;
        if (d < 0)
            return -1;
        n = n * 16 + (size_t) d;
    }
    return n < w->nruns && memcmp(w->runs[n], a, 40) == 0 ? (int) n : -1;
}

/* ---- ids ---- */

static const char *ident_id(const struct world *w, int ident)
{
    return ident >= 0 && (size_t) ident < w->nidents ? w->idents[ident].id
           : ident == -1                             ? "-"
                                                     : "?";
}

/* A new id: "<name>-<hex>~<number>", the number being the one Redis and
 * the invariants name it by; its text into out (ID_MAX bytes). */
static int new_ident_text(struct world *w, char *out, const char *name,
                          uint64_t r)
{
    struct ident *id;

    if (w->nidents == w->capidents) {
        size_t n = w->capidents ? w->capidents * 2 : 16;
        struct ident *q = realloc(w->idents, n * sizeof *q);
        if (q == NULL) {
            fprintf(stderr, "sim: out of memory\n");
            exit(2);
        }
        w->idents = q;
        w->capidents = n;
    }
    id = &w->idents[w->nidents];
    snprintf(id->id, sizeof id->id, "%s-%08llx~%zu", name,
             (unsigned long long) (r & 0xffffffff), w->nidents);
    memcpy(out, id->id, sizeof id->id);
    return (int) w->nidents++;
}

/* A new id for election ei. */
static int new_ident(struct world *w, int ei, const char *name, uint64_t r)
{
    return new_ident_text(w, w->el[ei].id, name, r);
}

/* The number of the id text[0..len), -2 if it is none of this run's. */
static int ident_of(const struct world *w, const char *text, size_t len)
{
    size_t i = len, n = 0;

    while (i > 0 && text[i - 1] != '~')
        i--;
    if (i == 0 || i == len || len - i > 9)
        return -2;
    for (size_t j = i; j < len; j++) {
        if (text[j] < '0' || text[j] > '9')
            return -2;
        n = n * 10 + (size_t) (text[j] - '0');
    }
    if (n >= w->nidents || strlen(w->idents[n].id) != len ||
        memcmp(w->idents[n].id, text, len) != 0)
        return -2;
    return (int) n;
}

/* ---- trace ---- */

static void tracef(struct world *w, int pi, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tracing is off in most runs: skip even the arguments then. */
#define TRACE(w, ...)                                                          \
    do {                                                                       \
        if ((w)->trace)                                                        \
            tracef((w), __VA_ARGS__);                                          \
    } while (0)

static void tracef(struct world *w, int pi, const char *fmt, ...)
{
    char body[200], who[8], where[24], *line;
    struct sim_redis redis;
    va_list ap;
    int h;

    if (!w->trace)
        return;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    line = w->ring[w->ring_next];
    redis = *holder_redis(w); /* a copy: tracing must not touch the run */
    h = sim_redis_holder(&redis, redis_ms(w));
    snprintf(who, sizeof who, pi >= 0 ? "p%d" : "--", pi);
    where[0] = '\0';
    if (w->nservers > 1) {
        /* Each server: its holder/counter (* if another run wrote it),
         * and whether it is down or frozen. */
        char q[200];
        size_t at = 0;
        for (int x = 0; x < w->nservers && at < sizeof q; x++) {
            struct sim_redis r = w->node[x].r;
            int hx = sim_redis_holder(&r, node_ms(w, x));
            at += (size_t) snprintf(
                q + at, sizeof q - at, " n%d:%s/%llu%s%s", x,
                hx >= 0 ? ident_id(w, hx) + strlen(ident_id(w, hx)) - 2 : "-",
                (unsigned long long) r.counter,
                r.counter_run != w->node[x].run ? "*" : "",
                !r.up                              ? "(DOWN)"
                : w->node[x].paused_until > w->now ? "(FROZEN)"
                                                   : "");
        }
        snprintf(line, TRACE_WIDTH, "%10.3f %-3s %13lld | %-80.190s |%.150s",
                 (double) w->now / 1e6, who,
                 pi >= 0 ? (long long) local_now(&w->proc[pi]) : 0LL, body, q);
        if (w->trace == 2)
            fprintf(w->out, "%s\n", line);
        w->ring_next = (w->ring_next + 1) % TRACE_LINES;
        if (w->ring_count < TRACE_LINES)
            w->ring_count++;
        return;
    }
    if (w->cluster && w->mig_to >= 0)
        snprintf(where, sizeof where, " n%d->n%d/%d", w->owner, w->mig_to,
                 w->mig_moved);
    else if (w->cluster)
        snprintf(where, sizeof where, " n%d", w->owner);
    snprintf(line, TRACE_WIDTH,
             "%10.3f %-3s %13lld | %-80s | redis%s %s key=%s pttl=%lld "
             "term=%llu ep=%u",
             (double) w->now / 1e6, who,
             pi >= 0 ? (long long) local_now(&w->proc[pi]) : 0LL, body, where,
             w->node[w->owner].r.up ? "up" : "DOWN",
             h >= 0 ? ident_id(w, h) : "-",
             (long long) sim_redis_pttl(&redis, redis_ms(w)),
             (unsigned long long) counter_redis(w)->counter, w->epoch);
    if (w->trace == 2)
        fprintf(w->out, "%s\n", line);
    w->ring_next = (w->ring_next + 1) % TRACE_LINES;
    if (w->ring_count < TRACE_LINES)
        w->ring_count++;
}

static void dump_trace(struct world *w)
{
    unsigned first = (w->ring_next + TRACE_LINES - w->ring_count) % TRACE_LINES;

    if (w->trace != 1)
        return;
    fprintf(w->out,
            "  last %u steps (true s, process, its clock ms | what | "
            "Redis after):\n",
            w->ring_count);
    for (unsigned i = 0; i < w->ring_count; i++)
        fprintf(w->out, "  %s\n", w->ring[(first + i) % TRACE_LINES]);
}

static void fail(struct world *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct world *w, const char *kind, const char *fmt, ...)
{
    va_list ap;

    if (w->res->failed)
        return;
    w->res->failed = 1;
    w->res->kind = kind;
    va_start(ap, fmt);
    vsnprintf(w->res->what, sizeof w->res->what, fmt, ap);
    va_end(ap);
    TRACE(w, -1, "VIOLATION (%s): %s", kind, w->res->what);
}

static const char *elect_id(const struct elect *e)
{
    return e->id;
}

/* ---- the event queue: a binary heap on (time, insertion order) ----
 *
 * The heap holds small keys; the events themselves stay in a pool, so that
 * sifting moves 24 bytes, not a whole event. */

static int key_before(const struct key *a, const struct key *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void *grow(void *p, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(p, n * size);

    if (q == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        exit(2);
    }
    *cap = n;
    return q;
}

static void sift_down(struct world *w, size_t i)
{
    struct key *h = w->heap, tmp;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->nheap && key_before(&h[l], &h[m]))
            m = l;
        if (r < w->nheap && key_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* A free event of the pool, for ev_queue(); valid until the next one. */
static struct event *ev_alloc(struct world *w)
{
    if (w->nfree == 0) {
        size_t old = w->cappool;
        w->pool = grow(w->pool, &w->cappool, sizeof *w->pool);
        w->free_ix = realloc(w->free_ix, w->cappool * sizeof *w->free_ix);
        if (w->free_ix == NULL) {
            fprintf(stderr, "sim: out of memory\n");
            exit(2);
        }
        for (size_t n = w->cappool; n > old; n--)
            w->free_ix[w->nfree++] = (uint32_t) (n - 1);
    }
    return &w->pool[w->free_ix[w->nfree - 1]];
}

/* Queues the event ev_alloc() gave, keeping its seq (its place among
 * events of equal time). */
static void ev_queue(struct world *w, const struct event *ev)
{
    struct key k;
    size_t i;

    k.t = ev->t;
    k.seq = ev->seq;
    k.ev = w->free_ix[--w->nfree];
    if (w->nheap == w->capheap)
        w->heap = grow(w->heap, &w->capheap, sizeof *w->heap);
    i = w->nheap++;
    while (i > 0 && key_before(&k, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = k;
}

/* Inserts a copy of ev, keeping its seq. */
static void push_seq(struct world *w, const struct event *ev)
{
    struct event *e = ev_alloc(w);

    *e = *ev;
    ev_queue(w, e);
}

static void push(struct world *w, struct event *ev)
{
    ev->seq = w->seq++;
    push_seq(w, ev);
}

static void pop(struct world *w, struct event *ev)
{
    uint32_t x = w->heap[0].ev;

    *ev = w->pool[x];
    w->free_ix[w->nfree++] = x;
    w->heap[0] = w->heap[--w->nheap];
    sift_down(w, 0);
}

static void heapify(struct world *w)
{
    for (size_t i = w->nheap / 2; i-- > 0;)
        sift_down(w, i);
}

static void push_fault(struct world *w, int64_t t, enum fault f, int who,
                       unsigned serial)
{
    struct event ev;

    memset(&ev, 0, sizeof ev);
    ev.t = t;
    ev.type = EV_FAULT;
    ev.fault = f;
    ev.who = who;
    ev.serial = serial;
    ev.conn = -1;
    push(w, &ev);
}

/* ---- the network ---- */

/* A connection of process pi to server node, carrying link (-1: the
 * transport's own, that asks for the slot map). */
/* Which server's notification link link is (lio_sub_link), or -1. */
static int sub_server(const struct world *w, int link)
{
    unsigned n = w->nservers > 1 ? (unsigned) w->nservers : 1;

    for (unsigned i = 0; i < n; i++)
        if (link == (int) lio_sub_link(n, i))
            return (int) i;
    return -1;
}

static int new_conn(struct world *w, int pi, int link, int node)
{
    struct conn *cn;

    if (w->nconns == w->capconns)
        w->conns = grow(w->conns, &w->capconns, sizeof *w->conns);
    cn = &w->conns[w->nconns];
    memset(cn, 0, sizeof *cn);
    cn->proc = pi;
    cn->sub = sub_server(w, link) >= 0;
    cn->link = link;
    cn->node = node;
    cn->opened_at = w->now;
    return (int) w->nconns++;
}

static int64_t net_delay(struct world *w)
{
    int64_t d;

    if (w->quiet) {
        /* Liveness needs round trips well inside the command timeout. */
        int64_t hi =
            w->dmax_us < w->quiet_max_us ? w->dmax_us : w->quiet_max_us;
        return rnd_range(w, w->dmin_us < hi ? w->dmin_us : hi, hi);
    }
    d = rnd_range(w, w->dmin_us, w->dmax_us);

    if (w->now < w->t_noslow && chance(w, w->p_slow))
        d += rnd_upto(w, w->slow_max_us);
    return d;
}

/* Sends m over connection ci one way. A partition that holds traffic
 * delays it until it heals; the FIFO rule keeps order on the connection. */
static void net_send(struct world *w, int ci, int to_redis, const struct msg *m)
{
    struct conn *cn = &w->conns[ci];
    struct proc *p = &w->proc[cn->proc];
    int64_t *last = to_redis ? &cn->last_to_redis : &cn->last_to_client;
    int64_t base = w->now, t;
    struct event *ev;

    if (cut_off(p, cn->node) && p->part_hold && p->heal_at > base)
        base = p->heal_at;
    t = base + net_delay(w);
    if (t < *last)
        t = *last;
    *last = t;
    ev = ev_alloc(w); /* filled in place: this is the hottest path */
    ev->t = t;
    ev->seq = w->seq++;
    ev->type = to_redis ? EV_TO_REDIS : EV_TO_CLIENT;
    ev->conn = ci;
    ev->who = cn->proc;
    ev->fault = 0;
    ev->serial = 0;
    ev->flag = 0;
    ev->m = *m;
    ev_queue(w, ev);
    if (!w->quiet && m->kind != M_RESET && chance(w, w->p_break)) {
        /* The message is lost: the connection breaks on its way. */
        struct event b;
        memset(&b, 0, sizeof b);
        b.t = w->now + rnd_upto(w, t - w->now);
        b.type = EV_BREAK;
        b.conn = ci;
        b.who = cn->proc;
        b.flag = chance(w, 0.6); /* the client is told (a reset) */
        push(w, &b);
    }
}

static void send_simple(struct world *w, int ci, int to_redis,
                        enum msg_kind kind, uint64_t tag)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.tag = tag;
    net_send(w, ci, to_redis, &m);
}

/* Breaks a connection; with notify, the client learns of it by a reset. */
static void break_conn(struct world *w, int ci, int notify)
{
    struct conn *cn = &w->conns[ci];

    if (cn->broken || cn->client_closed)
        return;
    cn->broken = 1;
    w->res->n.breaks++;
    TRACE(w, cn->proc, "net: %s conn #%d breaks%s", cn->sub ? "sub" : "cmd", ci,
          notify ? " (reset)" : " (silently)");
    if (notify) {
        send_simple(w, ci, 0, M_RESET, 0);
    } else if (!cn->sub && w->nservers > 1) {
        /* Quorum mode: a server's command link carries INFO, which no
         * core's reply timeout covers; TCP keepalive (the session's
         * keepalive_s: idle, then probes) is what finds a link that died
         * silently with INFO unanswered. */
        struct event ev;
        int64_t k = (int64_t) w->sub_timing.keepalive_s * 1000;
        memset(&ev, 0, sizeof ev);
        ev.t = w->now + rnd_range(w, k, 2 * k) * US_PER_MS;
        ev.type = EV_TO_CLIENT;
        ev.conn = ci;
        ev.who = cn->proc;
        ev.flag = 1;
        ev.m.kind = M_RESET;
        push(w, &ev);
    } else if (cn->sub) {
        /* TCP keepalive finds out, unless the PING health check of the
         * session gives the link up first. */
        struct event ev;
        memset(&ev, 0, sizeof ev);
        ev.t = w->now + rnd_range(w, 1000, 20000) * US_PER_MS;
        ev.type = EV_TO_CLIENT;
        ev.conn = ci;
        ev.who = cn->proc;
        ev.flag = 1; /* found out locally: no partition stops it */
        ev.m.kind = M_RESET;
        push(w, &ev);
    }
}

/* ---- Redis' parser: the argument vectors of lio_proto.c ---- */

static int arg_is(const char *a, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(a, s, len) == 0;
}

/* A decimal number of at most 19 digits, as the scripts accept. */
static int arg_num(const char *a, size_t len, uint64_t *v)
{
    *v = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (a[i] < '0' || a[i] > '9')
            return -1;
        *v = *v * 10 + (uint64_t) (a[i] - '0');
    }
    return 0;
}

/* Parses a command as Redis would, into c; on failure, why says what is
 * wrong with it (the session sent something the protocol does not know).
 * The bytes of a command cannot change on the way, so the world parses
 * them as they are written, and the event carries the parsed form. */
/* A term as the quorum scripts compare it: a canonical decimal (no
 * leading zero), or they would not order it as a number. */
static int arg_term(const char *a, size_t len, uint64_t *v)
{
    return arg_num(a, len, v) != 0 || (len > 1 && a[0] == '0') ? -1 : 0;
}

/* The quorum scripts' argument vectors (lio_argv_qscript): EVAL|EVALSHA
 * script 3 holder term run ARGV..., the last ARGV the run id. */
static const char *parse_qcmd(struct world *w, int argc, const char **argv,
                              const size_t *lens, struct cmd *c)
{
    static const int nargv[] = {[LC_QW_GRANT] = 3,
                                [LC_QW_COMMIT] = 3,
                                [LC_QW_RENEW] = 4,
                                [LC_QW_RELEASE] = 3,
                                [LC_QW_READ] = 1};
    uint64_t v;

    c->qwire = lio_qscript_named(w->shas, argv[1], lens[1], !c->eval);
    if (c->qwire == LC_QW_NONE || c->qwire == LC_QW_PROBE)
        return "a script Redis does not know";
    if (argc < 6 || !arg_is(argv[2], lens[2], "3") ||
        !arg_is(argv[3], lens[3], w->names.holder_key) ||
        !arg_is(argv[4], lens[4], w->term_key) ||
        !arg_is(argv[5], lens[5], w->run_key))
        return "wrong keys";
    if (argc != 6 + nargv[c->qwire])
        return "wrong number of arguments";
    c->run = run_of(w, argv[argc - 1], lens[argc - 1]);
    if (c->run < 0)
        return "a run id that no server had";
    if (c->qwire == LC_QW_READ)
        return NULL;
    c->ident = ident_of(w, argv[6], lens[6]);
    if (c->ident < 0)
        return "an id that is no election's";
    if (c->qwire == LC_QW_GRANT) {
        if (arg_num(argv[7], lens[7], &v))
            return "grant: bad ttl";
        c->ttl = (int64_t) v;
    } else if (arg_term(argv[7], lens[7], &c->term)) {
        return "a term that is no canonical decimal";
    } else if (c->qwire == LC_QW_RENEW) {
        if (arg_num(argv[8], lens[8], &v))
            return "renew: bad ttl";
        c->ttl = (int64_t) v;
    }
    if ((c->qwire == LC_QW_GRANT || c->qwire == LC_QW_RENEW) &&
        c->ttl != w->ttl)
        return "a ttl that is not the election's";
    return NULL;
}

/* PUBLISH channel "elected|released <term> <id>": in quorum mode, a term
 * a majority committed, or a leader's release, told to each server by the
 * client. */
static const char *parse_publish(struct world *w, const char **argv,
                                 const size_t *lens, struct cmd *c)
{
    struct lc_notify n;

    c->type = C_PUBLISH;
    if (w->nservers <= 1)
        return "PUBLISH outside quorum mode";
    if (!arg_is(argv[1], lens[1], w->channel))
        return "PUBLISH to another channel";
    if (lc_parse_notify(argv[2], lens[2], &n) != 0)
        return "a notification the protocol does not send";
    c->released = n.kind == LC_NOTIFY_RELEASED;
    c->ident = ident_of(w, n.id, n.id_len);
    c->term = n.term;
    return c->ident < 0 ? "an id that is no election's" : NULL;
}

/* Whose holder key a[0..len) is: 0 the election's, 1 + b bystander
 * b's; -1 for none. */
static int key_of(const struct world *w, const char *a, size_t len)
{
    if (arg_is(a, len, w->names.holder_key))
        return 0;
    for (int b = 0; b < w->nby; b++)
        if (arg_is(a, len, w->by[b].names.holder_key))
            return 1 + b;
    return -1;
}

static const char *term_key_of(const struct world *w, int key)
{
    return key == 0 ? w->term_key : w->by[key - 1].term_key;
}

/* The batch renewal (lio_argv_batch): EVAL|EVALSHA script 2n holder_1
 * term_1 ... id_1 term_1 ttl_1 ..., n from 2 (a lone renewal goes as
 * RENEW) to SIM_BATCH_MAX, on one server only: a Cluster would refuse
 * keys of many slots. */
static const char *parse_batch(struct world *w, int argc, const char **argv,
                               const size_t *lens, struct cmd *c)
{
    uint64_t nk, v;
    size_t n;

    c->type = C_BATCH;
    if (w->cluster || w->nservers > 1)
        return "a batch of renewals where keys may be in many slots";
    if (arg_num(argv[2], lens[2], &nk) || nk % 2 != 0 || nk < 4 ||
        nk / 2 > SIM_BATCH_MAX)
        return "a batch of renewals of a wrong size";
    n = (size_t) nk / 2;
    if ((size_t) argc != 3 + 5 * n)
        return "wrong number of arguments";
    if (w->nbmem + n > w->capbmem)
        w->bmem = grow(w->bmem, &w->capbmem, sizeof *w->bmem);
    c->bstart = (int) w->nbmem;
    c->bn = (int) n;
    for (size_t i = 0; i < n; i++) {
        struct bmember *b = &w->bmem[w->nbmem + i];
        size_t k = 3 + 2 * i, a = 3 + 2 * n + 3 * i;
        b->key = key_of(w, argv[k], lens[k]);
        if (b->key < 0 ||
            !arg_is(argv[k + 1], lens[k + 1], term_key_of(w, b->key)))
            return "wrong keys";
        b->ident = ident_of(w, argv[a], lens[a]);
        if (b->ident < 0)
            return "an id that is no election's";
        if (arg_num(argv[a + 1], lens[a + 1], &b->term) ||
            arg_num(argv[a + 2], lens[a + 2], &v))
            return "renew: bad term or ttl";
        b->ttl = (int64_t) v;
        if (b->ttl != w->ttl)
            return "a ttl that is not the election's";
        b->res = 0;
    }
    w->nbmem += n;
    return NULL;
}

static const char *parse_cmd(struct world *w, int argc, const char **argv,
                             const size_t *lens, struct cmd *c)
{
    static const int nargv[] = {0, 3, 3, 2, 0}; /* ARGV count by kind */
    uint64_t v;

    memset(c, 0, sizeof *c);
    c->ident = -1;
    if (argc == 1 && arg_is(argv[0], lens[0], "PING")) {
        c->type = C_PING;
        return NULL;
    }
    if (argc == 2 && arg_is(argv[0], lens[0], "INFO") &&
        arg_is(argv[1], lens[1], "server")) {
        c->type = C_INFO;
        return w->nservers > 1 ? NULL : "INFO outside quorum mode";
    }
    if (argc == 3 && arg_is(argv[0], lens[0], "PUBLISH"))
        return parse_publish(w, argv, lens, c);
    if (argc == 1 && arg_is(argv[0], lens[0], "ASKING")) {
        c->type = C_ASKING;
        return w->cluster ? NULL : "ASKING to a server that is no Cluster";
    }
    if (argc == 2 && arg_is(argv[0], lens[0], "PTTL")) {
        c->key = key_of(w, argv[1], lens[1]);
        if (c->key < 0)
            return "PTTL of another key";
        c->type = C_PTTL;
        c->kind = LC_CMD_PROBE;
        return NULL;
    }
    if (argc < 5 || !(arg_is(argv[0], lens[0], "EVALSHA") ||
                      (c->eval = arg_is(argv[0], lens[0], "EVAL"))))
        return "not a command of the protocol";
    c->type = C_SCRIPT;
    if (lio_batch_named(w->shas, argv[1], lens[1], !c->eval))
        return parse_batch(w, argc, argv, lens, c);
    if (w->nservers > 1)
        return parse_qcmd(w, argc, argv, lens, c);
    c->kind = lio_script_named(w->shas, argv[1], lens[1], !c->eval);
    if (c->kind == 0)
        return "a script Redis does not know";
    c->key = key_of(w, argv[3], lens[3]);
    if (!arg_is(argv[2], lens[2], "2") || c->key < 0 ||
        !arg_is(argv[4], lens[4], term_key_of(w, c->key)))
        return "wrong keys";
    if (argc != 5 + nargv[c->kind])
        return "wrong number of arguments";
    if (c->kind == LC_CMD_READ)
        return NULL;
    c->ident = ident_of(w, argv[5], lens[5]);
    if (c->ident < 0)
        return "an id that is no election's";
    if (c->kind == LC_CMD_ACQUIRE) {
        if (arg_num(argv[6], lens[6], &v) ||
            arg_num(argv[7], lens[7], &c->term))
            return "acquire: bad ttl or floor";
        c->ttl = (int64_t) v;
    } else if (c->kind == LC_CMD_RENEW) {
        if (arg_num(argv[6], lens[6], &c->term) ||
            arg_num(argv[7], lens[7], &v))
            return "renew: bad term or ttl";
        c->ttl = (int64_t) v;
    } else if (arg_num(argv[6], lens[6], &c->term)) {
        return "release: bad term";
    }
    if (c->kind != LC_CMD_RELEASE && c->ttl != w->ttl)
        return "a ttl that is not the election's";
    return NULL;
}

static const char *cmd_name(enum lc_cmd_kind k)
{
    return k == LC_CMD_ACQUIRE   ? "ACQUIRE"
           : k == LC_CMD_RENEW   ? "RENEW"
           : k == LC_CMD_PROBE   ? "PROBE"
           : k == LC_CMD_RELEASE ? "RELEASE"
                                 : "READ";
}

/* A command's name in the trace, quorum scripts and INFO included. */
static const char *cmd_label(const struct cmd *c)
{
    static const char *q[] = {[LC_QW_GRANT] = "Q-GRANT",
                              [LC_QW_COMMIT] = "Q-COMMIT",
                              [LC_QW_RENEW] = "Q-RENEW",
                              [LC_QW_RELEASE] = "Q-RELEASE",
                              [LC_QW_READ] = "Q-READ"};

    if (c->type == C_INFO)
        return "INFO";
    if (c->type == C_PUBLISH)
        return "PUBLISH";
    if (c->type == C_BATCH)
        return "BATCH";
    if (c->type == C_SCRIPT && c->qwire != LC_QW_NONE && c->qwire <= LC_QW_READ)
        return q[c->qwire];
    return cmd_name(c->kind);
}

/* ---- the transport: what the session asks of the network ---- */

static struct conn *link_conn(struct proc *p, enum lio_link link)
{
    return p->link[link] >= 0 ? &p->w->conns[p->link[link]] : NULL;
}

static const char *link_name(enum lio_link link)
{
    return link == LIO_LINK_SUB ? "sub" : link == LIO_LINK_CMD ? "cmd" : "node";
}

/* The server at an address of the map; -1 for none of this world's. */
static int node_at(const struct world *w, const struct lio_cluster_node *a)
{
    for (int x = 0; x < w->nnodes; x++)
        if (w->node[x].port == a->port && strcmp(w->node[x].host, a->host) == 0)
            return x;
    return -1;
}

/* The node at map index i of p's map, -1 for none. */
static int map_node(const struct world *w, const struct proc *p, int i)
{
    return i >= 0 && (size_t) i < p->map.n ? node_at(w, &p->map.nodes[i].addr)
                                           : -1;
}

/* Map node 0 is the URL's server, on the command link; node i > 0 has
 * link LIO_LINK_NODE + i - 1 (as in lio_mux.c). */
static enum lio_link link_of_node(int i)
{
    return i == 0 ? LIO_LINK_CMD : (enum lio_link)(LIO_LINK_NODE + i - 1);
}

static int node_of_link(enum lio_link link)
{
    return link == LIO_LINK_CMD ? 0 : (int) link - LIO_LINK_NODE + 1;
}

/* The server a link opens to: the URL's, or in a Cluster a node link's
 * own, and for the notification link any node of the map, the next one
 * after each failure (every node hears every PUBLISH). */
static int link_target(struct proc *p, enum lio_link link)
{
    const struct world *w = p->w;

    if (w->nservers > 1) /* server i on lio_server_link(i), lio_sub_link */
        return sub_server(w, link) >= 0 ? sub_server(w, link)
                                        : node_of_link(link);
    if (!p->cluster || link == LIO_LINK_CMD ||
        (link == LIO_LINK_SUB && p->map.n == 0))
        return p->url_node;
    if (link == LIO_LINK_SUB)
        return node_at(w, &p->map.nodes[(size_t) p->sub_pick % p->map.n].addr);
    return node_at(w, &p->map.nodes[node_of_link(link)].addr);
}

/* Who answers on a link, as the session tells servers apart: in a
 * Cluster, the lineage of the node in the map (a new one when the map saw
 * it promoted by a failover); else nobody (0), as lio_mux.c reports a
 * single server. */
static uint64_t server_of(const struct proc *p, enum lio_link link)
{
    /* As lio_mux.c: the URL's server is lineage 1 from the first
     * connection on, before anyone knows it is a Cluster's node 0. */
    if (sub_server(p->w, link) >= 0)
        return 0;
    if (p->w->nservers > 1)
        return (uint64_t) node_of_link(link) + 1;
    return p->cluster ? p->map.nodes[node_of_link(link)].lineage : 1;
}

static void t_open(void *ctx, enum lio_link link,
                   const struct lio_link_params *lp, lc_time now)
{
    struct proc *p = ctx;
    struct world *w = p->w;
    int ci;

    if ((int) link >= p->nlinks) {
        fail(w, "session", "p%d opens link %d, which the transport never named",
             p->index, (int) link);
        return;
    }
    if (p->link[link] >= 0)
        w->conns[p->link[link]].client_closed = 1;
    ci = new_conn(w, p->index, link, link_target(p, link));
    p->link[link] = ci;
    p->open_deadline[link] = now + (lp->timeout_ms > 0 ? lp->timeout_ms : 0);
    if (link == LIO_LINK_SUB)
        w->res->n.sub_opens++;
    TRACE(w, p->index,
          "transport: open %s link, conn #%d to n%d, timeout %ld ms",
          link_name(link), ci, w->conns[ci].node, lp->timeout_ms);
    send_simple(w, ci, 1, M_SYN, 0);
}

/* (14) A command link is given up for a command that waited its whole
 * timeout with nothing heard on the link since it was sent: never while
 * it answered within the shortest command timeout of the process'
 * elections (less 1 %, for the clock's rate) and other elections are up
 * on it. Closing a link that answers takes every election's connection
 * for one election's slow reply; a leader whose lease runs out while its
 * renewal waits in the queue steps down, and keeps the link. Quorum mode
 * gives each server's op a timeout of its own. */
static void kept_count(const struct lio_slot *slot, enum lio_link link, int *up,
                       lc_time *t)
{
    if (slot == NULL)
        return;
    if (lc_cmd_timeout(lio_slot_core(slot)) < *t)
        *t = lc_cmd_timeout(lio_slot_core(slot));
    if (slot->link == link && lc_conn_state(lio_slot_core(slot)) == LC_UP)
        (*up)++;
}

static void check_answering_kept(struct world *w, struct proc *p,
                                 enum lio_link link)
{
    const struct conn *cn = &w->conns[p->link[link]];
    lc_time t = LC_NEVER, ago = local_now(p) - cn->replied;
    int up = 0;

    if (w->nservers > 1 || cn->replied == 0)
        return;
    for (int i = 0; i < p->nmembers; i++)
        kept_count(w->el[p->members[i]].slot, link, &up, &t);
    for (int i = 0; i < p->nby; i++)
        kept_count(w->by[p->by[i]].slot, link, &up, &t);
    if (up > 0 && ago < t - t / 100)
        fail(w, "links",
             "the command link was closed with %d election(s) up on it, %lld "
             "ms after its last reply (command timeout %lld ms)",
             up, (long long) ago, (long long) t);
}

static void t_close(void *ctx, enum lio_link link)
{
    struct proc *p = ctx;
    struct world *w = p->w;
    int n = 0;

    if (p->link[link] < 0)
        return;
    if (sub_server(w, link) < 0 && w->conns[p->link[link]].ready) {
        /* One election's timeout closes the link of all: count the
         * closings that leave others attached (the fan-out). */
        for (int i = 0; i < p->nmembers; i++) {
            struct elect *e = &w->el[p->members[i]];
            if (e->slot != NULL && e->slot->link == link &&
                lc_conn_state(lio_slot_core(e->slot)) == LC_UP)
                n++;
        }
        if (n >= 2)
            w->res->n.fanouts++;
        check_answering_kept(w, p, link);
    }
    TRACE(w, p->index, "transport: close %s link, conn #%d", link_name(link),
          p->link[link]);
    w->conns[p->link[link]].client_closed = 1;
    p->link[link] = -1;
    p->open_deadline[link] = LC_NEVER;
}

static enum lio_link_state t_state(void *ctx, enum lio_link link)
{
    struct proc *p = ctx;
    struct conn *cn = (int) link < p->nlinks ? link_conn(p, link) : NULL;

    return cn == NULL  ? LIO_LINK_DOWN
           : cn->ready ? LIO_LINK_READY
                       : LIO_LINK_OPENING;
}

static int t_send(void *ctx, enum lio_link link, uint64_t tag, int argc,
                  const char **argv, const size_t *lens)
{
    struct proc *p = ctx;
    struct world *w = p->w;
    struct conn *cn = link_conn(p, link);
    const char *why;
    struct msg m;

    memset(&m, 0, sizeof m);
    why = parse_cmd(w, argc, argv, lens, &m.cmd);
    if (why != NULL) {
        fail(w, "protocol", "p%d sent %.*s ...: %s", p->index,
             argc > 0 ? (int) (lens[0] < 20 ? lens[0] : 20) : 0,
             argc > 0 ? argv[0] : "", why);
        return -1;
    }
    if (cn == NULL || !cn->ready) {
        /* The send fails; a timeout or the link's failure resolves it. */
        w->res->n.stale_sends++;
        TRACE(w, p->index, "transport: %s on a %s link fails",
              m.cmd.type == C_PING     ? "PING"
              : m.cmd.type == C_ASKING ? "ASKING"
                                       : cmd_label(&m.cmd),
              cn == NULL ? "closed" : "opening");
        return -1;
    }
    if (m.cmd.type == C_PING)
        w->res->n.pings++;
    m.kind = M_CMD;
    m.tag = tag;
    net_send(w, p->link[link], 1, &m);
    return 0;
}

/* A bystander's channel. Its subscriptions are taken and never
 * confirmed: nobody else is on its key, so notifications could tell it
 * nothing, and it never waits for one. */
static int by_channel(const struct world *w, const char *channel)
{
    for (int b = 0; b < w->nby; b++)
        if (strcmp(channel, w->by[b].channel) == 0)
            return 1;
    return 0;
}

static int t_subscribe(void *ctx, enum lio_link link, uint64_t tag,
                       const char *channel, int on)
{
    struct proc *p = ctx;
    struct world *w = p->w;
    struct conn *cn = (int) link < p->nlinks ? link_conn(p, link) : NULL;

    if (by_channel(w, channel))
        return cn != NULL && cn->ready ? 0 : -1;
    if (strcmp(channel, w->channel) != 0) {
        fail(w, "protocol", "p%d subscribes to %s, not to %s", p->index,
             channel, w->channel);
        return -1;
    }
    if (cn == NULL || !cn->ready)
        return -1;
    if (on) {
        send_simple(w, p->link[link], 1, M_SUBSCRIBE, tag);
        return 0;
    }
    for (int i = 0; i < cn->ntags; i++) {
        if (cn->tags[i] == tag) {
            cn->tags[i] = cn->tags[--cn->ntags];
            break;
        }
    }
    /* The channel is left when no election of the process listens on it
     * any more: one subscription of a channel per connection in Redis. */
    if (cn->ntags == 0)
        send_simple(w, p->link[link], 1, M_UNSUBSCRIBE, tag);
    return 0;
}

/* After any change to p's slot map: does it name the node promoted by the
 * failover the slot's data is in, while that node serves the slot? */
static void note_map(struct world *w, const struct proc *p)
{
    struct epoch_info *e = &w->eps[w->epoch];
    int i = lio_cmap_owner(&p->map, w->kslot);

    if (e->promoted >= 0 && w->owner == e->promoted &&
        map_node(w, p, i) == e->promoted)
        e->witnessed |= 1u << p->index;
}

/* The first redirection: this is a Cluster, and the URL's server is node
 * 0 of the map. */
static int become_cluster(struct proc *p)
{
    const struct node *u = &p->w->node[p->url_node];

    if (p->cluster)
        return 0;
    if (lio_cmap_init(&p->map, u->host, u->port) != 0)
        return -1;
    p->cluster = 1;
    return 0;
}

static enum lio_link t_route(void *ctx, const char *key)
{
    struct proc *p = ctx;
    int i;

    if (strcmp(key, p->w->names.holder_key) != 0)
        fail(p->w, "protocol", "p%d routes by %s, not by the holder key",
             p->index, key);
    if (!p->cluster)
        return LIO_LINK_CMD;
    /* The key is the holder key (above), whose slot is kslot. */
    i = lio_cmap_owner(&p->map, p->w->kslot);
    return i > 0 && link_of_node(i) < MAX_LINKS ? link_of_node(i)
                                                : LIO_LINK_CMD;
}

static int t_redirect(void *ctx, enum lio_link from, const char *text,
                      size_t len, int *ask)
{
    struct proc *p = ctx;
    struct lio_cluster_redirect r;
    int to;

    if (!lio_cluster_redirect(text, len, &r) || become_cluster(p) != 0)
        return -1;
    to = lio_cmap_redirect(&p->map, &r, node_of_link(from));
    if (to < 0 || link_of_node(to) >= MAX_LINKS)
        return -1;
    if (!r.ask)
        p->refresh_wanted = 1; /* the map is behind: ask for it again */
    note_map(p->w, p);
    *ask = r.ask;
    TRACE(p->w, p->index, "transport: %s from %s link to map node %d (n%d)",
          r.ask ? "ASK" : "MOVED", link_name(from), to,
          node_at(p->w, &p->map.nodes[to].addr));
    return (int) link_of_node(to);
}

/* One server that is no Cluster node: renewals go in batches there (as
 * lio_mux.c says of a server that refused CLUSTER SLOTS). */
static int t_batchable(void *ctx, enum lio_link link)
{
    (void) ctx;
    return link == LIO_LINK_CMD;
}

/* The session's transport: for one server, and for a Cluster. */
static const struct lio_transport transport = {
    t_open, t_close, t_state, t_send,     t_subscribe,
    NULL,   NULL,    NULL,    t_batchable};
static const struct lio_transport cluster_transport = {
    t_open, t_close, t_state,    t_send, t_subscribe,
    NULL,   t_route, t_redirect, NULL};

/* ---- the transport's own connection that asks for the slot map ----
 *
 * As lio_mux.c does: wanted after a MOVED or a command link's failure,
 * asked of one node of the map at a time (the next after each answer or
 * failure), at most every REFRESH_MIN_MS, its opening within
 * PROBE_TIMEOUT_MS; the answer goes through the library's parser and into
 * its map. */

/* The reply to CLUSTER SLOTS that a node knowing map version v sends,
 * built as hiredis would hand it over: every shard's master and replica
 * with a range of 16 slots of the shard's own (base_lo), and the election's
 * slot with its master. The other slots are left unassigned: they change
 * nothing for the one slot followed, and parsing and applying all 16384
 * at every asking cost more than all the rest of a Cluster run. Failed replicas
 * are left out, as Redis does. */
struct slots_reply {
    redisReply top, range[SLOTS_CAP], bound[2 * SLOTS_CAP], node[2 * SLOTS_CAP],
        field[6 * SLOTS_CAP];
    redisReply *top_el[SLOTS_CAP], *range_el[SLOTS_CAP][4],
        *node_el[2 * SLOTS_CAP][3];
    int nrange, nnode;
};

#define BASE_SLOTS 16

static unsigned base_lo(const struct world *w, int shard)
{
    return (unsigned) (shard * LIO_CLUSTER_SLOTS / w->nshards);
}

static redisReply *slots_node(const struct world *w, struct slots_reply *b,
                              int x)
{
    int i = b->nnode++;
    redisReply *n = &b->node[i], *f = &b->field[3 * i];

    memset(f, 0, 3 * sizeof *f);
    f[0].type = REDIS_REPLY_STRING;
    f[0].str = (char *) w->node[x].host;
    f[0].len = strlen(w->node[x].host);
    f[1].type = REDIS_REPLY_INTEGER;
    f[1].integer = w->node[x].port;
    f[2].type = REDIS_REPLY_STRING;
    f[2].str = (char *) w->node[x].id;
    f[2].len = strlen(w->node[x].id);
    for (int j = 0; j < 3; j++)
        b->node_el[i][j] = &f[j];
    memset(n, 0, sizeof *n);
    n->type = REDIS_REPLY_ARRAY;
    n->elements = 3;
    n->element = b->node_el[i];
    return n;
}

static void slots_range(const struct world *w, struct slots_reply *b,
                        const struct topo *t, unsigned down, int shard,
                        unsigned lo, unsigned hi)
{
    int i = b->nrange++, r = t->replica[shard];
    redisReply *rg = &b->range[i], *bd = &b->bound[2 * i];

    memset(bd, 0, 2 * sizeof *bd);
    bd[0].type = bd[1].type = REDIS_REPLY_INTEGER;
    bd[0].integer = lo;
    bd[1].integer = hi;
    b->range_el[i][0] = &bd[0];
    b->range_el[i][1] = &bd[1];
    b->range_el[i][2] = slots_node(w, b, t->master[shard]);
    memset(rg, 0, sizeof *rg);
    rg->type = REDIS_REPLY_ARRAY;
    rg->elements = 3;
    if (r >= 0 && !(down & (1u << r)))
        b->range_el[i][rg->elements++] = slots_node(w, b, r);
    rg->element = b->range_el[i];
    b->top_el[i] = rg;
}

static void slots_build(const struct world *w, struct slots_reply *b,
                        unsigned v, unsigned down)
{
    const struct topo *t = &w->topo[v];

    b->nrange = b->nnode = 0;
    for (int s = 0; s < w->nshards; s++)
        slots_range(w, b, t, down, s, base_lo(w, s),
                    base_lo(w, s) + BASE_SLOTS - 1);
    slots_range(w, b, t, down, t->owner, w->kslot, w->kslot);
    memset(&b->top, 0, sizeof b->top);
    b->top.type = REDIS_REPLY_ARRAY;
    b->top.elements = (size_t) b->nrange;
    b->top.element = b->top_el;
}

static void probe_close(struct world *w, struct proc *p)
{
    if (p->probe >= 0)
        w->conns[p->probe].client_closed = 1;
    p->probe = -1;
    p->probe_deadline = LC_NEVER;
}

/* An answer or a failure: the next asking goes to the next node. */
static void probe_done(struct world *w, struct proc *p)
{
    probe_close(w, p);
    if (p->refresh_wanted)
        p->probe_i = (int) ((size_t) (p->probe_i + 1) % p->map.n);
}

static void manage_probe(struct world *w, struct proc *p)
{
    lc_time now;
    int ci;

    if (!p->cluster || !p->refresh_wanted || p->probe >= 0)
        return;
    now = local_now(p);
    if (now < p->refresh_at)
        return;
    p->refresh_at = now + REFRESH_MIN_MS;
    ci = new_conn(
        w, p->index, -1,
        node_at(w, &p->map.nodes[(size_t) p->probe_i % p->map.n].addr));
    p->probe = ci;
    p->probe_deadline = now + PROBE_TIMEOUT_MS;
    TRACE(w, p->index, "transport: ask n%d for the slot map (conn #%d)",
          w->conns[ci].node, ci);
    send_simple(w, ci, 1, M_SYN, 0);
}

static void on_probe(struct world *w, struct proc *p, int ci,
                     const struct msg *m)
{
    struct lio_cluster_range ranges[SLOTS_CAP];
    struct slots_reply b;
    struct msg q;
    int n;

    switch (m->kind) {
    case M_ACK:
        w->conns[ci].ready = 1;
        memset(&q, 0, sizeof q);
        q.kind = M_CMD;
        q.cmd.type = C_SLOTS;
        q.cmd.ident = -1;
        net_send(w, ci, 1, &q);
        return;
    case M_REFUSED:
    case M_RESET:
        probe_done(w, p);
        return;
    case M_REPLY:
        slots_build(w, &b, (unsigned) m->res.term, (unsigned) m->res.flag);
        n = lio_cluster_slots(&b.top, ranges, SLOTS_CAP);
        if (n < 0) {
            fail(w, "setup", "lio_cluster_slots refused the simulated reply");
            return;
        }
        (void) lio_cmap_apply(&p->map, ranges, n, p->probe_i);
        note_map(w, p);
        p->refresh_wanted = 0;
        w->res->n.maps++;
        TRACE(w, p->index, "transport: slot map of version %u applied",
              (unsigned) m->res.term);
        probe_done(w, p);
        return;
    default:
        return;
    }
}

/* ---- invariants ---- */

static int holds_lease(struct world *w, int i)
{
    struct elect *e = &w->el[i];
    struct proc *p = &w->proc[e->proc];

    return p->alive && e->slot != NULL &&
           lc_has_lease(lio_slot_core(e->slot), local_now(p));
}

/* The processes (bits) that could see the failover an epoch began with:
 * see comparable(). */
static unsigned seen_by(const struct epoch_info *e)
{
    return e->foreseen & e->witnessed;
}

/* Whether the leases of elections i and j are held to (1): leases of one
 * epoch always are. Across a loss of the data (a restart without it,
 * FLUSHALL) they are not: that is outside the guarantee. Across a
 * failover that promoted a replica lacking writes, the later lease is
 * held to the earlier one when its election could see the failover: it
 * must then have found the new master fresh (a server new to it) and
 * waited a ttl there before it acquired, so whatever the old master
 * granted has run out. It could see it when
 * - its core had an answer from Redis before the failover (else it is a
 *   late joiner, as after a loss);
 * - its process' slot map followed the slot through the failover: it had
 *   the slot on the old master and did not take the promoted node for a
 *   master serving slots (a map behind, that still had it serving from an
 *   earlier term of office, cannot tell its promotion), and it named it
 *   the slot's master afterwards, before the slot moved on (a resharding
 *   that moves the slot away before the map has seen its new master
 *   hides the failover: the map sees a resharding). A transport that has
 *   not yet found out it talks to a Cluster has no map: the server its
 *   elections used has no name, and the first one named after the
 *   failover cannot be told from a resharding's target;
 * - its lease was not won or renewed at a node that it had reached before
 *   the node's latest promotion: the node had last answered it in an
 *   earlier term of office (demoted and promoted again while the election
 *   did not look), or it had opened the connection to the node while the
 *   node was still a replica (led there by a map or a redirection from an
 *   earlier term of office). To it that is the server it knew, and
 *   nothing tells it of the promotion. */
static int comparable(const struct world *w, int i, int j)
{
    unsigned a = w->el[i].lease_epoch, b = w->el[j].lease_epoch;
    unsigned lo = a < b ? a : b, hi = a < b ? b : a;
    const struct elect *later = &w->el[a < b ? j : i];

    if (a == b)
        return 1;
    if (w->eps[hi].last_loss > lo || (later->aba && later->aba_epoch == hi))
        return 0;
    return later->answered_at < w->eps[lo + 1].t &&
           (seen_by(&w->eps[lo + 1]) >> later->proc & 1);
}

/* (1) At most one candidate holds a valid local lease, each judged by its
 * own clock, paused or not. Leases only begin at steps, so checking after
 * every step covers every instant: after a step of election i, whether i
 * holds a lease beside another. Leases granted before Redis lost its data
 * are outside the guarantee and only compared among themselves; see
 * comparable() for failovers. */
static void check_mutex(struct world *w, int i)
{
    const struct lc_core *a, *b;

    if (i >= w->k || !holds_lease(w, i))
        return;
    for (int j = 0; j < w->k; j++) {
        if (j == i || !holds_lease(w, j) || !comparable(w, i, j))
            continue;
        a = lio_slot_core(w->el[i].slot);
        b = lio_slot_core(w->el[j].slot);
        fail(w, "safety",
             "two leaders: %s (term %llu, lease to %lld) and %s (term %llu, "
             "lease to %lld) both hold a lease",
             elect_id(&w->el[i]), (unsigned long long) lc_term(a),
             (long long) lc_lease_end(a), elect_id(&w->el[j]),
             (unsigned long long) lc_term(b), (long long) lc_lease_end(b));
        return;
    }
}

/* (2b) Every term Redis grants is above every term granted before it, in
 * any epoch: across restarts without data and FLUSHALLs too. A missing
 * counter starts at max(floor, TIME in ms) + 1, which is above every
 * earlier term exactly when the highest of them is at most max(floor,
 * TIME): when the lost counter never ran ahead of the server's clock
 * (docs/protocol.md, Safety). The sim's clock never goes back; should a
 * run grant terms faster than one per ms on average and so break that
 * proviso, the history before is forgiven and counted. */
static void check_grant(struct world *w, int ident, int missing, uint64_t floor,
                        int64_t wall, uint64_t term)
{
    if (missing) {
        w->res->n.seeded++;
        if (w->max_granted > floor && (int64_t) w->max_granted > wall) {
            w->res->n.pace_exceeded++;
            w->max_granted = 0;
        }
    }
    if (term <= w->max_granted)
        fail(w, "safety",
             "%s: Redis granted term %llu after it had granted %llu%s",
             ident_id(w, ident), (unsigned long long) term,
             (unsigned long long) w->max_granted,
             missing ? " (a new counter)" : "");
    else
        w->max_granted = term;
    if (w->ngrants == w->capgrants)
        w->grants = grow(w->grants, &w->capgrants, sizeof *w->grants);
    w->grants[w->ngrants].term = term;
    w->grants[w->ngrants].ident = ident;
    w->ngrants++;
}

/* Whether Redis granted term to ident since it last lost its data. Terms
 * only grow within an epoch, so the log is sorted. */
static int granted(const struct world *w, uint64_t term, int ident)
{
    size_t lo = 0, hi = w->ngrants;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->grants[mid].term < term)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < w->ngrants && w->grants[lo].term == term; lo++)
        if (w->grants[lo].ident == ident)
            return 1;
    return 0;
}

/* ---- Redis ---- */

/* A PUBLISH at server x (-1: at every server): a Cluster's nodes all
 * hear each other's, independent servers of a quorum do not. */
static void publish_msg(struct world *w, const struct msg *m, int x)
{
    for (int j = 0; j < w->nproc; j++) {
        for (int l = 0; l < w->proc[j].nlinks; l++) {
            int sc = w->proc[j].link[l];
            if (sc >= 0 && w->conns[sc].sub && w->conns[sc].subscribed &&
                !w->conns[sc].broken && !w->conns[sc].client_closed &&
                (x < 0 || w->nservers <= 1 || w->conns[sc].node == x))
                net_send(w, sc, 0, m);
        }
    }
}

static void publish(struct world *w, const struct sim_script *s, int ident,
                    int x)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = M_MESSAGE;
    m.res = *s;
    m.res.holder = ident;
    publish_msg(w, &m, x);
}

static void reply(struct world *w, int ci, const struct msg *cmd,
                  enum reply_kind rk, const struct sim_script *s)
{
    struct msg m;

    memset(&m, 0, sizeof m);
    m.kind = M_REPLY;
    m.tag = cmd->tag;
    m.rkind = rk;
    if (s != NULL)
        m.res = *s;
    m.epoch = w->node[w->conns[ci].node].r.epoch;
    m.asker = cmd->cmd.ident;
    m.tenure = w->node[w->conns[ci].node].tenure;
    if (!w->conns[ci].client_closed)
        net_send(w, ci, 0, &m);
}

/* ---- the Cluster: replication, versions of the map, routing ---- */

/* Node x's copy of the keys changed: if it is a master, its replica
 * applies the change after a lag, changes in the order they were made
 * (asynchronous replication). */
static void replicate(struct world *w, int x)
{
    const struct topo *t;
    const struct node *n = &w->node[x];
    struct node *r;
    struct event ev;
    int ri;

    if (!w->cluster)
        return;
    t = topo_now(w);
    ri = t->master[n->shard] == x ? t->replica[n->shard] : -1;
    if (ri < 0 || !w->node[ri].r.up)
        return; /* one that is down syncs in full when it is back */
    r = &w->node[ri];
    memset(&ev, 0, sizeof ev);
    ev.t = w->now + (int64_t) cl_rnd(w, (uint64_t) w->lag_max_us + 1);
    if (ev.t < r->repl_last)
        ev.t = r->repl_last;
    r->repl_last = ev.t;
    ev.type = EV_REPL;
    ev.who = ri;
    ev.conn = -1;
    ev.serial = r->repl_serial;
    ev.m.res.holder = n->r.holder;
    ev.m.res.pttl = n->r.expire_ms;
    ev.m.res.term = n->r.counter;
    ev.m.epoch = n->r.epoch;
    push(w, &ev);
}

static void on_repl(struct world *w, const struct event *ev)
{
    struct node *n = &w->node[ev->who];

    if (ev->serial != n->repl_serial || !n->r.up)
        return; /* a stream that a promotion or a full sync ended */
    n->r.holder = ev->m.res.holder;
    n->r.expire_ms = ev->m.res.pttl;
    n->r.counter = ev->m.res.term;
    n->r.epoch = ev->m.epoch;
}

/* Replica ri takes its master's whole data set (a full sync), and what
 * was on its way to it is dropped. */
static void resync(struct world *w, int ri)
{
    struct node *r = &w->node[ri];
    const struct node *m = &w->node[topo_now(w)->master[r->shard]];

    if (m == r || !m->r.up || !r->r.up)
        return;
    r->r.holder = m->r.holder;
    r->r.expire_ms = m->r.expire_ms;
    r->r.counter = m->r.counter;
    r->r.epoch = m->r.epoch;
    r->repl_serial++;
    r->repl_last = w->now;
}

/* A new version of the map: the nodes that made the change (a, b) know it
 * at once, the others by gossip, each after a delay of its own. */
static void new_topo(struct world *w, const struct topo *t, int a, int b)
{
    unsigned v;

    if (w->ntopo == w->captopo)
        w->topo = grow(w->topo, &w->captopo, sizeof *w->topo);
    w->topo[w->ntopo] = *t;
    v = (unsigned) w->ntopo++;
    for (int x = 0; x < w->nnodes; x++) {
        struct event ev;
        if (x == a || x == b) {
            w->node[x].view = v;
            continue;
        }
        memset(&ev, 0, sizeof ev);
        ev.t = w->now + (int64_t) cl_rnd(w, (uint64_t) w->gossip_max_us + 1);
        ev.type = EV_GOSSIP;
        ev.who = x;
        ev.conn = -1;
        ev.serial = v;
        push(w, &ev);
    }
}

static void on_gossip(struct world *w, const struct event *ev)
{
    if (w->node[ev->who].view < ev->serial)
        w->node[ev->who].view = ev->serial;
}

/* Where node x sends a command for the slot when it does not serve it:
 * to the master its version of the map names (which may be behind). */
static int moved_to(const struct world *w, int x)
{
    const struct topo *t = &w->topo[w->node[x].view];
    int to = t->master[t->owner];

    return to != x ? to : w->owner;
}

/* Redis Cluster's rule for a command on the election's keys (Redis 7's
 * getNodeByQuery): node x serves it (R_SCRIPT), sends it elsewhere
 * (R_MOVED, R_ASK, to *to), or asks for it again later (R_TRYAGAIN: a
 * script touching both keys while a resharding has moved one and not the
 * other). While the slot is moving, the source sends on what it lacks
 * wholly (ASK) and refuses what it has in part; the target serves only
 * after ASKING, and only a command whose keys have all arrived. A key
 * that has expired is a missing one. */
static enum reply_kind cluster_route(struct world *w, int x,
                                     const struct cmd *c, int asking, int *to)
{
    struct sim_redis *r = &w->node[x].r;
    int multi = c->type == C_SCRIPT;
    int missing =
        (sim_redis_holder(r, redis_ms(w)) < 0) + (multi && r->counter == 0);

    if (x == w->owner) {
        if (w->mig_to < 0 || missing == 0)
            return R_SCRIPT;
        if (missing < 1 + multi)
            return R_TRYAGAIN;
        *to = w->mig_to;
        return R_ASK;
    }
    if (x == w->mig_to && asking)
        return multi && missing > 0 ? R_TRYAGAIN : R_SCRIPT;
    *to = moved_to(w, x);
    return R_MOVED;
}

/* A lease of election ident won or renewed at node x, over connection
 * ci: outside (1) across failovers when what led the election to x dates
 * from before x's latest promotion: x last answered it in an earlier term
 * of office, or it reached x (opened ci) before then (comparable()). */
static void mark_aba(struct world *w, int ident, int x, int ci)
{
    const struct node *n = &w->node[x];

    for (int i = 0; w->cluster && i < w->k; i++) {
        struct elect *e = &w->el[i];
        if (e->ident == ident &&
            ((e->last_node == x && e->last_tenure < n->tenure) ||
             w->conns[ci].opened_at < n->tenure_at)) {
            e->aba = 1;
            e->aba_epoch = n->r.epoch;
        }
    }
}

/* ---- Redis runs a command ---- */

/* Quorum mode: whether server x's COMMIT of term to ident is the one that
 * makes a majority. One server's commit is not Redis standing behind the
 * term: an observer may have been told of it by a forged notification,
 * then read the term before it from a majority, as it should. */
static int commit_makes_majority(struct world *w, uint64_t term, int ident,
                                 int x)
{
    size_t i = w->ncommits;
    unsigned before, n = 0;

    while (i > 0 && !(w->commits[i - 1].term == term &&
                      w->commits[i - 1].ident == ident))
        i--;
    if (i == 0) {
        if (w->ncommits == w->capcommits)
            w->commits = grow(w->commits, &w->capcommits, sizeof *w->commits);
        w->commits[w->ncommits] = (struct grant){term, ident, 0};
        i = ++w->ncommits;
    }
    before = w->commits[i - 1].servers;
    w->commits[i - 1].servers |= 1u << x;
    if (w->commits[i - 1].servers == before)
        return 0;
    for (unsigned b = before | 1u << x; b != 0; b &= b - 1)
        n++;
    return n == lc_q_majority((unsigned) w->nservers);
}

/* Quorum mode: a majority COMMITted term to ident. The log stays sorted
 * (commits of different terms can land in any order) and names each
 * (term, id) once: granted() reads it for (8). */
static void note_commit(struct world *w, uint64_t term, int ident, int x)
{
    size_t at = w->ngrants;

    w->res->n.commits++;
    if (!commit_makes_majority(w, term, ident, x))
        return;
    while (at > 0 &&
           (w->grants[at - 1].term > term || (w->grants[at - 1].term == term &&
                                              w->grants[at - 1].ident > ident)))
        at--;
    if (at > 0 && w->grants[at - 1].term == term &&
        w->grants[at - 1].ident == ident)
        return;
    if (w->ngrants == w->capgrants)
        w->grants = grow(w->grants, &w->capgrants, sizeof *w->grants);
    memmove(&w->grants[at + 1], &w->grants[at],
            (w->ngrants - at) * sizeof *w->grants);
    w->grants[at].term = term;
    w->grants[at].ident = ident;
    w->ngrants++;
}

/* A quorum script at server x, at its clock now. */
static void quorum_script(struct world *w, int x, const struct cmd *cmd,
                          int64_t now, struct sim_script *s)
{
    struct sim_redis *r = &w->node[x].r;

    switch (cmd->qwire) {
    case LC_QW_GRANT:
        sim_redis_qgrant(r, now, now + w->node[x].wall_off, cmd->ident,
                         cmd->ttl, cmd->run, s);
        break;
    case LC_QW_COMMIT:
        sim_redis_qcommit(r, now, cmd->ident, cmd->term, cmd->run, s);
        if (s->flag)
            note_commit(w, cmd->term, cmd->ident, x);
        break;
    case LC_QW_RENEW:
        sim_redis_qrenew(r, now, cmd->ident, cmd->term, cmd->ttl, cmd->run, s);
        break;
    case LC_QW_RELEASE:
        sim_redis_qrelease(r, now, cmd->ident, cmd->term, cmd->run, s);
        break;
    default:
        sim_redis_qread(r, now, cmd->run, s);
        break;
    }
}

/* A bystander's key at server x. */
static struct sim_redis *by_redis(struct world *w, int x, int key)
{
    return &w->node[x].by[key - 1];
}

/* A bystander's script or PTTL, on its own keys: as the election's, but
 * no grant is logged and nothing is published (nobody listens). */
static void by_cmd(struct world *w, int ci, const struct msg *m, int64_t now)
{
    const struct cmd *cmd = &m->cmd;
    struct sim_redis *r = by_redis(w, w->conns[ci].node, cmd->key);
    struct sim_script s;

    memset(&s, 0, sizeof s);
    switch (cmd->kind) {
    case LC_CMD_PROBE:
        s.kind = SIM_SR_FLAG;
        s.flag = (int) sim_redis_pttl(r, now);
        break;
    case LC_CMD_READ:
        sim_redis_read(r, now, &s);
        break;
    case LC_CMD_ACQUIRE:
        sim_redis_acquire(r, now, cmd->ident, cmd->ttl, cmd->term, &s);
        break;
    case LC_CMD_RENEW:
        sim_redis_renew(r, now, cmd->ident, cmd->term, cmd->ttl, &s);
        break;
    default:
        sim_redis_release(r, now, cmd->ident, cmd->term, &s);
        break;
    }
    s.pub = SIM_PUB_NONE;
    TRACE(w, w->conns[ci].proc, "redis: by%d %s%s from %s term %llu -> %s %llu",
          cmd->key - 1, cmd->eval ? "EVAL " : "", cmd_label(cmd),
          ident_id(w, cmd->ident), (unsigned long long) cmd->term,
          s.kind == SIM_SR_WON    ? "won"
          : s.kind == SIM_SR_LOST ? "lost"
                                  : "flag",
          (unsigned long long) (s.kind == SIM_SR_WON    ? s.term
                                : s.kind == SIM_SR_LOST ? (uint64_t) s.pttl
                                                        : (uint64_t) s.flag));
    reply(w, ci, m, R_SCRIPT, &s);
}

/* A batch of renewals: each, in order and at one instant, as RENEW runs
 * on its keys; now and then one is answered with an error of its own (a
 * key of the wrong type), which changes nothing. */
static void batch_cmd(struct world *w, int ci, const struct msg *m, int64_t now)
{
    const struct cmd *cmd = &m->cmd;
    struct bmember *b = &w->bmem[cmd->bstart];
    int x = w->conns[ci].node;
    struct sim_script s;
    char line[SIM_BATCH_MAX * 12 + 1];
    size_t at = 0;

    w->res->n.batches++;
    w->res->n.batched += (uint64_t) cmd->bn;
    for (int i = 0; i < cmd->bn; i++) {
        struct sim_redis *r =
            b[i].key == 0 ? holder_redis(w) : by_redis(w, x, b[i].key);
        if (!w->quiet && chance(w, w->p_err)) {
            b[i].res = -1;
            w->res->n.element_errors++;
        } else {
            sim_redis_renew(r, now, b[i].ident, b[i].term, b[i].ttl, &s);
            b[i].res = s.flag;
        }
        at += (size_t) snprintf(line + at, sizeof line - at, " %s%d:%s",
                                b[i].key == 0 ? "e" : "by",
                                b[i].key == 0 ? b[i].ident : b[i].key - 1,
                                b[i].res < 0 ? "err"
                                : b[i].res   ? "1"
                                             : "0");
    }
    TRACE(w, w->conns[ci].proc, "redis: %sBATCH of %d ->%s",
          cmd->eval ? "EVAL " : "", cmd->bn, line);
    memset(&s, 0, sizeof s);
    s.pttl = cmd->bstart;
    s.flag = cmd->bn;
    reply(w, ci, m, R_BATCH, &s);
}

static void redis_cmd(struct world *w, int ci, const struct msg *m)
{
    struct conn *cn = &w->conns[ci];
    int pi = cn->proc, x = cn->node, asking, to = -1, wrote;
    struct sim_redis *r = &w->node[x].r;
    int64_t now = node_ms(w, x);
    struct sim_script s;
    const struct cmd *cmd = &m->cmd;
    enum reply_kind rk;
    int quorum = cmd->type == C_SCRIPT && cmd->qwire != LC_QW_NONE;

    if (cmd->type == C_PING) {
        memset(&s, 0, sizeof s);
        s.flag = cn->subscribed; /* subscribed: ["pong", ""] */
        reply(w, ci, m, R_PONG, &s);
        return;
    }
    if (cmd->type == C_SLOTS) {
        /* The map as this node knows it; failed replicas are left out. */
        memset(&s, 0, sizeof s);
        s.term = w->node[x].view;
        for (int i = 0; i < w->nnodes; i++)
            s.flag |= w->node[i].r.up ? 0 : 1 << i;
        reply(w, ci, m, R_SLOTS, &s);
        return;
    }
    if (cmd->type == C_ASKING) {
        cn->asking = 1;
        reply(w, ci, m, R_OK, NULL);
        return;
    }
    if (cmd->type == C_INFO) {
        /* As Redis counts it: whole seconds of its wall clock. */
        memset(&s, 0, sizeof s);
        s.holder = w->node[x].run;
        s.pttl =
            (now + w->node[x].wall_off) / 1000 - w->node[x].start_wall / 1000;
        w->res->n.infos++;
        TRACE(w, pi, "redis n%d: INFO -> run %d, uptime %lld s", x,
              w->node[x].run, (long long) s.pttl);
        reply(w, ci, m, R_INFO, &s);
        return;
    }
    if (cmd->type == C_PUBLISH) {
        /* (12) A client tells of a term only once a majority committed
         * it: what an observer hears from Redis, Redis stands behind. */
        if (!cmd->released && !granted(w, cmd->term, cmd->ident))
            fail(w, "notify",
                 "%s publishes elected %llu, which no majority committed",
                 ident_id(w, cmd->ident), (unsigned long long) cmd->term);
        memset(&s, 0, sizeof s);
        s.pub = cmd->released ? SIM_PUB_RELEASED : SIM_PUB_ELECTED;
        s.pub_term = cmd->term;
        TRACE(w, pi, "redis n%d: PUBLISH %s %llu %s", x,
              cmd->released ? "released" : "elected",
              (unsigned long long) cmd->term, ident_id(w, cmd->ident));
        reply(w, ci, m, R_OK, NULL);
        publish(w, &s, cmd->ident, x);
        return;
    }
    if (quorum && !cmd->eval && !(r->qloaded >> cmd->qwire & 1)) {
        w->res->n.noscript++;
        TRACE(w, pi, "redis n%d: EVALSHA %s from %s -> NOSCRIPT", x,
              cmd_label(cmd), ident_id(w, cmd->ident));
        reply(w, ci, m, R_NOSCRIPT, NULL);
        return;
    }
    if (quorum)
        r->qloaded |= 1u << cmd->qwire; /* EVAL caches this body */
    asking = cn->asking;                /* for this command only */
    cn->asking = 0;
    if (w->cluster &&
        (rk = cluster_route(w, x, cmd, asking, &to)) != R_SCRIPT) {
        memset(&s, 0, sizeof s);
        s.holder = to;
        w->res->n.moved += rk == R_MOVED;
        w->res->n.ask += rk == R_ASK;
        w->res->n.tryagain += rk == R_TRYAGAIN;
        TRACE(w, pi, "redis n%d: %s%s from %s -> %s n%d", x,
              asking ? "(ASKING) " : "", cmd_label(cmd),
              ident_id(w, cmd->ident),
              rk == R_MOVED ? "MOVED"
              : rk == R_ASK ? "ASK"
                            : "TRYAGAIN",
              to);
        reply(w, ci, m, rk, &s);
        return;
    }
    if (cmd->type == C_SCRIPT && !quorum && !r->scripts_loaded && !cmd->eval) {
        w->res->n.noscript++;
        TRACE(w, pi, "redis: EVALSHA %s from %s -> NOSCRIPT", cmd_label(cmd),
              ident_id(w, cmd->ident));
        reply(w, ci, m, R_NOSCRIPT, NULL);
        return;
    }
    if (cmd->type == C_BATCH && !r->batch_loaded && !cmd->eval) {
        w->res->n.noscript++;
        w->res->n.batch_noscript++;
        TRACE(w, pi, "redis: EVALSHA BATCH of %d -> NOSCRIPT", cmd->bn);
        reply(w, ci, m, R_NOSCRIPT, NULL);
        return;
    }
    if (cmd->type == C_SCRIPT)
        r->scripts_loaded = 1; /* EVAL caches the body */
    if (cmd->type == C_BATCH)
        r->batch_loaded = 1; /* ... this one's only */
    if (cn->client_closed)
        w->res->n.late_cmds++;
    if (w->now >= w->t_live)
        w->proc[pi].cmds_after_live++;
    if (!w->quiet && chance(w, w->p_err)) {
        TRACE(w, pi, "redis: %s from %s -> error", cmd_label(cmd),
              ident_id(w, cmd->ident));
        reply(w, ci, m, R_ERROR, NULL);
        return;
    }
    if (cmd->type == C_BATCH) {
        batch_cmd(w, ci, m, now);
        return;
    }
    if (cmd->key > 0) {
        by_cmd(w, ci, m, now);
        return;
    }
    if (quorum) {
        quorum_script(w, x, cmd, now, &s);
    } else if (cmd->kind == LC_CMD_PROBE) {
        /* A plain PTTL of the holder key. */
        s.kind = SIM_SR_FLAG;
        s.pub = SIM_PUB_NONE;
        s.flag = (int) sim_redis_pttl(r, now);
    } else if (cmd->kind == LC_CMD_READ) {
        sim_redis_read(r, now, &s);
    } else if (cmd->kind == LC_CMD_ACQUIRE) {
        int missing = r->counter == 0;
        sim_redis_acquire(r, now, cmd->ident, cmd->ttl, cmd->term, &s);
        if (s.kind == SIM_SR_WON)
            check_grant(w, cmd->ident, missing, cmd->term,
                        now + r->wall_offset_ms, s.term);
    } else if (cmd->kind == LC_CMD_RENEW && r->brk == SIM_RB_RENEW_NONATOMIC) {
        s.kind = SIM_SR_FLAG;
        s.pub = SIM_PUB_NONE;
        s.flag = sim_redis_renew_check(r, now, cmd->ident, cmd->term);
        if (s.flag) {
            /* Broken: the client saw its id in a GET and counts the
             * renewal as done; its PEXPIRE lands a round trip later, or
             * never if the connection breaks first. */
            struct event ev;
            memset(&ev, 0, sizeof ev);
            ev.t = w->now + net_delay(w) + net_delay(w);
            ev.type = EV_REDIS_STEP;
            ev.conn = ci;
            ev.who = pi;
            ev.m = *m;
            push(w, &ev);
        }
    } else if (cmd->kind == LC_CMD_RENEW) {
        sim_redis_renew(r, now, cmd->ident, cmd->term, cmd->ttl, &s);
    } else {
        sim_redis_release(r, now, cmd->ident, cmd->term, &s);
    }
    TRACE(w, pi, "redis%s n%d: %s%s from %s term %llu%s -> %s %llu",
          w->cluster ? (x == w->owner ? " owner" : " importer") : "", x,
          cmd->eval ? "EVAL " : "", cmd_label(cmd), ident_id(w, cmd->ident),
          (unsigned long long) cmd->term,
          cn->client_closed ? " (closed conn)" : "",
          s.kind == SIM_SR_WON          ? "won"
          : s.kind == SIM_SR_QGRANT     ? "granted, counter"
          : s.kind == SIM_SR_LOST       ? "lost"
          : s.kind == SIM_SR_TERM_ERROR ? "LEADERTERM"
          : s.kind == SIM_SR_READ       ? "read"
                                        : "flag",
          (unsigned long long) (s.kind == SIM_SR_WON || s.kind == SIM_SR_QGRANT
                                    ? s.term
                                : s.kind == SIM_SR_LOST ? (uint64_t) s.pttl
                                : s.kind == SIM_SR_READ ? s.term
                                                        : (uint64_t) s.flag));
    wrote = s.kind == SIM_SR_WON ||
            (s.kind == SIM_SR_FLAG && s.flag != 0 &&
             (cmd->kind == LC_CMD_RENEW || cmd->kind == LC_CMD_RELEASE));
    if (wrote) {
        replicate(w, x);
        if (cmd->kind != LC_CMD_RELEASE)
            mark_aba(w, cmd->ident, x, ci);
    }
    reply(w, ci, m, R_SCRIPT, &s);
    if (s.pub != SIM_PUB_NONE)
        publish(w, &s, cmd->ident, x);
}

static void on_redis(struct world *w, struct event *ev)
{
    struct conn *cn = &w->conns[ev->conn];
    struct proc *p = &w->proc[cn->proc];

    if (cn->broken)
        return;
    if (cut_off(p, cn->node) && !p->part_hold) {
        cn->broken = 1; /* dropped on the way: the connection is gone */
        return;
    }
    if (cn->node < 0 || !w->node[cn->node].r.up) {
        if (ev->m.kind == M_SYN)
            send_simple(w, ev->conn, 0, M_REFUSED, 0);
        return;
    }
    if (w->node[cn->node].paused_until > w->now) {
        /* Frozen: the kernel takes it in, the server reads it when it goes
         * on, in the order it came (its seq, ahead of later arrivals). */
        ev->t = w->node[cn->node].paused_until;
        push_seq(w, ev);
        return;
    }
    switch (ev->m.kind) {
    case M_SYN:
        if (cn->client_closed)
            break;
        if (!w->quiet && chance(w, w->p_chang))
            break; /* the attempt hangs: the client times out */
        if (!w->quiet && chance(w, w->p_cfail)) {
            send_simple(w, ev->conn, 0, M_REFUSED, 0);
            break;
        }
        cn->accepted = 1;
        send_simple(w, ev->conn, 0, M_ACK, 0);
        break;
    case M_CMD:
        redis_cmd(w, ev->conn, &ev->m);
        break;
    case M_SUBSCRIBE:
        /* Subscribing again to a channel is confirmed again. */
        cn->subscribed = 1;
        send_simple(w, ev->conn, 0, M_SUBSCRIBED, ev->m.tag);
        break;
    case M_UNSUBSCRIBE:
        cn->subscribed = 0;
        break;
    default:
        break;
    }
}

static void on_redis_step(struct world *w, struct event *ev)
{
    int x = w->conns[ev->conn].node;

    if (!w->node[x].r.up || w->conns[ev->conn].broken ||
        w->conns[ev->conn].client_closed)
        return; /* the client never sent its PEXPIRE */
    sim_redis_pexpire(&w->node[x].r, redis_ms(w), ev->m.cmd.ttl);
    replicate(w, x);
    TRACE(w, ev->who,
          "redis: late PEXPIRE of a RENEW from %s (whoever "
          "holds the key)",
          ident_id(w, ev->m.cmd.ident));
}

/* ---- what the elections report (their emit callbacks) ---- */

/* Quorum mode: whether the acquire that won term found fewer than a
 * majority of valid counters and took the term from the servers' clocks
 * (TIME), not from a counter or its floor. Such a term is above every
 * earlier one only while the earlier ones stayed below those clocks
 * (docs/protocol.md, Quorum: as a single server's seeded counter); the
 * servers' clocks here run apart by up to 1 %, so a term seeded from a
 * clock behind another is forgiven and counted, as (2b) does for one
 * server. */
static int seeded_below(const struct world *w, const struct elect *e,
                        uint64_t term)
{
    const struct lc_qop *op = e->slot != NULL ? e->slot->qop : NULL;

    if (w->nservers <= 1 || op == NULL || op->cmd.kind != LC_CMD_ACQUIRE ||
        op->term != term || op->nvalid >= op->q)
        return 0;
    return op->seed_max >= op->floor && op->seed_max >= op->counter_max &&
           term == op->seed_max + 1;
}

static void on_elected(struct world *w, struct elect *e,
                       const struct lc_event *ev, unsigned epoch)
{
    int h = sim_redis_holder(holder_redis(w), node_ms(w, 0));

    if (e->app_leader) /* (3) */
        fail(w, "events", "%s: ELECTED (term %llu) twice without REVOKED",
             elect_id(e), (unsigned long long) ev->term);
    if (ev->term <= e->last_term) /* (2), per incarnation */
        fail(w, "safety", "%s: ELECTED with term %llu after its term %llu",
             elect_id(e), (unsigned long long) ev->term,
             (unsigned long long) e->last_term);
    if (epoch == w->epoch) {
        if (ev->term <= w->last_term && seeded_below(w, e, ev->term))
            w->res->n.seed_below++;
        else if (ev->term <= w->last_term) /* (2), globally */
            fail(w, "safety",
                 "%s: ELECTED with term %llu after term %llu was elected",
                 elect_id(e), (unsigned long long) ev->term,
                 (unsigned long long) w->last_term);
        if (w->nservers <= 1 && h != e->ident) /* (5) */
            fail(w, "safety", "%s: ELECTED while the key holds %s", elect_id(e),
                 h >= 0 ? ident_id(w, h) : "nothing");
        w->last_term = ev->term;
    }
    if (w->live_leader >= 0)
        fail(w, "liveness", "%s: ELECTED after faults stopped and %s led",
             elect_id(e), elect_id(&w->el[w->live_leader]));
    w->res->n.elected++;
    if (epoch > 0 && w->eps[epoch].last_loss < epoch &&
        e->answered_at < w->eps[epoch].t &&
        (seen_by(&w->eps[epoch]) >> e->proc & 1) &&
        !(e->aba && e->aba_epoch == epoch))
        w->res->n.fresh_held++; /* on a promoted master, held to (1) */
    if (e->revoked_now)
        w->res->n.new_terms++; /* a leader's new term */
    w->stable_since = w->now;
    w->last_elected_at = w->now;
    e->app_leader = 1;
    e->app_term = ev->term;
    e->last_term = ev->term;
    e->lease_epoch = epoch;
}

static void on_revoked(struct world *w, struct elect *e,
                       const struct lc_event *ev)
{
    if (!e->app_leader) /* (3) */
        fail(w, "events", "%s: REVOKED (term %llu) without ELECTED",
             elect_id(e), (unsigned long long) ev->term);
    else if (ev->term != e->app_term)
        fail(w, "events", "%s: REVOKED term %llu, but ELECTED was term %llu",
             elect_id(e), (unsigned long long) ev->term,
             (unsigned long long) e->app_term);
    if (w->live_leader >= 0)
        fail(w, "liveness", "%s: REVOKED (%s) after faults stopped",
             elect_id(e), ev->message);
    if (ev->error == LEADER_ELEASE || ev->error == LEADER_ECONN)
        w->res->n.lease_expired++;
    else if (ev->error == LEADER_ELOST)
        w->res->n.lost++;
    e->app_leader = 0;
    e->revoked_now = 1;
}

/* Whether an observer's report names the stable leader of the tail. */
static int reports_leader(const struct world *w, const struct elect *e)
{
    const struct elect *l = &w->el[w->live_leader];

    return e->rep_ident == l->ident && e->rep_term == l->app_term;
}

/* (9) After the liveness check, an observer that reports anyone else than
 * the stable leader must report it again within the liveness bound: a
 * forged notification may mislead it, but only until its next read. */
static void check_observer_live(struct world *w, struct elect *e)
{
    if (w->live_leader < 0 || e->wrong_since == SIM_NEVER || e->rolled_back)
        return;
    if (w->now - e->wrong_since > w->bound * US_PER_MS)
        fail(w, "observer",
             "%s has not reported the leader %s (term %llu) for %.3f s; "
             "it reports %s term %llu",
             elect_id(e), elect_id(&w->el[w->live_leader]),
             (unsigned long long) w->el[w->live_leader].app_term,
             (double) (w->now - e->wrong_since) / 1e6,
             ident_id(w, e->rep_ident), (unsigned long long) e->rep_term);
}

/* (13) An observer reports nobody only on news newer than its last
 * report. After it reported X with term T, a report of nobody while X
 * has held the key with term T ever since (Redis holds X, and its counter
 * is still T: any later win, X's own included, raises it) comes from a
 * read older than what it reported: such as a read sent before the
 * notification of X's win arrived. A forged "released" may say nobody
 * leads, and one server's keys are the truth only in one epoch with one
 * server. */
static void check_nobody(struct world *w, const struct elect *e,
                         const struct lc_event *ev)
{
    const struct proc *p = &w->proc[e->proc];

    if (ev->holder != NULL || e->rep_ident < 0 || w->nservers > 1 ||
        e->rep_epoch != w->epoch || p->forged_at >= e->rep_at ||
        !granted(w, e->rep_term, e->rep_ident))
        return;
    if (sim_redis_holder(holder_redis(w), node_ms(w, 0)) != e->rep_ident ||
        counter_redis(w)->counter != e->rep_term)
        return;
    fail(w, "observer",
         "%s reports nobody (%s) while %s, which it reported, still holds "
         "term %llu",
         elect_id(e), ev->message, ident_id(w, e->rep_ident),
         (unsigned long long) e->rep_term);
}

/* (8) Who leads, as an observer reports it. A report that Redis stands
 * behind (it granted that term to that id since it last lost its data)
 * never names a lower term than an earlier such report: forged
 * notifications aside, an observer's view only moves forward. */
static void on_changed(struct world *w, struct elect *e,
                       const struct lc_event *ev)
{
    w->res->n.changed++;
    if (!e->observer)
        return;
    /* Held by (9) again from this report on: the time it was exempt does
     * not count against it. */
    if (e->rolled_back && e->wrong_since != SIM_NEVER)
        e->wrong_since = w->now;
    e->rolled_back = 0;
    check_nobody(w, e, ev);
    e->rep_at = w->now;
    e->rep_ident =
        ev->holder != NULL ? ident_of(w, ev->holder, strlen(ev->holder)) : -1;
    e->rep_term = ev->term;
    if (e->rep_epoch != w->epoch) {
        e->rep_epoch = w->epoch;
        e->rep_max = 0;
    }
    if (e->rep_ident >= 0 && granted(w, ev->term, e->rep_ident)) {
        if (ev->term < e->rep_max)
            fail(w, "observer", "%s reports %s with term %llu after term %llu",
                 elect_id(e), ident_id(w, e->rep_ident),
                 (unsigned long long) ev->term,
                 (unsigned long long) e->rep_max);
        else
            e->rep_max = ev->term;
    }
    if (w->live_leader >= 0) {
        if (reports_leader(w, e))
            e->wrong_since = SIM_NEVER;
        else if (e->wrong_since == SIM_NEVER)
            e->wrong_since = w->now;
        check_observer_live(w, e);
    }
}

static const char *ev_name(enum lc_event_kind k)
{
    return k == LC_EV_ELECTED   ? "ELECTED"
           : k == LC_EV_REVOKED ? "REVOKED"
           : k == LC_EV_CHANGED ? "CHANGED"
                                : "ERROR";
}

/* After every step of an election's core. */
static void after_step(struct world *w, struct elect *e)
{
    struct proc *p = &w->proc[e->proc];
    const struct lc_core *c = lio_slot_core(e->slot);
    lc_time now = local_now(p);
    lc_time end = lc_lease_end(c);

    w->steps++;
    e->revoked_now = 0;
    if (w->in_reply && lc_state(c) == LC_LEADER && end > e->seen_lease_end)
        e->lease_epoch = w->cur_epoch; /* the renewal now backs the lease */
    e->seen_lease_end = end;
    if (lc_conn_state(c) != LC_UP) {
        e->up_conn = -1;
    } else if (e->up_conn < 0) {
        e->up_link = (int) e->slot->link;
        e->up_conn = p->link[e->up_link];
    }
    if (w->answer != NULL && w->answer->asker == e->ident) {
        /* The step that takes the answer (only the first: settling may
         * step others). */
        if (e->answered_at == SIM_NEVER)
            e->answered_at = w->now;
        e->last_node = w->answer_node;
        e->last_tenure = w->answer->tenure;
        w->answer = NULL;
    }
    /* (1b) The application is told of the loss by the deadline: a leader
     * in its own eyes must hold the lease at every step it takes. */
    if (e->app_leader && !lc_has_lease(c, now))
        fail(w, "safety",
             "%s still leads (term %llu) at %lld, past its lease deadline "
             "%lld",
             elect_id(e), (unsigned long long) e->app_term, (long long) now,
             (long long) end);
    check_mutex(w, e->index);
}

/* The renewal a step reports is one the books can count: a confirmation
 * comes to a leader, after its send. (Its slack may be below 0: a process
 * paused past its deadline handles the reply before the tick, and the
 * renewal, sent in time, extends the lease from its send.) */
static void check_renewal(struct world *w, struct elect *e,
                          const struct lc_output *o)
{
    const struct lc_renewal *r = &o->renewal;

    if (r->outcome == LC_RENEW_NONE)
        return;
    if (r->rtt < 0)
        fail(w, "report", "%s: renewal round trip %lld < 0", elect_id(e),
             (long long) r->rtt);
    if (r->outcome == LC_RENEW_CONFIRMED && o->status.state != LC_LEADER)
        fail(w, "report", "%s: renewal confirmed in state %d", elect_id(e),
             (int) o->status.state);
}

static void on_emit(void *owner, const struct lc_event *ev,
                    const struct lc_output *step)
{
    struct elect *e = owner;
    struct world *w = e->w;

    if (ev == NULL) {
        check_renewal(w, e, step);
        after_step(w, e);
        return;
    }
    TRACE(w, e->proc, "%s: %s term %llu%s%s: %s", elect_id(e),
          ev_name(ev->kind), (unsigned long long) ev->term,
          ev->holder ? " holder " : "", ev->holder ? ev->holder : "",
          ev->message);
    if (ev->kind == LC_EV_ELECTED)
        on_elected(w, e, ev, w->cur_epoch);
    else if (ev->kind == LC_EV_REVOKED)
        on_revoked(w, e, ev);
    else if (ev->kind == LC_EV_CHANGED)
        on_changed(w, e, ev);
}

/* (7) The session's links, after each of its entry points has returned:
 * every election whose core believes its command link is up is on the
 * process' current, ready command link, the one it went up on (read from
 * the slot: its link). When one election's command times out and the
 * link is closed, each of the others must have been told. In a Cluster,
 * a redirection moves an election to another link with its core up: the
 * new one is then the one to hold, and it may still be opening. */
static void check_links(struct world *w, struct proc *p)
{
    /* In quorum mode a core is up while a majority of servers is usable;
     * one server's link coming and going is no core's. */
    if (w->nservers > 1)
        return;
    for (int i = 0; i < p->nmembers; i++) {
        struct elect *e = &w->el[p->members[i]];
        enum lio_link l;
        int cur;
        if (e->slot == NULL || lc_conn_state(lio_slot_core(e->slot)) != LC_UP)
            continue;
        l = e->slot->link;
        cur = p->link[l];
        if ((int) l != e->up_link && cur >= 0) { /* moved by a redirection */
            e->up_link = (int) l;
            e->up_conn = cur;
        }
        if (cur < 0 || e->up_conn != cur ||
            (!w->conns[cur].ready && !e->slot->moving))
            fail(w, "session",
                 "%s believes its command link is up, but the link it went "
                 "up on (conn #%d) is %s",
                 elect_id(e), e->up_conn,
                 cur < 0 ? "closed" : "replaced or not ready");
    }
}

/* ---- driving a process' session ---- */

/* The next wake-up: the session's deadline or an opening's timeout, on the
 * process' clock, converted to true time as poll() would sleep. */
/* The main loop reads the wake-ups of the processes that can run from one
 * small array, not from the processes themselves. */
static void sync_tick(struct world *w, const struct proc *p)
{
    w->ticks[p->index] = p->alive && !p->paused ? p->tick_at : SIM_NEVER;
}

static void set_tick_at(struct world *w, struct proc *p)
{
    lc_time d = lio_session_deadline(&p->s);

    for (int l = 0; l < p->nlinks; l++)
        if (p->link[l] >= 0 && !w->conns[p->link[l]].ready &&
            p->open_deadline[l] < d)
            d = p->open_deadline[l];
    if (p->cluster && p->probe >= 0 && !w->conns[p->probe].ready &&
        p->probe_deadline < d)
        d = p->probe_deadline;
    else if (p->cluster && p->probe < 0 && p->refresh_wanted &&
             p->refresh_at < d)
        d = p->refresh_at;
    if (d == p->tick_for && p->tick_at != SIM_NEVER && p->tick_at >= w->now)
        return; /* the same wake-up, still ahead */
    p->tick_for = d;
    if (d == LC_NEVER) {
        p->tick_at = SIM_NEVER;
        return;
    }
    p->tick_at = true_at(p, d);
    /* poll() wakes up a little late, now and then by milliseconds. */
    p->tick_at += chance(w, 0.02) ? rnd_upto(w, w->jitter_us)
                                  : rnd_upto(w, w->jitter_us / 25);
    if (p->tick_at < w->now)
        p->tick_at = w->now;
}

static void set_tick(struct world *w, struct proc *p)
{
    set_tick_at(w, p);
    sync_tick(w, p);
}

/* After any call into a session. */
/* (11) The notification link, held by the session's policy: while an
 * election of the process listens (a follower, the leader, an observer),
 * a link that is down is opened again within the session's backoff cap;
 * and a ready link that has not answered its health check (nothing since
 * it opened or since the last PONG) for ping_every + sub_timeout is given
 * up. A pause is not the session's fault: both clocks restart when the
 * process resumes. */
static void check_sub_link(struct world *w, struct proc *p)
{
    lc_time now = local_now(p), slack = 2 * w->jitter_us / US_PER_MS + 10;
    int ci = p->link[LIO_LINK_SUB], listening = 0;

    if (ci >= 0) {
        p->sub_down_at = -1;
        if (w->conns[ci].ready &&
            now - p->sub_heard >
                w->sub_timing.ping_every + w->sub_timing.sub_timeout + slack)
            fail(w, "session",
                 "p%d: its notification link has not answered for %lld ms, "
                 "and is still held",
                 p->index, (long long) (now - p->sub_heard));
        return;
    }
    for (int i = 0; i < p->nmembers; i++) {
        const struct elect *e = &w->el[p->members[i]];
        enum lc_state st =
            e->slot != NULL ? lc_state(lio_slot_core(e->slot)) : LC_IDLE;
        listening += st == LC_FOLLOWER || st == LC_LEADER || st == LC_OBSERVER;
    }
    if (listening == 0)
        p->sub_down_at = -1;
    else if (p->sub_down_at < 0)
        p->sub_down_at = now;
    else if (now - p->sub_down_at > SUB_BACKOFF_CAP + slack)
        fail(w, "session",
             "p%d: %d election(s) listen, but its notification link has "
             "been down for %lld ms",
             p->index, listening, (long long) (now - p->sub_down_at));
}

static void settled(struct world *w, struct proc *p)
{
    check_links(w, p);
    check_sub_link(w, p);
    manage_probe(w, p);
    set_tick(w, p);
}

static void input(struct world *w, struct elect *e, enum lc_input_kind kind)
{
    struct proc *p = &w->proc[e->proc];

    w->cur_epoch = w->epoch;
    lio_session_input(&p->s, e->slot, kind, local_now(p));
    settled(w, p);
}

static void add_slot(struct world *w, struct elect *e)
{
    struct proc *p = &w->proc[e->proc];
    struct lio_slot_config cfg;
    int rc;

    cfg.id = e->id;
    cfg.names = &w->names;
    cfg.ttl_ms = (long) w->ttl;
    cfg.wait_ms = (long) w->wait;
    cfg.seed = e->seed;
    cfg.connect_timeout_ms = (long) w->connect_opt;
    cfg.command_timeout_ms = (long) w->cmd_opt;
    e->slot = lio_session_add(&p->s, &cfg, on_emit, e, &rc);
    if (e->slot == NULL) {
        fail(w, "setup", "lio_session_add: %d", rc);
        return;
    }
    e->app_leader = 0;
    e->last_term = 0;
    e->seen_lease_end = 0;
    e->up_conn = -1;
    e->up_link = LIO_LINK_CMD;
    e->answered_at = SIM_NEVER; /* a new core: it has used no server yet */
    e->last_node = -1;
    e->aba = 0;
    e->revoked_now = 0;
}

/* ---- the client side of the network ---- */

/* n in decimal at buf (at least 21 bytes); its length. snprintf costs
 * more than the rest of a reply. */
static size_t decimal(char *buf, uint64_t n)
{
    char t[20];
    size_t len = 0;

    do {
        t[len++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (size_t i = 0; i < len; i++)
        buf[i] = t[len - 1 - i];
    buf[len] = '\0';
    return len;
}

static struct lc_value val_int(long long n)
{
    struct lc_value v = {.type = LC_VAL_INT, .integer = n};
    return v;
}

static struct lc_value val_str(enum lc_value_type type, const char *str,
                               size_t len)
{
    struct lc_value v = {.type = type, .str = str, .len = len};
    return v;
}

static struct lc_value val_array(const struct lc_value *elem, size_t n)
{
    struct lc_value v = {.type = LC_VAL_ARRAY, .elem = elem, .n = n};
    return v;
}

/* The reply as the library decodes it, its text in buf if it needs one.
 * Only what is used is written: this runs for every reply. */
static void reply_value(struct world *w, const struct msg *m,
                        struct lc_value *v, struct lc_value el[4], char buf[64])
{
    static const char noscript[] = "NOSCRIPT No matching script. Please use "
                                   "EVAL.";
    static const char err[] = "ERR simulated failure";
    static const char term_err[] = "LEADERTERM the term counter is at "
                                   "9000000000000000 or holds no term";
    static const char tryagain[] = "TRYAGAIN Multiple keys request during "
                                   "rehashing of slot";
    static const char wrongtype[] = "WRONGTYPE Operation against a key "
                                    "holding the wrong kind of value";
    const struct sim_script *s = &m->res;
    const char *text;

    if (m->rkind == R_INFO) {
        int n = snprintf(w->info, sizeof w->info,
                         "# Server\r\nredis_version:7.2.4\r\n"
                         "run_id:%s\r\nuptime_in_seconds:%lld\r\n"
                         "uptime_in_days:%lld\r\n",
                         w->runs[s->holder], (long long) s->pttl,
                         (long long) s->pttl / 86400);
        *v = val_str(LC_VAL_STR, w->info, (size_t) n);
    } else if (m->rkind == R_PONG) {
        if (s->flag) {
            el[0] = val_str(LC_VAL_STR, "pong", 4);
            el[1] = val_str(LC_VAL_STR, "", 0);
            *v = val_array(el, 2);
        } else {
            *v = val_str(LC_VAL_STR, "PONG", 4);
        }
    } else if (m->rkind == R_OK) {
        *v = val_str(LC_VAL_STR, "OK", 2);
    } else if (m->rkind == R_MOVED || m->rkind == R_ASK) {
        /* "MOVED <slot> <host>:<port>", without snprintf: a Cluster run
         * sends many. */
        const char *verb = m->rkind == R_MOVED ? "MOVED " : "ASK ";
        const char *addr = w->node[s->holder].addr;
        size_t n = strlen(verb), alen = strlen(addr);
        memcpy(buf, verb, n);
        n += decimal(buf + n, w->kslot);
        buf[n++] = ' ';
        memcpy(buf + n, addr, alen);
        *v = val_str(LC_VAL_ERR, buf, n + alen);
    } else if (m->rkind == R_TRYAGAIN) {
        *v = val_str(LC_VAL_ERR, tryagain, strlen(tryagain));
    } else if (m->rkind == R_BATCH) {
        const struct bmember *b = &w->bmem[s->pttl];
        for (int i = 0; i < s->flag; i++)
            w->bvals[i] = b[i].res >= 0 ? val_int(b[i].res)
                                        : val_str(LC_VAL_ERR, wrongtype,
                                                  strlen(wrongtype));
        *v = val_array(w->bvals, (size_t) s->flag);
    } else if (m->rkind != R_SCRIPT || s->kind == SIM_SR_TERM_ERROR) {
        text = m->rkind == R_NOSCRIPT ? noscript
               : m->rkind == R_ERROR  ? err
                                      : term_err;
        *v = val_str(LC_VAL_ERR, text, strlen(text));
    } else if (s->kind == SIM_SR_WON) {
        el[0] = val_int(1);
        el[1] = val_int((long long) s->term);
        *v = val_array(el, 2);
    } else if (s->kind == SIM_SR_QGRANT) {
        /* {1, counter or nil, TIME in ms} */
        el[0] = val_int(1);
        el[1] = val_str(LC_VAL_NIL, NULL, 0);
        if (s->term > 0)
            el[1] = val_str(LC_VAL_STR, buf, decimal(buf, s->term));
        el[2] = val_int((long long) s->pttl);
        *v = val_array(el, 3);
    } else if (s->kind == SIM_SR_LOST || s->kind == SIM_SR_READ) {
        /* {0, holder, pttl, counter} or {holder, pttl, counter}. */
        struct lc_value *x = el;
        *v = val_array(el, s->kind == SIM_SR_LOST ? 4 : 3);
        if (s->kind == SIM_SR_LOST)
            *x++ = val_int(0);
        x[0] = val_str(LC_VAL_NIL, NULL, 0);
        if (s->holder >= 0) {
            text = ident_id(w, s->holder);
            x[0] = val_str(LC_VAL_STR, text, strlen(text));
        }
        x[1] = val_int(s->pttl);
        x[2] = val_str(LC_VAL_NIL, NULL, 0); /* GET of the counter */
        if (s->term > 0)
            x[2] = val_str(LC_VAL_STR, buf, decimal(buf, s->term));
    } else {
        *v = val_int(s->flag);
    }
}

/* The text of a forged notification: well formed (an election or a
 * release, with any term, in anyone's name) or not. */
static int forged_text(struct world *w, const struct msg *m, char *text,
                       size_t size)
{
    unsigned long long t = (unsigned long long) m->res.pub_term;
    const char *id =
        m->res.holder >= 0 ? ident_id(w, m->res.holder) : "mallory";
    char longid[300];
    int n;

    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    switch ((m->forged - 1) % 11) {
    case 0:
    case 2:
        n = snprintf(text, size, "elected %llu %s", t, id);
        break;
    case 1:
    case 3:
        n = snprintf(text, size, "released %llu %s", t, id);
        break;
    case 4:
        n = snprintf(text, size, "elected %llu", t);
        break;
    case 5:
        n = snprintf(text, size, "elected x %s", id);
        break;
    case 6:
        n = snprintf(text, size, "released -%llu %s", t, id);
        break;
    case 7:
        n = snprintf(text, size, "elected %llu  %s", t, id);
        break;
    case 8:
        n = 0;
        break;
    case 9: /* an id too long to be one */
        n = snprintf(text, size, "elected %llu %s%s", t, id, longid);
        break;
    default:
        n = snprintf(text, size, "\x01\xff%llu %s", t, id);
        break;
    }
    return n < 0 ? 0 : (size_t) n >= size ? (int) size - 1 : n;
}

/* The text Redis published: "elected|released <term> <id>". */
static int genuine_text(struct world *w, const struct msg *m, char *text)
{
    const char *verb = m->res.pub == SIM_PUB_ELECTED ? "elected " : "released ";
    const char *id = ident_id(w, m->res.holder);
    size_t n = strlen(verb), idlen = strlen(id);

    memcpy(text, verb, n);
    n += decimal(text + n, m->res.pub_term);
    text[n++] = ' ';
    memcpy(text + n, id, idlen + 1);
    return (int) (n + idlen);
}

/* A message on the channel: to every subscription of it on the link. */
static void deliver_message(struct world *w, struct proc *p, int ci,
                            const struct msg *m)
{
    char text[400];
    uint64_t tags[MAX_TAGS];
    int n, ntags = w->conns[ci].ntags;

    if (m->forged) {
        n = forged_text(w, m, text, sizeof text);
        p->forged_at = w->now;
    } else
        n = genuine_text(w, m, text);
    memcpy(tags, w->conns[ci].tags, (size_t) ntags * sizeof *tags);
    TRACE(w, p->index, "transport: message \"%.*s\" to %d subscription(s)",
          n > 60 ? 60 : n, text, ntags);
    for (int i = 0; i < ntags && p->link[w->conns[ci].link] == ci; i++) {
        lio_session_message(&p->s, tags[i], text, (size_t) n, local_now(p));
        settled(w, p);
    }
}

/* A link of a Cluster failed: the notification link opens to the next
 * node, and a command link's failure may be a failover, so the map is
 * asked for again (as lio_mux.c does). */
static void cluster_link_failed(struct proc *p, enum lio_link link)
{
    if (!p->cluster)
        return;
    if (link == LIO_LINK_SUB)
        p->sub_pick++;
    else
        p->refresh_wanted = 1;
}

/* The opening of a link took too long: the transport gives it up. So it
 * does the connection that asks for the slot map. */
static void open_timeouts(struct world *w, struct proc *p)
{
    lc_time now = local_now(p);

    for (int l = 0; l < p->nlinks; l++) {
        int ci = p->link[l];
        if (ci < 0 || w->conns[ci].ready || now < p->open_deadline[l])
            continue;
        TRACE(w, p->index, "transport: opening of the %s link times out",
              link_name((enum lio_link) l));
        w->conns[ci].client_closed = 1;
        p->link[l] = -1;
        p->open_deadline[l] = LC_NEVER;
        cluster_link_failed(p, (enum lio_link) l);
        lio_session_failed(&p->s, (enum lio_link) l, LEADER_ETIMEDOUT,
                           "timed out connecting", now);
        settled(w, p);
    }
    if (p->probe >= 0 && !w->conns[p->probe].ready &&
        now >= p->probe_deadline) {
        TRACE(w, p->index, "transport: asking for the slot map times out");
        probe_done(w, p);
        settled(w, p);
    }
}

static void on_client(struct world *w, struct event *ev)
{
    int ci = ev->conn;
    struct conn *cn = &w->conns[ci];
    struct proc *p = &w->proc[cn->proc];
    enum lio_link link = (enum lio_link) cn->link;
    struct lc_value v, el[4];
    char buf[64];

    if (!p->alive || cn->client_closed)
        return;
    if (cn->broken && ev->m.kind != M_RESET)
        return;
    if (cut_off(p, cn->node) && !p->part_hold && !ev->flag) {
        cn->broken = 1;
        return;
    }
    if (p->paused) {
        if (p->ndeferred == p->capdeferred)
            p->deferred =
                grow(p->deferred, &p->capdeferred, sizeof *p->deferred);
        p->deferred[p->ndeferred++] = *ev;
        return;
    }
    if (cn->link < 0) {
        if (p->probe == ci) {
            on_probe(w, p, ci, &ev->m);
            settled(w, p);
        }
        return;
    }
    if (p->link[link] != ci)
        return;
    /* Nothing below may keep cn: a session call can open a connection. */
    switch (ev->m.kind) {
    case M_ACK:
        cn->ready = 1;
        p->sub_heard = local_now(p);
        p->open_deadline[link] = LC_NEVER;
        TRACE(w, p->index, "transport: %s link ready (conn #%d, server %llu)",
              link_name(link), ci, (unsigned long long) server_of(p, link));
        if (w->cluster && link == LIO_LINK_CMD && !p->cluster &&
            become_cluster(p) == 0) {
            /* As lio_mux.c asks the URL's server for the map when the
             * command link is ready (here on the transport's own
             * connection, a moment later). */
            p->refresh_wanted = 1;
        }
        lio_session_ready(&p->s, link, server_of(p, link), local_now(p));
        break;
    case M_REFUSED:
    case M_RESET:
        cn->client_closed = 1; /* down: nothing more is read from it */
        p->link[link] = -1;
        p->open_deadline[link] = LC_NEVER;
        TRACE(w, p->index, "transport: %s link fails (conn #%d, %s)",
              link_name(link), ci, ev->m.kind == M_RESET ? "reset" : "refused");
        cluster_link_failed(p, link);
        lio_session_failed(&p->s, link, LEADER_ECONN,
                           leader_strerror(LEADER_ECONN), local_now(p));
        break;
    case M_REPLY:
        if (link == LIO_LINK_SUB)
            p->sub_heard = local_now(p); /* the health check's PONG */
        reply_value(w, &ev->m, &v, el, buf);
        if (!cn->sub) {
            cn->replied = local_now(p);
            w->cur_epoch = ev->m.epoch;
            w->in_reply = 1;
            if (ev->m.rkind == R_SCRIPT || ev->m.rkind == R_ERROR) {
                w->answer = &ev->m;
                w->answer_node = cn->node;
            }
        }
        lio_session_reply(&p->s, link, ev->m.tag, &v, local_now(p));
        w->in_reply = 0;
        w->answer = NULL;
        w->cur_epoch = w->epoch;
        break;
    case M_SUBSCRIBED:
        if (cn->ntags < MAX_TAGS) {
            int i = 0;
            while (i < cn->ntags && cn->tags[i] != ev->m.tag)
                i++;
            if (i == cn->ntags)
                cn->tags[cn->ntags++] = ev->m.tag;
        }
        lio_session_subscribed(&p->s, link, ev->m.tag, local_now(p));
        break;
    case M_MESSAGE:
        deliver_message(w, p, ci, &ev->m);
        return;
    default:
        return;
    }
    settled(w, p);
}

/* ---- bystanders ---- */

/* (1c) A bystander's lease never outlives its key: while it holds one,
 * Redis holds its key for it, until at least the lease's end (its
 * process' clock converted to true time, Redis' clock being true time on
 * one server). The drift margin is what makes this hold: a lease counts
 * ttl - drift on a clock up to 1 % fast from the send, the key ttl on
 * Redis' from when the script ran. Leases that a reply from before Redis
 * last lost its data backed are outside the guarantee. */
static void by_after_step(struct world *w, struct bystander *b)
{
    struct proc *p = &w->proc[b->proc];
    const struct lc_core *c = lio_slot_core(b->slot);
    const struct sim_redis *r = &w->node[w->owner].by[b->index];
    lc_time now = local_now(p), end = lc_lease_end(c);

    w->steps++;
    if (w->in_reply && lc_state(c) == LC_LEADER && end > b->seen_lease_end)
        b->lease_epoch = w->cur_epoch; /* the renewal now backs the lease */
    b->seen_lease_end = end;
    if (b->app_leader && !lc_has_lease(c, now)) /* (1b) */
        fail(w, "safety",
             "bystander %s still leads (term %llu) at %lld, past its lease "
             "deadline %lld",
             b->id, (unsigned long long) b->app_term, (long long) now,
             (long long) end);
    if (!lc_has_lease(c, now) || b->lease_epoch != w->epoch)
        return;
    if (r->holder != b->ident || r->expire_ms * US_PER_MS < true_at(p, end))
        fail(w, "safety",
             "bystander %s holds a lease (term %llu) to %.3f s, but Redis "
             "holds its key for %s to %.3f s",
             b->id, (unsigned long long) lc_term(c),
             (double) true_at(p, end) / 1e6, ident_id(w, r->holder),
             (double) r->expire_ms / 1e3);
}

static void on_by_emit(void *owner, const struct lc_event *ev,
                       const struct lc_output *step)
{
    struct bystander *b = owner;
    struct world *w = b->w;

    (void) step;
    if (ev == NULL) {
        by_after_step(w, b);
        return;
    }
    TRACE(w, b->proc, "bystander %s: %s term %llu: %s", b->id,
          ev_name(ev->kind), (unsigned long long) ev->term, ev->message);
    if (ev->kind != LC_EV_ELECTED && ev->kind != LC_EV_REVOKED)
        return;
    /* (4) A bystander is alone on its key: once the faults stopped, it
     * leads within the bound and to the end. */
    if (w->now >= w->t_live)
        fail(w, "liveness", "bystander %s: %s (%s) after faults stopped", b->id,
             ev_name(ev->kind), ev->message);
    if (ev->kind == LC_EV_ELECTED) {
        if (b->app_leader) /* (3) */
            fail(w, "events", "bystander %s: ELECTED twice without REVOKED",
                 b->id);
        w->res->n.by_elected++;
        b->app_leader = 1;
        b->app_term = ev->term;
        b->lease_epoch = w->cur_epoch;
    } else {
        if (!b->app_leader || ev->term != b->app_term) /* (3) */
            fail(w, "events",
                 "bystander %s: REVOKED term %llu, but ELECTED was %llu", b->id,
                 (unsigned long long) ev->term,
                 (unsigned long long) b->app_term);
        b->app_leader = 0;
    }
}

/* A process' bystanders join its new session, and campaign. */
static void by_start(struct world *w, struct proc *p)
{
    for (int i = 0; i < p->nby && !w->res->failed; i++) {
        struct bystander *b = &w->by[p->by[i]];
        struct lio_slot_config cfg;
        int rc;
        cfg.id = b->id;
        cfg.names = &b->names;
        cfg.ttl_ms = (long) w->ttl;
        cfg.wait_ms = (long) w->wait;
        cfg.seed = b->seed = splitmix(&w->by_rng) | 1;
        cfg.connect_timeout_ms = (long) w->connect_opt;
        cfg.command_timeout_ms = (long) w->cmd_opt;
        b->slot = lio_session_add(&p->s, &cfg, on_by_emit, b, &rc);
        if (b->slot == NULL) {
            fail(w, "setup", "lio_session_add: %d", rc);
            return;
        }
        b->app_leader = 0;
        b->seen_lease_end = 0;
        w->cur_epoch = w->epoch;
        lio_session_input(&p->s, b->slot, LC_IN_START, local_now(p));
        settled(w, p);
    }
}

/* Bystanders in some runs on one server: one to SIM_MAX_BY in every
 * process, and a session batch size of 2, 3 or the default, so that
 * batches are split too. From a stream of their own. */
static void make_bystanders(struct world *w, uint64_t seed)
{
    static const size_t sizes[] = {2, 3, 0};
    int on;

    w->by_rng = seed ^ 0x6279737461646572ULL;
    on = w->opt->bystanders < 0 ? splitmix(&w->by_rng) % 10 < 4
                                : w->opt->bystanders;
    if (!on || w->cluster || w->nservers > 1)
        return;
    w->batch_max = sizes[splitmix(&w->by_rng) % 3];
    w->res->n.by_runs++;
    for (int i = 0; i < w->nproc; i++) {
        struct proc *p = &w->proc[i];
        p->nby = 1 + (int) (splitmix(&w->by_rng) % SIM_MAX_BY);
        for (int j = 0; j < p->nby; j++) {
            struct bystander *b = &w->by[w->nby];
            char hex[41];
            b->w = w;
            b->index = w->nby;
            b->proc = i;
            b->ident = new_ident_text(w, b->id, "by", splitmix(&w->by_rng));
            snprintf(hex, sizeof hex, "b%039d", w->nby);
            lio_names_make(&b->names, hex);
            lio_term_key(&b->names, b->term_key);
            lio_channel(&b->names, b->channel);
            p->by[j] = w->nby++;
        }
    }
    w->res->n.bystanders += (uint64_t) w->nby;
}

/* (4) At the end, every bystander of a process alive leads. */
static void check_bystanders(struct world *w)
{
    for (int i = 0; i < w->nby && !w->res->failed; i++) {
        struct bystander *b = &w->by[i];
        struct proc *p = &w->proc[b->proc];
        if (p->alive && (b->slot == NULL || !b->app_leader ||
                         !lc_has_lease(lio_slot_core(b->slot), local_now(p))))
            fail(w, "liveness", "bystander %s does not lead at the end", b->id);
    }
}

/* ---- processes ---- */

static void proc_start(struct world *w, int pi)
{
    struct proc *p = &w->proc[pi];
    struct lio_transport t = w->cluster ? cluster_transport : transport;

    t.ctx = p;
    p->alive = 1;
    p->paused = 0;
    p->ndeferred = 0;
    for (int l = 0; l < MAX_LINKS; l++) {
        p->link[l] = -1;
        p->open_deadline[l] = LC_NEVER;
    }
    /* A new transport: a single server until it is redirected. */
    p->cluster = 0;
    p->probe = -1;
    p->probe_deadline = LC_NEVER;
    p->refresh_at = 0;
    p->refresh_wanted = p->probe_i = p->sub_pick = 0;
    p->spins = 0;
    p->sub_down_at = -1;
    p->started_at = w->now;
    p->forged_at = -1;
    if (lio_session_init(&p->s, &t, splitmix(&w->shape_rng) | 1) != 0) {
        fail(w, "setup", "lio_session_init failed");
        return;
    }
    if (w->nservers > 1 &&
        lio_session_set_quorum(&p->s, (unsigned) w->nservers) != 0) {
        fail(w, "setup", "lio_session_set_quorum failed");
        lio_session_free(&p->s);
        return;
    }
    if (w->batch_max > 0 && lio_session_set_batch(&p->s, w->batch_max) != 0) {
        fail(w, "setup", "lio_session_set_batch failed");
        lio_session_free(&p->s);
        return;
    }
    p->has_session = 1;
    TRACE(w, pi, "process starts (fresh session, %d election(s))", p->nmembers);
    for (int i = 0; i < p->nmembers && !w->res->failed; i++) {
        struct elect *e = &w->el[p->members[i]];
        /* The first election's core draws from the run's stream, as the
         * one core of a process always did. */
        e->seed = (i == 0 ? rnd(w) : splitmix(&w->shape_rng)) | 1;
        add_slot(w, e);
        if (e->slot == NULL)
            return;
        e->started = 1;
        input(w, e, e->observer ? LC_IN_OBSERVE : LC_IN_START);
    }
    by_start(w, p);
}

static void proc_crash(struct world *w, int pi)
{
    struct proc *p = &w->proc[pi];
    int leading = 0;

    for (int i = 0; i < p->nmembers; i++)
        leading |= w->el[p->members[i]].app_leader;
    TRACE(w, pi, "process crashes%s", leading ? " while leader" : "");
    w->res->n.crashes++;
    p->alive = 0;
    p->paused = 0;
    p->crash_serial++;
    p->ndeferred = 0;
    p->tick_at = SIM_NEVER;
    sync_tick(w, p);
    /* The kernel closes its sockets: what was written still arrives. */
    for (int l = 0; l < p->nlinks; l++) {
        if (p->link[l] >= 0)
            w->conns[p->link[l]].client_closed = 1;
        p->link[l] = -1;
    }
    probe_close(w, p);
    if (p->cluster)
        lio_cmap_free(&p->map);
    p->cluster = 0;
    if (p->has_session)
        lio_session_free(&p->s);
    p->has_session = 0;
    for (int i = 0; i < p->nmembers; i++) {
        struct elect *e = &w->el[p->members[i]];
        e->slot = NULL;
        e->app_leader = 0; /* a dead process expects no REVOKED */
        e->rep_ident = -2;
        e->rep_term = 0;
        e->rep_max = 0; /* its next core has reported nothing yet */
        e->rolled_back = 0;
    }
    for (int i = 0; i < p->nby; i++) {
        w->by[p->by[i]].slot = NULL;
        w->by[p->by[i]].app_leader = 0;
    }
}

static void proc_resume(struct world *w, int pi)
{
    struct proc *p = &w->proc[pi];

    p->paused = 0;
    p->sub_heard = local_now(p);
    p->sub_down_at = -1;
    sync_tick(w, p);
    TRACE(w, pi, "process resumes (%zu inputs waiting)", p->ndeferred);
    /* What arrived during the pause is read now, in arrival order. */
    for (size_t i = 0; i < p->ndeferred; i++) {
        p->deferred[i].t = w->now;
        push_seq(w, &p->deferred[i]); /* ahead of later arrivals */
    }
    p->ndeferred = 0;
}

/* ---- faults ---- */

static void schedule_fault(struct world *w, enum fault f)
{
    int64_t t;

    if (w->mean_us[f] <= 0)
        return;
    t = w->now + rnd_range(w, 1, 2 * w->mean_us[f]);
    if (t < w->t_quiet)
        push_fault(w, t, f, -1, 0);
}

/* A fault's end, never later than the quiet tail. */
static int64_t until(struct world *w, int64_t dur_ms)
{
    int64_t t = w->now + dur_ms * US_PER_MS + rnd_upto(w, US_PER_MS);

    return t < w->t_quiet ? t : w->t_quiet;
}

/* A candidate (its process, for process faults). */
static int pick(struct world *w, int need_alive)
{
    int ci = (int) rnd_upto(w, w->k - 1);
    struct proc *p = &w->proc[w->el[ci].proc];

    if (need_alive && (!p->alive || p->paused))
        return -1;
    return ci;
}

/* Process pi is cut off from the servers in mask (~0u: from everything). */
static void partition(struct world *w, int pi, unsigned mask)
{
    struct proc *p = &w->proc[pi];
    int64_t d;

    for (int i = 0; i < w->nproc; i++)
        if (w->proc[i].partitioned)
            return; /* one at a time */
    p->partitioned = 1;
    p->part_mask = mask;
    w->res->n.qcuts += mask != ~0u;
    w->res->n.partitions++;
    p->part_hold = chance(w, 0.5);
    p->heal_at = until(w, rnd_range(w, w->ttl / 4, 3 * w->ttl));
    p->part_serial++;
    push_fault(w, p->heal_at, F_HEAL, pi, p->part_serial);
    TRACE(w, pi, "net: partitioned from %s until %.3f, %s",
          mask == ~0u ? "all" : "some servers", (double) p->heal_at / 1e6,
          p->part_hold ? "traffic held" : "traffic dropped");
    if (!p->part_hold) {
        for (size_t i = 0; i < w->nconns; i++)
            if (w->conns[i].proc == pi && cut_off(p, w->conns[i].node))
                break_conn(w, (int) i, 0);
        return;
    }
    /* Everything in flight waits out the partition; shifting it all by
     * the same amount keeps the order on each connection. */
    d = p->heal_at - w->now;
    for (size_t i = 0; i < w->nheap; i++) {
        struct event *ev = &w->pool[w->heap[i].ev];
        struct conn *cn;
        if ((ev->type != EV_TO_REDIS && ev->type != EV_TO_CLIENT) ||
            ev->who != pi || !cut_off(p, w->conns[ev->conn].node))
            continue;
        ev->t += d;
        w->heap[i].t = ev->t;
        cn = &w->conns[ev->conn];
        if (ev->type == EV_TO_REDIS && ev->t > cn->last_to_redis)
            cn->last_to_redis = ev->t;
        if (ev->type == EV_TO_CLIENT && ev->t > cn->last_to_client)
            cn->last_to_client = ev->t;
    }
    heapify(w);
}

/* A new epoch of the election's data, from now: after a loss (failover
 * 0), or a failover to a replica that lacked writes. Terms and grants
 * are counted afresh: the counter may have gone back. */
static void new_epoch(struct world *w, int failover)
{
    struct epoch_info *e;

    if (w->neps == w->capeps)
        w->eps = grow(w->eps, &w->capeps, sizeof *w->eps);
    e = &w->eps[w->neps];
    e->t = w->now;
    e->last_loss =
        failover ? w->eps[w->neps - 1].last_loss : (unsigned) w->neps;
    e->promoted = -1;
    e->foreseen = e->witnessed = 0;
    w->epoch = (unsigned) w->neps++;
    w->last_term = 0;
    w->ngrants = 0;
}

/* Server x, which holds the election's keys, has just lost them. */
static void data_lost(struct world *w, int x)
{
    w->res->n.data_losses++;
    new_epoch(w, 0);
    w->node[x].r.epoch = w->epoch;
    for (int i = 0; i < w->nproc; i++) {
        if (w->proc[i].alive && w->proc[i].started_at > w->last_elected_at) {
            w->res->n.late_joiner_losses++; /* it never saw that term */
            break;
        }
    }
}

/* Whether x holds some of the election's keys in a resharding (neither
 * restarts nor loses data until it is over: the model keeps them apart). */
static int migrating(const struct world *w, int x)
{
    return w->mig_to >= 0 && (x == w->owner || x == w->mig_to);
}

/* Server x goes down: every connection to it breaks, the client told by
 * a reset (with notify 0, now and then not). The caller says when it is
 * back (F_REDIS_UP with its serial). */
static void node_down(struct world *w, int x, int notify)
{
    struct node *n = &w->node[x];

    n->r.up = 0;
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *cn = &w->conns[i];
        if (!cn->accepted || cn->node != x)
            continue;
        if (cn->client_closed)
            cn->broken = 1; /* what it still carried dies with the server:
                             * no later incarnation reads it */
        else
            break_conn(w, (int) i, notify || chance(w, 0.5));
    }
    n->serial++;
}

/* A restart of server x, losing its data by chance (or if lose), and up
 * again later. */
static void redis_down(struct world *w, int x, int lose)
{
    struct node *n = &w->node[x];

    if (!n->r.up || migrating(w, x))
        return;
    lose = lose || chance(w, w->p_lose_data);
    if (w->nservers > 1) {
        /* One server of a quorum: its data is kept (appendfsync always),
         * lost, or an older snapshot of it comes back. None of it is a
         * loss of the election's data: no new epoch. */
        int snap = !lose && n->has_snap && q_rnd(w, 3) == 0;
        sim_redis_restart(&n->r, lose);
        if (snap) {
            n->r.holder = n->snap.holder;
            n->r.expire_ms = n->snap.expire_ms;
            n->r.counter = n->snap.counter;
            n->r.counter_run = n->snap.counter_run;
        }
        w->res->n.redis_restarts++;
        w->res->n.qrestarts++;
        w->res->n.qempty += lose != 0;
        w->res->n.qsnap += snap;
        TRACE(w, -1, "redis n%d: restarts %s", x,
              lose   ? "EMPTY"
              : snap ? "from an OLDER SNAPSHOT"
                     : "with its data");
        n->paused_until = 0;
        node_down(w, x, 1);
        push_fault(w, until(w, (int64_t) q_rnd(w, (uint64_t) w->ttl + 1)),
                   F_REDIS_UP, x, n->serial);
        return;
    }
    sim_redis_restart(&n->r, lose);
    for (int b = 0; b < w->nby; b++)
        sim_redis_restart(&n->by[b], lose);
    w->res->n.redis_restarts++;
    if (lose && x == w->owner)
        data_lost(w, x);
    if (w->cluster)
        TRACE(w, -1, "redis n%d: restarts%s", x,
              lose ? ", LOSING ITS DATA" : "");
    else
        TRACE(w, -1, "redis: restarts%s", lose ? ", LOSING ITS DATA" : "");
    node_down(w, x, 1);
    push_fault(w, until(w, rnd_range(w, 0, 2 * w->ttl)), F_REDIS_UP, x,
               n->serial);
}

/* Server x is up again; in a Cluster it knows the map, and a replica (or
 * the replica of a master) syncs in full. */
static void node_up(struct world *w, int x)
{
    struct node *n = &w->node[x];
    const struct topo *t = topo_now(w);

    n->r.up = 1;
    n->view = (unsigned) w->ntopo - 1;
    if (w->nservers > 1) { /* a new life: a new run id, uptime 0 */
        n->run = new_run(w);
        n->start_wall = node_ms(w, x) + n->wall_off;
    }
    if (w->cluster)
        TRACE(w, -1, "redis n%d: up again", x);
    else
        TRACE(w, -1, "redis: up again");
    if (!w->cluster)
        return;
    if (t->master[n->shard] != x)
        resync(w, x);
    else if (t->replica[n->shard] >= 0)
        resync(w, t->replica[n->shard]);
}

/* The server a restart hits: in a Cluster mostly the one serving the
 * election's slot. */
static int pick_node(struct world *w)
{
    if (w->nservers > 1)
        return (int) q_rnd(w, (uint64_t) w->nservers);
    if (!w->cluster || cl_rnd(w, 10) < 6)
        return w->owner;
    return (int) cl_rnd(w, (uint64_t) w->nnodes);
}

/* A command link of the process that is open, the URL's first. */
static int cmd_conn(const struct proc *p)
{
    for (int l = 0; l < p->nlinks; l++)
        if (sub_server(p->w, l) < 0 && p->link[l] >= 0)
            return p->link[l];
    return -1;
}

static void drop_conn(struct world *w, int pi)
{
    struct proc *p = &w->proc[pi];
    int conn = chance(w, 0.7) ? cmd_conn(p) : p->link[LIO_LINK_SUB];

    if (conn >= 0)
        break_conn(w, conn, chance(w, 0.6));
}

static void app_stop(struct world *w, int ei)
{
    struct elect *e = &w->el[ei];

    if (!e->started || e->slot == NULL)
        return;
    TRACE(w, e->proc, "app: stop %s", elect_id(e));
    w->res->n.stops++;
    e->started = 0;
    e->stop_serial++;
    input(w, e, LC_IN_STOP);
    /* Often back at once, while its release may still be on its way. */
    push_fault(
        w, until(w, rnd_range(w, 0, chance(w, 0.5) ? w->ttl / 3 : 2 * w->ttl)),
        F_START, ei, e->stop_serial);
}

static void app_start(struct world *w, int ei)
{
    struct elect *e = &w->el[ei];
    struct proc *p = &w->proc[e->proc];

    if (!p->alive || e->started)
        return;
    if (p->paused) { /* the application is frozen too: a bit later */
        push_fault(w, w->now + US_PER_MS, F_START, ei, e->stop_serial);
        return;
    }
    if (e->slot == NULL) { /* freed: a new handle, with a new core */
        e->seed = splitmix(&w->shape_rng) | 1;
        add_slot(w, e);
        if (e->slot == NULL)
            return;
    }
    TRACE(w, e->proc, "app: start %s", elect_id(e));
    e->started = 1;
    input(w, e, e->observer ? LC_IN_OBSERVE : LC_IN_START);
}

/* The next new-term request, before the quiet tail like every fault. */
static void schedule_new_term(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) (splitmix(&w->term_rng) %
                           (uint64_t) (2 * w->new_term_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_NEW_TERM, -1, 0);
}

/* The application asks for a new term, as leader_new_term() would: of its
 * leader mostly (the API refuses it to a handle without a lease, but a
 * lease may end between the call and the loop), now and then of anyone. */
static void app_new_term(struct world *w)
{
    int ci = (int) (splitmix(&w->term_rng) % (uint64_t) w->k);
    struct proc *p;

    for (int i = 0; i < w->k; i++)
        if (w->el[i].app_leader && splitmix(&w->term_rng) % 10 < 9)
            ci = i;
    p = &w->proc[w->el[ci].proc];
    if (p->alive && !p->paused && w->el[ci].slot != NULL) {
        TRACE(w, p->index, "app: new term for %s", elect_id(&w->el[ci]));
        w->res->n.new_terms_asked += (uint64_t) w->el[ci].app_leader;
        input(w, &w->el[ci], LC_IN_NEW_TERM);
    }
    schedule_new_term(w);
}

/* ---- elections freed and made again (the shape stream) ---- */

static void schedule_recreate(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) shape_rnd(w, (uint64_t) (2 * w->recreate_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_RECREATE, -1, 0);
}

/* The application stops an election, frees its handle and makes a new one
 * (a new id, as leader_new() draws one): at once, or a little later. The
 * session reuses the freed slot for it, so a reply still on its way to the
 * old one must not reach the new one. */
static void recreate(struct world *w)
{
    int shared[SIM_MAX_CAND], n = 0, ei, later;
    struct lio_slot *slot;
    struct elect *e;
    struct proc *p;

    /* Mostly one that shares its process: the command link outlives it,
     * and its replies still come back on it. */
    for (int i = 0; i < w->k; i++)
        if (w->proc[w->el[i].proc].nmembers > 1)
            shared[n++] = i;
    ei = n > 0 && shape_rnd(w, 4) > 0 ? shared[shape_rnd(w, (uint64_t) n)]
                                      : (int) shape_rnd(w, (uint64_t) w->k);
    e = &w->el[ei];
    p = &w->proc[e->proc];
    later = shape_rnd(w, 3) == 0;

    schedule_recreate(w);
    if (!p->alive || p->paused || e->slot == NULL)
        return;
    if (e->started) {
        TRACE(w, p->index, "app: stop %s, to free it", elect_id(e));
        e->started = 0;
        input(w, e, LC_IN_STOP);
    }
    e->stop_serial++;
    TRACE(w, p->index, "app: free %s", elect_id(e));
    slot = e->slot;
    e->slot = NULL; /* freed by the call: the transport must not see it */
    lio_session_remove(&p->s, slot, local_now(p));
    e->app_leader = 0;
    settled(w, p);
    w->res->n.recreated++;
    e->ident = new_ident(w, ei, "cand", splitmix(&w->shape_rng));
    if (later)
        push_fault(w, until(w, (int64_t) shape_rnd(w, (uint64_t) w->ttl)),
                   F_START, ei, e->stop_serial);
    else
        app_start(w, ei);
}

/* ---- data loss and hostile notifications (streams of their own) ---- */

static uint64_t loss_rnd(struct world *w, uint64_t n)
{
    return n == 0 ? 0 : splitmix(&w->loss_rng) % n;
}

static void schedule_flush(struct world *w)
{
    int64_t t =
        w->now + 1 + (int64_t) loss_rnd(w, (uint64_t) (2 * w->flush_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_FLUSH, -1, 0);
}

/* Not in quorum mode: a server that loses its data without a restart
 * (FLUSHALL) keeps its run id and its uptime, and nothing tells a client
 * that it no longer holds the leases it granted. The quorum's rule stands
 * on restarts only (docs/protocol.md, Quorum); with FLUSHALLs the
 * simulator finds two leaders in a few seeds (see README.md). */
static void redis_flush(struct world *w)
{
    struct sim_redis *r = &w->node[w->owner].r;

    if (!r->up || migrating(w, w->owner) || w->nservers > 1)
        return;
    sim_redis_flush(r);
    for (int b = 0; b < w->nby; b++)
        sim_redis_flush(&w->node[w->owner].by[b]);
    w->res->n.flushes++;
    data_lost(w, w->owner);
    replicate(w, w->owner);
    TRACE(w, -1, "redis: FLUSHALL, LOSING ITS DATA");
}

/* A client sends each script as EVAL once per connection, then as
 * EVALSHA: only a flush while it is connected (an operator's SCRIPT FLUSH,
 * a proxy that moved the connection to another server) makes its calls
 * meet NOSCRIPT. */
static void schedule_script_flush(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) (splitmix(&w->sflush_rng) %
                           (uint64_t) (2 * w->sflush_mean_us));

    if (t < w->t_quiet)
        push_fault(w, t, F_SCRIPT_FLUSH, -1, 0);
}

static void script_flush(struct world *w)
{
    for (int x = 0; x < w->nnodes; x++) {
        sim_redis_script_flush(&w->node[x].r);
        for (int b = 0; b < w->nby; b++)
            sim_redis_script_flush(&w->node[x].by[b]);
    }
    w->res->n.script_flushes++;
    TRACE(w, -1, "redis: SCRIPT FLUSH");
}

static void schedule_late_join(struct world *w)
{
    int64_t span = w->t_quiet - w->now - 3 * w->ttl * US_PER_MS;

    if (w->late_joins <= 0 || span <= 0)
        return;
    w->late_joins--;
    push_fault(w, w->now + 1 + (int64_t) loss_rnd(w, (uint64_t) span / 2),
               F_LATE_JOIN, -1, 0);
}

static int proc_leads(const struct world *w, const struct proc *p)
{
    for (int i = 0; i < p->nmembers; i++)
        if (w->el[p->members[i]].app_leader)
            return 1;
    return 0;
}

/* A follower restarts, so it never saw the last election (and sometimes
 * the leader dies too); a little later Redis loses its data. */
static void late_join(struct world *w)
{
    int ci = (int) loss_rnd(w, (uint64_t) w->k);
    int pi = w->el[ci].proc;
    struct proc *p = &w->proc[pi];
    int64_t d;

    if (p->alive && !p->paused && !proc_leads(w, p)) {
        TRACE(w, pi,
              "scenario: a follower joins late, then Redis loses "
              "its data");
        proc_crash(w, pi);
        proc_start(w, pi);
        for (int i = 0; i < w->nproc; i++) {
            struct proc *l = &w->proc[i];
            if (proc_leads(w, l) && !l->paused && loss_rnd(w, 2) == 0) {
                proc_crash(w, i); /* kill -9 */
                push_fault(
                    w, until(w, (int64_t) loss_rnd(w, (uint64_t) (3 * w->ttl))),
                    F_RESTART, i, l->crash_serial);
            }
        }
        d = (int64_t) loss_rnd(w, (uint64_t) (w->wait + w->ttl)) + 1;
        push_fault(w, until(w, d), F_LOSE, -1, 0);
    }
    schedule_late_join(w);
}

static void lose_data(struct world *w)
{
    int x = w->nservers > 1 ? pick_node(w) : w->owner;

    /* A quorum's server is not flushed (see redis_flush()). */
    if (loss_rnd(w, 2) == 0 || !w->node[x].r.up || w->nservers > 1)
        redis_down(w, x, 1);
    else
        redis_flush(w);
}

/* ---- the quorum's servers' faults (a stream of their own) ---- */

static void schedule_q(struct world *w, enum fault f, int64_t mean_us)
{
    int64_t t;

    if (mean_us <= 0)
        return;
    t = w->now + 1 + (int64_t) q_rnd(w, (uint64_t) (2 * mean_us));
    if (t < w->t_quiet)
        push_fault(w, t, f, -1, 0);
}

/* Server x freezes (SIGSTOP) for a while: its connections stay, what
 * comes waits, its clock runs on, its keys expire. */
static void server_pause(struct world *w, int x)
{
    struct node *n = &w->node[x];
    uint64_t r = q_rnd(w, 10);
    int64_t d = (int64_t) q_rnd(w, (uint64_t) (r < 6   ? w->ttl / 2
                                               : r < 9 ? 2 * w->ttl
                                                       : 5 * w->ttl) +
                                       1);

    if (!n->r.up || n->paused_until > w->now)
        return;
    n->paused_until = until(w, d);
    w->res->n.qpauses++;
    TRACE(w, -1, "redis n%d: frozen for %lld ms", x, (long long) d);
}

/* One server restarts or freezes; now and then several restart at once
 * (a power cut): each is independent, and nothing keeps them apart. */
static void q_fault(struct world *w)
{
    uint64_t r = q_rnd(w, 20);
    int x = pick_node(w);

    if (r < 9) {
        redis_down(w, x, q_rnd(w, 3) == 0);
    } else if (r < 17) {
        server_pause(w, x);
    } else {
        int k = 2 + (int) q_rnd(w, (uint64_t) w->nservers - 1);
        int lose = (int) q_rnd(w, 2);
        for (int i = 0; i < k; i++)
            redis_down(w, (x + i) % w->nservers, lose);
    }
    schedule_q(w, F_QFAULT, w->qfault_mean_us);
}

/* A server writes a snapshot (BGSAVE): what a later restart may bring
 * back instead of its last data. */
static void snapshot(struct world *w)
{
    struct node *n = &w->node[pick_node(w)];

    if (n->r.up) {
        n->snap = n->r;
        n->has_snap = 1;
    }
    schedule_q(w, F_SNAPSHOT, w->snap_mean_us);
}

/* ---- the Cluster's faults (a stream of their own) ---- */

static void schedule_cluster(struct world *w, enum fault f, int64_t mean_us)
{
    int64_t t;

    if (mean_us <= 0)
        return;
    t = w->now + 1 + (int64_t) cl_rnd(w, (uint64_t) (2 * mean_us));
    if (t < w->t_quiet)
        push_fault(w, t, f, -1, 0);
}

/* Whether two copies of the keys read alike now (an expired holder key is
 * no key). */
static int same_data(struct world *w, struct sim_redis *a, struct sim_redis *b)
{
    int64_t now = redis_ms(w);
    int ha = sim_redis_holder(a, now), hb = sim_redis_holder(b, now);

    return ha == hb && (ha < 0 || a->expire_ms == b->expire_ms) &&
           a->counter == b->counter && a->epoch == b->epoch;
}

/* Whether process p's slot map, at a failover of node a to node b, has
 * the election's slot on a, and does not take b for a master serving
 * slots (b's shard's), so that b taking the slot is a promotion to it. */
static int foresees(const struct world *w, const struct proc *p, int a, int b)
{
    return map_node(w, p, lio_cmap_owner(&p->map, w->kslot)) == a &&
           map_node(w, p,
                    lio_cmap_owner(&p->map, base_lo(w, w->node[b].shard))) != b;
}

/* A replica is promoted, with what it had replicated: mostly in the shard
 * serving the election's slot. Its old master crashed (it comes back
 * later, as the new master's replica) or is made a replica at once, and
 * answers MOVED on the connections it keeps. When the promoted replica
 * lacked writes of the election's keys, their data begins a new epoch. */
static void failover(struct world *w)
{
    struct topo t = *topo_now(w);
    int s =
        cl_rnd(w, 10) < 7 ? t.owner : (int) cl_rnd(w, (uint64_t) w->nshards);
    int m = t.master[s], r = t.replica[s], crash = cl_rnd(w, 2) == 0, lossy;
    struct node *nr;

    schedule_cluster(w, F_FAILOVER, w->failover_mean_us);
    if (r < 0 || !w->node[r].r.up || w->mig_to >= 0)
        return;
    nr = &w->node[r];
    lossy = s == t.owner && !same_data(w, &w->node[m].r, &nr->r);
    t.master[s] = r;
    t.replica[s] = m;
    new_topo(w, &t, r, m);
    nr->tenure++;
    nr->tenure_at = w->now;
    nr->repl_serial++; /* what was still on its way to it is lost */
    w->res->n.failovers++;
    if (s == t.owner) {
        w->owner = r;
        if (lossy) {
            /* Terms may go back to the replica's counter: what (2b)
             * holds from here on is above that. */
            uint64_t c = nr->r.counter;
            w->res->n.lossy++;
            new_epoch(w, 1);
            nr->r.epoch = w->epoch;
            struct epoch_info *e = &w->eps[w->epoch];
            e->promoted = r;
            for (int i = 0; i < w->nproc; i++) {
                const struct proc *q = &w->proc[i];
                if (q->alive && q->cluster && foresees(w, q, m, r))
                    e->foreseen |= 1u << i;
            }
            if (c > 0 && c < w->max_granted) {
                w->res->n.rollbacks++;
                w->max_granted = c;
            }
            for (int i = w->k; i < w->nelect; i++)
                if (c > 0 && w->el[i].rep_term > c)
                    w->el[i].rolled_back = 1;
        }
    }
    TRACE(w, -1,
          "cluster: failover in shard %d, n%d promoted%s%s, n%d %s; seen by "
          "%#x",
          s, r, s == t.owner ? " (the slot's)" : "",
          lossy ? " LACKING WRITES" : "", m,
          crash ? "crashes" : "becomes its replica",
          lossy ? w->eps[w->epoch].foreseen : 0);
    if (crash && w->node[m].r.up) {
        sim_redis_restart(&w->node[m].r, 0);
        node_down(w, m, 0);
        push_fault(w,
                   until(w, (int64_t) cl_rnd(w, (uint64_t) (2 * w->ttl + 1))),
                   F_REDIS_UP, m, w->node[m].serial);
    } else {
        resync(w, m);
    }
}

/* A key of the slot (1 the holder, 2 the counter) moves from the source to
 * the target of the resharding, whole and with its TTL (MIGRATE); one that
 * is missing moves nothing. */
static void move_key(struct world *w, int which)
{
    struct sim_redis *rs = &w->node[w->owner].r, *rt = &w->node[w->mig_to].r;

    if (w->mig_moved & which)
        return;
    if (which == 1 && sim_redis_holder(rs, redis_ms(w)) >= 0) {
        rt->holder = rs->holder;
        rt->expire_ms = rs->expire_ms;
        rs->holder = -1;
    } else if (which == 2 && rs->counter > 0) {
        rt->counter = rs->counter;
        rs->counter = 0;
    }
    w->mig_moved |= which;
    replicate(w, w->owner);
    replicate(w, w->mig_to);
    TRACE(w, -1, "cluster: the %s moves from n%d to n%d",
          which == 1 ? "holder key" : "counter", w->owner, w->mig_to);
}

/* The resharding ends: whatever is left moves, the target serves the slot,
 * and the source answers MOVED. */
static void reshard_end(struct world *w)
{
    struct topo t = *topo_now(w);
    int from = w->owner;

    move_key(w, 1);
    move_key(w, 2);
    w->owner = w->mig_to;
    w->mig_to = -1;
    w->mig_moved = 0;
    t.owner = w->node[w->owner].shard;
    new_topo(w, &t, from, w->owner);
    TRACE(w, -1, "cluster: the slot moved from n%d to n%d", from, w->owner);
}

/* A step of the resharding. */
static void migrate_step(struct world *w, int step, unsigned serial)
{
    if (w->mig_to < 0 || serial != w->mig_serial)
        return;
    if (step < 3)
        move_key(w, step == 1 ? w->mig_first : 3 - w->mig_first);
    else
        reshard_end(w);
}

/* The slot starts moving to another shard's master: the source answers
 * ASK for what it no longer has, and TRYAGAIN for a script whose two keys
 * are apart; one key moves, then the other, then the slot. Each step
 * after a pause of its own, mostly short, now and then of a lease or
 * two. */
static void reshard(struct world *w)
{
    const struct topo *t = topo_now(w);
    int to = (t->owner + 1 + (int) cl_rnd(w, (uint64_t) w->nshards - 1)) %
             w->nshards;
    int target = t->master[to];
    int64_t at = w->now;

    schedule_cluster(w, F_RESHARD, w->reshard_mean_us);
    if (w->mig_to >= 0 || !w->node[w->owner].r.up || !w->node[target].r.up)
        return;
    w->mig_to = target;
    w->mig_moved = 0;
    w->mig_first = 1 + (int) cl_rnd(w, 2);
    w->mig_serial++;
    w->res->n.reshards++;
    /* Keys of a slot the node does not serve are none of its own (Redis
     * drops them when it loses a slot): it starts empty. */
    w->node[target].r.holder = -1;
    w->node[target].r.counter = 0;
    w->node[target].r.epoch = w->epoch;
    replicate(w, target);
    TRACE(w, -1, "cluster: the slot starts moving from n%d to n%d", w->owner,
          target);
    for (int step = 1; step <= 3; step++) {
        uint64_t span = (uint64_t) w->ttl * US_PER_MS;
        at += (int64_t) (cl_rnd(w, 4) == 0 ? cl_rnd(w, 2 * span)
                                           : cl_rnd(w, span / 4 + 1));
        push_fault(w, at < w->t_quiet ? at : w->t_quiet, F_MIGRATE, step,
                   w->mig_serial);
    }
}

static void schedule_hostile(struct world *w)
{
    int64_t t = w->now + 1 +
                (int64_t) (splitmix(&w->hostile_rng) %
                           (uint64_t) (2 * w->hostile_mean_us));

    if (t < w->t_end)
        push_fault(w, t, F_HOSTILE, -1, 0);
}

/* A term for a forgery: the largest there is, just below it, above it
 * (2^53 + 1 among others), none, tiny, or around the counter. */
static uint64_t forged_term(struct world *w)
{
    uint64_t c = counter_redis(w)->counter, r = splitmix(&w->hostile_rng);

    switch (r % 11) {
    case 0:
        return LEADER_TERM_MAX;
    case 1:
        return LEADER_TERM_MAX - 1 - (r >> 8) % 1000;
    case 2:
        return (UINT64_C(1) << 53) + 1;
    case 3:
        return UINT64_MAX;
    case 4:
        return 0;
    case 5:
        return 1 + (r >> 8) % 100;
    case 6:
        return c > 0 ? c - 1 : 0;
    case 7:
        return c;
    case 8:
        return c + 1;
    default:
        return c + 1 + (r >> 8) % 1000000;
    }
}

/* Anyone who may PUBLISH sends a notification of its own making to every
 * subscriber: mostly well formed, in the name of a candidate or not. */
static void hostile_publish(struct world *w)
{
    uint64_t r = splitmix(&w->hostile_rng);
    struct msg m;
    int who;

    memset(&m, 0, sizeof m);
    m.kind = M_MESSAGE;
    m.forged = 1 + (int) (r % 16 < 10 ? r % 4 : 4 + r % 7);
    m.res.pub_term = forged_term(w);
    who = (int) ((r >> 16) % (uint64_t) (w->k + 2)) - 2;
    m.res.holder = who >= 0 ? w->el[who].ident : -1;
    w->res->n.forged++;
    if (w->now >= w->t_live)
        w->hostile_after_live++;
    publish_msg(w, &m, -1);
    schedule_hostile(w);
}

static void quiet(struct world *w)
{
    TRACE(w, -1, "faults stop; leader expected by %.3f",
          (double) w->t_live / 1e6);
    w->quiet = 1;
    if (w->mig_to >= 0)
        reshard_end(w);
    for (int x = 0; x < w->nnodes; x++)
        if (!w->node[x].r.up)
            node_up(w, x);
    for (int i = 0; i < w->nproc; i++) {
        struct proc *p = &w->proc[i];
        p->partitioned = 0;
        if (p->paused)
            proc_resume(w, i);
        if (!p->alive) {
            proc_start(w, i);
            continue;
        }
        for (int j = 0; j < p->nmembers; j++)
            if (!w->el[p->members[j]].started)
                app_start(w, p->members[j]);
    }
}

static void check_live(struct world *w)
{
    int n = 0, who = -1;

    for (int i = 0; i < w->k; i++) {
        if (w->el[i].app_leader && holds_lease(w, i)) {
            n++;
            who = i;
        }
    }
    if (n != 1) {
        w->live_leader = -2;
        fail(w, "liveness",
             "%d leaders %.3f s after faults stopped (ttl %lld, wait %lld, "
             "bound %lld ms)",
             n, (double) (w->t_live - w->t_quiet) / 1e6, (long long) w->ttl,
             (long long) w->wait, (long long) w->bound);
        return;
    }
    w->live_leader = who;
    w->res->live_ratio = w->stable_since > w->t_quiet
                             ? (double) (w->stable_since - w->t_quiet) /
                                   US_PER_MS / (double) w->bound
                             : 0;
    for (int i = w->k; i < w->nelect; i++)
        w->el[i].wrong_since =
            reports_leader(w, &w->el[i]) ? SIM_NEVER : w->now;
    TRACE(w, w->el[who].proc, "liveness: %s leads, and must until the end",
          elect_id(&w->el[who]));
}

static void on_fault(struct world *w, const struct event *ev)
{
    int ci, pi = ev->who;
    struct proc *p = pi >= 0 ? &w->proc[pi] : NULL;

    switch (ev->fault) {
    case F_CRASH:
        pi = w->el[pick(w, 0)].proc;
        if (w->proc[pi].alive) {
            proc_crash(w, pi);
            push_fault(w, until(w, rnd_range(w, 0, 3 * w->ttl + 1000)),
                       F_RESTART, pi, w->proc[pi].crash_serial);
        }
        break;
    case F_PAUSE:
        ci = pick(w, 1);
        if (ci >= 0) {
            int64_t r = rnd_upto(w, 9), d;
            pi = w->el[ci].proc;
            d = r < 5   ? rnd_range(w, 0, w->ttl / 2)
                : r < 9 ? rnd_range(w, w->ttl / 2, 2 * w->ttl)
                        : rnd_range(w, 2 * w->ttl, 5 * w->ttl);
            w->proc[pi].paused = 1;
            sync_tick(w, &w->proc[pi]);
            w->res->n.pauses++;
            w->proc[pi].pause_serial++;
            push_fault(w, until(w, d), F_RESUME, pi, w->proc[pi].pause_serial);
            TRACE(w, pi, "process paused for %lld ms", (long long) d);
        }
        break;
    case F_PARTITION:
        pi = w->el[pick(w, 0)].proc;
        if (w->nservers > 1 && q_rnd(w, 2) == 0) {
            /* Cut off from some servers only: any set but all of them. */
            unsigned all = (1u << w->nservers) - 1;
            partition(w, pi, 1 + (unsigned) q_rnd(w, all - 1));
        } else {
            partition(w, pi, ~0u);
        }
        break;
    case F_REDIS:
        redis_down(w, pick_node(w), 0);
        break;
    case F_DROP:
        drop_conn(w, w->el[pick(w, 0)].proc);
        break;
    case F_STOP:
        /* Mostly the leader: stopping it exercises the release paths. */
        ci = pick(w, 1);
        for (int i = 0; i < w->k; i++)
            if (w->el[i].app_leader && !w->proc[w->el[i].proc].paused &&
                chance(w, 0.7))
                ci = i;
        if (ci >= 0)
            app_stop(w, ci);
        break;
    case F_RESTART:
        if (!p->alive && ev->serial == p->crash_serial)
            proc_start(w, pi);
        break;
    case F_RESUME:
        if (p->paused && ev->serial == p->pause_serial)
            proc_resume(w, pi);
        break;
    case F_HEAL:
        if (p->partitioned && ev->serial == p->part_serial) {
            p->partitioned = 0;
            TRACE(w, pi, "net: partition heals");
        }
        break;
    case F_REDIS_UP:
        if (!w->node[pi].r.up && ev->serial == w->node[pi].serial)
            node_up(w, pi);
        break;
    case F_START:
        if (ev->serial == w->el[ev->who].stop_serial)
            app_start(w, ev->who);
        break;
    case F_QUIET:
        quiet(w);
        break;
    case F_LIVE:
        check_live(w);
        break;
    case F_NEW_TERM:
        app_new_term(w);
        break;
    case F_FLUSH:
        redis_flush(w);
        schedule_flush(w);
        break;
    case F_SCRIPT_FLUSH:
        script_flush(w);
        schedule_script_flush(w);
        break;
    case F_LATE_JOIN:
        late_join(w);
        break;
    case F_LOSE:
        lose_data(w);
        break;
    case F_HOSTILE:
        hostile_publish(w);
        break;
    case F_RECREATE:
        recreate(w);
        break;
    case F_RESHARD:
        reshard(w);
        break;
    case F_MIGRATE:
        migrate_step(w, ev->who, ev->serial);
        break;
    case F_FAILOVER:
        failover(w);
        break;
    case F_QFAULT:
        q_fault(w);
        break;
    case F_SNAPSHOT:
        snapshot(w);
        break;
    case F_NTYPES:
        break;
    }
    if (ev->fault < F_NTYPES)
        schedule_fault(w, ev->fault);
}

/* ---- one run ---- */

/* The core's command timeout and backoff cap for this run's ttl and wait,
 * read from a core of a throwaway session. */
static enum lio_link_state nothing_open(void *ctx, enum lio_link link)
{
    (void) ctx;
    (void) link;
    return LIO_LINK_DOWN;
}

static void core_timing(struct world *w, lc_time *cmd_timeout,
                        lc_time *connect_timeout, lc_time *backoff_cap)
{
    static const struct lio_transport none = {
        NULL, NULL, nothing_open, NULL, NULL, NULL, NULL, NULL, NULL};
    static struct lio_session s;
    static int ready;
    struct lio_slot *e;
    struct lio_slot_config cfg = {
        "probe",          &w->names, (long) w->ttl,
        (long) w->wait,   1,         (long) w->connect_opt,
        (long) w->cmd_opt};
    int rc;

    if (!ready && lio_session_init(&s, &none, 1) != 0) {
        fprintf(stderr, "sim: cannot make a session\n");
        exit(2);
    }
    ready = 1;
    e = lio_session_add(&s, &cfg, on_emit, NULL, &rc);
    if (e == NULL) {
        fprintf(stderr, "sim: lio_session_add: %d\n", rc);
        exit(2);
    }
    *cmd_timeout = lc_cmd_timeout(lio_slot_core(e));
    *connect_timeout = lc_connect_timeout(lio_slot_core(e));
    *backoff_cap = lc_backoff_cap(lio_slot_core(e));
    lio_session_remove(&s, e, 0);
}

/* The timeout options, in a third of the runs each, from a generator of
 * their own so that the other draws of a seed stay as they were. Never
 * shorter than a round trip can take once the faults stop: a timeout
 * below that is a network that cannot make progress, not a test of it. */
static void choose_timeouts(struct world *w, uint64_t seed)
{
    uint64_t rng = seed ^ 0x74696d656f757473ULL;
    lc_time least = 2 * (w->dmax_us / US_PER_MS) + 20;

    w->connect_opt = w->cmd_opt = 0;
    if (splitmix(&rng) % 3 == 0)
        w->connect_opt = least + (lc_time) (splitmix(&rng) % (2 * w->ttl));
    if (splitmix(&rng) % 3 == 0 && w->ttl / 3 > least)
        w->cmd_opt =
            least + (lc_time) (splitmix(&rng) % (w->ttl / 3 - least + 1));
}

/* The quiet tail, by the liveness bound. */
static void set_tail(struct world *w)
{
    int64_t r = 2 * w->bound * US_PER_MS + 5000000;

    if (r < w->t_end / 5)
        r = w->t_end / 5;
    w->t_quiet = w->t_end - r;
    w->t_live = w->t_quiet + w->bound * US_PER_MS;
    w->t_noslow = w->t_quiet - w->slow_max_us;
}

static void choose_params(struct world *w, uint64_t seed)
{
    static const int ks[] = {2, 3, 5};
    const struct sim_options *o = w->opt;
    lc_time cmd_timeout, connect_timeout, backoff_cap;
    int64_t r;

    w->seed = seed;
    w->rng = seed * 0x2545f4914f6cdd1dULL + 0x632be59bd9b4e019ULL;
    w->k = o->candidates > 0 ? o->candidates : ks[rnd_upto(w, 2)];
    if (w->k > SIM_MAX_CAND)
        w->k = SIM_MAX_CAND;
    /* ttl: 200 ms .. 10 s, mostly short so that a run sees many terms. */
    r = rnd_upto(w, 9);
    w->ttl = r < 5   ? rnd_range(w, 200, 1000)
             : r < 8 ? rnd_range(w, 1000, 3000)
                     : rnd_range(w, 3000, 10000);
    if (o->ttl >= 0)
        w->ttl = o->ttl;
    r = rnd_upto(w, 9);
    w->wait = r == 0  ? 0
              : r < 7 ? rnd_range(w, 50, 1000)
                      : rnd_range(w, 1000, 2000);
    if (o->wait >= 0)
        w->wait = o->wait;

    w->dmin_us = rnd_range(w, 50, 1000);
    w->dmax_us = w->dmin_us + rnd_range(w, 0, chance(w, 0.3) ? 20000 : 4000);
    w->p_slow = chance(w, 0.7) ? rnd_unit(w) * 0.03 : 0;
    w->slow_max_us = rnd_range(w, w->ttl / 10, 2 * w->ttl) * US_PER_MS;
    w->p_break = chance(w, 0.6) ? rnd_unit(w) * 0.01 : 0;
    w->p_err = chance(w, 0.3) ? rnd_unit(w) * 0.01 : 0;
    w->p_cfail = chance(w, 0.5) ? rnd_unit(w) * 0.1 : 0;
    w->p_chang = chance(w, 0.4) ? rnd_unit(w) * 0.05 : 0;
    w->p_lose_data = chance(w, 0.2) ? rnd_unit(w) : 0;
    for (int f = 0; f < F_NTYPES; f++)
        w->mean_us[f] =
            chance(w, 0.7)
                ? rnd_range(w, 2 * w->ttl, 40 * w->ttl + 5000) * US_PER_MS
                : 0;

    /* Liveness: a leader by ttl + wait + a small bound after the faults
     * stop (the old key's expiry, a follower's wait, a hung connect or
     * command, a reconnect backoff, and clock-rate slack). */
    choose_timeouts(w, seed);
    core_timing(w, &cmd_timeout, &connect_timeout, &backoff_cap);
    if (connect_timeout > cmd_timeout)
        cmd_timeout = connect_timeout; /* the bound takes the longer */
    w->bound = w->ttl + w->wait + 2 * cmd_timeout + 2 * backoff_cap +
               (w->ttl + w->wait) / 50 + 100;
    lio_timing_for(w->ttl, &w->sub_timing);
    w->quiet_max_us = cmd_timeout * US_PER_MS / 6;
    w->jitter_us = w->quiet_max_us < 5000 ? w->quiet_max_us : 5000;
    w->t_end = (int64_t) o->minutes * 60 * 1000000;
    set_tail(w);

    /* The server's clock: what TIME reads, in ms since the epoch. */
    w->loss_rng = seed ^ 0x6c6f73732d646174ULL;
    w->redis_wall =
        1600000000000LL + (int64_t) (splitmix(&w->loss_rng) % 400000000000ULL);
    /* FLUSHALL in 20 % of the runs, every 5 .. 60 ttl on average; a
     * follower joining late just before a data loss, 1 to 3 times, in
     * 30 %. */
    if (splitmix(&w->loss_rng) % 10 < 2)
        w->flush_mean_us =
            (int64_t) (5 + splitmix(&w->loss_rng) % 56) * w->ttl * US_PER_MS;
    if (splitmix(&w->loss_rng) % 10 < 3)
        w->late_joins = 1 + (int) (splitmix(&w->loss_rng) % 3);
    /* SCRIPT FLUSH in 30 % of the runs, every 1 .. 20 ttl on average. */
    w->sflush_rng = seed ^ 0x7363726970742d66ULL;
    if (splitmix(&w->sflush_rng) % 10 < 3)
        w->sflush_mean_us =
            (int64_t) (1 + splitmix(&w->sflush_rng) % 20) * w->ttl * US_PER_MS;
    /* Forged notifications in half of the runs, every ttl/10 .. 5 ttl on
     * average, to the end of the run. */
    w->hostile_rng = seed ^ 0x686f7374696c6521ULL;
    if (splitmix(&w->hostile_rng) % 2 == 0)
        w->hostile_mean_us =
            (w->ttl / 10 +
             (int64_t) (splitmix(&w->hostile_rng) % (uint64_t) (5 * w->ttl))) *
                US_PER_MS +
            1;

    /* New terms in 70 % of the runs, every ttl/4 .. 4 ttl on average. */
    w->term_rng = seed ^ 0x6e65772d7465726dULL;
    if (splitmix(&w->term_rng) % 10 < 7) {
        uint64_t span = (uint64_t) (4 * w->ttl - w->ttl / 4 + 1);
        w->new_term_mean_us =
            (w->ttl / 4 + (int64_t) (splitmix(&w->term_rng) % span)) *
            US_PER_MS;
    }
}

static struct proc *new_proc(struct world *w, int64_t rate, int64_t offset)
{
    struct proc *p = &w->proc[w->nproc];

    p->w = w;
    p->index = w->nproc++;
    /* In quorum mode the servers' clocks drift too: each side within
     * 0.5 %, so that any two are within the 1 % the drift margin is for. */
    p->rate = w->nservers > 1 ? RATE_ONE + (rate - RATE_ONE) / 2 : rate;
    p->offset_ms = offset;
    p->clock_at = -1;
    p->tick_at = SIM_NEVER;
    w->ticks[p->index] = SIM_NEVER;
    p->nlinks = w->cluster ? MAX_LINKS
                : w->nservers > 1
                    ? (int) lio_sub_link((unsigned) w->nservers,
                                         (unsigned) w->nservers - 1) +
                          1
                    : 2;
    for (int l = 0; l < MAX_LINKS; l++) {
        p->link[l] = -1;
        p->open_deadline[l] = LC_NEVER;
    }
    p->probe = -1;
    return p;
}

static void join(struct world *w, struct proc *p, int ei)
{
    w->el[ei].proc = p->index;
    p->members[p->nmembers++] = ei;
}

/* The processes: one per candidate, or, in some runs, one to three
 * candidates per process; observers in some runs, alone or beside
 * candidates; and in some runs with shared processes, elections freed and
 * made again. All from the shape stream, so the run's own stream draws
 * what it always did. */
static void make_processes(struct world *w, uint64_t seed)
{
    int grouped, size = 0;
    struct proc *p = NULL;

    w->shape_rng = seed ^ 0x7368617065730a21ULL;
    grouped = w->k > 1 && shape_rnd(w, 100) < 35;
    w->nobs = shape_rnd(w, 100) < 20 ? 1 + (shape_rnd(w, 4) == 0) : 0;
    w->nelect = w->k + w->nobs;
    if (grouped && shape_rnd(w, 100) < 60)
        w->recreate_mean_us =
            (w->ttl / 2 + (int64_t) shape_rnd(w, (uint64_t) (5 * w->ttl / 2))) *
            US_PER_MS;
    for (int i = 0; i < w->k; i++) {
        struct elect *e = &w->el[i];
        int64_t rate, offset, start;
        e->w = w;
        e->index = i;
        e->ident = new_ident(w, i, "cand", rnd(w));
        rate = RATE_ONE + rnd_range(w, -10000, 10000);
        offset = rnd_range(w, 1000, 1000000000);
        /* Processes come up at different times in the first second. */
        start = rnd_upto(w, 1000000);
        if (size == 0) {
            size = grouped ? 1 + (int) shape_rnd(w, 3) : 1;
            p = new_proc(w, rate, offset);
            push_fault(w, start, F_RESTART, p->index, 0);
        }
        join(w, p, i);
        size--;
    }
    if (grouped)
        w->res->n.grouped++;
    for (int i = w->k; i < w->nelect; i++) {
        struct elect *e = &w->el[i];
        e->w = w;
        e->index = i;
        e->observer = 1;
        e->ident = new_ident(w, i, "obs", splitmix(&w->shape_rng));
        if (shape_rnd(w, 2) == 0) {
            p = &w->proc[shape_rnd(w, (uint64_t) w->nproc)];
        } else {
            p = new_proc(w, RATE_ONE - 10000 + (int64_t) shape_rnd(w, 20001),
                         1000 + (int64_t) shape_rnd(w, 1000000000));
            push_fault(w, (int64_t) shape_rnd(w, 1000001), F_RESTART, p->index,
                       0);
        }
        join(w, p, i);
    }
    if (w->nobs > 0)
        w->res->n.observed++;
    for (int i = 0; i < w->nelect; i++) {
        w->el[i].rep_ident = -2;
        w->el[i].wrong_since = SIM_NEVER;
        w->el[i].up_conn = -1;
    }
}

/* The digests of the scripts, as Redis computes them on EVAL: the same
 * for every run, so computed once. */
static const struct lio_shas *redis_shas(void)
{
    static struct lio_shas shas;
    static int done;

    if (!done && lio_shas_init(&shas) != 0) {
        fprintf(stderr, "sim: out of memory\n");
        exit(2);
    }
    done = 1;
    return &shas;
}

static void init_node(struct world *w, int x, int shard)
{
    struct node *n = &w->node[x];

    sim_redis_init(&n->r, w->opt->redis_break);
    n->r.wall_offset_ms = w->redis_wall;
    for (int b = 0; b < MAX_BY; b++) {
        sim_redis_init(&n->by[b], SIM_RB_NONE);
        n->by[b].wall_offset_ms = w->redis_wall;
    }
    n->shard = shard;
    snprintf(n->host, sizeof n->host, "10.0.0.%d", x + 1);
    n->port = 6379;
    snprintf(n->addr, sizeof n->addr, "10.0.0.%d:%d", x + 1, n->port);
    snprintf(n->id, sizeof n->id, "node-%d", x % 100);
}

/* One server, or, in 30 % of the runs, a Redis Cluster: two or three
 * shards, each a master and in most a replica that lags behind it by up
 * to a few ms, half a lease or two leases; the election's slot on one of
 * them; the map spread by gossip within 0 .. 2 s; failovers and
 * reshardings in most of these runs, every 3 .. 30 leases on average.
 * All from a stream of its own, so a run without a Cluster is the run
 * this seed gave before the Cluster existed. */
static void choose_cluster(struct world *w, uint64_t seed)
{
    struct topo t;
    int x = 0;
    uint64_t r;

    w->cluster_rng = seed ^ 0x636c75737465722eULL;
    w->mig_to = -1;
    w->cluster =
        w->opt->cluster >= 0 ? w->opt->cluster != 0 : cl_rnd(w, 10) < 3;
    if (w->opt->servers != 1)
        w->cluster = 0; /* a quorum of independent servers, no Cluster */
    w->nshards = w->cluster ? 2 + (int) cl_rnd(w, 2) : 1;
    memset(&t, 0, sizeof t);
    for (int s = 0; s < w->nshards; s++) {
        t.master[s] = x;
        init_node(w, x++, s);
        t.replica[s] = -1;
        if (w->cluster && cl_rnd(w, 10) < 8) {
            t.replica[s] = x;
            init_node(w, x++, s);
        }
    }
    w->nnodes = x;
    w->kslot =
        lio_cluster_key_slot(w->names.holder_key, strlen(w->names.holder_key));
    for (int s = 0; s < w->nshards; s++)
        if (w->kslot - base_lo(w, s) < BASE_SLOTS)
            fail(w, "setup", "the election's slot is in a shard's own range");
    t.owner = (int) cl_rnd(w, (uint64_t) w->nshards);
    w->owner = t.master[t.owner];
    w->topo = grow(NULL, &w->captopo, sizeof *w->topo);
    w->topo[0] = t;
    w->ntopo = 1;
    w->eps = grow(NULL, &w->capeps, sizeof *w->eps);
    w->eps[0].t = 0;
    w->eps[0].last_loss = 0;
    w->neps = 1;
    if (!w->cluster)
        return;
    w->res->n.clusters++;
    /* A candidate that finds a failover just before the faults stop (by
     * a command that times out) then waits a ttl on the new master. */
    w->bound += w->ttl + w->ttl / 50;
    set_tail(w);
    r = cl_rnd(w, 10);
    w->lag_max_us = (int64_t) (r < 3   ? 1 + cl_rnd(w, 5)
                               : r < 7 ? cl_rnd(w, (uint64_t) w->ttl / 2 + 1)
                                       : cl_rnd(w, 2 * (uint64_t) w->ttl + 1)) *
                    US_PER_MS;
    w->gossip_max_us = (int64_t) cl_rnd(w, 2001) * US_PER_MS;
    if (cl_rnd(w, 10) < 8)
        w->failover_mean_us =
            (int64_t) (3 + cl_rnd(w, 28)) * w->ttl * US_PER_MS;
    if (cl_rnd(w, 10) < 8)
        w->reshard_mean_us = (int64_t) (3 + cl_rnd(w, 28)) * w->ttl * US_PER_MS;
}

/* Quorum mode, when the options ask for it: 3 or 5 independent servers,
 * each with its clock (a rate within 0.5 %, TIME a few ms apart), up for
 * a while or just started, and faults of their own: restarts (with the
 * data, empty, from an older snapshot), freezes and now and then several
 * restarting at once, every 1 .. 15 leases on average; snapshots every 1
 * .. 10. All from a stream of its own. */
static void choose_quorum(struct world *w, uint64_t seed)
{
    w->q_rng = seed ^ 0x71756f72756d2121ULL;
    w->nservers =
        w->opt->servers > 0 ? w->opt->servers : (q_rnd(w, 2) == 0 ? 3 : 5);
    if (w->nservers > SIM_MAX_SERVERS)
        w->nservers = SIM_MAX_SERVERS;
    if (w->nservers <= 1) {
        w->nservers = 1;
        return;
    }
    w->res->n.quorums++;
    w->nnodes = w->nservers;
    for (int x = 0; x < w->nservers; x++) {
        struct node *n = &w->node[x];
        if (x > 0)
            init_node(w, x, 0);
        n->rate = RATE_ONE - 5000 + (int64_t) q_rnd(w, 10001);
        n->clock_off = 0;
        n->wall_off = w->redis_wall - 20 + (int64_t) q_rnd(w, 41);
        n->run = new_run(w);
        n->start_wall =
            n->wall_off - (q_rnd(w, 2) == 0 ? (int64_t) q_rnd(w, 3000)
                                            : (int64_t) q_rnd(w, 1000000000));
        n->r.wall_offset_ms = n->wall_off;
    }
    w->qfault_mean_us =
        (int64_t) (1 + q_rnd(w, 15)) * w->ttl * US_PER_MS + 500000;
    w->snap_mean_us = (int64_t) (1 + q_rnd(w, 10)) * w->ttl * US_PER_MS;
    /* After the faults a server may have just restarted (young for a ttl
     * and its drift) and its link be waiting out a backoff (1 s). */
    w->bound += w->ttl + w->ttl / 50 + 1200 +
                2 * 1000 * (lc_time) w->sub_timing.keepalive_s;
    set_tail(w);
}

static void world_init(struct world *w, const struct sim_options *o,
                       uint64_t seed)
{
    lio_names_make(&w->names, "5e6b9d1c0c7a4f3e8a2b1d0c9e8f7a6b5c4d3e2f");
    lio_term_key(&w->names, w->term_key);
    lio_run_key(&w->names, w->run_key);
    lio_channel(&w->names, w->channel);
    w->shas = redis_shas();
    choose_params(w, seed);
    choose_cluster(w, seed);
    choose_quorum(w, seed);
    w->live_leader = -1;
    make_processes(w, seed);
    make_bystanders(w, seed);
    /* Each process' URL names one node of the Cluster, any of them. */
    for (int i = 0; i < w->nproc; i++)
        w->proc[i].url_node =
            w->cluster ? (int) cl_rnd(w, (uint64_t) w->nnodes) : 0;
    for (int f = 0; f < F_NTYPES; f++)
        schedule_fault(w, (enum fault) f);
    push_fault(w, w->t_quiet, F_QUIET, -1, 0);
    push_fault(w, w->t_live, F_LIVE, -1, 0);
    if (w->new_term_mean_us > 0)
        schedule_new_term(w);
    if (w->flush_mean_us > 0)
        schedule_flush(w);
    if (w->sflush_mean_us > 0)
        schedule_script_flush(w);
    schedule_late_join(w);
    if (w->hostile_mean_us > 0)
        schedule_hostile(w);
    if (w->recreate_mean_us > 0)
        schedule_recreate(w);
    schedule_cluster(w, F_FAILOVER, w->failover_mean_us);
    schedule_cluster(w, F_RESHARD, w->reshard_mean_us);
    if (w->nservers > 1) {
        schedule_q(w, F_QFAULT, w->qfault_mean_us);
        schedule_q(w, F_SNAPSHOT, w->snap_mean_us);
    }
}

static void world_free(struct world *w)
{
    for (int i = 0; i < w->nproc; i++) {
        if (w->proc[i].has_session)
            lio_session_free(&w->proc[i].s);
        if (w->proc[i].cluster)
            lio_cmap_free(&w->proc[i].map);
        free(w->proc[i].deferred);
    }
    free(w->topo);
    free(w->eps);
    free(w->conns);
    free(w->heap);
    free(w->pool);
    free(w->free_ix);
    free(w->idents);
    free(w->grants);
    free(w->commits);
    free(w->runs);
    free(w->bmem);
}

static void tick(struct world *w, struct proc *p)
{
    if (p->spin_at == w->now) {
        if (++p->spins > MAX_SPINS) {
            fail(w, "liveness", "p%d: busy loop, deadline %lld never passes",
                 p->index, (long long) lio_session_deadline(&p->s));
            return;
        }
    } else {
        p->spin_at = w->now;
        p->spins = 0;
    }
    p->tick_at = SIM_NEVER;
    p->tick_for = LC_NEVER;
    sync_tick(w, p);
    open_timeouts(w, p);
    w->cur_epoch = w->epoch;
    lio_session_process(&p->s, local_now(p));
    settled(w, p);
}

/* (6) No busy loop: once a leader is settled, each election sends about
 * one command per renewal (ttl/3) or per try (min(wait, ttl/2), no faster
 * than a round trip), plus at most one per forged notification; a process
 * sends that for each of its elections. A core that retries at once on
 * every failure, or on every hint, exceeds it. */
static void check_load(struct world *w)
{
    double span_ms = (double) (w->t_end - w->t_live) / US_PER_MS;
    double rtt_ms =
        2.0 *
        (double) (w->dmin_us < w->quiet_max_us ? w->dmin_us : w->quiet_max_us) /
        US_PER_MS;
    double period = (double) (w->wait < w->ttl / 2 ? w->wait : w->ttl / 2);
    double allowed;

    if (period < rtt_ms)
        period = rtt_ms;
    if (period < 0.05)
        period = 0.05;
    allowed = 1.25 * (span_ms / period + 3 * span_ms / (double) w->ttl) +
              2.0 * (double) w->hostile_after_live + 20;
    /* Quorum mode: each command goes to every server (an acquire's grant,
     * the release of a lost acquire's grants). */
    if (w->nservers > 1)
        allowed *= 2 * w->nservers;
    for (int i = 0; i < w->nproc; i++) {
        struct proc *p = &w->proc[i];
        double mine = allowed * (p->nmembers + p->nby);
        if ((double) p->cmds_after_live / mine > w->res->load_ratio)
            w->res->load_ratio = (double) p->cmds_after_live / mine;
        if ((double) p->cmds_after_live > mine)
            fail(w, "load",
                 "p%d (%d election(s)) sent %llu commands in the last %.1f s "
                 "(ttl %lld, wait %lld, %llu forged notifications): at most "
                 "%.0f expected",
                 i, p->nmembers, (unsigned long long) p->cmds_after_live,
                 span_ms / 1000, (long long) w->ttl, (long long) w->wait,
                 (unsigned long long) w->hostile_after_live, mine);
    }
}

/* (10) At the end, every process with an election that listens (a
 * follower, the leader, an observer) holds a notification link on which
 * Redis has the channel subscribed, with a subscription for each: in
 * quorum mode, one on every server. */
static void check_subscribed(struct world *w)
{
    for (int i = 0; i < w->nproc; i++) {
        struct proc *p = &w->proc[i];
        int listening = 0;
        if (!p->alive)
            continue;
        for (int j = 0; j < p->nmembers; j++) {
            struct elect *e = &w->el[p->members[j]];
            enum lc_state st =
                e->slot != NULL ? lc_state(lio_slot_core(e->slot)) : LC_IDLE;
            listening +=
                st == LC_FOLLOWER || st == LC_LEADER || st == LC_OBSERVER;
        }
        for (int x = 0; x < (w->nservers > 1 ? w->nservers : 1); x++) {
            unsigned n = w->nservers > 1 ? (unsigned) w->nservers : 1;
            struct conn *cn = link_conn(p, lio_sub_link(n, (unsigned) x));
            if (listening > 0 && (cn == NULL || !cn->ready || !cn->subscribed ||
                                  cn->ntags < listening))
                fail(w, "session",
                     "p%d: %d election(s) listen, but its notification link "
                     "to server %d is %s",
                     i, listening, x,
                     cn == NULL        ? "down"
                     : !cn->ready      ? "still opening"
                     : !cn->subscribed ? "not subscribed"
                                       : "missing subscriptions");
        }
    }
}

int sim_run(const struct sim_options *opt, uint64_t seed,
            struct sim_result *res, FILE *out)
{
    struct world *w = calloc(1, sizeof *w);
    struct event ev;

    if (w == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        exit(2);
    }
    memset(res, 0, sizeof *res);
    w->opt = opt;
    w->res = res;
    w->trace = opt->trace;
    w->out = out;
    world_init(w, opt, seed);
    TRACE(w, -1,
          "seed %llu: %d candidates, %d observers, %d processes, ttl %lld, "
          "wait %lld, delay %lld..%lld us, slow %.3f, break %.4f",
          (unsigned long long) seed, w->k, w->nobs, w->nproc,
          (long long) w->ttl, (long long) w->wait, (long long) w->dmin_us,
          (long long) w->dmax_us, w->p_slow, w->p_break);
    while (!res->failed) {
        struct proc *next = NULL;
        int64_t t = w->nheap > 0 ? w->heap[0].t : SIM_NEVER;

        for (int i = 0; i < w->nproc; i++) {
            if (w->ticks[i] < t) {
                t = w->ticks[i];
                next = &w->proc[i];
            }
        }
        if (t > w->t_end)
            break;
        if (t > w->now) /* a paused process' overdue tick runs now */
            w->now = t;
        if (next != NULL) {
            tick(w, next);
            continue;
        }
        pop(w, &ev);
        switch (ev.type) {
        case EV_TO_REDIS:
            on_redis(w, &ev);
            break;
        case EV_TO_CLIENT:
            on_client(w, &ev);
            break;
        case EV_REDIS_STEP:
            on_redis_step(w, &ev);
            break;
        case EV_BREAK:
            break_conn(w, ev.conn, ev.flag);
            break;
        case EV_FAULT:
            on_fault(w, &ev);
            break;
        case EV_REPL:
            on_repl(w, &ev);
            break;
        case EV_GOSSIP:
            on_gossip(w, &ev);
            break;
        }
    }
    if (!res->failed && w->t_end > w->now)
        w->now = w->t_end;
    if (!res->failed && w->live_leader >= 0 &&
        !w->el[w->live_leader].app_leader)
        fail(w, "liveness", "%s no longer leads at the end",
             elect_id(&w->el[w->live_leader]));
    for (int i = w->k; i < w->nelect && !res->failed; i++)
        if (w->proc[w->el[i].proc].alive)
            check_observer_live(w, &w->el[i]);
    if (!res->failed && w->live_leader >= 0) {
        check_load(w);
        check_subscribed(w);
    }
    if (!res->failed)
        check_bystanders(w);
    res->virtual_s = (double) (res->failed ? w->now : w->t_end) / 1e6;
    res->steps = w->steps;
    if (res->failed)
        dump_trace(w);
    world_free(w);
    free(w);
    return res->failed;
}
