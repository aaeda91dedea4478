/*  gateway_query: the /api/queries routes.
 *
 *    GET  /api/queries                  the named queries
 *    POST /api/queries/{name}           {"params": {...}}: run (read or write)
 *    GET  /api/queries/{name}?a=1&b=x   run read-only, params from the query
 *                                       string (gateway_query_get.c)
 *    POST /api/queries/_batch           {"queries": [{"name","params"}, ...]}
 *    POST /api/queries/_sql             {"sql": "..."} (QUERY_ALLOW_ADHOC)
 *
 *  A run answers data {"rows": [...], "count": n} and meta "cached". A GET
 *  of a cacheable result (the reply carries its TTL) gets Cache-Control
 *  max-age, a strong ETag (304 on If-None-Match) and a place in the
 *  near-cache, under "q\x1f<name>\x1f<params sorted by name>". Coherence:
 *  a writing query drops its tags through the cache service, whose tag
 *  invalidation flushes every near-cache; a POST run that is not a
 *  cacheable read also drops this gateway's query results at once, so the
 *  writer's next read here never sees the old result.
 */
#include "gateway_query.h"

#include <stdio.h>
#include <string.h>

/*  After a run through this gateway that may have written: its next read
 *  here must not be an older result (the tag invalidation also comes, a
 *  moment later, through the channel). */
static void
near_drop_queries (gw_thread_t *t)
{
    if (t->cfg->near)
        gateway_near_del_prefix (t->cfg->near, GATEWAY_QUERY_NEAR_PREFIX,
                                 GATEWAY_QUERY_NEAR_PREFIX_LEN);
}

/*  Send what is in t->enc; answer the run reply as {"rows","count"}.
 *  drop: forget this gateway's query results after an uncacheable run. */
static void
call_and_answer_rows (gw_thread_t *t, gateway_req_t *req, uint64_t rid, bool drop)
{
    bool cached;
    uint64_t ttl;
    if (gateway_query_run_call (t, req, rid, &cached, &ttl))
        return;
    if (drop && ttl == 0)
        near_drop_queries (t);
    char etag[40];
    gateway_query_data_etag (&t->json, etag);
    gateway_query_reply_ok (req, t->json.data, t->json.len, cached, etag);
}

/* ---- GET /api/queries ---------------------------------------------------- */

static void
list (gw_thread_t *t, gateway_req_t *req)
{
    uint64_t rid = gateway_begin (t, HSN_OP_QUERY_LIST, 0);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call_any (t, req, rid, &msg, &env))
        return;
    if (env.status != HSN_STATUS_OK) {
        gateway_query_reply_status (req, &env);
        zmq_msg_close (&msg);
        return;
    }
    gateway_json_buf_t *d = &t->json;
    gateway_json_buf_reset (d);
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    int rc = hsn_env_has (&env, HSN_FIELD_RESULT) && res->type == HSN_MP_ARRAY
             && gateway_json_buf_append (d, "{\"queries\":", 11) == 0
             && gateway_json_from_mp (res->raw, res->raw_len, HSN_PROTO_MAX_DEPTH, d) == 0
             && gateway_json_buf_append (d, "}", 1) == 0 ? 0 : -1;
    zmq_msg_close (&msg);
    if (rc)
        gateway_query_malformed (req);
    else
        gateway_reply_ok (req, 200, d->data, d->len);
}

/* ---- POST /api/queries/{name} -------------------------------------------- */

/*  The body {"params": {...}} (params may be absent or null). Returns 0
 *  with *has set (and *params when true), or -1 after a 400. */
static int
body_params (gw_thread_t *t, gateway_req_t *req, hsn_mp_obj_t *params, bool *has)
{
    *has = false;
    hsn_mp_reader_t r;
    hsn_mp_obj_t map;
    hsn_mp_reader_init (&r, t->mp.data, t->mp.size);
    if (hsn_mp_get (&r, &map, HSN_PROTO_MAX_DEPTH) || map.type != HSN_MP_MAP) {
        gateway_query_bad_request (req, "the body must be {\"params\": {...}}");
        return -1;
    }
    hsn_mp_reader_t mr;
    hsn_mp_reader_of (&mr, &map);
    for (uint32_t i = 0; i < map.v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&mr, &k, 1) || hsn_mp_get (&mr, &v, HSN_PROTO_MAX_DEPTH)
            || !hsn_mp_str_eq (&k, "params")) {
            gateway_query_bad_request (req,
                                       "the body must be {\"params\": {...}}: no other member");
            return -1;
        }
        if (v.type == HSN_MP_MAP) {
            *params = v;
            *has = true;
        }
        else if (v.type != HSN_MP_NIL) {
            gateway_query_bad_request (req, "params must be an object: parameter name -> value");
            return -1;
        }
    }
    return 0;
}

static void
run_post (gw_thread_t *t, gateway_req_t *req, const char *name, size_t nlen)
{
    const struct mg_request_info *ri = mg_get_request_info (req->conn);
    hsn_mp_obj_t params;
    bool has = false;
    /*  A query without parameters may be run with no body at all. */
    if (ri->content_length != 0
        && (gateway_read_json (t, req) || body_params (t, req, &params, &has)))
        return;
    uint64_t rid = gateway_begin (t, HSN_OP_QUERY_RUN, has ? 2 : 1);
    hsn_enc_str (&t->enc, HSN_FIELD_NAME, name, nlen);
    if (has)
        hsn_enc_raw (&t->enc, HSN_FIELD_PARAMS, params.raw, params.raw_len);
    call_and_answer_rows (t, req, rid, true);
}

/* ---- POST /api/queries/_batch -------------------------------------------- */

/*  One member of the service's batch result as {"rows","count","cached"}
 *  or {"error":{...}}. *uncacheable_ok: an OK member without a TTL (it may
 *  have written). Returns 0 or -1 (unreadable). */
static int
render_member (const hsn_mp_obj_t *m, gateway_json_buf_t *d, bool *uncacheable_ok)
{
    if (m->type != HSN_MP_MAP)
        return -1;
    hsn_mp_obj_t status = { 0 }, code = { 0 }, rows = { 0 }, count = { 0 }, cached = { 0 },
                 message = { 0 }, sqlstate = { 0 }, ttl = { 0 };
    hsn_mp_map_get (m, "status", &status);
    hsn_mp_map_get (m, "code", &code);
    hsn_mp_map_get (m, "rows", &rows);
    hsn_mp_map_get (m, "count", &count);
    hsn_mp_map_get (m, "cached", &cached);
    hsn_mp_map_get (m, "message", &message);
    hsn_mp_map_get (m, "sqlstate", &sqlstate);
    hsn_mp_map_get (m, "ttl", &ttl);
    if (status.type != HSN_MP_UINT)
        return -1;
    char num[64];
    if (status.v.u == HSN_STATUS_OK || status.v.u == HSN_STATUS_CREATED) {
        if (rows.type != HSN_MP_ARRAY || count.type != HSN_MP_UINT)
            return -1;
        if (ttl.type != HSN_MP_UINT || ttl.v.u == 0)
            *uncacheable_ok = true;
        int n = snprintf (num, sizeof num, ",\"count\":%llu,\"cached\":%s}",
                          (unsigned long long) count.v.u,
                          cached.type == HSN_MP_BOOL && cached.v.b ? "true" : "false");
        return gateway_json_buf_append (d, "{\"rows\":", 8)
               || gateway_json_from_mp (rows.raw, rows.raw_len, HSN_PROTO_MAX_DEPTH, d)
               || gateway_json_buf_append (d, num, (size_t) n) ? -1 : 0;
    }
    const char *name = hsn_status_name ((uint32_t) status.v.u);
    const char *c = code.type == HSN_MP_STR ? code.v.s.ptr : name ? name : "internal";
    size_t clen = code.type == HSN_MP_STR ? code.v.s.len : strlen (c);
    const char *msg = message.type == HSN_MP_STR ? message.v.s.ptr : "failed";
    size_t mlen = message.type == HSN_MP_STR ? message.v.s.len : strlen (msg);
    gateway_json_buf_append (d, "{\"error\":{\"code\":", 17);
    gateway_json_append_str (d, c, clen);
    gateway_json_buf_append (d, ",\"message\":", 11);
    gateway_json_append_str (d, msg, mlen);
    if (sqlstate.type == HSN_MP_STR) {
        gateway_json_buf_append (d, ",\"sqlstate\":", 12);
        gateway_json_append_str (d, sqlstate.v.s.ptr, sqlstate.v.s.len);
    }
    return gateway_json_buf_append (d, "}}", 2) ? -1 : 0;
}

static void
batch (gw_thread_t *t, gateway_req_t *req)
{
    hsn_mp_obj_t queries;
    if (gateway_read_json (t, req))
        return;
    if (gateway_mp_member (t->mp.data, t->mp.size, "queries", &queries)
        || queries.type != HSN_MP_ARRAY || queries.v.c.count == 0
        || queries.v.c.count > GATEWAY_QUERY_BATCH_MAX) {
        gateway_query_bad_request (req, "the body must be {\"queries\": [{\"name\": ..., "
                                        "\"params\": {...}}, ...]} with 1 to 100 members");
        return;
    }
    uint32_t n = queries.v.c.count;
    uint64_t rid = gateway_begin (t, HSN_OP_QUERY_BATCH, 1);
    hsn_enc_raw (&t->enc, HSN_FIELD_BATCH, queries.raw, queries.raw_len);
    zmq_msg_t msg;
    hsn_env_t env;
    if (gateway_call_any (t, req, rid, &msg, &env))
        return;
    if (env.status != HSN_STATUS_OK) {
        gateway_query_reply_status (req, &env);
        zmq_msg_close (&msg);
        return;
    }
    const hsn_mp_obj_t *res = &env.fields[HSN_FIELD_RESULT];
    bool ok = hsn_env_has (&env, HSN_FIELD_RESULT) && res->type == HSN_MP_ARRAY
              && res->v.c.count == n;
    bool uncacheable = false;
    gateway_json_buf_t *d = &t->json;
    gateway_json_buf_reset (d);
    gateway_json_buf_append (d, "{\"results\":[", 12);
    hsn_mp_reader_t r;
    if (ok)
        hsn_mp_reader_of (&r, res);
    for (uint32_t i = 0; ok && i < n; i++) {
        hsn_mp_obj_t m;
        ok = (i == 0 || gateway_json_buf_append (d, ",", 1) == 0)
             && hsn_mp_get (&r, &m, HSN_PROTO_MAX_DEPTH) == 0
             && render_member (&m, d, &uncacheable) == 0;
    }
    zmq_msg_close (&msg);
    if (!ok || gateway_json_buf_append (d, "]}", 2)) {
        gateway_query_malformed (req);
        return;
    }
    if (uncacheable)
        near_drop_queries (t);
    char etag[40];
    gateway_query_data_etag (d, etag);
    gateway_query_reply_ok (req, d->data, d->len, -1, etag);
}

/* ---- POST /api/queries/_sql ---------------------------------------------- */

static void
sql (gw_thread_t *t, gateway_req_t *req)
{
    hsn_mp_obj_t text;
    if (gateway_read_json (t, req))
        return;
    if (gateway_mp_member (t->mp.data, t->mp.size, "sql", &text) || text.type != HSN_MP_STR
        || text.v.s.len == 0) {
        gateway_query_bad_request (req, "the body must be {\"sql\": \"...\"}");
        return;
    }
    uint64_t rid = gateway_begin (t, HSN_OP_QUERY_SQL, 1);
    hsn_enc_str (&t->enc, HSN_FIELD_SQL, text.v.s.ptr, text.v.s.len);
    /*  Ad-hoc SQL runs READ ONLY: it never makes a cached result stale. */
    call_and_answer_rows (t, req, rid, false);
}

void
gateway_query_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                      const gateway_params_t *p)
{
    switch (handler) {
        case H_QUERY_LIST:  list (t, req); break;
        case H_QUERY_BATCH: batch (t, req); break;
        case H_QUERY_SQL:   sql (t, req); break;
        case H_QUERY_RUN:   run_post (t, req, p->ptr[0], p->len[0]); break;
        case H_QUERY_GET:   gateway_query_get (t, req, p->ptr[0], p->len[0]); break;
        default:            gateway_reply_error (req, 404, "not_found", "no such route");
    }
}
