/* SPDX-License-Identifier: BSD-3-Clause */
/* test_abi.c - programs and libraries of different versions share the
 * versioned structures safely: an older program's smaller options and
 * leader_info, a newer program's larger ones (with a new option left
 * alone, or set), a structure never initialised, and the event's size.
 * The structures are allocated at their exact size, so that AddressSanitizer
 * catches any byte read or written beyond them. */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

/* leader_options as the first version laid it out. */
struct options_v1 {
    size_t struct_size;
    const char *url, *key, *id;
    long ttl_ms, wait_ms;
    int event_loop;
};

/* ...and as a later version might: one more field at the end. */
struct options_next {
    leader_options known;
    const char *a_newer_option;
};

/* leader_options and leader_client_options as they were before urls. */
struct options_before_urls {
    size_t struct_size;
    const char *url, *key, *id;
    long ttl_ms, wait_ms;
    int event_loop;
    const char *tls_ca_cert, *tls_ca_dir, *tls_cert, *tls_key;
    const char *tls_server_name;
    int tls_insecure;
    const char *password;
    long connect_timeout_ms, command_timeout_ms;
};

struct client_options_before_urls {
    size_t struct_size;
    const char *url;
    int event_loop;
    const char *tls_ca_cert, *tls_ca_dir, *tls_cert, *tls_key;
    const char *tls_server_name;
    int tls_insecure;
    const char *password;
};

/* leader_info as the first version laid it out. */
struct info_v1 {
    size_t struct_size;
    char id[256];
    uint64_t term;
    long long lease_left_ms;
};

static void *exactly(size_t size)
{
    void *p = malloc(size);

    ASSERT_NOT_NULL(p);
    memset(p, 0xa5, size);
    return p;
}

TEST(the_first_version_layout_is_this_one)
{
    /* Fields are only appended: the first version's are where they were. */
    ASSERT_EQ(offsetof(leader_options, event_loop),
              offsetof(struct options_v1, event_loop));
    ASSERT_EQ(offsetof(leader_info, lease_left_ms),
              offsetof(struct info_v1, lease_left_ms));
    ASSERT_EQ(offsetof(leader_options, struct_size), 0);
    ASSERT_EQ(offsetof(leader_event, struct_size), 0);
}

TEST(an_older_program_gets_defaults_for_what_it_lacks)
{
    struct options_v1 *o = exactly(sizeof *o);
    char err[256];
    leader *l;

    leader_options_init_size((leader_options *) o, sizeof *o);
    ASSERT_EQ(o->struct_size, sizeof *o);
    ASSERT_STR_EQ(o->key, "default");
    ASSERT_EQ(o->ttl_ms, 10000);
    o->url = "redis://127.0.0.1:1";
    o->key = "abi";
    l = leader_new((const leader_options *) o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    leader_free(l);
    free(o);
}

TEST(a_newer_program_is_refused_only_for_an_option_it_set)
{
    struct options_next *o = exactly(sizeof *o);
    char err[256];
    leader *l;

    leader_options_init_size(&o->known, sizeof *o);
    ASSERT_EQ(o->known.struct_size, sizeof *o);
    ASSERT(o->a_newer_option == NULL); /* init zeroes what it does not know */
    o->known.url = "redis://127.0.0.1:1";
    l = leader_new(&o->known, err, sizeof err);
    ASSERT_NOT_NULL(l);
    leader_free(l);
    o->a_newer_option = "on";
    ASSERT(leader_new(&o->known, err, sizeof err) == NULL);
    ASSERT(strstr(err, "does not know") != NULL);
    free(o);
}

TEST(a_program_from_before_urls_has_one_server)
{
    struct options_before_urls *o = exactly(sizeof *o);
    struct client_options_before_urls *co = exactly(sizeof *co);
    leader_client *c;
    char err[256];
    leader *l;

    /* The layouts are this header's up to urls. */
    ASSERT_EQ(sizeof *o, offsetof(leader_options, urls));
    ASSERT_EQ(sizeof *co, offsetof(leader_client_options, urls));
    leader_options_init_size((leader_options *) o, sizeof *o);
    ASSERT_EQ(o->struct_size, sizeof *o);
    o->url = "redis://127.0.0.1:1";
    l = leader_new((const leader_options *) o, err, sizeof err);
    ASSERT_NOT_NULL(l);
    leader_free(l);
    leader_client_options_init_size((leader_client_options *) co, sizeof *co);
    ASSERT_EQ(co->struct_size, sizeof *co);
    co->url = "redis://127.0.0.1:1";
    c = leader_client_new((const leader_client_options *) co, err, sizeof err);
    ASSERT_NOT_NULL(c);
    leader_client_free(c);
    free(co);
    free(o);
}

TEST(options_never_initialised_are_refused)
{
    leader_options o;
    leader_client_options co;
    char err[256];

    memset(&o, 0, sizeof o);
    o.key = "abi";
    ASSERT(leader_new(&o, err, sizeof err) == NULL);
    ASSERT(strstr(err, "leader_options_init()") != NULL);
    memset(&co, 0, sizeof co);
    ASSERT(leader_client_new(&co, err, sizeof err) == NULL);
    ASSERT(strstr(err, "leader_client_options_init()") != NULL);
    leader_options_init_size(&o, 3); /* too small to be any version */
    ASSERT_EQ(o.struct_size, 0);
}

TEST(leader_current_writes_nothing_past_the_callers_info)
{
    rfx_server *s = start_redis(NULL);
    struct info_v1 *old = exactly(sizeof *old);
    leader_info now;
    leader_options o;
    leader *l;

    leader_options_init(&o);
    o.url = rfx_url(s);
    o.key = "abi";
    l = leader_new(&o, NULL, 0);
    ASSERT_NOT_NULL(l);
    ASSERT_OK(leader_elect(l));
    for (int i = 0; i < 200 && !leader_has_lease(l); i++)
        sleep_ms(10);
    ASSERT(leader_has_lease(l));
    ASSERT_EQ(leader_current_size(l, (leader_info *) old, sizeof *old), 1);
    ASSERT_EQ(old->struct_size, sizeof *old);
    ASSERT_STR_EQ(old->id, leader_id(l));
    ASSERT_EQ(old->term, leader_term(l));
    ASSERT_EQ(leader_current(l, &now), 1);
    ASSERT_EQ(now.struct_size, sizeof now);
    ASSERT_EQ(leader_current_size(l, &now, 8), LEADER_EINVAL);
    leader_free(l);
    free(old);
    rfx_free(s);
}

static void note_size(struct cand *c, const leader_event *ev)
{
    (void) c;
    ASSERT_EQ(ev->struct_size, sizeof(leader_event));
    ASSERT(LEADER_EVENT_HAS(ev, message));
}

TEST(events_carry_their_size)
{
    rfx_server *s = start_redis(NULL);
    struct world w;

    world_init(&w);
    w.hook = note_size;
    ASSERT_OK(leader_elect(world_add(&w, rfx_url(s), "abi", 1000, 100)->l));
    ASSERT_EQ(world_wait(&w, 0, LEADER_EVENT_ELECTED, 1, 5000), 1);
    world_free(&w);
    rfx_free(s);
}
