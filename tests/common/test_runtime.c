/*  Tests for hsn_runtime_config_read: the defaults, every variable's range
 *  check (the message names the variable), HSN_REPLICA_ID and LOG_LEVEL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsn_proto.h"
#include "hsn_runtime.h"
#include "tests/harness/hsn_test.h"

static const char *const vars[] = {
    "BROKER_ENDPOINT", "MONITOR_ENDPOINT", "HEARTBEAT_INTERVAL_MS",
    "METRICS_COLLECTION_INTERVAL", "PERFORMANCE_MONITORING_ENABLED",
    "SHUTDOWN_TIMEOUT_MS", "LOG_LEVEL", "HSN_REPLICA_ID",
};

static char err[512];

/*  Every test starts from an environment without any of the variables. */
static void
setup (void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv (vars[i]);
    strcpy (err, "untouched");
}

/*  A config filled with a recognisable pattern, to see it left alone. */
static void
poison (hsn_runtime_config_t *cfg)
{
    memset (cfg, 0x5a, sizeof *cfg);
}

static bool
is_poisoned (const hsn_runtime_config_t *cfg)
{
    const unsigned char *p = (const unsigned char *) cfg;
    for (size_t i = 0; i < sizeof *cfg; i++)
        if (p[i] != 0x5a)
            return false;
    return true;
}

/*  name=value is refused with a message naming name; cfg is untouched. */
static void
assert_refused (const char *name, const char *value)
{
    hsn_runtime_config_t cfg;
    poison (&cfg);
    strcpy (err, "untouched");
    setenv (name, value, 1);
    int rc = hsn_runtime_config_read (&cfg, HSN_SERVICE_CACHE, err, sizeof err);
    unsetenv (name);
    ck_assert_msg (rc == -EINVAL, "%s='%s' accepted", name, value);
    ck_assert_msg (strstr (err, name) != NULL, "%s='%.20s': message '%s' does not name it",
                   name, value, err);
    ck_assert_msg (is_poisoned (&cfg), "%s='%.20s': config written on error", name, value);
}

/*  name=value is accepted; returns the config read. */
static hsn_runtime_config_t
read_with (const char *name, const char *value)
{
    hsn_runtime_config_t cfg;
    setenv (name, value, 1);
    int rc = hsn_runtime_config_read (&cfg, HSN_SERVICE_QUERY, err, sizeof err);
    unsetenv (name);
    ck_assert_msg (rc == 0, "%s='%s' refused: %s", name, value, err);
    return cfg;
}

START_TEST (defaults)
{
    hsn_runtime_config_t cfg;
    poison (&cfg);
    ck_assert_int_eq (hsn_runtime_config_read (&cfg, HSN_SERVICE_CACHE, err, sizeof err), 0);
    ck_assert_str_eq (err, "untouched");
    ck_assert_uint_eq (cfg.service, HSN_SERVICE_CACHE);
    ck_assert_str_eq (cfg.broker_endpoint, "tcp://127.0.0.1:5555");
    ck_assert_str_eq (cfg.monitor_endpoint, "tcp://127.0.0.1:5556");
    ck_assert_uint_eq (cfg.heartbeat_ms, 1000);
    ck_assert_uint_eq (cfg.stats_interval_s, 30);
    ck_assert (cfg.monitoring);
    ck_assert_uint_eq (cfg.drain_ms, 9000);
    ck_assert_int_eq (cfg.log_level, HSN_LOG_INFO);

    /*  The replica id defaults to host:pid. */
    char host[64] = "localhost";
    gethostname (host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char want[128];
    snprintf (want, sizeof want, "%s:%d", host, (int) getpid ());
    ck_assert_str_eq (cfg.replica, want);
}
END_TEST

START_TEST (empty_values_mean_defaults)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv (vars[i], "", 1);
    hsn_runtime_config_t cfg;
    ck_assert_int_eq (hsn_runtime_config_read (&cfg, HSN_SERVICE_GATEWAY, err, sizeof err), 0);
    ck_assert_uint_eq (cfg.heartbeat_ms, 1000);
    ck_assert_uint_eq (cfg.drain_ms, 9000);
    ck_assert_int_eq (cfg.log_level, HSN_LOG_INFO);
    ck_assert_ptr_nonnull (strchr (cfg.replica, ':'));
}
END_TEST

START_TEST (values_are_read)
{
    setenv ("BROKER_ENDPOINT", "tcp://gateway:7000", 1);
    setenv ("MONITOR_ENDPOINT", "tcp://monitor:7001", 1);
    setenv ("HEARTBEAT_INTERVAL_MS", "250", 1);
    setenv ("METRICS_COLLECTION_INTERVAL", "5", 1);
    setenv ("PERFORMANCE_MONITORING_ENABLED", "false", 1);
    setenv ("SHUTDOWN_TIMEOUT_MS", "0", 1);
    setenv ("LOG_LEVEL", "WARNING", 1);
    hsn_runtime_config_t cfg;
    ck_assert_int_eq (hsn_runtime_config_read (&cfg, HSN_SERVICE_MONITOR, err, sizeof err), 0);
    ck_assert_uint_eq (cfg.service, HSN_SERVICE_MONITOR);
    ck_assert_str_eq (cfg.broker_endpoint, "tcp://gateway:7000");
    ck_assert_str_eq (cfg.monitor_endpoint, "tcp://monitor:7001");
    ck_assert_uint_eq (cfg.heartbeat_ms, 250);
    ck_assert_uint_eq (cfg.stats_interval_s, 5);
    ck_assert (!cfg.monitoring);
    ck_assert_uint_eq (cfg.drain_ms, 0);
    ck_assert_int_eq (cfg.log_level, HSN_LOG_WARN);
}
END_TEST

START_TEST (range_bounds_accepted)
{
    ck_assert_uint_eq (read_with ("HEARTBEAT_INTERVAL_MS", "50").heartbeat_ms, 50);
    ck_assert_uint_eq (read_with ("HEARTBEAT_INTERVAL_MS", "60000").heartbeat_ms, 60000);
    ck_assert_uint_eq (read_with ("METRICS_COLLECTION_INTERVAL", "1").stats_interval_s, 1);
    ck_assert_uint_eq (read_with ("METRICS_COLLECTION_INTERVAL", "3600").stats_interval_s, 3600);
    ck_assert_uint_eq (read_with ("SHUTDOWN_TIMEOUT_MS", "600000").drain_ms, 600000);
    ck_assert (read_with ("PERFORMANCE_MONITORING_ENABLED", "on").monitoring);
    ck_assert (!read_with ("PERFORMANCE_MONITORING_ENABLED", "0").monitoring);
    ck_assert_int_eq (read_with ("LOG_LEVEL", "debug").log_level, HSN_LOG_DEBUG);
    ck_assert_int_eq (read_with ("LOG_LEVEL", "Error").log_level, HSN_LOG_ERROR);
}
END_TEST

START_TEST (heartbeat_interval_range)
{
    assert_refused ("HEARTBEAT_INTERVAL_MS", "49");
    assert_refused ("HEARTBEAT_INTERVAL_MS", "0");
    assert_refused ("HEARTBEAT_INTERVAL_MS", "-1000");
    assert_refused ("HEARTBEAT_INTERVAL_MS", "60001");
    assert_refused ("HEARTBEAT_INTERVAL_MS", "1s");
    assert_refused ("HEARTBEAT_INTERVAL_MS", "99999999999999999999");
}
END_TEST

START_TEST (metrics_interval_range)
{
    assert_refused ("METRICS_COLLECTION_INTERVAL", "0");
    assert_refused ("METRICS_COLLECTION_INTERVAL", "3601");
    assert_refused ("METRICS_COLLECTION_INTERVAL", "thirty");
}
END_TEST

START_TEST (shutdown_timeout_range)
{
    assert_refused ("SHUTDOWN_TIMEOUT_MS", "-1");
    assert_refused ("SHUTDOWN_TIMEOUT_MS", "600001");
    assert_refused ("SHUTDOWN_TIMEOUT_MS", " 9000");
}
END_TEST

START_TEST (monitoring_flag_invalid)
{
    assert_refused ("PERFORMANCE_MONITORING_ENABLED", "maybe");
    assert_refused ("PERFORMANCE_MONITORING_ENABLED", "2");
}
END_TEST

START_TEST (endpoints_too_long)
{
    char big[300];
    strcpy (big, "tcp://");
    memset (big + 6, 'h', sizeof big - 7);
    big[sizeof big - 1] = '\0';
    assert_refused ("BROKER_ENDPOINT", big);
    assert_refused ("MONITOR_ENDPOINT", big);
}
END_TEST

START_TEST (log_level_invalid)
{
    assert_refused ("LOG_LEVEL", "verbose");
    assert_refused ("LOG_LEVEL", "infos");
    assert_refused ("LOG_LEVEL", "trace");
    assert_refused ("LOG_LEVEL", "a-log-level-that-is-far-too-long");
}
END_TEST

START_TEST (replica_id_overrides)
{
    hsn_runtime_config_t cfg = read_with ("HSN_REPLICA_ID", "cache-7");
    ck_assert_str_eq (cfg.replica, "cache-7");

    /*  100 bytes is the longest accepted, kept whole. */
    char id[128];
    memset (id, 'r', 100);
    id[100] = '\0';
    cfg = read_with ("HSN_REPLICA_ID", id);
    ck_assert_str_eq (cfg.replica, id);

    id[100] = 'r';
    id[101] = '\0';
    assert_refused ("HSN_REPLICA_ID", id);
}
END_TEST

START_TEST (first_error_wins_and_err_may_be_null)
{
    setenv ("HEARTBEAT_INTERVAL_MS", "1", 1);
    setenv ("LOG_LEVEL", "loud", 1);
    hsn_runtime_config_t cfg;
    ck_assert_int_eq (hsn_runtime_config_read (&cfg, HSN_SERVICE_CACHE, err, sizeof err),
                      -EINVAL);
    ck_assert_ptr_nonnull (strstr (err, "HEARTBEAT_INTERVAL_MS"));
    /*  A caller without an error buffer still gets the refusal. */
    unsetenv ("HEARTBEAT_INTERVAL_MS");
    ck_assert_int_eq (hsn_runtime_config_read (&cfg, HSN_SERVICE_CACHE, NULL, 0), -EINVAL);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("runtime");
    TCase *tc = tcase_create ("config");
    tcase_add_checked_fixture (tc, setup, NULL);
    tcase_add_test (tc, defaults);
    tcase_add_test (tc, empty_values_mean_defaults);
    tcase_add_test (tc, values_are_read);
    tcase_add_test (tc, range_bounds_accepted);
    tcase_add_test (tc, heartbeat_interval_range);
    tcase_add_test (tc, metrics_interval_range);
    tcase_add_test (tc, shutdown_timeout_range);
    tcase_add_test (tc, monitoring_flag_invalid);
    tcase_add_test (tc, endpoints_too_long);
    tcase_add_test (tc, log_level_invalid);
    tcase_add_test (tc, replica_id_overrides);
    tcase_add_test (tc, first_error_wins_and_err_may_be_null);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
