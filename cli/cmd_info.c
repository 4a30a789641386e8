/* gencost info [--json | --profile]: this host as hwloc, the CPU feature flags, uname and the
 * compiled backends see it (the same object every results file records under "host"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "bench/host/facts.h"
#include "base/util.h"
#include "bench/host/profile.h"


static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost info [--json | --profile]\n"
          "Describes this host: CPU model, packages/cores/threads, caches, NUMA nodes, memory,\n"
          "SIMD features, OS and kernel, compiler and flags, and the backends of this build with\n"
          "the accelerators they see.\n\n",
          f);
    gc_opts_usage(f, t, n);
}

int cmd_info(int argc, char **argv) {
    bool json = false, profile = false, help;
    /* clang-format off */
    const gc_opt t[] = {
        {.name = "--json", .kind = GC_OPT_FLAG, .dest = &json,
         .help = "print the object results files record as \"host\""},
        {.name = "--profile", .kind = GC_OPT_FLAG, .dest = &profile,
         .help = "print a host profile of this machine: gencost info --profile > hosts/local.ini"},
    };
    /* clang-format on */
    int n_pos;
    gc_err err = {{0}};
    if (gc_opts_parse(t, GC_N_OPTS(t), argc, argv, 1, NULL, 0, &n_pos, &help, &err))
        return gc_opts_die("info", &err);
    if (help) {
        usage(stdout, t, GC_N_OPTS(t));
        return 0;
    }
    if (profile) { /* bench/host/profile_local.c */
        if (!profile_write_local(stdout, &err)) return 0;
        fprintf(stderr, "gencost: info: %s\n", err.msg);
        return 1;
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
