/* SPDX-License-Identifier: BSD-3-Clause */
/* test_timeouts.c - --connect-timeout and --command-timeout (and their
 * environment defaults) reach the library: `leader status` against a
 * server that accepts connections and stays silent gives up after the
 * time asked for, not the default's 2 s. (The connect timeout's effect is
 * tested on the library, tests/integration/test_timeouts.c.) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "harness.h"
#include "proxy_ctl.h"
#include "redis_fixture.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* leader status through a proxy that passes nothing; the exit status, and
 * its time in *took. */
static int silent_status(const char *flag, const char *value, int64_t *took,
                         char *err, size_t errlen)
{
    rfx_server *s;
    proxy_ctl p;
    char url[64], out[1024];
    const char *argv[] = {LEADER_BIN, "status", "--redis", url,
                          flag,       value,    NULL};
    int64_t t0;
    int code;

    RFX_SKIP_IF_UNAVAILABLE();
    s = rfx_start(NULL);
    ASSERT_NOT_NULL(s);
    ASSERT_OK(proxy_start(&p, rfx_port(s), 0));
    ASSERT_OK(proxy_blackhole(&p));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", p.port);
    t0 = now_ms();
    code = cli_capture(argv, out, sizeof out, err, errlen, 10000);
    *took = now_ms() - t0;
    proxy_stop(&p);
    rfx_free(s);
    return code;
}

/* The proxy accepts the connection at once: what hangs is the command. */
TEST(status_gives_up_after_the_command_timeout)
{
    char err[1024];
    int64_t took;

    ASSERT_EQ(
        silent_status("--command-timeout", "150ms", &took, err, sizeof err), 3);
    ASSERT(strstr(err, "did not answer in time") != NULL);
    ASSERT_GE(took, 150);
    ASSERT_LT(took, 1000);
    ASSERT_EQ(silent_status(NULL, NULL, &took, err, sizeof err), 3);
    ASSERT_GE(took, 2000); /* the default */
}

TEST(the_environment_gives_the_default)
{
    char err[1024];
    int64_t took;

    setenv("LEADER_COMMAND_TIMEOUT", "150ms", 1);
    ASSERT_EQ(silent_status(NULL, NULL, &took, err, sizeof err), 3);
    ASSERT_LT(took, 1000);
    /* A flag wins. */
    ASSERT_EQ(
        silent_status("--command-timeout", "1200ms", &took, err, sizeof err),
        3);
    ASSERT_GE(took, 1200);
    unsetenv("LEADER_COMMAND_TIMEOUT");
}
