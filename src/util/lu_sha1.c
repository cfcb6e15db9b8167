/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_sha1.c - see lu_sha1.h. Written from FIPS 180-4 (sections 4.1.1,
 * 4.2.1, 5.1.1, 5.3.1 and 6.1), so that the library needs no crypto library
 * for the one hash it uses: libcrypto alone made up most of an idle
 * process' memory. Section numbers below refer to that standard. */
#include "util/lu_sha1.h"

#include <string.h>

static uint32_t rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
           (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

/* One 512-bit block into the hash value (6.1.2). */
static void compress(uint32_t h[5], const unsigned char block[64])
{
    uint32_t w[80];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    /* The message schedule: 16 words of the block, then each word the
     * rotated XOR of four earlier ones. */
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    /* Four rounds of 20 steps, each with its own function (4.1.1) and
     * constant (4.2.1): Ch, Parity, Maj, Parity. */
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;

        if (t < 20) {
            f = (b & c) ^ (~b & d);
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) ^ (b & d) ^ (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = tmp;
    }

    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void lu_sha1_init(struct lu_sha1 *s)
{
    /* The initial hash value (5.3.1). */
    s->h[0] = 0x67452301;
    s->h[1] = 0xefcdab89;
    s->h[2] = 0x98badcfe;
    s->h[3] = 0x10325476;
    s->h[4] = 0xc3d2e1f0;
    s->len = 0;
    s->used = 0;
}

void lu_sha1_update(struct lu_sha1 *s, const void *data, size_t len)
{
    const unsigned char *p = data;

    /* Nothing to do; and data may then be NULL, which memcpy must not see. */
    if (len == 0)
        return;
    s->len += len;
    /* Top up a block left incomplete by an earlier call first. */
    if (s->used > 0) {
        size_t n = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->buf + s->used, p, n);
        s->used += n;
        p += n;
        len -= n;
        if (s->used < 64)
            return;
        compress(s->h, s->buf);
        s->used = 0;
    }
    /* Whole blocks straight from the caller's memory, without a copy. */
    for (; len >= 64; p += 64, len -= 64)
        compress(s->h, p);
    memcpy(s->buf, p, len);
    s->used = len;
}

void lu_sha1_final(struct lu_sha1 *s, unsigned char out[LU_SHA1_LEN])
{
    /* The message length in bits, taken before the padding changes len.
     * The standard allows messages below 2^64 bits; ours are tiny. */
    uint64_t bits = s->len * 8;

    /* Padding (5.1.1): a 1 bit, zeros up to 56 bytes into a block, then
     * the length as a 64-bit big-endian number. When fewer than 9 bytes
     * are left in this block, the zeros run into one more block. */
    s->buf[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->buf + s->used, 0, 64 - s->used);
        compress(s->h, s->buf);
        s->used = 0;
    }
    memset(s->buf + s->used, 0, 56 - s->used);
    store_be32(s->buf + 56, (uint32_t) (bits >> 32));
    store_be32(s->buf + 60, (uint32_t) bits);
    compress(s->h, s->buf);

    for (int i = 0; i < 5; i++)
        store_be32(out + 4 * i, s->h[i]);
}

void lu_sha1(const void *data, size_t len, unsigned char out[LU_SHA1_LEN])
{
    struct lu_sha1 s;

    lu_sha1_init(&s);
    lu_sha1_update(&s, data, len);
    lu_sha1_final(&s, out);
}

int lu_sha1_hex(const void *data, size_t len, char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[LU_SHA1_LEN];

    lu_sha1(data, len, md);
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * sizeof md] = '\0';
    return 0;
}
