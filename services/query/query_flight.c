/*  query_flight: one execution shared by identical members -- the result
 *  cache, single flight, the pool job and the invalidation of a write. See
 *  query_service.h for the behaviour.
 *
 *  A cacheable flight is keyed by its cache key in svc->flights, so
 *  identical members arriving while it is in flight wait on it instead of
 *  asking again. A flight goes: cache.get (cacheable) -> pool job (miss,
 *  cache failure, or not cacheable) -> cache.invalidate-tags (a write) ->
 *  done: every waiter gets a copy of the outcome. */
#include "query_service_int.h"
#include "hsn_log.h"
#include "hsn_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- outcomes ----------------------------------------------------------- */

void
query_outcome_fail (outcome_t *o, hsn_status_t status, const char *fmt, ...)
{
    o->status = status;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (o->message, sizeof o->message, fmt, ap);
    va_end (ap);
}

static int
outcome_copy (outcome_t *to, const outcome_t *from)
{
    *to = *from;
    to->rows = NULL;
    if (from->rows) {
        to->rows = (uint8_t *) malloc (from->rows_len);
        if (!to->rows) {
            query_outcome_fail (to, HSN_STATUS_INTERNAL, "out of memory");
            return -ENOMEM;
        }
        memcpy (to->rows, from->rows, from->rows_len);
    }
    return 0;
}

/* ---- flights ------------------------------------------------------------ */

static void
flight_link (query_service_t *svc, flight_t *f)
{
    flight_t *head = (flight_t *) svc->live_flights;
    f->next = head;
    if (head)
        head->prev = f;
    svc->live_flights = f;
}

void
query_flight_free (flight_t *f)
{
    query_service_t *svc = f->svc;
    if (f->prev)
        f->prev->next = f->next;
    else
        svc->live_flights = f->next;
    if (f->next)
        f->next->prev = f->prev;
    if (f->key) {
        if (zhashx_lookup (svc->flights, f->key) == f)
            zhashx_delete (svc->flights, f->key);
        free (f->key);
    }
    query_bind_release (&f->bind);
    free (f->sql);
    free (f->out.rows);
    query_gen_unref (&f->gen);
    free (f);
}

/*  Hand the outcome to every waiter, then free the flight. */
static void
flight_complete (flight_t *f)
{
    if (f->key && zhashx_lookup (f->svc->flights, f->key) == f)
        zhashx_delete (f->svc->flights, f->key);   /* no one joins from now */
    member_t *w = f->waiters;
    f->waiters = NULL;
    while (w) {
        member_t *next = w->next_waiter;
        if (next)
            outcome_copy (&w->out, &f->out);
        else {
            /*  The last (usually the only) waiter takes the rows over. */
            w->out = f->out;
            f->out.rows = NULL;
        }
        query_member_done (w);
        w = next;
    }
    query_flight_free (f);
}

/*  "<name>:" and 40 hex digits. */
#define KEY_MAX (QUERY_NAME_MAX + 1 + 2 * QUERY_SQL_DIGEST_LEN)

/*  The cache key of def run with b, in key: "<name>:<sha1 hex>" of msgpack
 *  [sql digest (bin), [[type, text|nil]...]] -- the SQL's digest made at
 *  catalog load stands for its text, so a changed SQL still gets new keys.
 *  Returns 0, or -ENOMEM. */
static int
cache_key (query_service_t *svc, const query_def_t *def, const query_bind_t *b,
           char key[KEY_MAX + 1])
{
    msgpack_sbuffer *sb = &svc->keybuf;
    msgpack_sbuffer_clear (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_array (&pk, 2);
    rc |= msgpack_pack_bin (&pk, sizeof def->sql_digest);
    rc |= msgpack_pack_bin_body (&pk, def->sql_digest, sizeof def->sql_digest);
    rc |= msgpack_pack_array (&pk, def->nparams);
    for (size_t i = 0; i < def->nparams; i++) {
        const char *t = query_type_name (def->params[i].type);
        rc |= msgpack_pack_array (&pk, 2);
        rc |= msgpack_pack_str (&pk, strlen (t));
        rc |= msgpack_pack_str_body (&pk, t, strlen (t));
        if (b->values[i]) {
            rc |= msgpack_pack_str (&pk, strlen (b->values[i]));
            rc |= msgpack_pack_str_body (&pk, b->values[i], strlen (b->values[i]));
        }
        else
            rc |= msgpack_pack_nil (&pk);
    }
    zdigest_t *d = rc ? NULL : zdigest_new ();
    if (!d)
        return -ENOMEM;
    zdigest_update (d, (const byte *) sb->data, sb->size);
    const byte *h = zdigest_data (d);
    size_t n = strlen (def->name);
    assert (n <= QUERY_NAME_MAX && zdigest_size (d) == QUERY_SQL_DIGEST_LEN);
    memcpy (key, def->name, n);
    key[n++] = ':';
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < QUERY_SQL_DIGEST_LEN; i++) {
        key[n++] = hex[h[i] >> 4];
        key[n++] = hex[h[i] & 15];
    }
    key[n] = '\0';
    zdigest_destroy (&d);
    /*  A large value should not pin its memory until the next one. */
    if (sb->alloc > 64 * 1024) {
        msgpack_sbuffer_destroy (sb);
        msgpack_sbuffer_init (sb);
    }
    return 0;
}

static void on_job (query_job_t *job, void *arg);

/*  Run f on the pool; a refused submit completes it at once. */
static void
flight_execute (flight_t *f)
{
    query_service_t *svc = f->svc;
    query_job_t *job = &f->job;
    memset (job, 0, sizeof *job);
    job->def = f->def;
    job->index = f->index;
    job->ncatalog = query_catalog_size (f->gen->cat);
    job->generation = f->gen->generation;
    job->values = (const char *const *) f->bind.values;
    job->sql = f->sql;
    job->deadline_ms = f->deadline_ms;
    job->done = on_job;
    job->arg = f;
    uint32_t queued = query_pool_queued (svc->pool);
    int rc = query_pool_submit (svc->pool, job);
    if (rc) {
        query_count_error (svc, NULL);
        query_outcome_fail (&f->out, rc == -EAGAIN ? HSN_STATUS_OVERLOADED : HSN_STATUS_UNAVAILABLE,
                      "%s", job->err);
        flight_complete (f);
        return;
    }
    if (query_pool_queued (svc->pool) > queued)
        hsn_counter_add (svc->saturated, 1);
    query_update_gauges (svc);
}

static void
on_invalidated (hsn_status_t status, const hsn_env_t *reply, void *arg)
{
    flight_t *f = (flight_t *) arg;
    if (status != HSN_STATUS_OK) {
        const char *m = "";
        size_t ml = 0;
        if (reply)
            hsn_env_str (reply, HSN_FIELD_MESSAGE, &m, &ml);
        hsn_counter_add (f->svc->inval_errors, 1);
        hsn_log (HSN_LOG_ERROR, "invalidate-failed",
                 "query '%s' wrote but cache.invalidate-tags failed (%s%s%.*s): cached reads "
                 "may be stale up to their TTL", f->def->name, hsn_status_name (status),
                 ml ? ": " : "", (int) ml, m);
    }
    f->svc->inval_seq++;
    flight_complete (f);
}

/*  The PostgreSQL result of f's job -> f->out. */
static void
take_result (flight_t *f, query_job_t *job)
{
    query_service_t *svc = f->svc;
    outcome_t *o = &f->out;
    PGresult *res = job->res;
    const char *name = f->def ? f->def->name : "(ad-hoc)";
    if (job->rc) {
        if (job->rc == -ETIMEDOUT) {
            hsn_counter_add (svc->pool_timeouts, 1);
            query_outcome_fail (o, HSN_STATUS_TIMEOUT, "query '%s': %s", name, job->err);
        }
        else {
            query_count_error (svc, NULL);
            query_outcome_fail (o, HSN_STATUS_UNAVAILABLE, "%s", job->err);
        }
        return;
    }
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        /*  Sized for the result (a guess; it grows as needed): the
         *  sbuffer's default first block is 8 KiB, a large-bin malloc on
         *  every query however small its rows. */
        size_t guess = 16 + (size_t) PQntuples (res) * (size_t) (PQnfields (res) + 1) * 24;
        if (guess > 65536)
            guess = 65536;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sb);
        sb.data = (char *) malloc (guess);
        sb.alloc = sb.data ? guess : 0;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        if (query_types_pack_rows (&pk, &sb, res, QUERY_ROWS_MAX)) {
            /*  Could never be sent: fail before copies for waiters, a
             *  batch's other members or the cache multiply it. */
            msgpack_sbuffer_destroy (&sb);
            query_outcome_fail (o, HSN_STATUS_TOO_LARGE,
                                "query '%s': result over the %d byte limit (%d rows)", name,
                                QUERY_ROWS_MAX, PQntuples (res));
            return;
        }
        o->status = HSN_STATUS_OK;
        o->rows = (uint8_t *) sb.data;      /* taken over from the sbuffer */
        o->rows_len = sb.size;
        o->count = query_types_count (res);
        hsn_counter_add (svc->rows, o->count);
        return;
    }
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField (res, PG_DIAG_MESSAGE_DETAIL);
    if (state)
        snprintf (o->sqlstate, sizeof o->sqlstate, "%s", state);
    query_outcome_fail (o, query_status_of_sqlstate (state), "query '%s': %s%s%s", name,
                  msg ? msg : PQresStatus (st), detail ? ": " : "", detail ? detail : "");
    if (!f->def && state) {
        /*  Ad-hoc SQL is the client's: its mistakes are its own. */
        if (strncmp (state, "42", 2) == 0)
            o->status = HSN_STATUS_BAD_REQUEST;
        else if (strcmp (state, "25006") == 0)
            o->status = HSN_STATUS_FORBIDDEN;
    }
    query_count_error (svc, state);
}

static void
on_job (query_job_t *job, void *arg)
{
    flight_t *f = (flight_t *) arg;
    query_service_t *svc = f->svc;
    uint64_t took_us = (uint64_t) (hsn_now_us () - job->submitted_us);
    if (svc->wait_us && job->rc != -ETIMEDOUT)
        hsn_hist_record (svc->wait_us, job->wait_us);
    if (job->rc == 0) {
        hsn_counter_add (svc->runs, 1);
        if (f->def && f->gen->latency[f->index])
            hsn_hist_record (f->gen->latency[f->index], took_us - job->wait_us);
    }
    take_result (f, job);
    PQclear (job->res);
    job->res = NULL;
    query_update_gauges (svc);
    uint64_t ms = (took_us - job->wait_us) / 1000;
    if (job->rc == 0 && ms >= svc->cfg.slow_ms) {
        hsn_counter_add (svc->slow, 1);
        hsn_log (HSN_LOG_WARN, "slow-query", "query '%s' took %" PRIu64 " ms (waited %" PRIu64
                 " ms for a connection), %" PRIu64 " rows, status %s",
                 f->def ? f->def->name : "(ad-hoc)", ms, job->wait_us / 1000, f->out.count,
                 hsn_status_name (f->out.status));
    }
    const query_def_t *d = f->def;
    bool ok = f->out.status == HSN_STATUS_OK;
    if (ok && d && d->ninvalidates && svc->cache) {
        svc->inval_seq++;               /* no result read before now is stored */
        if (query_cache_invalidate (svc->cache, d->invalidates, d->ninvalidates,
                                    on_invalidated, f) == 0)
            return;
        on_invalidated (HSN_STATUS_OVERLOADED, NULL, f);
        return;
    }
    if (ok && f->key && !f->cache_failed && svc->inval_seq == f->inval_seq) {
        /*  {"rows": ..., "count": n}, stored fire and forget. */
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sb);
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str (&pk, 4);
        msgpack_pack_str_body (&pk, "rows", 4);
        msgpack_sbuffer_write (&sb, (const char *) f->out.rows, f->out.rows_len);
        msgpack_pack_str (&pk, 5);
        msgpack_pack_str_body (&pk, "count", 5);
        msgpack_pack_uint64 (&pk, f->out.count);
        query_cache_set (svc->cache, f->key, sb.data, sb.size, d->cache_s, d->tags, d->ntags,
                         NULL, NULL);
        msgpack_sbuffer_destroy (&sb);
    }
    flight_complete (f);
}

/*  cache.get answered: a hit completes the flight, anything else runs it. */
static void
on_cache_get (hsn_status_t status, const hsn_env_t *reply, void *arg)
{
    flight_t *f = (flight_t *) arg;
    query_service_t *svc = f->svc;
    if (status == HSN_STATUS_OK && hsn_env_has (reply, HSN_FIELD_VALUE)) {
        hsn_mp_obj_t rows, count;
        const hsn_mp_obj_t *v = &reply->fields[HSN_FIELD_VALUE];
        uint64_t ttl = f->def->cache_s;
        if (v->type == HSN_MP_MAP && hsn_mp_map_get (v, "rows", &rows) == 0
            && rows.type == HSN_MP_ARRAY && hsn_mp_map_get (v, "count", &count) == 0
            && count.type == HSN_MP_UINT && (f->out.rows = (uint8_t *) malloc (rows.raw_len))) {
            memcpy (f->out.rows, rows.raw, rows.raw_len);
            f->out.rows_len = rows.raw_len;
            f->out.count = count.v.u;
            f->out.status = HSN_STATUS_OK;
            f->out.cached = true;
            hsn_env_uint (reply, HSN_FIELD_TTL, &ttl);
            f->out.ttl = (uint32_t) (ttl > f->def->cache_s ? f->def->cache_s : ttl);
            hsn_counter_add (svc->hits, 1);
            flight_complete (f);
            return;
        }
        status = HSN_STATUS_MALFORMED;      /* not what we store: overwrite it */
    }
    if (status == HSN_STATUS_NOT_FOUND || status == HSN_STATUS_MALFORMED)
        hsn_counter_add (svc->misses, 1);
    else {
        hsn_counter_add (svc->cache_errors, 1);
        f->cache_failed = true;
        hsn_log (HSN_LOG_DEBUG, "cache-unavailable", "cache.get for '%s': %s, running uncached",
                 f->def->name, hsn_status_name (status));
    }
    flight_execute (f);
}

/*  Start member m: join an identical flight, or make one. */
void
query_member_start (member_t *m)
{
    request_t *r = m->req;
    query_service_t *svc = r->svc;
    const query_def_t *d = m->def;
    char key[KEY_MAX + 1];
    bool keyed = false;
    if (d && d->cache_s && svc->cache) {
        keyed = cache_key (svc, d, &m->bind, key) == 0;
        flight_t *f = keyed ? (flight_t *) zhashx_lookup (svc->flights, key) : NULL;
        /*  Only a flight started after this replica's last invalidation:
         *  an older one may read from before a write already answered,
         *  which this member may have seen. It keeps its waiters; the new
         *  flight takes the key. */
        if (f && f->inval_seq == svc->inval_seq) {
            hsn_counter_add (svc->coalesced, 1);
            m->next_waiter = f->waiters;
            f->waiters = m;
            return;
        }
    }
    flight_t *f = (flight_t *) calloc (1, sizeof *f);
    if (f && keyed && !(f->key = strdup (key))) {
        free (f);
        f = NULL;
    }
    if (!f) {
        query_outcome_fail (&m->out, HSN_STATUS_INTERNAL, "out of memory");
        query_member_done (m);
        return;
    }
    f->svc = svc;
    f->gen = r->gen;
    f->gen->refs++;
    f->def = d;
    f->index = m->index;
    f->bind = m->bind;                      /* taken over */
    memset (&m->bind, 0, sizeof m->bind);
    f->sql = m->sql;
    m->sql = NULL;
    f->deadline_ms = r->deadline_ms;
    f->inval_seq = svc->inval_seq;
    f->waiters = m;
    f->out.ttl = d ? d->cache_s : 0;
    flight_link (svc, f);
    if (!f->key) {
        flight_execute (f);
        return;
    }
    zhashx_update (svc->flights, f->key, f);    /* the hash keeps a copy of the key */
    if (query_cache_get (svc->cache, f->key, on_cache_get, f)) {
        hsn_counter_add (svc->cache_errors, 1);
        f->cache_failed = true;
        flight_execute (f);
    }
}

