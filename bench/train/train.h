/* Training a Llama-family decoder (the llm workload's architecture) against the kernel interface:
 * full training (every weight F32, AdamW) and LoRA on a frozen, possibly quantised base.
 *
 *   forward:  tokens -> embedding -> L x [x += attn(rmsnorm x); x += ffn(rmsnorm x)] -> rmsnorm
 *             -> head -> cross-entropy (fused: the loss and dlogits in one pass)
 *   backward: the same blocks in reverse, each *_backward beside its *_forward in train_model.c
 *             with the same arguments in the same order
 *   step:     global-norm clipping, AdamW with bias correction, warm-up + cosine learning rate
 *
 * Batches are B sequences of T tokens laid out as B·T rows ({dim, B·T}); attention and RoPE run
 * per sequence on row views. Every buffer is allocated once in train_load(); a step allocates
 * nothing on the backend.
 */
#ifndef GC_TRAIN_H
#define GC_TRAIN_H
#include <stdbool.h>
#include <stdint.h>
#include "base/util.h"
#include "bench/llm/llm.h"
#include "kernels/backend.h"

/* ---- data (train_data.c) ------------------------------------------------------------------- */

/* Where training tokens come from: a fixed random sparse Markov chain over the vocabulary
 * (each state has `branching` successors with random probabilities), whose per-token entropy H
 * is known exactly, so a correct trainer drives the loss from about ln(vocab) towards H; or a
 * file of token ids. */
typedef struct train_data {
    int vocab;
    /* Markov chain: next[i·branching + j] with probability prob[...]; pi: the stationary law */
    int branching;
    int32_t *next;
    double *prob, *pi_cdf;
    double entropy;         /* H = Σ_i π_i · H(row i) in nats; NAN for a file */
    /* file */
    int32_t *tokens;
    int64_t n_tokens;
    unsigned long seed;
} train_data;

int train_data_markov(train_data *d, int vocab, int branching, unsigned long seed, gc_err *err);
/* Reads raw little-endian ids (bytes_per_id 2 or 4), or llm.c's tokens file (a 256 × int32
 * header: magic 20240520, version 1 (u16 ids), token count); every id must be < vocab. */
int train_data_file(train_data *d, const char *path, int bytes_per_id, int vocab, gc_err *err);
/* The entropy rate of an explicit chain (n states, `branching` successors each) with
 * stationary law pi filled in (pi may be NULL): power iteration of the lazy chain. */
double train_markov_entropy(int n, int branching, const int32_t *next, const double *prob, double *pi);
/* Batch `step`: B sequences of T + 1 ids into out (inputs are [0, T), targets [1, T]), a pure
 * function of (data, seed, step). */
void train_data_batch(const train_data *d, int64_t step, int B, int T, int32_t *out);
void train_data_free(train_data *d);

/* ---- model (train_model.c) ------------------------------------------------------------------ */

enum train_mode { TRAIN_FULL, TRAIN_LORA };
/* LoRA targets, a bit each. */
enum { TRAIN_T_Q = 1, TRAIN_T_K = 2, TRAIN_T_V = 4, TRAIN_T_O = 8, TRAIN_T_FFN = 16 };

typedef struct train_opts {
    int mode;             /* TRAIN_FULL or TRAIN_LORA */
    int base_type;        /* lora: the frozen 2-D weights' type (q4_0, q8_0, q4_k, f16, f32); full: GK_F32 */
    int batch, seq;       /* B sequences of T tokens per step */
    int rank;             /* lora */
    float alpha;          /* lora: the adapter's output is scaled by alpha / rank */
    unsigned targets;     /* lora: TRAIN_T_* */
    /* optimiser */
    float lr, min_lr_frac, beta1, beta2, eps, weight_decay, clip;
    int warmup, schedule_steps;   /* warm-up steps, then a cosine over the rest of schedule_steps */
    bool lora_b_random;   /* start B at small random values instead of 0 (gradient checks see every path) */
} train_opts;

void train_opts_defaults(train_opts *o);
/* tiny and llama-124m (train's own), else the llm workload's presets; NULL when unknown. */
const llm_config *train_preset(const char *name);

/* One trained tensor: its value, gradient and AdamW moments (all F32, one shape). */
typedef struct train_param {
    char name[64];
    gk_tensor *w;         /* the model's tensor (points into the weights) */
    gk_tensor g, m, v;
    bool decay;           /* weight decay applies (2-D matrices, not norm gains) */
    bool overwritten;     /* the backward writes g whole (one matmul at beta 0): never zeroed first */
} train_param;

typedef struct train_lora {   /* y += (alpha/r) · B·(A·x) */
    gk_tensor a, b;           /* A {K, r}, B {r, N} */
} train_lora;

typedef struct train_acts {   /* what the backward pass reads, per layer, {·, B·T} */
    gk_tensor x, xn1, q, k, v, att, xmid, xn2, gate, up, h;
    gk_tensor lt[7];          /* lora: A·x {r, B·T} of each adapted projection (q k v o gate up down) */
} train_acts;

typedef struct train_counts {
    double flops_forward, flops_backward, flops_step;   /* per step (B·T tokens) */
    uint64_t weight_bytes, trainable_params, frozen_params;
    uint64_t grad_bytes, optimizer_bytes, activation_bytes;
} train_counts;

typedef struct train_model {
    llm_config c;
    train_opts o;
    gk_backend *be;
    llm_weights w;                /* the model's weights (full: F32, trained; lora: the frozen base) */
    llm_weights gw;               /* full: their gradients, same layout */
    train_lora *lora, *glora;     /* lora: adapters and their gradients, [layer * 7 + projection] */
    train_param *params;          /* what AdamW updates */
    int n_params;
    train_acts *acts;             /* n_layers */
    gk_tensor ids, targets;       /* I32 {B·T} */
    gk_tensor xf, xnf, logits, losses;   /* final residual and its norm {dim, BT}; logits, then dlogits,
                                          * {vocab, BT}; per-token losses {BT} */
    /* backward scratch: the residual's gradient, a block input's, per-projection outputs' */
    gk_tensor dres, dxn, dq, dk, dv, datt, dgate, dup, dlt, dnorm_frozen, norm2;
    int step;                     /* optimiser steps taken */
    double last_loss, last_grad_norm, last_lr;
    int32_t *host_ids;            /* inputs then targets, 2·B·T */
    float *host_losses;
} train_model;

/* Allocates and initialises the model on be: weights from the seed (llm's synthetic source,
 * the head scaled to logits of std ~1 for training from scratch), LoRA A random and B zero
 * (or random with lora_b_random), moments zero. n_threads: for generating weights. */
int train_load(train_model *m, const llm_config *c, const train_opts *o, gk_backend *be, unsigned long seed,
               int n_threads, gc_err *err);
void train_free(train_model *m);

/* Forward over ids (B sequences of T+1 ids: inputs and shifted targets): the mean loss into
 * *loss, dlogits kept for the backward pass. */
int train_forward(train_model *m, const int32_t *ids, double *loss, gc_err *err);
/* Zeroes the gradients and runs the backward pass of the last forward (repeatable). */
int train_backward(train_model *m, gc_err *err);
/* Clips by the global gradient norm, takes one AdamW step at the schedule's learning rate. */
int train_update(train_model *m, gc_err *err);
/* All three. */
int train_step(train_model *m, const int32_t *ids, double *loss, gc_err *err);
float train_lr_at(const train_opts *o, int step);   /* the schedule, step from 1 */

/* Counts of one step and memory by kind (deterministic, from the shapes). */
train_counts train_count(const llm_config *c, const train_opts *o);
/* Hash of the frozen base's bytes (lora) or of every weight (full): FNV-1a 64. */
int train_weights_hash(train_model *m, uint64_t *hash, gc_err *err);

#endif
