/* gk_exp_fast: e^x for loops that must vectorise in portable C (the image family, training's
 * softmax, the scalar table's flash-attention softmax). */
#ifndef GK_CPU_EXP_FAST_H
#define GK_CPU_EXP_FAST_H
#include <stdint.h>
#include <string.h>

/* e^x in float without a library call or a branch, so loops over it vectorise (the attention's
 * softmax takes one per score: 134 M per head set of a 64×64 latent). Cephes' expf: x = n·ln2 + r
 * with |r| <= ln2/2 (ln2 split in two for an exact product), a degree-6 polynomial for e^r, 2^n
 * built in the exponent bits. Within 2 ulp of expf over the clamped range; x is clamped to
 * [-87.3, 88.3] so 2^n stays a normal float (e^-87.3 ≈ 1.2e-38 stands in for 0, which only
 * ever multiplies a running sum that is then swamped by the new maximum's terms). NaN is not
 * handled (the callers' inputs are finite or -inf). */
static inline float gk_exp_fast(float x) {
    /* The clamp on the bits as integers: a float compare may trap (-ftrapping-math), so GCC
     * would keep it a branch and vectorise nothing. Negative floats order as int32 reversed. */
    const float flo = -87.3365f, fhi = 88.3762f;
    int32_t i, lo, hi;
    memcpy(&i, &x, sizeof i), memcpy(&lo, &flo, sizeof lo), memcpy(&hi, &fhi, sizeof hi);
    i = i < 0 && i > lo ? lo : i;   /* below -87.3 (and -inf) */
    i = i > hi ? hi : i;            /* above 88.3 (and +inf) */
    memcpy(&x, &i, sizeof x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;   /* round to nearest */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

#endif
