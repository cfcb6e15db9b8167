/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_tls.h - TLS for rediss:// URLs, the one place every connection of a
 * client (the loop's command and notification connections, the blocking
 * query connection) gets it from.
 *
 * A client makes one lio_tls from its options when it is created: the
 * OpenSSL context with the trusted CAs, the client certificate and the
 * verification settings, loaded once (a file that cannot be read is an
 * error then, not a loop of failed connections later). Each connection
 * then takes a session from it with lio_tls_start(), which hands it to
 * hiredis: on a non-blocking socket the handshake advances within hiredis'
 * reads and writes, so it never holds up the loop; on a blocking one it is
 * bounded by the socket's timeouts.
 *
 * Verification is on unless insecure is set: the server's certificate
 * must chain to a trusted CA (the given file or directory, else the
 * system's store) and name the host (server_name when set, else the URL's
 * host; an IP address is matched against the certificate's IP entries).
 * There is no fallback to plain TCP.
 */
#ifndef LIO_TLS_H
#define LIO_TLS_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>

struct lio_tls_options {
    const char *ca_cert;     /* PEM file of trusted CAs, or NULL */
    const char *ca_dir;      /* directory of hashed CA files, or NULL */
    const char *cert;        /* client certificate (PEM), or NULL */
    const char *key;         /* its private key (PEM), or NULL */
    const char *server_name; /* SNI and the name verified, or NULL */
    int insecure;            /* 1: do not verify the server at all */
};

struct lio_tls;

/* Loads the options into a new context. NULL with a reason in err (a file
 * missing or unreadable, a key that does not match the certificate, a
 * certificate without its key); *code is then LEADER_EINVAL or
 * LEADER_ENOMEM. */
struct lio_tls *lio_tls_new(const struct lio_tls_options *o, int *code,
                            char *err, size_t errlen);

void lio_tls_free(struct lio_tls *t);

/* Starts TLS on c, a hiredis context whose socket is connected, for the
 * URL host host. Non-blocking: the handshake is under way on return. A
 * blocking context (its socket with timeouts of timeout_ms): done on
 * return. Returns the session (owned by c from now on; valid until c is
 * freed) or NULL with a reason in err and the LEADER_E... code in *code. */
SSL *lio_tls_start(const struct lio_tls *t, redisContext *c, const char *host,
                   long timeout_ms, int *code, char *err, size_t errlen);

/* Words a failure of a TLS connection before its first reply: what the
 * verification found, what OpenSSL queued on this thread, or else the
 * transport's text (hiredis' errstr) with what it most likely means: in
 * the handshake, or right after it, a server refusing our client
 * certificate or wanting one. Returns LEADER_ETLS with the message in
 * out, or 0 (out untouched) when ssl is NULL and OpenSSL says nothing. */
int lio_tls_explain(SSL *ssl, const char *transport, char *out, size_t len);

/* The message and code for an opening whose deadline passed in the
 * handshake (1 if ssl has not finished it, else 0 and nothing written). */
int lio_tls_timed_out(SSL *ssl, long timeout_ms, char *out, size_t len);

#endif
