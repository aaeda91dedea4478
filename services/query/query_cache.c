/*  query_cache: asynchronous calls to hsn-cache through the broker. See
 *  query_cache.h. */
#include "query_cache.h"
#include "hsn_sock.h"
#include "hsn_time.h"

#include <errno.h>
#include <string.h>

#define TICK_MS 20

typedef struct {
    bool used;
    uint64_t rid;
    int64_t deadline_ms;
    query_cache_fn *fn;             /* NULL: nobody waits for the answer */
    void *arg;
} call_t;

struct query_cache {
    zloop_t *loop;
    zsock_t *sock;
    void *handle;
    int timer;
    uint32_t timeout_ms;
    hsn_enc_t enc;
    uint64_t next_rid;              /* the next call's id */
    uint64_t oldest;                /* no outstanding call has a smaller id */
    size_t pending;
    call_t calls[QUERY_CACHE_PENDING];  /* by rid % QUERY_CACHE_PENDING */
};

static int
on_reply (zloop_t *loop, zsock_t *sock, void *arg)
{
    query_cache_t *self = (query_cache_t *) arg;
    for (int n = 0; n < 1000; n++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        bool more = zmq_msg_more (&msg);
        hsn_env_t env;
        if (!more && hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)) == 0
            && env.kind == HSN_KIND_REPLY) {
            call_t *c = &self->calls[env.rid % QUERY_CACHE_PENDING];
            if (c->used && c->rid == env.rid) {
                c->used = false;
                self->pending--;
                if (c->fn)
                    c->fn ((hsn_status_t) env.status, &env, c->arg);
            }
        }
        zmq_msg_close (&msg);
        while (more) {                  /* replies are one frame: drop extras */
            zmq_msg_init (&msg);
            more = zmq_msg_recv (&msg, self->handle, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&msg);
            zmq_msg_close (&msg);
        }
    }
    return 0;
}

/*  Calls past their deadline: their ids are consecutive and their timeouts
 *  equal, so they expire oldest first. */
static int
on_tick (zloop_t *loop, int timer_id, void *arg)
{
    query_cache_t *self = (query_cache_t *) arg;
    int64_t now = hsn_now_ms ();
    while (self->oldest < self->next_rid) {
        call_t *c = &self->calls[self->oldest % QUERY_CACHE_PENDING];
        if (c->used && c->rid == self->oldest) {
            if (c->deadline_ms > now)
                break;
            c->used = false;
            self->pending--;
            if (c->fn)
                c->fn (HSN_STATUS_TIMEOUT, NULL, c->arg);
        }
        self->oldest++;
    }
    return 0;
}

query_cache_t *
query_cache_new (zloop_t *loop, const char *endpoint, uint32_t timeout_ms)
{
    query_cache_t *self = (query_cache_t *) zmalloc (sizeof *self);
    self->sock = hsn_sock_dealer (endpoint);
    if (!self->sock) {
        free (self);
        return NULL;
    }
    self->loop = loop;
    self->handle = zsock_resolve (self->sock);
    self->timeout_ms = timeout_ms;
    hsn_enc_init (&self->enc);
    self->next_rid = ((uint64_t) randof (0x7fffffff) << 20) | 1;
    self->oldest = self->next_rid;
    zloop_reader (loop, self->sock, on_reply, self);
    zloop_reader_set_tolerant (loop, self->sock);
    self->timer = zloop_timer (loop, TICK_MS, 0, on_tick, self);
    return self;
}

void
query_cache_destroy (query_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_cache_t *self = *self_p;
    zloop_reader_end (self->loop, self->sock);
    zloop_timer_end (self->loop, self->timer);
    zsock_destroy (&self->sock);
    hsn_enc_release (&self->enc);
    free (self);
    *self_p = NULL;
}

/*  Start an envelope for op with nfields; returns the rid, or 0 when the
 *  call table is full. */
static uint64_t
begin (query_cache_t *self, uint32_t op, uint32_t nfields)
{
    uint64_t rid = self->next_rid;
    if (self->calls[rid % QUERY_CACHE_PENDING].used)
        return 0;
    hsn_enc_begin (&self->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_CACHE, op, 0, nfields);
    return rid;
}

static int
send_call (query_cache_t *self, uint64_t rid, query_cache_fn *fn, void *arg)
{
    if (zmq_send (self->handle, hsn_enc_data (&self->enc), hsn_enc_size (&self->enc),
                  ZMQ_DONTWAIT) < 0)
        return -EAGAIN;
    self->next_rid++;
    call_t *c = &self->calls[rid % QUERY_CACHE_PENDING];
    *c = (call_t) { true, rid, hsn_now_ms () + self->timeout_ms, fn, arg };
    self->pending++;
    return 0;
}

static void
pack_tags (query_cache_t *self, char *const *tags, size_t ntags)
{
    hsn_enc_key (&self->enc, HSN_FIELD_TAGS);
    msgpack_pack_array (&self->enc.pk, ntags);
    for (size_t i = 0; i < ntags; i++) {
        msgpack_pack_str (&self->enc.pk, strlen (tags[i]));
        msgpack_pack_str_body (&self->enc.pk, tags[i], strlen (tags[i]));
    }
}

int
query_cache_get (query_cache_t *self, const char *key, query_cache_fn *fn, void *arg)
{
    uint64_t rid = begin (self, HSN_OP_CACHE_GET, 2);
    if (!rid)
        return -EAGAIN;
    hsn_enc_cstr (&self->enc, HSN_FIELD_NS, QUERY_CACHE_NS);
    hsn_enc_cstr (&self->enc, HSN_FIELD_KEY, key);
    return send_call (self, rid, fn, arg);
}

int
query_cache_set (query_cache_t *self, const char *key, const void *value, size_t len,
                 uint32_t ttl, char *const *tags, size_t ntags, query_cache_fn *fn, void *arg)
{
    uint64_t rid = begin (self, HSN_OP_CACHE_SET, ntags ? 5 : 4);
    if (!rid)
        return -EAGAIN;
    hsn_enc_cstr (&self->enc, HSN_FIELD_NS, QUERY_CACHE_NS);
    hsn_enc_cstr (&self->enc, HSN_FIELD_KEY, key);
    hsn_enc_raw (&self->enc, HSN_FIELD_VALUE, value, len);
    hsn_enc_uint (&self->enc, HSN_FIELD_TTL, ttl);
    if (ntags)
        pack_tags (self, tags, ntags);
    return send_call (self, rid, fn, arg);
}

int
query_cache_invalidate (query_cache_t *self, char *const *tags, size_t ntags,
                        query_cache_fn *fn, void *arg)
{
    uint64_t rid = begin (self, HSN_OP_CACHE_INVALIDATE_TAGS, 1);
    if (!rid)
        return -EAGAIN;
    pack_tags (self, tags, ntags);
    return send_call (self, rid, fn, arg);
}

size_t
query_cache_pending (const query_cache_t *self)
{
    return self->pending;
}
