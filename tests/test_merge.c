/* Guards when merging results into a report (reports/host_match.c, report_model.c): a results
 * file tied to a profile its host does not fit is refused with one line naming both (unless
 * --force-profile, which marks the host); the same file or run twice is refused; a file without
 * a profile takes the one profile its facts fit; a profiled host's energy estimate comes from its
 * profile, not from the machine that wrote the file. Fixtures: tests/fixtures/merge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/report.h"
#include "reports/report_model.h"

#define FIX "tests/fixtures/merge/"

static int build(rp_model *m, char **inputs, int n, bool force, gc_err *err) {
    gc_report_opts o = {.hosts_dir = "hosts", .force_profile = force};
    return rp_model_build(m, inputs, n, &o, err);
}

static int host_of(const rp_model *m, const char *label) {
    for (int h = 0; h < m->n_hosts; h++)
        if (!strcmp(m->hosts[h].label, label)) return h;
    return -1;
}

static void mismatch_is_one_line_naming_both(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "xeon.json=colab-pro-a100"};
    assert_int_not_equal(build(&m, in, 1, false, &err), 0);
    assert_non_null(strstr(err.msg, "do not fit the profile"));
    assert_non_null(strstr(err.msg, "Intel(R) Xeon(R) Platinum 8481C"));
    assert_non_null(strstr(err.msg, "NVIDIA A100-SXM4-40GB"));
    assert_non_null(strstr(err.msg, "--force-profile"));
    assert_null(strchr(err.msg, '\n'));
    rp_model_free(&m);
}

static void forced_profile_is_marked(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "xeon.json=colab-pro-a100"};
    assert_int_equal(build(&m, in, 1, true, &err), 0);
    int h = host_of(&m, "colab-pro-a100");
    assert_true(h >= 0);
    assert_true(m.hosts[h].forced && m.hosts[h].measured);
    char tag[128];
    rp_host_tag(&m, h, tag, sizeof tag);
    assert_string_equal(tag, "colab-pro-a100 (forced profile)");
    rp_model_free(&m);
}

static void fitting_gpu_results_are_accepted(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "colab-a100.json=colab-pro-a100"};
    assert_int_equal(build(&m, in, 1, false, &err), 0);
    int h = host_of(&m, "colab-pro-a100");
    assert_true(h >= 0 && m.hosts[h].measured && !m.hosts[h].forced);
    rp_model_free(&m);
}

/* 16 GB of memory is not the profile's 8 GB M1: memory is a host fact too. */
static void memory_differs(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "m1-16gb.json=apple-m1-macbook-air"};
    assert_int_not_equal(build(&m, in, 1, false, &err), 0);
    assert_non_null(strstr(err.msg, "Apple M1 has 17.2 GB of memory, the profile's device 8 GB"));
    rp_model_free(&m);
}

static void same_file_twice_is_refused(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "xeon.json", FIX "xeon.json"};
    assert_int_not_equal(build(&m, in, 2, false, &err), 0);
    assert_non_null(strstr(err.msg, "the same file"));
    rp_model_free(&m);
    /* a copy under another name is the same run */
    char copy[] = "/tmp/gc_merge_XXXXXX";
    int fd = mkstemp(copy);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp " FIX "xeon.json %s", copy);
    assert_int_equal(system(cmd), 0);
    char *in2[] = {FIX "xeon.json", copy};
    assert_int_not_equal(build(&m, in2, 2, false, &err), 0);
    assert_non_null(strstr(err.msg, "the same host, start and finish"));
    rp_model_free(&m);
    unlink(copy);
}

/* Without =PROFILE the Colab file takes the one profile whose device it fits, so there is no
 * measured "0a1b2c3d4e5f" beside a projected "colab-pro-a100". */
static void profile_found_by_facts(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "colab-a100.json"};
    assert_int_equal(build(&m, in, 1, false, &err), 0);
    assert_int_equal(host_of(&m, "0a1b2c3d4e5f"), -1);
    int h = host_of(&m, "colab-pro-a100");
    assert_true(h >= 0 && m.hosts[h].measured);
    rp_model_free(&m);
    /* a host that fits no profile stays itself, without a cost */
    char *in2[] = {FIX "xeon.json"};
    assert_int_equal(build(&m, in2, 1, false, &err), 0);
    h = host_of(&m, "xeon-vm");
    assert_true(h >= 0 && m.hosts[h].prof == NULL);
    rp_model_free(&m);
}

/* The file's estimate (1.5 J/token, made where it ran) gives way to the profile's: the Colab
 * profile's active_watts over the decode rate of 12 token/s. An unprofiled host keeps it. */
static void energy_from_own_profile(void **s) {
    rp_model m;
    gc_err err = {{0}};
    char *in[] = {FIX "colab-a100.json=colab-pro-a100"};
    assert_int_equal(build(&m, in, 1, false, &err), 0);
    int h = host_of(&m, "colab-pro-a100");
    const gc_profile *p = m.hosts[h].prof;
    int seen = 0;
    for (int i = 0; i < m.n_rows; i++) {
        const rp_row *r = &m.rows[i];
        if (r->host != h || r->how != RP_MEASURED || strcmp(r->id.phase, "decode")) continue;
        assert_float_equal(r->j_per_unit, p->active_watts / 12.0, 1e-9);
        assert_string_equal(r->e_kind, "estimated");
        seen++;
    }
    assert_int_equal(seen, 1);
    rp_model_free(&m);
    char *in2[] = {FIX "xeon.json"};
    assert_int_equal(build(&m, in2, 1, false, &err), 0);
    h = host_of(&m, "xeon-vm");
    for (int i = 0; i < m.n_rows; i++)
        if (m.rows[i].host == h) assert_float_equal(m.rows[i].j_per_unit, 1.5, 1e-12);
    rp_model_free(&m);
}

static void fits_rules(void **s) {
    gc_profile p = {.mem_gb = 0};
    snprintf(p.device, sizeof p.device, "Apple M1 (8-core CPU, 8-core GPU), unified memory");
    json_t *h = json_pack("{s:{s:s}}", "cpu", "model", "Apple M10");
    char why[256];
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 0);   /* M1 is not M10 */
    json_decref(h);
    h = json_pack("{s:{s:s}}", "cpu", "model", "Apple M1 Pro");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 1);
    json_decref(h);
    /* no model number in the device: all of its words */
    snprintf(p.device, sizeof p.device, "AMD EPYC, 2 logical CPUs");
    h = json_pack("{s:{s:s}}", "cpu", "model", "AMD EPYC 9R45");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 1);
    json_decref(h);
    h = json_pack("{s:{s:s}}", "cpu", "model", "AMD Ryzen 9");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 0);
    json_decref(h);
    /* a '(' inside a word is part of it: the Xeon's model number decides */
    snprintf(p.device, sizeof p.device, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz, 2 logical CPUs");
    h = json_pack("{s:{s:s}}", "cpu", "model", "Intel(R) Xeon(R) Platinum 8480+");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 0);
    json_decref(h);
    h = json_pack("{s:{s:s}}", "cpu", "model", "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), 1);
    json_decref(h);
    /* a minimal host object: nothing to compare */
    h = json_pack("{s:s}", "name", "somewhere");
    assert_int_equal(rp_profile_fits(h, &p, why, sizeof why), -1);
    json_decref(h);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(mismatch_is_one_line_naming_both),
        cmocka_unit_test(forced_profile_is_marked),
        cmocka_unit_test(fitting_gpu_results_are_accepted),
        cmocka_unit_test(memory_differs),
        cmocka_unit_test(same_file_twice_is_refused),
        cmocka_unit_test(profile_found_by_facts),
        cmocka_unit_test(energy_from_own_profile),
        cmocka_unit_test(fits_rules),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
