/*  The gateway's agent hub and what it stands on, inside the test process:
 *
 *  - gateway_takeover against a real civetweb server: the connection's
 *    socket changes hands, civetweb's thread is free at once, and its own
 *    close never reaches the client;
 *  - gateway_sse: the bytes written for events and long-poll answers;
 *  - gateway_hub with a real broker, the real agent-bus service (an hsn_rig
 *    replica) and a real Redis: long-polls answered at their deadline or
 *    when woken, streams, clients that leave, the client bound, and the wake
 *    subscription lost (a Redis restart) or never there (periodic rechecks).
 *
 *  Hub clients are socketpairs: the hub writes to one end, the test reads
 *  the other. Waiting is hsn_wait_until or a read with a deadline.
 */
#include "gateway/gateway_hub.h"
#include "gateway/gateway_reply.h"
#include "gateway/gateway_sse.h"
#include "gateway/gateway_takeover.h"
#include "agent-bus/agentbus_service.h"
#include "hsn_harness.h"
#include "hsn_rig.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- takeover ----------------------------------------------------------- */

static int taken_fd = -1;

static int
on_take (struct mg_connection *conn, void *arg)
{
    int fd = gateway_takeover (conn, 0);
    __atomic_store_n (&taken_fd, fd, __ATOMIC_RELEASE);
    return 1;
}

static int
on_plain (struct mg_connection *conn, void *arg)
{
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain");
    return 200;
}

/*  Connect and send GET path; no wait for anything. */
static hsn_raw_t *
connect_get (int port, const char *path)
{
    hsn_raw_t *r = hsn_raw_connect (port, 65536);
    ck_assert_ptr_nonnull (r);
    char req[256];
    snprintf (req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    ck_assert_int_eq (hsn_raw_say (r, req), 0);
    return r;
}

static bool
fd_taken (void *arg)
{
    return __atomic_load_n (&taken_fd, __ATOMIC_ACQUIRE) != -1;
}

START_TEST (takeover_frees_the_thread_and_keeps_the_client)
{
    mg_init_library (0);
    /*  One thread: once it served the next request, it is done with the
     *  connection it gave away (closing it included). */
    const char *options[] = { "listening_ports", "127.0.0.1:0", "num_threads", "1",
                              "enable_keep_alive", "yes", NULL };
    struct mg_callbacks cb;
    memset (&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start (&cb, NULL, options);
    ck_assert_ptr_nonnull (ctx);
    mg_set_request_handler (ctx, "/take", on_take, NULL);
    mg_set_request_handler (ctx, "/plain", on_plain, NULL);
    struct mg_server_port ports[1];
    ck_assert_int_eq (mg_get_server_ports (ctx, 1, ports), 1);
    hsn_raw_t *a = connect_get (ports[0].port, "/take");
    ck_assert (hsn_wait_until (fd_taken, NULL, 5000));
    int fd = __atomic_load_n (&taken_fd, __ATOMIC_ACQUIRE);
    ck_assert_msg (fd >= 0, "takeover failed: %d", fd);
    for (int i = 0; i < 3; i++) {
        hsn_raw_t *b = connect_get (ports[0].port, "/plain");
        ck_assert (hsn_raw_wait_eof (b, 5000));
        ck_assert_msg (strstr (b->buf, "\r\n\r\nplain"), "%s", b->buf);
        hsn_raw_close (&b);
    }
    /*  civetweb closed what it holds: the client saw nothing of it. */
    hsn_raw_pump (a, 0);
    ck_assert_msg (!a->eof && a->len == 0, "the client saw %s%s", a->eof ? "EOF " : "", a->buf);
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    ck_assert_int_eq (send (fd, resp, sizeof resp - 1, MSG_NOSIGNAL), (int) sizeof resp - 1);
    close (fd);
    ck_assert (hsn_raw_wait_eof (a, 5000));
    ck_assert_str_eq (a->buf, resp);
    hsn_raw_close (&a);
    mg_stop (ctx);
    mg_exit_library ();
}
END_TEST

/* ---- rendering ---------------------------------------------------------- */

static void
pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str (pk, strlen (s));
    msgpack_pack_str_body (pk, s, strlen (s));
}

/*  {"messages": [{"id": ids[i], "payload": {"n": i}}...]} */
static void
result_of (msgpack_sbuffer *sb, const char *const ids[], int n)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    pack_str (&pk, "messages");
    msgpack_pack_array (&pk, (size_t) n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_map (&pk, 2);
        pack_str (&pk, "id");
        pack_str (&pk, ids[i]);
        pack_str (&pk, "payload");
        msgpack_pack_map (&pk, 1);
        pack_str (&pk, "n");
        msgpack_pack_int (&pk, i);
    }
}

START_TEST (events_and_answers_are_rendered_as_specified)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    const char *ids[] = { "h-1-0", "n-2-0" };
    result_of (&sb, ids, 2);
    gateway_json_buf_t out;
    gateway_json_buf_init (&out);
    size_t count;
    ck_assert_int_eq (gateway_sse_events (sb.data, sb.size, &out, &count), 0);
    ck_assert_uint_eq (count, 2);
    ck_assert_str_eq (out.data,
                      "id: h-1-0\nevent: message\ndata: {\"id\":\"h-1-0\",\"payload\":{\"n\":0}}\n\n"
                      "id: n-2-0\nevent: message\ndata: {\"id\":\"n-2-0\",\"payload\":{\"n\":1}}\n\n");
    gateway_json_buf_reset (&out);
    ck_assert_int_eq (gateway_sse_messages_json (sb.data, sb.size, 10, &out, &count), 0);
    ck_assert_str_eq (out.data, "{\"messages\":[{\"id\":\"h-1-0\",\"payload\":{\"n\":0}},"
                                "{\"id\":\"n-2-0\",\"payload\":{\"n\":1}}]}");
    /*  A long-poll's max: only the first ones. */
    gateway_json_buf_reset (&out);
    ck_assert_int_eq (gateway_sse_messages_json (sb.data, sb.size, 1, &out, &count), 0);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (out.data, "{\"messages\":[{\"id\":\"h-1-0\",\"payload\":{\"n\":0}}]}");
    /*  An id with a line break would end the field early: not written. */
    msgpack_sbuffer_clear (&sb);
    const char *bad[] = { "h-1\ndata: x" };
    result_of (&sb, bad, 1);
    gateway_json_buf_reset (&out);
    ck_assert_int_eq (gateway_sse_events (sb.data, sb.size, &out, &count), 0);
    ck_assert (strncmp (out.data, "event: message\ndata: {", 22) == 0);
    ck_assert_ptr_null (strstr (out.data, "\ndata: x\n"));
    /*  Not a result: refused, out as it was. */
    gateway_json_buf_reset (&out);
    gateway_json_buf_append (&out, "keep", 4);
    const char junk[] = "\x91\x01";
    ck_assert_int_eq (gateway_sse_events (junk, 2, &out, &count), -EBADMSG);
    ck_assert_str_eq (out.data, "keep");
    /*  A long-poll answer: a whole response with its length. */
    gateway_json_buf_reset (&out);
    gateway_sse_response (&out, 200, "rid-1", "X-Extra: 1\r\n", hsn_now_us (),
                          "{\"messages\":[]}", 15, NULL, NULL);
    const char *body = strstr (out.data, "\r\n\r\n");
    ck_assert_ptr_nonnull (body);
    body += 4;
    char clen[64];
    snprintf (clen, sizeof clen, "Content-Length: %zu\r\n", strlen (body));
    ck_assert_msg (strstr (out.data, clen), "%s", out.data);
    ck_assert (strncmp (out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert (strstr (out.data, "Connection: close\r\n") && strstr (out.data, "X-Extra: 1\r\n"));
    ck_assert (strncmp (body, "{\"success\":true,\"data\":{\"messages\":[]},\"meta\":"
                              "{\"request_id\":\"rid-1\"", 61) == 0);
    gateway_json_buf_reset (&out);
    gateway_sse_response (&out, 503, "rid-2", NULL, hsn_now_us (), NULL, 0, "unavailable", "down");
    ck_assert (strstr (out.data, "HTTP/1.1 503 Service Unavailable\r\n"));
    ck_assert (strstr (out.data, "{\"success\":false,\"error\":{\"code\":\"unavailable\","
                                 "\"message\":\"down\"}"));
    /*  Every status a hub error can carry has its phrase (the one the
     *  gateway's other answers use). */
    const struct { int status; const char *line; } lines[] = {
        { 403, "HTTP/1.1 403 Forbidden\r\n" }, { 409, "HTTP/1.1 409 Conflict\r\n" },
        { 429, "HTTP/1.1 429 Too Many Requests\r\n" }, { 401, "HTTP/1.1 401 Unauthorized\r\n" },
        { 408, "HTTP/1.1 408 Request Timeout\r\n" },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        gateway_json_buf_reset (&out);
        gateway_sse_response (&out, lines[i].status, "rid-3", NULL, hsn_now_us (), NULL, 0,
                              "x", NULL);
        ck_assert_msg (strncmp (out.data, lines[i].line, strlen (lines[i].line)) == 0, "%s",
                       out.data);
    }
#define X(name, num, str, http) ck_assert_str_ne (gateway_reply_reason (http), "Unknown");
    HSN_STATUSES (X)
#undef X
    gateway_json_buf_free (&out);
    msgpack_sbuffer_destroy (&sb);
}
END_TEST

/* ---- the hub ------------------------------------------------------------ */

static hsn_redis_t *redis;
static hsn_rig_t *rig;
static agentbus_service_t *bus;
static agentbus_config_t bus_cfg;
static gateway_hub_t *hub;
static hsn_metrics_t *metrics;
static hsn_enc_t enc;

static int
bus_open (zloop_t *loop, hsn_worker_config_t *wcfg, void *arg)
{
    char err[256] = "";
    bus = agentbus_service_new (&bus_cfg, loop, err, sizeof err);
    if (!bus) {
        fprintf (stderr, "agentbus_service_new: %s\n", err);
        return -1;
    }
    wcfg->credits = 64;
    wcfg->handler = agentbus_service_handle;
    wcfg->arg = bus;
    wcfg->batch_end = agentbus_service_batch_end;
    return 0;
}

static void
bus_close (void *arg)
{
    agentbus_service_destroy (&bus);
}

/*  "hold" stops the replica's thread until released is set: requests
 *  reach the bus but wait to be handled. */
static int holding, released;

static bool
flag_set (void *arg)
{
    return __atomic_load_n ((int *) arg, __ATOMIC_ACQUIRE) != 0;
}

static const char *
bus_command (const char *cmd, void *arg)
{
    if (strcmp (cmd, "hold") != 0)
        return "unknown";
    __atomic_store_n (&holding, 1, __ATOMIC_RELEASE);
    return hsn_wait_until (flag_set, &released, 10000) ? "released" : "timed out";
}

static void *
hold_bus (void *arg)
{
    char *answer = hsn_rig_command (rig, "hold");
    zstr_free (&answer);
    return NULL;
}

/*  Redis, the bus behind a broker, and a hub on that broker whose wake
 *  subscription goes to wake_url (NULL: the test's Redis). */
static void
start_hub_ka (uint32_t max_clients, const char *wake_url, uint32_t keepalive_ms)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    /*  Designated: the bus's configuration is its own to extend. */
    agentbus_config_t cfg = { .redis_url = hsn_redis_url (redis), .max_payload = 262144,
                              .max_queue = 1000, .visibility_ms = 30000, .max_deliveries = 5,
                              .dlq_max = 100, .reaper_ms = 1000 };
    bus_cfg = cfg;
    hsn_rig_config_t rcfg = { HSN_SERVICE_AGENT_BUS, 1000, bus_open, bus_close, bus_command,
                              NULL };
    rig = hsn_rig_start (&rcfg);
    ck_assert_ptr_nonnull (rig);
    /*  The broker's tcp side takes clients as its inproc side does. */
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", gateway_broker_port (hsn_rig_broker (rig)));
    gateway_hub_config_t hcfg = { ep, wake_url ? wake_url : hsn_redis_url (redis), max_clients,
                                  5000, keepalive_ms, 200, 1 << 20, 0, NULL };
    metrics = hsn_metrics_new ();
    hcfg.metrics = metrics;
    hub = gateway_hub_new (&hcfg);
    ck_assert_ptr_nonnull (hub);
    hsn_enc_init (&enc);
}

static void
start_hub (uint32_t max_clients, const char *wake_url)
{
    start_hub_ka (max_clients, wake_url, 15000);
}

static void
stop_hub (void)
{
    gateway_hub_destroy (&hub);
    hsn_metrics_destroy (&metrics);
    hsn_rig_stop (&rig);
    hsn_redis_stop (&redis);
    hsn_enc_release (&enc);
}

/*  agent.send of a string payload through the rig's client. */
static void
send_to (const char *agent, const char *payload)
{
    hsn_client_t *client = hsn_rig_client (rig);
    uint64_t rid = hsn_client_next_rid (client);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_AGENT_BUS, HSN_OP_AGENT_SEND, 0, 2);
    hsn_enc_cstr (&enc, HSN_FIELD_AGENT, agent);
    hsn_enc_key (&enc, HSN_FIELD_PAYLOAD);
    pack_str (&enc.pk, payload);
    zmq_msg_t msg;
    ck_assert_int_eq (hsn_client_call (client, hsn_enc_data (&enc), hsn_enc_size (&enc), rid, 5000,
                                       &msg), 0);
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)), 0);
    ck_assert_uint_eq (env.status, HSN_STATUS_CREATED);
    zmq_msg_close (&msg);
}

/*  Hand the hub one end of a socketpair; the test keeps the other. */
static hsn_raw_t *
add_client_max (gateway_hub_kind_t kind, const char *agent, int wait_ms, uint32_t max)
{
    int sv[2];
    ck_assert_int_eq (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq (gateway_hub_reserve (hub), 0);
    gateway_hub_client_t c = { kind, sv[0], agent, max, hsn_now_ms () + wait_ms, "req-1",
                               hsn_now_us (), NULL };
    ck_assert_int_eq (gateway_hub_add (hub, &c), 0);
    hsn_raw_t *p = hsn_raw_adopt (sv[1], 65536);
    ck_assert_ptr_nonnull (p);
    return p;
}

static hsn_raw_t *
add_client (gateway_hub_kind_t kind, const char *agent, int wait_ms)
{
    return add_client_max (kind, agent, wait_ms, 10);
}

static bool
hub_empty (void *arg)
{
    return gateway_hub_clients (hub) == 0;
}

static bool
hub_subscribed (void *arg)
{
    return gateway_hub_subscribed (hub) == *(bool *) arg;
}

START_TEST (long_polls_are_answered_empty_or_woken)
{
    start_hub (100, NULL);
    bool up = true;
    ck_assert (hsn_wait_until (hub_subscribed, &up, 5000));
    hsn_raw_t *empty = add_client (GATEWAY_HUB_LONGPOLL, "lp-empty", 300);
    hsn_raw_t *woken = add_client (GATEWAY_HUB_LONGPOLL, "lp-woken", 20000);
    ck_assert (hsn_raw_wait_eof (empty, 10000));
    ck_assert_msg (strstr (empty->buf, "HTTP/1.1 200 OK\r\n")
                   && strstr (empty->buf, "\"data\":{\"messages\":[]}"), "%s", empty->buf);
    /*  Still waiting (20 s): a send wakes it, with the message. */
    hsn_raw_pump (woken, 0);
    ck_assert_uint_eq (woken->len, 0);
    send_to ("lp-woken", "for you");
    ck_assert (hsn_raw_wait_eof (woken, 10000));
    ck_assert_msg (strstr (woken->buf, "\"payload\":\"for you\""), "%s", woken->buf);
    ck_assert (hsn_wait_until (hub_empty, NULL, 5000));
    hsn_raw_close (&empty);
    hsn_raw_close (&woken);
    stop_hub ();
}
END_TEST

START_TEST (streams_get_events_and_leaving_frees_them)
{
    start_hub (2, NULL);
    send_to ("st", "first");
    hsn_raw_t *s = add_client (GATEWAY_HUB_STREAM, "st", 0);
    ck_assert_msg (hsn_raw_wait_for (s, "\"payload\":\"first\"", 1, 10000), "%s", s->buf);
    ck_assert (strncmp (s->buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", 50) == 0);
    send_to ("st", "second");
    ck_assert_msg (hsn_raw_wait_for (s, "\"payload\":\"second\"", 1, 10000), "%s", s->buf);
    /*  The bound: two held, a third is refused. */
    hsn_raw_t *s2 = add_client (GATEWAY_HUB_STREAM, "st2", 0);
    ck_assert_int_eq (gateway_hub_reserve (hub), -EBUSY);
    ck_assert_uint_eq (gateway_hub_clients (hub), 2);
    hsn_raw_close (&s);
    hsn_raw_close (&s2);
    ck_assert (hsn_wait_until (hub_empty, NULL, 5000));
    ck_assert_int_eq (gateway_hub_reserve (hub), 0);
    gateway_hub_unreserve (hub);
    stop_hub ();
}
END_TEST

START_TEST (a_lost_subscription_comes_back_and_nothing_is_missed)
{
    start_hub (100, NULL);
    bool up = true, down = false;
    ck_assert (hsn_wait_until (hub_subscribed, &up, 5000));
    hsn_raw_t *s = add_client (GATEWAY_HUB_STREAM, "rs", 0);
    ck_assert (hsn_raw_wait_for (s, "text/event-stream", 1, 5000));
    ck_assert_int_eq (hsn_redis_kill (redis, SIGKILL), 0);
    ck_assert (hsn_wait_until (hub_subscribed, &down, 5000));
    ck_assert_int_eq (hsn_redis_restart (redis), 0);
    ck_assert (hsn_wait_until (hub_subscribed, &up, 10000));
    send_to ("rs", "after the restart");
    ck_assert_msg (hsn_raw_wait_for (s, "\"payload\":\"after the restart\"", 1, 10000), "%s",
                   s->buf);
    hsn_raw_close (&s);
    stop_hub ();
}
END_TEST

START_TEST (without_wakes_rechecks_still_deliver)
{
    /*  The subscription goes to a port nobody listens on. */
    int port = hsn_free_port ();
    char url[64];
    snprintf (url, sizeof url, "redis://127.0.0.1:%d", port);
    start_hub (100, url);
    hsn_raw_t *lp = add_client (GATEWAY_HUB_LONGPOLL, "deaf", 20000);
    send_to ("deaf", "found anyway");
    ck_assert (hsn_raw_wait_eof (lp, 10000));
    ck_assert_msg (strstr (lp->buf, "\"payload\":\"found anyway\""), "%s", lp->buf);
    ck_assert (!gateway_hub_subscribed (hub));
    hsn_raw_close (&lp);
    stop_hub ();
}
END_TEST

typedef struct {
    const uint64_t *counter;
    uint64_t value;
} count_t;

static bool
counted (void *arg)
{
    count_t *c = (count_t *) arg;
    return hsn_counter_get (c->counter) >= c->value;
}

static int
occurrences (const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr (hay, needle); p; p = strstr (p + 1, needle))
        n++;
    return n;
}

START_TEST (a_receive_whose_client_left_goes_to_the_next_within_its_max)
{
    /*  A receive is issued for a long-poll with max 10 and held at the bus;
     *  that client leaves; the only one left asked for at most 2. */
    start_hub (100, NULL);
    count_t receives = { hsn_metrics_counter (metrics, "gateway.hub.receives"), 1 };
    count_t handoffs = { hsn_metrics_counter (metrics, "gateway.hub.handoffs"), 2 };
    count_t gone = { hsn_metrics_counter (metrics, "gateway.hub.closed_gone"), 1 };
    for (int i = 0; i < 5; i++)
        send_to ("fb", "queued");
    holding = released = 0;
    pthread_t holder;
    ck_assert_int_eq (pthread_create (&holder, NULL, hold_bus, NULL), 0);
    ck_assert (hsn_wait_until (flag_set, &holding, 5000));
    hsn_raw_t *big = add_client_max (GATEWAY_HUB_LONGPOLL, "fb", 20000, 10);
    ck_assert (hsn_wait_until (counted, &receives, 5000));
    hsn_raw_t *small = add_client_max (GATEWAY_HUB_LONGPOLL, "fb", 20000, 2);
    ck_assert (hsn_wait_until (counted, &handoffs, 5000));
    hsn_raw_close (&big);
    ck_assert (hsn_wait_until (counted, &gone, 5000));
    __atomic_store_n (&released, 1, __ATOMIC_RELEASE);
    pthread_join (holder, NULL);
    ck_assert (hsn_raw_wait_eof (small, 10000));
    ck_assert_msg (strstr (small->buf, "HTTP/1.1 200 OK\r\n"), "%s", small->buf);
    ck_assert_msg (occurrences (small->buf, "\"payload\":\"queued\"") == 2, "%s", small->buf);
    hsn_raw_close (&small);
    ck_assert (hsn_wait_until (hub_empty, NULL, 5000));
    stop_hub ();
}
END_TEST

START_TEST (a_client_that_takes_nothing_is_closed)
{
    /*  Keepalive ticks every 200 ms: a stream holding unsent bytes that
     *  took none of them for a whole period is too slow. */
    start_hub_ka (100, NULL, 200);
    hsn_raw_t *s = add_client (GATEWAY_HUB_STREAM, "slow", 0);
    ck_assert (hsn_raw_wait_for (s, "text/event-stream", 1, 5000));
    static char big[60001];
    memset (big, 'x', sizeof big - 1);
    for (int i = 0; i < 40; i++)
        send_to ("slow", big);
    ck_assert (hsn_wait_until (hub_empty, NULL, 10000));
    ck_assert_uint_eq (hsn_counter_get (hsn_metrics_counter (metrics, "gateway.hub.closed_slow")), 1);
    /*  What reached the socket before is readable, then the end. */
    ck_assert (hsn_raw_wait_eof (s, 5000) || s->len + 1 >= s->cap);
    hsn_raw_close (&s);
    stop_hub ();
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_hub");
    TCase *tc = tcase_create ("takeover");
    tcase_add_test (tc, takeover_frees_the_thread_and_keeps_the_client);
    suite_add_tcase (s, tc);
    tc = tcase_create ("render");
    tcase_add_test (tc, events_and_answers_are_rendered_as_specified);
    suite_add_tcase (s, tc);
    tc = tcase_create ("hub");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, long_polls_are_answered_empty_or_woken);
    tcase_add_test (tc, streams_get_events_and_leaving_frees_them);
    tcase_add_test (tc, a_lost_subscription_comes_back_and_nothing_is_missed);
    tcase_add_test (tc, without_wakes_rechecks_still_deliver);
    tcase_add_test (tc, a_client_that_takes_nothing_is_closed);
    tcase_add_test (tc, a_receive_whose_client_left_goes_to_the_next_within_its_max);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
