/* Kernel arguments and launch geometry of every op of the CUDA backend, in plain C shared by
 * the device launchers (kernels.cu) and the host emulation in tests: what the GPU runs and
 * what `make test` checks on the CPU are planned by the same functions. All pointers are
 * device pointers on the GPU and host pointers in emulation. */
#ifndef GK_PLAN_CUH
#define GK_PLAN_CUH
#include <stdint.h>
#include <stddef.h>
#include "kernels/quant.h"

typedef struct gk_grid {
    int64_t gx, gy, gz; /* blocks */
    int nt;             /* threads per block (a multiple of 32, <= 256) */
} gk_grid;

/* Elements per block of a quantized type the kernels read, 0 for float and unsupported types. */
static inline int gk_cu_qblock(int type) {
    switch (type) {
        case GK_Q8_0:
        case GK_Q4_0:
        case GK_Q4_1: return 32;
        case GK_Q4_K:
        case GK_Q6_K: return 256;
        default: return 0;
    }
}

/* ---- matmul ------------------------------------------------------------------------------- */
/* Custom matrix-vector kernels serve M <= GK_MV_MAX_M (decode, tiny batches) and any M when
 * cuBLAS is missing; larger M goes to cuBLAS (tensor cores). One warp per weight row; a
 * quantized row is read a tile of GK_MV_TILE 32-weight chunks at a time, the warp's lanes
 * copying adjacent 4-byte words of consecutive blocks into shared memory (whole sectors,
 * double-buffered: the next tile's loads are in flight while the current one is used), then
 * 8 lanes take a chunk, 4 consecutive weights a lane, so the activations are read as
 * adjacent float4s too. Float rows: lane j takes elements j, j+32, ... GK_MV_COLS columns per
 * pass so a dequantised weight is reused from registers. */
#define GK_MV_ROWS 4 /* warps (= rows) per block */
#define GK_MV_COLS 4 /* activation columns per block */
#define GK_MV_MAX_M 8
#define GK_MV_TILE 32 /* chunks a warp stages per step */
/* Words of a warp's stage: the largest tile (32 Q8_0 blocks, 1088 bytes) from the 32-byte
 * boundary below it (up to 30 bytes more) and the word that holds its last byte. */
#define GK_MV_STAGE_WORDS 284
#define GK_STAGE_REGS 9 /* words a lane carries: GK_MV_STAGE_WORDS / 32, rounded up */

typedef struct gk_mv_args {
    const uint8_t *w; /* N rows of row_bytes */
    size_t row_bytes;
    const float *x; /* {K, M} */
    float *y;       /* {N, M} */
    int64_t K, N, M;
    int type;
} gk_mv_args;

/* The integer path of the quantized matvec: the activations quantised once per matmul
 * (gk_body_quantize_x8) to 8-bit blocks of 32, xq = int8 q[M][K] then float d[M][K/32]
 * (x = d * q), and multiplied with dp4a. xq holds gk_mv_xq_bytes(K, M). */
typedef struct gk_mvx_args {
    gk_mv_args mv;
    const uint8_t *xq;
} gk_mvx_args;

typedef struct gk_xq_args {
    const float *x; /* {K, M} */
    uint8_t *xq;
    int64_t K, M;
} gk_xq_args;

static inline size_t gk_mv_xq_bytes(int64_t K, int64_t M) {
    return (size_t)(K * M) + (size_t)(K / 32 * M) * 4;
}

/* Kernels a decode matmul (M <= GK_MV_MAX_M) enqueues: quantized weights take the integer
 * path, which quantises x first unless the backend holds x quantised already (the previous
 * matmul read the same x and no other op ran since: Q, K, V; gate, up); float weights one. */
static inline int gk_plan_matvec_launches(int wtype, int x_quantised) {
    return gk_cu_qblock(wtype) && !x_quantised ? 2 : 1;
}

/* Prefill of quantized weights on the 8-bit tensor cores (sm_80+, mma.cuh): x quantised once
 * as the integer matvec's is, then a block computes a GK_MMA_BM-token x GK_MMA_BN-row tile of
 * y from 8-chunk (256-weight) steps of both staged in shared memory: the weights as their
 * blocks' words (gk_stage_load, one row at a time a warp), the activations as 128 adjacent
 * bytes a warp-step. Four warps, 2 x 2, each 32 tokens x 32 rows = 2 x 4 m16n8k32 tiles a
 * chunk, each tile's 32-bit sums scaled by the weight's and the token's block scales into F32.
 * It serves GK_MV_MAX_M < M <= GK_MMA_MAX_M (any M > GK_MV_MAX_M without cuBLAS); cuBLAS (F16
 * dequantised weights) takes larger M, where its larger tiles' reuse wins. Not tuned on a GPU yet:
 * scripts/gpu-check.sh times both at 128 and 512 tokens. */
#define GK_MMA_BM 64
#define GK_MMA_BN 64
#define GK_MMA_KC 8        /* chunks a step: one K-quant super-block */
#define GK_MMA_MAX_M 512
#define GK_MMA_W_WORDS 81  /* a row's stage: 8 Q8_0 blocks (272 bytes) from the 32-byte boundary
                              below (+28) and the word of the last byte; odd, so the 8 rows a
                              fragment load reads fall in different banks */
#define GK_MMA_X_WORDS 68  /* a token's 256 bytes + 16: 8 tokens of a fragment in 8 bank groups */

/* Token tiles along x, so the blocks the GPU starts together share one weight tile: the weight
 * is read from memory about once, the 8-bit activations (K·M bytes, a few MB) again from L2. */
static inline gk_grid gk_plan_mma_x8(int64_t N, int64_t M) {
    gk_grid g = {(M + GK_MMA_BM - 1) / GK_MMA_BM, (N + GK_MMA_BN - 1) / GK_MMA_BN, 1, 128};
    return g;
}

/* Which kernels the default matmul form takes, for weights of wtype, m columns, on compute
 * capability cc (·10), with or without cuBLAS. */
enum { GK_PATH_MATVEC, GK_PATH_MATVEC_X8, GK_PATH_MMA_X8, GK_PATH_GEMM };
static inline int gk_plan_matmul_path(int wtype, int64_t m, int have_blas, int cc) {
    const int quant = gk_cu_qblock(wtype) != 0;
    if (quant && m > GK_MV_MAX_M && cc >= 80 && (m <= GK_MMA_MAX_M || !have_blas)) return GK_PATH_MMA_X8;
    if (have_blas && m > GK_MV_MAX_M && !(wtype == GK_BF16 && cc < 80)) return GK_PATH_GEMM;
    return quant ? GK_PATH_MATVEC_X8 : GK_PATH_MATVEC;
}

/* One warp per 32-block of activations, 8 a block of threads. */
static inline gk_grid gk_plan_quantize_x8(int64_t K, int64_t M) {
    gk_grid g = {(K / 32 * M + 7) / 8, 1, 1, 256};
    return g;
}

static inline gk_grid gk_plan_matvec(int64_t N, int64_t M) {
    gk_grid g = {(N + GK_MV_ROWS - 1) / GK_MV_ROWS, (M + GK_MV_COLS - 1) / GK_MV_COLS, 1, 32 * GK_MV_ROWS};
    return g;
}

/* Dequantise a weight {K, N} to F16 rows (for the cuBLAS path): block x takes GK_DQ_ROWS
 * rows (a warp each), block y a tile of GK_MV_TILE chunks (1024 elements) of them, staged
 * like the matvec's, so loads and the 2-byte stores are both adjacent across lanes. */
#define GK_DQ_ROWS 8
typedef struct gk_dq_args {
    const uint8_t *w;
    size_t row_bytes;
    uint16_t *out; /* {K, N} F16 */
    int64_t K, N;
    int type;
} gk_dq_args;

static inline gk_grid gk_plan_dequant(int64_t K, int64_t N) {
    const int64_t tiles = (K + 32 * GK_MV_TILE - 1) / (32 * GK_MV_TILE);
    gk_grid g = {(N + GK_DQ_ROWS - 1) / GK_DQ_ROWS, tiles, 1, 32 * GK_DQ_ROWS};
    return g;
}

/* F32 -> F16 or BF16 (activations for cuBLAS). */
typedef struct gk_cvt_args {
    const float *x;
    uint16_t *out;
    int64_t n;
    int bf16;
} gk_cvt_args;

/* Column-major GEMM call that computes Y{N,M} = X{K,M} · Wᵀ with W{K,N}: cuBLAS sees W as a
 * K×N column-major matrix (lda = K) used transposed, X as K×M (ldb = K), Y as N×M (ldc = N). */
typedef struct gk_gemm_plan {
    int transa, transb; /* 1 = transposed */
    int m, n, k;
    int lda, ldb, ldc;
} gk_gemm_plan;

static inline gk_gemm_plan gk_plan_gemm(int64_t K, int64_t N, int64_t M) {
    gk_gemm_plan p = {1, 0, (int)N, (int)M, (int)K, (int)K, (int)K, (int)N};
    return p;
}

/* ---- row ops ------------------------------------------------------------------------------ */
typedef struct gk_row_args { /* rmsnorm, softmax: one block per row of x{dim, T} */
    const float *x;
    const float *w; /* rmsnorm weight, NULL for softmax */
    float *y;
    int64_t dim;
    float eps;
    uint8_t *xq; /* rmsnorm: y also quantised here (gk_mv_xq_bytes(dim, T)), or NULL */
    int64_t T;
} gk_row_args;

/* A norm at decode also writes its output quantised for the integer matvec (the matmuls after
 * it, Q/K/V or gate/up or the head, then read it without a quantisation kernel of their own). */
static inline int gk_plan_norm_quantises(int64_t dim, int64_t T) { return T <= GK_MV_MAX_M && dim % 32 == 0; }

static inline gk_grid gk_plan_rows(int64_t T) {
    gk_grid g = {T, 1, 1, 256};
    return g;
}

typedef struct gk_ew_args { /* silu_mul, add, scale: y = f(a, c) over n elements */
    const float *a, *c;
    float *y;
    int64_t n;
    float s;
    int op;      /* GK_EW_* */
    uint8_t *xq; /* NULL, or y also quantised there as gk_body_quantize_x8 writes it (n a multiple of 32;
                    q bytes at xq + i, block scales at (float *)(xq + n) + i/32) */
} gk_ew_args;
enum { GK_EW_SILU_MUL = 0, GK_EW_ADD = 1, GK_EW_SCALE = 2 };

static inline gk_grid gk_plan_elems(int64_t n) {
    gk_grid g = {(n + 255) / 256, 1, 1, 256};
    return g;
}

typedef struct gk_rope_args {
    float *x; /* {n_head*head_dim, T} */
    int n_head, head_dim, pos0;
    int64_t T;
    float base;
    const float *ff; /* device: head_dim/2 frequency factors, or NULL (all 1) */
} gk_rope_args;

static inline gk_grid gk_plan_rope(int n_head, int head_dim, int64_t T) {
    int64_t pairs = (int64_t)n_head * (head_dim / 2);
    gk_grid g = {(pairs + 127) / 128, T, 1, 128};
    return g;
}

typedef struct gk_emb_args { /* y{dim, T} = table rows ids[t] */
    const uint8_t *table;
    size_t row_bytes;
    const int32_t *ids;
    float *y;
    int64_t dim, vocab, T;
    int type;
    int *err; /* set to 1 when an id is out of range (row written as 0) */
} gk_emb_args;

#define GK_EMB_WARPS 4 /* tiles (warps) per embedding block */
static inline gk_grid gk_plan_embedding(int64_t dim, int64_t T) {
    const int64_t tiles = ((dim + 31) / 32 + GK_MV_TILE - 1) / GK_MV_TILE;
    gk_grid g = {(tiles + GK_EMB_WARPS - 1) / GK_EMB_WARPS, T, 1, 32 * GK_EMB_WARPS};
    return g;
}

typedef struct gk_kvs_args { /* cache rows pos0.. = src rows, converted */
    uint8_t *cache;
    size_t row_bytes;
    const float *src; /* {width, T} */
    int64_t width, T;
    int pos0, type;
} gk_kvs_args;

static inline gk_grid gk_plan_kv_store(int64_t width, int64_t T) {
    gk_grid g = {(width + 127) / 128, T, 1, 128};
    return g;
}

/* The fused ops. add_rmsnorm: x += r, then y = rmsnorm(x) · w, one block per row (gk_plan_rows). */
typedef struct gk_arn_args {
    float *x;       /* {dim, T}, updated */
    const float *r; /* the residual, {dim, T} */
    const float *w; /* {dim} */
    float *y;       /* {dim, T}; may be r */
    int64_t dim;
    float eps;
    uint8_t *xq; /* y also quantised here, or NULL (as gk_row_args) */
    int64_t T;
} gk_arn_args;

/* rope_kv_store: one launch over three ranges of blocks of 128 threads (blockIdx.x), token t =
 * blockIdx.y: Q's pairs (rope's layout), then K's elements (each turned with its pair's other
 * element and stored), then V's elements (stored; kv_store's layout). */
typedef struct gk_rkv_args {
    float *q;           /* {n_head*head_dim, T}, turned in place */
    const float *k, *v; /* {k_width, T}, {v_width, T} */
    uint8_t *kc, *vc;   /* cache rows of kc_row_bytes, vc_row_bytes */
    size_t kc_row_bytes, vc_row_bytes;
    int kc_type, vc_type;
    int n_head, n_kv_head, head_dim, pos0;
    int64_t T, v_width; /* k_width = n_kv_head * head_dim */
    float base;
    const float *ff; /* head_dim/2 frequency factors, or NULL */
} gk_rkv_args;

/* Its block ranges, which the body reads too (hence callable on the device). */
#ifdef __CUDACC__
#define GK_PLAN_HD static inline __host__ __device__
#else
#define GK_PLAN_HD static inline
#endif
GK_PLAN_HD int64_t gk_rkv_q_blocks(const gk_rkv_args *a) {
    return ((int64_t)a->n_head * (a->head_dim / 2) + 127) / 128;
}
GK_PLAN_HD int64_t gk_rkv_k_blocks(const gk_rkv_args *a) {
    return ((int64_t)a->n_kv_head * a->head_dim + 127) / 128;
}
static inline gk_grid gk_plan_rope_kv_store(const gk_rkv_args *a) {
    gk_grid g = {gk_rkv_q_blocks(a) + gk_rkv_k_blocks(a) + (a->v_width + 127) / 128, a->T, 1, 128};
    return g;
}

/* ---- attention ---------------------------------------------------------------------------- */
/* Decode (few query rows): one block of GK_AT_SPLIT threads per (split of GK_AT_SPLIT
 * positions, head, query row), one thread per key; partial (max, sum, o) per split, then a
 * combine kernel. Prefill: FlashAttention-style tiles of GK_AT_BR queries × GK_AT_BC keys with
 * an online softmax, so no score matrix larger than a tile exists. head_dim <= GK_AT_DMAX. */
#define GK_AT_SPLIT 128
#define GK_AT_DMAX 256
#define GK_AT_BR 16
#define GK_AT_BC 16
#define GK_AT_DECODE_MAX_T 8

typedef struct gk_attn_args {
    const float *q; /* {n_head*hd, T} */
    float *out;
    const uint8_t *k, *v; /* caches {n_kv*hd, ctx} */
    size_t kv_row_bytes;
    float *part; /* decode partials: [T][n_head][n_split][hd + 2] */
    int kv_type, n_head, n_kv_head, head_dim, pos0, n_split;
    int64_t T;
    float scale;
    uint8_t *xq; /* NULL, or (decode, gk_plan_attn_quantises) out also quantised there as
                    gk_body_quantize_x8 writes it for {n_head*hd, T} */
    int mma;     /* prefill on the tensor cores (gk_plan_attn_mma) */
} gk_attn_args;

/* Few query rows scan the cache per row (parallel over the sequence); many share tiles. */
static inline int gk_attn_use_decode(int64_t T) { return T <= GK_AT_DECODE_MAX_T; }
static inline int gk_attn_n_split(int pos0, int64_t T) {
    return (int)((pos0 + T + GK_AT_SPLIT - 1) / GK_AT_SPLIT);
}
static inline gk_grid gk_plan_attn_decode(int n_split, int n_head, int64_t T) {
    gk_grid g = {n_split, n_head, T, GK_AT_SPLIT};
    return g;
}
#define GK_AT_COMBINE_NT 128 /* threads of a combine block: one output element each up to 128 */
static inline gk_grid gk_plan_attn_combine(int n_head, int64_t T) {
    gk_grid g = {n_head, T, 1, GK_AT_COMBINE_NT};
    return g;
}
/* At decode the combine also writes its output quantised for the output projection's integer
 * matvec (as the norms do theirs) where each of its blocks holds whole 32-blocks, one element a
 * thread. */
static inline int gk_plan_attn_quantises(int head_dim, int64_t T) {
    return gk_attn_use_decode(T) && T <= GK_MV_MAX_M && head_dim % 32 == 0 && head_dim <= GK_AT_COMBINE_NT;
}
static inline gk_grid gk_plan_attn_prefill(int n_head, int64_t T) {
    gk_grid g = {(T + GK_AT_BR - 1) / GK_AT_BR, n_head, 1, 128};
    return g;
}
/* Prefill on the F16 tensor cores (attention_mma.cuh): blocks of GK_TCA_BR query rows (a warp
 * per 16), key tiles of GK_TCA_BC, for F16 and Q8_0 caches (an F32 cache keeps the scalar
 * tiles), head_dim a multiple of 16 up to GK_TCA_DMAX, sm_80+. Shared rows padded so the 8
 * rows a fragment load reads fall in 8 different bank groups. */
#define GK_TCA_BR 64
#define GK_TCA_BC 32
#define GK_TCA_DMAX 128
#define GK_TCA_QW (GK_TCA_DMAX / 2 + 4)  /* words of a query or key row: dimension pairs */
#define GK_TCA_VW (GK_TCA_BC / 2 + 4)    /* words of a value column: key pairs */
static inline int gk_plan_attn_mma(int kv_type, int head_dim, int64_t T, int cc) {
    return !gk_attn_use_decode(T) && cc >= 80 && head_dim % 16 == 0 && head_dim <= GK_TCA_DMAX &&
           (kv_type == GK_F16 || kv_type == GK_Q8_0);
}
static inline gk_grid gk_plan_attn_prefill_mma(int n_head, int64_t T) {
    gk_grid g = {(T + GK_TCA_BR - 1) / GK_TCA_BR, n_head, 1, 128};
    return g;
}
/* Kernels one attention call enqueues (gk_cu_attention): the split scan and its combine on
 * the decode path, one tiled kernel for prefill. */
static inline int gk_plan_attn_launches(int64_t T) { return gk_attn_use_decode(T) ? 2 : 1; }
static inline size_t gk_attn_part_floats(int n_split, int n_head, int head_dim, int64_t T) {
    return (size_t)T * (size_t)n_head * (size_t)n_split * (size_t)(head_dim + 2);
}

#endif
