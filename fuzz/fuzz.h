/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the libFuzzer targets and their gcc-built replay driver (replay.c). */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Inputs made of several documents separate them with this line (JSON text cannot hold a
 * line of its own made of it, so a valid document never contains it). */
#define FUZZ_SEP "\n====\n"

/* Split data at FUZZ_SEP into at most max parts (the last one keeps any further separator).
 * Returns the number of parts (at least 1). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                                size_t max)
{
    size_t n = 0, seplen = strlen(FUZZ_SEP);
    while (n + 1 < max) {
        const uint8_t *s = memmem(data, size, FUZZ_SEP, seplen);
        if (!s)
            break;
        part[n] = data;
        len[n++] = (size_t)(s - data);
        size -= (size_t)(s - data) + seplen;
        data = s + seplen;
    }
    part[n] = data;
    len[n++] = size;
    return n;
}

/* An invariant the code under test broke: crash loudly so the fuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
