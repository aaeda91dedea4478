/*  agentbus_service end to end, the operations: a real broker and client
 *  (hsn_rig), the service in an hsn_worker, a real redis-server. Delivery
 *  over time (redelivery, dead letters, Redis failures) is in
 *  test_agentbus_delivery.c. */
#include <pthread.h>
#include <signal.h>

#include "agentbus_fixture.h"

#define MAX_QUEUE 5

static bus_t bus;

static void
setup (void)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    /*  A visibility timeout no test reaches: nothing is redelivered here. */
    bus_start (&bus, MAX_QUEUE, 60000, 5, 1000);
}

static void
teardown (void)
{
    bus_stop (&bus);
    hsn_redis_stop (&redis);
}

START_TEST (strict_priority_order)
{
    msg_t m[MSGS_MAX];
    char id[3][64];
    ck_assert_int_eq (send_to (&bus, "a1", "low", 1, id[0], 64), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "a1", "normal", 2, id[1], 64), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "a1", "high", 3, id[2], 64), HSN_STATUS_CREATED);
    ck_assert (id[0][0] == 'l' && id[1][0] == 'n' && id[2][0] == 'h');
    ck_assert_int_eq (receive (&bus, "a1", 10, m), 3);
    static const char *const order[] = { "high", "normal", "low" };
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq (m[i].priority, order[i]);
        ck_assert_int_eq (m[i].payload, 3 - i);
        ck_assert_str_eq (m[i].id, id[2 - i]);
        ck_assert_int_eq (m[i].deliveries, 1);
        ck_assert_str_eq (m[i].to, "a1");
        ck_assert_int_gt (m[i].created, 1600000000000000LL);
    }
    /*  Nothing left, and nothing handed out twice. */
    ck_assert_int_eq (receive (&bus, "a1", 10, m), 0);

    /*  Low waits while something above it does, and goes when nothing does. */
    ck_assert_int_eq (send_to (&bus, "a2", "low", 10, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "a2", "high", 11, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "a2", NULL, 12, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "a2", 1, m), 1);
    ck_assert_int_eq (m[0].payload, 11);
    ck_assert_int_eq (receive (&bus, "a2", 1, m), 1);
    ck_assert_int_eq (m[0].payload, 12);
    ck_assert_str_eq (m[0].priority, "normal");
    ck_assert_int_eq (receive (&bus, "a2", 1, m), 1);
    ck_assert_int_eq (m[0].payload, 10);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.sent"), 6);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.delivered"), 6);
    hsn_hist_t *lat = hsn_metrics_hist (bus.metrics, "agentbus.delivery_latency_us");
    ck_assert_uint_eq (lat->count, 6);
}
END_TEST

START_TEST (message_fields_round_trip)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "k", 1);
    msgpack_pack_double (&pk, 2.5);
    req_t q = REQ (.agent = "dst", .from = "src", .type = "task.run", .ttl = 600,
                   .payload_mp = sb.data, .payload_len = sb.size);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SEND, &q), HSN_STATUS_CREATED);
    reply_t r;
    req_t rq = REQ (.agent = "dst");
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_RECEIVE, &rq, &r), HSN_STATUS_OK);
    msg_t m[4];
    ck_assert_int_eq (messages_of (&r, m, 4), 1);
    ck_assert_str_eq (m[0].from, "src");
    ck_assert_str_eq (m[0].type, "task.run");
    ck_assert_int_eq (m[0].ttl, 600);
    ck_assert_str_eq (m[0].topic, "");
    /*  The payload is the sender's msgpack, byte for byte. */
    hsn_mp_obj_t arr, msg, payload;
    ck_assert_int_eq (hsn_mp_map_get (&r.result, "messages", &arr), 0);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, &arr);
    ck_assert_int_eq (hsn_mp_get (&rd, &msg, 32), 0);
    ck_assert_int_eq (hsn_mp_map_get (&msg, "payload", &payload), 0);
    ck_assert_uint_eq (payload.raw_len, sb.size);
    ck_assert (memcmp (payload.raw, sb.data, sb.size) == 0);
    reply_close (&r);
    msgpack_sbuffer_destroy (&sb);
}
END_TEST

static void
subscribe (const char *topic, const char *agent, uint32_t op, int want)
{
    req_t q = REQ (.topic = topic, .agent = agent);
    ck_assert_int_eq (status_of (&bus, op, &q), want);
}

static long long
publish (const char *topic, long long payload, int want)
{
    reply_t r;
    req_t q = REQ (.topic = topic, .payload = payload);
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_PUBLISH, &q, &r), want);
    long long n = want == HSN_STATUS_CREATED ? get_uint (&r.result, "recipients") : -1;
    reply_close (&r);
    return n;
}

START_TEST (topic_fan_out_and_unsubscribe)
{
    msg_t m[MSGS_MAX];
    static const char *const agents[] = { "s1", "s2", "s3" };
    ck_assert_int_eq (publish ("news", 1, HSN_STATUS_CREATED), 0);
    for (int i = 0; i < 3; i++)
        subscribe ("news", agents[i], HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);
    subscribe ("news", "s1", HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);    /* again: same */
    ck_assert_int_eq (publish ("news", 7, HSN_STATUS_CREATED), 3);
    for (int i = 0; i < 3; i++) {
        /*  One copy per recipient, in its own queue, with an id of that
         *  queue (each stream numbers its own entries, so the copies' ids
         *  need not be equal). */
        ck_assert_int_eq (receive (&bus, agents[i], 10, m), 1);
        ck_assert_int_eq (m[0].payload, 7);
        ck_assert_str_eq (m[0].topic, "news");
        ck_assert_str_eq (m[0].to, agents[i]);
        ck_assert_msg (strncmp (m[0].id, "n-", 2) == 0, "id %s", m[0].id);
    }
    subscribe ("news", "s2", HSN_OP_AGENT_UNSUBSCRIBE, HSN_STATUS_OK);
    subscribe ("news", "s2", HSN_OP_AGENT_UNSUBSCRIBE, HSN_STATUS_NOT_FOUND);
    subscribe ("other", "s1", HSN_OP_AGENT_UNSUBSCRIBE, HSN_STATUS_NOT_FOUND);
    ck_assert_int_eq (publish ("news", 8, HSN_STATUS_CREATED), 2);
    ck_assert_int_eq (receive (&bus, "s1", 10, m), 1);
    ck_assert_int_eq (receive (&bus, "s2", 10, m), 0);
    ck_assert_int_eq (receive (&bus, "s3", 10, m), 1);
    ck_assert_int_eq (m[0].payload, 8);
}
END_TEST

START_TEST (broadcast_reaches_every_known_agent)
{
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (send_to (&bus, "b1", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    subscribe ("t", "b2", HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);
    ck_assert_int_eq (receive (&bus, "b3", 10, m), 0);      /* receiving makes it known */
    reply_t r;
    req_t q = REQ (.payload = 5, .priority = "high", .from = "b1");
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_BROADCAST, &q, &r), HSN_STATUS_CREATED);
    ck_assert_int_eq (get_uint (&r.result, "recipients"), 3);
    reply_close (&r);
    ck_assert_int_eq (receive (&bus, "b1", 10, m), 2);
    ck_assert_str_eq (m[0].priority, "high");
    ck_assert_int_eq (m[0].payload, 5);
    ck_assert_str_eq (m[0].from, "b1");
    ck_assert_int_eq (receive (&bus, "b2", 10, m), 1);
    ck_assert_int_eq (receive (&bus, "b3", 10, m), 1);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.sent"), 4);
}
END_TEST

START_TEST (ack_removes_the_message)
{
    msg_t m[MSGS_MAX];
    char id[64];
    ck_assert_int_eq (send_to (&bus, "k1", "high", 1, id, sizeof id), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "k1", 10, m), 1);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:k1:h"), 1);
    const char *ids[] = { m[0].id, "n-1-0", "h-99999999999999-7" };
    ck_assert_int_eq (ack (&bus, "k1", ids, 3), 1);        /* not pending: not counted */
    ck_assert_int_eq (ack (&bus, "k1", ids, 1), 0);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:k1:h"), 0);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.acked"), 1);
    /*  Another agent cannot ack it (and an undelivered message is not
     *  removed by an ack that guessed its id). */
    char id2[64];
    ck_assert_int_eq (send_to (&bus, "k1", "high", 2, id2, sizeof id2), HSN_STATUS_CREATED);
    const char *ids2[] = { id2 };
    ck_assert_int_eq (ack (&bus, "k1", ids2, 1), 0);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:k1:h"), 1);
    ck_assert_int_eq (receive (&bus, "k1", 10, m), 1);
    ck_assert_int_eq (ack (&bus, "k2", ids2, 1), 0);
    ck_assert_int_eq (ack (&bus, "k1", ids2, 1), 1);
}
END_TEST

START_TEST (persisted_before_the_reply)
{
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (send_to (&bus, "p1", "normal", i, NULL, 0), HSN_STATUS_CREATED);
        /*  Read right after CREATED, on a connection of our own. */
        ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:p1:n"), i + 1);
    }
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "p1"), 1);
}
END_TEST

/*  A subscriber to hsn:ab:wake on its own connection. */
static redisContext *
wake_subscriber (void)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, "SUBSCRIBE hsn:ab:wake");
    ck_assert_ptr_nonnull (r);
    freeReplyObject (r);
    struct timeval tv = { 0, 100 * 1000 };
    redisSetTimeout (c, tv);
    return c;
}

/*  Next wake-up's agent into out, waiting up to timeout_ms. */
static bool
next_wake (redisContext *c, char *out, size_t cap, int timeout_ms)
{
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (hsn_now_ms () < deadline) {
        redisReply *r = NULL;
        if (redisGetReply (c, (void **) &r) != REDIS_OK) {
            /*  The read timed out (the context is unusable after it). */
            ck_assert_msg (c->err == REDIS_ERR_IO, "subscriber: %s", c->errstr);
            return false;
        }
        bool msg = r->type == REDIS_REPLY_ARRAY && r->elements == 3
                   && strcmp (r->element[0]->str, "message") == 0;
        if (msg)
            snprintf (out, cap, "%s", r->element[2]->str);
        freeReplyObject (r);
        if (msg)
            return true;
    }
    return false;
}

START_TEST (a_wake_for_every_send)
{
    redisContext *c = wake_subscriber ();
    struct timeval tv = { 3, 0 };
    redisSetTimeout (c, tv);
    static const char *const agents[] = { "w1", "w2", "w1" };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq (send_to (&bus, agents[i], NULL, i, NULL, 0), HSN_STATUS_CREATED);
    char got[136];
    for (int i = 0; i < 3; i++) {
        ck_assert_msg (next_wake (c, got, sizeof got, 3000), "no wake for send %d", i);
        ck_assert_str_eq (got, agents[i]);
    }
    subscribe ("tt", "w3", HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);
    ck_assert_int_eq (publish ("tt", 1, HSN_STATUS_CREATED), 1);
    ck_assert (next_wake (c, got, sizeof got, 3000));
    ck_assert_str_eq (got, "w3");
    redisFree (c);
}
END_TEST

START_TEST (bad_requests)
{
    char a129[130];
    memset (a129, 'a', 129);
    a129[129] = '\0';
    static const char *const bad_ids[] = { "", "_x", "-x", "a b", "a/b", "caf\xc3\xa9", "a*" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        req_t q = REQ (.agent = bad_ids[i], .payload = 1);
        ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SEND, &q), HSN_STATUS_BAD_REQUEST);
        req_t s = REQ (.agent = "ok", .topic = bad_ids[i]);
        ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SUBSCRIBE, &s), HSN_STATUS_BAD_REQUEST);
        req_t r = REQ (.agent = bad_ids[i]);
        ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_RECEIVE, &r), HSN_STATUS_BAD_REQUEST);
    }
    req_t cases[] = {
        REQ (.agent = a129, .payload = 1),
        REQ (.agent = "ok"),                                        /* no payload */
        REQ (.payload = 1),                                         /* no agent */
        REQ (.agent = "ok", .payload = 1, .priority = "urgent"),
        REQ (.agent = "ok", .payload = 1, .priority = "HIGH"),
        REQ (.agent = "ok", .payload = 1, .priority = ""),
        REQ (.agent = "ok", .payload = 1, .type = ""),
        REQ (.agent = "ok", .payload = 1,
             .type = "0123456789012345678901234567890123456789012345678901234567890123X"),
        REQ (.agent = "ok", .payload = 1, .ttl = 0),
        REQ (.agent = "ok", .payload = 1, .ttl = 31536001),
        REQ (.agent = "ok", .payload = 1, .from = "bad from"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg (status_of (&bus, HSN_OP_AGENT_SEND, &cases[i]) == HSN_STATUS_BAD_REQUEST,
                       "send case %zu", i);
    req_t maxes[] = { REQ (.agent = "ok", .max = 0), REQ (.agent = "ok", .max = 1001) };
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_RECEIVE, &maxes[i]),
                          HSN_STATUS_BAD_REQUEST);
        ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_DEAD_LETTERS, &maxes[i]),
                          HSN_STATUS_BAD_REQUEST);
    }
    req_t list0 = REQ (.max = 0);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_LIST, &list0), HSN_STATUS_BAD_REQUEST);
    static const char *const bad_acks[] = { "x-1-0", "h1-0", "h-1", "h-1-", "h--1", "h-1-0-0",
                                            "h-a-0", "h-123456789012345678901-0", "" };
    for (size_t i = 0; i < sizeof bad_acks / sizeof bad_acks[0]; i++) {
        const char *ids[] = { "h-1-0", bad_acks[i] };
        req_t q = REQ (.agent = "ok", .ids = ids, .nids = 2);
        ck_assert_msg (status_of (&bus, HSN_OP_AGENT_ACK, &q) == HSN_STATUS_BAD_REQUEST,
                       "ack id '%s'", bad_acks[i]);
    }
    const char *none[] = { NULL };
    req_t empty = REQ (.agent = "ok", .ids = none, .nids = 0);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_ACK, &empty), HSN_STATUS_BAD_REQUEST);
    const char **many = (const char **) calloc (1001, sizeof *many);
    for (int i = 0; i < 1001; i++)
        many[i] = "h-1-0";
    req_t toomany = REQ (.agent = "ok", .ids = many, .nids = 1001);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_ACK, &toomany), HSN_STATUS_BAD_REQUEST);
    toomany.nids = 1000;
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_ACK, &toomany), HSN_STATUS_OK);
    free (many);
    /*  Nothing was written by any of these. */
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:ab:q:ok:n"), 0);
    /*  The longest id is fine. */
    a129[128] = '\0';
    ck_assert_int_eq (send_to (&bus, a129, NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "A-z_0.9:x", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    req_t unknown = REQ (.agent = "ok");
    ck_assert_int_eq (status_of (&bus, HSN_OP_CACHE_GET, &unknown), HSN_STATUS_UNKNOWN_OP);
}
END_TEST

START_TEST (payload_over_max_is_too_large)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    char body[1021];
    memset (body, 'x', sizeof body);
    msgpack_pack_str (&pk, sizeof body);           /* str16: 3 + 1021 = 1024 bytes */
    msgpack_pack_str_body (&pk, body, sizeof body);
    ck_assert_uint_eq (sb.size, 1024);
    req_t q = REQ (.agent = "big", .payload_mp = sb.data, .payload_len = sb.size);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SEND, &q), HSN_STATUS_CREATED);
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_str (&pk, sizeof body + 1);
    msgpack_pack_str_body (&pk, body, sizeof body);
    msgpack_pack_str_body (&pk, "y", 1);
    q.payload_mp = sb.data;
    q.payload_len = sb.size;
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SEND, &q), HSN_STATUS_TOO_LARGE);
    req_t b = REQ (.payload_mp = sb.data, .payload_len = sb.size);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_BROADCAST, &b), HSN_STATUS_TOO_LARGE);
    ck_assert_int_eq (redis_depth ("big"), 1);
    msgpack_sbuffer_destroy (&sb);
}
END_TEST

START_TEST (queue_bound_full_and_nothing_written)
{
    msg_t m[MSGS_MAX];
    for (int i = 0; i < MAX_QUEUE; i++)
        ck_assert_int_eq (send_to (&bus, "f1", i % 2 ? "high" : "low", i, NULL, 0),
                          HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "f1", "high", 99, NULL, 0), HSN_STATUS_FULL);
    ck_assert_int_eq (redis_depth ("f1"), MAX_QUEUE);
    /*  Pending (delivered, unacked) messages still count. */
    ck_assert_int_eq (receive (&bus, "f1", 2, m), 2);
    ck_assert_int_eq (send_to (&bus, "f1", "low", 99, NULL, 0), HSN_STATUS_FULL);
    const char *ids[] = { m[0].id };
    ck_assert_int_eq (ack (&bus, "f1", ids, 1), 1);
    ck_assert_int_eq (send_to (&bus, "f1", "low", 100, NULL, 0), HSN_STATUS_CREATED);

    /*  Fan-out is all or none, and names the full agent. */
    subscribe ("ft", "f0", HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);
    subscribe ("ft", "f1", HSN_OP_AGENT_SUBSCRIBE, HSN_STATUS_OK);
    reply_t r;
    req_t q = REQ (.topic = "ft", .payload = 1);
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_PUBLISH, &q, &r), HSN_STATUS_FULL);
    char msg[256];
    reply_message (&r, msg, sizeof msg);
    ck_assert_msg (strstr (msg, "'f1'") != NULL, "message '%s' does not name f1", msg);
    reply_close (&r);
    req_t bq = REQ (.payload = 1);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_BROADCAST, &bq), HSN_STATUS_FULL);
    ck_assert_int_eq (redis_depth ("f0"), 0);
    ck_assert_int_eq (redis_depth ("f1"), MAX_QUEUE);
}
END_TEST

/*  Senders on threads of their own (a client each, over tcp), so that the
 *  replica takes their requests in batches. */
#define SENDERS 8
#define SENDS   10

typedef struct {
    int port;
    int created, full, other;
} sender_t;

static void *
sender (void *arg)
{
    sender_t *s = (sender_t *) arg;
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", s->port);
    hsn_client_t *c = hsn_client_new (ep);
    hsn_enc_t e;
    hsn_enc_init (&e);
    for (int i = 0; c && i < SENDS; i++) {
        uint64_t rid = hsn_client_next_rid (c);
        hsn_enc_begin (&e, HSN_KIND_REQUEST, rid, HSN_SERVICE_AGENT_BUS, HSN_OP_AGENT_SEND, 0, 2);
        hsn_enc_cstr (&e, HSN_FIELD_AGENT, "cc");
        hsn_enc_key (&e, HSN_FIELD_PAYLOAD);
        msgpack_pack_int (&e.pk, i);
        zmq_msg_t msg;
        hsn_env_t env;
        if (hsn_client_call (c, hsn_enc_data (&e), hsn_enc_size (&e), rid, CALL_MS, &msg)) {
            s->other++;
            continue;
        }
        int rc = hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg));
        if (rc == 0 && env.status == HSN_STATUS_CREATED)
            s->created++;
        else if (rc == 0 && env.status == HSN_STATUS_FULL)
            s->full++;
        else
            s->other++;
        zmq_msg_close (&msg);
    }
    hsn_enc_release (&e);
    hsn_client_destroy (&c);
    return NULL;
}

START_TEST (concurrent_sends_respect_the_bound)
{
    sender_t s[SENDERS];
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (sender_t) { gateway_broker_port (hsn_rig_broker (bus.rig)), 0, 0, 0 };
        ck_assert_int_eq (pthread_create (&th[i], NULL, sender, &s[i]), 0);
    }
    int created = 0, full = 0, other = 0;
    for (int i = 0; i < SENDERS; i++) {
        pthread_join (th[i], NULL);
        created += s[i].created;
        full += s[i].full;
        other += s[i].other;
    }
    /*  Each bound check and its write are one step: exactly the bound gets
     *  in, whatever the interleaving. */
    ck_assert_int_eq (other, 0);
    ck_assert_int_eq (created, MAX_QUEUE);
    ck_assert_int_eq (full, SENDERS * SENDS - MAX_QUEUE);
    ck_assert_int_eq (redis_depth ("cc"), MAX_QUEUE);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.sent"), MAX_QUEUE);
}
END_TEST

/*  Whatever else wrote into a queue, a receive answers, never crashes. */
START_TEST (garbage_in_redis_is_survived)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    static const char *const cmds[] = {
        "XGROUP CREATE hsn:ab:q:g1:n hsn 0 MKSTREAM",
        "XADD hsn:ab:q:g1:n * m garbage\xc1 c notanumber e 0",
        "XADD hsn:ab:q:g1:n * x y",
        "XADD hsn:ab:q:g1:n * m \x93\x01 c 5 e 0",         /* truncated array */
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        redisReply *r = (redisReply *) redisCommand (c, cmds[i]);
        ck_assert (r && r->type != REDIS_REPLY_ERROR);
        freeReplyObject (r);
    }
    redisFree (c);
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (receive (&bus, "g1", 10, m), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (m[i].payload, -1);
        ck_assert_str_eq (m[i].to, "g1");
        ck_assert_int_eq (m[i].deliveries, 1);
    }
    const char *ids[] = { m[0].id, m[1].id, m[2].id };
    ck_assert_int_eq (ack (&bus, "g1", ids, 3), 3);
}
END_TEST

static bool
send_ok (void *arg)
{
    return send_to (&bus, "hung", NULL, 1, NULL, 0) == HSN_STATUS_CREATED;
}

START_TEST (redis_hung_fails_within_its_timeout)
{
    ck_assert_int_eq (send_to (&bus, "hung", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    /*  Stopped, not dead: the socket stays open and nothing answers. The
     *  bus gives up after its 1 s command timeout (a reaper tick may be
     *  waiting out its own first). */
    ck_assert_int_eq (hsn_proc_signal (hsn_redis_proc (redis), SIGSTOP), 0);
    req_t q = REQ (.agent = "hung", .payload = 2);
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_SEND, &q), HSN_STATUS_UNAVAILABLE);
    ck_assert_int_lt (hsn_now_ms () - t0, 3000);
    ck_assert_int_eq (hsn_proc_signal (hsn_redis_proc (redis), SIGCONT), 0);
    ck_assert_msg (hsn_wait_until (send_ok, NULL, 5000), "bus never used Redis again");
}
END_TEST

START_TEST (list_and_gauges)
{
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (send_to (&bus, "l2", "high", 1, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "l2", "low", 2, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "l2", "low", 3, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "l1", NULL, 4, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "l2", 1, m), 1);
    reply_t r;
    req_t q = REQ (.max = 10);
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_LIST, &q, &r), HSN_STATUS_OK);
    hsn_mp_obj_t arr, row, depth, oldest;
    ck_assert_int_eq (hsn_mp_map_get (&r.result, "agents", &arr), 0);
    ck_assert_uint_eq (arr.v.c.count, 2);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, &arr);
    char name[136];
    ck_assert_int_eq (hsn_mp_get (&rd, &row, 8), 0);            /* l1: sorted by name */
    get_str (&row, "agent", name, sizeof name);
    ck_assert_str_eq (name, "l1");
    ck_assert_int_eq (get_uint (&row, "pending"), 0);
    ck_assert_int_eq (hsn_mp_map_get (&row, "oldest_pending_ms", &oldest), 0);
    ck_assert_int_eq (oldest.type, HSN_MP_NIL);
    ck_assert_int_eq (hsn_mp_get (&rd, &row, 8), 0);
    get_str (&row, "agent", name, sizeof name);
    ck_assert_str_eq (name, "l2");
    ck_assert_int_eq (hsn_mp_map_get (&row, "depth", &depth), 0);
    ck_assert_int_eq (get_uint (&depth, "high"), 1);
    ck_assert_int_eq (get_uint (&depth, "normal"), 0);
    ck_assert_int_eq (get_uint (&depth, "low"), 2);
    ck_assert_int_eq (get_uint (&row, "pending"), 1);
    ck_assert_int_ge (get_uint (&row, "oldest_pending_ms"), 0);
    reply_close (&r);
    q.max = 1;
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_LIST, &q, &r), HSN_STATUS_OK);
    ck_assert_int_eq (hsn_mp_map_get (&r.result, "agents", &arr), 0);
    ck_assert_uint_eq (arr.v.c.count, 1);
    reply_close (&r);

    /*  One reaper tick scans every agent and sets the gauges. */
    char *done = bus_cmd (&bus, "REAP");
    zstr_free (&done);
    ck_assert_int_eq (hsn_gauge_get (hsn_metrics_gauge (bus.metrics, "agentbus.queue_depth_total")),
                      4);
    ck_assert_int_eq (hsn_gauge_get (hsn_metrics_gauge (bus.metrics, "agentbus.queue_depth.l2")),
                      3);
    ck_assert_int_eq (hsn_gauge_get (hsn_metrics_gauge (bus.metrics, "agentbus.queue_depth.l1")),
                      1);
    const char *ids[] = { m[0].id };
    ck_assert_int_eq (ack (&bus, "l2", ids, 1), 1);
    done = bus_cmd (&bus, "REAP");
    zstr_free (&done);
    ck_assert_int_eq (hsn_gauge_get (hsn_metrics_gauge (bus.metrics, "agentbus.queue_depth.l2")),
                      2);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agentbus_service");
    TCase *tc = tcase_create ("ops");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, strict_priority_order);
    tcase_add_test (tc, message_fields_round_trip);
    tcase_add_test (tc, topic_fan_out_and_unsubscribe);
    tcase_add_test (tc, broadcast_reaches_every_known_agent);
    tcase_add_test (tc, ack_removes_the_message);
    tcase_add_test (tc, persisted_before_the_reply);
    tcase_add_test (tc, a_wake_for_every_send);
    tcase_add_test (tc, bad_requests);
    tcase_add_test (tc, payload_over_max_is_too_large);
    tcase_add_test (tc, queue_bound_full_and_nothing_written);
    tcase_add_test (tc, list_and_gauges);
    tcase_add_test (tc, concurrent_sends_respect_the_bound);
    tcase_add_test (tc, garbage_in_redis_is_survived);
    tcase_add_test (tc, redis_hung_fails_within_its_timeout);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
