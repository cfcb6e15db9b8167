/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_socket.c - see lu_socket.h. */
#include "util/fmacros.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "util/lu_socket.h"

int lu_is_self_connected(int fd)
{
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof local, plen = sizeof peer;

    if (getsockname(fd, (struct sockaddr *) &local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *) &peer, &plen) != 0)
        return 0;
    if (llen != plen || local.ss_family != peer.ss_family)
        return 0;
    if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
        return 0;
    return memcmp(&local, &peer, llen) == 0;
}

int lu_set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags < 0)
        return -1;
    return flags & FD_CLOEXEC ? 0 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int lu_set_keepalive(int fd, int idle_s)
{
    int on = 1, idle = idle_s > 0 ? idle_s : 1;
    int interval = idle / 3 > 0 ? idle / 3 : 1, count = 3;

    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
        return -1;
#ifdef TCP_KEEPIDLE
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval,
                   sizeof interval) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0)
        return -1;
#endif
    return 0;
}
