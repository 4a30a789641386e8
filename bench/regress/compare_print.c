/* Output of `gencost compare`: Markdown for a pull-request comment, aligned text for a
 * terminal, JSON for tools. Regressions are listed first in every format. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bench/regress/compare.h"
#include "bench/perfcount.h"

int compare_parse_format(const char *s, gc_cmp_format *f) {
    if (!strcmp(s, "md") || !strcmp(s, "markdown"))
        *f = GC_FMT_MD;
    else if (!strcmp(s, "text"))
        *f = GC_FMT_TEXT;
    else if (!strcmp(s, "json"))
        *f = GC_FMT_JSON;
    else
        return -1;
    return 0;
}

/* Regressions first, then changes, then what could not be told, then the quiet rest. */
static int verdict_rank(gc_verdict v) {
    static const int rank[] = {[GC_BROKEN] = 0, [GC_SLOWER] = 1, [GC_FASTER] = 2,
                               [GC_NOISY] = 3, [GC_UNUSABLE] = 4, [GC_WORK_CHANGED] = 4,
                               [GC_SAME] = 5};
    return rank[v];
}

/* Indices of cases in print order (stable within a rank, so file order is kept). */
static int *print_order(const gc_comparison *c) {
    int *idx = malloc((size_t)(c->n_cases ? c->n_cases : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    int k = 0;
    for (int r = 0; r <= 5; r++)
        for (int i = 0; i < c->n_cases; i++)
            if (verdict_rank(c->cases[i].verdict) == r)
                idx[k++] = i;
    return idx;
}

static void fmt_pct(char *buf, size_t n, double ratio) {
    if (isfinite(ratio))
        snprintf(buf, n, "%+.1f%%", 100 * (ratio - 1));
    else
        snprintf(buf, n, "n/a");
}

static void fmt_ci(char *buf, size_t n, const gc_case_cmp *c) {
    if (isfinite(c->ci_low) && isfinite(c->ci_high))
        snprintf(buf, n, "%+.1f%% .. %+.1f%%", 100 * (c->ci_low - 1), 100 * (c->ci_high - 1));
    else
        snprintf(buf, n, "n/a");
}

/* The counts cell: the change of instructions per rep, or why there is none. */
static void fmt_counts(char *buf, size_t n, const gc_case_cmp *c) {
    if (c->counts == GC_COUNTS_COMPARED)
        snprintf(buf, n, "instr %+.2f%%", 100 * (c->ins_ratio - 1));
    else if (c->counts == GC_COUNTS_UNAVAILABLE)
        snprintf(buf, n, "unavailable");
    else if (c->counts == GC_COUNTS_WORK_CHANGED)
        snprintf(buf, n, "work changed");
    else
        snprintf(buf, n, "-");
}

static void fmt_p(char *buf, size_t n, const gc_case_cmp *c) {
    if (isfinite(c->p))
        snprintf(buf, n, c->p < 0.001 ? "%.1e" : "%.3f", c->p);
    else
        snprintf(buf, n, "n/a");
}

static void fmt_tp(char *buf, size_t n, double v, const char *unit, int count) {
    if (isfinite(v))
        snprintf(buf, n, "%.4g %s/s (n=%d)", v, unit, count);
    else
        snprintf(buf, n, "- (n=%d)", count);
}

/* The figures of one case as printed by the md and text formats. */
typedef struct cells {
    char base[64], neu[64], change[32], ci[64], p[32], counts[32];
} cells;

static void fill_cells(const gc_case_cmp *x, cells *t) {
    fmt_tp(t->base, sizeof t->base, x->median_base, x->unit, x->n_base);
    fmt_tp(t->neu, sizeof t->neu, x->median_new, x->unit, x->n_new);
    fmt_pct(t->change, sizeof t->change, x->ratio);
    fmt_ci(t->ci, sizeof t->ci, x);
    fmt_p(t->p, sizeof t->p, x);
    fmt_counts(t->counts, sizeof t->counts, x);
}

bool comparison_coverage(const gc_comparison *c, char *buf, size_t n) {
    buf[0] = 0;
    if (!c->n_cases) {
        if (!c->n_base_cases || !c->n_new_cases)
            snprintf(buf, n, "nothing compared: %s", !c->n_base_cases && !c->n_new_cases ? "BASE and NEW have no cases"
                                                     : !c->n_base_cases ? "BASE has no cases"
                                                                        : "NEW has no cases");
        else
            snprintf(buf, n, "nothing compared: no case of BASE is in NEW (%d BASE, %d NEW cases; another "
                             "thread count, preset, parameter or host makes another case)",
                     c->n_base_cases, c->n_new_cases);
        return true;
    }
    int base_in = c->n_base_cases - c->n_only_base, new_in = c->n_new_cases - c->n_only_new;
    bool few_base = 2 * c->n_only_base > c->n_base_cases, few_new = 2 * c->n_only_new > c->n_new_cases;
    if (few_base && few_new)
        snprintf(buf, n, "only %d of %d BASE cases are in NEW, only %d of %d NEW cases are in BASE", base_in,
                 c->n_base_cases, new_in, c->n_new_cases);
    else if (few_base)
        snprintf(buf, n, "only %d of %d BASE cases are in NEW", base_in, c->n_base_cases);
    else if (few_new)
        snprintf(buf, n, "only %d of %d NEW cases are in BASE", new_in, c->n_new_cases);
    return few_base || few_new;
}

/* The verdict counts, with the coverage remark after them (or only it, when nothing was
 * compared). */
static void summary_line(const gc_comparison *c, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    if (!c->n_cases) {
        comparison_coverage(c, buf, n);
        return;
    }
    static const gc_verdict order[] = {GC_SLOWER, GC_BROKEN, GC_FASTER, GC_SAME, GC_NOISY,
                                       GC_UNUSABLE, GC_WORK_CHANGED};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int k = c->n_verdict[order[i]];
        if (!k && order[i] != GC_SLOWER)
            continue;
        int w = snprintf(buf + used, n - used, "%s%d %s", used ? ", " : "", k,
                         compare_verdict_name(order[i]));
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
    char cov[256];
    if (comparison_coverage(c, cov, sizeof cov))
        snprintf(buf + used, n - used, "; %s", cov);
}

/* The one note on schema-1 matching (compare.h), when some case was matched that way. */
static bool schema1_note(const gc_comparison *c, char *buf, size_t n) {
    if (!c->n_partial)
        return false;
    const char *who = c->base_schema1 && c->new_schema1 ? "BASE and NEW are"
                      : c->base_schema1                 ? "BASE is"
                                                        : "NEW is";
    snprintf(buf, n, "%s schema 1: cases matched without device and parameters", who);
    return true;
}

/* Markdown table cells must not contain '|'. */
static void md_cell(FILE *out, const char *s) {
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, out);
}

static void print_md(const gc_comparison *c, const int *idx, const char *bn, const char *nn,
                     FILE *out) {
    char sum[512];
    summary_line(c, sum, sizeof sum);
    bool bad = comparison_regressed(c);
    fprintf(out, "### gencost compare: %s\n\n",
            bad ? "regression found" : c->n_cases ? "no regression" : "nothing compared");
    fprintf(out, "BASE `");
    md_cell(out, bn);
    fprintf(out, "` vs NEW `");
    md_cell(out, nn);
    fprintf(out, "`\n\n**%s** (threshold %.1f%%, alpha %g, Mann-Whitney U, 95%% bootstrap CI "
                 "of the ratio of median throughputs)\n\n",
            sum, 100 * c->opt.threshold, c->opt.alpha);
    char note[128];
    if (schema1_note(c, note, sizeof note))
        fprintf(out, "Note: %s.\n\n", note);
    if (c->opt.counts)
        fprintf(out, "Verdicts from instructions per repetition where both sides counted them "
                     "(threshold %.1f%%); wall time (column *time*) is then for information "
                     "only.\n\n",
                100 * c->opt.count_threshold);
    if (c->n_cases && c->opt.counts) {
        fprintf(out, "| verdict | case | host | counts | time | BASE | NEW | change | 95%% CI "
                     "| p |\n"
                     "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    } else if (c->n_cases) {
        fprintf(out, "| verdict | case | host | BASE | NEW | change | 95%% CI | p |\n"
                     "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    }
    if (c->n_cases) {
        for (int k = 0; k < c->n_cases; k++) {
            const gc_case_cmp *x = &c->cases[idx[k]];
            cells t;
            fill_cells(x, &t);
            bool alarm = x->verdict == GC_SLOWER || x->verdict == GC_BROKEN;
            fprintf(out, alarm ? "| **%s** | " : "| %s | ", compare_verdict_name(x->verdict));
            md_cell(out, x->key);
            fputs(" | ", out);
            md_cell(out, x->host);
            if (c->opt.counts)
                fprintf(out, " | %s | %s", t.counts,
                        x->counts == GC_COUNTS_OFF ? "-" : compare_verdict_name(x->time_verdict));
            fprintf(out, " | %s | %s | %s | %s | %s |\n", t.base, t.neu, t.change, t.ci, t.p);
        }
    }
    for (int i = 0; i < c->n_only_base; i++)
        fprintf(out, "%s- only in BASE: `%s`\n", i ? "" : "\n", c->only_base[i]);
    for (int i = 0; i < c->n_only_new; i++)
        fprintf(out, "%s- only in NEW: `%s`\n", i || c->n_only_base ? "" : "\n", c->only_new[i]);
    int shown = 0;
    for (int k = 0; k < c->n_cases; k++) {
        const gc_case_cmp *x = &c->cases[idx[k]];
        if (x->verdict == GC_SAME)
            continue;
        if (!shown++)
            fprintf(out, "\n<details><summary>why</summary>\n\n");
        fprintf(out, "- `%s` on %s: %s\n", x->key, x->host, x->why);
    }
    if (shown)
        fprintf(out, "\n</details>\n");
}

/* One line with the counts of a case: ratio, or the reason there is none, and the time verdict
 * when it did not decide. */
static void print_text_counts(const gc_case_cmp *x, FILE *out) {
    if (x->counts == GC_COUNTS_COMPARED)
        fprintf(out, "         counts: %s %.6g -> %.6g (ratio %.4f, %+.2f%%); time: %s\n",
                GC_METRIC_INSTRUCTIONS, x->cnt_base.instructions, x->cnt_new.instructions,
                x->ins_ratio, 100 * (x->ins_ratio - 1), compare_verdict_name(x->time_verdict));
    else if (x->counts == GC_COUNTS_UNAVAILABLE)
        fprintf(out, "         counts: unavailable (verdict from time)\n");
    else if (x->counts == GC_COUNTS_WORK_CHANGED)
        fprintf(out, "         counts: work changed (not comparable)\n");
    else
        fprintf(out, "         counts: not compared (a side did not pass)\n");
}

static void print_text(const gc_comparison *c, const int *idx, const char *bn, const char *nn,
                       FILE *out) {
    char sum[512];
    summary_line(c, sum, sizeof sum);
    fprintf(out, "BASE %s\nNEW  %s\n%s (threshold %.1f%%, alpha %g", bn, nn, sum,
            100 * c->opt.threshold, c->opt.alpha);
    if (c->opt.counts)
        fprintf(out, "; verdicts from instruction counts where both sides have them, "
                     "count threshold %.1f%%", 100 * c->opt.count_threshold);
    fprintf(out, ")\n");
    char note[128];
    if (schema1_note(c, note, sizeof note))
        fprintf(out, "note: %s\n", note);
    fputc('\n', out);
    for (int k = 0; k < c->n_cases; k++) {
        const gc_case_cmp *x = &c->cases[idx[k]];
        cells t;
        fill_cells(x, &t);
        fprintf(out, "%-8s %s @ %s\n         %s -> %s  change %s  CI %s  p %s\n         %s\n",
                compare_verdict_name(x->verdict), x->key, x->host, t.base, t.neu, t.change, t.ci, t.p, x->why);
        if (c->opt.counts)
            print_text_counts(x, out);
    }
    for (int i = 0; i < c->n_only_base; i++)
        fprintf(out, "only in BASE: %s\n", c->only_base[i]);
    for (int i = 0; i < c->n_only_new; i++)
        fprintf(out, "only in NEW:  %s\n", c->only_new[i]);
}

static json_t *num_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *case_json(const gc_case_cmp *x) {
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(x->key));
    json_object_set_new(o, "workload", json_string(x->id.workload));
    json_object_set_new(o, "preset", json_string(x->id.preset));
    json_object_set_new(o, "params", json_string(x->id.params));
    json_object_set_new(o, "quant", json_string(x->id.quant));
    json_object_set_new(o, "backend", json_string(x->id.backend));
    json_object_set_new(o, "device", json_string(x->id.device));
    json_object_set_new(o, "threads", json_integer(x->id.threads));
    json_object_set_new(o, "phase", json_string(x->id.phase));
    json_object_set_new(o, "matched_without_device_and_params", json_boolean(x->partial));
    json_object_set_new(o, "host", json_string(x->host));
    json_object_set_new(o, "unit", json_string(x->unit));
    json_object_set_new(o, "n_base", json_integer(x->n_base));
    json_object_set_new(o, "n_new", json_integer(x->n_new));
    json_object_set_new(o, "median_base", num_or_null(x->median_base));
    json_object_set_new(o, "median_new", num_or_null(x->median_new));
    json_object_set_new(o, "ratio", num_or_null(x->ratio));
    json_object_set_new(o, "ci95_low", num_or_null(x->ci_low));
    json_object_set_new(o, "ci95_high", num_or_null(x->ci_high));
    json_object_set_new(o, "u", num_or_null(x->u));
    json_object_set_new(o, "p", num_or_null(x->p));
    json_object_set_new(o, "exact", json_boolean(x->exact));
    json_object_set_new(o, "verdict", json_string(compare_verdict_name(x->verdict)));
    json_object_set_new(o, "why", json_string(x->why));
    return o;
}

static json_t *side_counts_json(const gc_work_counts *w) {
    json_t *o = json_object();
    json_object_set_new(o, "instructions_per_rep", num_or_null(w->instructions));
    json_object_set_new(o, "work_per_rep", num_or_null(w->work));
    json_object_set_new(o, "bytes_per_rep", num_or_null(w->bytes));
    json_object_set_new(o, "flops_per_rep", num_or_null(w->flops));
    return o;
}

/* With --counts: what the counts gave, and the throughput verdict they may have replaced. */
static json_t *work_counts_json(const gc_case_cmp *x) {
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(compare_counts_state_name(x->counts)));
    json_object_set_new(o, "instructions_ratio", num_or_null(x->ins_ratio));
    json_object_set_new(o, "base", side_counts_json(&x->cnt_base));
    json_object_set_new(o, "new", side_counts_json(&x->cnt_new));
    json_object_set_new(o, "time_verdict", json_string(compare_verdict_name(x->time_verdict)));
    json_object_set_new(o, "time_why", json_string(x->time_why));
    return o;
}

static json_t *key_list(char *const *keys, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(keys[i]));
    return a;
}

static void print_json(const gc_comparison *c, const int *idx, const char *bn, const char *nn,
                       FILE *out) {
    json_t *o = json_object();
    json_object_set_new(o, "base", json_string(bn));
    json_object_set_new(o, "new", json_string(nn));
    json_object_set_new(o, "threshold", json_real(c->opt.threshold));
    json_object_set_new(o, "alpha", json_real(c->opt.alpha));
    json_object_set_new(o, "bootstrap_resamples", json_integer(c->opt.n_boot));
    json_object_set_new(o, "verdict_from", json_string(c->opt.counts ? "counts" : "time"));
    if (c->opt.counts)
        json_object_set_new(o, "count_threshold", json_real(c->opt.count_threshold));
    json_object_set_new(o, "regression", json_boolean(comparison_regressed(c)));
    json_object_set_new(o, "nothing_compared", json_boolean(c->n_cases == 0));
    json_object_set_new(o, "base_cases", json_integer(c->n_base_cases));
    json_object_set_new(o, "new_cases", json_integer(c->n_new_cases));
    char cov[256];
    if (comparison_coverage(c, cov, sizeof cov))
        json_object_set_new(o, "coverage", json_string(cov));
    char note[128];
    if (schema1_note(c, note, sizeof note))
        json_object_set_new(o, "note", json_string(note));
    json_t *counts = json_object();
    for (int v = 0; v < GC_N_VERDICTS; v++)
        json_object_set_new(counts, compare_verdict_name((gc_verdict)v),
                            json_integer(c->n_verdict[v]));
    json_object_set_new(o, "counts", counts);
    json_t *cases = json_array();
    for (int k = 0; k < c->n_cases; k++) {
        json_t *x = case_json(&c->cases[idx[k]]);
        if (c->opt.counts)
            json_object_set_new(x, "work_counts", work_counts_json(&c->cases[idx[k]]));
        json_array_append_new(cases, x);
    }
    json_object_set_new(o, "cases", cases);
    json_object_set_new(o, "only_base", key_list(c->only_base, c->n_only_base));
    json_object_set_new(o, "only_new", key_list(c->only_new, c->n_only_new));
    json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(o);
}

void comparison_print(const gc_comparison *c, gc_cmp_format f, const char *base_name,
                      const char *new_name, FILE *out) {
    int *idx = print_order(c);
    if (!idx)
        return;
    if (f == GC_FMT_MD)
        print_md(c, idx, base_name, new_name, out);
    else if (f == GC_FMT_TEXT)
        print_text(c, idx, base_name, new_name, out);
    else
        print_json(c, idx, base_name, new_name, out);
    free(idx);
}
