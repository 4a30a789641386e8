/* Internal to reports/ (not the public surface: that is reports/report.h and, for the writers,
 * reports/report_model.h): what the model's builder (report_model.c) and its endpoint part
 * (report_endpoint.c) share. Kept apart so the endpoint workload's rules read in one file and
 * the rest of the builder does not carry them. */
#ifndef GC_REPORT_INTERNAL_H
#define GC_REPORT_INTERNAL_H
#include <stdbool.h>
#include "bench/results.h"
#include "reports/report_model.h"

/* ---- report_model.c ---- */

/* A new row at the end of m->rows, zeroed, its energy unknown; NULL when out of memory. It may
 * move the rows: a pointer into them is stale after it, so callers keep indices. */
rp_row *rp_add_row(rp_model *m);
/* The index of the host labelled label, added (named by prof, or the label) when it is new;
 * measured marks it measured either way. -1 with err past RP_MAX_HOSTS. */
int rp_host_index(rp_model *m, const char *label, const gc_profile *prof, bool measured, gc_err *err);
/* A case's metric, 0 when the case does not record it. */
double rp_metric(const gc_metrics *mt, const char *name);

/* ---- report_endpoint.c: the endpoint workload (RP_ENDPOINT) ---- */

bool rp_is_endpoint(const gc_case_result *c);
int rp_endpoint_cases(const gc_results *res);   /* how many of the file's cases are endpoint runs */
/* The host an endpoint case's figures belong to (the API, tied to api, else one named by the
 * served model), its client machine recorded; -1 with err when no host is left. */
int rp_endpoint_host(rp_model *m, const gc_results *res, const gc_case_result *c, const gc_profile *api,
                     gc_err *err);
/* Fills a measured endpoint row's token counts, latencies and (unknown) energy from its case. */
void rp_endpoint_row(rp_row *r, const gc_case_result *c);
/* RESULTS=PROFILE with api profile p: 0 when the tie holds, else an error in err. */
int rp_check_api_tie(const char *path, const gc_results *res, const gc_profile *p, gc_err *err);
/* Whether api host h has a measured row standing for its model's llm generation of params. */
bool rp_has_endpoint_twin(const rp_model *m, int h, const char *params);
/* Each api's endpoint row that stands for it in an llm job of the same shape; -1 out of memory. */
int rp_add_endpoint_twins(rp_model *m);

#endif
