/*  gateway_front_int: what the front's files share (not public).
 *
 *  gateway_front.c        loops, accept, timers, start and stop
 *  gateway_front_conn.c   a connection: buffers, requests, moving bytes
 *  gateway_front_parse.c  request heads
 *  gateway_front_proxy.c  forwarding to civetweb
 */
#ifndef GATEWAY_FRONT_INT_H
#define GATEWAY_FRONT_INT_H

#include "gateway_front.h"
#include "gateway_json.h"

#include <pthread.h>
#include <stdatomic.h>

/*  Bodies the serve hook is offered whole; larger ones go to civetweb as
 *  they arrive. */
#define FRONT_INLINE_BODY 65536
/*  Bytes held for the client before the upstream is read further. */
#define FRONT_OUT_HIGH (256 * 1024)
#define FRONT_MAX_FIELDS 100
/*  Idle upstream connections a loop keeps for the next request. */
#define FRONT_POOL_MAX 64
#define FRONT_POOL_TAG ((uint64_t) 4)

/*  A byte buffer; data[off, len) is what is still to be used. */
typedef struct {
    char *data;
    size_t off, len, cap;
} front_buf_t;

int front_buf_reserve (front_buf_t *b, size_t more);
int front_buf_append (front_buf_t *b, const void *data, size_t n);
void front_buf_consume (front_buf_t *b, size_t n);
void front_buf_free (front_buf_t *b);
#define front_buf_avail(b) ((b)->len - (b)->off)

typedef struct {
    char *method, *path, *query;
    int minor;                      /* HTTP/1.<minor> */
    size_t head_len;                /* request line and fields, final empty line included */
    int nfields;
    char *name[FRONT_MAX_FIELDS], *value[FRONT_MAX_FIELDS];
    int64_t content_length;         /* -1: none */
    bool transfer_encoding, conn_close, conn_keep_alive, expect_continue;
} front_head_t;

/*  Parse the head at buf[0, len) in place (NULs written after each part).
 *  Returns 1 with *h filled, 0 when the head is not complete yet (and fits
 *  max_head), or minus the HTTP status to answer (400, 431, 505). */
int front_parse (char *buf, size_t len, size_t max_head, front_head_t *h);

/*  A field's value by case-insensitive name, or NULL. */
const char *front_field (const front_head_t *h, const char *name);

enum { FRONT_HEAD, FRONT_PROXY, FRONT_CLOSING, FRONT_WAIT };

typedef struct front_loop front_loop_t;

typedef struct front_conn {
    front_loop_t *loop;
    int fd, up;                     /* client, upstream (-1: none) */
    int state;
    bool rd_ready, wr_ready, eof;   /* client: readable, writable, sent FIN */
    bool up_rd_ready, up_wr_ready, up_connected, up_shut;
    bool keep_alive;                /* after the answer in progress */
    bool lingering;                 /* FIN sent, reading what is left */
    bool continued;                 /* 100 Continue sent for this request */
    bool orphan;                    /* closed while its answer was pending */
    bool handed;                    /* its socket went to the handoff hook */
    front_buf_t in, out, up_out;
    uint64_t body_left;             /* request body still to forward */
    front_buf_t resp;               /* the upstream's head while it arrives */
    bool resp_started, resp_framed, resp_close, head_req, up_reuse;
    int64_t resp_left;              /* body bytes still to come; -1: until the close */
    int64_t deadline_ms;            /* head, body, idle or linger; 0: none */
    int64_t write_deadline_ms;      /* the client took nothing since; 0: none */
    bool posted;                    /* to run again on the next pass */
    struct front_conn *post_next;
    char peer[64];
    struct front_conn *prev, *next;
} front_conn_t;

struct gateway_front {
    gateway_front_config_t cfg;
    char *peer_header;
    int listen_fd, port;
    atomic_uint conns;
    atomic_bool stop;
    uint32_t nloops;
    front_loop_t *loops;
};

struct front_loop {
    gateway_front_t *front;
    int ep, wake;
    pthread_t thread;
    bool started;
    void *tp;
    front_conn_t *conns, *dead, *orphans, *posted;
    int64_t listen_paused_until;    /* out of descriptors: not accepting until */
    char *scratch;                  /* a head's copy, parsed in place */
    int pool[FRONT_POOL_MAX];       /* idle keep-alive upstream connections */
    int64_t pool_at[FRONT_POOL_MAX];
    int npool, pool_max;
    gateway_json_buf_t body, out;   /* the front's own error answers */
};

/*  Start forwarding the request whose head is h (already consumed from
 *  c->in): connect, queue the rewritten head (with the extra header lines,
 *  each ending \r\n; may be NULL). Returns 0, or -1 after
 *  answering 502 (no upstream). */
int front_proxy_start (front_conn_t *c, const front_head_t *h, const char *extra);

/*  Move bytes between client, upstream and their buffers. Returns true on
 *  progress. May leave c in FRONT_HEAD (answer done, connection kept) or
 *  FRONT_CLOSING. */
bool front_proxy_step (front_conn_t *c);

/*  Close the upstream side of c. */
void front_proxy_close (front_conn_t *c);

/*  Close a loop's idle upstream connections: all of them, or those idle
 *  for half of civetweb's keep-alive time. */
void front_pool_drain (front_loop_t *l);
void front_pool_age (front_loop_t *l, int64_t now);

/*  Answer with the front's own JSON error envelope (into c->out). */
void front_error (front_conn_t *c, int status, const char *code, const char *message);

/*  epoll tags of a connection's sockets (ORed into its address). */
#define TAG_CLIENT 0
#define TAG_UP 1

/*  Close c's sockets now; free it after the loop's batch of events (or,
 *  when its answer is pending, when the hook is done with it). */
void front_conn_close (front_conn_t *c);
void front_free_dead (front_loop_t *l);

/*  Move everything that can move. Returns false when c was closed. */
bool front_conn_run (front_conn_t *c);

/*  Answer a head the front will not take (400, 408, 411, 431, 505), then
 *  close. */
void front_refuse (front_conn_t *c, int status);

/*  Run the connections that stopped with work left; true when some are
 *  left again. */
bool front_run_posted (front_loop_t *l);

/*  Register fd (tag 1: an upstream) in c's loop, edge-triggered. */
int front_watch (front_conn_t *c, int fd, int tag);

/*  fd moved to fd_base or above (closing the original), or fd itself. */
int front_fd_high (const gateway_front_t *f, int fd);

#endif
