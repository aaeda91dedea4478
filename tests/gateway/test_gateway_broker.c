/*  Broker: registration, credit-based dispatch, queueing, replica loss,
 *  expiry and drain, over real ZeroMQ sockets (tcp for workers, inproc for
 *  the client, as in production). */
#include "gateway/gateway_broker.h"
#include "hsn_client.h"
#include "hsn_harness.h"
#include "hsn_sock.h"
#include "hsn_test.h"
#include "hsn_time.h"
#include "hsn_worker.h"

#include <czmq.h>
#include <pthread.h>

#define HB_MS 100

static gateway_broker_t *broker;
static char tcp_ep[64], inproc_ep[64];
static hsn_client_t *client;
static hsn_enc_t enc;

static void
setup (void)
{
    static int n;
    snprintf (inproc_ep, sizeof inproc_ep, "inproc://broker-test-%d-%d", getpid (), n++);
    gateway_broker_config_t cfg = { "tcp://127.0.0.1:*", inproc_ep, HB_MS, 2, 5000, 3 };
    broker = gateway_broker_new (&cfg);
    ck_assert_ptr_nonnull (broker);
    snprintf (tcp_ep, sizeof tcp_ep, "tcp://127.0.0.1:%d", gateway_broker_port (broker));
    client = hsn_client_new (inproc_ep);
    ck_assert_ptr_nonnull (client);
    hsn_enc_init (&enc);
}

static void
teardown (void)
{
    hsn_client_destroy (&client);
    gateway_broker_destroy (&broker);
    hsn_enc_release (&enc);
}

/*  Send a cache request with op and wait for its reply status. */
static int
call_status (uint32_t op, int timeout_ms, uint64_t *count_out)
{
    uint64_t rid = hsn_client_next_rid (client);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0, 0);
    zmq_msg_t msg;
    int rc = hsn_client_call (client, hsn_enc_data (&enc), hsn_enc_size (&enc), rid,
                              timeout_ms, &msg);
    if (rc)
        return rc;
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)), 0);
    ck_assert_uint_eq (env.rid, rid);
    if (count_out)
        hsn_env_uint (&env, HSN_FIELD_COUNT, count_out);
    zmq_msg_close (&msg);
    return (int) env.status;
}

/*  --- an echo worker on its own thread (hsn_worker inside a zloop) ------ */

typedef struct { uint32_t id; uint32_t credits; } echo_args_t;

static void
echo_handle (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    echo_args_t *a = (echo_args_t *) arg;
    hsn_enc_t e;
    hsn_enc_init (&e);
    hsn_enc_begin (&e, HSN_KIND_REPLY, req->rid, req->service, req->op, HSN_STATUS_OK, 1);
    hsn_enc_uint (&e, HSN_FIELD_COUNT, a->id);
    hsn_worker_reply_enc (w, route, &e);
    hsn_enc_release (&e);
}

static int
on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    char *cmd = zstr_recv (pipe);
    int rc = 0;
    if (!cmd || streq (cmd, "$TERM"))
        rc = -1;
    else if (streq (cmd, "DRAIN")) {
        hsn_worker_drain ((hsn_worker_t *) arg);
        rc = 0;
    }
    else if (streq (cmd, "RELEASED?"))
        zstr_send (pipe, hsn_worker_released ((hsn_worker_t *) arg) ? "yes" : "no");
    zstr_free (&cmd);
    return rc;
}

static void
echo_actor (zsock_t *pipe, void *args)
{
    echo_args_t *a = (echo_args_t *) args;
    zloop_t *loop = zloop_new ();
    char replica[32];
    snprintf (replica, sizeof replica, "echo-%u", a->id);
    hsn_worker_config_t cfg = { tcp_ep, HSN_SERVICE_CACHE, replica, a->credits, HB_MS,
                                echo_handle, a, NULL };
    hsn_worker_t *w = hsn_worker_new (loop, &cfg);
    zloop_reader (loop, pipe, on_pipe, w);
    zsock_signal (pipe, 0);
    zloop_start (loop);
    hsn_worker_destroy (&w);
    zloop_destroy (&loop);
}

/*  --- a hand-driven worker: the test decides when it replies or dies ---- */

typedef struct {
    zsock_t *sock;
    hsn_enc_t enc;
} raw_worker_t;

static void
raw_heartbeat (raw_worker_t *rw, uint32_t credits, uint32_t interval_ms)
{
    hsn_enc_begin (&rw->enc, HSN_KIND_HEARTBEAT, 0, HSN_SERVICE_CACHE, 0, 0, 4);
    hsn_enc_uint (&rw->enc, HSN_FIELD_INTERVAL, interval_ms);
    hsn_enc_uint (&rw->enc, HSN_FIELD_SERVICE, HSN_SERVICE_CACHE);
    hsn_enc_cstr (&rw->enc, HSN_FIELD_REPLICA, "raw");
    hsn_enc_uint (&rw->enc, HSN_FIELD_CREDITS, credits);
    zmq_send (zsock_resolve (rw->sock), hsn_enc_data (&rw->enc), hsn_enc_size (&rw->enc), 0);
}

/*  interval_ms is the heartbeat interval it declares: the broker expires it
 *  after three of them without a heartbeat. */
static raw_worker_t *
raw_new (uint32_t credits, uint32_t interval_ms)
{
    raw_worker_t *rw = (raw_worker_t *) zmalloc (sizeof *rw);
    hsn_enc_init (&rw->enc);
    rw->sock = zsock_new_dealer (tcp_ep);
    raw_heartbeat (rw, credits, interval_ms);
    return rw;
}

static void
raw_destroy (raw_worker_t **rw_p)
{
    zsock_set_linger ((*rw_p)->sock, 0);
    zsock_destroy (&(*rw_p)->sock);
    hsn_enc_release (&(*rw_p)->enc);
    free (*rw_p);
    *rw_p = NULL;
}

/*  Wait for one request; return its token frame copy. */
static bool
raw_recv_request (raw_worker_t *rw, int timeout_ms, zmq_msg_t parts[2])
{
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (hsn_now_ms () < deadline) {
        zmq_pollitem_t it = { zsock_resolve (rw->sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&it, 1, 10) <= 0)
            continue;
        int n = hsn_sock_recvv (zsock_resolve (rw->sock), parts, 2, 0);
        if (n == 2)
            return true;
        if (n > 0)
            hsn_sock_close_msgs (parts, (size_t) n);    /* broker heartbeat */
    }
    return false;
}

typedef struct { uint32_t service; uint32_t want; } live_arg_t;

static bool
live_is (void *arg)
{
    live_arg_t *a = (live_arg_t *) arg;
    return gateway_broker_replicas (broker, a->service) == a->want;
}

static void
wait_live (uint32_t want)
{
    live_arg_t a = { HSN_SERVICE_CACHE, want };
    ck_assert_msg (hsn_wait_until (live_is, &a, 3000), "expected %u live replicas, have %u",
                   want, gateway_broker_replicas (broker, HSN_SERVICE_CACHE));
}

/*  --- tests ------------------------------------------------------------ */

START_TEST (no_replica_answers_no_service_at_once)
{
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (call_status (HSN_OP_CACHE_GET, 2000, NULL), HSN_STATUS_NO_SERVICE);
    ck_assert_int_lt (hsn_now_ms () - t0, 1000);
}
END_TEST

START_TEST (request_reaches_worker_and_reply_comes_back)
{
    echo_args_t a = { 7, 4 };
    zactor_t *w = zactor_new (echo_actor, &a);
    wait_live (1);
    uint64_t who = 0;
    ck_assert_int_eq (call_status (HSN_OP_CACHE_GET, 2000, &who), HSN_STATUS_OK);
    ck_assert_uint_eq (who, 7);
    zactor_destroy (&w);
}
END_TEST

START_TEST (load_spreads_over_replicas)
{
    echo_args_t a1 = { 1, 1 }, a2 = { 2, 1 };
    zactor_t *w1 = zactor_new (echo_actor, &a1);
    zactor_t *w2 = zactor_new (echo_actor, &a2);
    wait_live (2);
    int seen[3] = { 0 };
    for (int i = 0; i < 40; i++) {
        uint64_t who = 0;
        ck_assert_int_eq (call_status (HSN_OP_CACHE_GET, 2000, &who), HSN_STATUS_OK);
        ck_assert (who == 1 || who == 2);
        seen[who]++;
    }
    ck_assert_int_gt (seen[1], 0);
    ck_assert_int_gt (seen[2], 0);
    zactor_destroy (&w1);
    zactor_destroy (&w2);
}
END_TEST

START_TEST (credits_are_enforced_and_queue_is_bounded)
{
    raw_worker_t *rw = raw_new (1, 5000);
    wait_live (1);
    /*  Three requests from the inproc side without waiting for replies:
     *  one goes to the worker, one is queued (queue_max 2 leaves room),
     *  and the worker must not see the second before it answers. */
    void *h = NULL;
    zsock_t *c = zsock_new_dealer (inproc_ep);
    h = zsock_resolve (c);
    uint64_t rids[3] = { 101, 102, 103 };
    for (int i = 0; i < 3; i++) {
        hsn_enc_begin (&enc, HSN_KIND_REQUEST, rids[i], HSN_SERVICE_CACHE, HSN_OP_CACHE_GET, 0, 0);
        zmq_send (h, hsn_enc_data (&enc), hsn_enc_size (&enc), 0);
    }
    zmq_msg_t parts[2];
    ck_assert (raw_recv_request (rw, 2000, parts));
    zmq_msg_t more[2];
    ck_assert_msg (!raw_recv_request (rw, 300, more), "credit exceeded: second request dispatched");
    /*  Reply to the first: the queued ones follow one at a time. */
    for (int k = 0; k < 3; k++) {
        hsn_env_t env;
        ck_assert_int_eq (hsn_env_peek (&env, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1])), 0);
        hsn_enc_begin (&rw->enc, HSN_KIND_REPLY, env.rid, env.service, env.op, 0, 0);
        const void *fr[2] = { zmq_msg_data (&parts[0]), hsn_enc_data (&rw->enc) };
        size_t ln[2] = { zmq_msg_size (&parts[0]), hsn_enc_size (&rw->enc) };
        ck_assert_int_eq (hsn_sock_sendv (zsock_resolve (rw->sock), fr, ln, 2, 0), 0);
        hsn_sock_close_msgs (parts, 2);
        if (k < 2)
            ck_assert (raw_recv_request (rw, 2000, parts));
    }
    for (int i = 0; i < 3; i++) {
        char *ignored = NULL;
        zmq_pollitem_t it = { h, 0, ZMQ_POLLIN, 0 };
        ck_assert_int_eq (zmq_poll (&it, 1, 2000), 1);
        zmq_msg_t m;
        zmq_msg_init (&m);
        zmq_msg_recv (&m, h, 0);
        hsn_env_t env;
        ck_assert_int_eq (hsn_env_peek (&env, zmq_msg_data (&m), zmq_msg_size (&m)), 0);
        ck_assert_int_eq (env.status, HSN_STATUS_OK);
        zmq_msg_close (&m);
        (void) ignored;
    }
    gateway_broker_stats_t st;
    gateway_broker_stats (broker, &st);
    ck_assert_uint_eq (st.queued, 2);
    zsock_destroy (&c);
    raw_destroy (&rw);
}
END_TEST

START_TEST (full_queue_answers_overloaded)
{
    raw_worker_t *rw = raw_new (1, 5000);
    wait_live (1);
    zsock_t *c = zsock_new_dealer (inproc_ep);
    void *h = zsock_resolve (c);
    for (uint64_t rid = 1; rid <= 4; rid++) {
        hsn_enc_begin (&enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, HSN_OP_CACHE_GET, 0, 0);
        zmq_send (h, hsn_enc_data (&enc), hsn_enc_size (&enc), 0);
    }
    /*  One in flight, two queued (queue_max 2), the fourth refused. */
    zmq_pollitem_t it = { h, 0, ZMQ_POLLIN, 0 };
    ck_assert_int_eq (zmq_poll (&it, 1, 2000), 1);
    zmq_msg_t m;
    zmq_msg_init (&m);
    zmq_msg_recv (&m, h, 0);
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_peek (&env, zmq_msg_data (&m), zmq_msg_size (&m)), 0);
    ck_assert_uint_eq (env.rid, 4);
    ck_assert_int_eq (env.status, HSN_STATUS_OVERLOADED);
    zmq_msg_close (&m);
    zsock_destroy (&c);
    raw_destroy (&rw);
}
END_TEST

START_TEST (lost_replica_idempotent_redispatched_other_failed)
{
    raw_worker_t *doomed = raw_new (2, 5000);
    wait_live (1);
    zsock_t *c = zsock_new_dealer (inproc_ep);
    void *h = zsock_resolve (c);
    /*  An idempotent GET and a request for an operation the protocol does
     *  not mark idempotent (an unknown one counts as not idempotent). */
    uint32_t unsafe_op = HSN_OP_CODE (CACHE, 200);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, 11, HSN_SERVICE_CACHE, HSN_OP_CACHE_GET, 0, 0);
    zmq_send (h, hsn_enc_data (&enc), hsn_enc_size (&enc), 0);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, 12, HSN_SERVICE_CACHE, unsafe_op, 0, 0);
    zmq_send (h, hsn_enc_data (&enc), hsn_enc_size (&enc), 0);
    zmq_msg_t p1[2], p2[2];
    ck_assert (raw_recv_request (doomed, 2000, p1));
    ck_assert (raw_recv_request (doomed, 2000, p2));
    hsn_sock_close_msgs (p1, 2);
    hsn_sock_close_msgs (p2, 2);
    /*  A healthy replica joins, then the one holding both requests dies
     *  without a word. */
    echo_args_t a = { 9, 4 };
    zactor_t *w = zactor_new (echo_actor, &a);
    wait_live (2);
    raw_destroy (&doomed);
    int got = 0;
    while (got < 2) {
        zmq_pollitem_t it = { h, 0, ZMQ_POLLIN, 0 };
        ck_assert_int_eq (zmq_poll (&it, 1, 3000), 1);
        zmq_msg_t m;
        zmq_msg_init (&m);
        zmq_msg_recv (&m, h, 0);
        hsn_env_t env;
        ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&m), zmq_msg_size (&m)), 0);
        if (env.rid == 11) {
            uint64_t who = 0;
            ck_assert_int_eq (env.status, HSN_STATUS_OK);
            hsn_env_uint (&env, HSN_FIELD_COUNT, &who);
            ck_assert_uint_eq (who, 9);
        }
        else {
            ck_assert_uint_eq (env.rid, 12);
            ck_assert_int_eq (env.status, HSN_STATUS_WORKER_LOST);
        }
        zmq_msg_close (&m);
        got++;
    }
    gateway_broker_stats_t st;
    gateway_broker_stats (broker, &st);
    ck_assert_uint_eq (st.retries, 1);
    ck_assert_uint_eq (st.worker_lost, 1);
    zsock_destroy (&c);
    zactor_destroy (&w);
}
END_TEST

START_TEST (silent_replica_expires_within_three_heartbeats)
{
    raw_worker_t *rw = raw_new (1, HB_MS);
    wait_live (1);
    /*  It stays connected but never heartbeats again. */
    int64_t t0 = hsn_now_ms ();
    wait_live (0);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_int_le (took, 4 * HB_MS + 200);
    gateway_broker_stats_t st;
    gateway_broker_stats (broker, &st);
    ck_assert_uint_eq (st.workers_expired, 1);
    raw_destroy (&rw);
}
END_TEST

START_TEST (drain_stops_dispatch_and_is_acknowledged)
{
    echo_args_t a = { 3, 4 };
    zactor_t *w = zactor_new (echo_actor, &a);
    wait_live (1);
    zstr_send (w, "DRAIN");
    wait_live (0);
    bool released = false;
    int64_t deadline = hsn_now_ms () + 2000;
    while (!released && hsn_now_ms () < deadline) {
        zstr_send (w, "RELEASED?");
        char *ans = zstr_recv (w);
        released = ans && streq (ans, "yes");
        zstr_free (&ans);
    }
    ck_assert (released);
    ck_assert_int_eq (call_status (HSN_OP_CACHE_GET, 2000, NULL), HSN_STATUS_NO_SERVICE);
    zactor_destroy (&w);
}
END_TEST

START_TEST (garbage_request_gets_malformed_reply)
{
    zsock_t *c = zsock_new_dealer (inproc_ep);
    void *h = zsock_resolve (c);
    zmq_send (h, "\x93\x01\x02", 3, 0);
    zmq_pollitem_t it = { h, 0, ZMQ_POLLIN, 0 };
    ck_assert_int_eq (zmq_poll (&it, 1, 2000), 1);
    zmq_msg_t m;
    zmq_msg_init (&m);
    zmq_msg_recv (&m, h, 0);
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&m), zmq_msg_size (&m)), 0);
    ck_assert_int_eq (env.status, HSN_STATUS_MALFORMED);
    zmq_msg_close (&m);
    /*  The broker is still serving. */
    ck_assert_int_eq (call_status (HSN_OP_CACHE_GET, 2000, NULL), HSN_STATUS_NO_SERVICE);
    zsock_destroy (&c);
}
END_TEST

typedef struct {
    int rc;
    int decode_rc;
    uint64_t rid, got_rid;
} version_call_t;

/*  hsn_client_call in its own thread, while the test thread plays the
 *  replica. */
static void *
version_caller (void *arg)
{
    version_call_t *vc = (version_call_t *) arg;
    hsn_client_t *cl = hsn_client_new (inproc_ep);
    hsn_enc_t e;
    hsn_enc_init (&e);
    vc->rid = hsn_client_next_rid (cl);
    hsn_enc_begin (&e, HSN_KIND_REQUEST, vc->rid, HSN_SERVICE_CACHE, HSN_OP_CACHE_GET, 0, 0);
    zmq_msg_t m;
    vc->rc = hsn_client_call (cl, hsn_enc_data (&e), hsn_enc_size (&e), vc->rid, 3000, &m);
    if (vc->rc == 0) {
        hsn_env_t env;
        vc->decode_rc = hsn_env_decode (&env, zmq_msg_data (&m), zmq_msg_size (&m));
        vc->got_rid = env.rid;
        zmq_msg_close (&m);
    }
    hsn_enc_release (&e);
    hsn_client_destroy (&cl);
    return NULL;
}

START_TEST (reply_in_another_version_reaches_the_client)
{
    raw_worker_t *rw = raw_new (1, 5000);
    wait_live (1);
    version_call_t vc = { -1, 0, 0, 0 };
    pthread_t th;
    pthread_create (&th, NULL, version_caller, &vc);
    zmq_msg_t parts[2];
    ck_assert (raw_recv_request (rw, 2000, parts));
    hsn_env_t req;
    ck_assert_int_eq (hsn_env_peek (&req, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1])), 0);
    /*  The reply of a peer speaking the next version: its header is
     *  readable, the rest is not ours to judge. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint32 (&pk, HSN_PROTO_VERSION + 1);
    msgpack_pack_uint32 (&pk, HSN_KIND_REPLY);
    msgpack_pack_uint64 (&pk, req.rid);
    msgpack_pack_uint32 (&pk, HSN_SERVICE_CACHE);
    msgpack_pack_uint32 (&pk, HSN_OP_CACHE_GET);
    msgpack_pack_uint32 (&pk, 0);
    msgpack_pack_map (&pk, 0);
    const void *fr[2] = { zmq_msg_data (&parts[0]), sb.data };
    size_t ln[2] = { zmq_msg_size (&parts[0]), sb.size };
    ck_assert_int_eq (hsn_sock_sendv (zsock_resolve (rw->sock), fr, ln, 2, 0), 0);
    hsn_sock_close_msgs (parts, 2);
    pthread_join (th, NULL);
    /*  Delivered (not a timeout), and recognisably another version. */
    ck_assert_int_eq (vc.rc, 0);
    ck_assert_int_eq (vc.decode_rc, -EPROTONOSUPPORT);
    ck_assert_uint_eq (vc.got_rid, vc.rid);
    msgpack_sbuffer_destroy (&sb);
    raw_destroy (&rw);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_broker");
    TCase *tc = tcase_create ("broker");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, no_replica_answers_no_service_at_once);
    tcase_add_test (tc, request_reaches_worker_and_reply_comes_back);
    tcase_add_test (tc, load_spreads_over_replicas);
    tcase_add_test (tc, credits_are_enforced_and_queue_is_bounded);
    tcase_add_test (tc, full_queue_answers_overloaded);
    tcase_add_test (tc, lost_replica_idempotent_redispatched_other_failed);
    tcase_add_test (tc, silent_replica_expires_within_three_heartbeats);
    tcase_add_test (tc, drain_stops_dispatch_and_is_acknowledged);
    tcase_add_test (tc, garbage_request_gets_malformed_reply);
    tcase_add_test (tc, reply_in_another_version_reaches_the_client);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
