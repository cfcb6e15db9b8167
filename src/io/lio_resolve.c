/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_resolve.c - see lio_resolve.h.
 *
 * Each lookup has a c-ares channel of its own (it reads the system's
 * resolver configuration when it starts) and an epoll set of its own,
 * which c-ares' socket-state callback keeps in step with the sockets it
 * wants watched. The caller sees one descriptor and one timeout. The
 * channel's sockets are opened through our own socket functions, so that
 * they are close-on-exec from the start and a write to a broken TCP
 * connection to a DNS server never raises SIGPIPE.
 */
#include "util/fmacros.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/lio_resolve.h"
#include "leader.h"

#define HOST_MAX 255

/* Which address families are asked for, in order. */
static const int families[] = {AF_INET, AF_INET6};
#define NFAMILIES ((int) (sizeof families / sizeof families[0]))

struct lio_lookup {
    ares_channel channel;
    int epfd;
    int family;  /* index into families of the query asked last */
    int pending; /* a query is running */
    int done;
    int error; /* when done: 0 or LEADER_E... */
    char host[HOST_MAX + 1];
    char addr[LIO_ADDR_MAX];
    char text[HOST_MAX + 64];
};

/* ---- c-ares, once per process ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = ARES_SUCCESS;

static void init_library(void)
{
    init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* ---- the channel's sockets ---- */

static ares_socket_t sock_open(int domain, int type, int protocol, void *data)
{
    int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    return fd >= 0 ? fd : ARES_SOCKET_BAD;
}

static int sock_close(ares_socket_t fd, void *data)
{
    return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *addr,
                        ares_socklen_t len, void *data)
{
    return connect(fd, addr, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                  int flags, struct sockaddr *from,
                                  ares_socklen_t *from_len, void *data)
{
    return recvfrom(fd, buf, len, flags, from, from_len);
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int n,
                               void *data)
{
    struct msghdr m;

    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *) iov;
    m.msg_iovlen = (size_t) n;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions socket_functions = {
    sock_open, sock_close, sock_connect, sock_recvfrom, sock_sendv};

/* c-ares says which of its sockets to watch, and for what. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct lio_lookup *q = data;
    struct epoll_event ev = {.events = (readable ? EPOLLIN : 0u) |
                                       (writable ? EPOLLOUT : 0u),
                             .data.fd = fd};

    if (!readable && !writable) {
        epoll_ctl(q->epfd, EPOLL_CTL_DEL, fd, NULL); /* about to close */
        return;
    }
    if (epoll_ctl(q->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- queries ---- */

int lio_is_numeric_host(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char v6[LIO_ADDR_MAX];
    const char *scope = strchr(host, '%');
    size_t len = scope != NULL ? (size_t) (scope - host) : strlen(host);

    if (strlen(host) >= LIO_ADDR_MAX)
        return 0;
    if (inet_pton(AF_INET, host, buf) == 1)
        return 1;
    memcpy(v6, host, len);
    v6[len] = '\0';
    return inet_pton(AF_INET6, v6, buf) == 1;
}

const char *lio_direct_address(const char *host)
{
    static const char suffix[] = ".localhost";
    size_t n = strlen(host), k = sizeof suffix - 1;

    if (lio_is_numeric_host(host))
        return host;
    if (strcasecmp(host, "localhost") == 0 ||
        (n > k && strcasecmp(host + n - k, suffix) == 0))
        return "127.0.0.1";
    return NULL;
}

/* Ends the lookup; a failure says why (detail: NULL on success). */
static void finish(struct lio_lookup *q, int error, const char *detail)
{
    q->done = 1;
    q->error = error;
    if (detail != NULL)
        snprintf(q->text, sizeof q->text, "cannot resolve %s: %s", q->host,
                 detail);
}

/* The first address of an answer, as text getaddrinfo() takes as it is. */
static int format_addr(const struct ares_addrinfo_node *n, char *out,
                       size_t len)
{
    if (n->ai_family == AF_INET) {
        const struct sockaddr_in *a = (const void *) n->ai_addr;
        return inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t) len) != NULL
                   ? 0
                   : -1;
    }
    if (n->ai_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *) n->ai_addr;
        size_t used;
        if (inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t) len) == NULL)
            return -1;
        used = strlen(out);
        if (a->sin6_scope_id != 0)
            snprintf(out + used, len - used, "%%%u",
                     (unsigned) a->sin6_scope_id);
        return 0;
    }
    return -1;
}

static void on_answer(void *arg, int status, int timeouts,
                      struct ares_addrinfo *res)
{
    struct lio_lookup *q = arg;
    const struct ares_addrinfo_node *n = res != NULL ? res->nodes : NULL;

    q->pending = 0;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
        finish(q, LEADER_ECONN, "cancelled");
    } else if (status == ARES_SUCCESS && n != NULL) {
        if (format_addr(n, q->addr, sizeof q->addr) == 0)
            finish(q, 0, NULL);
        else
            finish(q, LEADER_ECONN, "unknown address family");
    } else if (status == ARES_ENOMEM) {
        finish(q, LEADER_ENOMEM, "out of memory");
    } else if ((status == ARES_ENOTFOUND || status == ARES_ENODATA ||
                status == ARES_SUCCESS) &&
               q->family + 1 < NFAMILIES) {
        q->family++; /* no address of this family: ask for the next */
    } else {
        finish(q, status == ARES_ETIMEOUT ? LEADER_ETIMEDOUT : LEADER_ECONN,
               ares_strerror(status));
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
}

/* Asks for the next family while the lookup is neither done nor waiting.
 * The answer may come at once (from /etc/hosts), hence the loop. */
static void ask(struct lio_lookup *q)
{
    while (!q->done && !q->pending) {
        struct ares_addrinfo_hints hints;

        memset(&hints, 0, sizeof hints);
        hints.ai_family = families[q->family];
        hints.ai_socktype = SOCK_STREAM;
        q->pending = 1;
        ares_getaddrinfo(q->channel, q->host, NULL, &hints, on_answer, q);
    }
}

struct lio_lookup *lio_lookup_start(const char *host, long try_ms, int *error,
                                    char *text, size_t textlen)
{
    struct lio_lookup *q;
    struct ares_options o;
    int rc;

    *error = LEADER_ENOMEM;
    snprintf(text, textlen, "out of memory");
    pthread_once(&init_once, init_library);
    if (init_status != ARES_SUCCESS) {
        *error = LEADER_ECONN;
        snprintf(text, textlen, "cannot start the resolver: %s",
                 ares_strerror(init_status));
        return NULL;
    }
    q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    snprintf(q->host, sizeof q->host, "%s", host);
    q->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (q->epfd < 0) {
        free(q);
        *error = LEADER_ECONN;
        snprintf(text, textlen, "cannot start the resolver: %s",
                 strerror(errno));
        return NULL;
    }
    memset(&o, 0, sizeof o);
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = q;
    o.timeout = (int) (try_ms > 0 ? try_ms : 1);
    o.tries = 3;
    rc = ares_init_options(&q->channel, &o,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
                               ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        close(q->epfd);
        free(q);
        *error = rc == ARES_ENOMEM ? LEADER_ENOMEM : LEADER_ECONN;
        snprintf(text, textlen, "cannot start the resolver: %s",
                 ares_strerror(rc));
        return NULL;
    }
    ares_set_socket_functions(q->channel, &socket_functions, q);
    ask(q);
    *error = 0;
    return q;
}

int lio_lookup_fd(const struct lio_lookup *q)
{
    return q->epfd;
}

long lio_lookup_timeout_ms(struct lio_lookup *q)
{
    struct timeval tv, *t;

    if (q->done)
        return -1;
    t = ares_timeout(q->channel, NULL, &tv);
    if (t == NULL)
        return -1;
    /* Rounded up: woken early, c-ares would find nothing due yet. */
    return (long) t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;
}

int lio_lookup_process(struct lio_lookup *q)
{
    struct epoll_event ev[8];
    int n;

    if (q->done)
        return 1;
    n = epoll_wait(q->epfd, ev, 8, 0);
    for (int i = 0; i < n && !q->done; i++) {
        int fd = ev[i].data.fd;
        int r = ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
        int w = ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP);
        ares_process_fd(q->channel, r ? fd : ARES_SOCKET_BAD,
                        w ? fd : ARES_SOCKET_BAD);
        ask(q);
    }
    if (!q->done) {
        /* The resolver's own timers: retries and its per-try timeouts. */
        ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        ask(q);
    }
    return q->done;
}

int lio_lookup_result(const struct lio_lookup *q, char *addr, size_t addrlen,
                      char *text, size_t textlen)
{
    if (q->error == 0)
        snprintf(addr, addrlen, "%s", q->addr);
    else
        snprintf(text, textlen, "%s", q->text);
    return q->error;
}

void lio_lookup_free(struct lio_lookup *q)
{
    if (q == NULL)
        return;
    q->done = 1;              /* a cancelled answer changes nothing */
    ares_destroy(q->channel); /* closes its sockets */
    close(q->epfd);
    free(q);
}
