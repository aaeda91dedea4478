/*  monitor_core: state and answers. See monitor_core.h. */
#include "monitor_core.h"
#include "monitor_doc.h"
#include "monitor_prom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*  A replica's first STATS counts in full when it has been up this long at
 *  most (it sends its first STATS a second after it starts). */
#define FIRST_COUNTS_UPTIME_S 10

struct monitor_core {
    monitor_core_config_t cfg;
    monitor_names_t *names;
    monitor_registry_t *registry;
    monitor_stats_t *stats;
    monitor_history_t *history;
    monitor_replica_info_t *reps;   /* the tick's, MONITOR_REGISTRY_MAX */
    int64_t started_ms;
};

monitor_core_t *
monitor_core_new (const monitor_core_config_t *cfg, int64_t now_ms)
{
    monitor_core_t *self = (monitor_core_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->started_ms = now_ms;
    int64_t interval = (int64_t) (cfg->stats_interval_s ? cfg->stats_interval_s : 30) * 1000;
    monitor_history_config_t h = { 0, 60, 0, 0, 64u << 20 };
    h.fine_ms = interval > 5000 ? interval : 5000;
    h.coarse_ms = interval > 30000 ? interval : 30000;
    int64_t ncoarse = 3600000 / h.coarse_ms;
    h.coarse_slots = (uint32_t) (ncoarse < 12 ? 12 : ncoarse > 240 ? 240 : ncoarse);
    self->names = monitor_names_new ();
    self->registry = monitor_registry_new (cfg->expected, cfg->forget_ms);
    self->stats = monitor_stats_new (self->names, MONITOR_MAX_STATS_REPLICAS);
    self->history = monitor_history_new (&h, now_ms);
    self->reps = (monitor_replica_info_t *) calloc (MONITOR_REGISTRY_MAX, sizeof *self->reps);
    if (!self->stats || !self->history || !self->reps) {
        monitor_core_destroy (&self);
        return NULL;
    }
    monitor_registry_host_limits (self->registry, cfg->host_cores, cfg->host_mem);
    return self;
}

void
monitor_core_destroy (monitor_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_core_t *self = *self_p;
    monitor_history_destroy (&self->history);
    monitor_stats_destroy (&self->stats);
    monitor_registry_destroy (&self->registry);
    monitor_names_destroy (&self->names);
    free (self->reps);
    free (self);
    *self_p = NULL;
}

monitor_registry_t *
monitor_core_registry (monitor_core_t *self)
{
    return self->registry;
}

bool
monitor_core_monitoring (const monitor_core_t *self)
{
    return self->cfg.monitoring;
}

typedef struct {
    monitor_core_t *self;
    int64_t now_ms;
} delta_arg_t;

static void
on_delta (void *arg, const monitor_rstats_t *r, const monitor_val_t *d)
{
    delta_arg_t *a = (delta_arg_t *) arg;
    monitor_history_add (a->self->history, a->now_ms, r, d);
}

int
monitor_core_take (monitor_core_t *self, const hsn_env_t *env, int64_t now_ms)
{
    if (env->kind != HSN_KIND_HEARTBEAT && env->kind != HSN_KIND_STATS)
        return -EINVAL;
    int rc = monitor_registry_take (self->registry, env, now_ms);
    if (rc < 0)
        return rc;
    uint64_t service;
    const char *id;
    size_t idlen;
    hsn_env_uint (env, HSN_FIELD_SERVICE, &service);
    hsn_env_str (env, HSN_FIELD_REPLICA, &id, &idlen);
    if (env->kind == HSN_KIND_HEARTBEAT) {
        if (rc == 1)
            monitor_stats_restarted (self->stats, (uint32_t) service, id, idlen);
        return 0;
    }
    if (!self->cfg.monitoring || !hsn_env_has (env, HSN_FIELD_STATS))
        return 0;
    const hsn_mp_obj_t *st = &env->fields[HSN_FIELD_STATS];
    int64_t up = monitor_registry_uptime (self->registry, (uint32_t) service, id, idlen);
    delta_arg_t arg = { self, now_ms };
    return monitor_stats_take (self->stats, (uint32_t) service, id, idlen, st->raw,
                               st->raw_len, now_ms, up >= 0 && up <= FIRST_COUNTS_UPTIME_S,
                               on_delta, &arg);
}

void
monitor_core_tick (monitor_core_t *self, int64_t now_ms)
{
    monitor_replica_info_t *reps = self->reps;
    size_t n = monitor_registry_replicas (self->registry, now_ms, reps, MONITOR_REGISTRY_MAX);
    monitor_scalars_t sc[HSN_SERVICE__MAX];
    memset (sc, 0, sizeof sc);
    for (uint32_t s = 0; s < HSN_SERVICE__MAX; s++)
        sc[s].cpu_avg = sc[s].cpu_min = sc[s].cpu_max = sc[s].mem_max = -1;
    for (size_t i = 0; i < n && i < MONITOR_REGISTRY_MAX; i++) {
        monitor_scalars_t *x = &sc[reps[i].service];
        if (!reps[i].up)
            continue;
        double cpu = reps[i].cpu_pct;
        x->cpu_avg = (x->up ? x->cpu_avg * x->up : 0) + cpu;
        x->up++;
        x->cpu_avg /= x->up;
        x->cpu_min = x->cpu_min < 0 || cpu < x->cpu_min ? cpu : x->cpu_min;
        x->cpu_max = cpu > x->cpu_max ? cpu : x->cpu_max;
        if (reps[i].mem_pct > x->mem_max)
            x->mem_max = reps[i].mem_pct;
    }
    monitor_history_advance (self->history, now_ms, sc);
    int64_t stale = self->cfg.forget_ms + 3000 * (int64_t) self->cfg.stats_interval_s;
    monitor_stats_forget (self->stats, now_ms - stale);
}

/* ---- views ------------------------------------------------------------- */

typedef struct {
    monitor_view_t v;
    monitor_slot_view_t *slots;
    monitor_replica_info_t *reps;
} view_t;

static void
view_close (view_t *w)
{
    monitor_view_release (&w->v);
    free (w->slots);
    free (w->reps);
}

static int
view_open (monitor_core_t *self, int64_t now_ms, uint32_t window_s, view_t *w)
{
    memset (w, 0, sizeof *w);
    if (window_s == 0)
        window_s = MONITOR_DEFAULT_WINDOW_S;
    if (window_s > MONITOR_MAX_WINDOW_S)
        window_s = MONITOR_MAX_WINDOW_S;
    monitor_view_t *v = &w->v;
    v->names = self->names;
    v->stats = self->stats;
    v->now_ms = now_ms;
    v->window_ms = (int64_t) window_s * 1000;
    size_t max = monitor_history_max_slots (self->history);
    w->slots = (monitor_slot_view_t *) calloc (max, sizeof *w->slots);
    w->reps = (monitor_replica_info_t *) calloc (MONITOR_REGISTRY_MAX, sizeof *w->reps);
    if (!w->slots || !w->reps) {
        view_close (w);
        return -ENOMEM;
    }
    size_t n = monitor_registry_replicas (self->registry, now_ms, w->reps, MONITOR_REGISTRY_MAX);
    v->replicas = w->reps;
    v->nreplicas = n < MONITOR_REGISTRY_MAX ? n : MONITOR_REGISTRY_MAX;
    v->slots = w->slots;
    v->nslots = monitor_history_window (self->history, now_ms, v->window_ms, w->slots, max);
    v->slot_ms = monitor_history_slot_ms (self->history, v->window_ms);
    /*  How far back the slots reach, not before the monitor started. */
    int64_t from = v->nslots ? w->slots[0].start_ms : now_ms;
    if (from < self->started_ms)
        from = self->started_ms;
    if (from < now_ms - v->window_ms)
        from = now_ms - v->window_ms;
    v->covered_ms = now_ms - from;
    if (monitor_view_aggregate (v)) {
        view_close (w);
        return -ENOMEM;
    }
    return 0;
}

int
monitor_core_evaluate (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                       monitor_kpis_t *kpis, monitor_recs_t *recs)
{
    view_t w;
    int rc = view_open (self, now_ms, window_s, &w);
    if (rc)
        return rc;
    monitor_kpis_compute (&w.v, &self->cfg.targets, kpis);
    if (recs)
        monitor_rules_run (&w.v, kpis, &self->cfg.targets, recs);
    view_close (&w);
    return 0;
}

int
monitor_core_summary (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                      msgpack_packer *pk)
{
    view_t w;
    monitor_kpis_t *k = (monitor_kpis_t *) calloc (1, sizeof *k);
    int rc = k ? view_open (self, now_ms, window_s, &w) : -ENOMEM;
    if (rc == 0) {
        if (self->cfg.monitoring)
            monitor_kpis_compute (&w.v, &self->cfg.targets, k);
        monitor_doc_summary (pk, &w.v, k, &self->cfg.targets, self->cfg.monitoring);
        view_close (&w);
    }
    free (k);
    return rc;
}

int
monitor_core_metrics (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                      msgpack_packer *pk)
{
    view_t w;
    int rc = view_open (self, now_ms, window_s, &w);
    if (rc)
        return rc;
    /*  Packed aside first: a failure half-way must leave pk untouched. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer tp;
    msgpack_packer_init (&tp, &sb, msgpack_sbuffer_write);
    rc = monitor_doc_metrics (&tp, &w.v, self->cfg.monitoring, MONITOR_DOC_MAX_BYTES) ? -ENOMEM : 0;
    if (rc == 0)
        pk->callback (pk->data, sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    view_close (&w);
    return rc;
}

int
monitor_core_recommendations (monitor_core_t *self, int64_t now_ms, uint32_t window_s,
                              msgpack_packer *pk)
{
    view_t w;
    monitor_kpis_t *k = (monitor_kpis_t *) calloc (1, sizeof *k);
    monitor_recs_t *r = (monitor_recs_t *) calloc (1, sizeof *r);
    int rc = k && r ? view_open (self, now_ms, window_s, &w) : -ENOMEM;
    if (rc == 0) {
        if (self->cfg.monitoring) {
            monitor_kpis_compute (&w.v, &self->cfg.targets, k);
            monitor_rules_run (&w.v, k, &self->cfg.targets, r);
        }
        monitor_doc_recs (pk, &w.v, r, self->cfg.monitoring);
        view_close (&w);
    }
    free (k);
    free (r);
    return rc;
}

int
monitor_core_prometheus (monitor_core_t *self, int64_t now_ms, msgpack_sbuffer *out)
{
    view_t w;
    monitor_kpis_t *k = (monitor_kpis_t *) calloc (1, sizeof *k);
    int rc = k ? view_open (self, now_ms, 0, &w) : -ENOMEM;
    if (rc == 0) {
        if (self->cfg.monitoring)
            monitor_kpis_compute (&w.v, &self->cfg.targets, k);
        rc = monitor_prom_render (self->names, self->cfg.monitoring ? self->stats : NULL,
                                  w.reps, w.v.nreplicas, self->cfg.monitoring ? k : NULL,
                                  self->cfg.monitoring, MONITOR_DOC_MAX_BYTES, out);
        view_close (&w);
    }
    free (k);
    return rc;
}
