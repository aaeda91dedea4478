/*  hsn-gateway: the public HTTP port and the request broker. */
#include "gateway_broker.h"
#include "gateway_http.h"
#include "gateway_hub.h"
#include "hsn_config.h"
#include "hsn_log.h"
#include "hsn_reporter.h"
#include "hsn_runtime.h"

#include <civetweb.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
main (void)
{
    int sigfd = hsn_signals_block ();
    hsn_log_init ("gateway", "-", HSN_LOG_INFO);
    hsn_runtime_config_t rt;
    char err[256];
    const char *addr, *broker_bind, *redis_url;
    long long port, threads, timeout_ms, max_body, keepalive, queue_max, broker_timeout;
    long long near_size, near_bytes, request_timeout, max_request, min_compression;
    long long max_inflight, queue_max_http, queue_timeout, breaker_failures, breaker_open_ms;
    long long retry_pct, hub_max, sse_keepalive, front_threads;
    double rate_rps;
    long long rate_burst;
    bool compression, front;
    const char *api_keys, *api_keys_file;
    if (sigfd < 0
        || hsn_runtime_config_read (&rt, HSN_SERVICE_GATEWAY, err, sizeof err)
        || hsn_config_int ("GATEWAY_PORT", 8080, 0, 65535, &port, err, sizeof err)
        || hsn_config_str ("GATEWAY_ADDR", "0.0.0.0", 64, &addr, err, sizeof err)
        || hsn_config_str ("BROKER_BIND", "tcp://0.0.0.0:5555", 256, &broker_bind, err, sizeof err)
        || hsn_config_int ("GATEWAY_THREADS", 1100, 2, 8192, &threads, err, sizeof err)
        || hsn_config_int ("BACKEND_TIMEOUT_MS", 5000, 10, 600000, &timeout_ms, err, sizeof err)
        || hsn_config_int ("GATEWAY_MAX_BODY_BYTES", 2 * 1024 * 1024, 1024, 64 * 1024 * 1024,
                           &max_body, err, sizeof err)
        || hsn_config_int ("GATEWAY_KEEPALIVE_MS", 5000, 100, 600000, &keepalive, err, sizeof err)
        || hsn_config_int ("BROKER_QUEUE_MAX", 10000, 1, 10000000, &queue_max, err, sizeof err)
        || hsn_config_int ("BROKER_REQUEST_TIMEOUT_MS", 5000, 100, 3600000, &broker_timeout,
                           err, sizeof err)
        || hsn_config_str ("REDIS_URL", "redis://127.0.0.1:6379", 512, &redis_url, err, sizeof err)
        || hsn_config_int ("GATEWAY_NEAR_CACHE_SIZE", 10000, 0, 100000000, &near_size,
                           err, sizeof err)
        || hsn_config_int ("GATEWAY_NEAR_CACHE_BYTES", 64LL << 20, 1LL << 16, 1LL << 40,
                           &near_bytes, err, sizeof err)
        || hsn_config_int ("GATEWAY_REQUEST_TIMEOUT_MS", 10000, 100, 600000, &request_timeout,
                           err, sizeof err)
        || hsn_config_int ("GATEWAY_MAX_REQUEST_BYTES", 16384, 1024, 1048576, &max_request,
                           err, sizeof err)
        || hsn_config_bool ("ENABLE_COMPRESSION", true, &compression, err, sizeof err)
        || hsn_config_int ("MIN_COMPRESSION_SIZE", 1024, 0, 1LL << 30, &min_compression,
                           err, sizeof err)
        || hsn_config_int ("MAX_CONCURRENT_OPERATIONS", 50, 1, 100000, &max_inflight,
                           err, sizeof err)
        || hsn_config_int ("GATEWAY_QUEUE_MAX", 200, 0, 1000000, &queue_max_http, err, sizeof err)
        || hsn_config_int ("GATEWAY_QUEUE_TIMEOUT_MS", 100, 1, 60000, &queue_timeout,
                           err, sizeof err)
        || hsn_config_double ("RATE_LIMIT_RPS", 0, 0, 1e9, &rate_rps, err, sizeof err)
        || hsn_config_int ("RATE_LIMIT_BURST", 100, 1, 1000000000, &rate_burst, err, sizeof err)
        || hsn_config_int ("BREAKER_FAILURES", 5, 0, 1000000, &breaker_failures, err, sizeof err)
        || hsn_config_int ("BREAKER_OPEN_MS", 5000, 10, 3600000, &breaker_open_ms, err, sizeof err)
        || hsn_config_int ("RETRY_BUDGET_PCT", 10, 0, 100, &retry_pct, err, sizeof err)
        || hsn_config_str ("API_KEYS", "", 65536, &api_keys, err, sizeof err)
        || hsn_config_str ("API_KEYS_FILE", "", 4096, &api_keys_file, err, sizeof err)
        || hsn_config_int ("GATEWAY_HUB_MAX", 10000, 0, 1000000, &hub_max, err, sizeof err)
        || hsn_config_int ("GATEWAY_SSE_KEEPALIVE_MS", 15000, 100, 300000, &sse_keepalive,
                           err, sizeof err)
        || hsn_config_bool ("GATEWAY_FRONT", true, &front, err, sizeof err)
        || hsn_config_int ("GATEWAY_FRONT_THREADS", 0, 0, 64, &front_threads, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", sigfd < 0 ? "cannot block signals" : err);
        return 2;
    }
    hsn_log_init ("gateway", rt.replica, rt.log_level);
    gateway_auth_t *auth = gateway_auth_new (api_keys, api_keys_file, err, sizeof err);
    if (!auth) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", err);
        return 2;
    }
    if (gateway_auth_count (auth) == 0)
        hsn_log (HSN_LOG_WARN, "open", "no API_KEYS or API_KEYS_FILE: every route is open to anyone "
                 "who can reach port %lld", port);
    gateway_guard_config_t gcfg = { rate_rps, (uint32_t) rate_burst, (uint32_t) max_inflight,
                                    (uint32_t) queue_max_http, (uint32_t) queue_timeout,
                                    (uint32_t) breaker_failures, (uint32_t) breaker_open_ms,
                                    (uint32_t) retry_pct };
    gateway_guard_t *guard = gateway_guard_new (&gcfg);
    /*  One civetweb thread per connection, each with a broker socket made
     *  on its first call: allow more sockets than libzmq's default 1023. */
    zsys_set_max_sockets ((size_t) threads + 64);
    mg_init_library (0);

    gateway_broker_config_t bcfg = { broker_bind, "inproc://hsn-broker", rt.heartbeat_ms,
                                     (uint32_t) queue_max, (uint32_t) broker_timeout, 3 };
    gateway_broker_t *broker = gateway_broker_new (&bcfg);
    if (!broker) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot bind BROKER_BIND '%s'", broker_bind);
        return 2;
    }
    hsn_metrics_t *metrics = hsn_metrics_new ();
    /*  Every hub client holds a descriptor: raise the soft limit as far as
     *  the hard one allows, and hold fewer clients than GATEWAY_HUB_MAX when
     *  even that is short (a refused client gets 503; a failing accept
     *  would hurt everyone). */
    /*  The front holds a client and, while relaying, an upstream socket per
     *  connection: as many connections as civetweb threads and hub waiters
     *  together. */
    if (front && front_threads == 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        front_threads = cores < 1 ? 1 : cores > 16 ? 16 : cores;
    }
    long long front_conns = front ? threads + hub_max : 0;
    struct rlimit rl;
    long long need = hub_max + threads * 2 + 2048 + front_conns * 2;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) need
        && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < (rlim_t) need ? rl.rlim_max : (rlim_t) need;
        setrlimit (RLIMIT_NOFILE, &rl);
    }
    long long nofile = getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1ull << 30)
                       ? (long long) rl.rlim_cur : 1LL << 30;
    if (nofile < need) {
        long long fit = (nofile - threads * 2 - 2048) / (front ? 3 : 1);
        hsn_log (HSN_LOG_WARN, "hub_limit", "RLIMIT_NOFILE %lld is short of the %lld descriptors "
                 "GATEWAY_HUB_MAX=%lld needs: holding at most %lld waiting clients", nofile, need,
                 hub_max, fit > 0 ? fit : 0);
        hub_max = fit > 0 ? fit : 0;
        front_conns = front ? threads + hub_max : 0;
    }
    /*  civetweb's descriptors lowest, the front's above them, the hub's
     *  highest: finding a connection's socket (gateway_takeover) then
     *  searches civetweb's only. */
    int front_base = nofile >= need ? (int) (threads * 2 + 2048) : 0;
    int fd_base = nofile >= need ? (int) (front_base + front_conns * 2) : 0;
    gateway_hub_config_t hubcfg = { "inproc://hsn-broker", redis_url, (uint32_t) hub_max,
                                    (uint32_t) timeout_ms, (uint32_t) sse_keepalive, 1000,
                                    8u << 20, fd_base, metrics };
    gateway_hub_t *hub = hub_max > 0 ? gateway_hub_new (&hubcfg) : NULL;
    if (hub_max > 0 && !hub) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot start the agent hub (REDIS_URL '%s')", redis_url);
        gateway_broker_destroy (&broker);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    /*  The near-cache is off with size 0; a REDIS_URL it cannot parse is a
     *  configuration error, one it cannot reach only keeps it empty. */
    gateway_near_t *near = gateway_near_new (redis_url, (size_t) near_size, (size_t) near_bytes,
                                             metrics);
    if (near_size > 0 && !near) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                 redis_url);
        gateway_hub_destroy (&hub);
        gateway_broker_destroy (&broker);
        return 2;
    }
    char listen[128];
    if (front)
        snprintf (listen, sizeof listen, "127.0.0.1:0");
    else
        snprintf (listen, sizeof listen, "%s:%lld", addr, port);
    gateway_http_config_t hcfg = { listen, addr, (int) port, front ? (uint32_t) front_threads : 0,
                                   (uint32_t) (front_conns ? front_conns : 1), front_base,
                                   "inproc://hsn-broker", (uint32_t) threads,
                                   (uint32_t) timeout_ms, (uint32_t) max_body,
                                   (uint32_t) keepalive, (uint32_t) request_timeout,
                                   (uint32_t) max_request, compression,
                                   (uint32_t) min_compression, metrics, near, guard, auth, hub };
    gateway_http_t *http = gateway_http_new (&hcfg);
    if (!http) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot listen on GATEWAY_ADDR:GATEWAY_PORT '%s:%lld'",
                 addr, port);
        gateway_near_destroy (&near);
        gateway_hub_destroy (&hub);
        gateway_broker_destroy (&broker);
        hsn_metrics_destroy (&metrics);
        return 2;
    }
    hsn_reporter_config_t rcfg = { rt.monitor_endpoint, HSN_SERVICE_GATEWAY, rt.replica,
                                   rt.heartbeat_ms, rt.stats_interval_s, rt.monitoring,
                                   metrics, { NULL } };
    hsn_reporter_t *reporter = hsn_reporter_new (&rcfg);
    if (!reporter) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid MONITOR_ENDPOINT '%s'", rt.monitor_endpoint);
        return 2;
    }
    hsn_log (HSN_LOG_INFO, "started", "http port %d, broker %s (port %d)",
             gateway_http_port (http), broker_bind, gateway_broker_port (broker));

    /*  Nothing else to do in this thread: wait for SIGTERM/SIGINT. */
    struct pollfd pfd = { sigfd, POLLIN, 0 };
    while (poll (&pfd, 1, -1) < 0)
        ;
    struct signalfd_siginfo si;
    while (read (sigfd, &si, sizeof si) == sizeof si)
        ;
    hsn_log (HSN_LOG_INFO, "draining", "signal received: finishing requests in flight");

    /*  Reverse order: stop taking HTTP (civetweb finishes the requests it
     *  holds), then the broker they used, then reporting. */
    gateway_http_destroy (&http);
    gateway_hub_destroy (&hub);
    gateway_near_destroy (&near);
    gateway_broker_destroy (&broker);
    hsn_reporter_destroy (&reporter);
    gateway_guard_destroy (&guard);
    gateway_auth_destroy (&auth);
    hsn_metrics_destroy (&metrics);
    mg_exit_library ();
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
