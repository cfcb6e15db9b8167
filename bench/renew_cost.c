/* SPDX-License-Identifier: BSD-3-Clause */
/* renew_cost.c - what one renewal of a leader costs Redis, in each form a
 * renewal can take, on one private server: Redis' own CPU time (INFO cpu)
 * per renewal, over N elections that one client renews ROUNDS times,
 * pipelined as a client holding many elections sends them. The forms:
 *   - libleader's batch renewal (src/io/lio_proto.c, the library's own
 *     script and argument vector, LIO_BATCH_DEFAULT elections per call);
 *   - libleader's RENEW script, one call per election (a leader_new handle);
 *   - node-leader's renewal: GET, then PEXPIRE;
 *   - two floors: the batch call with the same arguments and a body that
 *     runs no command (what a script call and its arguments cost), and a
 *     bare PEXPIRE (the least one command costs);
 *   - SET holder id IFEQ id PX ttl, then GET of the term counter, where the
 *     server knows SET's IFEQ (Valkey 8.1).
 * Each form runs three times, in turn with the others; the median is
 * printed, with how many renewals the server confirmed (a form that does
 * not check or extend is no measure). Not a test: figures only.
 *
 * Usage: bench-renew-cost [ROUNDS]   (default 5; the server is
 * redis-server, or LEADER_REDIS_SERVER) */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "io/lio_proto.h"
#include "io/lio_session.h"
#include "leader.h"
#include "redis_fixture.h"

#define N        10000
#define TTL_TEXT "600000"
#define ID       "host-4711-6f1c2b9e"
#define PIPELINE 1000 /* commands in flight, as one client's buffer */
#define PASSES   3

enum form { F_BATCH, F_SCRIPT, F_NODE, F_EMPTY, F_PEXPIRE, F_IFEQ, NFORMS };

static const char *const form_name[NFORMS] = {
    "libleader, batch renewal",       "libleader, one script call each",
    "node-leader: GET, then PEXPIRE", "floor: the batch call, no command run",
    "floor: one bare PEXPIRE",        "SET IFEQ, then GET of the counter",
};

/* Commands a form sends per election (0: a batch carries the election). */
static const int form_cmds[NFORMS] = {0, 1, 2, 0, 1, 2};

static const char *const empty_body = "local r = {}\n"
                                      "for i = 1, #KEYS / 2 do r[i] = 1 end\n"
                                      "return r\n";

static struct lio_names names[N];
static char terms[N][24];
static char empty_sha[41];
static struct lio_shas shas;

static void die(const char *what)
{
    fprintf(stderr, "bench-renew-cost: %s\n", what);
    exit(1);
}

/* Counts a reply's confirmations: 1, OK, or arrays of them; the holder
 * read back as the id, or the counter as election i's term, count too. */
static long confirmed(const redisReply *r, int i)
{
    long n = 0;

    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer == 1;
    if (r->type == REDIS_REPLY_STATUS)
        return strcmp(r->str, "OK") == 0;
    if (r->type == REDIS_REPLY_STRING)
        return strcmp(r->str, ID) == 0 ||
               (i >= 0 && strcmp(r->str, terms[i]) == 0);
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t k = 0; k < r->elements; k++)
            n += confirmed(r->element[k], -1);
    return n;
}

/* Reads the replies of the commands in flight; returns confirmations, or
 * -1 after an error reply. who[k]: the election a reply's term is of. */
static long drain(redisContext *c, int *who, int *inflight)
{
    long ok = 0;

    for (int k = 0; k < *inflight; k++) {
        redisReply *r;

        if (redisGetReply(c, (void **) &r) != REDIS_OK || r == NULL)
            die("the server is gone");
        if (r->type == REDIS_REPLY_ERROR)
            ok = -1;
        else if (ok >= 0)
            ok += confirmed(r, who[k]);
        freeReplyObject(r);
    }
    *inflight = 0;
    return ok;
}

static void append(redisContext *c, int argc, const char **argv,
                   const size_t *lens)
{
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
        die("out of memory");
}

/* The batch renewal of elections [i, i + n), with the library's vector;
 * sha replaced by another script's digest for the floor. */
static void append_batch(redisContext *c, int i, int n, const char *sha)
{
    static struct lio_batch_argv a;
    struct lio_batch_item it[LIO_BATCH_MAX];

    for (int k = 0; k < n; k++) {
        it[k].names = &names[i + k];
        it[k].id = ID;
        it[k].term = strtoull(terms[i + k], NULL, 10);
        it[k].ttl_text = TTL_TEXT;
    }
    lio_argv_batch(&a, it, (size_t) n, lio_batch_sha(&shas));
    a.argv[1] = sha;
    a.lens[1] = strlen(sha);
    append(c, a.argc, a.argv, a.lens);
}

static void append_one(redisContext *c, enum form f, int i, int step)
{
    char tk[LIO_KEY_MAX];
    const char *h = names[i].holder_key;

    if (f == F_SCRIPT) {
        struct lio_argv a;

        lio_argv_script(&a, LC_CMD_RENEW, strtoull(terms[i], NULL, 10),
                        &names[i], ID, TTL_TEXT,
                        lio_sha_of(&shas, LC_CMD_RENEW));
        append(c, a.argc, a.argv, a.lens);
    } else if (f == F_NODE && step == 0) {
        redisAppendCommand(c, "GET %s", h);
    } else if (f == F_NODE || f == F_PEXPIRE) {
        redisAppendCommand(c, "PEXPIRE %s %s", h, TTL_TEXT);
    } else if (f == F_IFEQ && step == 0) {
        redisAppendCommand(c, "SET %s %s IFEQ %s PX %s", h, ID, ID, TTL_TEXT);
    } else {
        redisAppendCommand(c, "GET %s", lio_term_key(&names[i], tk));
    }
}

/* One round of form f over every election; confirmations, or -1. */
static long round_of(redisContext *c, enum form f)
{
    static int who[PIPELINE + 2];
    int inflight = 0;
    long ok = 0, got;

    for (int i = 0; i < N;) {
        if (f == F_BATCH || f == F_EMPTY) {
            int n = N - i < LIO_BATCH_DEFAULT ? N - i : LIO_BATCH_DEFAULT;
            append_batch(c, i, n,
                         f == F_BATCH ? lio_batch_sha(&shas) : empty_sha);
            who[inflight++] = -1;
            i += n;
        } else {
            for (int step = 0; step < form_cmds[f]; step++) {
                append_one(c, f, i, step);
                who[inflight++] = i;
            }
            i++;
        }
        if (inflight >= PIPELINE || i == N) {
            if ((got = drain(c, who, &inflight)) < 0)
                return -1;
            ok += got;
        }
    }
    return ok;
}

static double redis_cpu(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO cpu");
    double user = 0, sys = 0;
    const char *p;

    if (r == NULL || r->type != REDIS_REPLY_STRING)
        die("INFO failed");
    if ((p = strstr(r->str, "used_cpu_user:")) != NULL)
        user = atof(p + strlen("used_cpu_user:"));
    if ((p = strstr(r->str, "used_cpu_sys:")) != NULL)
        sys = atof(p + strlen("used_cpu_sys:"));
    freeReplyObject(r);
    return user + sys;
}

static void load_script(redisContext *c, const char *body, char *sha_out)
{
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", body);

    if (r == NULL || r->type != REDIS_REPLY_STRING)
        die("SCRIPT LOAD failed");
    if (sha_out != NULL)
        snprintf(sha_out, 41, "%s", r->str);
    freeReplyObject(r);
}

static void setup(redisContext *c)
{
    char hex[41], tk[LIO_KEY_MAX];
    int inflight = 0;
    static int who[2 * N];

    if (lio_shas_init(&shas) != 0)
        die("out of memory");
    load_script(c, lio_batch_body(), NULL);
    load_script(c, lio_script_body(LC_CMD_RENEW), NULL);
    load_script(c, empty_body, empty_sha);
    for (int i = 0; i < N; i++) {
        snprintf(hex, sizeof hex, "%040x", (unsigned) i * 2654435761u);
        lio_names_make(&names[i], hex);
        snprintf(terms[i], sizeof terms[i], "%lld", 1700000000000LL + i);
        redisAppendCommand(c, "SET %s %s PX %s", names[i].holder_key, ID,
                           TTL_TEXT);
        redisAppendCommand(c, "SET %s %s", lio_term_key(&names[i], tk),
                           terms[i]);
        who[inflight++] = -1;
        who[inflight++] = -1;
    }
    if (drain(c, who, &inflight) != 2L * N)
        die("cannot set the elections up");
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    double us[NFORMS][PASSES];
    long ok[NFORMS] = {0};
    rfx_server *s;
    redisContext *c;

    if (rounds < 1 || rfx_server_path() == NULL) {
        fprintf(stderr, "usage: bench-renew-cost [ROUNDS] (needs "
                        "redis-server)\n");
        return 2;
    }
    if ((s = rfx_start(NULL)) == NULL || (c = rfx_connect(s)) == NULL)
        die("cannot start redis-server");
    setup(c);
    for (int pass = 0; pass < PASSES; pass++)
        for (int f = 0; f < NFORMS; f++) {
            double cpu0 = redis_cpu(c);
            long got = 0;

            for (int r = 0; r < rounds && got >= 0; r++) {
                long n = round_of(c, (enum form) f);
                got = n < 0 ? -1 : got + n;
            }
            us[f][pass] = (redis_cpu(c) - cpu0) * 1e6 / ((double) rounds * N);
            ok[f] = got;
        }
    printf("%s, %d elections renewed %d times in each form, pipelined; "
           "Redis CPU per renewal, median of %d\n",
           rfx_server_path(), N, rounds, PASSES);
    printf("  %-40s %12s %12s\n", "form", "us/renewal", "confirmed");
    for (int f = 0; f < NFORMS; f++) {
        /* Confirmations per renewal: a bare PEXPIRE and node-leader's GET
         * confirm each command; the others once per renewal. */
        long want = (long) rounds * N * (f == F_NODE || f == F_IFEQ ? 2 : 1);

        qsort(us[f], PASSES, sizeof us[f][0], cmp);
        if (ok[f] < 0)
            printf("  %-40s %12s %12s\n", form_name[f], "-",
                   "not on this server");
        else
            printf("  %-40s %12.2f %11.0f%%\n", form_name[f], us[f][PASSES / 2],
                   100.0 * ok[f] / want);
    }
    redisFree(c);
    rfx_free(s);
    return 0;
}
