/*  query_pool: connections, preparation, reconnection. See query_pool.h. */
#include "query_pool.h"
#include "hsn_log.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PGconn *pg;                 /* NULL: closed */
    bool *prepared;             /* per catalog query */
} conn_t;

struct query_pool {
    query_pool_config_t cfg;
    char *url;
    const query_catalog_t *cat;
    conn_t *conns;
    uint32_t rr;                /* next connection to use */
    uint32_t connected;
    uint64_t reconnects;
    bool ever_up;
    uint32_t backoff_ms;
    uint64_t next_try_ms;       /* no connection attempt before this */
    char last_error[256];
};

static void
quiet_notice (void *arg, const char *message)
{
}

static void
set_error (query_pool_t *self, const char *what, PGconn *pg)
{
    const char *msg = pg ? PQerrorMessage (pg) : "out of memory";
    size_t len = strcspn (msg, "\n");          /* the first line says it */
    snprintf (self->last_error, sizeof self->last_error, "%s: %.*s", what, (int) len, msg);
}

/*  Prepare catalog query i on c. Returns the failed result (the caller
 *  PQclears) or NULL when prepared. */
static PGresult *
prepare (conn_t *c, const query_catalog_t *cat, size_t i)
{
    const query_def_t *d = query_catalog_at (cat, i);
    PGresult *r = PQprepare (c->pg, d->name, d->sql, (int) d->nparams, NULL);
    if (r && PQresultStatus (r) == PGRES_COMMAND_OK) {
        PQclear (r);
        c->prepared[i] = true;
        return NULL;
    }
    return r;
}

static void
close_conn (query_pool_t *self, conn_t *c)
{
    if (!c->pg)
        return;
    PQfinish (c->pg);
    c->pg = NULL;
    self->connected--;
    memset (c->prepared, 0, query_catalog_size (self->cat) * sizeof *c->prepared);
}

static void
backoff (query_pool_t *self)
{
    self->next_try_ms = (uint64_t) hsn_now_ms () + self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > QUERY_POOL_BACKOFF_MAX_MS)
        self->backoff_ms = QUERY_POOL_BACKOFF_MAX_MS;
}

/*  Open c: connect, set the session, prepare the catalog. Returns 0 or
 *  -ENOTCONN (last_error says why; backoff applied). */
static int
connect_conn (query_pool_t *self, conn_t *c)
{
    static const char *const keys[] = { "dbname", "application_name", "connect_timeout", NULL };
    const char *vals[] = { self->url, "hsn-query", "2", NULL };
    PGconn *pg = PQconnectdbParams (keys, vals, 1);
    if (!pg || PQstatus (pg) != CONNECTION_OK) {
        set_error (self, "connect", pg);
        PQfinish (pg);
        backoff (self);
        return -ENOTCONN;
    }
    PQsetNoticeProcessor (pg, quiet_notice, NULL);
    char setup[256];
    snprintf (setup, sizeof setup,
              "SET statement_timeout = %u; SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; "
              "SET bytea_output = 'hex'; SET extra_float_digits = 3",
              self->cfg.statement_timeout_ms);
    PGresult *r = PQexec (pg, setup);
    bool ok = r && PQresultStatus (r) == PGRES_COMMAND_OK;
    PQclear (r);
    if (!ok) {
        set_error (self, "session setup", pg);
        PQfinish (pg);
        backoff (self);
        return -ENOTCONN;
    }
    c->pg = pg;
    self->connected++;
    for (size_t i = 0; i < query_catalog_size (self->cat); i++) {
        r = prepare (c, self->cat, i);
        if (r) {
            const char *msg = PQresultErrorMessage (r);
            hsn_log (HSN_LOG_WARN, "prepare-failed", "query '%s': %.*s (retried when run)",
                     query_catalog_at (self->cat, i)->name, (int) strcspn (msg, "\n"), msg);
            PQclear (r);
        }
    }
    if (self->ever_up)
        self->reconnects++;
    if (self->connected == 1)
        hsn_log (HSN_LOG_INFO, "postgresql-up", "connected%s", self->ever_up ? " again" : "");
    self->ever_up = true;
    self->backoff_ms = QUERY_POOL_BACKOFF_MIN_MS;
    return 0;
}

query_pool_t *
query_pool_new (const query_pool_config_t *cfg, const query_catalog_t *catalog, char *err,
                size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse (cfg->database_url, &perr);
    if (!opts) {
        snprintf (err, errlen, "invalid DATABASE_URL '%s': %s", cfg->database_url,
                  perr ? perr : "out of memory");
        PQfreemem (perr);
        return NULL;
    }
    PQconninfoFree (opts);
    query_pool_t *self = (query_pool_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.size == 0)
        self->cfg.size = 1;
    self->url = strdup (cfg->database_url);
    self->cat = catalog;
    self->conns = (conn_t *) calloc (self->cfg.size, sizeof *self->conns);
    size_t nq = query_catalog_size (catalog);
    for (uint32_t i = 0; self->conns && i < self->cfg.size; i++)
        self->conns[i].prepared = (bool *) calloc (nq ? nq : 1, sizeof (bool));
    self->backoff_ms = QUERY_POOL_BACKOFF_MIN_MS;
    query_pool_check (self);
    if (!self->connected)
        hsn_log (HSN_LOG_WARN, "postgresql-down", "%s", self->last_error);
    return self;
}

void
query_pool_destroy (query_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_pool_t *self = *self_p;
    for (uint32_t i = 0; self->conns && i < self->cfg.size; i++) {
        close_conn (self, &self->conns[i]);
        free (self->conns[i].prepared);
    }
    free (self->conns);
    free (self->url);
    free (self);
    *self_p = NULL;
}

static void broken (query_pool_t *self, conn_t *c);

void
query_pool_check (query_pool_t *self)
{
    /*  One round trip on an open connection notices a server that went
     *  away while the pool was idle. */
    for (uint32_t i = 0; i < self->cfg.size; i++) {
        conn_t *c = &self->conns[i];
        if (!c->pg)
            continue;
        PQclear (PQexec (c->pg, ""));
        if (PQstatus (c->pg) != CONNECTION_OK)
            broken (self, c);
        break;
    }
    for (uint32_t i = 0; i < self->cfg.size; i++) {
        if (self->conns[i].pg)
            continue;
        if ((uint64_t) hsn_now_ms () < self->next_try_ms
            || connect_conn (self, &self->conns[i]))
            return;
    }
}

/*  A connection broke: the server most likely restarted or went away, which
 *  breaks every connection, so close them all. */
static void
broken (query_pool_t *self, conn_t *c)
{
    set_error (self, "connection lost", c->pg);
    hsn_log (HSN_LOG_WARN, "postgresql-down", "%s", self->last_error);
    for (uint32_t i = 0; i < self->cfg.size; i++)
        close_conn (self, &self->conns[i]);
    backoff (self);
}

static conn_t *
acquire (query_pool_t *self, char *err, size_t errlen)
{
    for (uint32_t k = 0; k < self->cfg.size; k++) {
        uint32_t i = (self->rr + k) % self->cfg.size;
        if (self->conns[i].pg) {
            self->rr = (i + 1) % self->cfg.size;
            return &self->conns[i];
        }
    }
    uint64_t now = (uint64_t) hsn_now_ms ();
    conn_t *c = &self->conns[self->rr];
    if (now < self->next_try_ms || connect_conn (self, c)) {
        snprintf (err, errlen, "PostgreSQL unavailable (%s); next attempt in %llu ms",
                  self->last_error,
                  (unsigned long long) (self->next_try_ms > now ? self->next_try_ms - now : 0));
        return NULL;
    }
    return c;
}

int
query_pool_exec (query_pool_t *self, size_t index, const char *const *values, PGresult **res,
                 uint64_t *wait_us, char *err, size_t errlen)
{
    *res = NULL;
    uint64_t t0 = (uint64_t) hsn_now_us ();
    conn_t *c = acquire (self, err, errlen);
    *wait_us = (uint64_t) hsn_now_us () - t0;
    if (!c)
        return -ENOTCONN;
    const query_def_t *d = query_catalog_at (self->cat, index);
    PGresult *r = NULL;
    if (!c->prepared[index])
        r = prepare (c, self->cat, index);
    if (!r)
        r = PQexecPrepared (c->pg, d->name, (int) d->nparams, values, NULL, NULL, 0);
    if (!r || PQstatus (c->pg) != CONNECTION_OK) {
        broken (self, c);
        snprintf (err, errlen, "PostgreSQL unavailable (%s)", self->last_error);
        PQclear (r);
        return -EIO;
    }
    *res = r;
    return 0;
}

uint32_t
query_pool_connected (const query_pool_t *self)
{
    return self->connected;
}

uint64_t
query_pool_reconnects (const query_pool_t *self)
{
    return self->reconnects;
}
