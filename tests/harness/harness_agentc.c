/*  hsn_agentc: agent-bus test client over the broker. See hsn_agentc.h. */
#include "hsn_agentc.h"
#include "hsn_agentc_int.h"
#include "hsn_client.h"
#include "hsn_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

hsn_agentc_t *
hsn_agentc_new (const char *endpoint)
{
    hsn_agentc_t *self = (hsn_agentc_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (strncmp (endpoint, "http://", 7) == 0) {
        self->base = strdup (endpoint);
        if (!self->base) {
            free (self);
            return NULL;
        }
        return self;
    }
    self->client = hsn_client_new (endpoint);
    if (!self->client) {
        free (self);
        return NULL;
    }
    hsn_enc_init (&self->enc);
    return self;
}

void
hsn_agentc_destroy (hsn_agentc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hsn_agentc_t *self = *self_p;
    if (self->client) {
        hsn_client_destroy (&self->client);
        hsn_enc_release (&self->enc);
    }
    free (self->base);
    free (self);
    *self_p = NULL;
}

/*  Start a request of op with nfields body fields; the caller writes them. */
static uint64_t
begin (hsn_agentc_t *self, uint32_t op, uint32_t nfields)
{
    uint64_t rid = hsn_client_next_rid (self->client);
    hsn_enc_begin (&self->enc, HSN_KIND_REQUEST, rid, HSN_SERVICE_AGENT_BUS, op, 0, nfields);
    return rid;
}

/*  Send the encoded request and decode the reply into *env (pointing into
 *  *msg, which the caller closes when the call returned >= 0). Returns the
 *  reply's status or -errno. */
static int
call (hsn_agentc_t *self, uint64_t rid, int timeout_ms, zmq_msg_t *msg, hsn_env_t *env)
{
    int rc = hsn_client_call (self->client, hsn_enc_data (&self->enc),
                              hsn_enc_size (&self->enc), rid, timeout_ms, msg);
    if (rc < 0)
        return rc;
    if (hsn_env_decode (env, zmq_msg_data (msg), zmq_msg_size (msg)) != 0
    ||  env->kind != HSN_KIND_REPLY || env->rid != rid) {
        fprintf (stderr, "hsn_agentc: a reply that does not decode or answer the request\n");
        zmq_msg_close (msg);
        return -EBADMSG;
    }
    return (int) env->status;
}

/*  The reply's result map, or -EBADMSG. */
static int
result_map (const hsn_env_t *env, const char *op, hsn_mp_obj_t *out)
{
    if (!hsn_env_has (env, HSN_FIELD_RESULT)
    ||  env->fields[HSN_FIELD_RESULT].type != HSN_MP_MAP) {
        fprintf (stderr, "hsn_agentc: %s reply without a result map\n", op);
        return -EBADMSG;
    }
    *out = env->fields[HSN_FIELD_RESULT];
    return 0;
}

int
hsn_agentc_send_seq (hsn_agentc_t *self, const char *agent, uint64_t seq,
                     int timeout_ms, char *id, size_t id_size)
{
    if (self->base)
        return hsn_agentc_http_send_seq (self, agent, seq, id, id_size);
    uint64_t rid = begin (self, HSN_OP_AGENT_SEND, 2);
    hsn_enc_cstr (&self->enc, HSN_FIELD_AGENT, agent);
    hsn_enc_key (&self->enc, HSN_FIELD_PAYLOAD);
    msgpack_pack_map (&self->enc.pk, 1);
    msgpack_pack_str (&self->enc.pk, 3);
    msgpack_pack_str_body (&self->enc.pk, "seq", 3);
    msgpack_pack_uint64 (&self->enc.pk, seq);
    zmq_msg_t msg;
    hsn_env_t env;
    int st = call (self, rid, timeout_ms, &msg, &env);
    if (st != HSN_STATUS_CREATED || !id) {
        if (st >= 0)
            zmq_msg_close (&msg);
        return st;
    }
    hsn_mp_obj_t result, v;
    if (result_map (&env, "agent.send", &result) == 0
    &&  hsn_mp_map_get (&result, "id", &v) == 0 && v.type == HSN_MP_STR
    &&  v.v.s.len > 0 && v.v.s.len < id_size)
        snprintf (id, id_size, "%.*s", (int) v.v.s.len, v.v.s.ptr);
    else {
        fprintf (stderr, "hsn_agentc: agent.send CREATED without a usable id\n");
        st = -EBADMSG;
    }
    zmq_msg_close (&msg);
    return st;
}

int
hsn_agentc_parse_message (const hsn_mp_obj_t *map, hsn_agentc_msg_t *m)
{
    memset (m, 0, sizeof *m);
    hsn_mp_obj_t v, payload;
    if (map->type != HSN_MP_MAP || hsn_mp_map_get (map, "id", &v) != 0
    ||  v.type != HSN_MP_STR || v.v.s.len == 0 || v.v.s.len >= sizeof m->id)
        return -EBADMSG;
    snprintf (m->id, sizeof m->id, "%.*s", (int) v.v.s.len, v.v.s.ptr);
    if (hsn_mp_map_get (map, "deliveries", &v) == 0 && v.type == HSN_MP_UINT)
        m->deliveries = v.v.u;
    if (hsn_mp_map_get (map, "payload", &payload) == 0 && payload.type == HSN_MP_MAP
    &&  hsn_mp_map_get (&payload, "seq", &v) == 0 && v.type == HSN_MP_UINT) {
        m->has_seq = true;
        m->seq = v.v.u;
    }
    return 0;
}

int
hsn_agentc_receive (hsn_agentc_t *self, const char *agent, uint32_t max,
                    int timeout_ms, hsn_agentc_msg_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (self->base)
        return hsn_agentc_http_receive (self, agent, max, out, cap, n);
    uint64_t rid = begin (self, HSN_OP_AGENT_RECEIVE, 2);
    hsn_enc_cstr (&self->enc, HSN_FIELD_AGENT, agent);
    hsn_enc_uint (&self->enc, HSN_FIELD_MAX, max);
    zmq_msg_t msg;
    hsn_env_t env;
    int st = call (self, rid, timeout_ms, &msg, &env);
    if (st != HSN_STATUS_OK) {
        if (st >= 0)
            zmq_msg_close (&msg);
        return st;
    }
    hsn_mp_obj_t result, messages, item;
    if (result_map (&env, "agent.receive", &result) != 0
    ||  hsn_mp_map_get (&result, "messages", &messages) != 0
    ||  messages.type != HSN_MP_ARRAY || messages.v.c.count > cap) {
        fprintf (stderr, "hsn_agentc: agent.receive: no messages array, or more than %zu\n", cap);
        zmq_msg_close (&msg);
        return -EBADMSG;
    }
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, &messages);
    for (uint32_t i = 0; i < messages.v.c.count; i++)
        if (hsn_mp_get (&r, &item, HSN_MP_DEPTH_LIMIT) != 0
        ||  hsn_agentc_parse_message (&item, &out[i]) != 0) {
            fprintf (stderr, "hsn_agentc: agent.receive: message %u has no usable id\n", i);
            zmq_msg_close (&msg);
            return -EBADMSG;
        }
    *n = messages.v.c.count;
    zmq_msg_close (&msg);
    return st;
}

int
hsn_agentc_ack (hsn_agentc_t *self, const char *agent, const char *const ids[],
                size_t n, int timeout_ms, uint64_t *acked)
{
    if (self->base)
        return hsn_agentc_http_ack (self, agent, ids, n, acked);
    uint64_t rid = begin (self, HSN_OP_AGENT_ACK, 2);
    hsn_enc_cstr (&self->enc, HSN_FIELD_AGENT, agent);
    hsn_enc_key (&self->enc, HSN_FIELD_IDS);
    msgpack_pack_array (&self->enc.pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen (ids[i]);
        msgpack_pack_str (&self->enc.pk, len);
        msgpack_pack_str_body (&self->enc.pk, ids[i], len);
    }
    zmq_msg_t msg;
    hsn_env_t env;
    int st = call (self, rid, timeout_ms, &msg, &env);
    if (st != HSN_STATUS_OK || !acked) {
        if (st >= 0)
            zmq_msg_close (&msg);
        return st;
    }
    hsn_mp_obj_t result, v;
    if (result_map (&env, "agent.ack", &result) == 0
    &&  hsn_mp_map_get (&result, "acked", &v) == 0 && v.type == HSN_MP_UINT)
        *acked = v.v.u;
    else {
        fprintf (stderr, "hsn_agentc: agent.ack OK without \"acked\"\n");
        st = -EBADMSG;
    }
    zmq_msg_close (&msg);
    return st;
}
