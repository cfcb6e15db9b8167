/* SPDX-License-Identifier: BSD-3-Clause */
/* harness.c - main() of every libleader test program: selects tests from the
 * table that TEST() fills, runs each in a forked child of its own process
 * group, enforces a timeout, and reports ok / FAIL / skip.
 *
 * Usage: PROG [--list] [--filter SUBSTR] [--only NAME]... [--seed N]
 *             [--timeout SEC] [--no-fork]
 *
 * --only NAME selects the test of exactly that name (hidden ones too) and
 * may be given several times; --filter selects the visible tests whose
 * name contains SUBSTR; neither runs all visible tests in the order they
 * were defined. --no-fork runs in the runner's process (for a debugger).
 *
 * Exit status: 0 when every selected test passed (or some passed and the
 * rest skipped), 77 when all of them were skipped, 1 otherwise.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS   1024
#define MAX_ONLY    32
#define SKIP_STATUS 77

struct test {
    const char *name;
    const char *file;
    harness_fn fn;
    int hidden;
};

static struct test tests[MAX_TESTS];
static int ntests;
static uint64_t run_seed;
static int timeout_sec = 120;

/* Set in the test process once it fails or skips; tells LeakSanitizer not
 * to add a leak report (of what the aborted test still held) to the real
 * failure. */
static volatile sig_atomic_t test_ended_early;

/* The child being run, for the runner's own signal handler. */
static volatile pid_t running_child;

int __lsan_is_turned_off(void);

/* LeakSanitizer calls this at exit when it is linked in. */
__attribute__((visibility("default"), used)) int __lsan_is_turned_off(void)
{
    return test_ended_early;
}

void harness_register(const char *name, const char *file, harness_fn fn,
                      int hidden)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
        exit(1);
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    tests[ntests].hidden = hidden;
    ntests++;
}

uint64_t harness_seed(void)
{
    return run_seed;
}

int harness_timeout(void)
{
    return timeout_sec;
}

int harness_str_eq_(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static _Noreturn void end_test(int status)
{
    test_ended_early = 1;
    fflush(stdout);
    /* exit(), not _exit(): atexit handlers (the Redis fixture's) must run. */
    exit(status);
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s:%d: failed: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    end_test(1);
}

void harness_fail_str(const char *file, int line, const char *expr_a,
                      const char *expr_b, const char *a, const char *b)
{
    fflush(stdout);
    fprintf(stderr, "%s:%d: failed: %s == %s\n", file, line, expr_a, expr_b);
    fprintf(stderr, "  left:  %s%s%s\n", a ? "\"" : "", a ? a : "NULL",
            a ? "\"" : "");
    fprintf(stderr, "  right: %s%s%s\n", b ? "\"" : "", b ? b : "NULL",
            b ? "\"" : "");
    end_test(1);
}

void harness_skip(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s:%d: skipped: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    end_test(SKIP_STATUS);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* The runner was told to stop: take the running test's process group down
 * with it, then die of the same signal. */
static void on_runner_signal(int sig)
{
    pid_t child = running_child;

    if (child > 0)
        kill(-child, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static _Noreturn void run_in_child(const struct test *t, pid_t runner)
{
    /* A group of its own, so that the runner can kill everything the test
     * started; and death with the runner, so that nothing outlives a killed
     * run. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != runner)
        _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    t->fn();
    fflush(stdout);
    exit(0);
}

/* Waits for the test child; returns its wait status, or -1 on timeout. */
static int wait_child(pid_t pid)
{
    int64_t deadline = now_ms() + (int64_t) timeout_sec * 1000;
    int nap = 1;
    int status;

    for (;;) {
        siginfo_t info;

        /* WNOWAIT leaves the child a zombie, which keeps its process group
         * id from being reused while we kill what is left in the group. */
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) ==
                0 &&
            info.si_pid == pid)
            break;
        if (now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
                ;
            return -1;
        }
        sleep_ms(nap);
        if (nap < 20)
            nap *= 2;
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    return status;
}

/* Runs one test; returns 0 (passed), SKIP_STATUS or 1 (failed). */
static int run_one(const struct test *t, int fork_it)
{
    int64_t start = now_ms();
    pid_t runner = getpid();
    pid_t pid;
    int status;
    int result;

    if (!fork_it) {
        t->fn();
        printf("ok %s\n", t->name);
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == -1) {
        perror("harness: fork");
        return 1;
    }
    if (pid == 0)
        run_in_child(t, runner);
    /* Also here, so that a kill of the group can not miss it. */
    setpgid(pid, pid);
    running_child = pid;
    status = wait_child(pid);
    running_child = 0;

    if (status == -1) {
        printf("FAIL %s: timed out after %d s (test process group killed)\n",
               t->name, timeout_sec);
        result = 1;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %s (%" PRId64 " ms)\n", t->name, now_ms() - start);
        result = 0;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
        printf("skip %s\n", t->name);
        result = SKIP_STATUS;
    } else if (WIFEXITED(status)) {
        printf("FAIL %s: exit status %d\n", t->name, WEXITSTATUS(status));
        result = 1;
    } else {
        printf("FAIL %s: killed by signal %d (%s)\n", t->name, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
        result = 1;
    }
    fflush(stdout);
    return result;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--list] [--filter SUBSTR] [--only NAME]... [--seed N]\n"
            "          [--timeout SEC] [--no-fork]\n",
            prog);
}

static uint64_t default_seed(void)
{
    const char *env = getenv("LEADER_TEST_SEED");
    struct timespec ts;

    if (env != NULL && *env != '\0')
        return strtoull(env, NULL, 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec) ^
           ((uint64_t) getpid() << 32);
}

static const char *only[MAX_ONLY];
static int nonly;

static int selected(const struct test *t, const char *filter)
{
    if (nonly > 0) {
        for (int i = 0; i < nonly; i++)
            if (strcmp(t->name, only[i]) == 0)
                return 1;
        return 0;
    }
    if (t->hidden)
        return 0;
    return filter == NULL || strstr(t->name, filter) != NULL;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int list = 0, fork_it = 1;
    int passed = 0, failed = 0, skipped = 0;
    int have_seed = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--no-fork") == 0) {
            fork_it = 0;
        } else if (strcmp(a, "--filter") == 0 && v != NULL) {
            filter = v;
            i++;
        } else if (strcmp(a, "--only") == 0 && v != NULL && nonly < MAX_ONLY) {
            only[nonly++] = v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v != NULL) {
            run_seed = strtoull(v, NULL, 0);
            have_seed = 1;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && v != NULL) {
            timeout_sec = atoi(v);
            if (timeout_sec <= 0) {
                usage(argv[0]);
                return 1;
            }
            i++;
        } else {
            usage(argv[0]);
            return 1;
        }
    }

    if (list) {
        for (int i = 0; i < ntests; i++)
            if (!tests[i].hidden)
                printf("%s\n", tests[i].name);
        return 0;
    }
    /* A name CTest asks for must exist: a TEST the CMake scan saw but the
     * compiler did not (inside #if 0, say) is an error, not a pass. */
    for (int k = 0; k < nonly; k++) {
        int found = 0;

        for (int i = 0; i < ntests && !found; i++)
            found = strcmp(tests[i].name, only[k]) == 0;
        if (!found) {
            fprintf(stderr, "harness: no test named %s\n", only[k]);
            return 1;
        }
    }
    if (!have_seed)
        run_seed = default_seed();
    printf("# seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n", run_seed,
           run_seed);

    signal(SIGINT, on_runner_signal);
    signal(SIGTERM, on_runner_signal);
    signal(SIGHUP, on_runner_signal);

    for (int i = 0; i < ntests; i++) {
        int r;

        if (!selected(&tests[i], filter))
            continue;
        r = run_one(&tests[i], fork_it);
        if (r == 0)
            passed++;
        else if (r == SKIP_STATUS)
            skipped++;
        else
            failed++;
    }

    if (passed + failed + skipped == 0) {
        fprintf(stderr, "harness: no test matches %s\n",
                nonly    ? only[0]
                : filter ? filter
                         : "(all)");
        return 1;
    }
    printf("# %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed > 0)
        return 1;
    return passed == 0 ? SKIP_STATUS : 0;
}
