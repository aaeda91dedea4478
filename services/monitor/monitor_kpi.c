/*  monitor_kpi: KPIs against targets. See monitor_kpi.h. */
#include "monitor_kpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const route_classes[] = { "cache", "monitor", "other", "query" };

void
monitor_targets_default (monitor_targets_t *t)
{
    t->response_p95_ms = 2000;
    t->cache_hit_rate = 80;
    t->error_rate = 1;
    t->cpu = 70;
    t->memory = 80;
    t->db_query_ms = 500;
    t->agent_latency_ms = 100;
}

int
monitor_view_aggregate (monitor_view_t *v)
{
    memset (v->svc, 0, sizeof v->svc);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        if (monitor_agg_init (&v->svc[s], v->names)) {
            monitor_view_release (v);
            return -ENOMEM;
        }
        monitor_agg_slots (&v->svc[s], v->slots, v->nslots, s, 0);
    }
    return 0;
}

void
monitor_view_release (monitor_view_t *v)
{
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        monitor_agg_release (&v->svc[s]);
}

bool
monitor_view_reports (const monitor_view_t *v, uint32_t service, const char *name, int kind)
{
    int id = monitor_names_find (v->names, name, kind);
    for (size_t i = 0; id >= 0 && v->stats && i < monitor_stats_count (v->stats); i++) {
        const monitor_rstats_t *r = monitor_stats_at (v->stats, i);
        if (r->service == service && monitor_rstats_val (r, (uint32_t) id))
            return true;
    }
    return false;
}

const char *
monitor_view_replica_id (const monitor_view_t *v, uint32_t serial)
{
    for (size_t i = 0; v->stats && i < monitor_stats_count (v->stats); i++) {
        const monitor_rstats_t *r = monitor_stats_at (v->stats, i);
        if (r->serial == serial)
            return r->id;
    }
    return NULL;
}

const char *
monitor_kpi_status_name (monitor_kpi_status_t s)
{
    return s == MONITOR_KPI_OK ? "ok" : s == MONITOR_KPI_BREACH ? "breach" : "no_data";
}

double
monitor_hist_ms (const hsn_hist_t *h, double p)
{
    return (double) hsn_hist_percentile (h, p) / 1000.0;
}

static monitor_kpi_t *
add_kpi (monitor_kpis_t *k, const char *name, const char *scope, const char *unit,
         double target, bool higher_better)
{
    if (k->n == MONITOR_KPI_MAX)
        return NULL;
    monitor_kpi_t *x = &k->kpi[k->n++];
    memset (x, 0, sizeof *x);
    x->name = name;
    snprintf (x->scope, sizeof x->scope, "%s", scope);
    x->unit = unit;
    x->target = target;
    x->higher_better = higher_better;
    x->status = MONITOR_KPI_NO_DATA;
    return x;
}

static void
judge (monitor_kpi_t *x, double value)
{
    x->value = value;
    bool ok = x->higher_better ? value >= x->target : value <= x->target;
    x->status = ok ? MONITOR_KPI_OK : MONITOR_KPI_BREACH;
}

/*  A latency KPI (P95 in ms) from a merged histogram; no data when empty. */
static void
latency_kpi (monitor_kpis_t *k, const char *name, const char *scope, const hsn_hist_t *h,
             double target)
{
    monitor_kpi_t *x = add_kpi (k, name, scope, "ms", target, false);
    uint64_t n = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        n += h->buckets[i];
    if (!x || n == 0)
        return;
    x->samples = n;
    x->p50 = monitor_hist_ms (h, 50);
    x->p99 = monitor_hist_ms (h, 99);
    judge (x, monitor_hist_ms (h, 95));
}

static void
response_kpis (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *k)
{
    const monitor_agg_t *gw = &v->svc[HSN_SERVICE_GATEWAY];
    hsn_hist_t *h = (hsn_hist_t *) malloc (sizeof *h);
    if (!h)
        return;
    monitor_agg_hist (gw, MONITOR_HIST_ROUTE, h);
    latency_kpi (k, "response_time_p95", "all", h, t->response_p95_ms);
    for (size_t i = 0; i < gw->n; i++) {
        const monitor_agg_item_t *it = &gw->items[i];
        const char *cls;
        size_t len;
        if (it->kind != HSN_METRIC_HIST || !it->h
            || !monitor_name_match (MONITOR_HIST_ROUTE, monitor_names_str (v->names, it->name),
                                    &cls, &len))
            continue;
        char scope[48];
        snprintf (scope, sizeof scope, "%.*s", (int) len, cls);
        latency_kpi (k, "response_time_p95", scope, it->h, t->response_p95_ms);
    }
    free (h);
}

static void
error_kpi (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *k)
{
    const monitor_agg_t *gw = &v->svc[HSN_SERVICE_GATEWAY];
    monitor_kpi_t *x = add_kpi (k, "error_rate", "all", "%", t->error_rate, false);
    monitor_agg_counter (gw, MONITOR_CTR_5XX, &k->errors);
    if (monitor_agg_counter (gw, MONITOR_CTR_REQUESTS, &k->requests) && k->requests && x) {
        x->samples = k->requests;
        judge (x, 100.0 * (double) k->errors / (double) k->requests);
    }
}

static void
hit_kpi (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *k)
{
    const monitor_agg_t *cache = &v->svc[HSN_SERVICE_CACHE];
    uint64_t misses = 0;
    static const char *const level[] = { MONITOR_CTR_NEAR_HITS, MONITOR_CTR_L1_HITS,
                                         MONITOR_CTR_L2_HITS };
    for (int i = 0; i < 3; i++) {
        uint32_t s = i == 0 ? HSN_SERVICE_GATEWAY : HSN_SERVICE_CACHE;
        monitor_agg_counter (&v->svc[s], level[i], &k->hits[i]);
        k->has_level[i] = monitor_view_reports (v, s, level[i], HSN_METRIC_COUNTER);
    }
    monitor_agg_counter (cache, MONITOR_CTR_MISSES, &misses);
    uint64_t hits = k->hits[0] + k->hits[1] + k->hits[2];
    k->lookups = hits + misses;
    monitor_kpi_t *x = add_kpi (k, "cache_hit_rate", "all", "%", t->cache_hit_rate, true);
    if (x && k->lookups) {
        x->samples = k->lookups;
        judge (x, 100.0 * (double) hits / (double) k->lookups);
    }
}

static int
by_p95_desc (const void *a, const void *b)
{
    double x = ((const monitor_query_t *) a)->p95_ms, y = ((const monitor_query_t *) b)->p95_ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void
db_kpi (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *k)
{
    const monitor_agg_t *q = &v->svc[HSN_SERVICE_QUERY];
    hsn_hist_t *h = (hsn_hist_t *) malloc (sizeof *h);
    if (!h)
        return;
    monitor_agg_hist (q, MONITOR_HIST_QUERY, h);
    latency_kpi (k, "db_query_p95", "all", h, t->db_query_ms);
    double total = (double) h->sum;
    free (h);
    /*  Every query's own P95 and share of the time; keep the slowest. */
    monitor_query_t all[64];
    size_t n = 0;
    for (size_t i = 0; i < q->n && n < 64; i++) {
        const monitor_agg_item_t *it = &q->items[i];
        const char *name;
        size_t len;
        if (it->kind != HSN_METRIC_HIST || !it->h || !it->h->count
            || !monitor_name_match (MONITOR_HIST_QUERY, monitor_names_str (v->names, it->name),
                                    &name, &len))
            continue;
        monitor_query_t *o = &all[n++];
        snprintf (o->name, sizeof o->name, "%.*s", (int) len, name);
        o->p95_ms = monitor_hist_ms (it->h, 95);
        o->count = it->h->count;
        o->share_pct = total > 0 ? 100.0 * (double) it->h->sum / total : 0;
    }
    qsort (all, n, sizeof all[0], by_p95_desc);
    k->nslow = n < MONITOR_SLOW_MAX ? n : MONITOR_SLOW_MAX;
    memcpy (k->slow, all, k->nslow * sizeof all[0]);
}

static void
agent_kpi (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *k)
{
    hsn_hist_t *h = (hsn_hist_t *) malloc (sizeof *h);
    if (!h)
        return;
    monitor_agg_hist (&v->svc[HSN_SERVICE_AGENT_BUS], MONITOR_HIST_AGENT, h);
    latency_kpi (k, "agent_latency_p95", "all", h, t->agent_latency_ms);
    free (h);
}

/*  CPU or memory of one service (service 0: all), as % of limits: the
 *  average over the window of the worst replica's figure (as recorded in
 *  the slots), or the current worst when the window has none; the replica
 *  named is the worst now. */
static void
resource_kpi (const monitor_view_t *v, monitor_kpis_t *k, const char *name, uint32_t service,
              double target, bool memory)
{
    monitor_kpi_t *x = add_kpi (k, name, service ? hsn_service_name (service) : "all", "%",
                                target, false);
    if (!x)
        return;
    double worst = -1;
    for (size_t i = 0; i < v->nreplicas; i++) {
        const monitor_replica_info_t *r = &v->replicas[i];
        double pct = memory ? r->mem_pct : r->cpu_pct;
        if (!r->up || pct < 0 || (service && r->service != service) || pct <= worst)
            continue;
        worst = pct;
        snprintf (x->service, sizeof x->service, "%s", hsn_service_name (r->service));
        snprintf (x->replica, sizeof x->replica, "%s", r->id);
    }
    if (worst < 0)
        return;
    double sum = 0;
    uint64_t n = 0;
    for (size_t i = 0; i < v->nslots; i++) {
        if (!v->slots[i].has_scalars)
            continue;
        double slot_worst = -1;
        for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
            const monitor_scalars_t *sc = &v->slots[i].scalars[s];
            double val = memory ? sc->mem_max : sc->cpu_max;
            if ((service == 0 || s == service) && sc->up && val > slot_worst)
                slot_worst = val;
        }
        if (slot_worst >= 0) {
            sum += slot_worst;
            n++;
        }
    }
    x->samples = n;
    judge (x, n ? sum / (double) n : worst);
}

void
monitor_kpis_compute (const monitor_view_t *v, const monitor_targets_t *t, monitor_kpis_t *out)
{
    memset (out, 0, sizeof *out);
    response_kpis (v, t, out);
    error_kpi (v, t, out);
    hit_kpi (v, t, out);
    db_kpi (v, t, out);
    agent_kpi (v, t, out);
    resource_kpi (v, out, "cpu", 0, t->cpu, false);
    resource_kpi (v, out, "memory", 0, t->memory, true);
    /*  Per service, for the services that have a replica up. */
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        bool any = false;
        for (size_t i = 0; i < v->nreplicas && !any; i++)
            any = v->replicas[i].service == s && v->replicas[i].up;
        if (any) {
            resource_kpi (v, out, "cpu", s, t->cpu, false);
            resource_kpi (v, out, "memory", s, t->memory, true);
        }
    }
}

const monitor_kpi_t *
monitor_kpis_find (const monitor_kpis_t *k, const char *name, const char *scope)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp (k->kpi[i].name, name) == 0 && strcmp (k->kpi[i].scope, scope) == 0)
            return &k->kpi[i];
    return NULL;
}

monitor_kpi_status_t
monitor_kpis_overall (const monitor_kpis_t *k)
{
    monitor_kpi_status_t st = MONITOR_KPI_NO_DATA;
    for (size_t i = 0; i < k->n; i++) {
        if (k->kpi[i].status == MONITOR_KPI_BREACH)
            return MONITOR_KPI_BREACH;
        if (k->kpi[i].status == MONITOR_KPI_OK)
            st = MONITOR_KPI_OK;
    }
    return st;
}

/*  P95 in ms of the histograms matching pattern in a, -1 when none. */
static double
p95_of (const monitor_agg_t *a, const char *pattern, hsn_hist_t *h)
{
    return monitor_agg_hist (a, pattern, h) && h->count ? monitor_hist_ms (h, 95) : -1;
}

int
monitor_kpi_point (const monitor_names_t *names, const monitor_slot_view_t *slot,
                   monitor_point_t *out)
{
    monitor_agg_t a[HSN_SERVICE__MAX];
    hsn_hist_t *h = (hsn_hist_t *) malloc (sizeof *h);
    memset (a, 0, sizeof a);
    int rc = h ? 0 : -ENOMEM;
    for (uint32_t s = 1; s < HSN_SERVICE__MAX && rc == 0; s++)
        if ((rc = monitor_agg_init (&a[s], names)) == 0)
            monitor_agg_slots (&a[s], slot, 1, s, 0);
    if (rc == 0) {
        const monitor_agg_t *gw = &a[HSN_SERVICE_GATEWAY], *cache = &a[HSN_SERVICE_CACHE];
        double secs = (double) (slot->end_ms - slot->start_ms) / 1000.0;
        uint64_t req = 0, err = 0, l1 = 0, l2 = 0, near = 0, miss = 0;
        bool have_req = monitor_agg_counter (gw, MONITOR_CTR_REQUESTS, &req) > 0;
        monitor_agg_counter (gw, MONITOR_CTR_5XX, &err);
        out->rps = have_req && secs > 0 ? (double) req / secs : -1;
        out->error_pct = req ? 100.0 * (double) err / (double) req : -1;
        out->p50_ms = out->p95_ms = out->p99_ms = -1;
        if (monitor_agg_hist (gw, MONITOR_HIST_ROUTE, h) && h->count) {
            out->p50_ms = monitor_hist_ms (h, 50);
            out->p95_ms = monitor_hist_ms (h, 95);
            out->p99_ms = monitor_hist_ms (h, 99);
        }
        for (size_t i = 0; i < 4; i++) {
            char name[64];
            out->route_p95_ms[i] = -1;
            if (i < sizeof route_classes / sizeof route_classes[0]) {
                snprintf (name, sizeof name, "gateway.route.%s.latency_us", route_classes[i]);
                out->route_p95_ms[i] = p95_of (gw, name, h);
            }
        }
        monitor_agg_counter (gw, MONITOR_CTR_NEAR_HITS, &near);
        monitor_agg_counter (cache, MONITOR_CTR_L1_HITS, &l1);
        monitor_agg_counter (cache, MONITOR_CTR_L2_HITS, &l2);
        monitor_agg_counter (cache, MONITOR_CTR_MISSES, &miss);
        uint64_t lookups = near + l1 + l2 + miss;
        out->hit_pct = lookups ? 100.0 * (double) (near + l1 + l2) / (double) lookups : -1;
        out->db_p95_ms = p95_of (&a[HSN_SERVICE_QUERY], MONITOR_HIST_QUERY, h);
        out->agent_p95_ms = p95_of (&a[HSN_SERVICE_AGENT_BUS], MONITOR_HIST_AGENT, h);
        int64_t depth = 0;
        out->queue_depth = monitor_agg_gauge (&a[HSN_SERVICE_AGENT_BUS], MONITOR_GAUGE_QUEUE_TOTAL,
                                              &depth) ? (double) depth : -1;
    }
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        monitor_agg_release (&a[s]);
    free (h);
    return rc;
}
