/* Q8_0 in groups of eight rows (layout in q8_0_x8.h): portable conversions, off the hot path
 * (the load, embedding lookups, the packed GEMM's pack, which then runs over every column). */
#include "kernels/cpu/q8_0_x8.h"

#include <string.h>

enum { Q8_BYTES = 34, VEC = 32, VECS = 8 };

void gk_q8_0_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8Q8_BLOCK)
        for (int r = 0; r < 8; r++) {
            const uint8_t *q = rows + (size_t)r * wrow + (size_t)b * Q8_BYTES;
            memcpy(group + 2 * r, q, 2);
            for (int v = 0; v < VECS; v++) memcpy(group + 16 + VEC * v + 4 * r, q + 2 + 4 * v, 4);
        }
}

void gk_q8_0_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8Q8_BLOCK, row += Q8_BYTES) {
        memcpy(row, group + 2 * r, 2);
        for (int v = 0; v < VECS; v++) memcpy(row + 2 + 4 * v, group + 16 + VEC * v + 4 * r, 4);
    }
}

void gk_q8_0_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow) {
    for (int r = 0; r < 8; r++) gk_q8_0_x8_row(group, nb, r, rows + (size_t)r * wrow);
}

void gk_q8_0_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row) {
    for (int r = 0; r < rows; r++)
        gk_q8_0_x8_row(group + (size_t)b0 * GK_X8Q8_BLOCK, nb, r, out + (size_t)r * out_row);
}
