/* Internals of the "cpu" backend shared by its files (backend_cpu.c, cpu_matmul.c,
 * cpu_matmul_forms.c, cpu_attention.c): the private state, scratch memory and the row-parallel
 * helper. */
#ifndef GK_CPU_BACKEND_H
#define GK_CPU_BACKEND_H
#include <stdint.h>
#include "kernels/backend.h"
#include "kernels/platform.h"
#include "kernels/cpu/microkernels.h"

/* ACT and THREADS belong to the kernels of one op; FORM_* hold matmul operands brought to the
 * default form (cpu_matmul_forms.c), alive while those kernels run. */
enum {
    CPU_SCRATCH_ACT,
    CPU_SCRATCH_THREADS,
    CPU_SCRATCH_FORM_W,
    CPU_SCRATCH_FORM_X,
    CPU_SCRATCH_FORM_Y,
    CPU_SCRATCH_FORM_TMP,
    CPU_SCRATCH_COUNT
};

typedef struct gk_cpu {
    gk_pool *pool;
    const gk_ukernels *uk;
    void *scratch[CPU_SCRATCH_COUNT];
    size_t scratch_bytes[CPU_SCRATCH_COUNT];
} gk_cpu;

static inline gk_cpu *gk_cpu_of(gk_backend *b) { return (gk_cpu *)b->impl; }

/* A 64-byte aligned buffer of at least bytes, kept between calls; NULL when out of memory. */
void *gk_cpu_scratch(gk_cpu *c, int slot, size_t bytes);

/* Runs fn over rows [0, n) in contiguous ranges on the pool; inline when the work (rows times
 * per-row cost in bytes touched) is too small to pay for waking the workers. */
void gk_cpu_rows(gk_cpu *c, int64_t n, double row_cost, void (*fn)(void *ctx, int64_t r0, int64_t r1),
                 void *ctx);

/* Prepared weights (cpu_weights.c): gk_ops.prepare_weight, upload and download (which convert
 * a prepared tensor's groups to and from the row layout), and row r of a prepared weight matrix
 * in the row layout (row: gk_row_bytes(t) bytes; a tensor in rows is read in place instead). */
int gk_cpu_prepare_weight(gk_backend *b, gk_tensor *t);
int gk_cpu_upload(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes);
int gk_cpu_download(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes);
void gk_cpu_weight_row(const gk_tensor *t, int64_t r, void *row);
/* 0 when a weight of this type and layout is in rows or in a layout this backend (its table)
 * prepares for that type; else an error naming op. */
int gk_cpu_check_layout(gk_backend *b, int type, int layout, const char *op);
/* For many columns on a prepared weight (the packed GEMM's panels, or the tiles of a table
 * without one): blocks b0..b0+nb of a group's first `rows` (<= 8) rows in the row layout, row
 * r's at out + r*out_row. NULL for rows (layout 0). */
typedef void (*gk_x8_rows_fn)(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row);
gk_x8_rows_fn gk_cpu_x8_rows(int type, int layout);

/* The op table's matmul: every form of gk_matmul_params, any strides (cpu_matmul_forms.c). */
int gk_cpu_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                  const gk_matmul_params *p);
/* The default form on host operands, the kernels of cpu_matmul.c: y (n floats a row, m rows) =
 * x (k floats a row, m rows) · wᵀ, w: n rows of k elements of wtype, wrow bytes apart. */
int gk_cpu_linear(gk_backend *b, float *y, int wtype, const void *w, size_t wrow, int64_t k, int64_t n,
                  const float *x, int64_t m);
/* The same with y's rows ldy floats apart, with accumulate y += the product (only where
 * gk_cpu_linear_accumulates(): float weights, m large enough for the sgemm path, else -1), and
 * w stored in layout wlayout (gk_tensor.layout: 0 rows, or a prepared weight's). */
int gk_cpu_linear_into(gk_backend *b, float *y, int64_t ldy, bool accumulate, int wtype, int wlayout, const void *w,
                       size_t wrow, int64_t k, int64_t n, const float *x, int64_t m);
bool gk_cpu_linear_accumulates(gk_backend *b, int wtype, int64_t m);
/* gk_ops.matmul_act_type: GK_BF16 where the table's packed GEMM multiplies on BF16 tiles (AMX:
 * weights and activations both rounded to BF16), else GK_F32. */
int gk_cpu_matmul_act_type(gk_backend *b, int wtype, int64_t m);
/* W's columns per panel of matmul's trans_w form (cpu_matmul_forms.c) with that many threads:
 * its extra memory is this many rows of W's row count in F32, however wide W is. */
int64_t gk_cpu_wt_panel_cols(int n_threads);
int gk_cpu_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kc,
                     const gk_tensor *vc, const gk_attn_params *p);
/* Its prefill path (cpu_image_attention.c): flash attention on the sgemm micro-kernel, the KV
 * cache's tiles packed once per KV head; taken from 192 query rows where head_dim allows. */
bool gk_cpu_flash_prefill_fits(gk_backend *b, const gk_attn_params *p, int64_t T);
int gk_cpu_flash_prefill(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kc,
                         const gk_tensor *vc, const gk_attn_params *p);

#endif
