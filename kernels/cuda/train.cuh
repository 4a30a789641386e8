/* Block bodies of the train family (backend.h's gk_train_ops) and the F32 dequantisation that
 * feeds the matmul forms of the backward pass. Execution model: simt.cuh; arguments, geometry
 * and what is deterministic: plan_train.cuh. */
#ifndef GK_TRAIN_CUH
#define GK_TRAIN_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan_train.cuh"

/* 4- and 8-byte global accesses formats.cuh has no loader for (traced like the others). */
#ifdef __CUDACC__
GK_DEV void gk_st_u32(uint32_t *p, uint32_t v) { *p = v; }
GK_DEV double gk_ld_f64(const double *p) { return *p; }
GK_DEV void gk_st_f64(double *p, double v) { *p = v; }
#else
GK_DEV void gk_st_u32(uint32_t *p, uint32_t v) { gk_emul_access_(p, &v, p, 4, 1); }
GK_DEV double gk_ld_f64(const double *p) {
    double v;
    gk_emul_access_(&v, p, p, 8, 0);
    return v;
}
GK_DEV void gk_st_f64(double *p, double v) { gk_emul_access_(p, &v, p, 8, 1); }
#endif

/* ---- elementwise ---------------------------------------------------------------------------- */
GK_BODY(gk_body_fill, gk_fill_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) gk_stf(a.t + i, a.value);
    }
}

/* y = g·σ(g)·u: ∂y/∂u = g·σ(g), ∂y/∂g = u·σ(g)·(1 + g·(1 − σ(g))). dgate may be dy: each
 * thread reads its dy before it writes its dgate. */
GK_BODY(gk_body_silu_mul_backward, gk_smb_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) {
            const float g = gk_ldf(a.gate + i), d = gk_ldf(a.dy + i), u = gk_ldf(a.up + i);
            const float sg = 1.0f / (1.0f + gk_expf(-g));
            gk_stf(a.dup + i, d * g * sg);
            gk_stf(a.dgate + i, d * u * sg * (1.0f + g * (1.0f - sg)));
        }
    }
}

GK_BODY(gk_body_adamw, gk_adamw_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) {
            const float g = a.grad_scale * gk_ldf(a.g + i), w = gk_ldf(a.w + i);
            const float m = a.beta1 * gk_ldf(a.m + i) + (1.0f - a.beta1) * g;
            const float v = a.beta2 * gk_ldf(a.v + i) + (1.0f - a.beta2) * g * g;
            gk_stf(a.m + i, m);
            gk_stf(a.v + i, v);
            gk_stf(a.w + i, w - a.lr * ((m * a.inv_c1) / (sqrtf(v * a.inv_c2) + a.eps) + a.wd * w));
        }
    }
}

/* ---- sum of squares ----------------------------------------------------------------------- */
/* Sums the block's slots red[0 .. NT) into red[0], in double: a uniform loop, one barrier a
 * level; at level w thread t < w adds slot t + w into its own slot t (a fixed order). */
#define GK_TREE_SUM_F64(red)                                                                                 \
    for (int w_ = GK_NT / 2; w_ > 0; w_ >>= 1) {                                                             \
        GK_THREADS {                                                                                         \
            if (tid < w_) GK_SST(red, tid, GK_SLD(red, tid) + GK_SLD(red, tid + w_));                        \
        }                                                                                                    \
        GK_SYNC();                                                                                           \
    }

/* Pass 1, block b of a.nblocks: Σ x² of elements b·NT + tid + k·nblocks·NT (adjacent lanes,
 * adjacent floats), in double, into part[b]. */
GK_BODY(gk_body_sum_squares, gk_ss_args) {
    GK_SHARED(double, red, GK_MAX_THREADS);
    GK_THREADS {
        double s = 0.0;
        for (int64_t i = GK_BX * GK_NT + tid; i < a.n; i += (int64_t)a.nblocks * GK_NT) {
            const double v = gk_ldf(a.x + i);
            s += v * v;
        }
        GK_SST(red, tid, s);
    }
    GK_SYNC();
    GK_TREE_SUM_F64(red);
    GK_THREADS {
        if (tid == 0) gk_st_f64(a.part + GK_BX, GK_SLD(red, 0));
    }
}

/* Pass 2, one block: out += Σ part, in a fixed order. */
GK_BODY(gk_body_sum_squares_final, gk_ss_args) {
    GK_SHARED(double, red, GK_MAX_THREADS);
    GK_THREADS {
        double s = 0.0;
        for (int i = tid; i < a.nblocks; i += GK_NT) s += gk_ld_f64(a.part + i);
        GK_SST(red, tid, s);
    }
    GK_SYNC();
    GK_TREE_SUM_F64(red);
    GK_THREADS {
        if (tid == 0) gk_stf(a.out, (float)((double)gk_ldf(a.out) + GK_SLD(red, 0)));
    }
}

/* ---- rmsnorm backward ----------------------------------------------------------------------- */
/* One block per row: r = (Σx²/n + eps)^(-1/2), gx = Σ dy·w·x; dx += r·dy·w − r³·x·gx/n; r kept
 * for the dw partials. */
GK_BODY(gk_body_rmsnorm_backward_rows, gk_rmsb_args) {
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_LOCAL(float, ss);
    GK_LOCAL(float, gx);
    const int64_t off = GK_BX * a.dim;
    GK_THREADS {
        float s = 0.0f, g = 0.0f;
        for (int64_t i = tid; i < a.dim; i += GK_NT) {
            const float xv = gk_ldf(a.x + off + i);
            s += xv * xv;
            g += gk_ldf(a.dy + off + i) * gk_ldf(a.w + i) * xv;
        }
        R(ss) = s;
        R(gx) = g;
    }
    GK_BLOCK_SUM(ss, red);
    GK_BLOCK_SUM(gx, red);
    GK_THREADS {
        const float rs = 1.0f / sqrtf(R(ss) / (float)a.dim + a.eps);
        const float c = rs * rs * rs * R(gx) / (float)a.dim;
        for (int64_t i = tid; i < a.dim; i += GK_NT) {
            const float d = gk_ldf(a.dx + off + i);
            gk_stf(a.dx + off + i,
                   d + rs * gk_ldf(a.dy + off + i) * gk_ldf(a.w + i) - c * gk_ldf(a.x + off + i));
        }
        if (tid == 0) gk_stf(a.rstd + GK_BX, rs);
    }
}

/* Block (column tile x, row group y): part[y][c] = Σ over the group's rows of dy·x·r. */
GK_BODY(gk_body_rmsnorm_backward_part, gk_rmsb_args) {
    GK_THREADS {
        const int64_t c = GK_BX * GK_NT + tid, t0 = GK_BY * GK_RB_ROWS;
        const int64_t t1 = a.T - t0 < GK_RB_ROWS ? a.T : t0 + GK_RB_ROWS;
        if (c < a.dim) {
            float s = 0.0f;
            for (int64_t t = t0; t < t1; t++)
                s += gk_ldf(a.dy + t * a.dim + c) * gk_ldf(a.x + t * a.dim + c) * gk_ldf(a.rstd + t);
            gk_stf(a.part + GK_BY * a.dim + c, s);
        }
    }
}

/* Block (column tile x): dw[c] += Σ_groups part[g][c], in double, groups in order. */
GK_BODY(gk_body_rmsnorm_backward_dw, gk_rmsb_args) {
    GK_THREADS {
        const int64_t c = GK_BX * GK_NT + tid, ng = gk_rb_groups(a.T);
        if (c < a.dim) {
            double s = 0.0;
            for (int64_t g = 0; g < ng; g++) s += gk_ldf(a.part + g * a.dim + c);
            gk_stf(a.dw + c, (float)((double)gk_ldf(a.dw + c) + s));
        }
    }
}

/* ---- rope backward ------------------------------------------------------------------------ */
/* rope's geometry and angle (rowops.cuh), the pair turned by −θ: (a, d) ← (a·c + d·s, −a·s + d·c). */
GK_BODY(gk_body_rope_backward, gk_rope_args) {
    GK_THREADS {
        const int half = a.head_dim / 2;
        const int64_t p = GK_BX * GK_NT + tid;
        if (p < (int64_t)a.n_head * half) {
            const int h = (int)(p / half), i = (int)(p % half);
            const float theta_scale = powf(a.base, -2.0f / (float)a.head_dim);
            const float ang =
                (float)(a.pos0 + GK_BY) * powf(theta_scale, (float)i) / (a.ff ? gk_ldf(a.ff + i) : 1.0f);
            const float c = cosf(ang), s = sinf(ang);
            float *v = a.x + GK_BY * (int64_t)a.n_head * a.head_dim + (int64_t)h * a.head_dim + 2 * i;
            float p2[2];
            gk_ldf2(v, p2);
            const float r2[2] = {p2[0] * c + p2[1] * s, -p2[0] * s + p2[1] * c};
            gk_stf2(v, r2);
        }
    }
}

/* ---- embedding backward ------------------------------------------------------------------- */
/* One block: the chunk's keys (id << 32 | token), padded to a power of two with the largest
 * key, bitonic-sorted in shared memory; thread handling i at a step owns the pair (i, i ^ j). */
GK_BODY(gk_body_emb_bwd_sort, gk_embb_args) {
    GK_SHARED(uint64_t, keys, GK_EB_CHUNK);
    const int n2 = gk_eb_pow2(a.n);
    GK_THREADS {
        for (int i = tid; i < n2; i += GK_NT) {
            uint64_t key = ~(uint64_t)0;
            if (i < a.n)
                key = ((uint64_t)gk_u32((const uint8_t *)(const void *)(a.ids + a.t0 + i)) << 32) | (uint32_t)i;
            GK_SST(keys, i, key);
        }
    }
    GK_SYNC();
    for (int k = 2; k <= n2; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            GK_THREADS {
                for (int i = tid; i < n2; i += GK_NT) {
                    const int l = i ^ j;
                    if (l > i) {
                        const uint64_t ki = GK_SLD(keys, i), kl = GK_SLD(keys, l);
                        if ((ki > kl) == ((i & k) == 0)) {
                            GK_SST(keys, i, kl);
                            GK_SST(keys, l, ki);
                        }
                    }
                }
            }
            GK_SYNC();
        }
    GK_THREADS {
        for (int i = tid; i < a.n; i += GK_NT) {
            const uint64_t key = GK_SLD(keys, i);
            gk_st_u32(a.sorted + 2 * i, (uint32_t)(key >> 32));
            gk_st_u32(a.sorted + 2 * i + 1, (uint32_t)key);
        }
    }
}

/* Block (column tile x, sorted entry y): when entry y starts a run of one id, that table row's
 * elements (a thread each) get the run's dy rows added in token order. An id outside the table
 * adds nothing and raises the error word. */
GK_BODY(gk_body_emb_bwd_scatter, gk_embb_args) {
    GK_THREADS {
        const int64_t i = GK_BY, c = GK_BX * GK_NT + tid;
        const uint32_t id = gk_u32((const uint8_t *)(const void *)(a.sorted + 2 * i));
        const int start = i == 0 || gk_u32((const uint8_t *)(const void *)(a.sorted + 2 * (i - 1))) != id;
        if (start && (int64_t)(int32_t)id >= 0 && (int64_t)(int32_t)id < a.vocab) {
            if (c < a.dim) {
                float *row = a.dtable + (int64_t)id * a.dim;
                float acc = gk_ldf(row + c);
                for (int64_t j = i; j < a.n && gk_u32((const uint8_t *)(const void *)(a.sorted + 2 * j)) == id;
                     j++) {
                    const int64_t t = a.t0 + gk_u32((const uint8_t *)(const void *)(a.sorted + 2 * j + 1));
                    acc += gk_ldf(a.dy + t * a.dim + c);
                }
                gk_stf(row + c, acc);
            }
        } else if (start && tid == 0 && GK_BX == 0) {
            *a.err = GK_ERR_EMB_BWD_ID;
        }
    }
}

/* ---- cross-entropy ------------------------------------------------------------------------ */
/* One block per row: max, Σ exp, loss = lse − z[target]; dlogits = scale·(softmax − onehot).
 * z[target] is read before the last region, since dlogits may be the logits themselves. */
GK_BODY(gk_body_cross_entropy, gk_ce_args) {
    GK_SHARED(float, red, GK_MAX_THREADS / 32);
    GK_LOCAL(float, mx);
    GK_LOCAL(float, sum);
    GK_LOCAL(float, zt);
    const int64_t r = GK_BX;
    const float *z = a.logits + r * a.vocab;
    GK_THREADS {
        float m = -INFINITY;
        for (int64_t i = tid; i < a.vocab; i += GK_NT) m = fmaxf(m, gk_ldf(z + i));
        R(mx) = m;
    }
    GK_BLOCK_MAX(mx, red);
    GK_THREADS {
        float s = 0.0f;
        for (int64_t i = tid; i < a.vocab; i += GK_NT) s += gk_expf(gk_ldf(z + i) - R(mx));
        R(sum) = s;
        R(zt) = 0.0f;
        if (tid == 0) {
            const int32_t tgt = (int32_t)gk_u32((const uint8_t *)(const void *)(a.targets + r));
            if (tgt >= 0 && tgt < a.vocab) R(zt) = gk_ldf(z + tgt);
        }
    }
    GK_BLOCK_SUM(sum, red);
    GK_THREADS {
        const int32_t tgt = (int32_t)gk_u32((const uint8_t *)(const void *)(a.targets + r));
        const int ok = tgt >= 0 && tgt < a.vocab;
        const float lse = R(mx) + logf(R(sum));
        if (a.dlogits) {
            float *d = a.dlogits + r * a.vocab;
            for (int64_t i = tid; i < a.vocab; i += GK_NT)
                gk_stf(d + i, a.scale * (gk_expf(gk_ldf(z + i) - lse) - (i == tgt ? 1.0f : 0.0f)));
        }
        if (tid == 0) { /* last: the other lanes' accesses above stay in step with lane 0's */
            gk_stf(a.losses + r, ok ? lse - R(zt) : NAN);
            if (!ok) *a.err = GK_ERR_CE_TARGET;
        }
    }
}

/* ---- attention backward ------------------------------------------------------------------- */
/* Rows j0 .. j0+BK−1 (those < limit; the others 0) of a {width, T} tensor at column offset off
 * into tile[BK][KSTRIDE]: adjacent threads, adjacent elements. */
GK_DEV void gk_attb_load_keys(const float *base, int64_t width, int64_t off, int64_t j0, int64_t limit, int hd,
                              GK_SHARED_PARAM(float, tile), int tid, int nt) {
    for (int i = tid; i < GK_AB_BK * hd; i += nt) {
        const int c = i / hd, d = i % hd;
        const int64_t j = j0 + c;
        GK_SST(tile, c * GK_AB_KSTRIDE + d, j < limit ? gk_ldf(base + j * width + off + d) : 0.0f);
    }
}
/* Query rows r0 .. r0+BQ−1 (those < T) of head h of a {n_head·hd, T} tensor into tile[BQ][DMAX]. */
GK_DEV void gk_attb_load_rows(const float *base, int n_head, int64_t h, int64_t r0, int64_t T, int hd,
                              GK_SHARED_PARAM(float, tile), int tid, int nt) {
    for (int i = tid; i < GK_AB_BQ * hd; i += nt) {
        const int r = i / hd, d = i % hd;
        GK_SST(tile, r * GK_AB_DMAX + d, r0 + r < T ? gk_ldf(base + ((r0 + r) * n_head + h) * hd + d) : 0.0f);
    }
}

/* The query side, block (query tile x, head y): see plan_train.cuh. */
GK_BODY(gk_body_attb_q, gk_attb_args) {
    GK_SHARED(float, qs, GK_AB_BQ *GK_AB_DMAX);
    GK_SHARED(float, dos, GK_AB_BQ *GK_AB_DMAX);
    GK_SHARED(float, ks, GK_AB_BK *GK_AB_KSTRIDE);
    GK_SHARED(float, vs, GK_AB_BK *GK_AB_KSTRIDE);
    GK_SHARED(float, sc, GK_AB_BQ *GK_AB_BK);
    GK_SHARED(float, dps, GK_AB_BQ *GK_AB_BK);
    GK_SHARED(float, row_m, GK_AB_BQ);
    GK_SHARED(float, row_l, GK_AB_BQ);
    GK_SHARED(float, row_d, GK_AB_BQ);
    GK_LOCAL_ARR(float, acc, GK_AB_OREG);
    const int64_t r0 = GK_BX * GK_AB_BQ, h = GK_BY;
    const int hd = a.head_dim;
    const int64_t kw = (int64_t)a.n_kv_head * hd, koff = (h / (a.n_head / a.n_kv_head)) * hd;
    const int64_t rows = a.T - r0 < GK_AB_BQ ? a.T - r0 : GK_AB_BQ;
    const int64_t limit = r0 + rows, ntiles = (limit + GK_AB_BK - 1) / GK_AB_BK;
    GK_THREADS {
        gk_attb_load_rows(a.q, a.n_head, h, r0, a.T, hd, GK_SHARED_PASS(qs), tid, GK_NT);
        gk_attb_load_rows(a.dout, a.n_head, h, r0, a.T, hd, GK_SHARED_PASS(dos), tid, GK_NT);
        if (tid < GK_AB_BQ) {
            GK_SST(row_m, tid, -INFINITY);
            GK_SST(row_l, tid, 0.0f);
            GK_SST(row_d, tid, 0.0f);
        }
        for (int i = 0; i < GK_AB_OREG; i++) R(acc)[i] = 0.0f;
    }
    /* pass 1: per row max m, sum l and D·l online (D = Σ p·dp is the softmax's mean of dp) */
    for (int64_t kt = 0; kt < ntiles; kt++) {
        GK_THREADS {
            gk_attb_load_keys(a.k, kw, koff, kt * GK_AB_BK, limit, hd, GK_SHARED_PASS(ks), tid, GK_NT);
            gk_attb_load_keys(a.v, kw, koff, kt * GK_AB_BK, limit, hd, GK_SHARED_PASS(vs), tid, GK_NT);
        }
        GK_SYNC();
        GK_THREADS {
            for (int i = tid; i < GK_AB_BQ * GK_AB_BK; i += GK_NT) {
                const int r = i / GK_AB_BK, c = i % GK_AB_BK;
                float s = -INFINITY, dp = 0.0f;
                if (r < rows && kt * GK_AB_BK + c <= r0 + r) {
                    s = 0.0f;
                    for (int d = 0; d < hd; d++) {
                        s += GK_SLD(qs, r * GK_AB_DMAX + d) * GK_SLD(ks, c * GK_AB_KSTRIDE + d);
                        dp += GK_SLD(dos, r * GK_AB_DMAX + d) * GK_SLD(vs, c * GK_AB_KSTRIDE + d);
                    }
                    s *= a.scale;
                }
                GK_SST(sc, i, s);
                GK_SST(dps, i, dp);
            }
        }
        GK_SYNC();
        GK_THREADS {
            if (tid < GK_AB_BQ) {
                float mt = -INFINITY;
                for (int c = 0; c < GK_AB_BK; c++) mt = fmaxf(mt, GK_SLD(sc, tid * GK_AB_BK + c));
                const float mold = GK_SLD(row_m, tid), mnew = fmaxf(mold, mt);
                if (mnew != -INFINITY) {
                    const float alpha = gk_expf(mold - mnew);
                    float l = 0.0f, dsum = 0.0f;
                    for (int c = 0; c < GK_AB_BK; c++) {
                        const float p = gk_expf(GK_SLD(sc, tid * GK_AB_BK + c) - mnew);
                        l += p;
                        dsum += p * GK_SLD(dps, tid * GK_AB_BK + c);
                    }
                    GK_SST(row_m, tid, mnew);
                    GK_SST(row_l, tid, alpha * GK_SLD(row_l, tid) + l);
                    GK_SST(row_d, tid, alpha * GK_SLD(row_d, tid) + dsum);
                }
            }
        }
        GK_SYNC();
    }
    /* m → logsumexp, D·l → D; both kept for the key side */
    GK_THREADS {
        if (tid < GK_AB_BQ) {
            const float l = GK_SLD(row_l, tid);
            const float lse = l > 0.0f ? GK_SLD(row_m, tid) + logf(l) : 0.0f;
            const float dd = l > 0.0f ? GK_SLD(row_d, tid) / l : 0.0f;
            GK_SST(row_m, tid, lse);
            GK_SST(row_d, tid, dd);
            if (tid < rows) {
                float st[2] = {lse, dd};
                gk_stf2(a.stats + ((r0 + tid) * a.n_head + h) * 2, st);
            }
        }
    }
    GK_SYNC();
    /* pass 2: ds = p·(dp − D), dq += ds·k */
    for (int64_t kt = 0; kt < ntiles; kt++) {
        GK_THREADS {
            gk_attb_load_keys(a.k, kw, koff, kt * GK_AB_BK, limit, hd, GK_SHARED_PASS(ks), tid, GK_NT);
            gk_attb_load_keys(a.v, kw, koff, kt * GK_AB_BK, limit, hd, GK_SHARED_PASS(vs), tid, GK_NT);
        }
        GK_SYNC();
        GK_THREADS {
            for (int i = tid; i < GK_AB_BQ * GK_AB_BK; i += GK_NT) {
                const int r = i / GK_AB_BK, c = i % GK_AB_BK;
                float ds = 0.0f;
                if (r < rows && kt * GK_AB_BK + c <= r0 + r) {
                    float s = 0.0f, dp = 0.0f;
                    for (int d = 0; d < hd; d++) {
                        s += GK_SLD(qs, r * GK_AB_DMAX + d) * GK_SLD(ks, c * GK_AB_KSTRIDE + d);
                        dp += GK_SLD(dos, r * GK_AB_DMAX + d) * GK_SLD(vs, c * GK_AB_KSTRIDE + d);
                    }
                    ds = gk_expf(s * a.scale - GK_SLD(row_m, r)) * (dp - GK_SLD(row_d, r));
                }
                GK_SST(sc, i, ds);
            }
        }
        GK_SYNC();
        GK_THREADS {
            const int r = tid >> 3;
            GK_UNROLL
            for (int i = 0; i < GK_AB_OREG; i++) {
                const int d = (tid & 7) + 8 * i;
                if (d < hd) {
                    float s = R(acc)[i];
                    for (int c = 0; c < GK_AB_BK; c++)
                        s += GK_SLD(sc, r * GK_AB_BK + c) * GK_SLD(ks, c * GK_AB_KSTRIDE + d);
                    R(acc)[i] = s;
                }
            }
        }
        GK_SYNC();
    }
    GK_THREADS {
        const int r = tid >> 3;
        if (r < rows) {
            GK_UNROLL
            for (int i = 0; i < GK_AB_OREG; i++) {
                const int d = (tid & 7) + 8 * i;
                if (d < hd) gk_stf(a.dq + ((r0 + r) * a.n_head + h) * hd + d, a.scale * R(acc)[i]);
            }
        }
    }
}

/* The key side, block (key tile x, KV head y): see plan_train.cuh. */
GK_BODY(gk_body_attb_kv, gk_attb_args) {
    GK_SHARED(float, ks, GK_AB_BK *GK_AB_KSTRIDE);
    GK_SHARED(float, vs, GK_AB_BK *GK_AB_KSTRIDE);
    GK_SHARED(float, qs, GK_AB_BQ *GK_AB_DMAX);
    GK_SHARED(float, dos, GK_AB_BQ *GK_AB_DMAX);
    GK_SHARED(float, ps, GK_AB_BQ *GK_AB_BK);
    GK_SHARED(float, dss, GK_AB_BQ *GK_AB_BK);
    GK_SHARED(float, lse_s, GK_AB_BQ);
    GK_SHARED(float, d_s, GK_AB_BQ);
    GK_LOCAL_ARR(float, acc_k, GK_AB_OREG);
    GK_LOCAL_ARR(float, acc_v, GK_AB_OREG);
    const int64_t j0 = GK_BX * GK_AB_BK, g = GK_BY;
    const int hd = a.head_dim, group = a.n_head / a.n_kv_head;
    const int64_t kw = (int64_t)a.n_kv_head * hd, koff = g * hd;
    const int64_t keys = a.T - j0 < GK_AB_BK ? a.T - j0 : GK_AB_BK;
    const int64_t nqt = (a.T + GK_AB_BQ - 1) / GK_AB_BQ;
    GK_THREADS {
        gk_attb_load_keys(a.k, kw, koff, j0, a.T, hd, GK_SHARED_PASS(ks), tid, GK_NT);
        gk_attb_load_keys(a.v, kw, koff, j0, a.T, hd, GK_SHARED_PASS(vs), tid, GK_NT);
        for (int i = 0; i < GK_AB_OREG; i++) R(acc_k)[i] = R(acc_v)[i] = 0.0f;
    }
    GK_SYNC();
    for (int64_t h = g * group; h < (g + 1) * group; h++)
        for (int64_t qt = j0 / GK_AB_BQ; qt < nqt; qt++) {
            const int64_t r0 = qt * GK_AB_BQ;
            GK_THREADS {
                gk_attb_load_rows(a.q, a.n_head, h, r0, a.T, hd, GK_SHARED_PASS(qs), tid, GK_NT);
                gk_attb_load_rows(a.dout, a.n_head, h, r0, a.T, hd, GK_SHARED_PASS(dos), tid, GK_NT);
                if (tid < GK_AB_BQ) {
                    float st[2] = {0.0f, 0.0f};
                    if (r0 + tid < a.T) gk_ldf2(a.stats + ((r0 + tid) * a.n_head + h) * 2, st);
                    GK_SST(lse_s, tid, st[0]);
                    GK_SST(d_s, tid, st[1]);
                }
            }
            GK_SYNC();
            GK_THREADS {
                for (int i = tid; i < GK_AB_BQ * GK_AB_BK; i += GK_NT) {
                    const int r = i / GK_AB_BK, c = i % GK_AB_BK;
                    float p = 0.0f, ds = 0.0f;
                    if (r0 + r < a.T && c < keys && j0 + c <= r0 + r) {
                        float s = 0.0f, dp = 0.0f;
                        for (int d = 0; d < hd; d++) {
                            s += GK_SLD(qs, r * GK_AB_DMAX + d) * GK_SLD(ks, c * GK_AB_KSTRIDE + d);
                            dp += GK_SLD(dos, r * GK_AB_DMAX + d) * GK_SLD(vs, c * GK_AB_KSTRIDE + d);
                        }
                        p = gk_expf(s * a.scale - GK_SLD(lse_s, r));
                        ds = p * (dp - GK_SLD(d_s, r));
                    }
                    GK_SST(ps, i, p);
                    GK_SST(dss, i, ds);
                }
            }
            GK_SYNC();
            GK_THREADS {
                const int c = tid >> 3;
                GK_UNROLL
                for (int i = 0; i < GK_AB_OREG; i++) {
                    const int d = (tid & 7) + 8 * i;
                    if (d < hd) {
                        float sk = R(acc_k)[i], sv = R(acc_v)[i];
                        for (int r = 0; r < GK_AB_BQ; r++) {
                            sv += GK_SLD(ps, r * GK_AB_BK + c) * GK_SLD(dos, r * GK_AB_DMAX + d);
                            sk += GK_SLD(dss, r * GK_AB_BK + c) * GK_SLD(qs, r * GK_AB_DMAX + d);
                        }
                        R(acc_k)[i] = sk;
                        R(acc_v)[i] = sv;
                    }
                }
            }
            GK_SYNC();
        }
    GK_THREADS {
        const int c = tid >> 3;
        if (c < keys) {
            GK_UNROLL
            for (int i = 0; i < GK_AB_OREG; i++) {
                const int d = (tid & 7) + 8 * i;
                if (d < hd) {
                    gk_stf(a.dk + (j0 + c) * kw + koff + d, a.scale * R(acc_k)[i]);
                    gk_stf(a.dv + (j0 + c) * kw + koff + d, R(acc_v)[i]);
                }
            }
        }
    }
}

/* ---- F32 panels of a weight (the matmul forms) ----------------------------------------------- */
/* gk_body_dequant_f16's geometry (plan.cuh: gk_plan_dequant) with F32 out: a quantized row's
 * tile staged, 4 consecutive weights a lane stored as a float4; float rows an element a lane. */
GK_BODY(gk_body_dequant_f32, gk_dq32_args) {
    GK_SHARED(uint32_t, stage, GK_DQ_ROWS * GK_MV_STAGE_WORDS);
    GK_SHARED(int, tile_at, GK_DQ_ROWS);
    const int64_t nc = (a.K + 31) / 32, c0 = GK_BY * GK_MV_TILE;
    const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;
    const int quant = gk_is_quant(a.type), has_min = a.type == GK_Q4_1 || a.type == GK_Q4_K;
    if (quant) {
        GK_THREADS {
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
            if (n < a.N) {
                gk_stage_regs r;
                gk_stage_load_chunks(a.w, a.row_bytes, a.type, n, c0, c1, tid & 31, &r);
                const int t =
                    gk_stage_store(&r, GK_SHARED_PASS(stage), (tid >> 5) * GK_MV_STAGE_WORDS, tid & 31);
                if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, t);
            }
        }
        GK_SYNC();
    }
    GK_THREADS {
        const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
        if (n < a.N && quant) {
            const int t = GK_SLD(tile_at, tid >> 5), j = 4 * (tid & 7);
            for (int64_t c = c0 + ((tid >> 3) & 3); c < c1; c += 4) {
                const gk_w4 w = gk_staged_weights4(a.type, GK_SHARED_PASS(stage), t, (int)(c - c0), j);
                float v[4];
                for (int i = 0; i < 4; i++) v[i] = has_min ? w.d * w.q[i] + w.m : w.d * w.q[i];
                gk_stf4(a.out + n * a.K + 32 * c + j, v);
            }
        } else if (n < a.N) {
            const uint8_t *row = a.w + (size_t)n * a.row_bytes;
            for (int64_t k = 32 * c0 + (tid & 31); k < a.K && k < 32 * c1; k += 32)
                gk_stf(a.out + n * a.K + k, gk_float_elem(a.type, row, k));
        }
    }
}

#endif
