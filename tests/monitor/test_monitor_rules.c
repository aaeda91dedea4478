/*  Tests for the recommendation rules: each fires on a constructed breach
 *  (with its evidence and action) and stays silent just beside it; a
 *  healthy cluster gets no advice at all. Stats and heartbeats are fed
 *  with explicit times. */
#include <string.h>

#include "hsn_test.h"
#include "monitor_fixture.h"

static monitor_core_t *core;
static monitor_kpis_t kpis;
static monitor_recs_t recs;

static void
setup (void)
{
    core = fx_core (true);
}

static void
teardown (void)
{
    monitor_core_destroy (&core);
}

static void
eval (int64_t now)
{
    fx_eval (core, now, 300, &kpis, &recs);
}

/*  No rule fired but maybe the ones named (NULL-ended). */
static void
only (const char *allowed)
{
    for (size_t i = 0; i < recs.n; i++)
        ck_assert_msg (allowed && strcmp (recs.rec[i].rule, allowed) == 0,
                       "unexpected %s: %s", recs.rec[i].rule, recs.rec[i].message);
}

/* ---- all well -------------------------------------------------------------- */

START_TEST (healthy_cluster_gets_no_advice)
{
    hsn_metrics_t *g = hsn_metrics_new (), *c1 = hsn_metrics_new (), *c2 = hsn_metrics_new ();
    fx_set (g, "gateway.http.requests", 10000);
    fx_set (g, "gateway.http.status_5xx", 3);
    fx_record (g, "gateway.route.cache.latency_us", 800, 10000);
    fx_set (c1, "cache.l1.hits", 4500);
    fx_set (c1, "cache.misses", 500);
    fx_set (c1, "cache.l1.evictions", 400);
    fx_set (c1, "cache.redis.errors", 2);
    fx_set (c2, "cache.l1.hits", 4500);
    fx_set (c2, "cache.misses", 500);
    fx_set (c2, "cache.redis.errors", 1);
    fx_born (core, 0, GATEWAY, "g1");
    fx_born (core, 0, CACHE, "c1");
    fx_born (core, 0, CACHE, "c2");
    fx_stats (core, 1000, GATEWAY, "g1", g);
    fx_stats (core, 1000, CACHE, "c1", c1);
    fx_stats (core, 1000, CACHE, "c2", c2);
    monitor_core_tick (core, 1000);
    eval (2000);
    ck_assert_int_eq (monitor_kpis_overall (&kpis), MONITOR_KPI_OK);
    ck_assert_uint_eq (recs.n, 0);
    hsn_metrics_destroy (&g);
    hsn_metrics_destroy (&c1);
    hsn_metrics_destroy (&c2);
}
END_TEST

/* ---- cache_size -------------------------------------------------------------- */

/*  One cache replica: hits and misses as given, evicting evictions, with an
 *  L1 of capacity entries. */
static void
cache_load (uint64_t hits, uint64_t misses, uint64_t evictions, int64_t capacity)
{
    hsn_metrics_t *c = hsn_metrics_new ();
    fx_set (c, "cache.l1.hits", hits);
    fx_set (c, "cache.misses", misses);
    fx_set (c, "cache.l1.evictions", evictions);
    if (capacity) {
        fx_gauge (c, "cache.l1.capacity", capacity);
        fx_gauge (c, "cache.l1.entries", capacity);
    }
    fx_born (core, 0, CACHE, "c1");
    fx_stats (core, 1000, CACHE, "c1", c);
    hsn_metrics_destroy (&c);
}

START_TEST (cache_size_fires_on_low_hit_rate_with_evictions)
{
    cache_load (300, 700, 600, 10000);
    eval (2000);
    const monitor_rec_t *r = fx_rec (&recs, "cache_size", NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->service, "cache");
    ck_assert_str_eq (r->metric, "cache_hit_rate");
    ck_assert (r->value == 30 && r->threshold == 80);
    ck_assert_int_eq (r->window_s, 2);
    ck_assert_str_eq (r->severity, "critical");
    ck_assert_msg (strstr (r->action, "CACHE_MAX_SIZE=20000"), "%s", r->action);
    ck_assert_ptr_nonnull (strstr (r->message, "600"));
    ck_assert_uint_eq (monitor_rules_cache_size (10000, 600), 20000);
    ck_assert_uint_eq (monitor_rules_cache_size (10000, 35000), 50000);
    ck_assert_uint_eq (monitor_rules_cache_size (90000000, 1), 100000000);
    ck_assert_uint_eq (monitor_rules_cache_size (0, 0), 2);
    /*  Evictions explain it: no second opinion. */
    ck_assert_ptr_null (fx_rec (&recs, "cache_misses", NULL));
}
END_TEST

START_TEST (cache_size_silent_without_evictions)
{
    /*  Low hit rate, but L1 does not evict: a bigger L1 would not help. */
    cache_load (300, 700, 3, 10000);
    eval (2000);
    ck_assert_ptr_null (fx_rec (&recs, "cache_size", NULL));
    ck_assert_int_eq (kpis.kpi[0].status, MONITOR_KPI_NO_DATA);     /* no gateway */
}
END_TEST

START_TEST (cache_misses_names_the_namespace_that_misses)
{
    hsn_metrics_t *c = hsn_metrics_new ();
    fx_set (c, "cache.l2.hits", 300);
    fx_set (c, "cache.misses", 700);
    fx_set (c, "cache.ns.users.misses", 100);
    fx_set (c, "cache.ns.sessions.misses", 600);
    fx_born (core, 0, CACHE, "c1");
    fx_stats (core, 1000, CACHE, "c1", c);
    eval (2000);
    const monitor_rec_t *r = fx_rec (&recs, "cache_misses", "sessions");
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (strstr (r->message, "600 of the 700 misses"), "%s", r->message);
    ck_assert_ptr_nonnull (strstr (r->action, "CACHE_NAMESPACES=sessions:"));
    ck_assert_ptr_null (fx_rec (&recs, "cache_size", NULL));
    only ("cache_misses");
    hsn_metrics_destroy (&c);
}
END_TEST

START_TEST (cache_size_silent_when_hit_rate_is_fine)
{
    cache_load (900, 100, 500, 10000);
    eval (2000);
    ck_assert_uint_eq (recs.n, 0);
}
END_TEST

/* ---- slow_query -------------------------------------------------------------- */

static void
queries (uint64_t slow_us)
{
    hsn_metrics_t *q = hsn_metrics_new ();
    fx_record (q, "query.report_by_month.latency_us", slow_us, 50);
    fx_record (q, "query.user_by_id.latency_us", 2000, 5000);
    fx_born (core, 0, QUERY, "q1");
    fx_stats (core, 1000, QUERY, "q1", q);
    hsn_metrics_destroy (&q);
}

START_TEST (slow_query_names_the_query_and_its_share)
{
    queries (1200000);
    eval (2000);
    const monitor_rec_t *r = fx_rec (&recs, "slow_query", "report_by_month");
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->metric, "query.report_by_month.latency_us");
    ck_assert (r->value >= 1200 && r->threshold == 500);
    /*  50 x 1.2 s of 60 s + 10 s in all: 85.7 %. */
    ck_assert_msg (strstr (r->message, "85.7 %"), "%s", r->message);
    ck_assert_ptr_nonnull (strstr (r->action, "report_by_month"));
    ck_assert_ptr_null (fx_rec (&recs, "slow_query", "user_by_id"));
    /*  The merged P95 is fine (most runs are fast): the rule still names it. */
    ck_assert_int_eq (monitor_kpis_find (&kpis, "db_query_p95", "all")->status, MONITOR_KPI_OK);
}
END_TEST

START_TEST (slow_query_silent_under_target)
{
    queries (300000);
    eval (2000);
    ck_assert_uint_eq (recs.n, 0);
}
END_TEST

/* ---- scale_service ----------------------------------------------------------- */

/*  Two cache replicas on 1-core limits at cpu1 and cpu2 % through 20 s of
 *  ticks. */
static void
cache_cpu (double cpu1, double cpu2)
{
    for (int64_t t = 0; t <= 20000; t += 1000) {
        fx_hb_t a = { cpu1, 50u << 20, 100, 1, 1u << 30 };
        fx_hb_t b = { cpu2, 50u << 20, 100, 1, 1u << 30 };
        fx_heartbeat (core, t, CACHE, "c1", &a);
        fx_heartbeat (core, t, CACHE, "c2", &b);
        monitor_core_tick (core, t);
    }
}

START_TEST (scale_service_when_every_replica_is_busy)
{
    cache_cpu (92, 85);
    eval (20000);
    const monitor_rec_t *r = fx_rec (&recs, "scale_service", NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->service, "cache");
    ck_assert_str_eq (r->action, "docker compose up -d --scale cache=3");
    ck_assert (r->value == 85 && r->threshold == 70);
    ck_assert_str_eq (r->metric, "cpu_limit_percent");
}
END_TEST

START_TEST (scale_service_silent_for_one_busy_replica_or_a_spike)
{
    cache_cpu (95, 30);
    eval (20000);
    ck_assert_ptr_null (fx_rec (&recs, "scale_service", NULL));
    teardown ();
    setup ();
    /*  Calm for 20 s, both busy in the last second only. */
    cache_cpu (20, 20);
    fx_hb_t hot = { 95, 50u << 20, 100, 1, 1u << 30 };
    fx_heartbeat (core, 20500, CACHE, "c1", &hot);
    fx_heartbeat (core, 20500, CACHE, "c2", &hot);
    eval (20500);
    ck_assert_ptr_null (fx_rec (&recs, "scale_service", NULL));
}
END_TEST

/* ---- replica_errors ------------------------------------------------------------ */

static void
cache_errors (uint64_t e1, uint64_t e2)
{
    hsn_metrics_t *a = hsn_metrics_new (), *b = hsn_metrics_new ();
    fx_set (a, "cache.redis.errors", e1);
    fx_set (b, "cache.redis.errors", e2);
    fx_born (core, 0, CACHE, "c1");
    fx_born (core, 0, CACHE, "c2");
    fx_stats (core, 1000, CACHE, "c1", a);
    fx_stats (core, 1000, CACHE, "c2", b);
    hsn_metrics_destroy (&a);
    hsn_metrics_destroy (&b);
}

START_TEST (errors_concentrated_on_one_replica_name_it)
{
    cache_errors (3, 57);
    eval (2000);
    const monitor_rec_t *r = fx_rec (&recs, "replica_errors", NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->service, "cache");
    ck_assert_str_eq (r->replica, "c2");
    ck_assert (r->value == 95 && r->threshold == 75);
    ck_assert_ptr_nonnull (strstr (r->message, "57 of the 60"));
    ck_assert_ptr_nonnull (strstr (r->action, "c2"));
}
END_TEST

START_TEST (errors_spread_or_few_stay_silent)
{
    cache_errors (30, 27);
    eval (2000);
    ck_assert_ptr_null (fx_rec (&recs, "replica_errors", NULL));
    teardown ();
    setup ();
    cache_errors (0, 8);                /* fewer than 10 in all */
    eval (2000);
    ck_assert_uint_eq (recs.n, 0);
}
END_TEST

/* ---- agent_queue ---------------------------------------------------------------- */

/*  The planner's queue at each of n stats, 5 s apart (one fine slot each). */
static void
agent_queue (const int64_t *depth, int n)
{
    hsn_metrics_t *a = hsn_metrics_new ();
    fx_born (core, 0, AGENTS, "a1");
    for (int i = 0; i < n; i++) {
        fx_gauge (a, "agentbus.queue_depth.planner", depth[i]);
        fx_gauge (a, "agentbus.queue_depth.mailer", 3);
        fx_stats (core, 1000 + 5000 * i, AGENTS, "a1", a);
    }
    hsn_metrics_destroy (&a);
}

START_TEST (growing_agent_queue_names_the_agent)
{
    static const int64_t depth[] = { 10, 40, 35, 120, 260, 400 };
    agent_queue (depth, 6);
    eval (27000);
    const monitor_rec_t *r = fx_rec (&recs, "agent_queue", "planner");
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->service, "agent-bus");
    ck_assert_str_eq (r->metric, "agentbus.queue_depth.planner");
    ck_assert (r->value == 400 && r->threshold == 100);
    ck_assert_msg (strstr (r->message, "from 10 to 400"), "%s", r->message);
    ck_assert_ptr_nonnull (strstr (r->action, "planner"));
    ck_assert_ptr_null (fx_rec (&recs, "agent_queue", "mailer"));
}
END_TEST

START_TEST (shrinking_or_small_queues_stay_silent)
{
    static const int64_t shrinking[] = { 900, 700, 650, 400, 300, 200 };
    agent_queue (shrinking, 6);
    eval (27000);
    ck_assert_uint_eq (recs.n, 0);
    teardown ();
    setup ();
    static const int64_t small[] = { 1, 5, 9, 20, 40, 80 };
    agent_queue (small, 6);
    eval (27000);
    ck_assert_uint_eq (recs.n, 0);
}
END_TEST

/* ---- memory, response time, error rate ---------------------------------------------- */

START_TEST (memory_over_target_names_the_replica)
{
    fx_hb_t fat = { 5, 950u << 20, 100, 1, 1000u << 20 };
    fx_hb_t thin = { 5, 100u << 20, 100, 1, 1000u << 20 };
    fx_heartbeat (core, 0, CACHE, "c1", &fat);
    fx_heartbeat (core, 0, CACHE, "c2", &thin);
    eval (500);
    const monitor_rec_t *r = fx_rec (&recs, "memory", NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->replica, "c1");
    ck_assert (r->value == 95);
    ck_assert_ptr_nonnull (strstr (r->action, "CACHE_MAX_BYTES"));
    only ("memory");
    ck_assert_uint_eq (recs.n, 1);
}
END_TEST

START_TEST (slow_route_and_error_rate)
{
    hsn_metrics_t *g = hsn_metrics_new (), *c = hsn_metrics_new ();
    fx_record (g, "gateway.route.cache.latency_us", 2500000, 100);
    fx_record (g, "gateway.route.monitor.latency_us", 1000, 100);
    fx_set (g, "gateway.http.requests", 200);
    fx_set (g, "gateway.http.status_5xx", 20);
    fx_record (c, "cache.redis.latency_us", 2400000, 100);
    fx_born (core, 0, GATEWAY, "g1");
    fx_born (core, 0, CACHE, "c1");
    fx_stats (core, 1000, GATEWAY, "g1", g);
    fx_stats (core, 1000, CACHE, "c1", c);
    eval (2000);
    const monitor_rec_t *r = fx_rec (&recs, "response_time", "cache");
    ck_assert_ptr_nonnull (r);
    ck_assert_str_eq (r->metric, "gateway.route.cache.latency_us");
    ck_assert_ptr_nonnull (strstr (r->action, "Redis"));
    ck_assert_ptr_null (fx_rec (&recs, "response_time", "monitor"));
    r = fx_rec (&recs, "error_rate", NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert (r->value == 10 && r->threshold == 1);
    ck_assert_str_eq (r->severity, "critical");
    /*  One gateway replica: nothing to say about concentration. */
    ck_assert_ptr_null (fx_rec (&recs, "replica_errors", NULL));
    hsn_metrics_destroy (&g);
    hsn_metrics_destroy (&c);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_rules");
    TCase *tc = tcase_create ("rules");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, healthy_cluster_gets_no_advice);
    tcase_add_test (tc, cache_size_fires_on_low_hit_rate_with_evictions);
    tcase_add_test (tc, cache_size_silent_without_evictions);
    tcase_add_test (tc, cache_misses_names_the_namespace_that_misses);
    tcase_add_test (tc, cache_size_silent_when_hit_rate_is_fine);
    tcase_add_test (tc, slow_query_names_the_query_and_its_share);
    tcase_add_test (tc, slow_query_silent_under_target);
    tcase_add_test (tc, scale_service_when_every_replica_is_busy);
    tcase_add_test (tc, scale_service_silent_for_one_busy_replica_or_a_spike);
    tcase_add_test (tc, errors_concentrated_on_one_replica_name_it);
    tcase_add_test (tc, errors_spread_or_few_stay_silent);
    tcase_add_test (tc, growing_agent_queue_names_the_agent);
    tcase_add_test (tc, shrinking_or_small_queues_stay_silent);
    tcase_add_test (tc, memory_over_target_names_the_replica);
    tcase_add_test (tc, slow_route_and_error_rate);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
