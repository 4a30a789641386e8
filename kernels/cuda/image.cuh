/* Block bodies of the image family (backend.h's gk_image_ops): the Stable Diffusion ops other
 * than conv2d's GEMMs (cuBLAS), and conv2d's im2col. Execution model: simt.cuh; arguments,
 * geometry and what is deterministic: plan_image.cuh. */
#ifndef GK_IMAGE_CUH
#define GK_IMAGE_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan_image.cuh"
#include "kernels/cuda/train.cuh" /* GK_TREE_SUM_F64, the 8-byte loads and stores */

/* ---- elementwise ---------------------------------------------------------------------------- */
GK_DEV float gk_gelu_tanh(float v) {
    return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
}

GK_BODY(gk_body_image_unary, gk_iu_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) {
            const float v = gk_ldf(a.x + i);
            float r;
            if (a.op == GK_IU_GELU)
                r = gk_gelu_tanh(v);
            else if (a.op == GK_IU_GELU_QUICK)
                r = v / (1.0f + gk_expf(-1.702f * v));
            else
                r = v / (1.0f + gk_expf(-v));
            gk_stf(a.y + i, r);
        }
    }
}

/* A thread per output element: the value half and the gate half of its row, adjacent across
 * lanes in both. */
GK_BODY(gk_body_geglu, gk_geglu_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n * a.rows) {
            const int64_t r = i / a.n, e = i % a.n;
            const float *row = a.x + r * 2 * a.n;
            gk_stf(a.y + i, gk_ldf(row + e) * gk_gelu_tanh(gk_ldf(row + a.n + e)));
        }
    }
}

/* A thread per output element: adjacent lanes write adjacent floats and read each source
 * float in pairs. */
GK_BODY(gk_body_upsample2x, gk_up_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid, w2 = 2 * a.W, h2 = 2 * a.H;
        if (i < w2 * h2 * a.planes) {
            const int64_t ox = i % w2, t = i / w2, oy = t % h2, c = t / h2;
            gk_stf(a.y + i, gk_ldf(a.x + (c * a.H + oy / 2) * a.W + ox / 2));
        }
    }
}

GK_BODY(gk_body_concat, gk_cat_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid, ct = a.ca + a.cc;
        if (i < a.plane * ct * a.N) {
            const int64_t p = i % a.plane, t = i / a.plane, c = t % ct, n = t / ct;
            const float v = c < a.ca ? gk_ldf(a.a + (n * a.ca + c) * a.plane + p)
                                     : gk_ldf(a.c + (n * a.cc + c - a.ca) * a.plane + p);
            gk_stf(a.y + i, v);
        }
    }
}

GK_BODY(gk_body_add_channel, gk_addc_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.plane * a.C * a.N) {
            const int64_t t = i / a.plane, c = t % a.C, n = t / a.C;
            gk_stf(a.y + i, gk_ldf(a.x + i) + gk_ldf(a.v + (a.per_image ? n * a.C : 0) + c));
        }
    }
}

/* Block (frequencies, timestep n): the angle in double, as ref computes it, so the F32 results
 * are ref's (a timestep of 999 times a frequency near 1 leaves F32 only 6e-5 of the angle). */
GK_BODY(gk_body_timestep_embed, gk_temb_args) {
    GK_THREADS {
        const int half = a.dim / 2;
        const int64_t i = GK_BX * GK_NT + tid, n = GK_BY;
        if (i < half) {
            const double arg = (double)gk_ldf(a.t + n) * exp(-log((double)a.max_period) * (double)i / half);
            gk_stf(a.y + n * a.dim + i, (float)cos(arg));
            gk_stf(a.y + n * a.dim + half + i, (float)sin(arg));
        }
    }
}

/* ---- cont ----------------------------------------------------------------------------------- */
GK_BODY(gk_body_cont, gk_cont_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid, n01 = a.ne[0] * a.ne[1];
        if (i < n01 * a.ne[2] * a.ne[3]) {
            const int64_t i0 = i % a.ne[0], i1 = i / a.ne[0] % a.ne[1], i2 = i / n01 % a.ne[2],
                          i3 = i / (n01 * a.ne[2]);
            gk_stf(a.y + i, gk_ldf(a.x + i0 * a.st[0] + i1 * a.st[1] + i2 * a.st[2] + i3 * a.st[3]));
        }
    }
}

/* Block (tile of (i0, i_j), i_o1, i_o2), 256 threads: 32 × 32 elements read with lanes along
 * j (the source's adjacent floats) into a padded tile, written with lanes along 0. */
GK_BODY(gk_body_cont_transposed, gk_cont_args) {
    GK_SHARED(float, tile, GK_CT_TILE * (GK_CT_TILE + 1));
    const int64_t t0 = (a.ne0 + GK_CT_TILE - 1) / GK_CT_TILE;
    const int64_t b0 = GK_BX % t0 * GK_CT_TILE, bj = GK_BX / t0 * GK_CT_TILE;
    const int64_t src = GK_BY * a.xs1 + GK_BZ * a.xs2, dst = GK_BY * a.ys1 + GK_BZ * a.ys2;
    GK_THREADS {
        const int lane = tid & 31;
        for (int r = tid >> 5; r < GK_CT_TILE; r += GK_NT / 32) {
            const int64_t e0 = b0 + r, ej = bj + lane;
            if (e0 < a.ne0 && ej < a.nej)
                GK_SST(tile, r * (GK_CT_TILE + 1) + lane, gk_ldf(a.x + src + e0 * a.xs0 + ej));
            else
                gk_emul_idle_();
        }
    }
    GK_SYNC();
    GK_THREADS {
        const int lane = tid & 31;
        for (int r = tid >> 5; r < GK_CT_TILE; r += GK_NT / 32) {
            const int64_t e0 = b0 + lane, ej = bj + r;
            if (e0 < a.ne0 && ej < a.nej)
                gk_stf(a.y + dst + ej * a.ys_j + e0, GK_SLD(tile, lane * (GK_CT_TILE + 1) + r));
            else
                gk_emul_idle_();
        }
    }
}

/* ---- group norm ----------------------------------------------------------------------------- */
/* Block (chunk c, image·group b): count, mean and M2 = Σ (x − mean)² of the chunk's values (two
 * passes, in double), into part[3·(b·chunks + c) ..]. */
GK_BODY(gk_body_gn_part, gk_gn_args) {
    GK_SHARED(double, red, GK_MAX_THREADS);
    GK_LOCAL(double, mean);
    const int64_t cg = a.C / a.groups, cnt = cg * a.plane, chunks = gk_gn_chunks(cnt);
    const int64_t b = GK_BY, n = b / a.groups, g = b % a.groups;
    const int64_t lo = GK_BX * GK_GN_CHUNK, hi = cnt - lo < GK_GN_CHUNK ? cnt : lo + GK_GN_CHUNK;
    const float *x = a.x + (n * a.C + g * cg) * a.plane;
    GK_THREADS {
        double s = 0.0;
        for (int64_t i = lo + tid; i < hi; i += GK_NT) s += gk_ldf(x + i);
        GK_SST(red, tid, s);
    }
    GK_SYNC();
    GK_TREE_SUM_F64(red);
    GK_THREADS { R(mean) = GK_SLD(red, 0) / (double)(hi - lo); }
    GK_SYNC();
    GK_THREADS {
        double s = 0.0;
        for (int64_t i = lo + tid; i < hi; i += GK_NT) {
            const double d = (double)gk_ldf(x + i) - R(mean);
            s += d * d;
        }
        GK_SST(red, tid, s);
    }
    GK_SYNC();
    GK_TREE_SUM_F64(red);
    GK_THREADS {
        if (tid == 0) {
            double *p = a.part + 3 * (b * chunks + GK_BX);
            gk_st_f64(p, (double)(hi - lo));
            gk_st_f64(p + 1, R(mean));
            gk_st_f64(p + 2, GK_SLD(red, 0));
        }
    }
}

/* A thread per image·group: the chunks combined in order (Chan, Golub and LeVeque's pairwise
 * update), stats = mean and 1/sqrt(var + eps). */
GK_BODY(gk_body_gn_stats, gk_gn_args) {
    GK_THREADS {
        const int64_t b = GK_BX * GK_NT + tid, cnt = a.C / a.groups * a.plane, chunks = gk_gn_chunks(cnt);
        if (b < a.N * a.groups) {
            double n = 0.0, mean = 0.0, m2 = 0.0;
            for (int64_t c = 0; c < chunks; c++) {
                const double *p = a.part + 3 * (b * chunks + c);
                const double nb = gk_ld_f64(p), mb = gk_ld_f64(p + 1), m2b = gk_ld_f64(p + 2);
                const double tot = n + nb, d = mb - mean;
                mean += d * nb / tot;
                m2 += m2b + d * d * n * nb / tot;
                n = tot;
            }
            gk_stf(a.stats + 2 * b, (float)mean);
            gk_stf(a.stats + 2 * b + 1, (float)(1.0 / sqrt(m2 / n + (double)a.eps)));
        }
    }
}

/* A thread per element; y may be x. */
GK_BODY(gk_body_gn_apply, gk_gn_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.plane * a.C * a.N) {
            const int64_t t = i / a.plane, c = t % a.C, n = t / a.C, b = n * a.groups + c / (a.C / a.groups);
            const float mean = gk_ldf(a.stats + 2 * b), rstd = gk_ldf(a.stats + 2 * b + 1);
            gk_stf(a.y + i, (gk_ldf(a.x + i) - mean) * rstd * gk_ldf(a.gamma + c) + gk_ldf(a.beta + c));
        }
    }
}

/* ---- layer norm: a warp per row, mean then Σ (x − mean)² (two passes), then the row ------- */
GK_BODY(gk_body_layer_norm, gk_ln_args) {
    GK_LOCAL(float, s);
    GK_LOCAL(float, mean);
    GK_THREADS {
        const int64_t r = GK_BX * (GK_NT / 32) + (tid >> 5);
        float v = 0.0f;
        if (r < a.rows)
            for (int64_t i = tid & 31; i < a.dim; i += 32) v += gk_ldf(a.x + r * a.dim + i);
        R(s) = v;
    }
    GK_WARP_SUM(s);
    GK_THREADS {
        const int64_t r = GK_BX * (GK_NT / 32) + (tid >> 5);
        R(mean) = R(s) / (float)a.dim;
        float v = 0.0f;
        if (r < a.rows)
            for (int64_t i = tid & 31; i < a.dim; i += 32) {
                const float d = gk_ldf(a.x + r * a.dim + i) - R(mean);
                v += d * d;
            }
        R(s) = v;
    }
    GK_WARP_SUM(s);
    GK_THREADS {
        const int64_t r = GK_BX * (GK_NT / 32) + (tid >> 5);
        if (r < a.rows) {
            const float rstd = 1.0f / sqrtf(R(s) / (float)a.dim + a.eps);
            for (int64_t i = tid & 31; i < a.dim; i += 32)
                gk_stf(a.y + r * a.dim + i,
                       (gk_ldf(a.x + r * a.dim + i) - R(mean)) * rstd * gk_ldf(a.gamma + i) + gk_ldf(a.beta + i));
        }
    }
}

/* ---- full attention ------------------------------------------------------------------------- */
/* Keys (or values) kt·bc .. of head h of image n into tile[c][hd + 1] (padded: the score loop's
 * lanes take adjacent keys); keys past tk read as 0. */
GK_DEV void gk_fa_load_tile(const gk_fa_args *a, const float *base, int64_t kt, int bc, int64_t n, int64_t h,
                            GK_SHARED_PARAM(float, tile), int tid, int nt) {
    const int hd = a->head_dim;
    const int64_t dm = (int64_t)a->n_head * hd;
    for (int i = tid; i < bc * hd; i += nt) {
        const int c = i / hd, d = i % hd;
        const int64_t j = kt * bc + c;
        if (j < a->tk)
            GK_SST(tile, c * (hd + 1) + d, gk_ldf(base + (n * a->tk + j) * dm + h * hd + d));
        else
            GK_SST(tile, c * (hd + 1) + d, 0.0f), gk_emul_idle_();
    }
}

GK_BODY(gk_body_full_attention, gk_fa_args) {
    GK_SHARED(float, qs, GK_FA_QS);
    GK_SHARED(float, kv, GK_FA_KV);
    GK_SHARED(float, sc, GK_FA_BR * GK_FA_BC);
    GK_SHARED(float, row_m, GK_FA_BR);
    GK_SHARED(float, row_l, GK_FA_BR);
    GK_SHARED(float, row_alpha, GK_FA_BR);
    GK_LOCAL_ARR(float, o, GK_FA_OREG);
    const int hd = a.head_dim, br = gk_fa_rows(hd), bc = gk_fa_keys(hd), tpr = GK_NT / br;
    const int64_t r0 = GK_BX * br, h = GK_BY, n = GK_BZ, dm = (int64_t)a.n_head * hd;
    const int64_t rows = a.tq - r0 < br ? a.tq - r0 : br;
    const int64_t ntiles = (a.tk + bc - 1) / bc;
    GK_THREADS {
        for (int i = tid; i < br * hd; i += GK_NT) {
            const int r = i / hd, d = i % hd;
            GK_SST(qs, i, r < rows ? gk_ldf(a.q + (n * a.tq + r0 + r) * dm + h * hd + d) * a.scale : 0.0f);
        }
        if (tid < br) {
            GK_SST(row_m, tid, -INFINITY);
            GK_SST(row_l, tid, 0.0f);
        }
        for (int i = 0; i < GK_FA_OREG; i++) R(o)[i] = 0.0f;
        gk_fa_load_tile(&a, a.k, 0, bc, n, h, GK_SHARED_PASS(kv), tid, GK_NT);
    }
    GK_SYNC();
    for (int64_t kt = 0; kt < ntiles; kt++) {
        /* the tile's scores; a key past tk (or a row past the queries) scores -inf */
        GK_THREADS {
            for (int i = tid; i < br * bc; i += GK_NT) {
                const int r = i / bc, c = i % bc;
                float s = -INFINITY;
                if (r < rows && kt * bc + c < a.tk) {
                    s = 0.0f;
                    for (int d = 0; d < hd; d++) s += GK_SLD(qs, r * hd + d) * GK_SLD(kv, c * (hd + 1) + d);
                }
                GK_SST(sc, i, s);
            }
        }
        GK_SYNC();
        /* online softmax per row; the key tile is no longer needed, so values replace it */
        GK_THREADS {
            if (tid < br) {
                float mt = -INFINITY;
                for (int c = 0; c < bc; c++) mt = fmaxf(mt, GK_SLD(sc, tid * bc + c));
                const float mold = GK_SLD(row_m, tid), mnew = fmaxf(mold, mt);
                float alpha = 1.0f, sum = 0.0f;
                if (mnew != -INFINITY) {
                    alpha = gk_expf(mold - mnew);
                    for (int c = 0; c < bc; c++) {
                        const float p = gk_expf(GK_SLD(sc, tid * bc + c) - mnew);
                        GK_SST(sc, tid * bc + c, p);
                        sum += p;
                    }
                } else {
                    for (int c = 0; c < bc; c++) GK_SST(sc, tid * bc + c, 0.0f);
                }
                GK_SST(row_m, tid, mnew);
                GK_SST(row_l, tid, alpha * GK_SLD(row_l, tid) + sum);
                GK_SST(row_alpha, tid, alpha);
            }
            gk_fa_load_tile(&a, a.v, kt, bc, n, h, GK_SHARED_PASS(kv), tid, GK_NT);
        }
        GK_SYNC();
        /* thread owns row tid / tpr and dimensions tid % tpr + tpr·i */
        GK_THREADS {
            const int r = tid / tpr;
            const float alpha = GK_SLD(row_alpha, r);
            GK_UNROLL
            for (int i = 0; i < GK_FA_OREG; i++) {
                const int d = tid % tpr + tpr * i;
                if (d < hd) {
                    float acc = alpha * R(o)[i];
                    for (int c = 0; c < bc; c++) acc += GK_SLD(sc, r * bc + c) * GK_SLD(kv, c * (hd + 1) + d);
                    R(o)[i] = acc;
                }
            }
        }
        GK_SYNC();
        if (kt + 1 < ntiles) {
            GK_THREADS { gk_fa_load_tile(&a, a.k, kt + 1, bc, n, h, GK_SHARED_PASS(kv), tid, GK_NT); }
            GK_SYNC();
        }
    }
    GK_THREADS {
        const int r = tid / tpr;
        if (r < rows) {
            const float inv = 1.0f / GK_SLD(row_l, r);
            GK_UNROLL
            for (int i = 0; i < GK_FA_OREG; i++) {
                const int d = tid % tpr + tpr * i;
                if (d < hd) gk_stf(a.out + (n * a.tq + r0 + r) * dm + h * hd + d, R(o)[i] * inv);
            }
        }
    }
}

/* ---- conv2d's im2col ------------------------------------------------------------------------ */
/* A thread per panel element col[k][pp], pixels innermost: adjacent lanes write adjacent
 * elements and read adjacent input columns (every stride-th at stride > 1). */
GK_BODY(gk_body_im2col, gk_im2col_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.K * a.np) {
            const int64_t k = i / a.np, p = a.p0 + i % a.np, taps = a.kh * a.kw;
            const int64_t ci = k / taps, ky = k % taps / a.kw, kx = k % a.kw;
            const int64_t iy = p / a.wo * a.stride + ky - a.pad, ix = p % a.wo * a.stride + kx - a.pad;
            float v = 0.0f;
            if (iy >= 0 && iy < a.H && ix >= 0 && ix < a.W)
                v = gk_ldf(a.x + ((a.n * a.cin + ci) * a.H + iy) * a.W + ix);
            else
                gk_emul_idle_(); /* a tap in the padding: the lane sits the load out */
            if (a.out_type == GK_F32)
                gk_stf((float *)a.col + i, v);
            else
                gk_st_u16((uint16_t *)a.col + i, gk_f2h(v));
        }
    }
}

#endif
