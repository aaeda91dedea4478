/*  monitor_rules: recommendations. See monitor_rules.h. */
#include "monitor_rules_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

monitor_rec_t *
monitor_rec_add (const monitor_view_t *v, monitor_recs_t *out, const char *rule, uint32_t service,
                 const char *replica, const char *metric, double value, double threshold,
                 const char *unit)
                 {
                 if (out->n == MONITOR_RECS_MAX)
                 return NULL;
                 monitor_rec_t *r = &out->rec[out->n++];
                 memset (r, 0, sizeof *r);
    r->rule = rule;
    /*  Half as bad again as allowed is critical. */
    bool higher_better = strcmp (rule, "cache_size") == 0;
    bool critical = higher_better ? value < threshold * 0.5 : value > threshold * 1.5;
    r->severity = critical ? "critical" : "warning";
    snprintf (r->service, sizeof r->service, "%s", service ? hsn_service_name (service) : "");
    snprintf (r->replica, sizeof r->replica, "%s", replica ? replica : "");
    snprintf (r->metric, sizeof r->metric, "%s", metric);
    r->value = value;
    r->threshold = threshold;
    r->unit = unit;
    r->window_s = v->covered_ms / 1000;
    return r;
}

void
monitor_rec_say (char *buf, size_t cap, const char *fmt, ...)
                 {
                 va_list ap;
                 va_start (ap, fmt);
    vsnprintf (buf, cap, fmt, ap);
    va_end (ap);
}

uint32_t
monitor_rec_replicas_up (const monitor_view_t *v, uint32_t service)
{
    uint32_t n = 0;
    for (size_t i = 0; i < v->nreplicas; i++)
        n += v->replicas[i].service == service && v->replicas[i].up;
    return n;
}

uint64_t
monitor_rules_cache_size (uint64_t capacity, uint64_t evictions)
{
    uint64_t want = capacity + evictions;
    if (want < 2 * capacity)
        want = 2 * capacity;
    if (want < 2)
        want = 2;
    for (uint64_t p = 1; p <= MONITOR_CACHE_SIZE_MAX; p *= 10)
        for (int m = 0; m < 3; m++) {
            uint64_t nice = p * (uint64_t) (m == 0 ? 1 : m == 1 ? 2 : 5);
            if (nice >= want)
                return nice < MONITOR_CACHE_SIZE_MAX ? nice : MONITOR_CACHE_SIZE_MAX;
        }
    return MONITOR_CACHE_SIZE_MAX;
}

/*  The largest per-replica value of a gauge, 0 when absent. */
static uint64_t
gauge_max (const monitor_agg_t *a, const char *name)
{
    const monitor_agg_item_t *it = monitor_agg_item (a, name, HSN_METRIC_GAUGE);
    int64_t m = 0;
    for (size_t i = 0; it && i < it->ngv; i++)
        if (it->gv[i].g > m)
            m = it->gv[i].g;
    return (uint64_t) m;
}

static void
rule_cache_size (const monitor_view_t *v, const monitor_kpis_t *k, const monitor_targets_t *t,
                 monitor_recs_t *out)
{
    const monitor_kpi_t *hit = monitor_kpis_find (k, "cache_hit_rate", "all");
    const monitor_agg_t *cache = &v->svc[HSN_SERVICE_CACHE];
    uint64_t evictions, cache_lookups = k->lookups - k->hits[0];
    if (!hit || hit->status != MONITOR_KPI_BREACH || cache_lookups == 0
        || !monitor_agg_counter (cache, MONITOR_CTR_EVICTIONS, &evictions)
        || evictions < MONITOR_EVICTION_MIN
        || 100.0 * (double) evictions / (double) cache_lookups < MONITOR_EVICTION_SHARE)
        return;
    uint64_t cap = gauge_max (cache, MONITOR_GAUGE_L1_CAP);
    const char *how = "reported by the replicas";
    if (!cap && (cap = gauge_max (cache, MONITOR_GAUGE_L1_SIZE)))
        how = "the entries L1 holds while it evicts";
    if (!cap) {
        cap = 10000;
        how = "the default, as the replicas do not report it";
    }
    uint32_t n = monitor_rec_replicas_up (v, HSN_SERVICE_CACHE);
    uint64_t per = evictions / (n ? n : 1);
    uint64_t size = monitor_rules_cache_size (cap, per);
    monitor_rec_t *r = monitor_rec_add (v, out, "cache_size", HSN_SERVICE_CACHE, NULL,
                                        "cache_hit_rate", hit->value, t->cache_hit_rate, "%");
    if (!r)
        return;
    monitor_rec_say (r->message, sizeof r->message,
                     "cache hit rate %.1f %% is under the %.0f %% target while L1 evicted %llu "
                     "entries (%.1f %% of %llu lookups) in %llds; L1 size now %llu (%s)",
                     hit->value, t->cache_hit_rate, (unsigned long long) evictions,
                     100.0 * (double) evictions / (double) cache_lookups,
                     (unsigned long long) cache_lookups, (long long) r->window_s,
                     (unsigned long long) cap, how);
    monitor_rec_say (r->action, sizeof r->action,
                     "set CACHE_MAX_SIZE=%llu for the cache service (now %llu) and restart its "
                     "replicas; check CACHE_MAX_BYTES leaves room for it",
                     (unsigned long long) size, (unsigned long long) cap);
}

/*  Hit rate under target with no eviction to blame: which namespace misses
 *  most (cache.ns.<ns>.misses), and a longer TTL for it. */
static void
rule_cache_misses (const monitor_view_t *v, const monitor_kpis_t *k,
                   const monitor_targets_t *t, monitor_recs_t *out)
{
    const monitor_kpi_t *hit = monitor_kpis_find (k, "cache_hit_rate", "all");
    if (!hit || hit->status != MONITOR_KPI_BREACH)
        return;
    for (size_t i = 0; i < out->n; i++)
        if (strcmp (out->rec[i].rule, "cache_size") == 0)
            return;                     /* explained by evictions */
    const monitor_agg_t *cache = &v->svc[HSN_SERVICE_CACHE];
    uint64_t total = 0, top = 0;
    char ns[64] = "";
    for (size_t i = 0; i < cache->n; i++) {
        const monitor_agg_item_t *it = &cache->items[i];
        const char *star;
        size_t len;
        if (it->kind != HSN_METRIC_COUNTER
            || !monitor_name_match (MONITOR_CTR_NS_MISSES, monitor_names_str (v->names, it->name),
                                    &star, &len))
            continue;
        total += it->u;
        if (it->u > top) {
            top = it->u;
            snprintf (ns, sizeof ns, "%.*s", (int) len, star);
        }
    }
    monitor_rec_t *r = monitor_rec_add (v, out, "cache_misses", HSN_SERVICE_CACHE, NULL,
                                        "cache_hit_rate", hit->value, t->cache_hit_rate, "%");
    if (!r)
        return;
    if (top) {
        snprintf (r->subject, sizeof r->subject, "%s", ns);
        monitor_rec_say (r->message, sizeof r->message,
                         "cache hit rate %.1f %% is under the %.0f %% target without L1 evictions "
                         "to blame; namespace '%s' has %llu of the %llu misses (%.0f %%) in %llds",
                         hit->value, t->cache_hit_rate, ns, (unsigned long long) top,
                         (unsigned long long) total, 100.0 * (double) top / (double) total,
                         (long long) r->window_s);
        monitor_rec_say (r->action, sizeof r->action,
                         "give namespace '%s' a longer TTL (CACHE_NAMESPACES=%s:<seconds>) or "
                         "pre-load its hot keys; keys read only once cannot be helped by a cache",
                         ns, ns);
    }
    else {
        monitor_rec_say (r->message, sizeof r->message,
                         "cache hit rate %.1f %% is under the %.0f %% target without L1 evictions "
                         "to blame, over %llu lookups in %llds", hit->value, t->cache_hit_rate,
                         (unsigned long long) k->lookups, (long long) r->window_s);
        monitor_rec_say (r->action, sizeof r->action,
                         "raise CACHE_DEFAULT_TTL (or per namespace, CACHE_NAMESPACES) so that "
                         "values live until they are read again");
    }
}

static void
rule_slow_query (const monitor_view_t *v, const monitor_kpis_t *k, const monitor_targets_t *t,
                 monitor_recs_t *out)
{
    for (size_t i = 0; i < k->nslow; i++) {
        const monitor_query_t *q = &k->slow[i];
        if (q->p95_ms <= t->db_query_ms)
            continue;
        char metric[112];
        snprintf (metric, sizeof metric, "query.%s.latency_us", q->name);
        monitor_rec_t *r = monitor_rec_add (v, out, "slow_query", HSN_SERVICE_QUERY, NULL, metric,
                                            q->p95_ms, t->db_query_ms, "ms");
        if (!r)
            return;
        snprintf (r->subject, sizeof r->subject, "%s", q->name);
        monitor_rec_say (r->message, sizeof r->message,
                         "query '%s' has a P95 of %.1f ms (target %.0f ms) over %llu runs in "
                         "%llds, %.1f %% of all database time", q->name, q->p95_ms, t->db_query_ms,
                         (unsigned long long) q->count, (long long) r->window_s, q->share_pct);
        monitor_rec_say (r->action, sizeof r->action,
                         "optimise query '%s': run it under EXPLAIN ANALYZE, add the index it "
                         "lacks, or cache its result through the cache service", q->name);
    }
}

/*  Average over the window of a service's per-slot CPU minimum; -1 when
 *  no slot recorded one. */
static double
window_cpu_min (const monitor_view_t *v, uint32_t service)
{
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < v->nslots; i++) {
        const monitor_scalars_t *sc = &v->slots[i].scalars[service];
        if (v->slots[i].has_scalars && sc->up) {
            sum += sc->cpu_min;
            n++;
        }
    }
    return n ? sum / n : -1;
}

static void
rule_scale (const monitor_view_t *v, const monitor_targets_t *t, monitor_recs_t *out)
{
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        uint32_t n = 0;
        double lowest = INFINITY;
        for (size_t i = 0; i < v->nreplicas; i++) {
            const monitor_replica_info_t *r = &v->replicas[i];
            if (r->service == s && r->up) {
                n++;
                lowest = r->cpu_pct < lowest ? r->cpu_pct : lowest;
            }
        }
        double avg = window_cpu_min (v, s);
        /*  Every replica busy now, and through the window: not a spike. */
        if (n == 0 || lowest <= t->cpu || (avg >= 0 && avg <= t->cpu))
            continue;
        const char *name = hsn_service_name (s);
        monitor_rec_t *r = monitor_rec_add (v, out, "scale_service", s, NULL, "cpu_limit_percent",
                                            avg >= 0 ? avg : lowest, t->cpu, "%");
        if (!r)
            return;
        monitor_rec_say (r->message, sizeof r->message,
                         "every %s replica (%u) is over the %.0f %% CPU target: the least busy "
                         "uses %.1f %% of its limit now%s", name, n, t->cpu, lowest,
                         avg >= 0 ? " and on average over the window" : "");
        if (s == HSN_SERVICE_GATEWAY)
            monitor_rec_say (r->action, sizeof r->action,
                             "give hsn-gateway more CPU (raise its container's CPU limit): it "
                             "holds the public port and the broker, so it scales up, not out");
        else if (s == HSN_SERVICE_MONITOR)
            monitor_rec_say (r->action, sizeof r->action,
                             "raise METRICS_COLLECTION_INTERVAL or the monitor's CPU limit");
        else
            monitor_rec_say (r->action, sizeof r->action,
                             "docker compose up -d --scale %s=%u", name, n + 1);
    }
}

void
monitor_rules_run (const monitor_view_t *v, const monitor_kpis_t *k, const monitor_targets_t *t,
                   monitor_recs_t *out)
{
    out->n = 0;
    rule_cache_size (v, k, t, out);
    rule_cache_misses (v, k, t, out);
    rule_slow_query (v, k, t, out);
    rule_scale (v, t, out);
    monitor_rule_replica_errors (v, out);
    monitor_rule_agent_queue (v, out);
    monitor_rule_memory (v, t, out);
    monitor_rule_response (v, k, t, out);
    monitor_rule_error_rate (v, k, t, out);
}
