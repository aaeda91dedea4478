/*  agentbus_pipeline: one Redis round trip for a whole batch of requests.
 *
 *  The batch's requests become script calls: every send of the batch goes
 *  into a few SEND calls (up to GROUP_MAX messages or GROUP_BYTES of them
 *  each), which ask about each agent once and wake it once, instead of one
 *  call per message; every other request is one call. Each call appends
 *  one EVALSHA to hiredis's output buffer; then the replies are read in
 *  the same order and each request answered. A script Redis does not know
 *  (NOSCRIPT: flushed, or a failover) did not run, so those calls are sent
 *  again once the scripts are reloaded.
 */
#include "agentbus_internal.h"

#include <string.h>

/*  A group's bounds: a script holds Redis for its whole run, and its
 *  arguments are one command Redis must buffer whole. */
#define GROUP_MAX   64
#define GROUP_BYTES (1024 * 1024)

static bool
starts_with (const char *s, const char *prefix)
{
    return strncmp (s, prefix, strlen (prefix)) == 0;
}

/*  A script's error: Redis unable to serve (out of memory, busy, loading,
 *  a replica) is UNAVAILABLE; anything else is our bug. */
static void
answer_error (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, const char *err)
{
    bool transient = starts_with (err, "OOM") || starts_with (err, "BUSY")
                     || starts_with (err, "LOADING") || starts_with (err, "READONLY")
                     || starts_with (err, "MASTERDOWN") || starts_with (err, "NOREPLICAS");
    hsn_counter_add (self->errors, 1);
    if (!transient)
        hsn_log (HSN_LOG_ERROR, "redis", "%s: %s", hsn_op_name (p->op), err);
    ab_reply_error (self, w, p, transient ? HSN_STATUS_UNAVAILABLE : HSN_STATUS_INTERNAL, err);
}

static int
grow (void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *b = realloc (*buf, n * size);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

static ab_call_t *
call_add (agentbus_service_t *self, ab_script_t script, size_t start)
{
    ab_call_t *c = &self->calls[self->ncalls++];
    memset (c, 0, sizeof *c);
    c->script = script;
    c->start = start;
    return c;
}

/*  How many arguments call's EVALSHA has. */
static size_t
argc_of (const agentbus_service_t *self, const ab_call_t *call)
{
    size_t argc = call->script == AB_SCRIPT_SEND ? 5 : 3;
    for (size_t k = 0; k < call->n; k++)
        argc += self->pending[self->members[call->start + k]].nargs;
    return argc;
}

/*  The batch's calls: the sends in groups, then every other request.
 *  Requests of one batch were all in flight together, so running the sends
 *  first is an order they could have had. Returns 0 or -ENOMEM. */
static int
plan (agentbus_service_t *self)
{
    size_t n = self->npending;
    if (grow ((void **) &self->calls, &self->cap_calls, n, sizeof *self->calls)
        || grow ((void **) &self->members, &self->cap_members, n, sizeof *self->members))
        return -ENOMEM;
    self->ncalls = 0;
    size_t m = 0, bytes = 0;
    ab_call_t *group = NULL;
    for (size_t i = 0; i < n; i++) {
        ab_pending_t *p = &self->pending[i];
        if (p->script != AB_SCRIPT_SEND)
            continue;
        if (!group || group->n == GROUP_MAX || bytes + p->bytes > GROUP_BYTES) {
            group = call_add (self, AB_SCRIPT_SEND, m);
            bytes = 0;
        }
        self->members[m++] = i;
        group->n++;
        bytes += p->bytes;
    }
    for (size_t i = 0; i < n; i++)
        if (self->pending[i].script != AB_SCRIPT_SEND) {
            call_add (self, self->pending[i].script, m)->n = 1;
            self->members[m++] = i;
        }
    /*  Room for the longest call's argv, so appending cannot fail for it. */
    size_t most = 0;
    for (size_t i = 0; i < self->ncalls; i++) {
        size_t argc = argc_of (self, &self->calls[i]);
        most = argc > most ? argc : most;
    }
    size_t cap = self->cap_argv;
    if (grow ((void **) &self->argv, &cap, most, sizeof *self->argv)
        || grow ((void **) &self->argl, &self->cap_argv, most, sizeof *self->argl))
        return -ENOMEM;
    return 0;
}

/*  Append call's EVALSHA to hiredis's output buffer, its argv in
 *  self->argv (sized by plan). Returns 0, or -ENOMEM when hiredis could
 *  not format it (nothing appended). */
static int
append (agentbus_service_t *self, redisContext *c, const ab_call_t *call)
{
    size_t argc = argc_of (self, call);
    assert (argc <= self->cap_argv);
    const char **argv = self->argv;
    size_t *lens = self->argl;
    bool send = call->script == AB_SCRIPT_SEND;
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = self->sha[call->script];
    lens[1] = AB_SHA_LEN;
    argv[2] = "0";
    lens[2] = 1;
    size_t at = 3;
    char bounds[2][16];
    if (send) {
        lens[at] = (size_t) snprintf (bounds[0], sizeof bounds[0], "%u", self->cfg.max_queue);
        argv[at++] = bounds[0];
        lens[at] = (size_t) snprintf (bounds[1], sizeof bounds[1], "%u", self->cfg.max_agents);
        argv[at++] = bounds[1];
    }
    const ab_args_t *a = &self->args;
    for (size_t k = 0; k < call->n; k++) {
        const ab_pending_t *p = &self->pending[self->members[call->start + k]];
        for (size_t i = p->arg0; i < p->arg0 + p->nargs; i++) {
            argv[at] = a->buf.data + a->off[i];
            lens[at++] = a->lens[i];
        }
    }
    assert (at == argc);
    return redisAppendCommandArgv (c, (int) argc, argv, lens) == REDIS_OK ? 0 : -ENOMEM;
}

/*  A send group's reply: two entries per message, in order. */
static void
answer_group (agentbus_service_t *self, hsn_worker_t *w, const ab_call_t *call, redisReply *r)
{
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 * call->n;
    for (size_t k = 0; k < call->n; k++) {
        ab_pending_t *p = &self->pending[self->members[call->start + k]];
        redisReply *code = ok ? r->element[2 * k] : NULL, *v = ok ? r->element[2 * k + 1] : NULL;
        if (!code || code->type != REDIS_REPLY_INTEGER)
            ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        else if (code->integer == -2)
            answer_error (self, w, p, v->type == REDIS_REPLY_STRING ? v->str : "?");
        else
            ab_answer_message (self, w, p, code->integer, v);
        p->answered = true;
    }
}

/*  Send the calls not yet answered (only those marked retry when
 *  retry_only), read their replies and answer their requests. Returns how
 *  many answered NOSCRIPT, or -1 when the connection broke. */
static int
pass (agentbus_service_t *self, redisContext *c, hsn_worker_t *w, bool retry_only)
{
    for (size_t i = 0; i < self->ncalls; i++) {
        ab_call_t *call = &self->calls[i];
        if (call->answered || (retry_only && !call->retry) || append (self, c, call) == 0)
            continue;
        /*  Not sent, so no reply to read for it. */
        call->answered = true;
        for (size_t k = 0; k < call->n; k++) {
            ab_pending_t *p = &self->pending[self->members[call->start + k]];
            ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "out of memory");
            p->answered = true;
        }
    }
    int noscript = 0;
    for (size_t i = 0; i < self->ncalls; i++) {
        ab_call_t *call = &self->calls[i];
        if (call->answered || (retry_only && !call->retry))
            continue;
        redisReply *r = NULL;
        if (redisGetReply (c, (void **) &r) != REDIS_OK || !r)
            return -1;
        call->retry = false;
        if (r->type == REDIS_REPLY_ERROR && starts_with (r->str, "NOSCRIPT")) {
            call->retry = true;
            noscript++;
        }
        else {
            call->answered = true;
            if (r->type == REDIS_REPLY_ERROR)
                for (size_t k = 0; k < call->n; k++) {
                    ab_pending_t *p = &self->pending[self->members[call->start + k]];
                    answer_error (self, w, p, r->str);
                    p->answered = true;
                }
            else if (call->script == AB_SCRIPT_SEND)
                answer_group (self, w, call, r);
            else {
                ab_pending_t *p = &self->pending[self->members[call->start]];
                ab_answer (self, w, p, r);
                p->answered = true;
            }
        }
        freeReplyObject (r);
    }
    return noscript;
}

void
ab_pipeline_run (agentbus_service_t *self, hsn_worker_t *w)
{
    redisContext *c = ab_redis (self);
    int rc = -1;
    bool planned = plan (self) == 0;
    if (planned) {
        rc = c ? pass (self, c, w, false) : -1;
        if (rc > 0) {
            /*  Scripts flushed under us: load them again and retry once. */
            self->loaded = false;
            c = ab_redis (self);
            rc = c ? pass (self, c, w, true) : -1;
        }
        if (rc < 0)
            ab_redis_failed (self);
    }
    for (size_t i = 0; i < self->npending; i++) {
        ab_pending_t *p = &self->pending[i];
        /*  Redis went away mid-batch (the write may or may not have been
         *  done): fail clearly and fast rather than leave it to a timeout. */
        if (!p->answered)
            ab_reply_error (self, w, p, !planned ? HSN_STATUS_INTERNAL
                                        : rc < 0 ? HSN_STATUS_UNAVAILABLE : HSN_STATUS_INTERNAL,
                            !planned ? "out of memory"
                            : rc < 0 ? "the agent bus's Redis is unreachable"
                                     : "Redis does not keep the bus's scripts");
    }
    ab_args_reset (&self->args);
    self->npending = 0;
    self->ncalls = 0;
}
