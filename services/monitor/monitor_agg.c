/*  monitor_agg: entries added up. See monitor_agg.h. */
#include "monitor_agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
monitor_agg_init (monitor_agg_t *a, const monitor_names_t *names)
{
    memset (a, 0, sizeof *a);
    a->names = names;
    a->nnames = monitor_names_count (names);
    a->index = (int32_t *) calloc (a->nnames ? a->nnames : 1, sizeof *a->index);
    return a->index ? 0 : -ENOMEM;
}

void
monitor_agg_release (monitor_agg_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free (a->items[i].h);
        free (a->items[i].gv);
    }
    free (a->items);
    free (a->index);
    memset (a, 0, sizeof *a);
}

static monitor_agg_item_t *
item_for (monitor_agg_t *a, uint16_t name, uint8_t kind)
{
    if (name >= a->nnames)
        return NULL;                /* a name newer than the aggregate */
    if (a->index[name])
        return &a->items[a->index[name] - 1];
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        monitor_agg_item_t *items = (monitor_agg_item_t *) realloc (a->items, cap * sizeof *items);
        if (!items)
            return NULL;
        a->items = items;
        a->cap = cap;
    }
    monitor_agg_item_t *it = &a->items[a->n];
    memset (it, 0, sizeof *it);
    it->name = name;
    it->kind = kind;
    a->index[name] = (int32_t) ++a->n;
    return it;
}

int
monitor_agg_add (monitor_agg_t *a, const monitor_entry_t *e)
{
    monitor_agg_item_t *it = item_for (a, e->name, e->kind);
    if (!it)
        return -ENOMEM;
    if (e->kind == HSN_METRIC_COUNTER)
        it->u += e->u;
    else if (e->kind == HSN_METRIC_HIST && e->h) {
        if (!it->h && !(it->h = (hsn_hist_t *) calloc (1, sizeof *it->h)))
            return -ENOMEM;
        monitor_sparse_merge (it->h, e->h);
    }
    else if (e->kind == HSN_METRIC_GAUGE) {
        for (size_t i = 0; i < it->ngv; i++)
            if (it->gv[i].serial == e->serial) {
                it->gv[i].g = e->g;             /* a later slot: newer */
                return 0;
            }
        monitor_gval_t *gv = (monitor_gval_t *) realloc (it->gv, (it->ngv + 1) * sizeof *gv);
        if (!gv)
            return -ENOMEM;
        it->gv = gv;
        it->gv[it->ngv].serial = e->serial;
        it->gv[it->ngv++].g = e->g;
    }
    return 0;
}

void
monitor_agg_slots (monitor_agg_t *a, const monitor_slot_view_t *views, size_t n,
                   uint32_t service, uint32_t serial)
{
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < views[s].n; i++) {
            const monitor_entry_t *e = &views[s].entries[i];
            if ((service == 0 || e->service == service) && (serial == 0 || e->serial == serial))
                monitor_agg_add (a, e);
        }
}

const monitor_agg_item_t *
monitor_agg_item (const monitor_agg_t *a, const char *name, int kind)
{
    int id = monitor_names_find (a->names, name, kind);
    if (id < 0 || (uint32_t) id >= a->nnames || !a->index[id])
        return NULL;
    return &a->items[a->index[id] - 1];
}

int64_t
monitor_agg_gauge_value (const monitor_agg_item_t *it)
{
    int64_t sum = 0;
    for (size_t i = 0; i < it->ngv; i++)
        sum += it->gv[i].g;
    return sum;
}

/*  Call visit for every item of kind whose name matches pattern. */
static size_t
each_match (const monitor_agg_t *a, const char *pattern, int kind,
            void (*visit) (const monitor_agg_item_t *it, void *arg), void *arg)
{
    if (!strchr (pattern, '*')) {
        const monitor_agg_item_t *it = monitor_agg_item (a, pattern, kind);
        if (it)
            visit (it, arg);
        return it != NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const monitor_agg_item_t *it = &a->items[i];
        if (it->kind == kind
            && monitor_name_match (pattern, monitor_names_str (a->names, it->name), NULL, NULL)) {
            visit (it, arg);
            n++;
        }
    }
    return n;
}

static void
add_counter (const monitor_agg_item_t *it, void *arg)
{
    *(uint64_t *) arg += it->u;
}

static void
add_gauge (const monitor_agg_item_t *it, void *arg)
{
    *(int64_t *) arg += monitor_agg_gauge_value (it);
}

static void
add_hist (const monitor_agg_item_t *it, void *arg)
{
    hsn_hist_t *out = (hsn_hist_t *) arg;
    if (!it->h)
        return;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        out->buckets[i] += it->h->buckets[i];
    out->count += it->h->count;
    out->sum += it->h->sum;
    if (it->h->max > out->max)
        out->max = it->h->max;
}

size_t
monitor_agg_counter (const monitor_agg_t *a, const char *pattern, uint64_t *out)
{
    *out = 0;
    return each_match (a, pattern, HSN_METRIC_COUNTER, add_counter, out);
}

size_t
monitor_agg_gauge (const monitor_agg_t *a, const char *pattern, int64_t *out)
{
    *out = 0;
    return each_match (a, pattern, HSN_METRIC_GAUGE, add_gauge, out);
}

size_t
monitor_agg_hist (const monitor_agg_t *a, const char *pattern, hsn_hist_t *out)
{
    memset (out, 0, sizeof *out);
    return each_match (a, pattern, HSN_METRIC_HIST, add_hist, out);
}
