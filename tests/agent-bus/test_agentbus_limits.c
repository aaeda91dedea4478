/*  agentbus_service's bounds on what clients can grow without sending a
 *  single large thing: the known agents (AGENTBUS_MAX_AGENTS: any new id
 *  sent to, subscribed or polled would otherwise add one for good) and the
 *  topics one agent subscribes to (AGENTBUS_MAX_SUBSCRIPTIONS). A real
 *  broker, client and redis-server, as in test_agentbus_service.c. */
#include <sys/wait.h>

#include "agentbus_fixture.h"

#define MAX_AGENTS 3
#define MAX_SUBS   2

static bus_t bus;

static void
setup (void)
{
    redis = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (redis);
    fixture_max_agents = MAX_AGENTS;
    fixture_max_subscriptions = MAX_SUBS;
    bus_start (&bus, 100, 60000, 5, 0);
    fixture_max_agents = fixture_max_subscriptions = 0;
}

static void
teardown (void)
{
    bus_stop (&bus);
    hsn_redis_stop (&redis);
}

/*  Call op with q, expect FULL, and check the message names want. */
static void
expect_full (uint32_t op, const req_t *q, const char *want)
{
    reply_t r;
    ck_assert_int_eq (call (&bus, op, q, &r), HSN_STATUS_FULL);
    char msg[512];
    reply_message (&r, msg, sizeof msg);
    ck_assert_msg (strstr (msg, want) != NULL, "message '%s' lacks '%s'", msg, want);
    reply_close (&r);
}

static long long
broadcast (void)
{
    reply_t r;
    req_t q = REQ (.payload = 9);
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_BROADCAST, &q, &r), HSN_STATUS_CREATED);
    long long n = get_uint (&r.result, "recipients");
    reply_close (&r);
    return n;
}

static int
subscribe (const char *topic, const char *agent)
{
    req_t q = REQ (.topic = topic, .agent = agent);
    return status_of (&bus, HSN_OP_AGENT_SUBSCRIBE, &q);
}

START_TEST (the_agent_past_the_limit_is_refused)
{
    msg_t m[MSGS_MAX];
    static const char *const agents[] = { "a1", "a2", "a3" };
    for (int i = 0; i < MAX_AGENTS; i++)
        ck_assert_int_eq (send_to (&bus, agents[i], NULL, i, NULL, 0), HSN_STATUS_CREATED);
    req_t q = REQ (.agent = "a4", .payload = 4, .priority = "high");
    expect_full (HSN_OP_AGENT_SEND, &q, "agent limit");
    expect_full (HSN_OP_AGENT_SEND, &q, "AGENTBUS_MAX_AGENTS");
    expect_full (HSN_OP_AGENT_SEND, &q, "'a4'");
    /*  Nothing written: not known, no stream, no wake-up owed. */
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "a4"), 0);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:agents"), MAX_AGENTS);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:ab:q:a4:h"), 0);
    ck_assert_int_eq (bus_counter (&bus, "agentbus.sent"), MAX_AGENTS);
    /*  The agents already known go on as before. */
    ck_assert_int_eq (send_to (&bus, "a1", "high", 10, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (receive (&bus, "a1", 10, m), 2);
    ck_assert_int_eq (m[0].payload, 10);
    ck_assert_int_eq (subscribe ("t", "a2"), HSN_STATUS_OK);
    req_t pq = REQ (.topic = "t", .payload = 11);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_PUBLISH, &pq), HSN_STATUS_CREATED);
    ck_assert_int_eq (broadcast (), MAX_AGENTS);
    ck_assert_int_eq (receive (&bus, "a2", 10, m), 3);
    ck_assert_int_eq (redis_depth ("a4"), 0);
}
END_TEST

START_TEST (a_poll_past_the_limit_adds_no_agent)
{
    msg_t m[MSGS_MAX];
    /*  Receiving makes an agent known while there is room. */
    static const char *const agents[] = { "r1", "r2", "r3" };
    for (int i = 0; i < MAX_AGENTS; i++)
        ck_assert_int_eq (receive (&bus, agents[i], 10, m), 0);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:agents"), MAX_AGENTS);
    /*  Past it, a poll answers an empty list and registers nothing. */
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq (receive (&bus, "r4", 10, m), 0);
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "r4"), 0);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:agents"), MAX_AGENTS);
    ck_assert_int_eq (broadcast (), MAX_AGENTS);
    ck_assert_int_eq (receive (&bus, "r4", 10, m), 0);
    ck_assert_int_eq (receive (&bus, "r3", 10, m), 1);
    reply_t r;
    req_t lq = REQ (.max = 100);
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_LIST, &lq, &r), HSN_STATUS_OK);
    hsn_mp_obj_t arr;
    ck_assert_int_eq (hsn_mp_map_get (&r.result, "agents", &arr), 0);
    ck_assert_uint_eq (arr.v.c.count, MAX_AGENTS);
    reply_close (&r);
}
END_TEST

START_TEST (a_subscribe_past_the_limit_is_refused)
{
    static const char *const agents[] = { "s1", "s2", "s3" };
    for (int i = 0; i < MAX_AGENTS; i++)
        ck_assert_int_eq (subscribe ("news", agents[i]), HSN_STATUS_OK);
    req_t q = REQ (.topic = "news", .agent = "s4");
    expect_full (HSN_OP_AGENT_SUBSCRIBE, &q, "AGENTBUS_MAX_AGENTS");
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:sub:news %s", "s4"), 0);
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "s4"), 0);
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:ab:topics:s4"), 0);
    req_t pq = REQ (.topic = "news", .payload = 1);
    reply_t r;
    ck_assert_int_eq (call (&bus, HSN_OP_AGENT_PUBLISH, &pq, &r), HSN_STATUS_CREATED);
    ck_assert_int_eq (get_uint (&r.result, "recipients"), MAX_AGENTS);
    reply_close (&r);
    ck_assert_int_eq (subscribe ("other", "s1"), HSN_STATUS_OK);
}
END_TEST

/*  Subscribers are known agents, so a publish adds none; if hsn:ab:agents
 *  lost one behind the bus's back, the publish still may not pass the
 *  limit by adding it back, and writes nothing at all. */
START_TEST (a_publish_that_would_add_an_agent_writes_nothing)
{
    ck_assert_int_eq (subscribe ("t", "p1"), HSN_STATUS_OK);
    ck_assert_int_eq (subscribe ("t", "p2"), HSN_STATUS_OK);
    ck_assert_int_eq (redis_int ("SREM hsn:ab:agents %s", "p2"), 1);
    ck_assert_int_eq (send_to (&bus, "p3", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    ck_assert_int_eq (send_to (&bus, "p4", NULL, 1, NULL, 0), HSN_STATUS_CREATED);
    req_t q = REQ (.topic = "t", .payload = 2);
    expect_full (HSN_OP_AGENT_PUBLISH, &q, "'p2'");
    ck_assert_int_eq (redis_depth ("p1"), 0);
    ck_assert_int_eq (redis_depth ("p2"), 0);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:agents"), MAX_AGENTS);
    /*  With room again, the same publish goes through and p2 is known. */
    ck_assert_int_eq (redis_int ("SREM hsn:ab:agents %s", "p4"), 1);
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_PUBLISH, &q), HSN_STATUS_CREATED);
    ck_assert_int_eq (redis_depth ("p2"), 1);
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:agents %s", "p2"), 1);
}
END_TEST

START_TEST (topics_per_agent_are_bounded)
{
    ck_assert_int_eq (subscribe ("t1", "x"), HSN_STATUS_OK);
    ck_assert_int_eq (subscribe ("t2", "x"), HSN_STATUS_OK);
    req_t q = REQ (.topic = "t3", .agent = "x");
    expect_full (HSN_OP_AGENT_SUBSCRIBE, &q, "AGENTBUS_MAX_SUBSCRIPTIONS");
    ck_assert_int_eq (redis_int ("EXISTS %s", "hsn:ab:sub:t3"), 0);
    ck_assert_int_eq (subscribe ("t1", "x"), HSN_STATUS_OK);       /* already: fine */
    ck_assert_int_eq (subscribe ("t1", "y"), HSN_STATUS_OK);       /* another agent: its own */
    req_t uq = REQ (.topic = "t1", .agent = "x");
    ck_assert_int_eq (status_of (&bus, HSN_OP_AGENT_UNSUBSCRIBE, &uq), HSN_STATUS_OK);
    ck_assert_int_eq (subscribe ("t3", "x"), HSN_STATUS_OK);
    ck_assert_int_eq (redis_int ("SCARD %s", "hsn:ab:topics:x"), MAX_SUBS);
    ck_assert_int_eq (redis_int ("SISMEMBER hsn:ab:sub:t3 %s", "x"), 1);
}
END_TEST

/*  The limits are read once, range-checked, at start: a value out of range
 *  stops the service with a message naming the variable. */
START_TEST (limits_out_of_range_stop_the_service)
{
    static const char *const bad[] = { "AGENTBUS_MAX_AGENTS=0", "AGENTBUS_MAX_AGENTS=100001",
                                       "AGENTBUS_MAX_AGENTS=lots",
                                       "AGENTBUS_MAX_SUBSCRIPTIONS=0",
                                       "AGENTBUS_MAX_SUBSCRIPTIONS=100001" };
    const char *path = hsn_bin ("hsn-agent-bus");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *env[] = { (char *) bad[i], NULL };
        char *argv[] = { (char *) path, NULL };
        hsn_proc_t *p = hsn_proc_start (path, argv, env);
        ck_assert_ptr_nonnull (p);
        int status = 0;
        ck_assert_int_eq (hsn_proc_wait (p, 10000, &status), 0);
        ck_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2);
        char name[64];
        snprintf (name, sizeof name, "invalid %.*s", (int) (strchr (bad[i], '=') - bad[i]),
                  bad[i]);
        ck_assert_msg (hsn_proc_log_contains (p, name), "no '%s' in the log", name);
        hsn_proc_destroy (&p);
    }
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agentbus_limits");
    TCase *tc = tcase_create ("limits");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, the_agent_past_the_limit_is_refused);
    tcase_add_test (tc, a_poll_past_the_limit_adds_no_agent);
    tcase_add_test (tc, a_subscribe_past_the_limit_is_refused);
    tcase_add_test (tc, a_publish_that_would_add_an_agent_writes_nothing);
    tcase_add_test (tc, topics_per_agent_are_bounded);
    suite_add_tcase (s, tc);
    TCase *cfg = tcase_create ("config");
    tcase_set_timeout (cfg, 60);
    tcase_add_test (cfg, limits_out_of_range_stop_the_service);
    suite_add_tcase (s, cfg);
    return s;
}

HSN_TEST_MAIN (suite)
