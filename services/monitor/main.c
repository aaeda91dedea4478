/*  hsn-monitor: heartbeats and stats from every replica; health. */
#include "hsn_config.h"
#include "hsn_replica.h"
#include "monitor_service.h"

#include <unistd.h>

/*  The intake needs the replica's loop, the replica needs the handler: the
 *  handler finds the service through this box, filled once both exist. */
static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    monitor_service_handle (worker, route, req, *(monitor_service_t **) arg);
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[256];
    const char *bind, *expected_list = "";
    long long forget_s;
    uint32_t expected = 0;
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_MONITOR, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("MONITOR_BIND", "tcp://0.0.0.0:5556", 256, &bind, err, sizeof err)
        || hsn_config_str ("MONITOR_EXPECTED_SERVICES", "gateway,cache,query,agent-bus,monitor",
                           256, &expected_list, err, sizeof err)
        || hsn_config_int ("MONITOR_FORGET_SECONDS", 300, 1, 86400, &forget_s, err, sizeof err)
        || (monitor_services_mask (expected_list, &expected)
            && snprintf (err, sizeof err, "invalid MONITOR_EXPECTED_SERVICES '%s': must be a "
                         "comma-separated list of gateway, cache, query, agent-bus, monitor",
                         expected_list))) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    monitor_registry_t *registry = monitor_registry_new (expected, forget_s * 1000);
    monitor_service_t *svc = NULL;
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { 16, handle, &svc, NULL, NULL, { NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        return 2;
    }
    svc = monitor_service_new (replica.loop, bind, registry, rt.monitoring);
    if (!svc) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot bind MONITOR_BIND '%s'", bind);
        hsn_replica_stop (&replica);
        return 2;
    }
    hsn_log (HSN_LOG_INFO, "started", "intake %s (port %d), broker %s",
             bind, monitor_service_port (svc), rt.broker_endpoint);

    hsn_replica_run (&replica, &rt, sigfd);

    monitor_service_destroy (&svc);
    hsn_replica_stop (&replica);
    monitor_registry_destroy (&registry);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
