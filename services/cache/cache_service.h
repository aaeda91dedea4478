/*  cache_service: the cache replica's request handler.
 *
 *  Two levels in the replica: L1, an in-process store (hsn_store), and L2,
 *  Redis, where values live as msgpack [value, [tags]] under hsn:c:<ns>:<key>
 *  with their TTL. A read is answered by L1 when it can; misses of one batch
 *  go to Redis in one pipeline, and concurrent misses of one key in it are
 *  coalesced into one Redis read (single-flight). Writes go through to Redis
 *  and L1 and are published on the invalidation channel, so every other
 *  replica's L1 and every gateway near-cache drop the key.
 *
 *  Coherence: while this replica is not subscribed to the invalidation
 *  channel it fills nothing into L1, and when the subscription breaks while
 *  Redis still answers (others may be writing) it flushes L1 at once. With
 *  Redis down entirely nobody can write, so L1 keeps answering its hot keys;
 *  it is flushed when the channel comes back.
 */
#ifndef CACHE_SERVICE_H
#define CACHE_SERVICE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "hsn_metrics.h"
#include "hsn_worker.h"

typedef struct cache_service cache_service_t;

typedef struct {
    const char *redis_url;          /* REDIS_URL */
    uint32_t default_ttl;           /* CACHE_DEFAULT_TTL, seconds */
    uint32_t max_value_bytes;       /* CACHE_MAX_VALUE_BYTES */
    uint32_t max_entries;           /* CACHE_MAX_SIZE: L1 entries */
    uint64_t max_bytes;             /* CACHE_MAX_BYTES: L1 byte budget */
    uint32_t jitter_pct;            /* CACHE_TTL_JITTER_PCT */
    const char *namespaces;         /* CACHE_NAMESPACES: "ns:ttl,ns:ttl" */
    bool l1_enabled;                /* CACHE_L1_ENABLED: false = Redis only */
    hsn_metrics_t *metrics;         /* may be NULL */
} cache_service_config_t;

/*  Validate the config and prepare; the subscription's socket is watched in
 *  loop. Redis is connected lazily, and again after any failure.
 *  Returns NULL on an invalid REDIS_URL or CACHE_NAMESPACES (err says). */
cache_service_t *cache_service_new (const cache_service_config_t *cfg, zloop_t *loop,
                                    char *err, size_t errlen);

/*  NULL-safe; nulls *self_p. */
void cache_service_destroy (cache_service_t **self_p);

/*  hsn_worker_fn: arg is the cache_service_t. */
void cache_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                           const hsn_env_t *req, void *arg);

/*  hsn_worker_batch_fn: flushes the batch's Redis pipeline and replies. */
void cache_service_batch_end (hsn_worker_t *worker, void *arg);

/*  Health probe, called periodically: (re)connects if due, PINGs, and
 *  (re)subscribes to the invalidation channel. */
void cache_service_check (cache_service_t *self);

/*  Is Redis reachable right now (as of the last command)? */
bool cache_service_redis_up (const cache_service_t *self);

/*  Limits a client-controlled name must respect. */
#define CACHE_NS_MAX   64
#define CACHE_KEY_MAX  512
#define CACHE_TAG_MAX  128
#define CACHE_TAGS_MAX 16
#define CACHE_MGET_MAX 1000

/*  Is ns a valid namespace: 1..CACHE_NS_MAX of [A-Za-z0-9_.-]? */
bool cache_ns_valid (const char *ns, size_t len);

#endif
