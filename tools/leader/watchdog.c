/* watchdog.c - see watchdog.h. The watchdog process does nothing but wait
 * for the deadline and kill; it allocates nothing after fork and uses only
 * system calls, so it stays small and cannot be stalled by the library. */
#define _GNU_SOURCE
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t wd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void watchdog_poke(const struct watchdog *w)
{
    char b = 1;

    /* Non-blocking: a full pipe already holds a poke. */
    if (write(w->poke_fd, &b, 1) < 0)
        return;
}

/* Arms the timer at the absolute deadline, or disarms it (deadline 0). */
static void arm_timer(int tfd, int64_t deadline_ms)
{
    struct itimerspec its;

    memset(&its, 0, sizeof its);
    if (deadline_ms > 0) {
        its.it_value.tv_sec = deadline_ms / 1000;
        its.it_value.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Kills the group if its deadline has passed; returns the deadline to wait
 * for next (0: nothing to wait for). */
static int64_t check_page(struct wd_page *p)
{
    int pgid = atomic_load(&p->pgid);
    int64_t deadline = atomic_load(&p->deadline_ms);

    if (pgid <= 0 || deadline <= 0)
        return 0;
    if (wd_now_ms() < deadline)
        return deadline;
    kill(-pgid, SIGKILL);
    atomic_fetch_add(&p->kills, 1);
    /* Done with this group; a new child stores its own pgid. */
    atomic_compare_exchange_strong(&p->pgid, &pgid, 0);
    return 0;
}

/* The watchdog's whole life: exits when the supervisor closes the pipe or
 * dies (PR_SET_PDEATHSIG). */
static _Noreturn void watchdog_main(struct wd_page *p, int rd, pid_t parent)
{
    static const int ignored[] = {SIGINT,  SIGHUP,  SIGTERM, SIGQUIT,
                                  SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE};
    struct pollfd fds[2];
    sigset_t none;
    char buf[64];
    int tfd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    prctl(PR_SET_NAME, "leader-watchdog");
    /* Terminal signals go to the whole foreground group: they are for the
     * supervisor, which forwards them to the child; the watchdog must
     * survive them to keep guarding the deadline. */
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        signal(ignored[i], SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd == -1)
        _exit(1);
    fds[0].fd = rd;
    fds[0].events = POLLIN;
    fds[1].fd = tfd;
    fds[1].events = POLLIN;
    for (;;) {
        arm_timer(tfd, check_page(p));
        if (poll(fds, 2, -1) == -1 && errno != EINTR)
            _exit(1);
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(rd, buf, sizeof buf);
            if (n == 0) {
                /* The supervisor is done: one last check, then go. */
                check_page(p);
                _exit(0);
            }
        }
        if (fds[1].revents & POLLIN) {
            uint64_t expirations;
            if (read(tfd, &expirations, sizeof expirations) < 0)
                continue;
        }
    }
}

int watchdog_start(struct watchdog *w)
{
    int fds[2];
    pid_t parent = getpid();

    w->page = mmap(NULL, sizeof *w->page, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w->page == MAP_FAILED)
        return -1;
    atomic_init(&w->page->deadline_ms, 0);
    atomic_init(&w->page->pgid, 0);
    atomic_init(&w->page->kills, 0);
    if (pipe2(fds, O_CLOEXEC) == -1) {
        munmap(w->page, sizeof *w->page);
        return -1;
    }
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    w->pid = fork();
    if (w->pid == -1) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        munmap(w->page, sizeof *w->page);
        errno = e;
        return -1;
    }
    if (w->pid == 0) {
        close(fds[1]);
        watchdog_main(w->page, fds[0], parent);
    }
    close(fds[0]);
    w->poke_fd = fds[1];
    return 0;
}

void watchdog_stop(struct watchdog *w)
{
    if (w->page == NULL)
        return;
    if (w->poke_fd >= 0)
        close(w->poke_fd);
    w->poke_fd = -1;
    if (w->pid > 0) {
        /* It exits on EOF; SIGKILL if it does not within a second. */
        for (int i = 0; i < 100; i++) {
            pid_t r = waitpid(w->pid, NULL, WNOHANG);
            if (r == w->pid || (r == -1 && errno == ECHILD))
                break;
            if (i == 99) {
                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
    w->pid = 0;
    munmap(w->page, sizeof *w->page);
    w->page = NULL;
}
