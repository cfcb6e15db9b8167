/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_sha1.h - SHA-1 (FIPS 180-4), our own, for the node-leader compatible
 * key names and the scripts' EVALSHA digests. Not for anything that needs
 * a secure hash: SHA-1 is broken for that, and we only need to compute the
 * same names as everyone else. */
#ifndef LU_SHA1_H
#define LU_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define LU_SHA1_LEN 20

/* The running state of one digest. Plain data: no allocation, so no free;
 * copy it to fork a digest. */
struct lu_sha1 {
    uint32_t h[5];         /* the intermediate hash value H0..H4 */
    uint64_t len;          /* bytes hashed so far */
    unsigned char buf[64]; /* the incomplete block */
    size_t used;           /* bytes in buf, always < 64 */
};

/* Starts a digest. */
void lu_sha1_init(struct lu_sha1 *s);

/* Hashes len more bytes of the message; any split gives the same digest. */
void lu_sha1_update(struct lu_sha1 *s, const void *data, size_t len);

/* Pads the message, writes its 20-byte digest to out. The state is spent:
 * call lu_sha1_init before using it again. */
void lu_sha1_final(struct lu_sha1 *s, unsigned char out[LU_SHA1_LEN]);

/* The whole message at once. */
void lu_sha1(const void *data, size_t len, unsigned char out[LU_SHA1_LEN]);

/* Writes the 40 hex digits of SHA-1(data) and a NUL to out[41].
 * Returns 0: it cannot fail (the int remains for the callers' checks). */
int lu_sha1_hex(const void *data, size_t len, char out[41]);

#endif
