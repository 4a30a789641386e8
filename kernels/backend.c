/* The backend registry and backend-independent tensor helpers. */
#include "kernels/backend.h"

#include <stdio.h>
#include <string.h>

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

gk_tensor gk_view_rows(const gk_tensor *t, int64_t row0, int64_t nrows) {
    gk_tensor v = *t;
    size_t rb = gk_row_bytes(t);
    v.ne[1] = nrows;
    v.ne[2] = v.ne[3] = 1;
    v.nbytes = rb * (size_t)nrows;
    /* Pointer arithmetic only: valid for device addresses too, never dereferenced here. */
    v.data = t->data ? (char *)t->data + rb * (size_t)row0 : NULL;
    v.view = true;
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
