/*  monitor_service: the monitor replica's request handler and its intake of
 *  heartbeats and stats from every replica. */
#ifndef MONITOR_SERVICE_H
#define MONITOR_SERVICE_H

#include <czmq.h>
#include "hsn_worker.h"
#include "monitor_registry.h"

typedef struct monitor_service monitor_service_t;

/*  Bind the intake PULL socket at endpoint and register its reader in loop.
 *  Returns NULL when the bind fails. */
monitor_service_t *monitor_service_new (zloop_t *loop, const char *endpoint,
                                        monitor_registry_t *registry,
                                        bool monitoring);

/*  NULL-safe; nulls *self_p. */
void monitor_service_destroy (monitor_service_t **self_p);

/*  The port actually bound (useful with tcp://127.0.0.1:*). */
int monitor_service_port (const monitor_service_t *self);

/*  hsn_worker_fn: arg is the monitor_service_t. */
void monitor_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                             const hsn_env_t *req, void *arg);

#endif
