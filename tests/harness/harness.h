/* SPDX-License-Identifier: BSD-3-Clause */
/* harness.h - the test harness of libleader: test definition and asserts.
 *
 * A test program is one or more files of
 *
 *     #include "harness.h"
 *
 *     TEST(parses_port)
 *     {
 *         ASSERT_EQ(parse_port("6379"), 6379);
 *     }
 *
 * linked with harness.c, which provides main(). Every TEST registers itself
 * before main() runs, and every test runs in a child process of its own, so
 * a failed assert, a crash or a hang ends that test only. tests/CMakeLists.txt
 * turns every TEST(name) into one CTest entry running `prog --only name`.
 *
 * A failed assert prints file:line, the expression and the values, then ends
 * the test process with status 1 (through exit(), so atexit handlers such as
 * the Redis fixture's cleanup run). SKIP ends it with status 77.
 */
#ifndef LEADER_TEST_HARNESS_H
#define LEADER_TEST_HARNESS_H

#include <stdint.h>
#include <stdlib.h>

typedef void (*harness_fn)(void);

/* Adds a test to the table; TEST() calls it from a constructor. A hidden
 * test is left out of --list and of a run of everything: it runs only with
 * --only NAME (the harness' own tests use these as deliberate failures). */
void harness_register(const char *name, const char *file, harness_fn fn,
                      int hidden);

/* The run's random seed: --seed N, else $LEADER_TEST_SEED, else taken from
 * the clock. It is printed at the start of every run so that a failure can
 * be replayed with --seed. */
uint64_t harness_seed(void);

/* The test's timeout in seconds (--timeout), for tests that size their own
 * waits. */
int harness_timeout(void);

_Noreturn void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void harness_skip(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void harness_fail_str(const char *file, int line, const char *expr_a,
                                const char *expr_b, const char *a,
                                const char *b);

#define HARNESS_DEFINE_(name, hidden)                                          \
    static void harness_test_##name(void);                                     \
    __attribute__((constructor)) static void harness_reg_##name(void)          \
    {                                                                          \
        harness_register(#name, __FILE__, harness_test_##name, hidden);        \
    }                                                                          \
    static void harness_test_##name(void)

/* Defines test NAME; the body follows as a function body. */
#define TEST(name) HARNESS_DEFINE_(name, 0)
/* Defines a test that runs only when asked for by --only NAME. */
#define TEST_HIDDEN(name) HARNESS_DEFINE_(name, 1)

/* FAIL(fmt, ...): fail the test with a message. */
#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)

/* SKIP(fmt, ...): the test cannot run here (exit status 77). Free what the
 * test allocated first: under LeakSanitizer a leak would turn the skip into
 * a failure. */
#define SKIP(...) harness_skip(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            harness_fail(__FILE__, __LINE__, "ASSERT(%s)", #cond);             \
    } while (0)

/* Integer comparisons. Both sides are evaluated once and compared as long
 * long, so mixing signed and unsigned operands compares their values. */
#define HARNESS_CMP_(a, op, b)                                                 \
    do {                                                                       \
        long long harness_a_ = (long long) (a);                                \
        long long harness_b_ = (long long) (b);                                \
        if (!(harness_a_ op harness_b_))                                       \
            harness_fail(__FILE__, __LINE__, "%s %s %s (%lld %s %lld)", #a,    \
                         #op, #b, harness_a_, #op, harness_b_);                \
    } while (0)

#define ASSERT_EQ(a, b) HARNESS_CMP_(a, ==, b)
#define ASSERT_NE(a, b) HARNESS_CMP_(a, !=, b)
#define ASSERT_LT(a, b) HARNESS_CMP_(a, <, b)
#define ASSERT_LE(a, b) HARNESS_CMP_(a, <=, b)
#define ASSERT_GT(a, b) HARNESS_CMP_(a, >, b)
#define ASSERT_GE(a, b) HARNESS_CMP_(a, >=, b)

/* ASSERT_OK(expr): expr must be 0 (the library's success code). */
#define ASSERT_OK(expr)                                                        \
    do {                                                                       \
        long long harness_v_ = (long long) (expr);                             \
        if (harness_v_ != 0)                                                   \
            harness_fail(__FILE__, __LINE__, "%s returned %lld, expected 0",   \
                         #expr, harness_v_);                                   \
    } while (0)

/* String equality; NULL equals only NULL. */
#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *harness_sa_ = (a);                                         \
        const char *harness_sb_ = (b);                                         \
        if (!harness_str_eq_(harness_sa_, harness_sb_))                        \
            harness_fail_str(__FILE__, __LINE__, #a, #b, harness_sa_,          \
                             harness_sb_);                                     \
    } while (0)

#define ASSERT_NULL(p)                                                         \
    do {                                                                       \
        const void *harness_p_ = (p);                                          \
        if (harness_p_ != NULL)                                                \
            harness_fail(__FILE__, __LINE__, "%s is %p, expected NULL", #p,    \
                         harness_p_);                                          \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                     \
    do {                                                                       \
        if ((p) == NULL)                                                       \
            harness_fail(__FILE__, __LINE__, "%s is NULL", #p);                \
    } while (0)

int harness_str_eq_(const char *a, const char *b);

#endif
