/* Host description: hwloc for the topology (packages, cores, PUs, caches, NUMA, memory),
 * cpu_features for SIMD, uname and os-release for the system, the backends for accelerators. */
#include "bench/host/facts.h"

#include <hwloc.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/version.h"
#include "kernels/backend.h"
#include "kernels/platform.h"

#define MAX_DEVICES 16

/* Copies what fits (descriptions may be cut, never overflow). */
static void copy_str(char *dst, size_t n, const char *src) {
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len) memcpy(dst, src, len);
    dst[len] = 0;
}

/* Data and unified caches of one level; instruction caches are not what data streams through. */
static gc_cache_level cache_level(hwloc_topology_t t, hwloc_obj_type_t type) {
    gc_cache_level c = {0};
    int n = hwloc_get_nbobjs_by_type(t, type);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, type, (unsigned)i);
        if (!o->attr || o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION) continue;
        if (c.count == 0) c.size_bytes = o->attr->cache.size;
        c.total_bytes += o->attr->cache.size;
        c.count++;
    }
    return c;
}

static void detect_topology(gc_host *h) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t)) return;
    if (hwloc_topology_load(t)) {
        hwloc_topology_destroy(t);
        return;
    }
    h->packages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    h->cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    h->pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    h->numa_nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    h->l1d = cache_level(t, HWLOC_OBJ_L1CACHE);
    h->l2 = cache_level(t, HWLOC_OBJ_L2CACHE);
    h->l3 = cache_level(t, HWLOC_OBJ_L3CACHE);
    hwloc_obj_t root = hwloc_get_root_obj(t);
    h->mem_bytes = root->total_memory;
    /* Some VMs hot-plug memory that no NUMA node lists (hwloc saw 12 GiB of a 24 GiB guest): the
     * OS's count of physical pages is then the memory a run can use. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0 && (unsigned long long)pages * (unsigned long long)page > h->mem_bytes)
        h->mem_bytes = (unsigned long long)pages * (unsigned long long)page;
    hwloc_obj_t pkg = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 0);
    hwloc_obj_t info_obj = pkg ? pkg : root;
    copy_str(h->cpu_model, sizeof h->cpu_model, hwloc_obj_get_info_by_name(info_obj, "CPUModel"));
    copy_str(h->cpu_vendor, sizeof h->cpu_vendor, hwloc_obj_get_info_by_name(info_obj, "CPUVendor"));
    hwloc_topology_destroy(t);
}

/* PRETTY_NAME from os-release (freedesktop.org os-release(5)); empty elsewhere. */
static void os_release_name(char *buf, size_t n) {
    FILE *f = fopen("/etc/os-release", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "PRETTY_NAME=", 12)) continue;
        char *v = line + 12;
        v[strcspn(v, "\n")] = 0;
        size_t len = strlen(v);
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
            v[len - 1] = 0;
            v++;
        }
        copy_str(buf, n, v);
        break;
    }
    fclose(f);
}

static void detect(gc_host *h) {
    memset(h, 0, sizeof *h);
    if (gethostname(h->name, sizeof h->name - 1)) copy_str(h->name, sizeof h->name, "unknown");
    detect_topology(h);
    gk_cpu_features_string(gk_cpu_features_get(), h->simd, (int)sizeof h->simd);
    struct utsname u;
    if (!uname(&u)) {
        copy_str(h->arch, sizeof h->arch, u.machine);
        snprintf(h->kernel, sizeof h->kernel, "%s %s", u.sysname, u.release);
        copy_str(h->os, sizeof h->os, u.sysname);
    }
    os_release_name(h->os, sizeof h->os);
    if (!h->cpu_model[0]) copy_str(h->cpu_model, sizeof h->cpu_model, "unknown");
}

const gc_host *host_get(void) {
    static gc_host h;
    static bool done;
    if (!done) {
        detect(&h);
        done = true;
    }
    return &h;
}

uint64_t host_llc_bytes(void) {
    const gc_host *h = host_get();
    return h->l3.total_bytes ? h->l3.total_bytes : h->l2.total_bytes;
}

static json_t *cache_json(const gc_cache_level *c) {
    return json_pack("{s:I, s:I, s:i}", "size_bytes", (json_int_t)c->size_bytes, "total_bytes",
                     (json_int_t)c->total_bytes, "count", c->count);
}

static json_t *simd_json(const char *simd) {
    json_t *a = json_array();
    char buf[256];
    copy_str(buf, sizeof buf, simd);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        json_array_append_new(a, json_string(tok));
    return a;
}

static json_t *device_json(const gk_device_info *d) {
    json_t *o = json_pack("{s:s, s:i, s:i, s:I, s:f}", "name", d->name, "sm_count", d->sm_count,
                          "bus_width_bits", d->bus_width_bits, "mem_bytes", (json_int_t)d->mem_bytes,
                          "peak_bw_gbs", d->peak_bw_gbs);
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
    json_object_set_new(o, "compute_capability", json_string(cc));
    json_object_set_new(o, "driver_version", json_string(d->driver_version));
    json_object_set_new(o, "runtime_version", json_string(d->runtime_version));
    if (d->blas[0]) json_object_set_new(o, "blas", json_string(d->blas));
    return o;
}

/* Every backend of this build: whether it opens here (and why not), and the devices it sees. */
static json_t *backends_json(json_t **accelerators) {
    json_t *list = json_array();
    *accelerators = json_array();
    for (const char *const *n = gk_backend_names(); *n; n++) {
        char why[256] = "";
        bool ok = gk_backend_available(*n, why, sizeof why);
        json_t *b = json_pack("{s:s, s:b}", "name", *n, "available", ok);
        if (!ok) json_object_set_new(b, "why", json_string(why));
        json_array_append_new(list, b);
        gk_device_info dev[MAX_DEVICES];
        int nd = gk_backend_devices(*n, dev, MAX_DEVICES);
        for (int i = 0; i < nd && i < MAX_DEVICES; i++) {
            json_t *d = device_json(&dev[i]);
            json_object_set_new(d, "backend", json_string(*n));
            json_array_append_new(*accelerators, d);
        }
    }
    return list;
}

json_t *host_json(void) {
    const gc_host *h = host_get();
    json_t *cpu = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i}", "model", h->cpu_model, "vendor",
                            h->cpu_vendor, "arch", h->arch, "packages", h->packages, "cores", h->cores,
                            "threads", h->pus, "numa_nodes", h->numa_nodes);
    json_object_set_new(cpu, "simd", simd_json(h->simd));
    json_object_set_new(cpu, "caches", json_pack("{s:o, s:o, s:o}", "l1d", cache_json(&h->l1d), "l2",
                                                 cache_json(&h->l2), "l3", cache_json(&h->l3)));
    json_t *acc = NULL;
    json_t *backends = backends_json(&acc);
    return json_pack("{s:s, s:o, s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "name", h->name, "cpu", cpu,
                     "memory_bytes", (json_int_t)h->mem_bytes, "os", h->os, "kernel", h->kernel,
                     "compiler", gc_compiler, "cflags", gc_cflags, "backends", backends,
                     "accelerators", acc);
}

static void print_size(FILE *f, const char *label, const gc_cache_level *c) {
    if (!c->count) {
        fprintf(f, "  %-10s -\n", label);
        return;
    }
    fprintf(f, "  %-10s %llu KiB x %d (%llu KiB total)\n", label,
            (unsigned long long)(c->size_bytes >> 10), c->count, (unsigned long long)(c->total_bytes >> 10));
}

static void print_backends(FILE *f) {
    fprintf(f, "backends:\n");
    for (const char *const *n = gk_backend_names(); *n; n++) {
        char why[256] = "";
        bool ok = gk_backend_available(*n, why, sizeof why);
        fprintf(f, "  %-10s %s%s%s\n", *n, ok ? "available" : "not available", ok ? "" : ": ", ok ? "" : why);
        gk_device_info dev[MAX_DEVICES];
        int nd = gk_backend_devices(*n, dev, MAX_DEVICES);
        for (int i = 0; i < nd && i < MAX_DEVICES; i++)
            fprintf(f, "    device %d: %s (compute %d.%d, %d SMs, %.1f GiB, %.0f GB/s peak%s%s)\n", i,
                    dev[i].name, dev[i].cc_major, dev[i].cc_minor, dev[i].sm_count,
                    (double)dev[i].mem_bytes / (1u << 30), dev[i].peak_bw_gbs, dev[i].blas[0] ? "; " : "", dev[i].blas);
    }
}

void host_print(FILE *f) {
    const gc_host *h = host_get();
    fprintf(f, "host:       %s\n", h->name);
    fprintf(f, "cpu:        %s (%s, %s)\n", h->cpu_model, h->cpu_vendor[0] ? h->cpu_vendor : "unknown vendor", h->arch);
    fprintf(f, "topology:   %d package(s), %d core(s), %d hardware thread(s), %d NUMA node(s)\n",
            h->packages, h->cores, h->pus, h->numa_nodes);
    fprintf(f, "caches:\n");
    print_size(f, "L1d", &h->l1d);
    print_size(f, "L2", &h->l2);
    print_size(f, "L3", &h->l3);
    fprintf(f, "memory:     %.1f GiB\n", (double)h->mem_bytes / (1u << 30));
    fprintf(f, "simd:       %s\n", h->simd[0] ? h->simd : "(none detected)");
    fprintf(f, "os:         %s; kernel %s\n", h->os, h->kernel);
    fprintf(f, "compiler:   %s\n", gc_compiler);
    fprintf(f, "flags:      %s\n", gc_cflags);
    print_backends(f);
}
