/* Trend charts of a history series with gnuplot: the median throughput of each stored run over
 * commits, its 95% confidence band, and the points that were slower than their preceding window
 * marked in red. One PNG and one SVG per series.
 *
 * Case keys, host names, units and commits come from results files of other machines, and a
 * gnuplot script is code: text enters the script only through gc_gp_quote and the data file only
 * through gc_gp_field (base/escape.h). gnuplot runs in the chart folder on file names made by
 * gc_safe_name, so no path from data reaches it, and with a time limit. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/escape.h"
#include "bench/regress/history.h"

#define PLOT_TIMEOUT_S 60

/* "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16" on host "box" → "llm_tiny_q4_0_cpu_avx2_t2_decode_gen_16@box":
 * one file name in the chart folder, of [A-Za-z0-9._-] and the '@' between case and host. The
 * key's own separators (/ ? = ,) become '_' first; any other byte gc_safe_name has to replace
 * (from a hostile host or preset) adds a hash, so such names never collide; long names are cut. */
static void series_file_name(const gc_hist_series *s, char *buf, size_t n) {
    char full[GC_CASE_KEY_LEN + 130];
    int key_len = snprintf(full, sizeof full, "%s", s->key);
    for (int i = 0; i < key_len && full[i]; i++)
        if (strchr("/?=,", full[i]))
            full[i] = '_';
    snprintf(full + strlen(full), sizeof full - strlen(full), "@%s", s->host);
    gc_safe_name(full, "@", buf, n);
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
    gc_memfile mf;
    FILE *f = gc_memfile_open(&mf);
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
            if (*c == ' ')
                *c = '_';
        fprintf(f, "%d ", rows++);
        gc_gp_field(f, tic);
        fprintf(f, " %.9g %.9g %.9g %d\n", p[i].median, lo, hi, is_regression(p, i, o));
    }
    if (gc_memfile_commit(&mf, path, err))
        return -1;
    return rows ? 0 : gc_errf(err, "history plot: no ok points to draw in %s", path);
}

/* data and img: file names in the chart folder, where gnuplot runs. */
static void write_script(FILE *f, const gc_hist_series *s, const char *data, const char *img,
                         const char *terminal) {
    char text[GC_CASE_KEY_LEN + 200];
    fprintf(f, "set terminal %s size 1000,500\nset output ", terminal);
    gc_gp_quote(f, img);
    snprintf(text, sizeof text, "%s on %s", s->key, s->host);
    fputs("\nset title ", f);
    gc_gp_quote(f, text);
    snprintf(text, sizeof text, "%s/s (median, 95%% CI)", s->unit);
    fputs(" noenhanced\nset ylabel ", f);
    gc_gp_quote(f, text);
    fprintf(f, " noenhanced\nset xlabel 'commit (oldest left)'\nset xtics rotate by -45 noenhanced\n"
               "set grid ytics\nset key top left\nset offsets 0.5, 0.5, 0, 0\nplot ");
    gc_gp_quote(f, data);
    fprintf(f, " using 1:4:5 with filledcurves lc rgb '#bcd8f0' title '95%% CI', \\\n"
               "     '' using 1:3:xtic(2) with linespoints lw 2 pt 7 lc rgb '#1f5f9f' title 'median', \\\n"
               "     '' using 1:($6 > 0 ? $3 : 1/0) with points pt 7 ps 2 lc rgb '#d62728' "
               "title 'regression'\n");
}

/* Runs gnuplot on a script file in dir, killed after PLOT_TIMEOUT_S; its complaints go to our
 * stderr. */
static int run_gnuplot(const char *dir, const char *script, gc_err *err) {
    pid_t pid = fork();
    if (pid < 0)
        return gc_errf(err, "history plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir))
            _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    double deadline = gc_now() + PLOT_TIMEOUT_S;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return gc_errf(err, "history plot: waiting for gnuplot: %s", strerror(errno));
        if (gc_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return gc_errf(err, "history plot: gnuplot took over %d s on %s/%s; killed", PLOT_TIMEOUT_S,
                           dir, script);
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
        return gc_errf(err, "history plot: cannot enter %s", dir);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return gc_errf(err, "history plot: gnuplot not found (install gnuplot)");
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return gc_errf(err, "history plot: gnuplot failed on %s/%s", dir, script);
    return 0;
}

int history_plot(gc_history *h, const gc_hist_series *s, const gc_hist_check_opts *o,
                 const char *dir, int *files_written, gc_err *err) {
    if (strlen(dir) > 1300)   /* the paths below are built in fixed buffers: refuse, never cut */
        return gc_errf(err, "history plot: a folder name of %zu bytes is too long (at most 1300)", strlen(dir));
    if (gc_mkdirs(dir, err))
        return -1;
    gc_hist_point *p = NULL;
    int n = 0;
    if (history_points(h, s->key, s->host, &p, &n, err))
        return -1;
    char name[256], data[1600], script[1600], data_name[300], script_name[300], img[300];
    series_file_name(s, name, sizeof name);
    snprintf(data_name, sizeof data_name, "%s.dat", name);
    snprintf(script_name, sizeof script_name, "%s.gp", name);
    snprintf(data, sizeof data, "%s/%s", dir, data_name);
    snprintf(script, sizeof script, "%s/%s", dir, script_name);
    int rc = write_data(data, p, n, o, err);
    free(p);
    static const char *const terms[][2] = {{"pngcairo", "png"}, {"svg", "svg"}};
    for (int t = 0; t < 2 && !rc; t++) {
        snprintf(img, sizeof img, "%s.%s", name, terms[t][1]);
        gc_memfile mf;
        FILE *f = gc_memfile_open(&mf);
        if (!f) {
            rc = gc_errf(err, "history plot: cannot write %s: %s", script, strerror(errno));
            break;
        }
        write_script(f, s, data_name, img, terms[t][0]);
        rc = gc_memfile_commit(&mf, script, err);
        char img_path[1900];   /* gnuplot opens the image itself: a planted symlink is refused here */
        snprintf(img_path, sizeof img_path, "%s/%s", dir, img);
        rc = rc ? rc : gc_check_dest(img_path, err);
        rc = rc ? rc : run_gnuplot(dir, script_name, err);
        *files_written += !rc;
    }
    unlink(script);
    unlink(data);
    return rc;
}
