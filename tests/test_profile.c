/* Tests for reports/profile: every shipped profile loads with its figures (calibrated
 * [projection], CPU ceilings of the M1, cost-volume fields); each kind of bad input is an error
 * that names file:line; an image api needs no token prices; the local-profile writer produces a
 * file the loader accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/host/profile.h"

static char tmp_path[64];

static const char *write_tmp(const char *text) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/gc_profile_XXXXXX.ini");
    int fd = mkstemps(tmp_path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmp_path;
}

/* Loads text as a profile, expects failure, and checks the message starts "<file>:<line>: ". */
static void expect_error(const char *text, int line, const char *needle) {
    const char *path = write_tmp(text);
    gc_profile p;
    gc_err err = {{0}};
    assert_int_not_equal(profile_load(path, &p, &err), 0);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    if (strncmp(err.msg, prefix, strlen(prefix)) || !strstr(err.msg, needle))
        fail_msg("want '%s...%s', got '%s'", prefix, needle, err.msg);
    unlink(path);
}

static const char good_hourly[] =
    "[host]\nname = X\n[cost]\nkind = hourly\nprovider = P\npricing = spot\nas_of = 2026\n"
    "usd_per_hour = 2.5\n";

static void loads_every_shipped_profile(void **s) {
    const char *dir = getenv("GENCOST_HOSTS") ? getenv("GENCOST_HOSTS") : "hosts";
    gc_profile *p = NULL;
    int n = 0;
    gc_err err = {{0}};
    if (profile_load_dir(dir, &p, &n, &err)) fail_msg("%s", err.msg);
    const char *want[] = {"api-image-flux-schnell", "api-llama3-8b", "apple-m1-macbook-air", "cloud-a100-80gb",
                          "cloud-h100", "cloud-h100-pcie", "colab-pro-a100", "colab-pro-l4", "colab-pro-t4",
                          "rtx3080-laptop"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!profile_find(p, n, want[i])) fail_msg("profile %s missing from %s", want[i], dir);
    /* every shipped host with hardware is calibrated, with its source and date */
    for (int i = 0; i < n; i++)
        if (p[i].kind != GC_COST_API && (!p[i].calibrated || !p[i].proj_source[0] || !p[i].proj_as_of[0]))
            fail_msg("profile %s has no calibrated [projection] with source and as_of", p[i].id);
    const gc_profile *m1 = profile_find(p, n, "apple-m1-macbook-air");
    assert_int_equal(m1->kind, GC_COST_OWNED);
    assert_true(m1->mem_bw_gbs == 68.25);
    assert_true(m1->purchase_usd == 999);
    /* the M1 is projected on its CPU: 4 P-cores' NEON FP32 and SDOT peaks, not the GPU's 2.6 */
    assert_true(m1->runs_on_cpu);
    assert_true(m1->peak_tflops_fp32 == 2.6);
    assert_true(m1->cpu_peak_tflops_fp32 == 0.41);
    assert_true(m1->cpu_peak_tops_int8 == 1.64);
    assert_true(m1->bw_efficiency == 0.82 && m1->per_token_s == 0.0024);
    const gc_profile *api = profile_find(p, n, "api-llama3-8b");
    assert_int_equal(api->kind, GC_COST_API);
    assert_string_equal(api->model, "llama3-8b");
    assert_true(api->usd_per_m_output == 0.08);
    const gc_profile *img = profile_find(p, n, "api-image-flux-schnell");
    assert_int_equal(img->kind, GC_COST_API);
    assert_true(img->usd_per_image == 0.003);
    assert_true(img->usd_per_m_output == 0 && img->out_tokens_per_s == 0);
    const gc_profile *h100 = profile_find(p, n, "cloud-h100");
    assert_string_equal(h100->provider, "Lambda");
    assert_string_equal(h100->pricing, "on-demand");
    assert_false(h100->runs_on_cpu);
    assert_true(h100->bw_efficiency == 0.27 && h100->per_token_s == 0.00055);
    assert_true(h100->compute_efficiency_fp16 == 0.085 && h100->compute_efficiency == 0.5);
    /* no int8 efficiency given: it is the FP32 one */
    assert_true(h100->compute_efficiency_int8 == 0.5);
    assert_true(h100->billing_increment_s == 60 && h100->session_setup_s == 600);
    /* the A100 is rented alone, from a provider that rents one GPU */
    const gc_profile *a100 = profile_find(p, n, "cloud-a100-80gb");
    assert_string_equal(a100->provider, "RunPod");
    assert_true(a100->usd_per_hour == 1.59);
    /* RTX 3080 laptop: FP16 with F32 accumulation (half rate) and the power of the same clocks */
    const gc_profile *rtx = profile_find(p, n, "rtx3080-laptop");
    assert_true(rtx->peak_tflops_fp16 == 30.6 && rtx->active_watts == 110);
    const gc_profile *colab = profile_find(p, n, "colab-pro-a100");
    assert_true(colab->extra_usd_per_unit == 0.0999 && colab->session_setup_s == 600 && colab->jobs_per_session == 100);
    assert_true(profile_find(p, n, "colab-pro-t4")->units_per_hour == 1.95);
    free(p);
}

static void good_profile_values(void **s) {
    const char *path = write_tmp(good_hourly);
    gc_profile p;
    gc_err err = {{0}};
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    assert_true(p.usd_per_hour == 2.5);
    assert_string_equal(p.pricing, "spot");
    assert_string_equal(p.name, "X");
    assert_int_equal(strncmp(p.id, "gc_profile_", 11), 0);
    unlink(path);
}

static void bad_number_names_line(void **s) {
    expect_error("[host]\nname = X\n[cost]\nkind = hourly\nprovider = P\npricing = spot\n"
                 "as_of = 2026\nusd_per_hour = 2.5x\n", 8, "usd_per_hour");
    expect_error("[host]\nname = X\n[hardware]\nmemory_gb = -4\n", 4, "memory_gb");
}

static void unknown_field_and_section(void **s) {
    expect_error("[host]\nname = X\ncolour = red\n", 3, "unknown field 'colour' in [host]");
    expect_error("; c\n[hots]\nname = X\n", 3, "unknown field 'name' in [hots]");
}

static void missing_fields_name_the_section(void **s) {
    /* hourly without usd_per_hour: points at the [cost] header on line 3 */
    expect_error("[host]\nname = X\n[cost]\nkind = hourly\nprovider = P\npricing = spot\n"
                 "as_of = 2026\n", 3, "missing field 'usd_per_hour' in [cost] (needed for cost kind hourly)");
    expect_error("[host]\nname = X\n", 2, "missing field 'kind' in [cost]");
    expect_error("; only a comment\n[cost]\nkind = hourly\n", 3, "missing field 'name' in [host]");
    /* owned needs power for its electricity cost */
    expect_error("[host]\nname = X\n[hardware]\nidle_watts = 5\n[cost]\nkind = owned\nas_of = 1\n"
                 "purchase_usd = 1\nlifetime_years = 1\nhours_per_day = 1\n"
                 "electricity_usd_per_kwh = 0.1\ngrid_gco2_per_kwh = 1\n",
                 3, "missing field 'active_watts'");
}

static void bad_kind_duplicate_and_syntax(void **s) {
    expect_error("[host]\nname = X\n[cost]\nkind = lease\n", 4, "cost kind 'lease'");
    expect_error("[host]\nname = X\nname = Y\n", 3, "duplicate field 'name' (first set on line 2)");
    expect_error("[host]\nname = X\nthis line has no equals sign\n", 3, "not a 'name = value' line");
    expect_error("[host]\nname = X\n[cost]\nkind = hourly\nprovider = P\npricing = reserved\n"
                 "as_of = 2026\nusd_per_hour = 1\n", 6, "pricing 'reserved'");
}

static void overlong_line(void **s) {
    char text[600] = "[host]\n; ";
    memset(text + strlen(text), 'x', 300);
    strcat(text, "\nname = X\n");
    expect_error(text, 2, "line longer than");
}

static void missing_file(void **s) {
    gc_profile p;
    gc_err err = {{0}};
    assert_int_not_equal(profile_load("/nonexistent/x.ini", &p, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/x.ini: cannot open"));
}

static const char proj_base[] =
    "[host]\nname = X\n[hardware]\nmemory_bandwidth_gbs = 100\npeak_tflops_fp16 = 50\n"
    "[cost]\nkind = hourly\nprovider = P\npricing = spot\nas_of = 2026\nusd_per_hour = 1\n";

static void projection_fields(void **s) {
    char text[1024];
    /* calibrated figures need their source and date: the error points at [projection] (line 12) */
    snprintf(text, sizeof text, "%s[projection]\nbandwidth_efficiency = 0.3\nas_of = 2026\n", proj_base);
    expect_error(text, 12, "missing field 'source' in [projection]");
    snprintf(text, sizeof text, "%s[projection]\nper_token_s = 0.001\nsource = S\n", proj_base);
    expect_error(text, 12, "missing field 'as_of' in [projection]");
    snprintf(text, sizeof text, "%s[projection]\nruns_on = tpu\n", proj_base);
    expect_error(text, 13, "runs_on is 'tpu', not cpu or gpu");
    /* runs_on = cpu beside a GPU's peaks needs the CPU's own */
    snprintf(text, sizeof text, "%s[projection]\nruns_on = cpu\n", proj_base);
    expect_error(text, 13, "runs_on = cpu needs cpu_peak_tflops_fp32");
    snprintf(text, sizeof text, "%s[projection]\nbandwidth_efficiency = 1.5\n", proj_base);
    expect_error(text, 13, "bandwidth_efficiency");

    /* values, and the defaults: runs_on follows the FP16 peak; fp16/int8 follow compute_efficiency */
    snprintf(text, sizeof text, "%s[projection]\nbandwidth_efficiency = 0.3\nper_token_s = 0.0007\n"
             "compute_efficiency = 0.4\ncompute_efficiency_int8 = 0.2\nsource = S\nas_of = 2026-06\n", proj_base);
    const char *path = write_tmp(text);
    gc_profile p;
    gc_err err = {{0}};
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_true(p.calibrated && !p.runs_on_cpu);
    assert_true(p.bw_efficiency == 0.3 && p.per_token_s == 0.0007);
    assert_true(p.compute_efficiency == 0.4 && p.compute_efficiency_fp16 == 0.4 && p.compute_efficiency_int8 == 0.2);
    assert_string_equal(p.proj_source, "S");
    assert_string_equal(p.proj_as_of, "2026-06");
    /* no [projection]: uncalibrated defaults, and a profile with no FP16 peak runs on its CPU */
    path = write_tmp(good_hourly);
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_false(p.calibrated);
    assert_true(p.runs_on_cpu);
    assert_true(p.bw_efficiency == GC_PROJ_BW_EFFICIENCY && p.per_token_s == 0);
    assert_true(p.compute_efficiency_fp16 == GC_PROJ_COMPUTE_EFFICIENCY);
    /* runs_on = cpu with the CPU's peaks given */
    snprintf(text, sizeof text, "%s[projection]\nruns_on = cpu\n", proj_base);
    char *hw = strstr(text, "peak_tflops_fp16");
    memmove(hw + strlen("cpu_peak_tflops_fp32 = 0.4\n"), hw, strlen(hw) + 1);
    memcpy(hw, "cpu_peak_tflops_fp32 = 0.4\n", strlen("cpu_peak_tflops_fp32 = 0.4\n"));
    path = write_tmp(text);
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_true(p.runs_on_cpu && p.cpu_peak_tflops_fp32 == 0.4);
}

static void image_api_needs_no_token_prices(void **s) {
    static const char img[] = "[host]\nname = I\n[cost]\nkind = api\nprovider = P\nmodel = m\nas_of = 2026\n"
                              "usd_per_image = 0.003\n";
    const char *path = write_tmp(img);
    gc_profile p;
    gc_err err = {{0}};
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_true(p.usd_per_image == 0.003);
    /* priced per token: token prices and the speed stay required */
    expect_error("[host]\nname = I\n[cost]\nkind = api\nprovider = P\nmodel = m\nas_of = 2026\n", 3,
                 "missing field 'usd_per_m_input_tokens' in [cost] (needed for cost kind api priced per token");
}

static void local_profile_loads_back(void **s) {
    char path[] = "/tmp/gc_local_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    gc_err err = {{0}};
    assert_int_equal(profile_write_local(f, &err), 0);
    fclose(f);
    gc_profile p;
    if (profile_load(path, &p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(p.kind, GC_COST_OWNED);
    assert_true(p.active_watts > 0);
    assert_true(p.mem_gb > 0);
    assert_non_null(strstr(p.name, "(local)"));
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_every_shipped_profile),
        cmocka_unit_test(good_profile_values),
        cmocka_unit_test(bad_number_names_line),
        cmocka_unit_test(unknown_field_and_section),
        cmocka_unit_test(missing_fields_name_the_section),
        cmocka_unit_test(bad_kind_duplicate_and_syntax),
        cmocka_unit_test(overlong_line),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(projection_fields),
        cmocka_unit_test(image_api_needs_no_token_prices),
        cmocka_unit_test(local_profile_loads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
