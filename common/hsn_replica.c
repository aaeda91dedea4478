/*  hsn_replica: shared wiring of worker services. See hsn_replica.h. */
#include "hsn_replica.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int
hsn_replica_config (hsn_runtime_config_t *rt, uint32_t service, char *err,
                    size_t errlen)
{
    const char *name = hsn_service_name (service);
    hsn_log_init (name, "-", HSN_LOG_INFO);
    int sigfd = hsn_signals_block ();
    if (sigfd < 0) {
        snprintf (err, errlen, "cannot block signals: %s", strerror (-sigfd));
        return -1;
    }
    if (hsn_runtime_config_read (rt, service, err, errlen)) {
        close (sigfd);
        return -1;
    }
    hsn_log_init (name, rt->replica, rt->log_level);
    return sigfd;
}

int
hsn_replica_start (hsn_replica_t *self, const hsn_runtime_config_t *rt,
                   const hsn_replica_config_t *cfg)
{
    memset (self, 0, sizeof *self);
    self->loop = zloop_new ();
    hsn_worker_config_t wcfg = { rt->broker_endpoint, rt->service, rt->replica,
                                 cfg->credits, rt->heartbeat_ms, cfg->handler, cfg->arg,
                                 cfg->batch_end };
    self->worker = hsn_worker_new (self->loop, &wcfg);
    hsn_reporter_config_t rcfg = { rt->monitor_endpoint, rt->service, rt->replica,
                                   rt->heartbeat_ms, rt->stats_interval_s, rt->monitoring,
                                   cfg->metrics, { NULL } };
    memcpy (rcfg.deps, cfg->deps, sizeof rcfg.deps);
    self->reporter = hsn_reporter_new (&rcfg);
    if (!self->worker || !self->reporter) {
        hsn_replica_stop (self);
        return -EINVAL;
    }
    return 0;
}

void
hsn_replica_run (hsn_replica_t *self, const hsn_runtime_config_t *rt, int sigfd)
{
    hsn_runtime_run (self->loop, sigfd, self->worker, rt->drain_ms, NULL, NULL);
}

void
hsn_replica_stop (hsn_replica_t *self)
{
    hsn_reporter_destroy (&self->reporter);
    hsn_worker_destroy (&self->worker);
    zloop_destroy (&self->loop);
}
