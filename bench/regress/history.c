/* Results history in SQLite: storing runs, querying series, checking a new run against a
 * window of recent points (charts in history_plot.c). */
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "bench/regress/history.h"
#include "bench/perfcount.h"
#include "bench/stats.h"

struct gc_history {
    sqlite3 *db;
    char path[1024];
};

/* The tables, built by migrations in order: the database's PRAGMA user_version says how many
 * have run (history.h). Version 1: one row per run, one per case of a run; points repeat the
 * run's host, commit and time so trend queries need no join. */
static const char create_v1_sql[] =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY, host TEXT NOT NULL, commit_id TEXT NOT NULL,"
    " started TEXT NOT NULL, finished TEXT, gencost_version TEXT, command_line TEXT,"
    " source TEXT, added TEXT NOT NULL, UNIQUE (host, commit_id, started));"
    "CREATE TABLE IF NOT EXISTS points ("
    " id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " case_key TEXT NOT NULL, host TEXT NOT NULL, commit_id TEXT NOT NULL, time TEXT NOT NULL,"
    " workload TEXT, preset TEXT, quant TEXT, backend TEXT, threads INTEGER, phase TEXT,"
    " unit TEXT, status TEXT, work_per_rep REAL, bytes_per_rep REAL, flops_per_rep REAL,"
    " n INTEGER, median REAL, mean REAL, stddev REAL, mad REAL, ci95_low REAL, ci95_high REAL,"
    " cv REAL, samples_s TEXT, metrics TEXT, verify TEXT);"
    "CREATE INDEX IF NOT EXISTS points_series ON points (case_key, host, time);"
    "PRAGMA user_version = 1;";

/* Version 2: the identity's params and device (NULL: unknown), and every key rebuilt from the
 * stored fields by gc_case_key (the SQL function below). The columns are added only when
 * missing, so the step can run again on a database an older gencost marked version 1. */
static const char rekey_v2_sql[] =
    "UPDATE points SET case_key = gc_case_key(workload, preset, params, quant, backend, device,"
    " threads, phase);"
    "PRAGMA user_version = 2;";

static int db_fail(gc_history *h, gc_err *err, const char *what) {
    if (!h->db)
        return gc_errf(err, "history %s: %s: out of memory", h->path, what);
    return gc_errf(err, "history %s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
}

static int exec(gc_history *h, const char *sql, const char *what, gc_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gc_errf(err, "history %s: %s: %s", h->path, what, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Switching a new database to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY there
 * without calling the busy handler when another process is creating the same file; so the
 * switch is retried here for as long as the busy timeout would have waited. */
static int set_wal(gc_history *h, gc_err *err) {
    for (int tries = 0;; tries++) {
        int rc = sqlite3_exec(h->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= 3000)
            return gc_errf(err, "history %s: set-up: %s", h->path, sqlite3_errmsg(h->db));
        sqlite3_sleep(10);
    }
}

static int make_parent(const char *path, gc_err *err) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    return gc_mkdirs(dir, err);
}

/* gc_case_key(workload, preset, params, quant, backend, device, threads, phase) in SQL, so the
 * migration keys old points with the one key function; NULL reads as "" (unknown). */
static void sql_case_key(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    gc_case_id id;
    memset(&id, 0, sizeof id);
    struct { char *dst; size_t n; } f[] = {{id.workload, sizeof id.workload}, {id.preset, sizeof id.preset},
                                          {id.params, sizeof id.params}, {id.quant, sizeof id.quant},
                                          {id.backend, sizeof id.backend}, {id.device, sizeof id.device}};
    for (int i = 0; i < 6 && i < argc; i++) {
        const unsigned char *t = sqlite3_value_text(argv[i]);
        snprintf(f[i].dst, f[i].n, "%s", t ? (const char *)t : "");
    }
    id.threads = argc > 6 ? sqlite3_value_int(argv[6]) : 0;
    const unsigned char *phase = argc > 7 ? sqlite3_value_text(argv[7]) : NULL;
    snprintf(id.phase, sizeof id.phase, "%s", phase ? (const char *)phase : "");
    char key[GC_CASE_KEY_LEN];
    gc_case_key(&id, key, sizeof key);
    sqlite3_result_text(ctx, key, -1, SQLITE_TRANSIENT);
}

static int query_int(gc_history *h, const char *sql, int *out, gc_err *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "cannot read the database (is this a gencost history?)");
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(h, err, "cannot read the database");
}

static int migrate_v2(gc_history *h, gc_err *err) {
    static const char *const cols[] = {"params", "device"};
    for (int i = 0; i < 2; i++) {
        char sql[160];
        int have = 0;
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM pragma_table_info('points') WHERE name = '%s'", cols[i]);
        if (query_int(h, sql, &have, err))
            return -1;
        snprintf(sql, sizeof sql, "ALTER TABLE points ADD COLUMN %s TEXT", cols[i]);
        if (!have && exec(h, sql, "migrate to version 2", err))
            return -1;
    }
    return exec(h, rekey_v2_sql, "migrate to version 2", err);
}

/* Runs the migrations the database lacks (inside the caller's transaction, so a second process
 * opening at the same time finds them done). */
static int migrate(gc_history *h, gc_err *err) {
    int version = 0;
    if (query_int(h, "PRAGMA user_version", &version, err))
        return -1;
    if (version > GC_HISTORY_DB_VERSION)
        return gc_errf(err, "history %s: database version %d is newer than this gencost reads (%d): "
                       "update gencost", h->path, version, GC_HISTORY_DB_VERSION);
    if (version < 1 && exec(h, create_v1_sql, "cannot create tables (is this a gencost history?)", err))
        return -1;
    if (version < 2 && migrate_v2(h, err))
        return -1;
    return 0;
}

/* Opens the connection: busy timeout first (every later statement may meet another writer's
 * lock), then the SQL key function. An empty path is refused: SQLite would open a private
 * temporary database, and whatever was "added" to it would vanish on close. */
static int db_connect(const char *path, bool create, gc_history **out, gc_err *err) {
    *out = NULL;
    if (!*path)
        return gc_errf(err, "history: the database path is empty (an empty name is SQLite's temporary "
                            "database: nothing would be kept)");
    if (create && make_parent(path, err))
        return -1;
    gc_history *h = calloc(1, sizeof *h);
    if (!h)
        return gc_errf(err, "history %s: out of memory", path);
    snprintf(h->path, sizeof h->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h->db, flags, NULL) != SQLITE_OK) {
        db_fail(h, err, "cannot open");
        history_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h->db, 30000);
    if (sqlite3_create_function(h->db, "gc_case_key", 8, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                sql_case_key, NULL, NULL) != SQLITE_OK) {
        db_fail(h, err, "set-up");
        history_close(h);
        return -1;
    }
    if (exec(h, "PRAGMA foreign_keys = ON", "set-up", err)) {
        history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* The migrations under the write lock (a second process opening at once finds them done). */
static int migrate_locked(gc_history *h, gc_err *err) {
    if (exec(h, "BEGIN IMMEDIATE", "lock for schema", err))
        return -1;
    if (migrate(h, err)) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec(h, "COMMIT", "commit schema", err);
}

int history_open(const char *path, gc_history **out, gc_err *err) {
    gc_history *h;
    if (db_connect(path, true, &h, err))
        return -1;
    if (set_wal(h, err) || migrate_locked(h, err)) {
        history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* True when the database is in WAL mode already (then readers need no lock to switch it). */
static bool is_wal(gc_history *h) {
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(h->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 0);
        wal = m && !strcmp((const char *)m, "wal");
    }
    sqlite3_finalize(st);
    return wal;
}

/* Readers look at the version in a read (DEFERRED) transaction, which WAL lets run beside a
 * writer; only a database that still needs a migration is locked for writing, once. */
int history_open_read(const char *path, gc_history **out, gc_err *err) {
    gc_history *h;
    if (db_connect(path, false, &h, err))
        return -1;
    int version = 0;
    int rc = !is_wal(h) ? set_wal(h, err) : 0;
    rc = rc ? rc : exec(h, "BEGIN DEFERRED", "read", err);
    rc = rc ? rc : query_int(h, "PRAGMA user_version", &version, err);
    if (!rc)
        sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && version > GC_HISTORY_DB_VERSION)
        rc = gc_errf(err, "history %s: database version %d is newer than this gencost reads (%d): "
                     "update gencost", h->path, version, GC_HISTORY_DB_VERSION);
    if (!rc && version < GC_HISTORY_DB_VERSION)
        rc = migrate_locked(h, err);
    if (rc) {
        history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

void history_close(gc_history *h) {
    if (!h)
        return;
    sqlite3_close(h->db);
    free(h);
}

/* ---- add --------------------------------------------------------------------------------- */

static char *json_text_of_samples(const gc_case_result *c) {
    json_t *a = json_array();
    for (int i = 0; i < c->n_samples; i++)
        json_array_append_new(a, isfinite(c->samples_s[i]) ? json_real(c->samples_s[i])
                                                           : json_null());
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static char *json_text_of_kv(const gc_kv *kv, int n, const char *detail) {
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, kv[i].name, isfinite(kv[i].value) ? json_real(kv[i].value)
                                                                 : json_null());
    if (detail)
        json_object_set_new(o, "detail", json_string(detail));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void bind_num(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Throughput statistics as stored in the file, recomputed from the samples when absent. */
static gc_stats throughput_of(const gc_case_result *c) {
    gc_stats s = c->throughput;
    if (s.n == 0 && !(s.median > 0) && c->n_samples > 0)
        stats_throughput(c->samples_s, c->n_samples, c->work_per_rep > 0 ? c->work_per_rep : 1,
                         &s);
    return s;
}

static const char insert_point_sql[] =
    "INSERT INTO points (run_id, case_key, host, commit_id, time, workload, preset, quant,"
    " backend, threads, phase, unit, status, work_per_rep, bytes_per_rep, flops_per_rep, n,"
    " median, mean, stddev, mad, ci95_low, ci95_high, cv, samples_s, metrics, verify, params,"
    " device)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,"
    "?23,?24,?25,?26,?27,?28,?29)";

static int insert_point(sqlite3_stmt *st, sqlite3_int64 run, const gc_results *r,
                        const char *time, const gc_case_result *c) {
    char key[GC_CASE_KEY_LEN];
    gc_case_key(&c->id, key, sizeof key);
    gc_stats s = throughput_of(c);
    char *samples = json_text_of_samples(c);
    char *metrics = json_text_of_kv(c->metrics.vals, c->metrics.n_vals, NULL);
    char *verify = json_text_of_kv(c->verify.vals, c->verify.n_vals, c->verify.detail);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    const char *text[] = {key, r->host_name, r->git_commit, time, c->id.workload, c->id.preset,
                          c->id.quant, c->id.backend};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(st, 2 + i, text[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 10, c->id.threads);
    sqlite3_bind_text(st, 11, c->id.phase, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 12, c->unit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, c->status, -1, SQLITE_TRANSIENT);
    const double nums[] = {c->work_per_rep, c->bytes_per_rep, c->flops_per_rep};
    for (int i = 0; i < 3; i++)
        bind_num(st, 14 + i, nums[i]);
    sqlite3_bind_int(st, 17, s.n);
    const double st_nums[] = {s.median, s.mean, s.stddev, s.mad, s.ci95_low, s.ci95_high, s.cv};
    for (int i = 0; i < 7; i++)
        bind_num(st, 18 + i, st_nums[i]);
    sqlite3_bind_text(st, 25, samples ? samples : "[]", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 26, metrics ? metrics : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 27, verify ? verify : "{}", -1, SQLITE_TRANSIENT);
    if (results_id_complete(r)) {   /* else both stay NULL: unknown */
        sqlite3_bind_text(st, 28, c->id.params, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 29, c->id.device, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, 28);
        sqlite3_bind_null(st, 29);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    free(samples);
    free(metrics);
    free(verify);
    return rc;
}

/* Inserts the run row; *run = 0 when the same run is already stored. */
static int insert_run(gc_history *h, const gc_results *r, const char *time, const char *source,
                      sqlite3_int64 *run, gc_err *err) {
    sqlite3_stmt *st = NULL;
    const char *sql = "INSERT OR IGNORE INTO runs (host, commit_id, started, finished,"
                      " gencost_version, command_line, source, added)"
                      " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "prepare run insert");
    char now[32];
    gc_utc_iso(now, sizeof now);
    const char *v[] = {r->host_name, r->git_commit, time, r->finished, r->gencost_version,
                       r->command_line ? r->command_line : "", source, now};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(st, 1 + i, v[i], -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    if (rc)
        return db_fail(h, err, "insert run");
    *run = sqlite3_changes(h->db) ? sqlite3_last_insert_rowid(h->db) : 0;
    return 0;
}

/* FNV-1a, 64 bits, over n bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

/* What identifies a run among the stored ones: its start time; for a file without one (a
 * foreign or hand-made file), a hash of what it measured, so adding it twice stores it once. */
static void run_identity(const gc_results *r, char *buf, size_t n) {
    if (r->started[0]) {
        snprintf(buf, n, "%s", r->started);
        return;
    }
    uint64_t h = fnv1a(14695981039346656037ull, r->finished, strlen(r->finished));
    if (r->command_line) h = fnv1a(h, r->command_line, strlen(r->command_line));
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *c = &r->cases[i];
        char key[GC_CASE_KEY_LEN];
        gc_case_key(&c->id, key, sizeof key);
        h = fnv1a(h, key, strlen(key) + 1);
        h = fnv1a(h, c->status, strlen(c->status) + 1);
        if (c->n_samples > 0) h = fnv1a(h, c->samples_s, (size_t)c->n_samples * sizeof *c->samples_s);
    }
    snprintf(buf, n, "unstamped:%016llx", (unsigned long long)h);
}

int history_add(gc_history *h, const gc_results *r, const char *source, int *added, gc_err *err) {
    *added = 0;
    char time[32], identity[48];
    if (r->started[0])
        snprintf(time, sizeof time, "%s", r->started);
    else
        gc_utc_iso(time, sizeof time);     /* a file without a start time: its points dated when added */
    run_identity(r, identity, sizeof identity);
    if (exec(h, "BEGIN IMMEDIATE", "lock for add", err))
        return -1;
    sqlite3_int64 run = 0;
    sqlite3_stmt *st = NULL;
    int rc = insert_run(h, r, identity, source, &run, err);
    if (!rc && run && sqlite3_prepare_v2(h->db, insert_point_sql, -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(h, err, "prepare point insert");
    for (int i = 0; !rc && run && i < r->n_cases; i++) {
        if (insert_point(st, run, r, time, &r->cases[i]))
            rc = db_fail(h, err, "insert case");
        else
            (*added)++;
    }
    sqlite3_finalize(st);
    if (rc || exec(h, "COMMIT", "commit add", err)) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        *added = 0;
        return -1;
    }
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------- */

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n) {
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", s ? (const char *)s : "");
}

static double col_num(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Grows *arr (element size sz) to hold one more; returns the new slot or NULL. */
static void *grow(void **arr, int *n, int *cap, size_t sz) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 32;
        void *t = realloc(*arr, (size_t)c * sz);
        if (!t)
            return NULL;
        *arr = t;
        *cap = c;
    }
    void *slot = (char *)*arr + (size_t)(*n)++ * sz;
    memset(slot, 0, sz);
    return slot;
}

int history_series(gc_history *h, gc_hist_series **out, int *n, gc_err *err) {
    *out = NULL;
    *n = 0;
    /* the last point of each series by time: SQLite takes the bare columns from the MAX row */
    const char *sql = "SELECT case_key, host, unit, COUNT(*), commit_id, MAX(time), median"
                      " FROM points GROUP BY case_key, host ORDER BY case_key, host";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "list series");
    int cap = 0, rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gc_hist_series *s = grow((void **)out, n, &cap, sizeof *s);
        if (!s) {
            rc = gc_errf(err, "history: out of memory");
            break;
        }
        col_text(st, 0, s->key, sizeof s->key);
        col_text(st, 1, s->host, sizeof s->host);
        col_text(st, 2, s->unit, sizeof s->unit);
        s->n_points = sqlite3_column_int(st, 3);
        col_text(st, 4, s->last_commit, sizeof s->last_commit);
        col_text(st, 5, s->last_time, sizeof s->last_time);
        s->last_median = col_num(st, 6);
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_fail(h, err, "list series");
    sqlite3_finalize(st);
    return rc;
}

/* Points of a series, oldest first; with coarse (a gc_case_key_coarse), also the points of that
 * key whose device and params are unknown (history.h); extra narrows (bound from ?4 on). */
static int query_points(gc_history *h, const char *key, const char *coarse, const char *host,
                        const char *extra, const char *const *extra_args, int n_extra,
                        gc_hist_point **out, int *n, gc_err *err) {
    *out = NULL;
    *n = 0;
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT commit_id, time, host, status, unit, n, median, ci95_low, ci95_high, mad,"
             " json_extract(metrics, '$." GC_METRIC_INSTRUCTIONS "'), work_per_rep, bytes_per_rep,"
             " flops_per_rep, device IS NULL FROM points"
             " WHERE (case_key = ?1 OR (case_key = ?3 AND device IS NULL AND params IS NULL))"
             " AND (?2 IS NULL OR host = ?2) %s ORDER BY time, id", extra ? extra : "");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "query points");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (host)
        sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    if (coarse)
        sqlite3_bind_text(st, 3, coarse, -1, SQLITE_TRANSIENT);
    for (int i = 0; i < n_extra; i++)
        sqlite3_bind_text(st, 4 + i, extra_args[i], -1, SQLITE_TRANSIENT);
    int cap = 0, rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gc_hist_point *p = grow((void **)out, n, &cap, sizeof *p);
        if (!p) {
            rc = gc_errf(err, "history: out of memory");
            break;
        }
        col_text(st, 0, p->commit, sizeof p->commit);
        col_text(st, 1, p->time, sizeof p->time);
        col_text(st, 2, p->host, sizeof p->host);
        col_text(st, 3, p->status, sizeof p->status);
        col_text(st, 4, p->unit, sizeof p->unit);
        p->n = sqlite3_column_int(st, 5);
        p->median = col_num(st, 6);
        p->ci_low = col_num(st, 7);
        p->ci_high = col_num(st, 8);
        p->mad = col_num(st, 9);
        p->instructions = col_num(st, 10);
        p->work = col_num(st, 11);
        p->bytes = col_num(st, 12);
        p->flops = col_num(st, 13);
        p->partial = sqlite3_column_int(st, 14);
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_fail(h, err, "query points");
    sqlite3_finalize(st);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int history_points(gc_history *h, const char *key, const char *host, gc_hist_point **out,
                   int *n, gc_err *err) {
    return query_points(h, key, NULL, host, NULL, NULL, 0, out, n, err);
}

/* ---- check ---------------------------------------------------------------------------------- */

void history_check_defaults(gc_hist_check_opts *o) {
    *o = (gc_hist_check_opts){.window = 10, .min_points = 3, .threshold = 0.05, .mads = 3,
                              .count_threshold = 0.02};
}

/* Slower needs both a change beyond the threshold and beyond `mads` scaled MADs of the window
 * (1.4826 * MAD estimates the standard deviation of normal noise, robust to outliers): a series
 * that wanders by 8% from run to run does not alarm on an 8% dip. */
void history_judge(const double *past, int n_past, double new_median, const gc_hist_check_opts *o,
                   gc_hist_check *c) {
    c->n_window = n_past;
    c->new_median = new_median;
    c->hist_median = c->hist_mad = c->ratio = NAN;
    if (n_past < o->min_points || !(new_median > 0)) {
        c->verdict = GC_NOISY;
        snprintf(c->why, sizeof c->why, "only %d earlier points (need %d)", n_past, o->min_points);
        return;
    }
    gc_stats s;
    stats_compute(past, n_past, &s);
    c->hist_median = s.median;
    c->hist_mad = s.mad;
    c->ratio = new_median / s.median;
    double change = c->ratio - 1, spread = o->mads * 1.4826 * s.mad / s.median;
    if (fabs(change) <= o->threshold) {
        c->verdict = GC_SAME;
        snprintf(c->why, sizeof c->why, "change %+.1f%% within %.1f%%", 100 * change,
                 100 * o->threshold);
    } else if (fabs(change) <= spread) {
        c->verdict = GC_NOISY;
        snprintf(c->why, sizeof c->why, "change %+.1f%% within %g MADs (%.1f%%) of history",
                 100 * change, o->mads, 100 * spread);
    } else {
        c->verdict = change < 0 ? GC_SLOWER : GC_FASTER;
        snprintf(c->why, sizeof c->why, "change %+.1f%% beyond %.1f%% and %g MADs (%.1f%%)",
                 100 * change, 100 * o->threshold, o->mads, 100 * spread);
    }
}

/* --counts: NEW's instructions per rep against the median of the window's points that recorded
 * them, its modelled work against the newest point's; the rules and the verdict are compare's
 * (compare_counts), so both gates judge alike. Where the counts do not decide, the throughput
 * verdict already in *out stands. */
static int judge_counts(const gc_hist_point *p, int n, const gc_case_result *c, const gc_hist_check_opts *o,
                        gc_hist_check *out, gc_err *err) {
    double *ins = malloc((size_t)(n + 1) * sizeof *ins);
    if (!ins) return gc_errf(err, "history: out of memory");
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(p[i].instructions) && p[i].instructions > 0) ins[k++] = p[i].instructions;
    gc_stats s = {0};
    if (k) stats_compute(ins, k, &s);
    free(ins);
    const gc_hist_point *last = n ? &p[n - 1] : NULL;
    gc_work_counts base = {.instructions = k ? s.median : NAN, .work = last ? last->work : NAN,
                           .bytes = last ? last->bytes : NAN, .flops = last ? last->flops : NAN};
    gc_work_counts nw = {.instructions = gc_kv_get(c->metrics.vals, c->metrics.n_vals, GC_METRIC_INSTRUCTIONS, NAN), .work = c->work_per_rep, .bytes = c->bytes_per_rep,
                         .flops = c->flops_per_rep};
    gc_compare_opts co;
    compare_opts_defaults(&co);
    co.counts = true;
    co.count_threshold = o->count_threshold;
    gc_case_cmp cc = {.verdict = out->verdict};
    snprintf(cc.why, sizeof cc.why, "%s", out->why);
    compare_counts(&base, &nw, &co, &cc);
    out->counts = cc.counts;
    out->hist_instructions = base.instructions;
    out->new_instructions = nw.instructions;
    out->ins_ratio = cc.ins_ratio;
    out->time_verdict = cc.time_verdict;
    out->verdict = cc.verdict;
    snprintf(out->why, sizeof out->why, "%s", cc.why);
    return 0;
}

static int check_case(gc_history *h, const gc_results *r, const gc_case_result *c,
                      const gc_hist_check_opts *o, gc_hist_check *out, gc_err *err) {
    gc_case_key(&c->id, out->key, sizeof out->key);
    char coarse[GC_CASE_KEY_LEN];
    gc_case_key_coarse(&c->id, coarse, sizeof coarse);
    snprintf(out->host, sizeof out->host, "%s", r->host_name);
    snprintf(out->unit, sizeof out->unit, "%s", c->unit);
    if (strcmp(c->status, "ok")) {
        out->verdict = GC_BROKEN;
        snprintf(out->why, sizeof out->why, "NEW case has status '%s'", c->status);
        return 0;
    }
    /* ok points only, and not the new run itself if it was added before the check */
    const char *args[] = {r->git_commit, r->started};
    gc_hist_point *p = NULL;
    int n = 0;
    if (query_points(h, out->key, results_id_complete(r) ? coarse : NULL, r->host_name,
                     "AND status = 'ok' AND median IS NOT NULL AND NOT (commit_id = ?4 AND time = ?5)",
                     args, 2, &p, &n, err))
        return -1;
    int from = n > o->window ? n - o->window : 0;
    double *past = malloc((size_t)(n - from + 1) * sizeof *past);
    if (!past) {
        free(p);
        return gc_errf(err, "history: out of memory");
    }
    for (int i = from; i < n; i++)
        past[i - from] = p[i].median;
    history_judge(past, n - from, throughput_of(c).median, o, out);
    free(past);
    int rc = o->counts ? judge_counts(n ? p + from : NULL, n - from, c, o, out, err) : 0;
    for (int i = from; i < n; i++)
        out->n_partial += p[i].partial;
    if (out->n_partial) {
        size_t used = strlen(out->why);
        snprintf(out->why + used, sizeof out->why - used, " (%d of %d points without device and params)",
                 out->n_partial, n - from);
    }
    free(p);
    return rc;
}

int history_check(gc_history *h, const gc_results *r, const gc_hist_check_opts *o,
                  gc_hist_check **out, int *n, gc_err *err) {
    *n = 0;
    *out = calloc((size_t)(r->n_cases ? r->n_cases : 1), sizeof **out);
    if (!*out)
        return gc_errf(err, "history: out of memory");
    for (int i = 0; i < r->n_cases; i++) {
        if (check_case(h, r, &r->cases[i], o, &(*out)[i], err)) {
            free(*out);
            *out = NULL;
            return -1;
        }
        (*n)++;
    }
    return 0;
}
