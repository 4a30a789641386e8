/* Tests for reports/cost: each cost kind and the break-even volume against hand-computed values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "reports/cost.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owned_per_hour_and_job),
        cmocka_unit_test(subscription),
        cmocka_unit_test(hourly),
        cmocka_unit_test(api_per_token),
        cmocka_unit_test(break_even),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
