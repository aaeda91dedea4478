/*  query_pool wake-ups and the uncached path: every result is taken when
 *  its socket wakes the loop, never later by the pool's periodic tick
 *  (query.pool.late_results counts those), and a query that is not
 *  cacheable never asks hsn-cache. A real PostgreSQL, broker and hsn-cache
 *  (query_test.h). */
#include "query_test.h"

static const char *const schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL, qty int NOT NULL);"
    "INSERT INTO items (name, qty) SELECT 'item' || g, g FROM generate_series(1, 100) g;";

static const char *const queries =
    "-- name: item_uncached\n"
    "-- params: id:int\n"
    "-- cache: 0\n"
    "SELECT id, name, qty FROM items WHERE id = $1;\n"
    "\n"
    "-- name: item_plain\n"
    "-- params: id:int\n"
    "SELECT id, qty FROM items WHERE id = $1;\n"
    "\n"
    "-- name: item_cached\n"
    "-- params: id:int\n"
    "-- cache: 30\n"
    "SELECT id, qty FROM items WHERE id = $1;\n"
    "\n"
    "-- name: many_rows\n"
    "-- params: n:int\n"
    "SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, $1::int) g;\n"
    "\n"
    "-- name: divide\n"
    "-- params: a:int, b:int\n"
    "SELECT $1::int / $2::int AS q;\n"
    "\n"
    "-- name: broken\n"
    "SELECT * FROM no_such_table;\n";

static void
setup (void)
{
    /*  One connection: every query follows the previous one on it. */
    qt_opts_t o = { 1, 5000, 5000, 100000, true, true, NULL };
    qt_start (schema, queries, &o);
}

static void
teardown (void)
{
    qt_stop ();
}

static void
id_param (int64_t id)
{
    params_begin (1);
    pstr ("id");
    msgpack_pack_int64 (&pk, id);
}

/*  query.run name(id) answers OK with qty == id. */
static void
run_item (const char *name, int64_t id)
{
    reply_t r;
    id_param (id);
    ck_assert_int_eq (run (name, true, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "qty"), id);
    reply_close (&r);
}

static uint64_t
cache_traffic (void)
{
    return counter_of ("query.cache.hits") + counter_of ("query.cache.misses")
           + counter_of ("query.cache.errors") + counter_of ("query.cache.coalesced");
}

/* ---- tests ------------------------------------------------------------- */

START_TEST (sequential_queries_each_complete_on_their_own_wake_up)
{
    /*  If a result were left in libpq's buffer with no wake-up to come, the
     *  tick would pick it up and count it: every shape of job, one after
     *  the other on the one connection. */
    uint64_t runs0 = counter_of ("query.runs");
    reply_t r;
    for (int64_t i = 1; i <= 200; i++)              /* prepare, then execute */
        run_item ("item_uncached", 1 + i % 100);
    for (int64_t i = 1; i <= 50; i++)
        run_item ("item_plain", i);
    for (int i = 0; i < 5; i++) {                   /* results over many reads */
        params_begin (1);
        pstr ("n");
        msgpack_pack_int64 (&pk, 5000);
        ck_assert_int_eq (run ("many_rows", true, &r), HSN_STATUS_OK);
        ck_assert_uint_eq (count_of (&r), 5000);
        reply_close (&r);
    }
    for (int i = 0; i < 20; i++) {                  /* errors: execute, prepare */
        params_begin (2);
        pstr ("a");
        msgpack_pack_int64 (&pk, 1);
        pstr ("b");
        msgpack_pack_int64 (&pk, 0);
        ck_assert_int_eq (run ("divide", true, &r), HSN_STATUS_BAD_REQUEST);
        sqlstate_is (&r, "22012");
        reply_close (&r);
        ck_assert_int_eq (run ("broken", false, &r), HSN_STATUS_INTERNAL);
        sqlstate_is (&r, "42P01");
        reply_close (&r);
    }
    for (int i = 0; i < 50; i++) {                  /* ad-hoc: three steps */
        ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT count(*) AS n FROM items", 0, false,
                                &r), HSN_STATUS_OK);
        hsn_mp_obj_t row = row0 (&r);
        ck_assert_int_eq (col_int (&row, "n"), 100);
        reply_close (&r);
    }
    ck_assert_uint_eq (counter_of ("query.runs") - runs0, 200 + 50 + 5 + 40 + 50);
    ck_assert_uint_eq (counter_of ("query.pool.late_results"), 0);
}
END_TEST

START_TEST (queued_queries_each_complete_on_their_own_wake_up)
{
    /*  40 at once on one connection: 39 queue, each started from the
     *  completion of the one before. */
    enum { N = 40 };
    reply_t r[N];
    id_param (7);
    run_many ("item_uncached", true, N, r);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq (r[i].env.status, HSN_STATUS_OK);
        hsn_mp_obj_t row = row0 (&r[i]);
        ck_assert_int_eq (col_int (&row, "qty"), 7);
        reply_close (&r[i]);
    }
    ck_assert_uint_ge (counter_of ("query.pool.saturated"), 1);
    ck_assert_uint_eq (counter_of ("query.pool.late_results"), 0);
}
END_TEST

START_TEST (uncacheable_queries_never_ask_the_cache)
{
    for (int64_t i = 1; i <= 30; i++) {
        run_item ("item_uncached", i);
        run_item ("item_plain", i);
    }
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT 1 AS one", 0, false, &r), HSN_STATUS_OK);
    reply_close (&r);
    ck_assert_uint_eq (cache_traffic (), 0);
    /*  The counters do see a cacheable query's lookup (a miss, or an error
     *  should hsn-cache be too slow to answer). */
    run_item ("item_cached", 3);
    ck_assert_uint_eq (cache_traffic (), 1);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_pool");
    TCase *tc = tcase_create ("wake-ups");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, sequential_queries_each_complete_on_their_own_wake_up);
    tcase_add_test (tc, queued_queries_each_complete_on_their_own_wake_up);
    tcase_add_test (tc, uncacheable_queries_never_ask_the_cache);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
