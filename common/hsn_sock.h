/*  hsn_sock: ZeroMQ socket settings and frame I/O shared by every link. */
#ifndef HSN_SOCK_H
#define HSN_SOCK_H

#include <czmq.h>
#include <stdbool.h>

/*  Options every hsn socket shares: HSN_PROTO_MAX_FRAME as ZMQ_MAXMSGSIZE
 *  (libzmq drops the peer that sends a larger frame before we see it), a
 *  short linger so shutdown never hangs on an absent peer, TCP keepalive so a
 *  silently vanished peer is noticed. */
void hsn_sock_defaults (zsock_t *sock);

/*  A DEALER with hsn_sock_defaults, connected to endpoint; NULL when the
 *  socket cannot be made or the endpoint is invalid. */
zsock_t *hsn_sock_dealer (const char *endpoint);

/*  Send the frames parts[0..n) as one multipart message. flags may hold
 *  ZMQ_DONTWAIT. Returns 0 or -errno (e.g. -EAGAIN, -EHOSTUNREACH). */
int hsn_sock_sendv (void *handle, const void *const parts[], const size_t lens[],
                    size_t n, int flags);

/*  Receive one multipart message of at most max_parts frames into msgs
 *  (initialised here; the caller closes them with hsn_sock_close_msgs).
 *  A message with more frames is consumed and dropped: returns -EPROTO.
 *  Returns the number of frames, or -errno (-EAGAIN with ZMQ_DONTWAIT). */
int hsn_sock_recvv (void *handle, zmq_msg_t msgs[], size_t max_parts, int flags);

/*  Close n messages. */
void hsn_sock_close_msgs (zmq_msg_t msgs[], size_t n);

#endif
