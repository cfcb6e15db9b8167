/* SPDX-License-Identifier: BSD-3-Clause */
/* test_harness.c - tests of the test harness itself: that a failing assert,
 * a crash, a skip and a hang are each reported as such, with the right exit
 * status, and that the run goes on after them. The deliberate failures are
 * hidden tests (victim_*) that the visible tests run in a fresh copy of this
 * program.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the deliberate failures ------------------------------------------ */

TEST_HIDDEN(victim_pass)
{
    ASSERT_EQ(2, 2);
}

TEST_HIDDEN(victim_assert_eq)
{
    int two = 1 + 1;

    ASSERT_EQ(two, 3);
}

TEST_HIDDEN(victim_assert)
{
    ASSERT(1 > 2);
}

TEST_HIDDEN(victim_ok)
{
    ASSERT_OK(-3);
}

TEST_HIDDEN(victim_str_null)
{
    ASSERT_STR_EQ(NULL, "text");
}

TEST_HIDDEN(victim_str)
{
    ASSERT_STR_EQ("left", "right");
}

TEST_HIDDEN(victim_not_null)
{
    const char *p = NULL;

    ASSERT_NOT_NULL(p);
}

TEST_HIDDEN(victim_fail)
{
    FAIL("custom message %d", 42);
}

TEST_HIDDEN(victim_abort)
{
    abort();
}

TEST_HIDDEN(victim_skip)
{
    SKIP("not here: %s", "reason");
}

TEST_HIDDEN(victim_seed)
{
    printf("seed=%llu\n", (unsigned long long) harness_seed());
}

/* Hangs, with a helper process in its group that records its pid in
 * $HARNESS_VICTIM_PIDFILE, so the caller can check the helper is killed
 * with it. */
TEST_HIDDEN(victim_hang)
{
    const char *pidfile = getenv("HARNESS_VICTIM_PIDFILE");
    pid_t helper = fork();

    ASSERT_NE(helper, -1);
    if (helper == 0) {
        for (int i = 0; i < 600; i++)
            sleep(1);
        _exit(0);
    }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");

        ASSERT_NOT_NULL(f);
        fprintf(f, "%d\n", (int) helper);
        fclose(f);
    }
    for (int i = 0; i < 600; i++)
        sleep(1);
}

/* ---- running a copy of this program --------------------------------- */

struct run {
    int status; /* wait status */
    char out[16384];
};

/* Runs this program with args (NULL-terminated), collecting stdout and
 * stderr; waits at most 30 s. */
static void run_self(struct run *r, const char *const *args)
{
    const char *argv[32];
    int fds[2];
    size_t len = 0;
    int n = 0;
    pid_t pid;

    argv[n++] = "test_harness";
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    ASSERT_OK(pipe2(fds, O_CLOEXEC));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ASSERT_NE(pid, -1);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execv("/proc/self/exe", (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    for (int waited = 0; waited < 30000;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ssize_t got;

        if (poll(&p, 1, 100) == 0) {
            waited += 100;
            continue;
        }
        got = read(fds[0], r->out + len, sizeof r->out - 1 - len);
        if (got <= 0)
            break;
        len += (size_t) got;
    }
    r->out[len] = '\0';
    close(fds[0]);
    kill(pid, SIGKILL); /* no-op unless it hung past 30 s */
    ASSERT_EQ(waitpid(pid, &r->status, 0), pid);
}

static int exit_status(const struct run *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* 1 once pid has exited, polling up to ms. A killed process may stay a
 * zombie when its parent is gone and pid 1 does not reap: that counts. */
static int pid_gone_within(int pid, int ms)
{
    struct timespec step = {0, 10 * 1000000L};

    for (int waited = 0; waited <= ms; waited += 10) {
        char path[64], buf[256];
        char *p = NULL;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (f == NULL)
            return 1;
        if (fgets(buf, sizeof buf, f))
            p = strrchr(buf, ')');
        fclose(f);
        if (p && p[1] == ' ' && p[2] == 'Z')
            return 1;
        nanosleep(&step, NULL);
    }
    return 0;
}

#define ASSERT_OUTPUT_HAS(r, text)                                             \
    do {                                                                       \
        if (strstr((r)->out, (text)) == NULL)                                  \
            FAIL("output lacks \"%s\"; it was:\n%s", (text), (r)->out);        \
    } while (0)

/* ---- the tests ------------------------------------------------------- */

TEST(comparisons_pass_when_true)
{
    unsigned int big = 4000000000u;
    const char *null = NULL;

    ASSERT(1);
    ASSERT_EQ(-1, -1);
    ASSERT_NE(1, 2);
    ASSERT_LT(1, 2);
    ASSERT_LE(2, 2);
    ASSERT_GT(big, 1);
    ASSERT_GE(big, 4000000000LL);
    ASSERT_OK(0);
    ASSERT_STR_EQ("a", "a");
    ASSERT_STR_EQ(null, NULL);
    ASSERT_NULL(null);
    ASSERT_NOT_NULL("x");
}

TEST(pass_is_reported_ok)
{
    static const char *const args[] = {"--only", "victim_pass", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 0);
    ASSERT_OUTPUT_HAS(&r, "ok victim_pass");
    ASSERT_OUTPUT_HAS(&r, "# 1 passed, 0 failed, 0 skipped");
}

TEST(failed_asserts_print_location_and_values)
{
    static const struct {
        const char *victim, *text;
    } cases[] = {
        {"victim_assert_eq", "two == 3 (2 == 3)"},
        {"victim_assert", "ASSERT(1 > 2)"},
        {"victim_ok", "-3 returned -3, expected 0"},
        {"victim_str_null", "left:  NULL"},
        {"victim_str", "right: \"right\""},
        {"victim_not_null", "p is NULL"},
        {"victim_fail", "custom message 42"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[] = {"--only", cases[i].victim, NULL};
        struct run r;

        run_self(&r, args);
        ASSERT_EQ(exit_status(&r), 1);
        ASSERT_OUTPUT_HAS(&r, "test_harness.c:");
        ASSERT_OUTPUT_HAS(&r, cases[i].text);
        ASSERT_OUTPUT_HAS(&r, "FAIL ");
    }
}

TEST(crash_fails_only_that_test)
{
    static const char *const args[] = {"--only", "victim_abort", "--only",
                                       "victim_pass", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 1);
    ASSERT_OUTPUT_HAS(&r, "FAIL victim_abort: killed by signal 6");
    ASSERT_OUTPUT_HAS(&r, "ok victim_pass");
    ASSERT_OUTPUT_HAS(&r, "# 1 passed, 1 failed, 0 skipped");
}

TEST(skip_exits_77_only_when_all_skip)
{
    static const char *const one[] = {"--only", "victim_skip", NULL};
    static const char *const mixed[] = {"--only", "victim_skip", "--only",
                                        "victim_pass", NULL};
    struct run r;

    run_self(&r, one);
    ASSERT_EQ(exit_status(&r), 77);
    ASSERT_OUTPUT_HAS(&r, "skipped: not here: reason");
    ASSERT_OUTPUT_HAS(&r, "skip victim_skip");

    run_self(&r, mixed);
    ASSERT_EQ(exit_status(&r), 0);
    ASSERT_OUTPUT_HAS(&r, "# 1 passed, 0 failed, 1 skipped");
}

TEST(timeout_kills_the_test_process_group)
{
    static const char *const args[] = {"--only", "victim_hang", "--timeout",
                                       "1", NULL};
    char pidfile[] = "/tmp/leader-harness-test.XXXXXX";
    struct timespec t0, t1;
    int fd = mkstemp(pidfile);
    int helper = 0;
    struct run r;
    FILE *f;

    ASSERT_NE(fd, -1);
    close(fd);
    setenv("HARNESS_VICTIM_PIDFILE", pidfile, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_self(&r, args);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ASSERT_EQ(exit_status(&r), 1);
    ASSERT_OUTPUT_HAS(&r, "FAIL victim_hang: timed out after 1 s");
    ASSERT_LT(t1.tv_sec - t0.tv_sec, 10);

    f = fopen(pidfile, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fscanf(f, "%d", &helper), 1);
    fclose(f);
    unlink(pidfile);
    ASSERT_GT(helper, 0);
    /* The helper was killed with the group. */
    if (!pid_gone_within(helper, 2000))
        FAIL("helper pid %d of the hung test is still alive", helper);
}

TEST(seed_is_printed_and_replayed)
{
    static const char *const args[] = {"--only", "victim_seed", "--seed",
                                       "12345", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 0);
    ASSERT_OUTPUT_HAS(&r, "# seed 12345 (replay with --seed 12345)");
    ASSERT_OUTPUT_HAS(&r, "seed=12345");
}

TEST(list_shows_visible_tests_only)
{
    static const char *const args[] = {"--list", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 0);
    ASSERT_OUTPUT_HAS(&r, "list_shows_visible_tests_only\n");
    ASSERT_NULL(strstr(r.out, "victim_"));
}

TEST(filter_selects_by_substring)
{
    static const char *const args[] = {"--filter", "comparisons_pass", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 0);
    ASSERT_OUTPUT_HAS(&r, "ok comparisons_pass_when_true");
    ASSERT_OUTPUT_HAS(&r, "# 1 passed, 0 failed, 0 skipped");
}

TEST(unknown_test_name_is_an_error)
{
    static const char *const args[] = {"--only", "no_such_test", NULL};
    struct run r;

    run_self(&r, args);
    ASSERT_EQ(exit_status(&r), 1);
    ASSERT_OUTPUT_HAS(&r, "no test named no_such_test");
}
