/*  agentbus_pipeline: one Redis round trip for a whole batch of requests.
 *
 *  Every pending request appends one EVALSHA to hiredis's output buffer;
 *  then the replies are read in the same order and each request answered.
 *  A script Redis does not know (NOSCRIPT: flushed, or a failover) did not
 *  run, so those requests are sent again once the scripts are reloaded.
 */
#include "agentbus_internal.h"

#include <string.h>

static void
append (agentbus_service_t *self, redisContext *c, const ab_pending_t *p)
{
    int argc = 3 + p->args.n;
    const char **argv = (const char **) malloc ((size_t) argc * sizeof *argv);
    size_t *lens = (size_t *) malloc ((size_t) argc * sizeof *lens);
    assert (argv && lens);
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = self->sha[p->script];
    lens[1] = AB_SHA_LEN;
    argv[2] = "0";
    lens[2] = 1;
    for (int i = 0; i < p->args.n; i++) {
        argv[3 + i] = p->args.buf + p->args.off[i];
        lens[3 + i] = p->args.lens[i];
    }
    redisAppendCommandArgv (c, argc, argv, lens);
    free (argv);
    free (lens);
}

static bool
starts_with (const redisReply *r, const char *prefix)
{
    return strncmp (r->str, prefix, strlen (prefix)) == 0;
}

/*  A script's error reply: Redis unable to serve (out of memory, busy,
 *  loading, a replica) is UNAVAILABLE; anything else is our bug. */
static void
answer_error (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    bool transient = starts_with (r, "OOM") || starts_with (r, "BUSY")
                     || starts_with (r, "LOADING") || starts_with (r, "READONLY")
                     || starts_with (r, "MASTERDOWN") || starts_with (r, "NOREPLICAS");
    hsn_counter_add (self->errors, 1);
    if (!transient)
        hsn_log (HSN_LOG_ERROR, "redis", "%s: %s", hsn_op_name (p->op), r->str);
    ab_reply_error (self, w, p, transient ? HSN_STATUS_UNAVAILABLE : HSN_STATUS_INTERNAL,
                    r->str);
}

/*  Send the pending requests not yet answered (only those marked retry
 *  when retry_only), read their replies and answer them. Returns how many
 *  answered NOSCRIPT, or -1 when the connection broke. */
static int
pass (agentbus_service_t *self, redisContext *c, hsn_worker_t *w, bool retry_only)
{
    for (size_t i = 0; i < self->npending; i++) {
        ab_pending_t *p = &self->pending[i];
        if (!p->answered && (!retry_only || p->retry))
            append (self, c, p);
    }
    int noscript = 0;
    for (size_t i = 0; i < self->npending; i++) {
        ab_pending_t *p = &self->pending[i];
        if (p->answered || (retry_only && !p->retry))
            continue;
        redisReply *r = NULL;
        if (redisGetReply (c, (void **) &r) != REDIS_OK || !r)
            return -1;
        p->retry = false;
        if (r->type == REDIS_REPLY_ERROR && starts_with (r, "NOSCRIPT")) {
            p->retry = true;
            noscript++;
        }
        else {
            if (r->type == REDIS_REPLY_ERROR)
                answer_error (self, w, p, r);
            else
                ab_answer (self, w, p, r);
            p->answered = true;
        }
        freeReplyObject (r);
    }
    return noscript;
}

void
ab_pipeline_run (agentbus_service_t *self, hsn_worker_t *w)
{
    redisContext *c = ab_redis (self);
    int rc = c ? pass (self, c, w, false) : -1;
    if (rc > 0) {
        /*  Scripts flushed under us: load them again and retry once. */
        self->loaded = false;
        c = ab_redis (self);
        rc = c ? pass (self, c, w, true) : -1;
    }
    if (rc < 0)
        ab_redis_failed (self);
    for (size_t i = 0; i < self->npending; i++) {
        ab_pending_t *p = &self->pending[i];
        /*  Redis went away mid-batch (the write may or may not have been
         *  done): fail clearly and fast rather than leave it to a timeout. */
        if (!p->answered)
            ab_reply_error (self, w, p, rc < 0 ? HSN_STATUS_UNAVAILABLE : HSN_STATUS_INTERNAL,
                            rc < 0 ? "the agent bus's Redis is unreachable"
                                   : "Redis does not keep the bus's scripts");
        ab_args_free (&p->args);
    }
    self->npending = 0;
}
