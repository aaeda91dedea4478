/*  gateway_monitor: the monitor's routes on the gateway.
 *
 *    GET /api/optimization/health   every replica of every service
 */
#include "gateway_internal.h"

#include <string.h>

static void
health (gw_thread_t *t, gateway_req_t *req, const char *method)
{
    if (strcmp (method, "GET") != 0) {
        gateway_reply_error (req, 405, "method_not_allowed", "use GET");
        return;
    }
    uint64_t rid = gateway_next_rid (t);
    hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_MONITOR,
                   HSN_OP_MONITOR_HEALTH, 0, 0);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    gateway_json_buf_reset (&t->json);
    if (!hsn_env_has (&env, HSN_FIELD_RESULT)
        || gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, &t->json)) {
        zmq_msg_close (&msg);
        gateway_reply_error (req, 502, "malformed", "the monitor sent an unreadable report");
        return;
    }
    /*  503 when the monitor judges the cluster unhealthy, so load balancers
     *  and orchestrators can act on the status code alone. */
    bool unhealthy = false;
    if (res->type == HSN_MP_MAP) {
        hsn_mp_reader_t r;
        hsn_mp_reader_of (&r, res);
        for (uint32_t i = 0; i < res->v.c.count; i++) {
            hsn_mp_obj_t k, v;
            if (hsn_mp_get (&r, &k, HSN_PROTO_MAX_DEPTH) || hsn_mp_get (&r, &v, HSN_PROTO_MAX_DEPTH))
                break;
            if (hsn_mp_str_eq (&k, "status"))
                unhealthy = hsn_mp_str_eq (&v, "unhealthy");
        }
    }
    zmq_msg_close (&msg);
    gateway_reply_ok (req, unhealthy ? 503 : 200, t->json.data, t->json.len);
}

void
gateway_monitor_route (gw_thread_t *t, gateway_req_t *req, const char *method,
                       const char *path)
{
    if (strcmp (path, "health") == 0)
        health (t, req, method);
    else
        gateway_reply_error (req, 404, "not_found", "no such route");
}

void
gateway_monitor_prometheus (gw_thread_t *t, gateway_req_t *req, const char *method)
{
    gateway_reply_error (req, 404, "not_found", "no such route");
}

void
gateway_monitor_dashboard (gw_thread_t *t, gateway_req_t *req, const char *method)
{
    gateway_reply_error (req, 404, "not_found", "no such route");
}
