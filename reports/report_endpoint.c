/* The endpoint workload in the report's model (bench/endpoint, RP_ENDPOINT): an API timed from
 * a client machine is a measured host of its own, tied to an api profile to be priced, and its
 * lowest concurrency level stands for that api beside the llm job of the same shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/metrics.h"
#include "reports/report_internal.h"

bool rp_is_endpoint(const gc_case_result *c) { return !strcmp(c->id.workload, RP_ENDPOINT); }

int rp_endpoint_cases(const gc_results *res) {
    int n = 0;
    for (int i = 0; i < res->n_cases; i++) n += rp_is_endpoint(&res->cases[i]);
    return n;
}

/* Appends item to a ", "-separated list of capacity n, unless the list holds it already. */
static void list_add(char *list, size_t n, const char *item) {
    size_t k = strlen(item);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == k && !strncmp(p, item, k)) return;
        p += len;
        while (*p == ',' || *p == ' ') p++;
    }
    size_t used = strlen(list);
    snprintf(list + used, n - used, "%s%s", used ? ", " : "", item);
}

/* The host an endpoint case's figures belong to: the API, not the machine its client ran on.
 * Tied to an api profile, that profile's host; untied, one named by the model it served
 * ("endpoint:gencost-tiny"), measured and not priced. */
int rp_endpoint_host(rp_model *m, const gc_results *res, const gc_case_result *c, const gc_profile *api,
                     gc_err *err) {
    char label[80];
    snprintf(label, sizeof label, "%s:%.60s", RP_ENDPOINT, c->id.device[0] ? c->id.device : "?");
    int h = rp_host_index(m, api ? api->id : label, api, true, err);
    if (h < 0) return -1;
    rp_host *host = &m->hosts[h];
    if (!api && !host->endpoint)
        snprintf(host->name, sizeof host->name, "API serving %.50s (measured from %.40s)",
                 c->id.device[0] ? c->id.device : "an unnamed model", res->host_name);
    host->endpoint = true;
    if (res->host_name[0]) list_add(host->client, sizeof host->client, res->host_name);
    return h;
}

/* An endpoint phase's figures: the token counts the server's usage gave (the whole request of
 * its verification; the phase's metrics, which carry the same, for files without it), its
 * latencies, and energy unknown: a meter on the client measures the client, and the API's power
 * is not visible from it, so none is copied and none is estimated. */
void rp_endpoint_row(rp_row *r, const gc_case_result *c) {
    const gc_verify *v = &c->verify;
    r->prompt_tokens = gc_kv_get(v->vals, v->n_vals, GC_VERIFY_EP_PROMPT_TOKENS, r->prompt_tokens);
    r->gen_tokens = gc_kv_get(v->vals, v->n_vals, GC_VERIFY_EP_COMPLETION_TOKENS, r->gen_tokens);
    rp_latency *l = &r->lat;
    l->concurrency = (int)rp_metric(&c->metrics, GC_METRIC_EP_CONCURRENCY);
    if (l->concurrency <= 0 && sscanf(c->id.phase, "c%d", &l->concurrency) != 1) l->concurrency = 1;
    static const char *const q[3] = {"median", "p90", "p99"};
    for (int i = 0; i < 3; i++) {
        char k[48];
        snprintf(k, sizeof k, "%s_%s", GC_METRIC_EP_TTFT, q[i]);
        l->ttft[i] = gc_kv_get(c->metrics.vals, c->metrics.n_vals, k, -1);
        snprintf(k, sizeof k, "%s_%s", GC_METRIC_EP_ITL, q[i]);
        l->itl[i] = gc_kv_get(c->metrics.vals, c->metrics.n_vals, k, -1);
        snprintf(k, sizeof k, "%s_%s", GC_METRIC_EP_E2E, q[i]);
        l->e2e[i] = gc_kv_get(c->metrics.vals, c->metrics.n_vals, k, -1);
    }
    l->request_tps = rp_metric(&c->metrics, GC_METRIC_EP_REQUEST_TPS);
    l->aggregate_tps = rp_metric(&c->metrics, GC_METRIC_EP_AGGREGATE_TPS);
    r->j_per_unit = -1;
    snprintf(r->e_kind, sizeof r->e_kind, "none");
    snprintf(r->e_source, sizeof r->e_source, "the API's power is not visible to its client");
}

/* RESULTS=PROFILE with an api profile: the file must hold endpoint runs only (the api is what
 * they measured), and the api must price tokens. The device-match guard (check_fit) is not
 * applied: it compares the facts of the machine a workload ran on, and an endpoint run's
 * machine is only its client — the measured host is the API, which no host facts describe. Nor
 * is an endpoint run matched to an api profile without one named: host_match.c knows the
 * client's facts only, and an api profile records no URL or served model to match on. */
int rp_check_api_tie(const char *path, const gc_results *res, const gc_profile *p, gc_err *err) {
    int n_ep = rp_endpoint_cases(res);
    if (!n_ep)
        return gc_errf(err, "%s=%s: an api profile is tied to endpoint results (gencost run --workload endpoint); "
                       "this file holds none", path, p->id);
    if (n_ep < res->n_cases)
        return gc_errf(err, "%s=%s: an api profile is tied to endpoint results only; this file also holds other "
                       "workloads' cases (give those in a file of their own)", path, p->id);
    if (!(p->usd_per_m_input > 0 || p->usd_per_m_output > 0))
        return gc_errf(err, "%s=%s: the profile prices no tokens (usd_per_m_input_tokens, usd_per_m_output_tokens); "
                       "endpoint generations are priced per token", path, p->id);
    return 0;
}

bool rp_has_endpoint_twin(const rp_model *m, int h, const char *params) {
    for (int i = 0; i < m->n_rows; i++) {
        const rp_row *r = &m->rows[i];
        if (r->host == h && r->how == RP_MEASURED && r->lat.concurrency > 0 && !strcmp(r->id.workload, "llm") &&
            !strcmp(r->id.params, params))
            return true;
    }
    return false;
}

/* ---- the api's twin in the llm job ----------------------------------------------------------
 * For each llm generation the results ran (preset, P, N) and each api host of that model measured
 * by endpoint runs that asked for the same P and N: the endpoint's lowest concurrency level as
 * the api's row of that job (backend RP_ENDPOINT), measured. Its price is the measured usage's
 * tokens, its time the measured rate. */

/* An endpoint row of an api host and what it asked for. The asked counts, not the server's
 * usage counts (the row's prompt_tokens: 513 for 512 asked, a BOS), are what an llm run of the
 * same job records as its P and N. */
typedef struct ep_ref {
    int row;
    double prompt, gen;
} ep_ref;

/* The prompt and new tokens an endpoint row asked for (its parameters, else the workload's
 * defaults); 0 when unknown. */
static void endpoint_asked(const rp_row *r, double *prompt, double *gen) {
    char p[32] = "", g[32] = "";
    rp_param_or_default(&r->id, "prompt", p, sizeof p);
    rp_param_or_default(&r->id, "gen", g, sizeof g);
    *prompt = atof(p);
    *gen = atof(g);
}

/* Only an api tied by RESULTS=PROFILE has a model to stand for; an untied endpoint serves a
 * model no llm job names. */
static bool is_api_endpoint_row(const rp_model *m, const rp_row *r) {
    const gc_profile *p = m->hosts[r->host].prof;
    return r->lat.concurrency > 0 && p && p->kind == GC_COST_API;
}

/* The endpoint rows of api hosts with what each asked, gathered once (not per llm row and host);
 * *out NULL and *n 0 when there are none. -1 out of memory. */
static int collect_api_endpoint_rows(const rp_model *m, ep_ref **out, int *n) {
    *out = NULL;
    *n = 0;
    int count = 0;
    for (int i = 0; i < m->n_rows; i++) count += is_api_endpoint_row(m, &m->rows[i]);
    if (!count) return 0;
    ep_ref *ep = malloc((size_t)count * sizeof *ep);
    if (!ep) return -1;
    for (int i = 0; i < m->n_rows; i++) {
        if (!is_api_endpoint_row(m, &m->rows[i])) continue;
        ep[*n].row = i;
        endpoint_asked(&m->rows[i], &ep[*n].prompt, &ep[*n].gen);
        (*n)++;
    }
    *out = ep;
    return 0;
}

/* An llm generation measured with its P and N known: without the shape there is nothing to
 * match an endpoint run's asked prompt and new tokens against. */
static bool is_shaped_llm_generation(const rp_row *r) {
    return r->how == RP_MEASURED && !r->lat.concurrency && !strcmp(r->id.workload, "llm") &&
           !strcmp(r->id.phase, "generation") && r->prompt_tokens > 0 && r->gen_tokens > 0;
}

/* Host h is an api serving model that endpoint runs measured. */
static bool is_measured_api_of(const rp_model *m, int h, const char *model) {
    const gc_profile *p = m->hosts[h].prof;
    return m->hosts[h].endpoint && p && p->kind == GC_COST_API && !strcmp(p->model, model);
}

/* Whether the twins appended since row first include one on h for params: an llm job run on
 * several hosts or quants has several llm rows, and the api stands in it once. */
static bool has_twin_since(const rp_model *m, int first, int h, const char *params) {
    for (int t = first; t < m->n_rows; t++)
        if (m->rows[t].host == h && !strcmp(m->rows[t].id.params, params)) return true;
    return false;
}

static bool asked_for(const rp_model *m, const ep_ref *e, int h, double prompt, double gen) {
    return m->rows[e->row].host == h && e->prompt == prompt && e->gen == gen;
}

/* The lowest concurrency level of h's endpoint rows that asked for prompt + gen, 0 none: the
 * llm job runs one generation at a time, so the level nearest that (c1 where the runs have it)
 * is the like-for-like figure. */
static int lowest_level(const rp_model *m, const ep_ref *ep, int n_ep, int h, double prompt, double gen) {
    int level = 0;
    for (int e = 0; e < n_ep; e++) {
        int c = m->rows[ep[e].row].lat.concurrency;
        if (asked_for(m, &ep[e], h, prompt, gen) && (!level || c < level)) level = c;
    }
    return level;
}

/* Appends endpoint row ep_row as api host h's row of the llm job of llm_row: workload llm, the
 * api's model as preset, quant "-" (it stands beside that preset's runs of every quant), backend
 * RP_ENDPOINT, llm_row's params; every measured figure the endpoint row's. -1 out of memory. */
static int append_twin(rp_model *m, int h, int ep_row, int llm_row, int level) {
    rp_row *t = rp_add_row(m);   /* may move the rows: every row is found again by index */
    if (!t) return -1;
    *t = m->rows[ep_row];
    snprintf(t->id.workload, sizeof t->id.workload, "llm");
    snprintf(t->id.preset, sizeof t->id.preset, "%s", m->hosts[h].prof->model);
    snprintf(t->id.quant, sizeof t->id.quant, "-");
    snprintf(t->id.backend, sizeof t->id.backend, "%s", RP_ENDPOINT);
    snprintf(t->id.phase, sizeof t->id.phase, "generation");
    snprintf(t->id.params, sizeof t->id.params, "%s", m->rows[llm_row].id.params);
    snprintf(t->basis, sizeof t->basis, "measured: endpoint phase %.60s (%d at once) from %.100s",
             m->rows[ep_row].id.phase, level, m->hosts[h].client);
    return 0;
}

/* Api host h's twins in the job of llm row llm_row; first: the first twin row of this pass.
 * Every row at the lowest level that asked for the job's shape gets one (runs that differ in
 * other parameters, the chat and the completions route): index_jobs takes the faster as the
 * api's figure for the job. */
static int add_twins_of(rp_model *m, const ep_ref *ep, int n_ep, int llm_row, int h, int first) {
    if (has_twin_since(m, first, h, m->rows[llm_row].id.params)) return 0;
    double prompt = m->rows[llm_row].prompt_tokens, gen = m->rows[llm_row].gen_tokens;
    int level = lowest_level(m, ep, n_ep, h, prompt, gen);
    if (!level) return 0;
    for (int e = 0; e < n_ep; e++)
        if (asked_for(m, &ep[e], h, prompt, gen) && m->rows[ep[e].row].lat.concurrency == level &&
            append_twin(m, h, ep[e].row, llm_row, level))
            return -1;
    return 0;
}

int rp_add_endpoint_twins(rp_model *m) {
    ep_ref *ep;
    int n_ep;
    if (collect_api_endpoint_rows(m, &ep, &n_ep)) return -1;
    if (!n_ep) return 0;
    int n_rows = m->n_rows, rc = 0;   /* the twins are appended after row n_rows, and not visited */
    for (int i = 0; i < n_rows && !rc; i++) {
        if (!is_shaped_llm_generation(&m->rows[i])) continue;
        for (int h = 0; h < m->n_hosts && !rc; h++)
            if (is_measured_api_of(m, h, m->rows[i].id.preset)) rc = add_twins_of(m, ep, n_ep, i, h, n_rows);
    }
    free(ep);
    return rc;
}
