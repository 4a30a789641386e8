/* The Llama forward pass, and allocation of a model's weights and buffers on a backend.
 *
 *   tokens -> embedding -> n_layers x [ x += attention(rmsnorm(x)); x += ffn(rmsnorm(x)) ]
 *          -> rmsnorm -> output head -> logits
 *
 * Each residual add runs with the norm that follows it (add_rmsnorm: x += block output, then the
 * next block's input norm), and RoPE with the KV-cache stores (rope_kv_store), on backends that
 * have these fused ops: fewer kernel launches per token on a GPU, the same results.
 *
 * Every buffer is allocated once in llm_load(); a forward pass only takes row views of them,
 * uploads the token ids and, when asked, downloads the logits (its one synchronisation).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/llm/llm.h"

/* ---- the layers ----------------------------------------------------------------------------- */

/* Views of the run-time buffers for T tokens (no allocation). */
typedef struct acts {
    int T;
    gk_tensor x, xb, q, k, v, att, hb, hb2;
} acts;

static int op_failed(const llm_model *m, int layer, const char *op, gc_err *err) {
    return gc_errf(err, "llm %s on %s: %s%.0d %s failed: %s", m->c.name, m->be->name,
                   layer >= 0 ? "layer " : "", layer >= 0 ? layer : 0, op, gk_backend_error(m->be));
}
#define OP(call, layer, name) do { if ((call) != 0) return op_failed(m, layer, name, err); } while (0)

/* tokens: (T) ids -> x: (dim, T) rows of the embedding table. step: a decoded token, one step
 * of the backend (gk_step: cuda's graph) from after the token's upload. */
static int embedding_forward(llm_model *m, acts *a, const int32_t *tokens, bool step, gc_err *err) {
    gk_backend *b = m->be;
    gk_tensor ids;
    OP(gk_view(&ids, &m->s.ids, 0, (const int64_t[4]){a->T, 1, 1, 1}, NULL), -1, "view of token ids");
    OP(b->ops->upload(b, &ids, 0, tokens, ids.nbytes), -1, "upload of token ids");
    if (step) OP(gk_step(b, 1), -1, "start of a decode step");
    OP(gk_embedding(b, &a->x, &m->w.tok_embd, &ids), -1, "embedding");
    return 0;
}

/* x += xb (the previous block's output), then xb = rmsnorm(x) · w: each residual add is merged
 * into the norm after it, one op (add_rmsnorm) where the backend has it, else the two. first:
 * no block before (the first layer's attention norm), only the norm. Every row of x. */
static int residual_rmsnorm(llm_model *m, acts *a, bool first, const gk_tensor *w, int l, const char *what,
                            gc_err *err) {
    gk_backend *b = m->be;
    float eps = m->c.norm_eps;
    if (first) OP(gk_rmsnorm(b, &a->xb, &a->x, w, eps), l, what);
    else if (gk_has_op(b, GK_OP_ADD_RMSNORM)) OP(gk_add_rmsnorm(b, &a->xb, &a->x, &a->xb, w, eps), l, what);
    else {
        OP(gk_add(b, &a->x, &a->x, &a->xb), l, "residual add");
        OP(gk_rmsnorm(b, &a->xb, &a->x, w, eps), l, what);
    }
    return 0;
}

/* q, k: (dim, T), (kv_dim, T) turned by RoPE at positions pos0..; this layer's K (turned) and V
 * appended to the cache: one op (rope_kv_store) where the backend has it, else four. */
static int rope_and_cache(llm_model *m, int l, acts *a, int pos0, gc_err *err) {
    gk_backend *b = m->be;
    const llm_config *c = &m->c;
    int hd = c->dim / c->n_heads;
    const gk_tensor *ff = c->rope_factors ? &m->w.rope_freqs : NULL;   /* Llama 3.1's frequency factors */
    gk_tensor *kc = &m->s.kcache[l], *vc = &m->s.vcache[l];
    if (gk_has_op(b, GK_OP_ROPE_KV_STORE)) {
        gk_rope_kv_params p = {c->n_heads, c->n_kv_heads, hd, pos0, c->rope_base, ff};
        OP(gk_rope_kv_store(b, &a->q, kc, vc, &a->k, &a->v, &p), l, "rope and KV cache store");
        return 0;
    }
    OP(gk_rope(b, &a->q, c->n_heads, hd, pos0, c->rope_base, ff), l, "rope of Q");
    OP(gk_rope(b, &a->k, c->n_kv_heads, hd, pos0, c->rope_base, ff), l, "rope of K");
    OP(gk_kv_store(b, kc, &a->k, pos0), l, "K cache store");
    OP(gk_kv_store(b, vc, &a->v, pos0), l, "V cache store");
    return 0;
}

/* The last row of every activation: what is left to compute where only the last token's
 * logits are asked, once the last layer's K and V are in the cache. */
static acts last_row(const acts *a) {
    acts r = {.T = 1};
    const gk_tensor *src[] = {&a->x, &a->xb, &a->q, &a->k, &a->v, &a->att, &a->hb, &a->hb2};
    gk_tensor *dst[] = {&r.x, &r.xb, &r.q, &r.k, &r.v, &r.att, &r.hb, &r.hb2};
    for (size_t i = 0; i < sizeof src / sizeof *src; i++) *dst[i] = gk_view_rows(src[i], a->T - 1, 1);
    return r;
}

/* x: (dim, T) in (before the previous block's output xb is added), xb out: Wo · attention(rope(Wq·n),
 * rope(Wk·n), Wv·n), n = rmsnorm(x + xb) — the residual add of x += xb is the next norm's;
 * appends this layer's K and V of positions pos0..pos0+T-1 to the cache. last_only: then only
 * the last row's attention and output projection, and *a left as that row (last_row). */
static int attention_forward(llm_model *m, int l, acts *a, int pos0, bool last_only, gc_err *err) {
    gk_backend *b = m->be;
    const llm_layer *L = &m->w.layers[l];
    const llm_config *c = &m->c;
    int hd = c->dim / c->n_heads;
    if (residual_rmsnorm(m, a, l == 0, &L->attn_norm, l, "attention rmsnorm", err)) return -1;
    OP(gk_matmul(b, &a->q, &L->wq, &a->xb, NULL), l, "Q projection");      /* q: (dim, T) */
    OP(gk_matmul(b, &a->k, &L->wk, &a->xb, NULL), l, "K projection");      /* k: (kv_dim, T) */
    OP(gk_matmul(b, &a->v, &L->wv, &a->xb, NULL), l, "V projection");      /* v: (kv_dim, T) */
    if (rope_and_cache(m, l, a, pos0, err)) return -1;
    if (last_only) {
        pos0 += a->T - 1;   /* the position of the one query row left */
        *a = last_row(a);
    }
    gk_attn_params p = {c->n_heads, c->n_kv_heads, hd, pos0, 1.0f / sqrtf((float)hd)};
    OP(gk_attention(b, &a->att, &a->q, &m->s.kcache[l], &m->s.vcache[l], &p), l, "attention");
    OP(gk_matmul(b, &a->xb, &L->wo, &a->att, NULL), l, "output projection");
    return 0;
}

/* x: (dim, T) in (before the attention's output xb is added), xb out: W_down · (silu(W_gate·n) *
 * (W_up·n)), n = rmsnorm(x + xb); hidden activations (ffn, T). */
static int ffn_forward(llm_model *m, int l, acts *a, gc_err *err) {
    gk_backend *b = m->be;
    const llm_layer *L = &m->w.layers[l];
    if (residual_rmsnorm(m, a, false, &L->ffn_norm, l, "ffn rmsnorm", err)) return -1;
    OP(gk_matmul(b, &a->hb, &L->w_gate, &a->xb, NULL), l, "gate projection");
    OP(gk_matmul(b, &a->hb2, &L->w_up, &a->xb, NULL), l, "up projection");
    OP(gk_silu_mul(b, &a->hb, &a->hb, &a->hb2), l, "silu_mul");
    OP(gk_matmul(b, &a->xb, &L->w_down, &a->hb, NULL), l, "down projection");
    return 0;
}

/* xb rows [r0, r0+n) (the final norm, every row already normed) -> logits (vocab, n) -> out
 * (downloaded: the pass's one sync). */
static int head_forward(llm_model *m, acts *a, int r0, int n, bool step, float *out, gc_err *err) {
    gk_backend *b = m->be;
    gk_tensor xb = gk_view_rows(&a->xb, r0, n), logits = gk_view_rows(&m->s.logits, 0, n);
    OP(gk_matmul(b, &logits, &m->w.output, &xb, NULL), -1, "output head");
    if (step) OP(gk_step(b, 0), -1, "end of a decode step");
    OP(b->ops->download(b, &logits, 0, out, (size_t)n * (size_t)m->c.vocab * sizeof(float)), -1, "download of logits");
    return 0;
}

/* The layers, the final norm and (but for the download) the head of a forward pass. */
static int body_forward(llm_model *m, acts *a, int pos0, int mode, bool step, float *out, gc_err *err) {
    for (int l = 0; l < m->c.n_layers; l++) {
        /* Where only the last token's logits are asked, the last layer needs every row's K and V
         * (the cache) but only the last row's attention, output projection and FFN: 4% of a
         * tinyllama prefill's matmul work not done, the logits the same. */
        const bool last_only = mode == LLM_LOGITS_LAST && a->T > 1 && l == m->c.n_layers - 1;
        if (attention_forward(m, l, a, pos0, last_only, err)) return -1;
        if (ffn_forward(m, l, a, err)) return -1;
    }
    /* The last residual add and the final norm, on every row left (x complete whatever the head
     * reads; a row's norm is a small part of its matmuls). */
    if (residual_rmsnorm(m, a, false, &m->w.out_norm, -1, "final rmsnorm", err)) return -1;
    if (mode == LLM_LOGITS_LAST) return head_forward(m, a, a->T - 1, 1, step, out, err);
    if (mode == LLM_LOGITS_ALL) return head_forward(m, a, 0, a->T, step, out, err);
    if (step) OP(gk_step(m->be, 0), -1, "end of a decode step");
    if (m->be->ops->sync(m->be)) return op_failed(m, -1, "sync", err);
    return 0;
}

int llm_forward(llm_model *m, const int32_t *tokens, int T, int pos0, int mode, float *out, gc_err *err) {
    llm_state *s = &m->s;
    if (T < 1 || T > s->max_t || pos0 < 0 || pos0 > s->ctx - T)
        return gc_errf(err, "llm %s: %d tokens at position %d do not fit (batch %d, context %d)", m->c.name, T, pos0,
                       s->max_t, s->ctx);
    if (mode == LLM_LOGITS_ALL && T > s->max_logits)
        return gc_errf(err, "llm %s: %d logit rows asked, buffers hold %d", m->c.name, T, s->max_logits);
    if (mode != LLM_LOGITS_NONE && !out) return gc_errf(err, "llm %s: logits asked with nowhere to put them", m->c.name);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= m->c.vocab)
            return gc_errf(err, "llm %s: token id %d out of the vocabulary (0..%d)", m->c.name, (int)tokens[t], m->c.vocab - 1);
    acts a = {.T = T};
    a.x = gk_view_rows(&s->x, 0, T);
    a.xb = gk_view_rows(&s->xb, 0, T);
    a.q = gk_view_rows(&s->q, 0, T);
    a.att = gk_view_rows(&s->att, 0, T);
    a.k = gk_view_rows(&s->k, 0, T);
    a.v = gk_view_rows(&s->v, 0, T);
    a.hb = gk_view_rows(&s->hb, 0, T);
    a.hb2 = gk_view_rows(&s->hb2, 0, T);

    /* A decoded token is one step of the backend (a CUDA graph), the same shape every token. */
    const bool step = T == 1;
    if (embedding_forward(m, &a, tokens, step, err) || body_forward(m, &a, pos0, mode, step, out, err)) {
        if (step) gk_step(m->be, -1); /* drop what the step held (if it began); err says what failed */
        return -1;
    }
    return 0;
}

int llm_prefill(llm_model *m, const int32_t *tokens, int n, int pos0, float *out, gc_err *err) {
    for (int done = 0; done < n;) {
        int T = n - done < m->s.max_t ? n - done : m->s.max_t;
        bool last = done + T == n;
        int mode = last && out ? LLM_LOGITS_LAST : LLM_LOGITS_NONE;
        if (llm_forward(m, tokens + done, T, pos0 + done, mode, out, err)) return -1;
        done += T;
    }
    return 0;
}

/* ---- allocation and loading ----------------------------------------------------------------- */

gk_tensor *llm_weight_slot(llm_weights *w, const llm_tinfo *t) {
    if (t->kind == LLM_TOK_EMBD) return &w->tok_embd;
    if (t->kind == LLM_OUT_NORM) return &w->out_norm;
    if (t->kind == LLM_OUTPUT) return &w->output;
    if (t->kind == LLM_ROPE_FREQS) return &w->rope_freqs;
    llm_layer *L = &w->layers[t->layer];
    gk_tensor *slots[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
    return slots[t->kind - LLM_ATTN_NORM];
}

static void free_tensor(gk_backend *b, gk_tensor *t) {
    if (t->data) b->ops->free(b, t);
    memset(t, 0, sizeof *t);
}

void llm_free(llm_model *m) {
    if (!m || !m->be) return;
    gk_backend *b = m->be;
    llm_state *s = &m->s;
    if (m->w.layers) {
        llm_tinfo t;
        for (int i = 0; i < llm_tensor_count(&m->c); i++) {
            llm_tensor_info(&m->c, i, &t);
            free_tensor(b, llm_weight_slot(&m->w, &t));
        }
    } else {
        free_tensor(b, &m->w.tok_embd);
    }
    free(m->w.layers);
    m->w.layers = NULL;
    for (int l = 0; l < m->c.n_layers && s->kcache; l++) free_tensor(b, &s->kcache[l]);
    for (int l = 0; l < m->c.n_layers && s->vcache; l++) free_tensor(b, &s->vcache[l]);
    free(s->kcache);
    free(s->vcache);
    s->kcache = s->vcache = NULL;
    gk_tensor *bufs[] = {&s->ids, &s->x, &s->xb, &s->q, &s->att, &s->k, &s->v, &s->hb, &s->hb2, &s->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free_tensor(b, bufs[i]);
}

static int alloc2d(llm_model *m, gk_tensor *t, int type, int64_t ne0, int64_t ne1, const char *what, gc_err *err) {
    if (gk_new2d(m->be, t, type, ne0, ne1))
        return gc_errf(err, "llm %s on %s: cannot allocate %s (%s {%lld, %lld}): %s", m->c.name, m->be->name, what,
                       gk_type_name(type), (long long)ne0, (long long)ne1, gk_backend_error(m->be));
    return 0;
}

static int alloc_state(llm_model *m, const llm_load_opts *o, gc_err *err) {
    const llm_config *c = &m->c;
    llm_state *s = &m->s;
    int64_t kv_dim = (int64_t)c->dim / c->n_heads * c->n_kv_heads;
    s->max_t = o->max_t;
    s->max_logits = o->max_logits;
    s->ctx = o->ctx;
    s->kv_type = o->kv_type;
    if (alloc2d(m, &s->ids, GK_I32, o->max_t, 1, "token ids", err) ||
        alloc2d(m, &s->x, GK_F32, c->dim, o->max_t, "residual stream", err) ||
        alloc2d(m, &s->xb, GK_F32, c->dim, o->max_t, "block input", err) ||
        alloc2d(m, &s->q, GK_F32, c->dim, o->max_t, "queries", err) ||
        alloc2d(m, &s->att, GK_F32, c->dim, o->max_t, "attention output", err) ||
        alloc2d(m, &s->k, GK_F32, kv_dim, o->max_t, "keys", err) ||
        alloc2d(m, &s->v, GK_F32, kv_dim, o->max_t, "values", err) ||
        alloc2d(m, &s->hb, GK_F32, c->ffn, o->max_t, "ffn hidden", err) ||
        alloc2d(m, &s->hb2, GK_F32, c->ffn, o->max_t, "ffn hidden", err) ||
        alloc2d(m, &s->logits, GK_F32, c->vocab, o->max_logits, "logits", err))
        return -1;
    s->kcache = calloc((size_t)c->n_layers, sizeof *s->kcache);
    s->vcache = calloc((size_t)c->n_layers, sizeof *s->vcache);
    if (!s->kcache || !s->vcache) return gc_errf(err, "llm %s: out of memory", c->name);
    for (int l = 0; l < c->n_layers; l++)
        if (alloc2d(m, &s->kcache[l], o->kv_type, kv_dim, o->ctx, "K cache", err) ||
            alloc2d(m, &s->vcache[l], o->kv_type, kv_dim, o->ctx, "V cache", err))
            return -1;
    return 0;
}

static int alloc_weights(llm_model *m, const llm_source *src, gc_err *err) {
    m->w.layers = calloc((size_t)m->c.n_layers, sizeof *m->w.layers);
    if (!m->w.layers) return gc_errf(err, "llm %s: out of memory", m->c.name);
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&m->c); i++) {
        llm_tensor_info(&m->c, i, &t);
        int type = llm_source_type(src, &t, m->wtype);
        if (type < 0) return gc_errf(err, "llm %s: %s has no type to load it in", m->c.name, t.name);
        if (alloc2d(m, llm_weight_slot(&m->w, &t), type, t.ne0, t.ne1, t.name, err)) return -1;
    }
    return 0;
}

static int check_opts(const llm_config *c, const llm_load_opts *o, gc_err *err) {
    if (o->kv_type != GK_F32 && o->kv_type != GK_F16 && o->kv_type != GK_Q8_0)
        return gc_errf(err, "llm %s: KV cache type %s is not one of f32, f16, q8_0", c->name, gk_type_name(o->kv_type));
    if ((c->dim / c->n_heads * c->n_kv_heads) % gk_type_get(o->kv_type)->block)
        return gc_errf(err, "llm %s: KV rows are not whole %s blocks", c->name, gk_type_name(o->kv_type));
    if (o->ctx < 1 || o->ctx > c->ctx)
        return gc_errf(err, "llm %s: %d positions asked, the model's context is %d", c->name, o->ctx, c->ctx);
    if (o->max_t < 1 || o->max_t > o->ctx || o->max_logits < 1 || o->max_logits > o->max_t)
        return gc_errf(err, "llm %s: batch of %d tokens (%d logit rows) out of range", c->name, o->max_t, o->max_logits);
    return 0;
}

uint64_t llm_buffer_bytes(const llm_config *c, const llm_load_opts *o) {
    uint64_t kv_dim = (uint64_t)c->dim / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads;
    uint64_t per_t = 4u * (4u * (uint64_t)c->dim + 2u * kv_dim + 2u * (uint64_t)c->ffn + 1u);
    return per_t * (uint64_t)o->max_t + 4u * (uint64_t)c->vocab * (uint64_t)o->max_logits + llm_kv_bytes(c, o->kv_type, o->ctx);
}

#define CHUNK_BYTES ((size_t)16 << 20)

int llm_check_memory(const char *what, uint64_t need, gc_err *err) {
    uint64_t avail = gc_mem_available_bytes();
    /* Leave a tenth for the OS and the rest of gencost; 0 means unknown: let allocation decide. */
    if (avail && need > avail / 10 * 9)
        return gc_errf(err, "%s needs %.2f GB of memory, only %.2f GB is available", what, (double)need / 1e9,
                       (double)avail / 1e9);
    return 0;
}

static int fill_weights(llm_model *m, int n, const llm_source *src, gc_err *err) {
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!buf) return gc_errf(err, "llm %s: out of memory for the load buffer", m->c.name);
    llm_tinfo t;
    int rc = 0;
    for (int i = 0; i < llm_tensor_count(&m->c) && !rc; i++) {
        llm_tensor_info(&m->c, i, &t);
        int64_t step = (int64_t)(CHUNK_BYTES / gk_type_bytes(GK_F32, t.ne0));   /* F32 rows are the widest */
        if (step < 1) step = 1;
        for (int64_t r0 = 0; r0 < t.ne1 && !rc; r0 += step) {
            int64_t nr = t.ne1 - r0 < step ? t.ne1 - r0 : step;
            int have = -1;   /* type of the rows in buf: produced once for models of one type */
            for (int k = 0; k < n && !rc; k++) {
                int type = llm_source_type(src, &t, m[k].wtype);
                if (type != have) {
                    if ((rc = llm_source_rows(src, &t, type, r0, nr, buf, threads, err))) break;
                    have = type;
                }
                gk_tensor *dst = llm_weight_slot(&m[k].w, &t);
                size_t rb = gk_row_bytes(dst);
                if (m[k].be->ops->upload(m[k].be, dst, (size_t)r0 * rb, buf, (size_t)nr * rb))
                    rc = gc_errf(err, "llm %s on %s: upload of %s failed: %s", m[k].c.name, m[k].be->name, t.name,
                                 gk_backend_error(m[k].be));
            }
        }
    }
    free(buf);
    return rc;
}

/* Every weight uploaded: the backend may now lay them out for its kernels (gk_prepare_weight). */
static int prepare_weights(llm_model *m, gc_err *err) {
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&m->c); i++) {
        llm_tensor_info(&m->c, i, &t);
        if (gk_prepare_weight(m->be, llm_weight_slot(&m->w, &t)))
            return gc_errf(err, "llm %s on %s: preparing %s failed: %s", m->c.name, m->be->name, t.name,
                           gk_backend_error(m->be));
    }
    return 0;
}

int llm_load(llm_model *m, const llm_load_opts *o, int n_models, const llm_source *src, gc_err *err) {
    uint64_t host_need = CHUNK_BYTES;
    for (int k = 0; k < n_models; k++) {
        gk_backend *be = m[k].be;
        memset(&m[k], 0, sizeof m[k]);
        m[k].be = be;
        m[k].c = src->c;
        m[k].wtype = o[k].wtype;
        if (o[k].wtype < 0 && !src->gguf) return gc_errf(err, "llm %s: no weight type given", src->c.name);
        if (llm_config_check(&m[k].c, o[k].wtype, err) || check_opts(&m[k].c, &o[k], err)) return -1;
        if (gk_backend_has(be, GK_CAP_HOST_MEMORY))   /* its weights and buffers take host RAM */
            host_need += llm_source_weight_bytes(src, o[k].wtype, false) + llm_buffer_bytes(&m[k].c, &o[k]);
    }
    char what[160];
    snprintf(what, sizeof what, "model %s (%s weights%s)", src->c.name, o[0].wtype < 0 ? "file's" : gk_type_name(o[0].wtype),
             n_models > 1 ? ", with its reference copy" : "");
    if (llm_check_memory(what, host_need, err)) return -1;
    int rc = 0;
    for (int k = 0; k < n_models && !rc; k++) rc = alloc_weights(&m[k], src, err) || alloc_state(&m[k], &o[k], err);
    if (!rc) rc = fill_weights(m, n_models, src, err);
    for (int k = 0; k < n_models && !rc; k++) rc = prepare_weights(&m[k], err);
    if (rc) {
        for (int k = 0; k < n_models; k++) llm_free(&m[k]);
        return -1;
    }
    return 0;
}
