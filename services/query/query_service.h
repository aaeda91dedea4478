/*  query_service: the query replica's request handler.
 *
 *  query.list    the catalog: per query {"name", "params": [{"name",
 *                "type"}], "cache": s, "invalidates": [tags], "tags":
 *                [tags], "writes": bool}
 *  query.run     one named query: `name`, `params` map, `readonly`? ->
 *                `rows` (array of maps column -> value), `count`, `cached`
 *                (bool), `ttl` (s, only when the query is cacheable: left in
 *                the cache on a hit, the declared TTL otherwise); an error
 *                carries `message` and, from PostgreSQL, `sqlstate`
 *  query.batch   `batch`: 1..QUERY_BATCH_MAX members {"name", "params"?},
 *                `readonly`? -> OK with `result`: one map per member, in
 *                order: {"status": uint, "code": str, "rows", "count",
 *                "cached", "ttl"?} or {"status", "code", "message",
 *                "sqlstate"?}. Members run concurrently over the pool, at
 *                most max_concurrent at once; one failing does not fail the
 *                others (no transaction spans them).
 *  query.sql     ad-hoc `sql` (QUERY_ALLOW_ADHOC only, else FORBIDDEN): one
 *                statement, at most QUERY_SQL_MAX bytes, a read (SELECT,
 *                WITH ... SELECT, VALUES, TABLE, SHOW: anything else is
 *                FORBIDDEN before it reaches PostgreSQL), in a READ ONLY
 *                transaction that is rolled back, never cached; replies as
 *                query.run (`cached` false, no `ttl`).
 *
 *  Result size: a result whose packed rows exceed QUERY_ROWS_MAX fails
 *  with TOO_LARGE (never cached); so does a batch whose members' rows
 *  together exceed it (the whole batch, as its reply could not be sent).
 *
 *  Execution is asynchronous: a request is bound at once (bad params are
 *  answered before any I/O), then waits for the cache and a connection
 *  while the loop serves other requests; requests waiting for a connection
 *  longer than wait_ms (or the request's `deadline`) get TIMEOUT.
 *
 *  `readonly` true refuses a query that writes (query_catalog.h) with
 *  BAD_REQUEST "query <name> writes; use POST".
 *
 *  Result cache (through hsn-cache, when cache_endpoint is set): a query
 *  with `-- cache: s` is looked up in namespace "query" under
 *  "<name>:<sha1 hex of msgpack [sha1 of sql, [[type, value-text|nil]...]]>"
 *  (the SQL's digest made once at catalog load; the bound parameters in
 *  declared order, so 5 and 5.0 for an int are one key, and a changed SQL
 *  text never meets an old entry). A miss runs the query
 *  and stores {"rows", "count"} with ttl s and the query's tags (fire and
 *  forget; skipped when this replica sent an invalidation meanwhile, so a
 *  stale result is not stored over a newer write). Identical lookups in
 *  flight at once share one cache call and one database execution (single
 *  flight), unless this replica sent an invalidation since the one in
 *  flight started: then it may predate a write already answered, and the
 *  lookup starts a flight of its own. A cache that fails (no_service, timeout, ...) is skipped: the
 *  query runs uncached ("query.cache.errors").
 *  A query with `-- invalidates:` sends cache.invalidate-tags after it
 *  succeeds and before it answers; when that fails the rows are still
 *  answered (the write happened) but an error is logged and
 *  "query.cache.invalidate_errors" counted: cached reads may then be stale
 *  for up to their TTL.
 *
 *  PostgreSQL errors become statuses, with the SQLSTATE in the reply:
 *  class 23 -> CONFLICT, 22 -> BAD_REQUEST, 57014 -> TIMEOUT, 40 ->
 *  CONFLICT, class 08 / 57P01..57P03 / 53 and a lost connection ->
 *  UNAVAILABLE, anything else (42 syntax/undefined, XX) -> INTERNAL; for
 *  ad-hoc SQL, class 42 -> BAD_REQUEST and 25006 (a write in the read-only
 *  transaction) -> FORBIDDEN.
 *
 *  A query slower than slow_ms is logged at WARN ("slow-query": name,
 *  duration, rows).
 *
 *  Metrics: "query.<name>.latency_us" per query (the first
 *  QUERY_METRICS_MAX names; the rest share "query._other.latency_us"),
 *  "query.errors.<class>" by SQLSTATE class (08 22 23 40 42 53 57 XX, "other",
 *  "conn" for a connection failure without SQLSTATE), "query.runs"
 *  (executions), "query.rows" (rows returned or affected), "query.slow",
 *  "query.cache.hits", "query.cache.misses", "query.cache.coalesced" (joined
 *  an identical lookup in flight), "query.cache.errors",
 *  "query.cache.invalidate_errors", "query.pool.wait_us" (histogram of the
 *  wait for a connection), "query.pool.saturated" (executions that had to
 *  queue), "query.pool.timeouts", "query.pool.late_results" (results
 *  picked up by the periodic tick instead of their socket's wake-up: a
 *  lost wake-up, always 0 unless there is a bug), gauges
 *  "query.pool.connected",
 *  "query.pool.in_use", "query.pool.queued".
 */
#ifndef QUERY_SERVICE_H
#define QUERY_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include "hsn_metrics.h"
#include "hsn_worker.h"
#include "query_catalog.h"

#define QUERY_BATCH_MAX   100
#define QUERY_METRICS_MAX 100
#define QUERY_SQL_MAX     65536
/*  Packed rows of one result (or of a batch's members together): a frame
 *  less room for the reply's envelope. */
#define QUERY_ROWS_MAX    (HSN_PROTO_MAX_FRAME - 64 * 1024)

typedef struct query_service query_service_t;

typedef struct {
    const char *database_url;           /* DATABASE_URL */
    uint32_t pool_size;                 /* CONNECTION_POOL_SIZE */
    uint32_t statement_timeout_ms;      /* QUERY_STATEMENT_TIMEOUT_MS */
    hsn_metrics_t *metrics;             /* may be NULL */
    zloop_t *loop;                      /* the replica's loop */
    const char *cache_endpoint;         /* BROKER_ENDPOINT; NULL: no result cache */
    uint32_t cache_timeout_ms;          /* QUERY_CACHE_TIMEOUT_MS */
    uint32_t wait_ms;                   /* QUERY_POOL_WAIT_MS: queue deadline */
    uint32_t max_concurrent;            /* MAX_CONCURRENT_OPERATIONS per batch */
    uint32_t slow_ms;                   /* QUERY_SLOW_MS */
    bool allow_adhoc;                   /* QUERY_ALLOW_ADHOC */
    const char *queries_file;           /* QUERIES_FILE, for reload; may be NULL */
} query_service_config_t;

/*  Take ownership of catalog (destroyed with the service, also on failure),
 *  register the pool's and cache client's sockets in cfg->loop and connect
 *  the pool (PostgreSQL may be down: requests then answer UNAVAILABLE until
 *  it is back). NULL with err on an invalid DATABASE_URL or endpoint. */
query_service_t *query_service_new (const query_service_config_t *cfg,
                                    query_catalog_t *catalog, char *err,
                                    size_t errlen);

/*  Requests still in flight are dropped unanswered. NULL-safe; nulls. */
void query_service_destroy (query_service_t **self_p);

/*  hsn_worker_fn: arg is the query_service_t. Answers now (list, errors)
 *  or later, from the loop. */
void query_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                           const hsn_env_t *req, void *arg);

/*  Reload (SIGHUP): parse cfg.queries_file again and make it the catalog of
 *  new requests; requests in flight finish with the one they started with.
 *  Returns 0, or -EINVAL with the reason in err (the old catalog stays). */
int query_service_reload (query_service_t *self, char *err, size_t errlen);

/*  The same with a catalog already parsed (taken over, also on failure). */
int query_service_install (query_service_t *self, query_catalog_t *catalog);

/*  Periodic: reconnect what is due, update the pool gauges. */
void query_service_check (query_service_t *self);

/*  Is at least one connection to PostgreSQL up? */
bool query_service_db_up (const query_service_t *self);

/*  The status a SQLSTATE (5 characters, or NULL for a connection failure)
 *  turns into. */
hsn_status_t query_status_of_sqlstate (const char *sqlstate);

#endif
