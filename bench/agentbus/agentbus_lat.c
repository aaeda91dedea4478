/*  agentbus_lat: agent-bus send-to-receive latency through the gateway
 *  (bench/scenarios/60-agent-bus.sh compiles and runs it).
 *
 *      agentbus_lat HOST PORT AGENT RATE SECONDS [SENDERS]
 *
 *  1. The receiver opens GET /api/agents/AGENT/stream (Server-Sent Events)
 *     and waits for its 200.
 *  2. SENDERS (default 4) threads then POST /api/agents/AGENT/messages for
 *     SECONDS at RATE messages/s in all, each on its own keep-alive
 *     connection, on a fixed schedule (message i is due at t0 + i / RATE and
 *     is sent by thread i mod SENDERS; a late one is sent at once, not
 *     skipped). The payload carries the send time, read just before the
 *     request is written: {"seq": i, "t": microseconds since the epoch}.
 *  3. The receiver records receive time - send time (same host clock) for
 *     the first delivery of each seq, and queues the event's id for the
 *     ack thread, which POSTs /api/agents/AGENT/acks {"ids": [...]} in
 *     batches (every 20 ms, at most 500 ids) on its own connection.
 *  4. Once the senders are done it waits (5 s at most) for every message
 *     that got a 201.
 *
 *  Prints one line:
 *    ok RATE_SENT P50_US P99_US MAX_US RECEIVED CREATED NON201 ERRORS LOST DUPS ACKED MAX_LAG_US
 *  (RATE_SENT: 201s per second of sending; RECEIVED: distinct seqs
 *  received; NON201: other answers; ERRORS: failed requests; LOST: created
 *  but not received in time; DUPS: events for a seq already received;
 *  ACKED: the acks' "acked" total; MAX_LAG_US: how far a sender fell
 *  behind the schedule at worst). Exits 1 with a reason on stderr when it
 *  cannot go on. A benchmark tool: plain blocking sockets, one thread each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SENDERS 64
#define ACK_BATCH   500
#define IO_BUF      (256 * 1024)

static struct sockaddr_in g_addr;
static const char *g_agent;
static long g_rate, g_seconds, g_total;
static int g_senders;
static double g_t0;                     /* epoch seconds the schedule starts */

static int64_t *g_lat;                  /* per seq: latency in us, -1 before */
static atomic_long g_received, g_dups, g_created, g_non201, g_errors, g_acked, g_max_lag;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static char (*g_ackq)[128];             /* ids waiting to be acked */
static long g_ackq_len, g_ackq_cap;
static bool g_stop;

static void
die (const char *what)
{
    fprintf (stderr, "agentbus_lat: %s\n", what);
    exit (1);
}

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t
now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
connect_gw (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = { 10, 0 };
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect (fd, (struct sockaddr *) &g_addr, sizeof g_addr) < 0) {
        close (fd);
        return -1;
    }
    return fd;
}

static int
write_all (int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write (fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/*  A keep-alive connection's read side: buf[0..len) unread bytes. */
typedef struct {
    int fd;
    char *buf;
    size_t len;
} conn_t;

/*  Read one response with a Content-Length; *status gets its status, body
 *  (NUL-terminated, up to body_cap - 1 bytes kept) its body. 0 or -1. */
static int
read_response (conn_t *c, int *status, char *body, size_t body_cap)
{
    char *end;
    while (!(end = memmem (c->buf, c->len, "\r\n\r\n", 4))) {
        if (c->len == IO_BUF)
            return -1;
        ssize_t r = read (c->fd, c->buf + c->len, IO_BUF - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->len += (size_t) r;
    }
    size_t head = (size_t) (end - c->buf) + 4;
    if (sscanf (c->buf, "HTTP/1.%*d %d", status) != 1)
        return -1;
    long clen = -1;
    for (char *p = c->buf; p && p < end; p = memchr (p, '\n', (size_t) (end - p)), p = p ? p + 1 : p)
        if (strncasecmp (p, "Content-Length:", 15) == 0)
            clen = strtol (p + 15, NULL, 10);
    if (clen < 0 || (size_t) clen > IO_BUF - head)
        return -1;
    while (c->len < head + (size_t) clen) {
        ssize_t r = read (c->fd, c->buf + c->len, IO_BUF - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->len += (size_t) r;
    }
    size_t keep = (size_t) clen < body_cap ? (size_t) clen : body_cap - 1;
    memcpy (body, c->buf + head, keep);
    body[keep] = 0;
    size_t used = head + (size_t) clen;
    memmove (c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return 0;
}

/*  POST path with body on c (reconnecting first when c->fd < 0). */
static int
post (conn_t *c, const char *path, const char *body, int *status, char *resp, size_t resp_cap)
{
    char head[512];
    int n = snprintf (head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", path, strlen (body));
    if (c->fd < 0 && (c->fd = connect_gw ()) < 0)
        return -1;
    if (write_all (c->fd, head, (size_t) n) || write_all (c->fd, body, strlen (body))
        || read_response (c, status, resp, resp_cap)) {
        close (c->fd);
        c->fd = -1;
        c->len = 0;
        return -1;
    }
    return 0;
}

static void *
sender (void *arg)
{
    int k = (int) (intptr_t) arg;
    conn_t c = { -1, malloc (IO_BUF), 0 };
    char path[256], body[128], resp[512];
    snprintf (path, sizeof path, "/api/agents/%s/messages", g_agent);
    for (long i = k; i < g_total; i += g_senders) {
        double due = g_t0 + (double) i / (double) g_rate;
        double wait = due - now_s ();
        if (wait > 0) {
            /*  Pacing to the schedule, not a wait for an event. */
            struct timespec ts = { (time_t) wait, (long) ((wait - (double) (time_t) wait) * 1e9) };
            nanosleep (&ts, NULL);
        }
        long lag = (long) ((now_s () - due) * 1e6);
        long prev = atomic_load (&g_max_lag);
        while (lag > prev && !atomic_compare_exchange_weak (&g_max_lag, &prev, lag))
            ;
        snprintf (body, sizeof body, "{\"payload\":{\"seq\":%ld,\"t\":%lld}}", i,
                  (long long) now_us ());
        int status;
        if (post (&c, path, body, &status, resp, sizeof resp) < 0) {
            if (atomic_fetch_add (&g_errors, 1) < 3)
                fprintf (stderr, "agentbus_lat: send %ld failed\n", i);
        }
        else if (status == 201)
            atomic_fetch_add (&g_created, 1);
        else if (atomic_fetch_add (&g_non201, 1) < 3)
            fprintf (stderr, "agentbus_lat: send %ld: HTTP %d %.200s\n", i, status, resp);
    }
    if (c.fd >= 0)
        close (c.fd);
    free (c.buf);
    return NULL;
}

static void *
acker (void *arg)
{
    (void) arg;
    conn_t c = { -1, malloc (IO_BUF), 0 };
    char path[256], resp[512];
    char *body = malloc (ACK_BATCH * 131 + 16);
    snprintf (path, sizeof path, "/api/agents/%s/acks", g_agent);
    pthread_mutex_lock (&g_mu);
    while (!g_stop || g_ackq_len) {
        if (!g_ackq_len) {
            struct timespec ts;
            clock_gettime (CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait (&g_cv, &g_mu, &ts);
            continue;
        }
        long n = g_ackq_len < ACK_BATCH ? g_ackq_len : ACK_BATCH;
        size_t len = (size_t) sprintf (body, "{\"ids\":[");
        for (long i = 0; i < n; i++)
            len += (size_t) sprintf (body + len, "%s\"%s\"", i ? "," : "", g_ackq[i]);
        sprintf (body + len, "]}");
        memmove (g_ackq, g_ackq + n, (size_t) (g_ackq_len - n) * sizeof g_ackq[0]);
        g_ackq_len -= n;
        pthread_mutex_unlock (&g_mu);
        int status;
        if (post (&c, path, body, &status, resp, sizeof resp) == 0 && status == 200) {
            const char *a = strstr (resp, "\"acked\":");
            if (a)
                atomic_fetch_add (&g_acked, strtol (a + 8, NULL, 10));
        }
        else if (atomic_fetch_add (&g_errors, 1) < 3)
            fprintf (stderr, "agentbus_lat: an ack failed\n");
        pthread_mutex_lock (&g_mu);
    }
    pthread_mutex_unlock (&g_mu);
    if (c.fd >= 0)
        close (c.fd);
    free (c.buf);
    free (body);
    return NULL;
}

/*  One event: id and data (the message JSON). */
static void
on_event (const char *id, const char *data)
{
    int64_t t = now_us ();
    const char *p = strstr (data, "\"payload\":");
    const char *s = p ? strstr (p, "\"seq\":") : NULL;
    const char *ts = p ? strstr (p, "\"t\":") : NULL;
    if (s && ts) {
        long seq = strtol (s + 6, NULL, 10);
        long long sent = strtoll (ts + 4, NULL, 10);
        if (seq >= 0 && seq < g_total) {
            if (g_lat[seq] >= 0)
                atomic_fetch_add (&g_dups, 1);
            else {
                g_lat[seq] = t - sent;
                atomic_fetch_add (&g_received, 1);
            }
        }
    }
    if (!*id)
        return;
    pthread_mutex_lock (&g_mu);
    if (g_ackq_len == g_ackq_cap) {
        g_ackq_cap = g_ackq_cap ? 2 * g_ackq_cap : 4096;
        g_ackq = realloc (g_ackq, (size_t) g_ackq_cap * sizeof g_ackq[0]);
        if (!g_ackq)
            die ("out of memory");
    }
    snprintf (g_ackq[g_ackq_len++], sizeof g_ackq[0], "%s", id);
    pthread_cond_broadcast (&g_cv);
    pthread_mutex_unlock (&g_mu);
}

/*  Reads the stream: lines "id: ...", "data: ...", a blank line ends one. */
static void *
receiver (void *arg)
{
    conn_t *c = (conn_t *) arg;
    static char id[128], data[65536];
    size_t data_len = 0;
    id[0] = 0;
    while (true) {
        char *nl;
        while ((nl = memchr (c->buf, '\n', c->len))) {
            *nl = 0;
            size_t llen = (size_t) (nl - c->buf);
            if (llen && c->buf[llen - 1] == '\r')
                c->buf[--llen] = 0;
            if (strncmp (c->buf, "id:", 3) == 0)
                snprintf (id, sizeof id, "%s", c->buf + 3 + (c->buf[3] == ' '));
            else if (strncmp (c->buf, "data:", 5) == 0) {
                const char *d = c->buf + 5 + (c->buf[5] == ' ');
                size_t dl = strlen (d);
                if (data_len + dl + 1 < sizeof data) {
                    memcpy (data + data_len, d, dl);
                    data_len += dl;
                    data[data_len] = 0;
                }
            }
            else if (llen == 0) {
                if (data_len)
                    on_event (id, data);
                id[0] = 0;
                data_len = 0;
                data[0] = 0;
            }
            size_t used = (size_t) (nl - c->buf) + 1;
            memmove (c->buf, c->buf + used, c->len - used);
            c->len -= used;
        }
        if (c->len == IO_BUF)
            die ("a stream line longer than the buffer");
        ssize_t r = read (c->fd, c->buf + c->len, IO_BUF - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            pthread_mutex_lock (&g_mu);
            bool stopping = g_stop;
            pthread_mutex_unlock (&g_mu);
            if (!stopping)
                die ("the stream ended");
            return NULL;
        }
        c->len += (size_t) r;
        pthread_mutex_lock (&g_mu);
        pthread_cond_broadcast (&g_cv);
        pthread_mutex_unlock (&g_mu);
    }
}

static int
cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
    if (argc != 6 && argc != 7)
        die ("usage: agentbus_lat HOST PORT AGENT RATE SECONDS [SENDERS]");
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons ((uint16_t) atoi (argv[2]));
    if (inet_pton (AF_INET, argv[1], &g_addr.sin_addr) != 1)
        die ("HOST must be an IPv4 address");
    g_agent = argv[3];
    g_rate = atol (argv[4]);
    g_seconds = atol (argv[5]);
    g_senders = argc == 7 ? atoi (argv[6]) : 4;
    if (g_rate <= 0 || g_seconds <= 0 || g_senders <= 0 || g_senders > MAX_SENDERS
        || strlen (g_agent) > 128)
        die ("RATE, SECONDS must be positive, SENDERS 1..64, AGENT at most 128 bytes");
    g_total = g_rate * g_seconds;
    g_lat = malloc ((size_t) g_total * sizeof *g_lat);
    if (!g_lat)
        die ("out of memory");
    for (long i = 0; i < g_total; i++)
        g_lat[i] = -1;

    /*  The stream first: its 200 head. */
    static conn_t stream;
    stream.buf = malloc (IO_BUF);
    if ((stream.fd = connect_gw ()) < 0)
        die ("cannot connect to the gateway");
    char req[512];
    int n = snprintf (req, sizeof req, "GET /api/agents/%s/stream HTTP/1.1\r\nHost: bench\r\n"
                      "Accept: text/event-stream\r\n\r\n", g_agent);
    if (write_all (stream.fd, req, (size_t) n))
        die ("cannot send the stream request");
    char *end;
    while (!(end = memmem (stream.buf, stream.len, "\r\n\r\n", 4))) {
        ssize_t r = read (stream.fd, stream.buf + stream.len, IO_BUF - stream.len);
        if (r <= 0)
            die ("the stream closed before its head");
        stream.len += (size_t) r;
    }
    int status = 0;
    if (sscanf (stream.buf, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fprintf (stderr, "agentbus_lat: GET /api/agents/%s/stream: %.300s\n", g_agent, stream.buf);
        return 1;
    }
    size_t head = (size_t) (end - stream.buf) + 4;
    memmove (stream.buf, stream.buf + head, stream.len - head);
    stream.len -= head;

    pthread_t rx, ack, tx[MAX_SENDERS];
    g_t0 = now_s () + 0.2;
    if (pthread_create (&rx, NULL, receiver, &stream) || pthread_create (&ack, NULL, acker, NULL))
        die ("pthread_create");
    for (int k = 0; k < g_senders; k++)
        if (pthread_create (&tx[k], NULL, sender, (void *) (intptr_t) k))
            die ("pthread_create");
    for (int k = 0; k < g_senders; k++)
        pthread_join (tx[k], NULL);

    /*  Every created message, or 5 s. */
    struct timespec dl;
    clock_gettime (CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock (&g_mu);
    while (atomic_load (&g_received) < atomic_load (&g_created)
           && pthread_cond_timedwait (&g_cv, &g_mu, &dl) != ETIMEDOUT)
        ;
    g_stop = true;
    pthread_cond_broadcast (&g_cv);
    pthread_mutex_unlock (&g_mu);
    long received = atomic_load (&g_received), dups = atomic_load (&g_dups);
    pthread_join (ack, NULL);
    shutdown (stream.fd, SHUT_RDWR);
    pthread_join (rx, NULL);
    close (stream.fd);

    if (received == 0)
        die ("no message received");
    int64_t *v = malloc ((size_t) received * sizeof *v);
    long m = 0;
    for (long i = 0; i < g_total && m < received; i++)
        if (g_lat[i] >= 0)
            v[m++] = g_lat[i];
    qsort (v, (size_t) m, sizeof *v, cmp_i64);
    long created = atomic_load (&g_created);
    printf ("ok %.1f %lld %lld %lld %ld %ld %ld %ld %ld %ld %ld %ld\n",
            (double) created / (double) g_seconds, (long long) v[m / 2],
            (long long) v[(long) (0.99 * (double) m) < m ? (long) (0.99 * (double) m) : m - 1],
            (long long) v[m - 1], received, created, atomic_load (&g_non201),
            atomic_load (&g_errors), created > received ? created - received : 0, dups,
            atomic_load (&g_acked), atomic_load (&g_max_lag));
    free (v);
    free (g_lat);
    free (g_ackq);
    free (stream.buf);
    return 0;
}
