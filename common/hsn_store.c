/*  hsn_store: entries, LRU order, expiry and the public API. See
 *  hsn_store.h for the contract, hsn_store_int.h for the layout. */
#include "hsn_store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*  Each entry's share of the bucket array, charged to the byte budget: a
 *  pointer at the table's lowest load factor (1/2). */
#define BUCKET_CHARGE (2 * sizeof (cs_node_t *))

static inline cs_entry_t *
entry_of (cs_lru_t *l)
{
    return (cs_entry_t *) ((char *) l - offsetof (cs_entry_t, lru));
}

static uint64_t
random_u64 (void)
{
    uint64_t v;
    if (getrandom (&v, sizeof v, GRND_NONBLOCK) == (ssize_t) sizeof v)
        return v;
    /*  No entropy yet (early boot): still different per process and call. */
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    static uint64_t calls;      /* atomic: stores may be made on several threads */
    uint64_t n = __atomic_add_fetch (&calls, 1, __ATOMIC_RELAXED);
    return cs_mix ((uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 30) ^ n,
                   (uint64_t) getpid () ^ CS_P2);
}

/*  wyrand */
static uint64_t
next_random (hsn_store_t *self)
{
    self->rng += CS_P0;
    return cs_mix (self->rng, self->rng ^ CS_P1);
}

hsn_store_t *
hsn_store_new (const hsn_store_config_t *cfg)
{
    if (!cfg || cfg->max_entries < 1 || cfg->max_bytes < 1024 || cfg->jitter_pct > 50)
        return NULL;
    hsn_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (cs_table_init (&self->table)) {
        free (self);
        return NULL;
    }
    if (cs_table_init (&self->tags)) {
        cs_table_fini (&self->table);
        free (self);
        return NULL;
    }
    self->lru.prev = self->lru.next = &self->lru;
    self->seed = cs_hash_seed (random_u64 ());
    self->rng = random_u64 ();
    return self;
}

/*  What e is charged (see hsn_store.h); read before its tags go. */
static size_t
entry_charge (cs_entry_t *e)
{
    size_t c = cs_heap_size (cs_entry_size (e->klen, e->node.spare, e->ntags)) + BUCKET_CHARGE;
    if (e->ntags) {
        cs_tag_link_t *links = cs_entry_links (e);
        for (size_t i = 0; i < e->ntags; i++)
            c += cs_tag_charge (links[i].tag->node.spare);
    }
    return c;
}

static inline void
lru_unlink (hsn_store_t *self, cs_lru_t *l)
{
    /*  Keep hsn_store_expire's cursor on a live entry: the next newer. */
    if (self->sweep == l)
        self->sweep = l->prev != &self->lru ? l->prev : NULL;
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

static inline void
lru_push (hsn_store_t *self, cs_lru_t *l)
{
    l->prev = &self->lru;
    l->next = self->lru.next;
    self->lru.next->prev = l;
    self->lru.next = l;
}

/*  Remove e from everything and free it. Counts nothing but entries and
 *  bytes: callers count why. */
static void
entry_drop (hsn_store_t *self, cs_entry_t *e)
{
    self->st.bytes -= entry_charge (e);
    self->st.entries--;
    if (e->ntags)
        cs_tags_unlink (self, e);
    cs_table_remove (&self->table, &e->node);
    lru_unlink (self, &e->lru);
    free (e);
}

static inline cs_entry_t *
lookup (const hsn_store_t *self, const char *key, size_t klen, uint32_t h)
{
    for (int w = 0; w < 2; w++)
        for (cs_node_t *n = cs_table_chain (&self->table, h, w); n; n = n->next) {
            cs_entry_t *e = (cs_entry_t *) n;
            if (n->hash == h && e->klen == klen && memcmp (e->key, key, klen) == 0)
                return e;
        }
    return NULL;
}

int
hsn_store_get (hsn_store_t *self, const char *key, size_t klen, int64_t now_ms,
                 const uint8_t **value, size_t *vlen, int64_t *expires_ms)
{
    if (!self || !value || !vlen || !expires_ms || (!key && klen))
        return -EINVAL;
    cs_entry_t *e = NULL;
    if (klen > 0 && klen <= HSN_STORE_KEY_MAX)
        e = lookup (self, key, klen, (uint32_t) cs_hash (key, klen, self->seed));
    if (!e) {
        self->st.misses++;
        return -ENOENT;
    }
    if (now_ms >= e->expires_ms) {
        entry_drop (self, e);
        self->st.expirations++;
        self->st.misses++;
        return -ENOENT;
    }
    if (self->lru.next != &e->lru) {
        lru_unlink (self, &e->lru);
        lru_push (self, &e->lru);
    }
    self->st.hits++;
    *value = (const uint8_t *) e->key + klen;
    *vlen = e->node.spare;
    *expires_ms = e->expires_ms;
    return 0;
}

/*  The stored expiry: shortened by a random 0..jitter_pct % of the time
 *  left, so that a burst of writes with one TTL does not come back as a
 *  burst of misses. Stays > now_ms: at most half the time left goes. */
static int64_t
jittered (hsn_store_t *self, int64_t now_ms, int64_t expires_ms)
{
    uint64_t left = (uint64_t) expires_ms - (uint64_t) now_ms;   /* > 0, no overflow */
    uint64_t pct = self->cfg.jitter_pct;
    uint64_t most = left / 100 * pct + left % 100 * pct / 100;
    if (most == 0)
        return expires_ms;
    uint64_t cut = (uint64_t) (((unsigned __int128) next_random (self) * (most + 1)) >> 64);
    return (int64_t) ((uint64_t) expires_ms - cut);
}

/*  Make room by dropping the least recently used entry. */
static void
evict_one (hsn_store_t *self, int64_t now_ms)
{
    cs_entry_t *e = entry_of (self->lru.prev);
    if (now_ms >= e->expires_ms)
        self->st.expirations++;
    else
        self->st.evictions++;
    entry_drop (self, e);
}

int
hsn_store_put (hsn_store_t *self, const char *key, size_t klen,
                 const void *value, size_t vlen, int64_t now_ms, int64_t expires_ms,
                 const char *const tags[], const size_t tag_lens[], size_t ntags)
{
    if (!self || !key || klen == 0 || klen > HSN_STORE_KEY_MAX || (!value && vlen)
        || vlen > UINT32_MAX || expires_ms <= now_ms || ntags > HSN_STORE_TAGS_MAX
        || (ntags && (!tags || !tag_lens)))
        return -EINVAL;
    /*  Distinct tags only: a tag listed twice would link the entry twice
     *  into one list. At most 16, so quadratic is fine. */
    uint8_t idx[HSN_STORE_TAGS_MAX];
    size_t nidx = 0, charge = 0;
    for (size_t i = 0; i < ntags; i++) {
        if (!tags[i] || tag_lens[i] == 0 || tag_lens[i] > HSN_STORE_TAG_MAX)
            return -EINVAL;
        bool dup = false;
        for (size_t j = 0; j < nidx && !dup; j++)
            dup = tag_lens[idx[j]] == tag_lens[i]
                  && memcmp (tags[idx[j]], tags[i], tag_lens[i]) == 0;
        if (!dup) {
            idx[nidx++] = (uint8_t) i;
            charge += cs_tag_charge (tag_lens[i]);
        }
    }
    size_t size = cs_entry_size (klen, vlen, nidx);
    charge += cs_heap_size (size) + BUCKET_CHARGE;
    if (charge > self->cfg.max_bytes / 8)
        return -E2BIG;

    cs_entry_t *e = malloc (size);
    if (!e)
        return -ENOMEM;
    uint64_t h = cs_hash (key, klen, self->seed);
    e->node.hash = (uint32_t) h;
    e->node.spare = (uint32_t) vlen;
    e->klen = (uint16_t) klen;
    e->ntags = (uint8_t) nidx;
    e->unused = 0;
    memcpy (e->key, key, klen);
    if (vlen)
        memcpy (e->key + klen, value, vlen);
    /*  Tags before the old entry goes, so that tags both carry keep their
     *  records (and nothing has changed yet if this fails). */
    if (nidx && cs_tags_link (self, e, tags, tag_lens, idx)) {
        free (e);
        return -ENOMEM;
    }
    e->expires_ms = jittered (self, now_ms, expires_ms);

    cs_entry_t *old = lookup (self, key, klen, (uint32_t) h);
    if (old)
        entry_drop (self, old);
    /*  The list cannot run dry first (charge <= max_bytes / 8 and
     *  max_entries >= 1); the emptiness test only makes that local. */
    while ((self->st.entries + 1 > self->cfg.max_entries
            || self->st.bytes + charge > self->cfg.max_bytes)
           && self->lru.prev != &self->lru)
        evict_one (self, now_ms);
    cs_table_insert (&self->table, &e->node);
    lru_push (self, &e->lru);
    self->st.entries++;
    self->st.bytes += charge;
    self->st.inserts++;
    return 0;
}

int
hsn_store_del (hsn_store_t *self, const char *key, size_t klen)
{
    if (!self || !key || klen == 0 || klen > HSN_STORE_KEY_MAX)
        return -ENOENT;
    cs_entry_t *e = lookup (self, key, klen, (uint32_t) cs_hash (key, klen, self->seed));
    if (!e)
        return -ENOENT;
    entry_drop (self, e);
    return 0;
}

size_t
hsn_store_del_prefix (hsn_store_t *self, const char *prefix, size_t plen)
{
    if (!self || (!prefix && plen))
        return 0;
    size_t n = 0;
    cs_lru_t *l = self->lru.next;
    while (l != &self->lru) {
        cs_lru_t *next = l->next;       /* dropping l frees no other entry */
        cs_entry_t *e = entry_of (l);
        if (e->klen >= plen && memcmp (e->key, prefix, plen) == 0) {
            entry_drop (self, e);
            n++;
        }
        l = next;
    }
    return n;
}

size_t
hsn_store_del_tag (hsn_store_t *self, const char *tag, size_t tlen)
{
    if (!self)
        return 0;
    cs_tag_t *t = cs_tags_find (self, tag, tlen);
    if (!t)
        return 0;
    /*  Dropping the last entry frees the record: count first, never look
     *  at t after that. */
    size_t n = t->count;
    for (size_t i = 0; i < n; i++)
        entry_drop (self, t->head->entry);
    return n;
}

void
hsn_store_clear (hsn_store_t *self)
{
    if (!self)
        return;
    cs_lru_t *l = self->lru.next;
    while (l != &self->lru) {
        cs_lru_t *next = l->next;
        free (entry_of (l));
        l = next;
    }
    cs_tags_clear (self);
    cs_table_reset (&self->table);
    self->lru.prev = self->lru.next = &self->lru;
    self->sweep = NULL;
    self->st.entries = 0;
    self->st.bytes = 0;
}

size_t
hsn_store_expire (hsn_store_t *self, int64_t now_ms, size_t max_visits)
{
    if (!self)
        return 0;
    size_t n = 0;
    for (size_t v = 0; v < max_visits && self->st.entries > 0; v++) {
        cs_lru_t *l = self->sweep ? self->sweep : self->lru.prev;
        self->sweep = l->prev != &self->lru ? l->prev : NULL;
        cs_entry_t *e = entry_of (l);
        if (now_ms >= e->expires_ms) {
            entry_drop (self, e);
            self->st.expirations++;
            n++;
        }
    }
    return n;
}

void
hsn_store_stats (const hsn_store_t *self, hsn_store_stats_t *out)
{
    if (!out)
        return;
    if (!self)
        memset (out, 0, sizeof *out);
    else
        *out = self->st;
}

void
hsn_store_destroy (hsn_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hsn_store_t *self = *self_p;
    hsn_store_clear (self);
    cs_table_fini (&self->table);
    cs_table_fini (&self->tags);
    free (self);
    *self_p = NULL;
}
