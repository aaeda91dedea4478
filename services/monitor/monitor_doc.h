/*  monitor_doc: the monitor's documents, as msgpack (the gateway turns them
 *  into the JSON of the /api/optimization routes). Layouts are in proto/README.md,
 *  section "Monitor operations". Figures without data are nil, never 0.
 */
#ifndef MONITOR_DOC_H
#define MONITOR_DOC_H

#include <msgpack.h>
#include <stdbool.h>
#include "monitor_rules.h"

/*  Summary: every KPI with value, target, status. When !monitoring: the
 *  status "disabled", a message and no KPIs. */
void monitor_doc_summary (msgpack_packer *pk, const monitor_view_t *v, const monitor_kpis_t *k,
                          const monitor_targets_t *t, bool monitoring);

/*  Metrics per service and replica over the window, and the chart series
 *  of its slots. Replicas' details stop once the document would exceed
 *  max_bytes ("truncated": true). Returns 0 or -ENOMEM. */
int monitor_doc_metrics (msgpack_packer *pk, const monitor_view_t *v, bool monitoring,
                         size_t max_bytes);

/*  Recommendations, each with its evidence and action. */
void monitor_doc_recs (msgpack_packer *pk, const monitor_view_t *v, const monitor_recs_t *r,
                       bool monitoring);

/*  Small helpers shared with the other documents. */
void monitor_pack_str (msgpack_packer *pk, const char *s);
/*  A figure, or nil when negative (no data) or not finite. */
void monitor_pack_fig (msgpack_packer *pk, double v);

#endif
