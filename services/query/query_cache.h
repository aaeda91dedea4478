/*  query_cache: the query replica's non-blocking client of hsn-cache.
 *
 *  One DEALER to the broker (BROKER_ENDPOINT), read by the replica's zloop:
 *  a call sends its request and returns; the reply (matched by request id)
 *  or the timeout (QUERY_CACHE_TIMEOUT_MS) calls the caller's function
 *  later, from the loop. So a cache round trip never blocks the replica.
 *
 *  At most QUERY_CACHE_PENDING calls are outstanding; a call beyond that,
 *  or one the socket refuses, fails at once (the caller then treats the
 *  cache as unavailable and goes to PostgreSQL).
 */
#ifndef QUERY_CACHE_H
#define QUERY_CACHE_H

#include <czmq.h>
#include "hsn_proto.h"

#define QUERY_CACHE_PENDING 4096            /* a power of two */
#define QUERY_CACHE_NS      "query"

typedef struct query_cache query_cache_t;

/*  The outcome of a call: status is the reply's status, or
 *  HSN_STATUS_TIMEOUT with reply NULL when none came in time. reply (and
 *  what its fields point to) is valid only during the call. */
typedef void (query_cache_fn) (hsn_status_t status, const hsn_env_t *reply, void *arg);

/*  Connect to the broker at endpoint and watch the socket in loop. NULL on
 *  a bad endpoint. */
query_cache_t *query_cache_new (zloop_t *loop, const char *endpoint, uint32_t timeout_ms);

/*  Close; outstanding calls are dropped without their functions.
 *  NULL-safe; nulls *self_p. */
void query_cache_destroy (query_cache_t **self_p);

/*  cache.get ns "query", key. Returns 0 (fn will be called) or -EAGAIN
 *  (not sent; no call). */
int query_cache_get (query_cache_t *self, const char *key, query_cache_fn *fn, void *arg);

/*  cache.set ns "query", key = value (one encoded msgpack object), ttl
 *  seconds, tags. fn may be NULL (fire and forget). Returns as above. */
int query_cache_set (query_cache_t *self, const char *key, const void *value, size_t len,
                     uint32_t ttl, char *const *tags, size_t ntags, query_cache_fn *fn,
                     void *arg);

/*  cache.invalidate-tags tags (1..16). Returns as above. */
int query_cache_invalidate (query_cache_t *self, char *const *tags, size_t ntags,
                            query_cache_fn *fn, void *arg);

/*  Calls outstanding. */
size_t query_cache_pending (const query_cache_t *self);

#endif
