/* The model options export and logits share (cli/model_opts.h). */
#include "cli/model_opts.h"

#include <string.h>

#include "cli/opts.h"
#include "base/util.h"

int cli_weight_type(const char *cmd, const char *q, bool from_file, int *wtype) {
    *wtype = -1;
    if (!q || !strcmp(q, "native"))
        return from_file ? 0 : gc_die_usage("%s: --quant native needs --model", cmd);
    int t = gk_type_from_name(q);
    if (t >= 0 && t != GK_I32 && t != GK_Q8_K && gk_type_get(t)) {
        *wtype = t;
        return 0;
    }
    gc_err err;
    gc_opt_choice("--quant", CLI_WEIGHT_TYPES, q, &err); /* fails: every name it lists is a weight type */
    return gc_opts_die(cmd, &err);
}

int cli_model_source(const char *cmd, const char *preset, const char *model, unsigned long seed,
                     llm_source *src, gguf_file *f) {
    if (preset) {
        const llm_config *c = llm_preset(preset);
        if (!c) return gc_die_usage("%s: --preset: unknown preset '%s'", cmd, preset);
        llm_source_synthetic(src, c, seed);
        return 0;
    }
    llm_config c;
    int file_type;
    gc_err err;
    if (gguf_open(model, f, &err)) return gc_die_usage("%s", err.msg);
    if (llm_config_from_gguf(f, &c, &file_type, &err)) {
        gguf_close(f);
        return gc_die_usage("%s: %s", model, err.msg);
    }
    llm_source_synthetic(src, &c, seed);
    src->gguf = f;
    return 0;
}
