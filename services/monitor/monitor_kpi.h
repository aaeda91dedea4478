/*  monitor_kpi: cluster-wide KPIs over a window, against their targets.
 *
 *  Every latency KPI is a percentile of the MERGED histogram of all the
 *  replicas (never an average of per-replica percentiles); rates are ratios
 *  of counter increases over the window. Metrics are found by name, so
 *  services that register them later plug in without a change here:
 *
 *    response time    gateway.route.<class>.latency_us   (hist, per class)
 *    error rate       gateway.http.status_5xx / gateway.http.requests
 *    cache hit rate   cache.l1.hits, cache.l2.hits, cache.misses,
 *                     gateway.near.hits (near-cache answers, when reported)
 *    DB query time    query.<name>.latency_us            (hist, per query)
 *    agent latency    agentbus.delivery_latency_us       (hist)
 *    CPU, memory      heartbeats: % of each replica's limits
 *
 *  A KPI whose metrics are absent, or saw nothing in the window, is
 *  "no_data", never a breach.
 */
#ifndef MONITOR_KPI_H
#define MONITOR_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "monitor_agg.h"
#include "monitor_history.h"
#include "monitor_registry.h"
#include "monitor_stats.h"

#define MONITOR_HIST_ROUTE      "gateway.route.*.latency_us"
#define MONITOR_CTR_REQUESTS    "gateway.http.requests"
#define MONITOR_CTR_5XX         "gateway.http.status_5xx"
#define MONITOR_CTR_NEAR_HITS   "gateway.near.hits"
#define MONITOR_CTR_L1_HITS     "cache.l1.hits"
#define MONITOR_CTR_L2_HITS     "cache.l2.hits"
#define MONITOR_CTR_MISSES      "cache.misses"
#define MONITOR_CTR_EVICTIONS   "cache.l1.evictions"
#define MONITOR_CTR_NS_MISSES   "cache.ns.*.misses"
#define MONITOR_GAUGE_L1_CAP    "cache.l1.capacity"
#define MONITOR_GAUGE_L1_SIZE   "cache.l1.entries"
#define MONITOR_HIST_QUERY      "query.*.latency_us"
#define MONITOR_HIST_AGENT      "agentbus.delivery_latency_us"
#define MONITOR_GAUGE_QUEUE     "agentbus.queue_depth.*"   /* per agent (the deepest 100) */
#define MONITOR_GAUGE_QUEUE_TOTAL "agentbus.queue_depth_total"

/*  Targets, from KPI_* (see main.c). */
typedef struct {
    double response_p95_ms;         /* KPI_RESPONSE_P95_MS: at most */
    double cache_hit_rate;          /* KPI_CACHE_HIT_RATE: % at least */
    double error_rate;              /* KPI_ERROR_RATE: % at most */
    double cpu;                     /* KPI_CPU: % of the CPU limit at most */
    double memory;                  /* KPI_MEMORY: % of the memory limit at most */
    double db_query_ms;             /* KPI_DB_QUERY_MS: P95 at most */
    double agent_latency_ms;        /* KPI_AGENT_LATENCY_MS: P95 at most */
} monitor_targets_t;

/*  The README's targets: 2000 ms, 80 %, 1 %, 70 %, 80 %, 500 ms, 100 ms. */
void monitor_targets_default (monitor_targets_t *t);

/*  What KPIs and rules look at: one window of history, added up per
 *  service, and the replicas as the registry knows them now. */
typedef struct {
    const monitor_names_t *names;
    const monitor_stats_t *stats;           /* serial -> replica id */
    int64_t now_ms, window_ms;
    int64_t covered_ms;                     /* how far back the slots reach */
    int64_t slot_ms;
    const monitor_slot_view_t *slots;       /* oldest first */
    size_t nslots;
    monitor_agg_t svc[HSN_SERVICE__MAX];    /* per service, over the window */
    const monitor_replica_info_t *replicas;
    size_t nreplicas;
} monitor_view_t;

/*  Add up the slots per service into v->svc (the other fields are the
 *  caller's). Returns 0 or -ENOMEM. */
int monitor_view_aggregate (monitor_view_t *v);

/*  Free v->svc. */
void monitor_view_release (monitor_view_t *v);

/*  Does a replica of service report metric name of kind (whether or not it
 *  moved in the window)? Tells "0" from "no data". */
bool monitor_view_reports (const monitor_view_t *v, uint32_t service, const char *name,
                           int kind);

/*  The id of the replica with this serial, or NULL. */
const char *monitor_view_replica_id (const monitor_view_t *v, uint32_t serial);

typedef enum { MONITOR_KPI_OK, MONITOR_KPI_BREACH, MONITOR_KPI_NO_DATA } monitor_kpi_status_t;

/*  "ok", "breach", "no_data". */
const char *monitor_kpi_status_name (monitor_kpi_status_t s);

typedef struct {
    const char *name;               /* "response_time_p95", "error_rate", ... */
    char scope[48];                 /* "all", a route class, a service */
    const char *unit;               /* "ms", "%" */
    bool higher_better;             /* hit rate: the target is a minimum */
    double value, target;
    monitor_kpi_status_t status;
    uint64_t samples;               /* samples, requests or lookups behind it */
    double p50, p99;                /* latency KPIs, beside the P95 value */
    char service[16];               /* where the worst value is (CPU, memory) */
    char replica[MONITOR_ID_MAX + 1];
} monitor_kpi_t;

typedef struct {
    char name[96];
    double p95_ms;
    uint64_t count;
    double share_pct;               /* of all query time in the window */
} monitor_query_t;

#define MONITOR_KPI_MAX 48
#define MONITOR_SLOW_MAX 5

typedef struct {
    monitor_kpi_t kpi[MONITOR_KPI_MAX];
    size_t n;
    uint64_t requests, errors;
    uint64_t lookups, hits[3];      /* near, l1, l2 */
    bool has_level[3];
    monitor_query_t slow[MONITOR_SLOW_MAX];     /* slowest P95 first */
    size_t nslow;
} monitor_kpis_t;

/*  Compute every KPI of the view against t. */
void monitor_kpis_compute (const monitor_view_t *v, const monitor_targets_t *t,
                           monitor_kpis_t *out);

/*  The KPI named name with scope, or NULL. */
const monitor_kpi_t *monitor_kpis_find (const monitor_kpis_t *k, const char *name,
                                        const char *scope);

/*  Worst status: breach if any, else ok if any, else no_data. */
monitor_kpi_status_t monitor_kpis_overall (const monitor_kpis_t *k);

/*  One point of the charts: the figures of one slot (-1: no data). */
typedef struct {
    double rps, error_pct, p50_ms, p95_ms, p99_ms;
    double route_p95_ms[4];         /* cache, monitor, other, (spare) */
    double hit_pct, db_p95_ms, agent_p95_ms, queue_depth;
} monitor_point_t;

/*  The figures of one slot. Returns 0 or -ENOMEM. */
int monitor_kpi_point (const monitor_names_t *names, const monitor_slot_view_t *slot,
                       monitor_point_t *out);

/*  Percentile p of h in milliseconds. */
double monitor_hist_ms (const hsn_hist_t *h, double p);

#endif
