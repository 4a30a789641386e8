/* The host this process runs on, as hwloc, the CPU feature flags, uname and the compiled
 * backends see it. Used by `gencost info` and recorded in every results file. */
#ifndef GC_HOST_H
#define GC_HOST_H
#include <stdint.h>
#include <stdio.h>

struct json_t;

typedef struct gc_cache_level {
    uint64_t size_bytes;    /* one instance (the first; hybrid CPUs may differ per cluster) */
    uint64_t total_bytes;   /* all instances together */
    int count;
} gc_cache_level;

typedef struct gc_host {
    char name[128];         /* hostname */
    char cpu_model[128], cpu_vendor[64], arch[32];
    int packages, cores, pus, numa_nodes;
    gc_cache_level l1d, l2, l3;
    uint64_t mem_bytes;
    char simd[256];         /* space-separated SIMD features (kernels/cpu/cpu_features.h) */
    char os[128];           /* distribution ("Debian GNU/Linux 12 (bookworm)") or sysname */
    char kernel[192];       /* uname sysname + release */
} gc_host;

/* Detected once per process (hwloc topology load), then cached. Never fails: what cannot be
 * learned stays 0 or empty. */
const gc_host *host_get(void);

/* Sum of the last-level caches (L3, else L2) in bytes; 0 when unknown. */
uint64_t host_llc_bytes(void);

/* The full description as a new JSON object, "name" = hostname; includes compiler, flags and
 * every backend of this build with its availability and devices. */
struct json_t *host_json(void);

/* The same as readable text. */
void host_print(FILE *f);

#endif
