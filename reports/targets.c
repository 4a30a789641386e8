/* What a job can be bought on: the targets priced for it (hosts with a cost, and an api standing
 * in for its model), which jobs the cost and volume views cover, and where two targets' monthly
 * costs cross. Shared by the tables, the summary and the cost-vs-volume chart, so the three
 * always name the same targets. */
#include "reports/report_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/volume.h"

bool rp_job_in_cost_tables(const rp_model *m, const rp_job *job) {
    return job->costed || !m->any_costed;
}

/* An api's own job (quant "-") when a run of the same model, parameters and phase stands beside it:
 * its price is shown with that job (rp_other_cost), not again on its own. */
bool rp_api_job_shown_elsewhere(const rp_model *m, const rp_job *job) {
    for (int h = 0; h < m->n_hosts; h++)
        if (job->best[h] >= 0 && (!m->hosts[h].prof || m->hosts[h].prof->kind != GC_COST_API)) return false;
    bool image = !strcmp(job->id.workload, "image");   /* an image api stands beside every image job */
    for (int j = 0; j < m->n_jobs; j++) {
        const gc_case_id *a = &m->jobs[j].id, *id = &job->id;
        if (image && &m->jobs[j] != job && strcmp(a->quant, "-") && !strcmp(a->workload, "image") &&
            !strcmp(a->phase, id->phase))
            return true;
        if (&m->jobs[j] != job && strcmp(a->quant, "-") && !strcmp(a->workload, id->workload) &&
            !strcmp(a->preset, id->preset) && !strcmp(a->params, id->params) && !strcmp(a->phase, id->phase))
            return true;
    }
    return false;
}

bool rp_job_in_volume_tables(const rp_model *m, const rp_job *job) {
    return job->costed && !rp_api_job_shown_elsewhere(m, job);   /* jobs a month: generations, images, steps */
}

/* The job whose row prices host h for job: job itself when h ran it, else, for an api, the job of
 * its own rows standing in for job's model (or, for an image api, for every image generation). */
static const rp_job *priced_by(const rp_model *m, const rp_job *job, int h) {
    if (job->has_cost[h]) return job;
    const gc_profile *p = m->hosts[h].prof;
    if (!p || p->kind != GC_COST_API) return NULL;
    const gc_case_id *id = &job->id;
    if (!strcmp(id->workload, "image") && !strcmp(id->phase, "generation")) {
        /* an image api stands in for every image generation: the price of an image instead */
        for (int j = 0; j < m->n_jobs; j++) {
            const gc_case_id *a = &m->jobs[j].id;
            if (!strcmp(a->workload, "image") && !strcmp(a->quant, "-") && m->jobs[j].has_cost[h])
                return &m->jobs[j];
        }
        return NULL;
    }
    if (strcmp(id->workload, "llm") || strcmp(id->preset, p->model) || strcmp(id->phase, "generation")) return NULL;
    for (int j = 0; j < m->n_jobs; j++) {
        const gc_case_id *a = &m->jobs[j].id;
        if (!strcmp(a->workload, "llm") && !strcmp(a->preset, p->model) && !strcmp(a->quant, "-") &&
            !strcmp(a->phase, "generation") && !strcmp(a->params, id->params) && m->jobs[j].has_cost[h])
            return &m->jobs[j];
    }
    return NULL;
}

const gc_job_cost *rp_other_cost(const rp_model *m, const rp_job *job, int h) {
    const rp_job *by = priced_by(m, job, h);
    return by ? &by->cost[h] : NULL;
}

const rp_row *rp_target_row(const rp_model *m, const rp_job *job, int h) {
    if (job->best[h] >= 0) return &m->rows[job->best[h]];
    const rp_job *by = priced_by(m, job, h);
    return by && by->best[h] >= 0 ? &m->rows[by->best[h]] : NULL;
}

int rp_job_targets(const rp_model *m, const rp_job *job, int *hosts, const gc_job_cost **costs) {
    int n = 0;
    for (int h = 0; h < m->n_hosts; h++) {
        const gc_job_cost *c = rp_other_cost(m, job, h);
        if (!c || !m->hosts[h].prof) continue;
        hosts[n] = h;
        costs[n++] = c;
    }
    return n;
}

/* A machine measured in these results is one the person has: its marginal cost is electricity.
 * One known only from its profile would have to be bought: its purchase is amortised. */
bool rp_amortised(const rp_model *m, int h) {
    return m->amortise || !m->hosts[h].measured;
}

const char *rp_figure_of(const rp_model *m, const rp_job *job, int h) {
    const rp_row *r = rp_target_row(m, job, h);
    return rp_how_name(r ? r->how : RP_PROFILE);
}

static int cmp_crossing(const void *a, const void *b) {
    const rp_crossing *x = a, *y = b;
    if (x->volume != y->volume) return x->volume < y->volume ? -1 : 1;
    return x->below != y->below ? x->below - y->below : x->above - y->above;
}

/* 0 and *out filled when hosts a and b cross within the searched volumes. */
static int find_crossing(const rp_model *m, int a, const gc_job_cost *ja, int b, const gc_job_cost *jb,
                         rp_crossing *out) {
    const gc_profile *pa = m->hosts[a].prof, *pb = m->hosts[b].prof;
    double x = cost_volume_crossing(pa, ja, pb, jb, rp_amortised(m, a), rp_amortised(m, b), RP_BE_LO, RP_BE_HI);
    if (x < 0) return -1;
    gc_volume_cost ca, cb;
    gc_err err;
    /* just below the crossing tells which was cheaper there */
    double below = fmax(RP_BE_LO, x * (1 - 1e-6));
    if (cost_at_volume(pa, ja, below, rp_amortised(m, a), &ca, &err) ||
        cost_at_volume(pb, jb, below, rp_amortised(m, b), &cb, &err))
        return -1;
    bool a_first = ca.monthly_usd < cb.monthly_usd;
    if (cost_at_volume(pa, ja, x, rp_amortised(m, a), &ca, &err)) return -1;
    *out = (rp_crossing){x, ca.monthly_usd, a_first ? a : b, a_first ? b : a};
    return 0;
}

int rp_job_crossings(const rp_model *m, const rp_job *job, rp_crossing *out) {
    int hosts[RP_MAX_HOSTS], nc = 0;
    const gc_job_cost *costs[RP_MAX_HOSTS];
    int k = rp_job_targets(m, job, hosts, costs);
    for (int a = 0; a < k; a++)
        for (int b = a + 1; b < k; b++)
            if (find_crossing(m, hosts[a], costs[a], hosts[b], costs[b], &out[nc]) == 0) nc++;
    qsort(out, (size_t)nc, sizeof out[0], cmp_crossing);
    return nc;
}
