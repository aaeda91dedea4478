/*  gateway_hub: see gateway_hub.h; the files are listed in gateway_hub_int.h. */
#include "gateway_hub_int.h"
#include "gateway_sse.h"
#include "hsn_log.h"
#include "hsn_sock.h"
#include "hsn_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- clients handed over ------------------------------------------------ */

static void
take_queue (gateway_hub_t *self)
{
    uint64_t n;
    if (read (self->evfd, &n, sizeof n) < 0) {
        /* nothing to read: still look at the queue */
    }
    pthread_mutex_lock (&self->lock);
    hub_client_t *c = self->queue_head;
    self->queue_head = self->queue_tail = NULL;
    pthread_mutex_unlock (&self->lock);
    while (c) {
        hub_client_t *next = c->queue_next;
        hsn_gauge_add (self->m_clients, 1);
        hsn_counter_add (self->m_handoffs, 1);
        if (hub_client_open (self, c)) {
            hub_client_close (self, c, self->m_gone);
            c = next;
            continue;
        }
        hub_agent_t *a = (hub_agent_t *) zhashx_lookup (self->agents, c->agent_id);
        if (!a) {
            a = (hub_agent_t *) calloc (1, sizeof *a);
            if (!a) {
                hub_client_close (self, c, self->m_gone);
                c = next;
                continue;
            }
            snprintf (a->id, sizeof a->id, "%s", c->agent_id);
            zhashx_insert (self->agents, a->id, a);
        }
        c->agent = a;
        c->prev = a->tail;
        if (a->tail)
            a->tail->next = c;
        else
            a->head = c;
        a->tail = c;
        a->nclients++;
        hub_sweep_soon (self, c->kind == GATEWAY_HUB_LONGPOLL ? c->deadline_ms : c->keepalive_ms);
        a->pinned = true;
        if (c->kind == GATEWAY_HUB_STREAM)
            hub_client_flush (self, c);
        /*  At once: a message sent just before this client registered
         *  woke nobody. */
        a->dirty = true;
        hub_agent_receive (self, a);
        a->pinned = false;
        hub_agent_release (self, a);
        c = next;
    }
}

/* ---- the thread --------------------------------------------------------- */

static void
close_everything (gateway_hub_t *self)
{
    hub_agent_t *a;
    while ((a = (hub_agent_t *) zhashx_first (self->agents))) {
        a->pinned = true;
        while (a->head) {
            hub_client_t *c = a->head;
            if (c->kind == GATEWAY_HUB_LONGPOLL && !c->answered
                && hub_client_answer (self, c, 200, "{\"messages\":[]}", 15, NULL, NULL))
                continue;               /* written and closed */
            hub_client_close (self, c, NULL);
        }
        a->pinned = false;
        a->inflight_rid = 0;
        hub_agent_release (self, a);
    }
    pthread_mutex_lock (&self->lock);
    hub_client_t *c = self->queue_head;
    self->queue_head = self->queue_tail = NULL;
    pthread_mutex_unlock (&self->lock);
    while (c) {
        hub_client_t *next = c->queue_next;
        close (c->fd);
        free (c->headers);
        free (c);
        __atomic_fetch_sub (&self->reserved, 1, __ATOMIC_RELAXED);
        c = next;
    }
}

static void *
run (void *arg)
{
    gateway_hub_t *self = (gateway_hub_t *) arg;
    struct epoll_event evs[256];
    while (true) {
        int64_t now = hsn_now_ms ();
        if (!self->sub)
            hub_wake_connect (self, now);
        int64_t until = self->next_sweep;
        if (!self->sub) {
            until = self->sub_retry_at < until ? self->sub_retry_at : until;
            until = self->recheck_at < until ? self->recheck_at : until;
        }
        long timeout = until <= now ? 0 : until - now > 1000 ? 1000 : (long) (until - now);
        zmq_pollitem_t items[2] = { { self->dealer_handle, 0, ZMQ_POLLIN, 0 },
                                    { NULL, self->epfd, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, timeout) < 0 && zmq_errno () != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            hub_drain_dealer (self);
        bool stop = false;
        int n = (items[1].revents & ZMQ_POLLIN) ? epoll_wait (self->epfd, evs, 256, 0) : 0;
        now = hsn_now_ms ();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &self->ev_tag) {
                take_queue (self);
                pthread_mutex_lock (&self->lock);
                stop = self->stop;
                pthread_mutex_unlock (&self->lock);
            }
            else if (p == &self->wake_tag)
                hub_wake_read (self, now);
            else {
                hub_client_t *c = (hub_client_t *) p;
                if ((evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    && hub_client_readable (self, c))
                    continue;
                if (evs[i].events & EPOLLOUT)
                    hub_client_flush (self, c);
            }
        }
        if (stop)
            break;
        now = hsn_now_ms ();
        if (!self->sub && now >= self->recheck_at) {
            /*  Deaf to wakes: look for everyone's messages now and then. */
            hub_recheck_all (self);
            self->recheck_at = now + self->cfg.recheck_ms;
        }
        if (now >= self->next_sweep)
            hub_sweep (self, now);
    }
    close_everything (self);
    hub_wake_drop (self, hsn_now_ms ());
    return NULL;
}

/* ---- the public side ---------------------------------------------------- */

gateway_hub_t *
gateway_hub_new (const gateway_hub_config_t *cfg)
{
    if (!cfg->broker_inproc || cfg->keepalive_ms == 0 || cfg->recheck_ms == 0)
        return NULL;
    gateway_hub_t *self = (gateway_hub_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->epfd = self->evfd = -1;
    pthread_mutex_init (&self->lock, NULL);
    hsn_enc_init (&self->enc);
    gateway_json_buf_init (&self->scratch);
    self->dummy_hist = (hsn_hist_t *) calloc (1, sizeof (hsn_hist_t));
    hsn_metrics_t *m = cfg->metrics;
    self->m_clients = m ? hsn_metrics_gauge (m, "gateway.hub.clients") : &self->dummy_gauge;
    uint64_t **counters[] = { &self->m_handoffs, &self->m_delivered, &self->m_receives,
                              &self->m_wakes, &self->m_slow, &self->m_gone, &self->m_rejected };
    const char *names[] = { "gateway.hub.handoffs", "gateway.hub.delivered",
                            "gateway.hub.receives", "gateway.hub.wakes",
                            "gateway.hub.closed_slow", "gateway.hub.closed_gone",
                            "gateway.hub.rejected" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        *counters[i] = m ? hsn_metrics_counter (m, names[i]) : &self->dummy_counter;
    /*  Handed-off long-polls: request to answer. Never in
     *  gateway.route.*.latency_us, whose waits are the clients' choice. */
    self->m_longpoll = m ? hsn_metrics_hist (m, "gateway.hub.longpoll_us") : self->dummy_hist;
    self->agents = zhashx_new ();
    self->inflight = zhashx_new ();
    self->next_rid = ((uint64_t) randof (0x7fffffff) << 20) | 1;
    self->rconn = cfg->redis_url ? hsn_rconn_new (cfg->redis_url, 500) : NULL;
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    self->evfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->dealer = zsock_new (ZMQ_DEALER);
    bool ok = self->dummy_hist && self->m_clients && self->agents && self->inflight
              && (!cfg->redis_url || self->rconn) && self->epfd >= 0 && self->evfd >= 0
              && self->dealer;
    if (ok) {
        hsn_sock_defaults (self->dealer);
        ok = zsock_connect (self->dealer, "%s", cfg->broker_inproc) == 0;
        self->dealer_handle = zsock_resolve (self->dealer);
    }
    struct epoll_event ev = { EPOLLIN, { .ptr = &self->ev_tag } };
    ok = ok && epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->evfd, &ev) == 0;
    /*  The sockets move to the hub thread: zmq allows that with a full
     *  memory barrier, which pthread_create is. */
    ok = ok && pthread_create (&self->thread, NULL, run, self) == 0;
    if (!ok) {
        self->started = false;
        gateway_hub_destroy (&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void
gateway_hub_destroy (gateway_hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_hub_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock (&self->lock);
        self->stop = true;
        pthread_mutex_unlock (&self->lock);
        uint64_t one = 1;
        if (write (self->evfd, &one, sizeof one) == sizeof one)
            pthread_join (self->thread, NULL);
    }
    zsock_destroy (&self->dealer);
    zhashx_destroy (&self->agents);
    zhashx_destroy (&self->inflight);
    hsn_rconn_destroy (&self->rconn);
    if (self->epfd >= 0)
        close (self->epfd);
    if (self->evfd >= 0)
        close (self->evfd);
    hsn_enc_release (&self->enc);
    gateway_json_buf_free (&self->scratch);
    pthread_mutex_destroy (&self->lock);
    free (self->dummy_hist);
    free (self);
    *self_p = NULL;
}

int
gateway_hub_reserve (gateway_hub_t *self)
{
    uint32_t n = __atomic_add_fetch (&self->reserved, 1, __ATOMIC_RELAXED);
    if (n > self->cfg.max_clients) {
        __atomic_fetch_sub (&self->reserved, 1, __ATOMIC_RELAXED);
        hsn_counter_add (self->m_rejected, 1);
        return -EBUSY;
    }
    return 0;
}

void
gateway_hub_unreserve (gateway_hub_t *self)
{
    __atomic_fetch_sub (&self->reserved, 1, __ATOMIC_RELAXED);
}

int
gateway_hub_add (gateway_hub_t *self, const gateway_hub_client_t *in)
{
    hub_client_t *c = (hub_client_t *) calloc (1, sizeof *c);
    if (c && in->headers && *in->headers && !(c->headers = strdup (in->headers))) {
        free (c);
        c = NULL;
    }
    if (!c) {
        close (in->fd);
        gateway_hub_unreserve (self);
        return -ENOMEM;
    }
    c->kind = in->kind;
    c->fd = in->fd;
    c->max = in->max ? in->max : 10;
    c->deadline_ms = in->deadline_ms;
    c->started_us = in->started_us;
    snprintf (c->agent_id, sizeof c->agent_id, "%s", in->agent);
    snprintf (c->request_id, sizeof c->request_id, "%s", in->request_id ? in->request_id : "");
    gateway_json_buf_init (&c->out);
    pthread_mutex_lock (&self->lock);
    if (self->queue_tail)
        self->queue_tail->queue_next = c;
    else
        self->queue_head = c;
    self->queue_tail = c;
    pthread_mutex_unlock (&self->lock);
    uint64_t one = 1;
    if (write (self->evfd, &one, sizeof one) < 0) {
        /*  EAGAIN only: the counter is full, so the hub will wake anyway. */
    }
    return 0;
}

size_t
gateway_hub_clients (gateway_hub_t *self)
{
    return __atomic_load_n (&self->reserved, __ATOMIC_RELAXED);
}

bool
gateway_hub_subscribed (gateway_hub_t *self)
{
    return __atomic_load_n (&self->sub_up, __ATOMIC_ACQUIRE) != 0;
}

int
gateway_hub_fd_base (const gateway_hub_t *self)
{
    return self->cfg.fd_base;
}
