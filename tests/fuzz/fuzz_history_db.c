/* libFuzzer harness for a history database from elsewhere (bench/regress/history.h): a copied,
 * corrupted or hand-edited history.db must be opened (migrated where its version is older) or
 * refused with a message, and its rows read without a crash or out-of-bounds read, whatever
 * they hold (NULL, text where numbers belong, huge strings, a missing column or table, a version
 * from the future). Input: SQL run against a fresh history database (tables made by
 * history_open) before gencost opens it again; the seeds insert real rows
 * (tests/fuzz/corpus/history_db). The SQL cannot reach outside: no ATTACH (so no VACUUM INTO),
 * bounded lengths and steps. Then every series and its points are read, a run is checked
 * against them and added (a database that opens must also take a new run or say why). It is
 * opened both ways: for reading (history_open_read, as list, show, plot and check do) and for
 * writing (history_open, as add does).
 * Build and run: make fuzz (dictionary history_db.dict). */
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/regress/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], db[300];

static void remove_db(void) {
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char p[320];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db, ext[i]);
        unlink(p);
    }
}

static void remove_dir(void) {
    remove_db();
    rmdir(dir);
}

static const char *db_path(void) {
    if (!db[0]) {
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        if (!tmp) tmp = "/tmp";
        snprintf(dir, sizeof dir, "%s/gencost-fuzz-XXXXXX", tmp);
        if (!mkdtemp(dir)) { perror("mkdtemp"); abort(); }
        snprintf(db, sizeof db, "%s/history.db", dir);
        atexit(remove_dir);
    }
    return db;
}

/* Everything but attaching another database file: tables, rows, pragmas, functions. */
static int authorize(void *u, int action, const char *a, const char *b, const char *c, const char *d) {
    (void)u, (void)a, (void)b, (void)c, (void)d;
    return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

static int too_long(void *u) { return ++*(int *)u > 2000; }   /* x1000 VM steps */

/* The fuzzer's SQL against the database history_open made. */
static void corrupt(const uint8_t *data, size_t size) {
    sqlite3 *s = NULL;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) __builtin_trap();
    sqlite3_limit(s, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(s, SQLITE_LIMIT_LENGTH, 1 << 20);
    sqlite3_set_authorizer(s, authorize, NULL);
    int steps = 0;
    sqlite3_progress_handler(s, 1000, too_long, &steps);
    char *sql = malloc(size + 1);
    if (sql) {
        memcpy(sql, data, size);
        sql[size] = 0;
        sqlite3_exec(s, sql, NULL, NULL, NULL);   /* errors are fine: what landed, landed */
        free(sql);
    }
    sqlite3_close(s);
}

static void read_rows(gc_history *h) {
    gc_err err = {{0}};
    gc_hist_series *s = NULL;
    int ns = 0;
    if (history_series(h, &s, &ns, &err)) {
        if (!err.msg[0]) __builtin_trap();
        return;
    }
    for (int i = 0; i < ns; i++) {
        gc_hist_point *p = NULL;
        int np = 0;
        if (history_points(h, s[i].key, s[i].host, &p, &np, &err) == 0) free(p);
        else if (!err.msg[0]) __builtin_trap();
        if (history_points(h, s[i].key, NULL, &p, &np, &err) == 0) free(p);
    }
    free(s);
}

/* A run to check and add: the first seed of fuzz_history, read once. */
static const gc_results *probe_run(void) {
    static gc_results r;
    static int state;   /* 0 unread, 1 read, -1 missing */
    if (!state) {
        gc_err err;
        state = results_read("tests/fuzz/corpus/history/schema2-params.json", &r, &err) ? -1 : 1;
    }
    return state == 1 ? &r : NULL;
}

/* A fresh database as history_open makes it, made once and copied for every input (closing
 * checkpoints the WAL into the main file, so the file alone is the whole database). */
static void fresh_db(void) {
    static char *image;
    static size_t len;
    gc_err err = {{0}};
    remove_db();
    if (!image) {
        gc_history *h = NULL;
        if (history_open(db_path(), &h, &err)) __builtin_trap();   /* a fresh database opens */
        history_close(h);
        image = gc_read_file(db, &len, &err);
        if (!image) __builtin_trap();
        return;
    }
    FILE *f = fopen(db, "wb");
    if (!f || fwrite(image, 1, len, f) != len || fclose(f)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gc_err err = {{0}};
    gc_history *h = NULL;
    fresh_db();
    corrupt(data, size);
    /* As list, show and plot read it, then as add writes to it. */
    if (history_open_read(db, &h, &err)) {
        if (!err.msg[0]) __builtin_trap();
    } else {
        read_rows(h);
        history_close(h);
    }
    err.msg[0] = 0;
    if (history_open(db, &h, &err)) {
        if (!err.msg[0]) __builtin_trap();
        return 0;
    }
    read_rows(h);
    const gc_results *r = probe_run();
    if (r) {
        gc_hist_check_opts o;
        history_check_defaults(&o);
        o.counts = true;
        gc_hist_check *c = NULL;
        int nc = 0, added = 0;
        if (history_check(h, r, &o, &c, &nc, &err) == 0) free(c);
        if (history_add(h, r, "probe.json", &added, &err) && !err.msg[0]) __builtin_trap();
    }
    history_close(h);
    return 0;
}
