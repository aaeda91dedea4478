/*  query_pool: libpq connections to DATABASE_URL with the catalog prepared.
 *
 *  CONNECTION_POOL_SIZE connections, each set up with
 *      statement_timeout (QUERY_STATEMENT_TIMEOUT_MS), DateStyle ISO,
 *      TimeZone UTC, bytea_output hex
 *  and every catalog statement prepared once (PQprepare, named after the
 *  query). A statement whose prepare failed (say its table did not exist
 *  yet) is prepared again when it is next run.
 *
 *  Execution is synchronous (PQexecPrepared) in the caller's thread, one
 *  query at a time per connection: in this slice the replica's loop blocks
 *  for the query's duration (bounded by statement_timeout), so connections
 *  are used round-robin, never concurrently. An asynchronous pool
 *  (PQsendQueryPrepared, sockets in the zloop) is the next step.
 *
 *  Failure: a connection found broken (PQstatus after an exec) is closed,
 *  and since the usual cause is a server restart that broke them all, every
 *  connection is closed with it. Reconnection is lazy (on the next request
 *  or query_pool_check) with backoff 100 ms doubling to 2 s, reset by a
 *  success; the service never restarts.
 *
 *  Not thread-safe: one thread (the replica's loop) uses a pool.
 */
#ifndef QUERY_POOL_H
#define QUERY_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include "query_catalog.h"

#define QUERY_POOL_BACKOFF_MIN_MS 100
#define QUERY_POOL_BACKOFF_MAX_MS 2000

typedef struct query_pool query_pool_t;

typedef struct {
    const char *database_url;       /* DATABASE_URL (URL or key=value conninfo) */
    uint32_t size;                  /* CONNECTION_POOL_SIZE, >= 1 */
    uint32_t statement_timeout_ms;  /* QUERY_STATEMENT_TIMEOUT_MS, 0 = none */
} query_pool_config_t;

/*  Check the URL and try to connect every connection once (failures are
 *  retried later). catalog must outlive the pool. Returns NULL with err on
 *  an unparseable DATABASE_URL. */
query_pool_t *query_pool_new (const query_pool_config_t *cfg,
                              const query_catalog_t *catalog, char *err,
                              size_t errlen);

/*  NULL-safe; nulls *self_p. */
void query_pool_destroy (query_pool_t **self_p);

/*  Run catalog query index with text params values[0..nparams). On 0 the
 *  server answered: *res is its result (caller PQclears), which may be an
 *  error (PGRES_FATAL_ERROR with a SQLSTATE). Returns -ENOTCONN when no
 *  connection could be had (down, next attempt not yet due) or -EIO when
 *  the connection broke during the call; err then says why and *res is
 *  NULL. *wait_us gets the time spent getting a connection. */
int query_pool_exec (query_pool_t *self, size_t index, const char *const *values,
                     PGresult **res, uint64_t *wait_us, char *err, size_t errlen);

/*  Periodic: probe one open connection (an empty query), and reconnect
 *  closed connections when their attempt is due. */
void query_pool_check (query_pool_t *self);

/*  Connections up right now; reconnections made since start. */
uint32_t query_pool_connected (const query_pool_t *self);
uint64_t query_pool_reconnects (const query_pool_t *self);

#endif
