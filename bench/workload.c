/* Defaults of `gencost run` options, a workload's parameter values, and the named-number lists
 * workloads report. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/case_id.h"
#include "bench/workload.h"
#include "kernels/backend.h"

void gc_options_defaults(gc_options *o) {
    memset(o, 0, sizeof *o);
    o->reps = 5;
    o->warmup = 1;
    o->min_time = 1.0;
    o->max_reps = 1000;
    o->seed = 42;
}

/* ---- parameters ------------------------------------------------------------------------------ */

int gc_param_count(const gc_param *t) {
    int n = 0;
    while (t && t[n].name && n < GC_MAX_PARAMS) n++;
    return n;
}

int gc_param_find(const gc_param *t, const char *name) {
    for (int i = 0; i < gc_param_count(t); i++)
        if (!strcmp(t[i].name, name)) return i;
    return -1;
}

void gc_param_help(const gc_param *p, char *buf, size_t n) {
    snprintf(buf, n, "%s", p->help ? p->help : "");
    char more[160] = "";
    size_t w = 0;
    if (p->kind == GC_PARAM_STRING && p->choices) w += (size_t)snprintf(more, sizeof more, "%s", p->choices);
    if (p->def)
        w += (size_t)snprintf(more + w, sizeof more - w, "%sdefault %s", w ? "; " : "", p->def);
    else if (p->same_as)
        w += (size_t)snprintf(more + w, sizeof more - w, "%sdefault = --%s", w ? "; " : "", p->same_as);
    if (p->quick_max > 0 && w < sizeof more)
        snprintf(more + w, sizeof more - w, "%s%ld with --quick", w ? "; " : "", p->quick_max);
    for (char *c = more; *c; c++) /* "f32,f16,q8_0" reads better as "f32|f16|q8_0" */
        if (*c == ',') *c = '|';
    size_t len = strlen(buf);
    if (more[0] && len < n) snprintf(buf + len, n - len, "%s(%s)", len ? " " : "", more);
}

static long as_long(const char *v, long absent) {
    long x;
    return v && !gc_parse_int(v, LONG_MIN, LONG_MAX, &x) ? x : absent;
}

static int set_long(char **slot, long x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", x);
    free(*slot);
    *slot = strdup(buf);
    return *slot ? 0 : -1;
}

/* In order: the given or default text; the --quick caps, on defaults only (a value the user or
 * the suite gave is what runs); then same_as, which sees capped values (a decode depth that
 * follows the prompt follows the prompt --quick runs). */
int gc_params_resolve(const gc_param *t, const char *const *given, bool quick, gc_param_values *out,
                      gc_err *err) {
    return gc_params_resolve_for(t, given, quick, NULL, out, err);
}

int gc_params_resolve_for(const gc_param *t, const char *const *given, bool quick, const char *preset,
                          gc_param_values *out, gc_err *err) {
    memset(out, 0, sizeof *out);
    int n = gc_param_count(t);
    for (int i = 0; i < n; i++) {
        const char *own = preset && t[i].def_for ? t[i].def_for(preset) : NULL;
        const char *v = given && given[i] ? given[i] : own ? own : t[i].def;
        if (v && !(out->v[i] = strdup(v))) goto oom;
    }
    for (int i = 0; quick && i < n; i++)
        if (!(given && given[i]) && t[i].kind == GC_PARAM_INT && t[i].quick_max > 0 &&
            as_long(out->v[i], 0) > t[i].quick_max &&
            set_long(&out->v[i], t[i].quick_max))
            goto oom;
    for (int i = 0; i < n; i++) {
        int j = t[i].same_as ? gc_param_find(t, t[i].same_as) : -1;
        if (j < 0 || as_long(out->v[i], 0) != 0 || !out->v[j]) continue;
        free(out->v[i]);
        if (!(out->v[i] = strdup(out->v[j]))) goto oom;
    }
    return 0;
oom:
    gc_param_values_free(out);
    return gc_errf(err, "out of memory resolving parameters");
}

void gc_param_values_free(gc_param_values *v) {
    for (int i = 0; i < GC_MAX_PARAMS; i++) {
        free(v->v[i]);
        v->v[i] = NULL;
    }
}

int gc_params_canonical(const gc_param *t, const gc_param_values *v, char *buf, size_t n, gc_err *err) {
    buf[0] = 0;
    for (int i = 0; i < gc_param_count(t); i++)
        if (v->v[i] && !t[i].names_preset && !t[i].output_only && gc_params_set(buf, n, t[i].name, v->v[i], err))
            return -1;
    return 0;
}

const char *gc_case_param(const gc_case *c, const char *name) {
    int i = gc_param_find(c->params, name);
    return i >= 0 && c->values ? c->values[i] : NULL;
}

long gc_case_param_int(const gc_case *c, const char *name, long absent) {
    return as_long(gc_case_param(c, name), absent);
}

void gc_device_of(const struct gk_backend *be, char *buf, size_t n) {
    snprintf(buf, n, "%s", !be ? "" : be->isa ? be->isa : be->device_name);
}

int gc_require_ops(struct gk_backend *be, const char *workload, const gc_op_need *needs, int n, gc_err *err) {
    for (int i = 0; i < n; i++) {
        if (gk_backend_supports(be, (gk_op)needs[i].op, needs[i].types, needs[i].n_types)) continue;
        char types[64] = "";
        for (int t = 0, used = 0; t < needs[i].n_types && used < (int)sizeof types; t++)
            used += snprintf(types + used, sizeof types - (size_t)used, "%s%s", t ? ", " : "",
                             gk_type_name(needs[i].types[t]));
        gc_errf(err, "%s: backend %s cannot run %s(%s): %s", workload, be->name, gk_op_name((gk_op)needs[i].op),
                types, gk_backend_error(be));
        return GC_SETUP_UNSUPPORTED;
    }
    return 0;
}

/* A name already present is updated, so a workload may refine a figure; a full list keeps
 * what it has (GC_MAX_KV is far above what any phase reports). */
void gc_kv_add(gc_kv *arr, int *n, int max, const char *name, double value) {
    for (int i = 0; i < *n; i++)
        if (!strncmp(arr[i].name, name, sizeof arr[i].name - 1)) {
            arr[i].value = value;
            return;
        }
    if (*n >= max) return;
    snprintf(arr[*n].name, sizeof arr[*n].name, "%s", name);
    arr[*n].value = value;
    (*n)++;
}

double gc_kv_get(const gc_kv *arr, int n, const char *name, double absent) {
    for (int i = 0; i < n; i++)
        if (!strncmp(arr[i].name, name, sizeof arr[i].name - 1)) return arr[i].value;
    return absent;
}
