/*  hsn-gateway: the public HTTP port and the request broker. */
#include "gateway_broker.h"
#include "gateway_http.h"
#include "hsn_config.h"
#include "hsn_log.h"
#include "hsn_reporter.h"
#include "hsn_runtime.h"

#include <civetweb.h>
#include <poll.h>
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
    long long near_size, near_bytes;
    if (sigfd < 0
        || hsn_runtime_config_read (&rt, HSN_SERVICE_GATEWAY, err, sizeof err)
        || hsn_config_int ("GATEWAY_PORT", 8080, 0, 65535, &port, err, sizeof err)
        || hsn_config_str ("GATEWAY_ADDR", "0.0.0.0", 64, &addr, err, sizeof err)
        || hsn_config_str ("BROKER_BIND", "tcp://0.0.0.0:5555", 256, &broker_bind, err, sizeof err)
        || hsn_config_int ("GATEWAY_THREADS", 128, 2, 4096, &threads, err, sizeof err)
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
                           &near_bytes, err, sizeof err)) {
        hsn_log (HSN_LOG_ERROR, "config", "%s", sigfd < 0 ? "cannot block signals" : err);
        return 2;
    }
    hsn_log_init ("gateway", rt.replica, rt.log_level);
    mg_init_library (0);

    gateway_broker_config_t bcfg = { broker_bind, "inproc://hsn-broker", rt.heartbeat_ms,
                                     (uint32_t) queue_max, (uint32_t) broker_timeout, 3 };
    gateway_broker_t *broker = gateway_broker_new (&bcfg);
    if (!broker) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot bind BROKER_BIND '%s'", broker_bind);
        return 2;
    }
    /*  The near-cache is off with size 0; a REDIS_URL it cannot parse is a
     *  configuration error, one it cannot reach only keeps it empty. */
    gateway_near_t *near = gateway_near_new (redis_url, (size_t) near_size, (size_t) near_bytes);
    if (near_size > 0 && !near) {
        hsn_log (HSN_LOG_ERROR, "config", "invalid REDIS_URL '%s': must be redis://host[:port][/db]",
                 redis_url);
        gateway_broker_destroy (&broker);
        return 2;
    }
    char listen[128];
    snprintf (listen, sizeof listen, "%s:%lld", addr, port);
    hsn_metrics_t *metrics = hsn_metrics_new ();
    gateway_http_config_t hcfg = { listen, "inproc://hsn-broker", (uint32_t) threads,
                                   (uint32_t) timeout_ms, (uint32_t) max_body,
                                   (uint32_t) keepalive, metrics, near };
    gateway_http_t *http = gateway_http_new (&hcfg);
    if (!http) {
        hsn_log (HSN_LOG_ERROR, "config", "cannot listen on GATEWAY_ADDR:GATEWAY_PORT '%s'", listen);
        gateway_near_destroy (&near);
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
    gateway_near_destroy (&near);
    gateway_broker_destroy (&broker);
    hsn_reporter_destroy (&reporter);
    hsn_metrics_destroy (&metrics);
    mg_exit_library ();
    close (sigfd);
    hsn_log (HSN_LOG_INFO, "stopped", "clean shutdown");
    return 0;
}
