/* Cost at the user's volume (model in volume.h). Every kind is a function of N (jobs a month)
 * that is linear or a staircase in pieces: a fixed fee, a per-job slope, steps where a new
 * session starts or a billing increment is crossed, and a cap. */
#include "reports/volume.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define J_PER_KWH 3.6e6
#define NUM 32
#define DAYS_PER_MONTH (365.0 / 12.0)

/* Whole and grouped: 1234567 → "1,234,567". */
static void grouped(char *b, size_t n, double x) {
    char d[48];
    snprintf(d, sizeof d, "%.0f", round(fabs(x)));   /* half away from zero, not to even */
    size_t len = strlen(d), o = 0;
    if (x < 0 && round(x) != 0 && o + 1 < n) b[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) b[o++] = ',';
        b[o++] = d[i];
    }
    b[o] = 0;
}

void volume_fmt_num(char *b, size_t n, double x) {
    if (!isfinite(x)) {
        snprintf(b, n, "—");
        return;
    }
    double ax = fabs(x);
    if (ax >= 99.95 || ax == 0) {
        grouped(b, n, x);
        return;
    }
    int decimals = 2 - (int)floor(log10(ax));
    snprintf(b, n, "%.*f", decimals, x);
    /* trailing zeros say nothing: 0.0120 → 0.012 */
    if (strchr(b, '.')) {
        size_t len = strlen(b);
        while (len && b[len - 1] == '0') b[--len] = 0;
        if (len && b[len - 1] == '.') b[--len] = 0;
    }
}

void volume_fmt_sig(char *b, size_t n, double x, int digits) {
    if (x > 0 && isfinite(x)) {
        double scale = pow(10, floor(log10(x)) - (digits - 1));
        x = round(x / scale) * scale;
    }
    volume_fmt_num(b, n, x);
}

void volume_fmt_usd(char *b, size_t n, double x) {
    if (!isfinite(x)) {
        snprintf(b, n, "—");
        return;
    }
    int k = snprintf(b, n, "%s$", x < 0 ? "-" : "");
    if (k < 0 || (size_t)k >= n) return;
    if (fabs(x) >= 1 && fabs(x) < 99.995) snprintf(b + k, n - (size_t)k, "%.2f", fabs(x));
    else volume_fmt_num(b + k, n - (size_t)k, fabs(x));
}

/* Connected or billed time in the unit a person reads: "42 s", "12.5 min", "7.43 h". */
static void duration(char *b, size_t n, double s) {
    char v[NUM - 8];   /* room for the unit in a NUM-sized answer */
    volume_fmt_num(v, sizeof v, s < 120 ? s : s < 7200 ? s / 60 : s / 3600);
    snprintf(b, n, "%s %s", v, s < 120 ? "s" : s < 7200 ? "min" : "h");
}

/* Sessions a month: one per jobs_per_session jobs, or one for the whole month when the profile
 * does not say; none when there is no work. */
static double sessions_for(const gc_profile *p, double n) {
    if (n <= 0) return 0;
    return p->jobs_per_session > 0 ? ceil(n / p->jobs_per_session - 1e-9) : 1;
}

/* x rounded up to a whole number of inc. The tolerance keeps 3600.0000000001 s (sums of
 * floating-point seconds) from being billed as a second hour. */
static double round_up(double x, double inc) {
    if (x <= 0) return 0;
    return ceil(x / inc - 1e-9) * inc;
}

/* Electricity of one job in dollars; 0 when neither a meter nor a power figure gave joules. */
static double electricity_usd(const gc_profile *p, const gc_job_cost *job) {
    double j = job->joules >= 0 ? job->joules : p->active_watts > 0 ? p->active_watts * job->seconds : 0;
    return j / J_PER_KWH * p->usd_per_kwh;
}

static int owned(const gc_profile *p, const gc_job_cost *job, double n, bool amortise, gc_volume_cost *out,
                 gc_err *err) {
    if (!(p->hours_per_day > 0) || p->hours_per_day > 24)
        return gc_errf(err, "%s: hours_per_day must be from 0 to 24 to know the machine's capacity", p->id);
    bool amort = amortise || p->amortise;
    if (amort && !(p->lifetime_years > 0))
        return gc_errf(err, "%s: lifetime_years must be above 0 to amortise the purchase", p->id);
    out->max_jobs = floor(p->hours_per_day * DAYS_PER_MONTH * 3600.0 / job->seconds + 1e-9);
    double elec = electricity_usd(p, job);
    double fixed = amort ? cost_owned_monthly_fixed(p) : 0;
    out->monthly_usd = n * elec + fixed;
    const char *power = job->joules >= 0 || p->active_watts > 0 ? "" : "; no power figure: electricity unknown";
    if (amort)
        snprintf(out->how, sizeof out->how, "owned, amortised: purchase ÷ %g y + electricity%s", p->lifetime_years, power);
    else
        snprintf(out->how, sizeof out->how, "owned: electricity only (--amortise adds the purchase)%s", power);
    return 0;
}

/* Most jobs a month within the included units (no pay-as-you-go price): whole jobs whose busy time
 * plus session set-ups fit the connected seconds the units buy. */
static double subscription_max_jobs(const gc_profile *p, double seconds) {
    double budget = p->units_per_month / p->units_per_hour * 3600.0;
    double setup = p->session_setup_s;
    if (p->jobs_per_session > 0) {
        double full = p->jobs_per_session * seconds + setup;   /* one whole session */
        double k = floor(budget / full + 1e-9);
        double left = budget - k * full;
        double more = left > setup ? floor((left - setup) / seconds + 1e-9) : 0;
        if (more > p->jobs_per_session - 1) more = p->jobs_per_session - 1;
        return k * p->jobs_per_session + more;
    }
    return budget > setup ? floor((budget - setup) / seconds + 1e-9) : 0;
}

static int subscription(const gc_profile *p, const gc_job_cost *job, double n, gc_volume_cost *out, gc_err *err) {
    if (!(p->units_per_hour > 0) || p->units_per_month < 0 || p->monthly_usd < 0)
        return gc_errf(err, "%s: a subscription needs units_per_hour above 0 and no negative fee or units", p->id);
    double sessions = sessions_for(p, n);
    double connected_h = (n * job->seconds + sessions * p->session_setup_s) / 3600.0;
    double units = connected_h * p->units_per_hour;
    double over = units - p->units_per_month;
    bool cap = !(p->extra_usd_per_unit > 0);
    out->max_jobs = cap ? subscription_max_jobs(p, job->seconds) : -1;
    out->monthly_usd = p->monthly_usd;
    char u[NUM], inc[NUM], t[NUM], ses[NUM], mx[NUM], x[NUM], price[NUM];
    volume_fmt_num(u, sizeof u, units);
    volume_fmt_num(inc, sizeof inc, p->units_per_month);
    duration(t, sizeof t, connected_h * 3600);
    grouped(ses, sizeof ses, sessions);
    if (over <= 1e-9 * fmax(1.0, p->units_per_month)) {
        snprintf(out->how, sizeof out->how, "fee covers %s of %s units (%s connected, %s session%s)", u, inc, t, ses,
                 sessions == 1 ? "" : "s");
    } else if (cap) {
        out->possible = false;
        grouped(mx, sizeof mx, out->max_jobs);
        snprintf(out->how, sizeof out->how, "needs %s units, over the %s included (max %s jobs a month)", u, inc, mx);
    } else {
        out->monthly_usd += over * p->extra_usd_per_unit;
        volume_fmt_num(x, sizeof x, over);
        volume_fmt_usd(price, sizeof price, p->extra_usd_per_unit);
        snprintf(out->how, sizeof out->how, "fee + %s extra units at %s (%s connected, %s session%s)", x, price, t, ses,
                 sessions == 1 ? "" : "s");
    }
    return 0;
}

/* Each session is billed for its work plus its set-up, rounded up to the billing increment:
 * all sessions but the last hold jobs_per_session jobs, the last the rest. */
static int hourly(const gc_profile *p, const gc_job_cost *job, double n, gc_volume_cost *out, gc_err *err) {
    if (p->usd_per_hour < 0 || p->billing_increment_s < 0)
        return gc_errf(err, "%s: usd_per_hour and billing_increment_s cannot be negative", p->id);
    double inc = p->billing_increment_s > 0 ? p->billing_increment_s : 1;
    double sessions = sessions_for(p, n), billed = 0;
    if (sessions > 0) {
        double per = p->jobs_per_session > 0 ? p->jobs_per_session : n;
        double last = n - (sessions - 1) * per;
        billed = (sessions - 1) * round_up(per * job->seconds + p->session_setup_s, inc) +
                 round_up(last * job->seconds + p->session_setup_s, inc);
    }
    out->max_jobs = -1;
    out->monthly_usd = billed / 3600.0 * p->usd_per_hour;
    char b[NUM], ses[NUM], i[NUM], su[NUM + 16] = "";
    duration(b, sizeof b, billed);
    grouped(ses, sizeof ses, sessions);
    duration(i, sizeof i, inc);
    if (p->session_setup_s > 0) {
        char d[NUM];
        duration(d, sizeof d, p->session_setup_s);
        snprintf(su, sizeof su, ", %s set-up each", d);
    }
    snprintf(out->how, sizeof out->how, "%s billed in %s session%s (%s increments%s)", b, ses,
             sessions == 1 ? "" : "s", i, su);
    return 0;
}

int cost_at_volume(const gc_profile *p, const gc_job_cost *job, double jobs_per_month, bool amortise,
                   gc_volume_cost *out, gc_err *err) {
    memset(out, 0, sizeof *out);
    if (!p || !job) return gc_errf(err, "cost at volume: no profile or no job figures");
    if (!(jobs_per_month >= 0) || !isfinite(jobs_per_month))
        return gc_errf(err, "%s: %g jobs a month is not a volume (0 or more)", p->id, jobs_per_month);
    if (p->kind != GC_COST_API && (!(job->seconds > 0) || !isfinite(job->seconds)))
        return gc_errf(err, "%s: no time per job to cost a volume with", p->id);
    out->jobs = jobs_per_month;
    out->possible = true;
    int rc = 0;
    switch (p->kind) {
    case GC_COST_OWNED: rc = owned(p, job, jobs_per_month, amortise, out, err); break;
    case GC_COST_SUBSCRIPTION: rc = subscription(p, job, jobs_per_month, out, err); break;
    case GC_COST_HOURLY: rc = hourly(p, job, jobs_per_month, out, err); break;
    case GC_COST_API:
        if (!(job->usd >= 0) || !isfinite(job->usd)) return gc_errf(err, "%s: no price per job", p->id);
        out->max_jobs = -1;
        out->monthly_usd = jobs_per_month * job->usd;
        snprintf(out->how, sizeof out->how, "api: the price of one job × jobs");
        break;
    }
    if (rc) return rc;
    /* owned: more work than its hours of use allow (subscription caps are judged on units above) */
    if (p->kind == GC_COST_OWNED && jobs_per_month > out->max_jobs) {
        out->possible = false;
        char mx[NUM];
        grouped(mx, sizeof mx, out->max_jobs);
        snprintf(out->how, sizeof out->how, "over its %g h a day (max %s jobs a month)", p->hours_per_day, mx);
    }
    out->usd_per_job = jobs_per_month > 0 ? out->monthly_usd / jobs_per_month : out->monthly_usd > 0 ? INFINITY : 0;
    return 0;
}

/* -1, 0 or 1: whether a is cheaper (-1), as dear (0) or dearer (1) than b at n; 2 when either
 * cannot do n (nothing to compare). Equal within a part in 10^9. */
static int order_at(const gc_profile *a, const gc_job_cost *ja, const gc_profile *b, const gc_job_cost *jb,
                    const bool amortise[2], double n) {
    gc_volume_cost ca, cb;
    gc_err err;
    if (cost_at_volume(a, ja, n, amortise[0], &ca, &err) || cost_at_volume(b, jb, n, amortise[1], &cb, &err)) return 2;
    if (!ca.possible || !cb.possible) return 2;
    double d = ca.monthly_usd - cb.monthly_usd, tol = 1e-9 * fmax(fabs(ca.monthly_usd), fabs(cb.monthly_usd));
    return d > tol ? 1 : d < -tol ? -1 : 0;
}

/* Scan log-spaced volumes (the pieces' steps are where sessions start or increments are crossed,
 * so 48 points a decade find any change of order that lasts longer than that), then bisect the
 * first interval where the cheaper target changes. Returns the smallest volume (to 1e-7
 * relative) at which the order differs from the one below it. */
#define SCAN_PER_DECADE 48
double cost_volume_crossing(const gc_profile *a, const gc_job_cost *ja, const gc_profile *b,
                            const gc_job_cost *jb, bool amortise_a, bool amortise_b, double lo, double hi) {
    const bool amortise[2] = {amortise_a, amortise_b};
    if (!a || !b || !ja || !jb || !isfinite(lo) || !isfinite(hi)) return -1;
    if (lo < 1) lo = 1;
    if (!(hi > lo)) return -1;
    int steps = (int)ceil(log10(hi / lo) * SCAN_PER_DECADE);
    if (steps < 1) steps = 1;
    double prev_n = lo;
    int prev = order_at(a, ja, b, jb, amortise, lo);
    for (int i = 1; i <= steps; i++) {
        double n = i == steps ? hi : lo * pow(hi / lo, (double)i / steps);
        int o = order_at(a, ja, b, jb, amortise, n);
        if (o == 2) return -1;   /* past a cap: no comparison beyond */
        if (prev == 0 || prev == 2) {   /* equal or not comparable so far: start from here */
            prev = o;
            prev_n = n;
            continue;
        }
        if (o != 0 && o != prev) {
            double x = prev_n, y = n;   /* order prev at x, o at y */
            while (y - x > 1e-7 * y) {
                double mid = 0.5 * (x + y);
                int om = order_at(a, ja, b, jb, amortise, mid);
                if (om == prev) x = mid;
                else y = mid;
            }
            return y;
        }
        if (o != 0) prev_n = n;
    }
    return -1;
}
