/* Results files: writing (atomically, after every case) and reading back with validation.
 * The field names are a contract other tools read (bench/results.h); readers accept extra
 * fields, and fields beyond the contract are optional on reading but type-checked when present. */
#include "bench/results.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/host/facts.h"
#include "base/exec.h"
#include "base/version.h"
#include "kernels/backend.h"

/* A JSON string of text that may not be valid UTF-8 (a model path with a \xff byte, a host name):
 * invalid bytes become U+FFFD, so the field is written, never silently dropped (json_string
 * refuses invalid UTF-8 and returns NULL, which json_object_set_new then ignores). */
static json_t *text_json(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    size_t n = strlen(s);
    char *fixed = malloc(3 * n + 1), *w = fixed;
    if (!fixed) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len > 0;
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xc0) == 0x80;
        json_t *probe = ok && len > 1 ? json_stringn((const char *)p, (size_t)len) : NULL;
        if (ok && (len == 1 || probe)) {
            memcpy(w, p, (size_t)len);
            w += len;
            p += len;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);   /* U+FFFD */
            w += 3;
            p++;
        }
        json_decref(probe);
    }
    *w = 0;
    j = json_string(fixed);
    free(fixed);
    return j;
}

/* ---- building ------------------------------------------------------------------------------ */

static json_t *build_json(void) {
    json_t *names = json_array();
    for (const char *const *n = gk_backend_names(); *n; n++) json_array_append_new(names, json_string(*n));
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "version", gc_version, "git_commit", gc_git_commit,
                     "compiler", gc_compiler, "cflags", gc_cflags, "backends", names);
}

void results_init(gc_results *r) {
    memset(r, 0, sizeof *r);
    r->schema = GC_RESULTS_SCHEMA;
    snprintf(r->gencost_version, sizeof r->gencost_version, "%s", gc_version);
    snprintf(r->git_commit, sizeof r->git_commit, "%s", gc_git_commit);
    r->host = host_json();
    snprintf(r->host_name, sizeof r->host_name, "%s", host_get()->name);
    r->build = build_json();
    r->environment = json_object();
    for (const char *const *n = gc_measure_env; *n; n++)
        if (getenv(*n)) json_object_set_new(r->environment, *n, text_json(getenv(*n)));
}

gc_case_result *results_add_case(gc_results *r) {
    if (r->n_cases == r->cap_cases) {
        int cap = r->cap_cases ? 2 * r->cap_cases : 16;
        gc_case_result *c = realloc(r->cases, (size_t)cap * sizeof *c);
        if (!c) return NULL;
        r->cases = c;
        r->cap_cases = cap;
    }
    gc_case_result *c = &r->cases[r->n_cases++];
    memset(c, 0, sizeof *c);
    energy_none(&c->energy);
    return c;
}

void results_free(gc_results *r) {
    for (int i = 0; i < r->n_cases; i++) free(r->cases[i].samples_s);
    free(r->cases);
    free(r->command_line);
    json_decref(r->host);
    json_decref(r->build);
    json_decref(r->environment);
    memset(r, 0, sizeof *r);
}


/* ---- writing ------------------------------------------------------------------------------- */

/* JSON has no NaN or infinity; a figure that is not finite is written as null. */
static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *stats_json(const gc_stats *s) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(s->n));
    json_object_set_new(o, "median", num(s->median));
    json_object_set_new(o, "mean", num(s->mean));
    json_object_set_new(o, "stddev", num(s->stddev));
    json_object_set_new(o, "mad", num(s->mad));
    json_object_set_new(o, "min", num(s->min));
    json_object_set_new(o, "max", num(s->max));
    json_object_set_new(o, "ci95_low", num(s->ci95_low));
    json_object_set_new(o, "ci95_high", num(s->ci95_high));
    json_object_set_new(o, "cv", num(s->cv));
    return o;
}

static json_t *kv_json(const gc_kv *kv, int n) {
    json_t *o = json_object();
    for (int i = 0; i < n; i++) json_object_set_new(o, kv[i].name, num(kv[i].value));
    return o;
}

/* The canonical "a=1,b=2" as {"a": "1", "b": "2"} (already sorted: the order is kept). */
static json_t *params_json(const char *params) {
    json_t *o = json_object();
    for (const char *p = params; *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
            json_object_set_new(o, name, json_stringn(eq + 1, len - (size_t)(eq - p) - 1));
        }
        p += len;
        if (*p) p++;
    }
    return o;
}

static json_t *case_json(const gc_case_result *c, int schema) {
    json_t *o = json_object();
    json_object_set_new(o, "workload", text_json(c->id.workload));
    json_object_set_new(o, "preset", text_json(c->id.preset));
    if (schema >= 2) json_object_set_new(o, "params", params_json(c->id.params));
    json_object_set_new(o, "quant", text_json(c->id.quant));
    json_object_set_new(o, "backend", text_json(c->id.backend));
    if (schema >= 2) json_object_set_new(o, "device", text_json(c->id.device));
    json_object_set_new(o, "threads", json_integer(c->id.threads));
    json_object_set_new(o, "phase", text_json(c->id.phase));
    json_object_set_new(o, "unit", text_json(c->unit));
    json_object_set_new(o, "work_per_rep", num(c->work_per_rep));
    json_object_set_new(o, "bytes_per_rep", num(c->bytes_per_rep));
    json_object_set_new(o, "flops_per_rep", num(c->flops_per_rep));
    json_object_set_new(o, "status", text_json(c->status));
    json_object_set_new(o, "error", text_json(c->error));
    json_t *samples = json_array();
    for (int i = 0; i < c->n_samples; i++) json_array_append_new(samples, num(c->samples_s[i]));
    json_object_set_new(o, "samples_s", samples);
    json_object_set_new(o, "time_s", stats_json(&c->time_s));
    json_object_set_new(o, "throughput", stats_json(&c->throughput));
    json_object_set_new(o, "high_spread", json_boolean(c->high_spread));
    json_object_set_new(o, "verify", json_pack("{s:b, s:o, s:o}", "ok", c->verify.ok, "detail", text_json(c->verify.detail),
                                               "values", kv_json(c->verify.vals, c->verify.n_vals)));
    json_object_set_new(o, "metrics", kv_json(c->metrics.vals, c->metrics.n_vals));
    json_object_set_new(o, "energy", energy_to_json(&c->energy));
    if (c->started[0]) json_object_set_new(o, "started", text_json(c->started));
    if (c->finished[0]) json_object_set_new(o, "finished", text_json(c->finished));
    return o;
}

static json_t *results_json(const gc_results *r) {
    json_t *o = json_object();
    json_object_set_new(o, "schema", json_integer(r->schema));
    json_object_set_new(o, "gencost_version", text_json(r->gencost_version));
    json_object_set_new(o, "git_commit", text_json(r->git_commit));
    json_object_set_new(o, "complete", json_boolean(r->complete));
    json_t *host = r->host ? json_deep_copy(r->host) : json_object();
    if (!json_object_get(host, "name")) json_object_set_new(host, "name", text_json(r->host_name));
    json_object_set_new(o, "host", host);
    json_object_set_new(o, "build", r->build ? json_deep_copy(r->build) : json_object());
    json_object_set_new(o, "started", text_json(r->started));
    json_object_set_new(o, "finished", text_json(r->finished));
    json_object_set_new(o, "command_line", text_json(r->command_line ? r->command_line : ""));
    json_object_set_new(o, "environment", r->environment ? json_deep_copy(r->environment) : json_object());
    json_t *cases = json_array();
    for (int i = 0; i < r->n_cases; i++) json_array_append_new(cases, case_json(&r->cases[i], r->schema));
    json_object_set_new(o, "cases", cases);
    return o;
}

int results_write(const gc_results *r, const char *path, gc_err *err) {
    json_t *o = results_json(r);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return gc_errf(err, "%s: cannot serialise results (out of memory or invalid text)", path);
    size_t len = strlen(text);
    text[len] = '\n';    /* json_dumps' NUL becomes the final newline; len + 1 bytes written */
    int rc = gc_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Where the reader is, for messages such as "f.json: cases[3].throughput.median: ...". */
typedef struct reader {
    const char *path;
    char where[128];
    gc_err *err;
} reader;

static int bad(const reader *rd, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(const reader *rd, const char *field, const char *fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!*field) /* the object at `where` itself: drop the trailing dot */
        return gc_errf(rd->err, "%s: %.*s: %s", rd->path, (int)strlen(rd->where) - 1, rd->where, why);
    return gc_errf(rd->err, "%s: %s%s: %s", rd->path, rd->where, field, why);
}

static int get_str(const reader *rd, const json_t *o, const char *field, bool required, char *dst, size_t n) {
    const json_t *v = json_object_get(o, field);
    if (!v) {
        if (required) return bad(rd, field, "missing (required string)");
        dst[0] = 0;
        return 0;
    }
    if (!json_is_string(v)) return bad(rd, field, "must be a string");
    if (json_string_length(v) >= n) return bad(rd, field, "longer than %zu characters", n - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A number field; null (how non-finite figures are written) reads as NaN. */
static int get_num(const reader *rd, const json_t *o, const char *field, bool required, double *dst) {
    const json_t *v = json_object_get(o, field);
    if (!v) {
        if (required) return bad(rd, field, "missing (required number)");
        *dst = 0;
        return 0;
    }
    if (json_is_null(v)) {
        *dst = NAN;
        return 0;
    }
    if (!json_is_number(v)) return bad(rd, field, "must be a number");
    *dst = json_number_value(v);
    return 0;
}

static int get_int(const reader *rd, const json_t *o, const char *field, bool required, long lo, long hi, int *dst) {
    const json_t *v = json_object_get(o, field);
    if (!v) {
        if (required) return bad(rd, field, "missing (required integer)");
        *dst = 0;
        return 0;
    }
    if (!json_is_integer(v)) return bad(rd, field, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return bad(rd, field, "%lld is out of range %ld..%ld", (long long)x, lo, hi);
    *dst = (int)x;
    return 0;
}

static int get_bool(const reader *rd, const json_t *o, const char *field, bool required, bool *dst) {
    const json_t *v = json_object_get(o, field);
    if (!v) {
        if (required) return bad(rd, field, "missing (required true/false)");
        *dst = false;
        return 0;
    }
    if (!json_is_boolean(v)) return bad(rd, field, "must be true or false");
    *dst = json_is_true(v);
    return 0;
}

static const json_t *get_obj(const reader *rd, const json_t *o, const char *field, bool required, int *rc) {
    const json_t *v = json_object_get(o, field);
    *rc = 0;
    if (!v) {
        if (required) *rc = bad(rd, field, "missing (required object)");
        return NULL;
    }
    if (!json_is_object(v)) {
        *rc = bad(rd, field, "must be an object");
        return NULL;
    }
    return v;
}

/* Enters a sub-object for messages: where = "<prefix><field>." */
static void enter(reader *rd, const char *prefix, const char *field) {
    if (snprintf(rd->where, sizeof rd->where, "%s%s.", prefix, field) >= (int)sizeof rd->where)
        rd->where[sizeof rd->where - 2] = '.';   /* cut short; only messages read it */
}

static int read_stats(reader *rd, const json_t *c, const char *field, bool required, gc_stats *s) {
    char saved[128];
    memcpy(saved, rd->where, sizeof saved);
    int rc;
    const json_t *o = get_obj(rd, c, field, required, &rc);
    if (rc || !o) return rc;
    enter(rd, saved, field);
    rc = get_int(rd, o, "n", false, 0, 1L << 30, &s->n);
    rc = rc ? rc : get_num(rd, o, "median", true, &s->median);
    rc = rc ? rc : get_num(rd, o, "mean", true, &s->mean);
    rc = rc ? rc : get_num(rd, o, "stddev", true, &s->stddev);
    rc = rc ? rc : get_num(rd, o, "mad", false, &s->mad);
    rc = rc ? rc : get_num(rd, o, "min", true, &s->min);
    rc = rc ? rc : get_num(rd, o, "max", true, &s->max);
    rc = rc ? rc : get_num(rd, o, "ci95_low", true, &s->ci95_low);
    rc = rc ? rc : get_num(rd, o, "ci95_high", true, &s->ci95_high);
    rc = rc ? rc : get_num(rd, o, "cv", true, &s->cv);
    memcpy(rd->where, saved, sizeof saved);
    return rc;
}

static int read_kv(reader *rd, const json_t *o, const char *field, gc_kv *kv, int *n) {
    *n = 0;
    const json_t *v = json_object_get(o, field);
    if (!v) return 0;
    if (!json_is_object(v)) return bad(rd, field, "must be an object of numbers");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_number(val) && !json_is_null(val)) return bad(rd, field, "'%s' must be a number", key);
        if (strlen(key) >= sizeof kv[0].name) return bad(rd, field, "name '%.40s...' too long", key);
        if (*n >= GC_MAX_KV) return bad(rd, field, "more than %d entries", GC_MAX_KV);
        gc_kv_add(kv, n, GC_MAX_KV, key, json_is_null(val) ? NAN : json_number_value(val));
    }
    return 0;
}

static int read_verify(reader *rd, const json_t *c, gc_verify *v) {
    char saved[128];
    memcpy(saved, rd->where, sizeof saved);
    int rc;
    const json_t *o = get_obj(rd, c, "verify", true, &rc);
    if (rc) return rc;
    enter(rd, saved, "verify");
    rc = get_bool(rd, o, "ok", true, &v->ok);
    rc = rc ? rc : get_str(rd, o, "detail", false, v->detail, sizeof v->detail);
    rc = rc ? rc : read_kv(rd, o, "values", v->vals, &v->n_vals);
    memcpy(rd->where, saved, sizeof saved);
    return rc;
}

/* A figure that cannot be negative (counts, times, rates, joules); NaN (null: not finite when
 * written) passes, the caller decides where it may not. */
static int not_negative(const reader *rd, const char *field, double v) {
    return v < 0 ? bad(rd, field, "%g is negative", v) : 0;
}

/* Every figure of a statistics object is a count, a time, a rate or a spread: none is negative. */
static int check_stats(reader *rd, const char *field, const gc_stats *s) {
    char saved[128];
    memcpy(saved, rd->where, sizeof saved);
    enter(rd, saved, field);
    const struct { const char *name; double v; } f[] = {
        {"median", s->median}, {"mean", s->mean}, {"stddev", s->stddev}, {"mad", s->mad}, {"min", s->min},
        {"max", s->max}, {"ci95_low", s->ci95_low}, {"ci95_high", s->ci95_high}, {"cv", s->cv}};
    int rc = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0] && !rc; i++) rc = not_negative(rd, f[i].name, f[i].v);
    memcpy(rd->where, saved, sizeof saved);
    return rc;
}

/* The figures of a case that compare, history and report divide by or sum: a case that ran
 * ("ok") did work (work_per_rep > 0) at a positive rate; nothing is negative anywhere. */
static int check_case_figures(reader *rd, const gc_case_result *cr) {
    bool ok = !strcmp(cr->status, "ok");
    if (ok && !(cr->work_per_rep > 0 && isfinite(cr->work_per_rep)))
        return bad(rd, "work_per_rep", "%g: a case with status ok must have done positive work", cr->work_per_rep);
    int rc = not_negative(rd, "work_per_rep", cr->work_per_rep);
    rc = rc ? rc : not_negative(rd, "bytes_per_rep", cr->bytes_per_rep);
    rc = rc ? rc : not_negative(rd, "flops_per_rep", cr->flops_per_rep);
    rc = rc ? rc : check_stats(rd, "time_s", &cr->time_s);
    rc = rc ? rc : check_stats(rd, "throughput", &cr->throughput);
    if (!rc && ok && cr->n_samples > 0 && !(cr->throughput.median > 0 && isfinite(cr->throughput.median)))
        return bad(rd, "throughput.median", "%g: a case with status ok and samples must have a positive "
                   "throughput", cr->throughput.median);
    return rc;
}

static int read_samples(reader *rd, const json_t *c, gc_case_result *cr) {
    const json_t *a = json_object_get(c, "samples_s");
    if (!a) return bad(rd, "samples_s", "missing (required array of seconds)");
    if (!json_is_array(a)) return bad(rd, "samples_s", "must be an array of numbers");
    size_t n = json_array_size(a);
    cr->samples_s = n ? malloc(n * sizeof(double)) : NULL;
    if (n && !cr->samples_s) return bad(rd, "samples_s", "out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        if (!json_is_number(x)) return bad(rd, "samples_s", "element %zu must be a number", i);
        double t = json_number_value(x);
        if (!(t > 0) || !isfinite(t))
            return bad(rd, "samples_s", "element %zu is %g: a repetition's time must be a positive number of "
                       "seconds", i, t);
        cr->samples_s[i] = t;
        cr->n_samples = (int)i + 1;
    }
    return 0;
}

/* An optional string field of one of the kinds energy knows. */
static int check_energy_kind(const reader *rd, const json_t *o, bool required) {
    const json_t *k = json_object_get(o, "kind");
    if (!k) return required ? bad(rd, "kind", "missing (required string)") : 0;
    if (!json_is_string(k)) return bad(rd, "kind", "must be a string: none, measured or estimated");
    const char *v = json_string_value(k);
    if (strcmp(v, "none") && strcmp(v, "measured") && strcmp(v, "estimated"))
        return bad(rd, "kind", "'%.40s' is not none, measured or estimated", v);
    return 0;
}

/* An optional number of joules or watts: when present, a finite number >= 0. */
static int check_energy_num(const reader *rd, const json_t *o, const char *field, bool required) {
    const json_t *v = json_object_get(o, field);
    if (!v) return required ? bad(rd, field, "missing (required number)") : 0;
    if (!json_is_number(v)) return bad(rd, field, "must be a number");
    double x = json_number_value(v);
    if (!(x >= 0) || !isfinite(x)) return bad(rd, field, "%g: must be a number >= 0", x);
    return 0;
}

static int check_energy_source(reader *rd, const json_t *src) {
    if (!json_is_object(src)) return bad(rd, "", "must be an object");
    const json_t *name = json_object_get(src, "name"), *note = json_object_get(src, "note"),
                 *idle = json_object_get(src, "idle_subtracted");
    if (!json_is_string(name)) return bad(rd, "name", name ? "must be a string" : "missing (required string)");
    int rc = check_energy_kind(rd, src, true);
    rc = rc ? rc : check_energy_num(rd, src, "joules", false);
    rc = rc ? rc : check_energy_num(rd, src, "avg_watts", false);
    rc = rc ? rc : check_energy_num(rd, src, "idle_watts", false);
    if (!rc && idle && !json_is_boolean(idle)) rc = bad(rd, "idle_subtracted", "must be true or false");
    if (!rc && note && !json_is_string(note)) rc = bad(rd, "note", "must be a string");
    return rc;
}

/* Types and ranges of the energy object, which energy_from_json reads leniently (a "joules"
 * that is not a number would read as 0 J measured): source a string, kind one of three, joules
 * and joules_per_unit numbers >= 0 (joules required unless kind is none), sources well formed. */
static int check_energy(reader *rd, const json_t *o) {
    char saved[128];
    memcpy(saved, rd->where, sizeof saved);
    enter(rd, saved, "energy");
    const json_t *src = json_object_get(o, "source"), *kind = json_object_get(o, "kind");
    int rc = json_is_string(src) ? 0 : bad(rd, "source", src ? "must be a string" : "missing (required string)");
    rc = rc ? rc : check_energy_kind(rd, o, false);
    bool has_energy = !rc && kind && strcmp(json_string_value(kind), "none");
    rc = rc ? rc : check_energy_num(rd, o, "joules", has_energy);
    rc = rc ? rc : check_energy_num(rd, o, "joules_per_unit", false);
    const json_t *a = json_object_get(o, "sources");
    if (!rc && a && !json_is_array(a)) rc = bad(rd, "sources", "must be an array");
    char outer[128];
    memcpy(outer, rd->where, sizeof outer);
    for (size_t i = 0; !rc && a && i < json_array_size(a); i++) {
        snprintf(rd->where, sizeof rd->where, "%.96ssources[%zu].", outer, i);   /* "...sources[1]." */
        rc = check_energy_source(rd, json_array_get(a, i));
    }
    memcpy(rd->where, saved, sizeof saved);
    return rc;
}

static int read_energy(reader *rd, const json_t *c, gc_energy *e) {
    int rc;
    const json_t *o = get_obj(rd, c, "energy", true, &rc);
    if (rc) return rc;
    if (check_energy(rd, o)) return -1;
    gc_err eerr;
    if (energy_from_json(o, e, &eerr)) return bad(rd, "energy", "%s", eerr.msg);
    return 0;
}

/* params: {name: value} (strings) into the canonical sorted string; absent is none. */
static int read_params(const reader *rd, const json_t *c, char *params, size_t n) {
    params[0] = 0;
    const json_t *v = json_object_get(c, "params");
    if (!v) return 0;
    if (!json_is_object(v)) return bad(rd, "params", "must be an object of name: value strings");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_string(val)) return bad(rd, "params", "'%.40s' must be a string", key);
        gc_err perr;
        if (gc_params_set(params, n, key, json_string_value(val), &perr)) return bad(rd, "params", "%s", perr.msg);
    }
    return 0;
}

/* The identity (bench/case_id.h); schema 1 files have no params or device: both stay "". */
static int read_id(reader *rd, const json_t *c, int schema, gc_case_id *id) {
    int rc = get_str(rd, c, "workload", true, id->workload, sizeof id->workload);
    rc = rc ? rc : get_str(rd, c, "preset", true, id->preset, sizeof id->preset);
    rc = rc ? rc : get_str(rd, c, "quant", true, id->quant, sizeof id->quant);
    rc = rc ? rc : get_str(rd, c, "backend", true, id->backend, sizeof id->backend);
    rc = rc ? rc : get_int(rd, c, "threads", true, 0, 1 << 20, &id->threads);
    rc = rc ? rc : get_str(rd, c, "phase", true, id->phase, sizeof id->phase);
    if (schema >= 2) {
        rc = rc ? rc : read_params(rd, c, id->params, sizeof id->params);
        rc = rc ? rc : get_str(rd, c, "device", false, id->device, sizeof id->device);
    }
    return rc;
}

static int read_case(reader *rd, const json_t *c, int schema, gc_case_result *cr) {
    if (!json_is_object(c)) return bad(rd, "", "must be an object");
    int rc = read_id(rd, c, schema, &cr->id);
    rc = rc ? rc : get_str(rd, c, "unit", true, cr->unit, sizeof cr->unit);
    rc = rc ? rc : get_num(rd, c, "work_per_rep", true, &cr->work_per_rep);
    rc = rc ? rc : get_num(rd, c, "bytes_per_rep", false, &cr->bytes_per_rep);
    rc = rc ? rc : get_num(rd, c, "flops_per_rep", false, &cr->flops_per_rep);
    rc = rc ? rc : get_str(rd, c, "status", false, cr->status, sizeof cr->status);
    rc = rc ? rc : get_str(rd, c, "error", false, cr->error, sizeof cr->error);
    rc = rc ? rc : read_samples(rd, c, cr);
    rc = rc ? rc : read_stats(rd, c, "time_s", false, &cr->time_s);
    rc = rc ? rc : read_stats(rd, c, "throughput", true, &cr->throughput);
    rc = rc ? rc : get_bool(rd, c, "high_spread", false, &cr->high_spread);
    rc = rc ? rc : read_verify(rd, c, &cr->verify);
    rc = rc ? rc : read_kv(rd, c, "metrics", cr->metrics.vals, &cr->metrics.n_vals);
    rc = rc ? rc : read_energy(rd, c, &cr->energy);
    rc = rc ? rc : get_str(rd, c, "started", false, cr->started, sizeof cr->started);
    rc = rc ? rc : get_str(rd, c, "finished", false, cr->finished, sizeof cr->finished);
    if (rc) return rc;
    if (!cr->status[0]) snprintf(cr->status, sizeof cr->status, "%s", cr->verify.ok ? "ok" : "failed");
    if (strcmp(cr->status, "ok") && strcmp(cr->status, "failed") && strcmp(cr->status, "error") &&
        strcmp(cr->status, "skipped"))
        return bad(rd, "status", "'%s' is not ok, failed, error or skipped", cr->status);
    return check_case_figures(rd, cr);
}

static int read_cases(reader *rd, const json_t *root, gc_results *r) {
    const json_t *cases = json_object_get(root, "cases");
    if (!cases) return bad(rd, "cases", "missing (required array)");
    if (!json_is_array(cases)) return bad(rd, "cases", "must be an array");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        gc_case_result *cr = results_add_case(r);
        if (!cr) return bad(rd, "cases", "out of memory");
        snprintf(rd->where, sizeof rd->where, "cases[%zu].", i);
        if (read_case(rd, json_array_get(cases, i), r->schema, cr)) return -1;
    }
    rd->where[0] = 0;
    return 0;
}

/* environment: an object of strings; absent in older files (nothing recorded). */
static int read_environment(const reader *rd, const json_t *root, gc_results *r) {
    const json_t *v = json_object_get(root, "environment");
    if (v && !json_is_object(v)) return bad(rd, "environment", "must be an object of name: value strings");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
        if (!json_is_string(val)) return bad(rd, "environment", "'%.40s' must be a string", key);
    r->environment = v ? json_deep_copy(v) : json_object();
    return 0;
}

static int read_top(reader *rd, const json_t *root, gc_results *r) {
    if (!json_is_object(root)) return bad(rd, "top level", "must be an object (is this a gencost results file?)");
    const json_t *schema = json_object_get(root, "schema");
    if (!schema) return bad(rd, "schema", "missing: not a gencost results file");
    if (!json_is_integer(schema)) return bad(rd, "schema", "must be an integer");
    json_int_t v = json_integer_value(schema);
    if (v > GC_RESULTS_SCHEMA)
        return bad(rd, "schema", "version %lld is not supported: this gencost reads versions %d to %d "
                   "(a newer gencost wrote the file; update gencost to read it)", (long long)v,
                   GC_RESULTS_SCHEMA_MIN, GC_RESULTS_SCHEMA);
    if (v < GC_RESULTS_SCHEMA_MIN)
        return bad(rd, "schema", "version %lld is not supported: this gencost reads versions %d to %d",
                   (long long)v, GC_RESULTS_SCHEMA_MIN, GC_RESULTS_SCHEMA);
    r->schema = (int)v;
    int rc = get_str(rd, root, "gencost_version", true, r->gencost_version, sizeof r->gencost_version);
    rc = rc ? rc : get_str(rd, root, "git_commit", true, r->git_commit, sizeof r->git_commit);
    rc = rc ? rc : get_bool(rd, root, "complete", true, &r->complete);
    rc = rc ? rc : get_str(rd, root, "started", false, r->started, sizeof r->started);
    rc = rc ? rc : get_str(rd, root, "finished", false, r->finished, sizeof r->finished);
    if (rc) return rc;
    const json_t *host = get_obj(rd, root, "host", true, &rc);
    if (rc) return rc;
    enter(rd, "", "host");
    if (get_str(rd, host, "name", true, r->host_name, sizeof r->host_name)) return -1;
    rd->where[0] = 0;
    r->host = json_deep_copy(host);
    const json_t *build = get_obj(rd, root, "build", false, &rc);
    if (rc) return rc;
    r->build = build ? json_deep_copy(build) : json_object();
    if (read_environment(rd, root, r)) return -1;
    const json_t *cl = json_object_get(root, "command_line");
    if (cl && !json_is_string(cl)) return bad(rd, "command_line", "must be a string");
    r->command_line = strdup(cl ? json_string_value(cl) : "");
    return read_cases(rd, root, r);
}

bool results_id_complete(const gc_results *r) { return r->schema >= 2; }

int results_read(const char *path, gc_results *r, gc_err *err) {
    memset(r, 0, sizeof *r);
    size_t len = 0;
    char *text = gc_read_file(path, &len, err);
    if (!text) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return gc_errf(err, "%s: not valid JSON (line %d, column %d): %s", path, jerr.line, jerr.column, jerr.text);
    reader rd = {.path = path, .err = err};
    int rc = read_top(&rd, root, r);
    json_decref(root);
    if (rc) {
        results_free(r);
        return -1;
    }
    return 0;
}
