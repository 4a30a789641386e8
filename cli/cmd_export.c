/* gencost export: a preset's synthetic model (or a GGUF model re-quantised) as a GGUF v3 file,
 * so the identical weights can be run by any GGUF-reading runtime for side-by-side comparison. */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "cli/opts.h"
#include "base/util.h"
#include "bench/sd/sd.h"


static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost export (--preset P | --model IN.gguf) --quant Q [--seed S] FILE.gguf\n\n"
          "Writes the model as a GGUF v3 file (llama architecture keys, general.alignment,\n"
          "general.quantization_version, a minimal llama tokenizer block). Norms stay f32; every\n"
          "other weight is stored in Q. Synthetic weights are a pure function of the seed (default 42).\n"
          "A Stable Diffusion preset (sd-tiny, sd1.5, sdxl) is written in stable-diffusion.cpp's layout:\n"
          "the checkpoint's tensor names, linear layers in Q, conv kernels F16, norms and biases F32.\n\n",
          f);
    gc_opts_usage(f, t, n);
}

typedef struct export_args {
    const char *preset, *model, *quant, *out;
    long seed;
} export_args;

/* Returns 0, GC_EXIT_USAGE after printing the problem, or -1 when --help was printed. */
static int parse_args(int argc, char **argv, export_args *a) {
    *a = (export_args){.seed = 42};
    /* clang-format off */
    const gc_opt t[] = {
        {.name = "--preset", .kind = GC_OPT_STRING, .dest = &a->preset, .metavar = "P",
         .help = "tiny | tinyllama-1.1b | llama2-7b | llama3-8b | mistral-7b | sd-tiny | sd1.5 | sdxl"},
        {.name = "--model", .kind = GC_OPT_STRING, .dest = &a->model, .metavar = "F",
         .help = "re-quantise a llama GGUF file instead (Q may be 'native': types as they are)"},
        {.name = "--quant", .kind = GC_OPT_STRING, .dest = &a->quant, .metavar = "Q",
         .help = "weight type: " CLI_WEIGHT_TYPES},
        {.name = "--seed", .kind = GC_OPT_INT, .dest = &a->seed, .lo = 0, .hi = 2147483647, .metavar = "S",
         .help = "seed of the synthetic weights (default 42)"},
    };
    /* clang-format on */
    const char *pos[2];
    int n_pos;
    bool help;
    gc_err err;
    if (gc_opts_parse(t, GC_N_OPTS(t), argc, argv, 1, pos, 2, &n_pos, &help, &err))
        return gc_opts_die("export", &err);
    if (help) {
        usage(stdout, t, GC_N_OPTS(t));
        return -1;
    }
    if (n_pos > 1) return gc_die_usage("export: more than one output file ('%s', '%s')", pos[0], pos[1]);
    if (!n_pos) return gc_die_usage("export: no output FILE.gguf given (try: gencost export --help)");
    a->out = pos[0];
    if (!a->preset == !a->model) return gc_die_usage("export: give one of --preset or --model");
    if (!a->quant) return gc_die_usage("export: --quant is required");
    return 0;
}

/* A Stable Diffusion preset: the image workload's model, as stable-diffusion.cpp stores one. */
static int export_sd(const export_args *a, const sd_config *c) {
    int wtype = gk_type_from_name(a->quant);
    if (wtype < 0 || !gk_type_get(wtype)) return gc_die_usage("export: --quant: unknown weight type '%s'", a->quant);
    gc_err err;
    double t0 = gc_now();
    if (sd_export_gguf(c, wtype, (unsigned long)a->seed, a->out, &err)) return gc_die_usage("export: %s", err.msg);
    printf("wrote %s: %s (stable-diffusion.cpp layout), %s linear weights, %.1f s\n", a->out, c->name, a->quant,
           gc_now() - t0);
    return 0;
}

int cmd_export(int argc, char **argv) {
    export_args a;
    int parsed = parse_args(argc, argv, &a);
    if (parsed) return parsed < 0 ? 0 : parsed;
    if (a.preset && sd_preset(a.preset)) return export_sd(&a, sd_preset(a.preset));
    int wtype;
    llm_source src;
    gguf_file f;
    int rc = cli_weight_type("export", a.quant, a.model, &wtype);
    if (!rc) rc = cli_model_source("export", a.preset, a.model, (unsigned long)a.seed, &src, &f);
    if (rc) return rc;
    gc_err err;
    double t0 = gc_now();
    rc = llm_export_gguf(&src, wtype, a.out, &err);
    if (src.gguf) gguf_close(&f);
    if (rc) return gc_die_usage("export: %s", err.msg);
    printf("wrote %s: %s, %.3f B parameters, %s weights, %.3f GB, %.1f s\n", a.out, src.c.name,
           (double)llm_param_count(&src.c) / 1e9, a.quant,
           (double)llm_source_weight_bytes(&src, wtype, false) / 1e9, gc_now() - t0);
    return 0;
}
