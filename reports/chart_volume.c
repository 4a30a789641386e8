/* Cost vs volume: per costed job, every target's month (USD) against jobs a month, log-log, one
 * line per target in its host's colour (solid measured, dashed projected, dotted an api), the
 * break-evens where two lines cross marked and numbered, and the user's volumes as vertical lines.
 * A line ends where its target cannot do more (a subscription's cap, an owned machine's hours). */
#include "reports/charts.h"

#include <math.h>
#include <string.h>

#include "base/escape.h"
#include "reports/volume.h"

#define MAX_VOLUME_CHARTS 4   /* the first costed jobs; the tables hold every job */
#define SAMPLES_PER_DECADE 24
#define MAX_MARKED 9          /* break-evens numbered on a chart; the table lists them all */

static int line_type(const rp_model *m, const rp_job *job, int h) {
    const rp_row *r = rp_target_row(m, job, h);   /* an api's own row when it stands in for the job */
    if (!r || r->how == RP_PROFILE) return 3;     /* an api's stated price */
    return r->how == RP_MEASURED ? 1 : 2;
}

/* The volumes shown: 1 a month to 10× past the largest of the user's volumes and break-evens,
 * at least 100,000. */
static double x_top(const rp_model *m, const rp_crossing *cr, int nc) {
    double vols[GC_REPORT_MAX_VOLUMES], top = 1e5;
    int nv = rp_volumes(m, vols);
    for (int i = 0; i < nv; i++) top = fmax(top, vols[i] * 10);
    for (int i = 0; i < nc && i < MAX_MARKED; i++) top = fmax(top, cr[i].volume * 10);
    return fmin(pow(10, ceil(log10(top))), RP_BE_HI);
}

static void target_block(FILE *d, const rp_model *m, int h, const gc_job_cost *cost, double top) {
    int steps = (int)lround(log10(top) * SAMPLES_PER_DECADE);
    for (int i = 0; i <= steps; i++) {
        double v = pow(10, (double)i / SAMPLES_PER_DECADE);
        gc_volume_cost c;
        gc_err err;
        if (!cost_at_volume(m->hosts[h].prof, cost, v, rp_amortised(m, h), &c, &err) && c.possible && c.monthly_usd > 0)
            fprintf(d, "%.6g %.6g\n", v, c.monthly_usd);
        else fprintf(d, "%.6g ?\n", v);   /* past its cap: the line ends */
    }
    fputs("\n\n", d);
}

static int volume_chart(chart_ctx *c, const rp_job *job, int seq) {
    const rp_model *m = c->m;
    int hosts[RP_MAX_HOSTS];
    const gc_job_cost *costs[RP_MAX_HOSTS];
    int k = rp_job_targets(m, job, hosts, costs);
    if (k < 1) return 0;
    static rp_crossing cr[RP_MAX_HOSTS * (RP_MAX_HOSTS - 1) / 2];
    int nc = rp_job_crossings(m, job, cr);
    double top = x_top(m, cr, nc);
    chart_files f;
    if (chart_open(&f)) return snprintf(c->err.msg, sizeof c->err.msg, "out of memory"), -1;
    char name[32], jn[200], title[160], caption[480];
    snprintf(name, sizeof name, "volume-%d", seq);
    chart_job_name(m, job, jn, sizeof jn);
    snprintf(title, sizeof title, "Monthly cost vs volume: %.120s", jn);
    snprintf(caption, sizeof caption,
             "What a month costs on each target at each volume (jobs a month), log-log, in each host's colour: solid "
             "measured, dashed projected, dotted an api's price. A line ends where its target can do no more (a "
             "subscription's cap, an owned machine's hours). Numbered circles: break-evens, listed in the table "
             "'Break-even volumes between targets'. Grey lines: the volumes asked for (jobs a month). %s",
             m->amortise ? "Owned machines amortised (--amortise)."
                         : "Owned machines measured here at electricity only; profiled ones amortised (a purchase).");
    gp_prologue(f.g, name, title);
    fprintf(f.g, "set logscale xy\nset format x '%%.0s%%c'\nset xlabel 'jobs a month'\nset ylabel 'USD a month'\n"
                 "set xrange [1:%g]\nset yrange [0.01<*:*]\nset format y '$%%g'\nset grid xtics ytics\n", top);
    double vols[GC_REPORT_MAX_VOLUMES];
    int nv = rp_volumes(m, vols);
    for (int i = 0; i < nv; i++) {   /* the volumes asked for: grey lines, named at the top */
        char vol[32];
        volume_fmt_num(vol, sizeof vol, vols[i]);
        fprintf(f.g, "set arrow %d from first %g, graph 0 to first %g, graph 1 nohead lw 1.5 dt 4 lc rgb '#888888' back\n"
                     "set label %d '%s' at first %g, graph 1 offset 0.4,-0.9 tc rgb '#666666' font ',9'\n",
                i + 1, vols[i], vols[i], i + 1, vol, vols[i]);   /* vol: digits and commas only */
    }
    fputs("plot ", f.g);
    for (int i = 0; i < k; i++) {
        target_block(f.d, m, hosts[i], costs[i], top);
        char tag[128];
        rp_host_tag(m, hosts[i], tag, sizeof tag);
        fputs(i ? ", \\\n     " : "", f.g);
        gp_file(f.g, name, "dat");
        fprintf(f.g, " index %d using 1:2 with lines lw 2 dt %d", i, line_type(m, job, hosts[i]));
        gp_host_colour(f.g, hosts[i]);
        fputs(" title ", f.g);
        gc_gp_quote(f.g, tag);
    }
    /* crossings at one spot (within 30% both ways) share a circle, its label their numbers "2–5";
     * labels alternate above and below the circles so neighbours do not overwrite each other */
    int marked = 0, first = 0;
    char below[MAX_MARKED * 64] = "";
    size_t nb = 0;
    for (int i = 0; i <= nc && i <= MAX_MARKED; i++) {
        bool near = i < nc && i < MAX_MARKED && i > first && cr[i].volume < cr[first].volume * 1.3 &&
                    fabs(log(cr[i].monthly_usd / cr[first].monthly_usd)) < log(1.3);
        if (i > first && !near) {
            char line[64];
            if (i - 1 > first) snprintf(line, sizeof line, "%.6g %.6g %d–%d\n", cr[first].volume, cr[first].monthly_usd,
                                        first + 1, i);
            else snprintf(line, sizeof line, "%.6g %.6g %d\n", cr[first].volume, cr[first].monthly_usd, first + 1);
            if (marked++ % 2 == 0) fputs(line, f.d);
            else nb += (size_t)snprintf(below + nb, sizeof below - nb, "%s", line);
            first = i;
        }
    }
    if (marked) {
        fprintf(f.d, "\n\n%s%s", below, nb ? "" : "? ? ?\n");   /* block k: above; k + 1: below (maybe none) */
        fputs(", \\\n     ", f.g);
        gp_file(f.g, name, "dat");
        fprintf(f.g, " index %d:%d using 1:2 with points pt 6 ps 2.2 lw 2 lc rgb '#000000' title 'break-even', \\\n     ",
                k, k + 1);
        gp_file(f.g, name, "dat");
        fprintf(f.g, " index %d using 1:2:3 with labels offset 0,1.4 notitle, \\\n     ", k);
        gp_file(f.g, name, "dat");
        fprintf(f.g, " index %d using 1:2:3 with labels offset 0,-1.4 notitle", k + 1);
    }
    fputc('\n', f.g);
    return chart_commit(c, &f, name, title, caption);
}

int chart_volume(chart_ctx *c) {
    int seq = 0;
    for (int j = 0; j < c->m->n_jobs && seq < MAX_VOLUME_CHARTS; j++) {
        if (!rp_job_in_volume_tables(c->m, &c->m->jobs[j])) continue;
        int before = c->n;
        if (volume_chart(c, &c->m->jobs[j], seq + 1)) return -1;
        seq += c->n > before;
    }
    return 0;
}
