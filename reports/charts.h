/* Inside the report's charts (not a public surface): the gnuplot plumbing the chart writers share
 * (chart_gp.c), the fixed host colours, and the charts themselves (report_charts.c: bars per unit;
 * chart_roofline.c; chart_volume.c).
 *
 * Every chart is a data file NAME.dat and a script NAME.gp, run by gnuplot in the chart folder to
 * write NAME.svg and NAME.png. Text from data (host names, job names) enters a script only through
 * gc_gp_quote and a data file only through gc_gp_field (base/escape.h): a gnuplot script is code. */
#ifndef GC_CHARTS_H
#define GC_CHARTS_H
#include <stdbool.h>
#include <stdio.h>
#include "base/util.h"
#include "reports/report_model.h"

typedef struct chart_ctx {
    const rp_model *m;
    const char *dir;
    rp_chart *charts;
    int n, max;
    gc_err err;                /* why a chart file could not be written */
} chart_ctx;

/* One host's colour in every chart of a report, by its place in the model: a fixed palette
 * (seven of Okabe and Ito's colour-blind-safe colours, not the yellow that fades on white, then
 * five of Paul Tol's), golden-angle hues past it. "#RRGGBB". */
void chart_host_colour(int host, char out[8]);

/* A chart's two files, built in memory (gc_memfile) and written in one piece. */
typedef struct chart_files {
    gc_memfile dat, gp;
    FILE *d, *g;
} chart_files;

/* Opens both; -1 (nothing to free) when out of memory. */
int chart_open(chart_files *f);
/* Drops both without writing. */
void chart_drop(chart_files *f);
/* Writes NAME.dat and NAME.gp (ending the script with the PNG pass) and registers the chart;
 * 0, or -1 with c->err filled. */
int chart_commit(chart_ctx *c, chart_files *f, const char *name, const char *title, const char *caption);

/* The terminal, title and style lines every chart starts with. */
void gp_prologue(FILE *g, const char *name, const char *title);
/* 'NAME.EXT' as a gnuplot string. */
void gp_file(FILE *g, const char *name, const char *ext);
/* " lc rgb '#RRGGBB'" for host h. */
void gp_host_colour(FILE *g, int h);

/* A job's name on an axis: "tinyllama-1.1b q4_0 decode", the workload first for all but llm. */
void chart_job_name(const rp_model *m, const rp_job *job, char *b, size_t n);

/* Runs gnuplot on every registered chart's script; 0, or -1 with why filled. */
int chart_render_all(chart_ctx *c, const char *gnuplot, char *why, size_t why_n);

int chart_bars(chart_ctx *c);       /* throughput, cost, energy (one chart per unit), speedup */
int chart_roofline(chart_ctx *c);   /* one per precision whose ceiling the cases meet */
int chart_volume(chart_ctx *c);     /* monthly cost vs jobs a month, per costed job */

/* Copies an SVG into an HTML page without its XML prolog, every id (and every reference to one:
 * href="#x", url(#x)) prefixed with "prefix-", so several inlined charts never share an id. */
int svg_inline(FILE *f, const char *svg, const char *prefix);

#endif
