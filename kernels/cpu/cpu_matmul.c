/* The matmul driver of the "cpu" backend: blocking, packing and threading in portable C; the
 * inner loops are the micro-kernels of the selected table (BLIS's split).
 *
 * Y{N, M} = X{K, M} · W{K, N}ᵀ on raw operands (the op entry, which brings every other form to
 * this one, is in cpu_matmul_forms.c). Four paths:
 *  - matvec (M = 1): weight rows are handed out in contiguous chunks from an atomic counter, so
 *    each thread streams long runs of memory and nobody idles at the tail; one vec_dot per row.
 *  - quantised or narrow (M > 1): units of (row block × column block) sized so the block's
 *    weights and activations stay in L2; inside a unit, dot_tile covers tile_rows × tile_cols.
 *  - float weights with many columns: X is packed once into MR-row panels (shared), then each
 *    thread takes NC weight rows, converts them to F32 into NR-column panels KC deep (kept in
 *    L2) and runs the MR×NR sgemm kernel over all of X. F16 weights on a table with sgemm_h
 *    are packed as F16 halves instead and converted in the kernel: half the panel bytes, and no
 *    conversion in the pack (at 128 columns the pack was ~15% of the product on AVX2).
 *  - integer weights (Q4_0, Q8_0, Q4_K, Q6_K) with many columns, where the table has a packed
 *    integer GEMM: each thread takes a few 16-row panels, packs them (lanes = rows,
 *    microkernels.h) a range of blocks at a time (kept in L1/L2), and runs the igemm kernel over
 *    all columns; the activations are packed for it (column groups of the act type's blocks,
 *    with their scales and sums) once per matmul, as they are quantised. Where the table's
 *    packed GEMM multiplies on BF16 tiles (AMX: Q4_0, Q8_0, F16, BF16; act_layout BF16X16), the
 *    same driver runs with X converted to BF16 instead of quantised, in blocks of 32 inputs.
 * Integer formats quantise X once per matmul (not per thread) into the table's activation type.
 * A prepared Q4_0, Q4_K, Q8_0 or Q6_K weight stored in groups of eight rows (q4_0_x8.h,
 * q4_k_x8.h, q8_0_x8.h, q6_k_x8.h, cpu_weights.c) takes the table's matvec_x8 for one column
 * (units of whole groups) and the packed GEMM for every other column count: Q4_0's panels packed
 * straight from the groups, the others' by the table's own pack from the panel's rows, gathered
 * from the groups a range at a time. A table without a packed GEMM (AArch64) runs its tiles on each row block gathered into
 * rows in the thread's scratch.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/q4_0_x8.h"
#include "kernels/cpu/q4_k_x8.h"
#include "kernels/op_checks.h"

enum {
    L2_BLOCK_BYTES = 128 * 1024,   /* per operand block: two fit a 256 KiB+ L2 with room */
    CHUNKS_PER_THREAD = 16,        /* matvec: tail imbalance <= 1/16 of a thread's share */
    X8_MIN_ROWS = 64,              /* matvec on groups of eight rows: 8 groups a call at least, so its
                                      per-call work on the activations is <= ~6% of the call */
    SGEMM_MIN_COLS = 32,           /* float weights: below this, dot_tile beats packing (measured: F16 x 16 columns 55 vs 34 GFLOP/s) */
    SGEMM_KC = 256,
    SGEMM_NC = 128,
    /* Weights with a packed integer GEMM: below IGEMM_MIN_COLS columns, dot_tile (measured at
     * 4096², 2 threads: 8 columns Q4_0 269 vs 189 GFLOP/s, Q8_0 even; 4 columns slower). AVX2
     * Q4_0 (igemm_avx2.c) agrees: 8 columns ~280 vs ~190, 6 ~230 vs ~140, 4 even. The K-quants
     * too (AVX-512, 4096², 2 threads, this busy VM: 8 columns Q4_K ~250 vs ~225, Q6_K ~230 vs
     * ~220; 12 columns ~300 vs ~220). */
    IGEMM_MIN_COLS = 8,
    IGEMM_K = 2048,                /* inputs per packed range: a 16-row panel is 36 KiB (Q4_0, 64
                                      blocks; 5% over 32), 41/45 KiB (Q4_K/Q6_K, 8 super-blocks) */
    IGEMM_PANELS = 4,              /* panels per work unit */
    IGEMM_COLS = 64,               /* columns per pass over the packed panels (~160 KiB of activations;
                                      a multiple of GK_IGEMM_COLS) */
};

typedef struct mm_job {
    const gk_ukernels *uk;
    const gk_type_kernels *tk;
    const gk_igemm_kernels *ik;   /* the packed integer GEMM of this weight type */
    int wtype;
    int64_t k, n, m;
    const char *w;
    size_t wrow;
    int x8;              /* w in groups of eight rows: its layout (cpu_weights.c's formats), else 0 */
    const float *x;
    char *xq;            /* activations in act type (== x for F32 activations) */
    size_t xrow;
    float *y;
    int64_t ldy;         /* floats between y's rows (n for a contiguous y) */
    bool acc;            /* y += the product (the sgemm path only) */
    /* work units */
    _Atomic int64_t next;
    int64_t units, rows_per_unit, cols_per_unit, col_units;
    /* sgemm path */
    bool half;           /* B panels of F16 halves (sgemm_h) */
    float *apack;
    char *thread_mem;
    size_t thread_bytes;
    size_t pack_bytes;    /* igemm: of thread_bytes, the packed panels (then the gathered rows) */
    /* igemm path: the activations packed for the kernel (microkernels.h) */
    char *xp;
    int64_t nblk;         /* blocks of the weight type per row */
    int64_t kb;           /* blocks per packed range */
    size_t act_block;     /* bytes of one group's block of packed activations */
    int group_cols;       /* columns of one group of packed activations */
} mm_job;

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- activation quantisation (once per matmul) ---------------------------------------------- */

/* Row r's Q8_0 blocks (quant.h: f16 scale, 32 int8) into the igemm's packed activations: its
 * values, its scale as float and the sum of its values, at column r % 8 of group r / 8. */
static void act_pack_row_q8_0(mm_job *j, int64_t r) {
    const unsigned char *q = (const unsigned char *)j->xq + (size_t)r * j->xrow;
    const int c = (int)(r % GK_IGEMM_COLS);
    char *dst = j->xp + (size_t)(r / GK_IGEMM_COLS * j->nblk) * GK_IGEMM_ACT_BYTES;
    for (int64_t b = 0; b < j->nblk; b++, q += 34, dst += GK_IGEMM_ACT_BYTES) {
        uint16_t h;
        memcpy(&h, q, 2);
        float d = gk_f16_to_f32(h);
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += (int8_t)q[2 + i];
        memcpy(dst + 32 * c, q + 2, 32);
        memcpy(dst + 32 * GK_IGEMM_COLS + 4 * c, &d, 4);
        memcpy(dst + 36 * GK_IGEMM_COLS + 4 * c, &s, 4);
    }
}

/* Row r's Q8_K blocks (quant.h: float d, 256 int8, 16 int16 sums) likewise: the same three
 * fields, each at column r % 8's place in group r / 8. */
static void act_pack_row_q8_k(mm_job *j, int64_t r) {
    const char *q = j->xq + (size_t)r * j->xrow;
    const int c = (int)(r % GK_IGEMM_COLS);
    char *dst = j->xp + (size_t)(r / GK_IGEMM_COLS * j->nblk) * GK_IGEMM_ACT_K_BYTES;
    for (int64_t b = 0; b < j->nblk; b++, q += 292, dst += GK_IGEMM_ACT_K_BYTES) {
        memcpy(dst + 256 * c, q + 4, 256);
        memcpy(dst + 256 * GK_IGEMM_COLS + 4 * c, q, 4);
        memcpy(dst + 260 * GK_IGEMM_COLS + 32 * c, q + 260, 32);
    }
}

static void quantize_rows(void *ctx, int64_t r0, int64_t r1) {
    mm_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        j->tk->quantize_act(j->x + r * j->k, j->xq + (size_t)r * j->xrow, j->k);
        if (j->xp && j->tk->act_type == GK_Q8_K) act_pack_row_q8_k(j, r);
        else if (j->xp) act_pack_row_q8_0(j, r);
    }
}

/* ---- matvec and tiles ----------------------------------------------------------------------- */

static void matvec_worker(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    mm_job *j = ctx;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        int64_t r0 = u * j->rows_per_unit, r1 = min64(j->n, r0 + j->rows_per_unit);
        if (j->x8) {   /* units are whole groups (plan_matvec) */
            j->tk->matvec_x8(j->k, j->w + (size_t)r0 * j->wrow, (r1 - r0) / GK_X8_ROWS, j->xq, &j->y[r0]);
            continue;
        }
        if (j->tk->matvec) {
            j->tk->matvec(j->k, j->w + (size_t)r0 * j->wrow, j->wrow, r1 - r0, j->xq, &j->y[r0]);
            continue;
        }
        for (int64_t r = r0; r < r1; r++) j->tk->vec_dot(j->k, j->w + (size_t)r * j->wrow, j->xq, &j->y[r]);
    }
}

/* Rows r0..r1 × columns c0..c1 by tiles; row r's bytes at wbase + (r - rbase)*wrow. */
static void tile_unit(mm_job *j, const char *wbase, int64_t rbase, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const gk_type_kernels *tk = j->tk;
    int tr = tk->dot_tile ? tk->tile_rows : 1, tc = tk->dot_tile ? tk->tile_cols : 1;
    for (int64_t c = c0; c < c1; c += tc) {
        int nc = (int)min64(tc, c1 - c);
        const char *xq = j->xq + (size_t)c * j->xrow;
        for (int64_t r = r0; r < r1; r += tr) {
            int nr = (int)min64(tr, r1 - r);
            const char *w = wbase + (size_t)(r - rbase) * j->wrow;
            float *y = j->y + c * j->ldy + r;
            if (tk->dot_tile) {
                tk->dot_tile(j->k, w, j->wrow, nr, xq, j->xrow, nc, y, j->ldy);
            } else {
                for (int jc = 0; jc < nc; jc++)
                    for (int i = 0; i < nr; i++)
                        tk->vec_dot(j->k, w + (size_t)i * j->wrow, xq + (size_t)jc * j->xrow, &y[jc * j->ldy + i]);
            }
        }
    }
}

/* Rows r0..r1 (whole groups) of a weight in groups of eight, gathered into dst in rows. */
static void gather_rows(const mm_job *j, int64_t r0, int64_t r1, char *dst) {
    const gk_x8_rows_fn gather = gk_cpu_x8_rows(j->wtype, j->x8);
    for (int64_t g = r0; g < r1; g += GK_X8_ROWS)
        gather((const uint8_t *)j->w + (size_t)g * j->wrow, GK_X8_ROWS, 0, j->nblk,
               (uint8_t *)dst + (size_t)(g - r0) * j->wrow, j->wrow);
}

static void tile_worker(void *ctx, int ith, int nth) {
    (void)nth;
    mm_job *j = ctx;
    /* a weight in groups (tables without a packed GEMM): each row block gathered into rows once */
    char *rows = j->x8 ? j->thread_mem + (size_t)ith * j->thread_bytes : NULL;
    int64_t gathered = -1;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        /* Consecutive units share a row block, so the two threads' weights overlap in L3. */
        int64_t rb = u / j->col_units, cb = u % j->col_units;
        int64_t r0 = rb * j->rows_per_unit, c0 = cb * j->cols_per_unit;
        int64_t r1 = min64(j->n, r0 + j->rows_per_unit), c1 = min64(j->m, c0 + j->cols_per_unit);
        if (!rows) {
            tile_unit(j, j->w, 0, r0, r1, c0, c1);
            continue;
        }
        if (rb != gathered) gather_rows(j, r0, r1, rows), gathered = rb;
        tile_unit(j, rows, r0, r0, r1, c0, c1);
    }
}

static void plan_matvec(mm_job *j, int nth) {
    int64_t chunks = (int64_t)nth * CHUNKS_PER_THREAD;
    j->rows_per_unit = max64(8, round_up((j->n + chunks - 1) / chunks, 4));
    /* x8: whole groups, and at least eight of them, as the kernel prepares the activations per call */
    if (j->x8) j->rows_per_unit = max64(X8_MIN_ROWS, round_up(j->rows_per_unit, GK_X8_ROWS));
    j->units = (j->n + j->rows_per_unit - 1) / j->rows_per_unit;
}

static void plan_tiles(mm_job *j, int nth) {
    int tr = j->tk->dot_tile ? j->tk->tile_rows : 1, tc = j->tk->dot_tile ? j->tk->tile_cols : 1;
    int64_t rows = max64(tr, (int64_t)(L2_BLOCK_BYTES / j->wrow) / tr * tr);
    int64_t cols = max64(tc, (int64_t)(L2_BLOCK_BYTES / j->xrow) / tc * tc);
    cols = min64(cols, round_up(j->m, tc));
    /* Enough units that every thread gets several (balance), without tiles thinner than a tile. */
    while (rows > tr && ((j->n + rows - 1) / rows) * ((j->m + cols - 1) / cols) < (int64_t)nth * 8)
        rows = max64(tr, (rows / 2) / tr * tr);
    if (j->x8) rows = round_up(rows, GK_X8_ROWS);   /* whole groups, gathered a row block at a time */
    j->rows_per_unit = rows;
    j->cols_per_unit = cols;
    j->col_units = (j->m + cols - 1) / cols;
    j->units = ((j->n + rows - 1) / rows) * j->col_units;
}

/* ---- float weights × many columns: pack and sgemm ------------------------------------------ */

static void pack_a_rows(void *ctx, int64_t p0, int64_t p1) {   /* p: MR-row panel index */
    mm_job *j = ctx;
    int mr = j->uk->sgemm_mr;
    for (int64_t pn = p0; pn < p1; pn++) {
        float *dst = j->apack + pn * j->k * mr;
        for (int i = 0; i < mr; i++) {
            int64_t row = pn * mr + i;
            if (row >= j->m) {
                for (int64_t p = 0; p < j->k; p++) dst[p * mr + i] = 0;
                continue;
            }
            const float *src = j->x + row * j->k;
            for (int64_t p = 0; p < j->k; p++) dst[p * mr + i] = src[p];
        }
    }
}

/* Weight rows n0..n0+nc, inputs k0..k0+kc, as F32 NR-column panels (zero-padded). */
static void pack_b(mm_job *j, int64_t n0, int64_t nc, int64_t k0, int64_t kc, float *bp, float *row) {
    int nr = j->uk->sgemm_nr;
    int type = j->wtype;
    int64_t ncp = round_up(nc, nr);
    if (j->half) {
        for (int64_t c0 = 0; c0 < ncp; c0 += nr)
            j->uk->sgemm_pack_h(j->w + (size_t)(n0 + c0) * j->wrow, j->wrow, (int)min64(nr, nc - c0), k0, kc, nr,
                                (uint16_t *)bp + (c0 / nr) * kc * nr);
        return;
    }
    if (j->uk->sgemm_pack_b) {
        for (int64_t c0 = 0; c0 < ncp; c0 += nr)
            j->uk->sgemm_pack_b(type, j->w + (size_t)(n0 + c0) * j->wrow, j->wrow, (int)min64(nr, nc - c0), k0, kc,
                                nr, bp + (c0 / nr) * kc * nr);
        return;
    }
    for (int64_t jn = 0; jn < ncp; jn++) {
        float *panel = bp + (jn / nr) * kc * nr + jn % nr;
        if (jn >= nc) {
            for (int64_t p = 0; p < kc; p++) panel[p * nr] = 0;
            continue;
        }
        const char *src = j->w + (size_t)(n0 + jn) * j->wrow;
        const float *r;
        if (type == GK_F32) {
            r = (const float *)src + k0;
        } else {
            /* Weight rows are 2-byte aligned (64-byte aligned storage, even row bytes). */
            const uint16_t *h = (const uint16_t *)src + k0;
            if (type == GK_F16) j->uk->f16_to_f32(h, row, kc);
            else j->uk->bf16_to_f32(h, row, kc);
            r = row;
        }
        for (int64_t p = 0; p < kc; p++) panel[p * nr] = r[p];
    }
}

/* C[MR×NR] += A·B for panel number pi of the packed block bp (F32 or F16 halves). */
static void sgemm_tile(const mm_job *j, int64_t kc, const float *a, const float *bp, int64_t pi, float *c,
                       int64_t ldc) {
    size_t off = (size_t)(pi * kc * j->uk->sgemm_nr);
    if (j->half) j->uk->sgemm_h(kc, a, (const uint16_t *)bp + off, c, ldc);
    else j->uk->sgemm(kc, a, bp + off, c, ldc);
}

static void sgemm_unit(mm_job *j, int64_t n0, int64_t nc, float *bp, float *row, float *ct) {
    int mr = j->uk->sgemm_mr, nr = j->uk->sgemm_nr;
    if (!j->acc)
        for (int64_t i = 0; i < j->m; i++) memset(j->y + i * j->ldy + n0, 0, (size_t)nc * sizeof(float));
    /* F16 panels are half the bytes: twice as deep in the same L2 share (measured: +2%, longer
     * runs of each weight row per pack) */
    const int64_t kstep = j->half ? 2 * SGEMM_KC : SGEMM_KC;
    for (int64_t k0 = 0; k0 < j->k; k0 += kstep) {
        int64_t kc = min64(kstep, j->k - k0);
        pack_b(j, n0, nc, k0, kc, bp, row);
        for (int64_t i0 = 0; i0 < j->m; i0 += mr) {
            const float *a = j->apack + (i0 / mr) * j->k * mr + k0 * mr;
            int64_t mi = min64(mr, j->m - i0);
            for (int64_t c0 = 0; c0 < nc; c0 += nr) {
                float *y = j->y + i0 * j->ldy + n0 + c0;
                int64_t ni = min64(nr, nc - c0);
                if (mi == mr && ni == nr) {
                    sgemm_tile(j, kc, a, bp, c0 / nr, y, j->ldy);
                    continue;
                }
                memset(ct, 0, (size_t)mr * nr * sizeof *ct);   /* edge: compute whole, add part */
                sgemm_tile(j, kc, a, bp, c0 / nr, ct, nr);
                for (int64_t i = 0; i < mi; i++)
                    for (int64_t c = 0; c < ni; c++) y[i * j->ldy + c] += ct[i * nr + c];
            }
        }
    }
}

static void sgemm_worker(void *ctx, int ith, int nth) {
    (void)nth;
    mm_job *j = ctx;
    int nr = j->uk->sgemm_nr;
    char *mem = j->thread_mem + (size_t)ith * j->thread_bytes;
    float *bp = (float *)mem, *row = bp + SGEMM_KC * round_up(SGEMM_NC, nr), *ct = row + SGEMM_KC;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        int64_t n0 = u * SGEMM_NC;
        sgemm_unit(j, n0, min64(SGEMM_NC, j->n - n0), bp, row, ct);
    }
}

static int matmul_sgemm(gk_backend *b, mm_job *j) {
    gk_cpu *c = gk_cpu_of(b);
    int mr = j->uk->sgemm_mr, nr = j->uk->sgemm_nr, nth = gk_pool_size(c->pool);
    int64_t panels = (j->m + mr - 1) / mr;
    j->half = j->wtype == GK_F16 && j->uk->sgemm_h && j->uk->sgemm_pack_h;
    j->apack = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)(panels * mr * j->k) * sizeof(float));
    /* per thread: B panels, one converted row, one edge tile; 64-byte multiples */
    j->thread_bytes = (size_t)round_up((SGEMM_KC * round_up(SGEMM_NC, nr) + SGEMM_KC + mr * nr) * 4, 64);
    j->thread_mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j->thread_bytes * (size_t)nth);
    if (!j->apack || !j->thread_mem) return gk_fail(b, "matmul: out of memory for packing");
    gk_cpu_rows(c, panels, (double)mr * j->k * 8, pack_a_rows, j);
    j->units = (j->n + SGEMM_NC - 1) / SGEMM_NC;
    atomic_store(&j->next, 0);
    gk_pool_run(c->pool, sgemm_worker, j);
    return 0;
}

/* ---- integer weights × many columns: packed integer GEMM --------------------------------- */

/* Weight rows n0..n0+nc over all of K into y (zeroed first unless accumulating: the BF16 path
 * for float weights), kb blocks at a time. */
static void igemm_unit(mm_job *j, int64_t n0, int64_t nc, char *pack, char *rowbuf) {
    const gk_igemm_kernels *ik = j->ik;
    const int R = ik->rows;
    const int np = (int)((nc + R - 1) / R);
    if (!j->acc)
        for (int64_t i = 0; i < j->m; i++) memset(j->y + i * j->ldy + n0, 0, (size_t)nc * sizeof(float));
    const size_t panel_bytes = (size_t)ik->block_bytes;
    for (int64_t b0 = 0; b0 < j->nblk; b0 += j->kb) {
        int64_t nb = min64(j->kb, j->nblk - b0);
        for (int p = 0; p < np; p++) {
            const char *w = j->w + (size_t)(n0 + p * R) * j->wrow;   /* a group's start too: R, n0 whole groups */
            int rows = (int)min64(R, nc - p * R);
            char *panel = pack + (size_t)p * nb * panel_bytes;
            if (j->x8 == GK_LAYOUT_Q4_0_X8)
                gk_q4_0_x8_igemm_pack((const uint8_t *)w, j->nblk, rows, R, b0, nb, j->uk->f16_to_f32, (uint8_t *)panel);
            else if (j->x8) {   /* the panel's rows in row layout first, a group at a time, then the table's pack */
                const size_t gb = (size_t)GK_X8_ROWS * j->wrow, rb = (size_t)nb * (j->wrow / (size_t)j->nblk);
                const gk_x8_rows_fn gather = gk_cpu_x8_rows(j->wtype, j->x8);
                for (int h = 0; h < rows; h += GK_X8_ROWS)
                    gather((const uint8_t *)w + (size_t)(h / GK_X8_ROWS) * gb, GK_X8_ROWS, b0, nb,
                           (uint8_t *)rowbuf + (size_t)h * rb, rb);
                ik->pack(rowbuf, rb, rows, 0, nb, panel);
            } else {
                ik->pack(w, j->wrow, rows, b0, nb, panel);
            }
        }
        for (int64_t c0 = 0; c0 < j->m; c0 += IGEMM_COLS) {   /* IGEMM_COLS: a multiple of the groups */
            int ncol = (int)min64(IGEMM_COLS, j->m - c0);
            const char *xp = j->xp + (size_t)(c0 / j->group_cols * j->nblk + b0) * j->act_block;
            for (int p = 0; p < np; p++)
                ik->kernel(nb, pack + (size_t)p * nb * panel_bytes, xp, (size_t)j->nblk * j->act_block, ncol,
                           j->y + c0 * j->ldy + n0 + p * R, j->ldy, (int)min64(R, nc - p * R));
        }
    }
}

static void igemm_worker(void *ctx, int ith, int nth) {
    (void)nth;
    mm_job *j = ctx;
    char *pack = j->thread_mem + (size_t)ith * j->thread_bytes, *rowbuf = pack + j->pack_bytes;
    const int64_t rows = (int64_t)IGEMM_PANELS * j->ik->rows;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        igemm_unit(j, u * rows, min64(rows, j->n - u * rows), pack, rowbuf);
    }
}

static int matmul_igemm(gk_backend *b, mm_job *j) {
    gk_cpu *c = gk_cpu_of(b);
    int nth = gk_pool_size(c->pool);
    const int R = j->ik->rows;
    j->pack_bytes = (size_t)round_up(IGEMM_PANELS * j->kb * j->ik->block_bytes, 64);
    /* Q4_K, Q8_0 or Q6_K in groups: one panel's rows over a packed range, gathered into rows */
    const bool gather = j->x8 && j->x8 != GK_LAYOUT_Q4_0_X8;
    const size_t rows_bytes = gather ? (size_t)(R * j->kb) * (j->wrow / (size_t)j->nblk) : 0;
    j->thread_bytes = j->pack_bytes + (size_t)round_up((int64_t)rows_bytes, 64);
    j->thread_mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j->thread_bytes * (size_t)nth);
    if (!j->thread_mem) return gk_fail(b, "matmul: out of memory for packing");
    j->units = (j->n + IGEMM_PANELS * R - 1) / (IGEMM_PANELS * R);
    atomic_store(&j->next, 0);
    gk_pool_run(c->pool, igemm_worker, j);
    return 0;
}

/* ---- AMX-BF16: the same driver, the activations converted instead of quantised ------------- */

/* Whether m columns of this weight type take the BF16 path (K must also be whole 32s). */
static bool bf16_path(const gk_igemm_kernels *ik, int64_t m) {
    return ik->kernel && ik->act_layout == GK_IGEMM_ACT_BF16X16 && m >= IGEMM_MIN_COLS;
}

static void bf16_rows(void *ctx, int64_t r0, int64_t r1) {
    mm_job *j = ctx;
    for (int64_t r = r0; r < r1; r++)
        j->ik->pack_act(j->x + r * j->k, j->k,
                        j->xp + (size_t)(r / GK_IGEMM_BF16_COLS * j->nblk) * GK_IGEMM_ACT_BF16_BYTES,
                        (int)(r % GK_IGEMM_BF16_COLS));
}

/* Blocks of 32 inputs (the weight type's block for Q4_0/Q8_0; for float weights, 32 of them). */
static int matmul_bf16(gk_backend *b, mm_job *j) {
    gk_cpu *c = gk_cpu_of(b);
    j->nblk = j->k / 32;
    j->kb = IGEMM_K / 32;
    j->act_block = GK_IGEMM_ACT_BF16_BYTES;
    j->group_cols = GK_IGEMM_BF16_COLS;
    const int64_t groups = (j->m + GK_IGEMM_BF16_COLS - 1) / GK_IGEMM_BF16_COLS;
    j->xp = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)(groups * j->nblk) * j->act_block);
    if (!j->xp) return gk_fail(b, "matmul: out of memory for activations");
    gk_cpu_rows(c, j->m, (double)j->k * 4, bf16_rows, j);
    return matmul_igemm(b, j);
}

int gk_cpu_matmul_act_type(gk_backend *b, int wtype, int64_t m) {
    return bf16_path(&gk_cpu_of(b)->uk->igemm[wtype], m) ? GK_BF16 : GK_F32;
}

bool gk_cpu_linear_accumulates(gk_backend *b, int wtype, int64_t m) {
    return gk_cpu_of(b)->uk->t[wtype].act_type == GK_F32 && m >= SGEMM_MIN_COLS;
}

int gk_cpu_linear(gk_backend *b, float *y, int wtype, const void *w, size_t wrow, int64_t k, int64_t n,
                  const float *x, int64_t m) {
    return gk_cpu_linear_into(b, y, n, false, wtype, 0, w, wrow, k, n, x, m);
}

int gk_cpu_linear_into(gk_backend *b, float *y, int64_t ldy, bool accumulate, int wtype, int wlayout, const void *w,
                       size_t wrow, int64_t k, int64_t n, const float *x, int64_t m) {
    gk_cpu *c = gk_cpu_of(b);
    mm_job j = {.uk = c->uk, .tk = &c->uk->t[wtype], .ik = &c->uk->igemm[wtype], .wtype = wtype,
                .k = k, .n = n, .m = m, .w = w, .wrow = wrow, .x8 = wlayout,
                .x = x, .y = y, .ldy = ldy, .acc = accumulate};
    if (gk_cpu_check_layout(b, wtype, wlayout, "matmul")) return -1;
    if (!j.tk->vec_dot) return gk_fail(b, "matmul: no kernel for %s weights", gk_type_name(wtype));
    if (accumulate && !gk_cpu_linear_accumulates(b, wtype, m))
        return gk_fail(b, "matmul: accumulating into Y needs F32 activations and %d+ columns", SGEMM_MIN_COLS);
    if (j.m == 0 || j.n == 0) return 0;
    if (bf16_path(j.ik, j.m) && j.k % 32 == 0) return matmul_bf16(b, &j);
    if (j.tk->act_type == GK_F32 && j.m >= SGEMM_MIN_COLS) return matmul_sgemm(b, &j);
    if (j.tk->act_type == GK_F32) {
        j.xq = (char *)x;
        j.xrow = (size_t)j.k * sizeof(float);
    } else {
        j.xrow = gk_type_bytes(j.tk->act_type, j.k);
        if (!j.xrow) return gk_fail(b, "matmul: K = %lld is not a whole number of %s blocks",
                                    (long long)j.k, gk_type_name(j.tk->act_type));
        const bool act_k = j.tk->act_type == GK_Q8_K;
        /* a prepared weight (in groups) is read by its x8 matvec or by the packed GEMM, never by tiles */
        bool igemm = j.ik->kernel && (act_k || j.tk->act_type == GK_Q8_0) && (j.m >= IGEMM_MIN_COLS || (j.x8 && j.m > 1));
        /* igemm: the quantised rows, then the same packed in column groups for the kernel */
        size_t qbytes = (size_t)round_up((int64_t)(j.xrow * (size_t)j.m), 64);
        const int64_t blk = act_k ? 256 : 32;
        j.nblk = j.k / blk;
        j.kb = max64(1, IGEMM_K / blk);
        j.act_block = act_k ? GK_IGEMM_ACT_K_BYTES : GK_IGEMM_ACT_BYTES;
        j.group_cols = GK_IGEMM_COLS;
        size_t packed = igemm ? (size_t)((j.m + j.group_cols - 1) / j.group_cols * j.nblk) * j.act_block : 0;
        j.xq = gk_cpu_scratch(c, CPU_SCRATCH_ACT, qbytes + packed);
        if (!j.xq) return gk_fail(b, "matmul: out of memory for activations");
        if (igemm) j.xp = j.xq + qbytes;
        gk_cpu_rows(c, j.m, (double)j.k * 8, quantize_rows, &j);
        if (igemm) return matmul_igemm(b, &j);
    }
    int nth = gk_pool_size(c->pool);
    atomic_store(&j.next, 0);
    if (j.m == 1) {
        plan_matvec(&j, nth);
        gk_pool_run(c->pool, matvec_worker, &j);
    } else {
        plan_tiles(&j, nth);
        if (j.x8) {
            j.thread_bytes = (size_t)round_up(j.rows_per_unit * (int64_t)j.wrow, 64);
            j.thread_mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j.thread_bytes * (size_t)nth);
            if (!j.thread_mem) return gk_fail(b, "matmul: out of memory for gathering rows");
        }
        gk_pool_run(c->pool, tile_worker, &j);
    }
    return 0;
}
