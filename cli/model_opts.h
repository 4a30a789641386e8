/* The model options export and logits share: --preset P or --model F.gguf names the model,
 * --quant Q the type its weights are stored in. Each function prints its one-line problem
 * ("gencost: <cmd>: ...") and returns GC_EXIT_USAGE, or returns 0. */
#ifndef GC_CLI_MODEL_OPTS_H
#define GC_CLI_MODEL_OPTS_H
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"

/* The weight types --quant accepts (besides 'native'), as gc_opt_choice lists them. */
#define CLI_WEIGHT_TYPES "f32,f16,bf16,q8_0,q4_0,q4_1,q4_k,q6_k"

/* Q (any case, as GGUF writes the names) into *wtype; "native" or NULL is -1, the file's own
 * types, and needs a model file (from_file). */
int cli_weight_type(const char *cmd, const char *q, bool from_file, int *wtype);

/* The model of preset or of the GGUF file model (exactly one of them non-NULL) as *src, its
 * synthetic weights drawn from seed. A file is opened into *f and src->gguf points to it: the
 * caller closes it (gguf_close) when src->gguf is set. */
int cli_model_source(const char *cmd, const char *preset, const char *model, unsigned long seed,
                     llm_source *src, gguf_file *f);

#endif
