/* Guards when merging results into a report: does a results file's host (its `info --json`
 * facts) fit the profile it is tied to, and is a results file given twice. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "reports/report_model.h"

/* Whether word w occurs in s as a whole word (case-insensitive; words are runs of letters,
 * digits and '-'), so "M1" matches "Apple M1 Pro" but not "Apple M10". */
static bool has_word(const char *s, const char *w, size_t wn) {
    for (const char *p = s; *p; p++) {
        if (strncasecmp(p, w, wn)) continue;
        bool left = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
        bool right = !(isalnum((unsigned char)p[wn]) || p[wn] == '-');
        if (left && right) return true;
    }
    return false;
}

/* The profile's device up to its first " (" or ',' (the rest is commentary: where it runs);
 * a '(' inside a word stays, as in "Intel(R) Xeon(R)". */
static size_t device_head(const char *device) {
    const char *paren = strstr(device, " (");
    size_t comma = strcspn(device, ",");
    return paren && (size_t)(paren - device) < comma ? (size_t)(paren - device) : comma;
}

/* Names the results' host gives for what it ran on: CPU model and every accelerator. */
static int host_names(const json_t *host, const char *names[], double mem_gb[], int max) {
    int n = 0;
    const char *cpu = json_string_value(json_object_get(json_object_get(host, "cpu"), "model"));
    if (cpu && *cpu && n < max) {
        names[n] = cpu;
        mem_gb[n++] = json_number_value(json_object_get(host, "memory_bytes")) / 1e9;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(host, "accelerators"), i, a) {
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name && *name && n < max) {
            names[n] = name;
            mem_gb[n++] = json_number_value(json_object_get(a, "mem_bytes")) / 1e9;
        }
    }
    return n;
}

/* A name fits the device when it carries the device's model number (its first word with a
 * digit: "M1", "A100-SXM4-40GB", "3080") or, when the device has none, all its words. */
static bool name_fits(const char *name, const char *device) {
    size_t head = device_head(device), all = 0, found = 0;
    for (size_t i = 0; i < head;) {
        while (i < head && isspace((unsigned char)device[i])) i++;
        size_t j = i;
        bool digit = false;
        while (j < head && !isspace((unsigned char)device[j])) digit |= isdigit((unsigned char)device[j++]) != 0;
        if (j == i) break;
        if (digit) return has_word(name, device + i, j - i);
        all++;
        found += has_word(name, device + i, j - i);
        i = j;
    }
    return all > 0 && found == all;
}

/* Memory sizes agree within 10%, read as GB or GiB (GPUs report GiB-ish totals). */
static bool memory_fits(double have_gb, double want_gb) {
    if (!(have_gb > 0) || !(want_gb > 0)) return true;
    double gib = have_gb * 1e9 / 1073741824.0;
    return fabs(have_gb / want_gb - 1) <= 0.10 || fabs(gib / want_gb - 1) <= 0.10;
}

int rp_profile_fits(const json_t *host, const gc_profile *p, char *why, size_t n) {
    const char *names[16];
    double mem[16];
    int nn = host_names(host, names, mem, 16);
    if (!nn || !p->device[0]) return -1;   /* nothing to compare: a foreign or minimal file */
    for (int i = 0; i < nn; i++) {
        if (!name_fits(names[i], p->device)) continue;
        if (memory_fits(mem[i], p->mem_gb)) return 1;
        snprintf(why, n, "%s has %.3g GB of memory, the profile's device %.0f GB", names[i], mem[i], p->mem_gb);
        return 0;
    }
    char ran[256] = "";
    for (int i = 0; i < nn; i++) {
        size_t u = strlen(ran);
        snprintf(ran + u, sizeof ran - u, "%s%s", i ? " + " : "", names[i]);
    }
    snprintf(why, n, "it ran on %s, the profile is %.*s", ran, (int)device_head(p->device), p->device);
    return 0;
}

int rp_input_seen(rp_model *m, const char *path, const gc_results *res, gc_err *err) {
    struct stat st;
    if (stat(path, &st)) return 0;   /* results_read has already said why it cannot be read */
    for (int i = 0; i < m->n_inputs; i++) {
        const rp_input *in = &m->inputs[i];
        bool same_file = in->dev == (unsigned long long)st.st_dev && in->ino == (unsigned long long)st.st_ino;
        bool same_run = !strcmp(in->host, res->host_name) && !strcmp(in->started, res->started) &&
                        !strcmp(in->finished, res->finished) && res->started[0];
        if (same_file || same_run)
            return gc_errf(err, "%s: the same results as %s (%s); give each results file once", path,
                           in->path, same_file ? "the same file" : "the same host, start and finish");
    }
    if (m->n_inputs == RP_MAX_INPUTS) return gc_errf(err, "%s: more than %d results files", path, RP_MAX_INPUTS);
    rp_input *in = &m->inputs[m->n_inputs++];
    snprintf(in->path, sizeof in->path, "%s", path);
    snprintf(in->host, sizeof in->host, "%s", res->host_name);
    snprintf(in->started, sizeof in->started, "%s", res->started);
    snprintf(in->finished, sizeof in->finished, "%s", res->finished);
    in->dev = (unsigned long long)st.st_dev;
    in->ino = (unsigned long long)st.st_ino;
    return 0;
}
