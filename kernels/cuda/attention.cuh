/* Block bodies of attention over an F32/F16/Q8_0 KV cache (causal, grouped-query):
 *  - decode: split along the sequence, one thread per key, partial (max, sum, o) per split,
 *    then a combine step (flash-decoding);
 *  - prefill: tiles of GK_AT_BR queries × GK_AT_BC keys with an online softmax
 *    (FlashAttention), so only a tile of scores ever exists; in F32 here, on the F16 tensor
 *    cores in attention_mma.cuh (F16 and Q8_0 caches, sm_80+).
 * Execution model: simt.cuh; geometry and limits: plan.cuh. */
#ifndef GK_ATTENTION_CUH
#define GK_ATTENTION_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* Element e of a cache row (F32, F16 or Q8_0). */
GK_DEV float gk_kv_elem(int type, const uint8_t *row, int64_t e) {
    if (type == GK_Q8_0) {
        const uint8_t *blk = row + 34 * (e >> 5);
        return gk_h2f((uint16_t)gk_u16(blk)) * (float)(int8_t)(uint8_t)gk_u8(blk + 2 + (e & 31));
    }
    return gk_float_elem(type, row, e);
}

/* A lane past the head's last dimension sits out the warp-wide access(es) of gk_kv_elem. */
GK_DEV void gk_kv_elem_idle(int type) {
    gk_emul_idle_();
    if (type == GK_Q8_0) gk_emul_idle_();
}

/* Decode: block (split sp, head h, query row t). Warp w scores keys j0 + 32w .. +31 one after
 * the other with its lanes across the head's dimensions (lane l: d = l, l+32, ..), so a key
 * row is read as adjacent elements, and reduces the 32 partial dots; thread i then holds the
 * score of key j0 + i. Thread d accumulates output dimension d over the split's keys, so
 * value rows are read adjacent too. */
GK_BODY(gk_body_attn_decode, gk_attn_args) {
    GK_SHARED(float, qs, GK_AT_DMAX);
    GK_SHARED(float, ps, GK_AT_SPLIT);
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_LOCAL_ARR(float, kp, 32);
    GK_LOCAL(float, s);
    GK_LOCAL(float, mx);
    GK_LOCAL(float, l);
    const int64_t sp = GK_BX, h = GK_BY, t = GK_BZ;
    const int hd = a.head_dim;
    const int64_t kvoff = (h / (a.n_head / a.n_kv_head)) * hd;
    const int64_t nkeys = a.pos0 + t + 1, j0 = sp * GK_AT_SPLIT;
    const int64_t cnt = nkeys - j0 < 0 ? 0 : (nkeys - j0 < GK_AT_SPLIT ? nkeys - j0 : GK_AT_SPLIT);
    const int hd32 = (hd + 31) / 32 * 32; /* dimensions rounded up to whole warp-steps */
    GK_THREADS {
        for (int d = tid; d < hd; d += GK_NT)
            GK_SST(qs, d, gk_ldf(a.q + (t * a.n_head + h) * hd + d) * a.scale);
    }
    GK_SYNC();
    GK_THREADS {
        const int64_t key0 = 32 * (tid >> 5);
        GK_UNROLL
        for (int i = 0; i < 32; i++) {
            float p = 0.0f;
            if (key0 + i < cnt) {
                const uint8_t *krow = a.k + (size_t)(j0 + key0 + i) * a.kv_row_bytes;
                for (int d = tid & 31; d < hd32; d += 32) {
                    if (d < hd)
                        p += GK_SLD(qs, d) * gk_kv_elem(a.kv_type, krow, kvoff + d);
                    else
                        gk_kv_elem_idle(a.kv_type);
                }
            }
            R(kp)[i] = p;
        }
    }
    GK_UNROLL
    for (int i = 0; i < 32; i++) GK_WARP_SUM_AT(kp, i);
    GK_THREADS {
        float sc = -INFINITY;
        if (tid < cnt) {
            GK_UNROLL
            for (int i = 0; i < 32; i++)
                if (i == (tid & 31)) sc = R(kp)[i];
        }
        R(s) = sc;
        R(mx) = sc;
    }
    GK_BLOCK_MAX(mx, red);
    GK_THREADS {
        const float p = tid < cnt ? gk_expf(R(s) - R(mx)) : 0.0f;
        GK_SST(ps, tid, p);
        R(l) = p;
    }
    GK_BLOCK_SUM(l, red);
    GK_THREADS {
        float *part = a.part + ((t * a.n_head + h) * a.n_split + sp) * (int64_t)(hd + 2);
        for (int d = tid; d < hd; d += GK_NT) {
            float o = 0.0f;
            for (int64_t i = 0; i < cnt; i++)
                o +=
                    GK_SLD(ps, i) * gk_kv_elem(a.kv_type, a.v + (size_t)(j0 + i) * a.kv_row_bytes, kvoff + d);
            gk_stf(part + 2 + d, o);
        }
        if (tid == 0) {
            gk_stf(part, cnt > 0 ? R(mx) : -INFINITY);
            gk_stf(part + 1, R(l));
        }
    }
}

/* Combine: block (head h, query row t), thread d merges the splits' partials; with a.xq
 * (gk_plan_attn_quantises: hd <= the block's threads) the head's output also quantised. */
GK_BODY(gk_body_attn_combine, gk_attn_args) {
    GK_SHARED(float, ds, GK_MAX_THREADS / 32);
    GK_LOCAL(float, v); /* with a.xq: the output element and its block's amax */
    GK_LOCAL(float, amax);
    const int64_t h = GK_BX, t = GK_BY, row = t * a.n_head + h;
    const int hd = a.head_dim;
    GK_THREADS {
        const float *part = a.part + row * a.n_split * (int64_t)(hd + 2);
        float m = -INFINITY;
        for (int sp = 0; sp < a.n_split; sp++) m = fmaxf(m, gk_ldf(part + sp * (hd + 2)));
        R(v) = 0.0f;
        for (int d = tid; d < hd; d += GK_NT) {
            float o = 0.0f, l = 0.0f;
            for (int sp = 0; sp < a.n_split; sp++) {
                const float *ps = part + sp * (hd + 2);
                const float pm = gk_ldf(ps);
                if (pm == -INFINITY) continue; /* a split past this row's last key */
                const float w = gk_expf(pm - m);
                l += w * gk_ldf(ps + 1);
                o += w * gk_ldf(ps + 2 + d);
            }
            R(v) = o / l;
            gk_stf(a.out + row * hd + d, R(v));
        }
    }
    if (a.xq)
        GK_Q8_STORE(v, amax, ds, a.xq + row * hd, (float *)(void *)(a.xq + a.T * a.n_head * hd) + row * (hd / 32), 0,
                    hd / 32);
}

#define GK_AT_KSTRIDE (GK_AT_DMAX + 1) /* +1: threads reading one column hit distinct banks */
#define GK_AT_OREG (GK_AT_DMAX / 8)    /* output values per thread: 128 threads = 16 rows × 8 */

/* Loads keys (or values) kt*BC .. +BC of KV head offset kvoff into tile[BC][KSTRIDE] as F32;
 * positions past `limit` read as 0. */
GK_DEV void gk_attn_load_tile(const gk_attn_args *a, const uint8_t *base, int64_t kt, int64_t limit,
                              int64_t kvoff, GK_SHARED_PARAM(float, tile), int tid, int nt) {
    for (int i = tid; i < GK_AT_BC * a->head_dim; i += nt) {
        const int c = i / a->head_dim, d = i % a->head_dim;
        const int64_t j = kt * GK_AT_BC + c;
        GK_SST(tile, c * GK_AT_KSTRIDE + d,
               j < limit ? gk_kv_elem(a->kv_type, base + (size_t)j * a->kv_row_bytes, kvoff + d) : 0.0f);
    }
}

/* Prefill: block (query tile qt, head h). */
GK_BODY(gk_body_attn_prefill, gk_attn_args) {
    GK_SHARED(float, qs, GK_AT_BR *GK_AT_DMAX);
    GK_SHARED(float, kv, GK_AT_BC *GK_AT_KSTRIDE);
    GK_SHARED(float, sc, GK_AT_BR *GK_AT_BC);
    GK_SHARED(float, row_m, GK_AT_BR);
    GK_SHARED(float, row_l, GK_AT_BR);
    GK_SHARED(float, row_alpha, GK_AT_BR);
    GK_LOCAL_ARR(float, o, GK_AT_OREG);
    const int64_t r0 = GK_BX * GK_AT_BR, h = GK_BY;
    const int hd = a.head_dim;
    const int64_t kvoff = (h / (a.n_head / a.n_kv_head)) * hd;
    const int64_t rows = a.T - r0 < GK_AT_BR ? a.T - r0 : GK_AT_BR;
    const int64_t limit = a.pos0 + r0 + rows; /* keys any row of this tile may see */
    const int64_t ntiles = (limit + GK_AT_BC - 1) / GK_AT_BC;
    GK_THREADS {
        for (int i = tid; i < GK_AT_BR * hd; i += GK_NT) {
            const int r = i / hd, d = i % hd;
            GK_SST(qs, r * GK_AT_DMAX + d,
                   r < rows ? gk_ldf(a.q + ((r0 + r) * a.n_head + h) * hd + d) * a.scale : 0.0f);
        }
        if (tid < GK_AT_BR) {
            GK_SST(row_m, tid, -INFINITY);
            GK_SST(row_l, tid, 0.0f);
        }
        for (int i = 0; i < GK_AT_OREG; i++) R(o)[i] = 0.0f;
        gk_attn_load_tile(&a, a.k, 0, limit, kvoff, GK_SHARED_PASS(kv), tid, GK_NT);
    }
    GK_SYNC();
    for (int64_t kt = 0; kt < ntiles; kt++) {
        /* scores of the tile; a key past a row's causal limit scores -inf */
        GK_THREADS {
            for (int i = tid; i < GK_AT_BR * GK_AT_BC; i += GK_NT) {
                const int r = i / GK_AT_BC, c = i % GK_AT_BC;
                const int64_t j = kt * GK_AT_BC + c;
                float s = -INFINITY;
                if (r < rows && j <= a.pos0 + r0 + r) {
                    s = 0.0f;
                    for (int d = 0; d < hd; d++)
                        s += GK_SLD(qs, r * GK_AT_DMAX + d) * GK_SLD(kv, c * GK_AT_KSTRIDE + d);
                }
                GK_SST(sc, i, s);
            }
        }
        GK_SYNC();
        /* online softmax per row; the key tile is no longer needed, so values replace it */
        GK_THREADS {
            if (tid < GK_AT_BR) {
                float mt = -INFINITY;
                for (int c = 0; c < GK_AT_BC; c++) mt = fmaxf(mt, GK_SLD(sc, tid * GK_AT_BC + c));
                const float mold = GK_SLD(row_m, tid), mnew = fmaxf(mold, mt);
                float alpha = 1.0f, sum = 0.0f;
                if (mnew != -INFINITY) {
                    alpha = gk_expf(mold - mnew);
                    for (int c = 0; c < GK_AT_BC; c++) {
                        const float p = gk_expf(GK_SLD(sc, tid * GK_AT_BC + c) - mnew);
                        GK_SST(sc, tid * GK_AT_BC + c, p);
                        sum += p;
                    }
                } else {
                    for (int c = 0; c < GK_AT_BC; c++) GK_SST(sc, tid * GK_AT_BC + c, 0.0f);
                }
                GK_SST(row_m, tid, mnew);
                GK_SST(row_l, tid, alpha * GK_SLD(row_l, tid) + sum);
                GK_SST(row_alpha, tid, alpha);
            }
            gk_attn_load_tile(&a, a.v, kt, limit, kvoff, GK_SHARED_PASS(kv), tid, GK_NT);
        }
        GK_SYNC();
        /* thread owns row tid/8 and dimensions tid%8 + 8i */
        GK_THREADS {
            const int r = tid >> 3;
            const float alpha = GK_SLD(row_alpha, r);
            GK_UNROLL
            for (int i = 0; i < GK_AT_OREG; i++) {
                const int d = (tid & 7) + 8 * i;
                if (d < hd) {
                    float acc = alpha * R(o)[i];
                    for (int c = 0; c < GK_AT_BC; c++)
                        acc += GK_SLD(sc, r * GK_AT_BC + c) * GK_SLD(kv, c * GK_AT_KSTRIDE + d);
                    R(o)[i] = acc;
                }
            }
        }
        GK_SYNC();
        if (kt + 1 < ntiles) {
            GK_THREADS { gk_attn_load_tile(&a, a.k, kt + 1, limit, kvoff, GK_SHARED_PASS(kv), tid, GK_NT); }
            GK_SYNC();
        }
    }
    GK_THREADS {
        const int r = tid >> 3;
        if (r < rows) {
            const float inv = 1.0f / GK_SLD(row_l, r);
            GK_UNROLL
            for (int i = 0; i < GK_AT_OREG; i++) {
                const int d = (tid & 7) + 8 * i;
                if (d < hd) gk_stf(a.out + ((r0 + r) * a.n_head + h) * hd + d, R(o)[i] * inv);
            }
        }
    }
}

#endif
