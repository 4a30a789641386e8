/* llm: Llama-family text generation, measured as the field measures it.
 *
 * Phases: prefill (a prompt of P tokens in one batch; unit token), decode (one token at KV
 * depth D; unit token), generation (P prompt tokens then N new ones, greedy; unit generation).
 * Prompts are deterministic pseudo-random ids from the seed. Weights come from a preset (synthetic,
 * from the seed, generated directly in the case's format) or a GGUF file (--model).
 *
 * Verification (once per case, before any timing): the first positions run through the scalar
 * reference backend with the same weights, as a batch and as one decode step; the backend's
 * logits must agree within the format's tolerance, with the same top-1 token.
 * Quality (once per case): KL divergence of next-token distributions from an F32 reference of
 * the same weights (F16 for models above 3B parameters) and top-1 agreement over a fixed prompt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "bench/metrics.h"
#include "bench/stats.h"
#include "bench/probes/triad.h"
#include "bench/workload.h"

#define VERIFY_T 3            /* prompt positions checked against the reference, then one decode step */
#define QUALITY_T 32          /* positions whose next-token distributions are scored */
#define MAX_RUN_SAMPLES 4096

enum { PH_PREFILL, PH_DECODE, PH_GENERATION };
static const char *const phase_names[] = {"prefill", "decode", "generation", NULL};

static const char *const presets[] = {"tinyllama-1.1b", "tiny", "llama2-7b", "llama3-8b", "mistral-7b", NULL};
/* "native": with --model, every tensor as the file stores it. */
static const char *const quants[] = {"q4_0", "q8_0", "f16", "bf16", "f32", "q4_1", "q4_k", "q6_k", "native", NULL};
static const char *const backends[] = {"cpu", "ref",
#ifdef GC_HAVE_CUDA
                                       "cuda",
#endif
                                       NULL};

typedef struct llm_case {
    llm_source src;
    gguf_file file;
    bool have_file;
    char ident[320];          /* model identity for the quality cache */
    gk_backend *be, *rbe;     /* the case's backend; the ref backend for verification */
    llm_model m[2];           /* the case's model; its reference copy on rbe until verified */
    int wtype, kv_type, threads, warmup;
    int P, N, D, ctx;
    int32_t *prompt;          /* max(P, D + 1) ids */
    float *logits;            /* vocab */
    /* verification, done once */
    bool verified;
    gc_verify ver;
    /* quality */
    bool have_quality;
    double kl_mean, kl_max, top1;
    int ref_bits;
    /* decode timings, for the roofline fraction */
    double *run_s, *dev_s;     /* per timed run of the current phase: host and device seconds */
    int n_runs, runs_seen;
    double triad_gbs, read_gbs;   /* CPU decode ceilings, probed once per case */
    bool rss_reset;
} llm_case;

/* ---- helpers -------------------------------------------------------------------------------- */

static double tolerance(int wtype) {
    /* Quantised matmuls quantise activations to 8 bits (Q8_0/Q8_K, as ggml does): ~0.4% per
     * element, compounding over the layers (measured: ~0.9% on tinyllama-1.1b and tiny, q4_0/q8_0/q4_k).
     * Float weights differ only in summation order. */
    const gk_type_info *ti = gk_type_get(wtype);
    return ti && !ti->quantized ? 2e-3 : 3e-2;
}

static int file_tolerance_type(const llm_case *s) {   /* the loosest type in a mixed file */
    if (s->wtype >= 0) return s->wtype;
    llm_tinfo t;
    for (int i = 0; i < llm_tensor_count(&s->src.c); i++) {
        llm_tensor_info(&s->src.c, i, &t);
        int ty = llm_source_type(&s->src, &t, -1);
        if (gk_type_get(ty) && gk_type_get(ty)->quantized) return ty;
    }
    return GK_F32;
}

/* Peak RSS of the timed part: Linux resets VmHWM when "5" is written to clear_refs. */
static bool reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static int open_source(const gc_case *c, llm_source *src, gguf_file *file, bool *have_file, gc_err *err) {
    const gc_options *o = c->opt;
    const char *model = gc_case_param(c, "model");
    if (model) {
        if (gguf_open(model, file, err)) return -1;
        *have_file = true;
        int ftype;
        llm_config cfg;
        if (llm_config_from_gguf(file, &cfg, &ftype, err)) {
            gc_err e = *err;
            gguf_close(file);
            *have_file = false;
            return gc_errf(err, "%s: %s", model, e.msg);
        }
        llm_source_synthetic(src, &cfg, o->seed);
        src->gguf = file;
        return 0;
    }
    const llm_config *p = llm_preset(c->preset);
    if (!p) return gc_errf(err, "llm: unknown preset '%s'", c->preset);
    llm_source_synthetic(src, p, o->seed);
    return 0;
}

static int parse_quant(const gc_case *c, int *wtype, gc_err *err) {
    if (!strcmp(c->quant, "native")) {
        if (!gc_case_param(c, "model")) return gc_errf(err, "llm: quant 'native' needs --model FILE.gguf");
        *wtype = -1;
        return 0;
    }
    *wtype = gk_type_from_name(c->quant);
    if (*wtype < 0 || !gk_type_get(*wtype)) return gc_errf(err, "llm: unknown quant type '%s'", c->quant);
    return 0;
}

static int kv_type_of(const gc_case *c, gc_err *err) {
    const char *k = gc_case_param(c, "kv-type");
    int t = k ? gk_type_from_name(k) : -1;
    if (t != GK_F32 && t != GK_F16 && t != GK_Q8_0) return gc_errf(err, "llm: KV type '%s' is not f32, f16 or q8_0", k ? k : "");
    return t;
}

/* The runner has resolved them (defaults, --quick caps, a depth that follows the prompt). */
static void sizes(const gc_case *c, int *P, int *N, int *D) {
    *P = (int)gc_case_param_int(c, "prompt", 0);
    *N = (int)gc_case_param_int(c, "gen", 0);
    *D = (int)gc_case_param_int(c, "kv-depth", 0);
    if (*D <= 0) *D = *P;
}

static int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* KV positions a case needs: the generation, the decode depth plus its token, the quality
 * positions (set-up, --dry-run and the before-anything check all size the cache by this). */
static int case_positions(int P, int N, int D) { return max3(P + N, D + 1, QUALITY_T + 1); }

/* ---- quality: reference logits of an F32/F16 copy, cached across the cases of a run ------- */

static struct {
    char key[400];
    float *logits;            /* QUALITY_T x vocab */
    int bits;
} qcache;

static void quality_key(const llm_case *s, char *key, size_t n) {
    snprintf(key, n, "%s|%lu|%s|%s|%d|%d", s->ident, s->src.seed, s->be->name, s->be->isa ? s->be->isa : "", s->threads,
             s->kv_type);
}

static int quality_ref_type(const llm_config *c) { return llm_param_count(c) > 3000000000LL ? GK_F16 : GK_F32; }

static int quality_logits(llm_model *m, float *out, unsigned long seed, gc_err *err) {
    int32_t tok[QUALITY_T];
    llm_tokens(tok, QUALITY_T, m->c.vocab, seed ^ 0x5157u);
    return llm_forward(m, tok, QUALITY_T, 0, LLM_LOGITS_ALL, out, err);
}

static llm_load_opts small_opts(int wtype, int kv_type) {
    return (llm_load_opts){.wtype = wtype, .kv_type = kv_type, .ctx = QUALITY_T + 1, .max_t = QUALITY_T, .max_logits = QUALITY_T};
}

/* Fills qcache for this case's model and backend unless it already holds it. A reference that
 * does not fit in memory leaves quality out, with a note, rather than failing the case. */
static void quality_reference(llm_case *s) {
    char key[sizeof qcache.key];
    int rtype = quality_ref_type(&s->src.c);
    quality_key(s, key, sizeof key);
    if (qcache.logits && !strcmp(qcache.key, key)) return;
    free(qcache.logits);
    qcache.logits = NULL;
    qcache.key[0] = 0;
    if (s->wtype == rtype) return;   /* the case's own model is the reference: computed after loading */
    size_t n = (size_t)QUALITY_T * (size_t)s->src.c.vocab;
    float *lg = malloc(n * sizeof *lg);
    llm_model ref = {.be = s->be};
    llm_load_opts o = small_opts(rtype, s->kv_type);
    gc_err e;
    if (!lg) snprintf(e.msg, sizeof e.msg, "out of memory");
    if (!lg || llm_load(&ref, &o, 1, &s->src, &e) || quality_logits(&ref, lg, s->src.seed, &e)) {
        fprintf(stderr, "gencost: llm: quality scores left out: %s\n", e.msg);
        free(lg);
        llm_free(&ref);
        return;
    }
    llm_free(&ref);
    qcache.logits = lg;
    qcache.bits = rtype == GK_F32 ? 32 : 16;
    snprintf(qcache.key, sizeof qcache.key, "%s", key);
}

static int quality_score(llm_case *s, gc_err *err) {
    size_t n = (size_t)QUALITY_T * (size_t)s->src.c.vocab;
    int rtype = quality_ref_type(&s->src.c);
    float *lg = malloc(n * sizeof *lg);
    if (!lg) return gc_errf(err, "llm: out of memory for quality logits");
    if (quality_logits(&s->m[0], lg, s->src.seed, err)) {
        free(lg);
        return -1;
    }
    if (s->wtype == rtype && !qcache.logits) {   /* this model is its own reference */
        qcache.logits = malloc(n * sizeof *lg);
        if (qcache.logits) {
            memcpy(qcache.logits, lg, n * sizeof *lg);
            qcache.bits = rtype == GK_F32 ? 32 : 16;
            quality_key(s, qcache.key, sizeof qcache.key);
        }
    }
    if (qcache.logits) {
        int agree = 0;
        double sum = 0, mx = 0;
        for (int r = 0; r < QUALITY_T; r++) {
            const float *a = qcache.logits + (size_t)r * s->src.c.vocab, *b = lg + (size_t)r * s->src.c.vocab;
            double kl = llm_kl_div(a, b, s->src.c.vocab);
            sum += kl;
            if (kl > mx) mx = kl;
            agree += llm_argmax(a, s->src.c.vocab) == llm_argmax(b, s->src.c.vocab);
        }
        s->have_quality = true;
        s->kl_mean = sum / QUALITY_T;
        s->kl_max = mx;
        s->top1 = (double)agree / QUALITY_T;
        s->ref_bits = qcache.bits;
    }
    free(lg);
    return 0;
}

/* ---- verification against the scalar reference --------------------------------------------- */

static int verify_against(llm_case *s, llm_model *ref, gc_err *err) {
    int V = VERIFY_T, vocab = s->src.c.vocab;
    size_t n = (size_t)(V + 1) * (size_t)vocab;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int rc = -1;
    if (!a || !b) {
        gc_errf(err, "llm: out of memory for verification");
        goto out;
    }
    /* The batch path (V tokens at once), then the decode path (one token at depth V). */
    if (llm_forward(ref, s->prompt, V, 0, LLM_LOGITS_ALL, a, err) || llm_forward(&s->m[0], s->prompt, V, 0, LLM_LOGITS_ALL, b, err))
        goto out;
    int32_t next = llm_argmax(a + (size_t)(V - 1) * vocab, vocab);
    if (llm_forward(ref, &next, 1, V, LLM_LOGITS_LAST, a + (size_t)V * vocab, err) ||
        llm_forward(&s->m[0], &next, 1, V, LLM_LOGITS_LAST, b + (size_t)V * vocab, err))
        goto out;
    double tol = tolerance(file_tolerance_type(s));
    llm_compare cmp;
    llm_compare_logits(a, b, V + 1, vocab, tol, &cmp);
    gc_verify *v = &s->ver;
    v->ok = cmp.max_rel_err <= tol && cmp.top1_agree == cmp.rows;
    snprintf(v->detail, sizeof v->detail,
             "logits of %d positions (batch of %d, then 1 decode step) vs the ref backend: max rel err %.3g (tolerance %.3g), top-1 %d/%d%s",
             V + 1, V, cmp.max_rel_err, tol, cmp.top1_agree, cmp.rows, cmp.top1_near_tie ? " (near-ties counted)" : "");
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_rel_err", cmp.max_rel_err);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_abs_err", cmp.max_abs_err);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "tolerance", tol);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "top1_agree", (double)cmp.top1_agree / cmp.rows);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "top1_near_ties", cmp.top1_near_tie);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "positions", cmp.rows);
    rc = 0;
out:
    free(a);
    free(b);
    return rc;
}

/* The reference copy was loaded beside the case's model (one generation of the weights);
 * it is freed once compared, so the timed runs see only the case's own memory. */
static int verify_case(llm_case *s, gc_err *err) {
    if (!s->rbe) {
        s->ver.ok = true;
        snprintf(s->ver.detail, sizeof s->ver.detail, "the ref backend is the reference (scalar F32 oracle)");
        gc_kv_add(s->ver.vals, &s->ver.n_vals, GC_MAX_KV, "max_rel_err", 0);
        return 0;
    }
    int rc = verify_against(s, &s->m[1], err);
    llm_free(&s->m[1]);
    s->m[1].be = NULL;
    gk_backend_close(s->rbe);
    s->rbe = NULL;
    return rc;
}

/* ---- the workload interface ------------------------------------------------------------------ */

static void llm_teardown(void *state) {
    llm_case *s = state;
    if (!s) return;
    llm_free(&s->m[0]);
    llm_free(&s->m[1]);
    if (s->be) gk_backend_close(s->be);
    if (s->rbe) gk_backend_close(s->rbe);
    if (s->have_file) gguf_close(&s->file);
    free(s->prompt);
    free(s->logits);
    free(s->run_s);
    free(s->dev_s);
    free(s);
}

static void declare_phases(llm_case *s, gc_phase *ph, int *n) {
    const llm_config *c = &s->src.c;
    double wbytes = (double)llm_source_weight_bytes(&s->src, s->wtype, true);
    double kv_row = (double)llm_kv_bytes(c, s->kv_type, 1);
    *n = 0;
    for (int p = PH_PREFILL; p <= PH_GENERATION; p++) {
        gc_phase *x = &ph[*n];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", phase_names[p]);
        (*n)++;
        if (p == PH_PREFILL) {
            snprintf(x->unit, sizeof x->unit, "token");
            x->work_per_rep = s->P;
            x->bytes_per_rep = wbytes + kv_row * s->P;
            x->flops_per_rep = llm_prefill_flops(c, s->P);
        } else if (p == PH_DECODE) {
            snprintf(x->unit, sizeof x->unit, "token");
            x->work_per_rep = 1;
            x->bytes_per_rep = wbytes + kv_row * (s->D + 1);
            x->flops_per_rep = llm_flops_per_token(c, s->D);
        } else {
            snprintf(x->unit, sizeof x->unit, "generation");
            x->work_per_rep = 1;
            x->bytes_per_rep = wbytes * s->N + kv_row * s->P;
            x->flops_per_rep = llm_prefill_flops(c, s->P);   /* then N-1 tokens decoded, one at a time */
            for (int t = s->P; t < s->P + s->N - 1; t++) x->flops_per_rep += llm_flops_per_token(c, t);
        }
    }
}

/* The ops the model calls (bench/llm/llm_model.c) with their operand types. With "native"
 * weights (-1) the file's own types are checked when the model loads; here only the rest. */
static int require_ops(const llm_case *s, gc_err *err) {
    const int w = s->wtype, kv = s->kv_type;
    const gc_op_need weights[] = {
        {GK_OP_MATMUL, {GK_F32, w, GK_F32}, 3},
        {GK_OP_EMBEDDING, {GK_F32, w, GK_I32}, 3},
    };
    const gc_op_need rest[] = {
        {GK_OP_RMSNORM, {GK_F32, GK_F32, GK_F32}, 3},   {GK_OP_ROPE, {GK_F32}, 1},
        {GK_OP_KV_STORE, {kv, GK_F32}, 2},              {GK_OP_ATTENTION, {GK_F32, GK_F32, kv, kv}, 4},
        {GK_OP_SILU_MUL, {GK_F32, GK_F32, GK_F32}, 3}, {GK_OP_ADD, {GK_F32, GK_F32, GK_F32}, 3},
    };
    if (w >= 0 && gc_require_ops(s->be, "llm", weights, 2, err)) return GC_SETUP_UNSUPPORTED;
    return gc_require_ops(s->be, "llm", rest, (int)(sizeof rest / sizeof rest[0]), err);
}

static int llm_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    const gc_options *o = c->opt;
    llm_case *s = calloc(1, sizeof *s);
    if (!s) return gc_errf(err, "llm: out of memory");
    *state = s;
    s->threads = c->threads;
    s->warmup = o->warmup;
    if (parse_quant(c, &s->wtype, err) || (s->kv_type = kv_type_of(c, err)) < 0) return -1;
    if (open_source(c, &s->src, &s->file, &s->have_file, err)) return -1;
    const char *model = gc_case_param(c, "model");
    snprintf(s->ident, sizeof s->ident, "%s", model ? model : c->preset);
    sizes(c, &s->P, &s->N, &s->D);
    s->ctx = case_positions(s->P, s->N, s->D);
    if (s->ctx > s->src.c.ctx)
        return gc_errf(err, "llm %s: %d positions (prompt %d + %d new, decode depth %d) exceed the model's context of %d",
                       s->src.c.name, s->ctx, s->P, s->N, s->D, s->src.c.ctx);
    declare_phases(s, out->phases, &out->n_phases);

    char why[256];
    gk_backend_opts bo = {.n_threads = c->threads, .smt = o->smt, .isa = c->isa};
    s->be = gk_backend_open(c->backend, &bo, why, sizeof why);
    if (!s->be) return gc_errf(err, "llm: backend %s: %s", c->backend, why);
    gc_device_of(s->be, out->device, sizeof out->device);
    if (require_ops(s, err)) return GC_SETUP_UNSUPPORTED;

    int np = s->D + 1 > s->P ? s->D + 1 : s->P;
    s->prompt = malloc((size_t)np * sizeof *s->prompt);
    s->logits = malloc((size_t)s->src.c.vocab * sizeof *s->logits);
    s->run_s = malloc(MAX_RUN_SAMPLES * sizeof *s->run_s);
    s->dev_s = malloc(MAX_RUN_SAMPLES * sizeof *s->dev_s);
    if (!s->prompt || !s->logits || !s->run_s || !s->dev_s) return gc_errf(err, "llm: out of memory");
    llm_tokens(s->prompt, np, s->src.c.vocab, o->seed);

    quality_reference(s);   /* before the case's model: the two need not fit together */
    llm_load_opts lo[2] = {{.wtype = s->wtype, .kv_type = s->kv_type, .ctx = s->ctx,
                            .max_t = max3(s->P, VERIFY_T, QUALITY_T), .max_logits = QUALITY_T},
                           {.wtype = s->wtype, .kv_type = s->kv_type, .ctx = VERIFY_T + 1,
                            .max_t = VERIFY_T, .max_logits = VERIFY_T}};
    int n_models = 1;
    if (strcmp(s->be->name, "ref")) {
        gk_backend_opts rbo = {.n_threads = 1};
        s->rbe = gk_backend_open("ref", &rbo, why, sizeof why);
        if (!s->rbe) return gc_errf(err, "llm: cannot open the ref backend to verify: %s", why);
        n_models = 2;
    }
    s->m[0].be = s->be;
    s->m[1].be = s->rbe;
    return llm_load(s->m, lo, n_models, &s->src, err);
}

static int llm_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    llm_case *s = state;
    if (!s->verified) {
        if (verify_case(s, err)) return -1;
        /* Quality: a fixed prompt scored against the F32/F16 reference (done once per case). */
        if (quality_score(s, err)) return -1;
        s->verified = true;
    }
    *v = s->ver;
    /* Ready the state the phase's runs assume: a KV cache filled to depth D for decode. */
    if (phase == PH_DECODE && llm_prefill(&s->m[0], s->prompt, s->D, 0, NULL, err)) return -1;
    s->n_runs = s->runs_seen = 0;
    s->rss_reset = reset_peak_rss();
    return 0;
}

static int run_phase(llm_case *s, int phase, gc_err *err) {
    llm_model *m = &s->m[0];
    switch (phase) {
    case PH_PREFILL:
        return llm_forward(m, s->prompt, s->P, 0, LLM_LOGITS_LAST, s->logits, err);
    case PH_DECODE:
        return llm_forward(m, &s->prompt[s->D], 1, s->D, LLM_LOGITS_LAST, s->logits, err);
    default: {   /* generation: the prompt, then greedy decoding up to N new tokens */
        if (llm_forward(m, s->prompt, s->P, 0, LLM_LOGITS_LAST, s->logits, err)) return -1;
        int32_t tok = llm_argmax(s->logits, m->c.vocab);
        for (int i = 1; i < s->N; i++) {
            if (llm_forward(m, &tok, 1, s->P + i - 1, LLM_LOGITS_LAST, s->logits, err)) return -1;
            tok = llm_argmax(s->logits, m->c.vocab);
        }
        return 0;
    }
    }
}

/* One repetition, timed here too: host seconds feed the decode roofline, and a backend with
 * its own clock (CUDA events) gives the device time of the same work. */
static int llm_run(void *state, int phase, gc_err *err) {
    llm_case *s = state;
    int (*timer)(gk_backend *, int, double *) = s->be->ops->device_timer;
    double dev = 0, t0 = gc_now();
    if (timer && timer(s->be, 0, NULL)) return gc_errf(err, "llm: %s", gk_backend_error(s->be));
    if (run_phase(s, phase, err)) return -1;
    if (timer && timer(s->be, 1, &dev)) return gc_errf(err, "llm: %s", gk_backend_error(s->be));
    double host = gc_now() - t0;
    if (s->runs_seen++ >= s->warmup && s->n_runs < MAX_RUN_SAMPLES) {
        s->run_s[s->n_runs] = host;
        s->dev_s[s->n_runs++] = dev;
    }
    return 0;
}

/* The CPU's decode ceilings, probed once per case with its threads: the read-only stream (the
 * ceiling proper: decode reads its weights, writing little) and triad (kept for continuity). */
static void cpu_ceilings(llm_case *s) {
    gc_err e;
    if (s->read_gbs <= 0) s->read_gbs = read_probe_gbs(s->threads, &e);
    if (s->triad_gbs <= 0) s->triad_gbs = triad_probe_gbs(s->threads, &e);
}

/* Decode streams every weight once per token, so its ceiling is memory bandwidth ÷ weight bytes
 * per token. On the CPU: `read_roofline_fraction` = weight bytes per token × token/s ÷ the read
 * probe's GB/s, and `roofline_fraction` as before, against triad. On a GPU: its memory's peak
 * (clock × bus width, from the device) against the device-timed decode, as roofline_fraction. */
static void decode_roofline(llm_case *s, double per_tok, gc_metrics *mt) {
    if (s->n_runs == 0) return;
    bool gpu = s->be->ops->device_timer != NULL;
    double bw = 0, med = stats_median(gpu ? s->dev_s : s->run_s, s->n_runs);
    if (gpu) {
        gk_device_info d;
        if (gk_backend_devices(s->be->name, &d, 1) == 1) bw = d.peak_bw_gbs;
        if (bw > 0) gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "device_peak_bw_gbs", bw);
    } else {
        cpu_ceilings(s);
        bw = s->triad_gbs;
        if (bw > 0) gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_TRIAD_GBS, bw);
        if (s->read_gbs > 0) {
            gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_READ_GBS, s->read_gbs);
            gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_READ_ROOFLINE_TOKENS_PER_S, s->read_gbs * 1e9 / per_tok);
            if (med > 0)
                gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_READ_ROOFLINE_FRACTION, per_tok / med / (s->read_gbs * 1e9));
        }
    }
    if (bw <= 0 || med <= 0) return;
    double roof = bw * 1e9 / per_tok;   /* tokens/s if every weight byte streamed at that bandwidth */
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "roofline_tokens_per_s", roof);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_ROOFLINE_FRACTION, 1.0 / med / roof);
}

static void llm_finish(void *state, int phase, gc_metrics *mt) {
    llm_case *s = state;
    const llm_config *c = &s->src.c;
    uint64_t rss = s->rss_reset ? gc_proc_kb_field("/proc/self/status", "VmHWM") : 0;
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "peak_rss_bytes", (double)(rss ? rss : gc_peak_rss_bytes()));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "kv_cache_bytes", (double)llm_kv_bytes(c, s->kv_type, s->ctx));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "weight_bytes", (double)llm_source_weight_bytes(&s->src, s->wtype, false));
    double per_tok = (double)llm_source_weight_bytes(&s->src, s->wtype, true);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_WEIGHT_BYTES_PER_TOKEN, per_tok);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "params", (double)llm_param_count(c));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_PROMPT_TOKENS, s->P);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_GEN_TOKENS, s->N);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "kv_depth", s->D);
    if (s->have_quality) {
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "kl_div_mean", s->kl_mean);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "kl_div_max", s->kl_max);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "quality_top1_agree", s->top1);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "quality_positions", QUALITY_T);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "quality_ref_bits", s->ref_bits);
    }
    if (s->be->ops->device_timer && s->n_runs > 0)
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "device_s_median", stats_median(s->dev_s, s->n_runs));
    if (phase == PH_DECODE) decode_roofline(s, per_tok, mt);
}

static void llm_describe(const gc_case *c) {
    gc_err err;
    llm_source src;
    gguf_file file;
    bool have_file = false;
    int wtype, kv_type, P, N, D;
    if (parse_quant(c, &wtype, &err) || (kv_type = kv_type_of(c, &err)) < 0 ||
        open_source(c, &src, &file, &have_file, &err)) {
        printf("    llm: %s\n", err.msg);
        return;
    }
    sizes(c, &P, &N, &D);
    const llm_config *m = &src.c;
    int ctx = case_positions(P, N, D);
    llm_load_opts lo = {.wtype = wtype, .kv_type = kv_type, .ctx = ctx, .max_t = max3(P, VERIFY_T, QUALITY_T), .max_logits = QUALITY_T};
    printf("    model %s: dim %d, %d layers, %d heads (%d kv), ffn %d, vocab %d, context %d, rope base %g (rope factors: %s), eps %g: %.3f B parameters\n",
           m->name, m->dim, m->n_layers, m->n_heads, m->n_kv_heads, m->ffn, m->vocab, m->ctx, m->rope_base,
           m->rope_factors ? "yes" : "no", m->norm_eps, (double)llm_param_count(m) / 1e9);
    printf("    weights %s: %.3f GB (%.3f GB read per decoded token); KV cache %s for %d positions: %.3f GB; buffers %.3f GB\n",
           wtype < 0 ? "as in the file" : gk_type_name(wtype), (double)llm_source_weight_bytes(&src, wtype, false) / 1e9,
           (double)llm_source_weight_bytes(&src, wtype, true) / 1e9, gk_type_name(kv_type), ctx,
           (double)llm_kv_bytes(m, kv_type, ctx) / 1e9, (double)(llm_buffer_bytes(m, &lo) - llm_kv_bytes(m, kv_type, ctx)) / 1e9);
    uint64_t need = llm_source_weight_bytes(&src, wtype, false) + llm_buffer_bytes(m, &lo);
    gc_err mem;
    printf("    prompt %d tokens, %d new tokens, decode at depth %d; seed %lu; needs %.2f GB (+ a reference copy while verifying), %.2f GB available%s\n",
           P, N, D, c->opt->seed, (double)need / 1e9, (double)gc_mem_available_bytes() / 1e9,
           llm_check_memory("it", need, &mem) ? ": does not fit" : "");
    if (have_file) gguf_close(&file);
}

/* --model: the file is validated whole before anything runs, as a container and as a model (the
 * metadata agrees with the tensors, every tensor is there with its shape and a supported type):
 * a malformed file is bad input, not a failed case. */
/* A prompt, generation or decode depth beyond the preset's context can never run: bad input,
 * said before anything runs (a model file's context is checked when it is opened, at set-up). */
static int llm_check_case(const gc_case *c, gc_err *err) {
    const llm_config *m = gc_case_param(c, "model") ? NULL : llm_preset(c->preset);
    if (!m) return 0;
    int P, N, D;
    sizes(c, &P, &N, &D);
    int ctx = case_positions(P, N, D);
    if (ctx > m->ctx)
        return gc_errf(err, "%d positions (prompt %d + %d new, decode depth %d) exceed %s's context of %d", ctx,
                       P, N, D, c->preset, m->ctx);
    return 0;
}

static int check_model(const char *path, gc_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return gc_errf(err, "cannot open '%s': %s", path, strerror(errno));
    fclose(f);
    gguf_file g;
    gc_err e = {{0}};
    if (gguf_open(path, &g, &e)) return gc_errf(err, "%s", e.msg);
    llm_config c;
    int wtype;
    int rc = llm_config_from_gguf(&g, &c, &wtype, &e);
    gguf_close(&g);
    return rc ? gc_errf(err, "%s: %s", path, e.msg) : 0;
}

/* clang-format off */
static const gc_param params[] = {
    {.name = "prompt", .kind = GC_PARAM_INT, .lo = 1, .hi = 1 << 20, .def = "512", .quick_max = 64, .metavar = "P",
     .help = "prompt tokens"},
    {.name = "gen", .kind = GC_PARAM_INT, .lo = 1, .hi = 1 << 20, .def = "128", .quick_max = 16, .metavar = "N",
     .help = "generated tokens"},
    {.name = "kv-depth", .kind = GC_PARAM_INT, .lo = 0, .hi = 1 << 22, .same_as = "prompt", .alias = "depth",
     .metavar = "D", .help = "KV depth of the decode phase"},
    {.name = "kv-type", .kind = GC_PARAM_STRING, .choices = "f32,f16,q8_0", .def = "f16", .metavar = "T",
     .help = "KV cache type"},
    {.name = "model", .kind = GC_PARAM_STRING, .names_preset = true, .check = check_model, .metavar = "FILE",
     .help = "a GGUF model instead of the synthetic preset"},
    {.name = NULL},
};
/* clang-format on */

const gc_workload wl_llm = {
    .name = "llm",
    .description = "Llama-family text generation: prefill, decode and generation (prompt + new tokens), verified against the reference backend, with quality scores",
    .presets = presets,
    .quants = quants,
    .backends = backends,
    .params = params,
    .phases = phase_names,
    .setup = llm_setup,
    .verify = llm_verify,
    .run = llm_run,
    .finish = llm_finish,
    .describe = llm_describe,
    .check_case = llm_check_case,
    .teardown = llm_teardown,
    .default_threads = "all",
    .takes_isa = true,
};
