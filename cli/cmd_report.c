/* gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "base/util.h"
#include "reports/report.h"


static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR]\n\n"
          "Merges results files (from this or other machines) with host profiles and writes\n"
          "report.md, report.csv, report.html and charts (PNG and SVG, through gnuplot) in --out.\n\n",
          f);
    gc_opts_usage(f, t, n);
    fputs("\nEnvironment: GENCOST_GNUPLOT names the gnuplot program (default gnuplot). Without\n"
          "gnuplot the tables are still written and the report says charts were skipped.\n",
          f);
}

/* --volume 100,1000,10000: jobs a month, each a number > 0, at most GC_REPORT_MAX_VOLUMES. */
static int parse_volumes(const char *spec, gc_report_opts *o, gc_err *err) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (o->n_volumes == GC_REPORT_MAX_VOLUMES)
            return gc_errf(err, "--volume '%s': at most %d volumes", spec, GC_REPORT_MAX_VOLUMES);
        if (gc_parse_double(tok, 1, 1e12, &v))
            return gc_errf(err, "--volume '%s': '%s' is not a number of jobs a month from 1 to 1e12", spec, tok);
        o->volumes[o->n_volumes++] = v;
    }
    if (!o->n_volumes) return gc_errf(err, "--volume '%s': give jobs a month, e.g. 100,1000,10000", spec);
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
         .help = "jobs a month to cost at (default 100,1000,10000)"},
        {.name = "--amortise", .kind = GC_OPT_FLAG, .dest = &o.amortise,
         .help = "owned machines also pay purchase / lifetime (default: electricity only)"},
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
