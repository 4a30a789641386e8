/* A Llama-family decoder written once against the kernel interface (kernels/backend.h).
 *
 * Configuration is one small struct, weights one struct of named tensors, run-time buffers
 * another; the forward pass (llm_model.c) reads top to bottom like the architecture diagram.
 * Weights come from a source: synthetic and deterministic from a seed (llm_weights.c), or a
 * GGUF file (llm_gguf.c). Tensor names and shapes are GGUF's (llama.cpp's LLM_ARCH_LLAMA), so a
 * preset exported to GGUF and loaded back runs the identical computation.
 */
#ifndef GC_LLM_H
#define GC_LLM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/util.h"
#include "kernels/backend.h"

struct gguf_file;

typedef struct llm_config {
    char name[64];        /* preset name or the file's general.name */
    int dim;              /* model width */
    int n_layers;
    int n_heads;          /* query heads; head_dim = dim / n_heads */
    int n_kv_heads;       /* key/value heads (grouped-query attention when < n_heads) */
    int ffn;              /* SwiGLU hidden width */
    int vocab;
    int ctx;              /* the model's maximum context length */
    float rope_base;
    float norm_eps;
    bool rope_factors;    /* per-pair RoPE frequency factors (Llama 3.1/3.2's rope_freqs.weight) */
} llm_config;

/* ---- presets and sizes (llm_presets.c) ------------------------------------------------------ */
const llm_config *llm_preset(const char *name);       /* NULL when unknown */
const char *const *llm_preset_names(void);            /* NULL-terminated; "tiny" first */
/* Shapes the kernels can run: positive, heads divide dim, kv heads divide heads, rows a
 * multiple of the weight type's block (type < 0: skip that check). */
int llm_config_check(const llm_config *c, int wtype, gc_err *err);
int64_t llm_param_count(const llm_config *c);
/* Bytes of all weights when 2-D weights are of type wtype (norms stay F32). */
uint64_t llm_weight_bytes(const llm_config *c, int wtype);
struct llm_source;
/* Same, for a source's weights stored in wtype (-1: as the source file has them). */
uint64_t llm_source_weight_bytes(const struct llm_source *s, int wtype, bool per_token);
/* Weight bytes one decode step reads (everything but the embedding table: one row of it). */
uint64_t llm_weight_bytes_per_token(const llm_config *c, int wtype);
/* Bytes of the K and V caches of all layers for ctx positions. */
uint64_t llm_kv_bytes(const llm_config *c, int kv_type, int ctx);
/* Floating-point operations of one token at KV depth `depth` (2 per multiply-add). */
double llm_flops_per_token(const llm_config *c, int depth);
/* Floating-point operations of a P-token prefill from an empty cache that asks the last token's
 * logits (llm_forward's LAST): every row's layers but the last one's attention, output projection
 * and FFN, which run on the last row alone; the head once. */
double llm_prefill_flops(const llm_config *c, int P);

/* ---- tensors -------------------------------------------------------------------------------- */
enum llm_tensor_kind {
    LLM_TOK_EMBD, LLM_OUT_NORM, LLM_OUTPUT,            /* model-wide */
    LLM_ATTN_NORM, LLM_WQ, LLM_WK, LLM_WV, LLM_WO,     /* per layer */
    LLM_FFN_NORM, LLM_W_GATE, LLM_W_UP, LLM_W_DOWN,
    LLM_ROPE_FREQS,                                    /* model-wide, only with c.rope_factors */
};

typedef struct llm_tinfo {
    char name[64];        /* GGUF name: "blk.3.attn_q.weight" */
    int kind, layer;      /* layer -1 for model-wide tensors */
    int64_t ne0, ne1;     /* {K, N}: N rows of K; norms are {dim, 1}, rope factors {head_dim/2, 1} */
    bool norm;            /* F32 vector, whatever the weight type (norms, rope factors) */
} llm_tinfo;

int llm_tensor_count(const llm_config *c);
void llm_tensor_info(const llm_config *c, int i, llm_tinfo *t);
struct llm_weights;
/* The tensor of w that t names (w's layers allocated). */
gk_tensor *llm_weight_slot(struct llm_weights *w, const llm_tinfo *t);

typedef struct llm_layer {
    gk_tensor attn_norm;                 /* {dim} */
    gk_tensor wq, wk, wv;                /* {dim, n_heads*hd}, {dim, kv_dim}, {dim, kv_dim} */
    gk_tensor wo;                        /* {dim, dim} */
    gk_tensor ffn_norm;                  /* {dim} */
    gk_tensor w_gate, w_up;              /* {dim, ffn} */
    gk_tensor w_down;                    /* {ffn, dim} */
} llm_layer;

typedef struct llm_weights {
    gk_tensor tok_embd;                  /* {dim, vocab} */
    llm_layer *layers;                   /* n_layers */
    gk_tensor out_norm;                  /* {dim} */
    gk_tensor output;                    /* {dim, vocab} */
    gk_tensor rope_freqs;                /* {head_dim/2}: RoPE frequency factors; no data without */
} llm_weights;

/* Run-time buffers, allocated once; a forward pass allocates nothing. */
typedef struct llm_state {
    int max_t;            /* most tokens one forward pass takes */
    int max_logits;       /* most logit rows one forward pass returns */
    int ctx;              /* KV-cache positions */
    int kv_type;
    gk_tensor ids;        /* I32 {max_t} */
    gk_tensor x;          /* residual stream {dim, max_t} */
    gk_tensor xb;         /* normed input of a block {dim, max_t} */
    gk_tensor q, att;     /* {dim, max_t} */
    gk_tensor k, v;       /* {kv_dim, max_t} */
    gk_tensor hb, hb2;    /* {ffn, max_t} */
    gk_tensor logits;     /* {vocab, max_logits} */
    gk_tensor *kcache, *vcache;   /* per layer {kv_dim, ctx} */
} llm_state;

typedef struct llm_model {
    llm_config c;
    int wtype;            /* type of the 2-D weights (-1: mixed, as in the source file) */
    gk_backend *be;
    llm_weights w;
    llm_state s;
} llm_model;

/* ---- weight sources (llm_weights.c, llm_gguf.c) --------------------------------------------- */
typedef struct llm_source {
    llm_config c;
    unsigned long seed;             /* synthetic weights */
    const struct gguf_file *gguf;   /* non-NULL: weights come from this file */
} llm_source;

void llm_source_synthetic(llm_source *s, const llm_config *c, unsigned long seed);
/* Rows [row0, row0+nrows) of tensor t converted to type `type` into dst (nrows * row bytes).
 * Synthetic rows are a pure function of (seed, tensor, row), so every format, machine and
 * thread count sees the same values before quantisation. Uses up to n_threads threads. */
int llm_source_rows(const llm_source *s, const llm_tinfo *t, int type, int64_t row0, int64_t nrows,
                    void *dst, int n_threads, gc_err *err);

/* Type a tensor is stored in: F32 for norms; wtype when >= 0; else (wtype -1, "as the file
 * has it") the GGUF tensor's own type. -1 when there is none. */
int llm_source_type(const llm_source *s, const llm_tinfo *t, int wtype);

/* ---- model (llm_model.c) -------------------------------------------------------------------- */
typedef struct llm_load_opts {
    int wtype;            /* type of the 2-D weights; -1: each as the GGUF source has it */
    int kv_type;          /* GK_F32, GK_F16 or GK_Q8_0 */
    int ctx;              /* KV-cache positions to allocate (<= c.ctx) */
    int max_t;            /* tokens per forward pass */
    int max_logits;       /* logit rows per forward pass (1 for last-token only) */
} llm_load_opts;

/* Allocates weights and buffers of each model on its backend (m[i].be set by the caller) and
 * fills the weights from the source, producing each chunk once for models of the same type.
 * On failure every model is freed. */
/* Bytes of a model's run-time buffers and KV cache. */
uint64_t llm_buffer_bytes(const llm_config *c, const llm_load_opts *o);
/* Error naming `what` when need exceeds nine tenths of the memory available now. */
int llm_check_memory(const char *what, uint64_t need, gc_err *err);
/* The memory check covers the models on host backends (ref, cpu). */
int llm_load(llm_model *m, const llm_load_opts *o /* one per model */, int n_models, const llm_source *src, gc_err *err);
void llm_free(llm_model *m);

enum llm_logits_mode { LLM_LOGITS_NONE, LLM_LOGITS_LAST, LLM_LOGITS_ALL };
/* Runs T tokens at positions pos0..pos0+T-1 (KV cache holds 0..pos0-1; all T appended). LAST:
 * logits of the last token into out[vocab] (the last layer past its K and V on that row alone);
 * ALL: T rows into out[T*vocab] (T <= max_logits); NONE: no head, synchronises. */
int llm_forward(llm_model *m, const int32_t *tokens, int T, int pos0, int mode, float *out, gc_err *err);
/* Runs any number of tokens in batches of max_t (prompt fill); logits of the last if out. */
int llm_prefill(llm_model *m, const int32_t *tokens, int n, int pos0, float *out, gc_err *err);

/* ---- host-side comparisons (llm_quality.c) -------------------------------------------------- */
int llm_argmax(const float *x, int n);
/* Deterministic pseudo-random token ids in [0, vocab) from a seed (prompts need no tokenizer). */
void llm_tokens(int32_t *out, int n, int vocab, unsigned long seed);
/* KL(P_ref || P_q) of the softmax distributions of two logit rows, in nats. */
double llm_kl_div(const float *ref, const float *q, int n);

typedef struct llm_compare {
    double max_abs_err;   /* max |a - ref| over all logits */
    double max_rel_err;   /* max_abs_err / max |ref| of the same row (scale-free) */
    int top1_agree, rows;
    int top1_near_tie;    /* disagreements where the ref's two picks were within tolerance */
} llm_compare;
/* Compares rows x rows of logits; a top-1 disagreement counts as a near-tie (agreement) when
 * ref[x_pick] is within tol * max|ref| of ref's maximum. */
void llm_compare_logits(const float *ref, const float *x, int rows, int vocab, double tol, llm_compare *out);

/* ---- GGUF (llm_gguf.c) ---------------------------------------------------------------------- */
/* Reads a llama-architecture config from a parsed file and checks every tensor the model needs
 * is present with the shape the metadata implies and a type the kernels support. */
int llm_config_from_gguf(const struct gguf_file *f, llm_config *c, int *wtype, gc_err *err);
/* Writes the source's model as a GGUF v3 file with 2-D weights of type wtype. */
int llm_export_gguf(const llm_source *s, int wtype, const char *path, gc_err *err);

#endif
