/* Many-column GEMM on AMX-BF16 tiles for Q4_0, Q8_0, F16 and BF16 weights (the packed-GEMM path of
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
 * A panel's block (32 inputs of 32 weight rows): row r's 32 weights × scale as BF16 at 64r,
 * 2048 bytes; rows past those packed are 0. Tile A is 16 of those rows, tile B one activation
 * group's 32 inputs (16 rows of input pairs × 16 columns), tile C 16 weight rows × 16 columns of
 * float. Two row halves × two column groups: four C tiles, each A and B tile used twice. One
 * 16×16 transpose per C tile turns weight rows into y's columns.
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
    ROWS = 16,                    /* rows of one tile */
    PANEL_ROWS = GK_AMX_BGEMM_ROWS,
    COLS = GK_IGEMM_BF16_COLS,    /* columns of one activation group */
    TILE = 1024,                  /* 16 rows × 32 inputs as BF16 */
    BLOCK = GK_AMX_BGEMM_BLOCK,   /* one 32-input block of a panel: two tiles */
};
/* Tile numbers: literal macros, since the intrinsics paste them into the instruction's text.
 * W0/W1: the panel's rows 0..15 and 16..31; XA/XB: two column groups; C<group><half>. */
#define T_W0 0
#define T_W1 1
#define T_XA 2
#define T_XB 3
#define T_CA0 4
#define T_CA1 5
#define T_CB0 6
#define T_CB1 7

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
    cfg.colsb[T_XA] = cfg.colsb[T_CA0] = cfg.colsb[T_CA1] = (uint16_t)(4 * na);
    cfg.colsb[T_XB] = cfg.colsb[T_CB0] = cfg.colsb[T_CB1] = (uint16_t)(4 * (nb ? nb : na));
    __asm__ volatile("ldtilecfg %0" ::"m"(*(const char(*)[64]) & cfg));
}

/* ---- packing ------------------------------------------------------------------------------- */

/* 32 floats (lo: inputs 0..15, hi: 16..31) as BF16, in input order, at dst. */
static inline void store_bf16(uint8_t *dst, __m512 lo, __m512 hi) {
    _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* Block b's row scales (the f16 at the start of each row's block of bb bytes) as float, 0 past
 * the rows, so each row's scale is one broadcast load. */
static inline void row_scales(const char *w, size_t wrow, int rows, size_t off, float *sc) {
    _Alignas(32) uint16_t h[PANEL_ROWS];
    for (int r = 0; r < PANEL_ROWS; r++) {
        h[r] = 0;
        if (r < rows) memcpy(&h[r], w + (size_t)r * wrow + off, 2);
    }
    _mm512_store_ps(sc, _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h)));
    _mm512_store_ps(sc + 16, _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(h + 16))));
}

/* F16 and BF16 weights: 32 inputs of a row, converted (BF16: copied). */
static void pack_float(int bf16, const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *dst = (uint8_t *)panel + (size_t)b * BLOCK;
        for (int r = 0; r < PANEL_ROWS; r++, dst += 64) {
            if (r >= rows) {
                _mm512_storeu_si512(dst, _mm512_setzero_si512());
                continue;
            }
            const char *src = w + (size_t)r * wrow + (size_t)(b0 + b) * 64;
            _mm_prefetch(src + 256, _MM_HINT_T0);
            if (bf16) {
                _mm512_storeu_si512(dst, _mm512_loadu_si512(src));
                continue;
            }
            store_bf16(dst, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)src)),
                       _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + 32))));
        }
    }
}

void gk_amx_bgemm_pack_f16(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    pack_float(0, w, wrow, rows, b0, nb, panel);
}

void gk_amx_bgemm_pack_bf16(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    pack_float(1, w, wrow, rows, b0, nb, panel);
}

/* Every pack walks 32 rows a block at a time, so each block touches 32 rows' lines; the
 * hardware prefetcher does not keep up with 32 streams, and a software prefetch 256 bytes
 * ahead in each row is worth ~10% of tinyllama Q4_0 prefill 128 (2 threads, Xeon VM; 512 bytes
 * ahead was slower). */

/* Q4_0 row block at src (past its scale), scale d: weight = d·(q - 8), q the nibbles (inputs
 * 0..15 low, 16..31 high). A row's block takes only 16 values: they are computed (one
 * multiply, one conversion) and the 32 nibbles pick theirs with one word permute, the same
 * BF16 as converting each product (half the work). */
static inline void q4_0_row(const char *src, float d, uint8_t *dst) {
    const __m128i lo = _mm_set1_epi8(0x0f);
    const __m512 q8 = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m128i q = _mm_loadu_si128((const __m128i *)src);
    const __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), lo), _mm_and_si128(q, lo));
    const __m256i vals = (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(q8, _mm512_set1_ps(d)));
    _mm512_storeu_si512(dst, _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(nib), _mm512_castsi256_si512(vals)));
}

/* Q8_0 likewise: weight = d·q. */
static inline void q8_0_row(const char *src, float d, uint8_t *dst) {
    const __m512 vd = _mm512_set1_ps(d);
    const __m512 ql = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)src)));
    const __m512 qh = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(src + 16))));
    store_bf16(dst, _mm512_mul_ps(ql, vd), _mm512_mul_ps(qh, vd));
}

static inline __attribute__((always_inline)) void pack_quant(int q4, const char *w, size_t wrow, int rows,
                                                             int64_t b0, int64_t nb, void *panel) {
    _Alignas(64) float sc[PANEL_ROWS];
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * (q4 ? 18 : 34);
        uint8_t *dst = (uint8_t *)panel + (size_t)b * BLOCK;
        row_scales(w, wrow, rows, off, sc);
        int r = 0;
        for (; r < rows && r < PANEL_ROWS; r++) {
            const char *src = w + (size_t)r * wrow + off + 2;
            _mm_prefetch(src + 256, _MM_HINT_T0);
            if (q4) q4_0_row(src, sc[r], dst + 64 * r);
            else q8_0_row(src, sc[r], dst + 64 * r);
        }
        for (; r < PANEL_ROWS; r++) _mm512_storeu_si512(dst + 64 * r, _mm512_setzero_si512());
    }
}

void gk_amx_bgemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    pack_quant(1, w, wrow, rows, b0, nb, panel);
}

void gk_amx_bgemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    pack_quant(0, w, wrow, rows, b0, nb, panel);
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

/* Block s: both row halves × group A and, when two, group B. */
#define STEP(two, s)                                                  \
    do {                                                              \
        _tile_loadd(T_W0, p + (size_t)(s) * BLOCK, 64);               \
        _tile_loadd(T_XA, xa_ + (size_t)(s) * TILE, 64);              \
        _tile_loadd(T_W1, p + (size_t)(s) * BLOCK + TILE, 64);        \
        _tile_dpbf16ps(T_CA0, T_W0, T_XA);                            \
        _tile_dpbf16ps(T_CA1, T_W1, T_XA);                            \
        if (two) {                                                    \
            _tile_loadd(T_XB, xb_ + (size_t)(s) * TILE, 64);          \
            _tile_dpbf16ps(T_CB0, T_W0, T_XB);                        \
            _tile_dpbf16ps(T_CB1, T_W1, T_XB);                        \
        }                                                             \
    } while (0)

/* ns blocks of one panel × group A (na columns at xa_, into ya) and, when two, group B (full, at
 * xb_, into yb). Each A tile meets two groups and each X tile two row halves: 1 KiB of tile
 * loads per product, which L2 can feed (2 KiB per product was L2-bound at ~550 GMAC/s). */
static inline __attribute__((always_inline)) void pass(int two, int64_t ns, const uint8_t *p, const uint8_t *xa_,
                                                       const uint8_t *xb_, int na, float *ya, float *yb,
                                                       int64_t ldy, int nr) {
    _Alignas(64) float buf[ROWS * 16];
    const __mmask16 lo = (__mmask16)(nr >= 16 ? 0xffffu : (1u << nr) - 1u);
    const __mmask16 hi = (__mmask16)(nr <= 16 ? 0u : nr >= 32 ? 0xffffu : (1u << (nr - 16)) - 1u);
    _tile_zero(T_CA0);
    _tile_zero(T_CA1);
    if (two) {
        _tile_zero(T_CB0);
        _tile_zero(T_CB1);
    }
    for (int64_t s = 0; s < ns; s++) STEP(two, s);
    /* tile c (n columns) through buf into yy's rows in mask */
#define FLUSH(c, n, yy, mask)                    \
    do {                                         \
        _tile_stored(c, buf, 64);                \
        add_tile(buf, n, yy, ldy, mask);         \
    } while (0)
    FLUSH(T_CA0, na, ya, lo);
    if (hi) FLUSH(T_CA1, na, ya + ROWS, hi);
    if (two) {
        FLUSH(T_CB0, COLS, yb, lo);
        if (hi) FLUSH(T_CB1, COLS, yb + ROWS, hi);
    }
#undef FLUSH
}

/* The groups of nc columns in pairs: a pass takes a full group B and group A after it (A may be
 * the partial last one), so every configuration is (n, 16) or (n, -). */
void gk_amx_bgemm(int64_t ns, const void *panel, const void *xp, size_t group_bytes, int nc, float *y, int64_t ldy,
                  int nr) {
    const uint8_t *p = panel, *x = xp;
    const int groups = (nc + COLS - 1) / COLS;
    int configured = -1;
    for (int g = 0; g < groups; g += 2) {
        const int two = g + 1 < groups;
        const int ga = two ? g + 1 : g;   /* group A: the later one, maybe partial */
        const int na = nc - ga * COLS < COLS ? nc - ga * COLS : COLS;
        const int key = two ? na : 100 + na;
        if (key != configured) load_config(na, two ? COLS : 0), configured = key;
        float *ya = y + (int64_t)ga * COLS * ldy;
        if (two)
            pass(1, ns, p, x + (size_t)ga * group_bytes, x + (size_t)g * group_bytes, na, ya, y + (int64_t)g * COLS * ldy,
                 ldy, nr);
        else
            pass(0, ns, p, x + (size_t)ga * group_bytes, NULL, na, ya, NULL, ldy, nr);
    }
    _tile_release();
}
