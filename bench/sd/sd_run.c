/* The phases of a generation: the seeded start, the prompts through the text encoder, Euler
 * steps of the UNet with classifier-free guidance, and the decoder. Token ids stand for a
 * prompt (no tokenizer is needed to benchmark, as llama-bench does for text): the conditional
 * prompt is 20 seeded ids between CLIP's start and end tokens, the unconditional one empty;
 * both padded with the end token as SD 1.x's tokenizer pads. SDXL's size conditioning asks for
 * the image the case makes: original and target size its height and width, no crop. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sd/sd_blocks.h"

#define CLIP_BOS 49406
#define CLIP_EOS 49407
#define PROMPT_TOKENS 20

static void prompt_ids(const sd_model *m, int which, int32_t *ids) {
    int n = m->c.text_ctx;
    for (int i = 0; i < n; i++) ids[i] = CLIP_EOS;
    ids[0] = CLIP_BOS;
    if (which) return;   /* the unconditional prompt: "" */
    uint64_t s = (uint64_t)m->s.seed * 0x9e3779b97f4a7c15ull + 7;
    for (int i = 1; i <= PROMPT_TOKENS && i < n - 1; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        ids[i] = (int32_t)((s * 0x2545f4914f6cdd1dull >> 33) % (CLIP_BOS < m->c.text_vocab ? CLIP_BOS : m->c.text_vocab));
    }
}

int sd_prompt_eos(const sd_model *m, int which) {
    int n = m->c.text_ctx;
    return which ? 1 : PROMPT_TOKENS + 1 < n - 1 ? PROMPT_TOKENS + 1 : n - 1;
}

static int upload(sd_model *m, gk_tensor *t, const void *src, size_t bytes, const char *what, gc_err *err) {
    if (m->be->ops->upload(m->be, t, 0, src, bytes))
        return gc_errf(err, "sd %s on %s: upload of %s: %s", m->c.name, m->be->name, what, gk_backend_error(m->be));
    return 0;
}

int sd_start(sd_model *m, gc_err *err) {
    int64_t n = sd_latent_elems(m);
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return gc_errf(err, "out of memory");
    sd_noise(x, n, m->s.seed);
    for (int64_t i = 0; i < n; i++) x[i] *= m->sigmas[0];   /* k-diffusion: x_0 = noise × σ_max */
    int rc = upload(m, &m->p.latent, x, (size_t)n * sizeof *x, "the initial latent", err);
    free(x);
    return rc;
}

int sd_encode(sd_model *m, gc_err *err) {
    int32_t ids[512];
    if (m->c.text_ctx > 512) return gc_errf(err, "sd %s: a text context of %d is over 512", m->c.name, m->c.text_ctx);
    if (m->c.adm_ch) {
        float h = (float)m->s.height, w = (float)m->s.width, v[SD_ADM_VALUES] = {h, w, 0, 0, h, w};
        if (upload(m, &m->p.adm_vals, v, sizeof v, "the size conditioning", err)) return -1;
    }
    for (int which = 0; which < m->batch; which++) {
        prompt_ids(m, which, ids);
        if (upload(m, &m->p.ids, ids, (size_t)m->c.text_ctx * sizeof ids[0], "token ids", err) ||
            sd_text_forward(m, which, err))
            return -1;
    }
    return 0;
}

/* Batch entry b of a {lw, lh, 4, B} tensor. */
static int entry(sd_model *m, gk_tensor *v, const gk_tensor *t, int b, gc_err *err) {
    int64_t n = sd_latent_elems(m);
    return sd_view(m, v, t, (size_t)(b * n) * sizeof(float), (const int64_t[4]){m->lw, m->lh, m->c.latent_ch, 1},
                   NULL, err);
}

/* eps ← eps_u + scale · (eps_c − eps_u), in batch entry 0. */
static int guide(sd_model *m, gc_err *err) {
    gk_tensor c, u, d;
    m->top = 0;
    SD_TRY(entry(m, &c, &m->p.eps, 0, err));
    SD_TRY(entry(m, &u, &m->p.eps, 1, err));
    SD_TRY(sd_act(m, &d, m->lw, m->lh, m->c.latent_ch, 1, err));
    SD_RUN(m, gk_scale(m->be, &d, &u, -1.0f), "guidance");
    SD_RUN(m, gk_add(m->be, &d, &c, &d), "guidance");
    SD_RUN(m, gk_scale(m->be, &d, &d, m->s.guidance_scale), "guidance");
    SD_RUN(m, gk_add(m->be, &c, &u, &d), "guidance");
    return 0;
}

int sd_denoise_step(sd_model *m, int step, gc_err *err) {
    if (step < 0 || step >= m->s.steps)
        return gc_errf(err, "sd %s: step %d of %d", m->c.name, step, m->s.steps);
    float sigma = m->sigmas[step], next = m->sigmas[step + 1], c_in = 1.0f / sqrtf(sigma * sigma + 1);
    float t[2] = {m->timesteps[step], m->timesteps[step]};
    SD_TRY(upload(m, &m->p.tsteps, t, (size_t)m->batch * sizeof t[0], "timesteps", err));
    for (int b = 0; b < m->batch; b++) {   /* the UNet's input: the latent scaled by c_in, once per entry */
        gk_tensor in;
        SD_TRY(entry(m, &in, &m->p.unet_in, b, err));
        SD_RUN(m, gk_scale(m->be, &in, &m->p.latent, c_in), "UNet input");
    }
    SD_TRY(sd_unet_forward(m, err));
    if (m->batch == 2) SD_TRY(guide(m, err));
    /* Euler: d = (x − denoised) / σ = eps, x += d · (σ_next − σ) */
    gk_tensor e, d;
    m->top = 0;
    SD_TRY(entry(m, &e, &m->p.eps, 0, err));
    SD_TRY(sd_act(m, &d, m->lw, m->lh, m->c.latent_ch, 1, err));
    SD_RUN(m, gk_scale(m->be, &d, &e, next - sigma), "Euler step");
    SD_RUN(m, gk_add(m->be, &m->p.latent, &m->p.latent, &d), "Euler step");
    return 0;
}

int sd_decode(sd_model *m, gc_err *err) { return sd_vae_forward(m, err); }

static int download(sd_model *m, const gk_tensor *t, float *out, const char *what, gc_err *err) {
    if (m->be->ops->download(m->be, t, 0, out, t->nbytes))
        return gc_errf(err, "sd %s on %s: download of %s: %s", m->c.name, m->be->name, what, gk_backend_error(m->be));
    return 0;
}

int sd_read_latent(sd_model *m, float *out, gc_err *err) { return download(m, &m->p.latent, out, "the latent", err); }
int sd_read_image(sd_model *m, float *out, gc_err *err) { return download(m, &m->p.image, out, "the image", err); }
