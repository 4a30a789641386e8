/* Tests for bench/energy*: the RAPL reader on a directory laid out like powercap (with a counter
 * wrap), the HTTP wall meters against a real HTTP server started here on 127.0.0.1 (Shelly- and
 * Tasmota-shaped JSON, a 500, a timeout, malformed JSON, credentials), the estimate from a
 * profile, the powermetrics plist parser, --meter checking and the JSON round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/energy/energy.h"
#include "bench/workload.h"

#define near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-9 * fmax(1.0, fabs((double)(b))))

/* ---- a powercap-shaped directory ------------------------------------------------------------ */

static char pc_root[64];

static void put(const char *rel, const char *text) {
    char path[256], tmp[280];
    snprintf(path, sizeof path, "%s/%s", pc_root, rel);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);   /* atomic, as a sampler may be reading */
}

static void make_powercap(void) {
    snprintf(pc_root, sizeof pc_root, "/tmp/gc_powercap_XXXXXX");
    assert_non_null(mkdtemp(pc_root));
    const char *dirs[] = {"intel-rapl:0", "intel-rapl:0:0", "intel-rapl-mmio:0"};
    for (int i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", pc_root, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    put("intel-rapl:0/name", "package-0\n");
    put("intel-rapl:0/energy_uj", "1000000\n");
    put("intel-rapl:0/max_energy_range_uj", "262143328850\n");
    put("intel-rapl:0:0/name", "core\n");
    put("intel-rapl:0:0/energy_uj", "500000\n");
    put("intel-rapl:0:0/max_energy_range_uj", "262143328850\n");
    put("intel-rapl-mmio:0/name", "package-0\n");   /* the same counter again: must be skipped */
    put("intel-rapl-mmio:0/energy_uj", "1\n");
}

static void rm_rf(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void rapl_zones_and_wrap(void **s) {
    make_powercap();
    gc_meter *m[8];
    int n = 0;
    gc_err err = {{0}};
    if (meter_rapl_open(pc_root, m, &n, 8, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n, 2);
    assert_string_equal(m[0]->name, "rapl:package-0");
    assert_true(m[0]->primary);
    assert_string_equal(m[1]->name, "rapl:package-0/core");
    assert_false(m[1]->primary);
    gc_meter_reading r = {0};
    assert_int_equal(m[0]->read(m[0], &r, &err), 0);
    assert_true(r.has_energy);
    near(r.energy_j, 1.0);
    near(r.wrap_j, 262143.32885);
    /* the counter climbs close to its range, then wraps past zero */
    gc_meter_acc acc;
    meter_acc_start(&acc, &r, 0);
    put("intel-rapl:0/energy_uj", "262143000000\n");
    assert_int_equal(m[0]->read(m[0], &r, &err), 0);
    meter_acc_add(&acc, &r, 1);
    put("intel-rapl:0/energy_uj", "2000000\n");
    assert_int_equal(m[0]->read(m[0], &r, &err), 0);
    meter_acc_add(&acc, &r, 2);
    /* (262143.0 - 1.0) + (262143.32885 - 262143.0) + 2.0 joules */
    near(meter_acc_joules(&acc), 262142.0 + 0.32885 + 2.0);
    /* without a wrap range, a counter that falls is no figure at all, never "0 J measured" */
    gc_meter_reading a = {.has_energy = true, .energy_j = 100.0}, b = {.has_energy = true, .energy_j = 40.0};
    meter_acc_start(&acc, &a, 0);
    meter_acc_add(&acc, &b, 1);
    assert_true(acc.went_backwards);
    assert_true(meter_acc_joules(&acc) < 0);
    for (int i = 0; i < n; i++) m[i]->close(m[i]);
    rm_rf(pc_root);
}

static void rapl_through_energy_open(void **s) {
    make_powercap();
    setenv("GENCOST_POWERCAP_ROOT", pc_root, 1);
    gc_options o;
    gc_options_defaults(&o);
    o.meter = "rapl";
    gc_meters *m = energy_open(&o);
    energy_begin(m);
    put("intel-rapl:0/energy_uj", "31000000\n");     /* +30 J */
    put("intel-rapl:0:0/energy_uj", "20500000\n");   /* +20 J */
    gc_energy e;
    energy_end(m, 2.0, 10, 0.9, &e);
    assert_string_equal(e.kind, "measured");
    assert_string_equal(e.source, "rapl:package-0");
    near(e.joules, 30);
    near(e.joules_per_unit, 3);
    assert_int_equal(e.n_sources, 2);
    near(e.src[1].joules, 20);
    near(e.src[0].avg_watts, 15);
    energy_close(m);
    unsetenv("GENCOST_POWERCAP_ROOT");
    rm_rf(pc_root);
}

/* energy_uj readable by root only (as on Linux >= 5.10): the error says how to open it. As root,
 * the check runs in a child that drops to an unprivileged user, for whom mode 0400 bites. */
static int permission_check(void) {
    gc_meter *m[8];
    int n = 0;
    gc_err err = {{0}};
    if (!meter_rapl_open(pc_root, m, &n, 8, &err)) return 1;
    return !(strstr(err.msg, "readable by root only") && strstr(err.msg, "chmod o+r"));
}

static void rapl_permission_message(void **s) {
    make_powercap();
    chmod(pc_root, 0755);
    char p[256];
    snprintf(p, sizeof p, "%s/intel-rapl:0/energy_uj", pc_root);
    chmod(p, 0400);
    snprintf(p, sizeof p, "%s/intel-rapl:0:0/energy_uj", pc_root);
    chmod(p, 0400);
    if (geteuid() != 0) {
        snprintf(p, sizeof p, "%s/intel-rapl:0/energy_uj", pc_root);
        chmod(p, 0);
        snprintf(p, sizeof p, "%s/intel-rapl:0:0/energy_uj", pc_root);
        chmod(p, 0);
        assert_int_equal(permission_check(), 0);
    } else {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) || setuid(65534)) _exit(3);
            _exit(permission_check());
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    rm_rf(pc_root);
}

/* ---- an HTTP server on 127.0.0.1 ------------------------------------------------------------ */

static int srv_fd, srv_port;
static pthread_t srv_thread;
static volatile int srv_stop;
static volatile int srv_saw_basic; /* a request carried Basic credentials */

static const char shelly_json[] =
    "{\"id\":0,\"source\":\"init\",\"output\":true,\"apower\":42.5,\"voltage\":230.1,\"current\":0.21,"
    "\"aenergy\":{\"total\":1234.567,\"by_minute\":[0,0,0],\"minute_ts\":1700000000},"
    "\"temperature\":{\"tC\":40.2,\"tF\":104.4}}";
static const char tasmota_json[] =
    "{\"StatusSNS\":{\"Time\":\"2026-11-22T00:00:00\",\"ENERGY\":{\"TotalStartTime\":\"2026-01-01T00:00:00\","
    "\"Total\":12.345,\"Yesterday\":0.1,\"Today\":0.2,\"Power\":37,\"ApparentPower\":40,\"Factor\":0.93,"
    "\"Voltage\":229,\"Current\":0.17}}}";

static void reply(int c, int status, const char *extra, const char *body) {
    char head[256];
    snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
             status, strlen(body), extra);
    if (send(c, head, strlen(head), MSG_NOSIGNAL) < 0 || send(c, body, strlen(body), MSG_NOSIGNAL) < 0) return;
}

static void *serve_one(void *arg) {
    int c = (int)(intptr_t)arg;
    char req[2048] = "";
    ssize_t got = 0, r;
    while (got < (ssize_t)sizeof req - 1 && (r = read(c, req + got, sizeof req - 1 - (size_t)got)) > 0) {
        got += r;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    char path[256] = "";
    sscanf(req, "GET %255s", path);
    if (!strcmp(path, "/rpc/Switch.GetStatus?id=0")) reply(c, 200, "", shelly_json);
    else if (!strcmp(path, "/cm?cmnd=Status%208")) reply(c, 200, "", tasmota_json);
    else if (!strcmp(path, "/err")) reply(c, 500, "", "{\"error\":\"boom\"}");
    else if (!strcmp(path, "/bad")) reply(c, 200, "", "{\"w\": 12,");
    else if (!strcmp(path, "/multi") || !strncmp(path, "/multi?", 7)) reply(c, 200, "", "{\"a\":{\"b\":[1,{\"w\":12.5}]},\"StatusSNS\":{\"ENERGY\":{\"Power\":[10,20.5]}}}");
    else if (!strcmp(path, "/slow")) {
        for (int i = 0; i < 30 && !srv_stop; i++) usleep(50 * 1000);
        reply(c, 200, "", "{\"w\": 1}");
    } else if (!strcmp(path, "/auth/rpc/Switch.GetStatus?id=0")) {
        /* "meter:s3cret" in base64 */
        if (strstr(req, "Authorization: Basic")) srv_saw_basic = 1;
        if (strstr(req, "Authorization: Basic bWV0ZXI6czNjcmV0")) reply(c, 200, "", shelly_json);
        else reply(c, 401, "WWW-Authenticate: Basic realm=\"plug\"\r\n", "{}");
    } else reply(c, 404, "", "{}");
    close(c);
    return NULL;
}

static void *serve(void *arg) {
    (void)arg;
    while (!srv_stop) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) continue;
        if (srv_stop) {
            close(c);
            break;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0) pthread_detach(t);
        else close(c);
    }
    return NULL;
}

static int server_up(void **s) {
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) || listen(srv_fd, 16)) return -1;
    socklen_t len = sizeof a;
    getsockname(srv_fd, (struct sockaddr *)&a, &len);
    srv_port = ntohs(a.sin_port);
    return pthread_create(&srv_thread, NULL, serve, NULL);
}

static int server_down(void **s) {
    srv_stop = 1;
    /* wake accept() with one last connection */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons((uint16_t)srv_port)};
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(srv_thread, NULL);
    close(srv_fd);
    usleep(200 * 1000);   /* let a detached /slow handler finish */
    return 0;
}

static int open_http(const char *kind, const char *rest, double timeout, gc_meter **m, gc_err *err) {
    char spec[256];
    snprintf(spec, sizeof spec, "%s:http://127.0.0.1:%d%s", kind, srv_port, rest);
    int n = 0;
    return meter_http_open(spec, 0.05, timeout, m, &n, 1, err);
}

static void http_shelly_and_tasmota(void **s) {
    gc_meter *m;
    gc_err err = {{0}};
    gc_meter_reading r = {0};
    if (open_http("shelly", "/", 2, &m, &err)) fail_msg("%s", err.msg);
    assert_string_equal(m->name, "shelly");
    assert_true(m->wall);
    assert_int_equal(m->read(m, &r, &err), 0);
    assert_true(r.has_power);
    near(r.watts, 42.5);
    m->close(m);
    if (open_http("tasmota", "", 2, &m, &err)) fail_msg("%s", err.msg);
    memset(&r, 0, sizeof r);
    assert_int_equal(m->read(m, &r, &err), 0);
    near(r.watts, 37);
    m->close(m);
    if (open_http("http", "/multi#a.b.1.w", 2, &m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->read(m, &r, &err), 0);
    near(r.watts, 12.5);
    m->close(m);
    /* Tasmota with several channels reports an array: summed */
    if (open_http("http", "/multi#StatusSNS.ENERGY.Power", 2, &m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->read(m, &r, &err), 0);
    near(r.watts, 30.5);
    m->close(m);
}

static void http_errors(void **s) {
    gc_meter *m;
    gc_err err = {{0}};
    assert_int_not_equal(open_http("http", "/err#w", 2, &m, &err), 0);
    assert_non_null(strstr(err.msg, "HTTP 500"));
    assert_int_not_equal(open_http("http", "/bad#w", 2, &m, &err), 0);
    assert_non_null(strstr(err.msg, "malformed JSON"));
    assert_int_not_equal(open_http("http", "/multi#a.nope", 2, &m, &err), 0);
    assert_non_null(strstr(err.msg, "no number at 'a.nope'"));
    assert_int_not_equal(open_http("http", "/slow#w", 0.3, &m, &err), 0);
    assert_non_null(strstr(err.msg, "timed out after 300 ms"));
    /* nobody listening: refused, reported, not hung */
    int n = 0;
    assert_int_not_equal(meter_http_open("shelly:http://127.0.0.1:1", 1, 0.5, &m, &n, 1, &err), 0);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
}

static void http_credentials_from_env_only(void **s) {
    gc_meter *m;
    gc_err err = {{0}};
    unsetenv("GENCOST_METER_USER");
    assert_int_not_equal(open_http("shelly", "/auth", 2, &m, &err), 0);
    assert_non_null(strstr(err.msg, "HTTP 401"));
    setenv("GENCOST_METER_USER", "meter", 1);
    setenv("GENCOST_METER_PASSWORD", "s3cret", 1);
    /* plain http: a server asking for Basic never gets the password (only Digest is offered) */
    srv_saw_basic = 0;
    assert_int_not_equal(open_http("shelly", "/auth", 2, &m, &err), 0);
    assert_non_null(strstr(err.msg, "HTTP 401"));
    assert_int_equal(srv_saw_basic, 0);
    /* ... unless the user opts in */
    setenv("GENCOST_METER_PLAIN_AUTH", "1", 1);
    if (open_http("shelly", "/auth", 2, &m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(srv_saw_basic, 1);
    assert_null(strstr(m->note, "s3cret"));
    assert_null(strstr(m->name, "s3cret"));
    m->close(m);
    unsetenv("GENCOST_METER_PLAIN_AUTH");
    unsetenv("GENCOST_METER_USER");
    unsetenv("GENCOST_METER_PASSWORD");
    /* a token in the query string never reaches the meter's note (results) */
    if (open_http("http", "/multi?token=t0ps3cret#a.b.1.w", 2, &m, &err)) fail_msg("%s", err.msg);
    assert_null(strstr(m->note, "t0ps3cret"));
    assert_non_null(strstr(m->note, "/multi?REDACTED"));
    m->close(m);
    char red[128];
    energy_redact_urls("run --meter 'http:https://h/p?k=1&t=2#a.b' --out x?y", red, sizeof red);
    assert_string_equal(red, "run --meter 'http:https://h/p?REDACTED#a.b' --out x?y");
    int n = 0;
    assert_int_not_equal(meter_http_open("shelly:http://u:p@127.0.0.1/", 1, 1, &m, &n, 1, &err), 0);
    assert_non_null(strstr(err.msg, "GENCOST_METER_USER"));
}

static void wall_meter_through_energy_open(void **s) {
    char spec[128];
    snprintf(spec, sizeof spec, "shelly:http://127.0.0.1:%d,interval=0.05,timeout=1", srv_port);
    gc_options o;
    gc_options_defaults(&o);
    o.meter = spec;
    gc_meters *m = energy_open(&o);
    energy_begin(m);
    usleep(200 * 1000);
    gc_energy e;
    energy_end(m, 0.25, 5, 1, &e);
    assert_string_equal(e.kind, "measured");
    assert_string_equal(e.source, "shelly");
    near(e.joules, 42.5 * 0.25);   /* constant power: mean of the samples × the span */
    near(e.joules_per_unit, 42.5 * 0.25 / 5);
    json_t *j = energy_to_json(&e);
    char *text = json_dumps(j, 0);
    assert_null(strstr(text, "s3cret"));
    free(text);
    json_decref(j);
    energy_close(m);
}

/* ---- NVML through a stand-in library (compiled here; skipped without a C compiler) ----------- */

static const char fake_nvml_src[] =
    "#include <stdint.h>\n"
    "typedef struct d *dev;\n"
    "static unsigned long long mj = 5000;\n"
    "int nvmlInit_v2(void) { return 0; }\n"
    "int nvmlDeviceGetCount_v2(unsigned *n) { *n = 2; return 0; }\n"
    "int nvmlDeviceGetHandleByIndex_v2(unsigned i, dev *d) { *d = (dev)(uintptr_t)(i + 1); return 0; }\n"
    "int nvmlDeviceGetTotalEnergyConsumption(dev d, unsigned long long *e) {\n"
    "  if ((uintptr_t)d != 1) return 3; mj += 1500; *e = mj; return 0; }\n"
    "int nvmlDeviceGetPowerUsage(dev d, unsigned *mw) { *mw = 150000; return 0; }\n"
    "int nvmlDeviceGetName(dev d, char *s, unsigned n) { s[0] = 'G'; s[1] = 0; return 0; }\n"
    "const char *nvmlErrorString(int r) { return \"fake\"; }\n";

static void nvml_counter_and_power(void **s) {
    char src[] = "/tmp/gc_fake_nvml_XXXXXX.c";
    int fd = mkstemps(src, 2);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, fake_nvml_src, strlen(fake_nvml_src)), (ssize_t)strlen(fake_nvml_src));
    close(fd);
    char so[64], cmd[256];
    snprintf(so, sizeof so, "%.*s.so", (int)(strlen(src) - 2), src);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o %s %s 2>/dev/null", so, src);
    if (system(cmd) != 0) {
        unlink(src);
        printf("skipped: no C compiler to build the stand-in NVML library\n");
        skip();
    }
    setenv("GENCOST_NVML_LIB", so, 1);
    gc_meter *m[4];
    int n = 0;
    gc_err err = {{0}};
    if (meter_nvml_open(m, &n, 4, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n, 2);
    assert_string_equal(m[0]->name, "nvml:0");
    assert_non_null(strstr(m[0]->note, "total-energy counter"));
    assert_non_null(strstr(m[1]->note, "averages power"));
    gc_meter_reading a = {0}, b = {0};
    assert_int_equal(m[0]->read(m[0], &a, &err), 0);
    assert_int_equal(m[0]->read(m[0], &b, &err), 0);
    assert_true(a.has_energy && !a.has_power);
    near(b.energy_j - a.energy_j, 1.5);   /* mJ counter: +1500 per call */
    memset(&a, 0, sizeof a);
    assert_int_equal(m[1]->read(m[1], &a, &err), 0);
    assert_true(a.has_power && !a.has_energy);
    near(a.watts, 150);
    for (int i = 0; i < n; i++) m[i]->close(m[i]);
    unsetenv("GENCOST_NVML_LIB");
    unlink(src);
    unlink(so);
}

/* ---- estimates, parsers, JSON --------------------------------------------------------------- */

static void estimated_from_profile(void **s) {
    char path[] = "/tmp/gc_energy_prof_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    const char *ini = "[host]\nname = T\n[hardware]\nidle_watts = 10\nactive_watts = 50\n"
                      "[cost]\nkind = hourly\nprovider = P\npricing = spot\nas_of = 2026\nusd_per_hour = 1\n";
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    gc_options o;
    gc_options_defaults(&o);
    o.meter = "none";
    o.profile = path;
    gc_meters *m = energy_open(&o);
    energy_begin(m);
    gc_energy e;
    energy_end(m, 2.0, 4, 0.5, &e);   /* 10 + 40 × 0.5 = 30 W for 2 s */
    assert_string_equal(e.kind, "estimated");
    assert_int_equal(strncmp(e.source, "profile:gc_energy_prof_", 23), 0);
    near(e.joules, 60);
    near(e.joules_per_unit, 15);
    assert_non_null(strstr(e.src[0].note, "--meter none"));
    energy_close(m);
    /* no profile, no meter: no figure at all */
    o.profile = NULL;
    m = energy_open(&o);
    energy_end(m, 2.0, 4, 0.5, &e);
    assert_string_equal(e.kind, "none");
    energy_close(m);
    unlink(path);
}

static void powermetrics_plist(void **s) {
    const char *plist =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n"
        "<key>processor</key><dict><key>cpu_power</key><real>2100.5</real>\n"
        "<key>gpu_power</key><real>400</real>\n<key>combined_power</key>\n  <real>2550.25</real>\n"
        "</dict></dict></plist>\n";
    double w = 0;
    assert_int_equal(powermetrics_parse_watts(plist, &w), 0);
    near(w, 2.55025);
    assert_int_equal(powermetrics_parse_watts("<key>package_watts</key><real>11.5</real>", &w), 0);
    near(w, 11.5);
    assert_int_not_equal(powermetrics_parse_watts("<key>combined_power</key><string>x</string>", &w), 0);
}

static void meter_spec_checks(void **s) {
    gc_err err = {{0}};
    assert_int_equal(energy_check_spec("auto,idle,interval=0.5,timeout=3", &err), 0);
    assert_int_equal(energy_check_spec("shelly:http://10.0.0.5,rapl", &err), 0);
    assert_int_not_equal(energy_check_spec("watts", &err), 0);
    assert_non_null(strstr(err.msg, "unknown meter 'watts'"));
    assert_int_not_equal(energy_check_spec("http:http://x/y", &err), 0);
    assert_non_null(strstr(err.msg, "json.path"));
    assert_int_not_equal(energy_check_spec("tasmota:ftp://x", &err), 0);
    assert_int_not_equal(energy_check_spec("interval=0", &err), 0);
    assert_non_null(strstr(err.msg, "interval=0"));
}

static void json_round_trip(void **s) {
    gc_energy e;
    energy_none(&e);
    strcpy(e.source, "rapl:package-0");
    strcpy(e.kind, "measured");
    e.joules = 12.5;
    e.joules_per_unit = 0.5;
    e.n_sources = 1;
    strcpy(e.src[0].name, "rapl:package-0");
    strcpy(e.src[0].kind, "measured");
    e.src[0].joules = 12.5;
    e.src[0].idle_watts = 3;
    e.src[0].idle_subtracted = true;
    strcpy(e.src[0].note, "n");
    json_t *j = energy_to_json(&e);
    gc_energy back;
    gc_err err;
    assert_int_equal(energy_from_json(j, &back, &err), 0);
    json_decref(j);
    assert_string_equal(back.source, "rapl:package-0");
    near(back.joules_per_unit, 0.5);
    assert_int_equal(back.n_sources, 1);
    assert_true(back.src[0].idle_subtracted);
    near(back.src[0].idle_watts, 3);
    j = json_pack("{s:s, s:s}", "source", "x", "kind", "guessed");
    assert_int_not_equal(energy_from_json(j, &back, &err), 0);
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rapl_zones_and_wrap),
        cmocka_unit_test(rapl_through_energy_open),
        cmocka_unit_test(rapl_permission_message),
        cmocka_unit_test(http_shelly_and_tasmota),
        cmocka_unit_test(http_errors),
        cmocka_unit_test(http_credentials_from_env_only),
        cmocka_unit_test(wall_meter_through_energy_open),
        cmocka_unit_test(nvml_counter_and_power),
        cmocka_unit_test(estimated_from_profile),
        cmocka_unit_test(powermetrics_plist),
        cmocka_unit_test(meter_spec_checks),
        cmocka_unit_test(json_round_trip),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
