/* Q4_0 in groups of eight rows (layout in q4_0_x8.h): portable conversions, off the hot path
 * (the load, embedding lookups, the packed GEMM's pack, which then runs over every column). */
#include "kernels/cpu/q4_0_x8.h"

#include <string.h>

enum { Q4_BYTES = 18, VEC = 32 };

void gk_q4_0_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8_BLOCK)
        for (int r = 0; r < GK_X8_ROWS; r++) {
            const uint8_t *q = rows + (size_t)r * wrow + (size_t)b * Q4_BYTES;
            memcpy(group + 2 * r, q, 2);
            for (int v = 0; v < 4; v++) memcpy(group + 16 + VEC * v + 4 * r, q + 2 + 4 * v, 4);
        }
}

void gk_q4_0_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8_BLOCK, row += Q4_BYTES) {
        memcpy(row, group + 2 * r, 2);
        for (int v = 0; v < 4; v++) memcpy(row + 2 + 4 * v, group + 16 + VEC * v + 4 * r, 4);
    }
}

void gk_q4_0_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow) {
    for (int r = 0; r < GK_X8_ROWS; r++) gk_q4_0_x8_row(group, nb, r, rows + (size_t)r * wrow);
}

void gk_q4_0_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row) {
    for (int r = 0; r < rows; r++) gk_q4_0_x8_row(group + (size_t)b0 * GK_X8_BLOCK, nb, r, out + (size_t)r * out_row);
}

/* Eight nibbles' bytes at a time (a word, SWAR): low nibbles to lo, high nibbles to hi. */
static void split_nibbles(const uint8_t *q, uint8_t *lo, uint8_t *hi) {
    const uint64_t m = 0x0f0f0f0f0f0f0f0full;
    for (int i = 0; i < VEC; i += 8) {
        uint64_t w, l, h;
        memcpy(&w, q + i, 8);
        l = w & m, h = (w >> 4) & m;
        memcpy(lo + i, &l, 8);
        memcpy(hi + i, &h, 8);
    }
}

/* Panel byte (g*R + r)*4 + i is row r's weight 4g+i: for g < 4 the low nibbles of the group's
 * vector g, for g >= 4 the high nibbles of vector g-4, each already in row order, so a group's
 * eight rows are one 32-byte run of the panel. */
void gk_q4_0_x8_igemm_pack(const uint8_t *group, int64_t nb_row, int rows, int R, int64_t b0, int64_t nb,
                           gk_f16_rows_fn f16_to_f32, uint8_t *panel) {
    const size_t block_bytes = (size_t)R * (32 + 4), group_bytes = (size_t)nb_row * GK_X8_BLOCK;
    const int groups = rows / GK_X8_ROWS;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *dst = panel + (size_t)b * block_bytes;
        for (int h = 0; h < groups; h++) {
            const uint8_t *src = group + (size_t)h * group_bytes + (size_t)(b0 + b) * GK_X8_BLOCK;
            for (int v = 0; v < 4; v++)
                split_nibbles(src + 16 + VEC * v, dst + ((size_t)v * R + 8 * h) * 4, dst + ((size_t)(v + 4) * R + 8 * h) * 4);
            uint16_t hs[GK_X8_ROWS];
            float fs[GK_X8_ROWS];
            memcpy(hs, src, sizeof hs);
            f16_to_f32(hs, fs, GK_X8_ROWS);
            memcpy(dst + (size_t)R * 32 + 4 * 8 * (size_t)h, fs, sizeof fs);
        }
        for (int h = groups; h < R / GK_X8_ROWS; h++) {   /* rows past those packed: zero weights and scales */
            for (int g = 0; g < 8; g++) memset(dst + ((size_t)g * R + 8 * h) * 4, 0, VEC);
            memset(dst + (size_t)R * 32 + 4 * 8 * (size_t)h, 0, 32);
        }
    }
}
