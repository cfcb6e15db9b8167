/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sha1.c - our SHA-1 against the standard's test vectors, the padding
 * at every block boundary, and messages fed in pieces. Election keys and
 * script digests must match what Redis and node-leader compute, so one
 * wrong bit here splits an election in two. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "util/lu_ids.h"
#include "util/lu_sha1.h"

/* SHA-1 of msg[0..len) fed in pieces of chunk bytes, as 40 hex digits. */
static const char *digest_chunked(const void *msg, size_t len, size_t chunk)
{
    static char hex[2 * LU_SHA1_LEN + 1];
    unsigned char md[LU_SHA1_LEN];
    const unsigned char *p = msg;
    struct lu_sha1 s;

    lu_sha1_init(&s);
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;
        lu_sha1_update(&s, p, n);
        p += n;
        len -= n;
    }
    lu_sha1_final(&s, md);
    for (int i = 0; i < LU_SHA1_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

static const char *digest(const char *msg)
{
    static char hex[41];

    ASSERT_OK(lu_sha1_hex(msg, strlen(msg), hex));
    return hex;
}

TEST(empty_message)
{
    ASSERT_STR_EQ(digest(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    ASSERT_STR_EQ(digest_chunked(NULL, 0, 1),
                  "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(abc)
{
    ASSERT_STR_EQ(digest("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* 448 bits: the padding no longer fits, so it takes a second block. */
TEST(two_block_message)
{
    ASSERT_STR_EQ(
        digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

/* 896 bits: two whole blocks of message, then a block of padding. */
TEST(multi_block_message)
{
    ASSERT_STR_EQ(digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklm"
                         "ghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                         "mnopqrstnopqrstu"),
                  "a49b2446a02c645bf419f995b67091253a04a259");
}

/* One million 'a': whole, in pieces that straddle block boundaries, and
 * in single bytes. */
TEST(one_million_a)
{
    static const char *want = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";
    static char a[1000000];

    memset(a, 'a', sizeof a);
    ASSERT_STR_EQ(digest_chunked(a, sizeof a, sizeof a), want);
    ASSERT_STR_EQ(digest_chunked(a, sizeof a, 1000), want);
    ASSERT_STR_EQ(digest_chunked(a, sizeof a, 97), want);
    ASSERT_STR_EQ(digest_chunked(a, sizeof a, 1), want);
}

/* Lengths around the places where the padding changes shape: 55 bytes is
 * the longest that pads within its block, 56 the shortest that needs one
 * more; 64 and 128 end exactly on a block. Digests from sha1sum(1). */
TEST(padding_at_block_boundaries)
{
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "7b271259bf2d2d3311f75d398745f5309ff76e09"},
        {56, "cc30d5bc02bd26f3da6c5801880078dad9a63032"},
        {63, "0807f7f930492f9e95070290aeac189e3721bf07"},
        {64, "ce2798652a5cbba06c6f736ddeca9724e479e5b7"},
        {65, "b0931a65ae5cf3e027199de5f7c56eb0f073c552"},
        {119, "c69516277e59324c6533caed0d3f7974cbc86061"},
        {120, "b265d110f022092352c9471f056c857b31ad79d8"},
        {128, "4e62cf8bbce5071fabccabebdee5ede47a596d2d"},
    };
    char q[128];

    memset(q, 'q', sizeof q);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_STR_EQ(digest_chunked(q, cases[i].len, cases[i].len),
                      cases[i].hex);
        ASSERT_STR_EQ(digest_chunked(q, cases[i].len, 7), cases[i].hex);
    }
}

/* Every way of cutting a message in three pieces gives the same digest as
 * the message whole. */
TEST(any_split_gives_the_same_digest)
{
    unsigned char msg[150];
    unsigned char whole[LU_SHA1_LEN], parts[LU_SHA1_LEN];
    struct lu_sha1 s;

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char) (i * 37 + 11);
    lu_sha1(msg, sizeof msg, whole);
    for (size_t i = 0; i <= sizeof msg; i++) {
        for (size_t j = i; j <= sizeof msg; j++) {
            lu_sha1_init(&s);
            lu_sha1_update(&s, msg, i);
            lu_sha1_update(&s, msg + i, j - i);
            lu_sha1_update(&s, msg + j, sizeof msg - j);
            lu_sha1_final(&s, parts);
            ASSERT_EQ(memcmp(whole, parts, sizeof whole), 0);
        }
    }
}
