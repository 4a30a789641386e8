/* Roofline charts: each measured case placed at its arithmetic intensity (FLOP per byte moved)
 * and achieved rate, against the ceilings of the hardware it ran on *in the precision it computed
 * in* — one chart per precision, so no point is judged against a peak it could not use:
 *
 *   INT8  quantized weights on a CPU (dot products on int8 activations: VNNI, SDOT);
 *   FP16  quantized and f16 weights on a GPU (gencost's CUDA backend computes in F16 on tensor
 *         cores, projection.h);
 *   FP32  float weights on a CPU (and the image workload, whose convolution kernels are float),
 *         f32 on a GPU.
 *
 * The bandwidth roof is a read-only stream's (the cases stream weights and only read them): the
 * host's measured read probe, else its triad, for CPU cases; the profile's datasheet bandwidth
 * for GPU cases. The compute roof is the profile's peak for that device and precision, else for
 * FP32 on a CPU the measured FMA peak; with neither, only the bandwidth roof is drawn and the
 * legend says so. Triad is the bandwidth probe itself, not a case, so it is no point here. */
#include "reports/charts.h"

#include <math.h>
#include <string.h>

#include "base/escape.h"
#include "reports/projection.h"
#include "reports/volume.h"

enum { PREC_INT8, PREC_FP16, PREC_FP32, N_PREC };
static const char *const prec_name[] = {"INT8", "FP16", "FP32"};
static const char *const prec_file[] = {"roofline-int8", "roofline-fp16", "roofline-fp32"};

static bool float_quant(const char *q) {
    return !strcmp(q, "f32") || !strcmp(q, "f16") || !strcmp(q, "bf16") || !strcmp(q, "-") || !q[0];
}

static bool on_gpu(const rp_row *r) { return !strcmp(r->id.backend, "cuda"); }

/* The image workload's FLOPs are mostly its convolutions, whose kernels are float (F16, computed
 * in F32 on a CPU) whatever the linear layers' format. */
static int precision_of(const rp_row *r) {
    if (on_gpu(r)) return !strcmp(r->id.quant, "f32") ? PREC_FP32 : PREC_FP16;
    return float_quant(r->id.quant) || !strcmp(r->id.workload, "image") ? PREC_FP32 : PREC_INT8;
}

/* A host's ceilings on one device in one precision. */
typedef struct roof {
    double peak_gops, bw_gbs;   /* 0: unknown */
    const char *peak_from, *bw_from;
} roof;

static roof roof_of(const rp_model *m, int h, bool gpu, int prec) {
    const rp_host *x = &m->hosts[h];
    const gc_profile *p = x->prof;
    roof r = {0, 0, "", ""};
    if (gpu) {
        if (!p) return r;
        double tera = prec == PREC_FP32 ? p->peak_tflops_fp32 : prec == PREC_FP16 ? p->peak_tflops_fp16 : p->peak_tops_int8;
        r.peak_gops = tera * 1e3;
        r.peak_from = "datasheet";
        r.bw_gbs = p->mem_bw_gbs;
        r.bw_from = "datasheet";
        return r;
    }
    /* the CPU: a profile's CPU peaks only where they are the CPU's (runs_on = cpu, or cpu_peak_*) */
    if (p && (p->runs_on_cpu || p->cpu_peak_tflops_fp32 > 0) && prec != PREC_FP16) {
        r.peak_gops = rp_cpu_peak(p, prec == PREC_INT8) / 1e9;
        r.peak_from = "profile";
    }
    if (!(r.peak_gops > 0) && prec == PREC_FP32 && x->meas_fma_gflops > 0) {
        r.peak_gops = x->meas_fma_gflops;
        r.peak_from = "measured FMA";
    }
    if (x->meas_read_gbs > 0) r.bw_gbs = x->meas_read_gbs, r.bw_from = "read, measured";
    else if (x->meas_bw_gbs > 0) r.bw_gbs = x->meas_bw_gbs, r.bw_from = "triad, measured";
    else if (p && p->runs_on_cpu && p->mem_bw_gbs > 0) r.bw_gbs = p->mem_bw_gbs, r.bw_from = "datasheet";
    return r;
}

static bool is_point(const rp_row *r, int prec) {
    return r->how == RP_MEASURED && r->bytes_per_rep > 0 && r->flops_per_rep > 0 && r->work_per_rep > 0 &&
           strcmp(r->id.workload, "triad") && precision_of(r) == prec;
}

/* The roof line of (h, device) and its points; the x range grows to hold them. */
static void host_series(FILE *d, FILE *p, const rp_model *m, int h, bool gpu, int prec, const char *name, int *block,
                        int *plots, double *xlo, double *xhi) {
    roof r = roof_of(m, h, gpu, prec);
    char tag[128], title[320], peak[32], bw[32];
    rp_host_tag(m, h, tag, sizeof tag);
    volume_fmt_sig(peak, sizeof peak, r.peak_gops, 3);
    volume_fmt_sig(bw, sizeof bw, r.bw_gbs, 3);
    const char *dev = gpu ? "GPU" : "CPU";
    if (r.bw_gbs > 0) {
        fputs(*plots ? ", \\\n     " : "", p);
        if (r.peak_gops > 0) {
            fprintf(p, "(x*%g < %g ? x*%g : %g) with lines lw 2 dt %d", r.bw_gbs, r.peak_gops, r.bw_gbs, r.peak_gops,
                    gpu ? 2 : 1);
            snprintf(title, sizeof title, "%s %s roof: %s %s G/s (%s), %s GB/s (%s)", tag, dev, prec_name[prec], peak,
                     r.peak_from, bw, r.bw_from);
            double ridge = r.peak_gops / r.bw_gbs;
            *xlo = fmin(*xlo, ridge / 4);
            *xhi = fmax(*xhi, ridge * 4);
        } else {
            fprintf(p, "x*%g with lines lw 2 dt 4", r.bw_gbs);
            snprintf(title, sizeof title, "%s %s roof: %s GB/s (%s); no %s peak known", tag, dev, bw, r.bw_from,
                     prec_name[prec]);
        }
        gp_host_colour(p, h);
        fputs(" title ", p);
        gc_gp_quote(p, title);
        (*plots)++;
    } else if (r.peak_gops > 0) {   /* no bandwidth measured beside it: the compute roof alone */
        fputs(*plots ? ", \\\n     " : "", p);
        fprintf(p, "%g with lines lw 2 dt %d", r.peak_gops, gpu ? 2 : 1);
        snprintf(title, sizeof title, "%s %s roof: %s %s G/s (%s); no bandwidth measured", tag, dev, prec_name[prec],
                 peak, r.peak_from);
        gp_host_colour(p, h);
        fputs(" title ", p);
        gc_gp_quote(p, title);
        (*plots)++;
    }
    int pts = 0;
    for (int i = 0; i < m->n_rows; i++) {
        const rp_row *x = &m->rows[i];
        if (x->host != h || on_gpu(x) != gpu || !is_point(x, prec)) continue;
        double ai = x->flops_per_rep / x->bytes_per_rep, gops = x->flops_per_rep * (x->tput / x->work_per_rep) / 1e9;
        fprintf(d, "%.6g %.6g\n", ai, gops);
        *xlo = fmin(*xlo, ai / 4);
        *xhi = fmax(*xhi, ai * 4);
        pts++;
    }
    if (!pts) return;
    fputs("\n\n", d);
    fputs(*plots ? ", \\\n     " : "", p);
    gp_file(p, name, "dat");
    fprintf(p, " index %d using 1:2 with points pt %d ps 1.4", (*block)++, gpu ? 9 : 7);
    gp_host_colour(p, h);
    snprintf(title, sizeof title, "%s %s cases", tag, dev);
    fputs(" title ", p);
    gc_gp_quote(p, title);
    (*plots)++;
}

static int one_roofline(chart_ctx *c, int prec) {
    const rp_model *m = c->m;
    bool has[RP_MAX_HOSTS][2] = {{0}}, any = false;
    for (int i = 0; i < m->n_rows; i++)
        if (is_point(&m->rows[i], prec)) has[m->rows[i].host][on_gpu(&m->rows[i])] = any = true;
    if (!any) return 0;
    chart_files f;
    gc_memfile pf;
    FILE *p = NULL;
    if (chart_open(&f) || !(p = gc_memfile_open(&pf))) {
        if (f.d) chart_drop(&f);
        return snprintf(c->err.msg, sizeof c->err.msg, "out of memory"), -1;
    }
    int block = 0, plots = 0;
    double xlo = INFINITY, xhi = 0;
    for (int h = 0; h < m->n_hosts; h++)
        for (int gpu = 0; gpu < 2; gpu++)
            if (has[h][gpu]) host_series(f.d, p, m, h, gpu, prec, prec_file[prec], &block, &plots, &xlo, &xhi);
    fflush(p);
    char title[160], caption[480];
    snprintf(title, sizeof title, "Roofline, %s cases: achieved G%s/s vs the ceilings they can reach", prec_name[prec],
             prec == PREC_INT8 ? "OP" : "FLOP");
    snprintf(caption, sizeof caption,
             "Each point is a measured case at its arithmetic intensity (operations per byte of memory it streams), "
             "in its host's colour; each line is that host's roof in %s on the device the case ran on (solid: CPU, "
             "dashed: GPU): the read bandwidth a weight stream can reach, capped by the %s peak. Log-log.",
             prec_name[prec], prec_name[prec]);
    gp_prologue(f.g, prec_file[prec], title);
    fprintf(f.g, "set logscale xy\nset xlabel 'arithmetic intensity (operations per byte)'\nset ylabel 'G%s/s'\n"
                 "set xrange [%g:%g]\nset samples 400\nset key inside left top Left reverse box opaque\nplot %s\n",
            prec == PREC_INT8 ? "OP" : "FLOP", xlo, xhi, pf.buf);
    gc_err err;
    gc_memfile_commit(&pf, NULL, &err);
    return chart_commit(c, &f, prec_file[prec], title, caption);
}

int chart_roofline(chart_ctx *c) {
    for (int prec = 0; prec < N_PREC; prec++)
        if (one_roofline(c, prec)) return -1;
    return 0;
}
