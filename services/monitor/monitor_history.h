/*  monitor_history: what happened in the cluster, slot by slot.
 *
 *  Two rings of time slots: a fine one (e.g. 60 slots of 5 s: the last five
 *  minutes) and a coarse one (e.g. 120 slots of 30 s: the last hour). Every
 *  difference monitor_stats reports goes into the current slot of both:
 *  per (replica, metric), counters' increases add up, histograms' new
 *  samples merge, a gauge keeps its latest value. So the increase of any
 *  counter, or the distribution of any histogram, over the last N seconds,
 *  for one replica, one service or the cluster, is a merge of the slots
 *  that cover them: exact, whatever replicas came and went meanwhile.
 *
 *  Each slot also keeps per-service scalars observed while it was current
 *  (replicas up, CPU, memory), for trends and charts.
 *
 *  Time is a parameter (milliseconds on any monotonic clock): slots are
 *  aligned to the start time given to new, and advance when told.
 *  Bounded: a slot holds at most MONITOR_SLOT_MAX_ENTRIES entries and the
 *  rings max_bytes in all (oldest coarse slots are emptied first).
 */
#ifndef MONITOR_HISTORY_H
#define MONITOR_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hsn_proto.h"
#include "monitor_stats.h"

#define MONITOR_SLOT_MAX_ENTRIES 65536

/*  One (replica, metric) in one slot. */
typedef struct {
    uint32_t serial;                /* monitor_rstats_t serial */
    uint16_t name;
    uint8_t service;
    uint8_t kind;
    uint64_t u;                     /* counter: increase in the slot */
    int64_t g;                      /* gauge: latest value in the slot */
    monitor_sparse_t *h;            /* histogram: samples in the slot */
} monitor_entry_t;

/*  Per service, as last observed during a slot. Percentages are of the
 *  replica's limit (CPU cores, memory), -1 when no replica was up. */
typedef struct {
    uint32_t up;
    double cpu_avg, cpu_min, cpu_max;
    double mem_max;
} monitor_scalars_t;

typedef struct {
    int64_t fine_ms;                /* width of a fine slot */
    uint32_t fine_slots;
    int64_t coarse_ms;
    uint32_t coarse_slots;
    size_t max_bytes;               /* all slots' entries together */
} monitor_history_config_t;

/*  One slot, read-only, valid until the history changes. */
typedef struct {
    int64_t start_ms, end_ms;       /* [start, end); end is now for the current */
    const monitor_entry_t *entries;
    size_t n;
    bool has_scalars;
    monitor_scalars_t scalars[HSN_SERVICE__MAX];
} monitor_slot_view_t;

typedef struct monitor_history monitor_history_t;

/*  Slots are aligned to start_ms. Zero widths or counts get defaults (5 s x
 *  60, 30 s x 120, 64 MiB). */
monitor_history_t *monitor_history_new (const monitor_history_config_t *cfg,
                                        int64_t start_ms);

/*  NULL-safe; nulls *self_p. */
void monitor_history_destroy (monitor_history_t **self_p);

/*  Move the current slots up to now_ms (closing what ended, leaving empty
 *  slots for silent periods) and record the scalars (may be NULL) in them.
 *  Time never goes back: an earlier now_ms is taken as the latest seen. */
void monitor_history_advance (monitor_history_t *self, int64_t now_ms,
                              const monitor_scalars_t scalars[HSN_SERVICE__MAX]);

/*  Add one difference of replica r (see monitor_stats) at now_ms.
 *  Returns 0, or -ENOSPC when the slot or the byte budget is full (dropped). */
int monitor_history_add (monitor_history_t *self, int64_t now_ms,
                         const monitor_rstats_t *r, const monitor_val_t *d);

/*  The slots covering the last window_ms before now_ms, oldest first, from
 *  the fine ring when it reaches that far back, else the coarse one: every
 *  slot that ends after now_ms - window_ms, the current one included. Fills
 *  at most max views and returns how many there are. */
size_t monitor_history_window (monitor_history_t *self, int64_t now_ms, int64_t window_ms,
                               monitor_slot_view_t *views, size_t max);

/*  Most slots a window can return (size views arrays with it). */
size_t monitor_history_max_slots (const monitor_history_t *self);

/*  The width of the slots a window of window_ms is served from. */
int64_t monitor_history_slot_ms (const monitor_history_t *self, int64_t window_ms);

/*  Bytes held by entries, and entries dropped for lack of room so far. */
size_t monitor_history_bytes (const monitor_history_t *self);
uint64_t monitor_history_dropped (const monitor_history_t *self);

#endif
