/*  query_service: the result cache through a real hsn-cache process (and
 *  Redis), single flight, the asynchronous pool under pressure, catalog
 *  reload and ad-hoc SQL. Fixture in query_test.h. */
#include "query_test.h"

static const char *const schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
    "                    qty int NOT NULL CHECK (qty >= 0));"
    "CREATE SEQUENCE execs;";

static const char *const queries =
    "-- name: put_item\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING name, qty;\n"
    "\n"
    "-- name: set_qty\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "UPDATE items SET qty = $2 WHERE name = $1 RETURNING qty;\n"
    "\n"
    "-- name: get_item\n"
    "-- params: name:text\n"
    "-- cache: 30\n"
    "SELECT name, qty FROM items WHERE name = $1;\n"
    "\n"
    "-- name: slow_counted\n"
    "-- Each execution takes a number from the sequence: how many ran.\n"
    "-- params: k:text\n"
    "-- cache: 30\n"
    "-- tags: execs\n"
    "SELECT nextval('execs') AS n, $1::text AS k, pg_sleep(0.2) AS s;\n"
    "\n"
    "-- name: executions\n"
    "SELECT last_value, is_called FROM execs;\n"
    "\n"
    "-- name: nap\n"
    "-- params: s:float\n"
    "SELECT pg_sleep($1) AS slept\n";

static char *tmpdir;
static char qfile[600];

static void
setup_cache (void)
{
    qt_opts_t o = { 3, 2000, 5000, 500, true, false, NULL };
    qt_start (schema, queries, &o);
}

static void
setup_pool2 (void)
{
    qt_opts_t o = { 2, 2000, 5000, 100, false, false, NULL };
    qt_start (schema, queries, &o);
}

static void
setup_wait (void)
{
    qt_opts_t o = { 1, 2000, 150, 500, false, false, NULL };
    qt_start (schema, queries, &o);
}

static void
setup_adhoc (void)
{
    qt_opts_t o = { 2, 300, 5000, 500, false, true, NULL };
    qt_start (schema, queries, &o);
}

static const char *const v1 =
    "-- name: version\n"
    "SELECT 1 AS v\n"
    "\n"
    "-- name: nap\n"
    "-- params: s:float\n"
    "SELECT pg_sleep($1) AS slept\n";

static void
setup_reload (void)
{
    tmpdir = hsn_tmpdir ("query-reload");
    ck_assert_ptr_nonnull (tmpdir);
    snprintf (qfile, sizeof qfile, "%s/queries.sql", tmpdir);
    ck_assert_int_eq (hsn_write_file (qfile, v1), 0);
    qt_opts_t o = { 2, 2000, 5000, 500, false, false, qfile };
    qt_start (schema, v1, &o);
}

static void
teardown (void)
{
    qt_stop ();
    if (tmpdir) {
        hsn_tmpdir_remove (tmpdir);
        free (tmpdir);
        tmpdir = NULL;
    }
}

static bool
get_item_cached (void *arg)
{
    reply_t r;
    qt_item_params ((const char *) arg, -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    bool cached = cached_of (&r);
    reply_close (&r);
    return cached;
}

/* ---- the result cache -------------------------------------------------- */

START_TEST (repeat_is_served_from_cache_and_writes_invalidate)
{
    reply_t r;
    qt_item_params ("w", 3);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    ck_assert (!cached_of (&r));
    ck_assert (!hsn_env_has (&r.env, HSN_FIELD_TTL));        /* a write: not cacheable */
    reply_close (&r);

    qt_item_params ("w", -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    ck_assert (!cached_of (&r));                            /* the first: from PostgreSQL */
    uint64_t ttl;
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
    ck_assert_uint_eq (ttl, 30);
    reply_close (&r);
    /*  The store is fire and forget: wait for it to land. */
    ck_assert_msg (hsn_wait_until (get_item_cached, "w", 5000), "never served from cache");
    qt_item_params ("w", -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    ck_assert (cached_of (&r));
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
    ck_assert_uint_le (ttl, 30);
    ck_assert_uint_ge (ttl, 1);
    ck_assert_uint_eq (count_of (&r), 1);
    hsn_mp_obj_t row = row0 (&r);
    col_str (&row, "name", "w");
    ck_assert_int_eq (col_int (&row, "qty"), 3);
    reply_close (&r);
    ck_assert_uint_ge (counter_of ("query.cache.hits"), 2);
    ck_assert_uint_ge (counter_of ("query.cache.misses"), 1);

    /*  A write that invalidates "items": the next read is fresh. The
     *  invalidation is done before the write answers. */
    qt_item_params ("w", 9);
    ck_assert_int_eq (run ("set_qty", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    qt_item_params ("w", -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    ck_assert (!cached_of (&r));
    row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "qty"), 9);
    reply_close (&r);
    ck_assert_uint_eq (counter_of ("query.cache.invalidate_errors"), 0);

    /*  Another key of the same query is its own entry. */
    qt_item_params ("other", -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    ck_assert (!cached_of (&r));
    ck_assert_uint_eq (count_of (&r), 0);
    reply_close (&r);
}
END_TEST

START_TEST (identical_concurrent_misses_run_once)
{
    enum { N = 12 };
    reply_t r[N];
    params_begin (1);
    pstr ("k");
    pstr ("same");
    run_many ("slow_counted", true, N, r);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq (r[i].env.status, HSN_STATUS_OK);
        hsn_mp_obj_t row = row0 (&r[i]);
        ck_assert_int_eq (col_int (&row, "n"), 1);          /* all share execution 1 */
        reply_close (&r[i]);
    }
    ck_assert_int_eq (run ("executions", false, &r[0]), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r[0]);
    ck_assert_int_eq (col_int (&row, "last_value"), 1);     /* the sequence moved once */
    reply_close (&r[0]);
    ck_assert_uint_ge (counter_of ("query.cache.coalesced"), 1);

    /*  A different parameter is a different key: a second execution. */
    params_begin (1);
    pstr ("k");
    pstr ("other");
    ck_assert_int_eq (run ("slow_counted", true, &r[0]), HSN_STATUS_OK);
    row = row0 (&r[0]);
    ck_assert_int_eq (col_int (&row, "n"), 2);
    reply_close (&r[0]);
}
END_TEST

START_TEST (cache_down_reads_run_uncached_and_writes_report)
{
    reply_t r;
    cache_stop ();
    qt_item_params ("d", 1);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);  /* the write happened */
    reply_close (&r);
    ck_assert_uint_eq (counter_of ("query.cache.invalidate_errors"), 1);
    for (int i = 0; i < 2; i++) {
        qt_item_params ("d", -1);
        ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
        ck_assert (!cached_of (&r));
        hsn_mp_obj_t row = row0 (&r);
        ck_assert_int_eq (col_int (&row, "qty"), 1);
        reply_close (&r);
    }
    ck_assert_uint_ge (counter_of ("query.cache.errors"), 2);
    /*  Back: cached again. */
    cache_start ();
    ck_assert_msg (hsn_wait_until (get_item_cached, "d", 5000), "never cached after restart");
}
END_TEST

/* ---- the pool ------------------------------------------------------------ */

static void
nap_params (double s)
{
    params_begin (1);
    pstr ("s");
    msgpack_pack_double (&pk, s);
}

START_TEST (pool_exhaustion_waits_then_succeeds)
{
    enum { N = 10 };
    reply_t r[N];
    nap_params (0.2);
    run_many ("nap", true, N, r);
    for (int i = 0; i < N; i++) {
        ck_assert_msg (r[i].env.status == HSN_STATUS_OK, "nap %d: %u", i, r[i].env.status);
        reply_close (&r[i]);
    }
    /*  Two connections, ten queries: eight waited for one. */
    ck_assert_uint_ge (counter_of ("query.pool.saturated"), N - 2);
    hsn_hist_t *wait = hsn_metrics_hist (metrics, "query.pool.wait_us");
    ck_assert_uint_eq (wait->count, N);
    ck_assert_uint_ge (wait->max, 150000);                 /* some waited for a nap */
    /*  Each took over QUERY_SLOW_MS (100 here): logged and counted slow. */
    ck_assert_uint_eq (counter_of ("query.slow"), N);
    ck_assert_uint_eq (counter_of ("query.runs"), N);
    ck_assert_int_eq (hsn_gauge_get (hsn_metrics_gauge (metrics, "query.pool.in_use")), 0);
}
END_TEST

START_TEST (batch_members_run_concurrently)
{
    /*  Four naps and a failing member in one batch on two connections: the
     *  naps pair up, the failure stays its own. */
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 5);
    for (int i = 0; i < 5; i++) {
        msgpack_pack_map (&pk, 2);
        pstr ("name");
        pstr ("nap");
        pstr ("params");
        msgpack_pack_map (&pk, 1);
        pstr ("s");
        if (i == 2)
            pstr ("not a number");
        else
            msgpack_pack_double (&pk, 0.2);
    }
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, &r), HSN_STATUS_OK);
    const hsn_mp_obj_t *res = &r.env.fields[HSN_FIELD_RESULT];
    ck_assert_uint_eq (res->v.c.count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        hsn_mp_obj_t m = at (res, i);
        hsn_mp_obj_t st = get (&m, "status");
        ck_assert_uint_eq (st.v.u, i == 2 ? HSN_STATUS_BAD_REQUEST : HSN_STATUS_OK);
    }
    reply_close (&r);
    /*  Four executions on two connections: at least two had to queue. */
    ck_assert_uint_ge (counter_of ("query.pool.saturated"), 2);
    ck_assert_uint_eq (counter_of ("query.runs"), 4);
}
END_TEST

START_TEST (waiting_past_the_deadline_is_a_timeout)
{
    enum { N = 3 };
    reply_t r[N];
    nap_params (0.5);
    run_many ("nap", true, N, r);
    int ok = 0, timeouts = 0;
    for (int i = 0; i < N; i++) {
        if (r[i].env.status == HSN_STATUS_OK)
            ok++;
        else {
            ck_assert_int_eq (r[i].env.status, HSN_STATUS_TIMEOUT);
            message_has (&r[i], "no database connection free");
            timeouts++;
        }
        reply_close (&r[i]);
    }
    /*  One connection, a 150 ms wait limit, 500 ms naps. */
    ck_assert_int_eq (ok, 1);
    ck_assert_int_eq (timeouts, N - 1);
    ck_assert_uint_eq (counter_of ("query.pool.timeouts"), N - 1);
}
END_TEST

/* ---- reload ------------------------------------------------------------ */

static const char *const v2 =
    "-- name: version\n"
    "SELECT 2 AS v\n"
    "\n"
    "-- name: added\n"
    "SELECT 'new' AS a\n";

static int64_t
version_of (void)
{
    reply_t r;
    ck_assert_int_eq (run ("version", false, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    int64_t v = col_int (&row, "v");
    reply_close (&r);
    return v;
}

/*  A query is running on the pool (the gauge is set on the replica's
 *  thread; reading it here is an atomic load). */
static bool
pool_busy (void *arg)
{
    return hsn_gauge_get (hsn_metrics_gauge (metrics, "query.pool.in_use")) > 0;
}

START_TEST (reload_swaps_the_catalog_without_dropping_requests)
{
    /*  Every connection prepares v1's statement. */
    reply_t r[4];
    ck_assert_int_eq (version_of (), 1);
    nap_params (0.05);
    run_many ("nap", true, 2, r);
    reply_close (&r[0]);
    reply_close (&r[1]);

    /*  A nap in flight (v1) while the catalog changes under it. */
    zsock_t *d = zsock_new (ZMQ_DEALER);
    ck_assert_int_eq (zsock_connect (d, "tcp://127.0.0.1:%d",
                                     gateway_broker_port (hsn_rig_broker (rig))), 0);
    nap_params (0.3);
    encode (77, HSN_OP_QUERY_RUN, "nap", HSN_FIELD_PARAMS, true, -1);
    ck_assert_int_ge (zmq_send (zsock_resolve (d), hsn_enc_data (&enc), hsn_enc_size (&enc), 0),
                      0);
    ck_assert (hsn_wait_until (pool_busy, NULL, 5000));
    ck_assert_int_eq (hsn_write_file (qfile, v2), 0);
    char *answer = hsn_rig_command (rig, "RELOAD");
    ck_assert_str_eq (answer, "ok");
    zstr_free (&answer);
    zsock_set_rcvtimeo (d, CALL_MS);
    zmq_msg_init (&r[0].msg);
    ck_assert_int_ge (zmq_msg_recv (&r[0].msg, zsock_resolve (d), 0), 0);
    ck_assert_int_eq (hsn_env_decode (&r[0].env, zmq_msg_data (&r[0].msg),
                                      zmq_msg_size (&r[0].msg)), 0);
    ck_assert_int_eq (r[0].env.status, HSN_STATUS_OK);     /* finished with the old one */
    reply_close (&r[0]);
    zsock_destroy (&d);

    /*  New requests see v2, on every connection (re-prepared lazily). */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq (version_of (), 2);
    ck_assert_int_eq (run ("added", false, &r[0]), HSN_STATUS_OK);
    reply_close (&r[0]);
    ck_assert_int_eq (run ("nap", true, &r[0]), HSN_STATUS_NOT_FOUND);
    reply_close (&r[0]);

    /*  A bad file is refused; the catalog stays. */
    ck_assert_int_eq (hsn_write_file (qfile, "-- name: bad\nSELECT $2\n"), 0);
    answer = hsn_rig_command (rig, "RELOAD");
    ck_assert_msg (strstr (answer, "error:") && strstr (answer, "placeholder"), "%s", answer);
    zstr_free (&answer);
    ck_assert_int_eq (version_of (), 2);
    ck_assert_int_eq (run ("added", false, &r[0]), HSN_STATUS_OK);
    reply_close (&r[0]);
}
END_TEST

/* ---- ad-hoc SQL -------------------------------------------------------- */

START_TEST (adhoc_sql_is_read_only)
{
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT 40 + 2 AS answer, 'x'::text AS t", 0,
                            false, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "answer"), 42);
    ck_assert (!cached_of (&r));
    ck_assert (!hsn_env_has (&r.env, HSN_FIELD_TTL));
    reply_close (&r);

    /*  A write is refused before it reaches PostgreSQL... */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "INSERT INTO items (name, qty) VALUES ('x', 1)",
                            0, false, &r), HSN_STATUS_FORBIDDEN);
    message_has (&r, "may only read");
    reply_close (&r);
    /*  ... and one that looks like a read by the read-only transaction. */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT nextval('execs') AS n", 0, false, &r),
                      HSN_STATUS_FORBIDDEN);
    sqlstate_is (&r, "25006");
    reply_close (&r);

    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT 1; DELETE FROM items", 0, false, &r),
                      HSN_STATUS_BAD_REQUEST);
    message_has (&r, "one statement");
    reply_close (&r);
    /*  A ';' inside a string is not a second statement. */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT ';' AS semi;", 0, false, &r),
                      HSN_STATUS_OK);
    row = row0 (&r);
    col_str (&row, "semi", ";");
    reply_close (&r);

    /*  The client's own SQL errors are bad requests... */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT nonsense FROM", 0, false, &r),
                      HSN_STATUS_BAD_REQUEST);
    sqlstate_is (&r, "42601");
    reply_close (&r);
    /*  ... but what does not start as a read is not even sent. */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELEC nonsense", 0, false, &r),
                      HSN_STATUS_FORBIDDEN);
    message_has (&r, "may only read");
    reply_close (&r);

    /*  Under the statement timeout (300 ms here). */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT pg_sleep(5)", 0, false, &r),
                      HSN_STATUS_TIMEOUT);
    sqlstate_is (&r, "57014");
    reply_close (&r);

    /*  A SET is refused (it would be rolled back with its transaction). */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SET statement_timeout = 0", 0, false, &r),
                      HSN_STATUS_FORBIDDEN);
    reply_close (&r);
    for (int i = 0; i < 2; i++) {                            /* both connections */
        ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SHOW statement_timeout", 0, false, &r),
                          HSN_STATUS_OK);
        row = row0 (&r);
        col_str (&row, "statement_timeout", "300ms");
        reply_close (&r);
    }

    char *big = (char *) malloc (QUERY_SQL_MAX + 2);
    memset (big, ' ', QUERY_SQL_MAX + 1);
    memcpy (big, "SELECT 1", 8);
    big[QUERY_SQL_MAX + 1] = 0;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, big, 0, false, &r), HSN_STATUS_TOO_LARGE);
    reply_close (&r);
    free (big);

    /*  Nothing was written. */
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT count(*) AS n FROM items", 0, false, &r),
                      HSN_STATUS_OK);
    row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "n"), 0);
    reply_close (&r);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_cache");
    TCase *tc = tcase_create ("cache");
    tcase_add_checked_fixture (tc, setup_cache, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, repeat_is_served_from_cache_and_writes_invalidate);
    tcase_add_test (tc, identical_concurrent_misses_run_once);
    tcase_add_test (tc, cache_down_reads_run_uncached_and_writes_report);
    suite_add_tcase (s, tc);
    tc = tcase_create ("pool");
    tcase_add_checked_fixture (tc, setup_pool2, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, pool_exhaustion_waits_then_succeeds);
    tcase_add_test (tc, batch_members_run_concurrently);
    suite_add_tcase (s, tc);
    tc = tcase_create ("wait");
    tcase_add_checked_fixture (tc, setup_wait, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, waiting_past_the_deadline_is_a_timeout);
    suite_add_tcase (s, tc);
    tc = tcase_create ("reload");
    tcase_add_checked_fixture (tc, setup_reload, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, reload_swaps_the_catalog_without_dropping_requests);
    suite_add_tcase (s, tc);
    tc = tcase_create ("adhoc");
    tcase_add_checked_fixture (tc, setup_adhoc, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, adhoc_sql_is_read_only);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
