/* SPDX-License-Identifier: BSD-3-Clause */
/* test_usage.c - every bad usage of `leader` exits 2 with one line on
 * stderr that names the problem and points to --help; --help and
 * --version exit 0. No Redis is needed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leader.h>

#include "cli_util.h"
#include "harness.h"

/* Runs leader with the arguments (NULL-terminated) and checks a usage
 * error mentioning `reason`. */
static void bad(const char *reason, ...)
{
    cli_args a = {{0}, 0};
    char out[2048], err[2048];
    const char *s;
    va_list ap;
    int code;

    args_add(&a, LEADER_BIN, (const char *) NULL);
    va_start(ap, reason);
    while ((s = va_arg(ap, const char *)) != NULL)
        args_add(&a, s, (const char *) NULL);
    va_end(ap);
    code = cli_capture(a.v, out, sizeof out, err, sizeof err, 5000);
    if (code != 2 || strstr(err, reason) == NULL ||
        strstr(err, "--help") == NULL || strchr(err, '\n') == NULL ||
        strchr(err, '\n')[1] != '\0' || out[0] != '\0')
        FAIL("leader %s ...: exit %d, stderr \"%s\", stdout \"%s\" (wanted "
             "exit 2 and one line with \"%s\")",
             a.n > 1 ? a.v[1] : "", code, err, out, reason);
}

TEST(bad_usage_exits_2_with_one_line)
{
    bad("no subcommand", NULL);
    bad("unknown subcommand 'bogus'", "bogus", NULL);
    bad("unknown option '--bogus'", "--bogus", NULL);
    bad("no command to run", "run", NULL);
    bad("no command to run", "run", "--", NULL);
    bad("no command to run", "run", "--ttl", "500", NULL);
    bad("--ttl needs a value", "run", "--ttl", NULL);
    bad("'abc' is not a duration", "run", "--ttl", "abc", "--", "true", NULL);
    bad("'-5' is not a duration", "run", "--ttl", "-5", "--", "true", NULL);
    bad("' 5' is not a duration", "run", "--ttl", " 5", "--", "true", NULL);
    bad("'5 s' is not a duration", "run", "--ttl", "5 s", "--", "true", NULL);
    bad("'5sec' is not a duration", "run", "--ttl=5sec", "--", "true", NULL);
    bad("'1.5s' is not a duration", "run", "--ttl=1.5s", "--", "true", NULL);
    bad("out of range", "run", "--ttl=5ms", "--", "true", NULL);
    bad("'2d' is not a duration", "run", "--ttl=2d", "--", "true", NULL);
    bad("out of range", "run", "--ttl=25h", "--", "true", NULL);
    bad("out of range", "run", "--timeout", "0", "--", "true", NULL);
    bad("'soon' is not a duration", "run", "--timeout", "soon", "--", "true",
        NULL);
    bad("out of range", "run", "--ttl", "5", "--", "true", NULL);
    bad("out of range", "run", "--ttl", "99999999999999999999999", "--", "true",
        NULL);
    bad("out of range", "run", "--wait", "86400001", "--", "true", NULL);
    bad("'x' is not a duration", "run", "--wait", "x", "--", "true", NULL);
    bad("'' is not a duration", "run", "--grace=", "--", "true", NULL);
    bad("must be less than --ttl", "run", "--ttl", "1000", "--grace", "1000",
        "--", "true", NULL);
    bad("must be less than --ttl", "run", "--grace", "20000", "--", "true",
        NULL);
    bad("must be at most half of --ttl", "run", "--ttl", "3000", "--grace",
        "2500", "--", "true", NULL);
    bad("must be at most half of --ttl", "run", "--grace", "5001", "--", "true",
        NULL);
    bad("-q and -v", "run", "-q", "-v", "--", "true", NULL);
    bad("'xml' is neither text nor json", "run", "--log-format", "xml", "--",
        "true", NULL);
    bad("'' is neither text nor json", "run", "--log-format=", "--", "true",
        NULL);
    bad("--log-format needs a value", "run", "--log-format", NULL);
    bad("out of range", "run", "--max-hold", "0", "--", "true", NULL);
    bad("'1 h' is not a duration", "run", "--max-hold", "1 h", "--", "true",
        NULL);
    bad("unknown option '--max-hold'", "watch", "--max-hold", "1s", NULL);
    bad("out of range (1..1000)", "run", "--health-failures", "0", "--", "true",
        NULL);
    bad("'2x' is not a whole number", "run", "--health-failures", "2x", "--",
        "true", NULL);
    bad("'-1' is not a whole number", "run", "--health-failures=-1", "--",
        "true", NULL);
    bad("out of range", "run", "--health-interval", "5", "--", "true", NULL);
    bad("must be at most --health-interval", "run", "--health-cmd", "true",
        "--health-interval", "1s", "--health-timeout", "2s", "--", "true",
        NULL);
    bad("--health-cmd is empty", "run", "--health-cmd", "", "--", "true", NULL);
    bad("--metrics-listen", "run", "--metrics-listen", "nonsense", "--", "true",
        NULL);
    bad("unknown option '--metrics-listen'", "status", "--metrics-listen",
        "127.0.0.1:9100", NULL);
    bad("unknown option '--log-format'", "status", "--log-format", "json",
        NULL);
    bad("unknown option '--frob'", "run", "--frob", "--", "true", NULL);
    bad("unknown option '-x'", "run", "-x", "--", "true", NULL);
    bad("--redis needs a value", "run", "--redis", NULL);
    bad("--key needs a value", "run", "--key", NULL);
    bad("--id needs a value", "run", "--id", NULL);
    bad("--grace needs a value", "run", "--grace", NULL);
    bad("leader run:", "run", "--redis", "http://127.0.0.1", "--", "true",
        NULL);
    bad("leader run:", "run", "--redis", "redis://127.0.0.1:99999", "--",
        "true", NULL);
    bad("leader run:", "run", "--id", "has space", "--", "true", NULL);
    bad("leader run:", "run", "--key", "", "--", "true", NULL);
    bad("--redis given 2 times: quorum mode needs an odd number of servers",
        "status", "--redis", "redis://a", "--redis", "redis://b", NULL);
    bad("unexpected argument 'x'", "status", "x", NULL);
    bad("unknown option '--frob'", "status", "--frob", NULL);
    bad("--redis needs a value", "status", "--redis", NULL);
    bad("--key needs a value", "status", "--key", NULL);
    bad("leader status:", "status", "--redis", "bogus://x", NULL);
    bad("unknown option '--ttl'", "status", "--ttl", "1s", NULL);
    bad("unknown option '-n'", "watch", "-n", NULL);
    bad("'1x' is not a duration", "watch", "--wait", "1x", NULL);
}

TEST(timeouts_out_of_range_are_bad_usage)
{
    bad("out of range", "run", "--connect-timeout", "0", "--", "true", NULL);
    bad("out of range", "run", "--connect-timeout=61s", "--", "true", NULL);
    bad("'x' is not a duration", "status", "--command-timeout", "x", NULL);
    bad("out of range", "watch", "--command-timeout", "2m", NULL);
    bad("--command-timeout (1001) must be at most a third of --ttl (3000)",
        "run", "--ttl", "3s", "--command-timeout", "1001ms", "--", "true",
        NULL);
    bad("--command-timeout (3334) must be at most a third of --ttl (10000)",
        "run", "--command-timeout", "3334", "--", "true", NULL);
    setenv("LEADER_COMMAND_TIMEOUT", "0", 1);
    bad("LEADER_COMMAND_TIMEOUT: 0 is out of range", "status", NULL);
    unsetenv("LEADER_COMMAND_TIMEOUT");
    setenv("LEADER_CONNECT_TIMEOUT", "2h", 1);
    bad("LEADER_CONNECT_TIMEOUT: 2h is out of range", "watch", NULL);
    unsetenv("LEADER_CONNECT_TIMEOUT");
}

/* Environment defaults are checked like flags, and a flag wins. */
TEST(environment_defaults)
{
    setenv("LEADER_TTL", "abc", 1);
    bad("LEADER_TTL: 'abc' is not a duration", "run", "--", "true", NULL);
    setenv("LEADER_TTL", "3s", 1);
    bad("--grace (2500) must be at most half of --ttl (3000)", "run", "--grace",
        "2500", "--", "true", NULL);
    bad("--grace (2500) must be at most half of --ttl (4000)", "run", "--ttl",
        "4s", "--grace", "2500ms", "--", "true", NULL);
    unsetenv("LEADER_TTL");
    setenv("LEADER_WAIT", "25h", 1);
    bad("LEADER_WAIT: 25h is out of range", "watch", NULL);
    unsetenv("LEADER_WAIT");
    setenv("LEADER_KEY", "", 1);
    bad("--key needs a value", "status", "--key", NULL); /* "" is unset */
}

static void good(const char *expect, const char *a1, const char *a2)
{
    const char *argv[] = {LEADER_BIN, a1, a2, NULL};
    char out[8192], err[1024];

    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 5000), 0);
    if (strstr(out, expect) == NULL)
        FAIL("leader %s %s: stdout \"%s\" lacks \"%s\"", a1, a2 ? a2 : "", out,
             expect);
    ASSERT_STR_EQ(err, "");
}

TEST(help_and_version_exit_0)
{
    char version[64];

    good("usage: leader run", "--help", NULL);
    good("usage: leader run", "-h", NULL);
    good("usage: leader run [--redis URL]", "run", "--help");
    good("--grace DURATION", "run", "-h");
    good("--timeout DURATION", "run", "-h");
    good("-n, --no-wait", "run", "-h");
    good("LEADER_TTL", "run", "-h");
    good("--connect-timeout DURATION", "run", "-h");
    good("LEADER_COMMAND_TIMEOUT", "run", "-h");
    good("--command-timeout", "status", "-h");
    good("--connect-timeout", "watch", "-h");
    good("LEADER_KEY", "status", "-h");
    good("LEADER_WAIT", "watch", "-h");
    good("usage: leader status", "status", "--help");
    good("Exit status: 0 someone leads", "status", "-h");
    snprintf(version, sizeof version, "leader %s\n", leader_version());
    good(version, "--version", NULL);
}

TEST(command_not_found_exits_127)
{
    const char *argv[] = {LEADER_BIN, "run",
                          "--redis",  "redis://127.0.0.1:1",
                          "--",       "/nonexistent/leader-test-cmd",
                          NULL};
    const char *argv2[] = {LEADER_BIN, "run",
                           "--redis",  "redis://127.0.0.1:1",
                           "--",       "leader-no-such-command-anywhere",
                           NULL};
    char out[1024], err[1024];

    ASSERT_EQ(cli_capture(argv, out, sizeof out, err, sizeof err, 5000), 127);
    ASSERT(strstr(err, "command not found") != NULL);
    ASSERT_EQ(cli_capture(argv2, out, sizeof out, err, sizeof err, 5000), 127);
}
