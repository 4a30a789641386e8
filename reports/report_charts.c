/* Charts through the gnuplot program: for each chart a data file and a script, run with the
 * chart folder as working directory, writing NAME.svg and NAME.png. gnuplot is a separate program,
 * so it runs in a child process with a time limit: a broken gnuplot can never hang a report.
 *
 * Host names, job keys and profile ids come from results files and profiles of other machines,
 * and a gnuplot script is code (system(), backquotes, load, a "!" line). So text from data enters
 * a script only through gc_gp_quote (a single-quoted literal, base/escape.h), and a data file only
 * through gc_gp_field; series titles are read from the data file (columnheader). */
#include "reports/report_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/escape.h"

#define GNUPLOT_TIMEOUT_S 60

typedef struct chart_ctx {
    const rp_model *m;
    const char *dir;
    char (*names)[32];
    char (*titles)[96];
    int n;
    gc_err err;                /* why a chart file could not be written */
} chart_ctx;

/* A chart file is built in memory and written in one piece (gc_memfile): never half a script,
 * and nothing planted at its name is followed. */
typedef gc_memfile chart_file;

static FILE *file_open(chart_file *o) { return gc_memfile_open(o); }

/* Writes c->dir/name.ext from o (when f is open and write is set) and frees it; 0 on success,
 * else the reason in c->err. */
static int file_close(chart_file *o, chart_ctx *c, const char *name, const char *ext, bool write) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.%s", c->dir, name, ext);
    return gc_memfile_commit(o, write ? path : NULL, &c->err);
}

/* 'NAME.EXT' as a gnuplot string (the chart names are fixed, but they go the one way too). */
static void gp_file(FILE *f, const char *name, const char *ext) {
    char file[64];
    snprintf(file, sizeof file, "%s.%s", name, ext);
    gc_gp_quote(f, file);
}

/* The terminal lines both outputs share; pngcairo when built in, else libgd's png. */
static void gp_prologue(FILE *f, const char *name, const char *title) {
    fprintf(f, "set terminal svg size 960,540 dynamic noenhanced font 'sans,11' background rgb 'white'\n");
    fputs("set output ", f);
    gp_file(f, name, "svg");
    fputs("\nset title ", f);
    gc_gp_quote(f, title);
    fprintf(f, "\nset datafile missing '?'\nset key outside right top noenhanced\n"
               "set grid ytics\nset border 3\nset tics nomirror\n");
}

static void gp_png(FILE *f, const char *name) {
    fprintf(f, "set output\nif (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
               "{ set terminal pngcairo size 960,540 noenhanced font 'sans,10' } "
               "else { set terminal png size 960,540 noenhanced }\n"
               "set output ");
    gp_file(f, name, "png");
    fputs("\nreplot\nset output\n", f);
}

typedef double (*cell_fn)(const rp_model *m, int job, int host);

static double cell_tput(const rp_model *m, int j, int h) {
    int b = m->jobs[j].best[h];
    return b >= 0 ? m->rows[b].tput : NAN;
}
static double cell_cost(const rp_model *m, int j, int h) {
    return m->jobs[j].has_cost[h] ? m->jobs[j].cost[h].usd_per_1000 : NAN;
}
static double cell_joules(const rp_model *m, int j, int h) {
    int b = m->jobs[j].best[h];
    return b >= 0 && m->rows[b].j_per_unit >= 0 ? m->rows[b].j_per_unit : NAN;
}
static double cell_speedup(const rp_model *m, int j, int h) {
    int b = m->jobs[j].best[h], base = m->baseline >= 0 ? m->jobs[j].best[m->baseline] : -1;
    return b >= 0 && base >= 0 ? m->rows[b].tput / m->rows[base].tput : NAN;
}

/* A clustered bar chart: one group per job (those accepted by want), one bar per host with a
 * value; projected hosts hatched, hosts' figures from profiles cross-hatched. */
static int bar_chart(chart_ctx *c, const char *name, const char *title, const char *ylabel,
                     cell_fn cell, bool costed_only) {
    const rp_model *m = c->m;
    bool host_used[RP_MAX_HOSTS] = {0};
    int n_jobs = 0;
    for (int j = 0; j < m->n_jobs; j++) {
        if (costed_only && m->any_costed && !m->jobs[j].costed) continue;
        bool any = false;
        for (int h = 0; h < m->n_hosts; h++)
            if (isfinite(cell(m, j, h)) && cell(m, j, h) > 0) any = host_used[h] = true;
        n_jobs += any;
    }
    if (!n_jobs) return 0;
    chart_file df, gf;
    FILE *d = file_open(&df), *g = file_open(&gf);
    if (!d || !g) {
        file_close(&df, c, name, "dat", false);
        file_close(&gf, c, name, "gp", false);
        return -1;
    }
    gc_gp_field(d, "job");
    for (int h = 0; h < m->n_hosts; h++) {
        if (!host_used[h]) continue;
        char tag[128];
        rp_host_tag(m, h, tag, sizeof tag);
        fputc(' ', d);
        gc_gp_field(d, tag);
    }
    fputc('\n', d);
    for (int j = 0; j < m->n_jobs; j++) {
        if (costed_only && m->any_costed && !m->jobs[j].costed) continue;
        bool any = false;
        for (int h = 0; h < m->n_hosts; h++) any |= isfinite(cell(m, j, h)) && cell(m, j, h) > 0;
        if (!any) continue;
        gc_gp_field(d, m->jobs[j].key);
        for (int h = 0; h < m->n_hosts; h++) {
            if (!host_used[h]) continue;
            double v = cell(m, j, h);
            if (isfinite(v) && v > 0) fprintf(d, " %.6g", v);
            else fputs(" ?", d);
        }
        fputc('\n', d);
    }
    gp_prologue(g, name, title);
    fprintf(g, "set style data histogram\nset style histogram clustered gap 1\n"
               "set logscale y\nset xtics rotate by 25 right scale 0\nset ylabel ");
    gc_gp_quote(g, ylabel);
    fputs("\nplot ", g);
    int col = 2;
    for (int h = 0; h < m->n_hosts; h++) {
        if (!host_used[h]) continue;
        const char *fs = m->hosts[h].measured ? "solid 0.85 border -1"
                         : rp_host_projected(m, h) ? "pattern 4 border -1" : "pattern 5 border -1";
        fputs(col > 2 ? ", \\\n     " : "", g);
        gp_file(g, name, "dat");
        fprintf(g, " using %d%s title columnheader(%d) fs %s", col, col == 2 ? ":xtic(1)" : "", col, fs);
        col++;
    }
    fputc('\n', g);
    gp_png(g, name);
    int rc = file_close(&df, c, name, "dat", true);
    if (file_close(&gf, c, name, "gp", !rc) || rc) return -1;
    snprintf(c->names[c->n], 32, "%s", name);
    snprintf(c->titles[c->n], 96, "%s", title);
    c->n++;
    return 0;
}

/* Roofline: attainable GFLOP/s = min(peak, intensity × bandwidth) per host, and each measured
 * case whose bytes and FLOPs are known placed at its arithmetic intensity. */
static int roofline_chart(chart_ctx *c) {
    const rp_model *m = c->m;
    chart_file df, gf, pf;   /* pf: the plot command's clauses, until we know there are any */
    FILE *d = file_open(&df), *g = file_open(&gf), *p = file_open(&pf);
    if (!d || !g || !p) {
        file_close(&df, c, "roofline", "dat", false);
        file_close(&gf, c, "roofline", "gp", false);
        file_close(&pf, c, "roofline", "plot", false);
        return -1;
    }
    gp_prologue(g, "roofline", "Roofline: achieved GFLOP/s vs each host's ceilings");
    fputs("set logscale xy\nset xlabel 'arithmetic intensity (FLOP per byte)'\nset ylabel 'GFLOP/s'\n"
          "set xrange [0.05:2000]\nset samples 400\n", g);
    int n_plots = 0, block = 0;
    for (int h = 0; h < m->n_hosts; h++) {
        double bw = rp_host_bw(m, h);
        const char *which = "";
        double peak = m->hosts[h].prof ? rp_peak_flops(m->hosts[h].prof, "f16", &which) / 1e9 : 0;
        char tag[128], title[224];
        rp_host_tag(m, h, tag, sizeof tag);
        if (bw > 0 && isfinite(bw)) {
            fputs(n_plots ? ", \\\n     " : "", p);
            if (peak > 0 && isfinite(peak)) {
                fprintf(p, "(x*%g < %g ? x*%g : %g) with lines lw 2 lc %d title ", bw, peak, bw, peak, h + 1);
                snprintf(title, sizeof title, "%s ceiling (%s)", tag, which);
            } else {
                fprintf(p, "x*%g with lines lw 2 dt 2 lc %d title ", bw, h + 1);
                snprintf(title, sizeof title, "%s bandwidth ceiling", tag);
            }
            gc_gp_quote(p, title);
            n_plots++;
        }
        int pts = 0;
        for (int i = 0; i < m->n_rows; i++) {
            const rp_row *r = &m->rows[i];
            if (r->host != h || r->how != RP_MEASURED || r->bytes_per_rep <= 0 || r->flops_per_rep <= 0) continue;
            double reps = r->tput / r->work_per_rep;
            fprintf(d, "%.6g %.6g\n", r->flops_per_rep / r->bytes_per_rep, r->flops_per_rep * reps / 1e9);
            pts++;
        }
        if (pts) {
            fputs("\n\n", d);
            fputs(n_plots ? ", \\\n     " : "", p);
            gp_file(p, "roofline", "dat");
            fprintf(p, " index %d using 1:2 with points pt 7 ps 1.2 lc %d title ", block++, h + 1);
            snprintf(title, sizeof title, "%s cases", tag);
            gc_gp_quote(p, title);
            n_plots++;
        }
    }
    if (fflush(p) || !n_plots) {
        file_close(&pf, c, "roofline", "plot", false);
        file_close(&df, c, "roofline", "dat", false);
        file_close(&gf, c, "roofline", "gp", false);
        return n_plots ? -1 : 0;
    }
    fprintf(g, "plot %s\n", pf.buf);
    file_close(&pf, c, "roofline", "plot", false);
    gp_png(g, "roofline");
    int rc = file_close(&df, c, "roofline", "dat", true);
    if (file_close(&gf, c, "roofline", "gp", !rc) || rc) return -1;
    snprintf(c->names[c->n], 32, "roofline");
    snprintf(c->titles[c->n], 96, "Roofline: achieved GFLOP/s vs each host's ceilings");
    c->n++;
    return 0;
}

/* gnuplot opens the images and its log itself: a symlink (or FIFO, device, folder) planted at
 * one of them is refused here, not followed there (gc_check_dest). */
static int check_outputs(const char *dir, const char *name, char *why, size_t why_n) {
    static const char *const files[][2] = {{"", "svg"}, {"", "png"}, {"gnuplot", "log"}};
    for (int i = 0; i < 3; i++) {
        char path[1100];
        gc_err err;
        snprintf(path, sizeof path, "%s/%s.%s", dir, files[i][0][0] ? files[i][0] : name, files[i][1]);
        if (gc_check_dest(path, &err)) return snprintf(why, why_n, "%s", err.msg), -1;
    }
    return 0;
}

/* Runs gnuplot on one script in dir; 0 on exit status 0. */
static int run_gnuplot(const char *gnuplot, const char *dir, const char *script, char *why, size_t why_n) {
    pid_t pid = fork();
    if (pid < 0) return snprintf(why, why_n, "cannot start gnuplot: %s", strerror(errno)), -1;
    if (pid == 0) {
        if (chdir(dir)) _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);   /* no planted link */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp(gnuplot, gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    double deadline = gc_now() + GNUPLOT_TIMEOUT_S;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return snprintf(why, why_n, "gnuplot: wait failed"), -1;
        if (gc_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return snprintf(why, why_n, "gnuplot took over %d s on %s; killed", GNUPLOT_TIMEOUT_S, script), -1;
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return snprintf(why, why_n, "gnuplot ('%s') not found", gnuplot), -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return snprintf(why, why_n, "gnuplot failed on %s/%s (see %s/gnuplot.log)", dir, script, dir), -1;
    return 0;
}

int rp_charts(const rp_model *m, const char *dir, const char *gnuplot, char names[][32],
              char titles[][96], char *why, size_t why_n) {
    chart_ctx c = {m, dir, names, titles, 0, {{0}}};
    why[0] = 0;
    bool costed = m->any_costed;
    char base_title[128];
    snprintf(base_title, sizeof base_title, "Speedup vs %s (fastest configuration each)",
             m->baseline >= 0 ? m->hosts[m->baseline].label : "baseline");
    int rc = bar_chart(&c, "throughput", "Throughput per host and job (units per second, log scale)",
                       "units per second", cell_tput, false);
    rc = rc ? rc : bar_chart(&c, "cost", costed ? "Cost per 1,000 generations (USD, log scale)" : "Cost per 1,000 units (USD, log scale)",
                             "USD per 1,000", cell_cost, true);
    rc = rc ? rc : bar_chart(&c, "energy", costed ? "Energy per generation (joules, log scale)" : "Energy per unit (joules, log scale)",
                             "joules", cell_joules, true);
    rc = rc ? rc : bar_chart(&c, "speedup", base_title, "speedup (×)", cell_speedup, false);
    rc = rc ? rc : roofline_chart(&c);
    if (rc) return snprintf(why, why_n, "%s", c.err.msg[0] ? c.err.msg : "cannot write chart files"), 0;
    for (int i = 0; i < c.n; i++) {
        char script[48];
        snprintf(script, sizeof script, "%s.gp", names[i]);
        if (check_outputs(dir, names[i], why, why_n) || run_gnuplot(gnuplot, dir, script, why, why_n)) return 0;
    }
    return c.n;
}
