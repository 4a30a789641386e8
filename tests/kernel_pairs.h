/* For the kernel tests (tests/test_kernels_*.c, also cross-built for AArch64 and run under qemu):
 * the cpu backend against the ref oracle on every micro-kernel table this CPU runs, with 1 and 2
 * threads where threads can start. Include after cmocka.h; kernels/ only. */
#ifndef GC_TESTS_KERNEL_PAIRS_H
#define GC_TESTS_KERNEL_PAIRS_H
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/cpu/microkernels.h"

/* qemu-aarch64 7.2 on some host kernels never returns from a guest pthread_create (seen on the
 * 6.18 VM this project is developed on). A forked child tries it; if it does not finish within
 * a few seconds, the multi-threaded configurations are skipped with a notice instead of
 * hanging `make test`. */
static void *nop_thread(void *arg) { return arg; }

static bool threads_work(void) {
    static int known = -1;
    if (known >= 0) return known;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, nop_thread, NULL)) _exit(1);
        pthread_join(t, NULL);
        _exit(0);
    }
    int st = 0;
    known = 0;
    for (int i = 0; pid > 0 && i < 200; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            known = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            pid = 0;
            break;
        }
        usleep(25000);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    if (!known) print_message("note: threads cannot start here (emulator?): 2-thread runs skipped\n");
    return known;
}

/* ---- backends under test -------------------------------------------------------------------- */

typedef struct pair {
    gk_backend *ref, *cpu;
    const char *isa;   /* the cpu backend's micro-kernel table */
    char label[64];
} pair;

static gk_backend *open_backend(const char *name, const char *isa, int threads) {
    char err[256];
    gk_backend_opts o = {.n_threads = threads, .isa = isa};
    gk_backend *b = gk_backend_open(name, &o, err, sizeof err);
    if (!b) fail_msg("open %s/%s: %s", name, isa ? isa : "-", err);
    return b;
}

/* Calls fn for every usable table and thread count. */
static void for_each_config(void (*fn)(pair *p)) {
    for (const char *const *isa = gk_ukernels_available(); *isa; isa++)
        for (int threads = 1; threads <= (threads_work() ? 2 : 1); threads++) {
            pair p = {.ref = open_backend("ref", NULL, 1), .cpu = open_backend("cpu", *isa, threads), .isa = *isa};
            snprintf(p.label, sizeof p.label, "%s, %d thread%s", *isa, threads, threads > 1 ? "s" : "");
            fn(&p);
            gk_backend_close(p.ref);
            gk_backend_close(p.cpu);
        }
}

#endif
