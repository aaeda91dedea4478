/*  gateway_broker: the request broker hosted in the gateway process.
 *
 *  One ROUTER socket, bound both to tcp (replicas of every service connect to
 *  it) and to inproc (the gateway's HTTP threads). Replicas register with
 *  READY/heartbeats carrying their service and credits; the broker dispatches
 *  each request to the live replica of the service with the most free
 *  credits, queues it (bounded) when all are busy, routes the reply back, and
 *  drops a replica that stops heartbeating within 3 intervals. Requests held
 *  by a dropped replica are re-dispatched when their operation is idempotent
 *  and failed with WORKER_LOST otherwise: nothing is silently lost.
 *  See docs/ARCHITECTURE.md and proto/README.md.
 */
#ifndef GATEWAY_BROKER_H
#define GATEWAY_BROKER_H

#include <stdint.h>
#include "hsn_proto.h"

typedef struct gateway_broker gateway_broker_t;

typedef struct {
    const char *bind;              /* tcp endpoint, e.g. tcp://0.0.0.0:5555 */
    const char *inproc;            /* inproc endpoint for local clients */
    uint32_t heartbeat_ms;         /* replicas expire after 3 of these */
    uint32_t queue_max;            /* queued requests per service */
    uint32_t request_timeout_ms;   /* longest a request may wait or run */
    uint32_t max_attempts;         /* dispatches of one idempotent request */
} gateway_broker_config_t;

/*  Start the broker thread; returns once it is bound, or NULL when a bind
 *  failed. */
gateway_broker_t *gateway_broker_new (const gateway_broker_config_t *cfg);

/*  Stop the thread, answer nothing more, close. NULL-safe; nulls *self_p. */
void gateway_broker_destroy (gateway_broker_t **self_p);

/*  The tcp port actually bound (useful with tcp://127.0.0.1:*). */
int gateway_broker_port (const gateway_broker_t *self);

/*  Live, non-draining replicas of a service right now (thread-safe). */
uint32_t gateway_broker_replicas (const gateway_broker_t *self, uint32_t service);

/*  Counters, thread-safe snapshots. */
typedef struct {
    uint64_t requests, replies, queued, overloaded, no_service, timeouts,
             retries, worker_lost, malformed, workers_joined, workers_expired;
} gateway_broker_stats_t;
void gateway_broker_stats (const gateway_broker_t *self, gateway_broker_stats_t *out);

#endif
