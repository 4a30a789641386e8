/* Energy meters. This first version has no meter: every case records source "none".
 * The energy issue adds RAPL, NVML, powermetrics, HTTP wall meters and estimates. */
#include "bench/energy.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct gc_meters {
    int unused;
};

gc_meters *energy_open(const struct gc_options *opt) {
    (void)opt;
    return calloc(1, sizeof(gc_meters));
}

void energy_close(gc_meters *m) { free(m); }
void energy_begin(gc_meters *m) { (void)m; }

void energy_none(gc_energy *e) {
    memset(e, 0, sizeof *e);
    strcpy(e->source, "none");
    strcpy(e->kind, "none");
}

void energy_end(gc_meters *m, double seconds, double units, double cpu_util, gc_energy *e) {
    (void)m; (void)seconds; (void)units; (void)cpu_util;
    energy_none(e);
}

json_t *energy_to_json(const gc_energy *e) {
    json_t *o = json_pack("{s:s, s:s}", "source", e->source, "kind", e->kind);
    if (strcmp(e->kind, "none")) {
        json_object_set_new(o, "joules", json_real(e->joules));
        json_object_set_new(o, "joules_per_unit", json_real(e->joules_per_unit));
    }
    return o;
}

int energy_from_json(const json_t *j, gc_energy *e, gc_err *err) {
    energy_none(e);
    if (!json_is_object(j)) return gc_errf(err, "energy: not an object");
    const char *src = json_string_value(json_object_get(j, "source"));
    if (!src) return gc_errf(err, "energy: missing string 'source'");
    snprintf(e->source, sizeof e->source, "%s", src);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    snprintf(e->kind, sizeof e->kind, "%s", kind ? kind : "none");
    e->joules = json_number_value(json_object_get(j, "joules"));
    e->joules_per_unit = json_number_value(json_object_get(j, "joules_per_unit"));
    return 0;
}
