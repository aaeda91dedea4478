/*  hsn-agent-bus: agent messaging (the agent-bus issue). This replica joins
 *  the broker, reports Redis's health to the monitor, and answers every
 *  operation UNKNOWN_OP until the bus operations are defined in proto/. */
#include "hsn_config.h"
#include "hsn_replica.h"
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
    hsn_runtime_config_t rt;
    char err[256];
    const char *redis_url = "";
    app_t app = { "", 0, NULL };
    int db;
    int sigfd = hsn_replica_config (&rt, HSN_SERVICE_AGENT_BUS, err, sizeof err);
    if (sigfd < 0
        || hsn_config_str ("REDIS_URL", "redis://127.0.0.1:6379", 512, &redis_url, err, sizeof err)
        || (hsn_url_redis (redis_url, app.host, sizeof app.host, &app.port, &db, NULL, 0)
            && snprintf (err, sizeof err, "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                         redis_url))) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    hsn_replica_t replica;
    hsn_replica_config_t rcfg = { 1, handle, NULL, NULL, NULL, { "redis", NULL } };
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
