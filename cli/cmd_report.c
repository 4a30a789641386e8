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

int cmd_report(int argc, char **argv) {
    gc_report_opts o = {0};
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
    } else if (!n) {
        usage(stderr, t, GC_N_OPTS(t));
        rc = gc_die_usage("report: give at least one results file");
    } else if (report_run((char *const *)inputs, n, &o, &err)) {
        rc = gc_die_usage("report: %s", err.msg);
    }
    free(inputs);
    return rc;
}
