/*  The monitor through real processes: KPIs, metrics and recommendations
 *  over HTTP from a stack under traffic; /metrics checked by promtool and
 *  scraped by a real Prometheus; the dashboard opened in headless Chromium
 *  (its screenshot kept as <BUILD>/artifacts/dashboard.png); monitoring
 *  switched off.
 *
 *  promtool and prometheus come with the Debian package prometheus,
 *  chromium with chromium: when one is missing the test FAILS saying so
 *  (deploy/install-deps.sh test installs them). */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hsn_mp.h"
#include "hsn_stack.h"
#include "hsn_test.h"
#include "gateway/gateway_json.h"

static hsn_stack_t *stack;
static char *tmp;

static void
start (bool monitoring)
{
    /*  Every process inherits these: stats every second. */
    setenv ("METRICS_COLLECTION_INTERVAL", "1", 1);
    setenv ("PERFORMANCE_MONITORING_ENABLED", monitoring ? "true" : "false", 1);
    char *gw_env[] = { "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    stack = hsn_stack_start_env ("gateway,cache,monitor", true, gw_env);
    ck_assert_ptr_nonnull (stack);
    ck_assert_ptr_nonnull (hsn_stack_add (stack, "hsn-cache", NULL));
    tmp = hsn_tmpdir ("monitor");
    ck_assert_ptr_nonnull (tmp);
}

static void
teardown (void)
{
    hsn_stack_stop (&stack);
    hsn_tmpdir_remove (tmp);
    free (tmp);
    tmp = NULL;
}

/* ---- tools ------------------------------------------------------------------ */

/*  The first of names found in PATH, or a failed test naming the package. */
static const char *
tool (const char *const names[], const char *package)
{
    static char found[4][512];
    static int next;
    const char *path = getenv ("PATH");
    char dirs[4096];
    snprintf (dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
    for (int i = 0; names[i]; i++) {
        char copy[4096], *save = NULL;
        snprintf (copy, sizeof copy, "%s", dirs);
        for (char *d = strtok_r (copy, ":", &save); d; d = strtok_r (NULL, ":", &save)) {
            char *slot = found[next % 4];
            snprintf (slot, sizeof found[0], "%s/%s", d, names[i]);
            if (access (slot, X_OK) == 0) {
                next++;
                return slot;
            }
        }
    }
    ck_abort_msg ("%s is not installed: apt-get install %s (deploy/install-deps.sh test "
                  "should install it)", names[0], package);
    return NULL;
}

/*  Run a shell command line to completion (at most timeout_ms). Returns its
 *  exit status; its output is in log. */
static int
shell (const char *cmd, int timeout_ms, const char *log)
{
    char *argv[] = { "sh", "-c", (char *) cmd, NULL };
    hsn_proc_opts_t opts;
    memset (&opts, 0, sizeof opts);
    opts.log_path = log;
    hsn_proc_t *p = hsn_proc_start_opts ("/bin/sh", argv, NULL, &opts);
    ck_assert_ptr_nonnull (p);
    int status = -1;
    if (hsn_proc_wait (p, timeout_ms, &status)) {
        hsn_proc_destroy (&p);
        ck_abort_msg ("timed out after %d ms: %s", timeout_ms, cmd);
    }
    hsn_proc_destroy (&p);
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* ---- JSON through msgpack ------------------------------------------------------ */

typedef struct {
    msgpack_sbuffer sb;
    hsn_mp_obj_t root;
    long status;
} json_t;

static bool
parse (const char *text, size_t len, json_t *j)
{
    char err[256];
    msgpack_sbuffer_init (&j->sb);
    if (gateway_json_to_mp (text, len, 32, &j->sb, err, sizeof err))
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, j->sb.data, j->sb.size);
    return hsn_mp_get (&r, &j->root, 32) == 0;
}

static bool
member (const hsn_mp_obj_t *map, const char *key, hsn_mp_obj_t *out)
{
    if (map->type != HSN_MP_MAP)
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, map);
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&r, &k, 32) || hsn_mp_get (&r, &v, 32))
            return false;
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static hsn_mp_obj_t
get (const hsn_mp_obj_t *map, const char *key)
{
    hsn_mp_obj_t v;
    ck_assert_msg (member (map, key, &v), "no member '%s'", key);
    return v;
}

static bool
item (const hsn_mp_obj_t *arr, uint32_t i, hsn_mp_obj_t *out)
{
    if (arr->type != HSN_MP_ARRAY || i >= arr->v.c.count)
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, arr);
    for (uint32_t k = 0; k <= i; k++)
        if (hsn_mp_get (&r, out, 32))
            return false;
    return true;
}

static double
number (const hsn_mp_obj_t *o)
{
    return o->type == HSN_MP_FLOAT ? o->v.f : o->type == HSN_MP_UINT ? (double) o->v.u
         : o->type == HSN_MP_INT ? (double) o->v.i : -1;
}

/*  GET path; the envelope's data in j->root. Returns false when the body
 *  is not a JSON envelope with data. */
static bool
api (const char *path, json_t *j)
{
    hsn_http_resp_t r;
    memset (j, 0, sizeof *j);
    if (hsn_stack_get (stack, path, &r))
        return false;
    j->status = r.status;
    hsn_mp_obj_t data;
    bool ok = r.body && parse (r.body, r.body_len, j) && member (&j->root, "data", &data);
    if (ok)
        j->root = data;
    hsn_http_resp_free (&r);
    return ok;
}

static void
json_free (json_t *j)
{
    msgpack_sbuffer_destroy (&j->sb);
}

/*  The KPI name/scope of a summary, if listed. */
static bool
kpi (const hsn_mp_obj_t *summary, const char *name, const char *scope, hsn_mp_obj_t *out)
{
    hsn_mp_obj_t kpis, x, n, s;
    if (!member (summary, "kpis", &kpis))
        return false;
    for (uint32_t i = 0; item (&kpis, i, &x); i++)
        if (member (&x, "name", &n) && hsn_mp_str_eq (&n, name) && member (&x, "scope", &s)
            && hsn_mp_str_eq (&s, scope)) {
            *out = x;
            return true;
        }
    return false;
}

/* ---- traffic --------------------------------------------------------------------- */

static long
http (const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf (url, sizeof url, "%s%s", stack->base_url, path);
    hsn_http_resp_t r;
    ck_assert_int_eq (hsn_http (method, url, body, body ? strlen (body) : 0, NULL, &r), 0);
    long st = r.status;
    hsn_http_resp_free (&r);
    return st;
}

static bool
cache_up (void *arg)
{
    return hsn_stack_replicas_up (stack, "cache") == 1;
}

/*  20 keys written, each read 5 times (100 hits), 10 absent keys read (10
 *  misses): 110 lookups, 90.9 % hits. */
static void
traffic (void)
{
    ck_assert (hsn_wait_until (cache_up, NULL, 10000));
    char path[128];
    for (int i = 0; i < 20; i++) {
        snprintf (path, sizeof path, "/api/cache/items/k%d", i);
        /*  The broker may learn of the replica a moment after the monitor. */
        for (int tries = 0; http ("PUT", path, "{\"v\":1}") != 200; tries++) {
            ck_assert_int_lt (tries, 50);
            usleep (100000);
        }
    }
    for (int n = 0; n < 5; n++)
        for (int i = 0; i < 20; i++) {
            snprintf (path, sizeof path, "/api/cache/items/k%d", i);
            ck_assert_int_eq (http ("GET", path, NULL), 200);
        }
    for (int i = 0; i < 10; i++) {
        snprintf (path, sizeof path, "/api/cache/items/absent%d", i);
        ck_assert_int_eq (http ("GET", path, NULL), 404);
    }
}

static bool
lookups_seen (void *arg)
{
    json_t j;
    hsn_mp_obj_t cache, n;
    bool yes = api ("/api/optimization/summary", &j) && member (&j.root, "cache", &cache)
               && member (&cache, "lookups", &n) && number (&n) >= 110;
    json_free (&j);
    return yes;
}

/*  The chart series have a point for rps, p95_ms and hit_rate_percent. */
static bool
series_have_points (void *arg)
{
    json_t j;
    hsn_mp_obj_t series, col, pt;
    bool yes = api ("/api/optimization/metrics", &j) && member (&j.root, "series", &series);
    static const char *const cols[] = { "rps", "p95_ms", "hit_rate_percent" };
    for (int c = 0; yes && c < 3; c++) {
        bool any = false;
        yes = member (&series, cols[c], &col);
        for (uint32_t i = 0; yes && !any && item (&col, i, &pt); i++)
            any = pt.type != HSN_MP_NIL;
        yes = yes && any;
    }
    json_free (&j);
    return yes;
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST (summary_metrics_recommendations)
{
    start (true);
    traffic ();
    ck_assert_msg (hsn_wait_until (lookups_seen, NULL, 15000), "no cache stats in the summary");
    json_t j;
    ck_assert (api ("/api/optimization/summary", &j));
    ck_assert_int_eq (j.status, 200);
    ck_assert (get (&j.root, "monitoring").v.b);
    hsn_mp_obj_t x, v;
    ck_assert (kpi (&j.root, "cache_hit_rate", "all", &x));
    v = get (&x, "value");
    ck_assert_msg (number (&v) > 90.8 && number (&v) < 91.0, "hit rate %f", number (&v));
    v = get (&x, "status");
    ck_assert (hsn_mp_str_eq (&v, "ok"));
    ck_assert (kpi (&j.root, "response_time_p95", "all", &x));
    v = get (&x, "status");
    ck_assert (!hsn_mp_str_eq (&v, "no_data"));
    ck_assert (kpi (&j.root, "response_time_p95", "cache", &x));
    ck_assert (kpi (&j.root, "error_rate", "all", &x));
    /*  A number: 404s are not errors, but the 503s of health while the
     *  cache replica was not up yet (the harness polls it) are. */
    v = get (&x, "value");
    ck_assert (number (&v) >= 0 && number (&v) <= 100);
    ck_assert (kpi (&j.root, "db_query_p95", "all", &x));
    v = get (&x, "status");
    ck_assert (hsn_mp_str_eq (&v, "no_data"));      /* no query service here */
    ck_assert (kpi (&j.root, "cpu", "cache", &x) && kpi (&j.root, "memory", "all", &x));
    json_free (&j);

    ck_assert (api ("/api/optimization/metrics?window=60", &j));
    ck_assert_int_eq (j.status, 200);
    hsn_mp_obj_t services = get (&j.root, "services"), cache = get (&services, "cache");
    hsn_mp_obj_t reps = get (&cache, "replicas"), rep, ctrs, miss;
    ck_assert (item (&reps, 0, &rep));
    ctrs = get (&rep, "counters");
    miss = get (&ctrs, "cache.misses");
    v = get (&miss, "total");
    ck_assert (number (&v) == 10);
    hsn_mp_obj_t series = get (&j.root, "series"), t = get (&series, "t");
    hsn_mp_obj_t p95 = get (&series, "p95_ms");
    ck_assert_uint_gt (t.v.c.count, 0);
    ck_assert_uint_eq (p95.v.c.count, t.v.c.count);
    json_free (&j);

    ck_assert (api ("/api/optimization/recommendations?window=120", &j));
    ck_assert_int_eq (j.status, 200);
    ck_assert_int_eq (get (&j.root, "recommendations").type, HSN_MP_ARRAY);
    v = get (&j.root, "window_s");
    ck_assert (number (&v) == 120);
    json_free (&j);

    ck_assert_int_eq (http ("GET", "/api/optimization/summary?window=0", NULL), 400);
    ck_assert_int_eq (http ("GET", "/api/optimization/metrics?window=86401", NULL), 400);
    ck_assert_int_eq (http ("GET", "/api/optimization/recommendations?window=x", NULL), 400);
}
END_TEST

/*  GET /metrics into file; checks the content type. */
static void
scrape_to (const char *file)
{
    hsn_http_resp_t r;
    ck_assert_int_eq (hsn_stack_get (stack, "/metrics", &r), 0);
    ck_assert_int_eq (r.status, 200);
    const char *ct = hsn_http_header (&r, "Content-Type");
    ck_assert_msg (ct && strncmp (ct, "text/plain; version=0.0.4", 25) == 0, "type %s", ct);
    ck_assert_int_eq (hsn_write_file (file, r.body), 0);
    hsn_http_resp_free (&r);
}

static void
promtool_accepts (const char *file)
{
    static const char *const names[] = { "promtool", NULL };
    const char *promtool = tool (names, "prometheus");
    char cmd[2048], log[1024];
    snprintf (log, sizeof log, "%s/promtool.log", tmp);
    snprintf (cmd, sizeof cmd, "'%s' check metrics < '%s'", promtool, file);
    int rc = shell (cmd, 30000, log);
    char *out = hsn_read_file (log, NULL);
    ck_assert_msg (rc == 0, "promtool check metrics failed (%d):\n%s", rc, out ? out : "");
    free (out);
}

typedef struct {
    char url[256];
    const char *what;
} prom_t;

/*  Prometheus' target is up with no error. */
static bool
target_up (void *arg)
{
    prom_t *p = (prom_t *) arg;
    char url[300];
    snprintf (url, sizeof url, "%s/api/v1/targets", p->url);
    hsn_http_resp_t r;
    if (hsn_http ("GET", url, NULL, 0, NULL, &r))
        return false;
    json_t j;
    hsn_mp_obj_t data, active, t, health, err;
    bool up = r.status == 200 && parse (r.body, r.body_len, &j)
              && member (&j.root, "data", &data) && member (&data, "activeTargets", &active)
              && item (&active, 0, &t) && member (&t, "health", &health)
              && hsn_mp_str_eq (&health, "up") && member (&t, "lastError", &err)
              && hsn_mp_str_eq (&err, "");
    if (r.status == 200)
        json_free (&j);
    hsn_http_resp_free (&r);
    return up;
}

/*  A query answers at least one series. */
static bool
query_has_data (void *arg)
{
    prom_t *p = (prom_t *) arg;
    char url[512];
    snprintf (url, sizeof url, "%s/api/v1/query?query=%s", p->url, p->what);
    hsn_http_resp_t r;
    if (hsn_http ("GET", url, NULL, 0, NULL, &r))
        return false;
    bool yes = r.status == 200 && strstr (r.body, "\"result\":[{");
    hsn_http_resp_free (&r);
    return yes;
}

START_TEST (prometheus_scrapes_metrics)
{
    start (true);
    traffic ();
    ck_assert (hsn_wait_until (lookups_seen, NULL, 15000));
    char file[1024];
    snprintf (file, sizeof file, "%s/metrics.txt", tmp);
    scrape_to (file);
    char *text = hsn_read_file (file, NULL);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE hsn_gateway_route_latency_seconds histogram"));
    ck_assert_ptr_nonnull (strstr (text, "hsn_replica_up{service=\"cache\""));
    ck_assert_ptr_nonnull (strstr (text, "hsn_cache_misses_total{service=\"cache\""));
    free (text);
    promtool_accepts (file);

    static const char *const names[] = { "prometheus", NULL };
    const char *prometheus = tool (names, "prometheus");
    prom_t p;
    hsn_proc_t *proc = NULL;
    for (int attempt = 0; attempt < 3 && !proc; attempt++) {
        int port = hsn_free_port ();
        char cfg[1024], yml[1024], data[1024], flag_cfg[1100], flag_data[1100], flag_web[64];
        snprintf (cfg, sizeof cfg, "%s/prometheus.yml", tmp);
        snprintf (yml, sizeof yml,
                  "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                  "scrape_configs:\n  - job_name: hsn\n    metrics_path: /metrics\n"
                  "    static_configs:\n      - targets: ['127.0.0.1:%d']\n", stack->http_port);
        ck_assert_int_eq (hsn_write_file (cfg, yml), 0);
        snprintf (data, sizeof data, "%s/prom-data-%d", tmp, attempt);
        snprintf (flag_cfg, sizeof flag_cfg, "--config.file=%s", cfg);
        snprintf (flag_data, sizeof flag_data, "--storage.tsdb.path=%s", data);
        snprintf (flag_web, sizeof flag_web, "--web.listen-address=127.0.0.1:%d", port);
        char *argv[] = { "prometheus", flag_cfg, flag_data, flag_web, NULL };
        proc = hsn_proc_start (prometheus, argv, NULL);
        ck_assert_ptr_nonnull (proc);
        snprintf (p.url, sizeof p.url, "http://127.0.0.1:%d", port);
        if (!hsn_proc_wait_log (proc, "Server is ready to receive web requests", 15000)) {
            hsn_proc_dump_log (proc, stderr, 2000);
            hsn_proc_destroy (&proc);       /* lost the port race? try another */
        }
    }
    ck_assert_msg (proc != NULL, "prometheus did not start");
    bool up = hsn_wait_until (target_up, &p, 20000);
    if (!up) {
        char url[300];
        hsn_http_resp_t r;
        snprintf (url, sizeof url, "%s/api/v1/targets", p.url);
        if (hsn_http ("GET", url, NULL, 0, NULL, &r) == 0) {
            fprintf (stderr, "targets: %s\n", r.body);
            hsn_http_resp_free (&r);
        }
    }
    ck_assert_msg (up, "Prometheus did not scrape /metrics cleanly within 20 s");
    p.what = "hsn_replica_up";
    ck_assert_msg (hsn_wait_until (query_has_data, &p, 10000), "no hsn_replica_up in Prometheus");
    p.what = "hsn_gateway_route_latency_seconds_bucket";
    ck_assert (hsn_wait_until (query_has_data, &p, 5000));
    hsn_proc_destroy (&proc);
}
END_TEST

/*  <BUILD>/artifacts, made if needed. */
static void
artifacts_dir (char *out, size_t cap)
{
    char bin[1024];
    snprintf (bin, sizeof bin, "%s", hsn_bin ("hsn-gateway"));
    char *build = dirname (dirname (bin));
    snprintf (out, cap, "%s/artifacts", build);
    mkdir (out, 0755);
}

/*  Does the DOM hold the canvas of chart drawn (data-drawn="1"), with
 *  points when with_points? */
static bool
chart_drawn (const char *dom, const char *chart, bool with_points)
{
    char needle[64];
    snprintf (needle, sizeof needle, "data-chart=\"%s\"", chart);
    const char *p = strstr (dom, needle), *end = p ? strchr (p, '>') : NULL;
    if (!end)
        return false;
    char tag[512];
    snprintf (tag, sizeof tag, "%.*s", (int) (end - p), p);
    bool points = strstr (tag, "data-points=\"") && !strstr (tag, "data-points=\"0\"");
    return strstr (tag, "data-drawn=\"1\"") != NULL && (!with_points || points);
}

START_TEST (dashboard_in_headless_chromium)
{
    start (true);
    traffic ();
    ck_assert (hsn_wait_until (lookups_seen, NULL, 15000));
    /*  Charts show closed slots (5 s): wait for one with the traffic in it. */
    ck_assert_msg (hsn_wait_until (series_have_points, NULL, 15000), "no chart points");
    static const char *const names[] = { "chromium", "chromium-browser", "google-chrome", NULL };
    const char *chromium = tool (names, "chromium");
    char flags[2048], cmd[4096], log[1024], dom_file[1024], shot[1100], dir[1024];
    snprintf (flags, sizeof flags,
              "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
              "--disable-background-networking --disable-component-update --disable-sync "
              "--disable-dev-shm-usage --user-data-dir='%s/chromium' --virtual-time-budget=5000",
              tmp);
    snprintf (dom_file, sizeof dom_file, "%s/dom.html", tmp);
    snprintf (log, sizeof log, "%s/chromium.log", tmp);
    snprintf (cmd, sizeof cmd, "'%s' %s --window-size=1280,900 --dump-dom '%s/' > '%s'",
              chromium, flags, stack->base_url, dom_file);
    int rc = shell (cmd, 90000, log);
    char *dom = hsn_read_file (dom_file, NULL);
    ck_assert_msg (rc == 0 && dom, "chromium --dump-dom failed (%d)", rc);
    static const char *const services[] = { "gateway", "cache", "monitor" };
    for (int i = 0; i < 3; i++) {
        char needle[64];
        snprintf (needle, sizeof needle, "data-service=\"%s\"", services[i]);
        ck_assert_msg (strstr (dom, needle), "the dashboard does not show %s", services[i]);
    }
    static const char *const charts[] = { "latency", "throughput", "hitrate", "queue", "cpu" };
    for (int i = 0; i < 5; i++)
        ck_assert_msg (chart_drawn (dom, charts[i], false), "chart %s not drawn", charts[i]);
    /*  With data where the traffic left some (no agents here: no queue). */
    ck_assert_msg (chart_drawn (dom, "latency", true), "latency chart has no points");
    ck_assert_msg (chart_drawn (dom, "throughput", true), "throughput chart has no points");
    ck_assert_msg (chart_drawn (dom, "hitrate", true), "hit rate chart has no points");
    ck_assert_ptr_nonnull (strstr (dom, "data-kpi=\"cache_hit_rate:all\""));
    free (dom);

    artifacts_dir (dir, sizeof dir);
    snprintf (shot, sizeof shot, "%s/dashboard.png", dir);
    unlink (shot);
    snprintf (cmd, sizeof cmd, "'%s' %s --window-size=1280,1400 --screenshot='%s' '%s/'",
              chromium, flags, shot, stack->base_url);
    rc = shell (cmd, 90000, log);
    size_t len = 0;
    char *png = hsn_read_file (shot, &len);
    ck_assert_msg (rc == 0 && png && len > 1000 && memcmp (png, "\x89PNG", 4) == 0,
                   "no screenshot at %s (chromium %d)", shot, rc);
    free (png);
}
END_TEST

START_TEST (monitoring_off_is_said_everywhere)
{
    start (false);
    traffic ();
    json_t j;
    ck_assert (api ("/api/optimization/summary", &j));
    ck_assert_int_eq (j.status, 200);
    ck_assert (!get (&j.root, "monitoring").v.b);
    hsn_mp_obj_t st = get (&j.root, "status");
    ck_assert (hsn_mp_str_eq (&st, "disabled"));
    ck_assert_uint_eq (get (&j.root, "kpis").v.c.count, 0);
    json_free (&j);
    ck_assert (api ("/api/optimization/recommendations", &j));
    st = get (&j.root, "status");
    ck_assert (hsn_mp_str_eq (&st, "disabled"));
    json_free (&j);
    ck_assert (api ("/api/optimization/health", &j));
    ck_assert (!get (&j.root, "monitoring").v.b);
    json_free (&j);
    char file[1024];
    snprintf (file, sizeof file, "%s/metrics.txt", tmp);
    scrape_to (file);
    char *text = hsn_read_file (file, NULL);
    ck_assert_ptr_nonnull (strstr (text, "\nhsn_monitoring_enabled 0\n"));
    ck_assert_ptr_null (strstr (text, "hsn_gateway_http_requests_total"));
    free (text);
    promtool_accepts (file);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor");
    TCase *tc = tcase_create ("monitor");
    tcase_add_checked_fixture (tc, NULL, teardown);
    tcase_set_timeout (tc, 180);
    tcase_add_test (tc, summary_metrics_recommendations);
    tcase_add_test (tc, prometheus_scrapes_metrics);
    tcase_add_test (tc, dashboard_in_headless_chromium);
    tcase_add_test (tc, monitoring_off_is_said_everywhere);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
