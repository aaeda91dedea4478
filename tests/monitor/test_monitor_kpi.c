/*  Tests for the KPIs and the monitor's documents: values from merged
 *  stats, targets, "no data" for absent metrics, windows, CPU and memory
 *  against limits, monitoring switched off, document shapes. Times are
 *  explicit: nothing waits. */
#include <math.h>
#include <string.h>

#include "hsn_mp.h"
#include "hsn_test.h"
#include "monitor_fixture.h"

/* ---- reading documents --------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    hsn_mp_obj_t root;
} doc_t;

typedef int (*doc_fn) (monitor_core_t *, int64_t, uint32_t, msgpack_packer *);

static void
doc (monitor_core_t *core, doc_fn fn, int64_t now, uint32_t window, doc_t *d)
{
    msgpack_sbuffer_init (&d->sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &d->sb, msgpack_sbuffer_write);
    ck_assert_int_eq (fn (core, now, window, &pk), 0);
    ck_assert_int_eq (hsn_mp_validate (d->sb.data, d->sb.size, 16), 0);
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, d->sb.data, d->sb.size);
    ck_assert_int_eq (hsn_mp_get (&r, &d->root, 16), 0);
    ck_assert_int_eq (d->root.type, HSN_MP_MAP);
}

static bool
find (const hsn_mp_obj_t *map, const char *key, hsn_mp_obj_t *out)
{
    ck_assert_int_eq (map->type, HSN_MP_MAP);
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, map);
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&r, &k, 16), 0);
        ck_assert_int_eq (hsn_mp_get (&r, &v, 16), 0);
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
    ck_assert_msg (find (map, key, &v), "no key '%s'", key);
    return v;
}

static void
assert_str (const hsn_mp_obj_t *map, const char *key, const char *want)
{
    hsn_mp_obj_t v = get (map, key);
    ck_assert_msg (v.type == HSN_MP_STR && hsn_mp_str_eq (&v, want), "%s is not '%s'", key, want);
}

static hsn_mp_obj_t
at (const hsn_mp_obj_t *arr, uint32_t i)
{
    ck_assert_int_eq (arr->type, HSN_MP_ARRAY);
    ck_assert_uint_lt (i, arr->v.c.count);
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, arr);
    hsn_mp_obj_t v;
    for (uint32_t j = 0; j <= i; j++)
        ck_assert_int_eq (hsn_mp_get (&r, &v, 16), 0);
    return v;
}

/* ---- KPIs ---------------------------------------------------------------- */

static const monitor_kpi_t *
kpi (const monitor_kpis_t *k, const char *name, const char *scope)
{
    const monitor_kpi_t *x = monitor_kpis_find (k, name, scope);
    ck_assert_msg (x != NULL, "no KPI %s/%s", name, scope);
    return x;
}

START_TEST (absent_metrics_are_no_data)
{
    monitor_core_t *core = fx_core (true);
    fx_born (core, 0, GATEWAY, "g1");
    hsn_metrics_t *m = hsn_metrics_new ();
    ck_assert_int_eq (fx_stats (core, 500, GATEWAY, "g1", m), 0);
    monitor_kpis_t k;
    fx_eval (core, 1000, 300, &k, NULL);
    static const char *const none[] = { "response_time_p95", "error_rate", "cache_hit_rate",
                                        "db_query_p95", "agent_latency_p95" };
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq (kpi (&k, none[i], "all")->status, MONITOR_KPI_NO_DATA);
    ck_assert_int_eq (kpi (&k, "cpu", "all")->status, MONITOR_KPI_OK);
    ck_assert_int_eq (monitor_kpis_overall (&k), MONITOR_KPI_OK);
    ck_assert_uint_eq (k.nslow, 0);
    hsn_metrics_destroy (&m);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (kpis_from_every_service)
{
    monitor_core_t *core = fx_core (true);
    hsn_metrics_t *g = hsn_metrics_new (), *c = hsn_metrics_new (), *q = hsn_metrics_new (),
                  *a = hsn_metrics_new ();
    fx_set (g, "gateway.http.requests", 1000);
    fx_set (g, "gateway.http.status_5xx", 5);
    fx_set (g, "gateway.near.hits", 100);
    fx_record (g, "gateway.route.cache.latency_us", 1000, 900);
    fx_record (g, "gateway.route.cache.latency_us", 3000000, 100);
    fx_record (g, "gateway.route.monitor.latency_us", 2000, 10);
    fx_set (c, "cache.l1.hits", 0);
    fx_set (c, "cache.l2.hits", 700);
    fx_set (c, "cache.misses", 200);
    fx_record (q, "query.users_by_id.latency_us", 800000, 100);
    fx_record (q, "query.orders.latency_us", 4000, 900);
    fx_record (a, "agentbus.delivery_latency_us", 20000, 50);
    fx_born (core, 0, GATEWAY, "g1");
    fx_born (core, 0, CACHE, "c1");
    fx_born (core, 0, QUERY, "q1");
    fx_born (core, 0, AGENTS, "a1");
    ck_assert_int_eq (fx_stats (core, 1000, GATEWAY, "g1", g), 0);
    ck_assert_int_eq (fx_stats (core, 1000, CACHE, "c1", c), 0);
    ck_assert_int_eq (fx_stats (core, 1000, QUERY, "q1", q), 0);
    ck_assert_int_eq (fx_stats (core, 1000, AGENTS, "a1", a), 0);
    monitor_kpis_t k;
    fx_eval (core, 2000, 300, &k, NULL);

    /*  Response time: 10 % of the cache route at 3 s puts its P95 there. */
    const monitor_kpi_t *x = kpi (&k, "response_time_p95", "cache");
    ck_assert_int_eq (x->status, MONITOR_KPI_BREACH);
    ck_assert (x->value >= 3000 && x->value <= 3000 * 1.0625);
    ck_assert (x->p50 >= 1.0 && x->p50 <= 1.0625);
    ck_assert_uint_eq (x->samples, 1000);
    ck_assert_int_eq (kpi (&k, "response_time_p95", "monitor")->status, MONITOR_KPI_OK);
    ck_assert_uint_eq (kpi (&k, "response_time_p95", "all")->samples, 1010);
    /*  0.5 % errors. */
    x = kpi (&k, "error_rate", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    ck_assert (fabs (x->value - 0.5) < 1e-9);
    /*  Hits: near 100 + l2 700 of 1000 lookups = 80 %, exactly the target. */
    x = kpi (&k, "cache_hit_rate", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    ck_assert (fabs (x->value - 80.0) < 1e-9);
    ck_assert_uint_eq (k.lookups, 1000);
    ck_assert (k.has_level[0] && k.has_level[1] && k.has_level[2]);
    ck_assert_uint_eq (k.hits[1], 0);           /* reported, zero: not "no data" */
    /*  DB: the merged P95 and the slowest queries by name with their share. */
    x = kpi (&k, "db_query_p95", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_BREACH);
    ck_assert_uint_eq (k.nslow, 2);
    ck_assert_str_eq (k.slow[0].name, "users_by_id");
    ck_assert (k.slow[0].share_pct > 95 && k.slow[0].share_pct < 96);   /* 80 s of 83.6 s */
    ck_assert_str_eq (k.slow[1].name, "orders");
    /*  Agents. */
    x = kpi (&k, "agent_latency_p95", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    ck_assert (x->value >= 20 && x->value <= 21.25);
    ck_assert_int_eq (monitor_kpis_overall (&k), MONITOR_KPI_BREACH);

    /*  Five minutes on, a 60 s window holds none of it. */
    fx_eval (core, 400000, 60, &k, NULL);
    ck_assert_int_eq (kpi (&k, "response_time_p95", "all")->status, MONITOR_KPI_NO_DATA);
    ck_assert_int_eq (kpi (&k, "cache_hit_rate", "all")->status, MONITOR_KPI_NO_DATA);
    hsn_metrics_destroy (&g);
    hsn_metrics_destroy (&c);
    hsn_metrics_destroy (&q);
    hsn_metrics_destroy (&a);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (cpu_and_memory_against_limits)
{
    monitor_core_t *core = fx_core (true);
    /*  150 % of a core on a 2-core limit is 75 %: over 70. 900 MB of a
     *  1000 MB limit: 90 %, over 80. */
    fx_hb_t busy = { 150, 900000000, 5, 2, 1000000000 };
    /*  Without limits of its own the monitor's host counts: 4 cores, 1 GiB. */
    fx_hb_t calm = { 150, 100u << 20, 5, 0, 0 };
    fx_heartbeat (core, 0, CACHE, "c1", &busy);
    fx_heartbeat (core, 0, GATEWAY, "g1", &calm);
    monitor_kpis_t k;
    fx_eval (core, 500, 300, &k, NULL);
    const monitor_kpi_t *x = kpi (&k, "cpu", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_BREACH);
    ck_assert (fabs (x->value - 75) < 1e-9);
    ck_assert_str_eq (x->service, "cache");
    ck_assert_str_eq (x->replica, "c1");
    x = kpi (&k, "cpu", "gateway");
    ck_assert (fabs (x->value - 37.5) < 1e-9);
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    x = kpi (&k, "memory", "cache");
    ck_assert (fabs (x->value - 90) < 1e-9);
    ck_assert_int_eq (x->status, MONITOR_KPI_BREACH);
    x = kpi (&k, "memory", "gateway");
    ck_assert (fabs (x->value - 100.0 * (100 << 20) / (1 << 30)) < 1e-9);
    ck_assert (monitor_kpis_find (&k, "cpu", "query") == NULL);     /* not running */

    /*  Over a window, the average of what the ticks recorded: a busy spike
     *  among calm seconds is no breach. */
    fx_hb_t calm_cache = { 20, 100u << 20, 5, 2, 1000000000 };
    for (int64_t t = 1000; t <= 20000; t += 1000) {
        fx_heartbeat (core, t, CACHE, "c1", t == 20000 ? &busy : &calm_cache);
        fx_heartbeat (core, t, GATEWAY, "g1", &calm);
        monitor_core_tick (core, t);
    }
    fx_eval (core, 20000, 300, &k, NULL);
    x = kpi (&k, "cpu", "cache");
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    ck_assert (x->value < 70);
    ck_assert_uint_gt (x->samples, 1);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (targets_are_configurable)
{
    monitor_core_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    monitor_targets_default (&cfg.targets);
    cfg.targets.response_p95_ms = 5000;
    cfg.targets.cache_hit_rate = 50;
    cfg.monitoring = true;
    cfg.forget_ms = 300000;
    cfg.stats_interval_s = 30;
    monitor_core_t *core = monitor_core_new (&cfg, 0);
    hsn_metrics_t *g = hsn_metrics_new ();
    fx_record (g, "gateway.route.cache.latency_us", 3000000, 10);
    fx_born (core, 0, GATEWAY, "g1");
    fx_stats (core, 1000, GATEWAY, "g1", g);
    monitor_kpis_t k;
    fx_eval (core, 2000, 0, &k, NULL);
    const monitor_kpi_t *x = kpi (&k, "response_time_p95", "all");
    ck_assert_int_eq (x->status, MONITOR_KPI_OK);
    ck_assert (x->target == 5000);
    ck_assert (kpi (&k, "cache_hit_rate", "all")->target == 50);
    hsn_metrics_destroy (&g);
    monitor_core_destroy (&core);
}
END_TEST

/* ---- documents ----------------------------------------------------------- */

START_TEST (documents_have_their_shape)
{
    monitor_core_t *core = fx_core (true);
    hsn_metrics_t *g = hsn_metrics_new ();
    fx_born (core, 0, GATEWAY, "g1");
    fx_set (g, "gateway.http.requests", 100);
    fx_record (g, "gateway.route.cache.latency_us", 500, 100);
    for (int64_t t = 1000; t <= 11000; t += 5000) {
        fx_set (g, "gateway.http.requests", 100 + (uint64_t) t / 10);
        fx_stats (core, t, GATEWAY, "g1", g);
        monitor_core_tick (core, t);
    }
    doc_t d;
    doc (core, monitor_core_summary, 12000, 300, &d);
    ck_assert (get (&d.root, "monitoring").v.b);
    assert_str (&d.root, "status", "ok");
    ck_assert_uint_eq (get (&d.root, "window_s").v.u, 300);
    ck_assert_uint_eq (get (&d.root, "covered_s").v.u, 12);
    hsn_mp_obj_t kpis = get (&d.root, "kpis"), first = at (&kpis, 0);
    assert_str (&first, "name", "response_time_p95");
    assert_str (&first, "status", "ok");
    assert_str (&first, "compare", "<=");
    ck_assert_int_eq (get (&first, "value").type, HSN_MP_FLOAT);
    hsn_mp_obj_t targets = get (&d.root, "targets");
    ck_assert (get (&targets, "response_p95_ms").v.f == 2000);
    msgpack_sbuffer_destroy (&d.sb);

    doc (core, monitor_core_metrics, 12000, 60, &d);
    hsn_mp_obj_t series = get (&d.root, "series"), t = get (&series, "t");
    hsn_mp_obj_t rps = get (&series, "rps");
    ck_assert_uint_eq (t.v.c.count, 2);     /* the closed 0 and 5 s slots, not 10 s */
    ck_assert_uint_eq (rps.v.c.count, 2);
    hsn_mp_obj_t r1 = at (&rps, 1);
    ck_assert_int_eq (r1.type, HSN_MP_FLOAT);
    ck_assert (fabs (r1.v.f - 100.0) < 1e-6);           /* 500 requests in 5 s */
    hsn_mp_obj_t services = get (&d.root, "services"), gw = get (&services, "gateway");
    hsn_mp_obj_t reps = get (&gw, "replicas"), rep = at (&reps, 0);
    assert_str (&rep, "id", "g1");
    hsn_mp_obj_t ctrs = get (&rep, "counters"), req = get (&ctrs, "gateway.http.requests");
    ck_assert_uint_eq (get (&req, "total").v.u, 1200);
    ck_assert_uint_eq (get (&req, "increase").v.u, 1200);      /* born: all counts */
    ck_assert (!get (&d.root, "truncated").v.b);
    msgpack_sbuffer_destroy (&d.sb);

    doc (core, monitor_core_recommendations, 12000, 0, &d);
    assert_str (&d.root, "status", "ok");
    ck_assert_uint_eq (get (&d.root, "recommendations").v.c.count, 0);
    msgpack_sbuffer_destroy (&d.sb);
    hsn_metrics_destroy (&g);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (monitoring_off_says_so)
{
    monitor_core_t *core = fx_core (false);
    hsn_metrics_t *g = hsn_metrics_new ();
    fx_set (g, "gateway.http.requests", 100);
    fx_born (core, 0, GATEWAY, "g1");
    ck_assert_int_eq (fx_stats (core, 1000, GATEWAY, "g1", g), 0);     /* ignored */
    doc_t d;
    doc (core, monitor_core_summary, 2000, 0, &d);
    ck_assert (!get (&d.root, "monitoring").v.b);
    assert_str (&d.root, "status", "disabled");
    ck_assert_uint_eq (get (&d.root, "kpis").v.c.count, 0);
    ck_assert_int_eq (get (&d.root, "message").type, HSN_MP_STR);
    msgpack_sbuffer_destroy (&d.sb);
    doc (core, monitor_core_recommendations, 2000, 0, &d);
    assert_str (&d.root, "status", "disabled");
    ck_assert_uint_eq (get (&d.root, "recommendations").v.c.count, 0);
    msgpack_sbuffer_destroy (&d.sb);
    /*  Metrics: the replicas from heartbeats, no stats. */
    doc (core, monitor_core_metrics, 2000, 0, &d);
    ck_assert (!get (&d.root, "monitoring").v.b);
    hsn_mp_obj_t services = get (&d.root, "services"), gw = get (&services, "gateway");
    hsn_mp_obj_t reps = get (&gw, "replicas"), rep = at (&reps, 0), none;
    ck_assert (!find (&rep, "counters", &none));
    msgpack_sbuffer_destroy (&d.sb);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    ck_assert_int_eq (monitor_core_prometheus (core, 2000, &sb), 0);
    msgpack_sbuffer_write (&sb, "", 1);
    ck_assert_ptr_nonnull (strstr (sb.data, "\nhsn_monitoring_enabled 0\n"));
    ck_assert_ptr_null (strstr (sb.data, "hsn_gateway_http_requests_total"));
    ck_assert_ptr_nonnull (strstr (sb.data,
                                   "hsn_replica_up{service=\"gateway\",replica=\"g1\"} 1"));
    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&g);
    monitor_core_destroy (&core);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_kpi");
    TCase *tc = tcase_create ("kpi");
    tcase_add_test (tc, absent_metrics_are_no_data);
    tcase_add_test (tc, kpis_from_every_service);
    tcase_add_test (tc, cpu_and_memory_against_limits);
    tcase_add_test (tc, targets_are_configurable);
    tcase_add_test (tc, documents_have_their_shape);
    tcase_add_test (tc, monitoring_off_says_so);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
