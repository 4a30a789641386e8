/* Projection of a case onto a host that did not run it, from the host's profile (inside `gencost
 * report`). Two figures per repetition:
 *
 *   bound       the roofline: bytes ÷ datasheet bandwidth and FLOPs ÷ datasheet peak of the
 *               precision gencost would compute in there, the larger for one phase, the sum for
 *               a whole generation (compute-bound prefill, then memory-bound decode). No real
 *               run beats it.
 *   calibrated  the same with the profile's [projection] efficiencies, measured from published
 *               runs (llama.cpp, Stable Diffusion): bytes ÷ (bandwidth × bandwidth_efficiency),
 *               FLOPs ÷ (peak × compute_efficiency of that precision), plus per_token_s for each
 *               forward pass (the launch/sync floor that dominates small models on big GPUs).
 *
 * Which ceilings: a profile that runs on its GPU (runs_on = gpu) computes quantized and f16 cases
 * in FP16 on tensor cores (gencost's CUDA backend dequantises to F16 and calls cuBLAS with F32
 * accumulation), f32 cases in FP32; triad runs on the CPU only, so a GPU is not projected for it.
 * A profile that runs on its CPU (runs_on = cpu: the M1, whose GPU gencost has no backend for)
 * uses the CPU's own peaks (cpu_peak_*; else the [hardware] peaks, which are then the CPU's):
 * quantized cases in INT8 dot products (SDOT, VNNI), float cases in FP32.
 */
#ifndef GC_PROJECTION_H
#define GC_PROJECTION_H
#include <stdbool.h>
#include <stddef.h>
#include "bench/host/profile.h"
#include "reports/report_model.h"

typedef struct rp_proj {
    double seconds;          /* calibrated time of one repetition */
    double bound_s;          /* roofline time of one repetition (no efficiency, no per-pass time) */
    double passes;           /* forward passes in a repetition (per_token_s is paid per pass) */
    const char *precision;   /* "FP32", "FP16", "INT8": the peak used */
    double peak;             /* ops/s of that precision; 0 when the case has no FLOPs */
    double compute_eff;      /* efficiency applied to it */
    char basis[256];         /* "589 (bound 3,500) token/s: 0.582 GB ÷ (2,039 GB/s × 0.28) + 1 × 0.68 ms;
                              * calibrated (2026-06): <source>" */
    char calib[160];         /* the calibration's source and date, or "uncalibrated: ..." */
} rp_proj;

/* Peak ops/s p's device offers for a case of quant, as gencost would compute it there (see
 * above); *which names the precision, *eff the profile's efficiency for it. 0 when unknown. */
double rp_proj_peak(const gc_profile *p, const char *quant, const char **which, double *eff);

/* The CPU's own peak ops/s (INT8 dot products or FP32 FMA) when the profile gives them beside an
 * accelerator's, else [hardware]'s (a CPU-only profile, whose peaks are its CPU's); 0 unknown. */
double rp_cpu_peak(const gc_profile *p, bool int8);

/* Forward passes one repetition of ref makes: llm decode one per token, prefill one, a whole
 * generation one per new token; image one per prompt, UNet step or decode (a generation: its
 * steps + 3); other workloads 0. */
double rp_proj_passes(const rp_row *ref);

/* Projects one repetition of ref (its bytes, FLOPs and passes) onto profile p whose memory
 * bandwidth is bw_gbs (the profile's, or the host's measured triad). unit: the row's unit, for
 * the basis text. Returns 0, or -1 when p lacks a ceiling the case needs or the case does not
 * run on p's device. */
int rp_project(const gc_profile *p, double bw_gbs, const rp_row *ref, rp_proj *out);

/* The projection of a measured row from its own host's profile, to put beside the measurement:
 * only when the row ran on the device the profile projects (cpu rows for runs_on = cpu, GPU
 * rows otherwise). Returns 0 and fills *out, or -1 when there is nothing comparable. */
int rp_project_measured(const rp_model *m, const rp_row *r, rp_proj *out);

#endif
