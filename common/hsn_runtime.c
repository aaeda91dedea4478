/*  hsn_runtime: common configuration, signals, run loop. See hsn_runtime.h. */
#include "hsn_runtime.h"
#include "hsn_config.h"
#include "hsn_time.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
hsn_runtime_config_read (hsn_runtime_config_t *cfg, uint32_t service,
                         char *err, size_t errlen)
{
    hsn_runtime_config_t c;
    memset (&c, 0, sizeof c);
    c.service = service;
    long long v;
    const char *s;
    if (hsn_config_str ("BROKER_ENDPOINT", "tcp://127.0.0.1:5555", 256,
                        &c.broker_endpoint, err, errlen)
        || hsn_config_str ("MONITOR_ENDPOINT", "tcp://127.0.0.1:5556", 256,
                           &c.monitor_endpoint, err, errlen))
        return -EINVAL;
    if (hsn_config_int ("HEARTBEAT_INTERVAL_MS", 1000, 50, 60000, &v, err, errlen))
        return -EINVAL;
    c.heartbeat_ms = (uint32_t) v;
    if (hsn_config_int ("METRICS_COLLECTION_INTERVAL", 30, 1, 3600, &v, err, errlen))
        return -EINVAL;
    c.stats_interval_s = (uint32_t) v;
    if (hsn_config_bool ("PERFORMANCE_MONITORING_ENABLED", true, &c.monitoring,
                         err, errlen))
        return -EINVAL;
    if (hsn_config_int ("SHUTDOWN_TIMEOUT_MS", 9000, 0, 600000, &v, err, errlen))
        return -EINVAL;
    c.drain_ms = (uint32_t) v;
    if (hsn_config_str ("LOG_LEVEL", "info", 16, &s, err, errlen))
        return -EINVAL;
    if (hsn_log_level_parse (s, &c.log_level)) {
        snprintf (err, errlen, "invalid LOG_LEVEL '%s': must be debug, info, warn or error", s);
        return -EINVAL;
    }
    if (hsn_config_str ("HSN_REPLICA_ID", "", 100, &s, err, errlen))
        return -EINVAL;
    if (*s)
        snprintf (c.replica, sizeof c.replica, "%s", s);
    else {
        char host[64] = "localhost";
        gethostname (host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf (c.replica, sizeof c.replica, "%s:%d", host, (int) getpid ());
    }
    *cfg = c;
    return 0;
}

int
hsn_signals_block (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    int rc = pthread_sigmask (SIG_BLOCK, &set, NULL);
    if (rc)
        return -rc;                     /* returns its error, errno untouched */
    /*  czmq would install handlers that only set a flag; the signalfd is
     *  our one way of hearing signals. */
    zsys_handler_set (NULL);
    int fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

typedef struct {
    int sigfd;
    hsn_worker_t *worker;
    uint32_t drain_ms;
    hsn_drain_fn *on_drain;
    void *arg;
    int64_t drain_deadline;
    int64_t grace_deadline;
    bool draining;
} run_state_t;

static int
on_drain_check (zloop_t *loop, int timer_id, void *arg)
{
    run_state_t *st = (run_state_t *) arg;
    int64_t now = hsn_now_ms ();
    if (!st->worker || now >= st->drain_deadline)
        return -1;                      /* ends zloop_start */
    /*  Done when nothing is held and the broker confirmed it sends no more,
     *  or, if the broker is unreachable, after a short grace period. */
    if (hsn_worker_inflight (st->worker) == 0
        && (hsn_worker_released (st->worker) || now >= st->grace_deadline))
        return -1;
    return 0;
}

static int
on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_state_t *st = (run_state_t *) arg;
    struct signalfd_siginfo si;
    while (read (st->sigfd, &si, sizeof si) == sizeof si)
        ;
    if (st->draining)
        return -1;                      /* a second signal: stop now */
    st->draining = true;
    hsn_log (HSN_LOG_DEBUG, "draining", "signal received: finishing requests in flight");
    if (st->worker)
        hsn_worker_drain (st->worker);
    if (st->on_drain)
        st->on_drain (st->arg);
    st->drain_deadline = hsn_now_ms () + st->drain_ms;
    st->grace_deadline = hsn_now_ms () + 2000;
    zloop_timer (loop, 5, 0, on_drain_check, st);
    return 0;
}

void
hsn_runtime_run (zloop_t *loop, int sigfd, hsn_worker_t *worker,
                 uint32_t drain_ms, hsn_drain_fn *on_drain, void *arg)
{
    run_state_t st = { .sigfd = sigfd, .worker = worker, .drain_ms = drain_ms,
                       .on_drain = on_drain, .arg = arg };
    zmq_pollitem_t item = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &item, on_signal, &st);
    /*  Signals come through the signalfd only; czmq's interrupted flag
     *  must not end the loop behind our back. */
    zloop_set_nonstop (loop, true);
    zloop_start (loop);
    zloop_poller_end (loop, &item);
}
