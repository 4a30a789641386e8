/* Presets with real models' shapes, and the sizes derived from a config.
 *
 * Shapes are those of the published checkpoints' config.json files: TinyLlama-1.1B
 * (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T), Llama-2-7b, Meta-Llama-3-8B and
 * Mistral-7B-v0.1 (sliding-window attention is not modelled: it changes nothing below 4096
 * positions). `tiny` is a 15M-parameter model of the same architecture for tests. */
#include <stdio.h>
#include <string.h>
#include "bench/llm/llm.h"

static const llm_config presets[] = {
    /* name            dim  layers heads kv  ffn    vocab   ctx    rope_base  eps    rope factors */
    {"tiny",           256, 8,     4,    2,  768,   16384,  1024,  10000.0f,  1e-5f,  false},
    {"tinyllama-1.1b", 2048, 22,   32,   4,  5632,  32000,  2048,  10000.0f,  1e-5f,  false},
    {"llama2-7b",      4096, 32,   32,   32, 11008, 32000,  4096,  10000.0f,  1e-5f,  false},
    {"llama3-8b",      4096, 32,   32,   8,  14336, 128256, 8192,  500000.0f, 1e-5f,  false},
    {"mistral-7b",     4096, 32,   32,   8,  14336, 32000,  32768, 10000.0f,  1e-5f,  false},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

static const char *const preset_names[] = {"tiny", "tinyllama-1.1b", "llama2-7b", "llama3-8b", "mistral-7b", NULL};

const llm_config *llm_preset(const char *name) {
    for (size_t i = 0; i < N_PRESETS; i++)
        if (name && !strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

const char *const *llm_preset_names(void) { return preset_names; }

int llm_config_check(const llm_config *c, int wtype, gc_err *err) {
    /* Upper bounds keep every size product far from overflow, and a hostile file's metadata
     * from turning into a huge allocation before the memory check sees it. */
    if (c->dim <= 0 || c->dim > 65536 || c->n_layers <= 0 || c->n_layers > 1024 || c->n_heads <= 0 ||
        c->n_heads > 1024 || c->n_kv_heads <= 0 || c->ffn <= 0 || c->ffn > 262144 || c->vocab <= 0 ||
        c->vocab > 4000000 || c->ctx <= 0 || c->ctx > 1048576)
        return gc_errf(err, "model %s: dimension out of range (dim %d, layers %d, heads %d/%d, ffn %d, vocab %d, ctx %d)",
                       c->name, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn, c->vocab, c->ctx);
    if (c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return gc_errf(err, "model %s: dim %d is not an even head size times %d heads", c->name, c->dim, c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return gc_errf(err, "model %s: %d query heads are not a multiple of %d kv heads", c->name, c->n_heads, c->n_kv_heads);
    if (!(c->rope_base > 0.0f) || !(c->norm_eps > 0.0f) || c->norm_eps > 1.0f)
        return gc_errf(err, "model %s: rope base %g or norm epsilon %g out of range", c->name, c->rope_base, c->norm_eps);
    if (wtype >= 0) {
        const gk_type_info *ti = gk_type_get(wtype);
        if (!ti) return gc_errf(err, "model %s: weight type %d is not supported", c->name, wtype);
        if (c->dim % ti->block || c->ffn % ti->block)
            return gc_errf(err, "model %s: rows of %d and %d elements are not whole %s blocks of %d",
                           c->name, c->dim, c->ffn, ti->name, ti->block);
    }
    return 0;
}

int llm_tensor_count(const llm_config *c) { return 3 + 9 * c->n_layers + (c->rope_factors ? 1 : 0); }

void llm_tensor_info(const llm_config *c, int i, llm_tinfo *t) {
    static const char *const layer_names[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    int64_t hd = c->dim / c->n_heads, kv_dim = hd * c->n_kv_heads;
    memset(t, 0, sizeof *t);
    /* File order as llama.cpp writes it: embedding, the layers, final norm, output head; the
     * rope factors (when the model has them) come last. */
    if (i == 0) {
        *t = (llm_tinfo){"token_embd.weight", LLM_TOK_EMBD, -1, c->dim, c->vocab, false};
        return;
    }
    int last = llm_tensor_count(c);
    if (c->rope_factors && i == last - 1) {
        *t = (llm_tinfo){"rope_freqs.weight", LLM_ROPE_FREQS, -1, hd / 2, 1, true};
        return;
    }
    if (c->rope_factors) last--;
    if (i == last - 2) {
        *t = (llm_tinfo){"output_norm.weight", LLM_OUT_NORM, -1, c->dim, 1, true};
        return;
    }
    if (i == last - 1) {
        *t = (llm_tinfo){"output.weight", LLM_OUTPUT, -1, c->dim, c->vocab, false};
        return;
    }
    int l = (i - 1) / 9, j = (i - 1) % 9;
    t->kind = LLM_ATTN_NORM + j;
    t->layer = l;
    snprintf(t->name, sizeof t->name, "blk.%d.%s.weight", l, layer_names[j]);
    switch (t->kind) {
    case LLM_ATTN_NORM: case LLM_FFN_NORM: t->ne0 = c->dim; t->ne1 = 1; t->norm = true; break;
    case LLM_WQ: case LLM_WO: t->ne0 = c->dim; t->ne1 = c->dim; break;
    case LLM_WK: case LLM_WV: t->ne0 = c->dim; t->ne1 = kv_dim; break;
    case LLM_W_GATE: case LLM_W_UP: t->ne0 = c->dim; t->ne1 = c->ffn; break;
    default: t->ne0 = c->ffn; t->ne1 = c->dim; break;   /* LLM_W_DOWN */
    }
}

static uint64_t tensor_bytes(const llm_tinfo *t, int wtype, int64_t rows) {
    return t->norm ? (uint64_t)t->ne0 * 4u : (uint64_t)gk_type_bytes(wtype, t->ne0) * (uint64_t)rows;
}

int64_t llm_param_count(const llm_config *c) {
    int64_t n = 0;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        n += t.ne0 * t.ne1;
    }
    return n;
}

uint64_t llm_weight_bytes(const llm_config *c, int wtype) {
    uint64_t n = 0;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        n += tensor_bytes(&t, wtype, t.ne1);
    }
    return n;
}

uint64_t llm_weight_bytes_per_token(const llm_config *c, int wtype) {
    uint64_t n = 0;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        n += tensor_bytes(&t, wtype, t.kind == LLM_TOK_EMBD ? 1 : t.ne1);
    }
    return n;
}

uint64_t llm_kv_bytes(const llm_config *c, int kv_type, int ctx) {
    int64_t kv_dim = (int64_t)c->dim / c->n_heads * c->n_kv_heads;
    return 2u * (uint64_t)c->n_layers * (uint64_t)gk_type_bytes(kv_type, kv_dim) * (uint64_t)ctx;
}

/* One token's layer at KV depth `depth`: the Q, K, V projections; attention, the output
 * projection and the FFN (rest). */
static void layer_flops(const llm_config *c, int depth, double *qkv, double *rest) {
    double d = c->dim, kv_dim = (double)c->dim / c->n_heads * c->n_kv_heads;
    *qkv = 2.0 * (d * d + d * kv_dim * 2);
    *rest = 2.0 * (d * d + 3.0 * d * c->ffn) + 4.0 * d * (depth + 1);   /* Wo, FFN; QK^T and AV */
}

double llm_flops_per_token(const llm_config *c, int depth) {
    double qkv, rest;
    layer_flops(c, depth, &qkv, &rest);
    return c->n_layers * (qkv + rest) + 2.0 * (double)c->dim * c->vocab;
}

double llm_prefill_flops(const llm_config *c, int P) {
    double f = 0, qkv, rest;
    for (int t = 0; t < P; t++) {
        layer_flops(c, t, &qkv, &rest);
        f += c->n_layers * qkv + (c->n_layers - 1) * rest;
    }
    layer_flops(c, P - 1, &qkv, &rest);
    return f + rest + 2.0 * (double)c->dim * c->vocab;   /* the last row's last layer; the head once */
}
