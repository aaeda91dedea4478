/*  gateway_broker: request broker. See gateway_broker.h.
 *
 *  Frames on the ROUTER (identity frame first, added/removed by libzmq):
 *    client -> broker   [client][REQUEST]
 *    broker -> client   [client][REPLY]
 *    worker -> broker   [worker][READY|HEARTBEAT|DISCONNECT]
 *                       [worker][token][REPLY]
 *    broker -> worker   [worker][token][REQUEST]   [worker][HEARTBEAT]
 *  token is 8 bytes naming the broker's record of the request (slot and
 *  generation), so a reply is matched in O(1) and a stale one is refused.
 */
#include "gateway_broker.h"
#include "hsn_sock.h"
#include "hsn_time.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#define MAX_ID 64               /* identities we accept; libzmq's are 5 bytes */
#define MAX_WORKERS_PER_SERVICE 256

typedef struct worker {
    uint8_t id[MAX_ID];
    size_t id_len;
    char key[2 * MAX_ID + 1];   /* hex identity, the hash key */
    char replica[64];
    uint32_t service;
    uint32_t credits;
    uint32_t inflight;
    uint32_t interval_ms;
    int64_t expires_ms;
    bool draining;
} worker_t;

/*  One request the broker holds: queued (worker NULL) or in flight. */
typedef struct {
    uint32_t gen;
    bool used;
    zmq_msg_t client;           /* client identity */
    zmq_msg_t body;             /* request frame, kept for re-dispatch */
    bool has_body;
    worker_t *worker;
    uint32_t service, op;
    uint64_t rid;
    int64_t deadline_ms;
    uint32_t attempts;
    int32_t next;               /* queue link or free-list link */
} pending_t;

typedef struct {
    worker_t *workers[MAX_WORKERS_PER_SERVICE];
    uint32_t nworkers;
    uint32_t rr;
    int32_t head, tail;         /* queue of pending indexes */
    uint32_t queued;
} service_t;

struct gateway_broker {
    zactor_t *actor;
    gateway_broker_config_t cfg;
    char *bind, *inproc;
    int port;
    bool bound;                             /* both binds worked */
    uint32_t live[HSN_SERVICE__MAX];        /* read by other threads */
    gateway_broker_stats_t stats;           /* written by the actor only */
};

typedef struct {
    gateway_broker_t *pub;
    zsock_t *pipe;
    zsock_t *router;
    void *handle;
    zhashx_t *workers;          /* key -> worker_t */
    service_t services[HSN_SERVICE__MAX];
    pending_t *slab;
    uint32_t slab_cap, slab_hwm;
    int32_t free_head;
    hsn_enc_t enc;
    bool stop;
} broker_t;

#define STAT(b, name) __atomic_fetch_add (&(b)->pub->stats.name, 1, __ATOMIC_RELAXED)

/*  --- pending slab ----------------------------------------------------- */

static int32_t
pending_alloc (broker_t *b)
{
    if (b->free_head < 0) {
        if (b->slab_hwm == b->slab_cap) {
            uint32_t cap = b->slab_cap ? b->slab_cap * 2 : 1024;
            pending_t *slab = (pending_t *) realloc (b->slab, cap * sizeof *slab);
            if (!slab)
                return -1;
            /*  Moving live zmq_msg_t bytes is what zmq_msg_move itself
             *  does (libzmq keeps no pointer into the struct), so the
             *  slab may grow under them. */
            b->slab = slab;
            b->slab_cap = cap;
        }
        pending_t *p = &b->slab[b->slab_hwm];
        memset (p, 0, sizeof *p);
        p->next = -1;
        return (int32_t) b->slab_hwm++;
    }
    int32_t i = b->free_head;
    b->free_head = b->slab[i].next;
    b->slab[i].next = -1;
    return i;
}

static void
pending_free (broker_t *b, int32_t i)
{
    pending_t *p = &b->slab[i];
    zmq_msg_close (&p->client);
    if (p->has_body)
        zmq_msg_close (&p->body);
    p->has_body = false;
    p->used = false;
    p->worker = NULL;
    p->gen++;
    p->next = b->free_head;
    b->free_head = i;
}

static uint64_t
token_of (broker_t *b, int32_t i)
{
    return ((uint64_t) b->slab[i].gen << 32) | (uint32_t) i;
}

static int32_t
pending_by_token (broker_t *b, const void *data, size_t len)
{
    if (len != 8)
        return -1;
    uint64_t t;
    memcpy (&t, data, 8);
    uint32_t i = (uint32_t) t;
    if (i >= b->slab_hwm || !b->slab[i].used || b->slab[i].gen != (uint32_t) (t >> 32))
        return -1;
    return (int32_t) i;
}

/*  --- replies ---------------------------------------------------------- */

static void
send_to_client (broker_t *b, zmq_msg_t *client, const void *frame, size_t len)
{
    const void *parts[2] = { zmq_msg_data (client), frame };
    size_t lens[2] = { zmq_msg_size (client), len };
    /*  ROUTER_MANDATORY + DONTWAIT: a client that left makes this fail
     *  rather than block; its reply has nowhere to go. */
    hsn_sock_sendv (b->handle, parts, lens, 2, ZMQ_DONTWAIT);
}

static void
reply_error (broker_t *b, int32_t i, hsn_status_t status, const char *message)
{
    pending_t *p = &b->slab[i];
    hsn_env_t env = { .rid = p->rid, .service = p->service, .op = p->op };
    hsn_enc_error (&b->enc, &env, status, message);
    send_to_client (b, &p->client, hsn_enc_data (&b->enc), hsn_enc_size (&b->enc));
}

static void
reply_error_raw (broker_t *b, zmq_msg_t *client, const hsn_env_t *env,
                 hsn_status_t status, const char *message)
{
    hsn_enc_error (&b->enc, env, status, message);
    send_to_client (b, client, hsn_enc_data (&b->enc), hsn_enc_size (&b->enc));
}

/*  --- workers ---------------------------------------------------------- */

static void
update_live (broker_t *b, uint32_t service)
{
    service_t *s = &b->services[service];
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->nworkers; i++)
        live += !s->workers[i]->draining;
    __atomic_store_n (&b->pub->live[service], live, __ATOMIC_RELAXED);
}

/*  Free credits of the best worker, choosing round-robin among equals. */
static worker_t *
pick_worker (broker_t *b, uint32_t service)
{
    service_t *s = &b->services[service];
    worker_t *best = NULL;
    uint32_t best_free = 0;
    for (uint32_t k = 0; k < s->nworkers; k++) {
        worker_t *w = s->workers[(s->rr + k) % s->nworkers];
        if (w->draining || w->inflight >= w->credits)
            continue;
        uint32_t free_credits = w->credits - w->inflight;
        if (free_credits > best_free) {
            best = w;
            best_free = free_credits;
        }
    }
    if (best)
        s->rr++;
    return best;
}

static bool
service_has_live (broker_t *b, uint32_t service)
{
    return __atomic_load_n (&b->pub->live[service], __ATOMIC_RELAXED) > 0;
}

/*  Send request i to worker w. Returns 0, or -1 when libzmq says the worker
 *  is no longer connected (ROUTER_MANDATORY: EHOSTUNREACH) -- then nothing
 *  was recorded and the caller drops the worker at once instead of waiting
 *  for its heartbeats to lapse. */
static int
dispatch_to (broker_t *b, int32_t i, worker_t *w)
{
    pending_t *p = &b->slab[i];
    uint64_t token = token_of (b, i);
    /*  The identity frame decides routing: if it fails, nothing was sent. */
    if (zmq_send (b->handle, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno () == EHOSTUNREACH ? -1 : 0;
    zmq_send (b->handle, &token, 8, ZMQ_SNDMORE);
    /*  The body goes zero-copy: an idempotent request keeps a reference
     *  (zmq_msg_copy shares the buffer) for re-dispatch; any other hands
     *  its frame over, as it is never re-sent. */
    bool keep = hsn_op_idempotent (p->op);
    zmq_msg_t out;
    zmq_msg_init (&out);
    if (keep)
        zmq_msg_copy (&out, &p->body);
    else {
        zmq_msg_move (&out, &p->body);
        zmq_msg_close (&p->body);
        p->has_body = false;
    }
    if (zmq_msg_send (&out, b->handle, 0) < 0)
        zmq_msg_close (&out);
    /*  A failure past the first frame (pipe full) leaves the request
     *  recorded against the worker: its expiry re-dispatches or fails it. */
    p->worker = w;
    p->attempts++;
    w->inflight++;
    return 0;
}

static void worker_remove (broker_t *b, worker_t *w, bool expired);

static void
queue_push (broker_t *b, int32_t i, bool front)
{
    service_t *s = &b->services[b->slab[i].service];
    pending_t *p = &b->slab[i];
    p->worker = NULL;
    if (front) {
        p->next = s->head;
        s->head = i;
        if (s->tail < 0)
            s->tail = i;
    }
    else {
        p->next = -1;
        if (s->tail >= 0)
            b->slab[s->tail].next = i;
        else
            s->head = i;
        s->tail = i;
    }
    s->queued++;
}

static int32_t
queue_pop (broker_t *b, uint32_t service)
{
    service_t *s = &b->services[service];
    int32_t i = s->head;
    if (i < 0)
        return -1;
    s->head = b->slab[i].next;
    if (s->head < 0)
        s->tail = -1;
    b->slab[i].next = -1;
    s->queued--;
    return i;
}

/*  Move queued requests to workers while any has credit. */
static void
pump (broker_t *b, uint32_t service)
{
    service_t *s = &b->services[service];
    while (s->head >= 0) {
        worker_t *w = pick_worker (b, service);
        if (!w)
            return;
        int32_t i = queue_pop (b, service);
        if (dispatch_to (b, i, w)) {
            queue_push (b, i, true);
            worker_remove (b, w, true);     /* pumps again, without w */
            return;
        }
    }
}

/*  Confirm to a draining worker that nothing more will be sent to it. */
static void
send_disconnect (broker_t *b, const void *id, size_t id_len)
{
    hsn_enc_begin (&b->enc, HSN_KIND_DISCONNECT, 0, HSN_SERVICE_GATEWAY, 0, 0, 0);
    const void *parts[2] = { id, hsn_enc_data (&b->enc) };
    size_t lens[2] = { id_len, hsn_enc_size (&b->enc) };
    hsn_sock_sendv (b->handle, parts, lens, 2, ZMQ_DONTWAIT);
}

static void
worker_remove (broker_t *b, worker_t *w, bool expired)
{
    service_t *s = &b->services[w->service];
    for (uint32_t k = 0; k < s->nworkers; k++)
        if (s->workers[k] == w) {
            s->workers[k] = s->workers[--s->nworkers];
            break;
        }
    update_live (b, w->service);
    /*  Whatever the worker still held: re-dispatch what may be repeated,
     *  fail the rest loudly. */
    for (uint32_t i = 0; i < b->slab_hwm; i++) {
        pending_t *p = &b->slab[i];
        if (!p->used || p->worker != w)
            continue;
        if (p->has_body && p->attempts < b->pub->cfg.max_attempts) {
            STAT (b, retries);
            /*  A new generation: a late reply from the lost holder no
             *  longer matches the token, so only the new holder's counts. */
            p->gen++;
            queue_push (b, (int32_t) i, true);
        }
        else {
            STAT (b, worker_lost);
            reply_error (b, (int32_t) i, HSN_STATUS_WORKER_LOST,
                         "the replica handling this request was lost; it may or may not have been applied");
            pending_free (b, (int32_t) i);
        }
    }
    if (expired)
        STAT (b, workers_expired);
    uint32_t service = w->service;
    if (!expired)
        send_disconnect (b, w->id, w->id_len);
    zhashx_delete (b->workers, w->key);     /* frees w */
    /*  Retried requests go to the survivors, or fail if none is left. */
    pump (b, service);
    if (s->nworkers == 0)
        for (int32_t i; (i = queue_pop (b, service)) >= 0; ) {
            reply_error (b, i, HSN_STATUS_NO_SERVICE, "no live replica of the service");
            pending_free (b, i);
        }
}

static void
worker_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
hex_key (const uint8_t *id, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < len; k++) {
        out[2 * k] = digits[id[k] >> 4];
        out[2 * k + 1] = digits[id[k] & 15];
    }
    out[2 * len] = 0;
}

static worker_t *
worker_lookup (broker_t *b, zmq_msg_t *id)
{
    if (zmq_msg_size (id) > MAX_ID)
        return NULL;
    char key[2 * MAX_ID + 1];
    hex_key ((const uint8_t *) zmq_msg_data (id), zmq_msg_size (id), key);
    return (worker_t *) zhashx_lookup (b->workers, key);
}

static void
on_control (broker_t *b, zmq_msg_t *id, zmq_msg_t *frame)
{
    hsn_env_t env;
    if (hsn_env_decode (&env, zmq_msg_data (frame), zmq_msg_size (frame)))
        return;
    worker_t *w = worker_lookup (b, id);
    if (w)
        w->expires_ms = hsn_now_ms () + 3 * (int64_t) w->interval_ms;
    if (env.kind == HSN_KIND_DISCONNECT) {
        if (w) {
            w->draining = true;
            update_live (b, w->service);
            if (w->inflight == 0)
                worker_remove (b, w, false);
        }
        else
            send_disconnect (b, zmq_msg_data (id), zmq_msg_size (id));
        return;
    }
    uint64_t service, credits, interval;
    if (hsn_env_uint (&env, HSN_FIELD_SERVICE, &service)
        || hsn_env_uint (&env, HSN_FIELD_CREDITS, &credits)
        || service == 0 || service >= HSN_SERVICE__MAX || credits == 0)
        return;
    if (hsn_env_uint (&env, HSN_FIELD_INTERVAL, &interval) || interval < 10)
        interval = b->pub->cfg.heartbeat_ms;
    if (!w) {
        service_t *s = &b->services[service];
        if (zmq_msg_size (id) > MAX_ID || s->nworkers == MAX_WORKERS_PER_SERVICE)
            return;
        w = (worker_t *) zmalloc (sizeof *w);
        w->id_len = zmq_msg_size (id);
        memcpy (w->id, zmq_msg_data (id), w->id_len);
        hex_key (w->id, w->id_len, w->key);
        w->service = (uint32_t) service;
        const char *r;
        size_t rlen;
        if (hsn_env_str (&env, HSN_FIELD_REPLICA, &r, &rlen) == 0)
            snprintf (w->replica, sizeof w->replica, "%.*s", (int) rlen, r);
        zhashx_insert (b->workers, w->key, w);
        s->workers[s->nworkers++] = w;
        STAT (b, workers_joined);
    }
    if (w->service != service)
        return;                         /* an identity does not change role */
    w->credits = (uint32_t) (credits > 1000000 ? 1000000 : credits);
    w->interval_ms = (uint32_t) (interval > 60000 ? 60000 : interval);
    w->expires_ms = hsn_now_ms () + 3 * (int64_t) w->interval_ms;
    update_live (b, w->service);
    pump (b, w->service);
}

static void
on_reply (broker_t *b, zmq_msg_t *id, zmq_msg_t *token, zmq_msg_t *frame)
{
    worker_t *w = worker_lookup (b, id);
    if (w)
        w->expires_ms = hsn_now_ms () + 3 * (int64_t) w->interval_ms;
    int32_t i = pending_by_token (b, zmq_msg_data (token), zmq_msg_size (token));
    if (i < 0)
        return;                         /* timed out already, or stale */
    pending_t *p = &b->slab[i];
    worker_t *holder = p->worker;
    if (!holder || holder != w)
        return;                         /* only the holder may answer */
    STAT (b, replies);
    /*  Forward the reply frame itself (zero copy). */
    if (zmq_send (b->handle, zmq_msg_data (&p->client), zmq_msg_size (&p->client),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int) zmq_msg_size (&p->client))
        zmq_msg_send (frame, b->handle, 0);
    uint32_t service = p->service;
    pending_free (b, i);
    holder->inflight--;
    if (holder->draining && holder->inflight == 0) {
        worker_remove (b, holder, false);
        return;
    }
    pump (b, service);
}

static void
on_request (broker_t *b, zmq_msg_t *client, zmq_msg_t *frame)
{
    hsn_env_t env;
    memset (&env, 0, sizeof env);
    int rc = hsn_env_peek (&env, zmq_msg_data (frame), zmq_msg_size (frame));
    if (rc || env.kind != HSN_KIND_REQUEST) {
        STAT (b, malformed);
        reply_error_raw (b, client, &env, rc ? hsn_env_decode_status (rc)
                                             : HSN_STATUS_MALFORMED,
                         "not a request envelope");
        return;
    }
    STAT (b, requests);
    if (env.service == 0 || env.service >= HSN_SERVICE__MAX
        || !service_has_live (b, env.service)) {
        STAT (b, no_service);
        reply_error_raw (b, client, &env, HSN_STATUS_NO_SERVICE,
                         "no live replica of the service");
        return;
    }
    worker_t *w = pick_worker (b, env.service);
    service_t *s = &b->services[env.service];
    if (!w && s->queued >= b->pub->cfg.queue_max) {
        STAT (b, overloaded);
        reply_error_raw (b, client, &env, HSN_STATUS_OVERLOADED,
                         "every replica is busy and the queue is full");
        return;
    }
    int32_t i = pending_alloc (b);
    if (i < 0) {
        reply_error_raw (b, client, &env, HSN_STATUS_OVERLOADED, "out of memory");
        return;
    }
    pending_t *p = &b->slab[i];
    p->used = true;
    zmq_msg_init (&p->client);
    zmq_msg_move (&p->client, client);
    zmq_msg_init (&p->body);
    zmq_msg_move (&p->body, frame);
    p->has_body = true;
    p->service = env.service;
    p->op = env.op;
    p->rid = env.rid;
    p->attempts = 0;
    p->deadline_ms = hsn_now_ms () + b->pub->cfg.request_timeout_ms;
    if (w && dispatch_to (b, i, w) == 0)
        return;
    STAT (b, queued);
    queue_push (b, i, false);
    if (w)
        worker_remove (b, w, true);         /* gone: the queue goes elsewhere */
}

/*  --- timers ----------------------------------------------------------- */

static void
on_tick (broker_t *b)
{
    int64_t now = hsn_now_ms ();
    /*  Heartbeat every worker so it knows the broker is alive. */
    hsn_enc_begin (&b->enc, HSN_KIND_HEARTBEAT, 0, HSN_SERVICE_GATEWAY, 0, 0, 0);
    zlistx_t *expired = zlistx_new ();
    for (worker_t *w = (worker_t *) zhashx_first (b->workers); w;
         w = (worker_t *) zhashx_next (b->workers)) {
        const void *parts[2] = { w->id, hsn_enc_data (&b->enc) };
        size_t lens[2] = { w->id_len, hsn_enc_size (&b->enc) };
        /*  Silent for three intervals, or its connection is gone (libzmq
         *  tells us at once with ROUTER_MANDATORY): either way, dropped. */
        if (w->expires_ms < now
            || hsn_sock_sendv (b->handle, parts, lens, 2, ZMQ_DONTWAIT) == -EHOSTUNREACH)
            zlistx_add_end (expired, w);
    }
    for (worker_t *w = (worker_t *) zlistx_first (expired); w;
         w = (worker_t *) zlistx_next (expired))
        worker_remove (b, w, true);
    zlistx_destroy (&expired);
    /*  Requests that outlived their deadline: answer TIMEOUT and give the
     *  worker its credit back (it is slow, not dead: it still heartbeats). */
    for (uint32_t i = 0; i < b->slab_hwm; i++) {
        pending_t *p = &b->slab[i];
        if (!p->used || p->deadline_ms > now)
            continue;
        if (p->worker)
            p->worker->inflight--;
        else {
            /*  Unlink from its queue: rebuild the queue without it. */
            service_t *s = &b->services[p->service];
            int32_t prev = -1;
            for (int32_t k = s->head; k >= 0; prev = k, k = b->slab[k].next)
                if (k == (int32_t) i) {
                    if (prev < 0) s->head = b->slab[k].next;
                    else b->slab[prev].next = b->slab[k].next;
                    if (s->tail == k) s->tail = prev;
                    s->queued--;
                    break;
                }
        }
        STAT (b, timeouts);
        reply_error (b, (int32_t) i, HSN_STATUS_TIMEOUT, "request timed out in the broker");
        pending_free (b, (int32_t) i);
    }
    /*  Credits given back above may let queued requests go. */
    for (uint32_t s = 1; s < HSN_SERVICE__MAX; s++)
        pump (b, s);
}

static void
on_router (broker_t *b)
{
    for (int k = 0; k < 1024; k++) {
        zmq_msg_t parts[3];
        int n = hsn_sock_recvv (b->handle, parts, 3, ZMQ_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n < 0)
            continue;
        if (n == 2) {
            hsn_env_t env;
            int rc = hsn_env_peek (&env, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]));
            if (rc == 0 && env.kind == HSN_KIND_REQUEST)
                on_request (b, &parts[0], &parts[1]);
            else if (rc == 0 && (env.kind == HSN_KIND_READY || env.kind == HSN_KIND_HEARTBEAT
                                 || env.kind == HSN_KIND_DISCONNECT))
                on_control (b, &parts[0], &parts[1]);
            else
                on_request (b, &parts[0], &parts[1]);   /* answers MALFORMED */
        }
        else if (n == 3)
            on_reply (b, &parts[0], &parts[1], &parts[2]);
        hsn_sock_close_msgs (parts, (size_t) n);
    }
}

static void
broker_actor (zsock_t *pipe, void *args)
{
    gateway_broker_t *pub = (gateway_broker_t *) args;
    broker_t b;
    memset (&b, 0, sizeof b);
    b.pub = pub;
    b.pipe = pipe;
    b.free_head = -1;
    for (int s = 0; s < HSN_SERVICE__MAX; s++)
        b.services[s].head = b.services[s].tail = -1;
    b.workers = zhashx_new ();
    zhashx_set_destructor (b.workers, worker_free);
    hsn_enc_init (&b.enc);
    b.router = zsock_new (ZMQ_ROUTER);
    hsn_sock_defaults (b.router);
    zsock_set_router_mandatory (b.router, 1);
    pub->port = zsock_bind (b.router, "%s", pub->bind);
    bool ok = pub->port >= 0 && zsock_bind (b.router, "%s", pub->inproc) >= 0;
    pub->bound = ok;
    zsock_signal (pipe, ok ? 0 : 1);
    if (!ok)
        goto done;
    b.handle = zsock_resolve (b.router);

    int64_t next_tick = hsn_now_ms () + pub->cfg.heartbeat_ms;
    while (!b.stop) {
        zmq_pollitem_t items[2] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { b.handle, 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = next_tick - hsn_now_ms ();
        if (zmq_poll (items, 2, wait > 0 ? (long) wait : 0) < 0 && zmq_errno () != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv (pipe);
            if (!cmd || streq (cmd, "$TERM"))
                b.stop = true;
            zstr_free (&cmd);
        }
        if (items[1].revents & ZMQ_POLLIN)
            on_router (&b);
        if (hsn_now_ms () >= next_tick) {
            on_tick (&b);
            next_tick = hsn_now_ms () + pub->cfg.heartbeat_ms;
        }
    }
done:
    for (uint32_t i = 0; i < b.slab_hwm; i++)
        if (b.slab[i].used)
            pending_free (&b, (int32_t) i);
    free (b.slab);
    zhashx_destroy (&b.workers);
    zsock_destroy (&b.router);
    hsn_enc_release (&b.enc);
}

/*  --- public API -------------------------------------------------------- */

gateway_broker_t *
gateway_broker_new (const gateway_broker_config_t *cfg)
{
    gateway_broker_t *self = (gateway_broker_t *) zmalloc (sizeof *self);
    self->cfg = *cfg;
    self->bind = strdup (cfg->bind);
    self->inproc = strdup (cfg->inproc);
    self->cfg.bind = self->bind;
    self->cfg.inproc = self->inproc;
    if (self->cfg.max_attempts == 0)
        self->cfg.max_attempts = 3;
    self->actor = zactor_new (broker_actor, self);
    /*  zactor_new waits for the actor's first signal: ours says whether the
     *  binds worked. */
    if (!self->actor || !self->bound) {
        zactor_destroy (&self->actor);
        free (self->bind);
        free (self->inproc);
        free (self);
        return NULL;
    }
    return self;
}

void
gateway_broker_destroy (gateway_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_broker_t *self = *self_p;
    zactor_destroy (&self->actor);
    free (self->bind);
    free (self->inproc);
    free (self);
    *self_p = NULL;
}

int
gateway_broker_port (const gateway_broker_t *self)
{
    return self->port;
}

uint32_t
gateway_broker_replicas (const gateway_broker_t *self, uint32_t service)
{
    if (service >= HSN_SERVICE__MAX)
        return 0;
    return __atomic_load_n (&self->live[service], __ATOMIC_RELAXED);
}

void
gateway_broker_stats (const gateway_broker_t *self, gateway_broker_stats_t *out)
{
    const uint64_t *src = (const uint64_t *) &self->stats;
    uint64_t *dst = (uint64_t *) out;
    for (size_t i = 0; i < sizeof *out / sizeof (uint64_t); i++)
        dst[i] = __atomic_load_n (&src[i], __ATOMIC_RELAXED);
}
