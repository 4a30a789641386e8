/* The packed 6-bit scales and mins of a Q4_K super-block, decoded for the x86 K-quant kernels
 * (kquants_avx2.c, kquants_avx512.c; SSE2 only, so either ISA's file may include it). */
#ifndef GK_KQUANT_SCALES_H
#define GK_KQUANT_SCALES_H
#include <emmintrin.h>
#include <stdint.h>
#include <string.h>

/* The eight 6-bit scales and eight mins of a Q4_K super-block as sixteen bytes: scales in
 * bytes 0..7, mins in 8..15. Layout (ggml get_scale_min_k4), bytes s[0..11]:
 *   j < 4:  scale = s[j] & 63,                     min = s[j+4] & 63
 *   j >= 4: scale = s[j+4] & 15 | (s[j-4] >> 6) << 4, min = s[j+4] >> 4 | (s[j] >> 6) << 4
 * done four bytes at a time in 32-bit words (byte-wise masks keep the bytes apart). */
static inline __m128i gk_q4k_scales_mins(const uint8_t *s) {
    uint32_t w0, w1, w2;
    memcpy(&w0, s, 4);
    memcpy(&w1, s + 4, 4);
    memcpy(&w2, s + 8, 4);
    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
    uint32_t sc_lo = w0 & lo6, mn_lo = w1 & lo6;
    uint32_t sc_hi = (w2 & lo4) | ((w0 >> 6) & lo2) << 4;
    uint32_t mn_hi = ((w2 >> 4) & lo4) | ((w1 >> 6) & lo2) << 4;
    return _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi);
}

#endif
