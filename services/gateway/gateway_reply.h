/*  gateway_reply: one structured JSON envelope for every response, written
 *  in a single mg_write (headers and body together: two writes hit Nagle
 *  plus delayed ACK on keep-alive connections).
 *
 *    {"success":true,"data":<json>,"meta":{"request_id":"..","duration_ms":..}}
 *    {"success":false,"error":{"code":"..","message":".."},"meta":{..}}
 */
#ifndef GATEWAY_REPLY_H
#define GATEWAY_REPLY_H

#include <civetweb.h>
#include <stdint.h>
#include "gateway_json.h"

/*  Per-request state the reply needs. */
typedef struct {
    struct mg_connection *conn;
    char request_id[80];
    int64_t started_us;
    gateway_json_buf_t *body;       /* scratch, owned by the thread */
    gateway_json_buf_t *out;        /* scratch, owned by the thread */
    const char *cache_control;      /* NULL: no-store */
    int status;                     /* HTTP status sent, 0 before */
} gateway_req_t;

/*  Take X-Request-Id when it is 1..64 printable characters, else make one. */
void gateway_req_init (gateway_req_t *req, struct mg_connection *conn,
                       gateway_json_buf_t *body, gateway_json_buf_t *out);

/*  Success: data_json is the JSON text of "data" (NULL means null). */
void gateway_reply_ok (gateway_req_t *req, int http_status, const char *data_json,
                       size_t data_len);

/*  Error with a stable code and a human message. */
void gateway_reply_error (gateway_req_t *req, int http_status, const char *code,
                          const char *message);

/*  A non-JSON body (Prometheus text, the dashboard's HTML) with its
 *  content type, in one write like the rest. */
void gateway_reply_raw (gateway_req_t *req, int http_status, const char *content_type,
                        const void *body, size_t len);

/*  Append s to buf as a JSON string literal (quoted, escaped). */
int gateway_json_append_str (gateway_json_buf_t *buf, const char *s, size_t len);

#endif
