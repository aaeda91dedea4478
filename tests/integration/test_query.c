/*  The /api/queries routes through real processes: HTTP -> gateway (near-
 *  cache, ETags) -> broker -> hsn-query -> a real PostgreSQL, with hsn-cache
 *  and Redis for result caching and the invalidation channel.
 *
 *  Every test starts its own PostgreSQL (a small schema of its own) and its
 *  own stack; waiting is hsn_wait_until with a deadline, never a bare sleep.
 */
#include "hsn_inval.h"
#include "hsn_stack.h"
#include "hsn_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *const schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
    "                    qty int NOT NULL CHECK (qty >= 0));"
    "INSERT INTO items (name, qty) VALUES ('apple', 3), ('pear', 5);";

static const char *const queries =
    "-- name: item_by_name\n"
    "-- params: name:text\n"
    "-- cache: 60\n"
    "SELECT id, name, qty FROM items WHERE name = $1\n"
    "\n"
    "-- name: item_by_id\n"
    "-- params: id:int\n"
    "-- cache: 60\n"
    "SELECT id, name, qty FROM items WHERE id = $1\n"
    "\n"
    "-- name: item_pair\n"
    "-- params: a:text, b:text\n"
    "-- cache: 60\n"
    "SELECT name, qty FROM items WHERE name IN ($1, $2) ORDER BY name\n"
    "\n"
    "-- name: item_count\n"
    "SELECT count(*) AS n FROM items\n"
    "\n"
    "-- name: series\n"
    "-- params: n:text\n"
    "-- cache: 60\n"
    "SELECT g AS i, repeat('x', 40) AS pad FROM generate_series(1, $1::int) g\n"
    "\n"
    "-- name: item_put\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING name, qty\n"
    "\n"
    "-- name: item_rename\n"
    "-- params: old:text, new:text\n"
    "-- invalidates: items\n"
    "UPDATE items SET name = $2 WHERE name = $1 RETURNING name\n"
    "\n"
    "-- name: item_set_qty\n"
    "-- params: name:text, qty:int\n"
    "-- invalidates: items\n"
    "UPDATE items SET qty = $2 WHERE name = $1 RETURNING name, qty\n";

static hsn_pg_t *pg;
static hsn_stack_t *stack;
static hsn_proc_t *query;
static char *dir;

/* ---- stack --------------------------------------------------------------- */

static void
teardown (void)
{
    hsn_stack_stop (&stack);
    hsn_pg_stop (&pg);
    if (dir)
        hsn_tmpdir_remove (dir);
    free (dir);
    dir = NULL;
}

static bool
queries_answer (void *arg)
{
    hsn_http_resp_t r;
    bool ok = hsn_stack_get (stack, "/api/queries", &r) == 0 && r.status == 200;
    hsn_http_resp_free (&r);
    return ok;
}

/*  PostgreSQL with the schema; Redis, gateway, monitor, one cache and one
 *  query replica (extra: one more "K=V" for it, may be NULL). */
static void
start_with (const char *extra)
{
    pg = hsn_pg_start ();
    ck_assert_ptr_nonnull (pg);
    ck_assert_int_eq (hsn_pg_exec (pg, schema), 0);
    dir = hsn_tmpdir ("query");
    ck_assert_ptr_nonnull (dir);
    char path[512], qf[600], db[256];
    snprintf (path, sizeof path, "%s/queries.sql", dir);
    ck_assert_int_eq (hsn_write_file (path, queries), 0);
    snprintf (qf, sizeof qf, "QUERIES_FILE=%s", path);
    snprintf (db, sizeof db, "DATABASE_URL=%s", hsn_pg_url (pg));
    stack = hsn_stack_start ("gateway,cache,query,monitor", true);
    ck_assert_ptr_nonnull (stack);
    ck_assert_ptr_nonnull (hsn_stack_add (stack, "hsn-cache", NULL));
    char *env[] = { qf, db, "CONNECTION_POOL_SIZE=2", (char *) extra, NULL };
    query = hsn_stack_add (stack, "hsn-query", env);
    ck_assert_ptr_nonnull (query);
    ck_assert_msg (hsn_wait_until (queries_answer, NULL, 15000),
                   "GET /api/queries never answered 200");
}

static void
start (void)
{
    start_with (NULL);
}

/* ---- HTTP ---------------------------------------------------------------- */

/*  One request; extra is one more header line (may be NULL). */
static long
http (const char *method, const char *path, const char *body, const char *extra,
      hsn_http_resp_t *out)
{
    char url[4096];
    ck_assert_int_lt (snprintf (url, sizeof url, "%s%s", stack->base_url, path),
                      (int) sizeof url);
    const char *headers[] = { "Content-Type: application/json", extra, NULL };
    ck_assert_int_eq (hsn_http (method, url, body, body ? strlen (body) : 0, headers, out), 0);
    return out->status;
}

/*  The request must answer status with a body containing every needle
 *  (NULL-terminated); r is kept for the caller (free it). */
static void
expect (const char *method, const char *path, const char *body, long status,
        hsn_http_resp_t *r, const char *const needles[])
{
    long st = http (method, path, body, NULL, r);
    ck_assert_msg (st == status, "%s %s: want %ld, got %ld: %s", method, path, status, st,
                   r->body);
    for (int i = 0; needles && needles[i]; i++)
        ck_assert_msg (strstr (r->body, needles[i]), "%s %s: no %s in %s", method, path,
                       needles[i], r->body);
}

static void
expect_free (const char *method, const char *path, const char *body, long status,
             const char *const needles[])
{
    hsn_http_resp_t r;
    expect (method, path, body, status, &r, needles);
    hsn_http_resp_free (&r);
}

#define NEEDLES(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* ---- tests --------------------------------------------------------------- */

START_TEST (list_names_every_query_with_its_parameters)
{
    start ();
    expect_free ("GET", "/api/queries", NULL, 200,
                 NEEDLES ("\"queries\":[", "\"name\":\"item_by_name\"",
                          "{\"name\":\"name\",\"type\":\"text\"}", "\"name\":\"item_set_qty\"",
                          "\"cache\":60"));
}
END_TEST

START_TEST (post_runs_a_query_with_json_params)
{
    start ();
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\": {\"name\": \"pear\"}}", 200,
                 NEEDLES ("\"data\":{\"rows\":[{\"id\":2,\"name\":\"pear\",\"qty\":5}],"
                          "\"count\":1}", "\"cached\":false}"));
    /*  A query without parameters runs with no body at all. */
    expect_free ("POST", "/api/queries/item_count", NULL, 200,
                 NEEDLES ("\"rows\":[{\"n\":2}],\"count\":1"));
    expect_free ("POST", "/api/queries/item_count", "{}", 200, NEEDLES ("\"count\":1"));
    /*  A write answers its RETURNING rows. */
    expect_free ("POST", "/api/queries/item_put", "{\"params\":{\"name\":\"fig\",\"qty\":9}}", 200,
                 NEEDLES ("\"rows\":[{\"name\":\"fig\",\"qty\":9}],\"count\":1"));
}
END_TEST

START_TEST (get_is_cacheable_with_etag_and_the_second_read_is_cached)
{
    start ();
    const char *path = "/api/queries/item_by_name?name=apple";
    hsn_http_resp_t a, b, c;
    expect ("GET", path, NULL, 200, &a,
            NEEDLES ("\"data\":{\"rows\":[{\"id\":1,\"name\":\"apple\",\"qty\":3}],\"count\":1}"));
    const char *etag = hsn_http_header (&a, "ETag");
    const char *cc = hsn_http_header (&a, "Cache-Control");
    ck_assert_ptr_nonnull (etag);
    ck_assert_msg (cc && strncmp (cc, "max-age=", 8) == 0 && atoi (cc + 8) >= 1
                   && atoi (cc + 8) <= 60, "Cache-Control: %s", cc ? cc : "(none)");
    /*  Again: from the near-cache or the service's result cache, the same
     *  data and so the same ETag. */
    expect ("GET", path, NULL, 200, &b, NEEDLES ("\"cached\":true}"));
    ck_assert_str_eq (hsn_http_header (&b, "ETag"), etag);
    /*  Empty pieces of a query string change nothing. */
    expect_free ("GET", "/api/queries/item_by_name?&name=apple&", NULL, 200,
                 NEEDLES ("\"cached\":true}"));
    char inm[128];
    snprintf (inm, sizeof inm, "If-None-Match: %s", etag);
    ck_assert_int_eq (http ("GET", path, NULL, inm, &c), 304);
    ck_assert_uint_eq (c.body_len, 0);
    ck_assert_str_eq (hsn_http_header (&c, "ETag"), etag);
    hsn_http_resp_free (&a);
    hsn_http_resp_free (&b);
    hsn_http_resp_free (&c);
    /*  An uncacheable result says no-store. */
    expect ("GET", "/api/queries/item_count", NULL, 200, &a, NEEDLES ("\"cached\":false}"));
    ck_assert_str_eq (hsn_http_header (&a, "Cache-Control"), "no-store");
    hsn_http_resp_free (&a);
}
END_TEST

START_TEST (get_params_are_converted_to_the_declared_types)
{
    start ();
    expect_free ("GET", "/api/queries/item_by_id?id=2", NULL, 200,
                 NEEDLES ("\"rows\":[{\"id\":2,\"name\":\"pear\",\"qty\":5}]"));
    expect_free ("GET", "/api/queries/item_by_id?id=two", NULL, 400,
                 NEEDLES ("\"code\":\"bad_request\"", "id"));
}
END_TEST

/*  The near-cache answers a hot result even with the query service gone. */
START_TEST (near_cache_answers_without_the_query_service)
{
    start ();
    const char *path = "/api/queries/item_by_name?name=pear";
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":5"));
    hsn_http_resp_t r;
    expect ("GET", path, NULL, 200, &r, NEEDLES ("\"qty\":5", "\"cached\":true}"));
    char *first = strdup (hsn_http_header (&r, "ETag"));
    hsn_http_resp_free (&r);
    ck_assert_int_eq (hsn_proc_signal (query, SIGKILL), 0);
    ck_assert_int_eq (hsn_proc_wait (query, 10000, NULL), 0);
    expect ("GET", path, NULL, 200, &r, NEEDLES ("\"qty\":5", "\"cached\":true}"));
    ck_assert_str_eq (hsn_http_header (&r, "ETag"), first);
    hsn_http_resp_free (&r);
    free (first);
}
END_TEST

START_TEST (parameter_order_does_not_matter)
{
    start ();
    hsn_http_resp_t a, b;
    expect ("GET", "/api/queries/item_pair?a=apple&b=pear", NULL, 200, &a,
            NEEDLES ("\"rows\":[{\"name\":\"apple\",\"qty\":3},{\"name\":\"pear\",\"qty\":5}]"));
    expect ("GET", "/api/queries/item_pair?b=pear&a=apple", NULL, 200, &b,
            NEEDLES ("\"cached\":true}"));
    ck_assert_str_eq (hsn_http_header (&a, "ETag"), hsn_http_header (&b, "ETag"));
    hsn_http_resp_free (&a);
    hsn_http_resp_free (&b);
    /*  Swapped values are another result. */
    expect_free ("GET", "/api/queries/item_pair?a=pear&b=fig", NULL, 200,
                 NEEDLES ("\"count\":1", "\"cached\":false}"));
}
END_TEST

static bool
get_fails (void *arg)
{
    hsn_http_resp_t r;
    long st = http ("GET", (const char *) arg, NULL, NULL, &r);
    hsn_http_resp_free (&r);
    return st != 200;
}

/*  A tag invalidation on the channel (what the cache service publishes
 *  for a write through any gateway) empties this gateway's near-cache:
 *  with the query service gone, the result is no longer answered. */
START_TEST (a_tag_invalidation_on_the_channel_drops_near_results)
{
    start ();
    const char *path = "/api/queries/item_by_name?name=pear";
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":5"));
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"cached\":true}"));
    ck_assert_int_eq (hsn_proc_signal (query, SIGKILL), 0);
    ck_assert_int_eq (hsn_proc_wait (query, 10000, NULL), 0);
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":5", "\"cached\":true}"));
    char msg[64];
    int len = hsn_inval_encode (msg, sizeof msg, HSN_INVAL_TAG, 0x5eed, "items", 5);
    ck_assert_int_gt (len, 0);
    redisContext *c = hsn_redis_connect (stack->redis);
    ck_assert_ptr_nonnull (c);
    redisReply *rep = (redisReply *) redisCommand (c, "PUBLISH %s %b", HSN_INVAL_CHANNEL, msg,
                                                   (size_t) len);
    ck_assert_ptr_nonnull (rep);
    ck_assert_int_eq (rep->type, REDIS_REPLY_INTEGER);
    ck_assert_int_ge (rep->integer, 1);
    freeReplyObject (rep);
    redisFree (c);
    ck_assert_msg (hsn_wait_until (get_fails, (void *) path, 10000),
                   "the near-cache kept the result after a tag invalidation");
}
END_TEST

/*  A large result gzipped, fresh and from the near-cache, inflates to the
 *  same data as the plain answer. */
static char *
gunzip (const hsn_http_resp_t *r)
{
    z_stream z;
    memset (&z, 0, sizeof z);
    ck_assert_int_eq (inflateInit2 (&z, 16 + 15), Z_OK);
    size_t cap = 1 << 20;
    char *out = (char *) malloc (cap);
    z.next_in = (Bytef *) r->body;
    z.avail_in = (uInt) r->body_len;
    z.next_out = (Bytef *) out;
    z.avail_out = (uInt) cap - 1;
    ck_assert_int_eq (inflate (&z, Z_FINISH), Z_STREAM_END);
    out[z.total_out] = 0;
    inflateEnd (&z);
    return out;
}

/*  The data member of an envelope (up to ,"meta"), copied. */
static char *
data_of (const char *body)
{
    const char *m = strstr (body, ",\"meta\":");
    ck_assert_ptr_nonnull (m);
    return strndup (body, (size_t) (m - body));
}

START_TEST (gzip_answers_match_the_plain_one)
{
    start ();
    const char *path = "/api/queries/series?n=200";
    hsn_http_resp_t plain, z1, z2;
    expect ("GET", path, NULL, 200, &plain, NEEDLES ("{\"i\":200,"));
    char *want = data_of (plain.body);
    for (int i = 0; i < 2; i++) {
        hsn_http_resp_t *z = i ? &z2 : &z1;
        ck_assert_int_eq (http ("GET", path, NULL, "Accept-Encoding: gzip", z), 200);
        ck_assert_str_eq (hsn_http_header (z, "Content-Encoding"), "gzip");
        ck_assert_str_eq (hsn_http_header (z, "ETag"), hsn_http_header (&plain, "ETag"));
        char *text = gunzip (z);
        char *got = data_of (text);
        ck_assert_str_eq (got, want);
        ck_assert_msg (strstr (text, "\"cached\":true}"), "not cached: %.200s", text);
        free (got);
        free (text);
    }
    free (want);
    hsn_http_resp_free (&plain);
    hsn_http_resp_free (&z1);
    hsn_http_resp_free (&z2);
}
END_TEST

START_TEST (a_write_through_post_is_seen_by_the_next_get)
{
    start ();
    const char *path = "/api/queries/item_by_name?name=apple";
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":3"));
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":3", "\"cached\":true}"));
    expect_free ("POST", "/api/queries/item_set_qty", "{\"params\":{\"name\":\"apple\",\"qty\":7}}",
                 200, NEEDLES ("\"rows\":[{\"name\":\"apple\",\"qty\":7}]"));
    /*  At once: no old copy in the near-cache nor in the result cache. */
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":7", "\"cached\":false}"));
    /*  A batch that writes invalidates too. */
    expect_free ("POST", "/api/queries/_batch",
                 "{\"queries\":[{\"name\":\"item_set_qty\",\"params\":{\"name\":\"apple\","
                 "\"qty\":8}}]}", 200, NEEDLES ("\"qty\":8"));
    expect_free ("GET", path, NULL, 200, NEEDLES ("\"qty\":8"));
}
END_TEST

START_TEST (batch_members_fail_alone)
{
    start ();
    hsn_http_resp_t r;
    expect ("POST", "/api/queries/_batch",
            "{\"queries\": [{\"name\": \"item_by_name\", \"params\": {\"name\": \"pear\"}},"
            "  {\"name\": \"item_put\", \"params\": {\"name\": \"apple\", \"qty\": 1}},"
            "  {\"name\": \"no_such_query\"},"
            "  {\"name\": \"item_by_name\"}]}", 200, &r,
            NEEDLES ("\"data\":{\"results\":[{\"rows\":[{\"id\":2,\"name\":\"pear\",\"qty\":5}],"
                     "\"count\":1,\"cached\":",
                     "{\"error\":{\"code\":\"conflict\"", "\"sqlstate\":\"23505\"",
                     "{\"error\":{\"code\":\"not_found\"", "{\"error\":{\"code\":\"bad_request\""));
    /*  In order: the conflict, then the unknown query, then the missing
     *  parameter. */
    const char *conflict = strstr (r.body, "\"conflict\"");
    ck_assert_ptr_nonnull (strstr (conflict, "\"not_found\""));
    ck_assert_ptr_nonnull (strstr (strstr (conflict, "\"not_found\""), "'name'"));
    hsn_http_resp_free (&r);
    /*  The batch itself must be 1..100 members. */
    expect_free ("POST", "/api/queries/_batch", "{\"queries\": []}", 400,
                 NEEDLES ("\"code\":\"bad_request\""));
    expect_free ("POST", "/api/queries/_batch", "{\"nope\": 1}", 400,
                 NEEDLES ("\"code\":\"bad_request\""));
    char body[8192] = "{\"queries\":[";
    for (int i = 0; i < 101; i++)
        strcat (body, i ? ",{\"name\":\"item_count\"}" : "{\"name\":\"item_count\"}");
    strcat (body, "]}");
    expect_free ("POST", "/api/queries/_batch", body, 400, NEEDLES ("1 to 100"));
}
END_TEST

START_TEST (errors_have_their_status_and_sqlstate)
{
    start ();
    expect_free ("GET", "/api/queries/no_such_query", NULL, 404,
                 NEEDLES ("\"code\":\"not_found\""));
    expect_free ("POST", "/api/queries/no_such_query", "{}", 404,
                 NEEDLES ("\"code\":\"not_found\""));
    /*  Missing, unknown, mistyped parameters: 400 naming it. */
    expect_free ("POST", "/api/queries/item_by_name", "{}", 400,
                 NEEDLES ("\"code\":\"bad_request\"", "'name'"));
    expect_free ("GET", "/api/queries/item_by_name", NULL, 400, NEEDLES ("'name'"));
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\":{\"name\":\"a\",\"x\":1}}",
                 400, NEEDLES ("'x'"));
    expect_free ("POST", "/api/queries/item_put", "{\"params\":{\"name\":\"a\",\"qty\":\"many\"}}",
                 400, NEEDLES ("'qty'"));
    expect_free ("GET", "/api/queries/item_by_name?name=a&name=b", NULL, 400,
                 NEEDLES ("'name' given twice"));
    expect_free ("GET", "/api/queries/item_by_name?na%20me=a", NULL, 400,
                 NEEDLES ("\"code\":\"bad_request\""));
    /*  Bodies. */
    expect_free ("POST", "/api/queries/item_by_name", "[1]", 400, NEEDLES ("{\\\"params\\\""));
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\": [1]}", 400,
                 NEEDLES ("params must be an object"));
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\": {}, \"x\": 1}", 400,
                 NEEDLES ("no other member"));
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\": ", 400,
                 NEEDLES ("\"code\":\"invalid_json\""));
    /*  PostgreSQL's errors: their class's status, and the SQLSTATE. */
    expect_free ("POST", "/api/queries/item_put", "{\"params\":{\"name\":\"apple\",\"qty\":1}}",
                 409, NEEDLES ("\"code\":\"conflict\"", "\"sqlstate\":\"23505\""));
    expect_free ("POST", "/api/queries/item_put", "{\"params\":{\"name\":\"kiwi\",\"qty\":-1}}",
                 409, NEEDLES ("\"sqlstate\":\"23514\""));
    expect_free ("GET", "/api/queries/series?n=x", NULL, 400,
                 NEEDLES ("\"sqlstate\":\"22P02\""));
    /*  A writing query is refused on GET (read-only) and did not run. */
    expect_free ("GET", "/api/queries/item_rename?old=pear&new=plum", NULL, 400,
                 NEEDLES ("\"code\":\"bad_request\""));
    expect_free ("POST", "/api/queries/item_by_name", "{\"params\":{\"name\":\"pear\"}}", 200,
                 NEEDLES ("\"count\":1"));
    /*  Ad-hoc SQL is off unless QUERY_ALLOW_ADHOC. */
    expect_free ("POST", "/api/queries/_sql", "{\"sql\": \"SELECT 1\"}", 403,
                 NEEDLES ("\"code\":\"forbidden\""));
    expect_free ("POST", "/api/queries/_sql", "{\"query\": \"SELECT 1\"}", 400,
                 NEEDLES ("{\\\"sql\\\""));
}
END_TEST

START_TEST (adhoc_sql_runs_read_only_when_allowed)
{
    start_with ("QUERY_ALLOW_ADHOC=true");
    expect_free ("POST", "/api/queries/_sql", "{\"sql\": \"SELECT name FROM items ORDER BY name\"}",
                 200, NEEDLES ("\"rows\":[{\"name\":\"apple\"},{\"name\":\"pear\"}],\"count\":2"));
    hsn_http_resp_t r;
    long st = http ("POST", "/api/queries/_sql", "{\"sql\": \"DELETE FROM items\"}", NULL, &r);
    ck_assert_msg (st >= 400 && st < 500, "DELETE through _sql: %ld %s", st, r.body);
    hsn_http_resp_free (&r);
    expect_free ("POST", "/api/queries/item_count", NULL, 200, NEEDLES ("{\"n\":2}"));
}
END_TEST

START_TEST (injection_strings_are_plain_data)
{
    start ();
    /*  ' OR '1'='1 */
    expect_free ("GET", "/api/queries/item_by_name?name=%27%20OR%20%271%27%3D%271", NULL, 200,
                 NEEDLES ("\"rows\":[],\"count\":0"));
    expect_free ("POST", "/api/queries/item_put",
                 "{\"params\":{\"name\":\"x'); DROP TABLE items; --\",\"qty\":1}}", 200,
                 NEEDLES ("\"name\":\"x'); DROP TABLE items; --\""));
    expect_free ("GET", "/api/queries/item_by_name?name=x%27)%3B+DROP+TABLE+items%3B+--", NULL,
                 200, NEEDLES ("\"name\":\"x'); DROP TABLE items; --\"", "\"count\":1"));
    expect_free ("POST", "/api/queries/item_count", NULL, 200, NEEDLES ("{\"n\":3}"));
}
END_TEST

typedef struct {
    const char *path;
    long want;
    long last;
} post_cond_t;

static bool
post_answers (void *arg)
{
    post_cond_t *c = (post_cond_t *) arg;
    hsn_http_resp_t r;
    c->last = http ("POST", c->path, NULL, NULL, &r);
    hsn_http_resp_free (&r);
    return c->last == c->want;
}

START_TEST (database_down_answers_503_and_recovers)
{
    start ();
    expect_free ("POST", "/api/queries/item_count", NULL, 200, NEEDLES ("{\"n\":2}"));
    ck_assert_int_eq (hsn_pg_kill (pg, SIGKILL), 0);
    /*  Unavailable, not a timeout: the replica knows its database is gone. */
    hsn_http_resp_t r;
    expect ("POST", "/api/queries/item_count", NULL, 503, &r,
            NEEDLES ("\"code\":\"unavailable\""));
    ck_assert_ptr_nonnull (hsn_http_header (&r, "Retry-After"));
    hsn_http_resp_free (&r);
    expect_free ("POST", "/api/queries/item_count", NULL, 503, NEEDLES ("unavailable"));
    ck_assert_int_eq (hsn_pg_restart (pg), 0);
    post_cond_t c = { "/api/queries/item_count", 200, 0 };
    ck_assert_msg (hsn_wait_until (post_answers, &c, 20000),
                   "no 200 within 20 s of PostgreSQL's restart; last %ld", c.last);
    expect_free ("POST", "/api/queries/item_count", NULL, 200, NEEDLES ("{\"n\":2}"));
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *
suite (void)
{
    Suite *s = suite_create ("query");
    struct {
        const char *name;
        const TTest *tests[8];
    } groups[] = {
        { "routes", { list_names_every_query_with_its_parameters,
                      post_runs_a_query_with_json_params,
                      get_params_are_converted_to_the_declared_types } },
        { "caching", { get_is_cacheable_with_etag_and_the_second_read_is_cached,
                       parameter_order_does_not_matter,
                       near_cache_answers_without_the_query_service,
                       a_tag_invalidation_on_the_channel_drops_near_results,
                       gzip_answers_match_the_plain_one,
                       a_write_through_post_is_seen_by_the_next_get } },
        { "batch", { batch_members_fail_alone } },
        { "errors", { errors_have_their_status_and_sqlstate, injection_strings_are_plain_data } },
        { "adhoc", { adhoc_sql_runs_read_only_when_allowed } },
        { "degraded", { database_down_answers_503_and_recovers } },
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        TCase *tc = tcase_create (groups[i].name);
        tcase_add_checked_fixture (tc, NULL, teardown);
        tcase_set_timeout (tc, 120);
        for (int j = 0; j < 8 && groups[i].tests[j]; j++)
            tcase_add_test (tc, groups[i].tests[j]);
        suite_add_tcase (s, tc);
    }
    return s;
}

HSN_TEST_MAIN (suite)
