/* status.c - `leader status`: who leads an election, in one round trip.
 * Exit 0 someone leads, 1 nobody, 2 bad usage, 3 Redis unreachable or
 * error. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <leader.h>

#include "cli.h"

struct status_opts {
    const char *url;
    const char *key;
    int json;
};

/* Returns 0, 1 for --help (printed), or -1 after a usage error. */
static int parse_status(struct status_opts *o, int argc, char **argv)
{
    const char *v;
    int m;

    o->key = "default";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_status();
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if ((m = opt_value(argv, argc, &i, "status", "--redis", &v)) != 0) {
            if (m < 0)
                return -1;
            o->url = v;
            continue;
        }
        if ((m = opt_value(argv, argc, &i, "status", "--key", &v)) != 0) {
            if (m < 0)
                return -1;
            o->key = v;
            continue;
        }
        if (a[0] == '-')
            usage_error("status", "unknown option '%s'", a);
        else
            usage_error("status", "unexpected argument '%s'", a);
        return -1;
    }
    return 0;
}

static void print_json(const struct status_opts *o, const leader_info *info,
                       int leads)
{
    fputs("{\"key\":", stdout);
    json_string(o->key);
    fputs(",\"id\":", stdout);
    if (leads)
        json_string(info->id);
    else
        fputs("null", stdout);
    printf(",\"term\":%" PRIu64 ",\"lease_left_ms\":", info->term);
    if (leads)
        printf("%lld}\n", info->lease_left_ms);
    else
        fputs("null}\n", stdout);
}

static void print_text(const struct status_opts *o, const leader_info *info,
                       int leads)
{
    printf("key: %s\n", o->key);
    printf("id: %s\n", leads ? info->id : "(nobody leads)");
    printf("term: %" PRIu64 "\n", info->term);
    if (leads)
        printf("lease_left_ms: %lld\n", info->lease_left_ms);
    else
        printf("lease_left_ms: -\n");
}

static int query(const struct status_opts *o)
{
    leader_options lo;
    leader_info info;
    char err[256], url[600];
    leader *l;
    int rc;

    leader_options_init(&lo);
    lo.url = o->url;
    lo.key = o->key;
    l = leader_new(&lo, err, sizeof err);
    if (l == NULL)
        return usage_error("status", "%s", err);
    memset(&info, 0, sizeof info);
    rc = leader_current(l, &info);
    leader_free(l);
    if (rc < 0) {
        display_url(o->url, url, sizeof url);
        fprintf(stderr, "leader status: %s: %s\n", url, leader_strerror(rc));
        return EXIT_REDIS;
    }
    if (o->json)
        print_json(o, &info, rc == 1);
    else
        print_text(o, &info, rc == 1);
    return rc == 1 ? 0 : 1;
}

int cmd_status(int argc, char **argv)
{
    struct status_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    rc = parse_status(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    return query(&o);
}
