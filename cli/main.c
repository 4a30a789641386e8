/* gencost: hardware benchmarking and cost comparison for quantized AI workloads. */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "base/util.h"
#include "base/version.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "describe this host (CPU, caches, memory, SIMD, accelerators)"},
    {"list", cmd_list, "list workloads, presets, quant types and backends of this build"},
    {"run", cmd_run, "run a case matrix and write a results file"},
    {"report", cmd_report, "turn results files and host profiles into cost reports and charts"},
    {"compare", cmd_compare, "compare two results files: regression verdicts per case"},
    {"history", cmd_history, "store results in a history database; list, show, plot, check"},
    {"export", cmd_export, "write a preset's synthetic model as a GGUF file"},
    {"remote", cmd_remote, "run the same gencost run on other hosts over ssh, results fetched back"},
    {"slurm", cmd_slurm, "run gencost run as a Slurm job array, each task's results collected"},
    {"logits", cmd_logits, "run token ids through a model and write raw float32 logits"},
    {"serve", cmd_serve, "serve a model as an OpenAI-compatible HTTP endpoint"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: gencost <command> [options]   (gencost <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version  print version and git commit\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return GC_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gencost %s (commit %s)\n", gc_version, gc_git_commit);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    return gc_die_usage("unknown command '%s' (try: gencost --help)", argv[1]);
}
