/* SPDX-License-Identifier: BSD-3-Clause */
/* lu_ids.h - names derived for an election: the node-leader compatible
 * key, and random candidate ids. */
#ifndef LU_IDS_H
#define LU_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 40 hex digits of SHA-1(data) and a NUL to out[41].
 * Returns 0: it cannot fail (the int remains for the callers' checks). */
int lu_sha1_hex(const void *data, size_t len, char out[41]);

/* Writes a random UUIDv4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") and a
 * NUL to out[37]. Returns 0, or -1 if no randomness is available. */
int lu_uuid4(char out[37]);

/* Fills buf with random bytes from the kernel. Returns 0 or -1. */
int lu_random(void *buf, size_t len);

#endif
