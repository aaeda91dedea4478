/*  hsn_replica: the wiring every worker service's main shares.
 *
 *  A replica is a zloop with a broker link (hsn_worker) and a reporter to
 *  the monitor. The service brings its handler, credits, metrics and the
 *  names of the dependencies it reports; main then runs hsn_replica_run and
 *  tears down with hsn_replica_stop, in reverse order of set-up.
 */
#ifndef HSN_REPLICA_H
#define HSN_REPLICA_H

#include "hsn_reporter.h"
#include "hsn_runtime.h"

typedef struct {
    zloop_t *loop;
    hsn_worker_t *worker;
    hsn_reporter_t *reporter;
} hsn_replica_t;

typedef struct {
    uint32_t credits;
    hsn_worker_fn *handler;
    void *arg;
    hsn_worker_batch_fn *batch_end;             /* may be NULL */
    hsn_metrics_t *metrics;                     /* may be NULL */
    const char *deps[HSN_REPORTER_MAX_DEPS];    /* NULL-ended */
} hsn_replica_config_t;

/*  Create the loop, connect to the broker, start reporting. Returns 0, or
 *  -EINVAL when an endpoint in rt is invalid (nothing is left running). */
int hsn_replica_start (hsn_replica_t *self, const hsn_runtime_config_t *rt,
                       const hsn_replica_config_t *cfg);

/*  Run until SIGTERM/SIGINT on sigfd, then drain (see hsn_runtime_run). */
void hsn_replica_run (hsn_replica_t *self, const hsn_runtime_config_t *rt, int sigfd);

/*  Stop reporting, leave the broker, destroy the loop. Safe on a zeroed or
 *  partly started replica. */
void hsn_replica_stop (hsn_replica_t *self);

/*  The prologue of every main: block signals, name the log lines after the
 *  service, read the common configuration. Returns the signalfd, or -1 with
 *  the reason in err (the caller logs it and exits 2). */
int hsn_replica_config (hsn_runtime_config_t *rt, uint32_t service, char *err,
                        size_t errlen);

#endif
