/*  gateway_guard: token buckets and breakers with explicit times, the
 *  concurrency limit with real threads, the retry budget. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gateway/gateway_guard.h"
#include "hsn_proto.h"
#include "hsn_time.h"
#include "tests/harness/hsn_harness.h"
#include "tests/harness/hsn_test.h"

#define S 1000000LL             /* microseconds per second */

static gateway_guard_t *
guard (double rps, uint32_t burst, uint32_t inflight, uint32_t queue, uint32_t queue_ms,
       uint32_t failures, uint32_t open_ms, uint32_t retry_pct)
{
    gateway_guard_config_t cfg = { rps, burst, inflight, queue, queue_ms, failures, open_ms,
                                   retry_pct };
    gateway_guard_t *g = gateway_guard_new (&cfg);
    ck_assert_ptr_nonnull (g);
    return g;
}

/* ---- token bucket ---------------------------------------------------------- */

typedef struct { bool ok; uint32_t remaining, reset, retry; } take_t;

static take_t
take (gateway_guard_t *g, const char *client, int64_t now_us)
{
    take_t t;
    t.ok = gateway_guard_rate (g, client, strlen (client), now_us, &t.remaining, &t.reset,
                               &t.retry);
    return t;
}

START_TEST (bucket_starts_full_and_refuses_past_the_burst)
{
    gateway_guard_t *g = guard (2, 3, 10, 0, 100, 0, 1000, 10);
    ck_assert_uint_eq (gateway_guard_burst (g), 3);
    int64_t t0 = 1000 * S;
    take_t t = take (g, "a", t0);
    ck_assert (t.ok);
    ck_assert_uint_eq (t.remaining, 2);
    ck_assert_uint_eq (t.reset, 1);             /* 1 token at 2/s: 0.5 s, rounded up */
    t = take (g, "a", t0);
    ck_assert (t.ok);
    ck_assert_uint_eq (t.remaining, 1);
    t = take (g, "a", t0);
    ck_assert (t.ok);
    ck_assert_uint_eq (t.remaining, 0);
    ck_assert_uint_eq (t.reset, 2);             /* 3 tokens: 1.5 s, rounded up */
    t = take (g, "a", t0);
    ck_assert (!t.ok);
    ck_assert_uint_eq (t.remaining, 0);
    ck_assert_uint_eq (t.retry, 1);             /* one token in 0.5 s -> 1 */
    /*  Refused requests take nothing: still refused just before 0.5 s. */
    t = take (g, "a", t0 + 499000);
    ck_assert (!t.ok);
    ck_assert_uint_ge (t.retry, 1);
    /*  Refilled at 2 tokens/s: one token after 0.5 s (a millisecond more
     *  keeps the sums clear of rounding). */
    t = take (g, "a", t0 + S / 2 + 1000);
    ck_assert (t.ok);
    ck_assert_uint_eq (t.remaining, 0);
    t = take (g, "a", t0 + S / 2 + 1000);
    ck_assert (!t.ok);
    gateway_guard_destroy (&g);
    ck_assert_ptr_null (g);
}
END_TEST

START_TEST (bucket_refill_is_capped_at_the_burst)
{
    gateway_guard_t *g = guard (2, 3, 10, 0, 100, 0, 1000, 10);
    int64_t t0 = 50 * S;
    for (int i = 0; i < 3; i++)
        ck_assert (take (g, "a", t0).ok);
    ck_assert (!take (g, "a", t0).ok);
    /*  An hour later: 3 tokens, not 7200. */
    int64_t t1 = t0 + 3600 * S;
    for (int i = 0; i < 3; i++) {
        take_t t = take (g, "a", t1);
        ck_assert (t.ok);
        ck_assert_uint_eq (t.remaining, (uint32_t) (2 - i));
    }
    ck_assert (!take (g, "a", t1).ok);
    /*  Partial refill: 1.25 s at 2/s is 2.5 tokens: two requests pass. */
    int64_t t2 = t1 + 5 * S / 4;
    ck_assert (take (g, "a", t2).ok);
    ck_assert (take (g, "a", t2).ok);
    take_t t = take (g, "a", t2);
    ck_assert (!t.ok);
    ck_assert_uint_eq (t.retry, 1);             /* 0.5 token missing: 0.25 s -> 1 */
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (bucket_retry_after_at_slow_rates)
{
    /*  0.2 tokens/s: a refused client waits 5 s for the next token. */
    gateway_guard_t *g = guard (0.2, 1, 10, 0, 100, 0, 1000, 10);
    int64_t t0 = 10 * S;
    ck_assert (take (g, "a", t0).ok);
    take_t t = take (g, "a", t0);
    ck_assert (!t.ok);
    ck_assert_uint_eq (t.retry, 5);
    ck_assert_uint_eq (t.reset, 5);
    t = take (g, "a", t0 + 2 * S);
    ck_assert (!t.ok);
    ck_assert_uint_eq (t.retry, 3);
    ck_assert (!take (g, "a", t0 + 5 * S - 1000).ok);
    ck_assert (take (g, "a", t0 + 5 * S + 1000).ok);
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (buckets_are_per_client)
{
    gateway_guard_t *g = guard (1, 2, 10, 0, 100, 0, 1000, 10);
    int64_t t0 = 10 * S;
    ck_assert (take (g, "alice", t0).ok);
    ck_assert (take (g, "alice", t0).ok);
    ck_assert (!take (g, "alice", t0).ok);
    ck_assert (take (g, "bob", t0).ok);
    ck_assert (take (g, "bob", t0).ok);
    ck_assert (!take (g, "bob", t0).ok);
    /*  Many clients: each has its own full bucket. */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf (name, sizeof name, "10.0.%d.%d", i / 256, i % 256);
        ck_assert (take (g, name, t0).ok);
    }
    ck_assert (!take (g, "alice", t0).ok);
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (no_limit_when_rate_is_zero)
{
    gateway_guard_t *g = guard (0, 3, 10, 0, 100, 0, 1000, 10);
    for (int i = 0; i < 1000; i++) {
        take_t t = take (g, "a", 5 * S);
        ck_assert (t.ok);
        ck_assert_uint_eq (t.remaining, UINT32_MAX);
    }
    gateway_guard_destroy (&g);
}
END_TEST

/* ---- circuit breaker -------------------------------------------------------- */

#define SVC HSN_SERVICE_CACHE

static int
enter (gateway_guard_t *g, int64_t now_ms, bool *probe, uint32_t *retry_ms)
{
    *retry_ms = 0;
    return gateway_guard_breaker_enter (g, SVC, now_ms, probe, retry_ms);
}

/*  Closed with n consecutive failures at now. */
static void
fail_n (gateway_guard_t *g, int n, int64_t now_ms)
{
    for (int i = 0; i < n; i++) {
        bool probe;
        uint32_t retry;
        ck_assert_int_eq (enter (g, now_ms, &probe, &retry), 0);
        ck_assert (!probe);
        gateway_guard_breaker_done (g, SVC, true, probe, now_ms);
    }
}

START_TEST (breaker_opens_after_n_consecutive_failures)
{
    gateway_guard_t *g = guard (0, 1, 10, 0, 100, 3, 1000, 10);
    int64_t t0 = 100000;
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    fail_n (g, 2, t0);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    /*  A success resets the count. */
    bool probe;
    uint32_t retry;
    ck_assert_int_eq (enter (g, t0, &probe, &retry), 0);
    gateway_guard_breaker_done (g, SVC, false, probe, t0);
    fail_n (g, 2, t0);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    fail_n (g, 1, t0 + 10);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "open");
    /*  Open: refused at once, with the time left. */
    ck_assert_int_eq (enter (g, t0 + 10, &probe, &retry), -EAGAIN);
    ck_assert_uint_eq (retry, 1000);
    ck_assert_int_eq (enter (g, t0 + 400, &probe, &retry), -EAGAIN);
    ck_assert_uint_eq (retry, 610);
    ck_assert_int_eq (enter (g, t0 + 1009, &probe, &retry), -EAGAIN);
    ck_assert_uint_eq (retry, 1);
    /*  Other services are not affected. */
    ck_assert_int_eq (gateway_guard_breaker_enter (g, HSN_SERVICE_MONITOR, t0 + 10, &probe,
                                                   &retry), 0);
    gateway_guard_breaker_done (g, HSN_SERVICE_MONITOR, false, probe, t0 + 10);
    ck_assert_str_eq (gateway_guard_breaker_state (g, HSN_SERVICE_MONITOR), "closed");
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (breaker_half_opens_one_probe_that_closes_it)
{
    gateway_guard_t *g = guard (0, 1, 10, 0, 100, 3, 1000, 10);
    int64_t t0 = 100000;
    fail_n (g, 3, t0);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "open");
    bool probe, probe2;
    uint32_t retry;
    /*  The period is over: one probe goes through, the rest wait for it. */
    ck_assert_int_eq (enter (g, t0 + 1000, &probe, &retry), 0);
    ck_assert (probe);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "half-open");
    ck_assert_int_eq (enter (g, t0 + 1001, &probe2, &retry), -EAGAIN);
    ck_assert (!probe2);
    ck_assert_uint_gt (retry, 0);
    ck_assert_int_eq (enter (g, t0 + 1500, &probe2, &retry), -EAGAIN);
    /*  It succeeds: closed, everyone goes. */
    gateway_guard_breaker_done (g, SVC, false, probe, t0 + 1600);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq (enter (g, t0 + 1600, &probe2, &retry), 0);
        ck_assert (!probe2);
        gateway_guard_breaker_done (g, SVC, false, probe2, t0 + 1600);
    }
    /*  And it takes N fresh failures to open again. */
    fail_n (g, 2, t0 + 1700);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (breaker_failed_probe_reopens_for_a_full_period)
{
    gateway_guard_t *g = guard (0, 1, 10, 0, 100, 3, 1000, 10);
    int64_t t0 = 100000;
    fail_n (g, 3, t0);
    bool probe;
    uint32_t retry;
    ck_assert_int_eq (enter (g, t0 + 1200, &probe, &retry), 0);
    ck_assert (probe);
    gateway_guard_breaker_done (g, SVC, true, probe, t0 + 1300);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "open");
    /*  Open again from the probe's failure, for the whole period. */
    ck_assert_int_eq (enter (g, t0 + 1300, &probe, &retry), -EAGAIN);
    ck_assert_uint_eq (retry, 1000);
    ck_assert_int_eq (enter (g, t0 + 2299, &probe, &retry), -EAGAIN);
    ck_assert_int_eq (enter (g, t0 + 2300, &probe, &retry), 0);
    ck_assert (probe);
    gateway_guard_breaker_done (g, SVC, false, probe, t0 + 2300);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (breaker_disabled_with_zero_failures)
{
    gateway_guard_t *g = guard (0, 1, 10, 0, 100, 0, 1000, 10);
    fail_n (g, 100, 5000);
    ck_assert_str_eq (gateway_guard_breaker_state (g, SVC), "closed");
    /*  Out-of-range services pass too. */
    bool probe;
    uint32_t retry;
    ck_assert_int_eq (gateway_guard_breaker_enter (g, HSN_SERVICE__MAX, 0, &probe, &retry), 0);
    ck_assert_str_eq (gateway_guard_breaker_state (g, HSN_SERVICE__MAX), "closed");
    gateway_guard_destroy (&g);
}
END_TEST

/* ---- concurrency limit ------------------------------------------------------ */

START_TEST (acquire_refuses_at_once_when_no_queue)
{
    gateway_guard_t *g = guard (0, 1, 2, 0, 10000, 0, 1000, 10);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (gateway_guard_acquire (g), -EBUSY);
    ck_assert_int_lt (hsn_now_ms () - t0, 1000);    /* did not wait for the queue timeout */
    gateway_guard_release (g);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    gateway_guard_release (g);
    gateway_guard_release (g);
    gateway_guard_destroy (&g);
}
END_TEST

START_TEST (acquire_waits_then_times_out)
{
    gateway_guard_t *g = guard (0, 1, 1, 4, 200, 0, 1000, 10);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (gateway_guard_acquire (g), -ETIMEDOUT);
    ck_assert_int_ge (hsn_now_ms () - t0, 190);     /* it did wait its queue timeout */
    gateway_guard_release (g);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    gateway_guard_release (g);
    gateway_guard_destroy (&g);
}
END_TEST

typedef struct {
    gateway_guard_t *g;
    pid_t tid;
    int rc;
    int64_t waited_ms;
    bool done;
} waiter_t;

static void *
waiter (void *arg)
{
    waiter_t *w = (waiter_t *) arg;
    __atomic_store_n (&w->tid, (pid_t) syscall (SYS_gettid), __ATOMIC_RELEASE);
    int64_t t0 = hsn_now_ms ();
    w->rc = gateway_guard_acquire (w->g);
    w->waited_ms = hsn_now_ms () - t0;
    __atomic_store_n (&w->done, true, __ATOMIC_RELEASE);
    return NULL;
}

/*  Is the waiter thread blocked in futex (pthread_cond_timedwait)? */
static bool
blocked (void *arg)
{
    waiter_t *w = (waiter_t *) arg;
    pid_t tid = __atomic_load_n (&w->tid, __ATOMIC_ACQUIRE);
    if (!tid)
        return false;
    char path[64];
    snprintf (path, sizeof path, "/proc/self/task/%d/syscall", (int) tid);
    char *s = hsn_read_file (path, NULL);
    bool yes = s && atoi (s) == SYS_futex;
    free (s);
    return yes;
}

static bool
is_done (void *arg)
{
    return __atomic_load_n (&((waiter_t *) arg)->done, __ATOMIC_ACQUIRE);
}

START_TEST (release_wakes_a_waiter_and_a_full_queue_refuses)
{
    gateway_guard_t *g = guard (0, 1, 1, 1, 30000, 0, 1000, 10);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    waiter_t w = { g, 0, 1, 0, false };
    pthread_t th;
    ck_assert_int_eq (pthread_create (&th, NULL, waiter, &w), 0);
    ck_assert (hsn_wait_until (blocked, &w, 10000));
    ck_assert (!is_done (&w));
    /*  The queue (1) is taken by the waiter: the next is refused at once. */
    int64_t t0 = hsn_now_ms ();
    ck_assert_int_eq (gateway_guard_acquire (g), -EBUSY);
    ck_assert_int_lt (hsn_now_ms () - t0, 1000);
    /*  A release hands the slot to the waiter, long before its timeout. */
    gateway_guard_release (g);
    ck_assert (hsn_wait_until (is_done, &w, 10000));
    pthread_join (th, NULL);
    ck_assert_int_eq (w.rc, 0);
    ck_assert_int_lt (w.waited_ms, 30000);
    /*  It holds the slot; once it gives it back the slot is free. */
    gateway_guard_release (g);
    ck_assert_int_eq (gateway_guard_acquire (g), 0);
    gateway_guard_release (g);
    gateway_guard_destroy (&g);
}
END_TEST

/* ---- retry budget ------------------------------------------------------------ */

START_TEST (retry_budget_is_a_share_of_calls_with_a_floor)
{
    gateway_guard_t *g = guard (0, 1, 1, 0, 100, 0, 1000, 10);
    /*  A quiet gateway may retry a few times (the floor: 3). */
    int allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += gateway_guard_may_retry (g);
    ck_assert_int_eq (allowed, 3);
    /*  With 100 calls, 10 % more: 13 retries in all. */
    for (int i = 0; i < 100; i++)
        gateway_guard_count_call (g);
    for (int i = 0; i < 20; i++)
        allowed += gateway_guard_may_retry (g);
    ck_assert_int_eq (allowed, 13);
    gateway_guard_destroy (&g);

    /*  0 %: only the floor. */
    g = guard (0, 1, 1, 0, 100, 0, 1000, 0);
    for (int i = 0; i < 1000; i++)
        gateway_guard_count_call (g);
    allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += gateway_guard_may_retry (g);
    ck_assert_int_eq (allowed, 3);
    gateway_guard_destroy (&g);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_guard");
    TCase *tc = tcase_create ("rate");
    tcase_add_test (tc, bucket_starts_full_and_refuses_past_the_burst);
    tcase_add_test (tc, bucket_refill_is_capped_at_the_burst);
    tcase_add_test (tc, bucket_retry_after_at_slow_rates);
    tcase_add_test (tc, buckets_are_per_client);
    tcase_add_test (tc, no_limit_when_rate_is_zero);
    suite_add_tcase (s, tc);
    tc = tcase_create ("breaker");
    tcase_add_test (tc, breaker_opens_after_n_consecutive_failures);
    tcase_add_test (tc, breaker_half_opens_one_probe_that_closes_it);
    tcase_add_test (tc, breaker_failed_probe_reopens_for_a_full_period);
    tcase_add_test (tc, breaker_disabled_with_zero_failures);
    suite_add_tcase (s, tc);
    tc = tcase_create ("concurrency");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, acquire_refuses_at_once_when_no_queue);
    tcase_add_test (tc, acquire_waits_then_times_out);
    tcase_add_test (tc, release_wakes_a_waiter_and_a_full_queue_refuses);
    suite_add_tcase (s, tc);
    tc = tcase_create ("retry");
    tcase_add_test (tc, retry_budget_is_a_share_of_calls_with_a_floor);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
