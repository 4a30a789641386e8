/* Stable Diffusion (SD 1.x and SDXL shapes) written once against the kernel interface
 * (kernels/backend.h, the core and image op families):
 *
 *   token ids -> CLIP text encoder -> context {768, 77}
 *               (SDXL: CLIP-L and OpenCLIP bigG -> context {768 + 1280, 77} and a pooled vector,
 *                which with the image's size and crop makes the UNet's extra "vector" conditioning)
 *   noise latents {W/8, H/8, 4, n} -> steps x [ UNet(latents, t, context) with classifier-free
 *                                      guidance (a batch of 2n: conditional, unconditional) ->
 *                                      sampler step (Euler, Euler-ancestral or DDIM) ]
 *   -> VAE decoder, once per image -> RGB images {W, H, 3, n}     (n: the batch, default 1)
 *
 * The architecture is described once, by the code that runs it: every block declares its
 * tensors (stable-diffusion.cpp's / the original checkpoint's names and shapes) through a
 * builder while the forward pass is *planned* — run with no backend, shapes only, counting the
 * FLOPs of each op and the activation memory it needs — and then uses the same tensors when it
 * runs for real. So the tensor list, the FLOP count and the memory need cannot disagree with
 * the computation. Activations live in one arena per model (a stack: a block allocates its
 * output, then its temporaries, and releases the temporaries at its end; the UNet's skip
 * connections are kept on the stack in the order the up path consumes them).
 *
 * Weights: linear layers in the chosen format (f32, f16, bf16, q8_0, q4_0, q4_1, q4_k); conv
 * kernels in F16 at most (GGUF rows are kw elements, never whole quant blocks; f32 for f32);
 * norms, biases and embeddings F32 — as stable-diffusion.cpp stores a quantized checkpoint.
 * Synthetic weights are a pure function of (seed, tensor name, row), like the LLM's.
 */
#ifndef GC_SD_H
#define GC_SD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/util.h"
#include "kernels/backend.h"

typedef struct sd_config {
    char name[32];
    /* CLIP ViT-L/14 text transformer (every preset) */
    int text_vocab, text_ctx, text_dim, text_layers, text_heads;
    /* SDXL's second text encoder, OpenCLIP ViT-bigG/14 (text2_dim 0: none): width, layers, heads,
     * MLP width; its penultimate layer's output joins CLIP-L's penultimate one (no final norm) in
     * the context, its final norm and text_projection at the end token make the pooled vector */
    int text2_dim, text2_layers, text2_heads, text2_ff;
    /* UNet */
    int unet_ch;                 /* base channels (320) */
    int ch_mult[4], n_levels;    /* channel multiplier per level (1, 2, 4, 4) */
    int res_blocks;              /* ResNet blocks per level on the way down (2) */
    int depth[4];                /* transformer blocks of the spatial transformer after each ResNet
                                  * block of this level (0: none); SD 1.x 1, SDXL 0, 2, 10 */
    int depth_mid;               /* the middle block's (1; SDXL 10) */
    int unet_heads;              /* attention heads (8), or 0: channels / unet_head_dim (SDXL) */
    int unet_head_dim;           /* with unet_heads 0: the head width (64) */
    bool linear_proj;            /* proj_in/proj_out linear layers on tokens (SDXL), else 1×1 convs */
    int adm_ch;                  /* SDXL's label_emb input (2816 = pooled text 1280 + 6 size and crop
                                  * values × a 256-wide timestep embedding); 0: none */
    int groups;                  /* GroupNorm groups (32) */
    int latent_ch;               /* 4 */
    float latent_scale;          /* the VAE's latent scale factor (0.18215; SDXL 0.13025) */
    int default_px;              /* the default width and height (512; SDXL 1024) */
    /* VAE decoder */
    int vae_ch, vae_mult[4], vae_levels, vae_res_blocks;   /* 128; 1, 2, 4, 4; 4; 2 (+1 on the way up) */
} sd_config;

/* ---- presets (sd_presets.c) ----------------------------------------------------------------- */
const sd_config *sd_preset(const char *name);    /* NULL when unknown */
const char *const *sd_preset_names(void);        /* NULL-terminated: "sd-tiny" first */

/* One generation's shape: the workload's parameters. */
typedef struct sd_shape {
    int width, height;           /* pixels, multiples of 8 · 2^(levels−1) */
    int steps;
    bool guidance;               /* classifier-free guidance: the UNet runs a batch of 2 */
    float guidance_scale;
    unsigned long seed;          /* initial noise and prompt ids */
    int batch;                   /* images per generation (0 or 1: one); the UNet runs 2·batch with
                                  * guidance (conditional entries first, then unconditional), batch
                                  * without; one prompt's context repeated to every image */
    int sampler;                 /* SD_EULER (0, the default), SD_EULER_A, SD_DDIM */
} sd_shape;

enum { SD_EULER, SD_EULER_A, SD_DDIM, SD_SAMPLERS };
const char *sd_sampler_name(int sampler);        /* "euler", "euler_a", "ddim"; NULL when unknown */
int sd_sampler_from_name(const char *name);      /* -1 when unknown */

/* Width and height the model can run (positive multiples of the down/up-sampling factors), the
 * steps, the batch (1 to SD_MAX_BATCH) and the sampler. */
#define SD_MAX_BATCH 64
int sd_shape_check(const sd_config *c, const sd_shape *s, gc_err *err);

/* ---- the model (sd_model.c) ------------------------------------------------------------------ */
typedef struct sd_tensor_info {
    char name[160];              /* "model.diffusion_model.input_blocks.1.0.in_layers.2.weight" */
    int64_t ne[4];
    int type;                    /* storage type for the model's weight format */
    int role;                    /* SD_LINEAR, SD_CONV, SD_VECTOR (norm, bias), SD_EMBED, SD_MATRIX_F32 */
    float gain;                  /* synthetic: std of a weight, or the centre of a norm gain */
} sd_tensor_info;
/* SD_MATRIX_F32: a matrix kept F32 in every format (bigG's text_projection, as stable-diffusion.cpp
 * stores it), used transposed. */
enum { SD_LINEAR, SD_CONV, SD_VECTOR_ONE, SD_VECTOR_ZERO, SD_EMBED, SD_MATRIX_F32 };

/* What a planned pass counts. */
typedef struct sd_counts {
    double flops;                /* 2 per multiply-add of the convolutions, matmuls and attention */
    uint64_t arena_bytes;        /* the activation stack's high-water mark */
    uint64_t weight_bytes;       /* the weights one pass reads */
} sd_counts;

typedef struct sd_model sd_model;

/* Plans the model for one shape on no backend: the tensor list and, per component, FLOPs and
 * activation memory. wtype: the linear layers' format. NULL + err when the shape or format is
 * not one the model can run. */
sd_model *sd_plan(const sd_config *c, const sd_shape *s, int wtype, gc_err *err);
const sd_config *sd_model_config(const sd_model *m);
int sd_tensor_count(const sd_model *m);
const sd_tensor_info *sd_tensor_at(const sd_model *m, int i);
int64_t sd_param_count(const sd_model *m);
uint64_t sd_weight_bytes(const sd_model *m);
/* Per component: the text encoder (both prompts), one UNet step (with guidance), the decoder. */
sd_counts sd_counts_text(const sd_model *m);
sd_counts sd_counts_step(const sd_model *m);
sd_counts sd_counts_decode(const sd_model *m);

/* Re-plans a model for another shape, keeping its weights (the tensor list does not depend on
 * the shape); its buffers are reallocated when it is loaded. */
int sd_reshape(sd_model *m, const sd_shape *s, gc_err *err);
/* Allocates the planned model's weights (synthetic from seed, made on n_threads threads; the
 * same values for any count) and arena on backend be. */
int sd_load(sd_model *m, gk_backend *be, unsigned long seed, int n_threads, gc_err *err);
struct gguf_file;
/* The same with the weights from a GGUF file in stable-diffusion.cpp's layout (f non-NULL):
 * every planned tensor must be there with its shape (sd_gguf_check). */
int sd_load_from(sd_model *m, gk_backend *be, const struct gguf_file *f, unsigned long seed, int n_threads,
                 gc_err *err);
void sd_free(sd_model *m);

/* The phases. encode: both prompts' context (the negative one empty: ids of BOS/EOS padding);
 * denoise_step: one Euler step i of the schedule on the current latent; decode: the latent to
 * pixels. start() sets the initial noise latent and step 0. A generation is start, encode, all
 * steps, decode. */
int sd_start(sd_model *m, gc_err *err);
int sd_encode(sd_model *m, gc_err *err);
int sd_denoise_step(sd_model *m, int step, gc_err *err);
int sd_decode(sd_model *m, gc_err *err);
/* Downloads the current latents {W/8 · H/8 · 4} or the decoded images {W · H · 3}, RGB in [−1, 1]
 * planar (as the decoder outputs it), of every image of the batch one after the other, into out
 * (sd_images × sd_latent_elems / sd_image_elems: the elements of one image). decode runs the
 * decoder once per image of the batch. */
int sd_images(const sd_model *m);
int64_t sd_latent_elems(const sd_model *m);
int64_t sd_image_elems(const sd_model *m);
int sd_read_latent(sd_model *m, float *out, gc_err *err);
int sd_read_image(sd_model *m, float *out, gc_err *err);

/* ---- GGUF files (sd_gguf.c) ------------------------------------------------------------------- */
/* Writes preset c's synthetic weights (seed) as a GGUF v3 file in stable-diffusion.cpp's layout:
 * one file holding model.diffusion_model.*, first_stage_model.* and cond_stage_model.* tensors
 * with the original checkpoint's names, linear layers in wtype, kernels and vectors as the model
 * stores them; general.name and gencost.sd.preset name the preset. */
int sd_export_gguf(const sd_config *c, int wtype, unsigned long seed, const char *path, gc_err *err);
/* The preset a file's tensors match (its gencost.sd.preset, else the first preset whose every
 * tensor the file holds with the same shape); NULL + err naming the first tensor that does not fit. */
const sd_config *sd_gguf_config(const struct gguf_file *f, gc_err *err);

/* ---- the sampler (sd_sampler.c) -------------------------------------------------------------- */
/* Stable Diffusion's scaled-linear β schedule (β from 0.00085 to 0.012 over 1,000 training
 * steps) sampled at `steps` timesteps, highest noise first: sigma[i] for i < steps, sigma[steps]
 * = 0, and the model timestep t[i] of each. */
void sd_schedule(int steps, float *sigmas, float *timesteps);
/* Standard normal noise from the seed (a counter-based PRNG: Box–Muller on splitmix64). */
void sd_noise(float *out, int64_t n, unsigned long seed);
/* Image `image` of a batch: its initial noise is sd_noise(seed + image) (as stable-diffusion.cpp
 * seeds image b of a batch with seed + b), so image 0 of any batch is the batch-1 image; the
 * fresh noise Euler-ancestral adds after step `step` is the same generator started at another
 * state of (seed + image, step) (sd_sampler.c). */
void sd_noise_image(float *out, int64_t n, unsigned long seed, int image);
void sd_step_noise(float *out, int64_t n, unsigned long seed, int image, int step);

/* One sampler step: the UNet sees c_in·x at timestep t, and the latent becomes
 * x' = a·x + b·eps + c·noise (eps the guided noise prediction, noise fresh standard normal).
 * Each sampler's own function gives these from its schedule's values (sd_sampler.c). */
typedef struct sd_step {
    float t, c_in, a, b, c;
} sd_step;
sd_step sd_euler_step(float sigma, float next);
sd_step sd_euler_a_step(float sigma, float next);
sd_step sd_ddim_step(double abar, double abar_prev);
/* The sampler's `steps` steps (out[steps]) and the initial noise's scale (σ_max for the
 * k-diffusion samplers, 1 for DDIM); -1 when the sampler is unknown. */
int sd_sampler_plan(int sampler, int steps, sd_step *out, float *x_scale);
/* DDIM's timesteps as diffusers' DDIMScheduler spaces them for SD ("leading", steps_offset 1):
 * t[i] = (steps − 1 − i)·⌊1000 / steps⌋ + 1, and ᾱ at each (abar[i]) and at the step's target
 * t[i] − ⌊1000 / steps⌋ (abar[i + 1]; below 0: ᾱ_0, SD's set_alpha_to_one false). steps ≤ 999. */
void sd_schedule_ddim(int steps, double *abar, float *timesteps);

#endif
