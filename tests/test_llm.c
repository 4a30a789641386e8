/* Tests for the Llama model (bench/llm): preset sizes against the published parameter counts,
 * deterministic synthetic weights, the forward pass on the ref and cpu backends, batch vs
 * step-by-step equivalence, the GGUF export round trip, and the quality arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"

#define NTOK 6

static gk_backend *open_be(const char *name, int threads) {
    char why[256];
    gk_backend_opts o = {.n_threads = threads};
    gk_backend *b = gk_backend_open(name, &o, why, sizeof why);
    if (!b) fail_msg("cannot open backend %s: %s", name, why);
    return b;
}

static llm_load_opts opts(int wtype) {
    return (llm_load_opts){.wtype = wtype, .kv_type = GK_F32, .ctx = 32, .max_t = 16, .max_logits = 16};
}

/* Loads the tiny preset in wtype on a backend; the caller frees. */
static void load_tiny(llm_model *m, gk_backend *b, int wtype, unsigned long seed) {
    llm_source src;
    llm_source_synthetic(&src, llm_preset("tiny"), seed);
    llm_load_opts o = opts(wtype);
    gc_err err = {{0}};
    m->be = b;
    if (llm_load(m, &o, 1, &src, &err)) fail_msg("%s", err.msg);
}

static float *run_all(llm_model *m, const int32_t *tok, int n) {
    float *out = malloc((size_t)n * m->c.vocab * sizeof *out);
    gc_err err;
    if (llm_forward(m, tok, n, 0, LLM_LOGITS_ALL, out, &err)) fail_msg("%s", err.msg);
    return out;
}

static void preset_parameter_counts(void **st) {
    /* Published sizes: TinyLlama 1,100,048,384; Llama-2-7B 6,738,415,616; Llama-3-8B
     * 8,030,261,248; Mistral-7B 7,241,732,096 (untied embeddings and output heads). */
    assert_int_equal(llm_param_count(llm_preset("tinyllama-1.1b")), 1100048384LL);
    assert_int_equal(llm_param_count(llm_preset("llama2-7b")), 6738415616LL);
    assert_int_equal(llm_param_count(llm_preset("llama3-8b")), 8030261248LL);
    assert_int_equal(llm_param_count(llm_preset("mistral-7b")), 7241732096LL);
    int64_t tiny = llm_param_count(llm_preset("tiny"));
    assert_true(tiny > 13000000 && tiny < 17000000);
    /* Q4_0: 18 bytes per 32 weights; norms stay F32. */
    const llm_config *c = llm_preset("tinyllama-1.1b");
    int64_t norms = (2LL * c->n_layers + 1) * c->dim;
    assert_int_equal(llm_weight_bytes(c, GK_Q4_0), (uint64_t)((llm_param_count(c) - norms) / 32 * 18 + norms * 4));
    /* A 128-token prefill asking the last logits, by hand: 22 layers of Q, K, V projections
     * (2·(2048² + 2·2048·256) each) on every row, 21 of the rest (Wo and the FFN, 2·(2048² +
     * 3·2048·5632), attention 4·2048·(t+1)) and the last layer's rest on row 127, one head. */
    assert_true(llm_prefill_flops(c, 128) == 239732260864.0);
    assert_true(llm_prefill_flops(c, 1) == llm_flops_per_token(c, 0));
    /* KV: 2 caches x 22 layers x 256 wide x 2 bytes (f16) per position. */
    assert_int_equal(llm_kv_bytes(c, GK_F16, 100), 2ull * 22 * 256 * 2 * 100);
    assert_null(llm_preset("llama-9000"));
}

static void config_checks(void **st) {
    gc_err err;
    llm_config c = *llm_preset("tiny");
    assert_int_equal(llm_config_check(&c, GK_Q4_0, &err), 0);
    assert_int_equal(llm_config_check(&c, GK_Q4_K, &err), 0);   /* rows of 256 and 768: whole 256-blocks */
    c.dim = 288;
    assert_int_equal(llm_config_check(&c, GK_F32, &err), 0);
    assert_int_not_equal(llm_config_check(&c, GK_Q4_K, &err), 0);
    assert_non_null(strstr(err.msg, "blocks"));
    c = *llm_preset("tiny");
    c.n_kv_heads = 3;
    assert_int_not_equal(llm_config_check(&c, GK_F32, &err), 0);
    assert_non_null(strstr(err.msg, "kv heads"));
    c = *llm_preset("tiny");
    c.dim = 250;
    assert_int_not_equal(llm_config_check(&c, GK_F32, &err), 0);
    assert_int_not_equal(llm_check_memory("a model", UINT64_MAX / 2, &err), 0);
    assert_non_null(strstr(err.msg, "a model needs"));
}

static void synthetic_weights_are_deterministic(void **st) {
    llm_source a, b;
    llm_source_synthetic(&a, llm_preset("tiny"), 42);
    llm_source_synthetic(&b, llm_preset("tiny"), 43);
    llm_tinfo t;
    llm_tensor_info(&a.c, 2, &t);   /* blk.0.attn_q.weight */
    assert_string_equal(t.name, "blk.0.attn_q.weight");
    size_t n = (size_t)t.ne0 * 64;
    float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
    gc_err err;
    assert_int_equal(llm_source_rows(&a, &t, GK_F32, 0, 64, x, 1, &err), 0);
    assert_int_equal(llm_source_rows(&a, &t, GK_F32, 0, 64, y, 2, &err), 0);   /* threads change nothing */
    assert_memory_equal(x, y, n * 4);
    assert_int_equal(llm_source_rows(&a, &t, GK_F32, 10, 1, z, 1, &err), 0);    /* a row is its own stream */
    assert_memory_equal(z, x + 10 * t.ne0, (size_t)t.ne0 * 4);
    assert_int_equal(llm_source_rows(&b, &t, GK_F32, 0, 64, z, 1, &err), 0);    /* another seed differs */
    assert_memory_not_equal(x, z, n * 4);
    /* std 1/sqrt(K) for a projection into a block */
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double sd = sqrt(ss / (double)n);
    assert_true(fabs(sd - 1.0 / sqrt((double)t.ne0)) < 0.05 / sqrt((double)t.ne0));
    free(x);
    free(y);
    free(z);
}

static void decode_after_prefill_equals_longer_prefill(void **st) {
    gk_backend *b = open_be("ref", 1);
    llm_model m = {0};
    load_tiny(&m, b, GK_Q8_0, 7);
    int32_t tok[NTOK];
    llm_tokens(tok, NTOK, m.c.vocab, 1);
    float *all = run_all(&m, tok, NTOK);
    /* Same tokens: 3 as a batch, then one at a time. */
    gc_err err;
    float *step = malloc((size_t)m.c.vocab * sizeof *step);
    assert_int_equal(llm_forward(&m, tok, 3, 0, LLM_LOGITS_NONE, NULL, &err), 0);
    for (int p = 3; p < NTOK; p++) {
        assert_int_equal(llm_forward(&m, &tok[p], 1, p, LLM_LOGITS_LAST, step, &err), 0);
        llm_compare c;
        llm_compare_logits(all + (size_t)p * m.c.vocab, step, 1, m.c.vocab, 0, &c);
        assert_true(c.max_rel_err < 1e-5);
        assert_int_equal(c.top1_agree, 1);
    }
    /* Out-of-range inputs are errors, not reads out of bounds. */
    int32_t bad = m.c.vocab;
    assert_int_not_equal(llm_forward(&m, &bad, 1, 0, LLM_LOGITS_LAST, step, &err), 0);
    assert_non_null(strstr(err.msg, "out of the vocabulary"));
    assert_int_not_equal(llm_forward(&m, tok, 1, 32, LLM_LOGITS_LAST, step, &err), 0);
    free(step);
    free(all);
    llm_free(&m);
    gk_backend_close(b);
}

/* Where only the last token's logits are asked, the last layer runs past its K and V on the last
 * row alone: the same logits as the full pass's last row (bit for bit on ref, whose rows are
 * independent; within the kernels' rounding on cpu, whose one-row matmuls take the matrix-vector
 * path), and a complete cache: the token after it decodes as in the longer full pass. */
static void last_logits_prefill_same_logits(void **st) {
    for (int be = 0; be < 2; be++) {
        gk_backend *b = open_be(be ? "cpu" : "ref", 2);
        llm_model m = {0};
        load_tiny(&m, b, GK_Q8_0, 11);
        int32_t tok[NTOK];
        llm_tokens(tok, NTOK, m.c.vocab, 3);
        float *all = run_all(&m, tok, NTOK);
        float *last = malloc((size_t)m.c.vocab * sizeof *last);
        gc_err err;
        for (int n = NTOK - 1; n <= NTOK; n++) {   /* a prefill of 5 then one decoded; a prefill of 6 */
            assert_int_equal(llm_forward(&m, tok, n, 0, LLM_LOGITS_LAST, last, &err), 0);
            if (n < NTOK) assert_int_equal(llm_forward(&m, &tok[n], 1, n, LLM_LOGITS_LAST, last, &err), 0);
            const float *want = all + (size_t)(NTOK - 1) * m.c.vocab;
            if (!be) {
                assert_memory_equal(last, want, (size_t)m.c.vocab * sizeof *last);
                continue;
            }
            llm_compare c;
            llm_compare_logits(want, last, 1, m.c.vocab, 0, &c);
            printf("  cpu, prefill of %d%s: max rel err %.3g vs the full pass's last row\n", n,
                   n < NTOK ? " and one decoded" : "", c.max_rel_err);
            assert_true(c.max_rel_err < 1e-3);
            assert_int_equal(c.top1_agree, 1);
        }
        free(last);
        free(all);
        llm_free(&m);
        gk_backend_close(b);
    }
}

static void cpu_matches_ref(void **st) {
    static const int types[] = {GK_F32, GK_F16, GK_Q8_0, GK_Q4_0, GK_Q4_K};
    int32_t tok[NTOK];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        gk_backend *rb = open_be("ref", 1), *cb = open_be("cpu", 2);
        llm_model r = {0}, c = {0};
        load_tiny(&r, rb, types[i], 42);
        load_tiny(&c, cb, types[i], 42);
        llm_tokens(tok, NTOK, r.c.vocab, 2);
        float *a = run_all(&r, tok, NTOK), *x = run_all(&c, tok, NTOK);
        llm_compare cmp;
        double tol = gk_type_get(types[i])->quantized ? 0.03 : 2e-3;
        llm_compare_logits(a, x, NTOK, r.c.vocab, tol, &cmp);
        printf("  %s: cpu vs ref max rel err %.3g, top-1 %d/%d\n", gk_type_name(types[i]), cmp.max_rel_err, cmp.top1_agree, cmp.rows);
        assert_true(cmp.max_rel_err < tol);
        assert_int_equal(cmp.top1_agree, NTOK);
        free(a);
        free(x);
        llm_free(&r);
        llm_free(&c);
        gk_backend_close(rb);
        gk_backend_close(cb);
    }
}

/* b as a backend without the fused ops (add_rmsnorm, rope_kv_store): the same state and every
 * other op, so the forward pass runs the unfused sequence (as on a backend that lacks them). */
typedef struct unfused_be {
    gk_core_ops core;
    gk_ops ops;
    gk_backend be;
} unfused_be;

static void unfused_of(unfused_be *u, gk_backend *b) {
    u->core = *b->ops->core;
    u->core.add_rmsnorm = NULL, u->core.rope_kv_store = NULL;
    u->ops = *b->ops;
    u->ops.core = &u->core;
    u->be = *b;
    u->be.ops = &u->ops;
}

/* A prefill of 5 tokens (every row's logits), then 3 decoded tokens, on the tiny preset with a
 * kv_type cache: every logit into out (8 rows). */
static void prefill_and_decode(gk_backend *b, int wtype, int kv_type, float *out) {
    llm_source src;
    llm_source_synthetic(&src, llm_preset("tiny"), 11);
    llm_load_opts o = opts(wtype);
    o.kv_type = kv_type;
    llm_model m = {.be = b};
    gc_err err = {{0}};
    if (llm_load(&m, &o, 1, &src, &err)) fail_msg("%s", err.msg);
    int32_t tok[8];
    llm_tokens(tok, 8, m.c.vocab, 3);
    if (llm_forward(&m, tok, 5, 0, LLM_LOGITS_ALL, out, &err)) fail_msg("%s", err.msg);
    for (int p = 5; p < 8; p++)
        if (llm_forward(&m, &tok[p], 1, p, LLM_LOGITS_LAST, out + (size_t)p * m.c.vocab, &err))
            fail_msg("%s", err.msg);
    llm_free(&m);
}

/* The fused ops change launches, not results: ref with and without them gives the same logits
 * bit for bit (its fused ops are its unfused sequence), cpu too (the same arithmetic in the
 * same order), and cpu with them is within cpu_matches_ref's tolerance of ref. */
static void fused_ops_same_logits(void **st) {
    static const struct {
        int wtype, kv_type;
    } cases[] = {{GK_Q4_0, GK_F16}, {GK_F32, GK_Q8_0}, {GK_Q8_0, GK_F32}};
    const size_t n = 8 * (size_t)llm_preset("tiny")->vocab;
    float *lf = malloc(n * sizeof *lf), *lu = malloc(n * sizeof *lu), *cf = malloc(n * sizeof *cf);
    assert_non_null(lf), assert_non_null(lu), assert_non_null(cf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int wt = cases[i].wtype, kt = cases[i].kv_type;
        gk_backend *rb = open_be("ref", 1), *cb = open_be("cpu", 2);
        assert_true(gk_has_op(rb, GK_OP_ADD_RMSNORM) && gk_has_op(rb, GK_OP_ROPE_KV_STORE));
        assert_true(gk_has_op(cb, GK_OP_ADD_RMSNORM) && gk_has_op(cb, GK_OP_ROPE_KV_STORE));
        unfused_be ru, cu;
        unfused_of(&ru, rb), unfused_of(&cu, cb);
        prefill_and_decode(rb, wt, kt, lf);
        prefill_and_decode(&ru.be, wt, kt, lu);
        assert_memory_equal(lf, lu, n * sizeof *lf);
        prefill_and_decode(cb, wt, kt, cf);
        prefill_and_decode(&cu.be, wt, kt, lu);
        assert_memory_equal(cf, lu, n * sizeof *cf);
        llm_compare cmp;
        double tol = gk_type_get(wt)->quantized ? 0.03 : 2e-3;
        llm_compare_logits(lf, cf, 8, llm_preset("tiny")->vocab, tol, &cmp);
        printf("  %s weights, %s cache: fused = unfused (ref, cpu); cpu vs ref max rel err %.3g, "
               "top-1 %d/%d\n",
               gk_type_name(wt), gk_type_name(kt), cmp.max_rel_err, cmp.top1_agree, cmp.rows);
        assert_true(cmp.max_rel_err < tol);
        assert_int_equal(cmp.top1_agree, 8);
        gk_backend_close(rb);
        gk_backend_close(cb);
    }
    free(lf), free(lu), free(cf);
}

static void export_load_identical_logits(void **st) {
    char path[] = "/tmp/gc_llm_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    llm_source src;
    llm_source_synthetic(&src, llm_preset("tiny"), 42);
    gc_err err;
    if (llm_export_gguf(&src, GK_Q4_0, path, &err)) fail_msg("%s", err.msg);
    gguf_file f;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    llm_config c;
    int wtype;
    if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s", err.msg);
    assert_int_equal(wtype, GK_Q4_0);
    assert_int_equal(c.dim, 256);
    assert_int_equal(c.n_kv_heads, 2);
    assert_int_equal(c.vocab, 16384);
    assert_true(c.rope_base == 10000.0f);
    llm_source fsrc;
    llm_source_synthetic(&fsrc, &c, 0);
    fsrc.gguf = &f;
    gk_backend *b = open_be("cpu", 1);
    llm_model a = {.be = b}, g = {.be = b};
    llm_load_opts o = opts(GK_Q4_0), on = opts(-1);
    if (llm_load(&a, &o, 1, &src, &err) || llm_load(&g, &on, 1, &fsrc, &err)) fail_msg("%s", err.msg);
    int32_t tok[NTOK];
    llm_tokens(tok, NTOK, c.vocab, 3);
    float *x = run_all(&a, tok, NTOK), *y = run_all(&g, tok, NTOK);
    assert_memory_equal(x, y, (size_t)NTOK * c.vocab * sizeof *x);
    free(x);
    free(y);
    llm_free(&a);
    llm_free(&g);
    gk_backend_close(b);
    gguf_close(&f);
    unlink(path);
}

/* ---- Llama 3.1/3.2 RoPE frequency factors (rope_freqs.weight) -------------------------------- */

static char *temp_path(void) {
    char *p = strdup("/tmp/gc_llm_rf_XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

/* Overwrites the values of rope_freqs.weight in a GGUF file. */
static void patch_factors(const char *path, const float *ff, int n) {
    gguf_file f;
    gc_err err;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    const gguf_tensor *t = gguf_find_tensor(&f, "rope_freqs.weight");
    assert_non_null(t);
    assert_int_equal(t->nbytes, (uint64_t)n * 4);
    long off = (long)((const uint8_t *)t->data - f.base);
    gguf_close(&f);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    assert_int_equal(fwrite(ff, 4, (size_t)n, fp), (size_t)n);
    assert_int_equal(fclose(fp), 0);
}

/* Loads a GGUF file as its tensors are (native types) on backend `be` and returns the logits of
 * all NTOK positions; *factors says whether the config has rope factors. */
static float *file_logits(const char *path, const char *be, const int32_t *tok, bool *factors) {
    gguf_file f;
    gc_err err;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    llm_config c;
    int wtype;
    if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s", err.msg);
    *factors = c.rope_factors;
    llm_source src;
    llm_source_synthetic(&src, &c, 0);
    src.gguf = &f;
    gk_backend *b = open_be(be, 2);
    llm_model m = {.be = b};
    llm_load_opts o = opts(-1);
    if (llm_load(&m, &o, 1, &src, &err)) fail_msg("%s", err.msg);
    float *y = run_all(&m, tok, NTOK);
    llm_free(&m);
    gk_backend_close(b);
    gguf_close(&f);
    return y;
}

/* The same synthetic model exported without and with rope_freqs.weight (same seed: every other
 * tensor is identical). Factors of 1 must give the logits of the file without them, bit for bit
 * (dividing an angle by 1 is exact); the synthetic factors (1 +- 0.1) must change them, with the
 * cpu backend agreeing with the ref oracle. */
static void rope_factors_from_gguf(void **st) {
    const llm_config base = {"rf", 64, 2, 4, 2, 128, 300, 64, 10000.0f, 1e-5f, false};
    llm_config cf = base;
    cf.rope_factors = true;
    char *plain = temp_path(), *with = temp_path(), *ones = temp_path();
    llm_source s0, s1;
    llm_source_synthetic(&s0, &base, 5);
    llm_source_synthetic(&s1, &cf, 5);
    gc_err err;
    if (llm_export_gguf(&s0, GK_F32, plain, &err) || llm_export_gguf(&s1, GK_F32, with, &err) ||
        llm_export_gguf(&s1, GK_F32, ones, &err))
        fail_msg("%s", err.msg);
    float one[8] = {1, 1, 1, 1, 1, 1, 1, 1};   /* head_dim 16: 8 factors */
    patch_factors(ones, one, 8);
    int32_t tok[NTOK];
    llm_tokens(tok, NTOK, base.vocab, 9);
    size_t n = (size_t)NTOK * base.vocab;
    const char *bes[] = {"ref", "cpu"};
    float *y_plain[2], *y_ones[2], *y_with[2];
    for (int k = 0; k < 2; k++) {
        bool f0, f1, f2;
        y_plain[k] = file_logits(plain, bes[k], tok, &f0);
        y_ones[k] = file_logits(ones, bes[k], tok, &f1);
        y_with[k] = file_logits(with, bes[k], tok, &f2);
        assert_false(f0);
        assert_true(f1 && f2);
        assert_memory_equal(y_ones[k], y_plain[k], n * sizeof(float));
    }
    llm_compare c;
    llm_compare_logits(y_with[0], y_with[1], NTOK, base.vocab, 0, &c);   /* cpu vs ref, with factors */
    if (!(c.max_rel_err < 2e-3) || c.top1_agree != NTOK)
        fail_msg("cpu vs ref with rope factors: max relative error %g, top-1 agrees on %d of %d", c.max_rel_err,
                 c.top1_agree, NTOK);
    llm_compare_logits(y_plain[0], y_with[0], NTOK, base.vocab, 0, &c);  /* the factors did something */
    if (!(c.max_rel_err > 1e-2)) fail_msg("rope factors 1 +- 0.1 changed the logits by only %g", c.max_rel_err);
    /* position 0 turns by 0 whatever the factors: the first row is the same */
    for (int v = 0; v < base.vocab; v++) assert_true(fabsf(y_plain[0][v] - y_with[0][v]) <= 1e-6f * (1 + fabsf(y_plain[0][v])));
    for (int k = 0; k < 2; k++) free(y_plain[k]), free(y_ones[k]), free(y_with[k]);
    unlink(plain), unlink(with), unlink(ones);
    free(plain), free(with), free(ones);
}

static void quality_arithmetic(void **st) {
    float p[4] = {1, 2, 3, 4}, q[4] = {1, 2, 3, 4}, r[4] = {4, 3, 2, 1};
    assert_true(llm_kl_div(p, q, 4) == 0.0);
    /* KL(softmax(p) || softmax(r)) by hand: sum p_i (p_i - r_i) with p = softmax(1,2,3,4). */
    double z = exp(1) + exp(2) + exp(3) + exp(4), kl = 0;
    for (int i = 0; i < 4; i++) kl += exp(p[i]) / z * (p[i] - r[i]);   /* both have the same normaliser */
    assert_true(fabs(llm_kl_div(p, r, 4) - kl) < 1e-12);
    assert_int_equal(llm_argmax(r, 4), 0);
    llm_compare c;
    llm_compare_logits(p, r, 1, 4, 0.1, &c);
    assert_int_equal(c.top1_agree, 0);
    assert_true(fabs(c.max_rel_err - 3.0 / 4.0) < 1e-12);
    float near[4] = {1, 2, 3.99f, 3.98f};
    llm_compare_logits(p, near, 1, 4, 0.01, &c);   /* picks 2; ref's 3 vs 4 differ by 1/4 of max: not a tie */
    assert_int_equal(c.top1_agree, 0);
    int32_t t1[8], t2[8];
    llm_tokens(t1, 8, 100, 5);
    llm_tokens(t2, 8, 100, 5);
    assert_memory_equal(t1, t2, sizeof t1);
    for (int i = 0; i < 8; i++) assert_true(t1[i] >= 0 && t1[i] < 100);
}

static void kl_of_a_format_vs_itself_is_zero(void **st) {
    gk_backend *b = open_be("cpu", 1);
    llm_model x = {0}, y = {0}, q = {0};
    load_tiny(&x, b, GK_F32, 42);
    load_tiny(&y, b, GK_F32, 42);
    load_tiny(&q, b, GK_Q4_0, 42);
    int32_t tok[NTOK];
    llm_tokens(tok, NTOK, x.c.vocab, 4);
    float *a = run_all(&x, tok, NTOK), *c = run_all(&y, tok, NTOK), *d = run_all(&q, tok, NTOK);
    double same = 0, quant = 0;
    for (int r = 0; r < NTOK; r++) {
        same += llm_kl_div(a + (size_t)r * x.c.vocab, c + (size_t)r * x.c.vocab, x.c.vocab);
        quant += llm_kl_div(a + (size_t)r * x.c.vocab, d + (size_t)r * x.c.vocab, x.c.vocab);
    }
    printf("  KL f32 vs f32 %.3g, q4_0 vs f32 %.3g (mean over %d positions)\n", same / NTOK, quant / NTOK, NTOK);
    assert_true(same == 0.0);
    assert_true(quant > 1e-6 && quant / NTOK < 0.5);
    free(a);
    free(c);
    free(d);
    llm_free(&x);
    llm_free(&y);
    llm_free(&q);
    gk_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preset_parameter_counts),
        cmocka_unit_test(config_checks),
        cmocka_unit_test(synthetic_weights_are_deterministic),
        cmocka_unit_test(quality_arithmetic),
        cmocka_unit_test(decode_after_prefill_equals_longer_prefill),
        cmocka_unit_test(last_logits_prefill_same_logits),
        cmocka_unit_test(cpu_matches_ref),
        cmocka_unit_test(fused_ops_same_logits),
        cmocka_unit_test(export_load_identical_logits),
        cmocka_unit_test(rope_factors_from_gguf),
        cmocka_unit_test(kl_of_a_format_vs_itself_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
