/*  monitor_doc_metrics: the metrics document (per service and replica over
 *  a window) and the chart series. See monitor_doc.h. */
#include "monitor_doc.h"

#include <stdlib.h>
#include <string.h>

/*  Append a packed buffer to pk as it is (it holds whole objects). */
static void
pack_raw (msgpack_packer *pk, const msgpack_sbuffer *sb)
{
    if (sb->size)
        pk->callback (pk->data, sb->data, sb->size);
}

static void
pack_hist_stats (msgpack_packer *pk, const hsn_hist_t *h)
{
    bool any = h && h->count;
    msgpack_pack_map (pk, 6);
    monitor_pack_str (pk, "count");
    msgpack_pack_uint64 (pk, any ? h->count : 0);
    monitor_pack_str (pk, "p50_ms");
    monitor_pack_fig (pk, any ? monitor_hist_ms (h, 50) : -1);
    monitor_pack_str (pk, "p95_ms");
    monitor_pack_fig (pk, any ? monitor_hist_ms (h, 95) : -1);
    monitor_pack_str (pk, "p99_ms");
    monitor_pack_fig (pk, any ? monitor_hist_ms (h, 99) : -1);
    monitor_pack_str (pk, "max_ms");
    monitor_pack_fig (pk, any ? (double) h->max / 1000.0 : -1);
    monitor_pack_str (pk, "mean_ms");
    monitor_pack_fig (pk, any ? (double) h->sum / (double) h->count / 1000.0 : -1);
}

/*  counters, gauges, histograms of an aggregate; when r is given (one
 *  replica), every metric it reports, with its total, even those that did
 *  not move in the window. */
static void
pack_sections (msgpack_packer *pk, const monitor_view_t *v, const monitor_agg_t *a,
               const monitor_rstats_t *r)
{
    double secs = v->covered_ms > 0 ? (double) v->covered_ms / 1000.0 : 1;
    static const char *const sections[] = { "", "counters", "gauges", "histograms" };
    for (int kind = HSN_METRIC_COUNTER; kind <= HSN_METRIC_HIST; kind++) {
        uint32_t n = 0;
        size_t total = r ? r->n : a->n;
        for (size_t i = 0; i < total; i++)
            n += (r ? r->vals[i].kind : a->items[i].kind) == kind;
        monitor_pack_str (pk, sections[kind]);
        msgpack_pack_map (pk, n);
        for (size_t i = 0; i < total; i++) {
            uint16_t name = r ? r->vals[i].name : a->items[i].name;
            if ((r ? r->vals[i].kind : a->items[i].kind) != kind)
                continue;
            const char *s = monitor_names_str (v->names, name);
            const monitor_agg_item_t *it = r ? monitor_agg_item (a, s, kind) : &a->items[i];
            monitor_pack_str (pk, s);
            if (kind == HSN_METRIC_COUNTER) {
                uint64_t inc = it ? it->u : 0;
                msgpack_pack_map (pk, r ? 3 : 2);
                if (r) {
                    monitor_pack_str (pk, "total");
                    msgpack_pack_uint64 (pk, r->vals[i].u);
                }
                monitor_pack_str (pk, "increase");
                msgpack_pack_uint64 (pk, inc);
                monitor_pack_str (pk, "per_second");
                monitor_pack_fig (pk, (double) inc / secs);
            }
            else if (kind == HSN_METRIC_GAUGE)
                msgpack_pack_int64 (pk, r ? r->vals[i].g : it ? monitor_agg_gauge_value (it) : 0);
            else
                pack_hist_stats (pk, it ? it->h : NULL);
        }
    }
}

static void
pack_replica (msgpack_packer *pk, const monitor_view_t *v, const monitor_replica_info_t *x,
              bool monitoring)
{
    const monitor_rstats_t *r = monitor_stats_find (v->stats, x->service, x->id);
    monitor_agg_t a;
    bool detail = monitoring && r && monitor_agg_init (&a, v->names) == 0;
    msgpack_pack_map (pk, 7 + (detail ? 3 : 0));
    monitor_pack_str (pk, "id");
    monitor_pack_str (pk, x->id);
    monitor_pack_str (pk, "status");
    monitor_pack_str (pk, x->up ? "up" : "down");
    monitor_pack_str (pk, "cpu_percent");
    monitor_pack_fig (pk, x->cpu);
    monitor_pack_str (pk, "cpu_limit_percent");
    monitor_pack_fig (pk, x->cpu_pct);
    monitor_pack_str (pk, "rss_bytes");
    msgpack_pack_uint64 (pk, x->rss);
    monitor_pack_str (pk, "memory_percent");
    monitor_pack_fig (pk, x->mem_pct);
    monitor_pack_str (pk, "uptime_s");
    msgpack_pack_uint64 (pk, x->uptime_s);
    if (!detail)
        return;
    monitor_agg_slots (&a, v->slots, v->nslots, 0, r->serial);
    pack_sections (pk, v, &a, r);
    monitor_agg_release (&a);
}

/*  One service: its window totals and its replicas, within budget. */
static int
pack_service (msgpack_packer *pk, const monitor_view_t *v, uint32_t s, bool monitoring,
              size_t *budget, bool *truncated)
{
    msgpack_sbuffer tmp;
    msgpack_sbuffer_init (&tmp);
    msgpack_packer tp;
    msgpack_packer_init (&tp, &tmp, msgpack_sbuffer_write);
    uint32_t up = 0, listed = 0;
    for (size_t i = 0; i < v->nreplicas; i++) {
        const monitor_replica_info_t *x = &v->replicas[i];
        if (x->service != s)
            continue;
        up += x->up;
        size_t before = tmp.size;
        pack_replica (&tp, v, x, monitoring);
        if (tmp.size > *budget) {
            tmp.size = before;          /* drop it: over budget */
            *truncated = true;
            continue;
        }
        listed++;
    }
    *budget -= tmp.size < *budget ? tmp.size : *budget;
    msgpack_pack_map (pk, monitoring ? 5 : 2);
    monitor_pack_str (pk, "replicas_up");
    msgpack_pack_uint32 (pk, up);
    if (monitoring)
        pack_sections (pk, v, &v->svc[s], NULL);
    monitor_pack_str (pk, "replicas");
    msgpack_pack_array (pk, listed);
    pack_raw (pk, &tmp);
    msgpack_sbuffer_destroy (&tmp);
    return 0;
}

/* ---- series ----------------------------------------------------------- */

typedef double (*point_fn) (const monitor_point_t *p, int i);

static double f_rps (const monitor_point_t *p, int i) { (void) i; return p->rps; }
static double f_err (const monitor_point_t *p, int i) { (void) i; return p->error_pct; }
static double f_p50 (const monitor_point_t *p, int i) { (void) i; return p->p50_ms; }
static double f_p95 (const monitor_point_t *p, int i) { (void) i; return p->p95_ms; }
static double f_p99 (const monitor_point_t *p, int i) { (void) i; return p->p99_ms; }
static double f_route (const monitor_point_t *p, int i) { return p->route_p95_ms[i]; }
static double f_hit (const monitor_point_t *p, int i) { (void) i; return p->hit_pct; }
static double f_db (const monitor_point_t *p, int i) { (void) i; return p->db_p95_ms; }
static double f_agent (const monitor_point_t *p, int i) { (void) i; return p->agent_p95_ms; }
static double f_queue (const monitor_point_t *p, int i) { (void) i; return p->queue_depth; }

static void
pack_column (msgpack_packer *pk, const monitor_point_t *pts, size_t n, point_fn f, int i)
{
    msgpack_pack_array (pk, (uint32_t) n);
    for (size_t j = 0; j < n; j++)
        monitor_pack_fig (pk, f (&pts[j], i));
}

/*  A per-service scalar column of the first n slots: which 0 cpu max, 1
 *  memory max, 2 up. */
static void
pack_scalar_columns (msgpack_packer *pk, const monitor_view_t *v, size_t n, int which)
{
    msgpack_pack_map (pk, HSN_SERVICE__MAX - 1);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        monitor_pack_str (pk, hsn_service_name (s));
        msgpack_pack_array (pk, (uint32_t) n);
        for (size_t j = 0; j < n; j++) {
            const monitor_scalars_t *sc = &v->slots[j].scalars[s];
            bool have = v->slots[j].has_scalars && (sc->up || which == 2);
            double val = which == 0 ? sc->cpu_max : which == 1 ? sc->mem_max : sc->up;
            monitor_pack_fig (pk, have ? val : -1);
        }
    }
}

/*  One point per closed slot: the current one has seen only part of the
 *  stats its time will get (they arrive every METRICS_COLLECTION_INTERVAL),
 *  so its rates would dip; it is charted alone only when nothing closed yet. */
static int
pack_series (msgpack_packer *pk, const monitor_view_t *v)
{
    size_t n = v->nslots > 1 ? v->nslots - 1 : v->nslots;
    monitor_point_t *pts = (monitor_point_t *) calloc (n ? n : 1, sizeof *pts);
    if (!pts)
        return -1;
    for (size_t j = 0; j < n; j++)
        if (monitor_kpi_point (v->names, &v->slots[j], &pts[j])) {
            free (pts);
            return -1;
        }
    static const struct { const char *k; point_fn f; } cols[] = {
        { "rps", f_rps }, { "error_percent", f_err }, { "p50_ms", f_p50 },
        { "p95_ms", f_p95 }, { "p99_ms", f_p99 }, { "hit_rate_percent", f_hit },
        { "db_p95_ms", f_db }, { "agent_p95_ms", f_agent }, { "queue_depth", f_queue },
    };
    size_t ncols = sizeof cols / sizeof cols[0];
    msgpack_pack_map (pk, (uint32_t) ncols + 6);
    monitor_pack_str (pk, "slot_s");
    monitor_pack_fig (pk, (double) v->slot_ms / 1000.0);
    monitor_pack_str (pk, "t");
    msgpack_pack_array (pk, (uint32_t) n);
    for (size_t j = 0; j < n; j++)
        msgpack_pack_double (pk, (double) (v->slots[j].end_ms - v->now_ms) / 1000.0);
    for (size_t c = 0; c < ncols; c++) {
        monitor_pack_str (pk, cols[c].k);
        pack_column (pk, pts, n, cols[c].f, 0);
    }
    static const char *const classes[] = { "cache", "monitor", "other" };
    monitor_pack_str (pk, "route_p95_ms");
    msgpack_pack_map (pk, 3);
    for (int i = 0; i < 3; i++) {
        monitor_pack_str (pk, classes[i]);
        pack_column (pk, pts, n, f_route, i);
    }
    monitor_pack_str (pk, "cpu_max_percent");
    pack_scalar_columns (pk, v, n, 0);
    monitor_pack_str (pk, "memory_max_percent");
    pack_scalar_columns (pk, v, n, 1);
    monitor_pack_str (pk, "replicas_up");
    pack_scalar_columns (pk, v, n, 2);
    free (pts);
    return 0;
}

int
monitor_doc_metrics (msgpack_packer *pk, const monitor_view_t *v, bool monitoring,
                     size_t max_bytes)
{
    uint32_t listed[HSN_SERVICE__MAX] = { 0 }, nsvc = 0;
    for (size_t i = 0; i < v->nreplicas; i++)
        listed[v->replicas[i].service]++;
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        nsvc += listed[s] > 0;
    msgpack_pack_map (pk, monitoring ? 7 : 4);
    monitor_pack_str (pk, "monitoring");
    if (monitoring)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    monitor_pack_str (pk, "window_s");
    msgpack_pack_uint64 (pk, (uint64_t) (v->window_ms / 1000));
    if (monitoring) {
        monitor_pack_str (pk, "covered_s");
        msgpack_pack_uint64 (pk, (uint64_t) (v->covered_ms / 1000));
        monitor_pack_str (pk, "series");
        if (pack_series (pk, v))
            return -1;
    }
    size_t budget = max_bytes;
    bool truncated = false;
    monitor_pack_str (pk, "services");
    msgpack_pack_map (pk, nsvc);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        if (!listed[s])
            continue;
        monitor_pack_str (pk, hsn_service_name (s));
        pack_service (pk, v, s, monitoring, &budget, &truncated);
    }
    monitor_pack_str (pk, "truncated");
    if (truncated)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    if (monitoring) {
        monitor_pack_str (pk, "message");
        monitor_pack_str (pk, "counters: increase over the window; gauges: latest; "
                          "histograms: samples in the window");
    }
    return 0;
}
