/*  gateway_front: the gateway's public HTTP/1.1 port, event-driven.
 *
 *  civetweb gives each connection a thread for its whole life: every
 *  request then costs a thread wake-up and a context switch, and that, not
 *  the work, bounded the gateway (see docs/ARCHITECTURE.md). The front is
 *  the nginx shape instead: a few threads (one a core), each an epoll loop
 *  over many keep-alive connections, non-blocking sockets, one write per
 *  response.
 *
 *  Each request head is parsed here, then either
 *  - answered in the loop by the serve hook (the hot routes whose answer
 *    is at hand, e.g. a near-cache hit), or
 *  - forwarded to civetweb, listening on a loopback port, over a fresh
 *    connection (kept alive), its answer streamed back. The client's
 *    address travels in a header civetweb trusts only with the
 *    per-process secret (gateway_http.c). A long-poll or stream that
 *    civetweb hands to the hub comes back as a handoff answer: the client's
 *    own socket goes to the hub (the handoff hook), which then talks to
 *    the client directly.
 *  Responses leave in request order: while one is forwarded, later
 *  (pipelined) requests wait in the connection's buffer.
 *
 *  Limits: the head (request line and fields) at most max_head bytes
 *  (431), a head or body that trickles past request_timeout_ms (408), idle
 *  keep-alive connections closed after keepalive_ms, at most max_conns
 *  connections (then 503 and close). Request bodies need Content-Length
 *  (chunked: 411); Content-Length with Transfer-Encoding, or two lengths
 *  that differ, are refused (400) as request-smuggling attempts.
 */
#ifndef GATEWAY_FRONT_H
#define GATEWAY_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gateway_reply.h"

typedef struct gateway_front gateway_front_t;

/*  A parsed request, as the serve hook sees it. Strings are NUL-terminated
 *  and live until the hook returns. */
typedef struct {
    const char *method;
    const char *path;               /* the target up to '?', not decoded */
    const char *query;              /* after '?', or NULL */
    const char *peer;               /* the client's address */
    const char *body;               /* Content-Length bytes, all here */
    size_t body_len;
    gateway_io_t io;                /* header fields in, the answer out */
    void *handle;                   /* the connection, for a pending answer */
    /*  A PASS may add header lines (each ending \r\n) to the request
     *  civetweb gets, e.g. that it was admitted already. */
    char *relay_fields;             /* GATEWAY_FRONT_RELAY_MAX bytes, "" */
} gateway_front_req_t;

#define GATEWAY_FRONT_RELAY_MAX 128

/*  What the serve hook did with a request. */
typedef enum {
    GATEWAY_FRONT_PASS = 0,         /* nothing: civetweb answers it */
    GATEWAY_FRONT_DONE = 1,         /* answered through req->io */
    GATEWAY_FRONT_PENDING = 2       /* will be answered: gateway_front_write, then
                                     * gateway_front_done on req->handle */
} gateway_front_rc_t;

typedef struct {
    const char *addr;               /* public address, e.g. "0.0.0.0" */
    int port;                       /* 0: any (read back with gateway_front_port) */
    int upstream_port;              /* civetweb on 127.0.0.1 */
    uint32_t upstream_threads;      /* civetweb's: idle kept connections hold one each */
    /*  GETs whose path starts with one of these (NULL-terminated; may be
     *  NULL) may be answered without a length (streams, long-polls): they
     *  go on an upstream connection asked to close, which then ends them. */
    const char *const *close_paths;
    const char *peer_header;        /* "X-Hsn-Peer: <secret> " (the address follows) */
    uint32_t threads;
    uint32_t max_conns;
    uint32_t keepalive_ms;
    uint32_t request_timeout_ms;
    uint32_t max_head;
    uint32_t max_body;              /* bodies the serve hook gets whole */
    int fd_base;                    /* the front's descriptors at or above; 0: anywhere */
    /*  Per-thread state for the hook, made when a loop starts. */
    void *(*thread_start) (void *arg);
    void (*thread_stop) (void *arg, void *tp);
    /*  Answer req through req->io (DONE), or leave it to civetweb having
     *  written nothing (PASS), or keep req->handle and answer it later from
     *  this loop's thread (PENDING): the connection waits, its later
     *  requests with it. A pending answer must always come (the hook keeps
     *  its own deadline). */
    gateway_front_rc_t (*serve) (void *arg, void *tp, const gateway_front_req_t *req);
    /*  A descriptor for the loop to watch for the hook (e.g. a ZeroMQ
     *  socket's ZMQ_FD; -1: none), and the call made after every pass of
     *  the loop (at least every 100 ms), where pending answers are given;
     *  true: more is waiting, come back without blocking. */
    int (*thread_fd) (void *tp);
    bool (*thread_poll) (void *arg, void *tp);
    /*  An upstream answer whose head carries "X-Hsn-Handoff:" (behind the
     *  peer header's secret, checked by the hook) asks for the client's
     *  connection itself: the front lets go of fd (out of its epoll, not
     *  closed) and passes it with that head; the hook owns fd from then
     *  on, whatever it returns. NULL: such answers are relayed. */
    void (*handoff) (void *arg, int fd, const char *head, size_t len);
    void *arg;
} gateway_front_config_t;

/*  Bind and start the loops. NULL (errno set) when the address cannot be
 *  bound or a thread cannot start. */
gateway_front_t *gateway_front_new (const gateway_front_config_t *cfg);

/*  Stop accepting, give answers in flight up to a second, close every
 *  connection. NULL-safe; nulls *self_p. */
void gateway_front_destroy (gateway_front_t **self_p);

/*  The TCP port bound. */
int gateway_front_port (const gateway_front_t *self);

/*  Append to a pending answer (from the loop's thread). */
void gateway_front_write (void *handle, const void *data, size_t len);

/*  The pending answer is complete: the connection goes on (from the
 *  loop's thread). */
void gateway_front_done (void *handle);

/*  Connections open now (thread-safe). */
uint32_t gateway_front_conns (const gateway_front_t *self);

#endif
