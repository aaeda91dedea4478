/*  gateway_near: the gateway's near-cache of cache reads (keys "ns:key")
 *  and of cacheable named-query results (keys "q\x1f<name>\x1f<params>",
 *  see gateway_query.c).
 *
 *  The fastest cache read is the one that never leaves the gateway: the
 *  hottest values are kept here, as the JSON text the gateway would render,
 *  in bounded memory (an LRU store per shard, each behind its own mutex so
 *  civetweb's threads rarely meet). A background thread subscribes to the
 *  cache invalidation channel and drops what every write names.
 *
 *  Coherence is the cache replica's (see cache_service.h): no fills while
 *  unsubscribed; on losing the channel while Redis still answers, flush;
 *  with Redis down, keep serving, flush when the channel is back. A fill
 *  carries a ticket taken before the backend was asked: if any invalidation
 *  was applied since, the fill is refused, so a value read before a write
 *  can never be stored after that write's invalidation.
 *  Tag invalidations flush the whole near-cache (entries here do not carry
 *  tags); key and namespace invalidations are exact.
 */
#ifndef GATEWAY_NEAR_H
#define GATEWAY_NEAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gateway_json.h"
#include "gateway_reply.h"
#include "hsn_metrics.h"

typedef struct gateway_near gateway_near_t;

/*  Start the near-cache and its subscriber thread. NULL when redis_url is
 *  invalid or max_entries is 0 (disabled). */
gateway_near_t *gateway_near_new (const char *redis_url, size_t max_entries,
                                  size_t max_bytes, hsn_metrics_t *metrics);

/*  Stop the thread, free everything. NULL-safe; nulls *self_p. */
void gateway_near_destroy (gateway_near_t **self_p);

/*  Take before asking the backend; pass to gateway_near_put. */
uint64_t gateway_near_ticket (gateway_near_t *self);

/*  Hit: 0, the entry copied into out (reset first) and *prefix pointing
 *  into it: the rendered envelope up to the TTL, and its deflate stream;
 *  *expires_ms set. Miss: -ENOENT. Thread-safe. */
int gateway_near_get (gateway_near_t *self, const char *key, size_t klen, int64_t now_ms,
                      gateway_json_buf_t *out, gateway_prefix_t *prefix, int64_t *expires_ms);

/*  Keep text (the envelope up to the TTL: {"success":true,"data":{...
 *  "ttl":) as key's answer until expires_ms, compressed once here, unless
 *  the ticket is stale or the channel is down. Returns 0, -ESTALE,
 *  -ENOTCONN, or the store's error. Thread-safe. */
int gateway_near_put (gateway_near_t *self, uint64_t ticket, const char *key, size_t klen,
                      const char *text, size_t len, int64_t now_ms, int64_t expires_ms);

/*  Drop key (a write through this gateway) and stale every ticket. */
void gateway_near_del (gateway_near_t *self, const char *key, size_t klen);

/*  Drop everything (a tag invalidation through this gateway). */
void gateway_near_flush (gateway_near_t *self);

/*  Drop a namespace ("ns" without the colon). */
void gateway_near_del_ns (gateway_near_t *self, const char *ns, size_t len);

/*  Drop every key starting with prefix[0..len) (e.g. all query results
 *  after a write through this gateway) and stale every ticket. */
void gateway_near_del_prefix (gateway_near_t *self, const char *prefix, size_t len);

/*  Is the invalidation channel subscribed? */
bool gateway_near_up (const gateway_near_t *self);

typedef struct {
    uint64_t hits, misses, fills, refused, invalidations, flushes, entries, bytes;
} gateway_near_stats_t;

void gateway_near_stats (gateway_near_t *self, gateway_near_stats_t *out);

#endif
