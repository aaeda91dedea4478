/*  hsn_client: synchronous request/reply through the broker.
 *
 *  One client per thread (ZeroMQ sockets are not thread-safe): the gateway
 *  keeps one per civetweb worker thread on inproc, a service keeps one to
 *  call another service over tcp. Requests carry a request id; a reply that
 *  arrives after its caller gave up is recognised by its id and dropped.
 */
#ifndef HSN_CLIENT_H
#define HSN_CLIENT_H

#include <czmq.h>
#include "hsn_proto.h"

typedef struct hsn_client hsn_client_t;

/*  Connect a DEALER to the broker endpoint. NULL on a bad endpoint. */
hsn_client_t *hsn_client_new (const char *endpoint);

/*  NULL-safe; nulls *self_p. */
void hsn_client_destroy (hsn_client_t **self_p);

/*  A fresh request id for the next request. */
uint64_t hsn_client_next_rid (hsn_client_t *self);

/*  Send the request frame (an envelope encoded with request id rid) and wait
 *  up to timeout_ms for its reply. On success *reply holds the reply frame
 *  (initialised here; the caller closes it) and 0 is returned. Returns
 *  -ETIMEDOUT when no reply came in time, -EIO when the socket failed;
 *  *reply is then untouched. */
int hsn_client_call (hsn_client_t *self, const void *frame, size_t len,
                     uint64_t rid, int timeout_ms, zmq_msg_t *reply);

#endif
