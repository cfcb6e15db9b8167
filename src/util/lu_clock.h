/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_clock.h - the one clock the library reads: CLOCK_BOOTTIME on Linux,
 * so time spent suspended counts against a lease; CLOCK_MONOTONIC
 * elsewhere. Never wall-clock time. */
#ifndef LU_CLOCK_H
#define LU_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The clock's id, for timers that must fire on it (timerfd_create). */
#ifdef CLOCK_BOOTTIME
#define LU_CLOCK_ID CLOCK_BOOTTIME
#else
#define LU_CLOCK_ID CLOCK_MONOTONIC
#endif

/* Milliseconds since an arbitrary point; never goes backwards. */
int64_t lu_now_ms(void);

/* Rounds up, so a deadline is never reported as passed too early. */
int64_t lu_now_ms_ceil(void);

#endif
