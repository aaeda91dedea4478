/*  hsn-query: named PostgreSQL queries. Config, wire up, run, tear down. */
#include "hsn_config.h"
#include "hsn_replica.h"
#include "query_service.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct {
    query_service_t *query;
    hsn_reporter_t *reporter;
} app_t;

static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    query_service_handle (worker, route, req, ((app_t *) arg)->query);
}

static int
on_health_tick (zloop_t *loop, int timer_id, void *arg)
{
    app_t *app = (app_t *) arg;
    query_service_check (app->query);
    hsn_reporter_dep_set (app->reporter, 0, query_service_db_up (app->query));
    return 0;
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[512];
    long long pool_size, timeout_ms;
    const char *database_url, *queries_file;
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_QUERY, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("DATABASE_URL", "postgresql://hsn@127.0.0.1:5432/hsn", 1024,
                           &database_url, err, sizeof err)
        || hsn_config_str ("QUERIES_FILE", "deploy/queries.sql", 4096, &queries_file, err,
                           sizeof err)
        || hsn_config_int ("CONNECTION_POOL_SIZE", 10, 1, 1000, &pool_size, err, sizeof err)
        || hsn_config_int ("QUERY_STATEMENT_TIMEOUT_MS", 5000, 0, 3600000, &timeout_ms, err,
                           sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    /*  Without QUERIES_FILE set and without the default file (an image that
     *  does not ship one) the replica still joins, serving no queries. */
    query_catalog_t *catalog;
    const char *set = getenv ("QUERIES_FILE");
    if ((!set || !*set) && access (queries_file, F_OK) != 0) {
        hsn_log (HSN_LOG_WARN, "no-queries", "QUERIES_FILE unset and %s absent: no queries",
                 queries_file);
        catalog = query_catalog_empty ();
    }
    else
        catalog = query_catalog_load (queries_file, err, sizeof err);
    if (!catalog) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    size_t nqueries = query_catalog_size (catalog);
    hsn_metrics_t *metrics = hsn_metrics_new ();
    query_service_config_t qcfg = { database_url, (uint32_t) pool_size, (uint32_t) timeout_ms,
                                    metrics };
    app_t app = { NULL, NULL };
    app.query = query_service_new (&qcfg, catalog, err, sizeof err);
    if (!app.query) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    /*  One request at a time: execution is synchronous in this loop. */
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { 1, handle, &app, NULL, metrics, { "postgresql", NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        query_service_destroy (&app.query);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    app.reporter = replica.reporter;
    on_health_tick (replica.loop, 0, &app);
    zloop_timer (replica.loop, rt.heartbeat_ms, 0, on_health_tick, &app);
    hsn_log (HSN_LOG_INFO, "started", "broker %s, monitor %s, %zu queries from %s, pool %lld",
             rt.broker_endpoint, rt.monitor_endpoint, nqueries, queries_file, pool_size);

    hsn_replica_run (&replica, &rt, sigfd);

    hsn_replica_stop (&replica);
    query_service_destroy (&app.query);
    hsn_metrics_destroy (&metrics);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
