/*  monitor_service: intake, clock and request handler. See monitor_service.h. */
#include "monitor_service.h"
#include "hsn_sock.h"
#include "hsn_time.h"

struct monitor_service {
    zloop_t *loop;
    zsock_t *pull;
    int port, timer;
    monitor_core_t *core;
    hsn_enc_t enc;
    msgpack_sbuffer text;
    uint64_t *taken, *refused, *requests;
};

static uint64_t dummy_counter;

static uint64_t *
counter (hsn_metrics_t *m, const char *name)
{
    return m ? hsn_metrics_counter (m, name) : &dummy_counter;
}

static int
on_intake (zloop_t *loop, zsock_t *reader, void *arg)
{
    monitor_service_t *self = (monitor_service_t *) arg;
    void *handle = zsock_resolve (reader);
    for (int i = 0; i < 1024; i++) {
        zmq_msg_t msg;
        int n = hsn_sock_recvv (handle, &msg, 1, ZMQ_DONTWAIT);
        if (n == -EAGAIN)
            break;
        if (n != 1)
            continue;
        hsn_env_t env;
        if (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg)) == 0
            && monitor_core_take (self->core, &env, hsn_now_ms ()) == 0)
            hsn_counter_add (self->taken, 1);
        else
            hsn_counter_add (self->refused, 1);
        zmq_msg_close (&msg);
    }
    return 0;
}

static int
on_tick (zloop_t *loop, int timer_id, void *arg)
{
    monitor_service_t *self = (monitor_service_t *) arg;
    monitor_core_tick (self->core, hsn_now_ms ());
    return 0;
}

monitor_service_t *
monitor_service_new (zloop_t *loop, const char *endpoint, monitor_core_t *core,
                     hsn_metrics_t *metrics)
{
    monitor_service_t *self = (monitor_service_t *) zmalloc (sizeof *self);
    self->loop = loop;
    self->core = core;
    self->pull = zsock_new (ZMQ_PULL);
    hsn_sock_defaults (self->pull);
    self->port = self->pull ? zsock_bind (self->pull, "%s", endpoint) : -1;
    if (self->port < 0) {
        zsock_destroy (&self->pull);
        free (self);
        return NULL;
    }
    self->taken = counter (metrics, "monitor.intake.messages");
    self->refused = counter (metrics, "monitor.intake.refused");
    self->requests = counter (metrics, "monitor.requests");
    hsn_enc_init (&self->enc);
    msgpack_sbuffer_init (&self->text);
    zloop_reader (loop, self->pull, on_intake, self);
    monitor_core_tick (core, hsn_now_ms ());
    self->timer = zloop_timer (loop, 1000, 0, on_tick, self);
    return self;
}

void
monitor_service_destroy (monitor_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_service_t *self = *self_p;
    zloop_timer_end (self->loop, self->timer);
    zloop_reader_end (self->loop, self->pull);
    zsock_destroy (&self->pull);
    hsn_enc_release (&self->enc);
    msgpack_sbuffer_destroy (&self->text);
    free (self);
    *self_p = NULL;
}

int
monitor_service_port (const monitor_service_t *self)
{
    return self->port;
}

static void
reply_prometheus (monitor_service_t *self, hsn_worker_t *worker, const hsn_route_t *route,
                  const hsn_env_t *req)
{
    msgpack_sbuffer_clear (&self->text);
    if (monitor_core_prometheus (self->core, hsn_now_ms (), &self->text)) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   HSN_STATUS_OK, 1);
    hsn_enc_str (&self->enc, HSN_FIELD_RESULT, self->text.data, self->text.size);
    hsn_worker_reply_enc (worker, route, &self->enc);
}

void
monitor_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                        const hsn_env_t *req, void *arg)
{
    monitor_service_t *self = (monitor_service_t *) arg;
    hsn_counter_add (self->requests, 1);
    uint64_t window = 0;
    hsn_env_uint (req, HSN_FIELD_WINDOW, &window);
    if (window > MONITOR_MAX_WINDOW_S)
        window = MONITOR_MAX_WINDOW_S;
    int64_t now = hsn_now_ms ();
    if (req->op == HSN_OP_MONITOR_PROMETHEUS) {
        reply_prometheus (self, worker, route, req);
        return;
    }
    if (req->op != HSN_OP_MONITOR_HEALTH && req->op != HSN_OP_MONITOR_SUMMARY
        && req->op != HSN_OP_MONITOR_METRICS && req->op != HSN_OP_MONITOR_RECOMMEND) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                "operation not served by the monitor");
        return;
    }
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   HSN_STATUS_OK, 1);
    hsn_enc_key (&self->enc, HSN_FIELD_RESULT);
    msgpack_packer *pk = &self->enc.pk;
    int rc = 0;
    switch (req->op) {
        case HSN_OP_MONITOR_HEALTH:
            monitor_registry_health (monitor_core_registry (self->core), now,
                                     monitor_core_monitoring (self->core), pk);
            break;
        case HSN_OP_MONITOR_SUMMARY:
            rc = monitor_core_summary (self->core, now, (uint32_t) window, pk);
            break;
        case HSN_OP_MONITOR_METRICS:
            rc = monitor_core_metrics (self->core, now, (uint32_t) window, pk);
            break;
        default:
            rc = monitor_core_recommendations (self->core, now, (uint32_t) window, pk);
            break;
    }
    if (rc) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_INTERNAL, "out of memory");
        return;
    }
    hsn_worker_reply_enc (worker, route, &self->enc);
}
