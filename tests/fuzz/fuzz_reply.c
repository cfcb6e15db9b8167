/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_reply.c - bytes from a hostile or broken server, through hiredis'
 * reader and into the election core, as the reply to an acquire, to a
 * renewal, or as a notification. The core must never elect unless the
 * reply really says so, and never crash.
 *
 * The first byte picks what the core awaits; the rest is what the server
 * sent. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/lc_core.h"
#include "fuzz.h"
#include "io/lio_conn.h"
#include "leader.h"

enum { AWAIT_ACQUIRE, AWAIT_RENEW, NOTIFY_FOLLOWER, NOTIFY_LEADER, MODES };

static struct lc_output outbuf;

static const struct lc_output *feed(struct lc_core *c, enum lc_input_kind k,
                                    lc_time now)
{
    struct lc_input in = {.kind = k, .now = now};
    return lc_step(c, &in, &outbuf);
}

static void check_events(const struct lc_output *o, int may_elect,
                         uint64_t term)
{
    for (int i = 0; i < o->nevents; i++) {
        const struct lc_event *ev = &o->events[i];
        if (ev->kind == LC_EV_ELECTED && (!may_elect || ev->term != term))
            fuzz_fail("ELECTED that the reply did not grant");
        if (ev->kind == LC_EV_ERROR && ev->error >= 0)
            fuzz_fail("ERROR without a code");
        if (ev->message == NULL || memchr(ev->message, 0, LC_MSG_MAX) == NULL)
            fuzz_fail("event message not terminated");
    }
}

/* A core with a command in flight: an acquire, or (leader) a renewal. */
static uint64_t prepare(struct lc_core *c, int leading)
{
    struct lc_config cfg = {"me", 3000, 1000, 7, 0, 0};
    struct lc_value el[2] = {{.type = LC_VAL_INT, .integer = 1},
                             {.type = LC_VAL_INT, .integer = 5}};
    struct lc_value won = {.type = LC_VAL_ARRAY, .elem = el, .n = 2};
    struct lc_input in = {
        .kind = LC_IN_REPLY, .now = 20, .seq = 1, .value = &won};

    lc_init(c, &cfg);
    feed(c, LC_IN_START, 10);
    feed(c, LC_IN_CONNECTED, 10);
    if (!leading)
        return 1;
    lc_step(c, &in, &outbuf);
    feed(c, LC_IN_TICK, 1010); /* sends the renewal, seq 2 */
    return 2;
}

/* A core's memory: lc_core_size() bytes, aligned for any type. */
static union {
    max_align_t align;
    unsigned char bytes[2048];
} core_mem;

static struct lc_core *fresh_core(void)
{
    if (lc_core_size() > sizeof core_mem.bytes)
        abort();
    return (struct lc_core *) core_mem.bytes;
}

static void feed_reply(int mode, const redisReply *r)
{
    struct lc_core *c = fresh_core();
    struct lc_value v, elems[LIO_MAX_ELEMS];
    struct lc_acquire_result res;
    uint64_t seq = prepare(c, mode == AWAIT_RENEW);
    struct lc_input in = {.kind = LC_IN_REPLY, .now = 1020, .seq = seq};
    int won;

    lio_reply_to_value(r, &v, elems);
    in.value = &v;
    won = mode == AWAIT_ACQUIRE && lc_decode_acquire(&v, &res) == 0 && res.won;
    check_events(lc_step(c, &in, &outbuf), won, won ? res.term : 0);
    check_events(feed(c, LC_IN_TICK, 100000), 0, 0);
}

static void feed_notify(int mode, const uint8_t *data, size_t size)
{
    struct lc_core *c = fresh_core();
    struct lc_input in = {.kind = LC_IN_NOTIFY,
                          .now = 1020,
                          .text = (const char *) data,
                          .len = size};

    prepare(c, mode == NOTIFY_LEADER);
    check_events(lc_step(c, &in, &outbuf), 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *reader;
    void *reply = NULL;
    int mode;

    if (size < 1)
        return 0;
    mode = data[0] % MODES;
    if (mode == NOTIFY_FOLLOWER || mode == NOTIFY_LEADER) {
        feed_notify(mode, data + 1, size - 1);
        return 0;
    }
    reader = redisReaderCreate();
    if (reader == NULL)
        return 0;
    lio_limit_reader(reader); /* as on the library's connections */
    redisReaderFeed(reader, (const char *) data + 1, size - 1);
    while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
        feed_reply(mode, reply);
        freeReplyObject(reply);
        reply = NULL;
    }
    redisReaderFree(reader);
    return 0;
}
