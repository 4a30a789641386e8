/* Tests for the Stable Diffusion model (bench/sd): the planned architecture against the
 * published sizes of SD 1.5's parts (the tensor list is what the forward passes ask for, so a
 * missing or misshapen block changes these counts), FLOPs counted by hand, the shape checks,
 * the sampler's schedule and noise. */
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
#include "bench/sd/sd.h"

static sd_model *plan(const char *preset, int px, int wtype) {
    sd_shape s = {px, px, 20, true, 7.5f, 42};
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset(preset), &s, wtype, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

static int64_t params_with_prefix(const sd_model *m, const char *prefix) {
    int64_t n = 0;
    for (int i = 0; i < sd_tensor_count(m); i++) {
        const sd_tensor_info *t = sd_tensor_at(m, i);
        if (!strncmp(t->name, prefix, strlen(prefix))) n += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return n;
}

static const sd_tensor_info *find(const sd_model *m, const char *name) {
    for (int i = 0; i < sd_tensor_count(m); i++)
        if (!strcmp(sd_tensor_at(m, i)->name, name)) return sd_tensor_at(m, i);
    fail_msg("no tensor %s", name);
    return NULL;
}

/* SD 1.5: UNet 859,520,964 parameters, CLIP ViT-L/14's text model 123,060,480, the VAE's decoder
 * with its post-quant conv 49,490,199 (the sizes the original checkpoint's tensors add up to). */
static void sd15_has_the_published_sizes(void **s) {
    sd_model *m = plan("sd1.5", 512, GK_Q8_0);
    assert_int_equal(params_with_prefix(m, "model.diffusion_model."), 859520964);
    assert_int_equal(params_with_prefix(m, "cond_stage_model.transformer.text_model."), 123060480);
    assert_int_equal(params_with_prefix(m, "first_stage_model."), 49490199);
    /* names and shapes as the checkpoint has them; storage as a quantized GGUF keeps them */
    const sd_tensor_info *t = find(m, "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight");
    assert_int_equal(t->ne[0], 768);
    assert_int_equal(t->ne[1], 320);
    assert_int_equal(t->type, GK_Q8_0);
    t = find(m, "model.diffusion_model.output_blocks.11.0.in_layers.2.weight");   /* 3×3, 640 → 320 */
    assert_int_equal(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3], 3 * 3 * 640 * 320);
    assert_int_equal(t->type, GK_F16);   /* conv kernels: rows of 3, never whole blocks */
    t = find(m, "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight");   /* 1×1, 256 → 128 */
    assert_int_equal(t->ne[2], 256);
    assert_int_equal(t->ne[3], 128);
    assert_int_equal(find(m, "model.diffusion_model.out.0.bias")->type, GK_F32);
    find(m, "model.diffusion_model.output_blocks.8.2.conv.weight");   /* level 1's upsampler after attention */
    find(m, "model.diffusion_model.output_blocks.2.1.conv.weight");   /* level 3's, no attention there */
    sd_free(m);
}

/* The text encoder by hand, per layer and prompt: q, k, v, out 4 · 2·d²·T, the MLP 2 · 2·d·4d·T,
 * causal attention 2·d·T·(T+1); 12 layers, two prompts (guidance). */
static void text_flops_by_hand(void **s) {
    sd_model *m = plan("sd1.5", 512, GK_F16);
    double d = 768, t = 77, layer = 4 * 2 * d * d * t + 2 * 2 * d * 4 * d * t + 2 * d * t * (t + 1);
    assert_float_equal(sd_counts_text(m).flops, 2 * 12 * layer, 1);
    /* one UNet step with guidance: ~0.8 TFLOP per image at 512×512, twice */
    double step = sd_counts_step(m).flops;
    assert_true(step > 2 * 0.75e12 && step < 2 * 0.85e12);
    /* a quarter of the pixels: the convolutions scale with pixels, the attention faster */
    sd_model *small = plan("sd1.5", 256, GK_F16);
    assert_true(sd_counts_step(small).flops < step / 4 && sd_counts_step(small).flops > step / 6);
    sd_free(small);
    sd_free(m);
}

static void shapes_checked(void **s) {
    gc_err err = {{0}};
    sd_shape bad = {500, 512, 20, true, 7.5f, 1};
    assert_null(sd_plan(sd_preset("sd1.5"), &bad, GK_F16, &err));
    assert_string_equal(err.msg, "sd1.5: width and height must be positive multiples of 64 (got 500×512)");
    sd_shape steps = {512, 512, 0, true, 7.5f, 1};
    assert_null(sd_plan(sd_preset("sd1.5"), &steps, GK_F16, &err));
    assert_non_null(strstr(err.msg, "steps must be 1 to 1000"));
    sd_shape tiny = {8, 8, 1, false, 1, 1};   /* sd-tiny: 2 × 2 */
    sd_model *m = sd_plan(sd_preset("sd-tiny"), &tiny, GK_Q4_0, &err);
    assert_non_null(m);
    assert_int_equal(sd_latent_elems(m), 4 * 4 * 4);
    assert_int_equal(sd_image_elems(m), 8 * 8 * 3);
    sd_free(m);
    assert_null(sd_preset("sdxl-turbo"));
}

/* k-diffusion's discrete schedule: σ at t = 999 is sqrt((1 − ᾱ)/ᾱ) of the scaled-linear betas,
 * 14.6146; at t = 0, 0.0292; the last σ is 0. */
static void schedule_and_noise(void **s) {
    float sig[21], ts[20];
    sd_schedule(20, sig, ts);
    assert_float_equal(sig[0], 14.6146, 1e-3);
    assert_float_equal(ts[0], 999, 0);
    assert_float_equal(ts[19], 0, 0);
    assert_float_equal(sig[19], 0.0292, 1e-4);
    assert_float_equal(sig[20], 0, 0);
    for (int i = 1; i < 20; i++) assert_true(sig[i] < sig[i - 1]);
    /* noise: standard normal (mean 0, variance 1 within sampling error), the same for a seed */
    enum { N = 100000 };
    static float a[N], b[N];
    sd_noise(a, N, 7);
    sd_noise(b, N, 7);
    assert_memory_equal(a, b, sizeof a);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += a[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (a[i] - mean) * (a[i] - mean);
    var /= N;
    assert_true(fabs(mean) < 0.02 && fabs(var - 1) < 0.02);
    sd_noise(b, N, 8);
    assert_true(memcmp(a, b, sizeof a) != 0);
}

/* ---- generating: sd-tiny on the ref and cpu backends ---- */

static gk_backend *open_be(const char *name) {
    char why[256];
    gk_backend_opts o = {.n_threads = 2};
    gk_backend *b = gk_backend_open(name, &o, why, sizeof why);
    if (!b) fail_msg("%s: %s", name, why);
    return b;
}

/* A whole small generation; the latent after the last step and the pixels into out. */
static void generate(gk_backend *be, const sd_shape *sh, int wtype, float *latent, float *image) {
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset("sd-tiny"), sh, wtype, &err);
    if (!m || sd_load(m, be, 42, 2, &err) || sd_start(m, &err) || sd_encode(m, &err)) fail_msg("%s", err.msg);
    for (int i = 0; i < sh->steps; i++)
        if (sd_denoise_step(m, i, &err)) fail_msg("%s", err.msg);
    if (sd_read_latent(m, latent, &err) || sd_decode(m, &err) || sd_read_image(m, image, &err)) fail_msg("%s", err.msg);
    sd_free(m);
}

static double rel_err(const float *ref, const float *x, int n) {
    double e = 0, top = 0;
    for (int i = 0; i < n; i++) {
        e = fmax(e, fabs((double)x[i] - ref[i]));
        top = fmax(top, fabs((double)ref[i]));
    }
    return e / top;
}

enum { PX = 16, LAT = (PX / 2) * (PX / 2) * 4, IMG = PX * PX * 3 };

/* The cpu backend's generation follows the ref's within the format's tolerance, and repeats
 * itself exactly; pixels are finite and not all one value. */
static void cpu_follows_ref(void **s) {
    sd_shape sh = {PX, PX, 2, true, 7.5f, 42};
    static float rl[LAT], ri[IMG], cl[LAT], ci[IMG], cl2[LAT], ci2[IMG];
    gk_backend *ref = open_be("ref"), *cpu = open_be("cpu");
    static const struct { int type; double tol; } formats[] = {{GK_F32, 1e-3}, {GK_Q8_0, 5e-2}};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        generate(ref, &sh, formats[f].type, rl, ri);
        generate(cpu, &sh, formats[f].type, cl, ci);
        double el = rel_err(rl, cl, LAT), ei = rel_err(ri, ci, IMG);
        if (el > formats[f].tol || ei > formats[f].tol)
            fail_msg("%s: latent rel err %.3g, pixels %.3g (tolerance %.3g)", gk_type_name(formats[f].type), el, ei,
                     formats[f].tol);
    }
    generate(cpu, &sh, GK_Q8_0, cl2, ci2);
    assert_memory_equal(cl, cl2, sizeof cl);
    assert_memory_equal(ci, ci2, sizeof ci);
    float lo = ci[0], hi = ci[0];
    for (int i = 0; i < IMG; i++) {
        assert_true(isfinite(ci[i]));
        lo = fminf(lo, ci[i]), hi = fmaxf(hi, ci[i]);
    }
    assert_true(hi > lo);
    gk_backend_close(ref);
    gk_backend_close(cpu);
}

/* Guidance at scale 1 is eps_u + (eps_c − eps_u) = eps_c: the same step as no guidance at all
 * (the conditional prompt alone, a batch of 1), up to the rounding of that sum. */
static void guidance_scale_one_is_no_guidance(void **s) {
    sd_shape on = {PX, PX, 1, true, 1.0f, 42}, off = {PX, PX, 1, false, 1.0f, 42};
    static float a[LAT], b[LAT], ia[IMG], ib[IMG];
    gk_backend *ref = open_be("ref");
    generate(ref, &on, GK_F32, a, ia);
    generate(ref, &off, GK_F32, b, ib);
    assert_true(rel_err(b, a, LAT) < 1e-5);
    /* and a real scale moves the latent */
    sd_shape g = {PX, PX, 1, true, 7.5f, 42};
    generate(ref, &g, GK_F32, a, ia);
    assert_true(rel_err(b, a, LAT) > 1e-3);
    gk_backend_close(ref);
}

/* Re-planned for another size and back, a model keeps its weights: the same image as before. */
static void reshape_keeps_the_weights(void **s) {
    sd_shape sh = {PX, PX, 1, true, 7.5f, 42}, big = {2 * PX, 2 * PX, 1, true, 7.5f, 42};
    static float l1[LAT], i1[IMG], l2[LAT], i2[IMG];
    gk_backend *cpu = open_be("cpu");
    generate(cpu, &sh, GK_Q4_0, l1, i1);
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset("sd-tiny"), &big, GK_Q4_0, &err);
    if (!m || sd_load(m, cpu, 42, 2, &err) || sd_reshape(m, &sh, &err) || sd_start(m, &err) || sd_encode(m, &err) ||
        sd_denoise_step(m, 0, &err) || sd_read_latent(m, l2, &err) || sd_decode(m, &err) || sd_read_image(m, i2, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(i1, i2, sizeof i1);
    sd_free(m);
    gk_backend_close(cpu);
}

/* export → load gives the identical image: sd-tiny q8_0 written as a GGUF file in
 * stable-diffusion.cpp's layout, recognised from its tensors, loaded (its bytes as they are) and
 * run; a file of another model is refused naming the first tensor that does not fit. */
static void export_then_load_is_identical(void **s) {
    char path[] = "/tmp/gc_sd_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gc_err err = {{0}};
    if (sd_export_gguf(sd_preset("sd-tiny"), GK_Q8_0, 42, path, &err)) fail_msg("%s", err.msg);
    gguf_file f;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    const gguf_tensor *t = gguf_find_tensor(&f, "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GK_Q8_0);
    t = gguf_find_tensor(&f, "first_stage_model.decoder.conv_in.weight");
    assert_int_equal(t->n_dims, 4);
    assert_int_equal(t->ne[0], 3);
    assert_int_equal(t->type, GK_F16);
    const sd_config *c = sd_gguf_config(&f, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->name, "sd-tiny");
    sd_shape sh = {PX, PX, 1, true, 7.5f, 42};
    static float l1[LAT], i1[IMG], l2[LAT], i2[IMG];
    gk_backend *cpu = open_be("cpu");
    generate(cpu, &sh, GK_Q8_0, l1, i1);
    sd_model *m = sd_plan(c, &sh, GK_Q8_0, &err);
    if (!m || sd_load_from(m, cpu, &f, 0, 2, &err) || sd_start(m, &err) || sd_encode(m, &err) ||
        sd_denoise_step(m, 0, &err) || sd_read_latent(m, l2, &err) || sd_decode(m, &err) || sd_read_image(m, i2, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(i1, i2, sizeof i1);
    sd_free(m);
    gguf_close(&f);
    /* an LLM's file is no Stable Diffusion model */
    llm_source src;
    llm_source_synthetic(&src, llm_preset("tiny"), 1);
    if (llm_export_gguf(&src, GK_Q8_0, path, &err)) fail_msg("%s", err.msg);
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    assert_null(sd_gguf_config(&f, &err));
    assert_string_equal(err.msg, "not a Stable Diffusion model gencost runs (cond_stage_model.transformer.text_model."
                                 "embeddings.token_embedding.weight: tensor missing)");
    gguf_close(&f);
    unlink(path);
    gk_backend_close(cpu);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(sd15_has_the_published_sizes),
        cmocka_unit_test(text_flops_by_hand),
        cmocka_unit_test(shapes_checked),
        cmocka_unit_test(schedule_and_noise),
        cmocka_unit_test(cpu_follows_ref),
        cmocka_unit_test(guidance_scale_one_is_no_guidance),
        cmocka_unit_test(reshape_keeps_the_weights),
        cmocka_unit_test(export_then_load_is_identical),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
