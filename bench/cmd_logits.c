/* gencost logits — placeholder until its issue lands: says what it will do. */
#include <stdio.h>
#include <string.h>
#include "bench/commands.h"
#include "bench/util.h"

int cmd_logits(int argc, char **argv) {
    static const char what[] = "run token ids through a model and write raw float32 logits: gencost logits --preset P|--model F --quant Q --tokens 1,2,3 --out FILE.bin";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("gencost logits: %s\n(not built yet in this version)\n", what);
        return 0;
    }
    return gc_die_usage("logits: not built yet in this version; it will %s", what);
}
