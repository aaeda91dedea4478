/*  The gateway's event-driven front, inside the test process, in front of a
 *  real civetweb server (the upstream) and over real sockets:
 *
 *  - answers of the serve hook and relayed answers on one keep-alive
 *    connection, pipelined, in request order;
 *  - bodies relayed whole (past the inline size), 100-continue, answers
 *    without a length (then the connection closes), the client's address
 *    passed on and a forged one dropped;
 *  - bad heads refused with a JSON error and a close: chunked (411),
 *    Content-Length with Transfer-Encoding or twice different (400), too
 *    large (431), garbage (400), HTTP/2.0 (505), a body over the limit
 *    (413, read by the client before the close);
 *  - time limits (a trickled head gets 408, an idle connection is closed),
 *    the connection bound (503), no upstream (502), a client that leaves
 *    while its request is relayed.
 */
#include "gateway/gateway_front.h"
#include "hsn_harness.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <civetweb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET_HEADER "X-Hsn-Peer: s3cr3t "

/* ---- the upstream: civetweb ------------------------------------------- */

static volatile int slow_release;

/*  /up...: echoes what it got: method, path, the peer field, body bytes,
 *  the relayed fields. */
static int
on_up (struct mg_connection *conn, void *arg)
{
    const struct mg_request_info *ri = mg_get_request_info (conn);
    char chunk[16384];
    long long body = 0;
    int n;
    while ((n = mg_read (conn, chunk, sizeof chunk)) > 0)
        body += n;
    const char *peer = mg_get_header (conn, "X-Hsn-Peer");
    const char *relay = mg_get_header (conn, "X-Test-Relay");
    const char *admitted = mg_get_header (conn, "X-Hsn-Admitted");
    int peers = 0;
    for (int i = 0; i < ri->num_headers; i++)
        peers += strcasecmp (ri->http_headers[i].name, "X-Hsn-Peer") == 0;
    char out[1024];
    int len = snprintf (out, sizeof out, "up %s %s%s%s peer=[%s] peers=%d body=%lld relay=[%s] "
                        "admitted=[%s]",
                        ri->request_method, ri->local_uri, ri->query_string ? "?" : "",
                        ri->query_string ? ri->query_string : "", peer ? peer : "", peers, body,
                        relay ? relay : "", admitted ? admitted : "");
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len, out);
    return 200;
}

/*  /stream: an answer without a length, ended by the close. */
static int
on_stream (struct mg_connection *conn, void *arg)
{
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    for (int i = 0; i < 3; i++)
        mg_printf (conn, "part%d;", i);
    return 200;
}

/*  /big: 4 MiB with its length, for a client that reads none of it. */
static int
on_big (struct mg_connection *conn, void *arg)
{
    enum { SIZE = 4 << 20 };
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", SIZE);
    static char chunk[65536];
    memset (chunk, 'b', sizeof chunk);
    for (int sent = 0; sent < SIZE; sent += (int) sizeof chunk)
        if (mg_write (conn, chunk, sizeof chunk) <= 0)
            break;                      /* the front let go */
    return 200;
}

/*  /slow: answers when the test lets it (or after 5 s). */
static int
on_slow (struct mg_connection *conn, void *arg)
{
    int64_t deadline = hsn_now_ms () + 5000;
    while (!__atomic_load_n (&slow_release, __ATOMIC_ACQUIRE) && hsn_now_ms () < deadline) {
        struct pollfd none;
        poll (&none, 0, 5);
    }
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow");
    return 200;
}

/* ---- the hook: /native... answered in the loop ------------------------ */

static int native_calls;

static gateway_front_rc_t
serve (void *arg, void *tp, const gateway_front_req_t *req)
{
    /*  Left to the upstream with a field of the hook's own. */
    if (strncmp (req->path, "/up/relay", 9) == 0) {
        snprintf (req->relay_fields, GATEWAY_FRONT_RELAY_MAX, "X-Test-Relay: yes\r\n");
        return GATEWAY_FRONT_PASS;
    }
    if (strncmp (req->path, "/native", 7) != 0)
        return GATEWAY_FRONT_PASS;
    __atomic_add_fetch (&native_calls, 1, __ATOMIC_RELAXED);
    const char *xid = req->io.header (req->io.ctx, "x-test");
    char body[512], out[1024];
    int blen = snprintf (body, sizeof body, "native %s %s x-test=%s body=%zu", req->method,
                         req->path, xid ? xid : "-", req->body_len);
    int n = snprintf (out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", blen, body);
    req->io.write (req->io.ctx, out, (size_t) n);
    return GATEWAY_FRONT_DONE;
}

/* ---- fixture ---------------------------------------------------------- */

typedef struct {
    struct mg_context *ctx;
    gateway_front_t *front;
    int port;
} rig_t;

static void
rig_start (rig_t *r, uint32_t max_conns, uint32_t keepalive_ms, uint32_t request_timeout_ms,
           bool upstream)
{
    memset (r, 0, sizeof *r);
    mg_init_library (0);
    int up_port = 1;                    /* nothing listens: connect refused */
    if (upstream) {
        /*  A long keep-alive time: an answer without a length that is not
         *  ended by its connection would hang for it. */
        const char *options[] = { "listening_ports", "127.0.0.1:0", "num_threads", "8",
                                  "enable_keep_alive", "yes", "keep_alive_timeout_ms", "30000",
                                  NULL };
        struct mg_callbacks cb;
        memset (&cb, 0, sizeof cb);
        r->ctx = mg_start (&cb, NULL, options);
        ck_assert_ptr_nonnull (r->ctx);
        mg_set_request_handler (r->ctx, "/up", on_up, NULL);
        mg_set_request_handler (r->ctx, "/stream", on_stream, NULL);
        mg_set_request_handler (r->ctx, "/slow", on_slow, NULL);
        mg_set_request_handler (r->ctx, "/big", on_big, NULL);
        struct mg_server_port ports[2];
        ck_assert_int_ge (mg_get_server_ports (r->ctx, 2, ports), 1);
        up_port = ports[0].port;
    }
    static const char *const close_paths[] = { "/stream", NULL };
    gateway_front_config_t cfg = { "127.0.0.1", 0, up_port, 8, close_paths, SECRET_HEADER, 2, max_conns,
                                   keepalive_ms, request_timeout_ms, 4096, 300000, 0,
                                   NULL, NULL, serve, NULL, NULL, NULL, NULL };
    r->front = gateway_front_new (&cfg);
    ck_assert_ptr_nonnull (r->front);
    r->port = gateway_front_port (r->front);
}

static void
rig_stop (rig_t *r)
{
    gateway_front_destroy (&r->front);
    ck_assert_ptr_null (r->front);
    if (r->ctx)
        mg_stop (r->ctx);
}

/* ---- a client with a deadline ------------------------------------------ */

static hsn_raw_t *
client_open (int port)
{
    hsn_raw_t *c = hsn_raw_connect (port, 1 << 20);
    ck_assert_ptr_nonnull (c);
    return c;
}

static void
client_send (hsn_raw_t *c, const char *data, size_t len)
{
    ck_assert_int_eq (hsn_raw_send (c, data, len), 0);
}

static void
client_say (hsn_raw_t *c, const char *s)
{
    client_send (c, s, strlen (s));
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST (hook_and_relay_share_a_keep_alive_connection_in_order)
{
    rig_t r;
    rig_start (&r, 100, 5000, 5000, true);
    hsn_raw_t *c = client_open (r.port);
    __atomic_store_n (&native_calls, 0, __ATOMIC_RELAXED);
    /*  500 answered in the loop, one after another. */
    for (int i = 0; i < 500; i++) {
        char req[128];
        snprintf (req, sizeof req, "GET /native/%d HTTP/1.1\r\nHost: t\r\nX-Test: %d\r\n\r\n", i, i);
        client_say (c, req);
        char want[64];
        snprintf (want, sizeof want, "native GET /native/%d x-test=%d body=0", i, i);
        ck_assert_msg (hsn_raw_wait_for (c, want, 1, 5000), "answer %d missing: %s", i, c->buf);
        hsn_raw_reset (c);
    }
    ck_assert_int_eq (__atomic_load_n (&native_calls, __ATOMIC_RELAXED), 500);
    /*  400 in one write: more than one pass of the loop takes (the rest
     *  must not wait for an event that will not come). */
    static char burst[400 * 48];
    size_t blen = 0;
    for (int i = 0; i < 400; i++)
        blen += (size_t) snprintf (burst + blen, sizeof burst - blen,
                                   "GET /native/p%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    client_send (c, burst, blen);
    ck_assert_msg (hsn_raw_wait_for (c, "native GET /native/p399 ", 1, 5000), "burst: %zu bytes",
                   c->len);
    ck_assert (hsn_raw_wait_for (c, "HTTP/1.1 200 OK", 400, 5000));
    hsn_raw_reset (c);
    /*  Pipelined in one write: hook, relay, hook, relay with a query, a
     *  hook POST with a body. */
    client_say (c, "GET /native/a HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /up/b HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /native/c HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /up/d?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "POST /native/e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    ck_assert_msg (hsn_raw_wait_for (c, "body=5", 1, 5000), "pipelined answers: %s", c->buf);
    const char *a = strstr (c->buf, "native GET /native/a");
    const char *b = strstr (c->buf, "up GET /up/b ");
    const char *cc = strstr (c->buf, "native GET /native/c");
    const char *d = strstr (c->buf, "up GET /up/d?x=1 ");
    const char *e = strstr (c->buf, "native POST /native/e x-test=- body=5");
    ck_assert_msg (a && b && cc && d && e && a < b && b < cc && cc < d && d < e,
                   "out of order: %s", c->buf);
    /*  The relayed request carried the client's address with the secret. */
    ck_assert_ptr_nonnull (strstr (c->buf, "peer=[s3cr3t 127.0.0.1] peers=1"));
    ck_assert (!c->eof);
    hsn_raw_close (&c);
    rig_stop (&r);
}
END_TEST

START_TEST (bodies_continue_streams_and_forged_peers)
{
    rig_t r;
    rig_start (&r, 100, 5000, 5000, true);
    /*  A body past the inline size, relayed whole; the connection lives. */
    hsn_raw_t *c = client_open (r.port);
    size_t big = 200000;
    char *body = (char *) malloc (big);
    memset (body, 'x', big);
    char head[256];
    snprintf (head, sizeof head, "PUT /up/big HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
              "X-Hsn-Peer: forged 10.0.0.1\r\nX-Hsn-Admitted: forged\r\n\r\n", big);
    client_say (c, head);
    client_send (c, body, big);
    ck_assert_msg (hsn_raw_wait_for (c, "body=200000", 1, 5000), "big body: %s", c->buf);
    ck_assert_ptr_nonnull (strstr (c->buf, "peer=[s3cr3t 127.0.0.1] peers=1"));
    ck_assert_msg (strstr (c->buf, "admitted=[]") != NULL, "%s", c->buf);
    hsn_raw_reset (c);
    /*  A PASS with fields of the hook's: the upstream sees them. */
    client_say (c, "GET /up/relay HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_msg (hsn_raw_wait_for (c, "relay=[yes]", 1, 5000), "relay: %s", c->buf);
    hsn_raw_reset (c);
    client_say (c, "GET /up/again HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_msg (hsn_raw_wait_for (c, "up GET /up/again", 1, 5000), "after the body: %s", c->buf);
    hsn_raw_reset (c);
    /*  100-continue: the body goes once the upstream asks for it. */
    client_say (c, "POST /up/cont HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                   "Expect: 100-continue\r\n\r\n");
    ck_assert_msg (hsn_raw_wait_for (c, "100 Continue", 1, 5000), "no 100: %s", c->buf);
    client_say (c, "abc");
    ck_assert_msg (hsn_raw_wait_for (c, "up POST /up/cont peer", 1, 5000), "%s", c->buf);
    ck_assert_ptr_nonnull (strstr (c->buf, "body=3"));
    hsn_raw_reset (c);
    /*  No length: the answer ends with the connection. */
    client_say (c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert (hsn_raw_wait_eof (c, 5000));
    ck_assert_msg (strstr (c->buf, "part0;part1;part2;") != NULL, "%s", c->buf);
    hsn_raw_close (&c);
    free (body);
    rig_stop (&r);
}
END_TEST

/*  Send head, expect status and a JSON error code, then the close. */
static void
refused (int port, const char *head, int status, const char *code)
{
    hsn_raw_t *c = client_open (port);
    client_say (c, head);
    char want[64];
    snprintf (want, sizeof want, "HTTP/1.1 %d ", status);
    ck_assert_msg (hsn_raw_wait_eof (c, 5000), "no close after %d: %s", status, head);
    ck_assert_msg (strncmp (c->buf, want, strlen (want)) == 0, "want %d: %s", status, c->buf);
    char jcode[64];
    snprintf (jcode, sizeof jcode, "\"code\":\"%s\"", code);
    ck_assert_msg (strstr (c->buf, jcode) && strstr (c->buf, "\"success\":false"),
                   "want %s: %s", code, c->buf);
    hsn_raw_close (&c);
}

START_TEST (bad_heads_get_a_clear_error_and_a_close)
{
    rig_t r;
    rig_start (&r, 100, 5000, 5000, true);
    refused (r.port, "POST /up/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n", 411, "length_required");
    refused (r.port, "POST /up/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: chunked\r\n\r\nhello", 400, "bad_request");
    refused (r.port, "POST /up/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                     "Content-Length: 6\r\n\r\nhello!", 400, "bad_request");
    refused (r.port, "GET /up/x HTTP/1.1\r\nHost : t\r\n\r\n", 400, "bad_request");
    refused (r.port, "GET /up/x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "bad_request");
    refused (r.port, "\x16\x03\x01\x02\x05\x01\x02\x01\xfc\x03\x03\r\n\r\n", 400, "bad_request");
    refused (r.port, "GET /up/x HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http_version");
    refused (r.port, "GET ?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request");
    char big[6000];
    int n = snprintf (big, sizeof big, "GET /up/x HTTP/1.1\r\nX-Big: ");
    memset (big + n, 'a', sizeof big - (size_t) n - 5);
    memcpy (big + sizeof big - 5, "\r\n\r\n", 5);
    refused (r.port, big, 431, "too_large");
    /*  Over the body limit: refused at once, and the client reads the
     *  answer although it is still sending (no reset under it). */
    hsn_raw_t *c = client_open (r.port);
    client_say (c, "PUT /up/x HTTP/1.1\r\nHost: t\r\nContent-Length: 900000\r\n\r\n");
    char chunk[65536];
    memset (chunk, 'y', sizeof chunk);
    client_send (c, chunk, sizeof chunk);
    ck_assert (hsn_raw_wait_for (c, "\"code\":\"too_large\"", 1, 5000));
    ck_assert_msg (strncmp (c->buf, "HTTP/1.1 413 ", 13) == 0, "%s", c->buf);
    hsn_raw_close (&c);
    /*  The front still serves. */
    c = client_open (r.port);
    client_say (c, "GET /native/ok HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert (hsn_raw_wait_for (c, "native GET /native/ok", 1, 5000));
    hsn_raw_close (&c);
    rig_stop (&r);
}
END_TEST

static bool
no_conns (void *arg)
{
    return gateway_front_conns ((gateway_front_t *) arg) == 0;
}

START_TEST (limits_in_time_and_number)
{
    rig_t r;
    rig_start (&r, 2, 300, 300, true);
    /*  A head that never ends: 408 at the request timeout. */
    hsn_raw_t *c = client_open (r.port);
    client_say (c, "GET /up/x HTTP/1.1\r\nHo");
    ck_assert (hsn_raw_wait_eof (c, 5000));
    ck_assert_msg (strncmp (c->buf, "HTTP/1.1 408 ", 13) == 0, "%s", c->buf);
    hsn_raw_close (&c);
    /*  An idle keep-alive connection is closed after its answer. */
    c = client_open (r.port);
    client_say (c, "GET /native/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert (hsn_raw_wait_for (c, "native GET", 1, 5000));
    ck_assert (hsn_raw_wait_eof (c, 5000));
    hsn_raw_close (&c);
    ck_assert (hsn_wait_until (no_conns, r.front, 5000));
    /*  Two connections at most: the third hears 503. */
    hsn_raw_t *c1 = client_open (r.port), *c2 = client_open (r.port);
    client_say (c1, "GET /native/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    client_say (c2, "GET /native/2 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert (hsn_raw_wait_for (c1, "native", 1, 5000)
               && hsn_raw_wait_for (c2, "native", 1, 5000));
    hsn_raw_t *c3 = client_open (r.port);
    ck_assert (hsn_raw_wait_eof (c3, 5000));
    ck_assert_msg (strncmp (c3->buf, "HTTP/1.1 503 ", 13) == 0, "%s", c3->buf);
    ck_assert_ptr_nonnull (strstr (c3->buf, "\"code\":\"overloaded\""));
    const char *cl = strstr (c3->buf, "Content-Length: "), *bstart = strstr (c3->buf, "\r\n\r\n");
    ck_assert (cl && bstart);
    ck_assert_int_eq (atoi (cl + 16), (int) strlen (bstart + 4));
    hsn_raw_close (&c1);
    hsn_raw_close (&c2);
    hsn_raw_close (&c3);
    ck_assert (hsn_wait_until (no_conns, r.front, 5000));
    /*  A relayed answer nobody reads: closed after the request timeout,
     *  the upstream with it. */
    c = client_open (r.port);
    int small = 4096;
    setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    client_say (c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert (hsn_wait_until (no_conns, r.front, 10000));
    hsn_raw_close (&c);
    rig_stop (&r);
}
END_TEST

START_TEST (no_upstream_is_502_and_a_leaving_client_frees_all)
{
    rig_t r;
    rig_start (&r, 100, 5000, 5000, false);
    refused (r.port, "GET /up/x HTTP/1.1\r\nHost: t\r\n\r\n", 502, "unavailable");
    rig_stop (&r);

    rig_start (&r, 100, 5000, 5000, true);
    __atomic_store_n (&slow_release, 0, __ATOMIC_RELEASE);
    hsn_raw_t *c = client_open (r.port);
    client_say (c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    hsn_raw_t *d = client_open (r.port);
    client_say (d, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    hsn_raw_close (&c);                  /* gone while its request is relayed */
    __atomic_store_n (&slow_release, 1, __ATOMIC_RELEASE);
    ck_assert (hsn_raw_wait_for (d, "slow", 1, 10000));
    hsn_raw_close (&d);
    ck_assert (hsn_wait_until (no_conns, r.front, 10000));
    rig_stop (&r);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_front");
    TCase *tc = tcase_create ("front");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, hook_and_relay_share_a_keep_alive_connection_in_order);
    tcase_add_test (tc, bodies_continue_streams_and_forged_peers);
    tcase_add_test (tc, bad_heads_get_a_clear_error_and_a_close);
    tcase_add_test (tc, limits_in_time_and_number);
    tcase_add_test (tc, no_upstream_is_502_and_a_leaving_client_frees_all);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
