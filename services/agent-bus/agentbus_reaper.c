/*  agentbus_reaper: the periodic tick.
 *
 *  Every replica runs the timer; the replica holding the Redis lease
 *  hsn:ab:reaper does the work (the lease moves on within 3 periods when
 *  its holder dies). Each tick scans a bounded slice of the known agents
 *  (SSCAN), publishes a wake-up for every one with a delivery whose
 *  visibility timeout ran out (so a waiting receiver gets its redelivery
 *  without polling), and collects queue depths; when a scan completes the
 *  gauges are set: agentbus.queue_depth_total, and
 *  agentbus.queue_depth.<agent> for the deepest queues. Only the lease
 *  holder reports depths: the monitor adds gauges up over replicas.
 *
 *  The registry cannot forget a metric, so at most AB_GAUGE_SLOTS agents
 *  ever get a gauge of their own (the first deep ones seen); a slot whose
 *  agent is no longer among the deepest reads 0.
 */
#include "agentbus_internal.h"

#include <string.h>

#define SCAN_COUNT "200"           /* agents per tick, a hint to SSCAN */
#define GAUGE_PREFIX "agentbus.queue_depth."

void
ab_reaper_reset (agentbus_service_t *self)
{
    strcpy (self->cursor, "0");
    self->scan_total = 0;
    self->ntop = 0;
}

/*  Keep the AB_GAUGE_SLOTS deepest queues of the scan. */
static void
top_add (agentbus_service_t *self, const char *agent, size_t len, int64_t depth)
{
    if (depth <= 0 || len > AGENTBUS_ID_MAX)
        return;
    size_t at = self->ntop;
    if (self->ntop == AB_GAUGE_SLOTS) {
        at = 0;
        for (size_t i = 1; i < self->ntop; i++)
            if (self->top[i].depth < self->top[at].depth)
                at = i;
        if (self->top[at].depth >= depth)
            return;
    }
    else
        self->ntop++;
    memcpy (self->top[at].agent, agent, len);
    self->top[at].agent[len] = '\0';
    self->top[at].depth = depth;
}

static void
zero_gauges (agentbus_service_t *self)
{
    hsn_gauge_set (self->depth_total, 0);
    for (size_t i = 0; i < self->nslots; i++)
        hsn_gauge_set (self->slots[i].gauge, 0);
}

static void
publish_gauges (agentbus_service_t *self)
{
    hsn_gauge_set (self->depth_total, self->scan_total);
    bool placed[AB_GAUGE_SLOTS] = { false };
    for (size_t i = 0; i < self->nslots; i++) {
        int64_t d = 0;
        for (size_t k = 0; k < self->ntop; k++)
            if (strcmp (self->top[k].agent, self->slots[i].agent) == 0) {
                d = self->top[k].depth;
                placed[k] = true;
            }
        hsn_gauge_set (self->slots[i].gauge, d);
    }
    for (size_t k = 0; k < self->ntop && self->cfg.metrics; k++) {
        char name[HSN_METRIC_NAME_MAX + 2];
        if (placed[k] || self->nslots == AB_GAUGE_SLOTS
            || (size_t) snprintf (name, sizeof name, GAUGE_PREFIX "%s", self->top[k].agent)
               > HSN_METRIC_NAME_MAX)
            continue;
        ab_gauge_slot_t *s = &self->slots[self->nslots++];
        snprintf (s->agent, sizeof s->agent, "%s", self->top[k].agent);
        s->gauge = hsn_metrics_gauge (self->cfg.metrics, name);
        hsn_gauge_set (s->gauge, self->top[k].depth);
    }
}

static void
lost_lead (agentbus_service_t *self)
{
    if (self->leader)
        zero_gauges (self);
    self->leader = false;
    ab_reaper_reset (self);
}

void
agentbus_service_reap (agentbus_service_t *self)
{
    redisContext *c = ab_redis (self);
    if (!c) {
        lost_lead (self);
        return;
    }
    char lease[16], vt[16];
    uint32_t period = self->cfg.reaper_ms ? self->cfg.reaper_ms : 1000;
    snprintf (lease, sizeof lease, "%u", 3 * period);
    snprintf (vt, sizeof vt, "%u", self->cfg.visibility_ms);
    const char *argv[] = { "EVALSHA", self->sha[AB_SCRIPT_REAP], "0", self->token, lease,
                           self->cursor, SCAN_COUNT, vt };
    redisReply *r = (redisReply *) redisCommandArgv (c, 8, argv, NULL);
    if (!r) {
        ab_redis_failed (self);
        lost_lead (self);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp (r->str, "NOSCRIPT", 8) == 0)
            self->loaded = false;           /* loaded again next time */
        else
            hsn_log (HSN_LOG_WARN, "reaper", "%s", r->str);
    }
    else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1
             || r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer == 0
             || r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING)
        lost_lead (self);
    else {
        self->leader = true;
        for (size_t i = 2; i + 1 < r->elements; i += 2) {
            const redisReply *a = r->element[i], *d = r->element[i + 1];
            if (a->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_INTEGER)
                continue;
            self->scan_total += d->integer;
            top_add (self, a->str, a->len, d->integer);
        }
        snprintf (self->cursor, sizeof self->cursor, "%.31s", r->element[1]->str);
        if (strcmp (self->cursor, "0") == 0) {
            publish_gauges (self);
            ab_reaper_reset (self);
        }
    }
    freeReplyObject (r);
}

int
ab_reaper_tick (zloop_t *loop, int timer_id, void *arg)
{
    agentbus_service_reap ((agentbus_service_t *) arg);
    return 0;
}
