/* Stable Diffusion presets: the real SD 1.5 shapes (CompVis v1-inference.yaml: UNet 320
 * channels × (1, 2, 4, 4), two ResNet blocks a level, spatial transformers at the first three
 * levels with 8 heads and a 768-wide context; VAE 128 × (1, 2, 4, 4); CLIP ViT-L/14's text
 * transformer, 12 layers of 768), SDXL base 1.0's (Stability's sd_xl_base.yaml: UNet 320 ×
 * (1, 2, 4), two ResNet blocks a level, transformer depths 0, 2, 10 and 10 in the middle, heads
 * of 64, linear proj_in/proj_out, a 2048-wide context, adm_in_channels 2816; CLIP ViT-L/14 and
 * OpenCLIP ViT-bigG/14 (32 layers of 1280, 20 heads, MLP 5120); the SD 1.x VAE decoder's shapes
 * with scale factor 0.13025; 1024×1024), and sd-tiny, SD 1.x's architecture a few MB in size for
 * tests. Weights are synthetic (sd_model.c). */
#include <string.h>

#include "bench/sd/sd.h"

static const sd_config presets[] = {
    {.name = "sd-tiny", .text_vocab = 49408, .text_ctx = 77, .text_dim = 32, .text_layers = 2, .text_heads = 2,
     .unet_ch = 32, .ch_mult = {1, 2}, .n_levels = 2, .res_blocks = 1, .depth = {1, 0}, .depth_mid = 1,
     .unet_heads = 2, .groups = 8, .latent_ch = 4, .latent_scale = 0.18215f, .default_px = 512, .vae_ch = 16,
     .vae_mult = {1, 2}, .vae_levels = 2, .vae_res_blocks = 1},
    {.name = "sd1.5", .text_vocab = 49408, .text_ctx = 77, .text_dim = 768, .text_layers = 12, .text_heads = 12,
     .unet_ch = 320, .ch_mult = {1, 2, 4, 4}, .n_levels = 4, .res_blocks = 2, .depth = {1, 1, 1, 0}, .depth_mid = 1,
     .unet_heads = 8, .groups = 32, .latent_ch = 4, .latent_scale = 0.18215f, .default_px = 512, .vae_ch = 128,
     .vae_mult = {1, 2, 4, 4}, .vae_levels = 4, .vae_res_blocks = 2},
    {.name = "sdxl", .text_vocab = 49408, .text_ctx = 77, .text_dim = 768, .text_layers = 12, .text_heads = 12,
     .text2_dim = 1280, .text2_layers = 32, .text2_heads = 20, .text2_ff = 5120, .unet_ch = 320,
     .ch_mult = {1, 2, 4}, .n_levels = 3, .res_blocks = 2, .depth = {0, 2, 10}, .depth_mid = 10, .unet_heads = 0,
     .unet_head_dim = 64, .linear_proj = true, .adm_ch = 2816, .groups = 32, .latent_ch = 4,
     .latent_scale = 0.13025f, .default_px = 1024, .vae_ch = 128, .vae_mult = {1, 2, 4, 4}, .vae_levels = 4,
     .vae_res_blocks = 2},
};

static const char *const names[] = {"sd-tiny", "sd1.5", "sdxl", NULL};

const sd_config *sd_preset(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && !strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

const char *const *sd_preset_names(void) { return names; }

int sd_shape_check(const sd_config *c, const sd_shape *s, gc_err *err) {
    /* pixels → latent: the VAE's 2^(levels−1); latent → the UNet's deepest level: 2^(levels−1) */
    int f = (1 << (c->vae_levels - 1)) * (1 << (c->n_levels - 1));
    if (s->width < f || s->height < f || s->width % f || s->height % f)
        return gc_errf(err, "%s: width and height must be positive multiples of %d (got %d×%d)", c->name, f, s->width,
                       s->height);
    if (s->width > 4096 || s->height > 4096)
        return gc_errf(err, "%s: %d×%d is over the 4096×4096 this workload runs", c->name, s->width, s->height);
    if (s->steps < 1 || s->steps > 1000)
        return gc_errf(err, "%s: steps must be 1 to 1000 (got %d)", c->name, s->steps);
    if (s->batch < 0 || s->batch > SD_MAX_BATCH)
        return gc_errf(err, "%s: batch must be 1 to %d (got %d)", c->name, SD_MAX_BATCH, s->batch);
    if (!sd_sampler_name(s->sampler)) return gc_errf(err, "%s: unknown sampler %d", c->name, s->sampler);
    if (s->sampler == SD_DDIM && s->steps > 999)   /* leading spacing + steps_offset 1 would reach t = 1000 */
        return gc_errf(err, "%s: ddim takes at most 999 steps (got %d)", c->name, s->steps);
    return 0;
}
