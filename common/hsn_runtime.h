/*  hsn_runtime: what every service's main shares.
 *
 *  - the common configuration (broker and monitor endpoints, heartbeat and
 *    stats intervals, log level, replica id), read once from the environment
 *    with range checks;
 *  - signals: SIGTERM and SIGINT are blocked in every thread and read from a
 *    signalfd, so shutdown happens in the main loop, never in a handler;
 *  - the worker run loop with graceful drain: on a signal the replica tells
 *    the broker to send no more work, finishes what it holds, and returns
 *    within the drain deadline.
 */
#ifndef HSN_RUNTIME_H
#define HSN_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "hsn_log.h"
#include "hsn_worker.h"

typedef struct {
    uint32_t service;
    char replica[128];              /* HSN_REPLICA_ID, else hostname:pid */
    const char *broker_endpoint;    /* BROKER_ENDPOINT */
    const char *monitor_endpoint;   /* MONITOR_ENDPOINT */
    uint32_t heartbeat_ms;          /* HEARTBEAT_INTERVAL_MS */
    uint32_t stats_interval_s;      /* METRICS_COLLECTION_INTERVAL */
    bool monitoring;                /* PERFORMANCE_MONITORING_ENABLED */
    uint32_t drain_ms;              /* SHUTDOWN_TIMEOUT_MS */
    hsn_log_level_t log_level;      /* LOG_LEVEL */
} hsn_runtime_config_t;

/*  Read the common variables. Returns 0, or -EINVAL with a message naming
 *  the variable in err. */
int hsn_runtime_config_read (hsn_runtime_config_t *cfg, uint32_t service,
                             char *err, size_t errlen);

/*  Block SIGTERM/SIGINT (call first in main, before any thread starts, so
 *  every thread inherits the mask) and return a signalfd that reads them,
 *  or -errno. Also stops czmq from installing its own handlers. */
int hsn_signals_block (void);

/*  Run loop until a signal arrives on sigfd, then drain worker (no new
 *  work; wait up to drain_ms for the requests in flight) and return.
 *  on_drain, if set, is called once when draining starts. */
typedef void (hsn_drain_fn) (void *arg);
void hsn_runtime_run (zloop_t *loop, int sigfd, hsn_worker_t *worker,
                      uint32_t drain_ms, hsn_drain_fn *on_drain, void *arg);

#endif
