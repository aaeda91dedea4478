/*  hsn_metrics: counters, gauges and latency histograms.
 *
 *  Histograms use FIXED log-linear buckets, the same in every process, so
 *  that the histograms of several replicas merge by adding bucket counts
 *  into a true cluster-wide distribution. Percentiles are computed from the
 *  merged buckets; averaging per-replica percentiles would be meaningless.
 *
 *  Buckets (values are microseconds): 0..15 get one bucket each; then each
 *  power of two [2^k, 2^(k+1)) for k = 4..36 is cut into 16 equal
 *  sub-buckets, so a bucket's width is at most 1/16 of its lower bound
 *  (relative error <= 6.25%). Values from 2^37 us (~38 hours) up land in the
 *  last bucket.
 *
 *  Metrics are registered at start-up, before threads start, and the
 *  registry hands out stable pointers that hot paths update atomically with
 *  no lookup. Updating and reading (snapshot, pack, iteration) are
 *  thread-safe; registration is not, except that one thread may register
 *  (hsn_metrics_unpack_merge in the monitor) while others read.
 */
#ifndef HSN_METRICS_H
#define HSN_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define HSN_HIST_SUB_BITS 4                     /* 16 sub-buckets */
#define HSN_HIST_SUB (1 << HSN_HIST_SUB_BITS)
#define HSN_HIST_MIN_EXP HSN_HIST_SUB_BITS      /* first split power: 2^4 */
#define HSN_HIST_MAX_EXP 36                     /* last split power: 2^36 */
#define HSN_HIST_BUCKETS \
    (HSN_HIST_SUB + (HSN_HIST_MAX_EXP - HSN_HIST_MIN_EXP + 1) * HSN_HIST_SUB)

/*  Bucket holding v (values above the top go into the last bucket). */
size_t hsn_hist_bucket_of (uint64_t v);
/*  Smallest value of bucket i (i < HSN_HIST_BUCKETS). */
uint64_t hsn_hist_bucket_lower (size_t i);
/*  Largest value of bucket i, inclusive; UINT64_MAX for the last bucket. */
uint64_t hsn_hist_bucket_upper (size_t i);

typedef struct hsn_hist {
    uint64_t count;                     /* samples */
    uint64_t sum;                       /* of sample values, wraps */
    uint64_t max;                       /* largest sample */
    uint64_t buckets[HSN_HIST_BUCKETS];
} hsn_hist_t;

/*  Record one sample. Lock-free; any thread. */
void hsn_hist_record (hsn_hist_t *h, uint64_t us);

/*  Add from's samples into into (from is read atomically, into is updated
 *  atomically). */
void hsn_hist_merge (hsn_hist_t *into, const hsn_hist_t *from);

/*  The p-th percentile, p in 0..100 (clamped): the inclusive upper bound of
 *  the bucket holding the sample of rank ceil(p/100 * count) (at least 1),
 *  clamped to max, so at most 6.25% above the exact value and never below
 *  it. 0 when empty. count here is the sum of the buckets, which stays
 *  consistent with them even while other threads record. */
uint64_t hsn_hist_percentile (const hsn_hist_t *h, double p);

/*  Zero the histogram (atomic stores; a sample recorded concurrently may be
 *  partly kept). */
void hsn_hist_reset (hsn_hist_t *h);

/*  Copy h into out with atomic loads, for reading a live histogram. */
void hsn_hist_snapshot (const hsn_hist_t *h, hsn_hist_t *out);

/*  Registry. */
#define HSN_METRICS_MAX 256
#define HSN_METRIC_NAME_MAX 96          /* bytes, without the NUL */

typedef enum {
    HSN_METRIC_COUNTER = 1,
    HSN_METRIC_GAUGE,
    HSN_METRIC_HIST
} hsn_metric_kind_t;

typedef struct hsn_metrics hsn_metrics_t;

/*  New empty registry, or NULL when out of memory. */
hsn_metrics_t *hsn_metrics_new (void);

/*  Destroy the registry and set *self_p to NULL. NULL-safe. Pointers it
 *  handed out die with it. */
void hsn_metrics_destroy (hsn_metrics_t **self_p);

/*  Register (or find) a metric and return a pointer that stays valid for
 *  the registry's life. Registering a name again returns the same pointer.
 *  Asserts (programmer error): name longer than HSN_METRIC_NAME_MAX, more
 *  than HSN_METRICS_MAX metrics, a name registered with another kind. */
uint64_t *hsn_metrics_counter (hsn_metrics_t *m, const char *name);
int64_t *hsn_metrics_gauge (hsn_metrics_t *m, const char *name);
hsn_hist_t *hsn_metrics_hist (hsn_metrics_t *m, const char *name);

/*  Hot-path updates and reads: relaxed atomics, any thread. */
static inline void
hsn_counter_add (uint64_t *c, uint64_t n)
{
    __atomic_fetch_add (c, n, __ATOMIC_RELAXED);
}

static inline uint64_t
hsn_counter_get (const uint64_t *c)
{
    return __atomic_load_n (c, __ATOMIC_RELAXED);
}

static inline void
hsn_gauge_set (int64_t *g, int64_t v)
{
    __atomic_store_n (g, v, __ATOMIC_RELAXED);
}

static inline void
hsn_gauge_add (int64_t *g, int64_t delta)
{
    __atomic_fetch_add (g, delta, __ATOMIC_RELAXED);
}

static inline int64_t
hsn_gauge_get (const int64_t *g)
{
    return __atomic_load_n (g, __ATOMIC_RELAXED);
}

/*  Pack the registry as ONE msgpack map:
 *      {"counters": {name: uint}, "gauges": {name: int},
 *       "hists": {name: [count, sum, max, [[bucket, count], ...]]}}
 *  listing only the non-zero buckets. */
void hsn_metrics_pack (hsn_metrics_t *m, msgpack_packer *pk);

/*  Merge a packed registry (from hsn_metrics_pack, possibly of another
 *  replica) into into: counters and gauges are added (so that merging the
 *  replicas sums them), histograms merged; names are registered as needed.
 *  Names that do not fit (registry full, too long, registered with another
 *  kind) are skipped silently. Unknown top-level keys and extra trailing
 *  histogram elements are ignored (forward compatibility). Never allocates
 *  while parsing and never trusts a length before checking it.
 *  Returns 0, or -EBADMSG for malformed input (bad msgpack, nesting deeper
 *  than 8, wrong types, bucket index out of range); into is then unchanged.
 */
int hsn_metrics_unpack_merge (hsn_metrics_t *into, const void *mp, size_t len);

/*  Iteration for exporters, in registration order. Metrics registered by
 *  another thread meanwhile appear at the end. */
size_t hsn_metrics_count (const hsn_metrics_t *m);

/*  Metric i: its name, kind (hsn_metric_kind_t) and value (uint64_t *,
 *  int64_t * or hsn_hist_t *, as for the registration functions).
 *  Returns 0, or -ERANGE when i >= hsn_metrics_count (m). */
int hsn_metrics_at (const hsn_metrics_t *m, size_t i, const char **name,
                    int *kind, void **value);

#endif
