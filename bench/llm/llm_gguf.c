/* The llama architecture in GGUF: metadata keys and tensor names as llama.cpp reads and writes
 * them (llama-arch.cpp: LLM_ARCH_LLAMA; gguf-py/gguf/constants.py), a reader that checks a
 * file's metadata against its tensors, and the exporter of a source's model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"

/* ---- reading -------------------------------------------------------------------------------- */

static int need_u32(const gguf_file *f, const char *key, int *out, gc_err *err) {
    uint32_t v;
    gc_err e;
    int rc = gguf_get_u32(f, key, &v, &e);
    if (rc == 1) return gc_errf(err, "gguf: metadata %s is missing", key);
    if (rc) return gc_errf(err, "gguf: %s", e.msg);
    if (v > (uint32_t)INT32_MAX) return gc_errf(err, "gguf: metadata %s value %u is too large", key, v);
    *out = (int)v;
    return 0;
}

static int opt_u32(const gguf_file *f, const char *key, int *out, gc_err *err) {
    return gguf_get_u32(f, key, &(uint32_t){0}, err) == 1 ? 0 : need_u32(f, key, out, err);
}

static int opt_f32(const gguf_file *f, const char *key, float *out, gc_err *err) {
    gc_err e;
    return gguf_get_f32(f, key, out, &e) < 0 ? gc_errf(err, "gguf: %s", e.msg) : 0;
}

/* rope_freqs.weight, as llama.cpp's converter writes it for Llama 3.1/3.2 (convert_hf_to_gguf.py,
 * LlamaModel.generate_extra_tensors; read by ggml_rope_ext as freq factors): F32 {head_dim/2},
 * pair i of every head turns by pos * base^(-2i/head_dim) / ff[i]. A factor must be a positive
 * finite number: anything else makes every angle of its pair meaningless. */
static int check_rope_freqs(const gguf_tensor *g, int64_t half, gc_err *err) {
    if (g->ne[0] != half || g->ne[1] != 1 || g->ne[2] != 1 || g->ne[3] != 1)
        return gc_errf(err, "gguf: tensor rope_freqs.weight has shape {%lld, %lld, %lld, %lld}, expected {%lld} (head_dim/2 RoPE frequency factors)",
                       (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2], (long long)g->ne[3], (long long)half);
    if (g->type != GK_F32)
        return gc_errf(err, "gguf: tensor rope_freqs.weight is %s, expected f32 (RoPE frequency factors)", gk_type_name(g->type));
    for (int64_t i = 0; i < half; i++) {
        float v;
        memcpy(&v, (const uint8_t *)g->data + (size_t)i * sizeof v, sizeof v);
        if (!(v > 0.0f) || !isfinite(v))
            return gc_errf(err, "gguf: tensor rope_freqs.weight holds %g at %lld, expected positive finite factors", (double)v, (long long)i);
    }
    return 0;
}

/* Every tensor the model reads, with the shape the metadata implies. */
static int check_tensors(const gguf_file *f, const llm_config *c, int *wtype, gc_err *err) {
    llm_tinfo t;
    uint64_t best_bytes = 0;
    *wtype = -1;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        const gguf_tensor *g = gguf_find_tensor(f, t.name);
        if (!g && t.kind == LLM_OUTPUT) continue;   /* tied to token_embd.weight */
        if (!g) return gc_errf(err, "gguf: tensor %s is missing", t.name);
        if (t.kind == LLM_ROPE_FREQS) {
            if (check_rope_freqs(g, t.ne0, err)) return -1;
            continue;
        }
        int64_t want1 = t.norm ? 1 : t.ne1;
        if (g->ne[0] != t.ne0 || g->ne[1] != want1 || g->ne[2] != 1 || g->ne[3] != 1)
            return gc_errf(err, "gguf: tensor %s has shape {%lld, %lld, %lld, %lld}, the metadata implies {%lld, %lld}", t.name,
                           (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2], (long long)g->ne[3],
                           (long long)t.ne0, (long long)want1);
        if (!t.norm && g->nbytes > best_bytes) {   /* the type holding the most bytes names the file */
            best_bytes = g->nbytes;
            *wtype = g->type;
        }
    }
    return 0;
}

int llm_config_from_gguf(const gguf_file *f, llm_config *c, int *wtype, gc_err *err) {
    memset(c, 0, sizeof *c);
    const char *s;
    size_t len;
    gc_err e;
    int rc = gguf_get_str(f, "general.architecture", &s, &len, &e);
    if (rc == 1) return gc_errf(err, "gguf: general.architecture is missing");
    if (rc) return gc_errf(err, "gguf: %s", e.msg);
    if (len != 5 || memcmp(s, "llama", 5))
        return gc_errf(err, "gguf: architecture '%.*s' is not supported (llama is)", (int)(len > 40 ? 40 : len), s);
    snprintf(c->name, sizeof c->name, "gguf");
    if (gguf_get_str(f, "general.name", &s, &len, &e) == 0) {
        size_t n = len < sizeof c->name - 1 ? len : sizeof c->name - 1;
        for (size_t i = 0; i < n; i++) c->name[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        c->name[n] = 0;
    }
    c->rope_base = 10000.0f;
    c->norm_eps = 1e-5f;
    int rope_dims = -1, vocab_meta = -1;
    if (need_u32(f, "llama.embedding_length", &c->dim, err) || need_u32(f, "llama.block_count", &c->n_layers, err) ||
        need_u32(f, "llama.feed_forward_length", &c->ffn, err) || need_u32(f, "llama.attention.head_count", &c->n_heads, err) ||
        need_u32(f, "llama.context_length", &c->ctx, err))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (opt_u32(f, "llama.attention.head_count_kv", &c->n_kv_heads, err) || opt_u32(f, "llama.rope.dimension_count", &rope_dims, err) ||
        opt_u32(f, "llama.vocab_size", &vocab_meta, err) || opt_f32(f, "llama.rope.freq_base", &c->rope_base, err) ||
        opt_f32(f, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, err))
        return -1;
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return gc_errf(err, "gguf: tensor token_embd.weight is missing");
    if (emb->ne[1] > INT32_MAX) return gc_errf(err, "gguf: token_embd.weight has %lld rows", (long long)emb->ne[1]);
    c->vocab = (int)emb->ne[1];
    if (c->ctx > 1048576) c->ctx = 1048576;   /* more positions than any KV cache here holds */
    if (llm_config_check(c, -1, &e)) return gc_errf(err, "gguf: %s", e.msg);
    if (rope_dims >= 0 && rope_dims != c->dim / c->n_heads)
        return gc_errf(err, "gguf: llama.rope.dimension_count %d differs from the head size %d (partial RoPE is not supported)",
                       rope_dims, c->dim / c->n_heads);
    if (vocab_meta >= 0 && vocab_meta != c->vocab)
        return gc_errf(err, "gguf: llama.vocab_size %d differs from token_embd.weight's %d rows", vocab_meta, c->vocab);
    c->rope_factors = gguf_find_tensor(f, "rope_freqs.weight") != NULL;
    uint64_t n_tok;
    rc = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &n_tok, &e);
    if (rc < 0) return gc_errf(err, "gguf: %s", e.msg);
    if (rc == 0 && n_tok != (uint64_t)c->vocab)
        return gc_errf(err, "gguf: tokenizer.ggml.tokens has %llu entries, token_embd.weight %d rows", (unsigned long long)n_tok, c->vocab);
    return check_tensors(f, c, wtype, err);
}

/* ---- writing -------------------------------------------------------------------------------- */

/* llama.cpp's llama_ftype for a file whose weights are all of one type. */
static uint32_t file_type(int wtype) {
    switch (wtype) {
    case GK_F32: return 0;
    case GK_F16: return 1;
    case GK_Q4_0: return 2;
    case GK_Q4_1: return 3;
    case GK_Q8_0: return 7;
    case GK_Q4_K: return 14;   /* Q4_K_S: (mostly) Q4_K */
    case GK_Q6_K: return 18;
    case GK_BF16: return 32;
    default: return 0;
    }
}

/* A minimal SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then
 * distinct placeholder pieces. Token types: 1 normal, 2 unknown, 3 control, 6 byte. */
static const char *token_text(void *ctx, uint64_t i, char *buf, size_t n) {
    (void)ctx;
    if (i == 0) return "<unk>";
    if (i == 1) return "<s>";
    if (i == 2) return "</s>";
    if (i < 259) snprintf(buf, n, "<0x%02X>", (unsigned)(i - 3));
    else snprintf(buf, n, "\xe2\x96\x81t%llu", (unsigned long long)i);   /* U+2581, SentencePiece's word mark */
    return buf;
}

static int write_tokenizer(gguf_writer *w, int vocab, gc_err *err) {
    float *scores = malloc((size_t)vocab * sizeof *scores);
    int32_t *types = malloc((size_t)vocab * sizeof *types);
    if (!scores || !types) {
        free(scores);
        free(types);
        return gc_errf(err, "out of memory writing the tokenizer");
    }
    for (int i = 0; i < vocab; i++) {
        scores[i] = i < 259 ? 0.0f : -(float)(i - 259);
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    }
    gguf_w_str(w, "tokenizer.ggml.model", "llama");
    gguf_w_arr_str(w, "tokenizer.ggml.tokens", (uint64_t)vocab, token_text, NULL);
    gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)vocab);
    gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)vocab);
    gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    free(scores);
    free(types);
    return 0;
}

static void write_metadata(gguf_writer *w, const llm_config *c, int wtype) {
    gguf_w_str(w, "general.architecture", "llama");
    gguf_w_str(w, "general.name", c->name);
    gguf_w_u32(w, "general.file_type", file_type(wtype));
    gguf_w_u32(w, "general.quantization_version", 2);   /* ggml's GGML_QNT_VERSION */
    gguf_w_u32(w, "llama.context_length", (uint32_t)c->ctx);
    gguf_w_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_w_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)c->ffn);
    gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads));
    gguf_w_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    gguf_w_f32(w, "llama.rope.freq_base", c->rope_base);
    gguf_w_u32(w, "llama.vocab_size", (uint32_t)c->vocab);
}

int llm_source_type(const llm_source *s, const llm_tinfo *t, int wtype) {
    if (t->norm) return GK_F32;
    if (wtype >= 0 || !s->gguf) return wtype;
    const gguf_tensor *g = gguf_find_tensor(s->gguf, t->name);
    if (!g && t->kind == LLM_OUTPUT) g = gguf_find_tensor(s->gguf, "token_embd.weight");
    return g ? g->type : -1;
}

static int write_tensors(FILE *fp, gguf_writer *w, const llm_source *s, int wtype, gc_err *err) {
    const size_t chunk = (size_t)16 << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf) return gc_errf(err, "out of memory");
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), rc = gguf_w_begin(w, fp, err);
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&s->c) && !rc; i++) {
        llm_tensor_info(&s->c, i, &t);
        int type = llm_source_type(s, &t, wtype);
        size_t rb = gk_type_bytes(type, t.ne0);
        int64_t step = (int64_t)(chunk / gk_type_bytes(GK_F32, t.ne0));
        if (step < 1) step = 1;
        for (int64_t r0 = 0; r0 < t.ne1 && !rc; r0 += step) {
            int64_t nr = t.ne1 - r0 < step ? t.ne1 - r0 : step;
            rc = llm_source_rows(s, &t, type, r0, nr, buf, threads, err) || gguf_w_data(w, buf, (size_t)nr * rb, err);
        }
    }
    if (!rc) rc = gguf_w_end(w, err);
    free(buf);
    return rc;
}

int llm_export_gguf(const llm_source *s, int wtype, const char *path, gc_err *err) {
    const llm_config *c = &s->c;
    if (llm_config_check(c, wtype, err)) return -1;
    gguf_writer w;
    gguf_w_init(&w, GGUF_DEFAULT_ALIGNMENT);
    write_metadata(&w, c, wtype);
    if (write_tokenizer(&w, c->vocab, err)) {
        gguf_w_free(&w);
        return -1;
    }
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(c); i++) {
        llm_tensor_info(c, i, &t);
        int type = llm_source_type(s, &t, wtype);
        if (!gk_type_get(type)) {
            gguf_w_free(&w);
            return gc_errf(err, "%s: no type to write it in", t.name);
        }
        int64_t ne[2] = {t.ne0, t.ne1};
        gguf_w_tensor(&w, t.name, t.norm ? 1 : 2, ne, type, (uint64_t)gk_type_bytes(type, t.ne0) * (uint64_t)t.ne1);
    }
    gc_atomic a; /* an unguessable temporary, renamed into place; a symlink at path refused */
    FILE *fp = gc_open_atomic(path, &a, err);
    if (!fp) {
        gguf_w_free(&w);
        return -1;
    }
    gc_err e;
    int rc = write_tensors(fp, &w, s, wtype, &e);
    gguf_w_free(&w);
    if (rc) {
        gc_abort_atomic(&a);
        return gc_errf(err, "%s: %s", path, e.msg);
    }
    return gc_commit_atomic(&a, err);
}

uint64_t llm_source_weight_bytes(const llm_source *s, int wtype, bool per_token) {
    uint64_t n = 0;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&s->c); i++) {
        llm_tensor_info(&s->c, i, &t);
        int64_t rows = per_token && t.kind == LLM_TOK_EMBD ? 1 : t.ne1;
        n += (uint64_t)gk_type_bytes(llm_source_type(s, &t, wtype), t.ne0) * (uint64_t)rows;
    }
    return n;
}
