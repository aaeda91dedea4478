/*  gateway_fast: backend calls made from a front loop (gateway_front.h)
 *  without blocking it.
 *
 *  A civetweb thread waits for its reply (gateway_call); a front loop holds
 *  hundreds of connections and must not. Here a request goes out on the
 *  loop's own DEALER to the broker and the connection waits (PENDING);
 *  replies are read when the loop polls, matched by request id, and
 *  answered by the route's finish function, the same one its civetweb
 *  handler runs after gateway_call. Semantics kept from gateway_call: the
 *  service's circuit breaker, a concurrency slot (taken without waiting:
 *  when none is free the request goes to civetweb, which queues), the
 *  backend timeout (504), a reply that cannot be decoded (502). Not kept:
 *  the one retry after WORKER_LOST (the broker has already re-dispatched
 *  what may be repeated; the client sees 503 worker_lost).
 *
 *  One per front loop, used by that loop's thread only.
 */
#ifndef GATEWAY_FAST_H
#define GATEWAY_FAST_H

#include "gateway_front.h"
#include "gateway_internal.h"

typedef struct gateway_fast gateway_fast_t;

/*  The rest of a handler after its backend call: reply is decoded (any
 *  status); answer req and close msg. cont is what the handler kept. */
typedef void (gateway_fast_finish_t) (gw_thread_t *t, gateway_req_t *req, const void *cont,
                                      zmq_msg_t *msg, hsn_env_t *env);

/*  After the answer: metrics, access log, the connection resumed. */
typedef void (gateway_fast_after_t) (void *arg, gateway_req_t *req, void *handle, int route,
                                     const char *method, const char *pattern, const char *peer);

/*  What a handler keeps for its finish, at most this many bytes. */
#define GATEWAY_FAST_CONT_MAX 1200

gateway_fast_t *gateway_fast_new (const char *inproc, gateway_guard_t *guard,
                                  uint32_t timeout_ms, gateway_fast_after_t *after, void *arg);

/*  Drop every pending call without answering (the loop is ending).
 *  NULL-safe; nulls *self_p. */
void gateway_fast_destroy (gateway_fast_t **self_p);

/*  The DEALER's ZMQ_FD, for the loop's epoll. */
int gateway_fast_fd (gateway_fast_t *self);

uint64_t gateway_fast_next_rid (gateway_fast_t *self);

/*  Where a call's answer goes and what its log line says. */
typedef struct {
    void *handle;                   /* the front's connection */
    int route;                      /* route class, for the metrics */
    const char *method, *pattern;   /* static strings */
    const char *peer;
    const char *if_none_match;      /* kept for the answer's 304 check */
} gateway_fast_to_t;

/*  Send the envelope in t->enc (request id rid); finish answers it later.
 *  Returns 0 (pending), -EBUSY (nothing sent and nothing answered: let
 *  civetweb take the request) or -1 (answered now: breaker open). */
int gateway_fast_call (gateway_fast_t *self, gw_thread_t *t, gateway_req_t *req, uint64_t rid,
                       const gateway_fast_to_t *to, gateway_fast_finish_t *finish,
                       const void *cont, size_t cont_len);

/*  Answer what has come back, and what timed out. True when replies are
 *  still waiting (call again without blocking). */
bool gateway_fast_poll (gateway_fast_t *self, gw_thread_t *t);

/*  Routes a front loop answers with a backend call (PENDING), or now
 *  (DONE: an error, a near-cache hit), or leaves to civetweb (PASS). The
 *  caller has admitted the request (API key, rate limit). */
gateway_front_rc_t gateway_cache_get_front (gw_thread_t *t, gateway_req_t *req,
                                            const gateway_fast_to_t *to, const char *ns,
                                            size_t nslen, const char *key, size_t keylen);
gateway_front_rc_t gateway_agent_send_front (gw_thread_t *t, gateway_req_t *req,
                                             const gateway_fast_to_t *to, const char *agent,
                                             size_t len);
gateway_front_rc_t gateway_query_get_front (gw_thread_t *t, gateway_req_t *req,
                                            const gateway_fast_to_t *to, const char *name,
                                            size_t nlen);

#endif
