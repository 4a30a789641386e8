/* The workload contract (bench/workload.h) as the runner keeps it, with fake workloads: a
 * workload's parameters resolved (given, default, --quick cap, same_as) and recorded canonical
 * in every case; teardown after a failed setup; --phases applied by the runner alone (a case
 * with no phase asked for is never set up); the --isa axis reaching the backend, and what ran
 * recorded as the case's device, so two ISAs are two case keys; a case the backend cannot run
 * (gk_backend_supports) recorded as skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/case_id.h"
#include "bench/results.h"
#include "bench/runner.h"
#include "kernels/backend.h"

/* ---- a fake workload ------------------------------------------------------------------------ */

static struct {
    int setups, teardowns, runs;
    bool fail_setup;
    bool need_unsupported; /* setup asks the backend for an op on a type it cannot take */
    char seen_params[256]; /* what setup read through the accessors */
    char seen_isa[32];
} fk;

typedef struct fake_state {
    gk_backend *be;
} fake_state;

static const gc_param fake_params[] = {
    {.name = "size", .kind = GC_PARAM_INT, .lo = 1, .hi = 1000, .def = "100", .quick_max = 10},
    {.name = "depth", .kind = GC_PARAM_INT, .lo = 0, .hi = 1000, .same_as = "size"},
    {.name = "mode", .kind = GC_PARAM_STRING, .choices = "a,b", .def = "a"},
    {.name = "file", .kind = GC_PARAM_STRING, .names_preset = true},
    {.name = NULL},
};

static const char *const fake_phases[] = {"one", "two", NULL};

/* Allocates, then fails when asked: the runner must still call teardown. */
static int fake_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    fk.setups++;
    fake_state *s = calloc(1, sizeof *s);
    *state = s;
    snprintf(fk.seen_params, sizeof fk.seen_params, "size=%ld depth=%ld mode=%s file=%s",
             gc_case_param_int(c, "size", -1), gc_case_param_int(c, "depth", -1), gc_case_param(c, "mode"),
             gc_case_param(c, "file") ? "set" : "none");
    snprintf(fk.seen_isa, sizeof fk.seen_isa, "%s", c->isa ? c->isa : "(best)");
    if (fk.fail_setup) return gc_errf(err, "fake: setup failed on purpose");
    char why[256];
    gk_backend_opts bo = {.n_threads = 1, .isa = c->isa};
    s->be = gk_backend_open("cpu", &bo, why, sizeof why);
    if (!s->be) return gc_errf(err, "fake: %s", why);
    gc_device_of(s->be, out->device, sizeof out->device);
    const gc_op_need needs[] = {{GK_OP_MATMUL, {GK_F32, GK_Q4_0, GK_F32}, 3},
                                {GK_OP_MATMUL, {GK_F32, GK_I32, GK_F32}, 3}};
    if (gc_require_ops(s->be, "fake", needs, fk.need_unsupported ? 2 : 1, err)) return GC_SETUP_UNSUPPORTED;
    for (int i = 0; i < 2; i++) {
        snprintf(out->phases[i].name, sizeof out->phases[i].name, "%s", fake_phases[i]);
        snprintf(out->phases[i].unit, sizeof out->phases[i].unit, "op");
        out->phases[i].work_per_rep = 1;
    }
    out->n_phases = 2;
    return 0;
}

static int fake_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    (void)state, (void)phase, (void)err;
    v->ok = true;
    snprintf(v->detail, sizeof v->detail, "nothing to check");
    return 0;
}

static int fake_run(void *state, int phase, gc_err *err) {
    (void)state, (void)phase, (void)err;
    fk.runs++;
    return 0;
}

static void fake_teardown(void *state) {
    fake_state *s = state;
    fk.teardowns++;
    if (s->be) gk_backend_close(s->be);
    free(s);
}

static const char *const fake_backends[] = {"cpu", NULL};

static const gc_workload fake = {
    .name = "fake",
    .description = "a workload for tests",
    .backends = fake_backends,
    .params = fake_params,
    .phases = fake_phases,
    .setup = fake_setup,
    .verify = fake_verify,
    .run = fake_run,
    .teardown = fake_teardown,
    .takes_isa = true,
};

/* ---- helpers -------------------------------------------------------------------------------- */

static gc_plan *one_line(void) {
    gc_plan *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->n_lines = 1;
    gc_plan_line *l = &p->lines[0];
    l->wl = &fake;
    l->presets[0] = "-";
    l->quants[0] = "-";
    l->backends[0] = "cpu";
    l->threads[0] = 1;
    l->n_presets = l->n_quants = l->n_backends = l->n_threads = 1;
    return p;
}

static gc_options quick_opts(void) {
    gc_options o;
    gc_options_defaults(&o);
    o.reps = 1;
    o.warmup = 0;
    o.min_time = 0;
    o.max_reps = 1;
    return o;
}

/* Runs the plan into a temporary results file and reads it back (r NULL: not read). */
static int run_plan(const gc_plan *p, const gc_options *o, gc_results *r) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/gc_wlp_%d.json", (int)getpid());
    fk.setups = fk.teardowns = fk.runs = 0;
    gc_err err = {{0}};
    int rc = runner_run(p, o, path, "test", &err);
    if (r) {
        gc_err e;
        if (results_read(path, r, &e)) fail_msg("%s", e.msg);
    }
    unlink(path);
    return rc;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void resolve_and_canonical(void **st) {
    (void)st;
    gc_param_values v;
    gc_err err;
    char buf[256];
    const char *given[GC_MAX_PARAMS] = {NULL, NULL, "b", "/models/m.gguf"};
    assert_int_equal(gc_params_resolve(fake_params, given, false, &v, &err), 0);
    assert_string_equal(v.v[0], "100");
    assert_string_equal(v.v[1], "100"); /* same_as follows size */
    assert_int_equal(gc_params_canonical(fake_params, &v, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "depth=100,mode=b,size=100"); /* sorted; the model file is the preset */
    gc_param_values_free(&v);
    /* --quick caps the default size; depth follows the capped size; values given stay */
    assert_int_equal(gc_params_resolve(fake_params, NULL, true, &v, &err), 0);
    assert_string_equal(v.v[0], "10");
    assert_string_equal(v.v[1], "10");
    gc_param_values_free(&v);
    const char *g2[GC_MAX_PARAMS] = {"500", "7"};
    assert_int_equal(gc_params_resolve(fake_params, g2, true, &v, &err), 0);
    assert_string_equal(v.v[0], "500");
    assert_string_equal(v.v[1], "7");
    assert_null(v.v[3]);
    gc_param_values_free(&v);
    assert_int_equal(gc_param_find(fake_params, "mode"), 2);
    assert_int_equal(gc_param_find(fake_params, "nosuch"), -1);
    assert_int_equal(gc_param_count(fake_params), 4);
    gc_param_help(&fake_params[0], buf, sizeof buf);
    assert_string_equal(buf, "(default 100; 10 with --quick)");
}

/* The runner records the effective values in every case; the workload reads them by name. */
static void params_recorded(void **st) {
    (void)st;
    gc_plan *p = one_line();
    p->lines[0].params[0] = "40";
    gc_options o = quick_opts();
    gc_results r;
    assert_int_equal(run_plan(p, &o, &r), 0);
    assert_string_equal(fk.seen_params, "size=40 depth=40 mode=a file=none");
    assert_int_equal(r.n_cases, 2);
    for (int i = 0; i < r.n_cases; i++) {
        assert_string_equal(r.cases[i].status, "ok");
        assert_string_equal(r.cases[i].id.params, "depth=40,mode=a,size=40");
    }
    results_free(&r);
    /* --quick is part of the identity (quick=1); it caps defaults, never a value given. */
    o.quick = true;
    assert_int_equal(run_plan(p, &o, &r), 0);
    assert_int_equal(r.n_cases, 2);
    assert_string_equal(r.cases[0].id.params, "depth=40,mode=a,quick=1,size=40");
    results_free(&r);
    p->lines[0].params[0] = NULL;
    assert_int_equal(run_plan(p, &o, &r), 0);
    assert_string_equal(r.cases[0].id.params, "depth=10,mode=a,quick=1,size=10");
    results_free(&r);
    free(p);
}

/* A setup that allocated and then failed: recorded as an error, and torn down. */
static void teardown_after_failed_setup(void **st) {
    (void)st;
    gc_plan *p = one_line();
    gc_options o = quick_opts();
    gc_results r;
    fk.fail_setup = true;
    int rc = run_plan(p, &o, &r);
    fk.fail_setup = false;
    assert_int_equal(rc, 1);
    assert_int_equal(fk.setups, 1);
    assert_int_equal(fk.teardowns, 1);
    assert_int_equal(r.n_cases, 1);
    assert_string_equal(r.cases[0].status, "error");
    assert_string_equal(r.cases[0].id.phase, "setup");
    assert_non_null(strstr(r.cases[0].error, "failed on purpose"));
    results_free(&r);
    free(p);
}

/* A case the backend cannot run (supports() says no) is recorded as skipped with the reason,
 * is not a failure (exit 0), and its state is still torn down. */
static void unsupported_is_skipped(void **st) {
    (void)st;
    gc_plan *p = one_line();
    gc_options o = quick_opts();
    gc_results r;
    fk.need_unsupported = true;
    int rc = run_plan(p, &o, &r);
    fk.need_unsupported = false;
    assert_int_equal(rc, 0);
    assert_int_equal(fk.teardowns, 1);
    assert_int_equal(fk.runs, 0);
    assert_int_equal(r.n_cases, 1);
    assert_string_equal(r.cases[0].status, "skipped");
    assert_non_null(strstr(r.cases[0].error, "fake: backend cpu cannot run matmul(f32, i32, f32)"));
    results_free(&r);
    free(p);
}

/* --phases: only the phases named run; a case with none of them is never set up. */
static void runner_filters_phases(void **st) {
    (void)st;
    gc_plan *p = one_line();
    gc_options o = quick_opts();
    o.phases = "two";
    gc_results r;
    assert_int_equal(run_plan(p, &o, &r), 0);
    assert_int_equal(r.n_cases, 1);
    assert_string_equal(r.cases[0].id.phase, "two");
    results_free(&r);
    o.phases = "nosuch";
    gc_err err = {{0}};
    char path[64];
    snprintf(path, sizeof path, "/tmp/gc_wlp_none_%d.json", (int)getpid());
    fk.setups = 0;
    assert_int_equal(runner_run(p, &o, path, "test", &err), GC_EXIT_USAGE);
    assert_int_equal(fk.setups, 0);
    assert_non_null(strstr(err.msg, "--phases nosuch matched no phase"));
    unlink(path);
    free(p);
}

/* Two ISAs: the set reaches the backend, and what ran makes them two cases. */
static void isa_axis_two_cases(void **st) {
    (void)st;
    char why[256];
    gk_backend_opts bo = {.n_threads = 1};
    gk_backend *best = gk_backend_open("cpu", &bo, why, sizeof why);
    assert_non_null(best);
    char best_isa[32];
    snprintf(best_isa, sizeof best_isa, "%s", best->isa);
    gk_backend_close(best);
    if (!strcmp(best_isa, "scalar")) {
        printf("only scalar micro-kernels on this CPU: skipped\n");
        skip();
    }
    gc_plan *p = one_line();
    p->lines[0].isas[0] = "scalar";
    p->lines[0].isas[1] = best_isa;
    p->lines[0].n_isas = 2;
    assert_int_equal(runner_n_cases(p), 2);
    gc_options o = quick_opts();
    o.phases = "one";
    gc_results r;
    assert_int_equal(run_plan(p, &o, &r), 0);
    assert_int_equal(r.n_cases, 2);
    assert_string_equal(r.cases[0].id.device, "scalar");
    assert_string_equal(r.cases[1].id.device, best_isa);
    char k0[512], k1[512];
    gc_case_key(&r.cases[0].id, k0, sizeof k0);
    gc_case_key(&r.cases[1].id, k1, sizeof k1);
    assert_string_not_equal(k0, k1);
    assert_false(gc_case_id_equal(&r.cases[0].id, &r.cases[1].id));
    results_free(&r);
    free(p);
}

/* A set this CPU cannot run is that case's error, with the reason; the other cases still run. */
static void isa_unusable_is_a_case_error(void **st) {
    (void)st;
    const char *missing = NULL;
    static const char *const sets[] = {"neon", "avx2", "avx512", "dotprod", "i8mm"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets && !missing; i++) {
        char why[256];
        gk_backend_opts bo = {.n_threads = 1, .isa = sets[i]};
        gk_backend *b = gk_backend_open("cpu", &bo, why, sizeof why);
        if (b)
            gk_backend_close(b);
        else
            missing = sets[i];
    }
    if (!missing) skip();
    gc_plan *p = one_line();
    p->lines[0].isas[0] = missing;
    p->lines[0].isas[1] = "scalar";
    p->lines[0].n_isas = 2;
    gc_options o = quick_opts();
    o.phases = "one";
    gc_results r;
    assert_int_equal(run_plan(p, &o, &r), 1);
    assert_int_equal(r.n_cases, 2);
    assert_string_equal(r.cases[0].status, "error");
    assert_string_equal(r.cases[0].id.device, missing); /* the set asked for: still its own case */
    assert_non_null(strstr(r.cases[0].error, missing));
    assert_string_equal(r.cases[1].status, "ok");
    assert_string_equal(r.cases[1].id.device, "scalar");
    assert_int_equal(fk.teardowns, 2);
    results_free(&r);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolve_and_canonical),       cmocka_unit_test(params_recorded),
        cmocka_unit_test(teardown_after_failed_setup), cmocka_unit_test(runner_filters_phases),
        cmocka_unit_test(isa_axis_two_cases),          cmocka_unit_test(isa_unusable_is_a_case_error),
        cmocka_unit_test(unsupported_is_skipped),
    };
    return cmocka_run_group_tests_name("workload_params", tests, NULL, NULL);
}
