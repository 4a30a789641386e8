/* gencost info [--json]: this host as hwloc, the CPU feature flags, uname and the compiled
 * backends see it (the same object every results file records under "host"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "bench/host/facts.h"
#include "base/util.h"
#include "bench/host/profile.h"

int cmd_info(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: gencost info [--json | --profile]\n"
                   "Describes this host: CPU model, packages/cores/threads, caches, NUMA nodes, memory,\n"
                   "SIMD features, OS and kernel, compiler and flags, and the backends of this build with\n"
                   "the accelerators they see. --json prints the object results files record as \"host\".\n"
                   "--profile prints a host profile for this machine: gencost info --profile > hosts/local.ini\n");
            return 0;
        }
        if (!strcmp(argv[i], "--profile")) {   /* bench/host/profile_local.c */
            gc_err err = {{0}};
            return profile_write_local(stdout, &err) ? (fprintf(stderr, "gencost: info: %s\n", err.msg), 1) : 0;
        }
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-') return gc_die_usage("info: unknown option '%s' (try: gencost info --help)", argv[i]);
        else return gc_die_usage("info: unexpected argument '%s'", argv[i]);
    }
    if (!json) {
        host_print(stdout);
        return 0;
    }
    json_t *h = host_json();
    char *text = h ? json_dumps(h, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (!text) {
        fprintf(stderr, "gencost: info: cannot build the host description\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}
