/* Many-column GEMM on AMX-BF16 tiles for Q4_0 and Q8_0 weights (the packed-GEMM path of
 * cpu_matmul.c with activations in microkernels.h's BF16X16 layout).
 *
 * Why BF16 and not INT8 for integer weights: every 32-element block has its own scale, so an
 * INT8 tile product must be stored and rescaled with AVX-512 after every block (measured on a
 * Sapphire Rapids-class VM, one thread: the tile store alone costs as much as the multiply, and
 * that kernel reached ~370 GMAC/s). Dequantising the weights to BF16 while packing (scale
 * folded in) lets the C tile accumulate over all of K: per 32 inputs and 16×16 outputs, one
 * TDPBF16PS and two tile loads, and one store per call. Each product is then BF16 × BF16 into
 * FP32: weight and activation each rounded once to 8 significant bits (relative error <= 2^-9
 * each), against Q8_0 activations' absolute error of up to max|x|/254 on the integer path.
 *
 * A panel's block (32 inputs of 16 weight rows): row r's 32 weights × scale as BF16 at 64r,
 * 1024 bytes; rows past those packed are 0. Tile A is that block, tile B one activation group's
 * 32 inputs (16 rows of input pairs × 16 columns), tile C 16 weight rows × 16 columns of float.
 * Two column groups share each A tile; blocks alternate between two sets of tiles so loads and
 * products overlap. One 16×16 transpose per group turns weight rows into y's columns.
 *
 * The tile configuration is written with our own ldtilecfg (GCC 12's _tile_loadconfig gives the
 * instruction an 8-byte operand and the compiler drops the stores that fill the 64 bytes),
 * loaded on every call (another kernel on this thread may have changed it); the tiles are
 * released at the end so a context switch does not save 8 KiB of tile data. Only called after
 * table_amx.c checked the CPU and got Linux's permission for the tile state. */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/amx.h"
#include "kernels/cpu/x86/igemm_avx512.h"

enum {
    ROWS = 16,
    COLS = GK_IGEMM_BF16_COLS,    /* columns of one activation group */
    TILE = 1024,                  /* one 32-input block of a panel or of an activation group */
};
/* Tile numbers: literal macros, since the intrinsics paste them into the instruction's text. */
#define T_W0 0
#define T_W1 1
#define T_XA0 2
#define T_XA1 3
#define T_XB0 4
#define T_XB1 5
#define T_CA 6
#define T_CB 7

/* The 64-byte tile configuration (palette 1): bytes per row of tile t at 16 + 2t, rows at 48 + t. */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "the tile configuration is 64 bytes");

/* All tiles 16 rows; W 64 bytes a row, group A's (na columns) and B's (nb) X and C 4n bytes. */
static void load_config(int na, int nb) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = ROWS;
    cfg.colsb[T_W0] = cfg.colsb[T_W1] = 64;
    cfg.colsb[T_XA0] = cfg.colsb[T_XA1] = cfg.colsb[T_CA] = (uint16_t)(4 * na);
    cfg.colsb[T_XB0] = cfg.colsb[T_XB1] = cfg.colsb[T_CB] = (uint16_t)(4 * (nb ? nb : na));
    __asm__ volatile("ldtilecfg %0" ::"m"(*(const char(*)[64]) & cfg));
}

/* ---- packing ------------------------------------------------------------------------------- */

/* 32 floats (lo: inputs 0..15, hi: 16..31) as BF16, in input order, at dst. */
static inline void store_bf16(uint8_t *dst, __m512 lo, __m512 hi) {
    _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

static inline float f16_scale(const char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

void gk_amx_bgemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const __m128i lo = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *dst = (uint8_t *)panel + (size_t)b * TILE;
        for (int r = 0; r < ROWS; r++, dst += 64) {
            if (r >= rows) {
                _mm512_storeu_si512(dst, _mm512_setzero_si512());
                continue;
            }
            const char *blk = w + (size_t)r * wrow + (size_t)(b0 + b) * 18;
            const __m128i q = _mm_loadu_si128((const __m128i *)(blk + 2));
            const __m512 d = _mm512_set1_ps(f16_scale(blk));
            const __m128i ql = _mm_sub_epi8(_mm_and_si128(q, lo), eight);   /* inputs 0..15 */
            const __m128i qh = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), lo), eight);
            store_bf16(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(ql)), d),
                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(qh)), d));
        }
    }
}

void gk_amx_bgemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *dst = (uint8_t *)panel + (size_t)b * TILE;
        for (int r = 0; r < ROWS; r++, dst += 64) {
            if (r >= rows) {
                _mm512_storeu_si512(dst, _mm512_setzero_si512());
                continue;
            }
            const char *blk = w + (size_t)r * wrow + (size_t)(b0 + b) * 34;
            const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
            const __m512 d = _mm512_set1_ps(f16_scale(blk));
            store_bf16(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))), d),
                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))), d));
        }
    }
}

/* One activation row (k floats, k a multiple of 32) into column c of its group (at group):
 * each pair of inputs one dword in row p of its block, 16 dwords apart. */
void gk_amx_bgemm_pack_act(const float *x, int64_t k, void *group, int c) {
    const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(COLS));
    uint8_t *dst = (uint8_t *)group + 4 * c;
    for (int64_t i = 0; i < k; i += 32, dst += TILE) {
        __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_i32scatter_epi32(dst, rows, v, 4);
    }
}

/* ---- the kernel ------------------------------------------------------------------------------ */

/* The 16×16 transpose: t[c] holds element c of each of f[0..15]. */
static inline void transpose16(const __m512 f[16], __m512 t[16]) {
    __m512 a[16], b[16];
    for (int i = 0; i < 16; i += 2) {   /* pairs of rows interleaved by element */
        a[i] = _mm512_unpacklo_ps(f[i], f[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(f[i], f[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)   /* 4 rows × 4 elements in each 128-bit lane */
        for (int h = 0; h < 2; h++) {
            __m512 p = a[i + h], q = a[i + 2 + h];
            b[i + 2 * h] = _mm512_shuffle_ps(p, q, _MM_SHUFFLE(1, 0, 1, 0));
            b[i + 2 * h + 1] = _mm512_shuffle_ps(p, q, _MM_SHUFFLE(3, 2, 3, 2));
        }
    for (int j = 0; j < 4; j++) {   /* b[4m + j]: rows 4m..4m+3, element j of each lane */
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

/* C (stored at buf: 16 weight rows of n floats) added into y's n columns, the rows in the mask. */
static void add_tile(const float *buf, int n, float *y, int64_t ldy, __mmask16 rows) {
    const __mmask16 cols = (__mmask16)((1u << n) - 1u);
    __m512 f[ROWS], t[16];
    for (int r = 0; r < ROWS; r++) f[r] = _mm512_maskz_loadu_ps(cols, buf + 16 * r);
    transpose16(f, t);
    gk_igemm_add_columns(y, ldy, n, rows, t);
}

#define STEP(w, xa, xb, s)                                            \
    do {                                                              \
        _tile_loadd(w, p + (size_t)(s) * TILE, 64);                   \
        _tile_loadd(xa, xa_ + (size_t)(s) * TILE, 64);                \
        _tile_dpbf16ps(T_CA, w, xa);                                  \
        if (two) {                                                    \
            _tile_loadd(xb, xb_ + (size_t)(s) * TILE, 64);            \
            _tile_dpbf16ps(T_CB, w, xb);                              \
        }                                                             \
    } while (0)

/* ns blocks of one panel × group A (na columns at xa_) and, when two, group B (full, at xb_). */
static inline __attribute__((always_inline)) void pass(int two, int64_t ns, const uint8_t *p, const uint8_t *xa_,
                                                       const uint8_t *xb_, int na, float *y, int64_t ldy,
                                                       __mmask16 rows) {
    _Alignas(64) float buf[ROWS * 16];
    _tile_zero(T_CA);
    if (two) _tile_zero(T_CB);
    int64_t s = 0;
    for (; s + 2 <= ns; s += 2) {
        STEP(T_W0, T_XA0, T_XB0, s);
        STEP(T_W1, T_XA1, T_XB1, s + 1);
    }
    if (s < ns) STEP(T_W0, T_XA0, T_XB0, s);
    _tile_stored(T_CA, buf, 64);
    add_tile(buf, na, y, ldy, rows);
    if (two) {
        _tile_stored(T_CB, buf, 64);
        add_tile(buf, COLS, y - COLS * ldy, ldy, rows);   /* group B comes first in y: see below */
    }
}

/* The groups of nc columns in pairs: a pass takes a full group B and group A after it (A may be
 * the partial last one), so every configuration is (n, 16) or (16, 16). */
static void bgemm(int64_t ns, const void *panel, const void *xp, size_t group_bytes, int nc, float *y, int64_t ldy,
                  int nr) {
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    const uint8_t *p = panel, *x = xp;
    const int groups = (nc + COLS - 1) / COLS;
    int configured = -1;
    for (int g = 0; g < groups; g += 2) {
        const int two = g + 1 < groups;
        const int ga = two ? g + 1 : g;   /* group A: the later one, maybe partial */
        const int na = nc - ga * COLS < COLS ? nc - ga * COLS : COLS;
        const int key = two ? na : 100 + na;
        if (key != configured) load_config(na, two ? COLS : 0), configured = key;
        if (two)
            pass(1, ns, p, x + (size_t)ga * group_bytes, x + (size_t)g * group_bytes, na, y + (int64_t)ga * COLS * ldy,
                 ldy, rows);
        else
            pass(0, ns, p, x + (size_t)ga * group_bytes, NULL, na, y + (int64_t)ga * COLS * ldy, ldy, rows);
    }
    _tile_release();
}

void gk_amx_bgemm(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y, int64_t ldy,
                  int nr) {
    bgemm(nb, panel, xp, group_bytes, nc, y, ldy, nr);
}
