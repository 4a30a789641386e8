/* The answer first: the lines report.md and report.html open with. Per costed job (a generation,
 * an image, a training step): what one job is, the fastest target, the cheapest at each volume
 * asked for, the most energy-efficient, and how many of the figures were measured. Built once
 * as plain text, then written as Markdown or HTML through base/escape. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/escape.h"
#include "bench/workload.h"
#include "reports/report_model.h"
#include "reports/volume.h"

/* Volumes shown when the user gives none: a light, a regular and a heavy month. */
static const double default_volumes[] = {100, 1000, 10000};

int rp_volumes(const rp_model *m, double *out) {
    int n = m->n_volumes ? m->n_volumes : (int)(sizeof default_volumes / sizeof default_volumes[0]);
    for (int i = 0; i < n; i++) out[i] = m->n_volumes ? m->volumes[i] : default_volumes[i];
    return n;
}

/* 3 significant digits, thousands grouped: 12,300 / 4.56 / 0.0123. */
void rp_fmt_num(char *b, size_t n, double x) { volume_fmt_sig(b, n, x, 3); }

/* Dollars for a person, the same way as every table writes them (volume_fmt_usd). */
void rp_fmt_usd(char *b, size_t n, double x) { volume_fmt_usd(b, n, x); }

void rp_param_or_default(const gc_case_id *id, const char *name, char *b, size_t n) {
    if (gc_params_get(id->params, name, b, n)) return;
    const gc_workload *w = gc_workload_find(id->workload);
    int i = w && w->params ? gc_param_find(w->params, name) : -1;
    if (i >= 0 && w->params[i].def) snprintf(b, n, "%s", w->params[i].def);
}

/* "tinyllama-1.1b q4_0: one generation = 128-token prompt + 32 new tokens". */
void rp_job_title(const rp_model *m, const rp_job *job, char *b, size_t n) {
    double prompt = 0, gen = 0;
    for (int h = 0; h < m->n_hosts && !(prompt > 0); h++)
        if (job->best[h] >= 0) {
            prompt = m->rows[job->best[h]].prompt_tokens;
            gen = m->rows[job->best[h]].gen_tokens;
        }
    const gc_case_id *id = &job->id;
    char what[96];
    snprintf(what, sizeof what, "%s%s%s", strcmp(id->preset, "-") ? id->preset : id->workload,
             strcmp(id->quant, "-") ? " " : "", strcmp(id->quant, "-") ? id->quant : "");
    char w[16], h[16], st[16], g[16], sc[16];
    if (!strcmp(job->unit, "image") && gc_params_get(id->params, "width", w, sizeof w) &&
        gc_params_get(id->params, "height", h, sizeof h) && gc_params_get(id->params, "steps", st, sizeof st)) {
        bool guided = !gc_params_get(id->params, "guidance", g, sizeof g) || strcmp(g, "0");
        if (!gc_params_get(id->params, "guidance-scale", sc, sizeof sc)) snprintf(sc, sizeof sc, "?");
        snprintf(b, n, "%s: one image = %s×%s pixels, %s steps%s%s", what, w, h, st, guided ? ", guidance " : "",
                 guided ? sc : "");
    } else if (!strcmp(job->unit, "image"))
        snprintf(b, n, "%s: one image", what);
    else if (!strcmp(id->workload, RP_ENDPOINT) && !strcmp(job->unit, "generation")) {
        /* what it asked for; the usage the server counted (what is charged) is in the cost table */
        char p[16] = "?", g[16] = "?";
        int level = 0;
        rp_param_or_default(id, "prompt", p, sizeof p), rp_param_or_default(id, "gen", g, sizeof g);
        for (int k = 0; k < m->n_hosts && !level; k++)   /* every endpoint row has its level (rp_endpoint_row) */
            if (job->best[k] >= 0) level = m->rows[job->best[k]].lat.concurrency;
        snprintf(b, n, "%s: one generation = %s-token prompt + %s new tokens at concurrency %d", what, p, g, level);
    } else if (!strcmp(job->unit, "generation") && prompt > 0 && gen > 0)
        snprintf(b, n, "%s: one generation = %.0f-token prompt + %.0f new tokens", what, prompt, gen);
    else if (!strcmp(job->unit, "generation"))
        snprintf(b, n, "%s: one generation (prompt and length not recorded)", what);
    else if (!strcmp(job->unit, RP_TRAIN_UNIT)) {   /* "LoRA of tinyllama-1.1b on a q4_0 base: ..." */
        char mode[16] = "full", bt[16] = "?", sq[16] = "?", who[128];
        rp_param_or_default(id, "mode", mode, sizeof mode);
        rp_param_or_default(id, "batch", bt, sizeof bt), rp_param_or_default(id, "seq", sq, sizeof sq);
        if (!strcmp(mode, "lora")) snprintf(who, sizeof who, "LoRA of %s on a %s base", id->preset, id->quant);
        else snprintf(who, sizeof who, "full training of %s", id->preset);
        snprintf(b, n, "%s: one job = 1M trained tokens in steps of %s × %s (a 10M-token fine-tune is 10 jobs)", who,
                 bt, sq);
    }
    else
        snprintf(b, n, "%s: one %s (%s)", what, job->unit, id->phase);
}

/* "measured", "projected", "stated by its profile" — how a row's figure was obtained. */
static const char *how_word(const rp_model *m, const rp_row *r) {
    if (r->how == RP_MEASURED) return m->hosts[r->host].forced ? "measured, forced profile" : "measured";
    return r->how == RP_PROJECTED ? "projected" : "stated by its profile";
}

static void fmt_seconds(char *b, size_t n, double s) {
    char v[32];
    if (s >= 120) rp_fmt_num(v, sizeof v, s / 60);
    else rp_fmt_num(v, sizeof v, s);
    snprintf(b, n, "%s %s", v, s >= 120 ? "min" : "s");
}

#define SUM_LINES 12
typedef struct sum_job {
    char title[200];
    char label[SUM_LINES][64], text[SUM_LINES][400];
    int n;
} sum_job;

static void add_line(sum_job *s, const char *label, const char *text) {
    if (s->n == SUM_LINES) return;
    snprintf(s->label[s->n], sizeof s->label[0], "%s", label);
    snprintf(s->text[s->n++], sizeof s->text[0], "%s", text);
}

/* Over the same targets as the cost tables: the hosts that ran or project the job, and an api
 * standing in for its model (a measured endpoint, or a profile's stated rate). */
static void fastest(const rp_model *m, const rp_job *job, sum_job *s) {
    const rp_row *r = NULL;
    for (int h = 0; h < m->n_hosts; h++) {
        const rp_row *t = rp_target_row(m, job, h);
        if (t && strcmp(t->unit, job->unit)) t = NULL;   /* a figure of the job's own unit only */
        if (t && (!r || t->tput > r->tput)) r = t;
    }
    if (!r) return;
    char tag[128], t[48], line[400];
    rp_host_tag(m, r->host, tag, sizeof tag);
    fmt_seconds(t, sizeof t, 1.0 / r->tput);
    snprintf(line, sizeof line, "%s — %s per %s (%s)", tag, t, job->unit, how_word(m, r));
    add_line(s, "Fastest", line);
}

/* The cheapest target at each volume, over the same targets as the volume tables (an api standing
 * in for the job's model included). */
static void cheapest(const rp_model *m, const rp_job *job, sum_job *s) {
    double vols[GC_REPORT_MAX_VOLUMES];
    int nv = rp_volumes(m, vols), hosts[RP_MAX_HOSTS];
    const gc_job_cost *costs[RP_MAX_HOSTS];
    int k = rp_job_targets(m, job, hosts, costs);
    for (int h = 0; h < m->n_hosts && !k; h++)   /* none priced: why, once (an endpoint with no api profile) */
        if (job->best[h] >= 0 && job->cost_note[h][0]) {
            add_line(s, "Cost", job->cost_note[h]);
            return;
        }
    for (int v = 0; v < nv; v++) {
        int best = -1;
        gc_volume_cost best_c = {0}, c;
        for (int i = 0; i < k; i++) {
            gc_err err;
            if (cost_at_volume(m->hosts[hosts[i]].prof, costs[i], vols[v], rp_amortised(m, hosts[i]), &c, &err) || !c.possible)
                continue;
            if (best < 0 || c.monthly_usd < best_c.monthly_usd) best = hosts[i], best_c = c;
        }
        char label[64], vol[32], line[400];
        rp_fmt_num(vol, sizeof vol, vols[v]);
        snprintf(label, sizeof label, "Cheapest at %s a month", vol);
        if (best < 0) {
            add_line(s, label, "no priced target can do this volume");
            continue;
        }
        char tag[128], month[32], per[32];
        rp_host_tag(m, best, tag, sizeof tag);
        rp_fmt_usd(month, sizeof month, best_c.monthly_usd);
        rp_fmt_usd(per, sizeof per, best_c.usd_per_job * 1000);
        const rp_row *r = rp_target_row(m, job, best);
        const char *how = r ? how_word(m, r) : "stated by its profile";
        snprintf(line, sizeof line, "%s — %s a month, %s per 1,000; %s; %.150s", tag, month, per, how, best_c.how);
        add_line(s, label, line);
    }
}

static void greenest(const rp_model *m, const rp_job *job, sum_job *s) {
    int best = -1;
    for (int h = 0; h < m->n_hosts; h++) {
        int b = job->best[h];
        if (b >= 0 && m->rows[b].j_per_unit >= 0 && (best < 0 || m->rows[b].j_per_unit < m->rows[best].j_per_unit))
            best = b;
    }
    if (best < 0) {
        add_line(s, "Least energy", "no target's energy is known");
        return;
    }
    const rp_row *r = &m->rows[best];
    char tag[128], wh[32], line[400];
    rp_host_tag(m, r->host, tag, sizeof tag);
    rp_fmt_num(wh, sizeof wh, r->j_per_unit * 1000 / 3600);
    snprintf(line, sizeof line, "%s — %s Wh per 1,000 (energy %s, time %s)", tag, wh, r->e_kind, how_word(m, r));
    add_line(s, "Least energy", line);
}

static void provenance(const rp_model *m, const rp_job *job, sum_job *s) {
    int n[3] = {0};
    for (int h = 0; h < m->n_hosts; h++)
        if (job->best[h] >= 0) n[m->rows[job->best[h]].how]++;
    char line[400];
    snprintf(line, sizeof line, "%d target%s measured, %d projected from profiles, %d from an api's stated rates",
             n[RP_MEASURED], n[RP_MEASURED] == 1 ? "" : "s", n[RP_PROJECTED], n[RP_PROFILE]);
    add_line(s, "Figures", line);
}

static void summarise(const rp_model *m, const rp_job *job, sum_job *s) {
    memset(s, 0, sizeof *s);
    rp_job_title(m, job, s->title, sizeof s->title);
    fastest(m, job, s);
    cheapest(m, job, s);
    greenest(m, job, s);
    provenance(m, job, s);
}

static const char intro[] =
    "The answer first, per job: the fastest target, the cheapest at a month's volume (jobs a month; "
    "report --volume sets them), the one using least energy, and how each figure was obtained. "
    "A machine measured here costs its electricity (--amortise adds its purchase); one only profiled would be "
    "bought, so its purchase is amortised. Tables with every figure follow.";

void rp_summary_md(FILE *f, const rp_model *m) {
    fprintf(f, "## Summary\n\n%s\n\n", intro);
    for (int j = 0; j < m->n_jobs; j++) {
        if (!rp_job_in_volume_tables(m, &m->jobs[j])) continue;
        sum_job s;
        summarise(m, &m->jobs[j], &s);
        fputs("**", f);
        gc_md(f, s.title);
        fputs("**\n\n", f);
        for (int i = 0; i < s.n; i++) {
            fprintf(f, "- %s: ", s.label[i]);
            gc_md(f, s.text[i]);
            fputc('\n', f);
        }
        fputc('\n', f);
    }
}

void rp_summary_html(FILE *f, const rp_model *m) {
    fprintf(f, "<section id=\"summary\"><h2>Summary</h2>\n<p>%s</p>\n", intro);
    for (int j = 0; j < m->n_jobs; j++) {
        if (!rp_job_in_volume_tables(m, &m->jobs[j])) continue;
        sum_job s;
        summarise(m, &m->jobs[j], &s);
        fputs("<h3>", f);
        gc_html(f, s.title);
        fputs("</h3>\n<ul>\n", f);
        for (int i = 0; i < s.n; i++) {
            fprintf(f, "<li><b>%s:</b> ", s.label[i]);
            gc_html(f, s.text[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("</section>\n", f);
}
