/*  hsn-query: named PostgreSQL queries. Config, wire up, run, tear down. */
#include "hsn_config.h"
#include "hsn_replica.h"
#include "query_service.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct {
    query_service_t *query;
    hsn_reporter_t *reporter;
    int hupfd;
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

/*  SIGHUP: reload QUERIES_FILE. A bad file is logged and the old catalog
 *  stays; requests in flight finish with the catalog they started with. */
static int
on_hup (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    app_t *app = (app_t *) arg;
    struct signalfd_siginfo si;
    bool got = false;
    while (read (app->hupfd, &si, sizeof si) == sizeof si)
        got = true;
    char err[512];
    if (got && query_service_reload (app->query, err, sizeof err))
        hsn_log (HSN_LOG_ERROR, "reload-failed", "%s; keeping the current catalog", err);
    return 0;
}

/*  Block SIGHUP (before any thread starts, so every thread inherits the
 *  mask) and read it from a signalfd in the loop. */
static int
hup_fd (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGHUP);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL))
        return -1;
    return signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[512];
    long long pool_size, timeout_ms, credits, max_ops, wait_ms, slow_ms, cache_ms;
    bool adhoc, cache_on;
    const char *database_url, *queries_file;
    int hupfd = hup_fd ();
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_QUERY, err, sizeof err);
    if (sigfd < 0 || hupfd < 0
        || hsn_config_str ("DATABASE_URL", "postgresql://hsn@127.0.0.1:5432/hsn", 1024,
                           &database_url, err, sizeof err)
        || hsn_config_str ("QUERIES_FILE", "deploy/queries.sql", 4096, &queries_file, err,
                           sizeof err)
        || hsn_config_int ("CONNECTION_POOL_SIZE", 10, 1, 1000, &pool_size, err, sizeof err)
        || hsn_config_int ("QUERY_STATEMENT_TIMEOUT_MS", 5000, 0, 3600000, &timeout_ms, err,
                           sizeof err)
        || hsn_config_int ("QUERY_CREDITS", 64, 1, 10000, &credits, err, sizeof err)
        || hsn_config_int ("MAX_CONCURRENT_OPERATIONS", 50, 1, 10000, &max_ops, err, sizeof err)
        || hsn_config_int ("QUERY_POOL_WAIT_MS", 5000, 1, 600000, &wait_ms, err, sizeof err)
        || hsn_config_int ("QUERY_SLOW_MS", 500, 0, 3600000, &slow_ms, err, sizeof err)
        || hsn_config_bool ("QUERY_CACHE_ENABLED", true, &cache_on, err, sizeof err)
        || hsn_config_int ("QUERY_CACHE_TIMEOUT_MS", 1000, 1, 60000, &cache_ms, err, sizeof err)
        || hsn_config_bool ("QUERY_ALLOW_ADHOC", false, &adhoc, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", sigfd < 0 || hupfd >= 0 ? err
                 : "cannot block SIGHUP");
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
    app_t app = { NULL, NULL, hupfd };
    /*  Many requests in flight: each waits on the cache or the pool, never
     *  on the loop. */
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { (uint32_t) credits, handle, &app, NULL, metrics,
                                  { "postgresql", NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        query_catalog_destroy (&catalog);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    query_service_config_t qcfg = {
        database_url, (uint32_t) pool_size, (uint32_t) timeout_ms, metrics, replica.loop,
        cache_on ? rt.broker_endpoint : NULL, (uint32_t) cache_ms, (uint32_t) wait_ms,
        (uint32_t) max_ops, (uint32_t) slow_ms, adhoc, queries_file
    };
    app.query = query_service_new (&qcfg, catalog, err, sizeof err);
    if (!app.query) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        hsn_replica_stop (&replica);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    app.reporter = replica.reporter;
    on_health_tick (replica.loop, 0, &app);
    zloop_timer (replica.loop, rt.heartbeat_ms, 0, on_health_tick, &app);
    zmq_pollitem_t hup = { NULL, hupfd, ZMQ_POLLIN, 0 };
    zloop_poller (replica.loop, &hup, on_hup, &app);
    hsn_log (HSN_LOG_INFO, "started", "broker %s, monitor %s, %zu queries from %s, pool %lld, "
             "credits %lld, cache %s, ad-hoc SQL %s", rt.broker_endpoint, rt.monitor_endpoint,
             nqueries, queries_file, pool_size, credits, cache_on ? "on" : "off",
             adhoc ? "on" : "off");

    hsn_replica_run (&replica, &rt, sigfd);

    /*  The service's sockets live in the loop: destroy it first. */
    query_service_destroy (&app.query);
    hsn_replica_stop (&replica);
    hsn_metrics_destroy (&metrics);
    close (sigfd);
    close (hupfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
