/* The report's tables, built once from the model and rendered as Markdown and HTML. Cells,
 * titles and intros hold names from results files and profiles (untrusted): the renderers pass
 * every one through gc_md or gc_html (base/escape.h), never print them directly. */
#include "reports/report_model.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/escape.h"

static rp_table *new_table(rp_table **ts, int *n, const char *title, int ncol, const char *const *head) {
    rp_table *t = realloc(*ts, (size_t)(*n + 1) * sizeof *t);
    if (!t) return NULL;
    *ts = t;
    t = &t[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->title, sizeof t->title, "%s", title);
    t->ncol = ncol;
    for (int i = 0; i < ncol; i++) t->head[i] = head[i];
    return t;
}

/* Appends one row; the variadic arguments are ncol strings. */
static int add_cells(rp_table *t, ...) {
    if (t->nrow == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, (size_t)cap * (size_t)t->ncol * sizeof *c);
        if (!c) return -1;
        t->cells = c;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncol; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrow * t->ncol + i] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrow++;
    return 0;
}

void rp_tables_free(rp_table *t, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < t[i].nrow * t[i].ncol; k++) free(t[i].cells[k]);
        free(t[i].cells);
    }
    free(t);
}

/* Numbers keep 4 significant digits: enough to compare, none invented. */
static const char *num(char *b, double x) {
    if (!isfinite(x)) snprintf(b, 32, "—");
    else if (fabs(x) >= 1e4 && fabs(x) < 1e9) snprintf(b, 32, "%.0f", x);
    else snprintf(b, 32, "%.4g", x);
    return b;
}

static const char *usd(char *b, double x) {
    if (!isfinite(x)) snprintf(b, 32, "—");
    else if (x >= 100) snprintf(b, 32, "$%.0f", x);
    else if (x >= 1) snprintf(b, 32, "$%.2f", x);
    else snprintf(b, 32, "$%.3g", x);
    return b;
}

static void host_tag(const rp_model *m, int h, char *b, size_t n) { rp_host_tag(m, h, b, n); }

/* ---- hosts ---------------------------------------------------------------------------------- */

static void price_text(const gc_profile *p, char *b, size_t n) {
    char x[32], y[32], z[32];
    switch (p->kind) {
    case GC_COST_OWNED:
        snprintf(b, n, "%s/h (%s over %g y × %g h/day + %g W × %s/kWh)%s", usd(x, cost_usd_per_hour(p, 0)),
                 usd(y, p->purchase_usd), p->lifetime_years, p->hours_per_day, p->active_watts,
                 usd(z, p->usd_per_kwh), p->purchase_usd == 0 ? "; purchase price not set: electricity only" : "");
        break;
    case GC_COST_SUBSCRIPTION:
        snprintf(b, n, "%s/h (%s/month ÷ %g units × %g units/h)", usd(x, cost_usd_per_hour(p, 0)),
                 usd(y, p->monthly_usd), p->units_per_month, p->units_per_hour);
        break;
    case GC_COST_HOURLY:
        snprintf(b, n, "%s/h (%s %s)", usd(x, p->usd_per_hour), p->provider, p->pricing);
        break;
    case GC_COST_API:
        snprintf(b, n, "%s/M input, %s/M output tokens (%s)", usd(x, p->usd_per_m_input),
                 usd(y, p->usd_per_m_output), p->provider);
        break;
    }
}

static int hosts_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"host", "name", "figures", "cost kind", "price while working",
                                       "memory GB/s", "prices as of", "source"};
    rp_table *t = new_table(ts, n, "Hosts", 8, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "Measured hosts ran the workloads; projected hosts are computed from their profile's "
             "roofline (see Throughput); api figures are stated by the profile, not measured.");
    for (int h = 0; h < m->n_hosts; h++) {
        const rp_host *x = &m->hosts[h];
        const gc_profile *p = x->prof;
        char price[256] = "— (no profile)", bw[48] = "—", b[32];
        const char *what = x->measured ? "measured" : rp_host_projected(m, h) ? "projected" : "profile";
        if (p) price_text(p, price, sizeof price);
        if (p && p->mem_bw_gbs > 0) snprintf(bw, sizeof bw, "%s", num(b, p->mem_bw_gbs));
        else if (x->meas_bw_gbs > 0) snprintf(bw, sizeof bw, "%s (triad, measured)", num(b, x->meas_bw_gbs));
        if (add_cells(t, x->label, x->name, what, p ? profile_kind_name(p->kind) : "—", price, bw,
                      p ? p->as_of : "—", p ? (p->cost_source[0] ? p->cost_source : p->path) : x->files))
            return -1;
    }
    return 0;
}

/* ---- throughput and speedup ----------------------------------------------------------------- */

static int cmp_rows(const void *a, const void *b, void *ctx) {
    (void)ctx;
    const rp_row *x = a, *y = b;
    char ka[GC_CASE_KEY_LEN], kb[GC_CASE_KEY_LEN];
    gc_job_key(&x->id, ka, sizeof ka);
    gc_job_key(&y->id, kb, sizeof kb);
    int c = strcmp(ka, kb);
    if (c) return c;
    if (x->host != y->host) return x->host - y->host;
    return (y->tput > x->tput) - (y->tput < x->tput);
}

/* qsort_r over row indices (ctx: the model); equal rows keep their order. */
static int cmp_row_order(const void *a, const void *b, void *ctx) {
    const rp_model *m = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    int c = cmp_rows(&m->rows[i], &m->rows[j], NULL);
    return c ? c : (i > j) - (i < j);
}

static int throughput_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "host", "figure", "backend (device) × threads", "median /s",
                                       "95% CI", "cv", "n", "note"};
    rp_table *t = new_table(ts, n, "Throughput", 9, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "Units of work per second (median of the timed repetitions, 95%% CI of the median). "
             "Projected: time per repetition from the host's roofline, bytes ÷ (bandwidth × %.2f) and "
             "FLOPs ÷ (peak × %.2f), the larger of the two for one phase, their sum for a whole "
             "generation (compute-bound prefill then memory-bound decode); quantized and f16 cases "
             "use the FP16 peak, f32 cases the FP32 peak. Efficiencies can be set per profile.",
             GC_PROJ_BW_EFFICIENCY, GC_PROJ_COMPUTE_EFFICIENCY);
    int *order = malloc((size_t)(m->n_rows ? m->n_rows : 1) * sizeof *order);
    if (!order) return -1;
    for (int i = 0; i < m->n_rows; i++) order[i] = i;
    /* by job, host, speed, then row order (stable): qsort, as a report may hold 100,000s of rows */
    qsort_r(order, (size_t)m->n_rows, sizeof *order, cmp_row_order, (void *)m);
    int rc = 0;
    for (int i = 0; i < m->n_rows && !rc; i++) {
        const rp_row *r = &m->rows[order[i]];
        char job[GC_CASE_KEY_LEN + 24], key[GC_CASE_KEY_LEN], host[128], cfg[112], med[32], ci[80], cv[32],
            nn[16], note[256], a[32], b[32];
        gc_job_key(&r->id, key, sizeof key);
        snprintf(job, sizeof job, "%s (%s)", key, r->unit);
        host_tag(m, r->host, host, sizeof host);
        if (r->how == RP_MEASURED) {
            snprintf(cfg, sizeof cfg, "%s%s%s%s × %d", r->id.backend, r->id.device[0] ? " (" : "", r->id.device,
                     r->id.device[0] ? ")" : "", r->id.threads);
            snprintf(ci, sizeof ci, "%s … %s", num(a, r->lo), num(b, r->hi));
            snprintf(cv, sizeof cv, "%.1f%%", 100 * r->cv);
            snprintf(nn, sizeof nn, "%d", r->n);
            snprintf(note, sizeof note, "%s%s", r->best ? "fastest here" : "",
                     r->high_spread ? (r->best ? "; HIGH SPREAD" : "HIGH SPREAD") : "");
        } else {
            snprintf(cfg, sizeof cfg, "—");
            snprintf(ci, sizeof ci, "—");
            snprintf(cv, sizeof cv, "—");
            snprintf(nn, sizeof nn, "—");
            snprintf(note, sizeof note, "%s", r->basis);
        }
        rc = add_cells(t, job, host, rp_how_name(r->how), cfg, num(med, r->tput), ci, cv, nn, note);
    }
    free(order);
    return rc;
}

static int speedup_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "host", "figure", "median /s", "speedup"};
    char title[128];
    snprintf(title, sizeof title, "Speedup vs %s", m->baseline >= 0 ? m->hosts[m->baseline].label : "baseline");
    rp_table *t = new_table(ts, n, title, 5, head);
    if (!t) return -1;
    if (m->baseline < 0) {
        snprintf(t->intro, sizeof t->intro, "No measured host to compare against.");
        return 0;
    }
    snprintf(t->intro, sizeof t->intro,
             "Each host's fastest configuration of a job ÷ the baseline's fastest (--baseline %s).",
             m->hosts[m->baseline].label);
    for (int j = 0; j < m->n_jobs; j++) {
        int base = m->jobs[j].best[m->baseline];
        if (base < 0) continue;
        for (int h = 0; h < m->n_hosts; h++) {
            int b = m->jobs[j].best[h];
            if (b < 0) continue;
            const rp_row *r = &m->rows[b];
            char host[128], med[32], sp[32];
            host_tag(m, h, host, sizeof host);
            snprintf(sp, sizeof sp, "%.3g×", r->tput / m->rows[base].tput);
            if (add_cells(t, m->jobs[j].key, host, rp_how_name(r->how), num(med, r->tput), sp)) return -1;
        }
    }
    return 0;
}

/* ---- energy, cost, break-even --------------------------------------------------------------- */

static bool job_in_cost_tables(const rp_model *m, const rp_job *job) {
    return job->costed || !m->any_costed;
}

static int energy_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "host", "figure", "joules per unit", "energy is", "source"};
    rp_table *t = new_table(ts, n, m->any_costed ? "Energy per generation" : "Energy per unit of work", 6, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "measured: a meter during the timed repetitions (source names it); estimated: a power "
             "figure × time (profile active_watts, or the meter's estimate from CPU utilisation); "
             "— : nothing to go on.");
    for (int j = 0; j < m->n_jobs; j++) {
        if (!job_in_cost_tables(m, &m->jobs[j])) continue;
        for (int h = 0; h < m->n_hosts; h++) {
            int b = m->jobs[j].best[h];
            if (b < 0) continue;
            const rp_row *r = &m->rows[b];
            char host[128], jj[32];
            host_tag(m, h, host, sizeof host);
            if (add_cells(t, m->jobs[j].key, host, rp_how_name(r->how), r->j_per_unit >= 0 ? num(jj, r->j_per_unit) : "—",
                          r->j_per_unit >= 0 ? r->e_kind : "unknown", r->e_source[0] ? r->e_source : "—"))
                return -1;
        }
    }
    return 0;
}

static int cost_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "host", "figure", "seconds each", "$ per hour",
                                       "$ each", "$ per 1,000", "joules each", "gCO2 each"};
    rp_table *t = new_table(ts, n, m->any_costed ? "Cost per 1,000 generations" : "Cost per 1,000 units of work", 9, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "$ per hour while working by cost kind (Hosts table) ÷ units per hour; an api is priced "
             "per token (%s). CO2 = energy × the profile's grid intensity.%s",
             m->shape_note[0] ? m->shape_note : "no api in this report",
             m->any_costed ? "" : " No generation-level phase in these results: costs are per unit of each phase.");
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!job_in_cost_tables(m, job)) continue;
        for (int h = 0; h < m->n_hosts; h++) {
            if (job->best[h] < 0) continue;
            const rp_row *r = &m->rows[job->best[h]];
            char host[128], s[32], ph[32], each[32], k[32], jj[32], g[32];
            host_tag(m, h, host, sizeof host);
            if (!job->has_cost[h]) {
                if (add_cells(t, job->key, host, rp_how_name(r->how), num(s, 1 / r->tput), "—", "—", "—", "—",
                              job->cost_note[h]))
                    return -1;
                continue;
            }
            const gc_job_cost *c = &job->cost[h];
            char jtxt[64];
            snprintf(jtxt, sizeof jtxt, "%s%s", c->joules >= 0 ? num(jj, c->joules) : "—",
                     c->joules >= 0 && r->e_kind[0] && strcmp(r->e_kind, "none") ? (strcmp(r->e_kind, "measured") ? " (est.)" : " (meas.)") : "");
            if (add_cells(t, job->key, host, rp_how_name(r->how), num(s, c->seconds), usd(ph, c->usd_per_hour),
                          usd(each, c->usd), usd(k, c->usd_per_1000), jtxt, c->gco2 >= 0 ? num(g, c->gco2) : "—"))
                return -1;
        }
    }
    return 0;
}

/* Hosts to compare an owned host with on a job: others with a cost on the same job, and api
 * hosts standing in for the job's model: an llm generation of the same preset and parameters,
 * any quant (the api's rows carry quant "-"). */
static const gc_job_cost *other_cost(const rp_model *m, const rp_job *job, int h) {
    if (job->has_cost[h]) return &job->cost[h];
    const gc_profile *p = m->hosts[h].prof;
    if (!p || p->kind != GC_COST_API) return NULL;
    const gc_case_id *id = &job->id;
    if (strcmp(id->workload, "llm") || strcmp(id->preset, p->model) || strcmp(id->phase, "generation")) return NULL;
    for (int j = 0; j < m->n_jobs; j++) {
        const gc_case_id *a = &m->jobs[j].id;
        if (!strcmp(a->workload, "llm") && !strcmp(a->preset, p->model) && !strcmp(a->quant, "-") &&
            !strcmp(a->phase, "generation") && !strcmp(a->params, id->params) && m->jobs[j].has_cost[h])
            return &m->jobs[j].cost[h];
    }
    return NULL;
}

static int break_even_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "owned host", "vs", "their $ per 1,000", "own $ per month (fixed)",
                                       "break-even per month", "owned capacity per month", "verdict"};
    rp_table *t = new_table(ts, n, "Break-even: owning vs renting", 8, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "Monthly volume above which owning beats the other: purchase ÷ (lifetime × 12) ÷ (their $ "
             "per generation − own electricity per generation). Capacity: what the owned machine does "
             "in its hours of use per day.");
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!job_in_cost_tables(m, job)) continue;
        for (int o = 0; o < m->n_hosts; o++) {
            const gc_profile *op = m->hosts[o].prof;
            if (!op || op->kind != GC_COST_OWNED || !job->has_cost[o]) continue;
            for (int h = 0; h < m->n_hosts; h++) {
                const gc_profile *hp = m->hosts[h].prof;
                if (h == o || !hp || hp->kind == GC_COST_OWNED) continue;
                const gc_job_cost *oc = other_cost(m, job, h);
                if (!oc) continue;
                double cap = 0, v = cost_break_even_monthly(op, &job->cost[o], oc->usd, &cap);
                char own[128], other[128], k[32], fixed[32], be[48], capt[32], verdict[96];
                host_tag(m, o, own, sizeof own);
                host_tag(m, h, other, sizeof other);
                if (v < 0) {
                    snprintf(be, sizeof be, "never");
                    snprintf(verdict, sizeof verdict, "renting is cheaper than the electricity alone");
                } else {
                    num(be, ceil(v));
                    snprintf(verdict, sizeof verdict, "%s", v <= cap ? "owning wins above the break-even"
                                                                      : "break-even beyond capacity: rent");
                }
                if (add_cells(t, job->key, own, other, usd(k, oc->usd_per_1000),
                              usd(fixed, cost_owned_monthly_fixed(op)), be, num(capt, floor(cap)), verdict))
                    return -1;
            }
        }
    }
    return 0;
}

int rp_tables_build(const rp_model *m, rp_table **out, int *n) {
    *out = NULL;
    *n = 0;
    if (hosts_table(m, out, n) || throughput_table(m, out, n) || speedup_table(m, out, n) ||
        energy_table(m, out, n) || cost_table(m, out, n) || break_even_table(m, out, n)) {
        rp_tables_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------------------------------ */

void rp_table_md(FILE *f, const rp_table *t) {
    fputs("## ", f);
    gc_md(f, t->title);
    fputs("\n\n", f);
    if (t->intro[0]) {
        gc_md(f, t->intro);
        fputs("\n\n", f);
    }
    if (!t->nrow) {
        fprintf(f, "_(nothing to show)_\n\n");
        return;
    }
    for (int c = 0; c < t->ncol; c++) {
        fputs("| ", f);
        gc_md(f, t->head[c]);
        fputc(' ', f);
    }
    fputs("|\n", f);
    for (int c = 0; c < t->ncol; c++) fputs("| --- ", f);
    fputs("|\n", f);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            fputs("| ", f);
            gc_md(f, t->cells[r * t->ncol + c]);
            fputc(' ', f);
        }
        fputs("|\n", f);
    }
    fputc('\n', f);
}

static void html_text(FILE *f, const char *s) { gc_html(f, s); }

void rp_table_html(FILE *f, const rp_table *t) {
    fputs("<h2>", f);
    html_text(f, t->title);
    fputs("</h2>\n", f);
    if (t->intro[0]) {
        fputs("<p>", f);
        html_text(f, t->intro);
        fputs("</p>\n", f);
    }
    fputs("<table>\n<tr>", f);
    for (int c = 0; c < t->ncol; c++) {
        fputs("<th>", f);
        html_text(f, t->head[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (int r = 0; r < t->nrow; r++) {
        const char *how = t->ncol > 2 ? t->cells[r * t->ncol + 2] : "";
        fprintf(f, "<tr%s>", !strcmp(how, "projected") ? " class=\"projected\"" : "");
        for (int c = 0; c < t->ncol; c++) {
            fputs("<td>", f);
            html_text(f, t->cells[r * t->ncol + c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}
