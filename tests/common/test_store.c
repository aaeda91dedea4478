/*  Tests for hsn_store: get/put/replace/del, expiry and jitter, LRU
 *  eviction, the byte budget, prefix and tag deletion, clear, active
 *  expiry, stats and argument checks. The randomized model tests and the
 *  1M-entry test are in test_hsn_store_model.c. Time is always passed
 *  explicitly: nothing sleeps. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_store.h"
#include "tests/harness/hsn_test.h"

#define BIG_BYTES ((size_t) 1 << 30)

static hsn_store_t *
store_new (size_t max_entries, size_t max_bytes, uint32_t jitter)
{
    hsn_store_config_t cfg = { max_entries, max_bytes, jitter };
    hsn_store_t *s = hsn_store_new (&cfg);
    ck_assert_ptr_nonnull (s);
    return s;
}

static int
put (hsn_store_t *s, const char *key, const char *value, int64_t now, int64_t expires)
{
    return hsn_store_put (s, key, strlen (key), value, strlen (value), now, expires,
                            NULL, NULL, 0);
}

static int
put_tags (hsn_store_t *s, const char *key, int64_t now, const char *const tags[], size_t n)
{
    size_t lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen (tags[i]);
    return hsn_store_put (s, key, strlen (key), "v", 1, now, now + 100000, tags, lens, n);
}

/*  The value of key as a string ("" when absent) and its expiry. */
static char s_got[4096];
static int64_t s_exp;

static const char *
get (hsn_store_t *s, const char *key, int64_t now)
{
    const uint8_t *v;
    size_t vlen;
    if (hsn_store_get (s, key, strlen (key), now, &v, &vlen, &s_exp) != 0)
        return "";
    ck_assert_uint_lt (vlen, sizeof s_got);
    memcpy (s_got, v, vlen);
    s_got[vlen] = 0;
    return s_got;
}

static bool
has (hsn_store_t *s, const char *key, int64_t now)
{
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    return hsn_store_get (s, key, strlen (key), now, &v, &vlen, &exp) == 0;
}

static hsn_store_stats_t
stats (hsn_store_t *s)
{
    hsn_store_stats_t st;
    hsn_store_stats (s, &st);
    return st;
}

START_TEST (test_config)
{
    hsn_store_config_t bad[] = { { 0, 4096, 0 }, { 10, 1023, 0 }, { 10, 4096, 51 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_ptr_null (hsn_store_new (&bad[i]));
    ck_assert_ptr_null (hsn_store_new (NULL));
    hsn_store_config_t ok = { 1, 1024, 50 };
    hsn_store_t *s = hsn_store_new (&ok);
    ck_assert_ptr_nonnull (s);
    hsn_store_destroy (&s);
    ck_assert_ptr_null (s);
    hsn_store_destroy (&s);
    hsn_store_destroy (NULL);
    hsn_store_stats_t st;
    memset (&st, 0xff, sizeof st);
    hsn_store_stats (NULL, &st);
    ck_assert_uint_eq (st.entries + st.bytes + st.hits + st.inserts, 0);
}
END_TEST

START_TEST (test_get_put_replace_del)
{
    hsn_store_t *s = store_new (100, BIG_BYTES, 0);
    ck_assert_int_eq (put (s, "ns:a", "alpha", 0, 1000), 0);
    ck_assert_int_eq (put (s, "ns:b", "beta", 0, 2000), 0);
    ck_assert_str_eq (get (s, "ns:a", 1), "alpha");
    ck_assert_int_eq (s_exp, 1000);
    ck_assert_str_eq (get (s, "ns:b", 1), "beta");
    ck_assert_int_eq (s_exp, 2000);
    ck_assert (!has (s, "ns:c", 1));
    ck_assert (!has (s, "ns:", 1));
    ck_assert (!has (s, "ns:aa", 1));

    /*  Replace: longer, then shorter, then empty; the expiry follows. */
    ck_assert_int_eq (put (s, "ns:a", "a much longer value than before", 1, 5000), 0);
    ck_assert_str_eq (get (s, "ns:a", 2), "a much longer value than before");
    ck_assert_int_eq (s_exp, 5000);
    ck_assert_int_eq (put (s, "ns:a", "x", 1, 6000), 0);
    ck_assert_str_eq (get (s, "ns:a", 2), "x");
    ck_assert_int_eq (hsn_store_put (s, "ns:a", 4, NULL, 0, 1, 6000, NULL, NULL, 0), 0);
    ck_assert (has (s, "ns:a", 2));
    ck_assert_str_eq (get (s, "ns:a", 2), "");
    ck_assert_uint_eq (stats (s).entries, 2);

    /*  Keys are bytes: embedded NULs, no terminator needed. */
    const char k1[] = { 'k', 0, '1' }, k2[] = { 'k', 0, '2' };
    ck_assert_int_eq (hsn_store_put (s, k1, 3, "one", 3, 0, 100, NULL, NULL, 0), 0);
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    ck_assert_int_eq (hsn_store_get (s, k2, 3, 0, &v, &vlen, &exp), -ENOENT);
    ck_assert_int_eq (hsn_store_get (s, k1, 3, 0, &v, &vlen, &exp), 0);
    ck_assert_uint_eq (vlen, 3);
    ck_assert_mem_eq (v, "one", 3);

    ck_assert_int_eq (hsn_store_del (s, "ns:b", 4), 0);
    ck_assert_int_eq (hsn_store_del (s, "ns:b", 4), -ENOENT);
    ck_assert (!has (s, "ns:b", 3));
    ck_assert_int_eq (hsn_store_del (s, "nope", 4), -ENOENT);
    ck_assert_uint_eq (stats (s).entries, 2);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_bad_arguments)
{
    hsn_store_t *s = store_new (100, BIG_BYTES, 0);
    const uint8_t *v = (const uint8_t *) "untouched";
    size_t vlen = 77;
    int64_t exp = 88;
    ck_assert_int_eq (hsn_store_get (NULL, "k", 1, 0, &v, &vlen, &exp), -EINVAL);
    ck_assert_int_eq (hsn_store_get (s, "k", 1, 0, NULL, &vlen, &exp), -EINVAL);
    ck_assert_int_eq (hsn_store_get (s, NULL, 1, 0, &v, &vlen, &exp), -EINVAL);
    ck_assert_int_eq (hsn_store_get (s, "k", 1, 0, &v, &vlen, &exp), -ENOENT);
    ck_assert_int_eq (hsn_store_get (s, "", 0, 0, &v, &vlen, &exp), -ENOENT);
    ck_assert_str_eq ((const char *) v, "untouched");
    ck_assert_uint_eq (vlen, 77);
    ck_assert_int_eq (exp, 88);

    ck_assert_int_eq (hsn_store_put (NULL, "k", 1, "v", 1, 0, 1, NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "k", 0, "v", 1, 0, 1, NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, NULL, 1, "v", 1, 0, 1, NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "k", 1, NULL, 1, 0, 1, NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "k", 1, "v", 1, 10, 10, NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "k", 1, "v", 1, 10, 9, NULL, NULL, 0), -EINVAL);
    static char longkey[HSN_STORE_KEY_MAX + 1];
    memset (longkey, 'k', sizeof longkey);
    ck_assert_int_eq (hsn_store_put (s, longkey, sizeof longkey, "v", 1, 0, 1, NULL, NULL, 0),
                      -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, longkey, HSN_STORE_KEY_MAX, "v", 1, 0, 1,
                                       NULL, NULL, 0), 0);

    /*  Tags: count, length, NULLs. */
    const char *tags[17];
    size_t lens[17];
    static char longtag[HSN_STORE_TAG_MAX + 1];
    memset (longtag, 't', sizeof longtag);
    for (int i = 0; i < 17; i++) {
        tags[i] = longtag;
        lens[i] = HSN_STORE_TAG_MAX - (size_t) i;       /* distinct */
    }
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, tags, lens, 17), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, NULL, lens, 1), -EINVAL);
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, tags, NULL, 1), -EINVAL);
    lens[3] = HSN_STORE_TAG_MAX + 1;
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, tags, lens, 16), -EINVAL);
    lens[3] = 0;
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, tags, lens, 16), -EINVAL);
    lens[3] = 1;
    ck_assert_int_eq (hsn_store_put (s, "t", 1, "v", 1, 0, 1, tags, lens, 16), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, longtag, 1), 1);

    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 1);          /* longkey */
    ck_assert_uint_eq (st.inserts, 2);
    ck_assert_int_eq (hsn_store_del (NULL, "k", 1), -ENOENT);
    ck_assert_int_eq (hsn_store_del (s, NULL, 1), -ENOENT);
    ck_assert_uint_eq (hsn_store_del_prefix (NULL, "k", 1), 0);
    ck_assert_uint_eq (hsn_store_del_tag (NULL, "k", 1), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "", 0), 0);
    hsn_store_clear (NULL);
    ck_assert_uint_eq (hsn_store_expire (NULL, 0, 10), 0);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_ttl)
{
    hsn_store_t *s = store_new (100, BIG_BYTES, 0);
    ck_assert_int_eq (put (s, "k", "v", 1000, 2000), 0);
    ck_assert (has (s, "k", 1000));
    ck_assert (has (s, "k", 1999));
    ck_assert (!has (s, "k", 2000));            /* expired: removed */
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 0);
    ck_assert_uint_eq (st.bytes, 0);
    ck_assert_uint_eq (st.expirations, 1);
    ck_assert_uint_eq (st.misses, 1);
    ck_assert_uint_eq (st.hits, 2);
    /*  And a later read is a plain miss. */
    ck_assert (!has (s, "k", 1500));
    ck_assert_uint_eq (stats (s).expirations, 1);
    ck_assert_uint_eq (stats (s).misses, 2);
    /*  Negative and huge times are just numbers. */
    ck_assert_int_eq (put (s, "n", "v", -5000, -4000), 0);
    ck_assert (has (s, "n", -4001));
    ck_assert (!has (s, "n", -4000));
    ck_assert_int_eq (put (s, "h", "v", INT64_MIN, INT64_MAX), 0);
    ck_assert (has (s, "h", INT64_MAX - 1));
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_jitter)
{
    hsn_store_t *s = store_new (10000, BIG_BYTES, 20);
    const int64_t now = 5000, expires = now + 100000;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    int distinct = 0;
    int64_t prev = 0;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf (key, sizeof key, "k%d", i);
        ck_assert_int_eq (put (s, key, "v", now, expires), 0);
        ck_assert (has (s, key, now));
        get (s, key, now);
        ck_assert_int_ge (s_exp, expires - 20000);
        ck_assert_int_le (s_exp, expires);
        lo = s_exp < lo ? s_exp : lo;
        hi = s_exp > hi ? s_exp : hi;
        distinct += s_exp != prev;
        prev = s_exp;
    }
    /*  Spread over the whole window, not a constant. */
    ck_assert_int_lt (lo, expires - 18000);
    ck_assert_int_gt (hi, expires - 2000);
    ck_assert_int_gt (distinct, 900);

    /*  Whatever the jitter, the expiry stays in the future. */
    hsn_store_t *s50 = store_new (100, BIG_BYTES, 50);
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq (put (s50, "k", "v", now, now + 1 + i % 3), 0);
        ck_assert (has (s50, "k", now));
        get (s50, "k", now);
        ck_assert_int_gt (s_exp, now);
        ck_assert_int_ge (s_exp, now + 1 + i % 3 - (1 + i % 3) / 2);
    }
    ck_assert_int_eq (put (s50, "big", "v", INT64_MIN, INT64_MAX), 0);
    get (s50, "big", INT64_MIN);
    ck_assert_int_ge (s_exp, 0);
    hsn_store_destroy (&s);
    hsn_store_destroy (&s50);
}
END_TEST

START_TEST (test_lru_eviction)
{
    hsn_store_t *s = store_new (3, BIG_BYTES, 0);
    ck_assert_int_eq (put (s, "a", "1", 0, 1000), 0);
    ck_assert_int_eq (put (s, "b", "2", 0, 1000), 0);
    ck_assert_int_eq (put (s, "c", "3", 0, 1000), 0);
    ck_assert (has (s, "a", 1));                /* a is now the most recent */
    ck_assert_int_eq (put (s, "d", "4", 1, 1000), 0);
    ck_assert (!has (s, "b", 2));               /* the least recently used */
    ck_assert (has (s, "a", 2) && has (s, "c", 2) && has (s, "d", 2));
    /*  Those reads leave a as the least recently used. */
    ck_assert_int_eq (put (s, "e", "5", 2, 1000), 0);
    ck_assert (!has (s, "a", 3));
    /*  A replace counts as use too. */
    ck_assert_int_eq (put (s, "c", "33", 3, 1000), 0);
    ck_assert_int_eq (put (s, "f", "6", 3, 1000), 0);
    ck_assert (!has (s, "d", 4));
    ck_assert_str_eq (get (s, "c", 4), "33");
    ck_assert (has (s, "e", 4) && has (s, "f", 4));
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 3);
    ck_assert_uint_eq (st.evictions, 3);
    ck_assert_uint_eq (st.expirations, 0);
    ck_assert_uint_eq (st.inserts, 7);

    /*  An expired entry pushed out for room counts as an expiration. */
    ck_assert_int_eq (put (s, "short", "x", 4, 5), 0);     /* evicts c: f e c -> short f e */
    ck_assert (!has (s, "c", 4));
    ck_assert (has (s, "f", 4) && has (s, "e", 4));        /* e f short */
    ck_assert_int_eq (put (s, "g", "7", 10, 1000), 0);     /* evicts short, expired */
    ck_assert_int_eq (put (s, "h", "8", 10, 1000), 0);     /* evicts f, valid */
    st = stats (s);
    ck_assert_uint_eq (st.evictions, 5);
    ck_assert_uint_eq (st.expirations, 1);
    ck_assert (!has (s, "short", 10) && !has (s, "f", 10));
    ck_assert (has (s, "e", 10) && has (s, "g", 10) && has (s, "h", 10));
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_byte_budget)
{
    const size_t max = 64 * 1024;
    hsn_store_t *s = store_new (1000000, max, 0);
    static char value[16384];
    memset (value, 'v', sizeof value);
    /*  Too big alone: more than an eighth of the budget. Nothing changes. */
    ck_assert_int_eq (put (s, "keep", "me", 0, 1000), 0);
    hsn_store_stats_t before = stats (s);
    ck_assert_int_eq (hsn_store_put (s, "big", 3, value, max / 8, 0, 1000, NULL, NULL, 0),
                      -E2BIG);
    ck_assert_int_eq (hsn_store_put (s, "keep", 4, value, sizeof value, 0, 1000, NULL, NULL, 0),
                      -E2BIG);
    ck_assert_str_eq (get (s, "keep", 0), "me");
    ck_assert_uint_eq (stats (s).bytes, before.bytes);
    ck_assert_uint_eq (stats (s).inserts, 1);
    /*  Just under an eighth fits. */
    ck_assert_int_eq (hsn_store_put (s, "big", 3, value, max / 8 - 200, 0, 1000, NULL, NULL, 0),
                      0);

    /*  Random sizes: the budget holds after every put, entries come and go. */
    uint64_t rng = 42;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t vlen = (size_t) (rng >> 33) % 7000;
        snprintf (key, sizeof key, "k%d", (int) ((rng >> 20) % 300));
        ck_assert_int_eq (hsn_store_put (s, key, strlen (key), value, vlen, 0, 1000,
                                           NULL, NULL, 0), 0);
        hsn_store_stats_t st = stats (s);
        ck_assert_uint_le (st.bytes, max);
        ck_assert (has (s, key, 0));            /* the new one is never evicted */
    }
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_gt (st.evictions, 1000);
    ck_assert_uint_gt (st.bytes, max / 2);      /* and the space is used */
    /*  Charges are not leaked: emptying gives 0 bytes. */
    hsn_store_del_prefix (s, "", 0);
    ck_assert_uint_eq (stats (s).bytes, 0);
    ck_assert_uint_eq (stats (s).entries, 0);

    /*  Tags count towards the budget and are released with the entry. */
    const char *tags[] = { "t1", "t2" };
    ck_assert_int_eq (put_tags (s, "x", 0, tags, 2), 0);
    size_t tagged = stats (s).bytes;
    ck_assert_int_eq (put (s, "x", "v", 0, 1000), 0);
    ck_assert_uint_lt (stats (s).bytes, tagged);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_del_prefix)
{
    hsn_store_t *s = store_new (100, BIG_BYTES, 0);
    const char *keys[] = { "a:1", "a:2", "a:", "ab:1", "b:1", "a", "b:a:1", "a:3" };
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq (put (s, keys[i], keys[i], 0, 1000), 0);
    ck_assert_uint_eq (hsn_store_del_prefix (s, "a:", 2), 4);
    ck_assert (!has (s, "a:1", 0) && !has (s, "a:2", 0) && !has (s, "a:", 0)
               && !has (s, "a:3", 0));
    ck_assert (has (s, "ab:1", 0) && has (s, "b:1", 0) && has (s, "a", 0) && has (s, "b:a:1", 0));
    ck_assert_uint_eq (hsn_store_del_prefix (s, "a:", 2), 0);
    ck_assert_uint_eq (hsn_store_del_prefix (s, "zzz", 3), 0);
    ck_assert_uint_eq (stats (s).entries, 4);
    ck_assert_uint_eq (stats (s).evictions, 0);
    ck_assert_uint_eq (hsn_store_del_prefix (s, "", 0), 4);
    ck_assert_uint_eq (stats (s).entries, 0);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_del_tag)
{
    hsn_store_t *s = store_new (100, BIG_BYTES, 0);
    const char *t1[] = { "user:1" }, *t12[] = { "user:1", "user:2" }, *t2[] = { "user:2" };
    const char *dup[] = { "d", "d", "d" }, *none[] = { "user:3" };
    ck_assert_int_eq (put_tags (s, "k1", 0, t1, 1), 0);
    ck_assert_int_eq (put_tags (s, "k2", 0, t12, 2), 0);
    ck_assert_int_eq (put_tags (s, "k3", 0, t2, 1), 0);
    ck_assert_int_eq (put (s, "k4", "untagged", 0, 1000), 0);
    ck_assert_int_eq (put_tags (s, "k5", 0, dup, 3), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:3", 6), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:", 5), 0);        /* exact names only */
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:1", 6), 2);
    ck_assert (!has (s, "k1", 0) && !has (s, "k2", 0));
    ck_assert (has (s, "k3", 0) && has (s, "k4", 0) && has (s, "k5", 0));
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:1", 6), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "d", 1), 1);            /* listed thrice, once */
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:2", 6), 1);
    ck_assert_uint_eq (stats (s).entries, 1);

    /*  A replaced entry carries its new tags only; a tag both carry
     *  survives the replacement. */
    ck_assert_int_eq (put_tags (s, "r", 0, t12, 2), 0);
    ck_assert_int_eq (put_tags (s, "other", 0, t2, 1), 0);
    ck_assert_int_eq (put_tags (s, "r", 0, t1, 1), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:2", 6), 1);       /* "other" only */
    ck_assert (has (s, "r", 0));
    ck_assert_int_eq (put_tags (s, "r", 0, none, 1), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:1", 6), 0);
    ck_assert_int_eq (put (s, "r", "no tags now", 0, 1000), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:3", 6), 0);
    ck_assert (has (s, "r", 0));

    /*  Entries leaving by del, eviction or expiry leave their tags too. */
    ck_assert_int_eq (put_tags (s, "x", 0, t1, 1), 0);
    ck_assert_int_eq (hsn_store_del (s, "x", 1), 0);
    ck_assert_int_eq (put_tags (s, "y", 0, t1, 1), 0);
    ck_assert (!has (s, "y", 200000));                                 /* expired */
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:1", 6), 0);

    /*  Many entries on one tag, and one entry on many tags. */
    char key[32];
    for (int i = 0; i < 50; i++) {
        snprintf (key, sizeof key, "many%d", i);
        ck_assert_int_eq (put_tags (s, key, 0, t2, 1), 0);
    }
    const char *sixteen[16];
    char names[16][16];
    for (int i = 0; i < 16; i++) {
        snprintf (names[i], sizeof names[i], "t%d", i);
        sixteen[i] = names[i];
    }
    ck_assert_int_eq (put_tags (s, "wide", 0, sixteen, 16), 0);
    ck_assert_uint_eq (hsn_store_del_tag (s, "user:2", 6), 50);
    ck_assert_uint_eq (hsn_store_del_tag (s, "t7", 2), 1);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq (hsn_store_del_tag (s, names[i], strlen (names[i])), 0);
    ck_assert_uint_eq (stats (s).entries, 2);                          /* k4, r */
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_clear)
{
    hsn_store_t *s = store_new (100000, BIG_BYTES, 0);
    const char *tags[] = { "t" };
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf (key, sizeof key, "k%d", i);
        ck_assert_int_eq (put_tags (s, key, 0, tags, 1), 0);
    }
    ck_assert (has (s, "k42", 0));
    hsn_store_clear (s);
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 0);
    ck_assert_uint_eq (st.bytes, 0);
    ck_assert_uint_eq (st.inserts, 5000);       /* counters stay */
    ck_assert_uint_eq (st.hits, 1);
    ck_assert (!has (s, "k42", 0));
    ck_assert_uint_eq (hsn_store_del_tag (s, "t", 1), 0);
    /*  Usable afterwards. */
    ck_assert_int_eq (put_tags (s, "k42", 0, tags, 1), 0);
    ck_assert (has (s, "k42", 0));
    ck_assert_uint_eq (hsn_store_del_tag (s, "t", 1), 1);
    hsn_store_clear (s);
    hsn_store_clear (s);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_expire_sweep)
{
    hsn_store_t *s = store_new (1000, BIG_BYTES, 0);
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "k%d", i);
        ck_assert_int_eq (put (s, key, "v", 0, i % 2 ? 10 : 1000), 0);
    }
    ck_assert_uint_eq (hsn_store_expire (s, 5, 1000), 0);    /* nothing due yet */
    /*  Bounded work per call, round-robin: 10 visits at a time. */
    size_t total = 0;
    for (int i = 0; i < 20; i++) {
        size_t n = hsn_store_expire (s, 20, 10);
        ck_assert_uint_le (n, 10);
        total += n;
        /*  Reads in between move entries around; the sweep copes. */
        snprintf (key, sizeof key, "k%d", i * 2);
        ck_assert (has (s, key, 20));
    }
    total += hsn_store_expire (s, 20, 1000);
    ck_assert_uint_eq (total, 100);
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 100);
    ck_assert_uint_eq (st.expirations, 100);
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "k%d", i);
        ck_assert (has (s, key, 20) == !(i % 2));
    }
    ck_assert_uint_eq (hsn_store_expire (s, 2000, 1000), 100);
    ck_assert_uint_eq (stats (s).entries, 0);
    ck_assert_uint_eq (hsn_store_expire (s, 2000, 1000), 0);
    hsn_store_destroy (&s);
}
END_TEST

START_TEST (test_stats)
{
    hsn_store_t *s = store_new (2, BIG_BYTES, 0);
    ck_assert_int_eq (put (s, "a", "1", 0, 100), 0);
    ck_assert_int_eq (put (s, "a", "2", 0, 100), 0);
    ck_assert_int_eq (put (s, "b", "3", 0, 10), 0);
    ck_assert (has (s, "a", 1));
    ck_assert (!has (s, "zz", 1));
    ck_assert (!has (s, "b", 10));
    ck_assert_int_eq (put (s, "c", "4", 10, 100), 0);
    ck_assert_int_eq (put (s, "d", "5", 10, 100), 0);         /* evicts a */
    hsn_store_stats_t st = stats (s);
    ck_assert_uint_eq (st.entries, 2);
    ck_assert_uint_eq (st.hits, 1);
    ck_assert_uint_eq (st.misses, 2);
    ck_assert_uint_eq (st.inserts, 5);
    ck_assert_uint_eq (st.evictions, 1);
    ck_assert_uint_eq (st.expirations, 1);
    ck_assert_uint_gt (st.bytes, 2 * (44 + 2));
    ck_assert_uint_lt (st.bytes, 2 * 256);
    hsn_store_destroy (&s);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_store");
    TCase *tc = tcase_create ("unit");
    tcase_add_test (tc, test_config);
    tcase_add_test (tc, test_get_put_replace_del);
    tcase_add_test (tc, test_bad_arguments);
    tcase_add_test (tc, test_ttl);
    tcase_add_test (tc, test_jitter);
    tcase_add_test (tc, test_lru_eviction);
    tcase_add_test (tc, test_byte_budget);
    tcase_add_test (tc, test_del_prefix);
    tcase_add_test (tc, test_del_tag);
    tcase_add_test (tc, test_clear);
    tcase_add_test (tc, test_expire_sweep);
    tcase_add_test (tc, test_stats);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
