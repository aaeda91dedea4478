/*  query_exec: requests -- binding members when they arrive, starting them
 *  (at most max_concurrent at once per request), answering when all are
 *  done. See query_service.h for the behaviour; flights in query_flight.c. */
#include "query_service_int.h"
#include "query_sqlscan.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ----------------------------------------------------------- */

static void
pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static void
request_free (request_t *r)
{
    query_service_t *svc = r->svc;
    if (r->prev)
        r->prev->nextreq = r->nextreq;
    else
        svc->live_requests = r->nextreq;
    if (r->nextreq)
        r->nextreq->prev = r->prev;
    for (uint32_t i = 0; i < r->n; i++) {
        query_bind_release (&r->members[i].bind);
        free (r->members[i].sql);
        free (r->members[i].out.rows);
    }
    query_gen_unref (&r->gen);
    free (r);
}

static void
pack_bool (msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

/*  Every member is done: encode and send the reply. */
static void
request_answer (request_t *r)
{
    query_service_t *svc = r->svc;
    hsn_enc_t *enc = &svc->enc;
    msgpack_packer *pk = &enc->pk;
    if (r->op != HSN_OP_QUERY_BATCH) {
        outcome_t *o = &r->members[0].out;
        bool ttl = r->members[0].def && r->members[0].def->cache_s;
        if (o->status == HSN_STATUS_OK) {
            hsn_enc_begin (enc, HSN_KIND_REPLY, r->rid, r->service, r->op, HSN_STATUS_OK,
                           ttl ? 4 : 3);
            hsn_enc_raw (enc, HSN_FIELD_ROWS, o->rows, o->rows_len);
            hsn_enc_uint (enc, HSN_FIELD_COUNT, o->count);
            hsn_enc_key (enc, HSN_FIELD_CACHED);
            pack_bool (pk, o->cached);
            if (ttl)
                hsn_enc_uint (enc, HSN_FIELD_TTL, o->ttl);
        }
        else {
            hsn_enc_begin (enc, HSN_KIND_REPLY, r->rid, r->service, r->op, o->status,
                           o->sqlstate[0] ? 2 : 1);
            hsn_enc_cstr (enc, HSN_FIELD_MESSAGE, o->message);
            if (o->sqlstate[0])
                hsn_enc_cstr (enc, HSN_FIELD_SQLSTATE, o->sqlstate);
        }
    }
    else if (r->too_large) {
        char msg[96];
        snprintf (msg, sizeof msg, "batch results together over the %d byte limit",
                  QUERY_ROWS_MAX);
        hsn_enc_begin (enc, HSN_KIND_REPLY, r->rid, r->service, r->op, HSN_STATUS_TOO_LARGE, 1);
        hsn_enc_cstr (enc, HSN_FIELD_MESSAGE, msg);
    }
    else {
        hsn_enc_begin (enc, HSN_KIND_REPLY, r->rid, r->service, r->op, HSN_STATUS_OK, 1);
        hsn_enc_key (enc, HSN_FIELD_RESULT);
        msgpack_pack_array (pk, r->n);
        for (uint32_t i = 0; i < r->n; i++) {
            outcome_t *o = &r->members[i].out;
            bool ok = o->status == HSN_STATUS_OK;
            bool ttl = ok && r->members[i].def && r->members[i].def->cache_s;
            msgpack_pack_map (pk, ok ? 5 + ttl : 3 + (o->sqlstate[0] != 0));
            pack_cstr (pk, "status");
            msgpack_pack_uint32 (pk, o->status);
            pack_cstr (pk, "code");
            pack_cstr (pk, hsn_status_name (o->status));
            if (ok) {
                pack_cstr (pk, "rows");
                msgpack_sbuffer_write (&enc->buf, (const char *) o->rows, o->rows_len);
                pack_cstr (pk, "count");
                msgpack_pack_uint64 (pk, o->count);
                pack_cstr (pk, "cached");
                pack_bool (pk, o->cached);
                if (ttl) {
                    pack_cstr (pk, "ttl");
                    msgpack_pack_uint32 (pk, o->ttl);
                }
            }
            else {
                pack_cstr (pk, "message");
                pack_cstr (pk, o->message);
                if (o->sqlstate[0]) {
                    pack_cstr (pk, "sqlstate");
                    pack_cstr (pk, o->sqlstate);
                }
            }
        }
    }
    query_reply (svc, r->worker, &r->route, r->rid, r->service, r->op);
}

/*  Start members while fewer than max_concurrent run; answer when all are
 *  done. Re-entered from query_member_done (a member can finish inside its own
 *  start): the outermost call does the work. */
static void
request_pump (request_t *r)
{
    if (r->pumping)
        return;
    r->pumping = true;
    while (r->next < r->n && r->running < r->svc->cfg.max_concurrent) {
        member_t *m = &r->members[r->next++];
        if (m->done)
            continue;
        r->running++;
        query_member_start (m);
    }
    r->pumping = false;
    if (r->ndone == r->n) {
        request_answer (r);
        request_free (r);
    }
}

/*  A batch's members' rows count against QUERY_ROWS_MAX together: past it
 *  the batch fails as a whole, so no more rows are held for it. */
static void
batch_account (request_t *r, member_t *m)
{
    if (r->op != HSN_OP_QUERY_BATCH || m->out.status != HSN_STATUS_OK)
        return;
    r->rows_bytes += m->out.rows_len;
    if (!r->too_large && r->rows_bytes > QUERY_ROWS_MAX) {
        r->too_large = true;
        for (uint32_t i = 0; i < r->n; i++) {
            free (r->members[i].out.rows);
            r->members[i].out.rows = NULL;
        }
    }
    if (r->too_large) {
        free (m->out.rows);
        m->out.rows = NULL;
    }
}

void
query_member_done (member_t *m)
{
    request_t *r = m->req;
    batch_account (r, m);
    m->done = true;
    r->ndone++;
    r->running--;
    request_pump (r);
}

static request_t *
request_new (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
             const hsn_env_t *req, uint32_t n)
{
    request_t *r = (request_t *) calloc (1, sizeof *r + n * sizeof (member_t));
    if (!r)
        return NULL;
    r->svc = self;
    r->worker = worker;
    r->route = *route;
    r->rid = req->rid;
    r->service = req->service;
    r->op = req->op;
    r->gen = self->gen;
    r->gen->refs++;
    r->n = n;
    uint64_t deadline = self->cfg.wait_ms;
    if (hsn_env_uint (req, HSN_FIELD_DEADLINE, &deadline) == 0 && deadline > self->cfg.wait_ms)
        deadline = self->cfg.wait_ms;
    r->deadline_ms = hsn_now_ms () + (int64_t) deadline;
    for (uint32_t i = 0; i < n; i++)
        r->members[i].req = r;
    request_t *head = (request_t *) self->live_requests;
    r->nextreq = head;
    if (head)
        head->prev = r;
    self->live_requests = r;
    return r;
}

/*  Resolve and bind member m (name[0..len), params may be NULL) now, while
 *  the request frame is valid. A failure marks it done with its outcome. */
static void
member_bind (member_t *m, const char *name, size_t len, const hsn_mp_obj_t *params,
             bool readonly)
{
    request_t *r = m->req;
    m->def = query_catalog_find (r->gen->cat, name, len, &m->index);
    int rc = 0;
    if (!m->def) {
        query_outcome_fail (&m->out, HSN_STATUS_NOT_FOUND, "no query named '%.*s'",
                      (int) (len > 64 ? 64 : len), name);
        rc = -1;
    }
    else if (readonly && m->def->writes) {
        query_outcome_fail (&m->out, HSN_STATUS_BAD_REQUEST, "query %s writes; use POST",
                      m->def->name);
        rc = -1;
    }
    else if (query_bind (&m->bind, m->def, params, m->out.message, sizeof m->out.message)) {
        m->out.status = HSN_STATUS_BAD_REQUEST;
        rc = -1;
    }
    if (rc) {
        m->done = true;
        r->ndone++;
    }
}

static bool
readonly_of (const hsn_env_t *req)
{
    return hsn_env_has (req, HSN_FIELD_READONLY) && req->fields[HSN_FIELD_READONLY].v.b;
}

void
query_exec_run (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                const hsn_env_t *req)
{
    const char *name;
    size_t len;
    if (hsn_env_str (req, HSN_FIELD_NAME, &name, &len)) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_BAD_REQUEST,
                                "query.run needs a 'name'");
        return;
    }
    request_t *r = request_new (self, worker, route, req, 1);
    if (!r) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    const hsn_mp_obj_t *params = hsn_env_has (req, HSN_FIELD_PARAMS)
                                 ? &req->fields[HSN_FIELD_PARAMS] : NULL;
    member_bind (&r->members[0], name, len, params, readonly_of (req));
    request_pump (r);
}

/*  One member of a batch: {"name": STR, "params"?: MAP}. */
static void
batch_member (member_t *m, const hsn_mp_obj_t *o, bool readonly)
{
    request_t *r = m->req;
    const char *why = NULL;
    hsn_mp_obj_t name = { 0 }, params = { 0 };
    bool have_name = false, have_params = false;
    if (o->type != HSN_MP_MAP)
        why = "a batch member must be a map {\"name\", \"params\"}";
    hsn_mp_reader_t rd;
    if (!why)
        hsn_mp_reader_of (&rd, o);
    for (uint32_t i = 0; !why && i < o->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&rd, &k, HSN_MP_DEPTH_LIMIT) || hsn_mp_get (&rd, &v, HSN_MP_DEPTH_LIMIT))
            why = "malformed batch member";
        else if (hsn_mp_str_eq (&k, "name") && v.type == HSN_MP_STR) {
            name = v;
            have_name = true;
        }
        else if (hsn_mp_str_eq (&k, "params")) {
            params = v;
            have_params = true;
        }
        else
            why = "a batch member has only \"name\" (str) and \"params\" (map)";
    }
    if (!why && !have_name)
        why = "a batch member needs a \"name\"";
    if (why) {
        query_outcome_fail (&m->out, HSN_STATUS_BAD_REQUEST, "%s", why);
        m->done = true;
        r->ndone++;
        return;
    }
    member_bind (m, name.v.s.ptr, name.v.s.len, have_params ? &params : NULL, readonly);
}

void
query_exec_batch (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                  const hsn_env_t *req)
{
    const hsn_mp_obj_t *batch = &req->fields[HSN_FIELD_BATCH];
    if (!hsn_env_has (req, HSN_FIELD_BATCH) || batch->v.c.count == 0
        || batch->v.c.count > QUERY_BATCH_MAX) {
        char msg[96];
        snprintf (msg, sizeof msg, "query.batch needs a 'batch' of 1..%d members",
                  QUERY_BATCH_MAX);
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_BAD_REQUEST, msg);
        return;
    }
    request_t *r = request_new (self, worker, route, req, batch->v.c.count);
    if (!r) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    bool readonly = readonly_of (req);
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, batch);
    for (uint32_t i = 0; i < r->n; i++) {
        hsn_mp_obj_t o;
        if (hsn_mp_get (&rd, &o, HSN_MP_DEPTH_LIMIT))
            o.type = HSN_MP_NIL;            /* validated by the decoder: unreachable */
        batch_member (&r->members[i], &o, readonly);
    }
    request_pump (r);
}

void
query_exec_sql (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                const hsn_env_t *req)
{
    const char *sql;
    size_t len;
    char msg[128];
    hsn_status_t st = HSN_STATUS_OK;
    if (!self->cfg.allow_adhoc) {
        st = HSN_STATUS_FORBIDDEN;
        snprintf (msg, sizeof msg, "ad-hoc SQL is disabled (QUERY_ALLOW_ADHOC=false)");
    }
    else if (hsn_env_str (req, HSN_FIELD_SQL, &sql, &len) || len == 0) {
        st = HSN_STATUS_BAD_REQUEST;
        snprintf (msg, sizeof msg, "query.sql needs a non-empty 'sql'");
    }
    else if (len > QUERY_SQL_MAX) {
        st = HSN_STATUS_TOO_LARGE;
        snprintf (msg, sizeof msg, "'sql' is %zu bytes, over the %d byte limit", len,
                  QUERY_SQL_MAX);
    }
    else if (memchr (sql, 0, len)) {
        st = HSN_STATUS_BAD_REQUEST;
        snprintf (msg, sizeof msg, "NUL byte in 'sql'");
    }
    if (st != HSN_STATUS_OK) {
        hsn_worker_reply_error (worker, route, req, st, msg);
        return;
    }
    char *text = strndup (sql, len);
    if (text && query_sql_multiple (text)) {
        free (text);
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_BAD_REQUEST,
                                "'sql' must be one statement");
        return;
    }
    /*  The pooled connections hold the catalog's prepared statements, and
     *  PREPARE / DEALLOCATE pass a read-only transaction and outlive its
     *  ROLLBACK: only reads get as far as PostgreSQL. */
    if (text && !query_sql_is_adhoc_read (text)) {
        free (text);
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_FORBIDDEN,
                                "ad-hoc SQL may only read: one SELECT, WITH ... SELECT, VALUES, "
                                "TABLE or SHOW statement");
        return;
    }
    request_t *r = text ? request_new (self, worker, route, req, 1) : NULL;
    if (!r) {
        free (text);
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    r->members[0].sql = text;
    request_pump (r);
}

void
query_exec_abandon (query_service_t *self)
{
    while (self->live_flights)
        query_flight_free ((flight_t *) self->live_flights);
    while (self->live_requests)
        request_free ((request_t *) self->live_requests);
}
