/*  monitor_registry: every replica of every service, as heard from its
 *  heartbeats, and the health document built from them.
 *
 *  A replica is up while its heartbeats arrive; it is down once three of its
 *  heartbeat intervals pass without one, and comes back up with the next.
 *  A replica down for longer than the forget period is dropped from the list.
 *  At most MONITOR_REGISTRY_MAX replicas are listed (ids come from the
 *  network); heartbeats of further ones are refused.
 *
 *  CPU and memory as percentages of what the replica may use: a heartbeat
 *  may carry the replica's own limits (cpu_limit cores, mem_limit bytes);
 *  without them the monitor's host limits (monitor_registry_host_limits)
 *  stand in, which is right when they share a host and no per-container
 *  limits apply.
 */
#ifndef MONITOR_REGISTRY_H
#define MONITOR_REGISTRY_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include "hsn_proto.h"

#define MONITOR_REGISTRY_MAX 1024

typedef struct monitor_registry monitor_registry_t;

/*  What the registry knows of one replica, for KPIs and documents. */
typedef struct {
    uint32_t service;
    const char *id;                 /* valid until the registry changes */
    bool up;
    int64_t last_seen_ms;           /* ago */
    uint64_t uptime_s, rss;
    double cpu;                     /* % of one core */
    double cpu_limit;               /* cores it may use */
    uint64_t mem_limit;             /* bytes it may use, 0 unknown */
    bool own_limits;                /* limits from its heartbeat */
    double cpu_pct;                 /* % of cpu_limit */
    double mem_pct;                 /* % of mem_limit; -1 unknown */
    int ndeps;
    const char *dep_name[4];
    bool dep_up[4];
} monitor_replica_info_t;

/*  expected: bitmask of services (1 << HSN_SERVICE_*) whose absence makes
 *  the cluster unhealthy. forget_ms: how long a down replica stays listed. */
monitor_registry_t *monitor_registry_new (uint32_t expected, int64_t forget_ms);

/*  NULL-safe; nulls *self_p. */
void monitor_registry_destroy (monitor_registry_t **self_p);

/*  Limits of the monitor's host (cores, bytes; 0: unknown), for replicas
 *  whose heartbeats do not say theirs. */
void monitor_registry_host_limits (monitor_registry_t *self, double cores,
                                   uint64_t mem_bytes);

/*  Take one decoded HEARTBEAT or STATS envelope heard at now_ms.
 *  Returns 0; 1 when a heartbeat shows the replica restarted since the
 *  previous one (its uptime went down); -EINVAL when it lacks service or
 *  replica; -ENOSPC for a new replica when MONITOR_REGISTRY_MAX are listed. */
int monitor_registry_take (monitor_registry_t *self, const hsn_env_t *env,
                           int64_t now_ms);

typedef enum { MONITOR_HEALTHY, MONITOR_DEGRADED, MONITOR_UNHEALTHY } monitor_status_t;

/*  Pack the health document (one msgpack map) as of now_ms and return the
 *  overall status. monitoring says whether stats collection is enabled. */
monitor_status_t monitor_registry_health (monitor_registry_t *self, int64_t now_ms,
                                          bool monitoring, msgpack_packer *pk);

/*  Fill out with up to max replicas as of now_ms (after forgetting the old
 *  ones), in no particular order. Returns how many there are in all. */
size_t monitor_registry_replicas (monitor_registry_t *self, int64_t now_ms,
                                  monitor_replica_info_t *out, size_t max);

/*  The replica's uptime in seconds, or -1 when not listed. */
int64_t monitor_registry_uptime (monitor_registry_t *self, uint32_t service,
                                 const char *id, size_t idlen);

/*  Replicas of a service that are up at now_ms. */
uint32_t monitor_registry_up (monitor_registry_t *self, uint32_t service,
                              int64_t now_ms);

/*  Parse a comma-separated list of service names into a bitmask.
 *  Returns 0, or -EINVAL on an unknown name. */
int monitor_services_mask (const char *list, uint32_t *mask);

#endif
