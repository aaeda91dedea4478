/*  agentbus_service's grouped sends: the sends one replica takes in one
 *  wake-up share script calls (agentbus_pipeline.c), yet each message is
 *  judged as if sent alone, in order: its queue's bound, the agent limit,
 *  what was written. The replica is held busy while the requests are sent,
 *  so that it takes them in one wake-up as under load. A real broker,
 *  replica and redis-server, as in test_agentbus_service.c. */
#include <pthread.h>

#include "agentbus_fixture.h"

#define MAX_AGENTS 3
#define MAX_QUEUE  100
#define N          8

static bus_t bus;

static void
setup (void)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    fixture_max_agents = MAX_AGENTS;
    bus_start (&bus, MAX_QUEUE, 60000, 5, 0);
    fixture_max_agents = 0;
}

static void
teardown (void)
{
    bus_stop (&bus);
    hsn_redis_stop (&redis);
}

typedef struct {
    char cmd[64];
    char *answer;
} hold_cmd_t;

static void *
hold_thread (void *arg)
{
    hold_cmd_t *h = (hold_cmd_t *) arg;
    h->answer = bus_cmd (&bus, h->cmd);
    return NULL;
}

static bool
is_holding (void *arg)
{
    return __atomic_load_n (&bus.holding, __ATOMIC_SEQ_CST) != 0;
}

START_TEST (grouped_sends_are_judged_one_by_one)
{
    for (int i = 0; i < MAX_QUEUE - 2; i++)
        ck_assert_int_eq (send_to (&bus, "a1", NULL, i, NULL, 0), HSN_STATUS_CREATED);
    /*  a1 is known with 2 places left; 2 more agents may become known. */
    static const char *const to[N] = { "a1", "b1", "a1", "a1", "b2", "b3", "b1", "b3" };
    static const int want[N] = { HSN_STATUS_CREATED, HSN_STATUS_CREATED, HSN_STATUS_CREATED,
                                 HSN_STATUS_FULL, HSN_STATUS_CREATED, HSN_STATUS_FULL,
                                 HSN_STATUS_CREATED, HSN_STATUS_FULL };
    static const char *const why[N] = { NULL, NULL, NULL, "queue of agent 'a1' is full",
                                        NULL, "AGENTBUS_MAX_AGENTS", NULL, "'b3'" };

    gateway_broker_stats_t st;
    gateway_broker_stats (hsn_rig_broker (bus.rig), &st);
    hold_cmd_t hold = { "", NULL };
    snprintf (hold.cmd, sizeof hold.cmd, "HOLD %llu", (unsigned long long) st.requests + N);
    pthread_t th;
    ck_assert_int_eq (pthread_create (&th, NULL, hold_thread, &hold), 0);
    ck_assert (hsn_wait_until (is_holding, NULL, 5000));

    /*  All N in a row on one connection, before any answer. */
    zsock_t *d = zsock_new (ZMQ_DEALER);
    ck_assert_ptr_nonnull (d);
    zsock_set_linger (d, 0);
    ck_assert_int_eq (zsock_connect (d, "tcp://127.0.0.1:%d",
                                     gateway_broker_port (hsn_rig_broker (bus.rig))), 0);
    hsn_enc_t e;
    hsn_enc_init (&e);
    for (int i = 0; i < N; i++) {
        hsn_enc_begin (&e, HSN_KIND_REQUEST, 1000 + (uint64_t) i, HSN_SERVICE_AGENT_BUS,
                       HSN_OP_AGENT_SEND, 0, 2);
        hsn_enc_cstr (&e, HSN_FIELD_AGENT, to[i]);
        hsn_enc_key (&e, HSN_FIELD_PAYLOAD);
        msgpack_pack_int64 (&e.pk, 500 + i);
        ck_assert_int_eq (zmq_send (zsock_resolve (d), hsn_enc_data (&e), hsn_enc_size (&e), 0),
                          (int) hsn_enc_size (&e));
    }
    hsn_enc_release (&e);
    pthread_join (th, NULL);
    ck_assert_str_eq (hold.answer, "held");
    zstr_free (&hold.answer);

    zsock_set_rcvtimeo (d, CALL_MS);
    bool seen[N] = { false };
    char ids[N][64];
    for (int k = 0; k < N; k++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        ck_assert_int_ge (zmq_msg_recv (&msg, zsock_resolve (d), 0), 0);
        hsn_env_t env;
        ck_assert_int_eq (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)), 0);
        ck_assert (env.rid >= 1000 && env.rid < 1000 + N);
        int i = (int) (env.rid - 1000);
        ck_assert_msg (!seen[i], "two answers to send %d", i);
        seen[i] = true;
        ck_assert_msg ((int) env.status == want[i], "send %d to %s: status %d, want %d", i,
                       to[i], (int) env.status, want[i]);
        ids[i][0] = 0;
        if (why[i]) {
            const char *m = "";
            size_t len = 0;
            hsn_env_str (&env, HSN_FIELD_MESSAGE, &m, &len);
            char msgbuf[512];
            snprintf (msgbuf, sizeof msgbuf, "%.*s", (int) len, m);
            ck_assert_msg (strstr (msgbuf, why[i]), "send %d: '%s' lacks '%s'", i, msgbuf, why[i]);
        }
        else {
            ck_assert (hsn_env_has (&env, HSN_FIELD_RESULT));
            get_str (&env.fields[HSN_FIELD_RESULT], "id", ids[i], sizeof ids[i]);
            ck_assert_msg (ids[i][0] == 'n', "send %d: id '%s'", i, ids[i]);
        }
        zmq_msg_close (&msg);
    }
    zsock_destroy (&d);

    /*  What was written is what was answered. */
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:a1:n"), MAX_QUEUE);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:b1:n"), 2);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:b2:n"), 1);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:ab:q:b3:n"), 0);
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "b3"), 0);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:agents"), MAX_AGENTS);
    /*  In order: b1's two messages as sent, and both received. */
    ck_assert_msg (strcmp (ids[1], ids[6]) != 0, "same id twice");
    msg_t *m = (msg_t *) calloc (MSGS_MAX, sizeof *m);
    ck_assert_int_eq (receive (&bus, "b1", 10, m), 2);
    ck_assert_str_eq (m[0].id, ids[1]);
    ck_assert_int_eq (m[0].payload, 501);
    ck_assert_str_eq (m[1].id, ids[6]);
    ck_assert_int_eq (m[1].payload, 506);
    free (m);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agentbus_batch");
    TCase *tc = tcase_create ("batch");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, grouped_sends_are_judged_one_by_one);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
