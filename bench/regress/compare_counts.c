/* Work-count verdicts for `gencost compare --counts` (the rules are in compare.h). Instructions
 * retired per repetition hardly move with machine load, so on a shared CI runner they can gate
 * where wall time cannot; the modelled work per rep (work, bytes, flops) must not move at all. */
#include <math.h>
#include <stdio.h>
#include "bench/regress/compare.h"
#include "bench/perfcount.h"

/* Model counts are computed from the case's sizes and written with 17 significant digits, so
 * they read back exactly; the tolerance only absorbs a last-bit difference. */
#define MODEL_REL_TOL 1e-12

static const char *const state_names[] = {"off", "compared", "unavailable", "work-changed"};

const char *compare_counts_state_name(gc_counts_state s) {
    return (unsigned)s <= GC_COUNTS_WORK_CHANGED ? state_names[s] : "?";
}

static bool recorded(double v) {
    return isfinite(v) && v > 0;
}

/* A modelled count recorded on both sides that differs: fills why and returns true. */
static bool model_changed(const char *name, double b, double n, char *why, size_t len) {
    if (!recorded(b) || !recorded(n) || fabs(n - b) <= MODEL_REL_TOL * fmax(b, n))
        return false;
    snprintf(why, len, "work changed: %s %.6g -> %.6g (x%.4f); the runs did not do the same work",
             name, b, n, n / b);
    return true;
}

void compare_counts(const gc_work_counts *base, const gc_work_counts *nw,
                    const gc_compare_opts *opt, gc_case_cmp *c) {
    c->ins_ratio = NAN;
    if (!opt->counts)
        return;
    c->cnt_base = *base;
    c->cnt_new = *nw;
    c->time_verdict = c->verdict;
    snprintf(c->time_why, sizeof c->time_why, "%s", c->why);
    if (c->verdict == GC_UNUSABLE || c->verdict == GC_BROKEN)
        return;   /* a side did not pass: that is the verdict, whatever the counts say */
    if (model_changed("work_per_rep", base->work, nw->work, c->why, sizeof c->why) ||
        model_changed("bytes_per_rep", base->bytes, nw->bytes, c->why, sizeof c->why) ||
        model_changed("flops_per_rep", base->flops, nw->flops, c->why, sizeof c->why)) {
        c->counts = GC_COUNTS_WORK_CHANGED;
        c->verdict = GC_WORK_CHANGED;
        return;
    }
    if (!recorded(base->instructions) || !recorded(nw->instructions)) {
        c->counts = GC_COUNTS_UNAVAILABLE;
        const char *side = !recorded(base->instructions) && !recorded(nw->instructions)
                               ? "BASE and NEW have"
                               : !recorded(base->instructions) ? "BASE has" : "NEW has";
        snprintf(c->why, sizeof c->why, "counts unavailable (%s no %s); time: %.89s", side,
                 GC_METRIC_INSTRUCTIONS, c->time_why);
        return;
    }
    c->counts = GC_COUNTS_COMPARED;
    c->ins_ratio = nw->instructions / base->instructions;
    double change = c->ins_ratio - 1, thr = opt->count_threshold;
    /* more instructions for the same work is the regression: the reverse of throughput */
    c->verdict = change > thr ? GC_SLOWER : change < -thr ? GC_FASTER : GC_SAME;
    snprintf(c->why, sizeof c->why, "%s %+.2f%% (ratio %.4f) %s %.1f%%", GC_METRIC_INSTRUCTIONS,
             100 * change, c->ins_ratio, fabs(change) > thr ? "beyond" : "within", 100 * thr);
}
