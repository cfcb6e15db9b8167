/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_common.c - what every fuzz target shares, in both builds. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    abort();
}
