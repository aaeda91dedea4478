/*  gateway_guard: what protects backends and clients from each other.
 *
 *  - rate limiting: a token bucket per client (API key, else address),
 *    refilled at rps up to burst; buckets live in bounded sharded LRU
 *    stores, so one noisy client costs others nothing and a flood of new
 *    addresses cannot grow memory;
 *  - circuit breakers, one per backend service: closed -> open after
 *    `failures` consecutive failures; open answers at once for `open_ms`;
 *    then half-open lets one probe through, whose result closes or reopens;
 *  - concurrency: at most `max_inflight` backend calls at once, then a
 *    short bounded queue with a deadline, then "overloaded";
 *  - a retry budget: retries stay under `retry_pct` % of calls.
 *  All thread-safe (civetweb calls from many threads).
 */
#ifndef GATEWAY_GUARD_H
#define GATEWAY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gateway_guard gateway_guard_t;

typedef struct {
    double rate_rps;                /* RATE_LIMIT_RPS, 0: no limit */
    uint32_t rate_burst;            /* RATE_LIMIT_BURST */
    uint32_t max_inflight;          /* MAX_CONCURRENT_OPERATIONS */
    uint32_t queue_max;             /* GATEWAY_QUEUE_MAX */
    uint32_t queue_timeout_ms;      /* GATEWAY_QUEUE_TIMEOUT_MS */
    uint32_t breaker_failures;      /* BREAKER_FAILURES */
    uint32_t breaker_open_ms;       /* BREAKER_OPEN_MS */
    uint32_t retry_pct;             /* RETRY_BUDGET_PCT */
} gateway_guard_config_t;

gateway_guard_t *gateway_guard_new (const gateway_guard_config_t *cfg);
void gateway_guard_destroy (gateway_guard_t **self_p);

/*  Take a token for client. true: allowed. Either way *remaining is the
 *  tokens left (UINT32_MAX when there is no limit) and *reset_s the seconds
 *  until the bucket is full again; when refused, *retry_after_s says when
 *  one token will be there. */
bool gateway_guard_rate (gateway_guard_t *self, const char *client, size_t len,
                         int64_t now_us, uint32_t *remaining, uint32_t *reset_s,
                         uint32_t *retry_after_s);

/*  The bucket size (RateLimit-Limit). */
uint32_t gateway_guard_burst (const gateway_guard_t *self);

/*  Before calling service: 0 (go; *probe says whether this is the
 *  half-open probe), or -EAGAIN while the breaker is open, with
 *  *retry_after_ms until it half-opens. */
int gateway_guard_breaker_enter (gateway_guard_t *self, uint32_t service, int64_t now_ms,
                                 bool *probe, uint32_t *retry_after_ms);

/*  After the call: did the backend fail (timeout, no replica, replica
 *  lost)? probe as returned by enter. */
void gateway_guard_breaker_done (gateway_guard_t *self, uint32_t service, bool failed,
                                 bool probe, int64_t now_ms);

/*  A probe (probe true from enter) that was never sent: the breaker stays
 *  half-open for the next caller to probe. */
void gateway_guard_breaker_cancel (gateway_guard_t *self, uint32_t service);

/*  "closed", "open" or "half-open". */
const char *gateway_guard_breaker_state (gateway_guard_t *self, uint32_t service);

/*  A slot for a backend call: 0, -EBUSY (queue full) or -ETIMEDOUT (waited
 *  queue_timeout_ms). Release with gateway_guard_release. */
int gateway_guard_acquire (gateway_guard_t *self);
void gateway_guard_release (gateway_guard_t *self);

/*  A slot without waiting: 0, or -EBUSY (all taken, or others wait). */
int gateway_guard_try_acquire (gateway_guard_t *self);

/*  Count a call; may it be retried within the budget? (counts the retry) */
void gateway_guard_count_call (gateway_guard_t *self);
bool gateway_guard_may_retry (gateway_guard_t *self);

#endif
