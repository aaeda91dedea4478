/*  gateway_http: HTTP server and routes. See gateway_http.h. */
#include "gateway_internal.h"
#include "hsn_time.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Route classes, for latency histograms that merge across replicas. */
enum { ROUTE_CACHE, ROUTE_MONITOR, ROUTE_OTHER, ROUTE__COUNT };
static const char *route_names[ROUTE__COUNT] = { "cache", "monitor", "other" };

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
    t->cfg = &self->cfg;
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
        gateway_cache_route (t, &req, method, uri + sizeof cache_prefix - 1);
    }
    else if (strncmp (uri, "/api/optimization/", 18) == 0) {
        route = ROUTE_MONITOR;
        gateway_monitor_route (t, &req, method, uri + 18);
    }
    else if (strcmp (uri, "/metrics") == 0) {
        route = ROUTE_MONITOR;
        gateway_monitor_prometheus (t, &req, method);
    }
    else if (strcmp (uri, "/") == 0 || strcmp (uri, "/index.html") == 0) {
        route = ROUTE_MONITOR;
        gateway_monitor_dashboard (t, &req, method);
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
