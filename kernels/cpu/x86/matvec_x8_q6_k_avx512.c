/* Matrix-vector product (decode) for Q6_K weights in groups of eight rows (q6_k_x8.h) against
 * one row of Q8_K activations, on AVX-512 VNNI: the gk_matvec_x8_fn contract of microkernels.h.
 *
 * Lanes are rows, as in the other x8 kernels; one 64-byte load takes two vectors of a field
 * (lanes 0-7 the rows' bytes 4v..4v+3, lanes 8-15 their bytes 4v+4..4v+7) against activations
 * laid out to match (vpermd, done once per super-block in the pass's preparation). Per step
 * (eight l's of a half, ggml's loop variable of quant.h), three sequential 64-byte loads and
 * eleven mask/shift/OR operations give the 6-bit weights q of inputs l, l+32, l+64, l+96 as
 * unsigned bytes, and four vpdpbusd add them to four sub-blocks' Σ q·x; per two steps, four
 * conversions and FMAs apply those sub-blocks' scales in float (row r's in lanes r and r+8;
 * every product is an integer below 2^23, so exact). The weights are q − 32, so
 * 32·Σ_j sc_j·Σx_j is taken back per super-block from Q8_K's sums of 16 (vpdpwssd against the
 * scales as int16 pairs, eight lanes). Per super-block one FMA against d (8 rows, twice) · d_x;
 * lanes r and r+8 are added once, at the end. Two groups at a time from the two halves of the
 * rows, each prefetched 4 KiB ahead, one hint a cache line. Measured on an AMD Zen 5 VM, one
 * thread: tinyllama Q6_K decode 19.5 (row kernel) -> 32 token/s; this kernel alone (throwaway
 * harness, 30 pairs alternating in one process, 289 MiB from memory) 32 GB/s, where the scales
 * by vpmulld read 0.72-0.96× of it in L2, the fields in three separate regions (not step by
 * step) 0.89× from memory, and no prefetch 0.6×. Only called after the CPU was checked for
 * AVX512F/BW/VL/DQ and VNNI. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/q6_k_x8.h"
#include "kernels/cpu/x86/x8_avx512.h"
#include "kernels/cpu/x8_driver.h"

#define X8_INLINE static inline __attribute__((always_inline))

enum {
    Q8K_BYTES = 292, /* quant.h: float d, int8 qs[256], int16 bsums[16] */
    /* super-blocks of K per pass: one pass up to K = 12288 (llama-7b's 11008 included), so the
     * weights stream in one sweep; the prepared activations (96 KiB) then live in L2. Measured
     * (the harness below, K = 5632): 16 super-blocks a pass, two passes, 0.77× of this. */
    X8_PASS = 48,
    X8_PF = 4096, /* bytes of prefetch distance (as matvec_x8_avx512.c) */
};

/* The activations of inputs 128h + 32k + 8u .. +8 (k < 4) as vpdpbusd operands for vectors
 * (2u, 2u+1): lanes 0-7 the four bytes of 8u..8u+3, lanes 8-15 those of 8u+4.. . */
static void x8_act4(const uint8_t *x, int h, int u, __m512i xa[4]) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        xa[k] = gk_x8_dword_pair(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x + 128 * h + 32 * k))), 2 * u);
}

/* What depends on the activations alone, per super-block: the activations as x8_act4 lays them
 * out, d_x, and the sums of 16 in pairs (sub-blocks 2i and 2i+1 as two int16 in one int32; the
 * factor 32 is applied after the vpdpwssd, since 32 times a sum need not fit an int16). */
typedef struct x8_act {
    __m512i xa[X8_PASS][2][4][4]; /* [h][u][k]: x8_act4's operands for step u, input quarter k of half h */
    float dx[X8_PASS];
    int32_t pair[X8_PASS][8];
} x8_act;

static void x8_prepare(const uint8_t *x, int64_t nb, void *act) {
    x8_act *a = act;
    for (int64_t b = 0; b < nb; b++, x += Q8K_BYTES) {
        int16_t bs[16];
        memcpy(&a->dx[b], x, 4);
        memcpy(bs, x + 260, sizeof bs);
        for (int i = 0; i < 8; i++)
            a->pair[b][i] =
                (int32_t)((uint32_t)(uint16_t)bs[2 * i] | (uint32_t)(uint16_t)bs[2 * i + 1] << 16);
        for (int h = 0; h < 2; h++)
            for (int u = 0; u < 4; u++) x8_act4(x + 4, h, u, a->xa[b][h][u]);
    }
}

X8_INLINE void x8_prefetch(const uint8_t *p) {
    _mm_prefetch((const char *)((uintptr_t)p + X8_PF), _MM_HINT_T0);
}

/* Sub-block j's scale, row r's in lanes r and r+8, as float. */
X8_INLINE __m512 x8_scale(const uint8_t *g, int j) {
    int64_t s;
    memcpy(&s, g + GK_X8Q6_SC + 8 * j, 8);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_set1_epi64x(s)));
}

/* 32 · Σ_j sc_j · Σx_j of one super-block of one group, a row a lane (eight lanes): per pair of
 * sub-blocks, their 16 scale bytes interleaved row by row, widened, and one vpdpwssd against
 * the two sums (two chains). */
X8_INLINE __m256i x8_offset(const uint8_t *g, const int32_t pair[8]) {
    __m256i m[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        const __m128i s = _mm_loadu_si128((const __m128i *)(g + GK_X8Q6_SC + 16 * i));
        const __m256i p = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, _mm_srli_si128(s, 8)));
        m[i % 2] = _mm256_dpwssd_epi32(m[i % 2], p, _mm256_set1_epi32(pair[i]));
    }
    return _mm256_slli_epi32(_mm256_add_epi32(m[0], m[1]), 5);
}

/* t[k] += Σ q·x of inputs 128h + 32k + 8u .. +8 of one group (vectors 2u, 2u+1 of each field). */
X8_INLINE void x8_step(const uint8_t *g, int h, int u, const __m512i xa[4], __m512i t[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x30);
    const uint8_t *p = g + GK_X8Q6_STEPS + GK_X8Q6_STEP * (4 * h + u);
    x8_prefetch(p), x8_prefetch(p + 64), x8_prefetch(p + 128);
    const __m512i a = _mm512_loadu_si512((const void *)p), b = _mm512_loadu_si512((const void *)(p + 64));
    const __m512i c = _mm512_loadu_si512((const void *)(p + 128));
    t[0] = _mm512_dpbusd_epi32(
        t[0], _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_and_si512(_mm512_slli_epi16(c, 4), m2)), xa[0]);
    t[1] = _mm512_dpbusd_epi32(
        t[1], _mm512_or_si512(_mm512_and_si512(b, m4), _mm512_and_si512(_mm512_slli_epi16(c, 2), m2)), xa[1]);
    t[2] = _mm512_dpbusd_epi32(
        t[2], _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), m4), _mm512_and_si512(c, m2)), xa[2]);
    t[3] = _mm512_dpbusd_epi32(t[3],
                               _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(b, 4), m4),
                                               _mm512_and_si512(_mm512_srli_epi16(c, 2), m2)),
                               xa[3]);
}

/* dot += Σ_k sc_j · t[k], j = 8h + 2k + s. */
X8_INLINE __m512 x8_scaled(const uint8_t *g, int h, int s, const __m512i t[4], __m512 dot) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        dot = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t[k]), x8_scale(g, 8 * h + 2 * k + s), dot);
    return dot;
}

/* Half h of one super-block of groups g0 and (two) g1: dot0, dot1 += Σ_j sc_j · Σ q·x. The
 * sub-blocks of l in [16s, 16s+16) are 8h + 2k + s (k < 4), two steps u = 2s, 2s+1 each. */
X8_INLINE void x8_half(int two, const uint8_t *g0, const uint8_t *g1, int h, const __m512i xa[4][4],
                       __m512 *dot0, __m512 *dot1) {
#pragma GCC unroll 2
    for (int s = 0; s < 2; s++) {
        __m512i t0[4], t1[4];
        for (int k = 0; k < 4; k++) t0[k] = t1[k] = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int u = 2 * s; u < 2 * s + 2; u++) {
            x8_step(g0, h, u, xa[u], t0);
            if (two) x8_step(g1, h, u, xa[u], t1);
        }
        *dot0 = x8_scaled(g0, h, s, t0, *dot0);
        if (two) *dot1 = x8_scaled(g1, h, s, t1, *dot1);
    }
}

/* acc += d·d_x·(dot − 32·Σ_j sc_j·Σx_j) for one super-block of one group (the offset, an exact
 * int32, in lanes 0-7). */
X8_INLINE __m512 x8_finish(const uint8_t *g, __m512 dotf, const int32_t pair[8], float dx, __m512 acc) {
    const __m512 dot = _mm512_sub_ps(dotf, _mm512_zextps256_ps512(_mm256_cvtepi32_ps(x8_offset(g, pair))));
    return _mm512_fmadd_ps(_mm512_mul_ps(gk_x8_f16_rows2(g), _mm512_set1_ps(dx)), dot, acc);
}

/* Groups g0 and, when two, g1 over nb super-blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8_groups(int two, int64_t nb, const uint8_t *g0, const uint8_t *g1, const x8_act *a,
                         float *y0, float *y1, bool accumulate) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    for (int64_t b = 0; b < nb; b++, g0 += GK_X8Q6_BLOCK, g1 += GK_X8Q6_BLOCK) {
        x8_prefetch(g0), x8_prefetch(g0 + 64), x8_prefetch(g0 + 128);
        if (two) x8_prefetch(g1), x8_prefetch(g1 + 64), x8_prefetch(g1 + 128);
        __m512 dot0 = _mm512_setzero_ps(), dot1 = dot0;
        x8_half(two, g0, g1, 0, a->xa[b][0], &dot0, &dot1);
        x8_half(two, g0, g1, 1, a->xa[b][1], &dot0, &dot1);
        acc0 = x8_finish(g0, dot0, a->pair[b], a->dx[b], acc0);
        if (two) acc1 = x8_finish(g1, dot1, a->pair[b], a->dx[b], acc1);
    }
    gk_x8_store(acc0, _mm256_setzero_ps(), y0, accumulate);
    if (two) gk_x8_store(acc1, _mm256_setzero_ps(), y1, accumulate);
}

/* x: the pass's activations, read only through their preparation (a) here. */
static void x8_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                    float *y0, float *y1, bool accumulate) {
    (void)x;
    x8_groups(1, nb, g0, g1, a, y0, y1, accumulate);
}

static void x8_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y, bool accumulate) {
    (void)x;
    x8_groups(0, nb, g, g, a, y, y, accumulate);
}

void gk_avx512_matvec_x8_q6_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {256, GK_X8Q6_BLOCK, Q8K_BYTES, X8_PASS, x8_prepare, x8_pair, x8_one};
    x8_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
