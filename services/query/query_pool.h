/*  query_pool: asynchronous libpq connections to DATABASE_URL.
 *
 *  CONNECTION_POOL_SIZE connections, each set up with
 *      statement_timeout (QUERY_STATEMENT_TIMEOUT_MS), DateStyle ISO,
 *      TimeZone UTC, bytea_output hex, extra_float_digits 3.
 *
 *  A job runs on a free connection: PQsendQueryPrepared, the socket watched
 *  in the replica's zloop, PQconsumeInput / PQisBusy / PQgetResult when it
 *  is readable, the job's callback when the result is complete. A result
 *  libpq already holds is taken before going back to the loop (it will get
 *  no wake-up of its own); the periodic tick checks that none was left
 *  behind (query_pool_late). Jobs that find every connection busy wait in a
 *  FIFO queue until one frees or their deadline passes (-ETIMEDOUT). So up
 *  to `size` queries run at once while the loop keeps serving.
 *
 *  Prepared statements are per connection and lazy: a connection prepares a
 *  catalog query ("s<index>") the first time it runs it. Every job carries
 *  its catalog's generation; a connection meeting a newer generation first
 *  sends DEALLOCATE ALL and forgets what it had prepared, and a job of an
 *  older generation (queued before a reload) runs its SQL unnamed
 *  (PQsendQueryParams). A statement whose prepare fails (its table does not
 *  exist yet) fails that job with the server's error and is prepared again
 *  next time.
 *
 *  Ad-hoc SQL runs as BEGIN READ ONLY; <sql> (extended protocol, so one
 *  statement only); ROLLBACK -- rolled back, never committed, so even a
 *  SET inside it does not outlive it. PREPARE and DEALLOCATE would (the
 *  service lets only reads through); still, a connection that ran ad-hoc
 *  SQL forgets its generation, so its next catalog job sends DEALLOCATE ALL
 *  and prepares again.
 *
 *  Failure: a connection found broken (PQconsumeInput fails, PQstatus bad)
 *  is closed, and since the usual cause is a server restart, every
 *  connection is closed with it: their jobs fail with -EIO, and queued jobs
 *  with -ENOTCONN. Reconnection is lazy (on the next job or query_pool_check)
 *  with backoff 100 ms doubling to 2 s, reset by a success; the service
 *  never restarts. Connecting is synchronous (PQconnectdbParams,
 *  connect_timeout 2 s): the loop waits for it, at most once per backoff
 *  step.
 *
 *  Sending is in libpq's blocking mode (a large parameter is written out
 *  before PQsend returns); only waiting for results is asynchronous.
 *
 *  Not thread-safe: one thread (the replica's loop) uses a pool.
 */
#ifndef QUERY_POOL_H
#define QUERY_POOL_H

#include <czmq.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include "query_catalog.h"

#define QUERY_POOL_BACKOFF_MIN_MS 100
#define QUERY_POOL_BACKOFF_MAX_MS 2000
#define QUERY_POOL_QUEUE_MAX      10000     /* jobs waiting for a connection */
#define QUERY_POOL_TICK_MS        20        /* queue deadline resolution */

typedef struct query_pool query_pool_t;
typedef struct query_job query_job_t;

/*  Called once per accepted job, from the loop, never from inside
 *  query_pool_submit. The callback may submit other jobs. */
typedef void (query_job_fn) (query_job_t *job, void *arg);

/*  A job, owned (and usually embedded) by the caller; it must stay put
 *  until its callback ran. */
struct query_job {
    /*  In: a catalog query (def set) or ad-hoc SQL (def NULL, sql set). */
    const query_def_t *def;
    size_t index;                   /* def's index in its catalog */
    size_t ncatalog;                /* its catalog's size */
    uint32_t generation;            /* its catalog's generation */
    const char *const *values;      /* def->nparams text values */
    const char *sql;                /* ad-hoc */
    int64_t deadline_ms;            /* hsn_now_ms () to give up waiting */
    query_job_fn *done;
    void *arg;
    /*  Out: rc 0 when the server answered (res: the result, caller
     *  PQclears; it may be an error with a SQLSTATE), -ETIMEDOUT when no
     *  connection freed in time, -ENOTCONN when PostgreSQL is down, -EIO when
     *  the connection broke during the job; err then says why. */
    int rc;
    PGresult *res;
    char err[256];
    uint64_t wait_us;               /* from submit to sending */
    /*  Private. */
    query_job_t *next;
    int64_t submitted_us;
};

typedef struct {
    const char *database_url;       /* DATABASE_URL (URL or key=value conninfo) */
    uint32_t size;                  /* CONNECTION_POOL_SIZE, >= 1 */
    uint32_t statement_timeout_ms;  /* QUERY_STATEMENT_TIMEOUT_MS, 0 = none */
} query_pool_config_t;

/*  Check the URL, register the queue timer in loop and try to connect
 *  every connection once (failures are retried later). Returns NULL with
 *  err on an unparseable DATABASE_URL. */
query_pool_t *query_pool_new (const query_pool_config_t *cfg, zloop_t *loop, char *err,
                              size_t errlen);

/*  Close everything. Jobs still running or queued are dropped without
 *  their callbacks (the owner is going away too). NULL-safe; nulls. */
void query_pool_destroy (query_pool_t **self_p);

/*  Start job on a free connection, or queue it. Returns 0 (the callback
 *  will run), -ENOTCONN (PostgreSQL down and no reconnection possible now)
 *  or -EAGAIN (queue full); job->err then says why and no callback runs. */
int query_pool_submit (query_pool_t *self, query_job_t *job);

/*  Periodic: probe one idle connection (an empty query, synchronous)
 *  unless a job completed since the last call, and reconnect closed
 *  connections when their attempt is due. */
void query_pool_check (query_pool_t *self);

/*  Connections up; running jobs; queued jobs; reconnections since start. */
uint32_t query_pool_connected (const query_pool_t *self);
uint32_t query_pool_in_use (const query_pool_t *self);
uint32_t query_pool_queued (const query_pool_t *self);
uint64_t query_pool_reconnects (const query_pool_t *self);

/*  Results found complete by the periodic tick rather than by their
 *  socket's wake-up (each waited up to QUERY_POOL_TICK_MS). Every path
 *  drains what libpq holds before going back to the loop, so this stays 0;
 *  anything else is a lost wake-up (also logged, and metric
 *  query.pool.late_results). */
uint64_t query_pool_late (const query_pool_t *self);

#endif
