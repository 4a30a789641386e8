/* exp for softmax (attention's scores, the softmax op) and SiLU, AVX2 + FMA: eight lanes a
 * step instead of a call to expf per element (prefill 512 on a Zen 3 VM: expf, fmaxf and the
 * scalar loops around them were 6.6% of the time).
 *
 * exp(x) = 2^n · e^r, n = round(x·log2 e), r = x - n·ln 2 (ln 2 in two parts, so r keeps its
 * low bits), e^r by a degree-5 minimax polynomial on |r| <= ln2/2 (the Cephes expf
 * coefficients): within 2 ulp of expf over the clamped range, checked against it in
 * test_kernels_x86. x is clamped to [-87, 88] so 2^n stays a normal float; below -87 the result
 * is 0 (expf's 2e-38 and less: nothing next to a softmax's largest term, which is 1). Tails
 * run through masked loads and stores, so every element takes the same path. */
#include <math.h>

#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx2.h"

static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 zero = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n: n + 127 in the exponent field (n in [-126, 127]: a normal float) */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(zero, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* Lanes 0..n-1 of a tail (n < 8) set. */
static inline __m256i tail_mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void gk_avx2_exp8(const float *x, float *y) { _mm256_storeu_ps(y, exp8(_mm256_loadu_ps(x))); }

float gk_avx2_scale_max(const float *x, float *y, int64_t n, float s) {
    const __m256 vs = _mm256_set1_ps(s);
    __m256 m = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(y + i, v);
        m = _mm256_max_ps(m, v);
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, k), vs);
        _mm256_maskstore_ps(y + i, k, v);
        m = _mm256_max_ps(m, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(k)));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

float gk_avx2_exp_sum(float *x, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        s = _mm256_add_ps(s, e);
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), vm)), _mm256_castsi256_ps(k));
        _mm256_maskstore_ps(x + i, k, e);
        s = _mm256_add_ps(s, e);
    }
    return gk_hsum_ps(s);
}

void gk_avx2_silu_mul(const float *g, const float *u, float *y, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(g + i);
        __m256 t = _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(t, _mm256_loadu_ps(u + i)));
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        __m256 v = _mm256_maskload_ps(g + i, k);
        __m256 t = _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(t, _mm256_maskload_ps(u + i, k)));
    }
}

/* The flash-attention softmax step (gk_ukernels.softmax_cols) eight columns a vector: the rows
 * are contiguous runs of queries, so the column maxima, exps and sums need no shuffle. A last
 * group of four columns goes through masked loads and stores. */
void gk_avx2_softmax_cols(float *s, int64_t rows, int nc, float *m, float *l, float *alpha) {
    for (int c0 = 0; c0 < nc; c0 += 8) {
        const __m256i k = tail_mask(nc - c0 < 8 ? nc - c0 : 8);
        __m256 mx = _mm256_maskload_ps(m + c0, k), sum = _mm256_setzero_ps();
        for (int64_t p = 0; p < rows; p++) mx = _mm256_max_ps(mx, _mm256_maskload_ps(s + p * nc + c0, k));
        for (int64_t p = 0; p < rows; p++) {
            const __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(s + p * nc + c0, k), mx));
            _mm256_maskstore_ps(s + p * nc + c0, k, e);
            sum = _mm256_add_ps(sum, e);
        }
        const __m256 a = exp8(_mm256_sub_ps(_mm256_maskload_ps(m + c0, k), mx)); /* -inf - m': 0 */
        _mm256_maskstore_ps(alpha + c0, k, a);
        _mm256_maskstore_ps(m + c0, k, mx);
        _mm256_maskstore_ps(l + c0, k, _mm256_fmadd_ps(_mm256_maskload_ps(l + c0, k), a, sum));
    }
}
