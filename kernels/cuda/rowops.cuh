/* Block bodies of the small ops: rmsnorm, softmax, elementwise (silu_mul, add, scale), RoPE,
 * embedding lookup and KV-cache store. Execution model: simt.cuh; geometry: plan.cuh. */
#ifndef GK_ROWOPS_CUH
#define GK_ROWOPS_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* y = x / sqrt(mean(x²) + eps) * w, one block per row; y may be x (each thread reads the
 * elements it writes, after the reduction). */
GK_BODY(gk_body_rmsnorm, gk_row_args)
{
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_LOCAL(float, ss);
    const float *x = a.x + GK_BX * a.dim;
    float *y = a.y + GK_BX * a.dim;
    GK_THREADS {
        float s = 0.0f;
        for (int64_t i = tid; i < a.dim; i += GK_NT) {
            const float v = gk_ldf(x + i);
            s += v * v;
        }
        R(ss) = s;
    }
    GK_BLOCK_SUM(ss, red);
    GK_THREADS {
        const float inv = 1.0f / sqrtf(R(ss) / (float)a.dim + a.eps);
        for (int64_t i = tid; i < a.dim; i += GK_NT) gk_stf(y + i, gk_ldf(x + i) * inv * gk_ldf(a.w + i));
    }
}

GK_BODY(gk_body_softmax, gk_row_args)
{
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_LOCAL(float, mx);
    GK_LOCAL(float, sum);
    const float *x = a.x + GK_BX * a.dim;
    float *y = a.y + GK_BX * a.dim;
    GK_THREADS {
        float m = -INFINITY;
        for (int64_t i = tid; i < a.dim; i += GK_NT) m = fmaxf(m, gk_ldf(x + i));
        R(mx) = m;
    }
    GK_BLOCK_MAX(mx, red);
    GK_THREADS {
        float s = 0.0f;
        for (int64_t i = tid; i < a.dim; i += GK_NT) s += gk_expf(gk_ldf(x + i) - R(mx));
        R(sum) = s;
    }
    GK_BLOCK_SUM(sum, red);
    GK_THREADS {
        const float inv = 1.0f / R(sum);
        for (int64_t i = tid; i < a.dim; i += GK_NT) gk_stf(y + i, gk_expf(gk_ldf(x + i) - R(mx)) * inv);
    }
}

GK_BODY(gk_body_elementwise, gk_ew_args)
{
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) {
            const float v = gk_ldf(a.a + i);
            if (a.op == GK_EW_SILU_MUL) gk_stf(a.y + i, v / (1.0f + gk_expf(-v)) * gk_ldf(a.c + i));
            else if (a.op == GK_EW_ADD) gk_stf(a.y + i, v + gk_ldf(a.c + i));
            else gk_stf(a.y + i, a.s * v);
        }
    }
}

/* Rotates pair (2i, 2i+1) of each head by the angle of position pos0+t, divided by the pair's
 * frequency factor when there are factors (Llama 3.1's rope_freqs, as ggml_rope_ext). */
GK_BODY(gk_body_rope, gk_rope_args)
{
    GK_THREADS {
        const int half = a.head_dim / 2;
        const int64_t p = GK_BX * GK_NT + tid;
        if (p < (int64_t)a.n_head * half) {
            const int h = (int)(p / half), i = (int)(p % half);
            /* ggml's form: theta = pos * (base^(-2/head_dim))^i */
            const float theta_scale = powf(a.base, -2.0f / (float)a.head_dim);
            const float ang = (float)(a.pos0 + GK_BY) * powf(theta_scale, (float)i) / (a.ff ? gk_ldf(a.ff + i) : 1.0f);
            const float c = cosf(ang), s = sinf(ang);
            float *v = a.x + GK_BY * (int64_t)a.n_head * a.head_dim + (int64_t)h * a.head_dim + 2 * i;
            float p2[2];
            gk_ldf2(v, p2);   /* the pair in one 8-byte access: adjacent lanes, adjacent pairs */
            const float r2[2] = {p2[0] * c - p2[1] * s, p2[0] * s + p2[1] * c};
            gk_stf2(v, r2);
        }
    }
}

/* One thread per 32-chunk of an output row. An id outside the table writes zeros and raises
 * *err, which the host reads at the next sync point. */
GK_BODY(gk_body_embedding, gk_emb_args)
{
    GK_THREADS {
        const int64_t c = GK_BX * GK_NT + tid, t = GK_BY;
        if (c * 32 < a.dim) {
            const int32_t id = (int32_t)gk_u32((const uint8_t *)(const void *)(a.ids + t));
            float v[32];
            int cnt = a.dim - 32 * c < 32 ? (int)(a.dim - 32 * c) : 32;
            if (id < 0 || id >= a.vocab) {
                for (int j = 0; j < 32; j++) v[j] = 0.0f;
                *a.err = 1;
            } else {
                cnt = gk_dq32(a.type, a.table + (size_t)id * a.row_bytes, a.dim, c, v);
            }
            for (int j = 0; j < cnt; j++) gk_stf(a.y + t * a.dim + 32 * c + j, v[j]);
        }
    }
}

/* One thread per 32-chunk of a source row (one Q8_0 block). */
GK_BODY(gk_body_kv_store, gk_kvs_args)
{
    GK_THREADS {
        const int64_t c = GK_BX * GK_NT + tid, t = GK_BY;
        if (c * 32 < a.width) {
            const float *s = a.src + t * a.width + 32 * c;
            uint8_t *row = a.cache + (size_t)(a.pos0 + t) * a.row_bytes;
            const int cnt = a.width - 32 * c < 32 ? (int)(a.width - 32 * c) : 32;
            if (a.type == GK_Q8_0) {
                gk_q8_0_quantize32(s, row + 34 * c);
            } else if (a.type == GK_F16) {
                uint16_t *o = (uint16_t *)(void *)row + 32 * c;
                for (int j = 0; j < cnt; j++) gk_st_u16(o + j, gk_f2h(gk_ldf(s + j)));
            } else {
                float *o = (float *)(void *)row + 32 * c;
                for (int j = 0; j < cnt; j++) gk_stf(o + j, gk_ldf(s + j));
            }
        }
    }
}

#endif
