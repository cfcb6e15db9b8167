/* SPDX-License-Identifier: BSD-3-Clause */
/* chaos_check_main.c - leader-chaos-check HBLOG FAULTLOG: judges a chaos
 * run again from its two logs (kept with leader-chaos --keep), to study a
 * failure without running it again. Exit 0 clean, 1 on any finding, 2 when
 * the logs cannot be read. */
#include <stdio.h>

#include "chaos_check.h"

int main(int argc, char **argv)
{
    chaos_result res;

    if (argc != 3) {
        fprintf(stderr, "usage: leader-chaos-check HBLOG FAULTLOG\n");
        return 2;
    }
    if (chaos_check(argv[1], argv[2], stdout, &res) != 0)
        return 2;
    return chaos_verdict(&res);
}
