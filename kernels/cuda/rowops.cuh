/* Block bodies of the small ops: rmsnorm, softmax, elementwise (silu_mul, add, scale), RoPE,
 * embedding lookup and KV-cache store, and the fused add_rmsnorm and rope_kv_store (the same
 * arithmetic as the ops they replace, in the same order: equal results, fewer launches).
 * Execution model: simt.cuh; geometry: plan.cuh. */
#ifndef GK_ROWOPS_CUH
#define GK_ROWOPS_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* A norm's output pass over row x (its sum of squares in R(ss)): y = x / sqrt(ss/dim + eps) * w;
 * with a.xq also y quantised as gk_body_quantize_x8 does (dim a multiple of 32: at each step
 * of GK_NT elements warp w holds one 32-block: GK_Q8_STORE, formats.cuh). */
#define GK_NORM_OUT(a, x, y, ss, ds, v, amax)                                                                \
    do {                                                                                                     \
        if (!(a).xq) {                                                                                       \
            GK_THREADS {                                                                                     \
                const float inv = 1.0f / sqrtf(R(ss) / (float)(a).dim + (a).eps);                            \
                for (int64_t i = tid; i < (a).dim; i += GK_NT)                                               \
                    gk_stf((y) + i, gk_ldf((x) + i) * inv * gk_ldf((a).w + i));                              \
            }                                                                                                \
        } else {                                                                                             \
            uint8_t *q_ = (a).xq + GK_BX * (a).dim;                                                          \
            float *d_ = (float *)(void *)((a).xq + (a).T * (a).dim) + GK_BX * ((a).dim / 32);                \
            for (int64_t i0 = 0; i0 < (a).dim; i0 += GK_NT) {                                                \
                GK_THREADS {                                                                                 \
                    const float inv = 1.0f / sqrtf(R(ss) / (float)(a).dim + (a).eps);                        \
                    const int64_t i = i0 + tid;                                                              \
                    R(v) = 0.0f;                                                                             \
                    if (i < (a).dim) {                                                                       \
                        R(v) = gk_ldf((x) + i) * inv * gk_ldf((a).w + i);                                    \
                        gk_stf((y) + i, R(v));                                                               \
                    }                                                                                        \
                }                                                                                            \
                GK_Q8_STORE(v, amax, ds, q_, d_, i0 / 32, (a).dim / 32);                                     \
                GK_SYNC();                                                                                   \
            }                                                                                                \
        }                                                                                                    \
    } while (0)

/* y = x / sqrt(mean(x²) + eps) * w, one block per row; y may be x (each thread reads the
 * elements it writes, after the reduction). */
GK_BODY(gk_body_rmsnorm, gk_row_args) {
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_SHARED(float, ds, GK_MAX_THREADS / 32);
    GK_LOCAL(float, ss);
    GK_LOCAL(float, yv); /* with a.xq: an output element and its block's amax */
    GK_LOCAL(float, ya);
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
    GK_NORM_OUT(a, x, y, ss, ds, yv, ya);
}

/* x += r, then rmsnorm's two passes over the updated x: each thread reads back only what it
 * wrote, and writes y[i] (which may be r[i]) after reading r[i] itself. */
GK_BODY(gk_body_add_rmsnorm, gk_arn_args) {
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_SHARED(float, ds, GK_MAX_THREADS / 32);
    GK_LOCAL(float, ss);
    GK_LOCAL(float, yv); /* with a.xq: an output element and its block's amax */
    GK_LOCAL(float, ya);
    float *x = a.x + GK_BX * a.dim, *y = a.y + GK_BX * a.dim;
    const float *r = a.r + GK_BX * a.dim;
    GK_THREADS {
        float s = 0.0f;
        for (int64_t i = tid; i < a.dim; i += GK_NT) {
            const float v = gk_ldf(x + i) + gk_ldf(r + i);
            gk_stf(x + i, v);
            s += v * v;
        }
        R(ss) = s;
    }
    GK_BLOCK_SUM(ss, red);
    GK_NORM_OUT(a, x, y, ss, ds, yv, ya);
}

GK_BODY(gk_body_softmax, gk_row_args) {
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

GK_BODY(gk_body_elementwise, gk_ew_args) {
    GK_SHARED(float, ds, GK_MAX_THREADS / 32);
    GK_LOCAL(float, v); /* with a.xq: the output element and its block's amax */
    GK_LOCAL(float, amax);
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        R(v) = 0.0f;
        if (i < a.n) {
            const float x = gk_ldf(a.a + i);
            if (a.op == GK_EW_SILU_MUL) R(v) = x / (1.0f + gk_expf(-x)) * gk_ldf(a.c + i);
            else if (a.op == GK_EW_ADD) R(v) = x + gk_ldf(a.c + i);
            else R(v) = a.s * x;
            gk_stf(a.y + i, R(v));
        }
    }
    /* with a.xq also y quantised (n a multiple of 32, so the block's 32-blocks are whole) */
    if (a.xq) GK_Q8_STORE(v, amax, ds, a.xq, (float *)(void *)(a.xq + a.n), GK_BX * (GK_NT / 32), a.n / 32);
}

/* RoPE's angle of pair i at position pos, divided by the pair's frequency factor when there are
 * factors (Llama 3.1's rope_freqs, as ggml_rope_ext); ggml's form theta = pos *
 * (base^(-2/head_dim))^i. */
GK_DEV float gk_rope_angle(int64_t pos, int i, int head_dim, float base, const float *ff) {
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    return (float)pos * powf(theta_scale, (float)i) / (ff ? gk_ldf(ff + i) : 1.0f);
}

/* Turns pair p of one token's row x (n_head heads of head_dim, pairs counted across the heads),
 * if there is one: adjacent lanes take adjacent pairs, each pair one 8-byte access. */
GK_DEV void gk_rope_pair(float *x, int64_t p, int n_head, int head_dim, int64_t pos, float base,
                         const float *ff) {
    const int half = head_dim / 2;
    if (p < (int64_t)n_head * half) {
        const int h = (int)(p / half), i = (int)(p % half);
        const float ang = gk_rope_angle(pos, i, head_dim, base, ff);
        const float c = cosf(ang), s = sinf(ang);
        float *v = x + (int64_t)h * head_dim + 2 * i;
        float p2[2];
        gk_ldf2(v, p2);
        const float r2[2] = {p2[0] * c - p2[1] * s, p2[0] * s + p2[1] * c};
        gk_stf2(v, r2);
    }
}

/* Rotates pair (2i, 2i+1) of each head by the angle of position pos0+t. */
GK_BODY(gk_body_rope, gk_rope_args) {
    GK_THREADS {
        gk_rope_pair(a.x + GK_BY * (int64_t)a.n_head * a.head_dim, GK_BX * GK_NT + tid, a.n_head, a.head_dim,
                     a.pos0 + GK_BY, a.base, a.ff);
    }
}

/* Block (x: GK_EMB_WARPS tiles of GK_MV_TILE chunks of an output row, a warp each; y: token
 * t). A quantized table row's tile is staged as the matvec's and written 4 floats a lane
 * (adjacent float4s); a float row is read and written an element a lane. An id outside the
 * table writes zeros and raises *err, which the host reads at the next sync point. */
GK_BODY(gk_body_embedding, gk_emb_args) {
    GK_SHARED(uint32_t, stage, GK_EMB_WARPS * GK_MV_STAGE_WORDS);
    GK_SHARED(int, tile_at, GK_EMB_WARPS);
    const int64_t t = GK_BY, nc = (a.dim + 31) / 32;
    const int quant = gk_is_quant(a.type), has_min = a.type == GK_Q4_1 || a.type == GK_Q4_K;
    if (quant) {
        GK_THREADS {
            const int64_t c0 = (GK_BX * (GK_NT / 32) + (tid >> 5)) * GK_MV_TILE;
            const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;
            const int32_t id = (int32_t)gk_u32((const uint8_t *)(const void *)(a.ids + t));
            if (c0 < nc && id >= 0 && id < a.vocab) {
                gk_stage_regs r;
                gk_stage_load_chunks(a.table, a.row_bytes, a.type, id, c0, c1, tid & 31, &r);
                const int at =
                    gk_stage_store(&r, GK_SHARED_PASS(stage), (tid >> 5) * GK_MV_STAGE_WORDS, tid & 31);
                if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, at);
            }
        }
        GK_SYNC();
    }
    GK_THREADS {
        const int64_t c0 = (GK_BX * (GK_NT / 32) + (tid >> 5)) * GK_MV_TILE;
        const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;
        const int64_t k1 = 32 * c1 < a.dim ? 32 * c1 : a.dim;
        const int32_t id = (int32_t)gk_u32((const uint8_t *)(const void *)(a.ids + t));
        float *y = a.y + t * a.dim;
        if (c0 >= nc) {
            /* past the row: nothing */
        } else if (id < 0 || id >= a.vocab) {
            for (int64_t k = 32 * c0 + (tid & 31); k < k1; k += 32) gk_stf(y + k, 0.0f);
            if ((tid & 31) == 0) *a.err = 1;
        } else if (quant) {
            const int at = GK_SLD(tile_at, tid >> 5), j = 4 * (tid & 7);
            for (int64_t c = c0 + ((tid >> 3) & 3); c < c1; c += 4) {
                const gk_w4 w = gk_staged_weights4(a.type, GK_SHARED_PASS(stage), at, (int)(c - c0), j);
                float v[4];
                for (int i = 0; i < 4; i++)
                    v[i] = has_min ? w.d * w.q[i] + w.m : w.d * w.q[i]; /* -0 stays -0 */
                gk_stf4(y + 32 * c + j, v);
            }
        } else {
            const uint8_t *row = a.table + (size_t)id * a.row_bytes;
            for (int64_t k = 32 * c0 + (tid & 31); k < k1; k += 32)
                gk_stf(y + k, gk_float_elem(a.type, row, k));
        }
    }
}

/* Element e of a cache row of type, value v; amax: the max |value| of e's 32-block (Q8_0). */
GK_DEV void gk_kv_put(uint8_t *row, int type, int64_t e, float v, float amax) {
    if (type == GK_Q8_0) {
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t *blk = row + 34 * (e >> 5);
        if ((e & 31) == 0) gk_st_u16((uint16_t *)(void *)blk, gk_f2h(d));
        gk_st_u8(blk + 2 + (e & 31), (uint8_t)(int8_t)fminf(fmaxf(roundf(v * id), -127.0f), 127.0f));
    } else if (type == GK_F16) {
        gk_st_u16((uint16_t *)(void *)row + e, gk_f2h(v));
    } else {
        gk_stf((float *)(void *)row + e, v);
    }
}

/* One thread per element of a source row, 128 a block: adjacent lanes read and write adjacent
 * elements. A Q8_0 block is one warp: its amax a warp max, then ggml's quantize_row_q8_0
 * (d = amax/127 stored as F16, q = round(x/d) within ±127). */
GK_BODY(gk_body_kv_store, gk_kvs_args) {
    GK_LOCAL(float, v);
    GK_LOCAL(float, amax);
    const int64_t t = GK_BY;
    GK_THREADS {
        const int64_t e = GK_BX * GK_NT + tid;
        R(v) = e < a.width ? gk_ldf(a.src + t * a.width + e) : 0.0f;
        R(amax) = fabsf(R(v));
    }
    if (a.type == GK_Q8_0) GK_WARP_MAX(amax);
    GK_THREADS {
        const int64_t e = GK_BX * GK_NT + tid;
        if (e < a.width) gk_kv_put(a.cache + (size_t)(a.pos0 + t) * a.row_bytes, a.type, e, R(v), R(amax));
    }
}

/* rope(q), rope(k) and both cache stores in one launch (block ranges: plan.cuh). A K element is
 * turned from its pair, loaded whole by both of the pair's lanes (one 8-byte access each, the
 * same sectors), with rope's arithmetic; the stores are kv_store's. */
GK_BODY(gk_body_rope_kv_store, gk_rkv_args) {
    GK_LOCAL(float, v);
    GK_LOCAL(float, amax);
    const int64_t t = GK_BY, nq = gk_rkv_q_blocks(&a), nk = gk_rkv_k_blocks(&a);
    const int64_t qw = (int64_t)a.n_head * a.head_dim, kw = (int64_t)a.n_kv_head * a.head_dim;
    if (GK_BX < nq) {
        GK_THREADS {
            gk_rope_pair(a.q + t * qw, GK_BX * GK_NT + tid, a.n_head, a.head_dim, a.pos0 + t, a.base, a.ff);
        }
    } else {
        const int is_v = GK_BX >= nq + nk, type = is_v ? a.vc_type : a.kc_type;
        const int64_t e0 = (GK_BX - nq - (is_v ? nk : 0)) * GK_NT, width = is_v ? a.v_width : kw;
        GK_THREADS {
            const int64_t e = e0 + tid;
            R(v) = 0.0f;
            if (e < width && is_v) {
                R(v) = gk_ldf(a.v + t * width + e);
            } else if (e < width) {
                const int i = (int)(e % a.head_dim) / 2;
                const float ang = gk_rope_angle(a.pos0 + t, i, a.head_dim, a.base, a.ff);
                const float c = cosf(ang), s = sinf(ang);
                float p2[2];
                gk_ldf2(a.k + t * width + (e & ~(int64_t)1), p2);
                R(v) = (e & 1) ? p2[0] * s + p2[1] * c : p2[0] * c - p2[1] * s;
            }
            R(amax) = fabsf(R(v));
        }
        if (type == GK_Q8_0) GK_WARP_MAX(amax);
        GK_THREADS {
            const int64_t e = e0 + tid;
            uint8_t *row =
                (is_v ? a.vc : a.kc) + (size_t)(a.pos0 + t) * (is_v ? a.vc_row_bytes : a.kc_row_bytes);
            if (e < width) gk_kv_put(row, type, e, R(v), R(amax));
        }
    }
}

#endif
