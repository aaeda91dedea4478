/*  hsn-agent-bus: agent messaging (the agent-bus issue). This replica joins
 *  the broker, reports Redis's health to the monitor, and answers every
 *  operation UNKNOWN_OP until the bus operations are defined in proto/. */
#include "hsn_config.h"
#include "hsn_log.h"
#include "hsn_reporter.h"
#include "hsn_runtime.h"
#include "hsn_url.h"

#include <hiredis.h>
#include <unistd.h>

typedef struct {
    char host[256];
    int port;
    hsn_reporter_t *reporter;
} app_t;

static void
handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req, void *arg)
{
    hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                            "the agent bus defines no operations yet");
}

static int
on_health_tick (zloop_t *loop, int timer_id, void *arg)
{
    app_t *app = (app_t *) arg;
    struct timeval tv = { 0, 200 * 1000 };
    redisContext *c = redisConnectWithTimeout (app->host, app->port, tv);
    redisReply *r = c && !c->err ? (redisReply *) redisCommand (c, "PING") : NULL;
    hsn_reporter_dep_set (app->reporter, 0, r && r->type == REDIS_REPLY_STATUS);
    if (r)
        freeReplyObject (r);
    if (c)
        redisFree (c);
    return 0;
}

int
main (void)
{
    int sigfd = hsn_signals_block ();
    hsn_log_init ("agent-bus", "-", HSN_LOG_INFO);
    hsn_runtime_config_t rt;
    char err[256];
    const char *redis_url;
    app_t app;
    int db;
    if (sigfd < 0
        || hsn_runtime_config_read (&rt, HSN_SERVICE_AGENT_BUS, err, sizeof err)
        || hsn_config_str ("REDIS_URL", "redis://127.0.0.1:6379", 512, &redis_url, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", sigfd < 0 ? "cannot block signals" : err);
        return 2;
    }
    if (hsn_url_redis (redis_url, app.host, sizeof app.host, &app.port, &db, NULL, 0)) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                 redis_url);
        return 2;
    }
    hsn_log_init ("agent-bus", rt.replica, rt.log_level);
    zloop_t *loop = zloop_new ();
    hsn_worker_config_t wcfg = { rt.broker_endpoint, HSN_SERVICE_AGENT_BUS, rt.replica,
                                 1, rt.heartbeat_ms, handle, NULL };
    hsn_worker_t *worker = hsn_worker_new (loop, &wcfg);
    hsn_reporter_config_t rcfg = { rt.monitor_endpoint, HSN_SERVICE_AGENT_BUS, rt.replica,
                                   rt.heartbeat_ms, rt.stats_interval_s, rt.monitoring,
                                   NULL, { "redis", NULL } };
    app.reporter = hsn_reporter_new (&rcfg);
    if (!worker || !app.reporter) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid BROKER_ENDPOINT '%s' or MONITOR_ENDPOINT '%s'",
                 rt.broker_endpoint, rt.monitor_endpoint);
        return 2;
    }
    on_health_tick (loop, 0, &app);
    zloop_timer (loop, 5 * rt.heartbeat_ms, 0, on_health_tick, &app);
    hsn_log (HSN_LOG_INFO, "started", "broker %s, monitor %s", rt.broker_endpoint,
             rt.monitor_endpoint);
    hsn_runtime_run (loop, sigfd, worker, rt.drain_ms, NULL, NULL);
    hsn_reporter_destroy (&app.reporter);
    hsn_worker_destroy (&worker);
    zloop_destroy (&loop);
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
