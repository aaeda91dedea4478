/*  gateway_reply: responses, compression, ETags. See gateway_reply.h. */
#include "gateway_reply.h"
#include "hsn_time.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static uint64_t id_counter;
static uint32_t id_salt;

/*  --- compression ------------------------------------------------------ */

void
gateway_zip_init (gateway_zip_t *zip, bool enabled, size_t min_size, int level)
{
    memset (zip, 0, sizeof *zip);
    zip->enabled = enabled;
    zip->min_size = min_size;
    zip->level = level;
    gateway_json_buf_init (&zip->buf);
}

void
gateway_zip_release (gateway_zip_t *zip)
{
    for (int w = 0; w <= GATEWAY_ZIP_WBITS_MAX; w++)
        if (zip->ready[w])
            deflateEnd (&zip->z[w]);
    memset (zip->ready, 0, sizeof zip->ready);
    gateway_json_buf_free (&zip->buf);
}

/*  gzip body into zip->buf. Returns 0, or -1 (send it uncompressed). */
static int
compress_body (gateway_zip_t *zip, const void *body, size_t len)
{
    /*  nginx's choice: halve the window (and the hash with it) while the
     *  body fits in half of it; zlib's window is 262 bytes smaller. */
    int wbits = GATEWAY_ZIP_WBITS_MAX, memlevel = 8;
    while (wbits > GATEWAY_ZIP_WBITS_MIN && len < ((size_t) 1 << (wbits - 1)) - 262) {
        wbits--;
        memlevel--;
    }
    if (memlevel < 1)
        memlevel = 1;
    z_stream *z = &zip->z[wbits];
    if (!zip->ready[wbits]) {
        /*  + 16: a gzip wrapper. */
        if (deflateInit2 (z, zip->level, Z_DEFLATED, wbits + 16, memlevel,
                          Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        zip->ready[wbits] = true;
    }
    else if (deflateReset (z) != Z_OK)
        return -1;
    size_t bound = deflateBound (z, (uLong) len);
    gateway_json_buf_reset (&zip->buf);
    if (gateway_json_buf_reserve (&zip->buf, bound))
        return -1;
    z->next_in = (Bytef *) body;
    z->avail_in = (uInt) len;
    z->next_out = (Bytef *) zip->buf.data;
    z->avail_out = (uInt) bound;
    if (deflate (z, Z_FINISH) != Z_STREAM_END)
        return -1;
    zip->buf.len = bound - z->avail_out;
    return 0;
}

/*  --- requests --------------------------------------------------------- */

/*  Does an Accept-Encoding value allow gzip? ("gzip", "gzip;q=0.5", not
 *  "gzip;q=0"; "*" counts.) */
static bool
accepts_gzip (const char *ae)
{
    if (!ae)
        return false;
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn (p, ",;");
        bool match = (n == 4 && strncasecmp (p, "gzip", 4) == 0) || (n == 1 && *p == '*');
        const char *end = p + strcspn (p, ",");
        if (match) {
            const char *q = strstr (p, "q=");
            bool zero = q && q < end && strtod (q + 2, NULL) == 0.0;
            return !zero;
        }
        p = end;
    }
    return false;
}

static const char *
mg_header (void *ctx, const char *name)
{
    return mg_get_header ((struct mg_connection *) ctx, name);
}

static void
mg_out (void *ctx, const void *data, size_t len)
{
    mg_write ((struct mg_connection *) ctx, data, len);
}

void
gateway_req_init (gateway_req_t *req, struct mg_connection *conn,
                  gateway_json_buf_t *body, gateway_json_buf_t *out, gateway_zip_t *zip)
{
    const struct mg_request_info *ri = mg_get_request_info (conn);
    gateway_io_t io = { mg_header, mg_out, conn };
    gateway_req_init_io (req, &io, ri->request_method && strcmp (ri->request_method, "GET") == 0,
                         body, out, zip);
    req->conn = conn;
    req->query = ri->query_string;
}

void
gateway_req_init_io (gateway_req_t *req, const gateway_io_t *io, bool is_get,
                     gateway_json_buf_t *body, gateway_json_buf_t *out, gateway_zip_t *zip)
{
    req->conn = NULL;
    req->io = *io;
    req->query = NULL;
    req->body_in = NULL;
    req->body_in_len = 0;
    req->front_secret = NULL;
    req->started_us = hsn_now_us ();
    req->body = body;
    req->out = out;
    req->zip = zip;
    req->cache_control = NULL;
    req->headers_len = 0;
    req->status = 0;
    req->bytes = 0;
    req->is_get = is_get;
    req->accepts_gzip = zip && zip->enabled
                        && accepts_gzip (io->header (io->ctx, "Accept-Encoding"));
    gateway_json_buf_reset (body);
    gateway_json_buf_reset (out);
    const char *given = io->header (io->ctx, "X-Request-Id");
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

void
gateway_req_header (gateway_req_t *req, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t) n >= sizeof line
        || req->headers_len + (size_t) n + 2 >= sizeof req->headers)
        return;
    memcpy (req->headers + req->headers_len, line, (size_t) n);
    memcpy (req->headers + req->headers_len + (size_t) n, "\r\n", 2);
    req->headers_len += (size_t) n + 2;
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

/*  Keep in step with the statuses hsn_status_http gives and the routes
 *  use: an unknown one still goes out, as "Unknown". */
const char *
gateway_reply_reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 414: return "URI Too Long";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 507: return "Insufficient Storage";
        default:  return "Unknown";
    }
}

void
gateway_reply_etag (uint32_t crc, size_t len, char *out, size_t cap)
{
    snprintf (out, cap, "\"%08lx%08zx\"", (unsigned long) crc, len);
}

/*  Strong ETag of a representation: its CRC-32 and length. zlib's crc32
 *  runs at memory speed; with the length, accidental equality is ~2^-32
 *  per pair of versions of one resource. */
static void
etag_of (const void *data, size_t len, char *out, size_t cap)
{
    gateway_reply_etag ((uint32_t) crc32 (0L, (const Bytef *) data, (uInt) len), len, out, cap);
}

/*  Does If-None-Match name etag (or "*")? Weak comparison, as RFC 9110
 *  asks for If-None-Match. */
static bool
none_match (const gateway_req_t *req, const char *etag)
{
    const char *inm = req->io.header (req->io.ctx, "If-None-Match");
    if (!inm)
        return false;
    if (strcmp (inm, "*") == 0)
        return true;
    size_t n = strlen (etag);
    for (const char *p = strstr (inm, etag); p; p = strstr (p + 1, etag))
        if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/')
            && (p[n] == 0 || p[n] == ',' || p[n] == ' '))
            return true;
    return false;
}

/*  Status line and headers into req->out, then the body parts, then one
 *  mg_write. gzip says the parts are a gzip stream already. */
static void
write_out (gateway_req_t *req, int status, const char *content_type, const char *etag,
           bool compressible, bool gzip, const void *const parts[], const size_t lens[],
           size_t nparts)
{
    size_t len = 0;
    for (size_t i = 0; i < nparts; i++)
        len += lens[i];
    if (status == 304)
        len = 0;
    /*  A 304 carries the Vary a 200 would (RFC 9110 15.4.5) and no
     *  Content-Length: only the 200's could be sent (8.6), not 0. */
    bool vary = compressible || (status == 304 && req->zip && req->zip->enabled);
    char head[1536], clen[48] = "";
    if (status != 304)
        snprintf (clen, sizeof clen, "Content-Length: %zu\r\n", len);
    int hlen = snprintf (head, sizeof head,
                         "HTTP/1.1 %d %s\r\n"
                         "Content-Type: %s\r\n"
                         "%s"
                         "X-Request-Id: %s\r\n"
                         "Cache-Control: %s\r\n"
                         "%s%s%s%s%s%.*s"
                         "\r\n",
                         status, gateway_reply_reason (status), content_type, clen, req->request_id,
                         req->cache_control ? req->cache_control : "no-store",
                         gzip ? "Content-Encoding: gzip\r\n" : "",
                         vary ? "Vary: Accept-Encoding\r\n" : "",
                         *etag ? "ETag: " : "", etag, *etag ? "\r\n" : "",
                         (int) req->headers_len, req->headers);
    gateway_json_buf_reset (req->out);
    gateway_json_buf_append (req->out, head, (size_t) hlen);
    if (status != 304)
        for (size_t i = 0; i < nparts; i++)
            gateway_json_buf_append (req->out, parts[i], lens[i]);
    req->io.write (req->io.ctx, req->out->data, req->out->len);
    req->status = status;
    req->bytes = len;
}

/*  Status line, headers and body (compressed when it pays) in one write.
 *  etag_data/etag_len name what the ETag covers (NULL: no ETag). */
static void
send_response_tagged (gateway_req_t *req, int status, const char *content_type,
                      const void *body, size_t len, const void *etag_data, size_t etag_len,
                      const char *fixed_etag)
{
    char etag[40] = "";
    if (status == 200 && req->is_get && (etag_data || fixed_etag)) {
        if (fixed_etag)
            snprintf (etag, sizeof etag, "%s", fixed_etag);
        else
            etag_of (etag_data, etag_len, etag, sizeof etag);
        if (none_match (req, etag))
            status = 304;
    }
    bool compressible = req->zip && req->zip->enabled && status != 304;
    bool gzip = compressible && req->accepts_gzip && len >= req->zip->min_size
                && compress_body (req->zip, body, len) == 0;
    if (gzip) {
        body = req->zip->buf.data;
        len = req->zip->buf.len;
    }
    const void *parts[1] = { body };
    size_t lens[1] = { len };
    write_out (req, status, content_type, etag, compressible, gzip, parts, lens, 1);
}

static void
send_response (gateway_req_t *req, int status, const char *content_type,
               const void *body, size_t len, const void *etag_data, size_t etag_len)
{
    send_response_tagged (req, status, content_type, body, len, etag_data, etag_len, NULL);
}

size_t
gateway_envelope_meta (char *buf, size_t cap, const char *request_id, int64_t started_us)
{
    int64_t us = hsn_now_us () - started_us;
    int n = snprintf (buf, cap, ",\"meta\":{\"request_id\":\"%s\",\"duration_ms\":%lld.%03lld}}",
                      request_id, (long long) (us / 1000), (long long) (us % 1000));
    if (n < 0)
        return 0;
    return (size_t) n < cap ? (size_t) n : cap - 1;
}

size_t
gateway_envelope_ok (gateway_json_buf_t *body, const char *data_json, size_t data_len)
{
    gateway_json_buf_append (body, GATEWAY_ENVELOPE_HEAD, GATEWAY_ENVELOPE_HEAD_LEN);
    size_t at = body->len;
    if (data_json)
        gateway_json_buf_append (body, data_json, data_len);
    else
        gateway_json_buf_append (body, "null", 4);
    return at;
}

void
gateway_envelope_error (gateway_json_buf_t *body, const char *code, const char *message)
{
    gateway_json_buf_append (body, "{\"success\":false,\"error\":{\"code\":", 33);
    gateway_json_append_str (body, code, strlen (code));
    gateway_json_buf_append (body, ",\"message\":", 11);
    gateway_json_append_str (body, message ? message : "", message ? strlen (message) : 0);
    gateway_json_buf_append (body, "}", 1);
}

/*  Finish the envelope in req->body (everything up to "meta") and send it;
 *  the ETag covers body[data_at, data_at + data_len). */
static void
send_envelope (gateway_req_t *req, int status, size_t data_at, size_t data_len)
{
    char meta[GATEWAY_META_MAX];
    size_t mlen = gateway_envelope_meta (meta, sizeof meta, req->request_id, req->started_us);
    gateway_json_buf_append (req->body, meta, mlen);
    send_response (req, status, "application/json", req->body->data, req->body->len,
                   data_len ? req->body->data + data_at : NULL, data_len);
}

void
gateway_reply_ok (gateway_req_t *req, int http_status, const char *data_json,
                  size_t data_len)
{
    gateway_json_buf_reset (req->body);
    size_t at = gateway_envelope_ok (req->body, data_json, data_len);
    send_envelope (req, http_status, at, req->body->len - at);
}

void
gateway_reply_error (gateway_req_t *req, int http_status, const char *code,
                     const char *message)
{
    gateway_json_buf_reset (req->body);
    gateway_envelope_error (req->body, code, message);
    send_envelope (req, http_status, 0, 0);
}

void
gateway_reply_method (gateway_req_t *req, const char *allow)
{
    gateway_req_header (req, "Allow: %s", allow);
    char message[128];
    snprintf (message, sizeof message, "use %s", allow);
    gateway_reply_error (req, 405, "method_not_allowed", message);
}

void
gateway_reply_raw (gateway_req_t *req, int http_status, const char *content_type,
                   const void *body, size_t len)
{
    send_response (req, http_status, content_type, body, len, body, len);
}

void
gateway_reply_static (gateway_req_t *req, const char *content_type, const void *body,
                      size_t len, char *etag)
{
    if (!__atomic_load_n (&etag[0], __ATOMIC_ACQUIRE)) {
        /*  The first byte last, released: a reader that sees it set sees
         *  the rest. Racing writers write the same bytes. */
        char tmp[40];
        etag_of (body, len, tmp, sizeof tmp);
        memcpy (etag + 1, tmp + 1, sizeof tmp - 1);
        __atomic_store_n (&etag[0], tmp[0], __ATOMIC_RELEASE);
    }
    send_response_tagged (req, 200, content_type, body, len, NULL, 0, etag);
}

/*  --- bodies kept ready --------------------------------------------------- */

static void
put_le32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

size_t
gateway_prefix_deflate (const char *text, size_t len, uint8_t *gz, size_t gz_cap,
                        uint32_t *crc, uint32_t *data_crc)
{
    z_stream z;
    memset (&z, 0, sizeof z);
    /*  Raw deflate (no wrapper: the reply writes the gzip header and
     *  trailer), compressed well since it is done once per fill. */
    if (deflateInit2 (&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *) text;
    z.avail_in = (uInt) len;
    z.next_out = gz;
    z.avail_out = (uInt) gz_cap;
    /*  A sync flush ends on a byte boundary with no final block: the
     *  reply's stored block can follow. */
    int rc = deflate (&z, Z_SYNC_FLUSH);
    size_t out = gz_cap - z.avail_out;
    bool ok = rc == Z_OK && z.avail_in == 0 && z.avail_out > 0;
    deflateEnd (&z);
    if (!ok || len < GATEWAY_ENVELOPE_HEAD_LEN)
        return 0;
    *crc = (uint32_t) crc32 (0L, (const Bytef *) text, (uInt) len);
    *data_crc = (uint32_t) crc32 (0L, (const Bytef *) text + GATEWAY_ENVELOPE_HEAD_LEN,
                                  (uInt) (len - GATEWAY_ENVELOPE_HEAD_LEN));
    return out;
}

void
gateway_reply_ok_prefixed (gateway_req_t *req, const gateway_prefix_t *prefix,
                           const char *tail, size_t tail_len)
{
    /*  The rest of the body: the tail, then the meta. */
    char rest[320];
    /*  A tail is a few bytes (a TTL and "}"). */
    assert (tail_len <= sizeof rest - GATEWAY_META_MAX);
    memcpy (rest, tail, tail_len);
    int rlen = (int) (tail_len + gateway_envelope_meta (rest + tail_len, sizeof rest - tail_len,
                                                        req->request_id, req->started_us));
    /*  ETag over the data, as for every envelope: the prefix's data part
     *  and the tail, CRCs combined, with the data's length. */
    char etag[40] = "";
    int status = 200;
    if (req->is_get) {
        uLong c = crc32_combine (prefix->data_crc, crc32 (0L, (const Bytef *) tail, (uInt) tail_len),
                                 (z_off_t) tail_len);
        snprintf (etag, sizeof etag, "\"%08lx%08zx\"", c,
                  prefix->len - GATEWAY_ENVELOPE_HEAD_LEN + tail_len);
        if (none_match (req, etag))
            status = 304;
    }
    bool compressible = req->zip && req->zip->enabled && status != 304;
    size_t total = prefix->len + (size_t) rlen;
    if (compressible && req->accepts_gzip && total >= req->zip->min_size && prefix->gz_len) {
        /*  gzip header; the stored stream; the rest as a final stored
         *  block; CRC-32 and length of everything. */
        static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
        uint8_t block[5] = { 1, (uint8_t) rlen, (uint8_t) (rlen >> 8),
                             (uint8_t) ~rlen, (uint8_t) (~rlen >> 8) };
        uint8_t trailer[8];
        uLong c = crc32_combine (prefix->crc, crc32 (0L, (const Bytef *) rest, (uInt) rlen),
                                 (z_off_t) rlen);
        put_le32 (trailer, (uint32_t) c);
        put_le32 (trailer + 4, (uint32_t) total);
        const void *parts[5] = { header, prefix->gz, block, rest, trailer };
        size_t lens[5] = { 10, prefix->gz_len, 5, (size_t) rlen, 8 };
        write_out (req, status, "application/json", etag, true, true, parts, lens, 5);
        return;
    }
    const void *parts[2] = { prefix->text, rest };
    size_t lens[2] = { prefix->len, (size_t) rlen };
    write_out (req, status, "application/json", etag, compressible, false, parts, lens, 2);
}
