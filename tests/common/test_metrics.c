/*  Tests for hsn_metrics: bucket layout, percentile accuracy and
 *  mergeability, lock-free recording, registry, and the wire format
 *  (round trip and hostile input). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_metrics.h"
#include "tests/harness/hsn_test.h"

/*  Deterministic PRNG (xorshift64*), so failures reproduce. */
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dULL;
}

/*  Log-uniform over [1, 10^decades): latencies spread over several
 *  orders of magnitude. */
static uint64_t
rnd_latency (int decades)
{
    double u = (double) (rnd () >> 11) / (double) (1ULL << 53);
    return (uint64_t) pow (10.0, u * decades);
}

static int
cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

START_TEST (test_bucket_layout)
{
    ck_assert_int_eq (HSN_HIST_BUCKETS, 16 + 33 * 16);
    ck_assert_uint_eq (hsn_hist_bucket_lower (0), 0);
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++) {
        uint64_t lo = hsn_hist_bucket_lower (i);
        uint64_t hi = hsn_hist_bucket_upper (i);
        ck_assert (lo <= hi);
        ck_assert_uint_eq (hsn_hist_bucket_of (lo), i);
        ck_assert_uint_eq (hsn_hist_bucket_of (hi), i);
        if (i + 1 < HSN_HIST_BUCKETS)
            ck_assert_uint_eq (hsn_hist_bucket_lower (i + 1), hi + 1);
        /*  Width bounds the relative error (all but the overflow bucket). */
        if (i >= 16 && i + 1 < HSN_HIST_BUCKETS)
            ck_assert ((hi - lo + 1) * 16 <= lo);
        if (i < 16)
            ck_assert (lo == i && hi == i);
    }
    ck_assert_uint_eq (hsn_hist_bucket_upper (HSN_HIST_BUCKETS - 1), UINT64_MAX);
    ck_assert_uint_eq (hsn_hist_bucket_of (15), 15);
    ck_assert_uint_eq (hsn_hist_bucket_of (16), 16);
    ck_assert_uint_eq (hsn_hist_bucket_of (31), 31);
    ck_assert_uint_eq (hsn_hist_bucket_of (32), 32);
    ck_assert_uint_eq (hsn_hist_bucket_of (33), 32);
    ck_assert_uint_eq (hsn_hist_bucket_of (34), 33);
    ck_assert_uint_eq (hsn_hist_bucket_of ((1ULL << 37) - 1), HSN_HIST_BUCKETS - 1);
    ck_assert_uint_eq (hsn_hist_bucket_of (1ULL << 37), HSN_HIST_BUCKETS - 1);
    ck_assert_uint_eq (hsn_hist_bucket_of (UINT64_MAX), HSN_HIST_BUCKETS - 1);
    ck_assert_uint_eq (hsn_hist_bucket_lower (HSN_HIST_BUCKETS - 1),
                       (1ULL << 36) + 15 * (1ULL << 32));
}
END_TEST

START_TEST (test_bucket_random_values)
{
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rnd () >> (rnd () % 64);
        size_t b = hsn_hist_bucket_of (v);
        ck_assert (b < HSN_HIST_BUCKETS);
        ck_assert (hsn_hist_bucket_lower (b) <= v);
        ck_assert (v <= hsn_hist_bucket_upper (b));
    }
}
END_TEST

START_TEST (test_percentile_basics)
{
    hsn_hist_t h;
    memset (&h, 0, sizeof h);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 50), 0);
    for (uint64_t v = 1; v <= 10; v++)
        hsn_hist_record (&h, v);
    ck_assert_uint_eq (h.count, 10);
    ck_assert_uint_eq (h.sum, 55);
    ck_assert_uint_eq (h.max, 10);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 0), 1);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 10), 1);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 11), 2);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 50), 5);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 100), 10);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 250), 10);
    ck_assert_uint_eq (hsn_hist_percentile (&h, -3), 1);
    ck_assert_uint_eq (hsn_hist_percentile (&h, NAN), 1);

    /*  Clamped to max: one sample of 1000 sits in [992, 1023]. */
    hsn_hist_reset (&h);
    ck_assert_uint_eq (h.count, 0);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 99), 0);
    hsn_hist_record (&h, 1000);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 99), 1000);
    hsn_hist_record (&h, 5000);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 50), 1023);
    hsn_hist_record (&h, UINT64_MAX / 2);
    ck_assert_uint_eq (hsn_hist_percentile (&h, 100), UINT64_MAX / 2);
}
END_TEST

#define SAMPLES 5000
#define PARTS 3

START_TEST (test_percentile_merge_and_accuracy)
{
    static uint64_t samples[SAMPLES];
    static hsn_hist_t whole, part[PARTS], merged;
    for (int i = 0; i < SAMPLES; i++) {
        samples[i] = rnd_latency (7);
        hsn_hist_record (&whole, samples[i]);
        hsn_hist_record (&part[rnd () % PARTS], samples[i]);
    }
    for (int i = 0; i < PARTS; i++)
        hsn_hist_merge (&merged, &part[i]);
    ck_assert (memcmp (&merged, &whole, sizeof whole) == 0);

    qsort (samples, SAMPLES, sizeof samples[0], cmp_u64);
    static const double ps[] = { 0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 100 };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t got = hsn_hist_percentile (&merged, ps[i]);
        ck_assert_uint_eq (got, hsn_hist_percentile (&whole, ps[i]));
        size_t rank = (size_t) ceil (ps[i] * SAMPLES / 100);
        uint64_t exact = samples[rank < 1 ? 0 : rank - 1];
        ck_assert_msg (got >= exact && (double) (got - exact) <= exact / 16.0,
                       "p%g: got %lu exact %lu", ps[i], (unsigned long) got,
                       (unsigned long) exact);
    }
}
END_TEST

#define THREADS 4
#define PER_THREAD 200000

static hsn_hist_t s_shared_hist;
static uint64_t s_shared_counter;
static int64_t s_shared_gauge;

static void *
hammer (void *arg)
{
    uint64_t base = (uint64_t) (uintptr_t) arg;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        hsn_hist_record (&s_shared_hist, base + i);
        hsn_counter_add (&s_shared_counter, 1);
        hsn_gauge_add (&s_shared_gauge, (i & 1) ? 3 : -1);
    }
    return NULL;
}

START_TEST (test_concurrent_record)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq (pthread_create (&t[i], NULL, hammer,
                                          (void *) (uintptr_t) (i * 1000)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join (t[i], NULL);
    hsn_hist_t snap;
    hsn_hist_snapshot (&s_shared_hist, &snap);
    uint64_t total = 0, sum = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        total += snap.buckets[i];
    for (uint64_t t_ = 0; t_ < THREADS; t_++)
        sum += t_ * 1000 * PER_THREAD + (uint64_t) PER_THREAD * (PER_THREAD - 1) / 2;
    ck_assert_uint_eq (snap.count, THREADS * PER_THREAD);
    ck_assert_uint_eq (total, THREADS * PER_THREAD);
    ck_assert_uint_eq (snap.sum, sum);
    ck_assert_uint_eq (snap.max, (THREADS - 1) * 1000 + PER_THREAD - 1);
    ck_assert_uint_eq (hsn_counter_get (&s_shared_counter), THREADS * PER_THREAD);
    ck_assert_int_eq (hsn_gauge_get (&s_shared_gauge), THREADS * PER_THREAD);
}
END_TEST

START_TEST (test_registry)
{
    hsn_metrics_t *m = hsn_metrics_new ();
    ck_assert_ptr_nonnull (m);
    ck_assert_uint_eq (hsn_metrics_count (m), 0);
    uint64_t *hits = hsn_metrics_counter (m, "cache.l1.hits");
    int64_t *conns = hsn_metrics_gauge (m, "gateway.connections");
    hsn_hist_t *lat = hsn_metrics_hist (m, "gateway.route.cache.latency_us");
    ck_assert_ptr_eq (hsn_metrics_counter (m, "cache.l1.hits"), hits);
    ck_assert_ptr_eq (hsn_metrics_gauge (m, "gateway.connections"), conns);
    ck_assert_ptr_eq (hsn_metrics_hist (m, "gateway.route.cache.latency_us"), lat);
    ck_assert_uint_eq (hsn_metrics_count (m), 3);

    hsn_counter_add (hits, 5);
    hsn_gauge_set (conns, 7);
    hsn_gauge_add (conns, -9);
    hsn_hist_record (lat, 120);

    static const char *const names[] = {
        "cache.l1.hits", "gateway.connections", "gateway.route.cache.latency_us"
    };
    static const int kinds[] = {
        HSN_METRIC_COUNTER, HSN_METRIC_GAUGE, HSN_METRIC_HIST
    };
    void *values[] = { hits, conns, lat };
    for (size_t i = 0; i < 3; i++) {
        const char *name;
        int kind;
        void *value;
        ck_assert_int_eq (hsn_metrics_at (m, i, &name, &kind, &value), 0);
        ck_assert_str_eq (name, names[i]);
        ck_assert_int_eq (kind, kinds[i]);
        ck_assert_ptr_eq (value, values[i]);
    }
    const char *name = "x";
    ck_assert_int_eq (hsn_metrics_at (m, 3, &name, NULL, NULL), -ERANGE);
    ck_assert_str_eq (name, "x");
    ck_assert_uint_eq (*hits, 5);
    ck_assert_int_eq (*conns, -2);

    /*  Fill to capacity: every pointer stays put. */
    char buf[HSN_METRIC_NAME_MAX + 1];
    for (int i = 3; i < HSN_METRICS_MAX; i++) {
        snprintf (buf, sizeof buf, "filler.%d", i);
        *hsn_metrics_counter (m, buf) = (uint64_t) i;
    }
    ck_assert_ptr_eq (hsn_metrics_counter (m, "cache.l1.hits"), hits);
    ck_assert_uint_eq (hsn_metrics_count (m), HSN_METRICS_MAX);
    hsn_metrics_destroy (&m);
    ck_assert_ptr_null (m);
    hsn_metrics_destroy (&m);
    hsn_metrics_destroy (NULL);
}
END_TEST

/*  The two tests below die on an assert, by design: keep its message out of
 *  the test output. */
static void
quiet_stderr (void)
{
    ck_assert_ptr_nonnull (freopen ("/dev/null", "w", stderr));
}

START_TEST (test_register_kind_mismatch_asserts)
{
    quiet_stderr ();
    hsn_metrics_t *m = hsn_metrics_new ();
    hsn_metrics_counter (m, "a");
    hsn_metrics_gauge (m, "a");
}
END_TEST

START_TEST (test_register_long_name_asserts)
{
    quiet_stderr ();
    hsn_metrics_t *m = hsn_metrics_new ();
    char buf[HSN_METRIC_NAME_MAX + 2];
    memset (buf, 'n', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    hsn_metrics_counter (m, buf);
}
END_TEST

/*  A registry with one of each kind and some spread-out samples. */
static hsn_metrics_t *
sample_registry (void)
{
    hsn_metrics_t *m = hsn_metrics_new ();
    hsn_counter_add (hsn_metrics_counter (m, "cache.l1.hits"), 12345);
    hsn_counter_add (hsn_metrics_counter (m, "cache.l1.misses"), 0);
    hsn_counter_add (hsn_metrics_counter (m, "big"), UINT64_MAX - 1);
    hsn_gauge_set (hsn_metrics_gauge (m, "cache.entries"), 42);
    hsn_gauge_set (hsn_metrics_gauge (m, "skew"), -7);
    hsn_gauge_set (hsn_metrics_gauge (m, "min"), INT64_MIN);
    hsn_hist_t *h = hsn_metrics_hist (m, "gateway.route.cache.latency_us");
    for (int i = 0; i < 2000; i++)
        hsn_hist_record (h, rnd_latency (8));
    hsn_hist_record (h, UINT64_MAX / 4);
    hsn_metrics_hist (m, "empty.hist");
    return m;
}

static void
pack (hsn_metrics_t *m, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    hsn_metrics_pack (m, &pk);
}

/*  Same names, kinds (by name) and values. */
static void
assert_same (hsn_metrics_t *a, hsn_metrics_t *b)
{
    ck_assert_uint_eq (hsn_metrics_count (a), hsn_metrics_count (b));
    for (size_t i = 0; i < hsn_metrics_count (a); i++) {
        const char *name;
        int kind;
        void *va;
        ck_assert_int_eq (hsn_metrics_at (a, i, &name, &kind, &va), 0);
        if (kind == HSN_METRIC_COUNTER)
            ck_assert_uint_eq (*(uint64_t *) va, *hsn_metrics_counter (b, name));
        else if (kind == HSN_METRIC_GAUGE)
            ck_assert_int_eq (*(int64_t *) va, *hsn_metrics_gauge (b, name));
        else
            ck_assert (memcmp (va, hsn_metrics_hist (b, name),
                               sizeof (hsn_hist_t)) == 0);
    }
    ck_assert_uint_eq (hsn_metrics_count (a), hsn_metrics_count (b));
}

START_TEST (test_pack_round_trip)
{
    hsn_metrics_t *a = sample_registry ();
    msgpack_sbuffer sb;
    pack (a, &sb);
    hsn_metrics_t *b = hsn_metrics_new ();
    ck_assert_int_eq (hsn_metrics_unpack_merge (b, sb.data, sb.size), 0);
    assert_same (a, b);

    /*  Merging a second replica adds counters and gauges, merges hists. */
    ck_assert_int_eq (hsn_metrics_unpack_merge (b, sb.data, sb.size), 0);
    ck_assert_uint_eq (*hsn_metrics_counter (b, "cache.l1.hits"), 2 * 12345);
    ck_assert_int_eq (*hsn_metrics_gauge (b, "cache.entries"), 84);
    ck_assert_int_eq (*hsn_metrics_gauge (b, "skew"), -14);
    hsn_hist_t *ha = hsn_metrics_hist (a, "gateway.route.cache.latency_us");
    hsn_hist_t *hb = hsn_metrics_hist (b, "gateway.route.cache.latency_us");
    ck_assert_uint_eq (hb->count, 2 * ha->count);
    ck_assert_uint_eq (hb->max, ha->max);
    ck_assert_uint_eq (hsn_hist_percentile (hb, 99), hsn_hist_percentile (ha, 99));

    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&a);
    hsn_metrics_destroy (&b);
}
END_TEST

START_TEST (test_unpack_skips_what_does_not_fit)
{
    hsn_metrics_t *a = sample_registry ();
    msgpack_sbuffer sb;
    pack (a, &sb);
    /*  "cache.entries" exists as a counter here: skipped, rest merged. */
    hsn_metrics_t *b = hsn_metrics_new ();
    hsn_counter_add (hsn_metrics_counter (b, "cache.entries"), 1);
    ck_assert_int_eq (hsn_metrics_unpack_merge (b, sb.data, sb.size), 0);
    ck_assert_uint_eq (*hsn_metrics_counter (b, "cache.entries"), 1);
    ck_assert_uint_eq (*hsn_metrics_counter (b, "cache.l1.hits"), 12345);
    ck_assert_uint_eq (hsn_metrics_count (b), hsn_metrics_count (a));

    /*  A full registry takes nothing new, and does not fail. */
    hsn_metrics_t *full = hsn_metrics_new ();
    char name[32];
    for (int i = 0; i < HSN_METRICS_MAX; i++) {
        snprintf (name, sizeof name, "f%d", i);
        hsn_metrics_gauge (full, name);
    }
    ck_assert_int_eq (hsn_metrics_unpack_merge (full, sb.data, sb.size), 0);
    ck_assert_uint_eq (hsn_metrics_count (full), HSN_METRICS_MAX);

    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&a);
    hsn_metrics_destroy (&b);
    hsn_metrics_destroy (&full);
}
END_TEST

/*  Pack a hand-made message: {"hists": {"h": [1, 5, 5, [[index, 1]]]}}. */
static void
pack_bucket_index (msgpack_sbuffer *sb, uint64_t index)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "counters", 8);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "c", 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_str_with_body (&pk, "hists", 5);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "h", 1);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 5);
    msgpack_pack_uint64 (&pk, 5);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, index);
    msgpack_pack_uint64 (&pk, 1);
}

START_TEST (test_unpack_bucket_index)
{
    hsn_metrics_t *m = hsn_metrics_new ();
    msgpack_sbuffer sb;
    pack_bucket_index (&sb, HSN_HIST_BUCKETS);
    ck_assert_int_eq (hsn_metrics_unpack_merge (m, sb.data, sb.size), -EBADMSG);
    /*  The counter before the bad bucket was not applied either. */
    ck_assert_uint_eq (hsn_metrics_count (m), 0);
    msgpack_sbuffer_destroy (&sb);

    pack_bucket_index (&sb, HSN_HIST_BUCKETS - 1);
    ck_assert_int_eq (hsn_metrics_unpack_merge (m, sb.data, sb.size), 0);
    ck_assert_uint_eq (hsn_metrics_hist (m, "h")->buckets[HSN_HIST_BUCKETS - 1], 1);
    ck_assert_uint_eq (*hsn_metrics_counter (m, "c"), 1);
    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&m);
}
END_TEST

START_TEST (test_unpack_bad_shapes)
{
    /*  Each is well-formed msgpack but not a metrics map. */
    /*  Literal bytes and their length (sizeof counts embedded NULs). */
#define BYTES(lit) lit, sizeof (lit) - 1
    static const struct { const char *what; const char *bytes; size_t len; } bad[] = {
        { "not a map", BYTES ("\x90") },
        { "int key", BYTES ("\x81\x01\x80") },
        { "section not map", BYTES ("\x81\xa8" "counters" "\x90") },
        { "name not str", BYTES ("\x81\xa8" "counters" "\x81\x01\x01") },
        { "negative counter", BYTES ("\x81\xa8" "counters" "\x81\xa1" "c" "\xff") },
        { "str counter", BYTES ("\x81\xa8" "counters" "\x81\xa1" "c" "\xa0") },
        { "huge gauge", BYTES ("\x81\xa6" "gauges" "\x81\xa1" "g"
                               "\xcf\x80\0\0\0\0\0\0\0") },
        { "short hist", BYTES ("\x81\xa5" "hists" "\x81\xa1" "h"
                               "\x93\x01\x01\x01") },
        { "bad pair", BYTES ("\x81\xa5" "hists" "\x81\xa1" "h"
                             "\x94\x01\x01\x01\x91\x91\x01") },
        { "trailing byte", BYTES ("\x80\x80") },
        { "too deep", BYTES ("\x81\xa1" "x" "\x91\x91\x91\x91\x91\x91\x91\x91\x90") },
        { "truncated", BYTES ("\x81\xa8" "counters" "\x81\xa1" "c") },
        { "empty", BYTES ("") },
    };
#undef BYTES
    hsn_metrics_t *m = hsn_metrics_new ();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg (hsn_metrics_unpack_merge (m, bad[i].bytes, bad[i].len)
                       == -EBADMSG, "%s", bad[i].what);
    ck_assert_uint_eq (hsn_metrics_count (m), 0);

    /*  Forward compatibility: unknown keys and extra hist elements. */
    static const char ok[] = "\x82\xa4" "info" "\x91\x01"
                             "\xa5" "hists" "\x81\xa1" "h"
                             "\x95\x01\x07\x07\x91\x92\x07\x01\xa1z";
    ck_assert_int_eq (hsn_metrics_unpack_merge (m, ok, sizeof ok - 1), 0);
    hsn_hist_t *h = hsn_metrics_hist (m, "h");
    ck_assert_uint_eq (h->count, 1);
    ck_assert_uint_eq (h->buckets[7], 1);
    ck_assert_uint_eq (hsn_hist_percentile (h, 50), 7);
    ck_assert_int_eq (hsn_metrics_unpack_merge (m, "\x80", 1), 0);
    ck_assert_int_eq (hsn_metrics_unpack_merge (m, NULL, 0), -EBADMSG);
    hsn_metrics_destroy (&m);
}
END_TEST

START_TEST (test_unpack_hostile_input)
{
    hsn_metrics_t *src = sample_registry ();
    msgpack_sbuffer sb;
    pack (src, &sb);
    hsn_metrics_t *m = hsn_metrics_new ();

    /*  Every strict prefix of a valid pack is truncated. */
    for (size_t len = 0; len < sb.size; len++) {
        char *copy = malloc (len ? len : 1);   /* exact size for ASan */
        memcpy (copy, sb.data, len);
        ck_assert_int_eq (hsn_metrics_unpack_merge (m, copy, len), -EBADMSG);
        free (copy);
    }
    ck_assert_uint_eq (hsn_metrics_count (m), 0);

    /*  Random bytes and random mutations of a valid pack: 0 or -EBADMSG,
     *  never a crash (ASan build checks every access). */
    unsigned char buf[256];
    for (int i = 0; i < 5000; i++) {
        size_t len = rnd () % sizeof buf;
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char) rnd ();
        /*  Steer some toward plausible headers so parsing goes deeper. */
        if (len && i % 2)
            buf[0] = 0x80 | (buf[0] & 0x0f);
        unsigned char *copy = malloc (len ? len : 1);
        memcpy (copy, buf, len);
        int rc = hsn_metrics_unpack_merge (m, copy, len);
        ck_assert (rc == 0 || rc == -EBADMSG);
        free (copy);
    }
    for (int i = 0; i < 5000; i++) {
        unsigned char *copy = malloc (sb.size);
        memcpy (copy, sb.data, sb.size);
        for (int flips = 1 + (int) (rnd () % 4); flips > 0; flips--)
            copy[rnd () % sb.size] = (unsigned char) rnd ();
        int rc = hsn_metrics_unpack_merge (m, copy, sb.size);
        ck_assert (rc == 0 || rc == -EBADMSG);
        free (copy);
    }
    msgpack_sbuffer_destroy (&sb);
    hsn_metrics_destroy (&src);
    hsn_metrics_destroy (&m);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_metrics");
    TCase *tc = tcase_create ("metrics");
    tcase_add_test (tc, test_bucket_layout);
    tcase_add_test (tc, test_bucket_random_values);
    tcase_add_test (tc, test_percentile_basics);
    tcase_add_test (tc, test_percentile_merge_and_accuracy);
    tcase_add_test (tc, test_concurrent_record);
    tcase_add_test (tc, test_registry);
    tcase_add_test_raise_signal (tc, test_register_kind_mismatch_asserts, SIGABRT);
    tcase_add_test_raise_signal (tc, test_register_long_name_asserts, SIGABRT);
    tcase_add_test (tc, test_pack_round_trip);
    tcase_add_test (tc, test_unpack_skips_what_does_not_fit);
    tcase_add_test (tc, test_unpack_bucket_index);
    tcase_add_test (tc, test_unpack_bad_shapes);
    tcase_add_test (tc, test_unpack_hostile_input);
    tcase_set_timeout (tc, 60);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
