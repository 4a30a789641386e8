/* Q6_K in groups of eight rows (layout in q6_k_x8.h): portable conversions, off the hot path
 * (the load, embedding lookups, the packed GEMM's pack, which then runs over every column). */
#include "kernels/cpu/q6_k_x8.h"

#include <string.h>

enum { SB = 210, QL = 0, QH = 128, SC = 192, D = 208, VEC = 32 };

/* A row's super-block moves as RUNS runs of bytes: run i of row r is n bytes at *row_at in
 * the row layout and at *group_at in the group's super-block (q6_k_x8.h). */
enum { RUNS = 1 + 16 + 2 * (16 + 8) };

static int run(int i, int r, int *row_at, int *group_at) {
    if (i == 0) return *row_at = D, *group_at = 2 * r, 2;
    if (i <= 16) return *row_at = SC + i - 1, *group_at = GK_X8Q6_SC + 8 * (i - 1) + r, 1;
    i -= 17;
    const int h = i / 24, v = i % 24; /* per half: 16 ql vectors, then 8 qh vectors */
    if (v < 16) {                     /* ql vector v: step (v % 8) / 2, at 64 when v >= 8, 32 more when odd */
        *group_at =
            GK_X8Q6_STEPS + GK_X8Q6_STEP * (4 * h + (v % 8) / 2) + 64 * (v / 8) + VEC * (v % 2) + 4 * r;
        return *row_at = QL + 64 * h + 4 * v, 4;
    }
    const int w = v - 16; /* qh vector w: step w / 2, at 128, 32 more when odd */
    *group_at = GK_X8Q6_STEPS + GK_X8Q6_STEP * (4 * h + w / 2) + 128 + VEC * (w % 2) + 4 * r;
    return *row_at = QH + 32 * h + 4 * w, 4;
}

void gk_q6_k_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8Q6_BLOCK)
        for (int r = 0; r < 8; r++)
            for (int i = 0, ra, ga; i < RUNS; i++) {
                const int n = run(i, r, &ra, &ga);
                memcpy(group + ga, rows + (size_t)r * wrow + (size_t)b * SB + ra, (size_t)n);
            }
}

void gk_q6_k_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row) {
    for (int64_t b = 0; b < nb; b++, group += GK_X8Q6_BLOCK, row += SB)
        for (int i = 0, ra, ga; i < RUNS; i++) {
            const int n = run(i, r, &ra, &ga);
            memcpy(row + ra, group + ga, (size_t)n);
        }
}

void gk_q6_k_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow) {
    for (int r = 0; r < 8; r++) gk_q6_k_x8_row(group, nb, r, rows + (size_t)r * wrow);
}

void gk_q6_k_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row) {
    for (int r = 0; r < rows; r++)
        gk_q6_k_x8_row(group + (size_t)b0 * GK_X8Q6_BLOCK, nb, r, out + (size_t)r * out_row);
}
