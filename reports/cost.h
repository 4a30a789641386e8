/* Cost model: dollars per hour of a target while it works, and from it the cost, energy and CO2
 * of one generation, and the break-even volume between owning and renting (DESIGN.md).
 *
 *   owned:        purchase ÷ (lifetime_years × 365 × hours_per_day) + watts × $/kWh ÷ 1000
 *   subscription: monthly fee ÷ units per month × units per hour of the accelerator
 *   hourly:       the list price per hour (on-demand or spot)
 *   api:          tokens × price per token (or per image); $/hour = that × generations per hour
 */
#ifndef GC_COST_H
#define GC_COST_H
#include "bench/host/profile.h"

/* Dollars per hour while working. watts: power drawn while working (measured or estimated);
 * <= 0 uses the profile's active_watts. Meaningless for api (returns 0): use cost_job. */
double cost_usd_per_hour(const gc_profile *p, double watts);

/* A generation's size, for the per-token prices of an api profile. */
typedef struct gc_job_shape {
    double prompt_tokens, new_tokens, images;
} gc_job_shape;

/* The figures of one job (a generation) on one target. */
typedef struct gc_job_cost {
    double seconds;          /* per generation */
    double per_hour;         /* generations per hour */
    double usd_per_hour;     /* while working */
    double usd;              /* per generation */
    double usd_per_1000;
    double joules;           /* per generation; < 0 when unknown */
    double gco2;             /* per generation; < 0 when unknown */
} gc_job_cost;

/* seconds: per generation (> 0). joules: per generation, < 0 when unknown (then, when the
 * profile has active_watts, active_watts × seconds is used; the caller labels it estimated).
 * For api profiles seconds may be <= 0: the profile's throughput gives it. */
int cost_job(const gc_profile *p, const gc_job_shape *shape, double seconds, double joules,
             gc_job_cost *out, gc_err *err);

/* Seconds per generation an api profile states: first_token_s + new_tokens ÷ output rate. */
double cost_api_seconds(const gc_profile *p, const gc_job_shape *shape);

/* Break-even monthly volume (generations) above which owning beats paying other_usd per
 * generation: owned fixed cost per month ÷ (other_usd − owned electricity per generation).
 * Returns < 0 when owning never wins (the other is cheaper per generation than electricity).
 * *capacity: generations per month the owned machine can do in its hours_per_day. */
double cost_break_even_monthly(const gc_profile *owned, const gc_job_cost *owned_job,
                               double other_usd, double *capacity);

/* Fixed cost of an owned machine per month: purchase ÷ (lifetime_years × 12). */
double cost_owned_monthly_fixed(const gc_profile *p);

#endif
