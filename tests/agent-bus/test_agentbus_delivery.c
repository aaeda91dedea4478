/*  agentbus_service end to end, delivery over time: redelivery after the
 *  visibility timeout, dead letters, ttl expiry, the reaper's wake-ups, two
 *  replicas on one Redis, and Redis dying and coming back. Waits are for
 *  conditions with deadlines, never sleeps. */
#include <signal.h>

#include "agentbus_fixture.h"

#define VISIBILITY_MS  500
#define MAX_DELIVERIES 3

static bus_t bus;

static void
setup (void)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    bus_start (&bus, 1000, VISIBILITY_MS, MAX_DELIVERIES, 100);
}

static void
teardown (void)
{
    bus_stop (&bus);
    hsn_redis_stop (&redis);
}

/*  Receive until something comes (the visibility timeout must run out). */
typedef struct {
    bus_t *bus;
    const char *agent;
    msg_t *out;
    size_t n;
} recv_wait_t;

static bool
received_some (void *arg)
{
    recv_wait_t *w = (recv_wait_t *) arg;
    w->n = receive (w->bus, w->agent, 1000, w->out);
    return w->n > 0;
}

static size_t
receive_within (const char *agent, msg_t *out, int timeout_ms)
{
    recv_wait_t w = { &bus, agent, out, 0 };
    hsn_wait_until (received_some, &w, timeout_ms);
    return w.n;
}

/*  Redis, from outside: entries of key pending for the visibility timeout. */
static long long
pending_overdue (const char *key)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    char vt[16];
    snprintf (vt, sizeof vt, "%d", VISIBILITY_MS);
    redisReply *r = (redisReply *) redisCommand (c, "XPENDING %s hsn IDLE %s - + 10", key, vt);
    ck_assert_ptr_nonnull (r);
    long long n = r->type == REDIS_REPLY_ARRAY ? (long long) r->elements : -1;
    freeReplyObject (r);
    redisFree (c);
    return n;
}

static bool
overdue (void *arg)
{
    return pending_overdue ((const char *) arg) > 0;
}

START_TEST (unacked_is_redelivered_acked_is_not)
{
    msg_t m[MSGS_MAX];
    char id[64], id2[64];
    ck_assert_int_eq (send_to (&bus, "r1", NULL, 1, id, sizeof id), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "r1", NULL, 2, id2, sizeof id2), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "r1", 10, m), 2);
    ck_assert_int_eq (m[0].deliveries, 1);
    const char *ids[] = { id2 };
    ck_assert_int_eq (ack (&bus, "r1", ids, 1), 1);
    /*  Not again before the timeout... */
    ck_assert_int_eq (receive (&bus, "r1", 10, m), 0);
    /*  ...and again after it, only the unacked one, as its second delivery. */
    ck_assert_int_eq (receive_within ("r1", m, 5000), 1);
    ck_assert_str_eq (m[0].id, id);
    ck_assert_int_eq (m[0].payload, 1);
    ck_assert_int_eq (m[0].deliveries, 2);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.redelivered"), 1);
    const char *ids1[] = { id };
    ck_assert_int_eq (ack (&bus, "r1", ids1, 1), 1);
    ck_assert_int_eq (redis_depth ("r1"), 0);
    /*  Acked: nothing pending that could ever be handed out again. */
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:r1:n"), 0);
    ck_assert_int_eq (pending_overdue ("hsn:ab:q:r1:n"), 0);
    ck_assert_int_eq (receive (&bus, "r1", 10, m), 0);
}
END_TEST

START_TEST (redeliveries_come_first_in_their_priority)
{
    msg_t m[MSGS_MAX];
    char old[64];
    ck_assert_int_eq (send_to (&bus, "r2", "normal", 1, old, sizeof old), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "r2", 10, m), 1);
    ck_assert_int_eq (send_to (&bus, "r2", "normal", 2, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "r2", "low", 3, NULL, 0), HSN_STATUS_CREATED);
    /*  Wait for the timeout without receiving the new ones. */
    ck_assert (hsn_wait_until (overdue, (void *) "hsn:ab:q:r2:n", 5000));
    ck_assert_int_eq (receive (&bus, "r2", 10, m), 3);
    ck_assert_str_eq (m[0].id, old);
    ck_assert_int_eq (m[0].deliveries, 2);
    ck_assert_int_eq (m[1].payload, 2);
    ck_assert_int_eq (m[1].deliveries, 1);
    ck_assert_int_eq (m[2].payload, 3);
}
END_TEST

START_TEST (dead_letter_after_max_deliveries)
{
    msg_t m[MSGS_MAX];
    char id[64];
    ck_assert_int_eq (send_to (&bus, "d1", "high", 42, id, sizeof id), HSN_STATUS_CREATED);
    for (int d = 1; d <= MAX_DELIVERIES; d++) {
        ck_assert_int_eq (receive_within ("d1", m, 5000), 1);
        ck_assert_str_eq (m[0].id, id);
        ck_assert_int_eq (m[0].deliveries, d);
    }
    /*  The next time it would be handed out, it is buried instead. */
    ck_assert (hsn_wait_until (overdue, (void *) "hsn:ab:q:d1:h", 5000));
    ck_assert_int_eq (receive (&bus, "d1", 10, m), 0);
    ck_assert_int_eq (dead_letters (&bus, "d1", m), 1);
    ck_assert_str_eq (m[0].id, id);
    ck_assert_str_eq (m[0].reason, "max_deliveries");
    ck_assert_int_eq (m[0].deliveries, MAX_DELIVERIES);
    ck_assert_int_eq (m[0].payload, 42);
    ck_assert_str_eq (m[0].priority, "high");
    ck_assert_int_eq (redis_depth ("d1"), 0);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.dead_lettered"), 1);
    ck_assert_int_eq (dead_letters (&bus, "nobody", m), 0);
}
END_TEST

/*  Redis's clock (us) has passed *(long long *) arg. */
static bool
redis_time_past (void *arg)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, "TIME");
    ck_assert (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    long long now = atoll (r->element[0]->str) * 1000000LL + atoll (r->element[1]->str);
    freeReplyObject (r);
    redisFree (c);
    return now > *(long long *) arg;
}

START_TEST (ttl_expired_goes_to_dead_letters)
{
    msg_t m[MSGS_MAX];
    char id[64];
    req_t q = REQ (.agent = "e1", .payload = 9, .ttl = 1, .type = "t");
    reply_t r;
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_SEND, &q, &r), HSN_STATUS_CREATED);
    get_str (&r.result, "id", id, sizeof id);
    reply_close (&r);
    ck_assert_int_eq (send_to (&bus, "e1", "low", 10, NULL, 0), HSN_STATUS_CREATED);
    /*  Nobody receives until Redis's clock passes the expiry (its e field). */
    redisContext *c = hsn_redis_connect (redis);
    redisReply *x = (redisReply *) redisCommand (c, "XRANGE hsn:ab:q:e1:n - +");
    ck_assert (x && x->type == REDIS_REPLY_ARRAY && x->elements == 1);
    long long expiry = -1;
    redisReply *f = x->element[0]->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (strcmp (f->element[i]->str, "e") == 0)
            expiry = atoll (f->element[i + 1]->str);
    freeReplyObject (x);
    redisFree (c);
    ck_assert_int_gt (expiry, 0);
    ck_assert (hsn_wait_until (redis_time_past, &expiry, 5000));
    /*  Expired: dead-lettered, not delivered; the message without a ttl is. */
    ck_assert_int_eq (receive (&bus, "e1", 10, m), 1);
    ck_assert_int_eq (m[0].payload, 10);
    ck_assert_int_eq (dead_letters (&bus, "e1", m), 1);
    ck_assert_str_eq (m[0].id, id);
    ck_assert_str_eq (m[0].reason, "expired");
    ck_assert_str_eq (m[0].type, "t");
    ck_assert_int_eq (m[0].ttl, 1);
    ck_assert_int_eq (m[0].deliveries, 0);
    ck_assert_int_eq (redis_int ("XLEN %s", "hsn:ab:q:e1:n"), 0);
}
END_TEST

START_TEST (five_hundred_unacked_all_redelivered)
{
    msg_t *m = (msg_t *) calloc (MSGS_MAX, sizeof *m);
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq (send_to (&bus, "bulk", NULL, i, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "bulk", 1000, m), 500);
    char seen[500] = { 0 };
    size_t got = 0;
    int64_t deadline = hsn_now_ms () + 10000;
    while (got < 500 && hsn_now_ms () < deadline) {
        size_t n = receive_within ("bulk", m, (int) (deadline - hsn_now_ms ()));
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq (m[i].deliveries, 2);
            ck_assert (m[i].payload >= 0 && m[i].payload < 500);
            ck_assert_msg (!seen[m[i].payload], "%lld twice", m[i].payload);
            seen[m[i].payload] = 1;
            got++;
        }
    }
    ck_assert_uint_eq (got, 500);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.redelivered"), 500);
    free (m);
}
END_TEST

/*  The reaper wakes an agent whose delivery timed out. */
START_TEST (reaper_wakes_overdue_agents)
{
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (send_to (&bus, "z1", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "z2", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "z1", 10, m), 1);      /* z2 never receives */
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, "SUBSCRIBE hsn:ab:wake");
    freeReplyObject (r);
    struct timeval tv = { 5, 0 };
    redisSetTimeout (c, tv);
    r = NULL;
    ck_assert_int_eq (redisGetReply (c, (void **) &r), REDIS_OK);
    ck_assert_int_eq (r->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq (r->element[2]->str, "z1");
    freeReplyObject (r);
    redisFree (c);
}
END_TEST

START_TEST (two_replicas_share_the_bus)
{
    bus_t other;
    bus_start (&other, 1000, VISIBILITY_MS, MAX_DELIVERIES, 100);
    msg_t m[MSGS_MAX];
    char id[64];
    ck_assert_int_eq (send_to (&bus, "x1", "high", 5, id, sizeof id), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&other, "x1", 10, m), 1);
    ck_assert_str_eq (m[0].id, id);
    ck_assert_int_eq (receive (&bus, "x1", 10, m), 0);
    /*  Redelivered by either; acked through the other one. */
    recv_wait_t w = { &other, "x1", m, 0 };
    ck_assert (hsn_wait_until (received_some, &w, 5000));
    ck_assert_int_eq (m[0].deliveries, 2);
    const char *ids[] = { id };
    ck_assert_int_eq (ack (&bus, "x1", ids, 1), 1);
    ck_assert_int_eq (redis_depth ("x1"), 0);
    /*  One reaper lease: only one replica reports depths. */
    ck_assert_int_eq (send_to (&other, "x2", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    char *s = bus_cmd (&bus, "REAP");
    zstr_free (&s);
    s = bus_cmd (&other, "REAP");
    zstr_free (&s);
    int64_t a = hsn_gauge_get (hsn_metrics_gauge (bus.metrics, "agentbus.queue_depth_total"));
    int64_t b = hsn_gauge_get (hsn_metrics_gauge (other.metrics, "agentbus.queue_depth_total"));
    ck_assert_msg (a + b == 1, "depth reported %lld + %lld", (long long) a, (long long) b);
    bus_stop (&other);
}
END_TEST

/*  A reply has a byte budget (a frame has a hard limit): what does not fit
 *  is given back untouched and comes, in order, with the next receive. */
START_TEST (a_reply_stops_at_its_byte_budget)
{
    bus_t small;
    fixture_reply_max = 4096;
    bus_start (&small, 1000, 60000, MAX_DELIVERIES, 0);
    fixture_reply_max = 0;
    char pad[900];
    memset (pad, 'p', sizeof pad);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_str (&pk, sizeof pad);
    msgpack_pack_str_body (&pk, pad, sizeof pad);
    char sent[10][64];
    for (int i = 0; i < 10; i++) {
        reply_t r;
        req_t q = REQ (.agent = "big", .payload_mp = sb.data, .payload_len = sb.size);
        ck_assert_int_eq (call (&small, HSN_OP_AGENT_SEND, &q, &r), HSN_STATUS_CREATED);
        get_str (&r.result, "id", sent[i], sizeof sent[i]);
        reply_close (&r);
    }
    msg_t m[MSGS_MAX];
    size_t got = 0, calls = 0;
    while (got < 10 && calls++ < 10) {
        size_t n = receive (&small, "big", 10, m);
        ck_assert_uint_ge (n, 1);
        ck_assert_uint_le (n, 3);               /* 4096 / (900 + 256) */
        for (size_t i = 0; i < n; i++, got++) {
            ck_assert_str_eq (m[i].id, sent[got]);
            ck_assert_int_eq (m[i].deliveries, 1);
        }
    }
    ck_assert_uint_eq (got, 10);
    ck_assert_int_eq (receive (&small, "big", 10, m), 0);
    ck_assert_int_eq (bus_counter (&small, "agentbus.delivered"), 10);
    msgpack_sbuffer_destroy (&sb);
    bus_stop (&small);
}
END_TEST

static bool
send_succeeds (void *arg)
{
    return send_to (&bus, "back", NULL, 1, NULL, 0) == HSN_STATUS_CREATED;
}

static void
assert_fast_unavailable (uint32_t op, const req_t *q)
{
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (status_of (&bus, op, q), HSN_STATUS_UNAVAILABLE);
    ck_assert_int_lt (hsn_now_ms () - t0, 1500);
}

START_TEST (redis_down_unavailable_then_recovers)
{
    ck_assert_int_eq (send_to (&bus, "u1", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    char *s = bus_cmd (&bus, "CHECK");
    ck_assert_str_eq (s, "up");
    zstr_free (&s);
    ck_assert_int_eq (hsn_redis_kill (redis, SIGKILL), 0);
    req_t send = REQ (.agent = "u1", .payload = 1);
    req_t recv = REQ (.agent = "u1");
    for (int i = 0; i < 5; i++) {
        assert_fast_unavailable (HSN_OP_AGENT_SEND, &send);
        assert_fast_unavailable (HSN_OP_AGENT_RECEIVE, &recv);
    }
    s = bus_cmd (&bus, "CHECK");
    ck_assert_str_eq (s, "down");
    zstr_free (&s);
    /*  Redis comes back (empty, no scripts loaded); nothing restarts. */
    ck_assert_int_eq (hsn_redis_restart (redis), 0);
    ck_assert_msg (hsn_wait_until (send_succeeds, NULL, 5000), "bus never used Redis again");
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (receive (&bus, "back", 10, m), 1);
    s = bus_cmd (&bus, "CHECK");
    ck_assert_str_eq (s, "up");
    zstr_free (&s);
}
END_TEST

START_TEST (scripts_flushed_are_loaded_again)
{
    ck_assert_int_eq (send_to (&bus, "sf", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, "SCRIPT FLUSH");
    ck_assert_int_eq (r->type, REDIS_REPLY_STATUS);
    freeReplyObject (r);
    redisFree (c);
    ck_assert_int_eq (send_to (&bus, "sf", NULL, 2, NULL, 0), HSN_STATUS_CREATED);
    msg_t m[MSGS_MAX];
    ck_assert_int_eq (receive (&bus, "sf", 10, m), 2);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agentbus_delivery");
    TCase *tc = tcase_create ("delivery");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, unacked_is_redelivered_acked_is_not);
    tcase_add_test (tc, redeliveries_come_first_in_their_priority);
    tcase_add_test (tc, dead_letter_after_max_deliveries);
    tcase_add_test (tc, ttl_expired_goes_to_dead_letters);
    tcase_add_test (tc, five_hundred_unacked_all_redelivered);
    tcase_add_test (tc, reaper_wakes_overdue_agents);
    tcase_add_test (tc, two_replicas_share_the_bus);
    tcase_add_test (tc, a_reply_stops_at_its_byte_budget);
    tcase_add_test (tc, redis_down_unavailable_then_recovers);
    tcase_add_test (tc, scripts_flushed_are_loaded_again);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
