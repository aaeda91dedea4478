/*  hsn_stack: the hsn services started as real processes for integration
 *  tests: a Redis, the gateway (HTTP and broker on ports it picks itself and
 *  reports in its "started" log line), the monitor, and any replicas the test
 *  adds. Everything binds 127.0.0.1 and dies with the test. */
#ifndef HSN_STACK_H
#define HSN_STACK_H

#include "hsn_harness.h"

#define HSN_STACK_MAX_PROCS 16

typedef struct {
    hsn_redis_t *redis;
    hsn_proc_t *gateway, *monitor;
    hsn_proc_t *procs[HSN_STACK_MAX_PROCS];     /* replicas added by the test */
    int nprocs;
    int http_port, broker_port, monitor_port;
    char base_url[64];          /* http://127.0.0.1:PORT */
    char env[8][160];           /* K=V shared by every replica */
    char *envp[9];
} hsn_stack_t;

/*  Start Redis (when with_redis), the gateway and the monitor, with the
 *  monitor expecting `expected` (comma list of services). Waits until the
 *  gateway answers HTTP. NULL on failure (reason on stderr). */
hsn_stack_t *hsn_stack_start (const char *expected, bool with_redis);

/*  Same, with extra "K=V" entries for the gateway's environment (e.g.
 *  "GATEWAY_NEAR_CACHE_SIZE=0"), NULL-terminated. */
hsn_stack_t *hsn_stack_start_env (const char *expected, bool with_redis,
                                  char *const gateway_env[]);

/*  Same, with the lines of redis_conf (may be NULL) added to the Redis's
 *  configuration as hsn_redis_start's extra_conf does, e.g.
 *  HSN_REDIS_DURABLE_CONF for the shipped persistence policy. */
hsn_stack_t *hsn_stack_start_conf (const char *expected, bool with_redis,
                                   const char *redis_conf, char *const gateway_env[]);

/*  Start one more replica of service binary name ("hsn-cache"), with the
 *  stack's environment plus env_extra. Returns the process (owned by the
 *  stack) or NULL. */
hsn_proc_t *hsn_stack_add (hsn_stack_t *s, const char *name, char *const env_extra[]);

/*  GET path from the gateway; fills out (caller frees). Returns hsn_http's. */
int hsn_stack_get (hsn_stack_t *s, const char *path, hsn_http_resp_t *out);

/*  Number of "up" replicas of service in the health document now (-1 when
 *  health is not answerable). */
int hsn_stack_replicas_up (hsn_stack_t *s, const char *service);

/*  Stop everything (SIGTERM, then SIGKILL), print logs of processes that
 *  died unexpectedly. NULL-safe; nulls *s_p. */
void hsn_stack_stop (hsn_stack_t **s_p);

#endif
