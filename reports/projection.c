/* Projection of a case onto a host from its profile: the roofline bound and the calibrated
 * estimate (formulas and ceilings in projection.h). */
#include "reports/projection.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/volume.h"

static bool is_float_quant(const char *q) {
    return !strcmp(q, "f32") || !strcmp(q, "-") || !strcmp(q, "f16") || !strcmp(q, "bf16");
}

double rp_cpu_peak(const gc_profile *p, bool int8) {
    if (p->cpu_peak_tflops_fp32 > 0) return (int8 ? p->cpu_peak_tops_int8 : p->cpu_peak_tflops_fp32) * 1e12;
    return (int8 ? p->peak_tops_int8 : p->peak_tflops_fp32) * 1e12;
}

double rp_proj_peak(const gc_profile *p, const char *quant, const char **which, double *eff) {
    bool fp32_only = !strcmp(quant, "f32") || !strcmp(quant, "-");
    if (p->runs_on_cpu) {
        /* quantized weights meet int8 activations in dot products (SDOT, VNNI) */
        if (!is_float_quant(quant) && rp_cpu_peak(p, true) > 0) {
            *which = "INT8";
            *eff = p->compute_efficiency_int8;
            return rp_cpu_peak(p, true);
        }
        *which = "FP32";
        *eff = p->compute_efficiency;
        return rp_cpu_peak(p, false);
    }
    /* CUDA: dequantised to F16 for cuBLAS on tensor cores with F32 accumulation */
    if (!fp32_only && p->peak_tflops_fp16 > 0) {
        *which = "FP16";
        *eff = p->compute_efficiency_fp16;
        return p->peak_tflops_fp16 * 1e12;
    }
    *which = "FP32";
    *eff = p->compute_efficiency;
    return p->peak_tflops_fp32 * 1e12;
}

/* The image workload's forward passes: a prompt each through the text encoder, one UNet pass
 * per step (its guidance batch and its images run together), one decoder pass per image (its
 * batch param, 1 when absent); a generation all of them. */
static double image_passes(const rp_row *ref) {
    char v[16];
    double steps = gc_params_get(ref->id.params, "steps", v, sizeof v) ? atof(v) : 0;
    double images = gc_params_get(ref->id.params, "batch", v, sizeof v) && atof(v) >= 1 ? atof(v) : 1;
    if (!strcmp(ref->id.phase, "generation")) return steps > 0 ? steps + 2 + images : 0;
    if (!strcmp(ref->id.phase, "vae-decode")) return images;
    return !strcmp(ref->id.phase, "text-encode") ? ref->work_per_rep : 1;
}

double rp_proj_passes(const rp_row *ref) {
    if (!strcmp(ref->id.workload, "image")) return image_passes(ref);
    if (strcmp(ref->id.workload, "llm")) return 0;
    if (!strcmp(ref->id.phase, "decode")) return ref->work_per_rep;
    if (!strcmp(ref->id.phase, "prefill")) return 1;
    if (!strcmp(ref->id.phase, "generation") || !strcmp(ref->unit, "generation"))
        return ref->gen_tokens > 0 ? ref->gen_tokens : 1;
    return 0;
}


/* "181 (bound 740) token/s: 72 GB ÷ (3,350 GB/s × 0.27) + 16 × 0.55 ms; calibrated (2026-06):
 * <source>": the range first, rounded; then the terms that set the time (a single phase shows
 * the binding one, a generation both); then where the efficiencies came from. */
static void write_basis(const gc_profile *p, double bw_gbs, const rp_row *ref, rp_proj *o, bool sum, bool bw_binds) {
    char est[32], bound[32], gb[32], bw[32], gflop[32], peak[32], mem[96] = "", comp[96] = "", floor_s[64] = "";
    volume_fmt_sig(est, sizeof est, ref->work_per_rep / o->seconds, 3);
    volume_fmt_sig(bound, sizeof bound, ref->work_per_rep / o->bound_s, 2);
    volume_fmt_sig(gb, sizeof gb, ref->bytes_per_rep / 1e9, 3);
    volume_fmt_sig(bw, sizeof bw, bw_gbs, 4);
    volume_fmt_sig(gflop, sizeof gflop, ref->flops_per_rep / 1e9, 3);
    volume_fmt_sig(peak, sizeof peak, o->peak / 1e12, 3);
    if (ref->bytes_per_rep > 0 && (sum || bw_binds))
        snprintf(mem, sizeof mem, "%s GB ÷ (%s GB/s × %.2g)", gb, bw, p->bw_efficiency);
    if (ref->flops_per_rep > 0 && (sum || !bw_binds))
        snprintf(comp, sizeof comp, "%s%s GFLOP ÷ (%s %s T × %.2g)", mem[0] ? " + " : "", gflop, o->precision, peak,
                 o->compute_eff);
    if (o->passes > 0 && p->per_token_s > 0)
        snprintf(floor_s, sizeof floor_s, " + %g × %.2g ms", o->passes, p->per_token_s * 1e3);
    const char *cpu = p->runs_on_cpu && p->cpu_peak_tflops_fp32 > 0 ? "; its CPU (no gencost backend for its GPU)" : "";
    char range[128];
    snprintf(range, sizeof range, "%s (bound %s) %s/s: ", est, bound, ref->unit);
    /* pieces in turn: a long source loses its tail, never the figures before it */
    /* training on a GPU is held to its own anchor (o->calib says which), not the profile's llm calibration */
    const bool cal = p->calibrated && strncmp(o->calib, "training:", 9) != 0;
    const char *pieces[] = {range, mem, comp, floor_s, cpu, cal ? "; calibrated (" : "; ", cal ? p->proj_as_of : o->calib,
                            cal ? "): " : "", cal ? p->proj_source : ""};
    size_t used = 0;
    o->basis[0] = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0] && used + 1 < sizeof o->basis; i++) {
        int k = snprintf(o->basis + used, sizeof o->basis - used, "%s", pieces[i]);
        if (k > 0) used += (size_t)k;
        if (used >= sizeof o->basis) used = sizeof o->basis - 1;
    }
}

/* Training runs its matmuls in F32 whatever the frozen base's format (dX through a quantised
 * base is dequantised panels times F32), so its ceiling is the FP32 peak. On a GPU the
 * efficiency is llm.c's: GPT-2 124M at ~60% MFU on A100s (discussion #481; BF16 on tensor
 * cores there, so for gencost's F32 CUDA path an optimistic anchor); on a CPU the profile's. */
#define TRAIN_GPU_MFU 0.6
static double train_peak(const gc_profile *p, const char **which, double *eff) {
    *which = "FP32";
    *eff = p->runs_on_cpu ? p->compute_efficiency : TRAIN_GPU_MFU;
    return p->runs_on_cpu ? rp_cpu_peak(p, false) : p->peak_tflops_fp32 * 1e12;
}

int rp_project(const gc_profile *p, double bw_gbs, const rp_row *ref, rp_proj *o) {
    memset(o, 0, sizeof *o);
    if (!p->runs_on_cpu && !strcmp(ref->id.workload, "triad")) return -1;   /* a CPU stream */
    double eff = 0;
    bool train = !strcmp(ref->id.workload, "train");
    o->peak = train ? train_peak(p, &o->precision, &eff) : rp_proj_peak(p, ref->id.quant, &o->precision, &eff);
    o->compute_eff = eff;
    bool has_bytes = ref->bytes_per_rep > 0, has_flops = ref->flops_per_rep > 0;
    if ((!has_bytes && !has_flops) || (has_bytes && !(bw_gbs > 0)) || (has_flops && !(o->peak > 0)) ||
        !(ref->work_per_rep > 0))
        return -1;
    double bw_eff = p->bw_efficiency;
    double bw = bw_gbs * 1e9;
    double b_bw = has_bytes ? ref->bytes_per_rep / bw : 0, b_c = has_flops ? ref->flops_per_rep / o->peak : 0;
    double t_bw = b_bw / bw_eff, t_c = has_flops ? b_c / eff : 0;
    bool sum = !strcmp(ref->id.phase, "generation") || !strcmp(ref->unit, "generation");
    o->passes = rp_proj_passes(ref);
    o->bound_s = sum ? b_bw + b_c : fmax(b_bw, b_c);
    o->seconds = (sum ? t_bw + t_c : fmax(t_bw, t_c)) + o->passes * p->per_token_s;
    if (!(o->seconds > 0) || !(o->bound_s > 0)) return -1;
    if (train && !p->runs_on_cpu)
        snprintf(o->calib, sizeof o->calib, "training: llm.c's ~60%% MFU on A100 (GPT-2 124M, BF16) as the efficiency");
    else if (p->calibrated)
        snprintf(o->calib, sizeof o->calib, "calibrated: %.112s (%.31s)", p->proj_source, p->proj_as_of);
    else
        snprintf(o->calib, sizeof o->calib, "uncalibrated: roofline defaults (bandwidth × %.2g, peak × %.2g)",
                 GC_PROJ_BW_EFFICIENCY, GC_PROJ_COMPUTE_EFFICIENCY);
    write_basis(p, bw_gbs, ref, o, sum, t_bw >= t_c);
    return 0;
}

int rp_project_measured(const rp_model *m, const rp_row *r, rp_proj *out) {
    const gc_profile *p = m->hosts[r->host].prof;
    if (r->how != RP_MEASURED || !p || p->kind == GC_COST_API) return -1;
    bool cpu_row = !strcmp(r->id.backend, "cpu");
    if (cpu_row != p->runs_on_cpu) return -1;   /* the profile projects the other device */
    return rp_project(p, rp_host_bw(m, r->host), r, out);
}
