/* `gencost info --profile`: a host profile for this machine. Facts gencost can read (CPU, memory,
 * the RAPL package power limit) are filled in with where they came from; figures it cannot know
 * (what the machine cost, how many hours a day it works) are written as placeholders that say so,
 * so the owner edits them rather than trusting them. */
#include "bench/host/profile.h"

#include "bench/probes/fma.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/sysctl.h>
#endif

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
#ifdef __APPLE__
    size_t len = n;
    if (sysctlbyname("machdep.cpu.brand_string", buf, &len, NULL, 0) != 0) snprintf(buf, n, "Apple CPU");
#else
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* x86 says "model name"; some AArch64 kernels say "Model" or nothing at all */
        if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5)) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v += 1 + strspn(v + 1, " \t");
        snprintf(buf, n, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    fclose(f);
#endif
}

/* The package power limit PL1 (long-term, ≈ TDP) is world-readable even where energy_uj is not. */
static double rapl_pl1_watts(void) {
    const char *root = getenv("GENCOST_POWERCAP_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/intel-rapl:0/constraint_0_power_limit_uw",
             root ? root : "/sys/class/powercap");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long uw = 0;
    int ok = fscanf(f, "%llu", &uw) == 1;
    fclose(f);
    return ok ? (double)uw / 1e6 : 0;
}

static void sanitize(char *s) {   /* an INI value must stay on one line and hold no ';' */
    for (; *s; s++)
        if (*s == ';' || *s == '\n' || *s == '\r' || *s == '[') *s = ' ';
}

int profile_write_local(FILE *f, gc_err *err) {
    char model[160], host[64] = "this machine", date[32];
    cpu_model(model, sizeof model);
    sanitize(model);
    if (gethostname(host, sizeof host) == 0) host[sizeof host - 1] = 0;
    sanitize(host);
    gc_utc_iso(date, sizeof date);
    date[10] = 0;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double mem_gb = pages > 0 && psize > 0 ? (double)pages * (double)psize / 1e9 : 0;
    double pl1 = rapl_pl1_watts();

    fprintf(f, "; Host profile of %s, written by `gencost info --profile` on %s.\n", host, date);
    fprintf(f, "; Lines marked EDIT hold placeholders gencost cannot know: replace them with yours.\n\n");
    fprintf(f, "[host]\nname = %s (local)\ndevice = %s, %ld logical CPUs\n\n", host, model, cores);
    fprintf(f, "[hardware]\n");
    fprintf(f, "; memory bandwidth is not written: `gencost run --workload triad` measures it and\n"
               "; reports use the measured figure as this host's ceiling\n");
    if (mem_gb > 0)
        fprintf(f, "; physical memory (sysconf, this machine, %s)\nmemory_gb = %.1f\n", date, mem_gb);
    /* The compute ceiling of this host's roofline: measured, since a looked-up figure would not
     * know the clock, the vector width actually executed or the cores this machine lends. */
    probe_fma_result fma;
    gc_err perr;
    if (probe_fma(0, NULL, &fma, &perr) == 0 && fma.gflops > 0)
        fprintf(f, "; FP32 FMA peak measured by gencost's FMA probe (%s, %d threads, this machine, %s)\n"
                   "peak_tflops_fp32 = %.4f\n", fma.isa, fma.threads, date, fma.gflops / 1000);
    if (pl1 > 0) {
        fprintf(f, "; RAPL package power limit PL1 (powercap sysfs, this machine, %s)\n", date);
        fprintf(f, "active_watts = %.1f\n", pl1);
        fprintf(f, "; EDIT: assumption, a tenth of the package limit at idle\nidle_watts = %.1f\n", pl1 / 10);
        fprintf(f, "power_source = RAPL PL1 of this machine (%s); idle assumed\n\n", date);
    } else {
        fprintf(f, "; EDIT: assumption (no power figure readable here): a typical desktop CPU package;\n"
                   "; measure with a wall meter (gencost run --meter shelly:URL) and put the figures here\n");
        fprintf(f, "active_watts = 65\nidle_watts = 10\n");
        fprintf(f, "power_source = assumed 65 W active, 10 W idle (gencost default, edit)\n\n");
    }
    fprintf(f, "[cost]\nkind = owned\n");
    fprintf(f, "source = written by gencost info --profile; electricity and grid: EIA US averages (2023-2024)\n");
    fprintf(f, "as_of = %s\n", date);
    fprintf(f, "; EDIT: what you paid; 0 counts electricity only\npurchase_usd = 0\n");
    fprintf(f, "; EDIT: assumption, years you will keep it\nlifetime_years = 4\n");
    fprintf(f, "; EDIT: assumption, hours of use a day\nhours_per_day = 8\n");
    fprintf(f, "; US residential average (EIA, 2023-2024)\nelectricity_usd_per_kwh = 0.16\n");
    fprintf(f, "; US grid average (EIA, 2023)\ngrid_gco2_per_kwh = 366\n");
    if (ferror(f)) return gc_errf(err, "cannot write the profile");
    return 0;
}
