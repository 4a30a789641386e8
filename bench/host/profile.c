/* Host-profile loader (inih) and the local-profile writer. Every error names file:line. */
#include "bench/host/profile.h"

#include <dirent.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { F_NUM, F_STR, F_KIND, F_BOOL, F_RUNS_ON };
/* Which cost kinds need a field: bit per gc_cost_kind. */
#define K_OWNED (1u << GC_COST_OWNED)
#define K_SUB (1u << GC_COST_SUBSCRIPTION)
#define K_HOURLY (1u << GC_COST_HOURLY)
#define K_API (1u << GC_COST_API)
#define K_ALL (K_OWNED | K_SUB | K_HOURLY | K_API)
/* Not a kind: an api priced per token (no usd_per_image) needs its token prices and speed. */
#define K_API_TOKENS (1u << 4)

typedef struct field {
    const char *section, *key;
    int type;
    size_t off, size;     /* size: for strings */
    double lo, hi;        /* for numbers */
    unsigned required;    /* kinds that need it */
} field;

#define NUM(s, k, m, lo, hi, req) {s, k, F_NUM, offsetof(gc_profile, m), 0, lo, hi, req}
#define STR(s, k, m, req) {s, k, F_STR, offsetof(gc_profile, m), sizeof(((gc_profile *)0)->m), 0, 0, req}

static const field fields[] = {
    STR("host", "name", name, K_ALL),
    STR("host", "device", device, 0),
    STR("host", "notes", notes, 0),
    NUM("hardware", "memory_bandwidth_gbs", mem_bw_gbs, 0.1, 1e6, 0),
    NUM("hardware", "memory_gb", mem_gb, 0.01, 1e6, 0),
    NUM("hardware", "peak_tflops_fp32", peak_tflops_fp32, 1e-4, 1e5, 0),
    NUM("hardware", "peak_tflops_fp16", peak_tflops_fp16, 1e-4, 1e5, 0),
    NUM("hardware", "peak_tops_int8", peak_tops_int8, 1e-4, 1e5, 0),
    NUM("hardware", "idle_watts", idle_watts, 0, 1e5, K_OWNED),
    NUM("hardware", "active_watts", active_watts, 0.1, 1e5, K_OWNED),
    STR("hardware", "power_source", power_source, 0),
    NUM("hardware", "cpu_peak_tflops_fp32", cpu_peak_tflops_fp32, 1e-4, 1e5, 0),
    NUM("hardware", "cpu_peak_tops_int8", cpu_peak_tops_int8, 1e-4, 1e5, 0),
    {"cost", "kind", F_KIND, offsetof(gc_profile, kind), 0, 0, 0, K_ALL},
    STR("cost", "source", cost_source, 0),
    STR("cost", "as_of", as_of, K_ALL),
    STR("cost", "provider", provider, K_HOURLY | K_API),
    STR("cost", "pricing", pricing, K_HOURLY),
    STR("cost", "model", model, K_API),
    NUM("cost", "purchase_usd", purchase_usd, 0, 1e9, K_OWNED),
    NUM("cost", "lifetime_years", lifetime_years, 0.1, 100, K_OWNED),
    NUM("cost", "hours_per_day", hours_per_day, 0.01, 24, K_OWNED),
    NUM("cost", "electricity_usd_per_kwh", usd_per_kwh, 0, 100, K_OWNED),
    NUM("cost", "grid_gco2_per_kwh", gco2_per_kwh, 0, 5000, K_OWNED),
    NUM("cost", "monthly_usd", monthly_usd, 0, 1e9, K_SUB),
    NUM("cost", "units_per_month", units_per_month, 1e-6, 1e12, K_SUB),
    NUM("cost", "units_per_hour", units_per_hour, 1e-6, 1e12, K_SUB),
    NUM("cost", "usd_per_hour", usd_per_hour, 0, 1e6, K_HOURLY),
    NUM("cost", "usd_per_m_input_tokens", usd_per_m_input, 0, 1e6, K_API_TOKENS),
    NUM("cost", "usd_per_m_output_tokens", usd_per_m_output, 0, 1e6, K_API_TOKENS),
    NUM("cost", "usd_per_image", usd_per_image, 0, 1e6, 0),
    {"cost", "amortise", F_BOOL, offsetof(gc_profile, amortise), 0, 0, 0, 0},
    NUM("cost", "extra_usd_per_unit", extra_usd_per_unit, 0, 1e6, 0),
    NUM("cost", "billing_increment_s", billing_increment_s, 1, 1e6, 0),
    NUM("cost", "session_setup_s", session_setup_s, 0, 1e7, 0),
    NUM("cost", "jobs_per_session", jobs_per_session, 1, 1e12, 0),
    NUM("throughput", "output_tokens_per_s", out_tokens_per_s, 1e-6, 1e9, K_API_TOKENS),
    NUM("throughput", "first_token_s", first_token_s, 0, 1e4, 0),
    NUM("throughput", "seconds_per_image", seconds_per_image, 1e-3, 1e5, 0),
    STR("throughput", "source", throughput_source, K_API_TOKENS),
    {"projection", "runs_on", F_RUNS_ON, offsetof(gc_profile, runs_on_cpu), 0, 0, 0, 0},
    /* the calibrated figures: the first PROJ_FIGURES entries from here need a source and date */
    NUM("projection", "bandwidth_efficiency", bw_efficiency, 0.01, 1, 0),
    NUM("projection", "per_token_s", per_token_s, 0, 1, 0),
    NUM("projection", "compute_efficiency", compute_efficiency, 0.001, 1, 0),
    NUM("projection", "compute_efficiency_fp16", compute_efficiency_fp16, 0.001, 1, 0),
    NUM("projection", "compute_efficiency_int8", compute_efficiency_int8, 0.001, 1, 0),
    STR("projection", "source", proj_source, 0),
    STR("projection", "as_of", proj_as_of, 0),
};
#define PROJ_FIGURES 5
#define N_FIELDS (sizeof fields / sizeof fields[0])

static const char *const kind_names[] = {"owned", "subscription", "hourly", "api"};

const char *profile_kind_name(gc_cost_kind k) {
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

#define MAX_SECTIONS 16
typedef struct parse_state {
    FILE *f;
    const char *path;
    gc_profile *p;
    int line;                        /* line the parser is on */
    int field_line[N_FIELDS];        /* where each field was set, 0 = not set */
    char sec_name[MAX_SECTIONS][32];
    int sec_line[MAX_SECTIONS], n_sec;
    bool failed;
    gc_err *err;
} parse_state;

/* inih calls the reader once per line; reading whole lines here keeps our line count exact
 * and lets a line too long for inih's buffer be an error instead of a silent split. */
static char *read_line(char *buf, int num, void *stream) {
    parse_state *st = stream;
    if (!fgets(buf, num, st->f)) return NULL;
    st->line++;
    size_t len = strlen(buf);
    if (len == (size_t)num - 1 && buf[len - 1] != '\n' && !feof(st->f)) {
        if (!st->failed)
            gc_errf(st->err, "%s:%d: line longer than %d characters", st->path, st->line, num - 2);
        st->failed = true;
        int c;
        while ((c = fgetc(st->f)) != EOF && c != '\n') {}
        buf[0] = '\n';
        buf[1] = 0;
        return buf;
    }
    const char *s = buf + strspn(buf, " \t");
    if (*s == '[' && st->n_sec < MAX_SECTIONS) {
        size_t n = strcspn(s + 1, "]");
        snprintf(st->sec_name[st->n_sec], sizeof st->sec_name[0], "%.*s", (int)n, s + 1);
        st->sec_line[st->n_sec++] = st->line;
    }
    return buf;
}

static int fail(parse_state *st, const char *fmt, const char *a, const char *b) {
    if (!st->failed) {
        char what[256];
        snprintf(what, sizeof what, fmt, a, b);
        gc_errf(st->err, "%s:%d: %s", st->path, st->line, what);
    }
    st->failed = true;
    return 0;
}

static int set_field(parse_state *st, size_t i, const char *value) {
    const field *f = &fields[i];
    char *dst = (char *)st->p + f->off;
    if (f->type == F_STR) {
        if (!*value) return fail(st, "empty value for '%s'%s", f->key, "");
        snprintf(dst, f->size, "%s", value);
        return 1;
    }
    if (f->type == F_KIND) {
        for (int k = 0; k < 4; k++)
            if (!strcmp(value, kind_names[k])) {
                *(gc_cost_kind *)(void *)dst = (gc_cost_kind)k;
                return 1;
            }
        return fail(st, "cost kind '%s' is not one of owned, subscription, hourly, api%s", value, "");
    }
    if (f->type == F_RUNS_ON) {
        if (strcmp(value, "cpu") && strcmp(value, "gpu"))
            return fail(st, "runs_on is '%s', not cpu or gpu%s", value, "");
        *(bool *)(void *)dst = !strcmp(value, "cpu");
        return 1;
    }
    if (f->type == F_BOOL) {
        bool yes = !strcmp(value, "yes") || !strcmp(value, "true");
        if (!yes && strcmp(value, "no") && strcmp(value, "false"))
            return fail(st, "'%s' is '%s', not yes or no", f->key, value);
        *(bool *)(void *)dst = yes;
        return 1;
    }
    double v;
    if (gc_parse_double(value, f->lo, f->hi, &v)) {
        char range[64];
        snprintf(range, sizeof range, " (a number from %g to %g)", f->lo, f->hi);
        char key[80];
        snprintf(key, sizeof key, "%s = %.40s", f->key, value);
        return fail(st, "bad value %s%s", key, range);
    }
    memcpy(dst, &v, sizeof v);
    return 1;
}

static int on_pair(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (strcmp(fields[i].section, section) || strcmp(fields[i].key, name)) continue;
        if (st->field_line[i]) {
            char where[32];
            snprintf(where, sizeof where, "%d", st->field_line[i]);
            return fail(st, "duplicate field '%s' (first set on line %s)", name, where);
        }
        st->field_line[i] = st->line;
        return set_field(st, i, value);
    }
    return fail(st, "unknown field '%s' in [%s]", name, section);
}

/* Line of a section's header, or of the last line when the section is absent. */
static int section_line(const parse_state *st, const char *section) {
    for (int i = 0; i < st->n_sec; i++)
        if (!strcmp(st->sec_name[i], section)) return st->sec_line[i];
    return st->line > 0 ? st->line : 1;
}

static int field_index(const char *section, const char *key) {
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].section, section) && !strcmp(fields[i].key, key)) return (int)i;
    return -1;
}

/* [projection]: calibrated figures carry their source and date; fp16/int8 efficiencies default
 * to the FP32 one; runs_on defaults to the GPU when the profile has a GPU's FP16 peak, and
 * runs_on = cpu needs the CPU's own peak (the [hardware] peaks are then the accelerator's). */
static int check_projection(parse_state *st) {
    gc_profile *p = st->p;
    int first = field_index("projection", "bandwidth_efficiency"), given = 0;
    for (int i = first; i < first + PROJ_FIGURES; i++)
        if (st->field_line[i] && !given) given = st->field_line[i];
    p->calibrated = given > 0;
    static const char *const need[] = {"source", "as_of"};
    for (int k = 0; k < 2 && given; k++)
        if (!st->field_line[field_index("projection", need[k])])
            return gc_errf(st->err, "%s:%d: missing field '%s' in [projection] (needed with calibrated figures)",
                           st->path, section_line(st, "projection"), need[k]);
    if (!st->field_line[field_index("projection", "compute_efficiency_fp16")])
        p->compute_efficiency_fp16 = p->compute_efficiency;
    if (!st->field_line[field_index("projection", "compute_efficiency_int8")])
        p->compute_efficiency_int8 = p->compute_efficiency;
    int runs_on = st->field_line[field_index("projection", "runs_on")];
    if (!runs_on) p->runs_on_cpu = !(p->peak_tflops_fp16 > 0);
    else if (p->runs_on_cpu && !(p->cpu_peak_tflops_fp32 > 0))
        return gc_errf(st->err, "%s:%d: runs_on = cpu needs cpu_peak_tflops_fp32 in [hardware] (the CPU's own FP32 peak)",
                       st->path, runs_on);
    return 0;
}

static int check_required(parse_state *st) {
    int kind_i = field_index("cost", "kind");
    if (!st->field_line[kind_i])
        return gc_errf(st->err, "%s:%d: missing field 'kind' in [cost] (owned, subscription, hourly or api)",
                       st->path, section_line(st, "cost"));
    unsigned kbit = 1u << st->p->kind;
    if (st->p->kind == GC_COST_API && !st->field_line[field_index("cost", "usd_per_image")]) kbit |= K_API_TOKENS;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (st->field_line[i] || !(f->required & kbit)) continue;
        int line = section_line(st, f->section);
        if (f->required == K_ALL)
            return gc_errf(st->err, "%s:%d: missing field '%s' in [%s]", st->path, line, f->key,
                           f->section);
        return gc_errf(st->err, "%s:%d: missing field '%s' in [%s] (needed for cost kind %s%s)",
                       st->path, line, f->key, f->section, profile_kind_name(st->p->kind),
                       f->required == K_API_TOKENS ? " priced per token; an image api gives usd_per_image" : "");
    }
    if (check_projection(st)) return -1;
    const gc_profile *p = st->p;
    if (p->kind == GC_COST_HOURLY && strcmp(p->pricing, "on-demand") && strcmp(p->pricing, "spot"))
        return gc_errf(st->err, "%s:%d: pricing '%s' is not on-demand or spot", st->path,
                       st->field_line[field_index("cost", "pricing")], p->pricing);
    if (p->active_watts > 0 && p->idle_watts > p->active_watts)
        return gc_errf(st->err, "%s:%d: idle_watts %g is above active_watts %g", st->path,
                       st->field_line[field_index("hardware", "idle_watts")], p->idle_watts,
                       p->active_watts);
    return 0;
}

static void profile_id_from_path(const char *path, char *id, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
    snprintf(id, n, "%.*s", (int)len, base);
}

int profile_load(const char *path, gc_profile *p, gc_err *err) {
    memset(p, 0, sizeof *p);
    p->bw_efficiency = GC_PROJ_BW_EFFICIENCY;
    p->compute_efficiency = GC_PROJ_COMPUTE_EFFICIENCY;
    p->compute_efficiency_fp16 = p->compute_efficiency_int8 = GC_PROJ_COMPUTE_EFFICIENCY;
    snprintf(p->path, sizeof p->path, "%s", path);
    profile_id_from_path(path, p->id, sizeof p->id);
    parse_state st = {.path = path, .p = p, .err = err};
    st.f = fopen(path, "r");
    if (!st.f) return gc_errf(err, "%s: cannot open host profile", path);
    int rc = ini_parse_stream(read_line, &st, on_pair, &st);
    fclose(st.f);
    if (st.failed) return -1;
    if (rc > 0) return gc_errf(err, "%s:%d: not a 'name = value' line or '[section]'", path, rc);
    if (rc < 0) return gc_errf(err, "%s: cannot parse (out of memory)", path);
    return check_required(&st);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int profile_load_dir(const char *dir, gc_profile **out, int *n, gc_err *err) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return gc_errf(err, "%s: cannot open host-profile folder", dir);
    char *names[256];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 256) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".ini") && e->d_name[0] != '.')
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof names[0], by_name);
    int rc = 0;
    *out = calloc(nn ? (size_t)nn : 1, sizeof **out);
    for (int i = 0; i < nn; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!rc && *out && profile_load(path, &(*out)[*n], err)) rc = -1;
        else if (!rc) (*n)++;
        free(names[i]);
    }
    if (!*out) return gc_errf(err, "out of memory");
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

const gc_profile *profile_find(const gc_profile *p, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].id, id)) return &p[i];
    return NULL;
}
