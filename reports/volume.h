/* Cost at the user's volume: what a month of N jobs costs on one target, per cost kind.
 *
 *   owned:        marginal — N × electricity of one job (the person already has the machine);
 *                 amortised (profile `amortise = yes` or `report --amortise`) — plus
 *                 purchase ÷ (lifetime_years × 12). Over the machine's monthly capacity
 *                 (hours_per_day × 30.4 days ÷ seconds per job): cannot.
 *   subscription: connected hours = N × seconds per job ÷ 3600 + sessions × session_setup_s ÷ 3600,
 *                 units = connected hours × units_per_hour; monthly = monthly_usd +
 *                 max(0, units − units_per_month) × extra_usd_per_unit; with no extra price the
 *                 included units are a cap and a volume above it cannot be done.
 *   hourly:       per session: (busy + session_setup_s) rounded up to billing_increment_s, × $/h.
 *   api:          N × the job's price from its real shape.
 * sessions = ceil(N ÷ jobs_per_session), or 1 when the profile gives no jobs_per_session.
 */
#ifndef GC_VOLUME_H
#define GC_VOLUME_H
#include <stdbool.h>
#include <stddef.h>
#include "bench/host/profile.h"
#include "reports/cost.h"

typedef struct gc_volume_cost {
    double jobs;               /* jobs per month asked for */
    bool possible;             /* false: over the cap or the machine's capacity (see why) */
    double monthly_usd;        /* total per month at this volume (when possible) */
    double usd_per_job;        /* monthly_usd ÷ jobs */
    double max_jobs;           /* most jobs a month the target can do; < 0 unlimited */
    char how[200];             /* what was charged: "electricity only (owned)", "fee + 12.3 extra units" */
} gc_volume_cost;

/* job: the target's per-job figures (cost_job). amortise: owned machines also pay their purchase
 * (ORed with the profile's own flag). Returns 0, or -1 with err filled on a volume < 0. */
int cost_at_volume(const gc_profile *p, const gc_job_cost *job, double jobs_per_month, bool amortise,
                   gc_volume_cost *out, gc_err *err);

/* Volume (jobs per month) at which a's and b's monthly costs cross, searched in [lo, hi], each
 * owned one amortised or not as its flag says; < 0 when they do not cross there. */
double cost_volume_crossing(const gc_profile *a, const gc_job_cost *ja, const gc_profile *b,
                            const gc_job_cost *jb, bool amortise_a, bool amortise_b, double lo, double hi);

/* Numbers for people, never in scientific notation: 3 significant digits below 100 ("12.3",
 * "0.0123", "0.0000358"), whole and grouped from 100 ("1,235", "12,345"). "—" when not finite. */
void volume_fmt_num(char *b, size_t n, double x);
/* Dollars the same way, with cents from $1 to $100: "$0.0358", "$9.99", "$1,235". */
void volume_fmt_usd(char *b, size_t n, double x);
/* x rounded to `digits` significant digits (positive x), then written as volume_fmt_num does:
 * "3,490", "0.582". */
void volume_fmt_sig(char *b, size_t n, double x, int digits);

#endif
