/*  cache_service: cache request handler. See cache_service.h. */
#include "cache_service.h"
#include "hsn_time.h"
#include "hsn_url.h"

#include <errno.h>
#include <hiredis.h>
#include <string.h>

/*  Redis must answer within this, or the request fails fast with 503. */
#define REDIS_TIMEOUT_MS   1000
#define REDIS_BACKOFF_MS   100

struct cache_service {
    cache_service_config_t cfg;
    char host[256];
    char password[128];
    int port, db;
    redisContext *redis;
    int64_t next_connect_ms;
    bool redis_up;
    hsn_enc_t enc;
    uint64_t *hits, *misses, *sets, *deletes, *errors;
    hsn_hist_t *redis_us;
};

static uint64_t dummy_counter;

static uint64_t *
counter (hsn_metrics_t *m, const char *name)
{
    return m ? hsn_metrics_counter (m, name) : &dummy_counter;
}

cache_service_t *
cache_service_new (const cache_service_config_t *cfg)
{
    cache_service_t *self = (cache_service_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (hsn_url_redis (cfg->redis_url, self->host, sizeof self->host, &self->port,
                       &self->db, self->password, sizeof self->password)) {
        free (self);
        return NULL;
    }
    hsn_enc_init (&self->enc);
    self->hits = counter (cfg->metrics, "cache.l2.hits");
    self->misses = counter (cfg->metrics, "cache.l2.misses");
    self->sets = counter (cfg->metrics, "cache.sets");
    self->deletes = counter (cfg->metrics, "cache.deletes");
    self->errors = counter (cfg->metrics, "cache.redis.errors");
    self->redis_us = cfg->metrics ? hsn_metrics_hist (cfg->metrics, "cache.redis.latency_us") : NULL;
    return self;
}

void
cache_service_destroy (cache_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cache_service_t *self = *self_p;
    if (self->redis)
        redisFree (self->redis);
    hsn_enc_release (&self->enc);
    free (self);
    *self_p = NULL;
}

bool
cache_service_redis_up (const cache_service_t *self)
{
    return self->redis_up;
}

static redisContext *redis_get (cache_service_t *self);
static void redis_failed (cache_service_t *self);

void
cache_service_check (cache_service_t *self)
{
    redisContext *c = redis_get (self);
    if (!c)
        return;
    redisReply *r = (redisReply *) redisCommand (c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR)
        redis_failed (self);
    if (r)
        freeReplyObject (r);
}

/*  Connect if needed, at most once per backoff period while Redis is down,
 *  so a dead Redis costs a request microseconds, not a connect timeout. */
static redisContext *
redis_get (cache_service_t *self)
{
    if (self->redis)
        return self->redis;
    int64_t now = hsn_now_ms ();
    if (now < self->next_connect_ms)
        return NULL;
    self->next_connect_ms = now + REDIS_BACKOFF_MS;
    struct timeval tv = { 0, 200 * 1000 };
    redisContext *c = redisConnectWithTimeout (self->host, self->port, tv);
    if (!c || c->err) {
        if (c)
            redisFree (c);
        self->redis_up = false;
        return NULL;
    }
    struct timeval cmd_tv = { REDIS_TIMEOUT_MS / 1000, (REDIS_TIMEOUT_MS % 1000) * 1000 };
    redisSetTimeout (c, cmd_tv);
    redisEnableKeepAlive (c);
    if (*self->password || self->db) {
        redisReply *r = NULL;
        if (*self->password)
            r = (redisReply *) redisCommand (c, "AUTH %s", self->password);
        bool ok = !*self->password || (r && r->type != REDIS_REPLY_ERROR);
        if (r)
            freeReplyObject (r);
        r = ok && self->db ? (redisReply *) redisCommand (c, "SELECT %d", self->db) : NULL;
        ok = ok && (!self->db || (r && r->type != REDIS_REPLY_ERROR));
        if (r)
            freeReplyObject (r);
        if (!ok) {
            redisFree (c);
            return NULL;
        }
    }
    self->redis = c;
    self->redis_up = true;
    return c;
}

static void
redis_failed (cache_service_t *self)
{
    hsn_counter_add (self->errors, 1);
    if (self->redis) {
        redisFree (self->redis);
        self->redis = NULL;
    }
    self->redis_up = false;
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

/*  Build "hsn:c:<ns>:<key>" in buf. Returns its length, or 0 when ns or key
 *  is invalid (message in *why). */
static size_t
redis_key (const hsn_env_t *req, char *buf, size_t cap, const char **why)
{
    const char *ns, *key;
    size_t nslen, keylen;
    if (hsn_env_str (req, HSN_FIELD_NS, &ns, &nslen) || !cache_ns_valid (ns, nslen)) {
        *why = "namespace must be 1-64 characters of A-Z a-z 0-9 _ - .";
        return 0;
    }
    if (hsn_env_str (req, HSN_FIELD_KEY, &key, &keylen) || keylen == 0
        || keylen > CACHE_KEY_MAX) {
        *why = "key must be 1-512 bytes";
        return 0;
    }
    size_t n = (size_t) snprintf (buf, cap, "hsn:c:%.*s:", (int) nslen, ns);
    if (n + keylen >= cap) {
        *why = "key too long";
        return 0;
    }
    memcpy (buf + n, key, keylen);
    return n + keylen;
}

#define KEY_BUF (CACHE_NS_MAX + CACHE_KEY_MAX + 16)

static void
reply_unavailable (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                   const hsn_env_t *req)
{
    hsn_worker_reply_error (w, route, req, HSN_STATUS_UNAVAILABLE,
                            "the cache's Redis is unreachable");
}

/*  The request's Redis key into key[KEY_BUF], or a 400 reply and false. */
static bool
request_key (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
             char *key, size_t *klen)
{
    const char *why = "invalid key";
    *klen = redis_key (req, key, KEY_BUF, &why);
    if (!*klen)
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST, why);
    return *klen > 0;
}

/*  A connected Redis, or a 503 reply and NULL. */
static redisContext *
redis_or_reply (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                const hsn_env_t *req)
{
    redisContext *c = redis_get (self);
    if (!c)
        reply_unavailable (self, w, route, req);
    return c;
}

static void
do_get (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
        const hsn_env_t *req)
{
    char key[KEY_BUF];
    size_t klen;
    if (!request_key (w, route, req, key, &klen))
        return;
    redisContext *c = redis_or_reply (self, w, route, req);
    if (!c)
        return;
    int64_t t0 = hsn_now_us ();
    /*  GET and PTTL in one round trip. */
    redisAppendCommand (c, "GET %b", key, klen);
    redisAppendCommand (c, "PTTL %b", key, klen);
    redisReply *val = NULL, *ttl = NULL;
    if (redisGetReply (c, (void **) &val) != REDIS_OK
        || redisGetReply (c, (void **) &ttl) != REDIS_OK
        || val->type == REDIS_REPLY_ERROR) {
        if (val)
            freeReplyObject (val);
        if (ttl)
            freeReplyObject (ttl);
        redis_failed (self);
        reply_unavailable (self, w, route, req);
        return;
    }
    if (self->redis_us)
        hsn_hist_record (self->redis_us, (uint64_t) (hsn_now_us () - t0));
    if (val->type != REDIS_REPLY_STRING
        || hsn_mp_validate (val->str, val->len, HSN_PROTO_MAX_DEPTH - 2)) {
        hsn_counter_add (self->misses, 1);
        hsn_worker_reply_error (w, route, req, HSN_STATUS_NOT_FOUND, "no such key");
    }
    else {
        hsn_counter_add (self->hits, 1);
        long long ms = ttl->type == REDIS_REPLY_INTEGER ? ttl->integer : -1;
        uint64_t secs = ms > 0 ? (uint64_t) ((ms + 999) / 1000) : 0;
        hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                       HSN_STATUS_OK, 3);
        hsn_enc_raw (&self->enc, HSN_FIELD_VALUE, val->str, val->len);
        hsn_enc_uint (&self->enc, HSN_FIELD_TTL, secs);
        hsn_enc_cstr (&self->enc, HSN_FIELD_LEVEL, "l2");
        hsn_worker_reply_enc (w, route, &self->enc);
    }
    freeReplyObject (val);
    freeReplyObject (ttl);
}

static void
do_set (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
        const hsn_env_t *req)
{
    char key[KEY_BUF];
    size_t klen;
    if (!request_key (w, route, req, key, &klen))
        return;
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
    uint64_t ttl = self->cfg.default_ttl;
    hsn_env_uint (req, HSN_FIELD_TTL, &ttl);
    if (ttl == 0 || ttl > 365ull * 86400) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST,
                                "ttl must be 1..31536000 seconds");
        return;
    }
    redisContext *c = redis_or_reply (self, w, route, req);
    if (!c)
        return;
    int64_t t0 = hsn_now_us ();
    redisReply *r = (redisReply *) redisCommand (c, "SET %b %b EX %llu", key, klen,
                                                 value->raw, value->raw_len,
                                                 (unsigned long long) ttl);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject (r);
        redis_failed (self);
        reply_unavailable (self, w, route, req);
        return;
    }
    freeReplyObject (r);
    if (self->redis_us)
        hsn_hist_record (self->redis_us, (uint64_t) (hsn_now_us () - t0));
    hsn_counter_add (self->sets, 1);
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   HSN_STATUS_OK, 1);
    hsn_enc_uint (&self->enc, HSN_FIELD_TTL, ttl);
    hsn_worker_reply_enc (w, route, &self->enc);
}

static void
do_delete (cache_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
           const hsn_env_t *req)
{
    char key[KEY_BUF];
    size_t klen;
    if (!request_key (w, route, req, key, &klen))
        return;
    redisContext *c = redis_or_reply (self, w, route, req);
    if (!c)
        return;
    redisReply *r = (redisReply *) redisCommand (c, "DEL %b", key, klen);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject (r);
        redis_failed (self);
        reply_unavailable (self, w, route, req);
        return;
    }
    long long n = r->integer;
    freeReplyObject (r);
    hsn_counter_add (self->deletes, 1);
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   n ? HSN_STATUS_OK : HSN_STATUS_NOT_FOUND, 1);
    hsn_enc_uint (&self->enc, HSN_FIELD_COUNT, (uint64_t) n);
    hsn_worker_reply_enc (w, route, &self->enc);
}

void
cache_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                      const hsn_env_t *req, void *arg)
{
    cache_service_t *self = (cache_service_t *) arg;
    switch (req->op) {
        case HSN_OP_CACHE_GET:    do_get (self, worker, route, req); break;
        case HSN_OP_CACHE_SET:    do_set (self, worker, route, req); break;
        case HSN_OP_CACHE_DELETE: do_delete (self, worker, route, req); break;
        default:
            hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                    "operation not supported by the cache service");
    }
}
