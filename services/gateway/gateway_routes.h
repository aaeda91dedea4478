/*  gateway_routes: the one table of the gateway's REST routes.
 *
 *  Dispatch, 405 Allow lists, API-key exemptions, the backend each route
 *  uses (for its circuit breaker and concurrency limit) and the OpenAPI
 *  test all read this table, so a route cannot exist without being known
 *  to all of them.
 */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    H_CACHE_STATS,
    H_CACHE_INVALIDATE,
    H_CACHE_DELETE_NS,
    H_CACHE_MGET,
    H_CACHE_GET,
    H_CACHE_PUT,
    H_CACHE_DELETE,
    H_MONITOR,              /* /api/optimization/<what> */
    H_PROMETHEUS,
    H_DASHBOARD,
    H_OPENAPI,
    H_QUERY_LIST,           /* GET /api/queries */
    H_QUERY_BATCH,          /* POST /api/queries/_batch */
    H_QUERY_SQL,            /* POST /api/queries/_sql (QUERY_ALLOW_ADHOC) */
    H_QUERY_RUN,            /* POST /api/queries/{name} */
    H_QUERY_GET,            /* GET /api/queries/{name}?param=value */
    H_AGENT_LIST,           /* GET /api/agents */
    H_AGENT_BROADCAST,      /* POST /api/agents/_broadcast/messages */
    H_AGENT_SEND,           /* POST /api/agents/{id}/messages */
    H_AGENT_RECEIVE,        /* GET /api/agents/{id}/messages?wait=&max= */
    H_AGENT_ACK,            /* POST /api/agents/{id}/acks */
    H_AGENT_STREAM,         /* GET /api/agents/{id}/stream (SSE) */
    H_AGENT_DEAD_LETTERS,   /* GET /api/agents/{id}/dead-letters */
    H_TOPIC_PUBLISH,        /* POST /api/topics/{topic}/messages */
    H_TOPIC_SUBSCRIBE,      /* PUT /api/topics/{topic}/subscribers/{agent} */
    H_TOPIC_UNSUBSCRIBE     /* DELETE /api/topics/{topic}/subscribers/{agent} */
} gateway_handler_t;

typedef struct {
    const char *method;
    const char *pattern;        /* "/api/cache/{namespace}/{key}" */
    gateway_handler_t handler;
    uint32_t service;           /* backend (HSN_SERVICE_*), 0: none */
    bool open;                  /* served without an API key */
    const char *route_class;    /* for metrics: cache, query, agents, monitor, other */
} gateway_route_t;

extern const gateway_route_t gateway_routes[];
extern const size_t gateway_nroutes;

/*  Path parameters: {name} is one non-empty segment; the last parameter of
 *  a pattern ({key}) takes the rest of the path, slashes included. */
typedef struct {
    const char *ptr[2];
    size_t len[2];
    size_t count;
} gateway_params_t;

/*  The route for method and path, with its parameters; NULL when none.
 *  When the path matches some route but not with this method, *allow gets
 *  the methods that would ("GET, PUT, DELETE") for a 405. */
const gateway_route_t *gateway_route_match (const char *method, const char *path,
                                            gateway_params_t *params, char *allow,
                                            size_t allowlen);

#endif
