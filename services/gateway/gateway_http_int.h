/*  gateway_http_int: what gateway_http.c (civetweb's side) and
 *  gateway_http_front.c (the front's side) share (not public). */
#ifndef GATEWAY_HTTP_INT_H
#define GATEWAY_HTTP_INT_H

#include "gateway_internal.h"
#include "hsn_metrics.h"

typedef struct gateway_front gateway_front_t;

/*  Route classes, for latency histograms that merge across replicas. */
enum { ROUTE_CACHE, ROUTE_MONITOR, ROUTE_OTHER, ROUTE_QUERY, ROUTE_AGENTS, ROUTE__COUNT };

struct gateway_http {
    struct mg_context *ctx;
    gateway_http_config_t cfg;
    char *inproc;
    int port;
    hsn_hist_t *latency[ROUTE__COUNT];
    uint64_t *requests, *status_4xx, *status_5xx, *rate_limited, *unauthorized;
    uint64_t *handoffs;
    gateway_front_t *front;         /* NULL: civetweb is the public port */
    char secret[33];                /* the front's proof in X-Hsn-Peer */
};

/*  What a thread that answers requests owns (a civetweb worker, a front
 *  loop); NULL when out of memory. Freed by gateway_http_thread_free
 *  (NULL-safe). */
gw_thread_t *gateway_http_thread_new (gateway_http_t *self);
void gateway_http_thread_free (gw_thread_t *t);

/*  API key (401), then rate limit (429, RateLimit fields). Returns 0 to go
 *  on, or -1 after answering. client is the bucket (gateway_http_bucket). */
int gateway_http_admit (gateway_http_t *self, gateway_req_t *req, const gateway_route_t *r,
                        const char *client, size_t client_len);

/*  The bucket a request belongs to: its API key when that is one of ours,
 *  else addr. */
const char *gateway_http_bucket (gateway_http_t *self, const gateway_req_t *req,
                                 const char *addr);

/*  Count an answered request in its route class's histogram and status
 *  counters; write its access-log line (hub: handed to the hub). */
void gateway_http_record (gateway_http_t *self, int route, const gateway_req_t *req);
void gateway_http_log (const gateway_req_t *req, const char *method, const char *route,
                       const char *client, bool hub);

/*  The route class of r. */
int gateway_http_route_class (const gateway_route_t *r);

/*  Start the front on the public address, civetweb already listening on
 *  loopback (self->port); self->port becomes the front's. 0 or -1. */
int gateway_http_start_front (gateway_http_t *self);

#endif
