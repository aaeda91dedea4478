/*  agentbus_request: requests checked and queued for the batch's pipeline.
 *  Every client-controlled value is validated here, before Redis sees it:
 *  ids, priority, type, ttl, payload size, max, the ids of an ack. */
#include "agentbus_internal.h"

#include <string.h>

/*  --- request validation ------------------------------------------------ */

static void
bad (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req, const char *msg)
{
    hsn_worker_reply_error (w, route, req, HSN_STATUS_BAD_REQUEST, msg);
}

/*  Copy the id field f (agent, topic, from) into out. Returns 0, 1 when
 *  absent and optional, or -EINVAL after a 400 reply. */
static int
request_id (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
            hsn_field_t f, bool required, char *out)
{
    const char *s;
    size_t len;
    if (hsn_env_str (req, f, &s, &len)) {
        if (!required)
            return 1;
    }
    else if (hsn_agent_id_valid (s, len)) {
        memcpy (out, s, len);
        out[len] = '\0';
        return 0;
    }
    char msg[160];
    snprintf (msg, sizeof msg, "%s must be 1-128 characters of A-Z a-z 0-9 _ . : -, "
              "starting with a letter or digit", hsn_field_name (f));
    bad (w, route, req, msg);
    return -EINVAL;
}

/*  MAX in 1..limit, def when absent. Returns 0 or -EINVAL after a 400. */
static int
request_max (hsn_worker_t *w, const hsn_route_t *route, const hsn_env_t *req,
             uint64_t def, uint64_t limit, uint64_t *out)
{
    *out = def;
    if (hsn_env_uint (req, HSN_FIELD_MAX, out) == 0 && (*out == 0 || *out > limit)) {
        char msg[64];
        snprintf (msg, sizeof msg, "max must be 1..%llu", (unsigned long long) limit);
        bad (w, route, req, msg);
        return -EINVAL;
    }
    return 0;
}

static ab_pending_t *
pending_add (agentbus_service_t *self, ab_script_t script, const hsn_route_t *route,
             const hsn_env_t *req)
{
    if (self->npending == self->cap_pending) {
        size_t cap = self->cap_pending ? self->cap_pending * 2 : 64;
        ab_pending_t *np = (ab_pending_t *) realloc (self->pending, cap * sizeof *np);
        if (!np)
            return NULL;
        self->pending = np;
        self->cap_pending = cap;
    }
    ab_pending_t *p = &self->pending[self->npending++];
    memset (p, 0, sizeof *p);
    p->op = req->op;
    p->route = *route;
    p->rid = req->rid;
    p->service = req->service;
    p->script = script;
    p->arg0 = self->args.n;
    p->byte0 = self->args.buf.size;
    return p;
}

/*  Take back p, the last request queued, and its arguments. */
static void
pending_drop (agentbus_service_t *self, ab_pending_t *p)
{
    assert (p == &self->pending[self->npending - 1]);
    ab_args_truncate (&self->args, p->arg0, p->byte0);
    self->npending--;
}

/*  p, the last request queued, has all its arguments (rc 0): count them.
 *  Or adding one failed (rc -ENOMEM): take p back and answer 500. */
static void
pending_done (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
              const hsn_env_t *req, ab_pending_t *p, int rc)
{
    if (rc) {
        pending_drop (self, p);
        hsn_worker_reply_error (w, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    p->nargs = self->args.n - p->arg0;
    p->bytes = self->args.buf.size - p->byte0;
}

static int
pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str (pk, len) | msgpack_pack_str_body (pk, s, len);
}

/*  Send, publish, broadcast: validate the message and queue the script
 *  with the message's msgpack map as its blob. */
void
ab_message (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
            const hsn_env_t *req)
{
    char agent[AGENTBUS_ID_MAX + 1] = "", topic[AGENTBUS_ID_MAX + 1] = "",
         from[AGENTBUS_ID_MAX + 1] = "";
    bool send = req->op == HSN_OP_AGENT_SEND, publish = req->op == HSN_OP_AGENT_PUBLISH;
    if ((send && request_id (w, route, req, HSN_FIELD_AGENT, true, agent) < 0)
        || (publish && request_id (w, route, req, HSN_FIELD_TOPIC, true, topic) < 0))
        return;
    int has_from = request_id (w, route, req, HSN_FIELD_FROM, false, from);
    if (has_from < 0)
        return;
    if (!hsn_env_has (req, HSN_FIELD_PAYLOAD)) {
        bad (w, route, req, "payload is required");
        return;
    }
    const hsn_mp_obj_t *payload = &req->fields[HSN_FIELD_PAYLOAD];
    if (payload->raw_len > self->cfg.max_payload) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_TOO_LARGE,
                                "payload exceeds AGENTBUS_MAX_PAYLOAD");
        return;
    }
    char prio = 'n';
    const char *s;
    size_t len;
    if (hsn_env_str (req, HSN_FIELD_PRIORITY, &s, &len) == 0) {
        if (len == 4 && memcmp (s, "high", 4) == 0)
            prio = 'h';
        else if (len == 3 && memcmp (s, "low", 3) == 0)
            prio = 'l';
        else if (!(len == 6 && memcmp (s, "normal", 6) == 0)) {
            bad (w, route, req, "priority must be high, normal or low");
            return;
        }
    }
    const char *type = NULL;
    size_t type_len = 0;
    if (hsn_env_str (req, HSN_FIELD_TYPE, &type, &type_len) == 0
        && (type_len == 0 || type_len > AGENTBUS_TYPE_MAX)) {
        bad (w, route, req, "type must be 1-64 bytes");
        return;
    }
    uint64_t ttl = 0;
    bool has_ttl = hsn_env_uint (req, HSN_FIELD_TTL, &ttl) == 0;
    if (has_ttl && (ttl == 0 || ttl > AGENTBUS_TTL_MAX)) {
        bad (w, route, req, "ttl must be 1..31536000 seconds");
        return;
    }
    if (!ab_redis (self)) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_UNAVAILABLE,
                                "the agent bus's Redis is unreachable");
        return;
    }
    ab_pending_t *p = pending_add (self, send ? AB_SCRIPT_SEND : AB_SCRIPT_FANOUT, route, req);
    if (!p) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    memcpy (p->agent, agent, sizeof agent);
    memcpy (p->topic, topic, sizeof topic);
    p->prio = prio;
    ab_args_t *a = &self->args;
    int rc;
    if (send)
        rc = ab_args_add (a, agent, strlen (agent));
    else if (publish)
        rc = ab_args_addf (a, "sub:%s", topic);
    else
        rc = ab_args_add (a, "agents", 6);
    rc |= ab_args_add (a, &prio, 1);
    /*  The stored message, packed straight into the arguments (the
     *  payload's bytes copied once on their way to hiredis): the fields
     *  given, as the receiver will see them; id, to, priority, created and
     *  deliveries are added on the way out. */
    size_t start = a->buf.size;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->buf, msgpack_sbuffer_write);
    rc |= msgpack_pack_map (&pk, 1 + (has_from == 0) + publish + (type != NULL) + has_ttl);
    if (has_from == 0)
        rc |= pack_str (&pk, "from", 4) | pack_str (&pk, from, strlen (from));
    if (publish)
        rc |= pack_str (&pk, "topic", 5) | pack_str (&pk, topic, strlen (topic));
    if (type)
        rc |= pack_str (&pk, "type", 4) | pack_str (&pk, type, type_len);
    if (has_ttl)
        rc |= pack_str (&pk, "ttl", 3) | msgpack_pack_uint64 (&pk, ttl);
    rc |= pack_str (&pk, "payload", 7);
    rc |= msgpack_sbuffer_write (&a->buf, (const char *) payload->raw, payload->raw_len);
    rc |= rc ? 0 : ab_args_mark (a, start);
    rc |= ab_args_addf (a, "%llu", (unsigned long long) ttl);
    /*  A send's four arguments go into its group's script call, which
     *  carries the bounds once (agentbus_pipeline.c). */
    if (!send) {
        rc |= ab_args_addf (a, "%u", self->cfg.max_queue);
        rc |= ab_args_addf (a, "%u", self->cfg.max_agents);
    }
    pending_done (self, w, route, req, p, rc ? -ENOMEM : 0);
}

void
ab_subscription (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                 const hsn_env_t *req)
{
    char agent[AGENTBUS_ID_MAX + 1], topic[AGENTBUS_ID_MAX + 1];
    if (request_id (w, route, req, HSN_FIELD_TOPIC, true, topic) < 0
        || request_id (w, route, req, HSN_FIELD_AGENT, true, agent) < 0)
        return;
    if (!ab_redis (self)) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_UNAVAILABLE,
                                "the agent bus's Redis is unreachable");
        return;
    }
    bool sub = req->op == HSN_OP_AGENT_SUBSCRIBE;
    ab_pending_t *p = pending_add (self, sub ? AB_SCRIPT_SUBSCRIBE : AB_SCRIPT_UNSUBSCRIBE,
                                   route, req);
    if (!p) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    memcpy (p->agent, agent, sizeof agent);
    memcpy (p->topic, topic, sizeof topic);
    ab_args_t *a = &self->args;
    int rc = ab_args_add (a, topic, strlen (topic));
    rc |= ab_args_add (a, agent, strlen (agent));
    if (sub) {
        rc |= ab_args_addf (a, "%u", self->cfg.max_agents);
        rc |= ab_args_addf (a, "%u", self->cfg.max_subscriptions);
    }
    pending_done (self, w, route, req, p, rc ? -ENOMEM : 0);
}

/*  An ack id: <h|n|l>-<ms>-<seq>, each number 1..20 digits. Returns the
 *  offset of the stream id, or 0 when malformed. */
static size_t
ack_id_valid (const char *s, size_t len)
{
    if (len < 5 || (s[0] != 'h' && s[0] != 'n' && s[0] != 'l') || s[1] != '-')
        return 0;
    size_t digits = 0, dashes = 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (++digits > 20)
                return 0;
        }
        else if (s[i] == '-' && digits > 0 && dashes == 0) {
            dashes++;
            digits = 0;
        }
        else
            return 0;
    }
    return dashes == 1 && digits > 0 ? 2 : 0;
}

void
ab_agent_op (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
             const hsn_env_t *req)
{
    char agent[AGENTBUS_ID_MAX + 1] = "";
    uint64_t max = 0;
    ab_script_t script;
    switch (req->op) {
        case HSN_OP_AGENT_RECEIVE:
            script = AB_SCRIPT_RECEIVE;
            if (request_id (w, route, req, HSN_FIELD_AGENT, true, agent) < 0
                || request_max (w, route, req, 10, AGENTBUS_RECEIVE_MAX, &max))
                return;
            break;
        case HSN_OP_AGENT_DEAD_LETTERS:
            script = AB_SCRIPT_DEAD;
            if (request_id (w, route, req, HSN_FIELD_AGENT, true, agent) < 0
                || request_max (w, route, req, 100, AGENTBUS_DEAD_MAX, &max))
                return;
            break;
        case HSN_OP_AGENT_LIST:
            script = AB_SCRIPT_LIST;
            if (request_max (w, route, req, 1000, AGENTBUS_LIST_MAX, &max))
                return;
            break;
        default:
            script = AB_SCRIPT_ACK;
            if (request_id (w, route, req, HSN_FIELD_AGENT, true, agent) < 0)
                return;
            if (!hsn_env_has (req, HSN_FIELD_IDS) || req->fields[HSN_FIELD_IDS].v.c.count == 0
                || req->fields[HSN_FIELD_IDS].v.c.count > AGENTBUS_ACK_MAX) {
                bad (w, route, req, "ids must be an array of 1-1000 message ids");
                return;
            }
    }
    if (!ab_redis (self)) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_UNAVAILABLE,
                                "the agent bus's Redis is unreachable");
        return;
    }
    ab_pending_t *p = pending_add (self, script, route, req);
    if (!p) {
        hsn_worker_reply_error (w, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    memcpy (p->agent, agent, sizeof agent);
    ab_args_t *a = &self->args;
    int rc = 0;
    if (script != AB_SCRIPT_LIST)
        rc |= ab_args_add (a, agent, strlen (agent));
    if (script != AB_SCRIPT_ACK)
        rc |= ab_args_addf (a, "%llu", (unsigned long long) max);
    if (script == AB_SCRIPT_RECEIVE) {
        rc |= ab_args_addf (a, "%u", self->cfg.visibility_ms);
        rc |= ab_args_addf (a, "%u", self->cfg.max_deliveries);
        rc |= ab_args_addf (a, "%u", self->cfg.dlq_max);
    }
    if (script == AB_SCRIPT_RECEIVE || script == AB_SCRIPT_DEAD)
        rc |= ab_args_addf (a, "%u", self->cfg.reply_max);
    if (script == AB_SCRIPT_RECEIVE)
        rc |= ab_args_addf (a, "%u", self->cfg.max_agents);
    if (script == AB_SCRIPT_ACK) {
        const hsn_mp_obj_t *arr = &req->fields[HSN_FIELD_IDS];
        hsn_mp_reader_t r;
        hsn_mp_reader_of (&r, arr);
        for (uint32_t i = 0; i < arr->v.c.count && !rc; i++) {
            hsn_mp_obj_t id;
            size_t at;
            if (hsn_mp_get (&r, &id, 1) || id.type != HSN_MP_STR
                || !(at = ack_id_valid (id.v.s.ptr, id.v.s.len))) {
                pending_drop (self, p);
                bad (w, route, req, "each id must be a message id like h-1732665600000-0");
                return;
            }
            rc |= ab_args_add (a, id.v.s.ptr, 1);
            rc |= ab_args_add (a, id.v.s.ptr + at, id.v.s.len - at);
        }
    }
    pending_done (self, w, route, req, p, rc ? -ENOMEM : 0);
}
