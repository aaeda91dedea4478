/*  hsn_sock: socket settings and multipart frame I/O. See hsn_sock.h. */
#include "hsn_sock.h"
#include "hsn_proto.h"

#include <errno.h>

void
hsn_sock_defaults (zsock_t *sock)
{
    zsock_set_maxmsgsize (sock, HSN_PROTO_MAX_FRAME);
    zsock_set_linger (sock, 100);
    zsock_set_tcp_keepalive (sock, 1);
    zsock_set_tcp_keepalive_idle (sock, 30);
    zsock_set_tcp_keepalive_intvl (sock, 5);
    zsock_set_sndhwm (sock, 100000);
    zsock_set_rcvhwm (sock, 100000);
}

zsock_t *
hsn_sock_dealer (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock)
        return NULL;
    hsn_sock_defaults (sock);
    if (zsock_connect (sock, "%s", endpoint) < 0)
        zsock_destroy (&sock);
    return sock;
}

int
hsn_sock_sendv (void *handle, const void *const parts[], const size_t lens[],
                size_t n, int flags)
{
    for (size_t i = 0; i < n; i++) {
        int more = i + 1 < n ? ZMQ_SNDMORE : 0;
        if (zmq_send (handle, parts[i], lens[i], flags | more) < 0) {
            /*  libzmq sends multipart atomically: a failure on the first
             *  frame sends nothing; later frames cannot fail alone. */
            return -zmq_errno ();
        }
    }
    return 0;
}

void
hsn_sock_close_msgs (zmq_msg_t msgs[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close (&msgs[i]);
}

int
hsn_sock_recvv (void *handle, zmq_msg_t msgs[], size_t max_parts, int flags)
{
    size_t n = 0;
    bool overflow = false;
    zmq_msg_t scratch;
    while (true) {
        /*  Frames beyond max_parts are read into scratch and dropped, so a
         *  hostile peer cannot leave half a message in the socket. */
        zmq_msg_t *m = n < max_parts ? &msgs[n] : &scratch;
        zmq_msg_init (m);
        if (zmq_msg_recv (m, handle, n == 0 ? flags : 0) < 0) {
            int err = zmq_errno ();
            zmq_msg_close (m);
            hsn_sock_close_msgs (msgs, n < max_parts ? n : max_parts);
            return -err;
        }
        bool more = zmq_msg_more (m);
        if (m == &scratch) {
            overflow = true;
            zmq_msg_close (m);
        }
        else
            n++;
        if (!more)
            break;
    }
    if (overflow) {
        hsn_sock_close_msgs (msgs, n);
        return -EPROTO;
    }
    return (int) n;
}
