/* The gnuplot plumbing of the report's charts: files built in memory, the shared script lines,
 * the fixed host colours, and gnuplot run in a child process with a time limit, so a broken
 * gnuplot can never hang a report. */
#include "reports/charts.h"

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

void chart_host_colour(int host, char out[8]) {
    static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9",
                                          "#882255", "#D55E00", "#117733", "#332288", "#999933", "#AA4499"};
    int n = (int)(sizeof palette / sizeof palette[0]);
    if (host >= 0 && host < n) {
        memcpy(out, palette[host], 8);
        return;
    }
    /* past the palette: hues 137.5° apart at a saturation and lightness readable on white */
    double hue = fmod((host - n) * 137.508, 360.0) / 60.0, c = 0.55, x = c * (1 - fabs(fmod(hue, 2.0) - 1)), l = 0.2;
    double rgb[3][6] = {{c, x, 0, 0, x, c}, {x, c, c, x, 0, 0}, {0, 0, x, c, c, x}};
    int k = (int)hue % 6;
    snprintf(out, 8, "#%02X%02X%02X", (int)lround((rgb[0][k] + l) * 255), (int)lround((rgb[1][k] + l) * 255),
             (int)lround((rgb[2][k] + l) * 255));
}

void gp_host_colour(FILE *g, int h) {
    char c[8];
    chart_host_colour(h, c);
    fprintf(g, " lc rgb '%s'", c);   /* a fixed hex colour: no text from data */
}

int chart_open(chart_files *f) {
    f->d = gc_memfile_open(&f->dat);
    f->g = gc_memfile_open(&f->gp);
    if (f->d && f->g) return 0;
    chart_drop(f);
    return -1;
}

void chart_drop(chart_files *f) {
    gc_err err;
    if (f->d) gc_memfile_commit(&f->dat, NULL, &err);
    if (f->g) gc_memfile_commit(&f->gp, NULL, &err);
    f->d = f->g = NULL;
}

void gp_file(FILE *g, const char *name, const char *ext) {
    char file[64];
    snprintf(file, sizeof file, "%s.%s", name, ext);
    gc_gp_quote(g, file);
}

void gp_prologue(FILE *g, const char *name, const char *title) {
    fprintf(g, "set terminal svg size 960,540 dynamic noenhanced font 'sans,11' background rgb 'white'\n");
    fputs("set output ", g);
    gp_file(g, name, "svg");
    fputs("\nset title ", g);
    gc_gp_quote(g, title);
    fprintf(g, "\nset datafile missing '?'\nset key outside right top noenhanced\n"
               "set grid ytics\nset border 3\nset tics nomirror\n");
}

/* The PNG pass: pngcairo when built in, else libgd's png. */
static void gp_png(FILE *g, const char *name) {
    fprintf(g, "set output\nif (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
               "{ set terminal pngcairo size 960,540 noenhanced font 'sans,10' } "
               "else { set terminal png size 960,540 noenhanced }\n"
               "set output ");
    gp_file(g, name, "png");
    fputs("\nreplot\nset output\n", g);
}

static int write_one(chart_ctx *c, gc_memfile *mf, const char *name, const char *ext, bool write) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.%s", c->dir, name, ext);
    return gc_memfile_commit(mf, write ? path : NULL, &c->err);
}

int chart_commit(chart_ctx *c, chart_files *f, const char *name, const char *title, const char *caption) {
    bool room = c->n < c->max;
    if (!room) snprintf(c->err.msg, sizeof c->err.msg, "more than %d charts", c->max);
    gp_png(f->g, name);
    int rc = write_one(c, &f->dat, name, "dat", room);
    rc |= write_one(c, &f->gp, name, "gp", room && !rc);
    f->d = f->g = NULL;
    if (rc || !room) return -1;
    rp_chart *ch = &c->charts[c->n++];
    snprintf(ch->name, sizeof ch->name, "%s", name);
    snprintf(ch->title, sizeof ch->title, "%s", title);
    snprintf(ch->caption, sizeof ch->caption, "%s", caption);
    return 0;
}

void chart_job_name(const rp_model *m, const rp_job *job, char *b, size_t n) {
    const gc_case_id *id = &job->id;
    const char *parts[] = {strcmp(id->workload, "llm") ? id->workload : "", id->preset, id->quant,
                           strcmp(id->phase, id->workload) ? id->phase : ""};
    size_t k = 0;
    b[0] = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && k + 1 < n; i++) {
        if (!parts[i][0] || !strcmp(parts[i], "-")) continue;   /* "-": none (triad's preset, an api's quant) */
        int w = snprintf(b + k, n - k, "%s%s", k ? " " : "", parts[i]);
        if (w > 0) k = k + (size_t)w < n ? k + (size_t)w : n - 1;
    }
    /* the same name twice (other parameters): the parameters tell them apart */
    for (int j = 0; j < m->n_jobs && id->params[0]; j++) {
        const gc_case_id *a = &m->jobs[j].id;
        if (&m->jobs[j] != job && !strcmp(a->workload, id->workload) && !strcmp(a->preset, id->preset) &&
            !strcmp(a->quant, id->quant) && !strcmp(a->phase, id->phase)) {
            snprintf(b + k, n - k, " (%s)", id->params);
            return;
        }
    }
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

int chart_render_all(chart_ctx *c, const char *gnuplot, char *why, size_t why_n) {
    for (int i = 0; i < c->n; i++) {
        char script[48];
        snprintf(script, sizeof script, "%s.gp", c->charts[i].name);
        if (check_outputs(c->dir, c->charts[i].name, why, why_n) ||
            run_gnuplot(gnuplot, c->dir, script, why, why_n))
            return -1;
    }
    return 0;
}

/* ---- inlining ------------------------------------------------------------------------------- */

/* Whether id (len bytes) was given before in this SVG; records it when not. */
static bool seen_before(char ***seen, size_t *n, const char *id, size_t len) {
    for (size_t i = 0; i < *n; i++)
        if (strlen((*seen)[i]) == len && !memcmp((*seen)[i], id, len)) return true;
    char **grown = realloc(*seen, (*n + 1) * sizeof **seen);
    if (!grown) return false;
    *seen = grown;
    if ((grown[*n] = strndup(id, len))) (*n)++;
    return false;
}

/* Writes s with every id="x" / id='x' as id="prefix-x", every href="#x" (xlink too) and url(#x)
 * pointing at prefix-x. gnuplot's SVG names its definitions gpPt0, gpPat1, textbox,
 * gnuplot_canvas, gnuplot_plot_1…: the same in every chart, so without this the second chart on
 * a page would draw with the first one's patterns. gnuplot also repeats an id within one chart
 * (an opaque key draws its entries twice): a repeat is renamed prefix-x-2, -3…, and references
 * keep to the first. */
static void prefix_ids(FILE *f, const char *s, const char *prefix) {
    static const char *const marks[] = {" id=\"", " id='", "href=\"#", "href='#", "url(#"};
    char **seen = NULL;
    size_t n_seen = 0;
    int repeats = 0;
    while (*s) {
        const char *best = NULL;
        size_t len = 0, mark = 0;
        for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
            const char *p = strstr(s, marks[i]);
            if (p && (!best || p < best)) best = p, len = strlen(marks[i]), mark = i;
        }
        if (!best) {
            fputs(s, f);
            break;
        }
        fwrite(s, 1, (size_t)(best - s) + len, f);
        fprintf(f, "%s-", prefix);
        s = best + len;
        if (mark < 2) {   /* an id: its value up to the closing quote */
            size_t k = strcspn(s, mark ? "'" : "\"");
            fwrite(s, 1, k, f);
            if (seen_before(&seen, &n_seen, s, k)) fprintf(f, "-%d", ++repeats + 1);
            s += k;
        }
    }
    for (size_t i = 0; i < n_seen; i++) free(seen[i]);
    free(seen);
}

int svg_inline(FILE *f, const char *svg, const char *prefix) {
    const char *start = strstr(svg, "<svg");
    if (!start) return -1;
    prefix_ids(f, start, prefix);
    return 0;
}
