/* SPDX-License-Identifier: BSD-3-Clause */
/* metrics.h - `leader run --metrics-listen ADDR:PORT`: the election's
 * counters (leader_stats()) in Prometheus' text format on /metrics, served
 * by libmicrohttpd on a thread of its own, so that a scrape never holds up
 * the supervisor's loop. It reads the handle lock-free and touches nothing
 * else of leader run. Built without libmicrohttpd, the option is refused
 * at start. */
#ifndef LEADER_CLI_METRICS_H
#define LEADER_CLI_METRICS_H

#include <stddef.h>
#include <sys/socket.h>

#include <leader.h>

/* 1 if this build can serve metrics. */
int metrics_available(void);

/* Parses ADDR:PORT (an IPv4 address or a name, or [IPv6]:PORT) into the
 * address to listen on. 0, or -1 with the reason in err. */
int metrics_parse_addr(const char *text, struct sockaddr_storage *sa,
                       socklen_t *salen, char *err, size_t errlen);

/* Writes the exposition of l's counters to a malloc'd string (*len bytes,
 * NUL-terminated), with the labels key and id. NULL when out of memory. */
char *metrics_format(const leader *l, const char *key, size_t *len);

struct metrics;

/* Binds the address (close-on-exec, only that address) and starts
 * serving l. NULL with the reason in err (the port in use, no such
 * address). */
struct metrics *metrics_start(const struct sockaddr_storage *sa,
                              socklen_t salen, const leader *l, const char *key,
                              char *err, size_t errlen);

/* Stops serving and frees; NULL is allowed. Before leader_free(l). */
void metrics_stop(struct metrics *m);

#endif
