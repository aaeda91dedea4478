/*  gateway_http: the public HTTP server (civetweb) and its routes.
 *
 *  Each civetweb worker thread owns a DEALER on the broker's inproc endpoint
 *  (ZeroMQ sockets are single-threaded), created when the thread starts and
 *  closed when it ends; a request is one synchronous call through it.
 */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdint.h>
#include <stdbool.h>
#include "gateway_auth.h"
#include "gateway_guard.h"
#include "gateway_hub.h"
#include "gateway_reply.h"
#include "gateway_near.h"
#include "hsn_metrics.h"

typedef struct gateway_http gateway_http_t;

typedef struct {
    const char *listen;             /* civetweb listening_ports, e.g. "8080" */
    /*  The event-driven front (gateway_front.h) on front_addr:front_port,
     *  civetweb then on loopback behind it; front_threads 0: civetweb
     *  listens on `listen` itself. */
    const char *front_addr;
    int front_port;
    uint32_t front_threads;
    uint32_t front_max_conns;
    int front_fd_base;
    const char *broker_inproc;      /* inproc endpoint of the broker */
    uint32_t threads;               /* civetweb worker threads */
    uint32_t backend_timeout_ms;    /* longest wait for a backend reply */
    uint32_t max_body_bytes;        /* request bodies above: 413 */
    uint32_t keepalive_ms;          /* idle keep-alive connections closed after */
    uint32_t request_timeout_ms;    /* a request must arrive within: else 408 */
    uint32_t max_request_bytes;     /* request line + headers, above: 413/431 */
    bool compression;               /* ENABLE_COMPRESSION */
    uint32_t min_compression;       /* MIN_COMPRESSION_SIZE */
    hsn_metrics_t *metrics;         /* request counts and latency; may be NULL */
    gateway_near_t *near;           /* near-cache of cache reads; may be NULL */
    gateway_guard_t *guard;         /* rate limits, breakers, concurrency */
    gateway_auth_t *auth;           /* API keys; may be NULL (open) */
    gateway_hub_t *hub;             /* long-polls and streams; NULL: refused (503) */
} gateway_http_config_t;

/*  Start listening. Returns NULL (and logs nothing) when civetweb cannot
 *  start, e.g. the port is taken. */
gateway_http_t *gateway_http_new (const gateway_http_config_t *cfg);

/*  Stop accepting, let requests in flight finish, close. NULL-safe. */
void gateway_http_destroy (gateway_http_t **self_p);

/*  Called by a route handler that handed its connection to the hub
 *  (gateway_takeover): the request is not counted in the route latency
 *  histograms (gateway.route.*.latency_us feed the response-time KPI; a
 *  client's chosen wait is no response time), the hub records it instead
 *  (gateway.hub.*). Only from the request's own thread. */
void gateway_http_handed_off (gateway_req_t *req);

/*  The TCP port actually listened on (useful with "127.0.0.1:0"). */
int gateway_http_port (const gateway_http_t *self);

#endif
