/*  monitor_stats: latest metrics per replica. See monitor_stats.h. */
#include "monitor_stats.h"
#include "hsn_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct monitor_stats {
    monitor_names_t *names;
    size_t max, count, bytes;
    uint32_t next_serial;
    monitor_rstats_t **reps;
};

monitor_stats_t *
monitor_stats_new (monitor_names_t *names, size_t max_replicas)
{
    monitor_stats_t *self = (monitor_stats_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->names = names;
    self->max = max_replicas;
    self->next_serial = 1;
    self->reps = (monitor_rstats_t **) calloc (max_replicas ? max_replicas : 1,
                                               sizeof *self->reps);
    if (!self->reps) {
        free (self);
        return NULL;
    }
    return self;
}

static void
vals_free (monitor_val_t *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (vals[i].h);
    free (vals);
}

static void
rep_free (monitor_stats_t *self, monitor_rstats_t *r)
{
    self->bytes -= r->bytes;
    vals_free (r->vals, r->n);
    free (r);
}

static size_t
vals_bytes (const monitor_val_t *vals, size_t n)
{
    size_t bytes = n * sizeof *vals;
    for (size_t i = 0; i < n; i++)
        bytes += vals[i].h ? monitor_sparse_bytes (vals[i].h) : 0;
    return bytes;
}

void
monitor_stats_destroy (monitor_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_stats_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        rep_free (self, self->reps[i]);
    free (self->reps);
    free (self);
    *self_p = NULL;
}

static monitor_rstats_t *
find (const monitor_stats_t *self, uint32_t service, const char *id, size_t idlen)
{
    for (size_t i = 0; i < self->count; i++) {
        monitor_rstats_t *r = self->reps[i];
        if (r->service == service && strlen (r->id) == idlen && memcmp (r->id, id, idlen) == 0)
            return r;
    }
    return NULL;
}

static int
by_name (const void *a, const void *b)
{
    const monitor_val_t *x = (const monitor_val_t *) a, *y = (const monitor_val_t *) b;
    return (int) x->name - (int) y->name;
}

/*  Parse the packed registry into compact values sorted by name id. */
static int
parse (monitor_stats_t *self, const void *mp, size_t len, monitor_val_t **out, size_t *nout)
{
    hsn_metrics_t *tmp = hsn_metrics_new ();
    if (!tmp)
        return -ENOMEM;
    if (hsn_metrics_unpack_merge (tmp, mp, len)) {
        hsn_metrics_destroy (&tmp);
        return -EBADMSG;
    }
    size_t count = hsn_metrics_count (tmp), n = 0;
    monitor_val_t *vals = (monitor_val_t *) calloc (count ? count : 1, sizeof *vals);
    if (!vals) {
        hsn_metrics_destroy (&tmp);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name;
        int kind;
        void *value;
        if (hsn_metrics_at (tmp, i, &name, &kind, &value))
            break;
        int id = monitor_names_id (self->names, name, kind);
        if (id < 0)
            continue;                   /* table full: ignored */
        monitor_val_t *v = &vals[n];
        v->name = (uint16_t) id;
        v->kind = (uint8_t) kind;
        if (kind == HSN_METRIC_COUNTER)
            v->u = *(const uint64_t *) value;
        else if (kind == HSN_METRIC_GAUGE)
            v->g = *(const int64_t *) value;
        else if (!(v->h = monitor_sparse_from ((const hsn_hist_t *) value)))
            continue;
        n++;
    }
    hsn_metrics_destroy (&tmp);
    qsort (vals, n, sizeof *vals, by_name);
    *out = vals;
    *nout = n;
    return 0;
}

/*  Report the difference between old (may be empty) and new values. */
static void
report (const monitor_rstats_t *r, const monitor_val_t *old, size_t nold,
        const monitor_val_t *nv, size_t nnew, monitor_delta_fn *fn, void *arg)
{
    size_t j = 0;
    for (size_t i = 0; i < nnew; i++) {
        const monitor_val_t *v = &nv[i];
        while (j < nold && old[j].name < v->name)
            j++;
        const monitor_val_t *was = j < nold && old[j].name == v->name ? &old[j] : NULL;
        monitor_val_t d = { v->name, v->kind, 0, 0, NULL };
        if (v->kind == HSN_METRIC_GAUGE) {
            d.g = v->g;
            fn (arg, r, &d);
        }
        else if (v->kind == HSN_METRIC_COUNTER) {
            uint64_t before = was ? was->u : 0;
            d.u = v->u >= before ? v->u - before : v->u;      /* down: reset */
            if (d.u)
                fn (arg, r, &d);
        }
        else {
            bool reset;
            d.h = monitor_sparse_delta (v->h, was ? was->h : NULL, &reset);
            if (d.h)
                fn (arg, r, &d);
            free (d.h);
        }
    }
}

int
monitor_stats_take (monitor_stats_t *self, uint32_t service, const char *id, size_t idlen,
                    const void *mp, size_t len, int64_t now_ms, bool first_counts,
                    monitor_delta_fn *fn, void *arg)
{
    if (service == 0 || service >= HSN_SERVICE__MAX || idlen == 0 || idlen > MONITOR_ID_MAX
        || memchr (id, '\0', idlen))
        return -EINVAL;
    monitor_rstats_t *r = find (self, service, id, idlen);
    if (!r && self->count == self->max)
        return -ENOSPC;
    monitor_val_t *vals;
    size_t n;
    int rc = parse (self, mp, len, &vals, &n);
    if (rc)
        return rc;
    size_t bytes = vals_bytes (vals, n);
    if (self->bytes - (r ? r->bytes : 0) + bytes > MONITOR_STATS_MAX_BYTES) {
        vals_free (vals, n);
        return -ENOSPC;
    }
    bool baseline = false;
    if (!r) {
        r = (monitor_rstats_t *) calloc (1, sizeof *r);
        if (!r) {
            vals_free (vals, n);
            return -ENOMEM;
        }
        r->serial = self->next_serial++;
        r->service = service;
        memcpy (r->id, id, idlen);
        self->reps[self->count++] = r;
        baseline = !first_counts;
    }
    if (fn) {
        if (baseline)
            report (r, vals, n, vals, n, fn, arg);      /* no increase, gauges only */
        else if (r->fresh)
            report (r, NULL, 0, vals, n, fn, arg);
        else
            report (r, r->vals, r->n, vals, n, fn, arg);
    }
    vals_free (r->vals, r->n);
    self->bytes += bytes - r->bytes;
    r->bytes = bytes;
    r->vals = vals;
    r->n = n;
    r->last_ms = now_ms;
    r->fresh = false;
    return 0;
}

void
monitor_stats_restarted (monitor_stats_t *self, uint32_t service, const char *id,
                         size_t idlen)
{
    monitor_rstats_t *r = find (self, service, id, idlen);
    if (r)
        r->fresh = true;
}

void
monitor_stats_forget (monitor_stats_t *self, int64_t before_ms)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        if (self->reps[i]->last_ms < before_ms)
            rep_free (self, self->reps[i]);
        else
            self->reps[kept++] = self->reps[i];
    }
    self->count = kept;
}

size_t
monitor_stats_bytes (const monitor_stats_t *self)
{
    return self->bytes;
}

size_t
monitor_stats_count (const monitor_stats_t *self)
{
    return self->count;
}

const monitor_rstats_t *
monitor_stats_at (const monitor_stats_t *self, size_t i)
{
    return i < self->count ? self->reps[i] : NULL;
}

const monitor_rstats_t *
monitor_stats_find (const monitor_stats_t *self, uint32_t service, const char *id)
{
    return find (self, service, id, strlen (id));
}

const monitor_val_t *
monitor_rstats_val (const monitor_rstats_t *r, uint32_t name)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->vals[mid].name < name)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->vals[lo].name == name ? &r->vals[lo] : NULL;
}
