/* Allocating a training model: weights from the llm's synthetic source, gradients, AdamW
 * moments, the activations the backward pass reads, its scratch; and the counts of one step.
 *
 * Memory by kind (train_count): weights (full: F32; lora: the frozen base in its own type, never
 * expanded), gradients and optimiser state (two moments) of what is trained, and activations:
 * eleven {·, B·T} buffers a layer plus the adapters' x·Aᵀ, the logits and the backward scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/train/train.h"

enum { N_PROJ = 7 };
#define CHUNK_BYTES ((size_t)16 << 20)

/* Training shapes of their own; the larger two are the llm workload's. llama-124m is GPT-2
 * small's size (llm.c's reference run: width 768, 12 layers, 12 heads, context 1024) in the
 * Llama architecture with a 32000 vocabulary and SwiGLU of width 2048 (2/3 of GPT-2's 4·768,
 * the same FFN parameters): 134 M parameters with the untied head. tiny: for tests. */
static const llm_config own_presets[] = {
    {"tiny", 64, 2, 4, 2, 192, 64, 256, 10000.0f, 1e-5f, false},
    {"llama-124m", 768, 12, 12, 12, 2048, 32000, 1024, 10000.0f, 1e-5f, false},
};

const llm_config *train_preset(const char *name) {
    for (size_t i = 0; name && i < sizeof own_presets / sizeof own_presets[0]; i++)
        if (!strcmp(own_presets[i].name, name)) return &own_presets[i];
    return llm_preset(name);
}

void train_opts_defaults(train_opts *o) {
    *o = (train_opts){.mode = TRAIN_FULL, .base_type = GK_F32, .batch = 4, .seq = 64, .rank = 16, .alpha = 32,
                      .targets = TRAIN_T_Q | TRAIN_T_K | TRAIN_T_V | TRAIN_T_O, .lr = 3e-4f, .min_lr_frac = 0.1f,
                      .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip = 1.0f, .warmup = 10,
                      .schedule_steps = 1000};
}

static void proj_shape(const llm_config *c, int p, int64_t *k, int64_t *n) {
    int64_t kv = (int64_t)c->dim / c->n_heads * c->n_kv_heads;
    const int64_t K[N_PROJ] = {c->dim, c->dim, c->dim, c->dim, c->dim, c->dim, c->ffn};
    const int64_t N[N_PROJ] = {c->dim, kv, kv, c->dim, c->ffn, c->ffn, c->dim};
    *k = K[p], *n = N[p];
}
static const unsigned proj_target[N_PROJ] = {TRAIN_T_Q, TRAIN_T_K, TRAIN_T_V, TRAIN_T_O,
                                             TRAIN_T_FFN, TRAIN_T_FFN, TRAIN_T_FFN};

/* ---- counts ------------------------------------------------------------------------------------ */

train_counts train_count(const llm_config *c, const train_opts *o) {
    train_counts n = {0};
    const double bt = (double)o->batch * o->seq, T = o->seq;
    const bool full = o->mode == TRAIN_FULL;
    double proj = 0, lora = 0;   /* multiply-adds per token */
    uint64_t lora_params = 0, base = 0;
    for (int p = 0; p < N_PROJ; p++) {
        int64_t k, nn;
        proj_shape(c, p, &k, &nn);
        proj += (double)k * nn;
        if (!full && (o->targets & proj_target[p])) {
            lora += (double)o->rank * (k + nn);
            lora_params += (uint64_t)o->rank * (uint64_t)(k + nn);
        }
    }
    const double head = (double)c->dim * c->vocab;
    /* causal attention: QKᵀ and PV over T(T+1)/2 pairs a sequence, 2 flops a multiply-add */
    const double attn = 2.0 * c->dim * T * (T + 1) / 2 * 2 * o->batch;
    n.flops_forward = c->n_layers * (2 * bt * (proj + lora) + attn) + 2 * bt * head;
    /* backward: dx of every matmul, dW of the trained ones; attention recomputes the scores and
     * forms dP, dS·K, dSᵀ·Q and Pᵀ·dO (five products against the forward's two) */
    const double bw_layer = 2 * bt * proj * (full ? 2 : 1) + 2 * bt * lora * 2 + 2.5 * attn;
    n.flops_backward = c->n_layers * bw_layer + 2 * bt * head * (full ? 2 : 1);
    n.flops_step = n.flops_forward + n.flops_backward;

    llm_tinfo t;
    const int wtype = full ? GK_F32 : o->base_type;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        n.weight_bytes += t.norm ? (uint64_t)t.ne0 * 4u : (uint64_t)gk_type_bytes(wtype, t.ne0) * (uint64_t)t.ne1;
        base += (uint64_t)(t.ne0 * t.ne1);
    }
    n.trainable_params = full ? base : (uint64_t)c->n_layers * lora_params;
    n.frozen_params = full ? 0 : base;
    if (!full) n.weight_bytes += (uint64_t)c->n_layers * lora_params * 4u;
    n.grad_bytes = n.trainable_params * 4u;
    n.optimizer_bytes = n.trainable_params * 8u;
    const uint64_t kv = (uint64_t)c->dim / c->n_heads * c->n_kv_heads, r = full ? 0 : (uint64_t)o->rank;
    int adapted = 0;
    for (int p = 0; p < N_PROJ; p++) adapted += !full && (o->targets & proj_target[p]);
    const uint64_t per_layer = 6u * c->dim + 2u * kv + 3u * (uint64_t)c->ffn + (uint64_t)adapted * r;
    const uint64_t scratch = 3u * c->dim + 2u * kv + 2u * (uint64_t)c->ffn + r;
    n.activation_bytes = (uint64_t)bt * 4u * ((uint64_t)c->n_layers * per_layer + 2u * c->dim + c->vocab + 1u + scratch) +
                         (uint64_t)bt * 8u;
    return n;
}

/* ---- allocation -------------------------------------------------------------------------------- */

static int alloc2d(train_model *m, gk_tensor *t, int type, int64_t ne0, int64_t ne1, const char *what, gc_err *err) {
    if (gk_new2d(m->be, t, type, ne0, ne1) == 0) return 0;
    return gc_errf(err, "train %s on %s: cannot allocate %s (%s {%lld, %lld}): %s", m->c.name, m->be->name, what,
                   gk_type_name(type), (long long)ne0, (long long)ne1, gk_backend_error(m->be));
}

static void free_t(gk_backend *b, gk_tensor *t) {
    if (t->data) b->ops->free(b, t);
    memset(t, 0, sizeof *t);
}

static int alloc_weights(train_model *m, llm_weights *w, bool grads, gc_err *err) {
    w->layers = calloc((size_t)m->c.n_layers, sizeof *w->layers);
    if (!w->layers) return gc_errf(err, "train %s: out of memory", m->c.name);
    llm_tinfo t;
    const int wtype = m->o.mode == TRAIN_FULL || grads ? GK_F32 : m->o.base_type;
    for (int i = 0; i < llm_tensor_count(&m->c); i++) {
        llm_tensor_info(&m->c, i, &t);
        if (alloc2d(m, llm_weight_slot(w, &t), t.norm ? GK_F32 : wtype, t.ne0, t.ne1, t.name, err)) return -1;
    }
    return 0;
}

static int add_param(train_model *m, const char *name, gk_tensor *w, gk_tensor *g, bool decay, bool overwritten,
                     gc_err *err) {
    train_param *p = &m->params[m->n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->w = w, p->g = *g, p->decay = decay, p->overwritten = overwritten;
    return alloc2d(m, &p->m, GK_F32, w->ne[0], w->ne[1], "first moment", err) ||
                   alloc2d(m, &p->v, GK_F32, w->ne[0], w->ne[1], "second moment", err)
               ? -1
               : 0;
}

static int alloc_params(train_model *m, gc_err *err) {
    const llm_config *c = &m->c;
    m->params = calloc((size_t)llm_tensor_count(c) + (size_t)c->n_layers * 2 * N_PROJ, sizeof *m->params);
    if (!m->params) return gc_errf(err, "train %s: out of memory", c->name);
    if (m->o.mode == TRAIN_FULL) {
        if (alloc_weights(m, &m->gw, true, err)) return -1;
        llm_tinfo t;
        for (int i = 0; i < llm_tensor_count(c); i++) {
            llm_tensor_info(c, i, &t);
            /* every matrix but the embedding table (scattered into) is one linear layer's dW */
            gk_tensor *w = llm_weight_slot(&m->w, &t);
            bool whole = !t.norm && w != &m->w.tok_embd;
            if (add_param(m, t.name, w, llm_weight_slot(&m->gw, &t), !t.norm, whole, err)) return -1;
        }
        return 0;
    }
    m->lora = calloc((size_t)c->n_layers * N_PROJ, sizeof *m->lora);
    m->glora = calloc((size_t)c->n_layers * N_PROJ, sizeof *m->glora);
    if (!m->lora || !m->glora) return gc_errf(err, "train %s: out of memory", c->name);
    static const char *const names[N_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < N_PROJ; p++) {
            if (!(m->o.targets & proj_target[p])) continue;
            int64_t k, n;
            proj_shape(c, p, &k, &n);
            train_lora *a = &m->lora[l * N_PROJ + p], *g = &m->glora[l * N_PROJ + p];
            char na[64], nb[64];
            snprintf(na, sizeof na, "blk.%d.%s.lora_a", l, names[p]);
            snprintf(nb, sizeof nb, "blk.%d.%s.lora_b", l, names[p]);
            if (alloc2d(m, &a->a, GK_F32, k, m->o.rank, na, err) || alloc2d(m, &a->b, GK_F32, m->o.rank, n, nb, err) ||
                alloc2d(m, &g->a, GK_F32, k, m->o.rank, na, err) || alloc2d(m, &g->b, GK_F32, m->o.rank, n, nb, err) ||
                add_param(m, na, &a->a, &g->a, false, true, err) || add_param(m, nb, &a->b, &g->b, false, true, err))
                return -1;
        }
    return 0;
}

static int alloc_acts(train_model *m, gc_err *err) {
    const llm_config *c = &m->c;
    const int64_t bt = (int64_t)m->o.batch * m->o.seq, kv = (int64_t)c->dim / c->n_heads * c->n_kv_heads;
    const int64_t r = m->o.mode == TRAIN_LORA ? m->o.rank : 1;
    m->acts = calloc((size_t)c->n_layers, sizeof *m->acts);
    if (!m->acts) return gc_errf(err, "train %s: out of memory", c->name);
    for (int l = 0; l < c->n_layers; l++) {
        train_acts *a = &m->acts[l];
        struct { gk_tensor *t; int64_t ne0; } list[] = {
            {&a->x, c->dim}, {&a->xn1, c->dim}, {&a->q, c->dim}, {&a->k, kv}, {&a->v, kv}, {&a->att, c->dim},
            {&a->xmid, c->dim}, {&a->xn2, c->dim}, {&a->gate, c->ffn}, {&a->up, c->ffn}, {&a->h, c->ffn}};
        for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
            if (alloc2d(m, list[i].t, GK_F32, list[i].ne0, bt, "activations", err)) return -1;
        for (int p = 0; p < N_PROJ; p++)
            if (m->o.mode == TRAIN_LORA && (m->o.targets & proj_target[p]) &&
                alloc2d(m, &a->lt[p], GK_F32, r, bt, "adapter activations", err))
                return -1;
    }
    struct { gk_tensor *t; int type; int64_t ne0, ne1; } list[] = {
        {&m->ids, GK_I32, bt, 1}, {&m->targets, GK_I32, bt, 1}, {&m->xf, GK_F32, c->dim, bt},
        {&m->xnf, GK_F32, c->dim, bt}, {&m->logits, GK_F32, c->vocab, bt}, {&m->losses, GK_F32, bt, 1},
        {&m->dres, GK_F32, c->dim, bt}, {&m->dxn, GK_F32, c->dim, bt}, {&m->dq, GK_F32, c->dim, bt},
        {&m->dk, GK_F32, kv, bt}, {&m->dv, GK_F32, kv, bt}, {&m->datt, GK_F32, c->dim, bt},
        {&m->dgate, GK_F32, c->ffn, bt}, {&m->dup, GK_F32, c->ffn, bt}, {&m->dlt, GK_F32, r, bt},
        {&m->dnorm_frozen, GK_F32, c->dim, 1}, {&m->norm2, GK_F32, 1, 1}};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (alloc2d(m, list[i].t, list[i].type, list[i].ne0, list[i].ne1, "training buffers", err)) return -1;
    m->host_ids = malloc((size_t)bt * 2 * sizeof *m->host_ids);
    m->host_losses = malloc((size_t)bt * sizeof *m->host_losses);
    return m->host_ids && m->host_losses ? 0 : gc_errf(err, "train %s: out of memory", c->name);
}

/* ---- initial values ------------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x) {   /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int upload(train_model *m, gk_tensor *t, size_t off, const void *src, size_t n, const char *what, gc_err *err) {
    if (m->be->ops->upload(m->be, t, off, src, n) == 0) return 0;
    return gc_errf(err, "train %s on %s: upload of %s failed: %s", m->c.name, m->be->name, what, gk_backend_error(m->be));
}

/* The llm's synthetic weights in the model's types; for training from scratch the head is
 * scaled by 1/4 so the first logits have std ~1 and the first loss is near ln(vocab). */
static int fill_weights(train_model *m, unsigned long seed, int n_threads, gc_err *err) {
    llm_source src;
    llm_source_synthetic(&src, &m->c, seed);
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!buf) return gc_errf(err, "train %s: out of memory for the load buffer", m->c.name);
    llm_tinfo t;
    int rc = 0;
    for (int i = 0; i < llm_tensor_count(&m->c) && !rc; i++) {
        llm_tensor_info(&m->c, i, &t);
        gk_tensor *dst = llm_weight_slot(&m->w, &t);
        const size_t rb = gk_row_bytes(dst);
        int64_t step = (int64_t)(CHUNK_BYTES / gk_type_bytes(GK_F32, t.ne0));
        for (int64_t r0 = 0; r0 < t.ne1 && !rc; r0 += step) {
            int64_t nr = t.ne1 - r0 < step ? t.ne1 - r0 : step;
            rc = llm_source_rows(&src, &t, dst->type, r0, nr, buf, n_threads, err);
            if (!rc && t.kind == LLM_OUTPUT && m->o.mode == TRAIN_FULL)
                for (int64_t e = 0; e < nr * t.ne0; e++) ((float *)buf)[e] *= 0.25f;
            if (!rc) rc = upload(m, dst, (size_t)r0 * rb, buf, (size_t)nr * rb, t.name, err);
        }
    }
    free(buf);
    return rc;
}

/* A: uniform with std 1/sqrt(K) (unit-variance x·Aᵀ); B: zero, so training starts from the base
 * model exactly, or (lora_b_random) std 0.1/sqrt(r) so a gradient check sees every path. */
static int fill_adapters(train_model *m, unsigned long seed, gc_err *err) {
    for (int i = 0; i < m->c.n_layers * N_PROJ; i++) {
        train_lora *a = &m->lora[i];
        if (!a->a.data) continue;
        gk_tensor *ts[2] = {&a->a, &a->b};
        for (int k = 0; k < 2; k++) {
            int64_t n = gk_nelements(ts[k]);
            float *v = calloc((size_t)n, sizeof *v);
            if (!v) return gc_errf(err, "train %s: out of memory", m->c.name);
            double std = k == 0 ? 1.0 / sqrt((double)ts[k]->ne[0]) : m->o.lora_b_random ? 0.1 / sqrt((double)m->o.rank) : 0;
            uint64_t s = mix64(seed ^ mix64((uint64_t)i * 2 + (uint64_t)k + 0x4c6f5241ull));
            for (int64_t e = 0; e < n && std > 0; e++) {
                s = mix64(s);
                v[e] = (float)(std * 1.7320508 * ((double)(s >> 11) / 4503599627370496.0 - 1.0));
            }
            int rc = upload(m, ts[k], 0, v, (size_t)n * sizeof *v, "adapter", err);
            free(v);
            if (rc) return -1;
        }
    }
    return 0;
}

int train_load(train_model *m, const llm_config *c, const train_opts *o, gk_backend *be, unsigned long seed,
               int n_threads, gc_err *err) {
    memset(m, 0, sizeof *m);
    m->c = *c, m->o = *o, m->be = be;
    if (llm_config_check(c, o->mode == TRAIN_FULL ? GK_F32 : o->base_type, err)) return -1;
    if (o->batch < 1 || o->seq < 1 || o->seq > c->ctx || (o->mode == TRAIN_LORA && (o->rank < 1 || !o->targets)))
        return gc_errf(err, "train %s: batch %d × sequence %d (context %d), rank %d, targets %#x: out of range", c->name,
                       o->batch, o->seq, c->ctx, o->rank, o->targets);
    int rc = alloc_weights(m, &m->w, false, err) || alloc_params(m, err) || alloc_acts(m, err) ||
             fill_weights(m, seed, n_threads, err) || (m->lora && fill_adapters(m, seed, err));
    for (int i = 0; !rc && i < m->n_params; i++) {
        train_param *p = &m->params[i];
        if (gk_fill(be, &p->m, 0.0f) || gk_fill(be, &p->v, 0.0f))
            rc = gc_errf(err, "train %s on %s: zeroing optimiser state: %s", c->name, be->name, gk_backend_error(be));
    }
    if (rc) train_free(m);
    return rc ? -1 : 0;
}

static void free_weights(gk_backend *b, llm_weights *w, const llm_config *c) {
    if (!w->layers) return;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        free_t(b, llm_weight_slot(w, &t));
    }
    free(w->layers);
    w->layers = NULL;
}

void train_free(train_model *m) {
    gk_backend *b = m->be;
    if (!b) return;
    free_weights(b, &m->w, &m->c);
    free_weights(b, &m->gw, &m->c);
    for (int i = 0; m->lora && i < m->c.n_layers * N_PROJ; i++) {
        free_t(b, &m->lora[i].a), free_t(b, &m->lora[i].b);
        free_t(b, &m->glora[i].a), free_t(b, &m->glora[i].b);
    }
    free(m->lora), free(m->glora);
    for (int i = 0; m->params && i < m->n_params; i++) free_t(b, &m->params[i].m), free_t(b, &m->params[i].v);
    free(m->params);
    for (int l = 0; m->acts && l < m->c.n_layers; l++) {
        gk_tensor *ts[] = {&m->acts[l].x, &m->acts[l].xn1, &m->acts[l].q, &m->acts[l].k, &m->acts[l].v,
                           &m->acts[l].att, &m->acts[l].xmid, &m->acts[l].xn2, &m->acts[l].gate, &m->acts[l].up,
                           &m->acts[l].h};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) free_t(b, ts[i]);
        for (int p = 0; p < N_PROJ; p++) free_t(b, &m->acts[l].lt[p]);
    }
    free(m->acts);
    gk_tensor *ts[] = {&m->ids, &m->targets, &m->xf, &m->xnf, &m->logits, &m->losses, &m->dres, &m->dxn, &m->dq,
                       &m->dk, &m->dv, &m->datt, &m->dgate, &m->dup, &m->dlt, &m->dnorm_frozen, &m->norm2};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) free_t(b, ts[i]);
    free(m->host_ids), free(m->host_losses);
    memset(m, 0, sizeof *m);
}

int train_weights_hash(train_model *m, uint64_t *hash, gc_err *err) {
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!buf) return gc_errf(err, "train %s: out of memory", m->c.name);
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&m->c); i++) {
        llm_tensor_info(&m->c, i, &t);
        const gk_tensor *w = llm_weight_slot(&m->w, &t);
        for (size_t off = 0; off < w->nbytes; off += CHUNK_BYTES) {
            size_t n = w->nbytes - off < CHUNK_BYTES ? w->nbytes - off : CHUNK_BYTES;
            if (m->be->ops->download(m->be, w, off, buf, n)) {
                free(buf);
                return gc_errf(err, "train %s on %s: download of %s failed: %s", m->c.name, m->be->name, t.name,
                               gk_backend_error(m->be));
            }
            for (size_t k = 0; k < n; k++) h = (h ^ buf[k]) * 0x100000001b3ull;
        }
    }
    free(buf);
    *hash = h;
    return 0;
}
