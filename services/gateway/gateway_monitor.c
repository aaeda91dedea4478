/*  gateway_monitor: the monitor's routes on the gateway.
 *
 *    GET /api/optimization/health            every replica of every service
 *    GET /api/optimization/summary           KPIs: value, target, status
 *    GET /api/optimization/metrics           per service and replica, and
 *                                            the chart series
 *    GET /api/optimization/recommendations   what to do, with evidence
 *    GET /metrics                            Prometheus text (0.0.4)
 *    GET /                                   the dashboard (gateway_dashboard.c)
 *
 *  summary, metrics and recommendations take ?window=seconds (1..86400,
 *  default 300). Every answer comes from the monitor (one call through the
 *  broker), except the dashboard page, which is compiled in and fetches the
 *  JSON routes itself.
 */
#include "gateway_internal.h"
#include "gateway_dashboard.h"

#include <string.h>

#define WINDOW_MAX 86400

/*  Ask the monitor for op (with window when non-zero). On 0, env holds the
 *  reply and *msg must be closed by the caller. */
static int
ask (gw_thread_t *t, gateway_req_t *req, uint32_t op, uint64_t window, zmq_msg_t *msg,
     hsn_env_t *env)
{
    uint64_t rid = gateway_begin (t, op, window ? 1 : 0);
    if (window)
        hsn_enc_uint (&t->enc, HSN_FIELD_WINDOW, window);
    return gateway_call (t, req, rid, msg, env);
}

/*  The result document as JSON in t->json; answers 502 and returns -1 when
 *  there is none or it does not convert. Closes msg either way. */
static int
result_json (gw_thread_t *t, gateway_req_t *req, zmq_msg_t *msg, const hsn_env_t *env,
             bool *unhealthy)
{
    const hsn_mp_obj_t *res = &env->fields[HSN_FIELD_RESULT];
    gateway_json_buf_reset (&t->json);
    if (!hsn_env_has (env, HSN_FIELD_RESULT)
        || gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, &t->json)) {
        zmq_msg_close (msg);
        gateway_reply_error (req, 502, "malformed", "the monitor sent an unreadable report");
        return -1;
    }
    /*  Health: 503 when the monitor judges the cluster unhealthy, so load
     *  balancers and orchestrators can act on the status code alone. */
    hsn_mp_obj_t status;
    if (unhealthy && hsn_mp_map_get (res, "status", &status) == 0)
        *unhealthy = hsn_mp_str_eq (&status, "unhealthy");
    zmq_msg_close (msg);
    return 0;
}

static void
document (gw_thread_t *t, gateway_req_t *req, uint32_t op)
{
    uint64_t window = 0;
    bool bad = false;
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    if (op != HSN_OP_MONITOR_HEALTH
        && gateway_query_uint (ri->query_string, "window", &window, &bad)
        && (window == 0 || window > WINDOW_MAX))
        bad = true;
    if (bad) {
        gateway_reply_error (req, 400, "bad_request", "window must be 1..86400 seconds");
        return;
    }
    zmq_msg_t msg;
    hsn_env_t env;
    bool unhealthy = false;
    if (ask (t, req, op, window, &msg, &env)
        || result_json (t, req, &msg, &env, op == HSN_OP_MONITOR_HEALTH ? &unhealthy : NULL))
        return;
    gateway_reply_ok (req, unhealthy ? 503 : 200, t->json.data, t->json.len);
}

void
gateway_monitor_route (gw_thread_t *t, gateway_req_t *req, const char *method,
                       const char *path)
{
    static const struct { const char *path; uint32_t op; } routes[] = {
        { "health", HSN_OP_MONITOR_HEALTH },
        { "summary", HSN_OP_MONITOR_SUMMARY },
        { "metrics", HSN_OP_MONITOR_METRICS },
        { "recommendations", HSN_OP_MONITOR_RECOMMEND },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp (path, routes[i].path) == 0) {
            if (strcmp (method, "GET") != 0)
                gateway_reply_method (req, "GET");
            else
                document (t, req, routes[i].op);
            return;
        }
    gateway_reply_error (req, 404, "not_found", "no such route");
}

void
gateway_monitor_prometheus (gw_thread_t *t, gateway_req_t *req, const char *method)
{
    if (strcmp (method, "GET") != 0) {
        gateway_reply_method (req, "GET");
        return;
    }
    zmq_msg_t msg;
    hsn_env_t env;
    if (ask (t, req, HSN_OP_MONITOR_PROMETHEUS, 0, &msg, &env))
        return;
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    if (!hsn_env_has (&env, HSN_FIELD_RESULT) || res->type != HSN_MP_STR) {
        zmq_msg_close (&msg);
        gateway_reply_error (req, 502, "malformed", "the monitor sent no exposition text");
        return;
    }
    gateway_reply_raw (req, 200, "text/plain; version=0.0.4; charset=utf-8", res->v.s.ptr,
                       res->v.s.len);
    zmq_msg_close (&msg);
}

void
gateway_monitor_dashboard (gw_thread_t *t, gateway_req_t *req, const char *method)
{
    if (strcmp (method, "GET") != 0) {
        gateway_reply_method (req, "GET");
        return;
    }
    gateway_reply_raw (req, 200, "text/html; charset=utf-8", gateway_dashboard_html,
                       gateway_dashboard_len);
}
