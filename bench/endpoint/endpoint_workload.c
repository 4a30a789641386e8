/* endpoint: the llm job (a prompt of P tokens, N new tokens, greedy) sent to an
 * OpenAI-compatible API, measured as its user sees it.
 *
 * Phases: one per concurrency level C ("c1", "c4", "c16"; unit generation): a repetition sends
 * R requests (--requests, default 2 C), C at a time, and its time gives generations/s at that
 * level. finish() adds, over the timed repetitions' requests: time to first token, inter-token
 * latency ((last chunk - first chunk) / (tokens - 1), per request) and end-to-end latency, each
 * median/p90/p99; output tokens/s per request (median) and aggregate (all tokens / all time).
 *
 * The prompt is P words of a fixed English text ("the of and to ..."), one token per word in
 * gencost serve's mapping (serve.h) and a word each in common BPE vocabularies; for chat the
 * user message has P - 1 words, gencost serve counting the role as one. Verification (once per
 * case): one streamed and one whole request must report usage.prompt_tokens from P to
 * P + --prompt-slack and usage.completion_tokens == N, and give the same text (greedy; a
 * hosted API that is not deterministic at temperature 0 needs --same-text off). A request that
 * fails (HTTP error, a 429 past its retries, a timeout, a malformed stream, no connection)
 * fails its repetition and so the phase, with the counts by kind and the first reason.
 *
 * The API key is read from the environment variable --api-key-env names, at set-up, and goes
 * only into the Authorization header (endpoint.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/endpoint/endpoint.h"
#include "bench/metrics.h"
#include "bench/workload.h"

#define MAX_LEVEL 1024

static const char *const backends[] = {"cpu", NULL};
static const char *const words[] = {"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
                                    "was", "with", "be", "by", "on", "not", "he", "this", "are", "or"};

typedef struct samples {
    double *v;
    int n, cap;
} samples;

typedef struct ep_case {
    ep_target t;
    ep_job job;
    char url[1024], model[256];
    const char *key;
    int P, N, slack, requests;
    bool same_text;
    double max_time;
    int levels[GC_MAX_PHASES], n_levels;
    char *prompt;
    bool verified;
    gc_verify ver;
    char ver_error[sizeof((gc_err *)0)->msg];
    /* the current phase's timed requests */
    int warmup, runs_seen;
    samples ttft, itl, e2e, tps;
    double tokens, wall;
    int retries, n_req;
} ep_case;

static int push(samples *s, double v) {
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 64;
        double *p = realloc(s->v, (size_t)nc * sizeof *p);
        if (!p) return -1;
        s->v = p;
        s->cap = nc;
    }
    s->v[s->n++] = v;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the order statistics around p (0..1). */
static double percentile(const samples *s, double p) {
    double *c = malloc((size_t)s->n * sizeof *c);
    if (!c) return NAN;
    memcpy(c, s->v, (size_t)s->n * sizeof *c);
    qsort(c, (size_t)s->n, sizeof *c, cmp_double);
    double pos = p * (s->n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < s->n ? lo + 1 : lo;
    double v = c[lo] + (c[hi] - c[lo]) * (pos - lo);
    free(c);
    return v;
}

/* "1,4,16" into levels; non-zero + err. */
static int parse_levels(const char *list, int *levels, int *n, gc_err *err) {
    char *items[GC_MAX_PHASES], *store = NULL;
    int k = gc_split_list(list ? list : "", items, GC_MAX_PHASES, &store);
    int rc = 0;
    if (k <= 0) rc = gc_errf(err, "endpoint: --concurrency: '%s' is not a list of levels (1,4,16)", GC_ESC(list ? list : ""));
    for (int i = 0; !rc && i < k; i++) {
        long v;
        if (gc_parse_int(items[i], 1, MAX_LEVEL, &v))
            rc = gc_errf(err, "endpoint: --concurrency: '%s' is not a whole number from 1 to %d", GC_ESC(items[i]), MAX_LEVEL);
        for (int j = 0; !rc && j < i; j++)
            if (levels[j] == v) rc = gc_errf(err, "endpoint: --concurrency: %ld is given twice", v);
        levels[i] = (int)v;
    }
    free(store);
    *n = rc ? 0 : k;
    return rc;
}

static int requests_at(const ep_case *s, int level) { return s->requests > 0 ? s->requests : 2 * level; }

static const char *key_env(const gc_case *c) { return gc_case_param(c, "api-key-env"); }

static int ep_check_case(const gc_case *c, gc_err *err) {
    const char *url = gc_case_param(c, "url"), *env = key_env(c);
    if (!url) return gc_errf(err, "endpoint: --url BASE_URL is required (e.g. http://127.0.0.1:8080/v1)");
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return gc_errf(err, "endpoint: --url: '%s' is not an http:// or https:// URL", GC_ESC(url));
    if (strlen(url) > 1000) return gc_errf(err, "endpoint: --url is longer than 1000 bytes");
    if (env && !(getenv(env) && *getenv(env)))
        return gc_errf(err, "endpoint: --api-key-env: the environment variable %s is not set (or empty)", GC_ESC(env));
    int levels[GC_MAX_PHASES], n;
    return parse_levels(gc_case_param(c, "concurrency"), levels, &n, err);
}

static char *make_prompt(int n_words) {
    size_t cap = (size_t)n_words * 5 + 1;
    char *p = malloc(cap), *w = p;
    if (!p) return NULL;
    *p = 0;
    for (int i = 0; i < n_words; i++) w += snprintf(w, cap - (size_t)(w - p), "%s%s", i ? " " : "", words[i % 20]);
    return p;
}

static int ep_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    ep_case *s = calloc(1, sizeof *s);
    if (!s) return gc_errf(err, "endpoint: out of memory");
    *state = s;
    if (ep_check_case(c, err)) return -1;
    snprintf(s->url, sizeof s->url, "%s", gc_case_param(c, "url"));
    s->key = key_env(c) ? getenv(key_env(c)) : NULL;
    s->P = (int)gc_case_param_int(c, "prompt", 0);
    s->N = (int)gc_case_param_int(c, "gen", 0);
    s->slack = (int)gc_case_param_int(c, "prompt-slack", 0);
    s->requests = (int)gc_case_param_int(c, "requests", 0);
    s->same_text = !strcmp(gc_case_param(c, "same-text"), "on");
    s->max_time = atof(gc_case_param(c, "max-time"));
    s->warmup = c->opt->warmup;
    s->t = (ep_target){.base_url = s->url, .api_key = s->key, .chat = !strcmp(gc_case_param(c, "api"), "chat")};
    s->job = (ep_job){.max_tokens = s->N,
                      .stream = !strcmp(gc_case_param(c, "stream"), "on"),
                      .timeout_s = atof(gc_case_param(c, "timeout")),
                      .max_retries = (int)gc_case_param_int(c, "retries", 0)};
    if (parse_levels(gc_case_param(c, "concurrency"), s->levels, &s->n_levels, err)) return -1;
    int words_n = s->t.chat && s->P > 1 ? s->P - 1 : s->P;
    if (!(s->prompt = make_prompt(words_n))) return gc_errf(err, "endpoint: out of memory");
    s->job.prompt = s->prompt;
    const char *model = gc_case_param(c, "model");
    if (model) snprintf(s->model, sizeof s->model, "%s", model);
    else if (ep_first_model(s->url, s->key, s->job.timeout_s, s->model, sizeof s->model, err)) return -1;
    s->t.model = s->model;
    snprintf(out->device, sizeof out->device, "%.63s", s->model);
    for (int i = 0; i < s->n_levels; i++) {
        gc_phase *ph = &out->phases[i];
        snprintf(ph->name, sizeof ph->name, "c%d", s->levels[i]);
        snprintf(ph->unit, sizeof ph->unit, "generation");
        ph->work_per_rep = requests_at(s, s->levels[i]);
    }
    out->n_phases = s->n_levels;
    return 0;
}

/* One request of the job, streamed or not; 0, or non-zero + err naming the failure. */
static int one_request(ep_case *s, bool stream, ep_result *r, gc_err *err) {
    ep_job j = s->job;
    j.stream = stream;
    if (ep_run(&s->t, &j, 1, 1, 1e9, r, err)) return -1;
    if (r->kind != EP_OK) return gc_errf(err, "endpoint: %s request to %s: %s", stream ? "streamed" : "whole", GC_ESC(s->url), r->error);
    return 0;
}

static void check_usage(const ep_case *s, const ep_result *r, const char *what, bool *ok, char *buf, size_t n) {
    bool good = r->prompt_tokens >= s->P && r->prompt_tokens <= s->P + s->slack && r->completion_tokens == s->N;
    size_t w = strlen(buf);
    snprintf(buf + w, n - w, "%s%s usage %d+%d tokens (asked %d%s+%d)", w ? "; " : "", what, r->prompt_tokens,
             r->completion_tokens, s->P, s->slack ? "..+slack" : "", s->N);
    *ok &= good;
}

static int verify_case(ep_case *s, gc_err *err) {
    ep_result a = {0}, b = {0};
    int rc = one_request(s, true, &a, err) || one_request(s, false, &b, err) ? -1 : 0;
    if (!rc) {
        gc_verify *v = &s->ver;
        bool ok = true, same = a.text && b.text && !strcmp(a.text, b.text);
        char d[160] = "";   /* two usage lines (under 80 bytes each), leaving the detail room for the rest */
        check_usage(s, &a, "streamed", &ok, d, sizeof d);
        check_usage(s, &b, "whole", &ok, d, sizeof d);
        if (s->same_text) ok &= same;
        v->ok = ok;
        snprintf(v->detail, sizeof v->detail, "%s; streamed and whole text %s%s", d, same ? "the same" : "DIFFER",
                 s->same_text ? "" : " (not checked: --same-text off)");
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "prompt_tokens_streamed", a.prompt_tokens);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "completion_tokens_streamed", a.completion_tokens);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, GC_VERIFY_EP_PROMPT_TOKENS, b.prompt_tokens);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, GC_VERIFY_EP_COMPLETION_TOKENS, b.completion_tokens);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "stream_chunks", a.chunks);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "same_text", same);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "prompt_tokens_asked", s->P);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "gen_tokens_asked", s->N);
    }
    ep_result_free(&a);
    ep_result_free(&b);
    return rc;
}

static void reset_phase(ep_case *s) {
    s->ttft.n = s->itl.n = s->e2e.n = s->tps.n = 0;
    s->tokens = s->wall = 0;
    s->retries = s->n_req = s->runs_seen = 0;
}

static int ep_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    (void)phase;
    ep_case *s = state;
    if (!s->verified) {
        if (verify_case(s, err)) return -1;
        s->verified = true;
    }
    *v = s->ver;
    reset_phase(s);
    return 0;
}

/* The repetition's outcome: 0 when every request succeeded, else err with the counts by kind
 * and the first failure. */
static int tally(const ep_result *r, int n, gc_err *err) {
    int count[EP_N_KINDS] = {0}, first = -1;
    for (int i = 0; i < n; i++) {
        count[r[i].kind]++;
        if (r[i].kind != EP_OK && first < 0) first = i;
    }
    if (first < 0) return 0;
    char kinds[256] = "";
    for (int k = 1; k < EP_N_KINDS; k++) {
        if (!count[k]) continue;
        size_t w = strlen(kinds);
        snprintf(kinds + w, sizeof kinds - w, "%s%s %d", w ? ", " : "", ep_kind_names[k], count[k]);
    }
    return gc_errf(err, "endpoint: %d of %d requests failed (%s); request %d: %s", n - count[EP_OK], n, kinds, first + 1,
                   r[first].error);
}

static int record(ep_case *s, const ep_result *r, int n, double wall) {
    s->wall += wall;
    for (int i = 0; i < n; i++) {
        s->tokens += r[i].completion_tokens;
        s->retries += r[i].retries;
        s->n_req++;
        if (push(&s->e2e, r[i].e2e_s) || push(&s->tps, r[i].completion_tokens / r[i].e2e_s)) return -1;
        if (r[i].ttft_s >= 0 && push(&s->ttft, r[i].ttft_s)) return -1;
        if (r[i].chunks > 1 && r[i].completion_tokens > 1 &&
            push(&s->itl, (r[i].last_token_s - r[i].ttft_s) / (r[i].completion_tokens - 1)))
            return -1;
    }
    return 0;
}

static int ep_run_phase(void *state, int phase, gc_err *err) {
    ep_case *s = state;
    int n = requests_at(s, s->levels[phase]);
    ep_result *r = calloc((size_t)n, sizeof *r);
    if (!r) return gc_errf(err, "endpoint: out of memory");
    double t0 = gc_now();
    int rc = ep_run(&s->t, &s->job, n, s->levels[phase], s->max_time, r, err);
    double wall = gc_now() - t0;
    if (!rc) rc = tally(r, n, err);
    for (int i = 0; !rc && i < n; i++)
        if (r[i].completion_tokens != s->N)
            rc = gc_errf(err, "endpoint: request %d: usage.completion_tokens %d, asked %d", i + 1, r[i].completion_tokens, s->N);
    if (!rc && s->runs_seen++ >= s->warmup && record(s, r, n, wall)) rc = gc_errf(err, "endpoint: out of memory");
    for (int i = 0; i < n; i++) ep_result_free(&r[i]);
    free(r);
    return rc;
}

static void add_dist(gc_metrics *m, const char *name, const samples *s) {
    if (!s->n) return;
    static const struct { const char *suffix; double p; } q[] = {{"median", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
    for (int i = 0; i < 3; i++) {
        char k[48];
        snprintf(k, sizeof k, "%s_%s", name, q[i].suffix);
        gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, k, percentile(s, q[i].p));
    }
}

static void ep_finish(void *state, int phase, gc_metrics *m) {
    ep_case *s = state;
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_EP_CONCURRENCY, s->levels[phase]);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "requests", s->n_req);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "rate_limited_retries", s->retries);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_PROMPT_TOKENS, gc_kv_get(s->ver.vals, s->ver.n_vals, GC_VERIFY_EP_PROMPT_TOKENS, s->P));
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_GEN_TOKENS, s->N);
    add_dist(m, GC_METRIC_EP_TTFT, &s->ttft);
    add_dist(m, GC_METRIC_EP_ITL, &s->itl);
    add_dist(m, GC_METRIC_EP_E2E, &s->e2e);
    if (s->tps.n) gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_EP_REQUEST_TPS, percentile(&s->tps, 0.5));
    if (s->wall > 0) gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_EP_AGGREGATE_TPS, s->tokens / s->wall);
}

static void ep_describe(const gc_case *c) {
    int levels[GC_MAX_PHASES], n;
    gc_err err;
    const char *url = gc_case_param(c, "url");
    if (parse_levels(gc_case_param(c, "concurrency"), levels, &n, &err)) {
        printf("    %s\n", err.msg);
        return;
    }
    long req = gc_case_param_int(c, "requests", 0);
    printf("    %s %s: prompt %ld tokens, %ld new, %s; concurrency", url ? url : "(no --url)",
           strcmp(gc_case_param(c, "api"), "chat") ? "/completions" : "/chat/completions", gc_case_param_int(c, "prompt", 0),
           gc_case_param_int(c, "gen", 0), strcmp(gc_case_param(c, "stream"), "on") ? "whole" : "streamed");
    for (int i = 0; i < n; i++) printf(" %d (%ld requests a repetition)", levels[i], req > 0 ? req : 2L * levels[i]);
    printf("; timeout %s s a request\n", gc_case_param(c, "timeout"));
}

static void ep_teardown(void *state) {
    ep_case *s = state;
    free(s->prompt);
    free(s->ttft.v);
    free(s->itl.v);
    free(s->e2e.v);
    free(s->tps.v);
    free(s);
}

/* clang-format off */
static const gc_param params[] = {
    {.name = "url", .kind = GC_PARAM_STRING, .output_only = true, .metavar = "BASE_URL",
     .help = "the OpenAI-compatible API, ending in /v1 (its URL is not part of the case's identity)"},
    {.name = "model", .kind = GC_PARAM_STRING, .output_only = true, .metavar = "NAME",
     .help = "the model field sent (default: the first id of GET /v1/models); recorded as the device"},
    {.name = "api-key-env", .kind = GC_PARAM_STRING, .output_only = true, .metavar = "NAME",
     .help = "environment variable holding the API key (sent as a bearer token, never written)"},
    {.name = "api", .kind = GC_PARAM_STRING, .choices = "completions,chat", .def = "completions", .metavar = "A",
     .help = "/completions with the prompt, or /chat/completions with one user message"},
    {.name = "prompt", .kind = GC_PARAM_INT, .lo = 1, .hi = 1 << 20, .def = "128", .quick_max = 16, .metavar = "P",
     .help = "prompt tokens"},
    {.name = "gen", .kind = GC_PARAM_INT, .lo = 1, .hi = 1 << 20, .def = "32", .quick_max = 8, .metavar = "N",
     .help = "generated tokens (max_tokens)"},
    {.name = "concurrency", .kind = GC_PARAM_STRING, .def = "1,4,16", .output_only = true, .metavar = "C[,C]",
     .help = "requests in flight at once, one phase (cC) per level"},
    {.name = "requests", .kind = GC_PARAM_INT, .lo = 0, .hi = 100000, .def = "0", .metavar = "R",
     .help = "requests a repetition sends at each level (0: twice the level)"},
    {.name = "stream", .kind = GC_PARAM_STRING, .choices = "on,off", .def = "on", .metavar = "S",
     .help = "server-sent events (time to first token, inter-token latency) or whole answers"},
    {.name = "timeout", .kind = GC_PARAM_DOUBLE, .lo = 0.1, .hi = 3600, .def = "60", .metavar = "S",
     .help = "seconds a request may take, connect to last byte"},
    {.name = "max-time", .kind = GC_PARAM_DOUBLE, .lo = 0.1, .hi = 86400, .def = "300", .metavar = "S",
     .help = "seconds a repetition may start requests for"},
    {.name = "retries", .kind = GC_PARAM_INT, .lo = 0, .hi = 10, .def = "3", .metavar = "N",
     .help = "retries of a request answered 429, after its Retry-After"},
    {.name = "prompt-slack", .kind = GC_PARAM_INT, .lo = 0, .hi = 4096, .def = "0", .metavar = "K",
     .help = "prompt tokens the server may add (a hosted API's BOS or chat template)"},
    {.name = "same-text", .kind = GC_PARAM_STRING, .choices = "on,off", .def = "on", .metavar = "S",
     .help = "verification requires streamed and whole answers to be the same text"},
    {.name = NULL},
};
/* clang-format on */

const gc_workload wl_endpoint = {
    .name = "endpoint",
    .description = "an OpenAI-compatible API (gencost serve, a hosted endpoint) measured as its user sees it: TTFT, inter-token and end-to-end latency, tokens/s at concurrency levels",
    .backends = backends,
    .params = params,
    .setup = ep_setup,
    .verify = ep_verify,
    .run = ep_run_phase,
    .finish = ep_finish,
    .describe = ep_describe,
    .check_case = ep_check_case,
    .teardown = ep_teardown,
    .default_threads = "1",
};
