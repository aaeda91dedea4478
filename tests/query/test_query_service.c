/*  query_service end to end: a real PostgreSQL (killed and restarted by the
 *  tests), a real broker (tcp for the replica, inproc for the client), and
 *  the handler in an hsn_worker on its own thread. */
#include <czmq.h>
#include <signal.h>
#include <string.h>

#include "hsn_client.h"
#include "hsn_harness.h"
#include "hsn_rig.h"
#include "hsn_metrics.h"
#include "hsn_test.h"
#include "hsn_time.h"
#include "hsn_worker.h"
#include "query/query_service.h"

#define HB_MS       1000
#define CALL_MS     5000
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
    "       '11111111-2222-3333-4444-555555555555'::uuid AS u\n"
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

static hsn_pg_t *pg;
static hsn_rig_t *rig;
static hsn_client_t *client;
static hsn_metrics_t *metrics;
static query_service_t *service;
static hsn_enc_t enc;
static msgpack_sbuffer sb;
static msgpack_packer pk;
static const char *catalog_text;

/* ---- the replica: query_service in an hsn_worker (see hsn_rig) -------- */

static int
query_open (zloop_t *loop, hsn_worker_config_t *wcfg, void *arg)
{
    char err[512] = "";
    query_catalog_t *cat = query_catalog_parse (catalog_text, strlen (catalog_text), "test",
                                                err, sizeof err);
    if (!cat) {
        fprintf (stderr, "catalog: %s\n", err);
        return -1;
    }
    query_service_config_t qcfg = { hsn_pg_url (pg), 3, TIMEOUT_MS, metrics };
    service = query_service_new (&qcfg, cat, err, sizeof err);
    if (!service) {
        fprintf (stderr, "query_service_new: %s\n", err);
        return -1;
    }
    wcfg->credits = 1;
    wcfg->handler = query_service_handle;
    wcfg->arg = service;
    return 0;
}

static void
query_close (void *arg)
{
    query_service_destroy (&service);
}

/*  "CHECK" runs the periodic probe on the replica's own thread (the
 *  service is not thread-safe) and answers "up" or "down". */
static const char *
query_command (const char *cmd, void *arg)
{
    if (!streq (cmd, "CHECK"))
        return NULL;
    query_service_check (service);
    return query_service_db_up (service) ? "up" : "down";
}

static char *
check (void)
{
    return hsn_rig_command (rig, "CHECK");
}

static void
start (const char *schema, const char *queries)
{
    pg = hsn_pg_start ();
    ck_assert_ptr_nonnull (pg);
    ck_assert_int_eq (hsn_pg_exec (pg, schema), 0);
    catalog_text = queries;
    metrics = hsn_metrics_new ();
    hsn_enc_init (&enc);
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    hsn_rig_config_t rcfg = { HSN_SERVICE_QUERY, HB_MS, query_open, query_close,
                              query_command, NULL };
    rig = hsn_rig_start (&rcfg);
    ck_assert_ptr_nonnull (rig);
    client = hsn_rig_client (rig);
}

static void
setup (void)
{
    start (test_schema, test_queries);
}

static char *demo_schema, *demo_queries;

static void
setup_demo (void)
{
    demo_schema = hsn_read_file ("deploy/docker/initdb/01-schema.sql", NULL);
    demo_queries = hsn_read_file ("deploy/queries.sql", NULL);
    ck_assert_ptr_nonnull (demo_schema);
    ck_assert_ptr_nonnull (demo_queries);
    start (demo_schema, demo_queries);
}

static void
teardown (void)
{
    hsn_rig_stop (&rig);
    hsn_metrics_destroy (&metrics);
    hsn_enc_release (&enc);
    msgpack_sbuffer_destroy (&sb);
    hsn_pg_stop (&pg);
    free (demo_schema);
    free (demo_queries);
    demo_schema = demo_queries = NULL;
}

/* ---- requests ---------------------------------------------------------- */

typedef struct {
    zmq_msg_t msg;
    hsn_env_t env;
} reply_t;

static void
pstr (const char *s)
{
    msgpack_pack_str (&pk, strlen (s));
    msgpack_pack_str_body (&pk, s, strlen (s));
}

/*  Send op; name (may be NULL) goes in `name`, sb (when with_sb) in the
 *  field sb_field. Returns the reply status; close r with reply_close. */
static int
call (uint32_t op, const char *name, hsn_field_t sb_field, bool with_sb, reply_t *r)
{
    uint64_t rid = hsn_client_next_rid (client);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_QUERY, op, 0,
                   (name != NULL) + with_sb);
    if (name)
        hsn_enc_cstr (&enc, HSN_FIELD_NAME, name);
    if (with_sb)
        hsn_enc_raw (&enc, sb_field, sb.data, sb.size);
    int rc = hsn_client_call (client, hsn_enc_data (&enc), hsn_enc_size (&enc), rid, CALL_MS,
                              &r->msg);
    ck_assert_msg (rc == 0, "no reply to %s: %d", hsn_op_name (op), rc);
    ck_assert_int_eq (hsn_env_decode (&r->env, zmq_msg_data (&r->msg), zmq_msg_size (&r->msg)), 0);
    ck_assert_uint_eq (r->env.rid, rid);
    return (int) r->env.status;
}

/*  query.run name with the params map already packed into sb (or none). */
static int
run (const char *name, bool with_params, reply_t *r)
{
    return call (HSN_OP_QUERY_RUN, name, HSN_FIELD_PARAMS, with_params, r);
}

static void
reply_close (reply_t *r)
{
    zmq_msg_close (&r->msg);
}

static void
params_begin (size_t n)
{
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_map (&pk, n);
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

/*  The reply's message must contain needle. */
static void
message_has (const reply_t *r, const char *needle)
{
    const char *m;
    size_t len;
    ck_assert_int_eq (hsn_env_str (&r->env, HSN_FIELD_MESSAGE, &m, &len), 0);
    char *s = strndup (m, len);
    ck_assert_msg (strstr (s, needle), "message '%s' lacks '%s'", s, needle);
    free (s);
}

static void
sqlstate_is (const reply_t *r, const char *state)
{
    const char *s;
    size_t len;
    ck_assert_int_eq (hsn_env_str (&r->env, HSN_FIELD_SQLSTATE, &s, &len), 0);
    ck_assert_uint_eq (len, 5);
    ck_assert_msg (memcmp (s, state, 5) == 0, "sqlstate %.5s, want %s", s, state);
}

/*  Value for key in a map object (from hsn_mp_get); fails when absent. */
static hsn_mp_obj_t
get (const hsn_mp_obj_t *map, const char *key)
{
    ck_assert_int_eq (map->type, HSN_MP_MAP);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, map);
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&rd, &k, 32), 0);
        ck_assert_int_eq (hsn_mp_get (&rd, &v, 32), 0);
        if (hsn_mp_str_eq (&k, key))
            return v;
    }
    ck_abort_msg ("no key '%s'", key);
    hsn_mp_obj_t none = { 0 };
    return none;
}

/*  Element i of an array object. */
static hsn_mp_obj_t
at (const hsn_mp_obj_t *array, uint32_t i)
{
    ck_assert_int_eq (array->type, HSN_MP_ARRAY);
    ck_assert_uint_lt (i, array->v.c.count);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, array);
    hsn_mp_obj_t o;
    for (uint32_t k = 0; k <= i; k++)
        ck_assert_int_eq (hsn_mp_get (&rd, &o, 32), 0);
    return o;
}

static void
str_is (const hsn_mp_obj_t *o, const char *want)
{
    ck_assert_int_eq (o->type, HSN_MP_STR);
    ck_assert_msg (o->v.s.len == strlen (want) && memcmp (o->v.s.ptr, want, o->v.s.len) == 0,
                   "'%.*s' != '%s'", (int) o->v.s.len, o->v.s.ptr, want);
}

static void
col_str (const hsn_mp_obj_t *row, const char *col, const char *want)
{
    hsn_mp_obj_t v = get (row, col);
    str_is (&v, want);
}

/*  Row 0 of a reply's rows. */
static hsn_mp_obj_t
row0 (const reply_t *r)
{
    ck_assert (hsn_env_has (&r->env, HSN_FIELD_ROWS));
    return at (&r->env.fields[HSN_FIELD_ROWS], 0);
}

static uint64_t
count_of (const reply_t *r)
{
    uint64_t n;
    ck_assert_int_eq (hsn_env_uint (&r->env, HSN_FIELD_COUNT, &n), 0);
    return n;
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
    ck_assert_uint_eq (row.v.c.count, 19);
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
    col_str (&row, "j", "{\"k\": [1, \"x\"]}");                 /* json keeps its text */
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
    col_str (&row, "jb", "{\"a\": [1, 2]}");                   /* jsonb's normal form */
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
    pstr ("5");
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
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 6);
    member ("put_item", "a", 1);
    member ("put_item", "a", 2);                /* duplicate: conflict */
    member ("get_item", "a", -1);
    member ("nope", NULL, 0);
    msgpack_pack_int (&pk, 42);                 /* not a map */
    member ("put_item", "b", 2);
    reply_t r;
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
    ck_assert_uint_eq (member_status (res, 3), HSN_STATUS_NOT_FOUND);
    ck_assert_uint_eq (member_status (res, 4), HSN_STATUS_BAD_REQUEST);
    ck_assert_uint_eq (member_status (res, 5), HSN_STATUS_OK);
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
    col_str (&row, "profile", "{\"plan\": \"pro\"}");
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
    suite_add_tcase (s, tc);
    TCase *demo = tcase_create ("demo");
    tcase_add_checked_fixture (demo, setup_demo, teardown);
    tcase_set_timeout (demo, 60);
    tcase_add_test (demo, demo_catalog_runs_on_demo_schema);
    suite_add_tcase (s, demo);
    return s;
}

HSN_TEST_MAIN (suite)
