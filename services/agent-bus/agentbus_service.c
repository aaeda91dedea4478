/*  agentbus_service: set-up and tear-down, the Redis connection (scripts
 *  loaded on every new one), health, and dispatching requests to
 *  agentbus_request.c. See agentbus_service.h. */
#include "agentbus_internal.h"
#include "hsn_time.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static uint64_t dummy_counter[6];
static int64_t dummy_gauge;

/*  --- script arguments ------------------------------------------------- */

/*  Above this the buffer is released after the batch rather than kept: a
 *  batch of large payloads should not pin its memory for good. */
#define AB_ARGS_KEEP (4 * 1024 * 1024)

int
ab_args_mark (ab_args_t *a, size_t start)
{
    assert (start <= a->buf.size);
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        size_t *off = (size_t *) realloc (a->off, cap * sizeof *off);
        if (!off)
            return -ENOMEM;
        a->off = off;
        size_t *lens = (size_t *) realloc (a->lens, cap * sizeof *lens);
        if (!lens)
            return -ENOMEM;
        a->lens = lens;
        a->cap = cap;
    }
    a->off[a->n] = start;
    a->lens[a->n++] = a->buf.size - start;
    return 0;
}

int
ab_args_add (ab_args_t *a, const void *data, size_t len)
{
    size_t start = a->buf.size;
    if (len && msgpack_sbuffer_write (&a->buf, (const char *) data, len))
        return -ENOMEM;
    return ab_args_mark (a, start);
}

int
ab_args_addf (ab_args_t *a, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    assert (n >= 0 && (size_t) n < sizeof buf);
    return ab_args_add (a, buf, (size_t) n);
}

void
ab_args_truncate (ab_args_t *a, size_t n, size_t len)
{
    assert (n <= a->n && len <= a->buf.size);
    a->n = n;
    a->buf.size = len;
}

void
ab_args_reset (ab_args_t *a)
{
    if (a->buf.alloc > AB_ARGS_KEEP) {
        msgpack_sbuffer_destroy (&a->buf);
        msgpack_sbuffer_init (&a->buf);
    }
    a->n = 0;
    a->buf.size = 0;
}

void
ab_args_free (ab_args_t *a)
{
    msgpack_sbuffer_destroy (&a->buf);
    free (a->off);
    free (a->lens);
    memset (a, 0, sizeof *a);
}

/*  --- the service ------------------------------------------------------- */

static uint64_t *
counter (hsn_metrics_t *m, const char *name, int i)
{
    return m ? hsn_metrics_counter (m, name) : &dummy_counter[i];
}

agentbus_service_t *
agentbus_service_new (const agentbus_config_t *cfg, zloop_t *loop, char *err, size_t errlen)
{
    agentbus_service_t *self = (agentbus_service_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (!self->cfg.reply_max || self->cfg.reply_max > AGENTBUS_REPLY_MAX)
        self->cfg.reply_max = AGENTBUS_REPLY_MAX;
    if (!self->cfg.max_agents)
        self->cfg.max_agents = AGENTBUS_MAX_AGENTS_DEFAULT;
    if (!self->cfg.max_subscriptions)
        self->cfg.max_subscriptions = AGENTBUS_MAX_SUBSCRIPTIONS_DEFAULT;
    self->loop = loop;
    self->redis = hsn_rconn_new (cfg->redis_url, 1000);
    if (!self->redis) {
        snprintf (err, errlen, "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                  cfg->redis_url);
        free (self);
        return NULL;
    }
    hsn_enc_init (&self->enc);
    msgpack_sbuffer_init (&self->args.buf);
    char host[64] = "";
    gethostname (host, sizeof host - 1);
    snprintf (self->token, sizeof self->token, "%.32s:%d:%08x", host, (int) getpid (),
              (unsigned) (randof (0x7fffffff) ^ hsn_now_us ()));
    hsn_metrics_t *m = cfg->metrics;
    self->sent = counter (m, "agentbus.sent", 0);
    self->delivered = counter (m, "agentbus.delivered", 1);
    self->redelivered = counter (m, "agentbus.redelivered", 2);
    self->dead_lettered = counter (m, "agentbus.dead_lettered", 3);
    self->acked = counter (m, "agentbus.acked", 4);
    self->errors = counter (m, "agentbus.redis.errors", 5);
    self->latency_us = m ? hsn_metrics_hist (m, "agentbus.delivery_latency_us") : NULL;
    /*  Not agentbus.queue_depth.total: the monitor sums every
     *  agentbus.queue_depth.* gauge, and "total" is a valid agent id. */
    self->depth_total = m ? hsn_metrics_gauge (m, "agentbus.queue_depth_total") : &dummy_gauge;
    ab_reaper_reset (self);
    self->reaper_timer = -1;
    if (loop && cfg->reaper_ms)
        self->reaper_timer = zloop_timer (loop, cfg->reaper_ms, 0, ab_reaper_tick, self);
    return self;
}

void
agentbus_service_destroy (agentbus_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agentbus_service_t *self = *self_p;
    if (self->reaper_timer >= 0)
        zloop_timer_end (self->loop, self->reaper_timer);
    ab_args_free (&self->args);
    free (self->argv);
    free (self->argl);
    free (self->pending);
    free (self->calls);
    free (self->members);
    hsn_rconn_destroy (&self->redis);
    hsn_enc_release (&self->enc);
    free (self);
    *self_p = NULL;
}

redisContext *
ab_redis (agentbus_service_t *self)
{
    redisContext *c = hsn_rconn_get (self->redis);
    if (c && !self->loaded) {
        if (ab_scripts_load (c, self->sha)) {
            ab_redis_failed (self);
            return NULL;
        }
        self->loaded = true;
    }
    return c;
}

void
ab_redis_failed (agentbus_service_t *self)
{
    hsn_counter_add (self->errors, 1);
    hsn_rconn_failed (self->redis);
    self->loaded = false;
}

bool
agentbus_service_redis_up (const agentbus_service_t *self)
{
    return hsn_rconn_up (self->redis);
}

void
agentbus_service_check (agentbus_service_t *self)
{
    redisContext *c = ab_redis (self);
    if (!c)
        return;
    redisReply *r = (redisReply *) redisCommand (c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR)
        ab_redis_failed (self);
    if (r)
        freeReplyObject (r);
}

void
agentbus_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                         const hsn_env_t *req, void *arg)
{
    agentbus_service_t *self = (agentbus_service_t *) arg;
    switch (req->op) {
        case HSN_OP_AGENT_SEND:
        case HSN_OP_AGENT_PUBLISH:
        case HSN_OP_AGENT_BROADCAST:
            ab_message (self, worker, route, req);
            break;
        case HSN_OP_AGENT_SUBSCRIBE:
        case HSN_OP_AGENT_UNSUBSCRIBE:
            ab_subscription (self, worker, route, req);
            break;
        case HSN_OP_AGENT_RECEIVE:
        case HSN_OP_AGENT_ACK:
        case HSN_OP_AGENT_LIST:
        case HSN_OP_AGENT_DEAD_LETTERS:
            ab_agent_op (self, worker, route, req);
            break;
        default:
            hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                    "operation not supported by the agent bus");
    }
}

void
agentbus_service_batch_end (hsn_worker_t *worker, void *arg)
{
    agentbus_service_t *self = (agentbus_service_t *) arg;
    if (self->npending)
        ab_pipeline_run (self, worker);
}
