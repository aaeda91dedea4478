/*  gateway_query_reply: the query service's answers as envelopes. See
 *  gateway_query.h. */
#include "gateway_query.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int
gateway_query_run_reply (gw_thread_t *t, gateway_req_t *req, zmq_msg_t *msg, hsn_env_t *env,
                         bool *cached, uint64_t *ttl)
{
    if (env->status != HSN_STATUS_OK && env->status != HSN_STATUS_CREATED) {
        gateway_query_reply_status (req, env);
        zmq_msg_close (msg);
        return -1;
    }
    int rc = gateway_query_rows (env, &t->json);
    *cached = gateway_query_cached (env);
    *ttl = 0;
    hsn_env_uint (env, HSN_FIELD_TTL, ttl);
    zmq_msg_close (msg);
    if (rc) {
        gateway_query_malformed (req);
        return -1;
    }
    return 0;
}

int
gateway_query_run_call (gw_thread_t *t, gateway_req_t *req, uint64_t rid, bool *cached,
                        uint64_t *ttl)
{
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call_any (t, req, rid, &msg, &env))
        return -1;
    return gateway_query_run_reply (t, req, &msg, &env, cached, ttl);
}

void
gateway_query_bad_request (gateway_req_t *req, const char *message)
{
    gateway_reply_error (req, 400, "bad_request", message);
}

void
gateway_query_malformed (gateway_req_t *req)
{
    gateway_reply_error (req, 502, "malformed", "the query service returned an unreadable result");
}

int
gateway_query_rows (const hsn_env_t *env, gateway_json_buf_t *d)
{
    uint64_t count;
    gateway_json_buf_reset (d);
    if (!hsn_env_has (env, HSN_FIELD_ROWS) || hsn_env_uint (env, HSN_FIELD_COUNT, &count))
        return -1;
    const hsn_mp_obj_t *rows = &env->fields[HSN_FIELD_ROWS];
    char tail[48];
    int n = snprintf (tail, sizeof tail, ",\"count\":%llu}", (unsigned long long) count);
    if (gateway_json_buf_append (d, "{\"rows\":", 8)
        || gateway_json_from_mp (rows->raw, rows->raw_len, HSN_PROTO_MAX_DEPTH, d)
        || gateway_json_buf_append (d, tail, (size_t) n))
        return -1;
    return 0;
}

void
gateway_query_data_etag (const gateway_json_buf_t *d, char *etag)
{
    gateway_reply_etag ((uint32_t) crc32 (0L, (const Bytef *) d->data, (uInt) d->len), d->len,
                        etag, 40);
}

/*  ,"meta":{...}} into body. */
static void
append_meta (gateway_req_t *req, gateway_json_buf_t *body, const char *cached)
{
    char meta[240];
    int64_t us = hsn_now_us () - req->started_us;
    int n = snprintf (meta, sizeof meta,
                      ",\"meta\":{\"request_id\":\"%s\",\"duration_ms\":%lld.%03lld%s%s}}",
                      req->request_id, (long long) (us / 1000), (long long) (us % 1000),
                      cached ? ",\"cached\":" : "", cached ? cached : "");
    gateway_json_buf_append (body, meta, (size_t) n);
}

void
gateway_query_reply_ok (gateway_req_t *req, const char *data, size_t len, int cached,
                        const char *etag)
{
    gateway_json_buf_t *body = req->body;
    gateway_json_buf_reset (body);
    if (gateway_json_buf_append (body, GATEWAY_ENVELOPE_HEAD, GATEWAY_ENVELOPE_HEAD_LEN)
        || gateway_json_buf_append (body, data, len)) {
        gateway_reply_error (req, 500, "internal", "out of memory");
        return;
    }
    append_meta (req, body, cached < 0 ? NULL : cached ? "true" : "false");
    /*  reply_static takes the ETag as given (a copy: it may write it). */
    char tag[40];
    snprintf (tag, sizeof tag, "%s", etag);
    gateway_reply_static (req, "application/json", body->data, body->len, tag);
}

void
gateway_query_reply_error (gateway_req_t *req, int http_status, const char *code,
                           const char *message, size_t mlen, const char *sqlstate,
                           size_t slen)
{
    gateway_json_buf_t *body = req->body;
    gateway_json_buf_reset (body);
    gateway_json_buf_append (body, "{\"success\":false,\"error\":{\"code\":", 33);
    gateway_json_append_str (body, code, strlen (code));
    gateway_json_buf_append (body, ",\"message\":", 11);
    gateway_json_append_str (body, message, mlen);
    if (sqlstate) {
        gateway_json_buf_append (body, ",\"sqlstate\":", 12);
        gateway_json_append_str (body, sqlstate, slen);
    }
    gateway_json_buf_append (body, "}", 1);
    append_meta (req, body, NULL);
    gateway_reply_raw (req, http_status, "application/json", body->data, body->len);
}

void
gateway_query_reply_status (gateway_req_t *req, const hsn_env_t *env)
{
    const char *m = "backend error", *s = NULL;
    size_t mlen = strlen (m), slen = 0;
    hsn_env_str (env, HSN_FIELD_MESSAGE, &m, &mlen);
    hsn_env_str (env, HSN_FIELD_SQLSTATE, &s, &slen);
    const char *code = hsn_status_name (env->status);
    int http = hsn_status_http (env->status);
    if (http == 503)
        gateway_req_header (req, "Retry-After: 1");
    gateway_query_reply_error (req, http, code ? code : "internal", m, mlen, s, slen);
}

bool
gateway_query_cached (const hsn_env_t *env)
{
    return hsn_env_has (env, HSN_FIELD_CACHED) && env->fields[HSN_FIELD_CACHED].type == HSN_MP_BOOL
           && env->fields[HSN_FIELD_CACHED].v.b;
}
