/*  hsn_client: synchronous request/reply through the broker. */
#include "hsn_client.h"
#include "hsn_sock.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdint.h>

struct hsn_client {
    zsock_t *sock;
    void *handle;
    uint64_t next_rid;
    int rcvtimeo;                   /* ZMQ_RCVTIMEO as last set */
};

hsn_client_t *
hsn_client_new (const char *endpoint)
{
    hsn_client_t *self = (hsn_client_t *) zmalloc (sizeof *self);
    self->sock = hsn_sock_dealer (endpoint);
    if (!self->sock) {
        free (self);
        return NULL;
    }
    self->handle = zsock_resolve (self->sock);
    self->rcvtimeo = -1;
    /*  Start ids at a random point so a restarted client never mistakes an
     *  old reply for a new one. */
    self->next_rid = ((uint64_t) randof (0x7fffffff) << 20) | 1;
    return self;
}

void
hsn_client_destroy (hsn_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->sock);
    free (*self_p);
    *self_p = NULL;
}

uint64_t
hsn_client_next_rid (hsn_client_t *self)
{
    return self->next_rid++;
}

int
hsn_client_call (hsn_client_t *self, const void *frame, size_t len,
                 uint64_t rid, int timeout_ms, zmq_msg_t *reply)
{
    if (zmq_send (self->handle, frame, len, ZMQ_DONTWAIT) < 0)
        return zmq_errno () == EAGAIN ? -ETIMEDOUT : -EIO;
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (true) {
        int64_t left = deadline - hsn_now_ms ();
        if (left < 0)
            return -ETIMEDOUT;
        /*  A blocking receive bounded by the time left: libzmq then sleeps
         *  once per reply, where zmq_poll costs several more system calls
         *  (on a gateway thread, per request). The option is set only when
         *  it changes, which is seldom: a deadline counts whole ms. */
        int ms = left < 1 ? 1 : left > INT32_MAX ? INT32_MAX : (int) left;
        if (ms != self->rcvtimeo) {
            if (zmq_setsockopt (self->handle, ZMQ_RCVTIMEO, &ms, sizeof ms))
                return -EIO;
            self->rcvtimeo = ms;
        }
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->handle, 0) < 0) {
            int e = zmq_errno ();
            zmq_msg_close (&msg);
            if (e == EAGAIN || e == EINTR)
                continue;               /* the deadline check returns */
            return -EIO;
        }
        /*  Drop any extra frames: replies are one frame. */
        bool more = zmq_msg_more (&msg);
        while (more) {
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            zmq_msg_recv (&extra, self->handle, 0);
            more = zmq_msg_more (&extra);
            zmq_msg_close (&extra);
        }
        /*  A reply in another protocol version is still the answer to
         *  this request (its header is readable): the caller sees it and
         *  says so, instead of timing out. */
        hsn_env_t env;
        int prc = hsn_env_peek (&env, zmq_msg_data (&msg), zmq_msg_size (&msg));
        if ((prc == 0 || prc == -EPROTONOSUPPORT) && env.rid == rid) {
            zmq_msg_init (reply);
            zmq_msg_move (reply, &msg);
            zmq_msg_close (&msg);
            return 0;
        }
        zmq_msg_close (&msg);           /* a late reply to an earlier call */
    }
}
