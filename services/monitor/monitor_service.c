/*  monitor_service: intake and request handler. See monitor_service.h. */
#include "monitor_service.h"
#include "hsn_sock.h"
#include "hsn_time.h"

struct monitor_service {
    zloop_t *loop;
    zsock_t *pull;
    int port;
    monitor_registry_t *registry;
    bool monitoring;
    hsn_enc_t enc;
};

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
            && (env.kind == HSN_KIND_HEARTBEAT || env.kind == HSN_KIND_STATS))
            monitor_registry_take (self->registry, &env, hsn_now_ms ());
        zmq_msg_close (&msg);
    }
    return 0;
}

monitor_service_t *
monitor_service_new (zloop_t *loop, const char *endpoint,
                     monitor_registry_t *registry, bool monitoring)
{
    monitor_service_t *self = (monitor_service_t *) zmalloc (sizeof *self);
    self->loop = loop;
    self->registry = registry;
    self->monitoring = monitoring;
    self->pull = zsock_new (ZMQ_PULL);
    hsn_sock_defaults (self->pull);
    self->port = self->pull ? zsock_bind (self->pull, "%s", endpoint) : -1;
    if (self->port < 0) {
        zsock_destroy (&self->pull);
        free (self);
        return NULL;
    }
    hsn_enc_init (&self->enc);
    zloop_reader (loop, self->pull, on_intake, self);
    return self;
}

void
monitor_service_destroy (monitor_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_service_t *self = *self_p;
    zloop_reader_end (self->loop, self->pull);
    zsock_destroy (&self->pull);
    hsn_enc_release (&self->enc);
    free (self);
    *self_p = NULL;
}

int
monitor_service_port (const monitor_service_t *self)
{
    return self->port;
}

void
monitor_service_handle (hsn_worker_t *worker, const hsn_route_t *route,
                        const hsn_env_t *req, void *arg)
{
    monitor_service_t *self = (monitor_service_t *) arg;
    if (req->op != HSN_OP_MONITOR_HEALTH) {
        hsn_worker_reply_error (worker, route, req, HSN_STATUS_UNKNOWN_OP,
                                "operation not supported by the monitor yet");
        return;
    }
    hsn_enc_begin (&self->enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   HSN_STATUS_OK, 1);
    hsn_enc_key (&self->enc, HSN_FIELD_RESULT);
    monitor_registry_health (self->registry, hsn_now_ms (), self->monitoring,
                             &self->enc.pk);
    hsn_worker_reply_enc (worker, route, &self->enc);
}
