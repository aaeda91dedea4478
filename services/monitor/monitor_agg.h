/*  monitor_agg: history entries added up, for one scope and window.
 *
 *  Feed it the entries of some slots (oldest first), optionally only one
 *  service's or one replica's; then ask by metric name: a counter's total
 *  increase, a gauge's value (the sum over replicas of each one's latest),
 *  a histogram's merged distribution. Names may be patterns (see
 *  monitor_name_match) to add up families such as "query.*.latency_us".
 *  Absent metrics are reported absent, never as zero.
 */
#ifndef MONITOR_AGG_H
#define MONITOR_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hsn_metrics.h"
#include "monitor_history.h"
#include "monitor_names.h"

typedef struct {
    uint32_t serial;
    int64_t g;
} monitor_gval_t;

typedef struct {
    uint16_t name;
    uint8_t kind;
    uint64_t u;                     /* counter: total increase */
    hsn_hist_t *h;                  /* histogram: merged */
    monitor_gval_t *gv;             /* gauge: latest per replica */
    size_t ngv;
} monitor_agg_item_t;

typedef struct {
    const monitor_names_t *names;
    uint32_t nnames;
    int32_t *index;                 /* name id -> item index + 1 */
    monitor_agg_item_t *items;
    size_t n, cap;
} monitor_agg_t;

/*  Empty aggregate over the names known now. Returns 0 or -ENOMEM. */
int monitor_agg_init (monitor_agg_t *a, const monitor_names_t *names);

/*  Free what it holds; it may be initialised again. */
void monitor_agg_release (monitor_agg_t *a);

/*  Add one entry. Returns 0 or -ENOMEM (the entry is then left out). */
int monitor_agg_add (monitor_agg_t *a, const monitor_entry_t *e);

/*  Add the entries of n slots, oldest first, of service (0: any) and
 *  replica serial (0: any). */
void monitor_agg_slots (monitor_agg_t *a, const monitor_slot_view_t *views, size_t n,
                        uint32_t service, uint32_t serial);

/*  The item for metric name of kind, or NULL. */
const monitor_agg_item_t *monitor_agg_item (const monitor_agg_t *a, const char *name, int kind);

/*  The value of a gauge item (sum over replicas). */
int64_t monitor_agg_gauge_value (const monitor_agg_item_t *it);

/*  Total increase of the counters matching pattern. Returns how many
 *  matched (0: no data, *out = 0). */
size_t monitor_agg_counter (const monitor_agg_t *a, const char *pattern, uint64_t *out);

/*  Sum of the gauges matching pattern. Returns how many matched. */
size_t monitor_agg_gauge (const monitor_agg_t *a, const char *pattern, int64_t *out);

/*  Merge the histograms matching pattern into out (zeroed first). Returns
 *  how many matched. */
size_t monitor_agg_hist (const monitor_agg_t *a, const char *pattern, hsn_hist_t *out);

#endif
