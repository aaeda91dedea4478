/*  monitor_registry: replica liveness and health. See monitor_registry.h. */
#include "monitor_registry.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#define MAX_DEPS 4

typedef struct {
    uint32_t service;
    char id[128];
    int64_t first_seen_ms, last_seen_ms;
    uint32_t interval_ms;
    uint64_t uptime_s, rss, mem_limit;
    double cpu, cpu_limit;
    int ndeps;
    char dep_name[MAX_DEPS][32];
    bool dep_up[MAX_DEPS];
} replica_t;

struct monitor_registry {
    zhashx_t *replicas;             /* "service/id" -> replica_t */
    uint32_t expected;
    int64_t forget_ms;
    double host_cores;
    uint64_t host_mem;
};

static void
replica_free (void **item)
{
    free (*item);
    *item = NULL;
}

monitor_registry_t *
monitor_registry_new (uint32_t expected, int64_t forget_ms)
{
    monitor_registry_t *self = (monitor_registry_t *) zmalloc (sizeof *self);
    self->replicas = zhashx_new ();
    zhashx_set_destructor (self->replicas, replica_free);
    self->expected = expected;
    self->forget_ms = forget_ms;
    return self;
}

void
monitor_registry_destroy (monitor_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->replicas);
    free (*self_p);
    *self_p = NULL;
}

static void forget_old (monitor_registry_t *self, int64_t now_ms);

static bool
is_up (const replica_t *r, int64_t now_ms)
{
    return now_ms - r->last_seen_ms <= 3 * (int64_t) r->interval_ms;
}

static void
take_health (replica_t *r, const hsn_mp_obj_t *map)
{
    hsn_mp_reader_t rd;
    hsn_mp_reader_of (&rd, map);
    r->ndeps = 0;
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&rd, &k, 4) || hsn_mp_get (&rd, &v, 4))
            return;
        if (k.type != HSN_MP_STR || v.type != HSN_MP_BOOL || r->ndeps == MAX_DEPS)
            continue;
        snprintf (r->dep_name[r->ndeps], sizeof r->dep_name[0], "%.*s",
                  (int) k.v.s.len, k.v.s.ptr);
        r->dep_up[r->ndeps++] = v.v.b;
    }
}

int
monitor_registry_take (monitor_registry_t *self, const hsn_env_t *env, int64_t now_ms)
{
    uint64_t service;
    const char *id;
    size_t idlen;
    if (hsn_env_uint (env, HSN_FIELD_SERVICE, &service) || service == 0
        || service >= HSN_SERVICE__MAX
        || hsn_env_str (env, HSN_FIELD_REPLICA, &id, &idlen) || idlen == 0 || idlen > 100)
        return -EINVAL;
    char key[160];
    snprintf (key, sizeof key, "%u/%.*s", (unsigned) service, (int) idlen, id);
    replica_t *r = (replica_t *) zhashx_lookup (self->replicas, key);
    if (!r && zhashx_size (self->replicas) >= MONITOR_REGISTRY_MAX)
        return -ENOSPC;
    if (!r) {
        r = (replica_t *) zmalloc (sizeof *r);
        r->service = (uint32_t) service;
        snprintf (r->id, sizeof r->id, "%.*s", (int) idlen, id);
        r->first_seen_ms = now_ms;
        r->interval_ms = 1000;
        zhashx_insert (self->replicas, key, r);
    }
    r->last_seen_ms = now_ms;
    if (env->kind != HSN_KIND_HEARTBEAT)
        return 0;
    uint64_t v;
    int rc = 0;
    if (hsn_env_uint (env, HSN_FIELD_INTERVAL, &v) == 0 && v >= 10 && v <= 60000)
        r->interval_ms = (uint32_t) v;
    if (hsn_env_uint (env, HSN_FIELD_UPTIME, &v) == 0) {
        rc = v < r->uptime_s;
        r->uptime_s = v;
    }
    if (hsn_env_uint (env, HSN_FIELD_RSS, &v) == 0)
        r->rss = v;
    if (hsn_env_uint (env, HSN_FIELD_MEM_LIMIT, &v) == 0)
        r->mem_limit = v;
    /*  Floats only, and sane ones: a hostile NaN or 1e300 is ignored. */
    const hsn_mp_obj_t *f = &env->fields[HSN_FIELD_CPU];
    if (hsn_env_has (env, HSN_FIELD_CPU) && f->type == HSN_MP_FLOAT
        && f->v.f >= 0 && f->v.f <= 1e6)
        r->cpu = f->v.f;
    f = &env->fields[HSN_FIELD_CPU_LIMIT];
    if (hsn_env_has (env, HSN_FIELD_CPU_LIMIT) && f->type == HSN_MP_FLOAT
        && f->v.f > 0 && f->v.f <= 1e5)
        r->cpu_limit = f->v.f;
    if (hsn_env_has (env, HSN_FIELD_HEALTH))
        take_health (r, &env->fields[HSN_FIELD_HEALTH]);
    return rc;
}

void
monitor_registry_host_limits (monitor_registry_t *self, double cores, uint64_t mem_bytes)
{
    self->host_cores = cores;
    self->host_mem = mem_bytes;
}

static void
fill_info (const monitor_registry_t *self, const replica_t *r, int64_t now_ms,
           monitor_replica_info_t *o)
{
    o->service = r->service;
    o->id = r->id;
    o->up = is_up (r, now_ms);
    o->last_seen_ms = now_ms - r->last_seen_ms;
    o->uptime_s = r->uptime_s;
    o->rss = r->rss;
    o->cpu = r->cpu;
    o->own_limits = r->cpu_limit > 0 || r->mem_limit > 0;
    o->cpu_limit = r->cpu_limit > 0 ? r->cpu_limit : self->host_cores > 0 ? self->host_cores : 1;
    o->mem_limit = r->mem_limit ? r->mem_limit : self->host_mem;
    o->cpu_pct = r->cpu / o->cpu_limit;
    o->mem_pct = o->mem_limit ? 100.0 * (double) r->rss / (double) o->mem_limit : -1;
    o->ndeps = r->ndeps;
    for (int i = 0; i < r->ndeps; i++) {
        o->dep_name[i] = r->dep_name[i];
        o->dep_up[i] = r->dep_up[i];
    }
}

size_t
monitor_registry_replicas (monitor_registry_t *self, int64_t now_ms,
                           monitor_replica_info_t *out, size_t max)
{
    forget_old (self, now_ms);
    size_t n = 0;
    for (replica_t *r = (replica_t *) zhashx_first (self->replicas); r;
         r = (replica_t *) zhashx_next (self->replicas)) {
        if (n < max)
            fill_info (self, r, now_ms, &out[n]);
        n++;
    }
    return n;
}

int64_t
monitor_registry_uptime (monitor_registry_t *self, uint32_t service, const char *id,
                         size_t idlen)
{
    char key[160];
    snprintf (key, sizeof key, "%u/%.*s", (unsigned) service, (int) idlen, id);
    replica_t *r = (replica_t *) zhashx_lookup (self->replicas, key);
    return r ? (int64_t) r->uptime_s : -1;
}

uint32_t
monitor_registry_up (monitor_registry_t *self, uint32_t service, int64_t now_ms)
{
    uint32_t n = 0;
    for (replica_t *r = (replica_t *) zhashx_first (self->replicas); r;
         r = (replica_t *) zhashx_next (self->replicas))
        n += r->service == service && is_up (r, now_ms);
    return n;
}

static void
pack_str (msgpack_packer *pk, const char *s)
{
    size_t n = strlen (s);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

static void
forget_old (monitor_registry_t *self, int64_t now_ms)
{
    if (zhashx_size (self->replicas) == 0)
        return;
    zlistx_t *old = zlistx_new ();
    for (replica_t *r = (replica_t *) zhashx_first (self->replicas); r;
         r = (replica_t *) zhashx_next (self->replicas))
        if (now_ms - r->last_seen_ms > 3 * (int64_t) r->interval_ms + self->forget_ms)
            zlistx_add_end (old, (void *) zhashx_cursor (self->replicas));
    for (const char *k = (const char *) zlistx_first (old); k;
         k = (const char *) zlistx_next (old)) {
        char key[160];
        snprintf (key, sizeof key, "%s", k);
        zhashx_delete (self->replicas, key);
    }
    zlistx_destroy (&old);
}

static void
pack_replica (const monitor_registry_t *self, msgpack_packer *pk, const replica_t *r,
              int64_t now_ms)
{
    monitor_replica_info_t info;
    fill_info (self, r, now_ms, &info);
    msgpack_pack_map (pk, 10);
    pack_str (pk, "id");            pack_str (pk, r->id);
    pack_str (pk, "status");        pack_str (pk, is_up (r, now_ms) ? "up" : "down");
    pack_str (pk, "last_seen_ms");  msgpack_pack_int64 (pk, now_ms - r->last_seen_ms);
    pack_str (pk, "uptime_s");      msgpack_pack_uint64 (pk, r->uptime_s);
    pack_str (pk, "cpu_percent");   msgpack_pack_double (pk, r->cpu);
    pack_str (pk, "rss_bytes");     msgpack_pack_uint64 (pk, r->rss);
    pack_str (pk, "cpu_limit_percent");
    msgpack_pack_double (pk, info.cpu_pct);
    pack_str (pk, "memory_limit_bytes");
    msgpack_pack_uint64 (pk, info.mem_limit);
    pack_str (pk, "memory_percent");
    if (info.mem_pct >= 0)
        msgpack_pack_double (pk, info.mem_pct);
    else
        msgpack_pack_nil (pk);
    pack_str (pk, "dependencies");
    msgpack_pack_map (pk, (size_t) r->ndeps);
    for (int i = 0; i < r->ndeps; i++) {
        pack_str (pk, r->dep_name[i]);
        pack_str (pk, r->dep_up[i] ? "up" : "down");
    }
}

monitor_status_t
monitor_registry_health (monitor_registry_t *self, int64_t now_ms, bool monitoring,
                         msgpack_packer *pk)
{
    forget_old (self, now_ms);
    monitor_status_t overall = MONITOR_HEALTHY;
    uint32_t up[HSN_SERVICE__MAX] = { 0 }, total[HSN_SERVICE__MAX] = { 0 };
    bool deps_down[HSN_SERVICE__MAX] = { false };
    for (replica_t *r = (replica_t *) zhashx_first (self->replicas); r;
         r = (replica_t *) zhashx_next (self->replicas)) {
        total[r->service]++;
        if (is_up (r, now_ms)) {
            up[r->service]++;
            for (int i = 0; i < r->ndeps; i++)
                deps_down[r->service] |= !r->dep_up[i];
        }
    }
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        bool expected = (self->expected >> s) & 1;
        if (up[s] == 0 && (expected || total[s] > 0))
            overall = MONITOR_UNHEALTHY;
        else if ((up[s] < total[s] || deps_down[s]) && overall == MONITOR_HEALTHY)
            overall = MONITOR_DEGRADED;
    }
    static const char *names[] = { "healthy", "degraded", "unhealthy" };
    msgpack_pack_map (pk, 3);
    pack_str (pk, "status");
    pack_str (pk, names[overall]);
    pack_str (pk, "monitoring");
    if (monitoring) msgpack_pack_true (pk); else msgpack_pack_false (pk);
    pack_str (pk, "services");
    uint32_t nservices = 0;
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        nservices += ((self->expected >> s) & 1) || total[s] > 0;
    msgpack_pack_map (pk, nservices);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++) {
        if (!((self->expected >> s) & 1) && total[s] == 0)
            continue;
        pack_str (pk, hsn_service_name (s));
        msgpack_pack_map (pk, 4);
        pack_str (pk, "status");
        pack_str (pk, up[s] == 0 ? "down" : up[s] < total[s] || deps_down[s] ? "degraded" : "up");
        pack_str (pk, "replicas_up");
        msgpack_pack_uint32 (pk, up[s]);
        pack_str (pk, "replicas_total");
        msgpack_pack_uint32 (pk, total[s]);
        pack_str (pk, "replicas");
        msgpack_pack_array (pk, total[s]);
        for (replica_t *r = (replica_t *) zhashx_first (self->replicas); r;
             r = (replica_t *) zhashx_next (self->replicas))
            if (r->service == s)
                pack_replica (self, pk, r, now_ms);
    }
    return overall;
}

int
monitor_services_mask (const char *list, uint32_t *mask)
{
    uint32_t m = 0;
    char buf[256];
    if (strlen (list) >= sizeof buf)
        return -EINVAL;                 /* never parse a truncated list */
    snprintf (buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r (buf, ", ", &save); tok; tok = strtok_r (NULL, ", ", &save)) {
        uint32_t s = hsn_service_by_name (tok);
        if (!s)
            return -EINVAL;
        m |= 1u << s;
    }
    *mask = m;
    return 0;
}
