/*  Tests for the Prometheus exposition: names and labels, whole families,
 *  exact cumulative histogram buckets in seconds, escaping, and names that
 *  collide. (The integration test also runs promtool and a real
 *  Prometheus on it.) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_test.h"
#include "monitor_fixture.h"
#include "monitor/monitor_prom.h"

static char *
render (monitor_core_t *core, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    ck_assert_int_eq (monitor_core_prometheus (core, now, &sb), 0);
    msgpack_sbuffer_write (&sb, "", 1);
    return msgpack_sbuffer_release (&sb);
}

static bool
name_char (char c, bool first)
{
    return isalpha ((unsigned char) c) || c == '_' || c == ':'
           || (!first && isdigit ((unsigned char) c));
}

/*  Check the text line by line: every sample's family was declared just
 *  before its run of samples, once; names are valid; label sets are not
 *  repeated within a family. Returns the number of samples. */
static int
validate (const char *text)
{
    char families[512][160];
    int nfam = 0, samples = 0;
    char current[160] = "", prev_sample[1024] = "";
    const char *p = text;
    while (*p) {
        const char *end = strchr (p, '\n');
        ck_assert_msg (end != NULL, "last line not terminated");
        char line[2048];
        snprintf (line, sizeof line, "%.*s", (int) (end - p), p);
        p = end + 1;
        if (strncmp (line, "# TYPE ", 7) == 0) {
            char fam[160], type[32];
            ck_assert_int_eq (sscanf (line + 7, "%159s %31s", fam, type), 2);
            for (int i = 0; i < nfam; i++)
                ck_assert_msg (strcmp (families[i], fam) != 0, "family %s declared twice", fam);
            snprintf (families[nfam++], sizeof families[0], "%s", fam);
            snprintf (current, sizeof current, "%s", fam);
            continue;
        }
        if (line[0] == '#')
            continue;
        /*  name{labels} value */
        size_t n = 0;
        while (name_char (line[n], n == 0))
            n++;
        ck_assert_msg (n > 0, "bad line: %s", line);
        char name[160];
        snprintf (name, sizeof name, "%.*s", (int) n, line);
        size_t fl = strlen (current);
        bool ok = strcmp (name, current) == 0
                  || (strncmp (name, current, fl) == 0
                      && (strcmp (name + fl, "_bucket") == 0 || strcmp (name + fl, "_sum") == 0
                          || strcmp (name + fl, "_count") == 0));
        ck_assert_msg (ok, "sample %s outside its family (%s)", name, current);
        const char *sp = strrchr (line, ' ');
        ck_assert_ptr_nonnull (sp);
        char *num_end;
        strtod (sp + 1, &num_end);
        ck_assert_msg (*num_end == '\0' && num_end != sp + 1, "bad value: %s", line);
        char key[1024];
        snprintf (key, sizeof key, "%.*s", (int) (sp - line), line);
        ck_assert_msg (strcmp (key, prev_sample) != 0, "repeated series: %s", key);
        snprintf (prev_sample, sizeof prev_sample, "%s", key);
        samples++;
    }
    return samples;
}

/*  Value of the sample whose text before the value is exactly series. */
static double
value_of (const char *text, const char *series)
{
    char needle[1024];
    snprintf (needle, sizeof needle, "\n%s ", series);
    const char *p = strstr (text, needle);
    ck_assert_msg (p != NULL, "no sample %s", series);
    return strtod (p + strlen (needle), NULL);
}

START_TEST (family_names_and_labels)
{
    char fam[160], label[16], value[128];
    monitor_prom_family ("cache.ns.users.hits_l1", HSN_METRIC_COUNTER, fam, sizeof fam, label,
                         sizeof label, value, sizeof value);
    ck_assert_str_eq (fam, "hsn_cache_namespace_hits_l1_total");
    ck_assert_str_eq (label, "namespace");
    ck_assert_str_eq (value, "users");
    monitor_prom_family ("cache.ns.a.b.sets", HSN_METRIC_COUNTER, fam, sizeof fam, label,
                         sizeof label, value, sizeof value);
    ck_assert_str_eq (value, "a.b");
    monitor_prom_family ("gateway.route.cache.latency_us", HSN_METRIC_HIST, fam, sizeof fam,
                         label, sizeof label, value, sizeof value);
    ck_assert_str_eq (fam, "hsn_gateway_route_latency_seconds");
    ck_assert_str_eq (value, "cache");
    monitor_prom_family ("query.user_by_id.latency_us", HSN_METRIC_HIST, fam, sizeof fam,
                         label, sizeof label, value, sizeof value);
    ck_assert_str_eq (fam, "hsn_query_latency_seconds");
    ck_assert_str_eq (label, "query");
    monitor_prom_family ("agentbus.queue_depth.planner", HSN_METRIC_GAUGE, fam, sizeof fam,
                         label, sizeof label, value, sizeof value);
    ck_assert_str_eq (fam, "hsn_agentbus_queue_depth");
    ck_assert_str_eq (label, "agent");
    ck_assert_str_eq (value, "planner");
    monitor_prom_family ("x-y.z/w", HSN_METRIC_GAUGE, fam, sizeof fam, label, sizeof label,
                         value, sizeof value);
    ck_assert_str_eq (fam, "hsn_x_y_z_w");
    ck_assert_str_eq (label, "");
    monitor_prom_family ("gateway.http.requests_total", HSN_METRIC_COUNTER, fam, sizeof fam,
                         label, sizeof label, value, sizeof value);
    ck_assert_str_eq (fam, "hsn_gateway_http_requests_total");
}
END_TEST

START_TEST (exposition_is_whole_exact_and_escaped)
{
    monitor_core_t *core = fx_core (true);
    hsn_metrics_t *g = hsn_metrics_new (), *c1 = hsn_metrics_new (), *c2 = hsn_metrics_new ();
    fx_set (g, "gateway.http.requests", 42);
    fx_record (g, "gateway.route.cache.latency_us", 100, 10);      /* <= 127 us */
    fx_record (g, "gateway.route.cache.latency_us", 200, 5);       /* <= 255 us */
    fx_record (g, "gateway.route.cache.latency_us", 90000000, 1);  /* past the last le */
    fx_record (g, "gateway.route.monitor.latency_us", 3000, 2);
    fx_set (c1, "cache.ns.users.hits_l1", 7);
    fx_set (c1, "cache.ns.orders.hits_l1", 8);
    fx_set (c1, "a.b", 1);
    fx_set (c1, "a_b", 2);                      /* sanitises to the same series */
    fx_gauge (c1, "replica.up", 5);             /* the monitor's own family: skipped */
    fx_set (c2, "cache.ns.users.hits_l1", 9);
    fx_gauge (c2, "mixed", 1);                  /* a gauge here ... */
    fx_set (c1, "mixed", 1);                    /* ... a counter there: other names */
    fx_born (core, 0, GATEWAY, "g1");
    fx_born (core, 0, CACHE, "odd\"id\\1");
    fx_born (core, 0, CACHE, "c2");
    fx_stats (core, 1000, GATEWAY, "g1", g);
    fx_stats (core, 1000, CACHE, "odd\"id\\1", c1);
    fx_stats (core, 1000, CACHE, "c2", c2);
    char *text = render (core, 2000);
    ck_assert_int_gt (validate (text), 50);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE hsn_gateway_http_requests_total counter\n"));
    ck_assert (value_of (text, "hsn_gateway_http_requests_total{service=\"gateway\","
                               "replica=\"g1\"}") == 42);
    /*  Namespaces as a label, two replicas in one family. */
    ck_assert (value_of (text, "hsn_cache_namespace_hits_l1_total{service=\"cache\","
                               "replica=\"odd\\\"id\\\\1\",namespace=\"users\"}") == 7);
    ck_assert (value_of (text, "hsn_cache_namespace_hits_l1_total{service=\"cache\","
                               "replica=\"c2\",namespace=\"users\"}") == 9);
    /*  Histograms: seconds, cumulative, exact at 2^k - 1 us. */
    const char *lab = "service=\"gateway\",replica=\"g1\",route=\"cache\"";
    char s[256];
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_bucket{%s,le=\"0.000127\"}", lab);
    ck_assert (value_of (text, s) == 10);
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_bucket{%s,le=\"0.000255\"}", lab);
    ck_assert (value_of (text, s) == 15);
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_bucket{%s,le=\"67.108863\"}", lab);
    ck_assert (value_of (text, s) == 15);
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_bucket{%s,le=\"+Inf\"}", lab);
    ck_assert (value_of (text, s) == 16);
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_count{%s}", lab);
    ck_assert (value_of (text, s) == 16);
    snprintf (s, sizeof s, "hsn_gateway_route_latency_seconds_sum{%s}", lab);
    ck_assert (value_of (text, s) == 90.002);
    /*  The monitor's own families, and KPIs. */
    ck_assert (value_of (text, "hsn_replica_up{service=\"cache\",replica=\"c2\"}") == 1);
    ck_assert_ptr_null (strstr (text, "hsn_replica_up_total"));
    ck_assert_ptr_nonnull (strstr (text, "hsn_monitoring_enabled 1\n"));
    ck_assert (value_of (text, "hsn_kpi_target{kpi=\"cache_hit_rate\",scope=\"all\","
                               "unit=\"percent\"}") == 80);
    ck_assert (value_of (text, "hsn_kpi_breach{kpi=\"response_time_p95\",scope=\"all\","
                               "unit=\"ms\"}") == 1);        /* the 90 s sample */
    ck_assert (value_of (text, "hsn_kpi_breach{kpi=\"response_time_p95\",scope=\"monitor\","
                               "unit=\"ms\"}") == 0);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE hsn_mixed gauge\n"));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE hsn_mixed_total counter\n"));
    free (text);
    hsn_metrics_destroy (&g);
    hsn_metrics_destroy (&c1);
    hsn_metrics_destroy (&c2);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (truncated_at_the_byte_budget_between_families)
{
    monitor_names_t *names = monitor_names_new ();
    monitor_stats_t *stats = monitor_stats_new (names, 4);
    hsn_metrics_t *m = hsn_metrics_new ();
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf (name, sizeof name, "lat.%03d_us", i);
        fx_record (m, name, 1000 + (uint64_t) i, 3);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    hsn_metrics_pack (m, &pk);
    ck_assert_int_eq (monitor_stats_take (stats, QUERY, "q1", 2, sb.data, sb.size, 0, true,
                                          NULL, NULL), 0);
    msgpack_sbuffer_clear (&sb);
    ck_assert_int_eq (monitor_prom_render (names, stats, NULL, 0, NULL, true, 20000, &sb), 0);
    ck_assert_uint_gt (sb.size, 20000);
    ck_assert_uint_lt (sb.size, 24000);         /* stopped after the family that crossed */
    msgpack_sbuffer_write (&sb, "", 1);
    validate (sb.data);
    ck_assert_ptr_nonnull (strstr (sb.data, "# truncated"));
    ck_assert_ptr_nonnull (strstr (sb.data, "hsn_lat_000_seconds_count"));
    ck_assert_ptr_null (strstr (sb.data, "hsn_lat_199_seconds_count"));
    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&m);
    monitor_stats_destroy (&stats);
    monitor_names_destroy (&names);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_prom");
    TCase *tc = tcase_create ("prom");
    tcase_add_test (tc, family_names_and_labels);
    tcase_add_test (tc, exposition_is_whole_exact_and_escaped);
    tcase_add_test (tc, truncated_at_the_byte_budget_between_families);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
