/*  monitor_core: the monitor's state and its answers, without sockets.
 *
 *  Owns the registry (liveness, CPU, memory, dependencies), the latest
 *  stats of every replica, the history, the targets. Takes decoded
 *  HEARTBEAT and STATS envelopes; ticks (every second or so) record
 *  per-service CPU and memory in the history and forget stale replicas;
 *  answers the monitor's operations as msgpack documents. Time is always a
 *  parameter, so tests construct any situation without waiting.
 *
 *  With monitoring off (PERFORMANCE_MONITORING_ENABLED=false) STATS are
 *  ignored (only counted as signs of life): summary, metrics and
 *  recommendations say "monitoring": false and hold no KPIs; health and
 *  the replicas' CPU/RSS from heartbeats still work.
 *
 *  Single-threaded: the monitor's zloop calls everything.
 */
#ifndef MONITOR_CORE_H
#define MONITOR_CORE_H

#include <msgpack.h>
#include "monitor_rules.h"

#define MONITOR_DEFAULT_WINDOW_S 300
#define MONITOR_MAX_WINDOW_S 86400
#define MONITOR_MAX_STATS_REPLICAS 512
#define MONITOR_DOC_MAX_BYTES (3u << 20)   /* under the 4 MiB frame limit */

typedef struct {
    monitor_targets_t targets;
    bool monitoring;                /* PERFORMANCE_MONITORING_ENABLED */
    uint32_t expected;              /* services whose absence is unhealthy */
    int64_t forget_ms;              /* MONITOR_FORGET_SECONDS */
    uint32_t stats_interval_s;      /* METRICS_COLLECTION_INTERVAL */
    double host_cores;              /* limits of this host, 0: unknown */
    uint64_t host_mem;
} monitor_core_config_t;

typedef struct monitor_core monitor_core_t;

/*  History slots: fine max(5 s, interval) x 60, coarse max(30 s, interval)
 *  x (1 hour / width, 12..240). NULL when out of memory. */
monitor_core_t *monitor_core_new (const monitor_core_config_t *cfg, int64_t now_ms);

/*  NULL-safe; nulls *self_p. */
void monitor_core_destroy (monitor_core_t **self_p);

monitor_registry_t *monitor_core_registry (monitor_core_t *self);
bool monitor_core_monitoring (const monitor_core_t *self);

/*  Take one decoded envelope; anything but HEARTBEAT and STATS is ignored.
 *  Returns 0 or a negative errno (the envelope was refused). */
int monitor_core_take (monitor_core_t *self, const hsn_env_t *env, int64_t now_ms);

/*  Record the replicas' CPU and memory in the history; forget stale
 *  replicas. */
void monitor_core_tick (monitor_core_t *self, int64_t now_ms);

/*  The documents (window_s 0: the default, 300 s; capped at 86400). Each
 *  packs exactly one object. Return 0 or -ENOMEM (nothing usable packed). */
int monitor_core_summary (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                          msgpack_packer *pk);
int monitor_core_metrics (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                          msgpack_packer *pk);
int monitor_core_recommendations (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                                  msgpack_packer *pk);

/*  The Prometheus text exposition, appended to out. */
int monitor_core_prometheus (monitor_core_t *self, int64_t now_ms, msgpack_sbuffer *out);

/*  KPIs and recommendations as structures (tests, and the documents). */
int monitor_core_evaluate (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                           monitor_kpis_t *kpis, monitor_recs_t *recs);

#endif
