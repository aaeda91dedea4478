/*  monitor_stats: the latest metrics of every replica, and what changed.
 *
 *  Every STATS a replica sends holds its whole registry, cumulative since
 *  the replica started. For each replica the monitor keeps the latest one
 *  (compact: interned names, sparse histograms), for Prometheus and the
 *  per-replica view, and hands the DIFFERENCE with the previous one to a
 *  callback (the history): counter increases, histogram samples added,
 *  gauges' current values. Differences are never negative:
 *
 *  - a counter that went down, or a histogram that lost samples, means the
 *    replica restarted in between (a reset): everything it now holds is new;
 *  - a replica restarted under the same id (said by its heartbeat's uptime,
 *    see monitor_stats_restarted) counts its next STATS in full;
 *  - the first STATS of a replica is a baseline only (like Prometheus'
 *    increase()): it may carry hours of history the monitor did not see
 *    happen, e.g. after the monitor restarted; unless the caller knows the
 *    replica has just started (first_counts), then it counts in full.
 *
 *  Bounded: at most max_replicas replicas (more are refused), at most
 *  HSN_METRICS_MAX metrics each (the registry the input is parsed into),
 *  names from a bounded table, MONITOR_STATS_MAX_BYTES for all the latest
 *  values together (a STATS that would pass it is refused). Input is parsed
 *  by hsn_metrics_unpack_merge, which checks every length before trusting
 *  it.
 */
#ifndef MONITOR_STATS_H
#define MONITOR_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "monitor_names.h"
#include "monitor_sparse.h"

#define MONITOR_ID_MAX 100          /* bytes of a replica id */
#define MONITOR_STATS_MAX_BYTES (64u << 20)

/*  One metric's value: counters in u, gauges in g, histograms in h. */
typedef struct {
    uint16_t name;                  /* monitor_names id */
    uint8_t kind;                   /* HSN_METRIC_* */
    uint64_t u;
    int64_t g;
    monitor_sparse_t *h;
} monitor_val_t;

typedef struct {
    uint32_t serial;                /* unique for the monitor's life */
    uint32_t service;               /* HSN_SERVICE_* */
    char id[MONITOR_ID_MAX + 1];
    int64_t last_ms;                /* when its latest STATS arrived */
    bool fresh;                     /* restarted: next STATS counts in full */
    size_t n;
    monitor_val_t *vals;            /* latest values, ascending name id */
    size_t bytes;                   /* what vals hold */
} monitor_rstats_t;

/*  Called once per changed metric of a STATS: d->u is the counter's
 *  increase, d->g the gauge's value, d->h the histogram's new samples. d
 *  and what it points to live only during the call. */
typedef void (monitor_delta_fn) (void *arg, const monitor_rstats_t *r,
                                 const monitor_val_t *d);

typedef struct monitor_stats monitor_stats_t;

/*  names is shared with the caller and must outlive the stats. */
monitor_stats_t *monitor_stats_new (monitor_names_t *names, size_t max_replicas);

/*  NULL-safe; nulls *self_p. */
void monitor_stats_destroy (monitor_stats_t **self_p);

/*  Take the "stats" map (mp[0..len), as packed by hsn_metrics_pack) of
 *  replica id of service, received at now_ms; report differences to fn.
 *  Returns 0, -EBADMSG (malformed: nothing changes), -ENOSPC (a new replica
 *  while max_replicas are tracked, or over MONITOR_STATS_MAX_BYTES), -EINVAL
 *  (bad service or id), -ENOMEM. */
int monitor_stats_take (monitor_stats_t *self, uint32_t service, const char *id,
                        size_t idlen, const void *mp, size_t len, int64_t now_ms,
                        bool first_counts, monitor_delta_fn *fn, void *arg);

/*  The replica restarted: its next STATS counts in full. */
void monitor_stats_restarted (monitor_stats_t *self, uint32_t service, const char *id,
                              size_t idlen);

/*  Drop replicas whose latest STATS is older than before_ms. */
void monitor_stats_forget (monitor_stats_t *self, int64_t before_ms);

/*  Bytes the latest values of every replica hold. */
size_t monitor_stats_bytes (const monitor_stats_t *self);

/*  Replicas tracked, and the i-th (in order of first STATS). */
size_t monitor_stats_count (const monitor_stats_t *self);
const monitor_rstats_t *monitor_stats_at (const monitor_stats_t *self, size_t i);

/*  The replica, or NULL. */
const monitor_rstats_t *monitor_stats_find (const monitor_stats_t *self, uint32_t service,
                                            const char *id);

/*  Its latest value of metric id name, or NULL. */
const monitor_val_t *monitor_rstats_val (const monitor_rstats_t *r, uint32_t name);

#endif
