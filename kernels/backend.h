/* The kernel interface: tensors owned by a backend, and an op table.
 *
 * Workloads never touch SIMD, CUDA or threads; they call a backend through this table. Tensor
 * storage belongs to the backend (host memory for the CPU, device memory for CUDA): a workload
 * never dereferences t->data, it moves bytes with upload()/download() only. Ops may run
 * asynchronously; download() and sync() are the synchronisation points. Every op returns 0 or
 * an error code, with a one-line message in gk_backend_error().
 *
 * Shapes follow ggml: ne[0] is the innermost (contiguous) dimension. A matrix of R rows and C
 * columns has ne = {C, R}. Weights W of a linear layer: ne = {K, N} (N rows of K inputs).
 * Activations X: ne = {K, M} (M tokens). matmul: Y{N, M} = X{K, M} · Wᵀ, i.e.
 *   Y[m][n] = sum_k X[m][k] * W[n][k].
 * Activations, norms, logits are F32. Weights may be any gk_type the backend supports.
 */
#ifndef GK_BACKEND_H
#define GK_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernels/quant.h"

typedef struct gk_backend gk_backend;

typedef struct gk_tensor {
    int type;            /* gk_type */
    int64_t ne[4];       /* elements per dimension; unused dimensions are 1 */
    size_t nbytes;       /* total bytes of storage this tensor covers */
    void *data;          /* backend-owned storage; opaque to workloads */
    bool view;           /* true: shares another tensor's storage, never freed */
    gk_backend *be;
} gk_tensor;

typedef struct gk_backend_opts {
    int n_threads;       /* CPU: worker threads (<= 0: all physical cores) */
    bool smt;            /* CPU: allow SMT siblings when pinning */
    int device;          /* GPU index */
    const char *isa;     /* CPU: force a micro-kernel set ("scalar", "avx2", "neon", ...); NULL = best */
} gk_backend_opts;

/* Attention parameters. q: {n_head*head_dim, T} F32, rows are tokens at positions
 * pos0 .. pos0+T-1. kcache, vcache: {n_kv_head*head_dim, ctx} of type F32/F16/Q8_0, holding
 * positions 0 .. pos0+T-1 already (kv_store first). Token t attends causally to 0..pos0+t.
 * Query head h uses KV head h / (n_head / n_kv_head) (grouped-query). out: like q. */
typedef struct gk_attn_params {
    int n_head, n_kv_head, head_dim;
    int pos0;            /* position of the first query row */
    float scale;         /* usually 1/sqrt(head_dim) */
} gk_attn_params;

typedef struct gk_ops {
    int (*alloc)(gk_backend *b, gk_tensor *t);     /* t->type and t->ne set by the caller */
    void (*free)(gk_backend *b, gk_tensor *t);
    /* Copies bytes of host memory into/out of t at byte offset. download() synchronises. */
    int (*upload)(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes);
    int (*download)(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes);
    int (*sync)(gk_backend *b);

    int (*matmul)(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x);
    /* y{dim, T} = dequantised rows table{dim, vocab}[ids[t]]; ids: I32 {T}. */
    int (*embedding)(gk_backend *b, gk_tensor *y, const gk_tensor *table, const gk_tensor *ids);
    /* y = x / rms(x) * w, per row of x{dim, T}; w F32 {dim}. y may equal x. */
    int (*rmsnorm)(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps);
    /* In place on x{n_head*head_dim, T}: rotary embedding (rotating pairs (2i, 2i+1), GPT-J
     * "normal" ordering as llama.cpp's LLAMA arch), position of row t = pos0 + t. Pair i turns
     * by pos * base^(-2i/head_dim) / ff[i] when freq_factors is given: an F32 tensor {head_dim/2}
     * of this backend (Llama 3.1's rope_freqs.weight, as ggml_rope_ext's freq factors); NULL:
     * every ff[i] is 1. */
    int (*rope)(gk_backend *b, gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                const gk_tensor *freq_factors);
    /* Writes rows src{n_kv*head_dim, T} F32 into cache rows pos0..pos0+T-1, converting. */
    int (*kv_store)(gk_backend *b, gk_tensor *cache, const gk_tensor *src, int pos0);
    int (*attention)(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kcache,
                     const gk_tensor *vcache, const gk_attn_params *p);
    /* y = silu(gate) * up, elementwise. y may alias gate. */
    int (*silu_mul)(gk_backend *b, gk_tensor *y, const gk_tensor *gate, const gk_tensor *up);
    int (*add)(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c);  /* y = a + c */
    int (*scale)(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s);           /* y = s * x */
    int (*softmax)(gk_backend *b, gk_tensor *y, const gk_tensor *x);                  /* per row */
    /* Optional, NULL on host backends: the device's own clock around queued work (CUDA
     * events). stop = 0 marks the start; stop = 1 marks the end, waits for it (a sync point)
     * and fills *seconds with the device time between the two marks. */
    int (*device_timer)(gk_backend *b, int stop, double *seconds);
} gk_ops;

struct gk_backend {
    const gk_ops *ops;
    const char *name;         /* "ref", "cpu", "cuda" */
    char err[512];            /* last error, one line */
    char device_name[128];    /* what runs the ops ("AMD Ryzen ... / avx2", "NVIDIA H100 ...") */
    int n_threads;
    const char *isa;          /* CPU: the micro-kernel set in use ("avx2", "neon", ...); else NULL */
    void *impl;               /* backend private */
};

/* Opens a backend by name: "ref" (the scalar oracle), "cpu", "cuda". NULL with err filled
 * when unknown or unavailable (e.g. no CUDA device). */
gk_backend *gk_backend_open(const char *name, const gk_backend_opts *o, char *err, size_t errlen);
void gk_backend_close(gk_backend *b);
/* Names compiled into this build, NULL-terminated; available() says whether one can open here. */
const char *const *gk_backend_names(void);
bool gk_backend_available(const char *name, char *why, size_t whylen);
const char *gk_backend_error(const gk_backend *b);

/* Tensor helpers (backend-independent). */
size_t gk_nbytes(int type, const int64_t ne[4]);
int64_t gk_nelements(const gk_tensor *t);
size_t gk_row_bytes(const gk_tensor *t);      /* bytes of one ne[0] row */
/* A view of rows [row0, row0+nrows) of a 2-D tensor (no copy, never freed). */
gk_tensor gk_view_rows(const gk_tensor *t, int64_t row0, int64_t nrows);

/* Convenience: allocate a 2-D tensor {ne0, ne1}. */
int gk_new2d(gk_backend *b, gk_tensor *t, int type, int64_t ne0, int64_t ne1);



/* An accelerator a backend can see, for `gencost info` and results files. */
typedef struct gk_device_info {
    char name[128];
    int cc_major, cc_minor;        /* compute capability (CUDA) */
    int sm_count;
    unsigned long long mem_bytes;
    int bus_width_bits;
    int mem_clock_khz;
    double peak_bw_gbs;            /* 2 * mem_clock * bus_width / 8 (DDR), from the two above */
    char driver_version[32], runtime_version[32];
} gk_device_info;

/* Devices of a backend (0 when none or not a device backend); up to max filled. */
int gk_backend_devices(const char *name, gk_device_info *out, int max);

/* ---- for backend implementers -------------------------------------------------------------- */
typedef struct gk_backend_desc {
    const char *name;
    bool (*available)(char *why, size_t whylen);
    int (*devices)(gk_device_info *out, int max);    /* NULL for host backends */
    gk_backend *(*open)(const gk_backend_opts *o, char *err, size_t errlen);
    void (*close)(gk_backend *b);
} gk_backend_desc;

extern const gk_backend_desc gk_ref_backend;   /* kernels/cpu: scalar oracle, one thread */
extern const gk_backend_desc gk_cpu_backend;   /* kernels/cpu: SIMD + thread pool */
#ifdef GC_HAVE_CUDA
extern const gk_backend_desc gk_cuda_backend;  /* kernels/cuda */
#endif

#endif
