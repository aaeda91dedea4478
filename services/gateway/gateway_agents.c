/*  gateway_agents: the /api/agents and /api/topics routes (docs/AGENT_BUS.md).
 *
 *    POST   /api/agents/{id}/messages        send            -> 201 {id, agent, priority}
 *    POST   /api/topics/{topic}/messages     publish         -> 201 {recipients}
 *    POST   /api/agents/_broadcast/messages  broadcast       -> 201 {recipients}
 *    PUT|DELETE /api/topics/{t}/subscribers/{agent}
 *    GET    /api/agents/{id}/messages?wait=s&max=n   receive (long-poll: the hub)
 *    POST   /api/agents/{id}/acks            {"ids": [...]}
 *    GET    /api/agents/{id}/stream          Server-Sent Events (the hub)
 *    GET    /api/agents[?max=n]
 *    GET    /api/agents/{id}/dead-letters[?max=n]
 *
 *  A receive that has nothing yet and may wait, and every stream, is handed
 *  to the hub (gateway_hub.h) with its socket, and this thread returns.
 */
#include "gateway_internal.h"
#include "gateway_fast.h"
#include "gateway_hub.h"
#include "gateway_takeover.h"
#include "hsn_time.h"

#include <stdio.h>
#include <string.h>

#define MAX_WAIT_S 60
#define MAX_MAX 1000
#define DEFAULT_MAX 10
#define MAX_IDS 1000

static int
check_id (gateway_req_t *req, const char *what, const char *s, size_t len)
{
    if (hsn_agent_id_valid (s, len))
        return 0;
    char message[160];
    snprintf (message, sizeof message,
              "%s: 1 to 128 characters of A-Z a-z 0-9 _ . : -, the first a letter or digit", what);
    gateway_reply_error (req, 400, "bad_request", message);
    return -1;
}

/*  ?name= as an integer in lo..hi (def when absent). 0, or -1 after a 400. */
static int
query_range (gateway_req_t *req, const char *name, uint64_t lo, uint64_t hi, uint64_t def,
             uint64_t *out)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    bool bad = false;
    uint64_t v = def;
    bool has = gateway_query_uint (ri->query_string, name, &v, &bad);
    if (bad || (has && (v < lo || v > hi))) {
        char message[96];
        snprintf (message, sizeof message, "%s must be an integer from %llu to %llu", name,
                  (unsigned long long) lo, (unsigned long long) hi);
        gateway_reply_error (req, 400, "bad_request", message);
        return -1;
    }
    *out = v;
    return 0;
}

/*  Answer with a reply's result document as data (201 when the bus said
 *  CREATED). */
static void
result_finish (gw_thread_t *t, gateway_req_t *req, const void *cont, zmq_msg_t *msg,
               hsn_env_t *env)
{
    if (gateway_call_status (req, msg, env))
        return;
    int status = env->status == HSN_STATUS_CREATED ? 201 : 200;
    const hsn_mp_obj_t *res = &env->fields[HSN_FIELD_RESULT];
    gateway_json_buf_reset (&t->json);
    int rc = hsn_env_has (env, HSN_FIELD_RESULT)
             ? gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, &t->json) : -1;
    zmq_msg_close (msg);
    if (rc)
        gateway_reply_error (req, 502, "malformed", "the agent bus returned an unreadable result");
    else
        gateway_reply_ok (req, status, t->json.data, t->json.len);
}

/*  Call, then answer with the result. */
static void
call_and_reply (gw_thread_t *t, gateway_req_t *req, uint64_t rid)
{
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call_any (t, req, rid, &msg, &env) == 0)
        result_finish (t, req, NULL, &msg, &env);
}

/* ---- sending ------------------------------------------------------------ */

/*  The members of a message body, checked. */
typedef struct {
    hsn_mp_obj_t payload, priority, type, from, ttl;
    bool has_priority, has_type, has_from, has_ttl;
} msg_body_t;

static int
bad_body (gateway_req_t *req, const char *message)
{
    gateway_reply_error (req, 400, "bad_request", message);
    return -1;
}

static int
read_msg_body (gw_thread_t *t, gateway_req_t *req, msg_body_t *b)
{
    memset (b, 0, sizeof *b);
    if (gateway_read_json (t, req))
        return -1;
    hsn_mp_reader_t r;
    hsn_mp_obj_t map;
    hsn_mp_reader_init (&r, t->mp.data, t->mp.size);
    if (hsn_mp_get (&r, &map, HSN_PROTO_MAX_DEPTH) || map.type != HSN_MP_MAP)
        return bad_body (req, "the body must be an object: {\"payload\": any JSON, \"priority\", "
                         "\"type\", \"from\", \"ttl\"}");
    hsn_mp_reader_t mr;
    hsn_mp_reader_of (&mr, &map);
    bool has_payload = false;
    for (uint32_t i = 0; i < map.v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&mr, &k, 1) || hsn_mp_get (&mr, &v, HSN_PROTO_MAX_DEPTH))
            return bad_body (req, "unreadable body");
        if (hsn_mp_str_eq (&k, "payload")) {
            b->payload = v;
            has_payload = true;
        }
        else if (hsn_mp_str_eq (&k, "priority")) {
            if (!(hsn_mp_str_eq (&v, "high") || hsn_mp_str_eq (&v, "normal")
                  || hsn_mp_str_eq (&v, "low")))
                return bad_body (req, "priority must be \"high\", \"normal\" or \"low\"");
            b->priority = v;
            b->has_priority = true;
        }
        else if (hsn_mp_str_eq (&k, "type")) {
            if (v.type != HSN_MP_STR || v.v.s.len == 0 || v.v.s.len > 64)
                return bad_body (req, "type must be a string of 1 to 64 bytes");
            b->type = v;
            b->has_type = true;
        }
        else if (hsn_mp_str_eq (&k, "from")) {
            if (v.type != HSN_MP_STR || !hsn_agent_id_valid (v.v.s.ptr, v.v.s.len))
                return bad_body (req, "from must be an agent id");
            b->from = v;
            b->has_from = true;
        }
        else if (hsn_mp_str_eq (&k, "ttl")) {
            if (v.type != HSN_MP_UINT || v.v.u == 0 || v.v.u > 31536000)
                return bad_body (req, "ttl must be an integer from 1 to 31536000 (seconds)");
            b->ttl = v;
            b->has_ttl = true;
        }
        else
            return bad_body (req, "unknown member: the body takes payload, priority, type, "
                             "from, ttl");
    }
    if (!has_payload)
        return bad_body (req, "payload is required (any JSON value)");
    return 0;
}

/*  The request of a send (target AGENT), publish (target TOPIC) or
 *  broadcast (none) into t->enc: its id, or 0 after answering 4xx. */
static uint64_t
send_begin (gw_thread_t *t, gateway_req_t *req, uint32_t op, hsn_field_t target,
            const char *name, size_t len)
{
    if (target && check_id (req, target == HSN_FIELD_TOPIC ? "topic" : "agent id", name, len))
        return 0;
    msg_body_t b;
    if (read_msg_body (t, req, &b))
        return 0;
    uint32_t n = 1 + (target != 0) + b.has_priority + b.has_type + b.has_from + b.has_ttl;
    uint64_t rid = gateway_begin (t, op, n);
    if (target)
        hsn_enc_str (&t->enc, target, name, len);
    hsn_enc_raw (&t->enc, HSN_FIELD_PAYLOAD, b.payload.raw, b.payload.raw_len);
    if (b.has_priority)
        hsn_enc_str (&t->enc, HSN_FIELD_PRIORITY, b.priority.v.s.ptr, b.priority.v.s.len);
    if (b.has_type)
        hsn_enc_str (&t->enc, HSN_FIELD_TYPE, b.type.v.s.ptr, b.type.v.s.len);
    if (b.has_from)
        hsn_enc_str (&t->enc, HSN_FIELD_FROM, b.from.v.s.ptr, b.from.v.s.len);
    if (b.has_ttl)
        hsn_enc_uint (&t->enc, HSN_FIELD_TTL, b.ttl.v.u);
    return rid;
}

static void
send_message (gw_thread_t *t, gateway_req_t *req, uint32_t op, hsn_field_t target,
              const char *name, size_t len)
{
    uint64_t rid = send_begin (t, req, op, target, name, len);
    if (rid)
        call_and_reply (t, req, rid);
}

gateway_front_rc_t
gateway_agent_send_front (gw_thread_t *t, gateway_req_t *req, const gateway_fast_to_t *to,
                          const char *agent, size_t len)
{
    uint64_t rid = send_begin (t, req, HSN_OP_AGENT_SEND, HSN_FIELD_AGENT, agent, len);
    if (!rid)
        return GATEWAY_FRONT_DONE;      /* a 4xx, answered */
    int rc = gateway_fast_call (t->fast, t, req, rid, to, result_finish, NULL, 0);
    return rc == 0 ? GATEWAY_FRONT_PENDING : rc == -1 ? GATEWAY_FRONT_DONE : GATEWAY_FRONT_PASS;
}

static void
subscription (gw_thread_t *t, gateway_req_t *req, uint32_t op, const gateway_params_t *p)
{
    if (check_id (req, "topic", p->ptr[0], p->len[0])
        || check_id (req, "agent id", p->ptr[1], p->len[1]))
        return;
    uint64_t rid = gateway_begin (t, op, 2);
    hsn_enc_str (&t->enc, HSN_FIELD_TOPIC, p->ptr[0], p->len[0]);
    hsn_enc_str (&t->enc, HSN_FIELD_AGENT, p->ptr[1], p->len[1]);
    call_and_reply (t, req, rid);
}

/* ---- receiving ---------------------------------------------------------- */

/*  Give the connection to the hub. Answers 503 itself when the hub is off
 *  or full, or the socket cannot be taken. */
static void
handoff (gw_thread_t *t, gateway_req_t *req, gateway_hub_kind_t kind, const char *agent,
         size_t len, uint32_t max, int64_t deadline_ms)
{
    gateway_hub_t *hub = t->cfg->hub;
    if (!hub) {
        gateway_reply_error (req, 503, "unavailable", "waiting receives are off in this gateway");
        return;
    }
    if (gateway_hub_reserve (hub)) {
        gateway_req_header (req, "Retry-After: 1");
        gateway_reply_error (req, 503, "overloaded",
                             "too many clients waiting (GATEWAY_HUB_MAX); try again shortly");
        return;
    }
    if (req->front_secret) {
        /*  Behind the front, the client's own socket is the front's: an
         *  answer it alone understands asks it to pass that socket to the
         *  hub, with what the hub needs (gateway_http_front.c reads it). */
        char head[1536];
        int n = snprintf (head, sizeof head,
                          "HTTP/1.1 200 OK\r\nX-Hsn-Handoff: %s %d %u %lld %lld %s %.*s\r\n"
                          "%.*sContent-Length: 0\r\n\r\n",
                          req->front_secret, (int) kind, max, (long long) deadline_ms,
                          (long long) req->started_us, req->request_id, (int) len, agent,
                          (int) req->headers_len, req->headers);
        if (n <= 0 || (size_t) n >= sizeof head || mg_write (req->conn, head, (size_t) n) != n) {
            gateway_hub_unreserve (hub);
            gateway_reply_error (req, 503, "unavailable",
                                 "the connection could not be handed over");
            return;
        }
        gateway_http_handed_off (req);
        return;
    }
    int fd = gateway_takeover (req->conn, gateway_hub_fd_base (hub));
    if (fd < 0) {
        gateway_hub_unreserve (hub);
        gateway_reply_error (req, 503, "unavailable", "the connection could not be handed over");
        return;
    }
    char id[129], headers[sizeof req->headers + 1];
    snprintf (id, sizeof id, "%.*s", (int) len, agent);
    snprintf (headers, sizeof headers, "%.*s", (int) req->headers_len, req->headers);
    gateway_hub_client_t c = { kind, fd, id, max, deadline_ms, req->request_id,
                               req->started_us, headers };
    gateway_hub_add (hub, &c);
    gateway_http_handed_off (req);
}

static void
receive (gw_thread_t *t, gateway_req_t *req, const char *agent, size_t len)
{
    uint64_t wait, max;
    if (check_id (req, "agent id", agent, len)
        || query_range (req, "wait", 0, MAX_WAIT_S, 0, &wait)
        || query_range (req, "max", 1, MAX_MAX, DEFAULT_MAX, &max))
        return;
    /*  First here: what is there is answered without the hub, and errors
     *  (bus down) come back as they would for any route. */
    uint64_t rid = gateway_begin (t, HSN_OP_AGENT_RECEIVE, 2);
    hsn_enc_str (&t->enc, HSN_FIELD_AGENT, agent, len);
    hsn_enc_uint (&t->enc, HSN_FIELD_MAX, max);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call (t, req, rid, &msg, &env))
        return;
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    hsn_mp_obj_t messages;
    bool ok = hsn_env_has (&env, HSN_FIELD_RESULT) && res->type == HSN_MP_MAP
              && hsn_mp_map_get (res, "messages", &messages) == 0
              && messages.type == HSN_MP_ARRAY;
    gateway_json_buf_reset (&t->json);
    ok = ok && gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, &t->json) == 0;
    uint32_t count = ok ? messages.v.c.count : 0;
    zmq_msg_close (&msg);
    if (!ok)
        gateway_reply_error (req, 502, "malformed", "the agent bus returned an unreadable result");
    else if (count || wait == 0)
        gateway_reply_ok (req, 200, t->json.data, t->json.len);
    else
        handoff (t, req, GATEWAY_HUB_LONGPOLL, agent, len, (uint32_t) max,
                 req->started_us / 1000 + (int64_t) wait * 1000);
}

static void
stream (gw_thread_t *t, gateway_req_t *req, const char *agent, size_t len)
{
    if (check_id (req, "agent id", agent, len))
        return;
    handoff (t, req, GATEWAY_HUB_STREAM, agent, len, 0, 0);
}

static void
ack (gw_thread_t *t, gateway_req_t *req, const char *agent, size_t len)
{
    if (check_id (req, "agent id", agent, len) || gateway_read_json (t, req))
        return;
    hsn_mp_obj_t ids;
    if (gateway_mp_member (t->mp.data, t->mp.size, "ids", &ids) || ids.type != HSN_MP_ARRAY
        || ids.v.c.count == 0 || ids.v.c.count > MAX_IDS) {
        gateway_reply_error (req, 400, "bad_request",
                             "the body must be {\"ids\": [...]} with 1 to 1000 message ids");
        return;
    }
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, &ids);
    for (uint32_t i = 0; i < ids.v.c.count; i++) {
        hsn_mp_obj_t id;
        if (hsn_mp_get (&r, &id, 1) || id.type != HSN_MP_STR || id.v.s.len == 0
            || id.v.s.len > 64) {
            gateway_reply_error (req, 400, "bad_request", "ids must be message id strings");
            return;
        }
    }
    uint64_t rid = gateway_begin (t, HSN_OP_AGENT_ACK, 2);
    hsn_enc_str (&t->enc, HSN_FIELD_AGENT, agent, len);
    hsn_enc_raw (&t->enc, HSN_FIELD_IDS, ids.raw, ids.raw_len);
    call_and_reply (t, req, rid);
}

/*  list (agent NULL) or dead-letters, with ?max=. */
static void
listing (gw_thread_t *t, gateway_req_t *req, uint32_t op, const char *agent, size_t len,
         uint64_t def_max)
{
    uint64_t max;
    if ((agent && check_id (req, "agent id", agent, len))
        || query_range (req, "max", 1, op == HSN_OP_AGENT_LIST ? 10000 : MAX_MAX, def_max, &max))
        return;
    uint64_t rid = gateway_begin (t, op, 1 + (agent != NULL));
    if (agent)
        hsn_enc_str (&t->enc, HSN_FIELD_AGENT, agent, len);
    hsn_enc_uint (&t->enc, HSN_FIELD_MAX, max);
    call_and_reply (t, req, rid);
}

void
gateway_agents_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                       const gateway_params_t *p)
{
    switch (handler) {
        case H_AGENT_SEND:
            send_message (t, req, HSN_OP_AGENT_SEND, HSN_FIELD_AGENT, p->ptr[0], p->len[0]);
            break;
        case H_TOPIC_PUBLISH:
            send_message (t, req, HSN_OP_AGENT_PUBLISH, HSN_FIELD_TOPIC, p->ptr[0], p->len[0]);
            break;
        case H_AGENT_BROADCAST:
            send_message (t, req, HSN_OP_AGENT_BROADCAST, 0, NULL, 0);
            break;
        case H_TOPIC_SUBSCRIBE:   subscription (t, req, HSN_OP_AGENT_SUBSCRIBE, p); break;
        case H_TOPIC_UNSUBSCRIBE: subscription (t, req, HSN_OP_AGENT_UNSUBSCRIBE, p); break;
        case H_AGENT_RECEIVE:     receive (t, req, p->ptr[0], p->len[0]); break;
        case H_AGENT_STREAM:      stream (t, req, p->ptr[0], p->len[0]); break;
        case H_AGENT_ACK:         ack (t, req, p->ptr[0], p->len[0]); break;
        case H_AGENT_LIST:        listing (t, req, HSN_OP_AGENT_LIST, NULL, 0, 1000); break;
        case H_AGENT_DEAD_LETTERS:
            listing (t, req, HSN_OP_AGENT_DEAD_LETTERS, p->ptr[0], p->len[0], DEFAULT_MAX);
            break;
        default:
            gateway_reply_error (req, 404, "not_found", "no such route");
    }
}
