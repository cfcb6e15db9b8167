/* SPDX-License-Identifier: BSD-3-Clause */
/* test_secrets.c - the Redis password apart from the URL: from
 * LEADER_REDIS_PASSWORD or the first line of --redis-password-file (a file
 * group and others cannot read, as ssh wants its keys), and never shown:
 * not in logs, errors, --json output or the command line (ps). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

#define SECRET "s3cr3t-Pa55word"

static void plain_url(const rfx_server *s, char *out, size_t len)
{
    snprintf(out, len, "redis://127.0.0.1:%d", rfx_port(s));
}

/* Writes text to dir/name with mode; returns the path in out. */
static void write_file(const cli_tmp *t, const char *name, const char *text,
                       mode_t mode, char *out, size_t len)
{
    int fd;

    cli_path(t, name, out, len);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    ASSERT_OK(chmod(out, mode));
}

static int status(const char *url, const char *a, const char *b, int json,
                  char *out, size_t outlen, char *err, size_t errlen)
{
    const char *argv[] = {
        LEADER_BIN,      "status",   "--redis",           url,
        "--key",         "cli-test", json ? "--json" : a, json ? a : b,
        json ? b : NULL, NULL};

    return cli_capture(argv, out, outlen, err, errlen, 10000);
}

TEST(password_from_the_environment)
{
    rfx_server *s = cli_start_redis(0, SECRET);
    char url[128], out[1024], err[1024];

    plain_url(s, url, sizeof url);
    ASSERT_EQ(status(url, NULL, NULL, 0, out, sizeof out, err, sizeof err), 3);
    ASSERT_NOT_NULL(strstr(err, "NOAUTH"));
    setenv("LEADER_REDIS_PASSWORD", SECRET, 1);
    ASSERT_EQ(status(url, NULL, NULL, 1, out, sizeof out, err, sizeof err), 1);
    ASSERT_NULL(strstr(out, SECRET));
    /* The environment wins over the URL's password. */
    {
        char with[160];
        snprintf(with, sizeof with, "redis://:wrong@127.0.0.1:%d", rfx_port(s));
        ASSERT_EQ(status(with, NULL, NULL, 0, out, sizeof out, err, sizeof err),
                  1);
    }
    setenv("LEADER_REDIS_PASSWORD", "not-" SECRET, 1);
    ASSERT_EQ(status(url, NULL, NULL, 0, out, sizeof out, err, sizeof err), 3);
    ASSERT_NOT_NULL(strstr(err, "WRONGPASS"));
    ASSERT_NULL(strstr(err, SECRET));
    unsetenv("LEADER_REDIS_PASSWORD");
    rfx_free(s);
}

TEST(password_file_is_read_like_ssh_reads_a_key)
{
    rfx_server *s = cli_start_redis(0, SECRET);
    char url[128], out[1024], err[1024], path[512];
    cli_tmp t;

    cli_tmp_init(&t);
    plain_url(s, url, sizeof url);
    write_file(&t, "pw", SECRET "\nsecond line\n", 0600, path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              1);
    write_file(&t, "pw-crlf", SECRET "\r\n", 0400, path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              1);
    /* The file wins over the environment. */
    setenv("LEADER_REDIS_PASSWORD", "wrong", 1);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              1);
    unsetenv("LEADER_REDIS_PASSWORD");
    /* Refused, exit 2, with the reason and never the password. */
    write_file(&t, "pw-644", SECRET "\n", 0644, path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "too open"));
    ASSERT_NULL(strstr(err, SECRET));
    write_file(&t, "pw-640", SECRET "\n", 0640, path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "too open"));
    write_file(&t, "pw-empty", "\nlater\n", 0600, path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "first line"));
    cli_path(&t, "missing", path, sizeof path);
    ASSERT_EQ(status(url, "--redis-password-file", path, 0, out, sizeof out,
                     err, sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "No such file"));
    ASSERT_EQ(status(url, "--redis-password-file", t.dir, 0, out, sizeof out,
                     err, sizeof err),
              2);
    ASSERT_NOT_NULL(strstr(err, "not a regular file"));
    cli_tmp_free(&t);
    rfx_free(s);
}

/* Whether /proc/pid/cmdline holds needle. */
static int cmdline_has(pid_t pid, const char *needle)
{
    char path[64], buf[8192];
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

TEST(run_never_shows_the_password)
{
    rfx_server *s = cli_start_redis(0, SECRET);
    char url[128], opts[700], path[512], log[512], out[1024], err[1024];
    char with[160];
    cli_tmp t;
    pid_t a, b;

    cli_counter_from_zero(s);
    cli_tmp_init(&t);
    plain_url(s, url, sizeof url);
    write_file(&t, "pw", SECRET "\n", 0600, path, sizeof path);
    snprintf(opts, sizeof opts, "--ttl 2000 -v --redis-password-file %s", path);
    a = cli_candidate(&t, url, "secret-a", opts, "");
    ASSERT_GT(cli_wait_child(&t, "secret-a", 0, 5000, NULL), 0);
    ASSERT(!cmdline_has(a, SECRET));
    /* A password in the URL works, and is shown as ***. */
    snprintf(with, sizeof with, "redis://:%s@127.0.0.1:%d", SECRET,
             rfx_port(s));
    b = cli_candidate(&t, with, "secret-b", "--ttl 2000 -v", "");
    cli_sleep_ms(300);
    setenv("LEADER_REDIS_PASSWORD", SECRET, 1);
    ASSERT_EQ(status(url, NULL, NULL, 1, out, sizeof out, err, sizeof err), 0);
    ASSERT_NULL(strstr(out, SECRET));
    ASSERT_NULL(strstr(err, SECRET));
    unsetenv("LEADER_REDIS_PASSWORD");
    ASSERT_EQ(cli_stop(a), 0);
    ASSERT_GT(cli_wait_child(&t, "secret-b", 0, 3000, NULL), 0);
    ASSERT_EQ(cli_stop(b), 0);
    cli_path(&t, "secret-a.log", log, sizeof log);
    ASSERT(!cli_file_has(log, SECRET));
    cli_path(&t, "secret-b.log", log, sizeof log);
    ASSERT(!cli_file_has(log, SECRET));
    ASSERT(cli_file_has(log, "***"));
    cli_tmp_free(&t);
    rfx_free(s);
}
