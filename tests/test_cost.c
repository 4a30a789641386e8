/* Tests for reports/cost and reports/volume: each cost kind, the cost of a month at a volume and
 * the break-even volumes, against hand-computed values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "reports/cost.h"
#include "reports/volume.h"

#define near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-9 * fmax(1.0, fabs((double)(b))) + 1e-12)

static gc_profile owned_m1(void) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "m1");
    p.kind = GC_COST_OWNED;
    p.purchase_usd = 999;
    p.lifetime_years = 4;
    p.hours_per_day = 8;
    p.usd_per_kwh = 0.16;
    p.gco2_per_kwh = 366;
    p.active_watts = 24;
    p.idle_watts = 7;
    return p;
}

static void owned_per_hour_and_job(void **s) {
    gc_profile p = owned_m1();
    /* 999 / (4 * 365 * 8 h) = 0.08553082191...; 24 W * $0.16/kWh = $0.00384/h */
    near(cost_usd_per_hour(&p, 0), 999.0 / 11680.0 + 0.00384);
    near(cost_usd_per_hour(&p, 15), 999.0 / 11680.0 + 0.0024);
    gc_job_shape shape = {512, 128, 0};
    gc_job_cost c;
    gc_err err;
    /* 10 s per generation, energy unknown: 24 W * 10 s = 240 J estimated */
    assert_int_equal(cost_job(&p, &shape, 10, -1, &c, &err), 0);
    near(c.per_hour, 360);
    near(c.joules, 240);
    near(c.usd, (999.0 / 11680.0 + 0.00384) / 360.0);
    near(c.usd_per_1000, 0.24825228310502283);
    near(c.gco2, 240 / 3.6e6 * 366);   /* 0.0244 g */
    /* measured 150 J over 10 s = 15 W drives the electricity part */
    assert_int_equal(cost_job(&p, &shape, 10, 150, &c, &err), 0);
    near(c.usd_per_hour, 999.0 / 11680.0 + 0.0024);
    near(c.gco2, 150 / 3.6e6 * 366);
}

static void subscription(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    p.kind = GC_COST_SUBSCRIPTION;
    p.monthly_usd = 9.99;
    p.units_per_month = 100;
    p.units_per_hour = 13.45;
    p.active_watts = 400;
    p.gco2_per_kwh = 481;
    near(cost_usd_per_hour(&p, 0), 1.343655);
    gc_job_shape shape = {0};
    gc_job_cost c;
    gc_err err;
    assert_int_equal(cost_job(&p, &shape, 2, -1, &c, &err), 0);
    near(c.usd, 1.343655 / 1800);
    near(c.joules, 800);
    near(c.gco2, 800 / 3.6e6 * 481);
}

static void hourly(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    p.kind = GC_COST_HOURLY;
    p.usd_per_hour = 3.43;
    gc_job_shape shape = {0};
    gc_job_cost c;
    gc_err err;
    assert_int_equal(cost_job(&p, &shape, 1, -1, &c, &err), 0);
    near(c.usd_per_hour, 3.43);
    near(c.usd_per_1000, 3.43 / 3.6);
    assert_true(c.joules < 0);   /* no watts in the profile: unknown, not zero */
    assert_true(c.gco2 < 0);
    assert_int_not_equal(cost_job(&p, &shape, 0, -1, &c, &err), 0);
}

static void api_per_token(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "api");
    p.kind = GC_COST_API;
    p.usd_per_m_input = 0.05;
    p.usd_per_m_output = 0.08;
    p.out_tokens_per_s = 750;
    p.first_token_s = 0.08;
    gc_job_shape shape = {512, 128, 0};
    gc_job_cost c;
    gc_err err;
    /* 512 * 0.05e-6 + 128 * 0.08e-6 = 3.584e-5 per generation; 0.08 + 128/750 s */
    assert_int_equal(cost_job(&p, &shape, 0, -1, &c, &err), 0);
    near(c.usd, 3.584e-5);
    near(c.usd_per_1000, 0.03584);
    near(c.seconds, 0.08 + 128.0 / 750.0);
    near(c.usd_per_hour, 3.584e-5 * 3600 / (0.08 + 128.0 / 750.0));
    p.usd_per_image = 0.03;
    gc_job_shape img = {0, 0, 1};
    assert_int_equal(cost_job(&p, &img, 5, -1, &c, &err), 0);
    near(c.usd, 0.03);
    gc_job_shape none = {0};
    assert_int_not_equal(cost_job(&p, &none, 5, -1, &c, &err), 0);
}

static void break_even(void **s) {
    gc_profile p = owned_m1();
    gc_job_shape shape = {0};
    gc_job_cost c;
    gc_err err;
    assert_int_equal(cost_job(&p, &shape, 10, 240, &c, &err), 0);
    near(cost_owned_monthly_fixed(&p), 999.0 / 48);
    double cap = 0;
    /* fixed 20.8125 $/month over (0.001 - 240 J * 0.16 $/kWh) per generation */
    double v = cost_break_even_monthly(&p, &c, 1e-3, &cap);
    near(v, (999.0 / 48) / (1e-3 - 240 / 3.6e6 * 0.16));
    near(cap, 8 * 365.0 / 12 * 360);
    /* renting cheaper than the electricity alone: owning never wins */
    assert_true(cost_break_even_monthly(&p, &c, 1e-5, &cap) < 0);
}

/* ---- cost at volume (reports/volume.h) ------------------------------------------------------ */

static gc_job_cost job_of(double seconds, double joules, double usd) {
    gc_job_cost c;
    memset(&c, 0, sizeof c);
    c.seconds = seconds;
    c.per_hour = 3600 / seconds;
    c.joules = joules;
    c.usd = usd;
    return c;
}

static gc_volume_cost at(const gc_profile *p, const gc_job_cost *j, double n, bool amortise) {
    gc_volume_cost v;
    gc_err err;
    assert_int_equal(cost_at_volume(p, j, n, amortise, &v, &err), 0);
    return v;
}

static void volume_owned_marginal_and_amortised(void **s) {
    gc_profile p = owned_m1();
    gc_job_cost j = job_of(10, 240, 0);
    /* marginal: 1000 × 240 J ÷ 3.6e6 J/kWh × $0.16 = $0.010666... */
    gc_volume_cost v = at(&p, &j, 1000, false);
    assert_true(v.possible);
    near(v.monthly_usd, 1000 * 240 / 3.6e6 * 0.16);
    near(v.usd_per_job, 240 / 3.6e6 * 0.16);
    assert_non_null(strstr(v.how, "electricity only"));
    /* amortised: + $999 ÷ 48 months = $20.8125 */
    v = at(&p, &j, 1000, true);
    near(v.monthly_usd, 20.8125 + 1000 * 240 / 3.6e6 * 0.16);
    assert_non_null(strstr(v.how, "amortised"));
    /* the profile's own flag amortises without --amortise */
    p.amortise = true;
    near(at(&p, &j, 1000, false).monthly_usd, 20.8125 + 1000 * 240 / 3.6e6 * 0.16);
    p.amortise = false;
    /* capacity: 8 h × 365/12 days × 3600 s ÷ 10 s = 87,600 jobs */
    v = at(&p, &j, 87600, false);
    assert_true(v.possible);
    near(v.max_jobs, 87600);
    v = at(&p, &j, 87601, false);
    assert_false(v.possible);
    assert_non_null(strstr(v.how, "max 87,600"));
    /* no meter: the profile's 24 W × 10 s */
    gc_job_cost nj = job_of(10, -1, 0);
    near(at(&p, &nj, 1000, false).monthly_usd, 1000 * 240 / 3.6e6 * 0.16);
}

static gc_profile colab(void) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "colab");
    p.kind = GC_COST_SUBSCRIPTION;
    p.monthly_usd = 9.99;
    p.units_per_month = 100;
    p.units_per_hour = 13.45;
    p.session_setup_s = 600;
    return p;
}

static void volume_subscription_cap(void **s) {
    gc_profile p = colab();
    gc_job_cost j = job_of(2, -1, 0);
    /* 1,000 jobs: (2,000 s + 600 s set-up) ÷ 3600 × 13.45 = 9.71 units of 100: the fee alone */
    gc_volume_cost v = at(&p, &j, 1000, false);
    assert_true(v.possible);
    near(v.monthly_usd, 9.99);
    near(v.usd_per_job * 1000, 9.99);
    /* 100 units buy 100 ÷ 13.45 × 3600 = 26,765.80 s; less 600 s set-up ÷ 2 s = 13,082 jobs */
    near(v.max_jobs, 13082);
    assert_true(at(&p, &j, 13082, false).possible);
    v = at(&p, &j, 13083, false);
    assert_false(v.possible);
    assert_non_null(strstr(v.how, "max 13,082"));
    /* sessions of 1,000 jobs each pay 600 s: 10 whole sessions take 26,000 s, the 765.80 s left
     * hold one more set-up and 82 jobs: 10,082 */
    p.jobs_per_session = 1000;
    v = at(&p, &j, 10082, false);
    assert_true(v.possible);
    near(v.max_jobs, 10082);
    assert_false(at(&p, &j, 10083, false).possible);
}

static void volume_subscription_pay_as_you_go(void **s) {
    gc_profile p = colab();
    p.extra_usd_per_unit = 0.1;
    gc_job_cost j = job_of(2, -1, 0);
    /* 20,000 jobs: 40,600 s connected = 151.68 units, 51.68 beyond the 100 at $0.10 */
    gc_volume_cost v = at(&p, &j, 20000, false);
    assert_true(v.possible);
    assert_true(v.max_jobs < 0);
    near(v.monthly_usd, 9.99 + (40600.0 / 3600 * 13.45 - 100) * 0.1);
    assert_non_null(strstr(v.how, "extra units"));
    /* within the included units the fee is all */
    near(at(&p, &j, 5000, false).monthly_usd, 9.99);
}

static void volume_hourly_sessions_and_increment(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "cloud");
    p.kind = GC_COST_HOURLY;
    p.usd_per_hour = 3.6;   /* $0.001 a second */
    p.session_setup_s = 30;
    p.jobs_per_session = 100;
    gc_job_cost j = job_of(1.5, -1, 0);
    /* 250 jobs = 3 sessions: 2 × (150 s + 30 s) + (50 × 1.5 + 30 = 105 s), per-second billing */
    near(at(&p, &j, 250, false).monthly_usd, 0.465);
    /* 60 s increments: 180 s stays, 105 s → 120 s */
    p.billing_increment_s = 60;
    near(at(&p, &j, 250, false).monthly_usd, 0.480);
    /* hourly increments: three started hours */
    p.billing_increment_s = 3600;
    near(at(&p, &j, 250, false).monthly_usd, 10.8);
    near(at(&p, &j, 0, false).monthly_usd, 0);
    /* 36,000 × 0.1 s in one session is one hour, not two (floating-point sum) */
    p.session_setup_s = 0;
    p.jobs_per_session = 0;
    gc_job_cost k = job_of(0.1, -1, 0);
    near(at(&p, &k, 36000, false).monthly_usd, 3.6);
    near(at(&p, &k, 36001, false).monthly_usd, 7.2);
}

static void volume_api(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "api");
    p.kind = GC_COST_API;
    gc_job_cost j = job_of(0.25, -1, 3.584e-5);
    gc_volume_cost v = at(&p, &j, 1000, false);
    near(v.monthly_usd, 0.03584);
    near(v.usd_per_job, 3.584e-5);
    assert_true(v.possible);
    assert_true(v.max_jobs < 0);
}

static void volume_bad_input(void **s) {
    gc_profile p = owned_m1();
    gc_job_cost j = job_of(10, 240, 0);
    gc_volume_cost v;
    gc_err err;
    assert_int_not_equal(cost_at_volume(&p, &j, -1, false, &v, &err), 0);
    assert_non_null(strstr(err.msg, "not a volume"));
    assert_int_not_equal(cost_at_volume(&p, &j, NAN, false, &v, &err), 0);
    assert_int_not_equal(cost_at_volume(&p, &j, INFINITY, false, &v, &err), 0);
    gc_job_cost none = job_of(10, 240, 0);
    none.seconds = 0;
    assert_int_not_equal(cost_at_volume(&p, &none, 10, false, &v, &err), 0);
    p.hours_per_day = 0;
    assert_int_not_equal(cost_at_volume(&p, &j, 10, false, &v, &err), 0);
    gc_profile c = colab();
    c.units_per_hour = 0;   /* would divide by zero */
    assert_int_not_equal(cost_at_volume(&c, &j, 10, false, &v, &err), 0);
    assert_int_not_equal(cost_at_volume(NULL, &j, 10, false, &v, &err), 0);
}

static void volume_crossing(void **s) {
    gc_profile m1 = owned_m1(), api, c = colab();
    memset(&api, 0, sizeof api);
    strcpy(api.id, "api");
    api.kind = GC_COST_API;
    gc_job_cost jm = job_of(1, 24, 0), ja = job_of(0.25, -1, 3.584e-5), jc = job_of(0.01, -1, 0);
    /* amortised M1 ($20.8125 a month + 24 J × $0.16/kWh a job) meets the api ($3.584e-5 a job) at
     * 20.8125 ÷ (3.584e-5 − 1.0667e-6) = 598,532 jobs, within its 876,000 capacity */
    double x = cost_volume_crossing(&m1, &jm, &api, &ja, true, true, 1, 1e7);
    double want = 20.8125 / (3.584e-5 - 24 / 3.6e6 * 0.16);
    assert_true(fabs(x - want) <= 1e-6 * want);
    /* marginal M1 is cheaper than the api at every volume: no crossing */
    assert_true(cost_volume_crossing(&m1, &jm, &api, &ja, false, false, 1, 1e7) < 0);
    /* Colab's flat $9.99 vs the api: 9.99 ÷ 3.584e-5 = 278,739 jobs (cap 2.6 million) */
    x = cost_volume_crossing(&c, &jc, &api, &ja, false, false, 1, 1e7);
    assert_true(fabs(x - 9.99 / 3.584e-5) <= 1e-6 * (9.99 / 3.584e-5));
    /* the same order both ways */
    double y = cost_volume_crossing(&api, &ja, &c, &jc, false, false, 1, 1e7);
    assert_true(fabs(x - y) <= 1e-6 * x);
    /* beyond the 87,600-job capacity there is nothing to compare: 10 s jobs never reach it */
    gc_job_cost slow = job_of(10, 240, 0);
    assert_true(cost_volume_crossing(&m1, &slow, &api, &ja, true, true, 1, 1e7) < 0);
    /* an empty or bad range */
    assert_true(cost_volume_crossing(&m1, &jm, &api, &ja, true, true, 100, 10) < 0);
    assert_true(cost_volume_crossing(&m1, &jm, &api, &ja, true, true, 1, INFINITY) < 0);
}

static void volume_numbers_for_people(void **s) {
    char b[48];
    const struct { double x; const char *num, *usd; } c[] = {
        {0, "0", "$0"},           {0.0358, "0.0358", "$0.0358"}, {3.584e-5, "0.0000358", "$0.0000358"},
        {0.012, "0.012", "$0.012"}, {9.99, "9.99", "$9.99"},      {9.9, "9.9", "$9.90"},
        {12.345, "12.3", "$12.35"}, {99.96, "100", "$99.96"},     {1234.5, "1,235", "$1,235"},
        {13082, "13,082", "$13,082"}, {1.5e7, "15,000,000", "$15,000,000"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        volume_fmt_num(b, sizeof b, c[i].x);
        if (strcmp(b, c[i].num)) fail_msg("volume_fmt_num(%g) = %s, want %s", c[i].x, b, c[i].num);
        volume_fmt_usd(b, sizeof b, c[i].x);
        if (strcmp(b, c[i].usd)) fail_msg("volume_fmt_usd(%g) = %s, want %s", c[i].x, b, c[i].usd);
    }
    volume_fmt_usd(b, sizeof b, NAN);
    assert_string_equal(b, "—");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owned_per_hour_and_job),
        cmocka_unit_test(subscription),
        cmocka_unit_test(hourly),
        cmocka_unit_test(api_per_token),
        cmocka_unit_test(break_even),
        cmocka_unit_test(volume_owned_marginal_and_amortised),
        cmocka_unit_test(volume_subscription_cap),
        cmocka_unit_test(volume_subscription_pay_as_you_go),
        cmocka_unit_test(volume_hourly_sessions_and_increment),
        cmocka_unit_test(volume_api),
        cmocka_unit_test(volume_bad_input),
        cmocka_unit_test(volume_crossing),
        cmocka_unit_test(volume_numbers_for_people),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
