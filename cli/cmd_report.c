/* gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR]
 *                [--volume N[,N...] | --volume LO-HI] [--amortise] [--force-profile] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "base/util.h"
#include "reports/report.h"


static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR]\n"
          "                      [--volume N[,N...] | --volume LO-HI] [--amortise] [--force-profile]\n\n"
          "Merges results files (from this or other machines) with host profiles and writes\n"
          "report.md, report.csv, report.html and charts (PNG and SVG, through gnuplot) in --out.\n\n",
          f);
    gc_opts_usage(f, t, n);
    fputs("\nEnvironment: GENCOST_GNUPLOT names the gnuplot program (default gnuplot). Without\n"
          "gnuplot the tables are still written and the report says charts were skipped.\n",
          f);
}

/* Jobs a month: from one a month to a trillion (past that no price in a profile means anything). */
#define VOL_LO 1
#define VOL_HI 1e12

/* all: the whole value, named in the message when v is only part of it. */
static int one_volume(const char *all, const char *v, double *out, gc_err *err) {
    if (!*v) return gc_errf(err, "--volume: '%s' is not N[,N...] or a range LO-HI of jobs a month", GC_ESC(all));
    if (gc_parse_double(v, VOL_LO, VOL_HI, out)) {
        if (!strcmp(all, v))
            return gc_errf(err, "--volume: '%s' is not a number of jobs a month from %d to %g", GC_ESC(v), VOL_LO,
                           VOL_HI);
        return gc_errf(err, "--volume: '%s': '%s' is not a number of jobs a month from %d to %g", GC_ESC(all),
                       GC_ESC(v), VOL_LO, VOL_HI);
    }
    return 0;
}

/* "LO-HI": LO, 10 LO, 100 LO ... and HI (decades, so a log-log view gets even steps). */
static int volume_range(const char *v, const char *dash, gc_report_opts *o, gc_err *err) {
    char lo_s[64];
    if ((size_t)(dash - v) >= sizeof lo_s) return gc_errf(err, "--volume: '%s' is not a range LO-HI", GC_ESC(v));
    snprintf(lo_s, sizeof lo_s, "%.*s", (int)(dash - v), v);
    double lo, hi;
    if (one_volume(v, lo_s, &lo, err) || one_volume(v, dash + 1, &hi, err)) return -1;
    if (!(hi > lo)) return gc_errf(err, "--volume: '%s': the range's end must be above its start", GC_ESC(v));
    o->n_volumes = 0;
    for (double x = lo; x < hi * (1 - 1e-9); x *= 10) {
        if (o->n_volumes == GC_REPORT_MAX_VOLUMES - 1)
            return gc_errf(err, "--volume: '%s' spans more than %d decades", GC_ESC(v), GC_REPORT_MAX_VOLUMES - 1);
        o->volumes[o->n_volumes++] = x;
    }
    o->volumes[o->n_volumes++] = hi;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "100,1000,10000" (shown in increasing order) or "100-10000". */
static int parse_volumes(const char *v, gc_report_opts *o, gc_err *err) {
    const char *dash = strchr(v, '-');
    if (dash && !strchr(v, ',')) return volume_range(v, dash, o, err);
    char *items[GC_REPORT_MAX_VOLUMES], *storage = NULL;
    int n = gc_split_list(v, items, GC_REPORT_MAX_VOLUMES, &storage), rc = 0;
    if (n == -1)
        rc = gc_errf(err, "--volume: '%s' gives more than %d volumes", GC_ESC(v), GC_REPORT_MAX_VOLUMES);
    else if (n <= 0)
        rc = gc_errf(err, "--volume: '%s' has an empty value (give N[,N...] or LO-HI)", GC_ESC(v));
    for (int i = 0; i < n && !rc; i++) rc = one_volume(v, items[i], &o->volumes[i], err);
    free(storage);
    if (rc) return rc;
    qsort(o->volumes, (size_t)n, sizeof o->volumes[0], cmp_double);
    for (int i = 1; i < n; i++)
        if (o->volumes[i] == o->volumes[i - 1])
            return gc_errf(err, "--volume: '%s' gives %g twice", GC_ESC(v), o->volumes[i]);
    o->n_volumes = n;
    return 0;
}

int cmd_report(int argc, char **argv) {
    gc_report_opts o = {0};
    const char *volume = NULL;
    bool help;
    /* clang-format off */
    const gc_opt t[] = {
        {.help = "  RESULTS=PROFILE  tie a results file to a profile: an id in --hosts or a path to .ini;\n"
                 "                   without it a results file takes the profile named like its host"},
        {.name = "--hosts", .kind = GC_OPT_STRING, .dest = &o.hosts_dir, .metavar = "DIR",
         .help = "host profiles (default hosts); profiles without results are"},
        {.help = "                   projected from their roofline and marked \"projected\""},
        {.name = "--baseline", .kind = GC_OPT_STRING, .dest = &o.baseline, .metavar = "HOST",
         .help = "host that speedups are relative to (default: first measured)"},
        {.name = "--out", .kind = GC_OPT_STRING, .dest = &o.out_dir, .metavar = "DIR",
         .help = "output folder (default report)"},
        {.name = "--volume", .kind = GC_OPT_STRING, .dest = &volume, .metavar = "N,N..",
         .help = "jobs a month to cost each target at, up to 8 (default"},
        {.help = "                   100,1000,10000); LO-HI: the decades LO, 10×LO ... and HI"},
        {.name = "--amortise", .kind = GC_OPT_FLAG, .dest = &o.amortise,
         .help = "owned machines also pay purchase / lifetime (default: electricity"},
        {.help = "                   only, for a machine you have; a profile may say amortise = yes)"},
        {.name = "--force-profile", .kind = GC_OPT_FLAG, .dest = &o.force_profile,
         .help = "tie RESULTS=PROFILE even when the host does not fit the profile (marked)"},
        {.name = "--quiet", .kind = GC_OPT_FLAG, .dest = &o.quiet, .help = "no summary lines"},
    };
    /* clang-format on */
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return gc_die_usage("report: out of memory");
    int n = 0, rc = 0;
    gc_err err = {{0}};
    if (gc_opts_parse(t, GC_N_OPTS(t), argc, argv, 1, inputs, argc, &n, &help, &err)) {
        rc = gc_opts_die("report", &err);
    } else if (help) {
        usage(stdout, t, GC_N_OPTS(t));
    } else if (volume && parse_volumes(volume, &o, &err)) {
        rc = gc_die_usage("report: %s", err.msg);
    } else if (!n) {
        usage(stderr, t, GC_N_OPTS(t));
        rc = gc_die_usage("report: give at least one results file");
    } else if (report_run((char *const *)inputs, n, &o, &err)) {
        rc = gc_die_usage("report: %s", err.msg);
    }
    free(inputs);
    return rc;
}
