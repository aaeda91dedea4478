/*  gateway_query: what the /api/queries route modules share (not public).
 *
 *  gateway_query.c        the routes: list, POST run, batch, sql
 *  gateway_query_get.c    GET run: query-string params, near-cache
 *  gateway_query_reply.c  the envelopes the query service's answers become
 *                         (meta.cached, error.sqlstate); calls go through
 *                         gateway_call_any, which leaves error replies to us
 *
 *  Query answers need two things the shared reply path does not give: a
 *  "cached" member in the meta, and the PostgreSQL SQLSTATE in the error
 *  object. So these envelopes are written here, and sent through
 *  gateway_reply_static (200, ETag over the data) or gateway_reply_raw
 *  (errors), which keep gzip, Vary, Cache-Control and 304 as everywhere.
 */
#ifndef GATEWAY_QUERY_H
#define GATEWAY_QUERY_H

#include "gateway_internal.h"

/*  The near-cache keys of query results all start with this. */
#define GATEWAY_QUERY_NEAR_PREFIX     "q\x1f"
#define GATEWAY_QUERY_NEAR_PREFIX_LEN 2

/*  Members of a batch, as the query service allows. */
#define GATEWAY_QUERY_BATCH_MAX 100

/*  400 bad_request with message. */
void gateway_query_bad_request (gateway_req_t *req, const char *message);

/*  502: the service's reply lacks what it must hold. */
void gateway_query_malformed (gateway_req_t *req);

/*  {"rows":[...],"count":n} of a run reply into d (reset first). 0, or -1
 *  when the reply lacks them or they cannot be rendered. */
int gateway_query_rows (const hsn_env_t *env, gateway_json_buf_t *d);

/*  Send the run request in t->enc (request id rid) and render its rows as
 *  {"rows","count"} into t->json; *cached and *ttl from the reply (ttl 0:
 *  not cacheable). Returns 0, or -1 after answering the HTTP client (no
 *  reply, an error status with its SQLSTATE, a malformed reply). */
int gateway_query_run_call (gw_thread_t *t, gateway_req_t *req, uint64_t rid, bool *cached,
                            uint64_t *ttl);

/*  The second half of gateway_query_run_call, for a reply in hand (msg is
 *  closed). */
int gateway_query_run_reply (gw_thread_t *t, gateway_req_t *req, zmq_msg_t *msg, hsn_env_t *env,
                             bool *cached, uint64_t *ttl);

/*  The ETag of the data in d (gateway_reply_etag of its CRC); etag holds 40. */
void gateway_query_data_etag (const gateway_json_buf_t *d, char *etag);

/*  GET /api/queries/{name}?... (gateway_query_get.c). */
void gateway_query_get (gw_thread_t *t, gateway_req_t *req, const char *name, size_t nlen);

/*  200 with data[0..len) (JSON text, not inside req->body) and meta
 *  "cached" (cached: 1 true, 0 false, -1 left out); etag (from
 *  gateway_reply_etag) covers the data. */
void gateway_query_reply_ok (gateway_req_t *req, const char *data, size_t len, int cached,
                             const char *etag);

/*  An error envelope: {"code","message"[,"sqlstate"]} with the HTTP status. */
void gateway_query_reply_error (gateway_req_t *req, int http_status, const char *code,
                                const char *message, size_t mlen, const char *sqlstate,
                                size_t slen);

/*  The error a non-OK service reply stands for: its status's HTTP code and
 *  name, its message and SQLSTATE (Retry-After on 503). */
void gateway_query_reply_status (gateway_req_t *req, const hsn_env_t *env);

/*  The reply's CACHED field (false when absent). */
bool gateway_query_cached (const hsn_env_t *env);

#endif
