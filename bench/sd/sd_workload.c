/* image: Stable Diffusion image generation, measured as people quote it.
 *
 * Phases: text-encode (both prompts through CLIP's text transformer, once for the batch; unit
 * prompt), unet-step (one sampler step of the UNet with classifier-free guidance over the whole
 * batch — 2·N entries — : the it/s people quote, per step of the batch, not per image; unit it),
 * vae-decode (every image's latent to pixels; unit decode, N of them a run), and generation
 * (start, text encode, every step, decode: N images a run; unit image — what reports price, so
 * a batch's time is divided among its images).
 *
 * Verification (once per case, before any timing): the same weights on the scalar ref backend
 * and on the case's backend, both at a reduced size (the latent 8 × 8 for sd1.5), run the text
 * encoder, one guided step and the decoder; the latent after the step and the decoded pixels
 * must agree within the format's tolerance. A failed check is recorded, never timed.
 *
 * Quality (once per case, quantized or bf16 weights): the whole generation at the case's size
 * beside the same one with F32 weights (F16 above 1B parameters) on the same backend: PSNR of
 * the decoded images and the relative error of the final latents. --save-images DIR writes the
 * images a generation made as PNGs, each with its index in the batch (noise-like with synthetic
 * weights). Beside the unet-step and
 * vae-decode figures, the FMA peak probed in the same run, and their fraction of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "base/png.h"
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "bench/metrics.h"
#include "bench/probes/fma.h"
#include "bench/sd/sd.h"
#include "bench/workload.h"

enum { PH_TEXT, PH_STEP, PH_DECODE, PH_GENERATION };
static const char *const phase_names[] = {"text-encode", "unet-step", "vae-decode", "generation", NULL};
static const char *const presets[] = {"sd1.5", "sd-tiny", "sdxl", NULL};
/* "native": with --model, the linear layers as the file stores them. */
static const char *const quants[] = {"q8_0", "q4_0", "f16", "bf16", "f32", "q4_1", "q4_k", "native", NULL};
static const char *const backends[] = {"cpu", "ref",
#ifdef GC_HAVE_CUDA
                                       "cuda",
#endif
                                       NULL};

typedef struct sd_case {
    sd_model *m;
    gk_backend *be;
    gguf_file file;           /* --model: the weights' file, open (mapped) for the case */
    bool have_file;
    sd_shape shape;
    int wtype, threads;
    unsigned long seed;
    bool verified;
    gc_verify ver;
    int step;                 /* the next unet-step run's step (cycles through the schedule) */
    const char *save_dir;     /* --save-images, NULL: none */
    bool have_quality, skip_quality;   /* skip: its reference does not fit in memory beside the case */
    double psnr_db, latent_err;
    int quality_ref_type;
    double fma_gflops;        /* the FMA peak probed with the case's threads (CPU backends), 0 unknown */
} sd_case;

static double tolerance(gk_backend *be, int wtype) {
    /* quantized linear layers meet 8-bit activations (as ggml's do) and the error compounds over
     * the UNet's depth; float weights differ from the reference only in summation order */
    const gk_type_info *t = gk_type_get(wtype);
    double tol = t && !t->quantized ? 5e-3 : 5e-2;
    /* unless the backend's GEMMs round the activations to a half type (gk_matmul_act_type:
     * cuda's for f16 and bf16 weights): its host emulation (test_cuda_image_emul) puts the
     * verification step 4.2e-3 (f16, sd-tiny) and 6.7e-3 (bf16, sd1.5) off ref */
    const int act = gk_matmul_act_type(be, wtype, 1024);
    if (act == GK_BF16) tol = fmax(tol, 2e-2);
    else if (act == GK_F16) tol = fmax(tol, 1e-2);
    return tol;
}

/* The case's architecture: its preset, or what its --model file holds (the file left open in *f). */
static const sd_config *config_of(const gc_case *c, gguf_file *f, bool *have_file, gc_err *err) {
    const char *model = gc_case_param(c, "model");
    *have_file = false;
    if (!model) {
        const sd_config *cfg = sd_preset(c->preset);
        if (!cfg) gc_errf(err, "image: unknown preset %s", c->preset);
        return cfg;
    }
    if (gguf_open(model, f, err)) return NULL;
    *have_file = true;
    const sd_config *cfg = sd_gguf_config(f, err);
    if (!cfg) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        gc_errf(err, "%s: %s", model, why);
    }
    return cfg;
}

static int shape_of(const gc_case *c, const sd_config *cfg, sd_shape *s, gc_err *err) {
    memset(s, 0, sizeof *s);
    s->width = (int)gc_case_param_int(c, "width", cfg->default_px);
    s->height = (int)gc_case_param_int(c, "height", s->width);
    s->steps = (int)gc_case_param_int(c, "steps", 20);
    s->guidance = gc_case_param_int(c, "guidance", 1) != 0;
    const char *scale = gc_case_param(c, "guidance-scale");
    s->guidance_scale = scale ? strtof(scale, NULL) : 7.5f;
    s->seed = c->opt->seed;
    s->batch = (int)gc_case_param_int(c, "batch", 1);
    const char *sampler = gc_case_param(c, "sampler");
    s->sampler = sampler ? sd_sampler_from_name(sampler) : SD_EULER;
    if (s->sampler < 0) return gc_errf(err, "image: unknown sampler %s", sampler);
    return sd_shape_check(cfg, s, err);
}

/* "native": the linear layers' format as the file stores them (its first attention projection). */
static int native_type(const gguf_file *f, const sd_config *c) {
    char name[160];
    snprintf(name, sizeof name, "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight");
    const gguf_tensor *t = gguf_find_tensor(f, name);
    (void)c;
    return t && gk_type_get(t->type) ? t->type : GK_F16;
}

static int parse_quant(const gc_case *c, int *wtype, gc_err *err) {
    if (!strcmp(c->quant, "native") && !gc_case_param(c, "model"))
        return gc_errf(err, "image: quant native needs --model (a file's own types)");
    /* native (a file's own types): its linear layers' type is read from the file when it loads */
    *wtype = !strcmp(c->quant, "native") ? GK_Q8_0 : gk_type_from_name(c->quant);
    if (*wtype < 0 || !gk_type_get(*wtype)) return gc_errf(err, "image: unknown weight format %s", c->quant);
    return 0;
}

/* The verification shape: the smallest latent the model's down and up sampling allow, at least
 * 8 × 8; one step with the case's guidance, sampler and batch — of a 1-step schedule, or for
 * Euler-ancestral and DDIM the first of 3 (Euler-ancestral's one step to σ = 0 adds no noise;
 * from σ_max to the middle, 14.6 to 1.62, it adds σ_up 1.61). */
static sd_shape verify_shape(const sd_config *c, const sd_shape *s) {
    int f = (1 << (c->vae_levels - 1)) * (1 << (c->n_levels - 1)), px = f;
    while (px / (1 << (c->vae_levels - 1)) < 8) px += f;
    sd_shape v = *s;
    v.width = v.height = px;
    v.steps = s->sampler == SD_EULER ? 1 : 3;
    return v;
}

/* Runs the whole small generation on m, keeping the latent after the step and the pixels. */
static int small_run(sd_model *m, float *latent, float *image, gc_err *err) {
    if (sd_start(m, err) || sd_encode(m, err) || sd_denoise_step(m, 0, err) || sd_read_latent(m, latent, err) ||
        sd_decode(m, err) || sd_read_image(m, image, err))
        return -1;
    return 0;
}

/* max |a − ref| ÷ max |ref|: scale-free, as the llm workload compares logits. */
static double rel_err(const float *ref, const float *a, int64_t n) {
    double e = 0, top = 0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - ref[i]));
        top = fmax(top, fabs((double)ref[i]));
    }
    return top > 0 ? e / top : e;
}

static int verify_case(sd_case *s, gc_err *err) {
    gc_verify *v = &s->ver;
    if (!strcmp(s->be->name, "ref")) {
        v->ok = true;
        snprintf(v->detail, sizeof v->detail, "the ref backend is the reference (scalar F32 oracle)");
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_rel_err", 0);
        return 0;
    }
    const sd_config *c = sd_model_config(s->m);
    sd_shape vs = verify_shape(c, &s->shape);
    char why[256];
    gk_backend_opts ro = {.n_threads = 1};
    gk_backend *rbe = gk_backend_open("ref", &ro, why, sizeof why);
    if (!rbe) return gc_errf(err, "image: cannot open the ref backend to verify: %s", why);
    sd_model *ref = sd_plan(c, &vs, s->wtype, err);
    /* the weights made on the case's threads (the same values for any count); ref runs on one */
    int rc = ref && !sd_load_from(ref, rbe, s->have_file ? &s->file : NULL, s->seed, s->threads, err) ? 0 : -1;
    rc = rc ? rc : sd_reshape(s->m, &vs, err);
    int64_t nl = rc ? 0 : sd_latent_elems(ref) * sd_images(ref), ni = rc ? 0 : sd_image_elems(ref) * sd_images(ref);
    float *buf = rc ? NULL : malloc((size_t)(2 * (nl + ni)) * sizeof *buf);
    if (!rc && !buf) rc = gc_errf(err, "image: out of memory for verification");
    if (!rc) rc = small_run(ref, buf, buf + nl, err) || small_run(s->m, buf + nl + ni, buf + 2 * nl + ni, err) ? -1 : 0;
    if (!rc) {
        double el = rel_err(buf, buf + nl + ni, nl), ei = rel_err(buf + nl, buf + 2 * nl + ni, ni), tol = tolerance(s->be, s->wtype);
        v->ok = el <= tol && ei <= tol;
        snprintf(v->detail, sizeof v->detail,
                 "%d×%d%s, one guided %s step and the decoder vs the ref backend: latent max rel err %.3g, pixels %.3g "
                 "(tolerance %.3g)", vs.width, vs.height, vs.batch > 1 ? " (the batch)" : "", sd_sampler_name(vs.sampler),
                 el, ei, tol);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_rel_err", fmax(el, ei));
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "latent_rel_err", el);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "pixel_rel_err", ei);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "tolerance", tol);
    }
    free(buf);
    sd_free(ref);
    gk_backend_close(rbe);
    if (!rc) rc = sd_reshape(s->m, &s->shape, err);   /* back to the case's own shape */
    return rc;
}

/* The quality reference's format: F32, F16 above 1B parameters. */
static int quality_ref_type(const sd_model *m) { return sd_param_count(m) > 1000000000LL ? GK_F16 : GK_F32; }

/* The weights, the largest activation arena of a planned model and the batch's own buffers (its
 * images, and per image its latent, the step's noise, the UNet's input and output twice). */
static uint64_t model_bytes(const sd_model *m) {
    sd_counts t = sd_counts_text(m), u = sd_counts_step(m), d = sd_counts_decode(m);
    uint64_t arena = t.arena_bytes > u.arena_bytes ? t.arena_bytes : u.arena_bytes;
    uint64_t batch = (uint64_t)sd_images(m) * (uint64_t)(sd_image_elems(m) + 6 * sd_latent_elems(m)) * sizeof(float);
    return sd_weight_bytes(m) + (arena > d.arena_bytes ? arena : d.arena_bytes) + batch;
}

/* The host memory a case needs at its peaks: its model where the backend's memory is the host's,
 * beside the verification's ref copy (the same weights at the verification shape, always on the
 * host) in need->verify, and beside the quality reference (F32, or F16 above 1B parameters, at
 * the case's shape on the case's backend; 0 when the format needs none) in need->quality — the
 * case's model stays loaded while either runs, one after the other. -1 + err when a plan fails. */
typedef struct mem_need {
    uint64_t verify, quality;
} mem_need;

static int host_need(const sd_model *m, const sd_shape *s, int wtype, bool host, bool is_ref, mem_need *need,
                     gc_err *err) {
    const sd_config *c = sd_model_config(m);
    uint64_t own = host ? model_bytes(m) : 0;
    need->verify = own;
    need->quality = 0;
    if (!is_ref) {
        sd_shape vs = verify_shape(c, s);
        sd_model *v = sd_plan(c, &vs, wtype, err);
        if (!v) return -1;
        need->verify += model_bytes(v);
        sd_free(v);
    }
    const gk_type_info *t = gk_type_get(wtype);
    if (host && t && (t->quantized || wtype == GK_BF16)) {
        sd_model *q = sd_plan(c, s, quality_ref_type(m), err);
        if (!q) return -1;
        need->quality = own + model_bytes(q);
        sd_free(q);
    }
    return 0;
}

static const char *case_what(char *buf, size_t n, const sd_model *m, const sd_shape *s, int wtype, const char *with) {
    snprintf(buf, n, "image: %s %d×%d (%s weights, %s)", sd_model_config(m)->name, s->width, s->height,
             gk_type_name(wtype), with);
    return buf;
}

/* Refuses a case whose model and ref copy do not fit; a quality reference that does not fit
 * beside the case's model is left out (said on stderr), the speed still measured. */
static int check_memory(sd_case *cs, gc_err *err) {
    mem_need need;
    char what[192];
    if (host_need(cs->m, &cs->shape, cs->wtype, cs->be->caps & GK_CAP_HOST_MEMORY, !strcmp(cs->be->name, "ref"),
                  &need, err) ||
        llm_check_memory(case_what(what, sizeof what, cs->m, &cs->shape, cs->wtype, "with its ref copy to verify"),
                         need.verify, err))
        return -1;
    gc_err e = {{0}};
    if (need.quality && llm_check_memory(case_what(what, sizeof what, cs->m, &cs->shape, cs->wtype,
                                                   "with its quality reference"), need.quality, &e)) {
        fprintf(stderr, "%s: no PSNR and latent error this run\n", e.msg);
        cs->skip_quality = true;
    }
    return 0;
}

/* The whole generation at the case's shape; the final latent and the pixels into the buffers. */
static int full_run(sd_model *m, int steps, float *latent, float *image, gc_err *err) {
    if (sd_start(m, err) || sd_encode(m, err)) return -1;
    for (int i = 0; i < steps; i++)
        if (sd_denoise_step(m, i, err)) return -1;
    return sd_read_latent(m, latent, err) || sd_decode(m, err) || sd_read_image(m, image, err) ? -1 : 0;
}

/* PSNR (dB) of two images in [−1, 1] (clamped), as 0..1 intensities. */
static double psnr(const float *ref, const float *x, int64_t n) {
    double se = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = (fmax(-1, fmin(1, ref[i])) + 1) / 2, b = (fmax(-1, fmin(1, x[i])) + 1) / 2;
        se += (a - b) * (a - b);
    }
    return se > 0 ? 10 * log10((double)n / se) : 99;
}

static int quality(sd_case *s, gc_err *err) {
    const gk_type_info *t = gk_type_get(s->wtype);
    if ((!t->quantized && s->wtype != GK_BF16) || s->skip_quality) return 0;   /* f32/f16 are the references */
    s->quality_ref_type = quality_ref_type(s->m);
    int64_t nl = sd_latent_elems(s->m) * sd_images(s->m), ni = sd_image_elems(s->m) * sd_images(s->m);
    float *buf = malloc((size_t)(2 * (nl + ni)) * sizeof *buf);
    if (!buf) return gc_errf(err, "image: out of memory for the quality reference");
    sd_model *ref = sd_plan(sd_model_config(s->m), &s->shape, s->quality_ref_type, err);
    int rc = ref && !sd_load_from(ref, s->be, s->have_file ? &s->file : NULL, s->seed, s->threads, err) &&
                     !full_run(ref, s->shape.steps, buf, buf + nl, err)
                 ? 0 : -1;
    sd_free(ref);   /* before the case's own run: the two need not fit together for long */
    if (!rc) rc = full_run(s->m, s->shape.steps, buf + nl + ni, buf + 2 * nl + ni, err);
    if (!rc) {
        s->psnr_db = psnr(buf + nl, buf + 2 * nl + ni, ni);
        s->latent_err = rel_err(buf, buf + nl + ni, nl);
        s->have_quality = true;
    }
    free(buf);
    return rc;
}

/* The images the last generation made, as DIR/<preset>-<quant>-<W>x<H>-<steps>steps-seed<S>.png
 * (one image: the batch and sampler defaults) or ...-seed<S>-<sampler>-<k>.png, k the image's
 * index in the batch (its noise from seed + k), otherwise. */
static void save_image(sd_case *s) {
    int nimg = sd_images(s->m);
    int64_t n = sd_image_elems(s->m), px = (int64_t)s->shape.width * s->shape.height;
    float *f = malloc((size_t)(n * nimg) * sizeof *f);
    uint8_t *rgb = malloc((size_t)n);
    gc_err err = {{0}};
    if (!f || !rgb || sd_read_image(s->m, f, &err)) {
        fprintf(stderr, "image: --save-images: %s\n", err.msg[0] ? err.msg : "out of memory");
        nimg = 0;
    }
    bool plain = nimg == 1 && s->shape.sampler == SD_EULER;
    for (int k = 0; k < nimg; k++) {
        const float *fk = f + k * n;
        for (int64_t i = 0; i < px; i++)   /* planar {W, H, 3}, rows top first, to interleaved RGB */
            for (int c = 0; c < 3; c++)
                rgb[3 * i + c] = (uint8_t)lround(255 * (fmax(-1, fmin(1, fk[c * px + i])) + 1) / 2);
        char path[1200], tail[64] = "";
        if (!plain) snprintf(tail, sizeof tail, "-%s-%d", sd_sampler_name(s->shape.sampler), k);
        snprintf(path, sizeof path, "%s/%s-%s-%dx%d-%dsteps-seed%lu%s.png", s->save_dir, sd_model_config(s->m)->name,
                 gk_type_name(s->wtype), s->shape.width, s->shape.height, s->shape.steps, s->seed, tail);
        if (gc_mkdirs(s->save_dir, &err) || gc_write_png(path, rgb, s->shape.width, s->shape.height, &err)) {
            fprintf(stderr, "image: --save-images: %s\n", err.msg);
            break;
        }
        fprintf(stderr, "image: wrote %s\n", path);
    }
    free(f);
    free(rgb);
}

static void declare_phases(const sd_case *s, gc_phase *ph, int *n) {
    static const char *const units[] = {"prompt", "it", "decode", "image"};
    sd_counts t = sd_counts_text(s->m), u = sd_counts_step(s->m), d = sd_counts_decode(s->m);
    /* prompts: the text encoder's passes; images: the decoder's passes of a generation; one
     * UNet pass a step runs the whole batch */
    int prompts = s->shape.guidance ? 2 : 1, steps = s->shape.steps, images = sd_images(s->m);
    double flops[] = {t.flops, u.flops, images * d.flops, t.flops + steps * u.flops + images * d.flops};
    double bytes[] = {(double)prompts * t.weight_bytes, (double)u.weight_bytes, (double)images * d.weight_bytes,
                      (double)prompts * t.weight_bytes + (double)steps * u.weight_bytes +
                          (double)images * d.weight_bytes};
    double work[] = {prompts, 1, images, images};
    *n = 0;
    for (int p = PH_TEXT; p <= PH_GENERATION; p++) {
        gc_phase *x = &ph[(*n)++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", phase_names[p]);
        snprintf(x->unit, sizeof x->unit, "%s", units[p]);
        x->work_per_rep = work[p];
        x->flops_per_rep = flops[p];
        x->bytes_per_rep = bytes[p];
    }
}

static const gc_op_need *needs_of(int wtype, bool sdxl, int *n) {
    static gc_op_need needs[24];
    int k = 0;
    needs[k++] = (gc_op_need){GK_OP_MATMUL, {GK_F32, wtype, GK_F32}, 3};
    needs[k++] = (gc_op_need){GK_OP_MATMUL, {GK_F32, wtype == GK_F32 ? GK_F32 : GK_F16, GK_F32}, 3};
    needs[k++] = (gc_op_need){GK_OP_EMBEDDING, {GK_F32, wtype == GK_F32 ? GK_F32 : GK_F16, GK_I32}, 3};
    needs[k++] = (gc_op_need){GK_OP_CONV2D, {GK_F32, wtype == GK_F32 ? GK_F32 : wtype == GK_BF16 ? GK_BF16 : GK_F16}, 2};
    static const int f32_ops[] = {GK_OP_GROUP_NORM, GK_OP_LAYER_NORM, GK_OP_GELU_QUICK, GK_OP_GEGLU, GK_OP_SILU,
                                  GK_OP_UPSAMPLE2X, GK_OP_CONCAT, GK_OP_ADD_CHANNEL, GK_OP_TIMESTEP_EMBED,
                                  GK_OP_FULL_ATTENTION, GK_OP_CONT, GK_OP_ADD, GK_OP_SCALE};
    for (size_t i = 0; i < sizeof f32_ops / sizeof f32_ops[0]; i++) needs[k++] = (gc_op_need){f32_ops[i], {0}, 0};
    if (sdxl) {   /* SDXL's bigG text encoder: its GELU, its F32 text_projection */
        needs[k++] = (gc_op_need){GK_OP_GELU, {0}, 0};
        needs[k++] = (gc_op_need){GK_OP_MATMUL, {GK_F32, GK_F32, GK_F32}, 3};
    }
    needs[k++] = (gc_op_need){GK_OP_KV_STORE, {GK_F32, GK_F32}, 2};
    needs[k++] = (gc_op_need){GK_OP_ATTENTION, {GK_F32, GK_F32, GK_F32, GK_F32}, 4};
    *n = k;
    return needs;
}

static void image_teardown(void *state) {
    sd_case *s = state;
    if (!s) return;
    sd_free(s->m);
    if (s->be) gk_backend_close(s->be);
    if (s->have_file) gguf_close(&s->file);
    free(s);
}

static int image_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    sd_case *s = calloc(1, sizeof *s);
    if (!s) return gc_errf(err, "image: out of memory");
    *state = s;
    s->threads = c->threads;
    s->seed = c->opt->seed;
    const sd_config *cfg = config_of(c, &s->file, &s->have_file, err);
    if (!cfg || parse_quant(c, &s->wtype, err) || shape_of(c, cfg, &s->shape, err)) return -1;
    if (s->have_file && !strcmp(c->quant, "native")) s->wtype = native_type(&s->file, cfg);
    s->m = sd_plan(cfg, &s->shape, s->wtype, err);
    if (!s->m) return -1;
    declare_phases(s, out->phases, &out->n_phases);
    char why[256];
    gk_backend_opts bo = {.n_threads = c->threads, .smt = c->opt->smt, .isa = c->isa};
    s->be = gk_backend_open(c->backend, &bo, why, sizeof why);
    if (!s->be) return gc_errf(err, "image: backend %s: %s", c->backend, why);
    gc_device_of(s->be, out->device, sizeof out->device);
    int n;
    const gc_op_need *needs = needs_of(s->wtype, cfg->text2_dim > 0, &n);
    if (gc_require_ops(s->be, "image", needs, n, err)) return GC_SETUP_UNSUPPORTED;
    if (check_memory(s, err)) return -1;
    s->save_dir = gc_case_param(c, "save-images");
    if (s->be->caps & GK_CAP_HOST_MEMORY) {   /* the CPU's FMA peak, for the fraction beside the figures */
        probe_fma_result pr;
        gc_err e;
        if (!probe_fma(c->threads, c->isa, &pr, &e)) s->fma_gflops = pr.gflops;
    }
    return sd_load_from(s->m, s->be, s->have_file ? &s->file : NULL, s->seed, c->threads, err);
}

static int image_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    sd_case *s = state;
    if (!s->verified) {
        if (verify_case(s, err)) return -1;
        if (s->ver.ok && quality(s, err)) return -1;
        s->verified = true;
    }
    *v = s->ver;
    /* the state a phase's runs assume: a context for the steps, a latent for the decoder */
    s->step = 0;
    if (phase == PH_STEP || phase == PH_DECODE)
        if (sd_start(s->m, err) || sd_encode(s->m, err)) return -1;
    return 0;
}

static int image_run(void *state, int phase, gc_err *err) {
    sd_case *s = state;
    sd_model *m = s->m;
    switch (phase) {
    case PH_TEXT: return sd_encode(m, err);
    case PH_STEP: {
        /* every step costs the same; cycling keeps the latent on the schedule's path */
        if (s->step == s->shape.steps) {
            if (sd_start(m, err)) return -1;
            s->step = 0;
        }
        return sd_denoise_step(m, s->step++, err);
    }
    case PH_DECODE: return sd_decode(m, err);
    default:
        if (sd_start(m, err) || sd_encode(m, err)) return -1;
        for (int i = 0; i < s->shape.steps; i++)
            if (sd_denoise_step(m, i, err)) return -1;
        return sd_decode(m, err);
    }
}

static void image_finish(void *state, int phase, gc_metrics *mt) {
    sd_case *s = state;
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "params", (double)sd_param_count(s->m));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "weight_bytes", (double)sd_weight_bytes(s->m));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "width", s->shape.width);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "height", s->shape.height);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "steps", s->shape.steps);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "images", sd_images(s->m));
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "peak_rss_bytes", (double)gc_peak_rss_bytes());
    if (s->have_quality) {
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "psnr_db", s->psnr_db);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "latent_rel_err", s->latent_err);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "quality_ref_bits", s->quality_ref_type == GK_F16 ? 16 : 32);
    }
    if (s->fma_gflops > 0) gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_FMA_PEAK_GFLOPS, s->fma_gflops);
    if (phase == PH_GENERATION && s->save_dir) save_image(s);
}

static void image_describe(const gc_case *c) {
    gc_err err;
    sd_shape sh;
    int wtype;
    gguf_file f;
    bool have_file;
    const sd_config *cfg = config_of(c, &f, &have_file, &err);
    if (!cfg || parse_quant(c, &wtype, &err) || shape_of(c, cfg, &sh, &err)) {
        printf("    image: %s\n", err.msg);
        if (have_file) gguf_close(&f);
        return;
    }
    if (have_file) {
        if (!strcmp(c->quant, "native")) wtype = native_type(&f, cfg);
        gguf_close(&f);
    }
    sd_model *m = sd_plan(cfg, &sh, wtype, &err);
    if (!m) {
        printf("    image: %s\n", err.msg);
        return;
    }
    sd_counts t = sd_counts_text(m), u = sd_counts_step(m), d = sd_counts_decode(m);
    uint64_t arena = t.arena_bytes > u.arena_bytes ? t.arena_bytes : u.arena_bytes;
    arena = arena > d.arena_bytes ? arena : d.arena_bytes;
    int n = sd_images(m);
    printf("    model %s: %.3f B parameters, weights %s: %.3f GB; %d×%d, %d image%s, %d %s steps, guidance %s (scale %g)\n",
           cfg->name, sd_param_count(m) / 1e9, c->quant, sd_weight_bytes(m) / 1e9, sh.width, sh.height, n,
           n == 1 ? "" : "s", sh.steps, sd_sampler_name(sh.sampler), sh.guidance ? "on" : "off", sh.guidance_scale);
    /* the need as set-up counts it, for the CPU backends (where weights take host memory) */
    bool is_ref = !strcmp(c->backend, "ref"), host = is_ref || !strcmp(c->backend, "cpu");
    mem_need need = {0, 0};
    gc_err mem = {{0}};
    host_need(m, &sh, wtype, host, is_ref, &need, &err);
    printf("    FLOPs: text encode %.3g G, one UNet step%s %.4g G, decode%s %.4g G, a generation %.4g T; activations %.3f GB\n",
           t.flops / 1e9, n > 1 ? " (the batch)" : "", u.flops / 1e9, n > 1 ? " (the batch)" : "", n * d.flops / 1e9,
           (t.flops + sh.steps * u.flops + n * d.flops) / 1e12, arena / 1e9);
    printf("    memory: model %.2f GB; host memory with the ref copy to verify %.2f GB%s", model_bytes(m) / 1e9,
           need.verify / 1e9, llm_check_memory("it", need.verify, &mem) ? " (does not fit: refused)" : "");
    if (need.quality)
        printf(", with the quality reference %.2f GB%s", need.quality / 1e9,
               llm_check_memory("it", need.quality, &mem) ? " (does not fit: no PSNR)" : "");
    printf("; %.2f GB available\n", gc_mem_available_bytes() / 1e9);
    sd_free(m);
}

static int image_check_case(const gc_case *c, gc_err *err) {
    sd_shape sh;
    int wtype;
    if (gc_case_param(c, "model")) return parse_quant(c, &wtype, err);   /* the file is checked by --model's check */
    const sd_config *cfg = sd_preset(c->preset);
    if (!cfg) return gc_errf(err, "image: unknown preset %s", c->preset);
    return parse_quant(c, &wtype, err) || shape_of(c, cfg, &sh, err) ? -1 : 0;
}

/* --model: the file is validated whole before anything runs, as a container and as a model. */
static int check_model(const char *path, gc_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return gc_errf(err, "cannot open '%s': %s", path, strerror(errno));
    fclose(fp);
    gguf_file g;
    gc_err e = {{0}};
    if (gguf_open(path, &g, &e)) return gc_errf(err, "%s", e.msg);
    const sd_config *c = sd_gguf_config(&g, &e);
    gguf_close(&g);
    return c ? 0 : gc_errf(err, "%s: %s", path, e.msg);
}

/* A preset's own image size where it is not the table's 512 (sdxl's 1024). */
static const char *preset_px(const char *preset) {
    static char buf[16];
    const sd_config *c = sd_preset(preset);
    if (!c || c->default_px == 512) return NULL;
    snprintf(buf, sizeof buf, "%d", c->default_px);
    return buf;
}

/* clang-format off */
static const gc_param params[] = {
    {.name = "width", .kind = GC_PARAM_INT, .lo = 8, .hi = 4096, .def = "512", .def_for = preset_px, .quick_max = 64,
     .metavar = "PX", .help = "image width in pixels, 1024 for sdxl unless given"},
    {.name = "height", .kind = GC_PARAM_INT, .lo = 0, .hi = 4096, .same_as = "width", .metavar = "PX",
     .help = "image height in pixels"},
    {.name = "steps", .kind = GC_PARAM_INT, .lo = 1, .hi = 1000, .def = "20", .quick_max = 2, .metavar = "N",
     .help = "denoising steps (ddim: at most 999)"},
    {.name = "sampler", .kind = GC_PARAM_STRING, .choices = "euler,euler_a,ddim", .def = "euler",
     .metavar = "NAME", .help = "Euler, Euler-ancestral (seeded noise each step) or DDIM (eta 0)"},
    {.name = "batch", .kind = GC_PARAM_INT, .lo = 1, .hi = SD_MAX_BATCH, .def = "1", .metavar = "N",
     .help = "images per generation (the UNet runs 2N with guidance); priced per image"},
    {.name = "guidance", .kind = GC_PARAM_INT, .lo = 0, .hi = 1, .def = "1", .metavar = "0|1",
     .help = "classifier-free guidance (a batch of 2 through the UNet)"},
    {.name = "guidance-scale", .kind = GC_PARAM_DOUBLE, .lo = 0, .hi = 100, .def = "7.5", .metavar = "S",
     .help = "guidance scale"},
    {.name = "save-images", .kind = GC_PARAM_STRING, .output_only = true, .metavar = "DIR",
     .help = "write the generated images as PNGs in DIR"},
    {.name = "model", .kind = GC_PARAM_STRING, .names_preset = true, .check = check_model, .metavar = "FILE",
     .help = "a Stable Diffusion GGUF file (stable-diffusion.cpp's layout) instead of the synthetic preset"},
    {.name = NULL},
};
/* clang-format on */

const gc_workload wl_image = {
    .name = "image",
    .description = "Stable Diffusion image generation: text encode, UNet steps with guidance, VAE decode and a whole "
                   "image, verified against the reference backend",
    .presets = presets,
    .quants = quants,
    .backends = backends,
    .params = params,
    .phases = phase_names,
    .setup = image_setup,
    .verify = image_verify,
    .run = image_run,
    .finish = image_finish,
    .describe = image_describe,
    .check_case = image_check_case,
    .teardown = image_teardown,
    .default_threads = "all",
    .takes_isa = true,
};
