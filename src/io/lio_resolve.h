/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_resolve.h - host names looked up without blocking the loop.
 *
 * hiredis resolves a host name with getaddrinfo(), which blocks for as long
 * as the system's resolver takes: seconds per try when a DNS server does
 * not answer. The thread that owns the timers must never wait for that, so
 * a connection to a host name starts with a lookup here (c-ares, driven by
 * the caller's loop), and hiredis is then handed the numeric address, which
 * getaddrinfo() parses without asking anyone. Like hiredis, a lookup asks
 * for IPv4 addresses first and for IPv6 ones only when there is none.
 *
 * The caller polls lio_lookup_fd() for reading (an epoll set of the
 * resolver's sockets) and calls lio_lookup_process() when it is readable
 * or when lio_lookup_timeout_ms() has passed. The caller bounds the whole
 * lookup with its own deadline: freeing a lookup cancels it, and closes
 * every descriptor it opened. Every descriptor is close-on-exec.
 */
#ifndef LIO_RESOLVE_H
#define LIO_RESOLVE_H

#include <stddef.h>

/* Room for a numeric IPv6 address with a scope id, and its NUL. */
#define LIO_ADDR_MAX 64

struct lio_lookup;

/* 1 if host is a numeric IPv4 or IPv6 address (which getaddrinfo parses
 * without a lookup) shorter than LIO_ADDR_MAX, else 0. */
int lio_is_numeric_host(const char *host);

/* The address to connect to for host without a lookup: host itself when
 * it is numeric, 127.0.0.1 for "localhost" and names under ".localhost"
 * (RFC 6761: always the loopback, never asked of DNS, even on a system
 * whose /etc/hosts does not list it), else NULL. */
const char *lio_direct_address(const char *host);

/* Starts looking host up; each try of a DNS server waits at most
 * try_ms. Returns the lookup (possibly done already: names in /etc/hosts
 * are answered at once), or NULL with a LEADER_E... code in *error and a
 * reason in text. */
struct lio_lookup *lio_lookup_start(const char *host, long try_ms, int *error,
                                    char *text, size_t textlen);

/* The descriptor to poll for reading; stable for the lookup's life. */
int lio_lookup_fd(const struct lio_lookup *q);

/* Milliseconds until lio_lookup_process() must run anyway, -1 for none. */
long lio_lookup_timeout_ms(struct lio_lookup *q);

/* Handles whatever is ready and the resolver's own timers. Returns 1 once
 * the lookup is done (answered or failed), else 0. */
int lio_lookup_process(struct lio_lookup *q);

/* The outcome of a done lookup: 0 with the first address in addr, or a
 * LEADER_E... code with a reason in text. */
int lio_lookup_result(const struct lio_lookup *q, char *addr, size_t addrlen,
                      char *text, size_t textlen);

/* Cancels the lookup if it is still running and frees it. NULL is fine. */
void lio_lookup_free(struct lio_lookup *q);

#endif
