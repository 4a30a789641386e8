/* conv2d for the "cpu" backend: an implicit GEMM on the table's sgemm micro-kernel.
 *
 * Per image, y{Wo·Ho, Cout} seen as the matrix Y[co][pixel] (the output layout itself, row
 * stride Wo·Ho) is W[co][k] · col[k][pixel], k = (ci, ky, kx) in the kernel's own order, so the
 * kernel tensor {kw, kh, Cin, Cout} is already the K × Cout matrix A and nothing is transposed.
 *  - A (the kernel) is packed once per call into MR-row panels over all of K, F16/BF16 converted
 *    to F32 on the way (as the matmul's packing does); every thread reads it.
 *  - col is never built whole: a work unit is (image, NC output pixels, a block of output
 *    channels); for each KC slice of K it packs the unit's KC × NC patch of col into NR-column
 *    panels (im2col of one cache-sized tile: 128 KiB at KC 256 × NC 128), zero where a tap falls
 *    in the padding, then runs the MR × NR micro-kernel over it for every row panel of A. A 1×1
 *    stride-1 convolution's patch is rows of x copied as they are.
 *  - Y starts as the bias (or 0); the micro-kernel accumulates into it over the KC slices; edge
 *    tiles (Cout not a multiple of MR, pixels not of NR) go through a small buffer.
 * Units come from an atomic counter. Output channels are split into blocks only when the pixel
 * units alone are too few to keep every thread busy (the small latents of the UNet's deep
 * levels), each block then packing the same patch again. */
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/op_checks.h"

enum {
    CONV_KC = 256,
    CONV_NC = 128,          /* output pixels per unit (rounded up to a multiple of NR) */
    UNITS_PER_THREAD = 4,   /* below this many units a thread, output channels are split too */
};

typedef struct conv_job {
    const gk_ukernels *uk;
    const gk_tensor *w;
    const float *x, *bias;
    float *y;
    float *apack;
    int64_t W, H, cin, cout, kw, kh, wo, ho, P, K;
    int stride, pad;
    int mr, nr;
    int64_t nc, mc;                     /* pixels and output channels per unit */
    int64_t pix_blocks, co_blocks, units;
    _Atomic int64_t next;
    char *thread_mem;
    size_t thread_bytes;
} conv_job;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Row panels p0..p1 of A: a[(p·K + k)·MR + i] = kernel[p·MR + i][k] as F32, rows past Cout 0. */
static void pack_kernel(void *ctx, int64_t p0, int64_t p1) {
    conv_job *j = ctx;
    const int mr = j->mr, type = j->w->type;
    const size_t esz = type == GK_F32 ? 4 : 2;
    float tmp[CONV_KC];
    for (int64_t pn = p0; pn < p1; pn++) {
        float *dst = j->apack + pn * j->K * mr;
        for (int i = 0; i < mr; i++) {
            int64_t co = pn * mr + i;
            for (int64_t k0 = 0; k0 < j->K; k0 += CONV_KC) {
                int64_t kc = min64(CONV_KC, j->K - k0);
                const char *src = (const char *)j->w->data + ((size_t)co * (size_t)j->K + (size_t)k0) * esz;
                if (co >= j->cout) memset(tmp, 0, sizeof tmp);
                else if (type == GK_F32) memcpy(tmp, src, (size_t)kc * sizeof(float));
                else if (type == GK_F16) j->uk->f16_to_f32((const uint16_t *)src, tmp, kc);
                else j->uk->bf16_to_f32((const uint16_t *)src, tmp, kc);
                for (int64_t p = 0; p < kc; p++) dst[(k0 + p) * mr + i] = tmp[p];
            }
        }
    }
}

/* The taps t of output columns ox0 .. ox0+len−1 that land inside a row of W inputs for kernel
 * column kx: t in [*lo, *hi). */
static void valid_taps(const conv_job *j, int64_t ox0, int64_t len, int64_t kx, int64_t *lo, int64_t *hi) {
    const int64_t s = j->stride, off = kx - j->pad;   /* ix = ox·s + off */
    int64_t first = off >= 0 ? 0 : (-off + s - 1) / s;                 /* smallest ox with ix >= 0 */
    int64_t last = j->W - 1 - off >= 0 ? (j->W - 1 - off) / s : -1;    /* largest ox with ix < W */
    *lo = first - ox0 > 0 ? first - ox0 : 0;
    *hi = last - ox0 + 1 < len ? last - ox0 + 1 : len;
    if (*hi < *lo) *hi = *lo;
}

/* The patch col[k0 .. k0+kc)[pix0 .. pix0+nc) of image n into NR-column panels
 * bp[(c / NR)·kc·NR + p·NR + c % NR], pixels past nc (to the panel's end) 0. */
static void pack_patch(const conv_job *j, int64_t n, int64_t pix0, int64_t nc, int64_t k0, int64_t kc, float *bp) {
    const int nr = j->nr;
    const int64_t ncp = round_up(nc, nr), taps = j->kh * j->kw;
    const float *img = j->x + n * j->cin * j->H * j->W;
    const bool direct = j->kw == 1 && j->kh == 1 && j->stride == 1 && j->pad == 0;
    for (int64_t p = 0; p < kc; p++) {
        const int64_t k = k0 + p, ci = k / taps, ky = k % taps / j->kw, kx = k % j->kw;
        const float *plane = img + ci * j->H * j->W;
        for (int64_t c = 0; c < ncp;) {
            /* a run of pixels in one output row and one panel */
            float *dst = bp + (c / nr) * kc * nr + p * nr + c % nr;
            int64_t len = nr - c % nr;
            if (c >= nc) {
                memset(dst, 0, (size_t)len * sizeof *dst);
                c += len;
                continue;
            }
            len = min64(len, nc - c);
            const int64_t pix = pix0 + c;
            if (direct) {
                memcpy(dst, plane + pix, (size_t)len * sizeof *dst);
                c += len;
                continue;
            }
            const int64_t oy = pix / j->wo, ox = pix % j->wo, iy = oy * j->stride + ky - j->pad;
            len = min64(len, j->wo - ox);
            if (iy < 0 || iy >= j->H) {
                memset(dst, 0, (size_t)len * sizeof *dst);
                c += len;
                continue;
            }
            int64_t lo, hi;
            valid_taps(j, ox, len, kx, &lo, &hi);
            const float *row = plane + iy * j->W;
            const int64_t ix0 = ox * j->stride + kx - j->pad;   /* input column of tap 0 (maybe < 0) */
            for (int64_t t = 0; t < lo; t++) dst[t] = 0;
            if (j->stride == 1) memcpy(dst + lo, row + ix0 + lo, (size_t)(hi - lo) * sizeof *dst);
            else
                for (int64_t t = lo; t < hi; t++) dst[t] = row[ix0 + t * j->stride];
            for (int64_t t = hi; t < len; t++) dst[t] = 0;
            c += len;
        }
    }
}

static void conv_unit(conv_job *j, int64_t n, int64_t pix0, int64_t nc, int64_t co0, int64_t mc, float *bp,
                      float *ct) {
    const int mr = j->mr, nr = j->nr;
    float *yimg = j->y + n * j->cout * j->P;
    for (int64_t co = co0; co < co0 + mc; co++) {
        float *yr = yimg + co * j->P + pix0, b = j->bias ? j->bias[co] : 0.0f;
        for (int64_t c = 0; c < nc; c++) yr[c] = b;
    }
    for (int64_t k0 = 0; k0 < j->K; k0 += CONV_KC) {
        const int64_t kc = min64(CONV_KC, j->K - k0);
        pack_patch(j, n, pix0, nc, k0, kc, bp);
        for (int64_t i0 = co0; i0 < co0 + mc; i0 += mr) {
            const float *a = j->apack + (i0 / mr) * j->K * mr + k0 * mr;
            const int64_t mi = min64(mr, co0 + mc - i0);
            for (int64_t c0 = 0; c0 < nc; c0 += nr) {
                const float *bpan = bp + (c0 / nr) * kc * nr;
                float *y = yimg + i0 * j->P + pix0 + c0;
                const int64_t ni = min64(nr, nc - c0);
                if (mi == mr && ni == nr) {
                    j->uk->sgemm(kc, a, bpan, y, j->P);
                    continue;
                }
                memset(ct, 0, (size_t)mr * nr * sizeof *ct);   /* edge: compute whole, add part */
                j->uk->sgemm(kc, a, bpan, ct, nr);
                for (int64_t i = 0; i < mi; i++)
                    for (int64_t c = 0; c < ni; c++) y[i * j->P + c] += ct[i * nr + c];
            }
        }
    }
}

static void conv_worker(void *ctx, int ith, int nth) {
    (void)nth;
    conv_job *j = ctx;
    float *bp = (float *)(j->thread_mem + (size_t)ith * j->thread_bytes), *ct = bp + CONV_KC * j->nc;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        /* consecutive units: the channel blocks of one pixel block, then the next pixel block */
        const int64_t pu = u / j->co_blocks, cb = u % j->co_blocks;
        const int64_t n = pu / j->pix_blocks, pix0 = pu % j->pix_blocks * j->nc, co0 = cb * j->mc;
        conv_unit(j, n, pix0, min64(j->nc, j->P - pix0), co0, min64(j->mc, j->cout - co0), bp, ct);
    }
}

int gk_cpu_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                  const gk_conv2d_params *p) {
    if (gk_check_conv2d(b, y, w, x, bias, p)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    const int nth = gk_pool_size(c->pool);
    conv_job j = {.uk = c->uk, .w = w, .x = x->data, .bias = bias ? bias->data : NULL, .y = y->data,
                  .W = x->ne[0], .H = x->ne[1], .cin = x->ne[2], .cout = w->ne[3], .kw = w->ne[0], .kh = w->ne[1],
                  .wo = y->ne[0], .ho = y->ne[1], .stride = p->stride, .pad = p->pad,
                  .mr = c->uk->sgemm_mr, .nr = c->uk->sgemm_nr};
    j.P = j.wo * j.ho;
    j.K = j.cin * j.kh * j.kw;
    const int64_t N = x->ne[3];
    if (j.P == 0 || j.cout == 0 || N == 0) return 0;
    const int64_t panels = (j.cout + j.mr - 1) / j.mr;
    j.apack = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)(panels * j.mr * j.K) * sizeof(float));
    j.nc = min64(round_up(CONV_NC, j.nr), round_up(j.P, j.nr));
    j.pix_blocks = (j.P + j.nc - 1) / j.nc;
    j.mc = panels * j.mr;
    j.co_blocks = 1;
    while (N * j.pix_blocks * j.co_blocks < (int64_t)nth * UNITS_PER_THREAD && j.mc > 4 * j.mr) {
        j.mc = round_up((j.mc + 1) / 2, j.mr);
        j.co_blocks = (j.cout + j.mc - 1) / j.mc;
    }
    j.units = N * j.pix_blocks * j.co_blocks;
    /* per thread: one packed patch (KC × nc) and one edge tile; 64-byte multiples */
    j.thread_bytes = (size_t)round_up((CONV_KC * j.nc + j.mr * j.nr) * (int64_t)sizeof(float), 64);
    j.thread_mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j.thread_bytes * (size_t)nth);
    if (!j.apack || !j.thread_mem) return gk_fail(b, "conv2d: out of memory for packing");
    gk_cpu_rows(c, panels, (double)j.mr * (double)j.K * 8, pack_kernel, &j);
    atomic_store(&j.next, 0);
    if (j.units == 1) conv_worker(&j, 0, 1);
    else gk_pool_run(c->pool, conv_worker, &j);
    return 0;
}
