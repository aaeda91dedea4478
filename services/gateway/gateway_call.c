/*  gateway_call: backend calls and request bodies. See gateway_internal.h. */
#include "gateway_internal.h"
#include "gateway_fast.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*  Failures that say the backend is dead or stuck, for the breaker. An
 *  answer such as "Redis is down" is a backend working as designed. */
static bool
backend_failed (int rc, uint32_t status)
{
    return rc != 0 || status == HSN_STATUS_TIMEOUT || status == HSN_STATUS_NO_SERVICE
           || status == HSN_STATUS_WORKER_LOST;
}

/*  Not a protocol status: the reply frame itself could not be decoded. */
#define UNDECODABLE UINT32_MAX

/*  One attempt through the broker. Returns hsn_client_call's code; on 0
 *  *env is decoded (or status MALFORMED when it cannot be). */
static int
attempt (gw_thread_t *t, uint64_t rid, zmq_msg_t *msg, hsn_env_t *env, int timeout_ms)
{
    int rc = hsn_client_call (t->client, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc),
                              rid, timeout_ms, msg);
    if (rc == 0 && hsn_env_decode (env, zmq_msg_data (msg), zmq_msg_size (msg))) {
        memset (env, 0, sizeof *env);
        env->status = UNDECODABLE;
    }
    return rc;
}

uint64_t
gateway_next_rid (gw_thread_t *t)
{
    if (t->fast)
        return gateway_fast_next_rid (t->fast);
    if (!t->client)
        t->client = hsn_client_new (t->inproc);
    return t->client ? hsn_client_next_rid (t->client) : 0;
}

uint64_t
gateway_begin (gw_thread_t *t, uint32_t op, uint32_t nfields)
{
    uint64_t rid = gateway_next_rid (t);
    hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, hsn_op_service (op), op, 0, nfields);
    return rid;
}

int
gateway_call_any (gw_thread_t *t, gateway_req_t *req, uint64_t rid, zmq_msg_t *msg,
                  hsn_env_t *env)
{
    if (!t->client) {
        gateway_reply_error (req, 503, "unavailable", "no broker link in this thread");
        return -1;
    }
    hsn_env_t head;
    hsn_env_peek (&head, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc));
    gateway_guard_t *g = t->cfg->guard;
    bool probe;
    uint32_t retry_ms;
    if (gateway_guard_breaker_enter (g, head.service, hsn_now_ms (), &probe, &retry_ms)) {
        gateway_req_header (req, "Retry-After: %u", (retry_ms + 999) / 1000);
        gateway_reply_error (req, 503, "circuit_open",
                             "the backend is failing; the circuit breaker is open");
        return -1;
    }
    int slot = gateway_guard_acquire (g);
    if (slot) {
        /*  Nothing reached the backend: that is no success to count (it
         *  would reset the failure count, or close a half-open breaker
         *  untested). A probe that could not be sent leaves it open. */
        if (probe)
            gateway_guard_breaker_done (g, head.service, true, true, hsn_now_ms ());
        gateway_req_header (req, "Retry-After: 1");
        gateway_reply_error (req, 503, "overloaded",
                             "too many backend requests in flight; try again shortly");
        return -1;
    }
    gateway_guard_count_call (g);
    int64_t deadline = hsn_now_ms () + t->cfg->backend_timeout_ms;
    int rc = attempt (t, rid, msg, env, (int) t->cfg->backend_timeout_ms);
    /*  One retry, for operations that may be repeated, when the failure
     *  says nothing reached a replica or the one holding it died, and only
     *  within the retry budget and the time left of BACKEND_TIMEOUT_MS (a
     *  replica that took all of it is stuck: asking again would double the
     *  client's wait). */
    int64_t left = deadline - hsn_now_ms ();
    if ((rc == -ETIMEDOUT || (rc == 0 && env->status == HSN_STATUS_WORKER_LOST))
        && left > 0 && hsn_op_idempotent (head.op) && gateway_guard_may_retry (g)) {
        if (rc == 0)
            zmq_msg_close (msg);
        rc = attempt (t, rid, msg, env, (int) left);
    }
    gateway_guard_release (g);
    gateway_guard_breaker_done (g, head.service, backend_failed (rc, rc ? 0 : env->status),
                                probe, hsn_now_ms ());
    if (rc == -ETIMEDOUT) {
        gateway_reply_error (req, 504, "timeout", "the backend did not answer in time");
        return -1;
    }
    if (rc) {
        gateway_reply_error (req, 502, "internal", "broker link failed");
        return -1;
    }
    if (env->status == UNDECODABLE) {
        zmq_msg_close (msg);
        gateway_reply_error (req, 502, "malformed", "the backend sent an undecodable reply");
        return -1;
    }
    return 0;
}

int
gateway_call_status (gateway_req_t *req, zmq_msg_t *msg, hsn_env_t *env)
{
    if (env->status == HSN_STATUS_OK || env->status == HSN_STATUS_CREATED)
        return 0;
    const char *m;
    size_t mlen;
    char message[512] = "backend error";
    /*  Copied out before the frame it points into is closed. */
    if (hsn_env_str (env, HSN_FIELD_MESSAGE, &m, &mlen) == 0)
        snprintf (message, sizeof message, "%.*s", (int) mlen, m);
    zmq_msg_close (msg);
    const char *code = hsn_status_name (env->status);
    if (env->status == HSN_STATUS_NO_SERVICE || env->status == HSN_STATUS_OVERLOADED)
        gateway_req_header (req, "Retry-After: 1");
    gateway_reply_error (req, hsn_status_http (env->status), code ? code : "internal", message);
    return -1;
}

int
gateway_call (gw_thread_t *t, gateway_req_t *req, uint64_t rid, zmq_msg_t *msg,
              hsn_env_t *env)
{
    if (gateway_call_any (t, req, rid, msg, env))
        return -1;
    return gateway_call_status (req, msg, env);
}

int
gateway_read_body (gw_thread_t *t, gateway_req_t *req)
{
    long long declared = req->body_in ? (long long) req->body_in_len
                         : mg_get_request_info (req->conn)->content_length;
    if (declared > (long long) t->cfg->max_body_bytes) {
        gateway_reply_error (req, 413, "too_large", "request body exceeds the limit");
        return -1;
    }
    gateway_json_buf_reset (&t->json);
    if (req->body_in)
        gateway_json_buf_append (&t->json, req->body_in, req->body_in_len);
    char chunk[16384];
    int n;
    while (!req->body_in && (n = mg_read (req->conn, chunk, sizeof chunk)) > 0) {
        if (t->json.len + (size_t) n > t->cfg->max_body_bytes) {
            gateway_reply_error (req, 413, "too_large", "request body exceeds the limit");
            return -1;
        }
        gateway_json_buf_append (&t->json, chunk, (size_t) n);
    }
    if (t->json.len == 0) {
        gateway_reply_error (req, 400, "bad_request", "a JSON body is required");
        return -1;
    }
    return 0;
}

int
gateway_read_json (gw_thread_t *t, gateway_req_t *req)
{
    if (gateway_read_body (t, req))
        return -1;
    char err[256];
    msgpack_sbuffer_clear (&t->mp);
    /*  Two levels below the protocol's limit: the value sits inside the
     *  envelope and its body map. */
    if (gateway_json_to_mp (t->json.data, t->json.len, HSN_PROTO_MAX_DEPTH - 2, &t->mp,
                            err, sizeof err)) {
        gateway_reply_error (req, 400, "invalid_json", err);
        return -1;
    }
    return 0;
}

bool
gateway_query_uint (const char *qs, const char *name, uint64_t *out, bool *bad)
{
    char val[32];
    int n = qs ? mg_get_var (qs, strlen (qs), name, val, sizeof val) : -1;
    if (n == -1)
        return false;                   /* absent */
    if (n < 0) {
        *bad = true;                    /* -2: longer than any valid number */
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull (val, &end, 10);
    if (errno || *end || end == val || val[0] == '-') {
        *bad = true;
        return false;
    }
    *out = v;
    return true;
}

int
gateway_mp_member (const void *mp, size_t len, const char *key, hsn_mp_obj_t *out)
{
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, mp, len);
    hsn_mp_obj_t map;
    if (hsn_mp_get (&r, &map, HSN_PROTO_MAX_DEPTH) || hsn_mp_map_get (&map, key, out))
        return -ENOENT;
    return 0;
}
