/* Prepared weights of the "cpu" backend (gk_ops.prepare_weight): a Q4_0, Q4_K, Q8_0 or Q6_K matrix
 * on a table with that type's matvec_x8 kernel is stored in groups of eight rows (q4_0_x8.h,
 * q4_k_x8.h, q8_0_x8.h, q6_k_x8.h),
 * converted in place one group at a time; upload and download convert the groups they touch, so
 * the bytes a caller sees stay the row layout. Other tensors and tables keep the row layout (and
 * host_memory.c's storage). */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/q4_0_x8.h"
#include "kernels/cpu/q4_k_x8.h"
#include "kernels/cpu/q6_k_x8.h"
#include "kernels/cpu/q8_0_x8.h"
#include "kernels/op_checks.h"

/* One grouped layout: its weight type, the block it counts in, and its conversions. */
typedef struct x8_format {
    int type, layout, block;
    void (*pack)(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group);
    void (*unpack)(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow);
    void (*row)(const uint8_t *group, int64_t nb, int r, uint8_t *row);
    gk_x8_rows_fn rows;
} x8_format;

static const x8_format formats[] = {
    {GK_Q4_0, GK_LAYOUT_Q4_0_X8, 32, gk_q4_0_x8_pack, gk_q4_0_x8_unpack, gk_q4_0_x8_row, gk_q4_0_x8_rows},
    {GK_Q4_K, GK_LAYOUT_Q4_K_X8, 256, gk_q4_k_x8_pack, gk_q4_k_x8_unpack, gk_q4_k_x8_row, gk_q4_k_x8_rows},
    {GK_Q8_0, GK_LAYOUT_Q8_0_X8, 32, gk_q8_0_x8_pack, gk_q8_0_x8_unpack, gk_q8_0_x8_row, gk_q8_0_x8_rows},
    {GK_Q6_K, GK_LAYOUT_Q6_K_X8, 256, gk_q6_k_x8_pack, gk_q6_k_x8_unpack, gk_q6_k_x8_row, gk_q6_k_x8_rows},
};

static const x8_format *format_of(int type, int layout) {
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (type == formats[i].type && (!layout || layout == formats[i].layout)) return &formats[i];
    return NULL;
}

gk_x8_rows_fn gk_cpu_x8_rows(int type, int layout) {
    const x8_format *f = layout ? format_of(type, layout) : NULL;
    return f ? f->rows : NULL;
}

int gk_cpu_check_layout(gk_backend *b, int type, int layout, const char *op) {
    if (!layout || (format_of(type, layout) && gk_cpu_of(b)->uk->t[type].matvec_x8)) return 0;
    return gk_fail(b, "%s: storage layout %d is not one of this backend's for %s weights", op, layout,
                   gk_type_name(type));
}

static size_t group_bytes(const gk_tensor *t) { return GK_X8_ROWS * gk_row_bytes(t); }

/* Whether the selected table stores t in groups of eight: its own x8 kernel for decode, and for
 * everything else either a packed GEMM on the column-group panel (packed from the groups) or,
 * without one, its tiles on rows gathered from the groups (cpu_matmul.c). */
static bool x8_fits(const gk_cpu *c, const gk_tensor *t) {
    if (!format_of(t->type, 0)) return false;
    const gk_igemm_kernels *ik = &c->uk->igemm[t->type];
    const bool many = !ik->kernel || (ik->act_layout == GK_IGEMM_ACT_COLUMNS && ik->rows % GK_X8_ROWS == 0);
    return !t->view && t->data && c->uk->t[t->type].matvec_x8 && many && t->ne[2] == 1 && t->ne[3] == 1 &&
           t->ne[1] % GK_X8_ROWS == 0 && gk_is_contiguous(t);
}

int gk_cpu_prepare_weight(gk_backend *b, gk_tensor *t) {
    if (t->layout || !x8_fits(gk_cpu_of(b), t)) return 0;
    const x8_format *f = format_of(t->type, 0);
    const size_t gb = group_bytes(t), wrow = gk_row_bytes(t);
    const int64_t nb = t->ne[0] / f->block;
    uint8_t *tmp = malloc(gb);
    if (!tmp) return gk_fail(b, "prepare_weight: out of memory for %zu bytes", gb);
    for (size_t g = 0; g < t->nbytes / gb; g++) {
        uint8_t *p = (uint8_t *)t->data + g * gb;
        memcpy(tmp, p, gb);
        f->pack(tmp, wrow, nb, p);
    }
    free(tmp);
    t->layout = f->layout;
    return 0;
}

/* The groups that [offset, offset+bytes) of the row layout touches, from src (upload) or into dst
 * (download; src NULL), converted through tmp where the range covers a group only in part. */
static int x8_copy(gk_backend *b, const gk_tensor *t, size_t offset, size_t bytes, const uint8_t *src, uint8_t *dst) {
    const bool up = src != NULL;
    if (gk_cpu_check_layout(b, t->type, t->layout, up ? "upload" : "download")) return -1;
    const x8_format *f = format_of(t->type, t->layout);
    const size_t gb = group_bytes(t), wrow = gk_row_bytes(t), end = offset + bytes;
    const int64_t nb = t->ne[0] / f->block;
    uint8_t *tmp = NULL;
    for (size_t g = offset / gb; g * gb < end; g++) {
        uint8_t *p = (uint8_t *)t->data + g * gb;
        const size_t lo = g * gb > offset ? g * gb : offset, hi = (g + 1) * gb < end ? (g + 1) * gb : end;
        if (lo == g * gb && hi == (g + 1) * gb) {   /* the whole group */
            if (up) f->pack(src + (lo - offset), wrow, nb, p);
            else f->unpack(p, nb, dst + (lo - offset), wrow);
            continue;
        }
        if (!tmp && !(tmp = malloc(gb))) return gk_fail(b, "%s: out of memory for %zu bytes", up ? "upload" : "download", gb);
        f->unpack(p, nb, tmp, wrow);
        if (up) {
            memcpy(tmp + (lo - g * gb), src + (lo - offset), hi - lo);
            f->pack(tmp, wrow, nb, p);
        } else {
            memcpy(dst + (lo - offset), tmp + (lo - g * gb), hi - lo);
        }
    }
    free(tmp);
    return 0;
}

int gk_cpu_upload(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes) {
    if (!t->layout) return gk_host_upload(b, t, offset, src, bytes);
    if (gk_host_range_ok(b, "upload", t, offset, bytes)) return -1;
    return bytes ? x8_copy(b, t, offset, bytes, src, NULL) : 0;
}

int gk_cpu_download(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes) {
    if (!t->layout) return gk_host_download(b, t, offset, dst, bytes);
    if (gk_host_range_ok(b, "download", t, offset, bytes)) return -1;
    return bytes ? x8_copy(b, t, offset, bytes, NULL, dst) : 0;
}

void gk_cpu_weight_row(const gk_tensor *t, int64_t r, void *row) {
    const x8_format *f = format_of(t->type, t->layout);   /* a layout gk_cpu_prepare_weight set */
    const uint8_t *g = (const uint8_t *)t->data + (size_t)(r / GK_X8_ROWS) * group_bytes(t);
    f->row(g, t->ne[0] / f->block, (int)(r % GK_X8_ROWS), row);
}
