/*  agentbus_fixture: what the agent-bus tests share. A real redis-server,
 *  and one or two rigs (broker + agentbus_service replica + client, see
 *  hsn_rig) on it; requests built and replies read as the gateway would.
 *  Header-only (static inline) so each test binary takes what it uses.
 */
#ifndef AGENTBUS_FIXTURE_H
#define AGENTBUS_FIXTURE_H

#include <czmq.h>
#include <string.h>

#include "agent-bus/agentbus_service.h"
#include "hsn_client.h"
#include "hsn_harness.h"
#include "hsn_metrics.h"
#include "hsn_rig.h"
#include "hsn_test.h"

/*  A replica blocked on a hung Redis (up to its 1 s command timeout) must
 *  not miss 3 heartbeats: keep 3 x HB_MS above 1 s. */
#define HB_MS   1000
#define CALL_MS 5000

/*  One replica: its service's config, the service (made on the replica's
 *  thread), its metrics, its rig. */
typedef struct {
    agentbus_config_t cfg;
    agentbus_service_t *bus;
    hsn_metrics_t *metrics;
    hsn_rig_t *rig;
    hsn_enc_t enc;
    int holding;                        /* in a HOLD command (atomic) */
} bus_t;

static hsn_redis_t *redis;
/*  Set before bus_start for a smaller reply budget than the service's. */
static uint32_t fixture_reply_max;
/*  Set before bus_start for other agent and subscription limits (0: the
 *  service's defaults). */
static uint32_t fixture_max_agents, fixture_max_subscriptions;

static inline int
bus_open (zloop_t *loop, hsn_worker_config_t *wcfg, void *arg)
{
    bus_t *b = (bus_t *) arg;
    char err[256] = "";
    b->bus = agentbus_service_new (&b->cfg, loop, err, sizeof err);
    if (!b->bus) {
        fprintf (stderr, "agentbus_service_new: %s\n", err);
        return -1;
    }
    wcfg->credits = 64;
    wcfg->handler = agentbus_service_handle;
    wcfg->arg = b->bus;
    wcfg->batch_end = agentbus_service_batch_end;
    return 0;
}

static inline void
bus_close (void *arg)
{
    agentbus_service_destroy (&((bus_t *) arg)->bus);
}

typedef struct {
    gateway_broker_t *broker;
    uint64_t requests;
} hold_t;

static inline bool
broker_has (void *arg)
{
    hold_t *h = (hold_t *) arg;
    gateway_broker_stats_t st;
    gateway_broker_stats (h->broker, &st);
    return st.requests >= h->requests;
}

/*  On the replica's thread: "CHECK" (health probe: "up" or "down"),
 *  "REAP" (one reaper tick now) and "HOLD <n>" (keep the replica busy until
 *  the broker has taken n requests in all, deadline 5 s: those sent
 *  meanwhile are then taken in one wake-up, as under load). */
static inline const char *
bus_command (const char *cmd, void *arg)
{
    bus_t *b = (bus_t *) arg;
    if (strncmp (cmd, "HOLD ", 5) == 0) {
        hold_t h = { hsn_rig_broker (b->rig), strtoull (cmd + 5, NULL, 10) };
        __atomic_store_n (&b->holding, 1, __ATOMIC_SEQ_CST);
        bool ok = hsn_wait_until (broker_has, &h, 5000);
        __atomic_store_n (&b->holding, 0, __ATOMIC_SEQ_CST);
        return ok ? "held" : "timeout";
    }
    if (streq (cmd, "CHECK")) {
        agentbus_service_check (b->bus);
        return agentbus_service_redis_up (b->bus) ? "up" : "down";
    }
    if (streq (cmd, "REAP")) {
        agentbus_service_reap (b->bus);
        return "done";
    }
    return NULL;
}

/*  Start a replica on the test's Redis with these limits. */
static inline void
bus_start (bus_t *b, uint32_t max_queue, uint32_t visibility_ms, uint32_t max_deliveries,
           uint32_t reaper_ms)
{
    memset (b, 0, sizeof *b);
    b->metrics = hsn_metrics_new ();
    hsn_enc_init (&b->enc);
    agentbus_config_t cfg = { hsn_redis_url (redis), 1024, max_queue, visibility_ms,
                              max_deliveries, 100, reaper_ms, b->metrics,
                              fixture_reply_max, fixture_max_agents,
                              fixture_max_subscriptions };
    b->cfg = cfg;
    hsn_rig_config_t rcfg = { HSN_SERVICE_AGENT_BUS, HB_MS, bus_open, bus_close, bus_command, b };
    b->rig = hsn_rig_start (&rcfg);
    ck_assert_ptr_nonnull (b->rig);
}

static inline void
bus_stop (bus_t *b)
{
    hsn_rig_stop (&b->rig);
    hsn_metrics_destroy (&b->metrics);
    hsn_enc_release (&b->enc);
}

static inline char *
bus_cmd (bus_t *b, const char *cmd)
{
    return hsn_rig_command (b->rig, cmd);
}

static inline uint64_t
bus_counter (bus_t *b, const char *name)
{
    return hsn_counter_get (hsn_metrics_counter (b->metrics, name));
}

/* ---- requests ------------------------------------------------------------ */

/*  A request's fields: NULL strings and negative numbers are left out.
 *  payload is an integer payload unless payload_mp is set (raw msgpack). */
typedef struct {
    const char *agent, *topic, *priority, *type, *from;
    long long payload;                  /* < 0: no payload (unless payload_mp) */
    const void *payload_mp;
    size_t payload_len;
    long long ttl, max;
    const char *const *ids;             /* with nids */
    size_t nids;
} req_t;

/*  REQ (.agent = "a", .max = 5): the defaults, then the fields given
 *  (overriding an initializer is the point here). */
#pragma GCC diagnostic ignored "-Woverride-init"
#define REQ(...) ((req_t) { .payload = -1, .ttl = -1, .max = -1, __VA_ARGS__ })

typedef struct {
    zmq_msg_t msg;
    hsn_env_t env;
    hsn_mp_obj_t result;
} reply_t;

static inline void
enc_str (hsn_enc_t *e, hsn_field_t f, const char *s)
{
    if (s)
        hsn_enc_cstr (e, f, s);
}

/*  Send op with q's fields through b; returns the reply's status (the
 *  reply is kept in *r: close it with reply_close). */
static inline int
call (bus_t *b, uint32_t op, const req_t *q, reply_t *r)
{
    hsn_client_t *client = hsn_rig_client (b->rig);
    uint64_t rid = hsn_client_next_rid (client);
    bool payload = q->payload_mp || q->payload >= 0;
    uint32_t n = (q->agent != NULL) + (q->topic != NULL) + (q->priority != NULL)
                 + (q->type != NULL) + (q->from != NULL) + payload + (q->ttl >= 0)
                 + (q->max >= 0) + (q->ids != NULL);
    hsn_enc_t *e = &b->enc;
    hsn_enc_begin (e, HSN_KIND_REQUEST, rid, HSN_SERVICE_AGENT_BUS, op, 0, n);
    enc_str (e, HSN_FIELD_AGENT, q->agent);
    enc_str (e, HSN_FIELD_TOPIC, q->topic);
    enc_str (e, HSN_FIELD_PRIORITY, q->priority);
    enc_str (e, HSN_FIELD_TYPE, q->type);
    enc_str (e, HSN_FIELD_FROM, q->from);
    if (q->payload_mp)
        hsn_enc_raw (e, HSN_FIELD_PAYLOAD, q->payload_mp, q->payload_len);
    else if (q->payload >= 0) {
        hsn_enc_key (e, HSN_FIELD_PAYLOAD);
        msgpack_pack_int64 (&e->pk, q->payload);
    }
    if (q->ttl >= 0)
        hsn_enc_uint (e, HSN_FIELD_TTL, (uint64_t) q->ttl);
    if (q->max >= 0)
        hsn_enc_uint (e, HSN_FIELD_MAX, (uint64_t) q->max);
    if (q->ids) {
        hsn_enc_key (e, HSN_FIELD_IDS);
        msgpack_pack_array (&e->pk, q->nids);
        for (size_t i = 0; i < q->nids; i++) {
            msgpack_pack_str (&e->pk, strlen (q->ids[i]));
            msgpack_pack_str_body (&e->pk, q->ids[i], strlen (q->ids[i]));
        }
    }
    int rc = hsn_client_call (client, hsn_enc_data (e), hsn_enc_size (e), rid, CALL_MS, &r->msg);
    ck_assert_msg (rc == 0, "no reply to %s: %d", hsn_op_name (op), rc);
    ck_assert_int_eq (hsn_env_decode (&r->env, zmq_msg_data (&r->msg), zmq_msg_size (&r->msg)), 0);
    ck_assert_uint_eq (r->env.rid, rid);
    int st = (int) r->env.status;
    if (st == HSN_STATUS_OK || st == HSN_STATUS_CREATED) {
        ck_assert_msg (hsn_env_has (&r->env, HSN_FIELD_RESULT), "%s: no result", hsn_op_name (op));
        r->result = r->env.fields[HSN_FIELD_RESULT];
        ck_assert_int_eq (r->result.type, HSN_MP_MAP);
    }
    else
        ck_assert_msg (hsn_env_has (&r->env, HSN_FIELD_MESSAGE), "error reply without a message");
    return st;
}

static inline void
reply_close (reply_t *r)
{
    zmq_msg_close (&r->msg);
}

static inline int
status_of (bus_t *b, uint32_t op, const req_t *q)
{
    reply_t r;
    int st = call (b, op, q, &r);
    reply_close (&r);
    return st;
}

/*  The error message of a reply, copied into out. */
static inline void
reply_message (const reply_t *r, char *out, size_t cap)
{
    const char *s = "";
    size_t len = 0;
    hsn_env_str (&r->env, HSN_FIELD_MESSAGE, &s, &len);
    snprintf (out, cap, "%.*s", (int) len, s);
}

/*  Member k of map m: an unsigned integer (or -1 when absent or not one). */
static inline long long
get_uint (const hsn_mp_obj_t *m, const char *k)
{
    hsn_mp_obj_t v;
    if (hsn_mp_map_get (m, k, &v) || v.type != HSN_MP_UINT)
        return -1;
    return (long long) v.v.u;
}

/*  Member k of map m: a string copied into out ("" when absent). */
static inline void
get_str (const hsn_mp_obj_t *m, const char *k, char *out, size_t cap)
{
    hsn_mp_obj_t v;
    if (hsn_mp_map_get (m, k, &v) || v.type != HSN_MP_STR)
        snprintf (out, cap, "%s", "");
    else
        snprintf (out, cap, "%.*s", (int) v.v.s.len, v.v.s.ptr);
}

/*  agent.send of an integer payload; returns the status, the id in id. */
static inline int
send_to (bus_t *b, const char *agent, const char *prio, long long payload, char *id, size_t cap)
{
    reply_t r;
    req_t q = REQ (.agent = agent, .priority = prio, .payload = payload);
    int st = call (b, HSN_OP_AGENT_SEND, &q, &r);
    if (st == HSN_STATUS_CREATED && id)
        get_str (&r.result, "id", id, cap);
    reply_close (&r);
    return st;
}

/*  One received (or dead) message. */
typedef struct {
    char id[64], priority[8], to[136], topic[136], from[136], type[72], reason[32];
    long long deliveries, payload, created, ttl;
} msg_t;

#define MSGS_MAX 1000

/*  The messages array of a result (receive, dead-letters) into out. */
static inline size_t
messages_of (const reply_t *r, msg_t *out, size_t cap)
{
    hsn_mp_obj_t arr, m;
    ck_assert_int_eq (hsn_mp_map_get (&r->result, "messages", &arr), 0);
    ck_assert_int_eq (arr.type, HSN_MP_ARRAY);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, &arr);
    size_t n = 0;
    for (uint32_t i = 0; i < arr.v.c.count; i++) {
        ck_assert_int_eq (hsn_mp_get (&rd, &m, 32), 0);
        ck_assert_int_eq (m.type, HSN_MP_MAP);
        ck_assert_uint_lt (n, cap);
        msg_t *x = &out[n++];
        get_str (&m, "id", x->id, sizeof x->id);
        get_str (&m, "priority", x->priority, sizeof x->priority);
        get_str (&m, "to", x->to, sizeof x->to);
        get_str (&m, "topic", x->topic, sizeof x->topic);
        get_str (&m, "from", x->from, sizeof x->from);
        get_str (&m, "type", x->type, sizeof x->type);
        get_str (&m, "reason", x->reason, sizeof x->reason);
        x->deliveries = get_uint (&m, "deliveries");
        x->payload = get_uint (&m, "payload");
        x->created = get_uint (&m, "created");
        x->ttl = get_uint (&m, "ttl");
    }
    return n;
}

/*  agent.receive: the messages into out; returns how many. */
static inline size_t
receive (bus_t *b, const char *agent, long long max, msg_t *out)
{
    reply_t r;
    req_t q = REQ (.agent = agent, .max = max);
    ck_assert_int_eq (call (b, HSN_OP_AGENT_RECEIVE, &q, &r), HSN_STATUS_OK);
    size_t n = messages_of (&r, out, MSGS_MAX);
    reply_close (&r);
    return n;
}

static inline size_t
dead_letters (bus_t *b, const char *agent, msg_t *out)
{
    reply_t r;
    req_t q = REQ (.agent = agent, .max = 1000);
    ck_assert_int_eq (call (b, HSN_OP_AGENT_DEAD_LETTERS, &q, &r), HSN_STATUS_OK);
    size_t n = messages_of (&r, out, MSGS_MAX);
    reply_close (&r);
    return n;
}

static inline long long
ack (bus_t *b, const char *agent, const char *const *ids, size_t n)
{
    reply_t r;
    req_t q = REQ (.agent = agent, .ids = ids, .nids = n);
    ck_assert_int_eq (call (b, HSN_OP_AGENT_ACK, &q, &r), HSN_STATUS_OK);
    long long acked = get_uint (&r.result, "acked");
    reply_close (&r);
    return acked;
}

/* ---- Redis, seen from outside ------------------------------------------- */

static inline long long
redis_int (const char *fmt, const char *arg)
{
    redisContext *c = hsn_redis_connect (redis);
    ck_assert_ptr_nonnull (c);
    redisReply *r = (redisReply *) redisCommand (c, fmt, arg);
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (r->type == REDIS_REPLY_INTEGER, "%s: not an integer", fmt);
    long long v = r->integer;
    freeReplyObject (r);
    redisFree (c);
    return v;
}

/*  Messages in an agent's three streams. */
static inline long long
redis_depth (const char *agent)
{
    char k[256];
    long long d = 0;
    for (const char *p = "hnl"; *p; p++) {
        snprintf (k, sizeof k, "hsn:ab:q:%s:%c", agent, *p);
        d += redis_int ("XLEN %s", k);
    }
    return d;
}

#endif
