/* Tests for bench/perfcount: where the machine has an instruction counter, counts scale with
 * the work done; where it has none (most VMs), every call reports "unavailable" cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/perfcount.h"

/* A loop the compiler cannot remove; each iteration retires a handful of instructions. */
static volatile long sink;
static void spin(long n) {
    for (long i = 0; i < n; i++)
        sink += i;
}

static void *spin_thread(void *arg) {
    spin(*(long *)arg);
    return NULL;
}

static uint64_t count(gc_perfcount *pc, long n, bool in_thread) {
    uint64_t ins = 0;
    perfcount_start(pc);
    if (in_thread) {
        pthread_t t;
        pthread_create(&t, NULL, spin_thread, &n);
        pthread_join(t, NULL);
    } else {
        spin(n);
    }
    assert_int_equal(perfcount_stop(pc, &ins), 0);
    return ins;
}

static void counts_or_reports_unavailable(void **s) {
    gc_perfcount pc;
    if (perfcount_open(&pc)) {
        printf("%s\n", pc.why);
        assert_false(pc.available);
        assert_non_null(strstr(pc.why, "unavailable"));
        uint64_t ins = 123;
        perfcount_start(&pc);                       /* harmless without counters */
        assert_int_equal(perfcount_stop(&pc, &ins), -1);
        assert_true(ins == 0);
        perfcount_close(&pc);
        return;
    }
    assert_true(pc.available);
    uint64_t small = count(&pc, 1000000, false), big = count(&pc, 4000000, false);
    printf("instructions: %llu for 1e6 iterations, %llu for 4e6%s\n", (unsigned long long)small,
           (unsigned long long)big, pc.multiplexed ? " (multiplexed, scaled)" : "");
    assert_true(small >= 1000000);                  /* at least one instruction per iteration */
    double ratio = (double)big / (double)small;
    assert_true(ratio > 3.6 && ratio < 4.4);
    /* a thread started after open is counted through inheritance */
    uint64_t threaded = count(&pc, 4000000, true);
    printf("instructions: %llu for 4e6 iterations in a new thread\n", (unsigned long long)threaded);
    assert_true(threaded > big / 2);
    perfcount_close(&pc);
}

/* Page faults are a software event every Linux counts, even in a VM: touching fresh pages
 * faults at least once per page, so the plumbing (every thread opened, inherit to new threads,
 * reset/enable/disable, summing) is checked here even where the instruction counter is absent. */
static void touch_pages(long pages) {
    long sz = pages * 4096;
    char *m = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    madvise(m, (size_t)sz, MADV_NOHUGEPAGE);   /* one fault per 4 KiB page, even with THP on */
    for (long i = 0; i < sz; i += 4096)
        ((volatile char *)m)[i] = 1;
    munmap(m, (size_t)sz);
}

static void *touch_thread(void *arg) {
    touch_pages(*(long *)arg);
    return NULL;
}

static void software_event_plumbing(void **s) {
    gc_perfcount pc;
    if (perfcount_open_event(&pc, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN)) {
        printf("software events unavailable too: %s\n", pc.why);
        skip();
    }
    uint64_t none = 0, some = 0, threaded = 0;
    perfcount_start(&pc);
    assert_int_equal(perfcount_stop(&pc, &none), 0);
    perfcount_start(&pc);
    touch_pages(2000);
    assert_int_equal(perfcount_stop(&pc, &some), 0);
    long pages = 2000;
    pthread_t t;
    perfcount_start(&pc);
    pthread_create(&t, NULL, touch_thread, &pages);
    pthread_join(t, NULL);
    assert_int_equal(perfcount_stop(&pc, &threaded), 0);
    printf("minor page faults: %llu idle, %llu touching 2000 pages, %llu in a new thread\n",
           (unsigned long long)none, (unsigned long long)some, (unsigned long long)threaded);
    assert_true(none < 100);
    assert_true(some >= 2000 && some < 2000 + 1000);
    assert_true(threaded >= 2000);   /* counted through inheritance (plus the thread's stack) */
    perfcount_close(&pc);
}

static void stop_without_open(void **s) {
    gc_perfcount pc;
    memset(&pc, 0, sizeof pc);
    uint64_t ins = 7;
    assert_int_equal(perfcount_stop(&pc, &ins), -1);
    assert_true(ins == 0);
    assert_non_null(strstr(pc.why, "unavailable"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_or_reports_unavailable),
        cmocka_unit_test(software_event_plumbing),
        cmocka_unit_test(stop_without_open),
    };
    return cmocka_run_group_tests_name("perfcount", tests, NULL, NULL);
}
