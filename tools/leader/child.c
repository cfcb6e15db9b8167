/* SPDX-License-Identifier: BSD-3-Clause */
/* child.c - see child.h. The watchdog starts the child as a clone that
 * shares the watchdog's memory until it execs (see start_child). Between
 * the clone and exec the child uses only async-signal-safe calls on a
 * stack of its own, so everything it needs (path, environment) is built
 * before, and it reports back through a close-on-exec pipe: EOF means the
 * exec succeeded. */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *const own_vars[] = {
    "LEADER_ID=", "LEADER_KEY=", "LEADER_REDIS_KEY=", "LEADER_TERM="};
#define N_OWN (sizeof own_vars / sizeof own_vars[0])

/* What the child writes to the report pipe when it does not exec. */
struct report {
    int result; /* enum spawn_result */
    int err;
};

static int is_executable_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           access(path, X_OK) == 0;
}

char *child_resolve(const char *cmd)
{
    const char *path = getenv("PATH"), *p;
    char *buf;
    size_t cap;

    if (cmd[0] == '\0') {
        errno = ENOENT;
        return NULL;
    }
    if (strchr(cmd, '/') != NULL) {
        if (access(cmd, F_OK) != 0)
            return NULL; /* errno: ENOENT and friends */
        if (!is_executable_file(cmd)) {
            errno = EACCES;
            return NULL;
        }
        return strdup(cmd);
    }
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    cap = strlen(path) + strlen(cmd) + 3;
    buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int len = (int) (end - p);

        /* An empty element means the current directory. */
        snprintf(buf, cap, "%.*s%s%s", len, p, len ? "/" : "./", cmd);
        if (is_executable_file(buf))
            return buf;
        if (*end == '\0')
            break;
        p = end;
    }
    free(buf);
    errno = ENOENT;
    return NULL;
}

static int is_own_var(const char *entry)
{
    for (size_t i = 0; i < N_OWN; i++)
        if (strncmp(entry, own_vars[i], strlen(own_vars[i])) == 0)
            return 1;
    return 0;
}

static void free_env(char **envp)
{
    if (envp == NULL)
        return;
    for (size_t i = 0; i < N_OWN; i++)
        free(envp[i]);
    free(envp);
}

/* Our environment without stale LEADER_* variables, plus the new ones
 * first. Only the first N_OWN strings are allocated here. */
static char **build_env(const struct child_env *e)
{
    size_t n = 0, k = N_OWN;
    char **envp;
    int ok = 1;

    while (environ[n] != NULL)
        n++;
    envp = calloc(n + N_OWN + 1, sizeof *envp);
    if (envp == NULL)
        return NULL;
    ok &= asprintf(&envp[0], "LEADER_ID=%s", e->id) >= 0;
    ok &= asprintf(&envp[1], "LEADER_KEY=%s", e->key) >= 0;
    ok &= asprintf(&envp[2], "LEADER_REDIS_KEY=%s", e->redis_key) >= 0;
    ok &= asprintf(&envp[3], "LEADER_TERM=%" PRIu64, e->term) >= 0;
    if (!ok) {
        /* asprintf leaves the pointer undefined on failure. */
        for (size_t i = 0; i < N_OWN; i++)
            envp[i] = NULL;
        free_env(envp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_own_var(environ[i]))
            envp[k++] = environ[i];
    envp[k] = NULL;
    return envp;
}

static _Noreturn void child_report(int fd, int result, int err)
{
    struct report r = {result, err};

    if (write(fd, &r, sizeof r) < 0)
        _exit(127);
    _exit(127);
}

/* Signals the watchdog ignores or blocks, back to their defaults for CMD:
 * dispositions set to SIG_IGN survive exec. */
static void default_signals(void)
{
    static const int sigs[] = {SIGINT,  SIGHUP,  SIGTERM, SIGQUIT, SIGTSTP,
                               SIGTTIN, SIGTTOU, SIGPIPE, SIGCHLD};
    sigset_t none;

    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The child between the clone and exec; never returns. Its parent, the
 * watchdog, guards it from the clone on. */
static _Noreturn void child_main(const char *path, char *const argv[],
                                 char **envp, const struct wd_page *page,
                                 int64_t margin_ms, pid_t parent, int rep)
{
    setpgid(0, 0);
    /* Die with the watchdog: a second line behind its tree kill. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (wd_now_ms() >= atomic_load(&page->deadline_ms) - margin_ms)
        child_report(rep, SPAWN_LATE, 0);
    default_signals();
    execve(path, argv, envp);
    child_report(rep, SPAWN_NOEXEC, errno);
}

/* What the child needs until it execs; it lives in the watchdog's memory,
 * which the child shares. */
struct start {
    const char *path;
    char *const *argv;
    char **envp;
    const struct wd_page *page;
    int64_t margin_ms;
    pid_t parent;
    int rep;
};

static int child_entry(void *arg)
{
    const struct start *s = arg;

    child_main(s->path, s->argv, s->envp, s->page, s->margin_ms, s->parent,
               s->rep);
}

/* Sanitizer runtimes keep state of their own (per thread, and tables of
 * signal handlers) that a child sharing the watchdog's memory would change
 * under them: builds with one fork instead. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPAWN_BY_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPAWN_BY_FORK 1
#endif
#endif

/* Room for the child's few calls, and for the dynamic linker resolving
 * one of them on first use. */
#define CHILD_STACK (32 * 1024)

/* Starts the child: -1 with errno, or its pid once it has exec'd or
 * exited. The watchdog is a copy of `leader run`, with every library of
 * the command mapped: forking it copied all its page tables, which the
 * child's exec then tore down again, and that took most of the time from
 * ELECTED to the command's start (far more under load). A clone that
 * shares our memory (CLONE_VM) copies none; CLONE_VFORK suspends the
 * watchdog until the child has exec'd or exited, as posix_spawn does, so
 * the two never run on the shared memory at once and the child's stack
 * (in this frame) stays ours. Meanwhile the watchdog cannot act, but
 * there is nothing to act on: a child starts only when the previous tree
 * is gone, and this one runs nothing of CMD before its exec;
 * read_report() checks the deadline as soon as we resume. */
static pid_t start_child(struct start *s)
{
#ifdef SPAWN_BY_FORK
    pid_t p = fork();

    if (p == 0)
        child_entry(s);
    return p;
#else
    _Alignas(16) unsigned char stack[CHILD_STACK];

    /* The stack grows down on every architecture Linux runs this on
     * but PA-RISC. */
    return clone(child_entry, stack + sizeof stack,
                 CLONE_VM | CLONE_VFORK | SIGCHLD, s);
#endif
}

/* Reads the child's report: SPAWN_OK on EOF (it exec'd). A child that
 * has neither exec'd nor failed by the deadline is killed there, and is
 * late. */
static enum spawn_result read_report(int fd, pid_t pid,
                                     const struct wd_page *page, int *err)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    struct report r;
    int64_t left;
    ssize_t n;

    for (;;) {
        left = atomic_load(&page->deadline_ms) - wd_now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            left = -1; /* EOF comes with its death */
        }
        if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int) left) > 0)
            break;
    }
    do
        n = read(fd, &r, sizeof r);
    while (n == -1 && errno == EINTR);
    if (n == 0)
        return left < 0 ? SPAWN_LATE : SPAWN_OK;
    if (n != (ssize_t) sizeof r) {
        *err = n == -1 ? errno : EIO;
        return SPAWN_FAILED;
    }
    *err = r.err;
    return (enum spawn_result) r.result;
}

enum spawn_result child_spawn(const char *path, char *const argv[],
                              const struct child_env *env,
                              const struct wd_page *page, int64_t margin_ms,
                              pid_t *pid, int *err)
{
    struct start s = {path, argv, NULL, page, margin_ms, getpid(), -1};
    sigset_t all, old;
    enum spawn_result res;
    char **envp;
    int rep[2];
    pid_t p;

    *err = 0;
    *pid = 0;
    envp = build_env(env);
    if (envp == NULL) {
        *err = ENOMEM;
        return SPAWN_FAILED;
    }
    if (pipe2(rep, O_CLOEXEC) == -1) {
        *err = errno;
        free_env(envp);
        return SPAWN_FAILED;
    }
    s.envp = envp;
    s.rep = rep[1];
    /* No handler of ours may run in a child that shares our memory: it
     * starts with every signal blocked, and unblocks them once their
     * dispositions are the defaults, just before exec. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    p = start_child(&s);
    if (p == -1)
        *err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(rep[1]);
    if (p == -1) {
        close(rep[0]);
        free_env(envp);
        return SPAWN_FAILED;
    }
    /* Also here, so the group exists whichever side runs first. */
    setpgid(p, p);
    res = read_report(rep[0], p, page, err);
    close(rep[0]);
    free_env(envp);
    *pid = p;
    return res;
}
