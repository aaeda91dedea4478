/*  query_service: set-up, catalog generations, list, dispatch. See
 *  query_service.h; execution is in query_exec.c. */
#include "query_service_int.h"
#include "hsn_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_classes[QUERY_NCLASSES] = {
    "08", "22", "23", "40", "42", "53", "57", "XX", "other", "conn"
};

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

void
query_count_error (query_service_t *self, const char *sqlstate)
{
    size_t i = QUERY_NCLASSES - 1;              /* "conn" */
    if (sqlstate && *sqlstate) {
        for (i = 0; i < QUERY_NCLASSES - 2; i++)
            if (strncmp (sqlstate, error_classes[i], 2) == 0)
                break;
    }
    hsn_counter_add (self->errors[i], 1);
}

void
query_update_gauges (query_service_t *self)
{
    hsn_gauge_set (self->connected, query_pool_connected (self->pool));
    hsn_gauge_set (self->in_use, query_pool_in_use (self->pool));
    hsn_gauge_set (self->queued, query_pool_queued (self->pool));
    uint64_t late = query_pool_late (self->pool);
    if (late != self->late_seen) {
        hsn_counter_add (self->late, late - self->late_seen);
        self->late_seen = late;
    }
}

void
query_gen_unref (query_gen_t **gen_p)
{
    query_gen_t *g = *gen_p;
    *gen_p = NULL;
    if (!g || --g->refs > 0)
        return;
    query_catalog_destroy (&g->cat);
    free (g->latency);
    free (g);
}

/*  The latency histogram of query name: its own while fewer than
 *  QUERY_METRICS_MAX names were registered (reloads add names), else the
 *  shared one -- the registry has a fixed size. */
static hsn_hist_t *
latency_hist (query_service_t *self, const char *name)
{
    hsn_metrics_t *m = self->cfg.metrics;
    if (!m)
        return NULL;
    char metric[HSN_METRIC_NAME_MAX + 1];
    snprintf (metric, sizeof metric, "query.%s.latency_us", name);
    if (self->metric_names >= QUERY_METRICS_MAX)
        return hsn_metrics_hist (m, "query._other.latency_us");
    size_t before = hsn_metrics_count (m);
    hsn_hist_t *h = hsn_metrics_hist (m, metric);
    if (hsn_metrics_count (m) > before)
        self->metric_names++;
    return h;
}

int
query_service_install (query_service_t *self, query_catalog_t *catalog)
{
    query_gen_t *g = (query_gen_t *) calloc (1, sizeof *g);
    size_t n = query_catalog_size (catalog);
    if (g)
        g->latency = (hsn_hist_t **) calloc (n ? n : 1, sizeof *g->latency);
    if (!g || !g->latency) {
        free (g);
        query_catalog_destroy (&catalog);
        return -ENOMEM;
    }
    g->cat = catalog;
    g->refs = 1;
    g->generation = ++self->next_generation;
    for (size_t i = 0; i < n; i++)
        g->latency[i] = latency_hist (self, query_catalog_at (catalog, i)->name);
    query_gen_unref (&self->gen);
    self->gen = g;
    return 0;
}

int
query_service_reload (query_service_t *self, char *err, size_t errlen)
{
    if (!self->queries_file) {
        snprintf (err, errlen, "no QUERIES_FILE to reload");
        return -EINVAL;
    }
    query_catalog_t *cat = query_catalog_load (self->queries_file, err, errlen);
    if (!cat)
        return -EINVAL;
    size_t n = query_catalog_size (cat);
    if (query_service_install (self, cat)) {
        snprintf (err, errlen, "out of memory");
        return -ENOMEM;
    }
    hsn_log (HSN_LOG_INFO, "reloaded", "%zu queries from %s (generation %u)", n,
             self->queries_file, self->gen->generation);
    return 0;
}

static uint64_t *
counter (query_service_t *self, const char *name)
{
    uint64_t *c = self->cfg.metrics ? hsn_metrics_counter (self->cfg.metrics, name) : NULL;
    return c ? c : &dummy_counter;
}

static int64_t *
gauge (query_service_t *self, const char *name)
{
    int64_t *g = self->cfg.metrics ? hsn_metrics_gauge (self->cfg.metrics, name) : NULL;
    return g ? g : &dummy_gauge;
}

query_service_t *
query_service_new (const query_service_config_t *cfg, query_catalog_t *catalog, char *err,
                   size_t errlen)
{
    query_service_t *self = (query_service_t *) calloc (1, sizeof *self);
    if (!self) {
        query_catalog_destroy (&catalog);
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (!self->cfg.max_concurrent)
        self->cfg.max_concurrent = 1;
    if (!self->cfg.wait_ms)
        self->cfg.wait_ms = 5000;
    if (!self->cfg.cache_timeout_ms)
        self->cfg.cache_timeout_ms = 1000;
    self->cfg.database_url = self->cfg.cache_endpoint = self->cfg.queries_file = NULL;
    hsn_enc_init (&self->enc);
    msgpack_sbuffer_init (&self->keybuf);
    for (size_t i = 0; i < QUERY_NCLASSES; i++) {
        char name[64];
        snprintf (name, sizeof name, "query.errors.%s", error_classes[i]);
        self->errors[i] = counter (self, name);
    }
    self->runs = counter (self, "query.runs");
    self->rows = counter (self, "query.rows");
    self->slow = counter (self, "query.slow");
    self->hits = counter (self, "query.cache.hits");
    self->misses = counter (self, "query.cache.misses");
    self->coalesced = counter (self, "query.cache.coalesced");
    self->cache_errors = counter (self, "query.cache.errors");
    self->inval_errors = counter (self, "query.cache.invalidate_errors");
    self->saturated = counter (self, "query.pool.saturated");
    self->pool_timeouts = counter (self, "query.pool.timeouts");
    self->late = counter (self, "query.pool.late_results");
    self->wait_us = cfg->metrics ? hsn_metrics_hist (cfg->metrics, "query.pool.wait_us") : NULL;
    self->connected = gauge (self, "query.pool.connected");
    self->in_use = gauge (self, "query.pool.in_use");
    self->queued = gauge (self, "query.pool.queued");
    self->flights = zhashx_new ();
    if (cfg->queries_file)
        self->queries_file = strdup (cfg->queries_file);
    if (query_service_install (self, catalog) || !self->flights) {
        snprintf (err, errlen, "out of memory");
        query_service_destroy (&self);
        return NULL;
    }
    if (cfg->cache_endpoint) {
        self->cache = query_cache_new (cfg->loop, cfg->cache_endpoint, self->cfg.cache_timeout_ms);
        if (!self->cache) {
            snprintf (err, errlen, "invalid broker endpoint '%s'", cfg->cache_endpoint);
            query_service_destroy (&self);
            return NULL;
        }
    }
    query_pool_config_t pcfg = { cfg->database_url, cfg->pool_size, cfg->statement_timeout_ms };
    self->pool = query_pool_new (&pcfg, cfg->loop, err, errlen);
    if (!self->pool) {
        query_service_destroy (&self);
        return NULL;
    }
    query_update_gauges (self);
    return self;
}

void
query_service_destroy (query_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_service_t *self = *self_p;
    query_pool_destroy (&self->pool);
    query_cache_destroy (&self->cache);
    query_exec_abandon (self);
    zhashx_destroy (&self->flights);
    query_gen_unref (&self->gen);
    hsn_enc_release (&self->enc);
    msgpack_sbuffer_destroy (&self->keybuf);
    free (self->queries_file);
    free (self);
    *self_p = NULL;
}

void
query_service_check (query_service_t *self)
{
    query_pool_check (self->pool);
    query_update_gauges (self);
}

bool
query_service_db_up (const query_service_t *self)
{
    return query_pool_connected (self->pool) > 0;
}

static void
pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static void
pack_tags (msgpack_packer *pk, char *const *tags, size_t n)
{
    msgpack_pack_array (pk, n);
    for (size_t t = 0; t < n; t++)
        pack_cstr (pk, tags[t]);
}

void
query_reply (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
             uint64_t rid, uint32_t service, uint32_t op)
{
    if (hsn_enc_size (&self->enc) > HSN_PROTO_MAX_FRAME) {
        hsn_enc_begin (&self->enc, HSN_KIND_REPLY, rid, service, op, HSN_STATUS_TOO_LARGE, 1);
        hsn_enc_cstr (&self->enc, HSN_FIELD_MESSAGE, "result over the 4 MiB frame limit");
    }
    hsn_worker_reply_enc (worker, route, &self->enc);
}

static void
reply_list (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
            const hsn_env_t *req)
{
    hsn_enc_t *enc = &self->enc;
    msgpack_packer *pk = &enc->pk;
    const query_catalog_t *cat = self->gen->cat;
    size_t n = query_catalog_size (cat);
    hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op, HSN_STATUS_OK, 1);
    hsn_enc_key (enc, HSN_FIELD_RESULT);
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        const query_def_t *d = query_catalog_at (cat, i);
        msgpack_pack_map (pk, 6);
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
        pack_tags (pk, d->invalidates, d->ninvalidates);
        pack_cstr (pk, "tags");
        pack_tags (pk, d->tags, d->ntags);
        pack_cstr (pk, "writes");
        if (d->writes)
            msgpack_pack_true (pk);
        else
            msgpack_pack_false (pk);
    }
    query_reply (self, worker, route, req->rid, req->service, req->op);
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
            query_exec_run (self, worker, route, req);
            break;
        case HSN_OP_QUERY_BATCH:
            query_exec_batch (self, worker, route, req);
            break;
        case HSN_OP_QUERY_SQL:
            query_exec_sql (self, worker, route, req);
            break;
        default:
            hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                    "the query service serves query.list, query.run, "
                                    "query.batch and query.sql");
            break;
    }
}
