/*  hsn_reporter: a replica's heartbeats and stats to the monitor.
 *
 *  A background thread with a PUSH socket connected to the monitor. Every
 *  heartbeat interval it sends HEARTBEAT (service, replica, uptime, CPU %,
 *  RSS, the health of the replica's dependencies); every stats interval it
 *  sends STATS (a snapshot of the metrics registry). Sends never block: if
 *  the monitor is away, messages are dropped, never queued without bound,
 *  and the service does not notice.
 */
#ifndef HSN_REPORTER_H
#define HSN_REPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include "hsn_metrics.h"

#define HSN_REPORTER_MAX_DEPS 4

typedef struct hsn_reporter hsn_reporter_t;

typedef struct {
    const char *endpoint;           /* monitor, e.g. tcp://monitor:5556 */
    uint32_t service;               /* HSN_SERVICE_* */
    const char *replica;
    uint32_t heartbeat_ms;
    uint32_t stats_interval_s;
    bool send_stats;                /* PERFORMANCE_MONITORING_ENABLED */
    hsn_metrics_t *metrics;         /* read concurrently; may be NULL */
    const char *deps[HSN_REPORTER_MAX_DEPS];  /* dependency names, NULL-ended */
} hsn_reporter_config_t;

/*  Start the thread. Returns NULL when the endpoint is invalid. */
hsn_reporter_t *hsn_reporter_new (const hsn_reporter_config_t *cfg);

/*  Stop the thread; NULL-safe; nulls *self_p. */
void hsn_reporter_destroy (hsn_reporter_t **self_p);

/*  Record whether dependency number idx (its index in cfg->deps) is up.
 *  Thread-safe, wait-free. */
void hsn_reporter_dep_set (hsn_reporter_t *self, int idx, bool up);

#endif
