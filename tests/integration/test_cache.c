/*  The cache's contract through real processes: HTTP -> gateway (near-cache)
 *  -> broker -> cache replicas (L1) -> Redis (L2), with the invalidation
 *  channel (Redis pub/sub "hsn:inv") keeping the levels coherent.
 *
 *  Every test starts its own stack (near-cache on or off, replicas with the
 *  environment it needs), so each one sees exactly the levels it tests.
 *  Waiting is always hsn_wait_until with a deadline, never a bare sleep.
 *  To put concurrent requests into one batch of a replica, a test may hold
 *  the replica with a bounded Redis write pause (hold_the_replica); what
 *  such a test asserts holds however the requests end up batched.
 */
#include "hsn_stack.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hsn_stack_t *stack;

/* ---- stack --------------------------------------------------------------- */

static void
teardown (void)
{
    hsn_stack_stop (&stack);
}

/*  Start Redis, gateway (near-cache on or off, plus extra "K=V" for it, may
 *  be NULL) and monitor. */
static void
start_stack_env (bool near, const char *extra)
{
    char *env[3] = { NULL, NULL, NULL };
    int n = 0;
    if (!near)
        env[n++] = "GATEWAY_NEAR_CACHE_SIZE=0";
    if (extra)
        env[n++] = (char *) extra;
    stack = hsn_stack_start_env ("gateway,cache,monitor", true, env);
    ck_assert_ptr_nonnull (stack);
}

static void
start_stack (bool near)
{
    start_stack_env (near, NULL);
}

/* ---- HTTP ---------------------------------------------------------------- */

static long
http (const char *method, const char *path, const char *body, hsn_http_resp_t *out)
{
    char url[4096];
    ck_assert_int_lt (snprintf (url, sizeof url, "%s%s", stack->base_url, path),
                      (int) sizeof url);
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

/*  PUT /api/cache/{ns}/{key}{query} with body; the status. */
static long
put (const char *ns, const char *key, const char *query, const char *body)
{
    char path[4096];
    ck_assert_int_lt (snprintf (path, sizeof path, "/api/cache/%s/%s%s", ns, key,
                                query ? query : ""), (int) sizeof path);
    return status_of ("PUT", path, body);
}

static void
put_ok (const char *ns, const char *key, const char *query, const char *body)
{
    long st = put (ns, key, query, body);
    ck_assert_msg (st == 200, "PUT %s/%s%s: %ld", ns, key, query ? query : "", st);
}

/*  One GET of a key, its parts picked out of the envelope's data
 *  {"namespace":..,"key":..,"value":<json>,"level":"..","ttl":N}. */
typedef struct {
    long status;
    char value[256];            /* the value's JSON text ("" when absent) */
    char level[8];              /* "near", "l1", "l2" ("" when absent) */
    long long ttl;              /* -1 when absent */
    char cache_control[64];
    char body[512];             /* the start of the body, for messages */
} got_t;

static void
get_key (const char *ns, const char *key, got_t *g)
{
    char path[2048];
    ck_assert_int_lt (snprintf (path, sizeof path, "/api/cache/%s/%s", ns, key),
                      (int) sizeof path);
    hsn_http_resp_t r;
    memset (g, 0, sizeof *g);
    g->ttl = -1;
    g->status = http ("GET", path, NULL, &r);
    snprintf (g->body, sizeof g->body, "%s", r.body ? r.body : "");
    const char *cc = hsn_http_header (&r, "Cache-Control");
    snprintf (g->cache_control, sizeof g->cache_control, "%s", cc ? cc : "");
    const char *v = r.body ? strstr (r.body, "\"value\":") : NULL;
    const char *l = v ? strstr (v, ",\"level\":\"") : NULL;
    if (v && l) {
        v += strlen ("\"value\":");
        snprintf (g->value, sizeof g->value, "%.*s", (int) (l - v), v);
        l += strlen (",\"level\":\"");
        const char *end = strchr (l, '"');
        if (end)
            snprintf (g->level, sizeof g->level, "%.*s", (int) (end - l), l);
        const char *t = strstr (l, "\"ttl\":");
        if (t)
            g->ttl = strtoll (t + strlen ("\"ttl\":"), NULL, 10);
    }
    hsn_http_resp_free (&r);
}

static bool
level_is (const got_t *g, const char *level)
{
    return strcmp (g->level, level) == 0;
}

/*  GET must answer 200 with value (JSON text); returns the level. */
static void
expect_value (const char *ns, const char *key, const char *value, got_t *g)
{
    get_key (ns, key, g);
    ck_assert_msg (g->status == 200 && strcmp (g->value, value) == 0,
                   "GET %s/%s: want 200 %s, got %ld: %s", ns, key, value, g->status, g->body);
}

static void
expect_status (const char *ns, const char *key, long status)
{
    got_t g;
    get_key (ns, key, &g);
    ck_assert_msg (g.status == status, "GET %s/%s: want %ld, got %ld: %s", ns, key, status,
                   g.status, g.body);
}

/* ---- conditions for hsn_wait_until ----------------------------------------- */

/*  A GET of ns/key answering value (NULL: any) at level (NULL: any). */
typedef struct {
    const char *ns, *key, *value, *level;
    got_t last;
} get_cond_t;

static bool
get_matches (void *arg)
{
    get_cond_t *c = (get_cond_t *) arg;
    get_key (c->ns, c->key, &c->last);
    return c->last.status == 200 && (!c->value || strcmp (c->last.value, c->value) == 0)
           && (!c->level || level_is (&c->last, c->level));
}

/*  Wait until a GET answers value at level. */
static void
wait_get (const char *ns, const char *key, const char *value, const char *level, int ms)
{
    get_cond_t c = { ns, key, value, level, { 0 } };
    ck_assert_msg (hsn_wait_until (get_matches, &c, ms),
                   "GET %s/%s never answered %s at level %s within %d ms; last: %ld %s",
                   ns, key, value ? value : "(any)", level ? level : "(any)", ms,
                   c.last.status, c.last.body);
}

typedef struct {
    const char *ns, *key;
    long status;
} status_cond_t;

static bool
get_status_is (void *arg)
{
    status_cond_t *c = (status_cond_t *) arg;
    got_t g;
    get_key (c->ns, c->key, &g);
    return g.status == c->status;
}

typedef struct {
    const char *ns, *key, *query, *body;
} put_cond_t;

static bool
put_succeeds (void *arg)
{
    put_cond_t *c = (put_cond_t *) arg;
    return put (c->ns, c->key, c->query, c->body) == 200;
}

/* ---- replica stats (/api/cache/stats, answered by one replica) ------------ */

/*  The body of one stats answer (caller frees), or NULL. */
static char *
stats_body (void)
{
    hsn_http_resp_t r;
    if (hsn_stack_get (stack, "/api/cache/stats", &r))
        return NULL;
    char *body = r.status == 200 && r.body ? strdup (r.body) : NULL;
    hsn_http_resp_free (&r);
    return body;
}

/*  A number in a stats body; -1 when absent. */
static long long
stat_of (const char *body, const char *name)
{
    char needle[64];
    snprintf (needle, sizeof needle, "\"%s\":", name);
    const char *p = body ? strstr (body, needle) : NULL;
    return p ? strtoll (p + strlen (needle), NULL, 10) : -1;
}

/*  Consecutive stats answers that must say coherent: with several replicas
 *  the broker spreads them, so a run of them covers every replica. */
typedef struct {
    int want, run;
} coherent_cond_t;

static bool
coherent_run (void *arg)
{
    coherent_cond_t *c = (coherent_cond_t *) arg;
    char *body = stats_body ();
    bool yes = body && strstr (body, "\"coherent\":true");
    free (body);
    c->run = yes ? c->run + 1 : 0;
    return c->run >= c->want;
}

static void
wait_coherent (int consecutive, int ms)
{
    coherent_cond_t c = { consecutive, 0 };
    ck_assert_msg (hsn_wait_until (coherent_run, &c, ms),
                   "replicas not all coherent (subscribed) within %d ms", ms);
}

typedef struct {
    const char *name;
    long long min;
    long long last;
} stat_cond_t;

static bool
stat_at_least (void *arg)
{
    stat_cond_t *c = (stat_cond_t *) arg;
    char *body = stats_body ();
    c->last = stat_of (body, c->name);
    free (body);
    return c->last >= c->min;
}

/* ---- replicas ------------------------------------------------------------- */

typedef struct {
    int want;
} up_cond_t;

static bool
replicas_are (void *arg)
{
    return hsn_stack_replicas_up (stack, "cache") == ((up_cond_t *) arg)->want;
}

/*  Start n cache replicas with env (may be NULL), wait until health lists
 *  them all up and every one is subscribed to the invalidation channel. */
static void
start_replicas (int n, char *const env[])
{
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull (hsn_stack_add (stack, "hsn-cache", env));
    up_cond_t u = { n };
    ck_assert_msg (hsn_wait_until (replicas_are, &u, 10000), "want %d cache replicas up, have %d",
                   n, hsn_stack_replicas_up (stack, "cache"));
    wait_coherent (n == 1 ? 1 : 10 * n, 10000);
}

/* ---- Redis, behind the services' back ------------------------------------- */

static redisContext *
redis (void)
{
    redisContext *c = hsn_redis_connect (stack->redis);
    ck_assert_ptr_nonnull (c);
    return c;
}

/*  SET hsn:c:<ns>:<key> to stored (msgpack [value, [tags]]) with EX ex. */
static void
redis_store (redisContext *c, const char *ns, const char *key, const char *stored, size_t len,
             int ex)
{
    char rkey[1024];
    snprintf (rkey, sizeof rkey, "hsn:c:%s:%s", ns, key);
    redisReply *r = (redisReply *) redisCommand (c, "SET %s %b EX %d", rkey, stored, len, ex);
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (r->type == REDIS_REPLY_STATUS, "SET %s failed", rkey);
    freeReplyObject (r);
}

/*  Publish a key invalidation "k" + origin + "ns:key", as a replica of
 *  another origin would. */
static void
redis_invalidate (redisContext *c, const char *ns, const char *key)
{
    char msg[1024];
    snprintf (msg, sizeof msg, "k%s%s:%s", "0123456789abcdef", ns, key);
    redisReply *r = (redisReply *) redisCommand (c, "PUBLISH hsn:inv %s", msg);
    ck_assert_ptr_nonnull (r);
    ck_assert_int_eq (r->type, REDIS_REPLY_INTEGER);
    freeReplyObject (r);
}

static long long
redis_int (redisContext *c, const char *cmd)
{
    redisReply *r = (redisReply *) redisCommand (c, cmd);
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (r->type == REDIS_REPLY_INTEGER, "%s: not an integer", cmd);
    long long v = r->integer;
    freeReplyObject (r);
    return v;
}

/*  Calls of one command since the last CONFIG RESETSTAT ("get": GET). */
static long long
redis_calls (redisContext *c, const char *command)
{
    redisReply *r = (redisReply *) redisCommand (c, "INFO commandstats");
    ck_assert_ptr_nonnull (r);
    ck_assert_int_eq (r->type, REDIS_REPLY_STRING);
    char needle[64];
    snprintf (needle, sizeof needle, "cmdstat_%s:calls=", command);
    const char *p = strstr (r->str, needle);
    long long n = p ? strtoll (p + strlen (needle), NULL, 10) : 0;
    freeReplyObject (r);
    return n;
}

static void
redis_ok (redisContext *c, const char *cmd)
{
    redisReply *r = (redisReply *) redisCommand (c, cmd);
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (r->type == REDIS_REPLY_STATUS, "%s failed", cmd);
    freeReplyObject (r);
}

/*  msgpack ["hi", []] and ["new", []]: values stored the replicas' way. */
#define STORED_HI      "\x92\xa2hi\x90"
#define STORED_NEW     "\x92\xa3new\x90"

/* ---- holding a replica, concurrent requests ------------------------------- */

/*  An HTTP request on its own thread. */
typedef struct {
    char path[256];
    const char *method, *body;
    long status;
    char reply[256];            /* the start of the response body */
    pthread_t thread;
} async_t;

static void *
async_run (void *arg)
{
    async_t *a = (async_t *) arg;
    char url[512];
    snprintf (url, sizeof url, "%s%s", stack->base_url, a->path);
    hsn_http_resp_t r;
    a->status = hsn_http (a->method, url, a->body, a->body ? strlen (a->body) : 0, NULL, &r)
                ? -1 : r.status;
    snprintf (a->reply, sizeof a->reply, "%s", r.body ? r.body : "");
    hsn_http_resp_free (&r);
    return NULL;
}

static void
async_start (async_t *a, const char *method, const char *path, const char *body)
{
    a->method = method;
    a->body = body;
    a->status = 0;
    a->reply[0] = 0;
    snprintf (a->path, sizeof a->path, "%s", path);
    ck_assert_int_eq (pthread_create (&a->thread, NULL, async_run, a), 0);
}

static bool
redis_has_blocked_client (void *arg)
{
    redisReply *r = (redisReply *) redisCommand ((redisContext *) arg, "INFO clients");
    bool yes = r && r->type == REDIS_REPLY_STRING && !strstr (r->str, "blocked_clients:0");
    if (r)
        freeReplyObject (r);
    return yes;
}

/*  A replica that can be held (below) without being taken for dead: its
 *  heartbeat interval, which the broker judges it by, is 1 s. And a gateway
 *  that lets every request held meanwhile through to the broker. */
static char *holdable_env[] = { "HEARTBEAT_INTERVAL_MS=1000", NULL };
#define HOLDABLE_GATEWAY "MAX_CONCURRENT_OPERATIONS=1000"

/*  Hold the only replica: Redis pauses writes for 400 ms (well under the
 *  replica's 1 s Redis timeout and 3 of its heartbeats) and a PUT, started
 *  here, keeps the replica waiting in its pipeline. Requests that arrive
 *  meanwhile are served in one batch once the pause ends. Join
 *  blocker->thread later. */
static void
hold_the_replica (redisContext *c, async_t *blocker)
{
    redis_ok (c, "CLIENT PAUSE 400 WRITE");
    async_start (blocker, "PUT", "/api/cache/blocker/k", "1");
    ck_assert_msg (hsn_wait_until (redis_has_blocked_client, c, 350),
                   "the replica's write never reached the paused Redis");
}

/*  Single-flight: FLIGHT GETs, each its own HTTP request on its own thread,
 *  let go together by a barrier. */
#define FLIGHT 50

typedef struct {
    pthread_barrier_t *barrier;
    const char *url;
    long status;
    bool value_ok;
    int rc;
} flight_t;

static void *
flight_get (void *arg)
{
    flight_t *f = (flight_t *) arg;
    hsn_http_resp_t r;
    pthread_barrier_wait (f->barrier);
    f->rc = hsn_http ("GET", f->url, NULL, 0, NULL, &r);
    if (f->rc == 0) {
        f->status = r.status;
        f->value_ok = r.body && strstr (r.body, "\"value\":\"hi\"");
        hsn_http_resp_free (&r);
    }
    return NULL;
}

/* ---- 1. levels ------------------------------------------------------------- */

START_TEST (near_cache_answers_hot_reads)
{
    start_stack (true);
    start_replicas (1, NULL);
    put_ok ("ns", "k", "?ttl=60", "{\"a\":1}");
    wait_get ("ns", "k", "{\"a\":1}", "near", 3000);
    got_t g;
    expect_value ("ns", "k", "{\"a\":1}", &g);
    ck_assert_msg (level_is (&g, "near"), "a near hit stays in the near-cache: %s", g.body);
    ck_assert_msg (g.ttl >= 1 && g.ttl <= 60, "ttl %lld", g.ttl);
    ck_assert_int_eq (strncmp (g.cache_control, "max-age=", 8), 0);
}
END_TEST

START_TEST (replica_answers_from_l1_then_l2_after_an_invalidation)
{
    start_stack (false);
    start_replicas (1, NULL);
    /*  Write-through: the replica that wrote answers from its L1. */
    put_ok ("ns", "k", "?ttl=60", "\"v1\"");
    got_t g;
    expect_value ("ns", "k", "\"v1\"", &g);
    ck_assert_msg (level_is (&g, "l1"), "after a PUT: %s", g.body);

    /*  Another writer: the value changes in Redis and the key is
     *  announced. The first read that sees the new value must come from
     *  Redis (L1 dropped the key), the next one from L1 again. */
    redisContext *c = redis ();
    redis_store (c, "ns", "k", STORED_HI, sizeof STORED_HI - 1, 60);
    redis_invalidate (c, "ns", "k");
    redisFree (c);
    get_cond_t cond = { "ns", "k", "\"hi\"", NULL, { 0 } };
    ck_assert_msg (hsn_wait_until (get_matches, &cond, 3000), "never saw the new value: %s",
                   cond.last.body);
    ck_assert_msg (level_is (&cond.last, "l2"), "first read of the new value: %s",
                   cond.last.body);
    ck_assert_msg (cond.last.ttl >= 1 && cond.last.ttl <= 60, "ttl %lld", cond.last.ttl);
    expect_value ("ns", "k", "\"hi\"", &g);
    ck_assert_msg (level_is (&g, "l1"), "read after an L2 read: %s", g.body);
}
END_TEST

/* ---- 2. TTL -------------------------------------------------------------- */

START_TEST (ttl_expires_through_l1)
{
    start_stack (false);
    start_replicas (1, NULL);
    put_ok ("ns", "short", "?ttl=1", "\"brief\"");
    got_t g;
    expect_value ("ns", "short", "\"brief\"", &g);
    ck_assert_msg (g.ttl == 1, "remaining ttl right after PUT ?ttl=1: %s", g.body);
    ck_assert_str_eq (g.cache_control, "max-age=1");
    status_cond_t gone = { "ns", "short", 404 };
    ck_assert_msg (hsn_wait_until (get_status_is, &gone, 5000), "still there after 5 s");
    /*  A longer-lived neighbour is untouched. */
    put_ok ("ns", "long", "?ttl=600", "1");
    expect_value ("ns", "long", "1", &g);
    ck_assert_msg (g.ttl > 1 && g.ttl <= 600, "ttl %lld", g.ttl);
}
END_TEST

START_TEST (ttl_expires_through_the_near_cache)
{
    start_stack (true);
    start_replicas (1, NULL);
    put_ok ("ns", "short", "?ttl=1", "\"brief\"");
    got_t g;
    expect_value ("ns", "short", "\"brief\"", &g);
    ck_assert_msg (g.ttl == 1, "remaining ttl right after PUT ?ttl=1: %s", g.body);
    status_cond_t gone = { "ns", "short", 404 };
    ck_assert_msg (hsn_wait_until (get_status_is, &gone, 5000), "still there after 5 s");

    /*  ttl=2 is long enough for a near copy (kept one second less). */
    put_ok ("ns", "two", "?ttl=2", "\"x\"");
    wait_get ("ns", "two", "\"x\"", "near", 900);
    gone.key = "two";
    ck_assert_msg (hsn_wait_until (get_status_is, &gone, 5000), "near copy outlived its ttl");
}
END_TEST

/* ---- 3. eviction ---------------------------------------------------------- */

START_TEST (l1_evicts_at_max_size_and_l2_still_answers)
{
    start_stack (false);
    char *env[] = { "CACHE_MAX_SIZE=3", NULL };
    start_replicas (1, env);
    char key[16], value[16];
    for (int i = 0; i < 6; i++) {
        snprintf (key, sizeof key, "k%d", i);
        snprintf (value, sizeof value, "%d", i * 11);
        put_ok ("ev", key, "?ttl=60", value);
    }
    char *body = stats_body ();
    ck_assert_ptr_nonnull (body);
    long long entries = stat_of (body, "l1_entries"), evictions = stat_of (body, "l1_evictions");
    ck_assert_msg (entries >= 1 && entries <= 3 && evictions >= 3, "stats: %s", body);
    free (body);
    /*  k0 was the least recently used: evicted, so read from Redis. */
    got_t g;
    expect_value ("ev", "k0", "0", &g);
    ck_assert_msg (level_is (&g, "l2"), "the evicted k0: %s", g.body);
    for (int i = 0; i < 6; i++) {
        snprintf (key, sizeof key, "k%d", i);
        snprintf (value, sizeof value, "%d", i * 11);
        expect_value ("ev", key, value, &g);
    }
    body = stats_body ();
    ck_assert_msg (stat_of (body, "l1_entries") <= 3, "stats: %s", body);
    free (body);
}
END_TEST

/* ---- 4, 5. coherence across replicas ------------------------------------- */

/*  Read key until n reads answered value from a replica (l1 or l2);
 *  returns how many of them came from Redis. */
static int
warm_replicas (const char *ns, const char *key, const char *value, int n)
{
    int l2 = 0;
    for (int i = 0; i < n; i++) {
        got_t g;
        expect_value (ns, key, value, &g);
        ck_assert_msg (level_is (&g, "l1") || level_is (&g, "l2"), "read %d: %s", i, g.body);
        l2 += level_is (&g, "l2");
    }
    return l2;
}

START_TEST (a_write_reaches_every_replica_l1)
{
    start_stack (false);
    start_replicas (2, NULL);
    put_ok ("co", "k", "?ttl=120", "\"v1\"");
    /*  The writer has v1 in L1; the other replica reads Redis once. */
    int l2 = warm_replicas ("co", "k", "\"v1\"", 20);
    ck_assert_msg (l2 <= 2, "%d of 20 reads went to Redis: L1 does not hold the key", l2);

    put_ok ("co", "k", "?ttl=120", "\"v2\"");
    int64_t t0 = hsn_now_ms ();
    wait_get ("co", "k", "\"v2\"", NULL, 2000);
    int64_t window = hsn_now_ms () - t0;
    for (int i = 0; i < 100; i++) {
        got_t g;
        expect_value ("co", "k", "\"v2\"", &g);
    }
    printf ("cache coherence: 2 replicas, v2 visible everywhere %" PRId64 " ms after the "
            "PUT returned\n", window);
}
END_TEST

START_TEST (a_write_through_the_gateway_drops_its_near_copy)
{
    start_stack (true);
    start_replicas (2, NULL);
    put_ok ("co", "k", "?ttl=120", "\"v1\"");
    wait_get ("co", "k", "\"v1\"", "near", 3000);
    put_ok ("co", "k", "?ttl=120", "\"v2\"");
    got_t g;
    expect_value ("co", "k", "\"v2\"", &g);
    int near = 0;
    for (int i = 0; i < 100; i++) {
        expect_value ("co", "k", "\"v2\"", &g);
        near += level_is (&g, "near");
    }
    ck_assert_msg (near > 0, "the near-cache never took v2 back");
}
END_TEST

/* ---- a write batched after reads of its key ---------------------------------- */
/*  Reads of ns/k and then `method path body` land in one batch of the only
 *  replica. The reads miss L1 and read Redis before the write in the same
 *  pipeline; after the write's reply L1 must not hold what they read. */
static void
write_after_reads_in_one_batch (const char *ns, const char *method, const char *path,
                                const char *body)
{
    redisContext *c = redis ();
    redis_store (c, ns, "k", "\x92\xa2hi\x91\xa3tgb", 9, 120);
    char member[80], cmd[160];
    snprintf (member, sizeof member, "%s:k", ns);
    snprintf (cmd, sizeof cmd, "SADD hsn:t:tgb %s", member);
    ck_assert_int_eq (redis_int (c, cmd), 1);
    async_t blocker, reads[8], write;
    hold_the_replica (c, &blocker);
    char kpath[128];
    snprintf (kpath, sizeof kpath, "/api/cache/%s/k", ns);
    for (int i = 0; i < 8; i++)
        async_start (&reads[i], "GET", kpath, NULL);
    async_start (&write, method, path, body);
    pthread_join (blocker.thread, NULL);
    for (int i = 0; i < 8; i++)
        pthread_join (reads[i].thread, NULL);
    pthread_join (write.thread, NULL);
    redisFree (c);
    ck_assert_msg (blocker.status == 200, "blocker: %ld %s", blocker.status, blocker.reply);
    for (int i = 0; i < 8; i++)
        ck_assert_msg (reads[i].status == 200 || reads[i].status == 404, "read %d: %ld", i,
                       reads[i].status);
    ck_assert_msg (write.status == 200, "%s %s: %ld %s", method, path, write.status, write.reply);
    for (int i = 0; i < 5; i++)
        expect_status (ns, "k", 404);
}

START_TEST (a_delete_batched_after_reads_leaves_nothing_in_l1)
{
    start_stack_env (false, HOLDABLE_GATEWAY);
    start_replicas (1, holdable_env);
    write_after_reads_in_one_batch ("bd", "DELETE", "/api/cache/bd/k", NULL);
    write_after_reads_in_one_batch ("bt", "POST", "/api/cache/_invalidate",
                                    "{\"tags\":[\"tgb\"]}");
    write_after_reads_in_one_batch ("bn", "DELETE", "/api/cache/bn", NULL);
}
END_TEST

/* ---- 6. single-flight ------------------------------------------------------ */

START_TEST (concurrent_misses_read_redis_once)
{
    start_stack_env (false, HOLDABLE_GATEWAY);
    start_replicas (1, holdable_env);
    redisContext *c = redis ();
    redis_store (c, "sf", "k", STORED_HI, sizeof STORED_HI - 1, 120);
    redis_ok (c, "CONFIG RESETSTAT");

    /*  While the replica is held the GETs queue up, so they meet in one
     *  batch: without single-flight that batch would read Redis 50 times.
     *  (Any that come later are L1 hits: 1 is right either way.) */
    async_t blocker;
    hold_the_replica (c, &blocker);
    char url[256];
    snprintf (url, sizeof url, "%s/api/cache/sf/k", stack->base_url);
    pthread_barrier_t barrier;
    ck_assert_int_eq (pthread_barrier_init (&barrier, NULL, FLIGHT), 0);
    flight_t f[FLIGHT];
    pthread_t th[FLIGHT];
    for (int i = 0; i < FLIGHT; i++) {
        f[i] = (flight_t) { &barrier, url, 0, false, -1 };
        ck_assert_int_eq (pthread_create (&th[i], NULL, flight_get, &f[i]), 0);
    }
    for (int i = 0; i < FLIGHT; i++)
        pthread_join (th[i], NULL);
    pthread_join (blocker.thread, NULL);
    pthread_barrier_destroy (&barrier);
    ck_assert_msg (blocker.status == 200, "blocker: %ld %s", blocker.status, blocker.reply);
    for (int i = 0; i < FLIGHT; i++)
        ck_assert_msg (f[i].rc == 0 && f[i].status == 200 && f[i].value_ok,
                       "request %d: rc %d status %ld value %s", i, f[i].rc, f[i].status,
                       f[i].value_ok ? "ok" : "wrong");
    long long gets = redis_calls (c, "get");
    redisFree (c);
    char *body = stats_body ();
    printf ("single-flight: %d concurrent GETs, %lld Redis GET, %lld coalesced\n", FLIGHT,
            gets, stat_of (body, "coalesced"));
    free (body);
    ck_assert_msg (gets == 1, "%d concurrent misses of one key made %lld Redis GETs", FLIGHT,
                   gets);
}
END_TEST

/* ---- 7. tags ------------------------------------------------------------- */

START_TEST (tag_invalidation_drops_every_level)
{
    start_stack (true);
    start_replicas (2, NULL);
    put_ok ("tg", "a", "?ttl=120&tags=t1", "\"A\"");
    put_ok ("tg", "b", "?ttl=120&tags=t1,x", "\"B\"");
    put_ok ("tg", "c", "?ttl=120&tags=t2", "\"C\"");
    /*  Into the near-cache and both replicas' L1. */
    wait_get ("tg", "a", "\"A\"", "near", 3000);
    wait_get ("tg", "b", "\"B\"", "near", 3000);
    wait_get ("tg", "c", "\"C\"", "near", 3000);

    hsn_http_resp_t r;
    ck_assert_int_eq (http ("POST", "/api/cache/_invalidate", "{\"tags\":[\"t1\"]}", &r), 200);
    ck_assert_msg (strstr (r.body, "\"invalidated\":2"), "body: %s", r.body);
    hsn_http_resp_free (&r);
    for (int i = 0; i < 10; i++) {
        expect_status ("tg", "a", 404);
        expect_status ("tg", "b", 404);
        got_t g;
        expect_value ("tg", "c", "\"C\"", &g);
    }
    redisContext *c = redis ();
    ck_assert_int_eq (redis_int (c, "EXISTS hsn:t:t1"), 0);
    ck_assert_int_eq (redis_int (c, "EXISTS hsn:c:tg:a hsn:c:tg:b"), 0);
    ck_assert_int_eq (redis_int (c, "EXISTS hsn:c:tg:c"), 1);
    redisFree (c);
    /*  The tag is gone: invalidating it again finds nothing. */
    ck_assert_int_eq (http ("POST", "/api/cache/_invalidate", "{\"tags\":[\"t1\"]}", &r), 200);
    ck_assert_msg (strstr (r.body, "\"invalidated\":0"), "body: %s", r.body);
    hsn_http_resp_free (&r);
    /*  Without the near-cache in the way: the replicas' L1 dropped them too. */
    ck_assert_int_eq (http ("POST", "/api/cache/_invalidate", "{\"tags\":[\"t2\"]}", &r), 200);
    ck_assert_msg (strstr (r.body, "\"invalidated\":1"), "body: %s", r.body);
    hsn_http_resp_free (&r);
    for (int i = 0; i < 10; i++)
        expect_status ("tg", "c", 404);
}
END_TEST

START_TEST (tag_invalidation_reaches_the_other_replica_l1)
{
    start_stack (false);
    start_replicas (2, NULL);
    put_ok ("tg", "a", "?ttl=120&tags=t1", "\"A\"");
    put_ok ("tg", "c", "?ttl=120&tags=t2", "\"C\"");
    warm_replicas ("tg", "a", "\"A\"", 10);
    warm_replicas ("tg", "c", "\"C\"", 10);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{\"tags\":[\"t1\"]}"), 200);
    /*  The replica that ran it dropped a at once; the other one on the
     *  channel's message, which left Redis before the reply did. */
    status_cond_t gone = { "tg", "a", 404 };
    ck_assert (hsn_wait_until (get_status_is, &gone, 2000));
    for (int i = 0; i < 20; i++) {
        expect_status ("tg", "a", 404);
        got_t g;
        expect_value ("tg", "c", "\"C\"", &g);
    }
}
END_TEST

/* ---- 8. namespace delete ---------------------------------------------------- */

START_TEST (deleting_a_namespace_drops_only_its_keys)
{
    start_stack (true);
    start_replicas (1, NULL);
    put_ok ("ns1", "a", "?ttl=120", "1");
    put_ok ("ns1", "b", "?ttl=120", "2");
    put_ok ("ns1", "c", "?ttl=120", "3");
    put_ok ("ns2", "a", "?ttl=120", "4");
    put_ok ("ns2", "b", "?ttl=120", "5");
    /*  A prefix of ns1 that is another namespace. */
    put_ok ("ns10", "a", "?ttl=120", "6");
    wait_get ("ns1", "a", "1", "near", 3000);
    wait_get ("ns2", "a", "4", "near", 3000);

    hsn_http_resp_t r;
    ck_assert_int_eq (http ("DELETE", "/api/cache/ns1", NULL, &r), 200);
    ck_assert_msg (strstr (r.body, "\"deleted\":3"), "body: %s", r.body);
    hsn_http_resp_free (&r);
    for (int i = 0; i < 5; i++) {
        expect_status ("ns1", "a", 404);
        expect_status ("ns1", "b", 404);
        expect_status ("ns1", "c", 404);
        got_t g;
        expect_value ("ns2", "a", "4", &g);
        expect_value ("ns2", "b", "5", &g);
        expect_value ("ns10", "a", "6", &g);
    }
    ck_assert_int_eq (http ("DELETE", "/api/cache/ns1", NULL, &r), 200);
    ck_assert_msg (strstr (r.body, "\"deleted\":0"), "body: %s", r.body);
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("DELETE", "/api/cache/bad%20ns", NULL), 400);
}
END_TEST

/* ---- 9. mget ---------------------------------------------------------------- */

START_TEST (mget_returns_found_items_and_nulls)
{
    start_stack (true);
    start_replicas (1, NULL);
    put_ok ("mg", "a", "?ttl=120", "{\"x\":1}");
    put_ok ("mg", "b", "?ttl=120", "[1,2]");
    hsn_http_resp_t r;
    ck_assert_int_eq (http ("POST", "/api/cache/mg/_mget",
                            "{\"keys\":[\"a\",\"missing\",\"b\"]}", &r), 200);
    ck_assert_msg (strstr (r.body, "\"namespace\":\"mg\""), "body: %s", r.body);
    ck_assert_msg (strstr (r.body, "\"a\":{\"value\":{\"x\":1},\"ttl\":"), "body: %s", r.body);
    ck_assert_msg (strstr (r.body, "\"missing\":null"), "body: %s", r.body);
    ck_assert_msg (strstr (r.body, "\"b\":{\"value\":[1,2],\"ttl\":"), "body: %s", r.body);
    hsn_http_resp_free (&r);

    /*  Bad bodies. */
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "{}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "{\"keys\":\"a\"}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "{\"keys\":[]}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "{\"keys\":[1]}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "[\"a\"]"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", "{\"keys\":["), 400);
    size_t cap = 16 + 1001 * 8;
    char *body = (char *) malloc (cap);
    size_t n = (size_t) snprintf (body, cap, "{\"keys\":[");
    for (int i = 0; i < 1001; i++)
        n += (size_t) snprintf (body + n, cap - n, "%s\"k%d\"", i ? "," : "", i);
    snprintf (body + n, cap - n, "]}");
    ck_assert_int_eq (status_of ("POST", "/api/cache/mg/_mget", body), 400);
    /*  1000 keys is the limit, and fine. */
    char *last = strstr (body, ",\"k1000\"");
    ck_assert_ptr_nonnull (last);
    strcpy (last, "]}");
    ck_assert_int_eq (http ("POST", "/api/cache/mg/_mget", body, &r), 200);
    ck_assert_msg (strstr (r.body, "\"k999\":null"), "body end: %s", r.body + r.body_len - 64);
    hsn_http_resp_free (&r);
    free (body);
}
END_TEST

/* ---- 10. losing the invalidation channel ------------------------------------- */

START_TEST (losing_the_channel_flushes_l1_and_resubscribes)
{
    start_stack (false);
    start_replicas (1, NULL);
    put_ok ("ch", "k", "?ttl=120", "\"old\"");
    wait_get ("ch", "k", "\"old\"", "l1", 3000);
    char *body = stats_body ();
    long long flushes = stat_of (body, "l1_flushes");
    free (body);
    ck_assert_int_ge (flushes, 0);

    redisContext *c = redis ();
    ck_assert_int_ge (redis_int (c, "CLIENT KILL TYPE pubsub"), 1);
    /*  Redis still answers, so the replica must assume it misses writes. */
    stat_cond_t fl = { "l1_flushes", flushes + 1, -1 };
    ck_assert_msg (hsn_wait_until (stat_at_least, &fl, 3000), "no L1 flush (l1_flushes %lld)",
                   fl.last);
    /*  A write it could not hear: L1 must not answer the old value. */
    redis_store (c, "ch", "k", STORED_NEW, sizeof STORED_NEW - 1, 120);
    redisFree (c);
    got_t g;
    expect_value ("ch", "k", "\"new\"", &g);
    ck_assert_msg (level_is (&g, "l2"), "after the flush: %s", g.body);

    /*  Back on the channel within a few heartbeats, and filling L1 again. */
    wait_coherent (1, 5000);
    wait_get ("ch", "k", "\"new\"", "l1", 3000);
    put_ok ("ch", "k", "?ttl=120", "\"newer\"");
    expect_value ("ch", "k", "\"newer\"", &g);
}
END_TEST

START_TEST (a_replica_off_the_channel_fills_nothing_into_l1)
{
    start_stack (false);
    start_replicas (1, NULL);
    put_ok ("df", "k", "?ttl=120", "\"old\"");
    wait_get ("df", "k", "\"old\"", "l1", 3000);

    /*  Off the channel and kept off (SUBSCRIBE refused), Redis answering. */
    redisContext *c = redis ();
    redis_ok (c, "ACL SETUSER default -subscribe");
    ck_assert_int_ge (redis_int (c, "CLIENT KILL TYPE pubsub"), 1);
    stat_cond_t fl = { "l1_flushes", 1, -1 };
    ck_assert_msg (hsn_wait_until (stat_at_least, &fl, 3000), "no L1 flush");
    char *body = stats_body ();
    ck_assert_msg (body && strstr (body, "\"coherent\":false"), "stats: %s", body);
    free (body);

    /*  Neither reads nor writes may fill L1: it could not hear the next
     *  write. Every answer comes from Redis. */
    redis_store (c, "df", "k", STORED_NEW, sizeof STORED_NEW - 1, 120);
    got_t g;
    for (int i = 0; i < 5; i++) {
        expect_value ("df", "k", "\"new\"", &g);
        ck_assert_msg (level_is (&g, "l2"), "read %d while deaf: %s", i, g.body);
    }
    put_ok ("df", "w", "?ttl=120", "\"written\"");
    expect_value ("df", "w", "\"written\"", &g);
    ck_assert_msg (level_is (&g, "l2"), "a write while deaf went into L1: %s", g.body);
    body = stats_body ();
    ck_assert_msg (stat_of (body, "l1_entries") == 0, "stats: %s", body);
    free (body);

    /*  Allowed again: back on the channel, and L1 fills again. */
    redis_ok (c, "ACL SETUSER default +subscribe");
    redisFree (c);
    wait_coherent (1, 5000);
    wait_get ("df", "k", "\"new\"", "l1", 3000);
}
END_TEST

/* ---- 11. degraded mode ---------------------------------------------------- */

START_TEST (redis_down_serves_hot_keys_and_recovers)
{
    start_stack (true);
    start_replicas (1, NULL);
    put_ok ("dg", "hot", "?ttl=120", "\"before\"");
    wait_get ("dg", "hot", "\"before\"", "near", 3000);

    ck_assert_int_eq (hsn_redis_kill (stack->redis, SIGKILL), 0);
    got_t g;
    expect_value ("dg", "hot", "\"before\"", &g);
    ck_assert_msg (level_is (&g, "near") || level_is (&g, "l1"), "hot key: %s", g.body);
    expect_status ("dg", "cold", 503);
    ck_assert_int_eq (put ("dg", "other", "?ttl=120", "1"), 503);
    ck_assert_int_eq (status_of ("DELETE", "/api/cache/dg/hot", NULL), 503);
    /*  Still served while Redis is down. */
    expect_value ("dg", "hot", "\"before\"", &g);

    ck_assert_int_eq (hsn_redis_restart (stack->redis), 0);
    put_cond_t w = { "dg", "hot", "?ttl=120", "\"after\"" };
    ck_assert_msg (hsn_wait_until (put_succeeds, &w, 15000), "writes never recovered");
    /*  The PUT went through this gateway: its near copy is gone. */
    expect_value ("dg", "hot", "\"after\"", &g);
    wait_get ("dg", "hot", "\"after\"", NULL, 5000);
    for (int i = 0; i < 20; i++)
        expect_value ("dg", "hot", "\"after\"", &g);
    ck_assert_int_eq (put ("dg", "other", "?ttl=120", "1"), 200);
    expect_value ("dg", "other", "1", &g);
    /*  Back on the channel, the near-cache fills again. */
    wait_get ("dg", "hot", "\"after\"", "near", 5000);
}
END_TEST

/* ---- 12. invalid input ---------------------------------------------------- */

START_TEST (invalid_input_is_refused)
{
    start_stack (true);
    char *env[] = { "CACHE_MAX_VALUE_BYTES=1024", NULL };
    start_replicas (1, env);
    hsn_http_resp_t r;

    /*  A value over CACHE_MAX_VALUE_BYTES (2 KB string), and one under it. */
    char big[2100];
    big[0] = '"';
    memset (big + 1, 'x', 2048);
    strcpy (big + 2049, "\"");
    ck_assert_int_eq (http ("PUT", "/api/cache/in/big", big, &r), 413);
    ck_assert_msg (strstr (r.body, "\"code\":\"too_large\""), "body: %s", r.body);
    hsn_http_resp_free (&r);
    expect_status ("in", "big", 404);
    strcpy (big + 1000, "\"");
    put_ok ("in", "small", NULL, big);

    /*  Tags: 17 is too many, 16 is fine; empty, too long, or over the
     *  gateway's buffer: refused, never silently dropped. A ',' is the
     *  separator, so a tag cannot hold one through the query; through the
     *  JSON body of _invalidate it can, and is refused there. */
    ck_assert_int_eq (put ("in", "t", "?tags=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "1"), 400);
    put_ok ("in", "t", "?tags=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", "1");
    ck_assert_int_eq (put ("in", "t", "?tags=", "1"), 400);
    ck_assert_int_eq (put ("in", "t", "?tags=a,,b", "1"), 400);
    char q[3000] = "?tags=";
    memset (q + 6, 't', 129);
    ck_assert_int_eq (put ("in", "t", q, "1"), 400);
    memset (q + 6, 't', 2500);
    ck_assert_int_eq (put ("in", "t", q, "1"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{\"tags\":[\"a,b\"]}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{\"tags\":[]}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{\"tags\":\"a\"}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{}"), 400);
    ck_assert_int_eq (status_of ("POST", "/api/cache/_invalidate", "{\"tags\":[1]}"), 400);

    /*  Keys: 512 bytes is the limit. */
    char path[700] = "/api/cache/in/";
    size_t at = strlen (path);
    memset (path + at, 'k', 513);
    path[at + 513] = 0;
    ck_assert_int_eq (status_of ("PUT", path, "1"), 400);
    ck_assert_int_eq (status_of ("GET", path, NULL), 400);
    path[at + 512] = 0;
    ck_assert_int_eq (status_of ("PUT", path, "1"), 200);
    ck_assert_int_eq (status_of ("GET", path, NULL), 200);

    /*  JSON and TTL. */
    ck_assert_int_eq (http ("PUT", "/api/cache/in/j", "{\"a\":", &r), 400);
    ck_assert_msg (strstr (r.body, "\"code\":\"invalid_json\""), "body: %s", r.body);
    hsn_http_resp_free (&r);
    ck_assert_int_eq (put ("in", "j", NULL, "{'a':1}"), 400);
    ck_assert_int_eq (put ("in", "j", NULL, "1 2"), 400);
    ck_assert_int_eq (put ("in", "j", "?ttl=31536001", "1"), 400);
    ck_assert_int_eq (put ("in", "j", "?ttl=-1", "1"), 400);
    expect_status ("in", "j", 404);
    ck_assert_int_eq (status_of ("PATCH", "/api/cache/in/j", "1"), 405);

    /*  And the service is still fine. */
    put_ok ("in", "ok", "?ttl=60", "{\"fine\":true}");
    got_t g;
    expect_value ("in", "ok", "{\"fine\":true}", &g);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *
suite (void)
{
    Suite *s = suite_create ("cache");
    struct {
        const char *name;
        const TTest *tests[8];
    } groups[] = {
        { "levels", { near_cache_answers_hot_reads,
                      replica_answers_from_l1_then_l2_after_an_invalidation } },
        { "ttl", { ttl_expires_through_l1, ttl_expires_through_the_near_cache } },
        { "eviction", { l1_evicts_at_max_size_and_l2_still_answers } },
        { "coherence", { a_write_reaches_every_replica_l1,
                         a_write_through_the_gateway_drops_its_near_copy,
                         losing_the_channel_flushes_l1_and_resubscribes,
                         a_replica_off_the_channel_fills_nothing_into_l1,
                         a_delete_batched_after_reads_leaves_nothing_in_l1 } },
        { "single-flight", { concurrent_misses_read_redis_once } },
        { "tags", { tag_invalidation_drops_every_level,
                    tag_invalidation_reaches_the_other_replica_l1 } },
        { "namespaces", { deleting_a_namespace_drops_only_its_keys } },
        { "mget", { mget_returns_found_items_and_nulls } },
        { "degraded", { redis_down_serves_hot_keys_and_recovers } },
        { "input", { invalid_input_is_refused } },
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
