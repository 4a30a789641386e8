/* The "cpu" backend's matmul entry: Y = alpha · op(X) · op(W)ᵀ + beta · Y on any strides.
 *
 * The default form on contiguous tensors (every matmul of the llm) goes straight to the
 * kernels of cpu_matmul.c. Every other form is first brought to it, so the same kernels run.
 * op(W) = Wᵀ (training's dX = dY·W and dW += dYᵀ·X) goes by panels of W's columns, each
 * decoded and transposed into F32 rows, so the extra memory is a panel, not a copy of W (a
 * quantised base stays quantised). Otherwise op(W) is used in place when its rows are evenly
 * spaced whole rows, else decoded to F32 rows (a strided float view). op(X) is used in place
 * when contiguous, else gathered (transposed a tile of columns at a time). Y is written in
 * place when contiguous and beta = 0, or beta = 1 with alpha = 1 where the kernels can
 * accumulate (the sgemm path: every weight gradient); else the product goes to scratch and is
 * combined into Y. Each copy is one threaded pass over the operand, small beside the product
 * when M is large.
 */
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/op_checks.h"

typedef struct form_job {
    const gk_tensor *t;       /* the operand copied */
    const float *src;         /* or its rows decoded to F32 (src_cols floats a row) */
    int64_t src_cols;
    float *dst;               /* rows of dst_cols floats */
    int64_t dst_cols;
    /* combining into y */
    gk_tensor *y;
    float alpha, beta;
} form_job;

static const char *row_at(const gk_tensor *t, int64_t r) {
    return (const char *)t->data + gk_row_offset(t, r);
}

/* The float-type element at p. */
static float elem_at(const char *p, int type) {
    uint16_t h;
    switch (type) {
    case GK_F32: {
        float v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case GK_F16: memcpy(&h, p, 2); return gk_f16_to_f32(h);
    default: memcpy(&h, p, 2); return gk_bf16_to_f32(h);   /* BF16: the float types op_checks allows */
    }
}

/* Element (r, c) of a float-type tensor, whatever its strides. */
static float elem(const gk_tensor *t, int64_t r, int64_t c) {
    return elem_at(row_at(t, r) + (size_t)c * t->nb[0], t->type);
}

static bool whole_rows(const gk_tensor *t) {
    const gk_type_info *ti = gk_type_get(t->type);
    return t->nb[0] == ti->block_bytes || t->ne[0] <= ti->block;
}

/* dst rows r0..r1 = rows of t decoded to F32. */
static void decode_rows(void *ctx, int64_t r0, int64_t r1) {
    form_job *j = ctx;
    const gk_tensor *t = j->t;
    for (int64_t r = r0; r < r1; r++) {
        float *out = j->dst + r * j->dst_cols;
        if (whole_rows(t)) gk_type_get(t->type)->to_f32(row_at(t, r), out, t->ne[0]);
        else
            for (int64_t c = 0; c < t->ne[0]; c++) out[c] = elem(t, r, c);
    }
}

enum { TRANSPOSE_UNIT = 16 };   /* source columns per unit: a cache line of F32 read per row */

/* dst rows [u0, u1)·TRANSPOSE_UNIT = those columns of the source (its decoded rows src, or the
 * float tensor t): TRANSPOSE_UNIT source rows at a time into a tile, written out 16 contiguous
 * floats a column (a gather down one column at a time recomputed every row's offset and missed
 * the cache on every element). */
static void transpose_rows(void *ctx, int64_t u0, int64_t u1) {
    form_job *j = ctx;
    const int64_t rows = j->dst_cols, cols = j->src ? j->src_cols : j->t->ne[0];
    const int64_t c0 = u0 * TRANSPOSE_UNIT, c1 = u1 * TRANSPOSE_UNIT < cols ? u1 * TRANSPOSE_UNIT : cols;
    float tile[TRANSPOSE_UNIT][TRANSPOSE_UNIT];
    for (int64_t cb = c0; cb < c1; cb += TRANSPOSE_UNIT) {
        const int64_t nc = c1 - cb < TRANSPOSE_UNIT ? c1 - cb : TRANSPOSE_UNIT;
        for (int64_t r0 = 0; r0 < rows; r0 += TRANSPOSE_UNIT) {
            const int64_t nr = rows - r0 < TRANSPOSE_UNIT ? rows - r0 : TRANSPOSE_UNIT;
            for (int64_t r = 0; r < nr; r++) {
                if (j->src) {
                    memcpy(tile[r], j->src + (r0 + r) * j->src_cols + cb, (size_t)nc * sizeof(float));
                    continue;
                }
                const char *in = row_at(j->t, r0 + r);
                const size_t nb0 = j->t->nb[0];
                if (j->t->type == GK_F32 && nb0 == sizeof(float))
                    memcpy(tile[r], (const float *)in + cb, (size_t)nc * sizeof(float));
                else
                    for (int64_t c = 0; c < nc; c++) tile[r][c] = elem_at(in + (size_t)(cb + c) * nb0, j->t->type);
            }
            for (int64_t c = 0; c < nc; c++) {
                float *out = j->dst + (cb + c) * rows + r0;
                for (int64_t r = 0; r < nr; r++) out[r] = tile[r][c];
            }
        }
    }
}

/* y rows i0..i1 = alpha · product + beta · y (y not read when beta = 0); src: the product. */
static void combine_rows(void *ctx, int64_t i0, int64_t i1) {
    form_job *j = ctx;
    const int64_t n = j->dst_cols;
    for (int64_t i = i0; i < i1; i++) {
        const float *src = j->src + i * n;
        char *row = (char *)j->y->data + gk_row_offset(j->y, i);
        if (j->y->nb[0] == sizeof(float)) {
            float *yv = (float *)row;
            if (j->beta != 0.0f)
                for (int64_t c = 0; c < n; c++) yv[c] = j->alpha * src[c] + j->beta * yv[c];
            else
                for (int64_t c = 0; c < n; c++) yv[c] = j->alpha * src[c];
            continue;
        }
        for (int64_t c = 0; c < n; c++) {
            float *yv = (float *)(row + (size_t)c * j->y->nb[0]);
            float v = j->alpha * src[c];
            *yv = j->beta != 0.0f ? v + j->beta * *yv : v;
        }
    }
}

/* op(t) as contiguous F32 rows in scratch slot (transposed: its columns). NULL when out of memory. */
static float *as_f32_rows(gk_cpu *c, int slot, const gk_tensor *t, bool trans) {
    int64_t rows = gk_rows(t), cols = t->ne[0];
    float *dst = gk_cpu_scratch(c, slot, (size_t)(rows * cols) * sizeof(float) + 1);
    if (!dst) return NULL;
    form_job j = {.t = t, .dst = dst, .dst_cols = trans ? rows : cols};
    if (!trans) {
        gk_cpu_rows(c, rows, 8.0 * (double)cols, decode_rows, &j);
        return dst;
    }
    if (gk_type_get(t->type)->block > 1) {   /* block rows decode whole: decode, then transpose */
        float *tmp = gk_cpu_scratch(c, CPU_SCRATCH_FORM_TMP, (size_t)(rows * cols) * sizeof(float) + 1);
        if (!tmp) return NULL;
        form_job d = {.t = t, .dst = tmp, .dst_cols = cols};
        gk_cpu_rows(c, rows, 8.0 * (double)cols, decode_rows, &d);
        j.src = tmp;
        j.src_cols = cols;
    }
    gk_cpu_rows(c, (cols + TRANSPOSE_UNIT - 1) / TRANSPOSE_UNIT, 8.0 * TRANSPOSE_UNIT * (double)rows, transpose_rows, &j);
    return dst;
}

/* ---- trans_w on whole-block rows: W's columns a panel at a time ----------------------------- */

/* Panel rows (W's columns) per thread count, a multiple of 256 (every block type's block), so a
 * panel's part of a W row is whole blocks; wide enough that the sgemm's units (128 outputs each)
 * keep every thread busy, and never more than PANEL_MAX. */
enum { PANEL_MAX = 2048 };   /* a multiple of PANEL_SPAN */

int64_t gk_cpu_wt_panel_cols(int n_threads) {
    int64_t p = 512 * (int64_t)((n_threads + 3) / 4);
    return p < PANEL_MAX ? p : PANEL_MAX;
}

typedef struct panel_job {
    const gk_tensor *w;
    int64_t k0, pw;          /* W's columns k0 .. k0+pw */
    float *panel;            /* pw rows of wrows floats: panel[c·wrows + r] = W[r][k0 + c] */
    int64_t wrows;
    const float *prod;       /* the product for those columns: M rows of pw floats */
    gk_tensor *y;
    float alpha, beta;
} panel_job;

enum {
    PANEL_UNIT = 16,         /* W rows per unit: 16 consecutive floats of each panel row, a cache line */
    PANEL_SPAN = 256,        /* W columns per unit (whole blocks of every type) */
};

/* Unit u: W rows PANEL_UNIT·(u / spans) .., columns k0 + PANEL_SPAN·(u % spans) ..: decoded into
 * a tile, then written down the panel 16 contiguous floats at a time (a float at a time, one
 * row after another, cost as much as the product's packing). */
static void panel_tiles(void *ctx, int64_t u0, int64_t u1) {
    panel_job *j = ctx;
    const gk_type_info *ti = gk_type_get(j->w->type);
    const int64_t spans = (j->pw + PANEL_SPAN - 1) / PANEL_SPAN;
    float tile[PANEL_UNIT][PANEL_SPAN];
    for (int64_t u = u0; u < u1; u++) {
        const int64_t r0 = u / spans * PANEL_UNIT, c0 = u % spans * PANEL_SPAN;
        const int64_t nr = j->wrows - r0 < PANEL_UNIT ? j->wrows - r0 : PANEL_UNIT;
        const int64_t nc = j->pw - c0 < PANEL_SPAN ? j->pw - c0 : PANEL_SPAN;
        const size_t skip = (size_t)((j->k0 + c0) / ti->block) * j->w->nb[0];
        for (int64_t r = 0; r < nr; r++) ti->to_f32(row_at(j->w, r0 + r) + skip, tile[r], nc);
        for (int64_t c = 0; c < nc; c++) {
            float *dst = j->panel + (c0 + c) * j->wrows + r0;
            for (int64_t r = 0; r < nr; r++) dst[r] = tile[r][c];
        }
    }
}

/* Y rows i0..i1, columns k0 .. k0+pw = alpha · product + beta · Y (Y not read when beta = 0). */
static void panel_combine(void *ctx, int64_t i0, int64_t i1) {
    panel_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) {
        const float *src = j->prod + i * j->pw;
        if (j->y->nb[0] == sizeof(float)) {
            float *yv = (float *)(row_at(j->y, i)) + j->k0;
            if (j->beta != 0.0f)
                for (int64_t c = 0; c < j->pw; c++) yv[c] = j->alpha * src[c] + j->beta * yv[c];
            else
                for (int64_t c = 0; c < j->pw; c++) yv[c] = j->alpha * src[c];
            continue;
        }
        for (int64_t c = 0; c < j->pw; c++) {
            float *yv = (float *)(row_at(j->y, i) + (size_t)(j->k0 + c) * j->y->nb[0]);
            *yv = j->beta != 0.0f ? j->alpha * src[c] + j->beta * *yv : j->alpha * src[c];
        }
    }
}

/* Y = alpha · op(X) · W + beta · Y for W of whole-block rows (any type): W's columns, a panel of
 * gk_cpu_wt_panel_cols() at a time, decoded and transposed into F32 rows (extra memory: the
 * panel, panel × W's rows floats, and at most its product, panel × M floats; never all of W),
 * each panel multiplied on the default form's kernels. The product goes straight into Y's
 * columns when Y is contiguous, alpha is 1 and beta 0, or beta 1 on the sgemm path (the weight
 * gradient's dW += dYᵀ·X: no copy of Y, no combining pass); else into scratch, then combined.
 * xp: op(X) as contiguous F32 rows. */
static int matmul_wt_panels(gk_backend *b, gk_tensor *y, const gk_tensor *w, const float *xp, const gk_mm_dims *d,
                            const gk_matmul_params *q) {
    gk_cpu *c = gk_cpu_of(b);
    /* With trans_x and a float W (dW += dYᵀ·X) W is the activations X: one panel, no larger than
     * op(X)'s copy, so op(X) is packed once rather than once per panel. */
    const bool one = q->trans_x && gk_type_get(w->type)->block == 1;
    const int64_t P = one ? d->n : gk_cpu_wt_panel_cols(gk_pool_size(c->pool)), pmax = d->n < P ? d->n : P;
    const bool acc = q->beta == 1.0f && gk_cpu_linear_accumulates(b, GK_F32, d->m);
    const bool direct = gk_is_contiguous(y) && q->alpha == 1.0f && (q->beta == 0.0f || acc);
    float *panel = gk_cpu_scratch(c, CPU_SCRATCH_FORM_W, (size_t)(pmax * d->k) * sizeof(float) + 1);
    float *prod = direct ? y->data : gk_cpu_scratch(c, CPU_SCRATCH_FORM_Y, (size_t)(pmax * d->m) * sizeof(float) + 1);
    if (!panel || !prod) return gk_fail(b, "matmul: out of memory for a panel of W");
    for (int64_t k0 = 0; k0 < d->n; k0 += P) {
        panel_job j = {.w = w, .k0 = k0, .pw = d->n - k0 < P ? d->n - k0 : P, .panel = panel, .wrows = d->k,
                       .prod = prod, .y = y, .alpha = q->alpha, .beta = q->beta};
        const int64_t units = (d->k + PANEL_UNIT - 1) / PANEL_UNIT * ((j.pw + PANEL_SPAN - 1) / PANEL_SPAN);
        gk_cpu_rows(c, units, 8.0 * PANEL_UNIT * PANEL_SPAN, panel_tiles, &j);
        if (direct) {
            if (gk_cpu_linear_into(b, (float *)y->data + k0, d->n, acc && q->beta != 0.0f, GK_F32, 0, panel,
                                   (size_t)d->k * sizeof(float), d->k, j.pw, xp, d->m))
                return -1;
            continue;
        }
        if (gk_cpu_linear(b, prod, GK_F32, panel, (size_t)d->k * sizeof(float), d->k, j.pw, xp, d->m)) return -1;
        gk_cpu_rows(c, d->m, 12.0 * (double)j.pw, panel_combine, &j);
    }
    return 0;
}

int gk_cpu_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                  const gk_matmul_params *p) {
    gk_mm_dims d;
    if (gk_check_matmul(b, y, w, x, p, &d)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    const gk_matmul_params q = gk_matmul_resolve(p);
    if (d.m == 0 || d.n == 0) return 0;
    /* a prepared weight's storage is not rows (cpu_weights.c): only its own paths read it */
    if (w->layout && q.trans_w)
        return gk_fail(b, "matmul: a prepared %s weight is read only in the default form, not transposed",
                       gk_type_name(w->type));

    /* Wᵀ of whole-block rows: by panels (op(X) brought to contiguous F32 rows first) */
    if (q.trans_w && whole_rows(w)) {
        const float *xp = x->data;
        if (q.trans_x || !gk_is_contiguous(x)) xp = as_f32_rows(c, CPU_SCRATCH_FORM_X, x, q.trans_x);
        if (!xp) return gk_fail(b, "matmul: out of memory for operands in the default form");
        return matmul_wt_panels(b, y, w, xp, &d, &q);
    }
    /* op(W): in place when its rows are whole and evenly spaced (contiguous, or one strided matrix) */
    int wtype = w->type;
    const void *wp = w->data;
    size_t wrow = gk_is_contiguous(w) ? gk_row_bytes(w) : w->nb[1];
    if (q.trans_w || !whole_rows(w) || !(gk_is_contiguous(w) || (w->ne[2] == 1 && w->ne[3] == 1))) {
        wp = as_f32_rows(c, CPU_SCRATCH_FORM_W, w, q.trans_w);
        wtype = GK_F32;
        wrow = (size_t)d.k * sizeof(float);
    }
    /* op(X): in place when contiguous and not transposed */
    const float *xp = x->data;
    if (q.trans_x || !gk_is_contiguous(x)) xp = as_f32_rows(c, CPU_SCRATCH_FORM_X, x, q.trans_x);
    /* Y: in place when contiguous and its old contents are not needed */
    bool acc = q.beta == 1.0f && q.alpha == 1.0f && gk_cpu_linear_accumulates(b, wtype, d.m);
    bool y_direct = gk_is_contiguous(y) && (q.beta == 0.0f || acc);
    float *yp = y->data;
    if (!y_direct) yp = gk_cpu_scratch(c, CPU_SCRATCH_FORM_Y, (size_t)(d.m * d.n) * sizeof(float));
    if (!wp || !xp || !yp) return gk_fail(b, "matmul: out of memory for operands in the default form");

    if (gk_cpu_linear_into(b, yp, d.n, y_direct && acc, wtype, wtype == w->type ? w->layout : 0, wp, wrow, d.k, d.n,
                           xp, d.m))
        return -1;
    if (y_direct && q.alpha == 1.0f) return 0;
    form_job j = {.src = yp, .dst_cols = d.n, .y = y, .alpha = q.alpha, .beta = y_direct ? 0.0f : q.beta};
    gk_cpu_rows(c, d.m, 12.0 * (double)d.n, combine_rows, &j);
    return 0;
}
