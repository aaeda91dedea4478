/*  hsn-monitor: heartbeats and stats from every replica; health. */
#include "hsn_config.h"
#include "hsn_log.h"
#include "hsn_reporter.h"
#include "hsn_runtime.h"
#include "monitor_service.h"

#include <unistd.h>

static void
on_drain (void *arg)
{
    hsn_log (HSN_LOG_INFO, "draining", "signal received: finishing requests in flight");
}

int
main (void)
{
    int sigfd = hsn_signals_block ();
    hsn_log_init ("monitor", "-", HSN_LOG_INFO);
    hsn_runtime_config_t rt;
    char err[256];
    const char *bind, *expected_list;
    long long forget_s;
    uint32_t expected = 0;
    if (sigfd < 0
        || hsn_runtime_config_read (&rt, HSN_SERVICE_MONITOR, err, sizeof err)
        || hsn_config_str ("MONITOR_BIND", "tcp://0.0.0.0:5556", 256, &bind, err, sizeof err)
        || hsn_config_str ("MONITOR_EXPECTED_SERVICES", "gateway,cache,query,agent-bus,monitor",
                           256, &expected_list, err, sizeof err)
        || hsn_config_int ("MONITOR_FORGET_SECONDS", 300, 1, 86400, &forget_s, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", sigfd < 0 ? "cannot block signals" : err);
        return 2;
    }
    if (monitor_services_mask (expected_list, &expected)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid MONITOR_EXPECTED_SERVICES '%s': "
                 "must be a comma-separated list of gateway, cache, query, agent-bus, monitor",
                 expected_list);
        return 2;
    }
    hsn_log_init ("monitor", rt.replica, rt.log_level);

    monitor_registry_t *registry = monitor_registry_new (expected, forget_s * 1000);
    zloop_t *loop = zloop_new ();
    monitor_service_t *svc = monitor_service_new (loop, bind, registry, rt.monitoring);
    if (!svc) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot bind MONITOR_BIND '%s'", bind);
        return 2;
    }
    hsn_worker_config_t wcfg = { rt.broker_endpoint, HSN_SERVICE_MONITOR, rt.replica,
                                 16, rt.heartbeat_ms, monitor_service_handle, svc };
    hsn_worker_t *worker = hsn_worker_new (loop, &wcfg);
    hsn_reporter_config_t rcfg = { rt.monitor_endpoint, HSN_SERVICE_MONITOR, rt.replica,
                                   rt.heartbeat_ms, rt.stats_interval_s, rt.monitoring,
                                   NULL, { NULL } };
    hsn_reporter_t *reporter = hsn_reporter_new (&rcfg);
    if (!worker || !reporter) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        return 2;
    }
    hsn_log (HSN_LOG_INFO, "started", "intake %s (port %d), broker %s",
             bind, monitor_service_port (svc), rt.broker_endpoint);

    hsn_runtime_run (loop, sigfd, worker, rt.drain_ms, on_drain, NULL);

    hsn_reporter_destroy (&reporter);
    hsn_worker_destroy (&worker);
    monitor_service_destroy (&svc);
    zloop_destroy (&loop);
    monitor_registry_destroy (&registry);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
