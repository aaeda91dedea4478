/*  hsn-agent-bus: agent messaging. Config, wire up, run, tear down. The
 *  service itself is agentbus_service.c; the contract docs/AGENT_BUS.md. */
#include "agentbus_service.h"
#include "hsn_config.h"
#include "hsn_replica.h"

#include <unistd.h>

typedef struct {
    agentbus_service_t *bus;
    hsn_reporter_t *reporter;
} app_t;

static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    agentbus_service_handle (worker, route, req, ((app_t *) arg)->bus);
}

static void
batch_end (hsn_worker_t *worker, void *arg)
{
    agentbus_service_batch_end (worker, ((app_t *) arg)->bus);
}

static int
on_health_tick (zloop_t *loop, int timer_id, void *arg)
{
    app_t *app = (app_t *) arg;
    agentbus_service_check (app->bus);
    hsn_reporter_dep_set (app->reporter, 0, agentbus_service_redis_up (app->bus));
    return 0;
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[256];
    const char *redis_url;
    long long max_payload, max_queue, visibility, deliveries, dlq_max, credits, max_agents,
              max_subscriptions;
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_AGENT_BUS, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("REDIS_URL", "redis://127.0.0.1:6379", 512, &redis_url, err, sizeof err)
        || hsn_config_int ("AGENTBUS_MAX_PAYLOAD", 262144, 1, 3 * 1024 * 1024, &max_payload,
                           err, sizeof err)
        || hsn_config_int ("AGENTBUS_MAX_QUEUE", 100000, 1, 100000000, &max_queue, err,
                           sizeof err)
        || hsn_config_int ("AGENTBUS_VISIBILITY_TIMEOUT_MS", 30000, 10, 86400000, &visibility,
                           err, sizeof err)
        || hsn_config_int ("AGENTBUS_MAX_DELIVERIES", 5, 1, 1000, &deliveries, err, sizeof err)
        || hsn_config_int ("AGENTBUS_DLQ_MAX", 10000, 1, 100000000, &dlq_max, err, sizeof err)
        || hsn_config_int ("AGENTBUS_CREDITS", 256, 1, 100000, &credits, err, sizeof err)
        || hsn_config_int ("AGENTBUS_MAX_AGENTS", AGENTBUS_MAX_AGENTS_DEFAULT, 1,
                           AGENTBUS_MAX_AGENTS_LIMIT, &max_agents, err, sizeof err)
        || hsn_config_int ("AGENTBUS_MAX_SUBSCRIPTIONS", AGENTBUS_MAX_SUBSCRIPTIONS_DEFAULT, 1,
                           AGENTBUS_MAX_SUBSCRIPTIONS_LIMIT, &max_subscriptions, err,
                           sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    hsn_metrics_t *metrics = hsn_metrics_new ();
    /*  The handler needs the replica's loop and the replica needs the
     *  handler's argument: the box is filled once both exist. */
    app_t app = { NULL, NULL };
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { (uint32_t) credits, handle, &app, batch_end, metrics,
                                  { "redis", NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    agentbus_config_t bcfg = { redis_url, (uint32_t) max_payload, (uint32_t) max_queue,
                               (uint32_t) visibility, (uint32_t) deliveries, (uint32_t) dlq_max,
                               1000, metrics, 0, (uint32_t) max_agents,
                               (uint32_t) max_subscriptions };
    app.bus = agentbus_service_new (&bcfg, replica.loop, err, sizeof err);
    if (!app.bus) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        hsn_replica_stop (&replica);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    app.reporter = replica.reporter;
    on_health_tick (replica.loop, 0, &app);
    zloop_timer (replica.loop, rt.heartbeat_ms, 0, on_health_tick, &app);
    hsn_log (HSN_LOG_INFO, "started", "broker %s, monitor %s, redis %s, credits %lld",
             rt.broker_endpoint, rt.monitor_endpoint, redis_url, credits);

    hsn_replica_run (&replica, &rt, sigfd);

    agentbus_service_destroy (&app.bus);
    hsn_replica_stop (&replica);
    hsn_metrics_destroy (&metrics);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
