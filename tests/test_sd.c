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

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(sd15_has_the_published_sizes),
        cmocka_unit_test(text_flops_by_hand),
        cmocka_unit_test(shapes_checked),
        cmocka_unit_test(schedule_and_noise),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
