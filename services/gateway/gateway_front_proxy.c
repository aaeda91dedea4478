/*  gateway_front_proxy: a request the front does not answer itself goes to
 *  civetweb on loopback. See gateway_front.h.
 *
 *  One upstream connection a request, asked to close after its answer: the
 *  answer then ends where that connection ends, so the front never needs to
 *  understand its framing (streams and long-polls included), only whether
 *  the client may send another request after it (a length was given, and
 *  nobody asked to close).
 */
#include "gateway_front_int.h"
#include "hsn_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/*  The largest upstream head (with interim 1xx heads) held while it
 *  arrives; civetweb's and the gateway's are far smaller. */
#define RESP_HEAD_MAX 65536

void
front_pool_drain (front_loop_t *l)
{
    while (l->npool)
        close (l->pool[--l->npool]);
}

void
front_pool_age (front_loop_t *l, int64_t now)
{
    /*  A stack: the oldest at the bottom. */
    int64_t max_idle = l->front->cfg.keepalive_ms / 2;
    int old = 0;
    while (old < l->npool && now - l->pool_at[old] >= max_idle)
        close (l->pool[old++]);
    if (old) {
        memmove (l->pool, l->pool + old, (size_t) (l->npool - old) * sizeof l->pool[0]);
        memmove (l->pool_at, l->pool_at + old, (size_t) (l->npool - old) * sizeof l->pool_at[0]);
        l->npool -= old;
    }
}

/*  A live idle upstream from the pool, or -1. */
static int
pool_take (front_loop_t *l)
{
    int64_t now = hsn_now_ms (), max_idle = l->front->cfg.keepalive_ms / 2;
    while (l->npool) {
        l->npool--;
        int fd = l->pool[l->npool];
        char b;
        if (now - l->pool_at[l->npool] < max_idle
            && recv (fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0
            && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fd;                  /* nothing to read, not closed */
        close (fd);
    }
    return -1;
}

/*  Give c's upstream, its answer complete, to the pool. */
static void
pool_put (front_conn_t *c)
{
    front_loop_t *l = c->loop;
    struct epoll_event ev = { EPOLLRDHUP | EPOLLET, { .u64 = FRONT_POOL_TAG } };
    if (l->npool < l->pool_max && epoll_ctl (l->ep, EPOLL_CTL_MOD, c->up, &ev) == 0) {
        l->pool[l->npool] = c->up;
        l->pool_at[l->npool++] = hsn_now_ms ();
        c->up = -1;
    }
    front_proxy_close (c);
}

void
front_proxy_close (front_conn_t *c)
{
    if (c->up >= 0)
        close (c->up);                  /* leaves the epoll set with it */
    c->up = -1;
    c->up_rd_ready = c->up_wr_ready = c->up_connected = c->up_shut = false;
    front_buf_free (&c->up_out);
    front_buf_free (&c->resp);
}

/*  Hop-by-hop fields stay with this hop (Expect too: the front answered
 *  it); the X-Hsn- fields are the front's to write (a client's copy would
 *  be a forgery). */
static bool
hop_field (const char *name)
{
    static const char *const hop[] = { "Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                       "Upgrade", "Expect", "X-Hsn-Peer", "X-Hsn-Admitted",
                                       NULL };
    for (int i = 0; hop[i]; i++)
        if (strcasecmp (name, hop[i]) == 0)
            return true;
    return false;
}

static int
put (front_buf_t *b, const char *s)
{
    return front_buf_append (b, s, strlen (s));
}

int
front_proxy_start (front_conn_t *c, const front_head_t *h, const char *extra)
{
    gateway_front_t *f = c->loop->front;
    c->resp_started = c->resp_framed = c->resp_close = false;
    c->up_reuse = !c->head_req;
    for (const char *const *p = f->cfg.close_paths; p && *p && c->up_reuse; p++)
        if (strcmp (h->method, "GET") == 0 && strncmp (h->path, *p, strlen (*p)) == 0)
            c->up_reuse = false;
    c->resp_left = -1;
    int fd = c->up_reuse ? pool_take (c->loop) : -1;
    if (fd >= 0) {
        struct epoll_event ev = { EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                  { .u64 = (uint64_t) (uintptr_t) c | 1 } };
        if (epoll_ctl (c->loop->ep, EPOLL_CTL_MOD, fd, &ev)) {
            close (fd);
            fd = -1;
        }
        else {
            c->up = fd;
            c->up_connected = c->up_wr_ready = true;
            c->up_rd_ready = c->up_shut = false;
        }
    }
    if (fd < 0) {
        fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        fd = front_fd_high (f, fd);
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in a;
        memset (&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons ((uint16_t) f->cfg.upstream_port);
        a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = connect (fd, (struct sockaddr *) &a, sizeof a);
        if (rc && errno != EINPROGRESS) {
            close (fd);
            goto fail;
        }
        c->up = fd;
        c->up_connected = rc == 0;
        c->up_rd_ready = c->up_wr_ready = c->up_shut = false;
        if (front_watch (c, fd, 1)) {
            front_proxy_close (c);
            goto fail;
        }
    }
    front_buf_t *b = &c->up_out;
    char line[64];
    int bad = put (b, h->method) || put (b, " ") || put (b, h->path);
    if (h->query)
        bad |= put (b, "?") || put (b, h->query);
    snprintf (line, sizeof line, " HTTP/1.%d\r\n", h->minor);
    bad |= put (b, line);
    for (int i = 0; i < h->nfields; i++)
        if (!hop_field (h->name[i]))
            bad |= put (b, h->name[i]) || put (b, ": ") || put (b, h->value[i]) || put (b, "\r\n");
    if (extra && *extra)
        bad |= put (b, extra);
    bad |= put (b, f->cfg.peer_header) || put (b, c->peer)
           || put (b, c->up_reuse ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
    if (bad) {
        front_proxy_close (c);
        goto fail;
    }
    c->state = FRONT_PROXY;
    return 0;
fail:
    c->keep_alive = false;
    front_error (c, 502, "unavailable", "the gateway's request handler cannot be reached");
    return -1;
}

/*  Offset past the end of the head at buf[0, len), or 0. */
static size_t
resp_head_end (const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == '\n'
            && (buf[i + 1] == '\n' || (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')))
            return i + (buf[i + 1] == '\n' ? 2 : 3);
    return 0;
}

/*  A field of the head at buf[0, len): its value starts after "Name:". */
static const char *
resp_field (const char *buf, size_t len, const char *name)
{
    size_t n = strlen (name);
    for (const char *p = buf; p && p < buf + len; ) {
        const char *lf = memchr (p, '\n', (size_t) (buf + len - p));
        if (!lf)
            return NULL;
        p = lf + 1;
        if ((size_t) (buf + len - p) > n && strncasecmp (p, name, n) == 0 && p[n] == ':')
            return p + n + 1;
    }
    return NULL;
}

/*  The upstream's head has arrived (whole, in c->resp): pass 1xx heads on,
 *  note the final head's framing, then relay as it comes. Returns 0, 1
 *  when the client's socket was handed off, or -1 when the head is
 *  unusable. */
static int
resp_head (front_conn_t *c)
{
    for (;;) {
        const char *buf = c->resp.data + c->resp.off;
        size_t len = front_buf_avail (&c->resp);
        size_t end = resp_head_end (buf, len);
        if (!end)
            return len > RESP_HEAD_MAX ? -1 : 0;
        /*  "HTTP/1.x NNN": three digits, by hand (buf is no C string). */
        if (end < 12 || strncmp (buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
            return -1;
        int status = 0;
        for (int d = 9; d < 12; d++) {
            if (buf[d] < '0' || buf[d] > '9')
                return -1;
            status = status * 10 + (buf[d] - '0');
        }
        if (status < 100)
            return -1;
        if (status < 200) {             /* 100 Continue: the client waits for it */
            if (front_buf_append (&c->out, buf, end))
                return -1;
            front_buf_consume (&c->resp, end);
            continue;
        }
        /*  The client's socket itself is asked for (a long-poll or
         *  stream for the hub): give it, then this connection is done. */
        if (c->loop->front->cfg.handoff && resp_field (buf, end, "X-Hsn-Handoff")) {
            gateway_front_t *f = c->loop->front;
            int fd = c->fd;
            epoll_ctl (c->loop->ep, EPOLL_CTL_DEL, fd, NULL);
            c->fd = -1;
            c->handed = true;
            c->state = FRONT_CLOSING;
            f->cfg.handoff (f->cfg.arg, fd, buf, end);
            front_buf_free (&c->resp);
            return 1;
        }
        const char *conn = resp_field (buf, end, "Connection");
        c->resp_close = conn && strncasecmp (conn + strspn (conn, " \t"), "close", 5) == 0;
        const char *cl = resp_field (buf, end, "Content-Length");
        bool te = resp_field (buf, end, "Transfer-Encoding") != NULL;
        if (status == 204 || status == 304 || c->head_req)
            c->resp_left = 0;
        else if (cl && !te)
            c->resp_left = strtoll (cl + strspn (cl, " \t"), NULL, 10);
        else
            c->resp_left = -1;
        if (c->resp_left < -1)
            return -1;
        c->resp_framed = c->resp_left >= 0;
        /*  The head, and what came of the body with it. */
        size_t more = len - end;
        if (c->resp_left >= 0 && (int64_t) more > c->resp_left) {
            more = (size_t) c->resp_left;   /* bytes past the answer: no reuse */
            c->up_reuse = false;
        }
        if (front_buf_append (&c->out, buf, end + more))
            return -1;
        if (c->resp_left >= 0)
            c->resp_left -= (int64_t) more;
        front_buf_free (&c->resp);
        c->resp_started = true;
        return 0;
    }
}

/*  The upstream is done: closed or failed (closed true), or its answer
 *  complete by its length. */
static void
finish (front_conn_t *c, bool closed)
{
    bool answered = c->resp_started;
    /*  Reusable: a whole answer by its length, the whole request sent, and
     *  nobody asked to close. */
    if (!closed && c->up_reuse && !c->resp_close && !c->body_left
        && !front_buf_avail (&c->up_out) && !c->up_shut)
        pool_put (c);
    else
        front_proxy_close (c);
    if (!answered) {
        c->keep_alive = false;
        front_error (c, 502, "unavailable", "the gateway's request handler gave no answer");
        c->state = FRONT_CLOSING;
        return;
    }
    /*  Without a length the answer ended with the connection: the client's
     *  must end too. A body not wholly forwarded would be read as requests. */
    if (!c->resp_framed || c->resp_close || c->body_left || !c->keep_alive)
        c->state = FRONT_CLOSING;
    else
        c->state = FRONT_HEAD;
}

bool
front_proxy_step (front_conn_t *c)
{
    bool progress = false;
    if (c->up < 0)
        return false;
    if (!c->up_connected && c->up_wr_ready) {
        int err = 0;
        socklen_t el = sizeof err;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockopt (c->up, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
            finish (c, true);
            return true;
        }
        if (getpeername (c->up, (struct sockaddr *) &ss, &sl) == 0)
            c->up_connected = true;
        else
            c->up_wr_ready = false;     /* a stale event: still connecting */
    }
    /*  The request body, as it arrives, to the upstream. */
    size_t take = front_buf_avail (&c->in);
    if (c->body_left && take && front_buf_avail (&c->up_out) < 65536) {
        if (take > c->body_left)
            take = (size_t) c->body_left;
        if (front_buf_append (&c->up_out, c->in.data + c->in.off, take) == 0) {
            front_buf_consume (&c->in, take);
            c->body_left -= take;
            progress = true;
        }
    }
    while (c->up_connected && c->up_wr_ready && front_buf_avail (&c->up_out)) {
        ssize_t n = send (c->up, c->up_out.data + c->up_out.off, front_buf_avail (&c->up_out),
                          MSG_NOSIGNAL);
        if (n > 0) {
            front_buf_consume (&c->up_out, (size_t) n);
            progress = true;
        }
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            c->up_wr_ready = false;
        else if (n < 0 && errno == EINTR)
            continue;
        else {
            /*  The handler stopped reading (an early answer, e.g. 413):
             *  read what it said; the rest of the body is dropped, and the
             *  connection with it. */
            front_buf_free (&c->up_out);
            c->keep_alive = false;
            c->up_wr_ready = false;
            c->up_rd_ready = true;
            break;
        }
    }
    /*  A client that half-closed after its request: tell the upstream (a
     *  stream held by the hub ends on it). */
    if (c->eof && !c->body_left && !front_buf_avail (&c->up_out) && c->up_connected
        && !c->up_shut) {
        shutdown (c->up, SHUT_WR);
        c->up_shut = true;
        progress = true;
    }
    while (c->up_rd_ready && front_buf_avail (&c->out) < FRONT_OUT_HIGH) {
        front_buf_t *into = c->resp_started ? &c->out : &c->resp;
        if (front_buf_reserve (into, 16384)) {
            c->keep_alive = false;
            finish (c, true);
            return true;
        }
        size_t want = into->cap - into->len;
        if (c->resp_started && c->resp_left >= 0 && (int64_t) want > c->resp_left)
            want = (size_t) c->resp_left;
        ssize_t n = want ? recv (c->up, into->data + into->len, want, 0) : 0;
        if (n > 0) {
            into->len += (size_t) n;
            progress = true;
            if (c->resp_started && c->resp_left >= 0)
                c->resp_left -= n;
            else if (!c->resp_started) {
                int hr = resp_head (c);
                if (hr == 1)
                    return true;        /* handed off: conn_run closes the rest */
                if (hr) {
                    c->keep_alive = false;
                    front_buf_free (&c->resp);
                    finish (c, true);
                    return true;
                }
            }
            if (c->resp_started && c->resp_left == 0) {
                finish (c, false);      /* the whole answer, by its length */
                return true;
            }
        }
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (n < 0)
                c->keep_alive = false;
            finish (c, true);
            return true;
        }
        else if (errno != EINTR)
            c->up_rd_ready = false;
    }
    return progress;
}
