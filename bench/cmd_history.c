/* gencost history — placeholder until its issue lands: says what it will do. */
#include <stdio.h>
#include <string.h>
#include "bench/commands.h"
#include "bench/util.h"

int cmd_history(int argc, char **argv) {
    static const char what[] = "store results in an SQLite history (add), list and show cases, plot trends with gnuplot, check a new run against recent history";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("gencost history: %s\n(not built yet in this version)\n", what);
        return 0;
    }
    return gc_die_usage("history: not built yet in this version; it will %s", what);
}
