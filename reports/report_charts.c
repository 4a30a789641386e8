/* The report's bar charts, one unit per chart: throughput (per unit and, for llm, per phase: a
 * decode rate and a prefill rate differ by 10–100× and are different quantities), cost per 1,000
 * jobs and energy per job (per unit of job), and the speedup over the baseline host with the
 * baseline drawn. Every bar carries whiskers: the 95% CI of a measured median, the range from
 * calibrated estimate to roofline bound of a projection. rp_charts, the entry point, also adds
 * the roofline (chart_roofline.c) and cost-vs-volume (chart_volume.c) charts. */
#include "reports/charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/escape.h"

/* One bar: its value and whisker ends, and how the figure was obtained; v not finite or <= 0:
 * no bar. */
typedef struct bar_val {
    double v, lo, hi;
    rp_how how;
} bar_val;

typedef bool (*bar_cell)(const rp_model *m, const rp_job *job, int h, bar_val *out);

/* The row's interval, or none (the value itself) when it has none. */
static void row_interval(const rp_row *r, double *lo, double *hi) {
    *lo = r->lo > 0 && r->lo <= r->tput ? r->lo : r->tput;
    *hi = r->hi >= r->tput ? r->hi : r->tput;
}

static bool cell_tput(const rp_model *m, const rp_job *job, int h, bar_val *o) {
    int b = job->best[h];
    if (b < 0 || !(m->rows[b].tput > 0)) return false;
    o->v = m->rows[b].tput;
    o->how = m->rows[b].how;
    row_interval(&m->rows[b], &o->lo, &o->hi);
    return true;
}

/* A figure inverse to throughput (cost of time, energy of power × time): the throughput's interval
 * carried over, flipped. */
static void inverse_interval(const rp_model *m, const rp_job *job, int h, bar_val *o) {
    o->lo = o->hi = o->v;
    int b = job->best[h];
    if (b < 0) return;
    double lo, hi;
    row_interval(&m->rows[b], &lo, &hi);
    o->lo = o->v * m->rows[b].tput / hi;
    o->hi = o->v * m->rows[b].tput / lo;
}

static bool cell_cost(const rp_model *m, const rp_job *job, int h, bar_val *o) {
    const gc_job_cost *c = rp_other_cost(m, job, h);
    if (!c || !(c->usd_per_1000 > 0)) return false;
    o->v = c->usd_per_1000;
    const rp_row *r = rp_target_row(m, job, h);
    o->how = r ? r->how : RP_PROFILE;
    if (job->has_cost[h]) inverse_interval(m, job, h, o);
    else o->lo = o->hi = o->v;   /* an api's price: no interval */
    return true;
}

static bool cell_energy(const rp_model *m, const rp_job *job, int h, bar_val *o) {
    int b = job->best[h];
    if (b < 0 || !(m->rows[b].j_per_unit > 0)) return false;
    o->v = m->rows[b].j_per_unit;
    o->how = m->rows[b].how;
    if (!strcmp(m->rows[b].e_kind, "estimated")) inverse_interval(m, job, h, o);   /* watts × time */
    else o->lo = o->hi = o->v;   /* a meter's reading: no interval recorded */
    return true;
}

static bool cell_speedup(const rp_model *m, const rp_job *job, int h, bar_val *o) {
    bar_val x, base;
    if (m->baseline < 0 || !cell_tput(m, job, h, &x) || !cell_tput(m, job, m->baseline, &base)) return false;
    o->v = x.v / base.v;
    o->how = x.how == RP_MEASURED ? base.how : x.how;   /* measured only when both are */
    o->lo = x.lo / base.hi;   /* both intervals, at their far ends */
    o->hi = x.hi / base.lo;
    return true;
}

/* "tokens", "generations", "GB", "GFLOP": a word takes an s, a symbol does not; the image
 * workload's "it" (a denoising step with guidance, as it/s is quoted) is said in full. */
static void unit_plural(const char *unit, char *b, size_t n) {
    if (!strcmp(unit, "it")) {
        snprintf(b, n, "denoising steps (it)");
        return;
    }
    bool word = false;
    for (const char *p = unit; *p; p++) word |= *p >= 'a' && *p <= 'z';
    snprintf(b, n, "%s%s", unit, word ? "s" : "");
}

/* One bar chart over jobs js[0..nj): a group per job, a bar per host that has a value, the host's
 * fixed colour; measured solid, projected hatched, an api's figures cross-hatched. */
typedef struct bar_spec {
    const char *name, *title, *ylabel, *caption;
    bar_cell cell;
    bool baseline;             /* draw the line at 1× (the speedup chart) */
} bar_spec;

/* A series of bars: one host's figures obtained one way. A measured host projected on the jobs it
 * did not run has two: its measurements and its projections. */
typedef struct bar_series {
    int host;
    rp_how how;
} bar_series;

static const char *bar_fill(rp_how how) {
    return how == RP_MEASURED ? "solid 0.85 border -1" : how == RP_PROJECTED ? "pattern 4 border -1" : "pattern 5 border -1";
}

/* "local", "local (projected)", "cloud-h100 (projected)": the host's tag, and the figure's way
 * where it is not the host's own. */
static void series_title(const rp_model *m, const bar_series *x, char *b, size_t n) {
    rp_host_tag(m, x->host, b, n);
    if (m->hosts[x->host].measured && x->how != RP_MEASURED) {
        size_t k = strlen(b);
        snprintf(b + k, n - k, " (%s)", x->how == RP_PROJECTED ? "projected" : "profile figures");
    }
}

static bool series_cell(const rp_model *m, const rp_job *job, const bar_series *x, bar_cell cell, bar_val *v) {
    return cell(m, job, x->host, v) && v->how == x->how && isfinite(v->v) && v->v > 0;
}

static void bar_data(FILE *d, const rp_model *m, const int *js, int nj, const bar_series *sr, int ns, bar_cell cell) {
    gc_gp_field(d, "job");
    for (int i = 0; i < ns; i++) {
        char title[160];
        series_title(m, &sr[i], title, sizeof title);
        fputc(' ', d);
        gc_gp_field(d, title);
        fputs(" lo hi", d);
    }
    fputc('\n', d);
    for (int i = 0; i < nj; i++) {
        const rp_job *job = &m->jobs[js[i]];
        char name[200];
        chart_job_name(m, job, name, sizeof name);
        gc_gp_field(d, name);
        for (int k = 0; k < ns; k++) {
            bar_val v;
            if (series_cell(m, job, &sr[k], cell, &v)) fprintf(d, " %.6g %.6g %.6g", v.v, v.lo, v.hi);
            else fputs(" ? ? ?", d);
        }
        fputc('\n', d);
    }
}

static int bar_chart(chart_ctx *c, const bar_spec *s, const int *js, int nj) {
    const rp_model *m = c->m;
    bar_series sr[RP_MAX_HOSTS * 3];
    int ns = 0;
    for (int h = 0; h < m->n_hosts; h++)
        for (int how = RP_MEASURED; how <= RP_PROFILE; how++) {
            bar_series x = {h, (rp_how)how};
            bool any = false;
            for (int i = 0; i < nj && !any; i++) {
                bar_val v;
                any = series_cell(m, &m->jobs[js[i]], &x, s->cell, &v);
            }
            if (any) sr[ns++] = x;
        }
    if (!ns) return 0;
    chart_files f;
    if (chart_open(&f)) return snprintf(c->err.msg, sizeof c->err.msg, "out of memory"), -1;
    bar_data(f.d, m, js, nj, sr, ns, s->cell);
    gp_prologue(f.g, s->name, s->title);
    fputs("set style data histograms\nset style histogram errorbars gap 1 lw 1\n"
          "set logscale y\nset xtics rotate by 30 right scale 0\nset ylabel ", f.g);
    gc_gp_quote(f.g, s->ylabel);
    fputc('\n', f.g);
    if (s->baseline) {
        /* 1× always in range, drawn over the bars, named in the key */
        fputs("set yrange [*<0.8:1.25<*]\nset arrow 1 from graph 0, first 1 to graph 1, first 1 nohead front "
              "lw 2 dt 2 lc rgb '#333333'\n", f.g);
    }
    fputs("plot ", f.g);
    for (int i = 0; i < ns; i++) {
        int col = 2 + 3 * i;
        fputs(i ? ", \\\n     " : "", f.g);
        gp_file(f.g, s->name, "dat");
        fprintf(f.g, " using %d:%d:%d%s title columnheader(%d) fs %s", col, col + 1, col + 2, i ? "" : ":xtic(1)", col,
                bar_fill(sr[i].how));
        gp_host_colour(f.g, sr[i].host);
    }
    if (s->baseline) {
        char tag[128], label[200];
        rp_host_tag(m, m->baseline, tag, sizeof tag);
        snprintf(label, sizeof label, "baseline: %s = 1×", tag);
        fputs(", \\\n     keyentry with lines lw 2 dt 2 lc rgb '#333333' title ", f.g);
        gc_gp_quote(f.g, label);
    }
    fputc('\n', f.g);
    return chart_commit(c, &f, s->name, s->title, s->caption);
}

/* Jobs grouped by what their bars measure: the unit, and for llm the phase. */
static void group_key(const rp_job *job, char *b, size_t n) {
    snprintf(b, n, "%s/%s", job->unit, !strcmp(job->id.workload, "llm") ? job->id.phase : "");
}

typedef bool (*job_pick)(const rp_model *m, const rp_job *job);

static bool pick_all(const rp_model *m, const rp_job *job) {
    (void)m;
    (void)job;
    return true;
}
static bool pick_costed(const rp_model *m, const rp_job *job) {
    return m->any_costed ? rp_job_in_volume_tables(m, job)
                         : rp_job_in_cost_tables(m, job) && !rp_api_job_shown_elsewhere(m, job);
}

enum { KIND_TPUT, KIND_COST, KIND_ENERGY };

static const char bar_caption[] =
    "Each bar is a host's fastest configuration of the job, in the host's colour (the same in every chart). "
    "Solid: measured, whiskers its 95% confidence interval. Hatched: projected from the host's profile, whiskers "
    "from the calibrated estimate to the roofline bound. Cross-hatched: an api's stated rate. Log scale.";

/* One chart per group of jobs of kind: throughput-N, cost-N, energy-N. */
static int unit_charts(chart_ctx *c, int kind) {
    static const char *const names[] = {"throughput", "cost", "energy"};
    const rp_model *m = c->m;
    job_pick pick = kind == KIND_TPUT ? pick_all : pick_costed;
    /* every job once, whatever their number */
    bool *done = calloc((size_t)m->n_jobs + 1, sizeof *done);
    int *js = malloc(((size_t)m->n_jobs + 1) * sizeof *js), seq = 0, rc = 0;
    if (!done || !js) {
        snprintf(c->err.msg, sizeof c->err.msg, "out of memory");
        rc = -1;
    }
    for (int j0 = 0; j0 < m->n_jobs && !rc; j0++) {
        if (done[j0] || !pick(m, &m->jobs[j0])) continue;
        char key[96], other[96];
        group_key(&m->jobs[j0], key, sizeof key);
        int nj = 0;
        for (int j = j0; j < m->n_jobs; j++) {
            group_key(&m->jobs[j], other, sizeof other);
            if (done[j] || !pick(m, &m->jobs[j]) || strcmp(key, other)) continue;
            done[j] = true;
            js[nj++] = j;
        }
        const rp_job *job = &m->jobs[j0];
        char units[32], name[32], title[160], ylabel[96], caption[480], phase[72] = "";
        unit_plural(job->unit, units, sizeof units);
        if (!strcmp(job->id.workload, "llm")) snprintf(phase, sizeof phase, ", %s", job->id.phase);
        snprintf(name, sizeof name, "%s-%d", names[kind], ++seq);
        bar_spec s = {name, title, ylabel, caption, NULL, false};
        if (kind == KIND_TPUT) {
            snprintf(title, sizeof title, "Throughput%s: %s per second", phase, units);
            snprintf(ylabel, sizeof ylabel, "%s per second", units);
            snprintf(caption, sizeof caption, "%s", bar_caption);
            s.cell = cell_tput;
        } else if (kind == KIND_COST) {
            snprintf(title, sizeof title, "Cost per 1,000 %s (USD)", units);
            snprintf(ylabel, sizeof ylabel, "USD per 1,000 %s", units);
            snprintf(caption, sizeof caption, "%s Cost scales with time, so it carries the throughput's whiskers.",
                     bar_caption);
            s.cell = cell_cost;
        } else {
            snprintf(title, sizeof title, "Energy per %s (joules)", job->unit);
            snprintf(ylabel, sizeof ylabel, "joules per %s", job->unit);
            snprintf(caption, sizeof caption, "%s Whiskers only where the energy is estimated (power × time); a "
                     "meter's reading carries none.", bar_caption);
            s.cell = cell_energy;
        }
        rc = bar_chart(c, &s, js, nj);
    }
    free(done);
    free(js);
    return rc;
}

static int speedup_chart(chart_ctx *c) {
    const rp_model *m = c->m;
    if (m->baseline < 0) return 0;
    int *js = malloc(((size_t)m->n_jobs + 1) * sizeof *js), nj = 0;
    if (!js) return snprintf(c->err.msg, sizeof c->err.msg, "out of memory"), -1;
    for (int j = 0; j < m->n_jobs; j++) {
        bar_val v;
        if (cell_speedup(m, &m->jobs[j], m->baseline, &v)) js[nj++] = j;   /* jobs the baseline ran */
    }
    char title[160], caption[480];
    snprintf(title, sizeof title, "Speedup vs %s (×, fastest configuration each)", m->hosts[m->baseline].label);
    snprintf(caption, sizeof caption, "Throughput over the baseline host's on the same job, in each host's colour; "
             "the dashed line is the baseline (1×). Solid: measured; hatched: projected; cross-hatched: an api's "
             "stated rate. Whiskers: both hosts' intervals at their far ends. Log scale.");
    bar_spec s = {"speedup", title, "speedup (×)", caption, cell_speedup, true};
    int rc = bar_chart(c, &s, js, nj);
    free(js);
    return rc;
}

int chart_bars(chart_ctx *c) {
    if (unit_charts(c, KIND_TPUT) || unit_charts(c, KIND_COST) || unit_charts(c, KIND_ENERGY)) return -1;
    return speedup_chart(c);
}

int rp_charts(const rp_model *m, const char *dir, const char *gnuplot, rp_chart *charts, int max, char *why,
              size_t why_n) {
    chart_ctx c = {m, dir, charts, 0, max, {{0}}};
    why[0] = 0;
    if (chart_bars(&c) || chart_roofline(&c) || chart_volume(&c))
        return snprintf(why, why_n, "%s", c.err.msg[0] ? c.err.msg : "cannot write chart files"), 0;
    if (chart_render_all(&c, gnuplot, why, why_n)) return 0;
    return c.n;
}
