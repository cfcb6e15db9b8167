/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_tls.c - see lio_tls.h. */
#include "util/fmacros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "io/lio_tls.h"
#include "leader.h"

struct lio_tls {
    SSL_CTX *ctx;
    char *server_name;
    int insecure;
};

static int fail(int *code, int value, char *err, size_t errlen, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(int *code, int value, char *err, size_t errlen, const char *fmt,
                ...)
{
    va_list ap;

    *code = value;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* OpenSSL's reason for the last failure on this thread, for messages. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    return r != NULL ? r : "not in PEM format";
}

/* A key with a passphrase would make OpenSSL ask for it on the terminal,
 * from whatever thread loads it: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return 0;
}

/* A readable regular file, or the reason it is not (errno's words). */
static int check_file(const char *what, const char *path, int *code, char *err,
                      size_t errlen)
{
    struct stat st;
    FILE *f;

    if (*path == '\0')
        return fail(code, LEADER_EINVAL, err, errlen, "%s is empty", what);
    if (stat(path, &st) != 0)
        return fail(code, LEADER_EINVAL, err, errlen, "%s %s: %s", what, path,
                    strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(code, LEADER_EINVAL, err, errlen,
                    "%s %s: not a regular file", what, path);
    f = fopen(path, "r");
    if (f == NULL)
        return fail(code, LEADER_EINVAL, err, errlen, "%s %s: %s", what, path,
                    strerror(errno));
    fclose(f);
    return 0;
}

static int load_trust(SSL_CTX *ctx, const struct lio_tls_options *o, int *code,
                      char *err, size_t errlen)
{
    struct stat st;

    if (o->ca_cert == NULL && o->ca_dir == NULL) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            return fail(code, LEADER_EINVAL, err, errlen,
                        "cannot load the system's CA store: %s", ssl_reason());
        return 0;
    }
    if (o->ca_cert != NULL) {
        if (check_file("tls_ca_cert", o->ca_cert, code, err, errlen) != 0)
            return -1;
        if (SSL_CTX_load_verify_locations(ctx, o->ca_cert, NULL) != 1)
            return fail(code, LEADER_EINVAL, err, errlen,
                        "tls_ca_cert %s: no CA certificate in it (%s)",
                        o->ca_cert, ssl_reason());
    }
    if (o->ca_dir != NULL) {
        /* OpenSSL reads the directory only when it looks for an issuer:
         * check it now, so a typo is an error at start. */
        if (*o->ca_dir == '\0')
            return fail(code, LEADER_EINVAL, err, errlen,
                        "tls_ca_dir is empty");
        if (stat(o->ca_dir, &st) != 0)
            return fail(code, LEADER_EINVAL, err, errlen, "tls_ca_dir %s: %s",
                        o->ca_dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return fail(code, LEADER_EINVAL, err, errlen,
                        "tls_ca_dir %s: not a directory", o->ca_dir);
        if (SSL_CTX_load_verify_locations(ctx, NULL, o->ca_dir) != 1)
            return fail(code, LEADER_EINVAL, err, errlen, "tls_ca_dir %s: %s",
                        o->ca_dir, ssl_reason());
    }
    return 0;
}

static int load_identity(SSL_CTX *ctx, const struct lio_tls_options *o,
                         int *code, char *err, size_t errlen)
{
    const char *key = o->key != NULL ? o->key : o->cert;

    if (o->cert == NULL) {
        if (o->key != NULL)
            return fail(code, LEADER_EINVAL, err, errlen,
                        "tls_key is set without tls_cert");
        return 0;
    }
    if (check_file("tls_cert", o->cert, code, err, errlen) != 0 ||
        check_file("tls_key", key, code, err, errlen) != 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
        return fail(code, LEADER_EINVAL, err, errlen,
                    "tls_cert %s: no certificate in it (%s)", o->cert,
                    ssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
        return fail(code, LEADER_EINVAL, err, errlen,
                    "tls_key %s does not belong to tls_cert %s", key, o->cert);
    if (SSL_CTX_get0_privatekey(ctx) == NULL)
        return fail(code, LEADER_EINVAL, err, errlen,
                    "tls_key %s: no usable private key in it (%s; a key "
                    "with a passphrase is not supported)",
                    key, ssl_reason());
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(code, LEADER_EINVAL, err, errlen,
                    "tls_key %s does not belong to tls_cert %s", key, o->cert);
    return 0;
}

struct lio_tls *lio_tls_new(const struct lio_tls_options *o, int *code,
                            char *err, size_t errlen)
{
    struct lio_tls *t = calloc(1, sizeof *t);

    ERR_clear_error();
    if (t == NULL || (t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        free(t);
        fail(code, LEADER_ENOMEM, err, errlen, "out of memory");
        return NULL;
    }
    if (o->server_name != NULL &&
        (*o->server_name == '\0' || strlen(o->server_name) > 253)) {
        fail(code, LEADER_EINVAL, err, errlen,
             "tls_server_name must be 1 to 253 bytes");
        goto error;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(t->ctx, no_passphrase);
    SSL_CTX_set_verify(t->ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                       NULL);
    if (load_trust(t->ctx, o, code, err, errlen) != 0 ||
        load_identity(t->ctx, o, code, err, errlen) != 0)
        goto error;
    if (o->server_name != NULL &&
        (t->server_name = strdup(o->server_name)) == NULL) {
        fail(code, LEADER_ENOMEM, err, errlen, "out of memory");
        goto error;
    }
    t->insecure = o->insecure != 0;
    ERR_clear_error();
    return t;
error:
    ERR_clear_error();
    lio_tls_free(t);
    return NULL;
}

void lio_tls_free(struct lio_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t->server_name);
    free(t);
}

static int is_ip(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, buf) == 1 ||
           inet_pton(AF_INET6, name, buf) == 1;
}

/* Names the server the certificate must be for; SNI carries it unless it
 * is an address (RFC 6066 allows only host names there). */
static int set_names(const struct lio_tls *t, SSL *ssl, const char *host)
{
    const char *name = t->server_name != NULL ? t->server_name : host;
    int ip = is_ip(name);

    if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1)
        return -1;
    if (t->insecure)
        return 0;
    if (ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
                   ? 0
                   : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

SSL *lio_tls_start(const struct lio_tls *t, redisContext *c, const char *host,
                   long timeout_ms, int *code, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(t->ctx);
    int saved;

    if (ssl == NULL) {
        fail(code, LEADER_ENOMEM, err, errlen, "out of memory");
        return NULL;
    }
    if (set_names(t, ssl, host) != 0) {
        fail(code, LEADER_ETLS, err, errlen,
             "TLS: cannot use %s as the server's name",
             t->server_name != NULL ? t->server_name : host);
        SSL_free(ssl);
        return NULL;
    }
    ERR_clear_error();
    errno = 0;
    if (redisInitiateSSL(c, ssl) != REDIS_OK) {
        saved = errno;
        /* A blocking socket's timeout ends a read with EAGAIN. */
        if ((c->flags & REDIS_BLOCK) &&
            (saved == EAGAIN || saved == EWOULDBLOCK) &&
            lio_tls_timed_out(ssl, timeout_ms, err, errlen)) {
            *code = LEADER_ETLS;
            SSL_free(ssl);
            return NULL;
        }
        *code = lio_tls_explain(ssl, c->errstr, err, errlen);
        if (*code == 0)
            fail(code, LEADER_ETLS, err, errlen, "TLS: %s", c->errstr);
        SSL_free(ssl); /* hiredis took it only on success */
        return NULL;
    }
    return ssl;
}

static void verify_message(SSL *ssl, long v, char *out, size_t len)
{
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    const char *host = X509_VERIFY_PARAM_get0_host(p, 0);
    char *ip = NULL;

    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(out, len, "TLS: the server's certificate has expired");
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(out, len, "TLS: the server's certificate is not valid yet");
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        if (host == NULL)
            host = ip = X509_VERIFY_PARAM_get1_ip_asc(p);
        snprintf(out, len,
                 "TLS: host-name mismatch: the server's certificate is not "
                 "for %s (set tls_server_name to the name it has)",
                 host != NULL ? host : "this host");
        OPENSSL_free(ip);
        break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        snprintf(out, len,
                 "TLS: the server's certificate is signed by an unknown CA "
                 "(%s; give its CA with tls_ca_cert)",
                 X509_verify_cert_error_string(v));
        break;
    default:
        snprintf(out, len, "TLS: the server's certificate was refused: %s",
                 X509_verify_cert_error_string(v));
    }
}

int lio_tls_explain(SSL *ssl, const char *transport, char *out, size_t len)
{
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    const char *reason;

    if (v != X509_V_OK) {
        verify_message(ssl, v, out, len);
        return LEADER_ETLS;
    }
    if (transport == NULL || *transport == '\0')
        transport = "connection closed";
    if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL) {
        if (ssl == NULL)
            return 0;
        if (!SSL_is_init_finished(ssl))
            snprintf(out, len,
                     "TLS: the connection failed in the handshake: %s",
                     transport);
        else if (SSL_get_certificate(ssl) != NULL)
            /* With TLS 1.3 the server checks our certificate after our
             * side of the handshake is done; when it refuses it, its
             * alert may be lost to a reset. */
            snprintf(out, len,
                     "TLS: the server ended the session before its first "
                     "reply (%s): it refused our client certificate",
                     transport);
        else
            snprintf(out, len,
                     "TLS: the server ended the session before its first "
                     "reply (%s): it wants a client certificate (set "
                     "tls_cert and tls_key)",
                     transport);
        return LEADER_ETLS;
    }
    reason = ERR_reason_error_string(e);
    switch (ERR_GET_REASON(e)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNKNOWN_PROTOCOL:
        snprintf(out, len,
                 "TLS: the server answered in plain text: a plain-TCP "
                 "server behind rediss:// (%s)",
                 reason != NULL ? reason : "no TLS record");
        break;
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        snprintf(out, len,
                 "TLS: the server wants a client certificate (set tls_cert "
                 "and tls_key) or refused the handshake (%s)",
                 reason != NULL ? reason : "alert");
        break;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        snprintf(out, len,
                 "TLS: the server refused our client certificate (%s)",
                 reason != NULL ? reason : "alert");
        break;
    default:
        snprintf(out, len, "TLS: %s",
                 reason != NULL ? reason : "handshake failed");
    }
    return LEADER_ETLS;
}

int lio_tls_timed_out(SSL *ssl, long timeout_ms, char *out, size_t len)
{
    if (ssl == NULL || SSL_is_init_finished(ssl))
        return 0;
    snprintf(out, len,
             "TLS: handshake timeout: no TLS answer within %ld ms (a "
             "plain-TCP server behind rediss:// stays silent like this)",
             timeout_ms);
    return 1;
}
