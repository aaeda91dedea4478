/*  gateway_guard: rate limits, breakers, concurrency, retry budget.
 *  See gateway_guard.h. */
#include "gateway_guard.h"
#include "hsn_proto.h"
#include "hsn_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_SHARDS 32
#define RATE_CLIENTS 100000         /* buckets kept; the idlest go first */

typedef struct {
    double tokens;
    int64_t last_us;
} bucket_t;

typedef struct {
    pthread_mutex_t lock;
    hsn_store_t *buckets;
} rate_shard_t;

typedef enum { CLOSED, OPEN, HALF_OPEN } breaker_state_t;

typedef struct {
    breaker_state_t state;
    uint32_t failures;
    int64_t open_until_ms;
    bool probing;
} breaker_t;

struct gateway_guard {
    gateway_guard_config_t cfg;
    rate_shard_t shards[RATE_SHARDS];
    pthread_mutex_t breaker_lock;
    breaker_t breakers[HSN_SERVICE__MAX];
    pthread_mutex_t slot_lock;
    pthread_cond_t slot_free;
    uint32_t inflight, waiting;
    uint64_t calls, retries;
};

gateway_guard_t *
gateway_guard_new (const gateway_guard_config_t *cfg)
{
    gateway_guard_t *self = (gateway_guard_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    for (int i = 0; i < RATE_SHARDS; i++) {
        pthread_mutex_init (&self->shards[i].lock, NULL);
        hsn_store_config_t scfg = { RATE_CLIENTS / RATE_SHARDS, 64 << 20, 0 };
        self->shards[i].buckets = hsn_store_new (&scfg);
    }
    pthread_mutex_init (&self->breaker_lock, NULL);
    pthread_mutex_init (&self->slot_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->slot_free, &attr);
    pthread_condattr_destroy (&attr);
    return self;
}

void
gateway_guard_destroy (gateway_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_guard_t *self = *self_p;
    for (int i = 0; i < RATE_SHARDS; i++) {
        hsn_store_destroy (&self->shards[i].buckets);
        pthread_mutex_destroy (&self->shards[i].lock);
    }
    pthread_mutex_destroy (&self->breaker_lock);
    pthread_mutex_destroy (&self->slot_lock);
    pthread_cond_destroy (&self->slot_free);
    free (self);
    *self_p = NULL;
}

/*  --- rate limiting ------------------------------------------------------ */

static uint32_t
shard_of (const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t) s[i]) * 16777619u;
    return h % RATE_SHARDS;
}

bool
gateway_guard_rate (gateway_guard_t *self, const char *client, size_t len, int64_t now_us,
                    uint32_t *remaining, uint32_t *reset_s, uint32_t *retry_after_s)
{
    double rate = self->cfg.rate_rps, burst = self->cfg.rate_burst;
    if (rate <= 0) {
        *remaining = UINT32_MAX;
        *reset_s = *retry_after_s = 0;
        return true;
    }
    if (len == 0 || len > 512) {
        client = "?";
        len = 1;
    }
    rate_shard_t *sh = &self->shards[shard_of (client, len)];
    pthread_mutex_lock (&sh->lock);
    bucket_t b = { burst, now_us };
    const uint8_t *v;
    size_t vlen;
    int64_t exp;
    int64_t now_ms = now_us / 1000;
    if (hsn_store_get (sh->buckets, client, len, now_ms, &v, &vlen, &exp) == 0
        && vlen == sizeof b)
        memcpy (&b, v, sizeof b);
    double elapsed = (double) (now_us - b.last_us) / 1e6;
    b.tokens = b.tokens + elapsed * rate;
    if (b.tokens > burst)
        b.tokens = burst;
    b.last_us = now_us;
    bool ok = b.tokens >= 1.0;
    if (ok)
        b.tokens -= 1.0;
    /*  A bucket that would be full again anyway can be forgotten then. */
    int64_t full_ms = (int64_t) ((burst - b.tokens) / rate * 1000.0) + 1000;
    hsn_store_put (sh->buckets, client, len, &b, sizeof b, now_ms, now_ms + full_ms, NULL, NULL, 0);
    pthread_mutex_unlock (&sh->lock);
    *remaining = (uint32_t) b.tokens;
    *reset_s = (uint32_t) ((burst - b.tokens) / rate + 0.999);
    *retry_after_s = ok ? 0 : (uint32_t) ((1.0 - b.tokens) / rate + 0.999);
    if (!ok && *retry_after_s == 0)
        *retry_after_s = 1;
    return ok;
}

/*  --- circuit breakers ----------------------------------------------------- */

int
gateway_guard_breaker_enter (gateway_guard_t *self, uint32_t service, int64_t now_ms,
                             bool *probe, uint32_t *retry_after_ms)
{
    *probe = false;
    if (service >= HSN_SERVICE__MAX || self->cfg.breaker_failures == 0)
        return 0;
    pthread_mutex_lock (&self->breaker_lock);
    breaker_t *b = &self->breakers[service];
    int rc = 0;
    if (b->state == OPEN && now_ms >= b->open_until_ms) {
        b->state = HALF_OPEN;
        b->probing = false;
    }
    if (b->state == OPEN) {
        *retry_after_ms = (uint32_t) (b->open_until_ms - now_ms);
        rc = -EAGAIN;
    }
    else if (b->state == HALF_OPEN) {
        /*  One probe at a time; the rest are refused as if still open. */
        if (b->probing) {
            *retry_after_ms = 1000;
            rc = -EAGAIN;
        }
        else
            b->probing = *probe = true;
    }
    pthread_mutex_unlock (&self->breaker_lock);
    return rc;
}

void
gateway_guard_breaker_done (gateway_guard_t *self, uint32_t service, bool failed, bool probe,
                            int64_t now_ms)
{
    if (service >= HSN_SERVICE__MAX || self->cfg.breaker_failures == 0)
        return;
    pthread_mutex_lock (&self->breaker_lock);
    breaker_t *b = &self->breakers[service];
    if (probe)
        b->probing = false;
    if (!failed) {
        b->failures = 0;
        if (probe || b->state == HALF_OPEN)
            b->state = CLOSED;
    }
    else if (probe || ++b->failures >= self->cfg.breaker_failures) {
        b->state = OPEN;
        b->open_until_ms = now_ms + self->cfg.breaker_open_ms;
        b->failures = 0;
    }
    pthread_mutex_unlock (&self->breaker_lock);
}

void
gateway_guard_breaker_cancel (gateway_guard_t *self, uint32_t service)
{
    if (service >= HSN_SERVICE__MAX || self->cfg.breaker_failures == 0)
        return;
    pthread_mutex_lock (&self->breaker_lock);
    self->breakers[service].probing = false;
    pthread_mutex_unlock (&self->breaker_lock);
}

const char *
gateway_guard_breaker_state (gateway_guard_t *self, uint32_t service)
{
    if (service >= HSN_SERVICE__MAX)
        return "closed";
    pthread_mutex_lock (&self->breaker_lock);
    breaker_state_t st = self->breakers[service].state;
    pthread_mutex_unlock (&self->breaker_lock);
    return st == OPEN ? "open" : st == HALF_OPEN ? "half-open" : "closed";
}

/*  --- concurrency ------------------------------------------------------------ */

int
gateway_guard_acquire (gateway_guard_t *self)
{
    pthread_mutex_lock (&self->slot_lock);
    int rc = 0;
    if (self->inflight < self->cfg.max_inflight)
        self->inflight++;
    else if (self->waiting >= self->cfg.queue_max)
        rc = -EBUSY;
    else {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_sec += self->cfg.queue_timeout_ms / 1000;
        until.tv_nsec += (long) (self->cfg.queue_timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        self->waiting++;
        while (self->inflight >= self->cfg.max_inflight && rc == 0)
            if (pthread_cond_timedwait (&self->slot_free, &self->slot_lock, &until) == ETIMEDOUT)
                rc = -ETIMEDOUT;
        self->waiting--;
        if (rc == 0)
            self->inflight++;
    }
    pthread_mutex_unlock (&self->slot_lock);
    return rc;
}

int
gateway_guard_try_acquire (gateway_guard_t *self)
{
    pthread_mutex_lock (&self->slot_lock);
    /*  Not ahead of those already waiting for a slot. */
    int rc = self->inflight < self->cfg.max_inflight && !self->waiting ? 0 : -EBUSY;
    if (rc == 0)
        self->inflight++;
    pthread_mutex_unlock (&self->slot_lock);
    return rc;
}

void
gateway_guard_release (gateway_guard_t *self)
{
    pthread_mutex_lock (&self->slot_lock);
    self->inflight--;
    pthread_cond_signal (&self->slot_free);
    pthread_mutex_unlock (&self->slot_lock);
}

/*  --- retry budget ------------------------------------------------------------- */

void
gateway_guard_count_call (gateway_guard_t *self)
{
    __atomic_fetch_add (&self->calls, 1, __ATOMIC_RELAXED);
}

bool
gateway_guard_may_retry (gateway_guard_t *self)
{
    /*  Like Envoy's retry budget: retries never exceed a share of calls, so
     *  a struggling backend is not hit by a wave of retries. A floor of a
     *  few retries lets a quiet gateway retry at all. */
    uint64_t calls = __atomic_load_n (&self->calls, __ATOMIC_RELAXED);
    uint64_t retries = __atomic_load_n (&self->retries, __ATOMIC_RELAXED);
    if (retries * 100 >= calls * self->cfg.retry_pct + 300)
        return false;
    __atomic_fetch_add (&self->retries, 1, __ATOMIC_RELAXED);
    return true;
}

uint32_t
gateway_guard_burst (const gateway_guard_t *self)
{
    return self->cfg.rate_burst;
}
