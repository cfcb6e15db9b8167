/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_main.c - the command line of the simulator: which seeds to run, and
 * the summary. Exit status: 0 if every run held every invariant (or, with
 * --expect-violation, if a violation was found), 1 otherwise, 2 on bad
 * usage.
 */
#include "util/fmacros.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* Which core and session layer this binary links: the real ones, or ones
 * built with an LC_BREAK_* or LIO_BREAK_* switch (set by
 * tests/sim/CMakeLists.txt). */
#ifndef SIM_CORE_NAME
#define SIM_CORE_NAME "leader_session"
#endif

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void add_counts(struct sim_result *sum, const struct sim_result *r)
{
    sum->n.elected += r->n.elected;
    sum->n.lease_expired += r->n.lease_expired;
    sum->n.lost += r->n.lost;
    sum->n.crashes += r->n.crashes;
    sum->n.pauses += r->n.pauses;
    sum->n.partitions += r->n.partitions;
    sum->n.redis_restarts += r->n.redis_restarts;
    sum->n.data_losses += r->n.data_losses;
    sum->n.breaks += r->n.breaks;
    sum->n.stops += r->n.stops;
    sum->n.late_cmds += r->n.late_cmds;
    sum->n.noscript += r->n.noscript;
    sum->n.new_terms_asked += r->n.new_terms_asked;
    sum->n.new_terms += r->n.new_terms;
    sum->n.flushes += r->n.flushes;
    sum->n.script_flushes += r->n.script_flushes;
    sum->n.late_joiner_losses += r->n.late_joiner_losses;
    sum->n.seeded += r->n.seeded;
    sum->n.forged += r->n.forged;
    sum->n.pace_exceeded += r->n.pace_exceeded;
    sum->n.fanouts += r->n.fanouts;
    sum->n.pings += r->n.pings;
    sum->n.sub_opens += r->n.sub_opens;
    sum->n.changed += r->n.changed;
    sum->n.recreated += r->n.recreated;
    sum->n.grouped += r->n.grouped;
    sum->n.observed += r->n.observed;
    sum->n.stale_sends += r->n.stale_sends;
    sum->n.clusters += r->n.clusters;
    sum->n.reshards += r->n.reshards;
    sum->n.failovers += r->n.failovers;
    sum->n.lossy += r->n.lossy;
    sum->n.rollbacks += r->n.rollbacks;
    sum->n.moved += r->n.moved;
    sum->n.ask += r->n.ask;
    sum->n.tryagain += r->n.tryagain;
    sum->n.maps += r->n.maps;
    sum->n.fresh_held += r->n.fresh_held;
    sum->n.quorums += r->n.quorums;
    sum->n.qrestarts += r->n.qrestarts;
    sum->n.qempty += r->n.qempty;
    sum->n.qsnap += r->n.qsnap;
    sum->n.qpauses += r->n.qpauses;
    sum->n.qcuts += r->n.qcuts;
    sum->n.infos += r->n.infos;
    sum->n.commits += r->n.commits;
    sum->n.seed_below += r->n.seed_below;
    sum->n.by_runs += r->n.by_runs;
    sum->n.bystanders += r->n.bystanders;
    sum->n.batches += r->n.batches;
    sum->n.batched += r->n.batched;
    sum->n.batch_noscript += r->n.batch_noscript;
    sum->n.element_errors += r->n.element_errors;
    sum->n.by_elected += r->n.by_elected;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: sim [--seed N | --runs N [--first-seed S] | --soak SECONDS]\n"
        "           [--candidates K] [--minutes M] [--ttl MS] [--wait MS]\n"
        "           [--redis-break NAME] [--cluster auto|on|off]\n"
        "           [--servers 1|3|5|auto] [--bystanders auto|on|off]\n"
        "           [--expect-violation MAX_SEEDS] [--verbose] [--quiet]\n"
        "  --seed N       run one seed (and print its trace if it fails)\n"
        "  --runs N       run seeds S .. S+N-1 (default S = 1)\n"
        "  --soak SECONDS run seeds from a random start for that long\n"
        "  --candidates K 1..%d candidates (default: 2, 3 or 5 per seed)\n"
        "  --minutes M    virtual minutes per run (default 3)\n"
        "  --ttl, --wait  fix the lease and wait (default: per seed)\n"
        "  --redis-break  renew-nonatomic | renew-id-only |\n"
        "                 release-id-only | acquire-old-term | no-seed\n"
        "  --cluster      a Redis Cluster in 30 %% of the runs (auto, the\n"
        "                 default), in every run (on), or in none (off)\n"
        "  --servers      independent servers: 1 (the default), or a quorum\n"
        "                 of 3 or 5 (auto: 3 or 5 per seed); no Cluster then\n"
        "  --bystanders   elections of keys of their own beside the election,\n"
        "                 renewing in batches with it: in 40 %% of the runs\n"
        "                 on one server (auto), in every one (on), none (off)\n"
        "  --expect-violation N  succeed only if one of N seeds fails\n"
        "  --verbose      print the whole trace of each run\n",
        SIM_MAX_CAND);
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (s == NULL)
        return -1;
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_break(const char *s, enum sim_redis_break *b)
{
    for (int i = SIM_RB_NONE; i <= SIM_RB_NO_SEED; i++) {
        if (s != NULL && strcmp(s, sim_redis_break_name(i)) == 0) {
            *b = (enum sim_redis_break) i;
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct sim_options opt = {0, 3, -1, -1, -1, 1, SIM_RB_NONE, 0, -1};
    long long seed = -1, runs = 1, first = 1, soak = 0, expect = 0, v;
    int verbose = 0, quiet = 0, failed = 0, caught = 0;
    unsigned long long done = 0;
    double t0, virt = 0, elapsed;
    uint64_t steps = 0;
    struct sim_result sum;
    double worst_live = 0, worst_load = 0;
    unsigned long long worst_live_seed = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--seed") == 0)
            bad = parse_num(val, 0, INT64_MAX, &seed);
        else if (strcmp(a, "--runs") == 0)
            bad = parse_num(val, 1, INT64_MAX, &runs);
        else if (strcmp(a, "--first-seed") == 0)
            bad = parse_num(val, 0, INT64_MAX, &first);
        else if (strcmp(a, "--soak") == 0)
            bad = parse_num(val, 1, 86400 * 365, &soak);
        else if (strcmp(a, "--expect-violation") == 0)
            bad = parse_num(val, 1, INT64_MAX, &expect);
        else if (strcmp(a, "--candidates") == 0 &&
                 (bad = parse_num(val, 1, SIM_MAX_CAND, &v)) == 0)
            opt.candidates = (int) v;
        else if (strcmp(a, "--minutes") == 0 &&
                 (bad = parse_num(val, 1, 600, &v)) == 0)
            opt.minutes = (int) v;
        else if (strcmp(a, "--ttl") == 0 &&
                 (bad = parse_num(val, 10, 3600000, &v)) == 0)
            opt.ttl = (long) v;
        else if (strcmp(a, "--wait") == 0 &&
                 (bad = parse_num(val, 0, 3600000, &v)) == 0)
            opt.wait = (long) v;
        else if (strcmp(a, "--redis-break") == 0)
            bad = parse_break(val, &opt.redis_break);
        else if (strcmp(a, "--cluster") == 0 && val != NULL &&
                 (strcmp(val, "auto") == 0 || strcmp(val, "on") == 0 ||
                  strcmp(val, "off") == 0))
            opt.cluster = val[1] == 'u' ? -1 : val[1] == 'n';
        else if (strcmp(a, "--servers") == 0 && val != NULL &&
                 (strcmp(val, "auto") == 0 || strcmp(val, "1") == 0 ||
                  strcmp(val, "3") == 0 || strcmp(val, "5") == 0))
            opt.servers = val[0] == 'a' ? 0 : val[0] - '0';
        else if (strcmp(a, "--bystanders") == 0 && val != NULL &&
                 (strcmp(val, "auto") == 0 || strcmp(val, "on") == 0 ||
                  strcmp(val, "off") == 0))
            opt.bystanders = val[1] == 'u' ? -1 : val[1] == 'n';
        else
            bad = -1;
        if (bad) {
            fprintf(stderr, "sim: bad option %s %s\n", a, val ? val : "");
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (seed >= 0) {
        first = seed;
        runs = 1;
    } else if (soak > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Only the choice of the first seed reads a real clock. */
        first = (long long) (((uint64_t) ts.tv_sec * 1000003u) ^
                             (uint64_t) ts.tv_nsec) &
                0x7fffffffffffLL;
        runs = INT64_MAX - first;
        printf("soak: %lld s from seed %lld\n", soak, first);
    } else if (expect > 0) {
        runs = expect;
    }
    if (!quiet) {
        char k[16];
        snprintf(k, sizeof k, "%d", opt.candidates);
        printf("sim: %s, redis break %s, %s candidates, %d virtual "
               "min per run\n",
               SIM_CORE_NAME, sim_redis_break_name(opt.redis_break),
               opt.candidates > 0 ? k : "2/3/5", opt.minutes);
    }

    memset(&sum, 0, sizeof sum);
    t0 = wall_seconds();
    for (long long i = 0; i < runs; i++) {
        struct sim_result res;
        uint64_t s = (uint64_t) (first + i);

        opt.trace = verbose ? 2 : 0;
        sim_run(&opt, s, &res, stdout);
        done++;
        virt += res.virtual_s;
        steps += res.steps;
        add_counts(&sum, &res);
        if (res.live_ratio > worst_live) {
            worst_live = res.live_ratio;
            worst_live_seed = s;
        }
        if (res.load_ratio > worst_load)
            worst_load = res.load_ratio;
        if (res.failed) {
            failed++;
            if (expect > 0) {
                printf("caught after %llu seed(s): seed %llu, %s: %s\n", done,
                       (unsigned long long) s, res.kind, res.what);
                caught = 1;
                break;
            }
            printf("FAIL seed %llu (%s): %s\n", (unsigned long long) s,
                   res.kind, res.what);
            printf("  replay: %s --seed %llu", argv[0], (unsigned long long) s);
            if (opt.candidates > 0)
                printf(" --candidates %d", opt.candidates);
            if (opt.minutes != 3)
                printf(" --minutes %d", opt.minutes);
            if (opt.ttl >= 0)
                printf(" --ttl %ld", opt.ttl);
            if (opt.wait >= 0)
                printf(" --wait %ld", opt.wait);
            if (opt.redis_break != SIM_RB_NONE)
                printf(" --redis-break %s",
                       sim_redis_break_name(opt.redis_break));
            if (opt.cluster >= 0)
                printf(" --cluster %s", opt.cluster ? "on" : "off");
            if (opt.bystanders >= 0)
                printf(" --bystanders %s", opt.bystanders ? "on" : "off");
            if (opt.servers == 0)
                printf(" --servers auto");
            else if (opt.servers != 1)
                printf(" --servers %d", opt.servers);
            printf(" --verbose\n");
            if (!verbose) {
                /* Replay with the trace on: same seed, same run. */
                opt.trace = 1;
                sim_run(&opt, s, &res, stdout);
            }
        }
        if (soak > 0 && wall_seconds() - t0 >= (double) soak)
            break;
    }
    elapsed = wall_seconds() - t0;
    printf("runs %llu, failed %d, wall %.2f s, %.0f runs/s, %llu core "
           "steps, virtual %.1f h (%.0f virtual min per wall s)\n",
           done, failed, elapsed, (double) done / (elapsed > 0 ? elapsed : 1),
           (unsigned long long) steps, virt / 3600,
           virt / 60 / (elapsed > 0 ? elapsed : 1));
    if (!quiet)
        printf(
            "covered: %llu elections, %llu lease expiries, %llu "
            "take-overs, %llu crashes, %llu pauses, %llu partitions, "
            "%llu Redis restarts, %llu data losses (%llu by FLUSHALL, "
            "%llu with a follower that joined late), %llu broken "
            "connections, %llu stops, %llu late commands from closed "
            "connections, %llu NOSCRIPT (%llu SCRIPT FLUSHes), %llu new "
            "terms asked of leaders "
            "(%llu granted), %llu counters started from the clock (%llu "
            "with a term rate above the clock's), %llu forged "
            "notifications; slowest election after faults stopped: %.0f "
            "%% of the bound (seed %llu); busiest candidate after that: %.0f "
            "%% of the bound\n",
            (unsigned long long) sum.n.elected,
            (unsigned long long) sum.n.lease_expired,
            (unsigned long long) sum.n.lost, (unsigned long long) sum.n.crashes,
            (unsigned long long) sum.n.pauses,
            (unsigned long long) sum.n.partitions,
            (unsigned long long) sum.n.redis_restarts,
            (unsigned long long) sum.n.data_losses,
            (unsigned long long) sum.n.flushes,
            (unsigned long long) sum.n.late_joiner_losses,
            (unsigned long long) sum.n.breaks, (unsigned long long) sum.n.stops,
            (unsigned long long) sum.n.late_cmds,
            (unsigned long long) sum.n.noscript,
            (unsigned long long) sum.n.script_flushes,
            (unsigned long long) sum.n.new_terms_asked,
            (unsigned long long) sum.n.new_terms,
            (unsigned long long) sum.n.seeded,
            (unsigned long long) sum.n.pace_exceeded,
            (unsigned long long) sum.n.forged, worst_live * 100,
            worst_live_seed, worst_load * 100);
    if (!quiet)
        printf("session layer: %llu runs with several elections in a "
               "process, %llu with observers; %llu command links closed "
               "for all by one timeout, %llu notification links opened, "
               "%llu PINGs on them, %llu sends on a link not ready, %llu "
               "CHANGED reports, %llu elections freed and made again\n",
               (unsigned long long) sum.n.grouped,
               (unsigned long long) sum.n.observed,
               (unsigned long long) sum.n.fanouts,
               (unsigned long long) sum.n.sub_opens,
               (unsigned long long) sum.n.pings,
               (unsigned long long) sum.n.stale_sends,
               (unsigned long long) sum.n.changed,
               (unsigned long long) sum.n.recreated);
    if (!quiet && sum.n.clusters > 0)
        printf("cluster: %llu runs; %llu reshardings, %llu failovers (%llu "
               "to a replica lacking writes, %llu of them taking the counter "
               "back); %llu MOVED, %llu ASK, %llu TRYAGAIN; %llu slot maps "
               "asked for; %llu elections on a promoted master by candidates "
               "up before the failover (held to no overlap)\n",
               (unsigned long long) sum.n.clusters,
               (unsigned long long) sum.n.reshards,
               (unsigned long long) sum.n.failovers,
               (unsigned long long) sum.n.lossy,
               (unsigned long long) sum.n.rollbacks,
               (unsigned long long) sum.n.moved, (unsigned long long) sum.n.ask,
               (unsigned long long) sum.n.tryagain,
               (unsigned long long) sum.n.maps,
               (unsigned long long) sum.n.fresh_held);
    if (!quiet && sum.n.by_runs > 0)
        printf("batches: %llu runs with %llu bystanders (%llu elections of "
               "theirs); %llu batches of renewals ran (%llu renewals, %.1f a "
               "batch), %llu answered NOSCRIPT, %llu renewals answered with "
               "their own error\n",
               (unsigned long long) sum.n.by_runs,
               (unsigned long long) sum.n.bystanders,
               (unsigned long long) sum.n.by_elected,
               (unsigned long long) sum.n.batches,
               (unsigned long long) sum.n.batched,
               sum.n.batches > 0 ? (double) sum.n.batched / sum.n.batches : 0,
               (unsigned long long) sum.n.batch_noscript,
               (unsigned long long) sum.n.element_errors);
    if (!quiet && sum.n.quorums > 0)
        printf(
            "quorum: %llu runs; %llu server restarts (%llu empty, %llu "
            "from an older snapshot), %llu freezes, %llu partitions from "
            "some servers only, %llu INFO answered, %llu commits taken; "
            "%llu terms seeded below an earlier one by a clock behind "
            "(forgiven)\n",
            (unsigned long long) sum.n.quorums,
            (unsigned long long) sum.n.qrestarts,
            (unsigned long long) sum.n.qempty, (unsigned long long) sum.n.qsnap,
            (unsigned long long) sum.n.qpauses,
            (unsigned long long) sum.n.qcuts, (unsigned long long) sum.n.infos,
            (unsigned long long) sum.n.commits,
            (unsigned long long) sum.n.seed_below);
    if (expect > 0) {
        if (!caught)
            printf("NOT caught: no violation in %lld seeds\n", expect);
        return caught ? 0 : 1;
    }
    return failed ? 1 : 0;
}
