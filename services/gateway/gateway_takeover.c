/*  gateway_takeover: see gateway_takeover.h. */
#include "gateway_takeover.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/*  The port of a sockaddr, and its address as text; -1 when not IP. */
static int
addr_port (const struct sockaddr_storage *ss, char *text, size_t cap)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) ss;
        if (text)
            inet_ntop (AF_INET, &in->sin_addr, text, (socklen_t) cap);
        return ntohs (in->sin_port);
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
        if (text)
            inet_ntop (AF_INET6, &in6->sin6_addr, text, (socklen_t) cap);
        return ntohs (in6->sin6_port);
    }
    return -1;
}

/*  Does fd's peer equal remote_addr:remote_port and its local port port? */
static bool
is_conn (int fd, const char *remote_addr, int remote_port, int local_port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    /*  The peer port first: it is nearly unique, and getpeername fails
     *  fast on what is no connected socket (EBADF, ENOTSOCK, ENOTCONN). */
    if (getpeername (fd, (struct sockaddr *) &ss, &len) || addr_port (&ss, NULL, 0) != remote_port)
        return false;
    char text[INET6_ADDRSTRLEN] = "";
    addr_port (&ss, text, sizeof text);
    /*  civetweb writes IPv4-mapped peers of a v6 socket as plain v4. */
    const char *t = strncmp (text, "::ffff:", 7) == 0 && !strchr (remote_addr, ':') ? text + 7 : text;
    if (strcmp (t, remote_addr) != 0)
        return false;
    len = sizeof ss;
    return getsockname (fd, (struct sockaddr *) &ss, &len) == 0
           && addr_port (&ss, NULL, 0) == local_port;
}

int
gateway_takeover_find (const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info (conn);
    if (!ri)
        return -ENOENT;
    struct rlimit rl;
    int limit = getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 24)
                ? (int) rl.rlim_cur : 1 << 20;
    /*  Accepted sockets take the lowest free numbers: searching upwards
     *  finds civetweb's long before the hub's (placed high). */
    for (int fd = 0; fd < limit; fd++)
        if (is_conn (fd, ri->remote_addr, ri->remote_port, ri->server_port))
            return fd;
    return -ENOENT;
}

int
gateway_takeover (struct mg_connection *conn, int fd_base)
{
    const struct mg_request_info *ri = mg_get_request_info (conn);
    if (!ri)
        return -ENOENT;
    if (ri->is_ssl)
        return -EPROTONOSUPPORT;
    int fd = gateway_takeover_find (conn);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname (fd, (struct sockaddr *) &ss, &len))
        return -errno;
    int mine = fd_base > 0 ? fcntl (fd, F_DUPFD_CLOEXEC, fd_base) : -1;
    if (mine < 0)
        mine = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    if (mine < 0)
        return -errno;
    int dummy = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (dummy < 0) {
        int rc = -errno;
        close (mine);
        return rc;
    }
    /*  Atomic: civetweb's number never names a closed descriptor (which
     *  another thread could reuse before civetweb closes it). */
    if (dup3 (dummy, fd, O_CLOEXEC) < 0) {
        int rc = -errno;
        close (dummy);
        close (mine);
        return rc;
    }
    close (dummy);
    mg_disable_connection_keep_alive (conn);
    return mine;
}
