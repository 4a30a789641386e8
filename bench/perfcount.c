/* Instruction counts through perf_event_open(2) (Linux). Elsewhere: unavailable. */
#include "bench/perfcount.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef __linux__
#include <dirent.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc has no wrapper for this system call. */
static int perf_open(struct perf_event_attr *a, pid_t tid) {
    return (int)syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* The reason an open failed, in words a user can act on. */
static void explain(gc_perfcount *pc, int e) {
    const char *why;
    switch (e) {
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
        why = "no hardware counters (common in virtual machines)";
        break;
    case EACCES:
    case EPERM:
        why = "not permitted (see /proc/sys/kernel/perf_event_paranoid, or run with CAP_PERFMON)";
        break;
    case ENOSYS:
        why = "perf events not built into this kernel";
        break;
    default:
        why = strerror(e);
    }
    snprintf(pc->why, sizeof pc->why, "instruction counter unavailable: %s", why);
}

static int open_thread(gc_perfcount *pc, pid_t tid, uint32_t type, uint64_t config) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = type;
    a.config = config;
    a.disabled = 1;
    a.inherit = 1;          /* threads this one starts later are counted too */
    a.exclude_kernel = 1;   /* user space only: allowed at perf_event_paranoid <= 2 */
    a.exclude_hv = 1;
    a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    int fd = perf_open(&a, tid);
    if (fd < 0)
        return -errno;
    pc->fds[pc->n_fds++] = fd;
    return 0;
}

int perfcount_open(gc_perfcount *pc) {
    return perfcount_open_event(pc, PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS);
}

int perfcount_open_event(gc_perfcount *pc, uint32_t type, uint64_t config) {
    memset(pc, 0, sizeof *pc);
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        int rc = open_thread(pc, 0, type, config);
        if (rc)
            explain(pc, -rc);
        pc->available = !rc;
        return rc ? -1 : 0;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) && pc->n_fds < GC_PERF_MAX_THREADS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        rc = open_thread(pc, (pid_t)atoi(e->d_name), type, config);
        if (rc == -ESRCH)   /* the thread ended between listing and opening */
            rc = 0;
    }
    closedir(d);
    if (!rc && pc->n_fds == 0)
        rc = -ESRCH;
    if (rc) {
        explain(pc, -rc);
        perfcount_close(pc);
        return -1;
    }
    pc->available = true;
    return 0;
}

void perfcount_start(gc_perfcount *pc) {
    for (int i = 0; i < pc->n_fds; i++) {
        ioctl(pc->fds[i], PERF_EVENT_IOC_RESET, 0);
        ioctl(pc->fds[i], PERF_EVENT_IOC_ENABLE, 0);
    }
}

int perfcount_stop(gc_perfcount *pc, uint64_t *instructions) {
    *instructions = 0;
    pc->multiplexed = false;
    if (!pc->available) {
        if (!pc->why[0])
            snprintf(pc->why, sizeof pc->why, "instruction counter unavailable: not opened");
        return -1;
    }
    for (int i = 0; i < pc->n_fds; i++)
        ioctl(pc->fds[i], PERF_EVENT_IOC_DISABLE, 0);
    double total = 0;
    for (int i = 0; i < pc->n_fds; i++) {
        uint64_t v[3];   /* value, time enabled, time running */
        if (read(pc->fds[i], v, sizeof v) != (ssize_t)sizeof v) {
            snprintf(pc->why, sizeof pc->why, "instruction counter unreadable: %s",
                     strerror(errno));
            return -1;
        }
        if (v[1] == 0)
            continue;                         /* thread never ran while enabled */
        if (v[2] == 0) {
            snprintf(pc->why, sizeof pc->why,
                     "instruction counter never scheduled (PMU busy or absent)");
            return -1;
        }
        if (v[2] < v[1])
            pc->multiplexed = true;           /* shared PMU: scale to the enabled time */
        total += (double)v[0] * ((double)v[1] / (double)v[2]);
    }
    *instructions = (uint64_t)(total + 0.5);
    return 0;
}

void perfcount_close(gc_perfcount *pc) {
    for (int i = 0; i < pc->n_fds; i++)
        close(pc->fds[i]);
    pc->n_fds = 0;
    pc->available = false;
}

#else

int perfcount_open_event(gc_perfcount *pc, uint32_t type, uint64_t config) {
    (void)type;
    (void)config;
    memset(pc, 0, sizeof *pc);
    snprintf(pc->why, sizeof pc->why, "instruction counter unavailable: not Linux");
    return -1;
}
int perfcount_open(gc_perfcount *pc) { return perfcount_open_event(pc, 0, 0); }
void perfcount_start(gc_perfcount *pc) { (void)pc; }
int perfcount_stop(gc_perfcount *pc, uint64_t *instructions) {
    *instructions = 0;
    return pc->available ? 0 : -1;
}
void perfcount_close(gc_perfcount *pc) { pc->n_fds = 0; }

#endif
