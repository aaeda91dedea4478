/*  monitor_prom: Prometheus text exposition. See monitor_prom.h. */
#include "monitor_prom.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LE_FIRST 7
#define LE_LAST 26

typedef struct {
    const char *prefix;
    const char *base;           /* the family's name before the metric's own part */
    const char *label;
    bool tail;                  /* label is all after the prefix */
} label_rule_t;

/*  "ns" would read as nanoseconds to Prometheus' linter: namespace. */
static const label_rule_t label_rules[] = {
    { "cache.ns.", "cache.namespace.", "namespace", false },
    { "gateway.route.", "gateway.route.", "route", false },
    { "query.", "query.", "query", false },
    { "agentbus.queue_depth.", "agentbus.queue_depth", "agent", true },
};

static void
sanitise (const char *in, char *out, size_t cap)
{
    size_t n = snprintf (out, cap, "hsn_%s", in);
    for (size_t i = 4; i < n && i < cap; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == ':'))
            out[i] = '_';
    }
}

static bool
ends_with (const char *s, const char *suffix)
{
    size_t n = strlen (s), m = strlen (suffix);
    return n >= m && strcmp (s + n - m, suffix) == 0;
}

void
monitor_prom_family (const char *name, int kind, char *fam, size_t famcap, char *label,
                     size_t labelcap, char *value, size_t valuecap)
{
    char base[128];
    snprintf (base, sizeof base, "%s", name);
    label[0] = value[0] = '\0';
    for (size_t i = 0; i < sizeof label_rules / sizeof label_rules[0]; i++) {
        const label_rule_t *r = &label_rules[i];
        size_t plen = strlen (r->prefix);
        if (strncmp (name, r->prefix, plen) != 0 || !name[plen])
            continue;
        const char *rest = name + plen, *dot = strrchr (rest, '.');
        if (r->tail) {
            snprintf (value, valuecap, "%s", rest);
            snprintf (base, sizeof base, "%s", r->base);
        }
        else if (dot && dot > rest && dot[1]) {
            snprintf (value, valuecap, "%.*s", (int) (dot - rest), rest);
            snprintf (base, sizeof base, "%s%s", r->base, dot + 1);
        }
        else
            continue;
        snprintf (label, labelcap, "%s", r->label);
        break;
    }
    char s[160];
    sanitise (base, s, sizeof s);
    if (kind == HSN_METRIC_HIST) {
        if (ends_with (s, "_us"))
            s[strlen (s) - 3] = '\0';
        snprintf (fam, famcap, "%s_seconds", s);
    }
    else if (kind == HSN_METRIC_COUNTER && !ends_with (s, "_total"))
        snprintf (fam, famcap, "%s_total", s);
    else
        snprintf (fam, famcap, "%s", s);
}

/* ---- output ---------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer *out;
    int err;
} out_t;

static void
put (out_t *o, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
put (out_t *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    size_t len = (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1;
    if (n > 0 && !o->err && msgpack_sbuffer_write (o->out, buf, len))
        o->err = -ENOMEM;
}

/*  A label value, escaped (backslash, quote, newline). */
static void
escape (const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 3 < cap; i++) {
        char c = in[i];
        if (c == '\\' || c == '"' || c == '\n') {
            out[j++] = '\\';
            c = c == '\n' ? 'n' : c;
        }
        out[j++] = c;
    }
    out[j] = '\0';
}

static void
labels_of (const char *service, const char *replica, const char *extra, const char *xval,
           char *buf, size_t cap)
{
    char r[2 * MONITOR_ID_MAX + 8], x[200];
    escape (replica, r, sizeof r);
    escape (xval, x, sizeof x);
    if (extra && *extra)
        snprintf (buf, cap, "service=\"%s\",replica=\"%s\",%s=\"%s\"", service, r, extra, x);
    else
        snprintf (buf, cap, "service=\"%s\",replica=\"%s\"", service, r);
}

static void
header (out_t *o, const char *fam, const char *type, const char *help)
{
    char h[256];
    size_t j = 0;
    for (size_t i = 0; help[i] && j + 3 < sizeof h; i++) {
        if (help[i] == '\\' || help[i] == '\n') {
            h[j++] = '\\';
            h[j++] = help[i] == '\n' ? 'n' : '\\';
        }
        else
            h[j++] = help[i];
    }
    h[j] = '\0';
    put (o, "# HELP %s %s\n# TYPE %s %s\n", fam, h, fam, type);
}

/*  Whole microseconds as seconds, exactly. */
static void
seconds (char *buf, size_t cap, uint64_t us)
{
    snprintf (buf, cap, "%llu.%06llu", (unsigned long long) (us / 1000000),
              (unsigned long long) (us % 1000000));
}

static void
hist_samples (out_t *o, const char *fam, const char *labels, const monitor_sparse_t *h)
{
    char le[32];
    for (int k = LE_FIRST; k <= LE_LAST; k++) {
        seconds (le, sizeof le, ((uint64_t) 1 << k) - 1);
        put (o, "%s_bucket{%s,le=\"%s\"} %llu\n", fam, labels, le,
             (unsigned long long) monitor_sparse_count_le (h, ((uint64_t) 1 << k) - 1));
    }
    put (o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", fam, labels, (unsigned long long) h->count);
    seconds (le, sizeof le, h->sum);
    put (o, "%s_sum{%s} %s\n%s_count{%s} %llu\n", fam, labels, le, fam, labels,
         (unsigned long long) h->count);
}

/* ---- the replicas' own metrics ---------------------------------------- */

typedef struct {
    char fam[160];
    char label[16];
    char value[MONITOR_ID_MAX + 1];
} fam_t;

typedef struct {
    const fam_t *fc;
    const monitor_rstats_t *rep;
    size_t order;                   /* the replica's position, for stable output */
    const monitor_val_t *val;
} rec_t;

static int
rec_cmp (const void *a, const void *b)
{
    const rec_t *x = (const rec_t *) a, *y = (const rec_t *) b;
    int c = strcmp (x->fc->fam, y->fc->fam);
    if (c)
        return c;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp (x->fc->value, y->fc->value);
}

/*  Families the monitor writes itself: metrics may not take them. */
static bool
reserved (const char *fam)
{
    return strncmp (fam, "hsn_replica_", 12) == 0 || strncmp (fam, "hsn_kpi_", 8) == 0
           || strcmp (fam, "hsn_monitoring_enabled") == 0;
}

static const char *
type_name (int kind)
{
    return kind == HSN_METRIC_COUNTER ? "counter" : kind == HSN_METRIC_GAUGE ? "gauge"
                                                                             : "histogram";
}

static int
replica_metrics (const monitor_names_t *names, const monitor_stats_t *stats, size_t max_bytes,
                 out_t *o)
{
    uint32_t nnames = monitor_names_count (names);
    size_t total = 0;
    for (size_t i = 0; i < monitor_stats_count (stats); i++)
        total += monitor_stats_at (stats, i)->n;
    fam_t **fams = (fam_t **) calloc (nnames ? nnames : 1, sizeof *fams);
    rec_t *recs = (rec_t *) calloc (total ? total : 1, sizeof *recs);
    int rc = fams && recs ? 0 : -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < monitor_stats_count (stats); i++) {
        const monitor_rstats_t *r = monitor_stats_at (stats, i);
        for (size_t j = 0; j < r->n; j++) {
            const monitor_val_t *v = &r->vals[j];
            if (v->name >= nnames)
                continue;
            if (!fams[v->name]) {
                if (!(fams[v->name] = (fam_t *) calloc (1, sizeof (fam_t)))) {
                    rc = -ENOMEM;
                    break;
                }
                fam_t *f = fams[v->name];
                monitor_prom_family (monitor_names_str (names, v->name), v->kind, f->fam,
                                     sizeof f->fam, f->label, sizeof f->label, f->value,
                                     sizeof f->value);
            }
            if (reserved (fams[v->name]->fam))
                continue;
            recs[n++] = (rec_t) { fams[v->name], r, i, v };
        }
    }
    if (rc == 0)
        qsort (recs, n, sizeof *recs, rec_cmp);
    const char *fam = NULL;
    int fam_kind = 0;
    char labels[512], prev[512] = "";
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const rec_t *x = &recs[i];
        if (!fam || strcmp (fam, x->fc->fam) != 0) {
            if (o->out->size >= max_bytes) {
                put (o, "# truncated: the exposition reached %zu bytes\n", max_bytes);
                break;
            }
            fam = x->fc->fam;
            fam_kind = x->val->kind;
            char help[160];
            snprintf (help, sizeof help, "hsn %s %s", type_name (fam_kind),
                      monitor_names_str (names, x->val->name));
            header (o, fam, type_name (fam_kind), help);
            prev[0] = '\0';
        }
        if (x->val->kind != fam_kind)
            continue;                   /* the name is another kind's */
        labels_of (hsn_service_name (x->rep->service), x->rep->id, x->fc->label,
                   x->fc->value, labels, sizeof labels);
        if (strcmp (labels, prev) == 0)
            continue;                   /* two names that sanitise alike */
        snprintf (prev, sizeof prev, "%s", labels);
        if (fam_kind == HSN_METRIC_COUNTER)
            put (o, "%s{%s} %llu\n", fam, labels, (unsigned long long) x->val->u);
        else if (fam_kind == HSN_METRIC_GAUGE)
            put (o, "%s{%s} %lld\n", fam, labels, (long long) x->val->g);
        else
            hist_samples (o, fam, labels, x->val->h);
    }
    for (uint32_t i = 0; fams && i < nnames; i++)
        free (fams[i]);
    free (fams);
    free (recs);
    return rc ? rc : o->err;
}

/* ---- what the monitor knows itself ------------------------------------ */

typedef enum { R_UP, R_CPU, R_CPU_LIMIT, R_RSS, R_MEM_LIMIT, R_MEM_PCT, R_UPTIME } rfield_t;

static void
replica_family (out_t *o, const monitor_replica_info_t *reps, size_t n, const char *fam,
                const char *help, rfield_t f)
{
    header (o, fam, "gauge", help);
    char labels[512];
    for (size_t i = 0; i < n; i++) {
        const monitor_replica_info_t *r = &reps[i];
        labels_of (hsn_service_name (r->service), r->id, NULL, "", labels, sizeof labels);
        double v = 0;
        switch (f) {
            case R_UP:        v = r->up ? 1 : 0; break;
            case R_CPU:       v = r->cpu; break;
            case R_CPU_LIMIT: v = r->cpu_pct; break;
            case R_RSS:       v = (double) r->rss; break;
            case R_MEM_LIMIT: v = (double) r->mem_limit; break;
            case R_MEM_PCT:   v = r->mem_pct; break;
            case R_UPTIME:    v = (double) r->uptime_s; break;
        }
        if (v >= 0)             /* memory % is -1 when the limit is unknown */
            put (o, "%s{%s} %.17g\n", fam, labels, v);
    }
}

static void
replica_families (out_t *o, const monitor_replica_info_t *reps, size_t n)
{
    replica_family (o, reps, n, "hsn_replica_up", "1 while the replica heartbeats", R_UP);
    replica_family (o, reps, n, "hsn_replica_cpu_percent", "CPU used, percent of one core",
                    R_CPU);
    replica_family (o, reps, n, "hsn_replica_cpu_limit_percent",
                    "CPU used, percent of the cores it may use", R_CPU_LIMIT);
    replica_family (o, reps, n, "hsn_replica_resident_memory_bytes", "resident set size",
                    R_RSS);
    replica_family (o, reps, n, "hsn_replica_memory_limit_bytes", "memory it may use",
                    R_MEM_LIMIT);
    replica_family (o, reps, n, "hsn_replica_memory_percent",
                    "resident set, percent of its memory limit", R_MEM_PCT);
    replica_family (o, reps, n, "hsn_replica_uptime_seconds", "seconds since it started",
                    R_UPTIME);
    header (o, "hsn_replica_dependency_up", "gauge", "1 while the dependency answers");
    char labels[512], dep[80];
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < reps[i].ndeps; d++) {
            escape (reps[i].dep_name[d], dep, sizeof dep);
            labels_of (hsn_service_name (reps[i].service), reps[i].id, "dependency", dep,
                       labels, sizeof labels);
            put (o, "hsn_replica_dependency_up{%s} %d\n", labels, reps[i].dep_up[d] ? 1 : 0);
        }
}

static void
kpi_families (out_t *o, const monitor_kpis_t *k)
{
    static const char *const fams[] = { "hsn_kpi_value", "hsn_kpi_target", "hsn_kpi_breach" };
    static const char *const helps[] = { "KPI over the monitor's default window (unit label)",
                                         "KPI target", "1 while the KPI misses its target" };
    for (int f = 0; f < 3; f++) {
        header (o, fams[f], "gauge", helps[f]);
        for (size_t i = 0; i < k->n; i++) {
            const monitor_kpi_t *x = &k->kpi[i];
            char scope[100];
            escape (x->scope, scope, sizeof scope);
            const char *lab = "kpi=\"%s\",scope=\"%s\",unit=\"%s\"";
            char labels[200];
            snprintf (labels, sizeof labels, lab, x->name, scope,
                      strcmp (x->unit, "%") == 0 ? "percent" : x->unit);
            if (f == 0 && x->status != MONITOR_KPI_NO_DATA)
                put (o, "%s{%s} %.6g\n", fams[f], labels, x->value);
            else if (f == 1)
                put (o, "%s{%s} %.6g\n", fams[f], labels, x->target);
            else if (f == 2)
                put (o, "%s{%s} %d\n", fams[f], labels, x->status == MONITOR_KPI_BREACH);
        }
    }
}

int
monitor_prom_render (const monitor_names_t *names, const monitor_stats_t *stats,
                     const monitor_replica_info_t *reps, size_t nreps,
                     const monitor_kpis_t *kpis, bool monitoring, size_t max_bytes,
                     msgpack_sbuffer *out)
{
    out_t o = { out, 0 };
    header (&o, "hsn_monitoring_enabled", "gauge",
            "1 when PERFORMANCE_MONITORING_ENABLED (stats collected)");
    put (&o, "hsn_monitoring_enabled %d\n", monitoring ? 1 : 0);
    replica_families (&o, reps, nreps);
    if (kpis)
        kpi_families (&o, kpis);
    int rc = stats ? replica_metrics (names, stats, max_bytes, &o) : 0;
    return rc ? rc : o.err;
}
