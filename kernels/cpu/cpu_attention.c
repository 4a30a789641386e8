/* Causal grouped-query attention over a KV cache (F32, F16 or Q8_0 rows) for the "cpu"
 * backend. Work units are (token, head) pairs handed out from an atomic counter; each thread
 * keeps its scores and a dequantised row in its own scratch. Dots and updates go through the
 * table: F16/F32 keys as one matrix-vector product over every cached position (the table's
 * matvec, several rows at a time), F16 values as one weighted sum of rows (axpy_rows_f16, the
 * output in registers across positions); other types a dot or an axpy per position. The softmax
 * between them is the table's too (scale_max, exp_sum: eight exps a step on AVX2). With
 * head_dim 64 the per-position calls cost more than their arithmetic (prefill 512 on a 2-vCPU
 * Xeon VM: a quarter of the time), so prompts from 192 rows take flash attention on the sgemm
 * micro-kernel instead (gk_cpu_flash_prefill, cpu_image_attention.c). */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/op_checks.h"

typedef struct attn_job {
    const gk_ukernels *uk;
    const gk_attn_params *p;
    const gk_tensor *q, *k, *v;
    gk_tensor *out;
    int64_t nt;
    _Atomic int64_t next;
    float *mem;
    size_t per_thread;   /* floats */
    size_t k_row, v_row, k_head, v_head;   /* bytes of a cache row, and of one KV head's slice */
} attn_job;

/* Pointer to head kvh's slice of cache row pos (strides computed once per call: this runs for
 * every cached position of every head). */
static const char *slice(const gk_tensor *c, size_t row, size_t head, int64_t pos, int kvh) {
    return (const char *)c->data + (size_t)pos * row + (size_t)kvh * head;
}

static float key_dot(const attn_job *j, const float *q, const char *k, float *tmp) {
    int hd = j->p->head_dim;
    switch (j->k->type) {
    case GK_F32: return j->uk->dot_f32(q, (const float *)k, hd);
    case GK_F16: return j->uk->dot_f32_f16(q, (const uint16_t *)k, hd);
    case GK_Q8_0: return j->uk->dot_f32_q8_0(q, k, hd);
    default:
        gk_type_get(j->k->type)->to_f32(k, tmp, hd);
        return j->uk->dot_f32(q, tmp, hd);
    }
}

static void value_axpy(const attn_job *j, float a, const char *v, float *acc, float *tmp) {
    int hd = j->p->head_dim;
    switch (j->v->type) {
    case GK_F32: j->uk->axpy_f32(a, (const float *)v, acc, hd); break;
    case GK_F16: j->uk->axpy_f16(a, (const uint16_t *)v, acc, hd); break;
    case GK_Q8_0: j->uk->axpy_q8_0(a, v, acc, hd); break;
    default:
        gk_type_get(j->v->type)->to_f32(v, tmp, hd);
        j->uk->axpy_f32(a, tmp, acc, hd);
    }
}

static void attend_one(const attn_job *j, int64_t t, int h, float *sc, float *acc, float *tmp) {
    const gk_attn_params *p = j->p;
    int hd = p->head_dim, kvh = h / (p->n_head / p->n_kv_head);
    const float *q = (const float *)j->q->data + t * j->q->ne[0] + (int64_t)h * hd;
    int64_t last = p->pos0 + t;
    const gk_matvec_fn mv = j->k->type == GK_F16 || j->k->type == GK_F32 ? j->uk->t[j->k->type].matvec : NULL;
    if (mv) mv(hd, slice(j->k, j->k_row, j->k_head, 0, kvh), j->k_row, last + 1, q, sc);
    else
        for (int64_t pos = 0; pos <= last; pos++) sc[pos] = key_dot(j, q, slice(j->k, j->k_row, j->k_head, pos, kvh), tmp);
    const float mx = j->uk->scale_max(sc, sc, last + 1, p->scale), sum = j->uk->exp_sum(sc, last + 1, mx);
    memset(acc, 0, (size_t)hd * sizeof *acc);
    if (j->v->type == GK_F16)
        j->uk->axpy_rows_f16(sc, (const uint16_t *)slice(j->v, j->v_row, j->v_head, 0, kvh), j->v_row / 2, last + 1,
                             acc, hd);
    else
        for (int64_t pos = 0; pos <= last; pos++)
            value_axpy(j, sc[pos], slice(j->v, j->v_row, j->v_head, pos, kvh), acc, tmp);
    float *o = (float *)j->out->data + t * j->out->ne[0] + (int64_t)h * hd;
    for (int i = 0; i < hd; i++) o[i] = acc[i] / sum;
}

static void attn_worker(void *ctx, int ith, int nth) {
    (void)nth;
    attn_job *j = ctx;
    int hd = j->p->head_dim;
    float *sc = j->mem + (size_t)ith * j->per_thread, *acc = sc + j->p->pos0 + j->nt, *tmp = acc + hd;
    int64_t units = j->nt * j->p->n_head;
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= units) return;
        attend_one(j, u / j->p->n_head, (int)(u % j->p->n_head), sc, acc, tmp);
    }
}

int gk_cpu_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kc,
                     const gk_tensor *vc, const gk_attn_params *p) {
    if (gk_check_attention(b, out, q, kc, vc, p)) return -1;
    if (gk_cpu_flash_prefill_fits(b, p, gk_rows(q))) return gk_cpu_flash_prefill(b, out, q, kc, vc, p);
    gk_cpu *c = gk_cpu_of(b);
    attn_job j = {.uk = c->uk, .p = p, .q = q, .k = kc, .v = vc, .out = out, .nt = gk_rows(q),
                  .k_row = gk_row_bytes(kc), .v_row = gk_row_bytes(vc),
                  .k_head = gk_type_bytes(kc->type, p->head_dim), .v_head = gk_type_bytes(vc->type, p->head_dim)};
    /* scores for every position, the output accumulator, one dequantised row; 64-byte multiple */
    j.per_thread = (size_t)(p->pos0 + j.nt + 2 * (int64_t)p->head_dim + 15) / 16 * 16;
    int nth = gk_pool_size(c->pool);
    j.mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j.per_thread * sizeof(float) * (size_t)nth);
    if (!j.mem) return gk_fail(b, "attention: out of memory");
    atomic_store(&j.next, 0);
    if (j.nt * p->n_head == 1) attn_worker(&j, 0, 1);   /* one unit: no wake-up */
    else gk_pool_run(c->pool, attn_worker, &j);
    return 0;
}
