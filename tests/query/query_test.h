/*  Shared fixture of the query service tests: a real PostgreSQL, a real
 *  broker (hsn_rig: tcp for the replica, inproc for the client), the
 *  service in an hsn_worker on the rig's replica thread, and optionally
 *  Redis plus a real hsn-cache process joined to the same broker. Included
 *  by one test file each (static state). */
#ifndef QUERY_TEST_H
#define QUERY_TEST_H

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
#define CALL_MS     8000

#define QT_UNUSED __attribute__ ((unused))

typedef struct {
    uint32_t pool;              /* CONNECTION_POOL_SIZE */
    uint32_t stmt_ms;           /* QUERY_STATEMENT_TIMEOUT_MS */
    uint32_t wait_ms;           /* QUERY_POOL_WAIT_MS */
    uint32_t slow_ms;           /* QUERY_SLOW_MS */
    bool cache;                 /* start Redis + hsn-cache, cache through it */
    bool adhoc;                 /* QUERY_ALLOW_ADHOC */
    const char *queries_file;   /* for reload */
} qt_opts_t;

static hsn_pg_t *pg;
static hsn_rig_t *rig;
static hsn_client_t *client;
static hsn_metrics_t *metrics;
static query_service_t *service;
static hsn_redis_t *redis;
static hsn_proc_t *cache_proc;
static hsn_enc_t enc;
static msgpack_sbuffer sb;
static msgpack_packer pk;
static const char *catalog_text;
static qt_opts_t opts;

typedef struct {
    zmq_msg_t msg;
    hsn_env_t env;
} reply_t;

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
    query_service_config_t qcfg = { hsn_pg_url (pg), opts.pool, opts.stmt_ms, metrics, loop,
                                    opts.cache ? wcfg->endpoint : NULL, 1000, opts.wait_ms, 50,
                                    opts.slow_ms, opts.adhoc, opts.queries_file };
    service = query_service_new (&qcfg, cat, err, sizeof err);
    if (!service) {
        fprintf (stderr, "query_service_new: %s\n", err);
        return -1;
    }
    wcfg->credits = 64;
    wcfg->handler = query_service_handle;
    wcfg->arg = service;
    return 0;
}

static void
query_close (void *arg)
{
    query_service_destroy (&service);
}

/*  Commands run on the replica's own thread (the service is not
 *  thread-safe): "CHECK" -> "up"/"down"; "RELOAD" -> "ok" or the error. */
static const char *
query_command (const char *cmd, void *arg)
{
    static char answer[600];
    if (streq (cmd, "CHECK")) {
        query_service_check (service);
        return query_service_db_up (service) ? "up" : "down";
    }
    if (streq (cmd, "RELOAD")) {
        char err[512];
        if (query_service_reload (service, err, sizeof err))
            snprintf (answer, sizeof answer, "error: %s", err);
        else
            snprintf (answer, sizeof answer, "ok");
        return answer;
    }
    return NULL;
}

static QT_UNUSED char *
check (void)
{
    return hsn_rig_command (rig, "CHECK");
}

static bool
cache_joined (void *arg)
{
    return gateway_broker_replicas (hsn_rig_broker (rig), HSN_SERVICE_CACHE) == (uintptr_t) arg;
}

/*  Start Redis and an hsn-cache process on the rig's broker. */
static QT_UNUSED void
cache_start (void)
{
    if (!redis) {
        redis = hsn_redis_start (NULL);
        ck_assert_ptr_nonnull (redis);
    }
    char redis_env[256], broker_env[128];
    snprintf (redis_env, sizeof redis_env, "REDIS_URL=%s", hsn_redis_url (redis));
    snprintf (broker_env, sizeof broker_env, "BROKER_ENDPOINT=tcp://127.0.0.1:%d",
              gateway_broker_port (hsn_rig_broker (rig)));
    char *env[] = { redis_env, broker_env, "MONITOR_ENDPOINT=tcp://127.0.0.1:1",
                    "HEARTBEAT_INTERVAL_MS=1000", NULL };
    char *argv[] = { "hsn-cache", NULL };
    cache_proc = hsn_proc_start (hsn_bin ("hsn-cache"), argv, env);
    ck_assert_ptr_nonnull (cache_proc);
    ck_assert_msg (hsn_wait_until (cache_joined, (void *) 1, 10000), "hsn-cache never joined");
}

/*  Stop the cache process (SIGTERM: it leaves the broker cleanly). */
static QT_UNUSED void
cache_stop (void)
{
    if (!cache_proc)
        return;
    hsn_proc_signal (cache_proc, SIGTERM);
    hsn_proc_wait (cache_proc, 10000, NULL);
    hsn_proc_destroy (&cache_proc);
    ck_assert_msg (hsn_wait_until (cache_joined, (void *) 0, 10000), "hsn-cache never left");
}

static void
qt_start (const char *schema, const char *queries, const qt_opts_t *o)
{
    opts = *o;
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
    if (opts.cache)
        cache_start ();
}

static void
qt_stop (void)
{
    if (cache_proc) {
        hsn_proc_signal (cache_proc, SIGTERM);
        hsn_proc_wait (cache_proc, 10000, NULL);
        hsn_proc_destroy (&cache_proc);
    }
    hsn_rig_stop (&rig);
    hsn_redis_stop (&redis);
    hsn_metrics_destroy (&metrics);
    hsn_enc_release (&enc);
    msgpack_sbuffer_destroy (&sb);
    hsn_pg_stop (&pg);
}

/* ---- requests ---------------------------------------------------------- */

static void
pstr (const char *s)
{
    msgpack_pack_str (&pk, strlen (s));
    msgpack_pack_str_body (&pk, s, strlen (s));
}

/*  Encode op into enc; name (may be NULL) goes in `name`, sb (when with_sb)
 *  in the field sb_field, and `readonly` when readonly >= 0. */
static void
encode (uint64_t rid, uint32_t op, const char *name, hsn_field_t sb_field, bool with_sb,
        int readonly)
{
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_QUERY, op, 0,
                   (name != NULL) + with_sb + (readonly >= 0));
    if (name)
        hsn_enc_cstr (&enc, op == HSN_OP_QUERY_SQL ? HSN_FIELD_SQL : HSN_FIELD_NAME, name);
    if (with_sb)
        hsn_enc_raw (&enc, sb_field, sb.data, sb.size);
    if (readonly >= 0) {
        hsn_enc_key (&enc, HSN_FIELD_READONLY);
        if (readonly)
            msgpack_pack_true (&enc.pk);
        else
            msgpack_pack_false (&enc.pk);
    }
}

static int
call_ro (uint32_t op, const char *name, hsn_field_t sb_field, bool with_sb, int readonly,
         reply_t *r)
{
    uint64_t rid = hsn_client_next_rid (client);
    encode (rid, op, name, sb_field, with_sb, readonly);
    int rc = hsn_client_call (client, hsn_enc_data (&enc), hsn_enc_size (&enc), rid, CALL_MS,
                              &r->msg);
    ck_assert_msg (rc == 0, "no reply to %s: %d", hsn_op_name (op), rc);
    ck_assert_int_eq (hsn_env_decode (&r->env, zmq_msg_data (&r->msg), zmq_msg_size (&r->msg)), 0);
    ck_assert_uint_eq (r->env.rid, rid);
    return (int) r->env.status;
}

/*  Send op and wait for its reply status; close r with reply_close. */
static QT_UNUSED int
call (uint32_t op, const char *name, hsn_field_t sb_field, bool with_sb, reply_t *r)
{
    return call_ro (op, name, sb_field, with_sb, -1, r);
}

/*  query.run name with the params map already packed into sb (or none). */
static QT_UNUSED int
run (const char *name, bool with_params, reply_t *r)
{
    return call_ro (HSN_OP_QUERY_RUN, name, HSN_FIELD_PARAMS, with_params, -1, r);
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

/*  Params {name, qty} for the item queries; qty < 0 leaves qty out. */
static QT_UNUSED void
qt_item_params (const char *name, int64_t qty)
{
    params_begin (qty >= 0 ? 2 : 1);
    pstr ("name");
    pstr (name);
    if (qty >= 0) {
        pstr ("qty");
        msgpack_pack_int64 (&pk, qty);
    }
}

/*  n copies of one query.run (params in sb, or none) sent at once on a
 *  DEALER of our own over tcp, so they are in flight together; r[i] gets
 *  the reply to copy i. Fails unless all n answer within CALL_MS. */
static QT_UNUSED void
run_many (const char *name, bool with_params, size_t n, reply_t *r)
{
    zsock_t *d = zsock_new (ZMQ_DEALER);
    ck_assert_ptr_nonnull (d);
    ck_assert_int_eq (zsock_connect (d, "tcp://127.0.0.1:%d",
                                     gateway_broker_port (hsn_rig_broker (rig))), 0);
    uint64_t base = 1000000;
    for (size_t i = 0; i < n; i++) {
        encode (base + i, HSN_OP_QUERY_RUN, name, HSN_FIELD_PARAMS, with_params, -1);
        ck_assert_int_ge (zmq_send (zsock_resolve (d), hsn_enc_data (&enc), hsn_enc_size (&enc),
                                    0), 0);
    }
    bool *got = (bool *) calloc (n, sizeof *got);
    size_t have = 0;
    int64_t deadline = hsn_now_ms () + CALL_MS;
    zsock_set_rcvtimeo (d, 100);
    while (have < n && hsn_now_ms () < deadline) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (d), 0) < 0) {
            zmq_msg_close (&msg);
            continue;
        }
        hsn_env_t env;
        ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)), 0);
        ck_assert (env.rid >= base && env.rid < base + n && !got[env.rid - base]);
        size_t i = env.rid - base;
        got[i] = true;
        have++;
        zmq_msg_init (&r[i].msg);
        zmq_msg_move (&r[i].msg, &msg);
        zmq_msg_close (&msg);
        ck_assert_int_eq (hsn_env_decode (&r[i].env, zmq_msg_data (&r[i].msg),
                                          zmq_msg_size (&r[i].msg)), 0);
    }
    free (got);
    zsock_destroy (&d);
    ck_assert_msg (have == n, "%zu of %zu replies", have, n);
}

/*  The reply's message must contain needle. */
static QT_UNUSED void
message_has (const reply_t *r, const char *needle)
{
    const char *m;
    size_t len;
    ck_assert_int_eq (hsn_env_str (&r->env, HSN_FIELD_MESSAGE, &m, &len), 0);
    char *s = strndup (m, len);
    ck_assert_msg (strstr (s, needle), "message '%s' lacks '%s'", s, needle);
    free (s);
}

static QT_UNUSED void
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
    hsn_mp_obj_t v;
    ck_assert_msg (hsn_mp_map_get (map, key, &v) == 0, "no key '%s'", key);
    return v;
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

static QT_UNUSED void
col_str (const hsn_mp_obj_t *row, const char *col, const char *want)
{
    hsn_mp_obj_t v = get (row, col);
    str_is (&v, want);
}

static QT_UNUSED int64_t
col_int (const hsn_mp_obj_t *row, const char *col)
{
    hsn_mp_obj_t v = get (row, col);
    ck_assert (v.type == HSN_MP_UINT || v.type == HSN_MP_INT);
    return v.type == HSN_MP_UINT ? (int64_t) v.v.u : v.v.i;
}

/*  Row 0 of a reply's rows. */
static QT_UNUSED hsn_mp_obj_t
row0 (const reply_t *r)
{
    ck_assert (hsn_env_has (&r->env, HSN_FIELD_ROWS));
    return at (&r->env.fields[HSN_FIELD_ROWS], 0);
}

static QT_UNUSED uint64_t
count_of (const reply_t *r)
{
    uint64_t n;
    ck_assert_int_eq (hsn_env_uint (&r->env, HSN_FIELD_COUNT, &n), 0);
    return n;
}

/*  The reply's `cached` field (which must be there). */
static QT_UNUSED bool
cached_of (const reply_t *r)
{
    ck_assert (hsn_env_has (&r->env, HSN_FIELD_CACHED));
    return r->env.fields[HSN_FIELD_CACHED].v.b;
}

static QT_UNUSED uint64_t
counter_of (const char *name)
{
    return hsn_counter_get (hsn_metrics_counter (metrics, name));
}

#endif
