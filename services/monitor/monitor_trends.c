/*  monitor_trends: the rules about replicas and trends (errors on one
 *  replica, growing agent queues, memory, slow routes, error rate). See
 *  monitor_rules.h. */
#include "monitor_rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
is_error_counter (const char *name)
{
    return monitor_name_match ("*.errors", name, NULL, NULL)
           || monitor_name_match ("*.status_5xx", name, NULL, NULL)
           || monitor_name_match ("*.failures", name, NULL, NULL);
}

typedef struct {
    uint32_t serial, service;
    uint64_t n;
} errs_t;

void
monitor_rule_replica_errors (const monitor_view_t *v, monitor_recs_t *out)
{
    errs_t errs[256];
    size_t ne = 0;
    for (size_t s = 0; s < v->nslots; s++)
        for (size_t i = 0; i < v->slots[s].n; i++) {
            const monitor_entry_t *e = &v->slots[s].entries[i];
            if (e->kind != HSN_METRIC_COUNTER
                || !is_error_counter (monitor_names_str (v->names, e->name)))
                continue;
            size_t j = 0;
            while (j < ne && errs[j].serial != e->serial)
                j++;
            if (j == ne && ne < 256)
                errs[ne++] = (errs_t) { e->serial, e->service, 0 };
            if (j < ne)
                errs[j].n += e->u;
        }
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        uint64_t total = 0;
        const errs_t *top = NULL;
        for (size_t j = 0; j < ne; j++)
            if (errs[j].service == s) {
                total += errs[j].n;
                if (!top || errs[j].n > top->n)
                    top = &errs[j];
            }
        if (!top || total < MONITOR_ERRORS_MIN || monitor_rec_replicas_up (v, s) < 2)
            continue;
        double share = 100.0 * (double) top->n / (double) total;
        const char *id = monitor_view_replica_id (v, top->serial);
        if (share < MONITOR_ERRORS_SHARE || !id)
            continue;
        monitor_rec_t *r = monitor_rec_add (v, out, "replica_errors", s, id, "error counters",
                                            share, MONITOR_ERRORS_SHARE, "%");
        if (!r)
            return;
        monitor_rec_say (r->message, sizeof r->message,
                         "replica %s has %llu of the %llu errors of service %s (%.0f %%) in %llds",
                         id, (unsigned long long) top->n, (unsigned long long) total,
                         hsn_service_name (s), share, (long long) r->window_s);
        monitor_rec_say (r->action, sizeof r->action,
                         "look at replica %s of %s: its logs and its dependencies in "
                         "/api/optimization/health; restart or replace it (docker compose restart)",
                         id, hsn_service_name (s));
    }
}

typedef struct {
    uint32_t serial;
    int64_t g;
} last_t;

/*  The queue of one agent (gauge name id) over the window: at each slot
 *  where a replica reported it, the sum of every replica's latest value. */
static size_t
queue_series (const monitor_view_t *v, uint16_t name, double *t, double *y, size_t max)
{
    last_t last[64];
    size_t nl = 0, n = 0;
    for (size_t s = 0; s < v->nslots && n < max; s++) {
        bool seen = false;
        for (size_t i = 0; i < v->slots[s].n; i++) {
            const monitor_entry_t *e = &v->slots[s].entries[i];
            if (e->name != name || e->kind != HSN_METRIC_GAUGE)
                continue;
            size_t j = 0;
            while (j < nl && last[j].serial != e->serial)
                j++;
            if (j == nl && nl < 64)
                last[nl++].serial = e->serial;
            if (j < nl) {
                last[j].g = e->g;
                seen = true;
            }
        }
        if (!seen)
            continue;
        double sum = 0;
        for (size_t j = 0; j < nl; j++)
            sum += (double) last[j].g;
        t[n] = (double) (v->slots[s].start_ms - v->now_ms) / 1000.0;
        y[n++] = sum;
    }
    return n;
}

/*  Growing: three points or more, most steps up, a positive least-squares
 *  slope, and it ends higher than it started, at MONITOR_QUEUE_MIN or more. */
static bool
growing (const double *t, const double *y, size_t n, double *slope)
{
    if (n < 3 || y[n - 1] < MONITOR_QUEUE_MIN || y[n - 1] <= y[0])
        return false;
    size_t up = 0;
    double mt = 0, my = 0, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        mt += t[i] / (double) n;
        my += y[i] / (double) n;
        up += i > 0 && y[i] >= y[i - 1];
    }
    for (size_t i = 0; i < n; i++) {
        sxy += (t[i] - mt) * (y[i] - my);
        sxx += (t[i] - mt) * (t[i] - mt);
    }
    *slope = sxx > 0 ? sxy / sxx : 0;
    return *slope > 0 && 3 * up >= 2 * (n - 1);
}

void
monitor_rule_agent_queue (const monitor_view_t *v, monitor_recs_t *out)
{
    double t[256], y[256];
    for (uint32_t id = 0; id < monitor_names_count (v->names); id++) {
        const char *agent, *name = monitor_names_str (v->names, id);
        size_t len;
        double slope;
        if (monitor_names_kind (v->names, id) != HSN_METRIC_GAUGE
            || !monitor_name_match (MONITOR_GAUGE_QUEUE, name, &agent, &len))
            continue;
        size_t n = queue_series (v, (uint16_t) id, t, y, 256);
        if (!growing (t, y, n, &slope))
            continue;
        monitor_rec_t *r = monitor_rec_add (v, out, "agent_queue", HSN_SERVICE_AGENT_BUS, NULL,
                                            name, y[n - 1], MONITOR_QUEUE_MIN, "messages");
        if (!r)
            return;
        snprintf (r->subject, sizeof r->subject, "%.*s", (int) len, agent);
        monitor_rec_say (r->message, sizeof r->message,
                         "the queue of agent '%s' grew from %.0f to %.0f messages over %.0f s "
                         "(%.1f a second)", r->subject, y[0], y[n - 1], t[n - 1] - t[0], slope);
        monitor_rec_say (r->action, sizeof r->action,
                         "agent '%s' does not keep up with its messages: check that it runs and "
                         "consumes, give it more consumers, or slow down what sends to it",
                         r->subject);
    }
}

void
monitor_rule_memory (const monitor_view_t *v, const monitor_targets_t *t, monitor_recs_t *out)
{
    for (size_t i = 0; i < v->nreplicas; i++) {
        const monitor_replica_info_t *x = &v->replicas[i];
        if (!x->up || x->mem_pct <= t->memory)
            continue;
        monitor_rec_t *r = monitor_rec_add (v, out, "memory", x->service, x->id, "memory_percent",
                                            x->mem_pct, t->memory, "%");
        if (!r)
            return;
        const char *svc = hsn_service_name (x->service);
        monitor_rec_say (r->message, sizeof r->message,
                         "replica %s of %s uses %.1f %% of its memory limit (%llu of %llu bytes)",
                         x->id, svc, x->mem_pct, (unsigned long long) x->rss,
                         (unsigned long long) x->mem_limit);
        if (x->service == HSN_SERVICE_CACHE)
            monitor_rec_say (r->action, sizeof r->action,
                             "lower CACHE_MAX_BYTES or CACHE_MAX_SIZE of the cache service, or "
                             "raise its memory limit");
        else if (x->service == HSN_SERVICE_GATEWAY)
            monitor_rec_say (r->action, sizeof r->action,
                             "lower GATEWAY_NEAR_CACHE_BYTES, or raise the gateway's memory limit");
        else
            monitor_rec_say (r->action, sizeof r->action,
                             "raise the memory limit of %s, or look for a leak in replica %s (its "
                             "RSS over time)", svc, x->id);
    }
}

void
monitor_rule_response (const monitor_view_t *v, const monitor_kpis_t *k,
                       const monitor_targets_t *t, monitor_recs_t *out)
{
    hsn_hist_t *h = (hsn_hist_t *) malloc (sizeof *h);
    if (!h)
        return;
    double redis = monitor_agg_hist (&v->svc[HSN_SERVICE_CACHE], "cache.redis.latency_us", h)
                   && h->count ? monitor_hist_ms (h, 95) : -1;
    free (h);
    for (size_t i = 0; i < k->n; i++) {
        const monitor_kpi_t *x = &k->kpi[i];
        if (strcmp (x->name, "response_time_p95") != 0 || strcmp (x->scope, "all") == 0
            || x->status != MONITOR_KPI_BREACH)
            continue;
        char metric[112];
        snprintf (metric, sizeof metric, "gateway.route.%s.latency_us", x->scope);
        monitor_rec_t *r = monitor_rec_add (v, out, "response_time", HSN_SERVICE_GATEWAY, NULL,
                                            metric, x->value, t->response_p95_ms, "ms");
        if (!r)
            return;
        snprintf (r->subject, sizeof r->subject, "%s", x->scope);
        monitor_rec_say (r->message, sizeof r->message,
                         "%s routes answer with a P95 of %.1f ms (target %.0f ms) over %llu "
                         "requests", x->scope, x->value, t->response_p95_ms,
                         (unsigned long long) x->samples);
        if (strcmp (x->scope, "cache") == 0 && redis >= 0)
            monitor_rec_say (r->action, sizeof r->action,
                             "Redis answers the cache with a P95 of %.1f ms: look at Redis first, "
                             "then the hit rate; add cache replicas (docker compose up -d --scale "
                             "cache=%u)", redis,
                             monitor_rec_replicas_up (v, HSN_SERVICE_CACHE) + 1);
        else
            monitor_rec_say (r->action, sizeof r->action,
                             "find the slow backend of the %s routes in the per-service metrics "
                             "(/api/optimization/metrics) and scale or fix it", x->scope);
    }
}

void
monitor_rule_error_rate (const monitor_view_t *v, const monitor_kpis_t *k,
                         const monitor_targets_t *t, monitor_recs_t *out)
{
    const monitor_kpi_t *x = monitor_kpis_find (k, "error_rate", "all");
    if (!x || x->status != MONITOR_KPI_BREACH)
        return;
    monitor_rec_t *r = monitor_rec_add (v, out, "error_rate", HSN_SERVICE_GATEWAY, NULL,
                                        MONITOR_CTR_5XX, x->value, t->error_rate, "%");
    if (!r)
        return;
    monitor_rec_say (r->message, sizeof r->message,
                     "%llu of %llu requests failed with a 5xx (%.2f %%, target %.1f %%) in %llds",
                     (unsigned long long) k->errors, (unsigned long long) k->requests, x->value,
                     t->error_rate, (long long) r->window_s);
    monitor_rec_say (r->action, sizeof r->action,
                     "see which service is down or degraded in /api/optimization/health and the "
                     "gateway's access log for the failing routes");
}

