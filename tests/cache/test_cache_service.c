/*  cache_service end to end: a real broker (tcp for the replica, inproc for
 *  the client, as in the gateway), the handler running in an hsn_worker on
 *  its own thread, and a real redis-server that the tests kill and restart. */
#include <czmq.h>
#include <signal.h>
#include <string.h>

#include "cache/cache_service.h"
#include "hsn_client.h"
#include "hsn_harness.h"
#include "hsn_rig.h"
#include "hsn_metrics.h"
#include "hsn_test.h"
#include "hsn_time.h"
#include "hsn_worker.h"

/*  A replica blocked on a hung Redis (up to its 1 s command timeout) must
 *  not miss 3 heartbeats, or the broker drops it: keep 3 x HB_MS above 1 s. */
#define HB_MS        1000
#define DEFAULT_TTL  123
#define MAX_VALUE    1024
#define CALL_MS      3000

static hsn_redis_t *redis;
static hsn_rig_t *rig;
static hsn_client_t *client;
static hsn_metrics_t *metrics;
static cache_service_t *cache;
static hsn_enc_t enc;

/* ---- the replica: cache_service in an hsn_worker (see hsn_rig) -------- */

static int
cache_open (zloop_t *loop, hsn_worker_config_t *wcfg, void *arg)
{
    char err[256] = "";
    cache_service_config_t ccfg = {
        .redis_url = hsn_redis_url (redis),
        .default_ttl = DEFAULT_TTL,
        .max_value_bytes = MAX_VALUE,
        .max_entries = 1000,
        .max_bytes = 1 << 20,
        .l1_enabled = true,
        .metrics = metrics,
    };
    cache = cache_service_new (&ccfg, loop, err, sizeof err);
    if (!cache) {
        fprintf (stderr, "cache_service_new: %s\n", err);
        return -1;
    }
    wcfg->credits = 8;
    wcfg->handler = cache_service_handle;
    wcfg->arg = cache;
    wcfg->batch_end = cache_service_batch_end;
    return 0;
}

static void
cache_close (void *arg)
{
    cache_service_destroy (&cache);
}

/*  "CHECK" runs the health probe on the replica's own thread (the service
 *  is not thread-safe) and answers "up" or "down". */
static const char *
cache_command (const char *cmd, void *arg)
{
    if (!streq (cmd, "CHECK"))
        return NULL;
    cache_service_check (cache);
    return cache_service_redis_up (cache) ? "up" : "down";
}

static void
setup (void)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    metrics = hsn_metrics_new ();
    hsn_enc_init (&enc);
    hsn_rig_config_t rcfg = { HSN_SERVICE_CACHE, HB_MS, cache_open, cache_close,
                              cache_command, NULL };
    rig = hsn_rig_start (&rcfg);
    ck_assert_ptr_nonnull (rig);
    client = hsn_rig_client (rig);
}

static void
teardown (void)
{
    hsn_rig_stop (&rig);
    hsn_metrics_destroy (&metrics);
    hsn_enc_release (&enc);
    hsn_redis_stop (&redis);
}

/* ---- requests ---------------------------------------------------------- */

typedef struct {
    zmq_msg_t msg;
    hsn_env_t env;
} reply_t;

/*  A request's fields; NULL ns or key leaves the field out, keylen 0 with a
 *  key means strlen. ttl < 0 leaves it out. */
typedef struct {
    const char *ns;
    const char *key;
    size_t keylen;
    const void *value;
    size_t value_len;
    long long ttl;
} req_t;

/*  Send op with the fields of q; returns the reply's status (the reply is
 *  kept in *r, close it with reply_close). */
static int
call (uint32_t op, const req_t *q, reply_t *r)
{
    uint64_t rid = hsn_client_next_rid (client);
    uint32_t nfields = (q->ns != NULL) + (q->key != NULL) + (q->value != NULL) + (q->ttl >= 0);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0, nfields);
    if (q->ns)
        hsn_enc_cstr (&enc, HSN_FIELD_NS, q->ns);
    if (q->key)
        hsn_enc_str (&enc, HSN_FIELD_KEY, q->key, q->keylen ? q->keylen : strlen (q->key));
    if (q->value)
        hsn_enc_raw (&enc, HSN_FIELD_VALUE, q->value, q->value_len);
    if (q->ttl >= 0)
        hsn_enc_uint (&enc, HSN_FIELD_TTL, (uint64_t) q->ttl);
    int rc = hsn_client_call (client, hsn_enc_data (&enc), hsn_enc_size (&enc), rid, CALL_MS,
                              &r->msg);
    ck_assert_msg (rc == 0, "no reply to %s: %d", hsn_op_name (op), rc);
    ck_assert_int_eq (hsn_env_decode (&r->env, zmq_msg_data (&r->msg), zmq_msg_size (&r->msg)), 0);
    ck_assert_uint_eq (r->env.kind, HSN_KIND_REPLY);
    ck_assert_uint_eq (r->env.rid, rid);
    return (int) r->env.status;
}

static void
reply_close (reply_t *r)
{
    zmq_msg_close (&r->msg);
}

/*  Status only. */
static int
status_of (uint32_t op, const req_t *q)
{
    reply_t r;
    int st = call (op, q, &r);
    if (st != HSN_STATUS_OK)
        ck_assert_msg (hsn_env_has (&r.env, HSN_FIELD_MESSAGE), "error reply without a message");
    reply_close (&r);
    return st;
}

/*  A msgpack document: {"name": name, "n": [1, 2, 3], "f": 1.5}. */
static void
pack_doc (msgpack_sbuffer *sb, const char *name)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "name", 4);
    msgpack_pack_str (&pk, strlen (name));
    msgpack_pack_str_body (&pk, name, strlen (name));
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "n", 1);
    msgpack_pack_array (&pk, 3);
    for (int i = 1; i <= 3; i++)
        msgpack_pack_int (&pk, i);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "f", 1);
    msgpack_pack_double (&pk, 1.5);
}

/*  A msgpack string object of exactly total bytes (header included). */
static void
pack_str_of_size (msgpack_sbuffer *sb, size_t total)
{
    ck_assert_uint_ge (total, 256 + 3);
    ck_assert_uint_le (total, 65535 + 3);
    size_t n = total - 3;                       /* str16: 3-byte header */
    char *body = (char *) malloc (n);
    memset (body, 'v', n);
    msgpack_sbuffer_init (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_str (&pk, n);
    msgpack_pack_str_body (&pk, body, n);
    free (body);
    ck_assert_uint_eq (sb->size, total);
}

/*  A command on a fresh connection to the test's Redis. */
static redisReply *
redis_cmd (const char *fmt, const char *arg)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, fmt, arg);
    ck_assert_ptr_nonnull (r);
    redisFree (c);
    return r;
}

static long long
redis_int (const char *fmt, const char *arg)
{
    redisReply *r = redis_cmd (fmt, arg);
    ck_assert_int_eq (r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject (r);
    return v;
}

static uint64_t
counter (const char *name)
{
    return hsn_counter_get (hsn_metrics_counter (metrics, name));
}

/* ---- tests ------------------------------------------------------------- */

START_TEST (set_then_get_returns_the_same_bytes)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "ann");
    req_t set = { "users", "42", 0, doc.data, doc.size, 60 };
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_CACHE_SET, &set, &r), HSN_STATUS_OK);
    uint64_t ttl = 0;
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
    ck_assert_uint_eq (ttl, 60);
    reply_close (&r);

    req_t get = { "users", "42", 0, NULL, 0, -1 };
    ck_assert_int_eq (call (HSN_OP_CACHE_GET, &get, &r), HSN_STATUS_OK);
    ck_assert (hsn_env_has (&r.env, HSN_FIELD_VALUE));
    const hsn_mp_obj_t *v = &r.env.fields[HSN_FIELD_VALUE];
    ck_assert_uint_eq (v->raw_len, doc.size);
    ck_assert (memcmp (v->raw, doc.data, doc.size) == 0);
    const char *level;
    size_t level_len;
    ck_assert_int_eq (hsn_env_str (&r.env, HSN_FIELD_LEVEL, &level, &level_len), 0);
    ck_assert_uint_eq (level_len, 2);
    ck_assert (memcmp (level, "l2", 2) == 0);
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
    ck_assert_uint_ge (ttl, 1);
    ck_assert_uint_le (ttl, 60);
    reply_close (&r);

    ck_assert_uint_eq (counter ("cache.sets"), 1);
    ck_assert_uint_eq (counter ("cache.l2.hits"), 1);
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

/*  The client's value inside what Redis holds: the bytes themselves, or the
 *  first element of a [value, tags] envelope (cache_service.h). NULL when
 *  the stored string is neither. */
static const uint8_t *
stored_value (const char *buf, size_t len, size_t *vlen)
{
    if (hsn_mp_validate (buf, len, HSN_PROTO_MAX_DEPTH))
        return NULL;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, buf, len);
    hsn_mp_obj_t top, v;
    if (hsn_mp_next (&r, &top))
        return NULL;
    if (top.type == HSN_MP_ARRAY && top.v.c.count == 2 && hsn_mp_get (&r, &v, 32) == 0) {
        *vlen = v.raw_len;
        return v.raw;
    }
    *vlen = len;
    return (const uint8_t *) buf;
}

START_TEST (redis_holds_the_msgpack_under_its_key)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "bob");
    req_t set = { "users", "7", 0, doc.data, doc.size, 90 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);

    redisReply *rr = redis_cmd ("GET %s", "hsn:c:users:7");
    ck_assert_int_eq (rr->type, REDIS_REPLY_STRING);
    size_t vlen = 0;
    const uint8_t *v = stored_value (rr->str, rr->len, &vlen);
    ck_assert_msg (v != NULL, "Redis holds something that is not msgpack");
    ck_assert_uint_eq (vlen, doc.size);
    ck_assert (memcmp (v, doc.data, doc.size) == 0);
    freeReplyObject (rr);
    long long ttl = redis_int ("TTL %s", "hsn:c:users:7");
    ck_assert_int_gt (ttl, 85);
    ck_assert_int_le (ttl, 90);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:c:users:7"), 1);
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (missing_key_not_found)
{
    req_t get = { "users", "nobody", 0, NULL, 0, -1 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &get), HSN_STATUS_NOT_FOUND);
    ck_assert_uint_eq (counter ("cache.l2.hits"), 0);
    /*  The same key in another namespace is another key. */
    msgpack_sbuffer doc;
    pack_doc (&doc, "x");
    req_t set = { "other", "nobody", 0, doc.data, doc.size, 60 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);
    ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &get), HSN_STATUS_NOT_FOUND);
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (delete_then_not_found)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "del");
    req_t set = { "users", "d1", 0, doc.data, doc.size, 60 };
    req_t key = { "users", "d1", 0, NULL, 0, -1 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_CACHE_DELETE, &key, &r), HSN_STATUS_OK);
    uint64_t count = 0;
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_COUNT, &count), 0);
    ck_assert_uint_eq (count, 1);
    reply_close (&r);
    ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &key), HSN_STATUS_NOT_FOUND);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:c:users:d1"), 0);
    /*  Deleting it again: nothing there. */
    ck_assert_int_eq (call (HSN_OP_CACHE_DELETE, &key, &r), HSN_STATUS_NOT_FOUND);
    count = 99;
    hsn_env_uint (&r.env, HSN_FIELD_COUNT, &count);
    ck_assert_uint_eq (count, 0);
    reply_close (&r);
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (invalid_names_are_bad_requests)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "x");
    char ns65[66], key512[513], key513[514];
    memset (ns65, 'n', 65);
    ns65[65] = '\0';
    memset (key512, 'k', 512);
    key512[512] = '\0';
    memset (key513, 'k', 513);
    key513[513] = '\0';
    static const uint32_t ops[] = { HSN_OP_CACHE_GET, HSN_OP_CACHE_SET, HSN_OP_CACHE_DELETE };
    const req_t bad[] = {
        { NULL, "k", 0, NULL, 0, -1 },          /* no namespace */
        { "", "k", 0, NULL, 0, -1 },
        { "bad ns", "k", 0, NULL, 0, -1 },
        { "a:b", "k", 0, NULL, 0, -1 },         /* would forge another key */
        { "a/b", "k", 0, NULL, 0, -1 },
        { "caf\xc3\xa9", "k", 0, NULL, 0, -1 },
        { ns65, "k", 0, NULL, 0, -1 },
        { "users", NULL, 0, NULL, 0, -1 },      /* no key */
        { "users", "", 0, NULL, 0, -1 },
        { "users", key513, 0, NULL, 0, -1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            req_t q = bad[i];
            if (ops[o] == HSN_OP_CACHE_SET) {
                q.value = doc.data;
                q.value_len = doc.size;
            }
            int st = status_of (ops[o], &q);
            ck_assert_msg (st == HSN_STATUS_BAD_REQUEST, "%s case %zu: status %s",
                           hsn_op_name (ops[o]), i, hsn_status_name ((uint32_t) st));
        }
    /*  A set without a value. */
    req_t novalue = { "users", "k", 0, NULL, 0, 60 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &novalue), HSN_STATUS_BAD_REQUEST);
    ck_assert_int_eq (redis_int ("DBSIZE", NULL), 0);

    /*  The limits themselves are fine, and so is any byte in a key. */
    memset (ns65, 'n', 64);
    ns65[64] = '\0';
    req_t ok[] = {
        { ns65, "k", 0, doc.data, doc.size, 60 },
        { "A-z_0.9", key512, 0, doc.data, doc.size, 60 },
        { "users", "with:colon/and space\x01", 0, doc.data, doc.size, 60 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &ok[i]), HSN_STATUS_OK);
        ok[i].value = NULL;
        ok[i].ttl = -1;
        ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &ok[i]), HSN_STATUS_OK);
    }
    ck_assert_int_eq (redis_int ("DBSIZE", NULL), 3);
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (value_over_max_is_too_large)
{
    msgpack_sbuffer big, fits;
    pack_str_of_size (&big, MAX_VALUE + 1);
    pack_str_of_size (&fits, MAX_VALUE);
    req_t set = { "blobs", "b", 0, big.data, big.size, 60 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_TOO_LARGE);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:c:blobs:b"), 0);
    set.value = fits.data;
    set.value_len = fits.size;
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);
    reply_t r;
    req_t get = { "blobs", "b", 0, NULL, 0, -1 };
    ck_assert_int_eq (call (HSN_OP_CACHE_GET, &get, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (r.env.fields[HSN_FIELD_VALUE].raw_len, MAX_VALUE);
    reply_close (&r);
    msgpack_sbuffer_destroy (&big);
    msgpack_sbuffer_destroy (&fits);
}
END_TEST

START_TEST (ttl_rules)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "t");
    req_t set = { "ttl", "zero", 0, doc.data, doc.size, 0 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_BAD_REQUEST);
    set.ttl = 31536001;
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_BAD_REQUEST);
    ck_assert_int_eq (redis_int ("DBSIZE", NULL), 0);
    set.ttl = 31536000;
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);

    /*  No ttl: the default, in the reply and in Redis. */
    req_t dflt = { "ttl", "default", 0, doc.data, doc.size, -1 };
    reply_t r;
    ck_assert_int_eq (call (HSN_OP_CACHE_SET, &dflt, &r), HSN_STATUS_OK);
    uint64_t ttl = 0;
    ck_assert_int_eq (hsn_env_uint (&r.env, HSN_FIELD_TTL, &ttl), 0);
    ck_assert_uint_eq (ttl, DEFAULT_TTL);
    reply_close (&r);
    long long left = redis_int ("TTL %s", "hsn:c:ttl:default");
    ck_assert_int_gt (left, DEFAULT_TTL - 5);
    ck_assert_int_le (left, DEFAULT_TTL);

    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (garbage_in_redis_is_a_miss)
{
    /*  Something else wrote a non-msgpack string under a cache key: the
     *  cache must not hand it out as a value. */
    redisReply *rr = redis_cmd ("SET hsn:c:users:junk %s", "\xc1 not msgpack");
    freeReplyObject (rr);
    req_t get = { "users", "junk", 0, NULL, 0, -1 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &get), HSN_STATUS_NOT_FOUND);
}
END_TEST

START_TEST (unknown_operation)
{
    req_t q = { "users", "k", 0, NULL, 0, -1 };
    ck_assert_int_eq (status_of (HSN_OP_CODE (CACHE, 99), &q), HSN_STATUS_UNKNOWN_OP);
}
END_TEST

static const char *
check (void)
{
    static char answer[8];
    char *s = hsn_rig_command (rig, "CHECK");
    ck_assert_ptr_nonnull (s);
    snprintf (answer, sizeof answer, "%s", s);
    zstr_free (&s);
    return answer;
}

/*  Time one call; it must answer status within max_ms. */
static void
assert_fast_status (uint32_t op, const req_t *q, int status, int max_ms)
{
    int64_t t0 = hsn_now_ms ();
    int st = status_of (op, q);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_msg (st == status, "%s: status %s, want %s", hsn_op_name (op),
                   hsn_status_name ((uint32_t) st), hsn_status_name ((uint32_t) status));
    ck_assert_msg (took < max_ms, "%s took %lld ms", hsn_op_name (op), (long long) took);
}

/*  hsn_wait_until condition: the set request arg succeeds. */
static bool
set_succeeds (void *arg)
{
    return status_of (HSN_OP_CACHE_SET, (const req_t *) arg) == HSN_STATUS_OK;
}

START_TEST (redis_down_unavailable_then_recovers)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "r");
    req_t set = { "users", "r", 0, doc.data, doc.size, 60 };
    req_t key = { "users", "r", 0, NULL, 0, -1 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);
    ck_assert_str_eq (check (), "up");

    ck_assert_int_eq (hsn_redis_kill (redis, SIGKILL), 0);
    req_t never = { "users", "never-set", 0, NULL, 0, -1 };
    assert_fast_status (HSN_OP_CACHE_GET, &never, HSN_STATUS_UNAVAILABLE, 1500);
    assert_fast_status (HSN_OP_CACHE_SET, &set, HSN_STATUS_UNAVAILABLE, 1500);
    assert_fast_status (HSN_OP_CACHE_DELETE, &key, HSN_STATUS_UNAVAILABLE, 1500);
    /*  Repeated requests against a dead Redis stay fast. */
    for (int i = 0; i < 5; i++)
        assert_fast_status (HSN_OP_CACHE_GET, &never, HSN_STATUS_UNAVAILABLE, 1500);
    ck_assert_str_eq (check (), "down");

    /*  Redis returns (empty: it kept nothing on disk); nothing restarts. */
    ck_assert_int_eq (hsn_redis_restart (redis), 0);
    req_t back_set = { "users", "back", 0, doc.data, doc.size, 60 };
    ck_assert_msg (hsn_wait_until (set_succeeds, &back_set, 5000),
                   "cache never used Redis again");
    reply_t r;
    req_t back = { "users", "back", 0, NULL, 0, -1 };
    ck_assert_int_eq (call (HSN_OP_CACHE_GET, &back, &r), HSN_STATUS_OK);
    ck_assert_uint_eq (r.env.fields[HSN_FIELD_VALUE].raw_len, doc.size);
    ck_assert (memcmp (r.env.fields[HSN_FIELD_VALUE].raw, doc.data, doc.size) == 0);
    reply_close (&r);
    ck_assert_int_eq (status_of (HSN_OP_CACHE_GET, &key), HSN_STATUS_NOT_FOUND);
    ck_assert_str_eq (check (), "up");
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

START_TEST (redis_hung_fails_within_its_timeout)
{
    msgpack_sbuffer doc;
    pack_doc (&doc, "h");
    req_t set = { "users", "h", 0, doc.data, doc.size, 60 };
    ck_assert_int_eq (status_of (HSN_OP_CACHE_SET, &set), HSN_STATUS_OK);
    /*  Stopped, not dead: the socket stays open and nothing answers. */
    ck_assert_int_eq (hsn_proc_signal (hsn_redis_proc (redis), SIGSTOP), 0);
    req_t never = { "users", "never-set", 0, NULL, 0, -1 };
    assert_fast_status (HSN_OP_CACHE_GET, &never, HSN_STATUS_UNAVAILABLE, 1500);
    ck_assert_int_eq (hsn_proc_signal (hsn_redis_proc (redis), SIGCONT), 0);
    ck_assert_msg (hsn_wait_until (set_succeeds, &set, 5000), "cache never used Redis again");
    msgpack_sbuffer_destroy (&doc);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("cache_service");
    TCase *tc = tcase_create ("cache");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, set_then_get_returns_the_same_bytes);
    tcase_add_test (tc, redis_holds_the_msgpack_under_its_key);
    tcase_add_test (tc, missing_key_not_found);
    tcase_add_test (tc, delete_then_not_found);
    tcase_add_test (tc, invalid_names_are_bad_requests);
    tcase_add_test (tc, value_over_max_is_too_large);
    tcase_add_test (tc, ttl_rules);
    tcase_add_test (tc, garbage_in_redis_is_a_miss);
    tcase_add_test (tc, unknown_operation);
    tcase_add_test (tc, redis_down_unavailable_then_recovers);
    tcase_add_test (tc, redis_hung_fails_within_its_timeout);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
