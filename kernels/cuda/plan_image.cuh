/* Kernel arguments and launch geometry of the image family (backend.h's gk_image_ops), in plain
 * C shared by the launchers (kernels.cu), the op table (backend.cu) and the host emulation in
 * tests, as plan.cuh is for the core family. Pointers are device pointers on the GPU and host
 * pointers in emulation. Images are {W, H, C, N} (width innermost), tokens {C, T, N}.
 *
 * Determinism: every op gives the same bits on every run. No atomics: group_norm's statistics
 * are one block per (image, group) summing in double in a fixed order, layer_norm one warp per
 * row, full_attention one block per (query tile, head, image) with the keys in order, and
 * conv2d's GEMMs are cuBLAS calls on fixed panels (cuBLAS picks the same algorithm for the same
 * shapes on one device and library). */
#ifndef GK_PLAN_IMAGE_CUH
#define GK_PLAN_IMAGE_CUH
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "kernels/cuda/plan.cuh"

#ifdef __CUDACC__
#define GK_IPLAN_HD static inline __host__ __device__
#else
#define GK_IPLAN_HD static inline
#endif

/* ---- elementwise: gelu, gelu_quick, silu; geglu; upsample2x; concat; add_channel ---------- */
enum { GK_IU_GELU = 0, GK_IU_GELU_QUICK = 1, GK_IU_SILU = 2 };
typedef struct gk_iu_args { /* y = f(x) over n elements; y may be x */
    const float *x;
    float *y;
    int64_t n;
    int op; /* GK_IU_* */
} gk_iu_args;

typedef struct gk_geglu_args { /* y{n, rows} = x[0:n] · gelu(x[n:2n]) per row of x{2n, rows} */
    const float *x;
    float *y;
    int64_t n, rows;
} gk_geglu_args;

typedef struct gk_up_args { /* y{2W, 2H, planes} = x{W, H, planes} nearest */
    const float *x;
    float *y;
    int64_t W, H, planes;
} gk_up_args;

typedef struct gk_cat_args { /* y{plane, ca + cc, N}: a's channels, then c's */
    const float *a, *c;
    float *y;
    int64_t plane, ca, cc, N;
} gk_cat_args;

typedef struct gk_addc_args { /* y[n][c][p] = x[n][c][p] + v[(per_image ? n·C : 0) + c]; y may be x */
    const float *x, *v;
    float *y;
    int64_t plane, C, N;
    int per_image;
} gk_addc_args;

/* ---- timestep embedding: a thread per (timestep, frequency) ------------------------------ */
typedef struct gk_temb_args {
    const float *t; /* {N} */
    float *y;       /* {dim, N} */
    int64_t N;
    int dim;
    float max_period;
} gk_temb_args;

static inline gk_grid gk_plan_temb(int dim, int64_t N) {
    gk_grid g = {(dim / 2 + 127) / 128, N, 1, 128};
    return g;
}

/* ---- cont: a strided F32 view copied contiguous ------------------------------------------
 * Generic: a thread per output element, its source at Σ i_k·nb[k]. Transposed: where the
 * view's element-adjacent dimension (nb[j] = 4) is j > 0 (the UNet's pixels ↔ tokens), tiles of
 * GK_CT_TILE × GK_CT_TILE (i0, i_j) go through shared memory, read along j and written along
 * 0, so both sides are adjacent floats across lanes; the other two dimensions are grid y, z. */
#define GK_CT_TILE 32
typedef struct gk_cont_args {
    const float *x; /* the view's first element */
    float *y;
    int64_t ne[4];
    int64_t st[4]; /* the view's strides in elements */
    int j;         /* the transposed path's source-adjacent dimension (1..3); 0: generic */
    int o1, o2;    /* the transposed path: the other two dimensions (grid y, z) */
    /* the transposed path's scalars (gk_plan_cont_args): extents of 0 and j, x's strides of 0,
     * o1, o2 and y's of j, o1, o2, in elements */
    int64_t ne0, nej, xs0, xs1, xs2, ys_j, ys1, ys2;
} gk_cont_args;

/* The transposed path applies: a dimension j > 0 of stride 1 (more than one element) while
 * dimension 0's is not, and the other two dimensions within the grid's y and z. */
static inline int gk_cont_transposed_dim(const int64_t ne[4], const int64_t st[4], int *o1, int *o2) {
    if (st[0] == 1 && ne[0] > 1) return 0;
    for (int j = 1; j < 4; j++) {
        if (st[j] != 1 || ne[j] < 2) continue;
        int o[2], k = 0;
        for (int d = 1; d < 4; d++)
            if (d != j) o[k++] = d;
        if (ne[o[0]] > 65535 || ne[o[1]] > 65535) return 0;
        *o1 = o[0], *o2 = o[1];
        return j;
    }
    return 0;
}

/* The arguments of cont for x's view (ne, strides st in elements; 0 for one element). */
static inline gk_cont_args gk_plan_cont_args(const float *x, float *y, const int64_t ne[4], const int64_t st[4]) {
    gk_cont_args a;
    memset(&a, 0, sizeof a);
    a.x = x, a.y = y;
    for (int i = 0; i < 4; i++) a.ne[i] = ne[i], a.st[i] = st[i];
    a.j = gk_cont_transposed_dim(ne, st, &a.o1, &a.o2);
    if (a.j) {
        const int64_t ys[4] = {1, ne[0], ne[0] * ne[1], ne[0] * ne[1] * ne[2]};
        a.ne0 = ne[0], a.nej = ne[a.j], a.xs0 = st[0], a.xs1 = st[a.o1], a.xs2 = st[a.o2];
        a.ys_j = ys[a.j], a.ys1 = ys[a.o1], a.ys2 = ys[a.o2];
    }
    return a;
}

static inline gk_grid gk_plan_cont(const gk_cont_args *a) {
    if (!a->j) {
        gk_grid g = {(a->ne[0] * a->ne[1] * a->ne[2] * a->ne[3] + 255) / 256, 1, 1, 256};
        return g;
    }
    const int64_t t0 = (a->ne[0] + GK_CT_TILE - 1) / GK_CT_TILE, tj = (a->ne[a->j] + GK_CT_TILE - 1) / GK_CT_TILE;
    gk_grid g = {t0 * tj, a->ne[a->o1], a->ne[a->o2], 256};
    return g;
}

/* ---- group norm: partial statistics, their combination, an elementwise pass --------------
 * Block (chunk c, b = n·G + g) takes up to GK_GN_CHUNK of its group's cg·plane contiguous values
 * and writes their count, mean and M2 = Σ (x − mean)² (two passes, in double: a thread's strided
 * share, then a tree over the block); one thread per group then combines its chunks in order
 * (Chan et al.'s pairwise update, in double) into stats[2b] = mean, stats[2b + 1] =
 * 1/sqrt(var + eps); the apply pass is a thread per element. Three launches; a group spread
 * over many blocks (the VAE's 512 × 512 groups hold 4 × 262,144 values). */
#define GK_GN_CHUNK 16384
typedef struct gk_gn_args {
    const float *x, *gamma, *beta;
    float *y;
    double *part; /* scratch [3·N·G·chunks] */
    float *stats; /* scratch [2·N·G] */
    int64_t plane, C, N;
    int groups;
    float eps;
} gk_gn_args;

GK_IPLAN_HD int64_t gk_gn_chunks(int64_t cnt) { return (cnt + GK_GN_CHUNK - 1) / GK_GN_CHUNK; }
/* Scratch bytes: the partials (doubles), then the statistics. */
static inline size_t gk_gn_part_bytes(int64_t C, int groups, int64_t plane, int64_t N) {
    return (size_t)(3 * N * groups * gk_gn_chunks(C / groups * plane)) * sizeof(double);
}
static inline gk_grid gk_plan_gn_part(int64_t C, int groups, int64_t plane, int64_t N) {
    gk_grid g = {gk_gn_chunks(C / groups * plane), N * groups, 1, 256};
    return g;
}

/* ---- layer norm: one warp per row, GK_LN_ROWS rows a block -------------------------------- */
#define GK_LN_ROWS 8
typedef struct gk_ln_args {
    const float *x, *gamma, *beta;
    float *y;
    int64_t dim, rows;
    float eps;
} gk_ln_args;

static inline gk_grid gk_plan_ln(int64_t rows) {
    gk_grid g = {(rows + GK_LN_ROWS - 1) / GK_LN_ROWS, 1, 1, 32 * GK_LN_ROWS};
    return g;
}

/* ---- full attention ------------------------------------------------------------------------
 * Block (query tile, head, image), 128 threads: the tile's queries (scaled) stay in shared
 * memory; keys go by in tiles whose scores are a tile only, with an online softmax per row
 * (max, sum and the output rescaled as a tile raises the max), then the same tile of values.
 * Tile sizes follow head_dim so the shared arrays stay within 48 KiB: GK_FA_BR (16) query rows,
 * 8 above 256 dimensions; key tiles of up to GK_FA_BC (32) keys within GK_FA_KV floats (head_dim
 * 512, the VAE's single head: 12 keys). Thread t owns row t / (128 / rows) and every
 * (128 / rows)-th dimension of it. head_dim <= GK_FA_DMAX. */
#define GK_FA_DMAX 512
#define GK_FA_BR 16
#define GK_FA_BC 32
#define GK_FA_QS 4096 /* floats of queries: rows × head_dim */
#define GK_FA_KV 6400 /* floats of a key/value tile: keys × (head_dim + 1) */
#define GK_FA_OREG 32 /* output values a thread accumulates: head_dim / (128 / rows) */
typedef struct gk_fa_args {
    const float *q, *k, *v; /* q{d, tq, N}, k and v {d, tk, N}, d = n_head·head_dim */
    float *out;
    int64_t tq, tk;
    int n_head, head_dim;
    float scale;
} gk_fa_args;

GK_IPLAN_HD int gk_fa_rows(int head_dim) { return head_dim > 256 ? 8 : GK_FA_BR; }
GK_IPLAN_HD int gk_fa_keys(int head_dim) {
    const int k = GK_FA_KV / (head_dim + 1);
    return k < GK_FA_BC ? k : GK_FA_BC;
}
static inline gk_grid gk_plan_fa(int64_t tq, int n_head, int64_t batch, int head_dim) {
    const int br = gk_fa_rows(head_dim);
    gk_grid g = {(tq + br - 1) / br, n_head, batch, 128};
    return g;
}

/* ---- conv2d: an implicit GEMM on cuBLAS ----------------------------------------------------
 * Per image n, Y_n (Cout rows of P = Ho·Wo pixels, the output layout itself) = Wk · col_n with
 * Wk the kernel as it is stored ({kw, kh, Cin, Cout}: Cout rows of K = Cin·kh·kw) and col_n[k][p]
 * the input tap k of output pixel p (zero in the padding). Column-major, as cuBLAS sees it:
 * Yc (P × Cout, ld P) = colc (P × K) · Wkc (K × Cout, ld K), no transposes.
 *
 * col is never built whole: panels of at most GK_CONV_PANEL_BYTES (np pixels × K taps, in the
 * GEMM's input type) are written by the im2col kernel, each multiplied before the next
 * overwrites it (one stream: in order). A 1×1 stride-1 unpadded convolution with an F32 GEMM
 * reads x as it is (colc is x_n, ld P). The GEMM's inputs: F32 for F32 kernels; F16 kernels as
 * they are with the activations rounded to F16 (F32 accumulation, tensor cores: the rounding
 * gk_cuda_conv2d_act_type() reports); BF16 kernels by F32 panels of their rows (at most
 * GK_CONV_PANEL_BYTES, dequantised) with F32 activations: BF16 activations (u = 2^-8) put
 * sd-tiny's guided step 2.2e-2 off ref in emulation, past the image workload's 5e-3 for float
 * weights, where F16's stay at 4.2e-3 (SD 1.5's at 2.9e-3). The bias is added after the GEMMs
 * (add_channel's kernel). */
#define GK_CONV_PANEL_BYTES ((size_t)32 << 20)

typedef struct gk_conv_plan {
    int64_t W, H, cin, N, kw, kh, cout, wo, ho, P, K;
    int stride, pad;
    int gemm_type;  /* GK_F32, GK_F16: both GEMM inputs */
    int direct;     /* 1: x is the column matrix (no im2col) */
    int w_panels;   /* 1: the kernel dequantised to F32 panels of wrows output channels */
    int64_t np;     /* pixels per column panel */
    int64_t wrows;  /* output channels per GEMM (all of them unless w_panels) */
} gk_conv_plan;

static inline gk_conv_plan gk_plan_conv2d(int64_t W, int64_t H, int64_t cin, int64_t N, int64_t kw, int64_t kh,
                                          int64_t cout, int stride, int pad, int wtype) {
    gk_conv_plan p;
    p.W = W, p.H = H, p.cin = cin, p.N = N, p.kw = kw, p.kh = kh, p.cout = cout, p.stride = stride, p.pad = pad;
    p.wo = (W + 2 * pad - kw) / stride + 1;
    p.ho = (H + 2 * pad - kh) / stride + 1;
    p.P = p.wo * p.ho;
    p.K = cin * kh * kw;
    p.w_panels = wtype == GK_BF16;
    p.gemm_type = wtype == GK_F16 ? GK_F16 : GK_F32;
    p.direct = kw == 1 && kh == 1 && stride == 1 && pad == 0 && p.gemm_type == GK_F32;
    const size_t esz = p.gemm_type == GK_F32 ? 4 : 2;
    int64_t np = (int64_t)(GK_CONV_PANEL_BYTES / ((size_t)p.K * esz));
    if (np >= p.P) np = p.P;
    else np = np >= 64 ? np / 64 * 64 : np < 1 ? 1 : np; /* whole 64-pixel runs */
    p.np = np;
    int64_t wr = p.cout;
    if (p.w_panels) {
        wr = (int64_t)(GK_CONV_PANEL_BYTES / ((size_t)p.K * sizeof(float)));
        if (wr < 1) wr = 1;
        if (wr > p.cout) wr = p.cout;
    }
    p.wrows = wr;
    return p;
}

/* Bytes of scratch the plan uses: a column panel (none when direct), then a kernel panel. */
static inline size_t gk_conv_col_bytes(const gk_conv_plan *p) {
    return p->direct ? 0 : ((size_t)(p->np * p->K) * (p->gemm_type == GK_F32 ? 4 : 2) + 255) / 256 * 256;
}
static inline size_t gk_conv_scratch_bytes(const gk_conv_plan *p) {
    return gk_conv_col_bytes(p) + (p->w_panels ? (size_t)(p->wrows * p->K) * sizeof(float) : 0);
}

/* The GEMM of image n, pixels p0 .. p0+np−1, output channels co0 .. co0+nco−1, as a column-major
 * call (gk_gemm_call of plan_train.cuh's shape): A the column panel (or x when direct, offset
 * in elements), B the kernel (offset co0·K) or its panel (offset 0), C = y. */
typedef struct gk_conv_gemm {
    int64_t m, n, k, lda, ldb, ldc;
    int64_t a_off, b_off, c_off;
} gk_conv_gemm;

static inline gk_conv_gemm gk_plan_conv_gemm(const gk_conv_plan *p, int64_t n, int64_t p0, int64_t np, int64_t co0,
                                             int64_t nco) {
    gk_conv_gemm g;
    g.m = np;
    g.n = nco;
    g.k = p->K;
    g.lda = p->direct ? p->P : np;
    g.a_off = p->direct ? n * p->cin * p->P + p0 : 0;
    g.ldb = p->K;
    g.b_off = p->w_panels ? 0 : co0 * p->K;
    g.ldc = p->P;
    g.c_off = (n * p->cout + co0) * p->P + p0;
    return g;
}

/* im2col of one panel: col[k][pp] (pp < np, pixel p0 + pp of image n) in the GEMM's type. */
typedef struct gk_im2col_args {
    const float *x;
    void *col; /* np × K elements of out_type (F32, F16), pixels innermost */
    int64_t W, H, cin, kw, kh, wo, n, p0, np, K;
    int stride, pad, out_type;
} gk_im2col_args;

static inline gk_im2col_args gk_plan_im2col(const gk_conv_plan *p, const float *x, void *col, int64_t n, int64_t p0,
                                            int64_t np) {
    gk_im2col_args a = {x, col, p->W, p->H, p->cin, p->kw, p->kh, p->wo, n, p0, np, p->K, p->stride, p->pad,
                        p->gemm_type};
    return a;
}

#endif
