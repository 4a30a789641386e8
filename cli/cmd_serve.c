/* gencost serve: the llm workload's model behind an OpenAI-compatible HTTP endpoint
 * (bench/serve/serve.h), until SIGINT or SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "cli/opts.h"
#include "base/util.h"
#include "bench/serve/serve.h"

static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost serve (--preset P | --model F.gguf) [--quant Q] [--backend B] [--host 127.0.0.1]\n"
          "                     [--port N] [--threads N] [--ctx N] [--queue N] ...\n\n"
          "Serves the llm workload's model as an OpenAI-compatible endpoint: POST /v1/completions,\n"
          "POST /v1/chat/completions (\"stream\": true for server-sent events), GET /v1/models. One\n"
          "generation at a time, greedy, always max_tokens new tokens; requests beyond --queue get 503.\n"
          "Tokens: each white-space word of the prompt is one token (\"#K\" is token K, any other word\n"
          "its FNV-1a hash mod the vocabulary); token K reads \" #K\". Prints the base URL, then serves\n"
          "until SIGINT/SIGTERM.\n\n",
          f);
    gc_opts_usage(f, t, n);
}

typedef struct serve_args {
    const char *preset, *model, *quant, *backend, *kv, *host, *name;
    long port, threads, seed, ctx, queue, conns, max_body, timeout, idle, max_tokens;
    int wtype, kv_type;
} serve_args;

/* Returns 0, GC_EXIT_USAGE after printing the problem, or -1 when --help was printed. */
static int parse_args(int argc, char **argv, serve_args *a) {
    gc_serve_opts d;
    gc_serve_opts_defaults(&d);
    *a = (serve_args){.backend = "cpu", .kv = "f16", .host = d.host, .port = d.port, .seed = 42, .ctx = 2048,
                      .queue = d.max_queue, .conns = d.max_connections, .max_body = (long)d.max_body,
                      .timeout = d.request_timeout_s, .idle = d.idle_timeout_s, .max_tokens = d.default_max_tokens};
    /* clang-format off */
    const gc_opt t[] = {
        {.name = "--preset", .kind = GC_OPT_STRING, .dest = &a->preset, .metavar = "P",
         .help = "a preset's synthetic model (gencost list shows them)"},
        {.name = "--model", .kind = GC_OPT_STRING, .dest = &a->model, .metavar = "F.gguf",
         .help = "a GGUF model file instead"},
        {.name = "--quant", .kind = GC_OPT_STRING, .dest = &a->quant, .metavar = "Q",
         .help = "weight type (presets: default q8_0; files: default 'native', the file's own types)"},
        {.name = "--backend", .kind = GC_OPT_STRING, .dest = &a->backend, .metavar = "B",
         .help = "backend that runs the model (default cpu)"},
        {.name = "--threads", .kind = GC_OPT_INT, .dest = &a->threads, .lo = 1, .hi = 1024, .metavar = "N",
         .help = "CPU threads (default: the backend's)"},
        {.name = "--kv-type", .kind = GC_OPT_STRING, .dest = &a->kv, .metavar = "T",
         .help = "KV cache type: f32, f16 (default), q8_0"},
        {.name = "--ctx", .kind = GC_OPT_INT, .dest = &a->ctx, .lo = 2, .hi = 1 << 20, .metavar = "N",
         .help = "positions per request, prompt + max_tokens (default 2048, at most the model's context)"},
        {.name = "--host", .kind = GC_OPT_STRING, .dest = &a->host, .metavar = "ADDR",
         .help = "address to listen on (default 127.0.0.1)"},
        {.name = "--port", .kind = GC_OPT_INT, .dest = &a->port, .lo = 0, .hi = 65535, .metavar = "N",
         .help = "port (default 8080; 0: any free port, printed)"},
        {.name = "--name", .kind = GC_OPT_STRING, .dest = &a->name, .metavar = "ID",
         .help = "the model id /v1/models lists (default gencost-<preset or file name>)"},
        {.name = "--queue", .kind = GC_OPT_INT, .dest = &a->queue, .lo = 1, .hi = 4096, .metavar = "N",
         .help = "generations waiting or running at once; more get 503 (default 32)"},
        {.name = "--connections", .kind = GC_OPT_INT, .dest = &a->conns, .lo = 1, .hi = 4096, .metavar = "N",
         .help = "open connections at once (default 64)"},
        {.name = "--max-body", .kind = GC_OPT_INT, .dest = &a->max_body, .lo = 64, .hi = 1L << 30, .metavar = "BYTES",
         .help = "largest request body; larger get 413 (default 1048576)"},
        {.name = "--timeout", .kind = GC_OPT_INT, .dest = &a->timeout, .lo = 1, .hi = 86400, .metavar = "S",
         .help = "seconds a request may wait and generate before it is cut (504; default 300)"},
        {.name = "--idle-timeout", .kind = GC_OPT_INT, .dest = &a->idle, .lo = 1, .hi = 86400, .metavar = "S",
         .help = "seconds a silent connection stays open (default 60)"},
        {.name = "--max-tokens", .kind = GC_OPT_INT, .dest = &a->max_tokens, .lo = 1, .hi = 1 << 20, .metavar = "N",
         .help = "max_tokens of a request that gives none (default 16)"},
        {.name = "--seed", .kind = GC_OPT_INT, .dest = &a->seed, .lo = 0, .hi = 2147483647, .metavar = "S",
         .help = "seed of synthetic weights (default 42)"},
    };
    /* clang-format on */
    int n_pos;
    bool help;
    gc_err err;
    if (gc_opts_parse(t, GC_N_OPTS(t), argc, argv, 1, NULL, 0, &n_pos, &help, &err)) return gc_opts_die("serve", &err);
    if (help) {
        usage(stdout, t, GC_N_OPTS(t));
        return -1;
    }
    if (!a->model == !a->preset) return gc_die_usage("serve: give one of --preset or --model");
    a->kv_type = gk_type_from_name(a->kv);
    if (a->kv_type != GK_F32 && a->kv_type != GK_F16 && a->kv_type != GK_Q8_0) {
        gc_opt_choice("--kv-type", "f32,f16,q8_0", a->kv, &err); /* fails: the three pass above */
        return gc_opts_die("serve", &err);
    }
    return cli_weight_type("serve", a->quant ? a->quant : a->preset ? "q8_0" : NULL, a->model, &a->wtype);
}

static void default_name(const serve_args *a, char *buf, size_t n) {
    if (a->name) {
        snprintf(buf, n, "%s", a->name);
        return;
    }
    const char *m = a->preset ? a->preset : a->model, *slash = strrchr(m, '/');
    snprintf(buf, n, "gencost-%s", slash ? slash + 1 : m);
}

/* Serves until SIGINT/SIGTERM, blocked in every thread and taken here with sigwait. */
static int serve_until_signal(const serve_args *a, llm_model *m, const char *desc) {
    char name[128];
    default_name(a, name, sizeof name);
    gc_serve_opts o;
    gc_serve_opts_defaults(&o);
    o.host = a->host;
    o.port = (int)a->port;
    o.model_id = name;
    o.max_body = (size_t)a->max_body;
    o.max_queue = (int)a->queue;
    o.max_connections = (int)a->conns;
    o.request_timeout_s = (int)a->timeout;
    o.idle_timeout_s = (int)a->idle;
    o.default_max_tokens = (int)a->max_tokens;
    gc_server *s;
    gc_err err;
    if (gc_serve_start(&s, m, &o, &err)) return gc_die_usage("%s", err.msg);
    const char *host = strchr(a->host, ':') ? "[%s]" : "%s";
    char hbuf[80];
    snprintf(hbuf, sizeof hbuf, host, a->host);
    printf("gencost serve: %s as '%s' on http://%s:%d/v1 (context %d, queue %ld); stop with Ctrl-C\n", desc, name, hbuf,
           gc_serve_port(s), m->s.ctx, a->queue);
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "gencost serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gc_serve_stop(s);
    return 0;
}

static int run_serve(const serve_args *a) {
    llm_source src;
    gguf_file f;
    int rc = cli_model_source("serve", a->preset, a->model, (unsigned long)a->seed, &src, &f);
    if (rc) return rc;
    int ctx = a->ctx < src.c.ctx ? (int)a->ctx : src.c.ctx;
    char why[256];
    gk_backend_opts bo = {.n_threads = (int)a->threads, .isa = getenv("GENCOST_ISA")};
    gk_backend *be = gk_backend_open(a->backend, &bo, why, sizeof why);
    if (!be) rc = gc_die_usage("serve: --backend %s: %s", a->backend, why);
    llm_model m = {.be = be};
    llm_load_opts o = {.wtype = a->wtype, .kv_type = a->kv_type, .ctx = ctx, .max_t = ctx < 512 ? ctx : 512, .max_logits = 1};
    gc_err err;
    if (!rc && llm_load(&m, &o, 1, &src, &err)) rc = gc_die_usage("serve: %s", err.msg);
    if (!rc) {
        char desc[200];
        snprintf(desc, sizeof desc, "%s (%s, %s)", src.c.name, a->wtype < 0 ? "native" : gk_type_name(a->wtype), be->name);
        rc = serve_until_signal(a, &m, desc);
    }
    llm_free(&m);
    if (be) gk_backend_close(be);
    if (src.gguf) gguf_close(&f);
    return rc;
}

int cmd_serve(int argc, char **argv) {
    serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    /* Before any thread starts, so every thread inherits the mask and the signals reach sigwait;
     * a client that closes its socket must not end the server. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return run_serve(&a);
}
