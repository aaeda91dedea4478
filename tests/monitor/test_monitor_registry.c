/*  Tests for monitor_registry: liveness from heartbeats (time is a
 *  parameter, so no test waits), the health document and its status rules,
 *  the expected-services list, and what it makes of hostile envelopes. */
#include <errno.h>
#include <string.h>

#include "hsn_mp.h"
#include "hsn_proto.h"
#include "hsn_test.h"
#include "monitor/monitor_registry.h"

#define CACHE    HSN_SERVICE_CACHE
#define GATEWAY  HSN_SERVICE_GATEWAY
#define QUERY    HSN_SERVICE_QUERY
#define BIT(s)   (1u << (s))

typedef struct {
    const char *name;
    bool up;
} dep_t;

/*  A heartbeat as a reporter sends it. interval 0 leaves the field out. */
typedef struct {
    uint32_t service;
    const char *replica;
    uint64_t interval;
    int ndeps;
    dep_t deps[8];
} hb_t;

static hsn_enc_t enc;

static void
setup (void)
{
    hsn_enc_init (&enc);
}

static void
teardown (void)
{
    hsn_enc_release (&enc);
}

/*  Decode what enc holds and hand it to the registry at now. */
static int
take_encoded (monitor_registry_t *reg, int64_t now)
{
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_decode (&env, hsn_enc_data (&enc), hsn_enc_size (&enc)), 0);
    return monitor_registry_take (reg, &env, now);
}

static int
heartbeat (monitor_registry_t *reg, int64_t now, const hb_t *hb)
{
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, hb->service, 0, 0, hb->interval ? 7 : 6);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, hb->service);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, hb->replica);
    if (hb->interval)
        hsn_enc_uint (&enc, HSN_FIELD_INTERVAL, hb->interval);
    hsn_enc_uint (&enc, HSN_FIELD_UPTIME, 12);
    hsn_enc_key (&enc, HSN_FIELD_CPU);
    msgpack_pack_double (&enc.pk, 3.5);
    hsn_enc_uint (&enc, HSN_FIELD_RSS, 1u << 20);
    hsn_enc_key (&enc, HSN_FIELD_HEALTH);
    msgpack_pack_map (&enc.pk, (size_t) hb->ndeps);
    for (int i = 0; i < hb->ndeps; i++) {
        size_t n = strlen (hb->deps[i].name);
        msgpack_pack_str (&enc.pk, n);
        msgpack_pack_str_body (&enc.pk, hb->deps[i].name, n);
        if (hb->deps[i].up)
            msgpack_pack_true (&enc.pk);
        else
            msgpack_pack_false (&enc.pk);
    }
    return take_encoded (reg, now);
}

/*  The plainest heartbeat: interval 1000 ms, no dependencies. */
static void
beat (monitor_registry_t *reg, int64_t now, uint32_t service, const char *id)
{
    hb_t hb = { service, id, 1000, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, now, &hb), 0);
}

/* ---- reading the health document ----------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    hsn_mp_obj_t root;
    monitor_status_t status;
} doc_t;

static void
health (monitor_registry_t *reg, int64_t now, bool monitoring, doc_t *d)
{
    msgpack_sbuffer_init (&d->sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &d->sb, msgpack_sbuffer_write);
    d->status = monitor_registry_health (reg, now, monitoring, &pk);
    /*  Exactly one well-formed object. */
    ck_assert_int_eq (hsn_mp_validate (d->sb.data, d->sb.size, 16), 0);
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, d->sb.data, d->sb.size);
    ck_assert_int_eq (hsn_mp_get (&r, &d->root, 16), 0);
    ck_assert_int_eq (d->root.type, HSN_MP_MAP);
}

static void
doc_free (doc_t *d)
{
    msgpack_sbuffer_destroy (&d->sb);
}

/*  Value of key in map (which came from hsn_mp_get). */
static bool
find (const hsn_mp_obj_t *map, const char *key, hsn_mp_obj_t *out)
{
    ck_assert_int_eq (map->type, HSN_MP_MAP);
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, map);
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&r, &k, 16), 0);
        ck_assert_int_eq (hsn_mp_get (&r, &v, 16), 0);
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static hsn_mp_obj_t
get (const hsn_mp_obj_t *map, const char *key)
{
    hsn_mp_obj_t v;
    ck_assert_msg (find (map, key, &v), "no key '%s'", key);
    return v;
}

static void
assert_str (const hsn_mp_obj_t *map, const char *key, const char *want)
{
    hsn_mp_obj_t v = get (map, key);
    ck_assert_int_eq (v.type, HSN_MP_STR);
    ck_assert_msg (hsn_mp_str_eq (&v, want), "%s is '%.*s', want '%s'", key,
                   (int) v.v.s.len, v.v.s.ptr, want);
}

static uint64_t
get_uint (const hsn_mp_obj_t *map, const char *key)
{
    hsn_mp_obj_t v = get (map, key);
    ck_assert_int_eq (v.type, HSN_MP_UINT);
    return v.v.u;
}

/*  The document's entry for a service; false when not listed. */
static bool
find_service (const doc_t *d, const char *name, hsn_mp_obj_t *out)
{
    hsn_mp_obj_t services = get (&d->root, "services");
    return find (&services, name, out);
}

static hsn_mp_obj_t
service (const doc_t *d, const char *name)
{
    hsn_mp_obj_t s;
    ck_assert_msg (find_service (d, name, &s), "service %s not listed", name);
    return s;
}

/*  Replica id of service name in the document; false when not listed. */
static bool
find_replica (const doc_t *d, const char *name, const char *id, hsn_mp_obj_t *out)
{
    hsn_mp_obj_t s;
    if (!find_service (d, name, &s))
        return false;
    hsn_mp_obj_t arr = get (&s, "replicas");
    ck_assert_int_eq (arr.type, HSN_MP_ARRAY);
    ck_assert_uint_eq (arr.v.c.count, get_uint (&s, "replicas_total"));
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, &arr);
    for (uint32_t i = 0; i < arr.v.c.count; i++) {
        hsn_mp_obj_t rep, rid;
        ck_assert_int_eq (hsn_mp_get (&r, &rep, 16), 0);
        if (find (&rep, "id", &rid) && hsn_mp_str_eq (&rid, id)) {
            *out = rep;
            return true;
        }
    }
    return false;
}

static hsn_mp_obj_t
replica (const doc_t *d, const char *name, const char *id)
{
    hsn_mp_obj_t rep;
    ck_assert_msg (find_replica (d, name, id, &rep), "replica %s/%s not listed", name, id);
    return rep;
}

static const char *const status_names[] = { "healthy", "degraded", "unhealthy" };

/*  The overall status, returned and written, is want. */
static void
assert_overall (const doc_t *d, monitor_status_t want)
{
    ck_assert_msg (d->status == want, "status %s, want %s", status_names[d->status],
                   status_names[want]);
    assert_str (&d->root, "status", status_names[want]);
}

/*  Shorthands for one field of a service's or a replica's entry. */
static uint64_t
svc_uint (const doc_t *d, const char *name, const char *key)
{
    hsn_mp_obj_t s = service (d, name);
    return get_uint (&s, key);
}

static void
svc_status (const doc_t *d, const char *name, const char *want)
{
    hsn_mp_obj_t s = service (d, name);
    assert_str (&s, "status", want);
}

static void
rep_status (const doc_t *d, const char *name, const char *id, const char *want)
{
    hsn_mp_obj_t rep = replica (d, name, id);
    assert_str (&rep, "status", want);
}

static hsn_mp_obj_t
rep_deps (const doc_t *d, const char *name, const char *id)
{
    hsn_mp_obj_t rep = replica (d, name, id);
    return get (&rep, "dependencies");
}

/* ---- liveness ------------------------------------------------------- */

START_TEST (replica_up_down_after_three_intervals_up_again)
{
    monitor_registry_t *reg = monitor_registry_new (BIT (CACHE), 300000);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 0), 0);
    beat (reg, 1000, CACHE, "c1");
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 1000), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, GATEWAY, 1000), 0);
    /*  Up through three intervals, down just after. */
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 4000), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 4001), 0);

    doc_t d;
    health (reg, 4001, true, &d);
    assert_overall (&d, MONITOR_UNHEALTHY);
    hsn_mp_obj_t s = service (&d, "cache");
    assert_str (&s, "status", "down");
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 0);
    ck_assert_uint_eq (get_uint (&s, "replicas_total"), 1);
    hsn_mp_obj_t rep = replica (&d, "cache", "c1");
    assert_str (&rep, "status", "down");
    doc_free (&d);

    /*  The next heartbeat brings it back. */
    beat (reg, 9000, CACHE, "c1");
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 9000), 1);
    health (reg, 9000, true, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    rep = replica (&d, "cache", "c1");
    assert_str (&rep, "status", "up");
    ck_assert_uint_eq (svc_uint (&d, "cache", "replicas_total"), 1);
    doc_free (&d);

    /*  Regular heartbeats keep it up indefinitely. */
    for (int64_t t = 9000; t <= 60000; t += 900)
        beat (reg, t, CACHE, "c1");
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 62000), 1);
    monitor_registry_destroy (&reg);
    ck_assert_ptr_null (reg);
    monitor_registry_destroy (&reg);
    monitor_registry_destroy (NULL);
}
END_TEST

START_TEST (declared_interval_sets_the_deadline)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    hb_t fast = { CACHE, "fast", 100, 0, { { NULL, false } } };
    hb_t slow = { QUERY, "slow", 60000, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &fast), 0);
    ck_assert_int_eq (heartbeat (reg, 0, &slow), 0);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 300), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 301), 0);
    ck_assert_uint_eq (monitor_registry_up (reg, QUERY, 180000), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, QUERY, 180001), 0);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (stats_keep_a_replica_alive)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    hb_t hb = { CACHE, "c1", 100, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), 0);
    /*  A STATS envelope counts as a sign of life but does not reset the
     *  interval the heartbeat declared. */
    hsn_enc_begin (&enc, HSN_KIND_STATS, 0, CACHE, 0, 0, 3);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, "c1");
    hsn_enc_key (&enc, HSN_FIELD_STATS);
    msgpack_pack_map (&enc.pk, 0);
    ck_assert_int_eq (take_encoded (reg, 250), 0);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 550), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 551), 0);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (down_replica_forgotten_after_forget_period)
{
    /*  Forget after 10 s down. Heard at 0 with 1 s intervals: down from
     *  3 s, so listed (down) up to 13 s and gone after. */
    monitor_registry_t *reg = monitor_registry_new (BIT (CACHE), 10000);
    beat (reg, 0, CACHE, "gone");
    beat (reg, 0, CACHE, "stays");

    doc_t d;
    hsn_mp_obj_t rep;
    beat (reg, 12000, CACHE, "stays");
    health (reg, 12000, true, &d);
    rep = replica (&d, "cache", "gone");
    assert_str (&rep, "status", "down");
    assert_overall (&d, MONITOR_DEGRADED);
    ck_assert_uint_eq (svc_uint (&d, "cache", "replicas_total"), 2);
    doc_free (&d);

    beat (reg, 13000, CACHE, "stays");
    health (reg, 13000, true, &d);
    ck_assert_msg (find_replica (&d, "cache", "gone", &rep),
                   "forgotten after less than the forget period down");
    doc_free (&d);

    beat (reg, 13001, CACHE, "stays");
    health (reg, 13001, true, &d);
    ck_assert (!find_replica (&d, "cache", "gone", &rep));
    ck_assert (find_replica (&d, "cache", "stays", &rep));
    hsn_mp_obj_t s = service (&d, "cache");
    ck_assert_uint_eq (get_uint (&s, "replicas_total"), 1);
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 1);
    assert_overall (&d, MONITOR_HEALTHY);
    doc_free (&d);

    /*  If it comes back it is listed afresh. */
    beat (reg, 21000, CACHE, "gone");
    health (reg, 21000, true, &d);
    rep = replica (&d, "cache", "gone");
    assert_str (&rep, "status", "up");
    ck_assert_uint_eq (get_uint (&rep, "last_seen_ms"), 0);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (up_replica_never_forgotten)
{
    /*  Both settings are valid (MONITOR_FORGET_SECONDS >= 1,
     *  HEARTBEAT_INTERVAL_MS <= 60000): a replica heartbeating every minute
     *  is up for three minutes after each heartbeat and must stay listed. */
    monitor_registry_t *reg = monitor_registry_new (BIT (QUERY), 1000);
    hb_t hb = { QUERY, "q1", 60000, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), 0);
    doc_t d;
    health (reg, 5000, true, &d);
    hsn_mp_obj_t rep;
    ck_assert_msg (find_replica (&d, "query", "q1", &rep), "an up replica was forgotten");
    ck_assert_uint_eq (monitor_registry_up (reg, QUERY, 5000), 1);
    assert_str (&rep, "status", "up");
    assert_overall (&d, MONITOR_HEALTHY);
    doc_free (&d);

    /*  Once down for longer than the forget period, it goes. */
    health (reg, 181001, true, &d);
    ck_assert (!find_replica (&d, "query", "q1", &rep));
    assert_overall (&d, MONITOR_UNHEALTHY);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

/* ---- health rules ---------------------------------------------------- */

START_TEST (expected_service_absent_is_unhealthy)
{
    monitor_registry_t *reg = monitor_registry_new (BIT (CACHE) | BIT (GATEWAY), 300000);
    doc_t d;
    /*  Nothing heard yet: both listed as down with no replicas. */
    health (reg, 0, true, &d);
    assert_overall (&d, MONITOR_UNHEALTHY);
    hsn_mp_obj_t services = get (&d.root, "services");
    ck_assert_uint_eq (services.v.c.count, 2);
    hsn_mp_obj_t s = service (&d, "gateway");
    assert_str (&s, "status", "down");
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 0);
    ck_assert_uint_eq (get_uint (&s, "replicas_total"), 0);
    ck_assert_uint_eq (get (&s, "replicas").v.c.count, 0);
    doc_free (&d);

    beat (reg, 0, CACHE, "c1");
    health (reg, 0, true, &d);
    assert_overall (&d, MONITOR_UNHEALTHY);
    svc_status (&d, "cache", "up");
    svc_status (&d, "gateway", "down");
    doc_free (&d);

    beat (reg, 0, GATEWAY, "g1");
    health (reg, 0, true, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    svc_status (&d, "gateway", "up");
    /*  Services neither expected nor heard of are not listed. */
    hsn_mp_obj_t ignored;
    ck_assert (!find_service (&d, "query", &ignored));
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (one_of_two_replicas_down_is_degraded)
{
    monitor_registry_t *reg = monitor_registry_new (BIT (CACHE), 300000);
    beat (reg, 0, CACHE, "c1");
    beat (reg, 0, CACHE, "c2");
    doc_t d;
    health (reg, 2000, true, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    hsn_mp_obj_t s = service (&d, "cache");
    assert_str (&s, "status", "up");
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 2);
    ck_assert_uint_eq (get_uint (&s, "replicas_total"), 2);
    doc_free (&d);

    beat (reg, 2500, CACHE, "c2");
    health (reg, 4500, true, &d);
    assert_overall (&d, MONITOR_DEGRADED);
    s = service (&d, "cache");
    assert_str (&s, "status", "degraded");
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 1);
    ck_assert_uint_eq (get_uint (&s, "replicas_total"), 2);
    rep_status (&d, "cache", "c1", "down");
    rep_status (&d, "cache", "c2", "up");
    doc_free (&d);

    /*  Both down: the service is down and the cluster unhealthy. */
    health (reg, 6000, true, &d);
    assert_overall (&d, MONITOR_UNHEALTHY);
    s = service (&d, "cache");
    assert_str (&s, "status", "down");
    ck_assert_uint_eq (get_uint (&s, "replicas_up"), 0);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (dependency_down_is_degraded)
{
    monitor_registry_t *reg = monitor_registry_new (BIT (CACHE), 300000);
    hb_t hb = { CACHE, "c1", 1000, 2, { { "redis", true }, { "pg", true } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), 0);
    doc_t d;
    health (reg, 0, false, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    hsn_mp_obj_t deps = rep_deps (&d, "cache", "c1");
    ck_assert_uint_eq (deps.v.c.count, 2);
    assert_str (&deps, "redis", "up");
    assert_str (&deps, "pg", "up");
    doc_free (&d);

    hb.deps[0].up = false;
    ck_assert_int_eq (heartbeat (reg, 100, &hb), 0);
    health (reg, 100, false, &d);
    assert_overall (&d, MONITOR_DEGRADED);
    svc_status (&d, "cache", "degraded");
    ck_assert_uint_eq (svc_uint (&d, "cache", "replicas_up"), 1);
    deps = rep_deps (&d, "cache", "c1");
    assert_str (&deps, "redis", "down");
    assert_str (&deps, "pg", "up");
    doc_free (&d);

    /*  Dependencies are replaced, not accumulated, by the next heartbeat. */
    hb.ndeps = 1;
    hb.deps[0].up = true;
    ck_assert_int_eq (heartbeat (reg, 200, &hb), 0);
    health (reg, 200, false, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    deps = rep_deps (&d, "cache", "c1");
    ck_assert_uint_eq (deps.v.c.count, 1);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (document_fields)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    doc_t d;
    health (reg, 0, true, &d);
    assert_overall (&d, MONITOR_HEALTHY);
    ck_assert_uint_eq (d.root.v.c.count, 3);
    hsn_mp_obj_t mon = get (&d.root, "monitoring");
    ck_assert (mon.type == HSN_MP_BOOL && mon.v.b);
    ck_assert_uint_eq (get (&d.root, "services").v.c.count, 0);
    doc_free (&d);

    beat (reg, 1000, CACHE, "host-a:17");
    health (reg, 1700, false, &d);
    mon = get (&d.root, "monitoring");
    ck_assert (mon.type == HSN_MP_BOOL && !mon.v.b);
    hsn_mp_obj_t rep = replica (&d, "cache", "host-a:17");
    assert_str (&rep, "id", "host-a:17");
    assert_str (&rep, "status", "up");
    ck_assert_uint_eq (get_uint (&rep, "last_seen_ms"), 700);
    ck_assert_uint_eq (get_uint (&rep, "uptime_s"), 12);
    ck_assert_uint_eq (get_uint (&rep, "rss_bytes"), 1u << 20);
    hsn_mp_obj_t cpu = get (&rep, "cpu_percent");
    ck_assert_int_eq (cpu.type, HSN_MP_FLOAT);
    ck_assert (cpu.v.f == 3.5);
    ck_assert_int_eq (get (&rep, "dependencies").type, HSN_MP_MAP);
    /*  The same replica id under two services is two replicas. */
    beat (reg, 1000, QUERY, "host-a:17");
    doc_free (&d);
    health (reg, 1000, true, &d);
    ck_assert_uint_eq (svc_uint (&d, "cache", "replicas_total"), 1);
    ck_assert_uint_eq (svc_uint (&d, "query", "replicas_total"), 1);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

/* ---- expected services ------------------------------------------------ */

START_TEST (services_mask_parses)
{
    uint32_t m = 0;
    ck_assert_int_eq (monitor_services_mask ("gateway,cache,query,agent-bus,monitor", &m), 0);
    ck_assert_uint_eq (m, BIT (HSN_SERVICE_GATEWAY) | BIT (HSN_SERVICE_CACHE)
                          | BIT (HSN_SERVICE_QUERY) | BIT (HSN_SERVICE_AGENT_BUS)
                          | BIT (HSN_SERVICE_MONITOR));
    ck_assert_int_eq (monitor_services_mask ("cache", &m), 0);
    ck_assert_uint_eq (m, BIT (CACHE));
    ck_assert_int_eq (monitor_services_mask (" cache , query,,cache ,", &m), 0);
    ck_assert_uint_eq (m, BIT (CACHE) | BIT (QUERY));
    m = 77;
    ck_assert_int_eq (monitor_services_mask ("", &m), 0);
    ck_assert_uint_eq (m, 0);
}
END_TEST

START_TEST (services_mask_rejects)
{
    static const char *const bad[] = {
        "bogus", "cache,bogus", "Cache", "agent_bus", "cache;query", "cache query x",
        "gateway,cachee", "-",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t m = 77;
        int rc = monitor_services_mask (bad[i], &m);
        ck_assert_msg (rc == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_uint_eq (m, 77);
    }
}
END_TEST

START_TEST (services_mask_long_list_not_truncated)
{
    /*  MONITOR_EXPECTED_SERVICES may be up to 256 bytes. A list whose last
     *  name is unknown must be refused whatever its length, not cut short
     *  into a valid one ("cachex" -> "cache"). */
    char list[512];
    size_t n = 256 - strlen ("cachex");
    memset (list, ',', n);
    strcpy (list + n, "cachex");
    ck_assert_uint_eq (strlen (list), 256);
    uint32_t m = 77;
    ck_assert_int_eq (monitor_services_mask (list, &m), -EINVAL);
    ck_assert_uint_eq (m, 77);

    n = 400 - strlen ("monitor,bogus");
    memset (list, ' ', n);
    strcpy (list + n, "monitor,bogus");
    ck_assert_int_eq (monitor_services_mask (list, &m), -EINVAL);
    ck_assert_uint_eq (m, 77);
}
END_TEST

/* ---- what the registry refuses or tames --------------------------------- */

START_TEST (envelopes_without_identity_rejected)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    /*  No service. */
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, CACHE, 0, 0, 1);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, "c1");
    ck_assert_int_eq (take_encoded (reg, 0), -EINVAL);
    /*  No replica. */
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, CACHE, 0, 0, 1);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
    ck_assert_int_eq (take_encoded (reg, 0), -EINVAL);
    /*  Neither, as STATS. */
    hsn_enc_begin (&enc, HSN_KIND_STATS, 0, CACHE, 0, 0, 0);
    ck_assert_int_eq (take_encoded (reg, 0), -EINVAL);

    /*  Service numbers out of range, and an empty replica id. */
    hb_t hb = { 0, "c1", 1000, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);
    hb.service = HSN_SERVICE__MAX;
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);
    hb.service = 1000;
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);
    hb.service = CACHE;
    hb.replica = "";
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);

    /*  None of them was registered. */
    doc_t d;
    health (reg, 0, true, &d);
    ck_assert_uint_eq (get (&d.root, "services").v.c.count, 0);
    assert_overall (&d, MONITOR_HEALTHY);
    doc_free (&d);
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        ck_assert_uint_eq (monitor_registry_up (reg, s, 0), 0);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (replica_id_length_limit)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    char id[256];
    memset (id, 'r', 100);
    id[100] = '\0';
    hb_t hb = { CACHE, id, 1000, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), 0);
    memset (id, 's', 101);
    id[101] = '\0';
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);
    memset (id, 't', 255);
    id[255] = '\0';
    ck_assert_int_eq (heartbeat (reg, 0, &hb), -EINVAL);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 0), 1);

    doc_t d;
    health (reg, 0, true, &d);
    memset (id, 'r', 100);
    id[100] = '\0';
    replica (&d, "cache", id);
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (hostile_intervals_ignored)
{
    /*  0, below 10 ms, above 60 s or absurd: the replica keeps the default
     *  1 s (or what it declared before), so it can neither flap nor claim
     *  to be alive forever. */
    static const uint64_t bad[] = { 0, 1, 9, 60001, UINT32_MAX, UINT64_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        monitor_registry_t *reg = monitor_registry_new (0, 300000);
        hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, CACHE, 0, 0, 3);
        hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
        hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, "c1");
        hsn_enc_uint (&enc, HSN_FIELD_INTERVAL, bad[i]);
        ck_assert_int_eq (take_encoded (reg, 0), 0);
        ck_assert_msg (monitor_registry_up (reg, CACHE, 3000) == 1,
                       "interval %llu: down before the default deadline",
                       (unsigned long long) bad[i]);
        ck_assert_msg (monitor_registry_up (reg, CACHE, 3001) == 0,
                       "interval %llu: still up after the default deadline",
                       (unsigned long long) bad[i]);
        monitor_registry_destroy (&reg);
    }

    /*  A bad interval after a good one keeps the good one. */
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    hb_t hb = { CACHE, "c1", 200, 0, { { NULL, false } } };
    ck_assert_int_eq (heartbeat (reg, 0, &hb), 0);
    hb.interval = UINT64_MAX;
    ck_assert_int_eq (heartbeat (reg, 100, &hb), 0);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 700), 1);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 701), 0);

    /*  A heartbeat without an interval field keeps it too. */
    hb.interval = 0;
    ck_assert_int_eq (heartbeat (reg, 1000, &hb), 0);
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 1601), 0);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (hostile_health_and_cpu_tamed)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    char longname[200];
    memset (longname, 'd', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, CACHE, 0, 0, 4);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, "c1");
    /*  cpu as an integer and a string map: not a float, ignored. */
    hsn_enc_key (&enc, HSN_FIELD_CPU);
    msgpack_pack_uint64 (&enc.pk, 99);
    /*  Nine entries: non-string keys, non-bool values, a huge name, more
     *  dependencies than a replica may have. */
    hsn_enc_key (&enc, HSN_FIELD_HEALTH);
    msgpack_pack_map (&enc.pk, 9);
    msgpack_pack_uint32 (&enc.pk, 7);                   /* key not a string */
    msgpack_pack_true (&enc.pk);
    msgpack_pack_str (&enc.pk, 2);
    msgpack_pack_str_body (&enc.pk, "ok", 2);
    msgpack_pack_str (&enc.pk, 3);                      /* value not a bool */
    msgpack_pack_str_body (&enc.pk, "yes", 3);
    msgpack_pack_str (&enc.pk, strlen (longname));
    msgpack_pack_str_body (&enc.pk, longname, strlen (longname));
    msgpack_pack_false (&enc.pk);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf (name, sizeof name, "d%d", i);
        msgpack_pack_str (&enc.pk, strlen (name));
        msgpack_pack_str_body (&enc.pk, name, strlen (name));
        msgpack_pack_true (&enc.pk);
    }
    ck_assert_int_eq (take_encoded (reg, 0), 0);

    doc_t d;
    health (reg, 0, true, &d);
    hsn_mp_obj_t rep = replica (&d, "cache", "c1");
    hsn_mp_obj_t cpu = get (&rep, "cpu_percent");
    ck_assert_int_eq (cpu.type, HSN_MP_FLOAT);
    ck_assert (cpu.v.f == 0);
    hsn_mp_obj_t deps = get (&rep, "dependencies");
    /*  Only string -> bool entries, at most four of them, in order: the
     *  long name (cut, not overflowed), d0, d1, d2. */
    ck_assert_uint_eq (deps.v.c.count, 4);
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, &deps);
    for (uint32_t i = 0; i < deps.v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&r, &k, 4), 0);
        ck_assert_int_eq (hsn_mp_get (&r, &v, 4), 0);
        ck_assert_int_eq (k.type, HSN_MP_STR);
        if (i == 0) {
            ck_assert_uint_gt (k.v.s.len, 0);
            ck_assert_uint_lt (k.v.s.len, 64);
            ck_assert (memcmp (k.v.s.ptr, longname, k.v.s.len) == 0);
            ck_assert (hsn_mp_str_eq (&v, "down"));
        }
        else {
            char want[16];
            snprintf (want, sizeof want, "d%u", i - 1);
            ck_assert (hsn_mp_str_eq (&k, want));
            ck_assert (hsn_mp_str_eq (&v, "up"));
        }
    }
    hsn_mp_obj_t ignored;
    ck_assert (!find (&deps, "ok", &ignored));
    doc_free (&d);
    monitor_registry_destroy (&reg);
}
END_TEST

/*  A heartbeat with uptime, rss and (when non-zero) limits. */
static int
beat_full (monitor_registry_t *reg, int64_t now, const char *id, uint64_t uptime,
           uint64_t rss, double cpu, double cpu_limit, uint64_t mem_limit)
{
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, CACHE, 0, 0,
                   6 + (cpu_limit > 0) + (mem_limit > 0));
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, CACHE);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, id);
    hsn_enc_uint (&enc, HSN_FIELD_INTERVAL, 1000);
    hsn_enc_uint (&enc, HSN_FIELD_UPTIME, uptime);
    hsn_enc_key (&enc, HSN_FIELD_CPU);
    msgpack_pack_double (&enc.pk, cpu);
    hsn_enc_uint (&enc, HSN_FIELD_RSS, rss);
    if (cpu_limit > 0) {
        hsn_enc_key (&enc, HSN_FIELD_CPU_LIMIT);
        msgpack_pack_double (&enc.pk, cpu_limit);
    }
    if (mem_limit > 0)
        hsn_enc_uint (&enc, HSN_FIELD_MEM_LIMIT, mem_limit);
    return take_encoded (reg, now);
}

START_TEST (restart_seen_in_uptime)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    ck_assert_int_eq (beat_full (reg, 0, "c1", 100, 0, 1, 0, 0), 0);
    ck_assert_int_eq (beat_full (reg, 1000, "c1", 101, 0, 1, 0, 0), 0);
    ck_assert_int_eq (beat_full (reg, 2000, "c1", 0, 0, 1, 0, 0), 1);     /* restarted */
    ck_assert_int_eq (monitor_registry_uptime (reg, CACHE, "c1", 2), 0);
    ck_assert_int_eq (monitor_registry_uptime (reg, CACHE, "c9", 2), -1);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (limits_from_heartbeat_else_host)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    monitor_registry_host_limits (reg, 8, 1000);
    ck_assert_int_eq (beat_full (reg, 0, "own", 5, 500, 150, 2, 2000), 0);
    ck_assert_int_eq (beat_full (reg, 0, "host", 5, 500, 150, 0, 0), 0);
    monitor_replica_info_t info[4];
    ck_assert_uint_eq (monitor_registry_replicas (reg, 0, info, 4), 2);
    for (int i = 0; i < 2; i++) {
        bool own = strcmp (info[i].id, "own") == 0;
        ck_assert (info[i].up);
        ck_assert (info[i].own_limits == own);
        ck_assert (info[i].cpu_pct == (own ? 75 : 18.75));
        ck_assert (info[i].mem_pct == (own ? 25 : 50));
    }
    doc_t d;
    health (reg, 0, true, &d);
    hsn_mp_obj_t rep = replica (&d, "cache", "own");
    ck_assert (get (&rep, "memory_percent").v.f == 25);
    ck_assert (get (&rep, "cpu_limit_percent").v.f == 75);
    ck_assert_uint_eq (get_uint (&rep, "memory_limit_bytes"), 2000);
    doc_free (&d);
    /*  Hostile limits are ignored: NaN, negative, absurd. */
    ck_assert_int_eq (beat_full (reg, 10, "own", 6, 500, 150, 1e300, 2000), 0);
    monitor_registry_replicas (reg, 10, info, 4);
    for (int i = 0; i < 2; i++)
        if (strcmp (info[i].id, "own") == 0)
            ck_assert (info[i].cpu_limit == 2);
    monitor_registry_destroy (&reg);
}
END_TEST

START_TEST (replica_count_bounded)
{
    monitor_registry_t *reg = monitor_registry_new (0, 300000);
    char id[32];
    for (int i = 0; i < MONITOR_REGISTRY_MAX; i++) {
        snprintf (id, sizeof id, "r%d", i);
        ck_assert_int_eq (beat_full (reg, 0, id, 1, 0, 0, 0, 0), 0);
    }
    ck_assert_int_eq (beat_full (reg, 0, "one-too-many", 1, 0, 0, 0, 0), -ENOSPC);
    ck_assert_int_eq (beat_full (reg, 1, "r7", 2, 0, 0, 0, 0), 0);     /* known ones go on */
    ck_assert_uint_eq (monitor_registry_up (reg, CACHE, 1), MONITOR_REGISTRY_MAX);
    monitor_registry_destroy (&reg);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("monitor_registry");
    TCase *tc = tcase_create ("registry");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, replica_up_down_after_three_intervals_up_again);
    tcase_add_test (tc, declared_interval_sets_the_deadline);
    tcase_add_test (tc, stats_keep_a_replica_alive);
    tcase_add_test (tc, down_replica_forgotten_after_forget_period);
    tcase_add_test (tc, up_replica_never_forgotten);
    tcase_add_test (tc, expected_service_absent_is_unhealthy);
    tcase_add_test (tc, one_of_two_replicas_down_is_degraded);
    tcase_add_test (tc, dependency_down_is_degraded);
    tcase_add_test (tc, document_fields);
    tcase_add_test (tc, services_mask_parses);
    tcase_add_test (tc, services_mask_rejects);
    tcase_add_test (tc, services_mask_long_list_not_truncated);
    tcase_add_test (tc, envelopes_without_identity_rejected);
    tcase_add_test (tc, replica_id_length_limit);
    tcase_add_test (tc, hostile_intervals_ignored);
    tcase_add_test (tc, hostile_health_and_cpu_tamed);
    tcase_add_test (tc, restart_seen_in_uptime);
    tcase_add_test (tc, limits_from_heartbeat_else_host);
    tcase_add_test (tc, replica_count_bounded);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
