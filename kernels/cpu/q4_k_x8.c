/* Q4_K in groups of eight rows (layout in q4_k_x8.h): portable conversions, off the hot path
 * (the load, embedding lookups, the packed GEMM's pack). */
#include "kernels/cpu/q4_k_x8.h"

#include <string.h>

#include "kernels/cpu/q4_0_x8.h"

enum { SB = 144, QS = 16, ROWS = GK_X8_ROWS, LO = 32, MN = 64, HI = 96, QV = 128 };

/* quant.h's 12 scale bytes as eight scales and eight mins (ggml's get_scale_min_k4). */
static void scales_decode(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 15) | (s[j] >> 6) << 4);
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
    }
}

/* The inverse: every bit of the 12 bytes is one of the 96 scale and min bits. */
static void scales_encode(const uint8_t sc[8], const uint8_t mn[8], uint8_t *s) {
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

/* Super-block b of row r to its place in the group's super-block g. */
static void put_row(const uint8_t *q, int r, uint8_t *g) {
    memcpy(g + 2 * r, q, 2);
    memcpy(g + 16 + 2 * r, q + 2, 2);
    uint8_t sc[8], mn[8];
    scales_decode(q + 4, sc, mn);
    for (int j = 0; j < 8; j++) {   /* index n = 8j + r: byte n % 32, the nibble and bit pair of n / 32 */
        const int n = 8 * j + r, t = n % 32, h = n / 32;
        g[LO + t] = (uint8_t)((g[LO + t] & ~(15 << 4 * h)) | (sc[j] & 15) << 4 * h);
        g[MN + t] = (uint8_t)((g[MN + t] & ~(15 << 4 * h)) | (mn[j] & 15) << 4 * h);
        g[HI + t] = (uint8_t)((g[HI + t] & ~(3 << 2 * h) & ~(3 << (4 + 2 * h))) | (sc[j] >> 4) << 2 * h |
                              (mn[j] >> 4) << (4 + 2 * h));
    }
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < 8; v++) memcpy(g + QV + 256 * i + 32 * v + 4 * r, q + QS + 32 * i + 4 * v, 4);
}

static void get_row(const uint8_t *g, int r, uint8_t *q) {
    memcpy(q, g + 2 * r, 2);
    memcpy(q + 2, g + 16 + 2 * r, 2);
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) {
        const int n = 8 * j + r, t = n % 32, h = n / 32;
        sc[j] = (uint8_t)((g[LO + t] >> 4 * h & 15) | (g[HI + t] >> 2 * h & 3) << 4);
        mn[j] = (uint8_t)((g[MN + t] >> 4 * h & 15) | (g[HI + t] >> (4 + 2 * h) & 3) << 4);
    }
    scales_encode(sc, mn, q + 4);
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < 8; v++) memcpy(q + QS + 32 * i + 4 * v, g + QV + 256 * i + 32 * v + 4 * r, 4);
}

void gk_q4_k_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8K_BLOCK)
        for (int r = 0; r < ROWS; r++) put_row(rows + (size_t)r * wrow + (size_t)b * SB, r, group);
}

void gk_q4_k_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8K_BLOCK, row += SB) get_row(group, r, row);
}

void gk_q4_k_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow) {
    for (int r = 0; r < ROWS; r++) gk_q4_k_x8_row(group, nb, r, rows + (size_t)r * wrow);
}

void gk_q4_k_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row) {
    for (int r = 0; r < rows; r++) gk_q4_k_x8_row(group + (size_t)b0 * GK_X8K_BLOCK, nb, r, out + (size_t)r * out_row);
}
