/*  query_pool: asynchronous connections, lazy preparation, reconnection.
 *  See query_pool.h. */
#include "query_pool.h"
#include "hsn_log.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    PH_DEALLOC = 1,             /* DEALLOCATE ALL: a new catalog generation */
    PH_PREPARE,                 /* PQsendPrepare of the job's statement */
    PH_EXEC,                    /* the statement (prepared or unnamed) */
    PH_BEGIN,                   /* ad-hoc: BEGIN READ ONLY */
    PH_ADHOC,                   /* ad-hoc: the SQL */
    PH_ROLLBACK                 /* ad-hoc: ROLLBACK */
} phase_t;

typedef struct {
    query_pool_t *pool;
    PGconn *pg;                 /* NULL: closed */
    zmq_pollitem_t item;        /* its socket, while watched */
    query_job_t *job;           /* running, or NULL: free */
    phase_t phase;
    PGresult *res;              /* the result kept for the job */
    uint32_t generation;        /* of the statements prepared below */
    bool *prepared;
    size_t nprepared;
} conn_t;

struct query_pool {
    query_pool_config_t cfg;
    char *url;
    zloop_t *loop;
    int timer;
    int broken_timer;           /* pending declaration of a broken connection */
    conn_t *conns;
    query_job_t *head, *tail;   /* waiting for a connection */
    uint32_t queued, in_use, connected;
    uint64_t reconnects;
    uint64_t late;
    bool heard;                 /* a job completed since the last check */
    bool ever_up;
    uint32_t backoff_ms;
    uint64_t next_try_ms;       /* no connection attempt before this */
    char last_error[200];
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

static void
backoff (query_pool_t *self)
{
    self->next_try_ms = (uint64_t) hsn_now_ms () + self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > QUERY_POOL_BACKOFF_MAX_MS)
        self->backoff_ms = QUERY_POOL_BACKOFF_MAX_MS;
}

static int on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

/*  Close c (its job, if any, is the caller's to finish). */
static void
close_conn (query_pool_t *self, conn_t *c)
{
    if (!c->pg)
        return;
    zloop_poller_end (self->loop, &c->item);
    PQfinish (c->pg);
    c->pg = NULL;
    PQclear (c->res);
    c->res = NULL;
    self->connected--;
    c->generation = 0;
    c->nprepared = 0;
}

/*  Open c: connect, set the session, watch its socket. Returns 0 or
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
    c->item = (zmq_pollitem_t) { NULL, PQsocket (pg), ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &c->item, on_readable, c);
    zloop_poller_set_tolerant (self->loop, &c->item);
    self->connected++;
    if (self->ever_up)
        self->reconnects++;
    if (self->connected == 1)
        hsn_log (HSN_LOG_INFO, "postgresql-up", "connected%s", self->ever_up ? " again" : "");
    self->ever_up = true;
    self->backoff_ms = QUERY_POOL_BACKOFF_MIN_MS;
    return 0;
}

static void
finish (query_job_t *job, int rc, PGresult *res)
{
    job->rc = rc;
    job->res = res;
    job->done (job, job->arg);
}

/*  Fail every queued job with rc. */
static void
fail_queue (query_pool_t *self, int rc)
{
    query_job_t *job = self->head;
    self->head = self->tail = NULL;
    self->queued = 0;
    while (job) {
        query_job_t *next = job->next;
        snprintf (job->err, sizeof job->err, "PostgreSQL unavailable (%s)", self->last_error);
        finish (job, rc, NULL);
        job = next;
    }
}

/*  A connection broke: the server most likely restarted or went away, which
 *  breaks every connection, so close them all and fail their jobs. */
static void
broken (query_pool_t *self, conn_t *c)
{
    set_error (self, "connection lost", c->pg);
    hsn_log (HSN_LOG_WARN, "postgresql-down", "%s", self->last_error);
    query_job_t *failed = NULL;
    for (uint32_t i = 0; i < self->cfg.size; i++) {
        conn_t *k = &self->conns[i];
        if (k->job) {
            k->job->next = failed;
            failed = k->job;
            k->job = NULL;
            self->in_use--;
        }
        close_conn (self, k);
    }
    backoff (self);
    while (failed) {
        query_job_t *next = failed->next;
        snprintf (failed->err, sizeof failed->err, "PostgreSQL unavailable (%s)",
                  self->last_error);
        finish (failed, -EIO, NULL);
        failed = next;
    }
    fail_queue (self, -ENOTCONN);
}

/*  "s<index>", the name of a catalog query's prepared statement (without
 *  snprintf: it is on every execution's path). */
static void
stmt_name (char name[24], size_t index)
{
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char) ('0' + index % 10);
        index /= 10;
    } while (index);
    name[0] = 's';
    for (size_t i = 0; i < n; i++)
        name[1 + i] = digits[n - 1 - i];
    name[1 + n] = 0;
}

/*  Send the next step of c's job. Returns 0, or -EIO when the send failed
 *  (the caller declares the connection broken). */
static int
send_step (conn_t *c)
{
    query_job_t *job = c->job;
    int ok;
    if (!job->def) {
        if (c->phase == PH_BEGIN)
            ok = PQsendQuery (c->pg, "BEGIN READ ONLY");
        else if (c->phase == PH_ADHOC)
            ok = PQsendQueryParams (c->pg, job->sql, 0, NULL, NULL, NULL, NULL, 0);
        else
            ok = PQsendQuery (c->pg, "ROLLBACK");
        return ok ? 0 : -EIO;
    }
    const query_def_t *d = job->def;
    char name[24];
    stmt_name (name, job->index);
    if (job->generation < c->generation) {
        /*  Queued before a reload this connection already adopted. */
        c->phase = PH_EXEC;
        ok = PQsendQueryParams (c->pg, d->sql, (int) d->nparams, NULL, job->values, NULL, NULL,
                                0);
    }
    else if (job->generation > c->generation) {
        c->phase = PH_DEALLOC;
        ok = PQsendQuery (c->pg, "DEALLOCATE ALL");
    }
    else if (job->index >= c->nprepared || !c->prepared[job->index]) {
        c->phase = PH_PREPARE;
        ok = PQsendPrepare (c->pg, name, d->sql, (int) d->nparams, NULL);
    }
    else {
        c->phase = PH_EXEC;
        ok = PQsendQueryPrepared (c->pg, name, (int) d->nparams, job->values, NULL, NULL, 0);
    }
    return ok ? 0 : -EIO;
}

/*  Put job on free connection c. Returns 0 or -EIO (c broken; the caller
 *  calls broken, which fails the job). */
static int
start (query_pool_t *self, conn_t *c, query_job_t *job)
{
    c->job = job;
    self->in_use++;
    job->wait_us = (uint64_t) (hsn_now_us () - job->submitted_us);
    c->phase = job->def ? 0 : PH_BEGIN;
    return send_step (c);
}

static conn_t *
free_conn (query_pool_t *self)
{
    for (uint32_t i = 0; i < self->cfg.size; i++)
        if (self->conns[i].pg && !self->conns[i].job)
            return &self->conns[i];
    return NULL;
}

/*  Give queued jobs the free connections. */
static void
dispatch (query_pool_t *self)
{
    conn_t *c;
    while (self->head && (c = free_conn (self))) {
        query_job_t *job = self->head;
        self->head = job->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        if (start (self, c, job)) {
            broken (self, c);
            return;
        }
    }
}

/*  c's current step has all its results (kept in c->res). Move on. */
static void
step_done (query_pool_t *self, conn_t *c)
{
    query_job_t *job = c->job;
    PGresult *r = c->res;
    c->res = NULL;
    bool failed = r && PQresultStatus (r) != PGRES_COMMAND_OK
                  && PQresultStatus (r) != PGRES_TUPLES_OK;
    int rc = 0;
    switch (c->phase) {
        case PH_DEALLOC:
            PQclear (r);
            c->generation = job->generation;
            if (c->nprepared < job->ncatalog) {
                bool *p = (bool *) realloc (c->prepared, job->ncatalog * sizeof *p);
                if (p) {
                    c->prepared = p;
                    c->nprepared = job->ncatalog;
                }
            }
            if (c->prepared)
                memset (c->prepared, 0, c->nprepared * sizeof *c->prepared);
            rc = send_step (c);
            break;
        case PH_PREPARE:
            if (failed || !r)
                goto done;              /* the job fails with the prepare error */
            PQclear (r);
            if (job->index < c->nprepared)
                c->prepared[job->index] = true;
            c->phase = PH_EXEC;
            rc = send_step (c);
            break;
        case PH_BEGIN:
            if (failed || !r)
                goto done;
            PQclear (r);
            c->phase = PH_ADHOC;
            rc = send_step (c);
            break;
        case PH_ADHOC:
            c->res = r;                 /* kept across the ROLLBACK */
            /*  Ad-hoc SQL is screened to reads, but whatever it did to the
             *  session is not trusted: the next catalog job on c runs
             *  DEALLOCATE ALL and prepares afresh (generations start at 1). */
            c->generation = 0;
            c->phase = PH_ROLLBACK;
            rc = send_step (c);
            break;
        case PH_ROLLBACK:
            goto done;                  /* r: the ad-hoc result, kept above */
        case PH_EXEC:
        default:
            goto done;
    }
    if (rc)
        broken (self, c);
    return;
done:
    c->job = NULL;
    self->in_use--;
    if (r)
        self->heard = true;             /* the server answered */
    if (!r) {
        snprintf (job->err, sizeof job->err, "no result from PostgreSQL");
        rc = -EIO;
    }
    /*  A connection that broke with the result in hand is closed before
     *  the callback can give it a new job. */
    if (PQstatus (c->pg) != CONNECTION_OK)
        broken (self, c);
    finish (job, rc, r);
    dispatch (self);
}

/*  Take every result libpq holds complete for c, moving its job on. */
static void
drain (query_pool_t *self, conn_t *c)
{
    while (c->pg && c->job && !PQisBusy (c->pg)) {
        PGresult *r = PQgetResult (c->pg);
        if (!r) {
            step_done (self, c);
            continue;
        }
        /*  One statement gives one result; keep the last, whatever. */
        if (c->phase == PH_ROLLBACK)
            PQclear (r);
        else {
            PQclear (c->res);
            c->res = r;
        }
    }
}

static int
on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    conn_t *c = (conn_t *) arg;
    query_pool_t *self = c->pool;
    if (!c->pg)
        return 0;
    if (!PQconsumeInput (c->pg)) {
        broken (self, c);
        return 0;
    }
    drain (self, c);
    if (c->pg && !c->job && PQstatus (c->pg) != CONNECTION_OK)
        broken (self, c);
    return 0;
}

static int
on_broken (zloop_t *loop, int timer_id, void *arg)
{
    conn_t *c = (conn_t *) arg;
    c->pool->broken_timer = 0;
    if (c->pg)
        broken (c->pool, c);
    return 0;
}

/*  Every tick: pick up results that missed their wake-up, then fail
 *  queued jobs whose deadline passed. */
static int
on_tick (zloop_t *loop, int timer_id, void *arg)
{
    query_pool_t *self = (query_pool_t *) arg;
    /*  A result libpq already holds complete gets no socket wake-up: the
     *  readable handler drains every such result before it returns, so
     *  finding one here means a path forgot to; take it late rather than
     *  never, and count it (query_pool_late: it must stay 0). */
    for (uint32_t i = 0; i < self->cfg.size; i++) {
        conn_t *c = &self->conns[i];
        if (c->pg && c->job && !PQisBusy (c->pg)) {
            self->late++;
            if ((self->late & (self->late - 1)) == 0)
                hsn_log (HSN_LOG_WARN, "late-result", "a PostgreSQL result waited for the "
                         "%d ms tick instead of its socket (%llu so far): a lost wake-up",
                         QUERY_POOL_TICK_MS, (unsigned long long) self->late);
            drain (self, c);
        }
    }
    int64_t now = hsn_now_ms ();
    query_job_t **pp = &self->head, *expired = NULL;
    self->tail = NULL;
    while (*pp) {
        query_job_t *job = *pp;
        if (job->deadline_ms <= now) {
            *pp = job->next;
            self->queued--;
            job->next = expired;
            expired = job;
        }
        else {
            self->tail = job;
            pp = &job->next;
        }
    }
    while (expired) {
        query_job_t *next = expired->next;
        snprintf (expired->err, sizeof expired->err,
                  "no database connection free within the deadline (pool of %u, all busy)",
                  self->cfg.size);
        finish (expired, -ETIMEDOUT, NULL);
        expired = next;
    }
    return 0;
}

query_pool_t *
query_pool_new (const query_pool_config_t *cfg, zloop_t *loop, char *err, size_t errlen)
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
    self->loop = loop;
    self->conns = (conn_t *) calloc (self->cfg.size, sizeof *self->conns);
    if (!self->url || !self->conns) {
        query_pool_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->cfg.size; i++)
        self->conns[i].pool = self;
    self->backoff_ms = QUERY_POOL_BACKOFF_MIN_MS;
    self->timer = zloop_timer (loop, QUERY_POOL_TICK_MS, 0, on_tick, self);
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
    if (self->timer > 0)
        zloop_timer_end (self->loop, self->timer);
    if (self->broken_timer > 0)
        zloop_timer_end (self->loop, self->broken_timer);
    free (self->conns);
    free (self->url);
    free (self);
    *self_p = NULL;
}

int
query_pool_submit (query_pool_t *self, query_job_t *job)
{
    job->rc = 0;
    job->res = NULL;
    job->err[0] = 0;
    job->wait_us = 0;
    job->next = NULL;
    job->submitted_us = hsn_now_us ();
    if (!self->connected) {
        uint64_t now = (uint64_t) hsn_now_ms ();
        if (now >= self->next_try_ms)
            query_pool_check (self);
        if (!self->connected) {
            snprintf (job->err, sizeof job->err,
                      "PostgreSQL unavailable (%s); next attempt in %llu ms", self->last_error,
                      (unsigned long long) (self->next_try_ms > now ? self->next_try_ms - now
                                                                    : 0));
            return -ENOTCONN;
        }
    }
    if (self->queued >= QUERY_POOL_QUEUE_MAX) {
        snprintf (job->err, sizeof job->err, "%d requests already wait for a connection",
                  QUERY_POOL_QUEUE_MAX);
        return -EAGAIN;
    }
    conn_t *c = free_conn (self);
    if (c && !self->head) {
        if (start (self, c, job) == 0)
            return 0;
        /*  The send failed: the connection is broken. Declare it from the
         *  loop, not here, so no callback runs inside submit. */
        c->job = NULL;
        self->in_use--;
        set_error (self, "send", c->pg);
        snprintf (job->err, sizeof job->err, "PostgreSQL unavailable (%s)", self->last_error);
        if (!self->broken_timer)
            self->broken_timer = zloop_timer (self->loop, 1, 1, on_broken, c);
        return -ENOTCONN;
    }
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    self->queued++;
    return 0;
}

void
query_pool_check (query_pool_t *self)
{
    /*  One round trip on an idle connection notices a server that went
     *  away while the pool was idle. It blocks the loop for that round
     *  trip, so it is skipped when a result came since the last check: the
     *  server was there, and under load (its backends short of CPU) the
     *  wait would stall every query in flight. */
    bool heard = self->heard;
    self->heard = false;
    for (uint32_t i = 0; !heard && i < self->cfg.size; i++) {
        conn_t *c = &self->conns[i];
        if (!c->pg || c->job)
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
            break;
    }
    dispatch (self);
}

uint32_t
query_pool_connected (const query_pool_t *self)
{
    return self->connected;
}

uint32_t
query_pool_in_use (const query_pool_t *self)
{
    return self->in_use;
}

uint32_t
query_pool_queued (const query_pool_t *self)
{
    return self->queued;
}

uint64_t
query_pool_reconnects (const query_pool_t *self)
{
    return self->reconnects;
}

uint64_t
query_pool_late (const query_pool_t *self)
{
    return self->late;
}
