/* Kernel arguments and launch geometry of the train family (backend.h's gk_train_ops) and of
 * the matmul forms training uses (dX = dY·W, dW += dYᵀ·X, a quantised W through F32 panels),
 * in plain C shared by the launchers (kernels.cu), the op table (backend.cu) and the host
 * emulation in tests, as plan.cuh is for the core family. Pointers are device pointers on the
 * GPU and host pointers in emulation.
 *
 * Determinism: every op here gives the same bits on every run. No float atomics: the
 * reductions (rmsnorm's dw, the sum of squares, attention's dk/dv over the query heads of a
 * group) run in a fixed order, and embedding_backward sorts (id, token) pairs and adds each
 * table row's tokens in token order, so its result equals the ref oracle's bit for bit. */
#ifndef GK_PLAN_TRAIN_CUH
#define GK_PLAN_TRAIN_CUH
#include <stdint.h>
#include <stddef.h>
#include "kernels/cuda/plan.cuh"

/* The few plan functions the bodies call too. */
#ifdef __CUDACC__
#define GK_PLAN_HD static inline __host__ __device__
#else
#define GK_PLAN_HD static inline
#endif

/* The error word's codes (gk_emb_args.err and these ops' err): the first raised since the last
 * sync point is the one reported there. */
enum { GK_ERR_EMBEDDING_ID = 1, GK_ERR_EMB_BWD_ID = 2, GK_ERR_CE_TARGET = 3 };

/* ---- elementwise: fill, silu_mul_backward, adamw (a thread per element, 256 a block) ------- */
typedef struct gk_fill_args {
    float *t;
    int64_t n;
    float value;
} gk_fill_args;

typedef struct gk_smb_args { /* dgate = dy·up·silu'(gate), dup = dy·silu(gate) */
    const float *dy, *gate, *up;
    float *dgate, *dup; /* dgate may equal dy */
    int64_t n;
} gk_smb_args;

/* AdamW with the bias corrections folded in on the host (inv_c1 = 1/(1-β1^step), same for β2). */
typedef struct gk_adamw_args {
    float *w, *m, *v;
    const float *g;
    int64_t n;
    float lr, beta1, beta2, eps, wd, grad_scale, inv_c1, inv_c2;
} gk_adamw_args;

/* ---- sum of squares: partial sums in double per block, then one block adds them in order --- */
#define GK_SS_MAX_BLOCKS 512
typedef struct gk_ss_args {
    const float *x;
    int64_t n;
    double *part; /* [GK_SS_MAX_BLOCKS] */
    int nblocks;  /* blocks of the first pass (gk_ss_blocks) */
    float *out;   /* {1}: out += the sum (second pass) */
} gk_ss_args;

static inline int gk_ss_blocks(int64_t n) {
    const int64_t b = (n + 4 * 256 - 1) / (4 * 256); /* at least 4 elements a thread */
    return b < 1 ? 1 : b > GK_SS_MAX_BLOCKS ? GK_SS_MAX_BLOCKS : (int)b;
}

/* ---- rmsnorm backward: rows (dx and each row's 1/rms), dw partials by row groups, dw sum ---- */
#define GK_RB_ROWS 64 /* rows a dw partial sums */
typedef struct gk_rmsb_args {
    float *dx, *dw;
    const float *dy, *x, *w;
    int64_t dim, T;
    float eps;
    float *rstd; /* scratch [T] */
    float *part; /* scratch [gk_rb_groups(T)][dim] */
} gk_rmsb_args;

GK_PLAN_HD int64_t gk_rb_groups(int64_t T) { return (T + GK_RB_ROWS - 1) / GK_RB_ROWS; }
static inline gk_grid gk_plan_rb_cols(int64_t dim, int64_t groups) { /* partials: (column tile, group) */
    gk_grid g = {(dim + 255) / 256, groups, 1, 256};
    return g;
}

/* ---- embedding backward ----------------------------------------------------------------------
 * Tokens go by in chunks of up to GK_EB_CHUNK: one block sorts the chunk's (id, token) pairs
 * (bitonic, in shared memory), then block (column tile, i) of the scatter takes sorted entry i
 * when it starts a run of one id and adds the run's dy rows to the table row in token order.
 * Chunks run one after the other, so every row receives its tokens in increasing order. */
#define GK_EB_CHUNK 2048
typedef struct gk_embb_args {
    float *dtable; /* {dim, vocab} */
    const float *dy; /* {dim, T} */
    const int32_t *ids;
    int64_t dim, vocab;
    int64_t t0, n;  /* this chunk: tokens t0 .. t0+n-1 */
    uint32_t *sorted; /* scratch [2·GK_EB_CHUNK]: (id, token) pairs, sorted */
    int *err;
} gk_embb_args;

GK_PLAN_HD int gk_eb_pow2(int64_t n) {
    int p = 1;
    while (p < n) p *= 2;
    return p;
}
static inline gk_grid gk_plan_eb_scatter(int64_t dim, int64_t n) {
    gk_grid g = {(dim + 255) / 256, n, 1, 256};
    return g;
}

/* ---- cross-entropy: one block per row ---------------------------------------------------- */
typedef struct gk_ce_args {
    const float *logits; /* {vocab, T} */
    const int32_t *targets;
    float *losses;  /* {T} */
    float *dlogits; /* NULL: the loss only; may equal logits */
    int64_t vocab;
    float scale;
    int *err;
} gk_ce_args;

/* ---- attention backward -------------------------------------------------------------------
 * Two kernels, neither holding more than a tile of scores. The query side, block (tile of
 * GK_AB_BQ query rows, head): a pass over the key tiles finds each row's max, sum and
 * D = Σ p·(do·v) online (the online softmax applied to the scalar do·v), a second pass
 * recomputes p and dp = do·v and accumulates dq = scale·Σ p(dp − D)·k; the rows' logsumexp and
 * D go to scratch. The key side, block (tile of GK_AB_BK keys, KV head): for every query head
 * of the group and every query tile at or after the keys, p and ds = p(dp − D) again, and
 * dv += pᵀ·do, dk += scale·dsᵀ·q in registers, written once. head_dim <= GK_AB_DMAX. */
#define GK_AB_BQ 16
#define GK_AB_BK 16
#define GK_AB_DMAX 128
#define GK_AB_KSTRIDE (GK_AB_DMAX + 1)
#define GK_AB_OREG (GK_AB_DMAX / 8) /* values a thread accumulates: 128 threads = 16 rows × 8 */
typedef struct gk_attb_args {
    float *dq, *dk, *dv;
    const float *dout, *q, *k, *v;
    float *stats; /* scratch [T][n_head][2]: logsumexp, D */
    int n_head, n_kv_head, head_dim;
    int64_t T;
    float scale;
} gk_attb_args;

static inline gk_grid gk_plan_attb_q(int n_head, int64_t T) {
    gk_grid g = {(T + GK_AB_BQ - 1) / GK_AB_BQ, n_head, 1, 128};
    return g;
}
static inline gk_grid gk_plan_attb_kv(int n_kv_head, int64_t T) {
    gk_grid g = {(T + GK_AB_BK - 1) / GK_AB_BK, n_kv_head, 1, 128};
    return g;
}

/* ---- matmul in any form on cuBLAS ---------------------------------------------------------
 * Y{N, M} = alpha·op(X)·op(W)ᵀ + beta·Y (backend.h) as one column-major GEMM: row-major Y is a
 * column-major N×M matrix, so Yc = alpha·op(W)·op(X)ᵀ + beta·Yc with W seen as its transpose
 * (w_ne0 × rows, lda = w_ne0) and X likewise (ldb = x_ne0): transa = !trans_w, transb = trans_x.
 *
 * A weight that is not F32 is dequantised to F32 panels of W's rows, at most GK_PANEL_BYTES
 * each, one GEMM per panel: without trans_w a panel is a slice of Y's columns (n0 ..); with
 * trans_w (dX = dY·W: the contraction runs across W's rows) it is a slice of the contraction,
 * the first panel taking the caller's beta and the others beta = 1. F32 panels, not F16: the
 * backward products carry gradients, which F16's range would flush. */
#define GK_PANEL_BYTES ((size_t)32 << 20)

typedef struct gk_gemm_call {
    int transa, transb;
    int64_t m, n, k, lda, ldb, ldc;
    int64_t a_off, b_off, c_off; /* element offsets into the panel (A), X (B) and Y (C) */
    int beta_one;                /* 1: beta = 1 (a later panel of the contraction) */
} gk_gemm_call;

/* W rows per panel for rows of w_ne0 F32 elements (all rows when they fit in GK_PANEL_BYTES). */
static inline int64_t gk_panel_rows(int64_t w_ne0, int64_t w_rows) {
    int64_t p = (int64_t)(GK_PANEL_BYTES / ((size_t)w_ne0 * sizeof(float)));
    if (p < 1) p = 1;
    return p < w_rows ? p : w_rows;
}

/* The GEMM of W rows [r0, r0 + pr) (the whole of W: r0 = 0, pr = its rows), the panel's A at
 * its first element. m, n, k: Y's M×N and the contraction, as gk_mm_dims. */
static inline gk_gemm_call gk_plan_gemm_form(int trans_x, int trans_w, int64_t x_ne0, int64_t w_ne0, int64_t M,
                                             int64_t N, int64_t K, int64_t r0, int64_t pr) {
    gk_gemm_call c;
    c.transa = !trans_w;
    c.transb = trans_x;
    c.lda = w_ne0;
    c.ldb = x_ne0;
    c.ldc = N;
    c.a_off = 0;
    c.n = M;
    if (trans_w) { /* W's rows are the contraction: rows r0 .. of op(X)ᵀ */
        c.m = N;
        c.k = pr;
        c.b_off = trans_x ? r0 * x_ne0 : r0;
        c.c_off = 0;
        c.beta_one = r0 > 0;
    } else { /* W's rows are Y's columns */
        c.m = pr;
        c.k = K;
        c.b_off = 0;
        c.c_off = r0;
        c.beta_one = 0;
    }
    return c;
}

/* F32 rows of any weight type, for the panels: like gk_dq_args, F32 out. */
typedef struct gk_dq32_args {
    const uint8_t *w;
    size_t row_bytes;
    float *out; /* {K, N} F32 */
    int64_t K, N;
    int type;
} gk_dq32_args;

#endif
