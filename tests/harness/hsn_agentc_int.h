/*  hsn_agentc internals shared by its broker (harness_agentc.c) and HTTP
 *  (harness_agentc_http.c) transports. Not for tests. */
#ifndef HSN_AGENTC_INT_H
#define HSN_AGENTC_INT_H

#include "hsn_agentc.h"
#include "hsn_client.h"
#include "hsn_mp.h"
#include "hsn_proto.h"

struct hsn_agentc {
    char *base;                 /* HTTP: the gateway's base URL; else NULL */
    hsn_client_t *client;       /* broker: the client and its encoder */
    hsn_enc_t enc;
};

/*  One message map (a receive's {"id", "payload", "deliveries", ...}) into
 *  *m. 0, or -EBADMSG when it has no usable id. */
int hsn_agentc_parse_message (const hsn_mp_obj_t *map, hsn_agentc_msg_t *m);

/*  The HTTP transport of hsn_agentc_send_seq, _receive and _ack (hsn_http's
 *  own 10 s timeout applies). */
int hsn_agentc_http_send_seq (hsn_agentc_t *self, const char *agent, uint64_t seq,
                              char *id, size_t id_size);
int hsn_agentc_http_receive (hsn_agentc_t *self, const char *agent, uint32_t max,
                             hsn_agentc_msg_t *out, size_t cap, size_t *n);
int hsn_agentc_http_ack (hsn_agentc_t *self, const char *agent, const char *const ids[],
                         size_t n, uint64_t *acked);

#endif
