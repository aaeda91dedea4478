/*  gateway_near: near-cache in the gateway. See gateway_near.h. */
#include "gateway_near.h"
#include "hsn_inval.h"
#include "hsn_rconn.h"
#include "hsn_store.h"
#include "hsn_time.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARDS 16

typedef struct {
    pthread_mutex_t lock;
    hsn_store_t *store;
} shard_t;

struct gateway_near {
    shard_t shards[SHARDS];
    hsn_rconn_t *redis;             /* the thread's: PING on channel loss */
    pthread_t thread;
    int stop_pipe[2];
    uint64_t epoch;                 /* bumped by every invalidation */
    int up;                         /* subscribed */
    bool flush_on_resubscribe;
    uint64_t hits, misses, fills, refused, invalidations, flushes;
    uint64_t *m_hits, *m_misses;    /* the same, in the metrics registry */
};

#define ATOMIC_ADD(p, n) __atomic_fetch_add ((p), (n), __ATOMIC_RELAXED)

static uint64_t
hash_key (const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;        /* FNV-1a: only picks a shard */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (uint8_t) key[i]) * 1099511628211ull;
    return h;
}

static shard_t *
shard_of (gateway_near_t *self, const char *key, size_t klen)
{
    return &self->shards[hash_key (key, klen) % SHARDS];
}

static void
flush_all (gateway_near_t *self)
{
    ATOMIC_ADD (&self->epoch, 1);
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock (&self->shards[i].lock);
        hsn_store_clear (self->shards[i].store);
        pthread_mutex_unlock (&self->shards[i].lock);
    }
    ATOMIC_ADD (&self->flushes, 1);
}

void
gateway_near_flush (gateway_near_t *self)
{
    flush_all (self);
}

static void
del_prefix (gateway_near_t *self, const char *prefix, size_t plen)
{
    ATOMIC_ADD (&self->epoch, 1);
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock (&self->shards[i].lock);
        hsn_store_del_prefix (self->shards[i].store, prefix, plen);
        pthread_mutex_unlock (&self->shards[i].lock);
    }
}

void
gateway_near_del (gateway_near_t *self, const char *key, size_t klen)
{
    /*  The epoch first: a fill racing with this delete must lose. */
    ATOMIC_ADD (&self->epoch, 1);
    shard_t *s = shard_of (self, key, klen);
    pthread_mutex_lock (&s->lock);
    hsn_store_del (s->store, key, klen);
    pthread_mutex_unlock (&s->lock);
}

void
gateway_near_del_prefix (gateway_near_t *self, const char *prefix, size_t len)
{
    del_prefix (self, prefix, len);
}

void
gateway_near_del_ns (gateway_near_t *self, const char *ns, size_t len)
{
    char prefix[130];
    if (len + 1 > sizeof prefix)
        return;
    memcpy (prefix, ns, len);
    prefix[len] = ':';
    del_prefix (self, prefix, len + 1);
}

static void
on_inval (hsn_inval_kind_t kind, uint64_t origin, const char *payload, size_t len, void *arg)
{
    gateway_near_t *self = (gateway_near_t *) arg;
    ATOMIC_ADD (&self->invalidations, 1);
    switch (kind) {
        case HSN_INVAL_KEY: gateway_near_del (self, payload, len); break;
        case HSN_INVAL_NS:  gateway_near_del_ns (self, payload, len); break;
        default:            flush_all (self); break;
    }
}

static bool
redis_answers (gateway_near_t *self)
{
    redisContext *c = hsn_rconn_get (self->redis);
    redisReply *r = c ? (redisReply *) redisCommand (c, "PING") : NULL;
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject (r);
    if (c && !ok)
        hsn_rconn_failed (self->redis);
    return ok;
}

static void *
subscriber (void *arg)
{
    gateway_near_t *self = (gateway_near_t *) arg;
    hsn_inval_sub_t *sub = NULL;
    while (true) {
        if (!sub && hsn_rconn_get (self->redis)) {
            redisContext *c = hsn_rconn_open (self->redis);
            sub = c ? hsn_inval_sub_new (c, on_inval, self) : NULL;
            if (sub) {
                if (self->flush_on_resubscribe)
                    flush_all (self);
                self->flush_on_resubscribe = false;
                ATOMIC_ADD (&self->epoch, 1);
                __atomic_store_n (&self->up, 1, __ATOMIC_RELEASE);
            }
        }
        struct pollfd fds[2] = { { self->stop_pipe[0], POLLIN, 0 },
                                 { sub ? hsn_inval_sub_fd (sub) : -1, POLLIN, 0 } };
        int n = poll (fds, 2, sub ? -1 : 200);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (sub && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
            && hsn_inval_sub_read (sub) < 0) {
            hsn_inval_sub_destroy (&sub);
            __atomic_store_n (&self->up, 0, __ATOMIC_RELEASE);
            ATOMIC_ADD (&self->epoch, 1);
            if (redis_answers (self))
                flush_all (self);       /* others may write while we are deaf */
            else
                self->flush_on_resubscribe = true;
        }
    }
    hsn_inval_sub_destroy (&sub);
    return NULL;
}

gateway_near_t *
gateway_near_new (const char *redis_url, size_t max_entries, size_t max_bytes,
                  hsn_metrics_t *metrics)
{
    if (max_entries == 0)
        return NULL;
    gateway_near_t *self = (gateway_near_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->m_hits = metrics ? hsn_metrics_counter (metrics, "gateway.near.hits") : &self->hits;
    self->m_misses = metrics ? hsn_metrics_counter (metrics, "gateway.near.misses") : &self->misses;
    self->redis = hsn_rconn_new (redis_url, 500);
    if (!self->redis || pipe (self->stop_pipe)) {
        hsn_rconn_destroy (&self->redis);
        free (self);
        return NULL;
    }
    size_t per_entries = max_entries / SHARDS ? max_entries / SHARDS : 1;
    size_t per_bytes = max_bytes / SHARDS > 1024 ? max_bytes / SHARDS : 1024;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init (&self->shards[i].lock, NULL);
        hsn_store_config_t cfg = { per_entries, per_bytes, 0 };
        self->shards[i].store = hsn_store_new (&cfg);
    }
    pthread_create (&self->thread, NULL, subscriber, self);
    return self;
}

void
gateway_near_destroy (gateway_near_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_near_t *self = *self_p;
    if (write (self->stop_pipe[1], "x", 1) == 1)
        pthread_join (self->thread, NULL);
    close (self->stop_pipe[0]);
    close (self->stop_pipe[1]);
    for (int i = 0; i < SHARDS; i++) {
        hsn_store_destroy (&self->shards[i].store);
        pthread_mutex_destroy (&self->shards[i].lock);
    }
    hsn_rconn_destroy (&self->redis);
    free (self);
    *self_p = NULL;
}

uint64_t
gateway_near_ticket (gateway_near_t *self)
{
    return __atomic_load_n (&self->epoch, __ATOMIC_ACQUIRE);
}

bool
gateway_near_up (const gateway_near_t *self)
{
    return __atomic_load_n (&self->up, __ATOMIC_ACQUIRE) != 0;
}

/*  An entry: this header, the text, its deflate stream. */
typedef struct {
    uint32_t len, gz_len, crc, data_crc;
} entry_head_t;

int
gateway_near_get (gateway_near_t *self, const char *key, size_t klen, int64_t now_ms,
                  gateway_json_buf_t *out, gateway_prefix_t *prefix, int64_t *expires_ms)
{
    shard_t *s = shard_of (self, key, klen);
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    gateway_json_buf_reset (out);
    pthread_mutex_lock (&s->lock);
    int rc = hsn_store_get (s->store, key, klen, now_ms, &v, &vlen, &exp);
    if (rc == 0)
        /*  Copied under the lock: the next put may move the bytes. */
        rc = gateway_json_buf_append (out, v, vlen);
    pthread_mutex_unlock (&s->lock);
    ATOMIC_ADD (rc == 0 ? &self->hits : &self->misses, 1);
    if (self->m_hits != &self->hits)
        ATOMIC_ADD (rc == 0 ? self->m_hits : self->m_misses, 1);
    if (rc)
        return -ENOENT;
    entry_head_t h;
    memcpy (&h, out->data, sizeof h);
    prefix->text = out->data + sizeof h;
    prefix->len = h.len;
    prefix->gz = (const uint8_t *) out->data + sizeof h + h.len;
    prefix->gz_len = h.gz_len;
    prefix->crc = h.crc;
    prefix->data_crc = h.data_crc;
    *expires_ms = exp;
    return 0;
}

int
gateway_near_put (gateway_near_t *self, uint64_t ticket, const char *key, size_t klen,
                  const char *text, size_t len, int64_t now_ms, int64_t expires_ms)
{
    if (!gateway_near_up (self))
        return -ENOTCONN;
    /*  Compressed outside the lock; deflate never grows text by more than
     *  a few bytes per 16 KB block plus the flush marker. */
    size_t cap = sizeof (entry_head_t) + len + len + len / 1000 + 64;
    uint8_t *entry = (uint8_t *) malloc (cap);
    if (!entry)
        return -ENOMEM;
    entry_head_t h = { (uint32_t) len, 0, 0, 0 };
    memcpy (entry + sizeof h, text, len);
    h.gz_len = (uint32_t) gateway_prefix_deflate (text, len, entry + sizeof h + len,
                                                  cap - sizeof h - len, &h.crc, &h.data_crc);
    memcpy (entry, &h, sizeof h);
    shard_t *s = shard_of (self, key, klen);
    pthread_mutex_lock (&s->lock);
    /*  Checked under the shard lock: an invalidation bumps the epoch before
     *  it takes this lock to delete, so either it sees our entry or we see
     *  its epoch. */
    int rc = ticket == __atomic_load_n (&self->epoch, __ATOMIC_ACQUIRE)
             ? hsn_store_put (s->store, key, klen, entry, sizeof h + len + h.gz_len, now_ms,
                              expires_ms, NULL, NULL, 0)
             : -ESTALE;
    pthread_mutex_unlock (&s->lock);
    free (entry);
    ATOMIC_ADD (rc == 0 ? &self->fills : &self->refused, 1);
    return rc;
}

void
gateway_near_stats (gateway_near_t *self, gateway_near_stats_t *out)
{
    memset (out, 0, sizeof *out);
    out->hits = __atomic_load_n (&self->hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n (&self->misses, __ATOMIC_RELAXED);
    out->fills = __atomic_load_n (&self->fills, __ATOMIC_RELAXED);
    out->refused = __atomic_load_n (&self->refused, __ATOMIC_RELAXED);
    out->invalidations = __atomic_load_n (&self->invalidations, __ATOMIC_RELAXED);
    out->flushes = __atomic_load_n (&self->flushes, __ATOMIC_RELAXED);
    for (int i = 0; i < SHARDS; i++) {
        hsn_store_stats_t st;
        pthread_mutex_lock (&self->shards[i].lock);
        hsn_store_stats (self->shards[i].store, &st);
        pthread_mutex_unlock (&self->shards[i].lock);
        out->entries += st.entries;
        out->bytes += st.bytes;
    }
}
