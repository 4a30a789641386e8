/* Prepared Q4_K weights on the cpu backend: the groups-of-eight layout (kernels/cpu/q4_k_x8.h)
 * byte by byte against ggml's scale packing written out here, pack/unpack as inverses on any
 * bytes, the gathered rows the packed GEMM packs from, and upload/download of a prepared tensor
 * through whole and partial groups. The matmul and embedding results of prepared Q4_K weights
 * against the ref oracle are in test_kernels_ops.c (every shape there runs prepared too). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/backend.h"
#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/q4_k_x8.h"

#define RAND32_SEED 8181u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"
#include "tests/prepared_check.h"

enum { SB = 144 };

/* ggml's get_scale_min_k4, spelled out: sub-block j's 6-bit scale and min from 12 bytes. */
static void scale_min(const unsigned char *s, int j, int *sc, int *mn) {
    *sc = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    *mn = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4;
}

/* The layout of q4_k_x8.h, read back field by field from 8 rows of 2 random super-blocks. */
static void test_layout_by_hand(void **state) {
    (void)state;
    enum { NB = 2, WROW = NB * SB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), group[NB * GK_X8K_BLOCK];
    gk_q4_k_x8_pack(rows, WROW, NB, group);
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < 8; r++) {
            const unsigned char *q = rows + r * WROW + b * SB, *g = group + b * GK_X8K_BLOCK;
            assert_memory_equal(g + 2 * r, q, 2);        /* d */
            assert_memory_equal(g + 16 + 2 * r, q + 2, 2);   /* dmin */
            for (int j = 0; j < 8; j++) {
                int sc, mn, n = 8 * j + r, t = n % 32, h = n / 32;
                scale_min(q + 4, j, &sc, &mn);
                assert_int_equal((g[32 + t] >> 4 * h) & 15, sc & 15);
                assert_int_equal((g[64 + t] >> 4 * h) & 15, mn & 15);
                assert_int_equal((g[96 + t] >> 2 * h) & 3, sc >> 4);
                assert_int_equal((g[96 + t] >> (4 + 2 * h)) & 3, mn >> 4);
            }
            for (int i = 0; i < 4; i++)
                for (int v = 0; v < 8; v++)
                    assert_memory_equal(g + 128 + 256 * i + 32 * v + 4 * r, q + 16 + 32 * i + 4 * v, 4);
        }
    free(rows);
}

/* Every bit of a super-block has one place in the group: unpack(pack(rows)) == rows for any
 * bytes; one row, and a range of super-blocks of the first rows, read back likewise. */
static void test_pack_inverse(void **state) {
    (void)state;
    enum { NB = 5, WROW = NB * SB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), *group = malloc(NB * GK_X8K_BLOCK), *back = malloc(8 * WROW);
    gk_q4_k_x8_pack(rows, WROW, NB, group);
    gk_q4_k_x8_unpack(group, NB, back, WROW);
    assert_memory_equal(back, rows, 8 * WROW);
    memset(back, 0, 8 * WROW);
    gk_q4_k_x8_row(group, NB, 6, back);
    assert_memory_equal(back, rows + 6 * WROW, WROW);
    unsigned char part[3 * 2 * SB];   /* super-blocks 2..3 of rows 0..2 */
    gk_q4_k_x8_rows(group, 3, 2, 2, part, 2 * SB);
    for (int r = 0; r < 3; r++) assert_memory_equal(part + r * 2 * SB, rows + r * WROW + 2 * SB, 2 * SB);
    free(rows), free(group), free(back);
}

static int x8k_configs;   /* configurations whose table stores Q4_K in groups */

/* Upload and download of a prepared Q4_K tensor see the row layout, whole and in ranges that
 * cut groups and rows; then its matrix-vector product equals the same bytes unprepared. */
static void upload_download(pair *p) {
    enum { K = 512, N = 24, NB = K / 256 };
    gk_backend *b = p->cpu;
    if (!gk_ukernels_select(p->isa)->t[GK_Q4_K].matvec_x8) return;
    x8k_configs++;
    unsigned char *a = prepared_rows(GK_Q4_K, N, K), *c = prepared_rows(GK_Q4_K, N, K);
    check_prepared_copies(b, GK_Q4_K, K, N, a, c, GK_LAYOUT_Q4_K_X8);
    free(a), free(c);
}

static void test_prepared_upload_download(void **state) {
    (void)state;
    for_each_config(upload_download);
    if (!x8k_configs) skip();   /* no table here stores Q4_K in groups (scalar only) */
}

/* A weight whose layout field names no layout of its type, or none of its table, is refused by
 * name, not misread. */
static void test_unknown_layout_refused(void **state) {
    (void)state;
    gk_backend *b = open_backend("cpu", NULL, 1);
    gk_tensor t, x, y;
    assert_int_equal(gk_new2d(b, &t, GK_Q4_K, 256, 8), 0);
    assert_int_equal(gk_new2d(b, &x, GK_F32, 256, 1), 0);
    assert_int_equal(gk_new2d(b, &y, GK_F32, 8, 1), 0);
    t.layout = 1;   /* Q4_0's layout on a Q4_K tensor */
    assert_int_not_equal(gk_matmul(b, &y, &t, &x, NULL), 0);
    assert_non_null(strstr(gk_backend_error(b), "storage layout 1"));
    unsigned char buf[SB];
    assert_int_not_equal(b->ops->download(b, &t, 0, buf, sizeof buf), 0);
    assert_non_null(strstr(gk_backend_error(b), "storage layout 1"));
    t.layout = 0;
    b->ops->free(b, &t), b->ops->free(b, &x), b->ops->free(b, &y);
    gk_backend_close(b);
    check_layout_refused(GK_Q4_K, 256, GK_LAYOUT_Q4_K_X8);   /* its own layout where its kernel is missing */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_pack_inverse),
        cmocka_unit_test(test_prepared_upload_download),
        cmocka_unit_test(test_unknown_layout_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
