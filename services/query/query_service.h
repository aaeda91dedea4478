/*  query_service: the query replica's request handler.
 *
 *  query.list    the catalog: names, declared parameters, cache, invalidates
 *  query.run     one named query with a params map -> rows and count
 *  query.batch   several, run one after another in this slice, each with its
 *                own result or error; one failing member does not fail the
 *                others (no transaction spans them)
 *
 *  PostgreSQL errors become statuses, with the SQLSTATE in the reply:
 *  class 23 -> CONFLICT, 22 -> BAD_REQUEST, 57014 -> TIMEOUT, 40 ->
 *  CONFLICT, class 08 / 57P01..57P03 / 53 and a lost connection ->
 *  UNAVAILABLE, anything else (42 syntax/undefined, XX) -> INTERNAL.
 *
 *  Metrics: "query.<name>.latency_us" per query (the first
 *  QUERY_METRICS_MAX queries; the rest share "query._other.latency_us"),
 *  "query.errors.<class>" by SQLSTATE class (08 22 23 40 42 53 57 XX, "other",
 *  "conn" for a connection failure without SQLSTATE), "query.pool.wait_us",
 *  "query.runs", gauge "query.pool.connected".
 *
 *  TODO(query cache): result caching through hsn-cache. A query with
 *  `-- cache: s` is looked up in cache namespace "query" under its name and
 *  a digest of its bound params, stored with ttl s and tagged with the
 *  tables it reads; a query with `-- invalidates:` drops those tags after it
 *  succeeds; replies carry the `cached` field. Not in this slice.
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

typedef struct query_service query_service_t;

typedef struct {
    const char *database_url;           /* DATABASE_URL */
    uint32_t pool_size;                 /* CONNECTION_POOL_SIZE */
    uint32_t statement_timeout_ms;      /* QUERY_STATEMENT_TIMEOUT_MS */
    hsn_metrics_t *metrics;             /* may be NULL */
} query_service_config_t;

/*  Take ownership of catalog (destroyed with the service, also on failure)
 *  and connect the pool (PostgreSQL may be down: requests then answer
 *  UNAVAILABLE until it is back). NULL with err on an invalid DATABASE_URL. */
query_service_t *query_service_new (const query_service_config_t *cfg,
                                    query_catalog_t *catalog, char *err,
                                    size_t errlen);

/*  NULL-safe; nulls *self_p. */
void query_service_destroy (query_service_t **self_p);

/*  hsn_worker_fn: arg is the query_service_t. Answers before returning. */
void query_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                           const hsn_env_t *req, void *arg);

/*  Periodic: reconnect what is due, update the pool gauge. */
void query_service_check (query_service_t *self);

/*  Is at least one connection to PostgreSQL up? */
bool query_service_db_up (const query_service_t *self);

/*  The status a SQLSTATE (5 characters, or NULL for a connection failure)
 *  turns into. */
hsn_status_t query_status_of_sqlstate (const char *sqlstate);

#endif
