/* lu_socket.h - socket checks and settings the connection code needs. */
#ifndef LU_SOCKET_H
#define LU_SOCKET_H

/* 1 if the TCP socket fd is connected to itself, else 0.
 *
 * Connecting to a loopback port in the ephemeral range where nobody
 * listens can pick that very port as the local one, and TCP's simultaneous
 * open then connects the socket to itself: it "answers" every command with
 * the command, and holds the port the restarting server needs. */
int lu_is_self_connected(int fd);

/* Sets FD_CLOEXEC on fd, so that no program the application executes
 * inherits it. 0, or -1 with errno. */
int lu_set_cloexec(int fd);

#endif
