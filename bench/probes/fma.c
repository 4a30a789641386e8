/* Peak FP32 FMA throughput: every pool worker runs CHAINS independent accumulators through
 * x = x*m + c for ITERS steps. Twelve chains cover latency × issue width on current cores
 * (4-cycle FMA × 2 pipes = 8 in flight on Zen and Intel client/server; 4 × 4 on Apple M1 needs
 * 16 NEON chains, so NEON uses 16). m and c keep every value near 1 (no overflow, no
 * subnormals, no slow paths). The ISA bodies carry target attributes, so this file builds with
 * the project's base flags and each body runs only after the CPU was checked for it. */
#include "bench/probes/fma.h"

#include <stdio.h>
#include <string.h>

#include "kernels/platform.h"

#define ITERS 200000L
#define PROBE_SECONDS 0.3

typedef double (*fma_body)(long iters);   /* returns a checksum so nothing is optimised away */

#if defined(__x86_64__)
#include <immintrin.h>
#define X86_BODY(name, attr, vec, set1, fma, add, red, lanes)                                    \
    __attribute__((target(attr))) static double name(long iters) {                           \
        const vec m = set1(0.9999999f), c = set1(1e-7f);                                      \
        vec a0 = set1(1.0f), a1 = set1(1.1f), a2 = set1(1.2f), a3 = set1(1.3f);               \
        vec a4 = set1(1.4f), a5 = set1(1.5f), a6 = set1(1.6f), a7 = set1(1.7f);               \
        vec a8 = set1(1.8f), a9 = set1(1.9f), a10 = set1(2.0f), a11 = set1(2.1f);             \
        for (long i = 0; i < iters; i++) {                                                    \
            a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);     \
            a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);     \
            a8 = fma(a8, m, c); a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c); \
            __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3));                    \
        }                                                                                     \
        vec s = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));            \
        s = add(s, add(add(a8, a9), add(a10, a11)));                                          \
        return (double)red(s);                                                                \
    }
__attribute__((target("avx2,fma"))) static float hsum256(__m256 v) {
    float f[8];
    _mm256_storeu_ps(f, v);
    return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
X86_BODY(body_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, hsum256, 8)
X86_BODY(body_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_reduce_add_ps, 16)
#define CHAINS 12
#elif defined(__aarch64__)
#include <arm_neon.h>
static double body_neon(long iters) {
    const float32x4_t m = vdupq_n_f32(0.9999999f), c = vdupq_n_f32(1e-7f);
    float32x4_t a[16];
    for (int j = 0; j < 16; j++) a[j] = vdupq_n_f32(1.0f + 0.1f * (float)j);
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 16; j++) a[j] = vfmaq_f32(c, a[j], m);
    float32x4_t s = a[0];
    for (int j = 1; j < 16; j++) s = vaddq_f32(s, a[j]);
    return (double)vaddvq_f32(s);
}
#define NEON_CHAINS 16
#endif

/* Scalar fallback for other targets: fmaf chains (12), one lane. */
#include <math.h>
static double body_scalar(long iters) {
    float a[12];
    for (int j = 0; j < 12; j++) a[j] = 1.0f + 0.1f * (float)j;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 12; j++) a[j] = fmaf(a[j], 0.9999999f, 1e-7f);
    double s = 0;
    for (int j = 0; j < 12; j++) s += a[j];
    return s;
}

typedef struct isa_body {
    const char *name;
    fma_body body;
    int lanes, chains;
} isa_body;

/* Widest first. */
static int bodies(isa_body *out) {
    int n = 0;
    const gk_cpu_features *f = gk_cpu_features_get();
    (void)f;
#if defined(__x86_64__)
    if (f->avx512f) out[n++] = (isa_body){"avx512", body_avx512, 16, CHAINS};
    if (f->avx2 && f->fma) out[n++] = (isa_body){"avx2", body_avx2, 8, CHAINS};
#elif defined(__aarch64__)
    out[n++] = (isa_body){"neon", body_neon, 4, NEON_CHAINS};
#endif
    out[n++] = (isa_body){"scalar", body_scalar, 1, 12};
    return n;
}

typedef struct fma_job {
    fma_body body;
    long iters;
    double sink;
} fma_job;

static void fma_worker(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    fma_job *j = ctx;
    double s = j->body(j->iters);
    if (s == 12345.678) j->sink = s;   /* never true; keeps the result live without a data race */
}

int probe_fma(int threads, const char *isa, probe_fma_result *out, gc_err *err) {
    isa_body list[4];
    int n = bodies(list), pick = 0;
    if (isa) {
        for (pick = 0; pick < n && strcmp(list[pick].name, isa); pick++) {}
        if (pick == n) return gc_errf(err, "probe_fma: this CPU cannot run %s FMA", isa);
    }
    char perr[256] = "";
    gk_pool *pool = gk_pool_create(threads, false, perr, sizeof perr);
    if (!pool) return gc_errf(err, "probe_fma: cannot start %d threads: %s", threads, perr);
    fma_job job = {list[pick].body, ITERS, 0};
    gk_pool_run(pool, fma_worker, &job);   /* warm-up: clocks and pool up */
    double best = 1e30, start = gc_now();
    for (int reps = 0; reps < 3 || gc_now() - start < PROBE_SECONDS; reps++) {
        double t0 = gc_now();
        gk_pool_run(pool, fma_worker, &job);
        double dt = gc_now() - t0;
        if (dt < best) best = dt;
    }
    out->threads = gk_pool_size(pool);
    gk_pool_destroy(pool);
    double flops = 2.0 * list[pick].lanes * list[pick].chains * (double)ITERS * out->threads;
    out->gflops = flops / best / 1e9;
    snprintf(out->isa, sizeof out->isa, "%s", list[pick].name);
    out->vector_bits = 32 * list[pick].lanes;
    return 0;
}
