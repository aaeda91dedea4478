/*  gateway_takeover: see gateway_takeover.h. */
#include "gateway_takeover.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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

/*  Without /proc: try every number the limit allows (one syscall each). */
static int
find_by_number (const struct mg_request_info *ri)
{
    struct rlimit rl;
    int limit = getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 24)
                ? (int) rl.rlim_cur : 1 << 20;
    for (int fd = 0; fd < limit; fd++)
        if (is_conn (fd, ri->remote_addr, ri->remote_port, ri->server_port))
            return fd;
    return -ENOENT;
}

/*  Only the descriptors that are open are tried, as /proc/self/fd lists
 *  them: RLIMIT_NOFILE is raised for GATEWAY_HUB_MAX clients, and trying
 *  every number up to it cost a syscall per possible descriptor on each
 *  miss. Linux lists them in ascending order and accepted sockets take the
 *  lowest free numbers, so civetweb's is met long before the hub's (placed
 *  high) and the listing stops there. */
int
gateway_takeover_find (const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info (conn);
    if (!ri)
        return -ENOENT;
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir) {
        /*  Out of descriptors: the dup would fail as well. */
        if (errno == EMFILE || errno == ENFILE)
            return -errno;
        return find_by_number (ri);
    }
    int own = dirfd (dir), found = -ENOENT;
    struct dirent *e;
    while ((e = readdir (dir))) {
        char *end;
        errno = 0;
        long fd = strtol (e->d_name, &end, 10);
        if (end == e->d_name || *end || errno || fd < 0 || fd > INT_MAX || fd == own)
            continue;                   /* ".", "..", the listing itself */
        if (is_conn ((int) fd, ri->remote_addr, ri->remote_port, ri->server_port)) {
            found = (int) fd;
            break;
        }
    }
    closedir (dir);
    return found;
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
