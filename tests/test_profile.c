/* Tests for reports/profile: every shipped profile loads; each kind of bad input is an error that
 * names file:line; the local-profile writer produces a file the loader accepts. */
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
    const char *want[] = {"api-llama3-8b", "apple-m1-macbook-air", "cloud-a100-80gb", "cloud-h100",
                          "colab-pro-a100", "rtx3080-laptop"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!profile_find(p, n, want[i])) fail_msg("profile %s missing from %s", want[i], dir);
    const gc_profile *m1 = profile_find(p, n, "apple-m1-macbook-air");
    assert_int_equal(m1->kind, GC_COST_OWNED);
    assert_true(m1->mem_bw_gbs == 68.25);
    assert_true(m1->purchase_usd == 999);
    const gc_profile *api = profile_find(p, n, "api-llama3-8b");
    assert_int_equal(api->kind, GC_COST_API);
    assert_string_equal(api->model, "llama3-8b");
    assert_true(api->usd_per_m_output == 0.08);
    const gc_profile *h100 = profile_find(p, n, "cloud-h100");
    assert_string_equal(h100->provider, "Lambda");
    assert_string_equal(h100->pricing, "on-demand");
    assert_true(h100->bw_efficiency == GC_PROJ_BW_EFFICIENCY);
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
        cmocka_unit_test(local_profile_loads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
