/*  query_service: list, run, batch. See query_service.h. */
#include "query_service.h"
#include "query_pool.h"
#include "query_types.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_classes[] = { "08", "22", "23", "40", "42", "53", "57", "XX",
                                             "other", "conn" };
#define NCLASSES (sizeof error_classes / sizeof error_classes[0])

struct query_service {
    query_catalog_t *cat;
    query_pool_t *pool;
    hsn_enc_t enc;
    hsn_hist_t **latency;               /* per catalog query, or NULL */
    hsn_hist_t *wait_us;
    uint64_t *errors[NCLASSES];
    uint64_t *runs;
    int64_t *connected;
};

/*  What running one query came to. */
typedef struct {
    hsn_status_t status;
    PGresult *res;                      /* OK: the result */
    char sqlstate[6];                   /* "" when none */
    char message[512];
} outcome_t;

static uint64_t dummy_counter;
static int64_t dummy_gauge;

hsn_status_t
query_status_of_sqlstate (const char *s)
{
    if (!s || strlen (s) != 5)
        return HSN_STATUS_UNAVAILABLE;
    if (strcmp (s, "57014") == 0)
        return HSN_STATUS_TIMEOUT;
    if (strncmp (s, "23", 2) == 0 || strncmp (s, "40", 2) == 0)
        return HSN_STATUS_CONFLICT;
    if (strncmp (s, "22", 2) == 0)
        return HSN_STATUS_BAD_REQUEST;
    if (strncmp (s, "08", 2) == 0 || strncmp (s, "53", 2) == 0 || strcmp (s, "57P01") == 0
        || strcmp (s, "57P02") == 0 || strcmp (s, "57P03") == 0)
        return HSN_STATUS_UNAVAILABLE;
    return HSN_STATUS_INTERNAL;
}

query_service_t *
query_service_new (const query_service_config_t *cfg, query_catalog_t *catalog, char *err,
                   size_t errlen)
{
    query_service_t *self = (query_service_t *) calloc (1, sizeof *self);
    if (!self) {
        query_catalog_destroy (&catalog);
        return NULL;
    }
    self->cat = catalog;
    size_t n = query_catalog_size (catalog);
    self->latency = (hsn_hist_t **) calloc (n ? n : 1, sizeof *self->latency);
    hsn_metrics_t *m = cfg->metrics;
    for (size_t i = 0; m && i < NCLASSES; i++) {
        char name[64];
        snprintf (name, sizeof name, "query.errors.%s", error_classes[i]);
        self->errors[i] = hsn_metrics_counter (m, name);
    }
    for (size_t i = 0; i < NCLASSES; i++)
        if (!self->errors[i])
            self->errors[i] = &dummy_counter;
    if (m) {
        hsn_hist_t *other = NULL;
        for (size_t i = 0; i < n; i++) {
            char name[HSN_METRIC_NAME_MAX + 1];
            if (i < QUERY_METRICS_MAX) {
                snprintf (name, sizeof name, "query.%s.latency_us",
                          query_catalog_at (catalog, i)->name);
                self->latency[i] = hsn_metrics_hist (m, name);
            }
            else {
                if (!other)
                    other = hsn_metrics_hist (m, "query._other.latency_us");
                self->latency[i] = other;
            }
        }
        self->wait_us = hsn_metrics_hist (m, "query.pool.wait_us");
        self->runs = hsn_metrics_counter (m, "query.runs");
        self->connected = hsn_metrics_gauge (m, "query.pool.connected");
    }
    else {
        self->runs = &dummy_counter;
        self->connected = &dummy_gauge;
    }
    hsn_enc_init (&self->enc);
    query_pool_config_t pcfg = { cfg->database_url, cfg->pool_size, cfg->statement_timeout_ms };
    self->pool = query_pool_new (&pcfg, catalog, err, errlen);
    if (!self->pool || !self->latency) {
        query_service_destroy (&self);
        return NULL;
    }
    hsn_gauge_set (self->connected, query_pool_connected (self->pool));
    return self;
}

void
query_service_destroy (query_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_service_t *self = *self_p;
    query_pool_destroy (&self->pool);
    query_catalog_destroy (&self->cat);
    hsn_enc_release (&self->enc);
    free (self->latency);
    free (self);
    *self_p = NULL;
}

void
query_service_check (query_service_t *self)
{
    query_pool_check (self->pool);
    hsn_gauge_set (self->connected, query_pool_connected (self->pool));
}

bool
query_service_db_up (const query_service_t *self)
{
    return query_pool_connected (self->pool) > 0;
}

static void
count_error (query_service_t *self, const char *sqlstate)
{
    size_t i = NCLASSES - 1;                    /* "conn" */
    if (sqlstate && *sqlstate) {
        for (i = 0; i < NCLASSES - 2; i++)
            if (strncmp (sqlstate, error_classes[i], 2) == 0)
                break;
    }
    hsn_counter_add (self->errors[i], 1);
}

/*  Run the query named name[0..len) with params (a MAP, or NULL). */
static void
execute (query_service_t *self, const char *name, size_t len, const hsn_mp_obj_t *params,
         outcome_t *out)
{
    memset (out, 0, sizeof *out);
    size_t index;
    const query_def_t *def = query_catalog_find (self->cat, name, len, &index);
    if (!def) {
        out->status = HSN_STATUS_NOT_FOUND;
        snprintf (out->message, sizeof out->message, "no query named '%.*s'",
                  (int) (len > 64 ? 64 : len), name);
        return;
    }
    query_bind_t b;
    if (query_bind (&b, def, params, out->message, sizeof out->message)) {
        query_bind_release (&b);
        out->status = HSN_STATUS_BAD_REQUEST;
        return;
    }
    hsn_counter_add (self->runs, 1);
    uint64_t t0 = (uint64_t) hsn_now_us (), wait = 0;
    PGresult *res = NULL;
    int rc = query_pool_exec (self->pool, index, (const char *const *) b.values, &res, &wait,
                              out->message, sizeof out->message);
    query_bind_release (&b);
    if (self->wait_us)
        hsn_hist_record (self->wait_us, wait);
    hsn_gauge_set (self->connected, query_pool_connected (self->pool));
    if (rc) {
        count_error (self, NULL);
        out->status = HSN_STATUS_UNAVAILABLE;
        return;
    }
    if (self->latency[index])
        hsn_hist_record (self->latency[index], (uint64_t) hsn_now_us () - t0);
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        out->status = HSN_STATUS_OK;
        out->res = res;
        return;
    }
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField (res, PG_DIAG_MESSAGE_DETAIL);
    if (state)
        snprintf (out->sqlstate, sizeof out->sqlstate, "%s", state);
    snprintf (out->message, sizeof out->message, "query '%s': %s%s%s", def->name,
              msg ? msg : PQresStatus (st), detail ? ": " : "", detail ? detail : "");
    out->status = query_status_of_sqlstate (state);
    count_error (self, state);
    PQclear (res);
}

static void
pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static void
reply (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
       const hsn_env_t *req)
{
    if (hsn_enc_size (&self->enc) > HSN_PROTO_MAX_FRAME) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_TOO_LARGE,
                                "result over the 4 MiB frame limit");
        return;
    }
    hsn_worker_reply_enc (worker, route, &self->enc);
}

static void
reply_list (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
            const hsn_env_t *req)
{
    hsn_enc_t *enc = &self->enc;
    msgpack_packer *pk = &enc->pk;
    size_t n = query_catalog_size (self->cat);
    hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op, HSN_STATUS_OK, 1);
    hsn_enc_key (enc, HSN_FIELD_RESULT);
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        const query_def_t *d = query_catalog_at (self->cat, i);
        msgpack_pack_map (pk, 4);
        pack_cstr (pk, "name");
        pack_cstr (pk, d->name);
        pack_cstr (pk, "params");
        msgpack_pack_array (pk, d->nparams);
        for (size_t p = 0; p < d->nparams; p++) {
            msgpack_pack_map (pk, 2);
            pack_cstr (pk, "name");
            pack_cstr (pk, d->params[p].name);
            pack_cstr (pk, "type");
            pack_cstr (pk, query_type_name (d->params[p].type));
        }
        pack_cstr (pk, "cache");
        msgpack_pack_uint32 (pk, d->cache_s);
        pack_cstr (pk, "invalidates");
        msgpack_pack_array (pk, d->ninvalidates);
        for (size_t t = 0; t < d->ninvalidates; t++)
            pack_cstr (pk, d->invalidates[t]);
    }
    reply (self, worker, route, req);
}

static void
reply_run (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
           const hsn_env_t *req)
{
    const char *name;
    size_t len;
    if (hsn_env_str (req, HSN_FIELD_NAME, &name, &len)) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_BAD_REQUEST,
                                "query.run needs a 'name'");
        return;
    }
    const hsn_mp_obj_t *params = hsn_env_has (req, HSN_FIELD_PARAMS)
                                 ? &req->fields[HSN_FIELD_PARAMS] : NULL;
    outcome_t out;
    execute (self, name, len, params, &out);
    hsn_enc_t *enc = &self->enc;
    if (out.status == HSN_STATUS_OK) {
        hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op, HSN_STATUS_OK, 2);
        hsn_enc_key (enc, HSN_FIELD_ROWS);
        query_types_pack_rows (&enc->pk, out.res);
        hsn_enc_uint (enc, HSN_FIELD_COUNT, query_types_count (out.res));
        PQclear (out.res);
    }
    else {
        hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op, out.status,
                       out.sqlstate[0] ? 2 : 1);
        hsn_enc_cstr (enc, HSN_FIELD_MESSAGE, out.message);
        if (out.sqlstate[0])
            hsn_enc_cstr (enc, HSN_FIELD_SQLSTATE, out.sqlstate);
    }
    reply (self, worker, route, req);
}

/*  One member of a batch: {"name": STR, "params"?: MAP}. */
static void
run_member (query_service_t *self, const hsn_mp_obj_t *m, outcome_t *out)
{
    memset (out, 0, sizeof *out);
    out->status = HSN_STATUS_BAD_REQUEST;
    if (m->type != HSN_MP_MAP) {
        snprintf (out->message, sizeof out->message,
                  "a batch member must be a map {\"name\", \"params\"}");
        return;
    }
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, m);
    hsn_mp_obj_t name = { 0 }, params = { 0 };
    bool have_name = false, have_params = false;
    for (uint32_t i = 0; i < m->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&r, &k, HSN_MP_DEPTH_LIMIT) || hsn_mp_get (&r, &v, HSN_MP_DEPTH_LIMIT)) {
            snprintf (out->message, sizeof out->message, "malformed batch member");
            return;
        }
        if (hsn_mp_str_eq (&k, "name") && v.type == HSN_MP_STR) {
            name = v;
            have_name = true;
        }
        else if (hsn_mp_str_eq (&k, "params")) {
            params = v;
            have_params = true;
        }
        else {
            snprintf (out->message, sizeof out->message,
                      "a batch member has only \"name\" (str) and \"params\" (map)");
            return;
        }
    }
    if (!have_name) {
        snprintf (out->message, sizeof out->message, "a batch member needs a \"name\"");
        return;
    }
    execute (self, name.v.s.ptr, name.v.s.len, have_params ? &params : NULL, out);
}

static void
reply_batch (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
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
    hsn_enc_t *enc = &self->enc;
    msgpack_packer *pk = &enc->pk;
    hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op, HSN_STATUS_OK, 1);
    hsn_enc_key (enc, HSN_FIELD_RESULT);
    msgpack_pack_array (pk, batch->v.c.count);
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, batch);
    for (uint32_t i = 0; i < batch->v.c.count; i++) {
        hsn_mp_obj_t m;
        outcome_t out;
        if (hsn_mp_get (&r, &m, HSN_MP_DEPTH_LIMIT))
            m.type = HSN_MP_NIL;            /* validated by the decoder: unreachable */
        run_member (self, &m, &out);
        bool ok = out.status == HSN_STATUS_OK;
        msgpack_pack_map (pk, ok || out.sqlstate[0] ? 4 : 3);
        pack_cstr (pk, "status");
        msgpack_pack_uint32 (pk, out.status);
        pack_cstr (pk, "code");
        pack_cstr (pk, hsn_status_name (out.status));
        if (ok) {
            pack_cstr (pk, "rows");
            query_types_pack_rows (pk, out.res);
            pack_cstr (pk, "count");
            msgpack_pack_uint64 (pk, query_types_count (out.res));
            PQclear (out.res);
        }
        else {
            pack_cstr (pk, "message");
            pack_cstr (pk, out.message);
            if (out.sqlstate[0]) {
                pack_cstr (pk, "sqlstate");
                pack_cstr (pk, out.sqlstate);
            }
        }
    }
    reply (self, worker, route, req);
}

void
query_service_handle (hsn_worker_t *worker, const hsn_route_t *route, const hsn_env_t *req,
                      void *arg)
{
    query_service_t *self = (query_service_t *) arg;
    switch (req->op) {
        case HSN_OP_QUERY_LIST:
            reply_list (self, worker, route, req);
            break;
        case HSN_OP_QUERY_RUN:
            reply_run (self, worker, route, req);
            break;
        case HSN_OP_QUERY_BATCH:
            reply_batch (self, worker, route, req);
            break;
        default:
            hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                    "the query service serves query.list, query.run and "
                                    "query.batch");
            break;
    }
}
