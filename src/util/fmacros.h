/* SPDX-License-Identifier: BSD-3-Clause */
/* fmacros.h - feature macros, included first by every file that needs
 * POSIX or Linux interfaces beyond C11. */
#ifndef LU_FMACROS_H
#define LU_FMACROS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#endif
