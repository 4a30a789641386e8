/* Weight sources: synthetic weights from a seed, or a GGUF file's tensors; rows converted into
 * the requested type, several threads at a time.
 *
 * Synthetic weights are uniform noise scaled like a trained model's init so activations stay
 * well-conditioned through many layers: projections into a block have std 1/sqrt(K) (unit
 * variance out for unit-RMS input), projections back into the residual stream are further
 * scaled by 1/sqrt(2 * n_layers) (GPT-2's residual scaling) so the stream's RMS stays near 1
 * at any depth; norm gains and RoPE frequency factors (for a config that has them) are
 * 1 +- 0.1; the output head gives logits of std ~4 (a peaked distribution, as a trained
 * model's is). Each row comes from its own PRNG stream seeded by (seed, tensor kind, layer,
 * row): generation parallelises freely and is identical everywhere.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"

void llm_source_synthetic(llm_source *s, const llm_config *c, unsigned long seed) {
    memset(s, 0, sizeof *s);
    s->c = *c;
    s->seed = seed;
}

static uint64_t mix64(uint64_t x) {   /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static float synth_std(const llm_config *c, const llm_tinfo *t) {
    double resid = 1.0 / sqrt(2.0 * c->n_layers);
    switch (t->kind) {
    case LLM_TOK_EMBD: return 1.0f;
    case LLM_OUTPUT: return (float)(4.0 / sqrt((double)t->ne0));
    case LLM_WO: case LLM_W_DOWN: return (float)(resid / sqrt((double)t->ne0));
    default: return (float)(1.0 / sqrt((double)t->ne0));
    }
}

static void synth_row(const llm_source *s, const llm_tinfo *t, int64_t row, float *out) {
    uint64_t x = mix64((uint64_t)s->seed ^ mix64(((uint64_t)t->kind << 40) ^ ((uint64_t)(t->layer + 1) << 20) ^
                                                  mix64((uint64_t)row)));
    x |= 1;   /* xorshift state must be non-zero */
    /* Uniform in [-1, 1) times sqrt(3)*std has the wanted std; norms are 1 + U(-0.1, 0.1). */
    float a = t->norm ? 0.1f : synth_std(&s->c, t) * 1.7320508f, bias = t->norm ? 1.0f : 0.0f;
    const float k = 1.0f / 2147483648.0f;
    for (int64_t i = 0; i < t->ne0; i += 2) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;       /* xorshift64* */
        uint64_t r = x * 0x2545f4914f6cdd1dull;
        out[i] = bias + a * ((float)(uint32_t)r * k - 1.0f);
        if (i + 1 < t->ne0) out[i + 1] = bias + a * ((float)(uint32_t)(r >> 32) * k - 1.0f);
    }
}

/* The GGUF tensor that holds t; a model without output.weight ties the head to the embedding. */
static const gguf_tensor *gguf_source_tensor(const llm_source *s, const llm_tinfo *t) {
    const gguf_tensor *g = gguf_find_tensor(s->gguf, t->name);
    if (!g && t->kind == LLM_OUTPUT) g = gguf_find_tensor(s->gguf, "token_embd.weight");
    return g;
}

typedef struct rows_job {
    const llm_source *s;
    const llm_tinfo *t;
    const gguf_tensor *g;
    const gk_type_info *dst_ti, *src_ti;
    int64_t row0, nrows;
    size_t dst_row_bytes, src_row_bytes;
    uint8_t *dst;
    int nth;
    int ith;
    bool failed;
} rows_job;

static void *rows_worker(void *arg) {
    rows_job *j = arg;
    int64_t per = (j->nrows + j->nth - 1) / j->nth, lo = per * j->ith, hi = lo + per;
    if (hi > j->nrows) hi = j->nrows;
    if (lo >= hi) return NULL;
    bool direct_f32 = j->dst_ti->type == GK_F32;
    float *row = direct_f32 ? NULL : malloc((size_t)j->t->ne0 * sizeof *row);
    if (!direct_f32 && !row) {
        j->failed = true;
        return NULL;
    }
    for (int64_t r = lo; r < hi; r++) {
        uint8_t *d = j->dst + (size_t)r * j->dst_row_bytes;
        float *f = direct_f32 ? (float *)(void *)d : row;
        int64_t src_row = j->row0 + r;
        if (!j->g) synth_row(j->s, j->t, src_row, f);
        else j->src_ti->to_f32((const uint8_t *)j->g->data + (size_t)src_row * j->src_row_bytes, f, j->t->ne0);
        if (!direct_f32) j->dst_ti->from_f32(row, d, j->t->ne0);
    }
    free(row);
    return NULL;
}

int llm_source_rows(const llm_source *s, const llm_tinfo *t, int type, int64_t row0, int64_t nrows,
                    void *dst, int n_threads, gc_err *err) {
    rows_job base = {.s = s, .t = t, .row0 = row0, .nrows = nrows, .dst = dst};
    base.dst_ti = gk_type_get(type);
    if (!base.dst_ti || t->ne0 % base.dst_ti->block)
        return gc_errf(err, "%s: cannot store rows of %lld in type %s", t->name, (long long)t->ne0, gk_type_name(type));
    base.dst_row_bytes = gk_type_bytes(type, t->ne0);
    if (s->gguf) {
        base.g = gguf_source_tensor(s, t);
        if (!base.g) return gc_errf(err, "%s: tensor missing from the file", t->name);
        base.src_ti = gk_type_get(base.g->type);
        base.src_row_bytes = gk_type_bytes(base.g->type, t->ne0);
        if (!base.src_ti) return gc_errf(err, "%s: unsupported tensor type %s", t->name, gk_type_name(base.g->type));
        if (base.g->type == type) {   /* the file already holds this format: bytes as they are */
            memcpy(dst, (const uint8_t *)base.g->data + (size_t)row0 * base.src_row_bytes, (size_t)nrows * base.dst_row_bytes);
            return 0;
        }
    }
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 16) n_threads = 16;
    if (nrows < 4 * n_threads) n_threads = 1;
    rows_job jobs[16];
    pthread_t th[16];
    int started = 0;
    for (int i = 0; i < n_threads; i++) {
        jobs[i] = base;
        jobs[i].nth = n_threads;
        jobs[i].ith = i;
    }
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&th[i], NULL, rows_worker, &jobs[i]) == 0) started = i;
        else break;
    if (started != n_threads - 1) {   /* could not start them all: do the rest here */
        for (int i = started + 1; i < n_threads; i++) rows_worker(&jobs[i]);
    }
    rows_worker(&jobs[0]);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < n_threads; i++)
        if (jobs[i].failed) return gc_errf(err, "%s: out of memory converting rows", t->name);
    return 0;
}
