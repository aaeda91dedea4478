/*  gateway_http: the HTTP server and the way in of every request.
 *
 *  For each request, in order: match the route (404/405), check the API key
 *  (401), take a token from the client's bucket (429), dispatch, then count
 *  it and write one access-log line. Backend calls pass the circuit breaker
 *  and the concurrency limit in gateway_call.
 */
#include "gateway_http_int.h"
#include "gateway_front.h"
#include "hsn_log.h"
#include "hsn_time.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *route_names[ROUTE__COUNT] = { "cache", "monitor", "other", "query", "agents" };

/*  Set by gateway_http_handed_off during the request of this thread. */
static __thread bool handed_off;

void
gateway_http_handed_off (gateway_req_t *req)
{
    handed_off = true;
    /*  For the access log: the hub answers 200 unless the bus fails. */
    req->status = 200;
}

void
gateway_http_record (gateway_http_t *self, int route, const gateway_req_t *req)
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

/*  What a thread that answers requests owns (a civetweb worker, a front
 *  loop); NULL when out of memory. */
gw_thread_t *
gateway_http_thread_new (gateway_http_t *self)
{
    gw_thread_t *t = (gw_thread_t *) calloc (1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = &self->cfg;
    t->inproc = self->inproc;
    hsn_enc_init (&t->enc);
    gateway_json_buf_init (&t->body);
    gateway_json_buf_init (&t->out);
    gateway_json_buf_init (&t->json);
    gateway_zip_init (&t->zip, self->cfg.compression, self->cfg.min_compression, 1);
    msgpack_sbuffer_init (&t->mp);
    return t;
}

static void *
on_thread_start (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)           /* 1: a worker thread */
        return NULL;
    return gateway_http_thread_new ((gateway_http_t *) mg_get_user_data (ctx));
}

void
gateway_http_thread_free (gw_thread_t *t)
{
    if (!t)
        return;
    hsn_client_destroy (&t->client);
    hsn_enc_release (&t->enc);
    gateway_json_buf_free (&t->body);
    gateway_json_buf_free (&t->out);
    gateway_json_buf_free (&t->json);
    gateway_zip_release (&t->zip);
    msgpack_sbuffer_destroy (&t->mp);
    free (t);
}

static void
on_thread_stop (const struct mg_context *ctx, int thread_type, void *ptr)
{
    gateway_http_thread_free ((gw_thread_t *) ptr);
}

/*  API key, then rate limit. Returns 0 to go on, or -1 after answering. */
int
gateway_http_admit (gateway_http_t *self, gateway_req_t *req, const gateway_route_t *r,
       const char *client, size_t client_len)
{
    if (!r->open && gateway_auth_count (self->cfg.auth)
        && !gateway_auth_valid (self->cfg.auth,
                                gateway_auth_presented (req->io.header, req->io.ctx))) {
        hsn_counter_add (self->unauthorized, 1);
        gateway_req_header (req, "WWW-Authenticate: Bearer realm=\"hsn\"");
        gateway_reply_error (req, 401, "unauthorized",
                             "an API key is required: X-API-Key or Authorization: Bearer");
        return -1;
    }
    uint32_t remaining, reset, retry_after;
    bool ok = gateway_guard_rate (self->cfg.guard, client, client_len, hsn_now_us (),
                                  &remaining, &reset, &retry_after);
    if (remaining != UINT32_MAX) {
        /*  RateLimit header fields (IETF httpapi draft) on every answer
         *  while limiting is on. */
        gateway_req_header (req, "RateLimit-Limit: %u", gateway_guard_burst (self->cfg.guard));
        gateway_req_header (req, "RateLimit-Remaining: %u", remaining);
        gateway_req_header (req, "RateLimit-Reset: %u", reset);
    }
    if (!ok) {
        hsn_counter_add (self->rate_limited, 1);
        gateway_req_header (req, "Retry-After: %u", retry_after);
        gateway_reply_error (req, 429, "rate_limited", "too many requests from this client");
        return -1;
    }
    return 0;
}

/*  An unmatched path or a method is whatever the client sent: for the log,
 *  a copy cut to fit out[cap], with control and non-ASCII bytes as '?' (a
 *  log line must stay one line of valid UTF-8). */
static const char *
printable (const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        out[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
    out[n] = 0;
    return out;
}

/*  s (printable) as the inside of a JSON string, cut to fit out[cap]. */
static const char *
json_inside (const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        bool esc = *s == '"' || *s == '\\';
        if (n + 1 + esc >= cap)
            break;
        if (esc)
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = 0;
    return out;
}

void
gateway_http_log (const gateway_req_t *req, const char *method, const char *route,
            const char *client, bool hub)
{
    if (!hsn_log_enabled (HSN_LOG_INFO))
        return;
    char fields[1024], m[40], r[256], jm[80], jr[512];
    printable (method, m, sizeof m);
    printable (route, r, sizeof r);
    snprintf (fields, sizeof fields,
              "\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"bytes\":%zu,"
              "\"duration_us\":%lld,\"request_id\":\"%s\",\"client\":\"%s\"%s",
              json_inside (m, jm, sizeof jm), json_inside (r, jr, sizeof jr),
              req->status, req->bytes,
              (long long) (hsn_now_us () - req->started_us), req->request_id, client,
              hub ? ",\"handed_off\":true" : "");
    hsn_log_kv (HSN_LOG_INFO, "access", fields, "%s %s %d", m, r, req->status);
}

/*  The route class of r, for the metrics. */
int
gateway_http_route_class (const gateway_route_t *r)
{
    for (int i = 0; i < ROUTE__COUNT; i++)
        if (strcmp (r->route_class, route_names[i]) == 0)
            return i;
    return ROUTE_OTHER;
}

/*  The client a bucket belongs to: its API key when that is one of ours,
 *  else its address (a made-up key must not buy a fresh bucket). */
const char *
gateway_http_bucket (gateway_http_t *self, const gateway_req_t *req, const char *addr)
{
    const char *client = gateway_auth_presented (req->io.header, req->io.ctx);
    if (!client || !*client || !gateway_auth_count (self->cfg.auth)
        || !gateway_auth_valid (self->cfg.auth, client))
        client = addr;
    return client;
}

/*  The client's address: civetweb's peer, unless that is the front
 *  relaying a request with the secret it was given ("<secret> <addr>"). */
static const char *
peer_of (gateway_http_t *self, struct mg_connection *conn, const struct mg_request_info *ri)
{
    const char *h = self->front ? mg_get_header (conn, "X-Hsn-Peer") : NULL;
    if (h && strncmp (h, self->secret, 32) == 0 && h[32] == ' ' && h[33])
        return h + 33;
    return ri->remote_addr;
}

/*  Did the front admit this request already (API key, rate limit)? */
static bool
admitted (gateway_http_t *self, struct mg_connection *conn, const gateway_req_t *req)
{
    const char *h = req->front_secret ? mg_get_header (conn, "X-Hsn-Admitted") : NULL;
    return h && strcmp (h, self->secret) == 0;
}

static int
on_request (struct mg_connection *conn, void *cbdata)
{
    gateway_http_t *self = (gateway_http_t *) cbdata;
    gw_thread_t *t = (gw_thread_t *) mg_get_thread_pointer (conn);
    const struct mg_request_info *ri = mg_get_request_info (conn);
    gateway_json_buf_t body, out;
    gateway_req_t req;
    if (!t) {
        /*  Thread set-up failed (out of memory): answer without scratch. */
        gateway_json_buf_init (&body);
        gateway_json_buf_init (&out);
        gateway_req_init (&req, conn, &body, &out, NULL);
        gateway_reply_error (&req, 503, "unavailable", "gateway thread not ready");
        gateway_json_buf_free (&body);
        gateway_json_buf_free (&out);
        return 1;
    }
    gateway_req_init (&req, conn, &t->body, &t->out, &t->zip);
    handed_off = false;
    const char *uri = ri->local_uri ? ri->local_uri : "";
    const char *method = ri->request_method;
    const char *peer = peer_of (self, conn, ri);
    if (peer != ri->remote_addr)
        req.front_secret = self->secret;    /* the front relays this request */
    const char *client = gateway_http_bucket (self, &req, peer);
    gateway_params_t params;
    char allow[64];
    const gateway_route_t *r = gateway_route_match (method, uri, &params, allow, sizeof allow);
    int route = ROUTE_OTHER;
    if (!r && allow[0])
        gateway_reply_method (&req, allow);
    else if (!r)
        gateway_reply_error (&req, 404, "not_found", "no such route");
    else if (admitted (self, conn, &req)
             || gateway_http_admit (self, &req, r, client, strlen (client)) == 0) {
        route = gateway_http_route_class (r);
        switch (r->handler) {
            case H_MONITOR:    gateway_monitor_route (t, &req, method, uri + 18); break;
            case H_PROMETHEUS: gateway_monitor_prometheus (t, &req, method); break;
            case H_DASHBOARD:  gateway_monitor_dashboard (t, &req, method); break;
            case H_OPENAPI:    gateway_openapi (t, &req); break;
            case H_QUERY_LIST: case H_QUERY_BATCH: case H_QUERY_SQL: case H_QUERY_RUN: case H_QUERY_GET:
                gateway_query_handle (t, &req, r->handler, &params);
                break;
            case H_AGENT_LIST: case H_AGENT_BROADCAST: case H_AGENT_SEND:
            case H_AGENT_RECEIVE: case H_AGENT_ACK: case H_AGENT_STREAM:
            case H_AGENT_DEAD_LETTERS: case H_TOPIC_PUBLISH: case H_TOPIC_SUBSCRIBE:
            case H_TOPIC_UNSUBSCRIBE:
                gateway_agents_handle (t, &req, r->handler, &params);
                break;
            default:           gateway_cache_handle (t, &req, r->handler, &params); break;
        }
    }
    /*  A request handed to the hub is answered later, after a wait the
     *  client chose: counted there, never as route latency. */
    if (handed_off)
        hsn_counter_add (self->handoffs, 1);
    else
        gateway_http_record (self, route, &req);
    gateway_http_log (&req, method, r ? r->pattern : uri, peer, handed_off);
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
    static uint64_t dummy;
    self->rate_limited = self->unauthorized = self->handoffs = &dummy;
    if (cfg->metrics) {
        char name[96];
        for (int r = 0; r < ROUTE__COUNT; r++) {
            snprintf (name, sizeof name, "gateway.route.%s.latency_us", route_names[r]);
            self->latency[r] = hsn_metrics_hist (cfg->metrics, name);
        }
        self->requests = hsn_metrics_counter (cfg->metrics, "gateway.http.requests");
        self->status_4xx = hsn_metrics_counter (cfg->metrics, "gateway.http.status_4xx");
        self->status_5xx = hsn_metrics_counter (cfg->metrics, "gateway.http.status_5xx");
        self->rate_limited = hsn_metrics_counter (cfg->metrics, "gateway.http.rate_limited");
        self->unauthorized = hsn_metrics_counter (cfg->metrics, "gateway.http.unauthorized");
        self->handoffs = hsn_metrics_counter (cfg->metrics, "gateway.http.handed_off");
    }
    char threads[16], keepalive[16], timeout[16], max_request[16];
    snprintf (threads, sizeof threads, "%u", cfg->threads);
    snprintf (keepalive, sizeof keepalive, "%u", cfg->keepalive_ms);
    snprintf (timeout, sizeof timeout, "%u", cfg->request_timeout_ms);
    snprintf (max_request, sizeof max_request, "%u", cfg->max_request_bytes);
    const char *options[] = {
        "listening_ports", cfg->listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        /*  Idle keep-alive connections give their thread back soon; a
         *  client that trickles its request is cut off (408). */
        "keep_alive_timeout_ms", keepalive,
        "request_timeout_ms", timeout,
        "max_request_size", max_request,
        "listen_backlog", "1024",
        "connection_queue", "1024",
        /*  Headers and body leave in one write; Nagle would only delay it. */
        "tcp_nodelay", "1",
        "enable_directory_listing", "no",
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
        return NULL;
    }
    mg_set_request_handler (self->ctx, "/", on_request, self);
    struct mg_server_port ports[4];
    int n = mg_get_server_ports (self->ctx, 4, ports);
    self->port = n > 0 ? ports[0].port : -1;
    if (cfg->front_threads && gateway_http_start_front (self) < 0) {
        gateway_http_destroy (&self);
        return NULL;
    }
    return self;
}

void
gateway_http_destroy (gateway_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_http_t *self = *self_p;
    /*  The front first: what it relays needs civetweb until it is done. */
    gateway_front_destroy (&self->front);
    if (self->ctx)
        mg_stop (self->ctx);
    free (self->inproc);
    free (self);
    *self_p = NULL;
}

int
gateway_http_port (const gateway_http_t *self)
{
    return self->port;
}
