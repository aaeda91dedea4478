/*  gateway_hub_client: one client socket of the hub. See gateway_hub_int.h. */
#include "gateway_hub_int.h"
#include "gateway_sse.h"
#include "hsn_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/*  A client may send bytes after its request (a pipelined request, junk);
 *  they are read and dropped, up to this much, then it is closed. */
#define MAX_DISCARD (64 * 1024)

static int
set_events (gateway_hub_t *self, hub_client_t *c, bool out)
{
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl (self->epfd, EPOLL_CTL_MOD, c->fd, &ev))
        return -errno;
    c->want_out = out;
    return 0;
}

int
hub_client_open (gateway_hub_t *self, hub_client_t *c)
{
    int flags = fcntl (c->fd, F_GETFL);
    if (flags < 0 || fcntl (c->fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, c->fd, &ev))
        return -errno;
    if (c->kind == GATEWAY_HUB_STREAM) {
        gateway_sse_head (&c->out, c->request_id, c->headers);
        c->keepalive_ms = hsn_now_ms () + self->cfg.keepalive_ms;
    }
    return 0;
}

void
hub_client_close (gateway_hub_t *self, hub_client_t *c, uint64_t *why)
{
    hub_agent_t *a = c->agent;
    if (a) {
        if (c->prev)
            c->prev->next = c->next;
        else
            a->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            a->tail = c->prev;
        a->nclients--;
        /*  A receive out for c: its messages go to another ready client,
         *  as many as that one takes (see taker in gateway_hub_agent.c);
         *  the rest stay pending in the bus until redelivered. */
        if (a->inflight_for == c)
            a->inflight_for = NULL;
    }
    epoll_ctl (self->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    gateway_json_buf_free (&c->out);
    free (c->headers);
    free (c);
    __atomic_fetch_sub (&self->reserved, 1, __ATOMIC_RELAXED);
    hsn_gauge_add (self->m_clients, -1);
    if (why)
        hsn_counter_add (why, 1);
    if (a)
        hub_agent_release (self, a);
}

int
hub_client_flush (gateway_hub_t *self, hub_client_t *c)
{
    while (c->sent < c->out.len) {
        ssize_t n = send (c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t) n;
            c->written += (uint64_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out && set_events (self, c, true)) {
                hub_client_close (self, c, self->m_gone);
                return -1;
            }
            return 0;
        }
        hub_client_close (self, c, self->m_gone);
        return -1;
    }
    gateway_json_buf_reset (&c->out);
    c->sent = 0;
    if (c->kind == GATEWAY_HUB_LONGPOLL && c->answered) {
        /*  Our FIN after the response; close () alone could turn into a
         *  reset that destroys the response in flight if the client still
         *  sends. */
        shutdown (c->fd, SHUT_WR);
        hub_client_close (self, c, NULL);
        return -1;
    }
    if (c->want_out && set_events (self, c, false)) {
        hub_client_close (self, c, self->m_gone);
        return -1;
    }
    /*  A stream that could not take more: now it can. */
    if (c->kind == GATEWAY_HUB_STREAM && c->agent && c->agent->dirty)
        hub_agent_receive (self, c->agent);
    return 0;
}

int
hub_client_readable (gateway_hub_t *self, hub_client_t *c)
{
    char buf[4096];
    while (true) {
        ssize_t n = recv (c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            c->discarded += (size_t) n;
            if (c->discarded > MAX_DISCARD) {
                hub_client_close (self, c, self->m_gone);
                return -1;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        hub_client_close (self, c, self->m_gone);      /* EOF: the client left */
        return -1;
    }
}

int
hub_client_answer (gateway_hub_t *self, hub_client_t *c, int status, const char *data_json,
                   size_t data_len, const char *code, const char *message)
{
    gateway_sse_response (&c->out, status, c->request_id, c->headers, c->started_us,
                          data_json, data_len, code, message);
    c->answered = true;
    /*  It has this long to take its answer. */
    c->keepalive_ms = hsn_now_ms () + self->cfg.keepalive_ms;
    hsn_hist_record (self->m_longpoll, (uint64_t) (hsn_now_us () - c->started_us));
    return hub_client_flush (self, c);
}

int
hub_client_tick (gateway_hub_t *self, hub_client_t *c, int64_t now)
{
    c->keepalive_ms = now + self->cfg.keepalive_ms;
    if (c->sent < c->out.len) {
        /*  Holding data a whole period without taking a byte: too slow. */
        if (c->written == c->written_at_tick) {
            hub_client_close (self, c, self->m_slow);
            return -1;
        }
        c->written_at_tick = c->written;
        return 0;
    }
    c->written_at_tick = c->written;
    gateway_json_buf_append (&c->out, ": keepalive\n\n", 13);
    return hub_client_flush (self, c);
}

bool
hub_client_ready (const hub_client_t *c)
{
    if (c->kind == GATEWAY_HUB_LONGPOLL)
        return !c->answered;
    return c->sent >= c->out.len;
}
