/*  gateway_reply: structured JSON responses. See gateway_reply.h. */
#include "gateway_reply.h"
#include "hsn_time.h"

#include <stdio.h>
#include <string.h>

static uint64_t id_counter;
static uint32_t id_salt;

void
gateway_req_init (gateway_req_t *req, struct mg_connection *conn,
                  gateway_json_buf_t *body, gateway_json_buf_t *out)
{
    req->conn = conn;
    req->started_us = hsn_now_us ();
    req->body = body;
    req->out = out;
    req->cache_control = NULL;
    req->status = 0;
    gateway_json_buf_reset (body);
    gateway_json_buf_reset (out);
    const char *given = mg_get_header (conn, "X-Request-Id");
    if (given) {
        size_t n = strlen (given);
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = given[i] > 0x20 && given[i] < 0x7f && given[i] != '"' && given[i] != '\\';
        if (ok) {
            memcpy (req->request_id, given, n + 1);
            return;
        }
    }
    if (!id_salt)
        id_salt = (uint32_t) hsn_now_us () ^ 0x9e3779b9u;
    uint64_t n = __atomic_add_fetch (&id_counter, 1, __ATOMIC_RELAXED);
    snprintf (req->request_id, sizeof req->request_id, "%08x%012llx",
              id_salt, (unsigned long long) n);
}

int
gateway_json_append_str (gateway_json_buf_t *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (gateway_json_buf_append (buf, "\"", 1))
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (gateway_json_buf_append (buf, s + start, i - start))
            return -1;
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
        if (c == '"' || c == '\\') {
            esc[1] = (char) c;
            if (gateway_json_buf_append (buf, esc, 2))
                return -1;
        }
        else if (gateway_json_buf_append (buf, esc, 6))
            return -1;
        start = i + 1;
    }
    if (gateway_json_buf_append (buf, s + start, len - start))
        return -1;
    return gateway_json_buf_append (buf, "\"", 1);
}

static const char *
reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 507: return "Insufficient Storage";
        default:  return "Unknown";
    }
}

/*  Status line, headers and body in one mg_write. */
static void
send_response (gateway_req_t *req, int status, const char *content_type,
               const void *body, size_t len)
{
    char head[512];
    int hlen = snprintf (head, sizeof head,
                         "HTTP/1.1 %d %s\r\n"
                         "Content-Type: %s\r\n"
                         "Content-Length: %zu\r\n"
                         "X-Request-Id: %s\r\n"
                         "Cache-Control: %s\r\n"
                         "\r\n",
                         status, reason (status), content_type, len, req->request_id,
                         req->cache_control ? req->cache_control : "no-store");
    gateway_json_buf_reset (req->out);
    gateway_json_buf_append (req->out, head, (size_t) hlen);
    gateway_json_buf_append (req->out, body, len);
    mg_write (req->conn, req->out->data, req->out->len);
    req->status = status;
}

/*  Finish the envelope in req->body (which holds everything up to "meta")
 *  and send it. */
static void
send_envelope (gateway_req_t *req, int status)
{
    char meta[200];
    double ms = (double) (hsn_now_us () - req->started_us) / 1000.0;
    int mlen = snprintf (meta, sizeof meta,
                         ",\"meta\":{\"request_id\":\"%s\",\"duration_ms\":%.3f}}",
                         req->request_id, ms);
    gateway_json_buf_append (req->body, meta, (size_t) mlen);
    send_response (req, status, "application/json", req->body->data, req->body->len);
}

void
gateway_reply_raw (gateway_req_t *req, int http_status, const char *content_type,
                   const void *body, size_t len)
{
    send_response (req, http_status, content_type, body, len);
}

void
gateway_reply_ok (gateway_req_t *req, int http_status, const char *data_json,
                  size_t data_len)
{
    gateway_json_buf_reset (req->body);
    gateway_json_buf_append (req->body, "{\"success\":true,\"data\":", 23);
    if (data_json)
        gateway_json_buf_append (req->body, data_json, data_len);
    else
        gateway_json_buf_append (req->body, "null", 4);
    send_envelope (req, http_status);
}

void
gateway_reply_error (gateway_req_t *req, int http_status, const char *code,
                     const char *message)
{
    gateway_json_buf_reset (req->body);
    gateway_json_buf_append (req->body, "{\"success\":false,\"error\":{\"code\":", 33);
    gateway_json_append_str (req->body, code, strlen (code));
    gateway_json_buf_append (req->body, ",\"message\":", 11);
    gateway_json_append_str (req->body, message, strlen (message));
    gateway_json_buf_append (req->body, "}", 1);
    send_envelope (req, http_status);
}
