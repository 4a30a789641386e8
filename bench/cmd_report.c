/* gencost report — placeholder until its issue lands: says what it will do. */
#include <stdio.h>
#include <string.h>
#include "bench/commands.h"
#include "bench/util.h"

int cmd_report(int argc, char **argv) {
    static const char what[] = "merge results files with host profiles (hosts/*.ini) into report.md, report.csv, report.html and gnuplot charts: throughput, cost per 1,000 generations, energy, speedup, roofline";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("gencost report: %s\n(not built yet in this version)\n", what);
        return 0;
    }
    return gc_die_usage("report: not built yet in this version; it will %s", what);
}
