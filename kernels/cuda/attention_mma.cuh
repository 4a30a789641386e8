/* Block body of prefill attention on the F16 tensor cores (sm_80+; FlashAttention-2's scheme):
 * block (query tile of GK_TCA_BR rows, head h), 4 warps of 16 query rows each. Per tile of
 * GK_TCA_BC keys: the keys and the values (transposed) staged in shared memory as F16; each
 * warp's scores S = Q·Kᵀ as 4 m16n8k16 tiles per 16 dimensions (F32 sums), the causal mask,
 * the online softmax on S's own fragment (a row's 8 values a lane, its max over the row's 4
 * lanes), and O = α·O + P·V with P rounded to F16 straight from S's registers (S's fragment
 * layout is the A operand's). The row sums l add the rounded P, the values P·V multiplies, so
 * O/l is a weighted mean of V. Q·scale, K and V are rounded to F16 (K and V already are in an
 * F16 cache). Serves gk_plan_attn_mma: F16 and Q8_0 caches, head_dim a multiple of 16 up to
 * GK_TCA_DMAX; an F32 cache keeps the scalar kernel (attention.cuh), whose precision it chose. */
#ifndef GK_ATTENTION_MMA_CUH
#define GK_ATTENTION_MMA_CUH
#include "kernels/cuda/attention.cuh"

GK_DEV uint32_t gk_h2_pack(float lo, float hi) { return (uint32_t)gk_f2h(lo) | ((uint32_t)gk_f2h(hi) << 16); }

/* Elements e, e+1 (e even) of a cache row as an F16 pair: one 4-byte load from an F16 row; the
 * block's scale and the two bytes from a Q8_0 one. */
GK_DEV uint32_t gk_kv_pair_h2(int type, const uint8_t *row, int64_t e) {
    if (type == GK_F16) return gk_u32(row + 2 * e);
    const uint8_t *blk = row + 34 * (e >> 5);
    const float d = gk_h2f((uint16_t)gk_u16(blk));
    const uint32_t q = gk_u16(blk + 2 + (e & 31));
    return gk_h2_pack(d * (float)(int8_t)(uint8_t)q, d * (float)(int8_t)(uint8_t)(q >> 8));
}
GK_DEV void gk_kv_pair_idle(int type) {
    gk_emul_idle_();
    if (type == GK_Q8_0) gk_emul_idle_();
}

/* Keys kt·BC .. +BC-1 (0 at or past limit) into kh (a key's dimension pairs, GK_TCA_QW words a
 * key) and vt (a dimension's key pairs, GK_TCA_VW words a dimension): adjacent lanes read
 * adjacent pairs of a key row, and adjacent elements of a value row. */
GK_DEV void gk_fa_stage(const gk_attn_args *a, int64_t kt, int64_t limit, int64_t kvoff,
                        GK_SHARED_PARAM(uint32_t, kh), GK_SHARED_PARAM(uint32_t, vt), int tid, int nt) {
    const int hd = a->head_dim, np = hd / 2;
    for (int i = tid; i < GK_TCA_BC * np; i += nt) {
        const int c = i / np, p = i % np;
        const int64_t j = kt * GK_TCA_BC + c;
        uint32_t w = 0;
        if (j < limit)
            w = gk_kv_pair_h2(a->kv_type, a->k + (size_t)j * a->kv_row_bytes, kvoff + 2 * p);
        else
            gk_kv_pair_idle(a->kv_type);
        GK_SST(kh, c * GK_TCA_QW + p, w);
    }
    for (int i = tid; i < GK_TCA_BC / 2 * hd; i += nt) {
        const int p = i / hd, d = i % hd;
        const int64_t j = kt * GK_TCA_BC + 2 * p;
        float v0 = 0.0f, v1 = 0.0f;
        if (j < limit) v0 = gk_kv_elem(a->kv_type, a->v + (size_t)j * a->kv_row_bytes, kvoff + d);
        else gk_kv_elem_idle(a->kv_type);
        if (j + 1 < limit) v1 = gk_kv_elem(a->kv_type, a->v + (size_t)(j + 1) * a->kv_row_bytes, kvoff + d);
        else gk_kv_elem_idle(a->kv_type);
        GK_SST(vt, d * GK_TCA_VW + p, gk_h2_pack(v0, v1));
    }
}

GK_BODY(gk_body_attn_prefill_mma, gk_attn_args) {
    GK_SHARED(uint32_t, qs, GK_TCA_BR * GK_TCA_QW);
    GK_SHARED(uint32_t, kh, GK_TCA_BC * GK_TCA_QW);
    GK_SHARED(uint32_t, vt, GK_TCA_DMAX * GK_TCA_VW);
    GK_LOCAL_ARR(uint32_t, qf, GK_TCA_DMAX / 4); /* [ks][4]: the warp's Q as A fragments */
    GK_LOCAL_ARR(uint32_t, kf, 8);              /* [nt][2] */
    GK_LOCAL_ARR(uint32_t, pf, 8);              /* [kk][4]: P as A fragments */
    GK_LOCAL_ARR(uint32_t, vf, 4);              /* [kk][2] */
    GK_LOCAL_ARR(float, s, 16);                 /* [nt][4]: the scores of 8 keys each */
    GK_LOCAL_ARR(float, o, GK_TCA_DMAX / 2);     /* [dt][4]: 8 dimensions each */
    GK_LOCAL_ARR(float, mx, 2);                 /* per half (rows g, g+8): the tile's max */
    GK_LOCAL_ARR(float, rm, 2);                 /* the running max */
    GK_LOCAL_ARR(float, rl, 2);                 /* the running sum, this lane's part */
    /* loops over dimensions run to GK_TCA_DMAX, unrolled, and skip past head_dim: the
     * fragments' indices are then constants, so they stay in registers */
    const int64_t r0 = GK_BX * GK_TCA_BR, h = GK_BY;
    const int hd = a.head_dim, nks = hd / 16, ndt = hd / 8;
    const int64_t kvoff = (h / (a.n_head / a.n_kv_head)) * hd;
    const int64_t rows = a.T - r0 < GK_TCA_BR ? a.T - r0 : GK_TCA_BR;
    const int64_t limit = a.pos0 + r0 + rows; /* keys any row of this tile may see */
    const int64_t ntiles = (limit + GK_TCA_BC - 1) / GK_TCA_BC;
    GK_THREADS {
        for (int i = tid; i < GK_TCA_BR * (hd / 2); i += GK_NT) {
            const int r = i / (hd / 2), p = i % (hd / 2);
            uint32_t w = 0;
            if (r < rows) {
                float q2[2];
                gk_ldf2(a.q + ((r0 + r) * a.n_head + h) * hd + 2 * p, q2);
                w = gk_h2_pack(q2[0] * a.scale, q2[1] * a.scale);
            } else {
                gk_emul_idle_();
            }
            GK_SST(qs, r * GK_TCA_QW + p, w);
        }
        for (int i = 0; i < 2; i++) R(rm)[i] = -INFINITY, R(rl)[i] = 0.0f;
        for (int i = 0; i < GK_TCA_DMAX / 2; i++) R(o)[i] = 0.0f;
    }
    GK_SYNC();
    GK_THREADS {
        const int row = 16 * (tid >> 5) + ((tid & 31) >> 2), t = tid & 3;
        GK_UNROLL
        for (int ks = 0; ks < GK_TCA_DMAX / 16; ks++) {
            if (ks < nks) gk_frag_a(GK_SHARED_PASS(qs), row, GK_TCA_QW, 8 * ks, t, &R(qf)[4 * ks]);
        }
    }
    for (int64_t kt = 0; kt < ntiles; kt++) {
        GK_THREADS {
            gk_fa_stage(&a, kt, limit, kvoff, GK_SHARED_PASS(kh), GK_SHARED_PASS(vt), tid, GK_NT);
            for (int i = 0; i < 16; i++) R(s)[i] = 0.0f;
        }
        GK_SYNC();
        GK_UNROLL
        for (int ks = 0; ks < GK_TCA_DMAX / 16; ks++) {
            if (ks >= nks) continue;
            GK_THREADS {
                const int g = (tid & 31) >> 2, t = tid & 3;
                for (int nt = 0; nt < 4; nt++)
                    gk_frag_b(GK_SHARED_PASS(kh), 8 * nt + g, GK_TCA_QW, 8 * ks, t, &R(kf)[2 * nt]);
            }
            GK_UNROLL
            for (int nt = 0; nt < 4; nt++) GK_MMA_F16(s, 4 * nt, qf, 4 * ks, kf, 2 * nt);
        }
        /* the causal mask (and rows past T), then each row's max over its 4 lanes */
        GK_THREADS {
            const int g = (tid & 31) >> 2, t = tid & 3;
            R(mx)[0] = R(mx)[1] = -INFINITY;
            for (int i = 0; i < 16; i++) {
                const int hh = (i >> 1) & 1, row = 16 * (tid >> 5) + g + 8 * hh;
                const int64_t j = kt * GK_TCA_BC + 8 * (i >> 2) + 2 * t + (i & 1);
                if (row >= rows || j > a.pos0 + r0 + row) R(s)[i] = -INFINITY;
                R(mx)[hh] = fmaxf(R(mx)[hh], R(s)[i]);
            }
        }
        GK_QUAD_MAX_AT(mx, 0);
        GK_QUAD_MAX_AT(mx, 1);
        /* the online softmax: rescale O and l by exp(m_old - m_new), P = exp(S - m_new) in F16 */
        GK_THREADS {
            float mnew[2], alpha[2];
            for (int hh = 0; hh < 2; hh++) {
                mnew[hh] = fmaxf(R(rm)[hh], R(mx)[hh]);
                alpha[hh] = mnew[hh] == -INFINITY ? 1.0f : gk_expf(R(rm)[hh] - mnew[hh]);
                R(rm)[hh] = mnew[hh];
                R(rl)[hh] *= alpha[hh];
            }
            for (int i = 0; i < GK_TCA_DMAX / 2; i++) R(o)[i] *= alpha[(i >> 1) & 1];
            uint16_t ph[16];
            for (int i = 0; i < 16; i++) {
                const int hh = (i >> 1) & 1;
                ph[i] = gk_f2h(mnew[hh] == -INFINITY ? 0.0f : gk_expf(R(s)[i] - mnew[hh]));
                R(rl)[hh] += gk_h2f(ph[i]);
            }
            /* P's 16 keys kk as A: rows g / g+8 of key tiles 2kk (keys 2t..) and 2kk+1 (2t+8..) */
            for (int kk = 0; kk < 2; kk++)
                for (int r = 0; r < 4; r++) {
                    const int i = 4 * (2 * kk + (r >> 1)) + 2 * (r & 1);
                    R(pf)[4 * kk + r] = (uint32_t)ph[i] | ((uint32_t)ph[i + 1] << 16);
                }
        }
        GK_UNROLL
        for (int dt = 0; dt < GK_TCA_DMAX / 8; dt++) {
            if (dt >= ndt) continue;
            GK_THREADS {
                const int g = (tid & 31) >> 2, t = tid & 3;
                for (int kk = 0; kk < 2; kk++)
                    gk_frag_b(GK_SHARED_PASS(vt), 8 * dt + g, GK_TCA_VW, 8 * kk, t, &R(vf)[2 * kk]);
            }
            GK_MMA_F16(o, 4 * dt, pf, 0, vf, 0);
            GK_MMA_F16(o, 4 * dt, pf, 4, vf, 2);
        }
        GK_SYNC(); /* the next tile is staged over this one */
    }
    GK_QUAD_SUM_AT(rl, 0);
    GK_QUAD_SUM_AT(rl, 1);
    /* a lane's two adjacent dimensions of rows g and g+8: 8 rows x 32 bytes a warp-step */
    GK_THREADS {
        const int g = (tid & 31) >> 2, t = tid & 3;
        for (int hh = 0; hh < 2; hh++) {
            const int row = 16 * (tid >> 5) + g + 8 * hh;
            const float inv = row < rows ? 1.0f / R(rl)[hh] : 0.0f;
            GK_UNROLL
            for (int dt = 0; dt < GK_TCA_DMAX / 8; dt++) {
                if (dt >= ndt) continue;
                if (row < rows) {
                    const float v2[2] = {R(o)[4 * dt + 2 * hh] * inv, R(o)[4 * dt + 2 * hh + 1] * inv};
                    gk_stf2(a.out + ((r0 + row) * a.n_head + h) * hd + 8 * dt + 2 * t, v2);
                } else {
                    gk_emul_idle_();
                }
            }
        }
    }
}

#endif
