/*  hsn_harness: raw client sockets read with a deadline. See hsn_harness.h. */
#include "hsn_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

hsn_raw_t *
hsn_raw_adopt (int fd, size_t cap)
{
    if (fd < 0 || cap < 2) {
        fprintf (stderr, "hsn_raw_adopt: bad fd %d or buffer size %zu\n", fd, cap);
        return NULL;
    }
    hsn_raw_t *r = (hsn_raw_t *) calloc (1, sizeof *r);
    char *buf = (char *) malloc (cap);
    if (!r || !buf) {
        fprintf (stderr, "hsn_raw_adopt: out of memory for %zu bytes\n", cap);
        free (r);
        free (buf);
        return NULL;
    }
    buf[0] = 0;
    r->fd = fd;
    r->buf = buf;
    r->cap = cap;
    return r;
}

hsn_raw_t *
hsn_raw_connect (int port, size_t cap)
{
    if (port < 1 || port > 65535) {
        fprintf (stderr, "hsn_raw_connect: bad port %d\n", port);
        return NULL;
    }
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf (stderr, "hsn_raw_connect: socket: %s\n", strerror (errno));
        return NULL;
    }
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons ((uint16_t) port);
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc;
    do
        rc = connect (fd, (struct sockaddr *) &sa, sizeof sa);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        fprintf (stderr, "hsn_raw_connect: connect 127.0.0.1:%d: %s\n", port, strerror (errno));
        close (fd);
        return NULL;
    }
    hsn_raw_t *r = hsn_raw_adopt (fd, cap);
    if (!r)
        close (fd);
    return r;
}

int
hsn_raw_send (hsn_raw_t *r, const void *data, size_t len)
{
    const char *p = (const char *) data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = send (r->fd, p + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        done += (size_t) n;
    }
    return 0;
}

int
hsn_raw_say (hsn_raw_t *r, const char *s)
{
    return hsn_raw_send (r, s, strlen (s));
}

static bool
raw_full (const hsn_raw_t *r)
{
    return r->len + 1 >= r->cap;
}

void
hsn_raw_pump (hsn_raw_t *r, int timeout_ms)
{
    struct pollfd pfd = { r->fd, POLLIN, 0 };
    if (r->eof || raw_full (r) || poll (&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return;
    ssize_t n = recv (r->fd, r->buf + r->len, r->cap - 1 - r->len, MSG_DONTWAIT);
    if (n > 0)
        r->len += (size_t) n;
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        r->eof = true;
    r->buf[r->len] = 0;
}

static int
occurrences (const char *hay, const char *needle, int enough)
{
    int seen = 0;
    for (const char *p = strstr (hay, needle); p && seen < enough; p = strstr (p + 1, needle))
        seen++;
    return seen;
}

bool
hsn_raw_wait_for (hsn_raw_t *r, const char *needle, int count, int timeout_ms)
{
    if (count < 1)
        count = 1;
    int64_t deadline = hsn_now_ms () + timeout_ms;
    for (;;) {
        if (occurrences (r->buf, needle, count) >= count)
            return true;
        int64_t left = deadline - hsn_now_ms ();
        if (left <= 0 || r->eof || raw_full (r))
            return false;
        hsn_raw_pump (r, left > INT32_MAX ? INT32_MAX : (int) left);
    }
}

bool
hsn_raw_wait_eof (hsn_raw_t *r, int timeout_ms)
{
    int64_t deadline = hsn_now_ms () + timeout_ms;
    while (!r->eof) {
        int64_t left = deadline - hsn_now_ms ();
        if (left <= 0 || raw_full (r))
            return false;
        hsn_raw_pump (r, left > INT32_MAX ? INT32_MAX : (int) left);
    }
    return true;
}

void
hsn_raw_reset (hsn_raw_t *r)
{
    r->len = 0;
    r->buf[0] = 0;
}

void
hsn_raw_close (hsn_raw_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    close ((*r_p)->fd);
    free ((*r_p)->buf);
    free (*r_p);
    *r_p = NULL;
}
