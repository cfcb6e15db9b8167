/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_clock.c - see lu_clock.h. */
#include "util/fmacros.h"

#include <time.h>

#include "util/lu_clock.h"

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(LU_CLOCK_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t lu_now_ms(void)
{
    return now_ns() / 1000000;
}

int64_t lu_now_ms_ceil(void)
{
    return (now_ns() + 999999) / 1000000;
}
