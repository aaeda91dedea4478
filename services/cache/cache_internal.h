/*  cache_internal: what the cache service's modules share (not public).
 *
 *  cache_service.c   requests: validation, L1 answers, queueing the rest
 *  cache_pipeline.c  the batch: one Redis pipeline per wake-up, replies
 *  cache_coherence.c the invalidation channel: subscribe, apply, publish
 */
#ifndef CACHE_INTERNAL_H
#define CACHE_INTERNAL_H

#include "cache_service.h"
#include "hsn_store.h"
#include "hsn_inval.h"
#include "hsn_rconn.h"

/*  A request that needs Redis, held until the end of the batch. */
typedef enum { P_GET, P_MGET, P_SET, P_DEL, P_DEL_NS, P_TAGS } pending_kind_t;

typedef struct {
    pending_kind_t kind;
    hsn_route_t route;
    hsn_env_t head;             /* rid, service, op (fields not valid) */
    char *key;                  /* "ns:key" (GET/SET/DEL), "ns" (DEL_NS) */
    size_t klen;
    int leader;                 /* GET: index of the pending that reads for
                                   it (single-flight), or -1 if it reads */
    uint8_t *value;             /* SET: the value's msgpack, copied */
    size_t vlen;
    uint64_t ttl;               /* SET: seconds */
    char **tags;                /* SET, TAGS: copied tag names */
    size_t *tag_lens;
    size_t ntags;
    char **keys;                /* MGET: "ns:key" each */
    size_t *key_lens;
    size_t nkeys;
    uint8_t **mvals;            /* MGET: values found in L1 at append time */
    size_t *mlens;
    uint64_t *mttl;
    int replies;                /* pipeline replies this pending reads */
    hsn_status_t status;        /* GET leader: its outcome, for followers */
} pending_t;

typedef struct {
    char name[CACHE_NS_MAX + 1];
    uint32_t ttl;               /* default TTL, seconds */
    uint64_t *hits_l1, *hits_l2, *misses, *sets;
} cache_ns_t;

#define CACHE_NS_TRACKED 32

struct cache_service {
    cache_service_config_t cfg;
    hsn_rconn_t *redis;
    hsn_store_t *l1;
    zloop_t *loop;
    hsn_inval_sub_t *sub;
    zmq_pollitem_t sub_item;
    bool flush_on_resubscribe;
    uint64_t origin;
    hsn_enc_t enc;
    msgpack_sbuffer scratch;
    pending_t *pending;
    size_t npending, cap_pending;
    cache_ns_t ns[CACHE_NS_TRACKED];
    size_t nns;
    uint64_t *hits_l1, *hits_l2, *misses, *sets, *deletes, *errors,
             *inval_sent, *inval_received, *redis_reads, *coalesced, *flushes;
    hsn_hist_t *redis_us;
    int64_t *l1_entries, *l1_capacity, *l1_bytes;
    uint64_t *l1_evictions;
    uint64_t evictions_reported;
};

/*  cache_service.c */
cache_ns_t *cache_ns_stats (cache_service_t *self, const char *ns, size_t len);
void cache_pending_free (pending_t *p);

/*  cache_pipeline.c: run every pending request of the batch. */
void cache_pipeline_run (cache_service_t *self, hsn_worker_t *worker);

/*  cache_coherence.c */
void cache_coherence_check (cache_service_t *self);
void cache_coherence_stop (cache_service_t *self);
bool cache_coherent (const cache_service_t *self);
/*  May L1 take entries now? (enabled, and subscribed to invalidations) */
bool cache_l1_fillable (const cache_service_t *self);

/*  Reply helpers (cache_service.c). */
void cache_reply_value (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                        const hsn_env_t *head, const uint8_t *value, size_t vlen,
                        uint64_t ttl_s, const char *level);

/*  Build the Redis key "hsn:c:" + l1key into buf (cap >= klen + 7). */
size_t cache_redis_key (char *buf, const char *l1key, size_t klen);

#endif
