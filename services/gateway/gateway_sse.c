/*  gateway_sse: see gateway_sse.h. */
#include "gateway_sse.h"
#include "gateway_reply.h"
#include "hsn_mp.h"
#include "hsn_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*  The messages array of a receive result. */
static int
messages_of (const void *result, size_t len, hsn_mp_obj_t *arr)
{
    hsn_mp_reader_t r;
    hsn_mp_obj_t map;
    hsn_mp_reader_init (&r, result, len);
    if (hsn_mp_get (&r, &map, HSN_PROTO_MAX_DEPTH) || map.type != HSN_MP_MAP
        || hsn_mp_map_get (&map, "messages", arr) || arr->type != HSN_MP_ARRAY)
        return -EBADMSG;
    return 0;
}

/*  An id goes on an SSE field line: it must hold no line break (the bus
 *  makes ids of [hnl]-digits-digits; anything else is not written). */
static bool
id_ok (const hsn_mp_obj_t *id)
{
    if (id->type != HSN_MP_STR || id->v.s.len == 0 || id->v.s.len > 128)
        return false;
    for (uint32_t i = 0; i < id->v.s.len; i++)
        if ((unsigned char) id->v.s.ptr[i] < 0x20 || id->v.s.ptr[i] == 0x7f)
            return false;
    return true;
}

int
gateway_sse_events (const void *result, size_t len, gateway_json_buf_t *out, size_t *count)
{
    hsn_mp_obj_t arr;
    size_t at = out->len;
    *count = 0;
    if (messages_of (result, len, &arr))
        return -EBADMSG;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, &arr);
    for (uint32_t i = 0; i < arr.v.c.count; i++) {
        hsn_mp_obj_t msg, id;
        if (hsn_mp_get (&r, &msg, HSN_PROTO_MAX_DEPTH) || msg.type != HSN_MP_MAP)
            goto bad;
        if (hsn_mp_map_get (&msg, "id", &id) == 0 && id_ok (&id)) {
            gateway_json_buf_append (out, "id: ", 4);
            gateway_json_buf_append (out, id.v.s.ptr, id.v.s.len);
            gateway_json_buf_append (out, "\n", 1);
        }
        gateway_json_buf_append (out, "event: message\ndata: ", 21);
        if (gateway_json_from_mp (msg.raw, msg.raw_len, HSN_PROTO_MAX_DEPTH, out))
            goto bad;
        gateway_json_buf_append (out, "\n\n", 2);
    }
    *count = arr.v.c.count;
    return 0;
bad:
    out->len = at;
    if (out->data)
        out->data[at] = 0;
    *count = 0;
    return -EBADMSG;
}

int
gateway_sse_messages_json (const void *result, size_t len, size_t limit,
                           gateway_json_buf_t *out, size_t *count)
{
    hsn_mp_obj_t arr;
    *count = 0;
    if (messages_of (result, len, &arr))
        return -EBADMSG;
    size_t at = out->len;
    gateway_json_buf_append (out, "{\"messages\":", 12);
    size_t n = arr.v.c.count;
    int rc = 0;
    if (n <= limit)
        rc = gateway_json_from_mp (arr.raw, arr.raw_len, HSN_PROTO_MAX_DEPTH, out);
    else {
        /*  The first limit elements, one at a time. */
        hsn_mp_reader_t r;
        hsn_mp_reader_of (&r, &arr);
        gateway_json_buf_append (out, "[", 1);
        for (size_t i = 0; i < limit && rc == 0; i++) {
            hsn_mp_obj_t msg;
            if (i)
                gateway_json_buf_append (out, ",", 1);
            rc = hsn_mp_get (&r, &msg, HSN_PROTO_MAX_DEPTH) ? -EBADMSG
                 : gateway_json_from_mp (msg.raw, msg.raw_len, HSN_PROTO_MAX_DEPTH, out);
        }
        gateway_json_buf_append (out, "]", 1);
        n = limit;
    }
    if (rc) {
        out->len = at;
        if (out->data)
            out->data[at] = 0;
        return -EBADMSG;
    }
    gateway_json_buf_append (out, "}", 1);
    *count = n;
    return 0;
}

void
gateway_sse_head (gateway_json_buf_t *out, const char *request_id, const char *headers)
{
    char head[1024];
    /*  No Content-Length: the body ends when the connection does. */
    int n = snprintf (head, sizeof head,
                      "HTTP/1.1 200 OK\r\n"
                      "Content-Type: text/event-stream\r\n"
                      "Cache-Control: no-store\r\n"
                      "Connection: close\r\n"
                      "X-Accel-Buffering: no\r\n"
                      "X-Request-Id: %s\r\n"
                      "%s\r\n",
                      request_id, headers ? headers : "");
    if (n > 0)
        gateway_json_buf_append (out, head, (size_t) n < sizeof head ? (size_t) n : sizeof head - 1);
}

void
gateway_sse_response (gateway_json_buf_t *out, int status, const char *request_id,
                      const char *headers, int64_t started_us, const char *data_json,
                      size_t data_len, const char *code, const char *message)
{
    gateway_json_buf_t body;
    gateway_json_buf_init (&body);
    if (code)
        gateway_envelope_error (&body, code, message);
    else
        gateway_envelope_ok (&body, data_json, data_len);
    char meta[GATEWAY_META_MAX];
    size_t mlen = gateway_envelope_meta (meta, sizeof meta, request_id, started_us);
    gateway_json_buf_append (&body, meta, mlen);
    char head[1024];
    int n = snprintf (head, sizeof head,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "Cache-Control: no-store\r\n"
                      "Connection: close\r\n"
                      "X-Request-Id: %s\r\n"
                      "%s\r\n",
                      status, gateway_reply_reason (status), body.len, request_id,
                      headers ? headers : "");
    if (n > 0)
        gateway_json_buf_append (out, head, (size_t) n < sizeof head ? (size_t) n : sizeof head - 1);
    gateway_json_buf_append (out, body.data, body.len);
    gateway_json_buf_free (&body);
}
