/* SPDX-License-Identifier: BSD-3-Clause */
/* leader_proxy.c - leader-proxy, a small TCP fault proxy for tests: it
 * forwards connections from 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT
 * both ways, and injects network faults on command.
 *
 *   leader-proxy [--delay MS] LISTEN_PORT TARGET_PORT
 *
 * LISTEN_PORT 0 picks a free port. When ready it prints one line,
 * "PORT PID", on stdout and flushes it. Faults, by signal:
 *   SIGUSR1  blackhole: stop forwarding in both directions, but keep every
 *            connection open and keep accepting new ones (which get
 *            nothing either). Bytes sent meanwhile wait in the buffers and
 *            flow again after a heal, as TCP would deliver them after a
 *            partition ends.
 *   SIGUSR2  reset: close every connection now (the peers see the close at
 *            once), then pass traffic again.
 *   SIGHUP   heal: pass traffic again.
 *   SIGRTMIN freeze: the connections open now stop passing for good (a
 *            heal does not revive them; a reset closes them), while new
 *            connections pass: the connections die silently, as when a
 *            middlebox on the path forgets them or the peer's host
 *            vanishes, and the network itself is fine.
 *   SIGTERM, SIGINT  exit.
 * --delay MS holds every chunk of data for MS milliseconds before passing
 * it on (in both directions).
 *
 * Every mode change is logged on stderr. The proxy dies with the process
 * that started it (PR_SET_PDEATHSIG), so a crashed test leaves nothing
 * behind. Single-threaded, one poll() loop; at most MAX_CONNS connections. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CHUNK     16384
#define MAX_QUEUE                                                              \
    (1 << 20) /* bytes queued per direction before we stop                     \
                 reading that side */

/* A chunk of data on its way, due at due_ms. */
struct chunk {
    struct chunk *next;
    int64_t due_ms;
    size_t len, off;
    char data[];
};

/* One direction of a connection: read from `from`, write to `to`. */
struct flow {
    struct chunk *head, *tail;
    size_t queued;
};

struct conn {
    int fd[2];         /* 0: the client, 1: upstream */
    struct flow to[2]; /* to[1]: client -> upstream; to[0]: the reverse */
    int frozen;        /* passes nothing, ever again */
};

enum mode { PASS, BLACKHOLE };

static struct conn *conns[MAX_CONNS];
static enum mode mode = PASS;
static long delay_ms;
static int sig_pipe[2];

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char) sig;

    if (write(sig_pipe[1], &b, 1) < 0) {
        /* full: a byte is already waiting */
    }
    errno = saved;
}

static void usage(void)
{
    fprintf(stderr, "usage: leader-proxy [--delay MS] LISTEN_PORT "
                    "TARGET_PORT\n");
    exit(2);
}

static long parse_num(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || v > max)
        usage();
    return v;
}

static void flow_clear(struct flow *f)
{
    while (f->head != NULL) {
        struct chunk *c = f->head;
        f->head = c->next;
        free(c);
    }
    f->tail = NULL;
    f->queued = 0;
}

static void conn_close(int i)
{
    struct conn *c = conns[i];

    close(c->fd[0]);
    close(c->fd[1]);
    flow_clear(&c->to[0]);
    flow_clear(&c->to[1]);
    free(c);
    conns[i] = NULL;
}

static void close_all(void)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i] != NULL)
            conn_close(i);
}

static int listen_on(int port, int *bound)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &a, sizeof a) == -1 ||
        listen(fd, 64) == -1 ||
        getsockname(fd, (struct sockaddr *) &a, &len) == -1) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static int connect_to(int port)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Loopback: a blocking connect answers at once. */
    if (connect(fd, (struct sockaddr *) &a, sizeof a) == -1) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void accept_one(int lfd, int target)
{
    int one = 1, cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int slot = -1, ufd;

    if (cfd == -1)
        return;
    for (int i = 0; i < MAX_CONNS && slot < 0; i++)
        if (conns[i] == NULL)
            slot = i;
    ufd = slot >= 0 ? connect_to(target) : -1;
    if (ufd == -1) {
        close(cfd); /* full, or the target is down: the client sees EOF */
        return;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[slot] = calloc(1, sizeof *conns[slot]);
    if (conns[slot] == NULL) {
        close(cfd);
        close(ufd);
        return;
    }
    conns[slot]->fd[0] = cfd;
    conns[slot]->fd[1] = ufd;
}

/* Reads what side `from` sent into the flow towards the other side.
 * Returns -1 when the connection is over. */
static int pump_in(struct conn *c, int from)
{
    struct flow *f = &c->to[!from];
    struct chunk *ch = malloc(sizeof *ch + CHUNK);
    ssize_t n;

    if (ch == NULL)
        return 0;
    n = read(c->fd[from], ch->data, CHUNK);
    if (n <= 0) {
        free(ch);
        return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
    }
    ch->next = NULL;
    ch->len = (size_t) n;
    ch->off = 0;
    ch->due_ms = now_ms() + delay_ms;
    if (f->tail != NULL)
        f->tail->next = ch;
    else
        f->head = ch;
    f->tail = ch;
    f->queued += (size_t) n;
    return 0;
}

/* Writes the due chunks of the flow towards side `to`. */
static int pump_out(struct conn *c, int to)
{
    struct flow *f = &c->to[to];
    int64_t now = now_ms();

    while (f->head != NULL && f->head->due_ms <= now) {
        struct chunk *ch = f->head;
        ssize_t n = write(c->fd[to], ch->data + ch->off, ch->len - ch->off);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        ch->off += (size_t) n;
        f->queued -= (size_t) n;
        if (ch->off < ch->len)
            return 0;
        f->head = ch->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(ch);
    }
    return 0;
}

static int handle_signals(void)
{
    unsigned char buf[16];
    ssize_t n = read(sig_pipe[0], buf, sizeof buf);

    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == SIGUSR1) {
            mode = BLACKHOLE;
            fprintf(stderr, "leader-proxy: blackhole\n");
        } else if (buf[i] == SIGUSR2) {
            close_all();
            mode = PASS;
            fprintf(stderr, "leader-proxy: reset, passing\n");
        } else if (buf[i] == SIGHUP) {
            mode = PASS;
            fprintf(stderr, "leader-proxy: healed, passing\n");
        } else if (buf[i] == (unsigned char) SIGRTMIN) {
            for (int k = 0; k < MAX_CONNS; k++)
                if (conns[k] != NULL)
                    conns[k]->frozen = 1;
            fprintf(stderr, "leader-proxy: froze the open connections\n");
        } else {
            return -1;
        }
    }
    return 0;
}

/* Poll timeout: the next due chunk, or -1. */
static int next_due(void)
{
    int64_t next = -1, now = now_ms();

    if (mode != PASS)
        return -1;
    for (int i = 0; i < MAX_CONNS; i++)
        for (int d = 0; conns[i] != NULL && !conns[i]->frozen && d < 2; d++) {
            struct chunk *h = conns[i]->to[d].head;
            if (h != NULL && (next < 0 || h->due_ms < next))
                next = h->due_ms;
        }
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int) (next - now);
}

/* Fills pfds for one connection; returns how many it used. */
static int watch_conn(const struct conn *c, struct pollfd *p)
{
    for (int s = 0; s < 2; s++) {
        p[s].fd = c->fd[s];
        p[s].events = 0;
        p[s].revents = 0;
        if (mode != PASS || c->frozen)
            continue; /* blackhole: neither read nor write */
        if (c->to[!s].queued < MAX_QUEUE)
            p[s].events |= POLLIN;
        if (c->to[s].head != NULL && c->to[s].head->due_ms <= now_ms())
            p[s].events |= POLLOUT;
    }
    return 2;
}

static int serve_conn(struct conn *c, const struct pollfd *p)
{
    if (mode != PASS || c->frozen) {
        /* Blackholed: only notice a peer that is gone, or we would spin
         * on its POLLHUP. */
        for (int s = 0; s < 2; s++)
            if (p[s].revents & (POLLHUP | POLLERR))
                return -1;
        return 0;
    }
    for (int s = 0; s < 2; s++) {
        if (p[s].revents & (POLLIN | POLLHUP | POLLERR))
            if (pump_in(c, s) < 0)
                return -1;
    }
    for (int s = 0; s < 2; s++)
        if (mode == PASS && pump_out(c, s) < 0)
            return -1;
    return 0;
}

static void serve(int lfd, int target)
{
    struct pollfd p[2 + 2 * MAX_CONNS];
    int idx[MAX_CONNS];

    for (;;) {
        int n = 2;

        p[0] = (struct pollfd){lfd, POLLIN, 0};
        p[1] = (struct pollfd){sig_pipe[0], POLLIN, 0};
        for (int i = 0; i < MAX_CONNS; i++) {
            idx[i] = -1;
            if (conns[i] != NULL) {
                idx[i] = n;
                n += watch_conn(conns[i], &p[n]);
            }
        }
        if (poll(p, (nfds_t) n, next_due()) == -1 && errno != EINTR)
            return;
        if ((p[1].revents & POLLIN) && handle_signals() < 0)
            return;
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i] != NULL && idx[i] >= 0 &&
                serve_conn(conns[i], &p[idx[i]]) < 0)
                conn_close(i);
        if (p[0].revents & POLLIN)
            accept_one(lfd, target);
    }
}

int main(int argc, char **argv)
{
    static const int sigs[] = {SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT};
    struct sigaction sa;
    int i = 1, lfd, port;
    long listen_port, target;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (argc > 2 && strcmp(argv[1], "--delay") == 0) {
        delay_ms = parse_num(argv[2], 60000);
        i = 3;
    }
    if (argc - i != 2)
        usage();
    listen_port = parse_num(argv[i], 65535);
    target = parse_num(argv[i + 1], 65535);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaction(sigs[k], &sa, NULL);
    sigaction(SIGRTMIN, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_on((int) listen_port, &port);
    if (lfd == -1) {
        fprintf(stderr, "leader-proxy: cannot listen on port %ld: %s\n",
                listen_port, strerror(errno));
        return 1;
    }
    printf("%d %d\n", port, (int) getpid());
    fflush(stdout);
    serve(lfd, (int) target);
    close_all();
    close(lfd);
    return 0;
}
