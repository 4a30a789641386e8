/* The phases of a generation: the seeded start, the prompts through the text encoder, sampler
 * steps (Euler, Euler-ancestral or DDIM) of the UNet with classifier-free guidance, and the
 * decoder, for a batch of N images of one prompt. Token ids stand for a
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
    int64_t n = sd_latent_elems(m), all = n * m->images;
    float *x = malloc((size_t)all * sizeof *x);
    if (!x) return gc_errf(err, "out of memory");
    for (int k = 0; k < m->images; k++) sd_noise_image(x + k * n, n, m->s.seed, k);   /* image k: seed + k */
    for (int64_t i = 0; i < all; i++) x[i] *= m->x_scale;   /* k-diffusion: x_0 = noise × σ_max; DDIM × 1 */
    int rc = upload(m, &m->p.latent, x, (size_t)all * sizeof *x, "the initial latent", err);
    free(x);
    return rc;
}

/* Entries [b, b + n) of an F32 tensor t whose batch is dimension dim ({lw, lh, 4, B}: 3;
 * the context {C, 77, B}: 2; SDXL's vector {adm, B}: 1). */
static int entries(sd_model *m, gk_tensor *v, const gk_tensor *t, int dim, int b, int n, gc_err *err) {
    int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}, elems = 1;
    for (int i = 0; i < dim; i++) elems *= ne[i];
    ne[dim] = n;
    return sd_view(m, v, t, (size_t)(b * elems) * sizeof(float), ne, NULL, err);
}

/* The prompt's context in entry which · N copied to the rest of its N images' entries. */
static int repeat_prompt(sd_model *m, gk_tensor *t, int dim, int which, gc_err *err) {
    gk_tensor src, dst;
    SD_TRY(entries(m, &src, t, dim, which * m->images, 1, err));
    for (int k = 1; k < m->images; k++) {
        SD_TRY(entries(m, &dst, t, dim, which * m->images + k, 1, err));
        SD_RUN(m, gk_cont(m->be, &dst, &src), "repeating the prompt's context");
    }
    return 0;
}

int sd_encode(sd_model *m, gc_err *err) {
    int32_t ids[512];
    if (m->c.text_ctx > 512) return gc_errf(err, "sd %s: a text context of %d is over 512", m->c.name, m->c.text_ctx);
    if (m->c.adm_ch) {
        float h = (float)m->s.height, w = (float)m->s.width, v[SD_ADM_VALUES] = {h, w, 0, 0, h, w};
        if (upload(m, &m->p.adm_vals, v, sizeof v, "the size conditioning", err)) return -1;
    }
    /* each prompt once, its context repeated to every image of the batch */
    for (int which = 0; which < m->prompts; which++) {
        prompt_ids(m, which, ids);
        if (upload(m, &m->p.ids, ids, (size_t)m->c.text_ctx * sizeof ids[0], "token ids", err) ||
            sd_text_forward(m, which, err) || repeat_prompt(m, &m->p.context, 2, which, err) ||
            (m->c.adm_ch && repeat_prompt(m, &m->p.vector, 1, which, err)))
            return -1;
    }
    return 0;
}

/* eps_c ← eps_u + scale · (eps_c − eps_u), over the N images at once (conditional entries
 * [0, N), unconditional [N, 2N)). */
static int guide(sd_model *m, gc_err *err) {
    gk_tensor c, u, d;
    m->top = 0;
    SD_TRY(entries(m, &c, &m->p.eps, 3, 0, m->images, err));
    SD_TRY(entries(m, &u, &m->p.eps, 3, m->images, m->images, err));
    SD_TRY(sd_act(m, &d, m->lw, m->lh, m->c.latent_ch, m->images, err));
    SD_RUN(m, gk_scale(m->be, &d, &u, -1.0f), "guidance");
    SD_RUN(m, gk_add(m->be, &d, &c, &d), "guidance");
    SD_RUN(m, gk_scale(m->be, &d, &d, m->s.guidance_scale), "guidance");
    SD_RUN(m, gk_add(m->be, &c, &u, &d), "guidance");
    return 0;
}

/* x ← a·x + b·eps + c·noise (sd_step: the sampler's coefficients), eps the guided prediction;
 * the noise (Euler-ancestral's) made on the host, image k's from (seed + k, step). */
static int update(sd_model *m, const sd_step *k, int step, gc_err *err) {
    gk_tensor e, d;
    int64_t n = sd_latent_elems(m);
    m->top = 0;
    SD_TRY(entries(m, &e, &m->p.eps, 3, 0, m->images, err));
    SD_TRY(sd_act(m, &d, m->lw, m->lh, m->c.latent_ch, m->images, err));
    if (k->a != 1) SD_RUN(m, gk_scale(m->be, &m->p.latent, &m->p.latent, k->a), "sampler step");
    SD_RUN(m, gk_scale(m->be, &d, &e, k->b), "sampler step");
    SD_RUN(m, gk_add(m->be, &m->p.latent, &m->p.latent, &d), "sampler step");
    if (k->c == 0) return 0;
    float *x = malloc((size_t)(n * m->images) * sizeof *x);
    if (!x) return gc_errf(err, "out of memory");
    for (int i = 0; i < m->images; i++) sd_step_noise(x + i * n, n, m->s.seed, i, step);
    int rc = upload(m, &m->p.noise, x, (size_t)(n * m->images) * sizeof *x, "the step's noise", err);
    free(x);
    SD_TRY(rc);
    SD_RUN(m, gk_scale(m->be, &d, &m->p.noise, k->c), "sampler noise");
    SD_RUN(m, gk_add(m->be, &m->p.latent, &m->p.latent, &d), "sampler noise");
    return 0;
}

int sd_denoise_step(sd_model *m, int step, gc_err *err) {
    if (step < 0 || step >= m->s.steps)
        return gc_errf(err, "sd %s: step %d of %d", m->c.name, step, m->s.steps);
    const sd_step *k = &m->sched[step];
    float t[2 * SD_MAX_BATCH];
    for (int b = 0; b < m->batch; b++) t[b] = k->t;
    SD_TRY(upload(m, &m->p.tsteps, t, (size_t)m->batch * sizeof t[0], "timesteps", err));
    for (int p = 0; p < m->prompts; p++) {   /* the UNet's input: the latents scaled by c_in, once per prompt */
        gk_tensor in;
        SD_TRY(entries(m, &in, &m->p.unet_in, 3, p * m->images, m->images, err));
        SD_RUN(m, gk_scale(m->be, &in, &m->p.latent, k->c_in), "UNet input");
    }
    SD_TRY(sd_unet_forward(m, err));
    if (m->prompts == 2) SD_TRY(guide(m, err));
    return update(m, k, step, err);
}

int sd_decode(sd_model *m, gc_err *err) {
    for (int k = 0; k < m->images; k++)
        if (sd_vae_forward(m, k, err)) return -1;
    return 0;
}

static int download(sd_model *m, const gk_tensor *t, float *out, const char *what, gc_err *err) {
    if (m->be->ops->download(m->be, t, 0, out, t->nbytes))
        return gc_errf(err, "sd %s on %s: download of %s: %s", m->c.name, m->be->name, what, gk_backend_error(m->be));
    return 0;
}

int sd_read_latent(sd_model *m, float *out, gc_err *err) { return download(m, &m->p.latent, out, "the latent", err); }
int sd_read_image(sd_model *m, float *out, gc_err *err) { return download(m, &m->p.image, out, "the image", err); }
