/* Tests for the calibrated projection (reports/projection.c) with the shipped profiles (hosts/):
 * tinyllama-1.1b and llama2-7b q4_0 decode projected onto every shipped GPU profile (and the M1,
 * on its CPU) land within 1.5x of the published llama.cpp figures the profiles were calibrated
 * from; the formula is the one hand-computed here; the roofline bound is above the estimate; the
 * M1 uses its CPU's ceilings, never its GPU's; a GPU is not projected for the CPU's triad; a
 * generation pays the per-pass time once per new token; a measured row is compared only on the
 * device its profile projects. Prints the calibration table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sd/sd.h"
#include "reports/projection.h"

static gc_profile *profs;
static int n_profs;

static int setup(void **s) {
    gc_err err = {{0}};
    if (profile_load_dir("hosts", &profs, &n_profs, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **s) {
    free(profs);
    return 0;
}

static const gc_profile *prof(const char *id) {
    const gc_profile *p = profile_find(profs, n_profs, id);
    if (!p) fail_msg("no shipped profile %s", id);
    return p;
}

/* Weights read per decoded token (every matrix once; the embedding table's one row is left out,
 * 1 KB), from the presets' shapes (bench/llm/llm_presets.c): per layer q and o dim², k and v
 * dim × kv_dim, the FFN 3 × dim × ffn; plus the output head dim × vocab. */
static double weights_per_token(double dim, double layers, double kv_dim, double ffn, double vocab) {
    return layers * (2 * dim * dim + 2 * dim * kv_dim + 3 * dim * ffn) + dim * vocab;
}
#define Q4_0_BYTES 18.0 / 32.0   /* 4.5 bits a weight: 32 4-bit values and an f16 scale */
/* tinyllama-1.1b: 2048, 22 layers, 4 of 32 heads for k/v (kv_dim 256), ffn 5632, vocab 32000 */
#define TINY_W weights_per_token(2048, 22, 256, 5632, 32000)      /* 1,034,420,224 */
/* llama2-7b: 4096, 32 layers, kv_dim 4096, ffn 11008, vocab 32000 */
#define L7B_W weights_per_token(4096, 32, 4096, 11008, 32000)     /* 6,607,077,376 */

static rp_row decode_row(double weights) {
    rp_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.id.workload, sizeof r.id.workload, "llm");
    snprintf(r.id.phase, sizeof r.id.phase, "decode");
    snprintf(r.id.quant, sizeof r.id.quant, "q4_0");
    snprintf(r.id.backend, sizeof r.id.backend, "cpu");
    snprintf(r.unit, sizeof r.unit, "token");
    r.work_per_rep = 1;
    r.bytes_per_rep = weights * Q4_0_BYTES;
    r.flops_per_rep = 2 * weights;
    return r;
}

static void weights_hand_counted(void **s) {
    assert_true(TINY_W == 1034420224.0);
    assert_true(L7B_W == 6607077376.0);
}

/* Published llama.cpp decode figures (token/s) on the very device of a profile, as gathered in
 * the project reference (shared/reference/hardware-and-prices.md); bw 0: the profile's own. */
typedef struct published {
    const char *profile;
    double bw_gbs;            /* another card of the same calibration, else 0 */
    const char *device;
    bool tiny;                /* tinyllama-1.1b (a ~1.2B model) or llama2-7b */
    double tps;
    const char *source;
} published;

static const published figures[] = {
    {"apple-m1-macbook-air", 0, "Apple M1 8-core GPU (Metal)", true, 67, "~1.2B Q4_K_M, pavlokhmel.com, 2026-06"},
    {"apple-m1-macbook-air", 0, "Apple M1 8-core GPU (Metal)", false, 14.2, "llama.cpp discussion #4167, 2023"},
    {"colab-pro-a100", 0, "A100 PCIe 40GB", true, 485, "~1.2B Q4_K_M, pavlokhmel.com, 2026-06"},
    {"cloud-a100-80gb", 0, "A100 80GB SXM", true, 524, "~1.2B Q4_K_M, pavlokhmel.com, 2026-06"},
    {"cloud-a100-80gb", 0, "A100 80GB", false, 136.2, "XiongjieDai/GPU-Benchmarks-on-LLM-Inference, Dec 2023"},
    {"cloud-h100", 0, "H100 SXM", true, 764, "~1.2B Q4_K_M, pavlokhmel.com, 2026-06"},
    {"cloud-h100-pcie", 0, "H100 PCIe", false, 133.8, "XiongjieDai/GPU-Benchmarks-on-LLM-Inference, Dec 2023"},
    /* the RTX 3080 laptop's calibration card: its efficiencies on the 3090's 936 GB/s */
    {"rtx3080-laptop", 936, "RTX 3090 (the laptop's calibration)", false, 120.6,
     "XiongjieDai/GPU-Benchmarks-on-LLM-Inference, Dec 2023"},
};

static void within_1_5x_of_published(void **s) {
    printf("  %-22s %-36s %-15s %10s %10s %10s %6s\n", "profile", "device of the figure", "model", "calibrated",
           "bound", "published", "ratio");
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        const published *f = &figures[i];
        const gc_profile *p = prof(f->profile);
        rp_row r = decode_row(f->tiny ? TINY_W : L7B_W);
        rp_proj pr;
        assert_int_equal(rp_project(p, f->bw_gbs > 0 ? f->bw_gbs : p->mem_bw_gbs, &r, &pr), 0);
        double tps = 1 / pr.seconds, ratio = tps / f->tps;
        printf("  %-22s %-36s %-15s %10.1f %10.0f %10.1f %5.2fx  (%s)\n", f->profile, f->device,
               f->tiny ? "tinyllama-1.1b" : "llama2-7b", tps, 1 / pr.bound_s, f->tps, ratio, f->source);
        if (ratio > 1.5 || ratio < 1 / 1.5)
            fail_msg("%s %s: projected %.1f token/s, published %.1f (%s)", f->profile,
                     f->tiny ? "tinyllama-1.1b" : "llama2-7b", tps, f->tps, f->source);
        assert_true(pr.bound_s < pr.seconds);
        assert_non_null(strstr(pr.calib, "calibrated: "));
    }
}

/* Profiles without a published figure of their own device: projected, between the nearest
 * published figure's neighbourhood and the bound, and printed for the record. */
static void uncovered_profiles_projected(void **s) {
    const char *ids[] = {"colab-pro-a100", "cloud-h100", "cloud-h100-pcie", "rtx3080-laptop", "colab-pro-t4", "colab-pro-l4"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        for (int tiny = 0; tiny < 2; tiny++) {
            const gc_profile *p = prof(ids[i]);
            rp_row r = decode_row(tiny ? TINY_W : L7B_W);
            rp_proj pr;
            assert_int_equal(rp_project(p, p->mem_bw_gbs, &r, &pr), 0);
            printf("  %-22s %-15s calibrated %7.1f  bound %7.0f token/s\n", ids[i], tiny ? "tinyllama-1.1b" : "llama2-7b",
                   1 / pr.seconds, 1 / pr.bound_s);
            assert_true(pr.bound_s < pr.seconds);
        }
    /* the H100 SXM, whose 7B figure is not published here, is at least its PCIe sibling's 133.8
     * (same chip, 1.7x the bandwidth) */
    rp_row r = decode_row(L7B_W);
    rp_proj pr;
    assert_int_equal(rp_project(prof("cloud-h100"), 3350, &r, &pr), 0);
    assert_true(1 / pr.seconds > 133.8);
}

static void formula_by_hand(void **s) {
    /* A100 80GB, tinyllama decode: max(bytes / (2039 GB/s × 0.28), FLOPs / (312 TFLOPS × 0.15)) + 0.68 ms */
    rp_row r = decode_row(TINY_W);
    rp_proj pr;
    assert_int_equal(rp_project(prof("cloud-a100-80gb"), 2039, &r, &pr), 0);
    double b = TINY_W * 18 / 32, f = 2 * TINY_W;
    double want = fmax(b / (2039e9 * 0.28), f / (312e12 * 0.15)) + 0.00068;
    assert_true(fabs(pr.seconds - want) < 1e-12);
    assert_true(fabs(pr.bound_s - fmax(b / 2039e9, f / 312e12)) < 1e-12);
    assert_string_equal(pr.precision, "FP16");
    /* the basis shows the rounded range first: 589 (bound 3,500) token/s */
    char lead[64];
    snprintf(lead, sizeof lead, "%.0f (bound 3,500) token/s: 0.582 GB", round(1 / want));
    if (strncmp(pr.basis, lead, strlen(lead))) fail_msg("basis '%s' does not start '%s'", pr.basis, lead);
    /* a generation of P = 128, N = 32: bandwidth time + compute time + 32 passes */
    rp_row g = r;
    snprintf(g.id.phase, sizeof g.id.phase, "generation");
    snprintf(g.unit, sizeof g.unit, "generation");
    g.gen_tokens = 32;
    g.prompt_tokens = 128;
    g.bytes_per_rep = 32 * b;
    g.flops_per_rep = 159 * f;
    assert_int_equal(rp_project(prof("cloud-a100-80gb"), 2039, &g, &pr), 0);
    want = 32 * b / (2039e9 * 0.28) + 159 * f / (312e12 * 0.15) + 32 * 0.00068;
    assert_true(fabs(pr.seconds - want) < 1e-12);
    assert_true(pr.passes == 32);
    /* prefill: one pass */
    snprintf(g.id.phase, sizeof g.id.phase, "prefill");
    snprintf(g.unit, sizeof g.unit, "token");
    assert_true(rp_proj_passes(&g) == 1);
}

static void m1_on_its_cpu(void **s) {
    const gc_profile *m1 = prof("apple-m1-macbook-air");
    rp_row r = decode_row(L7B_W);
    rp_proj pr;
    assert_int_equal(rp_project(m1, 68.25, &r, &pr), 0);
    /* q4_0 meets the CPU's SDOT peak, 1.64 TOPS, not the GPU's 2.6 TFLOPS */
    assert_string_equal(pr.precision, "INT8");
    assert_true(pr.peak == 1.64e12);
    assert_non_null(strstr(pr.basis, "its CPU (no gencost backend for its GPU)"));
    double b = L7B_W * 18 / 32, f = 2 * L7B_W;
    assert_true(fabs(pr.seconds - (fmax(b / (68.25e9 * 0.82), f / (1.64e12 * 0.5)) + 0.0024)) < 1e-12);
    /* an f32 case: the CPU's FP32 peak, 0.41 TFLOPS */
    snprintf(r.id.quant, sizeof r.id.quant, "f32");
    const char *which;
    double eff;
    assert_true(rp_proj_peak(m1, "f32", &which, &eff) == 0.41e12);
    assert_string_equal(which, "FP32");
    /* triad is a CPU stream: projected on the M1's CPU, never on a GPU profile */
    rp_row t;
    memset(&t, 0, sizeof t);
    snprintf(t.id.workload, sizeof t.id.workload, "triad");
    snprintf(t.id.phase, sizeof t.id.phase, "triad");
    snprintf(t.id.quant, sizeof t.id.quant, "-");
    snprintf(t.unit, sizeof t.unit, "GB");
    t.work_per_rep = 0.8;
    t.bytes_per_rep = 0.8e9;
    assert_int_equal(rp_project(m1, 68.25, &t, &pr), 0);
    assert_true(fabs(0.8 / pr.seconds - 68.25 * 0.82) < 1e-9);   /* no per-pass time outside llm */
    assert_int_equal(rp_project(prof("cloud-h100"), 3350, &t, &pr), -1);
}

static void uncalibrated_profile_is_the_bound_at_defaults(void **s) {
    gc_profile p;
    memset(&p, 0, sizeof p);
    p.mem_bw_gbs = 100;
    p.peak_tflops_fp32 = 1;
    p.runs_on_cpu = true;
    p.bw_efficiency = GC_PROJ_BW_EFFICIENCY;
    p.compute_efficiency = p.compute_efficiency_fp16 = p.compute_efficiency_int8 = GC_PROJ_COMPUTE_EFFICIENCY;
    rp_row r = decode_row(1e9);
    rp_proj pr;
    assert_int_equal(rp_project(&p, 100, &r, &pr), 0);
    /* no int8 peak: FP32; max(0.5625 GB / 100 GB/s, 2 GFLOP / 0.5 TFLOPS) */
    assert_true(fabs(pr.seconds - fmax(0.5625e9 / 100e9, 2e9 / 0.5e12)) < 1e-15);
    assert_non_null(strstr(pr.calib, "uncalibrated"));
    /* no bandwidth known: no projection */
    assert_int_equal(rp_project(&p, 0, &r, &pr), -1);
}

static void measured_rows_on_the_projected_device_only(void **s) {
    rp_model m;
    memset(&m, 0, sizeof m);
    m.n_hosts = 1;
    m.hosts[0].prof = prof("apple-m1-macbook-air");
    m.hosts[0].measured = true;
    rp_row r = decode_row(TINY_W);
    r.how = RP_MEASURED;
    r.tput = 60;
    rp_proj pr;
    assert_int_equal(rp_project_measured(&m, &r, &pr), 0);   /* a cpu row on a runs_on = cpu profile */
    snprintf(r.id.backend, sizeof r.id.backend, "cuda");
    assert_int_equal(rp_project_measured(&m, &r, &pr), -1);
    m.hosts[0].prof = prof("cloud-h100");
    assert_int_equal(rp_project_measured(&m, &r, &pr), 0);   /* a GPU row on a GPU profile */
    snprintf(r.id.backend, sizeof r.id.backend, "cpu");
    assert_int_equal(rp_project_measured(&m, &r, &pr), -1);  /* the host's CPU is not what it projects */
}

/* Stable Diffusion 1.5, one 512×512 UNet step with guidance in F16 (the planned model's FLOPs,
 * 1.607 T, and the UNet's weight bytes), projected from the GPU profiles' FP16 calibration: within
 * 1.5× of the published it/s (shared/reference: A100 80GB SXM diffusers 31.4 it/s, fal's
 * benchmarks; T4 6.9 it/s). */
static void sd15_step_within_1_5x_of_published(void **s) {
    sd_shape sh = {.width = 512, .height = 512, .steps = 20, .guidance = true, .guidance_scale = 7.5f, .seed = 1};
    gc_err err = {{0}};
    sd_model *m = sd_plan(sd_preset("sd1.5"), &sh, GK_F16, &err);
    if (!m) fail_msg("%s", err.msg);
    rp_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.id.workload, sizeof r.id.workload, "image");
    snprintf(r.id.phase, sizeof r.id.phase, "unet-step");
    snprintf(r.id.quant, sizeof r.id.quant, "f16");
    snprintf(r.id.backend, sizeof r.id.backend, "cpu");
    snprintf(r.id.params, sizeof r.id.params, "guidance=1,guidance-scale=7.5,height=512,steps=20,width=512");
    snprintf(r.unit, sizeof r.unit, "it");
    r.work_per_rep = 1;
    r.flops_per_rep = sd_counts_step(m).flops;
    r.bytes_per_rep = (double)sd_counts_step(m).weight_bytes;
    sd_free(m);
    assert_float_equal(r.flops_per_rep / 1e12, 1.607, 0.001);
    static const struct { const char *id; double published; } pub[] = {{"cloud-a100-80gb", 31.4}, {"colab-pro-t4", 6.9}};
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        rp_proj pr;
        const gc_profile *p = prof(pub[i].id);
        assert_int_equal(rp_project(p, p->mem_bw_gbs, &r, &pr), 0);
        double its = 1 / pr.seconds, ratio = its / pub[i].published;
        printf("  sd1.5 512x512 unet step, %-16s projected %5.1f it/s, published %5.1f: %.2fx\n", pub[i].id, its,
               pub[i].published, ratio);
        if (ratio < 1 / 1.5 || ratio > 1.5) fail_msg("%s: %.1f it/s projected vs %.1f published", pub[i].id, its, pub[i].published);
        assert_float_equal(pr.passes, 1, 0);   /* one UNet pass (the guidance batch together) */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weights_hand_counted),
        cmocka_unit_test(within_1_5x_of_published),
        cmocka_unit_test(sd15_step_within_1_5x_of_published),
        cmocka_unit_test(uncovered_profiles_projected),
        cmocka_unit_test(formula_by_hand),
        cmocka_unit_test(m1_on_its_cpu),
        cmocka_unit_test(uncalibrated_profile_is_the_bound_at_defaults),
        cmocka_unit_test(measured_rows_on_the_projected_device_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
