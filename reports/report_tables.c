/* The report's tables, built once from the model and rendered as Markdown and HTML. Cells,
 * titles and intros hold names from results files and profiles (untrusted): the renderers pass
 * every one through gc_md or gc_html (base/escape.h), never print them directly. */
#include "reports/report_model.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/escape.h"
#include "reports/volume.h"

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

/* Dollars for people: "$0.0358", "$9.99", "$1,235"; never scientific notation. */
static const char *usd(char *b, double x) {
    volume_fmt_usd(b, 32, x);
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
        if (!(p->out_tokens_per_s > 0))   /* an image api, priced per image */
            snprintf(b, n, "%s per image (%s)", usd(x, p->usd_per_image), p->provider);
        else
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
             "Measured hosts ran the workloads; projected hosts are computed from their profile (see "
             "Throughput); api figures are stated by the profile, not measured, unless endpoint runs measured "
             "the api from a client (then measured, priced per token at the usage counted).");
    for (int h = 0; h < m->n_hosts; h++) {
        const rp_host *x = &m->hosts[h];
        const gc_profile *p = x->prof;
        char price[256] = "— (no profile)", bw[48] = "—", b[32];
        const char *what = x->endpoint ? "measured (endpoint)" : x->measured ? "measured" : rp_host_projected(m, h) ? "projected" : "profile";
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
             "Units of work per second (median of the timed repetitions, 95%% CI of the median). Projected "
             "(a host's profile, for jobs it did not run): a range, the calibrated estimate — bytes ÷ (bandwidth "
             "× bandwidth_efficiency) and FLOPs ÷ (peak × compute_efficiency of the precision it computes in), "
             "the larger for one phase, their sum for a whole generation, plus per_token_s per forward pass, "
             "efficiencies measured from the published runs the note names — up to the roofline bound (the "
             "same without efficiencies or per-pass time). A GPU computes quantized and f16 cases in FP16, a "
             "CPU quantized ones in INT8 dot products; uncalibrated profiles use bandwidth × %.2f, peak × %.2f.",
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
            snprintf(ci, sizeof ci, "%s … %s", num(a, r->lo), num(b, r->hi));
            snprintf(cv, sizeof cv, "%.1f%%", 100 * r->cv);
            snprintf(nn, sizeof nn, "%d", r->n);
        }
        if (r->how == RP_MEASURED && r->lat.concurrency > 0) {   /* an API timed from its client */
            snprintf(cfg, sizeof cfg, "endpoint (%.60s), %d at once", r->id.device[0] ? r->id.device : "?",
                     r->lat.concurrency);
            char t[32], l[32];
            snprintf(note, sizeof note, "%.100s%sTTFT %s ms, ITL %s ms (medians, Endpoint latency)%s%s",
                     r->basis, r->basis[0] ? "; " : "",
                     r->lat.ttft[0] >= 0 ? num(t, 1e3 * r->lat.ttft[0]) : "—",
                     r->lat.itl[0] >= 0 ? num(l, 1e3 * r->lat.itl[0]) : "—", r->best ? "; fastest here" : "",
                     r->high_spread ? "; HIGH SPREAD" : "");
        } else if (r->how == RP_MEASURED) {
            snprintf(cfg, sizeof cfg, "%s%s%s%s × %d", r->id.backend, r->id.device[0] ? " (" : "", r->id.device,
                     r->id.device[0] ? ")" : "", r->id.threads);
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

/* "10.0 / 11.9 / 12.3" (ms when ms): a latency's median, p90 and p99. */
static void three(char *b, size_t n, const double *v, double scale) {
    char x[32], y[32], z[32];
    if (v[0] < 0) snprintf(b, n, "—");
    else snprintf(b, n, "%s / %s / %s", num(x, scale * v[0]), v[1] >= 0 ? num(y, scale * v[1]) : "—",
                  v[2] >= 0 ? num(z, scale * v[2]) : "—");
}

/* Endpoint runs (an API timed from its client): each phase's latencies, where the llm job's
 * figures are, so the api beside a machine shows what its user waits. Only when there are some. */
static int latency_table(const rp_model *m, rp_table **ts, int *n) {
    bool any = false;
    for (int i = 0; i < m->n_rows && !any; i++) any = m->rows[i].lat.concurrency > 0;
    if (!any) return 0;
    static const char *const head[] = {"job", "host", "figure", "at once", "TTFT ms (median / p90 / p99)",
                                       "ITL ms (median / p90 / p99)", "end-to-end s (median / p90 / p99)",
                                       "tokens/s a request (median)", "tokens/s all requests"};
    rp_table *t = new_table(ts, n, "Endpoint latency", 9, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "APIs measured by the endpoint workload, per concurrency level (requests in flight at once), over "
             "the timed repetitions' requests: time to the first token (TTFT), inter-token latency (ITL: first to "
             "last token ÷ tokens − 1), end-to-end time, and output tokens/s of one request and of all together. "
             "An llm job's row (backend endpoint) is the lowest level run, standing for the api beside that job.");
    int *order = malloc((size_t)m->n_rows * sizeof *order);
    if (!order) return -1;
    for (int i = 0; i < m->n_rows; i++) order[i] = i;
    qsort_r(order, (size_t)m->n_rows, sizeof *order, cmp_row_order, (void *)m);
    int rc = 0;
    for (int i = 0; i < m->n_rows && !rc; i++) {
        const rp_row *r = &m->rows[order[i]];
        if (r->lat.concurrency <= 0) continue;
        char key[GC_CASE_KEY_LEN], host[128], lvl[16], tt[100], it[100], ee[100], rq[32], ag[32];
        gc_job_key(&r->id, key, sizeof key);
        host_tag(m, r->host, host, sizeof host);
        snprintf(lvl, sizeof lvl, "%d", r->lat.concurrency);
        three(tt, sizeof tt, r->lat.ttft, 1e3);
        three(it, sizeof it, r->lat.itl, 1e3);
        three(ee, sizeof ee, r->lat.e2e, 1);
        rc = add_cells(t, key, host, rp_how_name(r->how), lvl, tt, it, ee,
                       r->lat.request_tps > 0 ? num(rq, r->lat.request_tps) : "—",
                       r->lat.aggregate_tps > 0 ? num(ag, r->lat.aggregate_tps) : "—");
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

/* Appends text to b (capacity n, *o used) when it fits whole; false when it does not. */
static bool append_whole(char *b, size_t n, size_t *o, const char *text) {
    size_t k = strlen(text);
    if (*o + k + 1 > n) return false;
    memcpy(b + *o, text, k + 1);
    *o += k;
    return true;
}

/* What one job of each cost table is, from the results ("tinyllama-1.1b q4_0: one generation =
 * 128-token prompt + 32 new tokens"), and the shape an api was priced at when no results ran its
 * model (gencost's defaults, said as such). The api sentences are kept whole; the jobs are listed
 * while they fit, then "and others" (the table names each by its key). */
static void shapes_text(const rp_model *m, char *b, size_t n) {
    char apis[400] = "";
    size_t a = 0;
    for (int h = 0; h < m->n_hosts; h++) {
        const gc_profile *p = m->hosts[h].prof;
        if (!p || p->kind != GC_COST_API || !(p->out_tokens_per_s > 0)) continue;   /* an image api prices no tokens */
        bool measured = false;
        double prompt = 0, gen = 0;
        for (int i = 0; i < m->n_rows; i++) {
            const rp_row *r = &m->rows[i];
            if (r->how == RP_MEASURED && !strcmp(r->id.workload, "llm") && !strcmp(r->id.preset, p->model) &&
                r->prompt_tokens > 0 && r->gen_tokens > 0)
                measured = true;
            if (r->host == h && !strcmp(r->id.phase, "generation")) prompt = r->prompt_tokens, gen = r->gen_tokens;
        }
        char line[240];
        if (m->hosts[h].endpoint)   /* its endpoint runs counted the tokens */
            snprintf(line, sizeof line, " %.80s is priced per token at the usage its endpoint runs counted (prompt "
                     "and completion tokens of each run).", m->hosts[h].label);
        else if (measured)
            snprintf(line, sizeof line, " %.80s is priced per token: P = %.0f prompt and N = %.0f new tokens per "
                     "generation (from the results).", m->hosts[h].label, prompt, gen);
        else
            snprintf(line, sizeof line, " %.80s prices %.60s, which no results here ran, at gencost's default "
                     "%.0f-token prompt + %.0f new tokens.", m->hosts[h].label, p->model, prompt, gen);
        append_whole(apis, sizeof apis, &a, line);
    }
    size_t o = 0, room = n > a + 1 ? n - a : 1;   /* the jobs take what the api sentences leave */
    b[0] = 0;
    bool cut = false;
    for (int j = 0; j < m->n_jobs && !cut; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_cost_tables(m, job) || !job->costed || rp_api_job_shown_elsewhere(m, job)) continue;
        char title[200], item[208];
        rp_job_title(m, job, title, sizeof title);
        if (strstr(b, title)) continue;
        snprintf(item, sizeof item, "%s%s", o ? "; " : "Jobs: ", title);
        cut = room < 14 || !append_whole(b, room - 13, &o, item);   /* 13: "; and others." */
    }
    if (cut) append_whole(b, room, &o, o ? "; and others" : "Jobs: in the table");
    if (o) append_whole(b, room, &o, ".");
    size_t used = o;
    if (!append_whole(b, n, &used, o ? apis : apis + (a ? 1 : 0))) b[o] = 0;
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
        if (!rp_job_in_cost_tables(m, &m->jobs[j])) continue;
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
    char shapes[380];   /* the intro holds 720 bytes, the rest of it under 340 */
    shapes_text(m, shapes, sizeof shapes);
    snprintf(t->intro, sizeof t->intro,
             "%s $ per hour while working (Hosts table; owned: purchase spread over its hours of use) ÷ "
             "jobs per hour; what a month costs is in the volume tables below. CO2 = energy × grid intensity.%s",
             shapes, m->any_costed ? "" : " No generation-level phase in these results: costs are per unit of each phase.");
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_cost_tables(m, job)) continue;
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

static int break_even_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "owned host", "vs", "their $ per 1,000", "own $ per month (fixed)",
                                       "break-even per month", "owned capacity per month", "verdict"};
    rp_table *t = new_table(ts, n, "Break-even: buying a machine vs renting", 8, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "For a machine not yet bought: the monthly volume above which buying it beats the other, "
             "purchase ÷ (lifetime × 12) ÷ (their $ per generation at the price while working − own "
             "electricity per generation). Capacity: what the owned machine does in its hours of use per day.");
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_cost_tables(m, job)) continue;
        for (int o = 0; o < m->n_hosts; o++) {
            const gc_profile *op = m->hosts[o].prof;
            if (!op || op->kind != GC_COST_OWNED || !job->has_cost[o]) continue;
            for (int h = 0; h < m->n_hosts; h++) {
                const gc_profile *hp = m->hosts[h].prof;
                if (h == o || !hp || hp->kind == GC_COST_OWNED) continue;
                const gc_job_cost *oc = rp_other_cost(m, job, h);
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

/* ---- cost at the user's volume -------------------------------------------------------------- */

/* One target's month at one volume. */
typedef struct vol_entry {
    int host;
    gc_volume_cost c;
} vol_entry;

/* A job's name in the volume tables: "llama3-8b q4_0" (the part of rp_job_title before its shape,
 * which the cost table's intro states), the whole title where two jobs would share the short one. */
static void job_label(const rp_model *m, const rp_job *job, char *b, size_t n) {
    char t[200], u[200];
    rp_job_title(m, job, t, sizeof t);
    char *colon = strstr(t, ": ");
    if (colon) *colon = 0;
    for (int j = 0; j < m->n_jobs && colon; j++) {
        if (&m->jobs[j] == job || !rp_job_in_cost_tables(m, &m->jobs[j])) continue;
        rp_job_title(m, &m->jobs[j], u, sizeof u);
        char *c = strstr(u, ": ");
        if (c) *c = 0;
        if (!strcmp(t, u)) {
            *colon = ':';   /* same short name: keep the shape to tell them apart */
            colon = NULL;
        }
    }
    snprintf(b, n, "%s", t);
}

/* Possible first, then the cheaper, then host order (stable). */
static int cmp_entry(const void *a, const void *b) {
    const vol_entry *x = a, *y = b;
    if (x->c.possible != y->c.possible) return x->c.possible ? -1 : 1;
    if (x->c.possible && x->c.monthly_usd != y->c.monthly_usd) return x->c.monthly_usd < y->c.monthly_usd ? -1 : 1;
    return x->host - y->host;
}

/* Every target's month at volume v, cheapest first; returns how many. */
static int month_at(const rp_model *m, const rp_job *job, double v, vol_entry *e) {
    int hosts[RP_MAX_HOSTS], n = 0;
    const gc_job_cost *costs[RP_MAX_HOSTS];
    int k = rp_job_targets(m, job, hosts, costs);
    for (int i = 0; i < k; i++) {
        gc_err err;
        if (cost_at_volume(m->hosts[hosts[i]].prof, costs[i], v, rp_amortised(m, hosts[i]), &e[n].c, &err)) continue;
        e[n++].host = hosts[i];
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    return n;
}

static void over_text(const gc_volume_cost *c, const gc_profile *p, char *b, size_t n) {
    char mx[32];
    volume_fmt_num(mx, sizeof mx, c->max_jobs);
    snprintf(b, n, "%s (max %s/month)", p->kind == GC_COST_OWNED ? "over capacity" : "over cap", mx);
}

static const char *owned_basis(const rp_model *m) {
    return m->amortise ? "Owned machines pay their purchase ÷ lifetime and electricity (--amortise)."
                       : "Owned: a machine measured here pays electricity only (--amortise or amortise = yes "
                         "adds purchase ÷ lifetime); one only profiled would be bought, so it pays that too.";
}

static int volume_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "target", "figure", "jobs a month", "$ a month", "$ per 1,000 jobs",
                                       "what is charged"};
    rp_table *t = new_table(ts, n, "Cost at a month's volume", 7, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "What a month of that many jobs costs on each target, cheapest first (report --volume sets the "
             "volumes). %s Subscriptions: the fee, units on connected time (work + set-up per session), "
             "pay-as-you-go units beyond those included, or a cap where there is no such price. Hourly: each "
             "session's work + set-up rounded up to the billing increment. Apis: the price of one job × jobs.",
             owned_basis(m));
    double vols[GC_REPORT_MAX_VOLUMES];
    int nv = rp_volumes(m, vols);
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_volume_tables(m, job)) continue;
        char title[200];
        job_label(m, job, title, sizeof title);
        for (int v = 0; v < nv; v++) {
            vol_entry e[RP_MAX_HOSTS];
            int k = month_at(m, job, vols[v], e);
            for (int i = 0; i < k; i++) {
                char tag[128], vol[32], month[64], per[32];
                rp_host_tag(m, e[i].host, tag, sizeof tag);
                volume_fmt_num(vol, sizeof vol, vols[v]);
                if (e[i].c.possible) {
                    volume_fmt_usd(month, sizeof month, e[i].c.monthly_usd);
                    volume_fmt_usd(per, sizeof per, e[i].c.usd_per_job * 1000);
                } else {
                    over_text(&e[i].c, m->hosts[e[i].host].prof, month, sizeof month);
                    snprintf(per, sizeof per, "—");
                }
                if (add_cells(t, title, tag, rp_figure_of(m, job, e[i].host), vol, month, per, e[i].c.how)) return -1;
            }
        }
    }
    return 0;
}

static int cheapest_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "jobs a month", "cheapest", "figure", "$ a month", "$ per 1,000 jobs",
                                       "next cheapest"};
    rp_table *t = new_table(ts, n, "Cheapest target at each volume", 7, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro, "The target whose month costs least at each volume, and the runner-up. %s",
             owned_basis(m));
    double vols[GC_REPORT_MAX_VOLUMES];
    int nv = rp_volumes(m, vols);
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_volume_tables(m, job)) continue;
        char title[200];
        job_label(m, job, title, sizeof title);
        for (int v = 0; v < nv; v++) {
            vol_entry e[RP_MAX_HOSTS];
            int k = month_at(m, job, vols[v], e);
            char vol[32], tag[128] = "none can do this volume", month[32] = "—", per[32] = "—", next[200] = "—";
            const char *fig = "—";
            volume_fmt_num(vol, sizeof vol, vols[v]);
            if (k && e[0].c.possible) {
                rp_host_tag(m, e[0].host, tag, sizeof tag);
                fig = rp_figure_of(m, job, e[0].host);
                volume_fmt_usd(month, sizeof month, e[0].c.monthly_usd);
                volume_fmt_usd(per, sizeof per, e[0].c.usd_per_job * 1000);
            }
            if (k > 1 && e[1].c.possible) {
                char nt[128], nm[32];
                rp_host_tag(m, e[1].host, nt, sizeof nt);
                volume_fmt_usd(nm, sizeof nm, e[1].c.monthly_usd);
                snprintf(next, sizeof next, "%s, %s a month", nt, nm);
            }
            if (add_cells(t, title, vol, tag, fig, month, per, next)) return -1;
        }
    }
    return 0;
}

/* Index into e (by host) of the cheapest possible target at v; -1 none. */
static int cheapest_host(const rp_model *m, const rp_job *job, double v) {
    vol_entry e[RP_MAX_HOSTS];
    int k = month_at(m, job, v, e);
    return k && e[0].c.possible ? e[0].host : -1;
}

/* One row of the envelope: target h is cheapest for whole volumes from ceil(start) to last. */
static int envelope_row(rp_table *t, const rp_model *m, const rp_job *job, const char *title, int h, double start,
                        double last) {
    double from = ceil(start - 1e-9);
    if (last < from) return 0;   /* a change within one job: no whole volume to show */
    char f[32], to[32], tag[128] = "no target can do this volume", month[32] = "—";
    const char *fig = "—";
    volume_fmt_num(f, sizeof f, from);
    volume_fmt_num(to, sizeof to, last);
    if (h >= 0) {
        gc_volume_cost c;
        gc_err err;
        rp_host_tag(m, h, tag, sizeof tag);
        fig = rp_figure_of(m, job, h);
        if (!cost_at_volume(m->hosts[h].prof, rp_other_cost(m, job, h), from, rp_amortised(m, h), &c, &err))
            volume_fmt_usd(month, sizeof month, c.monthly_usd);
    }
    return add_cells(t, title, f, to, tag, fig, month);
}

/* Where the cheapest target changes as the volume grows: log-spaced volumes scanned, each change
 * bisected to the volume where it happens (the costs are staircases and lines in pieces). */
static int envelope_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "from (jobs a month)", "to", "cheapest", "figure", "$ a month at the start"};
    rp_table *t = new_table(ts, n, "Cheapest target by volume", 6, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "The cheapest target over every volume from 1 to 100 million jobs a month: each row holds until "
             "another target's month costs less, or until its cap or capacity ends it. %s", owned_basis(m));
    enum { PER_DECADE = 24 };
    int steps = (int)lround(log10(RP_BE_HI / RP_BE_LO) * PER_DECADE);
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_volume_tables(m, job)) continue;
        char title[200];
        job_label(m, job, title, sizeof title);
        double start = RP_BE_LO, prev_v = RP_BE_LO;
        int cur = cheapest_host(m, job, RP_BE_LO);
        for (int i = 1; i <= steps; i++) {
            double v = i == steps ? RP_BE_HI : RP_BE_LO * pow(RP_BE_HI / RP_BE_LO, (double)i / steps);
            /* several changes may lie between two scan points: find them one by one */
            while (cheapest_host(m, job, v) != cur) {
                double x = prev_v, y = v;
                while (y - x > 1e-7 * y) {
                    double mid = 0.5 * (x + y);
                    if (cheapest_host(m, job, mid) == cur) x = mid;
                    else y = mid;
                }
                if (envelope_row(t, m, job, title, cur, start, ceil(y - 1e-9) - 1)) return -1;
                cur = cheapest_host(m, job, y);
                start = prev_v = y;
            }
            prev_v = v;
        }
        if (envelope_row(t, m, job, title, cur, start, RP_BE_HI)) return -1;
    }
    return 0;
}

/* Pairs of targets whose months cross, by volume. */
static int crossing_table(const rp_model *m, rp_table **ts, int *n) {
    static const char *const head[] = {"job", "cheaper below", "cheaper above", "break-even (jobs a month)",
                                       "$ a month there", "chart mark"};
    rp_table *t = new_table(ts, n, "Break-even volumes between targets", 6, head);
    if (!t) return -1;
    snprintf(t->intro, sizeof t->intro,
             "The volume (jobs a month, 1 to 100 million) at which two targets' months cost the same, first "
             "crossing only; pairs that do not cross there are left out (one is cheaper throughout, or a cap "
             "comes first). Chart mark: the number of the break-even on the job's cost-vs-volume chart (the first "
             "nine of the first four jobs). %s", owned_basis(m));
    for (int j = 0; j < m->n_jobs; j++) {
        const rp_job *job = &m->jobs[j];
        if (!rp_job_in_volume_tables(m, job)) continue;
        char title[200];
        job_label(m, job, title, sizeof title);
        rp_crossing cr[RP_MAX_HOSTS * (RP_MAX_HOSTS - 1) / 2];
        int nc = rp_job_crossings(m, job, cr);
        for (int i = 0; i < nc; i++) {
            char lo_tag[128], hi_tag[128], vol[32], month[32];
            rp_host_tag(m, cr[i].below, lo_tag, sizeof lo_tag);
            rp_host_tag(m, cr[i].above, hi_tag, sizeof hi_tag);
            volume_fmt_num(vol, sizeof vol, ceil(cr[i].volume - 1e-9));
            volume_fmt_usd(month, sizeof month, cr[i].monthly_usd);
            char mark[16];   /* the number on the job's cost-vs-volume chart */
            snprintf(mark, sizeof mark, i < 9 ? "%d" : "—", i + 1);
            if (add_cells(t, title, lo_tag, hi_tag, vol, month, mark)) return -1;
        }
    }
    return 0;
}

int rp_tables_build(const rp_model *m, rp_table **out, int *n) {
    *out = NULL;
    *n = 0;
    if (hosts_table(m, out, n) || throughput_table(m, out, n) || latency_table(m, out, n) ||
        rp_table_projection(m, out, n) ||
        speedup_table(m, out, n) ||
        energy_table(m, out, n) || cost_table(m, out, n) || volume_table(m, out, n) || cheapest_table(m, out, n) ||
        envelope_table(m, out, n) || break_even_table(m, out, n) || crossing_table(m, out, n)) {
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
