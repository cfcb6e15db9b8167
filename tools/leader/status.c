/* SPDX-License-Identifier: BSD-3-Clause */
/* status.c - `leader status`: who leads an election, in one round trip.
 * Exit 0 someone leads, 1 nobody, 2 bad usage, 3 Redis unreachable or
 * error. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <leader.h>

#include "cli.h"
#include "opts.h"

static void print_json(const struct cli_opts *o, const leader_info *info,
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
        printf("%lld", info->lease_left_ms);
    else
        fputs("null", stdout);
    /* The slack is the holder key's ttl, as watch --json has it; its age
     * is not in Redis (nothing records when a term began), so unknown. */
    fputs(",\"lease_slack_ms\":", stdout);
    if (leads && info->lease_left_ms >= 0)
        printf("%lld", info->lease_left_ms);
    else
        fputs("null", stdout);
    fputs(",\"holder_age_ms\":null}\n", stdout);
}

static void print_text(const struct cli_opts *o, const leader_info *info,
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

static int query(const struct cli_opts *o)
{
    leader_options lo;
    leader_info info;
    char err[256], url[DISPLAY_URL_MAX];
    leader *l;
    int rc;

    leader_options_init(&lo);
    cli_connection_options(o, &lo);
    lo.key = o->key;
    l = leader_new(&lo, err, sizeof err);
    if (l == NULL)
        return usage_error("status", "%s", err);
    memset(&info, 0, sizeof info);
    rc = leader_current(l, &info);
    if (rc < 0) {
        const char *detail = leader_errmsg(l);

        display_url(o, url, sizeof url);
        if (*detail != '\0' && strcmp(detail, leader_strerror(rc)) != 0)
            fprintf(stderr, "leader status: %s: %s: %s\n", url,
                    leader_strerror(rc), detail);
        else
            fprintf(stderr, "leader status: %s: %s\n", url,
                    leader_strerror(rc));
        leader_free(l);
        return EXIT_REDIS;
    }
    leader_free(l);
    if (o->json)
        print_json(o, &info, rc == 1);
    else
        print_text(o, &info, rc == 1);
    return rc == 1 ? 0 : 1;
}

int cmd_status(int argc, char **argv)
{
    struct cli_opts o;
    int rc;

    rc = cli_parse(CMD_STATUS, argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    return query(&o);
}
