/* Tests for the sdxl preset of the Stable Diffusion model (bench/sd): the planned architecture
 * against the published sizes of SDXL base 1.0's parts, the FLOPs of a step and of the text
 * encoders counted by hand from the architecture, the vector (ADM) conditioning against a hand
 * computation, and an SDXL-shaped tiny model (two text encoders, transformer depths 0, 1, 2,
 * linear projections, the label embedding) stepping on the cpu backend as on ref. */
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
#include "bench/sd/sd_blocks.h"
#include "bench/sd/sd_internal.h"
#include "bench/workload.h"
#include "tests/sd_test_util.h"

static sd_model *plan_cfg(const sd_config *c, int w, int h, int wtype) {
    sd_shape s = {.width = w, .height = h, .steps = 20, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    gc_err err = {{0}};
    sd_model *m = sd_plan(c, &s, wtype, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

#define UNET "model.diffusion_model."
#define BIGG "cond_stage_model.1.transformer.text_model."

/* SDXL base 1.0: UNet 2,567,463,684 parameters (label_emb included), CLIP ViT-L/14's text model
 * 123,060,480 (all 12 layers and the final norm, though SDXL conditions on layer 11), OpenCLIP
 * ViT-bigG/14's 694,659,840 — 63,242,240 token and 98,560 position embeddings, 32 layers of
 * 19,677,440, the final norm's 2,560 and text_projection's 1,638,400 — and the SD VAE's decoder
 * 49,490,199: the sizes sd_xl_base_1.0's tensors add up to. */
static void sdxl_has_the_published_sizes(void **s) {
    sd_model *m = plan_cfg(sd_preset("sdxl"), 1024, 1024, GK_Q8_0);
    assert_int_equal(params_with_prefix(m, UNET), 2567463684LL);
    assert_int_equal(params_with_prefix(m, "cond_stage_model.transformer.text_model."), 123060480);
    assert_int_equal(params_with_prefix(m, BIGG), 694659840);
    assert_int_equal(params_with_prefix(m, "first_stage_model."), 49490199);
    const sd_tensor_info *t = find(m, UNET "label_emb.0.0.weight");   /* 2816 → 1280 */
    assert_int_equal(t->ne[0], 2816);
    assert_int_equal(t->ne[1], 1280);
    assert_int_equal(t->type, GK_Q8_0);
    assert_int_equal(find(m, UNET "label_emb.0.2.weight")->ne[0], 1280);
    t = find(m, UNET "input_blocks.4.1.proj_in.weight");   /* linear, not a 1×1 conv */
    assert_int_equal(t->ne[0], 640);
    assert_int_equal(t->ne[1], 640);
    assert_int_equal(t->ne[2], 1);
    t = find(m, UNET "input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight");   /* context 2048 */
    assert_int_equal(t->ne[0], 2048);
    assert_int_equal(t->ne[1], 1280);
    find(m, UNET "middle_block.1.transformer_blocks.9.ff.net.2.weight");
    assert_int_equal(index_of(m, UNET "middle_block.1.transformer_blocks.10.ff.net.2.weight"), -1);
    assert_int_equal(index_of(m, UNET "input_blocks.1.1.norm.weight"), -1);   /* no attention at level 0 */
    assert_int_equal(index_of(m, UNET "output_blocks.8.1.norm.weight"), -1);
    find(m, UNET "output_blocks.2.2.conv.weight");   /* level 2's upsampler, after its attention */
    find(m, UNET "output_blocks.5.2.conv.weight");
    assert_int_equal(index_of(m, UNET "output_blocks.9.0.in_layers.0.weight"), -1);   /* 3 levels: 9 blocks */
    t = find(m, BIGG "text_projection");
    assert_int_equal(t->type, GK_F32);   /* as stable-diffusion.cpp keeps it */
    assert_int_equal(t->ne[0] * t->ne[1], 1280 * 1280);
    assert_int_equal(find(m, BIGG "encoder.layers.31.mlp.fc1.weight")->ne[1], 5120);
    find(m, "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.weight");   /* held */
    sd_free(m);
}

/* ---- FLOPs by hand: 2 per multiply-add of the convolutions, the linear layers and attention ---- */

static double conv_f(int k, double ci, double co, double px) { return 2 * k * k * ci * co * px; }

/* A ResNet block at px pixels: two 3×3 convolutions, a 1×1 skip when the channels change, the
 * time embedding's projection (1280 → co). */
static double res_f(double ci, double co, double px) {
    return conv_f(3, ci, co, px) + conv_f(3, co, co, px) + (ci != co ? conv_f(1, ci, co, px) : 0) + 2 * 1280 * co;
}

/* A transformer block on T tokens of C: self-attention (q, k, v, out: 4·2C²T; scores and values
 * 4CT²), cross-attention on 77 tokens of 2048 (q, out 2·2C²T; k, v 2·2·2048·C·77; 4CT·77), the
 * GEGLU feed-forward (C → 8C, 4C → C). A spatial transformer adds proj_in and proj_out, 2·2C²T. */
static double block_f(double c, double t) {
    return 4 * 2 * c * c * t + 4 * c * t * t + 2 * 2 * c * c * t + 2 * 2 * 2048 * c * 77 + 4 * c * t * 77 +
           2 * c * 8 * c * t + 2 * 4 * c * c * t;
}
static double st_f(double c, double t, int depth) { return 2 * 2 * c * c * t + depth * block_f(c, t); }

/* One image through SDXL's UNet at an s × s latent. */
static double sdxl_unet_flops(int s) {
    static const double chs[3] = {320, 640, 1280};
    static const int depth[3] = {0, 2, 10};
    double px = (double)s * s, f = 2 * 320 * 1280 + 2 * 1280 * 1280 + 2 * 2816 * 1280 + 2 * 1280 * 1280, ch = 320;
    double skips[16];
    int ns = 0;
    f += conv_f(3, 4, 320, px);
    skips[ns++] = 320;
    for (int lv = 0; lv < 3; lv++) {
        double p = px / (1 << (2 * lv));
        for (int r = 0; r < 2; r++) {
            f += res_f(ch, chs[lv], p) + (depth[lv] ? st_f(chs[lv], p, depth[lv]) : 0);
            skips[ns++] = ch = chs[lv];
        }
        if (lv != 2) f += conv_f(3, ch, ch, p / 4), skips[ns++] = ch;
    }
    f += 2 * res_f(1280, 1280, px / 16) + st_f(1280, px / 16, 10);
    for (int lv = 2; lv >= 0; lv--) {
        double p = px / (1 << (2 * lv));
        for (int r = 0; r < 3; r++) {
            f += res_f(ch + skips[--ns], chs[lv], p) + (depth[lv] ? st_f(chs[lv], p, depth[lv]) : 0);
            ch = chs[lv];
            if (lv && r == 2) f += conv_f(3, ch, ch, 4 * p);
        }
    }
    return f + conv_f(3, 320, 4, px);
}

/* A guided step at 1024² (a 128² latent, batch 2) counts 13.52 TFLOP, 6.761 per image: by the
 * hand count above, the convolutions 1.623 T, the linear layers 4.354 T (the transformers' at
 * levels 1 and 2: 10 blocks of 640 on 4,096 tokens, 70 of 1280 on 1,024, with the embeddings'
 * MLPs), attention's scores and values 0.784 T (4·640·4096² = 43 GFLOP a block at level 1).
 * The text encoders run both prompts: CLIP-L's 11 layers (SDXL takes its penultimate layer's
 * output; the 12th is held, not run), bigG's 32 and the pooled projection. The decoder is SD's:
 * its FLOPs are sd1.5's at the same size. */
static void sdxl_flops_by_hand(void **s) {
    sd_model *m = plan_cfg(sd_preset("sdxl"), 1024, 1024, GK_F16);
    double step = sd_counts_step(m).flops, hand = 2 * sdxl_unet_flops(128);
    assert_float_equal(step, hand, hand * 1e-12);
    assert_true(step > 13.5e12 && step < 13.55e12);
    double t = 77, l = 768, g = 1280;
    double layer_l = 4 * 2 * l * l * t + 2 * 2 * l * 4 * l * t + 2 * l * t * (t + 1);
    double layer_g = 4 * 2 * g * g * t + 2 * 2 * g * 5120 * t + 2 * g * t * (t + 1);
    assert_float_equal(sd_counts_text(m).flops, 2 * (11 * layer_l + 32 * layer_g + 2 * g * g), 1);
    sd_model *v1 = plan_cfg(sd_preset("sd1.5"), 1024, 1024, GK_F16);
    assert_float_equal(sd_counts_decode(m).flops, sd_counts_decode(v1).flops, 0);
    sd_free(v1);
    /* another size, non-square: the hand count scales with it */
    sd_model *w = plan_cfg(sd_preset("sdxl"), 512, 512, GK_F16);
    assert_float_equal(sd_counts_step(w).flops, 2 * sdxl_unet_flops(64), 2 * sdxl_unet_flops(64) * 1e-12);
    sd_free(w);
    /* q8_0 keeps conv kernels F16 and bigG's text_projection F32: 4.115 GB of weights */
    sd_model *q = plan_cfg(sd_preset("sdxl"), 1024, 1024, GK_Q8_0);
    assert_true(sd_weight_bytes(q) > 4.10e9 && sd_weight_bytes(q) < 4.13e9);
    sd_free(q);
    sd_free(m);
}

/* The workload's image size follows the preset: sdxl 1024 (and the height with it), others 512. */
static void sdxl_default_size(void **s) {
    const gc_workload *wl = gc_workload_find("image");
    assert_non_null(wl);
    gc_param_values v;
    gc_err err = {{0}};
    char canon[256];
    assert_int_equal(gc_params_resolve_for(wl->params, NULL, false, "sdxl", &v, &err), 0);
    assert_int_equal(gc_params_canonical(wl->params, &v, canon, sizeof canon, &err), 0);
    assert_string_equal(canon, "batch=1,guidance=1,guidance-scale=7.5,height=1024,sampler=euler,steps=20,width=1024");
    gc_param_values_free(&v);
    assert_int_equal(gc_params_resolve_for(wl->params, NULL, true, "sdxl", &v, &err), 0);   /* --quick caps it */
    assert_int_equal(gc_params_canonical(wl->params, &v, canon, sizeof canon, &err), 0);
    assert_string_equal(canon, "batch=1,guidance=1,guidance-scale=7.5,height=64,sampler=euler,steps=2,width=64");
    gc_param_values_free(&v);
    assert_int_equal(gc_params_resolve_for(wl->params, NULL, false, "sd1.5", &v, &err), 0);
    assert_int_equal(gc_params_canonical(wl->params, &v, canon, sizeof canon, &err), 0);
    assert_string_equal(canon, "batch=1,guidance=1,guidance-scale=7.5,height=512,sampler=euler,steps=20,width=512");
    gc_param_values_free(&v);
    /* and SDXL's shapes: multiples of 32 (VAE 8 × UNet 4) */
    sd_shape bad = {.width = 1000, .height = 1024, .steps = 20, .guidance = true, .guidance_scale = 7.5f, .seed = 1};
    assert_null(sd_plan(sd_preset("sdxl"), &bad, GK_F16, &err));
    assert_string_equal(err.msg, "sdxl: width and height must be positive multiples of 32 (got 1000×1024)");
}

/* ---- an SDXL-shaped tiny model ---------------------------------------------------------------- */

/* Widths multiples of 32 so q8_0 quantizes every linear layer; heads of 16 (2, 4, 8 a level). */
static const sd_config tiny_xl = {
    .name = "sdxl-tiny", .text_vocab = 49408, .text_ctx = 77, .text_dim = 32, .text_layers = 2, .text_heads = 2,
    .text2_dim = 64, .text2_layers = 2, .text2_heads = 2, .text2_ff = 256, .unet_ch = 32, .ch_mult = {1, 2, 4},
    .n_levels = 3, .res_blocks = 1, .depth = {0, 1, 2}, .depth_mid = 2, .unet_heads = 0, .unet_head_dim = 16,
    .linear_proj = true, .adm_ch = 64 + SD_ADM_VALUES * SD_ADM_EMBED, .groups = 8, .latent_ch = 4,
    .latent_scale = 0.13025f, .default_px = 1024, .vae_ch = 16, .vae_mult = {1, 2}, .vae_levels = 2,
    .vae_res_blocks = 1};

static sd_model *load_tiny(gk_backend *be, const sd_shape *sh, int wtype) {
    gc_err err = {{0}};
    sd_model *m = sd_plan(&tiny_xl, sh, wtype, &err);
    if (!m || sd_load(m, be, 42, 2, &err)) fail_msg("%s", err.msg);
    return m;
}

static float *weight(const sd_model *m, const char *name) {
    int i = index_of(m, name);
    if (i < 0) fail_msg("no tensor %s", name);
    const sd_tensor_info *t = sd_tensor_at(m, i);
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    float *w = malloc((size_t)(rows * t->ne[0]) * sizeof *w);
    assert_non_null(w);
    assert_int_equal(t->type, GK_F32);
    assert_int_equal(sd_weight_rows(m, i, 42, 0, rows, w, 1), 0);
    return w;
}

/* y{nout} = W{k, nout}·x + b, then SiLU if asked. */
static void dense(const sd_model *m, const char *pre, const float *x, int k, int nout, bool silu, float *y) {
    char a[160], b[160];
    snprintf(a, sizeof a, "%s.weight", pre);
    snprintf(b, sizeof b, "%s.bias", pre);
    float *w = weight(m, a), *bias = weight(m, b);
    for (int n = 0; n < nout; n++) {
        double acc = bias[n];
        for (int i = 0; i < k; i++) acc += (double)w[n * k + i] * x[i];
        y[n] = (float)(silu ? acc / (1 + exp(-acc)) : acc);
    }
    free(w);
    free(bias);
}

/* cos-first sinusoids of v: [cos(v·f_i)], [sin(v·f_i)], f_i = 10000^(−i / (dim/2)). */
static void sinusoid(double v, int dim, float *out) {
    for (int i = 0; i < dim / 2; i++) {
        double f = exp(-log(10000.0) * i / (dim / 2));
        out[i] = (float)cos(v * f);
        out[dim / 2 + i] = (float)sin(v * f);
    }
}

/* The vector conditioning and the embedding it adds, by hand on a 48×32 image (the order of
 * height and width shows): each prompt's vector is its pooled text, then sinusoids of original
 * height 32, width 48, crop 0, 0 and target 32, 48; the UNet's embedding is
 * silu(time_embed(t) + label_emb.0.2(silu(label_emb.0.0(vector)))). */
static void adm_embedding_by_hand(void **s) {
    enum { ADM = 64 + SD_ADM_VALUES * SD_ADM_EMBED, TE = 4 * 32 };
    sd_shape sh = {.width = 48, .height = 32, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    gk_backend *ref = open_be("ref");
    sd_model *m = load_tiny(ref, &sh, GK_F32);
    gc_err err = {{0}};
    if (sd_start(m, &err) || sd_encode(m, &err)) fail_msg("%s", err.msg);
    static float vec[2 * ADM];
    assert_int_equal(m->be->ops->download(m->be, &m->p.vector, 0, vec, sizeof vec), 0);
    const double vals[SD_ADM_VALUES] = {32, 48, 0, 0, 32, 48};
    float want[SD_ADM_EMBED];
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < SD_ADM_VALUES; k++) {
            sinusoid(vals[k], SD_ADM_EMBED, want);
            for (int i = 0; i < SD_ADM_EMBED; i++) assert_float_equal(vec[b * ADM + 64 + k * SD_ADM_EMBED + i], want[i], 2e-5);
        }
    assert_true(memcmp(vec, vec + ADM, 64 * sizeof(float)) != 0);   /* the two prompts' pooled texts differ */
    /* the embedding, both batch entries at t = 500 */
    float t[2] = {500, 500};
    assert_int_equal(m->be->ops->upload(m->be, &m->p.tsteps, 0, t, sizeof t), 0);
    m->cursor = m->part_first[SD_PART_UNET];
    m->top = 0;
    gk_tensor semb;
    if (sd_act(m, &semb, TE, 2, 1, 1, &err) || sd_unet_embedding(m, &semb, &err)) fail_msg("%s", err.msg);
    static float got[2 * TE];
    assert_int_equal(m->be->ops->download(m->be, &semb, 0, got, sizeof got), 0);
    for (int b = 0; b < 2; b++) {
        float te[32], e1[TE], emb[TE], y1[TE], y2[TE];
        sinusoid(500, 32, te);
        dense(m, UNET "time_embed.0", te, 32, TE, true, e1);
        dense(m, UNET "time_embed.2", e1, TE, TE, false, emb);
        dense(m, UNET "label_emb.0.0", vec + b * ADM, ADM, TE, true, y1);
        dense(m, UNET "label_emb.0.2", y1, TE, TE, false, y2);
        double top = 0, e = 0, sum = 0;
        for (int i = 0; i < TE; i++) {
            double x = (double)emb[i] + y2[i], h = x / (1 + exp(-x));
            top = fmax(top, fabs(h));
            e = fmax(e, fabs(h - got[b * TE + i]));
            sum += fabs(y2[i]);
        }
        if (e > 1e-5 * top) fail_msg("entry %d: embedding max err %.3g of %.3g", b, e, top);
        assert_true(sum > 0.1);   /* the label embedding is no zero that hides a missing term */
    }
    sd_free(m);
    gk_backend_close(ref);
}

/* Encode, one guided step and the decoder; the latent and the pixels into out. */
static void one_step(gk_backend *be, const sd_shape *sh, int wtype, float *latent, float *image) {
    gc_err err = {{0}};
    sd_model *m = load_tiny(be, sh, wtype);
    if (sd_start(m, &err) || sd_encode(m, &err) || sd_denoise_step(m, 0, &err) || sd_read_latent(m, latent, &err) ||
        sd_decode(m, &err) || sd_read_image(m, image, &err))
        fail_msg("%s", err.msg);
    sd_free(m);
}

enum { PX = 16, LAT = (PX / 2) * (PX / 2) * 4, IMG = PX * PX * 3 };

/* The SDXL-shaped tiny model's verified step: cpu within the format's tolerance of ref (the
 * workload's 5e-3 float, 5e-2 quantized), and the image finite and not flat. */
static void tiny_xl_cpu_follows_ref(void **s) {
    sd_shape sh = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    static float rl[LAT], ri[IMG], cl[LAT], ci[IMG];
    gk_backend *ref = open_be("ref"), *cpu = open_be("cpu");
    static const struct { int type; double tol; } formats[] = {{GK_F32, 5e-3}, {GK_Q8_0, 5e-2}};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        one_step(ref, &sh, formats[f].type, rl, ri);
        one_step(cpu, &sh, formats[f].type, cl, ci);
        double el = rel_err(rl, cl, LAT), ei = rel_err(ri, ci, IMG);
        if (el > formats[f].tol || ei > formats[f].tol)
            fail_msg("%s: latent rel err %.3g, pixels %.3g (tolerance %.3g)", gk_type_name(formats[f].type), el, ei,
                     formats[f].tol);
    }
    expect_a_picture(ci, IMG);
    gk_backend_close(ref);
    gk_backend_close(cpu);
}

/* CLIP-L's last layer is held, not run: overwriting its weights leaves the context as it was;
 * overwriting a layer that runs changes it. */
static void held_layer_does_not_reach_the_context(void **s) {
    enum { CTX = (32 + 64) * 77 * 2 };
    sd_shape sh = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    gk_backend *ref = open_be("ref");
    sd_model *m = load_tiny(ref, &sh, GK_F32);
    gc_err err = {{0}};
    static float a[CTX], b[CTX];
    if (sd_start(m, &err) || sd_encode(m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->be->ops->download(m->be, &m->p.context, 0, a, sizeof a), 0);
    /* overwrite the held layer's fc2 weights on the backend: the context stays */
    int i = index_of(m, "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.weight");
    assert_true(i >= 0);
    size_t bytes = (size_t)(sd_tensor_at(m, i)->ne[0] * sd_tensor_at(m, i)->ne[1]) * sizeof(float);
    float *junk = malloc(bytes);
    assert_non_null(junk);
    for (size_t k = 0; k < bytes / sizeof(float); k++) junk[k] = 100.0f;
    assert_int_equal(m->be->ops->upload(m->be, &m->w[i], 0, junk, bytes), 0);
    if (sd_encode(m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->be->ops->download(m->be, &m->p.context, 0, b, sizeof b), 0);
    assert_memory_equal(a, b, sizeof a);
    /* while the run layer's weights do reach it */
    i = index_of(m, "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc2.weight");
    assert_int_equal(m->be->ops->upload(m->be, &m->w[i], 0, junk, bytes), 0);
    if (sd_encode(m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->be->ops->download(m->be, &m->p.context, 0, b, sizeof b), 0);
    assert_true(memcmp(a, b, sizeof a) != 0);
    free(junk);
    sd_free(m);
    gk_backend_close(ref);
}

/* The SDXL layout through a GGUF file: the tiny model exported in q8_0 holds bigG's tensors under
 * cond_stage_model.1.transformer.text_model (text_projection F32), the label embedding and the
 * linear proj_in; loaded back (its bytes as they are), one step and the decoder are identical. */
static void tiny_xl_export_then_load_is_identical(void **s) {
    char path[] = "/tmp/gc_sdxl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gc_err err = {{0}};
    if (sd_export_gguf(&tiny_xl, GK_Q8_0, 42, path, &err)) fail_msg("%s", err.msg);
    gguf_file f;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    const gguf_tensor *t = gguf_find_tensor(&f, BIGG "text_projection");
    assert_non_null(t);
    assert_int_equal(t->type, GK_F32);
    assert_int_equal(t->n_dims, 2);
    t = gguf_find_tensor(&f, UNET "label_emb.0.0.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GK_Q8_0);
    assert_int_equal(t->ne[0], 64 + SD_ADM_VALUES * SD_ADM_EMBED);
    t = gguf_find_tensor(&f, UNET "input_blocks.3.1.proj_in.weight");   /* res_blocks 1: level 1 is block 3 */
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    sd_shape sh = {.width = PX, .height = PX, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 42};
    static float l1[LAT], i1[IMG], l2[LAT], i2[IMG];
    gk_backend *cpu = open_be("cpu");
    one_step(cpu, &sh, GK_Q8_0, l1, i1);
    sd_model *m = sd_plan(&tiny_xl, &sh, GK_Q8_0, &err);
    if (!m || sd_load_from(m, cpu, &f, 0, 2, &err) || sd_start(m, &err) || sd_encode(m, &err) ||
        sd_denoise_step(m, 0, &err) || sd_read_latent(m, l2, &err) || sd_decode(m, &err) || sd_read_image(m, i2, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(i1, i2, sizeof i1);
    sd_free(m);
    gguf_close(&f);
    unlink(path);
    gk_backend_close(cpu);
}

/* A file without gencost.sd.preset that fits no preset is told about the closest one: sd-tiny's
 * tensors with one UNet kernel misshapen name that kernel and sd-tiny, not a tensor SDXL has
 * and sd-tiny lacks. */
static void misfit_named_for_the_closest_preset(void **s) {
    char path[] = "/tmp/gc_sdxl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "wb");
    assert_non_null(fp);
    sd_model *m = plan_cfg(sd_preset("sd-tiny"), 16, 16, GK_F32);
    const char *bad = UNET "out.2.weight";
    gguf_writer w;
    gguf_w_init(&w, GGUF_DEFAULT_ALIGNMENT);
    for (int i = 0; i < sd_tensor_count(m); i++) {
        const sd_tensor_info *t = sd_tensor_at(m, i);
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        if (!strcmp(t->name, bad)) ne[3] = 8;   /* 8 output channels instead of 4 */
        int nd = ne[3] > 1 ? 4 : ne[2] > 1 ? 3 : ne[1] > 1 ? 2 : 1;
        gguf_w_tensor(&w, t->name, nd, ne, GK_F32, (uint64_t)gk_nbytes(GK_F32, ne));
    }
    gc_err err = {{0}};
    if (gguf_w_begin(&w, fp, &err)) fail_msg("%s", err.msg);
    static const char zeros[1 << 16];
    for (int i = 0; i < sd_tensor_count(m); i++) {
        const sd_tensor_info *t = sd_tensor_at(m, i);
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], !strcmp(t->name, bad) ? 8 : t->ne[3]};
        for (size_t left = gk_nbytes(GK_F32, ne); left;) {
            size_t n = left < sizeof zeros ? left : sizeof zeros;
            if (gguf_w_data(&w, zeros, n, &err)) fail_msg("%s", err.msg);
            left -= n;
        }
    }
    if (gguf_w_end(&w, &err)) fail_msg("%s", err.msg);
    gguf_w_free(&w);
    fclose(fp);
    sd_free(m);
    gguf_file f;
    if (gguf_open(path, &f, &err)) fail_msg("%s", err.msg);
    assert_null(sd_gguf_config(&f, &err));
    assert_string_equal(err.msg, "not a Stable Diffusion model gencost runs (model.diffusion_model.out.2.weight: shape "
                                 "3x3x32x8, sd-tiny needs 3x3x32x4)");
    gguf_close(&f);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(sdxl_has_the_published_sizes),
        cmocka_unit_test(sdxl_flops_by_hand),
        cmocka_unit_test(sdxl_default_size),
        cmocka_unit_test(adm_embedding_by_hand),
        cmocka_unit_test(tiny_xl_cpu_follows_ref),
        cmocka_unit_test(held_layer_does_not_reach_the_context),
        cmocka_unit_test(tiny_xl_export_then_load_is_identical),
        cmocka_unit_test(misfit_named_for_the_closest_preset),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
