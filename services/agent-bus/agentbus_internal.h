/*  agentbus_internal: what the agent-bus modules share (not public).
 *
 *  agentbus_service.c   the service: set-up, Redis connection, health
 *  agentbus_request.c   requests: validation, the pending list
 *  agentbus_pipeline.c  the batch: one pipeline of EVALSHA per wake-up, the
 *                       sends grouped into few script calls
 *  agentbus_result.c    replies: the documents built from script results
 *  agentbus_scripts.c   the Lua scripts and SCRIPT LOAD
 *  agentbus_reaper.c    the periodic tick: wake-ups for overdue messages,
 *                       queue-depth gauges
 */
#ifndef AGENTBUS_INTERNAL_H
#define AGENTBUS_INTERNAL_H

#include "agentbus_service.h"
#include "hsn_log.h"
#include "hsn_rconn.h"

#include <errno.h>

#define AB_SHA_LEN 40

typedef enum {
    AB_SCRIPT_SEND,
    AB_SCRIPT_FANOUT,
    AB_SCRIPT_SUBSCRIBE,
    AB_SCRIPT_UNSUBSCRIBE,
    AB_SCRIPT_RECEIVE,
    AB_SCRIPT_ACK,
    AB_SCRIPT_LIST,
    AB_SCRIPT_DEAD,
    AB_SCRIPT_REAP,
    AB_SCRIPT__MAX
} ab_script_t;

/*  The batch's script arguments: every pending request's ARGV, one after
 *  another in one buffer kept across batches (so a request costs no
 *  allocation once it has grown). Arguments are offsets, not pointers: the
 *  buffer moves when it grows. */
typedef struct {
    msgpack_sbuffer buf;
    size_t *off, *lens;
    size_t n, cap;
} ab_args_t;

/*  A request that needs Redis, held until the end of the batch. */
typedef struct {
    uint32_t op;                    /* HSN_OP_AGENT_* */
    hsn_route_t route;
    uint64_t rid;
    uint32_t service;
    ab_script_t script;
    size_t arg0, nargs;             /* the script's ARGV: args.off[arg0 ..] */
    size_t byte0, bytes;            /* ... and where its bytes start, how many */
    char agent[AGENTBUS_ID_MAX + 1];
    char topic[AGENTBUS_ID_MAX + 1];
    char prio;                      /* 'h', 'n', 'l' */
    bool answered;
} ab_pending_t;

/*  One script call of the batch's pipeline: one request, or a group of
 *  sends (AB_SCRIPT_SEND) -- members[start .. start + n) index pending. */
typedef struct {
    ab_script_t script;
    size_t start, n;
    bool retry;                     /* answered NOSCRIPT: run again */
    bool answered;
} ab_call_t;

#define AB_GAUGE_SLOTS 100

typedef struct {
    char agent[AGENTBUS_ID_MAX + 1];
    int64_t *gauge;
} ab_gauge_slot_t;

typedef struct {
    char agent[AGENTBUS_ID_MAX + 1];
    int64_t depth;
} ab_depth_t;

struct agentbus_service {
    agentbus_config_t cfg;
    hsn_rconn_t *redis;
    bool loaded;                    /* scripts loaded on this connection */
    char sha[AB_SCRIPT__MAX][AB_SHA_LEN + 1];
    zloop_t *loop;
    int reaper_timer;
    char token[64];                 /* this replica's reaper lease owner */
    hsn_enc_t enc;
    ab_args_t args;                 /* the pending requests' ARGV */
    const char **argv;              /* one script call's argv, for hiredis */
    size_t *argl;
    size_t cap_argv;
    ab_pending_t *pending;
    size_t npending, cap_pending;
    ab_call_t *calls;               /* the batch's script calls */
    size_t ncalls, cap_calls;
    size_t *members;                /* pending indexes, by call */
    size_t cap_members;
    /*  reaper: the scan in progress and what it found so far */
    char cursor[32];
    bool leader;
    int64_t scan_total;
    ab_depth_t top[AB_GAUGE_SLOTS];
    size_t ntop;
    ab_gauge_slot_t slots[AB_GAUGE_SLOTS];
    size_t nslots;
    /*  metrics */
    uint64_t *sent, *delivered, *redelivered, *dead_lettered, *acked, *errors;
    hsn_hist_t *latency_us;
    int64_t *depth_total;
};

/*  agentbus_service.c: the batch's arguments. add appends an argument of
 *  len bytes; addf a formatted number; mark makes the bytes written to
 *  a->buf since offset start (e.g. by a msgpack packer) one argument. Each
 *  returns 0 or -ENOMEM (nothing recorded, bytes may remain: truncate).
 *  truncate drops every argument from n on and bytes from len on; reset
 *  empties a, keeping its memory unless large; free releases it. */
int ab_args_add (ab_args_t *a, const void *data, size_t len);
int ab_args_addf (ab_args_t *a, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int ab_args_mark (ab_args_t *a, size_t start);
void ab_args_truncate (ab_args_t *a, size_t n, size_t len);
void ab_args_reset (ab_args_t *a);
void ab_args_free (ab_args_t *a);

/*  agentbus_request.c: validate a request and queue it, or answer it
 *  (400, 413, 503) at once. Send, publish and broadcast; subscribe and
 *  unsubscribe; receive, ack, list and dead-letters. */
void ab_message (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                 const hsn_env_t *req);
void ab_subscription (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                      const hsn_env_t *req);
void ab_agent_op (agentbus_service_t *self, hsn_worker_t *w, const hsn_route_t *route,
                  const hsn_env_t *req);

/*  The connection with the scripts loaded, or NULL while Redis is away. */
redisContext *ab_redis (agentbus_service_t *self);
/*  A command failed: drop the connection (scripts are loaded again). */
void ab_redis_failed (agentbus_service_t *self);

/*  agentbus_scripts.c: SCRIPT LOAD every script into sha. Returns 0, -EIO
 *  (connection broken), -EPROTO (Redis refused one). */
int ab_scripts_load (redisContext *c, char sha[][AB_SHA_LEN + 1]);

/*  agentbus_pipeline.c: run every pending request of the batch. */
void ab_pipeline_run (agentbus_service_t *self, hsn_worker_t *worker);

/*  agentbus_result.c: answer p from its script's reply r (not an error). */
void ab_answer (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p, redisReply *r);
/*  Answer a send or fan-out p from its script's code (1 done, 0 a queue
 *  full, -1 the agent limit) and value v (stream id or recipients; the
 *  agent refused). */
void ab_answer_message (agentbus_service_t *self, hsn_worker_t *w, ab_pending_t *p,
                        long long code, const redisReply *v);
/*  Error reply to p. */
void ab_reply_error (agentbus_service_t *self, hsn_worker_t *w, const ab_pending_t *p,
                     hsn_status_t status, const char *message);
/*  The priority name of a stream letter. */
const char *ab_prio_name (char p);

/*  agentbus_reaper.c */
int ab_reaper_tick (zloop_t *loop, int timer_id, void *arg);
void ab_reaper_reset (agentbus_service_t *self);

#endif
