/*  hsn_agentc: a test client for the agent bus, through the broker or HTTP.
 *
 *  With a broker endpoint ("tcp://..."), it talks to the agent-bus service
 *  over the gateway's broker (hsn_stack's broker_port) with hsn_client, so
 *  a test of the bus does not depend on the gateway's HTTP routes. With the
 *  gateway's base URL ("http://127.0.0.1:PORT") it makes the same calls on
 *  the /api/agents routes, an error answer mapped back to the status its
 *  "code" names (502 worker_lost -> HSN_STATUS_WORKER_LOST, ...); there
 *  timeout_ms is ignored (hsn_http's 10 s applies). Payloads are {"seq": N}:
 *  tests count every message by its sequence number. See docs/AGENT_BUS.md.
 *
 *  One client per thread (it owns a ZeroMQ socket). Calls return the reply's
 *  status (HSN_STATUS_*, >= 0) when a reply came, or a negative errno:
 *  -ETIMEDOUT (no reply within timeout_ms; over HTTP, no answer at all),
 *  -EIO (socket failure), -EBADMSG (a reply that is not what the contract
 *  says; reason on stderr), -EPROTO (an HTTP error naming no known status).
 */
#ifndef HSN_AGENTC_H
#define HSN_AGENTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hsn_agentc hsn_agentc_t;

/*  Longest message id the client keeps ("h-<ms>-<seq>" is at most 43). */
#define HSN_AGENTC_ID_MAX 64

/*  One received message, as the tests need it. */
typedef struct {
    char id[HSN_AGENTC_ID_MAX];
    bool has_seq;               /* the payload was {"seq": N} */
    uint64_t seq;
    uint64_t deliveries;        /* 0 when the message had none */
} hsn_agentc_msg_t;

/*  A client on the broker at endpoint ("tcp://127.0.0.1:PORT"), or on the
 *  gateway's HTTP routes when endpoint starts with "http://". NULL on a bad
 *  endpoint. */
hsn_agentc_t *hsn_agentc_new (const char *endpoint);

/*  NULL-safe; nulls *self_p. */
void hsn_agentc_destroy (hsn_agentc_t **self_p);

/*  agent.send of {"seq": seq} to agent. On CREATED, id (when not NULL, of
 *  id_size bytes) gets the message id from the reply's result; a CREATED
 *  reply without one is -EBADMSG. Returns the status or -errno. */
int hsn_agentc_send_seq (hsn_agentc_t *self, const char *agent, uint64_t seq,
                         int timeout_ms, char *id, size_t id_size);

/*  agent.receive of up to max messages for agent. On OK, out[0..*n) gets
 *  them in the order given (more than cap is -EBADMSG). Returns the status
 *  or -errno; *n is 0 unless OK. */
int hsn_agentc_receive (hsn_agentc_t *self, const char *agent, uint32_t max,
                        int timeout_ms, hsn_agentc_msg_t *out, size_t cap, size_t *n);

/*  agent.ack of ids[0..n) for agent. On OK, *acked (when not NULL) gets the
 *  reply's "acked". Returns the status or -errno. */
int hsn_agentc_ack (hsn_agentc_t *self, const char *agent, const char *const ids[],
                    size_t n, int timeout_ms, uint64_t *acked);

#endif
