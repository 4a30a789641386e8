/* gencost logits: run token ids as one prompt and write the raw logits, for cross-checking
 * gencost against any other runtime on the same GGUF file. Output: float32 little-endian,
 * n_tokens rows of n_vocab, position after position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "cli/opts.h"
#include "base/util.h"

#define MAX_TOKENS 4096


static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost logits (--model F.gguf | --preset P) [--quant Q] --tokens 1,450,4996,...\n"
          "                      --out FILE.bin [--backend cpu|ref] [--threads N]\n"
          "                      [--kv-type f32|f16|q8_0] [--seed S]\n\n"
          "Runs the token ids as one prompt and writes the logits of every position as raw float32\n"
          "(little-endian, n_tokens x n_vocab); prints n_vocab and n_tokens.\n\n",
          f);
    gc_opts_usage(f, t, n);
}

static int parse_tokens(const char *s, int32_t *out, int *n) {
    char *items[MAX_TOKENS], *store = NULL;
    int k = gc_split_list(s, items, MAX_TOKENS, &store);
    if (k <= 0) {
        free(store);
        return k == GC_SPLIT_EMPTY_ITEM ? gc_die_usage("logits: --tokens: empty item in '%s'", GC_ESC(s))
               : k < 0                  ? gc_die_usage("logits: --tokens: more than %d ids", MAX_TOKENS)
                                        : gc_die_usage("logits: --tokens: no ids given");
    }
    for (int i = 0; i < k; i++) {
        long v;
        gc_err err;
        if (gc_opt_value("--tokens", GC_OPT_INT, 0, INT32_MAX, items[i], &v, &err)) {
            free(store);
            return gc_opts_die("logits", &err);
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
    int wtype, kv_type; /* from quant (-1: the file's own types) and kv */
} logits_args;

/* Returns 0, GC_EXIT_USAGE after printing the problem, or -1 when --help was printed. */
static int parse_args(int argc, char **argv, logits_args *a) {
    *a = (logits_args){.backend = "cpu", .kv = "f32", .threads = 0, .seed = 42};
    /* clang-format off */
    const gc_opt t[] = {
        {.name = "--model", .kind = GC_OPT_STRING, .dest = &a->model, .metavar = "F.gguf",
         .help = "a GGUF model file"},
        {.name = "--preset", .kind = GC_OPT_STRING, .dest = &a->preset, .metavar = "P",
         .help = "a preset's synthetic model instead (gencost list shows them)"},
        {.name = "--quant", .kind = GC_OPT_STRING, .dest = &a->quant, .metavar = "Q",
         .help = "weight type (presets: required; files: default 'native', the file's own types)"},
        {.name = "--tokens", .kind = GC_OPT_STRING, .dest = &a->tokens, .metavar = "IDS",
         .help = "comma list of token ids, the prompt"},
        {.name = "--out", .kind = GC_OPT_STRING, .dest = &a->out, .metavar = "FILE.bin",
         .help = "where the logits go"},
        {.name = "--backend", .kind = GC_OPT_STRING, .dest = &a->backend, .metavar = "B",
         .help = "cpu (default) or ref"},
        {.name = "--threads", .kind = GC_OPT_INT, .dest = &a->threads, .lo = 1, .hi = 1024, .metavar = "N",
         .help = "CPU threads (default: the backend's)"},
        {.name = "--kv-type", .kind = GC_OPT_STRING, .dest = &a->kv, .metavar = "T",
         .help = "KV cache type: f32 (default: exact attention inputs), f16, q8_0"},
        {.name = "--seed", .kind = GC_OPT_INT, .dest = &a->seed, .lo = 0, .hi = 2147483647, .metavar = "S",
         .help = "seed of synthetic weights (default 42)"},
    };
    /* clang-format on */
    int n_pos;
    bool help;
    gc_err err;
    if (gc_opts_parse(t, GC_N_OPTS(t), argc, argv, 1, NULL, 0, &n_pos, &help, &err))
        return gc_opts_die("logits", &err);
    if (help) {
        usage(stdout, t, GC_N_OPTS(t));
        return -1;
    }
    if (!a->model == !a->preset) return gc_die_usage("logits: give one of --model or --preset");
    if (!a->tokens || !a->out) return gc_die_usage("logits: --tokens and --out are required");
    if (a->preset && !a->quant) return gc_die_usage("logits: --quant is required with --preset");
    a->kv_type = gk_type_from_name(a->kv);
    if (a->kv_type != GK_F32 && a->kv_type != GK_F16 && a->kv_type != GK_Q8_0) {
        gc_opt_choice("--kv-type", "f32,f16,q8_0", a->kv, &err); /* fails: the three pass above */
        return gc_opts_die("logits", &err);
    }
    return cli_weight_type("logits", a->quant, a->model, &a->wtype);
}

/* Every id inside the vocabulary, and no more ids than the context holds. */
static int check_tokens(const int32_t *tok, int n, const llm_config *c) {
    for (int i = 0; i < n; i++) {
        if (tok[i] < c->vocab) continue;
        return gc_die_usage("logits: token id %d is outside the vocabulary of %d", (int)tok[i], c->vocab);
    }
    if (n > c->ctx) return gc_die_usage("logits: %d tokens exceed the model's context of %d", n, c->ctx);
    return 0;
}

static int run_logits(const logits_args *a, const int32_t *tok, int n) {
    gc_err err;
    llm_source src;
    gguf_file f;
    int rc = cli_model_source("logits", a->preset, a->model, (unsigned long)a->seed, &src, &f);
    if (rc) return rc;
    rc = check_tokens(tok, n, &src.c);
    char why[256];
    /* the micro-kernel set: GENCOST_ISA, read here (the backend never reads the environment) */
    gk_backend_opts bo = {.n_threads = (int)a->threads, .isa = getenv("GENCOST_ISA")};
    gk_backend *be = rc ? NULL : gk_backend_open(a->backend, &bo, why, sizeof why);
    if (!rc && !be) rc = gc_die_usage("logits: --backend %s: %s", a->backend, why);
    float *out = rc ? NULL : malloc((size_t)n * (size_t)src.c.vocab * sizeof *out);
    if (!rc && !out) rc = gc_die_usage("logits: out of memory for %d x %d logits", n, src.c.vocab);
    llm_model m = {.be = be};
    llm_load_opts o = {.wtype = a->wtype, .kv_type = a->kv_type, .ctx = n, .max_t = n, .max_logits = n};
    if (!rc && (llm_load(&m, &o, 1, &src, &err) || llm_forward(&m, tok, n, 0, LLM_LOGITS_ALL, out, &err)))
        rc = gc_die_usage("logits: %s", err.msg);
    if (!rc && gc_write_file_atomic(a->out, out, (size_t)n * (size_t)src.c.vocab * sizeof *out, &err))
        rc = gc_die_usage("logits: %s", err.msg);
    if (!rc) printf("n_vocab %d\nn_tokens %d\n", src.c.vocab, n);
    llm_free(&m);
    if (be) gk_backend_close(be);
    free(out);
    if (src.gguf) gguf_close(&f);
    return rc;
}

int cmd_logits(int argc, char **argv) {
    logits_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *tok = malloc(MAX_TOKENS * sizeof *tok);
    int n = 0;
    if (!tok) return gc_die_usage("logits: out of memory");
    rc = parse_tokens(a.tokens, tok, &n);
    if (!rc) rc = run_logits(&a, tok, n);
    free(tok);
    return rc;
}
