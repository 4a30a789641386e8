/* Micro-kernels of the CPU backend: the only per-ISA code (BLIS's idea).
 *
 * Blocking, packing, threading and the op logic are portable C in kernels/cpu/. Each ISA
 * provides a gk_ukernels table (scalar in ukernel_scalar.c is the reference that defines the
 * meaning of every entry; avx2 in *_avx2.c, avx512 in *_avx512.c, neon/dotprod/i8mm in
 * *_neon.c, *_dotprod.c, *_i8mm.c). A table may leave an entry NULL: the dispatcher then uses
 * the next-best table's entry (ultimately scalar), so an ISA file can grow one kernel at a time.
 *
 * Quantized matmul: activations are quantised once per matmul into the weight type's
 * "activation type" (Q8_0 blocks for Q4_0/Q4_1/Q8_0, Q8_K for Q4_K/Q6_K), then integer dots.
 * Float weights (F32/F16/BF16): activations stay F32 (act_type GK_F32); the matrix-vector path
 * uses vec_dot directly, the many-column path packs panels into F32 and calls sgemm.
 */
#ifndef GK_UKERNEL_H
#define GK_UKERNEL_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/quant.h"

/* Row of k floats -> activation-type blocks (k a multiple of the weight type's block). */
typedef void (*gk_quant_act_fn)(const float *x, void *xq, int64_t k);
/* One weight row (weight type) · one activation row (act type), k elements. */
typedef void (*gk_vec_dot_fn)(int64_t k, const void *w, const void *xq, float *out);
/* A tile: nr weight rows (row i at w + i*w_stride bytes) × nc activation rows (column j at
 * xq + j*x_stride bytes): y[j*ldy + i] = dot(row i, column j). nr <= tile_rows, nc <= tile_cols. */
typedef void (*gk_dot_tile_fn)(int64_t k, const void *w, size_t w_stride, int nr,
                               const void *xq, size_t x_stride, int nc, float *y, int64_t ldy);
/* Matrix-vector: y[i] = dot(row i, xq) for nr weight rows (row i at w + i*w_stride bytes) and
 * one activation row, any nr: for kernels that prepare what depends on the activations alone
 * once per call (decode's case, where every row meets the same activation row). */
typedef void (*gk_matvec_fn)(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
/* Matrix-vector on weights in groups of eight rows (q4_0_x8.h, q4_k_x8.h, q8_0_x8.h,
 * q6_k_x8.h), ng groups from w: y[0..8·ng) = those rows · xq. */
typedef void (*gk_matvec_x8_fn)(int64_t k, const void *w, int64_t ng, const void *xq, float *y);

/* Packed integer GEMM, used for many columns (gk_igemm_kernels, by weight type). The weights
 * are packed by the table's pack function into panels of R (gk_igemm_kernels.rows) weight rows
 * over nb blocks of the weight type (32 elements for Q4_0/Q8_0, 256-element super-blocks for
 * Q4_K/Q6_K), block_bytes per block; rows past those packed contribute 0. The panel's layout
 * belongs to the pack/kernel pair (the driver only sizes it). For Q4_0 every ISA, and for Q8_0
 * every ISA but AVX2, uses the same one: per block, R*32 bytes then R floats: byte
 * (g*R + r)*4 + i is row r's weight 4g+i of the block as an unsigned byte (Q4_0: the nibble q,
 * the weight being q-8; Q8_0: w+128), then row r's block scale. AVX2's Q8_0 panel (w+128 split
 * into nibbles), the K-quant panels and AMX's BF16 panels (32 rows of 32 dequantised weights a
 * block) are described in their files (igemm_avx2.c, igemm_kquants_<isa>.c, gemm_bf16_amx.c).
 * Pack: weight rows w[0..rows) (rows <= R, row stride wrow bytes), blocks b0..b0+nb. */
typedef void (*gk_igemm_pack_fn)(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
/* Activations for that kernel, packed by the driver from the weight type's act_type blocks, in
 * groups of GK_IGEMM_COLS columns; a group's blocks follow each other and columns past the
 * matrix are not read. Per group and block:
 *  - Q8_0 (32 elements), GK_IGEMM_ACT_BYTES: the 32 int8 values of each column (column c at
 *    32c), then their Q8_0 block scales as float (at 256 + 4c), then the sums of their 32
 *    values as int32 (at 288 + 4c);
 *  - Q8_K (256 elements), GK_IGEMM_ACT_K_BYTES: the 256 int8 values of each column (at 256c),
 *    then their scales d as float (at 2048 + 4c), then Q8_K's 16 sums of 16 values as int16
 *    (at 2080 + 32c);
 *  - no quantisation for a kernel whose act_layout is GK_IGEMM_ACT_BF16X16 (AMX-BF16): the F32
 *    rows as BF16, groups of GK_IGEMM_BF16_COLS = 16 columns, GK_IGEMM_ACT_BF16_BYTES per 32
 *    inputs (the driver's block): row p (of 16) holds each column's inputs 2p, 2p+1, column c's
 *    pair at 4c; written by the entry's pack_act. Its pack's blocks are 32 inputs for every
 *    weight type (F16 and BF16 included; Y += the product when the driver accumulates).
 * Kernel: one panel of nb blocks × nc columns, xp at the first group's first block, group i at
 * xp + i*group_bytes: y[j*ldy + r] += dot(row r, column j) for r < nr, j < nc. */
enum {
    GK_IGEMM_COLS = 8,
    GK_IGEMM_ACT_BYTES = GK_IGEMM_COLS * (32 + 4 + 4),
    GK_IGEMM_ACT_K_BYTES = GK_IGEMM_COLS * (256 + 4 + 32),
    GK_IGEMM_ACT_COLUMNS = 0,
    GK_IGEMM_ACT_BF16X16 = 1,
    GK_IGEMM_BF16_COLS = 16,
    GK_IGEMM_ACT_BF16_BYTES = GK_IGEMM_BF16_COLS * 32 * 2,
};
typedef void (*gk_igemm_fn)(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                            int64_t ldy, int nr);

typedef struct gk_type_kernels {
    int act_type;               /* GK_F32, GK_Q8_0 or GK_Q8_K */
    gk_quant_act_fn quantize_act;  /* NULL when act_type is GK_F32 */
    gk_vec_dot_fn vec_dot;
    gk_dot_tile_fn dot_tile;    /* optional; NULL = loop of vec_dot */
    int tile_rows, tile_cols;   /* the tile dot_tile computes best */
    gk_matvec_fn matvec;        /* optional; NULL = vec_dot per row */
    /* Optional (Q4_0, Q4_K, Q8_0, Q6_K): with it, gk_prepare_weight stores such matrices in
     * groups of eight rows for this kernel. Never filled from another table: the storage is this
     * table's choice. */
    gk_matvec_x8_fn matvec_x8;
} gk_type_kernels;

/* The packed integer GEMM of one weight type (act_type GK_Q8_0 or GK_Q8_K, whose blocks the
 * driver packs as above): both functions or neither. */
typedef struct gk_igemm_kernels {
    gk_igemm_pack_fn pack;
    gk_igemm_fn kernel;
    int rows;                   /* R, the rows of one panel */
    int block_bytes;            /* bytes of one block of one panel */
    int act_layout;             /* GK_IGEMM_ACT_COLUMNS (0) or GK_IGEMM_ACT_BF16X16 */
    /* BF16X16 only: activation row x (k floats, k a multiple of 32) into column c of its group */
    void (*pack_act)(const float *x, int64_t k, void *group, int c);
} gk_igemm_kernels;

/* Dense F32 micro-kernel: C[MR×NR] (row-major, ldc) += A·B over kc, where A is packed MR-row
 * panels (a[p*MR + i]) and B packed NR-column panels (b[p*NR + j]). */
typedef void (*gk_sgemm_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc);

/* Optional packing for that kernel: weight rows w[0..rows) (rows <= nr; row stride wrow bytes;
 * type F32, F16 or BF16), inputs k0..k0+kc, as F32 into one NR-column panel panel[p*nr + r],
 * rows..nr-1 zero. Must equal the portable packing of cpu_matmul.c bit for bit. */
typedef void (*gk_sgemm_pack_fn)(int type, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                                 float *panel);

/* Optional F16 counterpart for F16 weights: the same product with B packed as F16 halves in the
 * same panel layout (b[p*NR + j]) and converted in registers. Both or neither are set. The
 * conversion is exact and the FMA order the F32 kernel's, so C is bit-identical to sgemm on the
 * converted panel; the panel is half the bytes (L2 traffic per k step) and packing it is a
 * 16-bit transpose with no conversion. pack_h: F16 weight rows w[0..rows) (row stride wrow
 * bytes), inputs k0..k0+kc, into one NR-column panel of halves, rows..nr-1 zero. */
typedef void (*gk_sgemm_h_fn)(int64_t kc, const float *a, const uint16_t *b, float *c, int64_t ldc);
typedef void (*gk_sgemm_pack_h_fn)(const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                                   uint16_t *panel);

typedef struct gk_ukernels {
    const char *isa;            /* "scalar", "avx2", "avx512", "amx", "neon", "dotprod", "i8mm" */
    gk_type_kernels t[GK_TYPE_COUNT];   /* indexed by weight type */
    gk_igemm_kernels igemm[GK_TYPE_COUNT];   /* optional, by weight type (Q4_0, Q8_0, Q4_K, Q6_K) */
    int sgemm_mr, sgemm_nr;
    gk_sgemm_fn sgemm;
    gk_sgemm_pack_fn sgemm_pack_b;   /* NULL = portable packing; any nr */
    gk_sgemm_h_fn sgemm_h;           /* optional: F16 weights on F16 panels */
    gk_sgemm_pack_h_fn sgemm_pack_h;
    /* Conversions for packing and the KV cache. */
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, int64_t n);
    /* Vector helpers used by rmsnorm/softmax/attention (n arbitrary). */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float a, const float *x, float *y, int64_t n);        /* y += a*x */
    float (*dot_f32_f16)(const float *a, const uint16_t *b, int64_t n);
    void (*axpy_f16)(float a, const uint16_t *x, float *y, int64_t n);    /* y += a*x */
    /* y[0..n) += Σ_{i<rows} a[i]·x_i, x_i the F16 row at x + i·stride elements: attention's
     * weighted sum of values, y kept in registers across the rows (optional: NULL = axpy_f16). */
    void (*axpy_rows_f16)(const float *a, const uint16_t *x, size_t stride, int64_t rows, float *y, int64_t n);
    /* Q8_0 KV-cache rows (n a multiple of 32): the dot with an F32 query, and y += a*x,
     * dequantising in registers. */
    float (*dot_f32_q8_0)(const float *a, const void *b, int64_t n);
    void (*axpy_q8_0)(float a, const void *x, float *y, int64_t n);
    /* Softmax and SiLU (n arbitrary): y[i] = s·x[i] (y may be x), returning the largest;
     * x[i] = exp(x[i] - m), returning their sum; y[i] = silu(g[i])·u[i]. Vector tables may
     * evaluate exp by a polynomial (within 2 ulp of expf; 0 below -87), the scalar table calls
     * expf. */
    float (*scale_max)(const float *x, float *y, int64_t n, float s);
    float (*exp_sum)(float *x, int64_t n, float m);
    void (*silu_mul)(const float *g, const float *u, float *y, int64_t n);
    /* Flash attention's online-softmax step on a tile of scores s (rows × nc, row-major: a
     * column per query, nc a multiple of 4), per column c: m' = max(m[c], s[·][c]); s[r][c] =
     * exp(s[r][c] - m'); alpha[c] = exp(m[c] - m') (0 for m[c] = -inf); l[c] = l[c]·alpha[c] +
     * Σ_r s[r][c]; m[c] = m'. A column's m' must be finite (it sees at least one key). exp as
     * gk_exp_fast (the scalar table) or exp_sum's polynomial. */
    void (*softmax_cols)(float *s, int64_t rows, int nc, float *m, float *l, float *alpha);
} gk_ukernels;

/* Tables compiled into this binary (NULL when the ISA is not compiled or not present). */
const gk_ukernels *gk_ukernels_scalar(void);
const gk_ukernels *gk_ukernels_avx2(void);      /* x86-64: AVX2 + FMA + F16C */
const gk_ukernels *gk_ukernels_avx512(void);    /* x86-64: AVX-512 F/BW/VL (+VNNI, BF16) */
const gk_ukernels *gk_ukernels_amx(void);       /* x86-64: AVX-512 + AMX-TILE/INT8, with Linux's permission */
const gk_ukernels *gk_ukernels_neon(void);      /* AArch64 baseline */
const gk_ukernels *gk_ukernels_dotprod(void);   /* AArch64 + SDOT */
const gk_ukernels *gk_ukernels_i8mm(void);      /* AArch64 + SMMLA */

/* The best table for this CPU, or a forced one ("scalar", "avx2", ...; NULL = best). The
 * result has no NULL entries: gaps are filled from the next-best table. NULL if the named
 * ISA is unknown or not supported by this CPU. */
const gk_ukernels *gk_ukernels_select(const char *isa);
/* ISAs usable on this CPU, best first, NULL-terminated (for tests that try every path). */
const char *const *gk_ukernels_available(void);

#endif
