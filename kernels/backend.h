/* The kernel interface: tensors owned by a backend, and an op table grouped in families.
 *
 * Workloads never touch SIMD, CUDA or threads; they call a backend through this table. Tensor
 * storage belongs to the backend (host memory for the CPU, device memory for CUDA): a workload
 * never dereferences t->data, it moves bytes with upload()/download() only. Ops may run
 * asynchronously; download() and sync() are the synchronisation points. Every op returns 0 or
 * an error code, with a one-line message in gk_backend_error().
 *
 * Shapes follow ggml: ne[0] is the innermost dimension. A matrix of R rows and C columns has
 * ne = {C, R}; the rows of a tensor seen as a matrix are ne[1]·ne[2]·ne[3]. Weights W of a
 * linear layer: ne = {K, N} (N rows of K inputs). Activations X: ne = {K, M} (M tokens).
 * matmul (default form): Y{N, M} = X{K, M} · Wᵀ, i.e. Y[m][n] = sum_k X[m][k] * W[n][k].
 * Activations, norms, logits are F32. Weights may be any gk_type the backend supports.
 *
 * Strides follow ggml too: nb[i] is the byte distance between consecutive indices of dimension
 * i; nb[0] is the bytes of one element (of one block for block types, whose rows are always
 * whole blocks). alloc() makes tensors contiguous (nb[1] = row bytes, nb[i] = nb[i-1]·ne[i-1]);
 * views (gk_view) may have any strides. Every op says below whether it accepts strided views;
 * those that do not refuse one with an error naming the tensor, never reading wrong data.
 *
 * Ops come in families (core: the transformer forward; image: the UNet's; train: backward
 * ops and optimisers). A backend fills one family table at a time and leaves the others NULL;
 * supports() tells a caller beforehand whether a backend can run an op on given types. The ref
 * backend implements every op of every family and is the oracle the others are tested against.
 *
 * How to add an op (no backend that lacks it changes; its supports() says it has none):
 *  1. here: an X(NAME, name) entry in its family's list, its field in the family struct (the
 *     family's first op defines the struct declared below), and its gk_<name>() wrapper;
 *  2. kernels/op_checks.c: its argument check, and a row in the operand-type table (the op's
 *     domain, which every backend's supports() starts from);
 *  3. the ref backend: its oracle (core: backend_ref.c; others kernels/cpu/ref_<family>.c),
 *     entered in the ref's family table;
 *  4. tests on ref by hand; then any backend may fill its entry, tested against ref.
 * A new family also needs a gk_family value, a pointer in gk_ops and a has() in backend.c.
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
    size_t nb[4];        /* byte strides (see above); a dimension of one element has any stride */
    size_t nbytes;       /* bytes of storage this tensor spans from data (gaps of a view included) */
    void *data;          /* backend-owned storage; opaque to workloads */
    bool view;           /* true: shares another tensor's storage, never freed */
    /* How the backend lays out the bytes: 0 = rows as the type describes (every tensor, until
     * gk_prepare_weight lets a backend choose its own). upload() and download() move bytes in
     * the row layout whatever this says; only the backend reads the value. */
    int layout;
    gk_backend *be;
} gk_tensor;

typedef struct gk_backend_opts {
    int n_threads;       /* CPU: worker threads (<= 0: all physical cores) */
    bool smt;            /* CPU: allow SMT siblings when pinning */
    int device;          /* GPU index */
    /* CPU: the micro-kernel set ("scalar", "avx2", "avx512", "neon", "dotprod", "i8mm"); NULL
     * or "" = the best this CPU runs. A run axis chosen by the caller (gencost run --isa, whose
     * default the CLI reads from GENCOST_ISA); backends never read the environment. */
    const char *isa;
} gk_backend_opts;

/* ---- op parameters ---------------------------------------------------------------------- */

/* matmul: Y = alpha · op(X) · op(W)ᵀ + beta · Y, op(A) = A, or Aᵀ when trans_a, on the tensors
 * seen as matrices (ne[0] columns). NULL params = the default form Y = X·Wᵀ (alpha 1, beta 0,
 * no transposes): a linear layer. Set alpha explicitly (a zeroed struct with alpha = beta = 0
 * is refused as a mistake). beta = 0: Y's old contents are not read. Y must not overlap X or W.
 * With training's names: dX = dY·W is {.trans_w = true, .alpha = 1} with (y dX, w W, x dY);
 * dW += dYᵀ·X is {.trans_x = true, .trans_w = true, .alpha = 1, .beta = 1} with (y dW, w X,
 * x dY). Backends that implement only the default form refuse the others (supports() says so). */
typedef struct gk_matmul_params {
    bool trans_x, trans_w;
    float alpha, beta;
} gk_matmul_params;

/* Attention parameters. q: {n_head*head_dim, T} F32, rows are tokens at positions
 * pos0 .. pos0+T-1. kcache, vcache: {n_kv_head*head_dim, ctx} of type F32/F16/Q8_0, holding
 * positions 0 .. pos0+T-1 already (kv_store first). Token t attends causally to 0..pos0+t.
 * Query head h uses KV head h / (n_head / n_kv_head) (grouped-query). out: like q. */
typedef struct gk_attn_params {
    int n_head, n_kv_head, head_dim;
    int pos0;            /* position of the first query row */
    float scale;         /* usually 1/sqrt(head_dim) */
} gk_attn_params;

/* rope_kv_store's parameters: rope's (see gk_core_ops.rope) for q's n_head and k's n_kv_head
 * heads of head_dim, at positions pos0 .., and where in the caches K and V go (rows pos0 ..). */
typedef struct gk_rope_kv_params {
    int n_head, n_kv_head, head_dim;
    int pos0;
    float base;
    const gk_tensor *freq_factors;   /* F32 {head_dim/2} of this backend, or NULL (every factor 1) */
} gk_rope_kv_params;

/* ---- ops and families ------------------------------------------------------------------- */

/* Every op, as X(ENUM_NAME, field_name), by family; the order is the family struct's. */
#define GK_CORE_OPS(X)                                                                           \
    X(MATMUL, matmul) X(EMBEDDING, embedding) X(RMSNORM, rmsnorm) X(ROPE, rope)                  \
    X(KV_STORE, kv_store) X(ATTENTION, attention) X(SILU_MUL, silu_mul) X(ADD, add)              \
    X(SCALE, scale) X(SOFTMAX, softmax) X(ADD_RMSNORM, add_rmsnorm)                              \
    X(ROPE_KV_STORE, rope_kv_store)
#define GK_IMAGE_OPS(X)                                                                          \
    X(CONV2D, conv2d) X(GROUP_NORM, group_norm) X(LAYER_NORM, layer_norm) X(GELU, gelu)          \
    X(GELU_QUICK, gelu_quick) X(GEGLU, geglu) X(SILU, silu) X(UPSAMPLE2X, upsample2x)            \
    X(CONCAT, concat) X(ADD_CHANNEL, add_channel) X(TIMESTEP_EMBED, timestep_embed)              \
    X(FULL_ATTENTION, full_attention) X(CONT, cont)
#define GK_TRAIN_OPS(X)                                                                          \
    X(RMSNORM_BACKWARD, rmsnorm_backward) X(ROPE_BACKWARD, rope_backward)                        \
    X(ATTENTION_BACKWARD, attention_backward) X(SILU_MUL_BACKWARD, silu_mul_backward)            \
    X(EMBEDDING_BACKWARD, embedding_backward) X(CROSS_ENTROPY, cross_entropy) X(ADAMW, adamw)    \
    X(SUM_SQUARES, sum_squares) X(FILL, fill)

typedef enum gk_family { GK_FAMILY_CORE, GK_FAMILY_IMAGE, GK_FAMILY_TRAIN, GK_FAMILY_COUNT } gk_family;

typedef enum gk_op {
#define GK_OP_ENUM_(U, l) GK_OP_##U,
    GK_CORE_OPS(GK_OP_ENUM_) GK_IMAGE_OPS(GK_OP_ENUM_) GK_TRAIN_OPS(GK_OP_ENUM_)
#undef GK_OP_ENUM_
    GK_OP_COUNT
} gk_op;

const char *gk_op_name(gk_op op);             /* "matmul"; "?" when unknown */
gk_family gk_op_family(gk_op op);             /* GK_FAMILY_COUNT when unknown */
const char *gk_family_name(gk_family f);      /* "core", "image", "train" */

/* The core family: the Llama forward pass. Tensors must be contiguous except where noted. */
typedef struct gk_core_ops {
    /* See gk_matmul_params. x, y (and w when a float type) may be strided views on ref and
     * cpu; a block-type w needs whole-block rows (any row stride). */
    int (*matmul)(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                  const gk_matmul_params *p);
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
    /* Fused ops: what two or four of the ops above do, in one pass (one kernel on cuda), with the
     * same results as that sequence on each backend (ref: bit for bit). Optional: a caller asks
     * gk_has_op() and runs the sequence itself where a backend leaves them NULL.
     * add_rmsnorm: x += r (the residual add), then y = rmsnorm(x) · w (the next norm); x, r, y
     * {dim, T}, w {dim}. y may equal r, not x; r must not overlap x. */
    int (*add_rmsnorm)(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r, const gk_tensor *w,
                       float eps);
    /* rope_kv_store: rope(q), rope(k), kv_store(kcache, k), kv_store(vcache, v) with p's heads,
     * pos0 and base: q{n_head*head_dim, T} turned in place; k{n_kv_head*head_dim, T} turned into
     * kcache's rows pos0.. (k itself left as it is); v stored into vcache's. The caches may be of
     * different types (each F32, F16 or Q8_0). */
    int (*rope_kv_store)(gk_backend *b, gk_tensor *q, gk_tensor *kcache, gk_tensor *vcache,
                         const gk_tensor *k, const gk_tensor *v, const gk_rope_kv_params *p);
} gk_core_ops;

/* ---- the image family: the Stable Diffusion text encoder, UNet and VAE (bench/sd) ----------
 *
 * Images follow ggml's convolution layout: ne = {W, H, C, N} (width innermost, then height,
 * channels, batch). The transformer blocks inside the UNet work on tokens, ne = {C, W·H, N}, like
 * the core family's {dim, T} with a batch in ne[2]; cont() turns one layout into the other
 * through a strided view (gk_view with permuted strides). Activations are F32; every tensor
 * contiguous except cont()'s source. */

/* conv2d: the same stride and zero padding in both dimensions (3×3 stride 1 pad 1, the
 * downsampling 3×3 stride 2 pad 1, 1×1 stride 1 pad 0). */
typedef struct gk_conv2d_params {
    int stride, pad;
} gk_conv2d_params;

/* full_attention: every query row attends every key row (no mask, no cache). */
typedef struct gk_full_attn_params {
    int n_head, head_dim;
    float scale;         /* usually 1/sqrt(head_dim) */
} gk_full_attn_params;

typedef struct gk_image_ops {
    /* y{Wo, Ho, Cout, N} = conv(x{W, H, Cin, N}, w{kw, kh, Cin, Cout}) + bias{Cout} (NULL: none),
     * Wo = (W + 2·pad − kw) / stride + 1 (Ho alike). w F32, F16 or BF16: GGUF files keep conv
     * kernels in float (their rows are kw elements, never whole quant blocks); bias F32. */
    int (*conv2d)(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                  const gk_conv2d_params *p);
    /* y = (x − mean) / sqrt(var + eps) · gamma[c] + beta[c], mean and variance over each group of
     * C / n_groups channels × W × H of each image of x{W, H, C, N}; gamma, beta F32 {C}; C a
     * multiple of n_groups. y may equal x. */
    int (*group_norm)(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                      const gk_tensor *beta, int n_groups, float eps);
    /* Per row of x{dim, T}: (x − mean) / sqrt(var + eps) · gamma + beta; gamma, beta F32 {dim}.
     * y may equal x. */
    int (*layer_norm)(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                      const gk_tensor *beta, float eps);
    /* Elementwise, y may equal x: gelu (tanh form, as ggml_gelu), gelu_quick (x·σ(1.702x), CLIP's),
     * silu (x·σ(x)). */
    int (*gelu)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
    int (*gelu_quick)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
    /* y{n, T} = x[0:n] · gelu(x[n:2n]) per row of x{2n, T}: the GEGLU feed-forward (value half
     * first, gate half second, as diffusers' GEGLU splits its projection). */
    int (*geglu)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
    int (*silu)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
    /* y{2W, 2H, C, N}: nearest-neighbour 2× upsampling of x{W, H, C, N}. */
    int (*upsample2x)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
    /* y{W, H, Ca + Cc, N}: a{W, H, Ca, N}'s channels, then c{W, H, Cc, N}'s (the UNet's skips). */
    int (*concat)(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c);
    /* y[w, h, c, n] = x[w, h, c, n] + v[c, n]: v F32 {C, N}, or {C} for every image (a bias, a
     * time embedding projected per channel). y may equal x. */
    int (*add_channel)(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v);
    /* y{dim, N}: sinusoidal embedding of the timesteps t F32 {N}: y[i] = cos(t·f_i) and
     * y[dim/2 + i] = sin(t·f_i) for i < dim/2, f_i = max_period^(−i / (dim/2)) — the cos-first
     * order of Stable Diffusion's timestep_embedding; dim even. */
    int (*timestep_embed)(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period);
    /* out{n_head·head_dim, Tq, N} = softmax(q·kᵀ·scale)·v per head and batch, q{n_head·head_dim,
     * Tq, N}, k and v {n_head·head_dim, Tk, N}, all F32. Never holds the Tq × Tk scores (a 64×64
     * latent is 4,096 tokens): tiles of keys with an online softmax. */
    int (*full_attention)(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                          const gk_tensor *v, const gk_full_attn_params *p);
    /* y = x copied contiguous: x an F32 view (any strides) of y's shape. */
    int (*cont)(gk_backend *b, gk_tensor *y, const gk_tensor *x);
} gk_image_ops;

/* ---- the train family: the backward pass and the optimiser (bench/train) -------------------
 *
 * Each backward op mirrors its forward op: the same arguments in the same order, gradients
 * (d-prefixed) first. Shapes are the core family's: activations {dim, T}, every tensor F32 and
 * contiguous. The matmul backward needs no op of its own: dX = dY·W and dW += dYᵀ·X are forms
 * of matmul (gk_matmul_params), which also run on a quantised W (a frozen base: dX only).
 * Gradients of weights accumulate (+=), so a batch may be split into calls; gradients of
 * activations are overwritten unless an op says otherwise. */

/* AdamW with bias correction (Loshchilov & Hutter, "Decoupled weight decay regularization"):
 * g' = grad_scale·g; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
 * w −= lr·( (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + eps) + weight_decay·w ). */
typedef struct gk_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_scale;    /* global-norm clipping: min(1, max_norm / ‖g‖); 1 = none */
    int step;            /* 1 for the first update */
} gk_adamw_params;

typedef struct gk_train_ops {
    /* Backward of rmsnorm (y = x / rms(x) · w, per row of x{dim, T}): dx += ∂L/∂x and
     * dw{dim} += ∂L/∂w, given dy = ∂L/∂y. Both accumulate (dx is the residual stream's gradient
     * the norm's branch adds to). dx must not overlap dy or x. */
    int (*rmsnorm_backward)(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy,
                            const gk_tensor *x, const gk_tensor *w, float eps);
    /* Backward of rope, in place on dx{n_head*head_dim, T}: each pair turns by −θ (the
     * transpose of the rotation), θ exactly as rope computes it. */
    int (*rope_backward)(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                         const gk_tensor *freq_factors);
    /* Backward of causal attention over one sequence: q{n_head*head_dim, T}, k and v
     * {n_kv_head*head_dim, T} (F32, p->pos0 = 0: the whole sequence is in q), dout like q.
     * Writes dq (like q), dk and dv (like k; summed over the query heads sharing a KV head).
     * The softmax is recomputed row by row from q and k: never a T × T matrix. */
    int (*attention_backward)(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv,
                              const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                              const gk_tensor *v, const gk_attn_params *p);
    /* Backward of silu_mul (y = silu(gate)·up): dgate = dy·up·silu'(gate), dup = dy·silu(gate).
     * dgate may equal dy; nothing else may overlap. */
    int (*silu_mul_backward)(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                             const gk_tensor *gate, const gk_tensor *up);
    /* Backward of embedding: dtable{dim, vocab} F32, row ids[t] += dy row t (a scatter-add;
     * repeated ids add up). ids I32 {T}, each in [0, vocab). */
    int (*embedding_backward)(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids);
    /* Cross-entropy of each row of logits{vocab, T} against targets I32 {T} (each in
     * [0, vocab)): losses{T} = logsumexp(row) − row[target]; with dlogits (may equal logits;
     * NULL: the loss only) dlogits = scale·(softmax(row) − onehot(target)). Forward and
     * backward fused: the softmax is never stored. */
    int (*cross_entropy)(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                         const gk_tensor *targets, float scale);
    /* One AdamW update of w from its gradient g with moments m and v (all F32, one shape). */
    int (*adamw)(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                 const gk_adamw_params *p);
    /* out{1} += Σ x² over every element of x (partial sums in double): the gradient norm's
     * pieces, so one download per step gives ‖g‖² of every tensor. */
    int (*sum_squares)(gk_backend *b, gk_tensor *out, const gk_tensor *x);
    /* Every element of t (F32) = value: zeroing gradients without a host transfer. */
    int (*fill)(gk_backend *b, gk_tensor *t, float value);
} gk_train_ops;

/* Capabilities of an open backend (gk_backend.caps). */
enum {
    /* Tensor storage is this process's memory: a model's weights count against host RAM. */
    GK_CAP_HOST_MEMORY = 1u << 0,
};

typedef struct gk_ops {
    /* ---- storage and synchronisation: every backend, called as b->ops->upload(b, ...) ---- */
    int (*alloc)(gk_backend *b, gk_tensor *t);     /* t->type and t->ne set by the caller */
    void (*free)(gk_backend *b, gk_tensor *t);
    /* Copies bytes of host memory into/out of t's span at byte offset (on a strided view the
     * span includes the gaps). download() synchronises. */
    int (*upload)(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes);
    int (*download)(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes);
    int (*sync)(gk_backend *b);
    /* Optional, NULL = no-op: t is a weight, uploaded whole, that ops will only read from now
     * on; the backend may re-lay its storage for them (cpu: Q4_0, Q4_K, Q8_0 and Q6_K rows
     * interleaved in groups of eight for the matrix-vector kernels of the tables that have them:
     * AVX2, AVX-512, AArch64 SDOT; t->layout says so). Its
     * bytes, as upload() and download() see them, do not change, and later uploads still work;
     * views of it are refused (gk_view), and ops the new layout does not serve refuse it with a
     * message. Call it through gk_prepare_weight(). */
    int (*prepare_weight)(gk_backend *b, gk_tensor *t);
    /* Optional, NULL on host backends: the device's own clock around queued work (CUDA
     * events). stop = 0 marks the start; stop = 1 marks the end, waits for it (a sync point)
     * and fills *seconds with the device time between the two marks. */
    int (*device_timer)(gk_backend *b, int stop, double *seconds);
    /* Optional, NULL on host backends: brackets a step of queued work that repeats with the
     * same shape from call to call (a decoded token). begin = 1 before its first op, 0 after
     * its last (the work then runs), -1 to drop it after an op failed; no upload, download
     * or sync falls inside. cuda captures the step into a CUDA graph and launches it at the
     * end, updating one executable graph from token to token (GENCOST_CUDA_GRAPHS=1). Call
     * it through gk_step(). */
    int (*step)(gk_backend *b, int begin);
    /* Optional, NULL = GK_F32: the float type matmul rounds the activations X to before it
     * multiplies, for weights of type wtype and m columns: GK_F32 (none), GK_F16 or GK_BF16
     * (cuda's GEMM path; cpu's AMX-BF16 path, which rounds the weights to BF16 too). Verification
     * bounds add its rounding (gk_matmul_act_type()).
     * Quantised weights may also meet 8-bit block activations (ggml's Q8_0/Q8_K) on any
     * backend; this does not report those. */
    int (*matmul_act_type)(gk_backend *b, int wtype, int64_t m);

    /* ---- what it can run: see gk_backend_supports(). NULL = gk_supports_default. ---- */
    bool (*supports)(gk_backend *b, gk_op op, const int *types, int n_types, const void *params);

    /* ---- the op families; NULL: the backend has none of that family ---- */
    const gk_core_ops *core;
    const gk_image_ops *image;
    const gk_train_ops *train;
} gk_ops;

struct gk_backend {
    const gk_ops *ops;
    const char *name;         /* "ref", "cpu", "cuda" */
    char err[512];            /* last error, one line */
    char device_name[128];    /* what runs the ops ("AMD Ryzen ... / avx2", "NVIDIA H100 ...") */
    int n_threads;
    const char *isa;          /* CPU: the micro-kernel set in use ("avx2", "neon", ...); else NULL */
    unsigned caps;            /* GK_CAP_* */
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
static inline bool gk_backend_has(const gk_backend *b, unsigned caps) { return (b->caps & caps) == caps; }
/* See gk_ops.matmul_act_type: the float type b's matmul rounds X to (GK_F32: none). */
static inline int gk_matmul_act_type(gk_backend *b, int wtype, int64_t m) {
    return b->ops->matmul_act_type ? b->ops->matmul_act_type(b, wtype, m) : GK_F32;
}

/* Can b run op on these operand types? types[i] is the gk_type of the op's i-th tensor argument
 * in its signature's order (matmul: y, w, x; attention: out, q, kcache, vcache); only the first
 * n_types are asked about (0: the op at all). false also leaves the reason, one line, in
 * gk_backend_error(b) ("cuda: matmul: only the default form ..."). The _params form also asks
 * about the op's parameters (a gk_matmul_params or gk_attn_params; NULL = the default form).
 * A workload asks before it allocates, so a case a backend cannot run is dropped or reported
 * instead of failing inside it. */
bool gk_backend_supports(gk_backend *b, gk_op op, const int *types, int n_types);
bool gk_backend_supports_params(gk_backend *b, gk_op op, const int *types, int n_types, const void *params);

/* ---- calling ops: gk_<op>(b, ...) runs b's entry, or fails cleanly when b lacks the op ---- */

int gk_op_missing(gk_backend *b, gk_op op);   /* fills b->err ("backend X has no op"), returns -1 */

static inline int gk_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                            const gk_matmul_params *p) {
    const gk_core_ops *f = b->ops->core;
    return f && f->matmul ? f->matmul(b, y, w, x, p) : gk_op_missing(b, GK_OP_MATMUL);
}
static inline int gk_embedding(gk_backend *b, gk_tensor *y, const gk_tensor *table, const gk_tensor *ids) {
    const gk_core_ops *f = b->ops->core;
    return f && f->embedding ? f->embedding(b, y, table, ids) : gk_op_missing(b, GK_OP_EMBEDDING);
}
static inline int gk_rmsnorm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps) {
    const gk_core_ops *f = b->ops->core;
    return f && f->rmsnorm ? f->rmsnorm(b, y, x, w, eps) : gk_op_missing(b, GK_OP_RMSNORM);
}
static inline int gk_rope(gk_backend *b, gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                          const gk_tensor *freq_factors) {
    const gk_core_ops *f = b->ops->core;
    return f && f->rope ? f->rope(b, x, n_head, head_dim, pos0, base, freq_factors)
                        : gk_op_missing(b, GK_OP_ROPE);
}
static inline int gk_kv_store(gk_backend *b, gk_tensor *cache, const gk_tensor *src, int pos0) {
    const gk_core_ops *f = b->ops->core;
    return f && f->kv_store ? f->kv_store(b, cache, src, pos0) : gk_op_missing(b, GK_OP_KV_STORE);
}
static inline int gk_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kcache,
                               const gk_tensor *vcache, const gk_attn_params *p) {
    const gk_core_ops *f = b->ops->core;
    return f && f->attention ? f->attention(b, out, q, kcache, vcache, p) : gk_op_missing(b, GK_OP_ATTENTION);
}
static inline int gk_silu_mul(gk_backend *b, gk_tensor *y, const gk_tensor *gate, const gk_tensor *up) {
    const gk_core_ops *f = b->ops->core;
    return f && f->silu_mul ? f->silu_mul(b, y, gate, up) : gk_op_missing(b, GK_OP_SILU_MUL);
}
static inline int gk_add(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    const gk_core_ops *f = b->ops->core;
    return f && f->add ? f->add(b, y, a, c) : gk_op_missing(b, GK_OP_ADD);
}
static inline int gk_scale(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s) {
    const gk_core_ops *f = b->ops->core;
    return f && f->scale ? f->scale(b, y, x, s) : gk_op_missing(b, GK_OP_SCALE);
}
static inline int gk_softmax(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_core_ops *f = b->ops->core;
    return f && f->softmax ? f->softmax(b, y, x) : gk_op_missing(b, GK_OP_SOFTMAX);
}

static inline int gk_add_rmsnorm(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r,
                                 const gk_tensor *w, float eps) {
    const gk_core_ops *f = b->ops->core;
    return f && f->add_rmsnorm ? f->add_rmsnorm(b, y, x, r, w, eps) : gk_op_missing(b, GK_OP_ADD_RMSNORM);
}
static inline int gk_rope_kv_store(gk_backend *b, gk_tensor *q, gk_tensor *kcache, gk_tensor *vcache,
                                   const gk_tensor *k, const gk_tensor *v, const gk_rope_kv_params *p) {
    const gk_core_ops *f = b->ops->core;
    return f && f->rope_kv_store ? f->rope_kv_store(b, q, kcache, vcache, k, v, p)
                                 : gk_op_missing(b, GK_OP_ROPE_KV_STORE);
}

static inline int gk_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                            const gk_conv2d_params *p) {
    const gk_image_ops *f = b->ops->image;
    return f && f->conv2d ? f->conv2d(b, y, w, x, bias, p) : gk_op_missing(b, GK_OP_CONV2D);
}
static inline int gk_group_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                                const gk_tensor *beta, int n_groups, float eps) {
    const gk_image_ops *f = b->ops->image;
    return f && f->group_norm ? f->group_norm(b, y, x, gamma, beta, n_groups, eps) : gk_op_missing(b, GK_OP_GROUP_NORM);
}
static inline int gk_layer_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                                const gk_tensor *beta, float eps) {
    const gk_image_ops *f = b->ops->image;
    return f && f->layer_norm ? f->layer_norm(b, y, x, gamma, beta, eps) : gk_op_missing(b, GK_OP_LAYER_NORM);
}
static inline int gk_gelu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->gelu ? f->gelu(b, y, x) : gk_op_missing(b, GK_OP_GELU);
}
static inline int gk_gelu_quick(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->gelu_quick ? f->gelu_quick(b, y, x) : gk_op_missing(b, GK_OP_GELU_QUICK);
}
static inline int gk_geglu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->geglu ? f->geglu(b, y, x) : gk_op_missing(b, GK_OP_GEGLU);
}
static inline int gk_silu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->silu ? f->silu(b, y, x) : gk_op_missing(b, GK_OP_SILU);
}
static inline int gk_upsample2x(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->upsample2x ? f->upsample2x(b, y, x) : gk_op_missing(b, GK_OP_UPSAMPLE2X);
}
static inline int gk_concat(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    const gk_image_ops *f = b->ops->image;
    return f && f->concat ? f->concat(b, y, a, c) : gk_op_missing(b, GK_OP_CONCAT);
}
static inline int gk_add_channel(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v) {
    const gk_image_ops *f = b->ops->image;
    return f && f->add_channel ? f->add_channel(b, y, x, v) : gk_op_missing(b, GK_OP_ADD_CHANNEL);
}
static inline int gk_timestep_embed(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period) {
    const gk_image_ops *f = b->ops->image;
    return f && f->timestep_embed ? f->timestep_embed(b, y, t, dim, max_period) : gk_op_missing(b, GK_OP_TIMESTEP_EMBED);
}
static inline int gk_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                                    const gk_tensor *v, const gk_full_attn_params *p) {
    const gk_image_ops *f = b->ops->image;
    return f && f->full_attention ? f->full_attention(b, out, q, k, v, p) : gk_op_missing(b, GK_OP_FULL_ATTENTION);
}
static inline int gk_cont(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    const gk_image_ops *f = b->ops->image;
    return f && f->cont ? f->cont(b, y, x) : gk_op_missing(b, GK_OP_CONT);
}

static inline int gk_rmsnorm_backward(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy,
                                      const gk_tensor *x, const gk_tensor *w, float eps) {
    const gk_train_ops *f = b->ops->train;
    return f && f->rmsnorm_backward ? f->rmsnorm_backward(b, dx, dw, dy, x, w, eps)
                                    : gk_op_missing(b, GK_OP_RMSNORM_BACKWARD);
}
static inline int gk_rope_backward(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                                   const gk_tensor *freq_factors) {
    const gk_train_ops *f = b->ops->train;
    return f && f->rope_backward ? f->rope_backward(b, dx, n_head, head_dim, pos0, base, freq_factors)
                                 : gk_op_missing(b, GK_OP_ROPE_BACKWARD);
}
static inline int gk_attention_backward(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv,
                                        const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                                        const gk_tensor *v, const gk_attn_params *p) {
    const gk_train_ops *f = b->ops->train;
    return f && f->attention_backward ? f->attention_backward(b, dq, dk, dv, dout, q, k, v, p)
                                      : gk_op_missing(b, GK_OP_ATTENTION_BACKWARD);
}
static inline int gk_silu_mul_backward(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                                       const gk_tensor *gate, const gk_tensor *up) {
    const gk_train_ops *f = b->ops->train;
    return f && f->silu_mul_backward ? f->silu_mul_backward(b, dgate, dup, dy, gate, up)
                                     : gk_op_missing(b, GK_OP_SILU_MUL_BACKWARD);
}
static inline int gk_embedding_backward(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids) {
    const gk_train_ops *f = b->ops->train;
    return f && f->embedding_backward ? f->embedding_backward(b, dtable, dy, ids)
                                      : gk_op_missing(b, GK_OP_EMBEDDING_BACKWARD);
}
static inline int gk_cross_entropy(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                                   const gk_tensor *targets, float scale) {
    const gk_train_ops *f = b->ops->train;
    return f && f->cross_entropy ? f->cross_entropy(b, losses, dlogits, logits, targets, scale)
                                 : gk_op_missing(b, GK_OP_CROSS_ENTROPY);
}
static inline int gk_adamw(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                           const gk_adamw_params *p) {
    const gk_train_ops *f = b->ops->train;
    return f && f->adamw ? f->adamw(b, w, g, m, v, p) : gk_op_missing(b, GK_OP_ADAMW);
}
static inline int gk_sum_squares(gk_backend *b, gk_tensor *out, const gk_tensor *x) {
    const gk_train_ops *f = b->ops->train;
    return f && f->sum_squares ? f->sum_squares(b, out, x) : gk_op_missing(b, GK_OP_SUM_SQUARES);
}
static inline int gk_fill(gk_backend *b, gk_tensor *t, float value) {
    const gk_train_ops *f = b->ops->train;
    return f && f->fill ? f->fill(b, t, value) : gk_op_missing(b, GK_OP_FILL);
}

/* ---- tensor helpers (backend-independent) ------------------------------------------------- */

size_t gk_nbytes(int type, const int64_t ne[4]);   /* contiguous bytes of that shape; 0 if invalid */
int64_t gk_nelements(const gk_tensor *t);
size_t gk_row_bytes(const gk_tensor *t);      /* bytes of one ne[0] row's elements */
/* Contiguous strides of that type and shape into nb (nb[0] = block bytes). */
void gk_contiguous_strides(int type, const int64_t ne[4], size_t nb[4]);
/* Elements laid out densely in ggml order (dimensions of one element are not looked at). */
bool gk_is_contiguous(const gk_tensor *t);

/* A view of t (no copy, never freed): shape ne, strides nb (NULL: contiguous for ne), starting
 * offset bytes into t's storage. Any of the 4 dimensions may be strided, as long as the view
 * stays inside t, offset and strides are whole elements (blocks), and a block type's rows
 * stay whole blocks (nb[0] = block bytes). 0, or -1 with the reason in t's backend's error. */
int gk_view(gk_tensor *v, const gk_tensor *t, size_t offset, const int64_t ne[4], const size_t nb[4]);
/* The matrix transposed (dimensions 0 and 1 swapped; float and I32 types only). */
int gk_view_transposed(gk_tensor *v, const gk_tensor *t);
/* Rows [row0, row0+nrows) of a tensor seen as a matrix: 2-D, or contiguous (a convenience on
 * gk_view; an invalid range gives a tensor without storage, which every op refuses). */
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
    /* The GEMM library its large matmuls run on ("cublas 13.0.2"), or "cublas: missing" (they
     * then run on the matvec kernels, far slower); "" where the backend has none. */
    char blas[48];
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

/* What every backend's supports() starts from: b has the op's entry, and the types are in the
 * op's contract (kernels/op_checks.c). A backend narrows it (types it has no kernels for,
 * parameter forms it does not implement) with gk_unsupported() for the reason. */
bool gk_supports_default(gk_backend *b, gk_op op, const int *types, int n_types, const void *params);
bool gk_has_op(const gk_backend *b, gk_op op);
/* gk_ops.prepare_weight, 0 where the backend has none. */
int gk_prepare_weight(gk_backend *b, gk_tensor *t);
/* The step bracket (gk_ops.step), 0 where the backend has none. */
int gk_step(gk_backend *b, int begin);
bool gk_unsupported(gk_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));   /* false */
/* Lays out t contiguously: dimensions < 1 become 1, nb and nbytes set. -1 with b->err when the
 * type is unknown or a row is not whole blocks. For alloc(). */
int gk_layout_contiguous(gk_backend *b, gk_tensor *t);

/* What each runs (their supports() is the authority; this is the summary):
 *  ref   every op of every family, every type each op's contract allows, matmul in every form
 *        (a quantised W too) and on strided views; host memory.
 *  cpu   the core, image and train families, the same types, matmul in every form and on
 *        strided views (other forms brought to the default one, then the same kernels; a
 *        transposed W, quantised or not, by F32 panels of its columns, never a whole F32 copy;
 *        dW += dYᵀ·X accumulated in place); conv2d as an implicit GEMM, full_attention
 *        flash-style and attention_backward by blocks of query rows, all on the sgemm
 *        micro-kernel; train results independent of the thread count; host memory.
 *  cuda  the core, image and train families, the same types; matmul on contiguous tensors, the
 *        default form on its own kernels and cuBLAS, the other forms (training's) on cuBLAS in F32
 *        (a non-F32 W dequantised to F32 panels of at most 32 MiB) and refused without cuBLAS;
 *        conv2d as an implicit GEMM on cuBLAS (im2col panels of at most 32 MiB; F16 kernels
 *        round the activations to F16, F32 accumulation) and refused without cuBLAS;
 *        attention with k and v of one type and head_dim <= 256, attention_backward <= 128,
 *        full_attention <= 512 (flash-style tiles); device memory. */
extern const gk_backend_desc gk_ref_backend;   /* kernels/cpu: scalar oracle, one thread */
extern const gk_backend_desc gk_cpu_backend;   /* kernels/cpu: SIMD + thread pool */
#ifdef GC_HAVE_CUDA
extern const gk_backend_desc gk_cuda_backend;  /* kernels/cuda */
#endif

#endif
