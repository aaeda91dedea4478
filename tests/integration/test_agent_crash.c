/*  The agent bus's delivery guarantees through crashes, with real processes:
 *  gateway (broker) + hsn-agent-bus + redis-server, the bus spoken to
 *  through the broker's tcp endpoint (hsn_agentc), so these tests do not
 *  depend on the gateway's HTTP routes; one runs the bus crash again
 *  through those routes.
 *
 *  Every message carries a sequence number in its payload ({"seq": N}), and
 *  each is counted as lost, delivered, or duplicated:
 *    - a send the bus answered CREATED must be received (0 lost);
 *    - a send that failed (worker_lost, no_service, timeout, unavailable)
 *      is retried by its sender until CREATED, so it may arrive twice: the
 *      first attempt may have been written before the failure. Duplicates
 *      are allowed and counted, and the counts are printed.
 *  Waiting is hsn_wait_until with a deadline; the only pause is a sender's
 *  retry back-off, which paces retries and synchronises nothing.
 */
#include "hsn_agentc.h"
#include "hsn_proto.h"
#include "hsn_stack.h"
#include "hsn_test.h"
#include "hsn_time.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALL_MS        3000     /* one request's reply wait */
#define SEND_GIVE_UP_MS 90000   /* a sender stops retrying one message */
#define SENDERS        4

static hsn_stack_t *stack;
static char broker_ep[64];

static void
teardown (void)
{
    hsn_stack_stop (&stack);
}

static void
start_stack (const char *redis_conf)
{
    stack = hsn_stack_start_conf ("gateway,agent-bus,monitor", true, redis_conf, NULL);
    ck_assert_ptr_nonnull (stack);
    snprintf (broker_ep, sizeof broker_ep, "tcp://127.0.0.1:%d", stack->broker_port);
}

/*  Whether the broker has a live bus that answers (a receive for an agent
 *  nobody uses is OK). */
static bool
bus_answers (void *arg)
{
    hsn_agentc_t *c = (hsn_agentc_t *) arg;
    hsn_agentc_msg_t m[1];
    size_t n;
    return hsn_agentc_receive (c, "probe", 1, 1000, m, 1, &n) == HSN_STATUS_OK;
}

/*  Start a bus replica (env_extra: "K=V"s or NULL) and wait until it
 *  answers through the broker. */
static hsn_proc_t *
add_bus (char *const env_extra[])
{
    hsn_proc_t *bus = hsn_stack_add (stack, "hsn-agent-bus", env_extra);
    ck_assert_ptr_nonnull (bus);
    hsn_agentc_t *c = hsn_agentc_new (broker_ep);
    ck_assert_ptr_nonnull (c);
    bool up = hsn_wait_until (bus_answers, c, 15000);
    hsn_agentc_destroy (&c);
    if (!up)
        hsn_proc_dump_log (bus, stderr, 4000);
    ck_assert_msg (up, "the agent bus did not answer through the broker within 15 s");
    return bus;
}

/* ---- the tally: every sequence number, sent and received ------------------ */

typedef struct {
    bool created;               /* a send of it was answered CREATED */
    uint32_t received;          /* deliveries of it under a new id */
    uint32_t redelivered;       /* deliveries under an id seen before */
    char id[HSN_AGENTC_ID_MAX]; /* the id it was first received under */
} seq_t;

typedef struct {
    const char *agent;
    const char *endpoint;       /* broker_ep, or the gateway's base URL */
    uint32_t n;
    seq_t *seqs;
    /*  Sender side, updated by the sender threads. */
    atomic_uint created;
    atomic_uint failed[4];      /* worker_lost, no_service, timeout, unavailable+other 503s */
    atomic_int fatal;           /* first unexpected status (0: none) */
    atomic_uint fatal_seq;
    atomic_uint senders_done;
    /*  Receiver side (the test's thread). */
    uint32_t distinct, duplicates, redeliveries, foreign;
    hsn_agentc_t *rx;
} tally_t;

static tally_t *
tally_new (const char *agent, uint32_t n, const char *endpoint)
{
    tally_t *t = (tally_t *) calloc (1, sizeof *t);
    ck_assert_ptr_nonnull (t);
    t->agent = agent;
    t->endpoint = endpoint;
    t->n = n;
    t->seqs = (seq_t *) calloc (n, sizeof *t->seqs);
    ck_assert_ptr_nonnull (t->seqs);
    return t;
}

static void
tally_destroy (tally_t **t_p)
{
    if (!*t_p)
        return;
    hsn_agentc_destroy (&(*t_p)->rx);
    free ((*t_p)->seqs);
    free (*t_p);
    *t_p = NULL;
}

/*  Which failure counter a status that may be retried goes to; -1 for one
 *  that may not (a broken contract: the test fails on it). */
static int
retry_class (int st)
{
    switch (st) {
    case HSN_STATUS_WORKER_LOST:    return 0;
    case HSN_STATUS_NO_SERVICE:     return 1;
    case HSN_STATUS_TIMEOUT:
    case -ETIMEDOUT:                return 2;
    case HSN_STATUS_UNAVAILABLE:
    case HSN_STATUS_OVERLOADED:
    case HSN_STATUS_SHUTTING_DOWN:  return 3;
    default:                        return -1;
    }
}

/*  A sender's pause before retrying a failed send (1 ms doubling to 64 ms):
 *  pacing, so an absent bus is not hammered; correctness does not depend
 *  on it. */
static void
retry_backoff (int attempt)
{
    int ms = attempt < 6 ? 1 << attempt : 64;
    struct timespec ts = { 0, (long) ms * 1000000L };
    nanosleep (&ts, NULL);
}

typedef struct {
    tally_t *t;
    uint32_t first, step;
} sender_arg_t;

/*  Send seqs first, first+step, ... each until CREATED. */
static void *
sender (void *arg)
{
    sender_arg_t *a = (sender_arg_t *) arg;
    tally_t *t = a->t;
    hsn_agentc_t *c = hsn_agentc_new (t->endpoint);
    for (uint32_t seq = a->first; c && seq < t->n && !atomic_load (&t->fatal); seq += a->step) {
        int64_t give_up = hsn_now_ms () + SEND_GIVE_UP_MS;
        for (int attempt = 0; ; attempt++) {
            int st = hsn_agentc_send_seq (c, t->agent, seq, CALL_MS, NULL, 0);
            if (st == HSN_STATUS_CREATED) {
                t->seqs[seq].created = true;
                atomic_fetch_add (&t->created, 1);
                break;
            }
            int k = retry_class (st);
            if (k < 0 || hsn_now_ms () > give_up) {
                int none = 0;
                if (atomic_compare_exchange_strong (&t->fatal, &none, st ? st : -EPROTO))
                    atomic_store (&t->fatal_seq, seq);
                break;
            }
            atomic_fetch_add (&t->failed[k], 1);
            retry_backoff (attempt);
        }
    }
    hsn_agentc_destroy (&c);
    atomic_fetch_add (&t->senders_done, 1);
    return NULL;
}

typedef struct {
    tally_t *t;
    unsigned want;
} count_arg_t;

static bool
created_reached (void *arg)
{
    count_arg_t *a = (count_arg_t *) arg;
    return atomic_load (&a->t->created) >= a->want || atomic_load (&a->t->senders_done) == SENDERS;
}

static bool
some_send_failed (void *arg)
{
    tally_t *t = (tally_t *) arg;
    unsigned n = 0;
    for (int k = 0; k < 4; k++)
        n += atomic_load (&t->failed[k]);
    return n > 0 || atomic_load (&t->senders_done) == SENDERS;
}

static bool
senders_finished (void *arg)
{
    return atomic_load (&((tally_t *) arg)->senders_done) == SENDERS;
}

/*  Record one received message. */
static void
tally_receive (tally_t *t, const hsn_agentc_msg_t *m)
{
    if (!m->has_seq || m->seq >= t->n) {
        t->foreign++;
        return;
    }
    seq_t *s = &t->seqs[m->seq];
    if (s->received && strcmp (s->id, m->id) == 0) {
        s->redelivered++;
        t->redeliveries++;
        return;
    }
    if (s->received++ == 0) {
        memcpy (s->id, m->id, sizeof s->id);
        t->distinct++;
    }
    else
        t->duplicates++;
}

/*  One receive of up to 1000, tallied and acked; true once every seq that
 *  was CREATED has been received, or a receive found the queue empty (all
 *  that was received is acked, so nothing is left: what is missing now was
 *  lost). */
static bool
drain_step (void *arg)
{
    tally_t *t = (tally_t *) arg;
    static hsn_agentc_msg_t msgs[1000];
    static const char *ids[1000];
    size_t n = 0;
    if (hsn_agentc_receive (t->rx, t->agent, 1000, CALL_MS, msgs, 1000, &n) != HSN_STATUS_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        tally_receive (t, &msgs[i]);
        ids[i] = msgs[i].id;
    }
    uint64_t acked = 0;
    if (n)
        ck_assert_int_eq (hsn_agentc_ack (t->rx, t->agent, ids, n, CALL_MS, &acked),
                          HSN_STATUS_OK);
    return n == 0 || t->distinct == atomic_load (&t->created);
}

/*  Run SENDERS threads over seqs 0..n-1 of t; once crash_at sends were
 *  CREATED, crash (a callback), wait until a send has failed, recover (a
 *  callback), and wait for the senders; then drain and print the counts. */
static void
send_through_crash (tally_t *t, unsigned crash_at, void (*crash) (void), void (*recover) (void),
                    const char *what)
{
    pthread_t th[SENDERS];
    sender_arg_t args[SENDERS];
    for (uint32_t i = 0; i < SENDERS; i++) {
        args[i] = (sender_arg_t) { t, i, SENDERS };
        ck_assert_int_eq (pthread_create (&th[i], NULL, sender, &args[i]), 0);
    }
    count_arg_t at = { t, crash_at };
    bool reached = hsn_wait_until (created_reached, &at, 60000);
    unsigned created_at_crash = atomic_load (&t->created);
    if (reached && created_at_crash < t->n) {
        crash ();
        /*  The crash must hit sends in flight or the test proves nothing. */
        hsn_wait_until (some_send_failed, t, 15000);
        recover ();
    }
    bool finished = hsn_wait_until (senders_finished, t, SEND_GIVE_UP_MS + 30000);
    if (finished)
        for (int i = 0; i < SENDERS; i++)
            pthread_join (th[i], NULL);
    ck_assert_msg (finished, "the senders did not finish");
    ck_assert_msg (reached && created_at_crash < t->n,
                   "%s: the crash did not come during the sends (%u of %u created)",
                   what, created_at_crash, t->n);
    unsigned failed[4];
    for (int k = 0; k < 4; k++)
        failed[k] = atomic_load (&t->failed[k]);
    ck_assert_msg (failed[0] + failed[1] + failed[2] + failed[3] > 0,
                   "%s: no send failed, so the crash did not hit the sends", what);
    ck_assert_msg (atomic_load (&t->fatal) == 0, "%s: seq %u: send answered %d (%s)", what,
                   atomic_load (&t->fatal_seq), atomic_load (&t->fatal),
                   hsn_status_name ((uint32_t) atomic_load (&t->fatal)) ?: "errno");
    ck_assert_uint_eq (atomic_load (&t->created), t->n);

    t->rx = hsn_agentc_new (t->endpoint);
    ck_assert_ptr_nonnull (t->rx);
    hsn_wait_until (drain_step, t, 60000);
    uint32_t lost = 0;
    for (uint32_t s = 0; s < t->n; s++)
        lost += t->seqs[s].created && t->seqs[s].received == 0;
    printf ("%s: %u messages, crash after %u created; failed sends retried: worker_lost %u, "
            "no_service %u, timeout %u, unavailable %u; received %u distinct, lost %u, "
            "duplicates %u, redeliveries %u, foreign %u\n",
            what, t->n, created_at_crash, failed[0], failed[1], failed[2], failed[3],
            t->distinct, lost, t->duplicates, t->redeliveries, t->foreign);
    fflush (stdout);
    ck_assert_msg (lost == 0, "%s: %u accepted messages lost", what, lost);
    ck_assert_uint_eq (t->foreign, 0);
}

/* ---- 1. the bus is SIGKILLed during a 10k-message send ---------------------- */

static hsn_proc_t *the_bus;

static void
kill_bus (void)
{
    ck_assert_int_eq (hsn_proc_signal (the_bus, SIGKILL), 0);
    ck_assert_int_eq (hsn_proc_wait (the_bus, 10000, NULL), 0);
}

static void
restart_bus (void)
{
    the_bus = add_bus (NULL);
}

START_TEST (bus_killed_during_sends_loses_nothing)
{
    start_stack (NULL);
    the_bus = add_bus (NULL);
    tally_t *t = tally_new ("crash-bus", 10000, broker_ep);
    send_through_crash (t, 2500, kill_bus, restart_bus, "agent-bus SIGKILL");
    tally_destroy (&t);
}
END_TEST

/*  The same through the gateway's HTTP routes: 201 is the promise, a 502
 *  or 503 is retried, receive and ack are GET .../messages and POST
 *  .../acks. */
START_TEST (bus_killed_during_http_sends_loses_nothing)
{
    start_stack (NULL);
    the_bus = add_bus (NULL);
    tally_t *t = tally_new ("crash-http", 3000, stack->base_url);
    send_through_crash (t, 800, kill_bus, restart_bus, "agent-bus SIGKILL, HTTP");
    tally_destroy (&t);
}
END_TEST

/* ---- 2. a receiver takes 500 and dies without acking ------------------------- */

enum { RX_N = 500, RX_VIS_MS = 500 };

typedef struct {
    hsn_agentc_t *c;
    hsn_agentc_msg_t first[RX_N];   /* each seq's first delivery */
    hsn_agentc_msg_t msgs[RX_N];
    bool again[RX_N];
    const char *ids[RX_N];          /* the redelivered ones, to ack */
    size_t redelivered;
} rx_t;

/*  One receive by the second receiver: every message must be one the dead
 *  receiver held, under the same id, delivered at least twice. True once
 *  all of them came back. */
static bool
redelivery_step (void *arg)
{
    rx_t *x = (rx_t *) arg;
    size_t n;
    ck_assert_int_eq (hsn_agentc_receive (x->c, "crash-rx", RX_N, CALL_MS, x->msgs, RX_N, &n),
                      HSN_STATUS_OK);
    for (size_t i = 0; i < n; i++) {
        hsn_agentc_msg_t *m = &x->msgs[i];
        ck_assert (m->has_seq && m->seq < RX_N);
        ck_assert_str_eq (m->id, x->first[m->seq].id);
        ck_assert_msg (m->deliveries >= 2, "seq %u redelivered with deliveries %u",
                       (unsigned) m->seq, (unsigned) m->deliveries);
        if (!x->again[m->seq]) {
            x->again[m->seq] = true;
            x->ids[x->redelivered++] = x->first[m->seq].id;
        }
    }
    return x->redelivered == RX_N;
}

START_TEST (unacked_messages_are_redelivered)
{
    start_stack (NULL);
    char vis[64];
    snprintf (vis, sizeof vis, "AGENTBUS_VISIBILITY_TIMEOUT_MS=%d", RX_VIS_MS);
    char *env[] = { vis, NULL };
    add_bus (env);
    static rx_t x;
    memset (&x, 0, sizeof x);
    x.c = hsn_agentc_new (broker_ep);
    ck_assert_ptr_nonnull (x.c);
    for (uint64_t seq = 0; seq < RX_N; seq++)
        ck_assert_int_eq (hsn_agentc_send_seq (x.c, "crash-rx", seq, CALL_MS, NULL, 0),
                          HSN_STATUS_CREATED);

    /*  The receiver takes all 500 (first deliveries) ... */
    size_t got = 0, n;
    int64_t t0 = hsn_now_ms ();
    while (got < RX_N) {
        ck_assert_int_eq (hsn_agentc_receive (x.c, "crash-rx", RX_N, CALL_MS, x.msgs, RX_N, &n),
                          HSN_STATUS_OK);
        ck_assert_msg (n > 0, "only %zu of %d messages handed out", got, RX_N);
        for (size_t i = 0; i < n; i++) {
            hsn_agentc_msg_t *m = &x.msgs[i];
            ck_assert (m->has_seq && m->seq < RX_N);
            if (x.first[m->seq].id[0]) {
                /*  Taken again: only after its timeout ran out (a slow
                 *  machine between two receives), under the same id. */
                ck_assert_str_eq (m->id, x.first[m->seq].id);
                ck_assert_uint_ge (m->deliveries, 2);
                ck_assert_int_ge (hsn_now_ms () - t0, RX_VIS_MS);
                continue;
            }
            ck_assert_uint_eq (m->deliveries, 1);
            x.first[m->seq] = *m;
            got++;
        }
    }
    /*  ... and while their visibility timeout runs, nobody gets them. */
    ck_assert_int_eq (hsn_agentc_receive (x.c, "crash-rx", RX_N, CALL_MS, x.msgs, RX_N, &n),
                      HSN_STATUS_OK);
    if (hsn_now_ms () - t0 < RX_VIS_MS - 50)
        ck_assert_msg (n == 0, "%zu messages handed out again inside the visibility timeout", n);
    /*  The receiver dies without acking. */
    hsn_agentc_destroy (&x.c);

    /*  Another receiver of the same agent gets every one of them again,
     *  under the same id, once the visibility timeout ran out. */
    x.c = hsn_agentc_new (broker_ep);
    ck_assert_ptr_nonnull (x.c);
    hsn_wait_until (redelivery_step, &x, 20000);
    printf ("receiver died holding %d: %zu redelivered with deliveries >= 2\n", RX_N,
            x.redelivered);
    fflush (stdout);
    ck_assert_uint_eq (x.redelivered, RX_N);
    uint64_t acked = 0, total = 0;
    for (size_t i = 0; i < RX_N; i += 250) {
        ck_assert_int_eq (hsn_agentc_ack (x.c, "crash-rx", x.ids + i, 250, CALL_MS, &acked),
                          HSN_STATUS_OK);
        total += acked;
    }
    ck_assert_uint_eq (total, RX_N);
    hsn_agentc_destroy (&x.c);
}
END_TEST

/* ---- 3. Redis is SIGKILLed during sends (AOF, appendfsync always) ----------- */

/*  With the shipped policy. A SIGKILL of redis-server loses what it had not
 *  written to the AOF (everything, with appendonly no: this test then
 *  fails); what it had written but not fsynced survives in the page cache,
 *  so fsync `always` (against a machine crash) is not what this proves. */

static void
kill_redis (void)
{
    ck_assert_int_eq (hsn_redis_kill (stack->redis, SIGKILL), 0);
}

static void
restart_redis (void)
{
    ck_assert_int_eq (hsn_redis_restart (stack->redis), 0);
}

START_TEST (redis_killed_during_sends_loses_nothing)
{
    start_stack (HSN_REDIS_DURABLE_CONF);
    add_bus (NULL);
    tally_t *t = tally_new ("crash-redis", 4000, broker_ep);
    send_through_crash (t, 1500, kill_redis, restart_redis, "redis SIGKILL");
    tally_destroy (&t);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("agent-crash");
    struct { const char *name; const TTest *test; } cases[] = {
        { "bus-killed", bus_killed_during_sends_loses_nothing },
        { "bus-killed-http", bus_killed_during_http_sends_loses_nothing },
        { "receiver-died", unacked_messages_are_redelivered },
        { "redis-killed", redis_killed_during_sends_loses_nothing },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create (cases[i].name);
        tcase_add_checked_fixture (tc, NULL, teardown);
        tcase_set_timeout (tc, 240);
        tcase_add_test (tc, cases[i].test);
        suite_add_tcase (s, tc);
    }
    return s;
}

HSN_TEST_MAIN (suite)
