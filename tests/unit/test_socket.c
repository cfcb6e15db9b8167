/* SPDX-License-Identifier: BSD-3-Clause */
/* test_socket.c - the self-connection check: a socket connected to its own
 * address is recognised, a real connection is not. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "util/lu_socket.h"

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t) port);
    return a;
}

TEST(socket_connected_to_itself_is_recognised)
{
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ASSERT_GE(fd, 0);
    ASSERT_OK(bind(fd, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(getsockname(fd, (struct sockaddr *) &a, &len));
    /* TCP simultaneous open: connecting to one's own address works. */
    ASSERT_OK(connect(fd, (struct sockaddr *) &a, sizeof a));
    ASSERT_EQ(lu_is_self_connected(fd), 1);
    close(fd);
}

TEST(real_connection_is_not_self_connected)
{
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0),
        c = socket(AF_INET, SOCK_STREAM, 0);

    ASSERT_GE(l, 0);
    ASSERT_GE(c, 0);
    ASSERT_OK(bind(l, (struct sockaddr *) &a, sizeof a));
    ASSERT_OK(listen(l, 1));
    ASSERT_OK(getsockname(l, (struct sockaddr *) &a, &len));
    ASSERT_OK(connect(c, (struct sockaddr *) &a, sizeof a));
    ASSERT_EQ(lu_is_self_connected(c), 0);
    ASSERT_EQ(lu_is_self_connected(l), 0); /* not connected at all */
    ASSERT_EQ(lu_is_self_connected(-1), 0);
    close(c);
    close(l);
}
