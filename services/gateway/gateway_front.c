/*  gateway_front: the loops, their accepts and timers, start and stop.
 *  See gateway_front.h; a connection's own work is gateway_front_conn.c.
 */
#include "gateway_front_int.h"
#include "hsn_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_TAG ((uint64_t) 2)
#define WAKE_TAG ((uint64_t) 3)
#define HOOK_TAG ((uint64_t) 5)
#define SWEEP_MS 100

/*  --- loops ----------------------------------------------------------- */

/*  One connection a wake-up (nginx's multi_accept off): the listening
 *  socket stays ready and the next loop to wait takes the next one, so a
 *  burst of connections spreads over the loops instead of landing on the
 *  first one awake. */
static void
accept_some (front_loop_t *l)
{
    gateway_front_t *f = l->front;
    for (int i = 0; i < 1; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4 (f->listen_fd, (struct sockaddr *) &ss, &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /*  Out of descriptors: the connection stays queued and the
             *  level-triggered socket would wake the loop at once, again
             *  and again. Stop listening for a moment (nginx does). */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                epoll_ctl (l->ep, EPOLL_CTL_DEL, f->listen_fd, NULL);
                l->listen_paused_until = hsn_now_ms () + 100;
            }
            return;
        }
        if (atomic_fetch_add (&f->conns, 1) >= f->cfg.max_conns) {
            atomic_fetch_sub (&f->conns, 1);
#define BUSY_BODY "{\"success\":false,\"error\":{\"code\":\"overloaded\",\"message\":\"too many connections\"}}"
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s";
            char out[320];
            int n = snprintf (out, sizeof out, busy, sizeof BUSY_BODY - 1, BUSY_BODY);
            ssize_t w = send (fd, out, (size_t) n, MSG_NOSIGNAL);
            /*  What the client already sent, read, so the close is a FIN
             *  rather than a reset under the answer. */
            char sink[4096];
            shutdown (fd, SHUT_WR);
            w = recv (fd, sink, sizeof sink, MSG_DONTWAIT);
            (void) w;
            close (fd);
            continue;
        }
        fd = front_fd_high (f, fd);
        front_conn_t *c = (front_conn_t *) calloc (1, sizeof *c);
        if (!c) {
            atomic_fetch_sub (&f->conns, 1);
            close (fd);
            continue;
        }
        c->loop = l;
        c->fd = fd;
        c->up = -1;
        c->state = FRONT_HEAD;
        c->keep_alive = true;
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char text[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET)
            inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, text, sizeof text);
        else if (ss.ss_family == AF_INET6)
            inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, text, sizeof text);
        /*  As civetweb writes it: an IPv4 peer of a v6 socket as plain v4. */
        snprintf (c->peer, sizeof c->peer, "%s", strncmp (text, "::ffff:", 7) == 0 ? text + 7 : text);
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        c->deadline_ms = hsn_now_ms () + f->cfg.request_timeout_ms;
        if (front_watch (c, fd, TAG_CLIENT))
            front_conn_close (c);
    }
}

static void
sweep (front_loop_t *l, int64_t now)
{
    front_conn_t *c = l->conns;
    while (c) {
        front_conn_t *next = c->next;
        if (c->write_deadline_ms && now >= c->write_deadline_ms)
            front_conn_close (c);             /* takes nothing: see conn_run */
        else if (c->deadline_ms && now >= c->deadline_ms && c->state != FRONT_WAIT) {
            if (c->state == FRONT_HEAD && front_buf_avail (&c->in) && !front_buf_avail (&c->out)) {
                front_refuse (c, 408);
                c->wr_ready = true;     /* try once; closed after */
                front_conn_run (c);
            }
            else
                front_conn_close (c);
        }
        c = next;
    }
}

static void *
loop_main (void *arg)
{
    front_loop_t *l = (front_loop_t *) arg;
    gateway_front_t *f = l->front;
    l->tp = f->cfg.thread_start ? f->cfg.thread_start (f->cfg.arg) : NULL;
    int hook_fd = l->tp && f->cfg.thread_fd ? f->cfg.thread_fd (l->tp) : -1;
    if (hook_fd >= 0) {
        struct epoll_event hev = { EPOLLIN | EPOLLET, { .u64 = HOOK_TAG } };
        epoll_ctl (l->ep, EPOLL_CTL_ADD, hook_fd, &hev);
    }
    struct epoll_event evs[256];
    int64_t next_sweep = hsn_now_ms () + SWEEP_MS, stop_at = 0;
    bool again = false;
    for (;;) {
        if (atomic_load (&f->stop)) {
            int64_t now = hsn_now_ms ();
            if (!stop_at) {
                stop_at = now + 1000;
                epoll_ctl (l->ep, EPOLL_CTL_DEL, f->listen_fd, NULL);
            }
            bool busy = false;
            for (front_conn_t *c = l->conns; c; c = c->next)
                busy |= c->state == FRONT_PROXY || c->state == FRONT_WAIT
                        || front_buf_avail (&c->out);
            busy |= l->orphans != NULL;
            if (!busy || now >= stop_at)
                break;
        }
        int n = epoll_wait (l->ep, evs, 256, again ? 0 : SWEEP_MS);
        again = false;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == LISTEN_TAG) {
                if (!atomic_load (&f->stop))
                    accept_some (l);
                continue;
            }
            if (tag == FRONT_POOL_TAG || tag == HOOK_TAG)
                continue;               /* an idle upstream: checked when taken;
                                         * the hook's: polled below */
            if (tag == WAKE_TAG) {
                uint64_t v;
                ssize_t r = read (l->wake, &v, sizeof v);
                (void) r;
                continue;
            }
            front_conn_t *c = (front_conn_t *) (uintptr_t) (tag & ~(uint64_t) 3);
            if (c->fd < 0)
                continue;               /* closed earlier in this batch */
            uint32_t e = evs[i].events;
            bool err = e & (EPOLLERR | EPOLLHUP);
            if (tag & TAG_UP) {
                if (c->up < 0)
                    continue;           /* an event of an upstream already closed */
                c->up_rd_ready |= (e & (EPOLLIN | EPOLLRDHUP)) || err;
                c->up_wr_ready |= (e & EPOLLOUT) || err;
            }
            else {
                c->rd_ready |= (e & (EPOLLIN | EPOLLRDHUP)) || err;
                c->wr_ready |= (e & EPOLLOUT) || err;
            }
            front_conn_run (c);
        }
        again = front_run_posted (l);
        if (f->cfg.thread_poll && l->tp && f->cfg.thread_poll (f->cfg.arg, l->tp))
            again = true;
        again |= l->posted != NULL;
        front_free_dead (l);
        int64_t now = hsn_now_ms ();
        if (now >= next_sweep) {
            sweep (l, now);
            front_free_dead (l);
            front_pool_age (l, now);
            if (l->listen_paused_until && now >= l->listen_paused_until && !atomic_load (&f->stop)) {
                struct epoll_event lev = { EPOLLIN | EPOLLEXCLUSIVE, { .u64 = LISTEN_TAG } };
                epoll_ctl (l->ep, EPOLL_CTL_ADD, f->listen_fd, &lev);
                l->listen_paused_until = 0;
            }
            next_sweep = now + SWEEP_MS;
        }
    }
    /*  The hook first: it lets go of every pending answer, then every
     *  connection can go. */
    if (f->cfg.thread_stop)
        f->cfg.thread_stop (f->cfg.arg, l->tp);
    l->tp = NULL;
    while (l->conns) {
        l->conns->state = FRONT_CLOSING;
        front_conn_close (l->conns);
    }
    while (l->orphans) {
        front_conn_t *o = l->orphans;
        l->orphans = o->next;
        free (o);
    }
    front_free_dead (l);
    front_pool_drain (l);
    return NULL;
}

/*  --- life ------------------------------------------------------------ */

static int
listen_on (const char *addr, int port, int *bound)
{
    struct sockaddr_storage ss;
    memset (&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
    if (inet_pton (AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons ((uint16_t) port);
        len = sizeof *in4;
    }
    else if (inet_pton (AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        len = sizeof *in6;
    }
    else {
        errno = EINVAL;
        return -1;
    }
    int fd = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind (fd, (struct sockaddr *) &ss, len) || listen (fd, 1024)) {
        int e = errno;
        close (fd);
        errno = e;
        return -1;
    }
    len = sizeof ss;
    getsockname (fd, (struct sockaddr *) &ss, &len);
    *bound = ntohs (ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
    return fd;
}

gateway_front_t *
gateway_front_new (const gateway_front_config_t *cfg)
{
    gateway_front_t *self = (gateway_front_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->nloops = cfg->threads ? cfg->threads : 1;
    self->peer_header = strdup (cfg->peer_header);
    self->cfg.peer_header = self->peer_header;
    self->listen_fd = listen_on (cfg->addr, cfg->port, &self->port);
    self->loops = (front_loop_t *) calloc (self->nloops, sizeof *self->loops);
    if (self->listen_fd < 0 || !self->loops || !self->peer_header) {
        gateway_front_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->nloops; i++) {
        front_loop_t *l = &self->loops[i];
        l->front = self;
        /*  An idle kept connection holds a civetweb thread in its
         *  keep-alive wait: keep at most a quarter of them idle. */
        uint32_t share = cfg->upstream_threads / 4 / self->nloops;
        l->pool_max = share < 1 ? 1 : share > FRONT_POOL_MAX ? FRONT_POOL_MAX : (int) share;
        gateway_json_buf_init (&l->body);
        gateway_json_buf_init (&l->out);
        l->scratch = (char *) malloc ((size_t) cfg->max_head + 1);
        if (!l->scratch) {
            gateway_front_destroy (&self);
            return NULL;
        }
        l->ep = epoll_create1 (EPOLL_CLOEXEC);
        l->wake = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = { EPOLLIN | EPOLLEXCLUSIVE, { .u64 = LISTEN_TAG } };
        struct epoll_event wev = { EPOLLIN, { .u64 = WAKE_TAG } };
        if (l->ep < 0 || l->wake < 0
            || epoll_ctl (l->ep, EPOLL_CTL_ADD, self->listen_fd, &ev)
            || epoll_ctl (l->ep, EPOLL_CTL_ADD, l->wake, &wev)
            || pthread_create (&l->thread, NULL, loop_main, l)) {
            gateway_front_destroy (&self);
            return NULL;
        }
        l->started = true;
    }
    return self;
}

void
gateway_front_destroy (gateway_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_front_t *self = *self_p;
    atomic_store (&self->stop, true);
    for (uint32_t i = 0; self->loops && i < self->nloops; i++) {
        front_loop_t *l = &self->loops[i];
        if (l->started) {
            uint64_t one = 1;
            ssize_t r = write (l->wake, &one, sizeof one);
            (void) r;
            pthread_join (l->thread, NULL);
        }
        if (l->ep > 0)
            close (l->ep);
        if (l->wake > 0)
            close (l->wake);
        gateway_json_buf_free (&l->body);
        gateway_json_buf_free (&l->out);
        free (l->scratch);
    }
    if (self->listen_fd >= 0)
        close (self->listen_fd);
    free (self->loops);
    free (self->peer_header);
    free (self);
    *self_p = NULL;
}

int
gateway_front_port (const gateway_front_t *self)
{
    return self->port;
}

uint32_t
gateway_front_conns (const gateway_front_t *self)
{
    return atomic_load (&self->conns);
}
