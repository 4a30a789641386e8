/* gencost logits: run token ids as one prompt and write the raw logits, for cross-checking
 * gencost against any other runtime on the same GGUF file. Output: float32 little-endian,
 * n_tokens rows of n_vocab, position after position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "base/util.h"

#define MAX_TOKENS 4096

static void usage(FILE *f) {
    fprintf(f, "usage: gencost logits (--model F.gguf | --preset P) [--quant Q] --tokens 1,450,4996,... --out FILE.bin\n"
               "                      [--backend cpu|ref] [--threads N] [--kv-type f32|f16|q8_0] [--seed S]\n\n"
               "Runs the token ids as one prompt and writes the logits of every position as raw float32\n"
               "(little-endian, n_tokens x n_vocab); prints n_vocab and n_tokens.\n"
               "  --quant Q  weight type (presets: required; files: default 'native', the file's own types)\n"
               "  --backend  default cpu; --kv-type default f32 (exact attention inputs)\n");
}

static int parse_tokens(const char *s, int32_t *out, int *n) {
    char *items[MAX_TOKENS], *store = NULL;
    int k = gc_split_list(s, items, MAX_TOKENS, &store);
    if (k <= 0) {
        free(store);
        return k < 0 ? gc_die_usage("logits: --tokens: more than %d ids", MAX_TOKENS) : gc_die_usage("logits: --tokens: no ids given");
    }
    for (int i = 0; i < k; i++) {
        long v;
        if (gc_parse_int(items[i], 0, INT32_MAX, &v)) {
            int rc = gc_die_usage("logits: --tokens: '%s' is not a token id", items[i]);
            free(store);
            return rc;
        }
        out[i] = (int32_t)v;
    }
    free(store);
    *n = k;
    return 0;
}

typedef struct logits_args {
    const char *model, *preset, *quant, *tokens, *out, *backend, *kv;
    long threads, seed;
} logits_args;

static int parse_args(int argc, char **argv, logits_args *a) {
    *a = (logits_args){.backend = "cpu", .kv = "f32", .threads = 0, .seed = 42};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            usage(stdout);
            return 1;
        }
        const char **slot = !strcmp(k, "--model") ? &a->model : !strcmp(k, "--preset") ? &a->preset
                          : !strcmp(k, "--quant") ? &a->quant : !strcmp(k, "--tokens") ? &a->tokens
                          : !strcmp(k, "--out") ? &a->out : !strcmp(k, "--backend") ? &a->backend
                          : !strcmp(k, "--kv-type") ? &a->kv : NULL;
        bool num = !strcmp(k, "--threads") || !strcmp(k, "--seed");
        if (!slot && !num) return gc_die_usage("logits: unknown option '%s' (try: gencost logits --help)", k);
        if (i + 1 >= argc) return gc_die_usage("logits: %s needs a value", k);
        const char *v = argv[++i];
        if (slot) *slot = v;
        else if (!strcmp(k, "--threads") && gc_parse_int(v, 1, 1024, &a->threads))
            return gc_die_usage("logits: --threads: '%s' is not a whole number from 1 to 1024", v);
        else if (!strcmp(k, "--seed") && gc_parse_int(v, 0, 2147483647L, &a->seed))
            return gc_die_usage("logits: --seed: '%s' is not a whole number from 0 to 2147483647", v);
    }
    if (!a->model == !a->preset) return gc_die_usage("logits: give one of --model or --preset");
    if (!a->tokens || !a->out) return gc_die_usage("logits: --tokens and --out are required");
    if (a->preset && !a->quant) return gc_die_usage("logits: --quant is required with --preset");
    return 0;
}

static int run_logits(const logits_args *a, const int32_t *tok, int n) {
    gc_err err;
    llm_source src;
    gguf_file f;
    bool have_file = false;
    int wtype = -1, kv = gk_type_from_name(a->kv);
    if (kv != GK_F32 && kv != GK_F16 && kv != GK_Q8_0) return gc_die_usage("logits: --kv-type: '%s' is not f32, f16 or q8_0", a->kv);
    if (a->quant && strcmp(a->quant, "native")) {
        wtype = gk_type_from_name(a->quant);
        if (wtype < 0 || wtype == GK_I32 || wtype == GK_Q8_K || !gk_type_get(wtype))
            return gc_die_usage("logits: --quant: '%s' is not one of f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k", a->quant);
    } else if (a->preset) {
        return gc_die_usage("logits: --quant native needs --model");
    }
    if (a->preset) {
        const llm_config *c = llm_preset(a->preset);
        if (!c) return gc_die_usage("logits: --preset: unknown preset '%s'", a->preset);
        llm_source_synthetic(&src, c, (unsigned long)a->seed);
    } else {
        llm_config c;
        int ft;
        if (gguf_open(a->model, &f, &err)) return gc_die_usage("%s", err.msg);
        have_file = true;
        if (llm_config_from_gguf(&f, &c, &ft, &err)) {
            gguf_close(&f);
            return gc_die_usage("%s: %s", a->model, err.msg);
        }
        llm_source_synthetic(&src, &c, (unsigned long)a->seed);
        src.gguf = &f;
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (tok[i] >= src.c.vocab) rc = gc_die_usage("logits: token id %d is outside the vocabulary of %d", (int)tok[i], src.c.vocab);
    if (!rc && n > src.c.ctx) rc = gc_die_usage("logits: %d tokens exceed the model's context of %d", n, src.c.ctx);
    char why[256];
    gk_backend_opts bo = {.n_threads = (int)a->threads};
    gk_backend *be = rc ? NULL : gk_backend_open(a->backend, &bo, why, sizeof why);
    if (!rc && !be) rc = gc_die_usage("logits: --backend %s: %s", a->backend, why);
    float *out = rc ? NULL : malloc((size_t)n * (size_t)src.c.vocab * sizeof *out);
    if (!rc && !out) rc = gc_die_usage("logits: out of memory for %d x %d logits", n, src.c.vocab);
    llm_model m = {.be = be};
    llm_load_opts o = {.wtype = wtype, .kv_type = kv, .ctx = n, .max_t = n, .max_logits = n};
    if (!rc && (llm_load(&m, &o, 1, &src, &err) || llm_forward(&m, tok, n, 0, LLM_LOGITS_ALL, out, &err)))
        rc = gc_die_usage("logits: %s", err.msg);
    if (!rc && gc_write_file_atomic(a->out, out, (size_t)n * (size_t)src.c.vocab * sizeof *out, &err))
        rc = gc_die_usage("logits: %s", err.msg);
    if (!rc) printf("n_vocab %d\nn_tokens %d\n", src.c.vocab, n);
    llm_free(&m);
    if (be) gk_backend_close(be);
    free(out);
    if (have_file) gguf_close(&f);
    return rc;
}

int cmd_logits(int argc, char **argv) {
    logits_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    int32_t *tok = malloc(MAX_TOKENS * sizeof *tok);
    int n = 0;
    if (!tok) return gc_die_usage("logits: out of memory");
    rc = parse_tokens(a.tokens, tok, &n);
    if (!rc) rc = run_logits(&a, tok, n);
    free(tok);
    return rc;
}
