/* SPDX-License-Identifier: BSD-3-Clause */
/* test_quorum.c - `--redis` given several times (quorum mode) in run,
 * status and watch: a count other than 1, 3, 5 or 7 is bad usage (exit 2,
 * one line), in $LEADER_REDIS_URL too; three are taken, and `leader
 * status` answers by the majority of the servers once the library runs a
 * quorum (until then the library's refusal is checked and the rest
 * skipped). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "harness.h"
#include "leader_int.h"
#include "redis_fixture.h"

#define U "redis://127.0.0.1:7001"

/* Runs leader with the arguments (NULL-terminated); the exit code, and
 * stdout and stderr in out and err. */
static int run(char *out, size_t outlen, char *err, size_t errlen, ...)
{
    cli_args a = {{0}, 0};
    const char *s;
    va_list ap;

    args_add(&a, LEADER_BIN, (const char *) NULL);
    va_start(ap, errlen);
    while ((s = va_arg(ap, const char *)) != NULL)
        args_add(&a, s, (const char *) NULL);
    va_end(ap);
    return cli_capture(a.v, out, outlen, err, errlen, 10000);
}

static void usage_error_with(int code, const char *err, const char *out,
                             const char *reason)
{
    if (code != 2 || strstr(err, reason) == NULL ||
        strstr(err, "--help") == NULL || strchr(err, '\n') == NULL ||
        strchr(err, '\n')[1] != '\0' || out[0] != '\0')
        FAIL("exit %d, stderr \"%s\", stdout \"%s\" (wanted exit 2 and one "
             "line with \"%s\")",
             code, err, out, reason);
}

TEST(redis_given_an_even_number_of_times_or_more_than_7_is_bad_usage)
{
    char out[2048], err[2048];
    int code;

    code = run(out, sizeof out, err, sizeof err, "status", "--redis", U,
               "--redis", U, NULL);
    usage_error_with(code, err, out,
                     "leader status: --redis given 2 times: quorum mode needs "
                     "an odd number of servers, 3 to 7: got 2");
    code = run(out, sizeof out, err, sizeof err, "watch", "--redis", U,
               "--redis=" U, "--redis", U, "--redis", U, NULL);
    usage_error_with(code, err, out, "leader watch: --redis given 4 times");
    code = run(out, sizeof out, err, sizeof err, "run", "--redis", U, "--redis",
               U, "--", "true", NULL);
    usage_error_with(code, err, out, "leader run: --redis given 2 times");
    code = run(out, sizeof out, err, sizeof err, "run", "--redis", U, "--redis",
               U, "--redis", U, "--redis", U, "--redis", U, "--redis", U,
               "--redis", U, "--redis", U, "--", "true", NULL);
    usage_error_with(code, err, out, "got 8");
    code = run(out, sizeof out, err, sizeof err, "run", "--redis", U, "--redis",
               U, "--redis", U, "--redis", U, "--redis", U, "--redis", U,
               "--redis", U, "--redis", U, "--redis", U, "--", "true", NULL);
    usage_error_with(code, err, out, "got 9");
}

TEST(env_list_of_an_even_count_is_bad_usage)
{
    char out[2048], err[2048];
    int code;

    setenv("LEADER_REDIS_URL", U " " U, 1);
    code = run(out, sizeof out, err, sizeof err, "status", NULL);
    usage_error_with(code, err, out,
                     "quorum mode needs an odd number of servers, 3 to 7: got "
                     "2");
    code = run(out, sizeof out, err, sizeof err, "run", "--", "true", NULL);
    usage_error_with(code, err, out, "got 2");
}

TEST(a_sentinel_among_several_is_bad_usage)
{
    char out[2048], err[2048];
    int code;

    code =
        run(out, sizeof out, err, sizeof err, "status", "--redis", U, "--redis",
            "redis-sentinel://127.0.0.1:26379#m", "--redis", U, NULL);
    usage_error_with(code, err, out,
                     "quorum mode over sentinels is not supported");
}

struct three {
    rfx_server *s[3];
    char holder[64];
};

static void start_three(struct three *t)
{
    RFX_SKIP_IF_UNAVAILABLE();
    for (int i = 0; i < 3; i++) {
        t->s[i] = rfx_start(NULL);
        ASSERT_NOT_NULL(t->s[i]);
    }
}

static void free_three(struct three *t)
{
    for (int i = 0; i < 3; i++)
        rfx_free(t->s[i]);
}

/* The holder key of election cli-quorum, as the library names it. */
static void holder_key(rfx_server *s, char *out, size_t len)
{
    leader_options o;
    char err[256];
    leader *l;

    leader_options_init(&o);
    o.url = rfx_url(s);
    o.key = "cli-quorum";
    l = leader_new(&o, err, sizeof err);
    if (l == NULL)
        FAIL("leader_new: %s", err);
    snprintf(out, len, "%s", leader_key(l));
    leader_free(l);
}

static int status3(struct three *t, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    return run(out, outlen, err, errlen, "status", "--key", "cli-quorum",
               "--redis", rfx_url(t->s[0]), "--redis", rfx_url(t->s[1]),
               "--redis", rfx_url(t->s[2]), NULL);
}

TEST(redis_given_3_times_is_taken_and_status_answers_by_majority)
{
    struct three t;
    char out[2048], err[2048];
    int code;

    start_three(&t);
    code = status3(&t, out, sizeof out, err, sizeof err);
    if (!lp_quorum_available()) {
        /* The command took the three; the library refuses them. */
        if (code != 2 || strstr(err, LP_QUORUM_UNAVAILABLE) == NULL ||
            strstr(err, "odd number") != NULL)
            FAIL("exit %d, stderr \"%s\"", code, err);
        free_three(&t);
        SKIP("%s: the rest needs it", LP_QUORUM_UNAVAILABLE);
    }
    if (code != 1 || strstr(out, "id: (nobody leads)") == NULL)
        FAIL("nobody leads: exit %d, stdout \"%s\", stderr \"%s\"", code, out,
             err);
    holder_key(t.s[0], t.holder, sizeof t.holder);
    for (int i = 0; i < 2; i++)
        free(rfx_command(t.s[i], "SET %s x PX 60000", t.holder));
    code = status3(&t, out, sizeof out, err, sizeof err);
    if (code != 0 || strstr(out, "id: x\n") == NULL)
        FAIL("x on two of three: exit %d, stdout \"%s\", stderr \"%s\"", code,
             out, err);
    /* Two servers down: no majority answers. */
    ASSERT_OK(rfx_stop(t.s[0]));
    ASSERT_OK(rfx_stop(t.s[2]));
    code = status3(&t, out, sizeof out, err, sizeof err);
    if (code != 3 || strstr(err, "2 of 3 servers did not answer") == NULL)
        FAIL("two down: exit %d, stderr \"%s\"", code, err);
    free_three(&t);
}

TEST(run_logs_each_url_redacted)
{
    static const char *const pw = "quorum-secret";
    rfx_options ro = {0};
    rfx_server *s[3];
    char out[4096], err[4096], want[512];
    int code;

    RFX_SKIP_IF_UNAVAILABLE();
    ro.password = pw;
    for (int i = 0; i < 3; i++) {
        s[i] = rfx_start(&ro);
        ASSERT_NOT_NULL(s[i]);
    }
    code = run(out, sizeof out, err, sizeof err, "run", "--timeout", "2s",
               "--redis", rfx_url(s[0]), "--redis", rfx_url(s[1]), "--redis",
               rfx_url(s[2]), "--", "true", NULL);
    if (strstr(err, pw) != NULL || strstr(out, pw) != NULL)
        FAIL("the password shows: stderr \"%s\"", err);
    if (!lp_quorum_available()) {
        if (code != 2 || strstr(err, LP_QUORUM_UNAVAILABLE) == NULL)
            FAIL("exit %d, stderr \"%s\"", code, err);
        for (int i = 0; i < 3; i++)
            rfx_free(s[i]);
        SKIP("%s: the rest needs it", LP_QUORUM_UNAVAILABLE);
    }
    snprintf(want, sizeof want,
             "on redis://:***@127.0.0.1:%d redis://:***@127.0.0.1:%d "
             "redis://:***@127.0.0.1:%d",
             rfx_port(s[0]), rfx_port(s[1]), rfx_port(s[2]));
    if (strstr(err, want) == NULL && strstr(out, want) == NULL)
        FAIL("no \"%s\" in the log: stderr \"%s\"", want, err);
    for (int i = 0; i < 3; i++)
        rfx_free(s[i]);
}
