/*  hsn_reporter: heartbeats and stats to the monitor. See hsn_reporter.h. */
#include "hsn_reporter.h"
#include "hsn_proc.h"
#include "hsn_proto.h"
#include "hsn_time.h"

#include <czmq.h>
#include <string.h>

struct hsn_reporter {
    zactor_t *actor;
    hsn_reporter_config_t cfg;
    char *endpoint, *replica;
    uint64_t mem_limit;             /* what this replica may use (cgroup) */
    double cpu_limit;
    int dep_up[HSN_REPORTER_MAX_DEPS];
    bool ok;
};

static void
send_heartbeat (hsn_reporter_t *self, void *push, hsn_enc_t *enc,
                int64_t started_ms, hsn_proc_cpu_t *last_cpu)
{
    hsn_proc_cpu_t now_cpu;
    double cpu = 0;
    if (hsn_proc_cpu_sample (&now_cpu) == 0) {
        cpu = hsn_proc_cpu_percent (last_cpu, &now_cpu);
        *last_cpu = now_cpu;
    }
    uint64_t rss = 0;
    hsn_proc_rss (&rss);
    /*  Only dependencies whose state is known yet: a replica that has not
     *  finished its first probe reports nothing rather than "down". */
    int ndeps = 0, state[HSN_REPORTER_MAX_DEPS];
    for (int i = 0; i < HSN_REPORTER_MAX_DEPS && self->cfg.deps[i]; i++) {
        state[i] = __atomic_load_n (&self->dep_up[i], __ATOMIC_RELAXED);
        ndeps += state[i] >= 0;
    }
    /*  The limits travel with the heartbeat: the monitor may run on another
     *  host, where its own limits say nothing about this replica. */
    hsn_enc_begin (enc, HSN_KIND_HEARTBEAT, 0, self->cfg.service, 0, 0,
                   7 + (self->mem_limit > 0) + (self->cpu_limit > 0));
    if (self->mem_limit)
        hsn_enc_uint (enc, HSN_FIELD_MEM_LIMIT, self->mem_limit);
    if (self->cpu_limit > 0) {
        hsn_enc_key (enc, HSN_FIELD_CPU_LIMIT);
        msgpack_pack_double (&enc->pk, self->cpu_limit);
    }
    hsn_enc_uint (enc, HSN_FIELD_SERVICE, self->cfg.service);
    hsn_enc_cstr (enc, HSN_FIELD_REPLICA, self->replica);
    hsn_enc_uint (enc, HSN_FIELD_INTERVAL, self->cfg.heartbeat_ms);
    hsn_enc_uint (enc, HSN_FIELD_UPTIME, (uint64_t) (hsn_now_ms () - started_ms) / 1000);
    hsn_enc_key (enc, HSN_FIELD_CPU);
    msgpack_pack_double (&enc->pk, cpu);
    hsn_enc_uint (enc, HSN_FIELD_RSS, rss);
    hsn_enc_key (enc, HSN_FIELD_HEALTH);
    msgpack_pack_map (&enc->pk, (size_t) ndeps);
    for (int i = 0; i < HSN_REPORTER_MAX_DEPS && self->cfg.deps[i]; i++) {
        if (state[i] < 0)
            continue;
        size_t n = strlen (self->cfg.deps[i]);
        msgpack_pack_str (&enc->pk, n);
        msgpack_pack_str_body (&enc->pk, self->cfg.deps[i], n);
        if (state[i])
            msgpack_pack_true (&enc->pk);
        else
            msgpack_pack_false (&enc->pk);
    }
    zmq_send (push, hsn_enc_data (enc), hsn_enc_size (enc), ZMQ_DONTWAIT);
}

static void
send_stats (hsn_reporter_t *self, void *push, hsn_enc_t *enc)
{
    hsn_enc_begin (enc, HSN_KIND_STATS, 0, self->cfg.service, 0, 0, 3);
    hsn_enc_uint (enc, HSN_FIELD_SERVICE, self->cfg.service);
    hsn_enc_cstr (enc, HSN_FIELD_REPLICA, self->replica);
    hsn_enc_key (enc, HSN_FIELD_STATS);
    hsn_metrics_pack (self->cfg.metrics, &enc->pk);
    zmq_send (push, hsn_enc_data (enc), hsn_enc_size (enc), ZMQ_DONTWAIT);
}

static void
reporter_actor (zsock_t *pipe, void *args)
{
    hsn_reporter_t *self = (hsn_reporter_t *) args;
    /*  A ZeroMQ context of its own: libzmq resolves the monitor's host
     *  name in its I/O thread, and while that lookup hangs (the monitor's
     *  container gone, no DNS answer) it would stall every socket of the
     *  context, the broker link included. Reporting must never cost the
     *  service its work. */
    void *ctx = zmq_ctx_new ();
    void *handle = ctx ? zmq_socket (ctx, ZMQ_PUSH) : NULL;
    int64_t max_frame = HSN_PROTO_MAX_FRAME;
    /*  A small pipe: stale heartbeats are worthless, so when the monitor is
     *  away we drop rather than queue. */
    int hwm = 16, linger = 0;
    if (handle) {
        zmq_setsockopt (handle, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
        zmq_setsockopt (handle, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (handle, ZMQ_LINGER, &linger, sizeof linger);
    }
    self->ok = handle && zmq_connect (handle, self->endpoint) == 0;
    zsock_signal (pipe, 0);
    if (!self->ok) {
        if (handle)
            zmq_close (handle);
        if (ctx)
            zmq_ctx_term (ctx);
        return;
    }
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    int64_t started = hsn_now_ms ();
    hsn_proc_cpu_t last_cpu;
    hsn_proc_cpu_sample (&last_cpu);
    int64_t next_hb = started;
    int64_t next_stats = started + 1000;    /* first stats soon after start */
    while (true) {
        int64_t now = hsn_now_ms ();
        if (now >= next_hb) {
            send_heartbeat (self, handle, &enc, started, &last_cpu);
            next_hb = now + self->cfg.heartbeat_ms;
        }
        if (self->cfg.send_stats && now >= next_stats) {
            send_stats (self, handle, &enc);
            next_stats = now + (int64_t) self->cfg.stats_interval_s * 1000;
        }
        int64_t wait = next_hb - hsn_now_ms ();
        if (self->cfg.send_stats && next_stats - hsn_now_ms () < wait)
            wait = next_stats - hsn_now_ms ();
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, wait > 0 ? (long) wait : 0) < 0 && zmq_errno () != EINTR)
            break;
        if (item.revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv (pipe);
            bool term = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
            if (term)
                break;
        }
    }
    hsn_enc_release (&enc);
    zmq_close (handle);
    zmq_ctx_term (ctx);
}

hsn_reporter_t *
hsn_reporter_new (const hsn_reporter_config_t *cfg)
{
    hsn_reporter_t *self = (hsn_reporter_t *) zmalloc (sizeof *self);
    self->cfg = *cfg;
    self->endpoint = strdup (cfg->endpoint);
    self->replica = strdup (cfg->replica);
    for (int i = 0; i < HSN_REPORTER_MAX_DEPS; i++)
        self->dep_up[i] = -1;           /* unknown until first set */
    hsn_proc_mem_limit (&self->mem_limit);
    hsn_proc_cpu_limit (&self->cpu_limit);
    /*  Without a registry there is nothing to send as stats. */
    if (!cfg->metrics)
        self->cfg.send_stats = false;
    self->actor = zactor_new (reporter_actor, self);
    if (!self->actor || !self->ok) {
        hsn_reporter_destroy (&self);
        return NULL;
    }
    return self;
}

void
hsn_reporter_destroy (hsn_reporter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hsn_reporter_t *self = *self_p;
    zactor_destroy (&self->actor);
    free (self->endpoint);
    free (self->replica);
    free (self);
    *self_p = NULL;
}

void
hsn_reporter_dep_set (hsn_reporter_t *self, int idx, bool up)
{
    if (self && idx >= 0 && idx < HSN_REPORTER_MAX_DEPS)
        __atomic_store_n (&self->dep_up[idx], up ? 1 : 0, __ATOMIC_RELAXED);
}
