/* gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "base/util.h"
#include "reports/report.h"

static void usage(FILE *f) {
    fputs("usage: gencost report RESULTS[=PROFILE]... [--hosts DIR] [--baseline HOST] [--out DIR]\n\n"
          "Merges results files (from this or other machines) with host profiles and writes\n"
          "report.md, report.csv, report.html and charts (PNG and SVG, through gnuplot) in --out.\n\n"
          "  RESULTS=PROFILE  tie a results file to a profile: an id in --hosts or a path to .ini;\n"
          "                   without it a results file takes the profile named like its host\n"
          "  --hosts DIR      host profiles (default hosts); profiles without results are\n"
          "                   projected from their roofline and marked \"projected\"\n"
          "  --baseline HOST  host that speedups are relative to (default: first measured)\n"
          "  --out DIR        output folder (default report)\n"
          "  --quiet          no summary lines\n\n"
          "Environment: GENCOST_GNUPLOT names the gnuplot program (default gnuplot). Without\n"
          "gnuplot the tables are still written and the report says charts were skipped.\n", f);
}

int cmd_report(int argc, char **argv) {
    gc_report_opts o = {0};
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return gc_die_usage("report: out of memory");
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--hosts") ? &o.hosts_dir : !strcmp(a, "--baseline") ? &o.baseline
                          : !strcmp(a, "--out") ? &o.out_dir : NULL;
        if (slot) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                free(inputs);
                return gc_die_usage("report: %s needs a value", a);
            }
            *slot = argv[++i];
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
        } else if (a[0] == '-' && a[1]) {
            free(inputs);
            return gc_die_usage("report: unknown option '%s' (try: gencost report --help)", a);
        } else {
            inputs[n++] = argv[i];
        }
    }
    if (!n) {
        free(inputs);
        usage(stderr);
        return gc_die_usage("report: give at least one results file");
    }
    gc_err err = {{0}};
    int rc = report_run(inputs, n, &o, &err);
    free(inputs);
    if (rc) return gc_die_usage("report: %s", err.msg);
    return 0;
}
