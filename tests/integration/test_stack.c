/*  The whole path through real processes: HTTP -> gateway -> broker ->
 *  cache replica -> Redis, and health from the monitor; replicas joining,
 *  crashing and stopping; bad input at the edge. */
#include "hsn_stack.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static hsn_stack_t *stack;

static void
setup (void)
{
    stack = hsn_stack_start ("gateway,cache,monitor", true);
    ck_assert_ptr_nonnull (stack);
}

static void
teardown (void)
{
    hsn_stack_stop (&stack);
}

static long
http (const char *method, const char *path, const char *body, hsn_http_resp_t *out)
{
    char url[1024];
    snprintf (url, sizeof url, "%s%s", stack->base_url, path);
    const char *headers[] = { "Content-Type: application/json", NULL };
    ck_assert_int_eq (hsn_http (method, url, body, body ? strlen (body) : 0, headers, out), 0);
    return out->status;
}

static long
status_of (const char *method, const char *path, const char *body)
{
    hsn_http_resp_t r;
    long st = http (method, path, body, &r);
    hsn_http_resp_free (&r);
    return st;
}

typedef struct { const char *service; int want; } up_arg_t;

static bool
replicas_are (void *arg)
{
    up_arg_t *a = (up_arg_t *) arg;
    return hsn_stack_replicas_up (stack, a->service) == a->want;
}

static void
wait_replicas (const char *service, int want, int timeout_ms)
{
    up_arg_t a = { service, want };
    ck_assert_msg (hsn_wait_until (replicas_are, &a, timeout_ms),
                   "%s: expected %d replicas up within %d ms, have %d", service, want,
                   timeout_ms, hsn_stack_replicas_up (stack, service));
}

static bool
stats_coherent (void *arg)
{
    hsn_http_resp_t r;
    if (hsn_stack_get (stack, "/api/cache/stats", &r))
        return false;
    bool yes = r.status == 200 && r.body && strstr (r.body, "\"coherent\":true");
    hsn_http_resp_free (&r);
    return yes;
}

static bool
served_locally (void *path)
{
    hsn_http_resp_t r;
    if (hsn_stack_get (stack, (const char *) path, &r))
        return false;
    bool yes = r.status == 200 && r.body && (strstr (r.body, "\"level\":\"near\"")
                                             || strstr (r.body, "\"level\":\"l1\""));
    hsn_http_resp_free (&r);
    return yes;
}

static hsn_proc_t *
add_cache (void)
{
    hsn_proc_t *p = hsn_stack_add (stack, "hsn-cache", NULL);
    ck_assert_ptr_nonnull (p);
    return p;
}

START_TEST (put_then_get_returns_the_value)
{
    hsn_proc_t *cache = add_cache ();
    wait_replicas ("cache", 1, 5000);
    hsn_http_resp_t r;
    const char *doc = "{\"name\":\"ann\",\"tags\":[1,2.5,true,null,\"x\"],\"n\":{\"deep\":[]}}";
    ck_assert_int_eq (http ("PUT", "/api/cache/users/42?ttl=120", doc, &r), 200);
    ck_assert_ptr_nonnull (strstr (r.body, "\"success\":true"));
    ck_assert_ptr_nonnull (strstr (r.body, "\"ttl\":120"));
    hsn_http_resp_free (&r);

    char url[256];
    snprintf (url, sizeof url, "%s/api/cache/users/42", stack->base_url);
    const char *headers[] = { "X-Request-Id: test-req-1", NULL };
    ck_assert_int_eq (hsn_http ("GET", url, NULL, 0, headers, &r), 0);
    ck_assert_int_eq (r.status, 200);
    char expect[256];
    snprintf (expect, sizeof expect, "\"value\":%s", doc);
    ck_assert_msg (strstr (r.body, expect), "body: %s", r.body);
    /*  Written through this replica's L1 (a miss would read Redis: l2). */
    ck_assert_msg (strstr (r.body, "\"level\":\"l1\"") || strstr (r.body, "\"level\":\"l2\"")
                   || strstr (r.body, "\"level\":\"near\""), "body: %s", r.body);
    ck_assert_ptr_nonnull (strstr (r.body, "\"request_id\":\"test-req-1\""));
    ck_assert_str_eq (hsn_http_header (&r, "X-Request-Id"), "test-req-1");
    const char *cc = hsn_http_header (&r, "Cache-Control");
    ck_assert_ptr_nonnull (cc);
    ck_assert_int_eq (strncmp (cc, "max-age=", 8), 0);
    int max_age = atoi (cc + 8);
    ck_assert (max_age > 0 && max_age <= 120);
    hsn_http_resp_free (&r);

    ck_assert_int_eq (status_of ("DELETE", "/api/cache/users/42", NULL), 200);
    ck_assert_int_eq (status_of ("GET", "/api/cache/users/42", NULL), 404);
    ck_assert_int_eq (status_of ("DELETE", "/api/cache/users/42", NULL), 404);
    (void) cache;
}
END_TEST

static bool
health_says (void *arg)
{
    hsn_http_resp_t r;
    if (hsn_stack_get (stack, "/api/optimization/health", &r))
        return false;
    bool yes = r.status == 200 && r.body && strstr (r.body, (const char *) arg);
    hsn_http_resp_free (&r);
    return yes;
}

START_TEST (health_lists_every_live_replica)
{
    add_cache ();
    wait_replicas ("cache", 1, 5000);
    /*  The replica's first heartbeat may precede its first Redis probe. */
    ck_assert (hsn_wait_until (health_says, "\"redis\":\"up\"", 3000));
    hsn_http_resp_t r;
    ck_assert_int_eq (hsn_stack_get (stack, "/api/optimization/health", &r), 0);
    ck_assert_int_eq (r.status, 200);
    ck_assert_msg (strstr (r.body, "\"status\":\"healthy\""), "body: %s", r.body);
    ck_assert_ptr_nonnull (strstr (r.body, "\"gateway\":{\"status\":\"up\""));
    ck_assert_ptr_nonnull (strstr (r.body, "\"monitor\":{\"status\":\"up\""));
    ck_assert_ptr_nonnull (strstr (r.body, "\"cache\":{\"status\":\"up\""));
    ck_assert_str_eq (hsn_http_header (&r, "Cache-Control"), "no-store");
    hsn_http_resp_free (&r);
}
END_TEST

START_TEST (health_is_503_when_an_expected_service_is_missing)
{
    /*  No cache replica was started, and the stack expects one. */
    hsn_http_resp_t r;
    ck_assert_int_eq (hsn_stack_get (stack, "/api/optimization/health", &r), 0);
    ck_assert_int_eq (r.status, 503);
    ck_assert_ptr_nonnull (strstr (r.body, "\"status\":\"unhealthy\""));
    ck_assert_ptr_nonnull (strstr (r.body, "\"cache\":{\"status\":\"down\""));
    hsn_http_resp_free (&r);
}
END_TEST

START_TEST (replica_joins_and_a_killed_one_leaves_while_requests_succeed)
{
    hsn_proc_t *first = add_cache ();
    wait_replicas ("cache", 1, 5000);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/k/hot", "\"v\""), 200);
    int64_t t0 = hsn_now_ms ();
    add_cache ();
    wait_replicas ("cache", 2, 3000);
    ck_assert_int_le (hsn_now_ms () - t0, 3000);

    /*  SIGKILL the first: no goodbye. Every request still succeeds (the
     *  broker notices the lost connection, or re-dispatches after expiry),
     *  and health drops the replica within 3 s. */
    ck_assert_int_eq (hsn_proc_signal (first, SIGKILL), 0);
    t0 = hsn_now_ms ();
    int failures = 0, done = 0;
    while (hsn_now_ms () - t0 < 1500) {
        failures += status_of ("GET", "/api/cache/k/hot", NULL) != 200;
        done++;
    }
    ck_assert_int_gt (done, 10);
    ck_assert_msg (failures == 0, "%d of %d requests failed after the kill", failures, done);
    wait_replicas ("cache", 1, 3000);
}
END_TEST

START_TEST (sigterm_drains_and_exits_zero)
{
    hsn_proc_t *cache = add_cache ();
    wait_replicas ("cache", 1, 5000);
    ck_assert_int_eq (hsn_proc_signal (cache, SIGTERM), 0);
    int status = -1;
    ck_assert_int_eq (hsn_proc_wait (cache, 10000, &status), 0);
    ck_assert (WIFEXITED (status));
    ck_assert_int_eq (WEXITSTATUS (status), 0);
    ck_assert (hsn_proc_log_contains (cache, "\"stopped\""));
    /*  With no replica left, requests fail fast and clearly. */
    ck_assert_int_eq (status_of ("GET", "/api/cache/k/x", NULL), 503);

    ck_assert_int_eq (hsn_proc_signal (stack->gateway, SIGTERM), 0);
    ck_assert_int_eq (hsn_proc_wait (stack->gateway, 10000, &status), 0);
    ck_assert (WIFEXITED (status));
    ck_assert_int_eq (WEXITSTATUS (status), 0);
}
END_TEST

START_TEST (bad_input_gets_clear_4xx)
{
    add_cache ();
    wait_replicas ("cache", 1, 5000);
    hsn_http_resp_t r;
    ck_assert_int_eq (http ("PUT", "/api/cache/ns/k", "{\"a\":", &r), 400);
    ck_assert_ptr_nonnull (strstr (r.body, "\"code\":\"invalid_json\""));
    hsn_http_resp_free (&r);
    ck_assert_int_eq (http ("PUT", "/api/cache/bad%20ns/k", "1", &r), 400);
    ck_assert_ptr_nonnull (strstr (r.body, "namespace"));
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/k?ttl=abc", "1"), 400);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/k?ttl=0", "1"), 400);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/k", NULL), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/ns/k", "1"), 405);
    ck_assert_int_eq (status_of ("GET", "/api/nothing", NULL), 404);
    ck_assert_int_eq (status_of ("GET", "/api/cache/ns", NULL), 405);

    /*  A key over 512 bytes, a value over 1 MiB, a body over the limit. */
    char path[1024] = "/api/cache/ns/";
    memset (path + strlen (path), 'k', 600);
    ck_assert_int_eq (status_of ("GET", path, NULL), 400);
    size_t big = 1100 * 1024;
    char *value = (char *) malloc (big + 3);
    value[0] = '"';
    memset (value + 1, 'x', big);
    value[big + 1] = '"';
    value[big + 2] = 0;
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/big", value), 413);
    free (value);
    size_t huge = 3 * 1024 * 1024;
    char *body = (char *) malloc (huge + 1);
    memset (body, ' ', huge);
    body[0] = '1';
    body[huge] = 0;
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/huge", body), 413);
    free (body);
    /*  Deeper than the protocol's nesting limit. */
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat (deep, "[");
    for (int i = 0; i < 40; i++)
        strcat (deep, "]");
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/deep", deep), 400);
    /*  And the service is still fine. */
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/ok", "{\"fine\":true}"), 200);
    ck_assert_int_eq (status_of ("GET", "/api/cache/ns/ok", NULL), 200);
}
END_TEST

START_TEST (redis_down_serves_hot_keys_fails_misses_fast_and_recovers)
{
    add_cache ();
    wait_replicas ("cache", 1, 5000);
    /*  Wait until the replica is subscribed to invalidations (it fills L1
     *  only then), then make "a" hot. */
    ck_assert (hsn_wait_until (stats_coherent, NULL, 5000));
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/a", "1"), 200);
    hsn_http_resp_t r;
    /*  Read until it is served locally: near-cache (gateway) or L1. */
    ck_assert (hsn_wait_until (served_locally, "/api/cache/ns/a", 3000));
    ck_assert_int_eq (hsn_redis_kill (stack->redis, SIGKILL), 0);
    int64_t t0 = hsn_now_ms ();
    /*  The hot key is still served; a miss and a write fail fast. */
    ck_assert_int_eq (http ("GET", "/api/cache/ns/a", NULL, &r), 200);
    ck_assert_msg (strstr (r.body, "\"level\":\"near\"") || strstr (r.body, "\"level\":\"l1\""),
                   "body: %s", r.body);
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("GET", "/api/cache/ns/cold", NULL), 503);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ns/b", "2"), 503);
    ck_assert_int_lt (hsn_now_ms () - t0, 1500);

    ck_assert_int_eq (hsn_redis_restart (stack->redis), 0);
    int64_t deadline = hsn_now_ms () + 5000;
    long st = 0;
    while (hsn_now_ms () < deadline && (st = status_of ("PUT", "/api/cache/ns/b", "2")) != 200)
        ;
    ck_assert_int_eq (st, 200);
    ck_assert_int_eq (status_of ("GET", "/api/cache/ns/b", NULL), 200);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("stack");
    TCase *tc = tcase_create ("e2e");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, put_then_get_returns_the_value);
    tcase_add_test (tc, health_lists_every_live_replica);
    tcase_add_test (tc, health_is_503_when_an_expected_service_is_missing);
    tcase_add_test (tc, replica_joins_and_a_killed_one_leaves_while_requests_succeed);
    tcase_add_test (tc, sigterm_drains_and_exits_zero);
    tcase_add_test (tc, bad_input_gets_clear_4xx);
    tcase_add_test (tc, redis_down_serves_hot_keys_fails_misses_fast_and_recovers);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
