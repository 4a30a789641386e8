/* gencost compare — placeholder until its issue lands: says what it will do. */
#include <stdio.h>
#include <string.h>
#include "bench/commands.h"
#include "bench/util.h"

int cmd_compare(int argc, char **argv) {
    static const char what[] = "compare BASE and NEW results files case by case: ratio of medians with a bootstrap CI, Mann-Whitney U test, verdict faster/slower/same/noisy; exit 1 on a regression";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("gencost compare: %s\n(not built yet in this version)\n", what);
        return 0;
    }
    return gc_die_usage("compare: not built yet in this version; it will %s", what);
}
