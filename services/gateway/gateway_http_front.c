/*  gateway_http_front: the gateway's routes as the front (gateway_front.h)
 *  serves them: what it answers in its loops, how its threads start and
 *  stop, and starting it in front of civetweb. See gateway_http.c for the
 *  civetweb side. */
#include "gateway_http_int.h"
#include "gateway_fast.h"
#include "gateway_front.h"
#include "hsn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/*  --- the front's own answers ------------------------------------------ */

/*  A pending answer is given: count it, log it, let the connection go on. */
static void
front_after (void *arg, gateway_req_t *req, void *handle, int route, const char *method,
             const char *pattern, const char *peer)
{
    gateway_http_t *self = (gateway_http_t *) arg;
    gateway_http_record (self, route, req);
    gateway_http_log (req, method, pattern, peer, false);
    gateway_front_done (handle);
}

static void *
front_thread_start (void *arg)
{
    gateway_http_t *self = (gateway_http_t *) arg;
    gw_thread_t *t = gateway_http_thread_new (self);
    if (!t)
        return NULL;
    /*  Without it the loop still answers near-cache hits; backend calls
     *  then go to civetweb. */
    t->fast = gateway_fast_new (self->inproc, self->cfg.guard, self->cfg.backend_timeout_ms,
                                front_after, self);
    return t;
}

static void
front_thread_stop (void *arg, void *tp)
{
    gw_thread_t *t = (gw_thread_t *) tp;
    if (t)
        gateway_fast_destroy (&t->fast);
    gateway_http_thread_free ((gw_thread_t *) tp);
}

static int
front_thread_fd (void *tp)
{
    gw_thread_t *t = (gw_thread_t *) tp;
    return t->fast ? gateway_fast_fd (t->fast) : -1;
}

static bool
front_thread_poll (void *arg, void *tp)
{
    gw_thread_t *t = (gw_thread_t *) tp;
    return t->fast && gateway_fast_poll (t->fast, t);
}

/*  A path the front may match itself: civetweb would decode %xx and remove
 *  dot segments first, so anything it would change goes to civetweb. */
static bool
plain_path (const char *p)
{
    for (const char *q = p; *q; q++)
        if (*q == '%' || *q == '\\' || (*q == '/' && (q[1] == '/' || q[1] == '.')))
            return false;
    return true;
}

/*  The hot routes, answered in the loop: a near-cache hit, the OpenAPI
 *  document and the dashboard at once; a cache read, a named query read or
 *  an agent send by a call that does not block the loop (gateway_fast.h).
 *  Everything else, and whatever these cannot take now (no free backend
 *  slot), goes to civetweb. */
static gateway_front_rc_t
front_serve (void *arg, void *tp, const gateway_front_req_t *fr)
{
    gateway_http_t *self = (gateway_http_t *) arg;
    gw_thread_t *t = (gw_thread_t *) tp;
    bool get = strcmp (fr->method, "GET") == 0;
    if (!t || (!get && strcmp (fr->method, "POST") != 0)
        || (strncmp (fr->path, "/api/", 5) != 0 && strcmp (fr->path, "/") != 0)
        || !plain_path (fr->path))
        return GATEWAY_FRONT_PASS;
    gateway_params_t params;
    char allow[64];
    const gateway_route_t *r = gateway_route_match (fr->method, fr->path, &params, allow,
                                                    sizeof allow);
    bool fixed = r && (r->handler == H_OPENAPI || r->handler == H_DASHBOARD);
    if (!r || (!fixed && r->handler != H_CACHE_GET && r->handler != H_QUERY_GET
               && r->handler != H_AGENT_SEND))
        return GATEWAY_FRONT_PASS;
    bool near_hit = false;
    gateway_prefix_t prefix;
    int64_t now = hsn_now_ms (), expires;
    if (r->handler == H_CACHE_GET) {
        if (fr->query)
            return GATEWAY_FRONT_PASS;
        near_hit = gateway_cache_near_get (t, params.ptr[0], params.len[0], params.ptr[1],
                                           params.len[1], now, &prefix, &expires) == 0;
    }
    if (!near_hit && !fixed && !t->fast)
        return GATEWAY_FRONT_PASS;
    gateway_req_t req;
    gateway_req_init_io (&req, &fr->io, get, &t->body, &t->out, &t->zip);
    req.query = fr->query;
    req.body_in = fr->body;
    req.body_in_len = fr->body_len;
    /*  Admitted here, once: a PASS below (no backend slot free) tells
     *  civetweb so (X-Hsn-Admitted), and civetweb does not admit it again
     *  (its answer then carries no RateLimit fields). */
    const char *client = gateway_http_bucket (self, &req, fr->peer);
    int route = gateway_http_route_class (r);
    gateway_front_rc_t rc = GATEWAY_FRONT_DONE;
    if (gateway_http_admit (self, &req, r, client, strlen (client)) == 0) {
        gateway_fast_to_t to = { fr->handle, route, r->method, r->pattern, fr->peer,
                                 fr->io.header (fr->io.ctx, "If-None-Match") };
        if (r->handler == H_OPENAPI)
            gateway_openapi (t, &req);
        else if (r->handler == H_DASHBOARD)
            gateway_monitor_dashboard (t, &req, fr->method);
        else if (near_hit)
            gateway_cache_near_send (&req, &prefix, expires, now);
        else if (r->handler == H_CACHE_GET)
            rc = gateway_cache_get_front (t, &req, &to, params.ptr[0], params.len[0],
                                          params.ptr[1], params.len[1]);
        else if (r->handler == H_QUERY_GET)
            rc = gateway_query_get_front (t, &req, &to, params.ptr[0], params.len[0]);
        else
            rc = gateway_agent_send_front (t, &req, &to, params.ptr[0], params.len[0]);
    }
    /*  Admitted here but left to civetweb (no backend slot free): it must
     *  not take a second token from the client's bucket. */
    if (rc == GATEWAY_FRONT_PASS)
        snprintf (fr->relay_fields, GATEWAY_FRONT_RELAY_MAX, "X-Hsn-Admitted: %s\r\n",
                  self->secret);
    if (rc == GATEWAY_FRONT_DONE) {
        gateway_http_record (self, route, &req);
        gateway_http_log (&req, fr->method, r->pattern, fr->peer, false);
    }
    return rc;
}

/*  A handoff answer from civetweb (gateway_agents.c): "X-Hsn-Handoff:
 *  <secret> <kind> <max> <deadline_ms> <started_us> <request id> <agent>",
 *  the hub's extra header lines after it. The client's socket, fd, goes to
 *  the hub, whose reservation civetweb took. */
static void
front_handoff (void *arg, int fd, const char *head, size_t len)
{
    gateway_http_t *self = (gateway_http_t *) arg;
    gateway_hub_t *hub = self->cfg.hub;
    char buf[2048], headers[1536] = "";
    if (!hub) {
        close (fd);
        return;
    }
    if (len >= sizeof buf) {
        close (fd);
        gateway_hub_unreserve (hub);
        return;
    }
    memcpy (buf, head, len);
    buf[len] = 0;
    char secret[40], request_id[80], agent[160];
    int kind = 0;
    unsigned max = 0;
    long long deadline = 0, started = 0;
    size_t hlen = 0;
    bool ok = false;
    for (char *line = strstr (buf, "\r\n"); line && line[2] != '\r'; ) {
        line += 2;
        char *end = strstr (line, "\r\n");
        if (!end)
            break;
        *end = 0;
        if (strncasecmp (line, "X-Hsn-Handoff: ", 15) == 0)
            ok = sscanf (line + 15, "%39s %d %u %lld %lld %79s %159s", secret, &kind, &max,
                         &deadline, &started, request_id, agent) == 7
                 && strcmp (secret, self->secret) == 0;
        else if (strncasecmp (line, "Content-Length:", 15) != 0
                 && hlen + (size_t) (end - line) + 3 < sizeof headers)
            hlen += (size_t) snprintf (headers + hlen, sizeof headers - hlen, "%s\r\n", line);
        *end = '\r';
        line = end;
    }
    if (!ok || (kind != GATEWAY_HUB_LONGPOLL && kind != GATEWAY_HUB_STREAM)) {
        close (fd);
        gateway_hub_unreserve (hub);
        return;
    }
    gateway_hub_client_t c = { (gateway_hub_kind_t) kind, fd, agent, max, deadline, request_id,
                               started, headers };
    gateway_hub_add (hub, &c);          /* owns fd now, even on failure */
}

/*  The front on the public address, relaying to civetweb's loopback port. */
int
gateway_http_start_front (gateway_http_t *self)
{
    uint8_t raw[16];
    if (getrandom (raw, sizeof raw, 0) != (ssize_t) sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf (self->secret + 2 * i, 3, "%02x", raw[i]);
    char peer_header[64];
    snprintf (peer_header, sizeof peer_header, "X-Hsn-Peer: %s ", self->secret);
    /*  Long-polls and streams: the hub may answer them without a length. */
    static const char *const close_paths[] = { "/api/agents/", NULL };
    gateway_front_config_t fc = {
        self->cfg.front_addr, self->cfg.front_port, self->port, self->cfg.threads, close_paths,
        peer_header,
        self->cfg.front_threads, self->cfg.front_max_conns, self->cfg.keepalive_ms,
        self->cfg.request_timeout_ms, self->cfg.max_request_bytes, self->cfg.max_body_bytes,
        self->cfg.front_fd_base, front_thread_start, front_thread_stop, front_serve,
        front_thread_fd, front_thread_poll, front_handoff, self
    };
    self->front = gateway_front_new (&fc);
    if (!self->front)
        return -1;
    self->port = gateway_front_port (self->front);
    return 0;
}
