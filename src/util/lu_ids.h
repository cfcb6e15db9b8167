/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_ids.h - names derived for an election: the node-leader compatible
 * key, and random candidate ids. */
#ifndef LU_IDS_H
#define LU_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "util/lu_sha1.h" /* lu_sha1_hex(), for the key */

/* Writes a random UUIDv4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") and a
 * NUL to out[37]. Returns 0, or -1 if no randomness is available. */
int lu_uuid4(char out[37]);

/* Fills buf with random bytes from the kernel. Returns 0 or -1. */
int lu_random(void *buf, size_t len);

#endif
