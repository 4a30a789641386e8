/* Tests for the CUDA backend (kernels/cuda) without a GPU: every kernel's block body runs in
 * host emulation (kernels/cuda/simt.cuh), planned by the same functions as the device
 * launches, and is compared with the scalar "ref" backend on random data and awkward shapes;
 * each emulated kernel runs twice, with the threads of every region in forward and reverse
 * order, so a body that depends on thread order between barriers fails. When a CUDA device is
 * present the same cases also run through the "cuda" backend's op table against "ref", and its
 * supports() answers are checked; otherwise the device path says it was skipped and why. Where
 * a GPU is visible (/dev/nvidia0, or nvidia-smi -L lists one) or GENCOST_REQUIRE_GPU=1, a
 * device path that does not open is a failure, not a skip (an ASan build needs
 * ASAN_OPTIONS=protect_shadow_gap=0 for CUDA, as tests/run.sh sets; `make cuda-test-nosan`
 * builds this test without sanitizers). Also the backend's own decisions, which need no GPU:
 * the driver floor's message, cuBLAS's resolution, the activation precision of matmul and the
 * kernels workload's bound with it (BF16 at K = 2048 on the GEMM path), conv2d's. The train
 * and image families and the matmul forms training uses run here on the device only (their
 * emulation is test_cuda_train_emul and test_cuda_image_emul): every op against ref, the error
 * words, supports(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/probes/matrix_kernels.h"
#include "kernels/backend.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/rowops.cuh"
#ifdef GC_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

/* ---- helpers ------------------------------------------------------------------------------ */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void)    /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}
static float *rand_f32(int64_t n, float scale)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}
/* Device-like buffer: 256-byte aligned like cudaMalloc, so emulated loads check alignment. */
static void *dalloc(size_t bytes)
{
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    assert_non_null(p);
    memset(p, 0, bytes);
    return p;
}
/* Rows of floats encoded as `type` (the project's own quantisers). */
static uint8_t *encode(int type, const float *x, int64_t ne0, int64_t rows)
{
    size_t rb = gk_type_bytes(type, ne0);
    assert_true(rb > 0);
    uint8_t *p = dalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) gk_type_get(type)->from_f32(x + r * ne0, p + r * rb, ne0);
    return p;
}

/* |got - want| <= atol + rtol * |want| everywhere; reports the first miss. */
static void expect_close(const char *what, const float *got, const float *want, int64_t n, float atol, float rtol)
{
    for (int64_t i = 0; i < n; i++) {
        float d = fabsf(got[i] - want[i]);
        if (!(d <= atol + rtol * fabsf(want[i]))) {
            fail_msg("%s: element %lld is %.7g, reference %.7g (|diff| %.3g)", what, (long long)i, got[i],
                     want[i], d);
        }
    }
}

/* ---- backends: the oracle, and the device when there is one -------------------------------- */
static gk_backend *ref_be, *dev_be;
static char dev_why[512] = "built without CUDA";
static char gpu_how[128];   /* why a GPU counts as visible here; "" when none is */

/* A GPU this machine shows: the driver's device node, or nvidia-smi listing one; or the caller
 * insists (GENCOST_REQUIRE_GPU=1, scripts/gpu-check.sh). */
static bool gpu_visible(char *how, size_t n)
{
    const char *req = getenv("GENCOST_REQUIRE_GPU");
    if (req && !strcmp(req, "1")) return snprintf(how, n, "GENCOST_REQUIRE_GPU=1"), true;
    if (access("/dev/nvidia0", F_OK) == 0) return snprintf(how, n, "/dev/nvidia0 exists"), true;
    FILE *p = popen("timeout 20 nvidia-smi -L 2>/dev/null", "r");
    bool any = false;
    char line[256];
    while (p && fgets(line, sizeof line, p)) any |= strncmp(line, "GPU ", 4) == 0;
    if (p) pclose(p);
    if (any) snprintf(how, n, "nvidia-smi -L lists a GPU");
    return any;
}

static int setup(void **s)
{
    char err[512];
    ref_be = gk_backend_open("ref", NULL, err, sizeof err);
    if (!ref_be) {
        fprintf(stderr, "ref backend: %s\n", err);
        return -1;
    }
#ifdef GC_HAVE_CUDA
    if (gk_backend_available("cuda", dev_why, sizeof dev_why)) {
        dev_be = gk_backend_open("cuda", NULL, err, sizeof err);
        if (!dev_be) snprintf(dev_why, sizeof dev_why, "%s", err);
    }
#endif
    gpu_visible(gpu_how, sizeof gpu_how);
    if (!dev_be) printf("device path %s: %s\n", gpu_how[0] ? "DID NOT OPEN" : "skipped", dev_why);
    else printf("device path: %s\n", dev_be->device_name);
    return 0;
}
static int teardown(void **s)
{
    gk_backend_close(ref_be);
    gk_backend_close(dev_be);
    return 0;
}

static gk_tensor put(gk_backend *b, int type, int64_t ne0, int64_t ne1, const void *host)
{
    gk_tensor t;
    assert_int_equal(gk_new2d(b, &t, type, ne0, ne1), 0);
    if (host) assert_int_equal(b->ops->upload(b, &t, 0, host, t.nbytes), 0);
    return t;
}
static void get(gk_backend *b, gk_tensor *t, void *dst)
{
    int rc = b->ops->download(b, t, 0, dst, t->nbytes);
    if (rc) fail_msg("%s download: %s", b->name, gk_backend_error(b));
}
static void drop(gk_backend *b, gk_tensor *t) { b->ops->free(b, t); }
#define OK(b, call) do { if ((call) != 0) fail_msg("%s: %s", (b)->name, gk_backend_error(b)); } while (0)

/* y{N,M} = x{K,M} · wᵀ on backend b, w given in its storage bytes. */
static void be_matmul(gk_backend *b, int type, const uint8_t *w, const float *x, int64_t K, int64_t N, int64_t M, float *y)
{
    gk_tensor tw = put(b, type, K, N, w), tx = put(b, GK_F32, K, M, x), ty = put(b, GK_F32, N, M, NULL);
    OK(b, gk_matmul(b, &ty, &tw, &tx, NULL));
    get(b, &ty, y);
    drop(b, &tw), drop(b, &tx), drop(b, &ty);
}

/* ---- matmul ------------------------------------------------------------------------------- */
static void emul_matvec(int type, const uint8_t *w, const float *x, int64_t K, int64_t N, int64_t M, float *y, int rev)
{
    gk_mv_args a = {w, gk_type_bytes(type, K), x, y, K, N, M, type};
    gk_grid g = gk_plan_matvec(N, M);
    switch (type) {
    case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_matvec_q8_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_matvec_q4_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_matvec_q4_1, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_matvec_q4_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q6_K: GK_EMUL_LAUNCH(gk_body_matvec_q6_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    default: GK_EMUL_LAUNCH(gk_body_matvec_float, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    }
}

/* The integer path of quantized weights, as the backend runs it: x quantised to 8-bit blocks,
 * then the dp4a matvec. */
/* The integer path: quantize_x8, then the dp4a matvec or (mma) the 8-bit tensor-core kernel. */
static void emul_x8(int type, const uint8_t *w, const float *x, int64_t K, int64_t N, int64_t M, float *y,
                    int rev, bool mma)
{
    uint8_t *xq = dalloc(gk_mv_xq_bytes(K, M));
    gk_xq_args q = {x, xq, K, M};
    gk_grid g = gk_plan_quantize_x8(K, M);
    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, rev, q);
    gk_mvx_args a = {{w, gk_type_bytes(type, K), x, y, K, N, M, type}, xq};
    g = mma ? gk_plan_mma_x8(N, M) : gk_plan_matvec(N, M);
    if (mma) switch (type) {
    case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_mma_x8_q8_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_1, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    default: GK_EMUL_LAUNCH(gk_body_mma_x8_q6_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    }
    else switch (type) {
    case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_matvec_x8_q8_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_1, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    default: GK_EMUL_LAUNCH(gk_body_matvec_x8_q6_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
    }
    free(xq);
}

/* |got - want| within the kernels workload's bound per output (bench/probes/matrix_kernels.c:
 * F32 summation, and the 8-bit activation blocks' rounding for quantized weights). */
static void expect_within_x8_bound(const char *what, int type, const float *got, const float *want,
                                   const uint8_t *w, const float *x, int64_t K, int64_t N, int64_t M)
{
    float *row = malloc((size_t)K * sizeof *row);
    for (int64_t n = 0; n < N; n++) {
        gk_type_get(type)->to_f32(w + (size_t)n * gk_type_bytes(type, K), row, K);
        for (int64_t m = 0; m < M; m++) {
            const double bound = kernels_error_bound(type, GK_F32, row, x + m * K, K);
            const double d = fabs((double)got[m * N + n] - want[m * N + n]);
            if (!(d <= bound))
                fail_msg("%s: output (%lld, %lld) is %.7g, reference %.7g (|diff| %.3g, bound %.3g)", what,
                         (long long)n, (long long)m, got[m * N + n], want[m * N + n], d, bound);
        }
    }
    free(row);
}

/* The compute capability (·10) of the device dev_be opened. */
static int dev_cc(void)
{
    gk_device_info info;
    assert_int_equal(gk_backend_devices("cuda", &info, 1), 1);
    return info.cc_major * 10 + info.cc_minor;
}

/* The path a matmul of M columns takes on the device dev_be opened (gk_plan_matmul_path). */
static int dev_path(int type, int64_t M)
{
#ifdef GC_HAVE_CUDA
    char which[512];
    return gk_plan_matmul_path(type, M, gk_cuda_cublas_probe(which, sizeof which), dev_cc());
#else
    (void)type, (void)M;
    fail_msg("no device without CUDA");
    return -1;
#endif
}

static void check_matmul(int type, int64_t K, int64_t N, int64_t M)
{
    float *wf = rand_f32(K * N, 1.0f), *xh = rand_f32(K * M, 1.0f);
    uint8_t *w = encode(type, wf, K, N);
    float *x = dalloc((size_t)(K * M) * sizeof(float));
    memcpy(x, xh, (size_t)(K * M) * sizeof(float));
    float *want = malloc((size_t)(N * M) * sizeof(float)), *got = dalloc((size_t)(N * M) * sizeof(float));
    be_matmul(ref_be, type, w, x, K, N, M, want);
    const float atol = 2e-5f * (float)K, rtol = 1e-4f;   /* F32 sums of K products of magnitude <= 1 */
    const bool quant = gk_cu_qblock(type) != 0;
    char what[96];
    for (int rev = 0; rev < 2; rev++) {
        memset(got, 0xff, (size_t)(N * M) * sizeof(float));
        emul_matvec(type, w, x, K, N, M, got, rev);
        snprintf(what, sizeof what, "matvec %s K=%lld N=%lld M=%lld rev=%d", gk_type_name(type), (long long)K,
                 (long long)N, (long long)M, rev);
        expect_close(what, got, want, N * M, atol, rtol);
        for (int mma = 0; quant && mma < 2; mma++) {
            memset(got, 0xff, (size_t)(N * M) * sizeof(float));
            emul_x8(type, w, x, K, N, M, got, rev, mma);
            snprintf(what, sizeof what, "%s %s K=%lld N=%lld M=%lld rev=%d", mma ? "mma x8" : "matvec x8",
                     gk_type_name(type), (long long)K, (long long)N, (long long)M, rev);
            expect_within_x8_bound(what, type, got, want, w, x, K, N, M);
        }
    }
    if (dev_be) {
        /* The path the device takes (gk_plan_matmul_path): the integer ones (dp4a matvec, 8-bit
         * tensor cores) within the 8-bit bound, cuBLAS (F16 inputs) within a looser one. */
        be_matmul(dev_be, type, w, x, K, N, M, got);
        const int path = dev_path(type, M);
        snprintf(what, sizeof what, "device matmul %s K=%lld N=%lld M=%lld (path %d)", gk_type_name(type),
                 (long long)K, (long long)N, (long long)M, path);
        if (path == GK_PATH_GEMM) expect_close(what, got, want, N * M, 2e-3f * (float)K, 1e-2f);
        else if (quant) expect_within_x8_bound(what, type, got, want, w, x, K, N, M);
        else expect_close(what, got, want, N * M, atol, rtol);
    }
    free(wf), free(xh), free(w), free(x), free(want), free(got);
}

/* y = w·x on the device against ref (the integer path's bound); x as the device holds it. */
static void device_x8_check(const char *what, int type, const uint8_t *w, gk_tensor *ty, gk_tensor *tx,
                            int64_t K, int64_t N, int64_t M)
{
    float *got = malloc((size_t)(N * M) * 4), *want = malloc((size_t)(N * M) * 4);
    float *x = malloc((size_t)(K * M) * 4);
    get(dev_be, ty, got);
    get(dev_be, tx, x);
    be_matmul(ref_be, type, w, x, K, N, M, want);
    expect_within_x8_bound(what, type, got, want, w, x, K, N, M);
    free(got), free(want), free(x);
}

/* The device's integer path quantises x once for consecutive matmuls of it (Q, K, V): each
 * stage runs its matmuls back to back (no download between, which would forget the
 * quantisation), then checks them. The second matmul of an x reuses its quantisation; an op
 * writing x in place, an upload into it, another x between are seen; a norm's output comes
 * quantised by the norm. */
static void device_x8_reuses_activations(void **s)
{
    if (!dev_be) {
        printf("device integer-path reuse skipped: %s\n", dev_why);
        return;
    }
    const int64_t K = 512, N = 9, M = 2;
    float *wf = rand_f32(K * N * 2, 1.0f);
    float *xs[3] = {rand_f32(K * M, 1.0f), rand_f32(K * M, 1.0f), rand_f32(K * M, 1.0f)};
    float *nw = rand_f32(K, 1.0f);
    const int types[2] = {GK_Q4_0, GK_Q4_K};
    uint8_t *w[2] = {encode(GK_Q4_0, wf, K, N), encode(GK_Q4_K, wf + K * N, K, N)};
    gk_tensor tw[2] = {put(dev_be, GK_Q4_0, K, N, w[0]), put(dev_be, GK_Q4_K, K, N, w[1])};
    gk_tensor tx = put(dev_be, GK_F32, K, M, xs[0]), tx2 = put(dev_be, GK_F32, K, M, xs[1]);
    gk_tensor ty[2] = {put(dev_be, GK_F32, N, M, NULL), put(dev_be, GK_F32, N, M, NULL)};
    gk_tensor tn = put(dev_be, GK_F32, K, 1, nw);
    for (int stage = 0; stage < 4; stage++) {
        gk_tensor *second = &tx;
        if (stage == 1) OK(dev_be, gk_scale(dev_be, &tx, &tx, -0.5f));                    /* in place */
        if (stage == 2) { /* an upload into x, and another x for the second matmul */
            OK(dev_be, dev_be->ops->upload(dev_be, &tx, 0, xs[2], tx.nbytes));
            second = &tx2;
        }
        if (stage == 3) OK(dev_be, gk_rmsnorm(dev_be, &tx, &tx2, &tn, 1e-5f));           /* x = rmsnorm(x2) */
        OK(dev_be, gk_matmul(dev_be, &ty[0], &tw[0], &tx, NULL));
        OK(dev_be, gk_matmul(dev_be, &ty[1], &tw[1], second, NULL));
        char what[64];
        for (int i = 0; i < 2; i++) {
            snprintf(what, sizeof what, "device integer path, stage %d, matmul %d", stage, i);
            device_x8_check(what, types[i], w[i], &ty[i], i ? second : &tx, K, N, M);
        }
    }
    drop(dev_be, &tw[0]), drop(dev_be, &tw[1]), drop(dev_be, &tx), drop(dev_be, &tx2);
    drop(dev_be, &ty[0]), drop(dev_be, &ty[1]), drop(dev_be, &tn);
    free(wf), free(xs[0]), free(xs[1]), free(xs[2]), free(nw), free(w[0]), free(w[1]);
}

static const int all_weight_types[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
enum { N_WTYPES = sizeof all_weight_types / sizeof all_weight_types[0] };

/* A decode-like step run as a CUDA graph (GENCOST_CUDA_GRAPHS=1: a second backend) gives the
 * eager backend's results bit for bit, three times with new inputs and a new position-like
 * scale (the executable graph updated in place), and a dropped step runs nothing; copies inside
 * a step are refused. */
static void device_graph_step(void **s)
{
    if (!dev_be) {
        printf("device graph step skipped: %s\n", dev_why);
        return;
    }
    char err[512];
    setenv("GENCOST_CUDA_GRAPHS", "1", 1);
    gk_backend *gb = gk_backend_open("cuda", NULL, err, sizeof err);
    unsetenv("GENCOST_CUDA_GRAPHS");
    if (!gb) fail_msg("cuda with graphs: %s", err);
    const int64_t K = 512, N = 96;
    float *wf = rand_f32(K * N, 1.0f), *nw = rand_f32(K, 1.0f), *x = rand_f32(K, 1.0f);
    uint8_t *w = encode(GK_Q4_0, wf, K, N);
    gk_backend *be[2] = {dev_be, gb};
    gk_tensor tw[2], tn[2], tx[2], tx2[2], ty[2];
    for (int i = 0; i < 2; i++)
        tw[i] = put(be[i], GK_Q4_0, K, N, w), tn[i] = put(be[i], GK_F32, K, 1, nw), tx[i] = put(be[i], GK_F32, K, 1, x),
        tx2[i] = put(be[i], GK_F32, K, 1, NULL), ty[i] = put(be[i], GK_F32, N, 1, NULL);
    float got[2][96];
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < K; k++) x[k] = frand();
        for (int i = 0; i < 2; i++) {
            OK(be[i], be[i]->ops->upload(be[i], &tx[i], 0, x, (size_t)K * 4));
            OK(be[i], gk_step(be[i], 1));
            OK(be[i], gk_rmsnorm(be[i], &tx2[i], &tx[i], &tn[i], 1e-5f));
            OK(be[i], gk_scale(be[i], &tx2[i], &tx2[i], 0.5f + (float)round));
            OK(be[i], gk_matmul(be[i], &ty[i], &tw[i], &tx2[i], NULL));
            if (i == 1 && round == 0) { /* a copy inside the step is refused, the step goes on */
                assert_int_not_equal(gb->ops->download(gb, &ty[1], 0, got[1], sizeof got[1]), 0);
                assert_non_null(strstr(gk_backend_error(gb), "inside a captured decode step"));
            }
            OK(be[i], gk_step(be[i], 0));
            get(be[i], &ty[i], got[i]);
        }
        assert_memory_equal(got[0], got[1], sizeof got[0]);
    }
    /* dropped: y keeps the last round's values */
    OK(gb, gk_step(gb, 1));
    OK(gb, gk_scale(gb, &ty[1], &ty[1], 0.0f));
    OK(gb, gk_step(gb, -1));
    float after[96];
    get(gb, &ty[1], after);
    assert_memory_equal(after, got[1], sizeof after);
    for (int i = 0; i < 2; i++) drop(be[i], &tw[i]), drop(be[i], &tn[i]), drop(be[i], &tx[i]), drop(be[i], &tx2[i]), drop(be[i], &ty[i]);
    gk_backend_close(gb);
    free(wf), free(nw), free(x), free(w);
}

static void matvec_all_types(void **s)
{
    for (int i = 0; i < N_WTYPES; i++) {
        int t = all_weight_types[i];
        check_matmul(t, 256, 7, 1);       /* decode: fewer rows than a block's warps */
        check_matmul(t, 512, 9, 5);       /* two column groups, the second partial */
        check_matmul(t, 2304, 3, 8);      /* 72 chunks: lanes loop, some once more than others */
    }
}

static void matvec_float_odd_k(void **s)
{
    check_matmul(GK_F32, 37, 5, 3);
    check_matmul(GK_F16, 33, 6, 1);
    check_matmul(GK_BF16, 1, 3, 2);
}

static void matmul_many_columns(void **s)
{
    /* Emulation runs the custom kernel (the cuBLAS fallback); a device runs cuBLAS. */
    check_matmul(GK_Q4_0, 256, 12, 20);
    check_matmul(GK_F16, 64, 5, 17);
}

/* The GEMM path's pieces: dequantisation to F16, activation conversion, and the
 * column-major call plan (driven here through a column-major reference GEMM). */
static void dequant_f16_matches_type_table(void **s)
{
    for (int i = 0; i < N_WTYPES; i++) {
        const int type = all_weight_types[i];
        const int64_t K = type == GK_F32 || type == GK_F16 || type == GK_BF16 ? 70 : 512, N = 3;
        float *wf = rand_f32(K * N, 2.0f), *want = malloc((size_t)(K * N) * sizeof(float));
        uint8_t *w = encode(type, wf, K, N);
        for (int64_t r = 0; r < N; r++)
            gk_type_get(type)->to_f32(w + r * gk_type_bytes(type, K), want + r * K, K);
        uint16_t *h = dalloc((size_t)(K * N) * 2);
        gk_dq_args a = {w, gk_type_bytes(type, K), h, K, N, type};
        gk_grid g = gk_plan_dequant(K, N);
        GK_EMUL_LAUNCH(gk_body_dequant_f16, g.gx, g.gy, g.gz, g.nt, 0, a);
        for (int64_t j = 0; j < K * N; j++)
            if (h[j] != gk_f32_to_f16(want[j]))
                fail_msg("dequant %s: element %lld is %g, type table gives %g", gk_type_name(type), (long long)j,
                         gk_f16_to_f32(h[j]), want[j]);
        free(wf), free(want), free(w), free(h);
    }
}

static void convert_half_rounds_to_nearest_even(void **s)
{
    const int64_t n = 1000;
    float *x = rand_f32(n, 1000.0f);
    x[0] = 1.0f + 1.0f / 2048.0f;   /* a tie in F16: rounds to even, 1.0 */
    x[1] = 65520.0f;                /* rounds past the largest F16 to +inf */
    x[2] = -0.0f;
    x[3] = 1.0f + 3.0f / 256.0f;    /* a tie in BF16: rounds to even, 1 + 4/256 */
    uint16_t *h = dalloc(n * 2);
    for (int bf = 0; bf < 2; bf++) {
        gk_cvt_args a = {x, h, n, bf};
        gk_grid g = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_convert_half, g.gx, g.gy, g.gz, g.nt, 1, a);
        if (!bf) {
            assert_int_equal(h[0], 0x3c00);
            assert_int_equal(h[1], 0x7c00);
            assert_int_equal(h[2], 0x8000);
        } else {
            assert_int_equal(h[3], 0x3f82);
            for (int64_t i = 0; i < n; i++) assert_int_equal(h[i], gk_f32_to_bf16(x[i]));
        }
    }
    free(x), free(h);
}

static void gemm_plan_computes_y_equals_x_wt(void **s)
{
    const int64_t K = 13, N = 6, M = 4;
    float *w = rand_f32(K * N, 1), *x = rand_f32(K * M, 1), want[N * M], got[N * M];
    be_matmul(ref_be, GK_F32, (const uint8_t *)w, x, K, N, M, want);
    gk_gemm_plan p = gk_plan_gemm(K, N, M);
    /* C(m×n) = op(A)(m×k) · op(B)(k×n), all column-major, as cublasGemmEx defines it. */
    for (int i = 0; i < p.m; i++)
        for (int j = 0; j < p.n; j++) {
            double acc = 0;
            for (int l = 0; l < p.k; l++) {
                float av = p.transa ? w[i * p.lda + l] : w[l * p.lda + i];
                float bv = p.transb ? x[l * p.ldb + j] : x[j * p.ldb + l];
                acc += (double)av * bv;
            }
            got[j * p.ldc + i] = (float)acc;
        }
    expect_close("gemm plan", got, want, N * M, 1e-6f, 1e-6f);
    free(w), free(x);
}

/* ---- row ops ------------------------------------------------------------------------------ */
static void rmsnorm_and_softmax(void **s)
{
    static const int64_t dims[] = {1, 7, 256, 1000, 4099};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const int64_t dim = dims[di], T = 3;
        float *x = rand_f32(dim * T, 30.0f), *w = rand_f32(dim, 1.0f);
        float *want = malloc((size_t)(dim * T) * 4), *got = dalloc((size_t)(dim * T) * 4), *xd = dalloc((size_t)(dim * T) * 4);
        for (int op = 0; op < 2; op++) {
            gk_backend *b = ref_be;
            gk_tensor tx = put(b, GK_F32, dim, T, x), tw = put(b, GK_F32, dim, 1, w), ty = put(b, GK_F32, dim, T, NULL);
            OK(b, op ? gk_softmax(b, &ty, &tx) : gk_rmsnorm(b, &ty, &tx, &tw, 1e-5f));
            get(b, &ty, want);
            drop(b, &tx), drop(b, &tw), drop(b, &ty);
            for (int rev = 0; rev < 2; rev++) {
                /* in place (y = x) for rmsnorm, as the op allows */
                memcpy(xd, x, (size_t)(dim * T) * 4);
                gk_row_args a = {xd, w, op ? got : xd, dim, 1e-5f, NULL, T};
                gk_grid g = gk_plan_rows(T);
                if (op) GK_EMUL_LAUNCH(gk_body_softmax, g.gx, g.gy, g.gz, g.nt, rev, a);
                else GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, a);
                expect_close(op ? "softmax" : "rmsnorm", op ? got : xd, want, dim * T, 1e-6f, 2e-5f);
            }
            if (dev_be) {
                b = dev_be;
                tx = put(b, GK_F32, dim, T, x), tw = put(b, GK_F32, dim, 1, w);
                OK(b, op ? gk_softmax(b, &tx, &tx) : gk_rmsnorm(b, &tx, &tx, &tw, 1e-5f));
                get(b, &tx, got);
                drop(b, &tx), drop(b, &tw);
                expect_close(op ? "device softmax" : "device rmsnorm", got, want, dim * T, 1e-6f, 2e-5f);
            }
        }
        free(x), free(w), free(want), free(got), free(xd);
    }
}

static void elementwise_ops(void **s)
{
    static const int64_t sizes[] = {1, 255, 70001};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si];
        float *x = rand_f32(n, 12.0f), *c = rand_f32(n, 3.0f);
        float *want = malloc((size_t)n * 4), *got = dalloc((size_t)n * 4);
        for (int op = 0; op < 3; op++) {
            gk_backend *b = ref_be;
            gk_tensor ta = put(b, GK_F32, n, 1, x), tc = put(b, GK_F32, n, 1, c), ty = put(b, GK_F32, n, 1, NULL);
            OK(b, op == GK_EW_SILU_MUL ? gk_silu_mul(b, &ty, &ta, &tc)
                  : op == GK_EW_ADD    ? gk_add(b, &ty, &ta, &tc)
                                       : gk_scale(b, &ty, &ta, -0.375f));
            get(b, &ty, want);
            drop(b, &ta), drop(b, &tc), drop(b, &ty);
            gk_ew_args a = {x, c, got, n, -0.375f, op, NULL};
            gk_grid g = gk_plan_elems(n);
            GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, op & 1, a);
            expect_close("elementwise", got, want, n, 1e-6f, 1e-6f);
            if (dev_be) {
                b = dev_be;
                ta = put(b, GK_F32, n, 1, x), tc = put(b, GK_F32, n, 1, c);
                OK(b, op == GK_EW_SILU_MUL ? gk_silu_mul(b, &ta, &ta, &tc)
                      : op == GK_EW_ADD    ? gk_add(b, &ta, &ta, &tc)
                                           : gk_scale(b, &ta, &ta, -0.375f));
                get(b, &ta, got);
                drop(b, &ta), drop(b, &tc);
                expect_close("device elementwise", got, want, n, 1e-6f, 1e-6f);
            }
        }
        free(x), free(c), free(want), free(got);
    }
}

/* The device computes ref's float angle pos·powf(powf(base, -2/hd), i)/ff with CUDA's powf
 * (4 ulp; glibc's < 1), so θ_i's relative difference grows to (i + 1)·5 ulp and the angle's
 * by that times the angle; CUDA's sinf/cosf add 2 ulp to libm's 1. A rotated pair moves by
 * (|x0| + |x1|)·Δangle, plus the rounding of the output. Derived per element: at position
 * 4000 an angle of ~1500 rad differs by several 1e-3 rad, so no one tolerance fits every pair. */
static void expect_rope_device(const float *got, const float *want, const float *x, int nh, int hd, int pos0, int64_t T,
                               const float *ff)
{
    const double ulp = 0x1p-23;
    for (int64_t t = 0; t < T; t++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < hd / 2; i++) {
                const int64_t e = (t * nh + h) * hd + 2 * i;
                const double ang = (double)(pos0 + t) * pow(10000.0, -2.0 * i / hd) / (ff ? ff[i] : 1.0);
                const double dang = ang * (i + 1) * 5 * ulp + 3 * ulp;
                const double tol = (fabs(x[e]) + fabs(x[e + 1])) * dang + 4 * ulp * (fabs(want[e]) + fabs(want[e + 1])) + 1e-6;
                for (int k = 0; k < 2; k++)
                    if (!(fabs((double)got[e + k] - want[e + k]) <= tol))
                        fail_msg("device rope pos %lld head %d pair %d: %.7g, ref %.7g (tolerance %.3g)", (long long)(pos0 + t),
                                 h, i, got[e + k], want[e + k], tol);
            }
}

/* Every case without frequency factors, then with factors (Llama 3.1's rope_freqs) from 0.5 to
 * 8: the emulated body against the ref backend, and the device when there is one. */
static void rope_positions(void **s)
{
    static const struct { int n_head, hd, pos0; int64_t T; } cases[] = {
        {3, 2, 0, 2}, {2, 8, 5, 3}, {4, 128, 4000, 2}, {1, 256, 17, 1}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int with_ff = 0; with_ff < 2; with_ff++) {
            const int nh = cases[ci].n_head, hd = cases[ci].hd, pos0 = cases[ci].pos0;
            const int64_t T = cases[ci].T, n = (int64_t)nh * hd * T;
            float *x = rand_f32(n, 2.0f), *want = malloc((size_t)n * 4), *got = dalloc((size_t)n * 4);
            float *ff = with_ff ? dalloc((size_t)hd / 2 * 4) : NULL;
            for (int i = 0; with_ff && i < hd / 2; i++) ff[i] = 0.5f + 7.5f * (float)i / (float)(hd / 2);
            gk_tensor tx = put(ref_be, GK_F32, (int64_t)nh * hd, T, x), tf = {0};
            if (ff) tf = put(ref_be, GK_F32, hd / 2, 1, ff);
            OK(ref_be, gk_rope(ref_be, &tx, nh, hd, pos0, 10000.0f, ff ? &tf : NULL));
            get(ref_be, &tx, want);
            drop(ref_be, &tx);
            if (ff) drop(ref_be, &tf);
            for (int rev = 0; rev < 2; rev++) {
                memcpy(got, x, (size_t)n * 4);
                gk_rope_args a = {got, nh, hd, pos0, T, 10000.0f, ff};
                gk_grid g = gk_plan_rope(nh, hd, T);
                GK_EMUL_LAUNCH(gk_body_rope, g.gx, g.gy, g.gz, g.nt, rev, a);
                expect_close(ff ? "rope with factors" : "rope", got, want, n, 2e-5f, 2e-5f);
            }
            if (dev_be) {
                tx = put(dev_be, GK_F32, (int64_t)nh * hd, T, x);
                if (ff) tf = put(dev_be, GK_F32, hd / 2, 1, ff);
                OK(dev_be, gk_rope(dev_be, &tx, nh, hd, pos0, 10000.0f, ff ? &tf : NULL));
                get(dev_be, &tx, got);
                drop(dev_be, &tx);
                if (ff) drop(dev_be, &tf);
                expect_rope_device(got, want, x, nh, hd, pos0, T, ff);
            }
            free(x), free(want), free(got), free(ff);
        }
}

static void embedding_rows(void **s)
{
    for (int i = 0; i < N_WTYPES; i++) {
        const int type = all_weight_types[i];
        const int64_t dim = gk_cu_qblock(type) == 256 ? 512 : (gk_cu_qblock(type) ? 96 : 45), vocab = 11, T = 4;
        float *tf = rand_f32(dim * vocab, 3.0f);
        uint8_t *table = encode(type, tf, dim, vocab);
        int32_t *ids = dalloc(T * 4);
        ids[0] = 10, ids[1] = 0, ids[2] = 3, ids[3] = 10;
        float *want = malloc((size_t)(dim * T) * 4), *got = dalloc((size_t)(dim * T) * 4);
        gk_tensor tt = put(ref_be, type, dim, vocab, table), ti = put(ref_be, GK_I32, T, 1, ids), ty = put(ref_be, GK_F32, dim, T, NULL);
        OK(ref_be, gk_embedding(ref_be, &ty, &tt, &ti));
        get(ref_be, &ty, want);
        drop(ref_be, &tt), drop(ref_be, &ti), drop(ref_be, &ty);
        int err = 0;
        gk_emb_args a = {table, gk_type_bytes(type, dim), ids, got, dim, vocab, T, type, &err};
        gk_grid g = gk_plan_embedding(dim, T);
        GK_EMUL_LAUNCH(gk_body_embedding, g.gx, g.gy, g.gz, g.nt, i & 1, a);
        expect_close("embedding", got, want, dim * T, 0, 0);
        assert_int_equal(err, 0);
        ids[2] = 11;   /* one past the table: zeros and the error word */
        GK_EMUL_LAUNCH(gk_body_embedding, g.gx, g.gy, g.gz, g.nt, 0, a);
        assert_int_equal(err, 1);
        assert_true(got[2 * dim] == 0.0f && got[3 * dim - 1] == 0.0f);
        if (dev_be) {
            ids[2] = 3;
            tt = put(dev_be, type, dim, vocab, table), ti = put(dev_be, GK_I32, T, 1, ids), ty = put(dev_be, GK_F32, dim, T, NULL);
            OK(dev_be, gk_embedding(dev_be, &ty, &tt, &ti));
            get(dev_be, &ty, got);
            expect_close("device embedding", got, want, dim * T, 0, 0);
            ids[2] = 11;
            OK(dev_be, dev_be->ops->upload(dev_be, &ti, 0, ids, T * 4));
            OK(dev_be, gk_embedding(dev_be, &ty, &tt, &ti));
            assert_int_not_equal(dev_be->ops->sync(dev_be), 0);
            assert_non_null(strstr(gk_backend_error(dev_be), "token id"));
            OK(dev_be, dev_be->ops->sync(dev_be));   /* the error is reported once */
            drop(dev_be, &tt), drop(dev_be, &ti), drop(dev_be, &ty);
        }
        free(tf), free(table), free(ids), free(want), free(got);
    }
}

/* ---- KV cache and attention --------------------------------------------------------------- */
static const int cache_types[] = {GK_F32, GK_F16, GK_Q8_0};

static void kv_store_rows(void **s)
{
    for (int ci = 0; ci < 3; ci++) {
        const int type = cache_types[ci];
        const int64_t width = 96, ctx = 9, T = 3;
        const int pos0 = 5;
        const size_t rb = gk_type_bytes(type, width), bytes = rb * ctx;
        float *src = rand_f32(width * T, 4.0f);
        uint8_t *want = malloc(bytes), *got = dalloc(bytes);
        gk_tensor tc = put(ref_be, type, width, ctx, NULL), ts = put(ref_be, GK_F32, width, T, src);
        memset(got, 0x5a, bytes);
        OK(ref_be, ref_be->ops->upload(ref_be, &tc, 0, got, bytes));
        OK(ref_be, gk_kv_store(ref_be, &tc, &ts, pos0));
        get(ref_be, &tc, want);
        drop(ref_be, &tc), drop(ref_be, &ts);
        gk_kvs_args a = {got, rb, src, width, T, pos0, type};
        gk_grid g = gk_plan_kv_store(width, T);
        GK_EMUL_LAUNCH(gk_body_kv_store, g.gx, g.gy, g.gz, g.nt, ci & 1, a);
        if (memcmp(got, want, bytes) != 0) fail_msg("kv_store %s: cache bytes differ from ref", gk_type_name(type));
        if (dev_be) {
            memset(got, 0x5a, bytes);
            tc = put(dev_be, type, width, ctx, got), ts = put(dev_be, GK_F32, width, T, src);
            OK(dev_be, gk_kv_store(dev_be, &tc, &ts, pos0));
            get(dev_be, &tc, got);
            drop(dev_be, &tc), drop(dev_be, &ts);
            if (memcmp(got, want, bytes) != 0) fail_msg("device kv_store %s: cache bytes differ", gk_type_name(type));
        }
        free(src), free(want), free(got);
    }
}

/* ---- the fused ops ------------------------------------------------------------------------ */

/* add_rmsnorm as the llm pass calls it (y is the residual's storage): the emulated body gives
 * what the add and rmsnorm bodies give one after the other, bit for bit; against ref the sum
 * is exact and the norm within rmsnorm's tolerance; the device likewise. */
static void add_rmsnorm_rows(void **s)
{
    static const int64_t dims[] = {1, 7, 256, 1000, 4099};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const int64_t dim = dims[di], T = 3, n = dim * T;
        const size_t bytes = (size_t)n * 4;
        float *x = rand_f32(n, 30.0f), *r = rand_f32(n, 10.0f), *w = rand_f32(dim, 1.0f);
        float *want_x = malloc(bytes), *want_y = malloc(bytes);
        float *xf = dalloc(bytes), *rf = dalloc(bytes), *xu = dalloc(bytes), *ru = dalloc(bytes);
        gk_tensor tx = put(ref_be, GK_F32, dim, T, x), tr = put(ref_be, GK_F32, dim, T, r);
        gk_tensor tw = put(ref_be, GK_F32, dim, 1, w);
        OK(ref_be, gk_add_rmsnorm(ref_be, &tr, &tx, &tr, &tw, 1e-5f));
        get(ref_be, &tx, want_x), get(ref_be, &tr, want_y);
        drop(ref_be, &tx), drop(ref_be, &tr), drop(ref_be, &tw);
        for (int rev = 0; rev < 2; rev++) {
            memcpy(xf, x, bytes), memcpy(rf, r, bytes), memcpy(xu, x, bytes), memcpy(ru, r, bytes);
            gk_arn_args a = {xf, rf, w, rf, dim, 1e-5f, NULL, T};
            gk_grid g = gk_plan_rows(T);
            GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, a);
            gk_ew_args add = {xu, ru, xu, n, 0.0f, GK_EW_ADD, NULL};
            gk_grid ge = gk_plan_elems(n);
            GK_EMUL_LAUNCH(gk_body_elementwise, ge.gx, ge.gy, ge.gz, ge.nt, rev, add);
            gk_row_args norm = {xu, w, ru, dim, 1e-5f, NULL, T};
            GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, norm);
            if (memcmp(xf, xu, bytes) || memcmp(rf, ru, bytes))
                fail_msg("add_rmsnorm dim %lld: the fused body differs from add, rmsnorm", (long long)dim);
            if (memcmp(xf, want_x, bytes))
                fail_msg("add_rmsnorm dim %lld: x + r differs from ref", (long long)dim);
            expect_close("add_rmsnorm", rf, want_y, n, 1e-6f, 2e-5f);
        }
        if (dev_be) {
            tx = put(dev_be, GK_F32, dim, T, x), tr = put(dev_be, GK_F32, dim, T, r);
            tw = put(dev_be, GK_F32, dim, 1, w);
            OK(dev_be, gk_add_rmsnorm(dev_be, &tr, &tx, &tr, &tw, 1e-5f));
            get(dev_be, &tx, xf), get(dev_be, &tr, rf);
            drop(dev_be, &tx), drop(dev_be, &tr), drop(dev_be, &tw);
            if (memcmp(xf, want_x, bytes))
                fail_msg("device add_rmsnorm dim %lld: x + r differs from ref", (long long)dim);
            expect_close("device add_rmsnorm", rf, want_y, n, 1e-6f, 2e-5f);
        }
        free(x), free(r), free(w), free(want_x), free(want_y), free(xf), free(rf), free(xu), free(ru);
    }
}

/* At decode the norms and silu_mul also write their output quantised for the integer matvec:
 * the output is the same bit for bit, and the quantised copy is the quantize_x8 kernel's of it,
 * bit for bit (both thread orders; rows of one block, several steps, a partial last step; for
 * silu_mul, whose blocks of threads run over the flat T×dim elements, a partial last block). */
static void norms_write_quantised_output(void **s)
{
    static const int64_t dims[] = {32, 256, 1056, 4096};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int64_t T = 1; T <= 3; T += 2) {
            const int64_t dim = dims[di], n = dim * T;
            const size_t bytes = (size_t)n * 4, qb = gk_mv_xq_bytes(dim, T);
            float *x = rand_f32(n, 30.0f), *r = rand_f32(n, 10.0f), *w = rand_f32(dim, 1.0f);
            float *x0 = dalloc(bytes), *y0 = dalloc(bytes), *x1 = dalloc(bytes), *y1 = dalloc(bytes);
            uint8_t *xq = dalloc(qb), *want = dalloc(qb);
            for (int op = 0; op < 3; op++)
                for (int rev = 0; rev < 2; rev++) {
                    memcpy(x0, x, bytes), memcpy(y0, r, bytes), memcpy(x1, x, bytes), memcpy(y1, r, bytes);
                    memset(xq, 0x5a, qb);
                    gk_grid g = gk_plan_rows(T);
                    if (op == 2) {
                        gk_ew_args a = {x, r, y0, n, 0.0f, GK_EW_SILU_MUL, NULL}, aq = {x, r, y1, n, 0.0f, GK_EW_SILU_MUL, xq};
                        g = gk_plan_elems(n);
                        GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, rev, a);
                        GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, rev, aq);
                    } else if (op) {
                        gk_arn_args a = {x0, y0, w, y0, dim, 1e-5f, NULL, T};
                        gk_arn_args aq = {x1, y1, w, y1, dim, 1e-5f, xq, T};
                        GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, a);
                        GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, aq);
                    } else {
                        gk_row_args a = {x, w, y0, dim, 1e-5f, NULL, T}, aq = {x, w, y1, dim, 1e-5f, xq, T};
                        GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, a);
                        GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, aq);
                    }
                    gk_xq_args q = {y0, want, dim, T};
                    g = gk_plan_quantize_x8(dim, T);
                    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, rev, q);
                    const char *name = op == 2 ? "silu_mul" : op ? "add_rmsnorm" : "rmsnorm";
                    if (memcmp(y0, y1, bytes) || memcmp(x0, x1, bytes))
                        fail_msg("%s dim %lld T %lld: the output changes when it is also quantised", name,
                                 (long long)dim, (long long)T);
                    if (memcmp(xq, want, qb))
                        fail_msg("%s dim %lld T %lld: its quantised output differs from quantize_x8's", name,
                                 (long long)dim, (long long)T);
                }
            free(x), free(r), free(w), free(x0), free(y0), free(x1), free(y1), free(xq), free(want);
        }
}

typedef struct rkv_case { int n_head, n_kv, hd, pos0; int64_t T; int kt, vt, ff; } rkv_case;
enum { RKV_CTX = 12 };

/* The caches' floats, decoded with the type table. */
static float *cache_as_f32(int type, const uint8_t *c, int64_t width)
{
    float *f = malloc((size_t)(width * RKV_CTX) * 4);
    gk_type_get(type)->to_f32(c, f, width * RKV_CTX);
    return f;
}

/* q, caches of one rope_kv_store case: ref's op, the emulated fused body, and the rope and
 * kv_store bodies it replaces. */
static void check_rope_kv_store(const rkv_case *c)
{
    const int64_t qw = (int64_t)c->n_head * c->hd, kw = (int64_t)c->n_kv * c->hd;
    const int64_t qn = qw * c->T, kn = kw * c->T;
    const size_t kcb = gk_type_bytes(c->kt, kw) * RKV_CTX, vcb = gk_type_bytes(c->vt, kw) * RKV_CTX;
    float *q = rand_f32(qn, 2.0f), *k = rand_f32(kn, 2.0f), *v = rand_f32(kn, 2.0f), *ff = NULL;
    if (c->ff) {
        ff = dalloc((size_t)c->hd / 2 * 4);
        for (int i = 0; i < c->hd / 2; i++) ff[i] = 0.5f + 7.5f * (float)i / (float)(c->hd / 2);
    }
    float *want_q = malloc((size_t)qn * 4);
    uint8_t *want_kc = calloc(1, kcb), *want_vc = calloc(1, vcb);
    gk_tensor tq = put(ref_be, GK_F32, qw, c->T, q), tk = put(ref_be, GK_F32, kw, c->T, k);
    gk_tensor tv = put(ref_be, GK_F32, kw, c->T, v), tf = {0};
    gk_tensor tkc = put(ref_be, c->kt, kw, RKV_CTX, want_kc), tvc = put(ref_be, c->vt, kw, RKV_CTX, want_vc);
    if (ff) tf = put(ref_be, GK_F32, c->hd / 2, 1, ff);
    gk_rope_kv_params p = {c->n_head, c->n_kv, c->hd, c->pos0, 10000.0f, ff ? &tf : NULL};
    OK(ref_be, gk_rope_kv_store(ref_be, &tq, &tkc, &tvc, &tk, &tv, &p));
    get(ref_be, &tq, want_q), get(ref_be, &tkc, want_kc), get(ref_be, &tvc, want_vc);
    drop(ref_be, &tq), drop(ref_be, &tk), drop(ref_be, &tv), drop(ref_be, &tkc), drop(ref_be, &tvc);
    if (ff) drop(ref_be, &tf);
    char what[160];
    snprintf(what, sizeof what, "rope_kv_store heads %d/%d of %d pos0 %d T %lld %s/%s%s", c->n_head, c->n_kv,
             c->hd, c->pos0, (long long)c->T, gk_type_name(c->kt), gk_type_name(c->vt), ff ? " factors" : "");
    float *qf = dalloc((size_t)qn * 4), *qu = dalloc((size_t)qn * 4);
    float *kd = dalloc((size_t)kn * 4), *ku = dalloc((size_t)kn * 4), *vd = dalloc((size_t)kn * 4);
    uint8_t *kcf = dalloc(kcb), *vcf = dalloc(vcb), *kcu = dalloc(kcb), *vcu = dalloc(vcb);
    memcpy(kd, k, (size_t)kn * 4), memcpy(vd, v, (size_t)kn * 4);
    for (int rev = 0; rev < 2; rev++) {
        memcpy(qf, q, (size_t)qn * 4), memcpy(qu, q, (size_t)qn * 4), memcpy(ku, k, (size_t)kn * 4);
        memset(kcf, 0, kcb), memset(vcf, 0, vcb), memset(kcu, 0, kcb), memset(vcu, 0, vcb);
        gk_rkv_args a = {qf, kd, vd, kcf, vcf, gk_type_bytes(c->kt, kw), gk_type_bytes(c->vt, kw), c->kt,
                         c->vt, c->n_head, c->n_kv, c->hd, c->pos0, c->T, kw, 10000.0f, ff};
        gk_grid g = gk_plan_rope_kv_store(&a);
        GK_EMUL_LAUNCH(gk_body_rope_kv_store, g.gx, g.gy, g.gz, g.nt, rev, a);
        gk_rope_args rq = {qu, c->n_head, c->hd, c->pos0, c->T, 10000.0f, ff};
        gk_rope_args rk = {ku, c->n_kv, c->hd, c->pos0, c->T, 10000.0f, ff};
        g = gk_plan_rope(c->n_head, c->hd, c->T);
        GK_EMUL_LAUNCH(gk_body_rope, g.gx, g.gy, g.gz, g.nt, rev, rq);
        g = gk_plan_rope(c->n_kv, c->hd, c->T);
        GK_EMUL_LAUNCH(gk_body_rope, g.gx, g.gy, g.gz, g.nt, rev, rk);
        gk_kvs_args sk = {kcu, gk_type_bytes(c->kt, kw), ku, kw, c->T, c->pos0, c->kt};
        gk_kvs_args sv = {vcu, gk_type_bytes(c->vt, kw), vd, kw, c->T, c->pos0, c->vt};
        g = gk_plan_kv_store(kw, c->T);
        GK_EMUL_LAUNCH(gk_body_kv_store, g.gx, g.gy, g.gz, g.nt, rev, sk);
        GK_EMUL_LAUNCH(gk_body_kv_store, g.gx, g.gy, g.gz, g.nt, rev, sv);
        if (memcmp(qf, qu, (size_t)qn * 4) || memcmp(kcf, kcu, kcb) || memcmp(vcf, vcu, vcb))
            fail_msg("%s: the fused body differs from rope, rope, kv_store, kv_store", what);
        if (memcmp(kd, k, (size_t)kn * 4)) fail_msg("%s: k changed", what);
        /* against ref: q as rope's; V a plain conversion, bytes equal (kv_store_rows); K turned,
         * within rope's tolerance plus one step of the cache type where a rounding boundary
         * lies between (values below 2 * sqrt(2): F16 2^-9, Q8_0 amax/127) */
        expect_close(what, qf, want_q, qn, 2e-5f, 2e-5f);
        if (memcmp(vcf, want_vc, vcb)) fail_msg("%s: V cache bytes differ from ref", what);
        float *gk = cache_as_f32(c->kt, kcf, kw), *wk = cache_as_f32(c->kt, want_kc, kw);
        const float step = c->kt == GK_Q8_0 ? 2.83f / 127 : c->kt == GK_F16 ? 0x1p-9f : 0.0f;
        expect_close(what, gk, wk, kw * RKV_CTX, 2e-5f + step, 2e-5f);
        free(gk), free(wk);
    }
    if (dev_be) {
        /* the device's angles are CUDA's powf/sinf (expect_rope_device); V exact as on the host */
        tq = put(dev_be, GK_F32, qw, c->T, q), tk = put(dev_be, GK_F32, kw, c->T, k);
        tv = put(dev_be, GK_F32, kw, c->T, v);
        memset(kcf, 0, kcb), memset(vcf, 0, vcb);
        tkc = put(dev_be, c->kt, kw, RKV_CTX, kcf), tvc = put(dev_be, c->vt, kw, RKV_CTX, vcf);
        if (ff) tf = put(dev_be, GK_F32, c->hd / 2, 1, ff);
        p.freq_factors = ff ? &tf : NULL;
        OK(dev_be, gk_rope_kv_store(dev_be, &tq, &tkc, &tvc, &tk, &tv, &p));
        get(dev_be, &tq, qf), get(dev_be, &tkc, kcf), get(dev_be, &tvc, vcf);
        drop(dev_be, &tq), drop(dev_be, &tk), drop(dev_be, &tv), drop(dev_be, &tkc), drop(dev_be, &tvc);
        if (ff) drop(dev_be, &tf);
        expect_rope_device(qf, want_q, q, c->n_head, c->hd, c->pos0, c->T, ff);
        if (memcmp(vcf, want_vc, vcb)) fail_msg("device %s: V cache bytes differ from ref", what);
        const size_t at = (size_t)c->pos0 * (size_t)kw * 4;   /* the rows written, as floats */
        if (c->kt == GK_F32)
            expect_rope_device((const float *)(void *)(kcf + at), (const float *)(void *)(want_kc + at), k,
                               c->n_kv, c->hd, c->pos0, c->T, ff);
    }
    free(q), free(k), free(v), free(ff), free(want_q), free(want_kc), free(want_vc), free(qf), free(qu);
    free(kd), free(ku), free(vd), free(kcf), free(vcf), free(kcu), free(vcu);
}

static void rope_kv_store_rows(void **s)
{
    static const rkv_case cases[] = {
        {4, 2, 8, 0, 3, GK_F32, GK_F32, 0},     {4, 4, 16, 5, 2, GK_F16, GK_Q8_0, 0},
        {8, 2, 64, 7, 4, GK_Q8_0, GK_F16, 1},   {2, 1, 128, 9, 1, GK_Q8_0, GK_Q8_0, 1},
        {3, 3, 32, 11, 1, GK_F32, GK_F16, 1},   {32, 8, 128, 4, 1, GK_F32, GK_F32, 0},   /* llama3-8b's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_rope_kv_store(&cases[i]);
}

typedef struct attn_case { int n_head, n_kv, hd, pos0; int64_t T; } attn_case;

static void emul_attention(const gk_attn_args *in, int rev)
{
    gk_attn_args a = *in;
    float *part = NULL;
    if (gk_attn_use_decode(a.T)) {
        a.n_split = gk_attn_n_split(a.pos0, a.T);
        part = dalloc(gk_attn_part_floats(a.n_split, a.n_head, a.head_dim, a.T) * sizeof(float));
        a.part = part;
        gk_grid g = gk_plan_attn_decode(a.n_split, a.n_head, a.T);
        GK_EMUL_LAUNCH(gk_body_attn_decode, g.gx, g.gy, g.gz, g.nt, rev, a);
        g = gk_plan_attn_combine(a.n_head, a.T);
        GK_EMUL_LAUNCH(gk_body_attn_combine, g.gx, g.gy, g.gz, g.nt, rev, a);
    } else if (a.mma) {
        gk_grid g = gk_plan_attn_prefill_mma(a.n_head, a.T);
        GK_EMUL_LAUNCH(gk_body_attn_prefill_mma, g.gx, g.gy, g.gz, g.nt, rev, a);
    } else {
        gk_grid g = gk_plan_attn_prefill(a.n_head, a.T);
        GK_EMUL_LAUNCH(gk_body_attn_prefill, g.gx, g.gy, g.gz, g.nt, rev, a);
    }
    free(part);
}

/* At decode the combine also writes its output quantised for the output projection: the output
 * the same bit for bit, the quantised copy quantize_x8's of it, bit for bit. */
static void attention_quantised_output(const gk_attn_args *plain, int rev, const char *what)
{
    const int64_t n = (int64_t)plain->n_head * plain->head_dim;
    const size_t bytes = (size_t)(n * plain->T) * 4, qb = gk_mv_xq_bytes(n, plain->T);
    float *out = dalloc(bytes);
    uint8_t *xq = dalloc(qb), *want = dalloc(qb);
    memset(xq, 0x5a, qb);
    gk_attn_args a = *plain;
    a.out = out, a.xq = xq;
    emul_attention(&a, rev);
    if (memcmp(out, plain->out, bytes)) fail_msg("%s: the output changes when it is also quantised", what);
    gk_xq_args q = {out, want, n, plain->T};
    gk_grid g = gk_plan_quantize_x8(n, plain->T);
    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, rev, q);
    if (memcmp(xq, want, qb)) fail_msg("%s: its quantised output differs from quantize_x8's", what);
    free(out), free(xq), free(want);
}

/* The tensor-core prefill rounds Q·scale, K, V and P to F16: test_cuda_mma_emul derives its
 * bound (about 1e-2 for these magnitudes; measured worst 2e-4 with values within ±1) and
 * checks it; here the keys are within ±2, so a flat 4e-3 absolute and relative. */
#define MMA_ATTN_TOL 4e-3f

static void check_attention(int type, attn_case c)
{
    const int64_t qw = (int64_t)c.n_head * c.hd, kw = (int64_t)c.n_kv * c.hd, ctx = c.pos0 + c.T + 3;
    float *q = rand_f32(qw * c.T, 1.0f), *kf = rand_f32(kw * ctx, 2.0f), *vf = rand_f32(kw * ctx, 1.0f);
    uint8_t *k = encode(type, kf, kw, ctx), *v = encode(type, vf, kw, ctx);
    float *qd = dalloc((size_t)(qw * c.T) * 4), *want = malloc((size_t)(qw * c.T) * 4), *got = dalloc((size_t)(qw * c.T) * 4);
    memcpy(qd, q, (size_t)(qw * c.T) * 4);
    const gk_attn_params p = {c.n_head, c.n_kv, c.hd, c.pos0, 1.0f / sqrtf((float)c.hd)};
    gk_backend *b = ref_be;
    gk_tensor tq = put(b, GK_F32, qw, c.T, q), tk = put(b, type, kw, ctx, k), tv = put(b, type, kw, ctx, v),
              to = put(b, GK_F32, qw, c.T, NULL);
    OK(b, gk_attention(b, &to, &tq, &tk, &tv, &p));
    get(b, &to, want);
    drop(b, &tq), drop(b, &tk), drop(b, &tv), drop(b, &to);
    char what[128];
    snprintf(what, sizeof what, "attention %s heads %d/%d hd %d pos0 %d T %lld (%s)", gk_type_name(type), c.n_head,
             c.n_kv, c.hd, c.pos0, (long long)c.T, gk_attn_use_decode(c.T) ? "decode" : "prefill");
    for (int rev = 0; rev < 2; rev++) {
        memset(got, 0xff, (size_t)(qw * c.T) * 4);
        gk_attn_args a = {qd, got, k, v, gk_type_bytes(type, kw), NULL, type, c.n_head, c.n_kv, c.hd, c.pos0, 0, c.T, p.scale, NULL, 0};
        emul_attention(&a, rev);
        expect_close(what, got, want, qw * c.T, 2e-5f, 1e-4f);
        if (gk_plan_attn_quantises(c.hd, c.T)) attention_quantised_output(&a, rev, what);
        if (gk_plan_attn_mma(type, c.hd, c.T, 80)) { /* the tensor-core kernel too */
            memset(got, 0xff, (size_t)(qw * c.T) * 4);
            a.mma = 1;
            emul_attention(&a, rev);
            expect_close(what, got, want, qw * c.T, MMA_ATTN_TOL, MMA_ATTN_TOL);
        }
    }
    if (dev_be) {
        b = dev_be;
        tq = put(b, GK_F32, qw, c.T, q), tk = put(b, type, kw, ctx, k), tv = put(b, type, kw, ctx, v),
        to = put(b, GK_F32, qw, c.T, NULL);
        OK(b, gk_attention(b, &to, &tq, &tk, &tv, &p));
        get(b, &to, got);
        drop(b, &tq), drop(b, &tk), drop(b, &tv), drop(b, &to);
        const float tol = gk_plan_attn_mma(type, c.hd, c.T, dev_cc()) ? MMA_ATTN_TOL : 0.0f;
        expect_close(what, got, want, qw * c.T, tol ? tol : 2e-5f, tol ? tol : 1e-4f);
    }
    free(q), free(kf), free(vf), free(k), free(v), free(qd), free(want), free(got);
}

static void attention_decode(void **s)
{
    static const attn_case cases[] = {
        {4, 2, 64, 0, 1},      /* the first token: one key */
        {4, 4, 32, 5, 1},
        {2, 1, 128, 300, 1},   /* three splits, the last partial */
        {4, 2, 32, 250, 8},    /* rows of 251..258 keys: a split empty for the early rows */
        {1, 1, 256, 40, 2},
    };
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_attention(cache_types[ti], cases[i]);
    /* a head width that is not a multiple of 8 takes the element-wise loads (float caches) */
    check_attention(GK_F32, (attn_case){2, 1, 12, 7, 1});
    check_attention(GK_F16, (attn_case){3, 3, 6, 130, 2});
}

static void attention_prefill(void **s)
{
    static const attn_case cases[] = {
        {4, 2, 32, 0, 37},     /* three query tiles, the last partial; key tiles cross rows */
        {2, 2, 64, 50, 20},    /* a prompt continuing a cache */
        {6, 2, 96, 0, 16},     /* exactly one tile */
        {1, 1, 256, 3, 9},     /* widest head */
    };
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_attention(cache_types[ti], cases[i]);
    check_attention(GK_F16, (attn_case){2, 1, 12, 0, 20});
}

/* ---- the backend without (or with) a device ------------------------------------------------ */

/* Where a GPU is visible the device path is not optional: a backend that does not open there
 * (no driver for this runtime, ASan's shadow gap, no cuBLAS-free start) fails make test. */
static void device_path_runs_where_a_gpu_is_visible(void **s)
{
    if (!gpu_how[0]) {
        printf("no GPU visible (no /dev/nvidia0, nvidia-smi -L lists none): the device path may skip\n");
        return;
    }
#ifdef GC_HAVE_CUDA
    const char *asan = getenv("ASAN_OPTIONS");
    bool gap_protected = false;
#if defined(__SANITIZE_ADDRESS__)
    gap_protected = !asan || !strstr(asan, "protect_shadow_gap=0");
#endif
    (void)asan;
    if (!dev_be)
        fail_msg("a GPU is visible (%s) but the cuda backend did not open: %s%s", gpu_how, dev_why,
                 gap_protected ? " (an ASan build: CUDA needs ASAN_OPTIONS=protect_shadow_gap=0, or make cuda-test-nosan)" : "");
#else
    printf("note: a GPU is visible (%s) but this build has no CUDA (nvcc or libcudart_static.a not found at build time)\n",
           gpu_how);
#endif
}

static void backend_presence(void **s)
{
#ifdef GC_HAVE_CUDA
    char why[512] = "", err[512] = "";
    gk_device_info info[4];
    int nd = gk_backend_devices("cuda", info, 4);
    if (!gk_backend_available("cuda", why, sizeof why)) {
        /* one line: no device, no driver, or a driver below this runtime's floor */
        if (!strstr(why, "no CUDA device: ") && !strstr(why, "CUDA driver ")) fail_msg("unexpected reason: %s", why);
        assert_null(strchr(why, '\n'));
        assert_int_equal(nd, 0);
        assert_null(gk_backend_open("cuda", NULL, err, sizeof err));
        assert_non_null(strstr(err, why));
    } else {
        assert_true(nd >= 1);
        assert_true(info[0].cc_major >= 7 && info[0].sm_count > 0 && info[0].mem_bytes > 0);
        assert_true(info[0].peak_bw_gbs > 50.0 && info[0].name[0] && info[0].runtime_version[0]);
        assert_true(!strncmp(info[0].blas, "cublas ", 7) || !strcmp(info[0].blas, "cublas: missing"));
    }
#else
    char why[256];
    assert_false(gk_backend_available("cuda", why, sizeof why));
#endif
}

#ifdef GC_HAVE_CUDA
/* The message for a driver below the runtime's floor, from the version numbers alone. */
static void driver_floor_message(void **s)
{
    char m[256];
    assert_true(gk_cuda_driver_floor(12080, 13000, true, m, sizeof m));
    assert_string_equal(m, "CUDA driver 12.8 < runtime 13.0: install driver R580+ or build with a CUDA 12.x toolkit "
                           "(make TOOLKIT=<its folder>)");
    assert_true(gk_cuda_driver_floor(11080, 12040, false, m, sizeof m));   /* older major: refused anyway */
    assert_string_equal(m, "CUDA driver 11.8 < runtime 12.4: install driver R525+ or build with a CUDA 11.x toolkit "
                           "(make TOOLKIT=<its folder>)");
    assert_true(gk_cuda_driver_floor(13000, 14000, true, m, sizeof m));   /* a major this file has no branch for */
    assert_string_equal(m, "CUDA driver 13.0 < runtime 14.0: install a driver for CUDA 14.x or build with a CUDA 13.x "
                           "toolkit (make TOOLKIT=<its folder>)");
    assert_true(gk_cuda_driver_floor(10020, 12000, true, m, sizeof m));   /* no toolkit of the driver's major builds this */
    assert_string_equal(m, "CUDA driver 10.2 < runtime 12.0: install driver R525+");
    assert_true(gk_cuda_driver_floor(12020, 12080, true, m, sizeof m));   /* the runtime refused an older minor */
    assert_string_equal(m, "CUDA driver 12.2 < runtime 12.8: install driver R525+");
    assert_true(gk_cuda_driver_floor(0, 13000, true, m, sizeof m));
    assert_string_equal(m, "no CUDA device: no NVIDIA driver (libcuda.so.1 not found; this build's runtime is CUDA 13.0)");
    /* minor version compatibility, and newer drivers */
    assert_false(gk_cuda_driver_floor(12020, 12080, false, m, sizeof m));
    assert_string_equal(m, "");
    assert_false(gk_cuda_driver_floor(13000, 13000, false, m, sizeof m));
    assert_false(gk_cuda_driver_floor(13010, 12080, true, m, sizeof m));
    assert_null(strchr(m, '\n'));
}

/* cuBLAS as the backend resolves it: its probe succeeds exactly when one of its own names
 * opens, and reports the first that does; results record its version or "cublas: missing". */
static void cublas_resolution(void **s)
{
    const char *const *names = gk_cuda_cublas_names(), *opens = NULL;
    assert_non_null(names[0]);
    for (const char *const *p = names; *p; p++) {
        assert_non_null(strstr(*p, "libcublas.so."));   /* a versioned soname, never the bare .so */
        if (!opens && dlopen(*p, RTLD_NOW | RTLD_LOCAL)) opens = *p;   /* left loaded, as the backend leaves it */
    }
    char which[512], fact[64];
    bool ok = gk_cuda_cublas_probe(which, sizeof which);
    gk_cuda_blas_fact(fact, sizeof fact);
    if (opens) {
        if (!ok) fail_msg("cuBLAS opens as %s but the probe failed: %s", opens, which);
        assert_string_equal(which, opens);
        int v[3];
        assert_int_equal(sscanf(fact, "cublas %d.%d.%d", &v[0], &v[1], &v[2]), 3);
        assert_true(v[0] >= 11);
        printf("cuBLAS: %s (%s)\n", which, fact);
    } else {
        assert_false(ok);
        assert_non_null(strstr(which, "cuBLAS not loadable"));
        assert_string_equal(fact, "cublas: missing");
    }
    /* statuses that leave work half done fault the context; argument errors do not */
    assert_true(gk_cuda_blas_status_faults(13));    /* CUBLAS_STATUS_EXECUTION_FAILED */
    assert_true(gk_cuda_blas_status_faults(14));    /* CUBLAS_STATUS_INTERNAL_ERROR */
    assert_false(gk_cuda_blas_status_faults(0));    /* CUBLAS_STATUS_SUCCESS */
    assert_false(gk_cuda_blas_status_faults(7));    /* CUBLAS_STATUS_INVALID_VALUE */
    assert_false(gk_cuda_blas_status_faults(3));    /* CUBLAS_STATUS_ALLOC_FAILED */
}

/* What matmul rounds activations to: the GEMM path's half types above GK_MV_MAX_M columns. */
static void matmul_activation_precision(void **s)
{
    assert_int_equal(gk_cuda_matmul_act_type(GK_BF16, 16, true, 90), GK_BF16);
    assert_int_equal(gk_cuda_matmul_act_type(GK_BF16, 16, true, 75), GK_F32);    /* no BF16 GEMM before sm_80 */
    assert_int_equal(gk_cuda_matmul_act_type(GK_BF16, GK_MV_MAX_M, true, 90), GK_F32);   /* matvec kernels */
    assert_int_equal(gk_cuda_matmul_act_type(GK_F16, 512, true, 80), GK_F16);
    assert_int_equal(gk_cuda_matmul_act_type(GK_Q4_K, 9, true, 75), GK_F16);
    /* sm_80+: quantized prefill on the 8-bit tensor cores, whose rounding the quantized bound holds */
    assert_int_equal(gk_cuda_matmul_act_type(GK_Q4_K, 9, true, 86), GK_F32);
    assert_int_equal(gk_cuda_matmul_act_type(GK_Q4_K, GK_MMA_MAX_M + 1, true, 86), GK_F16);
    assert_int_equal(gk_cuda_matmul_act_type(GK_F32, 512, true, 90), GK_F32);
    assert_int_equal(gk_cuda_matmul_act_type(GK_Q4_0, 512, false, 90), GK_F32);  /* no cuBLAS: matvec for all M */
    assert_int_equal(gk_matmul_act_type(ref_be, GK_BF16, 512), GK_F32);          /* no entry: F32 */
    if (dev_be) {
        gk_device_info info;
        char which[512];
        assert_int_equal(gk_backend_devices("cuda", &info, 1), 1);
        const bool blas = gk_cuda_cublas_probe(which, sizeof which);
        const int cc = info.cc_major * 10 + info.cc_minor;
        assert_int_equal(gk_matmul_act_type(dev_be, GK_BF16, 16), gk_cuda_matmul_act_type(GK_BF16, 16, blas, cc));
    }
    /* conv2d's GEMM: F16 kernels round the activations to F16; BF16 kernels go by F32 panels */
    assert_int_equal(gk_cuda_conv2d_act_type(GK_F16), GK_F16);
    assert_int_equal(gk_cuda_conv2d_act_type(GK_BF16), GK_F32);
    assert_int_equal(gk_cuda_conv2d_act_type(GK_F32), GK_F32);
}
#endif

/* ---- the kernels workload's bound with rounded activations --------------------------------- */

#define assert_near(a, b, eps)                                                                        \
    do {                                                                                              \
        const double a_ = (a), b_ = (b);                                                              \
        if (!(fabs(a_ - b_) <= (eps))) fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);           \
    } while (0)

/* x rounded to BF16 (bf = 1) or F16 by the GEMM path's own conversion body, back as floats. */
static float *rounded_like_gemm(const float *x, int64_t n, int bf)
{
    float *xd = dalloc((size_t)n * 4), *out = malloc((size_t)n * 4);
    uint16_t *h = dalloc((size_t)n * 2);
    memcpy(xd, x, (size_t)n * 4);
    gk_cvt_args a = {xd, h, n, bf};
    gk_grid g = gk_plan_elems(n);
    GK_EMUL_LAUNCH(gk_body_convert_half, g.gx, g.gy, g.gz, g.nt, 0, a);
    for (int64_t i = 0; i < n; i++) out[i] = bf ? gk_bf16_to_f32(h[i]) : gk_f16_to_f32(h[i]);
    free(xd), free(h);
    return out;
}

/* By hand: 4 inputs of w = 1, x = 1 + 2^-8 (a BF16 tie, rounded to even: 1). The GEMM path
 * gives 4, the reference 4.015625: an error of 2^-6, 16000x the F32-only bound 4·2^-24·Σ|wx|
 * = 9.574e-7, and 99.6% of the bound with the BF16 term, (4·2^-24·(1 + 2^-8) + 2^-8)·4.015625
 * = 0.0156869963. */
static void bound_by_hand_bf16_tie(void **s)
{
    const float w[4] = {1, 1, 1, 1}, x[4] = {1 + 0x1p-8f, 1 + 0x1p-8f, 1 + 0x1p-8f, 1 + 0x1p-8f};
    float *xr = rounded_like_gemm(x, 4, 1);
    double got = 0;
    for (int i = 0; i < 4; i++) got += (double)w[i] * xr[i];
    assert_true(got == 4.0);
    const double err = 4.015625 - got;
    assert_true(err == 0x1p-6);
    assert_near(kernels_error_bound(GK_BF16, GK_F32, w, x, 4), 9.57399606704712e-07, 1e-18);
    const double bound = kernels_error_bound(GK_BF16, GK_BF16, w, x, 4);
    assert_near(bound, 0.01568699629569892, 1e-15);
    assert_true(err <= bound && err / bound > 0.996);
    /* F16's unit roundoff: 2^-11 */
    assert_near(kernels_error_bound(GK_F16, GK_F16, w, x, 4),
                       (4 * 0x1p-24 * (1 + 0x1p-11) + 0x1p-11) * 4.015625, 1e-15);
    free(xr);
}

/* The kernels workload's --quick BF16 case as the cuda GEMM path computes it (16 columns: BF16
 * activations), on the workload's own data (seed 42, shape 2048x2048, its 8 checked rows of
 * 64 distinct ones x 16 columns = 128 outputs): products of BF16 values are exact in F32, so
 * the simulated device sum is done in double and only the activation rounding differs from
 * ref. Without the BF16 term outputs fall outside the bound (the GPU would fail its own
 * verification); with it none do. */
static uint64_t wl_splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float wl_unit_rand(uint64_t *st) { return (float)((double)(wl_splitmix(st) >> 11) * 0x1.0p-52 - 1.0); }

static void bound_bf16_k2048_gemm_path(void **s)
{
    enum { K = 2048, N = 2048, BASE = 64, COLS = 16, ROWS = 8, XCOLS = 512 };
    const size_t rb = gk_type_bytes(GK_BF16, K);
    uint8_t *base = malloc(BASE * rb);
    float *row = malloc(K * sizeof(float)), *x = malloc((size_t)K * XCOLS * sizeof(float));
    uint64_t seed = 42ull * 1000003u + 0;
    for (int r = 0; r < BASE; r++) {
        for (int i = 0; i < K; i++) row[i] = wl_unit_rand(&seed);
        gk_type_get(GK_BF16)->from_f32(row, base + (size_t)r * rb, K);
    }
    for (int64_t i = 0; i < (int64_t)K * XCOLS; i++) x[i] = wl_unit_rand(&seed);
    /* the checked rows, as the workload picks them */
    uint8_t *w = malloc(ROWS * rb);
    for (int i = 0; i < ROWS; i++) memcpy(w + i * rb, base + (((int64_t)(N - 1) * i / (ROWS - 1)) % BASE) * rb, rb);
    float *want = malloc(ROWS * COLS * sizeof(float));
    be_matmul(ref_be, GK_BF16, w, x, K, ROWS, COLS, want);
    float *xr = rounded_like_gemm(x, (int64_t)K * COLS, 1);
    int over_f32 = 0, over_bf16 = 0;
    double worst_f32 = 0, worst_bf16 = 0;
    for (int i = 0; i < ROWS; i++) {
        gk_type_get(GK_BF16)->to_f32(w + i * rb, row, K);
        for (int j = 0; j < COLS; j++) {
            double got = 0;
            for (int k = 0; k < K; k++) got += (double)row[k] * xr[(size_t)j * K + k];
            const double e = fabs((float)got - want[j * ROWS + i]);
            const double b0 = kernels_error_bound(GK_BF16, GK_F32, row, x + (size_t)j * K, K);
            const double b1 = kernels_error_bound(GK_BF16, GK_BF16, row, x + (size_t)j * K, K);
            over_f32 += !(e <= b0), over_bf16 += !(e <= b1);
            if (e / b0 > worst_f32) worst_f32 = e / b0;
            if (e / b1 > worst_bf16) worst_bf16 = e / b1;
        }
    }
    printf("BF16 K=2048, 128 outputs on the GEMM path: F32-only bound %d over (worst %.3gx), with the BF16 term %d "
           "(worst %.3gx)\n", over_f32, worst_f32, over_bf16, worst_bf16);
    assert_true(over_f32 > 0 && worst_f32 > 1.0);
    assert_int_equal(over_bf16, 0);
    assert_true(worst_bf16 < 0.5);
    free(base), free(row), free(x), free(w), free(want), free(xr);
}

/* The device backend opened with cuBLAS (matmul's forms other than the default need it). */
static bool dev_has_blas(void)
{
#ifdef GC_HAVE_CUDA
    char which[512];
    return dev_be && gk_cuda_cublas_probe(which, sizeof which) && !strstr(dev_be->device_name, "cublas: missing");
#else
    return false;
#endif
}

/* What the device backend says it runs (only with a device): the core, image and train
 * families; matmul's other forms and conv2d with cuBLAS only (refused with the reason without
 * it); full_attention up to head_dim 512; strided views are refused by the op. */
static void device_supports(void **s)
{
    if (!dev_be) {
        printf("device supports() skipped: %s\n", dev_why);
        return;
    }
    gk_backend *b = dev_be;
    const bool blas = dev_has_blas();
    assert_false(gk_backend_has(b, GK_CAP_HOST_MEMORY));
    for (int op = 0; op < GK_OP_COUNT; op++) assert_true(gk_backend_supports(b, (gk_op)op, NULL, 0));
    const int q4k[3] = {GK_F32, GK_Q4_K, GK_F32};
    const gk_matmul_params tw = {false, true, 1.0f, 0.0f}, acc = {true, true, 1.0f, 1.0f};
    assert_true(gk_backend_supports_params(b, GK_OP_MATMUL, q4k, 3, NULL));
    assert_int_equal(gk_backend_supports_params(b, GK_OP_MATMUL, q4k, 3, &tw), blas);
    if (!blas) assert_non_null(strstr(gk_backend_error(b), "needs cuBLAS"));
    assert_int_equal(gk_backend_supports_params(b, GK_OP_MATMUL, q4k, 3, &acc), blas);
    const gk_attn_params wide = {2, 1, 512, 0, 1.0f}, bwide = {2, 1, 256, 0, 1.0f};
    assert_false(gk_backend_supports_params(b, GK_OP_ATTENTION, NULL, 0, &wide));
    assert_false(gk_backend_supports_params(b, GK_OP_ATTENTION_BACKWARD, NULL, 0, &bwide));
    assert_non_null(strstr(gk_backend_error(b), "head_dim 256 above 128"));
    const int mixed[4] = {GK_F32, GK_F32, GK_F16, GK_Q8_0};
    assert_false(gk_backend_supports(b, GK_OP_ATTENTION, mixed, 4));
    const int conv[2] = {GK_F32, GK_BF16};
    assert_int_equal(gk_backend_supports(b, GK_OP_CONV2D, conv, 2), blas);
    if (!blas) assert_non_null(strstr(gk_backend_error(b), "conv2d needs cuBLAS"));
    const gk_full_attn_params fa = {1, 512, 1.0f}, fwide = {1, 513, 1.0f};
    assert_true(gk_backend_supports_params(b, GK_OP_FULL_ATTENTION, NULL, 0, &fa));
    assert_false(gk_backend_supports_params(b, GK_OP_FULL_ATTENTION, NULL, 0, &fwide));
    assert_non_null(strstr(gk_backend_error(b), "head_dim 513 above 512"));
    gk_tensor w = put(b, GK_F32, 4, 4, NULL), x = put(b, GK_F32, 4, 2, NULL), xt;
    gk_tensor y = put(b, GK_F32, 4, 2, NULL);
    if (!blas) {
        assert_int_not_equal(gk_matmul(b, &y, &w, &x, &tw), 0);
        assert_non_null(strstr(gk_backend_error(b), "needs cuBLAS"));
    }
    gk_tensor xs = put(b, GK_F32, 2, 4, NULL);
    assert_int_equal(gk_view_transposed(&xt, &xs), 0);
    assert_int_not_equal(gk_matmul(b, &y, &w, &xt, NULL), 0);
    assert_non_null(strstr(gk_backend_error(b), "strided view"));
    assert_int_not_equal(gk_matmul(b, &y, &w, &xt, &tw), 0);   /* every form: contiguous only */
    assert_non_null(strstr(gk_backend_error(b), "strided view"));
    OK(b, gk_matmul(b, &y, &w, &x, NULL));
    drop(b, &w), drop(b, &x), drop(b, &y), drop(b, &xs);
}

/* ---- the train family on the device (emulated in test_cuda_train_emul) --------------------- */

/* The op on backend b: inputs uploaded from the host arrays, outputs (in[i] NULL: allocated
 * uninitialised) downloaded into out[i]. Tensors {ne0[i], ne1[i]} F32 unless types says. */
#define TRAIN_MAX 8
typedef struct tr_io {
    int n;
    int type[TRAIN_MAX];
    int64_t ne0[TRAIN_MAX], ne1[TRAIN_MAX];
    const void *in[TRAIN_MAX]; /* initial contents, NULL: none */
    void *out[TRAIN_MAX];      /* where the tensor's final contents go, NULL: not wanted */
} tr_io;
typedef int (*tr_fn)(gk_backend *b, gk_tensor *t, const void *ctx);

static void tr_run(gk_backend *b, const tr_io *io, tr_fn fn, const void *ctx, const char *what)
{
    gk_tensor t[TRAIN_MAX];
    for (int i = 0; i < io->n; i++) t[i] = put(b, io->type[i] ? io->type[i] : GK_F32, io->ne0[i], io->ne1[i], io->in[i]);
    if (fn(b, t, ctx)) fail_msg("%s on %s: %s", what, b->name, gk_backend_error(b));
    for (int i = 0; i < io->n; i++) {
        if (io->out[i]) get(b, &t[i], io->out[i]);
        drop(b, &t[i]);
    }
}

static int tr_silu(gk_backend *b, gk_tensor *t, const void *c) { return gk_silu_mul_backward(b, &t[0], &t[1], &t[2], &t[3], &t[4]); }
static int tr_adamw(gk_backend *b, gk_tensor *t, const void *c) { return gk_adamw(b, &t[0], &t[1], &t[2], &t[3], c); }
static int tr_ss(gk_backend *b, gk_tensor *t, const void *c) { return gk_sum_squares(b, &t[0], &t[1]); }
static int tr_fill(gk_backend *b, gk_tensor *t, const void *c) { return gk_fill(b, &t[0], *(const float *)c); }
static int tr_rms(gk_backend *b, gk_tensor *t, const void *c) { return gk_rmsnorm_backward(b, &t[0], &t[1], &t[2], &t[3], &t[4], 1e-5f); }
static int tr_emb(gk_backend *b, gk_tensor *t, const void *c) { return gk_embedding_backward(b, &t[0], &t[1], &t[2]); }
static int tr_ce(gk_backend *b, gk_tensor *t, const void *c) { return gk_cross_entropy(b, &t[0], &t[1], &t[1], &t[2], *(const float *)c); }
static int tr_att(gk_backend *b, gk_tensor *t, const void *c)
{
    return gk_attention_backward(b, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], c);
}
typedef struct rope_ctx { int nh, hd, pos0; bool ff; } rope_ctx;
static int tr_rope(gk_backend *b, gk_tensor *t, const void *c)
{
    const rope_ctx *r = c;
    return gk_rope_backward(b, &t[0], r->nh, r->hd, r->pos0, 10000.0f, r->ff ? &t[1] : NULL);
}

/* Tolerances: those of the emulation (test_cuda_train_emul) doubled for CUDA's expf/logf
 * (2 ulp) and another summation order; fill and embedding_backward exactly. */
static void device_train_ops(void **s)
{
    if (!dev_be) {
        printf("device train ops skipped: %s\n", dev_why);
        return;
    }
    {   /* fill, silu_mul_backward, adamw, sum_squares over 70001 / 600001 elements */
        const int64_t n = 70001;
        float *a = rand_f32(n, 2.0f), *g = rand_f32(n, 8.0f), *u = rand_f32(n, 3.0f);
        float *w1 = malloc(n * 4), *w2 = malloc(n * 4), *d1 = malloc(n * 4), *d2 = malloc(n * 4);
        const float val = -0.375f;
        tr_io io = {1, {0}, {n}, {1}, {NULL}, {d1}};
        tr_run(dev_be, &io, tr_fill, &val, "fill");
        for (int64_t i = 0; i < n; i++) assert_true(d1[i] == val);
        io = (tr_io){5, {0}, {n, n, n, n, n}, {1, 1, 1, 1, 1}, {NULL, NULL, a, g, u}, {w1, w2}};
        tr_run(ref_be, &io, tr_silu, NULL, "silu_mul_backward");
        io.out[0] = d1, io.out[1] = d2;
        tr_run(dev_be, &io, tr_silu, NULL, "silu_mul_backward");
        expect_close("device silu_mul_backward dgate", d1, w1, n, 2e-6f, 8e-6f);
        expect_close("device silu_mul_backward dup", d2, w2, n, 2e-6f, 8e-6f);
        float *m = rand_f32(n, 0.1f), *v = rand_f32(n, 0.01f), *w3 = malloc(n * 4), *d3 = malloc(n * 4), *w4 = malloc(n * 4),
              *d4 = malloc(n * 4);
        for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
        const gk_adamw_params p = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3};
        io = (tr_io){4, {0}, {n, n, n, n}, {1, 1, 1, 1}, {u, g, m, v}, {w1, NULL, w3, w4}};
        tr_run(ref_be, &io, tr_adamw, &p, "adamw");
        io.out[0] = d1, io.out[2] = d3, io.out[3] = d4;
        tr_run(dev_be, &io, tr_adamw, &p, "adamw");
        expect_close("device adamw w", d1, w1, n, 2e-5f * p.lr, 4e-7f);
        expect_close("device adamw m", d3, w3, n, 1e-8f, 1e-5f);
        expect_close("device adamw v", d4, w4, n, 1e-10f, 1e-5f);
        const int64_t big = 600001;
        float *x = rand_f32(big, 2.0f), init = 2.5f, want, got;
        io = (tr_io){2, {0}, {1, big}, {1, 1}, {&init, x}, {&want}};
        tr_run(ref_be, &io, tr_ss, NULL, "sum_squares");
        io.out[0] = &got;
        tr_run(dev_be, &io, tr_ss, NULL, "sum_squares");
        expect_close("device sum_squares", &got, &want, 1, 0, 6e-7f);
        free(a), free(g), free(u), free(w1), free(w2), free(d1), free(d2), free(m), free(v), free(w3), free(d3), free(w4),
            free(d4), free(x);
    }
    {   /* rmsnorm_backward: 130 rows of 1000 (3 dw groups), accumulating */
        const int64_t dim = 1000, T = 130, n = dim * T;
        float *x = rand_f32(n, 3.0f), *dy = rand_f32(n, 1.0f), *w = rand_f32(dim, 1.5f), *dx = rand_f32(n, 1.0f),
              *dw = rand_f32(dim, 1.0f);
        float *wdx = malloc(n * 4), *wdw = malloc(dim * 4), *gdx = malloc(n * 4), *gdw = malloc(dim * 4);
        tr_io io = {5, {0}, {dim, dim, dim, dim, dim}, {T, 1, T, T, 1}, {dx, dw, dy, x, w}, {wdx, wdw}};
        tr_run(ref_be, &io, tr_rms, NULL, "rmsnorm_backward");
        io.out[0] = gdx, io.out[1] = gdw;
        tr_run(dev_be, &io, tr_rms, NULL, "rmsnorm_backward");
        expect_close("device rmsnorm_backward dx", gdx, wdx, n, 4e-6f * sqrtf((float)dim), 2e-5f);
        expect_close("device rmsnorm_backward dw", gdw, wdw, dim, 4e-6f * (float)T, 2e-5f);
        free(x), free(dy), free(w), free(dx), free(dw), free(wdx), free(wdw), free(gdx), free(gdw);
    }
    {   /* rope_backward at position 4000 with Llama 3.1's factors: rope's per-pair tolerance */
        const rope_ctx r = {4, 128, 4000, true};
        const int64_t T = 2, n = (int64_t)r.nh * r.hd * T;
        float *x = rand_f32(n, 2.0f), *ff = malloc(r.hd / 2 * 4), *want = malloc(n * 4), *got = malloc(n * 4);
        for (int i = 0; i < r.hd / 2; i++) ff[i] = 0.5f + 7.5f * (float)i / (float)(r.hd / 2);
        tr_io io = {2, {0}, {(int64_t)r.nh * r.hd, r.hd / 2}, {T, 1}, {x, ff}, {want}};
        tr_run(ref_be, &io, tr_rope, &r, "rope_backward");
        io.out[0] = got;
        tr_run(dev_be, &io, tr_rope, &r, "rope_backward");
        expect_rope_device(got, want, x, r.nh, r.hd, r.pos0, T, ff);
        free(x), free(ff), free(want), free(got);
    }
    {   /* embedding_backward: 5000 tokens (3 sorted chunks) over 50 rows of 300, bit-equal; then
         * an id outside the table is the sync point's error, reported once */
        const int64_t dim = 300, vocab = 50, T = 5000;
        float *table = rand_f32(dim * vocab, 1.0f), *dy = rand_f32(dim * T, 1.0f), *want = malloc(dim * vocab * 4),
              *got = malloc(dim * vocab * 4);
        int32_t *ids = malloc(T * 4);
        for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7 + t / 3) % vocab);
        tr_io io = {3, {0, 0, GK_I32}, {dim, dim, T}, {vocab, T, 1}, {table, dy, ids}, {want}};
        tr_run(ref_be, &io, tr_emb, NULL, "embedding_backward");
        io.out[0] = got;
        tr_run(dev_be, &io, tr_emb, NULL, "embedding_backward");
        assert_memory_equal(got, want, dim * vocab * 4);
        ids[17] = (int32_t)vocab;
        gk_tensor tt = put(dev_be, GK_F32, dim, vocab, table), tdy = put(dev_be, GK_F32, dim, T, dy),
                  ti = put(dev_be, GK_I32, T, 1, ids);
        OK(dev_be, gk_embedding_backward(dev_be, &tt, &tdy, &ti));
        assert_int_not_equal(dev_be->ops->sync(dev_be), 0);
        assert_non_null(strstr(gk_backend_error(dev_be), "embedding_backward: a token id was outside the table"));
        OK(dev_be, dev_be->ops->sync(dev_be));
        drop(dev_be, &tt), drop(dev_be, &tdy), drop(dev_be, &ti);
        free(table), free(dy), free(want), free(got), free(ids);
    }
    {   /* cross_entropy over 32000 logits a row, dlogits in place; a bad target's error word */
        const int64_t V = 32000, T = 3;
        const float scale = 1.0f / (float)T;
        float *z = rand_f32(V * T, 30.0f), *wl = malloc(T * 4), *wd = malloc(V * T * 4), *gl = malloc(T * 4),
              *gd = malloc(V * T * 4);
        int32_t tg[3] = {0, 31999, 12345};
        tr_io io = {3, {0, 0, GK_I32}, {T, V, T}, {1, T, 1}, {NULL, z, tg}, {wl, wd}};
        tr_run(ref_be, &io, tr_ce, &scale, "cross_entropy");
        io.out[0] = gl, io.out[1] = gd;
        tr_run(dev_be, &io, tr_ce, &scale, "cross_entropy");
        expect_close("device cross_entropy loss", gl, wl, T, 4e-6f * (30.0f + logf((float)V) + 1.0f), 2e-6f);
        expect_close("device cross_entropy dlogits", gd, wd, V * T, 2e-6f * scale, 2e-4f);
        tg[1] = (int32_t)V;
        gk_tensor tl = put(dev_be, GK_F32, T, 1, NULL), tz = put(dev_be, GK_F32, V, T, z), tt = put(dev_be, GK_I32, T, 1, tg);
        OK(dev_be, gk_cross_entropy(dev_be, &tl, NULL, &tz, &tt, scale));
        assert_int_not_equal(dev_be->ops->sync(dev_be), 0);
        assert_non_null(strstr(gk_backend_error(dev_be), "cross_entropy: a target was outside the vocabulary"));
        OK(dev_be, dev_be->ops->sync(dev_be));
        drop(dev_be, &tl), drop(dev_be, &tz), drop(dev_be, &tt);
        free(z), free(wl), free(wd), free(gl), free(gd);
    }
    {   /* attention_backward: grouped heads, partial tiles, the widest head, a 12-head model */
        static const struct { int nh, nkv, hd; int64_t T; } cases[] = {{4, 2, 64, 37}, {2, 1, 128, 130}, {12, 12, 64, 64}};
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const int64_t qw = (int64_t)cases[ci].nh * cases[ci].hd, kw = (int64_t)cases[ci].nkv * cases[ci].hd, T = cases[ci].T;
            const gk_attn_params p = {cases[ci].nh, cases[ci].nkv, cases[ci].hd, 0, 1.0f / sqrtf((float)cases[ci].hd)};
            float *q = rand_f32(qw * T, 1.0f), *k = rand_f32(kw * T, 2.0f), *v = rand_f32(kw * T, 1.0f), *go = rand_f32(qw * T, 1.0f);
            float *w[3] = {malloc(qw * T * 4), malloc(kw * T * 4), malloc(kw * T * 4)};
            float *g[3] = {malloc(qw * T * 4), malloc(kw * T * 4), malloc(kw * T * 4)};
            tr_io io = {7, {0}, {qw, kw, kw, qw, qw, kw, kw}, {T, T, T, T, T, T, T}, {NULL, NULL, NULL, go, q, k, v},
                        {w[0], w[1], w[2]}};
            tr_run(ref_be, &io, tr_att, &p, "attention_backward");
            io.out[0] = g[0], io.out[1] = g[1], io.out[2] = g[2];
            tr_run(dev_be, &io, tr_att, &p, "attention_backward");
            static const char *const nm[3] = {"device attention_backward dq", "device attention_backward dk",
                                              "device attention_backward dv"};
            for (int i = 0; i < 3; i++) expect_close(nm[i], g[i], w[i], (i ? kw : qw) * T, 4e-5f, 2e-4f);
            for (int i = 0; i < 3; i++) free(w[i]), free(g[i]);
            free(q), free(k), free(v), free(go);
        }
    }
}

/* The matmul forms backward uses, on the device against ref: every transpose pair, alpha 0.75
 * with beta 0 and 0.5, F32/q8_0/q4_0/q4_k weights; and dX = dY·W on a Q4_0 weight of 2100 rows
 * of 4096 (two F32 panels of 32 MiB). cuBLAS's F32 sums in its own order: 1e-6·K + 1e-5. */
static void device_matmul_forms(void **s)
{
    if (!dev_be) {
        printf("device matmul forms skipped: %s\n", dev_why);
        return;
    }
    if (!dev_has_blas()) {
        printf("device matmul forms skipped: no cuBLAS (supports() refuses them: device_supports)\n");
        return;
    }
    static const int types[] = {GK_F32, GK_Q8_0, GK_Q4_0, GK_Q4_K};
    for (int ti = 0; ti < 5; ti++)
        for (int form = ti == 4 ? 2 : 0; form < (ti == 4 ? 3 : 4); form++)
            for (int bi = 0; bi < 2; bi++) {
                const int type = ti == 4 ? GK_Q4_0 : types[ti];
                const int64_t wn = ti == 4 ? 4096 : 256, wr = ti == 4 ? 2100 : 9, M = ti == 4 ? 3 : 5;
                const gk_matmul_params p = {form & 1, (form >> 1) & 1, 0.75f, bi ? 0.5f : 0.0f};
                const int64_t K = p.trans_w ? wr : wn, N = p.trans_w ? wn : wr;
                const int64_t x0 = p.trans_x ? M : K, x1 = p.trans_x ? K : M;
                float *wf = rand_f32(wn * wr, 1.0f), *x = rand_f32(x0 * x1, 1.0f), *y0 = rand_f32(N * M, 1.0f);
                uint8_t *w = encode(type, wf, wn, wr);
                float *want = malloc(N * M * 4), *got = malloc(N * M * 4);
                for (int be = 0; be < 2; be++) {
                    gk_backend *b = be ? dev_be : ref_be;
                    gk_tensor tw = put(b, type, wn, wr, w), tx = put(b, GK_F32, x0, x1, x), ty = put(b, GK_F32, N, M, y0);
                    OK(b, gk_matmul(b, &ty, &tw, &tx, &p));
                    get(b, &ty, be ? got : want);
                    drop(b, &tw), drop(b, &tx), drop(b, &ty);
                }
                char what[96];
                snprintf(what, sizeof what, "device matmul %s %lldx%lld trans_x %d trans_w %d beta %g", gk_type_name(type),
                         (long long)wn, (long long)wr, p.trans_x, p.trans_w, (double)p.beta);
                expect_close(what, got, want, N * M, 1e-6f * (float)K + 1e-5f, 1e-5f);
                free(wf), free(x), free(y0), free(w), free(want), free(got);
            }
}

/* ---- the image family on the device (emulated in test_cuda_image_emul) --------------------- */

/* A tensor {n0, n1, n2, n3} of type on b, from F32 values converted to type (NULL: zeros). */
static gk_tensor put4(gk_backend *b, int type, const int64_t ne[4], const float *vals)
{
    gk_tensor t = {.type = type, .ne = {ne[0], ne[1], ne[2], ne[3]}};
    if (b->ops->alloc(b, &t)) fail_msg("%s alloc: %s", b->name, gk_backend_error(b));
    void *bytes = calloc(1, t.nbytes);
    assert_non_null(bytes);
    if (vals) gk_type_get(type)->from_f32(vals, bytes, gk_nelements(&t));
    assert_int_equal(b->ops->upload(b, &t, 0, bytes, t.nbytes), 0);
    free(bytes);
    return t;
}

/* The op on backend b: tensors of the shapes ne[i] (F32 unless type[i]), inputs from in[i],
 * outputs (out[i] non-NULL) downloaded as F32. */
#define IMG_MAX 6
typedef struct im_io {
    int n;
    int type[IMG_MAX];
    int64_t ne[IMG_MAX][4];
    const float *in[IMG_MAX];
    float *out[IMG_MAX];
} im_io;
typedef int (*im_fn)(gk_backend *b, gk_tensor *t, const void *ctx);

static void im_run(gk_backend *b, const im_io *io, im_fn fn, const void *ctx, const char *what)
{
    gk_tensor t[IMG_MAX];
    for (int i = 0; i < io->n; i++) t[i] = put4(b, io->type[i] ? io->type[i] : GK_F32, io->ne[i], io->in[i]);
    if (fn(b, t, ctx)) fail_msg("%s on %s: %s", what, b->name, gk_backend_error(b));
    for (int i = 0; i < io->n; i++) {
        if (io->out[i]) get(b, &t[i], io->out[i]);
        drop(b, &t[i]);
    }
}
static int64_t im_elems(const int64_t ne[4]) { return ne[0] * ne[1] * ne[2] * ne[3]; }

/* Runs the op on ref and on the device (outputs: the tensors whose in[] is NULL, the first
 * n_out of them compared), within atol + rtol·|ref|. */
static void im_compare(im_io io, im_fn fn, const void *ctx, const char *what, float atol, float rtol)
{
    float *want[IMG_MAX] = {0}, *got[IMG_MAX] = {0};
    for (int i = 0; i < io.n; i++)
        if (!io.in[i]) want[i] = malloc((size_t)im_elems(io.ne[i]) * 4), got[i] = malloc((size_t)im_elems(io.ne[i]) * 4);
    for (int i = 0; i < io.n; i++) io.out[i] = want[i];
    im_run(ref_be, &io, fn, ctx, what);
    for (int i = 0; i < io.n; i++) io.out[i] = got[i];
    im_run(dev_be, &io, fn, ctx, what);
    for (int i = 0; i < io.n; i++)
        if (want[i]) {
            char w[128];
            snprintf(w, sizeof w, "device %s", what);
            expect_close(w, got[i], want[i], im_elems(io.ne[i]), atol, rtol);
            free(want[i]), free(got[i]);
        }
}

static int im_gelu(gk_backend *b, gk_tensor *t, const void *c) { return gk_gelu(b, &t[1], &t[0]); }
static int im_gelu_quick(gk_backend *b, gk_tensor *t, const void *c) { return gk_gelu_quick(b, &t[1], &t[0]); }
static int im_silu(gk_backend *b, gk_tensor *t, const void *c) { return gk_silu(b, &t[1], &t[0]); }
static int im_geglu(gk_backend *b, gk_tensor *t, const void *c) { return gk_geglu(b, &t[1], &t[0]); }
static int im_up(gk_backend *b, gk_tensor *t, const void *c) { return gk_upsample2x(b, &t[1], &t[0]); }
static int im_cat(gk_backend *b, gk_tensor *t, const void *c) { return gk_concat(b, &t[2], &t[0], &t[1]); }
static int im_addc(gk_backend *b, gk_tensor *t, const void *c) { return gk_add_channel(b, &t[0], &t[0], &t[1]); }
static int im_temb(gk_backend *b, gk_tensor *t, const void *c) { return gk_timestep_embed(b, &t[1], &t[0], *(const int *)c, 10000.0f); }
static int im_gn(gk_backend *b, gk_tensor *t, const void *c) { return gk_group_norm(b, &t[0], &t[0], &t[1], &t[2], *(const int *)c, 1e-5f); }
static int im_ln(gk_backend *b, gk_tensor *t, const void *c) { return gk_layer_norm(b, &t[3], &t[0], &t[1], &t[2], 1e-5f); }
static int im_fa(gk_backend *b, gk_tensor *t, const void *c) { return gk_full_attention(b, &t[3], &t[0], &t[1], &t[2], c); }
static int im_conv(gk_backend *b, gk_tensor *t, const void *c) { return gk_conv2d(b, &t[3], &t[0], &t[1], &t[2], c); }
static int im_conv_nobias(gk_backend *b, gk_tensor *t, const void *c) { return gk_conv2d(b, &t[3], &t[0], &t[1], NULL, c); }
/* cont of the view ctx describes (ne, nb) of t[0] into t[1] */
typedef struct view_ctx { int64_t ne[4]; size_t nb[4]; } view_ctx;
static int im_cont(gk_backend *b, gk_tensor *t, const void *c)
{
    const view_ctx *v = c;
    gk_tensor view;
    if (gk_view(&view, &t[0], 0, v->ne, v->nb)) return -1;
    return gk_cont(b, &t[1], &view);
}

/* Every image op on the device against ref, on shapes past one block, tile and chunk each way.
 * Tolerances: those of the emulation (test_cuda_image_emul) doubled for CUDA's expf/tanhf and
 * another summation order; copies exactly; conv2d: cuBLAS's F32 sums (1e-6·K + 1e-5), and for
 * F16/BF16 kernels the activations' rounding u·Σ|w·x| on top. */
static void device_image_ops(void **s)
{
    if (!dev_be) {
        printf("device image ops skipped: %s\n", dev_why);
        return;
    }
    {   /* elementwise */
        const int64_t n = 70001;
        float *x = rand_f32(n, 9.0f), *x2 = rand_f32(1280 * 2 * 65, 4.0f);
        const im_fn fns[3] = {im_gelu, im_gelu_quick, im_silu};
        static const char *const nm[3] = {"gelu", "gelu_quick", "silu"};
        for (int f = 0; f < 3; f++)
            im_compare((im_io){2, {0}, {{n, 1, 1, 1}, {n, 1, 1, 1}}, {x, NULL}, {NULL}}, fns[f], NULL, nm[f], 2e-6f, 8e-6f);
        im_compare((im_io){2, {0}, {{2560, 65, 1, 1}, {1280, 65, 1, 1}}, {x2, NULL}, {NULL}}, im_geglu, NULL, "geglu", 2e-6f, 8e-6f);
        free(x), free(x2);
    }
    {   /* copies and one add: exact */
        const int64_t W = 17, H = 9, C = 37, C2 = 19, N = 2, n = W * H * C * N;
        float *a = rand_f32(n, 1.0f), *c = rand_f32(W * H * C2 * N, 1.0f), *v = rand_f32(C * N, 1.0f);
        im_compare((im_io){2, {0}, {{W, H, C, N}, {2 * W, 2 * H, C, N}}, {a, NULL}, {NULL}}, im_up, NULL, "upsample2x", 0, 0);
        im_compare((im_io){3, {0}, {{W, H, C, N}, {W, H, C2, N}, {W, H, C + C2, N}}, {a, c, NULL}, {NULL}}, im_cat, NULL,
                   "concat", 0, 0);
        for (int per = 0; per < 2; per++) {
            float *yw = malloc(n * 4), *yg = malloc(n * 4);
            im_io io = {2, {0}, {{W, H, C, N}, {C, per ? N : 1, 1, 1}}, {a, v}, {yw}};
            im_run(ref_be, &io, im_addc, NULL, "add_channel");
            io.out[0] = yg;
            im_run(dev_be, &io, im_addc, NULL, "add_channel");
            expect_close("device add_channel", yg, yw, n, 0, 0);
            free(yw), free(yg);
        }
        const size_t f = sizeof(float);
        const view_ctx tok = {{C, W * H, N, 1}, {W * H * f, f, C * W * H * f, n * f}},
                       pix = {{W, H, C, N}, {C * f, C * W * f, f, C * W * H * f}},
                       perm = {{H, C, N, 1}, {W * f, W * H * f, W * H * C * f, n * f}};
        im_compare((im_io){2, {0}, {{W, H, C, N}, {C, W * H, N, 1}}, {a, NULL}, {NULL}}, im_cont, &tok, "cont pixels to tokens", 0, 0);
        im_compare((im_io){2, {0}, {{C, W * H, N, 1}, {W, H, C, N}}, {a, NULL}, {NULL}}, im_cont, &pix, "cont tokens to pixels", 0, 0);
        im_compare((im_io){2, {0}, {{W, H, C, N}, {H, C, N, 1}}, {a, NULL}, {NULL}}, im_cont, &perm, "cont (generic)", 0, 0);
        const float ts[4] = {0.0f, 1.0f, 999.0f, 500.5f};
        const int dim = 320;
        im_compare((im_io){2, {0}, {{4, 1, 1, 1}, {dim, 4, 1, 1}}, {ts, NULL}, {NULL}}, im_temb, &dim, "timestep_embed", 1e-6f, 0);
        free(a), free(c), free(v);
    }
    {   /* norms: 32 groups of 2 channels (batch 2), a group of 33,540 values (3 chunks); rows of
         * 320 and 768; values offset from 0 */
        static const int64_t gs[2][5] = {{33, 17, 64, 2, 32}, {130, 129, 4, 1, 2}};
        for (int i = 0; i < 2; i++) {
            const int64_t W = gs[i][0], H = gs[i][1], C = gs[i][2], N = gs[i][3], n = W * H * C * N;
            const int G = (int)gs[i][4];
            float *x = rand_f32(n, 2.0f), *ga = rand_f32(C, 1.5f), *be = rand_f32(C, 0.5f);
            for (int64_t k = 0; k < n; k++) x[k] += 100.0f;
            float *yw = malloc(n * 4), *yg = malloc(n * 4);
            im_io io = {3, {0}, {{W, H, C, N}, {C, 1, 1, 1}, {C, 1, 1, 1}}, {x, ga, be}, {yw}};
            im_run(ref_be, &io, im_gn, &G, "group_norm");
            io.out[0] = yg;
            im_run(dev_be, &io, im_gn, &G, "group_norm");
            expect_close("device group_norm", yg, yw, n, 4e-5f, 4e-6f);
            free(x), free(ga), free(be), free(yw), free(yg);
        }
        static const int64_t ls[2][2] = {{320, 300}, {768, 154}};
        for (int i = 0; i < 2; i++) {
            const int64_t dim = ls[i][0], T = ls[i][1];
            float *x = rand_f32(dim * T, 3.0f), *ga = rand_f32(dim, 1.5f), *be = rand_f32(dim, 0.5f);
            for (int64_t k = 0; k < dim * T; k++) x[k] += 5.0f;
            im_compare((im_io){4, {0}, {{dim, T, 1, 1}, {dim, 1, 1, 1}, {dim, 1, 1, 1}, {dim, T, 1, 1}}, {x, ga, be, NULL}, {NULL}},
                       im_ln, NULL, "layer_norm", 2e-5f, 2e-5f);
            free(x), free(ga), free(be);
        }
    }
    {   /* full_attention: SD's cross-attention (8 heads of 40 over 77 tokens, batch 2), self-
         * attention of 64 dimensions, the VAE's single head of 512 */
        static const struct { int nh, hd; int64_t tq, tk, batch; } cases[] = {
            {8, 40, 263, 77, 2}, {4, 64, 100, 100, 1}, {1, 512, 70, 70, 1}, {2, 160, 33, 65, 2}};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const int64_t d = (int64_t)cases[i].nh * cases[i].hd, tq = cases[i].tq, tk = cases[i].tk, nb = cases[i].batch;
            const gk_full_attn_params p = {cases[i].nh, cases[i].hd, 1.0f / sqrtf((float)cases[i].hd)};
            float *q = rand_f32(d * tq * nb, 1.0f), *k = rand_f32(d * tk * nb, 1.0f), *v = rand_f32(d * tk * nb, 1.0f);
            im_compare((im_io){4, {0}, {{d, tq, nb, 1}, {d, tk, nb, 1}, {d, tk, nb, 1}, {d, tq, nb, 1}}, {q, k, v, NULL}, {NULL}},
                       im_fa, &p, "full_attention", 4e-6f, 2e-5f);
            free(q), free(k), free(v);
        }
    }
    if (!dev_has_blas()) {
        printf("device conv2d skipped: no cuBLAS (supports() refuses it: device_supports)\n");
        return;
    }
    {   /* conv2d: 3×3 stride 1 and 2 on odd sizes, 1×1, batch 2, F32/F16/BF16 kernels; a 64×64
         * image of 320 channels (K = 2880: two F32 pixel panels) */
        static const struct { int64_t W, H, cin, cout, N, k; int stride, pad; } cs[] = {
            {33, 17, 37, 45, 2, 3, 1, 1}, {33, 17, 37, 45, 2, 3, 2, 1}, {31, 9, 37, 45, 2, 1, 1, 0}, {64, 64, 320, 8, 1, 3, 1, 1}};
        static const int types[3] = {GK_F32, GK_F16, GK_BF16};
        for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
            for (int ti = 0; ti < 3; ti++) {
                const int64_t W = cs[ci].W, H = cs[ci].H, K = cs[ci].k, ci_ = cs[ci].cin, co = cs[ci].cout, N = cs[ci].N;
                const gk_conv2d_params p = {cs[ci].stride, cs[ci].pad};
                const int64_t wo = (W + 2 * p.pad - K) / p.stride + 1, ho = (H + 2 * p.pad - K) / p.stride + 1;
                const int64_t nw = K * K * ci_ * co, nx = W * H * ci_ * N, ny = wo * ho * co * N;
                float *w = rand_f32(nw, 0.2f), *x = rand_f32(nx, 1.0f), *bias = rand_f32(co, 1.0f);
                /* the weights as the type holds them, for the magnitudes below */
                void *wb = malloc(gk_type_bytes(types[ti], nw));
                gk_type_get(types[ti])->from_f32(w, wb, nw);
                gk_type_get(types[ti])->to_f32(wb, w, nw);
                free(wb);
                float *yw = malloc(ny * 4), *yg = malloc(ny * 4), *mag = malloc(ny * 4);
                im_io io = {4, {types[ti], 0, 0, 0}, {{K, K, ci_, co}, {W, H, ci_, N}, {co, 1, 1, 1}, {wo, ho, co, N}},
                            {w, x, bias, NULL}, {NULL, NULL, NULL, yw}};
                im_run(ref_be, &io, ci % 2 ? im_conv_nobias : im_conv, &p, "conv2d");
                io.out[3] = yg;
                im_run(dev_be, &io, ci % 2 ? im_conv_nobias : im_conv, &p, "conv2d");
                for (int64_t i = 0; i < nw; i++) w[i] = fabsf(w[i]);
                for (int64_t i = 0; i < nx; i++) x[i] = fabsf(x[i]);
                io.type[0] = GK_F32, io.out[3] = mag;
                im_run(ref_be, &io, im_conv_nobias, &p, "conv2d of magnitudes");
#ifdef GC_HAVE_CUDA
                const double u = gk_cuda_conv2d_act_type(types[ti]) == GK_F16 ? 0x1p-11 : 0.0;
#else
                const double u = 0.0; /* not reached: no device without CUDA */
#endif
                const int64_t kk = K * K * ci_;
                for (int64_t i = 0; i < ny; i++) {
                    const double d = fabs((double)yg[i] - yw[i]), bound = u * mag[i] + 1e-6 * (double)kk * 0.2 + 1e-5;
                    if (!(d <= bound))
                        fail_msg("device conv2d %lldx%lld %lld->%lld k%lld s%d %s: element %lld is %.7g, ref %.7g (bound %.3g)",
                                 (long long)W, (long long)H, (long long)ci_, (long long)co, (long long)K, p.stride,
                                 gk_type_name(types[ti]), (long long)i, yg[i], yw[i], bound);
                }
                free(w), free(x), free(bias), free(yw), free(yg), free(mag);
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_path_runs_where_a_gpu_is_visible),
        cmocka_unit_test(backend_presence),
#ifdef GC_HAVE_CUDA
        cmocka_unit_test(driver_floor_message),
        cmocka_unit_test(cublas_resolution),
        cmocka_unit_test(matmul_activation_precision),
#endif
        cmocka_unit_test(bound_by_hand_bf16_tie),
        cmocka_unit_test(bound_bf16_k2048_gemm_path),
        cmocka_unit_test(matvec_all_types),
        cmocka_unit_test(device_graph_step),
        cmocka_unit_test(matvec_float_odd_k),
        cmocka_unit_test(matmul_many_columns),
        cmocka_unit_test(device_x8_reuses_activations),
        cmocka_unit_test(dequant_f16_matches_type_table),
        cmocka_unit_test(convert_half_rounds_to_nearest_even),
        cmocka_unit_test(gemm_plan_computes_y_equals_x_wt),
        cmocka_unit_test(rmsnorm_and_softmax),
        cmocka_unit_test(elementwise_ops),
        cmocka_unit_test(rope_positions),
        cmocka_unit_test(embedding_rows),
        cmocka_unit_test(kv_store_rows),
        cmocka_unit_test(add_rmsnorm_rows),
        cmocka_unit_test(norms_write_quantised_output),
        cmocka_unit_test(rope_kv_store_rows),
        cmocka_unit_test(attention_decode),
        cmocka_unit_test(attention_prefill),
        cmocka_unit_test(device_supports),
        cmocka_unit_test(device_train_ops),
        cmocka_unit_test(device_matmul_forms),
        cmocka_unit_test(device_image_ops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
