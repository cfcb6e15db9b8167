/* SPDX-License-Identifier: BSD-3-Clause */
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

/* Turns TCP keepalive on for fd: the first probe after idle_s seconds of
 * silence, then every third of that (at least 1 s), and the connection
 * counts as dead after 3 unanswered probes: a peer that vanished without
 * a word (a crashed host, a dropped route) is noticed after about twice
 * idle_s instead of never (an idle connection) or after the kernel's
 * retransmission timeout (about 15 minutes). Returns 0, or -1 with errno
 * if an option was refused. */
int lu_set_keepalive(int fd, int idle_s);

#endif
