/*  Tests for hsn_reporter: what a replica's reporter thread sends to the
 *  monitor, received on a real PULL socket over tcp. */
#include <czmq.h>
#include <string.h>

#include "hsn_harness.h"
#include "hsn_metrics.h"
#include "hsn_mp.h"
#include "hsn_proto.h"
#include "hsn_reporter.h"
#include "hsn_test.h"
#include "hsn_time.h"

#define HB_MS 50

static zsock_t *pull;
static char endpoint[64];
static hsn_metrics_t *metrics;
static uint64_t *requests;

static void
setup (void)
{
    pull = zsock_new (ZMQ_PULL);
    ck_assert_ptr_nonnull (pull);
    int port = zsock_bind (pull, "tcp://127.0.0.1:*");
    ck_assert_int_gt (port, 0);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    metrics = hsn_metrics_new ();
    requests = hsn_metrics_counter (metrics, "test.requests");
    hsn_counter_add (requests, 42);
}

static void
teardown (void)
{
    zsock_destroy (&pull);
    hsn_metrics_destroy (&metrics);
}

static hsn_reporter_config_t
config (bool send_stats)
{
    hsn_reporter_config_t cfg = {
        .endpoint = endpoint,
        .service = HSN_SERVICE_CACHE,
        .replica = "cache-test-1",
        .heartbeat_ms = HB_MS,
        .stats_interval_s = 1,
        .send_stats = send_stats,
        .metrics = metrics,
        .deps = { "redis", "postgres", NULL },
    };
    return cfg;
}

/*  One received frame, decoded; the env points into msg. */
typedef struct {
    zmq_msg_t msg;
    hsn_env_t env;
} frame_t;

/*  Receive the next frame within timeout_ms; it must decode. */
static bool
recv_frame (frame_t *f, int timeout_ms)
{
    zmq_pollitem_t it = { zsock_resolve (pull), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&it, 1, timeout_ms) != 1)
        return false;
    zmq_msg_init (&f->msg);
    ck_assert_int_ge (zmq_msg_recv (&f->msg, zsock_resolve (pull), 0), 0);
    int rc = hsn_env_decode (&f->env, zmq_msg_data (&f->msg), zmq_msg_size (&f->msg));
    ck_assert_msg (rc == 0, "reporter sent a frame that does not decode: %d", rc);
    return true;
}

static void
frame_close (frame_t *f)
{
    zmq_msg_close (&f->msg);
}

/*  Receive frames until one of kind arrives (others are dropped). */
static bool
recv_kind (frame_t *f, uint32_t kind, int timeout_ms)
{
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (true) {
        int64_t left = deadline - hsn_now_ms ();
        if (left < 0 || !recv_frame (f, (int) left))
            return false;
        if (f->env.kind == kind)
            return true;
        frame_close (f);
    }
}

/*  State of dependency name in a heartbeat's health map: -1 absent,
 *  0 down, 1 up. */
static int
dep_state (const hsn_env_t *env, const char *name)
{
    ck_assert (hsn_env_has (env, HSN_FIELD_HEALTH));
    const hsn_mp_obj_t *map = &env->fields[HSN_FIELD_HEALTH];
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, map);
    int state = -1;
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&r, &k, 4), 0);
        ck_assert_int_eq (hsn_mp_get (&r, &v, 4), 0);
        ck_assert_int_eq (k.type, HSN_MP_STR);
        ck_assert_int_eq (v.type, HSN_MP_BOOL);
        if (hsn_mp_str_eq (&k, name)) {
            ck_assert_msg (state == -1, "dependency %s listed twice", name);
            state = v.v.b;
        }
    }
    return state;
}

/*  Wait for a heartbeat whose health says redis and postgres are as given
 *  (-1 absent). Heartbeats sent before a dep_set took effect are skipped. */
static bool
wait_deps (int redis, int postgres, int timeout_ms)
{
    int64_t deadline = hsn_now_ms () + timeout_ms;
    frame_t f;
    while (recv_kind (&f, HSN_KIND_HEARTBEAT, (int) (deadline - hsn_now_ms ()))) {
        bool match = dep_state (&f.env, "redis") == redis
                     && dep_state (&f.env, "postgres") == postgres;
        uint32_t n = f.env.fields[HSN_FIELD_HEALTH].v.c.count;
        frame_close (&f);
        if (match) {
            ck_assert_uint_eq (n, (uint32_t) (redis >= 0) + (postgres >= 0));
            return true;
        }
    }
    return false;
}

START_TEST (heartbeat_carries_identity_and_process_stats)
{
    hsn_reporter_config_t cfg = config (true);
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    frame_t f;
    ck_assert_msg (recv_kind (&f, HSN_KIND_HEARTBEAT, 2000), "no heartbeat");
    const hsn_env_t *env = &f.env;
    ck_assert_uint_eq (env->version, HSN_PROTO_VERSION);
    ck_assert_uint_eq (env->rid, 0);
    ck_assert_uint_eq (env->op, 0);
    ck_assert_uint_eq (env->status, 0);
    ck_assert_uint_eq (env->service, HSN_SERVICE_CACHE);

    uint64_t v = 0;
    ck_assert_int_eq (hsn_env_uint (env, HSN_FIELD_SERVICE, &v), 0);
    ck_assert_uint_eq (v, HSN_SERVICE_CACHE);
    const char *id;
    size_t idlen;
    ck_assert_int_eq (hsn_env_str (env, HSN_FIELD_REPLICA, &id, &idlen), 0);
    ck_assert_uint_eq (idlen, strlen ("cache-test-1"));
    ck_assert (memcmp (id, "cache-test-1", idlen) == 0);
    ck_assert_int_eq (hsn_env_uint (env, HSN_FIELD_INTERVAL, &v), 0);
    ck_assert_uint_eq (v, HB_MS);
    ck_assert_int_eq (hsn_env_uint (env, HSN_FIELD_UPTIME, &v), 0);
    ck_assert_uint_lt (v, 60);
    ck_assert (hsn_env_has (env, HSN_FIELD_CPU));
    ck_assert_int_eq (env->fields[HSN_FIELD_CPU].type, HSN_MP_FLOAT);
    ck_assert (env->fields[HSN_FIELD_CPU].v.f >= 0);
    ck_assert_int_eq (hsn_env_uint (env, HSN_FIELD_RSS, &v), 0);
    ck_assert_uint_gt (v, 0);
    /*  No dependency has been probed yet: none is reported. */
    ck_assert (hsn_env_has (env, HSN_FIELD_HEALTH));
    ck_assert_int_eq (env->fields[HSN_FIELD_HEALTH].type, HSN_MP_MAP);
    ck_assert_uint_eq (env->fields[HSN_FIELD_HEALTH].v.c.count, 0);
    frame_close (&f);

    /*  And heartbeats keep coming, about every interval. */
    int64_t t0 = hsn_now_ms ();
    for (int i = 0; i < 5; i++) {
        ck_assert (recv_kind (&f, HSN_KIND_HEARTBEAT, 1000));
        frame_close (&f);
    }
    int64_t took = hsn_now_ms () - t0;
    ck_assert_int_ge (took, 3 * HB_MS);
    ck_assert_int_lt (took, 20 * HB_MS);
    hsn_reporter_destroy (&rep);
    ck_assert_ptr_null (rep);
}
END_TEST

START_TEST (dependency_absent_until_set)
{
    hsn_reporter_config_t cfg = config (false);
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    ck_assert (wait_deps (-1, -1, 2000));

    hsn_reporter_dep_set (rep, 0, true);
    ck_assert_msg (wait_deps (1, -1, 2000), "redis up not reported (alone)");
    hsn_reporter_dep_set (rep, 1, false);
    ck_assert_msg (wait_deps (1, 0, 2000), "postgres down not reported");
    hsn_reporter_dep_set (rep, 0, false);
    hsn_reporter_dep_set (rep, 1, true);
    ck_assert_msg (wait_deps (0, 1, 2000), "changed states not reported");

    /*  Out-of-range indexes are ignored, not written past the array. */
    hsn_reporter_dep_set (rep, -1, true);
    hsn_reporter_dep_set (rep, HSN_REPORTER_MAX_DEPS, true);
    hsn_reporter_dep_set (NULL, 0, true);
    ck_assert (wait_deps (0, 1, 2000));
    hsn_reporter_destroy (&rep);
}
END_TEST

START_TEST (stats_carry_the_registry)
{
    hsn_reporter_config_t cfg = config (true);
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    frame_t f;
    /*  The first STATS comes about a second after start. */
    ck_assert_msg (recv_kind (&f, HSN_KIND_STATS, 3000), "no STATS");
    ck_assert_uint_eq (f.env.service, HSN_SERVICE_CACHE);
    uint64_t v = 0;
    ck_assert_int_eq (hsn_env_uint (&f.env, HSN_FIELD_SERVICE, &v), 0);
    ck_assert_uint_eq (v, HSN_SERVICE_CACHE);
    const char *id;
    size_t idlen;
    ck_assert_int_eq (hsn_env_str (&f.env, HSN_FIELD_REPLICA, &id, &idlen), 0);
    ck_assert (idlen == strlen ("cache-test-1") && memcmp (id, "cache-test-1", idlen) == 0);
    ck_assert (hsn_env_has (&f.env, HSN_FIELD_STATS));
    const hsn_mp_obj_t *st = &f.env.fields[HSN_FIELD_STATS];
    hsn_metrics_t *fresh = hsn_metrics_new ();
    ck_assert_int_eq (hsn_metrics_unpack_merge (fresh, st->raw, st->raw_len), 0);
    ck_assert_uint_eq (hsn_counter_get (hsn_metrics_counter (fresh, "test.requests")), 42);
    hsn_metrics_destroy (&fresh);
    frame_close (&f);

    /*  The next one (stats_interval_s = 1) shows the counter as it is now. */
    hsn_counter_add (requests, 8);
    ck_assert_msg (recv_kind (&f, HSN_KIND_STATS, 3000), "no second STATS");
    st = &f.env.fields[HSN_FIELD_STATS];
    fresh = hsn_metrics_new ();
    ck_assert_int_eq (hsn_metrics_unpack_merge (fresh, st->raw, st->raw_len), 0);
    ck_assert_uint_eq (hsn_counter_get (hsn_metrics_counter (fresh, "test.requests")), 50);
    hsn_metrics_destroy (&fresh);
    frame_close (&f);
    hsn_reporter_destroy (&rep);
}
END_TEST

/*  Count STATS among the frames received until n heartbeats were seen. */
static int
stats_within_heartbeats (int n)
{
    int heartbeats = 0, stats = 0;
    while (heartbeats < n) {
        frame_t f;
        ck_assert_msg (recv_frame (&f, 2000), "reporter fell silent");
        if (f.env.kind == HSN_KIND_HEARTBEAT)
            heartbeats++;
        else if (f.env.kind == HSN_KIND_STATS)
            stats++;
        else
            ck_abort_msg ("unexpected kind %u", f.env.kind);
        frame_close (&f);
    }
    return stats;
}

/*  30 heartbeats at 50 ms span 1.45 s: past the first STATS (1 s after
 *  start), so the positive control sees one and send_stats false must not. */
START_TEST (stats_only_when_enabled)
{
    hsn_reporter_config_t cfg = config (true);
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    ck_assert_int_ge (stats_within_heartbeats (30), 1);
    hsn_reporter_destroy (&rep);
}
END_TEST

START_TEST (no_stats_when_disabled)
{
    hsn_reporter_config_t cfg = config (false);
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    ck_assert_int_eq (stats_within_heartbeats (30), 0);
    hsn_reporter_destroy (&rep);
}
END_TEST

START_TEST (no_stats_without_registry)
{
    hsn_reporter_config_t cfg = config (true);
    cfg.metrics = NULL;
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    ck_assert_int_eq (stats_within_heartbeats (30), 0);
    hsn_reporter_destroy (&rep);
}
END_TEST

START_TEST (invalid_endpoint_refused)
{
    hsn_reporter_config_t cfg = config (true);
    cfg.endpoint = "not-an-endpoint";
    ck_assert_ptr_null (hsn_reporter_new (&cfg));
    hsn_reporter_destroy (NULL);
}
END_TEST

static bool
time_passed (void *arg)
{
    return hsn_now_ms () >= *(int64_t *) arg;
}

START_TEST (destroy_is_prompt_when_monitor_absent)
{
    /*  A port nobody binds: every heartbeat is queued until the small
     *  send pipe is full, then dropped. */
    int port = hsn_free_port ();
    ck_assert_int_gt (port, 0);
    char absent[64];
    snprintf (absent, sizeof absent, "tcp://127.0.0.1:%d", port);
    hsn_reporter_config_t cfg = config (true);
    cfg.endpoint = absent;
    cfg.heartbeat_ms = 5;

    /*  At once after start. */
    int64_t t0 = hsn_now_ms ();
    hsn_reporter_t *rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    hsn_reporter_destroy (&rep);
    ck_assert_int_lt (hsn_now_ms () - t0, 500);

    /*  And after running long enough (60 heartbeats, past the first STATS)
     *  to fill the send pipe well beyond its high-water mark: sends must
     *  never block the thread. This wait lets the reporter work; it
     *  synchronises nothing. */
    rep = hsn_reporter_new (&cfg);
    ck_assert_ptr_nonnull (rep);
    int64_t until = hsn_now_ms () + 1200;
    hsn_wait_until (time_passed, &until, 2000);
    t0 = hsn_now_ms ();
    hsn_reporter_destroy (&rep);
    ck_assert_int_lt (hsn_now_ms () - t0, 500);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("reporter");
    TCase *tc = tcase_create ("reporter");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, heartbeat_carries_identity_and_process_stats);
    tcase_add_test (tc, dependency_absent_until_set);
    tcase_add_test (tc, stats_carry_the_registry);
    tcase_add_test (tc, stats_only_when_enabled);
    tcase_add_test (tc, no_stats_when_disabled);
    tcase_add_test (tc, no_stats_without_registry);
    tcase_add_test (tc, invalid_endpoint_refused);
    tcase_add_test (tc, destroy_is_prompt_when_monitor_absent);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
