/* The "projection vs measurement" table: a host that was measured and has a profile is also
 * projected from that profile, case by case, so every real run checks the projection method
 * (reports/projection.h) on the hardware it ran on. Cells go through the renderers' escaping
 * like every other table's. */
#include "reports/report_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/projection.h"
#include "reports/volume.h"

enum { NCOL = 7 };

static int append_row(rp_table *t, const char *const cells[NCOL]) {
    if (t->nrow == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, (size_t)cap * NCOL * sizeof *c);
        if (!c) return -1;
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < NCOL; i++)
        if (!(t->cells[t->nrow * NCOL + i] = strdup(cells[i]))) {
            while (i--) free(t->cells[t->nrow * NCOL + i]);
            return -1;
        }
    t->nrow++;
    return 0;
}


static int add_measured_row(const rp_model *m, const rp_row *r, rp_table *t) {
    rp_proj pr;
    if (rp_project_measured(m, r, &pr)) return 0;
    char key[GC_CASE_KEY_LEN], job[GC_CASE_KEY_LEN + 24], host[128], est[32], bound[32], meas[32],
        ratio[48];
    gc_job_key(&r->id, key, sizeof key);
    snprintf(job, sizeof job, "%s (%s)", key, r->unit);
    rp_host_tag(m, r->host, host, sizeof host);
    double projected = r->work_per_rep / pr.seconds;
    volume_fmt_sig(est, sizeof est, projected, 3);   /* 3 digits for the estimate, 2 for the bound */
    volume_fmt_sig(bound, sizeof bound, r->work_per_rep / pr.bound_s, 2);
    volume_fmt_sig(meas, sizeof meas, r->tput, 3);
    char q[32];
    volume_fmt_sig(q, sizeof q, r->tput / projected, 2);
    snprintf(ratio, sizeof ratio, "%s×", q);
    const char *cells[NCOL] = {job, host, est, bound, meas, ratio, pr.basis};
    return append_row(t, cells);
}

int rp_table_projection(const rp_model *m, rp_table **ts, int *n) {
    rp_table *t = realloc(*ts, (size_t)(*n + 1) * sizeof *t);
    if (!t) return -1;
    *ts = t;
    t = &t[(*n)++];
    memset(t, 0, sizeof *t);
    static const char *const head[NCOL] = {"job", "host", "projected /s", "roofline bound /s", "measured /s",
                                           "measured ÷ projected", "projection and its calibration"};
    snprintf(t->title, sizeof t->title, "Projection vs measurement");
    snprintf(t->intro, sizeof t->intro,
             "Each measured host that has a profile, projected from that profile as a host without "
             "results would be (bytes ÷ (bandwidth × efficiency) + a fixed time per forward pass, "
             "FLOPs ÷ (peak × efficiency), with the profile's calibration), beside what it measured: "
             "a ratio near 1× says the projections of the other hosts can be trusted that far. "
             "Only cases run on the device the profile projects (its CPU or its GPU).");
    t->ncol = NCOL;
    for (int i = 0; i < NCOL; i++) t->head[i] = head[i];
    for (int i = 0; i < m->n_rows; i++) {
        const rp_row *r = &m->rows[i];
        if (r->how == RP_MEASURED && r->best && add_measured_row(m, r, t)) return -1;
    }
    if (!t->nrow) {   /* no measured host with a profile: no table */
        free(t->cells);
        (*n)--;
    }
    return 0;
}
