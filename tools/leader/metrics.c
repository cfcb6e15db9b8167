/* SPDX-License-Identifier: BSD-3-Clause */
/* metrics.c - see metrics.h. The text is built from one leader_stats()
 * read per scrape; the HTTP side is libmicrohttpd's, on its own thread,
 * over a listening socket we bind ourselves so that the address, the
 * close-on-exec flag and the error messages are ours. */
#define _GNU_SOURCE
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef LEADER_HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

/* ---- the address ---- */

int metrics_parse_addr(const char *text, struct sockaddr_storage *sa,
                       socklen_t *salen, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char host[256];
    const char *colon, *port, *h = text;
    size_t hlen;
    int rc;

    if (text[0] == '[') { /* [IPv6]:PORT */
        colon = strstr(text, "]:");
        h = text + 1;
        port = colon != NULL ? colon + 2 : NULL;
    } else {
        colon = strrchr(text, ':');
        port = colon != NULL ? colon + 1 : NULL;
    }
    if (colon == NULL || colon == h || *port == '\0' ||
        strspn(port, "0123456789") != strlen(port) ||
        (size_t) (colon - h) >= sizeof host) {
        snprintf(err, errlen,
                 "'%s' is not ADDR:PORT (an address and a port, such as "
                 "127.0.0.1:9100 or [::1]:9100)",
                 text);
        return -1;
    }
    if (strtol(port, NULL, 10) > 65535) {
        snprintf(err, errlen, "'%s': port %s is out of range", text, port);
        return -1;
    }
    hlen = (size_t) (colon - h);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "'%s': %s", text, gai_strerror(rc));
        return -1;
    }
    /* The first address of a name: one socket, on that address only. */
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *salen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- the exposition ---- */

/* The names of the error codes, by -code, for the errors' label. */
static const char *const code_names[] = {
    NULL,        "EINVAL", "ENOMEM",     "EURL",      "ENOTSUP", "ECONN",
    "ETIMEDOUT", "EAUTH",  "EWRONGTYPE", "EREADONLY", "EPROTO",  "EREDIS",
    "ESTATE",    "ELOST",  "ELEASE",     "ETERM",     "ETLS",    "EUNHEALTHY"};
#define NCODES (sizeof code_names / sizeof code_names[0])

/* A label value, escaped as the text format wants. */
static void put_label(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

struct expo {
    FILE *f;
    const char *key, *id;
};

static void family(const struct expo *e, const char *name, const char *type,
                   const char *help)
{
    fprintf(e->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="..",id="..",extra} value; extra: "" or `label="value"` */
static void sample_start(const struct expo *e, const char *name,
                         const char *extra)
{
    fprintf(e->f, "%s{key=\"", name);
    put_label(e->f, e->key);
    fputs("\",id=\"", e->f);
    put_label(e->f, e->id);
    fprintf(e->f, "\"%s%s} ", *extra != '\0' ? "," : "", extra);
}

static void count(const struct expo *e, const char *name, const char *extra,
                  uint64_t v)
{
    sample_start(e, name, extra);
    fprintf(e->f, "%llu\n", (unsigned long long) v);
}

static void seconds(const struct expo *e, const char *name, const char *extra,
                    int64_t ms)
{
    sample_start(e, name, extra);
    fprintf(e->f, "%.3f\n", (double) ms / 1000.0);
}

static void put_now(const struct expo *e, const leader_stats *st, int64_t now)
{
    family(e, "leader_is_leader", "gauge",
           "1 while this candidate holds a valid lease, else 0.");
    count(e, "leader_is_leader", "", (uint64_t) st->leading);
    family(e, "leader_term", "gauge",
           "Term (fencing token) of the current leadership, 0 when not "
           "leading.");
    count(e, "leader_term", "", st->term);
    family(e, "leader_lease_remaining_seconds", "gauge",
           "Time left before the local lease deadline, 0 when not leading.");
    seconds(e, "leader_lease_remaining_seconds", "",
            st->leading && st->lease_deadline_ms > now
                ? st->lease_deadline_ms - now
                : 0);
    family(e, "leader_leadership_age_seconds", "gauge",
           "Time since the current term was won, 0 when not leading.");
    seconds(e, "leader_leadership_age_seconds", "",
            st->leading && st->leading_since_ms > 0 ? now - st->leading_since_ms
                                                    : 0);
}

static void put_elections(const struct expo *e, const leader_stats *st)
{
    static const char *const causes[] = {"stop",  "new_term",   "lost",
                                         "lease", "connection", "unhealthy",
                                         "other"};
    const uint64_t by_cause[] = {st->revoked_stop, st->revoked_new_term,
                                 st->revoked_lost, st->revoked_lease,
                                 st->revoked_conn, st->revoked_unhealthy,
                                 st->revoked_other};
    char label[64];

    family(e, "leader_elections_total", "counter",
           "Elections won (new terms of one leadership included).");
    count(e, "leader_elections_total", "", st->elections_won);
    family(e, "leader_revocations_total", "counter",
           "Leaderships ended, by cause.");
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
        snprintf(label, sizeof label, "cause=\"%s\"", causes[i]);
        count(e, "leader_revocations_total", label, by_cause[i]);
    }
}

static void put_renewals(const struct expo *e, const leader_stats *st)
{
    static const char *const results[] = {"confirmed", "refused", "failed",
                                          "late"};
    const uint64_t by_result[] = {st->renewals_confirmed, st->renewals_refused,
                                  st->renewals_failed, st->renewals_late};
    char label[64];

    family(e, "leader_renewals_sent_total", "counter",
           "Renewals of the lease sent to Redis.");
    count(e, "leader_renewals_sent_total", "", st->renewals_sent);
    family(e, "leader_renewals_total", "counter",
           "Renewals by outcome: confirmed, refused (the key was not ours), "
           "failed (an error reply), late (no reply in time).");
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        snprintf(label, sizeof label, "result=\"%s\"", results[i]);
        count(e, "leader_renewals_total", label, by_result[i]);
    }
}

static void put_histogram(const struct expo *e, const leader_stats *st)
{
    const char *name = "leader_renew_duration_seconds";
    char bucket[96], label[32];
    uint64_t cum = 0;

    family(e, name, "histogram",
           "Round trip of each answered renewal (millisecond clock).");
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (int i = 0; i < LEADER_STATS_BUCKETS; i++) {
        cum += st->renew_rtt[i];
        if (i < LEADER_STATS_BUCKETS - 1)
            snprintf(label, sizeof label, "le=\"%.3f\"",
                     (double) (1L << i) / 1000.0);
        else
            snprintf(label, sizeof label, "le=\"+Inf\"");
        count(e, bucket, label, cum);
    }
    snprintf(bucket, sizeof bucket, "%s_sum", name);
    seconds(e, bucket, "", (int64_t) st->renew_rtt_sum_ms);
    /* The buckets' total, so that _count always equals the +Inf bucket
     * (the words are read one by one while the loop counts). */
    snprintf(bucket, sizeof bucket, "%s_count", name);
    count(e, bucket, "", cum);
}

static void put_rest(const struct expo *e, const leader_stats *st)
{
    char label[64];
    uint64_t other = st->errors[0];

    family(e, "leader_lease_slack_seconds", "gauge",
           "At the last confirmed renewal: the deadline it extended minus "
           "the time of the confirmation.");
    seconds(e, "leader_lease_slack_seconds", "", st->lease_slack_ms);
    family(e, "leader_lease_slack_min_seconds", "gauge",
           "The smallest lease slack at a confirmed renewal so far.");
    seconds(e, "leader_lease_slack_min_seconds", "", st->lease_slack_min_ms);
    family(e, "leader_reconnects_total", "counter",
           "Connections to Redis made again after one broke or failed.");
    count(e, "leader_reconnects_total", "", st->reconnects);
    family(e, "leader_errors_total", "counter",
           "Errors reported, by code (a streak of one error counts once).");
    for (size_t i = 1; i < NCODES; i++) {
        snprintf(label, sizeof label, "code=\"%s\"", code_names[i]);
        count(e, "leader_errors_total", label, st->errors[i]);
    }
    for (size_t i = NCODES; i < LEADER_STATS_ERRORS; i++)
        other += st->errors[i];
    count(e, "leader_errors_total", "code=\"other\"", other);
}

char *metrics_format(const leader *l, const char *key, size_t *len)
{
    struct expo e = {NULL, key, leader_id(l)};
    leader_stats st;
    char *text = NULL;

    if (leader_stats(l, &st) != 0)
        return NULL;
    e.f = open_memstream(&text, len);
    if (e.f == NULL)
        return NULL;
    put_now(&e, &st, leader_clock_ms());
    put_elections(&e, &st);
    put_renewals(&e, &st);
    put_histogram(&e, &st);
    put_rest(&e, &st);
    if (fclose(e.f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- the server ---- */

#ifdef LEADER_HAVE_MICROHTTPD

struct metrics {
    struct MHD_Daemon *daemon;
    const leader *l;
    char *key;
};

int metrics_available(void)
{
    return 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             char *body, size_t len, const char *type)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result plain(struct MHD_Connection *c, unsigned status,
                             const char *text)
{
    char *body = strdup(text);

    if (body == NULL)
        return MHD_NO;
    return reply(c, status, body, strlen(body), "text/plain; charset=utf-8");
}

/* Runs on libmicrohttpd's thread: reads the handle lock-free. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
    struct metrics *m = cls;
    char *body;
    size_t len;

    (void) version;
    (void) upload;
    (void) upload_size;
    (void) req;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") != 0)
        return plain(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    body = metrics_format(m->l, m->key, &len);
    if (body == NULL)
        return MHD_NO;
    return reply(c, MHD_HTTP_OK, body, len,
                 "text/plain; version=0.0.4; charset=utf-8");
}

/* A listening socket on exactly sa, close-on-exec; -1 with err. */
static int listen_on(const struct sockaddr_storage *sa, socklen_t salen,
                     char *err, size_t errlen)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A restart may bind while old connections linger in TIME_WAIT; a
     * port another socket listens on is still refused. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->ss_family == AF_INET6) /* [::] means IPv6 only */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *) sa, salen) != 0 ||
        listen(fd, 16) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct metrics *metrics_start(const struct sockaddr_storage *sa,
                              socklen_t salen, const leader *l, const char *key,
                              char *err, size_t errlen)
{
    struct metrics *m = calloc(1, sizeof *m);
    sigset_t all, old;
    int fd;

    if (m == NULL || (m->key = strdup(key)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(m);
        return NULL;
    }
    m->l = l;
    fd = listen_on(sa, salen, err, errlen);
    if (fd < 0) {
        metrics_stop(m);
        return NULL;
    }
    /* Its thread takes no signal: they stay the supervisor's. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    m->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, answer,
        m, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned) 16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
        MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (m->daemon == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server");
        close(fd);
        metrics_stop(m);
        return NULL;
    }
    return m;
}

void metrics_stop(struct metrics *m)
{
    if (m == NULL)
        return;
    if (m->daemon != NULL)
        MHD_stop_daemon(m->daemon); /* closes the listening socket */
    free(m->key);
    free(m);
}

#else /* no libmicrohttpd */

int metrics_available(void)
{
    return 0;
}

struct metrics *metrics_start(const struct sockaddr_storage *sa,
                              socklen_t salen, const leader *l, const char *key,
                              char *err, size_t errlen)
{
    (void) sa;
    (void) salen;
    (void) l;
    (void) key;
    snprintf(err, errlen, "this build of leader has no libmicrohttpd");
    return NULL;
}

void metrics_stop(struct metrics *m)
{
    (void) m;
}

#endif
