/*  The agent bus through real processes: HTTP -> gateway (routes, the hub
 *  holding long-polls and streams) -> broker -> hsn-agent-bus -> Redis,
 *  with wakes on the Redis channel hsn:ab:wake.
 *
 *  Waiting clients are raw sockets (a long-poll or a stream must be able to
 *  stay open while the test does other things); everything else goes
 *  through hsn_http. Waiting is hsn_wait_until or a read with a deadline,
 *  never a bare sleep; what a test asserts is what came back (a long-poll
 *  that was woken carries the message; one that ran out is empty), never a
 *  duration.
 */
#include "hsn_stack.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hsn_stack_t *stack;

static void
teardown (void)
{
    hsn_stack_stop (&stack);
}

/*  Gateway (with these extra "K=V", NULL-terminated, may be NULL) and one
 *  agent-bus replica; returns once the bus answers. */
static void
start_env (char *const gw_extra[], char *const bus_extra[])
{
    char *env[8] = { "GATEWAY_THREADS=16", "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    int n = 2;
    for (int i = 0; gw_extra && gw_extra[i] && n < 7; i++)
        env[n++] = gw_extra[i];
    env[n] = NULL;
    stack = hsn_stack_start_env ("gateway,agent-bus,monitor", true, env);
    ck_assert_ptr_nonnull (stack);
    ck_assert_ptr_nonnull (hsn_stack_add (stack, "hsn-agent-bus", bus_extra));
}

static void
start (void)
{
    start_env (NULL, NULL);
}

/* ---- HTTP ---------------------------------------------------------------- */

static long
http (const char *method, const char *path, const char *body, hsn_http_resp_t *out)
{
    char url[1024];
    ck_assert_int_lt (snprintf (url, sizeof url, "%s%s", stack->base_url, path), (int) sizeof url);
    const char *headers[] = { "Content-Type: application/json", NULL };
    ck_assert_int_eq (hsn_http (method, url, body, body ? strlen (body) : 0, headers, out), 0);
    return out->status;
}

/*  The request's status, its body copied into body[cap] (may be NULL). */
static long
call (const char *method, const char *path, const char *body, char *out, size_t cap)
{
    hsn_http_resp_t r;
    long st = http (method, path, body, &r);
    if (out)
        snprintf (out, cap, "%s", r.body ? r.body : "");
    hsn_http_resp_free (&r);
    return st;
}

static bool
bus_answers (void *arg)
{
    return call ("GET", "/api/agents?max=1", NULL, NULL, 0) == 200;
}

static void
wait_bus (void)
{
    ck_assert_msg (hsn_wait_until (bus_answers, NULL, 15000), "the agent bus never answered");
}

/*  POST a message; its id into id[cap]. */
static void
send_msg (const char *agent, const char *body, char *id, size_t cap)
{
    char path[256], out[1024];
    snprintf (path, sizeof path, "/api/agents/%s/messages", agent);
    long st = call ("POST", path, body, out, sizeof out);
    ck_assert_msg (st == 201, "send to %s: %ld %s", agent, st, out);
    const char *p = strstr (out, "\"id\":\"");
    ck_assert_ptr_nonnull (p);
    p += 6;
    size_t n = strcspn (p, "\"");
    ck_assert_uint_lt (n, cap);
    if (id) {
        memcpy (id, p, n);
        id[n] = 0;
    }
}

static void
ack (const char *agent, const char *id)
{
    char path[256], body[256], out[512];
    snprintf (path, sizeof path, "/api/agents/%s/acks", agent);
    snprintf (body, sizeof body, "{\"ids\":[\"%s\"]}", id);
    long st = call ("POST", path, body, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, "\"acked\":1"), "ack %s: %ld %s", id, st, out);
}

/* ---- raw clients --------------------------------------------------------- */

/*  Connect and send GET path; no wait for anything. */
static hsn_raw_t *
raw_get (const char *path)
{
    hsn_raw_t *r = hsn_raw_connect (stack->http_port, 65536);
    ck_assert_ptr_nonnull (r);
    char req[512];
    snprintf (req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    ck_assert_int_eq (hsn_raw_say (r, req), 0);
    return r;
}

/*  Does the gateway's log say a request was handed to the hub n times? */
static int
handoffs (void)
{
    size_t len;
    char *log = hsn_read_file (hsn_proc_log_path (stack->gateway), &len);
    int n = 0;
    for (const char *p = log; p && (p = strstr (p, "\"handed_off\":true")); p++)
        n++;
    free (log);
    return n;
}

static bool
handoffs_reach (void *arg)
{
    return handoffs () >= *(int *) arg;
}

static void
wait_handoffs (int n)
{
    ck_assert_msg (hsn_wait_until (handoffs_reach, &n, 10000), "only %d of %d handed to the hub",
                   handoffs (), n);
}

static int
count_dir (const char *fmt, int pid)
{
    char path[64];
    snprintf (path, sizeof path, fmt, pid);
    DIR *d = opendir (path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += e->d_name[0] != '.';
    closedir (d);
    return n;
}

/*  The gateway's sockets: what a client left behind would hold. (Other
 *  descriptors come and go with its threads: a ZeroMQ socket's eventfd is
 *  made on a thread's first backend call.) Idle keep-alive connections
 *  between the front and civetweb are among them for a few seconds. */
static int
gateway_fds (void)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/fd", hsn_proc_pid (stack->gateway));
    DIR *d = opendir (path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        char link[320], target[64];
        snprintf (link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t len = readlink (link, target, sizeof target - 1);
        n += len > 7 && strncmp (target, "socket:", 7) == 0;
    }
    closedir (d);
    return n;
}

static int
gateway_threads (void)
{
    return count_dir ("/proc/%d/task", hsn_proc_pid (stack->gateway));
}

/* ---- tests --------------------------------------------------------------- */

START_TEST (send_then_receive_then_ack)
{
    start ();
    wait_bus ();
    char id[64], out[4096];
    send_msg ("alice", "{\"payload\":{\"n\":1,\"s\":\"x\"},\"type\":\"greeting\",\"from\":\"bob\"}",
              id, sizeof id);
    long st = call ("GET", "/api/agents/alice/messages?max=5", NULL, out, sizeof out);
    ck_assert_msg (st == 200, "%ld %s", st, out);
    ck_assert_msg (strstr (out, id) && strstr (out, "\"payload\":{\"n\":1,\"s\":\"x\"}")
                   && strstr (out, "\"type\":\"greeting\"") && strstr (out, "\"from\":\"bob\""),
                   "%s", out);
    ack ("alice", id);
    st = call ("GET", "/api/agents/alice/messages", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, "\"messages\":[]"), "%ld %s", st, out);
    /*  The agent is known, with nothing left. */
    st = call ("GET", "/api/agents", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, "\"alice\""), "%ld %s", st, out);
}
END_TEST

START_TEST (long_poll_is_woken_by_a_send)
{
    start ();
    wait_bus ();
    hsn_raw_t *r = raw_get ("/api/agents/carol/messages?wait=5");
    wait_handoffs (1);
    char id[64];
    send_msg ("carol", "{\"payload\":\"wake up\"}", id, sizeof id);
    ck_assert (hsn_raw_wait_eof (r, 10000));
    ck_assert_msg (strstr (r->buf, "HTTP/1.1 200") && strstr (r->buf, id)
                   && strstr (r->buf, "\"payload\":\"wake up\""), "%s", r->buf);
    hsn_raw_close (&r);
}
END_TEST

START_TEST (long_poll_runs_out_empty)
{
    start ();
    wait_bus ();
    char out[1024];
    long st = call ("GET", "/api/agents/dave/messages?wait=1", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, "\"success\":true")
                   && strstr (out, "\"messages\":[]"), "%ld %s", st, out);
    /*  A message sent after it ran out is still there for the next one. */
    char id[64];
    send_msg ("dave", "{\"payload\":1}", id, sizeof id);
    st = call ("GET", "/api/agents/dave/messages?wait=1", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, id), "%ld %s", st, out);
}
END_TEST

/*  The n-th "data: " line's message id, into id[cap]; false when absent. */
static bool
nth_event_id (const char *buf, int n, char *id, size_t cap)
{
    const char *p = buf;
    for (int i = 0; i <= n; i++) {
        p = strstr (p, "\nid: ");
        if (!p)
            return false;
        p += 5;
    }
    size_t len = strcspn (p, "\n");
    if (len >= cap)
        return false;
    memcpy (id, p, len);
    id[len] = 0;
    return true;
}

START_TEST (stream_delivers_in_priority_order_and_acks_stop_redelivery)
{
    char *bus_env[] = { "AGENTBUS_VISIBILITY_TIMEOUT_MS=1000", NULL };
    start_env (NULL, bus_env);
    wait_bus ();
    char low[64], normal[64], high[64];
    send_msg ("erin", "{\"payload\":\"l\",\"priority\":\"low\"}", low, sizeof low);
    send_msg ("erin", "{\"payload\":\"n\",\"priority\":\"normal\"}", normal, sizeof normal);
    send_msg ("erin", "{\"payload\":\"h\",\"priority\":\"high\"}", high, sizeof high);
    hsn_raw_t *r = raw_get ("/api/agents/erin/stream");
    ck_assert_msg (hsn_raw_wait_for (r, low, 1, 10000), "%s", r->buf);
    ck_assert_msg (strstr (r->buf, "HTTP/1.1 200") && strstr (r->buf, "text/event-stream"),
                   "%s", r->buf);
    char got[3][64];
    for (int i = 0; i < 3; i++)
        ck_assert (nth_event_id (r->buf, i, got[i], sizeof got[i]));
    ck_assert_str_eq (got[0], high);
    ck_assert_str_eq (got[1], normal);
    ck_assert_str_eq (got[2], low);
    ck_assert (strstr (r->buf, "event: message\ndata: {"));
    /*  Ack two; the third comes again once its visibility timeout ran
     *  out (the bus's reaper wakes the hub), the acked ones never. */
    ack ("erin", high);
    ack ("erin", low);
    size_t seen = r->len;
    ck_assert_msg (hsn_raw_wait_for (r, "\"deliveries\":2", 1, 15000), "%s", r->buf);
    ck_assert_msg (strstr (r->buf + seen, normal), "%s", r->buf + seen);
    ck_assert (!strstr (r->buf + seen, high) && !strstr (r->buf + seen, low));
    ack ("erin", normal);
    /*  A new message arrives by itself, and nothing acked before it. */
    seen = r->len;
    char later[64];
    send_msg ("erin", "{\"payload\":\"later\"}", later, sizeof later);
    ck_assert_msg (hsn_raw_wait_for (r, later, 1, 10000), "%s", r->buf);
    ck_assert (!strstr (r->buf + seen, high) && !strstr (r->buf + seen, low)
               && !strstr (r->buf + seen, normal));
    hsn_raw_close (&r);
}
END_TEST

START_TEST (a_thousand_waiting_clients_hold_no_threads)
{
    start ();
    wait_bus ();
    int fds_before = gateway_fds ();
    enum { N = 1000 };
    static hsn_raw_t *clients[N];
    char path[128];
    for (int i = 0; i < N; i++) {
        if (i % 2)
            snprintf (path, sizeof path, "/api/agents/many-%d/stream", i);
        else
            snprintf (path, sizeof path, "/api/agents/many-%d/messages?wait=60", i);
        clients[i] = raw_get (path);
    }
    /*  Every stream has its head (written by the hub), every long-poll is
     *  handed over: far more clients than the gateway's 16 threads. */
    for (int i = 1; i < N; i += 2)
        ck_assert_msg (hsn_raw_wait_for (clients[i], "text/event-stream", 1, 20000), "stream %d",
                       i);
    wait_handoffs (N);
    int threads = gateway_threads ();
    ck_assert_msg (threads > 0 && threads < 64, "gateway threads: %d", threads);
    /*  Other requests are still answered, and a long-poll among the
     *  thousand is woken by its message. */
    char out[512];
    ck_assert_int_eq (call ("GET", "/api/agents?max=1", NULL, out, sizeof out), 200);
    char id[64];
    send_msg ("many-500", "{\"payload\":\"one of many\"}", id, sizeof id);
    ck_assert (hsn_raw_wait_eof (clients[500], 10000));
    ck_assert_msg (strstr (clients[500]->buf, id), "%s", clients[500]->buf);
    send_msg ("many-501", "{\"payload\":\"streamed\"}", id, sizeof id);
    ck_assert_msg (hsn_raw_wait_for (clients[501], id, 1, 10000), "%s", clients[501]->buf);
    /*  They all leave: the hub closes every socket (no descriptor kept). */
    for (int i = 0; i < N; i++)
        hsn_raw_close (&clients[i]);
    int64_t deadline = hsn_now_ms () + 10000;
    while (gateway_fds () > fds_before + 8 && hsn_now_ms () < deadline)
        ck_assert_int_eq (call ("GET", "/api/agents?max=1", NULL, NULL, 0), 200);
    ck_assert_msg (gateway_fds () <= fds_before + 8, "gateway fds %d, were %d", gateway_fds (),
                   fds_before);
    ck_assert (hsn_proc_alive (stack->gateway));
}
END_TEST

START_TEST (streams_that_disconnect_leak_nothing)
{
    /*  A short visibility timeout: a message that went to a client as it
     *  left comes back soon. */
    char *bus_env[] = { "AGENTBUS_VISIBILITY_TIMEOUT_MS=2000", NULL };
    start_env (NULL, bus_env);
    wait_bus ();
    int fds_before = gateway_fds ();
    for (int i = 0; i < 50; i++) {
        hsn_raw_t *r = raw_get ("/api/agents/frank/stream");
        if (i % 2)
            ck_assert (hsn_raw_wait_for (r, "text/event-stream", 1, 10000));
        hsn_raw_close (&r);
    }
    /*  A message for nobody is not lost: the next client gets it, at once
     *  or, when it went to a client the hub had not yet seen leave, after
     *  the visibility timeout. */
    char id[64];
    send_msg ("frank", "{\"payload\":\"still here\"}", id, sizeof id);
    hsn_raw_t *r = raw_get ("/api/agents/frank/stream");
    ck_assert_msg (hsn_raw_wait_for (r, id, 1, 20000), "%s", r->buf);
    hsn_raw_close (&r);
    int64_t deadline = hsn_now_ms () + 10000;
    while (gateway_fds () > fds_before + 8 && hsn_now_ms () < deadline)
        ck_assert_int_eq (call ("GET", "/api/agents?max=1", NULL, NULL, 0), 200);
    ck_assert_msg (gateway_fds () <= fds_before + 8, "gateway fds %d, were %d", gateway_fds (),
                   fds_before);
    ck_assert (hsn_proc_alive (stack->gateway));
}
END_TEST

START_TEST (the_hub_refuses_clients_beyond_its_bound)
{
    char *gw_env[] = { "GATEWAY_HUB_MAX=3", NULL };
    start_env (gw_env, NULL);
    wait_bus ();
    hsn_raw_t *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = raw_get ("/api/agents/gina/stream");
        ck_assert (hsn_raw_wait_for (r[i], "text/event-stream", 1, 10000));
    }
    char out[512];
    long st = call ("GET", "/api/agents/gina/stream", NULL, out, sizeof out);
    ck_assert_msg (st == 503 && strstr (out, "\"code\":\"overloaded\""), "%ld %s", st, out);
    /*  A long-poll with something to take needs no hub. */
    char id[64];
    send_msg ("hank", "{\"payload\":0}", id, sizeof id);
    st = call ("GET", "/api/agents/hank/messages?wait=5", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, id), "%ld %s", st, out);
    hsn_raw_close (&r[0]);
    /*  Room again once one leaves (the hub sees it go a moment later). */
    bool admitted = false;
    int64_t deadline = hsn_now_ms () + 10000;
    while (!admitted && hsn_now_ms () < deadline) {
        hsn_raw_t *again = raw_get ("/api/agents/gina/stream");
        admitted = hsn_raw_wait_for (again, "text/event-stream", 1, 5000);
        ck_assert_msg (admitted || strstr (again->buf, "\"code\":\"overloaded\""), "%s",
                       again->buf);
        hsn_raw_close (&again);
    }
    ck_assert (admitted);
    for (int i = 1; i < 3; i++)
        hsn_raw_close (&r[i]);
}
END_TEST

START_TEST (bad_input_is_refused_with_a_structured_error)
{
    start ();
    wait_bus ();
    char long_id[200];
    memset (long_id, 'a', 129);
    long_id[129] = 0;
    char long_path[300];
    snprintf (long_path, sizeof long_path, "/api/agents/%s/messages", long_id);
    static const struct { const char *method, *path, *body; long status; const char *code; } cases[] = {
        { "GET", "/api/agents/_x/messages", NULL, 400, "bad_request" },
        { "GET", "/api/agents/a%20b/messages", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/messages?wait=61", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/messages?wait=-1", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/messages?max=0", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/messages?max=1001", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/messages?max=ten", NULL, 400, "bad_request" },
        { "GET", "/api/agents/ok/dead-letters?max=0", NULL, 400, "bad_request" },
        { "GET", "/api/agents/-x/stream", NULL, 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":", 400, "invalid_json" },
        { "POST", "/api/agents/ok/messages", "[1,2]", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"priority\":\"high\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"priority\":\"urgent\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"ttl\":0}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"ttl\":\"5\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"from\":\"_me\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"type\":\"\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", "{\"payload\":1,\"extra\":2}", 400, "bad_request" },
        { "POST", "/api/agents/ok/messages", NULL, 400, "bad_request" },
        { "POST", "/api/topics/_t/messages", "{\"payload\":1}", 400, "bad_request" },
        { "PUT", "/api/topics/t/subscribers/a/b", NULL, 400, "bad_request" },
        { "POST", "/api/agents/ok/acks", "{\"ids\":\"x\"}", 400, "bad_request" },
        { "POST", "/api/agents/ok/acks", "{\"ids\":[]}", 400, "bad_request" },
        { "POST", "/api/agents/ok/acks", "{\"ids\":[1]}", 400, "bad_request" },
        { "DELETE", "/api/topics/t/subscribers/nobody", NULL, 404, "not_found" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[1024], want[64];
        long st = call (cases[i].method, cases[i].path, cases[i].body, out, sizeof out);
        snprintf (want, sizeof want, "\"code\":\"%s\"", cases[i].code);
        ck_assert_msg (st == cases[i].status && strstr (out, "\"success\":false") && strstr (out, want),
                       "%s %s %s: %ld %s", cases[i].method, cases[i].path,
                       cases[i].body ? cases[i].body : "", st, out);
    }
    char out[1024];
    long st = call ("POST", long_path, "{\"payload\":1}", out, sizeof out);
    ck_assert_msg (st == 400 && strstr (out, "\"code\":\"bad_request\""), "%ld %s", st, out);
}
END_TEST

START_TEST (topics_and_broadcast_reach_their_agents)
{
    start ();
    wait_bus ();
    char out[1024];
    ck_assert_int_eq (call ("PUT", "/api/topics/news/subscribers/ivy", NULL, out, sizeof out), 200);
    ck_assert_int_eq (call ("PUT", "/api/topics/news/subscribers/jack", NULL, out, sizeof out), 200);
    /*  A stream of one subscriber gets the publication. */
    hsn_raw_t *r = raw_get ("/api/agents/ivy/stream");
    ck_assert (hsn_raw_wait_for (r, "text/event-stream", 1, 10000));
    long st = call ("POST", "/api/topics/news/messages", "{\"payload\":\"extra\"}", out, sizeof out);
    ck_assert_msg (st == 201 && strstr (out, "\"recipients\":2"), "%ld %s", st, out);
    ck_assert_msg (hsn_raw_wait_for (r, "\"payload\":\"extra\"", 1, 10000), "%s", r->buf);
    ck_assert (strstr (r->buf, "\"topic\":\"news\""));
    hsn_raw_close (&r);
    ck_assert_int_eq (call ("DELETE", "/api/topics/news/subscribers/jack", NULL, out, sizeof out),
                      200);
    st = call ("POST", "/api/agents/_broadcast/messages", "{\"payload\":\"all\"}", out, sizeof out);
    ck_assert_msg (st == 201 && strstr (out, "\"recipients\":"), "%ld %s", st, out);
    st = call ("GET", "/api/agents/jack/messages?max=10", NULL, out, sizeof out);
    ck_assert_msg (st == 200 && strstr (out, "\"payload\":\"extra\"")
                   && strstr (out, "\"payload\":\"all\""), "%ld %s", st, out);
}
END_TEST

/*  GATEWAY_FRONT=false: civetweb on the public port, the hub taking its
 *  sockets over itself. */
START_TEST (without_the_front_long_polls_and_streams_still_work)
{
    char *gw_env[] = { "GATEWAY_FRONT=false", NULL };
    start_env (gw_env, NULL);
    wait_bus ();
    hsn_raw_t *r = raw_get ("/api/agents/kim/messages?wait=5");
    wait_handoffs (1);
    char id[64];
    send_msg ("kim", "{\"payload\":\"polled\"}", id, sizeof id);
    ck_assert (hsn_raw_wait_eof (r, 10000));
    ck_assert_msg (strstr (r->buf, "HTTP/1.1 200") && strstr (r->buf, id), "%s", r->buf);
    hsn_raw_close (&r);
    r = raw_get ("/api/agents/kim/stream");
    ck_assert (hsn_raw_wait_for (r, "text/event-stream", 1, 10000));
    send_msg ("kim", "{\"payload\":\"streamed\"}", id, sizeof id);
    ck_assert_msg (hsn_raw_wait_for (r, id, 1, 10000), "%s", r->buf);
    hsn_raw_close (&r);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agents");
    struct { const char *name; const TTest *test; } tests[] = {
        { "send", send_then_receive_then_ack },
        { "long-poll-wake", long_poll_is_woken_by_a_send },
        { "long-poll-empty", long_poll_runs_out_empty },
        { "stream", stream_delivers_in_priority_order_and_acks_stop_redelivery },
        { "many", a_thousand_waiting_clients_hold_no_threads },
        { "disconnect", streams_that_disconnect_leak_nothing },
        { "bound", the_hub_refuses_clients_beyond_its_bound },
        { "input", bad_input_is_refused_with_a_structured_error },
        { "topics", topics_and_broadcast_reach_their_agents },
        { "no-front", without_the_front_long_polls_and_streams_still_work },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        TCase *tc = tcase_create (tests[i].name);
        tcase_add_checked_fixture (tc, NULL, teardown);
        tcase_set_timeout (tc, 120);
        tcase_add_test (tc, tests[i].test);
        suite_add_tcase (s, tc);
    }
    return s;
}

HSN_TEST_MAIN (suite)
