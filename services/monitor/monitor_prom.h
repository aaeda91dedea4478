/*  monitor_prom: the Prometheus text exposition (format 0.0.4).
 *
 *  Every replica's latest metrics, labelled service="..",replica="..":
 *
 *  - names get the prefix hsn_ and lose every character outside
 *    [a-zA-Z0-9_:] (dots become underscores); counters end in _total;
 *  - a name component that is data becomes a label, so one family holds
 *    them all: cache.ns.<ns>.X -> hsn_cache_namespace_X{namespace=".."},
 *    gateway.route.<class>.X -> hsn_gateway_route_X{route=".."},
 *    query.<name>.X -> hsn_query_X{query=".."},
 *    agentbus.queue_depth.<agent> -> hsn_agentbus_queue_depth{agent=".."};
 *  - histograms (microseconds) become Prometheus histograms in seconds
 *    (the _us suffix becomes _seconds): cumulative _bucket{le} at the
 *    bucket tops 2^k - 1 us for k = 7..26 (127 us .. 67.1 s) and +Inf, then
 *    _sum and _count. Samples are whole microseconds and those tops are
 *    bucket boundaries, so every count is exact.
 *
 *  Plus what the monitor knows itself: hsn_monitoring_enabled, per replica
 *  hsn_replica_up, _cpu_percent (of one core), _cpu_limit_percent,
 *  _resident_memory_bytes, _memory_limit_bytes, _memory_percent,
 *  _uptime_seconds, hsn_replica_dependency_up{dependency}; per KPI
 *  hsn_kpi_value, hsn_kpi_target, hsn_kpi_breach {kpi,scope}.
 *
 *  Families are sorted and whole (one # HELP and # TYPE each, all their
 *  samples together); a family whose name another kind already took, and
 *  a repeated label set, are left out.
 */
#ifndef MONITOR_PROM_H
#define MONITOR_PROM_H

#include <msgpack.h>
#include <stdbool.h>
#include "monitor_kpi.h"

/*  Render into out (appended). Families stop being added once out holds
 *  max_bytes (then a "# truncated" comment ends it). kpis may be NULL.
 *  Returns 0 or -ENOMEM. */
int monitor_prom_render (const monitor_names_t *names, const monitor_stats_t *stats,
                         const monitor_replica_info_t *reps, size_t nreps,
                         const monitor_kpis_t *kpis, bool monitoring, size_t max_bytes,
                         msgpack_sbuffer *out);

/*  The family name and data label of metric name of kind, as above:
 *  fam gets e.g. "hsn_cache_namespace_hits_l1_total", label "namespace" and
 *  value "users"
 *  (label[0] = 0 when none). */
void monitor_prom_family (const char *name, int kind, char *fam, size_t famcap,
                          char *label, size_t labelcap, char *value, size_t valuecap);

#endif
