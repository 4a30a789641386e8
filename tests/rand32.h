/* The kernel tests' inputs: a seeded xorshift32 (the same sequence on every machine and under
 * qemu) and vectors drawn from it. Define RAND32_SEED before including; each file keeps its own
 * sequence (rng_state may be reset between cases). */
#ifndef GC_TESTS_RAND32_H
#define GC_TESTS_RAND32_H

#include <stdint.h>
#include <stdlib.h>

#ifndef RAND32_SEED
#error "define RAND32_SEED (the file's seed of frand) before including tests/rand32.h"
#endif
static uint32_t rng_state = RAND32_SEED;

static inline float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static inline float *rand_vec(int64_t n, float scale) { /* malloc'd, uniform in ±scale */
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = frand() * scale;
    return v;
}

#endif
