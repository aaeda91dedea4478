/*  gateway_hub_agent: the hub's agents, their agent.receive calls and the
 *  timers (see gateway_hub_int.h). */
#include "gateway_hub_int.h"
#include "gateway_sse.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*  A receive that failed for a stream is tried again after this. */
#define RETRY_MS 1000
/*  Stream receives take this many messages at a time (the next is issued
 *  once they are written: the socket, not the hub, buffers). */
#define STREAM_BATCH 16
/*  The timers' resolution: the walk of every client runs at most this
 *  often (unless something asks for it sooner: a new client, a recheck). */
#define SWEEP_GRAIN_MS 50

void
hub_sweep_soon (gateway_hub_t *self, int64_t at)
{
    if (at < self->next_sweep)
        self->next_sweep = at;
}

static void
rid_key (uint64_t rid, char *key)
{
    snprintf (key, 17, "%016llx", (unsigned long long) rid);
}

/* ---- agents ------------------------------------------------------------- */

void
hub_agent_release (gateway_hub_t *self, hub_agent_t *a)
{
    if (a->pinned || a->nclients || a->inflight_rid)
        return;
    zhashx_delete (self->agents, a->id);
    free (a);
}

static hub_client_t *
first_ready (hub_agent_t *a)
{
    for (hub_client_t *c = a->head; c; c = c->next)
        if (hub_client_ready (c))
            return c;
    return NULL;
}

void
hub_agent_receive (gateway_hub_t *self, hub_agent_t *a)
{
    int64_t now = hsn_now_ms ();
    if (a->inflight_rid)
        return;                         /* its reply will look at dirty */
    if (now < a->retry_at) {
        hub_sweep_soon (self, a->retry_at);
        return;
    }
    hub_client_t *c = first_ready (a);
    if (!c)
        return;                         /* a stream that drains will ask again */
    uint64_t rid = self->next_rid++;
    uint32_t max = c->kind == GATEWAY_HUB_STREAM ? STREAM_BATCH : c->max;
    hsn_enc_begin (&self->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_AGENT_BUS,
                   HSN_OP_AGENT_RECEIVE, 0, 2);
    hsn_enc_str (&self->enc, HSN_FIELD_AGENT, a->id, strlen (a->id));
    hsn_enc_uint (&self->enc, HSN_FIELD_MAX, max);
    if (zmq_send (self->dealer_handle, hsn_enc_data (&self->enc), hsn_enc_size (&self->enc),
                  ZMQ_DONTWAIT) < 0) {
        a->dirty = true;
        a->retry_at = now + RETRY_MS;
        hub_sweep_soon (self, a->retry_at);
        return;
    }
    a->dirty = false;
    a->inflight_rid = rid;
    a->inflight_for = c;
    a->inflight_max = max;
    a->inflight_deadline = now + self->cfg.backend_timeout_ms;
    char key[17];
    rid_key (rid, key);
    zhashx_insert (self->inflight, key, a);
    hsn_counter_add (self->m_receives, 1);
    hub_sweep_soon (self, a->inflight_deadline);
}

void
hub_wake (gateway_hub_t *self, const char *id, size_t len)
{
    char key[129];
    if (len == 0 || len >= sizeof key)
        return;
    memcpy (key, id, len);
    key[len] = 0;
    hsn_counter_add (self->m_wakes, 1);
    hub_agent_t *a = (hub_agent_t *) zhashx_lookup (self->agents, key);
    if (!a)
        return;
    a->dirty = true;
    hub_agent_receive (self, a);
}

void
hub_recheck_all (gateway_hub_t *self)
{
    for (hub_agent_t *a = (hub_agent_t *) zhashx_first (self->agents); a;
         a = (hub_agent_t *) zhashx_next (self->agents)) {
        a->dirty = true;
        a->retry_at = 0;
    }
    /*  Issued in the sweep: receiving here would not change the map, but
     *  the sweep is the one place that walks it. */
    self->next_sweep = 0;
}

/*  Who takes the reply to a receive of a: the client it was issued for.
 *  When that one left: the first ready client that can take as many as
 *  were asked for (a stream, or a long-poll with that max or more); else
 *  the first ready long-poll, which takes only up to its max (the rest stay
 *  unacked in the bus and come back after the visibility timeout, as all
 *  of them would were nobody given them). */
static hub_client_t *
taker (hub_agent_t *a)
{
    if (a->inflight_for)
        return a->inflight_for;
    hub_client_t *first = NULL;
    for (hub_client_t *c = a->head; c; c = c->next) {
        if (!hub_client_ready (c))
            continue;
        if (c->kind == GATEWAY_HUB_STREAM || c->max >= a->inflight_max)
            return c;
        if (!first)
            first = c;
    }
    return first;
}

/*  The reply to a receive issued for a: deliver to the client it was for,
 *  or to another ready one when that one left. */
static void
deliver (gateway_hub_t *self, hub_agent_t *a, hsn_env_t *env, bool ok)
{
    hub_client_t *c = taker (a);
    a->inflight_for = NULL;
    int64_t now = hsn_now_ms ();
    if (!ok) {
        a->dirty = true;
        a->retry_at = now + RETRY_MS;
        hub_sweep_soon (self, a->retry_at);
        if (c && c->kind == GATEWAY_HUB_LONGPOLL && !c->answered) {
            uint32_t st = env ? env->status : HSN_STATUS_TIMEOUT;
            const char *m = "the agent bus did not answer";
            size_t mlen = strlen (m);
            if (env)
                hsn_env_str (env, HSN_FIELD_MESSAGE, &m, &mlen);
            char message[256];
            snprintf (message, sizeof message, "%.*s", (int) mlen, m);
            const char *code = hsn_status_name (st);
            hub_client_answer (self, c, hsn_status_http (st), NULL, 0, code ? code : "internal",
                               message);
        }
        return;
    }
    const hsn_mp_obj_t *res = &env->fields[HSN_FIELD_RESULT];
    bool has = hsn_env_has (env, HSN_FIELD_RESULT);
    size_t count = 0;
    if (!c)
        return;         /* nobody left: pending in the bus, delivered again later */
    if (c->kind == GATEWAY_HUB_STREAM) {
        if (!has || gateway_sse_events (res->raw, res->raw_len, &c->out, &count)) {
            hub_client_close (self, c, self->m_gone);
            return;
        }
        hsn_counter_add (self->m_delivered, count);
        if (count >= a->inflight_max)
            a->dirty = true;            /* there may be more */
        if (count)
            hub_client_flush (self, c);
        return;
    }
    gateway_json_buf_reset (&self->scratch);
    if (!has || gateway_sse_messages_json (res->raw, res->raw_len, c->max, &self->scratch,
                                           &count)) {
        hub_client_answer (self, c, 502, NULL, 0, "malformed",
                           "the agent bus returned an unreadable result");
        return;
    }
    if (count >= a->inflight_max || count >= c->max)
        a->dirty = true;
    if (count || c->expired) {
        hsn_counter_add (self->m_delivered, count);
        hub_client_answer (self, c, 200, self->scratch.data, self->scratch.len, NULL, NULL);
    }
}

static void
on_reply (gateway_hub_t *self, zmq_msg_t *msg)
{
    hsn_env_t env;
    int rc = hsn_env_decode (&env, zmq_msg_data (msg), zmq_msg_size (msg));
    if (rc && hsn_env_peek (&env, zmq_msg_data (msg), zmq_msg_size (msg)) != 0
        && rc != -EPROTONOSUPPORT)
        return;                         /* no rid to go by */
    char key[17];
    rid_key (env.rid, key);
    hub_agent_t *a = (hub_agent_t *) zhashx_lookup (self->inflight, key);
    if (!a)
        return;                         /* late: its receive was given up */
    zhashx_delete (self->inflight, key);
    a->inflight_rid = 0;
    a->pinned = true;
    bool ok = rc == 0 && env.status == HSN_STATUS_OK;
    deliver (self, a, rc == 0 ? &env : NULL, ok);
    if (a->dirty)
        hub_agent_receive (self, a);
    a->pinned = false;
    hub_agent_release (self, a);
}

void
hub_drain_dealer (gateway_hub_t *self)
{
    for (int i = 0; i < 1024; i++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->dealer_handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            return;
        }
        bool more = zmq_msg_more (&msg);
        if (!more)
            on_reply (self, &msg);
        zmq_msg_close (&msg);
        while (more) {                  /* replies are one frame */
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            zmq_msg_recv (&extra, self->dealer_handle, 0);
            more = zmq_msg_more (&extra);
            zmq_msg_close (&extra);
        }
    }
}

/* ---- timers ------------------------------------------------------------- */

/*  Deadlines of long-polls, keepalives, receives that took too long,
 *  retries; and the next time anything is due. */
void
hub_sweep (gateway_hub_t *self, int64_t now)
{
    int64_t next = now + 60000;
    size_t n = zhashx_size (self->agents);
    hub_agent_t **list = n ? (hub_agent_t **) malloc (n * sizeof *list) : NULL;
    size_t k = 0;
    for (hub_agent_t *a = (hub_agent_t *) zhashx_first (self->agents); a && k < n;
         a = (hub_agent_t *) zhashx_next (self->agents))
        list[k++] = a;
    for (size_t i = 0; i < k; i++) {
        hub_agent_t *a = list[i];
        a->pinned = true;
        if (a->inflight_rid && now >= a->inflight_deadline) {
            char key[17];
            rid_key (a->inflight_rid, key);
            zhashx_delete (self->inflight, key);
            a->inflight_rid = 0;
            deliver (self, a, NULL, false);
        }
        for (hub_client_t *c = a->head, *cn; c; c = cn) {
            cn = c->next;
            if (c->kind == GATEWAY_HUB_STREAM || c->answered) {
                if (now >= c->keepalive_ms) {
                    if (c->answered) {
                        hub_client_close (self, c, self->m_slow);
                        continue;
                    }
                    if (hub_client_tick (self, c, now))
                        continue;
                }
                next = c->keepalive_ms < next ? c->keepalive_ms : next;
            }
            else if (now >= c->deadline_ms) {
                if (a->inflight_rid && a->inflight_for == c)
                    c->expired = true;  /* answered when that reply is in */
                else
                    hub_client_answer (self, c, 200, "{\"messages\":[]}", 15, NULL, NULL);
            }
            else
                next = c->deadline_ms < next ? c->deadline_ms : next;
        }
        if (a->dirty && !a->inflight_rid)
            hub_agent_receive (self, a);
        if (a->inflight_rid)
            next = a->inflight_deadline < next ? a->inflight_deadline : next;
        else if (a->dirty && a->retry_at > now)
            next = a->retry_at < next ? a->retry_at : next;
        a->pinned = false;
        hub_agent_release (self, a);
    }
    free (list);
    /*  A walk costs every client: with thousands of staggered keepalives
     *  it would run for each one. Deadlines are kept to within this. */
    self->next_sweep = next < now + SWEEP_GRAIN_MS ? now + SWEEP_GRAIN_MS : next;
}

