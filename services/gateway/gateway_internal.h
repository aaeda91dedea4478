/*  gateway_internal: what the gateway's route modules share (not public).
 *
 *  gateway_http.c    civetweb's side: threads, dispatch, request metrics
 *  gateway_http_front.c the front's side: the routes answered in its loops
 *  gateway_front*.c  the event-driven HTTP front (gateway_front.h)
 *  gateway_fast.c    backend calls that do not block a front loop
 *  gateway_call.c    calling a backend through the broker, request bodies
 *  gateway_cache.c   /api/cache routes
 *  gateway_query.c   /api/queries routes
 *  gateway_agents.c  /api/agents and /api/topics routes
 *  gateway_hub*.c    the hub holding long-polls and SSE streams (gateway_hub.h)
 *  gateway_takeover.c taking a connection's socket from civetweb
 *  gateway_sse.c     the bytes the hub writes
 *  gateway_monitor.c /api/optimization routes, /metrics, the dashboard
 */
#ifndef GATEWAY_INTERNAL_H
#define GATEWAY_INTERNAL_H

#include "gateway_http.h"
#include "gateway_json.h"
#include "gateway_reply.h"
#include "gateway_routes.h"
#include "hsn_client.h"

/*  What each civetweb worker thread owns. */
typedef struct {
    const gateway_http_config_t *cfg;
    const char *inproc;
    hsn_client_t *client;           /* created on the thread's first call */
    struct gateway_fast *fast;      /* a front loop's calls (then no client) */
    hsn_enc_t enc;
    gateway_json_buf_t body, out, json;
    gateway_zip_t zip;
    msgpack_sbuffer mp;
} gw_thread_t;

/*  A request id for the next call (and the thread's broker link, made on
 *  first use: most of civetweb's threads never call a backend). */
uint64_t gateway_next_rid (gw_thread_t *t);

/*  Start a request envelope for op (its service is the op's: the high bits
 *  of its number) with nfields body fields in t->enc; returns its request
 *  id for gateway_call. */
uint64_t gateway_begin (gw_thread_t *t, uint32_t op, uint32_t nfields);

/*  Send the envelope in t->enc (request id rid) and decode the reply into
 *  env; on any failure (timeout, error status) answer the HTTP client and
 *  return -1. On 0 the reply frame is in *msg: the caller reads env's
 *  fields, then closes it. */
int gateway_call (gw_thread_t *t, gateway_req_t *req, uint64_t rid, zmq_msg_t *msg,
                  hsn_env_t *env);

/*  The second half of gateway_call, for a reply already decoded: 0 when
 *  its status is OK or CREATED, else -1 after answering the HTTP client
 *  with the status's error (msg closed). */
int gateway_call_status (gateway_req_t *req, zmq_msg_t *msg, hsn_env_t *env);

/*  The same with the breaker, concurrency slot and retry, but a reply of
 *  any status is the caller's: 0 with env decoded (error statuses too; the
 *  caller reads what it needs, e.g. a SQLSTATE, then closes *msg); -1 after
 *  answering the HTTP client when no decodable reply came (timeout, broker
 *  link, circuit open, overloaded, undecodable). */
int gateway_call_any (gw_thread_t *t, gateway_req_t *req, uint64_t rid, zmq_msg_t *msg,
                      hsn_env_t *env);

/*  Read the whole request body into t->json. Returns 0, or -1 after
 *  answering 413 (over the limit) or 400 (empty). */
int gateway_read_body (gw_thread_t *t, gateway_req_t *req);

/*  Read the JSON body and convert it to msgpack in t->mp. Returns 0, or -1
 *  after answering 4xx. */
int gateway_read_json (gw_thread_t *t, gateway_req_t *req);

/*  Query parameter name as an unsigned integer. Returns true when present
 *  and valid; sets *bad when present and invalid. */
bool gateway_query_uint (const char *qs, const char *name, uint64_t *out, bool *bad);

/*  In the msgpack map mp (from gateway_read_json), the value of key; 0 or
 *  -ENOENT. */
int gateway_mp_member (const void *mp, size_t len, const char *key, hsn_mp_obj_t *out);

/*  GET /api/openapi.json */
void gateway_openapi (gw_thread_t *t, gateway_req_t *req);
/*  The OpenAPI document itself (for tests). */
extern const char gateway_openapi_json[];

/*  Route handlers: path is what follows the route's prefix. */
void gateway_cache_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                           const gateway_params_t *params);
/*  The near-cache's copy of ns/key: 0 with it in t->json (*prefix points
 *  there) and its expiry, or -ENOENT. */
int gateway_cache_near_get (gw_thread_t *t, const char *ns, size_t nslen, const char *key,
                            size_t keylen, int64_t now, gateway_prefix_t *prefix,
                            int64_t *expires);
/*  Answer with a copy from gateway_cache_near_get. */
void gateway_cache_near_send (gateway_req_t *req, const gateway_prefix_t *prefix,
                              int64_t expires, int64_t now);
/*  /api/queries routes (gateway_query.c). */
void gateway_query_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                           const gateway_params_t *params);
/*  /api/agents and /api/topics routes (gateway_agents.c). */
void gateway_agents_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                            const gateway_params_t *params);
void gateway_monitor_route (gw_thread_t *t, gateway_req_t *req, const char *method,
                            const char *path);
/*  GET /metrics: Prometheus text exposition. */
void gateway_monitor_prometheus (gw_thread_t *t, gateway_req_t *req, const char *method);
/*  GET /: the live dashboard. */
void gateway_monitor_dashboard (gw_thread_t *t, gateway_req_t *req, const char *method);

#endif
