/*  gateway_fast: see gateway_fast.h. */
#include "gateway_fast.h"
#include "gateway_front.h"
#include "hsn_sock.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*  Calls in flight per loop; a request id's low bits name its slot (ids
 *  count up, so a slot is reused after SLOTS later calls). A slot still
 *  taken by then sends the request to civetweb instead. */
#define SLOTS 1024

typedef struct {
    uint64_t rid;                   /* 0: free */
    gateway_req_t req;
    gateway_fast_finish_t *finish;
    void *handle;
    int route;
    const char *method, *pattern;
    char peer[64];
    char inm[128];
    bool has_inm, probe;
    uint32_t service;
    int64_t deadline_ms;
    int prev, next;                 /* in sending order (= deadline order) */
    size_t cont_len;
    char cont[GATEWAY_FAST_CONT_MAX];
} slot_t;

struct gateway_fast {
    zsock_t *sock;
    void *handle;
    gateway_guard_t *guard;
    uint32_t timeout_ms;
    gateway_fast_after_t *after;
    void *arg;
    uint64_t next_rid;
    int head, tail;                 /* oldest and newest pending, -1: none */
    slot_t *slots;
};

gateway_fast_t *
gateway_fast_new (const char *inproc, gateway_guard_t *guard, uint32_t timeout_ms,
                  gateway_fast_after_t *after, void *arg)
{
    gateway_fast_t *self = (gateway_fast_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = (slot_t *) calloc (SLOTS, sizeof *self->slots);
    self->sock = self->slots ? hsn_sock_dealer (inproc) : NULL;
    if (!self->sock) {
        free (self->slots);
        free (self);
        return NULL;
    }
    self->handle = zsock_resolve (self->sock);
    self->guard = guard;
    self->timeout_ms = timeout_ms;
    self->after = after;
    self->arg = arg;
    self->head = self->tail = -1;
    /*  A random start, as hsn_client: a late reply to an earlier loop is
     *  never taken for ours. Never 0 in the low bits' slot sense either. */
    self->next_rid = ((uint64_t) randof (0x7fffffff) << 20) | 1;
    return self;
}

void
gateway_fast_destroy (gateway_fast_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_fast_t *self = *self_p;
    for (int i = self->head; i >= 0; i = self->slots[i].next) {
        gateway_guard_release (self->guard);
        if (self->slots[i].probe)       /* never to be answered: not a failure */
            gateway_guard_breaker_cancel (self->guard, self->slots[i].service);
    }
    zsock_destroy (&self->sock);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

int
gateway_fast_fd (gateway_fast_t *self)
{
    return zsock_fd (self->sock);
}

uint64_t
gateway_fast_next_rid (gateway_fast_t *self)
{
    uint64_t rid = self->next_rid++;
    if (rid == 0)
        rid = self->next_rid++;
    return rid;
}

/*  A pending answer's header fields: only If-None-Match is asked for after
 *  the request (for a 304); the rest were read when it came. */
static const char *
slot_header (void *ctx, const char *name)
{
    slot_t *s = (slot_t *) ctx;
    return s->has_inm && strcasecmp (name, "If-None-Match") == 0 ? s->inm : NULL;
}

static void
slot_write (void *ctx, const void *data, size_t len)
{
    gateway_front_write (((slot_t *) ctx)->handle, data, len);
}

static void
unlink_slot (gateway_fast_t *self, int i)
{
    slot_t *s = &self->slots[i];
    if (s->prev >= 0)
        self->slots[s->prev].next = s->next;
    else
        self->head = s->next;
    if (s->next >= 0)
        self->slots[s->next].prev = s->prev;
    else
        self->tail = s->prev;
    s->rid = 0;
}

int
gateway_fast_call (gateway_fast_t *self, gw_thread_t *t, gateway_req_t *req, uint64_t rid,
                   const gateway_fast_to_t *to, gateway_fast_finish_t *finish,
                   const void *cont, size_t cont_len)
{
    int i = (int) (rid % SLOTS);
    slot_t *s = &self->slots[i];
    if (s->rid || cont_len > sizeof s->cont)
        return -EBUSY;
    hsn_env_t head;
    hsn_env_peek (&head, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc));
    gateway_guard_t *g = self->guard;
    int64_t now = hsn_now_ms ();
    bool probe;
    uint32_t retry_ms;
    if (gateway_guard_breaker_enter (g, head.service, now, &probe, &retry_ms)) {
        gateway_req_header (req, "Retry-After: %u", (retry_ms + 999) / 1000);
        gateway_reply_error (req, 503, "circuit_open",
                             "the backend is failing; the circuit breaker is open");
        return -1;
    }
    /*  Nothing sent: a probe is left to civetweb, which takes the request. */
    if (gateway_guard_try_acquire (g)) {
        if (probe)
            gateway_guard_breaker_cancel (g, head.service);
        return -EBUSY;
    }
    if (zmq_send (self->handle, hsn_enc_data (&t->enc), hsn_enc_size (&t->enc), ZMQ_DONTWAIT) < 0) {
        gateway_guard_release (g);
        if (probe)
            gateway_guard_breaker_cancel (g, head.service);
        return -EBUSY;
    }
    gateway_guard_count_call (g);
    s->rid = rid;
    s->req = *req;
    s->req.io = (gateway_io_t) { slot_header, slot_write, s };
    s->req.cache_control = NULL;        /* the handler's buffer is gone by then */
    s->req.body_in = NULL;              /* and the request's bytes */
    s->req.query = NULL;
    s->finish = finish;
    s->handle = to->handle;
    s->route = to->route;
    s->method = to->method;
    s->pattern = to->pattern;
    snprintf (s->peer, sizeof s->peer, "%s", to->peer ? to->peer : "");
    s->has_inm = to->if_none_match && strlen (to->if_none_match) < sizeof s->inm;
    if (s->has_inm)
        strcpy (s->inm, to->if_none_match);
    s->probe = probe;
    s->service = head.service;
    s->deadline_ms = now + self->timeout_ms;
    s->cont_len = cont_len;
    if (cont_len)
        memcpy (s->cont, cont, cont_len);
    s->next = -1;
    s->prev = self->tail;
    if (self->tail >= 0)
        self->slots[self->tail].next = i;
    else
        self->head = i;
    self->tail = i;
    return 0;
}

/*  Failures that say the backend is dead or stuck, for the breaker (as
 *  gateway_call.c). */
static bool
backend_failed (uint32_t status)
{
    return status == HSN_STATUS_TIMEOUT || status == HSN_STATUS_NO_SERVICE
           || status == HSN_STATUS_WORKER_LOST;
}

static void
complete (gateway_fast_t *self, int i)
{
    slot_t *s = &self->slots[i];
    unlink_slot (self, i);
    gateway_guard_release (self->guard);
    self->after (self->arg, &s->req, s->handle, s->route, s->method, s->pattern, s->peer);
}

/*  Answer the replies that have come. Returns how many. */
static int
take_replies (gateway_fast_t *self, gw_thread_t *t)
{
    int done = 0;
    while (zsock_events (self->sock) & ZMQ_POLLIN) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        while (zmq_msg_more (&msg)) {   /* one frame is all a reply has */
            zmq_msg_close (&msg);
            zmq_msg_init (&msg);
            zmq_msg_recv (&msg, self->handle, 0);
        }
        hsn_env_t env;
        int prc = hsn_env_peek (&env, zmq_msg_data (&msg), zmq_msg_size (&msg));
        int i = (int) (env.rid % SLOTS);
        slot_t *s = &self->slots[i];
        if ((prc != 0 && prc != -EPROTONOSUPPORT) || !env.rid || s->rid != env.rid) {
            zmq_msg_close (&msg);       /* late: its caller was answered 504 */
            continue;
        }
        int64_t now = hsn_now_ms ();
        if (hsn_env_decode (&env, zmq_msg_data (&msg), zmq_msg_size (&msg))) {
            zmq_msg_close (&msg);
            gateway_guard_breaker_done (self->guard, s->service, false, s->probe, now);
            gateway_reply_error (&s->req, 502, "malformed", "the backend sent an undecodable reply");
        }
        else {
            gateway_guard_breaker_done (self->guard, s->service, backend_failed (env.status),
                                        s->probe, now);
            s->finish (t, &s->req, s->cont, &msg, &env);
        }
        complete (self, i);
        done++;
    }
    return done;
}

bool
gateway_fast_poll (gateway_fast_t *self, gw_thread_t *t)
{
    /*  An answer lets its connection's next request out, and a send may
     *  take ZMQ_FD's edge: look again until a pass answers nothing (a few
     *  passes at most; then the loop is told to come back at once). */
    for (int pass = 0; pass < 8; pass++) {
        int done = take_replies (self, t);
        int64_t now = hsn_now_ms ();
        while (self->head >= 0 && self->slots[self->head].deadline_ms <= now) {
            int i = self->head;
            slot_t *s = &self->slots[i];
            gateway_guard_breaker_done (self->guard, s->service, true, s->probe, now);
            gateway_reply_error (&s->req, 504, "timeout", "the backend did not answer in time");
            complete (self, i);
            done++;
        }
        if (!done)
            return false;
    }
    return (zsock_events (self->sock) & ZMQ_POLLIN) != 0;
}
