/* Packed integer GEMM for Q4_0 and Q8_0 weights × Q8_0 activations with AVX2 (the many-column path of
 * cpu_matmul.c; same 16-row panel and packed-activation layouts as igemm_avx512.c, microkernels.h).
 *
 * Vector lanes are weight rows: one 64-byte group of a panel (four inputs of 16 rows) is two
 * ymm, rows 0..7 and 8..15. Without VNNI the product of the unsigned weight bytes and one
 * column's four activation bytes (broadcast) is vpmaddubsw (u8 × s8 → pair sums as int16,
 * saturating) then vpmaddwd by ones (→ int32). Q4_0 weights are nibbles 0..15 and activations
 * -128..127, so a pair sum is at most 2·15·128 = 3840 in magnitude, and the eight groups of a
 * block add up to at most 30720: they are summed as int16 without overflow (exact) and widened
 * once per block. Q8_0 weights stored as w+128 would saturate vpmaddubsw: they are split into two
 * nibbles (the second half of this file). The offset 8 comes back through the column's block sum, as in the
 * dot kernels; each block's int32 sum is scaled by (16 row scales) × (column scale) into float.
 * Four columns at a time: 8 int16 + 8 float accumulators, each panel vector used 4 times. */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/igemm_avx2.h"
#include "kernels/cpu/x86/igemm_columns.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    IG_ROWS = 16,
    IG_QBYTES = IG_ROWS * 32,             /* unsigned weights of one block */
    IG_BLOCK = IG_QBYTES + IG_ROWS * 4,   /* + the 16 row scales as float */
    IG_NC = 4,                            /* columns per register block */
    Q4_BYTES = 18,                        /* Q4_0 block: f16 scale, 16 bytes of nibbles */
    Q4_OFFSET = 8,
};

/* Row r's 32 weights of one block as 8 dwords (groups 0..7, four nibbles each): element i is
 * the low nibble of byte i, element i+16 the high one. Zero for rows past those packed. */
V_INLINE __m256i q4_row(const uint8_t *w, size_t wrow, int rows, int r, size_t off) {
    if (r >= rows) return _mm256_setzero_si256();
    __m128i v = _mm_loadu_si128((const __m128i *)(w + (size_t)r * wrow + off + 2));
    const __m128i m = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* Rows 8h..8h+7 (one dword per group each) transposed to group-major order (igemm_avx2.h):
 * group g's eight row dwords at dst + 64g + 32h. */
V_INLINE void pack_half(const uint8_t *w, size_t wrow, int rows, int h, size_t off, uint8_t *dst) {
    __m256i r[8];
    for (int i = 0; i < 8; i++) r[i] = q4_row(w, wrow, rows, 8 * h + i, off);
    gk_igemm_transpose8x8(r, h, dst);
}

void gk_avx2_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q4_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * IG_BLOCK;
        pack_half(wb, wrow, rows, 0, off, dst);
        pack_half(wb, wrow, rows, 1, off, dst);
        uint16_t hs[IG_ROWS];
        for (int r = 0; r < IG_ROWS; r++) {
            hs[r] = 0;   /* scale 0 past the packed rows */
            if (r < rows) memcpy(&hs[r], wb + (size_t)r * wrow + off, 2);
        }
        __m128i h0, h1;
        memcpy(&h0, hs, 16);
        memcpy(&h1, hs + 8, 16);
        _mm256_storeu_ps((float *)(dst + IG_QBYTES), _mm256_cvtph_ps(h0));
        _mm256_storeu_ps((float *)(dst + IG_QBYTES + 32), _mm256_cvtph_ps(h1));
    }
}


V_INLINE void add_rows(float *y, __m256 lo, __m256 hi, int nr) {
    if (nr == IG_ROWS) {
        _mm256_storeu_ps(y, _mm256_add_ps(_mm256_loadu_ps(y), lo));
        _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_loadu_ps(y + 8), hi));
        return;
    }
    float t[IG_ROWS];
    _mm256_storeu_ps(t, lo);
    _mm256_storeu_ps(t + 8, hi);
    for (int r = 0; r < nr; r++) y[r] += t[r];
}

/* cn (a constant after inlining) columns of one activation group, from column co, × one panel
 * over nb blocks, added into y (nr rows). */
V_INLINE void ig_cols(int cn, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y, int64_t ldy,
                      int nr) {
    const uint8_t *xv = xp + 32 * co, *xs = xp + GK_IGEMM_COLS * 32 + 4 * co;   /* values; scales then sums */
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 f[IG_NC][2];
#pragma GCC unroll 4
    for (int c = 0; c < cn; c++) f[c][0] = f[c][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * IG_BLOCK;
        const uint8_t *xb = xv + (size_t)b * GK_IGEMM_ACT_BYTES;
        __m256i s[IG_NC][2];
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i p0 = _mm256_loadu_si256((const __m256i *)(pb + 64 * g));
            __m256i p1 = _mm256_loadu_si256((const __m256i *)(pb + 64 * g + 32));
#pragma GCC unroll 4
            for (int c = 0; c < cn; c++) {
                __m256i x = _mm256_set1_epi32(gk_ld_i32(xb + 32 * c + 4 * g));
                __m256i m0 = _mm256_maddubs_epi16(p0, x), m1 = _mm256_maddubs_epi16(p1, x);
                s[c][0] = g ? _mm256_add_epi16(s[c][0], m0) : m0;
                s[c][1] = g ? _mm256_add_epi16(s[c][1], m1) : m1;
                /* keep the sums a chain: otherwise gcc reassociates them into all 64 products at
                 * once and spills most of them */
                __asm__("" : "+x"(s[c][0]), "+x"(s[c][1]));
            }
        }
        const __m256 w0 = _mm256_loadu_ps((const float *)(pb + IG_QBYTES));
        const __m256 w1 = _mm256_loadu_ps((const float *)(pb + IG_QBYTES + 32));
        const uint8_t *sb = xs + (size_t)b * GK_IGEMM_ACT_BYTES;
#pragma GCC unroll 4
        for (int c = 0; c < cn; c++) {
            float d;
            memcpy(&d, sb + 4 * c, 4);
            const __m256 vd = _mm256_set1_ps(d);
            const __m256i o = _mm256_set1_epi32(-Q4_OFFSET * gk_ld_i32(sb + 4 * GK_IGEMM_COLS + 4 * c));
            __m256i i0 = _mm256_add_epi32(_mm256_madd_epi16(s[c][0], ones), o);
            __m256i i1 = _mm256_add_epi32(_mm256_madd_epi16(s[c][1], ones), o);
            f[c][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_mul_ps(w0, vd), f[c][0]);
            f[c][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_mul_ps(w1, vd), f[c][1]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < cn; c++) add_rows(y + (int64_t)c * ldy, f[c][0], f[c][1], nr);
}

void gk_avx2_igemm_q4_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    const uint8_t *p = panel;
#define COLS(n, xg, co, yc) ig_cols(n, nb, p, xg, co, yc, ldy, nr)
    GK_IGEMM_FOR_COLUMNS(nc, (const uint8_t *)xp, group_bytes, y, ldy, IG_NC, COLS);
#undef COLS
}

/* ---- Q8_0 weights: each byte u = w + 128 split into two nibbles ---------------------------
 * Σ w·x = 16·Σ uh·x + Σ ul·x - 128·Σ x with ul = u & 15, uh = u >> 4: two vpmaddubsw of the
 * same unsigned 0..15 kind as Q4_0's (so the same int16 bound, exact over a block), instead of
 * one on u, which would saturate. The pack splits once per weight: per block, the low nibbles
 * in Q4_0's group-major layout (IG_QBYTES), then the high nibbles in the same layout, then the
 * 16 row scales as float (IG8_BLOCK bytes; this pack/kernel pair's own layout, not the shared
 * one of microkernels.h, which the AVX-512 Q8_0 pair keeps). Twice Q4_0's products per block,
 * so two columns a register block: 8 int16 + 4 float accumulators. */
enum { IG8_BLOCK = 2 * IG_QBYTES + IG_ROWS * 4, IG8_NC = 2, Q8_BYTES = 34, Q8_OFFSET = 128 };
_Static_assert((int)IG8_BLOCK == (int)GK_AVX2_IGEMM_Q8_0_BLOCK, "the table sizes the panels by avx2.h's figure");

/* Row r's 32 weights of one block as u = w + 128, low (hi = 0) or high (hi = 1) nibbles. */
V_INLINE __m256i q8_row(const uint8_t *w, size_t wrow, int rows, int r, size_t off, int hi) {
    if (r >= rows) return _mm256_setzero_si256();
    __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + (size_t)r * wrow + off + 2)),
                                 _mm256_set1_epi8((char)0x80));
    if (hi) u = _mm256_srli_epi16(u, 4);
    return _mm256_and_si256(u, _mm256_set1_epi8(0x0f));
}

void gk_avx2_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q8_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * IG8_BLOCK;
        for (int part = 0; part < 2; part++)
            for (int h = 0; h < 2; h++) {
                __m256i r[8];
                for (int i = 0; i < 8; i++) r[i] = q8_row(wb, wrow, rows, 8 * h + i, off, part);
                gk_igemm_transpose8x8(r, h, dst + part * IG_QBYTES);
            }
        float s[IG_ROWS];
        for (int r = 0; r < IG_ROWS; r++) s[r] = r < rows ? gk_ld_f16(wb + (size_t)r * wrow + off) : 0.0f;
        memcpy(dst + 2 * IG_QBYTES, s, sizeof s);
    }
}

/* cn <= 2 columns (a constant after inlining); otherwise as ig_cols. */
V_INLINE void ig8_cols2(int cn, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y, int64_t ldy,
                        int nr) {
    const uint8_t *xv = xp + 32 * co, *xs = xp + GK_IGEMM_COLS * 32 + 4 * co;   /* values; scales then sums */
    const __m256i ones = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    __m256 f[IG8_NC][2];
    for (int c = 0; c < cn; c++) f[c][0] = f[c][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * IG8_BLOCK;
        const uint8_t *xb = xv + (size_t)b * GK_IGEMM_ACT_BYTES;
        __m256i lo[IG8_NC][2], hi[IG8_NC][2];
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(pb + 64 * g));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(pb + 64 * g + 32));
            const __m256i h0 = _mm256_loadu_si256((const __m256i *)(pb + IG_QBYTES + 64 * g));
            const __m256i h1 = _mm256_loadu_si256((const __m256i *)(pb + IG_QBYTES + 64 * g + 32));
#pragma GCC unroll 2
            for (int c = 0; c < cn; c++) {
                const __m256i x = _mm256_set1_epi32(gk_ld_i32(xb + 32 * c + 4 * g));
                const __m256i m[4] = {_mm256_maddubs_epi16(l0, x), _mm256_maddubs_epi16(l1, x),
                                      _mm256_maddubs_epi16(h0, x), _mm256_maddubs_epi16(h1, x)};
                lo[c][0] = g ? _mm256_add_epi16(lo[c][0], m[0]) : m[0];
                lo[c][1] = g ? _mm256_add_epi16(lo[c][1], m[1]) : m[1];
                hi[c][0] = g ? _mm256_add_epi16(hi[c][0], m[2]) : m[2];
                hi[c][1] = g ? _mm256_add_epi16(hi[c][1], m[3]) : m[3];
                __asm__("" : "+x"(lo[c][0]), "+x"(lo[c][1]), "+x"(hi[c][0]), "+x"(hi[c][1]));   /* see ig_cols */
            }
        }
        const __m256 w0 = _mm256_loadu_ps((const float *)(pb + 2 * IG_QBYTES));
        const __m256 w1 = _mm256_loadu_ps((const float *)(pb + 2 * IG_QBYTES + 32));
        const uint8_t *sb = xs + (size_t)b * GK_IGEMM_ACT_BYTES;
#pragma GCC unroll 2
        for (int c = 0; c < cn; c++) {
            float d;
            memcpy(&d, sb + 4 * c, 4);
            const __m256 vd = _mm256_set1_ps(d);
            const __m256i o = _mm256_set1_epi32(-Q8_OFFSET * gk_ld_i32(sb + 4 * GK_IGEMM_COLS + 4 * c));
            for (int h = 0; h < 2; h++) {
                __m256i i = _mm256_add_epi32(_mm256_madd_epi16(lo[c][h], ones), _mm256_madd_epi16(hi[c][h], sixteen));
                i = _mm256_add_epi32(i, o);
                f[c][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(h ? w1 : w0, vd), f[c][h]);
            }
        }
    }
    for (int c = 0; c < cn; c++) add_rows(y + (int64_t)c * ldy, f[c][0], f[c][1], nr);
}

/* Any cn the column split asks for (4, 2, 1), two at a time. */
V_INLINE void ig8_cols(int cn, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y, int64_t ldy,
                       int nr) {
    for (; cn >= 2; cn -= 2, co += 2, y += 2 * ldy) ig8_cols2(2, nb, panel, xp, co, y, ldy, nr);
    if (cn) ig8_cols2(1, nb, panel, xp, co, y, ldy, nr);
}

void gk_avx2_igemm_q8_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    const uint8_t *p = panel;
#define COLS(n, xg, co, yc) ig8_cols(n, nb, p, xg, co, yc, ldy, nr)
    GK_IGEMM_FOR_COLUMNS(nc, (const uint8_t *)xp, group_bytes, y, ldy, IG8_NC, COLS);
#undef COLS
}
