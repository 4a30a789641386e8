/* Matrix-vector product (decode) for Q4_0 weights in groups of eight rows (q4_0_x8.h) against
 * one row of Q8_0 activations, on AVX-512 VNNI: the gk_matvec_x8_fn contract of microkernels.h.
 *
 * As the AVX2 kernel (matvec_x8_avx2.c), lanes are rows, but one 64-byte load takes two of a
 * block's four quant vectors: lanes 0-7 are the eight rows' bytes 4v..4v+3, lanes 8-15 their
 * bytes 4v+4..4v+7. The activations are laid out to match (lanes 0-7 the four bytes of v, lanes
 * 8-15 those of v+1: one vpermd of the block's 32 bytes each, shared by the two groups in
 * flight), and vpdpbusd (u8 × s8, summed in int32) takes the place of AVX2's vpmaddubsw +
 * int16 sums + vpmaddwd. Per block of one group: two loads, two ANDs, two shift+ANDs, four
 * vpdpbusd, then one conversion and one FMA against d_w (each row's scale in lanes r and
 * r+8) · d_x; the accumulator starts at −8·Σx in lanes 0-7 (Q4_0's weights are q−8). Lanes r
 * and r+8 are added once, at the end. Two groups at a time, from the two halves of the rows,
 * as in AVX2. Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/x86/qdot_avx2.h"
#include "kernels/cpu/x86/x8_avx512.h"
#include "kernels/cpu/x86/x8_q8_act.h"
#include "kernels/cpu/q4_0_x8.h"
#include "kernels/cpu/x8_driver.h"

#define X8_INLINE static inline __attribute__((always_inline))

/* The activations' d_x and −8·Σx per block (Q4_0's weights are q − 8). */
static void x8_prepare(const uint8_t *x, int64_t nb, void *a) { gk_x8_q8_prepare(x, nb, 8, a); }

/* The block's activations as vpdpbusd operands for quant vectors (0,1) and (2,3): xl for the low
 * nibbles (inputs 4v..4v+3), xh for the high (16+4v..). */
X8_INLINE void x8_act4(const uint8_t *x, __m512i xl[2], __m512i xh[2]) {
    const __m512i y = _mm512_castsi256_si512(qd_act(x));
    xl[0] = gk_x8_dword_pair(y, 0), xl[1] = gk_x8_dword_pair(y, 2);
    xh[0] = gk_x8_dword_pair(y, 4), xh[1] = gk_x8_dword_pair(y, 6);
}

/* acc += d_w · d_x · (Σ q·x − 8·Σx) for one block of one group (lanes r, r+8: row r's halves). */
X8_INLINE __m512 x8_block(const uint8_t *g, const __m512i xl[2], const __m512i xh[2], __m512i off, __m512 dx,
                          __m512 acc) {
    const __m512i m = _mm512_set1_epi8(0x0f);
    __m512i d = off;
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i q = _mm512_loadu_si512((const void *)(g + 16 + 64 * h));
        d = _mm512_dpbusd_epi32(d, _mm512_and_si512(q, m), xl[h]);
        d = _mm512_dpbusd_epi32(d, _mm512_and_si512(_mm512_srli_epi16(q, 4), m), xh[h]);
    }
    const __m512 s = _mm512_mul_ps(gk_x8_f16_rows2(g), dx);
    return _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(d), acc);
}

/* Two weight streams a core (groups from the two halves of the rows: x8_driver.h), each prefetched 4 KiB
 * ahead. Measured (throwaway harness, one thread, AMD Zen 5 VM, alternating variants in one
 * process, 40 pairs, 144-396 MiB of 2048- to 5632-row matrices from memory): prefetch 4 KiB
 * ahead against none 1.04-1.10× (median pair ratio), against 2 KiB 0.93-0.95×, 8 KiB 0.93-0.94×;
 * four streams against two 0.86-0.88×; this kernel against the AVX2 one (matvec_x8_avx2.c)
 * 1.18-1.26×. */
enum { X8_STREAMS = 2, X8_PF = 4096 };

/* A hint for the three cache lines X8_PF bytes past one block. The address is computed as an
 * integer: near the end of the weights it lies past them (a prefetch never faults), and pointer
 * arithmetic there would be undefined. */
X8_INLINE void x8_prefetch(const uint8_t *blk) {
    const uintptr_t p = (uintptr_t)blk + X8_PF;
    _mm_prefetch((const char *)p, _MM_HINT_T0);
    _mm_prefetch((const char *)(p + 64), _MM_HINT_T0);
    _mm_prefetch((const char *)(p + 128), _MM_HINT_T0);
}

/* n (1..X8_STREAMS) groups g[i] over nb blocks: y[i][0..8) (+)= their rows · x. */
X8_INLINE void x8_groups(int n, int64_t nb, const uint8_t *const g[], const uint8_t *x, const gk_x8_q8_act *a,
                         float *const y[], bool accumulate) {
    __m512 acc[X8_STREAMS];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, x += GK_Q8_0_BYTES) {
        __m512i xl[2], xh[2];
        x8_act4(x, xl, xh);
        const __m512i off = _mm512_zextsi256_si512(_mm256_set1_epi32(a->off[b]));
        const __m512 dx = _mm512_set1_ps(a->dx[b]);
#pragma GCC unroll 4
        for (int i = 0; i < n; i++) {
            const uint8_t *gb = g[i] + (size_t)b * GK_X8_BLOCK;
            x8_prefetch(gb);
            acc[i] = x8_block(gb, xl, xh, off, dx, acc[i]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) gk_x8_store(acc[i], _mm256_setzero_ps(), y[i], accumulate);
}

static void x8_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                    float *y0, float *y1, bool accumulate) {
    const uint8_t *g[X8_STREAMS] = {g0, g1};
    float *const y[X8_STREAMS] = {y0, y1};
    x8_groups(2, nb, g, x, a, y, accumulate);
}

static void x8_one(int64_t nb, const uint8_t *g0, const uint8_t *x, const void *a, float *y0,
                   bool accumulate) {
    const uint8_t *g[1] = {g0};
    float *const y[1] = {y0};
    x8_groups(1, nb, g, x, a, y, accumulate);
}

void gk_avx512_matvec_x8_q4_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {32,         GK_X8_BLOCK, GK_Q8_0_BYTES, GK_X8_Q8_PASS,
                                     x8_prepare, x8_pair,     x8_one};
    gk_x8_q8_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
