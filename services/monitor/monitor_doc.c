/*  monitor_doc: summary and recommendations documents. See monitor_doc.h.
 *  (The metrics document is in monitor_doc_metrics.c.) */
#include "monitor_doc.h"

#include <math.h>
#include <string.h>

void
monitor_pack_str (msgpack_packer *pk, const char *s)
{
    size_t n = strlen (s);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

void
monitor_pack_fig (msgpack_packer *pk, double v)
{
    if (v < 0 || !isfinite (v))
        msgpack_pack_nil (pk);
    else
        msgpack_pack_double (pk, round (v * 1000.0) / 1000.0);
}

static void
pack_kfig (msgpack_packer *pk, const char *k, double v)
{
    monitor_pack_str (pk, k);
    monitor_pack_fig (pk, v);
}

static void
pack_kuint (msgpack_packer *pk, const char *k, uint64_t v)
{
    monitor_pack_str (pk, k);
    msgpack_pack_uint64 (pk, v);
}

static void
pack_kstr (msgpack_packer *pk, const char *k, const char *v)
{
    monitor_pack_str (pk, k);
    if (v && *v)
        monitor_pack_str (pk, v);
    else
        msgpack_pack_nil (pk);
}

static void
pack_targets (msgpack_packer *pk, const monitor_targets_t *t)
{
    msgpack_pack_map (pk, 7);
    pack_kfig (pk, "response_p95_ms", t->response_p95_ms);
    pack_kfig (pk, "cache_hit_rate_percent", t->cache_hit_rate);
    pack_kfig (pk, "error_rate_percent", t->error_rate);
    pack_kfig (pk, "cpu_percent", t->cpu);
    pack_kfig (pk, "memory_percent", t->memory);
    pack_kfig (pk, "db_query_p95_ms", t->db_query_ms);
    pack_kfig (pk, "agent_latency_p95_ms", t->agent_latency_ms);
}

static void
pack_kpi (msgpack_packer *pk, const monitor_kpi_t *x)
{
    bool latency = strcmp (x->unit, "ms") == 0, where = x->replica[0] != '\0';
    msgpack_pack_map (pk, 8 + (latency ? 2 : 0) + (where ? 2 : 0));
    pack_kstr (pk, "name", x->name);
    pack_kstr (pk, "scope", x->scope);
    monitor_pack_str (pk, "value");
    if (x->status == MONITOR_KPI_NO_DATA)
        msgpack_pack_nil (pk);
    else
        monitor_pack_fig (pk, x->value);
    pack_kstr (pk, "unit", x->unit);
    pack_kfig (pk, "target", x->target);
    pack_kstr (pk, "compare", x->higher_better ? ">=" : "<=");
    pack_kstr (pk, "status", monitor_kpi_status_name (x->status));
    pack_kuint (pk, "samples", x->samples);
    if (latency) {
        pack_kfig (pk, "p50", x->status == MONITOR_KPI_NO_DATA ? -1 : x->p50);
        pack_kfig (pk, "p99", x->status == MONITOR_KPI_NO_DATA ? -1 : x->p99);
    }
    if (where) {
        pack_kstr (pk, "service", x->service);
        pack_kstr (pk, "replica", x->replica);
    }
}

static void
pack_services (msgpack_packer *pk, const monitor_view_t *v)
{
    uint32_t up[HSN_SERVICE__MAX] = { 0 }, total[HSN_SERVICE__MAX] = { 0 }, n = 0;
    for (size_t i = 0; i < v->nreplicas; i++) {
        total[v->replicas[i].service]++;
        up[v->replicas[i].service] += v->replicas[i].up;
    }
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        n += total[s] > 0;
    msgpack_pack_map (pk, n);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        if (!total[s])
            continue;
        monitor_pack_str (pk, hsn_service_name (s));
        msgpack_pack_map (pk, 2);
        pack_kuint (pk, "replicas_up", up[s]);
        pack_kuint (pk, "replicas_total", total[s]);
    }
}

void
monitor_doc_summary (msgpack_packer *pk, const monitor_view_t *v, const monitor_kpis_t *k,
                     const monitor_targets_t *t, bool monitoring)
{
    if (!monitoring) {
        msgpack_pack_map (pk, 6);
        monitor_pack_str (pk, "monitoring");
        msgpack_pack_false (pk);
        pack_kstr (pk, "status", "disabled");
        pack_kstr (pk, "message", "PERFORMANCE_MONITORING_ENABLED is false: no stats are "
                   "collected, so there are no KPIs; health still works");
        pack_kuint (pk, "window_s", (uint64_t) (v->window_ms / 1000));
        monitor_pack_str (pk, "targets");
        pack_targets (pk, t);
        monitor_pack_str (pk, "kpis");
        msgpack_pack_array (pk, 0);
        return;
    }
    msgpack_pack_map (pk, 11);
    monitor_pack_str (pk, "monitoring");
    msgpack_pack_true (pk);
    pack_kstr (pk, "status", monitor_kpi_status_name (monitor_kpis_overall (k)));
    pack_kuint (pk, "window_s", (uint64_t) (v->window_ms / 1000));
    pack_kuint (pk, "covered_s", (uint64_t) (v->covered_ms / 1000));
    monitor_pack_str (pk, "targets");
    pack_targets (pk, t);
    monitor_pack_str (pk, "kpis");
    msgpack_pack_array (pk, (uint32_t) k->n);
    for (size_t i = 0; i < k->n; i++)
        pack_kpi (pk, &k->kpi[i]);
    monitor_pack_str (pk, "cache");
    msgpack_pack_map (pk, 3);
    pack_kuint (pk, "lookups", k->lookups);
    pack_kfig (pk, "hit_rate_percent",
               k->lookups ? 100.0 * (double) (k->hits[0] + k->hits[1] + k->hits[2])
                            / (double) k->lookups : -1);
    monitor_pack_str (pk, "levels");
    static const char *const levels[] = { "near", "l1", "l2" };
    msgpack_pack_map (pk, 3);
    for (int i = 0; i < 3; i++)
        pack_kfig (pk, levels[i], k->lookups && k->has_level[i]
                                  ? 100.0 * (double) k->hits[i] / (double) k->lookups : -1);
    pack_kuint (pk, "requests", k->requests);
    pack_kuint (pk, "errors_5xx", k->errors);
    monitor_pack_str (pk, "slow_queries");
    msgpack_pack_array (pk, (uint32_t) k->nslow);
    for (size_t i = 0; i < k->nslow; i++) {
        msgpack_pack_map (pk, 4);
        pack_kstr (pk, "query", k->slow[i].name);
        pack_kfig (pk, "p95_ms", k->slow[i].p95_ms);
        pack_kuint (pk, "count", k->slow[i].count);
        pack_kfig (pk, "share_percent", k->slow[i].share_pct);
    }
    monitor_pack_str (pk, "services");
    pack_services (pk, v);
}

void
monitor_doc_recs (msgpack_packer *pk, const monitor_view_t *v, const monitor_recs_t *r,
                  bool monitoring)
{
    msgpack_pack_map (pk, 6);
    monitor_pack_str (pk, "monitoring");
    if (monitoring)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    pack_kstr (pk, "status", !monitoring ? "disabled" : r->n ? "attention" : "ok");
    pack_kuint (pk, "window_s", (uint64_t) (v->window_ms / 1000));
    if (monitoring)
        pack_kuint (pk, "covered_s", (uint64_t) (v->covered_ms / 1000));
    else
        pack_kstr (pk, "message", "PERFORMANCE_MONITORING_ENABLED is false: no stats, "
                   "no recommendations");
    pack_kuint (pk, "count", monitoring ? r->n : 0);
    monitor_pack_str (pk, "recommendations");
    size_t n = monitoring ? r->n : 0;
    msgpack_pack_array (pk, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        const monitor_rec_t *x = &r->rec[i];
        msgpack_pack_map (pk, 8);
        pack_kstr (pk, "rule", x->rule);
        pack_kstr (pk, "severity", x->severity);
        pack_kstr (pk, "service", x->service);
        pack_kstr (pk, "replica", x->replica);
        pack_kstr (pk, "subject", x->subject);
        pack_kstr (pk, "message", x->message);
        pack_kstr (pk, "action", x->action);
        monitor_pack_str (pk, "evidence");
        msgpack_pack_map (pk, 5);
        pack_kstr (pk, "metric", x->metric);
        pack_kfig (pk, "value", x->value);
        pack_kfig (pk, "threshold", x->threshold);
        pack_kstr (pk, "unit", x->unit);
        pack_kuint (pk, "window_s", (uint64_t) x->window_s);
    }
}
