/*  hsn_worker: a service replica's link to the broker.
 *
 *  A replica connects a DEALER to the broker (hosted in the gateway), says
 *  READY with its service, replica id and credits (how many requests it takes
 *  at once), and then heartbeats. The broker dispatches requests as
 *      [route][envelope]
 *  where route is an opaque token the reply must carry back. The handler may
 *  answer at once or later (after a Redis or PostgreSQL round trip): it keeps
 *  a copy of the route and calls hsn_worker_reply when it is done.
 *
 *  Runs inside the caller's zloop: no threads of its own.
 */
#ifndef HSN_WORKER_H
#define HSN_WORKER_H

#include <czmq.h>
#include "hsn_proto.h"
#include "hsn_sock.h"

#define HSN_ROUTE_MAX 16

/*  Opaque reply route, copied by value. */
typedef struct {
    uint8_t len;
    uint8_t bytes[HSN_ROUTE_MAX];
} hsn_route_t;

typedef struct hsn_worker hsn_worker_t;

/*  Called for every well-formed request. req (and the memory its fields
 *  point to) is valid only during the call. The handler must eventually call
 *  hsn_worker_reply exactly once with this route. */
typedef void (hsn_worker_fn) (hsn_worker_t *worker, const hsn_route_t *route,
                              const hsn_env_t *req, void *arg);

/*  Called after each batch of requests drained in one wake-up, so a handler
 *  that deferred work (a Redis pipeline) can flush it in one round trip. */
typedef void (hsn_worker_batch_fn) (hsn_worker_t *worker, void *arg);

typedef struct {
    const char *endpoint;       /* broker, e.g. tcp://gateway:5555 */
    uint32_t service;           /* HSN_SERVICE_* */
    const char *replica;        /* replica id, e.g. host:pid */
    uint32_t credits;           /* requests taken at once, >= 1 */
    uint32_t heartbeat_ms;      /* heartbeat interval, >= 10 */
    hsn_worker_fn *handler;
    void *arg;
    hsn_worker_batch_fn *batch_end;     /* may be NULL */
} hsn_worker_config_t;

/*  Connect to the broker and register the link's reader and heartbeat timer
 *  in loop. Returns NULL if the endpoint is invalid. */
hsn_worker_t *hsn_worker_new (zloop_t *loop, const hsn_worker_config_t *cfg);

/*  Unregister from the loop, say DISCONNECT, close. NULL-safe; nulls *self_p. */
void hsn_worker_destroy (hsn_worker_t **self_p);

/*  Send a finished reply frame along route. Returns 0 or -EIO. */
int hsn_worker_reply (hsn_worker_t *self, const hsn_route_t *route,
                      const void *frame, size_t len);

/*  Same, for an encoder holding a finished envelope. */
int hsn_worker_reply_enc (hsn_worker_t *self, const hsn_route_t *route,
                          const hsn_enc_t *enc);

/*  Reply with an error status and message to request req. */
int hsn_worker_reply_error (hsn_worker_t *self, const hsn_route_t *route,
                            const hsn_env_t *req, hsn_status_t status,
                            const char *message);

/*  Graceful shutdown, step one: tell the broker to send no more work.
 *  Replies for requests in flight are still delivered. */
void hsn_worker_drain (hsn_worker_t *self);

/*  After hsn_worker_drain: has the broker confirmed it forgot this replica
 *  (so no request can still be on its way)? */
bool hsn_worker_released (const hsn_worker_t *self);

/*  Requests received and not yet replied to. */
size_t hsn_worker_inflight (const hsn_worker_t *self);

/*  Has the broker been heard from within three heartbeat intervals? */
bool hsn_worker_connected (const hsn_worker_t *self);

#endif
