/* The CUDA backend's image family (kernels/cuda/image.cuh, plan_image.cuh) without a GPU: every
 * block body runs in host emulation (kernels/cuda/simt.cuh), planned and marshalled as
 * backend.cu does (the same argument checks, arguments, launch sequence and scratch sizes), the
 * threads of every region in forward and in reverse order (a body that depends on thread order
 * between barriers fails, and a shared-memory race aborts), against the ref backend's oracle on
 * small odd shapes (odd W and H, channels that are no multiple of a tile, stride 2, batch 2, key
 * counts that are no multiple of the key tile, head_dim 40 to 512), tolerances stated per op:
 *  - upsample2x, concat, add_channel, cont (both paths) and timestep_embed bit for bit equal to
 *    ref (copies, one F32 add, the angle in double as ref takes it);
 *  - gelu, gelu_quick, silu, geglu within a few F32 ulp of ref's double;
 *  - group_norm (groups over several chunks, a large common offset: the two-pass statistics),
 *    layer_norm, full_attention (online softmax over key tiles, peaked scores too) within F32
 *    rounding of ref's double sums;
 *  - conv2d as the backend issues it: the plan's column-major GEMM calls (gk_plan_conv_gemm) run
 *    by a host GEMM over the column panels the emulated im2col writes (F32, F16), BF16 kernels'
 *    F32 panels dequantised by the emulated kernel, panels forced small so images take several:
 *    F32 within 1e-5 of ref, F16 within the activations' rounding (2^-11·Σ|w·x|); the plan's
 *    choices (types, direct 1×1, panel sizes);
 *  - the memory-transaction model's sector efficiency of the kernels;
 *  - one guided step and the decoder of sd-tiny (bench/sd, as the image workload verifies a
 *    case) on a backend whose image family is these emulated kernels and whose matmul rounds
 *    activations as cuda's GEMM path does: f32, f16 and bf16 weights within the workload's
 *    tolerance.
 * Buffers the kernels use as scratch are 256-byte aligned like cudaMalloc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sd/sd.h"
#include "kernels/backend.h"
#include "kernels/cuda/image.cuh"
#include "kernels/cuda/train.cuh"
#include "kernels/op_checks.h"

#define EMUL_SEED 0x2545f4914f6cdd1dull
#include "tests/emul_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* |got − want| <= atol + rtol·|want| everywhere; the first miss fails with its index. */
static void expect_close(const char *what, const float *got, const float *want, int64_t n, double atol, double rtol) {
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        if (!(d <= atol + rtol * fabs(want[i])))
            fail_msg("%s: element %lld is %.9g, ref %.9g (|diff| %.3g, tolerance %.3g)", what, (long long)i, got[i],
                     want[i], d, atol + rtol * fabs(want[i]));
    }
}
static void expect_equal(const char *what, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], 4))
            fail_msg("%s: element %lld is %.9g, ref %.9g (not bit-equal)", what, (long long)i, got[i], want[i]);
}

static gk_backend *ref;

/* A ref tensor {n0, n1, n2, n3} of type, from F32 values converted to it (NULL: zeros). */
static gk_tensor t4(int type, int64_t n0, int64_t n1, int64_t n2, int64_t n3, const float *vals) {
    gk_tensor t = {.type = type, .ne = {n0, n1, n2, n3}};
    if (ref->ops->alloc(ref, &t)) fail_msg("alloc: %s", gk_backend_error(ref));
    memset(t.data, 0, t.nbytes);
    if (vals) gk_type_get(type)->from_f32(vals, t.data, gk_nelements(&t));
    return t;
}
static float *fdata(const gk_tensor *t) { return (float *)t->data; }
static void drop(gk_tensor *t) { ref->ops->free(ref, t); }
#define OK(b, call)                                                                                          \
    do {                                                                                                     \
        if ((call) != 0) fail_msg("%s: %s", (b)->name, gk_backend_error(b));                                 \
    } while (0)

/* ---- the emulated backend: ref's storage, the image family as backend.cu runs it ---------- */
static int emu_rev;          /* run every region's threads last to first */
static int64_t emu_np, emu_wrows; /* > 0: conv2d's pixels per panel and kernel rows per panel forced */
static int64_t emu_gemms;    /* conv2d GEMM calls issued */

#define LAUNCH(body, g, a) GK_EMUL_LAUNCH(body, (g).gx, (g).gy, (g).gz, (g).nt, emu_rev, a)

/* cuBLAS's column-major C = A·B (no transposes, alpha 1, beta 0) on elements of type t (F32, or
 * F16/BF16 as uint16), summed in double. */
static float gemm_elem(const void *p, int64_t i, int t) {
    if (t == GK_F32) return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    return t == GK_F16 ? gk_f16_to_f32(h) : gk_bf2f(h);
}
static void host_gemm(const gk_conv_gemm *g, const void *A, const void *B, int t, float *C) {
    for (int64_t j = 0; j < g->n; j++)
        for (int64_t i = 0; i < g->m; i++) {
            double s = 0;
            for (int64_t k = 0; k < g->k; k++)
                s += (double)gemm_elem(A, g->a_off + i + k * g->lda, t) * gemm_elem(B, g->b_off + k + j * g->ldb, t);
            C[g->c_off + i + j * g->ldc] = (float)s;
        }
}

static int emu_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                      const gk_conv2d_params *p) {
    if (gk_check_conv2d(b, y, w, x, bias, p)) return -1;
    gk_conv_plan pl = gk_plan_conv2d(x->ne[0], x->ne[1], x->ne[2], x->ne[3], w->ne[0], w->ne[1], w->ne[3], p->stride,
                                     p->pad, w->type);
    if (emu_np > 0 && emu_np < pl.np) pl.np = emu_np;
    if (emu_wrows > 0 && pl.w_panels && emu_wrows < pl.wrows) pl.wrows = emu_wrows;
    char *scratch = dalloc(gk_conv_scratch_bytes(&pl) + 1), *col = scratch;
    float *wpanel = (float *)(scratch + gk_conv_col_bytes(&pl));
    for (int64_t co0 = 0; co0 < pl.cout; co0 += pl.wrows) {
        const int64_t nco = pl.cout - co0 < pl.wrows ? pl.cout - co0 : pl.wrows;
        const void *B = w->data;
        if (pl.w_panels) {
            gk_dq32_args d = {(const uint8_t *)w->data + (size_t)(co0 * pl.K) * 2, (size_t)pl.K * 2, wpanel, pl.K, nco,
                              w->type};
            const gk_grid g = gk_plan_dequant(pl.K, nco);
            LAUNCH(gk_body_dequant_f32, g, d);
            B = wpanel;
        }
        for (int64_t n = 0; n < pl.N; n++)
            for (int64_t p0 = 0; p0 < pl.P; p0 += pl.np) {
                const int64_t np = pl.P - p0 < pl.np ? pl.P - p0 : pl.np;
                if (!pl.direct) {
                    const gk_im2col_args a = gk_plan_im2col(&pl, x->data, col, n, p0, np);
                    const gk_grid g = gk_plan_elems(a.K * a.np);
                    LAUNCH(gk_body_im2col, g, a);
                }
                const gk_conv_gemm g = gk_plan_conv_gemm(&pl, n, p0, np, co0, nco);
                host_gemm(&g, pl.direct ? x->data : (const void *)col, B, pl.w_panels ? GK_F32 : pl.gemm_type, y->data);
                emu_gemms++;
            }
    }
    free(scratch);
    if (!bias) return 0;
    const gk_addc_args a = {y->data, bias->data, y->data, pl.P, pl.cout, pl.N, 0};
    const gk_grid g = gk_plan_elems(pl.P * pl.cout * pl.N);
    LAUNCH(gk_body_add_channel, g, a);
    return 0;
}

static int emu_group_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, int n_groups, float eps) {
    if (gk_check_group_norm(b, y, x, gamma, beta, n_groups)) return -1;
    const int64_t plane = x->ne[0] * x->ne[1], C = x->ne[2], N = x->ne[3];
    const size_t pb = gk_gn_part_bytes(C, n_groups, plane, N);
    char *sc = dalloc(pb + (size_t)(2 * N * n_groups) * sizeof(float));
    gk_gn_args a = {x->data, gamma->data, beta->data, y->data, (double *)sc, (float *)(sc + pb), plane, C, N,
                    n_groups, eps};
    const gk_grid g1 = gk_plan_gn_part(C, n_groups, plane, N), g2 = gk_plan_elems(N * n_groups),
                  g3 = gk_plan_elems(plane * C * N);
    LAUNCH(gk_body_gn_part, g1, a);
    LAUNCH(gk_body_gn_stats, g2, a);
    LAUNCH(gk_body_gn_apply, g3, a);
    free(sc);
    return 0;
}

static int emu_layer_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, float eps) {
    if (gk_check_layer_norm(b, y, x, gamma, beta)) return -1;
    gk_ln_args a = {x->data, gamma->data, beta->data, y->data, x->ne[0], gk_rows(x), eps};
    const gk_grid g = gk_plan_ln(a.rows);
    LAUNCH(gk_body_layer_norm, g, a);
    return 0;
}

static int emu_unary(gk_backend *b, const char *what, gk_tensor *y, const gk_tensor *x, int op) {
    if (gk_check_unary(b, what, y, x)) return -1;
    gk_iu_args a = {x->data, y->data, gk_nelements(x), op};
    const gk_grid g = gk_plan_elems(a.n);
    LAUNCH(gk_body_image_unary, g, a);
    return 0;
}
static int emu_gelu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return emu_unary(b, "gelu", y, x, GK_IU_GELU); }
static int emu_gelu_quick(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    return emu_unary(b, "gelu_quick", y, x, GK_IU_GELU_QUICK);
}
static int emu_silu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return emu_unary(b, "silu", y, x, GK_IU_SILU); }

static int emu_geglu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_geglu(b, y, x)) return -1;
    gk_geglu_args a = {x->data, y->data, y->ne[0], gk_rows(x)};
    const gk_grid g = gk_plan_elems(a.n * a.rows);
    LAUNCH(gk_body_geglu, g, a);
    return 0;
}

static int emu_upsample2x(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_upsample2x(b, y, x)) return -1;
    gk_up_args a = {x->data, y->data, x->ne[0], x->ne[1], x->ne[2] * x->ne[3]};
    const gk_grid g = gk_plan_elems(4 * a.W * a.H * a.planes);
    LAUNCH(gk_body_upsample2x, g, a);
    return 0;
}

static int emu_concat(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (gk_check_concat(b, y, a, c)) return -1;
    gk_cat_args k = {a->data, c->data, y->data, a->ne[0] * a->ne[1], a->ne[2], c->ne[2], a->ne[3]};
    const gk_grid g = gk_plan_elems(k.plane * (k.ca + k.cc) * k.N);
    LAUNCH(gk_body_concat, g, k);
    return 0;
}

static int emu_add_channel(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v) {
    if (gk_check_add_channel(b, y, x, v)) return -1;
    gk_addc_args a = {x->data, v->data, y->data, x->ne[0] * x->ne[1], x->ne[2], x->ne[3], gk_rows(v) > 1};
    const gk_grid g = gk_plan_elems(a.plane * a.C * a.N);
    LAUNCH(gk_body_add_channel, g, a);
    return 0;
}

static int emu_timestep_embed(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period) {
    if (gk_check_timestep_embed(b, y, t, dim, max_period)) return -1;
    gk_temb_args a = {t->data, y->data, gk_nelements(t), dim, max_period};
    const gk_grid g = gk_plan_temb(dim, a.N);
    LAUNCH(gk_body_timestep_embed, g, a);
    return 0;
}

static int emu_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                              const gk_tensor *v, const gk_full_attn_params *p) {
    int64_t tq, tk, batch;
    if (gk_check_full_attention(b, out, q, k, v, p, &tq, &tk, &batch)) return -1;
    if (p->head_dim > GK_FA_DMAX) return gk_fail(b, "full_attention: head_dim %d above %d", p->head_dim, GK_FA_DMAX);
    gk_fa_args a = {q->data, k->data, v->data, out->data, tq, tk, p->n_head, p->head_dim, p->scale};
    const gk_grid g = gk_plan_fa(tq, p->n_head, batch, p->head_dim);
    LAUNCH(gk_body_full_attention, g, a);
    return 0;
}

static int64_t emu_cont_transposed; /* cont calls that took the transposed path */
static int emu_cont(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_cont(b, y, x)) return -1;
    int64_t st[4];
    for (int i = 0; i < 4; i++) {
        if (x->ne[i] > 1 && x->nb[i] % sizeof(float))
            return gk_fail(b, "cont: x's stride nb[%d] = %zu is not whole floats", i, x->nb[i]);
        st[i] = x->ne[i] > 1 ? (int64_t)(x->nb[i] / sizeof(float)) : 0;
    }
    const gk_cont_args a = gk_plan_cont_args(x->data, y->data, x->ne, st);
    const gk_grid g = gk_plan_cont(&a);
    if (a.j) {
        emu_cont_transposed++;
        LAUNCH(gk_body_cont_transposed, g, a);
    } else {
        LAUNCH(gk_body_cont, g, a);
    }
    return 0;
}

static const gk_image_ops emu_image = {emu_conv2d, emu_group_norm, emu_layer_norm, emu_gelu, emu_gelu_quick,
                                       emu_geglu, emu_silu, emu_upsample2x, emu_concat, emu_add_channel,
                                       emu_timestep_embed, emu_full_attention, emu_cont};

/* cuda's matmul rounds X to the weight's half type on its GEMM path (more than GK_MV_MAX_M
 * columns, F16 and BF16 weights; backend.cu's gk_cuda_matmul_act_type); the rest as ref. */
static int emu_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_matmul_params *p) {
    if (!gk_matmul_is_default(p) || (w->type != GK_F16 && w->type != GK_BF16) || gk_rows(x) <= GK_MV_MAX_M ||
        !gk_is_contiguous(x))
        return ref->ops->core->matmul(b, y, w, x, p);
    gk_tensor xr = t4(GK_F32, x->ne[0], x->ne[1], x->ne[2], x->ne[3], NULL);
    const int64_t n = gk_nelements(x);
    for (int64_t i = 0; i < n; i++) {
        const float v = fdata(x)[i];
        fdata(&xr)[i] = w->type == GK_F16 ? gk_f16_to_f32(gk_f32_to_f16(v)) : gk_bf2f(gk_f2bf(v));
    }
    const int rc = ref->ops->core->matmul(b, y, w, &xr, p);
    drop(&xr);
    return rc;
}

static gk_ops emu_ops;
static gk_core_ops emu_core;
static gk_backend emu; /* ref's state, these ops */

static int setup(void **s) {
    char err[256];
    ref = gk_backend_open("ref", NULL, err, sizeof err);
    if (!ref) {
        fprintf(stderr, "ref backend: %s\n", err);
        return -1;
    }
    emu_ops = *ref->ops;
    emu_core = *ref->ops->core;
    emu_core.matmul = emu_matmul;
    emu_ops.core = &emu_core;
    emu_ops.image = &emu_image;
    emu = *ref;
    emu.ops = &emu_ops;
    return 0;
}
static int teardown(void **s) {
    gk_backend_close(ref);
    return 0;
}

/* ---- elementwise ---------------------------------------------------------------------------- */
typedef int (*unary_fn)(gk_backend *, gk_tensor *, const gk_tensor *);

/* ref in double; the kernels in F32 with expf/tanhf: a few ulp of each factor. In place and not. */
static void unary_ops_match_ref(void **s) {
    static const unary_fn fns[] = {gk_gelu, gk_gelu_quick, gk_silu};
    static const char *const names[] = {"gelu", "gelu_quick", "silu"};
    static const int64_t sizes[] = {1, 257, 4099};
    for (int f = 0; f < 3; f++)
        for (int si = 0; si < 3; si++)
            for (int rev = 0; rev < 2; rev++) {
                const int64_t n = sizes[si];
                float *x = rnd(n, 9.0f);
                x[0] = -30.0f; /* far into the tails: exp(30) and a result of -0 or tiny */
                gk_tensor tx = t4(GK_F32, n, 1, 1, 1, x), tw = t4(GK_F32, n, 1, 1, 1, NULL),
                          tg = t4(GK_F32, n, 1, 1, 1, NULL), ti = t4(GK_F32, n, 1, 1, 1, x);
                OK(ref, fns[f](ref, &tw, &tx));
                emu_rev = rev;
                OK(&emu, fns[f](&emu, &tg, &tx));
                OK(&emu, fns[f](&emu, &ti, &ti));
                expect_close(names[f], fdata(&tg), fdata(&tw), n, 1e-6, 4e-6);
                expect_equal(names[f], fdata(&ti), fdata(&tg), n); /* in place: the same values */
                drop(&tx), drop(&tw), drop(&tg), drop(&ti);
                free(x);
            }
    emu_rev = 0;
}

static void geglu_matches_ref(void **s) {
    static const int64_t shapes[][3] = {{37, 3, 1}, {130, 5, 2}, {1, 1, 1}};
    for (int si = 0; si < 3; si++)
        for (int rev = 0; rev < 2; rev++) {
            const int64_t n = shapes[si][0], r = shapes[si][1], b = shapes[si][2];
            float *x = rnd(2 * n * r * b, 4.0f);
            gk_tensor tx = t4(GK_F32, 2 * n, r, b, 1, x), tw = t4(GK_F32, n, r, b, 1, NULL),
                      tg = t4(GK_F32, n, r, b, 1, NULL);
            OK(ref, gk_geglu(ref, &tw, &tx));
            emu_rev = rev;
            OK(&emu, gk_geglu(&emu, &tg, &tx));
            expect_close("geglu", fdata(&tg), fdata(&tw), n * r * b, 1e-6, 4e-6);
            drop(&tx), drop(&tw), drop(&tg);
            free(x);
        }
    emu_rev = 0;
}

/* Copies and one F32 add: exactly ref's values. */
static void copies_bit_equal(void **s) {
    for (int rev = 0; rev < 2; rev++) {
        emu_rev = rev;
        { /* upsample2x of 5×3×3×2 */
            float *x = rnd(5 * 3 * 3 * 2, 1.0f);
            gk_tensor tx = t4(GK_F32, 5, 3, 3, 2, x), tw = t4(GK_F32, 10, 6, 3, 2, NULL), tg = t4(GK_F32, 10, 6, 3, 2, NULL);
            OK(ref, gk_upsample2x(ref, &tw, &tx));
            OK(&emu, gk_upsample2x(&emu, &tg, &tx));
            expect_equal("upsample2x", fdata(&tg), fdata(&tw), 10 * 6 * 3 * 2);
            drop(&tx), drop(&tw), drop(&tg);
            free(x);
        }
        { /* concat of 5×3 planes: 3 and 4 channels, 2 images */
            float *a = rnd(15 * 3 * 2, 1.0f), *c = rnd(15 * 4 * 2, 1.0f);
            gk_tensor ta = t4(GK_F32, 5, 3, 3, 2, a), tc = t4(GK_F32, 5, 3, 4, 2, c);
            gk_tensor tw = t4(GK_F32, 5, 3, 7, 2, NULL), tg = t4(GK_F32, 5, 3, 7, 2, NULL);
            OK(ref, gk_concat(ref, &tw, &ta, &tc));
            OK(&emu, gk_concat(&emu, &tg, &ta, &tc));
            expect_equal("concat", fdata(&tg), fdata(&tw), 15 * 7 * 2);
            drop(&ta), drop(&tc), drop(&tw), drop(&tg);
            free(a), free(c);
        }
        for (int per = 0; per < 2; per++) { /* add_channel: v per image {C, N} and shared {C}; in place */
            float *x = rnd(7 * 5 * 6 * 2, 3.0f), *v = rnd(6 * 2, 2.0f);
            gk_tensor tx = t4(GK_F32, 7, 5, 6, 2, x), tv = t4(GK_F32, 6, per ? 2 : 1, 1, 1, v);
            gk_tensor tw = t4(GK_F32, 7, 5, 6, 2, NULL), ti = t4(GK_F32, 7, 5, 6, 2, x);
            OK(ref, gk_add_channel(ref, &tw, &tx, &tv));
            OK(&emu, gk_add_channel(&emu, &ti, &ti, &tv));
            expect_equal("add_channel", fdata(&ti), fdata(&tw), 7 * 5 * 6 * 2);
            drop(&tx), drop(&tv), drop(&tw), drop(&ti);
            free(x), free(v);
        }
        { /* timestep_embed: the angle in double as ref takes it (dim 10 and SD's 320) */
            const float ts[4] = {0.0f, 1.0f, 999.0f, 500.5f};
            for (int di = 0; di < 2; di++) {
                const int dim = di ? 320 : 10;
                gk_tensor tt = t4(GK_F32, 4, 1, 1, 1, ts), tw = t4(GK_F32, dim, 4, 1, 1, NULL),
                          tg = t4(GK_F32, dim, 4, 1, 1, NULL);
                OK(ref, gk_timestep_embed(ref, &tw, &tt, dim, 10000.0f));
                OK(&emu, gk_timestep_embed(&emu, &tg, &tt, dim, 10000.0f));
                expect_equal("timestep_embed", fdata(&tg), fdata(&tw), dim * 4);
                drop(&tt), drop(&tw), drop(&tg);
            }
        }
    }
    emu_rev = 0;
}

/* cont over the views the UNet makes (pixels → tokens and back: the transposed path, with W·H
 * and C no multiple of its 32-tile), a view with an offset, a dimension of one element and
 * every stride permuted (generic path), and one whose adjacent dimension is 0 (generic). */
static void cont_views_bit_equal(void **s) {
    const int64_t W = 5, H = 7, C = 37, N = 2, n = W * H * C * N;
    const size_t f = sizeof(float);
    float *x = rnd(n, 1.0f);
    for (int rev = 0; rev < 2; rev++) {
        emu_rev = rev;
        gk_tensor img = t4(GK_F32, W, H, C, N, x);
        struct {
            const char *what;
            int64_t ne[4];
            size_t nb[4], off;
            int transposed;
        } v[] = {
            {"pixels to tokens", {C, W * H, N, 1}, {W * H * f, f, C * W * H * f, n * f}, 0, 1},
            {"tokens to pixels", {W, H, C, N}, {C * f, C * W * f, f, C * W * H * f}, 0, 1},
            {"permuted, offset", {7, 2, 3, 5}, {W * H * f, W * H * C * f, f, W * f}, 2 * f, 1},
            {"one-element dimension", {C, 1, W, N}, {W * H * f, 3 * f, f, W * H * C * f}, 0, 1},
            {"no adjacent dimension", {H, C, N, 1}, {W * f, W * H * f, W * H * C * f, n * f}, 0, 0},
            {"contiguous rows", {W, H * C, N, 1}, {f, W * f, W * H * C * f, n * f}, 0, 0},
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            gk_tensor view;
            assert_int_equal(gk_view(&view, &img, v[i].off, v[i].ne, v[i].nb), 0);
            gk_tensor tw = t4(GK_F32, v[i].ne[0], v[i].ne[1], v[i].ne[2], v[i].ne[3], NULL),
                      tg = t4(GK_F32, v[i].ne[0], v[i].ne[1], v[i].ne[2], v[i].ne[3], NULL);
            OK(ref, gk_cont(ref, &tw, &view));
            const int64_t before = emu_cont_transposed;
            OK(&emu, gk_cont(&emu, &tg, &view));
            assert_int_equal(emu_cont_transposed - before, v[i].transposed);
            expect_equal(v[i].what, fdata(&tg), fdata(&tw), gk_nelements(&tw));
            drop(&tw), drop(&tg);
        }
        drop(&img);
    }
    /* the two UNet views round trip exactly (a larger one: several tiles each way) */
    const int64_t W2 = 33, H2 = 3, C2 = 70;
    float *xi = rnd(W2 * H2 * C2 * 2, 1.0f);
    gk_tensor im = t4(GK_F32, W2, H2, C2, 2, xi), tok = t4(GK_F32, C2, W2 * H2, 2, 1, NULL),
              back = t4(GK_F32, W2, H2, C2, 2, NULL), v1, v2;
    assert_int_equal(gk_view(&v1, &im, 0, (const int64_t[4]){C2, W2 * H2, 2, 1},
                             (const size_t[4]){W2 * H2 * f, f, C2 * W2 * H2 * f, 2 * C2 * W2 * H2 * f}), 0);
    OK(&emu, gk_cont(&emu, &tok, &v1));
    assert_int_equal(gk_view(&v2, &tok, 0, (const int64_t[4]){W2, H2, C2, 2},
                             (const size_t[4]){C2 * f, C2 * W2 * f, f, C2 * W2 * H2 * f}), 0);
    OK(&emu, gk_cont(&emu, &back, &v2));
    expect_equal("pixels to tokens and back", fdata(&back), xi, W2 * H2 * C2 * 2);
    drop(&im), drop(&tok), drop(&back);
    free(x), free(xi);
    emu_rev = 0;
}

/* ---- norms ---------------------------------------------------------------------------------- */
/* group_norm: 5×3 images of 12 channels in 4 groups (batch 2), and 67×65 of 8 channels in 2
 * groups (17,420 values a group: two chunks), values offset by 100 (the mean dwarfs the spread:
 * a one-pass variance would lose it), in place too. ref in double; ours in double sums, the
 * normalisation in F32: a few ulp of the O(1) outputs. */
static void group_norm_matches_ref(void **s) {
    static const int64_t shapes[][5] = {{5, 3, 12, 2, 4}, {67, 65, 8, 1, 2}, {1, 1, 3, 2, 3}};
    for (int si = 0; si < 3; si++)
        for (int rev = 0; rev < 2; rev++) {
            const int64_t W = shapes[si][0], H = shapes[si][1], C = shapes[si][2], N = shapes[si][3];
            const int G = (int)shapes[si][4];
            const int64_t n = W * H * C * N;
            float *x = rnd(n, 2.0f), *ga = rnd(C, 1.5f), *be = rnd(C, 0.5f);
            for (int64_t i = 0; i < n; i++) x[i] += 100.0f;
            gk_tensor tx = t4(GK_F32, W, H, C, N, x), tga = t4(GK_F32, C, 1, 1, 1, ga), tbe = t4(GK_F32, C, 1, 1, 1, be);
            gk_tensor tw = t4(GK_F32, W, H, C, N, NULL), ti = t4(GK_F32, W, H, C, N, x);
            OK(ref, gk_group_norm(ref, &tw, &tx, &tga, &tbe, G, 1e-5f));
            emu_rev = rev;
            OK(&emu, gk_group_norm(&emu, &ti, &ti, &tga, &tbe, G, 1e-5f));
            expect_close("group_norm", fdata(&ti), fdata(&tw), n, 2e-5, 2e-6);
            drop(&tx), drop(&tga), drop(&tbe), drop(&tw), drop(&ti);
            free(x), free(ga), free(be);
        }
    emu_rev = 0;
}

/* layer_norm: rows of 37 (11 rows: a block's rows ragged), 320 and 768 (CLIP's), in place too;
 * F32 sums of 12 to 24 values a lane: a few ulp of the O(1) outputs. */
static void layer_norm_matches_ref(void **s) {
    static const int64_t shapes[][2] = {{37, 11}, {320, 9}, {768, 3}};
    for (int si = 0; si < 3; si++)
        for (int rev = 0; rev < 2; rev++) {
            const int64_t dim = shapes[si][0], T = shapes[si][1];
            float *x = rnd(dim * T, 3.0f), *ga = rnd(dim, 1.5f), *be = rnd(dim, 0.5f);
            for (int64_t i = 0; i < dim * T; i++) x[i] += 5.0f;
            gk_tensor tx = t4(GK_F32, dim, T, 1, 1, x), tga = t4(GK_F32, dim, 1, 1, 1, ga),
                      tbe = t4(GK_F32, dim, 1, 1, 1, be);
            gk_tensor tw = t4(GK_F32, dim, T, 1, 1, NULL), ti = t4(GK_F32, dim, T, 1, 1, x);
            OK(ref, gk_layer_norm(ref, &tw, &tx, &tga, &tbe, 1e-5f));
            emu_rev = rev;
            OK(&emu, gk_layer_norm(&emu, &ti, &ti, &tga, &tbe, 1e-5f));
            expect_close("layer_norm", fdata(&ti), fdata(&tw), dim * T, 1e-5, 1e-5);
            drop(&tx), drop(&tga), drop(&tbe), drop(&tw), drop(&ti);
            free(x), free(ga), free(be);
        }
    emu_rev = 0;
}

/* ---- full attention --------------------------------------------------------------------------- */
/* Self- and cross-attention shapes: the UNet's head_dim 40 (8 heads in SD 1.5; 2 here) against
 * 77 context tokens, head_dim 64 and 160 with key counts past one tile and not a multiple of it,
 * the VAE's single head of 512 (12-key tiles, 8-row query tiles), batch 2, and scores peaked
 * (scale 3: exponents near 100) so the online softmax's rescaling carries the result. Outputs
 * are weighted means of values in [-1, 1]: F32 dot products and exponentials, 2e-6 + 1e-5. */
static void full_attention_matches_ref(void **s) {
    static const struct { int nh, hd; int64_t tq, tk, batch; float scale; } cases[] = {
        {2, 40, 37, 77, 2, 0.0f}, {3, 64, 33, 65, 2, 0.0f}, {1, 160, 17, 33, 1, 0.0f},
        {1, 512, 19, 27, 1, 0.0f}, {2, 40, 21, 45, 1, 3.0f}, {1, 8, 1, 1, 1, 0.0f},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int64_t d = (int64_t)cases[ci].nh * cases[ci].hd, tq = cases[ci].tq, tk = cases[ci].tk,
                      nb = cases[ci].batch;
        const gk_full_attn_params p = {cases[ci].nh, cases[ci].hd,
                                       cases[ci].scale > 0 ? cases[ci].scale : 1.0f / sqrtf((float)cases[ci].hd)};
        float *q = rnd(d * tq * nb, 1.0f), *k = rnd(d * tk * nb, 1.0f), *v = rnd(d * tk * nb, 1.0f);
        gk_tensor tq_ = t4(GK_F32, d, tq, nb, 1, q), tk_ = t4(GK_F32, d, tk, nb, 1, k), tv = t4(GK_F32, d, tk, nb, 1, v);
        gk_tensor tw = t4(GK_F32, d, tq, nb, 1, NULL), tg = t4(GK_F32, d, tq, nb, 1, NULL);
        OK(ref, gk_full_attention(ref, &tw, &tq_, &tk_, &tv, &p));
        for (int rev = 0; rev < 2; rev++) {
            emu_rev = rev;
            OK(&emu, gk_full_attention(&emu, &tg, &tq_, &tk_, &tv, &p));
            char what[96];
            snprintf(what, sizeof what, "full_attention %d heads of %d, %lld x %lld keys, batch %lld", p.n_head,
                     p.head_dim, (long long)tq, (long long)tk, (long long)nb);
            expect_close(what, fdata(&tg), fdata(&tw), d * tq * nb, 2e-6, 1e-5);
        }
        drop(&tq_), drop(&tk_), drop(&tv), drop(&tw), drop(&tg);
        free(q), free(k), free(v);
    }
    emu_rev = 0;
    /* the tile sizes keep the shared arrays within 48 KiB at every head_dim */
    for (int hd = 1; hd <= GK_FA_DMAX; hd++) {
        const int br = gk_fa_rows(hd), bc = gk_fa_keys(hd);
        assert_true(br * hd <= GK_FA_QS && bc >= 1 && bc <= GK_FA_BC && bc * (hd + 1) <= GK_FA_KV);
        assert_true((hd + 128 / br - 1) / (128 / br) <= GK_FA_OREG);
    }
    assert_true((GK_FA_QS + GK_FA_KV + GK_FA_BR * GK_FA_BC + 3 * GK_FA_BR) * sizeof(float) <= 48 * 1024);
}

/* ---- conv2d ---------------------------------------------------------------------------------- */
/* Σ |w|·|x| over each output's taps (ref's conv2d of the magnitudes): the scale of the rounding
 * the half-precision GEMM inputs add. */
static float *abs_conv(const float *w, const float *x, const int64_t wne[4], const int64_t xne[4], const int64_t yne[4],
                       const gk_conv2d_params *p) {
    const int64_t nw = wne[0] * wne[1] * wne[2] * wne[3], nx = xne[0] * xne[1] * xne[2] * xne[3];
    float *aw = malloc((size_t)nw * 4), *ax = malloc((size_t)nx * 4);
    for (int64_t i = 0; i < nw; i++) aw[i] = fabsf(w[i]);
    for (int64_t i = 0; i < nx; i++) ax[i] = fabsf(x[i]);
    gk_tensor tw = t4(GK_F32, wne[0], wne[1], wne[2], wne[3], aw), tx = t4(GK_F32, xne[0], xne[1], xne[2], xne[3], ax),
              ty = t4(GK_F32, yne[0], yne[1], yne[2], yne[3], NULL);
    OK(ref, gk_conv2d(ref, &ty, &tw, &tx, NULL, p));
    float *out = malloc(ty.nbytes);
    memcpy(out, ty.data, ty.nbytes);
    drop(&tw), drop(&tx), drop(&ty);
    free(aw), free(ax);
    return out;
}

/* 3×3 stride 1 and 2 (odd and even sizes), 1×1 (direct with F32), a 3×3 kernel on a 2×2 image
 * (every tap but the centre in the padding); kernels F32, F16, BF16 (F32 panels of its rows),
 * bias or none; panels of 7 pixels (and 2 kernel rows) so images take several. The host GEMM
 * sums in double: F32 within 1e-5 of ref (F32 rounding of the inputs' products and sums), F16
 * within u·Σ|w·x| + 1e-6 of ref, u = 2^-11 the unit roundoff of the activations' rounding, and
 * within 1e-5 of the same product on the rounded activations. */
static void conv2d_matches_ref(void **s) {
    static const struct { int64_t W, H, cin, cout, N, k; int stride, pad; } shapes[] = {
        {7, 5, 3, 5, 2, 3, 1, 1}, {9, 6, 4, 3, 1, 3, 2, 1}, {8, 7, 5, 6, 2, 3, 2, 1},
        {6, 5, 7, 9, 2, 1, 1, 0}, {2, 2, 3, 2, 1, 3, 1, 1},
    };
    static const int types[] = {GK_F32, GK_F16, GK_BF16};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ti = 0; ti < 3; ti++)
            for (int variant = 0; variant < 2; variant++) {
                const int type = types[ti];
                const int64_t W = shapes[si].W, H = shapes[si].H, ci = shapes[si].cin, co = shapes[si].cout,
                              N = shapes[si].N, k = shapes[si].k;
                const gk_conv2d_params p = {shapes[si].stride, shapes[si].pad};
                const int64_t wo = (W + 2 * p.pad - k) / p.stride + 1, ho = (H + 2 * p.pad - k) / p.stride + 1;
                const int64_t wne[4] = {k, k, ci, co}, xne[4] = {W, H, ci, N}, yne[4] = {wo, ho, co, N};
                float *w = rnd(k * k * ci * co, 1.0f), *x = rnd(W * H * ci * N, 1.0f), *bias = rnd(co, 1.0f);
                /* the kernel as its type holds it: ref and the GEMM see the same weights */
                gk_tensor tw = t4(type, k, k, ci, co, w), tx = t4(GK_F32, W, H, ci, N, x), tb = t4(GK_F32, co, 1, 1, 1, bias);
                gk_type_get(type)->to_f32(tw.data, w, k * k * ci * co);
                gk_tensor tr = t4(GK_F32, wo, ho, co, N, NULL), tg = t4(GK_F32, wo, ho, co, N, NULL);
                const gk_tensor *bp = variant ? &tb : NULL;
                OK(ref, gk_conv2d(ref, &tr, &tw, &tx, bp, &p));
                emu_np = variant ? 7 : 0;
                emu_wrows = variant ? 2 : 0;
                emu_rev = variant;
                const int64_t calls = emu_gemms;
                OK(&emu, gk_conv2d(&emu, &tg, &tw, &tx, bp, &p));
                const gk_conv_plan pl = gk_plan_conv2d(W, H, ci, N, k, k, co, p.stride, p.pad, type);
                const int64_t panels = variant ? (pl.P + 6) / 7 : 1, wpanels = variant && pl.w_panels ? (co + 1) / 2 : 1;
                assert_int_equal(emu_gemms - calls, N * panels * wpanels);
                char what[128];
                snprintf(what, sizeof what, "conv2d %lldx%lld %lld->%lld k%lld s%d %s%s%s", (long long)W, (long long)H,
                         (long long)ci, (long long)co, (long long)k, p.stride, gk_type_name(type),
                         pl.w_panels ? " (F32 panels)" : "", variant ? ", bias, small panels" : "");
                const int64_t ny = wo * ho * co * N;
                const int act = pl.w_panels ? GK_F32 : pl.gemm_type;
                if (act == GK_F32) {
                    expect_close(what, fdata(&tg), fdata(&tr), ny, 1e-5, 1e-5);
                } else {
                    const double u = 0x1p-11;
                    float *mag = abs_conv(w, x, wne, xne, yne, &p);
                    for (int64_t i = 0; i < ny; i++) {
                        const double d = fabs((double)fdata(&tg)[i] - fdata(&tr)[i]), bound = u * mag[i] + 1e-6;
                        if (!(d <= bound))
                            fail_msg("%s: element %lld is %.9g, ref %.9g (|diff| %.3g above u*sum|w*x| %.3g)", what,
                                     (long long)i, fdata(&tg)[i], fdata(&tr)[i], d, bound);
                    }
                    /* against the same product of the rounded activations: the GEMM plan itself */
                    float *xr = malloc((size_t)(W * H * ci * N) * 4);
                    for (int64_t i = 0; i < W * H * ci * N; i++)
                        xr[i] = gk_f16_to_f32(gk_f32_to_f16(x[i]));
                    gk_tensor txr = t4(GK_F32, W, H, ci, N, xr), tr2 = t4(GK_F32, wo, ho, co, N, NULL);
                    OK(ref, gk_conv2d(ref, &tr2, &tw, &txr, bp, &p));
                    expect_close(what, fdata(&tg), fdata(&tr2), ny, 1e-5, 1e-5);
                    drop(&txr), drop(&tr2);
                    free(mag), free(xr);
                }
                drop(&tw), drop(&tx), drop(&tb), drop(&tr), drop(&tg);
                free(w), free(x), free(bias);
            }
    emu_np = emu_wrows = 0, emu_rev = 0;
}

/* The plan's decisions: the GEMM's input type by kernel type (BF16 kernels by F32 panels), x as
 * the column matrix only for an F32 1×1 stride-1 unpadded kernel, panels within
 * GK_CONV_PANEL_BYTES in whole 64-pixel runs (SD 1.5's widest kernel, 1280 channels 3×3, at a
 * 64×64 latent), the output extents, and the GEMM calls' offsets. */
static void conv2d_plan_choices(void **s) {
    const gk_conv_plan f = gk_plan_conv2d(8, 8, 4, 1, 3, 3, 4, 1, 1, GK_F32);
    assert_true(f.gemm_type == GK_F32 && !f.w_panels);
    assert_int_equal(gk_plan_conv2d(8, 8, 4, 1, 3, 3, 4, 1, 1, GK_F16).gemm_type, GK_F16);
    const gk_conv_plan bf = gk_plan_conv2d(8, 8, 4, 1, 3, 3, 4, 1, 1, GK_BF16);
    assert_true(bf.gemm_type == GK_F32 && bf.w_panels);
    assert_true(gk_plan_conv2d(8, 8, 4, 1, 1, 1, 4, 1, 0, GK_F32).direct);
    assert_true(gk_plan_conv2d(8, 8, 4, 1, 1, 1, 4, 1, 0, GK_BF16).direct); /* F32 panels, x as it is */
    assert_false(gk_plan_conv2d(8, 8, 4, 1, 1, 1, 4, 1, 0, GK_F16).direct); /* x must become F16 */
    assert_false(gk_plan_conv2d(8, 8, 4, 1, 1, 1, 4, 2, 0, GK_F32).direct);
    const gk_conv_plan big = gk_plan_conv2d(64, 64, 1280, 2, 3, 3, 1280, 1, 1, GK_F16);
    assert_int_equal(big.K, 11520);
    assert_int_equal(big.P, 4096);
    assert_int_equal(big.np, 1408); /* 32 MiB / (11520 · 2 bytes) = 1456, down to whole 64s */
    assert_true((size_t)(big.np * big.K) * 2 <= GK_CONV_PANEL_BYTES);
    assert_int_equal(big.wrows, 1280);
    const gk_conv_plan f32 = gk_plan_conv2d(64, 64, 1280, 2, 3, 3, 1280, 1, 1, GK_BF16);
    assert_true(f32.np == 704 && f32.wrows == 728 && gk_conv_scratch_bytes(&f32) <= 2 * GK_CONV_PANEL_BYTES);
    const gk_conv_plan down = gk_plan_conv2d(9, 7, 3, 1, 3, 3, 2, 2, 1, GK_F32);
    assert_true(down.wo == 5 && down.ho == 4 && down.np == down.P);
    const gk_conv_gemm g = gk_plan_conv_gemm(&big, 1, 1408, 1408, 0, 1280);
    assert_true(g.m == 1408 && g.n == 1280 && g.k == 11520 && g.lda == 1408 && g.ldb == 11520 && g.ldc == 4096);
    assert_true(g.a_off == 0 && g.b_off == 0 && g.c_off == 1280 * 4096 + 1408);
    const gk_conv_plan one = gk_plan_conv2d(6, 5, 7, 2, 1, 1, 9, 1, 0, GK_F32);
    const gk_conv_gemm d = gk_plan_conv_gemm(&one, 1, 0, 30, 0, 9);
    assert_true(d.lda == 30 && d.a_off == 7 * 30 && d.c_off == 9 * 30);
    assert_int_equal(gk_conv_scratch_bytes(&one), 0);
}

/* ---- sector efficiency -------------------------------------------------------------------- */

/* Shapes of whole warp-steps (planes and rows multiples of 32): the elementwise kernels, the
 * group norm's passes, layer_norm, the transposed cont and full_attention (head rows of 40
 * floats: 5 whole sectors) touch whole sectors only; what the others reach is pinned as it is
 * (the generic cont's transposed reads 12.5%, im2col's rows shifted by a tap, stride 2's every
 * other input float, add_channel's per-channel value and the timestep broadcasts). */
static void image_kernels_sector_efficiency(void **s) {
    const int64_t plane = 64, C = 8, N = 2, n = plane * C * N;
    float *x = rnd(n, 1.0f), *x2 = rnd(n, 1.0f), *y = dalloc((size_t)(4 * n) * 4), *v = rnd(C * N, 1.0f);
    {
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("y", y, (size_t)n * 4)};
        gk_iu_args a = {x, y, n, GK_IU_GELU};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_image_unary, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("gelu", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
    }
    {
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("y", y, (size_t)n * 2)};
        gk_geglu_args a = {x, y, 64, n / 128};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_elems(n / 2);
        GK_EMUL_LAUNCH(gk_body_geglu, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("geglu", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
    }
    {
        gk_mem_buf b[3] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("v", v, (size_t)C * N * 4),
                           gk_trace_buf("y", y, (size_t)n * 4)};
        gk_addc_args a = {x, v, y, plane, C, N, 1};
        gk_trace_begin(b, 3);
        const gk_grid g = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_add_channel, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("add_channel", b, 3, (const eff_want[]){{"x", 'l', 100}, {"v", 'l', 12.5}, {"y", 's', 100}}, 3);
    }
    {
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("y", y, (size_t)n * 16)};
        gk_up_args a = {x, y, 32, 2, n / 64};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_elems(4 * n);
        GK_EMUL_LAUNCH(gk_body_upsample2x, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("upsample2x", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
    }
    {
        gk_mem_buf b[3] = {gk_trace_buf("a", x, (size_t)n * 4), gk_trace_buf("c", x2, (size_t)n * 4),
                           gk_trace_buf("y", y, (size_t)n * 8)};
        gk_cat_args a = {x, x2, y, plane, C, C, N};
        gk_trace_begin(b, 3);
        const gk_grid g = gk_plan_elems(2 * n);
        GK_EMUL_LAUNCH(gk_body_concat, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("concat", b, 3, (const eff_want[]){{"a", 'l', 100}, {"c", 'l', 100}, {"y", 's', 100}}, 3);
    }
    { /* group norm: the partials' loads and the apply pass */
        float *ga = rnd(C, 1.0f), *be = rnd(C, 1.0f);
        const size_t pb = gk_gn_part_bytes(C, 2, plane, N);
        char *sc = dalloc(pb + 2 * N * 2 * 4);
        gk_gn_args a = {x, ga, be, y, (double *)sc, (float *)(sc + pb), plane, C, N, 2, 1e-5f};
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("y", y, (size_t)n * 4)};
        gk_trace_begin(b, 2);
        const gk_grid g1 = gk_plan_gn_part(C, 2, plane, N), g2 = gk_plan_elems(N * 2), g3 = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_gn_part, g1.gx, g1.gy, g1.gz, g1.nt, 0, a);
        GK_EMUL_LAUNCH(gk_body_gn_stats, g2.gx, g2.gy, g2.gz, g2.nt, 0, a);
        GK_EMUL_LAUNCH(gk_body_gn_apply, g3.gx, g3.gy, g3.gz, g3.nt, 0, a);
        gk_trace_end();
        check_eff("group_norm", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
        free(ga), free(be), free(sc);
    }
    { /* layer norm: rows of 128 */
        float *ga = rnd(128, 1.0f), *be = rnd(128, 1.0f);
        gk_ln_args a = {x, ga, be, y, 128, n / 128, 1e-5f};
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)n * 4), gk_trace_buf("y", y, (size_t)n * 4)};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_ln(a.rows);
        GK_EMUL_LAUNCH(gk_body_layer_norm, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("layer_norm", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
        free(ga), free(be);
    }
    { /* cont, pixels → tokens of a 8×8 image of 32 channels (batch 2): the transposed path */
        const int64_t st[4] = {64, 1, 64 * 32, 0}, ne[4] = {32, 64, 2, 1};
        float *xc = rnd(4096, 1.0f), *yc = dalloc(4096 * 4);
        const gk_cont_args a = gk_plan_cont_args(xc, yc, ne, st);
        assert_int_equal(a.j, 1);
        gk_mem_buf b[2] = {gk_trace_buf("x", xc, 4096 * 4), gk_trace_buf("y", yc, 4096 * 4)};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_cont(&a);
        GK_EMUL_LAUNCH(gk_body_cont_transposed, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("cont (transposed)", b, 2, (const eff_want[]){{"x", 'l', 100}, {"y", 's', 100}}, 2);
        gk_cont_args gen = a; /* the same view through the generic kernel */
        gen.j = 0;
        b[0] = gk_trace_buf("x", xc, 4096 * 4), b[1] = gk_trace_buf("y", yc, 4096 * 4);
        gk_trace_begin(b, 2);
        const gk_grid g2 = gk_plan_cont(&gen);
        GK_EMUL_LAUNCH(gk_body_cont, g2.gx, g2.gy, g2.gz, g2.nt, 0, gen);
        gk_trace_end();
        check_eff("cont (generic)", b, 2, (const eff_want[]){{"x", 'l', 12.5}, {"y", 's', 100}}, 2);
        free(xc), free(yc);
    }
    { /* im2col of a 3×3 kernel over 32×2 images of 8 channels, stride 1 and 2, F32 and F16 panels */
        for (int v2 = 0; v2 < 3; v2++) {
            const int stride = v2 == 1 ? 2 : 1, type = v2 == 2 ? GK_F16 : GK_F32;
            const gk_conv_plan pl = gk_plan_conv2d(32, 2, C, 1, 3, 3, 4, stride, 1, type);
            void *col = dalloc(gk_conv_col_bytes(&pl));
            const gk_im2col_args a = gk_plan_im2col(&pl, x, col, 0, 0, pl.P);
            gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)(64 * C) * 4), gk_trace_buf("col", col, gk_conv_col_bytes(&pl))};
            gk_trace_begin(b, 2);
            const gk_grid g = gk_plan_elems(a.K * a.np);
            GK_EMUL_LAUNCH(gk_body_im2col, g.gx, g.gy, g.gz, g.nt, 0, a);
            gk_trace_end();
            /* a warp's 32 pixels: one output row's taps, shifted by kx − 1 (the padded lane sits out;
             * the run straddles a sector); stride 2: every other float of two input rows */
            const double xl = stride == 1 ? 97.92 : 73.44;
            char name[48];
            snprintf(name, sizeof name, "im2col s%d %s", stride, gk_type_name(type));
            check_eff(name, b, 2, (const eff_want[]){{"x", 'l', xl}, {"col", 's', 100}}, 2);
            free(col);
        }
    }
    { /* full attention: 2 heads of 40 (a head's row is 160 bytes, 5 whole sectors, at a 320-byte
       * stride), 64 queries and keys */
        const int64_t d = 80, T = 64;
        float *q = rnd(d * T, 1.0f), *k = rnd(d * T, 1.0f), *vv = rnd(d * T, 1.0f), *o = dalloc((size_t)(d * T) * 4);
        gk_fa_args a = {q, k, vv, o, T, T, 2, 40, 0.158f};
        gk_mem_buf b[4] = {gk_trace_buf("q", q, (size_t)(d * T) * 4), gk_trace_buf("k", k, (size_t)(d * T) * 4),
                           gk_trace_buf("v", vv, (size_t)(d * T) * 4), gk_trace_buf("out", o, (size_t)(d * T) * 4)};
        gk_trace_begin(b, 4);
        const gk_grid g = gk_plan_fa(T, 2, 1, 40);
        GK_EMUL_LAUNCH(gk_body_full_attention, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("full_attention", b, 4,
                  (const eff_want[]){{"q", 'l', 100}, {"k", 'l', 100}, {"v", 'l', 100}, {"out", 's', 100}}, 4);
        free(q), free(k), free(vv), free(o);
    }
    { /* timestep_embed: every lane reads its image's timestep (one float of a sector) */
        float t[2] = {3.0f, 999.0f};
        float *tt = dalloc(8);
        memcpy(tt, t, 8);
        gk_temb_args a = {tt, y, 2, 320, 10000.0f};
        gk_mem_buf b[2] = {gk_trace_buf("t", tt, 8), gk_trace_buf("y", y, 2 * 320 * 4)};
        gk_trace_begin(b, 2);
        const gk_grid g = gk_plan_temb(320, 2);
        GK_EMUL_LAUNCH(gk_body_timestep_embed, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_eff("timestep_embed", b, 2, (const eff_want[]){{"t", 'l', 12.5}, {"y", 's', 100}}, 2);
        free(tt);
    }
    free(x), free(x2), free(y), free(v);
}

/* ---- sd-tiny on the emulated kernels ------------------------------------------------------------ */
/* The image workload's verification (bench/sd/sd_workload.c: one guided step and the decoder at
 * the smallest latent, 8 × 8, the latent after the step and the pixels compared by max |diff| ÷
 * max |ref|) with ref and with the emulated backend from the same seed: f32 weights (conv2d's
 * GEMM in F32) to 1e-5; f16 weights (activations rounded to F16 in every conv2d GEMM and every
 * matmul of more than 8 columns, as cuda's GEMM paths do: 4.2e-3) and bf16 (conv2d in F32, the
 * matmuls' activations rounded to BF16: 4.6e-3) within the workload's 5e-3. */
static double rel_err(const float *want, const float *got, int64_t n) {
    double e = 0, top = 0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)got[i] - want[i]));
        top = fmax(top, fabs((double)want[i]));
    }
    return top > 0 ? e / top : e;
}
static void small_run(sd_model *m, float *latent, float *image) {
    gc_err err = {{0}};
    if (sd_start(m, &err) || sd_encode(m, &err) || sd_denoise_step(m, 0, &err) || sd_read_latent(m, latent, &err) ||
        sd_decode(m, &err) || sd_read_image(m, image, &err))
        fail_msg("sd-tiny: %s", err.msg);
}
static void sd_tiny_step_and_decode_match_ref(void **s) {
    const sd_config *c = sd_preset("sd-tiny");
    assert_non_null(c);
    static const int types[] = {GK_F32, GK_F16, GK_BF16};
    for (int ti = 0; ti < 3; ti++) {
        sd_shape sh = {.width = 16, .height = 16, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 5};
        gc_err err = {{0}};
        sd_model *mr = sd_plan(c, &sh, types[ti], &err), *me = mr ? sd_plan(c, &sh, types[ti], &err) : NULL;
        if (!me || sd_load(mr, ref, 11, 1, &err) || sd_load(me, &emu, 11, 1, &err)) fail_msg("sd-tiny: %s", err.msg);
        const int64_t nl = sd_latent_elems(mr), ni = sd_image_elems(mr);
        float *buf = malloc((size_t)(2 * (nl + ni)) * sizeof *buf);
        assert_non_null(buf);
        small_run(mr, buf, buf + nl);
        small_run(me, buf + nl + ni, buf + 2 * nl + ni);
        const double el = rel_err(buf, buf + nl + ni, nl), ei = rel_err(buf + nl, buf + 2 * nl + ni, ni);
        const double tol = ti ? 5e-3 : 1e-5;
        printf("sd-tiny %s, 16x16, one guided step and the decoder: latent rel err %.3g, pixels %.3g (bound %.3g)\n",
               gk_type_name(types[ti]), el, ei, tol);
        if (!(el <= tol && ei <= tol)) fail_msg("sd-tiny %s: latent %.3g, pixels %.3g above %.3g", gk_type_name(types[ti]), el, ei, tol);
        free(buf);
        sd_free(mr), sd_free(me);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unary_ops_match_ref),
        cmocka_unit_test(geglu_matches_ref),
        cmocka_unit_test(copies_bit_equal),
        cmocka_unit_test(cont_views_bit_equal),
        cmocka_unit_test(group_norm_matches_ref),
        cmocka_unit_test(layer_norm_matches_ref),
        cmocka_unit_test(full_attention_matches_ref),
        cmocka_unit_test(conv2d_plan_choices),
        cmocka_unit_test(conv2d_matches_ref),
        cmocka_unit_test(image_kernels_sector_efficiency),
        cmocka_unit_test(sd_tiny_step_and_decode_match_ref),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
