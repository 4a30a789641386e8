/* Activation quantisation for the AVX2 table: F32 rows -> Q8_0 and Q8_K blocks, byte-for-byte
 * equal to the scalar reference (kernels/quant.c): the same float operations in the same
 * order (x*id, C roundf = half away from zero, clamp), only eight lanes at a time. */
#include "kernels/cpu/x86/avx2.h"

#include "kernels/cpu/x86/simd_avx2.h"

/* roundf() of each lane: trunc(|v|) + (frac >= 0.5), sign restored. |v| - trunc(|v|) is exact,
 * so this matches roundf for every finite float (unlike floor(v + 0.5), which is off for
 * 0.49999997). */
static inline __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign, v);
    __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    t = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
    return _mm256_or_ps(t, _mm256_and_ps(sign, v));
}

/* 32 floats -> 32 int8: round(x*id) clamped to [lo, 127]. */
static inline __m256i quant32(const float *x, __m256 id, __m256 lo) {
    const __m256 hi = _mm256_set1_ps(127.0f);
    __m256i q[4];
    for (int i = 0; i < 4; i++) {
        __m256 v = round_half_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), id));
        /* x·id is NaN only as 0·inf (a subnormal block maximum makes 1/d overflow): such
         * elements quantise to 0, as the scalar reference does. */
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
        q[i] = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    }
    /* packs work within 128-bit lanes; the permute puts the four groups of 8 back in order. */
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

void gk_avx2_quantize_q8_0(const float *x, void *xq, int64_t k) {
    uint8_t *b = xq;
    for (int64_t i = 0; i < k / 32; i++, x += 32, b += 34) {
        __m256 m = abs_ps(_mm256_loadu_ps(x));
        for (int j = 8; j < 32; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
        float amax = hmax_ps(m);
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0;
        uint16_t h = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(b, &h, 2);
        __m256i q = quant32(x, _mm256_set1_ps(id), _mm256_set1_ps(-127.0f));
        _mm256_storeu_si256((__m256i *)(b + 2), q);
    }
}

/* Q8_K: the element of largest magnitude (the first one on ties) maps to -128. */
void gk_avx2_quantize_q8_k(const float *x, void *xq, int64_t k) {
    uint8_t *b = xq;
    for (int64_t i = 0; i < k / 256; i++, x += 256, b += 292) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 256; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
        float amax = hmax_ps(m), max = 0;
        if (amax > 0) {
            const __m256 am = _mm256_set1_ps(amax);
            for (int j = 0; j < 256; j += 8) {
                int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), am, _CMP_EQ_OQ));
                if (hit) {
                    max = x[j + __builtin_ctz((unsigned)hit)];
                    break;
                }
            }
        }
        float d = 0, id = 0;
        if (amax > 0) {
            id = -128.0f / max;
            d = 1.0f / id;
        }
        memcpy(b, &d, 4);
        const __m256 vid = _mm256_set1_ps(id), lo = _mm256_set1_ps(-128.0f);
        for (int j = 0; j < 256; j += 32) {
            __m256i q = quant32(x + j, vid, lo);
            _mm256_storeu_si256((__m256i *)(b + 4 + j), q);
            /* Two bsums of 16: widen to int16 and add pairs down to one per 16 bytes. */
            __m256i w = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);   /* 16 pair sums */
            __m256i s = _mm256_madd_epi16(w, _mm256_set1_epi16(1));     /* 8 quad sums */
            s = _mm256_hadd_epi32(s, s);                                /* lane-wise 4 sums */
            s = _mm256_hadd_epi32(s, s);                                /* [lo16, ., ., . | hi16] */
            int16_t s0 = (int16_t)_mm256_extract_epi32(s, 0), s1 = (int16_t)_mm256_extract_epi32(s, 4);
            memcpy(b + 260 + (j / 16) * 2, &s0, 2);
            memcpy(b + 262 + (j / 16) * 2, &s1, 2);
        }
    }
}
