/* SPDX-License-Identifier: BSD-3-Clause */
/* cli_util.c - see cli_util.h. */
#define _GNU_SOURCE
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "redis_fixture.h"

void cli_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&t, &t) == -1 && errno == EINTR)
        ;
}

void args_add(cli_args *a, ...)
{
    va_list ap;
    const char *s;

    va_start(ap, a);
    while ((s = va_arg(ap, const char *)) != NULL) {
        ASSERT_LT(a->n, 62);
        a->v[a->n++] = s;
    }
    a->v[a->n] = NULL;
    va_end(ap);
}

void cli_tmp_init(cli_tmp *t)
{
    const char *base = getenv("TMPDIR");

    snprintf(t->dir, sizeof t->dir, "%s/leader-cli-test.XXXXXX",
             base != NULL && *base ? base : "/tmp");
    ASSERT_NOT_NULL(mkdtemp(t->dir));
    snprintf(t->hb, sizeof t->hb, "%s/hb.log", t->dir);
}

void cli_tmp_free(cli_tmp *t)
{
    rfx_rmtree(t->dir);
}

void cli_path(const cli_tmp *t, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", t->dir, name);
}

pid_t cli_spawn(const char *const argv[], const char *out_path,
                const char *const env[])
{
    pid_t parent = getpid(), pid = fork();

    ASSERT_NE(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (out_path != NULL) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd == -1)
                _exit(127);
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *) env[i]);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

/* Splits s at spaces into a (the pieces point into s). */
static void add_words(cli_args *a, char *s)
{
    for (char *w = strtok(s, " "); w != NULL; w = strtok(NULL, " "))
        args_add(a, w, (const char *) NULL);
}

pid_t cli_candidate(const cli_tmp *t, const char *url, const char *id,
                    const char *opts, const char *hb_opts)
{
    return cli_candidate_env(t, url, id, opts, hb_opts, NULL);
}

pid_t cli_candidate_env(const cli_tmp *t, const char *url, const char *id,
                        const char *opts, const char *hb_opts,
                        const char *const env[])
{
    char out[320], o[512], h[512];
    cli_args a = {{0}, 0};

    snprintf(o, sizeof o, "%s", opts != NULL ? opts : "");
    snprintf(h, sizeof h, "%s", hb_opts != NULL ? hb_opts : "");
    snprintf(out, sizeof out, "%s/%s.log", t->dir, id);
    args_add(&a, LEADER_BIN, "run", "--redis", url, "--key", "cli-test", "--id",
             id, (const char *) NULL);
    add_words(&a, o);
    args_add(&a, "--", HEARTBEAT_BIN, t->hb, (const char *) NULL);
    add_words(&a, h);
    return cli_spawn(a.v, out, env);
}

static int exit_code(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int cli_wait(pid_t pid, int timeout_ms)
{
    int status;

    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return exit_code(status);
        if (r == -1)
            return -1;
        cli_sleep_ms(5);
    }
    return -1;
}

int cli_stop(pid_t pid)
{
    int code;

    kill(pid, SIGCONT);
    kill(pid, SIGTERM);
    code = cli_wait(pid, 5000);
    if (code == -1) {
        kill(pid, SIGKILL);
        code = cli_wait(pid, 5000);
    }
    return code;
}

/* Reads fd until EOF into buf (NUL-terminated, truncated). */
static void slurp(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t r;
    char sink[512];

    while ((r = read(fd, n + 1 < len ? buf + n : sink,
                     n + 1 < len ? len - 1 - n : sizeof sink)) > 0)
        if (n + 1 < len)
            n += (size_t) r;
    buf[n] = '\0';
}

int cli_capture(const char *const argv[], char *out, size_t outlen, char *err,
                size_t errlen, int timeout_ms)
{
    char opath[] = "/tmp/leader-cli-out.XXXXXX";
    char epath[] = "/tmp/leader-cli-err.XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath), code;
    pid_t pid;

    ASSERT(ofd >= 0 && efd >= 0);
    pid = fork();
    ASSERT_NE(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(ofd, STDOUT_FILENO);
        dup2(efd, STDERR_FILENO);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    code = cli_wait(pid, timeout_ms);
    if (code == -1) {
        kill(pid, SIGKILL);
        cli_wait(pid, 5000);
    }
    lseek(ofd, 0, SEEK_SET);
    lseek(efd, 0, SEEK_SET);
    slurp(ofd, out, outlen);
    slurp(efd, err, errlen);
    close(ofd);
    close(efd);
    unlink(opath);
    unlink(epath);
    return code;
}

int cli_alive(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the state follows the command name */
    return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

long long cli_wait_dead(pid_t pid, int timeout_ms)
{
    long long end = hb_now_us() + (long long) timeout_ms * 1000;

    while (hb_now_us() <= end) {
        if (!cli_alive(pid))
            return hb_now_us();
        cli_sleep_ms(2);
    }
    return -1;
}

pid_t cli_wait_child(const cli_tmp *t, const char *id, long long after_us,
                     int timeout_ms, long long *start_us)
{
    long long end = hb_now_us() + (long long) timeout_ms * 1000;
    char err[512];

    while (hb_now_us() <= end) {
        hb_log log;
        const hb_child *c;
        pid_t pid = -1;

        if (hb_read(t->hb, &log, err, sizeof err) != 0)
            FAIL("%s", err);
        c = hb_last_of(&log, id);
        if (c != NULL && c->start_us > after_us) {
            pid = c->pid;
            if (start_us != NULL)
                *start_us = c->start_us;
        }
        hb_free(&log);
        if (pid > 0)
            return pid;
        cli_sleep_ms(5);
    }
    return -1;
}

size_t cli_check_log(const cli_tmp *t)
{
    char err[600];
    hb_log log;
    size_t n;

    if (hb_read(t->hb, &log, err, sizeof err) != 0)
        FAIL("%s", err);
    if (hb_check(&log, err, sizeof err) != 0) {
        char *text = cli_read_file(t->hb);
        fprintf(stderr, "--- heartbeat log ---\n%.4000s\n", text);
        free(text);
        hb_free(&log);
        FAIL("%s", err);
    }
    n = log.n;
    hb_free(&log);
    return n;
}

char *cli_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL)
        return strdup("");
    buf = malloc(1);
    ASSERT_NOT_NULL(buf);
    for (;;) {
        char chunk[4096];
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n == 0)
            break;
        buf = realloc(buf, len + n + 1);
        ASSERT_NOT_NULL(buf);
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

int cli_file_has(const char *path, const char *needle)
{
    char *text = cli_read_file(path);
    int has = strstr(text, needle) != NULL;

    free(text);
    return has;
}

int cli_children_of(pid_t pid, pid_t *out, int max)
{
    char path[96];
    FILE *f;
    int n = 0, v;

    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) pid,
             (int) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (n < max && fscanf(f, "%d", &v) == 1)
        out[n++] = v;
    fclose(f);
    return n;
}

rfx_server *cli_start_redis(int persist, const char *password)
{
    rfx_options o = {.persist = persist, .password = password};
    rfx_server *s = NULL;

    RFX_SKIP_IF_UNAVAILABLE();
    for (int i = 0; i < 20 && s == NULL; i++) {
        o.port = 20000 + (int) ((getpid() * 7919u + i * 104729u) % 12000);
        s = rfx_start(&o);
    }
    ASSERT_NOT_NULL(s);
    return s;
}

void cli_counter_from_zero(rfx_server *s)
{
    char *r = rfx_command(s, "EVAL %s 0",
                          "return redis.call('SET', '{leader:' .. "
                          "redis.sha1hex('cli-test') .. '}:term', '0')");

    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(r, "OK");
    free(r);
}
