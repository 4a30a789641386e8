/* Stable Diffusion weights as GGUF files in stable-diffusion.cpp's layout: one file, the original
 * checkpoint's tensor names (model.diffusion_model.*, first_stage_model.*, cond_stage_model.*),
 * ggml's dimension order (a conv kernel {kw, kh, Cin, Cout}). Export writes the synthetic model;
 * loading checks every tensor the planned model asks for against the file before any is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/gguf/gguf.h"
#include "bench/sd/sd_internal.h"

static int n_dims(const int64_t ne[4]) {
    int n = 4;
    while (n > 1 && ne[n - 1] == 1) n--;
    return n;
}

int sd_export_gguf(const sd_config *c, int wtype, unsigned long seed, const char *path, gc_err *err) {
    int f = (1 << (c->vae_levels - 1)) * (1 << (c->n_levels - 1));
    sd_shape sh = {.width = f, .height = f, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = seed};   /* the tensors do not depend on the shape */
    sd_model *m = sd_plan(c, &sh, wtype, err);
    if (!m) return -1;
    gguf_writer w;
    gguf_w_init(&w, GGUF_DEFAULT_ALIGNMENT);
    gguf_w_str(&w, "general.name", c->name);
    gguf_w_str(&w, "gencost.sd.preset", c->name);
    gguf_w_u32(&w, "general.quantization_version", 2);
    for (int i = 0; i < m->n_t; i++)
        gguf_w_tensor(&w, m->ti[i].name, n_dims(m->ti[i].ne), m->ti[i].ne, m->ti[i].type,
                      (uint64_t)gk_nbytes(m->ti[i].type, m->ti[i].ne));
    gc_atomic a;   /* an unguessable temporary, renamed into place; a symlink at path refused */
    FILE *fp = gc_open_atomic(path, &a, err);
    uint8_t *chunk = fp ? malloc(SD_CHUNK_BYTES + (1u << 16)) : NULL;
    int rc = fp && chunk ? 0 : -1;
    gc_err e = {{0}};
    if (fp && !chunk) gc_errf(&e, "out of memory");
    if (!rc) rc = gguf_w_begin(&w, fp, &e);
    for (int i = 0; i < m->n_t && !rc; i++) {
        const sd_tensor_info *t = &m->ti[i];
        int64_t rows = t->ne[1] * t->ne[2] * t->ne[3], per = sd_weight_chunk_rows(m, i);
        size_t rb = gk_type_bytes(t->type, t->ne[0]);
        for (int64_t r0 = 0; r0 < rows && !rc; r0 += per) {
            int64_t n = rows - r0 < per ? rows - r0 : per;
            if (sd_weight_rows(m, i, seed, r0, n, chunk, 4)) rc = gc_errf(&e, "out of memory");
            else rc = gguf_w_data(&w, chunk, (size_t)n * rb, &e);
        }
    }
    if (!rc) rc = gguf_w_end(&w, &e);
    free(chunk);
    gguf_w_free(&w);
    sd_free(m);
    if (!fp) return -1;
    if (rc) {
        gc_abort_atomic(&a);
        return gc_errf(err, "%s: %s", path, e.msg);
    }
    return gc_commit_atomic(&a, err);
}

/* Whether every tensor m plans is in f with its shape; the first one that is not, in why, and in
 * *matched (if given) how many tensors before it fit. */
static bool file_fits_n(const sd_model *m, const gguf_file *f, char *why, size_t n, int *matched) {
    for (int i = 0; i < m->n_t; i++) {
        const sd_tensor_info *t = &m->ti[i];
        const gguf_tensor *g = gguf_find_tensor(f, t->name);
        if (matched) *matched = i;
        if (!g) return snprintf(why, n, "%s: tensor missing", t->name), false;
        for (int k = 0; k < 4; k++)
            if (g->ne[k] != t->ne[k])
                return snprintf(why, n, "%s: shape %lldx%lldx%lldx%lld, %s needs %lldx%lldx%lldx%lld", t->name,
                                (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2], (long long)g->ne[3],
                                m->c.name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                                (long long)t->ne[3]),
                       false;
        if (!gk_type_get(g->type)) return snprintf(why, n, "%s: unsupported tensor type %d", t->name, g->type), false;
    }
    return true;
}

static bool file_fits(const sd_model *m, const gguf_file *f, char *why, size_t n) {
    return file_fits_n(m, f, why, n, NULL);
}

const sd_config *sd_gguf_config(const gguf_file *f, gc_err *err) {
    const char *name = NULL;
    size_t len = 0;
    gc_err e;
    char want[32] = "", why[320] = "no Stable Diffusion tensors";
    int best = -1;   /* the most tensors a preset found before its first misfit; ties: the earlier preset */
    if (!gguf_get_str(f, "gencost.sd.preset", &name, &len, &e)) snprintf(want, sizeof want, "%.*s", (int)len, name);
    for (const char *const *p = sd_preset_names(); *p; p++) {
        if (want[0] && strcmp(want, *p)) continue;
        const sd_config *c = sd_preset(*p);
        int fac = (1 << (c->vae_levels - 1)) * (1 << (c->n_levels - 1));
        sd_shape sh = {.width = fac, .height = fac, .steps = 1, .guidance = true, .guidance_scale = 7.5f, .seed = 1};
        sd_model *m = sd_plan(c, &sh, GK_F16, err);
        if (!m) return NULL;
        /* without a preset key, the misfit named is the closest preset's (an SD 1.x file with one
         * bad tensor is told about that tensor, not about SDXL's second text encoder) */
        char mine[sizeof why];
        int matched = 0;
        bool fits = file_fits_n(m, f, mine, sizeof mine, &matched);
        sd_free(m);
        if (fits) return c;
        if (matched > best) {
            best = matched;
            snprintf(why, sizeof why, "%s", mine);
        }
        if (want[0]) break;   /* it says what it is: its first misfit is the answer */
    }
    return gc_errf(err, "not a Stable Diffusion model gencost runs (%s)", why), NULL;
}

int sd_upload_from_gguf(sd_model *m, int i, const gguf_file *f, gc_err *err) {
    const sd_tensor_info *t = &m->ti[i];
    const gguf_tensor *g = gguf_find_tensor(f, t->name);
    char why[320];
    if (!g || !file_fits(&(sd_model){.c = m->c, .ti = (sd_tensor_info *)t, .n_t = 1}, f, why, sizeof why))
        return gc_errf(err, "%s", g ? why : "a planned tensor is missing from the file");
    if (g->type == t->type)   /* the file holds this format: its bytes as they are */
        return m->be->ops->upload(m->be, &m->w[i], 0, g->data, (size_t)g->nbytes)
                   ? gc_errf(err, "sd %s: upload of %s: %s", m->c.name, t->name, gk_backend_error(m->be))
                   : 0;
    /* another type: row by row through F32 */
    const gk_type_info *from = gk_type_get(g->type), *to = gk_type_get(t->type);
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t src_rb = gk_type_bytes(g->type, t->ne[0]), dst_rb = gk_type_bytes(t->type, t->ne[0]);
    if (!src_rb || !dst_rb) return gc_errf(err, "%s: rows of %lld cannot be %s", t->name, (long long)t->ne[0],
                                           gk_type_name(src_rb ? t->type : g->type));
    float *row = malloc((size_t)t->ne[0] * sizeof *row);
    uint8_t *out = malloc(dst_rb);
    int rc = row && out ? 0 : gc_errf(err, "out of memory");
    for (int64_t r = 0; r < rows && !rc; r++) {
        from->to_f32((const uint8_t *)g->data + (size_t)r * src_rb, row, t->ne[0]);
        to->from_f32(row, out, t->ne[0]);
        if (m->be->ops->upload(m->be, &m->w[i], (size_t)r * dst_rb, out, dst_rb))
            rc = gc_errf(err, "sd %s: upload of %s: %s", m->c.name, t->name, gk_backend_error(m->be));
    }
    free(row);
    free(out);
    return rc;
}
