/*  gateway_call: backend calls and request bodies. See gateway_internal.h. */
#include "gateway_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
gateway_call (gw_thread_t *t, gateway_req_t *req, uint64_t rid, zmq_msg_t *msg,
              hsn_env_t *env)
{
    int rc = hsn_client_call (t->client, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc),
                              rid, (int) t->cfg->backend_timeout_ms, msg);
    if (rc == -ETIMEDOUT) {
        gateway_reply_error (req, 504, "timeout", "the backend did not answer in time");
        return -1;
    }
    if (rc) {
        gateway_reply_error (req, 502, "internal", "broker link failed");
        return -1;
    }
    if (hsn_env_decode (env, zmq_msg_data (msg), zmq_msg_size (msg))) {
        zmq_msg_close (msg);
        gateway_reply_error (req, 502, "malformed", "the backend sent an undecodable reply");
        return -1;
    }
    if (env->status != HSN_STATUS_OK && env->status != HSN_STATUS_CREATED) {
        const char *m;
        size_t mlen;
        char message[512] = "backend error";
        if (hsn_env_str (env, HSN_FIELD_MESSAGE, &m, &mlen) == 0)
            snprintf (message, sizeof message, "%.*s", (int) mlen, m);
        const char *code = hsn_status_name (env->status);
        gateway_reply_error (req, hsn_status_http (env->status), code ? code : "internal",
                             message);
        zmq_msg_close (msg);
        return -1;
    }
    return 0;
}

int
gateway_read_body (gw_thread_t *t, gateway_req_t *req)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    if (ri->content_length > (long long) t->cfg->max_body_bytes) {
        gateway_reply_error (req, 413, "too_large", "request body exceeds the limit");
        return -1;
    }
    gateway_json_buf_reset (&t->json);
    char chunk[16384];
    int n;
    while ((n = mg_read (req->conn, chunk, sizeof chunk)) > 0) {
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
    if (!qs || mg_get_var (qs, strlen (qs), name, val, sizeof val) < 0)
        return false;
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
    if (hsn_mp_get (&r, &map, HSN_PROTO_MAX_DEPTH) || map.type != HSN_MP_MAP)
        return -ENOENT;
    hsn_mp_reader_of (&r, &map);
    for (uint32_t i = 0; i < map.v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&r, &k, HSN_PROTO_MAX_DEPTH) || hsn_mp_get (&r, &v, HSN_PROTO_MAX_DEPTH))
            return -ENOENT;
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return 0;
        }
    }
    return -ENOENT;
}
