/* Apple: `powermetrics --samplers cpu_power,gpu_power -i MS -f plist` (root only) streams one
 * plist per sample, each ended by a NUL byte. On Apple Silicon the `processor` dictionary holds
 * `combined_power` (CPU + GPU + ANE, milliwatts); Intel Macs give `package_watts`. A reader
 * thread keeps the latest figure; the meter reports it as power. Without root the meter is not
 * opened and energy is estimated from the host profile instead, and the note says so. */
#include "bench/energy/energy.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The number after <key>NAME</key>, if it is <real> or <integer>. */
static int plist_number(const char *plist, const char *key, double *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "<key>%s</key>", key);
    const char *p = strstr(plist, pat);
    if (!p) return -1;
    p += strlen(pat);
    p += strspn(p, " \t\r\n");
    const char *v = !strncmp(p, "<real>", 6) ? p + 6 : !strncmp(p, "<integer>", 9) ? p + 9 : NULL;
    if (!v) return -1;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '<') return -1;
    *out = x;
    return 0;
}

int powermetrics_parse_watts(const char *plist, double *watts) {
    double v;
    if (!plist_number(plist, "combined_power", &v)) {
        *watts = v / 1000.0;
        return 0;
    }
    if (!plist_number(plist, "package_watts", &v)) {
        *watts = v;
        return 0;
    }
    return -1;
}

#ifdef __APPLE__
typedef struct pm_meter {
    pid_t pid;
    int fd;
    pthread_t reader;
    pthread_mutex_t lock;
    double watts;
    bool have;
} pm_meter;

static void *pm_reader(void *arg) {
    pm_meter *pm = arg;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (len == cap) len = 0;   /* a plist that large is not powermetrics: start over */
        ssize_t got = read(pm->fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
        char *nul;
        while ((nul = memchr(buf, 0, len))) {
            double w;
            if (powermetrics_parse_watts(buf, &w) == 0) {
                pthread_mutex_lock(&pm->lock);
                pm->watts = w;
                pm->have = true;
                pthread_mutex_unlock(&pm->lock);
            }
            size_t used = (size_t)(nul - buf) + 1;
            memmove(buf, nul + 1, len - used);
            len -= used;
        }
        buf[len] = 0;
    }
    free(buf);
    return NULL;
}

static int pm_read(gc_meter *m, gc_meter_reading *r, gc_err *err) {
    pm_meter *pm = m->impl;
    pthread_mutex_lock(&pm->lock);
    bool have = pm->have;
    r->watts = pm->watts;
    pthread_mutex_unlock(&pm->lock);
    if (!have) return gc_errf(err, "powermetrics: no sample yet");
    r->has_power = true;
    return 0;
}

static void pm_close(gc_meter *m) {
    pm_meter *pm = m->impl;
    kill(pm->pid, SIGTERM);
    waitpid(pm->pid, NULL, 0);
    close(pm->fd);   /* the reader sees EOF */
    pthread_join(pm->reader, NULL);
    pthread_mutex_destroy(&pm->lock);
    free(pm);
    free(m);
}

#endif

int meter_powermetrics_open(double interval_s, gc_meter **out, int *n, int max, gc_err *err) {
#ifndef __APPLE__
    (void)interval_s; (void)out; (void)n; (void)max;
    return gc_errf(err, "powermetrics exists on macOS only");
#else
    if (*n >= max) return gc_errf(err, "too many meters");
    if (geteuid() != 0)
        return gc_errf(err, "powermetrics needs root (sudo gencost run ...); energy is estimated from --profile instead");
    int fds[2];
    if (pipe(fds)) return gc_errf(err, "powermetrics: pipe: %s", strerror(errno));
    char ms[16];
    snprintf(ms, sizeof ms, "%d", (int)(interval_s * 1000));
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return gc_errf(err, "powermetrics: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("powermetrics", "powermetrics", "--samplers", "cpu_power,gpu_power", "-i", ms, "-f", "plist", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    pm_meter *pm = calloc(1, sizeof *pm);
    gc_meter *m = calloc(1, sizeof *m);
    if (!pm || !m) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        free(pm);
        free(m);
        return gc_errf(err, "out of memory");
    }
    pm->pid = pid;
    pm->fd = fds[0];
    pthread_mutex_init(&pm->lock, NULL);
    if (pthread_create(&pm->reader, NULL, pm_reader, pm)) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        free(pm);
        free(m);
        return gc_errf(err, "powermetrics: cannot start its reader");
    }
    snprintf(m->name, sizeof m->name, "powermetrics");
    snprintf(m->note, sizeof m->note, "SoC combined power (CPU+GPU+ANE) sampled every %s ms", ms);
    m->primary = true;
    m->interval_s = interval_s;
    m->read = pm_read;
    m->close = pm_close;
    m->impl = pm;
    out[(*n)++] = m;
    return 0;
#endif
}
