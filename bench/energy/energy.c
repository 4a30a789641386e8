/* Energy meters: selection, one sampling thread per meter during each timed span, integration,
 * idle baseline, the estimate when nothing measures, and the JSON form in results files. */
#include "bench/energy/energy.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/workload.h"
#include "bench/host/profile.h"

#define MAX_METERS GC_ENERGY_MAX_SOURCES
#define IDLE_BASELINE_S 2.0
#define DEFAULT_HTTP_INTERVAL_S 1.0
#define DEFAULT_HTTP_TIMEOUT_S 2.0

typedef struct sampler {
    gc_meter *meter;
    gc_meter_acc acc;
    pthread_t thread;
    bool running;
    double idle_watts;
    struct gc_meters *owner;
} sampler;

struct gc_meters {
    sampler s[MAX_METERS];
    int n;
    bool subtract_idle;
    gc_profile profile;
    bool have_profile;
    char note[160];            /* why nothing measures, for estimated/none figures */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

/* ---- redaction ----------------------------------------------------------------------------- */

void energy_redact_urls(const char *text, char *out, size_t n) {
    if (!n) return;
    size_t w = 0;
    bool in_url = false;
    for (const char *p = text; *p && w + 1 < n; p++) {
        if (!strncmp(p, "http://", 7) || !strncmp(p, "https://", 8)) in_url = true;
        if (*p == ' ' || *p == '\t' || *p == '\'' || *p == '"') in_url = false;
        if (in_url && *p == '?') {
            int k = snprintf(out + w, n - w, "?REDACTED");
            w = k < 0 || (size_t)k >= n - w ? n - 1 : w + (size_t)k;
            while (p[1] && p[1] != '#' && p[1] != ' ' && p[1] != '\t' && p[1] != '\'' && p[1] != '"') p++;
            continue;
        }
        out[w++] = *p;
    }
    out[w] = 0;
}

/* ---- integration ---------------------------------------------------------------------------- */

void meter_acc_start(gc_meter_acc *a, const gc_meter_reading *r, double t) {
    memset(a, 0, sizeof *a);
    a->started = true;
    a->t0 = a->t_last = t;
    if (r) meter_acc_add(a, r, t);
}

void meter_acc_add(gc_meter_acc *a, const gc_meter_reading *r, double t) {
    if (r->has_energy) {
        if (a->have_energy) {
            double d = r->energy_j - a->e_last;
            /* a counter below its last value wrapped once (sampling often enough makes two
             * wraps between samples impossible: RAPL's range is minutes at full power) */
            if (d < 0 && r->wrap_j > 0) d += r->wrap_j;
            if (d >= 0) a->joules_counter += d;
            else a->went_backwards = true;
        }
        a->have_energy = true;
        a->e_last = r->energy_j;
    }
    if (r->has_power) {
        if (a->have_power) a->joules_power += 0.5 * (a->w_last + r->watts) * (t - a->t_last);
        else a->t0 = t;   /* power integration starts at the first power sample */
        a->have_power = true;
        a->w_last = r->watts;
    }
    a->t_last = t;
    a->n_samples++;
}

double meter_acc_joules(const gc_meter_acc *a) {
    if (a->have_energy && a->went_backwards) return -1;
    if (a->have_energy && a->n_samples >= 2) return a->joules_counter;
    if (a->have_power && a->n_samples >= 2) return a->joules_power;
    if (a->have_power) return 0;   /* one sample: a span too short to integrate */
    return -1;
}

/* ---- sampling thread ------------------------------------------------------------------------ */

static void sample_once(sampler *s, bool first) {
    gc_meter_reading r = {0};
    gc_err err = {{0}};
    int rc = s->meter->read(s->meter, &r, &err);
    double t = gc_now();
    if (rc) {
        s->acc.n_errors++;
        snprintf(s->acc.last_error, sizeof s->acc.last_error, "%.127s", err.msg);
        if (first) meter_acc_start(&s->acc, NULL, t);
        return;
    }
    if (first) meter_acc_start(&s->acc, &r, t);
    else meter_acc_add(&s->acc, &r, t);
}

static void *sampler_main(void *arg) {
    sampler *s = arg;
    struct gc_meters *m = s->owner;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double when = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + s->meter->interval_s;
        ts.tv_sec = (time_t)when;
        ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&m->wake, &m->lock, &ts);
        if (m->stop) break;
        pthread_mutex_unlock(&m->lock);
        sample_once(s, false);   /* HTTP reads are bounded by their timeout */
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void span_begin(gc_meters *m) {
    m->stop = false;
    for (int i = 0; i < m->n; i++) {
        sampler *s = &m->s[i];
        sample_once(s, true);
        s->running = pthread_create(&s->thread, NULL, sampler_main, s) == 0;
    }
}

static void span_end(gc_meters *m) {
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < m->n; i++) {
        sampler *s = &m->s[i];
        if (s->running) pthread_join(s->thread, NULL);
        s->running = false;
        sample_once(s, false);
    }
}

/* ---- selection ------------------------------------------------------------------------------ */

static void warn(const char *what, const char *msg) {
    fprintf(stderr, "gencost: energy: %s: %s\n", what, msg);
}

static int parse_seconds(const char *item, const char *key, double *out, gc_err *err) {
    size_t k = strlen(key);
    if (strncmp(item, key, k)) return 1;
    if (gc_parse_double(item + k, 0.01, 3600, out))
        return gc_errf(err, "--meter: '%s' needs seconds from 0.01 to 3600", item);
    return 0;
}

static bool is_http(const char *item) {
    return !strncmp(item, "shelly:", 7) || !strncmp(item, "tasmota:", 8) || !strncmp(item, "http:", 5);
}

int energy_check_spec(const char *spec, gc_err *err) {
    if (!spec) return 0;
    char *items[32], *store = NULL;
    int n = gc_split_list(spec, items, 32, &store);
    if (n < 0) {
        free(store);
        if (n == GC_SPLIT_EMPTY_ITEM) return gc_errf(err, "--meter: empty item in '%s'", GC_ESC(spec));
        return gc_errf(err, "--meter: too many items in '%s'", spec);
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *it = items[i];
        double v;
        if (!strcmp(it, "auto") || !strcmp(it, "none") || !strcmp(it, "rapl") || !strcmp(it, "nvml") ||
            !strcmp(it, "powermetrics") || !strcmp(it, "idle"))
            continue;
        int r1 = parse_seconds(it, "interval=", &v, err), r2 = r1 == 1 ? parse_seconds(it, "timeout=", &v, err) : r1;
        if (r1 <= 0 || r2 <= 0) {
            rc = r1 < 0 || r2 < 0 ? -1 : 0;
            continue;
        }
        if (is_http(it)) {
            const char *url = strchr(it, ':') + 1;
            if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
                rc = gc_errf(err, "--meter: '%s': the URL must start with http:// or https://", it);
            else if (!strncmp(it, "http:", 5) && (!strchr(url, '#') || !strchr(url, '#')[1]))
                rc = gc_errf(err, "--meter: '%s': say where the watts are: http:URL#json.path", it);
            else if (strchr(url, '@'))
                rc = gc_errf(err, "--meter: '%s': put credentials in GENCOST_METER_USER and GENCOST_METER_PASSWORD, not in the URL", it);
            continue;
        }
        rc = gc_errf(err, "--meter: unknown meter '%s' (auto, none, rapl, nvml, powermetrics, shelly:URL, tasmota:URL, http:URL#path, idle, interval=S, timeout=S)", it);
    }
    free(store);
    return rc;
}

static void open_auto(gc_meters *m, gc_meter **list, int *n) {
    gc_err err = {{0}};
    const char *root = getenv("GENCOST_POWERCAP_ROOT");
    if (meter_rapl_open(root ? root : "/sys/class/powercap", list, n, MAX_METERS, &err)) {
        if (strstr(err.msg, "root")) warn("rapl", err.msg);   /* present but locked: say how to open it */
        snprintf(m->note, sizeof m->note, "%.159s", err.msg);
    }
    err.msg[0] = 0;
    meter_nvml_open(list, n, MAX_METERS, &err);
#ifdef __APPLE__
    err.msg[0] = 0;
    if (meter_powermetrics_open(0.2, list, n, MAX_METERS, &err)) {
        warn("powermetrics", err.msg);
        snprintf(m->note, sizeof m->note, "%.159s", err.msg);
    }
#endif
}

static void open_named(gc_meters *m, char **items, int n_items, gc_meter **list, int *n) {
    double interval = DEFAULT_HTTP_INTERVAL_S, timeout = DEFAULT_HTTP_TIMEOUT_S;
    gc_err err = {{0}};
    for (int i = 0; i < n_items; i++) {
        parse_seconds(items[i], "interval=", &interval, &err);
        parse_seconds(items[i], "timeout=", &timeout, &err);
    }
    for (int i = 0; i < n_items; i++) {
        const char *it = items[i];
        int rc = 0;
        err.msg[0] = 0;
        if (!strcmp(it, "auto")) open_auto(m, list, n);
        else if (!strcmp(it, "rapl")) {
            const char *root = getenv("GENCOST_POWERCAP_ROOT");
            rc = meter_rapl_open(root ? root : "/sys/class/powercap", list, n, MAX_METERS, &err);
        } else if (!strcmp(it, "nvml")) rc = meter_nvml_open(list, n, MAX_METERS, &err);
        else if (!strcmp(it, "powermetrics")) rc = meter_powermetrics_open(0.2, list, n, MAX_METERS, &err);
        else if (is_http(it)) rc = meter_http_open(it, interval, timeout, list, n, MAX_METERS, &err);
        if (rc) {
            warn(it, err.msg);
            snprintf(m->note, sizeof m->note, "%.159s", err.msg);
        }
    }
}

static void measure_idle(gc_meters *m) {
    if (!m->n) return;
    span_begin(m);
    struct timespec ts = {(time_t)IDLE_BASELINE_S, 0};
    nanosleep(&ts, NULL);
    span_end(m);
    for (int i = 0; i < m->n; i++) {
        sampler *s = &m->s[i];
        double j = meter_acc_joules(&s->acc), dt = s->acc.t_last - s->acc.t0;
        s->idle_watts = j > 0 && dt > 0 ? j / dt : 0;
    }
}

gc_meters *energy_open(const struct gc_options *opt) {
    gc_meters *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    gc_err err = {{0}};
    if (opt && opt->profile) {
        if (profile_load(opt->profile, &m->profile, &err) == 0) m->have_profile = true;
        else warn("profile", err.msg);
    }
    const char *spec = opt && opt->meter ? opt->meter : "auto";
    if (energy_check_spec(spec, &err)) {
        warn("meter", err.msg);
        snprintf(m->note, sizeof m->note, "%.159s", err.msg);
        return m;
    }
    char *items[32], *store = NULL;
    int n_items = gc_split_list(spec, items, 32, &store);
    bool none = false;
    for (int i = 0; i < n_items; i++) {
        none |= !strcmp(items[i], "none");
        m->subtract_idle |= !strcmp(items[i], "idle");
    }
    gc_meter *list[MAX_METERS];
    int n = 0;
    if (!none) {
        bool named = false;
        for (int i = 0; i < n_items; i++)
            named |= strcmp(items[i], "idle") && strncmp(items[i], "interval=", 9) && strncmp(items[i], "timeout=", 8);
        if (named) open_named(m, items, n_items, list, &n);
        else open_auto(m, list, &n);
    } else {
        snprintf(m->note, sizeof m->note, "meters turned off (--meter none)");
    }
    free(store);
    for (int i = 0; i < n; i++) m->s[m->n++] = (sampler){.meter = list[i], .owner = m};
    if (m->subtract_idle) measure_idle(m);
    return m;
}

void energy_close(gc_meters *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++)
        if (m->s[i].meter->close) m->s[i].meter->close(m->s[i].meter);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m);
}

void energy_begin(gc_meters *m) {
    if (m && m->n) span_begin(m);
}

void energy_none(gc_energy *e) {
    memset(e, 0, sizeof *e);
    strcpy(e->source, "none");
    strcpy(e->kind, "none");
}

/* ---- figures -------------------------------------------------------------------------------- */

static void add_source(gc_energy *e, const char *name, const char *kind, double j, double seconds,
                       double idle_w, bool subtracted, const char *note) {
    if (e->n_sources == GC_ENERGY_MAX_SOURCES) return;
    gc_energy_source *s = &e->src[e->n_sources++];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->joules = j;
    s->avg_watts = seconds > 0 ? j / seconds : 0;
    s->idle_watts = idle_w;
    s->idle_subtracted = subtracted;
    snprintf(s->note, sizeof s->note, "%s", note ? note : "");
}

static void estimate(const gc_meters *m, double seconds, double cpu_util, gc_energy *e) {
    const gc_profile *p = &m->profile;
    double u = cpu_util < 0 ? 0 : cpu_util > 1 ? 1 : cpu_util;
    double w = p->idle_watts + (p->active_watts - p->idle_watts) * u;
    char name[48], note[160];
    snprintf(name, sizeof name, "profile:%.39s", p->id);
    snprintf(note, sizeof note, "idle %g W + (active %g W - idle) x CPU utilisation %.2f; no meter: %.60s",
             p->idle_watts, p->active_watts, u, m->note[0] ? m->note : "none found");
    e->joules = w * seconds;
    snprintf(e->source, sizeof e->source, "%s", name);
    snprintf(e->kind, sizeof e->kind, "estimated");
    add_source(e, name, "estimated", e->joules, seconds, 0, false, note);
}

void energy_end(gc_meters *m, double seconds, double units, double cpu_util, gc_energy *e) {
    energy_none(e);
    if (!m) return;
    if (m->n) span_end(m);
    double wall = -1, primary = 0;
    char prim_names[64] = "";
    bool any_primary = false;
    for (int i = 0; i < m->n; i++) {
        sampler *s = &m->s[i];
        double j = meter_acc_joules(&s->acc);
        char note[256];   /* the source keeps what fits */
        snprintf(note, sizeof note, "%.100s%s%.40s%s", s->meter->note,
                 s->acc.n_errors ? (s->meter->note[0] ? "; failed reads: " : "failed reads: ") : "",
                 s->acc.n_errors ? s->acc.last_error : "",
                 s->acc.went_backwards ? "; the counter went backwards with no wrap range: no figure" : "");
        if (j < 0) {
            add_source(e, s->meter->name, "none", 0, seconds, 0, false, note);
            continue;
        }
        /* power samples cover [first, last] sample; their mean power times the span is the
         * span's energy (a counter needs no such scaling: its begin and end reads bound it) */
        double covered = s->acc.t_last - s->acc.t0;
        if (!s->acc.have_energy && s->acc.have_power)
            j = covered > 0 ? j / covered * seconds : s->acc.w_last * seconds;
        if (m->subtract_idle) j = fmax(0, j - s->idle_watts * seconds);
        add_source(e, s->meter->name, "measured", j, seconds, s->idle_watts, m->subtract_idle, note);
        if (s->meter->wall && wall < 0) {
            wall = j;
            snprintf(e->source, sizeof e->source, "%s", s->meter->name);
        }
        if (s->meter->primary) {
            primary += j;
            size_t u = strlen(prim_names);
            snprintf(prim_names + u, sizeof prim_names - u, "%s%s", u ? "+" : "", s->meter->name);
            any_primary = true;
        }
    }
    if (wall >= 0) {
        e->joules = wall;
        snprintf(e->kind, sizeof e->kind, "measured");
    } else if (any_primary) {
        e->joules = primary;
        snprintf(e->source, sizeof e->source, "%s", prim_names);
        snprintf(e->kind, sizeof e->kind, "measured");
    } else if (m->have_profile && m->profile.active_watts > 0) {
        estimate(m, seconds, cpu_util, e);
    }
    if (strcmp(e->kind, "none") && units > 0) e->joules_per_unit = e->joules / units;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

json_t *energy_to_json(const gc_energy *e) {
    json_t *o = json_pack("{s:s, s:s}", "source", e->source, "kind", e->kind);
    if (strcmp(e->kind, "none")) {
        json_object_set_new(o, "joules", json_real(e->joules));
        json_object_set_new(o, "joules_per_unit", json_real(e->joules_per_unit));
    }
    if (e->n_sources) {
        json_t *a = json_array();
        for (int i = 0; i < e->n_sources; i++) {
            const gc_energy_source *s = &e->src[i];
            json_t *so = json_pack("{s:s, s:s, s:f, s:f, s:f, s:b, s:s}", "name", s->name, "kind", s->kind,
                                   "joules", s->joules, "avg_watts", s->avg_watts, "idle_watts", s->idle_watts,
                                   "idle_subtracted", s->idle_subtracted, "note", s->note);
            if (so) json_array_append_new(a, so);
        }
        json_object_set_new(o, "sources", a);
    }
    return o;
}

static int source_from_json(const json_t *j, gc_energy_source *s, gc_err *err) {
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (!json_is_object(j) || !name || !kind) return gc_errf(err, "energy.sources: each needs string 'name' and 'kind'");
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->joules = json_number_value(json_object_get(j, "joules"));
    s->avg_watts = json_number_value(json_object_get(j, "avg_watts"));
    s->idle_watts = json_number_value(json_object_get(j, "idle_watts"));
    s->idle_subtracted = json_is_true(json_object_get(j, "idle_subtracted"));
    const char *note = json_string_value(json_object_get(j, "note"));
    snprintf(s->note, sizeof s->note, "%s", note ? note : "");
    return 0;
}

int energy_from_json(const json_t *j, gc_energy *e, gc_err *err) {
    energy_none(e);
    if (!json_is_object(j)) return gc_errf(err, "energy: not an object");
    const char *src = json_string_value(json_object_get(j, "source"));
    if (!src) return gc_errf(err, "energy: missing string 'source'");
    snprintf(e->source, sizeof e->source, "%s", src);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    snprintf(e->kind, sizeof e->kind, "%s", kind ? kind : "none");
    if (strcmp(e->kind, "none") && strcmp(e->kind, "measured") && strcmp(e->kind, "estimated"))
        return gc_errf(err, "energy: kind '%s' is not none, measured or estimated", e->kind);
    e->joules = json_number_value(json_object_get(j, "joules"));
    e->joules_per_unit = json_number_value(json_object_get(j, "joules_per_unit"));
    const json_t *a = json_object_get(j, "sources");
    if (a && !json_is_array(a)) return gc_errf(err, "energy: 'sources' must be an array");
    for (size_t i = 0; a && i < json_array_size(a) && e->n_sources < GC_ENERGY_MAX_SOURCES; i++)
        if (source_from_json(json_array_get(a, i), &e->src[e->n_sources++], err)) return -1;
    return 0;
}
