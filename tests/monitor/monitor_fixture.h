/*  monitor_fixture: build monitor situations for tests, with explicit times.
 *
 *  A core (monitor_core) fed with HEARTBEAT and STATS envelopes encoded the
 *  way hsn_reporter encodes them, from metrics registries the test fills
 *  by hand. Header-only (static inline functions): include it from one test file.
 */
#ifndef MONITOR_FIXTURE_H
#define MONITOR_FIXTURE_H

#include <check.h>
#include <string.h>

#include "hsn_metrics.h"
#include "hsn_proto.h"
#include "monitor/monitor_core.h"

#define CACHE    HSN_SERVICE_CACHE
#define GATEWAY  HSN_SERVICE_GATEWAY
#define QUERY    HSN_SERVICE_QUERY
#define AGENTS   HSN_SERVICE_AGENT_BUS
#define MONITOR  HSN_SERVICE_MONITOR

/*  A core as main makes it: default targets, 5 s stats interval (so 5 s
 *  fine slots and 30 s coarse ones), the monitor's host with 4 cores and
 *  1 GiB, started at time 0. */
static inline monitor_core_t *
fx_core (bool monitoring)
{
    monitor_core_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    monitor_targets_default (&cfg.targets);
    cfg.monitoring = monitoring;
    cfg.expected = (1u << GATEWAY) | (1u << CACHE);
    cfg.forget_ms = 300000;
    cfg.stats_interval_s = 5;
    cfg.host_cores = 4;
    cfg.host_mem = 1u << 30;
    monitor_core_t *core = monitor_core_new (&cfg, 0);
    ck_assert_ptr_nonnull (core);
    return core;
}

static inline int
fx_take (monitor_core_t *core, hsn_enc_t *enc, int64_t now)
{
    hsn_env_t env;
    ck_assert_int_eq (hsn_env_decode (&env, hsn_enc_data (enc), hsn_enc_size (enc)), 0);
    return monitor_core_take (core, &env, now);
}

/*  A heartbeat: cpu in % of one core; cpu_limit (cores) and mem_limit
 *  (bytes) are sent only when non-zero. */
typedef struct {
    double cpu;
    uint64_t rss, uptime;
    double cpu_limit;
    uint64_t mem_limit;
} fx_hb_t;

static inline void
fx_heartbeat (monitor_core_t *core, int64_t now, uint32_t service, const char *id,
              const fx_hb_t *hb)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    uint32_t n = 7 + (hb->cpu_limit > 0) + (hb->mem_limit > 0);
    hsn_enc_begin (&enc, HSN_KIND_HEARTBEAT, 0, service, 0, 0, n);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, service);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, id);
    hsn_enc_uint (&enc, HSN_FIELD_INTERVAL, 1000);
    hsn_enc_uint (&enc, HSN_FIELD_UPTIME, hb->uptime);
    hsn_enc_key (&enc, HSN_FIELD_CPU);
    msgpack_pack_double (&enc.pk, hb->cpu);
    hsn_enc_uint (&enc, HSN_FIELD_RSS, hb->rss);
    hsn_enc_key (&enc, HSN_FIELD_HEALTH);
    msgpack_pack_map (&enc.pk, 0);
    if (hb->cpu_limit > 0) {
        hsn_enc_key (&enc, HSN_FIELD_CPU_LIMIT);
        msgpack_pack_double (&enc.pk, hb->cpu_limit);
    }
    if (hb->mem_limit > 0)
        hsn_enc_uint (&enc, HSN_FIELD_MEM_LIMIT, hb->mem_limit);
    ck_assert_int_eq (fx_take (core, &enc, now), 0);
    hsn_enc_release (&enc);
}

/*  A replica that has just started: heartbeat with uptime 0 (so its first
 *  STATS counts in full), idle. */
static inline void
fx_born (monitor_core_t *core, int64_t now, uint32_t service, const char *id)
{
    fx_hb_t hb = { 1.0, 10u << 20, 0, 0, 0 };
    fx_heartbeat (core, now, service, id, &hb);
}

/*  STATS with registry m, as hsn_reporter sends it. Returns take's code. */
static inline int
fx_stats (monitor_core_t *core, int64_t now, uint32_t service, const char *id,
          hsn_metrics_t *m)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    hsn_enc_begin (&enc, HSN_KIND_STATS, 0, service, 0, 0, 3);
    hsn_enc_uint (&enc, HSN_FIELD_SERVICE, service);
    hsn_enc_cstr (&enc, HSN_FIELD_REPLICA, id);
    hsn_enc_key (&enc, HSN_FIELD_STATS);
    hsn_metrics_pack (m, &enc.pk);
    int rc = fx_take (core, &enc, now);
    hsn_enc_release (&enc);
    return rc;
}

/*  Set counter name of m to v (single-threaded tests). */
static inline void
fx_set (hsn_metrics_t *m, const char *name, uint64_t v)
{
    *hsn_metrics_counter (m, name) = v;
}

static inline void
fx_gauge (hsn_metrics_t *m, const char *name, int64_t v)
{
    *hsn_metrics_gauge (m, name) = v;
}

/*  Record n samples of us microseconds into histogram name of m. */
static inline void
fx_record (hsn_metrics_t *m, const char *name, uint64_t us, int n)
{
    hsn_hist_t *h = hsn_metrics_hist (m, name);
    for (int i = 0; i < n; i++)
        hsn_hist_record (h, us);
}

/*  Evaluate at now over window_s. */
static inline void
fx_eval (monitor_core_t *core, int64_t now, uint32_t window_s, monitor_kpis_t *k,
         monitor_recs_t *r)
{
    ck_assert_int_eq (monitor_core_evaluate (core, now, window_s, k, r), 0);
}

/*  The recommendation of rule (and subject, when not NULL), or NULL. */
static inline const monitor_rec_t *
fx_rec (const monitor_recs_t *r, const char *rule, const char *subject)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp (r->rec[i].rule, rule) == 0
            && (!subject || strcmp (r->rec[i].subject, subject) == 0))
            return &r->rec[i];
    return NULL;
}

#endif
