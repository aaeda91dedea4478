/*  gateway_hub: one thread that holds every waiting agent client.
 *
 *  Long-polls (GET /api/agents/{id}/messages?wait=s) and Server-Sent Event
 *  streams (GET /api/agents/{id}/stream) may wait for minutes; civetweb
 *  gives each connection a thread, so the route handler hands the socket to
 *  the hub (gateway_takeover) and returns. The hub is one thread with an
 *  epoll set:
 *
 *  - it owns the sockets: non-blocking writes through a bounded buffer per
 *    client; a client that is gone, or too slow to take what it was sent, is
 *    closed (its messages stay pending in the bus and are delivered again
 *    after the visibility timeout);
 *  - a Redis SUBSCRIBE on hsn:ab:wake (docs/AGENT_BUS.md): a wake for an
 *    agent with clients issues agent.receive. While the subscription is lost
 *    it is retried with backoff, and every agent with clients is received
 *    for every recheck period, so nothing waits on a wake that never comes;
 *  - an asynchronous DEALER to the broker: many agent.receive in flight at
 *    once, at most one per agent (a wake meanwhile marks the agent to be
 *    received again once the reply is in).
 *
 *  A client registers with an agent.receive at once (a message sent just
 *  before it registered is not missed). A long-poll is answered with the
 *  first non-empty receive (a complete HTTP/1.1 response, Connection: close)
 *  or an empty list at its deadline; a stream gets each message as an SSE
 *  event and a ": keepalive" comment every keepalive period.
 */
#ifndef GATEWAY_HUB_H
#define GATEWAY_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hsn_metrics.h"

typedef struct gateway_hub gateway_hub_t;

typedef struct {
    const char *broker_inproc;      /* the broker's inproc endpoint */
    const char *redis_url;          /* for the hsn:ab:wake subscription */
    uint32_t max_clients;           /* GATEWAY_HUB_MAX */
    uint32_t backend_timeout_ms;    /* an agent.receive unanswered after: failed */
    uint32_t keepalive_ms;          /* SSE comment period (15000) */
    uint32_t recheck_ms;            /* while the subscription is lost */
    size_t client_buffer;           /* unsent bytes a client may hold */
    int fd_base;                    /* place the hub's descriptors from here */
    hsn_metrics_t *metrics;         /* gateway.hub.*; may be NULL */
} gateway_hub_config_t;

/*  Start the hub thread. NULL on a bad configuration or when the thread
 *  or its sockets cannot be made. */
gateway_hub_t *gateway_hub_new (const gateway_hub_config_t *cfg);

/*  Stop the thread and close every client (a long-poll is answered with
 *  what it has: an empty list). NULL-safe; nulls *self_p. */
void gateway_hub_destroy (gateway_hub_t **self_p);

/*  Reserve room for one client before taking its socket over. Returns 0,
 *  or -EBUSY when max_clients are held or reserved (answer 503). */
int gateway_hub_reserve (gateway_hub_t *self);

/*  Give back a reservation that was not used (the takeover failed). */
void gateway_hub_unreserve (gateway_hub_t *self);

typedef enum {
    GATEWAY_HUB_LONGPOLL = 1,
    GATEWAY_HUB_STREAM
} gateway_hub_kind_t;

/*  A client handed to the hub. Strings are copied. */
typedef struct {
    gateway_hub_kind_t kind;
    int fd;                         /* connected socket, from gateway_takeover */
    const char *agent;              /* valid agent id (the caller checked) */
    uint32_t max;                   /* messages per receive (long-poll: its max) */
    int64_t deadline_ms;            /* long-poll: hsn_now_ms () at which to answer [] */
    const char *request_id;         /* for X-Request-Id and meta */
    int64_t started_us;             /* hsn_now_us () when the request came in */
    const char *headers;            /* extra header lines, each ending \r\n; may be NULL */
} gateway_hub_client_t;

/*  Hand a client over, with a reservation taken by gateway_hub_reserve (it
 *  is consumed whatever the result). The hub owns fd from here on, even on
 *  failure (it closes it). Returns 0, or -ENOMEM. Any thread. */
int gateway_hub_add (gateway_hub_t *self, const gateway_hub_client_t *client);

/*  Clients held now (registered, and handed over but not yet registered). */
size_t gateway_hub_clients (gateway_hub_t *self);

/*  Where the hub wants its descriptors placed (cfg->fd_base). */
int gateway_hub_fd_base (const gateway_hub_t *self);

/*  Is the wake subscription up? (For tests and health.) */
bool gateway_hub_subscribed (gateway_hub_t *self);

#endif
