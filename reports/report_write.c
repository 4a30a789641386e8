/* `gencost report`: builds the model, the charts and the tables, and writes report.md,
 * report.csv and report.html (one self-contained page: the SVG charts are inlined).
 *
 * Names in the model come from results files and profiles of other machines: every text cell,
 * heading, caption and attribute goes through base/escape.h (gc_md, gc_html, gc_csv_text). Each
 * file is built in memory and written with gc_write_file_atomic, so a reader never sees half a
 * report and a name planted at the destination is not followed. */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>

#include "base/escape.h"
#include "base/version.h"
#include "reports/charts.h"
#include "reports/report_model.h"

/* A text cell: RFC 4180 quoting and the formula guard (gc_csv_text). */
static void csv_field(FILE *f, const char *s, bool last) {
    gc_csv_text(f, s);
    fputc(last ? '\n' : ',', f);
}

static void csv_num(FILE *f, double x, bool known) {
    if (known) fprintf(f, "%.6g,", x);
    else fputc(',', f);
}

/* An endpoint row's latencies (empty cells elsewhere, and where a figure is unknown): the
 * concurrency level, then TTFT, ITL and end-to-end seconds as median, p90, p99, then tokens/s. */
static void csv_latency(FILE *f, const rp_latency *l) {
    bool ep = l->concurrency > 0;
    if (ep) fprintf(f, "%d,", l->concurrency);
    else fputc(',', f);
    const double *q[3] = {l->ttft, l->itl, l->e2e};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) csv_num(f, q[k][i], ep && q[k][i] >= 0);
    csv_num(f, l->request_tps, ep && l->request_tps > 0);
    if (ep && l->aggregate_tps > 0) fprintf(f, "%.6g", l->aggregate_tps);
    fputc('\n', f);
}

int rp_write_csv(const rp_model *m, const char *path, gc_err *err) {
    gc_memfile mf;
    FILE *f = gc_memfile_open(&mf);
    if (!f) return gc_errf(err, "%s: cannot write: out of memory", path);
    fputs("host,host_name,figure,workload,preset,quant,backend,threads,phase,unit,median_per_s,ci95_low,"
          "ci95_high,cv,n,joules_per_unit,energy_kind,energy_source,usd_per_hour,usd_per_unit,"
          "usd_per_1000,gco2_per_unit,basis,device,params,concurrency,ttft_s_median,ttft_s_p90,ttft_s_p99,"
          "itl_s_median,itl_s_p90,itl_s_p99,e2e_s_median,e2e_s_p90,e2e_s_p99,request_tokens_per_s,"
          "aggregate_tokens_per_s\n", f);
    for (int i = 0; i < m->n_rows; i++) {
        const rp_row *r = &m->rows[i];
        const rp_host *h = &m->hosts[r->host];
        csv_field(f, h->label, false);
        csv_field(f, h->name, false);
        csv_field(f, rp_how_name(r->how), false);
        csv_field(f, r->id.workload, false);
        csv_field(f, r->id.preset, false);
        csv_field(f, r->id.quant, false);
        csv_field(f, r->id.backend, false);
        fprintf(f, "%d,", r->id.threads);
        csv_field(f, r->id.phase, false);
        csv_field(f, r->unit, false);
        fprintf(f, "%.6g,%.6g,%.6g,%.6g,%d,", r->tput, r->lo, r->hi, r->cv, r->n);
        csv_num(f, r->j_per_unit, r->j_per_unit >= 0);
        csv_field(f, r->j_per_unit >= 0 ? r->e_kind : "unknown", false);
        csv_field(f, r->e_source, false);
        const gc_job_cost *c = NULL;
        if (r->best) {
            char key[GC_CASE_KEY_LEN];
            gc_job_key(&r->id, key, sizeof key);
            for (int j = 0; j < m->n_jobs; j++)
                if (!strcmp(m->jobs[j].key, key) && m->jobs[j].has_cost[r->host]) c = &m->jobs[j].cost[r->host];
        }
        csv_num(f, c ? c->usd_per_hour : 0, c);
        csv_num(f, c ? c->usd : 0, c);
        csv_num(f, c ? c->usd_per_1000 : 0, c);
        csv_num(f, c ? c->gco2 : 0, c && c->gco2 >= 0);
        csv_field(f, r->basis, false);
        csv_field(f, r->id.device, false);   /* the identity's newer fields go last: old columns keep their place */
        csv_field(f, r->id.params, false);
        csv_latency(f, &r->lat);
    }
    return gc_memfile_commit(&mf, path, err);
}

static void write_md(FILE *f, const rp_model *m, const rp_table *t, int nt, const rp_chart *ch, int n_charts,
                     const char *why) {
    fprintf(f, "# gencost report\n\nWritten by gencost %s (commit %s). Figures say how they were "
               "obtained: **measured** on the host, **projected** from a profile (calibrated on published runs, "
               "up to the roofline bound), or "
               "stated by a **profile** (api).\n\n", gc_version, gc_git_commit);
    rp_summary_md(f, m);
    for (int i = 0; i < nt; i++) rp_table_md(f, &t[i]);
    fputs("## Charts\n\n", f);
    if (!n_charts) {
        fputs("Charts were skipped: ", f);
        gc_md(f, why);
        fputs(". The tables above are complete without them.\n\n", f);
    }
    for (int i = 0; i < n_charts; i++) {   /* names are the fixed chart names; titles may hold a host */
        fputs("![", f);
        gc_md(f, ch[i].title);
        fprintf(f, "](charts/%s.png)  \n[%s.svg](charts/%s.svg): ", ch[i].name, ch[i].name, ch[i].name);
        gc_md(f, ch[i].caption);
        fputs("\n\n", f);
    }
    (void)m;
}

/* Copies a chart's SVG into the page, its ids prefixed with the chart's name (svg_inline). */
static int inline_svg(FILE *f, const char *path, const char *name) {
    size_t len = 0;
    gc_err err;
    char *svg = gc_read_file(path, &len, &err);
    if (!svg) return -1;
    int rc = svg_inline(f, svg, name);
    free(svg);
    return rc;
}

static int write_html(const char *path, const rp_model *m, const rp_table *t, int nt, const char *chart_dir,
                      const rp_chart *ch, int n_charts, const char *why, gc_err *err) {
    gc_memfile mf;
    FILE *f = gc_memfile_open(&mf);
    if (!f) return gc_errf(err, "%s: cannot write: out of memory", path);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>gencost report</title>\n"
               "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
               "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
               "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}th{background:#eee}"
               "tr.projected td{font-style:italic;background:#f7f3e8}figure{margin:2em 0}"
               "figure svg{max-width:100%%;height:auto}</style>\n</head><body>\n"
               "<h1>gencost report</h1>\n<p>Written by gencost %s (commit %s). Figures say how they "
               "were obtained: <b>measured</b> on the host, <b>projected</b> from a profile (calibrated on "
               "published runs, up to the roofline bound; rows in italics), or stated by a <b>profile</b> (api).</p>\n", gc_version, gc_git_commit);
    rp_summary_html(f, m);
    for (int i = 0; i < nt; i++) rp_table_html(f, &t[i]);
    fputs("<h2>Charts</h2>\n", f);
    if (!n_charts) {
        fputs("<p>Charts were skipped: ", f);
        gc_html(f, why);
        fputs(". The tables above are complete without them.</p>\n", f);
    }
    for (int i = 0; i < n_charts; i++) {
        char svg[1400];
        snprintf(svg, sizeof svg, "%s/%s.svg", chart_dir, ch[i].name);
        fprintf(f, "<figure id=\"chart-%s\">\n", ch[i].name);   /* a fixed name: no text from data */
        /* gnuplot's SVG escapes the text it draws (checked by the report tests) */
        if (inline_svg(f, svg, ch[i].name)) fprintf(f, "<p>(chart %s missing)</p>", ch[i].name);
        fputs("\n<figcaption><b>", f);
        gc_html(f, ch[i].title);
        fputs(".</b> ", f);
        gc_html(f, ch[i].caption);
        fputs("</figcaption></figure>\n", f);
    }
    fputs("</body></html>\n", f);
    (void)m;
    return gc_memfile_commit(&mf, path, err);
}

int report_run(char *const *inputs, int n_inputs, const gc_report_opts *o, gc_err *err) {
    const char *out = o->out_dir ? o->out_dir : "report";
    const char *gnuplot = o->gnuplot ? o->gnuplot : getenv("GENCOST_GNUPLOT") ? getenv("GENCOST_GNUPLOT") : "gnuplot";
    /* the longest path below it is OUT/charts/gnuplot.log: refuse rather than cut a longer one */
    if (strlen(out) + sizeof "/charts/gnuplot.log" > 1024)
        return gc_errf(err, "--out: a folder name of %zu bytes is too long (at most %zu)", strlen(out),
                       1024 - sizeof "/charts/gnuplot.log");
    rp_model *m = calloc(1, sizeof *m);
    if (!m) return gc_errf(err, "out of memory");
    int rc = rp_model_build(m, inputs, n_inputs, o, err);
    char chart_dir[1024], path[1100], why[512] = "";
    rp_chart *charts = calloc(RP_MAX_CHARTS, sizeof *charts);
    if (!charts) rc = rc ? rc : gc_errf(err, "out of memory");
    snprintf(chart_dir, sizeof chart_dir, "%s/charts", out);
    rc = rc ? rc : gc_mkdirs(chart_dir, err);
    int n_charts = rc ? 0 : rp_charts(m, chart_dir, gnuplot, charts, RP_MAX_CHARTS, why, sizeof why);
    rp_table *t = NULL;
    int nt = 0;
    if (!rc && rp_tables_build(m, &t, &nt)) rc = gc_errf(err, "out of memory building tables");
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.md", out);
        gc_memfile mf;
        FILE *f = gc_memfile_open(&mf);
        if (!f) rc = gc_errf(err, "%s: cannot write: out of memory", path);
        else {
            write_md(f, m, t, nt, charts, n_charts, why);
            rc = gc_memfile_commit(&mf, path, err);
        }
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.csv", out);
        rc = rp_write_csv(m, path, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.html", out);
        rc = write_html(path, m, t, nt, chart_dir, charts, n_charts, why, err);
    }
    if (!rc && !o->quiet) {
        int measured = 0, projected = 0;
        for (int h = 0; h < m->n_hosts; h++) {
            measured += m->hosts[h].measured;
            projected += rp_host_projected(m, h);
        }
        printf("report: %d measured host(s), %d projected, %d job(s) -> %s/report.md, report.html, report.csv\n",
               measured, projected, m->n_jobs, out);
        if (n_charts) printf("charts: %d (PNG and SVG) in %s\n", n_charts, chart_dir);
        else printf("charts skipped: %s\n", why);
    }
    rp_tables_free(t, nt);
    free(charts);
    rp_model_free(m);
    free(m);
    return rc;
}
