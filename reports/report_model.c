/* The report's model: results files merged per host, jobs compared across hosts, hosts without
 * results projected from their roofline, api hosts from their stated figures, and costs. The
 * endpoint workload's part (an API measured from its client) is report_endpoint.c. */
#include "reports/report_model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/metrics.h"
#include "bench/results.h"
#include "reports/projection.h"
#include "reports/report_internal.h"

/* gencost's llm defaults (P = 512 prompt tokens, N = 128 new), used to price an api call when the
 * results do not say the generation's shape. */
#define DEFAULT_PROMPT 512
#define DEFAULT_NEW 128

const char *rp_how_name(rp_how h) {
    return h == RP_MEASURED ? "measured" : h == RP_PROJECTED ? "projected" : "profile";
}

bool rp_host_projected(const rp_model *m, int h) {
    const rp_host *x = &m->hosts[h];
    return !x->measured && x->prof && x->prof->kind != GC_COST_API;
}

void rp_host_tag(const rp_model *m, int h, char *buf, size_t n) {
    const rp_host *x = &m->hosts[h];
    if (x->measured && x->forced) snprintf(buf, n, "%s (forced profile)", x->label);
    else if (x->measured) snprintf(buf, n, "%s", x->label);
    else if (rp_host_projected(m, h)) snprintf(buf, n, "%s (projected)", x->label);
    else snprintf(buf, n, "%s (profile figures)", x->label);
}

double rp_peak_flops(const gc_profile *p, const char *quant, const char **which) {
    bool f32 = !strcmp(quant, "f32") || !strcmp(quant, "-");
    if (!f32 && p->peak_tflops_fp16 > 0) {
        *which = "FP16";
        return p->peak_tflops_fp16 * 1e12;
    }
    *which = "FP32";
    return p->peak_tflops_fp32 * 1e12;
}

double rp_host_bw(const rp_model *m, int h) {
    const rp_host *x = &m->hosts[h];
    if (x->prof && x->prof->mem_bw_gbs > 0) return x->prof->mem_bw_gbs;
    return x->meas_bw_gbs;
}

rp_row *rp_add_row(rp_model *m) {
    if (m->n_rows == m->cap_rows) {
        int cap = m->cap_rows ? 2 * m->cap_rows : 64;
        rp_row *r = realloc(m->rows, (size_t)cap * sizeof *r);
        if (!r) return NULL;
        m->rows = r;
        m->cap_rows = cap;
    }
    rp_row *r = &m->rows[m->n_rows++];
    memset(r, 0, sizeof *r);
    r->j_per_unit = -1;
    snprintf(r->e_kind, sizeof r->e_kind, "none");
    return r;
}

double rp_metric(const gc_metrics *mt, const char *name) {
    return gc_kv_get(mt->vals, mt->n_vals, name, 0);
}

/* A triad case is a memory-bandwidth ceiling only when its arrays overflow the last-level cache
 * (--quick arrays may fit in it and measure the cache). Files without the figures count. */
static bool triad_streams_memory(const gc_case_result *c) {
    double arrays = rp_metric(&c->metrics, GC_METRIC_ARRAYS_TOTAL_BYTES), llc = rp_metric(&c->metrics, GC_METRIC_LLC_BYTES);
    return arrays <= 0 || llc <= 0 || arrays >= 2 * llc;
}

static bool is_generation(const rp_row *r) {
    return !strcmp(r->unit, "generation") || !strcmp(r->unit, "image") || !strcmp(r->unit, "step") ||
           !strcmp(r->unit, RP_TRAIN_UNIT);
}

/* A training step's figure (tokens per second) seen as the job people price: a million trained
 * tokens (RP_TRAIN_PHASE), the same measurement with every per-unit figure scaled. */
static int add_train_job_row(rp_model *m, int step) {
    rp_row *r = rp_add_row(m);   /* may move the rows: the step is found again by its index */
    if (!r) return -1;
    *r = m->rows[step];
    snprintf(r->id.phase, sizeof r->id.phase, "%s", RP_TRAIN_PHASE);
    snprintf(r->unit, sizeof r->unit, "%s", RP_TRAIN_UNIT);
    r->tput /= 1e6, r->lo /= 1e6, r->hi /= 1e6;
    r->work_per_rep /= 1e6;
    if (r->j_per_unit > 0) r->j_per_unit *= 1e6;
    return 0;
}

/* ---- inputs --------------------------------------------------------------------------------- */

static const gc_profile *resolve_profile(rp_model *m, const char *spec, gc_err *err) {
    size_t len = strlen(spec);
    if (len > 4 && !strcmp(spec + len - 4, ".ini")) {
        if (m->n_extra == RP_MAX_HOSTS) {
            gc_errf(err, "%s: too many profiles", spec);
            return NULL;
        }
        gc_profile *p = &m->extra[m->n_extra];
        if (profile_load(spec, p, err)) return NULL;
        m->n_extra++;
        return p;
    }
    const gc_profile *p = profile_find(m->profs, m->n_profs, spec);
    if (!p) gc_errf(err, "profile '%s' not found in the hosts folder (give an id or a path to .ini)", spec);
    return p;
}

/* FILE=PROFILE: the results' host must fit the profile's device, unless --force-profile (then
 * *why says what differs and the host is marked in every table). */
static int check_fit(const rp_model *m, const char *path, const gc_results *res, const gc_profile *p,
                     char *why, size_t n, gc_err *err) {
    char differs[200];
    if (rp_profile_fits(res->host, p, differs, sizeof differs) != 0) return 0;
    if (!m->force_profile)
        return gc_errf(err, "%s=%s: the results do not fit the profile: %s (--force-profile ties them anyway)",
                       path, p->id, differs);
    snprintf(why, n, "forced: %.180s", differs);
    return 0;
}

/* A results file given without a profile takes the one profile its host facts fit (the
 * `make run` machine's hosts/local.ini, a Colab GPU's profile), so no phantom projected twin of
 * the measured host appears; none when no profile or several fit. */
static const gc_profile *profile_by_facts(const rp_model *m, const gc_results *res) {
    const gc_profile *found = NULL;
    char why[200];
    for (int i = 0; i < m->n_profs; i++) {
        if (m->profs[i].kind == GC_COST_API || rp_profile_fits(res->host, &m->profs[i], why, sizeof why) != 1) continue;
        if (found) return NULL;
        found = &m->profs[i];
    }
    return found;
}

int rp_host_index(rp_model *m, const char *label, const gc_profile *prof, bool measured, gc_err *err) {
    for (int i = 0; i < m->n_hosts; i++)
        if (!strcmp(m->hosts[i].label, label)) {
            m->hosts[i].measured |= measured;
            return i;
        }
    if (m->n_hosts == RP_MAX_HOSTS) return gc_errf(err, "more than %d hosts", RP_MAX_HOSTS), -1;
    rp_host *h = &m->hosts[m->n_hosts];
    memset(h, 0, sizeof *h);
    snprintf(h->label, sizeof h->label, "%s", label);
    snprintf(h->name, sizeof h->name, "%s", prof ? prof->name : label);
    h->prof = prof;
    h->measured = measured;
    return m->n_hosts++;
}

/* A meter's figure is the host's own; an estimate made where the run happened is replaced by
 * one from the host's profile (estimate_energy) when the host has a profile. */
static void row_energy_from_case(rp_row *r, const gc_case_result *c, bool profiled) {
    bool estimate = !strcmp(c->energy.kind, "estimated");
    if (!strcmp(c->energy.kind, "measured") || (estimate && !profiled)) {
        r->j_per_unit = c->energy.joules_per_unit;
        snprintf(r->e_kind, sizeof r->e_kind, "%s", c->energy.kind);
        snprintf(r->e_source, sizeof r->e_source, "%s", c->energy.source);
    }
}

static void add_file(rp_host *host, const char *path) {
    size_t used = strlen(host->files);
    snprintf(host->files + used, sizeof host->files - used, "%s%s", used ? ", " : "", path);
}

static int add_results(rp_model *m, const char *input, gc_err *err) {
    char path[1024], *prof_spec = NULL;
    snprintf(path, sizeof path, "%s", input);
    char *eq = strrchr(path, '=');
    if (eq) {
        *eq = 0;
        prof_spec = eq + 1;
    }
    gc_results res;
    if (results_read(path, &res, err)) return -1;
    const gc_profile *prof = NULL;
    char why[200] = "";
    if (rp_input_seen(m, path, &res, err) || (prof_spec && !(prof = resolve_profile(m, prof_spec, err)))) {
        results_free(&res);
        return -1;
    }
    const gc_profile *api = prof && prof->kind == GC_COST_API ? prof : NULL;
    int n_ep = rp_endpoint_cases(&res);
    if (prof && !api && n_ep && n_ep == res.n_cases) {
        gc_errf(err, "%s=%s: endpoint results are priced by an api profile (kind = api), and %s is %s; "
                "without one they are shown unpriced", path, prof->id, prof->id, profile_kind_name(prof->kind));
        results_free(&res);
        return -1;
    }
    if (api ? rp_check_api_tie(path, &res, api, err) : prof && check_fit(m, path, &res, prof, why, sizeof why, err)) {
        results_free(&res);
        return -1;
    }
    int h = -1;   /* the machine the file's other cases ran on */
    bool named[RP_MAX_HOSTS] = {false};   /* hosts that list this file already */
    if (!api && (n_ep < res.n_cases || !res.n_cases)) {
        if (!prof) prof = profile_find(m->profs, m->n_profs, res.host_name);
        if (!prof) prof = profile_by_facts(m, &res);
        if ((h = rp_host_index(m, prof ? prof->id : res.host_name, prof, true, err)) < 0) {
            results_free(&res);
            return -1;
        }
        rp_host *host = &m->hosts[h];
        if (why[0]) {
            host->forced = true;
            snprintf(host->forced_why, sizeof host->forced_why, "%s", why);
        }
        add_file(host, path);
        named[h] = true;
    }
    for (int i = 0; i < res.n_cases; i++) {
        const gc_case_result *c = &res.cases[i];
        bool ep = rp_is_endpoint(c);
        int hc = h;
        if (ep && (hc = rp_endpoint_host(m, &res, c, api, err)) < 0) return results_free(&res), -1;
        rp_host *host = &m->hosts[hc];
        if (!named[hc]) add_file(host, path), named[hc] = true;
        if (strcmp(c->status, "ok") || !(c->throughput.median > 0)) continue;   /* unverified: no figure */
        rp_row *r = rp_add_row(m);
        if (!r) return results_free(&res), gc_errf(err, "out of memory");
        r->host = hc;
        r->how = RP_MEASURED;
        r->id = c->id;
        snprintf(r->unit, sizeof r->unit, "%s", c->unit);
        r->tput = c->throughput.median;
        r->lo = c->throughput.ci95_low;
        r->hi = c->throughput.ci95_high;
        r->cv = c->throughput.cv;
        r->n = c->n_samples;
        r->high_spread = c->high_spread;
        r->work_per_rep = c->work_per_rep;
        r->bytes_per_rep = c->bytes_per_rep;
        r->flops_per_rep = c->flops_per_rep;
        r->prompt_tokens = rp_metric(&c->metrics, GC_METRIC_PROMPT_TOKENS);
        r->gen_tokens = rp_metric(&c->metrics, GC_METRIC_GEN_TOKENS);
        if (ep) {
            rp_endpoint_row(r, c);
            continue;
        }
        /* workloads may state their traffic per unit rather than per repetition */
        double wbpt = rp_metric(&c->metrics, GC_METRIC_WEIGHT_BYTES_PER_TOKEN);
        if (r->bytes_per_rep <= 0 && wbpt > 0 && !strcmp(r->unit, "token"))
            r->bytes_per_rep = wbpt * r->work_per_rep;
        if (r->flops_per_rep <= 0) r->flops_per_rep = rp_metric(&c->metrics, GC_METRIC_FLOPS_PER_REP);
        row_energy_from_case(r, c, prof != NULL);
        if (!strcmp(r->id.workload, "triad") && !strcmp(r->unit, "GB") && triad_streams_memory(c) && r->tput > host->meas_bw_gbs)
            host->meas_bw_gbs = r->tput;
        double probe = rp_metric(&c->metrics, GC_METRIC_TRIAD_GBS);   /* the probe other workloads ran */
        if (probe > host->meas_bw_gbs) host->meas_bw_gbs = probe;
        host->meas_read_gbs = fmax(host->meas_read_gbs, rp_metric(&c->metrics, GC_METRIC_READ_GBS));
        host->meas_fma_gflops = fmax(host->meas_fma_gflops, rp_metric(&c->metrics, GC_METRIC_FMA_PEAK_GFLOPS));
        if (!strcmp(r->id.workload, "train") && !strcmp(r->id.phase, "step") && !strcmp(r->unit, "token") &&
            add_train_job_row(m, (int)(r - m->rows)))
            return results_free(&res), gc_errf(err, "out of memory");
    }
    results_free(&res);
    return 0;
}

/* ---- jobs ----------------------------------------------------------------------------------- */

/* Jobs are found by key through an open-addressing table of job indices built per index_jobs
 * pass, so merging 100,000s of rows into jobs stays near-linear (a scan per row was quadratic). */
typedef struct job_index {
    int *slots;     /* -1 empty, else an index into m->jobs */
    size_t n;       /* a power of two, at least twice the jobs it holds */
} job_index;

static size_t hash_key(const char *s) {   /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (size_t)h;
}

static size_t job_slot(const rp_model *m, const job_index *ix, const char *key) {
    size_t i = hash_key(key) & (ix->n - 1);
    while (ix->slots[i] >= 0 && strcmp(m->jobs[ix->slots[i]].key, key)) i = (i + 1) & (ix->n - 1);
    return i;
}

/* Sized for every job the rows can make; the jobs already known are entered. */
static int job_index_init(const rp_model *m, job_index *ix) {
    ix->n = 64;
    while (ix->n < 2 * (size_t)(m->n_jobs + m->n_rows)) ix->n *= 2;
    ix->slots = malloc(ix->n * sizeof *ix->slots);
    if (!ix->slots) return -1;
    memset(ix->slots, 0xff, ix->n * sizeof *ix->slots);   /* every slot -1 */
    for (int j = 0; j < m->n_jobs; j++) ix->slots[job_slot(m, ix, m->jobs[j].key)] = j;
    return 0;
}

static int add_job(rp_model *m, job_index *ix, const rp_row *r) {
    char key[GC_CASE_KEY_LEN];
    gc_job_key(&r->id, key, sizeof key);
    size_t slot = job_slot(m, ix, key);
    if (ix->slots[slot] >= 0) return ix->slots[slot];
    /* the array grows to the next power of two, so appends stay amortised O(1) */
    if (m->n_jobs < 16 || !(m->n_jobs & (m->n_jobs - 1))) {
        size_t cap = m->n_jobs < 16 ? 16 : 2 * (size_t)m->n_jobs;
        rp_job *nj = realloc(m->jobs, cap * sizeof *nj);
        if (!nj) return -1;
        m->jobs = nj;
    }
    rp_job *job = &m->jobs[m->n_jobs];
    memset(job, 0, sizeof *job);
    job->id = r->id;
    job->id.backend[0] = job->id.device[0] = 0;
    job->id.threads = 0;
    snprintf(job->key, sizeof job->key, "%s", key);
    snprintf(job->unit, sizeof job->unit, "%s", r->unit);
    job->costed = is_generation(r);
    for (int h = 0; h < RP_MAX_HOSTS; h++) job->best[h] = -1;
    ix->slots[slot] = m->n_jobs;
    return m->n_jobs++;
}

static int index_jobs(rp_model *m) {
    for (int j = 0; j < m->n_jobs; j++)
        for (int h = 0; h < RP_MAX_HOSTS; h++) m->jobs[j].best[h] = -1;
    job_index ix;
    if (job_index_init(m, &ix)) return -1;
    for (int i = 0; i < m->n_rows; i++) {
        rp_row *r = &m->rows[i];
        int j = add_job(m, &ix, r);
        if (j < 0) {
            free(ix.slots);
            return -1;
        }
        int *b = &m->jobs[j].best[r->host];
        if (*b < 0 || r->tput > m->rows[*b].tput) *b = i;
    }
    free(ix.slots);
    for (int i = 0; i < m->n_rows; i++) m->rows[i].best = false;
    for (int j = 0; j < m->n_jobs; j++) {
        m->any_costed |= m->jobs[j].costed;
        for (int h = 0; h < m->n_hosts; h++)
            if (m->jobs[j].best[h] >= 0) m->rows[m->jobs[j].best[h]].best = true;
    }
    return 0;
}

/* ---- projection ----------------------------------------------------------------------------- */

/* Each job with a measured reference row that host h has no figure for, projected onto h from
 * its profile (reports/projection.h: calibrated estimate and roofline bound). A measured host keeps
 * its measured rows and is projected, marked so, on the rest. */
static int project_host(rp_model *m, int h) {
    const gc_profile *p = m->hosts[h].prof;
    int n_jobs = m->n_jobs;
    for (int j = 0; j < n_jobs; j++) {
        if (m->jobs[j].best[h] >= 0) continue;
        int ref_i = -1;
        for (int k = 0; k < m->n_hosts && ref_i < 0; k++) {
            int b = m->jobs[j].best[k];
            if (b >= 0 && m->rows[b].how == RP_MEASURED && (m->rows[b].bytes_per_rep > 0 || m->rows[b].flops_per_rep > 0))
                ref_i = b;
        }
        if (ref_i < 0) continue;
        rp_row ref = m->rows[ref_i];
        rp_proj pr;
        if (rp_project(p, rp_host_bw(m, h), &ref, &pr)) continue;   /* no ceiling, or not its device */
        rp_row *r = rp_add_row(m);
        if (!r) return -1;
        *r = ref;
        r->host = h;
        r->how = RP_PROJECTED;
        snprintf(r->id.backend, sizeof r->id.backend, "-");
        r->id.device[0] = 0;
        r->id.threads = 0;
        /* a range: the calibrated estimate up to the roofline bound */
        r->tput = r->lo = ref.work_per_rep / pr.seconds;
        r->bound = r->hi = ref.work_per_rep / pr.bound_s;
        r->cv = 0;
        r->n = 0;
        r->high_spread = false;
        snprintf(r->basis, sizeof r->basis, "%s", pr.basis);
        snprintf(r->calib, sizeof r->calib, "%s", pr.calib);
        r->j_per_unit = -1;
        snprintf(r->e_kind, sizeof r->e_kind, "none");
        r->e_source[0] = 0;
    }
    return 0;
}

/* The prompt and new-token counts of an llm generation, from the results or gencost's defaults;
 * *params: the parameters of the results' case that gave them ("" for the defaults), so the api
 * rows form the same job as the runs they price. */
static bool generation_shape(rp_model *m, const char *preset, double *prompt, double *gen, char *params, size_t n) {
    for (int i = 0; i < m->n_rows; i++) {
        const rp_row *r = &m->rows[i];
        if (r->how == RP_MEASURED && !r->lat.concurrency && !strcmp(r->id.workload, "llm") &&
            !strcmp(r->id.preset, preset) && r->prompt_tokens > 0 && r->gen_tokens > 0) {
            *prompt = r->prompt_tokens;
            *gen = r->gen_tokens;
            snprintf(params, n, "%s", r->id.params);
            snprintf(m->shape_note, sizeof m->shape_note, "P = %.0f prompt and N = %.0f new tokens per generation (from the results)", *prompt, *gen);
            return true;
        }
    }
    *prompt = DEFAULT_PROMPT;
    *gen = DEFAULT_NEW;
    params[0] = 0;
    snprintf(m->shape_note, sizeof m->shape_note, "P = %d prompt and N = %d new tokens per generation (gencost's defaults; the results do not say)", DEFAULT_PROMPT, DEFAULT_NEW);
    return false;
}

/* An api host's rows: its stated decode rate and the generation time those figures imply. */
/* A row of api host h's stated figures: its model as the preset, quant "-" (an api standing in
 * for a preset compares with that preset's runs of every quant), backend "api". */
static rp_row *api_row(rp_model *m, int h, const char *workload, const char *phase) {
    rp_row *r = rp_add_row(m);
    if (!r) return NULL;
    r->host = h;
    r->how = RP_PROFILE;
    snprintf(r->id.workload, sizeof r->id.workload, "%s", workload);
    snprintf(r->id.preset, sizeof r->id.preset, "%s", m->hosts[h].prof->model);
    snprintf(r->id.quant, sizeof r->id.quant, "-");
    snprintf(r->id.backend, sizeof r->id.backend, "api");
    snprintf(r->id.phase, sizeof r->id.phase, "%s", phase);
    return r;
}

/* An image api's one row: an image generation, quant "-", standing in for every image job —
 * when the results hold one to stand beside. */
static int add_image_api_row(rp_model *m, int h) {
    const gc_profile *p = m->hosts[h].prof;
    if (!(p->usd_per_image > 0) || !(p->seconds_per_image > 0)) return 0;
    bool images = false;
    for (int j = 0; j < m->n_jobs; j++)
        images |= !strcmp(m->jobs[j].id.workload, "image") && !strcmp(m->jobs[j].id.phase, "generation");
    if (!images) return 0;
    rp_row *r = api_row(m, h, "image", "generation");
    if (!r) return -1;
    snprintf(r->unit, sizeof r->unit, "image");
    r->tput = r->lo = r->hi = 1.0 / p->seconds_per_image;
    r->work_per_rep = 1;
    snprintf(r->basis, sizeof r->basis, "profile: %.200s", p->throughput_source);
    return 0;
}

static int add_api_rows(rp_model *m, int h) {
    const gc_profile *p = m->hosts[h].prof;
    if (!(p->out_tokens_per_s > 0)) return add_image_api_row(m, h);
    double prompt, gen;
    char params[sizeof m->rows[0].id.params];
    bool ran = generation_shape(m, p->model, &prompt, &gen, params, sizeof params);
    /* an api its endpoint runs measured: its stated figures only for an llm job of its model the
     * endpoint did not measure (a different prompt or length), none beside its own measured jobs */
    if (m->hosts[h].measured && (!ran || rp_has_endpoint_twin(m, h, params))) return 0;
    gc_job_shape shape = {prompt, gen, 0};
    static const char *const phases[] = {"decode", "generation"};
    for (int k = 0; k < 2; k++) {
        rp_row *r = api_row(m, h, "llm", phases[k]);
        if (!r) return -1;
        snprintf(r->id.params, sizeof r->id.params, "%s", params);
        r->prompt_tokens = prompt;
        r->gen_tokens = gen;
        if (k == 0) {
            snprintf(r->unit, sizeof r->unit, "token");
            r->tput = p->out_tokens_per_s;
            r->work_per_rep = 1;
            snprintf(r->basis, sizeof r->basis, "stated by the profile: %.170s", p->throughput_source);
        } else {
            snprintf(r->unit, sizeof r->unit, "generation");
            r->tput = 1.0 / cost_api_seconds(p, &shape);
            r->work_per_rep = 1;
            snprintf(r->basis, sizeof r->basis, "profile: %.3g s to first token + %.0f tokens / %g tokens/s",
                     p->first_token_s, gen, p->out_tokens_per_s);
        }
        r->lo = r->hi = r->tput;
    }
    return 0;
}

/* ---- energy and cost ------------------------------------------------------------------------ */

/* Rows without a meter figure get the profile's active power × time, labelled estimated. */
static void estimate_energy(rp_model *m) {
    for (int i = 0; i < m->n_rows; i++) {
        rp_row *r = &m->rows[i];
        const gc_profile *p = m->hosts[r->host].prof;
        if (r->j_per_unit >= 0 || !p || p->active_watts <= 0 || p->kind == GC_COST_API) continue;
        r->j_per_unit = p->active_watts / r->tput;
        snprintf(r->e_kind, sizeof r->e_kind, "estimated");
        snprintf(r->e_source, sizeof r->e_source, "profile:%.40s active_watts", p->id);
    }
}

static void cost_jobs(rp_model *m) {
    for (int j = 0; j < m->n_jobs; j++) {
        rp_job *job = &m->jobs[j];
        for (int h = 0; h < m->n_hosts; h++) {
            int b = job->best[h];
            const gc_profile *p = m->hosts[h].prof;
            if (b < 0) continue;
            if (!p) {
                snprintf(job->cost_note[h], sizeof job->cost_note[h], "%s",
                         m->hosts[h].endpoint ? "not priced: an endpoint is priced by an api profile (RESULTS=PROFILE)"
                                              : "no profile: no price");
                continue;
            }
            const rp_row *r = &m->rows[b];
            gc_job_shape shape = {0};
            if (p->kind == GC_COST_API) {
                if (!strcmp(r->unit, "image")) shape.images = 1;
                else if (!strcmp(r->unit, "generation")) {
                    shape.prompt_tokens = r->prompt_tokens;
                    shape.new_tokens = r->gen_tokens;
                } else continue;   /* priced per generation or image only */
            }
            double j_unit = r->j_per_unit;
            gc_err err;
            if (cost_job(p, &shape, 1.0 / r->tput, j_unit, &job->cost[h], &err) == 0)
                job->has_cost[h] = true;
            else
                snprintf(job->cost_note[h], sizeof job->cost_note[h], "%.95s", err.msg);
        }
    }
}

/* ---- building ------------------------------------------------------------------------------- */

static int pick_baseline(rp_model *m, const char *want, gc_err *err) {
    m->baseline = -1;
    for (int h = 0; h < m->n_hosts; h++) {
        if (want && (!strcmp(m->hosts[h].label, want) || !strcmp(m->hosts[h].name, want))) {
            m->baseline = h;
            return 0;
        }
        if (!want && m->baseline < 0 && m->hosts[h].measured) m->baseline = h;
    }
    if (want) {
        char known[512] = "";
        for (int h = 0; h < m->n_hosts; h++) {
            size_t u = strlen(known);
            snprintf(known + u, sizeof known - u, "%s%s", h ? ", " : "", m->hosts[h].label);
        }
        return gc_errf(err, "--baseline '%s' is not a host of this report (hosts: %s)", want, known);
    }
    return 0;
}

int rp_model_build(rp_model *m, char *const *inputs, int n, const gc_report_opts *o, gc_err *err) {
    memset(m, 0, sizeof *m);
    m->baseline = -1;
    m->n_volumes = o->n_volumes;
    memcpy(m->volumes, o->volumes, sizeof m->volumes);
    m->amortise = o->amortise;
    m->force_profile = o->force_profile;
    if (profile_load_dir(o->hosts_dir ? o->hosts_dir : "hosts", &m->profs, &m->n_profs, err)) return -1;
    for (int i = 0; i < n; i++)
        if (add_results(m, inputs[i], err)) return -1;
    if (rp_add_endpoint_twins(m)) return gc_errf(err, "out of memory");
    for (int i = 0; i < m->n_profs; i++)
        if (rp_host_index(m, m->profs[i].id, &m->profs[i], false, err) < 0) return -1;
    if (index_jobs(m)) return gc_errf(err, "out of memory");
    for (int h = 0; h < m->n_hosts; h++) {
        const gc_profile *p = m->hosts[h].prof;
        if (!p || (m->hosts[h].measured && p->kind == GC_COST_API && !m->hosts[h].endpoint)) continue;
        int rc = p->kind == GC_COST_API ? add_api_rows(m, h) : project_host(m, h);
        if (rc) return gc_errf(err, "out of memory");
    }
    if (index_jobs(m)) return gc_errf(err, "out of memory");
    estimate_energy(m);
    cost_jobs(m);
    return pick_baseline(m, o->baseline, err);
}

void rp_model_free(rp_model *m) {
    free(m->profs);
    free(m->rows);
    free(m->jobs);
    memset(m, 0, sizeof *m);
}
