/* The training workload (bench/train, issue 16): the data's entropy against a chain worked out
 * by hand; batches that only take the chain's transitions; token files (raw and llm.c's);
 * the whole model's gradients on the ref backend against central finite differences of its
 * loss along random directions, per trained tensor, in full and LoRA mode; the cpu backend's
 * gradients against ref; LoRA leaving the quantised base byte-identical; and the tiny preset's
 * loss falling to within a stated margin of the data's entropy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/train/train.h"

static gk_backend *open_be(const char *name, int threads) {
    char err[256];
    gk_backend_opts o = {.n_threads = threads};
    gk_backend *b = gk_backend_open(name, &o, err, sizeof err);
    if (!b) fail_msg("open %s: %s", name, err);
    return b;
}

/* ---- data ------------------------------------------------------------------------------------ */

static void test_entropy_by_hand(void **state) {
    /* 0 → {0, 1} with ½ each; 1 → 0 always. π = (2/3, 1/3); H = 2/3·ln 2 + 1/3·0. */
    const int32_t next[4] = {0, 1, 0, 1};
    const double prob[4] = {0.5, 0.5, 1.0, 0.0};
    double pi[2];
    double h = train_markov_entropy(2, 2, next, prob, pi);
    assert_float_equal(h, 2.0 / 3.0 * log(2.0), 1e-12);
    assert_float_equal(pi[0], 2.0 / 3.0, 1e-12);
    assert_float_equal(pi[1], 1.0 / 3.0, 1e-12);
}

static void test_markov_batches(void **state) {
    train_data d;
    gc_err err;
    assert_int_equal(train_data_markov(&d, 50, 3, 7, &err), 0);
    assert_true(d.entropy > 0.3 && d.entropy < log(3.0));
    enum { B = 3, T = 40 };
    int32_t a[B * (T + 1)], b[B * (T + 1)];
    train_data_batch(&d, 5, B, T, a);
    train_data_batch(&d, 5, B, T, b);
    assert_memory_equal(a, b, sizeof a);   /* a pure function of (seed, step) */
    train_data_batch(&d, 6, B, T, b);
    assert_memory_not_equal(a, b, sizeof a);
    for (int s = 0; s < B; s++)
        for (int t = 1; t <= T; t++) {   /* every move is one of the chain's, with non-zero probability */
            int32_t from = a[s * (T + 1) + t - 1], to = a[s * (T + 1) + t];
            bool legal = false;
            for (int j = 0; j < 3; j++) legal |= d.next[from * 3 + j] == to && d.prob[from * 3 + j] > 0;
            assert_true(legal);
        }
    /* the empirical entropy rate of a long sample approaches H */
    enum { LB = 64, LT = 500 };
    int32_t *big = malloc(sizeof(int32_t) * LB * (LT + 1));
    train_data_batch(&d, 0, LB, LT, big);
    double nll = 0;
    for (int s = 0; s < LB; s++)
        for (int t = 1; t <= LT; t++) {
            int32_t from = big[s * (LT + 1) + t - 1], to = big[s * (LT + 1) + t];
            for (int j = 0; j < 3; j++)
                if (d.next[from * 3 + j] == to) nll -= log(d.prob[from * 3 + j]);
        }
    assert_float_equal(nll / (LB * LT), d.entropy, 0.03);
    free(big);
    train_data_free(&d);
    assert_int_not_equal(train_data_markov(&d, 1, 1, 7, &err), 0);
}

static void test_token_files(void **state) {
    char raw[] = "/tmp/gencost-train-XXXXXX";
    int fd = mkstemp(raw);
    assert_true(fd >= 0);
    const uint8_t ids[6] = {1, 0, 2, 0, 0x10, 0};   /* u16 1, 2, 16 */
    assert_int_equal(write(fd, ids, sizeof ids), (ssize_t)sizeof ids);
    close(fd);
    train_data d;
    gc_err err;
    assert_int_equal(train_data_file(&d, raw, 2, 20, &err), 0);
    assert_int_equal(d.n_tokens, 3);
    assert_int_equal(d.tokens[2], 16);
    assert_true(isnan(d.entropy));
    int32_t w[2 * 3];
    train_data_batch(&d, 0, 2, 2, w);   /* windows of the file, wrapping at its end */
    for (int i = 0; i < 6; i++) assert_true(w[i] == 1 || w[i] == 2 || w[i] == 16);
    train_data_free(&d);
    assert_int_not_equal(train_data_file(&d, raw, 2, 16, &err), 0);   /* id 16 ≥ vocab 16 */
    assert_non_null(strstr(err.msg, "token 2 is id 16, outside the model's vocabulary of 16"));
    assert_int_not_equal(train_data_file(&d, raw, 4, 20, &err), 0);   /* 6 bytes: not whole u32 ids */
    assert_non_null(strstr(err.msg, "not a whole number of 4-byte ids"));
    /* llm.c's format: 256 int32 header (magic, version 1 = u16, count), then the ids */
    FILE *f = fopen(raw, "wb");
    int32_t hdr[256] = {20240520, 1, 2};
    const uint16_t two[2] = {7, 9};
    fwrite(hdr, sizeof hdr, 1, f), fwrite(two, sizeof two, 1, f);
    fclose(f);
    assert_int_equal(train_data_file(&d, raw, 4, 20, &err), 0);   /* the header overrides the width */
    assert_int_equal(d.n_tokens, 2);
    assert_int_equal(d.tokens[0], 7), assert_int_equal(d.tokens[1], 9);
    train_data_free(&d);
    unlink(raw);
    assert_int_not_equal(train_data_file(&d, "/nonexistent/x.bin", 2, 20, &err), 0);
    assert_non_null(strstr(err.msg, "cannot open '/nonexistent/x.bin'"));
}

/* ---- gradients --------------------------------------------------------------------------------- */

static const llm_config micro = {"micro", 32, 2, 4, 2, 64, 24, 64, 10000.0f, 1e-5f, false};

static void micro_opts(train_opts *o, int mode, int base) {
    train_opts_defaults(o);
    o->mode = mode, o->base_type = base;
    o->batch = 2, o->seq = 6, o->rank = 4, o->alpha = 8;
    o->targets = TRAIN_T_Q | TRAIN_T_K | TRAIN_T_V | TRAIN_T_O | TRAIN_T_FFN;
    o->lora_b_random = true;
}

static double loss_of(train_model *m, const int32_t *ids) {
    double l;
    gc_err err;
    if (train_forward(m, ids, &l, &err)) fail_msg("%s", err.msg);
    return l;
}

/* For each trained tensor: L(w + h·u) − L(w − h·u) over 2h against g·u, u = sign(g) (the ±1
 * direction of steepest ascent, so the derivative Σ|g| stands well above the F32 rounding of
 * the loss) and h a hundredth of the tensor's RMS. */
static void directional_fd(int mode, int base) {
    gk_backend *b = open_be("ref", 1);
    train_opts o;
    micro_opts(&o, mode, base);
    train_model m;
    gc_err err;
    if (train_load(&m, &micro, &o, b, 3, 1, &err)) fail_msg("%s", err.msg);
    train_data d;
    assert_int_equal(train_data_markov(&d, micro.vocab, 3, 5, &err), 0);
    int32_t ids[2 * 7];
    train_data_batch(&d, 0, 2, 6, ids);
    loss_of(&m, ids);
    if (train_backward(&m, &err)) fail_msg("%s", err.msg);
    double worst = 0;
    for (int i = 0; i < m.n_params; i++) {
        train_param *p = &m.params[i];
        size_t n = (size_t)gk_nelements(p->w);
        float *w = malloc(n * 4), *g = malloc(n * 4), *u = malloc(n * 4), *wp = malloc(n * 4);
        b->ops->download(b, p->w, 0, w, n * 4);
        b->ops->download(b, &p->g, 0, g, n * 4);
        double rms = 0, gu = 0;
        for (size_t k = 0; k < n; k++) rms += (double)w[k] * w[k];
        rms = sqrt(rms / n) + 1e-3;
        for (size_t k = 0; k < n; k++) {
            u[k] = g[k] >= 0 ? 1.0f : -1.0f;
            gu += (double)g[k] * u[k];
        }
        const double h = 1e-2 * rms;
        for (size_t k = 0; k < n; k++) wp[k] = (float)(w[k] + h * u[k]);
        b->ops->upload(b, p->w, 0, wp, n * 4);
        double lp = loss_of(&m, ids);
        for (size_t k = 0; k < n; k++) wp[k] = (float)(w[k] - h * u[k]);
        b->ops->upload(b, p->w, 0, wp, n * 4);
        double lm = loss_of(&m, ids);
        b->ops->upload(b, p->w, 0, w, n * 4);
        double fd = (lp - lm) / (2 * h), e = fabs(fd - gu) / (fabs(gu) + 1e-3);
        if (e > worst) worst = e;
        if (e > 1e-2) fail_msg("%s: g·u %.6g, finite difference %.6g", p->name, gu, fd);
        free(w), free(g), free(u), free(wp);
    }
    print_message("%s on %s: %d tensors, worst relative difference %.2e (bound 1e-2)\n",
                  mode == TRAIN_FULL ? "full" : "lora", gk_type_name(base), m.n_params, worst);
    assert_int_equal(m.n_params, mode == TRAIN_FULL ? 3 + 9 * 2 : 2 * 7 * 2);
    train_free(&m);
    train_data_free(&d);
    gk_backend_close(b);
}

static void test_fd_full(void **state) { directional_fd(TRAIN_FULL, GK_F32); }
static void test_fd_lora_q8(void **state) { directional_fd(TRAIN_LORA, GK_Q8_0); }

/* cpu against ref, every trained tensor's gradient and three steps' losses (what the workload's
 * verification does, here on the micro shape in both modes). */
static void cpu_vs_ref(int mode, int base, double tol) {
    gk_backend *r = open_be("ref", 1), *c = open_be("cpu", 2);
    assert_true(gk_backend_supports(c, GK_OP_ATTENTION_BACKWARD, NULL, 0));   /* cpu runs the train family */
    train_opts o;
    micro_opts(&o, mode, base);
    train_model mr, mc;
    gc_err err;
    if (train_load(&mr, &micro, &o, r, 3, 1, &err) || train_load(&mc, &micro, &o, c, 3, 2, &err)) fail_msg("%s", err.msg);
    train_data d;
    assert_int_equal(train_data_markov(&d, micro.vocab, 3, 5, &err), 0);
    int32_t ids[2 * 7];
    for (int step = 0; step < 3; step++) {
        train_data_batch(&d, step, 2, 6, ids);
        double lr, lc;
        assert_int_equal(train_forward(&mr, ids, &lr, &err) || train_forward(&mc, ids, &lc, &err), 0);
        assert_float_equal(lc, lr, tol * lr);
        assert_int_equal(train_backward(&mr, &err) || train_backward(&mc, &err), 0);
        for (int i = 0; step == 0 && i < mr.n_params; i++) {
            size_t n = (size_t)gk_nelements(&mr.params[i].g);
            float *a = malloc(n * 4), *bb = malloc(n * 4);
            r->ops->download(r, &mr.params[i].g, 0, a, n * 4);
            c->ops->download(c, &mc.params[i].g, 0, bb, n * 4);
            double top = 0, e = 0;
            for (size_t k = 0; k < n; k++) top = fmax(top, fabs(a[k])), e = fmax(e, fabs((double)a[k] - bb[k]));
            if (e > tol * 10 * top) fail_msg("%s: cpu differs from ref by %.3g (max |g| %.3g)", mr.params[i].name, e, top);
            free(a), free(bb);
        }
        assert_int_equal(train_update(&mr, &err) || train_update(&mc, &err), 0);
    }
    train_free(&mr), train_free(&mc), train_data_free(&d);
    gk_backend_close(r), gk_backend_close(c);
}

static void test_cpu_full(void **state) { cpu_vs_ref(TRAIN_FULL, GK_F32, 1e-4); }
static void test_cpu_lora_q4(void **state) { cpu_vs_ref(TRAIN_LORA, GK_Q4_0, 5e-3); }

/* ---- LoRA leaves the base alone --------------------------------------------------------------- */

static void test_lora_base_frozen(void **state) {
    gk_backend *b = open_be("ref", 1);
    train_opts o;
    micro_opts(&o, TRAIN_LORA, GK_Q4_0);
    o.lora_b_random = false;   /* the default start: B = 0, the base model exactly */
    o.lr = 1e-2f, o.warmup = 0;
    train_model m;
    gc_err err;
    if (train_load(&m, &micro, &o, b, 3, 1, &err)) fail_msg("%s", err.msg);
    train_data d;
    assert_int_equal(train_data_markov(&d, micro.vocab, 3, 5, &err), 0);
    int32_t ids[2 * 7];
    uint64_t before, after;
    assert_int_equal(train_weights_hash(&m, &before, &err), 0);
    double first = 0, loss = 0;
    for (int s = 0; s < 5; s++) {
        train_data_batch(&d, 0, 2, 6, ids);   /* the same batch: the adapters must lower its loss */
        assert_int_equal(train_step(&m, ids, &loss, &err), 0);
        if (s == 0) first = loss;
    }
    assert_int_equal(train_weights_hash(&m, &after, &err), 0);
    assert_true(before == after);
    assert_true(loss < first);
    assert_true(m.params[0].w->type == GK_F32 && m.w.layers[0].wq.type == GK_Q4_0);
    train_free(&m), train_data_free(&d);
    gk_backend_close(b);
}

/* ---- the tiny preset learns the chain --------------------------------------------------------- */

/* Trains the workload's tiny preset on its data (vocabulary 64, 4 successors a state), then
 * measures the loss on 8 batches it never saw: it must come within 0.15 nats of the entropy H
 * (from ln 64 = 4.16 at the start); a model that learned nothing stays near ln 64. */
static void test_tiny_learns_entropy(void **state) {
    gk_backend *b = open_be("cpu", 2);
    const llm_config *c = train_preset("tiny");
    assert_non_null(c);
    train_opts o;
    train_opts_defaults(&o);
    o.batch = 8, o.seq = 32, o.lr = 3e-3f, o.warmup = 20, o.schedule_steps = 250;
    train_model m;
    gc_err err;
    if (train_load(&m, c, &o, b, 42, 2, &err)) fail_msg("%s", err.msg);
    train_data d;
    assert_int_equal(train_data_markov(&d, c->vocab, 4, 42, &err), 0);
    int32_t *ids = malloc(sizeof(int32_t) * 8 * 33);
    double loss, start = 0;
    for (int s = 0; s < o.schedule_steps; s++) {
        train_data_batch(&d, s, 8, 32, ids);
        if (train_step(&m, ids, &loss, &err)) fail_msg("%s", err.msg);
        if (s == 0) start = loss;
    }
    double held = 0;
    for (int s = 0; s < 8; s++) {
        train_data_batch(&d, 100000 + s, 8, 32, ids);
        held += loss_of(&m, ids) / 8;
    }
    print_message("tiny on cpu: loss %.3f at the first step, %.3f held out after %d steps; entropy H = %.3f\n",
                  start, held, o.schedule_steps, d.entropy);
    assert_true(start > 3.5);
    assert_true(held < d.entropy + 0.15);
    assert_true(held > d.entropy - 0.05);   /* nothing beats the entropy, beyond sampling noise */
    free(ids);
    train_free(&m), train_data_free(&d);
    gk_backend_close(b);
}

static void test_counts(void **state) {
    /* llama-124m: 24.6 M embedding + 24.6 M head + 12 × (4·768² + 3·768·2048) + norms = 134.1 M */
    const llm_config *c = train_preset("llama-124m");
    train_opts o;
    train_opts_defaults(&o);
    train_counts k = train_count(c, &o);
    assert_int_equal(k.trainable_params, 2 * 768 * 32000 + 12 * (4 * 768 * 768 + 3 * 768 * 2048 + 2 * 768) + 768);
    assert_int_equal(k.optimizer_bytes, 8 * k.trainable_params);
    /* forward: 2 FLOPs a multiply-add of every matmul and the causal attention (T = 64) */
    double fwd = 256.0 * 2 * (12 * (4.0 * 768 * 768 + 3.0 * 768 * 2048) + 768.0 * 32000) + 12 * 2.0 * 768 * 64 * 65 * 4;
    assert_float_equal(k.flops_forward, fwd, 1);
    /* LoRA r 16 on q, k, v, o of tinyllama with a q4_0 base: the base stays 4.5 bits a weight */
    const llm_config *t = train_preset("tinyllama-1.1b");
    o.mode = TRAIN_LORA, o.base_type = GK_Q4_0;
    k = train_count(t, &o);
    assert_int_equal(k.trainable_params, 22 * 16 * ((2048 + 2048) * 2 + (2048 + 256) * 2));
    assert_true(k.weight_bytes < 700000000ull);   /* 1.1 B weights at 18 bytes per 32 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entropy_by_hand), cmocka_unit_test(test_markov_batches),
        cmocka_unit_test(test_token_files),     cmocka_unit_test(test_fd_full),
        cmocka_unit_test(test_fd_lora_q8),      cmocka_unit_test(test_cpu_full),
        cmocka_unit_test(test_cpu_lora_q4),     cmocka_unit_test(test_lora_base_frozen),
        cmocka_unit_test(test_counts),          cmocka_unit_test(test_tiny_learns_entropy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
