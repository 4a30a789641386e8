/* The training forward and backward passes, each block's backward beside its forward with the
 * same arguments in the same order (llm.c's layout), and the optimiser step.
 *
 * A linear layer is y = x·Wᵀ, plus (alpha/r)·(x·Aᵀ)·Bᵀ where it carries a LoRA adapter. Its
 * backward is three forms of one matmul (kernels/backend.h): dW += dyᵀ·x (full training only),
 * dx = dy·W (also on a frozen quantised W: the backend dequantises panels of it, never the
 * whole matrix), and the adapter's dB += s·dyᵀ·(x·Aᵀ), d(x·Aᵀ) = s·dy·B, dA += d(x·Aᵀ)ᵀ·x. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/train/train.h"

enum { P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, N_PROJ };
static const unsigned proj_target[N_PROJ] = {TRAIN_T_Q, TRAIN_T_K, TRAIN_T_V, TRAIN_T_O,
                                             TRAIN_T_FFN, TRAIN_T_FFN, TRAIN_T_FFN};
static const char *const proj_name[N_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_gate", "ffn_up", "ffn_down"};

static int op_failed(const train_model *m, int layer, const char *op, gc_err *err) {
    return gc_errf(err, "train %s on %s: %s%.0d %s failed: %s", m->c.name, m->be->name, layer >= 0 ? "layer " : "",
                   layer >= 0 ? layer : 0, op, gk_backend_error(m->be));
}
#define OP(call, layer, name) do { if ((call) != 0) return op_failed(m, layer, name, err); } while (0)

static int BT(const train_model *m) { return m->o.batch * m->o.seq; }
static int head_dim(const train_model *m) { return m->c.dim / m->c.n_heads; }
static gk_tensor seq_rows(const gk_tensor *t, const train_model *m, int b) {
    return gk_view_rows(t, (int64_t)b * m->o.seq, m->o.seq);
}
static float lora_scale(const train_model *m) { return m->o.alpha / (float)m->o.rank; }

/* The adapter of projection p in layer l, or NULL. */
static train_lora *adapter(train_model *m, int l, int p) {
    return m->o.mode == TRAIN_LORA && (m->o.targets & proj_target[p]) ? &m->lora[l * N_PROJ + p] : NULL;
}
static train_lora *adapter_grad(train_model *m, int l, int p) { return &m->glora[l * N_PROJ + p]; }

static const gk_tensor *proj_weight(const llm_layer *L, int p) {
    const gk_tensor *w[N_PROJ] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    return w[p];
}
static gk_tensor *proj_grad(train_model *m, int l, int p) {
    if (m->o.mode != TRAIN_FULL) return NULL;
    llm_layer *L = &m->gw.layers[l];
    gk_tensor *g[N_PROJ] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    return g[p];
}

/* ---- linear layers -------------------------------------------------------------------------- */

/* y{N, BT} = x{K, BT}·Wᵀ (+ s·(x·Aᵀ)·Bᵀ, x·Aᵀ kept for the backward pass). */
static int linear_forward(train_model *m, int l, int p, gk_tensor *y, const gk_tensor *x, gc_err *err) {
    gk_backend *b = m->be;
    OP(gk_matmul(b, y, proj_weight(&m->w.layers[l], p), x, NULL), l, proj_name[p]);
    train_lora *ad = adapter(m, l, p);
    if (!ad) return 0;
    gk_tensor *lt = &m->acts[l].lt[p];
    OP(gk_matmul(b, lt, &ad->a, x, NULL), l, "lora A");
    const gk_matmul_params add = {.alpha = lora_scale(m), .beta = 1.0f};
    OP(gk_matmul(b, y, &ad->b, lt, &add), l, "lora B");
    return 0;
}

/* dx{K, BT} = dy·W (+= when accumulate) and the weight gradients, given dy{N, BT} and x. */
static int linear_backward(train_model *m, int l, int p, gk_tensor *dx, bool accumulate, const gk_tensor *dy,
                           const gk_tensor *x, gc_err *err) {
    gk_backend *b = m->be;
    const gk_matmul_params dw = {.trans_x = true, .trans_w = true, .alpha = 1.0f, .beta = 0.0f};   /* overwritten */
    gk_tensor *gw = proj_grad(m, l, p);
    if (gw) OP(gk_matmul(b, gw, x, dy, &dw), l, "weight gradient");
    const gk_matmul_params back = {.trans_w = true, .alpha = 1.0f, .beta = accumulate ? 1.0f : 0.0f};
    OP(gk_matmul(b, dx, proj_weight(&m->w.layers[l], p), dy, &back), l, "input gradient");
    train_lora *ad = adapter(m, l, p);
    if (!ad) return 0;
    train_lora *g = adapter_grad(m, l, p);
    const float s = lora_scale(m);
    const gk_matmul_params gb = {.trans_x = true, .trans_w = true, .alpha = s, .beta = 0.0f};
    const gk_matmul_params dlt = {.trans_w = true, .alpha = s};
    const gk_matmul_params into = {.trans_w = true, .alpha = 1.0f, .beta = 1.0f};
    OP(gk_matmul(b, &g->b, &m->acts[l].lt[p], dy, &gb), l, "lora B gradient");
    OP(gk_matmul(b, &m->dlt, &ad->b, dy, &dlt), l, "lora inner gradient");
    OP(gk_matmul(b, &g->a, x, &m->dlt, &dw), l, "lora A gradient");
    OP(gk_matmul(b, dx, &ad->a, &m->dlt, &into), l, "lora input gradient");
    return 0;
}

/* ---- blocks: each backward below its forward ----------------------------------------------- */

/* ids (BT) -> x{dim, BT} of layer 0: rows of the embedding table. */
static int embedding_forward(train_model *m, gc_err *err) {
    OP(gk_embedding(m->be, &m->acts[0].x, &m->w.tok_embd, &m->ids), -1, "embedding");
    return 0;
}
/* dres{dim, BT} scattered into the table's gradient rows (full training). */
static int embedding_backward(train_model *m, gc_err *err) {
    if (m->o.mode != TRAIN_FULL) return 0;
    OP(gk_embedding_backward(m->be, &m->gw.tok_embd, &m->dres, &m->ids), -1, "embedding backward");
    return 0;
}

/* x{dim, BT} -> xmid = x + Wo·attention(rope(Wq·n), rope(Wk·n), Wv·n), n = rmsnorm(x), causal per
 * sequence. q, k (after RoPE), v and the attention output are kept. */
static int attention_forward(train_model *m, int l, gc_err *err) {
    gk_backend *b = m->be;
    train_acts *a = &m->acts[l];
    const llm_layer *L = &m->w.layers[l];
    const llm_config *c = &m->c;
    const int hd = head_dim(m);
    OP(gk_rmsnorm(b, &a->xn1, &a->x, &L->attn_norm, c->norm_eps), l, "attention rmsnorm");
    if (linear_forward(m, l, P_Q, &a->q, &a->xn1, err) || linear_forward(m, l, P_K, &a->k, &a->xn1, err) ||
        linear_forward(m, l, P_V, &a->v, &a->xn1, err))
        return -1;
    const gk_attn_params ap = {c->n_heads, c->n_kv_heads, hd, 0, 1.0f / sqrtf((float)hd)};
    for (int s = 0; s < m->o.batch; s++) {
        gk_tensor q = seq_rows(&a->q, m, s), k = seq_rows(&a->k, m, s), v = seq_rows(&a->v, m, s);
        gk_tensor o = seq_rows(&a->att, m, s);
        OP(gk_rope(b, &q, c->n_heads, hd, 0, c->rope_base, NULL), l, "rope of Q");
        OP(gk_rope(b, &k, c->n_kv_heads, hd, 0, c->rope_base, NULL), l, "rope of K");
        OP(gk_attention(b, &o, &q, &k, &v, &ap), l, "attention");
    }
    if (linear_forward(m, l, P_O, &a->xmid, &a->att, err)) return -1;
    OP(gk_add(b, &a->xmid, &a->xmid, &a->x), l, "attention residual");
    return 0;
}
/* dres: ∂L/∂xmid in, ∂L/∂x out (the residual's own path plus the block's). */
static int attention_backward(train_model *m, int l, gc_err *err) {
    gk_backend *b = m->be;
    train_acts *a = &m->acts[l];
    const llm_layer *L = &m->w.layers[l];
    const llm_config *c = &m->c;
    const int hd = head_dim(m);
    if (linear_backward(m, l, P_O, &m->datt, false, &m->dres, &a->att, err)) return -1;
    const gk_attn_params ap = {c->n_heads, c->n_kv_heads, hd, 0, 1.0f / sqrtf((float)hd)};
    for (int s = 0; s < m->o.batch; s++) {
        gk_tensor q = seq_rows(&a->q, m, s), k = seq_rows(&a->k, m, s), v = seq_rows(&a->v, m, s);
        gk_tensor dq = seq_rows(&m->dq, m, s), dk = seq_rows(&m->dk, m, s), dv = seq_rows(&m->dv, m, s);
        gk_tensor dout = seq_rows(&m->datt, m, s);
        OP(gk_attention_backward(b, &dq, &dk, &dv, &dout, &q, &k, &v, &ap), l, "attention backward");
        OP(gk_rope_backward(b, &dq, c->n_heads, hd, 0, c->rope_base, NULL), l, "rope backward of Q");
        OP(gk_rope_backward(b, &dk, c->n_kv_heads, hd, 0, c->rope_base, NULL), l, "rope backward of K");
    }
    if (linear_backward(m, l, P_Q, &m->dxn, false, &m->dq, &a->xn1, err) ||
        linear_backward(m, l, P_K, &m->dxn, true, &m->dk, &a->xn1, err) ||
        linear_backward(m, l, P_V, &m->dxn, true, &m->dv, &a->xn1, err))
        return -1;
    gk_tensor *gn = m->o.mode == TRAIN_FULL ? &m->gw.layers[l].attn_norm : &m->dnorm_frozen;
    OP(gk_rmsnorm_backward(b, &m->dres, gn, &m->dxn, &a->x, &L->attn_norm, c->norm_eps), l, "attention rmsnorm backward");
    return 0;
}

/* xmid -> out = xmid + W_down·(silu(W_gate·n) ⊙ (W_up·n)), n = rmsnorm(xmid). */
static int ffn_forward(train_model *m, int l, gk_tensor *out, gc_err *err) {
    gk_backend *b = m->be;
    train_acts *a = &m->acts[l];
    OP(gk_rmsnorm(b, &a->xn2, &a->xmid, &m->w.layers[l].ffn_norm, m->c.norm_eps), l, "ffn rmsnorm");
    if (linear_forward(m, l, P_GATE, &a->gate, &a->xn2, err) || linear_forward(m, l, P_UP, &a->up, &a->xn2, err))
        return -1;
    OP(gk_silu_mul(b, &a->h, &a->gate, &a->up), l, "silu_mul");
    if (linear_forward(m, l, P_DOWN, out, &a->h, err)) return -1;
    OP(gk_add(b, out, out, &a->xmid), l, "ffn residual");
    return 0;
}
/* dres: ∂L/∂out in, ∂L/∂xmid out. */
static int ffn_backward(train_model *m, int l, gc_err *err) {
    gk_backend *b = m->be;
    train_acts *a = &m->acts[l];
    if (linear_backward(m, l, P_DOWN, &m->dgate, false, &m->dres, &a->h, err)) return -1;   /* dgate holds dh */
    OP(gk_silu_mul_backward(b, &m->dgate, &m->dup, &m->dgate, &a->gate, &a->up), l, "silu_mul backward");
    if (linear_backward(m, l, P_GATE, &m->dxn, false, &m->dgate, &a->xn2, err) ||
        linear_backward(m, l, P_UP, &m->dxn, true, &m->dup, &a->xn2, err))
        return -1;
    gk_tensor *gn = m->o.mode == TRAIN_FULL ? &m->gw.layers[l].ffn_norm : &m->dnorm_frozen;
    OP(gk_rmsnorm_backward(b, &m->dres, gn, &m->dxn, &a->xmid, &m->w.layers[l].ffn_norm, m->c.norm_eps), l,
       "ffn rmsnorm backward");
    return 0;
}

/* xf -> logits = W_out·rmsnorm(xf) -> the mean cross-entropy against the targets; dlogits (the
 * logits' buffer, overwritten) = (softmax − onehot) / BT for the backward pass. */
static int head_forward(train_model *m, double *loss, gc_err *err) {
    gk_backend *b = m->be;
    OP(gk_rmsnorm(b, &m->xnf, &m->xf, &m->w.out_norm, m->c.norm_eps), -1, "final rmsnorm");
    OP(gk_matmul(b, &m->logits, &m->w.output, &m->xnf, NULL), -1, "output head");
    OP(gk_cross_entropy(b, &m->losses, &m->logits, &m->logits, &m->targets, 1.0f / (float)BT(m)), -1, "cross-entropy");
    OP(b->ops->download(b, &m->losses, 0, m->host_losses, (size_t)BT(m) * sizeof(float)), -1, "download of losses");
    double s = 0;
    for (int i = 0; i < BT(m); i++) s += m->host_losses[i];
    *loss = s / BT(m);
    return 0;
}
/* dlogits -> dres = ∂L/∂xf. The head and the final norm are frozen under LoRA. */
static int head_backward(train_model *m, gc_err *err) {
    gk_backend *b = m->be;
    bool full = m->o.mode == TRAIN_FULL;
    const gk_matmul_params dw = {.trans_x = true, .trans_w = true, .alpha = 1.0f, .beta = 0.0f};   /* overwritten */
    const gk_matmul_params back = {.trans_w = true, .alpha = 1.0f};
    if (full) OP(gk_matmul(b, &m->gw.output, &m->xnf, &m->logits, &dw), -1, "head weight gradient");
    OP(gk_matmul(b, &m->dxn, &m->w.output, &m->logits, &back), -1, "head input gradient");
    OP(gk_fill(b, &m->dres, 0.0f), -1, "zeroing the residual gradient");
    OP(gk_rmsnorm_backward(b, &m->dres, full ? &m->gw.out_norm : &m->dnorm_frozen, &m->dxn, &m->xf, &m->w.out_norm,
                           m->c.norm_eps),
       -1, "final rmsnorm backward");
    return 0;
}

/* ---- passes ----------------------------------------------------------------------------------- */

int train_forward(train_model *m, const int32_t *ids, double *loss, gc_err *err) {
    gk_backend *b = m->be;
    const int B = m->o.batch, T = m->o.seq;
    for (int s = 0; s < B; s++)   /* inputs and targets: the sequence and the sequence shifted by one */
        for (int t = 0; t < T; t++) {
            int32_t in = ids[s * (T + 1) + t], out = ids[s * (T + 1) + t + 1];
            if (in < 0 || in >= m->c.vocab || out < 0 || out >= m->c.vocab)
                return gc_errf(err, "train %s: token id %d out of the vocabulary (0..%d)", m->c.name,
                               in < 0 || in >= m->c.vocab ? in : out, m->c.vocab - 1);
            m->host_ids[s * T + t] = in, m->host_ids[B * T + s * T + t] = out;
        }
    OP(b->ops->upload(b, &m->ids, 0, m->host_ids, (size_t)B * T * sizeof(int32_t)), -1, "upload of ids");
    OP(b->ops->upload(b, &m->targets, 0, m->host_ids + B * T, (size_t)B * T * sizeof(int32_t)), -1, "upload of targets");
    if (embedding_forward(m, err)) return -1;
    for (int l = 0; l < m->c.n_layers; l++)
        if (attention_forward(m, l, err) || ffn_forward(m, l, l + 1 < m->c.n_layers ? &m->acts[l + 1].x : &m->xf, err))
            return -1;
    if (head_forward(m, loss, err)) return -1;
    m->last_loss = *loss;
    return 0;
}

int train_backward(train_model *m, gc_err *err) {
    /* only what is accumulated into (norm gains, the embedding table's scatter): each linear
     * layer's dW is written whole by its one matmul at beta 0, which never reads it */
    for (int i = 0; i < m->n_params; i++)
        if (!m->params[i].overwritten) OP(gk_fill(m->be, &m->params[i].g, 0.0f), -1, "zeroing gradients");
    if (head_backward(m, err)) return -1;
    for (int l = m->c.n_layers - 1; l >= 0; l--)
        if (ffn_backward(m, l, err) || attention_backward(m, l, err)) return -1;
    return embedding_backward(m, err);
}

float train_lr_at(const train_opts *o, int step) {
    if (step <= o->warmup) return o->lr * (float)step / (float)(o->warmup > 0 ? o->warmup : 1);
    const int span = o->schedule_steps - o->warmup;
    double frac = span > 0 ? fmin(1.0, (double)(step - o->warmup) / span) : 1.0;
    double lo = o->lr * o->min_lr_frac;
    return (float)(lo + 0.5 * (o->lr - lo) * (1.0 + cos(M_PI * frac)));
}

int train_update(train_model *m, gc_err *err) {
    gk_backend *b = m->be;
    OP(gk_fill(b, &m->norm2, 0.0f), -1, "zeroing the gradient norm");
    for (int i = 0; i < m->n_params; i++) OP(gk_sum_squares(b, &m->norm2, &m->params[i].g), -1, "gradient norm");
    float n2;
    OP(b->ops->download(b, &m->norm2, 0, &n2, sizeof n2), -1, "download of the gradient norm");
    double norm = sqrt((double)n2);
    if (!isfinite(norm)) return gc_errf(err, "train %s on %s: the gradient norm is %g at step %d", m->c.name, b->name,
                                        norm, m->step + 1);
    m->step++;
    m->last_grad_norm = norm;
    m->last_lr = train_lr_at(&m->o, m->step);
    gk_adamw_params p = {.lr = (float)m->last_lr, .beta1 = m->o.beta1, .beta2 = m->o.beta2, .eps = m->o.eps,
                         .grad_scale = m->o.clip > 0 && norm > m->o.clip ? (float)(m->o.clip / norm) : 1.0f,
                         .step = m->step};
    for (int i = 0; i < m->n_params; i++) {
        train_param *q = &m->params[i];
        p.weight_decay = q->decay ? m->o.weight_decay : 0.0f;
        OP(gk_adamw(b, q->w, &q->g, &q->m, &q->v, &p), -1, "adamw");
    }
    return 0;
}

int train_step(train_model *m, const int32_t *ids, double *loss, gc_err *err) {
    return train_forward(m, ids, loss, err) || train_backward(m, err) || train_update(m, err) ? -1 : 0;
}
