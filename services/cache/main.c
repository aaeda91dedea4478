/*  hsn-cache: the cache service. Config, wire up, run, tear down. */
#include "cache_service.h"
#include "hsn_config.h"
#include "hsn_replica.h"

#include <unistd.h>

typedef struct {
    cache_service_t *cache;
    hsn_reporter_t *reporter;
} app_t;

static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    cache_service_handle (worker, route, req, ((app_t *) arg)->cache);
}

static void
batch_end (hsn_worker_t *worker, void *arg)
{
    cache_service_batch_end (worker, ((app_t *) arg)->cache);
}

static int
on_health_tick (zloop_t *loop, int timer_id, void *arg)
{
    app_t *app = (app_t *) arg;
    cache_service_check (app->cache);
    hsn_reporter_dep_set (app->reporter, 0, cache_service_redis_up (app->cache));
    return 0;
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[256];
    long long ttl, max_size, max_value, credits, max_bytes, jitter;
    bool l1_enabled;
    const char *redis_url, *namespaces;
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_CACHE, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("REDIS_URL", "redis://127.0.0.1:6379", 512, &redis_url, err, sizeof err)
        || hsn_config_int ("CACHE_DEFAULT_TTL", 300, 1, 31536000, &ttl, err, sizeof err)
        || hsn_config_int ("CACHE_MAX_SIZE", 10000, 1, 100000000, &max_size, err, sizeof err)
        || hsn_config_int ("CACHE_MAX_VALUE_BYTES", 1048576, 1, 3 * 1024 * 1024, &max_value,
                           err, sizeof err)
        || hsn_config_int ("CACHE_MAX_BYTES", 256LL << 20, 1LL << 16, 1LL << 40, &max_bytes,
                           err, sizeof err)
        || hsn_config_int ("CACHE_TTL_JITTER_PCT", 10, 0, 50, &jitter, err, sizeof err)
        || hsn_config_str ("CACHE_NAMESPACES", "", 4096, &namespaces, err, sizeof err)
        || hsn_config_bool ("CACHE_L1_ENABLED", true, &l1_enabled, err, sizeof err)
        || hsn_config_int ("CACHE_CREDITS", 256, 1, 100000, &credits, err, sizeof err)) {
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
    cache_service_config_t ccfg = { redis_url, (uint32_t) ttl, (uint32_t) max_value,
                                    (uint32_t) max_size, (uint64_t) max_bytes,
                                    (uint32_t) jitter, namespaces, l1_enabled, metrics };
    app.cache = cache_service_new (&ccfg, replica.loop, err, sizeof err);
    if (!app.cache) {
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

    cache_service_destroy (&app.cache);
    hsn_replica_stop (&replica);
    hsn_metrics_destroy (&metrics);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
