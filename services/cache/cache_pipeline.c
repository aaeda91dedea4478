/*  cache_pipeline: one Redis round trip for a whole batch of requests.
 *
 *  Every pending request appends its commands to hiredis's output buffer;
 *  then the replies are read in the same order and each request answered.
 *  Deleting a namespace scans Redis, so it runs on its own between the
 *  pipelined stretches before and after it, keeping the order of requests.
 */
#include "cache_internal.h"
#include "hsn_time.h"

#include <string.h>

#define MAX_REPLIES (2 * CACHE_MGET_MAX + 2)

/*  Lua: drop every key a tag names, the tag set, and announce it, in one
 *  atomic step. KEYS[1] tag set; ARGV[1] invalidation message; ARGV[2] key
 *  prefix; ARGV[3] channel. */
static const char TAG_SCRIPT[] =
    "local m = redis.call('SMEMBERS', KEYS[1]) "
    "for i = 1, #m do redis.call('UNLINK', ARGV[2] .. m[i]) end "
    "redis.call('UNLINK', KEYS[1]) "
    "redis.call('PUBLISH', ARGV[3], ARGV[1]) "
    "return #m";

/*  --- stored values: msgpack [value, [tag, ...]] ----------------------- */

typedef struct {
    const uint8_t *value;
    size_t vlen;
    const char *tags[CACHE_TAGS_MAX];
    size_t tag_lens[CACHE_TAGS_MAX];
    size_t ntags;
} stored_t;

static int
parse_stored (const char *buf, size_t len, stored_t *out)
{
    if (hsn_mp_validate (buf, len, HSN_PROTO_MAX_DEPTH))
        return -1;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, buf, len);
    hsn_mp_obj_t arr, v, tags;
    if (hsn_mp_next (&r, &arr) || arr.type != HSN_MP_ARRAY || arr.v.c.count != 2
        || hsn_mp_get (&r, &v, HSN_PROTO_MAX_DEPTH)
        || hsn_mp_get (&r, &tags, 2) || tags.type != HSN_MP_ARRAY
        || tags.v.c.count > CACHE_TAGS_MAX)
        return -1;
    out->value = v.raw;
    out->vlen = v.raw_len;
    out->ntags = 0;
    hsn_mp_reader_t tr;
    hsn_mp_reader_of (&tr, &tags);
    for (uint32_t i = 0; i < tags.v.c.count; i++) {
        hsn_mp_obj_t t;
        if (hsn_mp_get (&tr, &t, 1) || t.type != HSN_MP_STR)
            return -1;
        out->tags[out->ntags] = t.v.s.ptr;
        out->tag_lens[out->ntags++] = t.v.s.len;
    }
    return 0;
}

static void
pack_stored (msgpack_sbuffer *buf, const pending_t *p)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (buf);
    msgpack_pack_array (&pk, 2);
    msgpack_sbuffer_write (buf, (const char *) p->value, p->vlen);
    msgpack_pack_array (&pk, p->ntags);
    for (size_t i = 0; i < p->ntags; i++) {
        msgpack_pack_str (&pk, p->tag_lens[i]);
        msgpack_pack_str_body (&pk, p->tags[i], p->tag_lens[i]);
    }
}

/*  --- appending -------------------------------------------------------- */

static void
append_get (redisContext *c, const char *key, size_t klen)
{
    char rkey[CACHE_NS_MAX + CACHE_KEY_MAX + 8];
    size_t rlen = cache_redis_key (rkey, key, klen);
    redisAppendCommand (c, "GET %b", rkey, rlen);
    redisAppendCommand (c, "PTTL %b", rkey, rlen);
}

static void
append (cache_service_t *self, redisContext *c, pending_t *p)
{
    char rkey[CACHE_NS_MAX + CACHE_KEY_MAX + 8];
    char tkey[CACHE_TAG_MAX + 8];
    size_t rlen = p->key ? cache_redis_key (rkey, p->key, p->klen) : 0;
    int64_t now = hsn_now_ms ();
    p->replies = 0;
    switch (p->kind) {
        case P_GET:
            if (p->leader < 0) {
                append_get (c, p->key, p->klen);
                p->replies = 2;
            }
            break;
        case P_MGET:
            p->mvals = (uint8_t **) calloc (p->nkeys, sizeof (uint8_t *));
            p->mlens = (size_t *) calloc (p->nkeys, sizeof (size_t));
            p->mttl = (uint64_t *) calloc (p->nkeys, sizeof (uint64_t));
            for (size_t i = 0; i < p->nkeys; i++) {
                const uint8_t *v;
                size_t vlen;
                int64_t exp;
                if (hsn_store_get (self->l1, p->keys[i], p->key_lens[i], now, &v, &vlen,
                                     &exp) == 0) {
                    p->mvals[i] = (uint8_t *) malloc (vlen);
                    memcpy (p->mvals[i], v, vlen);
                    p->mlens[i] = vlen;
                    p->mttl[i] = (uint64_t) ((exp - now + 999) / 1000);
                }
                else {
                    append_get (c, p->keys[i], p->key_lens[i]);
                    p->replies += 2;
                }
            }
            break;
        case P_SET:
            pack_stored (&self->scratch, p);
            redisAppendCommand (c, "SET %b %b EX %llu", rkey, rlen, self->scratch.data,
                                self->scratch.size, (unsigned long long) p->ttl);
            for (size_t i = 0; i < p->ntags; i++) {
                int tlen = snprintf (tkey, sizeof tkey, "hsn:t:%s", p->tags[i]);
                redisAppendCommand (c, "SADD %b %b", tkey, (size_t) tlen, p->key, p->klen);
                /*  The tag set lives as long as its longest-lived key. */
                redisAppendCommand (c, "EXPIRE %b %llu NX", tkey, (size_t) tlen,
                                    (unsigned long long) p->ttl);
                redisAppendCommand (c, "EXPIRE %b %llu GT", tkey, (size_t) tlen,
                                    (unsigned long long) p->ttl);
            }
            hsn_inval_append_publish (c, HSN_INVAL_KEY, self->origin, p->key, p->klen);
            p->replies = 2 + 3 * (int) p->ntags;
            break;
        case P_DEL:
            redisAppendCommand (c, "DEL %b", rkey, rlen);
            hsn_inval_append_publish (c, HSN_INVAL_KEY, self->origin, p->key, p->klen);
            p->replies = 2;
            break;
        case P_TAGS:
            for (size_t i = 0; i < p->ntags; i++) {
                char msg[CACHE_TAG_MAX + HSN_INVAL_HEADER];
                int mlen = hsn_inval_encode (msg, sizeof msg, HSN_INVAL_TAG, self->origin,
                                             p->tags[i], p->tag_lens[i]);
                int tlen = snprintf (tkey, sizeof tkey, "hsn:t:%s", p->tags[i]);
                redisAppendCommand (c, "EVAL %s 1 %b %b hsn:c: %s", TAG_SCRIPT, tkey,
                                    (size_t) tlen, msg, (size_t) mlen, HSN_INVAL_CHANNEL);
            }
            p->replies = (int) p->ntags;
            break;
        case P_DEL_NS:
            break;
    }
}

/*  --- answering --------------------------------------------------------- */

static void
reply_status (cache_service_t *self, hsn_worker_t *w, pending_t *p, hsn_status_t status,
              const char *message)
{
    hsn_worker_reply_error (w, &p->route, &p->head, status, message);
}

static void
reply_count (cache_service_t *self, hsn_worker_t *w, pending_t *p, hsn_status_t status,
             uint64_t count)
{
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, p->head.rid, p->head.service, p->head.op,
                   status, 1);
    hsn_enc_uint (&self->enc, HSN_FIELD_COUNT, count);
    hsn_worker_reply_enc (w, &p->route, &self->enc);
}

/*  GET+PTTL replies of one key: the stored value, or -1 for a miss. Fills
 *  L1 when coherent. *ttl_s gets the remaining TTL. */
static int
take_value (cache_service_t *self, const char *key, size_t klen, redisReply *get,
            redisReply *pttl, stored_t *st, uint64_t *ttl_s)
{
    if (get->type != REDIS_REPLY_STRING || parse_stored (get->str, get->len, st))
        return -1;
    long long ms = pttl->type == REDIS_REPLY_INTEGER ? pttl->integer : -1;
    if (ms <= 0)
        return -1;                      /* expired between GET and PTTL */
    *ttl_s = (uint64_t) ((ms + 999) / 1000);
    /*  No fill while deaf to invalidations: the entry could go stale. */
    if (cache_l1_fillable (self)) {
        int64_t now = hsn_now_ms ();
        hsn_store_put (self->l1, key, klen, st->value, st->vlen, now, now + ms,
                         st->tags, st->tag_lens, st->ntags);
    }
    return 0;
}

static void
answer_get (cache_service_t *self, hsn_worker_t *w, pending_t *p, redisReply **r)
{
    cache_ns_t *ns = cache_ns_stats (self, p->key, (size_t) (strchr (p->key, ':') - p->key));
    if (p->leader >= 0) {
        /*  Single-flight follower: the leader's outcome is ours. */
        pending_t *l = &self->pending[p->leader];
        if (l->status == HSN_STATUS_OK) {
            hsn_counter_add (self->hits_l2, 1);
            hsn_counter_add (ns->hits_l2, 1);
            cache_reply_value (self, w, &p->route, &p->head, l->value, l->vlen, l->ttl, "l2");
        }
        else {
            hsn_counter_add (self->misses, 1);
            hsn_counter_add (ns->misses, 1);
            reply_status (self, w, p, l->status, l->status == HSN_STATUS_NOT_FOUND
                          ? "no such key" : "the cache's Redis is unreachable");
        }
        return;
    }
    hsn_counter_add (self->redis_reads, 1);
    stored_t st;
    uint64_t ttl;
    if (take_value (self, p->key, p->klen, r[0], r[1], &st, &ttl)) {
        p->status = HSN_STATUS_NOT_FOUND;
        hsn_counter_add (self->misses, 1);
        hsn_counter_add (ns->misses, 1);
        reply_status (self, w, p, HSN_STATUS_NOT_FOUND, "no such key");
        return;
    }
    p->status = HSN_STATUS_OK;
    p->value = (uint8_t *) malloc (st.vlen);
    memcpy (p->value, st.value, st.vlen);
    p->vlen = st.vlen;
    p->ttl = ttl;
    hsn_counter_add (self->hits_l2, 1);
    hsn_counter_add (ns->hits_l2, 1);
    cache_reply_value (self, w, &p->route, &p->head, st.value, st.vlen, ttl, "l2");
}

/*  MGET reply: RESULT is an array with, per key, nil or [value, ttl, level]. */
static void
answer_mget (cache_service_t *self, hsn_worker_t *w, pending_t *p, redisReply **r)
{
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, p->head.rid, p->head.service, p->head.op,
                   HSN_STATUS_OK, 1);
    hsn_enc_key (&self->enc, HSN_FIELD_RESULT);
    msgpack_packer *pk = &self->enc.pk;
    msgpack_pack_array (pk, p->nkeys);
    size_t k = 0;
    for (size_t i = 0; i < p->nkeys; i++) {
        const char *level = "l1";
        const uint8_t *v = p->mvals[i];
        size_t vlen = p->mlens[i];
        uint64_t ttl = p->mttl[i];
        stored_t st;
        if (!v) {
            level = "l2";
            hsn_counter_add (self->redis_reads, 1);
            if (take_value (self, p->keys[i], p->key_lens[i], r[k], r[k + 1], &st, &ttl) == 0) {
                v = st.value;
                vlen = st.vlen;
            }
            k += 2;
        }
        if (!v) {
            hsn_counter_add (self->misses, 1);
            msgpack_pack_nil (pk);
            continue;
        }
        hsn_counter_add (level[1] == '1' ? self->hits_l1 : self->hits_l2, 1);
        msgpack_pack_array (pk, 3);
        hsn_enc_append (&self->enc, v, vlen);
        msgpack_pack_uint64 (pk, ttl);
        msgpack_pack_str (pk, 2);
        msgpack_pack_str_body (pk, level, 2);
    }
    hsn_worker_reply_enc (w, &p->route, &self->enc);
}

static void
answer (cache_service_t *self, hsn_worker_t *w, pending_t *p, redisReply **r)
{
    switch (p->kind) {
        case P_GET:
            answer_get (self, w, p, r);
            break;
        case P_MGET:
            answer_mget (self, w, p, r);
            break;
        case P_SET: {
            if (r[0]->type != REDIS_REPLY_STATUS) {
                reply_status (self, w, p, HSN_STATUS_UNAVAILABLE, r[0]->type == REDIS_REPLY_ERROR
                              ? r[0]->str : "Redis refused the write");
                return;
            }
            hsn_counter_add (self->sets, 1);
            hsn_counter_add (self->inval_sent, 1);
            /*  Write-through: this replica's next read is an L1 hit. */
            if (cache_l1_fillable (self)) {
                int64_t now = hsn_now_ms ();
                hsn_store_put (self->l1, p->key, p->klen, p->value, p->vlen, now,
                                 now + (int64_t) p->ttl * 1000, (const char *const *) p->tags,
                                 p->tag_lens, p->ntags);
            }
            hsn_enc_begin (&self->enc, HSN_KIND_REPLY, p->head.rid, p->head.service,
                           p->head.op, HSN_STATUS_OK, 1);
            hsn_enc_uint (&self->enc, HSN_FIELD_TTL, p->ttl);
            hsn_worker_reply_enc (w, &p->route, &self->enc);
            break;
        }
        case P_DEL: {
            /*  Again now: a read of this batch queued before the delete
             *  filled L1 from Redis before the DEL ran, and our own
             *  invalidation message is skipped. */
            hsn_store_del (self->l1, p->key, p->klen);
            long long n = r[0]->type == REDIS_REPLY_INTEGER ? r[0]->integer : 0;
            hsn_counter_add (self->deletes, 1);
            hsn_counter_add (self->inval_sent, 1);
            reply_count (self, w, p, n ? HSN_STATUS_OK : HSN_STATUS_NOT_FOUND, (uint64_t) n);
            break;
        }
        case P_TAGS: {
            uint64_t n = 0;
            for (size_t i = 0; i < p->ntags; i++)       /* as for P_DEL */
                hsn_store_del_tag (self->l1, p->tags[i], p->tag_lens[i]);
            for (size_t i = 0; i < p->ntags; i++)
                if (r[i]->type == REDIS_REPLY_INTEGER)
                    n += (uint64_t) r[i]->integer;
            hsn_counter_add (self->inval_sent, p->ntags);
            reply_count (self, w, p, HSN_STATUS_OK, n);
            break;
        }
        case P_DEL_NS:
            break;
    }
}

/*  SCAN the namespace's keys and UNLINK them, then announce it. */
static int
delete_namespace (cache_service_t *self, redisContext *c, hsn_worker_t *w, pending_t *p)
{
    char pattern[CACHE_NS_MAX + 16];
    snprintf (pattern, sizeof pattern, "hsn:c:%s:*", p->key);
    char cursor[32] = "0";
    uint64_t deleted = 0;
    do {
        redisReply *r = (redisReply *) redisCommand (c, "SCAN %s MATCH %s COUNT 1000",
                                                     cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject (r);
            return -1;
        }
        snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        if (keys->elements) {
            const char **argv = (const char **) malloc ((keys->elements + 1) * sizeof (char *));
            size_t *lens = (size_t *) malloc ((keys->elements + 1) * sizeof (size_t));
            argv[0] = "UNLINK";
            lens[0] = 6;
            for (size_t i = 0; i < keys->elements; i++) {
                argv[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            redisReply *u = (redisReply *) redisCommandArgv (c, (int) keys->elements + 1,
                                                             argv, lens);
            free (argv);
            free (lens);
            if (!u || u->type != REDIS_REPLY_INTEGER) {
                if (u)
                    freeReplyObject (u);
                freeReplyObject (r);
                return -1;
            }
            deleted += (uint64_t) u->integer;
            freeReplyObject (u);
        }
        freeReplyObject (r);
    } while (strcmp (cursor, "0") != 0);
    /*  As for P_DEL: reads answered before this filled L1 from Redis. */
    char prefix[CACHE_NS_MAX + 2];
    memcpy (prefix, p->key, p->klen);
    prefix[p->klen] = ':';
    hsn_store_del_prefix (self->l1, prefix, p->klen + 1);
    hsn_inval_append_publish (c, HSN_INVAL_NS, self->origin, p->key, p->klen);
    redisReply *pub = NULL;
    if (redisGetReply (c, (void **) &pub) != REDIS_OK)
        return -1;
    freeReplyObject (pub);
    hsn_counter_add (self->inval_sent, 1);
    reply_count (self, w, p, HSN_STATUS_OK, deleted);
    return 0;
}

/*  Read the replies of pending[from..to) and answer each. Returns 0, or -1
 *  when the connection broke (the rest is answered by the caller). */
static int
read_and_answer (cache_service_t *self, redisContext *c, hsn_worker_t *w,
                 size_t from, size_t to, size_t *answered)
{
    redisReply *r[MAX_REPLIES];
    int64_t t0 = hsn_now_us ();
    for (size_t i = from; i < to; i++) {
        pending_t *p = &self->pending[i];
        for (int k = 0; k < p->replies; k++) {
            if (redisGetReply (c, (void **) &r[k]) != REDIS_OK) {
                for (int j = 0; j < k; j++)
                    freeReplyObject (r[j]);
                return -1;
            }
        }
        if (i == from && self->redis_us)
            hsn_hist_record (self->redis_us, (uint64_t) (hsn_now_us () - t0));
        answer (self, w, p, r);
        for (int k = 0; k < p->replies; k++)
            freeReplyObject (r[k]);
        *answered = i + 1;
    }
    return 0;
}

void
cache_pipeline_run (cache_service_t *self, hsn_worker_t *w)
{
    redisContext *c = hsn_rconn_get (self->redis);
    size_t done = 0;
    while (c && done < self->npending) {
        size_t end = done;
        for (; end < self->npending && self->pending[end].kind != P_DEL_NS; end++)
            append (self, c, &self->pending[end]);
        if (read_and_answer (self, c, w, done, end, &done))
            break;
        if (end < self->npending) {
            if (delete_namespace (self, c, w, &self->pending[end]))
                break;
            done = end + 1;
        }
    }
    if (done < self->npending) {
        /*  Redis went away mid-batch: whatever was not answered fails now,
         *  clearly, rather than waiting for a client timeout. */
        hsn_counter_add (self->errors, 1);
        hsn_rconn_failed (self->redis);
        for (size_t i = done; i < self->npending; i++)
            reply_status (self, w, &self->pending[i], HSN_STATUS_UNAVAILABLE,
                          "the cache's Redis is unreachable");
    }
    for (size_t i = 0; i < self->npending; i++)
        cache_pending_free (&self->pending[i]);
    self->npending = 0;
}
