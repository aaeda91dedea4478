/*  cache_service: the cache replica's request handler.
 *
 *  Serves cache.* operations from the broker. Values are msgpack documents
 *  stored in Redis (L2) under hsn:c:<namespace>:<key> with a TTL.
 */
#ifndef CACHE_SERVICE_H
#define CACHE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include "hsn_metrics.h"
#include "hsn_worker.h"

typedef struct cache_service cache_service_t;

typedef struct {
    const char *redis_url;          /* REDIS_URL */
    uint32_t default_ttl;           /* CACHE_DEFAULT_TTL, seconds */
    uint32_t max_value_bytes;       /* CACHE_MAX_VALUE_BYTES */
    hsn_metrics_t *metrics;         /* may be NULL */
} cache_service_config_t;

/*  Validate the config and prepare (Redis is connected lazily, and again
 *  after any failure). Returns NULL on an invalid REDIS_URL. */
cache_service_t *cache_service_new (const cache_service_config_t *cfg);

/*  NULL-safe; nulls *self_p. */
void cache_service_destroy (cache_service_t **self_p);

/*  hsn_worker_fn: arg is the cache_service_t. */
void cache_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                           const hsn_env_t *req, void *arg);

/*  Is Redis reachable right now (as of the last command)? */
bool cache_service_redis_up (const cache_service_t *self);

/*  Health probe, called periodically: (re)connects if due and PINGs, so
 *  cache_service_redis_up tells the truth even when no request comes. */
void cache_service_check (cache_service_t *self);

/*  Limits a client-controlled name must respect. */
#define CACHE_NS_MAX   64
#define CACHE_KEY_MAX  512

/*  Is ns a valid namespace: 1..CACHE_NS_MAX of [A-Za-z0-9_.-]? */
bool cache_ns_valid (const char *ns, size_t len);

#endif
