/* Cost model (formulas in cost.h). All money in US dollars, energy in joules. */
#include "reports/cost.h"

#include <math.h>
#include <string.h>

#define J_PER_KWH 3.6e6
#define DAYS_PER_YEAR 365.0
#define DAYS_PER_MONTH (365.0 / 12.0)

double cost_owned_monthly_fixed(const gc_profile *p) {
    return p->purchase_usd / (p->lifetime_years * 12.0);
}

double cost_usd_per_hour(const gc_profile *p, double watts) {
    switch (p->kind) {
    case GC_COST_OWNED: {
        double hours = p->lifetime_years * DAYS_PER_YEAR * p->hours_per_day;
        double w = watts > 0 ? watts : p->active_watts;
        return p->purchase_usd / hours + w / 1000.0 * p->usd_per_kwh;
    }
    case GC_COST_SUBSCRIPTION:
        return p->monthly_usd / p->units_per_month * p->units_per_hour;
    case GC_COST_HOURLY:
        return p->usd_per_hour;
    case GC_COST_API:
        return 0;
    }
    return 0;
}

double cost_api_seconds(const gc_profile *p, const gc_job_shape *shape) {
    if (p->out_tokens_per_s <= 0) return 0;
    return p->first_token_s + shape->new_tokens / p->out_tokens_per_s;
}

static double api_usd(const gc_profile *p, const gc_job_shape *s) {
    return s->prompt_tokens * p->usd_per_m_input / 1e6 + s->new_tokens * p->usd_per_m_output / 1e6 +
           s->images * p->usd_per_image;
}

int cost_job(const gc_profile *p, const gc_job_shape *shape, double seconds, double joules,
             gc_job_cost *out, gc_err *err) {
    memset(out, 0, sizeof *out);
    if (p->kind == GC_COST_API && seconds <= 0) seconds = cost_api_seconds(p, shape);
    if (!(seconds > 0) || !isfinite(seconds))
        return gc_errf(err, "%s: no time per generation to cost", p->id);
    out->seconds = seconds;
    out->per_hour = 3600.0 / seconds;
    if (joules < 0 && p->active_watts > 0) joules = p->active_watts * seconds;
    out->joules = joules;
    out->gco2 = joules >= 0 && p->gco2_per_kwh > 0 ? joules / J_PER_KWH * p->gco2_per_kwh : -1;
    if (p->kind == GC_COST_API) {
        if (shape->prompt_tokens + shape->new_tokens + shape->images <= 0)
            return gc_errf(err, "%s: an api is priced per token or image; the job has none", p->id);
        out->usd = api_usd(p, shape);
        out->usd_per_hour = out->usd * out->per_hour;
    } else {
        double watts = joules >= 0 ? joules / seconds : 0;
        out->usd_per_hour = cost_usd_per_hour(p, watts);
        out->usd = out->usd_per_hour / out->per_hour;
    }
    out->usd_per_1000 = out->usd * 1000.0;
    return 0;
}

double cost_break_even_monthly(const gc_profile *owned, const gc_job_cost *owned_job,
                               double other_usd, double *capacity) {
    double hours_per_month = owned->hours_per_day * DAYS_PER_MONTH;
    *capacity = hours_per_month * owned_job->per_hour;
    double j = owned_job->joules >= 0 ? owned_job->joules : owned->active_watts * owned_job->seconds;
    double electricity = j / J_PER_KWH * owned->usd_per_kwh;
    double margin = other_usd - electricity;
    if (margin <= 0) return -1;
    return cost_owned_monthly_fixed(owned) / margin;
}
