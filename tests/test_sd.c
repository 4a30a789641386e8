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
#include "bench/workload.h"
#include "tests/sd_test_util.h"

static sd_model *plan(const char *preset, int px, int wtype) {
    sd_shape s = {.width = px, .height = px, .steps = 20, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset(preset), &s, wtype, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
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
    sd_shape bad = {.width = 500, .height = 512, .steps = 20, .guidance = true, .guidance_scale = 7.5f, .seed = 1};
    assert_null(sd_plan(sd_preset("sd1.5"), &bad, GK_F16, &err));
    assert_string_equal(err.msg, "sd1.5: width and height must be positive multiples of 64 (got 500×512)");
    sd_shape steps = {.width = 512, .height = 512, .steps = 0, .guidance = true, .guidance_scale = 7.5f, .seed = 1};
    assert_null(sd_plan(sd_preset("sd1.5"), &steps, GK_F16, &err));
    assert_non_null(strstr(err.msg, "steps must be 1 to 1000"));
    sd_shape tiny = {.width = 8, .height = 8, .steps = 1, .guidance = false, .guidance_scale = 1, .seed = 1};   /* sd-tiny: 2 × 2 */
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


/* ---- the samplers' updates on a scalar "model" whose answer is known ---- */

/* Euler with an exact denoiser: x = c + σ·e and a model whose denoised output is c (eps =
 * (x − c)/σ) walk x_i = c + σ_i·e exactly, ending at c (σ = 0). */
static void euler_by_hand(void **s) {
    sd_step k = sd_euler_step(2, 1);
    assert_float_equal(k.c_in, 1 / sqrt(5), 1e-7);
    assert_float_equal(k.a, 1, 0);
    assert_float_equal(k.b, -1, 0);
    assert_float_equal(k.c, 0, 0);
    const float sig[] = {2, 1, 0.5f, 0}, c = 0.25f, e = 0.7f;
    float x = c + sig[0] * e;
    for (int i = 0; i < 3; i++) {
        sd_step st = sd_euler_step(sig[i], sig[i + 1]);
        float eps = (x - c) / sig[i];
        x = st.a * x + st.b * eps;
        assert_float_equal(x, c + sig[i + 1] * e, 1e-6);
    }
}

/* Euler-ancestral from σ = 2 to 1 by hand: σ_up = sqrt(1·(4 − 1)/4) = √3/2, σ_down =
 * sqrt(1 − 3/4) = 1/2, so x' = x + eps·(1/2 − 2) + (√3/2)·n. With denoised c = 0.25, x = 2.25
 * (eps 1) and noise n = 0.4: x' = 2.25 − 1.5 + 0.34641 = 1.09641, i.e. x' − c = (σ_down/σ)(x − c)
 * + σ_up·n. To σ = 0 there is no noise: plain Euler to the denoised value. */
static void euler_a_by_hand(void **s) {
    sd_step k = sd_euler_a_step(2, 1);
    assert_float_equal(k.c_in, 1 / sqrt(5), 1e-7);
    assert_float_equal(k.a, 1, 0);
    assert_float_equal(k.b, -1.5, 1e-6);
    assert_float_equal(k.c, sqrt(3) / 2, 1e-6);
    float x = 2.25f, eps = (x - 0.25f) / 2;
    assert_float_equal(k.a * x + k.b * eps + k.c * 0.4f, 1.0964102, 1e-6);
    k = sd_euler_a_step(0.5f, 0);
    assert_float_equal(k.b, -0.5, 0);
    assert_float_equal(k.c, 0, 0);
    /* the variance it keeps: σ_down² + σ_up² = σ'² on any step */
    k = sd_euler_a_step(14.6146f, 7.0f);
    double down = k.b + 14.6146;
    assert_float_equal(down * down + (double)k.c * k.c, 49, 1e-4);
}

/* DDIM (eta 0) with an exact noise prediction: x_t = sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·e and a model
 * answering eps = e walk x_i = sqrt(ᾱ_i)·x0 + sqrt(1 − ᾱ_i)·e exactly at every step (DDIM's
 * update is that closed form). By hand, ᾱ 0.25 → 0.64: a = sqrt(0.64/0.25) = 1.6, b = sqrt(0.36)
 * − sqrt(0.64·0.75/0.25) = 0.6 − 1.3856406 = −0.7856406. */
static void ddim_by_hand(void **s) {
    sd_step k = sd_ddim_step(0.25, 0.64);
    assert_float_equal(k.a, 1.6, 1e-6);
    assert_float_equal(k.b, -0.7856406, 1e-6);
    assert_float_equal(k.c, 0, 0);
    assert_float_equal(k.c_in, 1, 0);
    /* diffusers' leading spacing with steps_offset 1: 20 steps are 951, 901, …, 1; the last one's
     * target is ᾱ_0 = 1 − 0.00085 (set_alpha_to_one false) */
    double abar[21];
    float ts[20];
    sd_schedule_ddim(20, abar, ts);
    assert_float_equal(ts[0], 951, 0);
    assert_float_equal(ts[1], 901, 0);
    assert_float_equal(ts[19], 1, 0);
    assert_float_equal(abar[20], 1 - 0.00085, 1e-12);
    for (int i = 1; i <= 20; i++) assert_true(abar[i] > abar[i - 1]);
    const double x0 = -0.3, e = 1.2;
    double x = sqrt(abar[0]) * x0 + sqrt(1 - abar[0]) * e;
    for (int i = 0; i < 20; i++) {
        sd_step st = sd_ddim_step(abar[i], abar[i + 1]);
        x = st.a * x + st.b * e;   /* the model: eps = e */
        assert_float_equal(x, sqrt(abar[i + 1]) * x0 + sqrt(1 - abar[i + 1]) * e, 1e-5);
    }
    /* the plans: Euler's from the discrete schedule (σ_max the start), DDIM's start unscaled */
    sd_step plan[20];
    float scale, sig[21], t[20];
    sd_schedule(20, sig, t);
    assert_int_equal(sd_sampler_plan(SD_EULER, 20, plan, &scale), 0);
    assert_float_equal(scale, sig[0], 0);
    assert_float_equal(plan[3].b, sig[4] - sig[3], 0);
    assert_float_equal(plan[3].t, t[3], 0);
    assert_int_equal(sd_sampler_plan(SD_EULER_A, 20, plan, &scale), 0);
    assert_float_equal(plan[19].c, 0, 0);
    assert_true(plan[0].c > 0);
    assert_int_equal(sd_sampler_plan(SD_DDIM, 20, plan, &scale), 0);
    assert_float_equal(scale, 1, 0);
    assert_float_equal(plan[0].t, 951, 0);
    assert_int_equal(sd_sampler_from_name("euler_a"), SD_EULER_A);
    assert_int_equal(sd_sampler_from_name("dpm++"), -1);
    gc_err err = {{0}};
    sd_shape d = {.width = 8, .height = 8, .steps = 1000, .guidance_scale = 1, .seed = 1, .sampler = SD_DDIM};
    assert_null(sd_plan(sd_preset("sd-tiny"), &d, GK_F32, &err));
    assert_string_equal(err.msg, "sd-tiny: ddim takes at most 999 steps (got 1000)");
    d.sampler = SD_EULER, d.steps = 1, d.batch = SD_MAX_BATCH + 1;
    assert_null(sd_plan(sd_preset("sd-tiny"), &d, GK_F32, &err));
    assert_string_equal(err.msg, "sd-tiny: batch must be 1 to 64 (got 65)");
}

/* A batch's noise: image k's start is sd_noise(seed + k), so image 0 is the batch-1 image's; a
 * step's fresh noise is another stream of the same generator, per image and step. */
static void batch_noise(void **s) {
    enum { N = 64 };
    float a[N], b[N], c[N];
    sd_noise(a, N, 42);
    sd_noise_image(b, N, 42, 0);
    assert_memory_equal(a, b, sizeof a);
    sd_noise(a, N, 43);
    sd_noise_image(b, N, 42, 1);
    assert_memory_equal(a, b, sizeof a);
    sd_step_noise(a, N, 42, 0, 0);
    sd_step_noise(c, N, 42, 0, 0);
    assert_memory_equal(a, c, sizeof a);
    sd_noise_image(b, N, 42, 0);
    assert_true(memcmp(a, b, sizeof a) != 0);
    sd_step_noise(c, N, 42, 0, 1);
    assert_true(memcmp(a, c, sizeof a) != 0);
    sd_step_noise(c, N, 42, 1, 0);
    assert_true(memcmp(a, c, sizeof a) != 0);
}

/* ---- generating: sd-tiny on the ref and cpu backends ---- */

/* A whole small generation; the latents after the last step and the pixels (every image of the
 * batch) into out. */
static void generate(gk_backend *be, const sd_shape *sh, int wtype, float *latent, float *image) {
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset("sd-tiny"), sh, wtype, &err);
    if (!m || sd_load(m, be, 42, 2, &err) || sd_start(m, &err) || sd_encode(m, &err)) fail_msg("%s", err.msg);
    for (int i = 0; i < sh->steps; i++)
        if (sd_denoise_step(m, i, &err)) fail_msg("%s", err.msg);
    if (sd_read_latent(m, latent, &err) || sd_decode(m, &err) || sd_read_image(m, image, &err)) fail_msg("%s", err.msg);
    sd_free(m);
}

enum { PX = 16, LAT = (PX / 2) * (PX / 2) * 4, IMG = PX * PX * 3 };

/* The cpu backend's generation follows the ref's within the format's tolerance, and repeats
 * itself exactly; pixels are finite and not all one value. */
static void cpu_follows_ref(void **s) {
    sd_shape sh = {.width = PX, .height = PX, .steps = 2, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
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
    expect_a_picture(ci, IMG);
    gk_backend_close(ref);
    gk_backend_close(cpu);
}

/* Euler-ancestral and DDIM: three steps on cpu follow ref (euler_a's first two add their seeded
 * noise, σ_up 1.61 and 0.029), and each walks its own trajectory, not Euler's. */
static void samplers_cpu_follow_ref(void **s) {
    static float rl[LAT], ri[IMG], cl[LAT], ci[IMG], el[LAT], ei[IMG];
    gk_backend *ref = open_be("ref"), *cpu = open_be("cpu");
    sd_shape e = {.width = PX, .height = PX, .steps = 3, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    generate(cpu, &e, GK_F32, el, ei);
    for (int smp = SD_EULER_A; smp <= SD_DDIM; smp++) {
        sd_shape sh = e;
        sh.sampler = smp;
        static const struct { int type; double tol; } formats[] = {{GK_F32, 1e-3}, {GK_Q8_0, 5e-2}};
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
            generate(ref, &sh, formats[f].type, rl, ri);
            generate(cpu, &sh, formats[f].type, cl, ci);
            double l = rel_err(rl, cl, LAT), p = rel_err(ri, ci, IMG);
            if (l > formats[f].tol || p > formats[f].tol)
                fail_msg("%s %s: latent rel err %.3g, pixels %.3g (tolerance %.3g)", sd_sampler_name(smp),
                         gk_type_name(formats[f].type), l, p, formats[f].tol);
            if (formats[f].type == GK_F32) assert_true(rel_err(el, cl, LAT) > 1e-2);   /* not Euler's path */
        }
    }
    gk_backend_close(ref);
    gk_backend_close(cpu);
}

/* A batch of 3 of one prompt: image 0 is the batch-1 image, latent and pixels bit for bit — every
 * op treats a batch entry on its own (a GEMM row's dot product over K is summed in the same
 * order whatever the number of rows; norms, attention and quantised activations are per entry
 * or per row), so a bigger GEMM changes no float. The other images start from other noise. */
static void batch_image_zero_is_the_single_image(void **s) {
    gk_backend *be[2] = {open_be("cpu"), open_be("ref")};
    for (int b = 0; b < 2; b++)
        for (int smp = SD_EULER; smp <= SD_EULER_A; smp++) {
            static float l1[LAT], i1[IMG], l3[3 * LAT], i3[3 * IMG];
            sd_shape one = {.width = PX, .height = PX, .steps = 2, .guidance = true, .guidance_scale = 7.5f,
                            .seed = 42, .sampler = smp},
                     three = one;
            three.batch = 3;
            generate(be[b], &one, GK_Q8_0, l1, i1);
            generate(be[b], &three, GK_Q8_0, l3, i3);
            assert_memory_equal(l1, l3, sizeof l1);
            assert_memory_equal(i1, i3, sizeof i1);
            assert_true(rel_err(l3, l3 + LAT, LAT) > 1e-2 && rel_err(l3 + LAT, l3 + 2 * LAT, LAT) > 1e-2);
        }
    gk_backend_close(be[0]);
    gk_backend_close(be[1]);
    /* the plan: a UNet step runs the whole batch (3 × the FLOPs), the text encoder its two prompts
     * once, the decoder one image a pass (sd_decode runs it per image) */
    gc_err err = {{0}};
    sd_shape one = {.width = 64, .height = 64, .steps = 2, .guidance = true, .guidance_scale = 7.5f, .seed = 42},
             three = one;
    three.batch = 3;
    sd_model *m1 = sd_plan(sd_preset("sd1.5"), &one, GK_Q8_0, &err), *m3 = sd_plan(sd_preset("sd1.5"), &three, GK_Q8_0, &err);
    assert_non_null(m1);
    assert_non_null(m3);
    assert_int_equal(sd_images(m3), 3);
    assert_float_equal(sd_counts_step(m3).flops, 3 * sd_counts_step(m1).flops, 1e-6 * sd_counts_step(m1).flops);
    assert_true(sd_counts_step(m3).arena_bytes > 2 * sd_counts_step(m1).arena_bytes);
    assert_float_equal(sd_counts_text(m3).flops, sd_counts_text(m1).flops, 0);
    assert_float_equal(sd_counts_decode(m3).flops, sd_counts_decode(m1).flops, 0);
    sd_free(m1);
    sd_free(m3);
}

/* The workload with --batch 2 --sampler euler_a on sd-tiny (cpu): both are in the case's
 * identity; a generation's work is 2 images (reports divide its time among them), a unet-step's
 * one step of the batch, the decode 2 images; verified; --save-images writes each image with its
 * index. */
static void workload_batch_units(void **s) {
    const gc_workload *w = gc_workload_find("image");
    assert_non_null(w);
    const char *given[GC_MAX_PARAMS] = {0};
    int ib = gc_param_find(w->params, "batch"), is = gc_param_find(w->params, "sampler"),
        iw = gc_param_find(w->params, "width"), ist = gc_param_find(w->params, "steps"),
        isv = gc_param_find(w->params, "save-images");
    assert_true(ib >= 0 && is >= 0 && iw >= 0 && ist >= 0 && isv >= 0);
    assert_false(w->params[ib].output_only);
    assert_false(w->params[is].output_only);
    char dir[] = "/tmp/gc_sd_batch_XXXXXX";
    assert_non_null(mkdtemp(dir));
    given[ib] = "2", given[is] = "euler_a", given[iw] = "16", given[ist] = "2", given[isv] = dir;
    gc_param_values v;
    gc_err err = {{0}};
    assert_int_equal(gc_params_resolve_for(w->params, given, false, "sd-tiny", &v, &err), 0);
    char canon[256];
    assert_int_equal(gc_params_canonical(w->params, &v, canon, sizeof canon, &err), 0);
    assert_string_equal(canon, "batch=2,guidance=1,guidance-scale=7.5,height=16,sampler=euler_a,steps=2,width=16");
    gc_options o;
    gc_options_defaults(&o);
    gc_case c = {.workload = "image", .preset = "sd-tiny", .quant = "f32", .backend = "cpu", .threads = 1,
                 .params = w->params, .values = (const char *const *)v.v, .opt = &o};
    void *state = NULL;
    static gc_setup_out out;
    if (w->setup(&c, &state, &out, &err)) fail_msg("%s", err.msg);
    assert_int_equal(out.n_phases, 4);
    const gc_phase *step = &out.phases[1], *dec = &out.phases[2], *gen = &out.phases[3];
    assert_string_equal(gen->name, "generation");
    assert_string_equal(gen->unit, "image");
    assert_float_equal(gen->work_per_rep, 2, 0);
    assert_float_equal(step->work_per_rep, 1, 0);
    assert_float_equal(dec->work_per_rep, 2, 0);
    assert_float_equal(gen->flops_per_rep, out.phases[0].flops_per_rep + 2 * step->flops_per_rep + dec->flops_per_rep,
                       1e-9 * gen->flops_per_rep);
    gc_verify ver;
    memset(&ver, 0, sizeof ver);
    if (w->verify(state, 3, &ver, &err) || w->run(state, 3, &err)) fail_msg("%s", err.msg);
    assert_true(ver.ok);
    static gc_metrics mt;
    w->finish(state, 3, &mt);
    w->teardown(state);
    gc_param_values_free(&v);
    for (int k = 0; k < 2; k++) {
        char path[256];
        snprintf(path, sizeof path, "%s/sd-tiny-f32-16x16-2steps-seed%lu-euler_a-%d.png", dir, o.seed, k);
        assert_int_equal(access(path, F_OK), 0);
        unlink(path);
    }
    rmdir(dir);
}

/* Guidance at scale 1 is eps_u + (eps_c − eps_u) = eps_c: the same step as no guidance at all
 * (the conditional prompt alone, a batch of 1), up to the rounding of that sum. */
static void guidance_scale_one_is_no_guidance(void **s) {
    sd_shape on = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 1.0f, .seed = 42}, off = {.width = PX, .height = PX, .steps = 1, .guidance = false, .guidance_scale = 1.0f, .seed = 42};
    static float a[LAT], b[LAT], ia[IMG], ib[IMG];
    gk_backend *ref = open_be("ref");
    generate(ref, &on, GK_F32, a, ia);
    generate(ref, &off, GK_F32, b, ib);
    assert_true(rel_err(b, a, LAT) < 1e-5);
    /* and a real scale moves the latent */
    sd_shape g = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    generate(ref, &g, GK_F32, a, ia);
    assert_true(rel_err(b, a, LAT) > 1e-3);
    gk_backend_close(ref);
}

/* Re-planned for another size and back, a model keeps its weights: the same image as before. */
static void reshape_keeps_the_weights(void **s) {
    sd_shape sh = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42}, big = {.width = 2 * PX, .height = 2 * PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
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
    sd_shape sh = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
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
        cmocka_unit_test(euler_by_hand),
        cmocka_unit_test(euler_a_by_hand),
        cmocka_unit_test(ddim_by_hand),
        cmocka_unit_test(batch_noise),
        cmocka_unit_test(cpu_follows_ref),
        cmocka_unit_test(samplers_cpu_follow_ref),
        cmocka_unit_test(batch_image_zero_is_the_single_image),
        cmocka_unit_test(workload_batch_units),
        cmocka_unit_test(guidance_scale_one_is_no_guidance),
        cmocka_unit_test(reshape_keeps_the_weights),
        cmocka_unit_test(export_then_load_is_identical),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
