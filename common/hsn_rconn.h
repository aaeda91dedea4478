/*  hsn_rconn: one synchronous Redis connection that heals itself.
 *
 *  Connects lazily from a redis:// URL with short timeouts, authenticates and
 *  selects the database, and after a failure reconnects at most once per
 *  backoff period, so a dead Redis costs a caller microseconds, not a
 *  connect timeout, and a returning one is used again with no restart.
 */
#ifndef HSN_RCONN_H
#define HSN_RCONN_H

#include <hiredis.h>
#include <stdbool.h>

typedef struct hsn_rconn hsn_rconn_t;

/*  Parse url (redis://[:pass@]host[:port][/db]). NULL when invalid.
 *  timeout_ms bounds connecting and every command. */
hsn_rconn_t *hsn_rconn_new (const char *url, int timeout_ms);

/*  NULL-safe; nulls *self_p. */
void hsn_rconn_destroy (hsn_rconn_t **self_p);

/*  The connected context, connecting first if due; NULL while Redis is
 *  unreachable (within the backoff period no attempt is made). */
redisContext *hsn_rconn_get (hsn_rconn_t *self);

/*  Report a failed command: the connection is dropped and retried later. */
void hsn_rconn_failed (hsn_rconn_t *self);

/*  As of the last attempt, is Redis reachable? */
bool hsn_rconn_up (const hsn_rconn_t *self);

/*  Open a separate, new connection with the same settings (for a
 *  subscriber). NULL when Redis is unreachable. Caller frees it. */
redisContext *hsn_rconn_open (const hsn_rconn_t *self);

#endif
