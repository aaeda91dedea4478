/*  gateway_hub_int: what the hub's files share (not public).
 *
 *  gateway_hub.c         the thread, the hand-over queue, the public side
 *  gateway_hub_agent.c   agents, their agent.receive calls, the timers
 *  gateway_hub_client.c  a client's socket: buffered non-blocking writes,
 *                        reads (to see it go), keepalives, closing
 *  gateway_hub_wake.c    the hsn:ab:wake subscription
 *
 *  Everything here runs on the hub thread, except the hand-over queue and
 *  the client count (atomics and the queue's mutex).
 */
#ifndef GATEWAY_HUB_INT_H
#define GATEWAY_HUB_INT_H

#include "gateway_hub.h"
#include "gateway_json.h"
#include "hsn_proto.h"
#include "hsn_rconn.h"

#include <czmq.h>
#include <hiredis.h>
#include <pthread.h>

typedef struct hub_agent hub_agent_t;
typedef struct hub_client hub_client_t;

struct hub_client {
    gateway_hub_kind_t kind;
    int fd;
    hub_agent_t *agent;
    char agent_id[129];
    hub_client_t *prev, *next;      /* the agent's clients, oldest first */
    hub_client_t *queue_next;       /* the hand-over queue */
    uint32_t max;
    int64_t deadline_ms;            /* long-poll: answer [] at */
    int64_t keepalive_ms;           /* stream: next comment at */
    int64_t started_us;
    char request_id[80];
    char *headers;
    gateway_json_buf_t out;         /* out.data[sent..len) not yet written */
    size_t sent;
    uint64_t written;               /* bytes written so far */
    uint64_t written_at_tick;       /* at the last keepalive tick */
    size_t discarded;               /* bytes read from the client and dropped */
    bool want_out;                  /* EPOLLOUT registered */
    bool answered;                  /* long-poll: the response is queued */
    bool expired;                   /* long-poll: deadline passed while a receive was out */
};

struct hub_agent {
    char id[129];
    hub_client_t *head, *tail;
    size_t nclients;
    uint64_t inflight_rid;          /* 0: no receive out */
    hub_client_t *inflight_for;     /* who it was issued for (NULL: left) */
    uint32_t inflight_max;          /* the max it was issued with */
    int64_t inflight_deadline;
    int64_t retry_at;               /* after a failed receive, not before */
    bool dirty;                     /* receive again once the one out is in */
    bool pinned;                    /* being worked on: not to be freed */
};

/*  epoll tags that are not clients. */
typedef struct { int what; } hub_tag_t;

struct gateway_hub {
    gateway_hub_config_t cfg;
    pthread_t thread;
    bool started;
    int epfd, evfd;
    hub_tag_t ev_tag, wake_tag;
    /*  hand-over */
    pthread_mutex_t lock;
    hub_client_t *queue_head, *queue_tail;
    bool stop;
    uint32_t reserved;              /* held + handed over + reserved (atomic) */
    /*  hub thread */
    zsock_t *dealer;
    void *dealer_handle;
    hsn_enc_t enc;
    uint64_t next_rid;
    zhashx_t *agents;               /* id -> hub_agent_t */
    zhashx_t *inflight;             /* "%016llx" rid -> hub_agent_t */
    int64_t next_sweep;
    gateway_json_buf_t scratch;
    /*  wake subscription */
    hsn_rconn_t *rconn;
    redisContext *sub;
    int sub_up;                     /* atomic, for gateway_hub_subscribed */
    int64_t sub_retry_at;
    uint32_t sub_backoff_ms;
    int64_t recheck_at;
    /*  metrics */
    int64_t *m_clients;
    uint64_t *m_handoffs, *m_delivered, *m_receives, *m_wakes, *m_slow, *m_gone;
    uint64_t *m_rejected;
    hsn_hist_t *m_longpoll;
    uint64_t dummy_counter;
    int64_t dummy_gauge;
    hsn_hist_t *dummy_hist;
};

/*  gateway_hub_client.c */
/*  Register a handed-over client's socket (non-blocking, in epoll) and,
 *  for a stream, queue its response head. Returns 0 or -errno. */
int hub_client_open (gateway_hub_t *self, hub_client_t *c);
/*  Write what is buffered (on EPOLLOUT, or after queueing). A long-poll
 *  whose answer is out is closed; a failed socket is closed. Returns 0, or
 *  -1 when c was closed (freed). */
int hub_client_flush (gateway_hub_t *self, hub_client_t *c);
/*  Readable or hung up: drop what the client sends; close on EOF or error.
 *  Returns 0, or -1 when c was closed. */
int hub_client_readable (gateway_hub_t *self, hub_client_t *c);
/*  Close and free (unlinks it from its agent). */
void hub_client_close (gateway_hub_t *self, hub_client_t *c, uint64_t *why);
/*  Long-poll: queue the answer (data JSON, or an error when code is set)
 *  and flush. Returns as hub_client_flush. */
int hub_client_answer (gateway_hub_t *self, hub_client_t *c, int status,
                       const char *data_json, size_t data_len, const char *code,
                       const char *message);
/*  Stream: a keepalive tick. Returns as hub_client_flush. */
int hub_client_tick (gateway_hub_t *self, hub_client_t *c, int64_t now);
/*  Is c waiting for messages (an unanswered long-poll, or a stream with
 *  nothing left to write)? */
bool hub_client_ready (const hub_client_t *c);

/*  gateway_hub_agent.c */
/*  Issue agent.receive for a when it has a ready client and none is out. */
void hub_agent_receive (gateway_hub_t *self, hub_agent_t *a);
/*  Drop a from the map when it has no clients and no receive out. */
void hub_agent_release (gateway_hub_t *self, hub_agent_t *a);
/*  A wake for agent id. */
void hub_wake (gateway_hub_t *self, const char *id, size_t len);
/*  Receive for every agent with clients (the subscription was lost or is
 *  back: wakes may have been missed). */
void hub_recheck_all (gateway_hub_t *self);

/*  Make sure the timers run by at. */
void hub_sweep_soon (gateway_hub_t *self, int64_t at);
/*  Run what is due (long-poll deadlines, keepalives, receives unanswered
 *  too long, retries) and note when the next thing is. */
void hub_sweep (gateway_hub_t *self, int64_t now);
/*  Read the replies that arrived on the DEALER and deliver them. */
void hub_drain_dealer (gateway_hub_t *self);

/*  gateway_hub_wake.c */
/*  Subscribe when due (backoff). */
void hub_wake_connect (gateway_hub_t *self, int64_t now);
/*  The subscription's socket is readable. */
void hub_wake_read (gateway_hub_t *self, int64_t now);
/*  Drop the subscription (on error or at exit). */
void hub_wake_drop (gateway_hub_t *self, int64_t now);

#define HUB_WAKE_CHANNEL "hsn:ab:wake"

#endif
