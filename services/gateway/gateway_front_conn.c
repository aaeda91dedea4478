/*  gateway_front_conn: a connection of the front: its buffers, its
 *  requests, and conn_run, which moves its bytes. See gateway_front.h.
 *
 *  Sockets are edge-triggered: a ready flag per direction is set by an
 *  event and cleared by EAGAIN, and conn_run moves bytes until nothing more
 *  can move (nginx's scheme), so a connection whose buffer was full is
 *  picked up again when it drains, without another event.
 */
#include "gateway_front_int.h"
#include "hsn_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
void
front_conn_close (front_conn_t *c)
{
    front_loop_t *l = c->loop;
    unpost (c);
    front_proxy_close (c);
    if (c->fd >= 0)                     /* -1: handed off, no longer ours */
        close (c->fd);                  /* leaves the epoll set with it */
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

void
front_free_dead (front_loop_t *l)
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
void
front_refuse (front_conn_t *c, int status)
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
        front_refuse (c, -rc);
        return true;
    }
    if (h.transfer_encoding) {
        front_refuse (c, 411);
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
    char relay[GATEWAY_FRONT_RELAY_MAX] = "";
    if (inline_ok) {
        io_ctx_t x = { c, &h };
        gateway_front_req_t r = { h.method, h.path, h.query, c->peer,
                                  c->in.data + c->in.off + h.head_len, (size_t) body,
                                  { io_header, io_write, &x }, c, relay };
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
    if (front_proxy_start (c, &h, relay))
        c->state = FRONT_CLOSING;
    return true;
}

/*  Move everything that can move. Returns false when c was closed. */
bool
front_conn_run (front_conn_t *c)
{
    gateway_front_t *f = c->loop->front;
    for (int round = 0; round < 256; round++) {
        if (c->handed) {                /* its socket has a new owner */
            front_conn_close (c);
            return false;
        }
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
                front_conn_close (c);
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
                front_conn_close (c);
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
                front_conn_close (c);
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
                front_conn_close (c);
                return false;
            }
        }
        if (c->state == FRONT_HEAD && flushed && request (c))
            progress = true;
        if (c->state == FRONT_HEAD && c->eof && front_buf_avail (&c->out) == 0
            && !progress) {
            front_conn_close (c);             /* the client is done */
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
bool
front_run_posted (front_loop_t *l)
{
    front_conn_t *list = l->posted;
    l->posted = NULL;
    while (list) {
        front_conn_t *c = list;
        list = c->post_next;
        c->posted = false;
        if (c->fd >= 0)
            front_conn_run (c);
    }
    return l->posted != NULL;
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
    front_conn_run (c);
}
