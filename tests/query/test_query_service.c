/*  query_service end to end: a real PostgreSQL (killed and restarted by the
 *  tests), a real broker (tcp for the replica, inproc for the client), and
 *  the handler in an hsn_worker on its own thread (query_test.h). The
 *  result cache, concurrency, reload and ad-hoc SQL are in
 *  test_query_cache.c. */
#include "query_test.h"

#define TIMEOUT_MS  200

static const char *const test_schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
    "                    qty int NOT NULL CHECK (qty >= 0));";

static const char *const test_queries =
    "-- name: echo\n"
    "-- params: i:int, f:float, t:text, b:bool, j:json, ts:timestamp, n:numeric, by:bytea\n"
    "SELECT $1::int8 AS i8, $2::float8 AS f8, $3::text AS t, $4::bool AS b, $5::json AS j,\n"
    "       $6::timestamptz AS tstz, $7::numeric AS n, $8::bytea AS by,\n"
    "       (-3)::int2 AS i2, 2147483647::int4 AS i4, 1.5::float4 AS f4, 'vc'::varchar AS v,\n"
    "       'nm'::name AS nm, '{\"a\":  [1, 2]}'::jsonb AS jb,\n"
    "       '2024-02-29 13:14:15.5'::timestamp AS ts, '2024-02-29'::date AS d,\n"
    "       12345678901234567890.123456789::numeric AS big, NULL::int AS nul,\n"
    "       '11111111-2222-3333-4444-555555555555'::uuid AS u,\n"
    "       '{\"big\": 123456789012345678901234, \"f\": 1.5, \"neg\": -2, \"t\": true,\n"
    "         \"z\": null, \"s\": \"\\u00e9\"}'::json AS jx,\n"
    "       (repeat('[', 25) || repeat(']', 25))::jsonb AS deep\n"
    "\n"
    "-- name: put_item\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING name, qty;\n"
    "\n"
    "-- name: get_item\n"
    "-- params: name:text\n"
    "-- cache: 30\n"
    "SELECT name, qty FROM items WHERE name = $1;\n"
    "\n"
    "-- name: count_items\n"
    "SELECT count(*) AS n FROM items\n"
    "\n"
    "-- name: divide\n"
    "-- params: a:int, b:int\n"
    "SELECT $1::int / $2::int AS q\n"
    "\n"
    "-- name: nap\n"
    "-- params: s:float\n"
    "SELECT pg_sleep($1) AS slept\n"
    "\n"
    "-- name: broken\n"
    "SELECT * FROM no_such_table\n";

static char *demo_schema, *demo_queries;

static void
setup (void)
{
    qt_opts_t o = { 3, TIMEOUT_MS, 5000, 500, false, false, NULL };
    qt_start (test_schema, test_queries, &o);
}

static void
setup_demo (void)
{
    demo_schema = hsn_read_file ("deploy/docker/initdb/01-schema.sql", NULL);
    demo_queries = hsn_read_file ("deploy/queries.sql", NULL);
    ck_assert_ptr_nonnull (demo_schema);
    ck_assert_ptr_nonnull (demo_queries);
    qt_opts_t o = { 3, TIMEOUT_MS, 5000, 500, false, false, NULL };
    qt_start (demo_schema, demo_queries, &o);
}

static void
teardown (void)
{
    qt_stop ();
    free (demo_schema);
    free (demo_queries);
    demo_schema = demo_queries = NULL;
}

static void
item_params (const char *name, int64_t qty)
{
    params_begin (2);
    pstr ("name");
    pstr (name);
    pstr ("qty");
    msgpack_pack_int64 (&pk, qty);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST (list_shows_the_catalog)
{
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_LIST, NULL, 0, false, &r), HSN_STATUS_OK);
    const hsn_mp_obj_t *list = &r.env.fields[HSN_FIELD_RESULT];
    ck_assert_uint_eq (list->v.c.count, 7);
    hsn_mp_obj_t q = at (list, 1);
    col_str (&q, "name", "put_item");
    hsn_mp_obj_t w = get (&q, "writes");
    ck_assert_int_eq (w.type, HSN_MP_BOOL);
    ck_assert (w.v.b);
    hsn_mp_obj_t params = get (&q, "params");
    hsn_mp_obj_t p1 = at (&params, 1);
    col_str (&p1, "name", "qty");
    col_str (&p1, "type", "int");
    hsn_mp_obj_t inv = get (&q, "invalidates");
    hsn_mp_obj_t tag = at (&inv, 0);
    str_is (&tag, "items");
    q = at (list, 2);
    hsn_mp_obj_t cache = get (&q, "cache");
    ck_assert_uint_eq (cache.v.u, 30);
    w = get (&q, "writes");
    ck_assert (!w.v.b);
    hsn_mp_obj_t tags = get (&q, "tags");                     /* derived: FROM items */
    ck_assert_uint_eq (tags.v.c.count, 1);
    tag = at (&tags, 0);
    str_is (&tag, "items");
    reply_close (&r);
}
END_TEST

static void
echo_params (int64_t i, const char *t)
{
    static const uint8_t bytes[] = { 0x00, 0xff, 0x10 };
    params_begin (8);
    pstr ("i");
    msgpack_pack_int64 (&pk, i);
    pstr ("f");
    msgpack_pack_double (&pk, 2.5);
    pstr ("t");
    if (t)
        pstr (t);
    else
        msgpack_pack_nil (&pk);
    pstr ("b");
    msgpack_pack_true (&pk);
    pstr ("j");
    pstr ("{\"k\": [1, \"x\"]}");
    pstr ("ts");
    pstr ("2024-02-29T13:14:15.5+02:00");
    pstr ("n");
    pstr ("3.14159265358979323846264338327950288");
    pstr ("by");
    msgpack_pack_bin (&pk, sizeof bytes);
    msgpack_pack_bin_body (&pk, bytes, sizeof bytes);
}

START_TEST (types_bind_and_map_by_column_type)
{
    reply_t r;
    echo_params (-9007199254740993LL, "h\xc3\xa9llo");
    ck_assert_int_eq (run ("echo", true, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), 1);
    hsn_mp_obj_t row = row0 (&r);
    ck_assert_uint_eq (row.v.c.count, 21);
    hsn_mp_obj_t v = get (&row, "i8");
    ck_assert_int_eq (v.type, HSN_MP_INT);
    ck_assert_int_eq (v.v.i, -9007199254740993LL);
    v = get (&row, "f8");
    ck_assert_int_eq (v.type, HSN_MP_FLOAT);
    ck_assert (v.v.f == 2.5);
    col_str (&row, "t", "h\xc3\xa9llo");
    v = get (&row, "b");
    ck_assert_int_eq (v.type, HSN_MP_BOOL);
    ck_assert (v.v.b);
    /*  json and jsonb are embedded as msgpack, not strings. */
    v = get (&row, "j");
    hsn_mp_obj_t k = get (&v, "k");
    ck_assert_uint_eq (k.v.c.count, 2);
    hsn_mp_obj_t e = at (&k, 0);
    ck_assert_int_eq (e.type, HSN_MP_UINT);
    ck_assert_uint_eq (e.v.u, 1);
    e = at (&k, 1);
    str_is (&e, "x");
    col_str (&row, "tstz", "2024-02-29T11:14:15.5Z");          /* in UTC */
    col_str (&row, "n", "3.14159265358979323846264338327950288");
    col_str (&row, "by", "AP8Q");                              /* base64 of 00 ff 10 */
    v = get (&row, "i2");
    ck_assert_int_eq (v.type, HSN_MP_INT);
    ck_assert_int_eq (v.v.i, -3);
    v = get (&row, "i4");
    ck_assert_int_eq (v.type, HSN_MP_UINT);
    ck_assert_uint_eq (v.v.u, 2147483647);
    v = get (&row, "f4");
    ck_assert_int_eq (v.type, HSN_MP_FLOAT);
    ck_assert (v.v.f == 1.5);
    col_str (&row, "v", "vc");
    col_str (&row, "nm", "nm");
    v = get (&row, "jb");
    k = get (&v, "a");
    e = at (&k, 1);
    ck_assert_uint_eq (e.v.u, 2);
    v = get (&row, "jx");
    col_str (&v, "big", "123456789012345678901234");          /* beyond int64: digits */
    e = get (&v, "f");
    ck_assert_int_eq (e.type, HSN_MP_FLOAT);
    ck_assert (e.v.f == 1.5);
    e = get (&v, "neg");
    ck_assert_int_eq (e.type, HSN_MP_INT);
    ck_assert_int_eq (e.v.i, -2);
    e = get (&v, "t");
    ck_assert_int_eq (e.type, HSN_MP_BOOL);
    e = get (&v, "z");
    ck_assert_int_eq (e.type, HSN_MP_NIL);
    col_str (&v, "s", "\xc3\xa9");
    /*  Deeper than the envelope allows once embedded: kept as text. */
    v = get (&row, "deep");
    ck_assert_int_eq (v.type, HSN_MP_STR);
    ck_assert_int_eq (v.v.s.ptr[0], '[');
    col_str (&row, "ts", "2024-02-29T13:14:15.5");
    col_str (&row, "d", "2024-02-29");
    col_str (&row, "big", "12345678901234567890.123456789");  /* no precision lost */
    v = get (&row, "nul");
    ck_assert_int_eq (v.type, HSN_MP_NIL);
    col_str (&row, "u", "11111111-2222-3333-4444-555555555555");
    reply_close (&r);

    /*  nil binds SQL NULL. */
    echo_params (7, NULL);
    ck_assert_int_eq (run ("echo", true, &r), HSN_STATUS_OK);
    row = row0 (&r);
    v = get (&row, "t");
    ck_assert_int_eq (v.type, HSN_MP_NIL);
    v = get (&row, "i8");
    ck_assert_uint_eq (v.v.u, 7);
    reply_close (&r);

    /*  Floats accept integers; numeric accepts numbers. */
    params_begin (2);
    pstr ("a");
    msgpack_pack_int (&pk, 7);
    pstr ("b");
    msgpack_pack_int (&pk, 2);
    ck_assert_int_eq (run ("divide", true, &r), HSN_STATUS_OK);
    row = row0 (&r);
    v = get (&row, "q");
    ck_assert_uint_eq (v.v.u, 3);
    reply_close (&r);
}
END_TEST

START_TEST (missing_or_mistyped_parameters_are_bad_requests)
{
    reply_t r;
    params_begin (1);
    pstr ("name");
    pstr ("a");
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_BAD_REQUEST);
    message_has (&r, "missing parameter 'qty'");
    reply_close (&r);

    ck_assert_int_eq (run ("put_item", false, &r), HSN_STATUS_BAD_REQUEST);
    message_has (&r, "missing parameter 'name'");
    reply_close (&r);

    params_begin (2);
    pstr ("name");
    pstr ("a");
    pstr ("qty");
    pstr ("five");
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_BAD_REQUEST);
    message_has (&r, "parameter 'qty' must be int, got str");
    reply_close (&r);

    params_begin (2);
    pstr ("name");
    msgpack_pack_int (&pk, 5);
    pstr ("qty");
    msgpack_pack_double (&pk, 1.5);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_BAD_REQUEST);
    message_has (&r, "parameter 'name' must be text, got int");
    reply_close (&r);

    params_begin (3);
    pstr ("name");
    pstr ("a");
    pstr ("qty");
    msgpack_pack_int (&pk, 1);
    pstr ("evil");
    pstr ("x");
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_BAD_REQUEST);
    message_has (&r, "no parameter 'evil'");
    reply_close (&r);

    /*  A value PostgreSQL rejects (division by zero): class 22. */
    params_begin (2);
    pstr ("a");
    msgpack_pack_int (&pk, 1);
    pstr ("b");
    msgpack_pack_int (&pk, 0);
    ck_assert_int_eq (run ("divide", true, &r), HSN_STATUS_BAD_REQUEST);
    sqlstate_is (&r, "22012");
    reply_close (&r);

    /*  Nothing was written. */
    ck_assert_int_eq (run ("count_items", false, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    hsn_mp_obj_t n = get (&row, "n");
    ck_assert_uint_eq (n.v.u, 0);
    reply_close (&r);
}
END_TEST

START_TEST (unknown_query_and_operation)
{
    reply_t r;
    ck_assert_int_eq (run ("no_such_query", false, &r), HSN_STATUS_NOT_FOUND);
    message_has (&r, "no_such_query");
    reply_close (&r);
    ck_assert_int_eq (run (NULL, false, &r), HSN_STATUS_BAD_REQUEST);
    reply_close (&r);
    ck_assert_int_eq (call (HSN_OP_CODE (QUERY, 99), NULL, 0, false, &r), HSN_STATUS_UNKNOWN_OP);
    reply_close (&r);
    /*  A statement whose table does not exist: class 42, internal. */
    ck_assert_int_eq (run ("broken", false, &r), HSN_STATUS_INTERNAL);
    sqlstate_is (&r, "42P01");
    reply_close (&r);
}
END_TEST

START_TEST (unique_violation_is_a_conflict)
{
    reply_t r;
    item_params ("widget", 3);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), 1);
    hsn_mp_obj_t row = row0 (&r);
    col_str (&row, "name", "widget");
    reply_close (&r);
    item_params ("widget", 4);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_CONFLICT);
    sqlstate_is (&r, "23505");
    message_has (&r, "duplicate key");
    reply_close (&r);
    item_params ("gadget", -1);                         /* CHECK (qty >= 0) */
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_CONFLICT);
    sqlstate_is (&r, "23514");
    reply_close (&r);
    uint64_t *e23 = hsn_metrics_counter (metrics, "query.errors.23");
    ck_assert_uint_eq (hsn_counter_get (e23), 2);
    hsn_hist_t *lat = hsn_metrics_hist (metrics, "query.put_item.latency_us");
    ck_assert_uint_eq (lat->count, 3);
    ck_assert_uint_eq (hsn_metrics_hist (metrics, "query.pool.wait_us")->count, 3);
}
END_TEST

START_TEST (statement_timeout_is_a_timeout)
{
    reply_t r;
    params_begin (1);
    pstr ("s");
    msgpack_pack_double (&pk, 2.0);
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (run ("nap", true, &r), HSN_STATUS_TIMEOUT);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_msg (took >= TIMEOUT_MS && took < 1500, "took %lld ms", (long long) took);
    sqlstate_is (&r, "57014");
    reply_close (&r);
    /*  The connection is still good. */
    params_begin (1);
    pstr ("s");
    msgpack_pack_int (&pk, 0);
    ck_assert_int_eq (run ("nap", true, &r), HSN_STATUS_OK);
    reply_close (&r);
}
END_TEST

START_TEST (injection_strings_are_plain_data)
{
    static const char *const evil[] = {
        "x'); DROP TABLE items; --",
        "Robert'); DROP TABLE students;--",
        "' OR '1'='1",
        "$1 $$ $x$ \\ \" ; --",
        "a\\'b",
    };
    reply_t r;
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        item_params (evil[i], (int64_t) i);
        ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
        reply_close (&r);
    }
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        params_begin (1);
        pstr ("name");
        pstr (evil[i]);
        ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
        ck_assert_uint_eq (count_of (&r), 1);
        ck_assert (!cached_of (&r));
        uint64_t ttl;
        ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
        ck_assert_uint_eq (ttl, 30);
        hsn_mp_obj_t row = row0 (&r);
        col_str (&row, "name", evil[i]);
        reply_close (&r);
    }
    ck_assert_int_eq (run ("count_items", false, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    hsn_mp_obj_t n = get (&row, "n");
    ck_assert_uint_eq (n.v.u, 5);
    reply_close (&r);
}
END_TEST

static void
member (const char *name, const char *item, int qty)
{
    msgpack_pack_map (&pk, item ? 2 : 1);
    pstr ("name");
    pstr (name);
    if (item) {
        pstr ("params");
        msgpack_pack_map (&pk, qty >= 0 ? 2 : 1);
        pstr ("name");
        pstr (item);
        if (qty >= 0) {
            pstr ("qty");
            msgpack_pack_int (&pk, qty);
        }
    }
}

static uint64_t
member_status (const hsn_mp_obj_t *results, uint32_t i)
{
    hsn_mp_obj_t m = at (results, i);
    hsn_mp_obj_t st = get (&m, "status");
    return st.v.u;
}

START_TEST (batch_members_fail_alone)
{
    /*  Members run concurrently, in no particular order: each one's outcome
     *  here does not depend on another's. */
    reply_t r;
    item_params ("a", 1);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    reply_close (&r);
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 6);
    member ("put_item", "b", 1);
    member ("put_item", "a", 2);                /* duplicate: conflict */
    member ("get_item", "a", -1);
    member ("nope", NULL, 0);
    msgpack_pack_int (&pk, 42);                 /* not a map */
    member ("put_item", "c", 2);
    ck_assert_int_eq (call (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, &r), HSN_STATUS_OK);
    const hsn_mp_obj_t *res = &r.env.fields[HSN_FIELD_RESULT];
    ck_assert_uint_eq (res->v.c.count, 6);
    ck_assert_uint_eq (member_status (res, 0), HSN_STATUS_OK);
    ck_assert_uint_eq (member_status (res, 1), HSN_STATUS_CONFLICT);
    hsn_mp_obj_t m = at (res, 1);
    col_str (&m, "sqlstate", "23505");
    col_str (&m, "code", "conflict");
    ck_assert_uint_eq (member_status (res, 2), HSN_STATUS_OK);
    m = at (res, 2);
    hsn_mp_obj_t rows = get (&m, "rows");
    hsn_mp_obj_t row = at (&rows, 0);
    hsn_mp_obj_t qty = get (&row, "qty");
    ck_assert_uint_eq (qty.v.u, 1);
    hsn_mp_obj_t c = get (&m, "cached");
    ck_assert_int_eq (c.type, HSN_MP_BOOL);
    ck_assert (!c.v.b);                                     /* no cache service here */
    c = get (&m, "ttl");
    ck_assert_uint_eq (c.v.u, 30);
    ck_assert_uint_eq (member_status (res, 3), HSN_STATUS_NOT_FOUND);
    ck_assert_uint_eq (member_status (res, 4), HSN_STATUS_BAD_REQUEST);
    ck_assert_uint_eq (member_status (res, 5), HSN_STATUS_OK);
    reply_close (&r);
    ck_assert_int_eq (run ("count_items", false, &r), HSN_STATUS_OK);
    row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "n"), 3);
    reply_close (&r);

    /*  An empty batch is a bad request as a whole. */
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 0);
    ck_assert_int_eq (call (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, &r),
                      HSN_STATUS_BAD_REQUEST);
    reply_close (&r);
}
END_TEST

static bool
item_count_ok (void *arg)
{
    reply_t r;
    int st = run ("count_items", false, &r);
    reply_close (&r);
    if (st != HSN_STATUS_OK)
        ck_assert_int_eq (st, HSN_STATUS_UNAVAILABLE);
    return st == HSN_STATUS_OK;
}

START_TEST (postgresql_restart_heals_without_a_restart)
{
    reply_t r;
    item_params ("kept", 1);
    ck_assert_int_eq (run ("put_item", true, &r), HSN_STATUS_OK);
    reply_close (&r);

    char *st = check ();
    ck_assert_str_eq (st, "up");
    zstr_free (&st);
    ck_assert_int_eq (hsn_pg_kill (pg, SIGKILL), 0);
    /*  The probe notices it before any request does. */
    st = check ();
    ck_assert_str_eq (st, "down");
    zstr_free (&st);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (run ("count_items", false, &r), HSN_STATUS_UNAVAILABLE);
        message_has (&r, "PostgreSQL unavailable");
        reply_close (&r);
    }
    ck_assert_int_eq (hsn_pg_restart (pg), 0);
    /*  Backoff is at most 2 s: healed well within 6. */
    ck_assert_msg (hsn_wait_until (item_count_ok, NULL, 6000), "never healed");
    params_begin (1);
    pstr ("name");
    pstr ("kept");
    ck_assert_int_eq (run ("get_item", true, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), 1);
    reply_close (&r);
    ck_assert_uint_ge (hsn_counter_get (hsn_metrics_counter (metrics, "query.errors.conn")), 3);
    st = check ();
    ck_assert_str_eq (st, "up");
    zstr_free (&st);
}
END_TEST

START_TEST (demo_catalog_runs_on_demo_schema)
{
    reply_t r;
    params_begin (1);
    pstr ("id");
    msgpack_pack_int (&pk, 1);
    ck_assert_int_eq (run ("user_by_id", true, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    col_str (&row, "email", "ann@example.com");
    hsn_mp_obj_t profile = get (&row, "profile");
    col_str (&profile, "plan", "pro");
    reply_close (&r);

    params_begin (3);
    pstr ("email");
    pstr ("dee@example.com");
    pstr ("name");
    pstr ("Dee");
    pstr ("profile");
    pstr ("{\"plan\": \"free\"}");
    ck_assert_int_eq (run ("user_create", true, &r), HSN_STATUS_OK);
    row = row0 (&r);
    hsn_mp_obj_t id = get (&row, "id");
    ck_assert_uint_eq (id.v.u, 4);
    reply_close (&r);

    params_begin (2);
    pstr ("user_id");
    msgpack_pack_int (&pk, 4);
    pstr ("total");
    pstr ("10.50");
    ck_assert_int_eq (run ("order_create", true, &r), HSN_STATUS_OK);
    row = row0 (&r);
    col_str (&row, "total", "10.50");
    reply_close (&r);

    ck_assert_int_eq (run ("user_order_totals", false, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (count_of (&r), 4);
    reply_close (&r);
}
END_TEST


START_TEST (readonly_refuses_writes)
{
    reply_t r;
    item_params ("ro", 1);
    ck_assert_int_eq (call_ro (HSN_OP_QUERY_RUN, "put_item", HSN_FIELD_PARAMS, true, 1, &r),
                      HSN_STATUS_BAD_REQUEST);
    message_has (&r, "query put_item writes; use POST");
    reply_close (&r);
    ck_assert_int_eq (call_ro (HSN_OP_QUERY_RUN, "count_items", 0, false, 1, &r), HSN_STATUS_OK);
    hsn_mp_obj_t row = row0 (&r);
    ck_assert_int_eq (col_int (&row, "n"), 0);              /* nothing was written */
    reply_close (&r);
    /*  readonly false (or absent) lets the write through. */
    ck_assert_int_eq (call_ro (HSN_OP_QUERY_RUN, "put_item", HSN_FIELD_PARAMS, true, 0, &r),
                      HSN_STATUS_OK);
    reply_close (&r);
    /*  In a batch, per member. */
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_map (&pk, 1);
    pstr ("name");
    pstr ("count_items");
    msgpack_pack_map (&pk, 2);
    pstr ("name");
    pstr ("put_item");
    pstr ("params");
    msgpack_pack_map (&pk, 2);
    pstr ("name");
    pstr ("ro2");
    pstr ("qty");
    msgpack_pack_int (&pk, 1);
    ck_assert_int_eq (call_ro (HSN_OP_QUERY_BATCH, NULL, HSN_FIELD_BATCH, true, 1, &r),
                      HSN_STATUS_OK);
    const hsn_mp_obj_t *res = &r.env.fields[HSN_FIELD_RESULT];
    ck_assert_uint_eq (member_status (res, 0), HSN_STATUS_OK);
    ck_assert_uint_eq (member_status (res, 1), HSN_STATUS_BAD_REQUEST);
    reply_close (&r);
}
END_TEST

START_TEST (adhoc_sql_is_refused_by_default)
{
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_QUERY_SQL, "SELECT 1", 0, false, &r), HSN_STATUS_FORBIDDEN);
    message_has (&r, "QUERY_ALLOW_ADHOC");
    reply_close (&r);
}
END_TEST

static bool
nap_params (double s)
{
    params_begin (1);
    pstr ("s");
    msgpack_pack_double (&pk, s);
    return true;
}

/*  Queries in flight when PostgreSQL dies each get an answer (UNAVAILABLE,
 *  or OK for one that finished first) -- none is lost or hangs -- and the
 *  service heals once it is back. */
START_TEST (postgresql_killed_under_load_heals)
{
    enum { N = 6 };
    reply_t r[N];
    nap_params (0.15);          /* under the 200 ms statement timeout */
    zsock_t *d = zsock_new (ZMQ_DEALER);
    ck_assert_int_eq (zsock_connect (d, "tcp://127.0.0.1:%d",
                                     gateway_broker_port (hsn_rig_broker (rig))), 0);
    for (int i = 0; i < N; i++) {
        encode (500 + i, HSN_OP_QUERY_RUN, "nap", HSN_FIELD_PARAMS, true, -1);
        ck_assert_int_ge (zmq_send (zsock_resolve (d), hsn_enc_data (&enc), hsn_enc_size (&enc),
                                    0), 0);
    }
    ck_assert_int_eq (hsn_pg_kill (pg, SIGKILL), 0);
    zsock_set_rcvtimeo (d, CALL_MS);
    for (int i = 0; i < N; i++) {
        zmq_msg_init (&r[i].msg);
        ck_assert_msg (zmq_msg_recv (&r[i].msg, zsock_resolve (d), 0) >= 0, "reply %d lost", i);
        ck_assert_int_eq (hsn_env_decode (&r[i].env, zmq_msg_data (&r[i].msg),
                                          zmq_msg_size (&r[i].msg)), 0);
        ck_assert (r[i].env.status == HSN_STATUS_OK
                   || r[i].env.status == HSN_STATUS_UNAVAILABLE);
        reply_close (&r[i]);
    }
    zsock_destroy (&d);
    ck_assert_int_eq (hsn_pg_restart (pg), 0);
    ck_assert_msg (hsn_wait_until (item_count_ok, NULL, 6000), "never healed");
    /*  Every connection works again, not just one: a full pool of naps. */
    nap_params (0.01);
    run_many ("nap", true, 6, r);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq (r[i].env.status, HSN_STATUS_OK);
        reply_close (&r[i]);
    }
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_service");
    TCase *tc = tcase_create ("query");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, list_shows_the_catalog);
    tcase_add_test (tc, types_bind_and_map_by_column_type);
    tcase_add_test (tc, missing_or_mistyped_parameters_are_bad_requests);
    tcase_add_test (tc, unknown_query_and_operation);
    tcase_add_test (tc, unique_violation_is_a_conflict);
    tcase_add_test (tc, statement_timeout_is_a_timeout);
    tcase_add_test (tc, injection_strings_are_plain_data);
    tcase_add_test (tc, batch_members_fail_alone);
    tcase_add_test (tc, postgresql_restart_heals_without_a_restart);
    tcase_add_test (tc, readonly_refuses_writes);
    tcase_add_test (tc, adhoc_sql_is_refused_by_default);
    tcase_add_test (tc, postgresql_killed_under_load_heals);
    suite_add_tcase (s, tc);
    TCase *demo = tcase_create ("demo");
    tcase_add_checked_fixture (demo, setup_demo, teardown);
    tcase_set_timeout (demo, 60);
    tcase_add_test (demo, demo_catalog_runs_on_demo_schema);
    suite_add_tcase (s, demo);
    return s;
}

HSN_TEST_MAIN (suite)
