/*  hsn-query: named PostgreSQL queries (the query issue). This replica joins
 *  the broker, reports PostgreSQL's health to the monitor, and answers every
 *  operation UNKNOWN_OP until the query operations are defined in proto/. */
#include "hsn_config.h"
#include "hsn_replica.h"

#include <libpq-fe.h>
#include <unistd.h>

typedef struct {
    const char *database_url;
    hsn_reporter_t *reporter;
} app_t;

static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                            "the query service defines no operations yet");
}

/*  PQping does not log in or run anything: a cheap liveness probe. */
static int
on_health_tick (zloop_t *loop, int timer_id, void *arg)
{
    app_t *app = (app_t *) arg;
    hsn_reporter_dep_set (app->reporter, 0, PQping (app->database_url) == PQPING_OK);
    return 0;
}

int
main (void)
{
    hsn_runtime_config_t rt;
    char err[256];
    app_t app = { NULL, NULL };
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_QUERY, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("DATABASE_URL", "postgresql://hsn@127.0.0.1:5432/hsn", 1024,
                           &app.database_url, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { 1, handle, NULL, NULL, NULL, { "postgresql", NULL } };
    if (hsn_replica_start (&replica, &rt, &rcfg)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        return 2;
    }
    app.reporter = replica.reporter;
    on_health_tick (replica.loop, 0, &app);
    zloop_timer (replica.loop, 5 * rt.heartbeat_ms, 0, on_health_tick, &app);
    hsn_log (HSN_LOG_INFO, "started", "broker %s, monitor %s", rt.broker_endpoint,
             rt.monitor_endpoint);
    hsn_replica_run (&replica, &rt, sigfd);
    hsn_replica_stop (&replica);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
