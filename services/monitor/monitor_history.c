/*  monitor_history: rings of time slots. See monitor_history.h. */
#include "monitor_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t start;
    monitor_entry_t *e;
    size_t n, cap;
    uint32_t *tab;                  /* open addressing: entry index + 1 */
    size_t tabcap;                  /* a power of two, or 0 */
    size_t bytes;
    bool has_scalars;
    monitor_scalars_t sc[HSN_SERVICE__MAX];
} slot_t;

typedef struct {
    int64_t width;
    uint32_t size;                  /* slots, the current one included */
    uint32_t head;                  /* the current slot */
    uint32_t count;                 /* slots in use */
    slot_t *slots;
} ring_t;

struct monitor_history {
    ring_t fine, coarse;
    size_t bytes, max_bytes;
    uint64_t dropped;
    int64_t latest;
};

#define ENTRY_COST (sizeof (monitor_entry_t) + 2 * sizeof (uint32_t))

static void
slot_clear (monitor_history_t *self, slot_t *s, int64_t start)
{
    for (size_t i = 0; i < s->n; i++)
        free (s->e[i].h);
    free (s->e);
    free (s->tab);
    self->bytes -= s->bytes;
    memset (s, 0, sizeof *s);
    s->start = start;
}

static int
ring_init (ring_t *r, int64_t width, uint32_t size, int64_t start)
{
    r->width = width;
    r->size = size;
    r->slots = (slot_t *) calloc (size, sizeof *r->slots);
    if (!r->slots)
        return -ENOMEM;
    r->head = 0;
    r->count = 1;
    r->slots[0].start = start;
    return 0;
}

static void
ring_free (monitor_history_t *self, ring_t *r)
{
    for (uint32_t i = 0; r->slots && i < r->size; i++)
        slot_clear (self, &r->slots[i], 0);
    free (r->slots);
}

monitor_history_t *
monitor_history_new (const monitor_history_config_t *cfg, int64_t start_ms)
{
    monitor_history_t *self = (monitor_history_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    int64_t fine = cfg && cfg->fine_ms > 0 ? cfg->fine_ms : 5000;
    int64_t coarse = cfg && cfg->coarse_ms > 0 ? cfg->coarse_ms : 30000;
    uint32_t nfine = cfg && cfg->fine_slots ? cfg->fine_slots : 60;
    uint32_t ncoarse = cfg && cfg->coarse_slots ? cfg->coarse_slots : 120;
    self->max_bytes = cfg && cfg->max_bytes ? cfg->max_bytes : 64u << 20;
    self->latest = start_ms;
    if (ring_init (&self->fine, fine, nfine, start_ms)
        || ring_init (&self->coarse, coarse, ncoarse, start_ms)) {
        monitor_history_destroy (&self);
        return NULL;
    }
    return self;
}

void
monitor_history_destroy (monitor_history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_history_t *self = *self_p;
    ring_free (self, &self->fine);
    ring_free (self, &self->coarse);
    free (self);
    *self_p = NULL;
}

static void
ring_advance (monitor_history_t *self, ring_t *r, int64_t now)
{
    slot_t *cur = &r->slots[r->head];
    if (now < cur->start + r->width)
        return;
    int64_t k = (now - cur->start) / r->width;
    int64_t start = cur->start;
    if (k >= r->size) {
        /*  Silent for longer than the ring: start afresh. */
        for (uint32_t i = 0; i < r->size; i++)
            slot_clear (self, &r->slots[i], 0);
        r->head = 0;
        r->count = 1;
        r->slots[0].start = start + k * r->width;
        return;
    }
    for (int64_t i = 1; i <= k; i++) {
        r->head = (r->head + 1) % r->size;
        if (r->count < r->size)
            r->count++;
        slot_clear (self, &r->slots[r->head], start + i * r->width);
    }
}

void
monitor_history_advance (monitor_history_t *self, int64_t now_ms,
                         const monitor_scalars_t scalars[HSN_SERVICE__MAX])
{
    if (now_ms < self->latest)
        now_ms = self->latest;
    self->latest = now_ms;
    ring_advance (self, &self->fine, now_ms);
    ring_advance (self, &self->coarse, now_ms);
    if (scalars) {
        ring_t *rings[2] = { &self->fine, &self->coarse };
        for (int i = 0; i < 2; i++) {
            slot_t *s = &rings[i]->slots[rings[i]->head];
            memcpy (s->sc, scalars, sizeof s->sc);
            s->has_scalars = true;
        }
    }
}

/*  Empty the oldest closed slot that holds anything, coarse ring first.
 *  Returns whether one was found. */
static bool
evict_oldest (monitor_history_t *self)
{
    ring_t *rings[2] = { &self->coarse, &self->fine };
    for (int i = 0; i < 2; i++) {
        ring_t *r = rings[i];
        for (uint32_t k = r->count - 1; k > 0; k--) {
            slot_t *s = &r->slots[(r->head + r->size - k) % r->size];
            if (s->n) {
                slot_clear (self, s, s->start);
                return true;
            }
        }
    }
    return false;
}

static size_t
hash_of (uint32_t serial, uint16_t name, size_t mask)
{
    uint64_t x = ((uint64_t) serial << 16 | name) * 0x9E3779B97F4A7C15ull;
    return (size_t) (x >> 32) & mask;
}

static int
tab_grow (slot_t *s)
{
    size_t cap = s->tabcap ? s->tabcap * 2 : 64;
    uint32_t *tab = (uint32_t *) calloc (cap, sizeof *tab);
    if (!tab)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        size_t h = hash_of (s->e[i].serial, s->e[i].name, cap - 1);
        while (tab[h])
            h = (h + 1) & (cap - 1);
        tab[h] = (uint32_t) i + 1;
    }
    free (s->tab);
    s->tab = tab;
    s->tabcap = cap;
    return 0;
}

static int
slot_add (monitor_history_t *self, slot_t *s, const monitor_rstats_t *r,
          const monitor_val_t *d)
{
    size_t mask = s->tabcap - 1, h = s->tabcap ? hash_of (r->serial, d->name, mask) : 0;
    while (s->tabcap && s->tab[h]) {
        monitor_entry_t *e = &s->e[s->tab[h] - 1];
        if (e->serial == r->serial && e->name == d->name) {
            if (e->kind != d->kind)
                return 0;
            e->u += d->u;
            e->g = d->g;
            if (d->h) {
                size_t was = e->h ? monitor_sparse_bytes (e->h) : 0;
                e->h = monitor_sparse_add (e->h, d->h);
                size_t now = e->h ? monitor_sparse_bytes (e->h) : 0;
                s->bytes += now - was;
                self->bytes += now - was;
            }
            return 0;
        }
        h = (h + 1) & mask;
    }
    size_t cost = ENTRY_COST + (d->h ? monitor_sparse_bytes (d->h) : 0);
    if (s->n == MONITOR_SLOT_MAX_ENTRIES || self->bytes + cost > self->max_bytes)
        return -ENOSPC;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        monitor_entry_t *e = (monitor_entry_t *) realloc (s->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        s->e = e;
        s->cap = cap;
    }
    if ((s->n + 1) * 2 > s->tabcap && tab_grow (s))
        return -ENOMEM;
    monitor_entry_t *e = &s->e[s->n];
    e->serial = r->serial;
    e->name = d->name;
    e->service = (uint8_t) r->service;
    e->kind = d->kind;
    e->u = d->u;
    e->g = d->g;
    e->h = d->h ? monitor_sparse_add (NULL, d->h) : NULL;
    if (d->h && !e->h)
        return -ENOMEM;
    h = hash_of (r->serial, d->name, s->tabcap - 1);
    while (s->tab[h])
        h = (h + 1) & (s->tabcap - 1);
    s->tab[h] = (uint32_t) ++s->n;
    s->bytes += cost;
    self->bytes += cost;
    return 0;
}

int
monitor_history_add (monitor_history_t *self, int64_t now_ms, const monitor_rstats_t *r,
                     const monitor_val_t *d)
{
    monitor_history_advance (self, now_ms, NULL);
    ring_t *rings[2] = { &self->fine, &self->coarse };
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        slot_t *s = &rings[i]->slots[rings[i]->head];
        int one = slot_add (self, s, r, d);
        while (one == -ENOSPC && s->n < MONITOR_SLOT_MAX_ENTRIES && evict_oldest (self))
            one = slot_add (self, s, r, d);
        if (one) {
            self->dropped++;
            rc = one;
        }
    }
    return rc;
}

static const ring_t *
ring_for (const monitor_history_t *self, int64_t window_ms)
{
    const ring_t *f = &self->fine;
    return window_ms <= f->width * (int64_t) f->size ? f : &self->coarse;
}

size_t
monitor_history_window (monitor_history_t *self, int64_t now_ms, int64_t window_ms,
                        monitor_slot_view_t *views, size_t max)
{
    monitor_history_advance (self, now_ms, NULL);
    now_ms = self->latest;
    const ring_t *r = ring_for (self, window_ms);
    size_t n = 0;
    for (uint32_t k = r->count; k-- > 0; ) {
        const slot_t *s = &r->slots[(r->head + r->size - k) % r->size];
        int64_t end = k == 0 ? now_ms : s->start + r->width;
        if (end <= now_ms - window_ms || n == max)
            continue;
        monitor_slot_view_t *v = &views[n++];
        v->start_ms = s->start;
        v->end_ms = end;
        v->entries = s->e;
        v->n = s->n;
        v->has_scalars = s->has_scalars;
        memcpy (v->scalars, s->sc, sizeof v->scalars);
    }
    return n;
}

size_t
monitor_history_max_slots (const monitor_history_t *self)
{
    return self->fine.size > self->coarse.size ? self->fine.size : self->coarse.size;
}

int64_t
monitor_history_slot_ms (const monitor_history_t *self, int64_t window_ms)
{
    return ring_for (self, window_ms)->width;
}

size_t
monitor_history_bytes (const monitor_history_t *self)
{
    return self->bytes;
}

uint64_t
monitor_history_dropped (const monitor_history_t *self)
{
    return self->dropped;
}
