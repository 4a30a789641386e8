/* Prepared Q6_K weights on the cpu backend: the groups-of-eight layout (kernels/cpu/q6_k_x8.h)
 * byte by byte and weight by weight (ggml's 6-bit decode of quant.h, written out here, read
 * back from the group's fields), pack/unpack as inverses on any bytes, the gathered rows the
 * packed GEMM packs from, upload/download through whole and partial groups, and the refusal of
 * the layout on a table without its kernel. The matmul results of prepared Q6_K weights against
 * the ref oracle are in test_kernels_ops.c (every shape there runs prepared too). */
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
#include "kernels/cpu/q6_k_x8.h"

#define RAND32_SEED 8686u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"
#include "tests/prepared_check.h"

enum { SB = 210 };

/* Input p's 6-bit quant (0..63) of a row-layout super-block, as quant.h's loop decodes it. */
static int row_q(const unsigned char *b, int p) {
    const int h = p / 128, k = (p % 128) / 32, l = p % 32;
    const unsigned char *ql = b + 64 * h, *qh = b + 128 + 32 * h;
    const int lo = k % 2 ? ql[l + 32] : ql[l];
    return ((k < 2 ? lo & 15 : lo >> 4) | ((qh[l] >> (2 * k)) & 3) << 4);
}

/* The same from the group (q6_k_x8.h): step 4h + l/8; in it, at 0 (k even) or 64 (k odd) the ql
 * vectors of l, at 128 the qh vectors, the second of each pair 32 bytes on. */
static int group_q(const unsigned char *g, int r, int p) {
    const int h = p / 128, k = (p % 128) / 32, l = p % 32, i = l % 4, e = (l / 4) % 2;
    const unsigned char *step = g + 144 + 192 * (4 * h + l / 8);
    const int lo = step[64 * (k % 2) + 32 * e + 4 * r + i], hi = step[128 + 32 * e + 4 * r + i];
    return ((k < 2 ? lo & 15 : lo >> 4) | ((hi >> (2 * k)) & 3) << 4);
}

static void test_layout_by_hand(void **state) {
    (void)state;
    enum { NB = 2, WROW = NB * SB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), *group = malloc(NB * GK_X8Q6_BLOCK);
    gk_q6_k_x8_pack(rows, WROW, NB, group);
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < 8; r++) {
            const unsigned char *q = rows + r * WROW + b * SB, *g = group + b * GK_X8Q6_BLOCK;
            assert_memory_equal(g + 2 * r, q + 208, 2); /* d */
            for (int j = 0; j < 16; j++) assert_int_equal(g[GK_X8Q6_SC + 8 * j + r], q[192 + j]);
            for (int p = 0; p < 256; p++) assert_int_equal(group_q(g, r, p), row_q(q, p));
        }
    free(rows), free(group);
}

static void test_pack_inverse(void **state) {
    (void)state;
    enum { NB = 3, WROW = NB * SB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), *group = malloc(NB * GK_X8Q6_BLOCK),
                  *back = malloc(8 * WROW);
    gk_q6_k_x8_pack(rows, WROW, NB, group);
    gk_q6_k_x8_unpack(group, NB, back, WROW);
    assert_memory_equal(back, rows, 8 * WROW);
    memset(back, 0, 8 * WROW);
    gk_q6_k_x8_row(group, NB, 7, back);
    assert_memory_equal(back, rows + 7 * WROW, WROW);
    unsigned char part[4 * 2 * SB]; /* super-blocks 1..2 of rows 0..3 */
    gk_q6_k_x8_rows(group, 4, 1, 2, part, 2 * SB);
    for (int r = 0; r < 4; r++) assert_memory_equal(part + r * 2 * SB, rows + r * WROW + SB, 2 * SB);
    free(rows), free(group), free(back);
}

static int x8q6_configs; /* configurations whose table stores Q6_K in groups */

static void upload_download(pair *p) {
    enum { K = 512, N = 24, NB = K / 256 };
    if (!gk_ukernels_select(p->isa)->t[GK_Q6_K].matvec_x8) return;
    x8q6_configs++;
    unsigned char *a = prepared_rows(GK_Q6_K, N, K), *c = prepared_rows(GK_Q6_K, N, K);
    check_prepared_copies(p->cpu, GK_Q6_K, K, N, a, c, GK_LAYOUT_Q6_K_X8);
    free(a), free(c);
}

static void test_prepared_upload_download(void **state) {
    (void)state;
    for_each_config(upload_download);
    if (!x8q6_configs) skip(); /* no table here stores Q6_K in groups (AVX-512 VNNI only) */
}

/* Q6_K's layout on a table without its kernel is refused by name, not called. */
static void test_layout_refused_without_kernel(void **state) {
    (void)state;
    check_layout_refused(GK_Q6_K, 256, GK_LAYOUT_Q6_K_X8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_pack_inverse),
        cmocka_unit_test(test_prepared_upload_download),
        cmocka_unit_test(test_layout_refused_without_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
