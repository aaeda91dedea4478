/*  hsn-monitor: heartbeats and stats from every replica; health, KPIs,
 *  recommendations, Prometheus. */
#include "hsn_config.h"
#include "hsn_proc.h"
#include "hsn_replica.h"
#include "hsn_time.h"
#include "monitor_service.h"

#include <unistd.h>

/*  The intake needs the replica's loop, the replica needs the handler: the
 *  handler finds the service through this box, filled once both exist. */
static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    monitor_service_handle (worker, route, req, *(monitor_service_t **) arg);
}

/*  KPI_* targets, each range-checked. Returns 0 or -1 with err set. */
static int
read_targets (monitor_targets_t *t, char *err, size_t errlen)
{
    monitor_targets_default (t);
    return hsn_config_double ("KPI_RESPONSE_P95_MS", t->response_p95_ms, 1, 3600000,
                              &t->response_p95_ms, err, errlen)
           || hsn_config_double ("KPI_CACHE_HIT_RATE", t->cache_hit_rate, 0, 100,
                                 &t->cache_hit_rate, err, errlen)
           || hsn_config_double ("KPI_ERROR_RATE", t->error_rate, 0, 100, &t->error_rate,
                                 err, errlen)
           || hsn_config_double ("KPI_CPU", t->cpu, 1, 100, &t->cpu, err, errlen)
           || hsn_config_double ("KPI_MEMORY", t->memory, 1, 100, &t->memory, err, errlen)
           || hsn_config_double ("KPI_DB_QUERY_MS", t->db_query_ms, 1, 3600000,
                                 &t->db_query_ms, err, errlen)
           || hsn_config_double ("KPI_AGENT_LATENCY_MS", t->agent_latency_ms, 1, 3600000,
                                 &t->agent_latency_ms, err, errlen) ? -1 : 0;
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[256];
    const char *bind, *expected_list = "";
    long long forget_s;
    monitor_core_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_MONITOR, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("MONITOR_BIND", "tcp://0.0.0.0:5556", 256, &bind, err, sizeof err)
        || hsn_config_str ("MONITOR_EXPECTED_SERVICES", "gateway,cache,query,agent-bus,monitor",
                           256, &expected_list, err, sizeof err)
        || hsn_config_int ("MONITOR_FORGET_SECONDS", 300, 1, 86400, &forget_s, err, sizeof err)
        || read_targets (&cfg.targets, err, sizeof err)
        || (monitor_services_mask (expected_list, &cfg.expected)
            && snprintf (err, sizeof err, "invalid MONITOR_EXPECTED_SERVICES '%s': must be a "
                         "comma-separated list of gateway, cache, query, agent-bus, monitor",
                         expected_list))) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    cfg.monitoring = rt.monitoring;
    cfg.forget_ms = forget_s * 1000;
    cfg.stats_interval_s = rt.stats_interval_s;
    /*  Stand-ins for replicas that do not report their own limits. */
    hsn_proc_cpu_limit (&cfg.host_cores);
    hsn_proc_mem_limit (&cfg.host_mem);
    monitor_core_t *core = monitor_core_new (&cfg, hsn_now_ms ());
    hsn_metrics_t *metrics = hsn_metrics_new ();
    if (!core || !metrics) {
        hsn_log (HSN_LOG_ERROR, "memory", "out of memory");
        return 1;
    }
    monitor_service_t *svc = NULL;
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { 16, handle, &svc, NULL, metrics, { NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        return 2;
    }
    svc = monitor_service_new (replica.loop, bind, core, metrics);
    if (!svc) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot bind MONITOR_BIND '%s'", bind);
        hsn_replica_stop (&replica);
        return 2;
    }
    hsn_log (HSN_LOG_INFO, "started", "intake %s (port %d), broker %s, monitoring %s",
             bind, monitor_service_port (svc), rt.broker_endpoint,
             rt.monitoring ? "on" : "off (PERFORMANCE_MONITORING_ENABLED=false)");

    hsn_replica_run (&replica, &rt, sigfd);

    monitor_service_destroy (&svc);
    hsn_replica_stop (&replica);
    monitor_core_destroy (&core);
    hsn_metrics_destroy (&metrics);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
