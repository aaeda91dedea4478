/*  agentbus_service: the agent-bus replica's request handler.
 *
 *  Agents exchange messages through Redis Streams, one per agent and
 *  priority (hsn:ab:q:<agent>:<h|n|l>, consumer group hsn): send, publish
 *  to a topic's subscribers, broadcast to every known agent, receive in
 *  strict priority order with a visibility timeout (unacked deliveries are
 *  handed out again), ack, dead letters after too many deliveries or past
 *  a message's ttl. Every operation is one Lua script, so it is atomic, and
 *  the requests of one batch go to Redis as one pipeline. A periodic reaper
 *  wakes (pub/sub hsn:ab:wake) the agents whose deliveries timed out and
 *  reports queue depths. The contract is docs/AGENT_BUS.md.
 */
#ifndef AGENTBUS_SERVICE_H
#define AGENTBUS_SERVICE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "hsn_metrics.h"
#include "hsn_worker.h"

typedef struct agentbus_service agentbus_service_t;

typedef struct {
    const char *redis_url;          /* REDIS_URL */
    uint32_t max_payload;           /* AGENTBUS_MAX_PAYLOAD, msgpack bytes */
    uint32_t max_queue;             /* AGENTBUS_MAX_QUEUE, per agent */
    uint32_t visibility_ms;         /* AGENTBUS_VISIBILITY_TIMEOUT_MS */
    uint32_t max_deliveries;        /* AGENTBUS_MAX_DELIVERIES */
    uint32_t dlq_max;               /* AGENTBUS_DLQ_MAX, per agent */
    uint32_t reaper_ms;             /* reaper period; 0: no reaper timer */
    hsn_metrics_t *metrics;         /* may be NULL */
    uint32_t reply_max;             /* bytes of messages in one reply; 0:
                                       AGENTBUS_REPLY_MAX (tests go lower) */
    uint32_t max_agents;            /* AGENTBUS_MAX_AGENTS; 0: the default */
    uint32_t max_subscriptions;     /* AGENTBUS_MAX_SUBSCRIPTIONS, topics per
                                       agent; 0: the default */
} agentbus_config_t;

/*  Known agents (hsn:ab:agents): a send, subscribe or publish that would
 *  add one more is FULL; a receive past it adds none. Broadcast and
 *  agent.list are linear in this, inside one script (Redis serves nobody
 *  else meanwhile): about 0.1 s at 10000 agents, 1-2 s at 100000 (figures
 *  in docs/AGENT_BUS.md), so the range stops well short of Redis's 5 s
 *  busy-script threshold. */
#define AGENTBUS_MAX_AGENTS_DEFAULT        10000
#define AGENTBUS_MAX_AGENTS_LIMIT          100000
/*  Topics one agent may be subscribed to at once. (Subscribers of one
 *  topic are known agents, bounded by AGENTBUS_MAX_AGENTS.) */
#define AGENTBUS_MAX_SUBSCRIPTIONS_DEFAULT 1000
#define AGENTBUS_MAX_SUBSCRIPTIONS_LIMIT   100000

/*  Prepare the service and start the reaper timer in loop. Redis is
 *  connected lazily, and again after any failure. Returns NULL on an
 *  invalid REDIS_URL (err says). */
agentbus_service_t *agentbus_service_new (const agentbus_config_t *cfg, zloop_t *loop,
                                          char *err, size_t errlen);

/*  Cancel the timer, free. NULL-safe; nulls *self_p. */
void agentbus_service_destroy (agentbus_service_t **self_p);

/*  hsn_worker_fn: arg is the agentbus_service_t. */
void agentbus_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                              const hsn_env_t *req, void *arg);

/*  hsn_worker_batch_fn: sends the batch's pipeline and replies. */
void agentbus_service_batch_end (hsn_worker_t *worker, void *arg);

/*  Health probe, called periodically: (re)connects if due and PINGs. */
void agentbus_service_check (agentbus_service_t *self);

/*  Is Redis reachable (as of the last command)? */
bool agentbus_service_redis_up (const agentbus_service_t *self);

/*  One reaper tick now (the timer calls the same). */
void agentbus_service_reap (agentbus_service_t *self);

/*  Limits a client-controlled value must respect. */
#define AGENTBUS_ID_MAX      HSN_AGENT_ID_MAX     /* agent ids and topics */
#define AGENTBUS_TYPE_MAX    64
#define AGENTBUS_RECEIVE_MAX 1000
#define AGENTBUS_ACK_MAX     1000
#define AGENTBUS_LIST_MAX    10000
#define AGENTBUS_DEAD_MAX    1000
#define AGENTBUS_TTL_MAX     31536000
/*  Messages in one receive or dead-letters reply stop short of this, so the
 *  frame stays under HSN_PROTO_MAX_FRAME (one message always fits, as
 *  AGENTBUS_MAX_PAYLOAD is at most 3 MiB). */
#define AGENTBUS_REPLY_MAX   (HSN_PROTO_MAX_FRAME - 512 * 1024)

#endif
