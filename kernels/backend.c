/* The backend registry, the op and family names, supports() and backend-independent tensor
 * helpers (strides, views). */
#include "kernels/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/op_checks.h"

static const gk_backend_desc *const registry[] = {
    &gk_ref_backend,
    &gk_cpu_backend,
#ifdef GC_HAVE_CUDA
    &gk_cuda_backend,
#endif
};
enum { N_BACKENDS = sizeof registry / sizeof registry[0] };

static const gk_backend_desc *find(const char *name) {
    for (int i = 0; name && i < N_BACKENDS; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

static void list_names(char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < N_BACKENDS && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", registry[i]->name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

gk_backend *gk_backend_open(const char *name, const gk_backend_opts *o, char *err, size_t errlen) {
    const gk_backend_desc *d = find(name);
    if (!d) {
        char names[128];
        list_names(names, sizeof names);
        snprintf(err, errlen, "backend '%s' unknown (this build has: %s)", name ? name : "(null)", names);
        return NULL;
    }
    char why[256] = "";
    if (!d->available(why, sizeof why)) {
        snprintf(err, errlen, "backend '%s' not available here: %s", d->name, why);
        return NULL;
    }
    gk_backend_opts def = {0};
    return d->open(o ? o : &def, err, errlen);
}

void gk_backend_close(gk_backend *b) {
    if (!b) return;
    const gk_backend_desc *d = find(b->name);
    if (d) d->close(b);
}

const char *const *gk_backend_names(void) {
    static const char *names[N_BACKENDS + 1];
    for (int i = 0; i < N_BACKENDS; i++) names[i] = registry[i]->name;
    names[N_BACKENDS] = NULL;
    return names;
}

bool gk_backend_available(const char *name, char *why, size_t whylen) {
    const gk_backend_desc *d = find(name);
    if (!d) {
        if (why && whylen) snprintf(why, whylen, "not compiled into this build");
        return false;
    }
    char tmp[8];
    return d->available(why && whylen ? why : tmp, why && whylen ? whylen : sizeof tmp);
}

const char *gk_backend_error(const gk_backend *b) { return b ? b->err : "no backend"; }

int gk_backend_devices(const char *name, gk_device_info *out, int max) {
    const gk_backend_desc *d = find(name);
    if (!d || !d->devices || max <= 0) return 0;
    return d->devices(out, max);
}

/* ---- ops, families, supports ---------------------------------------------------------------- */

#define GK_NAME_(U, l) [GK_OP_##U] = #l,
static const char *const op_names[GK_OP_COUNT + 1] = {GK_CORE_OPS(GK_NAME_) GK_IMAGE_OPS(GK_NAME_)
                                                          GK_TRAIN_OPS(GK_NAME_)};
#undef GK_NAME_
#define GK_ONE_(U, l) +1
enum {
    N_CORE = 0 GK_CORE_OPS(GK_ONE_),
    N_IMAGE = 0 GK_IMAGE_OPS(GK_ONE_),
};
#undef GK_ONE_

const char *gk_op_name(gk_op op) { return op >= 0 && op < GK_OP_COUNT ? op_names[op] : "?"; }

gk_family gk_op_family(gk_op op) {
    if (op < 0 || op >= GK_OP_COUNT) return GK_FAMILY_COUNT;
    int i = (int)op;
    if (i < N_CORE) return GK_FAMILY_CORE;
    return i < N_CORE + N_IMAGE ? GK_FAMILY_IMAGE : GK_FAMILY_TRAIN;
}

const char *gk_family_name(gk_family f) {
    static const char *const names[] = {"core", "image", "train"};
    return f >= 0 && f < GK_FAMILY_COUNT ? names[f] : "?";
}

/* Whether a family table has op's entry: one case per op, generated from the family's list. */
#define GK_HAS_(U, l) case GK_OP_##U: return f->l != NULL;
static bool core_has(const gk_core_ops *f, gk_op op) {
    switch (op) {
    GK_CORE_OPS(GK_HAS_)
    default: return false;
    }
}
static bool image_has(const gk_image_ops *f, gk_op op) {
    switch (op) {
    GK_IMAGE_OPS(GK_HAS_)
    default: return false;
    }
}
static bool train_has(const gk_train_ops *f, gk_op op) {
    switch (op) {
    GK_TRAIN_OPS(GK_HAS_)
    default: return false;
    }
}
#undef GK_HAS_

int gk_step(gk_backend *b, int begin) { return b->ops->step ? b->ops->step(b, begin) : 0; }

int gk_prepare_weight(gk_backend *b, gk_tensor *t) {
    return b->ops->prepare_weight ? b->ops->prepare_weight(b, t) : 0;
}

bool gk_has_op(const gk_backend *b, gk_op op) {
    const gk_ops *o = b->ops;
    switch (gk_op_family(op)) {
    case GK_FAMILY_CORE: return o->core && core_has(o->core, op);
    case GK_FAMILY_IMAGE: return o->image && image_has(o->image, op);
    case GK_FAMILY_TRAIN: return o->train && train_has(o->train, op);
    default: return false;
    }
}

bool gk_unsupported(gk_backend *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    return false;
}

int gk_op_missing(gk_backend *b, gk_op op) {
    return gk_fail(b, "%s: backend %s does not have this op (%s family)", gk_op_name(op), b->name,
                   gk_family_name(gk_op_family(op)));
}

bool gk_supports_default(gk_backend *b, gk_op op, const int *types, int n_types, const void *params) {
    (void)params;
    if (gk_op_family(op) == GK_FAMILY_COUNT) return gk_unsupported(b, "op %d is not an op", (int)op);
    if (!gk_has_op(b, op)) {
        gk_op_missing(b, op);
        return false;
    }
    return gk_op_accepts(b, op, types, n_types);
}

bool gk_backend_supports_params(gk_backend *b, gk_op op, const int *types, int n_types, const void *params) {
    if (n_types > 0 && !types)
        return gk_unsupported(b, "%s: %d operand types asked, none given", gk_op_name(op), n_types);
    if (b->ops->supports) return b->ops->supports(b, op, types, n_types, params);
    return gk_supports_default(b, op, types, n_types, params);
}

bool gk_backend_supports(gk_backend *b, gk_op op, const int *types, int n_types) {
    return gk_backend_supports_params(b, op, types, n_types, NULL);
}

/* ---- tensors -------------------------------------------------------------------------------- */

size_t gk_nbytes(int type, const int64_t ne[4]) {
    size_t row = gk_type_bytes(type, ne[0]);
    if (!row && ne[0] != 0) return 0;
    size_t n = row;
    for (int i = 1; i < 4; i++) {
        if (ne[i] < 0) return 0;
        n *= (size_t)ne[i];
    }
    return n;
}

int64_t gk_nelements(const gk_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

size_t gk_row_bytes(const gk_tensor *t) { return gk_type_bytes(t->type, t->ne[0]); }

void gk_contiguous_strides(int type, const int64_t ne[4], size_t nb[4]) {
    const gk_type_info *ti = gk_type_get(type);
    nb[0] = ti ? ti->block_bytes : 0;
    nb[1] = ti ? nb[0] * (size_t)(ne[0] / ti->block) : 0;
    for (int i = 2; i < 4; i++) nb[i] = nb[i - 1] * (size_t)ne[i - 1];
}

bool gk_is_contiguous(const gk_tensor *t) {
    const gk_type_info *ti = gk_type_get(t->type);
    if (!ti) return false;
    size_t want = ti->block_bytes;
    if (t->ne[0] > ti->block && t->nb[0] != want) return false;
    want *= (size_t)(t->ne[0] / ti->block);
    for (int i = 1; i < 4; i++) {
        if (t->ne[i] == 1) continue;
        if (t->nb[i] != want) return false;
        want *= (size_t)t->ne[i];
    }
    return true;
}

int gk_layout_contiguous(gk_backend *b, gk_tensor *t) {
    if (!gk_type_get(t->type)) return gk_fail(b, "alloc: unsupported tensor type %d", t->type);
    for (int i = 0; i < 4; i++)
        if (t->ne[i] < 1) t->ne[i] = 1;
    size_t n = gk_nbytes(t->type, t->ne);
    if (!n)
        return gk_fail(b, "alloc: %s row of %lld elements is not a whole number of blocks",
                       gk_type_name(t->type), (long long)t->ne[0]);
    gk_contiguous_strides(t->type, t->ne, t->nb);
    t->nbytes = n;
    return 0;
}

/* Bytes from the first to past the last element of shape ne with strides nb (0 when empty). */
static size_t span_bytes(const gk_type_info *ti, const int64_t ne[4], const size_t nb[4]) {
    for (int i = 0; i < 4; i++)
        if (ne[i] == 0) return 0;
    size_t last = (size_t)(ne[0] / ti->block - 1) * nb[0];
    for (int i = 1; i < 4; i++) last += (size_t)(ne[i] - 1) * nb[i];
    return last + ti->block_bytes;
}

static int view_fail(const gk_tensor *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int view_fail(const gk_tensor *t, const char *fmt, ...) {
    if (t->be) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(t->be->err, sizeof t->be->err, "view: ");
        vsnprintf(t->be->err + n, sizeof t->be->err - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int gk_view(gk_tensor *v, const gk_tensor *t, size_t offset, const int64_t ne[4], const size_t nb[4]) {
    const gk_type_info *ti = gk_type_get(t->type);
    if (!ti || !t->data) return view_fail(t, "the tensor has no storage");
    if (t->layout) return view_fail(t, "a prepared weight's storage is laid out by its backend, not in rows");
    size_t st[4], bb = ti->block_bytes;
    for (int i = 0; i < 4; i++)
        if (ne[i] < 0) return view_fail(t, "dimension %d of %lld elements", i, (long long)ne[i]);
    if (ne[0] % ti->block)
        return view_fail(t, "%s rows of %lld elements are not whole blocks", ti->name, (long long)ne[0]);
    if (nb) memcpy(st, nb, sizeof st);
    else gk_contiguous_strides(t->type, ne, st);
    if (ti->block > 1 && st[0] != bb)
        return view_fail(t, "%s elements inside a row cannot be strided", ti->name);
    if (offset % bb) return view_fail(t, "offset %zu is not a whole number of %zu-byte elements", offset, bb);
    for (int i = 0; i < 4; i++)
        if (st[i] % bb) return view_fail(t, "stride %zu of dimension %d is not whole elements", st[i], i);
    size_t span = span_bytes(ti, ne, st);
    if (offset > t->nbytes || span > t->nbytes - offset)
        return view_fail(t, "%zu bytes at offset %zu exceed the tensor's %zu", span, offset, t->nbytes);
    *v = *t;
    memcpy(v->ne, ne, sizeof v->ne);
    memcpy(v->nb, st, sizeof v->nb);
    v->nbytes = span;
    /* Pointer arithmetic only: valid for device addresses too, never dereferenced here. */
    v->data = (char *)t->data + offset;
    v->view = true;
    return 0;
}

int gk_view_transposed(gk_tensor *v, const gk_tensor *t) {
    const gk_type_info *ti = gk_type_get(t->type);
    if (ti && ti->block > 1) return view_fail(t, "a %s matrix cannot be transposed in place", ti->name);
    const int64_t ne[4] = {t->ne[1], t->ne[0], t->ne[2], t->ne[3]};
    const size_t nb[4] = {t->nb[1], t->nb[0], t->nb[2], t->nb[3]};
    return gk_view(v, t, 0, ne, nb);
}

gk_tensor gk_view_rows(const gk_tensor *t, int64_t row0, int64_t nrows) {
    gk_tensor v = *t;
    v.view = true;
    v.data = NULL;
    /* rows of a contiguous tensor are evenly spaced whatever its dimensions */
    size_t rb = gk_is_contiguous(t) ? gk_row_bytes(t) : t->nb[1];
    bool two_d = gk_is_contiguous(t) || (t->ne[2] == 1 && t->ne[3] == 1);
    const int64_t ne[4] = {t->ne[0], nrows, 1, 1};
    const size_t nb[4] = {t->nb[0], rb, rb * (size_t)nrows, rb * (size_t)nrows};
    if (!two_d || row0 < 0 || nrows < 0 || row0 + nrows > t->ne[1] * t->ne[2] * t->ne[3]) return v;
    if (gk_view(&v, t, rb * (size_t)row0, ne, nb)) v.data = NULL;
    return v;
}

int gk_new2d(gk_backend *b, gk_tensor *t, int type, int64_t ne0, int64_t ne1) {
    memset(t, 0, sizeof *t);
    t->type = type;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = t->ne[3] = 1;
    return b->ops->alloc(b, t);
}
