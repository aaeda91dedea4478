/*  gateway_reply: every response the gateway writes.
 *
 *  One structured JSON envelope for JSON responses:
 *    {"success":true,"data":<json>,"meta":{"request_id":"..","duration_ms":..}}
 *    {"success":false,"error":{"code":"..","message":".."},"meta":{..}}
 *  written with its headers in a single mg_write (two writes hit Nagle plus
 *  delayed ACK on keep-alive connections).
 *
 *  gzip (zlib) when the client accepts it, compression is enabled and the
 *  body is at least the minimum size; Vary: Accept-Encoding whenever the
 *  answer could have been compressed. A strong ETag on 200 GET answers,
 *  computed over the data (not the per-request meta), and 304 Not Modified
 *  when If-None-Match matches it.
 */
#ifndef GATEWAY_REPLY_H
#define GATEWAY_REPLY_H

#include <civetweb.h>
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>
#include "gateway_json.h"

/*  What compression needs, owned by one thread and reused. One deflate
 *  stream per window size: like nginx, a short body gets a small window
 *  and hash (resetting a stream clears its hash table, 64 KB at zlib's
 *  defaults, which would cost more than compressing 10 KB). */
#define GATEWAY_ZIP_WBITS_MIN 9
#define GATEWAY_ZIP_WBITS_MAX 15
typedef struct {
    bool enabled;                   /* ENABLE_COMPRESSION */
    size_t min_size;                /* MIN_COMPRESSION_SIZE */
    int level;                      /* zlib level, 1 = fastest */
    bool ready[GATEWAY_ZIP_WBITS_MAX + 1];
    z_stream z[GATEWAY_ZIP_WBITS_MAX + 1];
    gateway_json_buf_t buf;
} gateway_zip_t;

void gateway_zip_init (gateway_zip_t *zip, bool enabled, size_t min_size, int level);
void gateway_zip_release (gateway_zip_t *zip);

/*  Where a request's header fields come from and its answer goes:
 *  civetweb's connection, or a connection of the gateway's own front
 *  (gateway_front.h). header returns NULL when the field is absent. */
typedef struct {
    const char *(*header) (void *ctx, const char *name);
    void (*write) (void *ctx, const void *data, size_t len);
    void *ctx;
} gateway_io_t;

/*  Per-request state the reply needs. */
typedef struct {
    struct mg_connection *conn;     /* NULL for a request of the front */
    gateway_io_t io;
    const char *query;              /* the query string (not decoded), or NULL */
    const char *body_in;            /* the whole body, when it was read already */
    size_t body_in_len;
    const char *front_secret;       /* civetweb behind the front: the secret of
                                     * its handoff answers; NULL otherwise */
    char request_id[80];
    int64_t started_us;
    gateway_json_buf_t *body;       /* scratch, owned by the thread */
    gateway_json_buf_t *out;        /* scratch, owned by the thread */
    gateway_zip_t *zip;             /* may be NULL: never compress */
    const char *cache_control;      /* NULL: no-store */
    char headers[768];              /* extra header lines, each ending \r\n */
    size_t headers_len;
    bool is_get;
    bool accepts_gzip;
    int status;                     /* HTTP status sent, 0 before */
    size_t bytes;                   /* body bytes sent */
} gateway_req_t;

/*  Take X-Request-Id when it is 1..64 printable characters, else make one;
 *  note the method and whether the client accepts gzip. */
void gateway_req_init (gateway_req_t *req, struct mg_connection *conn,
                       gateway_json_buf_t *body, gateway_json_buf_t *out,
                       gateway_zip_t *zip);

/*  The same for a request that did not come through civetweb. */
void gateway_req_init_io (gateway_req_t *req, const gateway_io_t *io, bool is_get,
                          gateway_json_buf_t *body, gateway_json_buf_t *out,
                          gateway_zip_t *zip);

/*  Add a header line ("Name: value", no CRLF) to the response. Lines that
 *  do not fit are dropped (the buffer is sized for what the gateway adds). */
void gateway_req_header (gateway_req_t *req, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/*  Success: data_json is the JSON text of "data" (NULL means null). */
void gateway_reply_ok (gateway_req_t *req, int http_status, const char *data_json,
                       size_t data_len);

/*  Error with a stable code and a human message. */
void gateway_reply_error (gateway_req_t *req, int http_status, const char *code,
                          const char *message);

/*  405 with the Allow header. */
void gateway_reply_method (gateway_req_t *req, const char *allow);

/*  A non-JSON body (Prometheus text, the dashboard's HTML) with its
 *  content type; compressed and ETagged like the rest. */
void gateway_reply_raw (gateway_req_t *req, int http_status, const char *content_type,
                        const void *body, size_t len);

/*  A body that never changes (the OpenAPI document, the dashboard): its
 *  ETag is computed once and kept in *etag (a char[40] owned by the caller,
 *  filled on first use; racing first uses compute the same bytes). */
void gateway_reply_static (gateway_req_t *req, const char *content_type,
                           const void *body, size_t len, char *etag);

/*  A body kept ready in the near-cache: the envelope up to its volatile
 *  end, both as text and as a raw deflate stream that ends in a sync flush
 *  (so more blocks may follow). Per request only the tail is rendered:
 *  `tail` closes "data" (e.g. the TTL and "}"), the meta follows. A gzip
 *  answer is the stored stream plus the tail in one stored block, with the
 *  CRC combined: no compression work per request. */
typedef struct {
    const char *text;           /* {"success":true,"data":{... */
    size_t len;
    const uint8_t *gz;          /* raw deflate of text, sync-flushed */
    size_t gz_len;
    uint32_t crc;               /* crc32 of text */
    uint32_t data_crc;          /* crc32 of text after {"success":true,"data": */
} gateway_prefix_t;

#define GATEWAY_ENVELOPE_HEAD "{\"success\":true,\"data\":"
#define GATEWAY_ENVELOPE_HEAD_LEN 23

void gateway_reply_ok_prefixed (gateway_req_t *req, const gateway_prefix_t *prefix,
                                const char *tail, size_t tail_len);

/*  Fill in a prefix's deflate stream and CRCs from its text (into gz, of
 *  capacity gz_cap). Returns the stream's length, or 0 when it does not
 *  fit or zlib fails. */
size_t gateway_prefix_deflate (const char *text, size_t len, uint8_t *gz, size_t gz_cap,
                               uint32_t *crc, uint32_t *data_crc);

/*  Append s to buf as a JSON string literal (quoted, escaped). */
int gateway_json_append_str (gateway_json_buf_t *buf, const char *s, size_t len);

/*  The reason phrase of an HTTP status ("Unknown" for one the gateway
 *  never sends). Every status line the gateway writes takes it from here. */
const char *gateway_reply_reason (int status);

/*  Append to body the start of a success envelope, up to where the meta
 *  goes: {"success":true,"data":<data_json> (NULL: null). Returns the
 *  offset in body at which the data starts (what an ETag covers). */
size_t gateway_envelope_ok (gateway_json_buf_t *body, const char *data_json, size_t data_len);

/*  Append to body the start of an error envelope, up to where the meta
 *  goes: {"success":false,"error":{"code":..,"message":..} (message NULL:
 *  empty). */
void gateway_envelope_error (gateway_json_buf_t *body, const char *code, const char *message);

/*  Write the end of every envelope, ,"meta":{"request_id":..,"duration_ms":..}}
 *  with the time since started_us, into buf (NUL-terminated; capacity
 *  GATEWAY_META_MAX fits any request id of gateway_req_t). Returns its
 *  length. request_id must need no JSON escaping (gateway_req_init makes
 *  sure of that). */
#define GATEWAY_META_MAX 200
size_t gateway_envelope_meta (char *buf, size_t cap, const char *request_id, int64_t started_us);

/*  The strong ETag the gateway gives a body of len bytes whose CRC-32 is
 *  crc ("\"<crc><len>\"", 18 characters and a NUL): the same for a body
 *  rendered now and for one kept rendered (near-cache), so 304s hold across
 *  both. */
void gateway_reply_etag (uint32_t crc, size_t len, char *out, size_t cap);

#endif
