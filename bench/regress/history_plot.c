/* Trend charts of a history series with gnuplot: the median throughput of each stored run over
 * commits, its 95% confidence band, and the points that were slower than their preceding window
 * marked in red. One PNG and one SVG per series. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench/regress/history.h"

/* "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16" on host "box" → "llm_tiny_q4_0_cpu_avx2_t2_decode_gen_16@box":
 * a file name without folders or shell-hostile characters. A name that would pass 200 bytes is
 * cut to 180 and ends in a hash of the whole, so long parameter lists stay distinct files. */
static void series_file_name(const gc_hist_series *s, char *buf, size_t n) {
    char full[GC_CASE_KEY_LEN + 130];
    snprintf(full, sizeof full, "%s@%s", s->key, s->host);
    for (char *p = full; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '@'))
            *p = '_';
    size_t len = strlen(full);
    if (len <= 200 && len < n) {
        memcpy(buf, full, len + 1);
        return;
    }
    uint32_t hash = 2166136261u;   /* FNV-1a */
    for (const char *p = full; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 16777619u;
    snprintf(buf, n, "%.180s-%08x", full, (unsigned)hash);
}

/* Marks point i when it is slower than the window of points before it. */
static bool is_regression(const gc_hist_point *p, int i, const gc_hist_check_opts *o) {
    int from = i > o->window ? i - o->window : 0;
    double past[1024];
    int n = 0;
    for (int k = from; k < i && n < 1024; k++)
        if (!strcmp(p[k].status, "ok") && isfinite(p[k].median))
            past[n++] = p[k].median;
    gc_hist_check c;
    memset(&c, 0, sizeof c);
    history_judge(past, n, p[i].median, o, &c);
    return c.verdict == GC_SLOWER;
}

/* Data columns: index, short commit (x tic label), median, CI low, CI high, regression (0/1). */
static int write_data(const char *path, const gc_hist_point *p, int n,
                      const gc_hist_check_opts *o, gc_err *err) {
    FILE *f = fopen(path, "w");
    if (!f)
        return gc_errf(err, "history plot: cannot write %s: %s", path, strerror(errno));
    int rows = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].status, "ok") || !isfinite(p[i].median))
            continue;
        double lo = isfinite(p[i].ci_low) ? p[i].ci_low : p[i].median;
        double hi = isfinite(p[i].ci_high) ? p[i].ci_high : p[i].median;
        char tic[16];
        snprintf(tic, sizeof tic, "%.9s", p[i].commit[0] ? p[i].commit : "?");
        for (char *c = tic; *c; c++)
            if (*c == ' ' || *c == '"')
                *c = '_';
        fprintf(f, "%d \"%s\" %.9g %.9g %.9g %d\n", rows++, tic, p[i].median, lo, hi,
                is_regression(p, i, o));
    }
    if (fclose(f))
        return gc_errf(err, "history plot: cannot write %s", path);
    return rows ? 0 : gc_errf(err, "history plot: no ok points to draw in %s", path);
}

static void write_script(FILE *f, const gc_hist_series *s, const char *data, const char *img,
                         const char *terminal) {
    fprintf(f, "set terminal %s size 1000,500\nset output '%s'\n", terminal, img);
    fprintf(f, "set title \"%s on %s\" noenhanced\n", s->key, s->host);
    fprintf(f, "set ylabel \"%s/s (median, 95%% CI)\" noenhanced\n", s->unit);
    fprintf(f, "set xlabel 'commit (oldest left)'\nset xtics rotate by -45 noenhanced\n"
               "set grid ytics\nset key top left\nset offsets 0.5, 0.5, 0, 0\n");
    fprintf(f, "plot '%s' using 1:4:5 with filledcurves lc rgb '#bcd8f0' title '95%% CI', \\\n"
               "     '' using 1:3:xtic(2) with linespoints lw 2 pt 7 lc rgb '#1f5f9f' title 'median', \\\n"
               "     '' using 1:($6 > 0 ? $3 : 1/0) with points pt 7 ps 2 lc rgb '#d62728' "
               "title 'regression'\n", data);
}

/* Runs gnuplot on a script file; its complaints go to our stderr. */
static int run_gnuplot(const char *script, gc_err *err) {
    pid_t pid = fork();
    if (pid < 0)
        return gc_errf(err, "history plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return gc_errf(err, "history plot: waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return gc_errf(err, "history plot: gnuplot not found (install gnuplot)");
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return gc_errf(err, "history plot: gnuplot failed on %s", script);
    return 0;
}

int history_plot(gc_history *h, const gc_hist_series *s, const gc_hist_check_opts *o,
                 const char *dir, int *files_written, gc_err *err) {
    if (gc_mkdirs(dir, err))
        return -1;
    gc_hist_point *p = NULL;
    int n = 0;
    if (history_points(h, s->key, s->host, &p, &n, err))
        return -1;
    char name[256], data[1600], script[1600], img[1600];
    series_file_name(s, name, sizeof name);
    snprintf(data, sizeof data, "%s/%s.dat", dir, name);
    snprintf(script, sizeof script, "%s/%s.gp", dir, name);
    int rc = write_data(data, p, n, o, err);
    free(p);
    static const char *const terms[][2] = {{"pngcairo", "png"}, {"svg", "svg"}};
    for (int t = 0; t < 2 && !rc; t++) {
        snprintf(img, sizeof img, "%s/%s.%s", dir, name, terms[t][1]);
        FILE *f = fopen(script, "w");
        if (!f) {
            rc = gc_errf(err, "history plot: cannot write %s: %s", script, strerror(errno));
            break;
        }
        write_script(f, s, data, img, terms[t][0]);
        fclose(f);
        rc = run_gnuplot(script, err);
        *files_written += !rc;
    }
    unlink(script);
    unlink(data);
    return rc;
}
