/*  gateway_front: see gateway_front.h.
 *
 *  Sockets are edge-triggered: a ready flag per direction is set by an
 *  event and cleared by EAGAIN, and conn_run moves bytes until nothing more
 *  can move (nginx's scheme), so a connection whose buffer was full is
 *  picked up again when it drains, without another event.
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

#define TAG_CLIENT 0
#define TAG_UP 1
#define LISTEN_TAG ((uint64_t) 2)
#define WAKE_TAG ((uint64_t) 3)
#define HOOK_TAG ((uint64_t) 5)
#define SWEEP_MS 100

static void post (front_conn_t *c);
static void unpost (front_conn_t *c);

/*  --- buffers -------------------------------------------------------- */

int
front_buf_reserve (front_buf_t *b, size_t more)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + more <= b->cap)
        return 0;
    if (b->off) {                       /* slide what is left to the front */
        memmove (b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + more <= b->cap)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *d = (char *) realloc (b->data, cap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int
front_buf_append (front_buf_t *b, const void *data, size_t n)
{
    if (front_buf_reserve (b, n))
        return -ENOMEM;
    memcpy (b->data + b->len, data, n);
    b->len += n;
    return 0;
}

void
front_buf_consume (front_buf_t *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void
front_buf_free (front_buf_t *b)
{
    free (b->data);
    memset (b, 0, sizeof *b);
}

/*  --- sockets -------------------------------------------------------- */

int
front_fd_high (const gateway_front_t *f, int fd)
{
    if (f->cfg.fd_base <= 0 || fd >= f->cfg.fd_base)
        return fd;
    int high = fcntl (fd, F_DUPFD_CLOEXEC, f->cfg.fd_base);
    if (high < 0)
        return fd;                      /* out of high numbers: keep it */
    close (fd);
    return high;
}

int
front_watch (front_conn_t *c, int fd, int tag)
{
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (uint64_t) (uintptr_t) c | (uint64_t) tag;
    return epoll_ctl (c->loop->ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/*  Closed now, freed after the current batch of events (a later event of
 *  the batch may still name it: it sees fd -1 and is skipped). One whose
 *  answer is pending stays until the hook is done with it (an orphan). */
static void
conn_close (front_conn_t *c)
{
    front_loop_t *l = c->loop;
    unpost (c);
    front_proxy_close (c);
    close (c->fd);                      /* leaves the epoll set with it */
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    front_buf_free (&c->in);
    front_buf_free (&c->out);
    front_buf_free (&c->up_out);
    front_buf_free (&c->resp);
    atomic_fetch_sub (&l->front->conns, 1);
    c->prev = NULL;
    if (c->state == FRONT_WAIT) {
        c->orphan = true;
        c->next = l->orphans;
        if (l->orphans)
            l->orphans->prev = c;
        l->orphans = c;
        return;
    }
    c->next = l->dead;
    l->dead = c;
}

static void
free_dead (front_loop_t *l)
{
    while (l->dead) {
        front_conn_t *c = l->dead;
        l->dead = c->next;
        free (c);
    }
}

/*  --- answers of the front itself -------------------------------------- */

typedef struct {
    front_conn_t *c;
    const front_head_t *h;
} io_ctx_t;

static const char *
io_header (void *ctx, const char *name)
{
    io_ctx_t *x = (io_ctx_t *) ctx;
    return x->h ? front_field (x->h, name) : NULL;
}

static void
io_write (void *ctx, const void *data, size_t len)
{
    io_ctx_t *x = (io_ctx_t *) ctx;
    if (front_buf_append (&x->c->out, data, len))
        x->c->keep_alive = false;       /* cut short: the client must not wait */
}

void
front_error (front_conn_t *c, int status, const char *code, const char *message)
{
    io_ctx_t x = { c, NULL };
    gateway_io_t io = { io_header, io_write, &x };
    gateway_req_t req;
    gateway_req_init_io (&req, &io, false, &c->loop->body, &c->loop->out, NULL);
    if (!c->keep_alive)
        gateway_req_header (&req, "Connection: close");
    gateway_reply_error (&req, status, code, message);
}

/*  A head the front will not take: answer, then close (what follows it in
 *  the stream cannot be trusted to start a request). */
static void
refuse (front_conn_t *c, int status)
{
    c->keep_alive = false;
    switch (status) {
        case 408: front_error (c, 408, "timeout", "the request did not arrive in time"); break;
        case 411: front_error (c, 411, "length_required",
                               "a request body needs Content-Length (chunked bodies are not taken)");
                  break;
        case 431: front_error (c, 431, "too_large", "the request line and header fields are too large");
                  break;
        case 505: front_error (c, 505, "http_version", "only HTTP/1.0 and HTTP/1.1 are served"); break;
        default:  front_error (c, 400, "bad_request", "malformed HTTP request"); break;
    }
    c->state = FRONT_CLOSING;
}

/*  --- requests ------------------------------------------------------- */

/*  Try to start the request at the head of c->in. Returns true on
 *  progress (answered, forwarded or refused). */
static bool
request (front_conn_t *c)
{
    gateway_front_t *f = c->loop->front;
    size_t avail = front_buf_avail (&c->in);
    if (!avail)
        return false;
    /*  The parse writes NULs: on "not complete yet" the bytes are parsed
     *  again from a fresh copy next time, so parse a scratch copy. */
    size_t look = avail < f->cfg.max_head ? avail : f->cfg.max_head;
    char *scratch = c->loop->scratch;
    memcpy (scratch, c->in.data + c->in.off, look);
    scratch[look] = 0;
    front_head_t h;
    int rc = front_parse (scratch, look, f->cfg.max_head, &h);
    if (rc == 0) {
        if (!c->deadline_ms || c->deadline_ms > hsn_now_ms () + f->cfg.request_timeout_ms)
            c->deadline_ms = hsn_now_ms () + f->cfg.request_timeout_ms;
        return false;
    }
    if (rc < 0) {
        refuse (c, -rc);
        return true;
    }
    if (h.transfer_encoding) {
        refuse (c, 411);
        return true;
    }
    c->keep_alive = h.minor == 1 ? !h.conn_close : h.conn_keep_alive && !h.conn_close;
    uint64_t body = h.content_length > 0 ? (uint64_t) h.content_length : 0;
    if (body > f->cfg.max_body) {
        /*  Refused before it is read: civetweb would read and drop it. */
        c->keep_alive = false;
        front_error (c, 413, "too_large", "request body exceeds the limit");
        c->state = FRONT_CLOSING;
        return true;
    }
    /*  The hook sees keep-alive HTTP/1.1 requests with their whole body:
     *  its answers carry no Connection field. */
    bool inline_ok = f->cfg.serve && h.minor == 1 && c->keep_alive && body <= FRONT_INLINE_BODY;
    /*  The client waits for a 100 before it sends the body: the front,
     *  which reads it, says so (and the upstream never sees Expect). */
    bool sent_continue = false;
    if (h.expect_continue && body && avail < h.head_len + body && !c->continued && h.minor == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (front_buf_append (&c->out, cont, sizeof cont - 1) == 0)
            c->continued = sent_continue = true;
    }
    if (inline_ok && avail < h.head_len + body) {
        if (front_buf_reserve (&c->in, h.head_len + body - avail))
            inline_ok = false;
        else {
            int64_t by = hsn_now_ms () + f->cfg.request_timeout_ms;
            if (!c->deadline_ms || c->deadline_ms > by)
                c->deadline_ms = by;
            return sent_continue;       /* wait for the rest of the body */
        }
    }
    if (inline_ok) {
        io_ctx_t x = { c, &h };
        gateway_front_req_t r = { h.method, h.path, h.query, c->peer,
                                  c->in.data + c->in.off + h.head_len, (size_t) body,
                                  { io_header, io_write, &x }, c };
        gateway_front_rc_t src = f->cfg.serve (f->cfg.arg, c->loop->tp, &r);
        if (src != GATEWAY_FRONT_PASS) {
            front_buf_consume (&c->in, h.head_len + body);
            c->continued = false;
            c->deadline_ms = 0;
            if (src == GATEWAY_FRONT_PENDING)
                c->state = FRONT_WAIT;
            else if (!c->keep_alive)
                c->state = FRONT_CLOSING;
            return true;
        }
    }
    c->head_req = strcmp (h.method, "HEAD") == 0;
    front_buf_consume (&c->in, h.head_len);
    c->continued = false;
    c->body_left = body;
    c->deadline_ms = 0;
    if (front_proxy_start (c, &h))
        c->state = FRONT_CLOSING;
    return true;
}

/*  Move everything that can move. Returns false when c was closed. */
static bool
conn_run (front_conn_t *c)
{
    gateway_front_t *f = c->loop->front;
    for (int round = 0; round < 256; round++) {
        bool progress = false;
        while (front_buf_avail (&c->out) && c->wr_ready) {
            ssize_t n = send (c->fd, c->out.data + c->out.off, front_buf_avail (&c->out),
                              MSG_NOSIGNAL);
            if (n > 0) {
                front_buf_consume (&c->out, (size_t) n);
                c->write_deadline_ms = 0;
                progress = true;
            }
            else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                c->wr_ready = false;
            else if (n < 0 && errno == EINTR)
                continue;
            else {
                conn_close (c);
                return false;
            }
        }
        bool flushed = front_buf_avail (&c->out) == 0;
        if (c->state == FRONT_CLOSING && flushed) {
            /*  Lingering close, as nginx: FIN first, then read and drop
             *  what the client still sends, so a close with unread bytes
             *  does not reset the connection under the answer. */
            if (!c->lingering) {
                front_proxy_close (c);
                shutdown (c->fd, SHUT_WR);
                c->lingering = true;
                c->deadline_ms = hsn_now_ms () + 2000;
            }
            char sink[4096];
            while (c->rd_ready && !c->eof) {
                ssize_t n = recv (c->fd, sink, sizeof sink, 0);
                if (n == 0)
                    c->eof = true;
                else if (n < 0 && errno != EINTR) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        c->rd_ready = false;
                    else
                        c->eof = true;
                }
            }
            if (c->eof) {
                conn_close (c);
                return false;
            }
            return true;
        }
        if (c->state == FRONT_PROXY && front_proxy_step (c))
            progress = true;
        /*  Read while there is room: the head limit plus an inline body
         *  (pipelined requests wait here while one is answered). */
        size_t room = (size_t) f->cfg.max_head + FRONT_INLINE_BODY;
        if (c->state == FRONT_PROXY && c->body_left)
            room = 65536;
        while (c->rd_ready && !c->eof && c->state != FRONT_CLOSING
               && front_buf_avail (&c->in) < room) {
            if (front_buf_reserve (&c->in, 16384)) {
                conn_close (c);
                return false;
            }
            ssize_t n = recv (c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
            if (n > 0) {
                c->in.len += (size_t) n;
                progress = true;
            }
            else if (n == 0) {
                c->eof = true;
                progress = true;
            }
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                c->rd_ready = false;
            else if (errno != EINTR) {
                conn_close (c);
                return false;
            }
        }
        if (c->state == FRONT_HEAD && flushed && request (c))
            progress = true;
        if (c->state == FRONT_HEAD && c->eof && front_buf_avail (&c->out) == 0
            && !progress) {
            conn_close (c);             /* the client is done */
            return false;
        }
        if (!progress)
            break;
        if (round == 255)
            post (c);                   /* more to do: next pass, others first */
    }
    int64_t now = hsn_now_ms ();
    if (c->state == FRONT_HEAD && !front_buf_avail (&c->in) && !front_buf_avail (&c->out))
        c->deadline_ms = now + f->cfg.keepalive_ms;          /* idle */
    /*  A reader that takes nothing for a request timeout is closed, in any
     *  state (a relayed answer too: nginx's send_timeout). */
    if (front_buf_avail (&c->out) && !c->wr_ready && !c->write_deadline_ms)
        c->write_deadline_ms = now + f->cfg.request_timeout_ms;
    return true;
}

/*  Run c again on the loop's next pass (it stopped with work left, so no
 *  event may come for it). */
static void
post (front_conn_t *c)
{
    if (c->posted)
        return;
    c->posted = true;
    c->post_next = c->loop->posted;
    c->loop->posted = c;
}

static void
unpost (front_conn_t *c)
{
    if (!c->posted)
        return;
    for (front_conn_t **p = &c->loop->posted; *p; p = &(*p)->post_next)
        if (*p == c) {
            *p = c->post_next;
            break;
        }
    c->posted = false;
}

/*  The connections posted: run each once. Returns whether any is posted
 *  again. */
static bool
run_posted (front_loop_t *l)
{
    front_conn_t *list = l->posted;
    l->posted = NULL;
    while (list) {
        front_conn_t *c = list;
        list = c->post_next;
        c->posted = false;
        if (c->fd >= 0)
            conn_run (c);
    }
    return l->posted != NULL;
}

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
            conn_close (c);
    }
}

static void
sweep (front_loop_t *l, int64_t now)
{
    front_conn_t *c = l->conns;
    while (c) {
        front_conn_t *next = c->next;
        if (c->write_deadline_ms && now >= c->write_deadline_ms)
            conn_close (c);             /* takes nothing: see conn_run */
        else if (c->deadline_ms && now >= c->deadline_ms && c->state != FRONT_WAIT) {
            if (c->state == FRONT_HEAD && front_buf_avail (&c->in) && !front_buf_avail (&c->out)) {
                refuse (c, 408);
                c->wr_ready = true;     /* try once; closed after */
                conn_run (c);
            }
            else
                conn_close (c);
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
            conn_run (c);
        }
        again = run_posted (l);
        if (f->cfg.thread_poll && l->tp && f->cfg.thread_poll (f->cfg.arg, l->tp))
            again = true;
        again |= l->posted != NULL;
        free_dead (l);
        int64_t now = hsn_now_ms ();
        if (now >= next_sweep) {
            sweep (l, now);
            free_dead (l);
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
        conn_close (l->conns);
    }
    while (l->orphans) {
        front_conn_t *o = l->orphans;
        l->orphans = o->next;
        free (o);
    }
    free_dead (l);
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

void
gateway_front_write (void *handle, const void *data, size_t len)
{
    front_conn_t *c = (front_conn_t *) handle;
    if (!c->orphan && front_buf_append (&c->out, data, len))
        c->keep_alive = false;
}

void
gateway_front_done (void *handle)
{
    front_conn_t *c = (front_conn_t *) handle;
    front_loop_t *l = c->loop;
    if (c->orphan) {
        if (c->prev)
            c->prev->next = c->next;
        else
            l->orphans = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free (c);
        return;
    }
    c->state = c->keep_alive ? FRONT_HEAD : FRONT_CLOSING;
    c->wr_ready = true;                 /* try: EAGAIN says otherwise */
    conn_run (c);
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
