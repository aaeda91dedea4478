/*  monitor_registry: every replica of every service, as heard from its
 *  heartbeats, and the health document built from them.
 *
 *  A replica is up while its heartbeats arrive; it is down once three of its
 *  heartbeat intervals pass without one, and comes back up with the next.
 *  A replica down for longer than the forget period is dropped from the list.
 */
#ifndef MONITOR_REGISTRY_H
#define MONITOR_REGISTRY_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include "hsn_proto.h"

typedef struct monitor_registry monitor_registry_t;

/*  expected: bitmask of services (1 << HSN_SERVICE_*) whose absence makes
 *  the cluster unhealthy. forget_ms: how long a down replica stays listed. */
monitor_registry_t *monitor_registry_new (uint32_t expected, int64_t forget_ms);

/*  NULL-safe; nulls *self_p. */
void monitor_registry_destroy (monitor_registry_t **self_p);

/*  Take one decoded HEARTBEAT or STATS envelope heard at now_ms.
 *  Returns 0, or -EINVAL when it lacks service or replica. */
int monitor_registry_take (monitor_registry_t *self, const hsn_env_t *env,
                           int64_t now_ms);

typedef enum { MONITOR_HEALTHY, MONITOR_DEGRADED, MONITOR_UNHEALTHY } monitor_status_t;

/*  Pack the health document (one msgpack map) as of now_ms and return the
 *  overall status. monitoring says whether stats collection is enabled. */
monitor_status_t monitor_registry_health (monitor_registry_t *self, int64_t now_ms,
                                          bool monitoring, msgpack_packer *pk);

/*  Replicas of a service that are up at now_ms. */
uint32_t monitor_registry_up (monitor_registry_t *self, uint32_t service,
                              int64_t now_ms);

/*  Parse a comma-separated list of service names into a bitmask.
 *  Returns 0, or -EINVAL on an unknown name. */
int monitor_services_mask (const char *list, uint32_t *mask);

#endif
