/*  monitor_sparse: a histogram as the monitor keeps it, sparse.
 *
 *  An hsn_hist_t holds every bucket (some 4 KiB); the monitor keeps many
 *  histograms (the latest of every replica, the increases of every history
 *  slot), most of whose buckets are zero. A sparse histogram lists only the
 *  non-zero buckets, in ascending order, with the same count/sum/max, and
 *  uses the same fixed log-linear buckets: adding two of them, or adding one
 *  into an hsn_hist_t, is exact, so percentiles of merged sparse histograms
 *  are the percentiles of the union of their samples (within one bucket).
 *
 *  One allocation each; free with free().
 */
#ifndef MONITOR_SPARSE_H
#define MONITOR_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hsn_metrics.h"

typedef struct {
    uint64_t count;             /* samples (the sum of the buckets) */
    uint64_t sum;               /* of sample values, wraps */
    uint64_t max;               /* an upper bound of every sample */
    uint32_t n;                 /* non-zero buckets */
    uint32_t reserved;
    uint64_t data[];            /* n counts, then n uint16_t bucket indexes */
} monitor_sparse_t;

static inline uint64_t *
monitor_sparse_cnt (monitor_sparse_t *s)
{
    return s->data;
}

static inline const uint64_t *
monitor_sparse_ccnt (const monitor_sparse_t *s)
{
    return s->data;
}

static inline const uint16_t *
monitor_sparse_idx (const monitor_sparse_t *s)
{
    return (const uint16_t *) (s->data + s->n);
}

/*  Bytes the histogram occupies. */
size_t monitor_sparse_bytes (const monitor_sparse_t *s);

/*  A sparse copy of h (read plainly: h must not change meanwhile). NULL
 *  when out of memory. */
monitor_sparse_t *monitor_sparse_from (const hsn_hist_t *h);

/*  What now holds that before did not: the samples recorded between two
 *  cumulative snapshots of one replica's histogram. When a bucket or the
 *  count went down, the replica was reset (restarted) in between: *reset is
 *  set and the result is a copy of now (everything since the reset).
 *  before may be NULL (everything is new). The result's max is the smaller
 *  of now's max and the top of its highest bucket. Returns NULL when nothing
 *  changed or out of memory (*reset is valid either way). */
monitor_sparse_t *monitor_sparse_delta (const monitor_sparse_t *now,
                                        const monitor_sparse_t *before, bool *reset);

/*  into + from, as a new histogram (into is freed); into may be NULL (a
 *  copy of from). On out of memory into is returned unchanged. */
monitor_sparse_t *monitor_sparse_add (monitor_sparse_t *into, const monitor_sparse_t *from);

/*  Add s into the dense histogram h (plain, not atomic: h is private). */
void monitor_sparse_merge (hsn_hist_t *h, const monitor_sparse_t *s);

/*  Samples at most v (exact when v is the top of a bucket: the buckets are
 *  whole microseconds, so for v = 2^k - 1 it is). */
uint64_t monitor_sparse_count_le (const monitor_sparse_t *s, uint64_t v);

#endif
