/*  Tests for monitor_history and monitor_agg: slots advance with explicit
 *  times, windows pick the right ring and slots, entries of one replica
 *  and metric merge within a slot, gauges keep the latest, the byte budget
 *  holds. */
#include <string.h>

#include "hsn_test.h"
#include "monitor/monitor_agg.h"
#include "monitor/monitor_history.h"

static monitor_names_t *names;
static monitor_rstats_t rep1 = { .serial = 1, .service = HSN_SERVICE_CACHE, .id = "c1" };
static monitor_rstats_t rep2 = { .serial = 2, .service = HSN_SERVICE_CACHE, .id = "c2" };
static monitor_rstats_t gw = { .serial = 3, .service = HSN_SERVICE_GATEWAY, .id = "g1" };

static void
setup (void)
{
    names = monitor_names_new ();
}

static void
teardown (void)
{
    monitor_names_destroy (&names);
}

static uint16_t
id_of (const char *name, int kind)
{
    int id = monitor_names_id (names, name, kind);
    ck_assert_int_ge (id, 0);
    return (uint16_t) id;
}

static void
add_counter (monitor_history_t *h, int64_t now, const monitor_rstats_t *r, const char *name,
             uint64_t inc)
{
    monitor_val_t d = { id_of (name, HSN_METRIC_COUNTER), HSN_METRIC_COUNTER, inc, 0, NULL };
    ck_assert_int_eq (monitor_history_add (h, now, r, &d), 0);
}

static void
add_gauge (monitor_history_t *h, int64_t now, const monitor_rstats_t *r, const char *name,
           int64_t v)
{
    monitor_val_t d = { id_of (name, HSN_METRIC_GAUGE), HSN_METRIC_GAUGE, 0, v, NULL };
    ck_assert_int_eq (monitor_history_add (h, now, r, &d), 0);
}

static void
add_samples (monitor_history_t *h, int64_t now, const monitor_rstats_t *r, const char *name,
             uint64_t us, int n)
{
    hsn_hist_t *dense = (hsn_hist_t *) calloc (1, sizeof *dense);
    for (int i = 0; i < n; i++)
        hsn_hist_record (dense, us);
    monitor_val_t d = { id_of (name, HSN_METRIC_HIST), HSN_METRIC_HIST, 0, 0,
                        monitor_sparse_from (dense) };
    ck_assert_int_eq (monitor_history_add (h, now, r, &d), 0);
    free (d.h);
    free (dense);
}

/*  Aggregate the window (service/serial 0: all). */
static void
agg_window (monitor_history_t *h, int64_t now, int64_t window_ms, uint32_t service,
            uint32_t serial, monitor_agg_t *a, size_t *nslots)
{
    monitor_slot_view_t views[256];
    size_t n = monitor_history_window (h, now, window_ms, views, 256);
    ck_assert_int_eq (monitor_agg_init (a, names), 0);
    monitor_agg_slots (a, views, n, service, serial);
    if (nslots)
        *nslots = n;
}

static uint64_t
counter (const monitor_agg_t *a, const char *pattern)
{
    uint64_t v;
    monitor_agg_counter (a, pattern, &v);
    return v;
}

START_TEST (windows_add_up_the_right_slots)
{
    /*  5 s x 12 fine slots (one minute), 30 s x 10 coarse (five minutes). */
    monitor_history_config_t cfg = { 5000, 12, 30000, 10, 0 };
    monitor_history_t *h = monitor_history_new (&cfg, 0);
    ck_assert_uint_eq (monitor_history_max_slots (h), 12);
    add_counter (h, 1000, &rep1, "cache.l1.hits", 10);
    add_counter (h, 2000, &rep1, "cache.l1.hits", 5);          /* same slot: merged */
    add_counter (h, 2000, &rep2, "cache.l1.hits", 1);
    add_counter (h, 7000, &rep1, "cache.l1.hits", 100);        /* next slot */
    add_counter (h, 7000, &gw, "gateway.http.requests", 50);

    monitor_agg_t a;
    size_t n;
    agg_window (h, 9000, 10000, 0, 0, &a, &n);
    ck_assert_uint_eq (n, 2);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 116);
    monitor_agg_release (&a);
    /*  Only the current slot (5000..9000) ends after 9000 - 3000. */
    agg_window (h, 9000, 3000, 0, 0, &a, &n);
    ck_assert_uint_eq (n, 1);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 100);
    monitor_agg_release (&a);
    /*  Per service, per replica. */
    agg_window (h, 9000, 60000, HSN_SERVICE_CACHE, 0, &a, NULL);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 116);
    ck_assert (monitor_agg_counter (&a, "gateway.http.requests", &(uint64_t) { 0 }) == 0);
    monitor_agg_release (&a);
    agg_window (h, 9000, 60000, 0, 2, &a, NULL);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 1);
    monitor_agg_release (&a);
    ck_assert_int_eq (monitor_history_slot_ms (h, 60000), 5000);
    ck_assert_int_eq (monitor_history_slot_ms (h, 60001), 30000);

    /*  Two minutes later the fine ring has forgotten them, the coarse one
     *  (30 s slots) still holds them. */
    add_counter (h, 130000, &rep1, "cache.l1.hits", 1);
    agg_window (h, 130000, 60000, 0, 0, &a, &n);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 1);
    monitor_agg_release (&a);
    agg_window (h, 130000, 300000, 0, 0, &a, &n);
    ck_assert_uint_eq (n, 5);                   /* 0, 30, 60, 90, 120 s */
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 117);
    monitor_agg_release (&a);

    /*  Silent for longer than the coarse ring: nothing is left. */
    agg_window (h, 1000000, 300000, 0, 0, &a, &n);
    ck_assert_uint_eq (counter (&a, "cache.l1.hits"), 0);
    monitor_agg_release (&a);
    monitor_history_destroy (&h);
    monitor_history_destroy (&h);
}
END_TEST

START_TEST (histograms_merge_gauges_keep_the_latest)
{
    monitor_history_t *h = monitor_history_new (NULL, 0);
    add_samples (h, 100, &rep1, "cache.redis.latency_us", 100, 90);
    add_samples (h, 200, &rep2, "cache.redis.latency_us", 100000, 10);
    add_samples (h, 6000, &rep1, "cache.redis.latency_us", 100, 900);
    add_gauge (h, 100, &rep1, "agentbus.queue_depth.a", 5);
    add_gauge (h, 6000, &rep1, "agentbus.queue_depth.a", 40);
    add_gauge (h, 6000, &rep2, "agentbus.queue_depth.a", 2);
    add_gauge (h, 6000, &rep2, "agentbus.queue_depth.b", 1);
    monitor_agg_t a;
    agg_window (h, 7000, 300000, 0, 0, &a, NULL);
    hsn_hist_t *m = (hsn_hist_t *) calloc (1, sizeof *m);
    ck_assert_uint_eq (monitor_agg_hist (&a, "cache.redis.latency_us", m), 1);
    ck_assert_uint_eq (m->count, 1000);
    ck_assert_uint_ge (hsn_hist_percentile (m, 99.5), 100000);
    ck_assert_uint_le (hsn_hist_percentile (m, 98), 103);     /* 100's bucket */
    int64_t g;
    ck_assert_uint_eq (monitor_agg_gauge (&a, "agentbus.queue_depth.a", &g), 1);
    ck_assert_int_eq (g, 42);                   /* 40 (latest of c1) + 2 */
    ck_assert_uint_eq (monitor_agg_gauge (&a, "agentbus.queue_depth.*", &g), 2);
    ck_assert_int_eq (g, 43);
    ck_assert_uint_eq (monitor_agg_gauge (&a, "nothing.*", &g), 0);
    monitor_agg_release (&a);
    free (m);
    monitor_history_destroy (&h);
}
END_TEST

START_TEST (scalars_recorded_per_slot)
{
    monitor_history_config_t cfg = { 5000, 12, 30000, 10, 0 };
    monitor_history_t *h = monitor_history_new (&cfg, 0);
    monitor_scalars_t sc[HSN_SERVICE__MAX];
    memset (sc, 0, sizeof sc);
    sc[HSN_SERVICE_CACHE].up = 2;
    sc[HSN_SERVICE_CACHE].cpu_max = 50;
    monitor_history_advance (h, 1000, sc);
    sc[HSN_SERVICE_CACHE].cpu_max = 90;
    monitor_history_advance (h, 16000, sc);
    monitor_slot_view_t v[16];
    size_t n = monitor_history_window (h, 16000, 60000, v, 16);
    ck_assert_uint_eq (n, 4);                   /* 0, 5, 10 (silent), 15 s */
    ck_assert (v[0].has_scalars && v[0].scalars[HSN_SERVICE_CACHE].cpu_max == 50);
    ck_assert (!v[1].has_scalars && !v[2].has_scalars);
    ck_assert (v[3].has_scalars && v[3].scalars[HSN_SERVICE_CACHE].cpu_max == 90);
    ck_assert_int_eq (v[3].end_ms, 16000);
    /*  Time never goes back. */
    monitor_history_advance (h, 2000, NULL);
    n = monitor_history_window (h, 2000, 60000, v, 16);
    ck_assert_uint_eq (n, 4);
    monitor_history_destroy (&h);
}
END_TEST

START_TEST (byte_budget_evicts_oldest_then_drops)
{
    /*  Room for a few hundred entries in all. */
    monitor_history_config_t cfg = { 5000, 12, 30000, 10, 20000 };
    monitor_history_t *h = monitor_history_new (&cfg, 0);
    char name[32];
    int64_t t = 0;
    for (int i = 0; i < 2000; i++, t += 100) {
        snprintf (name, sizeof name, "m.%d", i % 300);
        monitor_val_t d = { id_of (name, HSN_METRIC_COUNTER), HSN_METRIC_COUNTER, 1, 0, NULL };
        monitor_history_add (h, t, &rep1, &d);
        ck_assert_uint_le (monitor_history_bytes (h), 20000);
    }
    /*  Old slots made room so far. */
    ck_assert_uint_eq (monitor_history_dropped (h), 0);
    /*  Too much at once for the current slots alone: dropped. */
    for (int i = 0; i < 1000; i++) {
        snprintf (name, sizeof name, "burst.%d", i);
        monitor_val_t d = { id_of (name, HSN_METRIC_COUNTER), HSN_METRIC_COUNTER, 1, 0, NULL };
        monitor_history_add (h, t, &rep1, &d);
        ck_assert_uint_le (monitor_history_bytes (h), 20000);
    }
    ck_assert_uint_gt (monitor_history_dropped (h), 0);
    monitor_history_destroy (&h);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_history");
    TCase *tc = tcase_create ("history");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, windows_add_up_the_right_slots);
    tcase_add_test (tc, histograms_merge_gauges_keep_the_latest);
    tcase_add_test (tc, scalars_recorded_per_slot);
    tcase_add_test (tc, byte_budget_evicts_oldest_then_drops);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
