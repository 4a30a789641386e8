/* gencost list: workloads with presets, quant types, phases and their own options (from their
 * parameter tables), suites, and this build's backends. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "bench/suites.h"
#include "base/util.h"
#include "bench/workload.h"
#include "kernels/backend.h"

static void print_names(const char *label, const char *const *list) {
    printf("    %-10s", label);
    if (!list || !list[0]) {
        printf("-\n");
        return;
    }
    for (int i = 0; list[i]; i++)
        printf("%s%s%s", i ? ", " : "", list[i], i == 0 && list[1] ? " (default)" : "");
    printf("\n");
}

/* "--prompt P  prompt tokens (default 512; 64 with --quick)", one line per parameter. */
static void print_params(const gc_param *t) {
    if (!t || !t[0].name) {
        printf("    %-10s-\n", "options:");
        return;
    }
    for (int i = 0; t[i].name; i++) {
        char flag[64], help[256];
        snprintf(flag, sizeof flag, "--%s %s", t[i].name, t[i].metavar ? t[i].metavar : "");
        gc_param_help(&t[i], help, sizeof help);
        printf("    %-10s%-16s %s\n", i ? "" : "options:", flag, help);
    }
}

static void print_workloads(void) {
    printf("workloads:\n");
    for (const gc_workload *const *w = gc_workload_all(); *w; w++) {
        printf("  %-10s %s\n", (*w)->name, (*w)->description);
        print_names("presets:", (*w)->presets);
        print_names("quants:", (*w)->quants);
        print_names("backends:", (*w)->backends);
        printf("    %-10s%s\n", "threads:", (*w)->default_threads ? (*w)->default_threads : "all");
        printf("    %-10s%s\n",
               "isa:", (*w)->takes_isa ? "yes (--isa picks the cpu backend's micro-kernels)" : "-");
        if ((*w)->phases) {
            printf("    %-10s", "phases:");
            for (int i = 0; (*w)->phases[i]; i++) printf("%s%s", i ? ", " : "", (*w)->phases[i]);
            printf("\n");
        }
        print_params((*w)->params);
    }
}

static void print_suites(void) {
    printf("\nsuites (gencost run --suite NAME; the first runs when no --workload is given):\n");
    for (const gc_suite *const *s = gc_suite_all(); *s; s++) {
        printf("  %-10s %s:", (*s)->name, (*s)->description);
        for (const gc_suite_line *l = (*s)->lines; l->workload; l++)
            printf("%s %s%s%s%s%s%s%s%s%s%s", l == (*s)->lines ? "" : ";", l->workload, l->presets ? " " : "",
                   l->presets ? l->presets : "", l->quants ? " " : "", l->quants ? l->quants : "",
                   l->params ? " " : "", l->params ? l->params : "", l->backend ? " on " : "",
                   l->backend ? l->backend : "", gc_suite_line_gpu(l) ? " (where a GPU is present)" : "");
        printf("\n");
    }
}

static void print_backends(void) {
    printf("\nbackends of this build:\n");
    for (const char *const *n = gk_backend_names(); *n; n++) {
        char why[256] = "";
        bool ok = gk_backend_available(*n, why, sizeof why);
        printf("  %-10s %s%s%s\n", *n, ok ? "available" : "not available: ", ok ? "" : why, "");
    }
}

int cmd_list(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: gencost list\nLists the workloads (presets, quant types, backends, default "
                   "threads, phases,\n"
                   "their own options),\n"
                   "the suites, and the backends of this build with whether each can run here.\n");
            return 0;
        }
        if (argv[i][0] == '-')
            return gc_die_usage("list: unknown option '%s' (try: gencost list --help)", argv[i]);
        return gc_die_usage("list: unexpected argument '%s'", argv[i]);
    }
    print_workloads();
    print_suites();
    print_backends();
    return 0;
}
