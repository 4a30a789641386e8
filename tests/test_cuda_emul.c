/* Tests of the CUDA host emulator itself (kernels/cuda/simt.cuh) and of what it proves about the
 * kernels without a GPU:
 *  - barrier epochs: a shared-memory access that crosses regions without GK_SYNC is flagged,
 *    a body with the barrier is not;
 *  - the memory-transaction model: per warp-step (the k-th global access of the 32 lanes), the
 *    32-byte sectors fetched and the bytes used, checked first on hand-computed patterns, then
 *    asserted for the decode matvec of every weight format (>= 80% for weights and
 *    activations), its 8-bit-activation dp4a path, the F16 dequantisation, attention and the
 *    row ops (a deterministic property of each kernel's access pattern, not a timing); the
 *    figures are the table eff_wants (regenerated from a run when a kernel changes on purpose);
 *  - the kernels stay correct while traced (against the type table's dequantisation in double;
 *    the dp4a path against the quantised activations and within its rounding bound);
 *  - the kernel launches, copies and syncs of one decoded token, counted over the real forward
 *    pass (bench/llm) on a backend that forwards to "ref" and counts what the CUDA backend's
 *    launchers (kernels.cu, plan.cuh) enqueue for each op.
 * Buffers are 256-byte aligned like cudaMalloc, so sector counts are those of the device. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/llm/llm.h"
#include "kernels/backend.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/rowops.cuh"
#include "kernels/op_checks.h"

/* ---- helpers ------------------------------------------------------------------------------ */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}
static void *dalloc(size_t bytes) /* device-like: 256-byte aligned, zeroed */
{
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    assert_non_null(p);
    memset(p, 0, bytes);
    return p;
}
static float *rand_dev_f32(int64_t n, float scale) {
    float *p = dalloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}
static uint8_t *encode(int type, const float *x, int64_t ne0, int64_t rows) {
    const size_t rb = gk_type_bytes(type, ne0);
    assert_true(rb > 0);
    uint8_t *p = dalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) gk_type_get(type)->from_f32(x + r * ne0, p + r * rb, ne0);
    return p;
}
static double ld_eff(const gk_mem_buf *b) {
    return b->ld_sectors ? (double)b->ld_used / (32.0 * (double)b->ld_sectors) : 0;
}
static double st_eff(const gk_mem_buf *b) {
    return b->st_sectors ? (double)b->st_used / (32.0 * (double)b->st_sectors) : 0;
}

/* The sector efficiency each kernel is asserted to have: percent of fetched sector bytes used,
 * per buffer, loads ('l') or stores ('s'), to 0.01 points (the model is deterministic). */
typedef struct eff_want {
    const char *kernel, *type, *buf;
    char kind;
    double pct;
} eff_want;

/* want-begin */
static const eff_want eff_wants[] = {
    {"matvec M=1", "f32", "weights", 'l', 100.00},
    {"matvec M=1", "f32", "activations", 'l', 100.00},
    {"matvec M=1", "f32", "output", 's', 12.50},
    {"matvec M=1", "f16", "weights", 'l', 100.00},
    {"matvec M=1", "f16", "activations", 'l', 100.00},
    {"matvec M=1", "f16", "output", 's', 12.50},
    {"matvec M=1", "bf16", "weights", 'l', 100.00},
    {"matvec M=1", "bf16", "activations", 'l', 100.00},
    {"matvec M=1", "bf16", "output", 's', 12.50},
    {"matvec M=1", "q8_0", "weights", 'l', 100.00},
    {"matvec M=1", "q8_0", "activations", 'l', 100.00},
    {"matvec M=1", "q8_0", "output", 's', 12.50},
    {"matvec M=1", "q4_0", "weights", 'l', 100.00},
    {"matvec M=1", "q4_0", "activations", 'l', 100.00},
    {"matvec M=1", "q4_0", "output", 's', 12.50},
    {"matvec M=1", "q4_1", "weights", 'l', 100.00},
    {"matvec M=1", "q4_1", "activations", 'l', 100.00},
    {"matvec M=1", "q4_1", "output", 's', 12.50},
    {"matvec M=1", "q4_k", "weights", 'l', 100.00},
    {"matvec M=1", "q4_k", "activations", 'l', 100.00},
    {"matvec M=1", "q4_k", "output", 's', 12.50},
    {"matvec M=1", "q6_k", "weights", 'l', 97.22},
    {"matvec M=1", "q6_k", "activations", 'l', 100.00},
    {"matvec M=1", "q6_k", "output", 's', 12.50},
    {"matvec M=4", "f32", "weights", 'l', 100.00},
    {"matvec M=4", "f32", "activations", 'l', 100.00},
    {"matvec M=4", "f32", "output", 's', 12.50},
    {"matvec M=4", "f16", "weights", 'l', 100.00},
    {"matvec M=4", "f16", "activations", 'l', 100.00},
    {"matvec M=4", "f16", "output", 's', 12.50},
    {"matvec M=4", "bf16", "weights", 'l', 100.00},
    {"matvec M=4", "bf16", "activations", 'l', 100.00},
    {"matvec M=4", "bf16", "output", 's', 12.50},
    {"matvec M=4", "q8_0", "weights", 'l', 100.00},
    {"matvec M=4", "q8_0", "activations", 'l', 100.00},
    {"matvec M=4", "q8_0", "output", 's', 12.50},
    {"matvec M=4", "q4_0", "weights", 'l', 100.00},
    {"matvec M=4", "q4_0", "activations", 'l', 100.00},
    {"matvec M=4", "q4_0", "output", 's', 12.50},
    {"matvec M=4", "q4_1", "weights", 'l', 100.00},
    {"matvec M=4", "q4_1", "activations", 'l', 100.00},
    {"matvec M=4", "q4_1", "output", 's', 12.50},
    {"matvec M=4", "q4_k", "weights", 'l', 100.00},
    {"matvec M=4", "q4_k", "activations", 'l', 100.00},
    {"matvec M=4", "q4_k", "output", 's', 12.50},
    {"matvec M=4", "q6_k", "weights", 'l', 97.22},
    {"matvec M=4", "q6_k", "activations", 'l', 100.00},
    {"matvec M=4", "q6_k", "output", 's', 12.50},
    {"matvec 2-aligned", "q8_0", "weights", 'l', 96.60},
    {"matvec 2-aligned", "q8_0", "activations", 'l', 100.00},
    {"matvec 2-aligned", "q8_0", "output", 's', 12.50},
    {"matvec 2-aligned", "q4_0", "weights", 'l', 94.01},
    {"matvec 2-aligned", "q4_0", "activations", 'l', 100.00},
    {"matvec 2-aligned", "q4_0", "output", 's', 12.50},
    {"matvec 2-aligned", "q6_k", "weights", 'l', 95.42},
    {"matvec 2-aligned", "q6_k", "activations", 'l', 100.00},
    {"matvec 2-aligned", "q6_k", "output", 's', 12.50},
    {"matvec x8 M=1", "q8_0", "weights", 'l', 100.00},
    {"matvec x8 M=1", "q8_0", "activations", 'l', 90.00},
    {"matvec x8 M=1", "q8_0", "output", 's', 12.50},
    {"matvec x8 M=1", "q4_0", "weights", 'l', 100.00},
    {"matvec x8 M=1", "q4_0", "activations", 'l', 90.00},
    {"matvec x8 M=1", "q4_0", "output", 's', 12.50},
    {"matvec x8 M=1", "q4_1", "weights", 'l', 100.00},
    {"matvec x8 M=1", "q4_1", "activations", 'l', 90.00},
    {"matvec x8 M=1", "q4_1", "output", 's', 12.50},
    {"matvec x8 M=1", "q4_k", "weights", 'l', 100.00},
    {"matvec x8 M=1", "q4_k", "activations", 'l', 90.00},
    {"matvec x8 M=1", "q4_k", "output", 's', 12.50},
    {"matvec x8 M=1", "q6_k", "weights", 'l', 97.22},
    {"matvec x8 M=1", "q6_k", "activations", 'l', 90.00},
    {"matvec x8 M=1", "q6_k", "output", 's', 12.50},
    {"quantize_x8", "f32", "x", 'l', 100.00},
    {"quantize_x8", "f32", "xq", 's', 100.00},
    {"dequant_f16", "f32", "weights", 'l', 100.00},
    {"dequant_f16", "f32", "f16", 's', 100.00},
    {"dequant_f16", "f16", "weights", 'l', 100.00},
    {"dequant_f16", "f16", "f16", 's', 100.00},
    {"dequant_f16", "bf16", "weights", 'l', 100.00},
    {"dequant_f16", "bf16", "f16", 's', 100.00},
    {"dequant_f16", "q8_0", "weights", 'l', 100.00},
    {"dequant_f16", "q8_0", "f16", 's', 100.00},
    {"dequant_f16", "q4_0", "weights", 'l', 100.00},
    {"dequant_f16", "q4_0", "f16", 's', 100.00},
    {"dequant_f16", "q4_1", "weights", 'l', 100.00},
    {"dequant_f16", "q4_1", "f16", 's', 100.00},
    {"dequant_f16", "q4_k", "weights", 'l', 100.00},
    {"dequant_f16", "q4_k", "f16", 's', 100.00},
    {"dequant_f16", "q6_k", "weights", 'l', 97.22},
    {"dequant_f16", "q6_k", "f16", 's', 100.00},
    {"attn_decode", "f32", "q", 'l', 100.00},
    {"attn_decode", "f32", "k", 'l', 100.00},
    {"attn_decode", "f32", "v", 'l', 100.00},
    {"attn_decode", "f32", "part", 's', 77.38},
    {"attn_combine", "f32", "part", 'l', 56.45},
    {"attn_combine", "f32", "out", 's', 100.00},
    {"attn_combine x8", "f32", "part", 'l', 56.45},
    {"attn_combine x8", "f32", "out", 's', 100.00},
    {"attn_combine x8", "f32", "xq", 's', 90.00}, /* a head's 4 scales: 16 bytes of a sector */
    {"attn_prefill", "f32", "q", 'l', 100.00},
    {"attn_prefill", "f32", "k", 'l', 100.00},
    {"attn_prefill", "f32", "v", 'l', 100.00},
    {"attn_prefill", "f32", "out", 's', 100.00},
    {"attn_decode", "f16", "q", 'l', 100.00},
    {"attn_decode", "f16", "k", 'l', 100.00},
    {"attn_decode", "f16", "v", 'l', 100.00},
    {"attn_decode", "f16", "part", 's', 77.38},
    {"attn_combine", "f16", "part", 'l', 56.45},
    {"attn_combine", "f16", "out", 's', 100.00},
    {"attn_combine x8", "f16", "part", 'l', 56.45},
    {"attn_combine x8", "f16", "out", 's', 100.00},
    {"attn_combine x8", "f16", "xq", 's', 90.00}, /* a head's 4 scales: 16 bytes of a sector */
    {"attn_prefill", "f16", "q", 'l', 100.00},
    {"attn_prefill", "f16", "k", 'l', 100.00},
    {"attn_prefill", "f16", "v", 'l', 100.00},
    {"attn_prefill", "f16", "out", 's', 100.00},
    {"attn_decode", "q8_0", "q", 'l', 100.00},
    {"attn_decode", "q8_0", "k", 'l', 36.17},
    {"attn_decode", "q8_0", "v", 'l', 36.17},
    {"attn_decode", "q8_0", "part", 's', 77.38},
    {"attn_combine", "q8_0", "part", 'l', 56.45},
    {"attn_combine", "q8_0", "out", 's', 100.00},
    {"attn_combine x8", "q8_0", "part", 'l', 56.45},
    {"attn_combine x8", "q8_0", "out", 's', 100.00},
    {"attn_combine x8", "q8_0", "xq", 's', 90.00}, /* a head's 4 scales: 16 bytes of a sector */
    {"attn_prefill", "q8_0", "q", 'l', 100.00},
    {"attn_prefill", "q8_0", "k", 'l', 36.17},
    {"attn_prefill", "q8_0", "v", 'l', 36.17},
    {"attn_prefill", "q8_0", "out", 's', 100.00},
    {"rmsnorm", "f32", "x", 'l', 100.00},
    {"rmsnorm", "f32", "w", 'l', 100.00},
    {"rmsnorm", "f32", "y", 's', 100.00},
    {"softmax", "f32", "x", 'l', 100.00},
    {"softmax", "f32", "y", 's', 100.00},
    {"silu_mul", "f32", "a", 'l', 100.00},
    {"silu_mul", "f32", "c", 'l', 100.00},
    {"silu_mul", "f32", "y", 's', 100.00},
    {"rope", "f32", "x", 'l', 100.00},
    {"rope", "f32", "x", 's', 100.00},
    {"embedding", "q4_0", "table", 'l', 100.00},
    {"embedding", "q4_0", "ids", 'l', 12.50},
    {"embedding", "q4_0", "y", 's', 100.00},
    {"kv_store", "f32", "src", 'l', 100.00},
    {"kv_store", "f32", "cache", 's', 100.00},
    {"kv_store", "f16", "src", 'l', 100.00},
    {"kv_store", "f16", "cache", 's', 100.00},
    {"kv_store", "q8_0", "src", 'l', 100.00},
    {"kv_store", "q8_0", "cache", 's', 35.42},
    {"add_rmsnorm", "f32", "x", 'l', 100.00},
    {"add_rmsnorm", "f32", "x", 's', 100.00},
    {"add_rmsnorm", "f32", "r", 'l', 100.00},
    {"add_rmsnorm", "f32", "r", 's', 100.00},
    {"add_rmsnorm", "f32", "w", 'l', 100.00},
    {"add_rmsnorm x8", "f32", "x", 'l', 100.00},
    {"add_rmsnorm x8", "f32", "x", 's', 100.00},
    {"add_rmsnorm x8", "f32", "r", 'l', 100.00},
    {"add_rmsnorm x8", "f32", "r", 's', 100.00},
    {"add_rmsnorm x8", "f32", "w", 'l', 100.00},
    {"add_rmsnorm x8", "f32", "xq", 's', 100.00},
    {"rmsnorm x8", "f32", "x", 'l', 100.00},
    {"rmsnorm x8", "f32", "w", 'l', 100.00},
    {"rmsnorm x8", "f32", "y", 's', 100.00},
    {"rmsnorm x8", "f32", "xq", 's', 100.00},
    {"silu_mul x8", "f32", "a", 'l', 100.00},
    {"silu_mul x8", "f32", "c", 'l', 100.00},
    {"silu_mul x8", "f32", "y", 's', 100.00},
    {"silu_mul x8", "f32", "xq", 's', 100.00},
    {"rope_kv_store", "f32", "q", 'l', 100.00},
    {"rope_kv_store", "f32", "q", 's', 100.00},
    {"rope_kv_store", "f32", "k", 'l', 100.00},
    {"rope_kv_store", "f32", "v", 'l', 100.00},
    {"rope_kv_store", "f32", "kcache", 's', 100.00},
    {"rope_kv_store", "f32", "vcache", 's', 100.00},
    {"rope_kv_store", "f16", "q", 'l', 100.00},
    {"rope_kv_store", "f16", "q", 's', 100.00},
    {"rope_kv_store", "f16", "k", 'l', 100.00},
    {"rope_kv_store", "f16", "v", 'l', 100.00},
    {"rope_kv_store", "f16", "kcache", 's', 100.00},
    {"rope_kv_store", "f16", "vcache", 's', 100.00},
    {"rope_kv_store", "q8_0", "q", 'l', 100.00},
    {"rope_kv_store", "q8_0", "q", 's', 100.00},
    {"rope_kv_store", "q8_0", "k", 'l', 100.00},
    {"rope_kv_store", "q8_0", "v", 'l', 100.00},
    {"rope_kv_store", "q8_0", "kcache", 's', 35.42},
    {"rope_kv_store", "q8_0", "vcache", 's', 35.42},
    {"convert_half", "f32", "x", 'l', 100.00},
    {"convert_half", "f32", "out", 's', 100.00},
};
/* want-end */

/* Prints a kernel's line of the sector table and checks it against eff_wants: every figure
 * it measured is listed there, and every listed figure was measured. */
static void check_row(const char *kernel, const char *type, const gk_mem_buf *b, int n) {
    printf("sectors  %-16s %-5s", kernel, type);
    int measured = 0, listed = 0;
    for (int i = 0; i < n; i++)
        for (int st = 0; st < 2; st++) {
            if (!(st ? b[i].st_req : b[i].ld_req)) continue;
            const double pct = 100.0 * (st ? st_eff(&b[i]) : ld_eff(&b[i]));
            printf("  %s %s %6.2f%%", b[i].name, st ? "st" : "ld", pct);
            measured++;
            const eff_want *w = NULL;
            for (size_t j = 0; j < sizeof eff_wants / sizeof eff_wants[0]; j++)
                if (!strcmp(eff_wants[j].kernel, kernel) && !strcmp(eff_wants[j].type, type) &&
                    !strcmp(eff_wants[j].buf, b[i].name) && eff_wants[j].kind == (st ? 's' : 'l'))
                    w = &eff_wants[j];
            if (!w)
                fail_msg("%s %s: %s %s at %.2f%% has no expected figure", kernel, type, b[i].name,
                         st ? "stores" : "loads", pct);
            if (fabs(pct - w->pct) > 0.006)
                fail_msg("%s %s: %s %s use %.2f%% of their sector bytes, expected %.2f%%", kernel, type,
                         b[i].name, st ? "stores" : "loads", pct, w->pct);
        }
    printf("\n");
    for (size_t j = 0; j < sizeof eff_wants / sizeof eff_wants[0]; j++)
        listed += !strcmp(eff_wants[j].kernel, kernel) && !strcmp(eff_wants[j].type, type);
    if (listed != measured)
        fail_msg("%s %s: %d figures expected, %d measured", kernel, type, listed, measured);
}

/* ---- the transaction model on hand-computed patterns ---------------------------------------- */
typedef struct pat_args {
    float *x;
    int stride, offset; /* lane l reads x[offset + stride * l] */
} pat_args;

GK_BODY(body_pattern, pat_args) {
    GK_THREADS { (void)gk_ldf(a.x + a.offset + a.stride * (tid & 31)); }
}

static gk_mem_buf run_pattern(float *x, int stride, int offset, int nt) {
    gk_mem_buf b = gk_trace_buf("x", x, 4096 * sizeof(float));
    gk_trace_begin(&b, 1);
    pat_args a = {x, stride, offset};
    GK_EMUL_LAUNCH(body_pattern, 1, 1, 1, nt, 0, a);
    gk_trace_end();
    return b;
}

static void model_counts_hand_patterns(void **s) {
    float *x = dalloc(4096 * sizeof(float));
    /* 32 consecutive floats from a 128-byte boundary: one request, 4 sectors, all 128 bytes */
    gk_mem_buf b = run_pattern(x, 1, 0, 32);
    assert_int_equal(b.ld_req, 1);
    assert_int_equal(b.ld_sectors, 4);
    assert_int_equal(b.ld_used, 128);
    /* the same, 4 bytes off: the span crosses a fifth sector */
    b = run_pattern(x, 1, 1, 32);
    assert_int_equal(b.ld_sectors, 5);
    assert_int_equal(b.ld_used, 128);
    /* every other float: 8 sectors for 128 bytes, 50% */
    b = run_pattern(x, 2, 0, 32);
    assert_int_equal(b.ld_sectors, 8);
    assert_true(fabs(ld_eff(&b) - 0.5) < 1e-12);
    /* a 32-float lane stride (one float per 128 bytes): 32 sectors of which 4 bytes each */
    b = run_pattern(x, 32, 0, 32);
    assert_int_equal(b.ld_sectors, 32);
    assert_true(fabs(ld_eff(&b) - 0.125) < 1e-12);
    /* all lanes one address (a broadcast): one sector, 4 bytes used */
    b = run_pattern(x, 0, 7, 32);
    assert_int_equal(b.ld_sectors, 1);
    assert_int_equal(b.ld_used, 4);
    /* 4 warps: 4 requests, each its own */
    b = run_pattern(x, 1, 0, 128);
    assert_int_equal(b.ld_req, 4);
    assert_int_equal(b.ld_sectors, 16);
    /* an access outside every registered buffer is not counted */
    float *other = dalloc(4096 * sizeof(float));
    gk_mem_buf nb = gk_trace_buf("x", x, 4096 * sizeof(float));
    gk_trace_begin(&nb, 1);
    pat_args a = {other, 1, 0};
    GK_EMUL_LAUNCH(body_pattern, 1, 1, 1, 32, 0, a);
    gk_trace_end();
    assert_int_equal(nb.ld_req, 0);
    free(x), free(other);
}

/* ---- barrier epochs --------------------------------------------------------------------- */
typedef struct rev_args {
    const float *x;
    float *y;
    int sync;  /* 0: the barrier between writing and reading the shared array is missing */
    int reuse; /* 1: the array is then overwritten, after a barrier only if sync */
} rev_args;

/* y[t] = x[nt-1-t] through shared memory: thread t reads what thread nt-1-t wrote. */
GK_BODY(body_reverse, rev_args) {
    GK_SHARED(float, sh, GK_MAX_THREADS);
    GK_THREADS { GK_SST(sh, tid, gk_ldf(a.x + tid)); }
    if (a.sync) GK_SYNC();
    GK_THREADS { gk_stf(a.y + tid, GK_SLD(sh, GK_NT - 1 - tid)); }
    if (a.reuse) {
        if (a.sync) GK_SYNC();
        GK_THREADS { GK_SST(sh, tid, 0.0f); }
    }
}

static void run_reverse(int sync, int reuse, int rev, int64_t *races, char *msg, size_t msg_len) {
    const int nt = 64;
    float *x = rand_dev_f32(nt, 1.0f), *y = dalloc(nt * sizeof(float));
    gk_emul_races_collect(1);
    rev_args a = {x, y, sync, reuse};
    GK_EMUL_LAUNCH(body_reverse, 2, 1, 1, nt, rev, a);
    *races = gk_emul_races();
    snprintf(msg, msg_len, "%s", gk_emul_race_msg());
    gk_emul_races_collect(0);
    /* the emulator runs regions one after the other, so the result is right either way */
    for (int t = 0; t < nt; t++) assert_true(y[t] == x[nt - 1 - t]);
    free(x), free(y);
}

static void missing_barrier_is_caught(void **s) {
    int64_t races;
    char msg[256];
    for (int rev = 0; rev < 2; rev++) {
        run_reverse(1, 1, rev, &races, msg, sizeof msg);
        assert_int_equal(races, 0);
        /* read of another thread's write with no barrier: all 64 threads (t = 63 - t has no
         * solution) in each of the 2 blocks */
        run_reverse(0, 0, rev, &races, msg, sizeof msg);
        assert_int_equal(races, 2 * 64);
        assert_non_null(strstr(msg, "shared-memory race on sh["));
        assert_non_null(strstr(msg, "read of a write"));
        assert_non_null(strstr(msg, "no GK_SYNC"));
    }
    /* the first race, forward order: thread 0 reads sh[63], written by thread 63 */
    run_reverse(0, 0, 0, &races, msg, sizeof msg);
    assert_string_equal(
        msg,
        "shared-memory race on sh[63]: read of a write by thread 0 after thread 63 with no GK_SYNC between");
    /* overwriting what others read, without the barrier: 64 reads, then 64 writes over them */
    run_reverse(0, 1, 0, &races, msg, sizeof msg);
    assert_int_equal(races, 2 * (64 + 64));
}

/* The shipped kernels obey the rule (a race would abort): every block body with shared memory. */
static void kernels_have_their_barriers(void **s) {
    gk_emul_races_collect(1);
    const int n_head = 4, n_kv = 2, hd = 64;
    for (int decode = 0; decode < 2; decode++) {
        const int pos0 = decode ? 200 : 5;
        const int64_t T = decode ? 2 : 20, ctx = pos0 + T, kw = (int64_t)n_kv * hd;
        float *q = rand_dev_f32((int64_t)n_head * hd * T, 1.0f), *out = dalloc((size_t)(n_head * hd * T) * 4);
        float *k = rand_dev_f32(kw * ctx, 1.0f), *v = rand_dev_f32(kw * ctx, 1.0f);
        gk_attn_args a = {q,      out,    (uint8_t *)k, (uint8_t *)v, (size_t)kw * 4, NULL,
                          GK_F32, n_head, n_kv,         hd,           pos0,           0,
                          T,      0.125f, NULL,         0};
        if (decode) {
            a.n_split = gk_attn_n_split(pos0, T);
            a.part = dalloc(gk_attn_part_floats(a.n_split, n_head, hd, T) * 4);
            gk_grid g = gk_plan_attn_decode(a.n_split, n_head, T);
            GK_EMUL_LAUNCH(gk_body_attn_decode, g.gx, g.gy, g.gz, g.nt, 1, a);
        } else {
            gk_grid g = gk_plan_attn_prefill(n_head, T);
            GK_EMUL_LAUNCH(gk_body_attn_prefill, g.gx, g.gy, g.gz, g.nt, 1, a);
        }
        free(a.part), free(q), free(out), free(k), free(v);
    }
    { /* the fused row ops (their block reduction and warp max), both thread orders */
        const int64_t dim = 1000, T = 3, kw = (int64_t)n_kv * hd;
        /* rows of 1000 (a partial step), and of 1024 for the quantised output */
        float *x = rand_dev_f32(1024 * T, 1.0f), *r = rand_dev_f32(1024 * T, 1.0f),
              *w = rand_dev_f32(1024, 1.0f);
        float *q = rand_dev_f32((int64_t)n_head * hd * T, 1.0f), *k = rand_dev_f32(kw * T, 1.0f);
        uint8_t *kc = dalloc(gk_type_bytes(GK_Q8_0, kw) * 8), *vc = dalloc(gk_type_bytes(GK_F16, kw) * 8);
        uint8_t *xq = dalloc(gk_mv_xq_bytes(1024, T));
        for (int rev = 0; rev < 2; rev++) {
            gk_arn_args an = {x, r, w, r, dim, 1e-5f, NULL, T};
            gk_grid g = gk_plan_rows(T);
            GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, an);
            /* the norms writing their output quantised too: a barrier between the steps' scales */
            an.xq = xq, an.dim = 1024;
            GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, an);
            gk_row_args rn = {x, w, r, 1024, 1e-5f, xq, T};
            GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, rev, rn);
            gk_ew_args se = {x, r, x, 1024 * T, 0.0f, GK_EW_SILU_MUL, xq};   /* silu_mul quantising: its barrier */
            g = gk_plan_elems(se.n);
            GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, rev, se);
            gk_rkv_args ar = {q,
                              k,
                              k,
                              kc,
                              vc,
                              gk_type_bytes(GK_Q8_0, kw),
                              gk_type_bytes(GK_F16, kw),
                              GK_Q8_0,
                              GK_F16,
                              n_head,
                              n_kv,
                              hd,
                              4,
                              T,
                              kw,
                              10000.0f,
                              NULL};
            g = gk_plan_rope_kv_store(&ar);
            GK_EMUL_LAUNCH(gk_body_rope_kv_store, g.gx, g.gy, g.gz, g.nt, rev, ar);
        }
        free(x), free(r), free(w), free(q), free(k), free(kc), free(vc), free(xq);
    }
    assert_int_equal(gk_emul_races(), 0);
    gk_emul_races_collect(0);
}

/* ---- sector efficiency of the kernels ------------------------------------------------------ */
static const int weight_types[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
enum { N_WTYPES = sizeof weight_types / sizeof weight_types[0] };

static void emul_matvec(const gk_mv_args *a) {
    gk_grid g = gk_plan_matvec(a->N, a->M);
    switch (a->type) {
        case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_matvec_q8_0, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
        case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_matvec_q4_0, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
        case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_matvec_q4_1, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
        case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_matvec_q4_k, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
        case GK_Q6_K: GK_EMUL_LAUNCH(gk_body_matvec_q6_k, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
        default: GK_EMUL_LAUNCH(gk_body_matvec_float, g.gx, g.gy, g.gz, g.nt, 0, *a); break;
    }
}

/* y = x · wᵀ in double from the type table's dequantisation. */
static void ref_matvec(int type, const uint8_t *w, const float *x, int64_t K, int64_t N, int64_t M,
                       float *y) {
    float *row = malloc((size_t)K * sizeof *row);
    assert_non_null(row);
    const size_t rb = gk_type_bytes(type, K);
    for (int64_t n = 0; n < N; n++) {
        gk_type_get(type)->to_f32(w + n * rb, row, K);
        for (int64_t m = 0; m < M; m++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (double)row[k] * x[m * K + k];
            y[m * N + n] = (float)acc;
        }
    }
    free(row);
}

/* Decode shapes: K = 2048 (rows 32-byte aligned in every format), one and four columns; and
 * rows that are only 2-byte aligned (65 Q8_0/Q4_0 blocks, 9 Q6_K super-blocks a row), whose
 * first and last words straddle the neighbouring rows, five rows (a partial block). */
static void check_matvec(int type, int64_t K, int64_t N, int64_t M, const char *label) {
    float *wf = rand_dev_f32(K * N, 1.0f), *x = rand_dev_f32(K * M, 1.0f);
    uint8_t *w = encode(type, wf, K, N);
    float *y = dalloc((size_t)(N * M) * 4), *want = malloc((size_t)(N * M) * 4);
    assert_non_null(want);
    const size_t rb = gk_type_bytes(type, K);
    gk_mem_buf b[3] = {gk_trace_buf("weights", w, rb * N),
                       gk_trace_buf("activations", x, (size_t)(K * M) * 4),
                       gk_trace_buf("output", y, (size_t)(N * M) * 4)};
    gk_trace_begin(b, 3);
    gk_mv_args a = {w, rb, x, y, K, N, M, type};
    emul_matvec(&a);
    gk_trace_end();
    ref_matvec(type, w, x, K, N, M, want);
    for (int64_t j = 0; j < N * M; j++)
        if (!(fabsf(y[j] - want[j]) <= 2e-5f * (float)K + 1e-4f * fabsf(want[j])))
            fail_msg("%s %s: y[%lld] = %.7g, reference %.7g", label, gk_type_name(type), (long long)j, y[j],
                     want[j]);
    check_row(label, gk_type_name(type), b, 3);
    assert_int_equal(b[0].st_req, 0);
    assert_true(b[0].ld_req > 0 && b[1].ld_req > 0 && b[2].st_req > 0);
    /* the design target: >= 80% of the sector bytes a warp fetches are bytes it uses */
    if (ld_eff(&b[0]) < 0.80 || ld_eff(&b[1]) < 0.80)
        fail_msg("%s %s: weights %.1f%%, activations %.1f%% of fetched sector bytes used, below 80%%", label,
                 gk_type_name(type), 100 * ld_eff(&b[0]), 100 * ld_eff(&b[1]));
    free(wf), free(x), free(w), free(y), free(want);
}

static void matvec_sector_efficiency(void **s) {
    for (int i = 0; i < N_WTYPES; i++) check_matvec(weight_types[i], 2048, 8, 1, "matvec M=1");
    for (int i = 0; i < N_WTYPES; i++) check_matvec(weight_types[i], 2048, 8, 4, "matvec M=4");
    for (int i = 0; i < N_WTYPES; i++)
        if (weight_types[i] == GK_Q8_0 || weight_types[i] == GK_Q4_0 || weight_types[i] == GK_Q6_K) {
            assert_int_equal(gk_type_bytes(weight_types[i], weight_types[i] == GK_Q6_K ? 2304 : 2080) % 4, 2);
            check_matvec(weight_types[i], weight_types[i] == GK_Q6_K ? 2304 : 2080, 5, 1, "matvec 2-aligned");
        }
}

/* ---- the integer path: 8-bit activations, dp4a ----------------------------------------------- */
static void quantize_x8_by_hand(void **s) {
    const int64_t K = 64, M = 1;
    float *x = dalloc(K * sizeof(float));
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16); /* amax 16: d = 16/127 */
    x[32 + 5] = -0.5f;                                   /* the second block: one value, q = -127 */
    uint8_t *xq = dalloc(gk_mv_xq_bytes(K, M));
    gk_xq_args a = {x, xq, K, M};
    gk_grid g = gk_plan_quantize_x8(K, M);
    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, 1, a); /* threads in reverse */
    const int8_t *q = (const int8_t *)xq;
    const float *d = (const float *)(const void *)(xq + K * M);
    assert_true(d[0] == 16.0f / 127.0f);
    assert_int_equal(q[0], -127);
    assert_int_equal(q[16], 0);
    assert_int_equal(q[31], 119); /* 15 * 127/16 = 119.06 */
    assert_int_equal(q[17], 8);   /* 127/16 = 7.94 */
    assert_true(d[1] == 0.5f / 127.0f);
    assert_int_equal(q[32 + 5], -127);
    assert_int_equal(q[32 + 6], 0);
    free(x), free(xq);
}

static void emul_quantize_x8(const float *x, uint8_t *xq, int64_t K, int64_t M) {
    gk_xq_args q = {x, xq, K, M};
    gk_grid g = gk_plan_quantize_x8(K, M);
    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, 0, q);
}

static void emul_matvec_x8(const gk_mv_args *mv, const uint8_t *xq) {
    gk_mvx_args a = {*mv, xq};
    gk_grid g = gk_plan_matvec(mv->N, mv->M);
    switch (mv->type) {
        case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_matvec_x8_q8_0, g.gx, g.gy, g.gz, g.nt, 1, a); break;
        case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_0, g.gx, g.gy, g.gz, g.nt, 1, a); break;
        case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_1, g.gx, g.gy, g.gz, g.nt, 1, a); break;
        case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_matvec_x8_q4_k, g.gx, g.gy, g.gz, g.nt, 1, a); break;
        case GK_Q6_K: GK_EMUL_LAUNCH(gk_body_matvec_x8_q6_k, g.gx, g.gy, g.gz, g.nt, 1, a); break;
        default: fail_msg("no integer matvec for %s", gk_type_name(mv->type));
    }
}

/* For every quantized format: the dp4a matvec equals the product with the quantised
 * activations (d * q, computed here) to float rounding, and stays within the rounding bound
 * of the float product: |sum w (x - d q)| <= sum |w| d / 2 per block. */
static void matvec_x8_matches_quantised_activations(void **s) {
    static const int qtypes[] = {GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
    static const struct { int64_t K, N, M; } shapes[] = {{2048, 8, 1}, {2304, 5, 4}, {512, 9, 7}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int i = 0; i < 5; i++) {
            const int type = qtypes[i];
            const int64_t K = shapes[si].K, N = shapes[si].N, M = shapes[si].M;
            float *wf = rand_dev_f32(K * N, 1.0f), *x = rand_dev_f32(K * M, 1.0f);
            uint8_t *w = encode(type, wf, K, N), *xq = dalloc(gk_mv_xq_bytes(K, M));
            float *y = dalloc((size_t)(N * M) * 4), *want = malloc((size_t)(N * M) * 4);
            float *exact = malloc((size_t)(N * M) * 4), *xh = malloc((size_t)(K * M) * 4),
                  *row = malloc((size_t)K * 4);
            assert_true(want && exact && xh && row);
            const size_t rb = gk_type_bytes(type, K);
            gk_mem_buf b[3] = {gk_trace_buf("weights", w, rb * N),
                               gk_trace_buf("activations", xq, gk_mv_xq_bytes(K, M)),
                               gk_trace_buf("output", y, (size_t)(N * M) * 4)};
            emul_quantize_x8(x, xq, K, M);
            gk_trace_begin(b, 3);
            gk_mv_args a = {w, rb, x, y, K, N, M, type};
            emul_matvec_x8(&a, xq);
            gk_trace_end();
            const float *xd = (const float *)(const void *)(xq + K * M);
            for (int64_t k = 0; k < K * M; k++) xh[k] = xd[k / 32] * (float)(int8_t)xq[k];
            ref_matvec(type, w, xh, K, N, M, want);
            ref_matvec(type, w, x, K, N, M, exact);
            for (int64_t n = 0; n < N; n++) {
                gk_type_get(type)->to_f32(w + n * rb, row, K);
                for (int64_t m = 0; m < M; m++) {
                    const float got = y[m * N + n], q = want[m * N + n], e = exact[m * N + n];
                    if (!(fabsf(got - q) <= 2e-5f * (float)K + 1e-4f * fabsf(q)))
                        fail_msg("matvec x8 %s K=%lld M=%lld: y[%lld,%lld] = %.7g, with the quantised "
                                 "activations %.7g",
                                 gk_type_name(type), (long long)K, (long long)M, (long long)m, (long long)n,
                                 got, q);
                    double bound = 0;
                    for (int64_t k = 0; k < K; k++) bound += fabs(row[k]) * xd[(m * K + k) / 32] / 2;
                    if (!(fabs((double)got - e) <= bound + 2e-5 * (double)K))
                        fail_msg("matvec x8 %s: y[%lld,%lld] = %.7g is %.3g from the float product %.7g, "
                                 "bound %.3g",
                                 gk_type_name(type), (long long)m, (long long)n, got, fabs((double)got - e),
                                 e, bound);
                }
            }
            if (si == 0) check_row("matvec x8 M=1", gk_type_name(type), b, 3);
            free(wf), free(x), free(w), free(xq), free(y), free(want), free(exact), free(xh), free(row);
        }
    /* the quantisation kernel's own traffic */
    const int64_t K = 2048, M = 4;
    float *x = rand_dev_f32(K * M, 1.0f);
    uint8_t *xq = dalloc(gk_mv_xq_bytes(K, M));
    gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)(K * M) * 4),
                       gk_trace_buf("xq", xq, gk_mv_xq_bytes(K, M))};
    gk_trace_begin(b, 2);
    emul_quantize_x8(x, xq, K, M);
    gk_trace_end();
    check_row("quantize_x8", "f32", b, 2);
    free(x), free(xq);
}

static void dequant_sector_efficiency(void **s) {
    const int64_t K = 2048, N = 4;
    for (int i = 0; i < N_WTYPES; i++) {
        const int type = weight_types[i];
        float *wf = rand_dev_f32(K * N, 1.0f);
        uint8_t *w = encode(type, wf, K, N);
        uint16_t *h = dalloc((size_t)(K * N) * 2);
        const size_t rb = gk_type_bytes(type, K);
        gk_mem_buf b[2] = {gk_trace_buf("weights", w, rb * N), gk_trace_buf("f16", h, (size_t)(K * N) * 2)};
        gk_trace_begin(b, 2);
        gk_dq_args a = {w, rb, h, K, N, type};
        gk_grid g = gk_plan_dequant(K, N);
        GK_EMUL_LAUNCH(gk_body_dequant_f16, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        float *want = malloc((size_t)K * 4);
        for (int64_t n = 0; n < N; n++) {
            gk_type_get(type)->to_f32(w + n * rb, want, K);
            for (int64_t k = 0; k < K; k++) assert_int_equal(h[n * K + k], gk_f32_to_f16(want[k]));
        }
        check_row("dequant_f16", gk_type_name(type), b, 2);
        free(wf), free(w), free(h), free(want);
    }
}

static void attention_sector_efficiency(void **s) {
    static const int cache_types[] = {GK_F32, GK_F16, GK_Q8_0};
    const int n_head = 8, n_kv = 2, hd = 128;
    for (int ci = 0; ci < 3; ci++)
        for (int decode = 1; decode >= 0; decode--) {
            const int type = cache_types[ci], pos0 = decode ? 255 : 0;
            const int64_t T = decode ? 1 : 32, ctx = pos0 + T, qw = (int64_t)n_head * hd,
                          kw = (int64_t)n_kv * hd;
            float *q = rand_dev_f32(qw * T, 1.0f), *out = dalloc((size_t)(qw * T) * 4);
            float *kf = rand_dev_f32(kw * ctx, 1.0f), *vf = rand_dev_f32(kw * ctx, 1.0f);
            uint8_t *k = encode(type, kf, kw, ctx), *v = encode(type, vf, kw, ctx);
            const size_t rb = gk_type_bytes(type, kw);
            gk_attn_args a = {q,      out,  k,  v,    rb, NULL, type,
                              n_head, n_kv, hd, pos0, 0,  T,    1.0f / sqrtf((float)hd), NULL, 0};
            size_t part_bytes = 0;
            if (decode) {
                a.n_split = gk_attn_n_split(pos0, T);
                part_bytes = gk_attn_part_floats(a.n_split, n_head, hd, T) * 4;
                a.part = dalloc(part_bytes);
            }
            gk_mem_buf b[5] = {gk_trace_buf("q", q, (size_t)(qw * T) * 4), gk_trace_buf("k", k, rb * ctx),
                               gk_trace_buf("v", v, rb * ctx), gk_trace_buf("out", out, (size_t)(qw * T) * 4),
                               gk_trace_buf("part", a.part, part_bytes)};
            gk_trace_begin(b, decode ? 5 : 4);
            if (decode) {
                gk_grid g = gk_plan_attn_decode(a.n_split, n_head, T);
                GK_EMUL_LAUNCH(gk_body_attn_decode, g.gx, g.gy, g.gz, g.nt, 0, a);
                check_row("attn_decode", gk_type_name(type), b, 5);
                memset(b, 0, sizeof b);
                b[0] = gk_trace_buf("part", a.part, part_bytes),
                b[1] = gk_trace_buf("out", out, (size_t)(qw * T) * 4);
                gk_trace_end();
                gk_trace_begin(b, 2);
                g = gk_plan_attn_combine(n_head, T);
                GK_EMUL_LAUNCH(gk_body_attn_combine, g.gx, g.gy, g.gz, g.nt, 0, a);
                gk_trace_end();
                check_row("attn_combine", gk_type_name(type), b, 2);
                /* at decode the combine writes its output quantised too (the output projection's) */
                const size_t qb = gk_mv_xq_bytes(qw, T);
                a.xq = dalloc(qb);
                b[2] = gk_trace_buf("xq", a.xq, qb);
                gk_trace_begin(b, 3);
                GK_EMUL_LAUNCH(gk_body_attn_combine, g.gx, g.gy, g.gz, g.nt, 0, a);
                gk_trace_end();
                check_row("attn_combine x8", gk_type_name(type), b, 3);
                free(a.xq);
            } else {
                gk_grid g = gk_plan_attn_prefill(n_head, T);
                GK_EMUL_LAUNCH(gk_body_attn_prefill, g.gx, g.gy, g.gz, g.nt, 0, a);
                gk_trace_end();
                check_row("attn_prefill", gk_type_name(type), b, 4);
            }
            free(q), free(out), free(kf), free(vf), free(k), free(v), free(a.part);
        }
}

/* The small ops, as they are (their values are test_cuda's): per-token rows of 2048. */
static void rowops_sector_efficiency(void **s) {
    const int64_t dim = 2048, T = 2;
    float *x = rand_dev_f32(dim * T, 1.0f), *w = rand_dev_f32(dim, 1.0f), *y = dalloc((size_t)(dim * T) * 4);
    for (int op = 0; op < 2; op++) {
        gk_mem_buf b[3] = {gk_trace_buf("x", x, (size_t)(dim * T) * 4), gk_trace_buf("w", w, (size_t)dim * 4),
                           gk_trace_buf("y", y, (size_t)(dim * T) * 4)};
        gk_trace_begin(b, 3);
        gk_row_args a = {x, op ? NULL : w, y, dim, 1e-5f, NULL, T};
        gk_grid g = gk_plan_rows(T);
        if (op)
            GK_EMUL_LAUNCH(gk_body_softmax, g.gx, g.gy, g.gz, g.nt, 0, a);
        else
            GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row(op ? "softmax" : "rmsnorm", "f32", b, 3);
    }
    {
        gk_mem_buf b[3] = {gk_trace_buf("a", x, (size_t)dim * 4), gk_trace_buf("c", x + dim, (size_t)dim * 4),
                           gk_trace_buf("y", y, (size_t)dim * 4)};
        gk_trace_begin(b, 3);
        gk_ew_args a = {x, x + dim, y, dim, 0.0f, GK_EW_SILU_MUL, NULL};
        gk_grid g = gk_plan_elems(dim);
        GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("silu_mul", "f32", b, 3);
        /* at decode silu_mul writes its output quantised too (the down projection's input) */
        uint8_t *xq = dalloc(gk_mv_xq_bytes(dim, 1));
        gk_mem_buf bq[4] = {gk_trace_buf("a", x, (size_t)dim * 4), gk_trace_buf("c", x + dim, (size_t)dim * 4),
                            gk_trace_buf("y", y, (size_t)dim * 4), gk_trace_buf("xq", xq, gk_mv_xq_bytes(dim, 1))};
        gk_trace_begin(bq, 4);
        a.xq = xq;
        GK_EMUL_LAUNCH(gk_body_elementwise, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("silu_mul x8", "f32", bq, 4);
        free(xq);
    }
    {
        gk_mem_buf b[1] = {gk_trace_buf("x", y, (size_t)dim * 4)};
        gk_trace_begin(b, 1);
        gk_rope_args a = {y, 16, 128, 100, 1, 10000.0f, NULL};
        gk_grid g = gk_plan_rope(16, 128, 1);
        GK_EMUL_LAUNCH(gk_body_rope, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("rope", "f32", b, 1);
    }
    {
        const int64_t vocab = 4;
        float *tf = rand_dev_f32(dim * vocab, 1.0f);
        uint8_t *table = encode(GK_Q4_0, tf, dim, vocab);
        int32_t *ids = dalloc(T * 4);
        ids[0] = 3, ids[1] = 1;
        int err = 0;
        gk_mem_buf b[3] = {gk_trace_buf("table", table, gk_type_bytes(GK_Q4_0, dim) * vocab),
                           gk_trace_buf("ids", ids, (size_t)T * 4),
                           gk_trace_buf("y", y, (size_t)(dim * T) * 4)};
        gk_trace_begin(b, 3);
        gk_emb_args a = {table, gk_type_bytes(GK_Q4_0, dim), ids, y, dim, vocab, T, GK_Q4_0, &err};
        gk_grid g = gk_plan_embedding(dim, T);
        GK_EMUL_LAUNCH(gk_body_embedding, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        assert_int_equal(err, 0);
        check_row("embedding", "q4_0", b, 3);
        free(tf), free(table), free(ids);
    }
    static const int cache_types[] = {GK_F32, GK_F16, GK_Q8_0};
    for (int ci = 0; ci < 3; ci++) {
        const int64_t width = 256, ctx = 4;
        const size_t rb = gk_type_bytes(cache_types[ci], width);
        uint8_t *cache = dalloc(rb * ctx);
        gk_mem_buf b[2] = {gk_trace_buf("src", x, (size_t)width * 4), gk_trace_buf("cache", cache, rb * ctx)};
        gk_trace_begin(b, 2);
        gk_kvs_args a = {cache, rb, x, width, 1, 2, cache_types[ci]};
        gk_grid g = gk_plan_kv_store(width, 1);
        GK_EMUL_LAUNCH(gk_body_kv_store, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("kv_store", gk_type_name(cache_types[ci]), b, 2);
        free(cache);
    }
    { /* the fused ones: as the llm pass calls add_rmsnorm, y is the residual r */
        float *xa = rand_dev_f32(dim * T, 1.0f), *r = rand_dev_f32(dim * T, 1.0f);
        gk_mem_buf b[3] = {gk_trace_buf("x", xa, (size_t)(dim * T) * 4),
                           gk_trace_buf("r", r, (size_t)(dim * T) * 4),
                           gk_trace_buf("w", w, (size_t)dim * 4)};
        gk_trace_begin(b, 3);
        gk_arn_args a = {xa, r, w, r, dim, 1e-5f, NULL, T};
        gk_grid g = gk_plan_rows(T);
        GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("add_rmsnorm", "f32", b, 3);
        /* at decode both norms write their output quantised too (scales: one sector a step) */
        uint8_t *xq = dalloc(gk_mv_xq_bytes(dim, T));
        gk_mem_buf bq[4] = {b[0], b[1], b[2], gk_trace_buf("xq", xq, gk_mv_xq_bytes(dim, T))};
        for (int i = 0; i < 4; i++) bq[i].ld_req = bq[i].ld_sectors = bq[i].ld_used = 0;
        for (int i = 0; i < 4; i++) bq[i].st_req = bq[i].st_sectors = bq[i].st_used = 0;
        gk_trace_begin(bq, 4);
        a.xq = xq;
        GK_EMUL_LAUNCH(gk_body_add_rmsnorm, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("add_rmsnorm x8", "f32", bq, 4);
        gk_mem_buf bn[4] = {
            gk_trace_buf("x", xa, (size_t)(dim * T) * 4), gk_trace_buf("w", w, (size_t)dim * 4),
            gk_trace_buf("y", r, (size_t)(dim * T) * 4), gk_trace_buf("xq", xq, gk_mv_xq_bytes(dim, T))};
        gk_trace_begin(bn, 4);
        gk_row_args n = {xa, w, r, dim, 1e-5f, xq, T};
        GK_EMUL_LAUNCH(gk_body_rmsnorm, g.gx, g.gy, g.gz, g.nt, 0, n);
        gk_trace_end();
        check_row("rmsnorm x8", "f32", bn, 4);
        free(xa), free(r), free(xq);
    }
    for (int ci = 0; ci < 3; ci++) { /* llama2-7b's 32 heads of 128 for Q, 2 KV heads, one token */
        const int64_t qw = 32 * 128, kw = 256, ctx = 4;
        const size_t rb = gk_type_bytes(cache_types[ci], kw);
        float *q = rand_dev_f32(qw, 1.0f), *k = rand_dev_f32(kw, 1.0f), *v = rand_dev_f32(kw, 1.0f);
        uint8_t *kc = dalloc(rb * ctx), *vc = dalloc(rb * ctx);
        gk_mem_buf b[5] = {gk_trace_buf("q", q, (size_t)qw * 4), gk_trace_buf("k", k, (size_t)kw * 4),
                           gk_trace_buf("v", v, (size_t)kw * 4), gk_trace_buf("kcache", kc, rb * ctx),
                           gk_trace_buf("vcache", vc, rb * ctx)};
        gk_trace_begin(b, 5);
        gk_rkv_args a = {q, k,   v, kc, vc, rb,       rb,  cache_types[ci], cache_types[ci], 32,
                         2, 128, 2, 1,  kw, 10000.0f, NULL};
        gk_grid g = gk_plan_rope_kv_store(&a);
        GK_EMUL_LAUNCH(gk_body_rope_kv_store, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("rope_kv_store", gk_type_name(cache_types[ci]), b, 5);
        free(q), free(k), free(v), free(kc), free(vc);
    }
    {
        uint16_t *h = dalloc((size_t)dim * 2);
        gk_mem_buf b[2] = {gk_trace_buf("x", x, (size_t)dim * 4), gk_trace_buf("out", h, (size_t)dim * 2)};
        gk_trace_begin(b, 2);
        gk_cvt_args a = {x, h, dim, 0};
        gk_grid g = gk_plan_elems(dim);
        GK_EMUL_LAUNCH(gk_body_convert_half, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        check_row("convert_half", "f32", b, 2);
        free(h);
    }
    free(x), free(w), free(y);
}

/* ---- launches per decoded token ------------------------------------------------------------ */
/* A backend that runs "ref" and counts, per op, the kernels the CUDA backend enqueues for it:
 * decode matmuls (M <= GK_MV_MAX_M) gk_plan_matvec_launches (quantized weights: the activation
 * quantisation unless the previous matmul read the same x with no other op since, as
 * backend.cu keeps it; then the matvec), attention gk_plan_attn_launches(T), every other op
 * one kernel; and the copies and syncs the pass asks for. int_path 0 counts the matvecs as
 * they were before the integer path (one kernel each, F32 activations). */
static gk_backend *count_ref;
static int64_t n_launches, n_copies, n_syncs;
/* The step bracket (gk_step: a CUDA graph on cuda): steps begun, ended (the graph launched),
 * dropped; launches, copies and syncs inside the open step; a matmul to fail (0: none). */
static int64_t n_begun, n_ended, n_dropped, in_launches, in_copies, in_syncs, fail_at_matmul;
static int in_step;
static int64_t step_launches; /* inside the decoded token's step */
static int int_path;
static const void *xq_of; /* the x the modelled backend holds quantised, or NULL */
static int64_t xq_k, xq_m;

static void other_op(int64_t launches) {
    n_launches += launches;
    if (in_step) in_launches += launches;
    xq_of = NULL;
}

static int cnt_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                      const gk_matmul_params *p) {
    if (gk_rows(x) > GK_MV_MAX_M)
        fail_msg("a matmul of %lld columns takes the GEMM path, not counted here", (long long)gk_rows(x));
    if (fail_at_matmul && --fail_at_matmul == 0) return -1;
    if (!int_path) {
        other_op(1);
    } else {
        const int held = xq_of == x->data && xq_k == x->ne[0] && xq_m == gk_rows(x);
        n_launches += gk_plan_matvec_launches(w->type, held);
        if (in_step) in_launches += gk_plan_matvec_launches(w->type, held);
        xq_of = gk_cu_qblock(w->type) ? x->data : NULL, xq_k = x->ne[0], xq_m = gk_rows(x);
    }
    return count_ref->ops->core->matmul(b, y, w, x, p);
}
static int cnt_embedding(gk_backend *b, gk_tensor *y, const gk_tensor *t, const gk_tensor *ids) {
    other_op(1);
    return count_ref->ops->core->embedding(b, y, t, ids);
}
/* A norm or silu_mul at decode leaves its output quantised (gk_plan_norm_quantises), as
 * backend.cu does. */
static void quantising_op(const gk_tensor *y) {
    other_op(1);
    if (int_path && gk_plan_norm_quantises(y->ne[0], gk_rows(y)))
        xq_of = y->data, xq_k = y->ne[0], xq_m = gk_rows(y);
}
static int cnt_rmsnorm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps) {
    quantising_op(y);
    return count_ref->ops->core->rmsnorm(b, y, x, w, eps);
}
static int cnt_rope(gk_backend *b, gk_tensor *x, int nh, int hd, int pos0, float base, const gk_tensor *ff) {
    other_op(1);
    return count_ref->ops->core->rope(b, x, nh, hd, pos0, base, ff);
}
static int cnt_kv_store(gk_backend *b, gk_tensor *c, const gk_tensor *src, int pos0) {
    other_op(1);
    return count_ref->ops->core->kv_store(b, c, src, pos0);
}
static int cnt_attention(gk_backend *b, gk_tensor *o, const gk_tensor *q, const gk_tensor *k,
                         const gk_tensor *v, const gk_attn_params *p) {
    other_op(gk_plan_attn_launches(gk_rows(q)));
    if (int_path && gk_plan_attn_quantises(p->head_dim, gk_rows(q))) /* its combine writes o quantised too */
        xq_of = o->data, xq_k = o->ne[0], xq_m = gk_rows(o);
    return count_ref->ops->core->attention(b, o, q, k, v, p);
}
static int cnt_silu_mul(gk_backend *b, gk_tensor *y, const gk_tensor *g, const gk_tensor *u) {
    quantising_op(y);
    return count_ref->ops->core->silu_mul(b, y, g, u);
}
static int cnt_add(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *c) {
    other_op(1);
    return count_ref->ops->core->add(b, y, x, c);
}
static int cnt_scale(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s) {
    other_op(1);
    return count_ref->ops->core->scale(b, y, x, s);
}
static int cnt_softmax(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    other_op(1);
    return count_ref->ops->core->softmax(b, y, x);
}
static int cnt_add_rmsnorm(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r, const gk_tensor *w,
                           float eps) {
    quantising_op(y);
    return count_ref->ops->core->add_rmsnorm(b, y, x, r, w, eps);
}
static int cnt_rope_kv_store(gk_backend *b, gk_tensor *q, gk_tensor *kc, gk_tensor *vc, const gk_tensor *k,
                             const gk_tensor *v, const gk_rope_kv_params *p) {
    other_op(1);
    return count_ref->ops->core->rope_kv_store(b, q, kc, vc, k, v, p);
}
static int cnt_step(gk_backend *b, int begin) {
    (void)b;
    if (begin == 1) {
        if (in_step) fail_msg("a step begun inside a step");
        n_begun++, in_step = 1;
    } else if (in_step) {
        begin ? n_dropped++ : n_ended++;
        in_step = 0;
    }
    return 0;
}
static int cnt_upload(gk_backend *b, gk_tensor *t, size_t off, const void *src, size_t n) {
    n_copies += 1, in_copies += in_step;
    xq_of = NULL;
    return count_ref->ops->upload(b, t, off, src, n);
}
static int cnt_download(gk_backend *b, const gk_tensor *t, size_t off, void *dst, size_t n) {
    n_copies++;
    n_syncs++; /* download() synchronises */
    in_copies += in_step, in_syncs += in_step;
    xq_of = NULL;
    return count_ref->ops->download(b, t, off, dst, n);
}
static int cnt_sync(gk_backend *b) {
    n_syncs++;
    in_syncs += in_step;
    xq_of = NULL;
    return count_ref->ops->sync(b);
}

static const gk_core_ops cnt_core = {
    .matmul = cnt_matmul,
    .embedding = cnt_embedding,
    .rmsnorm = cnt_rmsnorm,
    .rope = cnt_rope,
    .kv_store = cnt_kv_store,
    .attention = cnt_attention,
    .silu_mul = cnt_silu_mul,
    .add = cnt_add,
    .scale = cnt_scale,
    .softmax = cnt_softmax,
    .add_rmsnorm = cnt_add_rmsnorm,
    .rope_kv_store = cnt_rope_kv_store,
};

/* One decode step (token 1 after token 0) of the tiny preset with wtype weights on the counting
 * backend, with the fused ops or without them (as a backend that lacks them runs: the unfused
 * sequence); its logits into logits. */
static void count_decode_step(bool fused, int wtype, float *logits) {
    gk_core_ops core = cnt_core;
    if (!fused) core.add_rmsnorm = NULL, core.rope_kv_store = NULL;
    gk_ops ops = *count_ref->ops;
    ops.core = &core, ops.upload = cnt_upload, ops.download = cnt_download, ops.sync = cnt_sync;
    ops.step = cnt_step;
    gk_backend cb = *count_ref; /* the same ref state, counted */
    cb.ops = &ops;
    const llm_config *c = llm_preset("tiny");
    assert_non_null(c);
    llm_source src;
    llm_source_synthetic(&src, c, 7);
    llm_load_opts o = {.wtype = wtype, .kv_type = GK_F16, .ctx = 16, .max_t = 4, .max_logits = 4};
    llm_model m = {.be = &cb};
    gc_err err = {{0}};
    if (llm_load(&m, &o, 1, &src, &err)) fail_msg("%s", err.msg);
    int32_t tok[3] = {3, 5, 7};
    if (llm_forward(&m, tok, 1, 0, LLM_LOGITS_LAST, logits, &err)) fail_msg("%s", err.msg);
    n_launches = n_copies = n_syncs = 0;
    n_begun = n_ended = n_dropped = in_launches = in_copies = in_syncs = 0;
    if (llm_forward(&m, tok + 1, 1, 1, LLM_LOGITS_LAST, logits, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n_copies, 2); /* the token id up, the logits down (the one sync) */
    assert_int_equal(n_syncs, 1);
    /* the token is one step (one graph on cuda) holding every kernel, no copy or sync */
    assert_int_equal(n_begun, 1), assert_int_equal(n_ended, 1), assert_int_equal(n_dropped, 0);
    assert_int_equal(in_launches, n_launches);
    assert_int_equal(in_copies, 0), assert_int_equal(in_syncs, 0);
    /* a prompt of two tokens is not a step; a step whose matmul fails is dropped, not launched
     * (the decoded token's counts are kept for the caller) */
    const int64_t launches = n_launches;
    step_launches = in_launches;
    n_begun = 0;
    float *all = malloc((size_t)2 * (size_t)c->vocab * sizeof(float));
    assert_non_null(all);
    if (llm_forward(&m, tok, 2, 0, LLM_LOGITS_ALL, all, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n_begun, 0);
    fail_at_matmul = 5;
    assert_int_not_equal(llm_forward(&m, tok + 2, 1, 2, LLM_LOGITS_LAST, logits, &err), 0);
    assert_int_equal(n_begun, 1), assert_int_equal(n_dropped, 1), assert_int_equal(n_ended, 1);
    assert_false(in_step);
    fail_at_matmul = 0;
    n_launches = launches;
    free(all);
    llm_free(&m);
}

static void launches_per_decoded_token(void **s) {
    char why[256];
    count_ref = gk_backend_open("ref", NULL, why, sizeof why);
    if (!count_ref) fail_msg("ref backend: %s", why);
    const int L = llm_preset("tiny")->n_layers, L7 = llm_preset("llama2-7b")->n_layers;
    const int64_t vocab = llm_preset("tiny")->vocab;
    float *logits[2] = {malloc((size_t)vocab * sizeof(float)), malloc((size_t)vocab * sizeof(float))};
    assert_non_null(logits[0]), assert_non_null(logits[1]);
    /* Before (unfused ops, every matvec one kernel on F32 activations), per layer: rmsnorm,
     * Q/K/V matvecs, 2 ropes, 2 KV stores, attention (scan + combine), the output matvec,
     * residual add, rmsnorm, gate/up matvecs, silu_mul, down matvec, residual add = 18; then
     * the embedding, the final rmsnorm and the output head. */
    int_path = 0;
    count_decode_step(false, GK_Q4_0, logits[0]);
    printf("launches per decoded token, q4_0, before:            %3lld for %d layers (18 a layer + 3; "
           "llama2-7b %d)\n",
           (long long)n_launches, L, 18 * L7 + 3);
    assert_int_equal(n_launches, 18 * L + 3);
    /* Each residual add fused into the norm after it (add_rmsnorm: the attention residual with
     * the ffn norm, the ffn residual with the next layer's attention norm or the final norm;
     * layer 0's attention norm has no residual before it, a plain rmsnorm), RoPE of Q and K with
     * both cache stores (rope_kv_store). Per layer: norm, Q/K/V, rope_kv_store, attention x2,
     * output, add_rmsnorm, gate/up, silu_mul, down = 13; then the embedding, the final
     * add_rmsnorm and the head. The same logits, bit for bit (ref's fused ops are its unfused
     * sequence). */
    count_decode_step(true, GK_Q4_0, logits[1]);
    printf("launches per decoded token, q4_0, fused ops:         %3lld for %d layers (13 a layer + 3; "
           "llama2-7b %d)\n",
           (long long)n_launches, L, 13 * L7 + 3);
    assert_int_equal(n_launches, 13 * L + 3);
    assert_memory_equal(logits[0], logits[1], (size_t)vocab * sizeof(float));
    /* As backend.cu runs quantized weights now (the integer path): each matmul input quantised
     * once, shared by the matmuls after it that read the same x; the norms write theirs as they
     * go (Q, K, V; gate, up; the head), and so do silu_mul (down) and attention's combine (the
     * output projection): no quantisation kernel is left, 13 a layer + 3 (15 when only the norms
     * quantised). Float weights never quantise: 13 a layer + 3. */
    int_path = 1;
    count_decode_step(true, GK_Q4_0, logits[1]);
    printf("launches per decoded token, q4_0, fused, dp4a path:  %3lld for %d layers (13 a layer + 3; "
           "llama2-7b %d)\n",
           (long long)n_launches, L, 13 * L7 + 3);
    assert_int_equal(n_launches, 13 * L + 3);
    printf("decode step as a CUDA graph: 1 graph a token, %lld of its %lld launches inside, no copy or sync\n",
           (long long)step_launches, (long long)n_launches);
    count_decode_step(true, GK_F16, logits[1]);
    printf("launches per decoded token, f16,  fused:             %3lld for %d layers (13 a layer + 3)\n",
           (long long)n_launches, L);
    assert_int_equal(n_launches, 13 * L + 3);
    /* llama2-7b's 32 layers (the count depends only on the layer count) */
    assert_int_equal(18 * L7 + 3, 579);
    assert_int_equal(13 * L7 + 3, 419);
    free(logits[0]), free(logits[1]);
    gk_backend_close(count_ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_counts_hand_patterns),
        cmocka_unit_test(missing_barrier_is_caught),
        cmocka_unit_test(kernels_have_their_barriers),
        cmocka_unit_test(matvec_sector_efficiency),
        cmocka_unit_test(quantize_x8_by_hand),
        cmocka_unit_test(matvec_x8_matches_quantised_activations),
        cmocka_unit_test(dequant_sector_efficiency),
        cmocka_unit_test(attention_sector_efficiency),
        cmocka_unit_test(rowops_sector_efficiency),
        cmocka_unit_test(launches_per_decoded_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
