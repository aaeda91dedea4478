/*  monitor_rules: recommendations from KPI breaches and trends.
 *
 *  Each rule looks at one window (a monitor_view_t and its KPIs) and fires
 *  only on a breach or a worrying trend, with its evidence (the metric, its
 *  value, the threshold, the window, the service and replica concerned) and
 *  one concrete action. When all is well it says nothing.
 *
 *    cache_size      hit rate under target while L1 evicts (>= 5 % of
 *                    lookups): raise CACHE_MAX_SIZE to a computed size
 *    cache_misses    hit rate under target without evictions: the namespace
 *                    with the most misses, a longer TTL for it
 *    slow_query      a query's P95 over the DB target: its name, its share
 *                    of DB time
 *    scale_service   every replica of a service over the CPU target, now
 *                    and on average over the window: one replica more
 *    replica_errors  >= 75 % of a service's errors (>= 10) on one of its
 *                    replicas (of two or more): that replica
 *    agent_queue     an agent's queue depth (agentbus.queue_depth.<agent>)
 *                    grew over the window to >= 100: that agent
 *    memory          a replica over the memory target
 *    response_time   a route class over the P95 target
 *    error_rate      the error rate over target, not from one replica
 */
#ifndef MONITOR_RULES_H
#define MONITOR_RULES_H

#include "monitor_kpi.h"

#define MONITOR_RECS_MAX 24

typedef struct {
    const char *rule;               /* "cache_size", ... */
    const char *severity;           /* "warning", "critical" */
    char service[16];
    char replica[MONITOR_ID_MAX + 1];   /* "" when not one replica */
    char subject[96];               /* a query, an agent, a route class */
    char metric[112];               /* the evidence: what was judged */
    double value, threshold;
    const char *unit;
    int64_t window_s;
    char message[256];              /* what is wrong */
    char action[256];               /* what to do */
} monitor_rec_t;

typedef struct {
    monitor_rec_t rec[MONITOR_RECS_MAX];
    size_t n;
} monitor_recs_t;

/*  Thresholds the rules use beside the KPI targets. */
#define MONITOR_EVICTION_SHARE   5.0    /* % of cache lookups */
#define MONITOR_EVICTION_MIN     10
#define MONITOR_ERRORS_MIN       10
#define MONITOR_ERRORS_SHARE     75.0   /* % of a service's errors */
#define MONITOR_QUEUE_MIN        100
#define MONITOR_CACHE_SIZE_MAX   100000000

/*  Run every rule. */
void monitor_rules_run (const monitor_view_t *v, const monitor_kpis_t *k,
                        const monitor_targets_t *t, monitor_recs_t *out);

/*  The cache size the cache_size rule suggests for a replica holding
 *  capacity entries that evicted evictions in the window: room for what it
 *  evicted, at least twice as much, rounded up to 1, 2 or 5 times a power
 *  of ten, at most MONITOR_CACHE_SIZE_MAX. */
uint64_t monitor_rules_cache_size (uint64_t capacity, uint64_t evictions);

#endif
