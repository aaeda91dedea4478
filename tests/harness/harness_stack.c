/*  hsn_stack: hsn services as processes for integration tests. */
#include "hsn_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Read the "started" line's ports out of the gateway log. */
static bool
gateway_ports (hsn_proc_t *gw, int *http, int *broker)
{
    size_t len;
    char *log = hsn_read_file (hsn_proc_log_path (gw), &len);
    if (!log)
        return false;
    char *p = strstr (log, "\"msg\":\"http port ");
    bool ok = p && sscanf (p, "\"msg\":\"http port %d, broker %*s (port %d)", http, broker) == 2;
    free (log);
    return ok;
}

static hsn_stack_t *
try_start (const char *expected, bool with_redis, const char *redis_conf,
           char *const gateway_env[])
{
    hsn_stack_t *s = (hsn_stack_t *) calloc (1, sizeof *s);
    if (with_redis && !(s->redis = hsn_redis_start (redis_conf))) {
        free (s);
        return NULL;
    }
    /*  The gateway picks its own HTTP and broker ports; the monitor's must
     *  be known before the gateway starts (its reporter connects to it), so
     *  that one is probed, and a lost race shows as a failed bind below. */
    s->monitor_port = hsn_free_port ();
    char monitor_ep[64], monitor_bind[64], expect[128];
    snprintf (monitor_ep, sizeof monitor_ep, "MONITOR_ENDPOINT=tcp://127.0.0.1:%d", s->monitor_port);
    snprintf (monitor_bind, sizeof monitor_bind, "MONITOR_BIND=tcp://127.0.0.1:%d", s->monitor_port);
    snprintf (expect, sizeof expect, "MONITOR_EXPECTED_SERVICES=%s", expected);
    char redis_url[96];
    snprintf (redis_url, sizeof redis_url, "REDIS_URL=%s",
              s->redis ? hsn_redis_url (s->redis) : "redis://127.0.0.1:1");
    char *gw_env[24] = { monitor_ep, "BROKER_BIND=tcp://127.0.0.1:*", "GATEWAY_PORT=0",
                         "GATEWAY_ADDR=127.0.0.1", "HEARTBEAT_INTERVAL_MS=200",
                         "LOG_LEVEL=info", redis_url, NULL };
    for (int i = 0, n = 7; gateway_env && gateway_env[i] && n < 23; i++)
        gw_env[n++] = gateway_env[i];
    char *gw_argv[] = { "hsn-gateway", NULL };
    s->gateway = hsn_proc_start (hsn_bin ("hsn-gateway"), gw_argv, gw_env);
    if (!s->gateway || !hsn_proc_wait_log (s->gateway, "\"started\"", 10000)
        || !gateway_ports (s->gateway, &s->http_port, &s->broker_port)) {
        if (s->gateway)
            hsn_proc_dump_log (s->gateway, stderr, 4096);
        hsn_stack_stop (&s);
        return NULL;
    }
    snprintf (s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->http_port);
    int n = 0;
    snprintf (s->env[n++], sizeof s->env[0], "BROKER_ENDPOINT=tcp://127.0.0.1:%d", s->broker_port);
    snprintf (s->env[n++], sizeof s->env[0], "%s", monitor_ep);
    snprintf (s->env[n++], sizeof s->env[0], "HEARTBEAT_INTERVAL_MS=200");
    snprintf (s->env[n++], sizeof s->env[0], "REDIS_URL=%s",
              s->redis ? hsn_redis_url (s->redis) : "redis://127.0.0.1:1");
    snprintf (s->env[n++], sizeof s->env[0], "%s", monitor_bind);
    snprintf (s->env[n++], sizeof s->env[0], "%s", expect);
    for (int i = 0; i < n; i++)
        s->envp[i] = s->env[i];
    s->envp[n] = NULL;
    char *mon_argv[] = { "hsn-monitor", NULL };
    s->monitor = hsn_proc_start (hsn_bin ("hsn-monitor"), mon_argv, s->envp);
    if (!s->monitor || !hsn_proc_wait_log (s->monitor, "\"started\"", 10000)) {
        hsn_stack_stop (&s);
        return NULL;
    }
    return s;
}

static bool
monitor_sees_gateway (void *arg)
{
    return hsn_stack_replicas_up ((hsn_stack_t *) arg, "gateway") >= 1;
}

hsn_stack_t *
hsn_stack_start (const char *expected, bool with_redis)
{
    return hsn_stack_start_env (expected, with_redis, NULL);
}

hsn_stack_t *
hsn_stack_start_env (const char *expected, bool with_redis, char *const gateway_env[])
{
    return hsn_stack_start_conf (expected, with_redis, NULL, gateway_env);
}

hsn_stack_t *
hsn_stack_start_conf (const char *expected, bool with_redis, const char *redis_conf,
                      char *const gateway_env[])
{
    for (int attempt = 0; attempt < 3; attempt++) {
        hsn_stack_t *s = try_start (expected, with_redis, redis_conf, gateway_env);
        if (s && hsn_wait_until (monitor_sees_gateway, s, 10000))
            return s;
        hsn_stack_stop (&s);
    }
    fprintf (stderr, "hsn_stack_start: stack did not come up\n");
    return NULL;
}

hsn_proc_t *
hsn_stack_add (hsn_stack_t *s, const char *name, char *const env_extra[])
{
    if (s->nprocs == HSN_STACK_MAX_PROCS)
        return NULL;
    char *env[24];
    int n = 0;
    for (int i = 0; s->envp[i] && n < 12; i++)
        env[n++] = s->envp[i];
    for (int i = 0; env_extra && env_extra[i] && n < 23; i++)
        env[n++] = env_extra[i];
    env[n] = NULL;
    char *argv[] = { (char *) name, NULL };
    hsn_proc_t *p = hsn_proc_start (hsn_bin (name), argv, env);
    if (p)
        s->procs[s->nprocs++] = p;
    return p;
}

int
hsn_stack_get (hsn_stack_t *s, const char *path, hsn_http_resp_t *out)
{
    char url[1024];
    snprintf (url, sizeof url, "%s%s", s->base_url, path);
    return hsn_http ("GET", url, NULL, 0, NULL, out);
}

int
hsn_stack_replicas_up (hsn_stack_t *s, const char *service)
{
    hsn_http_resp_t r;
    if (hsn_stack_get (s, "/api/optimization/health", &r))
        return -1;
    int up = -1;
    char needle[64];
    snprintf (needle, sizeof needle, "\"%s\":{\"status\":", service);
    const char *p = r.body ? strstr (r.body, needle) : NULL;
    const char *q = p ? strstr (p, "\"replicas_up\":") : NULL;
    if (q)
        up = atoi (q + strlen ("\"replicas_up\":"));
    hsn_http_resp_free (&r);
    return up;
}

void
hsn_stack_stop (hsn_stack_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    hsn_stack_t *s = *s_p;
    for (int i = s->nprocs - 1; i >= 0; i--)
        hsn_proc_destroy (&s->procs[i]);
    hsn_proc_destroy (&s->monitor);
    hsn_proc_destroy (&s->gateway);
    hsn_redis_stop (&s->redis);
    free (s);
    *s_p = NULL;
}
