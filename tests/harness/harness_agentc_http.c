/*  hsn_agentc over the gateway's HTTP routes (docs/AGENT_BUS.md): the same
 *  calls as over the broker, HTTP answers mapped back to the protocol's
 *  statuses (an error's "code" names it), so a test can run either way. */
#include "hsn_agentc_int.h"
#include "hsn_harness.h"
#include "hsn_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  An answer's JSON packed as msgpack, and its "data" member. */
typedef struct {
    msgpack_sbuffer sb;
    hsn_mp_obj_t data;
} doc_t;

/*  Parse r's body into d (release with doc_release). 0, or -EBADMSG. */
static int
doc_parse (const hsn_http_resp_t *r, doc_t *d)
{
    msgpack_sbuffer_init (&d->sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &d->sb, msgpack_sbuffer_write);
    hsn_mp_reader_t rd;
    hsn_mp_obj_t top;
    if (!r->body || hsn_json_to_mp (r->body, r->body_len, 32, &pk, NULL, 0) != 0)
        return -EBADMSG;
    hsn_mp_reader_init (&rd, d->sb.data, d->sb.size);
    if (hsn_mp_get (&rd, &top, HSN_MP_DEPTH_LIMIT) != 0
    ||  hsn_mp_map_get (&top, "data", &d->data) != 0
    ||  d->data.type != HSN_MP_MAP)
        return -EBADMSG;
    return 0;
}

static void
doc_release (doc_t *d)
{
    msgpack_sbuffer_destroy (&d->sb);
}

/*  The protocol status an HTTP error answer names in its "code" (the
 *  gateway's {"success":false,"error":{"code":...}}). A code of the
 *  gateway's own (e.g. circuit_open: its breaker fails fast while the
 *  backend is failing) maps by the HTTP status: 502 worker_lost, 503
 *  unavailable, 504 timeout; anything else is -EPROTO. */
static int
status_of_error (const hsn_http_resp_t *r)
{
    const char *code = r->body ? strstr (r->body, "\"code\":\"") : NULL;
    if (code) {
        code += strlen ("\"code\":\"");
        for (uint32_t st = 1; st < 64; st++) {
            const char *name = hsn_status_name (st);
            size_t len = name ? strlen (name) : 0;
            if (len && strncmp (code, name, len) == 0 && code[len] == '"')
                return (int) st;
        }
    }
    switch (r->status) {
    case 502: return HSN_STATUS_WORKER_LOST;
    case 503: return HSN_STATUS_UNAVAILABLE;
    case 504: return HSN_STATUS_TIMEOUT;
    default:  return -EPROTO;
    }
}

/*  One request to base + path. Returns 0 with *r filled, or -ETIMEDOUT on
 *  a transport error (hsn_http's -EIO: no answer, as a broker timeout). */
static int
request (hsn_agentc_t *self, const char *method, const char *path, const char *body,
         hsn_http_resp_t *r)
{
    char url[512];
    if (snprintf (url, sizeof url, "%s%s", self->base, path) >= (int) sizeof url)
        return -ENAMETOOLONG;
    const char *headers[] = { "Content-Type: application/json", NULL };
    return hsn_http (method, url, body, body ? strlen (body) : 0, headers, r) == 0
           ? 0 : -ETIMEDOUT;
}

int
hsn_agentc_http_send_seq (hsn_agentc_t *self, const char *agent, uint64_t seq,
                          char *id, size_t id_size)
{
    char path[256], body[64];
    snprintf (path, sizeof path, "/api/agents/%s/messages", agent);
    snprintf (body, sizeof body, "{\"payload\":{\"seq\":%llu}}", (unsigned long long) seq);
    hsn_http_resp_t r;
    int rc = request (self, "POST", path, body, &r);
    if (rc < 0)
        return rc;
    int st = r.status == 201 ? HSN_STATUS_CREATED : status_of_error (&r);
    doc_t d;
    hsn_mp_obj_t v;
    if (st == HSN_STATUS_CREATED && id) {
        if (doc_parse (&r, &d) == 0 && hsn_mp_map_get (&d.data, "id", &v) == 0
        &&  v.type == HSN_MP_STR && v.v.s.len > 0 && v.v.s.len < id_size)
            snprintf (id, id_size, "%.*s", (int) v.v.s.len, v.v.s.ptr);
        else
            st = -EBADMSG;
        doc_release (&d);
    }
    if ((st < 0 && st != -ETIMEDOUT) || st == HSN_STATUS_INTERNAL)
        fprintf (stderr, "hsn_agentc: POST %s: HTTP %ld %.200s\n", path, r.status,
                 r.body ? r.body : "");
    hsn_http_resp_free (&r);
    return st;
}

int
hsn_agentc_http_receive (hsn_agentc_t *self, const char *agent, uint32_t max,
                         hsn_agentc_msg_t *out, size_t cap, size_t *n)
{
    char path[256];
    snprintf (path, sizeof path, "/api/agents/%s/messages?max=%u", agent, max);
    hsn_http_resp_t r;
    int rc = request (self, "GET", path, NULL, &r);
    if (rc < 0)
        return rc;
    if (r.status != 200) {
        int st = status_of_error (&r);
        hsn_http_resp_free (&r);
        return st;
    }
    doc_t d;
    hsn_mp_obj_t messages, item;
    int st = HSN_STATUS_OK;
    if (doc_parse (&r, &d) != 0 || hsn_mp_map_get (&d.data, "messages", &messages) != 0
    ||  messages.type != HSN_MP_ARRAY || messages.v.c.count > cap)
        st = -EBADMSG;
    else {
        hsn_mp_reader_t rd;
        hsn_mp_reader_of (&rd, &messages);
        for (uint32_t i = 0; i < messages.v.c.count && st == HSN_STATUS_OK; i++)
            if (hsn_mp_get (&rd, &item, HSN_MP_DEPTH_LIMIT) != 0
            ||  hsn_agentc_parse_message (&item, &out[i]) != 0)
                st = -EBADMSG;
        if (st == HSN_STATUS_OK)
            *n = messages.v.c.count;
    }
    if (st < 0)
        fprintf (stderr, "hsn_agentc: GET %s: not a messages document: %.200s\n", path,
                 r.body ? r.body : "");
    doc_release (&d);
    hsn_http_resp_free (&r);
    return st;
}

int
hsn_agentc_http_ack (hsn_agentc_t *self, const char *agent, const char *const ids[],
                     size_t n, uint64_t *acked)
{
    char path[256];
    snprintf (path, sizeof path, "/api/agents/%s/acks", agent);
    size_t cap = 16 + n * (HSN_AGENTC_ID_MAX + 3);
    char *body = (char *) malloc (cap);
    if (!body)
        return -ENOMEM;
    size_t len = (size_t) snprintf (body, cap, "{\"ids\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t) snprintf (body + len, cap - len, "%s\"%.*s\"", i ? "," : "",
                                  HSN_AGENTC_ID_MAX - 1, ids[i]);
    snprintf (body + len, cap - len, "]}");
    hsn_http_resp_t r;
    int rc = request (self, "POST", path, body, &r);
    free (body);
    if (rc < 0)
        return rc;
    int st = r.status == 200 ? HSN_STATUS_OK : status_of_error (&r);
    doc_t d;
    hsn_mp_obj_t v;
    if (st == HSN_STATUS_OK && acked) {
        if (doc_parse (&r, &d) == 0 && hsn_mp_map_get (&d.data, "acked", &v) == 0
        &&  v.type == HSN_MP_UINT)
            *acked = v.v.u;
        else
            st = -EBADMSG;
        doc_release (&d);
    }
    hsn_http_resp_free (&r);
    return st;
}
