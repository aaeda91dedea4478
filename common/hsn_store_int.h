/*  hsn_store_int: what hsn_store's modules share (not public).
 *
 *  hsn_store.c        entries, LRU, the public API
 *  hsn_store_table.c  chained hash table with incremental resize
 *  hsn_store_tags.c   tag index: tag -> its entries
 */
#ifndef HSN_STORE_INT_H
#define HSN_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hsn_store.h"

/*  ---- hash ------------------------------------------------------------
 *  wyhash (final 4.2 structure, public domain): ~2 multiplies for a
 *  20-byte key, passes SMHasher. The seed is random per store and mixed
 *  once at creation (cs_hash_seed), not on every call. */
static inline void
cs_mum (uint64_t *a, uint64_t *b)
{
    unsigned __int128 r = (unsigned __int128) *a * *b;
    *a = (uint64_t) r;
    *b = (uint64_t) (r >> 64);
}

static inline uint64_t
cs_mix (uint64_t a, uint64_t b)
{
    cs_mum (&a, &b);
    return a ^ b;
}

static inline uint64_t
cs_r8 (const uint8_t *p)
{
    uint64_t v;
    memcpy (&v, p, 8);
    return v;
}

static inline uint64_t
cs_r4 (const uint8_t *p)
{
    uint32_t v;
    memcpy (&v, p, 4);
    return v;
}

#define CS_P0 0x2d358dccaa6c78a5ULL
#define CS_P1 0x8bb84b93962eacc9ULL
#define CS_P2 0x4b33a62ed433d4a3ULL
#define CS_P3 0x4d5a2da51de1aa47ULL

static inline uint64_t
cs_hash_seed (uint64_t raw)
{
    return raw ^ cs_mix (raw ^ CS_P0, CS_P1);
}

static inline uint64_t
cs_hash (const void *key, size_t len, uint64_t seed)
{
    const uint8_t *p = (const uint8_t *) key;
    uint64_t a, b;
    if (__builtin_expect (len <= 16, 1)) {
        if (len >= 4) {
            a = (cs_r4 (p) << 32) | cs_r4 (p + ((len >> 3) << 2));
            b = (cs_r4 (p + len - 4) << 32) | cs_r4 (p + len - 4 - ((len >> 3) << 2));
        }
        else if (len > 0) {
            a = ((uint64_t) p[0] << 16) | ((uint64_t) p[len >> 1] << 8) | p[len - 1];
            b = 0;
        }
        else
            a = b = 0;
    }
    else {
        size_t i = len;
        if (__builtin_expect (i >= 48, 0)) {
            uint64_t see1 = seed, see2 = seed;
            do {
                seed = cs_mix (cs_r8 (p) ^ CS_P1, cs_r8 (p + 8) ^ seed);
                see1 = cs_mix (cs_r8 (p + 16) ^ CS_P2, cs_r8 (p + 24) ^ see1);
                see2 = cs_mix (cs_r8 (p + 32) ^ CS_P3, cs_r8 (p + 40) ^ see2);
                p += 48;
                i -= 48;
            } while (i >= 48);
            seed ^= see1 ^ see2;
        }
        while (i > 16) {
            seed = cs_mix (cs_r8 (p) ^ CS_P1, cs_r8 (p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = cs_r8 (p + i - 16);
        b = cs_r8 (p + i - 8);
    }
    a ^= CS_P1;
    b ^= seed;
    cs_mum (&a, &b);
    return cs_mix (a ^ CS_P0 ^ len, b ^ CS_P1);
}

/*  ---- hash table (hsn_store_table.c) --------------------------------
 *  Intrusive and chained: the owner embeds a cs_node_t at the start of its
 *  record and compares keys itself, so the table never calls back on the
 *  hot path. Buckets are a power of two; the table grows at load 1 and
 *  shrinks below 1/8. A resize allocates the new bucket array and then
 *  moves a few old buckets per insert/remove, so the cost is spread over
 *  the writes that follow (lookups search both arrays meanwhile). */
typedef struct cs_node {
    struct cs_node *next;       /* chain */
    uint32_t hash;              /* low 32 bits of the key's hash */
    uint32_t spare;             /* the owner's: fills what would be padding */
} cs_node_t;

typedef struct {
    cs_node_t **b[2];           /* b[0] the table; b[1] the one it moves into, or NULL */
    size_t mask[2];             /* buckets - 1 */
    size_t moved;               /* while moving: b[0][0..moved) are done (stale) */
    size_t count;               /* nodes */
} cs_table_t;

/*  0 or -ENOMEM. */
int cs_table_init (cs_table_t *t);

/*  Free the bucket arrays (not the nodes). */
void cs_table_fini (cs_table_t *t);

/*  Forget every node (the owner frees them) and go back to the initial
 *  size (or keep the current arrays, emptied, when memory is short). */
void cs_table_reset (cs_table_t *t);

/*  Add n (n->hash set by the caller; the caller ensures the key is not
 *  already present). Never fails: when a bigger bucket array cannot be
 *  allocated the chains get longer and growth is retried later. */
void cs_table_insert (cs_table_t *t, cs_node_t *n);

/*  Remove n, which must be in t. */
void cs_table_remove (cs_table_t *t, cs_node_t *n);

/*  Call fn on every node; fn may free the node it is given but must not
 *  otherwise change the table. */
void cs_table_each (cs_table_t *t, void (*fn) (cs_node_t *n, void *arg), void *arg);

/*  Lookup: the chains that can hold hash are cs_table_chain (t, hash, 0)
 *  and cs_table_chain (t, hash, 1); either may be NULL. */
static inline cs_node_t *
cs_table_chain (const cs_table_t *t, uint32_t hash, int which)
{
    if (which == 0) {
        size_t i = hash & t->mask[0];
        return (t->b[1] && i < t->moved) ? NULL : t->b[0][i];
    }
    return t->b[1] ? t->b[1][hash & t->mask[1]] : NULL;
}

/*  ---- entries ----------------------------------------------------------- */
typedef struct cs_lru {
    struct cs_lru *prev;        /* towards the most recently used */
    struct cs_lru *next;        /* towards the least recently used */
} cs_lru_t;

/*  One allocation: this header (44 bytes), the key, the value, then, at
 *  the next multiple of 8, ntags tag links. The key starts right after
 *  the header so that the header and a short key share a cache line. */
typedef struct cs_entry {
    cs_node_t node;             /* node.spare: value length */
    cs_lru_t lru;
    int64_t expires_ms;
    uint16_t klen;
    uint8_t ntags;
    uint8_t unused;
    char key[];
} cs_entry_t;

#define CS_ENTRY_HEADER offsetof (cs_entry_t, key)

typedef struct cs_tag cs_tag_t;

/*  An entry's membership of one tag: in the tag's doubly linked list. */
typedef struct cs_tag_link {
    struct cs_tag_link *prev, *next;
    cs_tag_t *tag;
    cs_entry_t *entry;
} cs_tag_link_t;

/*  One record per distinct tag in use, freed with its last entry. */
struct cs_tag {
    cs_node_t node;             /* node.spare: name length */
    cs_tag_link_t *head;
    size_t count;               /* links in the list */
    char name[];
};

static inline size_t
cs_align8 (size_t n)
{
    return (n + 7) & ~(size_t) 7;
}

static inline size_t
cs_entry_size (size_t klen, size_t vlen, size_t ntags)
{
    size_t n = CS_ENTRY_HEADER + klen + vlen;
    return ntags ? cs_align8 (n) + ntags * sizeof (cs_tag_link_t) : n;
}

static inline cs_tag_link_t *
cs_entry_links (cs_entry_t *e)
{
    return (cs_tag_link_t *) ((char *) e
                              + cs_align8 (CS_ENTRY_HEADER + e->klen + e->node.spare));
}

/*  What malloc really takes for a request of n bytes (glibc: 8-byte size
 *  header, 16-byte granularity, 32 at least); the byte budget is kept in
 *  these terms so that it tracks the heap, not just the payload. */
static inline size_t
cs_heap_size (size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t) 15;
    return c < 32 ? 32 : c;
}

/*  ---- the store ---------------------------------------------------------- */
struct hsn_store {
    hsn_store_config_t cfg;
    cs_table_t table;           /* cs_entry_t by key */
    cs_table_t tags;            /* cs_tag_t by name */
    cs_lru_t lru;               /* sentinel: next is the most recently used */
    cs_lru_t *sweep;            /* hsn_store_expire's next visit, or NULL */
    uint64_t seed;              /* hash seed, mixed */
    uint64_t rng;               /* jitter */
    hsn_store_stats_t st;
};

/*  ---- tag index (hsn_store_tags.c) --------------------------------------- */

/*  Bytes charged for each tag an entry carries, beyond its link inside the
 *  entry: the whole tag record, as if the entry were its only user. */
static inline size_t
cs_tag_charge (size_t tlen)
{
    return cs_heap_size (sizeof (cs_tag_t) + tlen);
}

/*  Link e (e->ntags already set, links uninitialised) to tags[idx[i]] for
 *  i < e->ntags, creating tag records as needed. 0, or -ENOMEM with
 *  nothing linked. */
int cs_tags_link (hsn_store_t *self, cs_entry_t *e, const char *const tags[],
                  const size_t tag_lens[], const uint8_t idx[]);

/*  Unlink e from all its tags, freeing records left empty. */
void cs_tags_unlink (hsn_store_t *self, cs_entry_t *e);

/*  The record of tag, or NULL. */
cs_tag_t *cs_tags_find (hsn_store_t *self, const char *tag, size_t tlen);

/*  Free every tag record (the entries' links are left dangling: for
 *  clearing everything). */
void cs_tags_clear (hsn_store_t *self);

#endif
