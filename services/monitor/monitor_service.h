/*  monitor_service: the monitor replica's request handler, its intake of
 *  heartbeats and stats from every replica, and its clock.
 *
 *  Operations (proto/README.md, "Monitor operations"): monitor.health,
 *  .summary, .metrics, .recommendations (request field window: seconds,
 *  optional) answer one msgpack document in result; monitor.prometheus
 *  answers the text exposition as a STR in result.
 */
#ifndef MONITOR_SERVICE_H
#define MONITOR_SERVICE_H

#include <czmq.h>
#include "hsn_metrics.h"
#include "hsn_worker.h"
#include "monitor_core.h"

typedef struct monitor_service monitor_service_t;

/*  Bind the intake PULL socket at endpoint and register its reader, and a
 *  one-second tick, in loop. metrics (may be NULL) gets the monitor's own
 *  counters. Returns NULL when the bind fails. */
monitor_service_t *monitor_service_new (zloop_t *loop, const char *endpoint,
                                        monitor_core_t *core, hsn_metrics_t *metrics);

/*  NULL-safe; nulls *self_p. */
void monitor_service_destroy (monitor_service_t **self_p);

/*  The port actually bound (useful with tcp://127.0.0.1:*). */
int monitor_service_port (const monitor_service_t *self);

/*  hsn_worker_fn: arg is the monitor_service_t. */
void monitor_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                             const hsn_env_t *req, void *arg);

#endif
