/*  agentbus_result: the reply documents, built from what the scripts
 *  returned (agentbus_scripts.c says the shapes). */
#include "agentbus_internal.h"

#include <stdlib.h>
#include <string.h>

const char *
ab_prio_name (char p)
{
    return p == 'h' ? "high" : p == 'l' ? "low" : "normal";
}

void
ab_reply_error (agentbus_service_t *self, hsn_worker_t *w, const ab_pending_t *p,
                hsn_status_t status, const char *message)
{
    hsn_env_t head;
    memset (&head, 0, sizeof head);
    head.rid = p->rid;
    head.service = p->service;
    head.op = p->op;
    hsn_worker_reply_error (w, &p->route, &head, status, message);
}

static void
key (msgpack_packer *pk, const char *k)
{
    size_t n = strlen (k);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, k, n);
}

static void
kv_str (msgpack_packer *pk, const char *k, const char *v, size_t len)
{
    key (pk, k);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, v, len);
}

/*  Start a reply whose one field is RESULT; the caller packs the document. */
static msgpack_packer *
begin (agentbus_service_t *self, const ab_pending_t *p, hsn_status_t status)
{
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, p->rid, p->service, p->op, status, 1);
    hsn_enc_key (&self->enc, HSN_FIELD_RESULT);
    return &self->enc.pk;
}

static void
finish (agentbus_service_t *self, hsn_worker_t *w, const ab_pending_t *p)
{
    hsn_worker_reply_enc (w, &p->route, &self->enc);
}

static bool
is (const redisReply *r, int type)
{
    return r && r->type == type;
}

static long long
int_of (const redisReply *r)
{
    if (is (r, REDIS_REPLY_INTEGER))
        return r->integer;
    if (is (r, REDIS_REPLY_STRING))
        return strtoll (r->str, NULL, 10);
    return 0;
}

/*  One message: id, to, priority, created, deliveries, reason (dead
 *  letters), then the stored map's own entries (from, topic, type, ttl,
 *  payload). A stored map that is not valid msgpack is left out. */
static void
pack_message (agentbus_service_t *self, const char *agent, const char *id, size_t id_len,
              long long deliveries, const redisReply *m, long long created, const redisReply *reason)
{
    msgpack_packer *pk = &self->enc.pk;
    hsn_mp_reader_t rd;
    hsn_mp_obj_t map = { 0 };
    bool ok = is (m, REDIS_REPLY_STRING) && m->len > 0
              && hsn_mp_validate (m->str, m->len, HSN_PROTO_MAX_DEPTH) == 0;
    if (ok) {
        hsn_mp_reader_init (&rd, m->str, m->len);
        ok = hsn_mp_next (&rd, &map) == 0 && map.type == HSN_MP_MAP;
    }
    msgpack_pack_map (pk, 5 + (reason != NULL) + (ok ? map.v.c.count : 0));
    kv_str (pk, "id", id, id_len);
    kv_str (pk, "to", agent, strlen (agent));
    const char *prio = ab_prio_name (id[0]);
    kv_str (pk, "priority", prio, strlen (prio));
    key (pk, "created");
    msgpack_pack_int64 (pk, created);
    key (pk, "deliveries");
    msgpack_pack_int64 (pk, deliveries);
    if (reason)
        kv_str (pk, "reason", reason->str, reason->len);
    if (ok)
        hsn_enc_append (&self->enc, rd.p, hsn_mp_remaining (&rd));
}

/*  {now, dead, then p, id, deliveries, m, c per message} */
static void
answer_receive (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    if (!is (r, REDIS_REPLY_ARRAY) || r->elements < 2 || (r->elements - 2) % 5) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    long long now = int_of (r->element[0]);
    size_t n = (r->elements - 2) / 5;
    hsn_counter_add (self->dead_lettered, (uint64_t) int_of (r->element[1]));
    msgpack_packer *pk = begin (self, p, HSN_STATUS_OK);
    msgpack_pack_map (pk, 1);
    key (pk, "messages");
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        redisReply **e = &r->element[2 + 5 * i];
        char id[64];
        int len = snprintf (id, sizeof id, "%.1s-%.41s", is (e[0], REDIS_REPLY_STRING)
                            ? e[0]->str : "n", is (e[1], REDIS_REPLY_STRING) ? e[1]->str : "0-0");
        long long d = int_of (e[2]), created = int_of (e[4]);
        pack_message (self, p->agent, id, (size_t) len, d, e[3], created, NULL);
        if (d > 1)
            hsn_counter_add (self->redelivered, 1);
        else if (self->latency_us && now >= created)
            hsn_hist_record (self->latency_us, (uint64_t) (now - created));
    }
    hsn_counter_add (self->delivered, n);
    finish (self, w, p);
}

/*  XRANGE of the dead letters: [dlq id, [field, value, ...]] each. */
static void
answer_dead (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    if (!is (r, REDIS_REPLY_ARRAY)) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    msgpack_packer *pk = begin (self, p, HSN_STATUS_OK);
    msgpack_pack_map (pk, 1);
    key (pk, "messages");
    msgpack_pack_array (pk, r->elements);
    static const redisReply none = { .type = REDIS_REPLY_STRING, .str = (char *) "", .len = 0 };
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *m = NULL, *c = NULL, *id = NULL, *why = NULL,
                         *d = NULL;
        const redisReply *f = is (e, REDIS_REPLY_ARRAY) && e->elements == 2 ? e->element[1] : NULL;
        for (size_t k = 0; f && f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            const redisReply *name = f->element[k], *v = f->element[k + 1];
            if (!is (name, REDIS_REPLY_STRING) || !is (v, REDIS_REPLY_STRING) || name->len != 1)
                continue;
            switch (name->str[0]) {
                case 'm': m = v; break;
                case 'c': c = v; break;
                case 'i': id = v; break;
                case 'r': why = v; break;
                case 'd': d = v; break;
                default: break;
            }
        }
        if (!id)
            id = &none;
        pack_message (self, p->agent, id->len ? id->str : "n", id->len ? id->len : 1,
                      int_of (d), m, int_of (c), why ? why : &none);
    }
    finish (self, w, p);
}

/*  Rows {agent, depth h, n, l, pending, oldest pending ms or -1}. */
static void
answer_list (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    if (!is (r, REDIS_REPLY_ARRAY)) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        n += is (r->element[i], REDIS_REPLY_ARRAY) && r->element[i]->elements == 6
             && is (r->element[i]->element[0], REDIS_REPLY_STRING);
    msgpack_packer *pk = begin (self, p, HSN_STATUS_OK);
    msgpack_pack_map (pk, 1);
    key (pk, "agents");
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *row = r->element[i];
        if (!(is (row, REDIS_REPLY_ARRAY) && row->elements == 6
              && is (row->element[0], REDIS_REPLY_STRING)))
            continue;
        msgpack_pack_map (pk, 4);
        kv_str (pk, "agent", row->element[0]->str, row->element[0]->len);
        key (pk, "depth");
        msgpack_pack_map (pk, 3);
        static const char *const names[] = { "high", "normal", "low" };
        for (int k = 0; k < 3; k++) {
            key (pk, names[k]);
            msgpack_pack_int64 (pk, int_of (row->element[1 + k]));
        }
        key (pk, "pending");
        msgpack_pack_int64 (pk, int_of (row->element[4]));
        key (pk, "oldest_pending_ms");
        long long oldest = int_of (row->element[5]);
        if (oldest < 0)
            msgpack_pack_nil (pk);
        else
            msgpack_pack_int64 (pk, oldest);
    }
    finish (self, w, p);
}

/*  The FULL reply for the agent limit (agent: the one that would pass it). */
static void
agents_full (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, const char *agent)
{
    char msg[320];
    snprintf (msg, sizeof msg, "the agent limit is reached (AGENTBUS_MAX_AGENTS = %u): "
              "agent '%.128s' is not known and cannot be added", self->cfg.max_agents, agent);
    ab_reply_error (self, w, p, HSN_STATUS_FULL, msg);
}

void
ab_answer_message (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p,
                   long long code, const redisReply *v)
{
    if (code == -1) {
        agents_full (self, w, p, is (v, REDIS_REPLY_STRING) ? v->str : "?");
        return;
    }
    if (code == 0) {
        char msg[256];
        snprintf (msg, sizeof msg, "the queue of agent '%.128s' is full (AGENTBUS_MAX_QUEUE)",
                  is (v, REDIS_REPLY_STRING) ? v->str : "?");
        ab_reply_error (self, w, p, HSN_STATUS_FULL, msg);
        return;
    }
    if (code != 1 || (p->script == AB_SCRIPT_SEND && !is (v, REDIS_REPLY_STRING))) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    msgpack_packer *pk = begin (self, p, HSN_STATUS_CREATED);
    if (p->script == AB_SCRIPT_SEND) {
        char id[64];
        int len = snprintf (id, sizeof id, "%c-%.41s", p->prio, v->str);
        msgpack_pack_map (pk, 3);
        kv_str (pk, "id", id, (size_t) len);
        kv_str (pk, "agent", p->agent, strlen (p->agent));
        const char *prio = ab_prio_name (p->prio);
        kv_str (pk, "priority", prio, strlen (prio));
        hsn_counter_add (self->sent, 1);
    }
    else {
        long long n = int_of (v);
        msgpack_pack_map (pk, 1);
        key (pk, "recipients");
        msgpack_pack_int64 (pk, n);
        hsn_counter_add (self->sent, (uint64_t) n);
    }
    finish (self, w, p);
}

/*  Fan-out: {1, count}, {0, the agent whose queue is full} or {-1, an
 *  agent past the agent limit}. (Sends are answered by the pipeline, from
 *  their group's reply.) */
static void
answer_message (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    if (!is (r, REDIS_REPLY_ARRAY) || r->elements != 2
        || !is (r->element[0], REDIS_REPLY_INTEGER)) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    ab_answer_message (self, w, p, r->element[0]->integer, r->element[1]);
}

static void
answer_subscription (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    bool sub = p->script == AB_SCRIPT_SUBSCRIBE;
    if (!is (r, REDIS_REPLY_INTEGER)) {
        ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "unexpected reply from Redis");
        return;
    }
    if (sub && r->integer == -1) {
        agents_full (self, w, p, p->agent);
        return;
    }
    if (sub && r->integer == -2) {
        char msg[320];
        snprintf (msg, sizeof msg, "agent '%.128s' is subscribed to %u topics already "
                  "(AGENTBUS_MAX_SUBSCRIPTIONS)", p->agent, self->cfg.max_subscriptions);
        ab_reply_error (self, w, p, HSN_STATUS_FULL, msg);
        return;
    }
    if (!sub && r->integer == 0) {
        ab_reply_error (self, w, p, HSN_STATUS_NOT_FOUND, "the agent was not subscribed");
        return;
    }
    msgpack_packer *pk = begin (self, p, HSN_STATUS_OK);
    msgpack_pack_map (pk, 3);
    kv_str (pk, "topic", p->topic, strlen (p->topic));
    kv_str (pk, "agent", p->agent, strlen (p->agent));
    key (pk, "subscribed");
    if (sub)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    finish (self, w, p);
}

void
ab_answer (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r)
{
    switch (p->script) {
        case AB_SCRIPT_SEND:
        case AB_SCRIPT_FANOUT:
            answer_message (self, w, p, r);
            break;
        case AB_SCRIPT_SUBSCRIBE:
        case AB_SCRIPT_UNSUBSCRIBE:
            answer_subscription (self, w, p, r);
            break;
        case AB_SCRIPT_RECEIVE:
            answer_receive (self, w, p, r);
            break;
        case AB_SCRIPT_ACK: {
            long long n = int_of (r);
            hsn_counter_add (self->acked, (uint64_t) n);
            msgpack_packer *pk = begin (self, p, HSN_STATUS_OK);
            msgpack_pack_map (pk, 1);
            key (pk, "acked");
            msgpack_pack_int64 (pk, n);
            finish (self, w, p);
            break;
        }
        case AB_SCRIPT_LIST:
            answer_list (self, w, p, r);
            break;
        case AB_SCRIPT_DEAD:
            answer_dead (self, w, p, r);
            break;
        default:
            ab_reply_error (self, w, p, HSN_STATUS_INTERNAL, "no such script");
    }
}
