/* Tests for bench/results: write -> read round trip of every field (schema 2: params and device),
 * a committed schema-1 file, a foreign minimal file, and malformed files (each gives one error
 * line naming the file and the field). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/metrics.h"
#include "bench/results.h"

/* Fixtures sit next to this file; tests run from the repository root (make test). */
#define FIXTURES "tests/fixtures/results/"

static void fill_case(gc_case_result *c) {
    strcpy(c->id.workload, "llm");
    strcpy(c->id.preset, "tinyllama-1.1b");
    strcpy(c->id.quant, "q4_0");
    strcpy(c->id.backend, "cpu");
    strcpy(c->id.device, "avx2");
    strcpy(c->id.params, "gen=128,prompt=512");
    strcpy(c->id.phase, "decode");
    strcpy(c->unit, "token");
    strcpy(c->status, "ok");
    c->id.threads = 8;
    c->work_per_rep = 128;
    c->bytes_per_rep = 1.25e9;
    c->flops_per_rep = 3.0e11 + 0.5;
    static const double s[] = {0.1, 0.2, 0.30000000000000004, 1e-7};
    c->n_samples = 4;
    c->samples_s = malloc(sizeof s);
    memcpy(c->samples_s, s, sizeof s);
    stats_compute(c->samples_s, 4, &c->time_s);
    stats_throughput(c->samples_s, 4, c->work_per_rep, &c->throughput);
    c->high_spread = true;
    c->verify.ok = true;
    strcpy(c->verify.detail, "max_rel_err 1.2e-6 <= 1e-4 against the scalar reference");
    gc_kv_add(c->verify.vals, &c->verify.n_vals, GC_MAX_KV, "max_rel_err", 1.2e-6);
    gc_kv_add(c->verify.vals, &c->verify.n_vals, GC_MAX_KV, "tolerance", 1e-4);
    gc_kv_add(c->metrics.vals, &c->metrics.n_vals, GC_MAX_KV, "peak_rss_bytes", 123456789);
    strcpy(c->energy.source, "rapl:package-0");
    strcpy(c->energy.kind, "measured");
    c->energy.joules = 12.5;
    c->energy.joules_per_unit = 0.25;
}

static void assert_stats_equal(const gc_stats *a, const gc_stats *b) {
    assert_int_equal(a->n, b->n);
    assert_true(a->median == b->median && a->mean == b->mean && a->stddev == b->stddev);
    assert_true(a->mad == b->mad && a->min == b->min && a->max == b->max && a->cv == b->cv);
    assert_true(a->ci95_low == b->ci95_low && a->ci95_high == b->ci95_high);
}

static void assert_case_equal(const gc_case_result *a, const gc_case_result *b) {
    assert_string_equal(a->id.workload, b->id.workload);
    assert_string_equal(a->id.preset, b->id.preset);
    assert_string_equal(a->id.quant, b->id.quant);
    assert_string_equal(a->id.backend, b->id.backend);
    assert_string_equal(a->id.device, b->id.device);
    assert_string_equal(a->id.params, b->id.params);
    assert_string_equal(a->id.phase, b->id.phase);
    assert_true(gc_case_id_equal(&a->id, &b->id));
    assert_string_equal(a->unit, b->unit);
    assert_string_equal(a->status, b->status);
    assert_string_equal(a->error, b->error);
    assert_int_equal(a->id.threads, b->id.threads);
    assert_true(a->work_per_rep == b->work_per_rep);
    assert_true(a->bytes_per_rep == b->bytes_per_rep);
    assert_true(a->flops_per_rep == b->flops_per_rep);
    assert_int_equal(a->n_samples, b->n_samples);
    for (int i = 0; i < a->n_samples; i++) assert_true(a->samples_s[i] == b->samples_s[i]);   /* exact */
    assert_stats_equal(&a->time_s, &b->time_s);
    assert_stats_equal(&a->throughput, &b->throughput);
    assert_int_equal(a->high_spread, b->high_spread);
    assert_int_equal(a->verify.ok, b->verify.ok);
    assert_string_equal(a->verify.detail, b->verify.detail);
    assert_int_equal(a->verify.n_vals, b->verify.n_vals);
    for (int i = 0; i < a->verify.n_vals; i++) {
        assert_string_equal(a->verify.vals[i].name, b->verify.vals[i].name);
        assert_true(a->verify.vals[i].value == b->verify.vals[i].value);
    }
    assert_int_equal(a->metrics.n_vals, b->metrics.n_vals);
    for (int i = 0; i < a->metrics.n_vals; i++) {
        assert_string_equal(a->metrics.vals[i].name, b->metrics.vals[i].name);
        assert_true(a->metrics.vals[i].value == b->metrics.vals[i].value);
    }
    assert_string_equal(a->energy.source, b->energy.source);
    assert_string_equal(a->energy.kind, b->energy.kind);
    assert_true(a->energy.joules == b->energy.joules);
    assert_true(a->energy.joules_per_unit == b->energy.joules_per_unit);
}

static void tmp_path(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/gc_results_%ld.json", (long)getpid());
}

static void round_trip(void **s) {
    gc_results w;
    results_init(&w);
    assert_int_equal(w.schema, GC_RESULTS_SCHEMA);
    assert_true(w.host_name[0] != 0);
    assert_string_equal(json_string_value(json_object_get(w.host, "name")), w.host_name);
    strcpy(w.started, "2026-01-02T03:04:05Z");
    strcpy(w.finished, "2026-01-02T03:14:05Z");
    w.command_line = strdup("gencost run --workload llm --quant q4_0");
    w.complete = true;
    fill_case(results_add_case(&w));
    gc_case_result *f = results_add_case(&w);        /* a failed case: no samples */
    strcpy(f->id.workload, "triad");
    strcpy(f->id.preset, "-");
    strcpy(f->id.quant, "-");
    strcpy(f->id.backend, "cpu");
    strcpy(f->id.phase, "copy");
    strcpy(f->unit, "GB");
    strcpy(f->status, "error");
    strcpy(f->error, "triad: needs 384 MiB, only 100 MiB available");
    f->id.threads = 1;

    char path[64];
    tmp_path(path, sizeof path);
    gc_err err = {{0}};
    assert_int_equal(results_write(&w, path, &err), 0);
    gc_results r;
    int rc = results_read(path, &r, &err);
    if (rc) fail_msg("%s", err.msg);
    unlink(path);

    assert_int_equal(r.schema, w.schema);
    assert_string_equal(r.gencost_version, w.gencost_version);
    assert_string_equal(r.git_commit, w.git_commit);
    assert_int_equal(r.complete, true);
    assert_string_equal(r.host_name, w.host_name);
    assert_true(json_equal(r.host, w.host));
    assert_true(json_equal(r.build, w.build));
    assert_string_equal(r.started, w.started);
    assert_string_equal(r.finished, w.finished);
    assert_string_equal(r.command_line, w.command_line);
    assert_int_equal(r.n_cases, 2);
    assert_case_equal(&r.cases[0], &w.cases[0]);
    assert_case_equal(&r.cases[1], &w.cases[1]);

    assert_true(results_id_complete(&r));
    char key[GC_CASE_KEY_LEN];
    gc_case_key(&r.cases[0].id, key, sizeof key);
    assert_string_equal(key, "llm/tinyllama-1.1b/q4_0/cpu/avx2/t8/decode?gen=128,prompt=512");
    gc_job_key(&r.cases[0].id, key, sizeof key);
    assert_string_equal(key, "llm/tinyllama-1.1b/q4_0/decode?gen=128,prompt=512");
    gc_case_key_coarse(&r.cases[0].id, key, sizeof key);
    assert_string_equal(key, "llm/tinyllama-1.1b/q4_0/cpu/-/t8/decode");
    gc_case_key(&r.cases[1].id, key, sizeof key);           /* no params, device unknown */
    assert_string_equal(key, "triad/-/-/cpu/-/t1/copy");
    results_free(&r);
    results_free(&w);
}

/* On disk, schema 2 writes params as an object of strings, sorted by name, and the device. */
static void schema2_on_disk(void **s) {
    gc_results w;
    results_init(&w);
    fill_case(results_add_case(&w));
    char path[64];
    tmp_path(path, sizeof path);
    gc_err err;
    assert_int_equal(results_write(&w, path, &err), 0);
    json_t *j = json_load_file(path, 0, NULL);
    unlink(path);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "schema")), 2);
    json_t *c = json_array_get(json_object_get(j, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "device")), "avx2");
    json_t *p = json_object_get(c, "params");
    assert_true(json_is_object(p));
    assert_int_equal(json_object_size(p), 2);
    assert_string_equal(json_string_value(json_object_get(p, "gen")), "128");
    assert_string_equal(json_string_value(json_object_get(p, "prompt")), "512");
    assert_string_equal(json_object_iter_key(json_object_iter(p)), "gen");   /* sorted */
    json_decref(j);
    results_free(&w);
}

/* Another tool's schema-2 file: params in any order read back canonical. */
static void schema2_params_canonical(void **s) {
    gc_results r;
    gc_err err;
    if (results_read(FIXTURES "schema2-params.json", &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.schema, 2);
    assert_string_equal(r.cases[0].id.params, "arrays=3,size=64MiB");
    assert_string_equal(r.cases[0].id.device, "avx512");
    char key[GC_CASE_KEY_LEN];
    gc_case_key(&r.cases[0].id, key, sizeof key);
    assert_string_equal(key, "triad/-/-/cpu/avx512/t4/triad?arrays=3,size=64MiB");
    results_free(&r);
}

/* A schema-1 file as the schema-1 writer wrote it (tests/fixtures/results/schema1.json): read
 * whole, with params and device unknown (""), and written back as schema 1 without them. */
static void schema1_file(void **s) {
    gc_results r;
    gc_err err;
    if (results_read(FIXTURES "schema1.json", &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.schema, 1);
    assert_false(results_id_complete(&r));
    assert_string_equal(r.host_name, "ci-box");
    assert_int_equal(r.n_cases, 2);
    const gc_case_result *c = &r.cases[0];
    assert_string_equal(c->id.params, "");
    assert_string_equal(c->id.device, "");
    char key[GC_CASE_KEY_LEN];
    gc_case_key(&c->id, key, sizeof key);
    assert_string_equal(key, "llm/tinyllama-1.1b/q4_0/cpu/-/t8/decode");
    assert_true(c->throughput.median == 64);
    assert_int_equal(c->n_samples, 5);
    assert_true(gc_kv_get(c->metrics.vals, c->metrics.n_vals, GC_METRIC_GEN_TOKENS, 0) == 128);
    assert_string_equal(r.cases[1].id.phase, "triad");
    char path[64];
    tmp_path(path, sizeof path);
    assert_int_equal(results_write(&r, path, &err), 0);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "schema")), 1);
    json_t *jc = json_array_get(json_object_get(j, "cases"), 0);
    assert_null(json_object_get(jc, "params"));
    assert_null(json_object_get(jc, "device"));
    json_decref(j);
    gc_results back;
    assert_int_equal(results_read(path, &back, &err), 0);
    unlink(path);
    assert_int_equal(back.schema, 1);
    assert_case_equal(&back.cases[0], &r.cases[0]);
    results_free(&back);
    results_free(&r);
}

/* A NaN figure is written as null and reads back as NaN, never as invalid JSON. */
static void non_finite_is_null(void **s) {
    gc_results w;
    results_init(&w);
    gc_case_result *c = results_add_case(&w);
    fill_case(c);
    c->throughput.cv = NAN;
    char path[64];
    tmp_path(path, sizeof path);
    gc_err err;
    assert_int_equal(results_write(&w, path, &err), 0);
    gc_results r;
    assert_int_equal(results_read(path, &r, &err), 0);
    unlink(path);
    assert_true(isnan(r.cases[0].throughput.cv));
    results_free(&r);
    results_free(&w);
}

/* Text that is not valid UTF-8 (a model file named with a \xff byte, an error message cut in
 * the middle of a character) is written with U+FFFD in place of the bad bytes: the field is
 * never dropped, so the file still reads back with every required field. */
static void invalid_utf8_is_replaced(void **s) {
    gc_results w;
    results_init(&w);
    gc_case_result *c = results_add_case(&w);
    fill_case(c);
    snprintf(c->id.preset, sizeof c->id.preset, "model\xff.gguf");
    snprintf(c->error, sizeof c->error, "cut \xc3");          /* the first byte of a 2-byte char */
    snprintf(c->verify.detail, sizeof c->verify.detail, "ok \xe2\x82");   /* 2 of 3 bytes */
    char path[64];
    tmp_path(path, sizeof path);
    gc_err err;
    assert_int_equal(results_write(&w, path, &err), 0);
    gc_results r;
    if (results_read(path, &r, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_string_equal(r.cases[0].id.preset, "model\xef\xbf\xbd.gguf");
    assert_string_equal(r.cases[0].error, "cut \xef\xbf\xbd");
    assert_string_equal(r.cases[0].verify.detail, "ok \xef\xbf\xbd\xef\xbf\xbd");
    results_free(&r);
    results_free(&w);
}

static void foreign_minimal(void **s) {
    gc_results r;
    gc_err err;
    int rc = results_read(FIXTURES "foreign-minimal.json", &r, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_string_equal(r.host_name, "m1-air");
    assert_int_equal(r.n_cases, 1);
    const gc_case_result *c = &r.cases[0];
    assert_string_equal(c->id.phase, "triad");
    assert_string_equal(c->status, "ok");          /* absent: derived from verify.ok */
    assert_int_equal(c->id.threads, 4);
    assert_int_equal(c->n_samples, 3);
    assert_true(c->samples_s[2] == 0.012);
    assert_true(c->throughput.median == 72.7);
    assert_true(c->bytes_per_rep == 0);
    assert_string_equal(c->energy.source, "none");
    results_free(&r);
}

/* Each malformed file fails with an error naming the file and what is wrong. */
static void expect_error(const char *file, const char *needle) {
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    gc_results r;
    gc_err err = {{0}};
    assert_int_not_equal(results_read(path, &r, &err), 0);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        fail_msg("%s: message '%s' lacks '%s'", file, err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(r.n_cases, 0);                  /* nothing half-read is left behind */
    assert_null(r.host);
}

static void malformed_files(void **s) {
    expect_error("not-json.json", "not valid JSON (line 1");
    expect_error("empty.json", "not valid JSON");
    expect_error("not-object.json", "must be an object");
    expect_error("wrong-schema.json", "schema: version 99 is not supported: this gencost reads versions 1 to 2 "
                                      "(a newer gencost wrote the file");
    expect_error("bad-params.json", "cases[0].params: 'size' must be a string");
    expect_error("bad-param-value.json", "cases[0].params: parameter size=64,128");
    expect_error("missing-field.json", "cases[0].throughput.median: missing");
    expect_error("wrong-type.json", "cases[0].threads: must be an integer");
    expect_error("missing-host-name.json", "host.name: missing");
    expect_error("bad-sample.json", "cases[0].samples_s: element 1 must be a number");
    expect_error("no-such-file.json", "cannot open");
}

/* Energy fields are type- and range-checked: "joules": "lots" used to read as 0 J measured, a
 * non-string kind as none; negative or zero samples, throughput and work were accepted. Each
 * gives one line naming the file and the field. */
static void values_out_of_range(void **s) {
    expect_error("energy-joules-string.json", "cases[0].energy.joules: must be a number");
    expect_error("energy-kind-number.json", "cases[0].energy.kind: must be a string");
    expect_error("energy-kind-unknown.json", "cases[0].energy.kind: 'guessed' is not none, measured or estimated");
    expect_error("energy-negative.json", "cases[0].energy.joules: -5: must be a number >= 0");
    expect_error("energy-no-joules.json", "cases[0].energy.joules: missing");
    expect_error("energy-source-string.json", "cases[0].energy.source: must be a string");
    expect_error("energy-sources-bad.json", "cases[0].energy.sources[1].joules: must be a number");
    expect_error("sample-negative.json", "cases[0].samples_s: element 1 is -0.011: a repetition's time must be "
                                         "a positive number of seconds");
    expect_error("sample-zero.json", "cases[0].samples_s: element 2 is 0");
    expect_error("throughput-negative.json", "cases[0].throughput.median: -72.7 is negative");
    expect_error("throughput-zero.json", "cases[0].throughput.median: 0: a case with status ok and samples must "
                                         "have a positive throughput");
    expect_error("work-zero.json", "cases[0].work_per_rep: 0: a case with status ok must have done positive work");
    expect_error("work-negative.json", "cases[0].work_per_rep: -0.8");
    expect_error("bytes-negative.json", "cases[0].bytes_per_rep: -1e+09 is negative");
}

/* What the writer writes for a case that did not run (no samples, zero figures, no energy) and
 * for measured energy with its sources still reads. */
static void valid_edges_still_read(void **s) {
    gc_results w;
    results_init(&w);
    gc_case_result *c = results_add_case(&w);
    fill_case(c);
    c->energy.n_sources = 1;
    strcpy(c->energy.src[0].name, "rapl:package-0");
    strcpy(c->energy.src[0].kind, "measured");
    c->energy.src[0].joules = 12.5;
    c->energy.src[0].avg_watts = 30;
    gc_case_result *e = results_add_case(&w);
    strcpy(e->id.workload, "llm");
    strcpy(e->id.phase, "decode");
    strcpy(e->unit, "token");
    strcpy(e->status, "error");
    strcpy(e->error, "cannot open the model");
    char path[64];
    tmp_path(path, sizeof path);
    gc_err err;
    assert_int_equal(results_write(&w, path, &err), 0);
    gc_results r;
    if (results_read(path, &r, &err)) fail_msg("%s", err.msg);
    unlink(path);
    assert_int_equal(r.n_cases, 2);
    assert_true(r.cases[0].energy.joules == 12.5);
    assert_int_equal(r.cases[0].energy.n_sources, 1);
    assert_string_equal(r.cases[1].status, "error");
    results_free(&r);
    results_free(&w);
}

/* A file written for a run in progress is valid and says so. */
static void incomplete_is_marked(void **s) {
    gc_results w;
    results_init(&w);
    w.complete = false;
    char path[64];
    tmp_path(path, sizeof path);
    gc_err err;
    assert_int_equal(results_write(&w, path, &err), 0);
    gc_results r;
    assert_int_equal(results_read(path, &r, &err), 0);
    unlink(path);
    assert_false(r.complete);
    assert_int_equal(r.n_cases, 0);
    results_free(&r);
    results_free(&w);
}

static void unwritable_path(void **s) {
    gc_results w;
    results_init(&w);
    gc_err err = {{0}};
    assert_int_not_equal(results_write(&w, "/nonexistent-dir/x.json", &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.json"));
    results_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(schema2_on_disk),
        cmocka_unit_test(schema2_params_canonical),
        cmocka_unit_test(schema1_file),
        cmocka_unit_test(non_finite_is_null),
        cmocka_unit_test(invalid_utf8_is_replaced),
        cmocka_unit_test(foreign_minimal),
        cmocka_unit_test(malformed_files),
        cmocka_unit_test(values_out_of_range),
        cmocka_unit_test(valid_edges_still_read),
        cmocka_unit_test(incomplete_is_marked),
        cmocka_unit_test(unwritable_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
