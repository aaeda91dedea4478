/*  gateway_hub_wake: the hub's subscription to hsn:ab:wake (each message is
 *  one agent id; docs/AGENT_BUS.md, "Waking receivers"). */
#include "gateway_hub_int.h"
#include "hsn_log.h"

#include <string.h>
#include <sys/epoll.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

void
hub_wake_drop (gateway_hub_t *self, int64_t now)
{
    if (!self->sub)
        return;
    epoll_ctl (self->epfd, EPOLL_CTL_DEL, self->sub->fd, NULL);
    redisFree (self->sub);
    self->sub = NULL;
    __atomic_store_n (&self->sub_up, 0, __ATOMIC_RELEASE);
    self->sub_backoff_ms = BACKOFF_MIN_MS;
    self->sub_retry_at = now + self->sub_backoff_ms;
    self->recheck_at = now;
}

void
hub_wake_connect (gateway_hub_t *self, int64_t now)
{
    if (self->sub || !self->rconn || now < self->sub_retry_at)
        return;
    /*  Connect and SUBSCRIBE block (bounded by the connection's 500 ms
     *  timeout); with Redis down that is a refused connect, at most once
     *  per backoff period. */
    redisContext *c = hsn_rconn_open (self->rconn);
    redisReply *r = c ? (redisReply *) redisCommand (c, "SUBSCRIBE %s", HUB_WAKE_CHANNEL) : NULL;
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject (r);
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &self->wake_tag;
    if (ok) {
        /*  Read only when epoll says so: quiet periods are no timeout. */
        struct timeval none = { 0, 0 };
        redisSetTimeout (c, none);
        ok = epoll_ctl (self->epfd, EPOLL_CTL_ADD, c->fd, &ev) == 0;
    }
    if (!ok) {
        if (c)
            redisFree (c);
        if (self->sub_backoff_ms < BACKOFF_MIN_MS)
            self->sub_backoff_ms = BACKOFF_MIN_MS;
        self->sub_retry_at = now + self->sub_backoff_ms;
        self->sub_backoff_ms = self->sub_backoff_ms * 2 > BACKOFF_MAX_MS
                               ? BACKOFF_MAX_MS : self->sub_backoff_ms * 2;
        return;
    }
    self->sub = c;
    self->sub_backoff_ms = BACKOFF_MIN_MS;
    __atomic_store_n (&self->sub_up, 1, __ATOMIC_RELEASE);
    /*  Wakes published while we were deaf are lost: look once more. */
    hub_recheck_all (self);
}

void
hub_wake_read (gateway_hub_t *self, int64_t now)
{
    if (!self->sub)
        return;
    if (redisBufferRead (self->sub) != REDIS_OK) {
        hsn_log (HSN_LOG_WARN, "hub_wake", "lost the %s subscription: resubscribing",
                 HUB_WAKE_CHANNEL);
        hub_wake_drop (self, now);
        return;
    }
    while (true) {
        void *reply = NULL;
        if (redisGetReplyFromReader (self->sub, &reply) != REDIS_OK) {
            hub_wake_drop (self, now);
            return;
        }
        if (!reply)
            return;
        redisReply *r = (redisReply *) reply;
        /*  ["message", channel, agent id] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3
            && r->element[0]->type == REDIS_REPLY_STRING
            && strcmp (r->element[0]->str, "message") == 0
            && r->element[2]->type == REDIS_REPLY_STRING)
            hub_wake (self, r->element[2]->str, r->element[2]->len);
        freeReplyObject (reply);
    }
}
