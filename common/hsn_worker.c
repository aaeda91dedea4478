/*  hsn_worker: a replica's link to the broker. See hsn_worker.h. */
#include "hsn_worker.h"
#include "hsn_time.h"

#include <errno.h>
#include <string.h>

/*  How many messages one wake-up drains before yielding to the rest of the
 *  loop: large enough to batch under load, small enough to stay fair. */
#define DRAIN_BATCH 256

struct hsn_worker {
    zloop_t *loop;
    zsock_t *sock;
    void *handle;
    int timer_id;
    hsn_worker_config_t cfg;
    char *replica;
    hsn_enc_t enc;
    size_t inflight;
    int64_t last_heard_ms;
    bool draining;
    bool released;
};

static void
send_control (hsn_worker_t *self, hsn_kind_t kind)
{
    hsn_enc_begin (&self->enc, kind, 0, self->cfg.service, 0, HSN_STATUS_OK, 4);
    hsn_enc_uint (&self->enc, HSN_FIELD_SERVICE, self->cfg.service);
    hsn_enc_cstr (&self->enc, HSN_FIELD_REPLICA, self->replica);
    hsn_enc_uint (&self->enc, HSN_FIELD_CREDITS, self->cfg.credits);
    hsn_enc_uint (&self->enc, HSN_FIELD_INTERVAL, self->cfg.heartbeat_ms);
    /*  Control traffic is best effort: a full pipe means the broker is gone,
     *  and the next heartbeat says it all again. */
    zmq_send (self->handle, hsn_enc_data (&self->enc), hsn_enc_size (&self->enc),
              ZMQ_DONTWAIT);
}

static int
on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    hsn_worker_t *self = (hsn_worker_t *) arg;
    /*  Every heartbeat carries the registration, so a restarted broker
     *  learns this replica from the next heartbeat with no handshake. A
     *  draining worker keeps saying DISCONNECT until it is gone. */
    send_control (self, self->draining ? HSN_KIND_DISCONNECT : HSN_KIND_HEARTBEAT);
    return 0;
}

static void
handle_request (hsn_worker_t *self, zmq_msg_t *route_msg, zmq_msg_t *body)
{
    hsn_route_t route;
    size_t rlen = zmq_msg_size (route_msg);
    if (rlen == 0 || rlen > HSN_ROUTE_MAX)
        return;                         /* not from our broker: drop */
    route.len = (uint8_t) rlen;
    memcpy (route.bytes, zmq_msg_data (route_msg), rlen);

    hsn_env_t env;
    int rc = hsn_env_decode (&env, zmq_msg_data (body), zmq_msg_size (body));
    self->inflight++;
    if (rc == 0 && env.kind != HSN_KIND_REQUEST)
        rc = -EBADMSG;
    if (rc) {
        if (rc != -EPROTONOSUPPORT)
            memset (&env, 0, sizeof env);
        hsn_worker_reply_error (self, &route, &env, hsn_env_decode_status (rc),
                                "request frame rejected by decoder");
        return;
    }
    /*  While draining, requests the broker sent before it read our
     *  DISCONNECT still arrive: they are served like any other. */
    self->cfg.handler (self, &route, &env, self->cfg.arg);
}

static int
on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    hsn_worker_t *self = (hsn_worker_t *) arg;
    int requests = 0;
    for (int i = 0; i < DRAIN_BATCH; i++) {
        zmq_msg_t parts[2];
        int n = hsn_sock_recvv (self->handle, parts, 2, ZMQ_DONTWAIT);
        if (n == -EAGAIN)
            break;
        if (n < 0)
            continue;                   /* oversized multipart: dropped */
        self->last_heard_ms = hsn_now_ms ();
        if (n == 2) {
            handle_request (self, &parts[0], &parts[1]);
            requests++;
        }
        else if (n == 1 && self->draining) {
            /*  The broker answers our DISCONNECT with one once it has
             *  forgotten us: nothing more will be dispatched here. */
            hsn_env_t env;
            if (hsn_env_peek (&env, zmq_msg_data (&parts[0]), zmq_msg_size (&parts[0])) == 0
                && env.kind == HSN_KIND_DISCONNECT)
                self->released = true;
        }
        /*  Otherwise one frame is a broker heartbeat, counted as heard. */
        hsn_sock_close_msgs (parts, (size_t) n);
    }
    if (requests && self->cfg.batch_end)
        self->cfg.batch_end (self, self->cfg.arg);
    return 0;
}

hsn_worker_t *
hsn_worker_new (zloop_t *loop, const hsn_worker_config_t *cfg)
{
    assert (cfg->handler && cfg->credits >= 1 && cfg->heartbeat_ms >= 10);
    hsn_worker_t *self = (hsn_worker_t *) zmalloc (sizeof *self);
    self->loop = loop;
    self->cfg = *cfg;
    self->replica = strdup (cfg->replica);
    hsn_enc_init (&self->enc);
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    hsn_sock_defaults (self->sock);
    if (zsock_connect (self->sock, "%s", cfg->endpoint) < 0)
        goto fail;
    self->handle = zsock_resolve (self->sock);
    self->last_heard_ms = 0;
    zloop_reader (loop, self->sock, on_readable, self);
    self->timer_id = zloop_timer (loop, cfg->heartbeat_ms, 0, on_heartbeat, self);
    send_control (self, HSN_KIND_READY);
    return self;
fail:
    zsock_destroy (&self->sock);
    hsn_enc_release (&self->enc);
    free (self->replica);
    free (self);
    return NULL;
}

void
hsn_worker_destroy (hsn_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hsn_worker_t *self = *self_p;
    zloop_reader_end (self->loop, self->sock);
    zloop_timer_end (self->loop, self->timer_id);
    send_control (self, HSN_KIND_DISCONNECT);
    zsock_destroy (&self->sock);
    hsn_enc_release (&self->enc);
    free (self->replica);
    free (self);
    *self_p = NULL;
}

int
hsn_worker_reply (hsn_worker_t *self, const hsn_route_t *route,
                  const void *frame, size_t len)
{
    assert (self->inflight > 0);
    self->inflight--;
    const void *parts[2] = { route->bytes, frame };
    size_t lens[2] = { route->len, len };
    /*  Never block the loop: the pipe to the broker is deep (HWM 100k), so
     *  a reply that cannot be queued means the broker is gone or hopelessly
     *  behind; the client's own deadline then answers for us. */
    return hsn_sock_sendv (self->handle, parts, lens, 2, ZMQ_DONTWAIT) ? -EIO : 0;
}

int
hsn_worker_reply_enc (hsn_worker_t *self, const hsn_route_t *route,
                      const hsn_enc_t *enc)
{
    return hsn_worker_reply (self, route, hsn_enc_data (enc), hsn_enc_size (enc));
}

int
hsn_worker_reply_error (hsn_worker_t *self, const hsn_route_t *route,
                        const hsn_env_t *req, hsn_status_t status,
                        const char *message)
{
    hsn_enc_error (&self->enc, req, status, message);
    return hsn_worker_reply_enc (self, route, &self->enc);
}

void
hsn_worker_drain (hsn_worker_t *self)
{
    self->draining = true;
    send_control (self, HSN_KIND_DISCONNECT);
}

size_t
hsn_worker_inflight (const hsn_worker_t *self)
{
    return self->inflight;
}

bool
hsn_worker_connected (const hsn_worker_t *self)
{
    return self->last_heard_ms
           && hsn_now_ms () - self->last_heard_ms < 3 * (int64_t) self->cfg.heartbeat_ms;
}

bool
hsn_worker_released (const hsn_worker_t *self)
{
    return self->released;
}
