/*  Tests for the monitor's intake of STATS: sparse histograms, merging
 *  replicas into true cluster percentiles, counter and histogram
 *  differences with resets, baselines, bounds, and hostile input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_test.h"
#include "monitor_fixture.h"
#include "monitor/monitor_agg.h"
#include "monitor/monitor_sparse.h"
#include "monitor/monitor_stats.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t
next_rand (void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t
uniform (uint64_t lo, uint64_t hi)
{
    return lo + next_rand () % (hi - lo + 1);
}

static int
cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/*  The exact p-th percentile of sorted samples, ranked as hsn_hist does. */
static uint64_t
exact (const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t) ((p * (double) n + 99.999999) / 100.0);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* ---- the acceptance test: merged P95 = P95 of the union ----------------- */

START_TEST (merged_percentiles_are_those_of_the_union)
{
    /*  Three gateway replicas with very different loads: many fast
     *  requests, some slow ones, a few very slow. */
    static const struct { const char *id; size_t n; uint64_t lo, hi; } reps[] = {
        { "g1", 10000, 100, 2000 },
        { "g2", 3000, 20000, 120000 },
        { "g3", 500, 1000000, 3000000 },
    };
    size_t total = 0;
    for (int r = 0; r < 3; r++)
        total += reps[r].n;
    uint64_t *all = (uint64_t *) malloc (total * sizeof *all);
    size_t k = 0;
    double avg_p95 = 0;
    monitor_core_t *core = fx_core (true);
    for (int r = 0; r < 3; r++) {
        hsn_metrics_t *m = hsn_metrics_new ();
        hsn_hist_t *h = hsn_metrics_hist (m, "gateway.route.cache.latency_us");
        for (size_t i = 0; i < reps[r].n; i++) {
            uint64_t v = uniform (reps[r].lo, reps[r].hi);
            hsn_hist_record (h, v);
            all[k++] = v;
        }
        avg_p95 += (double) hsn_hist_percentile (h, 95) / 3;
        fx_born (core, 1000, GATEWAY, reps[r].id);
        ck_assert_int_eq (fx_stats (core, 1500, GATEWAY, reps[r].id, m), 0);
        hsn_metrics_destroy (&m);
    }
    qsort (all, total, sizeof *all, cmp_u64);
    monitor_kpis_t kp;
    fx_eval (core, 2000, 300, &kp, NULL);
    const monitor_kpi_t *x = monitor_kpis_find (&kp, "response_time_p95", "all");
    ck_assert_ptr_nonnull (x);
    ck_assert_uint_eq (x->samples, total);
    static const double ps[] = { 50, 95, 99 };
    double got[] = { x->p50, x->value, x->p99 };
    for (int i = 0; i < 3; i++) {
        double want = (double) exact (all, total, ps[i]);
        double g = got[i] * 1000.0;
        /*  Never below the exact value, at most one bucket (6.25 %) above. */
        ck_assert_msg (g >= want && g <= want * 1.0625 + 1,
                       "P%.0f: merged %.0f us, union %.0f us", ps[i], g, want);
    }
    /*  The average of the replicas' P95s would be far off (the point of
     *  merging histograms). */
    double union_p95 = (double) exact (all, total, 95);
    ck_assert_msg (avg_p95 > 2 * union_p95, "avg %.0f union %.0f", avg_p95, union_p95);
    ck_assert (x->status == MONITOR_KPI_OK);
    free (all);
    monitor_core_destroy (&core);
}
END_TEST

/* ---- sparse histograms ------------------------------------------------- */

START_TEST (sparse_round_trip_add_and_exact_counts)
{
    hsn_hist_t *a = (hsn_hist_t *) calloc (1, sizeof *a), *b = (hsn_hist_t *) calloc (1, sizeof *b);
    for (int i = 0; i < 1000; i++) {
        hsn_hist_record (a, uniform (0, 5000));
        hsn_hist_record (b, uniform (3000, 90000));
    }
    monitor_sparse_t *sa = monitor_sparse_from (a), *sb = monitor_sparse_from (b);
    ck_assert_uint_eq (sa->count, 1000);
    monitor_sparse_t *sum = monitor_sparse_add (NULL, sa);
    sum = monitor_sparse_add (sum, sb);
    hsn_hist_t *dense = (hsn_hist_t *) calloc (1, sizeof *dense);
    monitor_sparse_merge (dense, sum);
    hsn_hist_merge (a, b);
    ck_assert_mem_eq (dense->buckets, a->buckets, sizeof a->buckets);
    ck_assert_uint_eq (dense->count, 2000);
    ck_assert_uint_eq (dense->sum, a->sum);
    ck_assert_uint_eq (dense->max, a->max);
    /*  At the tops of buckets (2^k - 1 us) cumulative counts are exact. */
    for (int k = 7; k <= 20; k++) {
        uint64_t le = ((uint64_t) 1 << k) - 1, want = 0;
        for (size_t i = 0; i < HSN_HIST_BUCKETS && hsn_hist_bucket_upper (i) <= le; i++)
            want += a->buckets[i];
        ck_assert_uint_eq (monitor_sparse_count_le (sum, le), want);
    }
    /*  Nothing new: no delta. */
    bool reset;
    ck_assert_ptr_null (monitor_sparse_delta (sa, sa, &reset));
    ck_assert (!reset);
    free (sa);
    free (sb);
    free (sum);
    free (a);
    free (b);
    free (dense);
}
END_TEST

/* ---- differences, resets, baselines ------------------------------------ */

typedef struct {
    int calls;
    uint64_t counter;
    int64_t gauge;
    uint64_t hist_count, hist_max;
} seen_t;

static monitor_names_t *names;

static void
collect (void *arg, const monitor_rstats_t *r, const monitor_val_t *d)
{
    seen_t *s = (seen_t *) arg;
    const char *name = monitor_names_str (names, d->name);
    s->calls++;
    if (strcmp (name, "c") == 0)
        s->counter += d->u;
    else if (strcmp (name, "g") == 0)
        s->gauge = d->g;
    else if (strcmp (name, "h") == 0) {
        s->hist_count += d->h->count;
        s->hist_max = d->h->max;
    }
}

/*  Pack m and hand it to stats as replica id at now. */
static int
take (monitor_stats_t *st, const char *id, hsn_metrics_t *m, int64_t now, bool first,
      seen_t *seen)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    hsn_metrics_pack (m, &pk);
    memset (seen, 0, sizeof *seen);
    int rc = monitor_stats_take (st, CACHE, id, strlen (id), sb.data, sb.size, now, first,
                                 collect, seen);
    msgpack_sbuffer_destroy (&sb);
    return rc;
}

static void
names_setup (void)
{
    names = monitor_names_new ();
}

static void
names_teardown (void)
{
    monitor_names_destroy (&names);
}

START_TEST (counters_histograms_gauges_differences_and_resets)
{
    monitor_stats_t *st = monitor_stats_new (names, 8);
    hsn_metrics_t *m = hsn_metrics_new ();
    seen_t s;
    fx_set (m, "c", 100);
    fx_gauge (m, "g", 7);
    fx_record (m, "h", 1000, 10);
    /*  First STATS: a baseline (gauges only). */
    ck_assert_int_eq (take (st, "r1", m, 1000, false, &s), 0);
    ck_assert_uint_eq (s.counter, 0);
    ck_assert_uint_eq (s.hist_count, 0);
    ck_assert_int_eq (s.gauge, 7);
    /*  Then increases. */
    fx_set (m, "c", 130);
    fx_record (m, "h", 50000, 5);
    fx_gauge (m, "g", -3);
    ck_assert_int_eq (take (st, "r1", m, 2000, false, &s), 0);
    ck_assert_uint_eq (s.counter, 30);
    ck_assert_uint_eq (s.hist_count, 5);
    ck_assert_uint_ge (s.hist_max, 50000);
    ck_assert_uint_le (s.hist_max, 53247);      /* the top of 50000's bucket */
    ck_assert_int_eq (s.gauge, -3);
    /*  Nothing moved: only the gauge is reported. */
    ck_assert_int_eq (take (st, "r1", m, 3000, false, &s), 0);
    ck_assert_int_eq (s.calls, 1);
    /*  The replica restarted: counters went down, the histogram lost
     *  samples. Everything it now holds is new. */
    hsn_metrics_t *fresh = hsn_metrics_new ();
    fx_set (fresh, "c", 4);
    fx_record (fresh, "h", 20, 2);
    ck_assert_int_eq (take (st, "r1", fresh, 4000, false, &s), 0);
    ck_assert_uint_eq (s.counter, 4);
    ck_assert_uint_eq (s.hist_count, 2);
    /*  A restart the heartbeat saw, with counters already above the old
     *  values: the next STATS still counts in full. */
    fx_set (fresh, "c", 500);
    monitor_stats_restarted (st, CACHE, "r1", 2);
    ck_assert_int_eq (take (st, "r1", fresh, 5000, false, &s), 0);
    ck_assert_uint_eq (s.counter, 500);
    const monitor_rstats_t *r = monitor_stats_find (st, CACHE, "r1");
    ck_assert_ptr_nonnull (r);
    ck_assert_int_eq (r->last_ms, 5000);
    int c = monitor_names_find (names, "c", HSN_METRIC_COUNTER);
    ck_assert_int_ge (c, 0);
    ck_assert_uint_eq (monitor_rstats_val (r, (uint32_t) c)->u, 500);
    /*  A new replica known to have just started counts in full. */
    ck_assert_int_eq (take (st, "r2", m, 5000, true, &s), 0);
    ck_assert_uint_eq (s.counter, 130);
    ck_assert_uint_eq (s.hist_count, 15);
    /*  Forgotten when its stats are stale. */
    monitor_stats_forget (st, 5000);
    ck_assert_uint_eq (monitor_stats_count (st), 2);
    ck_assert_uint_gt (monitor_stats_bytes (st), 0);
    monitor_stats_forget (st, 5001);
    ck_assert_uint_eq (monitor_stats_count (st), 0);
    ck_assert_uint_eq (monitor_stats_bytes (st), 0);
    hsn_metrics_destroy (&m);
    hsn_metrics_destroy (&fresh);
    monitor_stats_destroy (&st);
    monitor_stats_destroy (&st);
}
END_TEST

START_TEST (bounded_replicas_and_names)
{
    monitor_stats_t *st = monitor_stats_new (names, 2);
    hsn_metrics_t *m = hsn_metrics_new ();
    fx_set (m, "c", 1);
    seen_t s;
    ck_assert_int_eq (take (st, "a", m, 0, false, &s), 0);
    ck_assert_int_eq (take (st, "b", m, 0, false, &s), 0);
    ck_assert_int_eq (take (st, "c", m, 0, false, &s), -ENOSPC);
    ck_assert_int_eq (take (st, "a", m, 1, false, &s), 0);     /* known ones go on */
    ck_assert_int_eq (monitor_stats_take (st, CACHE, "", 0, "\x80", 1, 0, false, NULL, NULL),
                      -EINVAL);
    ck_assert_int_eq (monitor_stats_take (st, 0, "x", 1, "\x80", 1, 0, false, NULL, NULL),
                      -EINVAL);
    hsn_metrics_destroy (&m);
    monitor_stats_destroy (&st);

    /*  Names: a flood of distinct names fills the table, then is ignored. */
    st = monitor_stats_new (names, 64);
    for (int batch = 0; batch < 20; batch++) {
        m = hsn_metrics_new ();
        for (int i = 0; i < 250; i++) {
            char name[32];
            snprintf (name, sizeof name, "flood.%d.%d", batch, i);
            fx_set (m, name, 1);
        }
        char id[16];
        snprintf (id, sizeof id, "f%d", batch);
        ck_assert_int_eq (take (st, id, m, 0, true, &s), 0);
        hsn_metrics_destroy (&m);
    }
    ck_assert_uint_eq (monitor_names_count (names), MONITOR_NAMES_MAX);
    ck_assert_int_eq (monitor_names_id (names, "one.more", HSN_METRIC_COUNTER), -ENOSPC);
    monitor_stats_destroy (&st);
}
END_TEST

/*  Feed bytes as a STATS map; it must be refused without effect. */
static void
refused (monitor_stats_t *st, const void *mp, size_t len)
{
    seen_t s;
    memset (&s, 0, sizeof s);
    int rc = monitor_stats_take (st, CACHE, "h", 1, mp, len, 0, true, collect, &s);
    ck_assert_int_eq (rc, -EBADMSG);
    ck_assert_int_eq (s.calls, 0);
}

START_TEST (hostile_stats_refused_without_effect)
{
    monitor_stats_t *st = monitor_stats_new (names, 8);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    /*  A bucket index past the last bucket. */
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "hists", 5);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "h", 1);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, HSN_HIST_BUCKETS);
    msgpack_pack_uint64 (&pk, 1);
    refused (st, sb.data, sb.size);
    /*  Truncations of it, and a counter of the wrong type. */
    for (size_t n = 0; n < sb.size; n++)
        refused (st, sb.data, n);
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 8);
    msgpack_pack_str_body (&pk, "counters", 8);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "c", 1);
    msgpack_pack_int64 (&pk, -5);
    refused (st, sb.data, sb.size);
    /*  An array count far beyond the bytes: no allocation, refused. */
    static const uint8_t huge[] = { 0x81, 0xa5, 'h', 'i', 's', 't', 's', 0x81, 0xa1, 'h',
                                    0xdd, 0x7f, 0xff, 0xff, 0xff };
    refused (st, huge, sizeof huge);
    /*  Random bytes: refused or accepted, never a crash. */
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[64];
        size_t n = (size_t) uniform (1, sizeof junk);
        for (size_t j = 0; j < n; j++)
            junk[j] = (uint8_t) next_rand ();
        monitor_stats_take (st, CACHE, "j", 1, junk, n, 0, true, collect, &(seen_t) { 0 });
    }
    ck_assert_ptr_null (monitor_stats_find (st, CACHE, "h"));
    msgpack_sbuffer_destroy (&sb);
    monitor_stats_destroy (&st);
}
END_TEST

/*  Valid STATS envelopes with bytes flipped, through the whole intake:
 *  decoded or refused, never a crash (run under ASan by make asan). */
START_TEST (mutated_stats_envelopes)
{
    monitor_core_t *core = fx_core (true);
    hsn_metrics_t *m = hsn_metrics_new ();
    fx_set (m, "cache.l1.hits", 12345);
    fx_gauge (m, "agentbus.queue_depth.x", -7);
    fx_record (m, "cache.redis.latency_us", 120, 50);
    fx_record (m, "cache.redis.latency_us", 9000000, 3);
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    hsn_enc_begin (&enc, HSN_KIND_STATS, 0, CACHE, 0, 0, 3);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, "m1");
    hsn_enc_key (&enc, HSN_FIELD_STATS);
    hsn_metrics_pack (m, &enc.pk);
    size_t len = hsn_enc_size (&enc);
    uint8_t *frame = (uint8_t *) malloc (len);
    int taken = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy (frame, hsn_enc_data (&enc), len);
        for (int f = (int) uniform (1, 4); f > 0; f--)
            frame[uniform (0, len - 1)] ^= (uint8_t) uniform (1, 255);
        hsn_env_t env;
        if (hsn_env_decode (&env, frame, len) == 0)
            taken += monitor_core_take (core, &env, i) == 0;
    }
    ck_assert_int_gt (taken, 0);
    monitor_kpis_t k;
    monitor_recs_t r;
    fx_eval (core, 30000, 300, &k, &r);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    ck_assert_int_eq (monitor_core_prometheus (core, 30000, &sb), 0);
    msgpack_sbuffer_destroy (&sb);
    free (frame);
    hsn_enc_release (&enc);
    hsn_metrics_destroy (&m);
    monitor_core_destroy (&core);
}
END_TEST

START_TEST (name_patterns)
{
    const char *star;
    size_t len;
    ck_assert (monitor_name_match ("query.*.latency_us", "query.users.by.id.latency_us", &star,
                                   &len));
    ck_assert_int_eq ((int) len, 11);
    ck_assert (strncmp (star, "users.by.id", len) == 0);
    ck_assert (!monitor_name_match ("query.*.latency_us", "query..latency_us", NULL, NULL));
    ck_assert (!monitor_name_match ("query.*.latency_us", "query.x.latency_ms", NULL, NULL));
    ck_assert (monitor_name_match ("cache.l1.hits", "cache.l1.hits", NULL, NULL));
    ck_assert (!monitor_name_match ("cache.l1.hits", "cache.l1.hits2", NULL, NULL));
    ck_assert (monitor_name_match ("*.errors", "cache.redis.errors", NULL, NULL));
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_stats");
    TCase *tc = tcase_create ("stats");
    tcase_add_checked_fixture (tc, names_setup, names_teardown);
    tcase_add_test (tc, merged_percentiles_are_those_of_the_union);
    tcase_add_test (tc, sparse_round_trip_add_and_exact_counts);
    tcase_add_test (tc, counters_histograms_gauges_differences_and_resets);
    tcase_add_test (tc, bounded_replicas_and_names);
    tcase_add_test (tc, hostile_stats_refused_without_effect);
    tcase_add_test (tc, mutated_stats_envelopes);
    tcase_add_test (tc, name_patterns);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
