/*  hsn_rig: a service handler driven end to end in a test. See hsn_rig.h. */
#include "hsn_rig.h"
#include "hsn_harness.h"

#include <stdio.h>
#include <unistd.h>

struct hsn_rig {
    hsn_rig_config_t cfg;
    gateway_broker_t *broker;
    hsn_client_t *client;
    zactor_t *replica;
    char tcp_ep[64], inproc_ep[64];
};

static int
on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    hsn_rig_t *self = (hsn_rig_t *) arg;
    char *cmd = zstr_recv (pipe);
    int rc = !cmd || streq (cmd, "$TERM") ? -1 : 0;
    if (rc == 0 && self->cfg.command) {
        const char *answer = self->cfg.command (cmd, self->cfg.arg);
        if (answer)
            zstr_send (pipe, answer);
    }
    zstr_free (&cmd);
    return rc;
}

static void
replica_actor (zsock_t *pipe, void *args)
{
    hsn_rig_t *self = (hsn_rig_t *) args;
    zloop_t *loop = zloop_new ();
    hsn_worker_config_t wcfg = { self->tcp_ep, self->cfg.service, "rig-replica", 1,
                                 self->cfg.heartbeat_ms, NULL, NULL, NULL };
    if (self->cfg.open (loop, &wcfg, self->cfg.arg)) {
        zsock_signal (pipe, 1);
        zloop_destroy (&loop);
        return;
    }
    hsn_worker_t *w = hsn_worker_new (loop, &wcfg);
    zloop_reader (loop, pipe, on_pipe, self);
    zsock_signal (pipe, 0);
    zloop_start (loop);
    hsn_worker_destroy (&w);
    if (self->cfg.close)
        self->cfg.close (self->cfg.arg);
    zloop_destroy (&loop);
}

static bool
replica_live (void *arg)
{
    hsn_rig_t *self = (hsn_rig_t *) arg;
    return gateway_broker_replicas (self->broker, self->cfg.service) == 1;
}

hsn_rig_t *
hsn_rig_start (const hsn_rig_config_t *cfg)
{
    static int n;
    hsn_rig_t *self = (hsn_rig_t *) zmalloc (sizeof *self);
    self->cfg = *cfg;
    snprintf (self->inproc_ep, sizeof self->inproc_ep, "inproc://rig-%d-%d", getpid (), n++);
    gateway_broker_config_t bcfg = { "tcp://127.0.0.1:*", self->inproc_ep, cfg->heartbeat_ms,
                                     100, 5000, 3 };
    self->broker = gateway_broker_new (&bcfg);
    if (!self->broker) {
        hsn_rig_stop (&self);
        return NULL;
    }
    snprintf (self->tcp_ep, sizeof self->tcp_ep, "tcp://127.0.0.1:%d",
              gateway_broker_port (self->broker));
    self->client = hsn_client_new (self->inproc_ep);
    /*  zactor_new waits for the actor's signal; a failed open ends the
     *  actor at once, and the replica never registers. */
    self->replica = zactor_new (replica_actor, self);
    if (!self->client || !self->replica || !hsn_wait_until (replica_live, self, 5000)) {
        fprintf (stderr, "hsn_rig_start: the replica never registered\n");
        hsn_rig_stop (&self);
        return NULL;
    }
    return self;
}

void
hsn_rig_stop (hsn_rig_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hsn_rig_t *self = *self_p;
    zactor_destroy (&self->replica);
    hsn_client_destroy (&self->client);
    gateway_broker_destroy (&self->broker);
    free (self);
    *self_p = NULL;
}

hsn_client_t *
hsn_rig_client (hsn_rig_t *self)
{
    return self->client;
}

gateway_broker_t *
hsn_rig_broker (hsn_rig_t *self)
{
    return self->broker;
}

char *
hsn_rig_command (hsn_rig_t *self, const char *cmd)
{
    zstr_send (self->replica, cmd);
    return zstr_recv (self->replica);
}
