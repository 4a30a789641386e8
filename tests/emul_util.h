/* What the CUDA host-emulation tests share: a seeded uniform generator, device-like buffers
 * (256-byte aligned and zeroed, as cudaMalloc's are, so a misaligned vector access fails here
 * too) and the check of the memory-transaction model's sector efficiency per buffer. Included
 * after cmocka.h and kernels/cuda/simt.cuh (gk_mem_buf), with EMUL_SEED defined: each test
 * file draws its own sequence. */
#ifndef GC_TESTS_EMUL_UTIL_H
#define GC_TESTS_EMUL_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EMUL_SEED
#error "define EMUL_SEED (the file's seed of frand) before including tests/emul_util.h"
#endif
static uint64_t rng_state = EMUL_SEED;

static inline float frand(void) { /* xorshift64, uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}

static inline void *dalloc(size_t bytes) { /* device-like: 256-byte aligned, zeroed */
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    assert_non_null(p);
    memset(p, 0, bytes);
    return p;
}

static inline float *rnd(int64_t n, float scale) { /* n device-like floats, uniform in ±scale */
    float *p = dalloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}

/* Percent of the fetched sector bytes a buffer's loads (st 0) or stores (st 1) used; -1 if none. */
static inline double eff(const gk_mem_buf *b, int st) {
    const uint64_t sec = st ? b->st_sectors : b->ld_sectors, used = st ? b->st_used : b->ld_used;
    return sec ? 100.0 * (double)used / (32.0 * (double)sec) : -1.0;
}

/* Prints each buffer's figures; every one listed in want (buffer, 'l'/'s', percent) must match to
 * 0.01 points, and each buffer accessed must be listed. */
typedef struct eff_want { const char *buf; char kind; double pct; } eff_want;
static inline void check_eff(const char *kernel, const gk_mem_buf *b, int n, const eff_want *want, int nw) {
    printf("sectors  %-22s", kernel);
    int seen = 0;
    for (int i = 0; i < n; i++)
        for (int st = 0; st < 2; st++) {
            if (!(st ? b[i].st_req : b[i].ld_req)) continue;
            const double pct = eff(&b[i], st);
            printf("  %s %s %6.2f%%", b[i].name, st ? "st" : "ld", pct);
            const eff_want *w = NULL;
            for (int j = 0; j < nw; j++)
                if (!strcmp(want[j].buf, b[i].name) && want[j].kind == (st ? 's' : 'l')) w = &want[j];
            if (!w) fail_msg("%s: %s %s at %.2f%% has no expected figure", kernel, b[i].name, st ? "stores" : "loads", pct);
            if (fabs(pct - w->pct) > 0.006)
                fail_msg("%s: %s %s use %.2f%% of their sector bytes, expected %.2f%%", kernel, b[i].name,
                         st ? "stores" : "loads", pct, w->pct);
            seen++;
        }
    printf("\n");
    if (seen != nw) fail_msg("%s: %d figures expected, %d measured", kernel, nw, seen);
}

#endif
