/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz.h - the entry point every fuzz target defines: libFuzzer's, so the
 * same file builds as a libFuzzer target (make fuzz) and as a corpus
 * replayer linked with replay.c (the test suite). */
#ifndef LEADER_FUZZ_H
#define LEADER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message: an input broke an invariant. */
_Noreturn void fuzz_fail(const char *what);

#endif
