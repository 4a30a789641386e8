/* gencost export — placeholder until its issue lands: says what it will do. */
#include <stdio.h>
#include <string.h>
#include "bench/commands.h"
#include "bench/util.h"

int cmd_export(int argc, char **argv) {
    static const char what[] = "write a preset's synthetic model as a GGUF file: gencost export --preset P --quant Q FILE.gguf";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("gencost export: %s\n(not built yet in this version)\n", what);
        return 0;
    }
    return gc_die_usage("export: not built yet in this version; it will %s", what);
}
