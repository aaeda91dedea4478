/*  Randomized tests of hsn_store against a naive model, and the big
 *  ones: 1M entries, resizes up and down under lookups.
 *
 *  model_exact: bounds too large to evict; every answer and counter must
 *  match the model (an array of slots).
 *  model_lru: max_entries binds; the model evicts the slot used least
 *  recently, so the store's LRU must pick the very same victims.
 *  model_bounded: tight entries AND bytes, jitter, active expiry; the
 *  store may forget anything at any time, but never exceed a bound nor
 *  return a value that is not the last one written. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_store.h"
#include "tests/harness/hsn_test.h"

#define NTAGS   8
#define VMAX    1500

static uint64_t s_rng;

static uint64_t
rnd (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dULL;
}

static size_t
rnd_below (size_t n)
{
    return (size_t) (rnd () % n);
}

typedef struct {
    bool stored;                /* exact runs: stored; bounded run: may be stored */
    int64_t expires;
    uint64_t used;              /* tick of the last put or hit */
    size_t vlen;
    uint8_t value[VMAX];
    uint32_t tags;              /* bit i: tag i */
} slot_t;

typedef struct {
    size_t nkeys, vmax;
    int64_t ttl_max;            /* ms */
    unsigned bulk;              /* per mille of ops: del_prefix, del_tag */
    bool exact, lru;            /* answers must match; evictions predicted */
    hsn_store_config_t cfg;
} run_t;

static const char *s_tag_names[NTAGS] = { "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7" };

static size_t
key_of (size_t k, char *buf, size_t cap)
{
    return (size_t) snprintf (buf, cap, "g%zu:k%zu", k % 8, k);
}

static void
run_model (const run_t *r, size_t ops, uint64_t seed)
{
    s_rng = seed;
    hsn_store_t *s = hsn_store_new (&r->cfg);
    ck_assert_ptr_nonnull (s);
    slot_t *m = calloc (r->nkeys, sizeof *m);
    ck_assert_ptr_nonnull (m);
    hsn_store_stats_t want = { 0 };
    int64_t now = 1000;
    uint64_t tick = 0;
    char key[32];
    uint8_t value[VMAX];

    for (size_t op = 0; op < ops; op++) {
        now += (int64_t) rnd_below (3);
        size_t k = rnd_below (r->nkeys);
        size_t klen = key_of (k, key, sizeof key);
        slot_t *sl = &m[k];
        unsigned what = (unsigned) rnd_below (1000);
        if (what < 400) {                                       /* get */
            const uint8_t *v;
            size_t vlen;
            int64_t exp;
            int rc = hsn_store_get (s, key, klen, now, &v, &vlen, &exp);
            if (rc == 0) {
                ck_assert_msg (sl->stored, "op %zu: hit on a key never written or deleted", op);
                ck_assert_uint_eq (vlen, sl->vlen);
                ck_assert (vlen == 0 || memcmp (v, sl->value, vlen) == 0);
                ck_assert_int_lt (now, exp);
                ck_assert_int_le (exp, sl->expires);
                sl->used = ++tick;
                want.hits++;
            }
            else {
                ck_assert_int_eq (rc, -ENOENT);
                if (r->exact) {
                    ck_assert_msg (!sl->stored || now >= sl->expires,
                                   "op %zu: miss on a live key", op);
                    if (sl->stored) {
                        want.expirations++;
                        want.entries--;
                    }
                }
                sl->stored = false;
                want.misses++;
            }
        }
        else if (what < 750) {                                  /* put */
            size_t vlen = rnd_below (r->vmax + 1);
            for (size_t i = 0; i < vlen; i++)
                value[i] = (uint8_t) rnd ();
            int64_t expires = now + 1 + (int64_t) rnd_below ((size_t) r->ttl_max);
            const char *tags[3];
            size_t lens[3], ntags = rnd_below (4);
            uint32_t mask = 0;
            for (size_t i = 0; i < ntags; i++) {
                size_t t = rnd_below (NTAGS);
                tags[i] = s_tag_names[t];
                lens[i] = 2;
                mask |= 1u << t;
            }
            int rc = hsn_store_put (s, key, klen, value, vlen, now, expires, tags, lens, ntags);
            ck_assert_int_eq (rc, 0);
            if (r->exact) {
                if (!sl->stored)
                    want.entries++;
                /*  Room for a new key: the least recently used goes. */
                if (r->lru && !sl->stored && want.entries > r->cfg.max_entries) {
                    size_t victim = SIZE_MAX;
                    for (size_t i = 0; i < r->nkeys; i++)
                        if (m[i].stored && (victim == SIZE_MAX || m[i].used < m[victim].used))
                            victim = i;
                    if (now >= m[victim].expires)
                        want.expirations++;
                    else
                        want.evictions++;
                    m[victim].stored = false;
                    want.entries--;
                }
            }
            sl->stored = true;
            sl->expires = expires;
            sl->vlen = vlen;
            memcpy (sl->value, value, vlen);
            sl->tags = mask;
            sl->used = ++tick;
            want.inserts++;
        }
        else if (what < 900) {                                  /* del */
            int rc = hsn_store_del (s, key, klen);
            if (r->exact)
                ck_assert_int_eq (rc, sl->stored ? 0 : -ENOENT);
            else if (rc == 0)
                ck_assert (sl->stored);
            if (sl->stored && r->exact)
                want.entries--;
            sl->stored = false;
        }
        else if (what < 900 + r->bulk) {                        /* del_prefix / del_tag */
            bool by_tag = what & 1;
            size_t g = rnd_below (by_tag ? NTAGS : 8), expect = 0;
            char prefix[8];
            int plen = snprintf (prefix, sizeof prefix, "g%zu:", g);
            for (size_t i = 0; i < r->nkeys; i++) {
                bool hit = by_tag ? (m[i].tags >> g) & 1 : i % 8 == g;
                if (m[i].stored && hit) {
                    expect++;
                    m[i].stored = false;
                }
            }
            size_t n = by_tag ? hsn_store_del_tag (s, s_tag_names[g], 2)
                              : hsn_store_del_prefix (s, prefix, (size_t) plen);
            if (r->exact) {
                ck_assert_uint_eq (n, expect);
                want.entries -= expect;
            }
            else
                ck_assert_uint_le (n, expect);
        }
        else if (!r->exact) {                                   /* active expiry */
            size_t n = hsn_store_expire (s, now, 1 + rnd_below (20));
            ck_assert_uint_le (n, 20);
        }
        hsn_store_stats_t st;
        hsn_store_stats (s, &st);
        ck_assert_uint_le (st.entries, r->cfg.max_entries);
        ck_assert_uint_le (st.bytes, r->cfg.max_bytes);
        ck_assert (st.entries > 0 || st.bytes == 0);
        if (r->exact) {
            ck_assert_msg (st.entries == want.entries, "op %zu: %llu entries, model %llu", op,
                           (unsigned long long) st.entries, (unsigned long long) want.entries);
            ck_assert_uint_eq (st.hits, want.hits);
            ck_assert_uint_eq (st.misses, want.misses);
            ck_assert_uint_eq (st.inserts, want.inserts);
            ck_assert_uint_eq (st.evictions, want.evictions);
            ck_assert_uint_eq (st.expirations, want.expirations);
        }
    }
    hsn_store_stats_t st;
    hsn_store_stats (s, &st);
    /*  The bounds did bind, and the victims were both kinds. */
    if (!r->exact || r->lru) {
        ck_assert_uint_gt (st.evictions, 1000);
        ck_assert_uint_gt (st.expirations, 100);
    }
    hsn_store_destroy (&s);
    free (m);
}

START_TEST (test_model_exact)
{
    run_t r = { 1000, 64, 3000, 70, true, false, { 1000000, (size_t) 1 << 30, 0 } };
    run_model (&r, 200000, 0x1234567887654321ULL);
}
END_TEST

START_TEST (test_model_lru)
{
    run_t r = { 256, 64, 20000, 4, true, true, { 64, (size_t) 1 << 30, 0 } };
    run_model (&r, 200000, 0xfeedfacecafebeefULL);
}
END_TEST

START_TEST (test_model_bounded)
{
    run_t r = { 500, VMAX, 3000, 20, false, false, { 100, 16384, 30 } };
    run_model (&r, 200000, 0x0badc0ffee0ddf00ULL);
}
END_TEST

/*  Grow to 200k, shrink to a handful, grow again, checking every key at
 *  each stage, so lookups, deletes and inserts all run while the table
 *  is between two bucket arrays. */
START_TEST (test_resize)
{
    hsn_store_config_t cfg = { 1000000, (size_t) 1 << 32, 0 };
    hsn_store_t *s = hsn_store_new (&cfg);
    char key[32];
    const size_t n = 200000;
    s_rng = 0x5eed5eed5eed5eedULL;
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    for (size_t i = 0; i < n; i++) {
        size_t klen = key_of (i, key, sizeof key);
        ck_assert_int_eq (hsn_store_put (s, key, klen, &i, sizeof i, 0, 1000, NULL, NULL, 0), 0);
        /*  One earlier key, found wherever it is. */
        size_t j = rnd_below (i + 1);
        klen = key_of (j, key, sizeof key);
        ck_assert_int_eq (hsn_store_get (s, key, klen, 0, &v, &vlen, &exp), 0);
        ck_assert_mem_eq (v, &j, sizeof j);
    }
    for (size_t i = 0; i < n; i++)
        if (i % 1000 != 7) {
            size_t klen = key_of (i, key, sizeof key);
            ck_assert_int_eq (hsn_store_del (s, key, klen), 0);
        }
    for (size_t i = 0; i < n; i++) {
        size_t klen = key_of (i, key, sizeof key);
        int rc = hsn_store_get (s, key, klen, 0, &v, &vlen, &exp);
        ck_assert_int_eq (rc, i % 1000 == 7 ? 0 : -ENOENT);
    }
    for (size_t i = n; i < n + 50000; i++) {
        size_t klen = key_of (i, key, sizeof key);
        ck_assert_int_eq (hsn_store_put (s, key, klen, &i, sizeof i, 0, 1000, NULL, NULL, 0), 0);
    }
    for (size_t i = 0; i < n + 50000; i++) {
        size_t klen = key_of (i, key, sizeof key);
        int rc = hsn_store_get (s, key, klen, 0, &v, &vlen, &exp);
        ck_assert_int_eq (rc, (i % 1000 == 7 || i >= n) ? 0 : -ENOENT);
        if (rc == 0)
            ck_assert_mem_eq (v, &i, sizeof i);
    }
    hsn_store_stats_t st;
    hsn_store_stats (s, &st);
    ck_assert_uint_eq (st.entries, 200 + 50000);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_million)
{
    const size_t n = 1000000;
    hsn_store_config_t cfg = { n, (size_t) 1 << 34, 10 };
    hsn_store_t *s = hsn_store_new (&cfg);
    char key[32];
    uint8_t value[100];
    memset (value, 'v', sizeof value);
    for (size_t i = 0; i < n; i++) {
        size_t klen = (size_t) snprintf (key, sizeof key, "bench:k%013zu", i);
        memcpy (value, &i, sizeof i);
        ck_assert_int_eq (hsn_store_put (s, key, klen, value, sizeof value, 0, 3600000,
                                           NULL, NULL, 0), 0);
    }
    hsn_store_stats_t st;
    hsn_store_stats (s, &st);
    ck_assert_uint_eq (st.entries, n);
    ck_assert_uint_eq (st.evictions, 0);
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    for (size_t i = 0; i < n; i++) {
        size_t klen = (size_t) snprintf (key, sizeof key, "bench:k%013zu", i);
        ck_assert_int_eq (hsn_store_get (s, key, klen, 1, &v, &vlen, &exp), 0);
        ck_assert_uint_eq (vlen, 100);
        ck_assert_mem_eq (v, &i, sizeof i);
    }
    /*  Full: one more evicts the least recently read, key 0. */
    ck_assert_int_eq (hsn_store_put (s, "new", 3, "x", 1, 2, 3600000, NULL, NULL, 0), 0);
    ck_assert_int_eq (hsn_store_get (s, "bench:k0000000000000", 20, 2, &v, &vlen, &exp),
                      -ENOENT);
    ck_assert_int_eq (hsn_store_get (s, "bench:k0000000000001", 20, 2, &v, &vlen, &exp), 0);
    ck_assert_uint_eq (hsn_store_del_prefix (s, "bench:k00000000000", 18), 99);
    hsn_store_stats (s, &st);
    ck_assert_uint_eq (st.entries, n - 99);
    ck_assert_uint_eq (st.evictions, 1);
    hsn_store_destroy (&s);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_store_model");
    TCase *tc = tcase_create ("model");
    /*  Big loops: generous under sanitizers. */
    tcase_set_timeout (tc, 300);
    tcase_add_test (tc, test_model_exact);
    tcase_add_test (tc, test_model_lru);
    tcase_add_test (tc, test_model_bounded);
    tcase_add_test (tc, test_resize);
    tcase_add_test (tc, test_million);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
