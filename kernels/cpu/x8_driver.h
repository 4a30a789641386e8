/* The loop every matrix-vector kernel on weights in groups of eight rows runs around its
 * blocks (matvec_x8_*.c of each ISA; the layouts in q4_0_x8.h, q4_k_x8.h, q8_0_x8.h,
 * q6_k_x8.h): K in passes, so that what a kernel prepares from the activations alone stays in
 * L1; in each pass the groups two at a time, one from each half of the rows (two weight
 * streams a core, each activation vector built once for both), and a lone last group. Portable
 * C: the kernel's own functions do the ISA's work, and inlining turns the calls through `x8k`
 * into direct ones. */
#ifndef GK_X8_DRIVER_H
#define GK_X8_DRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gk_x8_kernel {
    int64_t block_inputs; /* inputs per block of the weight type (32 or 256) */
    size_t group_block;   /* bytes of one block of one group */
    size_t act_block;     /* bytes of one block of the activations (Q8_0 34, Q8_K 292) */
    int64_t pass;         /* blocks per pass: the size of the kernel's prepared activations */
    /* what depends on the activations alone, for nb blocks at x, into act */
    void (*prepare)(const uint8_t *x, int64_t nb, void *act);
    /* groups g0 and g1 (or g alone) over nb blocks against x: y0[0..8), y1[0..8) (+)= their rows · x */
    void (*pair)(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *act,
                 float *y0, float *y1, bool accumulate);
    void (*one)(int64_t nb, const uint8_t *g, const uint8_t *x, const void *act, float *y, bool accumulate);
} gk_x8_kernel;

/* y[0..8·ng) = the ng groups at w · x (k inputs); act: the kernel's prepared activations for a pass. */
static inline __attribute__((always_inline)) void gk_x8_drive(const gk_x8_kernel *x8k, int64_t k,
                                                              const void *w, int64_t ng, const void *xq,
                                                              void *act, float *y) {
    const int64_t nb = k / x8k->block_inputs, half = ng / 2;
    const size_t gb = (size_t)nb * x8k->group_block;
    const uint8_t *wg = w, *x = xq;
    for (int64_t b0 = 0; b0 < nb; b0 += x8k->pass) {
        const int64_t n = nb - b0 < x8k->pass ? nb - b0 : x8k->pass;
        const size_t wo = (size_t)b0 * x8k->group_block;
        const uint8_t *xp = x + (size_t)b0 * x8k->act_block;
        x8k->prepare(xp, n, act);
        for (int64_t i = 0; i < half; i++)
            x8k->pair(n, wg + (size_t)i * gb + wo, wg + (size_t)(i + half) * gb + wo, xp, act, y + 8 * i,
                      y + 8 * (i + half), b0 > 0);
        if (ng % 2) x8k->one(n, wg + (size_t)(ng - 1) * gb + wo, xp, act, y + 8 * (ng - 1), b0 > 0);
    }
}

#endif
