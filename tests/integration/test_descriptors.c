/* SPDX-License-Identifier: BSD-3-Clause */
/* test_descriptors.c - the descriptors the library opens: none of them
 * survives an exec (the sockets of the command, notification and query
 * connections, the epoll set, the eventfd), and none is left behind when a
 * handle in event-loop mode frees itself from its own callback. */
#define _GNU_SOURCE

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "harness.h"
#include "redis_fixture.h"

#ifndef FDLIST_BIN
#error "FDLIST_BIN must name the leader-fdlist program"
#endif

/* ---- what a process holds ---- */

#define FDS_MAX 512

struct fds {
    int n;
    int fd[FDS_MAX];
    char target[FDS_MAX][128];
};

static void fds_add(struct fds *s, int fd, const char *target)
{
    if (s->n == FDS_MAX)
        FAIL("more than %d descriptors", FDS_MAX);
    s->fd[s->n] = fd;
    snprintf(s->target[s->n], sizeof s->target[0], "%s", target);
    s->n++;
}

/* This process' descriptors and what they are. */
static void fds_of_self(struct fds *s)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    ASSERT_NOT_NULL(d);
    s->n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[64], target[128];
        ssize_t n;
        int fd = atoi(e->d_name);

        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fds_add(s, fd, target);
    }
    closedir(d);
}

static const char *fds_find(const struct fds *s, int fd)
{
    for (int i = 0; i < s->n; i++)
        if (s->fd[i] == fd)
            return s->target[i];
    return NULL;
}

/* What after holds that before did not: the library's, when only the
 * library opened anything in between. */
static void fds_new(const struct fds *before, const struct fds *after,
                    struct fds *out)
{
    out->n = 0;
    for (int i = 0; i < after->n; i++) {
        const char *was = fds_find(before, after->fd[i]);
        if (was == NULL || strcmp(was, after->target[i]) != 0)
            fds_add(out, after->fd[i], after->target[i]);
    }
}

static int fds_count(const struct fds *s, const char *prefix)
{
    int k = 0;

    for (int i = 0; i < s->n; i++)
        k += strncmp(s->target[i], prefix, strlen(prefix)) == 0;
    return k;
}

static int open_fd_count(void)
{
    struct fds s;

    fds_of_self(&s);
    return s.n;
}

/* Runs leader-fdlist in a child (fork, exec) and reads what it holds. */
static void fds_after_exec(struct fds *out)
{
    int p[2], status;
    char buf[16384];
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    ASSERT_OK(pipe2(p, O_CLOEXEC));
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        char *argv[] = {(char *) FDLIST_BIN, NULL};
        if (dup2(p[1], 1) != 1)
            _exit(126);
        execv(FDLIST_BIN, argv);
        _exit(127);
    }
    close(p[1]);
    while ((n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t) n;
    close(p[0]);
    buf[len] = '\0';
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    out->n = 0;
    for (char *line = strtok(buf, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        if (sp != NULL)
            fds_add(out, atoi(line), sp + 1);
    }
}

/* Drives an event-loop handle for ms, or until *until is set. */
static void drive(leader *l, long ms, const int *until)
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end && (until == NULL || !*until)) {
        struct pollfd p = {leader_fd(l), POLLIN, 0};
        int t = leader_timeout_ms(l);
        long left = (long) (end - now_ms());

        if (t < 0 || t > left)
            t = (int) (left > 0 ? left : 0);
        ASSERT_GE(poll(&p, 1, t), 0);
        ASSERT_OK(leader_process(l));
    }
}

/* ---- close-on-exec ---- */

TEST(library_descriptors_do_not_survive_exec)
{
    rfx_server *s = start_redis(NULL);
    struct fds before, after, lib, child;
    leader *a, *b;
    int leaked = 0, open_on_exec = 0;

    fds_of_self(&before);
    /* A thread-mode handle that leads and has queried (its command,
     * notification and query connections are open), and an event-loop
     * handle that leads. */
    a = new_handle(rfx_url(s), "fds-thread", NULL, 2000, 100, 0);
    ASSERT_OK(leader_elect(a));
    for (int i = 0; i < 300 && !leader_has_lease(a); i++)
        sleep_ms(10);
    ASSERT_EQ(leader_has_lease(a), 1);
    ASSERT_EQ(leader_is_leader(a), 1);
    b = new_handle(rfx_url(s), "fds-loop", NULL, 2000, 100, 1);
    ASSERT_OK(leader_elect(b));
    drive(b, 300, NULL);
    ASSERT_EQ(leader_has_lease(b), 1);
    sleep_ms(100); /* a's notification connection is up by now */
    fds_of_self(&after);
    fds_new(&before, &after, &lib);
    for (int i = 0; i < lib.n; i++)
        fprintf(stderr, "library: %d %s\n", lib.fd[i], lib.target[i]);
    ASSERT_GE(fds_count(&lib, "socket:"), 5);
    ASSERT_EQ(fds_count(&lib, "anon_inode:[eventpoll]"), 2);
    ASSERT_EQ(fds_count(&lib, "anon_inode:[eventfd]"), 2);

    /* Exec while both lead (a's thread is running meanwhile). */
    fds_after_exec(&child);
    ASSERT_EQ(leader_has_lease(a), 1);
    ASSERT_EQ(leader_has_lease(b), 1);
    for (int i = 0; i < child.n; i++) {
        const char *t = fds_find(&lib, child.fd[i]);
        if (t != NULL && strcmp(t, child.target[i]) == 0) {
            fprintf(stderr, "inherited across exec: %d %s\n", child.fd[i],
                    child.target[i]);
            leaked++;
        }
    }
    for (int i = 0; i < lib.n; i++) {
        int flags = fcntl(lib.fd[i], F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            fprintf(stderr, "no FD_CLOEXEC: %d %s\n", lib.fd[i], lib.target[i]);
            open_on_exec++;
        }
    }
    ASSERT_EQ(leaked, 0);
    ASSERT_EQ(open_on_exec, 0);
    leader_free(b);
    leader_free(a);
    rfx_free(s);
}

/* ---- leader_free() from a callback, event-loop mode ---- */

struct self_free {
    int elected, revoked, freed;
};

static void on_elected_free_self(leader *l, const leader_event *ev, void *ud)
{
    struct self_free *sf = ud;

    if (ev->type == LEADER_EVENT_ELECTED) {
        sf->elected++;
        leader_free(l); /* finished after this callback returns */
        sf->freed = 1;
    } else if (ev->type == LEADER_EVENT_REVOKED) {
        sf->revoked++;
    }
}

TEST(free_from_own_callback_in_event_loop_mode_leaks_nothing)
{
    rfx_server *s = start_redis(NULL);
    int base = open_fd_count();
    char key[64], *r;

    for (int i = 0; i < 50; i++) {
        struct self_free sf = {0, 0, 0};
        leader *l = new_handle(rfx_url(s), "selffree", NULL, 2000, 100, 1);

        if (i == 0)
            snprintf(key, sizeof key, "%s", leader_key(l));
        leader_on(l, on_elected_free_self, &sf);
        ASSERT_OK(leader_elect(l));
        drive(l, 5000, &sf.freed); /* l is gone once freed is set */
        ASSERT_EQ(sf.freed, 1);
        ASSERT_EQ(sf.elected, 1);
        ASSERT_EQ(open_fd_count(), base);
        /* Released within the leader_process() call that ran the
         * callback, REVOKED included. */
        ASSERT_EQ(sf.revoked, 1);
    }
    r = rfx_command(s, "EXISTS %s", key);
    ASSERT_STR_EQ(r, "0");
    free(r);
    rfx_free(s);
}

/* Handles of a shared event-loop client free themselves from their
 * callbacks while the client goes on. */
TEST(client_handles_free_themselves_in_event_loop_mode)
{
    rfx_server *s = start_redis(NULL);
    leader_client_options co;
    leader_client *c;
    struct self_free sf[20];
    leader *keep;
    leader_options o;
    int base = open_fd_count(), freed = 0;
    int64_t end;

    leader_client_options_init(&co);
    co.url = rfx_url(s);
    co.event_loop = 1;
    c = leader_client_new(&co, NULL, 0);
    ASSERT_NOT_NULL(c);
    leader_options_init(&o);
    o.key = "keeps";
    keep = leader_client_add(c, &o, NULL, 0);
    ASSERT_NOT_NULL(keep);
    ASSERT_OK(leader_elect(keep));
    for (int i = 0; i < 20; i++) {
        char key[32];
        leader *h;
        snprintf(key, sizeof key, "frees-%d", i);
        o.key = key;
        h = leader_client_add(c, &o, NULL, 0);
        ASSERT_NOT_NULL(h);
        memset(&sf[i], 0, sizeof sf[i]);
        leader_on(h, on_elected_free_self, &sf[i]);
        ASSERT_OK(leader_elect(h));
    }
    end = now_ms() + 5000;
    while (freed < 20 && now_ms() < end) {
        struct pollfd p = {leader_client_fd(c), POLLIN, 0};
        int t = leader_client_timeout_ms(c);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        ASSERT_OK(leader_client_process(c));
        freed = 0;
        for (int i = 0; i < 20; i++)
            freed += sf[i].freed;
    }
    ASSERT_EQ(freed, 20);
    ASSERT_EQ(leader_has_lease(keep), 1);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(sf[i].revoked, 1);
    leader_free(keep);
    leader_client_free(c);
    ASSERT_EQ(open_fd_count(), base);
    rfx_free(s);
}
