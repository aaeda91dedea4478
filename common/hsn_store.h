/*  hsn_store: the cache replica's in-process L1 store.
 *
 *  A bounded key -> value map with per-entry expiry, exact LRU eviction
 *  and tags, for ONE thread (the replica's event loop): no locks, and no
 *  function here may be called concurrently on the same store.
 *
 *  Layout: one heap allocation per entry holds its header, key, value and
 *  tag links, so a hit touches the bucket and that one block. The hash
 *  table is chained with power-of-two buckets and resizes incrementally
 *  (a few buckets per write), so no single call pays for rehashing a big
 *  table. Keys are hashed with a wyhash-style 64-bit hash seeded at random
 *  per store, so clients cannot precompute colliding keys.
 *
 *  Memory: a 20-byte key with a 100-byte value costs about 186 bytes of
 *  real heap per entry with glibc malloc (176-byte block + bucket share),
 *  less than Redis's used_memory for the same SET (see
 *  bench/scenarios/20-cache-l1.sh).
 *
 *  Byte accounting (max_bytes, stats bytes): each entry is charged its
 *  block as malloc rounds it (request + 8, to 16 bytes) plus 16 bytes for
 *  its bucket (a pointer at the lowest load factor, 1/2), plus for each
 *  tag its link and the full size of the tag's index record, so the charge
 *  never falls below what the store really holds for it.
 *
 *  Functions returning int give 0 or a negative errno; on failure the
 *  outputs are untouched and the store is unchanged.
 */
#ifndef HSN_STORE_H
#define HSN_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hsn_store hsn_store_t;

typedef struct {
    size_t max_entries;      /* >= 1 */
    size_t max_bytes;        /* byte budget for keys+values+overhead, >= 1024 */
    uint32_t jitter_pct;     /* 0..50: expiry shortened by a random 0..jitter_pct % of the
                                remaining TTL at put, so entries written together do not
                                expire together */
} hsn_store_config_t;

#define HSN_STORE_KEY_MAX   65535   /* bytes */
#define HSN_STORE_TAG_MAX   255     /* bytes per tag */
#define HSN_STORE_TAGS_MAX  16      /* tags per entry */

/*  New empty store, or NULL when cfg is invalid (max_entries < 1,
 *  max_bytes < 1024, jitter_pct > 50) or memory is short. */
hsn_store_t *hsn_store_new (const hsn_store_config_t *cfg);

/*  Free the store and everything in it; NULL-safe, sets *self_p to NULL. */
void hsn_store_destroy (hsn_store_t **self_p);

/*  Hit: 0, *value / *vlen point into the store (valid until the next put,
 *  del, del_prefix, del_tag, clear, expire, or an expiring get on this
 *  store), *expires_ms is the entry's (jittered) expiry; the entry becomes
 *  the most recently used. Miss or expired (now_ms >= expiry): -ENOENT; an
 *  expired entry is removed and counted as a miss and an expiration.
 *  -EINVAL for a NULL store or outputs. */
int hsn_store_get (hsn_store_t *self, const char *key, size_t klen, int64_t now_ms,
                     const uint8_t **value, size_t *vlen, int64_t *expires_ms);

/*  Insert or replace key (copies key, value and tags; a replaced entry's
 *  tags are all dropped). expires_ms is absolute and must be > now_ms; the
 *  stored expiry is expires_ms minus a random 0..jitter_pct % of
 *  (expires_ms - now_ms), always > now_ms. Tags: up to HSN_STORE_TAGS_MAX,
 *  each 1..HSN_STORE_TAG_MAX bytes; a repeated tag counts once. Evicts
 *  least-recently-used entries until the new one fits within max_entries
 *  and max_bytes (expired ones evicted this way count as expirations).
 *  -EINVAL: bad arguments (klen 0 or > HSN_STORE_KEY_MAX, vlen > 4 GiB,
 *  expires_ms <= now_ms, tag count or length out of range, NULL pointers
 *  with non-zero lengths); -E2BIG: the entry's charge alone exceeds
 *  max_bytes / 8 (a single value must not flush the whole L1); -ENOMEM.
 *  Counts an insert on success. */
int hsn_store_put (hsn_store_t *self, const char *key, size_t klen,
                     const void *value, size_t vlen, int64_t now_ms, int64_t expires_ms,
                     const char *const tags[], const size_t tag_lens[], size_t ntags);

/*  Remove key: 0 when it was stored (expired or not), -ENOENT when not. */
int hsn_store_del (hsn_store_t *self, const char *key, size_t klen);

/*  Drop every entry whose key starts with prefix (namespace deletion: keys
 *  are "ns:key"; an empty prefix drops all). Returns how many. O(entries). */
size_t hsn_store_del_prefix (hsn_store_t *self, const char *prefix, size_t plen);

/*  Drop every entry carrying tag. Returns how many. O(entries with the
 *  tag): a tag index links each tag to its entries. */
size_t hsn_store_del_tag (hsn_store_t *self, const char *tag, size_t tlen);

/*  Drop everything (stats counters other than entries and bytes stay);
 *  the table shrinks back to its initial size. */
void hsn_store_clear (hsn_store_t *self);

/*  Active expiry, for a periodic timer: look at up to max_visits entries,
 *  continuing round-robin (oldest use first) where the previous call
 *  stopped, and remove those expired at now_ms. Expired entries are
 *  otherwise only removed when read or evicted, and would hold memory.
 *  Returns how many were removed (counted as expirations). */
size_t hsn_store_expire (hsn_store_t *self, int64_t now_ms, size_t max_visits);

typedef struct {
    uint64_t entries;       /* now */
    uint64_t bytes;         /* now, as charged (see above) */
    uint64_t hits;
    uint64_t misses;        /* including expired reads */
    uint64_t evictions;     /* removed for room while still valid */
    uint64_t expirations;   /* removed because expired (get, eviction, expire) */
    uint64_t inserts;       /* successful puts, replacements included */
} hsn_store_stats_t;

/*  Snapshot of the counters; out zeroed when self is NULL. */
void hsn_store_stats (const hsn_store_t *self, hsn_store_stats_t *out);

#endif
