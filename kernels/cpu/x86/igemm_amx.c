/* Packed integer GEMM for Q4_0 and Q8_0 weights × Q8_0 activations on AMX-INT8 tiles (the
 * many-column path of cpu_matmul.c; the activations in microkernels.h's VNNI16 layout).
 *
 * One TDPBSSD per 32-element block: tile A is the panel's block, 16 weight rows of 32 signed
 * bytes (the weights as they are, so packing is a copy for Q8_0 and a nibble split for Q4_0:
 * no transpose); tile B the 16 activation columns' block in rows of four-byte groups (8 rows
 * of 64 bytes, the VNNI16 layout); tile C 16 weight rows × 16 columns of int32. The block
 * scales differ per block, so each block's C is stored and scaled into float accumulators
 * with AVX-512 (f[r] += C[r] × the 16 column scales × row r's scale): those three vector
 * operations a row, not the tile multiply, bound the kernel. Blocks are software-pipelined in
 * two sets of tiles so the tile unit works on block b+1 while the vector units scale block b.
 * The accumulators are weight rows × columns; one 16×16 transpose per call turns them into
 * y's columns.
 *
 * The tile configuration is written with our own ldtilecfg (GCC 12's _tile_loadconfig gives
 * the instruction an 8-byte operand and the compiler drops the stores that fill the 64 bytes),
 * loaded on every call (another kernel on this thread may have changed it), and the tiles are
 * released at the end so a context switch does not save 8 KiB of tile data. Only called after
 * table_amx.c checked the CPU and got Linux's permission for the tile state. */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/amx.h"
#include "kernels/cpu/x86/igemm_avx512.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    ROWS = 16,
    QBYTES = ROWS * 32,                    /* weight bytes of one block of a panel */
    COLS = GK_IGEMM_VNNI_COLS,             /* columns of one activation group */
    XBYTES = GK_IGEMM_ACT_VNNI_BYTES,      /* one group's block */
    XSCALES = COLS * 32,                   /* offset of a group block's column scales */
};
/* Tile numbers: literal macros, since the intrinsics paste them into the instruction's text. */
#define T_W0 0
#define T_W1 1
#define T_X0 2
#define T_X1 3
#define T_C0 4
#define T_C1 5

/* The 64-byte tile configuration (palette 1): bytes per row of tile t at 16 + 2t, rows at 48 + t. */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "the tile configuration is 64 bytes");

/* W: 16 rows × 32 bytes; X: 8 rows × n four-byte columns; C: 16 rows × n int32. */
static void load_config(int n) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    cfg.colsb[T_W0] = cfg.colsb[T_W1] = 32, cfg.rows[T_W0] = cfg.rows[T_W1] = ROWS;
    cfg.colsb[T_X0] = cfg.colsb[T_X1] = (uint16_t)(4 * n), cfg.rows[T_X0] = cfg.rows[T_X1] = 8;
    cfg.colsb[T_C0] = cfg.colsb[T_C1] = (uint16_t)(4 * n), cfg.rows[T_C0] = cfg.rows[T_C1] = ROWS;
    __asm__ volatile("ldtilecfg %0" ::"m"(*(const char(*)[64]) & cfg));
}

/* ---- packing: 16 rows × 32 signed bytes, then the 16 row scales as float --------------------- */

/* The row scales of one block (the f16 at the start of each row's block), 0 past the rows. */
static void row_scales(const char *w, size_t wrow, int rows, size_t off, uint8_t *dst) {
    uint16_t h[ROWS];
    for (int r = 0; r < ROWS; r++) {
        h[r] = 0;
        if (r < rows) memcpy(&h[r], w + (size_t)r * wrow + off, 2);
    }
    _mm512_storeu_ps((float *)dst, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)));
}

void gk_amx_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const __m128i lo = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * 18;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * GK_AMX_IGEMM_BLOCK;
        for (int r = 0; r < ROWS; r++) {   /* elements 0..15: low nibbles; 16..31: high; q - 8 */
            __m128i q = r < rows ? _mm_loadu_si128((const __m128i *)(w + (size_t)r * wrow + off + 2)) : _mm_set1_epi8(-120);
            _mm_storeu_si128((__m128i *)(dst + 32 * r), _mm_sub_epi8(_mm_and_si128(q, lo), eight));
            _mm_storeu_si128((__m128i *)(dst + 32 * r + 16), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), lo), eight));
        }
        row_scales(w, wrow, rows, off, dst + QBYTES);
    }
}

void gk_amx_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * 34;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * GK_AMX_IGEMM_BLOCK;
        for (int r = 0; r < ROWS; r++) {
            __m256i q = r < rows ? _mm256_loadu_si256((const __m256i *)(w + (size_t)r * wrow + off + 2)) : _mm256_setzero_si256();
            _mm256_storeu_si256((__m256i *)(dst + 32 * r), q);
        }
        row_scales(w, wrow, rows, off, dst + QBYTES);
    }
}

/* ---- the kernel ------------------------------------------------------------------------------ */

/* Block b's products into tile c from tiles wt (weights) and xt (activations). */
#define PRODUCTS(wt, xt, c, b)                                             \
    do {                                                                   \
        _tile_loadd(wt, panel + (size_t)(b) * GK_AMX_IGEMM_BLOCK, 32);     \
        _tile_loadd(xt, x + (size_t)(b) * XBYTES, 64);                     \
        _tile_zero(c);                                                     \
        _tile_dpbssd(c, wt, xt);                                           \
    } while (0)

/* Block b's C (tile c) to buf. */
#define STORE(c, buf) _tile_stored(c, buf, 64)

/* f[r] += block b's C row r (stored at buf) × the column scales × row r's scale. */
#define SCALE(b, buf)                                                                              \
    do {                                                                                           \
        const __m512 xs_ = _mm512_maskz_loadu_ps(cols, x + (size_t)(b) * XBYTES + XSCALES);        \
        const float *ws_ = (const float *)(panel + (size_t)(b) * GK_AMX_IGEMM_BLOCK + QBYTES);     \
        for (int r = 0; r < ROWS; r++) {                                                           \
            __m512 v_ = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(cols, (buf) + 16 * r));        \
            f[r] = _mm512_fmadd_ps(v_, _mm512_mul_ps(xs_, _mm512_set1_ps(ws_[r])), f[r]);          \
        }                                                                                          \
    } while (0)

/* The 16×16 transpose: t[c] holds column c of the rows f[0..15]. */
static inline void transpose16(const __m512 f[16], __m512 t[16]) {
    __m512 a[16], b[16];
    for (int i = 0; i < 16; i += 2) {   /* pairs of rows interleaved by element */
        a[i] = _mm512_unpacklo_ps(f[i], f[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(f[i], f[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)   /* 4 rows × 4 columns within each 128-bit lane */
        for (int h = 0; h < 2; h++) {
            __m512 p = a[i + h], q = a[i + 2 + h];
            b[i + 2 * h] = _mm512_shuffle_ps(p, q, _MM_SHUFFLE(1, 0, 1, 0));
            b[i + 2 * h + 1] = _mm512_shuffle_ps(p, q, _MM_SHUFFLE(3, 2, 3, 2));
        }
    /* b[4m + j] (m: rows 4m..4m+3; j: column j of each lane, lanes = column blocks of 4) */
    for (int j = 0; j < 4; j++) {
        __m512 r01l = _mm512_shuffle_f32x4(b[j], b[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 r01h = _mm512_shuffle_f32x4(b[j], b[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
        __m512 r23l = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 r23h = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
        t[j] = _mm512_shuffle_f32x4(r01l, r23l, _MM_SHUFFLE(2, 0, 2, 0));
        t[8 + j] = _mm512_shuffle_f32x4(r01l, r23l, _MM_SHUFFLE(3, 1, 3, 1));
        t[4 + j] = _mm512_shuffle_f32x4(r01h, r23h, _MM_SHUFFLE(2, 0, 2, 0));
        t[12 + j] = _mm512_shuffle_f32x4(r01h, r23h, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* One panel × one group of n columns at x over nb blocks, added into y (column c at y + c·ldy,
 * the rows in the mask); the tiles are configured for n. */
static void group(int64_t nb, const uint8_t *panel, const uint8_t *x, int n, float *y, int64_t ldy, __mmask16 rows) {
    _Alignas(64) int32_t even[ROWS * 16], odd[ROWS * 16];
    const __mmask16 cols = (__mmask16)((1u << n) - 1u);
    __m512 f[ROWS], t[16];
    for (int r = 0; r < ROWS; r++) f[r] = _mm512_setzero_ps();
    /* block b: multiplied two steps before its scaling, stored one step before (the tile
     * store's latency is long), in C0/even for even b, C1/odd for odd b */
    PRODUCTS(T_W0, T_X0, T_C0, 0);
    if (nb > 1) PRODUCTS(T_W1, T_X1, T_C1, 1);
    STORE(T_C0, even);
    int64_t b = 0;
    for (; b + 3 < nb; b += 2) {
        PRODUCTS(T_W0, T_X0, T_C0, b + 2);
        STORE(T_C1, odd);
        SCALE(b, even);
        PRODUCTS(T_W1, T_X1, T_C1, b + 3);
        STORE(T_C0, even);
        SCALE(b + 1, odd);
    }
    /* left: b (stored), b+1 (multiplied) and maybe b+2 */
    if (b + 2 < nb) {
        PRODUCTS(T_W0, T_X0, T_C0, b + 2);
        STORE(T_C1, odd);
        SCALE(b, even);
        STORE(T_C0, even);
        SCALE(b + 1, odd);
        SCALE(b + 2, even);
    } else if (b + 1 < nb) {
        STORE(T_C1, odd);
        SCALE(b, even);
        SCALE(b + 1, odd);
    } else {
        SCALE(b, even);
    }
    transpose16(f, t);
    gk_igemm_add_columns(y, ldy, n, rows, t);
}

void gk_amx_igemm(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y, int64_t ldy,
                  int nr) {
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    const uint8_t *p = panel, *x = xp;
    int configured = 0;
    for (int g = 0; g * COLS < nc; g++) {
        const int n = nc - g * COLS < COLS ? nc - g * COLS : COLS;
        if (n != configured) load_config(n), configured = n;
        group(nb, p, x + (size_t)g * group_bytes, n, y + (int64_t)g * COLS * ldy, ldy, rows);
    }
    _tile_release();
}
