/*  gateway_takeover: take a connection's socket away from civetweb.
 *
 *  civetweb gives each connection a thread until the connection closes. A
 *  request that waits (a long-poll, a stream) is handed to the hub, which
 *  owns the socket from then on, so the civetweb thread returns at once.
 *  civetweb 1.15 has no public getter for a connection's socket, so it is
 *  found by its addresses: the one socket whose peer is the request's
 *  remote address and port and whose local port is the server port (a TCP
 *  4-tuple names one connection). It is dup()ed for the caller, and a fresh
 *  unconnected socket is dup2()ed over civetweb's descriptor number, so
 *  civetweb's own shutdown()/close() after the handler returns hit that
 *  dummy, never the client. Keep-alive is disabled on the connection so
 *  civetweb does not read the dummy for a next request.
 */
#ifndef GATEWAY_TAKEOVER_H
#define GATEWAY_TAKEOVER_H

#include <civetweb.h>

/*  Call from the connection's request handler (its thread), before writing
 *  anything to conn. Returns the caller's descriptor of the connected
 *  socket (close-on-exec, at fd_base or above when that is possible, so the
 *  descriptors civetweb accepts stay low and the next search stays short),
 *  or -ENOENT (socket not found), -EPROTONOSUPPORT (TLS: the bytes are not
 *  the socket's), -EMFILE and other -errno from dup/socket. On failure the
 *  connection is untouched and still civetweb's. */
int gateway_takeover (struct mg_connection *conn, int fd_base);

/*  The descriptor of conn's socket (no side effect), or -ENOENT. For tests
 *  and the takeover itself. */
int gateway_takeover_find (const struct mg_connection *conn);

#endif
