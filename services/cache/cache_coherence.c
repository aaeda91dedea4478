/*  cache_coherence: the replica's end of the invalidation channel.
 *
 *  Subscribed: invalidations from other replicas drop L1 entries at once
 *  (the window is one pub/sub hop, well under a millisecond on a LAN).
 *  Not subscribed: L1 takes no new entries. Losing the subscription while
 *  Redis still answers means others may write unseen: L1 is flushed at once.
 *  Losing it because Redis is down means nobody can write: L1 keeps serving
 *  its hot keys, and is flushed when the subscription is back.
 */
#include "cache_internal.h"

#include <string.h>

bool
cache_coherent (const cache_service_t *self)
{
    return self->sub != NULL;
}

bool
cache_l1_fillable (const cache_service_t *self)
{
    return self->cfg.l1_enabled && self->sub != NULL;
}

static void
flush (cache_service_t *self)
{
    hsn_store_clear (self->l1);
    hsn_counter_add (self->flushes, 1);
}

static void
on_inval (hsn_inval_kind_t kind, uint64_t origin, const char *payload, size_t len, void *arg)
{
    cache_service_t *self = (cache_service_t *) arg;
    if (origin == self->origin)
        return;                         /* our own write: L1 already has it */
    hsn_counter_add (self->inval_received, 1);
    switch (kind) {
        case HSN_INVAL_KEY:
            hsn_store_del (self->l1, payload, len);
            break;
        case HSN_INVAL_NS: {
            char prefix[CACHE_NS_MAX + 2];
            if (len > CACHE_NS_MAX)
                return;
            memcpy (prefix, payload, len);
            prefix[len] = ':';
            hsn_store_del_prefix (self->l1, prefix, len + 1);
            break;
        }
        case HSN_INVAL_TAG:
            hsn_store_del_tag (self->l1, payload, len);
            break;
        case HSN_INVAL_ALL:
            flush (self);
            break;
    }
}

void
cache_coherence_stop (cache_service_t *self)
{
    if (!self->sub)
        return;
    zloop_poller_end (self->loop, &self->sub_item);
    hsn_inval_sub_destroy (&self->sub);
}

static int
on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    cache_service_t *self = (cache_service_t *) arg;
    if (hsn_inval_sub_read (self->sub) == 0)
        return 0;
    cache_coherence_stop (self);
    redisContext *c = hsn_rconn_get (self->redis);
    redisReply *r = c ? (redisReply *) redisCommand (c, "PING") : NULL;
    bool redis_answers = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject (r);
    if (c && !redis_answers)
        hsn_rconn_failed (self->redis);
    if (redis_answers)
        flush (self);
    else
        self->flush_on_resubscribe = true;
    return 0;
}

void
cache_coherence_check (cache_service_t *self)
{
    if (self->sub || !hsn_rconn_up (self->redis))
        return;
    redisContext *c = hsn_rconn_open (self->redis);
    if (!c)
        return;
    self->sub = hsn_inval_sub_new (c, on_inval, self);
    if (!self->sub)
        return;
    /*  Subscribed (confirmed) before flushing: nothing written from here on
     *  can be missed, and what L1 kept through an outage is gone. */
    if (self->flush_on_resubscribe) {
        flush (self);
        self->flush_on_resubscribe = false;
    }
    self->sub_item = (zmq_pollitem_t) { NULL, hsn_inval_sub_fd (self->sub), ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &self->sub_item, on_readable, self);
}
