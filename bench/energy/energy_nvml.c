/* NVIDIA GPUs through NVML, opened at run time (dlopen "libnvidia-ml.so.1") so a build without
 * the NVIDIA driver still runs. Volta and later have a total-energy counter
 * (nvmlDeviceGetTotalEnergyConsumption, mJ since the driver loaded), which is exact over any
 * span; older GPUs only give nvmlDeviceGetPowerUsage (mW), which the driver averages over a
 * window (about one second on recent GPUs), so short phases are smeared: the note says so.
 * Signatures from the NVML API reference (nvml.h). */
#include "bench/energy/energy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvml_ret;                   /* nvmlReturn_t; 0 = NVML_SUCCESS */
typedef struct nvml_dev *nvml_device;   /* nvmlDevice_t, opaque */

typedef struct nvml_api {
    void *lib;
    nvml_ret (*init)(void);
    nvml_ret (*count)(unsigned *);
    nvml_ret (*handle)(unsigned, nvml_device *);
    nvml_ret (*energy)(nvml_device, unsigned long long *);
    nvml_ret (*power)(nvml_device, unsigned *);
    nvml_ret (*name)(nvml_device, char *, unsigned);
    const char *(*error)(nvml_ret);
} nvml_api;

static nvml_api api;
static int api_state;   /* 0 untried, 1 ready, -1 unavailable */
static char api_why[128];
static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct nvml_meter {
    nvml_device dev;
    bool counter;
} nvml_meter;

static int load_api(void) {
    /* GENCOST_NVML_LIB: a driver library outside the loader's path (e.g. WSL's), or a test's */
    const char *path = getenv("GENCOST_NVML_LIB") ? getenv("GENCOST_NVML_LIB") : "libnvidia-ml.so.1";
    api.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!api.lib) {
        snprintf(api_why, sizeof api_why, "NVML not found (%.60s: no NVIDIA driver here)", path);
        return -1;
    }
    /* a function pointer from a data pointer: POSIX dlsym guarantees this works */
    *(void **)&api.init = dlsym(api.lib, "nvmlInit_v2");
    *(void **)&api.count = dlsym(api.lib, "nvmlDeviceGetCount_v2");
    *(void **)&api.handle = dlsym(api.lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&api.energy = dlsym(api.lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&api.power = dlsym(api.lib, "nvmlDeviceGetPowerUsage");
    *(void **)&api.name = dlsym(api.lib, "nvmlDeviceGetName");
    *(void **)&api.error = dlsym(api.lib, "nvmlErrorString");
    if (!api.init || !api.count || !api.handle || !api.power) {
        snprintf(api_why, sizeof api_why, "libnvidia-ml.so.1 lacks the NVML functions gencost needs");
        return -1;
    }
    nvml_ret rc = api.init();
    if (rc) {
        snprintf(api_why, sizeof api_why, "nvmlInit failed: %s", api.error ? api.error(rc) : "error");
        return -1;
    }
    return 0;
}

static int nvml_read(gc_meter *m, gc_meter_reading *r, gc_err *err) {
    nvml_meter *n = m->impl;
    nvml_ret rc;
    if (n->counter) {
        unsigned long long mj = 0;
        if ((rc = api.energy(n->dev, &mj))) return gc_errf(err, "%s: total energy: error %d", m->name, rc);
        r->has_energy = true;
        r->energy_j = (double)mj * 1e-3;
        r->wrap_j = 0;   /* 64-bit millijoules: no wrap in practice */
    } else {
        unsigned mw = 0;
        if ((rc = api.power(n->dev, &mw))) return gc_errf(err, "%s: power usage: error %d", m->name, rc);
        r->has_power = true;
        r->watts = mw * 1e-3;
    }
    return 0;
}

static void nvml_close(gc_meter *m) {
    free(m->impl);
    free(m);
}

int meter_nvml_open(gc_meter **out, int *n, int max, gc_err *err) {
    pthread_mutex_lock(&api_lock);
    if (!api_state) api_state = load_api() ? -1 : 1;
    pthread_mutex_unlock(&api_lock);
    if (api_state < 0) return gc_errf(err, "%s", api_why);
    unsigned count = 0;
    if (api.count(&count) || !count) return gc_errf(err, "NVML sees no GPU");
    int opened = 0;
    for (unsigned i = 0; i < count && *n < max; i++) {
        nvml_device dev;
        if (api.handle(i, &dev)) continue;
        nvml_meter *nm = calloc(1, sizeof *nm);
        gc_meter *m = calloc(1, sizeof *m);
        if (!nm || !m) {
            free(nm);
            free(m);
            break;
        }
        nm->dev = dev;
        unsigned long long mj;
        nm->counter = api.energy && api.energy(dev, &mj) == 0;
        char gpu[96] = "";
        if (api.name) api.name(dev, gpu, sizeof gpu);
        snprintf(m->name, sizeof m->name, "nvml:%u", i);
        if (nm->counter)
            snprintf(m->note, sizeof m->note, "%.60s: total-energy counter", gpu);
        else
            snprintf(m->note, sizeof m->note, "%.40s: integrated power samples; NVML averages power over "
                     "~1 s, so phases of a few seconds or less are smeared", gpu);
        m->primary = true;
        m->interval_s = nm->counter ? 0.5 : 0.05;
        m->read = nvml_read;
        m->close = nvml_close;
        m->impl = nm;
        out[(*n)++] = m;
        opened++;
    }
    return opened ? 0 : gc_errf(err, "NVML: no GPU could be opened");
}
