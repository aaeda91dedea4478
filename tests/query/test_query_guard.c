/*  query_service guards: ad-hoc SQL may not touch the pooled connections'
 *  session (prepared statements), a read sent after an answered write does
 *  not join a flight older than the write, and a result too large for a
 *  frame fails as TOO_LARGE without hurting the service. Fixture in
 *  query_test.h. */
#include "query_test.h"

#include <libpq-fe.h>

static const char *const schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
    "                    qty int NOT NULL);"
    "CREATE TABLE marks (v int NOT NULL); INSERT INTO marks VALUES (1);";

static const char *const queries =
    "-- name: put_item\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING name, qty;\n"
    "\n"
    "-- name: get_item\n"
    "-- params: name:text\n"
    "SELECT name, qty FROM items WHERE name = $1;\n"
    "\n"
    "-- name: gated\n"
    "-- Reads marks, then waits for advisory lock 42 while a test holds it.\n"
    "-- cache: 30\n"
    "-- tags: marks\n"
    "SELECT v FROM marks, pg_advisory_xact_lock_shared(42) AS g;\n"
    "\n"
    "-- name: set_mark\n"
    "-- params: v:int\n"
    "-- invalidates: marks\n"
    "UPDATE marks SET v = $1 RETURNING v;\n"
    "\n"
    "-- name: big\n"
    "-- params: n:int\n"
    "-- cache: 30\n"
    "SELECT g, repeat('x', 1000) AS s FROM generate_series(1, $1) AS g;\n";

/*  Rows of `big` needed to pass QUERY_ROWS_MAX: each packs to ~1010 bytes. */
#define BIG_ROWS 5000

static void
setup_adhoc (void)
{
    qt_opts_t o = { 2, 2000, 5000, 500, false, true, NULL };
    qt_start (schema, queries, &o);
}

static void
setup_adhoc1 (void)
{
    qt_opts_t o = { 1, 2000, 5000, 500, false, true, NULL };
    qt_start (schema, queries, &o);
}

static void
setup_cache (void)
{
    qt_opts_t o = { 3, 2000, 5000, 500, true, false, NULL };
    qt_start (schema, queries, &o);
}

static void
teardown (void)
{
    qt_stop ();
}

static void
int_param (const char *name, int64_t v)
{
    params_begin (1);
    pstr (name);
    msgpack_pack_int64 (&pk, v);
}

/*  get_item name answers OK with qty. */
static void
item_is (const char *name, int64_t qty)
{
    reply_t r;
    qt_item_params (name, -1);
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "qty"), qty);
    reply_close (&r);
}

/*  Integer column col of row 0 of ad-hoc sql, which must answer OK. */
static int64_t
adhoc_col (const char *sql, const char *col)
{
    reply_t r;
    ck_assert_msg (call (HSN_OP_QUERY_SQL, sql, 0, false, &r) == HSN_STATUS_OK, "'%s' answered %s",
                   sql, hsn_status_name (r.env.status));
    hsn_mp_obj_t row = row0 (&r);
    int64_t n = col_int (&row, col);
    reply_close (&r);
    return n;
}

static int64_t
adhoc_n (const char *sql)
{
    return adhoc_col (sql, "n");
}

/* ---- ad-hoc SQL and the pooled session ------------------------------------ */

START_TEST (adhoc_session_commands_are_refused)
{
    reply_t r;
    qt_item_params ("a", 1);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    for (int i = 0; i < 2; i++)
        item_is ("a", 1);

    static const char *const refused[] = {
        "DEALLOCATE ALL",
        "deallocate s1",
        "PREPARE s1 AS DELETE FROM items",
        "/* a comment first */ prepare s0 (text, int) AS SELECT $1, $2",
        "EXECUTE s1 ('a')",
        "SET statement_timeout = 0",
        "RESET ALL",
        "DISCARD ALL",
        "LISTEN somewhere",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "COPY items TO STDOUT",
        "DO $$BEGIN END$$",
        "BEGIN",
        "COMMIT",
        "LOCK items",
        "WITH x AS (SELECT 1) DELETE FROM items",
        "(DELETE FROM items)",
        NULL
    };
    for (int i = 0; refused[i]; i++) {
        ck_assert_msg (call (HSN_OP_QUERY_SQL, refused[i], 0, false, &r) == HSN_STATUS_FORBIDDEN,
                       "'%s' answered %s", refused[i], hsn_status_name (r.env.status));
        message_has (&r, "may only read");
        reply_close (&r);
    }
    /*  The statements are still the catalog's, on both connections. */
    ck_assert_int_eq (adhoc_n ("SELECT count(*) AS n FROM items"), 1);
    for (int i = 0; i < 2; i++)
        item_is ("a", 1);
    qt_item_params ("b", 2);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    item_is ("b", 2);
    /*  Reads of every form still run. */
    ck_assert_int_eq (adhoc_n ("  (SELECT 2 AS n)"), 2);
    ck_assert_int_eq (adhoc_n ("WITH t AS (SELECT 3 AS n) SELECT n FROM t"), 3);
    ck_assert_int_eq (adhoc_col ("VALUES (4)", "column1"), 4);
    ck_assert_int_eq (adhoc_col ("TABLE marks", "v"), 1);
    reply_t s;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SHOW statement_timeout", 0, false, &s),
                      HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&s);
    col_str (&row, "statement_timeout", "2s");
    reply_close (&s);
}
END_TEST

START_TEST (a_connection_that_ran_adhoc_sql_prepares_again)
{
    /*  One connection: it prepares get_item and put_item. */
    reply_t r;
    qt_item_params ("a", 1);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    item_is ("a", 1);
    const char *count = "SELECT count(*) AS n FROM pg_prepared_statements";
    ck_assert_int_eq (adhoc_n (count), 2);
    /*  After ad-hoc SQL the next catalog job starts from DEALLOCATE ALL:
     *  only what it prepared itself is left. */
    item_is ("a", 1);
    ck_assert_int_eq (adhoc_n (count), 1);
    ck_assert_int_eq (adhoc_n ("SELECT count(*) AS n FROM pg_prepared_statements "
                               "WHERE name = 's1'"), 1);
    item_is ("a", 1);
}
END_TEST

/* ---- single flight after a write ------------------------------------------ */

static PGconn *gate;

static void
gate_exec (const char *sql)
{
    PGresult *res = PQexec (gate, sql);
    ck_assert_msg (PQresultStatus (res) == PGRES_TUPLES_OK, "%s: %s", sql,
                   PQerrorMessage (gate));
    PQclear (res);
}

/*  arg (an int) sessions wait for the advisory lock. */
static bool
lock_waiters (void *arg)
{
    PGresult *res = PQexec (gate, "SELECT count(*) FROM pg_locks "
                                  "WHERE locktype = 'advisory' AND NOT granted");
    bool ok = PQresultStatus (res) == PGRES_TUPLES_OK
              && atoi (PQgetvalue (res, 0, 0)) == (int) (intptr_t) arg;
    PQclear (res);
    return ok;
}

static void
send_gated (zsock_t *d, uint64_t rid)
{
    encode (rid, HSN_OP_QUERY_RUN, "gated", HSN_FIELD_PARAMS, false, -1);
    ck_assert_int_ge (zmq_send (zsock_resolve (d), hsn_enc_data (&enc), hsn_enc_size (&enc), 0),
                      0);
}

/*  The next reply on d (to rid 1 or 2, in any order): v[rid] = its v. */
static void
gated_v (zsock_t *d, int64_t v[3])
{
    reply_t r;
    zmq_msg_init (&r.msg);
    ck_assert_int_ge (zmq_msg_recv (&r.msg, zsock_resolve (d), 0), 0);
    ck_assert_int_eq (hsn_env_decode (&r.env, zmq_msg_data (&r.msg), zmq_msg_size (&r.msg)), 0);
    ck_assert (r.env.rid == 1 || r.env.rid == 2);
    ck_assert_int_eq (r.env.status, HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    v[r.env.rid] = col_int (&row, "v");
    reply_close (&r);
}

START_TEST (a_read_after_a_write_does_not_join_an_older_flight)
{
    gate = PQconnectdb (hsn_pg_url (pg));
    ck_assert_int_eq (PQstatus (gate), CONNECTION_OK);
    gate_exec ("SELECT pg_advisory_lock(42)");
    zsock_t *d = zsock_new (ZMQ_DEALER);
    ck_assert_ptr_nonnull (d);
    ck_assert_int_eq (zsock_connect (d, "tcp://127.0.0.1:%d",
                                     gateway_broker_port (hsn_rig_broker (rig))), 0);
    zsock_set_rcvtimeo (d, CALL_MS);

    /*  Read 1 has its snapshot (v = 1) and waits for the lock. */
    send_gated (d, 1);
    ck_assert_msg (hsn_wait_until (lock_waiters, (void *) 1, 5000), "read 1 never blocked");
    uint64_t coalesced = counter_of ("query.cache.coalesced");
    /*  A write answers meanwhile. */
    reply_t r;
    int_param ("v", 2);
    ck_assert_int_eq (run ("set_mark", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    /*  Read 2, sent after that answer, is a flight of its own. */
    send_gated (d, 2);
    ck_assert_msg (hsn_wait_until (lock_waiters, (void *) 2, 5000),
                   "read 2 joined the flight older than the write");
    ck_assert_uint_eq (counter_of ("query.cache.coalesced"), coalesced);

    gate_exec ("SELECT pg_advisory_unlock(42)");
    int64_t v[3] = { 0, 0, 0 };
    gated_v (d, v);
    gated_v (d, v);
    ck_assert_int_eq (v[1], 1);                     /* its snapshot predates the write */
    ck_assert_int_eq (v[2], 2);
    /*  Read 1's result was not stored over the write: v = 2 from now on. */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (run ("gated", false, &r), HSN_STATUS_OK);
        hsn_mp_obj_t row = row0 (&r);
        ck_assert_int_eq (col_int (&row, "v"), 2);
        reply_close (&r);
    }
    zsock_destroy (&d);
    PQfinish (gate);
    gate = NULL;
}
END_TEST

/* ---- result size ------------------------------------------------------------ */

static void
limit_named (const reply_t *r)
{
    char limit[32];
    snprintf (limit, sizeof limit, "%d byte limit", QUERY_ROWS_MAX);
    message_has (r, limit);
}

/*  A batch of `big` members with these row counts. */
static void
big_batch (const int *n, int count)
{
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, (size_t) count);
    for (int i = 0; i < count; i++) {
        msgpack_pack_map (&pk, 2);
        pstr ("name");
        pstr ("big");
        pstr ("params");
        msgpack_pack_map (&pk, 1);
        pstr ("n");
        msgpack_pack_int64 (&pk, n[i]);
    }
}

START_TEST (an_oversized_result_is_too_large_and_not_cached)
{
    reply_t r;
    uint64_t hits = counter_of ("query.cache.hits");
    for (int i = 0; i < 2; i++) {                           /* not served from cache */
        int_param ("n", BIG_ROWS);
        ck_assert_int_eq (run ("big", true, &r), HSN_STATUS_TOO_LARGE);
        message_has (&r, "query 'big'");
        limit_named (&r);
        reply_close (&r);
    }
    ck_assert_uint_eq (counter_of ("query.cache.hits"), hits);

    /*  Identical requests in flight together all get the failure. */
    reply_t many[3];
    int_param ("n", BIG_ROWS);
    run_many ("big", true, 3, many);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (many[i].env.status, HSN_STATUS_TOO_LARGE);
        reply_close (&many[i]);
    }

    /*  In a batch, the oversized member fails alone... */
    big_batch ((const int[]) { BIG_ROWS, 3 }, 2);
    ck_assert_int_eq (call (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, &r), HSN_STATUS_OK);
    const hsn_mp_obj_t *res = &r.env.fields[HSN_FIELD_RESULT];
    hsn_mp_obj_t m = at (res, 0);
    hsn_mp_obj_t v = get (&m, "status");
    ck_assert_uint_eq (v.v.u, HSN_STATUS_TOO_LARGE);
    m = at (res, 1);
    v = get (&m, "status");
    ck_assert_uint_eq (v.v.u, HSN_STATUS_OK);
    v = get (&m, "count");
    ck_assert_uint_eq (v.v.u, 3);
    reply_close (&r);
    /*  ... and members each under the limit but over it together fail the
     *  batch. */
    big_batch ((const int[]) { BIG_ROWS / 3, BIG_ROWS / 3 + 1, BIG_ROWS / 3 + 2 }, 3);
    ck_assert_int_eq (call (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, &r),
                      HSN_STATUS_TOO_LARGE);
    message_has (&r, "batch");
    limit_named (&r);
    reply_close (&r);

    /*  The service is fine: results under the limit are answered. */
    int_param ("n", 10);
    ck_assert_int_eq (run ("big", true, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), 10);
    reply_close (&r);
    int_param ("n", BIG_ROWS / 3);
    ck_assert_int_eq (run ("big", true, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), BIG_ROWS / 3);
    reply_close (&r);
}
END_TEST

START_TEST (an_oversized_adhoc_result_is_too_large)
{
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT repeat('x', 1000) AS s "
                            "FROM generate_series(1, 5000)", 0, false, &r),
                      HSN_STATUS_TOO_LARGE);
    limit_named (&r);
    reply_close (&r);
    ck_assert_int_eq (adhoc_n ("SELECT 5 AS n"), 5);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_guard");
    TCase *tc = tcase_create ("adhoc");
    tcase_add_checked_fixture (tc, setup_adhoc, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, adhoc_session_commands_are_refused);
    tcase_add_test (tc, an_oversized_adhoc_result_is_too_large);
    suite_add_tcase (s, tc);
    tc = tcase_create ("adhoc1");
    tcase_add_checked_fixture (tc, setup_adhoc1, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, a_connection_that_ran_adhoc_sql_prepares_again);
    suite_add_tcase (s, tc);
    tc = tcase_create ("cache");
    tcase_add_checked_fixture (tc, setup_cache, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, a_read_after_a_write_does_not_join_an_older_flight);
    tcase_add_test (tc, an_oversized_result_is_too_large_and_not_cached);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
