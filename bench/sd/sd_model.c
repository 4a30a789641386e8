/* The Stable Diffusion model's plumbing: planning (the forward passes run on shapes alone,
 * declaring every weight and counting FLOPs and activation memory), the weights' storage types
 * and synthetic values, loading onto a backend, and the activation arena. The blocks and the
 * three networks are in sd_blocks.c, the phases in sd_run.c. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sd/sd_blocks.h"
#include "bench/sd/sd_internal.h"

#define ARENA_ALIGN 256

int sd_failed(sd_model *m, const char *what, gc_err *err) {
    return gc_errf(err, "sd %s on %s: %s failed: %s", m->c.name, m->be->name, what, gk_backend_error(m->be));
}

/* ---- weights: declared while planning, looked up while running ------------------------------ */

/* The type a weight is stored in for the model's format: linear layers in it where their rows
 * are whole blocks (else F16, as ggml-based tools fall back), conv kernels and embeddings in
 * F16 (BF16 for bf16, F32 for f32), norms, biases and SD_MATRIX_F32 F32. */
static int storage_type(int role, int wtype, int64_t ne0) {
    bool f32 = wtype == GK_F32;
    int half = wtype == GK_BF16 ? GK_BF16 : GK_F16;
    switch (role) {
    case SD_LINEAR: {
        const gk_type_info *t = gk_type_get(wtype);
        return t && ne0 % t->block == 0 ? wtype : f32 ? GK_F32 : half;
    }
    case SD_CONV:
    case SD_EMBED: return f32 ? GK_F32 : half;
    default: return GK_F32;
    }
}

/* Synthetic scale: a linear layer's std 1/sqrt(K), a conv's 1/sqrt(kw·kh·Cin) (unit variance
 * out for unit variance in); a block's output projection half that, so residual sums stay near
 * unit scale through the UNet's depth. */
static float default_gain(const char *name, int role, const int64_t ne[4]) {
    double fan = role == SD_CONV ? (double)ne[0] * ne[1] * ne[2] : (double)ne[0];
    bool out = strstr(name, "to_out") || strstr(name, "proj_out") || strstr(name, "out_layers.3") ||
               strstr(name, "ff.net.2") || strstr(name, "fc2") || strstr(name, "out_proj") || strstr(name, "conv2");
    return (float)((out ? 0.5 : 1.0) / sqrt(fan > 0 ? fan : 1));
}

gk_tensor *sd_weight(sd_model *m, const char *name, int role, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3,
                     gc_err *err) {
    if (m->planning) {
        if (m->n_t == m->cap_t) {
            int cap = m->cap_t ? 2 * m->cap_t : 256;
            sd_tensor_info *ti = realloc(m->ti, (size_t)cap * sizeof *ti);
            if (!ti) return gc_errf(err, "out of memory planning %s", m->c.name), NULL;
            m->ti = ti;
            m->cap_t = cap;
        }
        sd_tensor_info *t = &m->ti[m->n_t++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        int64_t ne[4] = {ne0, ne1, ne2, ne3};
        memcpy(t->ne, ne, sizeof ne);
        t->role = role;
        t->type = storage_type(role, m->wtype, ne0);
        t->gain = default_gain(name, role, ne);
        /* a shape-only tensor for the planned pass, from a ring: a block holds a few at once */
        gk_tensor *shape = &m->shape_ring[m->ring_i++ % SD_SHAPE_RING];
        memset(shape, 0, sizeof *shape);
        shape->type = t->type;
        memcpy(shape->ne, ne, sizeof ne);
        gk_contiguous_strides(shape->type, shape->ne, shape->nb);
        return shape;
    }
    if (m->cursor >= m->n_t || strcmp(m->ti[m->cursor].name, name))
        return gc_errf(err, "sd %s: the pass asked for %s where the plan has %s", m->c.name, name,
                       m->cursor < m->n_t ? m->ti[m->cursor].name : "no more tensors"), NULL;
    return &m->w[m->cursor++];
}

/* ---- the arena -------------------------------------------------------------------------------- */

int sd_act(sd_model *m, gk_tensor *t, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, gc_err *err) {
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    uint64_t off = (m->top + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    uint64_t bytes = (uint64_t)(ne0 * ne1 * ne2 * ne3) * sizeof(float);
    m->top = off + bytes;
    if (m->top > m->peak) m->peak = m->top;
    if (m->planning) {
        memset(t, 0, sizeof *t);
        t->type = GK_F32;
        memcpy(t->ne, ne, sizeof ne);
        gk_contiguous_strides(GK_F32, t->ne, t->nb);
        t->nbytes = bytes;
        return 0;
    }
    if (m->top > m->arena.nbytes)
        return gc_errf(err, "sd %s: activations need %llu bytes, the plan gave %llu", m->c.name,
                       (unsigned long long)m->top, (unsigned long long)m->arena.nbytes);
    if (gk_view(t, &m->arena, off, ne, NULL)) return sd_failed(m, "an activation view", err);
    return 0;
}

int sd_view(sd_model *m, gk_tensor *v, const gk_tensor *t, size_t off, const int64_t ne[4], const size_t nb[4],
            gc_err *err) {
    if (m->planning) {
        memset(v, 0, sizeof *v);
        v->type = t->type;
        memcpy(v->ne, ne, 4 * sizeof ne[0]);
        if (nb) memcpy(v->nb, nb, 4 * sizeof nb[0]);
        else gk_contiguous_strides(t->type, v->ne, v->nb);
        return 0;
    }
    /* views of an arena activation are views of the arena itself, at its offset */
    const gk_tensor *parent = t;
    size_t base = 0;
    if (t->view && t->data >= m->arena.data && (char *)t->data < (char *)m->arena.data + m->arena.nbytes) {
        parent = &m->arena;
        base = (size_t)((char *)t->data - (char *)m->arena.data);
    }
    if (gk_view(v, parent, base + off, ne, nb)) return sd_failed(m, "a view", err);
    return 0;
}

/* ---- planning ----------------------------------------------------------------------------------- */

static void shape_only(gk_tensor *t, int type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
    memset(t, 0, sizeof *t);
    t->type = type;
    t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = ne2, t->ne[3] = ne3;
    gk_contiguous_strides(type, t->ne, t->nb);
}

static void persist_shapes(sd_model *m) {
    const sd_config *c = &m->c;
    sd_persist *p = &m->p;
    int f = 1 << (c->vae_levels - 1);
    m->lw = m->s.width / f;
    m->lh = m->s.height / f;
    int kv = c->text2_dim > c->text_dim ? c->text2_dim : c->text_dim;
    shape_only(&p->ids, GK_I32, c->text_ctx, 1, 1, 1);
    shape_only(&p->kcache, GK_F32, kv, c->text_ctx, 1, 1);
    shape_only(&p->vcache, GK_F32, kv, c->text_ctx, 1, 1);
    shape_only(&p->context, GK_F32, c->text_dim + c->text2_dim, c->text_ctx, m->batch, 1);
    shape_only(&p->vector, GK_F32, c->adm_ch ? c->adm_ch : 1, m->batch, 1, 1);   /* {1, B}: unused */
    shape_only(&p->adm_vals, GK_F32, SD_ADM_VALUES, 1, 1, 1);
    shape_only(&p->latent, GK_F32, m->lw, m->lh, c->latent_ch, m->images);
    shape_only(&p->noise, GK_F32, m->lw, m->lh, c->latent_ch, m->images);
    shape_only(&p->unet_in, GK_F32, m->lw, m->lh, c->latent_ch, m->batch);
    shape_only(&p->eps, GK_F32, m->lw, m->lh, c->latent_ch, m->batch);
    shape_only(&p->tsteps, GK_F32, m->batch, 1, 1, 1);
    shape_only(&p->image, GK_F32, m->s.width, m->s.height, 3, m->images);
}

/* Runs each network on shapes, recording its tensors, FLOPs and arena need. */
static int plan_parts(sd_model *m, gc_err *err) {
    for (int part = 0; part < SD_PARTS; part++) {
        m->part_first[part] = m->n_t;
        m->flops = 0;
        m->top = m->peak = 0;
        int rc = part == SD_PART_TEXT ? sd_text_forward(m, 0, err)
                 : part == SD_PART_UNET ? sd_unet_forward(m, err)
                                        : sd_vae_forward(m, 0, err);
        if (rc) return -1;
        m->part_end[part] = m->n_t;
        /* both prompts go through the encoder (once for the batch); the UNet's batch (guidance
         * and images) is in its shapes; the decoder's counts are one image's */
        m->counts[part].flops = part == SD_PART_TEXT ? m->prompts * m->flops : m->flops;
        m->counts[part].arena_bytes = m->peak;
        for (int i = m->part_first[part]; i < m->n_t; i++) m->counts[part].weight_bytes += gk_nbytes(m->ti[i].type, m->ti[i].ne);
    }
    return 0;
}

sd_model *sd_plan(const sd_config *c, const sd_shape *s, int wtype, gc_err *err) {
    if (sd_shape_check(c, s, err)) return NULL;
    if (c->adm_ch && c->adm_ch != c->text2_dim + SD_ADM_VALUES * SD_ADM_EMBED)
        return gc_errf(err, "sd %s: adm_ch %d is not the pooled text's %d + %d × %d", c->name, c->adm_ch, c->text2_dim,
                       SD_ADM_VALUES, SD_ADM_EMBED), NULL;
    if (c->unet_heads <= 0 && c->unet_head_dim <= 0)
        return gc_errf(err, "sd %s: neither a head count nor a head width", c->name), NULL;
    if (!gk_type_get(wtype)) return gc_errf(err, "sd %s: unknown weight type %d", c->name, wtype), NULL;
    sd_model *m = calloc(1, sizeof *m);
    if (!m) return gc_errf(err, "out of memory"), NULL;
    m->c = *c;
    m->s = *s;
    m->wtype = wtype;
    m->images = s->batch > 1 ? s->batch : 1;
    m->prompts = s->guidance ? 2 : 1;
    m->batch = m->prompts * m->images;
    m->planning = true;
    m->sched = malloc((size_t)s->steps * sizeof *m->sched);
    if (!m->sched) {
        sd_free(m);
        return gc_errf(err, "out of memory"), NULL;
    }
    sd_sampler_plan(s->sampler, s->steps, m->sched, &m->x_scale);   /* the shape check took the sampler */
    persist_shapes(m);
    if (plan_parts(m, err)) {
        sd_free(m);
        return NULL;
    }
    return m;
}

const sd_config *sd_model_config(const sd_model *m) { return &m->c; }
int sd_tensor_count(const sd_model *m) { return m->n_t; }
const sd_tensor_info *sd_tensor_at(const sd_model *m, int i) { return i >= 0 && i < m->n_t ? &m->ti[i] : NULL; }
sd_counts sd_counts_text(const sd_model *m) { return m->counts[SD_PART_TEXT]; }
sd_counts sd_counts_step(const sd_model *m) { return m->counts[SD_PART_UNET]; }
sd_counts sd_counts_decode(const sd_model *m) { return m->counts[SD_PART_VAE]; }

int64_t sd_param_count(const sd_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_t; i++) n += m->ti[i].ne[0] * m->ti[i].ne[1] * m->ti[i].ne[2] * m->ti[i].ne[3];
    return n;
}

uint64_t sd_weight_bytes(const sd_model *m) {
    uint64_t n = 0;
    for (int i = 0; i < m->n_t; i++) n += gk_nbytes(m->ti[i].type, m->ti[i].ne);
    return n;
}

int sd_images(const sd_model *m) { return m->images; }
int64_t sd_latent_elems(const sd_model *m) { return (int64_t)m->lw * m->lh * m->c.latent_ch; }
int64_t sd_image_elems(const sd_model *m) { return (int64_t)m->s.width * m->s.height * 3; }

/* ---- synthetic weights ---------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {   /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t name_hash(const char *s) {   /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Row r of tensor t: a pure function of (seed, name, row). Uniform noise with the wanted std;
 * norm gains 1 ± 0.1, biases ± 0.02. */
static void synth_row(unsigned long seed, const sd_tensor_info *t, uint64_t h, int64_t r, float *out) {
    uint64_t x = mix64((uint64_t)seed ^ mix64(h ^ mix64((uint64_t)r))) | 1;
    float a = t->role == SD_VECTOR_ONE ? 0.1f : t->role == SD_VECTOR_ZERO ? 0.02f : t->gain * 1.7320508f;
    float centre = t->role == SD_VECTOR_ONE ? 1.0f : 0.0f;
    const float k = 1.0f / 2147483648.0f;
    for (int64_t i = 0; i < t->ne[0]; i += 2) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;   /* xorshift64* */
        uint64_t v = x * 0x2545f4914f6cdd1dull;
        out[i] = centre + a * ((float)(uint32_t)v * k - 1.0f);
        if (i + 1 < t->ne[0]) out[i + 1] = centre + a * ((float)(uint32_t)(v >> 32) * k - 1.0f);
    }
}

/* Rows [r0, r1) of a tensor made and converted by one thread into its part of a chunk. */
typedef struct fill_job {
    const sd_tensor_info *t;
    const gk_type_info *ty;
    unsigned long seed;
    uint64_t hash;
    int64_t r0, r1, base;        /* rows of the tensor; base: the chunk's first row */
    size_t row_bytes;
    uint8_t *chunk;
    bool failed;
} fill_job;

static void *fill_rows(void *arg) {
    fill_job *j = arg;
    float *f = malloc((size_t)j->t->ne[0] * sizeof *f);
    if (!f) {
        j->failed = true;
        return NULL;
    }
    for (int64_t r = j->r0; r < j->r1; r++) {
        synth_row(j->seed, j->t, j->hash, r, f);
        j->ty->from_f32(f, j->chunk + (size_t)(r - j->base) * j->row_bytes, j->t->ne[0]);
    }
    free(f);
    return NULL;
}

#define FILL_MAX_THREADS 16

int sd_weight_rows(const sd_model *m, int i, unsigned long seed, int64_t r0, int64_t n, void *dst, int n_threads) {
    const sd_tensor_info *t = &m->ti[i];
    size_t row_bytes = gk_type_bytes(t->type, t->ne[0]);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > FILL_MAX_THREADS) n_threads = FILL_MAX_THREADS;
    int nth = n < 64 ? 1 : n_threads, started = 0, rc = 0;
    fill_job jobs[FILL_MAX_THREADS];
    pthread_t th[FILL_MAX_THREADS];
    for (int k = 0; k < nth; k++)
        jobs[k] = (fill_job){t, gk_type_get(t->type), seed, name_hash(t->name), r0 + n * k / nth, r0 + n * (k + 1) / nth,
                             r0, row_bytes, dst, false};
    for (int k = 1; k < nth; k++, started++)
        if (pthread_create(&th[k], NULL, fill_rows, &jobs[k])) break;
    for (int k = started + 1; k < nth; k++) fill_rows(&jobs[k]);   /* threads that did not start */
    fill_rows(&jobs[0]);
    for (int k = 1; k <= started; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < nth; k++) rc |= jobs[k].failed;
    return rc ? -1 : 0;
}

int64_t sd_weight_chunk_rows(const sd_model *m, int i) {
    const sd_tensor_info *t = &m->ti[i];
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3], per = (int64_t)(SD_CHUNK_BYTES / gk_type_bytes(t->type, t->ne[0])) + 1;
    return per < rows ? per : rows;
}

/* Fills weight i on the backend a chunk at a time, each chunk uploaded whole. */
static int fill_weight(sd_model *m, int i, unsigned long seed, int n_threads, gc_err *err) {
    const sd_tensor_info *t = &m->ti[i];
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3], per = sd_weight_chunk_rows(m, i);
    size_t row_bytes = gk_type_bytes(t->type, t->ne[0]);
    uint8_t *chunk = malloc((size_t)per * row_bytes);
    if (!chunk) return gc_errf(err, "out of memory filling %s", t->name);
    int rc = 0;
    for (int64_t c0 = 0; c0 < rows && !rc; c0 += per) {
        int64_t n = rows - c0 < per ? rows - c0 : per;
        if (sd_weight_rows(m, i, seed, c0, n, chunk, n_threads)) rc = gc_errf(err, "out of memory filling %s", t->name);
        if (!rc && m->be->ops->upload(m->be, &m->w[i], (size_t)c0 * row_bytes, chunk, (size_t)n * row_bytes))
            rc = gc_errf(err, "sd %s: upload of %s: %s", m->c.name, t->name, gk_backend_error(m->be));
    }
    free(chunk);
    return rc;
}

static int alloc_tensor(sd_model *m, gk_tensor *t, int type, const int64_t ne[4], const char *what, gc_err *err) {
    memset(t, 0, sizeof *t);
    t->type = type;
    memcpy(t->ne, ne, 4 * sizeof ne[0]);
    if (m->be->ops->alloc(m->be, t))
        return gc_errf(err, "sd %s: cannot allocate %s on %s: %s", m->c.name, what, m->be->name, gk_backend_error(m->be));
    return 0;
}

/* The generation's buffers outside the arena (sd_persist), for allocating and freeing alike. */
#define SD_PERSIST 12
static int persist_tensors(sd_model *m, gk_tensor **ts) {
    sd_persist *p = &m->p;
    gk_tensor *all[SD_PERSIST] = {&p->ids, &p->kcache, &p->vcache, &p->context, &p->vector, &p->adm_vals,
                                  &p->latent, &p->noise, &p->unet_in, &p->eps, &p->tsteps, &p->image};
    memcpy(ts, all, sizeof all);
    return SD_PERSIST;
}

static int alloc_persist(sd_model *m, gc_err *err) {
    gk_tensor *ts[SD_PERSIST];
    int n = persist_tensors(m, ts);
    for (int i = 0; i < n; i++) {
        gk_tensor shape = *ts[i];
        if (alloc_tensor(m, ts[i], shape.type, shape.ne, "a generation buffer", err)) return -1;
    }
    uint64_t arena = 0;
    for (int part = 0; part < SD_PARTS; part++)
        if (m->counts[part].arena_bytes > arena) arena = m->counts[part].arena_bytes;
    return alloc_tensor(m, &m->arena, GK_F32, (const int64_t[4]){(int64_t)(arena / sizeof(float)) + 1, 1, 1, 1},
                        "the activation arena", err);
}

static void free_persist(sd_model *m) {
    gk_tensor *ts[SD_PERSIST];
    int n = persist_tensors(m, ts);
    for (int i = 0; i < n; i++)
        if (ts[i]->data) m->be->ops->free(m->be, ts[i]);
    if (m->arena.data) m->be->ops->free(m->be, &m->arena);
    memset(&m->arena, 0, sizeof m->arena);
}

int sd_reshape(sd_model *m, const sd_shape *s, gc_err *err) {
    sd_model *p = sd_plan(&m->c, s, m->wtype, err);
    if (!p) return -1;
    bool same = p->n_t == m->n_t;
    for (int i = 0; same && i < m->n_t; i++)
        same = !strcmp(p->ti[i].name, m->ti[i].name) && p->ti[i].type == m->ti[i].type;
    if (!same) {
        sd_free(p);
        return gc_errf(err, "sd %s: another shape asks for other weights", m->c.name);
    }
    if (m->be) free_persist(m);
    m->s = p->s;
    m->batch = p->batch;
    m->lw = p->lw;
    m->lh = p->lh;
    memcpy(m->counts, p->counts, sizeof m->counts);
    m->p = p->p;   /* shapes only: allocated below */
    m->images = p->images;
    m->prompts = p->prompts;
    m->x_scale = p->x_scale;
    sd_step *sched = m->sched;
    m->sched = p->sched;
    p->sched = sched;
    sd_free(p);
    return m->be ? alloc_persist(m, err) : 0;
}

int sd_load(sd_model *m, gk_backend *be, unsigned long seed, int n_threads, gc_err *err) {
    return sd_load_from(m, be, NULL, seed, n_threads, err);
}

int sd_load_from(sd_model *m, gk_backend *be, const struct gguf_file *f, unsigned long seed, int n_threads, gc_err *err) {
    m->be = be;
    m->planning = false;
    m->w = calloc((size_t)m->n_t, sizeof *m->w);
    if (!m->w) return gc_errf(err, "out of memory");
    for (int i = 0; i < m->n_t; i++) {
        if (alloc_tensor(m, &m->w[i], m->ti[i].type, m->ti[i].ne, m->ti[i].name, err) ||
            (f ? sd_upload_from_gguf(m, i, f, err) : fill_weight(m, i, seed, n_threads, err)))
            return -1;
    }
    return alloc_persist(m, err);
}

void sd_free(sd_model *m) {
    if (!m) return;
    if (m->be) {
        for (int i = 0; m->w && i < m->n_t; i++)
            if (m->w[i].data) m->be->ops->free(m->be, &m->w[i]);
        free_persist(m);
    }
    free(m->w);
    free(m->ti);
    free(m->sched);
    free(m);
}
