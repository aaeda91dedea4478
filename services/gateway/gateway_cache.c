/*  gateway_cache: the /api/cache routes.
 *
 *    GET|PUT|DELETE /api/cache/{ns}/{key}   (PUT: ?ttl=s&tags=a,b)
 *    POST   /api/cache/{ns}/_mget           {"keys": [...]}
 *    DELETE /api/cache/{ns}
 *    POST   /api/cache/_invalidate          {"tags": [...]}
 *    GET    /api/cache/stats
 */
#include "gateway_internal.h"
#include "gateway_fast.h"

#include "hsn_time.h"

#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

static void
append_uint (gateway_json_buf_t *d, const char *fmt, uint64_t v)
{
    char num[64];
    int n = snprintf (num, sizeof num, fmt, (unsigned long long) v);
    gateway_json_buf_append (d, num, (size_t) n);
}

/*  {"namespace":..,"key":.. -- the start every key reply shares. */
static gateway_json_buf_t *
data_start (gw_thread_t *t, const char *ns, size_t nslen, const char *key, size_t keylen)
{
    gateway_json_buf_t *d = &t->json;
    gateway_json_buf_reset (d);
    gateway_json_buf_append (d, "{\"namespace\":", 13);
    gateway_json_append_str (d, ns, nslen);
    if (key) {
        gateway_json_buf_append (d, ",\"key\":", 7);
        gateway_json_append_str (d, key, keylen);
    }
    return d;
}

/*  ?tags=a,b as a msgpack array field. Returns 0, or -1 after a 400. */
static int
encode_tags_param (gw_thread_t *t, gateway_req_t *req, const char *tags)
{
    size_t n = 1;
    for (const char *p = tags; *p; p++)
        n += *p == ',';
    if (n > 16 || strlen (tags) == 0) {
        gateway_reply_error (req, 400, "bad_request", "tags: 1 to 16 comma-separated names");
        return -1;
    }
    hsn_enc_key (&t->enc, HSN_FIELD_TAGS);
    msgpack_pack_array (&t->enc.pk, n);
    const char *p = tags;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        msgpack_pack_str (&t->enc.pk, len);
        msgpack_pack_str_body (&t->enc.pk, p, len);
        p = end ? end + 1 : p + len;
    }
    return 0;
}

/*  "ns:key", the near-cache's key (and the L1's). 0 when too long. */
static size_t
near_key (char *buf, size_t cap, const char *ns, size_t nslen, const char *key, size_t keylen)
{
    if (nslen + 1 + keylen > cap)
        return 0;
    memcpy (buf, ns, nslen);
    buf[nslen] = ':';
    memcpy (buf + nslen + 1, key, keylen);
    return nslen + 1 + keylen;
}

/*  Finish a GET's data: ,"level":..,"ttl":..} and reply with max-age. */
static void
reply_value (gateway_req_t *req, gateway_json_buf_t *d, const char *level, size_t llen,
             uint64_t ttl)
{
    gateway_json_buf_append (d, ",\"level\":", 9);
    gateway_json_append_str (d, level, llen);
    append_uint (d, ",\"ttl\":%llu}", ttl);
    char cc[64];
    snprintf (cc, sizeof cc, "max-age=%llu", (unsigned long long) ttl);
    req->cache_control = cc;
    gateway_reply_ok (req, 200, d->data, d->len);
}

int
gateway_cache_near_get (gw_thread_t *t, const char *ns, size_t nslen, const char *key,
                        size_t keylen, int64_t now, gateway_prefix_t *prefix, int64_t *expires)
{
    gateway_near_t *near = t->cfg->near;
    char nkey[1024];
    size_t nklen = near ? near_key (nkey, sizeof nkey, ns, nslen, key, keylen) : 0;
    if (!nklen)
        return -ENOENT;
    return gateway_near_get (near, nkey, nklen, now, &t->json, prefix, expires);
}

void
gateway_cache_near_send (gateway_req_t *req, const gateway_prefix_t *prefix, int64_t expires,
                         int64_t now)
{
    /*  Kept ready: only the TTL and the meta are written per request. */
    uint64_t ttl = (uint64_t) ((expires - now + 999) / 1000);
    char tail[32], cc[64];
    int n = snprintf (tail, sizeof tail, "%llu}", (unsigned long long) ttl);
    snprintf (cc, sizeof cc, "max-age=%llu", (unsigned long long) ttl);
    req->cache_control = cc;
    gateway_reply_ok_prefixed (req, prefix, tail, (size_t) n);
}

/*  What a GET keeps across its backend call. */
typedef struct {
    uint64_t ticket;
    int64_t now;
    bool fill;                      /* fill the near-cache with the answer */
    size_t nslen, keylen;
    const char *ns, *key;           /* the request's (a synchronous call only) */
    size_t nklen;                   /* "ns:key" in nkey, 0: did not fit */
    char nkey[1024];
} key_get_t;

/*  The request for ns/key into t->enc; returns its id. */
static uint64_t
key_get_begin (gw_thread_t *t, const char *ns, size_t nslen, const char *key, size_t keylen,
               key_get_t *c)
{
    gateway_near_t *near = t->cfg->near;
    c->ns = ns;
    c->key = key;
    c->nslen = nslen;
    c->keylen = keylen;
    c->nklen = near_key (c->nkey, sizeof c->nkey, ns, nslen, key, keylen);
    c->now = hsn_now_ms ();
    /*  A near-cache fill needs a read from Redis taken after this ticket. */
    c->fill = near && c->nklen && gateway_near_up (near);
    c->ticket = c->fill ? gateway_near_ticket (near) : 0;
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_GET, c->fill ? 3 : 2);
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    hsn_enc_str (&t->enc, HSN_FIELD_KEY, key, keylen);
    if (c->fill)
        hsn_enc_str (&t->enc, HSN_FIELD_LEVEL, "l2", 2);
    return rid;
}

/*  The answer to a GET from the cache's reply. */
static void
key_get_finish (gw_thread_t *t, gateway_req_t *req, const void *cont, zmq_msg_t *msg,
                hsn_env_t *env)
{
    const key_get_t *c = (const key_get_t *) cont;
    if (gateway_call_status (req, msg, env))
        return;
    /*  Kept whole in nkey when it fits (an answer given later needs it). */
    const char *ns = c->nklen ? c->nkey : c->ns;
    const char *key = c->nklen ? c->nkey + c->nslen + 1 : c->key;
    gateway_json_buf_t *d = data_start (t, ns, c->nslen, key, c->keylen);
    gateway_json_buf_append (d, ",\"value\":", 9);
    const hsn_mp_obj_t *v = &env->fields[HSN_FIELD_VALUE];
    if (!hsn_env_has (env, HSN_FIELD_VALUE)
        || gateway_json_from_mp (v->raw, v->raw_len, HSN_PROTO_MAX_DEPTH, d)) {
        zmq_msg_close (msg);
        gateway_reply_error (req, 502, "malformed", "the cache returned an unreadable value");
        return;
    }
    size_t value_end = d->len;
    const char *level = "l2";
    size_t llen = 2;
    uint64_t ttl = 0;
    hsn_env_str (env, HSN_FIELD_LEVEL, &level, &llen);
    hsn_env_uint (env, HSN_FIELD_TTL, &ttl);
    char level_copy[8];
    snprintf (level_copy, sizeof level_copy, "%.*s", (int) (llen < 7 ? llen : 7), level);
    zmq_msg_close (msg);
    /*  TTL comes in whole seconds rounded up: keep one second less, so the
     *  near copy never outlives the value. The near copy is the envelope up
     *  to the TTL, as it will be answered. */
    if (c->fill && ttl > 1) {
        gateway_json_buf_t *pre = &t->out;
        gateway_json_buf_reset (pre);
        gateway_json_buf_append (pre, GATEWAY_ENVELOPE_HEAD, GATEWAY_ENVELOPE_HEAD_LEN);
        gateway_json_buf_append (pre, d->data, value_end);
        gateway_json_buf_append (pre, ",\"level\":\"near\",\"ttl\":", 22);
        gateway_near_put (t->cfg->near, c->ticket, c->nkey, c->nklen, pre->data, pre->len,
                          c->now, c->now + (int64_t) (ttl - 1) * 1000);
    }
    reply_value (req, d, level_copy, strlen (level_copy), ttl);
}

static void
key_get (gw_thread_t *t, gateway_req_t *req, const char *ns, size_t nslen,
         const char *key, size_t keylen)
{
    int64_t now = hsn_now_ms ();
    gateway_prefix_t prefix;
    int64_t expires;
    if (gateway_cache_near_get (t, ns, nslen, key, keylen, now, &prefix, &expires) == 0) {
        gateway_cache_near_send (req, &prefix, expires, now);
        return;
    }
    key_get_t c;
    uint64_t rid = key_get_begin (t, ns, nslen, key, keylen, &c);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call_any (t, req, rid, &msg, &env) == 0)
        key_get_finish (t, req, &c, &msg, &env);
}

gateway_front_rc_t
gateway_cache_get_front (gw_thread_t *t, gateway_req_t *req, const gateway_fast_to_t *to,
                         const char *ns, size_t nslen, const char *key, size_t keylen)
{
    key_get_t c;
    if (nslen + 1 + keylen > sizeof c.nkey)
        return GATEWAY_FRONT_PASS;
    uint64_t rid = key_get_begin (t, ns, nslen, key, keylen, &c);
    size_t used = offsetof (key_get_t, nkey) + c.nklen;
    int rc = gateway_fast_call (t->fast, t, req, rid, to, key_get_finish, &c, used);
    return rc == 0 ? GATEWAY_FRONT_PENDING : rc == -1 ? GATEWAY_FRONT_DONE : GATEWAY_FRONT_PASS;
}

/*  A write through this gateway: its next read must not be the old copy
 *  (the invalidation channel would also drop it, a moment later). */
static void
near_drop (gw_thread_t *t, const char *ns, size_t nslen, const char *key, size_t keylen)
{
    char nkey[1024];
    size_t nklen = t->cfg->near ? near_key (nkey, sizeof nkey, ns, nslen, key, keylen) : 0;
    if (nklen)
        gateway_near_del (t->cfg->near, nkey, nklen);
}

static void
key_put (gw_thread_t *t, gateway_req_t *req, const char *ns, size_t nslen,
         const char *key, size_t keylen)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    bool bad = false;
    uint64_t ttl = 0;
    bool has_ttl = gateway_query_uint (ri->query_string, "ttl", &ttl, &bad);
    if (bad || (has_ttl && ttl == 0)) {
        gateway_reply_error (req, 400, "bad_request", "ttl must be a positive integer (seconds)");
        return;
    }
    char tags[16 * 130];
    int tags_rc = ri->query_string
                  ? mg_get_var (ri->query_string, strlen (ri->query_string), "tags",
                                tags, sizeof tags) : -1;
    /*  -2: longer than 16 tags of 128 bytes can be; never drop them silently. */
    if (tags_rc == -2) {
        gateway_reply_error (req, 400, "bad_request", "tags: 1 to 16 comma-separated names");
        return;
    }
    bool has_tags = tags_rc >= 0;
    if (gateway_read_json (t, req))
        return;
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_SET, 3 + has_ttl + has_tags);
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    hsn_enc_str (&t->enc, HSN_FIELD_KEY, key, keylen);
    hsn_enc_raw (&t->enc, HSN_FIELD_VALUE, t->mp.data, t->mp.size);
    if (has_ttl)
        hsn_enc_uint (&t->enc, HSN_FIELD_TTL, ttl);
    if (has_tags && encode_tags_param (t, req, tags))
        return;
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    hsn_env_uint (&env, HSN_FIELD_TTL, &ttl);
    zmq_msg_close (&msg);
    near_drop (t, ns, nslen, key, keylen);
    gateway_json_buf_t *d = data_start (t, ns, nslen, key, keylen);
    append_uint (d, ",\"ttl\":%llu}", ttl);
    gateway_reply_ok (req, 200, d->data, d->len);
}

static void
key_delete (gw_thread_t *t, gateway_req_t *req, const char *ns, size_t nslen,
            const char *key, size_t keylen)
{
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_DELETE, 2);
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    hsn_enc_str (&t->enc, HSN_FIELD_KEY, key, keylen);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    zmq_msg_close (&msg);
    near_drop (t, ns, nslen, key, keylen);
    gateway_json_buf_t *d = data_start (t, ns, nslen, key, keylen);
    gateway_json_buf_append (d, ",\"deleted\":true}", 16);
    gateway_reply_ok (req, 200, d->data, d->len);
}

/*  The JSON body's array member name ({"name": [...]}) into *out. Returns
 *  0, or -1 after a 4xx answer. */
static int
body_array (gw_thread_t *t, gateway_req_t *req, const char *name, hsn_mp_obj_t *out)
{
    if (gateway_read_json (t, req))
        return -1;
    if (gateway_mp_member (t->mp.data, t->mp.size, name, out) == 0 && out->type == HSN_MP_ARRAY)
        return 0;
    char message[64];
    snprintf (message, sizeof message, "the body must be {\"%s\": [...]}", name);
    gateway_reply_error (req, 400, "bad_request", message);
    return -1;
}

static void
mget (gw_thread_t *t, gateway_req_t *req, const char *ns, size_t nslen)
{
    hsn_mp_obj_t keys;
    if (body_array (t, req, "keys", &keys))
        return;
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_MGET, 2);
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    hsn_enc_raw (&t->enc, HSN_FIELD_KEYS, keys.raw, keys.raw_len);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    /*  {"namespace":..,"items":{"k":{"value":..,"ttl":..,"level":..}|null}} */
    gateway_json_buf_t *d = data_start (t, ns, nslen, NULL, 0);
    gateway_json_buf_append (d, ",\"items\":{", 10);
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    hsn_mp_reader_t kr, rr;
    hsn_mp_reader_of (&kr, &keys);
    bool ok = hsn_env_has (&env, HSN_FIELD_RESULT) && res->type == HSN_MP_ARRAY
              && res->v.c.count == keys.v.c.count;
    if (ok)
        hsn_mp_reader_of (&rr, res);
    for (uint32_t i = 0; ok && i < keys.v.c.count; i++) {
        hsn_mp_obj_t k, item, v, ttl, level;
        ok = hsn_mp_get (&kr, &k, 1) == 0 && hsn_mp_get (&rr, &item, HSN_PROTO_MAX_DEPTH) == 0;
        if (!ok)
            break;
        if (i)
            gateway_json_buf_append (d, ",", 1);
        gateway_json_append_str (d, k.v.s.ptr, k.v.s.len);
        gateway_json_buf_append (d, ":", 1);
        if (item.type == HSN_MP_NIL) {
            gateway_json_buf_append (d, "null", 4);
            continue;
        }
        hsn_mp_reader_t ir;
        hsn_mp_reader_of (&ir, &item);
        ok = item.type == HSN_MP_ARRAY && item.v.c.count == 3
             && hsn_mp_get (&ir, &v, HSN_PROTO_MAX_DEPTH) == 0
             && hsn_mp_get (&ir, &ttl, 1) == 0 && ttl.type == HSN_MP_UINT
             && hsn_mp_get (&ir, &level, 1) == 0 && level.type == HSN_MP_STR;
        if (!ok)
            break;
        gateway_json_buf_append (d, "{\"value\":", 9);
        ok = gateway_json_from_mp (v.raw, v.raw_len, HSN_PROTO_MAX_DEPTH, d) == 0;
        append_uint (d, ",\"ttl\":%llu,\"level\":", ttl.v.u);
        gateway_json_append_str (d, level.v.s.ptr, level.v.s.len);
        gateway_json_buf_append (d, "}", 1);
    }
    zmq_msg_close (&msg);
    if (!ok) {
        gateway_reply_error (req, 502, "malformed", "the cache returned an unreadable result");
        return;
    }
    gateway_json_buf_append (d, "}}", 2);
    gateway_reply_ok (req, 200, d->data, d->len);
}

static void
delete_namespace (gw_thread_t *t, gateway_req_t *req, const char *ns, size_t nslen)
{
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_DELETE_NS, 1);
    hsn_enc_str (&t->enc, HSN_FIELD_NS, ns, nslen);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    uint64_t n = 0;
    hsn_env_uint (&env, HSN_FIELD_COUNT, &n);
    zmq_msg_close (&msg);
    if (t->cfg->near)
        gateway_near_del_ns (t->cfg->near, ns, nslen);
    gateway_json_buf_t *d = data_start (t, ns, nslen, NULL, 0);
    append_uint (d, ",\"deleted\":%llu}", n);
    gateway_reply_ok (req, 200, d->data, d->len);
}

static void
invalidate (gw_thread_t *t, gateway_req_t *req)
{
    hsn_mp_obj_t tags;
    if (body_array (t, req, "tags", &tags))
        return;
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_INVALIDATE_TAGS, 1);
    hsn_enc_raw (&t->enc, HSN_FIELD_TAGS, tags.raw, tags.raw_len);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    uint64_t n = 0;
    hsn_env_uint (&env, HSN_FIELD_COUNT, &n);
    zmq_msg_close (&msg);
    if (t->cfg->near)
        gateway_near_flush (t->cfg->near);
    gateway_json_buf_t *d = &t->json;
    gateway_json_buf_reset (d);
    append_uint (d, "{\"invalidated\":%llu}", n);
    gateway_reply_ok (req, 200, d->data, d->len);
}

static void
stats (gw_thread_t *t, gateway_req_t *req)
{
    uint64_t rid = gateway_begin (t, HSN_OP_CACHE_STATS, 0);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    gateway_json_buf_reset (&t->json);
    int rc = hsn_env_has (&env, HSN_FIELD_RESULT)
             ? gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, &t->json) : -1;
    zmq_msg_close (&msg);
    if (rc)
        gateway_reply_error (req, 502, "malformed", "the cache returned unreadable stats");
    else
        gateway_reply_ok (req, 200, t->json.data, t->json.len);
}

void
gateway_cache_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                      const gateway_params_t *p)
{
    switch (handler) {
        case H_CACHE_STATS:      stats (t, req); break;
        case H_CACHE_INVALIDATE: invalidate (t, req); break;
        case H_CACHE_DELETE_NS:  delete_namespace (t, req, p->ptr[0], p->len[0]); break;
        case H_CACHE_MGET:       mget (t, req, p->ptr[0], p->len[0]); break;
        case H_CACHE_GET:        key_get (t, req, p->ptr[0], p->len[0], p->ptr[1], p->len[1]); break;
        case H_CACHE_PUT:        key_put (t, req, p->ptr[0], p->len[0], p->ptr[1], p->len[1]); break;
        case H_CACHE_DELETE:     key_delete (t, req, p->ptr[0], p->len[0], p->ptr[1], p->len[1]); break;
        default:                 gateway_reply_error (req, 404, "not_found", "no such route");
    }
}
