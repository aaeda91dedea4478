/*  hsn_rig: one service handler driven end to end inside a test process.
 *
 *  A real broker (tcp for the replica, inproc for the client, as in the
 *  gateway), the handler running in an hsn_worker in its own thread with
 *  its own zloop, and a client to call it. The service is made and
 *  destroyed on the replica's thread (services are single-threaded), and
 *  tests can run code there through commands.
 */
#ifndef HSN_RIG_H
#define HSN_RIG_H

#include <czmq.h>
#include "gateway/gateway_broker.h"
#include "hsn_client.h"
#include "hsn_worker.h"

typedef struct {
    uint32_t service;               /* HSN_SERVICE_* the replica serves */
    uint32_t heartbeat_ms;
    /*  On the replica's thread: make the service (it may watch sockets in
     *  loop) and fill wcfg's credits, handler, arg and batch_end. 0, or -1
     *  (after saying why on stderr) to fail the start. */
    int (*open) (zloop_t *loop, hsn_worker_config_t *wcfg, void *arg);
    /*  On the replica's thread, after its loop ends: destroy the service. */
    void (*close) (void *arg);
    /*  On the replica's thread: answer a test's command (NULL: no answer). */
    const char *(*command) (const char *cmd, void *arg);
    void *arg;
} hsn_rig_config_t;

typedef struct hsn_rig hsn_rig_t;

/*  Start broker, client and replica; wait (deadline 5 s) until the broker
 *  has the replica. NULL on failure. */
hsn_rig_t *hsn_rig_start (const hsn_rig_config_t *cfg);

/*  Stop the replica, then the client and the broker. NULL-safe; nulls. */
void hsn_rig_stop (hsn_rig_t **self_p);

hsn_client_t *hsn_rig_client (hsn_rig_t *self);
gateway_broker_t *hsn_rig_broker (hsn_rig_t *self);

/*  Run cmd on the replica's thread and return its answer (caller frees
 *  with zstr_free). The command callback must answer cmd. */
char *hsn_rig_command (hsn_rig_t *self, const char *cmd);

#endif
