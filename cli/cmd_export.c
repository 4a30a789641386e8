/* gencost export: a preset's synthetic model (or a GGUF model re-quantised) as a GGUF v3 file,
 * so the identical weights can be run by any GGUF-reading runtime for side-by-side comparison. */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "base/util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: gencost export (--preset P | --model IN.gguf) --quant Q [--seed S] FILE.gguf\n\n"
               "Writes the model as a GGUF v3 file (llama architecture keys, general.alignment,\n"
               "general.quantization_version, a minimal llama tokenizer block). Norms stay f32; every\n"
               "other weight is stored in Q. Synthetic weights are a pure function of the seed (default 42).\n\n"
               "  --preset P   tiny | tinyllama-1.1b | llama2-7b | llama3-8b | mistral-7b\n"
               "  --model F    re-quantise a llama GGUF file instead (Q may be 'native': types as they are)\n"
               "  --quant Q    f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k\n");
}

int cmd_export(int argc, char **argv) {
    const char *preset = NULL, *model = NULL, *quant = NULL, *out = NULL;
    unsigned long seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        bool valued = !strcmp(a, "--preset") || !strcmp(a, "--model") || !strcmp(a, "--quant") || !strcmp(a, "--seed");
        if (valued && i + 1 >= argc) return gc_die_usage("export: %s needs a value", a);
        if (!strcmp(a, "--preset")) preset = argv[++i];
        else if (!strcmp(a, "--model")) model = argv[++i];
        else if (!strcmp(a, "--quant")) quant = argv[++i];
        else if (!strcmp(a, "--seed")) {
            long s;
            if (gc_parse_int(argv[++i], 0, 2147483647L, &s)) return gc_die_usage("export: --seed: '%s' is not a whole number from 0 to 2147483647", argv[i]);
            seed = (unsigned long)s;
        } else if (a[0] == '-') return gc_die_usage("export: unknown option '%s' (try: gencost export --help)", a);
        else if (out) return gc_die_usage("export: more than one output file ('%s', '%s')", out, a);
        else out = a;
    }
    if (!out) return gc_die_usage("export: no output FILE.gguf given (try: gencost export --help)");
    if (!preset == !model) return gc_die_usage("export: give one of --preset or --model");
    if (!quant) return gc_die_usage("export: --quant is required");
    int wtype = -1;
    if (strcmp(quant, "native")) {
        wtype = gk_type_from_name(quant);
        if (wtype < 0 || wtype == GK_I32 || wtype == GK_Q8_K || !gk_type_get(wtype))
            return gc_die_usage("export: --quant: '%s' is not one of f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k", quant);
    } else if (!model) {
        return gc_die_usage("export: --quant native needs --model");
    }
    gc_err err;
    llm_source src;
    gguf_file f;
    if (preset) {
        const llm_config *c = llm_preset(preset);
        if (!c) return gc_die_usage("export: --preset: unknown preset '%s'", preset);
        llm_source_synthetic(&src, c, seed);
    } else {
        llm_config c;
        int ft;
        if (gguf_open(model, &f, &err)) return gc_die_usage("%s", err.msg);
        if (llm_config_from_gguf(&f, &c, &ft, &err)) {
            gguf_close(&f);
            return gc_die_usage("%s: %s", model, err.msg);
        }
        llm_source_synthetic(&src, &c, seed);
        src.gguf = &f;
    }
    double t0 = gc_now();
    int rc = llm_export_gguf(&src, wtype, out, &err);
    if (model) gguf_close(&f);
    if (rc) return gc_die_usage("export: %s", err.msg);
    printf("wrote %s: %s, %.3f B parameters, %s weights, %.3f GB, %.1f s\n", out, src.c.name,
           (double)llm_param_count(&src.c) / 1e9, quant, (double)llm_source_weight_bytes(&src, wtype, false) / 1e9, gc_now() - t0);
    return 0;
}
