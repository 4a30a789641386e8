/* train: training steps of a Llama-family model, full or LoRA on a frozen (quantised) base.
 *
 * Phases: step (forward + backward + clipping + AdamW over B × T tokens; unit token, so the
 * figure is trained tokens per second), and for analysis forward (the loss) and backward (the
 * gradients of the last forward). Data: a random sparse Markov chain of known entropy H (the
 * loss a correct trainer approaches), or --data FILE of token ids.
 *
 * Verification (once per case, before any timing): a reduced model (two layers, a vocabulary
 * of at most 256, B ≤ 2, T ≤ 16, the case's widths, heads, mode and formats; LoRA's B started
 * non-zero so every path carries a gradient) on the scalar ref backend and on the case's
 * backend from the same seed: the loss of three optimiser steps, and the gradient of every
 * trained tensor at the first, must agree within the format's tolerance. LoRA: the frozen base
 * is hashed before and after a full-size step and must be byte-identical (and again after the
 * timed steps: a metric). A failed check is recorded, never timed.
 *
 * Metrics: FLOPs per step and per token (counted from the shapes), model GFLOP/s, MFU against
 * the FMA peak probed in the same run (CPU; over a quantised LoRA base fp32_peak_fraction, as
 * its forward GEMMs are integer), memory by kind (weights, gradients, optimiser state,
 * activations) beside the peak RSS, the loss of each timed step, the data's entropy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/metrics.h"
#include "bench/probes/fma.h"
#include "bench/train/train.h"
#include "bench/workload.h"

enum { PH_STEP, PH_FORWARD, PH_BACKWARD };
static const char *const phase_names[] = {"step", "forward", "backward", NULL};
static const char *const presets[] = {"llama-124m", "tiny", "tinyllama-1.1b", "llama2-7b", NULL};
static const char *const quants[] = {"f32", "q4_0", "q8_0", "q4_k", "f16", NULL};
static const char *const backends[] = {"cpu", "ref",
#ifdef GC_HAVE_CUDA
                                       "cuda",
#endif
                                       NULL};

#define VERIFY_STEPS 3
#define MAX_LOSSES 12

typedef struct train_case {
    train_model m;
    gk_backend *be;
    train_data data;
    int threads;
    unsigned long seed;
    int32_t *batch;           /* B·(T+1) ids */
    bool verified, forwarded;
    gc_verify ver;
    uint64_t base_hash;
    double losses[MAX_LOSSES], loss_first, loss_min;
    int n_losses, n_steps;
    double *step_s;           /* wall seconds of each timed step, for MFU */
    int n_step_s, cap_step_s;
    double fma_gflops;
} train_case;

/* ---- options ------------------------------------------------------------------------------------ */

static int opts_of(const gc_case *c, train_opts *o, gc_err *err) {
    train_opts_defaults(o);
    o->mode = !strcmp(gc_case_param(c, "mode"), "lora") ? TRAIN_LORA : TRAIN_FULL;
    o->base_type = gk_type_from_name(c->quant);
    if (o->base_type < 0) return gc_errf(err, "train: unknown weight format %s", c->quant);
    if (o->mode == TRAIN_FULL && o->base_type != GK_F32)
        return gc_errf(err, "train: full training keeps F32 master weights; --quant %s is for --mode lora (a frozen base)",
                       c->quant);
    o->batch = (int)gc_case_param_int(c, "batch", 4);
    o->seq = (int)gc_case_param_int(c, "seq", 64);
    o->schedule_steps = (int)gc_case_param_int(c, "steps", 1000);
    o->warmup = (int)gc_case_param_int(c, "lr-warmup", 10);
    o->rank = (int)gc_case_param_int(c, "rank", 16);
    o->alpha = (float)atof(gc_case_param(c, "alpha"));
    o->lr = (float)atof(gc_case_param(c, "lr"));
    o->weight_decay = (float)atof(gc_case_param(c, "weight-decay"));
    o->clip = (float)atof(gc_case_param(c, "clip"));
    o->targets = TRAIN_T_Q | TRAIN_T_K | TRAIN_T_V | TRAIN_T_O;
    if (!strcmp(gc_case_param(c, "lora-targets"), "all")) o->targets |= TRAIN_T_FFN;
    if (o->warmup > o->schedule_steps)
        return gc_errf(err, "train: warm-up of %d steps is longer than the schedule's %d", o->warmup, o->schedule_steps);
    return 0;
}

static int config_of(const gc_case *c, const train_opts *o, llm_config *cfg, gc_err *err) {
    const llm_config *p = train_preset(c->preset);
    if (!p) return gc_errf(err, "train: unknown preset %s", c->preset);
    *cfg = *p;
    if (llm_config_check(cfg, o->mode == TRAIN_FULL ? GK_F32 : o->base_type, err)) return -1;
    if (o->seq > cfg->ctx)
        return gc_errf(err, "train: sequences of %d tokens exceed %s's context of %d", o->seq, cfg->name, cfg->ctx);
    return 0;
}

static int data_of(const gc_case *c, int vocab, unsigned long seed, train_data *d, gc_err *err) {
    const char *file = gc_case_param(c, "data");
    if (file) return train_data_file(d, file, (int)gc_case_param_int(c, "data-bytes", 2), vocab, err);
    return train_data_markov(d, vocab, (int)gc_case_param_int(c, "branching", 4), seed, err);
}

/* ---- verification ------------------------------------------------------------------------------- */

static double tolerance(gk_backend *be, const train_opts *o) {
    /* float weights differ from the reference in summation order only; a quantised base meets
     * 8-bit activations in the cpu forward (as ggml's), a GPU GEMM may round activations to F16
     * (gk_matmul_act_type), and the error passes into every gradient */
    const int wtype = o->mode == TRAIN_FULL ? GK_F32 : o->base_type;
    const bool rounded = gk_type_get(wtype)->quantized || gk_matmul_act_type(be, wtype, (int64_t)o->batch * o->seq) != GK_F32;
    return rounded ? 5e-2 : 2e-3;
}

/* max |g − g_ref| / max |g_ref| of one trained tensor. */
static int grad_err(train_model *a, train_model *r, int i, double *e, gc_err *err) {
    const gk_tensor *ga = &a->params[i].g, *gr = &r->params[i].g;
    size_t n = (size_t)gk_nelements(gr);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return gc_errf(err, "train: out of memory");
    }
    int rc = a->be->ops->download(a->be, ga, 0, x, n * sizeof *x) || r->be->ops->download(r->be, gr, 0, y, n * sizeof *y);
    double d = 0, top = 0;
    for (size_t k = 0; k < n; k++) d = fmax(d, fabs((double)x[k] - y[k])), top = fmax(top, fabs((double)y[k]));
    free(x), free(y);
    if (rc) return gc_errf(err, "train: download of gradients failed");
    *e = top > 0 ? d / top : d;
    return 0;
}

static int verify_reduced(train_case *s, const gc_case *c, gc_err *err) {
    llm_config rc = s->m.c;
    rc.n_layers = rc.n_layers < 2 ? rc.n_layers : 2;
    rc.vocab = rc.vocab < 256 ? rc.vocab : 256;
    train_opts o = s->m.o;
    o.batch = o.batch < 2 ? o.batch : 2;
    o.seq = o.seq < 16 ? o.seq : 16;
    o.lora_b_random = true;
    o.warmup = 0;
    char why[256];
    gk_backend_opts ro = {.n_threads = 1};
    gk_backend *rbe = gk_backend_open("ref", &ro, why, sizeof why);
    if (!rbe) return gc_errf(err, "train: ref backend: %s", why);
    train_model mr, mb;
    train_data d;
    int32_t *ids = malloc((size_t)o.batch * (o.seq + 1) * sizeof *ids);
    int rv = !ids || train_data_markov(&d, rc.vocab, 4, s->seed, err);
    if (rv) {
        free(ids), gk_backend_close(rbe);
        return ids ? -1 : gc_errf(err, "train: out of memory");
    }
    rv = train_load(&mr, &rc, &o, rbe, s->seed, s->threads, err);
    if (!rv && (rv = train_load(&mb, &rc, &o, s->be, s->seed, s->threads, err))) train_free(&mr);
    if (rv) {
        free(ids), train_data_free(&d), gk_backend_close(rbe);
        return -1;
    }
    (void)c;
    const double tol = tolerance(s->be, &o);
    double worst_g = 0, worst_l = 0;
    int worst_i = 0;
    for (int step = 0; step < VERIFY_STEPS && !rv; step++) {
        double la = 0, lr = 0;
        train_data_batch(&d, step, o.batch, o.seq, ids);
        rv = train_forward(&mb, ids, &la, err) || train_forward(&mr, ids, &lr, err) || train_backward(&mb, err) ||
             train_backward(&mr, err);
        if (!rv) worst_l = fmax(worst_l, fabs(la - lr) / fabs(lr));
        for (int i = 0; !rv && step == 0 && i < mr.n_params; i++) {
            double e = 0;
            rv = grad_err(&mb, &mr, i, &e, err);
            if (e > worst_g) worst_g = e, worst_i = i;
        }
        if (!rv) rv = train_update(&mb, err) || train_update(&mr, err);
    }
    if (!rv) {
        gc_verify *v = &s->ver;
        v->ok = worst_g <= tol && worst_l <= tol / 10;
        snprintf(v->detail, sizeof v->detail,
                 "vs ref, %d layers, vocab %d, %d×%d tokens: gradients of %d tensors worst %.2e (%s), loss of %d steps "
                 "worst %.2e (tolerance %.0e, %.0e)",
                 rc.n_layers, rc.vocab, o.batch, o.seq, mr.n_params, worst_g, mr.params[worst_i].name, VERIFY_STEPS,
                 worst_l, tol, tol / 10);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "grad_max_rel_err", worst_g);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "loss_max_rel_err", worst_l);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "tolerance", tol);
    }
    train_free(&mb), train_free(&mr), train_data_free(&d), free(ids), gk_backend_close(rbe);
    return rv;
}

/* A full-size step, the base hashed around it (LoRA: it must not change). */
static int verify_full_size(train_case *s, gc_err *err) {
    train_model *m = &s->m;
    uint64_t after = 0;
    double loss;
    train_data_batch(&s->data, 0, m->o.batch, m->o.seq, s->batch);
    if (train_weights_hash(m, &s->base_hash, err) || train_step(m, s->batch, &loss, err) ||
        train_weights_hash(m, &after, err))
        return -1;
    s->loss_first = loss;
    gc_verify *v = &s->ver;
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "loss_first_step", loss);
    if (!isfinite(loss)) {
        v->ok = false;
        snprintf(v->detail, sizeof v->detail, "the first full-size step's loss is %g", loss);
        return 0;
    }
    if (m->o.mode == TRAIN_LORA) {
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "base_unchanged", after == s->base_hash);
        if (after != s->base_hash) {
            v->ok = false;
            snprintf(v->detail, sizeof v->detail, "the frozen base's bytes changed in a training step (hash %016llx → %016llx)",
                     (unsigned long long)s->base_hash, (unsigned long long)after);
        } else {
            size_t n = strlen(v->detail);
            snprintf(v->detail + n, sizeof v->detail - n, "; base byte-identical after a step");
        }
    }
    return 0;
}

/* ---- the workload -------------------------------------------------------------------------------- */

static void declare_phases(const train_case *s, gc_phase *ph, int *n) {
    train_counts k = train_count(&s->m.c, &s->m.o);
    const double tokens = (double)s->m.o.batch * s->m.o.seq;
    const double flops[] = {k.flops_step, k.flops_forward, k.flops_backward};
    for (*n = 0; *n < 3; (*n)++) {
        gc_phase *x = &ph[*n];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", phase_names[*n]);
        snprintf(x->unit, sizeof x->unit, "token");
        x->work_per_rep = tokens;
        x->flops_per_rep = flops[*n];
    }
}

static const gc_op_need *needs_of(int wtype, int *n) {
    static gc_op_need needs[24];
    int k = 0;
    needs[k++] = (gc_op_need){GK_OP_MATMUL, {GK_F32, wtype, GK_F32}, 3};
    needs[k++] = (gc_op_need){GK_OP_EMBEDDING, {GK_F32, wtype, GK_I32}, 3};
    needs[k++] = (gc_op_need){GK_OP_ATTENTION, {GK_F32, GK_F32, GK_F32, GK_F32}, 4};
    needs[k++] = (gc_op_need){GK_OP_EMBEDDING_BACKWARD, {GK_F32, GK_F32, GK_I32}, 3};
    needs[k++] = (gc_op_need){GK_OP_CROSS_ENTROPY, {GK_F32, GK_F32, GK_F32, GK_I32}, 4};
    static const int f32_ops[] = {GK_OP_RMSNORM, GK_OP_ROPE, GK_OP_SILU_MUL, GK_OP_ADD, GK_OP_RMSNORM_BACKWARD,
                                  GK_OP_ROPE_BACKWARD, GK_OP_ATTENTION_BACKWARD, GK_OP_SILU_MUL_BACKWARD,
                                  GK_OP_ADAMW, GK_OP_SUM_SQUARES, GK_OP_FILL};
    for (size_t i = 0; i < sizeof f32_ops / sizeof f32_ops[0]; i++) needs[k++] = (gc_op_need){f32_ops[i], {0}, 0};
    *n = k;
    return needs;
}

/* The backward forms of matmul the case needs (dX = dY·W on the base; dW += dYᵀ·X on F32). */
static int require_forms(gk_backend *be, int wtype, gc_err *err) {
    const gk_matmul_params back = {.trans_w = true, .alpha = 1.0f}, dw = {.trans_x = true, .trans_w = true, .alpha = 1.0f, .beta = 1.0f};
    const int tb[3] = {GK_F32, wtype, GK_F32}, tf[3] = {GK_F32, GK_F32, GK_F32};
    if (!gk_backend_supports_params(be, GK_OP_MATMUL, tb, 3, &back) || !gk_backend_supports_params(be, GK_OP_MATMUL, tf, 3, &dw)) {
        gc_errf(err, "train: backend %s cannot run the backward matmul forms: %s", be->name, gk_backend_error(be));
        return GC_SETUP_UNSUPPORTED;
    }
    return 0;
}

static void train_teardown(void *state) {
    train_case *s = state;
    if (!s) return;
    train_free(&s->m);
    train_data_free(&s->data);
    if (s->be) gk_backend_close(s->be);
    free(s->batch), free(s->step_s);
    free(s);
}

static int train_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    train_case *s = calloc(1, sizeof *s);
    if (!s) return gc_errf(err, "train: out of memory");
    *state = s;
    s->threads = c->threads;
    s->seed = c->opt->seed;
    train_opts o;
    llm_config cfg;
    if (opts_of(c, &o, err) || config_of(c, &o, &cfg, err)) return -1;
    train_counts k = train_count(&cfg, &o);
    uint64_t need = k.weight_bytes + k.grad_bytes + k.optimizer_bytes + k.activation_bytes;
    char why[256];
    gk_backend_opts bo = {.n_threads = c->threads, .smt = c->opt->smt, .isa = c->isa};
    s->be = gk_backend_open(c->backend, &bo, why, sizeof why);
    if (!s->be) return gc_errf(err, "train: backend %s: %s", c->backend, why);
    gc_device_of(s->be, out->device, sizeof out->device);
    int n;
    const gc_op_need *needs = needs_of(o.mode == TRAIN_FULL ? GK_F32 : o.base_type, &n);
    if (gc_require_ops(s->be, "train", needs, n, err)) return GC_SETUP_UNSUPPORTED;
    int rf = require_forms(s->be, o.mode == TRAIN_FULL ? GK_F32 : o.base_type, err);
    if (rf) return rf;
    if ((s->be->caps & GK_CAP_HOST_MEMORY) && llm_check_memory(cfg.name, need, err)) return -1;
    if (data_of(c, cfg.vocab, s->seed, &s->data, err)) return -1;
    s->batch = malloc((size_t)o.batch * (o.seq + 1) * sizeof *s->batch);
    if (!s->batch) return gc_errf(err, "train: out of memory");
    if (s->be->caps & GK_CAP_HOST_MEMORY) {   /* the CPU's FMA peak, for MFU */
        probe_fma_result pr;
        gc_err e;
        if (!probe_fma(c->threads, c->isa, &pr, &e)) s->fma_gflops = pr.gflops;
    }
    if (train_load(&s->m, &cfg, &o, s->be, s->seed, c->threads, err)) return -1;
    declare_phases(s, out->phases, &out->n_phases);
    return 0;
}

static int train_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    train_case *s = state;
    if (!s->verified) {
        s->ver.ok = true;
        if (verify_reduced(s, NULL, err)) return -1;
        if (s->ver.ok && verify_full_size(s, err)) return -1;
        s->verified = true;
    }
    *v = s->ver;
    s->n_step_s = 0, s->n_losses = 0;
    if (phase == PH_BACKWARD) {   /* the backward phase differentiates the last forward */
        double loss;
        train_data_batch(&s->data, s->m.step, s->m.o.batch, s->m.o.seq, s->batch);
        if (train_forward(&s->m, s->batch, &loss, err)) return -1;
    }
    return 0;
}

static int train_run(void *state, int phase, gc_err *err) {
    train_case *s = state;
    train_model *m = &s->m;
    double loss;
    if (phase == PH_BACKWARD) return train_backward(m, err);
    train_data_batch(&s->data, m->step, m->o.batch, m->o.seq, s->batch);
    if (phase == PH_FORWARD) return train_forward(m, s->batch, &loss, err);
    double t0 = gc_now();
    if (train_step(m, s->batch, &loss, err)) return -1;
    if (s->n_step_s == s->cap_step_s) {
        int cap = s->cap_step_s ? 2 * s->cap_step_s : 64;
        double *p = realloc(s->step_s, (size_t)cap * sizeof *p);
        if (!p) return gc_errf(err, "train: out of memory");
        s->step_s = p, s->cap_step_s = cap;
    }
    s->step_s[s->n_step_s++] = gc_now() - t0;
    if (s->n_losses < MAX_LOSSES) s->losses[s->n_losses++] = loss;
    s->loss_min = s->n_steps++ ? fmin(s->loss_min, loss) : loss;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void train_finish(void *state, int phase, gc_metrics *mt) {
    train_case *s = state;
    train_model *m = &s->m;
    train_counts k = train_count(&m->c, &m->o);
    const double tokens = (double)m->o.batch * m->o.seq;
    gc_kv *kv = mt->vals;
    int *n = &mt->n_vals;
    gc_kv_add(kv, n, GC_MAX_KV, "params_trained", (double)k.trainable_params);
    gc_kv_add(kv, n, GC_MAX_KV, "params_frozen", (double)k.frozen_params);
    gc_kv_add(kv, n, GC_MAX_KV, "tokens_per_step", tokens);
    gc_kv_add(kv, n, GC_MAX_KV, "flops_per_token", k.flops_step / tokens);
    gc_kv_add(kv, n, GC_MAX_KV, "weight_bytes", (double)k.weight_bytes);
    gc_kv_add(kv, n, GC_MAX_KV, "gradient_bytes", (double)k.grad_bytes);
    gc_kv_add(kv, n, GC_MAX_KV, "optimizer_bytes", (double)k.optimizer_bytes);
    gc_kv_add(kv, n, GC_MAX_KV, "activation_bytes", (double)k.activation_bytes);
    gc_kv_add(kv, n, GC_MAX_KV, "peak_rss_bytes", (double)gc_peak_rss_bytes());
    if (!isnan(s->data.entropy)) gc_kv_add(kv, n, GC_MAX_KV, "data_entropy_nats", s->data.entropy);
    if (s->fma_gflops > 0) gc_kv_add(kv, n, GC_MAX_KV, GC_METRIC_FMA_PEAK_GFLOPS, s->fma_gflops);
    if (phase != PH_STEP || !s->n_step_s) return;
    qsort(s->step_s, (size_t)s->n_step_s, sizeof *s->step_s, cmp_double);
    double med = s->step_s[s->n_step_s / 2];
    if (med > 0) gc_kv_add(kv, n, GC_MAX_KV, "model_gflops_per_s", k.flops_step / med / 1e9);
    if (s->fma_gflops > 0 && med > 0) {
        /* MFU only where every counted FLOP is a float FMA. A quantised base's forward GEMMs run
         * on integer dot products (int8 activations), which the FP32 peak does not bound: the
         * same ratio is then recorded under a name that says what it is (and may exceed 1). */
        bool float_base = m->o.mode == TRAIN_FULL || m->o.base_type == GK_F32 || m->o.base_type == GK_F16 ||
                          m->o.base_type == GK_BF16;
        gc_kv_add(kv, n, GC_MAX_KV, float_base ? "mfu" : "fp32_peak_fraction",
                  k.flops_step / med / (s->fma_gflops * 1e9));
    }
    gc_kv_add(kv, n, GC_MAX_KV, "steps_per_s", med > 0 ? 1.0 / med : 0);
    gc_kv_add(kv, n, GC_MAX_KV, "loss_min", s->loss_min);
    gc_kv_add(kv, n, GC_MAX_KV, "loss_last", m->last_loss);
    for (int i = 0; i < s->n_losses; i++) {
        char name[32];
        snprintf(name, sizeof name, "loss_step_%d", i + 1);
        gc_kv_add(kv, n, GC_MAX_KV, name, s->losses[i]);
    }
    uint64_t h;
    gc_err e;
    if (m->o.mode == TRAIN_LORA && !train_weights_hash(m, &h, &e))
        gc_kv_add(kv, n, GC_MAX_KV, "base_unchanged_after_timing", h == s->base_hash);
}

static void train_describe(const gc_case *c) {
    gc_err err;
    train_opts o;
    llm_config cfg;
    if (opts_of(c, &o, &err) || config_of(c, &o, &cfg, &err)) {
        printf("    train: %s\n", err.msg);
        return;
    }
    train_counts k = train_count(&cfg, &o);
    printf("    model %s, %s training%s: %.1f M trained and %.1f M frozen parameters; %d × %d tokens a step\n", cfg.name,
           o.mode == TRAIN_FULL ? "full" : "LoRA", o.mode == TRAIN_FULL ? "" : " on a frozen base",
           k.trainable_params / 1e6, k.frozen_params / 1e6, o.batch, o.seq);
    printf("    FLOPs a step: forward %.3g G, backward %.3g G; memory: weights %.3f GB, gradients %.3f GB, optimiser "
           "%.3f GB, activations %.3f GB; %.2f GB available\n",
           k.flops_forward / 1e9, k.flops_backward / 1e9, k.weight_bytes / 1e9, k.grad_bytes / 1e9,
           k.optimizer_bytes / 1e9, k.activation_bytes / 1e9, gc_mem_available_bytes() / 1e9);
}

static int train_check_case(const gc_case *c, gc_err *err) {
    train_opts o;
    llm_config cfg;
    return opts_of(c, &o, err) || config_of(c, &o, &cfg, err) ? -1 : 0;
}

/* clang-format off */
static const gc_param params[] = {
    {.name = "mode", .kind = GC_PARAM_STRING, .choices = "full,lora", .def = "full", .metavar = "M",
     .help = "full: every weight trained in F32; lora: adapters on a frozen base of the case's --quant"},
    {.name = "batch", .kind = GC_PARAM_INT, .lo = 1, .hi = 1024, .def = "4", .quick_max = 2, .metavar = "B",
     .help = "sequences per step"},
    {.name = "seq", .kind = GC_PARAM_INT, .lo = 2, .hi = 1 << 20, .def = "64", .quick_max = 16, .metavar = "T",
     .help = "tokens per sequence"},
    {.name = "steps", .kind = GC_PARAM_INT, .lo = 1, .hi = 1e9, .def = "1000", .metavar = "N",
     .help = "length of the learning-rate schedule (warm-up, then cosine to lr/10); a timed repetition is one step"},
    {.name = "lr-warmup", .kind = GC_PARAM_INT, .lo = 0, .hi = 1e9, .def = "10", .metavar = "N",
     .help = "warm-up steps (learning rate rising linearly)"},
    {.name = "lr", .kind = GC_PARAM_DOUBLE, .lo = 0, .hi = 10, .def = "3e-4", .metavar = "X",
     .help = "peak learning rate (AdamW, betas 0.9/0.95)"},
    {.name = "weight-decay", .kind = GC_PARAM_DOUBLE, .lo = 0, .hi = 10, .def = "0.1", .metavar = "X",
     .help = "AdamW weight decay on matrices (not norm gains, not adapters)"},
    {.name = "clip", .kind = GC_PARAM_DOUBLE, .lo = 0, .hi = 1e6, .def = "1", .metavar = "X",
     .help = "global gradient-norm clipping (0: none)"},
    {.name = "rank", .kind = GC_PARAM_INT, .lo = 1, .hi = 4096, .def = "16", .metavar = "R", .help = "LoRA rank"},
    {.name = "alpha", .kind = GC_PARAM_DOUBLE, .lo = 0, .hi = 1e6, .def = "32", .metavar = "A",
     .help = "LoRA alpha (adapter output scaled by alpha/rank)"},
    {.name = "lora-targets", .kind = GC_PARAM_STRING, .choices = "attn,all", .def = "attn", .metavar = "T",
     .help = "projections with adapters: attn (Q, K, V, O) or all (and the FFN's three)"},
    {.name = "branching", .kind = GC_PARAM_INT, .lo = 1, .hi = 64, .def = "4", .metavar = "K",
     .help = "synthetic data: successors of each state of the Markov chain"},
    {.name = "data", .kind = GC_PARAM_STRING, .metavar = "FILE",
     .help = "token ids to train on (raw little-endian, or llm.c's .bin) instead of the synthetic chain"},
    {.name = "data-bytes", .kind = GC_PARAM_INT, .lo = 2, .hi = 4, .def = "2", .metavar = "2|4",
     .help = "bytes per id of a raw --data file"},
    {.name = NULL},
};
/* clang-format on */

const gc_workload wl_train = {
    .name = "train",
    .description = "training steps (full, or LoRA on a quantised base) with AdamW on synthetic Markov data of known "
                   "entropy, verified against the reference backend",
    .presets = presets,
    .quants = quants,
    .backends = backends,
    .params = params,
    .phases = phase_names,
    .setup = train_setup,
    .verify = train_verify,
    .run = train_run,
    .finish = train_finish,
    .describe = train_describe,
    .check_case = train_check_case,
    .teardown = train_teardown,
    .takes_isa = true,
};
