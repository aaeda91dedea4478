/*  gateway_http: HTTP server and routes. See gateway_http.h. */
#include "gateway_http.h"
#include "gateway_json.h"
#include "gateway_reply.h"
#include "hsn_client.h"
#include "hsn_time.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Route classes, for latency histograms that merge across replicas. */
enum { ROUTE_CACHE, ROUTE_HEALTH, ROUTE_OTHER, ROUTE__COUNT };
static const char *route_names[ROUTE__COUNT] = { "cache", "health", "other" };

struct gateway_http {
    struct mg_context *ctx;
    gateway_http_config_t cfg;
    char *inproc;
    int port;
    hsn_hist_t *latency[ROUTE__COUNT];
    uint64_t *requests, *status_4xx, *status_5xx;
};

static void
record (gateway_http_t *self, int route, const gateway_req_t *req)
{
    if (!self->cfg.metrics)
        return;
    hsn_hist_record (self->latency[route], (uint64_t) (hsn_now_us () - req->started_us));
    hsn_counter_add (self->requests, 1);
    if (req->status >= 500)
        hsn_counter_add (self->status_5xx, 1);
    else if (req->status >= 400)
        hsn_counter_add (self->status_4xx, 1);
}

/*  What each civetweb worker thread owns. */
typedef struct {
    hsn_client_t *client;
    hsn_enc_t enc;
    gateway_json_buf_t body, out, json;
    msgpack_sbuffer mp;
} gw_thread_t;

static gateway_http_t *s_self;      /* civetweb's thread hooks carry no user data */

static void *
on_thread_start (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)           /* 1: a worker thread */
        return NULL;
    gw_thread_t *t = (gw_thread_t *) calloc (1, sizeof *t);
    if (!t)
        return NULL;
    gateway_http_t *self = (gateway_http_t *) mg_get_user_data (ctx);
    t->client = hsn_client_new (self->inproc);
    hsn_enc_init (&t->enc);
    gateway_json_buf_init (&t->body);
    gateway_json_buf_init (&t->out);
    gateway_json_buf_init (&t->json);
    msgpack_sbuffer_init (&t->mp);
    return t;
}

static void
on_thread_stop (const struct mg_context *ctx, int thread_type, void *ptr)
{
    gw_thread_t *t = (gw_thread_t *) ptr;
    if (!t)
        return;
    hsn_client_destroy (&t->client);
    hsn_enc_release (&t->enc);
    gateway_json_buf_free (&t->body);
    gateway_json_buf_free (&t->out);
    gateway_json_buf_free (&t->json);
    msgpack_sbuffer_destroy (&t->mp);
    free (t);
}

/*  Send the envelope in t->enc (request id rid) and decode the reply into
 *  env; on any failure answer the HTTP client and return -1. The reply
 *  frame stays in *msg for the caller to read fields from, then close. */
static int
call_backend (gw_thread_t *t, gateway_req_t *req, uint64_t rid,
              zmq_msg_t *msg, hsn_env_t *env)
{
    gateway_http_t *self = s_self;
    int rc = hsn_client_call (t->client, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc),
                              rid, (int) self->cfg.backend_timeout_ms, msg);
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

/*  Read the whole body into t->body-independent buffer t->json. Returns 0,
 *  or -1 after answering 413/400. */
static int
read_body (gw_thread_t *t, gateway_req_t *req)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    gateway_http_t *self = s_self;
    if (ri->content_length > (long long) self->cfg.max_body_bytes) {
        gateway_reply_error (req, 413, "too_large", "request body exceeds the limit");
        return -1;
    }
    gateway_json_buf_reset (&t->json);
    char chunk[16384];
    int n;
    while ((n = mg_read (req->conn, chunk, sizeof chunk)) > 0) {
        if (t->json.len + (size_t) n > self->cfg.max_body_bytes) {
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

static bool
query_uint (const char *qs, const char *name, uint64_t *out, bool *bad)
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

/*  /api/cache/{ns}/{key}: everything after the namespace is the key. */
static void
route_cache_key (gw_thread_t *t, gateway_req_t *req, const char *method,
                 const char *ns, size_t nslen, const char *key, size_t keylen)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    uint64_t rid = hsn_client_next_rid (t->client);
    uint32_t op;
    if (strcmp (method, "GET") == 0) {
        op = HSN_OP_CACHE_GET;
        hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0, 2);
    }
    else if (strcmp (method, "PUT") == 0) {
        op = HSN_OP_CACHE_SET;
        bool bad = false;
        uint64_t ttl = 0;
        bool has_ttl = query_uint (ri->query_string, "ttl", &ttl, &bad);
        if (bad || (has_ttl && ttl == 0)) {
            gateway_reply_error (req, 400, "bad_request", "ttl must be a positive integer (seconds)");
            return;
        }
        if (read_body (t, req))
            return;
        char err[256];
        msgpack_sbuffer_clear (&t->mp);
        int rc = gateway_json_to_mp (t->json.data, t->json.len, HSN_PROTO_MAX_DEPTH - 2,
                                     &t->mp, err, sizeof err);
        if (rc) {
            gateway_reply_error (req, 400, "invalid_json", err);
            return;
        }
        hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0,
                       has_ttl ? 4 : 3);
        hsn_enc_raw (&t->enc, HSN_FIELD_VALUE, t->mp.data, t->mp.size);
        if (has_ttl)
            hsn_enc_uint (&t->enc, HSN_FIELD_TTL, ttl);
    }
    else if (strcmp (method, "DELETE") == 0) {
        op = HSN_OP_CACHE_DELETE;
        hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0, 2);
    }
    else {
        gateway_reply_error (req, 405, "method_not_allowed", "use GET, PUT or DELETE");
        return;
    }
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    hsn_enc_str (&t->enc, HSN_FIELD_KEY, key, keylen);

    zmq_msg_t msg;
    hsn_env_t env;
    if (call_backend (t, req, rid, &msg, &env))
        return;
    /*  The data document; the request body it once held was sent already. */
    gateway_json_buf_t *d = &t->json;
    gateway_json_buf_reset (d);
    gateway_json_buf_append (d, "{\"namespace\":", 13);
    gateway_json_append_str (d, ns, nslen);
    gateway_json_buf_append (d, ",\"key\":", 7);
    gateway_json_append_str (d, key, keylen);
    uint64_t ttl = 0;
    char num[64];
    if (op == HSN_OP_CACHE_GET) {
        const hsn_mp_obj_t *v = &env.fields[HSN_FIELD_VALUE];
        gateway_json_buf_append (d, ",\"value\":", 9);
        if (!hsn_env_has (&env, HSN_FIELD_VALUE)
            || gateway_json_from_mp (v->raw, v->raw_len, HSN_PROTO_MAX_DEPTH, d)) {
            zmq_msg_close (&msg);
            gateway_reply_error (req, 502, "malformed", "the cache returned an unreadable value");
            return;
        }
        const char *level = "l2";
        size_t llen = 2;
        hsn_env_str (&env, HSN_FIELD_LEVEL, &level, &llen);
        gateway_json_buf_append (d, ",\"level\":", 9);
        gateway_json_append_str (d, level, llen);
        hsn_env_uint (&env, HSN_FIELD_TTL, &ttl);
        gateway_json_buf_append (d, num, (size_t) snprintf (num, sizeof num, ",\"ttl\":%llu}",
                                                            (unsigned long long) ttl));
        char cc[64];
        snprintf (cc, sizeof cc, "max-age=%llu", (unsigned long long) ttl);
        req->cache_control = cc;
        zmq_msg_close (&msg);
        gateway_reply_ok (req, 200, d->data, d->len);
        return;
    }
    if (op == HSN_OP_CACHE_SET) {
        hsn_env_uint (&env, HSN_FIELD_TTL, &ttl);
        gateway_json_buf_append (d, num, (size_t) snprintf (num, sizeof num, ",\"ttl\":%llu}",
                                                            (unsigned long long) ttl));
    }
    else
        gateway_json_buf_append (d, ",\"deleted\":true}", 16);
    zmq_msg_close (&msg);
    gateway_reply_ok (req, 200, d->data, d->len);
}

static void
route_health (gw_thread_t *t, gateway_req_t *req)
{
    uint64_t rid = hsn_client_next_rid (t->client);
    hsn_enc_begin (&t->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_MONITOR,
                   HSN_OP_MONITOR_HEALTH, 0, 0);
    zmq_msg_t msg;
    hsn_env_t env;
    if (call_backend (t, req, rid, &msg, &env))
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

static int
on_request (struct mg_connection *conn, void *cbdata)
{
    gw_thread_t *t = (gw_thread_t *) mg_get_thread_pointer (conn);
    const struct mg_request_info *ri = mg_get_request_info (conn);
    gateway_json_buf_t body, out;
    gateway_req_t req;
    if (!t || !t->client) {
        /*  Thread set-up failed (out of memory): answer without scratch. */
        gateway_json_buf_init (&body);
        gateway_json_buf_init (&out);
        gateway_req_init (&req, conn, &body, &out);
        gateway_reply_error (&req, 503, "unavailable", "gateway thread not ready");
        gateway_json_buf_free (&body);
        gateway_json_buf_free (&out);
        return 1;
    }
    gateway_req_init (&req, conn, &t->body, &t->out);
    const char *uri = ri->local_uri ? ri->local_uri : "";
    const char *method = ri->request_method;
    static const char cache_prefix[] = "/api/cache/";
    int route = ROUTE_OTHER;
    if (strncmp (uri, cache_prefix, sizeof cache_prefix - 1) == 0) {
        route = ROUTE_CACHE;
        const char *ns = uri + sizeof cache_prefix - 1;
        const char *slash = strchr (ns, '/');
        if (slash && slash > ns && slash[1])
            route_cache_key (t, &req, method, ns, (size_t) (slash - ns), slash + 1,
                             strlen (slash + 1));
        else
            gateway_reply_error (&req, 404, "not_found", "use /api/cache/{namespace}/{key}");
    }
    else if (strcmp (uri, "/api/optimization/health") == 0) {
        route = ROUTE_HEALTH;
        if (strcmp (method, "GET") == 0)
            route_health (t, &req);
        else
            gateway_reply_error (&req, 405, "method_not_allowed", "use GET");
    }
    else
        gateway_reply_error (&req, 404, "not_found", "no such route");
    record (s_self, route, &req);
    return 1;
}

gateway_http_t *
gateway_http_new (const gateway_http_config_t *cfg)
{
    gateway_http_t *self = (gateway_http_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->inproc = strdup (cfg->broker_inproc);
    if (cfg->metrics) {
        char name[96];
        for (int r = 0; r < ROUTE__COUNT; r++) {
            snprintf (name, sizeof name, "gateway.route.%s.latency_us", route_names[r]);
            self->latency[r] = hsn_metrics_hist (cfg->metrics, name);
        }
        self->requests = hsn_metrics_counter (cfg->metrics, "gateway.http.requests");
        self->status_4xx = hsn_metrics_counter (cfg->metrics, "gateway.http.status_4xx");
        self->status_5xx = hsn_metrics_counter (cfg->metrics, "gateway.http.status_5xx");
    }
    s_self = self;
    char threads[16], keepalive[16], timeout[16];
    snprintf (threads, sizeof threads, "%u", cfg->threads);
    snprintf (keepalive, sizeof keepalive, "%u", cfg->keepalive_ms);
    snprintf (timeout, sizeof timeout, "%u", 30000u);
    const char *options[] = {
        "listening_ports", cfg->listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", keepalive,
        "request_timeout_ms", timeout,
        /*  Headers and body leave in one write; Nagle would only delay it. */
        "tcp_nodelay", "1",
        NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.init_thread = on_thread_start;
    callbacks.exit_thread = on_thread_stop;
    self->ctx = mg_start (&callbacks, self, options);
    if (!self->ctx) {
        free (self->inproc);
        free (self);
        s_self = NULL;
        return NULL;
    }
    mg_set_request_handler (self->ctx, "/", on_request, self);
    struct mg_server_port ports[4];
    int n = mg_get_server_ports (self->ctx, 4, ports);
    self->port = n > 0 ? ports[0].port : -1;
    return self;
}

void
gateway_http_destroy (gateway_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_http_t *self = *self_p;
    mg_stop (self->ctx);
    free (self->inproc);
    free (self);
    s_self = NULL;
    *self_p = NULL;
}

int
gateway_http_port (const gateway_http_t *self)
{
    return self->port;
}
