/*  cache_service: requests. Validation, answers from L1, and the pending
 *  list that the batch's Redis pipeline serves. See cache_service.h. */
#include "cache_internal.h"
#include "hsn_time.h"

#include <errno.h>
#include <string.h>

static uint64_t dummy_counter;

static uint64_t *
counter (hsn_metrics_t *m, const char *name)
{
    return m ? hsn_metrics_counter (m, name) : &dummy_counter;
}

bool
cache_ns_valid (const char *ns, size_t len)
{
    if (len == 0 || len > CACHE_NS_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = ns[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/*  Per-namespace statistics for the namespaces configured and the first
 *  ones seen, up to CACHE_NS_TRACKED; beyond that they count under "_other"
 *  so a client inventing namespaces cannot grow the registry. */
static cache_ns_t *
ns_add (cache_service_t *self, const char *ns, size_t len, uint32_t ttl)
{
    cache_ns_t *n = &self->ns[self->nns++];
    snprintf (n->name, sizeof n->name, "%.*s", (int) len, ns);
    n->ttl = ttl;
    char name[128];
    hsn_metrics_t *m = self->cfg.metrics;
    snprintf (name, sizeof name, "cache.ns.%s.hits_l1", n->name);
    n->hits_l1 = counter (m, name);
    snprintf (name, sizeof name, "cache.ns.%s.hits_l2", n->name);
    n->hits_l2 = counter (m, name);
    snprintf (name, sizeof name, "cache.ns.%s.misses", n->name);
    n->misses = counter (m, name);
    snprintf (name, sizeof name, "cache.ns.%s.sets", n->name);
    n->sets = counter (m, name);
    return n;
}

cache_ns_t *
cache_ns_stats (cache_service_t *self, const char *ns, size_t len)
{
    for (size_t i = 1; i < self->nns; i++)
        if (strlen (self->ns[i].name) == len && memcmp (self->ns[i].name, ns, len) == 0)
            return &self->ns[i];
    if (self->nns < CACHE_NS_TRACKED)
        return ns_add (self, ns, len, self->cfg.default_ttl);
    return &self->ns[0];
}

/*  "users:60,sessions:900" */
static int
parse_namespaces (cache_service_t *self, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    while (p && *p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        const char *colon = memchr (p, ':', len);
        char *num_end = NULL;
        long ttl = colon ? strtol (colon + 1, &num_end, 10) : 0;
        if (!colon || !cache_ns_valid (p, (size_t) (colon - p)) || num_end != p + len
            || ttl < 1 || ttl > 31536000 || self->nns == CACHE_NS_TRACKED) {
            snprintf (err, errlen, "invalid CACHE_NAMESPACES '%s': must be "
                      "name:ttl[,name:ttl...] with ttl 1..31536000", spec);
            return -EINVAL;
        }
        ns_add (self, p, (size_t) (colon - p), (uint32_t) ttl);
        p = end ? end + 1 : NULL;
    }
    return 0;
}

cache_service_t *
cache_service_new (const cache_service_config_t *cfg, zloop_t *loop, char *err,
                   size_t errlen)
{
    cache_service_t *self = (cache_service_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->loop = loop;
    self->redis = hsn_rconn_new (cfg->redis_url, 1000);
    if (!self->redis) {
        snprintf (err, errlen, "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                  cfg->redis_url);
        free (self);
        return NULL;
    }
    ns_add (self, "_other", 6, cfg->default_ttl);
    if (cfg->namespaces && parse_namespaces (self, cfg->namespaces, err, errlen)) {
        hsn_rconn_destroy (&self->redis);
        free (self);
        return NULL;
    }
    hsn_store_config_t scfg = { cfg->max_entries, cfg->max_bytes, cfg->jitter_pct };
    self->l1 = hsn_store_new (&scfg);
    hsn_enc_init (&self->enc);
    msgpack_sbuffer_init (&self->scratch);
    self->origin = ((uint64_t) randof (0x7fffffff) << 32) ^ (uint64_t) getpid ()
                   ^ (uint64_t) hsn_now_us ();
    hsn_metrics_t *m = cfg->metrics;
    self->hits_l1 = counter (m, "cache.l1.hits");
    self->hits_l2 = counter (m, "cache.l2.hits");
    self->misses = counter (m, "cache.misses");
    self->sets = counter (m, "cache.sets");
    self->deletes = counter (m, "cache.deletes");
    self->errors = counter (m, "cache.redis.errors");
    self->redis_reads = counter (m, "cache.redis.reads");
    self->coalesced = counter (m, "cache.coalesced");
    self->inval_sent = counter (m, "cache.invalidations.sent");
    self->inval_received = counter (m, "cache.invalidations.received");
    self->flushes = counter (m, "cache.l1.flushes");
    self->redis_us = m ? hsn_metrics_hist (m, "cache.redis.latency_us") : NULL;
    self->l1_evictions = counter (m, "cache.l1.evictions");
    static int64_t dummy_gauge[3];
    self->l1_entries = m ? hsn_metrics_gauge (m, "cache.l1.entries") : &dummy_gauge[0];
    self->l1_capacity = m ? hsn_metrics_gauge (m, "cache.l1.capacity") : &dummy_gauge[1];
    self->l1_bytes = m ? hsn_metrics_gauge (m, "cache.l1.bytes") : &dummy_gauge[2];
    hsn_gauge_set (self->l1_capacity, (int64_t) cfg->max_entries);
    return self;
}

void
cache_pending_free (pending_t *p)
{
    free (p->key);
    free (p->value);
    for (size_t i = 0; i < p->ntags; i++)
        free (p->tags[i]);
    free (p->tags);
    free (p->tag_lens);
    for (size_t i = 0; i < p->nkeys; i++) {
        free (p->keys[i]);
        if (p->mvals)
            free (p->mvals[i]);
    }
    free (p->keys);
    free (p->key_lens);
    free (p->mvals);
    free (p->mlens);
    free (p->mttl);
    memset (p, 0, sizeof *p);
}

void
cache_service_destroy (cache_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cache_service_t *self = *self_p;
    cache_coherence_stop (self);
    for (size_t i = 0; i < self->npending; i++)
        cache_pending_free (&self->pending[i]);
    free (self->pending);
    hsn_store_destroy (&self->l1);
    hsn_rconn_destroy (&self->redis);
    hsn_enc_release (&self->enc);
    msgpack_sbuffer_destroy (&self->scratch);
    free (self);
    *self_p = NULL;
}

bool
cache_service_redis_up (const cache_service_t *self)
{
    return hsn_rconn_up (self->redis);
}

void
cache_service_check (cache_service_t *self)
{
    /*  The store keeps its own counts; the registry (and so the monitor)
     *  hears them once per check. Expired entries nobody reads are reaped a
     *  bounded number at a time. */
    hsn_store_expire (self->l1, hsn_now_ms (), 1024);
    hsn_store_stats_t st;
    hsn_store_stats (self->l1, &st);
    hsn_gauge_set (self->l1_entries, (int64_t) st.entries);
    hsn_gauge_set (self->l1_bytes, (int64_t) st.bytes);
    hsn_counter_add (self->l1_evictions, st.evictions - self->evictions_reported);
    self->evictions_reported = st.evictions;
    redisContext *c = hsn_rconn_get (self->redis);
    if (c) {
        redisReply *r = (redisReply *) redisCommand (c, "PING");
        if (!r || r->type == REDIS_REPLY_ERROR)
            hsn_rconn_failed (self->redis);
        if (r)
            freeReplyObject (r);
    }
    cache_coherence_check (self);
}

size_t
cache_redis_key (char *buf, const char *l1key, size_t klen)
{
    memcpy (buf, "hsn:c:", 6);
    memcpy (buf + 6, l1key, klen);
    return klen + 6;
}

/*  --- replies ---------------------------------------------------------- */

void
cache_reply_value (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                   const hsn_env_t *head, const uint8_t *value, size_t vlen,
                   uint64_t ttl_s, const char *level)
{
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, head->rid, head->service, head->op,
                   HSN_STATUS_OK, 3);
    hsn_enc_raw (&self->enc, HSN_FIELD_VALUE, value, vlen);
    hsn_enc_uint (&self->enc, HSN_FIELD_TTL, ttl_s);
    hsn_enc_cstr (&self->enc, HSN_FIELD_LEVEL, level);
    hsn_worker_reply_enc (w, route, &self->enc);
}

static uint64_t
ttl_left (int64_t expires_ms, int64_t now)
{
    return expires_ms > now ? (uint64_t) ((expires_ms - now + 999) / 1000) : 0;
}

/*  --- request validation ------------------------------------------------ */

/*  The request's NS, or a 400 reply and -EINVAL. */
static int
request_ns (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
            const char **ns, size_t *nslen)
{
    if (hsn_env_str (req, HSN_FIELD_NS, ns, nslen) == 0 && cache_ns_valid (*ns, *nslen))
        return 0;
    hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                            "namespace must be 1-64 characters of A-Z a-z 0-9 _ - .");
    return -EINVAL;
}

/*  "ns:key" from the request's NS and KEY into a new string. NULL (after a
 *  400 reply) when invalid. */
static char *
request_key (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
             size_t *klen, cache_ns_t **ns_out, cache_service_t *self)
{
    const char *ns, *key;
    size_t nslen, keylen;
    if (request_ns (w, route, req, &ns, &nslen))
        return NULL;
    if (hsn_env_str (req, HSN_FIELD_KEY, &key, &keylen) || keylen == 0
        || keylen > CACHE_KEY_MAX) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST, "key must be 1-512 bytes");
        return NULL;
    }
    char *k = (char *) malloc (nslen + 1 + keylen);
    memcpy (k, ns, nslen);
    k[nslen] = ':';
    memcpy (k + nslen + 1, key, keylen);
    *klen = nslen + 1 + keylen;
    if (ns_out)
        *ns_out = cache_ns_stats (self, ns, nslen);
    return k;
}

/*  Copy the TAGS array (strings, 1..CACHE_TAG_MAX bytes, at most
 *  CACHE_TAGS_MAX). Returns 0, or -EINVAL after a 400 reply. */
static int
request_tags (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
              pending_t *p, bool required)
{
    if (!hsn_env_has (req, HSN_FIELD_TAGS)) {
        if (required)
            hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST, "tags are required");
        return required ? -EINVAL : 0;
    }
    const hsn_mp_obj_t *arr = &req->fields[HSN_FIELD_TAGS];
    if (arr->v.c.count > CACHE_TAGS_MAX || (required && arr->v.c.count == 0)) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                "between 1 and 16 tags");
        return -EINVAL;
    }
    p->tags = (char **) calloc (arr->v.c.count + 1, sizeof (char *));
    p->tag_lens = (size_t *) calloc (arr->v.c.count + 1, sizeof (size_t));
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, arr);
    for (uint32_t i = 0; i < arr->v.c.count; i++) {
        hsn_mp_obj_t t;
        if (hsn_mp_get (&r, &t, 1) || t.type != HSN_MP_STR || t.v.s.len == 0
            || t.v.s.len > CACHE_TAG_MAX || memchr (t.v.s.ptr, ',', t.v.s.len)) {
            hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                    "each tag must be a string of 1-128 bytes without ','");
            return -EINVAL;
        }
        p->tags[i] = strndup (t.v.s.ptr, t.v.s.len);
        p->tag_lens[i] = t.v.s.len;
        p->ntags++;
    }
    return 0;
}

static pending_t *
pending_add (cache_service_t *self, pending_kind_t kind, const hsn_route_t *route,
             const hsn_env_t *req)
{
    if (self->npending == self->cap_pending) {
        size_t cap = self->cap_pending ? self->cap_pending * 2 : 64;
        pending_t *np = (pending_t *) realloc (self->pending, cap * sizeof *np);
        if (!np)
            return NULL;
        self->pending = np;
        self->cap_pending = cap;
    }
    pending_t *p = &self->pending[self->npending++];
    memset (p, 0, sizeof *p);
    p->kind = kind;
    p->route = *route;
    p->head.rid = req->rid;
    p->head.service = req->service;
    p->head.op = req->op;
    p->leader = -1;
    return p;
}

/*  Drop the last pending after a validation failure (already answered). */
static void
pending_drop_last (cache_service_t *self)
{
    cache_pending_free (&self->pending[--self->npending]);
}

/*  The pending GET of this batch reading key, for single-flight. */
static int
pending_reader (cache_service_t *self, const char *key, size_t klen)
{
    for (size_t i = 0; i < self->npending; i++) {
        pending_t *p = &self->pending[i];
        if (p->kind == P_GET && p->leader == -1 && p->klen == klen
            && memcmp (p->key, key, klen) == 0)
            return (int) i;
    }
    return -1;
}

/*  A write to key ends single-flight for it: reads queued after the write
 *  must see it, so they may not share a read queued before. */
static void
pending_fence (cache_service_t *self, const char *key, size_t klen)
{
    for (size_t i = 0; i < self->npending; i++) {
        pending_t *p = &self->pending[i];
        if (p->kind == P_GET && p->leader == -1 && p->klen == klen
            && memcmp (p->key, key, klen) == 0)
            p->leader = -2;             /* still reads; takes no followers */
    }
}

static bool
redis_or_reply (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                const hsn_env_t *req)
{
    if (hsn_rconn_get (self->redis))
        return true;
    hsn_worker_reply_error (w, route, req, HSN_STATUS_UNAVAILABLE,
                            "the cache's Redis is unreachable");
    return false;
}

/*  --- operations -------------------------------------------------------- */

static void
do_get (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
        const hsn_env_t *req)
{
    size_t klen;
    cache_ns_t *ns;
    char *key = request_key (w, route, req, &klen, &ns, self);
    if (!key)
        return;
    const uint8_t *value;
    size_t vlen;
    int64_t expires, now = hsn_now_ms ();
    /*  LEVEL "l2" asks for a read from Redis: the gateway fills its
     *  near-cache only from such reads, which cannot predate a write whose
     *  invalidation it has already applied (this L1 might not have yet). */
    const char *level;
    size_t level_len;
    bool from_l2 = hsn_env_str (req, HSN_FIELD_LEVEL, &level, &level_len) == 0
                   && level_len == 2 && memcmp (level, "l2", 2) == 0;
    if (!from_l2
        && hsn_store_get (self->l1, key, klen, now, &value, &vlen, &expires) == 0) {
        hsn_counter_add (self->hits_l1, 1);
        hsn_counter_add (ns->hits_l1, 1);
        cache_reply_value (self, w, route, req, value, vlen, ttl_left (expires, now), "l1");
        free (key);
        return;
    }
    if (!redis_or_reply (self, w, route, req)) {
        free (key);
        return;
    }
    int leader = pending_reader (self, key, klen);
    pending_t *p = pending_add (self, P_GET, route, req);
    p->key = key;
    p->klen = klen;
    p->leader = leader;
    if (leader >= 0)
        hsn_counter_add (self->coalesced, 1);
}

static void
do_mget (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
         const hsn_env_t *req)
{
    const char *ns;
    size_t nslen;
    if (request_ns (w, route, req, &ns, &nslen))
        return;
    const hsn_mp_obj_t *arr = &req->fields[HSN_FIELD_KEYS];
    if (!hsn_env_has (req, HSN_FIELD_KEYS) || arr->v.c.count == 0
        || arr->v.c.count > CACHE_MGET_MAX) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                "keys must be an array of 1-1000 keys");
        return;
    }
    if (!redis_or_reply (self, w, route, req))
        return;
    pending_t *p = pending_add (self, P_MGET, route, req);
    p->keys = (char **) calloc (arr->v.c.count, sizeof (char *));
    p->key_lens = (size_t *) calloc (arr->v.c.count, sizeof (size_t));
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, arr);
    for (uint32_t i = 0; i < arr->v.c.count; i++) {
        hsn_mp_obj_t k;
        if (hsn_mp_get (&r, &k, 1) || k.type != HSN_MP_STR || k.v.s.len == 0
            || k.v.s.len > CACHE_KEY_MAX) {
            hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                    "each key must be a string of 1-512 bytes");
            pending_drop_last (self);
            return;
        }
        char *full = (char *) malloc (nslen + 1 + k.v.s.len);
        memcpy (full, ns, nslen);
        full[nslen] = ':';
        memcpy (full + nslen + 1, k.v.s.ptr, k.v.s.len);
        p->keys[i] = full;
        p->key_lens[i] = nslen + 1 + k.v.s.len;
        p->nkeys++;
    }
}

static void
do_set (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
        const hsn_env_t *req)
{
    if (!hsn_env_has (req, HSN_FIELD_VALUE)) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST, "value is required");
        return;
    }
    const hsn_mp_obj_t *value = &req->fields[HSN_FIELD_VALUE];
    if (value->raw_len > self->cfg.max_value_bytes) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_TOO_LARGE,
                                "value exceeds CACHE_MAX_VALUE_BYTES");
        return;
    }
    size_t klen;
    cache_ns_t *ns;
    char *key = request_key (w, route, req, &klen, &ns, self);
    if (!key)
        return;
    uint64_t ttl = ns->ttl;
    hsn_env_uint (req, HSN_FIELD_TTL, &ttl);
    if (ttl == 0 || ttl > 31536000) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                "ttl must be 1..31536000 seconds");
        free (key);
        return;
    }
    if (!redis_or_reply (self, w, route, req)) {
        free (key);
        return;
    }
    pending_t *p = pending_add (self, P_SET, route, req);
    p->key = key;
    p->klen = klen;
    if (request_tags (w, route, req, p, false)) {
        pending_drop_last (self);
        return;
    }
    p->value = (uint8_t *) malloc (value->raw_len);
    memcpy (p->value, value->raw, value->raw_len);
    p->vlen = value->raw_len;
    p->ttl = ttl;
    hsn_counter_add (ns->sets, 1);
    /*  Later reads in this batch must miss L1 and read after the write. */
    hsn_store_del (self->l1, key, klen);
    pending_fence (self, key, klen);
}

static void
do_delete (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
           const hsn_env_t *req)
{
    size_t klen;
    char *key = request_key (w, route, req, &klen, NULL, self);
    if (!key)
        return;
    if (!redis_or_reply (self, w, route, req)) {
        free (key);
        return;
    }
    hsn_store_del (self->l1, key, klen);
    pending_fence (self, key, klen);
    pending_t *p = pending_add (self, P_DEL, route, req);
    p->key = key;
    p->klen = klen;
}

static void
do_delete_ns (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
              const hsn_env_t *req)
{
    const char *ns;
    size_t nslen;
    if (request_ns (w, route, req, &ns, &nslen))
        return;
    if (!redis_or_reply (self, w, route, req))
        return;
    char prefix[CACHE_NS_MAX + 2];
    memcpy (prefix, ns, nslen);
    prefix[nslen] = ':';
    hsn_store_del_prefix (self->l1, prefix, nslen + 1);
    pending_t *p = pending_add (self, P_DEL_NS, route, req);
    p->key = strndup (ns, nslen);
    p->klen = nslen;
}

static void
do_invalidate_tags (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                    const hsn_env_t *req)
{
    if (!redis_or_reply (self, w, route, req))
        return;
    pending_t *p = pending_add (self, P_TAGS, route, req);
    if (request_tags (w, route, req, p, true)) {
        pending_drop_last (self);
        return;
    }
    for (size_t i = 0; i < p->ntags; i++)
        hsn_store_del_tag (self->l1, p->tags[i], p->tag_lens[i]);
}

static void
pack_kv (msgpack_packer *pk, const char *k, uint64_t v)
{
    size_t n = strlen (k);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, k, n);
    msgpack_pack_uint64 (pk, v);
}

static void
do_stats (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
          const hsn_env_t *req)
{
    hsn_store_stats_t st;
    hsn_store_stats (self->l1, &st);
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   HSN_STATUS_OK, 1);
    hsn_enc_key (&self->enc, HSN_FIELD_RESULT);
    msgpack_packer *pk = &self->enc.pk;
    msgpack_pack_map (pk, 16);
    pack_kv (pk, "l1_hits", hsn_counter_get (self->hits_l1));
    pack_kv (pk, "l2_hits", hsn_counter_get (self->hits_l2));
    pack_kv (pk, "misses", hsn_counter_get (self->misses));
    pack_kv (pk, "sets", hsn_counter_get (self->sets));
    pack_kv (pk, "deletes", hsn_counter_get (self->deletes));
    pack_kv (pk, "l1_entries", st.entries);
    pack_kv (pk, "l1_bytes", st.bytes);
    pack_kv (pk, "l1_evictions", st.evictions);
    pack_kv (pk, "l1_expirations", st.expirations);
    pack_kv (pk, "redis_reads", hsn_counter_get (self->redis_reads));
    pack_kv (pk, "redis_errors", hsn_counter_get (self->errors));
    pack_kv (pk, "coalesced", hsn_counter_get (self->coalesced));
    pack_kv (pk, "invalidations_sent", hsn_counter_get (self->inval_sent));
    pack_kv (pk, "invalidations_received", hsn_counter_get (self->inval_received));
    pack_kv (pk, "l1_flushes", hsn_counter_get (self->flushes));
    const char *k = "coherent";
    msgpack_pack_str (pk, strlen (k));
    msgpack_pack_str_body (pk, k, strlen (k));
    if (cache_coherent (self))
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    hsn_worker_reply_enc (w, route, &self->enc);
}

void
cache_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                      const hsn_env_t *req, void *arg)
{
    cache_service_t *self = (cache_service_t *) arg;
    switch (req->op) {
        case HSN_OP_CACHE_GET:             do_get (self, worker, route, req); break;
        case HSN_OP_CACHE_MGET:            do_mget (self, worker, route, req); break;
        case HSN_OP_CACHE_SET:             do_set (self, worker, route, req); break;
        case HSN_OP_CACHE_DELETE:          do_delete (self, worker, route, req); break;
        case HSN_OP_CACHE_DELETE_NS:       do_delete_ns (self, worker, route, req); break;
        case HSN_OP_CACHE_INVALIDATE_TAGS: do_invalidate_tags (self, worker, route, req); break;
        case HSN_OP_CACHE_STATS:           do_stats (self, worker, route, req); break;
        default:
            hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                    "operation not supported by the cache service");
    }
}

void
cache_service_batch_end (hsn_worker_t *worker, void *arg)
{
    cache_service_t *self = (cache_service_t *) arg;
    if (self->npending)
        cache_pipeline_run (self, worker);
}
