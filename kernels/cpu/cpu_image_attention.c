/* full_attention for the "cpu" backend, and the LLM's causal prefill over a KV cache
 * (gk_cpu_flash_prefill, from cpu_attention.c): flash-style, on the table's sgemm micro-kernel.
 * The prefill packs each KV head's tiles once for all its query heads (grouped-query), reads the
 * cache rows in their own type (F16 and Q8_0 converted while packing), and visits only the key
 * tiles a unit's queries may see, the last one masked (key > pos0 + query: -inf).
 *
 * First the keys and values are packed once, in parallel, for every (image, head, tile of BK
 * keys): keys into MR-row panels over head_dim, values into MR-row panels over the tile's keys
 * (Vp[d-panel][key·MR + i]), head_dim rounded up to MR (a head of 40 wastes 2 of 42 rows on a
 * 6-row kernel, not 24 of 64 columns). Repacking them in every work unit instead cost half the
 * time (measured: strided gathers of 160-byte head slices 1280 bytes apart).
 * A work unit is (image, head, QP panels of NR queries); units come from an atomic counter, so
 * the threads spread over heads × query blocks. A unit never holds more than BK keys' scores:
 *  - its queries, scaled, are packed once as QP NR-column panels Qp[e·NR + j] (head_dim deep);
 *  - for each key tile (in L1/L2 while the unit's QP panels use it) and each query panel: the
 *    micro-kernel gives the transposed scores S[key][query] = K·Qᵀ (BK × NR, row stride NR),
 *    exactly the layout of a B panel for the second product, so it is never repacked;
 *  - the online softmax runs down the columns (a running maximum m and sum l per query: the
 *    table's softmax_cols, whose vectors are the contiguous queries of a row), and rescales the
 *    panel's accumulator by e^(m_old − m_new);
 *  - Oᵀ[d][query] += Vᵀ·P in the micro-kernel;
 *  - at the end each query's column of Oᵀ divided by its l is written to out.
 * Scratch: the packed keys and values (as large as k and v); per thread Qp, S, Oᵀ and the m
 * and l vectors of QP panels, ~50 KiB for head_dim 40 on AVX2. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/op_checks.h"

enum {
    KEY_TILE = 96,      /* keys per tile, rounded up to a multiple of MR */
    /* prompts from which the LLM's attention takes this path: tinyllama's shape (32 heads, 4 KV
     * heads, head_dim 64, F16 cache), 2 threads, AMD Zen 3 VM, the attention op alone, the
     * per-row path vs this one alternating 3 times, best of 10 calls: T=128 1.53 -> 1.61 ms,
     * 192 4.2 -> 3.8, 256 5.4 -> 3.7, 512 19.2 -> 11.8, 1024 87 -> 41 ms. */
    FLASH_MIN_T = 192,
    QUERY_PANELS = 4,   /* NR-query panels per unit: each key tile is used QP times from cache */
};

typedef struct fa_job {
    const gk_ukernels *uk;
    const float *q, *k, *v;
    float *out;
    int64_t tq, tk, d;      /* queries, keys, values a row (n_head·head_dim) */
    int n_head, hd, hdp;    /* head_dim, and rounded up to MR */
    int n_kv;               /* KV heads: packed tiles per (image, KV head), shared by its query heads */
    int64_t pos0;           /* causal: query i sees keys 0 .. pos0 + i; -1: every key */
    const gk_tensor *kc, *vc;   /* cache rows (causal prefill), or NULL: k and v F32 rows of d */
    size_t k_row, v_row, k_head, v_head;   /* bytes of a cache row and of one KV head's slice */
    int mr, nr, bk;
    float scale;
    int64_t ktiles;           /* key tiles per (image, head) */
    size_t kslot, vslot;      /* floats of one packed key tile and value tile */
    float *kpack, *vpack;
    int64_t qblocks, units;   /* blocks of QUERY_PANELS·NR queries per (image, head) */
    _Atomic int64_t next;
    char *mem;
    size_t per_thread;      /* bytes */
} fa_job;

typedef struct fa_mem {
    float *qp, *s, *o, *m, *l;   /* QP panels of each but s */
} fa_mem;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int round_up_i(int v, int m) { return (v + m - 1) / m * m; }

/* Floats of each buffer, in fa_mem's order. */
static void fa_sizes(const fa_job *j, size_t n[5]) {
    n[0] = (size_t)QUERY_PANELS * j->hd * j->nr;
    n[1] = (size_t)j->bk * j->nr;
    n[2] = (size_t)QUERY_PANELS * j->hdp * j->nr;
    n[3] = n[4] = (size_t)QUERY_PANELS * j->nr;
}

static fa_mem fa_carve(const fa_job *j, int ith) {
    size_t n[5];
    fa_sizes(j, n);
    float *p = (float *)(j->mem + (size_t)ith * j->per_thread), **dst[5];
    fa_mem m;
    dst[0] = &m.qp, dst[1] = &m.s, dst[2] = &m.o, dst[3] = &m.m, dst[4] = &m.l;
    for (int i = 0; i < 5; i++) *dst[i] = p, p += (n[i] + 15) / 16 * 16;   /* each 64-byte aligned */
    return m;
}

enum {
    ROW_MAX = 1024, /* head_dim of a converted cache row (gk_cpu_flash_prefill_fits checks) */
    NR_MAX = 64,    /* a micro-kernel's columns (fa_run checks) */
};

/* Key or value `key` of KV head kvh of image n as hd floats: in place for F32 rows, converted
 * into tmp from a cache row of another type. */
static const float *kv_row(const fa_job *j, int value, int64_t n, int64_t kvh, int64_t key, float *tmp) {
    const gk_tensor *c = value ? j->vc : j->kc;
    if (!c) return (value ? j->v : j->k) + (n * j->tk + key) * j->d + kvh * j->hd;
    const char *src = (const char *)c->data + (size_t)key * (value ? j->v_row : j->k_row) +
                      (size_t)kvh * (value ? j->v_head : j->k_head);
    if (c->type == GK_F32) return (const float *)src;
    gk_type_get(c->type)->to_f32(src, tmp, j->hd);
    return tmp;
}

/* Keys k0 .. k0+bk of one head into MR-row panels over head_dim: kp[(i0/MR)·hd·MR + e·MR + i]. */
static void pack_keys(const fa_job *j, int64_t n, int64_t kvh, int64_t k0, int bk, float *kp) {
    const int mr = j->mr, hd = j->hd;
    float tmp[ROW_MAX];
    for (int i0 = 0; i0 < round_up_i(bk, mr); i0 += mr) {
        float *dst = kp + (size_t)(i0 / mr) * hd * mr;
        for (int i = 0; i < mr; i++) {
            if (i0 + i >= bk) {
                for (int e = 0; e < hd; e++) dst[e * mr + i] = 0;
                continue;
            }
            const float *src = kv_row(j, 0, n, kvh, k0 + i0 + i, tmp);
            for (int e = 0; e < hd; e++) dst[e * mr + i] = src[e];
        }
    }
}

/* Values k0 .. k0+bk of one head into MR-row panels over the keys: vp[(d0/MR)·bk·MR + p·MR + i] =
 * v[key p][dim d0 + i], dims past head_dim 0. */
static void pack_values(const fa_job *j, int64_t n, int64_t kvh, int64_t k0, int bk, float *vp) {
    const int mr = j->mr;
    float tmp[ROW_MAX];
    for (int p = 0; p < bk; p++) {
        const float *src = kv_row(j, 1, n, kvh, k0 + p, tmp);
        for (int d0 = 0; d0 < j->hdp; d0 += mr) {
            float *dst = vp + (size_t)(d0 / mr) * bk * mr + (size_t)p * mr;
            const int live = j->hd - d0 < mr ? j->hd - d0 : mr;
            int i = 0;
            for (; i < live; i++) dst[i] = src[d0 + i];
            for (; i < mr; i++) dst[i] = 0;
        }
    }
}

/* Rows: (image·n_kv + KV head)·ktiles + tile. */
static void pack_kv_rows(void *ctx, int64_t r0, int64_t r1) {
    const fa_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t t = r % j->ktiles, nh = r / j->ktiles, n = nh / j->n_kv, kvh = nh % j->n_kv;
        const int64_t k0 = t * j->bk;
        const int bk = (int)min64(j->bk, j->tk - k0);
        pack_keys(j, n, kvh, k0, bk, j->kpack + (size_t)r * j->kslot);
        pack_values(j, n, kvh, k0, bk, j->vpack + (size_t)r * j->vslot);
    }
}

/* Causal: scores of keys past a query's position (key k0 + p > pos0 + qa + c) to -inf. */
static void mask_tile(const fa_job *j, float *s, int64_t k0, int bk, int64_t qa) {
    const int nr = j->nr;
    for (int p = 0; p < bk; p++) {
        const int64_t first = k0 + p - j->pos0 - qa; /* the first query column that sees key k0+p */
        for (int c = 0; c < nr && c < first; c++) s[p * nr + c] = -INFINITY;
    }
}

/* Online softmax over the bk score rows of S (columns: the NR queries; the table's
 * softmax_cols), leaving e^(s − m) in S, and Oᵀ rescaled to the new maxima. */
static void softmax_tile(const fa_job *j, float *s, float *m, float *l, float *o, int bk) {
    const int nr = j->nr;
    float a[NR_MAX];
    j->uk->softmax_cols(s, bk, nr, m, l, a);
    for (int e = 0; e < j->hdp; e++)
        for (int c = 0; c < nr; c++) o[e * nr + c] *= a[c];
}

static void fa_unit(const fa_job *j, fa_mem *w, int64_t u) {
    const int mr = j->mr, nr = j->nr, hd = j->hd;
    const int64_t qb = u % j->qblocks, nh = u / j->qblocks, n = nh / j->n_head, h = nh % j->n_head;
    const int64_t q0 = qb * QUERY_PANELS * nr;
    const int np = (int)min64(QUERY_PANELS, (j->tq - q0 + nr - 1) / nr);
    const float *qh = j->q + n * j->tq * j->d + h * hd;
    const int64_t kvh = h / (j->n_head / j->n_kv);
    /* causal: the tiles up to the unit's last query's position; full attention: all */
    const int64_t ntl = j->pos0 < 0 ? j->ktiles : (j->pos0 + min64(q0 + (int64_t)np * nr, j->tq) - 1) / j->bk + 1;
    for (int qp = 0; qp < np; qp++) {
        float *dst = w->qp + (size_t)qp * hd * nr;
        const int64_t qa = q0 + (int64_t)qp * nr, bq = min64(nr, j->tq - qa);
        for (int e = 0; e < hd; e++)
            for (int c = 0; c < nr; c++) dst[e * nr + c] = c < bq ? qh[(qa + c) * j->d + e] * j->scale : 0.0f;
    }
    for (int c = 0; c < np * nr; c++) w->m[c] = -INFINITY, w->l[c] = 0;
    memset(w->o, 0, (size_t)np * j->hdp * nr * sizeof *w->o);
    const int64_t kt0 = (n * j->n_kv + kvh) * j->ktiles;
    for (int64_t t = 0; t < ntl; t++) {
        const int bk = (int)min64(j->bk, j->tk - t * j->bk), bkp = round_up_i(bk, mr);
        const float *kp = j->kpack + (size_t)(kt0 + t) * j->kslot, *vp = j->vpack + (size_t)(kt0 + t) * j->vslot;
        for (int qp = 0; qp < np; qp++) {
            const float *qpan = w->qp + (size_t)qp * hd * nr;
            float *o = w->o + (size_t)qp * j->hdp * nr;
            const int64_t qa = q0 + (int64_t)qp * nr;
            if (j->pos0 >= 0 && t * j->bk > j->pos0 + min64(qa + nr, j->tq) - 1) continue; /* no query here sees it */
            memset(w->s, 0, (size_t)bkp * nr * sizeof *w->s);
            for (int i0 = 0; i0 < bkp; i0 += mr) j->uk->sgemm(hd, kp + (size_t)(i0 / mr) * hd * mr, qpan, w->s + i0 * nr, nr);
            if (j->pos0 >= 0 && t * j->bk + bk - 1 > j->pos0 + qa) mask_tile(j, w->s, t * j->bk, bk, qa);
            softmax_tile(j, w->s, w->m + qp * nr, w->l + qp * nr, o, bk);   /* rows past bk (zero keys) not read */
            for (int d0 = 0; d0 < j->hdp; d0 += mr) j->uk->sgemm(bk, vp + (size_t)(d0 / mr) * bk * mr, w->s, o + d0 * nr, nr);
        }
    }
    float *oh = j->out + n * j->tq * j->d + h * hd;
    for (int qp = 0; qp < np; qp++) {
        const int64_t qa = q0 + (int64_t)qp * nr, bq = min64(nr, j->tq - qa);
        const float *o = w->o + (size_t)qp * j->hdp * nr, *l = w->l + qp * nr;
        for (int64_t c = 0; c < bq; c++) {
            const float inv = 1.0f / l[c];
            for (int e = 0; e < hd; e++) oh[(qa + c) * j->d + e] = o[e * nr + c] * inv;
        }
    }
}

static void fa_worker(void *ctx, int ith, int nth) {
    (void)nth;
    fa_job *j = ctx;
    fa_mem w = fa_carve(j, ith);
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units) return;
        fa_unit(j, &w, u);
    }
}

/* The micro-kernel's columns: softmax_cols takes four at a time, softmax_tile's alphas NR_MAX. */
static bool nr_fits(int nr) { return nr % 4 == 0 && nr <= NR_MAX; }

/* Tiles, scratch, the packing and the units of a job whose shape fields are set. */
static int fa_run(gk_backend *b, gk_cpu *c, fa_job *j, int64_t batch, const char *op) {
    if (!nr_fits(j->nr))
        return gk_fail(b, "%s: the %s micro-kernel's %d columns are not a multiple of 4 up to %d", op, c->uk->isa,
                       j->nr, NR_MAX);
    j->hdp = round_up_i(j->hd, j->mr);
    j->bk = round_up_i(KEY_TILE, j->mr);
    j->ktiles = (j->tk + j->bk - 1) / j->bk;
    j->kslot = (size_t)j->bk * j->hd, j->vslot = (size_t)j->hdp * j->bk;
    j->qblocks = (j->tq + (int64_t)QUERY_PANELS * j->nr - 1) / ((int64_t)QUERY_PANELS * j->nr);
    j->units = batch * j->n_head * j->qblocks;
    if (j->units == 0) return 0;
    size_t n[5], total = 0;
    fa_sizes(j, n);
    for (int i = 0; i < 5; i++) total += (n[i] + 15) / 16 * 16;
    j->per_thread = total * sizeof(float);
    const int nth = gk_pool_size(c->pool);
    const int64_t tiles = batch * j->n_kv * j->ktiles;
    j->mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j->per_thread * (size_t)nth);
    j->kpack = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)tiles * (j->kslot + j->vslot) * sizeof(float));
    if (!j->mem || !j->kpack) return gk_fail(b, "%s: out of memory", op);
    j->vpack = j->kpack + (size_t)tiles * j->kslot;
    gk_cpu_rows(c, tiles, 8.0 * (double)(j->kslot + j->vslot), pack_kv_rows, j);
    atomic_store(&j->next, 0);
    if (j->units == 1) fa_worker(j, 0, 1);
    else gk_pool_run(c->pool, fa_worker, j);
    return 0;
}

int gk_cpu_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                          const gk_tensor *v, const gk_full_attn_params *p) {
    int64_t tq, tk, batch;
    if (gk_check_full_attention(b, out, q, k, v, p, &tq, &tk, &batch)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    fa_job j = {.uk = c->uk, .q = q->data, .k = k->data, .v = v->data, .out = out->data, .tq = tq, .tk = tk,
                .d = q->ne[0], .n_head = p->n_head, .hd = p->head_dim, .n_kv = p->n_head, .pos0 = -1,
                .mr = c->uk->sgemm_mr, .nr = c->uk->sgemm_nr, .scale = p->scale};
    return fa_run(b, c, &j, batch, "full_attention");
}

bool gk_cpu_flash_prefill_fits(gk_backend *b, const gk_attn_params *p, int64_t T) {
    return T >= FLASH_MIN_T && p->head_dim <= ROW_MAX && nr_fits(gk_cpu_of(b)->uk->sgemm_nr);
}

int gk_cpu_flash_prefill(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kc,
                         const gk_tensor *vc, const gk_attn_params *p) {
    gk_cpu *c = gk_cpu_of(b);
    const int hd = p->head_dim;
    fa_job j = {.uk = c->uk, .q = q->data, .out = out->data, .tq = gk_rows(q), .tk = p->pos0 + gk_rows(q),
                .d = q->ne[0], .n_head = p->n_head, .hd = hd, .n_kv = p->n_kv_head, .pos0 = p->pos0,
                .kc = kc, .vc = vc, .k_row = gk_row_bytes(kc), .v_row = gk_row_bytes(vc),
                .k_head = gk_type_bytes(kc->type, hd), .v_head = gk_type_bytes(vc->type, hd),
                .mr = c->uk->sgemm_mr, .nr = c->uk->sgemm_nr, .scale = p->scale};
    return fa_run(b, c, &j, 1, "attention");
}
