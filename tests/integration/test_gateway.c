/*  The gateway's own behaviour, over real HTTP against real processes:
 *  the envelope and request ids, gzip, ETags and Cache-Control, rate
 *  limits, the circuit breaker, backend timeouts and the concurrency limit,
 *  request limits, many keep-alive connections and slow clients, API keys,
 *  405, and the access log.
 *
 *  Every test starts its own stack with the gateway environment it needs.
 *  Waiting is hsn_wait_until with a deadline; where the behaviour is about
 *  time (a bucket refilling, a breaker's open period, a backend timeout)
 *  the periods are configured short and the test waits for the condition.
 *  Time bounds asserted below only prove that something did not wait for a
 *  timeout; they are not speed targets.
 */
#include "hsn_stack.h"
#include "hsn_test.h"
#include "hsn_time.h"
#include "hsn_mp.h"
#include "gateway/gateway_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static hsn_stack_t *stack;

static void
teardown (void)
{
    hsn_stack_stop (&stack);
}

/*  Start Redis (when with_redis), gateway (with env, NULL-terminated) and
 *  monitor; the monitor expects the given services. */
static void
start (const char *expected, bool with_redis, char *const env[])
{
    stack = hsn_stack_start_env (expected, with_redis, env);
    ck_assert_ptr_nonnull (stack);
}

/* ---- HTTP ---------------------------------------------------------------- */

/*  One request with extra headers (NULL-terminated, may be NULL). */
static long
req (const char *method, const char *path, const char *body, const char *const headers[],
     hsn_http_resp_t *out)
{
    size_t cap = strlen (stack->base_url) + strlen (path) + 1;
    char *url = (char *) malloc (cap);
    snprintf (url, cap, "%s%s", stack->base_url, path);
    int rc = hsn_http (method, url, body, body ? strlen (body) : 0, headers, out);
    free (url);
    ck_assert_msg (rc == 0, "%s %s: no HTTP answer", method, path);
    return out->status;
}

static long
status_of (const char *method, const char *path, const char *body,
           const char *const headers[])
{
    hsn_http_resp_t r;
    long st = req (method, path, body, headers, &r);
    hsn_http_resp_free (&r);
    return st;
}

/*  The header's value, or "" when absent (for messages and comparisons). */
static const char *
hdr (const hsn_http_resp_t *r, const char *name)
{
    const char *v = hsn_http_header (r, name);
    return v ? v : "";
}

/* ---- JSON: parse with the gateway's converter, walk the msgpack ---------- */

typedef struct {
    msgpack_sbuffer sb;
    bool ok;
} doc_t;

static void
doc_parse (doc_t *d, const char *json, size_t len)
{
    msgpack_sbuffer_init (&d->sb);
    char err[256];
    d->ok = gateway_json_to_mp (json, len, HSN_MP_DEPTH_LIMIT, &d->sb, err, sizeof err) == 0;
}

static void
doc_free (doc_t *d)
{
    msgpack_sbuffer_destroy (&d->sb);
}

/*  The member of map m named key. */
static bool
mp_member (const hsn_mp_obj_t *m, const char *key, hsn_mp_obj_t *out)
{
    if (m->type != HSN_MP_MAP)
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, m);
    for (uint32_t i = 0; i < m->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&r, &k, HSN_MP_DEPTH_LIMIT) || hsn_mp_get (&r, &v, HSN_MP_DEPTH_LIMIT))
            return false;
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/*  Follow the keys (NULL-terminated) from the document's root. */
static bool
doc_at (const doc_t *d, hsn_mp_obj_t *out, ...)
{
    if (!d->ok)
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, d->sb.data, d->sb.size);
    hsn_mp_obj_t cur;
    if (hsn_mp_get (&r, &cur, HSN_MP_DEPTH_LIMIT))
        return false;
    va_list ap;
    va_start (ap, out);
    const char *key;
    bool ok = true;
    while (ok && (key = va_arg (ap, const char *)))
        ok = mp_member (&cur, key, &cur);
    va_end (ap);
    if (ok)
        *out = cur;
    return ok;
}

/*  The string at keys as a C string in buf ("" when absent or not a str). */
static const char *
doc_str (const doc_t *d, char *buf, size_t cap, const char *k1, const char *k2)
{
    hsn_mp_obj_t o;
    buf[0] = 0;
    if (doc_at (d, &o, k1, k2, (const char *) NULL) && o.type == HSN_MP_STR)
        snprintf (buf, cap, "%.*s", (int) o.v.s.len, o.v.s.ptr);
    return buf;
}

/*  The envelope's error code ("" when none). */
static const char *
error_code (const hsn_http_resp_t *r)
{
    static char code[64];
    doc_t d;
    doc_parse (&d, r->body, r->body_len);
    doc_str (&d, code, sizeof code, "error", "code");
    doc_free (&d);
    return code;
}

/* ---- gzip ------------------------------------------------------------------ */

/*  Inflate a gzip (or zlib) body; caller frees. NULL when it is not one. */
static char *
gunzip (const char *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset (&z, 0, sizeof z);
    if (inflateInit2 (&z, 15 + 32) != Z_OK)
        return NULL;
    size_t cap = len * 4 + 1024, n = 0;
    char *out = (char *) malloc (cap + 1);
    z.next_in = (Bytef *) in;
    z.avail_in = (uInt) len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (n == cap) {
            cap *= 2;
            out = (char *) realloc (out, cap + 1);
        }
        z.next_out = (Bytef *) out + n;
        z.avail_out = (uInt) (cap - n);
        rc = inflate (&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd (&z);
    if (rc != Z_STREAM_END) {
        free (out);
        return NULL;
    }
    out[n] = 0;
    *out_len = n;
    return out;
}

/*  The text of an envelope from "data": up to where cut begins (the
 *  per-request parts, meta and a ticking TTL, are left out). */
static char *
data_part (const char *body, const char *cut)
{
    const char *d = strstr (body, "\"data\":");
    ck_assert_ptr_nonnull (d);
    const char *e = strstr (d, cut);
    ck_assert_ptr_nonnull (e);
    return strndup (d, (size_t) (e - d));
}

/* ---- replicas -------------------------------------------------------------- */

typedef struct { const char *service; int want; } up_arg_t;

static bool
replicas_are (void *arg)
{
    up_arg_t *a = (up_arg_t *) arg;
    return hsn_stack_replicas_up (stack, a->service) == a->want;
}

static void
wait_replicas (const char *service, int want, int timeout_ms)
{
    up_arg_t a = { service, want };
    ck_assert_msg (hsn_wait_until (replicas_are, &a, timeout_ms),
                   "%s: expected %d replicas up within %d ms, have %d", service, want,
                   timeout_ms, hsn_stack_replicas_up (stack, service));
}

static hsn_proc_t *
add_cache (char *const env[])
{
    hsn_proc_t *p = hsn_stack_add (stack, "hsn-cache", env);
    ck_assert_ptr_nonnull (p);
    return p;
}

/*  Wait until GET path (with headers) answers want. */
typedef struct {
    const char *path;
    const char *const *headers;
    long want;
    long last;
} until_arg_t;

static bool
status_is (void *arg)
{
    until_arg_t *a = (until_arg_t *) arg;
    hsn_http_resp_t r;
    char url[1024];
    snprintf (url, sizeof url, "%s%s", stack->base_url, a->path);
    if (hsn_http ("GET", url, NULL, 0, a->headers, &r))
        return false;
    a->last = r.status;
    hsn_http_resp_free (&r);
    return a->last == a->want;
}

static void
wait_status (const char *path, const char *const headers[], long want, int timeout_ms)
{
    until_arg_t a = { path, headers, want, 0 };
    ck_assert_msg (hsn_wait_until (status_is, &a, timeout_ms),
                   "GET %s: expected %ld within %d ms, last %ld", path, want, timeout_ms, a.last);
}

/* ---- raw sockets ------------------------------------------------------------ */

static int
tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons ((uint16_t) port);
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    ck_assert_msg (connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0, "connect: %s",
                   strerror (errno));
    return fd;
}

static void
send_all (int fd, const char *s)
{
    size_t len = strlen (s), off = 0;
    while (off < len) {
        ssize_t n = send (fd, s + off, len - off, MSG_NOSIGNAL);
        ck_assert_msg (n > 0, "send: %s", strerror (errno));
        off += (size_t) n;
    }
}

/*  Read one whole response (headers and Content-Length body) within
 *  timeout_ms. Returns its status, 0 when the peer closed first, -1 on a
 *  timeout. */
static int
read_response (int fd, int timeout_ms)
{
    char buf[65536];
    size_t len = 0;
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (true) {
        buf[len] = 0;
        char *end = strstr (buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr (buf, "\r\nContent-Length:");
            size_t want = (size_t) (end + 4 - buf) + (cl ? strtoul (cl + 17, NULL, 10) : 0);
            if (len >= want)
                return atoi (buf + 9);
        }
        int left = (int) (deadline - hsn_now_ms ());
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll (&p, 1, left) <= 0)
            return -1;
        ssize_t n = recv (fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return len ? atoi (buf + 9) : 0;
        len += (size_t) n;
    }
}

/*  Read a 304 (headers only) and then one more response from fd; returns
 *  the second's status, or -1/0 as read_response. */
static int
read_response_after_304 (int fd, int timeout_ms)
{
    char buf[65536];
    size_t len = 0;
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (true) {
        buf[len] = 0;
        char *end = strstr (buf, "\r\n\r\n");
        if (end) {
            ck_assert_msg (strncmp (buf, "HTTP/1.1 304", 12) == 0, "first answer: %.40s", buf);
            char *second = end + 4;
            char *end2 = strstr (second, "\r\n\r\n");
            if (end2) {
                const char *cl = strcasestr (second, "\r\nContent-Length:");
                ck_assert_ptr_nonnull (cl);
                size_t want = (size_t) (end2 + 4 - buf) + strtoul (cl + 17, NULL, 10);
                if (len >= want)
                    return atoi (second + 9);
            }
        }
        int left = (int) (deadline - hsn_now_ms ());
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll (&p, 1, left) <= 0)
            return -1;
        ssize_t n = recv (fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t) n;
    }
}

/*  Has the server closed fd (EOF, or a reset)? Reads and drops any data. */
static bool
closed_by_peer (void *arg)
{
    int fd = *(int *) arg;
    char buf[4096];
    ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* ---- 1. envelope and request ids ------------------------------------------ */

START_TEST (envelope_carries_data_meta_and_request_ids)
{
    start ("gateway,monitor", false, NULL);
    /*  Healthy once the monitor has heard from itself too. */
    wait_status ("/api/optimization/health", NULL, 200, 5000);
    hsn_http_resp_t r;
    /*  Success. */
    ck_assert_int_eq (req ("GET", "/api/optimization/health", NULL, NULL, &r), 200);
    ck_assert_str_eq (hdr (&r, "Content-Type"), "application/json");
    doc_t d;
    doc_parse (&d, r.body, r.body_len);
    ck_assert_msg (d.ok, "not JSON: %s", r.body);
    hsn_mp_obj_t o;
    ck_assert (doc_at (&d, &o, "success", NULL) && o.type == HSN_MP_BOOL && o.v.b);
    ck_assert (doc_at (&d, &o, "data", NULL) && o.type == HSN_MP_MAP);
    ck_assert (!doc_at (&d, &o, "error", NULL));
    ck_assert (doc_at (&d, &o, "meta", "duration_ms", NULL)
               && (o.type == HSN_MP_FLOAT || o.type == HSN_MP_UINT));
    ck_assert (o.type != HSN_MP_FLOAT || o.v.f >= 0);
    char id[128], first[128];
    doc_str (&d, id, sizeof id, "meta", "request_id");
    /*  Generated when absent, and the same in the header and the meta. */
    ck_assert_msg (strlen (id) >= 8 && strlen (id) <= 64, "request id '%s'", id);
    ck_assert_str_eq (hdr (&r, "X-Request-Id"), id);
    snprintf (first, sizeof first, "%s", id);
    doc_free (&d);
    hsn_http_resp_free (&r);

    /*  Error envelope. */
    ck_assert_int_eq (req ("GET", "/api/nothing/here", NULL, NULL, &r), 404);
    doc_parse (&d, r.body, r.body_len);
    ck_assert_msg (d.ok, "not JSON: %s", r.body);
    ck_assert (doc_at (&d, &o, "success", NULL) && o.type == HSN_MP_BOOL && !o.v.b);
    char buf[128];
    ck_assert_str_eq (doc_str (&d, buf, sizeof buf, "error", "code"), "not_found");
    ck_assert (doc_at (&d, &o, "error", "message", NULL) && o.type == HSN_MP_STR);
    ck_assert (doc_at (&d, &o, "meta", "duration_ms", NULL));
    doc_str (&d, id, sizeof id, "meta", "request_id");
    ck_assert_str_eq (hdr (&r, "X-Request-Id"), id);
    ck_assert_str_ne (id, first);               /* a fresh id per request */
    doc_free (&d);
    hsn_http_resp_free (&r);

    /*  Echoed when valid. */
    const char *given[] = { "X-Request-Id: client-id_42.abc", NULL };
    ck_assert_int_eq (req ("GET", "/api/optimization/health", NULL, given, &r), 200);
    ck_assert_str_eq (hdr (&r, "X-Request-Id"), "client-id_42.abc");
    doc_parse (&d, r.body, r.body_len);
    ck_assert_str_eq (doc_str (&d, id, sizeof id, "meta", "request_id"), "client-id_42.abc");
    doc_free (&d);
    hsn_http_resp_free (&r);

    /*  Replaced when invalid: too long, a quote, a backslash. */
    char long_id[100] = "X-Request-Id: ";
    memset (long_id + strlen (long_id), 'a', 65);
    const char *bad[][2] = {
        { long_id, NULL },
        { "X-Request-Id: with\"quote", NULL },
        { "X-Request-Id: back\\slash", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq (req ("GET", "/api/optimization/health", NULL, bad[i], &r), 200);
        const char *sent = strchr (bad[i][0], ':') + 2;
        const char *got = hdr (&r, "X-Request-Id");
        ck_assert_msg (*got && strcmp (got, sent) != 0, "kept invalid id '%s'", sent);
        ck_assert_uint_le (strlen (got), 64);
        ck_assert (!strchr (got, '"') && !strchr (got, '\\'));
        doc_parse (&d, r.body, r.body_len);
        ck_assert_msg (d.ok, "not JSON: %s", r.body);
        ck_assert_str_eq (doc_str (&d, id, sizeof id, "meta", "request_id"), got);
        doc_free (&d);
        hsn_http_resp_free (&r);
    }
}
END_TEST

/* ---- 2. compression ---------------------------------------------------------- */

static const char *gzip_h[] = { "Accept-Encoding: gzip", NULL };

/*  Is the response uncompressed (and, without a Vary, never could be)? */
static void
assert_identity (const hsn_http_resp_t *r, bool vary)
{
    ck_assert_msg (!hsn_http_header (r, "Content-Encoding"), "Content-Encoding: %s",
                   hdr (r, "Content-Encoding"));
    if (vary)
        ck_assert_str_eq (hdr (r, "Vary"), "Accept-Encoding");
    else
        ck_assert_msg (!hsn_http_header (r, "Vary"), "Vary: %s", hdr (r, "Vary"));
}

START_TEST (gzip_when_accepted_and_large_enough)
{
    char *env[] = { "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    char *cache_env[] = { "CACHE_L1_ENABLED=false", NULL };
    add_cache (cache_env);
    wait_replicas ("cache", 1, 5000);

    /*  The OpenAPI document: byte for byte the same once inflated. */
    hsn_http_resp_t plain, zipped;
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, NULL, &plain), 200);
    ck_assert_uint_ge (plain.body_len, 1024);
    assert_identity (&plain, true);
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, gzip_h, &zipped), 200);
    ck_assert_str_eq (hdr (&zipped, "Content-Encoding"), "gzip");
    ck_assert_str_eq (hdr (&zipped, "Vary"), "Accept-Encoding");
    ck_assert_uint_lt (zipped.body_len, plain.body_len);
    ck_assert_uint_eq (strtoul (hdr (&zipped, "Content-Length"), NULL, 10), zipped.body_len);
    size_t n;
    char *inflated = gunzip (zipped.body, zipped.body_len, &n);
    ck_assert_ptr_nonnull (inflated);
    ck_assert_uint_eq (n, plain.body_len);
    ck_assert (memcmp (inflated, plain.body, n) == 0);
    free (inflated);
    hsn_http_resp_free (&zipped);

    /*  gzip;q=0 refuses gzip; other codings alone are not gzip. */
    const char *q0[] = { "Accept-Encoding: gzip;q=0", NULL };
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, q0, &zipped), 200);
    assert_identity (&zipped, true);
    ck_assert_uint_eq (zipped.body_len, plain.body_len);
    hsn_http_resp_free (&zipped);
    const char *br[] = { "Accept-Encoding: br, deflate", NULL };
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, br, &zipped), 200);
    assert_identity (&zipped, true);
    hsn_http_resp_free (&zipped);
    const char *mixed[] = { "Accept-Encoding: deflate, GZIP;q=0.5", NULL };
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, mixed, &zipped), 200);
    ck_assert_str_eq (hdr (&zipped, "Content-Encoding"), "gzip");
    hsn_http_resp_free (&zipped);
    hsn_http_resp_free (&plain);

    /*  A 5 KB cache value in the envelope: the data is the same. */
    char value[5200];
    snprintf (value, sizeof value, "{\"text\":\"");
    size_t at = strlen (value);
    for (size_t i = 0; i < 5000; i++)
        value[at + i] = (char) ('a' + (i * 7) % 26);
    snprintf (value + at + 5000, sizeof value - at - 5000, "\",\"n\":[1,2,3]}");
    ck_assert_int_eq (status_of ("PUT", "/api/cache/zip/big?ttl=3600", value, NULL), 200);
    ck_assert_int_eq (req ("GET", "/api/cache/zip/big", NULL, NULL, &plain), 200);
    assert_identity (&plain, true);
    ck_assert_int_eq (req ("GET", "/api/cache/zip/big", NULL, gzip_h, &zipped), 200);
    ck_assert_str_eq (hdr (&zipped, "Content-Encoding"), "gzip");
    ck_assert_str_eq (hdr (&zipped, "Vary"), "Accept-Encoding");
    inflated = gunzip (zipped.body, zipped.body_len, &n);
    ck_assert_ptr_nonnull (inflated);
    char *a = data_part (plain.body, ",\"ttl\":"), *b = data_part (inflated, ",\"ttl\":");
    ck_assert_str_eq (a, b);
    ck_assert_ptr_nonnull (strstr (a, value));
    /*  The rest of the envelope is there too, with its own meta. */
    doc_t d;
    doc_parse (&d, inflated, n);
    ck_assert_msg (d.ok, "inflated body is not JSON");
    char id[128];
    ck_assert_str_eq (doc_str (&d, id, sizeof id, "meta", "request_id"),
                      hdr (&zipped, "X-Request-Id"));
    doc_free (&d);
    free (a);
    free (b);
    free (inflated);
    hsn_http_resp_free (&zipped);
    hsn_http_resp_free (&plain);

    /*  A small answer is not worth compressing. */
    ck_assert_int_eq (req ("GET", "/api/nothing", NULL, gzip_h, &zipped), 404);
    ck_assert_uint_lt (zipped.body_len, 1024);
    assert_identity (&zipped, true);
    ck_assert_str_eq (error_code (&zipped), "not_found");
    hsn_http_resp_free (&zipped);
}
END_TEST

START_TEST (gzip_never_when_disabled)
{
    char *env[] = { "ENABLE_COMPRESSION=false", NULL };
    start ("gateway,monitor", false, env);
    wait_status ("/api/optimization/health", NULL, 200, 5000);
    hsn_http_resp_t r;
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, gzip_h, &r), 200);
    ck_assert_uint_ge (r.body_len, 1024);
    assert_identity (&r, false);
    ck_assert_int_eq (r.body[0], '{');
    hsn_http_resp_free (&r);
    ck_assert_int_eq (req ("GET", "/api/optimization/health", NULL, gzip_h, &r), 200);
    assert_identity (&r, false);
    hsn_http_resp_free (&r);
}
END_TEST

START_TEST (gzip_not_below_the_configured_minimum)
{
    char *env[] = { "MIN_COMPRESSION_SIZE=100000", NULL };
    start ("gateway,monitor", false, env);
    hsn_http_resp_t r;
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, gzip_h, &r), 200);
    ck_assert_uint_ge (r.body_len, 1024);
    ck_assert_uint_lt (r.body_len, 100000);
    assert_identity (&r, true);
    ck_assert_int_eq (r.body[0], '{');
    hsn_http_resp_free (&r);
}
END_TEST

/* ---- 3. ETag, 304, Cache-Control --------------------------------------------- */

/*  The "ttl" of a cache GET's data. */
static long
ttl_of (const hsn_http_resp_t *r)
{
    doc_t d;
    doc_parse (&d, r->body, r->body_len);
    hsn_mp_obj_t o;
    long ttl = doc_at (&d, &o, "data", "ttl", NULL) && o.type == HSN_MP_UINT ? (long) o.v.u : -1;
    doc_free (&d);
    return ttl;
}

static void
assert_strong_etag (const char *etag)
{
    size_t n = strlen (etag);
    ck_assert_msg (n >= 3 && etag[0] == '"' && strchr (etag + 1, '"') == etag + n - 1,
                   "not a strong ETag: '%s'", etag);
}

START_TEST (etag_304_and_cache_control)
{
    char *env[] = { "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    /*  No L1: every read is answered by Redis, so "level" stays "l2". */
    char *cache_env[] = { "CACHE_L1_ENABLED=false", NULL };
    add_cache (cache_env);
    wait_replicas ("cache", 1, 5000);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/et/k?ttl=600", "{\"v\":1}", NULL), 200);

    hsn_http_resp_t r;
    char etag[128] = "", inm[160];
    /*  The data carries the remaining TTL in whole seconds, so a second
     *  boundary between the two reads changes the representation (and the
     *  ETag) legitimately: then read again. */
    bool got_304 = false;
    for (int attempt = 0; attempt < 5 && !got_304; attempt++) {
        ck_assert_int_eq (req ("GET", "/api/cache/et/k", NULL, NULL, &r), 200);
        snprintf (etag, sizeof etag, "%s", hdr (&r, "ETag"));
        assert_strong_etag (etag);
        size_t plain_len = r.body_len;
        const char *cc = hdr (&r, "Cache-Control");
        long ttl = ttl_of (&r);
        ck_assert_msg (strncmp (cc, "max-age=", 8) == 0, "Cache-Control: %s", cc);
        ck_assert_int_eq (atol (cc + 8), ttl);
        ck_assert (ttl > 0 && ttl <= 600);
        hsn_http_resp_free (&r);

        snprintf (inm, sizeof inm, "If-None-Match: %s", etag);
        const char *h[] = { inm, NULL };
        long st = req ("GET", "/api/cache/et/k", NULL, h, &r);
        if (st == 304) {
            got_304 = true;
            ck_assert_uint_eq (r.body_len, 0);
            ck_assert_str_eq (hdr (&r, "ETag"), etag);
            /*  What a 200 would say about caching and variants, and no
             *  Content-Length unless the 200's (RFC 9110 8.6, 15.4.5). */
            ck_assert_str_eq (hdr (&r, "Vary"), "Accept-Encoding");
            ck_assert_msg (!hsn_http_header (&r, "Content-Length")
                           || (size_t) atol (hdr (&r, "Content-Length")) == plain_len,
                           "304 with Content-Length: %s", hdr (&r, "Content-Length"));
            ck_assert (strncmp (hdr (&r, "Cache-Control"), "max-age=", 8) == 0);
            ck_assert (hsn_http_header (&r, "X-Request-Id"));
        }
        else {
            ck_assert_int_eq (st, 200);
            ck_assert_str_ne (hdr (&r, "ETag"), etag);
            ck_assert_int_ne (ttl_of (&r), ttl);
        }
        hsn_http_resp_free (&r);
    }
    ck_assert_msg (got_304, "If-None-Match never gave 304");

    /*  A list naming it, in the weak form too, matches (If-None-Match
     *  compares weakly); a 200 only when the TTL ticked over meanwhile. */
    char list[300];
    snprintf (list, sizeof list, "If-None-Match: \"0000\", W/%s", etag);
    const char *lh[] = { list, NULL };
    long st = req ("GET", "/api/cache/et/k", NULL, lh, &r);
    ck_assert_msg (st == 304 || (st == 200 && strcmp (hdr (&r, "ETag"), etag) != 0),
                   "If-None-Match list: %ld", st);
    hsn_http_resp_free (&r);

    /*  On a keep-alive connection a 304 (no body) is followed by the next
     *  answer as usual; the OpenAPI document has an ETag too. */
    hsn_http_resp_t doc;
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, NULL, &doc), 200);
    char doc_etag[128];
    snprintf (doc_etag, sizeof doc_etag, "%s", hdr (&doc, "ETag"));
    assert_strong_etag (doc_etag);
    hsn_http_resp_free (&doc);
    int fd = tcp_connect (stack->http_port);
    char conditional[512];
    snprintf (conditional, sizeof conditional,
              "GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
              "GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", doc_etag);
    send_all (fd, conditional);
    ck_assert_int_eq (read_response_after_304 (fd, 10000), 200);
    close (fd);

    /*  A new value: the old ETag no longer matches. */
    ck_assert_int_eq (status_of ("PUT", "/api/cache/et/k?ttl=600", "{\"v\":2}", NULL), 200);
    const char *h[] = { inm, NULL };
    ck_assert_int_eq (req ("GET", "/api/cache/et/k", NULL, h, &r), 200);
    ck_assert_ptr_nonnull (strstr (r.body, "{\"v\":2}"));
    assert_strong_etag (hdr (&r, "ETag"));
    ck_assert_str_ne (hdr (&r, "ETag"), etag);
    hsn_http_resp_free (&r);

    /*  Health is never cached (healthy or not); neither is an error. */
    long hst = req ("GET", "/api/optimization/health", NULL, NULL, &r);
    ck_assert_msg (hst == 200 || hst == 503, "health: %ld", hst);
    ck_assert_str_eq (hdr (&r, "Cache-Control"), "no-store");
    hsn_http_resp_free (&r);
    ck_assert_int_eq (req ("GET", "/api/cache/et/absent", NULL, NULL, &r), 404);
    ck_assert_str_eq (hdr (&r, "Cache-Control"), "no-store");
    ck_assert (!hsn_http_header (&r, "ETag"));
    hsn_http_resp_free (&r);
}
END_TEST

/* ---- 4. rate limiting --------------------------------------------------------- */

#define KEY_A "k1-0123456789abcdef"
#define KEY_B "k2-0123456789abcdef"

START_TEST (rate_limit_per_client_with_headers_and_refill)
{
    char *env[] = { "RATE_LIMIT_RPS=2", "RATE_LIMIT_BURST=3",
                    "API_KEYS=" KEY_A "," KEY_B, NULL };
    start ("gateway,monitor", false, env);
    const char *a[] = { "X-API-Key: " KEY_A, NULL };
    const char *b[] = { "X-API-Key: " KEY_B, NULL };
    hsn_http_resp_t r;
    /*  At 2 tokens/s, three requests in well under half a second cannot
     *  earn a fourth token. */
    int64_t t0 = hsn_now_ms ();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, a, &r), 200);
        ck_assert_str_eq (hdr (&r, "RateLimit-Limit"), "3");
        ck_assert_int_eq (atoi (hdr (&r, "RateLimit-Remaining")), 2 - i);
        hsn_http_resp_free (&r);
    }
    long st = req ("GET", "/api/openapi.json", NULL, a, &r);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_msg (st == 429, "4th request: %ld after %lld ms (from 500 ms on, a refill "
                   "is legitimate)", st, (long long) took);
    ck_assert_str_eq (error_code (&r), "rate_limited");
    ck_assert_int_ge (atoi (hdr (&r, "Retry-After")), 1);
    ck_assert_str_eq (hdr (&r, "RateLimit-Limit"), "3");
    ck_assert_str_eq (hdr (&r, "RateLimit-Remaining"), "0");
    ck_assert_int_ge (atoi (hdr (&r, "RateLimit-Reset")), 1);
    hsn_http_resp_free (&r);

    /*  Another client is not affected. */
    ck_assert_int_eq (req ("GET", "/api/openapi.json", NULL, b, &r), 200);
    ck_assert_str_eq (hdr (&r, "RateLimit-Remaining"), "2");
    hsn_http_resp_free (&r);

    /*  A refills: admitted again (no token is taken by refused requests). */
    wait_status ("/api/openapi.json", a, 200, 5000);
}
END_TEST

START_TEST (rate_limit_cannot_be_dodged_with_made_up_keys)
{
    /*  No API keys: every client is its address, whatever key it sends. */
    char *env[] = { "RATE_LIMIT_RPS=2", "RATE_LIMIT_BURST=3", NULL };
    start ("gateway,monitor", false, env);
    int limited = 0;
    for (int i = 0; i < 10 && !limited; i++) {
        char key[64];
        snprintf (key, sizeof key, "X-API-Key: made-up-key-number-%d", i);
        const char *h[] = { key, NULL };
        limited += status_of ("GET", "/api/openapi.json", NULL, h) == 429;
    }
    ck_assert_msg (limited, "10 requests with fresh made-up keys were never limited");
}
END_TEST

/* ---- 5. circuit breaker -------------------------------------------------------- */

START_TEST (breaker_opens_answers_at_once_and_closes_after_a_probe)
{
    char *env[] = { "BREAKER_FAILURES=3", "BREAKER_OPEN_MS=1000", "BACKEND_TIMEOUT_MS=500",
                    "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    hsn_proc_t *cache = add_cache (NULL);
    wait_replicas ("cache", 1, 5000);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/br/k", "\"v\"", NULL), 200);
    ck_assert_int_eq (status_of ("GET", "/api/cache/br/k", NULL, NULL), 200);

    ck_assert_int_eq (hsn_proc_signal (cache, SIGKILL), 0);
    wait_replicas ("cache", 0, 5000);

    /*  Three failures (no replica), then the breaker answers by itself. */
    hsn_http_resp_t r;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (req ("GET", "/api/cache/br/k", NULL, NULL, &r), 503);
        ck_assert_msg (strcmp (error_code (&r), "no_service") == 0, "failure %d: %s", i, r.body);
        hsn_http_resp_free (&r);
    }
    int64_t t0 = hsn_now_us ();
    ck_assert_int_eq (req ("GET", "/api/cache/br/k", NULL, NULL, &r), 503);
    int64_t took_ms = (hsn_now_us () - t0) / 1000;
    ck_assert_msg (strcmp (error_code (&r), "circuit_open") == 0, "body: %s", r.body);
    ck_assert_int_ge (atoi (hdr (&r, "Retry-After")), 1);
    ck_assert_msg (took_ms < 400, "circuit_open took %lld ms", (long long) took_ms);
    hsn_http_resp_free (&r);
    /*  Other backends are not affected: health is the monitor's answer
     *  (503 because the expected cache is down), not the breaker's. */
    ck_assert_int_eq (req ("GET", "/api/optimization/health", NULL, NULL, &r), 503);
    ck_assert_ptr_nonnull (strstr (r.body, "\"unhealthy\""));
    hsn_http_resp_free (&r);

    /*  A new replica; once the open period is over, the probe gets through
     *  and closes the breaker. */
    add_cache (NULL);
    wait_replicas ("cache", 1, 5000);
    wait_status ("/api/cache/br/k", NULL, 200, 10000);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq (status_of ("GET", "/api/cache/br/k", NULL, NULL), 200);
}
END_TEST

/* ---- 6. backend timeout and the concurrency limit -------------------------------- */

typedef struct {
    const char *url;
    long status;
    char code[64];
    int64_t ms;
} timed_t;

static void *
timed_get (void *arg)
{
    timed_t *t = (timed_t *) arg;
    hsn_http_resp_t r;
    int64_t t0 = hsn_now_ms ();
    if (hsn_http ("GET", t->url, NULL, 0, NULL, &r) == 0) {
        t->status = r.status;
        snprintf (t->code, sizeof t->code, "%s", error_code (&r));
        hsn_http_resp_free (&r);
    }
    t->ms = hsn_now_ms () - t0;
    return NULL;
}

START_TEST (stuck_backend_times_out_and_the_limit_sheds_load)
{
    /*  Heartbeats every 2 s: a replica stopped for about a second is slow,
     *  not lost (it would be dropped only after 3 missed heartbeats). */
    char *env[] = { "BACKEND_TIMEOUT_MS=1000", "MAX_CONCURRENT_OPERATIONS=1",
                    "GATEWAY_QUEUE_MAX=0", "HEARTBEAT_INTERVAL_MS=2000",
                    "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    char *cache_env[] = { "HEARTBEAT_INTERVAL_MS=2000", NULL };
    hsn_proc_t *cache = add_cache (cache_env);
    wait_replicas ("cache", 1, 8000);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/to/k", "1", NULL), 200);

    ck_assert_int_eq (hsn_proc_signal (cache, SIGSTOP), 0);
    char url[256];
    snprintf (url, sizeof url, "%s/api/cache/to/k", stack->base_url);
    /*  Two GETs at once: one holds the only slot and waits for the stuck
     *  replica, the other is refused at once. Which is which is up to the
     *  scheduler. */
    timed_t t1 = { url, 0, "", 0 }, t2 = { url, 0, "", 0 };
    pthread_t th;
    ck_assert_int_eq (pthread_create (&th, NULL, timed_get, &t1), 0);
    timed_get (&t2);
    pthread_join (th, NULL);
    ck_assert_int_eq (hsn_proc_signal (cache, SIGCONT), 0);

    timed_t *slow = t1.status == 504 ? &t1 : &t2, *fast = slow == &t1 ? &t2 : &t1;
    ck_assert_msg (slow->status == 504 && strcmp (slow->code, "timeout") == 0,
                   "statuses %ld (%s) and %ld (%s)", t1.status, t1.code, t2.status, t2.code);
    ck_assert_msg (fast->status == 503 && strcmp (fast->code, "overloaded") == 0,
                   "statuses %ld (%s) and %ld (%s)", t1.status, t1.code, t2.status, t2.code);
    ck_assert_msg (slow->ms >= 900, "504 after %lld ms", (long long) slow->ms);
    /*  One BACKEND_TIMEOUT_MS, not two (no retry after a full timeout). */
    ck_assert_msg (slow->ms < 1800, "504 after %lld ms", (long long) slow->ms);
    ck_assert_msg (fast->ms < 500, "overloaded after %lld ms", (long long) fast->ms);

    /*  The replica is back: reads work again. */
    wait_status ("/api/cache/to/k", NULL, 200, 10000);
}
END_TEST

START_TEST (overload_rejections_do_not_reset_the_breaker)
{
    /*  Requests refused for want of a slot never reach the backend: they
     *  are neither failures nor successes for its breaker. Two rounds of
     *  (one timeout + one refused) are two consecutive failures. */
    char *env[] = { "BACKEND_TIMEOUT_MS=1000", "MAX_CONCURRENT_OPERATIONS=1",
                    "GATEWAY_QUEUE_MAX=0", "HEARTBEAT_INTERVAL_MS=2000",
                    "BREAKER_FAILURES=2", "BREAKER_OPEN_MS=60000",
                    "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    char *cache_env[] = { "HEARTBEAT_INTERVAL_MS=2000", NULL };
    hsn_proc_t *cache = add_cache (cache_env);
    wait_replicas ("cache", 1, 8000);
    ck_assert_int_eq (status_of ("PUT", "/api/cache/ov/k", "1", NULL), 200);
    ck_assert_int_eq (hsn_proc_signal (cache, SIGSTOP), 0);
    char url[256];
    snprintf (url, sizeof url, "%s/api/cache/ov/k", stack->base_url);
    for (int round = 0; round < 2; round++) {
        timed_t t1 = { url, 0, "", 0 }, t2 = { url, 0, "", 0 };
        pthread_t th;
        ck_assert_int_eq (pthread_create (&th, NULL, timed_get, &t1), 0);
        timed_get (&t2);
        pthread_join (th, NULL);
        bool one_each = (t1.status == 504 && t2.status == 503 && !strcmp (t2.code, "overloaded"))
                        || (t2.status == 504 && t1.status == 503 && !strcmp (t1.code, "overloaded"));
        ck_assert_msg (one_each, "round %d: %ld (%s) and %ld (%s)", round, t1.status, t1.code,
                       t2.status, t2.code);
    }
    hsn_http_resp_t r;
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (req ("GET", "/api/cache/ov/k", NULL, NULL, &r), 503);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_msg (strcmp (error_code (&r), "circuit_open") == 0, "body: %s", r.body);
    ck_assert_msg (took < 500, "circuit_open after %lld ms", (long long) took);
    hsn_http_resp_free (&r);
    ck_assert_int_eq (hsn_proc_signal (cache, SIGCONT), 0);
}
END_TEST

/* ---- 7. request limits --------------------------------------------------------- */

START_TEST (limits_on_body_uri_and_nesting)
{
    char *env[] = { "GATEWAY_MAX_BODY_BYTES=4096", "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    add_cache (NULL);
    wait_replicas ("cache", 1, 5000);
    hsn_http_resp_t r;

    /*  Body: at the limit fine, over it 413. */
    char body[5000];
    memset (body, ' ', sizeof body);
    body[0] = '1';
    body[4096] = 0;
    ck_assert_int_eq (status_of ("PUT", "/api/cache/lim/k", body, NULL), 200);
    body[4096] = ' ';
    body[4097] = 0;
    ck_assert_int_eq (req ("PUT", "/api/cache/lim/k", body, NULL, &r), 413);
    ck_assert_str_eq (error_code (&r), "too_large");
    hsn_http_resp_free (&r);

    /*  A 20 KB URI against the default 16 KB request limit: an error status
     *  or a closed connection, and the gateway carries on. */
    size_t n = 20 * 1024;
    char *path = (char *) malloc (n + 64);
    strcpy (path, "/api/cache/lim/");
    memset (path + strlen (path), 'u', n);
    path[15 + n] = 0;
    char *url = (char *) malloc (n + 128);
    snprintf (url, n + 128, "%s%s", stack->base_url, path);
    if (hsn_http ("GET", url, NULL, 0, NULL, &r) == 0) {
        ck_assert_msg (r.status >= 400, "20 KB URI: %ld", r.status);
        hsn_http_resp_free (&r);
    }
    free (url);
    free (path);
    ck_assert_int_eq (status_of ("GET", "/api/cache/lim/k", NULL, NULL), 200);

    /*  Nesting: 40 levels is over the limit. */
    char deep[100] = "";
    for (int i = 0; i < 40; i++)
        strcat (deep, "[");
    for (int i = 0; i < 40; i++)
        strcat (deep, "]");
    ck_assert_int_eq (req ("PUT", "/api/cache/lim/deep", deep, NULL, &r), 400);
    ck_assert_str_eq (error_code (&r), "invalid_json");
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("GET", "/api/cache/lim/k", NULL, NULL), 200);
}
END_TEST

/* ---- 8. many connections, slow clients ------------------------------------------ */

typedef struct { int *fds; int n; } fds_t;

static bool
all_closed (void *arg)
{
    fds_t *f = (fds_t *) arg;
    for (int i = 0; i < f->n; i++)
        if (f->fds[i] >= 0 && closed_by_peer (&f->fds[i])) {
            close (f->fds[i]);
            f->fds[i] = -1;
        }
    for (int i = 0; i < f->n; i++)
        if (f->fds[i] >= 0)
            return false;
    return true;
}

#define IDLE_CONNS 200

START_TEST (idle_keepalive_connections_do_not_starve_new_clients)
{
    char *env[] = { "GATEWAY_THREADS=300", "GATEWAY_KEEPALIVE_MS=2000",
                    "GATEWAY_REQUEST_TIMEOUT_MS=500", NULL };
    start ("gateway,monitor", false, env);
    static int fds[IDLE_CONNS];
    char request[128];
    snprintf (request, sizeof request,
              "GET /api/openapi.json HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", stack->http_port);
    /*  Connect and ask on every connection first, then read every answer:
     *  all 200 become idle keep-alive connections at about the same time. */
    int64_t first_sent = hsn_now_ms ();
    for (int i = 0; i < IDLE_CONNS; i++) {
        fds[i] = tcp_connect (stack->http_port);
        send_all (fds[i], request);
    }
    for (int i = 0; i < IDLE_CONNS; i++) {
        int st = read_response (fds[i], 10000);
        ck_assert_msg (st == 200, "connection %d: %d", i, st);
    }

    /*  A new client is served at once, not after an idle one times out. */
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (status_of ("GET", "/api/openapi.json", NULL, NULL), 200);
    int64_t took = hsn_now_ms () - t0;
    ck_assert_msg (took < 1000, "a new client waited %lld ms", (long long) took);
    /*  While all were still inside the keep-alive timeout (2 s), none was
     *  closed to make room: they were all held open at once. */
    if (hsn_now_ms () - first_sent < 1500)
        for (int i = 0; i < IDLE_CONNS; i++)
            ck_assert_msg (!closed_by_peer (&fds[i]), "idle connection %d closed early", i);

    /*  Idle connections are closed by the server after the keep-alive
     *  timeout. */
    fds_t all = { fds, IDLE_CONNS };
    ck_assert_msg (hsn_wait_until (all_closed, &all, 15000),
                   "idle keep-alive connections were not closed");

    /*  A client that sends half a request is cut off after the request
     *  timeout: an error status (civetweb 1.15 says 400, "Malformed
     *  message", rather than 408) and a close, or just a close. */
    int slow = tcp_connect (stack->http_port);
    send_all (slow, "GET / HTTP/1.1\r\nHost: x\r\n");
    int st = read_response (slow, 10000);
    ck_assert_msg (st == 0 || st == 408 || st == 400, "slow client: %d", st);
    ck_assert_msg (hsn_wait_until (closed_by_peer, &slow, 5000),
                   "the slow client's connection stayed open");
    close (slow);
    ck_assert_int_eq (status_of ("GET", "/api/openapi.json", NULL, NULL), 200);
}
END_TEST

/* ---- 9. API keys ---------------------------------------------------------------- */

START_TEST (api_keys_guard_every_route_but_the_open_ones)
{
    char *env[] = { "API_KEYS=" KEY_A "," KEY_B, "GATEWAY_NEAR_CACHE_SIZE=0", NULL };
    start ("gateway,cache,monitor", true, env);
    add_cache (NULL);
    wait_replicas ("cache", 1, 5000);
    const char *a[] = { "X-API-Key: " KEY_A, NULL };
    const char *bearer[] = { "Authorization: Bearer " KEY_B, NULL };
    ck_assert_int_eq (status_of ("PUT", "/api/cache/auth/k", "1", a), 200);

    hsn_http_resp_t r;
    ck_assert_int_eq (req ("GET", "/api/cache/auth/k", NULL, NULL, &r), 401);
    ck_assert_str_eq (error_code (&r), "unauthorized");
    ck_assert_msg (strncasecmp (hdr (&r, "WWW-Authenticate"), "Bearer", 6) == 0,
                   "WWW-Authenticate: %s", hdr (&r, "WWW-Authenticate"));
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("GET", "/api/cache/auth/k", NULL, a), 200);
    ck_assert_int_eq (status_of ("GET", "/api/cache/auth/k", NULL, bearer), 200);
    const char *wrong[][2] = {
        { "X-API-Key: k3-0123456789abcdef", NULL },
        { "X-API-Key: " KEY_A "x", NULL },
        { "X-API-Key: k1-0123456789abcde", NULL },
        { "X-API-Key: ", NULL },
        { "Authorization: Bearer k3-0123456789abcdef", NULL },
        { "Authorization: Basic " KEY_A, NULL },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        ck_assert_int_eq (req ("GET", "/api/cache/auth/k", NULL, wrong[i], &r), 401);
        ck_assert_str_eq (error_code (&r), "unauthorized");
        hsn_http_resp_free (&r);
    }
    ck_assert_int_eq (status_of ("PUT", "/api/cache/auth/k", "2", NULL), 401);
    ck_assert_int_eq (status_of ("DELETE", "/api/cache/auth/k", NULL, NULL), 401);
    /*  Open routes (health answers 200 or 503 by the cluster's state,
     *  either way the monitor's answer, not a 401). */
    long hst = req ("GET", "/api/optimization/health", NULL, NULL, &r);
    ck_assert_msg ((hst == 200 || hst == 503) && strstr (r.body, "\"success\":true"),
                   "health without a key: %ld %s", hst, r.body);
    hsn_http_resp_free (&r);
    ck_assert_int_eq (status_of ("GET", "/api/openapi.json", NULL, NULL), 200);
}
END_TEST

START_TEST (a_short_api_key_stops_the_gateway)
{
    char *env[] = { "GATEWAY_PORT=0", "GATEWAY_ADDR=127.0.0.1",
                    "BROKER_BIND=tcp://127.0.0.1:*", "MONITOR_ENDPOINT=tcp://127.0.0.1:1",
                    "GATEWAY_NEAR_CACHE_SIZE=0", "API_KEYS=" KEY_A ",tiny-secret", NULL };
    char *argv[] = { "hsn-gateway", NULL };
    hsn_proc_t *gw = hsn_proc_start (hsn_bin ("hsn-gateway"), argv, env);
    ck_assert_ptr_nonnull (gw);
    int status = -1;
    ck_assert_int_eq (hsn_proc_wait (gw, 10000, &status), 0);
    ck_assert (WIFEXITED (status));
    ck_assert_int_eq (WEXITSTATUS (status), 2);
    ck_assert_msg (hsn_proc_log_contains (gw, "\"level\":\"error\"")
                   && hsn_proc_log_contains (gw, "API_KEYS")
                   && hsn_proc_log_contains (gw, "16"),
                   "the log does not name the problem");
    /*  ... without writing the secret into the log. */
    ck_assert (!hsn_proc_log_contains (gw, "tiny-secret"));
    ck_assert (!hsn_proc_log_contains (gw, KEY_A));
    ck_assert (!hsn_proc_log_contains (gw, "\"started\""));
    hsn_proc_destroy (&gw);
}
END_TEST

/* ---- 10. 405 ---------------------------------------------------------------------- */

START_TEST (wrong_method_is_405_with_allow)
{
    start ("gateway,monitor", false, NULL);
    hsn_http_resp_t r;
    ck_assert_int_eq (req ("PATCH", "/api/cache/ns/k", "1", NULL, &r), 405);
    ck_assert_str_eq (hdr (&r, "Allow"), "GET, PUT, DELETE");
    ck_assert_str_eq (error_code (&r), "method_not_allowed");
    hsn_http_resp_free (&r);
    ck_assert_int_eq (req ("POST", "/api/optimization/health", "1", NULL, &r), 405);
    ck_assert_str_eq (hdr (&r, "Allow"), "GET");
    hsn_http_resp_free (&r);
    ck_assert_int_eq (req ("GET", "/api/cache/_invalidate", NULL, NULL, &r), 405);
    ck_assert_ptr_nonnull (strstr (hdr (&r, "Allow"), "POST"));
    hsn_http_resp_free (&r);
}
END_TEST

/* ---- 11. access log ------------------------------------------------------------- */

/*  The gateway log's lines that contain needle, each parsed. */
static int
log_lines (const char *needle, doc_t *out, int max)
{
    size_t len;
    char *log = hsn_read_file (hsn_proc_log_path (stack->gateway), &len);
    ck_assert_ptr_nonnull (log);
    int n = 0;
    for (char *line = log, *next; line && *line; line = next) {
        char *nl = strchr (line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        if (strstr (line, needle) && n < max)
            doc_parse (&out[n++], line, strlen (line));
    }
    free (log);
    return n;
}

static bool
log_has (void *needle)
{
    return hsn_proc_log_contains (stack->gateway, (const char *) needle);
}

START_TEST (access_log_has_one_json_line_per_request)
{
    start ("gateway,monitor", false, NULL);
    hsn_http_resp_t r;
    const char *h[] = { "X-Request-Id: access-log-1", NULL };
    ck_assert_int_eq (req ("GET", "/api/cache/logns/some/key", NULL, h, &r), 503);
    size_t sent = r.body_len;
    hsn_http_resp_free (&r);
    ck_assert (hsn_wait_until (log_has, "\"request_id\":\"access-log-1\"", 5000));
    doc_t lines[4];
    int n = log_lines ("access-log-1", lines, 4);
    ck_assert_int_eq (n, 1);
    doc_t *d = &lines[0];
    ck_assert_msg (d->ok, "the access line is not JSON");
    char buf[256];
    hsn_mp_obj_t o;
    ck_assert_str_eq (doc_str (d, buf, sizeof buf, "event", NULL), "access");
    ck_assert_str_eq (doc_str (d, buf, sizeof buf, "method", NULL), "GET");
    ck_assert_str_eq (doc_str (d, buf, sizeof buf, "route", NULL), "/api/cache/{namespace}/{key}");
    ck_assert (doc_at (d, &o, "status", NULL) && o.type == HSN_MP_UINT && o.v.u == 503);
    ck_assert (doc_at (d, &o, "bytes", NULL) && o.type == HSN_MP_UINT && o.v.u == sent);
    ck_assert (doc_at (d, &o, "duration_us", NULL) && o.type == HSN_MP_UINT);
    ck_assert_str_eq (doc_str (d, buf, sizeof buf, "client", NULL), "127.0.0.1");
    ck_assert_str_eq (doc_str (d, buf, sizeof buf, "level", NULL), "info");
    doc_free (d);

    /*  Whatever the client puts in the path, the line stays one valid JSON
     *  object (quotes, backslashes, control characters). */
    const char *h2[] = { "X-Request-Id: access-log-2", NULL };
    ck_assert_int_eq (req ("GET", "/api/%22x%5c%0a%01%22%7d", NULL, h2, &r), 404);
    hsn_http_resp_free (&r);
    ck_assert (hsn_wait_until (log_has, "\"request_id\":\"access-log-2\"", 5000));
    n = log_lines ("access-log-2", lines, 4);
    ck_assert_int_eq (n, 1);
    ck_assert_msg (lines[0].ok, "a hostile path broke the access line's JSON");
    ck_assert_str_eq (doc_str (&lines[0], buf, sizeof buf, "event", NULL), "access");
    ck_assert (doc_at (&lines[0], &o, "status", NULL) && o.v.u == 404);
    doc_free (&lines[0]);
    /*  Every line of the log is JSON. */
    size_t len;
    char *log = hsn_read_file (hsn_proc_log_path (stack->gateway), &len);
    int bad = 0, count = 0;
    for (char *line = log, *next; line && *line; line = next) {
        char *nl = strchr (line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        doc_t dl;
        doc_parse (&dl, line, strlen (line));
        bad += !dl.ok;
        count++;
        doc_free (&dl);
    }
    free (log);
    ck_assert_int_gt (count, 2);
    ck_assert_int_eq (bad, 0);
}
END_TEST

/*  One case per test, named after it: CK_RUN_CASE=<name> runs one. */
#define ADD(s, fn)                                                           \
    do {                                                                     \
        TCase *tc = tcase_create (#fn);                                      \
        tcase_add_checked_fixture (tc, NULL, teardown);                      \
        tcase_set_timeout (tc, 90);                                          \
        tcase_add_test (tc, fn);                                             \
        suite_add_tcase (s, tc);                                             \
    } while (0)

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway");
    ADD (s, envelope_carries_data_meta_and_request_ids);
    ADD (s, gzip_when_accepted_and_large_enough);
    ADD (s, gzip_never_when_disabled);
    ADD (s, gzip_not_below_the_configured_minimum);
    ADD (s, etag_304_and_cache_control);
    ADD (s, rate_limit_per_client_with_headers_and_refill);
    ADD (s, rate_limit_cannot_be_dodged_with_made_up_keys);
    ADD (s, breaker_opens_answers_at_once_and_closes_after_a_probe);
    ADD (s, stuck_backend_times_out_and_the_limit_sheds_load);
    ADD (s, overload_rejections_do_not_reset_the_breaker);
    ADD (s, limits_on_body_uri_and_nesting);
    ADD (s, idle_keepalive_connections_do_not_starve_new_clients);
    ADD (s, api_keys_guard_every_route_but_the_open_ones);
    ADD (s, a_short_api_key_stops_the_gateway);
    ADD (s, wrong_method_is_405_with_allow);
    ADD (s, access_log_has_one_json_line_per_request);
    return s;
}

HSN_TEST_MAIN (suite)
