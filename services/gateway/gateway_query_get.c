/*  gateway_query_get: GET /api/queries/{name}?a=1&b=x, a read-only run with
 *  the query string as its parameters (strings: the service converts them
 *  to the declared types), answered from the near-cache when it can be.
 *  See gateway_query.c for the coherence of cached results. */
#include "gateway_query.h"
#include "gateway_fast.h"
#include "hsn_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QS_PARAMS_MAX  32       /* a query's declared parameters at most */
#define QS_NAME_MAX    63
#define NEAR_KEY_MAX   1024

typedef struct {
    const char *k, *v;
    size_t kl, vl;
} qparam_t;

static int
qparam_cmp (const void *a, const void *b)
{
    const qparam_t *x = (const qparam_t *) a, *y = (const qparam_t *) b;
    int c = memcmp (x->k, y->k, x->kl < y->kl ? x->kl : y->kl);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

static bool
name_ok (const char *s, size_t len)
{
    if (len == 0 || len > QS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_'))
            return false;
    }
    return true;
}

/*  The query string's parameters, URL-decoded into t->out (which must then
 *  stay untouched while ps is used), sorted by name. Returns 0, or -1
 *  after a 400 (too many, a bad name, one given twice). */
static int
qs_params (gw_thread_t *t, gateway_req_t *req, const char *qs, qparam_t *ps, size_t *np)
{
    *np = 0;
    if (!qs || !*qs)
        return 0;
    size_t qlen = strlen (qs), used = 0;
    /*  Decoding never grows a string; each one adds a NUL. */
    size_t cap = 2 * qlen + 4;
    gateway_json_buf_t *s = &t->out;
    gateway_json_buf_reset (s);
    if (gateway_json_buf_reserve (s, cap)) {
        gateway_reply_error (req, 500, "internal", "out of memory");
        return -1;
    }
    for (const char *p = qs; *p;) {
        size_t seg = strcspn (p, "&");
        if (seg) {
            if (*np == QS_PARAMS_MAX) {
                gateway_query_bad_request (req, "at most 32 query parameters");
                return -1;
            }
            const char *eq = (const char *) memchr (p, '=', seg);
            size_t kl = eq ? (size_t) (eq - p) : seg;
            char *k = s->data + used;
            int dk = mg_url_decode (p, (int) kl, k, (int) (cap - used), 1);
            used += dk >= 0 ? (size_t) dk + 1 : 0;
            char *v = s->data + used;
            int dv = 0;
            if (eq)
                dv = mg_url_decode (eq + 1, (int) (seg - kl - 1), v, (int) (cap - used), 1);
            else
                *v = 0;
            used += dv >= 0 ? (size_t) dv + 1 : 0;
            if (dk < 0 || dv < 0 || !name_ok (k, (size_t) dk)) {
                gateway_query_bad_request (req, "query parameter names are 1 to 63 letters, "
                                                "digits or '_'");
                return -1;
            }
            ps[(*np)++] = (qparam_t) { k, v, (size_t) dk, (size_t) dv };
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    qsort (ps, *np, sizeof *ps, qparam_cmp);
    for (size_t i = 1; i < *np; i++)
        if (qparam_cmp (&ps[i - 1], &ps[i]) == 0) {
            char message[128];
            snprintf (message, sizeof message, "parameter '%.*s' given twice",
                      (int) ps[i].kl, ps[i].k);
            gateway_query_bad_request (req, message);
            return -1;
        }
    return 0;
}

static bool
put_bytes (char *buf, size_t cap, size_t *at, const char *p, size_t len)
{
    if (*at + len > cap)
        return false;
    memcpy (buf + *at, p, len);
    *at += len;
    return true;
}

/*  "q\x1f<name>\x1f" then <len>:<name><len>:<value> per parameter in name
 *  order: one key per result, whatever order the client wrote. 0 when it
 *  does not fit (that GET is not near-cached). */
static size_t
near_key (char *buf, size_t cap, const char *name, size_t nlen, const qparam_t *ps, size_t np)
{
    size_t at = 0;
    bool ok = put_bytes (buf, cap, &at, GATEWAY_QUERY_NEAR_PREFIX, GATEWAY_QUERY_NEAR_PREFIX_LEN)
              && put_bytes (buf, cap, &at, name, nlen) && put_bytes (buf, cap, &at, "\x1f", 1);
    for (size_t i = 0; ok && i < np; i++) {
        char lens[48];
        int n = snprintf (lens, sizeof lens, "%zu:", ps[i].kl);
        ok = put_bytes (buf, cap, &at, lens, (size_t) n)
             && put_bytes (buf, cap, &at, ps[i].k, ps[i].kl);
        n = snprintf (lens, sizeof lens, "%zu:", ps[i].vl);
        ok = ok && put_bytes (buf, cap, &at, lens, (size_t) n)
             && put_bytes (buf, cap, &at, ps[i].v, ps[i].vl);
    }
    return ok ? at : 0;
}

static void
set_max_age (gateway_req_t *req, char *cc, size_t cap, uint64_t ttl)
{
    snprintf (cc, cap, "max-age=%llu", (unsigned long long) ttl);
    req->cache_control = cc;
}

/*  What a GET keeps across its backend call. */
typedef struct {
    uint64_t ticket;
    int64_t now;
    bool fill;                      /* fill the near-cache with the answer */
    size_t nklen;
    char nkey[NEAR_KEY_MAX];
} qget_t;

/*  Answer from the near-cache, or put the run request into t->enc: its id,
 *  or 0 when answered (a hit, or a 400). */
static uint64_t
qget_begin (gw_thread_t *t, gateway_req_t *req, const char *name, size_t nlen, qget_t *c)
{
    qparam_t ps[QS_PARAMS_MAX];
    size_t np;
    if (qs_params (t, req, req->query, ps, &np))
        return 0;
    gateway_near_t *near = t->cfg->near;
    char cc[64], etag[40];
    c->nklen = near ? near_key (c->nkey, sizeof c->nkey, name, nlen, ps, np) : 0;
    c->now = hsn_now_ms ();
    gateway_prefix_t prefix;
    int64_t expires;
    if (c->nklen
        && gateway_near_get (near, c->nkey, c->nklen, c->now, &t->json, &prefix, &expires) == 0) {
        size_t dlen = prefix.len - GATEWAY_ENVELOPE_HEAD_LEN;
        set_max_age (req, cc, sizeof cc, (uint64_t) ((expires - c->now + 999) / 1000));
        gateway_reply_etag (prefix.data_crc, dlen, etag, 40);
        gateway_query_reply_ok (req, prefix.text + GATEWAY_ENVELOPE_HEAD_LEN, dlen, 1, etag);
        return 0;
    }
    /*  A near-cache fill needs a result read after this ticket. */
    c->fill = c->nklen && gateway_near_up (near);
    c->ticket = c->fill ? gateway_near_ticket (near) : 0;
    uint64_t rid = gateway_begin (t, HSN_OP_QUERY_RUN, 3);
    msgpack_packer *pk = &t->enc.pk;
    hsn_enc_str (&t->enc, HSN_FIELD_NAME, name, nlen);
    hsn_enc_key (&t->enc, HSN_FIELD_PARAMS);
    msgpack_pack_map (pk, np);
    for (size_t i = 0; i < np; i++) {
        msgpack_pack_str (pk, ps[i].kl);
        msgpack_pack_str_body (pk, ps[i].k, ps[i].kl);
        msgpack_pack_str (pk, ps[i].vl);
        msgpack_pack_str_body (pk, ps[i].v, ps[i].vl);
    }
    hsn_enc_key (&t->enc, HSN_FIELD_READONLY);
    msgpack_pack_true (pk);
    return rid;
}

static void
qget_finish (gw_thread_t *t, gateway_req_t *req, const void *cont, zmq_msg_t *msg,
             hsn_env_t *env)
{
    const qget_t *c = (const qget_t *) cont;
    bool cached;
    uint64_t ttl;
    if (gateway_query_run_reply (t, req, msg, env, &cached, &ttl))
        return;
    gateway_json_buf_t *d = &t->json;
    char cc[64], etag[40];
    /*  TTL is whole seconds rounded up: keep one second less, so the near
     *  copy never outlives the result. */
    if (c->fill && ttl > 1) {
        gateway_json_buf_t *pre = &t->out;
        gateway_json_buf_reset (pre);
        if (gateway_json_buf_append (pre, GATEWAY_ENVELOPE_HEAD, GATEWAY_ENVELOPE_HEAD_LEN) == 0
            && gateway_json_buf_append (pre, d->data, d->len) == 0)
            gateway_near_put (t->cfg->near, c->ticket, c->nkey, c->nklen, pre->data, pre->len,
                              c->now, c->now + (int64_t) (ttl - 1) * 1000);
    }
    if (ttl)
        set_max_age (req, cc, sizeof cc, ttl);
    gateway_query_data_etag (d, etag);
    gateway_query_reply_ok (req, d->data, d->len, cached, etag);
}

void
gateway_query_get (gw_thread_t *t, gateway_req_t *req, const char *name, size_t nlen)
{
    qget_t c;
    uint64_t rid = qget_begin (t, req, name, nlen, &c);
    zmq_msg_t msg;
    hsn_env_t env;
    if (rid && gateway_call_any (t, req, rid, &msg, &env) == 0)
        qget_finish (t, req, &c, &msg, &env);
}

gateway_front_rc_t
gateway_query_get_front (gw_thread_t *t, gateway_req_t *req, const gateway_fast_to_t *to,
                         const char *name, size_t nlen)
{
    qget_t c;
    uint64_t rid = qget_begin (t, req, name, nlen, &c);
    if (!rid)
        return GATEWAY_FRONT_DONE;      /* a hit, or a 400 */
    size_t used = offsetof (qget_t, nkey) + c.nklen;
    int rc = gateway_fast_call (t->fast, t, req, rid, to, qget_finish, &c, used);
    return rc == 0 ? GATEWAY_FRONT_PENDING : rc == -1 ? GATEWAY_FRONT_DONE : GATEWAY_FRONT_PASS;
}
