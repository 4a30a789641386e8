/* Case matching and verdicts for `gencost compare` (statistics in compare_stats.c, output in
 * compare_print.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bench/regress/compare.h"
#include "bench/perfcount.h"

static const char *const verdict_names[] = {"same", "faster", "slower", "noisy", "broken",
                                            "unusable", "work-changed"};

const char *compare_verdict_name(gc_verdict v) {
    return (unsigned)v <= GC_WORK_CHANGED ? verdict_names[v] : "?";
}

void compare_opts_defaults(gc_compare_opts *o) {
    *o = (gc_compare_opts){.threshold = 0.05, .alpha = 0.01, .min_samples = 3, .n_boot = 2000,
                           .seed = 0x6763636f6d70ull /* "gccomp" */,
                           .count_threshold = 0.02};
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median_of(const double *x, int n) {
    double *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return NAN;
    memcpy(t, x, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);   /* n may be 100,000s of samples: no n^2 sort */
    double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    free(t);
    return m;
}

/* The verdict rules, in order:
 *  1. fewer than min_samples on a side → noisy (no test can tell);
 *  2. p < alpha and |ratio - 1| > threshold → slower / faster;
 *  3. p < alpha (a real change, but within the threshold) → same;
 *  4. the whole CI inside [1 - threshold, 1 + threshold] → same;
 *  5. otherwise → noisy: the data allow a change beyond the threshold but do not show one. */
void compare_samples(const double *base_tp, int nb, const double *new_tp, int nn,
                     const gc_compare_opts *opt, gc_case_cmp *c) {
    c->n_base = nb;
    c->n_new = nn;
    c->median_base = nb > 0 ? median_of(base_tp, nb) : NAN;
    c->median_new = nn > 0 ? median_of(new_tp, nn) : NAN;
    c->ratio = c->median_base > 0 ? c->median_new / c->median_base : NAN;
    c->ci_low = c->ci_high = NAN;
    c->u = NAN;
    c->p = NAN;
    c->exact = false;
    if (nb < opt->min_samples || nn < opt->min_samples || !isfinite(c->ratio)) {
        c->verdict = GC_NOISY;
        snprintf(c->why, sizeof c->why, "too few samples (%d base, %d new; need %d each)", nb,
                 nn, opt->min_samples);
        return;
    }
    compare_bootstrap_ratio(base_tp, nb, new_tp, nn, opt->n_boot, opt->seed, &c->ci_low,
                            &c->ci_high);
    c->p = compare_mann_whitney(base_tp, nb, new_tp, nn, &c->u, &c->exact);
    double change = c->ratio - 1, thr = opt->threshold;
    bool significant = c->p < opt->alpha;
    if (significant && fabs(change) > thr) {
        c->verdict = change < 0 ? GC_SLOWER : GC_FASTER;
        snprintf(c->why, sizeof c->why, "p = %.3g < %g and change %+.1f%% beyond %.1f%%", c->p,
                 opt->alpha, 100 * change, 100 * thr);
    } else if (significant) {
        c->verdict = GC_SAME;
        snprintf(c->why, sizeof c->why, "significant (p = %.3g) but change %+.1f%% within %.1f%%",
                 c->p, 100 * change, 100 * thr);
    } else if (c->ci_low >= 1 - thr && c->ci_high <= 1 + thr) {
        c->verdict = GC_SAME;
        snprintf(c->why, sizeof c->why, "95%% CI within %.1f%% of no change", 100 * thr);
    } else {
        c->verdict = GC_NOISY;
        snprintf(c->why, sizeof c->why,
                 "p = %.3g not below %g and the 95%% CI reaches beyond %.1f%%", c->p,
                 opt->alpha, 100 * thr);
    }
}

/* ---- matching -------------------------------------------------------------------------------- */

/* A case key with its host: "key@host", or the bare key when hosts are ignored. */
#define SIDE_KEY_LEN (GC_CASE_KEY_LEN + 130)

typedef struct side_case {
    const gc_case_result *first;   /* identity and status come from the first file seen */
    char key[SIDE_KEY_LEN];        /* gc_case_key (+ "@host") */
    char coarse[SIDE_KEY_LEN];     /* gc_case_key_coarse (+ "@host"): the schema-1 match */
    char host[128];
    bool partial;                  /* from a schema-1 file: device and params unknown */
    bool paired;                   /* matched a case of the other side */
    double *tp;                    /* throughput samples merged over files */
    int n, cap;
    double *ins;                   /* instructions per rep, one per file that recorded it */
    int n_ins, cap_ins;
    bool all_ok;                   /* every occurrence had status "ok" */
    char bad_status[12];
} side_case;

/* Cases are found by key through an open-addressing hash table of indices into c (indices,
 * not pointers: c moves when it grows), and by coarse key through a second table whose slots
 * start chains (coarse_next) in index order: matching stays near-linear with 100,000s of cases. */
typedef struct side {
    side_case *c;
    int n, cap;
    bool schema1;                  /* some file of this side is schema 1 */
    int *slots;                    /* key table: -1 empty, else an index into c */
    size_t n_slots;                /* a power of two, at least twice n */
    int *coarse_slots, *coarse_next;   /* built by side_index_coarse once every file is in */
    size_t n_slots_coarse;
} side;

/* FNV-1a: short keys, no adversary who gains from collisions beyond a slower compare. */
static size_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (size_t)h;
}

/* The slot of key in a table of indices (keys read through key_of): its index, or the empty
 * slot where it would go. */
static size_t probe(const int *slots, size_t n_slots, const side *s, const char *key, bool coarse) {
    size_t i = hash_str(key) & (n_slots - 1);
    for (; slots[i] >= 0; i = (i + 1) & (n_slots - 1)) {
        const side_case *x = &s->c[slots[i]];
        if (!strcmp(coarse ? x->coarse : x->key, key))
            break;
    }
    return i;
}

/* Doubles the key table and re-inserts every case. */
static int side_rehash(side *s) {
    size_t n = s->n_slots ? 2 * s->n_slots : 64;
    int *t = malloc(n * sizeof *t);
    if (!t)
        return -1;
    memset(t, 0xff, n * sizeof *t);   /* every slot -1 */
    for (int i = 0; i < s->n; i++)
        t[probe(t, n, s, s->c[i].key, false)] = i;
    free(s->slots);
    s->slots = t;
    s->n_slots = n;
    return 0;
}

/* The coarse table: each slot holds the first case of a coarse key, coarse_next the rest. */
static int side_index_coarse(side *s) {
    size_t n = 64;
    while (n < 2 * (size_t)s->n)
        n *= 2;
    s->coarse_slots = malloc(n * sizeof *s->coarse_slots);
    s->coarse_next = malloc((size_t)(s->n ? s->n : 1) * sizeof *s->coarse_next);
    int *last = malloc(n * sizeof *last);   /* the chain's tail per slot, so chains keep order */
    if (!s->coarse_slots || !s->coarse_next || !last) {
        free(last);
        return -1;
    }
    memset(s->coarse_slots, 0xff, n * sizeof *s->coarse_slots);
    for (int i = 0; i < s->n; i++) {
        size_t k = probe(s->coarse_slots, n, s, s->c[i].coarse, true);
        s->coarse_next[i] = -1;
        if (s->coarse_slots[k] < 0)
            s->coarse_slots[k] = i;
        else
            s->coarse_next[last[k]] = i;
        last[k] = i;
    }
    free(last);
    s->n_slots_coarse = n;
    return 0;
}

static void with_host(char *buf, size_t n, const char *host, bool any_host) {
    if (any_host)
        return;
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "@%s", host);
}

static int push_value(double **arr, int *n, int *cap, double v) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        double *t = realloc(*arr, (size_t)c * sizeof *t);
        if (!t)
            return -1;
        *arr = t;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static int push_sample(side_case *sc, double v) {
    return push_value(&sc->tp, &sc->n, &sc->cap, v);
}

/* The instruction count of one file's case, when its counters worked. */
static int push_instructions(side_case *sc, const gc_case_result *cr) {
    double v = gc_kv_get(cr->metrics.vals, cr->metrics.n_vals, GC_METRIC_INSTRUCTIONS, NAN);
    return isfinite(v) && v > 0 ? push_value(&sc->ins, &sc->n_ins, &sc->cap_ins, v) : 0;
}

static side_case *side_find(side *s, const char *key) {
    if (!s->n_slots)
        return NULL;
    int i = s->slots[probe(s->slots, s->n_slots, s, key, false)];
    return i >= 0 ? &s->c[i] : NULL;
}

static side_case *side_get(side *s, const gc_case_result *cr, const gc_results *r,
                           bool any_host) {
    char key[SIDE_KEY_LEN];
    gc_case_key(&cr->id, key, sizeof key);
    with_host(key, sizeof key, r->host_name, any_host);
    side_case *sc = side_find(s, key);
    if (sc) {
        sc->partial |= !results_id_complete(r);
        return sc;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        side_case *t = realloc(s->c, (size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        s->c = t;
        s->cap = cap;
    }
    if (2 * (size_t)(s->n + 1) > s->n_slots && side_rehash(s))
        return NULL;
    sc = &s->c[s->n];
    memset(sc, 0, sizeof *sc);
    sc->first = cr;
    sc->all_ok = true;
    sc->partial = !results_id_complete(r);
    snprintf(sc->key, sizeof sc->key, "%s", key);
    gc_case_key_coarse(&cr->id, sc->coarse, sizeof sc->coarse);
    with_host(sc->coarse, sizeof sc->coarse, r->host_name, any_host);
    snprintf(sc->host, sizeof sc->host, "%s", r->host_name);
    s->slots[probe(s->slots, s->n_slots, s, sc->key, false)] = s->n++;
    return sc;
}

/* Throughput per repetition; work_per_rep 0 (not modelled) counts repetitions per second. */
static int side_add_file(side *s, const gc_results *r, bool any_host) {
    s->schema1 |= !results_id_complete(r);
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *cr = &r->cases[i];
        side_case *sc = side_get(s, cr, r, any_host);
        if (!sc)
            return -1;
        if (strcmp(cr->status, "ok")) {
            sc->all_ok = false;
            snprintf(sc->bad_status, sizeof sc->bad_status, "%s", cr->status);
            continue;
        }
        if (push_instructions(sc, cr))
            return -1;
        double work = cr->work_per_rep > 0 ? cr->work_per_rep : 1;
        for (int k = 0; k < cr->n_samples; k++) {
            double t = cr->samples_s[k];
            if (isfinite(t) && t > 0 && push_sample(sc, work / t))
                return -1;
        }
    }
    return 0;
}

static void side_free(side *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->c[i].tp);
        free(s->c[i].ins);
    }
    free(s->c);
    free(s->slots);
    free(s->coarse_slots);
    free(s->coarse_next);
}

/* The identity shown is the fuller one: a schema-1 side knows neither device nor params. */
static void fill_identity(gc_case_cmp *c, const side_case *b, const side_case *n) {
    const gc_case_result *r = b->partial && !n->partial ? n->first : b->first;
    c->id = r->id;
    c->partial = strcmp(b->key, n->key) != 0;   /* met on the coarse key */
    gc_case_key(&c->id, c->key, sizeof c->key);   /* shown with the host in its own column */
    snprintf(c->unit, sizeof c->unit, "%s", r->unit);
    if (strcmp(b->host, n->host))
        snprintf(c->host, sizeof c->host, "%.60s -> %.60s", b->host, n->host);
    else
        snprintf(c->host, sizeof c->host, "%s", b->host);
}

/* Model counts from the first file of the side (they are fixed by the case), instructions as
 * the median over the files that counted them. */
static gc_work_counts side_counts(const side_case *sc) {
    const gc_case_result *r = sc->first;
    return (gc_work_counts){.instructions = sc->n_ins ? median_of(sc->ins, sc->n_ins) : NAN,
                            .work = r->work_per_rep, .bytes = r->bytes_per_rep,
                            .flops = r->flops_per_rep};
}

static void compare_one(const side_case *b, const side_case *n, const gc_compare_opts *opt,
                        gc_case_cmp *c) {
    memset(c, 0, sizeof *c);
    fill_identity(c, b, n);
    if (!b->all_ok) {
        compare_samples(b->tp, b->n, n->tp, n->n, opt, c);
        c->verdict = GC_UNUSABLE;
        snprintf(c->why, sizeof c->why, "BASE case has status '%s'", b->bad_status);
    } else if (!n->all_ok) {
        compare_samples(b->tp, b->n, n->tp, n->n, opt, c);
        c->verdict = GC_BROKEN;
        snprintf(c->why, sizeof c->why, "NEW case has status '%s' where BASE was ok",
                 n->bad_status);
    } else {
        compare_samples(b->tp, b->n, n->tp, n->n, opt, c);
    }
    gc_work_counts cb = side_counts(b), cn = side_counts(n);
    compare_counts(&cb, &cn, opt, c);
}

static int add_key(char ***list, int *n, const char *key) {
    char **t = realloc(*list, (size_t)(*n + 1) * sizeof *t);
    if (!t)
        return -1;
    *list = t;
    if (!(t[*n] = strdup(key)))
        return -1;
    (*n)++;
    return 0;
}

static int add_pair(side_case *b, side_case *n, gc_comparison *out, int *cap) {
    if (out->n_cases == *cap) {
        int c = *cap ? 2 * *cap : 16;
        gc_case_cmp *t = realloc(out->cases, (size_t)c * sizeof *t);
        if (!t)
            return -1;
        out->cases = t;
        *cap = c;
    }
    gc_case_cmp *c = &out->cases[out->n_cases++];
    compare_one(b, n, &out->opt, c);
    out->n_verdict[c->verdict]++;
    out->n_partial += c->partial;
    b->paired = n->paired = true;
    return 0;
}

/* The exact key first; failing that, when either case is from a schema-1 file, every case of
 * the other side that agrees on the fields both have (the coarse key). */
static int match_one(side_case *b, side *sn, gc_comparison *out, int *cap) {
    side_case *n = side_find(sn, b->key);
    if (n)
        return add_pair(b, n, out, cap);
    int first = sn->coarse_slots[probe(sn->coarse_slots, sn->n_slots_coarse, sn, b->coarse, true)];
    for (int i = first; i >= 0; i = sn->coarse_next[i]) {
        side_case *x = &sn->c[i];
        if ((b->partial || x->partial) && add_pair(b, x, out, cap))
            return -1;
    }
    return 0;
}

static int match_sides(side *sb, side *sn, gc_comparison *out) {
    int cap = 0;
    out->base_schema1 = sb->schema1;
    out->new_schema1 = sn->schema1;
    out->n_base_cases = sb->n;
    out->n_new_cases = sn->n;
    if (side_index_coarse(sn))
        return -1;
    for (int i = 0; i < sb->n; i++) {
        if (match_one(&sb->c[i], sn, out, &cap))
            return -1;
        if (!sb->c[i].paired && add_key(&out->only_base, &out->n_only_base, sb->c[i].key))
            return -1;
    }
    for (int i = 0; i < sn->n; i++)
        if (!sn->c[i].paired && add_key(&out->only_new, &out->n_only_new, sn->c[i].key))
            return -1;
    return 0;
}

int compare_results(const gc_results *base, int nb, const gc_results *nw, int nn,
                    const gc_compare_opts *opt, gc_comparison *out, gc_err *err) {
    memset(out, 0, sizeof *out);
    out->opt = *opt;
    side sb = {0}, sn = {0};
    int rc = 0;
    for (int i = 0; i < nb && !rc; i++)
        rc = side_add_file(&sb, &base[i], opt->any_host);
    for (int i = 0; i < nn && !rc; i++)
        rc = side_add_file(&sn, &nw[i], opt->any_host);
    if (!rc)
        rc = match_sides(&sb, &sn, out);
    side_free(&sb);
    side_free(&sn);
    if (rc) {
        comparison_free(out);
        return gc_errf(err, "compare: out of memory");
    }
    return 0;
}

void comparison_free(gc_comparison *c) {
    free(c->cases);
    for (int i = 0; i < c->n_only_base; i++)
        free(c->only_base[i]);
    for (int i = 0; i < c->n_only_new; i++)
        free(c->only_new[i]);
    free(c->only_base);
    free(c->only_new);
    memset(c, 0, sizeof *c);
}

bool comparison_regressed(const gc_comparison *c) {
    return c->n_verdict[GC_SLOWER] > 0 || c->n_verdict[GC_BROKEN] > 0;
}

int comparison_exit_status(const gc_comparison *c) {
    if (comparison_regressed(c))
        return 1;
    return c->n_cases ? 0 : GC_EXIT_NOTHING_COMPARED;
}
