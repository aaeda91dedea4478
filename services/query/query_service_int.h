/*  query_service internals shared by query_service.c (set-up, catalog,
 *  list, dispatch) and query_exec.c (requests, single flight, cache, pool).
 *  Not a public interface. */
#ifndef QUERY_SERVICE_INT_H
#define QUERY_SERVICE_INT_H

#include "query_cache.h"
#include "query_pool.h"
#include "query_service.h"
#include "query_types.h"

/*  A catalog generation: requests and flights hold a reference, so a reload
 *  never pulls a catalog from under a query in flight. */
typedef struct {
    query_catalog_t *cat;
    uint32_t generation;
    hsn_hist_t **latency;               /* per query, may hold NULLs */
    int refs;
} query_gen_t;

#define QUERY_NCLASSES 10

struct query_service {
    query_service_config_t cfg;
    char *queries_file;                 /* copy of cfg.queries_file, or NULL */
    query_gen_t *gen;                   /* the current catalog */
    uint32_t next_generation;
    query_pool_t *pool;
    query_cache_t *cache;               /* NULL: no result cache */
    zhashx_t *flights;                  /* cache key -> flight, for single flight */
    void *live_flights;                 /* every flight, for destroy */
    void *live_requests;                /* every request, for destroy */
    uint64_t inval_seq;                 /* invalidations sent by this replica */
    hsn_enc_t enc;
    msgpack_sbuffer keybuf;             /* a cache key's hashed input, reused */
    uint32_t metric_names;              /* per-query histograms registered */
    uint64_t *errors[QUERY_NCLASSES];
    uint64_t *runs, *rows, *hits, *misses, *cache_errors, *inval_errors, *coalesced,
             *saturated, *pool_timeouts, *slow, *late;
    uint64_t late_seen;                 /* query_pool_late already counted */
    hsn_hist_t *wait_us;
    int64_t *connected, *in_use, *queued;
};

void query_gen_unref (query_gen_t **gen_p);

/*  A request (run, batch, sql) has members, bound when it arrives. A
 *  started member joins a flight (query_flight.c): one execution of one
 *  query with one set of bound values, which answers every member waiting
 *  on it. */
typedef struct request request_t;
typedef struct member member_t;
typedef struct flight flight_t;

typedef struct {
    hsn_status_t status;
    char sqlstate[6];
    char message[300];
    uint8_t *rows;                      /* OK: the packed rows array */
    size_t rows_len;
    uint64_t count;
    bool cached;
    uint32_t ttl;                       /* cacheable: reply's `ttl` */
} outcome_t;

struct member {
    request_t *req;
    const query_def_t *def;             /* NULL for ad-hoc SQL */
    size_t index;
    query_bind_t bind;
    char *sql;                          /* ad-hoc */
    bool done;
    outcome_t out;
    member_t *next_waiter;
};

struct request {
    query_service_t *svc;
    hsn_worker_t *worker;
    hsn_route_t route;
    uint64_t rid;
    uint32_t service, op;
    query_gen_t *gen;
    int64_t deadline_ms;
    uint32_t n, next, running, ndone;
    bool pumping;
    size_t rows_bytes;                  /* batch: packed rows of its members */
    bool too_large;                     /* batch: over QUERY_ROWS_MAX, rows freed */
    request_t *prev, *nextreq;          /* svc->live_requests */
    member_t members[];
};

struct flight {
    query_service_t *svc;
    query_gen_t *gen;
    const query_def_t *def;
    size_t index;
    query_bind_t bind;
    char *sql;                          /* ad-hoc */
    char *key;                          /* cacheable: its key, in svc->flights */
    int64_t deadline_ms;
    uint64_t inval_seq;                 /* svc->inval_seq when it started */
    bool cache_failed;
    member_t *waiters;
    query_job_t job;
    outcome_t out;
    flight_t *prev, *next;              /* svc->live_flights */
};

/*  query_flight.c: start member m (join an identical flight in progress,
 *  or start one); member_done is called when its outcome is set, maybe
 *  before this returns. */
void query_member_start (member_t *m);

/*  query_exec.c: m's outcome is set. */
void query_member_done (member_t *m);

/*  Free a flight (without answering its waiters). */
void query_flight_free (flight_t *f);

/*  Set o's status and message. */
void query_outcome_fail (outcome_t *o, hsn_status_t status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  query_exec.c: start one request (run, batch, sql); it answers later. */
void query_exec_run (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                     const hsn_env_t *req);
void query_exec_batch (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                       const hsn_env_t *req);
void query_exec_sql (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                     const hsn_env_t *req);

/*  Free every request and flight still alive, without answering. */
void query_exec_abandon (query_service_t *self);

/*  Count an error by SQLSTATE class (NULL: connection failure). */
void query_count_error (query_service_t *self, const char *sqlstate);

/*  Update the pool gauges. */
void query_update_gauges (query_service_t *self);

/*  Reply with the encoder's envelope (TOO_LARGE when over the frame limit). */
void query_reply (query_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                  uint64_t rid, uint32_t service, uint32_t op);

#endif
