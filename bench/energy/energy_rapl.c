/* Linux RAPL through powercap sysfs (Documentation/power/powercap/powercap.rst): each zone
 * directory (intel-rapl:0, its subzones intel-rapl:0:0, …; AMD Zen exposes the same driver and
 * names) has `name` (package-0, core, uncore, dram, psys), `energy_uj` (a counter in µJ) and
 * `max_energy_range_uj` (where the counter wraps to 0). Package zones are the primary figure;
 * subzones are recorded beside them. Since Linux 5.10 energy_uj is readable by root only
 * (CVE-2020-8694), so the error says how to open it. */
#include "bench/energy/energy.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rapl_zone {
    char energy_path[600];
    double wrap_j;
} rapl_zone;

/* Reads one unsigned decimal from a sysfs file. errno is kept for the caller's message. */
static int read_u64(const char *path, unsigned long long *v) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%llu", v) == 1;
    int saved = errno;
    fclose(f);
    errno = saved;
    return ok ? 0 : (errno = EINVAL, -1);
}

static int rapl_read(gc_meter *m, gc_meter_reading *r, gc_err *err) {
    const rapl_zone *z = m->impl;
    unsigned long long uj;
    if (read_u64(z->energy_path, &uj)) return gc_errf(err, "%s: %s", z->energy_path, strerror(errno));
    r->has_energy = true;
    r->energy_j = (double)uj * 1e-6;
    r->wrap_j = z->wrap_j;
    return 0;
}

static void rapl_close(gc_meter *m) {
    free(m->impl);
    free(m);
}

/* "intel-rapl:0" or "intel-rapl:0:1" (also "amd-rapl:…"); not "intel-rapl-mmio:…", which
 * repeats the package counter through another interface. */
static int zone_depth(const char *d) {
    const char *p = !strncmp(d, "intel-rapl:", 11) ? d + 11 : !strncmp(d, "amd-rapl:", 9) ? d + 9 : NULL;
    if (!p || !*p) return 0;
    int colons = 0;
    for (; *p; p++) {
        if (*p == ':') colons++;
        else if (*p < '0' || *p > '9') return 0;
    }
    return colons == 0 ? 1 : colons == 1 ? 2 : 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void zone_name(const char *root, const char *dir, char *out, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s/name", root, dir);
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (f) {
        if (fgets(out, (int)n, f)) out[strcspn(out, "\n")] = 0;
        fclose(f);
    }
    if (!out[0]) snprintf(out, n, "%s", dir);
}

static gc_meter *open_zone(const char *root, const char *dir, int depth, gc_err *err) {
    rapl_zone *z = calloc(1, sizeof *z);
    gc_meter *m = calloc(1, sizeof *m);
    if (!z || !m) {
        free(z);
        free(m);
        gc_errf(err, "out of memory");
        return NULL;
    }
    snprintf(z->energy_path, sizeof z->energy_path, "%s/%s/energy_uj", root, dir);
    char path[600], name[32], parent[32] = "";
    snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", root, dir);
    unsigned long long range = 0;
    if (read_u64(path, &range) == 0) z->wrap_j = (double)range * 1e-6;
    zone_name(root, dir, name, sizeof name);
    if (depth == 2) {
        char pdir[64];
        snprintf(pdir, sizeof pdir, "%.*s", (int)(strrchr(dir, ':') - dir), dir);
        zone_name(root, pdir, parent, sizeof parent);
    }
    snprintf(m->name, sizeof m->name, "rapl:%.20s%s%.20s", parent, parent[0] ? "/" : "", name);
    /* packages carry the headline figure; psys (whole SoC platform) is recorded beside it */
    m->primary = depth == 1 && !strncmp(name, "package", 7);
    m->interval_s = 0.1;
    m->read = rapl_read;
    m->close = rapl_close;
    m->impl = z;
    unsigned long long uj;
    if (read_u64(z->energy_path, &uj)) {
        int why = errno;
        if (why != EACCES) gc_errf(err, "%s: %s", z->energy_path, strerror(why));
        else
            gc_errf(err, "%s is readable by root only (Linux >= 5.10, CVE-2020-8694); to measure CPU energy run: "
                         "sudo chmod o+r %s/intel-rapl:*/energy_uj %s/intel-rapl:*/intel-rapl:*/energy_uj (until reboot), or run as root",
                    z->energy_path, root, root);
        rapl_close(m);
        return NULL;
    }
    if (z->wrap_j <= 0) snprintf(m->note, sizeof m->note, "no max_energy_range_uj: wrap-around not handled");
    return m;
}

int meter_rapl_open(const char *root, gc_meter **out, int *n, int max, gc_err *err) {
    DIR *d = opendir(root);
    if (!d) return gc_errf(err, "no RAPL here (%s: %s)", root, strerror(errno));
    char *dirs[64];
    int nd = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nd < 64)
        if (zone_depth(e->d_name)) dirs[nd++] = strdup(e->d_name);
    closedir(d);
    qsort(dirs, (size_t)nd, sizeof dirs[0], by_name);
    int opened = 0, rc = 0;
    gc_err first = {{0}};
    for (int i = 0; i < nd; i++) {
        gc_err zerr = {{0}};
        gc_meter *m = *n < max ? open_zone(root, dirs[i], zone_depth(dirs[i]), &zerr) : NULL;
        if (m) {
            out[(*n)++] = m;
            opened++;
        } else if (!first.msg[0] && zerr.msg[0]) {
            first = zerr;
        }
        free(dirs[i]);
    }
    if (!opened) rc = nd ? gc_errf(err, "%s", first.msg[0] ? first.msg : "RAPL zones unreadable")
                         : gc_errf(err, "no RAPL zones in %s", root);
    return rc;
}
